//! `text2sql data build`: sql-create-context style rows (question, context = CREATE TABLE
//! DDL, answer = SQL) to the seed's Alpaca train/val JSONL, with validation, dedup, a
//! deterministic split, and a report of every dropped row and why.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::adherence::check_adherence;
use crate::eval::{alpaca_input, AlpacaRow, INSTRUCTION};
use crate::parse::parse_sql;
use crate::schema::Schema;
use crate::{Result, SqlError};

/// One input row.
#[derive(Debug, Clone, Deserialize)]
pub struct RawRow {
    /// The question.
    pub question: String,
    /// CREATE TABLE statements.
    pub context: String,
    /// Gold SQL.
    pub answer: String,
}

/// A row that was not used, with its line (JSONL) or element number (JSON array, 1-based).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Dropped {
    /// Line or element number.
    pub line: usize,
    /// Why.
    pub reason: String,
}

/// What `build` did.
#[derive(Debug, Clone, Serialize, Default)]
pub struct BuildReport {
    /// Rows read (good and bad lines).
    pub read: usize,
    /// Rows written to train.
    pub train: usize,
    /// Rows written to val.
    pub val: usize,
    /// Lines that were not valid rows (bad JSON, missing fields).
    pub bad_lines: Vec<Dropped>,
    /// Rows whose SQL does not parse.
    pub unparseable_sql: Vec<Dropped>,
    /// Rows whose schema (context) does not parse.
    pub unparseable_schema: Vec<Dropped>,
    /// Rows whose SQL references tables/columns absent from the schema.
    pub schema_violations: Vec<Dropped>,
    /// Rows dropped as duplicates of an earlier (question, schema) pair.
    pub duplicates: Vec<Dropped>,
}

/// Settings of `build`.
#[derive(Debug, Clone, Copy)]
pub struct BuildOptions {
    /// Fraction of rows that go to val.
    pub val_fraction: f64,
    /// Split seed.
    pub seed: u64,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions { val_fraction: 0.1, seed: 42 }
    }
}

/// Rows with their line numbers, and the lines that were not valid rows.
pub type Rows = (Vec<(usize, RawRow)>, Vec<Dropped>);

/// Reads a JSON array or JSONL file of rows; bad lines are returned, never skipped silently.
pub fn read_rows(path: &Path) -> Result<Rows> {
    let text = std::fs::read_to_string(path).map_err(|e| SqlError::Io { path: path.display().to_string(), source: e })?;
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    if text.trim_start().starts_with('[') {
        let items: Vec<serde_json::Value> = serde_json::from_str(&text)
            .map_err(|e| SqlError::Json { path: path.display().to_string(), message: e.to_string() })?;
        for (i, v) in items.into_iter().enumerate() {
            match serde_json::from_value::<RawRow>(v) {
                Ok(r) => rows.push((i + 1, r)),
                Err(e) => bad.push(Dropped { line: i + 1, reason: format!("element {}: {e}", i + 1) }),
            }
        }
    } else {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<RawRow>(line) {
                Ok(r) => rows.push((i + 1, r)),
                Err(e) => bad.push(Dropped { line: i + 1, reason: format!("line {}: {e}", i + 1) }),
            }
        }
    }
    Ok((rows, bad))
}

/// Canonical SQL text for training targets: parsed and printed back (whitespace, keyword
/// case, trailing semicolon normalised; identifiers and values kept as written).
pub fn canonical_sql(sql: &str) -> Result<String> {
    Ok(parse_sql(sql)?.iter().map(|s| s.to_string()).collect::<Vec<_>>().join("; "))
}

fn split_hash(seed: u64, s: &str) -> u64 {
    let mut h = 0xcbf29ce484222325u64 ^ seed;
    for b in s.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
    }
    h ^ (h >> 29)
}

/// Validates, dedups and splits rows into (train, val).
pub fn build(rows: Vec<(usize, RawRow)>, bad_lines: Vec<Dropped>, opts: &BuildOptions) -> (Vec<AlpacaRow>, Vec<AlpacaRow>, BuildReport) {
    let mut rep = BuildReport { read: rows.len() + bad_lines.len(), bad_lines, ..Default::default() };
    let (mut train, mut val) = (Vec::new(), Vec::new());
    let mut seen = HashSet::new();
    for (line, r) in rows {
        let drop = |reason: String| Dropped { line, reason };
        let ddl = r.context.trim();
        let schema = match Schema::from_ddl(ddl) {
            Ok(s) => s,
            Err(e) => {
                rep.unparseable_schema.push(drop(e.to_string()));
                continue;
            }
        };
        let sql = match canonical_sql(&r.answer) {
            Ok(s) => s,
            Err(e) => {
                rep.unparseable_sql.push(drop(e.to_string()));
                continue;
            }
        };
        match check_adherence(&sql, &schema) {
            Ok(v) if !v.is_empty() => {
                let v: Vec<String> = v.iter().map(|x| x.to_string()).collect();
                rep.schema_violations.push(drop(v.join(", ")));
                continue;
            }
            Err(e) => {
                rep.unparseable_sql.push(drop(e.to_string()));
                continue;
            }
            Ok(_) => {}
        }
        let question = r.question.split_whitespace().collect::<Vec<_>>().join(" ");
        let key = format!("{}\u{1}{}", question.to_lowercase(), schema.to_ddl().to_lowercase());
        if !seen.insert(key.clone()) {
            rep.duplicates.push(drop("same question and schema as an earlier row".into()));
            continue;
        }
        let row = AlpacaRow { instruction: INSTRUCTION.into(), input: alpaca_input(ddl, &question), output: sql };
        let to_val = (split_hash(opts.seed, &key) % 1_000_000) as f64 / 1_000_000.0 < opts.val_fraction;
        if to_val {
            val.push(row);
        } else {
            train.push(row);
        }
    }
    rep.train = train.len();
    rep.val = val.len();
    (train, val, rep)
}

/// Writes rows as JSONL.
pub fn write_jsonl(path: &Path, rows: &[AlpacaRow]) -> Result<()> {
    let mut s = String::new();
    for r in rows {
        s.push_str(&serde_json::to_string(r).map_err(|e| SqlError::Json { path: path.display().to_string(), message: e.to_string() })?);
        s.push('\n');
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| SqlError::Io { path: dir.display().to_string(), source: e })?;
    }
    std::fs::write(path, s).map_err(|e| SqlError::Io { path: path.display().to_string(), source: e })
}

/// JSON/JSONL files of a dataset in the local Hugging Face cache
/// (`$HF_HUB_CACHE`, `$HF_HOME/hub` or `~/.cache/huggingface/hub`). Never downloads.
pub fn hf_cached_files(repo_id: &str) -> Result<Vec<PathBuf>> {
    let base = std::env::var_os("HF_HUB_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HF_HOME").map(|h| PathBuf::from(h).join("hub")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/huggingface/hub")))
        .ok_or_else(|| SqlError::Schema("cannot locate the Hugging Face cache (set HF_HOME)".into()))?;
    let dir = base.join(format!("datasets--{}", repo_id.replace('/', "--"))).join("snapshots");
    let mut out = Vec::new();
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json" || x == "jsonl") {
                out.push(p);
            }
        }
    }
    out.sort();
    if out.is_empty() {
        return Err(SqlError::Io {
            path: dir.display().to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no JSON/JSONL files of dataset {repo_id} in the local Hugging Face cache (parquet is not supported)"),
            ),
        });
    }
    Ok(out)
}
