//! Schema adherence: every table and column that a query references must exist in the
//! schema. Handles table aliases, CTEs, derived tables (subqueries in FROM), correlated
//! subqueries, qualified names, select-list aliases used in ORDER BY/HAVING, and SQLite's
//! rule that a double-quoted name which is no column is a string literal.

use std::collections::HashMap;
use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, Query, Select, SelectItem, SetExpr, Statement, TableFactor, TableWithJoins, Visit, Visitor,
};

use crate::error::Result;
use crate::parse::parse_sql;
use crate::schema::{object_last, Schema};

/// One reference to something the schema lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// A table (or CTE) name that does not exist.
    UnknownTable(String),
    /// A column that no table in scope has (`name` or `qualifier.name`).
    UnknownColumn(String),
    /// A `qualifier.column` whose qualifier is neither a table nor an alias in scope.
    UnknownQualifier(String),
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Violation::UnknownTable(t) => write!(f, "unknown table {t}"),
            Violation::UnknownColumn(c) => write!(f, "unknown column {c}"),
            Violation::UnknownQualifier(q) => write!(f, "unknown table or alias {q}"),
        }
    }
}

/// Parses `sql` and lists every reference the schema lacks (empty = adherent).
/// Errors only when the SQL does not parse.
pub fn check_adherence(sql: &str, schema: &Schema) -> Result<Vec<Violation>> {
    let stmts = parse_sql(sql)?;
    let mut v = Checker { schema, scopes: vec![], ctes: HashMap::new(), out: vec![] };
    for s in &stmts {
        if let Statement::Query(_) = s {
            let _ = s.visit(&mut v);
        }
    }
    let mut out = v.out;
    out.dedup();
    Ok(out)
}

/// Whether `sql` parses and references only what the schema has.
pub fn adheres(sql: &str, schema: &Schema) -> bool {
    matches!(check_adherence(sql, schema), Ok(v) if v.is_empty())
}

struct Relation {
    name: String,
    /// `None`: columns unknown (wildcard subquery, table function): anything goes.
    columns: Option<Vec<String>>,
}

struct Scope {
    relations: Vec<Relation>,
    aliases: Vec<String>,
}

struct Checker<'a> {
    schema: &'a Schema,
    scopes: Vec<Scope>,
    ctes: HashMap<String, Option<Vec<String>>>,
    out: Vec<Violation>,
}

const PSEUDO_COLUMNS: &[&str] =
    &["rowid", "oid", "_rowid_", "current_date", "current_time", "current_timestamp", "true", "false", "null"];

fn selects_of<'q>(body: &'q SetExpr, out: &mut Vec<&'q Select>) {
    match body {
        SetExpr::Select(s) => out.push(s),
        SetExpr::SetOperation { left, right, .. } => {
            selects_of(left, out);
            selects_of(right, out);
        }
        _ => {}
    }
}

/// Output column names of a query, `None` when unknowable (wildcards, VALUES...).
fn output_names(q: &Query) -> Option<Vec<String>> {
    fn of_body(b: &SetExpr) -> Option<Vec<String>> {
        match b {
            SetExpr::Select(s) => {
                let mut names = vec![];
                for it in &s.projection {
                    match it {
                        SelectItem::UnnamedExpr(Expr::Identifier(i)) => names.push(i.value.to_lowercase()),
                        SelectItem::UnnamedExpr(Expr::CompoundIdentifier(p)) => {
                            names.push(p.last()?.value.to_lowercase())
                        }
                        SelectItem::UnnamedExpr(e) => names.push(e.to_string().to_lowercase()),
                        SelectItem::ExprWithAlias { alias, .. } => names.push(alias.value.to_lowercase()),
                        _ => return None,
                    }
                }
                Some(names)
            }
            SetExpr::SetOperation { left, .. } => of_body(left),
            SetExpr::Query(q) => output_names(q),
            _ => None,
        }
    }
    of_body(&q.body)
}

impl Checker<'_> {
    fn relation(&mut self, tf: &TableFactor, out: &mut Vec<Relation>) {
        match tf {
            TableFactor::Table { name, alias, .. } => {
                let tname = object_last(name).to_lowercase();
                let columns = if let Some(c) = self.ctes.get(&tname) {
                    c.clone()
                } else if let Some(t) = self.schema.table(&tname) {
                    Some(t.columns.iter().map(|c| c.name.to_lowercase()).collect())
                } else {
                    self.out.push(Violation::UnknownTable(tname.clone()));
                    None
                };
                let name = alias.as_ref().map(|a| a.name.value.to_lowercase()).unwrap_or(tname);
                out.push(Relation { name, columns });
            }
            TableFactor::Derived { subquery, alias, .. } => {
                let mut columns = output_names(subquery);
                let mut name = String::new();
                if let Some(a) = alias {
                    name = a.name.value.to_lowercase();
                    if !a.columns.is_empty() {
                        columns = Some(a.columns.iter().map(|c| c.name.value.to_lowercase()).collect());
                    }
                }
                out.push(Relation { name, columns });
            }
            TableFactor::NestedJoin { table_with_joins, .. } => self.joined(table_with_joins, out),
            _ => out.push(Relation { name: String::new(), columns: None }),
        }
    }

    fn joined(&mut self, twj: &TableWithJoins, out: &mut Vec<Relation>) {
        self.relation(&twj.relation, out);
        for j in &twj.joins {
            self.relation(&j.relation, out);
        }
    }

    fn column_known(&self, col: &str) -> bool {
        self.scopes.iter().rev().any(|s| {
            s.aliases.iter().any(|a| a == col)
                || s.relations.iter().any(|r| r.columns.as_ref().is_none_or(|c| c.iter().any(|x| x == col)))
        })
    }

    fn qualified(&self, qual: &str, col: &str) -> Option<bool> {
        for s in self.scopes.iter().rev() {
            if let Some(r) = s.relations.iter().find(|r| r.name == qual) {
                return Some(r.columns.as_ref().is_none_or(|c| c.iter().any(|x| x == col)));
            }
        }
        None
    }
}

impl Visitor for Checker<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                let cols = if cte.alias.columns.is_empty() {
                    output_names(&cte.query)
                } else {
                    Some(cte.alias.columns.iter().map(|c| c.name.value.to_lowercase()).collect())
                };
                self.ctes.insert(cte.alias.name.value.to_lowercase(), cols);
            }
        }
        let mut selects = vec![];
        selects_of(&q.body, &mut selects);
        let mut relations = vec![];
        let mut aliases = vec![];
        for s in selects {
            for twj in &s.from {
                self.joined(twj, &mut relations);
            }
            for it in &s.projection {
                if let SelectItem::ExprWithAlias { alias, .. } = it {
                    aliases.push(alias.value.to_lowercase());
                }
                if let SelectItem::QualifiedWildcard(kind, _) = it {
                    // Displayed as `t.*`: the qualifier is what precedes the dot.
                    let shown = kind.to_string().to_lowercase();
                    let q = shown.strip_suffix(".*").unwrap_or(&shown).to_string();
                    if !relations.iter().any(|r| r.name == q) {
                        self.out.push(Violation::UnknownQualifier(q));
                    }
                }
            }
        }
        self.scopes.push(Scope { relations, aliases });
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _q: &Query) -> ControlFlow<()> {
        self.scopes.pop();
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        if self.scopes.is_empty() {
            return ControlFlow::Continue(());
        }
        match e {
            Expr::Identifier(i) => {
                let col = i.value.to_lowercase();
                let string_literal = matches!(i.quote_style, Some('"') | Some('\''));
                if !self.column_known(&col) && !string_literal && !PSEUDO_COLUMNS.contains(&col.as_str()) {
                    self.out.push(Violation::UnknownColumn(col));
                }
            }
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                let qual = parts[parts.len() - 2].value.to_lowercase();
                let col = parts[parts.len() - 1].value.to_lowercase();
                match self.qualified(&qual, &col) {
                    None => self.out.push(Violation::UnknownQualifier(qual)),
                    Some(false) => self.out.push(Violation::UnknownColumn(format!("{qual}.{col}"))),
                    Some(true) => {}
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}
