//! Our JSON schema → regex converter against outlines-core (what TGI uses): for every schema of
//! `fixtures/json_grammar_expected.json` (written by
//! `tests/reference/make_json_grammar_fixtures.py` with the real outlines-core package), our
//! grammar must accept exactly the candidates outlines' regex full-matches, except the few where
//! we fix an outlines bug on purpose (listed below with the reason), and every prefix of an
//! accepted candidate must be viable. Schemas outlines refuses must be refused too.

use serde_json::Value;
use text2sql_engine::{Constraint, Viability};
use text2sql_server::grammar::json_schema::schema_to_regex;
use text2sql_server::grammar::RegexGrammar;

/// (case, candidate, why our verdict is the opposite of outlines-core's).
const DEVIATIONS: &[(&str, &str, &str)] = &[
    ("formats", r#"{"day":"2024-02-29","at":"23:59:59.5","when":"2024-02-29T23:59:59Z","id":"123e4567-e89b-12d3-a456-426614174000"}"#,
        "outlines' `time` regex wants a literal backslash before the fraction; we accept `.5`"),
    ("min_max_properties", r#"{"a":true,"b":false,"c":true}"#, "outlines ignores maxProperties > 0; we enforce it"),
    ("property_any_value", "null", "outlines splices `{}`'s alternation into the object unparenthesised"),
    ("property_any_value", r#"{"a":true"#, "same splice: an unterminated object matched"),
    ("property_any_value", r#"{"a":true}"#, "same splice: the object with a boolean did not match"),
    ("property_any_value", r#"{"a":"x"}"#, "same splice"),
    ("property_any_value", r#"{"a":[1,{"b":2}]}"#, "same splice"),
    ("pattern_alternation", r#""yes"#, "outlines leaves the pattern's `|` ungrouped: `\"yes` | `no\"`"),
    ("pattern_alternation", r#"no""#, "same"),
    ("pattern_alternation", r#""yes""#, "same"),
    ("pattern_alternation", r#""no""#, "same"),
];

fn fixture() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/json_grammar_expected.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("fixture JSON")
}

/// Every char-boundary prefix of `text`, the empty one included.
fn prefixes(text: &str) -> impl Iterator<Item = &str> {
    text.char_indices().map(|(i, _)| &text[..i]).chain(std::iter::once(text))
}

#[test]
fn converter_agrees_with_outlines_core_on_every_candidate() {
    let fixture = fixture();
    let cases = fixture["cases"].as_array().expect("cases");
    assert!(cases.len() >= 25, "{} schemas", cases.len());
    let (mut checked, mut deviations) = (0, 0);
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let regex = schema_to_regex(&case["schema"]).unwrap_or_else(|e| panic!("{name}: {e}"));
        let started = std::time::Instant::now();
        let grammar = RegexGrammar::new(&regex).unwrap_or_else(|e| panic!("{name}: {e}"));
        println!("{name}: regex {} B (outlines {} B), DFA {} KiB in {:?}", regex.len(),
            case["outlines_regex"].as_str().unwrap().len(), grammar.memory_usage() >> 10, started.elapsed());
        for candidate in case["candidates"].as_array().unwrap() {
            let text = candidate["text"].as_str().unwrap();
            let outlines = candidate["matches"].as_bool().unwrap();
            let ours = grammar.check(text) == Viability::Complete;
            let deviation = DEVIATIONS.iter().find(|(c, t, _)| *c == name && *t == text);
            let expected = if deviation.is_some() { !outlines } else { outlines };
            deviations += deviation.is_some() as usize;
            checked += 1;
            if ours != expected {
                failures.push(format!("{name}: {text:?}: ours {ours}, expected {expected} (outlines {outlines})"));
            }
            if ours {
                for prefix in prefixes(text) {
                    if grammar.check(prefix) == Viability::Dead {
                        failures.push(format!("{name}: prefix {prefix:?} of accepted {text:?} is dead"));
                    }
                }
            }
        }
    }
    assert_eq!(deviations, DEVIATIONS.len(), "every listed deviation is in the fixture");
    assert!(failures.is_empty(), "{} of {checked} verdicts differ:\n{}", failures.len(), failures.join("\n"));
    println!("{checked} candidates over {} schemas agree with outlines-core {} ({deviations} deliberate deviations)",
        cases.len(), fixture["outlines_core"]);
}

#[test]
fn schemas_outlines_core_refuses_are_refused() {
    let fixture = fixture();
    for case in fixture["errors"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let result = schema_to_regex(&case["schema"]);
        assert!(result.is_err(), "{name}: accepted, outlines says {}", case["outlines_error"]);
        println!("{name}: {} (outlines: {})", result.unwrap_err(), case["outlines_error"]);
    }
}

#[test]
fn unsupported_keywords_and_dropped_combinations_are_refused_by_name() {
    use serde_json::json;
    for (schema, needle) in [
        (json!({"type": "integer", "minimum": 0}), "`minimum`"),
        (json!({"properties": {"a": {"type": "array", "uniqueItems": true}}}), "`uniqueItems`"),
        (json!({"not": {"type": "string"}}), "`not`"),
        (json!({"type": "object", "patternProperties": {"^x": {}}}), "`patternProperties`"),
        (json!({"type": "string", "minLength": 1, "pattern": "^a+$"}), "`pattern`"),
        (json!({"type": "string", "format": "date", "pattern": "^a+$"}), "`format`"),
        (json!({"properties": {"a": {}}, "anyOf": [{}]}), "`anyOf`"),
        (json!({"allOf": [{"type": "string"}, {"maxLength": 3}]}), "`allOf`"),
        (json!({"properties": {"a": {}}, "required": ["b"]}), "`b`"),
        (json!({"properties": {"a": {}, "b": {}}, "maxProperties": 1}), "`maxProperties`"),
        (json!({"type": "object", "required": ["a"]}), "`required`"),
        (json!({"type": "array", "items": [{"type": "string"}]}), "`items`"),
        (json!({"type": "array", "minItems": 3, "maxItems": 2}), "`minItems`"),
        (json!({"type": "string", "pattern": "(a)\\1"}), "`pattern`"),
        (json!({"type": "object", "depth": 9}), "`depth`"),
        (json!({"items": {"type": "string"}}), "`items`"),
        (json!({"type": []}), "`type`"),
        (json!({"enum": []}), "`enum`"),
        (json!({"enum": ["a"], "const": "b"}), "`const`"),
        (json!({"$ref": "#"}), "`$ref`"),
        (json!(false), "`false`"),
        (json!("string"), "a schema must be an object"),
    ] {
        let e = schema_to_regex(&schema).expect_err(&schema.to_string()).to_string();
        assert!(e.contains(needle), "{schema}: {e}");
    }
    // Errors point at the offending sub-schema.
    let e = schema_to_regex(&json!({"$defs": {"A": {"type": "number", "multipleOf": 2}}, "properties": {"a": {"$ref": "#/$defs/A"}}}));
    assert_eq!(e.unwrap_err().to_string(), "unsupported JSON-schema keyword `multipleOf` (at `#/$defs/A`)");
    // Annotations are fine; a schema of annotations only is any value; enum + const agree.
    for ok in [
        json!({"title": "T", "description": "d", "type": "object", "properties": {"a": {"type": "string", "default": "x", "examples": ["y"]}}, "$schema": "https://json-schema.org/draft/2020-12/schema"}),
        json!({"description": "anything"}),
        json!({"enum": ["a"], "const": "a", "type": "string"}),
        json!(true),
    ] {
        let regex = schema_to_regex(&ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        RegexGrammar::new(&regex).unwrap();
    }
}

#[test]
fn too_large_automata_are_errors_not_hangs() {
    use serde_json::json;
    use text2sql_server::grammar::json_grammar;
    for schema in [
        // 2^24 DFA states (the classic "24th character from the end" blow-up).
        json!({"type": "string", "pattern": "^[ab]*a[ab]{24}$"}),
        // A huge NFA.
        json!({"type": "string", "maxLength": 200000}),
    ] {
        let started = std::time::Instant::now();
        let e = json_grammar("json", &schema).expect_err(&schema.to_string()).to_string();
        println!("{schema}: {e} after {:?}", started.elapsed());
        assert!(e.contains("too large"), "{e}");
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
    }
}

#[test]
fn request_shapes() {
    use serde_json::json;
    use text2sql_server::grammar::{from_response_format, parse};
    let schema = json!({"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]});
    for grammar in [
        json!({"type": "json", "value": schema}),
        json!({"type": "json_object", "value": schema}),
        json!({"type": "json", "value": schema.to_string()}),
        json!({"type": "json_schema", "value": {"name": "flag", "schema": schema}}),
    ] {
        let g = parse(&grammar, "prompt").unwrap_or_else(|e| panic!("{grammar}: {e}"));
        assert_eq!(g.check(r#"{"ok":true}"#), Viability::Complete, "{grammar}");
        assert_eq!(g.check(r#"{"ok": fal"#), Viability::Viable, "{grammar}");
        assert_eq!(g.check(r#"{"ok":1}"#), Viability::Dead, "{grammar}");
    }
    for bad in [
        json!({"type": "json", "value": null}),
        json!({"type": "json", "value": "{not json"}),
        json!({"type": "json", "value": 3}),
        json!({"type": "json_schema", "value": schema}),
        json!({"type": "json", "value": {"type": "integer", "maximum": 3}}),
    ] {
        let e = parse(&bad, "prompt").expect_err(&bad.to_string());
        assert_eq!(e.error_type(), "validation", "{bad}: {e}");
    }
    // OpenAI's response_format shapes.
    assert_eq!(from_response_format(Some(json!({"type": "text"}))), None);
    assert_eq!(from_response_format(None), None);
    let tgi = json!({"type": "json", "value": schema});
    assert_eq!(from_response_format(Some(tgi.clone())), Some(tgi));
    let any_object = parse(&from_response_format(Some(json!({"type": "json_object"}))).unwrap(), "").unwrap();
    assert_eq!(any_object.check(r#"{"a":[1,{"b":null}]}"#), Viability::Complete);
    assert_eq!(any_object.check("[1]"), Viability::Dead);
    let openai = json!({"type": "json_schema", "json_schema": {"name": "flag", "schema": schema, "strict": true}});
    let g = parse(&from_response_format(Some(openai)).unwrap(), "").unwrap();
    assert_eq!(g.check(r#"{"ok":false}"#), Viability::Complete);
    assert_eq!(g.check(r#"{"no":false}"#), Viability::Dead);
}
