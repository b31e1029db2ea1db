//! A generated SQLite instance of a concrete schema: rows as values (templates draw their
//! literals from them) and the SQL script that builds the database.

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::Rng;
use rusqlite::Connection;

use crate::catalog::Role;
use crate::error::Result;
use crate::variant::VSchema;
use crate::words::pool;

/// A cell value.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// NULL.
    Null,
    /// Integer.
    Int(i64),
    /// Real.
    Real(f64),
    /// Text.
    Text(String),
}

impl Val {
    /// As an SQL literal.
    pub fn sql(&self) -> String {
        match self {
            Val::Null => "NULL".into(),
            Val::Int(i) => i.to_string(),
            Val::Real(f) => fmt_num(*f),
            Val::Text(t) => format!("'{}'", t.replace('\'', "''")),
        }
    }

    /// As a number, if it is one.
    pub fn num(&self) -> Option<f64> {
        match self {
            Val::Int(i) => Some(*i as f64),
            Val::Real(f) => Some(*f),
            _ => None,
        }
    }

    /// As text, if it is text.
    pub fn text(&self) -> Option<&str> {
        match self {
            Val::Text(t) => Some(t),
            _ => None,
        }
    }
}

/// A number without trailing zeros (`12.5`, `40`).
pub fn fmt_num(f: f64) -> String {
    let s = format!("{f:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

/// Days since 1970-01-01 to (y, m, d) (proleptic Gregorian).
pub fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Rows of every table.
#[derive(Debug, Clone)]
pub struct Instance {
    /// `rows[t][r][c]`.
    pub rows: Vec<Vec<Vec<Val>>>,
    /// DDL plus INSERT statements.
    pub script: String,
}

impl Instance {
    /// Opens a fresh in-memory database with this instance.
    pub fn open(&self) -> Result<Connection> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(&self.script)?;
        Ok(conn)
    }
}

fn draw(role: &Role, row: usize, rng: &mut StdRng) -> Val {
    let first = pool("first").unwrap_or(&["Ann"]);
    let last = pool("last").unwrap_or(&["Lee"]);
    let pick = |v: &[String], rng: &mut StdRng| Val::Text(v.choose(rng).cloned().unwrap_or_default());
    match role {
        Role::Id | Role::Fk(_) => Val::Int(row as i64 + 1),
        Role::Person => Val::Text(format!("{} {}", first.choose(rng).unwrap_or(&"Ann"), last.choose(rng).unwrap_or(&"Lee"))),
        Role::First => Val::Text(first.choose(rng).unwrap_or(&"Ann").to_string()),
        Role::Last => Val::Text(last.choose(rng).unwrap_or(&"Lee").to_string()),
        Role::Name(v) => {
            // Names are mostly distinct: walk the pool from a random start.
            Val::Text(v[(row + rng.random_range(0..2)) % v.len()].clone())
        }
        Role::Cat(v) | Role::Text(v) => pick(v, rng),
        Role::Email => Val::Text(format!(
            "{}.{}{}@example.com",
            first.choose(rng).unwrap_or(&"ann").to_lowercase(),
            last.choose(rng).unwrap_or(&"lee").to_lowercase(),
            row + 1
        )),
        Role::Phone => Val::Text(format!("555-{:04}", rng.random_range(0..10_000))),
        Role::Date | Role::Ts => {
            // 2022-01-01 .. 2024-12-31
            let (y, m, d) = civil(18_993 + rng.random_range(0..1096));
            if *role == Role::Date {
                Val::Text(format!("{y:04}-{m:02}-{d:02}"))
            } else {
                Val::Text(format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", rng.random_range(6..23), rng.random_range(0..60), rng.random_range(0..60)))
            }
        }
        Role::Amount(lo, hi) => Val::Real((rng.random_range(*lo..=*hi) * 100.0).round() / 100.0),
        Role::Int(lo, hi) => Val::Int(rng.random_range(*lo..=*hi)),
        Role::Flag => Val::Int(rng.random_range(0..2)),
    }
}

/// Generates rows for every table of `s` (parents 8-16 rows, children 20-45).
pub fn generate(s: &VSchema, rng: &mut StdRng) -> Instance {
    let mut rows: Vec<Vec<Vec<Val>>> = Vec::new();
    let counts: Vec<usize> = s
        .tables
        .iter()
        .map(|t| if t.cols.iter().any(|c| c.fk.is_some()) { rng.random_range(20..=45) } else { rng.random_range(8..=16) })
        .collect();
    for (ti, t) in s.tables.iter().enumerate() {
        let mut rs = Vec::new();
        for r in 0..counts[ti] {
            let row: Vec<Val> = t
                .cols
                .iter()
                .map(|c| {
                    if let Some(p) = c.fk {
                        // Leave some parents without children (NOT IN questions).
                        let n = ((counts[p] as f64) * 0.8).ceil() as i64;
                        return Val::Int(rng.random_range(1..=n.max(1)));
                    }
                    if c.null_rate > 0.0 && rng.random_bool(c.null_rate) {
                        return Val::Null;
                    }
                    draw(&c.spec.role, r, rng)
                })
                .collect();
            rs.push(row);
        }
        rows.push(rs);
    }
    let mut script = format!("{}\n", s.ddl);
    for (ti, t) in s.tables.iter().enumerate() {
        let cols: Vec<&str> = t.cols.iter().map(|c| c.name.as_str()).collect();
        for r in &rows[ti] {
            let vals: Vec<String> = r.iter().map(Val::sql).collect();
            script.push_str(&format!("INSERT INTO {} ({}) VALUES ({});\n", t.name, cols.join(", "), vals.join(", ")));
        }
    }
    Instance { rows, script }
}
