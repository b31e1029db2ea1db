//! The frozen held-out evaluation set, eval/heldout.alpaca.jsonl: 400 synthetic questions on the
//! 8 schema families that no shipped adapter was trained on. It was written once by
//! `text2sql data synth --n_train 4000 --n_val 400 --seed 42 --val_families <scripts/corpora.sh's
//! held_out>` and is kept as a file, so that new templates or phrasings (which change the
//! generator's random stream) do not change the set every version is measured on. Every gold
//! query must still parse, follow its own schema and return rows on generated instances of it.

use text2sql_sql::semantic::{semantic_match, SemanticOptions};
use text2sql_sql::{check_adherence, parse_sql, Schema};

#[derive(serde::Deserialize)]
struct Row {
    input: String,
    output: String,
}

fn ddl_of(input: &str) -> Option<&str> {
    let rest = input.strip_prefix("### Schema:\n")?;
    Some(&rest[..rest.find("\n\n### Question:\n")?])
}

#[test]
fn frozen_heldout_gold_sql_follows_its_schema_and_returns_rows() {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("eval/heldout.alpaca.jsonl");
    let text = std::fs::read_to_string(&p).unwrap();
    let opts = SemanticOptions { n_dbs: 2, min_rows: 8, max_rows: 20, ..SemanticOptions::default() };
    let (mut n, mut nonempty) = (0, 0);
    let mut schemas = std::collections::HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let r: Row = serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        let ddl = ddl_of(&r.input).unwrap_or_else(|| panic!("line {}: no `### Schema:` … `### Question:` prompt", i + 1));
        schemas.insert(ddl.to_string());
        let schema = Schema::from_ddl(ddl).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        parse_sql(&r.output).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        let v = check_adherence(&r.output, &schema).unwrap();
        assert!(v.is_empty(), "line {}: {v:?}", i + 1);
        let verdict = semantic_match(&schema, &r.output, &r.output, &opts).unwrap_or_else(|e| panic!("line {} ({}): {e}", i + 1, r.output));
        assert!(verdict.matched, "line {}: gold differs from itself: {:?}", i + 1, verdict.reason);
        n += 1;
        nonempty += usize::from(verdict.n_nonempty > 0);
    }
    assert_eq!(n, 400);
    assert!(schemas.len() >= 100, "{} distinct schemas", schemas.len());
    assert!(nonempty * 10 >= n * 8, "only {nonempty} of {n} gold queries returned rows on some instance");
}
