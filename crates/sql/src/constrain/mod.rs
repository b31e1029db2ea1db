//! Schema-constrained SQL: is a text a *viable prefix* of a SQLite SELECT statement that names
//! only the schema's tables and columns (plus aliases and CTEs it defines itself)?
//!
//! The decoder asks this for candidate tokens (`prefix + token text`) and for EOS
//! ([`SqlConstraint::check`] says `Complete` only for a whole statement). The parser is a
//! recursive descent over the lexed prefix where running out of input anywhere means "viable":
//! everything before parsed consistently, so some continuation exists. A word still being typed
//! matches any keyword or allowed name it is a prefix of. Unknown tables, unknown columns (of
//! the tables in scope once FROM is known), unknown functions and non-SELECT statements are dead.
//!
//! Before FROM is read, a column may be any column of the schema (or of a CTE), and a qualifier
//! any table, CTE or short (≤ 3 characters, `T1`, `c`) alias; once FROM is over, each of those
//! names must resolve against it (a column of a joined table, `alias.column` of that alias), or
//! the text is dead, as SQLite would answer "no such column". A join's ON condition sees only
//! the tables to its left, and a table given an alias is known only by the alias. So the select list cannot name the output columns of a subquery in
//! FROM (use `*`, or refer to them after FROM); aliases of the select list need `AS`.
//!
//! Also dead, because a small model under a names-only constraint derails into them: comments,
//! an implicit table alias glued to a clause keyword (`FROM t WHEREx`), the same name twice in
//! one FROM, DISTINCT in a non-aggregate call, nesting deeper than 8 parentheses, and numbers
//! running into letters (`1abc`).

mod complete;
mod lex;
mod parse;

use crate::schema::Schema;
pub use parse::Verdict;

/// The names a constrained statement may use.
#[derive(Debug, Clone)]
pub struct SqlConstraint {
    tables: Vec<(String, Vec<String>)>,
}

impl SqlConstraint {
    /// From a parsed schema.
    pub fn new(schema: &Schema) -> Self {
        Self {
            tables: schema.tables.iter().map(|t| (t.name.clone(), t.columns.iter().map(|c| c.name.clone()).collect())).collect(),
        }
    }

    /// Where `text` stands: `Dead` (no continuation is valid), `Viable` (some continuation is),
    /// or `Complete` (a whole statement: the generation may end here; more may still follow,
    /// e.g. another condition).
    pub fn check(&self, text: &str) -> Verdict {
        parse::check(&self.tables, text)
    }

    /// A short text that makes `text` a complete statement (`Some("")` if it is one already;
    /// `None` if it is dead or no completion was found within a small search): what a decoder
    /// about to run out of tokens appends so that the answer still parses.
    pub fn completion(&self, text: &str) -> Option<String> {
        complete::completion(&self.tables, text)
    }
}

#[cfg(test)]
mod tests;
