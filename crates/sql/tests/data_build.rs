//! `data build` on a small input with every kind of bad row.

use text2sql_sql::data::{build, read_rows, BuildOptions};

const ROWS: &str = r#"{"question": "How many singers are there?", "context": "CREATE TABLE singer (id INT, name TEXT, age INT)", "answer": "select count(*) from singer"}
{"question": "Names of singers older than 30?", "context": "CREATE TABLE singer (id INT, name TEXT, age INT)", "answer": "SELECT name FROM singer WHERE age > 30"}
this is not json
{"question": "Broken SQL", "context": "CREATE TABLE singer (id INT, name TEXT, age INT)", "answer": "SELEC name FRM singer"}
{"question": "Unknown column", "context": "CREATE TABLE singer (id INT, name TEXT, age INT)", "answer": "SELECT title FROM singer"}
{"question": "How many  singers are there?", "context": "CREATE TABLE singer (id INT, name TEXT, age INT)", "answer": "SELECT COUNT(*) FROM singer"}
{"question": "Missing answer", "context": "CREATE TABLE singer (id INT)"}
{"question": "Bad schema", "context": "CREATE TABEL x (", "answer": "SELECT 1"}
"#;

#[test]
fn build_reports_every_dropped_row_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("in.jsonl");
    std::fs::write(&p, ROWS).unwrap();
    let (rows, bad) = read_rows(&p).unwrap();
    let (train, val, rep) = build(rows, bad, &BuildOptions { val_fraction: 0.5, seed: 7 });
    assert_eq!(rep.read, 8);
    assert_eq!(rep.bad_lines.iter().map(|d| d.line).collect::<Vec<_>>(), vec![3, 7]);
    assert_eq!(rep.unparseable_sql.iter().map(|d| d.line).collect::<Vec<_>>(), vec![4]);
    assert_eq!(rep.schema_violations.iter().map(|d| d.line).collect::<Vec<_>>(), vec![5]);
    assert!(rep.schema_violations[0].reason.contains("title"));
    assert_eq!(rep.duplicates.iter().map(|d| d.line).collect::<Vec<_>>(), vec![6]);
    assert_eq!(rep.unparseable_schema.iter().map(|d| d.line).collect::<Vec<_>>(), vec![8]);
    assert_eq!(train.len() + val.len(), 2);
    let all: Vec<_> = train.iter().chain(val.iter()).collect();
    let r = all.iter().find(|r| r.input.contains("How many singers")).unwrap();
    assert_eq!(r.output, "SELECT count(*) FROM singer");
    assert_eq!(r.input, "### Schema:\nCREATE TABLE singer (id INT, name TEXT, age INT)\n\n### Question:\nHow many singers are there?");
    assert!(r.instruction.starts_with("Write a SQL query"));
}

#[test]
fn split_is_deterministic_and_follows_the_seed() {
    let mut s = String::new();
    for i in 0..200 {
        s.push_str(&format!(
            "{{\"question\": \"q{i}\", \"context\": \"CREATE TABLE t (a INT)\", \"answer\": \"SELECT a FROM t WHERE a = {i}\"}}\n"
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("in.jsonl");
    std::fs::write(&p, s).unwrap();
    let run = |seed| {
        let (rows, bad) = read_rows(&p).unwrap();
        let (_, val, _) = build(rows, bad, &BuildOptions { val_fraction: 0.2, seed });
        val.into_iter().map(|r| r.input).collect::<Vec<_>>()
    };
    let a = run(1);
    assert_eq!(a, run(1));
    assert_ne!(a, run(2));
    assert!((20..=60).contains(&a.len()), "{}", a.len());
}

#[test]
fn json_array_input_is_read_too() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("in.json");
    std::fs::write(&p, r#"[{"question": "q", "context": "CREATE TABLE t (a INT)", "answer": "SELECT a FROM t"}, {"question": 1}]"#).unwrap();
    let (rows, bad) = read_rows(&p).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(bad[0].line, 2);
}
