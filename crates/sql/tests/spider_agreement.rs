//! Agreement of our exact-set-match with the official Spider evaluator, on verdicts
//! recorded by tests/reference/spider_official_verdicts.py (gold-vs-gold on all of dev,
//! plus a sample of perturbed predictions). Needs Spider's dev.json/tables.json: from
//! TEXT2SQL_SPIDER_DIR or ../shared/data/spider next to the repo; skipped if absent.
//! With TEXT2SQL_SPIDER_VERDICTS_ALL=FILE (the script's --all-out), every perturbed row
//! is checked too.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::Value;
use text2sql_sql::schema::{load_spider_tables, SpiderTables};
use text2sql_sql::spider::{self, SpiderDb};

fn spider_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("TEXT2SQL_SPIDER_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/spider"));
    if dir.join("dev.json").is_file() && dir.join("tables.json").is_file() {
        Some(dir)
    } else {
        println!("SKIP: Spider data not found at {} (set TEXT2SQL_SPIDER_DIR)", dir.display());
        None
    }
}

struct Data {
    dev: Vec<Value>,
    dbs: HashMap<String, SpiderDb>,
}

fn load(dir: &std::path::Path) -> Data {
    let dev: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(dir.join("dev.json")).unwrap()).unwrap();
    let tables: Vec<SpiderTables> = load_spider_tables(&dir.join("tables.json")).unwrap();
    let dbs = tables.iter().map(|t| (t.db_id.clone(), SpiderDb::from_tables(t))).collect();
    Data { dev, dbs }
}

fn rows(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn fixture() -> Vec<Value> {
    rows(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/spider_verdicts.jsonl"))
}

/// Returns (agreeing, total) and prints each disagreement.
fn agreement(data: &Data, rows: &[Value], perturbed: bool) -> (usize, usize) {
    let (mut agree, mut total) = (0, 0);
    for r in rows {
        let is_gold = r["kind"] == "gold";
        if is_gold == perturbed || r["verdict"].is_null() {
            continue;
        }
        let i = r["i"].as_u64().unwrap() as usize;
        let ex = &data.dev[i];
        let db = &data.dbs[ex["db_id"].as_str().unwrap()];
        let gold = ex["query"].as_str().unwrap();
        let pred = if is_gold { gold } else { r["pred"].as_str().unwrap() };
        let official = r["verdict"].as_i64().unwrap() == 1;
        total += 1;
        let ours = spider::exact_set_match(db, gold, pred);
        let mut ok = ours.as_ref().is_ok_and(|v| *v == official);
        if is_gold {
            let h = spider::parse(db, gold).map(|s| spider::hardness(&s).as_str());
            if h.as_deref().ok() != r["hardness"].as_str() {
                ok = false;
                println!("hardness differs on dev[{i}]: ours {h:?}, official {}", r["hardness"]);
            }
        }
        if ok {
            agree += 1;
        } else {
            println!("DISAGREE dev[{i}] {}: official {official}, ours {ours:?}\n  gold: {gold}\n  pred: {pred}", r["kind"]);
        }
    }
    (agree, total)
}

fn check(name: &str, (agree, total): (usize, usize)) {
    let rate = agree as f64 / total.max(1) as f64;
    println!("{name}: {agree}/{total} agree ({:.2}%)", rate * 100.0);
    assert!(total > 0, "{name}: no rows");
    assert!(rate >= 0.99, "{name}: agreement {:.2}% < 99%", rate * 100.0);
}

#[test]
fn gold_vs_gold_agrees_with_official() {
    let Some(dir) = spider_dir() else { return };
    let data = load(&dir);
    check("gold-vs-gold", agreement(&data, &fixture(), false));
}

#[test]
fn perturbed_sample_agrees_with_official() {
    let Some(dir) = spider_dir() else { return };
    let data = load(&dir);
    check("perturbed (fixture sample)", agreement(&data, &fixture(), true));
}

#[test]
fn perturbed_all_agrees_with_official() {
    let Some(path) = std::env::var_os("TEXT2SQL_SPIDER_VERDICTS_ALL") else {
        println!("SKIP: TEXT2SQL_SPIDER_VERDICTS_ALL not set");
        return;
    };
    let Some(dir) = spider_dir() else { return };
    let data = load(&dir);
    check("perturbed (all)", agreement(&data, &rows(std::path::Path::new(&path)), true));
}
