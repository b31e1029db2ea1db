//! Schema trimming for large databases: tables are ranked by lexical overlap between the
//! question's words and table/column names (lower-cased, split on `_`, camelCase and
//! punctuation, lightly stemmed so `singers`/`singer`, `countries`/`country` meet), column
//! matches weighted by how rare the word is among tables (IDF). The matching tables are
//! kept, then their foreign-key neighbours, while the DDL fits the budget.

use std::collections::{HashMap, HashSet};

use crate::schema::Schema;

/// Why a table was kept or dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct TableChoice {
    /// Table name.
    pub table: String,
    /// Lexical score (0: no overlap with the question).
    pub score: f64,
    /// Question words that matched the table or its columns.
    pub matched: Vec<String>,
    /// Kept as a foreign-key neighbour of this table (not for its own score).
    pub neighbour_of: Option<String>,
}

/// The outcome of [`trim_schema`].
#[derive(Debug, Clone)]
pub struct Trimmed {
    /// The schema to prompt with (tables in their original order).
    pub schema: Schema,
    /// Kept tables, in the order they were chosen.
    pub kept: Vec<TableChoice>,
    /// Dropped tables, best first.
    pub dropped: Vec<TableChoice>,
}

impl Trimmed {
    /// Whether any table was dropped.
    pub fn trimmed(&self) -> bool {
        !self.dropped.is_empty()
    }
}

const STOPWORDS: &[&str] = &[
    "a", "an", "the", "of", "in", "on", "at", "to", "for", "by", "with", "and", "or", "is", "are", "was", "were", "be",
    "been", "what", "which", "who", "whom", "whose", "how", "many", "much", "list", "show", "give", "find", "return",
    "all", "each", "every", "that", "this", "these", "those", "there", "from", "their", "its", "it", "do", "does", "did",
    "have", "has", "had", "than", "more", "less", "most", "least", "number", "count", "me", "please", "as", "per", "any",
    "some", "not", "no", "name", "names", "id", "ids",
];

/// Light stemming: plural and common inflection endings.
pub fn stem(w: &str) -> String {
    let w = w.to_lowercase();
    let n = w.len();
    if n > 4 && w.ends_with("ies") {
        return format!("{}y", &w[..n - 3]);
    }
    if n > 4 && (w.ends_with("sses") || w.ends_with("ches") || w.ends_with("shes") || w.ends_with("xes")) {
        return w[..n - 2].to_string();
    }
    if n > 3 && w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") && !w.ends_with("is") {
        return w[..n - 1].to_string();
    }
    // ordered -> order, shipped -> ship, ranking -> rank.
    for suffix in ["ed", "ing"] {
        if n > suffix.len() + 3 && w.ends_with(suffix) {
            let mut base = w[..n - suffix.len()].to_string();
            let b = base.as_bytes();
            if b.len() > 2 && b[b.len() - 1] == b[b.len() - 2] && !b"aeiouls".contains(&b[b.len() - 1]) {
                base.pop();
            }
            return base;
        }
    }
    w
}

/// Words of an identifier or a sentence: split on non-alphanumerics, `_` and camelCase.
pub fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for ch in s.chars() {
        if !ch.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if ch.is_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = ch.is_lowercase() || ch.is_ascii_digit();
        cur.extend(ch.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn stems(s: &str) -> HashSet<String> {
    words(s).iter().map(|w| stem(w)).collect()
}

/// Scores every table against `question`, best first (ties keep schema order).
pub fn rank_tables(schema: &Schema, question: &str) -> Vec<TableChoice> {
    let q: HashSet<String> = words(question)
        .into_iter()
        .filter(|w| !STOPWORDS.contains(&w.as_str()) && w.len() > 1)
        .map(|w| stem(&w))
        .collect();
    let n = schema.tables.len() as f64;
    let cols: Vec<HashSet<String>> =
        schema.tables.iter().map(|t| t.columns.iter().flat_map(|c| stems(&c.name)).collect()).collect();
    let mut df: HashMap<&str, f64> = HashMap::new();
    for set in &cols {
        for s in set {
            *df.entry(s.as_str()).or_default() += 1.0;
        }
    }
    let mut ranked: Vec<(usize, TableChoice)> = schema
        .tables
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let name = stems(&t.name);
            let mut score = 0.0;
            let mut matched = Vec::new();
            for w in &q {
                let mut hit = false;
                if name.contains(w) {
                    score += 3.0;
                    hit = true;
                }
                if cols[i].contains(w) {
                    score += (1.0 + n / df.get(w.as_str()).copied().unwrap_or(1.0)).ln();
                    hit = true;
                }
                if hit {
                    matched.push(w.clone());
                }
            }
            matched.sort();
            (i, TableChoice { table: t.name.clone(), score, matched, neighbour_of: None })
        })
        .collect();
    ranked.sort_by(|a, b| b.1.score.total_cmp(&a.1.score).then(a.0.cmp(&b.0)));
    ranked.into_iter().map(|(_, c)| c).collect()
}

/// Keeps the tables relevant to `question`. When the whole schema fits (`fits(ddl)` and at
/// most `max_tables` tables), nothing is dropped. Otherwise tables with a positive score
/// are taken best first, then their foreign-key neighbours (the tables they reference,
/// then the tables referencing them), each only while the DDL still fits; with no lexical match at all, tables are taken in
/// schema order. At least one table is always kept.
pub fn trim_schema(schema: &Schema, question: &str, max_tables: usize, fits: &dyn Fn(&str) -> bool) -> Trimmed {
    let ranked = rank_tables(schema, question);
    if schema.tables.len() <= max_tables && fits(&schema.to_ddl()) {
        return Trimmed { schema: schema.clone(), kept: ranked, dropped: vec![] };
    }
    let lower = |s: &str| s.to_lowercase();
    // Tables that `t` references (outgoing) or that reference `t` (incoming).
    let neighbours = |t: &str, outgoing: bool| -> Vec<String> {
        let mut out = Vec::new();
        for tab in &schema.tables {
            if outgoing && lower(&tab.name) == lower(t) {
                out.extend(tab.foreign_keys.iter().map(|fk| fk.ref_table.clone()));
            } else if !outgoing && tab.foreign_keys.iter().any(|fk| lower(&fk.ref_table) == lower(t)) {
                out.push(tab.name.clone());
            }
        }
        out
    };
    let mut chosen: Vec<TableChoice> = Vec::new();
    let subset = |names: &[TableChoice]| -> Schema {
        let set: HashSet<String> = names.iter().map(|c| lower(&c.table)).collect();
        Schema { tables: schema.tables.iter().filter(|t| set.contains(&lower(&t.name))).cloned().collect() }
    };
    let try_add = |chosen: &mut Vec<TableChoice>, c: TableChoice| {
        if chosen.len() >= max_tables.max(1) || chosen.iter().any(|x| lower(&x.table) == lower(&c.table)) {
            return;
        }
        if schema.table(&c.table).is_none() {
            return;
        }
        chosen.push(c);
        if chosen.len() > 1 && !fits(&subset(chosen).to_ddl()) {
            chosen.pop();
        }
    };
    let any_match = ranked.first().is_some_and(|c| c.score > 0.0);
    if any_match {
        // Matching tables first, then what they reference, then what references them.
        for c in ranked.iter().filter(|c| c.score > 0.0) {
            try_add(&mut chosen, c.clone());
        }
        for outgoing in [true, false] {
            let sources: Vec<String> = chosen.iter().filter(|c| c.neighbour_of.is_none()).map(|c| c.table.clone()).collect();
            for src in sources {
                for nb in neighbours(&src, outgoing) {
                    let score = ranked.iter().find(|r| lower(&r.table) == lower(&nb)).map(|r| r.score).unwrap_or(0.0);
                    try_add(&mut chosen, TableChoice { table: nb, score, matched: vec![], neighbour_of: Some(src.clone()) });
                }
            }
        }
    } else {
        for t in &schema.tables {
            try_add(&mut chosen, TableChoice { table: t.name.clone(), score: 0.0, matched: vec![], neighbour_of: None });
        }
    }
    let kept: HashSet<String> = chosen.iter().map(|c| lower(&c.table)).collect();
    let dropped = ranked.into_iter().filter(|c| !kept.contains(&lower(&c.table))).collect();
    Trimmed { schema: subset(&chosen), kept: chosen, dropped }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stemming_and_words() {
        assert_eq!(stem("singers"), "singer");
        assert_eq!(stem("countries"), "country");
        assert_eq!(stem("matches"), "match");
        assert_eq!(stem("status"), "status");
        assert_eq!(stem("address"), "address");
        assert_eq!(stem("ordered"), "order");
        assert_eq!(stem("shipped"), "ship");
        assert_eq!(stem("billing"), "bill");
        assert_eq!(stem("red"), "red");
        assert_eq!(words("concertYear singer_ID"), vec!["concert", "year", "singer", "id"]);
        assert_eq!(words("How many singers?"), vec!["how", "many", "singers"]);
    }
}
