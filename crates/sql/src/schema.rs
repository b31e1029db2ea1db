//! Database schemas: read from CREATE TABLE DDL (parsed by sqlparser, never regex) or from
//! a Spider `tables.json` entry, and written back as DDL for prompts.

use serde::Deserialize;
use sqlparser::ast::{ColumnOption, Expr, ObjectName, ObjectNamePart, Statement, TableConstraint};

use crate::error::{Result, SqlError};
use crate::parse::parse_sql;

/// One column of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Name as written in the schema.
    pub name: String,
    /// Declared type, upper-case (e.g. `INTEGER`, `VARCHAR(20)`); empty when none.
    pub data_type: String,
    /// Whether the column is (part of) the primary key.
    pub primary_key: bool,
}

/// A foreign key `table.column -> ref_table.ref_column`.
#[derive(Debug, Clone, PartialEq)]
pub struct ForeignKey {
    /// The referencing column.
    pub column: String,
    /// The referenced table.
    pub ref_table: String,
    /// The referenced column.
    pub ref_column: String,
}

/// One table.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Name as written in the schema.
    pub name: String,
    /// Columns in declaration order.
    pub columns: Vec<Column>,
    /// Foreign keys declared on this table.
    pub foreign_keys: Vec<ForeignKey>,
}

/// A database schema.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Schema {
    /// Tables in declaration order.
    pub tables: Vec<Table>,
}

pub(crate) fn object_last(name: &ObjectName) -> String {
    match name.0.last() {
        Some(ObjectNamePart::Identifier(i)) => i.value.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

fn index_col_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Identifier(i) => Some(i.value.clone()),
        Expr::CompoundIdentifier(p) => p.last().map(|i| i.value.clone()),
        _ => None,
    }
}

impl Schema {
    /// Parses CREATE TABLE statements. Other statements (INSERT, CREATE INDEX...) are
    /// ignored; a schema without any CREATE TABLE is an error.
    pub fn from_ddl(ddl: &str) -> Result<Schema> {
        let stmts = parse_sql(ddl).map_err(|e| SqlError::Schema(e.to_string()))?;
        let mut tables = Vec::new();
        for st in stmts {
            let Statement::CreateTable(ct) = st else { continue };
            let mut t = Table { name: object_last(&ct.name), columns: vec![], foreign_keys: vec![] };
            for c in &ct.columns {
                let mut col = Column {
                    name: c.name.value.clone(),
                    data_type: c.data_type.to_string().to_uppercase(),
                    primary_key: false,
                };
                for o in &c.options {
                    match &o.option {
                        ColumnOption::PrimaryKey(_) => col.primary_key = true,
                        ColumnOption::ForeignKey(fk) => t.foreign_keys.push(ForeignKey {
                            column: c.name.value.clone(),
                            ref_table: object_last(&fk.foreign_table),
                            ref_column: fk.referred_columns.first().map(|i| i.value.clone()).unwrap_or_default(),
                        }),
                        _ => {}
                    }
                }
                t.columns.push(col);
            }
            for k in &ct.constraints {
                match k {
                    TableConstraint::PrimaryKey(pk) => {
                        for ic in &pk.columns {
                            if let Some(n) = index_col_name(&ic.column.expr) {
                                if let Some(c) = t.columns.iter_mut().find(|c| c.name.eq_ignore_ascii_case(&n)) {
                                    c.primary_key = true;
                                }
                            }
                        }
                    }
                    TableConstraint::ForeignKey(fk) => {
                        for (i, c) in fk.columns.iter().enumerate() {
                            t.foreign_keys.push(ForeignKey {
                                column: c.value.clone(),
                                ref_table: object_last(&fk.foreign_table),
                                ref_column: fk.referred_columns.get(i).map(|i| i.value.clone()).unwrap_or_default(),
                            });
                        }
                    }
                    _ => {}
                }
            }
            tables.push(t);
        }
        if tables.is_empty() {
            return Err(SqlError::Schema("no CREATE TABLE statement".into()));
        }
        Ok(Schema { tables })
    }

    /// Builds the schema of one Spider `tables.json` entry (original names).
    pub fn from_spider(db: &SpiderTables) -> Result<Schema> {
        let mut tables: Vec<Table> = db
            .table_names_original
            .iter()
            .map(|n| Table { name: n.clone(), columns: vec![], foreign_keys: vec![] })
            .collect();
        let col = |i: usize| -> Result<(usize, String)> {
            let (t, c) = db.column_names_original.get(i).ok_or_else(|| {
                SqlError::Schema(format!("{}: column index {i} out of range", db.db_id))
            })?;
            if *t < 0 || *t as usize >= tables_len(db) {
                return Err(SqlError::Schema(format!("{}: column {i} has no table", db.db_id)));
            }
            Ok((*t as usize, c.clone()))
        };
        for (i, (t, name)) in db.column_names_original.iter().enumerate() {
            if *t < 0 {
                continue;
            }
            let ty = db.column_types.get(i).map(|s| s.to_uppercase()).unwrap_or_default();
            let table = tables.get_mut(*t as usize).ok_or_else(|| {
                SqlError::Schema(format!("{}: column {name} has table index {t} out of range", db.db_id))
            })?;
            table.columns.push(Column { name: name.clone(), data_type: spider_type(&ty), primary_key: false });
        }
        for pk in db.primary_keys.iter().flat_map(|p| p.ids()) {
            let (t, c) = col(pk)?;
            if let Some(cc) = tables[t].columns.iter_mut().find(|x| x.name == c) {
                cc.primary_key = true;
            }
        }
        for [a, b] in &db.foreign_keys {
            let (ta, ca) = col(*a)?;
            let (tb, cb) = col(*b)?;
            let ref_table = tables[tb].name.clone();
            tables[ta].foreign_keys.push(ForeignKey { column: ca, ref_table, ref_column: cb });
        }
        Ok(Schema { tables })
    }

    /// Case-insensitive table lookup.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name.eq_ignore_ascii_case(name))
    }

    /// CREATE TABLE DDL, one statement per table, with types, primary and foreign keys.
    pub fn to_ddl(&self) -> String {
        let mut out = Vec::new();
        for t in &self.tables {
            let mut lines: Vec<String> = t
                .columns
                .iter()
                .map(|c| {
                    let ty = if c.data_type.is_empty() { String::new() } else { format!(" {}", c.data_type) };
                    format!("  {}{}", quote_ident(&c.name), ty)
                })
                .collect();
            let pks: Vec<String> = t.columns.iter().filter(|c| c.primary_key).map(|c| quote_ident(&c.name)).collect();
            if !pks.is_empty() {
                lines.push(format!("  PRIMARY KEY ({})", pks.join(", ")));
            }
            for fk in &t.foreign_keys {
                lines.push(format!(
                    "  FOREIGN KEY ({}) REFERENCES {}({})",
                    quote_ident(&fk.column),
                    quote_ident(&fk.ref_table),
                    quote_ident(&fk.ref_column)
                ));
            }
            out.push(format!("CREATE TABLE {} (\n{}\n);", quote_ident(&t.name), lines.join(",\n")));
        }
        out.join("\n")
    }
}

fn tables_len(db: &SpiderTables) -> usize {
    db.table_names_original.len()
}

fn spider_type(t: &str) -> String {
    match t {
        "NUMBER" => "NUMERIC".into(),
        "TIME" => "TEXT".into(),
        "BOOLEAN" => "BOOLEAN".into(),
        "OTHERS" | "" => "TEXT".into(),
        other => other.into(),
    }
}

/// SQLite's keywords (<https://sqlite.org/lang_keywords.html>): a table or column of one of
/// these names must be quoted (`"order"`), or SQLite may read the keyword.
const SQLITE_KEYWORDS: &[&str] = &[
    "ABORT", "ACTION", "ADD", "AFTER", "ALL", "ALTER", "ALWAYS", "ANALYZE", "AND", "AS", "ASC", "ATTACH",
    "AUTOINCREMENT", "BEFORE", "BEGIN", "BETWEEN", "BY", "CASCADE", "CASE", "CAST", "CHECK", "COLLATE",
    "COLUMN", "COMMIT", "CONFLICT", "CONSTRAINT", "CREATE", "CROSS", "CURRENT", "CURRENT_DATE",
    "CURRENT_TIME", "CURRENT_TIMESTAMP", "DATABASE", "DEFAULT", "DEFERRABLE", "DEFERRED", "DELETE", "DESC",
    "DETACH", "DISTINCT", "DO", "DROP", "EACH", "ELSE", "END", "ESCAPE", "EXCEPT", "EXCLUDE", "EXCLUSIVE",
    "EXISTS", "EXPLAIN", "FAIL", "FILTER", "FIRST", "FOLLOWING", "FOR", "FOREIGN", "FROM", "FULL",
    "GENERATED", "GLOB", "GROUP", "GROUPS", "HAVING", "IF", "IGNORE", "IMMEDIATE", "IN", "INDEX", "INDEXED",
    "INITIALLY", "INNER", "INSERT", "INSTEAD", "INTERSECT", "INTO", "IS", "ISNULL", "JOIN", "KEY", "LAST",
    "LEFT", "LIKE", "LIMIT", "MATCH", "MATERIALIZED", "NATURAL", "NO", "NOT", "NOTHING", "NOTNULL", "NULL",
    "NULLS", "OF", "OFFSET", "ON", "OR", "ORDER", "OTHERS", "OUTER", "OVER", "PARTITION", "PLAN", "PRAGMA",
    "PRECEDING", "PRIMARY", "QUERY", "RAISE", "RANGE", "RECURSIVE", "REFERENCES", "REGEXP", "REINDEX",
    "RELEASE", "RENAME", "REPLACE", "RESTRICT", "RETURNING", "RIGHT", "ROLLBACK", "ROW", "ROWS", "SAVEPOINT",
    "SELECT", "SET", "TABLE", "TEMP", "TEMPORARY", "THEN", "TIES", "TO", "TRANSACTION", "TRIGGER",
    "UNBOUNDED", "UNION", "UNIQUE", "UPDATE", "USING", "VACUUM", "VALUES", "VIEW", "VIRTUAL", "WHEN", "WHERE",
    "WINDOW", "WITH", "WITHOUT",
];

/// Quotes an identifier only when it needs it: characters other than letters, digits and `_`,
/// a leading digit, or an SQLite keyword.
pub fn quote_ident(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.chars().next().is_some_and(|c| c.is_ascii_digit())
        && !SQLITE_KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(s));
    if plain {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

/// A primary key entry of tables.json: one column index or a composite list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SpiderPk {
    /// Single-column key.
    One(usize),
    /// Composite key.
    Many(Vec<usize>),
}

impl SpiderPk {
    fn ids(&self) -> Vec<usize> {
        match self {
            SpiderPk::One(i) => vec![*i],
            SpiderPk::Many(v) => v.clone(),
        }
    }
}

/// One entry of Spider's tables.json.
#[derive(Debug, Clone, Deserialize)]
pub struct SpiderTables {
    /// Database id.
    pub db_id: String,
    /// Original table names.
    pub table_names_original: Vec<String>,
    /// `[table index, column name]`, index -1 for `*`.
    pub column_names_original: Vec<(i64, String)>,
    /// Column types (`text`, `number`, `time`, `boolean`, `others`).
    #[serde(default)]
    pub column_types: Vec<String>,
    /// Primary key column indices.
    #[serde(default)]
    pub primary_keys: Vec<SpiderPk>,
    /// Foreign key pairs of column indices.
    #[serde(default)]
    pub foreign_keys: Vec<[usize; 2]>,
}

/// Reads tables.json.
pub fn load_spider_tables(path: &std::path::Path) -> Result<Vec<SpiderTables>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SqlError::Io { path: path.display().to_string(), source: e })?;
    serde_json::from_str(&text)
        .map_err(|e| SqlError::Json { path: path.display().to_string(), message: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_roundtrip() {
        let ddl = "CREATE TABLE singer (id INT PRIMARY KEY, name TEXT, age INTEGER);\n\
                   CREATE TABLE concert (cid INT, singer_id INT, year TEXT, PRIMARY KEY (cid), \
                   FOREIGN KEY (singer_id) REFERENCES singer(id));";
        let s = Schema::from_ddl(ddl).unwrap();
        assert_eq!(s.tables.len(), 2);
        assert!(s.tables[0].columns[0].primary_key);
        assert!(s.tables[1].columns[0].primary_key);
        assert_eq!(s.tables[1].foreign_keys[0].ref_table, "singer");
        let again = Schema::from_ddl(&s.to_ddl()).unwrap();
        assert_eq!(again, s);
    }

    #[test]
    fn bad_ddl_is_an_error() {
        assert!(Schema::from_ddl("CREATE TABLE (").is_err());
        assert!(Schema::from_ddl("SELECT 1").is_err());
    }
}
