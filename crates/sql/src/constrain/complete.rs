//! Finishing a statement: the shortest text (in a small move vocabulary) that makes a viable
//! prefix complete. The decoder uses it when a constrained generation is about to run out of
//! `max_new_tokens`, so that the answer still parses instead of being cut mid-clause.
//!
//! Breadth-first (a beam of the first viable texts per depth) over moves (close a string or parenthesis, finish the word being typed, add a
//! literal `1`, a `FROM`/`JOIN` of a schema table, `END`, ...), each judged by [`check`]: the
//! parser is the oracle, so whatever is returned is accepted by the constraint as complete.

use super::lex::{lex, Tok};
use super::parse::{arity, begins, check, Verdict, FUNCTIONS, LITERAL_WORDS, RESERVED};

/// Most moves appended.
const MAX_DEPTH: usize = 5;
/// Viable texts kept per depth (the first found: moves are tried shortest first).
const BEAM: usize = 48;
/// Most texts judged in one search.
const MAX_CHECKS: usize = 3000;

/// Moves that do not depend on the schema, shortest first.
const GENERIC: &[&str] = &[
    ")", " 1", " END", " NULL", " (1)", " BY 1", " ON 1", " AND 1", " THEN 1", " WHEN 1", " IN (1)", " SELECT 1", " AS INTEGER",
    " (SELECT 1)", " AS (SELECT 1)", " a AS (SELECT 1) SELECT 1", ") SELECT 1", " a", " THEN 1 END", " WHEN 1 THEN 1 END", " 1 AS INTEGER)",
];

/// The shortest completion of `text` found (`Some("")` when it is complete already); `None`
/// when it is dead or none is found within [`MAX_DEPTH`] moves and [`MAX_CHECKS`] checks.
pub(super) fn completion(tables: &[(String, Vec<String>)], text: &str) -> Option<String> {
    match check(tables, text) {
        Verdict::Complete => return Some(String::new()),
        Verdict::Dead => return None,
        Verdict::Viable => {}
    }
    // After a carriage return only a line feed may come.
    let mut frontier = vec![if text.ends_with('\r') { "\n".to_string() } else { String::new() }];
    let mut checks = 0;
    for _ in 0..MAX_DEPTH {
        let mut next = Vec::new();
        for suffix in &frontier {
            let base = format!("{text}{suffix}");
            for m in moves(tables, &base) {
                checks += 1;
                if checks > MAX_CHECKS {
                    return None;
                }
                let cand = format!("{suffix}{m}");
                match check(tables, &format!("{text}{cand}")) {
                    Verdict::Complete => return Some(cand),
                    Verdict::Viable => next.push(cand),
                    Verdict::Dead => {}
                }
            }
        }
        next.truncate(BEAM);
        frontier = next;
    }
    None
}

/// What may follow `text`: depends on how it ends (inside a string, a quoted name, a word or a
/// number being typed, after a qualifier's dot, or between tokens).
fn moves(tables: &[(String, Vec<String>)], text: &str) -> Vec<String> {
    let Ok(toks) = lex(text) else { return Vec::new() };
    let names = || tables.iter().flat_map(|(t, cols)| std::iter::once(t).chain(cols));
    // Qualifiers used but not defined yet (`T1.name` before FROM): define them as aliases.
    // Only the statement still open is looked at: the last SELECT not inside a closed
    // parenthesis (`... INTERSECT SELECT T2.name`, `FROM (SELECT ...) JOIN`).
    let mut depth = 0i32;
    let mut starts: Vec<(usize, i32)> = Vec::new();
    for (k, t) in toks.iter().enumerate() {
        match t {
            Tok::Punct("(") => depth += 1,
            Tok::Punct(")") => depth -= 1,
            Tok::Word(w) if w.eq_ignore_ascii_case("SELECT") => starts.push((k, depth)),
            _ => {}
        }
    }
    let stmt = starts.iter().rev().find(|&&(_, d)| d <= depth).map_or(0, |&(k, _)| k);
    let toks_stmt = &toks[stmt..];
    let mut quals: Vec<&str> = toks_stmt
        .windows(2)
        .filter_map(|w| match w {
            [Tok::Word(q), Tok::Punct(".")] if !tables.iter().any(|(t, _)| t.eq_ignore_ascii_case(q)) => Some(q.as_str()),
            _ => None,
        })
        .collect();
    let defined = |q: &str| {
        toks_stmt.windows(2).any(|w| matches!(w, [Tok::Word(a), Tok::Word(b)] if b == q && (a.eq_ignore_ascii_case("AS") || tables.iter().any(|(t, _)| t.eq_ignore_ascii_case(a)))))
    };
    quals.retain(|q| !defined(q));
    quals.sort_unstable();
    quals.dedup();
    let define_rest = define(tables, toks_stmt, &quals);
    let open = toks.iter().fold(0i32, |d, t| match t {
        Tok::Punct("(") => d + 1,
        Tok::Punct(")") => d - 1,
        _ => d,
    });
    let close_all = ")".repeat(open.max(0) as usize);
    let between = || {
        let mut m: Vec<String> = GENERIC.iter().map(|s| s.to_string()).collect();
        if open > 1 {
            m.push(close_all.clone());
        }
        for (t, _) in tables {
            let t = ident(t);
            m.extend([format!(" {t}"), format!(" JOIN {t}"), format!(" FROM {t}")]);
            if open > 0 {
                m.push(format!("{close_all} FROM {t}"));
            }
        }
        for q in &quals {
            m.extend([format!(" {q}"), format!(" AS {q}")]);
        }
        m.sort_by_key(String::len);
        if let Some(items) = &define_rest {
            m.extend([format!(" {items}"), format!(" JOIN {items}"), format!(" FROM {items}")]);
            if open > 0 {
                m.push(format!("{close_all} FROM {items}"));
            }
        }
        m
    };
    match toks.last() {
        Some(Tok::OpenStr) => vec!["'".into()],
        Some(Tok::Open) => vec!["=".into(), "|".into()],
        Some(Tok::PartialQuoted(q)) => {
            let rests: Vec<&str> =
                std::iter::once("").chain(names().filter(|n| n.len() > q.len() && begins(n, q)).map(|n| &n[q.len()..])).collect();
            rests.iter().map(|r| format!("{r}\"")).collect()
        }
        Some(Tok::PartialWord(w)) => {
            let words = [RESERVED, FUNCTIONS, LITERAL_WORDS].concat();
            let mut m: Vec<String> = words
                .iter()
                .map(|s| s.to_string())
                .chain(names().cloned())
                .chain(toks.iter().filter_map(|t| match t {
                    Tok::Word(w) => Some(w.clone()),
                    _ => None,
                }))
                .filter(|n| n.len() >= w.len() && begins(n, w))
                .flat_map(|n| {
                    let call = if n.eq_ignore_ascii_case("CAST") {
                        Some("(1 AS INTEGER)".to_string())
                    } else {
                        FUNCTIONS.iter().any(|f| f.eq_ignore_ascii_case(&n)).then(|| format!("({})", vec!["1"; arity(&n).0].join(", ")))
                    };
                    same_case(w, &n[w.len()..]).into_iter().flat_map(move |rest| {
                        std::iter::once(rest.clone()).chain(call.as_ref().map(|c| format!("{rest}{c}")))
                    })
                })
                .filter(|m| !m.is_empty())
                .collect();
            // The word may be a qualifier: `.column` of its table.
            m.extend(qualified_columns(tables, &toks, w).into_iter().map(|c| format!(".{}", ident(c))));
            m.sort_by_key(String::len);
            m.dedup();
            m.extend(between());
            m
        }
        Some(Tok::Num) if text.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '.' || c == '+' || c == '-') => {
            let mut m = vec!["1".to_string()];
            m.extend(between());
            m
        }
        Some(Tok::Punct(".")) => std::iter::once("*".to_string()).chain(tables.iter().flat_map(|(_, c)| c.iter().map(|c| ident(c)))).collect(),
        _ => between(),
    }
}

/// The rest of a word in the case the typed part uses (`sel` → `ect`, `SEL` → `ECT`; after a
/// Capitalised or camel-case start, both as spelled and in lower case).
fn same_case(typed: &str, rest: &str) -> Vec<String> {
    if !typed.bytes().any(|b| b.is_ascii_uppercase()) {
        vec![rest.to_ascii_lowercase()]
    } else if !typed.bytes().any(|b| b.is_ascii_lowercase()) {
        vec![rest.to_ascii_uppercase()]
    } else {
        vec![rest.to_string(), rest.to_ascii_lowercase()]
    }
}

/// A name as SQL text: quoted unless it is a plain identifier.
fn ident(n: &str) -> String {
    let plain = n.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if plain {
        n.to_string()
    } else {
        format!("\"{}\"", n.replace('"', "\"\""))
    }
}

/// Defines every qualifier of `quals` at once, each as the first table that has every column
/// the text uses with it: `t AS a JOIN u AS b`.
fn define(tables: &[(String, Vec<String>)], toks: &[Tok], quals: &[&str]) -> Option<String> {
    if quals.is_empty() {
        return None;
    }
    // Tables already named in the statement count towards the two uses a table may have.
    let mut uses: Vec<usize> = tables
        .iter()
        .map(|(t, _)| toks.iter().filter(|k| matches!(k, Tok::Word(w) | Tok::Quoted(w) if w.eq_ignore_ascii_case(t))).count())
        .collect();
    let items = quals
        .iter()
        .map(|q| {
            let used: Vec<&str> = toks
                .windows(3)
                .filter_map(|w| match w {
                    [Tok::Word(x), Tok::Punct("."), Tok::Word(c) | Tok::Quoted(c)] if x == q => Some(c.as_str()),
                    _ => None,
                })
                .collect();
            let has = |cols: &Vec<String>| used.iter().all(|c| cols.iter().any(|k| k.eq_ignore_ascii_case(c)));
            let k = (0..tables.len()).find(|&k| uses[k] < 2 && has(&tables[k].1))?;
            uses[k] += 1;
            Some(format!("{} AS {q}", ident(&tables[k].0)))
        })
        .collect::<Option<Vec<_>>>()?;
    Some(items.join(" JOIN "))
}

/// The columns `q.` may name: of table `q`, or of the table `q` is an alias of; every column
/// when `q` is not defined (yet).
fn qualified_columns<'t>(tables: &'t [(String, Vec<String>)], toks: &[Tok], q: &str) -> Vec<&'t String> {
    let table = |name: &str| tables.iter().find(|(t, _)| t.eq_ignore_ascii_case(name));
    let aliased = toks.windows(3).find_map(|w| match w {
        [Tok::Word(t), Tok::Word(a), Tok::Word(x) | Tok::PartialWord(x)] if a.eq_ignore_ascii_case("AS") && x == q => table(t),
        [_, Tok::Word(t), Tok::Word(x) | Tok::PartialWord(x)] if x == q => table(t),
        _ => None,
    });
    match aliased.or_else(|| table(q)) {
        Some((_, cols)) => cols.iter().collect(),
        None => tables.iter().flat_map(|(_, cols)| cols).collect(),
    }
}
