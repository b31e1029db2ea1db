//! The library side of `text2sql ask`: schema introspection of a live database (SQLite,
//! and Postgres with the `postgres` feature), trimming of large schemas to the tables
//! relevant to the question, extraction of the SQL from a generation, a parse/adherence
//! report, and read-only execution with a row cap and a time budget.

pub mod guard;
#[cfg(feature = "postgres")]
pub mod pg;
pub mod sqlite;
pub mod trim;

use std::path::PathBuf;
use std::time::Duration;

pub use guard::{check_read_only, DbKind};
pub use trim::{rank_tables, trim_schema, TableChoice, Trimmed};

use crate::adherence::{check_adherence, Violation};
use crate::error::{Result, SqlError};
use crate::schema::Schema;

/// A database named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbUrl {
    /// `sqlite:///abs/path.db`, `sqlite://rel/path.db`, `sqlite:path.db` or a plain path.
    Sqlite(PathBuf),
    /// `postgres://...` / `postgresql://...`.
    Postgres(String),
}

impl DbUrl {
    /// Parses a `--db` value. `sqlite:///x.db` is the absolute path `/x.db` (the URL's path
    /// after an empty host); `sqlite://x.db` and `sqlite:x.db` are relative.
    pub fn parse(s: &str) -> Result<DbUrl> {
        let s = s.trim();
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(DbUrl::Postgres(s.to_string()));
        }
        let path = if let Some(rest) = s.strip_prefix("sqlite://") {
            rest
        } else if let Some(rest) = s.strip_prefix("sqlite:") {
            rest
        } else if s.contains("://") {
            return Err(SqlError::Schema(format!(
                "unsupported database URL {s:?}: use sqlite:///path.db or postgres://user@host/db"
            )));
        } else {
            s
        };
        let path = path.split('?').next().unwrap_or(path);
        if path.is_empty() {
            return Err(SqlError::Schema(format!("database URL {s:?} has no file path")));
        }
        Ok(DbUrl::Sqlite(PathBuf::from(path)))
    }

    /// The SQL dialect of this database.
    pub fn kind(&self) -> DbKind {
        match self {
            DbUrl::Sqlite(_) => DbKind::Sqlite,
            DbUrl::Postgres(_) => DbKind::Postgres,
        }
    }
}

/// An open database connection.
pub enum Db {
    /// SQLite, opened read-only.
    Sqlite(rusqlite::Connection),
    /// Postgres.
    #[cfg(feature = "postgres")]
    Postgres(Box<postgres::Client>),
}

impl Db {
    /// Connects (SQLite: read-only, never creating the file).
    pub fn open(url: &DbUrl) -> Result<Db> {
        match url {
            DbUrl::Sqlite(p) => Ok(Db::Sqlite(sqlite::open_read_only(p)?)),
            #[cfg(feature = "postgres")]
            DbUrl::Postgres(u) => Ok(Db::Postgres(Box::new(pg::connect(u)?))),
            #[cfg(not(feature = "postgres"))]
            DbUrl::Postgres(_) => {
                Err(SqlError::Postgres("this build has no Postgres support (build with the `postgres` feature)".into()))
            }
        }
    }

    /// The database's schema as CREATE TABLE statements would describe it.
    pub fn introspect(&mut self) -> Result<Schema> {
        match self {
            Db::Sqlite(c) => sqlite::introspect(c),
            #[cfg(feature = "postgres")]
            Db::Postgres(c) => pg::introspect(c),
        }
    }

    /// Refuses anything but one read-only query (before execution), then runs it
    /// read-only with `opts`.
    pub fn execute(&mut self, sql: &str, opts: &ExecLimits) -> Result<QueryTable> {
        match self {
            Db::Sqlite(c) => sqlite::execute(c, sql, opts.max_rows, opts.timeout),
            #[cfg(feature = "postgres")]
            Db::Postgres(c) => pg::execute(c, sql, opts.max_rows, opts.timeout),
        }
    }
}

/// Limits of `ask --execute`.
#[derive(Debug, Clone, Copy)]
pub struct ExecLimits {
    /// Rows shown at most (more are counted as truncation, not an error).
    pub max_rows: usize,
    /// Time budget of the query.
    pub timeout: Duration,
}

/// A query result as text, ready to print.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryTable {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows (NULL as `NULL`).
    pub rows: Vec<Vec<String>>,
    /// Whether more rows were available than were kept.
    pub truncated: bool,
}

impl QueryTable {
    /// A table drawn with comfy-table, followed by a row-count line.
    pub fn render(&self) -> String {
        let mut t = comfy_table::Table::new();
        t.load_preset(comfy_table::presets::ASCII_FULL_CONDENSED);
        t.set_header(self.columns.clone());
        for r in &self.rows {
            t.add_row(r.clone());
        }
        let n = self.rows.len();
        let tail = if self.truncated {
            format!("({n} rows shown; more rows were cut by --max-rows {n})")
        } else {
            format!("({n} row{})", if n == 1 { "" } else { "s" })
        };
        format!("{t}\n{tail}")
    }
}

/// The project's prompt (exact): schema DDL and question.
pub fn prompt(ddl: &str, question: &str) -> String {
    crate::eval::prompt(ddl, question)
}

/// Pulls the SQL out of a model generation: the first ``` fenced block when there is one,
/// a leading `SQL:`/`Answer:` label removed, cut at the first `;` outside quotes (the
/// first statement) or at a following `###` section; surrounding whitespace trimmed.
pub fn extract_sql(raw: &str) -> String {
    let mut s = raw.trim();
    if let Some(start) = s.find("```") {
        let after = &s[start + 3..];
        let after = after.strip_prefix("sqlite").or_else(|| after.strip_prefix("sql")).or_else(|| after.strip_prefix("SQL")).unwrap_or(after);
        s = after.split("```").next().unwrap_or(after).trim();
    }
    for label in ["SQL query:", "SQL Query:", "SQL:", "sql:", "Answer:", "Query:"] {
        if let Some(rest) = s.strip_prefix(label) {
            s = rest.trim_start();
            break;
        }
    }
    if let Some(i) = s.find("\n###") {
        s = &s[..i];
    }
    // First statement: up to the first `;` outside quotes and comments.
    let b = s.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'\'' || c == b'"' || c == b'`' => quote = Some(c),
            None if c == b'-' && b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            None if c == b';' => {
                s = &s[..i];
                break;
            }
            None => {}
        }
        i += 1;
    }
    s.trim().to_string()
}

/// Parse success and schema adherence of generated SQL.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlReport {
    /// `None` when the SQL parses, else the parser's message.
    pub parse_error: Option<String>,
    /// References the schema lacks (empty when adherent or unparsable).
    pub violations: Vec<Violation>,
}

impl SqlReport {
    /// Checks `sql` against `schema`.
    pub fn check(sql: &str, schema: &Schema) -> SqlReport {
        match check_adherence(sql, schema) {
            Ok(violations) => SqlReport { parse_error: None, violations },
            Err(e) => SqlReport { parse_error: Some(e.to_string()), violations: vec![] },
        }
    }

    /// Whether it parses.
    pub fn parses(&self) -> bool {
        self.parse_error.is_none()
    }

    /// Whether it parses and references only names of the schema.
    pub fn adheres(&self) -> bool {
        self.parses() && self.violations.is_empty()
    }

    /// The unknown names, e.g. `table foo`, `column bar.baz`.
    pub fn unknown_names(&self) -> Vec<String> {
        self.violations
            .iter()
            .map(|v| match v {
                Violation::UnknownTable(t) => format!("table {t}"),
                Violation::UnknownColumn(c) => format!("column {c}"),
                Violation::UnknownQualifier(q) => format!("table or alias {q}"),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_urls() {
        assert_eq!(DbUrl::parse("sqlite:///tmp/x.db").unwrap(), DbUrl::Sqlite("/tmp/x.db".into()));
        assert_eq!(DbUrl::parse("sqlite:////tmp/x.db").unwrap(), DbUrl::Sqlite("//tmp/x.db".into()));
        assert_eq!(DbUrl::parse("sqlite://rel/x.db").unwrap(), DbUrl::Sqlite("rel/x.db".into()));
        assert_eq!(DbUrl::parse("sqlite:x.db?mode=ro").unwrap(), DbUrl::Sqlite("x.db".into()));
        assert_eq!(DbUrl::parse("x.sqlite").unwrap(), DbUrl::Sqlite("x.sqlite".into()));
        assert_eq!(DbUrl::parse("postgres://u@h/db").unwrap(), DbUrl::Postgres("postgres://u@h/db".into()));
        assert!(DbUrl::parse("mysql://h/db").is_err());
        assert!(DbUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn sql_extraction() {
        assert_eq!(extract_sql("```sql\nSELECT a FROM t;\n```\nThis query..."), "SELECT a FROM t");
        assert_eq!(extract_sql("SQL: SELECT 1; SELECT 2"), "SELECT 1");
        assert_eq!(extract_sql("  SELECT ';' FROM t; junk"), "SELECT ';' FROM t");
        assert_eq!(extract_sql("SELECT a -- x; y\nFROM t; z"), "SELECT a -- x; y\nFROM t");
        assert_eq!(extract_sql("SELECT a FROM t\n\n### Question:\nfoo"), "SELECT a FROM t");
        assert_eq!(extract_sql("Answer: ```SELECT 1```"), "SELECT 1");
        assert_eq!(extract_sql(""), "");
    }

    #[test]
    fn report_lists_unknown_names() {
        let schema = Schema::from_ddl("CREATE TABLE singer (id INT, name TEXT);").unwrap();
        let r = SqlReport::check("SELECT nam, band.x FROM singer", &schema);
        assert!(r.parses() && !r.adheres());
        assert_eq!(r.unknown_names(), vec!["column nam", "table or alias band"]);
        let r = SqlReport::check("SELECT * FROM singer JOIN band ON 1", &schema);
        assert_eq!(r.unknown_names(), vec!["table band"]);
        let r = SqlReport::check("SELEC x", &schema);
        assert!(!r.parses());
        assert!(SqlReport::check("SELECT name FROM singer", &schema).adheres());
    }
}
