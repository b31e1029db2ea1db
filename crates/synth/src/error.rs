//! Typed errors of the synthetic corpus generator.

/// Everything that can go wrong in `text2sql-synth`.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// A built-in schema file is malformed.
    #[error("schemas/{file}:{line}: {message}")]
    Catalog {
        /// The schema file.
        file: String,
        /// 1-based line (0: the whole file).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A bad option value.
    #[error("{flag}: {message}")]
    Option {
        /// The flag or field.
        flag: String,
        /// What is wrong.
        message: String,
    },
    /// SQLite failed while building an instance.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The SQL toolkit failed.
    #[error(transparent)]
    Sql(#[from] text2sql_sql::SqlError),
    /// A file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Not enough examples could be generated.
    #[error("could only generate {got} of {want} {split} examples (too few families?)")]
    Shortfall {
        /// train or val.
        split: String,
        /// Generated.
        got: usize,
        /// Asked for.
        want: usize,
    },
}

/// Result alias of this crate.
pub type Result<T, E = SynthError> = std::result::Result<T, E>;
