//! Procedural variation: one family becomes one of thousands of concrete schemas (renamed,
//! re-cased, prefixed, column subsets and orders, distractor tables) written as DDL the way
//! users paste it (type spellings, inline or table-level keys, constraints, layout).

use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::Rng;

use crate::catalog::{ColSpec, Family, Role, TableSpec};
use crate::words::{PREFIXES, RESERVED, SYNONYMS};

/// A column of a concrete schema.
#[derive(Debug, Clone)]
pub struct VCol {
    /// The family column.
    pub spec: ColSpec,
    /// Identifier as written in DDL and SQL (quoted when needed).
    pub name: String,
    /// Type spelling.
    pub ty: String,
    /// NOT NULL.
    pub not_null: bool,
    /// Fraction of NULLs in generated rows.
    pub null_rate: f64,
    /// Index of the referenced table in `VSchema::tables`.
    pub fk: Option<usize>,
}

/// A table of a concrete schema.
#[derive(Debug, Clone)]
pub struct VTable {
    /// Identifier as written.
    pub name: String,
    /// Natural nouns (singular).
    pub nouns: Vec<String>,
    /// Columns; the first is the primary key.
    pub cols: Vec<VCol>,
    /// Borrowed from another family (never used by the question).
    pub distractor: bool,
}

/// A concrete schema.
#[derive(Debug, Clone)]
pub struct VSchema {
    /// Family id.
    pub family: String,
    /// Tables in DDL order.
    pub tables: Vec<VTable>,
    /// The DDL.
    pub ddl: String,
}

#[derive(Clone, Copy, PartialEq)]
enum Case {
    Snake,
    Camel,
    Pascal,
    Upper,
}

struct Namer {
    case: Case,
    syn_p: f64,
}

impl Namer {
    fn render(&self, words: &[String]) -> String {
        match self.case {
            Case::Snake => words.join("_"),
            Case::Upper => words.join("_").to_uppercase(),
            Case::Camel | Case::Pascal => words
                .iter()
                .enumerate()
                .map(|(i, w)| if i == 0 && self.case == Case::Camel { w.clone() } else { capitalize(w) })
                .collect(),
        }
    }

    fn rename(&self, ident: &str, rng: &mut StdRng) -> Vec<String> {
        let mut out = Vec::new();
        for w in ident.split('_') {
            let syn = SYNONYMS.iter().find(|(k, _)| *k == w);
            match syn {
                Some((_, alts)) if rng.random_bool(self.syn_p) => {
                    out.extend(alts.choose(rng).unwrap_or(&w).split('_').map(str::to_string))
                }
                _ => out.push(w.to_string()),
            }
        }
        out
    }
}

fn capitalize(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// Quotes an identifier when it is an SQL keyword.
pub fn quote_if_needed(s: &str) -> String {
    if RESERVED.contains(&s.to_lowercase().as_str()) {
        format!("\"{s}\"")
    } else {
        s.to_string()
    }
}

/// Singular of a table identifier (`branches` → `branch`, `categories` → `category`).
pub fn singular_ident(name: &str) -> String {
    if name.ends_with("vies") || name.ends_with("kies") {
        name[..name.len() - 1].to_string()
    } else if ["ches", "shes", "xes", "sses"].iter().any(|e| name.ends_with(e)) {
        name[..name.len() - 2].to_string()
    } else if let Some(s) = name.strip_suffix("ies") {
        format!("{s}y")
    } else if name.ends_with("ss") || name.ends_with("us") {
        name.to_string()
    } else if let Some(s) = name.strip_suffix('s') {
        s.to_string()
    } else {
        name.to_string()
    }
}

fn type_for(role: &Role, flavor: usize, rng: &mut StdRng) -> String {
    let opts: &[&str] = match role {
        Role::Id | Role::Fk(_) => &["INTEGER", "INT", "INTEGER", "BIGINT"],
        Role::Person | Role::First | Role::Last | Role::Name(_) => &["TEXT", "VARCHAR(100)", "VARCHAR(255)", "NVARCHAR(80)"],
        Role::Cat(_) => &["TEXT", "VARCHAR(50)", "VARCHAR(30)", "CHAR(20)"],
        Role::Text(_) => &["TEXT", "VARCHAR(500)", "TEXT", "VARCHAR(1000)"],
        Role::Email | Role::Phone => &["TEXT", "VARCHAR(120)", "VARCHAR(255)", "VARCHAR(40)"],
        Role::Date => &["TEXT", "DATE", "DATE", "DATE"],
        Role::Ts => &["TEXT", "TIMESTAMP", "DATETIME", "TIMESTAMP"],
        Role::Amount(..) => &["REAL", "DECIMAL(10,2)", "NUMERIC(12,2)", "FLOAT"],
        Role::Int(..) => &["INTEGER", "INT", "INTEGER", "SMALLINT"],
        Role::Flag => &["INTEGER", "BOOLEAN", "BOOLEAN", "TINYINT"],
    };
    if rng.random_bool(0.75) {
        opts[flavor % opts.len()].to_string()
    } else {
        opts.choose(rng).unwrap_or(&"TEXT").to_string()
    }
}

/// Builds a concrete schema of `fam`, with distractor tables drawn from `others`.
pub fn make(fam: &Family, others: &[&Family], rng: &mut StdRng) -> VSchema {
    let namer = Namer {
        case: *[Case::Snake, Case::Snake, Case::Snake, Case::Camel, Case::Pascal, Case::Upper].choose(rng).unwrap_or(&Case::Snake),
        syn_p: *[0.0, 0.2, 0.4].choose(rng).unwrap_or(&0.0),
    };
    let prefix = if rng.random_bool(0.2) { PREFIXES.choose(rng).copied().unwrap_or("") } else { "" };
    let singular = rng.random_bool(0.2);
    let bare_id = rng.random_bool(0.25);
    let flavor = rng.random_range(0..4);
    let nn_p = *[0.0, 0.3, 0.7].choose(rng).unwrap_or(&0.0);

    let mut specs: Vec<(TableSpec, bool)> = fam.tables.iter().map(|t| (t.clone(), false)).collect();
    if !others.is_empty() && rng.random_bool(0.6) {
        for _ in 0..rng.random_range(1..=2) {
            let Some(of) = others.choose(rng) else { break };
            if of.id == fam.id {
                continue;
            }
            let Some(t) = of.tables.choose(rng) else { continue };
            if specs.iter().any(|(s, _)| s.name == t.name) {
                continue;
            }
            let mut t = t.clone();
            for c in &mut t.cols {
                if matches!(c.role, Role::Fk(_)) {
                    c.role = Role::Int(1, 20);
                }
            }
            let pos = rng.random_range(0..=specs.len());
            specs.insert(pos, (t, true));
        }
    }
    // Parents must come before children for generation: keep family order, distractors anywhere.
    let mut tables: Vec<VTable> = Vec::new();
    let mut tnames: Vec<String> = Vec::new();
    for (t, _) in &specs {
        let base = if singular { singular_ident(&t.name) } else { t.name.clone() };
        let mut words = namer.rename(&base, rng);
        if !prefix.is_empty() {
            words.insert(0, prefix.trim_end_matches('_').to_string());
        }
        let mut n = quote_if_needed(&namer.render(&words));
        if tnames.iter().any(|x| x.eq_ignore_ascii_case(&n)) {
            n = quote_if_needed(&t.name);
        }
        tnames.push(n);
    }
    for (ti, (t, distractor)) in specs.iter().enumerate() {
        let mut cols: Vec<VCol> = Vec::new();
        let key_or_used = |c: &ColSpec| matches!(c.role, Role::Id | Role::Fk(_));
        let mut optional: Vec<&ColSpec> = t.cols.iter().filter(|c| !key_or_used(c)).collect();
        let keep_n = optional.len().min(2).max(((optional.len() as f64) * rng.random_range(0.6..=1.0)).round() as usize);
        if rng.random_bool(0.3) {
            optional.shuffle(rng);
        }
        while optional.len() > keep_n {
            let i = rng.random_range(0..optional.len());
            optional.remove(i);
        }
        let mut order: Vec<&ColSpec> = t.cols.iter().filter(|c| key_or_used(c)).collect();
        order.extend(optional);
        let n_nullable = rng.random_range(0..=2usize);
        let mut nullable_left = n_nullable;
        for c in order {
            let fk = match &c.role {
                Role::Fk(p) => specs.iter().position(|(s, d)| !*d && &s.name == p),
                _ => None,
            };
            let words = if c.role == Role::Id && bare_id {
                vec!["id".to_string()]
            } else {
                namer.rename(&c.name, rng)
            };
            let mut name = quote_if_needed(&namer.render(&words));
            if cols.iter().any(|x| x.name.eq_ignore_ascii_case(&name)) {
                name = quote_if_needed(&namer.render(&c.name.split('_').map(String::from).collect::<Vec<_>>()));
                if cols.iter().any(|x| x.name.eq_ignore_ascii_case(&name)) {
                    continue;
                }
            }
            let is_key = matches!(c.role, Role::Id | Role::Fk(_));
            let null_rate = if !is_key && nullable_left > 0 && !matches!(c.role, Role::Flag) && rng.random_bool(0.4) {
                nullable_left -= 1;
                0.25
            } else if matches!(c.role, Role::Text(_)) {
                0.3
            } else {
                0.0
            };
            let not_null = c.role != Role::Id && null_rate == 0.0 && rng.random_bool(nn_p);
            cols.push(VCol { spec: c.clone(), name, ty: type_for(&c.role, flavor, rng), not_null, null_rate, fk });
        }
        tables.push(VTable { name: tnames[ti].clone(), nouns: t.nouns.clone(), cols, distractor: *distractor });
    }
    let ddl = render_ddl(&tables, rng);
    VSchema { family: fam.id.clone(), tables, ddl }
}

fn render_ddl(tables: &[VTable], rng: &mut StdRng) -> String {
    let pretty = rng.random_bool(0.5);
    let lower = rng.random_bool(0.15);
    let fk_style = rng.random_range(0..3); // 0 inline, 1 table-level, 2 mixed
    let pk_table_level = rng.random_bool(0.25);
    let indent = if rng.random_bool(0.5) { "  " } else { "    " };
    let kw = |s: &str| if lower { s.to_lowercase() } else { s.to_string() };
    let mut out = Vec::new();
    for t in tables {
        let mut parts: Vec<String> = Vec::new();
        let mut trailing: Vec<String> = Vec::new();
        for (i, c) in t.cols.iter().enumerate() {
            let mut s = format!("{} {}", c.name, kw(&c.ty));
            if i == 0 {
                if pk_table_level {
                    s.push_str(&kw(" NOT NULL"));
                    trailing.push(format!("{} ({})", kw("PRIMARY KEY"), c.name));
                } else {
                    s.push_str(&kw(" PRIMARY KEY"));
                }
            } else {
                if c.not_null {
                    s.push_str(&kw(" NOT NULL"));
                }
                if matches!(c.spec.role, Role::Email) && rng.random_bool(0.5) {
                    s.push_str(&kw(" UNIQUE"));
                }
                if c.not_null || rng.random_bool(0.3) {
                    match &c.spec.role {
                        Role::Flag => s.push_str(&kw(if c.ty == "BOOLEAN" && rng.random_bool(0.5) { " DEFAULT FALSE" } else { " DEFAULT 0" })),
                        Role::Cat(v) if rng.random_bool(0.3) => s.push_str(&format!("{} '{}'", kw(" DEFAULT"), v[0].replace('\'', "''"))),
                        Role::Ts if rng.random_bool(0.3) => s.push_str(&kw(" DEFAULT CURRENT_TIMESTAMP")),
                        _ => {}
                    }
                }
            }
            if let Some(p) = c.fk {
                let pt = &tables[p];
                let inline = fk_style == 0 || (fk_style == 2 && rng.random_bool(0.5));
                if inline {
                    s.push_str(&format!("{} {}({})", kw(" REFERENCES"), pt.name, pt.cols[0].name));
                } else {
                    trailing.push(format!("{} ({}) {} {}({})", kw("FOREIGN KEY"), c.name, kw("REFERENCES"), pt.name, pt.cols[0].name));
                }
            }
            parts.push(s);
        }
        parts.extend(trailing);
        let head = format!("{} {}", kw("CREATE TABLE"), t.name);
        if pretty {
            out.push(format!("{head} (\n{indent}{}\n);", parts.join(&format!(",\n{indent}"))));
        } else {
            out.push(format!("{head} ({});", parts.join(", ")));
        }
    }
    out.join(if pretty { "\n\n" } else { "\n" })
}

#[cfg(test)]
mod tests {
    use super::singular_ident;

    #[test]
    fn singulars() {
        for (p, s) in [("branches", "branch"), ("categories", "category"), ("movies", "movie"), ("boxes", "box"), ("orders", "order"), ("staff", "staff"), ("addresses", "address")] {
            assert_eq!(singular_ident(p), s);
        }
    }
}
