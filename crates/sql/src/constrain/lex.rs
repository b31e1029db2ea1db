//! Lexing a SQL *prefix*: the last token may be unfinished (a word still being typed, an open
//! quoted identifier), which the parser treats as "any name starting with this".

/// One lexeme.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// An unquoted word (keyword or identifier), complete: something followed it.
    Word(String),
    /// A double-quoted identifier ("x"), complete.
    Quoted(String),
    /// A string literal.
    Str,
    /// A numeric literal.
    Num,
    /// An operator or punctuation.
    Punct(&'static str),
    /// The input ends inside this word.
    PartialWord(String),
    /// The input ends inside this quoted identifier.
    PartialQuoted(String),
    /// The input ends inside a string literal (its content is free).
    OpenStr,
    /// The input ends on `!` or `|` (half of `!=` / `||`).
    Open,
}

/// Longest run of whitespace between two tokens (a line break and some indentation).
const MAX_SPACE_RUN: usize = 16;

const PUNCT2: [&str; 6] = ["<=", ">=", "<>", "!=", "==", "||"];
const PUNCT1: [&str; 13] = ["(", ")", ",", ".", ";", "*", "+", "-", "/", "%", "=", "<", ">"];

/// Lexes `s`; `Err(offset)` at a character no SQL token starts with.
pub(crate) fn lex(s: &str) -> Result<Vec<Tok>, usize> {
    lex_spaced(s).map(|(toks, _)| toks)
}

/// [`lex`], and for each token whether whitespace follows it.
pub(crate) fn lex_spaced(s: &str) -> Result<(Vec<Tok>, Vec<bool>), usize> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut spaced: Vec<bool> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        spaced.resize(out.len(), false);
        let c = b[i];
        if c.is_ascii_whitespace() {
            // Layout, not padding: a model whose EOS is refused must not idle in whitespace.
            let start = i;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if let Some(last) = spaced.last_mut() {
                *last = true;
            }
            let run = &b[start..i];
            let lines = run.iter().filter(|&&c| c == b'\n').count();
            let stray_cr = run.windows(2).any(|w| w[0] == b'\r' && w[1] != b'\n');
            if run.len() > MAX_SPACE_RUN || lines > 2 || stray_cr {
                return Err(start);
            }
        } else if c == b'-' && b.get(i + 1) == Some(&b'-') || c == b'/' && b.get(i + 1) == Some(&b'*') {
            // Comments: nothing a generated query needs, and a place for the model to ramble.
            return Err(i);
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$') {
                i += 1;
            }
            let w = s[start..i].to_string();
            out.push(if i == b.len() { Tok::PartialWord(w) } else { Tok::Word(w) });
        } else if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.' || b[i] == b'_') {
                // 1e5, 1.5, 0x1F: a following letter/dot belongs to the number.
                let exp_sign = (b[i] == b'e' || b[i] == b'E') && matches!(b.get(i + 1), Some(b'+' | b'-'));
                i += if exp_sign { 2 } else { 1 };
            }
            let text = &s[start..i.min(b.len())];
            if !(numeric_literal(text) || i >= b.len() && numeric_prefix(text)) {
                // `1firehose`, `3.4.5`: SQLite's "unrecognized token".
                return Err(start);
            }
            out.push(Tok::Num);
        } else if c == b'\'' {
            i += 1;
            let mut closed = false;
            while i < b.len() {
                if b[i] == b'\'' {
                    if b.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    closed = true;
                    i += 1;
                    break;
                }
                i += 1;
            }
            out.push(if closed { Tok::Str } else { Tok::OpenStr });
        } else if c == b'`' || c == b'[' {
            // MySQL / SQL Server quoting: SQLite takes it, but without the double quotes'
            // fallback to a string, and other tools stumble on it; double quotes suffice.
            return Err(i);
        } else if c == b'"' {
            let close = c;
            let start = i + 1;
            i += 1;
            while i < b.len() && b[i] != close {
                i += 1;
            }
            let name = s[start..i.min(b.len())].to_string();
            if i < b.len() {
                i += 1;
                out.push(Tok::Quoted(name));
            } else {
                out.push(Tok::PartialQuoted(name));
            }
        } else if let Some(p) = PUNCT2.iter().find(|p| s[i..].starts_with(**p)) {
            out.push(Tok::Punct(p));
            i += 2;
        } else if (c == b'!' || c == b'|') && i + 1 == b.len() {
            out.push(Tok::Open);
            i += 1;
        } else if let Some(p) = PUNCT1.iter().find(|p| p.as_bytes()[0] == c) {
            // `t.col` is written tight: `t .col` and `t. col` are SQLite but trip other parsers.
            let spaced = |j: Option<&u8>| j.is_some_and(u8::is_ascii_whitespace);
            if c == b'.' && (spaced(i.checked_sub(1).and_then(|j| b.get(j))) || spaced(b.get(i + 1))) {
                return Err(i);
            }
            out.push(Tok::Punct(p));
            i += 1;
        } else {
            return Err(i);
        }
    }
    spaced.resize(out.len(), false);
    Ok((out, spaced))
}

/// A whole SQLite numeric literal: `12`, `1.5`, `.5`, `1.`, `1e5`, `2.5E-3`, `0x1F`.
fn numeric_literal(t: &str) -> bool {
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return !h.is_empty() && h.bytes().all(|c| c.is_ascii_hexdigit());
    }
    let (mant, exp) = match t.find(['e', 'E']) {
        Some(k) => (&t[..k], Some(&t[k + 1..])),
        None => (t, None),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    let digits = |x: &str| x.bytes().all(|c| c.is_ascii_digit());
    let mant_ok = digits(int) && digits(frac) && !(int.is_empty() && frac.is_empty());
    let exp_ok = exp.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mant_ok && exp_ok
}

/// A numeric literal still being typed at the end of the input (`1e`, `2.5E-`, `0x`).
fn numeric_prefix(t: &str) -> bool {
    ["", "0", "1", "+1", "-1"].iter().any(|tail| numeric_literal(&format!("{t}{tail}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_sqlite_literals() {
        for ok in ["12", "1.5", ".5", "1.", "1e5", "2.5E-3", "0x1F", "1e+2"] {
            assert!(numeric_literal(ok), "{ok}");
            assert!(lex(&format!("{ok} ")).is_ok(), "{ok}");
        }
        for bad in ["1firehose", "3.4.5", "1e", "0x", "1_000", "12abc"] {
            assert!(!numeric_literal(bad), "{bad}");
            assert!(lex(&format!("{bad} ")).is_err(), "{bad}");
        }
        for prefix in ["1e", "2.5E-", "0x", "1."] {
            assert!(lex(prefix).is_ok(), "{prefix}");
        }
        assert!(lex("SELECT 1 -- comment").is_err());
        assert!(lex("SELECT 1 /* c */").is_err());
        assert!(lex("SELECT 1 - -1").is_ok());
        assert!(lex("SELECT a,\n       b\nFROM t\r\n").is_ok());
        assert!(lex("SELECT t .a").is_err() && lex("SELECT t. a").is_err() && lex("SELECT t.").is_ok());
        for padded in ["SELECT 1\n\n\n", "SELECT 1                  ", "SELECT 1\r\r\n"] {
            assert!(lex(padded).is_err(), "{padded:?}");
        }
    }
}
