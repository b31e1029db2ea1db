//! The hand-written evaluation set (eval/handwritten.jsonl on eval/schemas/*.sql): every gold
//! query parses, follows its schema and runs on generated instances of it.

use std::collections::BTreeMap;

use text2sql_sql::semantic::{semantic_match, SemanticOptions};
use text2sql_sql::{check_adherence, parse_sql, Schema};

#[derive(serde::Deserialize)]
struct Row {
    db: String,
    question: String,
    sql: String,
}

/// eval/handwritten.alpaca.jsonl (for `text2sql eval --input`) is exactly the conversion of
/// handwritten.jsonl; regenerate with `REGENERATE=1 cargo test -p text2sql-synth --test handwritten_eval`.
#[test]
fn alpaca_copy_is_up_to_date() {
    let dir = text2sql_synth::handwritten::eval_dir();
    let rows = text2sql_synth::handwritten::alpaca(dir).unwrap();
    let mut s = String::new();
    for r in &rows {
        s.push_str(&serde_json::to_string(r).unwrap());
        s.push('\n');
    }
    let p = dir.join("handwritten.alpaca.jsonl");
    if std::env::var_os("REGENERATE").is_some() {
        std::fs::write(&p, &s).unwrap();
    }
    assert_eq!(std::fs::read_to_string(&p).unwrap_or_default(), s, "{} is stale; regenerate it", p.display());
}

#[test]
fn handwritten_gold_sql_runs_on_generated_instances() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("eval");
    let text = std::fs::read_to_string(dir.join("handwritten.jsonl")).unwrap();
    let mut schemas: BTreeMap<String, Schema> = BTreeMap::new();
    let (mut n, mut nonempty) = (0, 0);
    let opts = SemanticOptions { n_dbs: 3, min_rows: 8, max_rows: 20, ..SemanticOptions::default() };
    for (i, line) in text.lines().enumerate() {
        let r: Row = serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        let schema = schemas.entry(r.db.clone()).or_insert_with(|| {
            let ddl = std::fs::read_to_string(dir.join("schemas").join(format!("{}.sql", r.db))).unwrap();
            Schema::from_ddl(&ddl).unwrap()
        });
        assert!(!r.question.trim().is_empty());
        parse_sql(&r.sql).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        let v = check_adherence(&r.sql, schema).unwrap();
        assert!(v.is_empty(), "line {}: {v:?}", i + 1);
        let verdict = semantic_match(schema, &r.sql, &r.sql, &opts).unwrap_or_else(|e| panic!("line {} ({}): {e}", i + 1, r.sql));
        assert!(verdict.matched, "line {}: gold differs from itself: {:?}", i + 1, verdict.reason);
        n += 1;
        nonempty += usize::from(verdict.n_nonempty > 0);
    }
    println!("{n} questions on {} schemas; {nonempty} return rows on some generated instance", schemas.len());
    assert!(n >= 100, "{n} questions");
    assert!(schemas.len() >= 8, "{} schemas", schemas.len());
    assert!(nonempty * 10 >= n * 8, "only {nonempty} of {n} gold queries returned rows on some instance");
}
