//! First line of defence of `ask --execute`: the SQL must parse as exactly one read-only
//! query (SELECT / WITH ... SELECT / VALUES), checked BEFORE anything touches the database.
//! The read-only connection (SQLite) or transaction (Postgres) is the second line.

use std::ops::ControlFlow;

use sqlparser::ast::{Query, Select, SetExpr, Statement, Visit, Visitor};
use sqlparser::dialect::{Dialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;

use crate::error::{Result, SqlError};

/// The kind of database (and so the SQL dialect) a query is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

const HOW: &str = "only exactly one read-only SELECT is run";

fn refuse(msg: String) -> SqlError {
    SqlError::Refused(format!("{msg}; {HOW}"))
}

/// The leading keyword(s) of a statement, for messages (`INSERT`, `DROP TABLE`...).
fn kind(st: &Statement) -> String {
    let text = st.to_string();
    let words: Vec<&str> = text.split_whitespace().take(2).collect();
    let first = words.first().map(|w| w.to_uppercase()).unwrap_or_default();
    match first.as_str() {
        "CREATE" | "DROP" | "ALTER" => {
            format!("{first} {}", words.get(1).map(|w| w.to_uppercase()).unwrap_or_default()).trim().to_string()
        }
        _ => first,
    }
}

/// Statement keywords that are never read-only queries.
const WRITE_KEYWORDS: &[&str] = &[
    "INSERT", "UPDATE", "DELETE", "REPLACE", "UPSERT", "MERGE", "CREATE", "DROP", "ALTER", "ATTACH", "DETACH", "PRAGMA",
    "VACUUM", "REINDEX", "ANALYZE", "TRUNCATE", "GRANT", "REVOKE", "COPY", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT",
    "RELEASE", "SET", "RESET", "LOCK", "CALL", "DO", "COMMENT", "CLUSTER", "REFRESH", "LOAD", "IMPORT",
];

/// Checks that `sql` is exactly one read-only query. Errors ([`SqlError::Refused`]) name
/// what was refused: several statements, a writing statement (INSERT, UPDATE, DELETE,
/// REPLACE, CREATE, DROP, ALTER, ATTACH, DETACH, PRAGMA, VACUUM...), a data-modifying CTE,
/// SELECT ... INTO, or a locking SELECT ... FOR UPDATE; unparsable SQL is refused too.
pub fn check_read_only(sql: &str, dialect: DbKind) -> Result<()> {
    let d: Box<dyn Dialect> = match dialect {
        DbKind::Sqlite => Box::new(SQLiteDialect {}),
        DbKind::Postgres => Box::new(PostgreSqlDialect {}),
    };
    // The first word as written, for messages.
    let written = sql.trim_start().split(|c: char| !c.is_ascii_alphabetic()).next().unwrap_or("").to_uppercase();
    let stmts = Parser::new(d.as_ref())
        .with_recursion_limit(64)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| {
            if WRITE_KEYWORDS.contains(&written.as_str()) {
                refuse(format!("refused: {written} is not a read-only query (it could change the database)"))
            } else {
                refuse(format!("refused: the SQL does not parse ({e}), so it cannot be shown to be read-only"))
            }
        })?;
    match stmts.len() {
        0 => return Err(refuse("refused: no SQL statement".into())),
        1 => {}
        n => {
            let kinds: Vec<String> = stmts.iter().map(kind).collect();
            return Err(refuse(format!("refused: {n} statements ({})", kinds.join(", "))));
        }
    }
    let st = &stmts[0];
    if !matches!(st, Statement::Query(_)) {
        // sqlparser prints `REPLACE INTO` as INSERT: name it as written.
        let k = if written == "REPLACE" { written } else { kind(st) };
        return Err(refuse(format!("refused: {k} is not a read-only query (it could change the database)")));
    }
    let mut v = Guard { problem: None };
    let _ = st.visit(&mut v);
    match v.problem {
        Some(p) => Err(refuse(format!("refused: {p}"))),
        None => Ok(()),
    }
}

struct Guard {
    problem: Option<String>,
}

impl Guard {
    fn stop(&mut self, p: String) -> ControlFlow<()> {
        self.problem = Some(p);
        ControlFlow::Break(())
    }
}

impl Visitor for Guard {
    type Break = ();

    fn pre_visit_statement(&mut self, st: &Statement) -> ControlFlow<()> {
        if matches!(st, Statement::Query(_)) {
            return ControlFlow::Continue(());
        }
        self.stop(format!("the query contains a {} statement (a data-modifying subquery or CTE)", kind(st)))
    }

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
        if !q.locks.is_empty() {
            return self.stop("SELECT ... FOR UPDATE/SHARE takes row locks".into());
        }
        if let SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_) = q.body.as_ref() {
            return self.stop("the query body writes (INSERT/UPDATE/DELETE/MERGE)".into());
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, s: &Select) -> ControlFlow<()> {
        if s.into.is_some() {
            return self.stop("SELECT ... INTO creates a table".into());
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(sql: &str, d: DbKind) -> String {
        match check_read_only(sql, d) {
            Err(SqlError::Refused(m)) => m,
            other => panic!("{sql}: expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn selects_pass() {
        for sql in [
            "SELECT 1",
            "SELECT name FROM singer WHERE age > 3 ORDER BY name LIMIT 5;",
            "WITH t AS (SELECT 1 AS x) SELECT x FROM t",
            "SELECT a FROM t UNION SELECT b FROM u",
            "SELECT count(*) FROM (SELECT * FROM t) AS s",
        ] {
            check_read_only(sql, DbKind::Sqlite).unwrap();
            check_read_only(sql, DbKind::Postgres).unwrap();
        }
    }

    #[test]
    fn writes_and_batches_are_refused() {
        let cases = [
            ("INSERT INTO t VALUES (1)", "INSERT"),
            ("REPLACE INTO t VALUES (1)", "REPLACE"),
            ("UPDATE t SET a = 1", "UPDATE"),
            ("DELETE FROM t", "DELETE"),
            ("DROP TABLE t", "DROP TABLE"),
            ("CREATE TABLE x (a INT)", "CREATE TABLE"),
            ("ALTER TABLE t ADD COLUMN b INT", "ALTER TABLE"),
            ("ATTACH DATABASE 'x.db' AS x", "ATTACH"),
            ("PRAGMA journal_mode = DELETE", "PRAGMA"),
            ("VACUUM", "VACUUM"),
            ("TRUNCATE TABLE t", "TRUNCATE"),
            ("SELECT 1; DROP TABLE t", "2 statements"),
            ("SELECT 1; SELECT 2", "2 statements"),
        ];
        for (sql, want) in cases {
            let m = refused(sql, DbKind::Sqlite);
            assert!(m.contains(want), "{sql}: {m}");
            assert!(m.contains("read-only"), "{m}");
        }
        assert!(refused("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", DbKind::Postgres).contains("DELETE"));
        assert!(refused("SELECT * INTO newt FROM t", DbKind::Postgres).contains("INTO"));
        assert!(refused("SELECT * FROM t FOR UPDATE", DbKind::Postgres).contains("FOR UPDATE"));
        assert!(refused("SELEC nonsense", DbKind::Sqlite).contains("does not parse"));
        assert!(refused("", DbKind::Sqlite).contains("no SQL"));
    }
}
