//! Port of evaluation.py: value/column rebuilding (values erased, DISTINCT erased,
//! foreign-key columns unified), the component-wise exact match, and hardness.

use super::{ColUnit, CondItem, SpiderDb, SpiderSql, TableUnit, Val, ValUnit};

/// Spider's difficulty levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Hardness {
    /// easy
    Easy,
    /// medium
    Medium,
    /// hard
    Hard,
    /// extra
    Extra,
}

impl Hardness {
    /// The official name.
    pub fn as_str(self) -> &'static str {
        match self {
            Hardness::Easy => "easy",
            Hardness::Medium => "medium",
            Hardness::Hard => "hard",
            Hardness::Extra => "extra",
        }
    }
}

const LIKE: usize = 9;
const IN: usize = 8;

fn evens(c: &[CondItem]) -> impl Iterator<Item = &CondItem> {
    c.iter().step_by(2)
}

fn odds(c: &[CondItem]) -> impl Iterator<Item = &CondItem> {
    c.iter().skip(1).step_by(2)
}

fn is_or(c: &CondItem) -> bool {
    matches!(c, CondItem::Conj(s) if s == "or")
}

/// `cond_unit[0]` truthiness (`not_op`; a stray 'and'/'or' string is truthy).
fn truthy0(c: &CondItem) -> bool {
    match c {
        CondItem::Unit(u) => u.not,
        CondItem::Conj(_) => true,
    }
}

fn op_of(c: &CondItem) -> Option<usize> {
    match c {
        CondItem::Unit(u) => Some(u.op),
        CondItem::Conj(_) => None,
    }
}

fn nested(sql: &SpiderSql) -> usize {
    let mut n = 0;
    for c in evens(&sql.from_conds).chain(evens(&sql.where_)).chain(evens(&sql.having)) {
        if let CondItem::Unit(u) = c {
            n += matches!(u.v1, Val::Sql(_)) as usize + matches!(u.v2, Val::Sql(_)) as usize;
        }
    }
    n + sql.intersect.is_some() as usize + sql.except.is_some() as usize + sql.union.is_some() as usize
}

/// `Evaluator.eval_hardness` on the parsed gold.
pub fn hardness(sql: &SpiderSql) -> Hardness {
    let all_conds = || evens(&sql.from_conds).chain(evens(&sql.where_)).chain(evens(&sql.having));
    let mut c1 = 0usize;
    c1 += !sql.where_.is_empty() as usize;
    c1 += !sql.group_by.is_empty() as usize;
    c1 += sql.order_by.is_some() as usize;
    c1 += sql.limit.is_some() as usize;
    c1 += sql.from_units.len().saturating_sub(1);
    c1 += odds(&sql.from_conds).chain(odds(&sql.where_)).chain(odds(&sql.having)).filter(|c| is_or(c)).count();
    c1 += all_conds().filter(|c| op_of(c) == Some(LIKE)).count();
    let c2 = nested(sql);
    let mut others = 0usize;
    let mut agg = sql.select.iter().filter(|(a, _)| *a != 0).count();
    agg += evens(&sql.where_).filter(|c| truthy0(c)).count();
    agg += sql.group_by.iter().filter(|c| c.agg != 0).count();
    if let Some((_, units)) = &sql.order_by {
        agg += units.iter().filter(|u| u.c1.agg != 0).count();
        agg += units.iter().filter_map(|u| u.c2.as_ref()).filter(|c| c.agg != 0).count();
    }
    agg += sql.having.iter().filter(|c| truthy0(c)).count();
    others += (agg > 1) as usize;
    others += (sql.select.len() > 1) as usize;
    others += (sql.where_.len() > 1) as usize;
    others += (sql.group_by.len() > 1) as usize;
    if c1 <= 1 && others == 0 && c2 == 0 {
        Hardness::Easy
    } else if (others <= 2 && c1 <= 1 && c2 == 0) || (c1 <= 2 && others < 2 && c2 == 0) {
        Hardness::Medium
    } else if (others > 2 && c1 <= 2 && c2 == 0)
        || (2 < c1 && c1 <= 3 && others <= 2 && c2 == 0)
        || (c1 <= 1 && others == 0 && c2 <= 1)
    {
        Hardness::Hard
    } else {
        Hardness::Extra
    }
}

// ---- rebuild_sql_val: values erased, recursively into nested queries (not FROM ones).

fn rebuild_val(sql: &mut SpiderSql) {
    for conds in [&mut sql.from_conds, &mut sql.having, &mut sql.where_] {
        for c in conds.iter_mut().step_by(2) {
            if let CondItem::Unit(u) = c {
                for v in [&mut u.v1, &mut u.v2] {
                    match v {
                        Val::Sql(s) => rebuild_val(s),
                        _ => *v = Val::Nil,
                    }
                }
            }
        }
    }
    for s in [&mut sql.intersect, &mut sql.except, &mut sql.union].into_iter().flatten() {
        rebuild_val(s);
    }
}

// ---- rebuild_sql_col: DISTINCT erased, foreign keys unified (values left alone).

struct ColCtx<'a> {
    valid: Vec<String>,
    kmap: &'a std::collections::HashMap<String, String>,
}

impl ColCtx<'_> {
    fn col(&self, c: &mut ColUnit) {
        if let Some(k) = self.kmap.get(&c.col) {
            if self.valid.contains(&c.col) {
                c.col = k.clone();
            }
        }
        c.distinct = None;
    }
    fn val_unit(&self, v: &mut ValUnit) {
        self.col(&mut v.c1);
        if let Some(c) = &mut v.c2 {
            self.col(c);
        }
    }
    fn conds(&self, conds: &mut [CondItem]) {
        for c in conds.iter_mut().step_by(2) {
            if let CondItem::Unit(u) = c {
                self.val_unit(&mut u.vu);
            }
        }
    }
    fn sql(&self, sql: &mut SpiderSql) {
        sql.select_distinct = None;
        for (_, vu) in &mut sql.select {
            self.val_unit(vu);
        }
        self.conds(&mut sql.from_conds);
        self.conds(&mut sql.where_);
        for c in &mut sql.group_by {
            self.col(c);
        }
        if let Some((_, units)) = &mut sql.order_by {
            for u in units {
                self.val_unit(u);
            }
        }
        self.conds(&mut sql.having);
        for s in [&mut sql.intersect, &mut sql.except, &mut sql.union].into_iter().flatten() {
            self.sql(s);
        }
    }
}

fn rebuild(db: &SpiderDb, sql: &SpiderSql) -> SpiderSql {
    let prefixes: Vec<String> = sql
        .from_units
        .iter()
        .filter_map(|t| match t {
            TableUnit::Table(id) => Some(id[..id.len().saturating_sub(2)].to_string()),
            TableUnit::Sql(_) => None,
        })
        .collect();
    let mut valid = Vec::new();
    for (t, cols) in &db.tables {
        if prefixes.iter().any(|p| *p == format!("__{t}")) {
            for c in cols {
                valid.push(format!("__{t}.{c}__"));
            }
        }
    }
    let mut s = sql.clone();
    rebuild_val(&mut s);
    ColCtx { valid, kmap: &db.kmap }.sql(&mut s);
    s
}

/// Per-example exact match: both queries are rebuilt (values erased, DISTINCT erased,
/// foreign keys unified) and compared component by component, as evaluation.py does.
pub fn exact_match(db: &SpiderDb, pred: &SpiderSql, gold: &SpiderSql) -> bool {
    let p = rebuild(db, pred);
    let g = rebuild(db, gold);
    eval_exact(&p, &g)
}

/// Multiset matching of `pred` items into `label` items; returns the match count.
fn matched<T: PartialEq>(pred: &[T], label: &[T]) -> usize {
    let mut left: Vec<&T> = label.iter().collect();
    let mut n = 0;
    for p in pred {
        if let Some(i) = left.iter().position(|l| *l == p) {
            left.remove(i);
            n += 1;
        }
    }
    n
}

fn scores_ok(cnt: usize, pred_total: usize, label_total: usize) -> bool {
    pred_total == label_total && cnt == pred_total
}

fn keywords(sql: &SpiderSql) -> Vec<&str> {
    let mut k: Vec<&str> = Vec::new();
    if !sql.where_.is_empty() {
        k.push("where");
    }
    if !sql.group_by.is_empty() {
        k.push("group");
    }
    if !sql.having.is_empty() {
        k.push("having");
    }
    if let Some((dir, _)) = &sql.order_by {
        k.push(dir.as_str());
        k.push("order");
    }
    if sql.limit.is_some() {
        k.push("limit");
    }
    if sql.except.is_some() {
        k.push("except");
    }
    if sql.union.is_some() {
        k.push("union");
    }
    if sql.intersect.is_some() {
        k.push("intersect");
    }
    if odds(&sql.from_conds).chain(odds(&sql.where_)).chain(odds(&sql.having)).any(is_or) {
        k.push("or");
    }
    let units: Vec<&CondItem> = evens(&sql.from_conds).chain(evens(&sql.where_)).chain(evens(&sql.having)).collect();
    if units.iter().any(|c| truthy0(c)) {
        k.push("not");
    }
    if units.iter().any(|c| op_of(c) == Some(IN)) {
        k.push("in");
    }
    if units.iter().any(|c| op_of(c) == Some(LIKE)) {
        k.push("like");
    }
    k.sort();
    k.dedup();
    k
}

fn eval_exact(p: &SpiderSql, g: &SpiderSql) -> bool {
    // select
    if !scores_ok(matched(&p.select, &g.select), p.select.len(), g.select.len()) {
        return false;
    }
    // where (cond units compared whole; values are already erased)
    let pw: Vec<&CondItem> = evens(&p.where_).collect();
    let gw: Vec<&CondItem> = evens(&g.where_).collect();
    if !scores_ok(matched(&pw, &gw), pw.len(), gw.len()) {
        return false;
    }
    // group (no having): column names without table
    let strip = |c: &ColUnit| c.col.split_once('.').map(|(_, b)| b.to_string()).unwrap_or_else(|| c.col.clone());
    let pg: Vec<String> = p.group_by.iter().map(strip).collect();
    let gg: Vec<String> = g.group_by.iter().map(strip).collect();
    if !scores_ok(matched(&pg, &gg), pg.len(), gg.len()) {
        return false;
    }
    // group (with having): ordered column ids and identical HAVING
    let (pt, lt) = (!p.group_by.is_empty() as usize, !g.group_by.is_empty() as usize);
    let pcols: Vec<&String> = p.group_by.iter().map(|c| &c.col).collect();
    let gcols: Vec<&String> = g.group_by.iter().map(|c| &c.col).collect();
    let cnt = (pt == 1 && lt == 1 && pcols == gcols && p.having == g.having) as usize;
    if !scores_ok(cnt, pt, lt) {
        return false;
    }
    // order: same ORDER BY and same LIMIT presence
    let (pt, lt) = (p.order_by.is_some() as usize, g.order_by.is_some() as usize);
    let cnt = (g.order_by.is_some() && p.order_by == g.order_by && p.limit.is_some() == g.limit.is_some()) as usize;
    if !scores_ok(cnt, pt, lt) {
        return false;
    }
    // and/or: same set of conjunctions in WHERE
    let set = |c: &[CondItem]| {
        let mut v: Vec<String> = odds(c).map(|x| format!("{x:?}")).collect();
        v.sort();
        v.dedup();
        v
    };
    if set(&p.where_) != set(&g.where_) {
        return false;
    }
    // IUEN
    let mut lt = 0;
    let mut pt = 0;
    let mut cnt = 0;
    for (ps, gs) in [(&p.intersect, &g.intersect), (&p.except, &g.except), (&p.union, &g.union)] {
        pt += ps.is_some() as usize;
        lt += gs.is_some() as usize;
        if let (Some(a), Some(b)) = (ps, gs) {
            cnt += eval_exact(a, b) as usize;
        }
    }
    if !scores_ok(cnt, pt, lt) {
        return false;
    }
    // keywords
    let (pk, gk) = (keywords(p), keywords(g));
    let common = pk.iter().filter(|k| gk.contains(k)).count();
    if !scores_ok(common, pk.len(), gk.len()) {
        return false;
    }
    // tables (as multisets)
    if !g.from_units.is_empty() {
        return p.from_units.len() == g.from_units.len() && matched(&p.from_units, &g.from_units) == g.from_units.len();
    }
    true
}

