//! `parameters.grammar`: constrained decoding requests. TGI's `{"type": "regex", "value": "..."}`
//! (the whole generated text must match), TGI's JSON grammars `{"type": "json" | "json_object",
//! "value": <JSON schema>}` and `{"type": "json_schema", "value": {"name": ..., "schema": ...}}`
//! (the schema becomes a regex, see [`json_schema`]), and ours `{"type": "sql", "value": null |
//! "<DDL>"}`: a SQLite SELECT naming only the schema's tables and columns, the schema taken from
//! the prompt's `### Schema:` block when `value` is null. [`from_response_format`] maps the
//! OpenAI routes' `response_format` (OpenAI's shapes too) onto these.

mod json_patterns;
pub mod json_schema;

use crate::error::{invalid, InferError};
use regex_automata::dfa::{dense, Automaton, StartKind};
use regex_automata::nfa::thompson;
use regex_automata::{Anchored, Input};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use text2sql_engine::{Constraint, Viability};
use text2sql_sql::constrain::{SqlConstraint, Verdict};
use text2sql_sql::schema::Schema;

/// Largest NFA a grammar may compile to (bytes).
pub const NFA_SIZE_LIMIT: usize = 32 << 20;
/// Largest DFA a grammar may compile to (bytes); a bigger one is a 422, never a hang.
pub const DFA_SIZE_LIMIT: usize = 64 << 20;
/// Most memory determinization may use on the way (bytes).
pub const DETERMINIZE_SIZE_LIMIT: usize = 64 << 20;
/// Compiled regex grammars kept for reuse (a client usually sends the same schema every time).
const CACHE_ENTRIES: usize = 32;
/// Bytes of DFA the reuse cache may hold.
const CACHE_BYTES: usize = 128 << 20;

/// Schema-constrained SQL.
#[derive(Debug)]
pub struct SqlGrammar(pub SqlConstraint);

impl Constraint for SqlGrammar {
    fn check(&self, text: &str) -> Viability {
        match self.0.check(text) {
            Verdict::Dead => Viability::Dead,
            Verdict::Viable => Viability::Viable,
            Verdict::Complete => Viability::Complete,
        }
    }

    fn completion(&self, text: &str) -> Option<String> {
        self.0.completion(text)
    }

    fn completes(&self) -> bool {
        true
    }
}

impl SqlGrammar {
    /// From CREATE TABLE statements.
    pub fn from_ddl(ddl: &str) -> Result<Self, String> {
        let schema = Schema::from_ddl(ddl).map_err(|e| e.to_string())?;
        if schema.tables.is_empty() {
            return Err("the schema has no CREATE TABLE statement".into());
        }
        Ok(Self(SqlConstraint::new(&schema)))
    }
}

/// A regular expression the whole generated text must match (TGI's `regex` grammar).
#[derive(Debug)]
pub struct RegexGrammar(dense::DFA<Vec<u32>>);

impl Constraint for RegexGrammar {
    fn check(&self, text: &str) -> Viability {
        let dfa = &self.0;
        let Ok(mut state) = dfa.start_state_forward(&Input::new(text).anchored(Anchored::Yes)) else {
            return Viability::Dead;
        };
        for &b in text.as_bytes() {
            state = dfa.next_state(state, b);
            if dfa.is_dead_state(state) {
                return Viability::Dead;
            }
        }
        if dfa.is_match_state(dfa.next_eoi_state(state)) {
            Viability::Complete
        } else {
            Viability::Viable
        }
    }

    /// The shortest printable-ASCII path from the text's state to a match (breadth-first over
    /// DFA states, at most [`COMPLETION_STATES`] of them).
    fn completion(&self, text: &str) -> Option<String> {
        let dfa = &self.0;
        let mut state = dfa.start_state_forward(&Input::new(text).anchored(Anchored::Yes)).ok()?;
        for &b in text.as_bytes() {
            state = dfa.next_state(state, b);
        }
        let done = |s| dfa.is_match_state(dfa.next_eoi_state(s));
        if dfa.is_dead_state(state) {
            return None;
        }
        // (state, index of the parent entry, byte that led here)
        let mut seen = std::collections::HashSet::from([state]);
        let mut entries: Vec<(_, usize, u8)> = vec![(state, usize::MAX, 0)];
        let mut next = 0;
        while next < entries.len() && entries.len() < COMPLETION_STATES {
            let (s, ..) = entries[next];
            if done(s) {
                let mut bytes = Vec::new();
                let mut at = next;
                while entries[at].1 != usize::MAX {
                    bytes.push(entries[at].2);
                    at = entries[at].1;
                }
                bytes.reverse();
                return String::from_utf8(bytes).ok();
            }
            for b in (b' '..=b'~').chain([b'\n', b'\t']) {
                let t = dfa.next_state(s, b);
                if !dfa.is_dead_state(t) && !dfa.is_quit_state(t) && seen.insert(t) {
                    entries.push((t, next, b));
                }
            }
            next += 1;
        }
        None
    }

    fn completes(&self) -> bool {
        true
    }
}

/// Most DFA states a completion search visits.
const COMPLETION_STATES: usize = 100_000;

impl RegexGrammar {
    /// Compiles `pattern` (anchored at both ends, as TGI's outlines-based grammars), within
    /// [`NFA_SIZE_LIMIT`], [`DFA_SIZE_LIMIT`] and [`DETERMINIZE_SIZE_LIMIT`].
    pub fn new(pattern: &str) -> Result<Self, String> {
        let config = dense::Config::new()
            .start_kind(StartKind::Anchored)
            .dfa_size_limit(Some(DFA_SIZE_LIMIT))
            .determinize_size_limit(Some(DETERMINIZE_SIZE_LIMIT));
        let dfa = dense::Builder::new()
            .configure(config)
            .thompson(thompson::Config::new().nfa_size_limit(Some(NFA_SIZE_LIMIT)))
            .build(&format!("^(?:{pattern})$"))
            .map_err(|e| describe_build_error(&e))?;
        Ok(Self(dfa))
    }

    /// Heap bytes of the automaton.
    pub fn memory_usage(&self) -> usize {
        self.0.memory_usage()
    }
}

/// A build error as one line; size limits get an actionable message.
fn describe_build_error(e: &dense::BuildError) -> String {
    use std::error::Error;
    let nfa_limit = e.source().and_then(|s| s.downcast_ref::<thompson::BuildError>()).and_then(|t| t.size_limit());
    if e.is_size_limit_exceeded() || nfa_limit.is_some() {
        return format!(
            "too large to compile (its automaton would exceed the limits: {} MiB NFA, {} MiB DFA); \
             simplify it (fewer optional properties or alternatives, smaller maxLength/maxItems, less nesting)",
            NFA_SIZE_LIMIT >> 20,
            DFA_SIZE_LIMIT >> 20
        );
    }
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// [`RegexGrammar::new`] through a small cache of recently compiled patterns.
pub fn compile_regex(pattern: &str) -> Result<Arc<RegexGrammar>, String> {
    static CACHE: Mutex<Vec<(String, Arc<RegexGrammar>)>> = Mutex::new(Vec::new());
    if let Ok(mut cache) = CACHE.lock() {
        if let Some(i) = cache.iter().position(|(p, _)| p == pattern) {
            let hit = cache.remove(i);
            let grammar = hit.1.clone();
            cache.push(hit);
            return Ok(grammar);
        }
    }
    let grammar = Arc::new(RegexGrammar::new(pattern)?);
    if let Ok(mut cache) = CACHE.lock() {
        cache.push((pattern.to_string(), grammar.clone()));
        while cache.len() > CACHE_ENTRIES || cache.iter().map(|(_, g)| g.memory_usage()).sum::<usize>() > CACHE_BYTES {
            cache.remove(0);
        }
    }
    Ok(grammar)
}

/// The JSON grammar of `schema` (request type `kind`, for messages).
pub fn json_grammar(kind: &str, schema: &Value) -> Result<Arc<RegexGrammar>, InferError> {
    let regex = json_schema::schema_to_regex(schema).map_err(|e| invalid(format!("grammar `{kind}` is not valid: {e}")))?;
    compile_regex(&regex).map_err(|e| invalid(format!("grammar `{kind}`: {e}")))
}

/// The schema of a `json` / `json_object` grammar's `value`: a schema, or a string holding one.
fn schema_of_value(kind: &str, value: &Value) -> Result<Value, InferError> {
    match value {
        Value::String(s) => serde_json::from_str(s).map_err(|e| invalid(format!("grammar `{kind}`: `value` is not valid JSON: {e}"))),
        Value::Object(_) | Value::Bool(_) => Ok(value.clone()),
        _ => Err(invalid(format!("grammar `{kind}`: `value` must be a JSON schema (an object, or a string holding one)"))),
    }
}

/// The OpenAI routes' `response_format` as a `parameters.grammar`. TGI's shapes (`type` +
/// `value`) pass through; OpenAI's `{"type": "text"}` is no constraint, `{"type": "json_object"}`
/// any JSON object, and `{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}`
/// its `schema` (any JSON object when absent).
pub fn from_response_format(format: Option<Value>) -> Option<Value> {
    let format = format.filter(|f| !f.is_null())?;
    if format.get("value").is_some_and(|v| !v.is_null()) {
        return Some(format);
    }
    match format.get("type").and_then(Value::as_str) {
        Some("text") => None,
        Some("json_object") => Some(json!({"type": "json_object", "value": {"type": "object"}})),
        Some("json_schema") => match format.get("json_schema") {
            Some(Value::Object(spec)) => {
                let schema = spec.get("schema").cloned().unwrap_or_else(|| json!({"type": "object"}));
                Some(json!({"type": "json_schema", "value": {"name": spec.get("name"), "schema": schema}}))
            }
            _ => Some(format),
        },
        _ => Some(format),
    }
}

/// The `### Schema:` block of a Text-to-SQL prompt.
pub fn schema_of_prompt(inputs: &str) -> Option<&str> {
    let start = inputs.find("### Schema:")? + "### Schema:".len();
    let rest = &inputs[start..];
    let end = rest.find("### Question:").unwrap_or(rest.len());
    Some(rest[..end].trim())
}

/// Parses `parameters.grammar` for a request whose prompt is `inputs`.
pub fn parse(grammar: &serde_json::Value, inputs: &str) -> Result<Arc<dyn Constraint>, InferError> {
    let kind = grammar.get("type").and_then(|t| t.as_str()).ok_or_else(|| invalid("`grammar` must be an object with a `type` (sql, regex, json, json_object or json_schema) and a `value`"))?;
    let value = grammar.get("value").unwrap_or(&serde_json::Value::Null);
    match kind {
        "sql" => {
            let ddl = match value {
                serde_json::Value::String(s) => s.as_str(),
                serde_json::Value::Null => schema_of_prompt(inputs).ok_or_else(|| {
                    invalid("grammar `sql` with a null `value` needs a `### Schema:` block in `inputs` (or give the DDL as `value`)")
                })?,
                _ => return Err(invalid("grammar `sql`: `value` must be null or a string of CREATE TABLE statements")),
            };
            let g = SqlGrammar::from_ddl(ddl).map_err(|e| invalid(format!("grammar `sql`: {e}")))?;
            Ok(Arc::new(g))
        }
        "regex" => {
            let pattern = value.as_str().ok_or_else(|| invalid("grammar `regex`: `value` must be a string"))?;
            Ok(compile_regex(pattern).map_err(|e| invalid(format!("grammar `regex`: {e}")))?)
        }
        "json" | "json_object" => {
            if value.is_null() {
                return Err(invalid(format!("grammar `{kind}` needs a JSON schema as `value`")));
            }
            Ok(json_grammar(kind, &schema_of_value(kind, value)?)?)
        }
        "json_schema" => {
            let config = match value {
                Value::String(s) => serde_json::from_str(s).map_err(|e| invalid(format!("grammar `json_schema`: `value` is not valid JSON: {e}")))?,
                other => other.clone(),
            };
            let schema = config.get("schema").filter(|s| s.is_object() || s.is_boolean()).ok_or_else(|| {
                invalid("grammar `json_schema`: `value` needs a `schema`: `{\"name\": ..., \"schema\": <JSON schema>}` (on the OpenAI routes, OpenAI's `json_schema` instead of `value` works too)")
            })?;
            Ok(json_grammar(kind, schema)?)
        }
        other => Err(invalid(format!("unknown grammar type `{other}` (use sql, regex, json, json_object or json_schema)"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_grammar_is_anchored_and_incremental() {
        let g = RegexGrammar::new(r"(yes|no)[0-9]{2}").unwrap();
        assert_eq!(g.check(""), Viability::Viable);
        assert_eq!(g.check("ye"), Viability::Viable);
        assert_eq!(g.check("yes4"), Viability::Viable);
        assert_eq!(g.check("yes42"), Viability::Complete);
        assert_eq!(g.check("yes421"), Viability::Dead);
        assert_eq!(g.check("maybe"), Viability::Dead);
        assert_eq!(g.check(" yes42"), Viability::Dead);
    }

    #[test]
    fn sql_grammar_takes_the_prompt_schema() {
        let prompt = "### Schema:\nCREATE TABLE users (id INT, name TEXT);\n\n### Question:\nHow many users?\n\nReturn only the SQL query.";
        assert_eq!(schema_of_prompt(prompt), Some("CREATE TABLE users (id INT, name TEXT);"));
        let g = parse(&serde_json::json!({"type": "sql", "value": null}), prompt).unwrap();
        assert_eq!(g.check("\nSELECT COUNT(*) FROM users"), Viability::Complete);
        assert_eq!(g.check("SELECT COUNT(*) FROM user "), Viability::Dead);
        for bad in [
            serde_json::json!({"type": "sql", "value": null}),
            serde_json::json!({"type": "sql", "value": 3}),
            serde_json::json!({"type": "sql", "value": "CREATE TABLE ("}),
            serde_json::json!({"type": "regex", "value": "("}),
            serde_json::json!({"type": "json", "value": {"type": "decimal"}}),
            serde_json::json!({"type": "json", "value": null}),
            serde_json::json!({"type": "xml", "value": ""}),
            serde_json::json!("sql"),
        ] {
            let e = parse(&bad, "no schema here").unwrap_err();
            assert!(matches!(e, InferError::Validation(_)), "{bad}: {e:?}");
        }
    }
}
