//! Semantic accuracy without a database: several random SQLite databases are generated
//! from the schema (types, primary keys unique, foreign keys drawn from the referenced
//! column's values) with values drawn partly from the literals of the gold query, so that
//! its predicates select something (the test-suite idea of Zhong et al. 2020). A
//! prediction is correct only if it returns the gold's result on every database.

use std::collections::HashMap;
use std::ops::ControlFlow;

use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rusqlite::types::Value as SqlValue;
use rusqlite::Connection;
use sqlparser::ast::{Expr, Value, ValueWithSpan, Visit, Visitor};

use crate::error::{Result, SqlError};
use crate::exec::{has_order_by, results_match, run_query, ExecOptions};
use crate::parse::parse_sql;
use crate::schema::{quote_ident, Schema, Table};

/// Settings of the semantic check.
#[derive(Debug, Clone, Copy)]
pub struct SemanticOptions {
    /// How many databases to generate.
    pub n_dbs: usize,
    /// Rows per table, inclusive range.
    pub min_rows: usize,
    /// Rows per table, inclusive range.
    pub max_rows: usize,
    /// Base seed (mixed with the gold query, so each example gets its own databases).
    pub seed: u64,
    /// Per-query limits.
    pub exec: ExecOptions,
}

impl Default for SemanticOptions {
    fn default() -> Self {
        SemanticOptions { n_dbs: 8, min_rows: 5, max_rows: 12, seed: 0x5eed, exec: ExecOptions::default() }
    }
}

/// Literals of a query: numbers and strings (LIKE patterns unwrapped).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Literals {
    /// Numeric literals.
    pub numbers: Vec<f64>,
    /// String literals, including `"..."` used as strings.
    pub strings: Vec<String>,
}

struct LitCollector(Literals);

impl Visitor for LitCollector {
    type Break = ();
    fn pre_visit_value(&mut self, v: &ValueWithSpan) -> ControlFlow<()> {
        match &v.value {
            Value::Number(n, _) => {
                if let Ok(f) = n.parse::<f64>() {
                    self.0.numbers.push(f);
                }
            }
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => self.0.strings.push(s.clone()),
            _ => {}
        }
        ControlFlow::Continue(())
    }
    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        if let Expr::Identifier(i) = e {
            if i.quote_style == Some('"') {
                self.0.strings.push(i.value.clone());
            }
        }
        ControlFlow::Continue(())
    }
}

/// Collects the literals of `sql` (empty when it does not parse).
pub fn literals(sql: &str) -> Literals {
    let mut c = LitCollector(Literals::default());
    if let Ok(stmts) = parse_sql(sql) {
        for s in &stmts {
            let _ = s.visit(&mut c);
        }
    }
    let mut out = c.0;
    let mut extra = Vec::new();
    for s in &out.strings {
        if s.contains('%') || s.contains('_') {
            let core = s.replace(['%', '_'], "");
            if !core.is_empty() {
                extra.push(core.clone());
                extra.push(format!("x{core}y"));
            }
        }
    }
    out.strings.extend(extra);
    out
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Int,
    Real,
    Text,
    Date,
    Bool,
}

fn kind(ty: &str) -> Kind {
    let t = ty.to_uppercase();
    if t.contains("INT") {
        Kind::Int
    } else if t.contains("BOOL") {
        Kind::Bool
    } else if t.contains("DATE") || t.contains("TIME") || t.contains("YEAR") {
        Kind::Date
    } else if ["REAL", "FLOA", "DOUB", "NUM", "DEC"].iter().any(|k| t.contains(k)) {
        Kind::Real
    } else {
        Kind::Text
    }
}

const WORDS: &[&str] = &["alpha", "beta", "gamma", "delta", "omega"];

fn draw(k: Kind, col: &str, lits: &Literals, rng: &mut StdRng) -> SqlValue {
    let use_lit = rng.random_bool(0.5);
    match k {
        Kind::Int | Kind::Real => {
            if use_lit && !lits.numbers.is_empty() {
                let n = *lits.numbers.choose(rng).unwrap_or(&0.0);
                let d = [-1.0, 0.0, 1.0].choose(rng).copied().unwrap_or(0.0);
                let v = n + d;
                if k == Kind::Int && v.fract() == 0.0 {
                    SqlValue::Integer(v as i64)
                } else {
                    SqlValue::Real(v)
                }
            } else {
                // Spread random values over twice the literals' range, so that a
                // prediction with another threshold than the gold's sees a difference.
                let top = lits.numbers.iter().fold(15.0f64, |m, n| m.max(n.abs())).min(1e9);
                let hi = (2.0 * top + 10.0) as i64;
                let v = rng.random_range(0..hi);
                if k == Kind::Int { SqlValue::Integer(v) } else { SqlValue::Real(v as f64 + if rng.random_bool(0.5) { 0.5 } else { 0.0 }) }
            }
        }
        Kind::Bool => SqlValue::Integer(rng.random_range(0..2)),
        Kind::Date => {
            if use_lit && !lits.strings.is_empty() {
                SqlValue::Text(lits.strings.choose(rng).cloned().unwrap_or_default())
            } else {
                let y = rng.random_range(1990..2025);
                SqlValue::Text(format!("{y}-{:02}-{:02}", rng.random_range(1..13), rng.random_range(1..29)))
            }
        }
        Kind::Text => {
            if use_lit && !lits.strings.is_empty() {
                SqlValue::Text(lits.strings.choose(rng).cloned().unwrap_or_default())
            } else if rng.random_bool(0.5) {
                SqlValue::Text(WORDS.choose(rng).copied().unwrap_or("alpha").to_string())
            } else {
                SqlValue::Text(format!("{}_{}", col.to_lowercase(), rng.random_range(0..4)))
            }
        }
    }
}

/// Tables in an order where referenced tables come first (cycles: declaration order).
fn fk_order(schema: &Schema) -> Vec<&Table> {
    let mut done: Vec<&Table> = Vec::new();
    let mut left: Vec<&Table> = schema.tables.iter().collect();
    while !left.is_empty() {
        let pos = left.iter().position(|t| {
            t.foreign_keys.iter().all(|fk| {
                fk.ref_table.eq_ignore_ascii_case(&t.name) || done.iter().any(|d| d.name.eq_ignore_ascii_case(&fk.ref_table))
            })
        });
        done.push(left.remove(pos.unwrap_or(0)));
    }
    done
}

/// Builds one random in-memory database for `schema`.
pub fn generate_db(schema: &Schema, lits: &Literals, opts: &SemanticOptions, rng: &mut StdRng) -> Result<Connection> {
    let conn = Connection::open_in_memory()?;
    // values generated so far: (table, column) lower-cased -> values
    let mut made: HashMap<(String, String), Vec<SqlValue>> = HashMap::new();
    for t in fk_order(schema) {
        let cols: Vec<String> = t
            .columns
            .iter()
            .map(|c| format!("{} {}", quote_ident(&c.name), if c.data_type.is_empty() { "TEXT" } else { &c.data_type }))
            .collect();
        // SQLite reserves sqlite_* names (Spider schemas list sqlite_sequence).
        if cols.is_empty() || t.name.to_lowercase().starts_with("sqlite_") {
            continue;
        }
        conn.execute_batch(&format!("CREATE TABLE {} ({});", quote_ident(&t.name), cols.join(", ")))
            .map_err(|e| SqlError::Schema(format!("table {}: {e}", t.name)))?;
        let n = rng.random_range(opts.min_rows..=opts.max_rows.max(opts.min_rows));
        let single_pk = t.columns.iter().filter(|c| c.primary_key).count() == 1;
        let mut columns: Vec<Vec<SqlValue>> = Vec::new();
        for c in &t.columns {
            let k = kind(&c.data_type);
            let fk = t.foreign_keys.iter().find(|f| f.column.eq_ignore_ascii_case(&c.name));
            let parent = fk.and_then(|f| made.get(&(f.ref_table.to_lowercase(), f.ref_column.to_lowercase())));
            let vals: Vec<SqlValue> = if c.primary_key && single_pk {
                let mut v: Vec<SqlValue> = match k {
                    Kind::Int | Kind::Real | Kind::Bool => (1..=n as i64).map(SqlValue::Integer).collect(),
                    _ => {
                        let mut pool: Vec<String> = lits.strings.clone();
                        pool.sort();
                        pool.dedup();
                        pool.truncate(n / 2);
                        let mut i = 0;
                        while pool.len() < n {
                            let cand = format!("{}_{i}", c.name.to_lowercase());
                            if !pool.contains(&cand) {
                                pool.push(cand);
                            }
                            i += 1;
                        }
                        pool.into_iter().map(SqlValue::Text).collect()
                    }
                };
                v.shuffle(rng);
                v
            } else if let Some(p) = parent.filter(|p| !p.is_empty()) {
                (0..n).map(|_| p.choose(rng).cloned().unwrap_or(SqlValue::Null)).collect()
            } else {
                (0..n)
                    .map(|_| if !c.primary_key && rng.random_bool(0.05) { SqlValue::Null } else { draw(k, &c.name, lits, rng) })
                    .collect()
            };
            made.insert((t.name.to_lowercase(), c.name.to_lowercase()), vals.clone());
            columns.push(vals);
        }
        let placeholders = vec!["?"; t.columns.len()].join(", ");
        let mut stmt = conn.prepare(&format!("INSERT INTO {} VALUES ({placeholders})", quote_ident(&t.name)))?;
        for r in 0..n {
            let row: Vec<&SqlValue> = columns.iter().map(|c| &c[r]).collect();
            stmt.execute(rusqlite::params_from_iter(row))?;
        }
    }
    Ok(conn)
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3))
}

/// Outcome of the semantic check.
#[derive(Debug, Clone, PartialEq)]
pub struct SemanticVerdict {
    /// Same result as the gold on every generated database.
    pub matched: bool,
    /// Databases on which the results were compared.
    pub n_dbs: usize,
    /// Databases on which the gold returned at least one row.
    pub n_nonempty: usize,
    /// Why it failed, when it did.
    pub reason: Option<String>,
}

/// Compares `pred` with `gold` on `opts.n_dbs` random databases built from `schema`.
/// `Err` when a database cannot be built or the gold fails to run (cannot judge).
pub fn semantic_match(schema: &Schema, gold: &str, pred: &str, opts: &SemanticOptions) -> Result<SemanticVerdict> {
    let lits = literals(gold);
    let mut rng = StdRng::seed_from_u64(opts.seed ^ fnv(gold));
    let ordered = has_order_by(gold);
    let mut v = SemanticVerdict { matched: true, n_dbs: 0, n_nonempty: 0, reason: None };
    for i in 0..opts.n_dbs {
        let mut conn = generate_db(schema, &lits, opts, &mut rng)?;
        let gold_rows = run_query(&mut conn, gold, &opts.exec)?;
        v.n_dbs += 1;
        v.n_nonempty += usize::from(!gold_rows.is_empty());
        match run_query(&mut conn, pred, &opts.exec) {
            Ok(p) if results_match(&gold_rows, &p, ordered) => {}
            Ok(_) => {
                v.matched = false;
                v.reason = Some(format!("different result on database {i}"));
                break;
            }
            Err(e) => {
                v.matched = false;
                v.reason = Some(format!("prediction failed: {e}"));
                break;
            }
        }
    }
    Ok(v)
}
