//! `parameters.grammar`: constrained decoding requests. TGI's `{"type": "regex", "value": "..."}`
//! (the whole generated text must match) and ours `{"type": "sql", "value": null | "<DDL>"}`:
//! a SQLite SELECT naming only the schema's tables and columns, the schema taken from the
//! prompt's `### Schema:` block when `value` is null.

use crate::error::{invalid, InferError};
use regex_automata::dfa::{dense, Automaton};
use regex_automata::{Anchored, Input};
use std::sync::Arc;
use text2sql_engine::{Constraint, Viability};
use text2sql_sql::constrain::{SqlConstraint, Verdict};
use text2sql_sql::schema::Schema;

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
}

impl RegexGrammar {
    /// Compiles `pattern` (anchored at both ends, as TGI's outlines-based grammars).
    pub fn new(pattern: &str) -> Result<Self, String> {
        let dfa = dense::Builder::new()
            .configure(dense::Config::new().start_kind(regex_automata::dfa::StartKind::Anchored))
            .build(&format!("^(?:{pattern})$"))
            .map_err(|e| e.to_string())?;
        Ok(Self(dfa))
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
    let kind = grammar.get("type").and_then(|t| t.as_str()).ok_or_else(|| invalid("`grammar` must be an object with a `type` (sql, regex or json) and a `value`"))?;
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
            let g = RegexGrammar::new(pattern).map_err(|e| invalid(format!("grammar `regex`: {e}")))?;
            Ok(Arc::new(g))
        }
        "json" | "json_object" | "json_schema" => Err(invalid(format!(
            "grammar `{kind}` is not supported yet (use `sql` or `regex`)"
        ))),
        other => Err(invalid(format!("unknown grammar type `{other}` (use sql, regex or json)"))),
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
            serde_json::json!({"type": "json", "value": {}}),
            serde_json::json!({"type": "xml", "value": ""}),
            serde_json::json!("sql"),
        ] {
            let e = parse(&bad, "no schema here").unwrap_err();
            assert!(matches!(e, InferError::Validation(_)), "{bad}: {e:?}");
        }
    }
}
