//! SQL toolkit of text2sql: parsing and normalisation (sqlparser-rs), schema adherence,
//! Spider's official exact-set-match (our own port of its semantics, quirks included),
//! execution accuracy on SQLite and semantic accuracy on generated databases.

pub mod adherence;
pub mod ask;
pub mod constrain;
pub mod data;
pub mod error;
pub mod eval;
pub mod exec;
pub mod parse;
pub mod schema;
pub mod semantic;
pub mod spider;

pub use adherence::{adheres, check_adherence, Violation};
pub use error::{Result, SqlError};
pub use parse::{normalize, normalize_no_values, parse_sql, parse_success};
pub use schema::{Column, ForeignKey, Schema, Table};
