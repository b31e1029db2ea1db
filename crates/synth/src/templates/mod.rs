//! Instantiates question/SQL templates on a concrete schema, drawing every literal from the
//! generated rows so that the answer exists.

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::Rng;

use crate::catalog::Role;
use crate::instance::{fmt_num, Instance, Val};
use crate::phrasings::TemplateSet;
use crate::variant::{VCol, VSchema, VTable};

mod compound;

/// One instantiated template.
#[derive(Debug, Clone)]
pub struct Gen {
    /// Template kind.
    pub kind: &'static str,
    /// Phrasing id, `key#index`.
    pub phrasing: String,
    /// Question.
    pub question: String,
    /// Gold SQL.
    pub sql: String,
}

/// Every phrasing key of `set`; the generator picks one uniformly and tries to instantiate it.
pub fn keys(set: TemplateSet) -> Vec<&'static str> {
    set.phrasings().map(|p| p.0).collect()
}

/// English plural of a noun phrase (last word).
pub fn plural(n: &str) -> String {
    let (head, last) = match n.rsplit_once(' ') {
        Some((h, l)) => (format!("{h} "), l),
        None => (String::new(), n),
    };
    let irregular = [("person", "people"), ("child", "children"), ("staff", "staff"), ("analysis", "analyses")];
    if let Some((_, p)) = irregular.iter().find(|(s, _)| *s == last) {
        return format!("{head}{p}");
    }
    let l = last.to_string();
    let p = if l.chars().all(|c| c.is_ascii_uppercase()) {
        format!("{l}s")
    } else if l.ends_with('y') && !l.ends_with("ay") && !l.ends_with("ey") && !l.ends_with("oy") {
        format!("{}ies", &l[..l.len() - 1])
    } else if l.ends_with('s') || l.ends_with('x') || l.ends_with("ch") || l.ends_with("sh") {
        format!("{l}es")
    } else {
        format!("{l}s")
    };
    format!("{head}{p}")
}

const MONTHS: [&str; 12] = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

struct Ctx<'a> {
    s: &'a VSchema,
    inst: &'a Instance,
    rng: &'a mut StdRng,
}

fn is_num(c: &VCol) -> bool {
    matches!(c.spec.role, Role::Amount(..) | Role::Int(..))
}
/// Numbers it makes sense to add up or average (not years).
fn is_summable(c: &VCol) -> bool {
    match c.spec.role {
        Role::Amount(..) => true,
        Role::Int(lo, _) => lo < 1800,
        _ => false,
    }
}
/// Numbers whose total means something ("total quantity", not "total rating" or "total age").
fn is_additive(c: &VCol) -> bool {
    const NOT: [&str; 12] = ["rating", "stars", "star", "score", "age", "level", "grade", "rank", "priority", "pct", "percent", "year"];
    is_summable(c) && !c.spec.name.split('_').any(|w| NOT.contains(&w))
}
fn is_cat(c: &VCol) -> bool {
    matches!(c.spec.role, Role::Cat(_))
}
fn is_date(c: &VCol) -> bool {
    matches!(c.spec.role, Role::Date | Role::Ts)
}
fn is_texty(c: &VCol) -> bool {
    matches!(c.spec.role, Role::Person | Role::Name(_) | Role::Last | Role::First)
}

fn nice(v: f64) -> f64 {
    let a = v.abs();
    if a >= 100.0 {
        let mag = 10f64.powi(a.log10().floor() as i32 - 1);
        (v / mag).round() * mag
    } else if a >= 10.0 {
        v.round()
    } else {
        (v * 10.0).round() / 10.0
    }
}

impl Ctx<'_> {
    fn tables(&self) -> Vec<usize> {
        (0..self.s.tables.len()).filter(|&i| !self.s.tables[i].distractor).collect()
    }
    fn t(&self, i: usize) -> &VTable {
        &self.s.tables[i]
    }
    fn noun(&mut self, t: usize) -> String {
        self.s.tables[t].nouns.choose(self.rng).cloned().unwrap_or_default()
    }
    fn label(&mut self, t: usize, c: usize) -> String {
        self.s.tables[t].cols[c].spec.labels.choose(self.rng).cloned().unwrap_or_default()
    }
    fn vals(&self, t: usize, c: usize) -> Vec<&Val> {
        self.inst.rows[t].iter().map(|r| &r[c]).filter(|v| **v != Val::Null).collect()
    }
    fn pick_val(&mut self, t: usize, c: usize) -> Option<Val> {
        let v: Vec<Val> = self.vals(t, c).into_iter().cloned().collect();
        v.choose(self.rng).cloned()
    }
    /// (table, column) pairs satisfying `f`, among non-distractor tables.
    fn cols(&self, f: impl Fn(&VCol) -> bool) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for t in self.tables() {
            for (ci, c) in self.t(t).cols.iter().enumerate() {
                if f(c) {
                    out.push((t, ci));
                }
            }
        }
        out
    }
    fn pick_col(&mut self, f: impl Fn(&VCol) -> bool) -> Option<(usize, usize)> {
        let v = self.cols(f);
        v.choose(self.rng).copied()
    }
    fn pick_col_in(&mut self, t: usize, f: impl Fn(&VCol) -> bool) -> Option<usize> {
        let v: Vec<usize> = self.t(t).cols.iter().enumerate().filter(|(_, c)| f(c)).map(|(i, _)| i).collect();
        v.choose(self.rng).copied()
    }
    /// The column shown for "list the X": a name-like column, else the key.
    fn disp(&self, t: usize) -> usize {
        let cols = &self.t(t).cols;
        cols.iter()
            .position(|c| matches!(c.spec.role, Role::Person | Role::Name(_)))
            .or_else(|| cols.iter().position(|c| matches!(c.spec.role, Role::Last | Role::First)))
            .unwrap_or(0)
    }
    /// (child, fk column, parent).
    fn fks(&self) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        for t in self.tables() {
            for (ci, c) in self.t(t).cols.iter().enumerate() {
                if let Some(p) = c.fk {
                    out.push((t, ci, p));
                }
            }
        }
        out
    }
    fn cn(&self, t: usize, c: usize) -> &str {
        &self.t(t).cols[c].name
    }
    fn tn(&self, t: usize) -> &str {
        &self.t(t).name
    }
    /// How a flag column is said: `is_seasonal` → "seasonal".
    fn flag_words(&self, t: usize, c: usize) -> String {
        let words: Vec<&str> = self.t(t).cols[c].spec.name.split('_').filter(|w| *w != "is" && *w != "flag").collect();
        words.join(" ")
    }
    /// Rows of table `t` where columns `a` and `b` are both set.
    fn rows_with(&self, t: usize, a: usize, b: usize) -> Vec<&Vec<Val>> {
        self.inst.rows[t].iter().filter(|r| r[a] != Val::Null && r[b] != Val::Null).collect()
    }
}

/// "a" before a vowel sound becomes "an" ("an order date", but "a user").
fn articles(s: &str) -> String {
    let words: Vec<&str> = s.split(' ').collect();
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    for (i, w) in words.iter().enumerate() {
        let next = words.get(i + 1).map(|n| n.trim_start_matches(['\'', '"']).to_lowercase()).unwrap_or_default();
        let vowel = next.starts_with(['a', 'e', 'i', 'o']) || (next.starts_with('u') && !next.starts_with("us") && !next.starts_with("uni"));
        match *w {
            "a" if vowel => out.push("an".into()),
            "A" if vowel => out.push("An".into()),
            _ => out.push(w.to_string()),
        }
    }
    out.join(" ")
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        // Keep acronyms ("GPA", "MRR") and the pronoun "I" as they are.
        Some(f) if !c.clone().next().is_some_and(|n| n.is_uppercase()) => f.to_lowercase().collect::<String>() + c.as_str(),
        _ => s.to_string(),
    }
}

fn fill(tpl: &str, vars: &[(&str, String)]) -> String {
    let mut s = tpl.to_string();
    for (k, v) in vars {
        s = s.replace(&format!("{{{k}}}"), v);
    }
    let s = articles(&s);
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => s,
    }
}

fn shown(v: &Val) -> String {
    match v {
        Val::Text(t) => t.clone(),
        Val::Real(f) => fmt_num(*f),
        other => other.sql(),
    }
}

/// Instantiates phrasing key `key` on schema `s` with rows `inst`; None when the schema has
/// no columns the template needs.
pub fn instantiate(key: &'static str, s: &VSchema, inst: &Instance, rng: &mut StdRng) -> Option<Gen> {
    // The last set holds every key.
    let (_, kind, phr) = TemplateSet::V2.phrasings().find(|p| p.0 == key)?;
    let mut x = Ctx { s, inst, rng };
    let (vars, sql) = build(key, &mut x)?;
    let idx = x.rng.random_range(0..phr.len());
    let mut question = fill(phr[idx], &vars);
    // People type questions casually: sometimes no capital, sometimes no final punctuation.
    if x.rng.random_bool(0.12) {
        question = lower_first(&question);
    }
    if x.rng.random_bool(0.15) {
        question = question.trim_end_matches(['?', '.']).to_string();
    }
    // "How many ..." phrasings of row-listing templates count the rows instead.
    let sql = match sql.split_once(" FROM ") {
        Some((_, rest)) if phr[idx].starts_with("How many") && !sql.contains("COUNT(") => format!("SELECT COUNT(*) FROM {rest}"),
        _ => sql,
    };
    Some(Gen { kind, phrasing: format!("{key}#{idx}"), question, sql })
}

type Built = (Vec<(&'static str, String)>, String);

fn build(key: &str, x: &mut Ctx<'_>) -> Option<Built> {
    match key {
        "eq" | "count_eq" | "in" | "distinct" | "count_distinct" | "group_count" | "having" => simple_cat(key, x),
        "eq_and_gt" | "eq_or" => two_conditions(key, x),
        "above_avg" => {
            let (t, c) = x.pick_col(is_summable)?;
            let vars = base_vars(x, t, c);
            let (tn, cn) = (x.tn(t).to_string(), x.cn(t, c).to_string());
            let dn = x.cn(t, x.disp(t)).to_string();
            Some((vars, format!("SELECT {dn}, {cn} FROM {tn} WHERE {cn} > (SELECT AVG({cn}) FROM {tn})")))
        }
        "gt" | "lt" | "between" | "sum" | "avg" | "max" | "min" | "top_desc" | "top_asc" | "top_one" | "sorted" => numeric(key, x),
        "sum_where" | "avg_where" | "group_sum" | "group_avg" => num_by_cat(key, x),
        "starts" | "contains" => like(key, x),
        "null" | "notnull_count" => nulls(key, x),
        "flag_true" | "flag_count_false" => flag(key, x),
        "count_all" => {
            let t = *x.tables().choose(x.rng)?;
            let n = x.noun(t);
            Some((vec![("P", plural(&n))], format!("SELECT COUNT(*) FROM {}", x.tn(t))))
        }
        "month" | "quarter" | "since" | "before" | "year" => date(key, x),
        "flag_and_gt" | "date_and_gt" => compound::mixed_filter(key, x),
        "sum_period" => compound::sum_period(x),
        "join_sum_top" | "join_sum_top1" => compound::join_rank(key, x),
        "join_period_count" | "join_period_top" => compound::join_period(key, x),
        "group_count_sorted" | "group_avg_sorted" | "group_sum_top" => compound::group_sorted(key, x),
        _ => join(key, x),
    }
}

fn base_vars(x: &mut Ctx<'_>, t: usize, c: usize) -> Vec<(&'static str, String)> {
    let n = x.noun(t);
    let l = x.label(t, c);
    vec![("P", plural(&n)), ("S", n), ("Cs", plural(&l)), ("C", l)]
}

fn simple_cat(key: &str, x: &mut Ctx<'_>) -> Option<Built> {
    let (t, c) = x.pick_col(is_cat)?;
    let mut vars = base_vars(x, t, c);
    let v = x.pick_val(t, c)?;
    let (tn, cn, d) = (x.tn(t).to_string(), x.cn(t, c).to_string(), x.disp(t));
    let dn = x.cn(t, d).to_string();
    vars.push(("V", shown(&v)));
    let sql = match key {
        "eq" => format!("SELECT {dn} FROM {tn} WHERE {cn} = {}", v.sql()),
        "count_eq" => format!("SELECT COUNT(*) FROM {tn} WHERE {cn} = {}", v.sql()),
        "in" => {
            let others: Vec<Val> = x.vals(t, c).into_iter().filter(|w| **w != v).cloned().collect();
            let w = others.choose(x.rng)?.clone();
            vars.push(("V2", shown(&w)));
            format!("SELECT {dn} FROM {tn} WHERE {cn} IN ({}, {})", v.sql(), w.sql())
        }
        "distinct" => format!("SELECT DISTINCT {cn} FROM {tn}"),
        "count_distinct" => format!("SELECT COUNT(DISTINCT {cn}) FROM {tn}"),
        "group_count" => format!("SELECT {cn}, COUNT(*) FROM {tn} GROUP BY {cn}"),
        _ => {
            // having: a threshold some group exceeds
            let mut counts: Vec<usize> = Vec::new();
            let vals = x.vals(t, c);
            let mut seen: Vec<&Val> = Vec::new();
            for v in &vals {
                if !seen.contains(v) {
                    seen.push(v);
                    counts.push(vals.iter().filter(|w| *w == v).count());
                }
            }
            counts.sort_unstable();
            let k = counts.get(counts.len().saturating_sub(2)).copied()?.saturating_sub(1).max(1);
            vars.push(("K", k.to_string()));
            format!("SELECT {cn} FROM {tn} GROUP BY {cn} HAVING COUNT(*) > {k}")
        }
    };
    Some((vars, sql))
}

fn numeric(key: &str, x: &mut Ctx<'_>) -> Option<Built> {
    let (t, c) = x.pick_col(if matches!(key, "sum" | "avg") { is_summable } else { is_num })?;
    let mut vars = base_vars(x, t, c);
    let (tn, cn) = (x.tn(t).to_string(), x.cn(t, c).to_string());
    let d = x.disp(t);
    let dn = x.cn(t, d).to_string();
    let v = x.pick_val(t, c)?.num()?;
    let sql = match key {
        "gt" | "lt" => {
            let n = nice(v);
            vars.push(("N", fmt_num(n)));
            format!("SELECT {dn}, {cn} FROM {tn} WHERE {cn} {} {}", if key == "gt" { ">" } else { "<" }, fmt_num(n))
        }
        "between" => {
            let w = x.pick_val(t, c)?.num()?;
            let (a, b) = (nice(v.min(w)), nice(v.max(w)));
            if a >= b {
                return None;
            }
            vars.push(("A", fmt_num(a)));
            vars.push(("B", fmt_num(b)));
            format!("SELECT {dn}, {cn} FROM {tn} WHERE {cn} BETWEEN {} AND {}", fmt_num(a), fmt_num(b))
        }
        "sum" | "avg" | "max" | "min" => format!("SELECT {}({cn}) FROM {tn}", key.to_uppercase()),
        "sorted" => format!("SELECT {dn}, {cn} FROM {tn} ORDER BY {cn} DESC"),
        _ => {
            let k = if key == "top_one" { 1 } else { x.rng.random_range(3..=5) };
            vars.push(("K", k.to_string()));
            let dir = if key == "top_asc" { "ASC" } else { "DESC" };
            let nn = if key == "top_asc" { format!(" WHERE {cn} IS NOT NULL") } else { String::new() };
            format!("SELECT {dn}, {cn} FROM {tn}{nn} ORDER BY {cn} {dir} LIMIT {k}")
        }
    };
    Some((vars, sql))
}

fn num_by_cat(key: &str, x: &mut Ctx<'_>) -> Option<Built> {
    let (t, c) = x.pick_col(is_cat)?;
    let n = x.pick_col_in(t, is_summable)?;
    let noun = x.noun(t);
    let (cl, nl) = (x.label(t, c), x.label(t, n));
    let (tn, cn, nn) = (x.tn(t).to_string(), x.cn(t, c).to_string(), x.cn(t, n).to_string());
    let mut vars = vec![("P", plural(&noun)), ("S", noun)];
    let sql = match key {
        "sum_where" | "avg_where" => {
            let v = x.pick_val(t, c)?;
            vars.extend([("C", nl), ("C2", cl), ("V", shown(&v))]);
            format!("SELECT {}({nn}) FROM {tn} WHERE {cn} = {}", if key == "sum_where" { "SUM" } else { "AVG" }, v.sql())
        }
        _ => {
            vars.extend([("C", cl), ("N", nl)]);
            format!("SELECT {cn}, {}({nn}) FROM {tn} GROUP BY {cn}", if key == "group_sum" { "SUM" } else { "AVG" })
        }
    };
    Some((vars, sql))
}

fn two_conditions(key: &str, x: &mut Ctx<'_>) -> Option<Built> {
    let (t, c) = x.pick_col(is_cat)?;
    let n = x.pick_col_in(t, is_num)?;
    // Take both literals from one row so that the AND has an answer.
    let rows: Vec<Vec<Val>> = x.rows_with(t, c, n).into_iter().cloned().collect();
    let row = rows.choose(x.rng)?.clone();
    let v = row[c].clone();
    let thr = nice(row[n].num()? * if key == "eq_and_gt" { 0.8 } else { 1.2 });
    let noun = x.noun(t);
    let (cl, nl) = (x.label(t, c), x.label(t, n));
    let (tn, cn, nn) = (x.tn(t).to_string(), x.cn(t, c).to_string(), x.cn(t, n).to_string());
    let dn = x.cn(t, x.disp(t)).to_string();
    let vars = vec![("P", plural(&noun)), ("S", noun), ("C2", cl), ("V", shown(&v)), ("C", nl), ("N", fmt_num(thr))];
    let sql = if key == "eq_and_gt" {
        format!("SELECT {dn} FROM {tn} WHERE {cn} = {} AND {nn} > {}", v.sql(), fmt_num(thr))
    } else {
        format!("SELECT {dn} FROM {tn} WHERE {cn} = {} OR {nn} < {}", v.sql(), fmt_num(thr))
    };
    Some((vars, sql))
}

fn like(key: &str, x: &mut Ctx<'_>) -> Option<Built> {
    let (t, c) = x.pick_col(is_texty)?;
    let mut vars = base_vars(x, t, c);
    let v = x.pick_val(t, c)?;
    let text = v.text()?.to_string();
    let (tn, cn) = (x.tn(t).to_string(), x.cn(t, c).to_string());
    let (frag, pat) = if key == "starts" {
        let f: String = text.chars().take(x.rng.random_range(1..=3)).collect();
        (f.clone(), format!("{f}%"))
    } else {
        let words: Vec<&str> = text.split_whitespace().filter(|w| w.chars().count() >= 3).collect();
        let w = words.choose(x.rng)?.to_string();
        (w.clone(), format!("%{w}%"))
    };
    if frag.contains('\'') || frag.contains('%') || frag.contains('_') {
        return None;
    }
    vars.push(("V", frag));
    Some((vars, format!("SELECT {cn} FROM {tn} WHERE {cn} LIKE '{pat}'")))
}

fn nulls(key: &str, x: &mut Ctx<'_>) -> Option<Built> {
    let (t, c) = x.pick_col(|c| c.null_rate > 0.0)?;
    let vars = base_vars(x, t, c);
    let (tn, cn) = (x.tn(t).to_string(), x.cn(t, c).to_string());
    let dn = x.cn(t, x.disp(t)).to_string();
    let sql = if key == "null" {
        format!("SELECT {dn} FROM {tn} WHERE {cn} IS NULL")
    } else {
        format!("SELECT COUNT(*) FROM {tn} WHERE {cn} IS NOT NULL")
    };
    Some((vars, sql))
}

fn flag(key: &str, x: &mut Ctx<'_>) -> Option<Built> {
    let (t, c) = x.pick_col(|c| c.spec.role == Role::Flag)?;
    let mut vars = base_vars(x, t, c);
    vars.push(("W", x.flag_words(t, c)));
    let (tn, cn) = (x.tn(t).to_string(), x.cn(t, c).to_string());
    let dn = x.cn(t, x.disp(t)).to_string();
    Some((vars, if key == "flag_true" {
        format!("SELECT {dn} FROM {tn} WHERE {cn} = 1")
    } else {
        format!("SELECT COUNT(*) FROM {tn} WHERE {cn} = 0")
    }))
}

fn ymd(v: &Val) -> Option<(i64, u32, u32)> {
    let t = v.text()?;
    let y = t.get(0..4)?.parse().ok()?;
    let m = t.get(5..7)?.parse().ok()?;
    let d = t.get(8..10)?.parse().ok()?;
    Some((y, m, d))
}

fn date(key: &str, x: &mut Ctx<'_>) -> Option<Built> {
    let (t, c) = x.pick_col(is_date)?;
    let mut vars = base_vars(x, t, c);
    let v = x.pick_val(t, c)?;
    let (tn, cn) = (x.tn(t).to_string(), x.cn(t, c).to_string());
    let dn = x.cn(t, x.disp(t)).to_string();
    let (phrase, cond) = period(key, &cn, &v, x.rng)?;
    vars.push(("T", phrase));
    Some((vars, format!("SELECT {dn}, {cn} FROM {tn} WHERE {cond}")))
}

/// A period around the date `v` as people say it and as a condition on column `cn`: `key` is
/// month, quarter, since, before or year.
fn period(key: &str, cn: &str, v: &Val, rng: &mut StdRng) -> Option<(String, String)> {
    let (y, m, d) = ymd(v)?;
    let next = |y: i64, m: u32| if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    Some(match key {
        "month" => {
            let (ny, nm) = next(y, m);
            let p = if rng.random_bool(0.7) { format!("{} {y}", MONTHS[m as usize - 1]) } else { format!("{y}-{m:02}") };
            (p, format!("{cn} >= '{y}-{m:02}-01' AND {cn} < '{ny}-{nm:02}-01'"))
        }
        "quarter" => {
            let q = (m - 1) / 3 + 1;
            let (sm, (ey, em)) = ((q - 1) * 3 + 1, next(y, q * 3));
            let ord = ["first", "second", "third", "fourth"][q as usize - 1];
            let p = match rng.random_range(0..3) {
                0 => format!("the {ord} quarter of {y}"),
                1 => format!("Q{q} {y}"),
                _ => format!("{} to {} {y}", MONTHS[sm as usize - 1], MONTHS[q as usize * 3 - 1]),
            };
            (p, format!("{cn} >= '{y}-{sm:02}-01' AND {cn} < '{ey}-{em:02}-01'"))
        }
        "since" => {
            let p = match rng.random_range(0..3) {
                0 => format!("{y}-{m:02}-{d:02}"),
                1 => format!("{} {d}, {y}", MONTHS[m as usize - 1]),
                _ => format!("{d} {} {y}", MONTHS[m as usize - 1]),
            };
            (p, format!("{cn} >= '{y}-{m:02}-{d:02}'"))
        }
        "before" => {
            let (ny, nm) = next(y, m);
            let p = if rng.random_bool(0.5) { format!("{ny}-{nm:02}-01") } else { format!("{} 1, {ny}", MONTHS[nm as usize - 1]) };
            (p, format!("{cn} < '{ny}-{nm:02}-01'"))
        }
        _ => (y.to_string(), format!("{cn} >= '{y}-01-01' AND {cn} < '{}-01-01'", y + 1)),
    })
}

/// A child table joined to its parent over a foreign key, as the join templates write it.
struct Join {
    ch: usize,
    pa: usize,
    /// Child and parent table names.
    ctn: String,
    ptn: String,
    /// The foreign key column (in the child) and the parent's key.
    fkn: String,
    pk: String,
    /// Display columns of child and parent.
    cd: String,
    pd: String,
    /// How the child and parent are referred to in the query (alias or table name).
    ca: String,
    pa_: String,
    /// `child [AS c] JOIN parent [AS p] ON ...`.
    from: String,
    /// {cP}, {cS}, {pP}, {pS}.
    vars: Vec<(&'static str, String)>,
}

/// Picks a foreign key and writes its join, aliased half of the time.
fn pick_join(x: &mut Ctx<'_>) -> Option<Join> {
    let fks = x.fks();
    let &(ch, fk, pa) = fks.choose(x.rng)?;
    let (cnoun, pnoun) = (x.noun(ch), x.noun(pa));
    let vars = vec![("cP", plural(&cnoun)), ("cS", cnoun), ("pP", plural(&pnoun)), ("pS", pnoun)];
    let (ctn, ptn, fkn, pk) = (x.tn(ch).to_string(), x.tn(pa).to_string(), x.cn(ch, fk).to_string(), x.cn(pa, 0).to_string());
    let (cd, pd) = (x.cn(ch, x.disp(ch)).to_string(), x.cn(pa, x.disp(pa)).to_string());
    let aliased = x.rng.random_bool(0.5);
    let (ca, pa_) = if aliased {
        let a = |s: &str| s.trim_matches('"').chars().next().unwrap_or('t').to_ascii_lowercase().to_string();
        let (c1, p1) = (a(&ctn), a(&ptn));
        if c1 == p1 { ("t1".to_string(), "t2".to_string()) } else { (c1, p1) }
    } else {
        (ctn.clone(), ptn.clone())
    };
    let from = if aliased {
        format!("{ctn} AS {ca} JOIN {ptn} AS {pa_} ON {ca}.{fkn} = {pa_}.{pk}")
    } else {
        format!("{ctn} JOIN {ptn} ON {ctn}.{fkn} = {ptn}.{pk}")
    };
    Some(Join { ch, pa, ctn, ptn, fkn, pk, cd, pd, ca, pa_, from, vars })
}

fn join(key: &str, x: &mut Ctx<'_>) -> Option<Built> {
    let Join { ch, pa, ctn, ptn, fkn, pk, cd, pd, ca, pa_, from, mut vars } = pick_join(x)?;
    let sql = match key {
        "join_filter" => {
            let c = x.pick_col_in(pa, is_cat)?;
            let v = x.pick_val(pa, c)?;
            let l = x.label(pa, c);
            vars.extend([("pC", l), ("V", shown(&v))]);
            format!("SELECT {ca}.{cd} FROM {from} WHERE {pa_}.{} = {}", x.cn(pa, c), v.sql())
        }
        "join_distinct" => {
            let c = x.pick_col_in(ch, is_cat)?;
            let v = x.pick_val(ch, c)?;
            let l = x.label(ch, c);
            vars.extend([("cC", l), ("V", shown(&v))]);
            format!("SELECT DISTINCT {pa_}.{pd} FROM {from} WHERE {ca}.{} = {}", x.cn(ch, c), v.sql())
        }
        "join_cat_avg" => {
            let pc = x.pick_col_in(pa, is_cat)?;
            let c = x.pick_col_in(ch, is_summable)?;
            let (pl, cl) = (x.label(pa, pc), x.label(ch, c));
            vars.extend([("pC", pl), ("cC", cl)]);
            let pcn = x.cn(pa, pc).to_string();
            format!("SELECT {pa_}.{pcn}, AVG({ca}.{}) FROM {from} GROUP BY {pa_}.{pcn}", x.cn(ch, c))
        }
        "join_top" => format!("SELECT {pa_}.{pd} FROM {from} GROUP BY {pa_}.{pk} ORDER BY COUNT(*) DESC LIMIT 1"),
        "join_count" => format!("SELECT {pa_}.{pd}, COUNT(*) FROM {from} GROUP BY {pa_}.{pk}"),
        "join_sum" => {
            let c = x.pick_col_in(ch, is_summable)?;
            let l = x.label(ch, c);
            vars.push(("cC", l));
            format!("SELECT {pa_}.{pd}, SUM({ca}.{}) FROM {from} GROUP BY {pa_}.{pk}", x.cn(ch, c))
        }
        "nested_in" | "not_in_cond" => {
            let c = x.pick_col_in(ch, is_cat)?;
            let v = x.pick_val(ch, c)?;
            let l = x.label(ch, c);
            vars.extend([("cC", l), ("V", shown(&v))]);
            let op = if key == "nested_in" { "IN" } else { "NOT IN" };
            format!("SELECT {pd} FROM {ptn} WHERE {pk} {op} (SELECT {fkn} FROM {ctn} WHERE {} = {})", x.cn(ch, c), v.sql())
        }
        "nested_in_gt" => {
            let c = x.pick_col_in(ch, is_num)?;
            let n = nice(x.pick_val(ch, c)?.num()?);
            let l = x.label(ch, c);
            vars.extend([("cC", l), ("N", fmt_num(n))]);
            format!("SELECT {pd} FROM {ptn} WHERE {pk} IN (SELECT {fkn} FROM {ctn} WHERE {} > {})", x.cn(ch, c), fmt_num(n))
        }
        "not_in" => format!("SELECT {pd} FROM {ptn} WHERE {pk} NOT IN (SELECT {fkn} FROM {ctn})"),
        _ => return None,
    };
    Some((vars, sql))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_and_articles() {
        assert_eq!(plural("country"), "countries");
        assert_eq!(plural("day"), "days");
        assert_eq!(plural("status"), "statuses");
        assert_eq!(plural("staff member"), "staff members");
        assert_eq!(plural("person"), "people");
        assert_eq!(fill("Which {P} have a {C} above {N}?", &[("P", "orders".into()), ("C", "order total".into()), ("N", "5".into())]), "Which orders have an order total above 5?");
        assert_eq!(articles("a user and a unit and a item"), "a user and a unit and an item");
    }

    #[test]
    fn nice_thresholds() {
        assert_eq!(nice(12345.0), 12000.0);
        assert_eq!(nice(47.4), 47.0);
        assert_eq!(nice(3.24), 3.2);
    }
}
