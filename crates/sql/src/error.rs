//! Typed errors of the SQL toolkit.

/// Everything that can go wrong in `text2sql-sql`.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// The SQL text could not be parsed.
    #[error("cannot parse SQL: {0}")]
    Parse(String),
    /// The SQL text held no statement.
    #[error("empty SQL: no statement found")]
    Empty,
    /// A schema (DDL or Spider tables.json entry) was not usable.
    #[error("invalid schema: {0}")]
    Schema(String),
    /// SQLite refused or failed a statement.
    #[error("sqlite error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A query returned more rows than the cap.
    #[error("query returned more than {0} rows")]
    TooManyRows(usize),
    /// A query ran past its time budget.
    #[error("query timed out after {0} ms")]
    Timeout(u64),
    /// A query was refused before execution (`ask --execute` runs only one read-only query).
    #[error("{0}")]
    Refused(String),
    /// PostgreSQL refused or failed (connection, introspection or a query).
    #[error("postgres: {0}")]
    Postgres(String),
    /// Spider's parser (our port of process_sql.py) rejected the SQL.
    #[error("spider parser: {0}")]
    Spider(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A JSON file was malformed.
    #[error("{path}: invalid JSON: {message}")]
    Json {
        /// The file involved.
        path: String,
        /// What was wrong.
        message: String,
    },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, SqlError>;
