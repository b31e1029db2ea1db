//! Port of process_sql.py's recursive-descent parser over Spider tokens. Every place where
//! the Python code would raise (assert, KeyError, IndexError, ValueError) returns an error.

use std::collections::HashMap;

use super::tokenize::tokenize;
use super::{ColUnit, CondItem, CondUnit, SpiderDb, SpiderError, SpiderSql, TableUnit, Val, ValUnit};

pub(crate) const CLAUSE_KEYWORDS: &[&str] =
    &["select", "from", "where", "group", "order", "limit", "intersect", "union", "except"];
const JOIN_KEYWORDS: &[&str] = &["join", "on", "as"];
const WHERE_OPS: &[&str] =
    &["not", "between", "=", ">", "<", ">=", "<=", "!=", "in", "like", "is", "exists"];
const UNIT_OPS: &[&str] = &["none", "-", "+", "*", "/"];
const AGG_OPS: &[&str] = &["none", "max", "min", "count", "sum", "avg"];
const COND_OPS: &[&str] = &["and", "or"];
const SQL_OPS: &[&str] = &["intersect", "union", "except"];
const ORDER_OPS: &[&str] = &["desc", "asc"];

type R<T> = Result<T, SpiderError>;

fn err<T>(m: impl Into<String>) -> R<T> {
    Err(SpiderError(m.into()))
}

fn pos(list: &[&str], t: &str) -> Option<usize> {
    list.iter().position(|x| *x == t)
}

struct P<'a> {
    db: &'a SpiderDb,
    alias: HashMap<String, String>,
    /// Nesting depth of `sql()`, bounded so that hostile input cannot overflow the stack
    /// (Python would raise RecursionError, i.e. a parse failure, too).
    depth: std::cell::Cell<usize>,
}

const MAX_DEPTH: usize = 64;

fn at(toks: &[String], i: usize) -> R<&str> {
    toks.get(i).map(|s| s.as_str()).ok_or_else(|| SpiderError(format!("index {i} out of range")))
}

fn is(toks: &[String], i: usize, t: &str) -> bool {
    toks.get(i).is_some_and(|x| x == t)
}

/// `get_sql(schema, query)`.
pub fn parse(db: &SpiderDb, query: &str) -> R<SpiderSql> {
    let toks = tokenize(query)?;
    // scan_alias + get_tables_with_alias
    let mut alias = HashMap::new();
    for (i, t) in toks.iter().enumerate() {
        if t == "as" {
            let next = at(&toks, i + 1)?.to_string();
            let prev = if i == 0 { toks[toks.len() - 1].clone() } else { toks[i - 1].clone() };
            alias.insert(next, prev);
        }
    }
    for (t, _) in &db.tables {
        if alias.contains_key(t) {
            return err(format!("Alias {t} has the same name in table"));
        }
        alias.insert(t.clone(), t.clone());
    }
    let p = P { db, alias, depth: std::cell::Cell::new(0) };
    let (_, sql) = p.sql(&toks, 0)?;
    Ok(sql)
}

impl P<'_> {
    fn col(&self, toks: &[String], i: usize, default: Option<&[String]>) -> R<(usize, String)> {
        let tok = at(toks, i)?;
        if tok == "*" {
            return Ok((i + 1, "__all__".into()));
        }
        if tok.contains('.') {
            let parts: Vec<&str> = tok.split('.').collect();
            if parts.len() != 2 {
                return err(format!("bad column {tok}"));
            }
            let t = self.alias.get(parts[0]).ok_or_else(|| SpiderError(format!("KeyError {}", parts[0])))?;
            let key = format!("{t}.{}", parts[1]);
            let id = self.db.id_of(&key).ok_or_else(|| SpiderError(format!("KeyError {key}")))?;
            return Ok((i + 1, id));
        }
        let default = default.filter(|d| !d.is_empty()).ok_or_else(|| SpiderError("no default tables".into()))?;
        for a in default {
            let table = self.alias.get(a).ok_or_else(|| SpiderError(format!("KeyError {a}")))?;
            let cols = self.db.columns_of(table).ok_or_else(|| SpiderError(format!("KeyError {table}")))?;
            if cols.iter().any(|c| c == tok) {
                let id = self.db.id_of(&format!("{table}.{tok}")).ok_or_else(|| SpiderError("KeyError".into()))?;
                return Ok((i + 1, id));
            }
        }
        err(format!("Error col: {tok}"))
    }

    fn col_unit(&self, toks: &[String], start: usize, default: Option<&[String]>) -> R<(usize, ColUnit)> {
        let mut i = start;
        let mut block = false;
        let mut distinct = false;
        if at(toks, i)? == "(" {
            block = true;
            i += 1;
        }
        if let Some(agg) = pos(AGG_OPS, at(toks, i)?) {
            i += 1;
            if !is(toks, i, "(") {
                return err("expected (");
            }
            i += 1;
            if at(toks, i)? == "distinct" {
                i += 1;
                distinct = true;
            }
            let (j, col) = self.col(toks, i, default)?;
            i = j;
            if !is(toks, i, ")") {
                return err("expected )");
            }
            return Ok((i + 1, ColUnit { agg, col, distinct: Some(distinct) }));
        }
        if at(toks, i)? == "distinct" {
            i += 1;
            distinct = true;
        }
        let (j, col) = self.col(toks, i, default)?;
        i = j;
        if block {
            if at(toks, i)? != ")" {
                return err("expected )");
            }
            i += 1;
        }
        Ok((i, ColUnit { agg: 0, col, distinct: Some(distinct) }))
    }

    fn val_unit(&self, toks: &[String], start: usize, default: Option<&[String]>) -> R<(usize, ValUnit)> {
        let mut i = start;
        let mut block = false;
        if at(toks, i)? == "(" {
            block = true;
            i += 1;
        }
        let (j, c1) = self.col_unit(toks, i, default)?;
        i = j;
        let mut op = 0;
        let mut c2 = None;
        if let Some(o) = toks.get(i).and_then(|t| pos(UNIT_OPS, t)) {
            op = o;
            i += 1;
            let (j, c) = self.col_unit(toks, i, default)?;
            i = j;
            c2 = Some(c);
        }
        if block {
            if at(toks, i)? != ")" {
                return err("expected )");
            }
            i += 1;
        }
        Ok((i, ValUnit { op, c1, c2 }))
    }

    fn table_unit(&self, toks: &[String], start: usize) -> R<(usize, String, String)> {
        let t = at(toks, start)?;
        let key = self.alias.get(t).ok_or_else(|| SpiderError(format!("KeyError {t}")))?.clone();
        let i = if is(toks, start + 1, "as") { start + 3 } else { start + 1 };
        let id = self.db.id_of(&key).ok_or_else(|| SpiderError(format!("KeyError {key}")))?;
        Ok((i, id, key))
    }

    fn value(&self, toks: &[String], start: usize, default: Option<&[String]>) -> R<(usize, Val)> {
        let mut i = start;
        let mut block = false;
        if at(toks, i)? == "(" {
            block = true;
            i += 1;
        }
        let t = at(toks, i)?;
        let val;
        if t == "select" {
            let (j, s) = self.sql(toks, i)?;
            i = j;
            val = Val::Sql(Box::new(s));
        } else if t.contains('"') {
            val = Val::Str(t.to_string());
            i += 1;
        } else if let Some(f) = py_float(t) {
            val = Val::Num(f);
            i += 1;
        } else {
            let mut end = i;
            while end < toks.len() {
                let e = toks[end].as_str();
                if e == "," || e == ")" || e == "and" || CLAUSE_KEYWORDS.contains(&e) || JOIN_KEYWORDS.contains(&e) {
                    break;
                }
                end += 1;
            }
            let (_, cu) = self.col_unit(&toks[start..end], 0, default)?;
            val = Val::Col(cu);
            i = end;
        }
        if block {
            if at(toks, i)? != ")" {
                return err("expected )");
            }
            i += 1;
        }
        Ok((i, val))
    }

    fn condition(&self, toks: &[String], start: usize, default: Option<&[String]>) -> R<(usize, Vec<CondItem>)> {
        let mut i = start;
        let mut conds = Vec::new();
        while i < toks.len() {
            let (j, vu) = self.val_unit(toks, i, default)?;
            i = j;
            let mut not = false;
            if at(toks, i)? == "not" {
                not = true;
                i += 1;
            }
            let op = toks.get(i).and_then(|t| pos(WHERE_OPS, t)).ok_or_else(|| SpiderError("Error condition".into()))?;
            i += 1;
            let (v1, v2);
            if op == 1 {
                let (j, a) = self.value(toks, i, default)?;
                i = j;
                if at(toks, i)? != "and" {
                    return err("between without and");
                }
                i += 1;
                let (j, b) = self.value(toks, i, default)?;
                i = j;
                v1 = a;
                v2 = b;
            } else {
                let (j, a) = self.value(toks, i, default)?;
                i = j;
                v1 = a;
                v2 = Val::Nil;
            }
            conds.push(CondItem::Unit(CondUnit { not, op, vu, v1, v2 }));
            if let Some(t) = toks.get(i) {
                if CLAUSE_KEYWORDS.contains(&t.as_str()) || t == ")" || t == ";" || JOIN_KEYWORDS.contains(&t.as_str()) {
                    break;
                }
                if COND_OPS.contains(&t.as_str()) {
                    conds.push(CondItem::Conj(t.clone()));
                    i += 1;
                }
            }
        }
        Ok((i, conds))
    }

    fn select(&self, toks: &[String], start: usize, default: &[String]) -> R<(bool, Vec<(usize, ValUnit)>)> {
        let mut i = start;
        if at(toks, i)? != "select" {
            return err("'select' not found");
        }
        i += 1;
        let mut distinct = false;
        if is(toks, i, "distinct") {
            i += 1;
            distinct = true;
        }
        let mut units = Vec::new();
        while i < toks.len() && !CLAUSE_KEYWORDS.contains(&toks[i].as_str()) {
            let mut agg = 0;
            if let Some(a) = pos(AGG_OPS, &toks[i]) {
                agg = a;
                i += 1;
            }
            let (j, vu) = self.val_unit(toks, i, Some(default))?;
            i = j;
            units.push((agg, vu));
            if is(toks, i, ",") {
                i += 1;
            }
        }
        Ok((distinct, units))
    }

    #[allow(clippy::type_complexity)]
    fn from(&self, toks: &[String], start: usize) -> R<(usize, Vec<TableUnit>, Vec<CondItem>, Vec<String>)> {
        let Some(f) = toks[start.min(toks.len())..].iter().position(|t| t == "from") else {
            return err("'from' not found");
        };
        let mut i = start + f + 1;
        let mut default: Vec<String> = Vec::new();
        let mut units = Vec::new();
        let mut conds: Vec<CondItem> = Vec::new();
        while i < toks.len() {
            let mut block = false;
            if at(toks, i)? == "(" {
                block = true;
                i += 1;
            }
            if at(toks, i)? == "select" {
                let (j, s) = self.sql(toks, i)?;
                i = j;
                units.push(TableUnit::Sql(Box::new(s)));
            } else {
                if is(toks, i, "join") {
                    i += 1;
                }
                let (j, id, name) = self.table_unit(toks, i)?;
                i = j;
                units.push(TableUnit::Table(id));
                default.push(name);
            }
            if is(toks, i, "on") {
                i += 1;
                let (j, c) = self.condition(toks, i, Some(&default))?;
                i = j;
                if !conds.is_empty() {
                    conds.push(CondItem::Conj("and".into()));
                }
                conds.extend(c);
            }
            if block {
                if at(toks, i)? != ")" {
                    return err("expected )");
                }
                i += 1;
            }
            if let Some(t) = toks.get(i) {
                if CLAUSE_KEYWORDS.contains(&t.as_str()) || t == ")" || t == ";" {
                    break;
                }
            }
        }
        Ok((i, units, conds, default))
    }

    fn col_list_end(t: &str) -> bool {
        CLAUSE_KEYWORDS.contains(&t) || t == ")" || t == ";"
    }

    fn sql(&self, toks: &[String], start: usize) -> R<(usize, SpiderSql)> {
        if self.depth.get() >= MAX_DEPTH {
            return err("query nested too deeply");
        }
        self.depth.set(self.depth.get() + 1);
        let r = self.sql_inner(toks, start);
        self.depth.set(self.depth.get() - 1);
        r
    }

    fn sql_inner(&self, toks: &[String], start: usize) -> R<(usize, SpiderSql)> {
        let mut i = start;
        let mut block = false;
        if at(toks, i)? == "(" {
            block = true;
            i += 1;
        }
        let (from_end, from_units, from_conds, default) = self.from(toks, start)?;
        let (distinct, select) = self.select(toks, i, &default)?;
        i = from_end;
        let mut sql = SpiderSql {
            select_distinct: Some(distinct),
            select,
            from_units,
            from_conds,
            ..Default::default()
        };
        let d = Some(default.as_slice());
        if is(toks, i, "where") {
            let (j, c) = self.condition(toks, i + 1, d)?;
            i = j;
            sql.where_ = c;
        }
        if is(toks, i, "group") {
            i += 1;
            if at(toks, i)? != "by" {
                return err("group without by");
            }
            i += 1;
            while i < toks.len() && !Self::col_list_end(&toks[i]) {
                let (j, cu) = self.col_unit(toks, i, d)?;
                i = j;
                sql.group_by.push(cu);
                if is(toks, i, ",") {
                    i += 1;
                } else {
                    break;
                }
            }
        }
        if is(toks, i, "having") {
            let (j, c) = self.condition(toks, i + 1, d)?;
            i = j;
            sql.having = c;
        }
        if is(toks, i, "order") {
            i += 1;
            if at(toks, i)? != "by" {
                return err("order without by");
            }
            i += 1;
            let mut dir = "asc".to_string();
            let mut units = Vec::new();
            while i < toks.len() && !Self::col_list_end(&toks[i]) {
                let (j, vu) = self.val_unit(toks, i, d)?;
                i = j;
                units.push(vu);
                if let Some(t) = toks.get(i).filter(|t| ORDER_OPS.contains(&t.as_str())) {
                    dir = t.clone();
                    i += 1;
                }
                if is(toks, i, ",") {
                    i += 1;
                } else {
                    break;
                }
            }
            sql.order_by = Some((dir, units));
        }
        if is(toks, i, "limit") {
            i += 2;
            let t = at(toks, i - 1)?;
            sql.limit = Some(t.parse::<i64>().map_err(|_| SpiderError(format!("int({t})")))?);
        }
        while is(toks, i, ";") {
            i += 1;
        }
        if block {
            if at(toks, i)? != ")" {
                return err("expected )");
            }
            i += 1;
        }
        while is(toks, i, ";") {
            i += 1;
        }
        if let Some(op) = toks.get(i).filter(|t| SQL_OPS.contains(&t.as_str())).cloned() {
            let (j, sub) = self.sql(toks, i + 1)?;
            i = j;
            let sub = Some(Box::new(sub));
            match op.as_str() {
                "intersect" => sql.intersect = sub,
                "union" => sql.union = sub,
                _ => sql.except = sub,
            }
        }
        Ok((i, sql))
    }
}

/// Python's `float(s)` for the strings Spider meets (no underscores support needed).
fn py_float(s: &str) -> Option<f64> {
    let l = s.to_ascii_lowercase();
    let body = l.trim_start_matches(['+', '-']);
    if matches!(body, "inf" | "infinity" | "nan") {
        return l.parse::<f64>().ok().or(Some(f64::NAN));
    }
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-')) {
        return None;
    }
    s.parse::<f64>().ok()
}
