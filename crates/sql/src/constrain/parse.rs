//! The prefix parser: recursive descent over SQLite's SELECT grammar where the end of the input
//! (in "viable" mode) stops the parse successfully, and a word still being typed matches every
//! keyword or allowed name it begins.

use super::lex::{lex_spaced, Tok};

/// Where a text stands against the grammar and the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No continuation makes it a valid statement.
    Dead,
    /// Some continuation does.
    Viable,
    /// It is a whole valid statement already.
    Complete,
}

#[derive(Debug)]
enum Stop {
    Viable,
    Dead,
}

type R<T> = Result<T, Stop>;

pub(super) const RESERVED: &[&str] = &[
    "ALL", "AND", "AS", "ASC", "BETWEEN", "BY", "CASE", "CAST", "CROSS", "DESC", "DISTINCT", "ELSE", "END", "ESCAPE",
    "EXCEPT", "EXISTS", "FROM", "FULL", "GLOB", "GROUP", "HAVING", "IN", "INNER", "INTERSECT", "IS", "ISNULL", "JOIN",
    "LEFT", "LIKE", "LIMIT", "NATURAL", "NOT", "NOTNULL", "NULL", "OFFSET", "ON", "OR", "ORDER", "OUTER", "RIGHT",
    "SELECT", "THEN", "UNION", "USING", "WHEN", "WHERE", "WITH",
];

pub(super) const FUNCTIONS: &[&str] = &[
    "ABS", "AVG", "CHAR", "COALESCE", "COUNT", "DATE", "DATETIME", "GROUP_CONCAT", "HEX", "IFNULL", "IIF", "INSTR",
    "JULIANDAY", "LENGTH", "LOWER", "LTRIM", "MAX", "MIN", "NULLIF", "PRINTF", "RANDOM", "REPLACE", "ROUND", "RTRIM",
    "STRFTIME", "SUBSTR", "SUBSTRING", "SUM", "TIME", "TOTAL", "TRIM", "TYPEOF", "UNIXEPOCH", "UPPER",
];

/// How many arguments SQLite accepts in a call of `f` (one of [`FUNCTIONS`]): (least, most).
/// `COUNT(*)` counts as one.
pub(super) fn arity(f: &str) -> (usize, usize) {
    const MANY: usize = usize::MAX;
    match f.to_ascii_uppercase().as_str() {
        "RANDOM" => (0, 0),
        "CHAR" | "DATE" | "DATETIME" | "JULIANDAY" | "MAX" | "MIN" | "PRINTF" | "STRFTIME" | "TIME" | "UNIXEPOCH" => {
            (1, MANY)
        }
        "COALESCE" => (2, MANY),
        "GROUP_CONCAT" | "LTRIM" | "ROUND" | "RTRIM" | "TRIM" => (1, 2),
        "IFNULL" | "INSTR" | "NULLIF" => (2, 2),
        "SUBSTR" | "SUBSTRING" => (2, 3),
        "IIF" | "REPLACE" => (3, 3),
        _ => (1, 1),
    }
}

pub(super) const LITERAL_WORDS: &[&str] = &["NULL", "TRUE", "FALSE", "CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP"];

/// Keywords that may follow a table in FROM: an alias without AS may be neither a longer word
/// that begins with one (`WHEREscore`, `ONstores`) nor two or more letters one begins with
/// (`GRO`, `wh`).
const AFTER_TABLE: &[&str] = &[
    "CROSS", "EXCEPT", "GROUP", "HAVING", "INNER", "INTERSECT", "JOIN", "LEFT", "LIMIT", "NATURAL", "ON", "OR", "ORDER",
    "RIGHT", "UNION", "USING", "WHERE",
];

/// The name of a result column that is an expression without an alias: nothing can match it.
const UNNAMED: &str = "\u{0}";

/// Longest alias or CTE name a query may define.
const MAX_FREE_NAME: usize = 32;

/// Longest alias a table may get without AS.
const MAX_IMPLICIT_ALIAS: usize = 3;

/// Most tables and subqueries one FROM may list.
const MAX_FROM_ITEMS: usize = 8;

/// An alias without AS: short, no clause keyword run on or cut short, and no SQL keyword at
/// all (`FROM t SET`, `FROM t AT RIGHT JOIN u`, `FOR`: sqlparser and SQLite refuse them).
fn implicit_alias_ok(w: &str) -> bool {
    w.len() <= MAX_IMPLICIT_ALIAS
        && sqlparser::keywords::ALL_KEYWORDS.binary_search(&w.to_ascii_uppercase().as_str()).is_err()
        && !AFTER_TABLE.iter().any(|k| w.len() > k.len() && begins(w, k))
        && !(w.len() >= 2 && RESERVED.iter().any(|k| begins(k, w)))
}

/// Aggregates, the only calls that take DISTINCT (MIN and MAX with one argument; with more they
/// are scalar functions).
const AGGREGATES: &[&str] = &["AVG", "COUNT", "GROUP_CONCAT", "MAX", "MIN", "SUM", "TOTAL"];

/// Deepest parenthesis nesting a constrained statement may reach (Spider's gold needs 4).
const MAX_DEPTH: usize = 6;

/// Times one table may appear in one FROM (a self-join needs two).
const MAX_SAME_TABLE: usize = 2;

/// Qualifiers used before FROM (e.g. `T1.name`) may be aliases FROM defines later: short ones only.
const MAX_FORWARD_ALIAS: usize = 3;

fn eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

pub(super) fn begins(word: &str, prefix: &str) -> bool {
    word.len() >= prefix.len() && word.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Whether an unquoted word is written in a spelling people use: each part of it all lower
/// case, all upper case or Capitalised, where the parts are those of a schema name it spells
/// (split at `_` and at camel-case humps: `StoreId`, `document_ID`, `petType` for `PetType`),
/// or the whole word when it spells none. SQL ignores case, but a model refused the word it
/// wants escapes into the case variants the tokenizer offers (`sToRe_id`, `iNNER`, `tYPEOF`).
/// A `partial` word is judged on the part of a name it spells so far.
fn case_ok(tables: &[(String, Vec<String>)], w: &str, partial: bool) -> bool {
    if plain_case(w) {
        return true;
    }
    let fits = |n: &String| {
        let spells = if partial { begins(n, w) } else { eq(n, w) };
        spells && humps(n).all(|(a, b)| plain_case(&w[a.min(w.len())..b.min(w.len())]))
    };
    tables.iter().any(|(t, cols)| fits(t) || cols.iter().any(fits))
}

/// All lower case, all upper case, or Capitalised.
fn plain_case(w: &str) -> bool {
    !w.bytes().skip(1).any(|b| b.is_ascii_uppercase()) || !w.bytes().any(|b| b.is_ascii_lowercase())
}

/// Byte ranges of a name's parts: split at `_`, before an upper-case letter that follows a
/// lower-case letter or digit, and before the last capital of a run that a lower-case letter
/// follows (`TArtworks` is `T` + `Artworks`, `HTTPServer` is `HTTP` + `Server`).
fn humps(n: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let b = n.as_bytes();
    let mut start = 0;
    (1..=b.len()).filter_map(move |i| {
        let upper = |j: usize| b.get(j).is_some_and(|c| c.is_ascii_uppercase());
        let lower_next = b.get(i + 1).is_some_and(|c| c.is_ascii_lowercase());
        let cut = i == b.len()
            || b[i] == b'_'
            || upper(i) && (!upper(i - 1) && b[i - 1] != b'_' || upper(i - 1) && lower_next);
        if !cut {
            return None;
        }
        let part = (start, i);
        start = if i < b.len() && b[i] == b'_' { i + 1 } else { i };
        Some(part)
    })
}

fn reserved(w: &str) -> bool {
    RESERVED.iter().any(|r| eq(r, w))
}

/// A FROM item: the name it is referred to by and its columns (`None`: unknown, anything goes).
#[derive(Debug, Clone)]
struct Source {
    name: String,
    cols: Option<Vec<String>>,
}

/// A name used before its scope's FROM clause was complete (in the select list or a join's
/// ON condition), checked once FROM is known: `(qualifier, column)`.
type Deferred = (Option<String>, String);

#[derive(Debug, Default)]
struct Scope {
    sources: Vec<Source>,
    /// The table of each FROM item so far ("" for a subquery).
    items: Vec<String>,
    aliases: Vec<String>,
    deferred: Vec<Deferred>,
    from_done: bool,
}

/// What the parser sees next.
enum Look<'t> {
    End,
    Word(&'t str),
    Partial(&'t str),
    Quoted(&'t str),
    PartialQuoted(&'t str),
    Lit,
    Punct(&'static str),
}

struct Parser<'a> {
    toks: Vec<Tok>,
    /// Whether whitespace follows each token (then a word is not a qualifier: `t.col` is tight).
    spaced: &'a [bool],
    /// Parsing a result column that is `t.*`.
    star_ok: bool,
    i: usize,
    final_: bool,
    /// Inside WHERE, ON, GROUP BY or an aggregate's arguments, where SQLite refuses aggregates
    /// ("misuse of aggregate"); a nested SELECT has its own.
    no_aggregates: bool,
    /// A trailing partial word stands for a strictly longer word (its whole-word reading is
    /// parsed separately), so it does not match a keyword it already spells out.
    longer_only: bool,
    tables: &'a [(String, Vec<String>)],
    ctes: Vec<Source>,
    scopes: Vec<Scope>,
}

/// The verdict for `text` over tables `(name, columns)`.
pub(super) fn check(tables: &[(String, Vec<String>)], text: &str) -> Verdict {
    let Ok((toks, spaced)) = lex_spaced(text) else { return Verdict::Dead };
    if toks.last() == Some(&Tok::Open) {
        // A trailing `!` or `|` is viable only where `!=` or `||` would be.
        let completed = format!("{text}{}", if text.ends_with('!') { "=" } else { "|" });
        return if check(tables, &completed) == Verdict::Dead { Verdict::Dead } else { Verdict::Viable };
    }
    let mut depth = 0usize;
    for t in &toks {
        match t {
            Tok::Punct("(") => depth += 1,
            Tok::Punct(")") => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > MAX_DEPTH {
            return Verdict::Dead;
        }
    }
    if toks.is_empty() {
        return Verdict::Viable;
    }
    if !toks.iter().all(|t| match t {
        Tok::Word(w) => case_ok(tables, w, false),
        Tok::PartialWord(w) => case_ok(tables, w, true),
        _ => true,
    }) {
        return Verdict::Dead;
    }
    let run = |toks: Vec<Tok>, final_, longer_only| {
        Parser { toks, spaced: &spaced, star_ok: false, i: 0, final_, longer_only, no_aggregates: false, tables, ctes: vec![], scopes: vec![] }
            .statement()
    };
    if run(toks.clone(), true, false).is_ok() {
        return Verdict::Complete;
    }
    let viable = |r: R<()>| matches!(r, Err(Stop::Viable));
    match toks.last().cloned() {
        // A word still being typed either ends here (then it must fit as the whole word: `FROM t
        // WHERE` ends FROM, which may leave a name unresolved) or grows into a longer one.
        Some(Tok::PartialWord(w)) => {
            let mut whole = toks.clone();
            *whole.last_mut().unwrap_or_else(|| unreachable!()) = Tok::Word(w);
            if viable(run(whole, false, false)) || viable(run(toks, false, true)) {
                Verdict::Viable
            } else {
                Verdict::Dead
            }
        }
        _ if viable(run(toks, false, false)) => Verdict::Viable,
        _ => Verdict::Dead,
    }
}

impl<'a> Parser<'a> {
    fn look(&self) -> R<Look<'_>> {
        Ok(match self.toks.get(self.i) {
            None if self.final_ => Look::End,
            None => return Err(Stop::Viable),
            Some(Tok::Word(w)) => Look::Word(w),
            Some(Tok::PartialWord(w)) if self.final_ => Look::Word(w),
            Some(Tok::PartialWord(w)) => Look::Partial(w),
            Some(Tok::Quoted(q)) => Look::Quoted(q),
            Some(Tok::PartialQuoted(q)) if !self.final_ => Look::PartialQuoted(q),
            Some(Tok::Str | Tok::Num) => Look::Lit,
            Some(Tok::OpenStr) if !self.final_ => Look::Lit,
            Some(Tok::Punct(p)) => Look::Punct(p),
            Some(Tok::PartialQuoted(_) | Tok::OpenStr | Tok::Open) => return Err(Stop::Dead),
        })
    }

    /// Consumes keyword `k` if next; a partial word that `k` begins with makes the text viable.
    fn kw(&mut self, k: &str) -> R<bool> {
        match self.look()? {
            Look::Word(w) if eq(w, k) => {
                self.i += 1;
                Ok(true)
            }
            Look::Partial(p) if begins(k, p) && !(self.longer_only && p.len() == k.len()) => Err(Stop::Viable),
            _ => Ok(false),
        }
    }

    fn expect_kw(&mut self, k: &str) -> R<()> {
        if self.kw(k)? {
            Ok(())
        } else {
            Err(Stop::Dead)
        }
    }

    fn punct(&mut self, p: &str) -> R<bool> {
        match self.look()? {
            Look::Punct(x) if x == p => {
                self.i += 1;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn expect_punct(&mut self, p: &str) -> R<()> {
        if self.punct(p)? {
            Ok(())
        } else {
            Err(Stop::Dead)
        }
    }

    /// One of `cands` (case-insensitive; quoted or not).
    fn name_in(&mut self, cands: &[String]) -> R<Option<String>> {
        match self.look()? {
            Look::Word(w) | Look::Quoted(w) => {
                let quoted = matches!(self.toks[self.i], Tok::Quoted(_));
                match cands.iter().find(|c| eq(c, w)) {
                    Some(c) if quoted || !reserved(w) => {
                        let c = c.clone();
                        self.i += 1;
                        Ok(Some(c))
                    }
                    _ => Ok(None),
                }
            }
            Look::Partial(p) | Look::PartialQuoted(p) if cands.iter().any(|c| begins(c, p)) => Err(Stop::Viable),
            _ => Ok(None),
        }
    }

    /// A name the query defines itself (alias, CTE name), at most [`MAX_FREE_NAME`] long.
    fn free_name(&mut self) -> R<Option<String>> {
        match self.look()? {
            Look::Word(w) | Look::Quoted(w) | Look::Partial(w) | Look::PartialQuoted(w) if w.len() > MAX_FREE_NAME => {
                Err(Stop::Dead)
            }
            Look::Word(w) if !reserved(w) => {
                let w = w.to_string();
                self.i += 1;
                Ok(Some(w))
            }
            Look::Quoted(q) => {
                let q = q.to_string();
                self.i += 1;
                Ok(Some(q))
            }
            Look::Partial(_) | Look::PartialQuoted(_) => Err(Stop::Viable),
            _ => Ok(None),
        }
    }

    fn scope(&mut self) -> &mut Scope {
        self.scopes.last_mut().unwrap_or_else(|| unreachable!("select_core pushes a scope"))
    }

    fn statement(&mut self) -> R<()> {
        self.select_stmt()?;
        self.punct(";")?;
        match self.look()? {
            Look::End => Ok(()),
            _ => Err(Stop::Dead),
        }
    }

    /// `[WITH ...] core (setop core)* [ORDER BY ...] [LIMIT ...]`; returns the output columns.
    /// A nested statement may aggregate even where its enclosing expression may not.
    fn select_stmt(&mut self) -> R<Option<Vec<String>>> {
        self.aggregates_banned(false, Self::select_stmt_inner)
    }

    fn select_stmt_inner(&mut self) -> R<Option<Vec<String>>> {
        if self.kw("WITH")? {
            self.kw("RECURSIVE")?;
            loop {
                self.cte()?;
                if !self.punct(",")? {
                    break;
                }
            }
        }
        let depth = self.scopes.len();
        let cols = self.select_core()?;
        loop {
            let setop = if self.kw("UNION")? {
                self.kw("ALL")?;
                true
            } else {
                self.kw("INTERSECT")? || self.kw("EXCEPT")?
            };
            if !setop {
                break;
            }
            self.scopes.truncate(depth);
            self.select_core()?;
        }
        if self.kw("ORDER")? {
            self.expect_kw("BY")?;
            self.ordering_terms()?;
        }
        if self.kw("LIMIT")? {
            self.expr()?;
            if self.kw("OFFSET")? || self.punct(",")? {
                self.expr()?;
            }
        }
        self.scopes.truncate(depth);
        Ok(cols)
    }

    fn cte(&mut self) -> R<()> {
        let name = self.free_name()?.ok_or(Stop::Dead)?;
        let mut declared = None;
        if self.punct("(")? {
            let mut cols = Vec::new();
            loop {
                cols.push(self.free_name()?.ok_or(Stop::Dead)?);
                if !self.punct(",")? {
                    break;
                }
            }
            self.expect_punct(")")?;
            declared = Some(cols);
        }
        self.expect_kw("AS")?;
        self.expect_punct("(")?;
        // A recursive CTE may refer to itself.
        self.ctes.push(Source { name: name.clone(), cols: declared.clone() });
        let out = self.select_stmt()?;
        self.expect_punct(")")?;
        if let Some(last) = self.ctes.last_mut() {
            last.cols = declared.or(out);
        }
        Ok(())
    }

    /// Runs `f` with aggregates banned (`true`: WHERE, ON, GROUP BY, an aggregate's arguments)
    /// or allowed again (`false`: a nested statement), then restores the enclosing setting.
    fn aggregates_banned<T>(&mut self, banned: bool, f: impl FnOnce(&mut Self) -> R<T>) -> R<T> {
        let outer = std::mem::replace(&mut self.no_aggregates, banned);
        let out = f(self);
        self.no_aggregates = outer;
        out
    }

    fn select_core(&mut self) -> R<Option<Vec<String>>> {
        self.expect_kw("SELECT")?;
        let _ = self.kw("DISTINCT")? || self.kw("ALL")?;
        self.scopes.push(Scope::default());
        let mut outs = Vec::new();
        loop {
            outs.push(self.result_column()?);
            if !self.punct(",")? {
                break;
            }
        }
        let from = self.kw("FROM")?;
        // From here on names resolve against the sources FROM has listed so far: a join's ON
        // condition sees the tables to its left (and the enclosing queries'), nothing else.
        self.scope().from_done = true;
        if from {
            self.parse_from_clause()?;
        }
        self.resolve_deferred()?;
        if self.kw("WHERE")? {
            self.aggregates_banned(true, Self::expr)?;
        }
        if self.kw("GROUP")? {
            self.expect_kw("BY")?;
            self.aggregates_banned(true, Self::expr_list)?;
        }
        if self.kw("HAVING")? {
            self.expr()?;
        }
        Ok(outs.into_iter().collect())
    }

    /// A result column's name (`None` for `*` and `t.*`: whatever the sources have).
    fn result_column(&mut self) -> R<Option<String>> {
        if self.punct("*")? {
            return Ok(None);
        }
        // `t.*` is a whole result column, never an operand.
        if matches!(self.toks.get(self.i..self.i + 3), Some([Tok::Word(_) | Tok::Quoted(_), Tok::Punct("."), Tok::Punct("*")])) {
            self.star_ok = true;
            let r = self.column_ref();
            self.star_ok = false;
            r?;
            return Ok(None);
        }
        let bare = self.expr_named()?;
        if self.kw("AS")? {
            let a = self.free_name()?.ok_or(Stop::Dead)?;
            self.scope().aliases.push(a.clone());
            return Ok(Some(a));
        }
        // An unnamed expression's column is named by its text, which no query refers to.
        Ok(Some(bare.unwrap_or_else(|| UNNAMED.to_string())))
    }

    fn parse_from_clause(&mut self) -> R<()> {
        self.table_or_subquery()?;
        loop {
            if self.punct(",")? {
                self.table_or_subquery()?;
                continue;
            }
            let natural = self.kw("NATURAL")?;
            let mut cross = false;
            let join = if self.kw("JOIN")? {
                true
            } else if self.kw("LEFT")? || self.kw("RIGHT")? || self.kw("FULL")? {
                self.kw("OUTER")?;
                self.expect_kw("JOIN")?;
                true
            } else if self.kw("INNER")? || {
                cross = self.kw("CROSS")?;
                cross
            } {
                self.expect_kw("JOIN")?;
                true
            } else {
                false
            };
            if !join {
                return if natural { Err(Stop::Dead) } else { Ok(()) };
            }
            self.table_or_subquery()?;
            // A NATURAL join takes no condition (SQLite refuses one); a CROSS JOIN with one
            // is SQLite's alone.
            if natural || cross {
                continue;
            }
            if self.kw("ON")? {
                self.aggregates_banned(true, Self::expr)?;
            } else if self.kw("USING")? {
                self.expect_punct("(")?;
                loop {
                    self.free_name()?.ok_or(Stop::Dead)?;
                    if !self.punct(",")? {
                        break;
                    }
                }
                self.expect_punct(")")?;
            }
        }
    }

    fn table_or_subquery(&mut self) -> R<()> {
        let (name, cols) = if self.punct("(")? {
            let cols = self.select_stmt()?;
            self.expect_punct(")")?;
            (None, cols)
        } else {
            let known: Vec<Source> = self
                .ctes
                .iter()
                .cloned()
                .chain(self.tables.iter().map(|(t, c)| Source { name: t.clone(), cols: Some(c.clone()) }))
                .collect();
            let names: Vec<String> = known.iter().map(|s| s.name.clone()).collect();
            let t = self.name_in(&names)?.ok_or(Stop::Dead)?;
            let cols = known.iter().find(|s| eq(&s.name, &t)).and_then(|s| s.cols.clone());
            (Some(t), cols)
        };
        let alias = if self.kw("AS")? {
            Some(self.free_name()?.ok_or(Stop::Dead)?)
        } else {
            // Without AS an alias is short (`c`, `T1`, `st`) and no clause keyword run on or cut
            // short (`FROM t GROIN`, `FROM t WHEREx`, `JOIN u ONu`): the escapes a model takes
            // when the keyword it wants is dead. Longer aliases need AS.
            match self.look()? {
                Look::Word(w) if !reserved(w) && !implicit_alias_ok(w) => return Err(Stop::Dead),
                Look::Partial(w) if !implicit_alias_ok(w) => None,
                _ => self.free_name()?,
            }
        };
        let scope = self.scope();
        let repeats = name.as_deref().map_or(0, |n| scope.items.iter().filter(|t| eq(t, n)).count());
        // An alias hides the table's own name (SQLite: `FROM t AS x` has no `t.a`).
        let visible = alias.or_else(|| name.clone());
        let taken = visible.as_deref().is_some_and(|n| scope.sources.iter().any(|s| eq(&s.name, n)));
        if scope.items.len() >= MAX_FROM_ITEMS || taken || repeats >= MAX_SAME_TABLE {
            // The same name twice in one FROM would make every reference to it ambiguous.
            return Err(Stop::Dead);
        }
        scope.items.push(name.unwrap_or_default());
        match visible {
            Some(n) => scope.sources.push(Source { name: n, cols }),
            None if scope.sources.is_empty() => scope.sources.push(Source { name: String::new(), cols }),
            None => {}
        }
        Ok(())
    }

    fn ordering_terms(&mut self) -> R<()> {
        loop {
            self.expr()?;
            let _ = self.kw("ASC")? || self.kw("DESC")?;
            if self.kw("NULLS")? && !(self.kw("FIRST")? || self.kw("LAST")?) {
                return Err(Stop::Dead);
            }
            if !self.punct(",")? {
                return Ok(());
            }
        }
    }

    fn expr_list(&mut self) -> R<()> {
        loop {
            self.expr()?;
            if !self.punct(",")? {
                return Ok(());
            }
        }
    }

    fn expr(&mut self) -> R<()> {
        self.expr_named().map(|_| ())
    }

    /// An expression; its column name when it is a bare column reference.
    fn expr_named(&mut self) -> R<Option<String>> {
        let mut name = self.and_expr()?;
        while self.kw("OR")? {
            self.and_expr()?;
            name = None;
        }
        Ok(name)
    }

    fn and_expr(&mut self) -> R<Option<String>> {
        let mut name = self.not_expr()?;
        while self.kw("AND")? {
            self.not_expr()?;
            name = None;
        }
        Ok(name)
    }

    fn not_expr(&mut self) -> R<Option<String>> {
        if self.kw("NOT")? {
            self.not_expr()?;
            return Ok(None);
        }
        self.cmp_expr()
    }

    fn cmp_expr(&mut self) -> R<Option<String>> {
        let mut name = self.add_expr()?;
        loop {
            if ["=", "==", "!=", "<>", "<=", ">=", "<", ">"].iter().any(|op| matches!(self.look(), Ok(Look::Punct(p)) if p == *op))
            {
                self.i += 1;
                self.add_expr()?;
            } else {
                let negated = self.kw("NOT")?;
                if self.kw("BETWEEN")? {
                    self.add_expr()?;
                    self.expect_kw("AND")?;
                    self.add_expr()?;
                } else if self.kw("LIKE")? || self.kw("GLOB")? {
                    self.add_expr()?;
                    if self.kw("ESCAPE")? {
                        self.add_expr()?;
                    }
                } else if self.kw("IN")? {
                    self.expect_punct("(")?;
                    if self.at_select()? {
                        self.select_stmt()?;
                    } else if !self.punct(")")? {
                        self.expr_list()?;
                    } else {
                        self.i -= 1;
                    }
                    self.expect_punct(")")?;
                } else if negated {
                    return Err(Stop::Dead);
                } else if self.kw("IS")? {
                    // SQLite's `a IS b` for any b, `x ISNULL` and `x NOTNULL` are left out:
                    // other SQL tools (sqlparser among them) do not read them.
                    self.kw("NOT")?;
                    if self.kw("DISTINCT")? {
                        self.expect_kw("FROM")?;
                        self.add_expr()?;
                    } else if !(self.kw("NULL")? || self.kw("TRUE")? || self.kw("FALSE")?) {
                        return Err(Stop::Dead);
                    }
                } else {
                    return Ok(name);
                }
            }
            name = None;
        }
    }

    fn at_select(&mut self) -> R<bool> {
        Ok(match self.look()? {
            Look::Word(w) => eq(w, "SELECT") || eq(w, "WITH"),
            Look::Partial(p) if begins("SELECT", p) || begins("WITH", p) => return Err(Stop::Viable),
            _ => false,
        })
    }

    fn add_expr(&mut self) -> R<Option<String>> {
        let mut name = self.mul_expr()?;
        while self.punct("+")? || self.punct("-")? || self.punct("||")? {
            self.mul_expr()?;
            name = None;
        }
        Ok(name)
    }

    fn mul_expr(&mut self) -> R<Option<String>> {
        let mut name = self.unary()?;
        while self.punct("*")? || self.punct("/")? || self.punct("%")? {
            self.unary()?;
            name = None;
        }
        Ok(name)
    }

    fn unary(&mut self) -> R<Option<String>> {
        if self.punct("-")? || self.punct("+")? {
            self.unary()?;
            return Ok(None);
        }
        self.primary()
    }

    fn primary(&mut self) -> R<Option<String>> {
        match self.look()? {
            Look::Lit => {
                self.i += 1;
                Ok(None)
            }
            Look::Punct("(") => {
                self.i += 1;
                if self.at_select()? {
                    self.select_stmt()?;
                } else {
                    self.expr_list()?;
                }
                self.expect_punct(")")?;
                Ok(None)
            }
            Look::Partial(p) => {
                let p = p.to_string();
                let functions = FUNCTIONS.iter().filter(|f| !self.aggregate_banned(f));
                let words = LITERAL_WORDS.iter().chain(functions).chain(&["CASE", "CAST", "EXISTS", "NOT"]);
                let viable = words.into_iter().any(|w| begins(w, &p)) || self.column_candidates().iter().any(|c| begins(c, &p))
                    || self.qualifier_candidates().iter().any(|c| begins(c, &p))
                    || self.forward_alias_ok(&p);
                Err(if viable { Stop::Viable } else { Stop::Dead })
            }
            // SQLite reads a double-quoted word that names no column as a string literal (Spider's
            // gold SQL relies on it), so a quoted token here is always viable.
            Look::PartialQuoted(_) => Err(Stop::Viable),
            Look::Word(w) => {
                let w = w.to_string();
                if LITERAL_WORDS.iter().any(|l| eq(l, &w)) {
                    self.i += 1;
                    Ok(None)
                } else if eq(&w, "CASE") {
                    self.i += 1;
                    self.case_expr().map(|_| None)
                } else if eq(&w, "CAST") {
                    self.i += 1;
                    self.cast_expr().map(|_| None)
                } else if eq(&w, "EXISTS") {
                    self.i += 1;
                    self.expect_punct("(")?;
                    self.select_stmt()?;
                    self.expect_punct(")")?;
                    Ok(None)
                } else if FUNCTIONS.iter().any(|f| eq(f, &w)) && !self.aggregate_banned(&w) && self.call_follows()? {
                    self.i += 1;
                    let aggregate = AGGREGATES.iter().any(|f| eq(f, &w));
                    let outer = self.no_aggregates;
                    let args = self.aggregates_banned(outer || aggregate, |p| p.call_args(&w, aggregate))?;
                    if aggregate && outer && args < 2 {
                        // MIN(x) / MAX(x) is the aggregate.
                        return Err(Stop::Dead);
                    }
                    Ok(None)
                } else {
                    self.column_ref()
                }
            }
            Look::Quoted(q) => {
                let q = q.to_string();
                let names = self.column_candidates().into_iter().chain(self.qualifier_candidates());
                if names.into_iter().any(|c| eq(&c, &q)) {
                    self.column_ref()
                } else {
                    self.i += 1;
                    Ok(None)
                }
            }
            _ => Err(Stop::Dead),
        }
    }

    /// Whether the word at the cursor is followed by `(` (a call); at the end of a viable
    /// prefix both readings stay open.
    fn call_follows(&self) -> R<bool> {
        match self.toks.get(self.i + 1) {
            Some(Tok::Punct("(")) => Ok(true),
            None if !self.final_ => {
                let w = match &self.toks[self.i] {
                    Tok::Word(w) => w.as_str(),
                    _ => "",
                };
                if self.column_candidates().iter().any(|c| eq(c, w)) {
                    Ok(false)
                } else {
                    Err(Stop::Viable)
                }
            }
            _ => Ok(false),
        }
    }

    /// An aggregate-only function (not MIN/MAX, which have a scalar form) where none may be.
    fn aggregate_banned(&self, f: &str) -> bool {
        self.no_aggregates && AGGREGATES.iter().any(|a| eq(a, f)) && !eq(f, "MIN") && !eq(f, "MAX")
    }

    /// `( args )` of function `f`, as many as it takes; the number of arguments.
    fn call_args(&mut self, f: &str, aggregate: bool) -> R<usize> {
        let (least, most) = arity(f);
        self.expect_punct("(")?;
        if least == 0 && self.punct(")")? {
            return Ok(0);
        }
        if eq(f, "COUNT") && self.punct("*")? {
            return self.expect_punct(")").map(|_| 1);
        }
        if aggregate {
            self.kw("DISTINCT")?;
        }
        let mut n = 0;
        while n < most {
            self.expr()?;
            n += 1;
            if n < least {
                self.expect_punct(",")?;
            } else if n == most || !self.punct(",")? {
                break;
            }
        }
        self.expect_punct(")").map(|_| n)
    }

    fn case_expr(&mut self) -> R<()> {
        if !self.kw("WHEN")? {
            self.expr()?;
            self.expect_kw("WHEN")?;
        }
        loop {
            self.expr()?;
            self.expect_kw("THEN")?;
            self.expr()?;
            if !self.kw("WHEN")? {
                break;
            }
        }
        if self.kw("ELSE")? {
            self.expr()?;
        }
        self.expect_kw("END")
    }

    fn cast_expr(&mut self) -> R<()> {
        self.expect_punct("(")?;
        self.expr()?;
        self.expect_kw("AS")?;
        match self.look()? {
            Look::Word(w) if !reserved(w) => self.i += 1,
            Look::Partial(_) => return Err(Stop::Viable),
            _ => return Err(Stop::Dead),
        }
        if self.punct("(")? {
            self.expr_list()?;
            self.expect_punct(")")?;
        }
        self.expect_punct(")")
    }

    /// Every source visible from the innermost scope (its own, then the enclosing queries').
    fn visible_sources(&self) -> Vec<&Source> {
        self.scopes.iter().rev().flat_map(|s| s.sources.iter()).collect()
    }

    fn scope_has_from(&self) -> bool {
        self.scopes.last().is_some_and(|s| s.from_done)
    }

    /// Names an unqualified column may have here.
    fn column_candidates(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let unknown_source = self.visible_sources().iter().any(|s| s.cols.is_none());
        if !self.scope_has_from() || unknown_source {
            // Before FROM (or over a source of unknown columns) any column of the schema or a CTE.
            out.extend(self.tables.iter().flat_map(|(_, c)| c.iter().cloned()));
            out.extend(self.ctes.iter().flat_map(|s| s.cols.clone().unwrap_or_default()));
        }
        out.extend(self.visible_sources().iter().flat_map(|s| s.cols.clone().unwrap_or_default()));
        out.extend(self.scopes.iter().flat_map(|s| s.aliases.iter().cloned()));
        out
    }

    /// Names a qualifier (`q.column`) may have here.
    fn qualifier_candidates(&self) -> Vec<String> {
        let mut out: Vec<String> = self.visible_sources().iter().map(|s| s.name.clone()).filter(|n| !n.is_empty()).collect();
        if !self.scope_has_from() {
            out.extend(self.tables.iter().map(|(t, _)| t.clone()));
            out.extend(self.ctes.iter().map(|s| s.name.clone()));
        }
        out
    }

    /// Before FROM, a short unknown qualifier may be an alias FROM will define.
    fn forward_alias_ok(&self, q: &str) -> bool {
        !self.scope_has_from()
            && q.len() <= MAX_FORWARD_ALIAS
            && !reserved(q)
            && q.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
            && self.forward_room(q)
    }

    /// Whether FROM can still define `q` next to the other qualifiers used before it: each
    /// needs its own item, and a FROM holds at most [`MAX_FROM_ITEMS`] with each table at most
    /// [`MAX_SAME_TABLE`] times.
    fn forward_room(&self, q: &str) -> bool {
        let Some(scope) = self.scopes.last() else { return true };
        let mut quals: Vec<&str> = scope.deferred.iter().filter_map(|(q, _)| q.as_deref()).collect();
        quals.push(q);
        quals.sort_unstable_by_key(|q| q.to_ascii_lowercase());
        quals.dedup_by(|a, b| eq(a, b));
        let room = MAX_FROM_ITEMS.min(MAX_SAME_TABLE * (self.tables.len() + self.ctes.len()));
        quals.len() <= room
    }

    fn column_ref(&mut self) -> R<Option<String>> {
        let (first, quoted) = match &self.toks[self.i] {
            Tok::Word(w) | Tok::PartialWord(w) => (w.clone(), false),
            Tok::Quoted(q) => (q.clone(), true),
            _ => return Err(Stop::Dead),
        };
        if !quoted && reserved(&first) {
            return Err(Stop::Dead);
        }
        let is_column = self.column_candidates().iter().any(|c| eq(c, &first));
        let qualifier_cols: Option<Option<Vec<String>>> = {
            let sources = self.visible_sources();
            let found = sources.iter().find(|s| eq(&s.name, &first)).map(|s| s.cols.clone());
            found.or_else(|| {
                if self.scope_has_from() {
                    return None;
                }
                self.ctes
                    .iter()
                    .find(|s| eq(&s.name, &first))
                    .map(|s| s.cols.clone())
                    .or_else(|| self.tables.iter().find(|(t, _)| eq(t, &first)).map(|(_, c)| Some(c.clone())))
                    .or_else(|| self.forward_alias_ok(&first).then_some(None))
            })
        };
        if !is_column && qualifier_cols.is_none() {
            return Err(Stop::Dead);
        }
        let tight = !self.spaced.get(self.i).copied().unwrap_or(false);
        self.i += 1;
        if qualifier_cols.is_some() && tight && self.punct(".")? {
            let cols = qualifier_cols.unwrap_or_default();
            let early = !self.scope_has_from();
            if self.punct("*")? {
                if !self.star_ok {
                    return Err(Stop::Dead);
                }
                if early {
                    self.scope().deferred.push((Some(first), "*".into()));
                }
                return Ok(None);
            }
            let cands = cols.unwrap_or_else(|| self.tables.iter().flat_map(|(_, c)| c.iter().cloned()).collect());
            let col = self.name_in(&cands)?.ok_or(Stop::Dead)?;
            if early {
                self.scope().deferred.push((Some(first), col.clone()));
            }
            return Ok(Some(col));
        }
        if is_column {
            // A double-quoted name that resolves to nothing is a string in SQLite: not deferred.
            if !self.scope_has_from() && !quoted {
                self.scope().deferred.push((None, first.clone()));
            }
            Ok(Some(first))
        } else {
            Err(Stop::Dead)
        }
    }

    /// Once FROM is complete, every name used before it must resolve: an unqualified column to
    /// a column of a visible source (or a select-list alias), a qualified one to a visible
    /// source of that name having that column. (SQLite would say "no such column".)
    fn resolve_deferred(&mut self) -> R<()> {
        let deferred = std::mem::take(&mut self.scope().deferred);
        let sources = self.visible_sources();
        let has = |s: &Source, col: &str| col == "*" || s.cols.as_ref().is_none_or(|cs| cs.iter().any(|c| eq(c, col)));
        let aliases = || self.scopes.iter().flat_map(|s| s.aliases.iter());
        for (qualifier, col) in &deferred {
            let ok = match qualifier {
                Some(q) => sources.iter().any(|s| eq(&s.name, q) && has(s, col)),
                None => sources.iter().any(|s| has(s, col)) || aliases().any(|a| eq(a, col)),
            };
            if !ok {
                return Err(Stop::Dead);
            }
        }
        Ok(())
    }
}
