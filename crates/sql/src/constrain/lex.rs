//! Lexing a SQL *prefix*: the last token may be unfinished (a word still being typed, an open
//! quoted identifier), which the parser treats as "any name starting with this".

/// One lexeme.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// An unquoted word (keyword or identifier), complete: something followed it.
    Word(String),
    /// A quoted identifier ("x", `x`, [x]), complete.
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

const PUNCT2: [&str; 6] = ["<=", ">=", "<>", "!=", "==", "||"];
const PUNCT1: [&str; 13] = ["(", ")", ",", ".", ";", "*", "+", "-", "/", "%", "=", "<", ">"];

/// Lexes `s`; `Err(offset)` at a character no SQL token starts with.
pub(crate) fn lex(s: &str) -> Result<Vec<Tok>, usize> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$') {
                i += 1;
            }
            let w = s[start..i].to_string();
            out.push(if i == b.len() { Tok::PartialWord(w) } else { Tok::Word(w) });
        } else if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                // 1e5, 1.5, 0x1F: a following letter/dot belongs to the number.
                let exp_sign = (b[i] == b'e' || b[i] == b'E') && matches!(b.get(i + 1), Some(b'+' | b'-'));
                i += if exp_sign { 2 } else { 1 };
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
        } else if c == b'"' || c == b'`' || c == b'[' {
            let close = match c {
                b'[' => b']',
                q => q,
            };
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
            out.push(Tok::Punct(p));
            i += 1;
        } else {
            return Err(i);
        }
    }
    Ok(out)
}
