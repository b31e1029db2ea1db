//! Constrained decoding through the server: `parameters.grammar` of type `sql` (schema from the
//! prompt or given), `regex` and `json` (JSON schema), with the random tiny model (whose free
//! output is junk), in batches mixing constrained and free rows, different adapters and
//! different schemas; `response_format` on the OpenAI routes in TGI's and OpenAI's shapes.

mod common;

use common::*;
use serde_json::json;
use text2sql_sql::ask::SqlReport;
use text2sql_sql::constrain::{SqlConstraint, Verdict};
use text2sql_sql::schema::Schema;

const SCHEMAS: [&str; 3] = [
    "CREATE TABLE users (id INT, name TEXT, age INT);",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, total REAL, order_date TEXT);\nCREATE TABLE items (id INT, order_id INT REFERENCES orders(id), sku TEXT);",
    "CREATE TABLE \"Flights\" (FlightNo INT, Origin TEXT, Dest TEXT);",
];

fn prompt(ddl: &str) -> String {
    format!("### Schema:\n{ddl}\n\n### Question:\nHow many?\n\nReturn only the SQL query.")
}

/// Every constrained generation is a complete SQL statement over its own schema that parses and
/// names only schema tables and columns, whether it stopped at EOS or was finished on purpose
/// as it ran out of `max_new_tokens` (the random model never wants to stop).
#[tokio::test]
async fn constrained_sql_is_always_valid_for_its_schema_across_seeds_adapters_and_batches() {
    let app = app();
    let mut handles = Vec::new();
    for seed in 0..36u64 {
        let ddl = SCHEMAS[seed as usize % 3];
        let adapter = ["", "qv", "pat"][(seed as usize / 3) % 3];
        let budget = [40, 24, 64][(seed as usize / 9) % 3];
        let mut params = json!({"max_new_tokens": budget, "details": true, "grammar": {"type": "sql", "value": null}});
        if seed % 2 == 1 {
            params["do_sample"] = json!(true);
            params["seed"] = json!(seed);
            params["temperature"] = json!(1.3);
        }
        if !adapter.is_empty() {
            params["adapter_id"] = json!(adapter);
        }
        let a = app.clone();
        let body = json!({"inputs": prompt(ddl), "parameters": params});
        handles.push(tokio::spawn(async move { (ddl, budget, post(&a, "/generate", body).await) }));
        // A free request alongside each constrained one.
        let a = app.clone();
        handles.push(tokio::spawn(async move {
            ("", 8, post(&a, "/generate", json!({"inputs": PROMPT, "parameters": {"max_new_tokens": 8, "details": true}})).await)
        }));
    }
    let mut complete = 0;
    for h in handles {
        let (ddl, budget, r) = h.await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        let body = r.json();
        if ddl.is_empty() {
            assert_eq!(ids(&body["details"]), solo("", 8), "a free row in a constrained batch is unaffected");
            continue;
        }
        let text = body["generated_text"].as_str().unwrap();
        let schema = Schema::from_ddl(ddl).unwrap();
        assert_eq!(SqlConstraint::new(&schema).check(text), Verdict::Complete, "{text:?}");
        let report = SqlReport::check(text.trim(), &schema);
        assert!(report.parse_error.is_none() && report.adheres(), "{text:?}: {report:?}");
        let tokens = body["details"]["generated_tokens"].as_u64().unwrap();
        assert!(tokens <= budget, "{tokens} tokens");
        if body["details"]["finish_reason"] == "eos_token" {
            complete += 1;
        }
    }
    println!("{complete} of 36 constrained generations ended with EOS");
}

#[tokio::test]
async fn sql_grammar_with_explicit_ddl_and_regex_grammar() {
    let app = app();
    let r = post(
        &app,
        "/generate",
        json!({"inputs": "anything", "parameters": {"max_new_tokens": 30, "grammar": {"type": "sql", "value": SCHEMAS[0]}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.json()["generated_text"].as_str().unwrap().to_string();
    let schema = Schema::from_ddl(SCHEMAS[0]).unwrap();
    assert_ne!(SqlConstraint::new(&schema).check(&text), Verdict::Dead, "{text:?}");

    // TGI's regex grammar: the whole output matches; EOS only once it does.
    let r = post(
        &app,
        "/generate",
        json!({"inputs": PROMPT, "parameters": {"max_new_tokens": 12, "details": true, "grammar": {"type": "regex", "value": "(yes|no)-[0-9]{3}"}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    let text = body["generated_text"].as_str().unwrap();
    // Once the text matches, EOS is the only allowed token: the generation must end there.
    assert!(regex::Regex::new(r"^(yes|no)-[0-9]{3}$").unwrap().is_match(text), "{text:?}");
    assert_eq!(body["details"]["finish_reason"], "eos_token");
}

#[tokio::test]
async fn openai_routes_take_response_format() {
    let app = app();
    let r = post(
        &app,
        "/v1/chat/completions",
        json!({"messages": [{"role": "user", "content": "Answer"}], "max_tokens": 10,
               "response_format": {"type": "regex", "value": "(yes|no)"}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    let content = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(content == "yes" || content == "no", "{content:?}");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");

    let r = post(
        &app,
        "/v1/completions",
        json!({"prompt": prompt(SCHEMAS[0]), "max_tokens": 20, "response_format": {"type": "sql", "value": null}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.json()["choices"][0]["text"].as_str().unwrap().to_string();
    let schema = Schema::from_ddl(SCHEMAS[0]).unwrap();
    assert_ne!(SqlConstraint::new(&schema).check(&text), Verdict::Dead, "{text:?}");

}

/// A schema all of whose documents are short (bounded strings, arrays and integers), so a
/// constrained row must end with EOS well within its token budget.
fn bounded_schema() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 6},
            "ok": {"type": "boolean"},
            "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 2},
            "n": {"type": "integer", "maxDigits": 2}
        },
        "required": ["name", "ok", "tags"]
    })
}

/// `text` is a JSON document of [`bounded_schema`]: required keys with the right types.
fn assert_bounded_document(text: &str) {
    let v: serde_json::Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"));
    let obj = v.as_object().unwrap_or_else(|| panic!("not an object: {text:?}"));
    assert!(obj.keys().all(|k| ["name", "ok", "tags", "n"].contains(&k.as_str())), "{text:?}");
    assert!(obj["name"].as_str().is_some_and(|s| s.chars().count() <= 6), "{text:?}");
    assert!(obj["ok"].is_boolean(), "{text:?}");
    let tags = obj["tags"].as_array().unwrap_or_else(|| panic!("{text:?}"));
    assert!(tags.len() <= 2 && tags.iter().all(|t| t == "a" || t == "b"), "{text:?}");
    if let Some(n) = obj.get("n") {
        assert!(n.as_i64().is_some_and(|n| n.abs() <= 99), "{text:?}");
    }
}

/// TGI's JSON grammar: sampled (temperature 1.3) constrained rows over several seeds and
/// adapters are JSON documents of the schema, each batched with a free row that is unaffected.
#[tokio::test]
async fn json_grammar_yields_schema_documents_across_seeds_next_to_free_rows() {
    let app = app();
    let mut handles = Vec::new();
    for seed in 0..8u64 {
        let adapter = ["", "qv", "pat"][seed as usize % 3];
        let mut params = json!({"max_new_tokens": 160, "details": true, "do_sample": true, "seed": seed, "temperature": 1.3,
                                "grammar": {"type": "json", "value": bounded_schema()}});
        if !adapter.is_empty() {
            params["adapter_id"] = json!(adapter);
        }
        let a = app.clone();
        let body = json!({"inputs": "Reply with JSON:", "parameters": params});
        handles.push(tokio::spawn(async move { (true, post(&a, "/generate", body).await) }));
        let a = app.clone();
        handles.push(tokio::spawn(async move {
            (false, post(&a, "/generate", json!({"inputs": PROMPT, "parameters": {"max_new_tokens": 8, "details": true}})).await)
        }));
    }
    let mut eos = 0;
    for h in handles {
        let (constrained, r) = h.await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        let body = r.json();
        if !constrained {
            assert_eq!(ids(&body["details"]), solo("", 8), "a free row in a JSON-constrained batch is unaffected");
            continue;
        }
        let text = body["generated_text"].as_str().unwrap();
        println!("{}: {text}", body["details"]["finish_reason"]);
        if body["details"]["finish_reason"] == "eos_token" {
            eos += 1;
            assert_bounded_document(text);
        }
    }
    // Every document of the schema is far shorter than 160 tokens: all rows end with EOS.
    assert_eq!(eos, 8, "constrained rows that ended with EOS");
}

/// A budget too small for what the model would write: the grammar's shortest completion is
/// forced in time, so the row is still a whole JSON document of the schema (an unbounded
/// string would otherwise run to `max_new_tokens`).
#[tokio::test]
async fn json_rows_cut_short_are_still_documents() {
    let app = app();
    let schema = json!({"type": "object", "properties": {"note": {"type": "string"}, "n": {"type": "integer"}}, "required": ["note", "n"]});
    for seed in 0..6u64 {
        let params = json!({"max_new_tokens": 24, "details": true, "do_sample": true, "seed": seed, "temperature": 1.3,
                            "grammar": {"type": "json", "value": schema}});
        let r = post(&app, "/generate", json!({"inputs": "Reply with JSON:", "parameters": params})).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let body = r.json();
        let text = body["generated_text"].as_str().unwrap();
        let v: serde_json::Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"));
        assert!(v["note"].is_string() && v["n"].is_i64(), "{text:?}");
        assert!(body["details"]["generated_tokens"].as_u64().unwrap() <= 24);
    }
}

#[tokio::test]
async fn json_grammar_errors_are_validation_422s() {
    let app = app();
    for (grammar, needle) in [
        (json!({"type": "json", "value": {"type": "decimal"}}), "unsupported type `decimal`"),
        (json!({"type": "json", "value": "{\"type\": "}), "not valid JSON"),
        (json!({"type": "json", "value": {"type": "object", "properties": {"age": {"type": "integer", "minimum": 0}}}}), "`minimum`"),
        (json!({"type": "json_schema", "value": {"name": "x"}}), "`schema`"),
        (json!({"type": "json", "value": {"type": "string", "pattern": "^[ab]*a[ab]{24}$"}}), "too large"),
    ] {
        let r = post(&app, "/generate", json!({"inputs": "x", "parameters": {"max_new_tokens": 4, "grammar": grammar}})).await;
        assert_eq!(r.status, 422, "{grammar}: {}", r.text());
        let body = r.json();
        assert_eq!(body["error_type"], "validation", "{body}");
        assert!(body["error"].as_str().unwrap().contains(needle), "{grammar}: {body}");
    }
}

#[tokio::test]
async fn openai_routes_take_json_response_formats_in_tgi_and_openai_shapes() {
    let app = app();
    let chat = |format: serde_json::Value| {
        let mut body = json!({"messages": [{"role": "user", "content": "Reply with JSON"}], "max_tokens": 160, "temperature": 0.0});
        if !format.is_null() {
            body["response_format"] = format;
        }
        body
    };
    let mut contents = Vec::new();
    for format in [
        json!({"type": "json", "value": bounded_schema()}),
        json!({"type": "json_schema", "value": {"name": "reply", "schema": bounded_schema()}}),
        json!({"type": "json_schema", "json_schema": {"name": "reply", "schema": bounded_schema(), "strict": true}}),
    ] {
        let r = post(&app, "/v1/chat/completions", chat(format.clone())).await;
        assert_eq!(r.status, 200, "{format}: {}", r.text());
        let body = r.json();
        assert_eq!(body["choices"][0]["finish_reason"], "stop", "{body}");
        let content = body["choices"][0]["message"]["content"].as_str().unwrap().to_string();
        assert_bounded_document(&content);
        contents.push(content);
    }
    assert!(contents.iter().all(|c| c == &contents[0]), "same schema, same greedy output: {contents:?}");

    // OpenAI's `json_object`: any JSON object (viable as far as it got; complete when stopped).
    let r = post(&app, "/v1/chat/completions", chat(json!({"type": "json_object"}))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    let content = body["choices"][0]["message"]["content"].as_str().unwrap();
    let any_object = text2sql_server::grammar::json_grammar("json_object", &json!({"type": "object"})).unwrap();
    use text2sql_engine::{Constraint, Viability};
    assert_ne!(any_object.check(content), Viability::Dead, "{content:?}");
    if body["choices"][0]["finish_reason"] == "stop" {
        assert!(serde_json::from_str::<serde_json::Value>(content).unwrap().is_object(), "{content:?}");
    }

    // `{"type": "text"}` is no constraint at all.
    let free = post(&app, "/v1/chat/completions", chat(serde_json::Value::Null)).await.json();
    let text = post(&app, "/v1/chat/completions", chat(json!({"type": "text"}))).await.json();
    assert_eq!(free["choices"][0]["message"]["content"], text["choices"][0]["message"]["content"]);

    // The completions route takes the same shapes; a bad schema is a 422.
    let r = post(&app, "/v1/completions", json!({"prompt": "JSON:", "max_tokens": 160,
        "response_format": {"type": "json_schema", "json_schema": {"name": "reply", "schema": bounded_schema()}}})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["choices"][0]["finish_reason"], "stop", "{body}");
    assert_bounded_document(body["choices"][0]["text"].as_str().unwrap());
    let r = post(&app, "/v1/chat/completions", chat(json!({"type": "json_schema", "json_schema": {"name": "x", "schema": {"not": {}}}}))).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.json()["error_type"], "validation");
}
