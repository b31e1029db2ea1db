//! The per-example judges on hand-written cases with known answers, the aggregation, and
//! a fuzz-ish check that no judge panics on garbage.

use text2sql_sql::eval::{judge, ExampleResult, JudgeContext, JudgeOptions, Metrics, Verdicts};
use text2sql_sql::spider::{self, SpiderDb};
use text2sql_sql::Schema;

const DDL: &str = "CREATE TABLE singer (singer_id INTEGER PRIMARY KEY, name TEXT, country TEXT, age INTEGER);
CREATE TABLE concert (concert_id INTEGER PRIMARY KEY, singer_id INTEGER, year INTEGER,
  FOREIGN KEY (singer_id) REFERENCES singer(singer_id));";

fn v(gold: &str, pred: &str) -> Verdicts {
    let schema = Schema::from_ddl(DDL).unwrap();
    let sdb = SpiderDb::from_schema(&schema);
    let ctx = JudgeContext { schema: &schema, spider_db: &sdb, sqlite: None };
    judge(gold, pred, &ctx, &JudgeOptions::default())
}

#[test]
fn identical_prediction_passes_everything() {
    let r = v("SELECT name FROM singer WHERE age > 30", "select name  from singer where age > 30;");
    assert!(r.exact_match && r.no_values_em && r.parse_success && r.schema_adherence);
    assert_eq!(r.exact_set_match, Some(true));
    assert_eq!(r.semantic_accuracy, Some(true));
    assert_eq!(r.execution_accuracy, None); // no database given
}

#[test]
fn value_change_fails_em_but_not_no_values_em() {
    let r = v("SELECT name FROM singer WHERE age > 30", "SELECT name FROM singer WHERE age > 40");
    assert!(!r.exact_match && r.no_values_em);
    assert_eq!(r.exact_set_match, Some(true)); // Spider ignores values
    assert_eq!(r.semantic_accuracy, Some(false)); // the generated databases do not
}

#[test]
fn equivalent_rewrite_is_only_caught_by_semantic_accuracy() {
    let r = v("SELECT count(*) FROM singer WHERE age > 30", "SELECT count(*) FROM singer WHERE NOT age <= 30");
    assert!(!r.exact_match && !r.no_values_em);
    assert_eq!(r.exact_set_match, Some(false));
    assert_eq!(r.semantic_accuracy, Some(true));
}

#[test]
fn select_order_and_spider_quirks() {
    // exact-set-match treats SELECT items as a set
    assert_eq!(v("SELECT name, age FROM singer", "SELECT age, name FROM singer").exact_set_match, Some(true));
    // ...and its parser rejects `<>`, INNER JOIN and aliases without AS
    assert_eq!(v("SELECT name FROM singer WHERE age != 3", "SELECT name FROM singer WHERE age <> 3").exact_set_match, Some(false));
    let g = "SELECT T1.name FROM singer AS T1 JOIN concert AS T2 ON T1.singer_id = T2.singer_id";
    assert_eq!(v(g, "SELECT T1.name FROM singer AS T1 INNER JOIN concert AS T2 ON T1.singer_id = T2.singer_id").exact_set_match, Some(false));
    assert_eq!(v(g, "SELECT T1.name FROM singer T1 JOIN concert AS T2 ON T1.singer_id = T2.singer_id").exact_set_match, Some(false));
    // JOIN ON conditions are ignored, and so are table-order differences
    assert_eq!(v(g, "SELECT T1.name FROM concert AS T2 JOIN singer AS T1 ON T2.concert_id = T1.age").exact_set_match, Some(true));
    // LIMIT: presence only
    let g = "SELECT name FROM singer ORDER BY age DESC LIMIT 1";
    assert_eq!(v(g, "SELECT name FROM singer ORDER BY age DESC LIMIT 5").exact_set_match, Some(true));
    assert_eq!(v(g, "SELECT name FROM singer ORDER BY age DESC").exact_set_match, Some(false));
    assert_eq!(v(g, "SELECT name FROM singer ORDER BY age ASC LIMIT 1").exact_set_match, Some(false));
}

#[test]
fn unknown_column_breaks_adherence_and_parse_failure_breaks_everything() {
    let r = v("SELECT name FROM singer", "SELECT title FROM singer");
    assert!(r.parse_success && !r.schema_adherence);
    assert_eq!(r.violations, vec!["unknown column title".to_string()]);
    assert_eq!(r.semantic_accuracy, Some(false));
    let r = v("SELECT name FROM singer", "SELEC name FROM");
    assert!(!r.parse_success && !r.schema_adherence && !r.exact_match);
    assert_eq!(r.exact_set_match, Some(false));
}

#[test]
fn hardness_levels() {
    let schema = Schema::from_ddl(DDL).unwrap();
    let db = SpiderDb::from_schema(&schema);
    let h = |q: &str| spider::hardness(&spider::parse(&db, q).unwrap()).as_str();
    assert_eq!(h("SELECT count(*) FROM singer"), "easy");
    assert_eq!(h("SELECT name, age FROM singer WHERE age > 3"), "medium");
    assert_eq!(h("SELECT name FROM singer WHERE age > (SELECT avg(age) FROM singer)"), "hard");
    assert_eq!(h("SELECT name FROM singer WHERE age > 3 INTERSECT SELECT name FROM singer"), "hard");
    assert_eq!(
        h("SELECT name FROM singer WHERE age > 3 AND country = 'x' INTERSECT SELECT T1.name FROM singer AS T1 JOIN concert AS T2 ON T1.singer_id = T2.singer_id GROUP BY T1.name ORDER BY count(*) DESC LIMIT 1"),
        "extra"
    );
}

#[test]
fn metrics_aggregate_counts_and_rates() {
    let ex = |ok: bool| ExampleResult {
        index: 0,
        db_id: None,
        question: String::new(),
        gold: String::new(),
        prediction: String::new(),
        verdicts: Verdicts { exact_match: ok, semantic_accuracy: ok.then_some(true), ..Default::default() },
    };
    let m = Metrics::from_examples(&[ex(true), ex(false), ex(true), ex(false)], false);
    assert_eq!(m.n_examples, 4);
    assert_eq!((m.exact_match.count, m.exact_match.rate), (2, 0.5));
    let s = m.semantic_accuracy.unwrap();
    assert_eq!((s.count, s.n, s.rate), (2, 2, 1.0));
    assert!(m.execution_accuracy.is_none());
}

/// Deterministic pseudo-random garbage: no judge may panic.
#[test]
fn garbage_never_panics() {
    let seeds = [
        "SELECT name FROM singer WHERE age > 30 GROUP BY country HAVING count(*) > 1 ORDER BY age LIMIT 3",
        "SELECT T1.name FROM singer AS T1 JOIN concert AS T2 ON T1.singer_id = T2.singer_id WHERE T2.year IN (SELECT year FROM concert)",
    ];
    let alphabet: Vec<char> = "() ,.;'\"*=<>!-+/selctfromwhgupbyandor0123456789TS_\u{e9}\u{0}\n`[]".chars().collect();
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let mut rnd = |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    };
    for i in 0..600 {
        let base: Vec<char> = seeds[i % 2].chars().collect();
        let mut s: Vec<char> = base.clone();
        for _ in 0..(1 + rnd(6)) {
            let p = rnd(s.len() + 1);
            match rnd(3) {
                0 if p < s.len() => {
                    s.remove(p);
                }
                1 => s.insert(p, alphabet[rnd(alphabet.len())]),
                _ => s.truncate(p),
            }
        }
        let pred: String = if i % 5 == 0 { (0..rnd(40)).map(|_| alphabet[rnd(alphabet.len())]).collect() } else { s.into_iter().collect() };
        let _ = v(seeds[i % 2], &pred);
        let _ = text2sql_sql::normalize(&pred);
        let _ = text2sql_sql::spider::tokenize::tokenize(&pred);
    }
    let deep = format!("SELECT {}1{}", "(".repeat(5000), ")".repeat(5000));
    assert!(!v("SELECT 1", &deep).parse_success);
    let nested = format!("SELECT name FROM singer{}", " WHERE age IN (SELECT age FROM singer".repeat(3000));
    assert_eq!(v("SELECT name FROM singer", &nested).exact_set_match, Some(false));
}
