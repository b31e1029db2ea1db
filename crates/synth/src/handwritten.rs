//! The hand-written evaluation set: `eval/handwritten.jsonl` rows `{db, question, sql}` on the
//! DDL files `eval/schemas/<db>.sql`, converted to the Alpaca rows `text2sql eval` reads.

use std::path::Path;

use serde::Deserialize;
use text2sql_sql::eval::{alpaca_input, AlpacaRow, INSTRUCTION};

use crate::error::{Result, SynthError};

/// One hand-written question.
#[derive(Debug, Clone, Deserialize)]
pub struct HandRow {
    /// Schema name (`eval/schemas/<db>.sql`).
    pub db: String,
    /// Question, as an analyst asks it.
    pub question: String,
    /// Gold SQL.
    pub sql: String,
}

/// The eval folder of this crate.
pub fn eval_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/eval"))
}

/// Reads `dir/handwritten.jsonl`; a bad line is an error naming file and line.
pub fn read(dir: &Path) -> Result<Vec<HandRow>> {
    let p = dir.join("handwritten.jsonl");
    let text = std::fs::read_to_string(&p).map_err(|e| SynthError::Io { path: p.display().to_string(), source: e })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let r: HandRow = serde_json::from_str(line).map_err(|e| SynthError::Option { flag: format!("{}:{}", p.display(), i + 1), message: e.to_string() })?;
        out.push(r);
    }
    Ok(out)
}

/// The schema DDL of `db`.
pub fn ddl(dir: &Path, db: &str) -> Result<String> {
    let p = dir.join("schemas").join(format!("{db}.sql"));
    std::fs::read_to_string(&p).map(|s| s.trim_end().to_string()).map_err(|e| SynthError::Io { path: p.display().to_string(), source: e })
}

/// The set as Alpaca rows (the format of `text2sql eval`'s internal val.jsonl).
pub fn alpaca(dir: &Path) -> Result<Vec<AlpacaRow>> {
    read(dir)?
        .into_iter()
        .map(|r| Ok(AlpacaRow { instruction: INSTRUCTION.to_string(), input: alpaca_input(&ddl(dir, &r.db)?, &r.question), output: r.sql }))
        .collect()
}
