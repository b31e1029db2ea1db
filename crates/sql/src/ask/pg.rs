//! PostgreSQL (feature `postgres`): schema introspection from information_schema (the
//! current schema, usually `public`) and read-only execution: the query runs in a
//! `READ ONLY` transaction with `SET LOCAL statement_timeout`, through a cursor so that at
//! most `max_rows + 1` rows ever leave the server; the transaction is always rolled back.

use std::str::FromStr;
use std::time::Duration;

use postgres::{Client, NoTls, SimpleQueryMessage};

use super::guard::{check_read_only, DbKind};
use super::QueryTable;
use crate::error::{Result, SqlError};
use crate::schema::{Column, ForeignKey, Schema, Table};

fn pg_err(e: postgres::Error) -> SqlError {
    if let Some(db) = e.as_db_error() {
        let mut m = format!("{}: {}", db.severity(), db.message());
        if let Some(d) = db.detail() {
            m.push_str(&format!(" ({d})"));
        }
        return SqlError::Postgres(m);
    }
    let mut m = e.to_string();
    if let Some(src) = std::error::Error::source(&e) {
        m.push_str(&format!(": {src}"));
    }
    SqlError::Postgres(m)
}

/// Connects to a `postgres://` / `postgresql://` URL (or key=value string), without TLS.
pub fn connect(url: &str) -> Result<Client> {
    let mut cfg = postgres::Config::from_str(url).map_err(|e| SqlError::Postgres(format!("invalid connection URL: {e}")))?;
    cfg.connect_timeout(Duration::from_secs(10));
    cfg.connect(NoTls).map_err(pg_err)
}

const COLUMNS: &str = "SELECT c.table_name::text, c.column_name::text, \
    (CASE WHEN c.data_type = 'USER-DEFINED' THEN c.udt_name \
          WHEN c.data_type = 'ARRAY' THEN ltrim(c.udt_name, '_') || '[]' \
          WHEN c.character_maximum_length IS NOT NULL THEN c.data_type || '(' || c.character_maximum_length || ')' \
          ELSE c.data_type END)::text \
    FROM information_schema.columns c JOIN information_schema.tables t \
      ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
    WHERE c.table_schema = current_schema() AND t.table_type IN ('BASE TABLE', 'VIEW') \
    ORDER BY c.table_name, c.ordinal_position";

const PRIMARY_KEYS: &str = "SELECT kcu.table_name::text, kcu.column_name::text \
    FROM information_schema.table_constraints tc JOIN information_schema.key_column_usage kcu \
      ON kcu.constraint_schema = tc.constraint_schema AND kcu.constraint_name = tc.constraint_name \
     AND kcu.table_name = tc.table_name \
    WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = current_schema()";

const FOREIGN_KEYS: &str = "SELECT kcu.table_name::text, kcu.column_name::text, ref.table_name::text, ref.column_name::text \
    FROM information_schema.referential_constraints rc \
    JOIN information_schema.key_column_usage kcu \
      ON kcu.constraint_schema = rc.constraint_schema AND kcu.constraint_name = rc.constraint_name \
    JOIN information_schema.key_column_usage ref \
      ON ref.constraint_schema = rc.unique_constraint_schema AND ref.constraint_name = rc.unique_constraint_name \
     AND ref.ordinal_position = kcu.position_in_unique_constraint \
    WHERE kcu.table_schema = current_schema() \
    ORDER BY kcu.table_name, kcu.constraint_name, kcu.ordinal_position";

/// Reads the tables and views of the current schema with column types, primary keys and
/// foreign keys.
pub fn introspect(client: &mut Client) -> Result<Schema> {
    let mut tables: Vec<Table> = Vec::new();
    for r in client.query(COLUMNS, &[]).map_err(pg_err)? {
        let (t, c, ty): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        if tables.last().is_none_or(|x| x.name != t) {
            tables.push(Table { name: t.clone(), columns: vec![], foreign_keys: vec![] });
        }
        if let Some(last) = tables.last_mut() {
            last.columns.push(Column { name: c, data_type: ty.to_uppercase(), primary_key: false });
        }
    }
    for r in client.query(PRIMARY_KEYS, &[]).map_err(pg_err)? {
        let (t, c): (String, String) = (r.get(0), r.get(1));
        if let Some(col) = tables.iter_mut().find(|x| x.name == t).and_then(|x| x.columns.iter_mut().find(|y| y.name == c)) {
            col.primary_key = true;
        }
    }
    for r in client.query(FOREIGN_KEYS, &[]).map_err(pg_err)? {
        let (t, column, ref_table, ref_column): (String, String, String, String) = (r.get(0), r.get(1), r.get(2), r.get(3));
        if let Some(tab) = tables.iter_mut().find(|x| x.name == t) {
            tab.foreign_keys.push(ForeignKey { column, ref_table, ref_column });
        }
    }
    if tables.is_empty() {
        return Err(SqlError::Schema("the database has no tables in its current schema".into()));
    }
    Ok(Schema { tables })
}

/// Checks `sql` with [`check_read_only`] (Postgres dialect), then runs it in a read-only
/// transaction: at most `max_rows` rows are kept (`truncated` tells whether there were
/// more); a statement running past `timeout` is cancelled by the server.
pub fn execute(client: &mut Client, sql: &str, max_rows: usize, timeout: Duration) -> Result<QueryTable> {
    check_read_only(sql, DbKind::Postgres)?;
    let body = sql.trim().trim_end_matches(';').trim_end();
    let mut tx = client.build_transaction().read_only(true).start().map_err(pg_err)?;
    tx.batch_execute(&format!("SET LOCAL statement_timeout = {}", timeout.as_millis().max(1))).map_err(pg_err)?;
    // The extended protocol (execute) refuses several commands in one string.
    let declare = format!("DECLARE text2sql_ask NO SCROLL CURSOR FOR {body}\n");
    let declared = tx.execute(declare.as_str(), &[]);
    let fetched = declared.and_then(|_| tx.simple_query(&format!("FETCH FORWARD {} FROM text2sql_ask", max_rows + 1)));
    let msgs = match fetched {
        Ok(m) => m,
        Err(e) => {
            let timed_out = e.code() == Some(&postgres::error::SqlState::QUERY_CANCELED);
            let _ = tx.rollback();
            return Err(if timed_out { SqlError::Timeout(timeout.as_millis() as u64) } else { pg_err(e) });
        }
    };
    tx.rollback().map_err(pg_err)?;
    let mut out = QueryTable::default();
    for m in msgs {
        match m {
            SimpleQueryMessage::RowDescription(cols) => out.columns = cols.iter().map(|c| c.name().to_string()).collect(),
            SimpleQueryMessage::Row(r) => {
                if out.columns.is_empty() {
                    out.columns = r.columns().iter().map(|c| c.name().to_string()).collect();
                }
                if out.rows.len() >= max_rows {
                    out.truncated = true;
                    continue;
                }
                out.rows.push((0..r.len()).map(|i| r.get(i).unwrap_or("NULL").to_string()).collect());
            }
            _ => {}
        }
    }
    Ok(out)
}
