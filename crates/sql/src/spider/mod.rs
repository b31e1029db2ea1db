//! Spider exact-set-match, with the semantics of the official `evaluation.py` and
//! `process_sql.py` (Yu et al. 2018), quirks included, so that reported numbers are
//! comparable with published ones. Our own implementation; see
//! `tests/reference/spider_official_verdicts.py` for the agreement check against the
//! official script.
//!
//! Quirks kept on purpose: the parser rejects `INNER JOIN`, `<>`, column aliases, table
//! aliases without `AS`, `IS NULL` and more; a rejected prediction counts as a mismatch;
//! values and JOIN ON conditions are ignored; LIMIT compares presence only; DISTINCT is
//! ignored except inside nested conditions; foreign-key columns are unified.

mod eval;
mod process;
pub mod tokenize;

use std::collections::HashMap;

pub use eval::{exact_match, hardness, Hardness};
pub use process::parse;

use crate::schema::SpiderTables;

/// Why Spider's parser rejected a query (the official code raises an exception).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct SpiderError(pub String);

/// A value: number, string (with its quotes), nested query, or column (join conditions).
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// `None` in Python (no value, or a value erased by the evaluator).
    Nil,
    /// A number.
    Num(f64),
    /// A string token, quotes included.
    Str(String),
    /// A nested query.
    Sql(Box<SpiderSql>),
    /// A column unit (right-hand side of `a = b`).
    Col(ColUnit),
}

/// `(agg_id, col_id, isDistinct)`; `distinct` is `None` once the evaluator erased it.
#[derive(Debug, Clone, PartialEq)]
pub struct ColUnit {
    /// Index into AGG_OPS.
    pub agg: usize,
    /// `__table.column__`, `__all__` for `*`.
    pub col: String,
    /// DISTINCT flag.
    pub distinct: Option<bool>,
}

/// `(unit_op, col_unit1, col_unit2)`.
#[derive(Debug, Clone, PartialEq)]
pub struct ValUnit {
    /// Index into UNIT_OPS.
    pub op: usize,
    /// First operand.
    pub c1: ColUnit,
    /// Second operand of `-`, `+`, `*`, `/`.
    pub c2: Option<ColUnit>,
}

/// `(not_op, op_id, val_unit, val1, val2)`.
#[derive(Debug, Clone, PartialEq)]
pub struct CondUnit {
    /// NOT before the operator.
    pub not: bool,
    /// Index into WHERE_OPS.
    pub op: usize,
    /// Left-hand side.
    pub vu: ValUnit,
    /// First value.
    pub v1: Val,
    /// Second value (BETWEEN).
    pub v2: Val,
}

/// An element of a condition list: `[cond_unit, 'and'/'or', cond_unit, ...]`.
#[derive(Debug, Clone, PartialEq)]
pub enum CondItem {
    /// A condition.
    Unit(CondUnit),
    /// A conjunction, `and` or `or`.
    Conj(String),
}

/// A table unit of FROM.
#[derive(Debug, Clone, PartialEq)]
pub enum TableUnit {
    /// `__table__`
    Table(String),
    /// A subquery.
    Sql(Box<SpiderSql>),
}

/// The parsed query, the `sql` dict of process_sql.py.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpiderSql {
    /// SELECT DISTINCT flag (`None` once erased by the evaluator).
    pub select_distinct: Option<bool>,
    /// `(agg_id, val_unit)` items.
    pub select: Vec<(usize, ValUnit)>,
    /// FROM table units.
    pub from_units: Vec<TableUnit>,
    /// JOIN ON conditions.
    pub from_conds: Vec<CondItem>,
    /// WHERE.
    pub where_: Vec<CondItem>,
    /// GROUP BY.
    pub group_by: Vec<ColUnit>,
    /// HAVING.
    pub having: Vec<CondItem>,
    /// ORDER BY: `(direction, val_units)`.
    pub order_by: Option<(String, Vec<ValUnit>)>,
    /// LIMIT.
    pub limit: Option<i64>,
    /// INTERSECT.
    pub intersect: Option<Box<SpiderSql>>,
    /// EXCEPT.
    pub except: Option<Box<SpiderSql>>,
    /// UNION.
    pub union: Option<Box<SpiderSql>>,
}

/// One database as the official evaluator sees it: lower-cased table -> columns, and the
/// foreign-key map that unifies linked columns.
#[derive(Debug, Clone)]
pub struct SpiderDb {
    /// Tables in order, each with its lower-cased columns.
    pub tables: Vec<(String, Vec<String>)>,
    /// `__t.c__` -> representative `__t.c__` of its foreign-key group.
    pub kmap: HashMap<String, String>,
}

impl SpiderDb {
    /// From a tables.json entry (original names, lower-cased, as `get_schema` would read
    /// them from the .sqlite file).
    pub fn from_tables(e: &SpiderTables) -> SpiderDb {
        let tnames: Vec<String> = e.table_names_original.iter().map(|t| t.to_lowercase()).collect();
        let mut tables: Vec<(String, Vec<String>)> = tnames.iter().map(|t| (t.clone(), vec![])).collect();
        let mut cols = Vec::new();
        for (t, c) in &e.column_names_original {
            if *t >= 0 && (*t as usize) < tables.len() {
                tables[*t as usize].1.push(c.to_lowercase());
                cols.push(format!("__{}.{}__", tnames[*t as usize], c.to_lowercase()));
            } else {
                cols.push("__all__".to_string());
            }
        }
        // build_foreign_key_map: a pair joins the first group holding either column.
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for [a, b] in &e.foreign_keys {
            let gi = match groups.iter().position(|g| g.contains(a) || g.contains(b)) {
                Some(i) => i,
                None => {
                    groups.push(vec![]);
                    groups.len() - 1
                }
            };
            for k in [*a, *b] {
                if !groups[gi].contains(&k) {
                    groups[gi].push(k);
                }
            }
        }
        let mut kmap = HashMap::new();
        for g in groups {
            let m = *g.iter().min().unwrap_or(&0);
            for i in g {
                if let (Some(from), Some(to)) = (cols.get(i), cols.get(m)) {
                    kmap.insert(from.clone(), to.clone());
                }
            }
        }
        SpiderDb { tables, kmap }
    }

    pub(crate) fn columns_of(&self, table: &str) -> Option<&Vec<String>> {
        self.tables.iter().find(|(t, _)| t == table).map(|(_, c)| c)
    }

    /// `schema.idMap[key]`: `*`, `table`, or `table.column`.
    pub(crate) fn id_of(&self, key: &str) -> Option<String> {
        if key == "*" {
            return Some("__all__".into());
        }
        if let Some((t, c)) = key.split_once('.') {
            let cols = self.columns_of(t)?;
            return cols.iter().any(|x| x == c).then(|| format!("__{key}__"));
        }
        self.columns_of(key).map(|_| format!("__{key}__"))
    }
}

/// Spider's per-example exact-set-match of `pred` against `gold` on database `db`:
/// `Ok(true/false)`, or `Err` when the gold itself does not parse (the official script
/// would crash). A prediction that does not parse is a mismatch.
pub fn exact_set_match(db: &SpiderDb, gold: &str, pred: &str) -> Result<bool, SpiderError> {
    let g = parse(db, gold)?;
    let p = parse(db, pred).unwrap_or_default();
    Ok(exact_match(db, &p, &g))
}

impl SpiderDb {
    /// From any schema (e.g. the DDL of an internal example), so exact-set-match works
    /// beyond Spider: columns are numbered in declaration order, as tables.json does.
    pub fn from_schema(schema: &crate::schema::Schema) -> SpiderDb {
        let tables: Vec<(String, Vec<String>)> = schema
            .tables
            .iter()
            .map(|t| (t.name.to_lowercase(), t.columns.iter().map(|c| c.name.to_lowercase()).collect()))
            .collect();
        let mut ids: Vec<String> = vec!["__all__".into()];
        for (t, cols) in &tables {
            ids.extend(cols.iter().map(|c| format!("__{t}.{c}__")));
        }
        let idx = |t: &str, c: &str| ids.iter().position(|x| *x == format!("__{}.{}__", t.to_lowercase(), c.to_lowercase()));
        let mut pairs = Vec::new();
        for t in &schema.tables {
            for fk in &t.foreign_keys {
                if let (Some(a), Some(b)) = (idx(&t.name, &fk.column), idx(&fk.ref_table, &fk.ref_column)) {
                    pairs.push([a, b]);
                }
            }
        }
        let entry = SpiderTables {
            db_id: String::new(),
            table_names_original: tables.iter().map(|(t, _)| t.clone()).collect(),
            column_names_original: std::iter::once((-1, "*".to_string()))
                .chain(tables.iter().enumerate().flat_map(|(i, (_, cols))| cols.iter().map(move |c| (i as i64, c.clone()))))
                .collect(),
            column_types: vec![],
            primary_keys: vec![],
            foreign_keys: pairs,
        };
        SpiderDb::from_tables(&entry)
    }
}
