//! Regex text for JSON values in the layout of outlines-core's JSON-schema regexes (compact
//! JSON, at most one space around `{ } [ ] : ,`, strings without `\uXXXX` escapes): scalars,
//! containers with element-count bounds, free-form values of bounded depth, exact literals and
//! the string `format`s. [`super::json_schema`] assembles them.

use serde_json::Value;

/// Whitespace between JSON tokens: at most one space (outlines' default; more freedom makes small
/// models loop on blanks).
pub const WS: &str = "[ ]?";

/// One character of a JSON string: not `"`, `\` or a control character, or a short escape.
pub(super) const STRING_CHAR: &str = r#"([^"\\\x00-\x1F\x7F-\x9F]|\\["\\/bfnrt])"#;
pub(super) const BOOLEAN: &str = "(true|false)";
pub(super) const NULL: &str = "null";
pub(super) const INTEGER: &str = "(-)?(0|[1-9][0-9]*)";
pub(super) const NUMBER: &str = r"((-)?(0|[1-9][0-9]*))(\.[0-9]+)?([eE][+-][0-9]+)?";

/// `s` with regex metacharacters escaped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if r"\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A scalar or string as compact JSON text, regex-escaped.
pub(super) fn json_literal(v: &Value) -> String {
    escape(&v.to_string())
}

/// `{lo,}` or `{lo,hi}`: how many more elements follow the first of `min..=max`.
pub(super) fn more_elements(min: u64, max: Option<u64>) -> String {
    match max {
        None => format!("{{{},}}", min.saturating_sub(1)),
        Some(max) => format!("{{{},{}}}", min.saturating_sub(1), max.saturating_sub(1)),
    }
}

/// An object of `min..=max` members whose names are any strings and values match `value`.
pub(super) fn object_of(value: &str, min: u64, max: Option<u64>) -> String {
    let member = format!(r#""{STRING_CHAR}*"{WS}:{WS}{value}"#);
    let optional = if min == 0 { "?" } else { "" };
    let more = more_elements(min, max);
    format!(r"\{{{WS}({member}({WS},{WS}{member}){more}){optional}{WS}\}}")
}

/// An array of `min..=max` elements matching `item` (no blank before a comma, as outlines).
pub(super) fn array_of(item: &str, min: u64, max: Option<u64>) -> String {
    let optional = if min == 0 { "?" } else { "" };
    let more = more_elements(min, max);
    format!(r"\[{WS}(({item})(,{WS}({item})){more}){optional}{WS}\]")
}

pub(super) fn empty_object() -> String {
    format!(r"\{{{WS}\}}")
}

pub(super) fn empty_array() -> String {
    format!(r"\[{WS}\]")
}

/// A free-form object whose containers nest `depth` more levels.
pub(super) fn any_object(depth: u64, min: u64, max: Option<u64>) -> String {
    let mut values = vec![string(), NUMBER.to_string(), BOOLEAN.to_string(), NULL.to_string()];
    if depth > 0 {
        values.push(any_object(depth - 1, 0, None));
        values.push(any_array(depth - 1, 0, None));
    }
    object_of(&format!("({})", values.join("|")), min, max)
}

/// A free-form array whose containers nest `depth` more levels.
pub(super) fn any_array(depth: u64, min: u64, max: Option<u64>) -> String {
    let mut items = vec![BOOLEAN.to_string(), NULL.to_string(), NUMBER.to_string(), INTEGER.to_string(), string()];
    if depth > 0 {
        items.push(any_object(depth - 1, 0, None));
        items.push(any_array(depth - 1, 0, None));
    }
    array_of(&items.join("|"), min, max)
}

/// Any JSON value, containers nesting `depth` levels below the outer one.
pub(super) fn any_value(depth: u64) -> String {
    let kinds = [
        BOOLEAN.to_string(),
        NULL.to_string(),
        NUMBER.to_string(),
        INTEGER.to_string(),
        string(),
        any_array(depth, 0, None),
        any_object(depth, 0, None),
    ];
    format!("({})", kinds.map(|k| format!("({k})")).join("|"))
}

pub(super) fn string() -> String {
    format!(r#""{STRING_CHAR}*""#)
}

/// The exact JSON text of `v` (`const` / `enum`), containers with outlines' optional blanks.
pub(super) fn literal(v: &Value) -> String {
    let sep = format!("{WS},{WS}");
    match v {
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(literal).collect();
            format!(r"\[{WS}{}{WS}\]", inner.join(&sep))
        }
        Value::Object(members) => {
            let inner: Vec<String> = members
                .iter()
                .map(|(k, v)| format!("{}{WS}:{WS}{}", json_literal(&Value::from(k.as_str())), literal(v)))
                .collect();
            format!(r"\{{{WS}{}{WS}\}}", inner.join(&sep))
        }
        scalar => json_literal(scalar),
    }
}

/// A quantifier from outlines' digit bounds: `{a,b}`, `{a,}`, `{lo,b}` or `none`.
pub(super) fn digits(min: Option<u64>, max: Option<u64>, lo: u64, none: &str) -> String {
    match (min, max) {
        (Some(a), Some(b)) => format!("{{{a},{b}}}"),
        (Some(a), None) => format!("{{{a},}}"),
        (None, Some(b)) => format!("{{{lo},{b}}}"),
        (None, None) => none.to_string(),
    }
}

/// A JSON string in one of the supported `format`s.
pub(super) fn format_regex(format: &str) -> Option<String> {
    let date = r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])";
    let clock = "([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]";
    Some(match format {
        "date" => format!(r#""{date}""#),
        "time" => format!(r#""{clock}(\.[0-9]+)?Z?""#),
        "date-time" => format!(
            r#""-?([1-9][0-9]*)?[0-9]{{4}}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T{clock}(\.[0-9]{{3}})?Z?""#
        ),
        "uuid" => r#""[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}""#.to_string(),
        "uri" => {
            let user = r"([^\s:@]+(:[^\s:@]*)?@)?";
            let host = r"([a-zA-Z\d.-]+\.[a-zA-Z]{2,}|localhost)";
            let rest = r"(:\d+)?(/[^\s?#]*)?(\?[^\s#]*)?(#[^\s]*)?";
            let urn = r"urn:[a-zA-Z\d][a-zA-Z\d-]{0,31}:[^\s]+";
            format!(r#""((https?|ftp)://{user}{host}{rest}|{urn})""#)
        }
        "email" => {
            let atom = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+";
            let quoted_pair = r"\\[\x01-\x09\x0b\x0c\x0e-\x7f]";
            let quoted = format!(r#""([\x01-\x08\x0b\x0c\x0e-\x1f\x21\x23-\x5b\x5d-\x7f]|{quoted_pair})*""#);
            let label = "[a-z0-9]([a-z0-9-]*[a-z0-9])?";
            let octet = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
            let tag = format!(r"[a-z0-9-]*[a-z0-9]:([\x01-\x08\x0b\x0c\x0e-\x1f\x21-\x7f]|{quoted_pair})+");
            let literal = format!(r"\[({octet}\.){{3}}({octet}|{tag})\]");
            format!(r#""({atom}(\.{atom})*|{quoted})@(({label}\.)+{label}|{literal})""#)
        }
        _ => return None,
    })
}
