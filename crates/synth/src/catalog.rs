//! The hand-written schema families (`schemas/*.txt`, format in `schemas/README.md`).

use crate::error::{Result, SynthError};
use crate::words;

/// What a column holds; drives value generation and which templates can use it.
#[derive(Debug, Clone, PartialEq)]
pub enum Role {
    /// Integer primary key.
    Id,
    /// Foreign key to the named table of the same family.
    Fk(String),
    /// A person's full name.
    Person,
    /// A first name.
    First,
    /// A last name.
    Last,
    /// An entity name drawn from these values.
    Name(Vec<String>),
    /// A category drawn from these values.
    Cat(Vec<String>),
    /// Free text drawn from these values (often missing).
    Text(Vec<String>),
    /// An e-mail address.
    Email,
    /// A phone number.
    Phone,
    /// A date, ISO TEXT `YYYY-MM-DD`.
    Date,
    /// A timestamp, `YYYY-MM-DD HH:MM:SS`.
    Ts,
    /// A decimal amount in this range.
    Amount(f64, f64),
    /// An integer in this range.
    Int(i64, i64),
    /// A boolean stored as 0/1.
    Flag,
}

/// A column of a family table.
#[derive(Debug, Clone)]
pub struct ColSpec {
    /// Identifier (snake_case words).
    pub name: String,
    /// What it holds.
    pub role: Role,
    /// How people say it; never empty.
    pub labels: Vec<String>,
}

/// A table of a family.
#[derive(Debug, Clone)]
pub struct TableSpec {
    /// Identifier.
    pub name: String,
    /// Singular nouns people use for one row; never empty.
    pub nouns: Vec<String>,
    /// Columns; the first is the `Id`.
    pub cols: Vec<ColSpec>,
}

/// A schema family: one hand-written business schema.
#[derive(Debug, Clone)]
pub struct Family {
    /// Family id, unique.
    pub id: String,
    /// Domain (the file it comes from).
    pub domain: String,
    /// Tables, parents before children.
    pub tables: Vec<TableSpec>,
}

const FILES: &[(&str, &str)] = &[
    ("retail", include_str!("../schemas/retail.txt")),
    ("finance", include_str!("../schemas/finance.txt")),
    ("health", include_str!("../schemas/health.txt")),
    ("education", include_str!("../schemas/education.txt")),
    ("hr", include_str!("../schemas/hr.txt")),
    ("travel", include_str!("../schemas/travel.txt")),
    ("media", include_str!("../schemas/media.txt")),
    ("tech", include_str!("../schemas/tech.txt")),
    ("public", include_str!("../schemas/public.txt")),
    ("services", include_str!("../schemas/services.txt")),
    ("leisure", include_str!("../schemas/leisure.txt")),
    ("logistics", include_str!("../schemas/logistics.txt")),
    ("industry", include_str!("../schemas/industry.txt")),
    ("civic", include_str!("../schemas/civic.txt")),
    ("digital", include_str!("../schemas/digital.txt")),
];

/// All built-in families, in file order.
pub fn families() -> Result<Vec<Family>> {
    let mut out = Vec::new();
    for (domain, text) in FILES {
        out.extend(parse_families(domain, text)?);
    }
    let mut seen = std::collections::BTreeSet::new();
    for f in &out {
        if !seen.insert(f.id.clone()) {
            return Err(SynthError::Catalog { file: f.domain.clone(), line: 0, message: format!("duplicate family id {}", f.id) });
        }
    }
    Ok(out)
}

/// Parses one schema file.
pub fn parse_families(domain: &str, text: &str) -> Result<Vec<Family>> {
    let err = |line: usize, message: String| SynthError::Catalog { file: format!("{domain}.txt"), line, message };
    let mut fams: Vec<Family> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let ln = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(id) = line.strip_prefix("@family ") {
            fams.push(Family { id: id.trim().to_string(), domain: domain.to_string(), tables: vec![] });
            continue;
        }
        let fam = fams.last_mut().ok_or_else(|| err(ln, "table line before any @family".into()))?;
        let (head, body) = line.split_once("]:").ok_or_else(|| err(ln, "expected `table [nouns]: columns`".into()))?;
        let (tname, nouns) = head.split_once('[').ok_or_else(|| err(ln, "expected `[nouns]` after the table name".into()))?;
        let nouns: Vec<String> = nouns.split('|').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        if nouns.is_empty() {
            return Err(err(ln, "no nouns".into()));
        }
        let mut cols = Vec::new();
        for spec in body.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let (spec, labels) = match spec.split_once('"') {
                Some((a, b)) => (a.trim(), b.trim_end_matches('"').split('|').map(|s| s.trim().to_string()).collect::<Vec<_>>()),
                None => (spec, vec![]),
            };
            let mut it = spec.split_whitespace();
            let name = it.next().ok_or_else(|| err(ln, "empty column".into()))?.to_string();
            let role_s = it.next().ok_or_else(|| err(ln, format!("column {name}: no role")))?;
            let role = parse_role(role_s).map_err(|m| err(ln, format!("column {name}: {m}")))?;
            let labels = if labels.is_empty() { vec![default_label(&name, &role)] } else { labels };
            cols.push(ColSpec { name, role, labels });
        }
        if cols.first().map(|c| &c.role) != Some(&Role::Id) {
            return Err(err(ln, "the first column must have role id".into()));
        }
        fam.tables.push(TableSpec { name: tname.trim().to_string(), nouns, cols });
    }
    for f in &fams {
        for t in &f.tables {
            for c in &t.cols {
                if let Role::Fk(p) = &c.role {
                    if !f.tables.iter().any(|x| &x.name == p) {
                        return Err(err(0, format!("{}.{}.{}: unknown table {p}", f.id, t.name, c.name)));
                    }
                }
            }
        }
    }
    Ok(fams)
}

fn values(s: &str) -> Result<Vec<String>, String> {
    if let Some(p) = words::pool(s) {
        return Ok(p.iter().map(|v| v.to_string()).collect());
    }
    if !s.contains('/') {
        return Err(format!("unknown pool {s}"));
    }
    Ok(s.split('/').map(|v| v.replace('_', " ")).collect())
}

fn range(s: &str) -> Result<(f64, f64), String> {
    // "lo-hi" where lo may be negative.
    let (neg, rest) = match s.strip_prefix('-') { Some(r) => (true, r), None => (false, s) };
    let (a, b) = rest.split_once('-').ok_or_else(|| format!("bad range {s}"))?;
    let a: f64 = a.parse().map_err(|_| format!("bad range {s}"))?;
    let b: f64 = b.parse().map_err(|_| format!("bad range {s}"))?;
    Ok((if neg { -a } else { a }, b))
}

fn parse_role(s: &str) -> Result<Role, String> {
    let (k, arg) = s.split_once(':').unwrap_or((s, ""));
    Ok(match k {
        "id" => Role::Id,
        "fk" => Role::Fk(arg.to_string()),
        "person" => Role::Person,
        "first" => Role::First,
        "last" => Role::Last,
        "name" => Role::Name(values(arg)?),
        "cat" => Role::Cat(values(arg)?),
        "text" => Role::Text(values(arg)?),
        "email" => Role::Email,
        "phone" => Role::Phone,
        "date" => Role::Date,
        "ts" => Role::Ts,
        "amount" => { let (a, b) = range(arg)?; Role::Amount(a, b) }
        "int" => { let (a, b) = range(arg)?; Role::Int(a as i64, b as i64) }
        "flag" => Role::Flag,
        _ => return Err(format!("unknown role {k}")),
    })
}

fn default_label(name: &str, role: &Role) -> String {
    let words: Vec<&str> = name.split('_').filter(|w| !matches!(*w, "id" | "is" | "num")).collect();
    let l = words.join(" ");
    match role {
        Role::Id => "ID".into(),
        _ if l.is_empty() => name.replace('_', " "),
        _ => l,
    }
}
