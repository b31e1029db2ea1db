//! SQLite: schema introspection (sqlite_master + pragma_table_info/pragma_foreign_key_list)
//! and read-only execution (SQLITE_OPEN_READ_ONLY, `PRAGMA query_only=ON`, an authorizer
//! that denies every write action, a time budget and a row cap).

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::guard::{check_read_only, DbKind};
use super::QueryTable;
use crate::error::{Result, SqlError};
use crate::schema::{Column, ForeignKey, Schema, Table};

/// Opens `path` read-only (never creates it) with `PRAGMA query_only=ON` and an authorizer
/// that allows only reading: SELECT, column reads, functions, recursive CTEs and a few
/// read-only pragmas. Anything else (INSERT, ATTACH, CREATE...) fails at prepare time.
pub fn open_read_only(path: &Path) -> Result<Connection> {
    if !path.is_file() {
        return Err(SqlError::Io {
            path: path.display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such SQLite database file"),
        });
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags)?;
    make_read_only(&mut conn)?;
    Ok(conn)
}

/// Turns an open connection (a file, or an in-memory database filled beforehand) read-only
/// for good: `PRAGMA query_only=ON` plus the reading-only authorizer of [`open_read_only`].
pub fn make_read_only(conn: &mut Connection) -> Result<()> {
    conn.pragma_update(None, "query_only", true)?;
    conn.authorizer(Some(|ctx: AuthContext<'_>| match ctx.action {
        AuthAction::Select | AuthAction::Read { .. } | AuthAction::Function { .. } | AuthAction::Recursive => {
            Authorization::Allow
        }
        AuthAction::Pragma { pragma_name, .. } if READ_PRAGMAS.contains(&pragma_name) => {
            Authorization::Allow
        }
        _ => Authorization::Deny,
    }))?;
    Ok(())
}

/// Pragmas that only read (their argument is a table or index name).
const READ_PRAGMAS: &[&str] =
    &["table_info", "table_xinfo", "table_list", "foreign_key_list", "index_list", "index_info", "index_xinfo"];

/// Reads the schema: every table and view of sqlite_master (internal `sqlite_*` tables
/// excluded), with column types, primary keys and foreign keys.
pub fn introspect(conn: &Connection) -> Result<Schema> {
    let mut names = conn.prepare(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
         ORDER BY rowid",
    )?;
    let names: Vec<String> = names.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    let mut tables = Vec::new();
    for name in names {
        let mut cols = conn.prepare("SELECT name, type, pk FROM pragma_table_info(?1) ORDER BY cid")?;
        let columns: Vec<Column> = cols
            .query_map([&name], |r| {
                Ok(Column {
                    name: r.get(0)?,
                    data_type: r.get::<_, Option<String>>(1)?.unwrap_or_default().to_uppercase(),
                    primary_key: r.get::<_, i64>(2)? > 0,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut fks = conn.prepare("SELECT \"from\", \"table\", \"to\" FROM pragma_foreign_key_list(?1) ORDER BY id, seq")?;
        let foreign_keys: Vec<(String, String, Option<String>)> =
            fks.query_map([&name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<rusqlite::Result<_>>()?;
        tables.push((Table { name, columns, foreign_keys: vec![] }, foreign_keys));
    }
    // `REFERENCES t` without a column means t's primary key.
    let pk_of = |t: &str, tables: &[(Table, _)]| -> String {
        tables
            .iter()
            .find(|(x, _)| x.name.eq_ignore_ascii_case(t))
            .and_then(|(x, _)| x.columns.iter().find(|c| c.primary_key))
            .map(|c| c.name.clone())
            .unwrap_or_else(|| "rowid".into())
    };
    let resolved: Vec<Vec<ForeignKey>> = tables
        .iter()
        .map(|(_, fks)| {
            fks.iter()
                .map(|(c, t, to)| ForeignKey {
                    column: c.clone(),
                    ref_table: t.clone(),
                    ref_column: to.clone().unwrap_or_else(|| pk_of(t, &tables)),
                })
                .collect()
        })
        .collect();
    let tables: Vec<Table> = tables
        .into_iter()
        .zip(resolved)
        .map(|((mut t, _), fks)| {
            t.foreign_keys = fks;
            t
        })
        .collect();
    if tables.is_empty() {
        return Err(SqlError::Schema("the database has no tables".into()));
    }
    Ok(Schema { tables })
}

fn text(v: ValueRef<'_>) -> String {
    match v {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
        ValueRef::Blob(b) => format!("<blob {} bytes>", b.len()),
    }
}

/// Checks `sql` with [`check_read_only`], then runs it on a connection from
/// [`open_read_only`]: at most `max_rows` rows are kept (`truncated` tells whether more
/// were there), and the query is interrupted after `timeout`.
pub fn execute(conn: &mut Connection, sql: &str, max_rows: usize, timeout: Duration) -> Result<QueryTable> {
    check_read_only(sql, DbKind::Sqlite)?;
    let deadline = Instant::now() + timeout;
    conn.progress_handler(1000, Some(move || Instant::now() > deadline))?;
    let out = (|| {
        let mut stmt = conn.prepare(sql)?;
        if !stmt.readonly() {
            return Err(SqlError::Refused("refused: SQLite reports that the statement would write".into()));
        }
        let columns: Vec<String> = stmt.column_names().map(|s| s.to_string()).collect();
        let n = columns.len();
        let mut rows = stmt.query([])?;
        let mut out = QueryTable { columns, rows: vec![], truncated: false };
        while let Some(r) = rows.next()? {
            if out.rows.len() >= max_rows {
                out.truncated = true;
                break;
            }
            out.rows.push((0..n).map(|i| r.get_ref(i).map(text)).collect::<rusqlite::Result<Vec<_>>>()?);
        }
        Ok(out)
    })();
    conn.progress_handler(0, None::<fn() -> bool>)?;
    match out {
        Err(SqlError::Sqlite(rusqlite::Error::SqliteFailure(e, _))) if e.code == rusqlite::ErrorCode::OperationInterrupted => {
            Err(SqlError::Timeout(timeout.as_millis() as u64))
        }
        other => other,
    }
}
