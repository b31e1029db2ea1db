//! Parsing with sqlparser-rs (SQLite dialect), normalisation for exact match and the
//! "no-values" normalisation that replaces every literal with a placeholder.

use std::ops::ControlFlow;

use sqlparser::ast::{Expr, Ident, Statement, Value, ValueWithSpan, VisitMut, VisitorMut};
use sqlparser::dialect::SQLiteDialect;
use sqlparser::parser::Parser;

use crate::error::{Result, SqlError};

/// Parses SQL text into statements. Never panics: a stack overflow on deeply nested
/// input is prevented by sqlparser's recursion limit, reported as a parse error.
pub fn parse_sql(sql: &str) -> Result<Vec<Statement>> {
    let stmts = Parser::new(&SQLiteDialect {})
        .with_recursion_limit(64)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| SqlError::Parse(e.to_string()))?;
    if stmts.is_empty() {
        return Err(SqlError::Empty);
    }
    Ok(stmts)
}

/// Whether `sql` parses as one or more SQL statements.
pub fn parse_success(sql: &str) -> bool {
    parse_sql(sql).is_ok()
}

/// Canonical text of `sql` for exact match: whitespace, keyword case, identifier quoting
/// and case, string quote style, trailing semicolons and redundant parentheses do not
/// matter; everything else (literal values, clause order) does.
pub fn normalize(sql: &str) -> Result<String> {
    render(sql, false)
}

/// Like [`normalize`], with every literal (numbers, strings, booleans, NULL excluded)
/// replaced by the placeholder `?`.
pub fn normalize_no_values(sql: &str) -> Result<String> {
    render(sql, true)
}

fn render(sql: &str, strip_values: bool) -> Result<String> {
    let mut stmts = parse_sql(sql)?;
    let mut v = Canon { strip_values };
    for s in &mut stmts {
        let _ = s.visit(&mut v);
    }
    Ok(stmts.iter().map(|s| s.to_string()).collect::<Vec<_>>().join("; "))
}

struct Canon {
    strip_values: bool,
}

fn is_atomic(e: &Expr) -> bool {
    matches!(
        e,
        Expr::Identifier(_)
            | Expr::CompoundIdentifier(_)
            | Expr::Value(_)
            | Expr::Function(_)
            | Expr::Nested(_)
            | Expr::Subquery(_)
            | Expr::Cast { .. }
            | Expr::Case { .. }
            | Expr::Exists { .. }
    )
}

impl VisitorMut for Canon {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        // SQLite reads `col = "Rome"` as a string when no column is called Rome; a
        // double-quoted name on the value side of a comparison, LIKE or IN list is such
        // a string in practice, so it normalises like 'Rome'.
        let fix = |e: &mut Expr| {
            if let Expr::Identifier(i) = e {
                if i.quote_style == Some('"') {
                    *e = Expr::value(Value::SingleQuotedString(std::mem::take(&mut i.value)));
                }
            }
        };
        match expr {
            Expr::BinaryOp { right, .. } => fix(right),
            Expr::Like { pattern, .. } | Expr::ILike { pattern, .. } => fix(pattern),
            Expr::In { target: sqlparser::ast::InTarget::List(list), .. } => list.iter_mut().for_each(fix),
            Expr::Between { low, high, .. } => {
                fix(low);
                fix(high);
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        // `((x))`, `(t.a)`, `(1)`, `(count(*))`: parentheses around an atom are redundant.
        while let Expr::Nested(inner) = expr {
            if !is_atomic(inner) {
                break;
            }
            let inner = std::mem::replace(inner.as_mut(), Expr::value(Value::Null));
            *expr = inner;
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &mut sqlparser::ast::Select) -> ControlFlow<()> {
        // Parentheses around a whole WHERE or HAVING condition are redundant too.
        for cond in [&mut select.selection, &mut select.having].into_iter().flatten() {
            while let Expr::Nested(inner) = cond {
                let inner = std::mem::replace(inner.as_mut(), Expr::value(Value::Null));
                *cond = inner;
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, tf: &mut sqlparser::ast::TableFactor) -> ControlFlow<()> {
        // `FROM singer s` and `FROM singer AS s` are the same.
        if let sqlparser::ast::TableFactor::Table { alias: Some(a), .. } | sqlparser::ast::TableFactor::Derived { alias: Some(a), .. } = tf {
            a.explicit = true;
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_ident(&mut self, ident: &mut Ident) -> ControlFlow<()> {
        ident.value = ident.value.to_lowercase();
        ident.quote_style = None;
        ControlFlow::Continue(())
    }

    fn pre_visit_value(&mut self, value: &mut ValueWithSpan) -> ControlFlow<()> {
        let v = &mut value.value;
        if self.strip_values {
            if !matches!(v, Value::Null) {
                *v = Value::Placeholder("?".into());
            }
        } else if let Value::DoubleQuotedString(s) = v {
            *v = Value::SingleQuotedString(std::mem::take(s));
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_surface_differences() {
        let a = normalize("select  T1.name from Singer as t1 where ((t1.age) > 3);").unwrap();
        let b = normalize("SELECT t1.NAME FROM \"singer\" AS T1 WHERE t1.age > 3").unwrap();
        assert_eq!(a, b);
        assert_ne!(a, normalize("SELECT t1.name FROM singer AS t1 WHERE t1.age > 4").unwrap());
        assert_eq!(
            normalize("SELECT COUNT(*), Avg(age) FROM t WHERE x IN ('a', \"b\")").unwrap(),
            normalize("select count(*), avg(AGE) from T where X in (\"a\", 'b')").unwrap()
        );
        assert_eq!(normalize("SELECT a FROM t;;").unwrap(), normalize("SELECT a FROM t").unwrap());
        assert_eq!(normalize("SELECT s.a FROM t s").unwrap(), normalize("SELECT s.a FROM t AS s").unwrap());
        assert_eq!(normalize("SELECT a x FROM t").unwrap(), normalize("SELECT a AS x FROM t").unwrap());
    }

    #[test]
    fn keeps_meaningful_parentheses() {
        let a = normalize("select a*(b+c) from t").unwrap();
        let b = normalize("select a*b+c from t").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn no_values_ignores_literals() {
        let a = normalize_no_values("SELECT name FROM t WHERE age > 30 AND city = 'Paris' LIMIT 3").unwrap();
        let b = normalize_no_values("select name from t where age > 18 and city = \"Rome\" limit 5").unwrap();
        assert_eq!(a, b);
        assert!(a.contains('?'), "{a}");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for s in ["", ";", "SELEC * FORM", "select (((((", "select * from t where", "'", "\u{0}"] {
            assert!(normalize(s).is_err(), "{s:?}");
        }
        assert!(!parse_success("SELECT FROM WHERE"));
        assert!(parse_success("SELECT 1"));
    }
}
