//! Throughput of each metric on 1,000 Spider dev examples (gold vs. the next example's
//! gold on the same database, so both matches and mismatches occur). Not a timed test:
//! run it on purpose and read the JSON it prints:
//!
//!     cargo test --release -p text2sql-sql --test bench -- --ignored --nocapture

use std::path::PathBuf;
use std::time::Instant;

use serde_json::{json, Value};
use text2sql_sql::adherence::check_adherence;
use text2sql_sql::exec::{execution_match, ExecOptions};
use text2sql_sql::schema::{load_spider_tables, Schema};
use text2sql_sql::semantic::{generate_db, literals, semantic_match, SemanticOptions};
use text2sql_sql::spider::{self, SpiderDb};
use text2sql_sql::{normalize, normalize_no_values, parse_success};

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn metrics_throughput() {
    let dir = std::env::var_os("TEXT2SQL_SPIDER_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/spider"));
    if !dir.join("dev.json").is_file() {
        println!("SKIP: no Spider data at {}", dir.display());
        return;
    }
    let dev: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(dir.join("dev.json")).unwrap()).unwrap();
    let tables = load_spider_tables(&dir.join("tables.json")).unwrap();
    let dbs: std::collections::HashMap<String, (Schema, SpiderDb)> = tables
        .iter()
        .map(|t| (t.db_id.clone(), (Schema::from_spider(t).unwrap(), SpiderDb::from_tables(t))))
        .collect();
    let n = 1000.min(dev.len());
    let pairs: Vec<(&str, &str, &str)> = (0..n)
        .map(|i| {
            let db = dev[i]["db_id"].as_str().unwrap();
            let g = dev[i]["query"].as_str().unwrap();
            let j = (i + 1) % dev.len();
            let p = if dev[j]["db_id"] == dev[i]["db_id"] { dev[j]["query"].as_str().unwrap() } else { g };
            (db, g, p)
        })
        .collect();
    let mut out = serde_json::Map::new();
    let mut time = |name: &str, f: &mut dyn FnMut(&str, &str, &str) -> bool| {
        let t = Instant::now();
        let mut k = 0;
        for (db, g, p) in &pairs {
            k += usize::from(f(db, g, p));
        }
        let s = t.elapsed().as_secs_f64();
        out.insert(name.into(), json!({"examples": n, "seconds": s, "examples_per_s": n as f64 / s, "count": k}));
    };
    time("exact_match", &mut |_, g, p| matches!((normalize(g), normalize(p)), (Ok(a), Ok(b)) if a == b));
    time("no_values_em", &mut |_, g, p| {
        matches!((normalize_no_values(g), normalize_no_values(p)), (Ok(a), Ok(b)) if a == b)
    });
    time("parse_success", &mut |_, _, p| parse_success(p));
    time("schema_adherence", &mut |db, _, p| check_adherence(p, &dbs[db].0).is_ok_and(|v| v.is_empty()));
    time("exact_set_match", &mut |db, g, p| spider::exact_set_match(&dbs[db].1, g, p).unwrap_or(false));
    let opts = SemanticOptions::default();
    time("execution_accuracy_1_generated_db", &mut |db, g, p| {
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1);
        let Ok(mut c) = generate_db(&dbs[db].0, &literals(g), &opts, &mut rng) else { return false };
        execution_match(&mut c, g, p, &ExecOptions::default()).is_ok_and(|v| v.is_match())
    });
    time("semantic_accuracy_8_dbs", &mut |db, g, p| {
        semantic_match(&dbs[db].0, g, p, &opts).is_ok_and(|v| v.matched)
    });
    println!("{}", serde_json::to_string_pretty(&Value::Object(out)).unwrap());
}
