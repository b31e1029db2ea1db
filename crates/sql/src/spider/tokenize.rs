//! Tokenisation exactly as Spider's `process_sql.tokenize` does it: string values are
//! cut out first, the rest goes through NLTK's word tokenizer (Treebank rules, emulated
//! here for the characters SQL uses), tokens are lower-cased, and `!`/`>`/`<` followed by
//! a separate `=` are glued back together.

use super::SpiderError;

/// NLTK `NLTKWordTokenizer.tokenize` (the part of `word_tokenize` that applies to one
/// line; see tests/reference/README.md for the punkt shim the reference run uses).
pub fn treebank(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    // STARTING_QUOTES: unicode opening quotes and runs of backticks are split off.
    let mut s = String::with_capacity(text.len() + 16);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if matches!(c, '«' | '“' | '‘' | '„') {
            s.push(' ');
            s.push(c);
            s.push(' ');
        } else if c == '`' {
            s.push(' ');
            while i < chars.len() && chars[i] == '`' {
                s.push('`');
                i += 1;
            }
            s.push(' ');
            continue;
        } else {
            s.push(c);
        }
        i += 1;
    }
    let s = final_period(&s);
    // `([:,])([^\d])` -> " \1 \2", then `([:,])$` -> " \1 "
    let cs: Vec<char> = s.chars().collect();
    let mut t = String::with_capacity(s.len() + 16);
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        if (c == ':' || c == ',') && i + 1 < cs.len() && !cs[i + 1].is_numeric() {
            t.push(' ');
            t.push(c);
            t.push(' ');
            t.push(cs[i + 1]);
            i += 2;
            continue;
        }
        if (c == ':' || c == ',') && i + 1 == cs.len() {
            t.push(' ');
            t.push(c);
            t.push(' ');
            i += 1;
            continue;
        }
        t.push(c);
        i += 1;
    }
    // `\.{2,}`, `[;@#$%&]`, dashes, `[?!]`, `[*]`, brackets and `--` are spaced out.
    let cs: Vec<char> = t.chars().collect();
    let mut u = String::with_capacity(t.len() + 16);
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        if c == '.' && i + 1 < cs.len() && cs[i + 1] == '.' {
            u.push(' ');
            while i < cs.len() && cs[i] == '.' {
                u.push('.');
                i += 1;
            }
            u.push(' ');
            continue;
        }
        if c == '-' && i + 1 < cs.len() && cs[i + 1] == '-' {
            u.push_str(" -- ");
            i += 2;
            continue;
        }
        if matches!(c, ';' | '@' | '#' | '$' | '%' | '&' | '?' | '!' | '*' | '[' | ']' | '(' | ')' | '{' | '}' | '<' | '>')
            || ('\u{2012}'..='\u{2015}').contains(&c)
            || matches!(c, '»' | '”' | '’')
        {
            u.push(' ');
            u.push(c);
            u.push(' ');
        } else {
            u.push(c);
        }
        i += 1;
    }
    let mut toks: Vec<String> = Vec::new();
    for w in u.split_whitespace() {
        // CONTRACTIONS2 on whole words: cannot, gimme, gonna, gotta, lemme, wanna.
        split_contractions(w, &mut toks);
    }
    toks
}

/// PUNCTUATION rule for the final period: `([^\.])(\.)([\]\)}>"\'»”’ ]*+)\s*$`.
fn final_period(s: &str) -> String {
    let cs: Vec<char> = s.chars().collect();
    let mut end = cs.len();
    while end > 0 && (cs[end - 1].is_whitespace() || "])}>\"'»”’ ".contains(cs[end - 1])) {
        end -= 1;
    }
    if end >= 2 && cs[end - 1] == '.' && cs[end - 2] != '.' {
        let head: String = cs[..end - 1].iter().collect();
        let tail: String = cs[end..].iter().collect();
        format!("{head} . {tail} ")
    } else {
        s.to_string()
    }
}

fn split_contractions(w: &str, out: &mut Vec<String>) {
    // Emulates `(?i)\b(can)(not)\b` etc. on maximal runs of word characters.
    let pairs: [(&str, usize); 6] = [("cannot", 3), ("gimme", 3), ("gonna", 3), ("gotta", 3), ("lemme", 3), ("wanna", 3)];
    let mut cur = String::new();
    let mut word = String::new();
    let flush_word = |word: &mut String, cur: &mut String, out: &mut Vec<String>| {
        let lw = word.to_lowercase();
        if let Some((_, k)) = pairs.iter().find(|(p, _)| *p == lw) {
            let (a, b) = word.split_at(*k);
            cur.push_str(a);
            out.push(std::mem::take(cur));
            cur.push_str(b);
        } else {
            cur.push_str(word);
        }
        word.clear();
    };
    for c in w.chars() {
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            flush_word(&mut word, &mut cur, out);
            cur.push(c);
        }
    }
    flush_word(&mut word, &mut cur, out);
    if !cur.is_empty() {
        out.push(cur);
    }
}

/// `process_sql.tokenize`.
pub fn tokenize(sql: &str) -> Result<Vec<String>, SpiderError> {
    let s: Vec<char> = sql.replace('\'', "\"").chars().collect();
    let quotes: Vec<usize> = s.iter().enumerate().filter(|(_, c)| **c == '"').map(|(i, _)| i).collect();
    if !quotes.len().is_multiple_of(2) {
        return Err(SpiderError("Unexpected quote".into()));
    }
    let mut vals: Vec<(String, String)> = Vec::new();
    let mut out = String::with_capacity(sql.len());
    let mut last = 0;
    for pair in quotes.chunks(2) {
        let (a, b) = (pair[0], pair[1]);
        out.extend(&s[last..a]);
        let key = format!("__val_{a}_{b}__");
        out.push_str(&key);
        vals.push((key, s[a..=b].iter().collect()));
        last = b + 1;
    }
    out.extend(&s[last..]);
    let mut toks: Vec<String> = treebank(&out).into_iter().map(|t| t.to_lowercase()).collect();
    for t in toks.iter_mut() {
        if let Some((_, v)) = vals.iter().find(|(k, _)| k == t) {
            *t = v.clone();
        }
    }
    let eq: Vec<usize> = toks.iter().enumerate().filter(|(_, t)| *t == "=").map(|(i, _)| i).collect();
    for &e in eq.iter().rev() {
        let n = toks.len() as isize;
        let pi = e as isize - 1;
        let pidx = if pi < 0 { (n + pi) as usize } else { pi as usize };
        let pre = toks[pidx].clone();
        if pre == "!" || pre == ">" || pre == "<" {
            // toks[:e-1] + [pre + "="] + toks[e+1:], with Python's negative slicing
            let cut = if pi < 0 { (n + pi).max(0) as usize } else { pi as usize };
            let mut v: Vec<String> = toks[..cut].to_vec();
            v.push(format!("{pre}="));
            v.extend_from_slice(&toks[e + 1..]);
            toks = v;
        }
    }
    Ok(toks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizes_like_process_sql() {
        let t = tokenize("SELECT count(*) FROM singer WHERE age >= 20 AND name != 'Joe' ;").unwrap();
        assert_eq!(
            t,
            ["select", "count", "(", "*", ")", "from", "singer", "where", "age", ">=", "20", "and", "name", "!=", "\"Joe\"", ";"]
        );
        let t = tokenize("SELECT T1.a, T2.b FROM x AS T1 WHERE a <> 1").unwrap();
        assert_eq!(t, ["select", "t1.a", ",", "t2.b", "from", "x", "as", "t1", "where", "a", "<", ">", "1"]);
        assert!(tokenize("SELECT 'a").is_err());
        assert_eq!(tokenize("select a,1 from t").unwrap(), ["select", "a,1", "from", "t"]);
    }
}
