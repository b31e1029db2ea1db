//! The two committed evaluation sets, whose every gold query must parse, follow its schema and
//! run on generated instances of it:
//! - the hand-written set (eval/handwritten.jsonl on eval/schemas/*.sql);
//! - the frozen held-out set, eval/heldout.alpaca.jsonl: 400 synthetic questions on the 8 schema
//!   families no shipped adapter was trained on. It was written once by `text2sql data synth
//!   --n_train 4000 --n_val 400 --seed 42 --val_families <scripts/corpora.sh's held_out>` and is
//!   kept as a file, so that new templates or phrasings (which change the generator's random
//!   stream) do not change the set every version is measured on.

use std::collections::{BTreeMap, HashSet};

use text2sql_sql::semantic::{semantic_match, SemanticOptions};
use text2sql_sql::{check_adherence, parse_sql, Schema};

#[derive(serde::Deserialize)]
struct Row {
    db: String,
    question: String,
    sql: String,
}

/// Checks one gold query against its schema (`at` names it in failures); true when it returned
/// rows on some generated instance.
fn check_gold(schema: &Schema, sql: &str, opts: &SemanticOptions, at: &str) -> bool {
    parse_sql(sql).unwrap_or_else(|e| panic!("{at}: {e}"));
    let v = check_adherence(sql, schema).unwrap();
    assert!(v.is_empty(), "{at}: {v:?}");
    let verdict = semantic_match(schema, sql, sql, opts).unwrap_or_else(|e| panic!("{at} ({sql}): {e}"));
    assert!(verdict.matched, "{at}: gold differs from itself: {:?}", verdict.reason);
    verdict.n_nonempty > 0
}

/// eval/handwritten.alpaca.jsonl (for `text2sql eval --input`) is exactly the conversion of
/// handwritten.jsonl; regenerate with `REGENERATE=1 cargo test -p text2sql-synth --test eval_sets`.
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
        n += 1;
        nonempty += usize::from(check_gold(schema, &r.sql, &opts, &format!("line {}", i + 1)));
    }
    println!("{n} questions on {} schemas; {nonempty} return rows on some generated instance", schemas.len());
    assert!(n >= 100, "{n} questions");
    assert!(schemas.len() >= 8, "{} schemas", schemas.len());
    assert!(nonempty * 10 >= n * 8, "only {nonempty} of {n} gold queries returned rows on some instance");
}

/// Read with the loader `text2sql eval internal` uses.
#[test]
fn frozen_heldout_gold_sql_follows_its_schema_and_returns_rows() {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("eval/heldout.alpaca.jsonl");
    let examples = text2sql_sql::eval::load_internal(&p).unwrap();
    let opts = SemanticOptions { n_dbs: 2, min_rows: 8, max_rows: 20, ..SemanticOptions::default() };
    let mut nonempty = 0;
    let mut schemas = HashSet::new();
    for (i, e) in examples.iter().enumerate() {
        let schema = Schema::from_ddl(&e.ddl).unwrap_or_else(|err| panic!("line {}: {err}", i + 1));
        schemas.insert(e.ddl.as_str());
        nonempty += usize::from(check_gold(&schema, &e.gold, &opts, &format!("line {}", i + 1)));
    }
    let n = examples.len();
    assert_eq!(n, 400);
    assert!(schemas.len() >= 100, "{} distinct schemas", schemas.len());
    assert!(nonempty * 10 >= n * 8, "only {nonempty} of {n} gold queries returned rows on some instance");
}
