//! Execution on SQLite: run a query with a time budget and a row cap, and compare result
//! sets as multisets (as ordered lists when the gold query has a top-level ORDER BY).
//! Column order may differ (`SELECT a, b` vs `SELECT b, a` are the same answer).

use std::time::{Duration, Instant};

use rusqlite::types::ValueRef;
use rusqlite::Connection;
use sqlparser::ast::Statement;

use crate::error::{Result, SqlError};
use crate::parse::parse_sql;

/// Limits for one query.
#[derive(Debug, Clone, Copy)]
pub struct ExecOptions {
    /// Time budget per query.
    pub timeout: Duration,
    /// At most this many rows are fetched; more is an error.
    pub max_rows: usize,
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions { timeout: Duration::from_secs(5), max_rows: 10_000 }
    }
}

/// A result cell in comparable form: integral reals equal integers (SQLite `1.0` vs `1`),
/// other reals are rounded to 1e-9 relative precision.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cell {
    /// NULL
    Null,
    /// Integer (or integral real).
    Int(i64),
    /// Real, as its rounded scientific text.
    Real(String),
    /// Text.
    Text(String),
    /// Blob.
    Blob(Vec<u8>),
}

impl Cell {
    /// A real number in comparable form (integral values become `Int`).
    pub fn real(f: f64) -> Cell {
        if f.fract() == 0.0 && f.abs() < 9.0e15 {
            Cell::Int(f as i64)
        } else {
            Cell::Real(format!("{f:.9e}"))
        }
    }
}

fn cell(v: ValueRef<'_>) -> Cell {
    match v {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(i) => Cell::Int(i),
        ValueRef::Real(f) => Cell::real(f),
        ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Cell::Blob(b.to_vec()),
    }
}

/// Rows of a result.
pub type Rows = Vec<Vec<Cell>>;

/// Runs `sql` on `conn` within the limits of `opts`.
pub fn run_query(conn: &mut Connection, sql: &str, opts: &ExecOptions) -> Result<Rows> {
    let deadline = Instant::now() + opts.timeout;
    conn.progress_handler(1000, Some(move || Instant::now() > deadline))?;
    let out = (|| {
        let mut stmt = conn.prepare(sql)?;
        let n = stmt.column_count();
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            if out.len() >= opts.max_rows {
                return Err(SqlError::TooManyRows(opts.max_rows));
            }
            out.push((0..n).map(|i| r.get_ref(i).map(cell)).collect::<std::result::Result<Vec<_>, _>>()?);
        }
        Ok(out)
    })();
    conn.progress_handler(0, None::<fn() -> bool>)?;
    match out {
        Err(SqlError::Sqlite(rusqlite::Error::SqliteFailure(e, _))) if e.code == rusqlite::ErrorCode::OperationInterrupted => {
            Err(SqlError::Timeout(opts.timeout.as_millis() as u64))
        }
        other => other,
    }
}

/// Whether the top-level query of `sql` has an ORDER BY (then row order matters).
pub fn has_order_by(sql: &str) -> bool {
    match parse_sql(sql).ok().and_then(|s| s.into_iter().next()) {
        Some(Statement::Query(q)) => q.order_by.is_some(),
        _ => false,
    }
}

fn project(rows: &Rows, perm: &[usize]) -> Rows {
    rows.iter().map(|r| perm.iter().map(|&i| r[i].clone()).collect()).collect()
}

fn same(gold: &Rows, pred: &Rows, ordered: bool) -> bool {
    if ordered {
        return gold == pred;
    }
    let mut a = gold.clone();
    let mut b = pred.clone();
    a.sort();
    b.sort();
    a == b
}

/// Compares two results; `ordered` when the gold fixes the row order. Columns may come in
/// another order: a column permutation that makes every column's multiset agree is tried.
pub fn results_match(gold: &Rows, pred: &Rows, ordered: bool) -> bool {
    if gold.len() != pred.len() {
        return false;
    }
    if gold.is_empty() {
        return true;
    }
    let w = gold[0].len();
    if pred[0].len() != w {
        return false;
    }
    if same(gold, pred, ordered) {
        return true;
    }
    // Columns of pred that could stand for each gold column (same multiset of values).
    let col = |rows: &Rows, i: usize| {
        let mut c: Vec<Cell> = rows.iter().map(|r| r[i].clone()).collect();
        c.sort();
        c
    };
    let gcols: Vec<Vec<Cell>> = (0..w).map(|i| col(gold, i)).collect();
    let pcols: Vec<Vec<Cell>> = (0..w).map(|i| col(pred, i)).collect();
    let cands: Vec<Vec<usize>> = (0..w).map(|g| (0..w).filter(|&p| pcols[p] == gcols[g]).collect()).collect();
    let mut perm = Vec::with_capacity(w);
    let mut used = vec![false; w];
    let mut tries = 0usize;
    fn search(
        g: usize,
        cands: &[Vec<usize>],
        perm: &mut Vec<usize>,
        used: &mut [bool],
        tries: &mut usize,
        f: &mut dyn FnMut(&[usize]) -> bool,
    ) -> bool {
        if g == cands.len() {
            *tries += 1;
            return f(perm);
        }
        if *tries > 1000 {
            return false;
        }
        for &p in &cands[g] {
            if !used[p] {
                used[p] = true;
                perm.push(p);
                if search(g + 1, cands, perm, used, tries, f) {
                    return true;
                }
                perm.pop();
                used[p] = false;
            }
        }
        false
    }
    let mut check = |perm: &[usize]| same(gold, &project(pred, perm), ordered);
    search(0, &cands, &mut perm, &mut used, &mut tries, &mut check)
}

/// Verdict of execution accuracy for one example.
#[derive(Debug, Clone, PartialEq)]
pub enum ExecVerdict {
    /// Same result.
    Match,
    /// Different result.
    Mismatch,
    /// The prediction failed to run (error or timeout): a mismatch, with the reason.
    PredError(String),
}

impl ExecVerdict {
    /// Whether it counts as correct.
    pub fn is_match(&self) -> bool {
        matches!(self, ExecVerdict::Match)
    }
}

/// Runs gold and prediction on `conn` and compares. An error in the gold is an `Err`
/// (the example cannot be judged); an error in the prediction is a mismatch.
pub fn execution_match(conn: &mut Connection, gold: &str, pred: &str, opts: &ExecOptions) -> Result<ExecVerdict> {
    let g = run_query(conn, gold, opts)?;
    let p = match run_query(conn, pred, opts) {
        Ok(p) => p,
        Err(e) => return Ok(ExecVerdict::PredError(e.to_string())),
    };
    Ok(if results_match(&g, &p, has_order_by(gold)) { ExecVerdict::Match } else { ExecVerdict::Mismatch })
}
