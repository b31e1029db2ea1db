//! JSON schema → regular expression, for TGI's `json` grammar.
//!
//! TGI turns the schema into a regex with outlines-core (`json_schema` → regex, whitespace
//! pattern `[ ]?`) and constrains generation with that regex. [`schema_to_regex`] builds a regex
//! for the same language as outlines-core 0.2.14 (checked candidate by candidate against the real
//! package by `tests/json_grammar.rs`), so generated documents have outlines' layout: compact
//! JSON with at most one space around `{ } [ ] : ,`, properties in schema order, strings without
//! `\uXXXX` escapes.
//!
//! What a schema may use: `properties` (in order; `required` ones always present, the others
//! optional; no other keys, whatever `additionalProperties` says), `type` (a name or a list),
//! string `minLength`/`maxLength`/`pattern`/`format` (date, time, date-time, uuid, uri, email),
//! integer and number (outlines' `minDigits…`/`maxDigits…` too), `items`, `minItems`,
//! `maxItems`, `prefixItems`, object `additionalProperties` (schema, true or false),
//! `minProperties`/`maxProperties`, `enum`, `const`, `anyOf`, `oneOf` (treated as `anyOf`),
//! `allOf` with one schema, local `$ref` (`#/$defs/…`, `#/definitions/…`, followed at most
//! [`MAX_REF_DEPTH`] + 1 deep; a property whose `$ref` chain goes deeper is left out, as
//! outlines does), and annotations (`title`, `description`, `default`, …, ignored). An empty
//! schema (or `true`) is any JSON value, and `{"type": "object"}` / `{"type": "array"}` without
//! more are any object / array, containers nesting [`GENERIC_DEPTH`] levels below the outer one.
//!
//! Deliberate differences from outlines-core, where its regex would let through output that
//! breaks the schema or the JSON: an empty schema used as a property (or any other composite)
//! is parenthesised (outlines splices its alternation in bare); a `pattern` is grouped
//! (`"a|b"` is a string `a` or `b`, not `"a` or `b"`); `format: time` accepts fractional
//! seconds `.5` (outlines' regex wants a backslash there); `maxProperties`/`minProperties` of a
//! free-form object are enforced (outlines only tells 0 from more); property names and `const`
//! keys are JSON-encoded and regex-escaped. Keywords whose constraint the regex could not keep
//! (`minimum`, `not`, `uniqueItems`, …, and combinations outlines would silently drop, such as
//! `pattern` next to `minLength`, or `anyOf` next to `properties`) are refused with an error
//! naming the keyword, and so is `allOf` with several schemas (outlines concatenates them).

use super::json_patterns::*;
use serde_json::{Map, Value};

pub use super::json_patterns::{escape, WS};

/// `$ref`s are followed while fewer than this many + 1 are open (outlines' bound): a recursive
/// `node → next: node` schema gives four nested nodes.
pub const MAX_REF_DEPTH: usize = 3;
/// Nesting of free-form values: the containers of an `{}` / `{"type": "object"}` /
/// `{"type": "array"}` value may hold containers that hold containers of scalars, no deeper.
pub const GENERIC_DEPTH: u64 = 2;
/// Longest regex a schema may produce (its automaton has its own limits; this bounds the text).
pub const MAX_REGEX_LEN: usize = 1 << 20;
/// Largest `depth` (outlines' nesting of free-form values) a schema may ask for.
pub const MAX_GENERIC_DEPTH: u64 = 4;

/// Keywords whose constraint a regex of ours cannot keep: refused rather than ignored.
const UNSUPPORTED: &[&str] = &[
    "not", "if", "then", "else", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "multipleOf", "uniqueItems", "contains", "minContains", "maxContains", "patternProperties",
    "propertyNames", "dependentRequired", "dependentSchemas", "dependencies",
    "unevaluatedProperties", "unevaluatedItems", "additionalItems", "$dynamicRef", "$recursiveRef",
];
/// Keywords that say nothing about validity: a schema of only these is any value.
const ANNOTATIONS: &[&str] = &[
    "title", "description", "default", "examples", "example", "deprecated", "readOnly",
    "writeOnly", "$schema", "$id", "$anchor", "$comment", "$defs", "definitions", "$vocabulary",
    "contentEncoding", "contentMediaType",
];
/// The keywords that pick how a schema is converted, in outlines' order of precedence.
const BRANCHES: [&str; 8] = ["properties", "allOf", "anyOf", "oneOf", "prefixItems", "enum", "const", "$ref"];

/// Why a schema cannot be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// Invalid, or uses something not supported; `at` is a JSON pointer into the schema.
    #[error("{msg} (at `{at}`)")]
    Invalid {
        /// Where, as `#/properties/name`.
        at: String,
        /// What.
        msg: String,
    },
    /// `$ref`s nested deeper than [`MAX_REF_DEPTH`] + 1 (a property hitting it is left out).
    #[error("`$ref` nesting deeper than {levels} levels (at `{0}`)", levels = MAX_REF_DEPTH + 1)]
    RefDepth(String),
}

type Result<T> = std::result::Result<T, SchemaError>;

fn invalid(at: &str, msg: impl Into<String>) -> SchemaError {
    SchemaError::Invalid { at: at.to_string(), msg: msg.into() }
}

/// The JSON pointer of `seg` below `at`.
fn child(at: &str, seg: impl std::fmt::Display) -> String {
    format!("{at}/{seg}")
}

/// The regex whose full matches are the JSON documents `schema` allows (in outlines' layout).
pub fn schema_to_regex(schema: &Value) -> Result<String> {
    Converter { root: schema, ref_depth: 0 }.schema(schema, "#")
}

fn guard(regex: String, at: &str) -> Result<String> {
    if regex.len() > MAX_REGEX_LEN {
        return Err(invalid(at, format!("the schema is too large: its regex exceeds {} KiB", MAX_REGEX_LEN >> 10)));
    }
    Ok(regex)
}

/// Outlines' `minDigits…`/`maxDigits…` pair less the `offset` digits the regex spells out; a
/// bound that comes to 0 counts as absent (as in outlines).
fn digit_bounds(obj: &Map<String, Value>, keys: [&str; 2], offset: u64, at: &str) -> Result<(Option<u64>, Option<u64>)> {
    let bound = |k: &str| obj.get(k).and_then(Value::as_u64).map(|n| n.saturating_sub(offset));
    let (min, max) = (bound(keys[0]), bound(keys[1]));
    if let (Some(a), Some(b)) = (min, max) {
        if b < a {
            return Err(invalid(at, format!("`{}` is below `{}`", keys[1], keys[0])));
        }
    }
    Ok((min.filter(|&n| n > 0), max.filter(|&n| n > 0)))
}

fn integer(obj: &Map<String, Value>, at: &str) -> Result<String> {
    if !obj.contains_key("minDigits") && !obj.contains_key("maxDigits") {
        return Ok(INTEGER.to_string());
    }
    let (min, max) = digit_bounds(obj, ["minDigits", "maxDigits"], 1, at)?;
    Ok(format!("(-)?(0|[1-9][0-9]{})", digits(min, max, 0, "*")))
}

fn number(obj: &Map<String, Value>, at: &str) -> Result<String> {
    const KEYS: [&str; 6] =
        ["minDigitsInteger", "maxDigitsInteger", "minDigitsFraction", "maxDigitsFraction", "minDigitsExponent", "maxDigitsExponent"];
    if !KEYS.iter().any(|k| obj.contains_key(*k)) {
        return Ok(NUMBER.to_string());
    }
    let (i_min, i_max) = digit_bounds(obj, [KEYS[0], KEYS[1]], 1, at)?;
    let (f_min, f_max) = digit_bounds(obj, [KEYS[2], KEYS[3]], 0, at)?;
    let (e_min, e_max) = digit_bounds(obj, [KEYS[4], KEYS[5]], 0, at)?;
    Ok(format!(
        r"((-)?(0|[1-9][0-9]{}))(\.[0-9]{})?([eE][+-][0-9]{})?",
        digits(i_min, i_max, 1, "*"),
        digits(f_min, f_max, 0, "+"),
        digits(e_min, e_max, 0, "+"),
    ))
}

fn u64_of(obj: &Map<String, Value>, key: &str) -> Option<u64> {
    obj.get(key).and_then(Value::as_u64)
}

/// A `min…`/`max…` pair (`minItems`/`maxItems`, `minProperties`/`maxProperties`): the minimum
/// (0 when absent) and the maximum, refused when the minimum exceeds it.
fn bounds(obj: &Map<String, Value>, min_key: &str, max_key: &str, at: &str) -> Result<(u64, Option<u64>)> {
    let (min, max) = (u64_of(obj, min_key).unwrap_or(0), u64_of(obj, max_key));
    if max.is_some_and(|max| min > max) {
        return Err(invalid(at, format!("`{min_key}` is greater than `{max_key}`")));
    }
    Ok((min, max))
}

/// Outlines' `depth` of a free-form object or array, [`GENERIC_DEPTH`] when absent.
fn depth_of(obj: &Map<String, Value>, at: &str) -> Result<u64> {
    match u64_of(obj, "depth").unwrap_or(GENERIC_DEPTH) {
        d if d > MAX_GENERIC_DEPTH => Err(invalid(at, format!("`depth` above {MAX_GENERIC_DEPTH} is not supported"))),
        d => Ok(d),
    }
}

/// Errors once the pieces of a regex under construction are too long together.
fn check_len(pieces: &[String], at: &str) -> Result<()> {
    if pieces.iter().map(String::len).sum::<usize>() > MAX_REGEX_LEN {
        return guard(pieces.concat(), at).map(drop);
    }
    Ok(())
}

struct Converter<'a> {
    root: &'a Value,
    ref_depth: usize,
}

impl<'a> Converter<'a> {
    fn schema(&mut self, schema: &'a Value, at: &str) -> Result<String> {
        let obj = match schema {
            Value::Object(obj) => obj,
            Value::Bool(true) => return Ok(any_value(GENERIC_DEPTH)),
            Value::Bool(false) => return Err(invalid(at, "the schema `false` allows no value")),
            other => return Err(invalid(at, format!("a schema must be an object, not `{other}`"))),
        };
        if let Some(k) = obj.keys().find(|k| UNSUPPORTED.contains(&k.as_str())) {
            return Err(invalid(at, format!("unsupported JSON-schema keyword `{k}`")));
        }
        let mut branches = BRANCHES.iter().filter(|b| obj.contains_key(**b));
        let regex = match (branches.next(), branches.next()) {
            (Some(&"enum"), Some(&"const")) => self.enum_with_const(obj, at)?,
            (Some(first), Some(second)) => {
                return Err(invalid(at, format!("`{second}` next to `{first}` is not supported (use one of {} per schema)", BRANCHES.join(", "))))
            }
            (Some(&"properties"), None) => self.object_with_properties(obj, at)?,
            (Some(&"allOf"), None) => self.all_of(obj, at)?,
            (Some(&b @ ("anyOf" | "oneOf")), None) => self.any_of(obj, b, at)?,
            (Some(&"prefixItems"), None) => self.tuple(obj, at)?,
            (Some(&"enum"), None) => {
                let values = obj["enum"].as_array().ok_or_else(|| invalid(at, "`enum` must be an array"))?;
                if values.is_empty() {
                    return Err(invalid(at, "`enum` must not be empty"));
                }
                format!("({})", values.iter().map(literal).collect::<Vec<_>>().join("|"))
            }
            (Some(&"const"), None) => literal(&obj["const"]),
            (Some(_), None) => self.reference(obj, at)?,
            (None, _) => match obj.get("type") {
                Some(t) => self.typed(t, obj, at)?,
                None => match obj.keys().find(|k| !ANNOTATIONS.contains(&k.as_str())) {
                    None => any_value(GENERIC_DEPTH),
                    Some(k) => {
                        return Err(invalid(at, format!(
                            "unsupported schema: `{k}` without `type` (give `type`, `properties`, `enum`, `const`, `anyOf`, `oneOf`, `allOf`, `prefixItems` or `$ref`)"
                        )))
                    }
                },
            },
        };
        guard(regex, at)
    }

    fn enum_with_const(&mut self, obj: &'a Map<String, Value>, at: &str) -> Result<String> {
        let values = obj["enum"].as_array().ok_or_else(|| invalid(at, "`enum` must be an array"))?;
        if !values.contains(&obj["const"]) {
            return Err(invalid(at, "`const` is not one of the `enum` values"));
        }
        Ok(literal(&obj["const"]))
    }

    fn object_with_properties(&mut self, obj: &'a Map<String, Value>, at: &str) -> Result<String> {
        let props = obj["properties"].as_object().ok_or_else(|| invalid(at, "`properties` must be an object"))?;
        let required: Vec<&str> = match obj.get("required") {
            None => Vec::new(),
            Some(Value::Array(names)) => {
                names.iter().map(|n| n.as_str().ok_or_else(|| invalid(at, "`required` must be an array of strings"))).collect::<Result<_>>()?
            }
            Some(_) => return Err(invalid(at, "`required` must be an array of strings")),
        };
        if let Some(name) = required.iter().find(|n| !props.contains_key(**n)) {
            return Err(invalid(at, format!("required property `{name}` is not in `properties`")));
        }
        let n_required = props.keys().filter(|k| required.contains(&k.as_str())).count() as u64;
        let too_few = u64_of(obj, "minProperties").is_some_and(|min| min > n_required);
        let too_many = u64_of(obj, "maxProperties").is_some_and(|max| max < props.len() as u64);
        if too_few || too_many {
            let k = if too_few { "minProperties" } else { "maxProperties" };
            return Err(invalid(at, format!("`{k}` next to `properties` is only supported when every object of the listed properties satisfies it")));
        }
        // Each member as `"name": value`, skipping those whose `$ref` chain is too deep.
        let mut members = Vec::new();
        let props_at = child(at, "properties");
        for (i, (name, sub)) in props.iter().enumerate() {
            let value = match self.schema(sub, &child(&props_at, name)) {
                Ok(v) => v,
                Err(SchemaError::RefDepth(_)) => continue,
                Err(e) => return Err(e),
            };
            let key = json_literal(&Value::from(name.as_str()));
            members.push((i, required.contains(&name.as_str()), format!("{WS}{key}{WS}:{WS}{value}")));
            if members.iter().map(|m| m.2.len()).sum::<usize>() > MAX_REGEX_LEN {
                return guard(members.into_iter().map(|m| m.2).collect(), at);
            }
        }
        let mut regex = String::from(r"\{");
        let last_required = props.keys().rposition(|k| required.contains(&k.as_str()));
        match last_required {
            // Members before the last required one end with a comma, those after start with
            // one; optional members are optional.
            Some(last) => {
                for (i, is_required, member) in &members {
                    let piece = match i.cmp(&last) {
                        std::cmp::Ordering::Less => format!("{member}{WS},"),
                        std::cmp::Ordering::Greater => format!("{WS},{member}"),
                        std::cmp::Ordering::Equal => member.clone(),
                    };
                    if *is_required {
                        regex.push_str(&piece);
                    } else {
                        regex.push_str(&format!("({piece})?"));
                    }
                    if regex.len() > MAX_REGEX_LEN {
                        return guard(regex, at);
                    }
                }
            }
            // No member required: any ordered, non-empty selection, or none.
            None if !members.is_empty() => {
                let mut alternatives = Vec::with_capacity(members.len());
                for last in 0..members.len() {
                    let mut alt: String = members[..last].iter().map(|(_, _, m)| format!("({m}{WS},)?")).collect();
                    alt.push_str(&members[last].2);
                    alternatives.push(alt);
                    check_len(&alternatives, at)?;
                }
                regex.push_str(&format!("({})?", alternatives.join("|")));
            }
            None => {}
        }
        regex.push_str(&format!(r"{WS}\}}"));
        Ok(regex)
    }

    fn all_of(&mut self, obj: &'a Map<String, Value>, at: &str) -> Result<String> {
        match &obj["allOf"] {
            Value::Array(subs) if subs.len() == 1 => Ok(format!("({})", self.schema(&subs[0], &child(at, "allOf/0"))?)),
            Value::Array(subs) if subs.is_empty() => Err(invalid(at, "`allOf` must not be empty")),
            Value::Array(_) => Err(invalid(at, "`allOf` with more than one schema is not supported")),
            _ => Err(invalid(at, "`allOf` must be an array")),
        }
    }

    fn any_of(&mut self, obj: &'a Map<String, Value>, key: &str, at: &str) -> Result<String> {
        let subs = obj[key].as_array().ok_or_else(|| invalid(at, format!("`{key}` must be an array")))?;
        if subs.is_empty() {
            return Err(invalid(at, format!("`{key}` must not be empty")));
        }
        let mut alternatives = Vec::with_capacity(subs.len());
        for (i, sub) in subs.iter().enumerate() {
            alternatives.push(format!("(?:{})", self.schema(sub, &child(at, format!("{key}/{i}")))?));
            check_len(&alternatives, at)?;
        }
        guard(format!("({})", alternatives.join("|")), at)
    }

    fn tuple(&mut self, obj: &'a Map<String, Value>, at: &str) -> Result<String> {
        let subs = obj["prefixItems"].as_array().ok_or_else(|| invalid(at, "`prefixItems` must be an array"))?;
        let n = subs.len() as u64;
        if u64_of(obj, "minItems").is_some_and(|m| m > n) || u64_of(obj, "maxItems").is_some_and(|m| m < n) {
            return Err(invalid(at, "`minItems`/`maxItems` next to `prefixItems` must allow exactly the prefix items"));
        }
        let mut items = Vec::with_capacity(subs.len());
        for (i, sub) in subs.iter().enumerate() {
            items.push(self.schema(sub, &child(at, format!("prefixItems/{i}")))?);
            check_len(&items, at)?;
        }
        Ok(format!(r"\[{WS}{}{WS}\]", items.join(&format!("{WS},{WS}"))))
    }

    fn reference(&mut self, obj: &'a Map<String, Value>, at: &str) -> Result<String> {
        let target = obj["$ref"].as_str().ok_or_else(|| invalid(at, "`$ref` must be a string"))?;
        if self.ref_depth > MAX_REF_DEPTH {
            return Err(SchemaError::RefDepth(at.to_string()));
        }
        let fragment = match target.split_once('#') {
            None => target,
            Some((_, fragment)) if fragment.contains('#') => {
                return Err(invalid(at, format!("invalid `$ref` `{target}`")));
            }
            Some((base, fragment)) if base.is_empty() || self.root.get("$id").and_then(Value::as_str) == Some(base) => fragment,
            Some(_) => return Err(invalid(at, format!("external `$ref` `{target}` is not supported (only `#/...` in the same schema)"))),
        };
        let mut resolved: &'a Value = self.root;
        for part in fragment.split('/').filter(|p| !p.is_empty()) {
            let key = part.replace("~1", "/").replace("~0", "~");
            let next = match resolved {
                Value::Object(m) => m.get(&key),
                Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get(i)),
                _ => None,
            };
            resolved = next.ok_or_else(|| invalid(at, format!("`$ref` `{target}` does not resolve (no `{key}`)")))?;
        }
        self.ref_depth += 1;
        let regex = self.schema(resolved, &format!("#{}", fragment.trim_end_matches('/')));
        self.ref_depth -= 1;
        regex
    }

    fn typed(&mut self, t: &Value, obj: &'a Map<String, Value>, at: &str) -> Result<String> {
        match t {
            Value::String(name) => self.one_type(name, obj, at),
            Value::Array(names) if !names.is_empty() => {
                let mut alternatives = Vec::with_capacity(names.len());
                for name in names {
                    let name = name.as_str().ok_or_else(|| invalid(at, "`type` must be a string or an array of strings"))?;
                    alternatives.push(format!("(?:{})", self.one_type(name, obj, at)?));
                    check_len(&alternatives, at)?;
                }
                Ok(format!("({})", alternatives.join("|")))
            }
            Value::Array(_) => Err(invalid(at, "`type` must not be an empty array")),
            _ => Err(invalid(at, "`type` must be a string or an array of strings")),
        }
    }

    fn one_type(&mut self, name: &str, obj: &'a Map<String, Value>, at: &str) -> Result<String> {
        match name {
            "string" => self.string(obj, at),
            "integer" => integer(obj, at),
            "number" => number(obj, at),
            "boolean" => Ok(BOOLEAN.to_string()),
            "null" => Ok(NULL.to_string()),
            "array" => self.array(obj, at),
            "object" => self.object(obj, at),
            other => Err(invalid(at, format!("unsupported type `{other}`"))),
        }
    }

    fn string(&mut self, obj: &'a Map<String, Value>, at: &str) -> Result<String> {
        let (min, max) = (obj.get("minLength"), obj.get("maxLength"));
        let (pattern, format) = (obj.get("pattern"), obj.get("format").and_then(Value::as_str));
        if min.is_some() || max.is_some() {
            if let Some(k) = [("pattern", pattern.is_some()), ("format", format.is_some())].iter().find(|(_, on)| *on) {
                return Err(invalid(at, format!("`{}` next to `minLength`/`maxLength` is not supported", k.0)));
            }
            if let (Some(a), Some(b)) = (min.and_then(Value::as_f64), max.and_then(Value::as_f64)) {
                if a > b {
                    return Err(invalid(at, "`minLength` is greater than `maxLength`"));
                }
            }
            let lo = min.and_then(Value::as_u64).unwrap_or(0);
            let hi = max.and_then(Value::as_u64).map(|n| n.to_string()).unwrap_or_default();
            return Ok(format!(r#""{STRING_CHAR}{{{lo},{hi}}}""#));
        }
        if let Some(pattern) = pattern {
            if format.is_some() {
                return Err(invalid(at, "`format` next to `pattern` is not supported"));
            }
            let pattern = pattern.as_str().ok_or_else(|| invalid(at, "`pattern` must be a string"))?;
            let inner = pattern.strip_prefix('^').and_then(|p| p.strip_suffix('$')).unwrap_or(pattern);
            regex_automata::util::syntax::parse(inner)
                .map_err(|e| invalid(at, format!("`pattern` is not a supported regular expression: {e}")))?;
            return Ok(format!(r#"("(?:{inner})")"#));
        }
        if let Some(format) = format {
            return format_regex(format).ok_or_else(|| {
                invalid(at, format!("unsupported string `format` `{format}` (supported: date, time, date-time, uuid, uri, email)"))
            });
        }
        Ok(string())
    }

    fn object(&mut self, obj: &'a Map<String, Value>, at: &str) -> Result<String> {
        if obj.get("required").and_then(Value::as_array).is_some_and(|r| !r.is_empty()) {
            return Err(invalid(at, "`required` without `properties` is not supported"));
        }
        let (min, max) = bounds(obj, "minProperties", "maxProperties", at)?;
        let depth = depth_of(obj, at)?;
        let value = match obj.get("additionalProperties") {
            _ if max == Some(0) => return Ok(empty_object()),
            None | Some(Value::Bool(true)) => return Ok(any_object(depth, min, max)),
            Some(Value::Bool(false)) if min == 0 => return Ok(empty_object()),
            Some(Value::Bool(false)) => return Err(invalid(at, "`minProperties` with `additionalProperties: false` and no `properties` allows nothing")),
            Some(sub) => self.schema(sub, &child(at, "additionalProperties"))?,
        };
        guard(object_of(&value, min, max), at)
    }

    fn array(&mut self, obj: &'a Map<String, Value>, at: &str) -> Result<String> {
        let (min, max) = bounds(obj, "minItems", "maxItems", at)?;
        let depth = depth_of(obj, at)?;
        let item = match obj.get("items") {
            _ if max == Some(0) => return Ok(empty_array()),
            None | Some(Value::Bool(true)) => return Ok(any_array(depth, min, max)),
            Some(Value::Bool(false)) if min == 0 => return Ok(empty_array()),
            Some(Value::Bool(false)) => return Err(invalid(at, "`minItems` with `items: false` allows nothing")),
            Some(Value::Array(_)) => return Err(invalid(at, "`items` as an array is not supported (use `prefixItems`)")),
            Some(sub) => self.schema(sub, &child(at, "items"))?,
        };
        guard(array_of(&item, min, max), at)
    }
}
