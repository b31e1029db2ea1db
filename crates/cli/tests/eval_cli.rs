//! `text2sql eval` and `text2sql data build` end to end on small fixtures.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_text2sql"))
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let (o, e) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "failed: {cmd:?}\nstdout: {o}\nstderr: {e}");
    o.into_owned()
}

fn report(dir: &Path, name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(format!("eval_{name}.json"))).unwrap()).unwrap()
}

fn rate(r: &Value, m: &str) -> f64 {
    r["metrics"][m]["rate"].as_f64().unwrap_or_else(|| panic!("no metric {m}: {}", r["metrics"]))
}

#[test]
fn eval_internal_mock() {
    let out = tempfile::tempdir().unwrap();
    let stdout = run_ok(bin().args(["eval", "internal", "--mock", "-q", "--val_path"]).arg(fixtures().join("val_mini.jsonl")).arg("--out_dir").arg(out.path()));
    assert!(stdout.contains("Exact match"), "{stdout}");
    let r = report(out.path(), "internal");
    assert_eq!(r["metrics"]["n_examples"], 3);
    for m in ["exact_match", "no_values_em", "parse_success", "schema_adherence", "exact_set_match", "semantic_accuracy"] {
        assert_eq!(rate(&r, m), 1.0, "{m}");
        assert_eq!(r["metrics"][m]["count"], 3, "{m}");
    }
    assert!(r["metrics"].get("execution_accuracy").is_none());
    assert_eq!(r["examples"].as_array().unwrap().len(), 3);
    assert!(out.path().join("eval_internal.md").is_file());
}

fn spider_dir_with_db() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for f in ["dev.json", "tables.json"] {
        std::fs::copy(fixtures().join("spider_mini").join(f), d.path().join(f)).unwrap();
    }
    let dbdir = d.path().join("database/shop");
    std::fs::create_dir_all(&dbdir).unwrap();
    let c = rusqlite::Connection::open(dbdir.join("shop.sqlite")).unwrap();
    c.execute_batch(
        "CREATE TABLE shop (id INTEGER PRIMARY KEY, name TEXT, city TEXT, staff INTEGER);
         CREATE TABLE item (id INTEGER PRIMARY KEY, shop_id INTEGER, price REAL);
         INSERT INTO shop VALUES (1,'A','Paris',3),(2,'B','Rome',9),(3,'C','Paris',7);
         INSERT INTO item VALUES (1,1,2.5),(2,2,4.0),(3,3,1.5);",
    )
    .unwrap();
    d
}

#[test]
fn eval_spider_mock_and_predictions() {
    let sd = spider_dir_with_db();
    let out = tempfile::tempdir().unwrap();
    run_ok(bin().args(["eval", "spider", "--mock", "-q", "--spider_dir"]).arg(sd.path()).arg("--out_dir").arg(out.path()));
    let r = report(out.path(), "spider");
    assert_eq!(r["metrics"]["n_examples"], 4);
    for m in ["exact_set_match", "execution_accuracy", "semantic_accuracy", "exact_match"] {
        assert_eq!(rate(&r, m), 1.0, "{m}");
    }
    assert!(r["metrics"]["by_hardness"]["easy"]["n_examples"].as_u64().unwrap() >= 1);

    // predictions file: one right, one with a different LIMIT (Spider: still right),
    // one wrong aggregate, one unparseable for Spider (<>)
    let preds = out.path().join("pred.txt");
    std::fs::write(
        &preds,
        "SELECT count(*) FROM shop WHERE city = 'Paris'\n\
         SELECT name FROM shop ORDER BY staff DESC LIMIT 2\n\
         SELECT T1.city , max(T2.price) FROM shop AS T1 JOIN item AS T2 ON T1.id = T2.shop_id GROUP BY T1.city\n\
         SELECT name FROM shop WHERE staff > 5 AND city <> 'Paris'\n",
    )
    .unwrap();
    run_ok(bin().args(["eval", "spider", "-q", "--predictions"]).arg(&preds).arg("--spider_dir").arg(sd.path()).arg("--out_dir").arg(out.path()));
    let r = report(out.path(), "spider");
    assert_eq!(r["metrics"]["exact_set_match"]["count"], 2);
    assert_eq!(r["metrics"]["execution_accuracy"]["count"], 1); // LIMIT 2 returns 2 rows
    let ex = r["examples"].as_array().unwrap();
    assert_eq!(ex[3]["exact_set_match"], false);
    assert_eq!(ex[1]["prediction"], "SELECT name FROM shop ORDER BY staff DESC LIMIT 2");
}

#[test]
fn eval_names_bad_files() {
    let out = bin().args(["eval", "internal", "--val_path", "/nonexistent/val.jsonl", "--mock"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/val.jsonl"));
    // Without --mock/--predictions/--endpoint the source is the engine: a bad --model is named.
    let out = bin().args(["eval", "internal", "--model", "/nonexistent/model", "--val_path"]).arg(fixtures().join("val_mini.jsonl")).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/model"));
}

/// An endpoint that fails every request (here: nothing listens) is a configuration error with
/// the reason, not a report of 0 %.
#[test]
fn eval_fails_when_every_request_fails() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out_dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["eval", "internal", "-q", "--endpoint", &format!("http://127.0.0.1:{port}"), "--val_path"])
        .arg(fixtures().join("val_mini.jsonl"))
        .arg("--out_dir")
        .arg(out_dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("every prediction request failed (3 of 3)") && err.contains(&port.to_string()), "{err}");
    assert!(!out_dir.path().join("eval_internal.json").exists(), "no report for a run that measured nothing");
}

#[test]
fn eval_internal_endpoint_against_local_tgi_stub() {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let mut bodies = Vec::new();
        for _ in 0..3 {
            let (mut s, _) = listener.accept().unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut len = 0;
            let mut auth = String::new();
            loop {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                let l = line.to_ascii_lowercase();
                if let Some(v) = l.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                if l.starts_with("authorization:") {
                    auth = line.trim().to_string();
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            let body: Value = serde_json::from_slice(&body).unwrap();
            bodies.push((body, auth));
            let resp = r#"{"generated_text": "```sql\nSELECT count(*) FROM shop\n```"}"#;
            write!(s, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{resp}", resp.len()).unwrap();
        }
        bodies
    });
    let out = tempfile::tempdir().unwrap();
    run_ok(
        bin()
            .args(["eval", "internal", "-q", "--concurrency", "1", "--adapter_id", "my-adapter", "--endpoint"])
            .arg(format!("http://{addr}"))
            .arg("--val_path")
            .arg(fixtures().join("val_mini.jsonl"))
            .arg("--out_dir")
            .arg(out.path())
            .env("HF_TOKEN", "hf_test_token"),
    );
    let bodies = server.join().unwrap();
    let (b, auth) = &bodies[0];
    assert_eq!(b["parameters"]["adapter_id"], "my-adapter");
    assert_eq!(b["parameters"]["max_new_tokens"], 256);
    assert!(b["inputs"].as_str().unwrap().ends_with("How many shops are in Paris?\n\nReturn only the SQL query."));
    assert_eq!(auth, "Authorization: Bearer hf_test_token");
    let r = report(out.path(), "internal");
    assert_eq!(r["examples"][0]["prediction"], "SELECT count(*) FROM shop");
    assert_eq!(r["metrics"]["parse_success"]["count"], 3);
    assert_eq!(r["metrics"]["exact_match"]["count"], 0);
}

#[test]
fn data_build_writes_train_val_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let mut s = String::new();
    for i in 0..30 {
        s.push_str(&format!("{{\"question\": \"q{i}?\", \"context\": \"CREATE TABLE t (a INT, b TEXT)\", \"answer\": \"SELECT b FROM t WHERE a = {i}\"}}\n"));
    }
    s.push_str("{\"question\": \"bad\", \"context\": \"CREATE TABLE t (a INT)\", \"answer\": \"SELECT zzz FROM t\"}\nnot json\n");
    std::fs::write(&input, s).unwrap();
    let out = dir.path().join("processed");
    let stdout = run_ok(bin().args(["data", "build", "--input"]).arg(&input).arg("--out_dir").arg(&out));
    assert!(stdout.contains("line 31"), "{stdout}");
    assert!(stdout.contains("line 32"), "{stdout}");
    let n = |f: &str| std::fs::read_to_string(out.join(f)).unwrap().lines().count();
    assert_eq!(n("train.jsonl") + n("val.jsonl"), 30);
    let rep: Value = serde_json::from_str(&std::fs::read_to_string(out.join("build_report.json")).unwrap()).unwrap();
    assert_eq!(rep["schema_violations"][0]["line"], 31);
    // the val file feeds eval internal directly
    let rdir = dir.path().join("reports");
    run_ok(bin().args(["eval", "internal", "--mock", "-q", "--val_path"]).arg(out.join("train.jsonl")).arg("--out_dir").arg(&rdir));
    assert_eq!(rate(&report(&rdir, "internal"), "exact_match"), 1.0);
}

#[test]
fn data_build_reads_a_dataset_from_the_local_hf_cache() {
    let cache = tempfile::tempdir().unwrap();
    let snap = cache.path().join("datasets--b-mc2--sql-create-context/snapshots/0123abcd");
    std::fs::create_dir_all(&snap).unwrap();
    std::fs::write(
        snap.join("sql_create_context_v4.json"),
        r#"[{"question": "How many heads of the departments are older than 56 ?", "context": "CREATE TABLE head (age INTEGER)", "answer": "SELECT COUNT(*) FROM head WHERE age > 56"}]"#,
    )
    .unwrap();
    let out = cache.path().join("processed");
    run_ok(
        bin()
            .args(["data", "build", "--dataset", "b-mc2/sql-create-context", "--val_fraction", "0", "--out_dir"])
            .arg(&out)
            .env("HF_HUB_CACHE", cache.path()),
    );
    let train = std::fs::read_to_string(out.join("train.jsonl")).unwrap();
    assert!(train.contains("SELECT COUNT(*) FROM head WHERE age > 56"), "{train}");
    let missing = bin()
        .args(["data", "build", "--dataset", "nobody/nothing", "--out_dir"])
        .arg(&out)
        .env("HF_HUB_CACHE", cache.path())
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nobody/nothing"));
}

/// The in-process engine as prediction source: every prediction is the engine's own greedy
/// output for the prompt (the tiny random fixture model writes junk, so only the pipeline and
/// the recorded predictions are checked, not accuracy).
#[test]
fn eval_internal_with_the_in_process_engine() {
    let out = tempfile::tempdir().unwrap();
    let engine_fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../engine/tests/fixtures/llama_gqa");
    run_ok(
        bin()
            .args(["eval", "internal", "-q", "--max_examples", "2", "--val_path"])
            .arg(fixtures().join("val_mini.jsonl"))
            .arg("--model")
            .arg(engine_fixture.join("model"))
            .arg("--adapter")
            .arg(engine_fixture.join("adapters/qv_r8"))
            .arg("--out_dir")
            .arg(out.path()),
    );
    let r = report(out.path(), "internal");
    assert_eq!(r["metrics"]["n_examples"], 2);
    let examples = r["examples"].as_array().unwrap();
    assert_eq!(examples.len(), 2);
    // Same text as generating with the engine directly.
    let engine = text2sql_engine::Engine::load(&engine_fixture.join("model")).unwrap();
    let adapter = engine.load_adapter(&engine_fixture.join("adapters/qv_r8"), "qv").unwrap();
    let first = std::fs::read_to_string(fixtures().join("val_mini.jsonl")).unwrap();
    let row: Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    let prompt = format!("{}\n\nReturn only the SQL query.", row["input"].as_str().unwrap());
    let text = engine.complete_greedy(&prompt, Some(&adapter), 256, None).unwrap();
    let recorded = examples[0]["prediction"].as_str().unwrap();
    let words = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    assert_eq!(words(recorded), words(&text), "example 0 should carry the engine's output");
}

/// `data synth`: same seed, same bytes; the val file (held-out families) and the hand-written
/// set feed `eval internal` directly; a bad --val_families names the flag.
#[test]
fn data_synth_is_deterministic_and_feeds_eval() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for out in [&a, &b] {
        let stdout = run_ok(
            bin().args(["data", "synth", "--n_train", "60", "--n_val", "20", "--seed", "3", "--val_families", "clinic,airline", "--out_dir"]).arg(out),
        );
        assert!(stdout.contains("60 train examples"), "{stdout}");
    }
    for f in ["train.jsonl", "val.jsonl", "stats.json"] {
        assert_eq!(std::fs::read(a.join(f)).unwrap(), std::fs::read(b.join(f)).unwrap(), "{f}");
    }
    let stats: Value = serde_json::from_str(&std::fs::read_to_string(a.join("stats.json")).unwrap()).unwrap();
    assert_eq!(stats["val_families"], serde_json::json!(["airline", "clinic"]));
    let rdir = dir.path().join("reports");
    run_ok(bin().args(["eval", "internal", "--mock", "-q", "--val_path"]).arg(a.join("val.jsonl")).arg("--out_dir").arg(&rdir));
    assert_eq!(rate(&report(&rdir, "internal"), "exact_match"), 1.0);
    let hand = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../synth/eval/handwritten.alpaca.jsonl");
    let hdir = dir.path().join("hand");
    run_ok(bin().args(["eval", "internal", "--mock", "-q", "--val_path"]).arg(&hand).arg("--out_dir").arg(&hdir));
    assert_eq!(rate(&report(&hdir, "internal"), "exact_match"), 1.0);
    let bad = bin().args(["data", "synth", "--n_train", "5", "--n_val", "5", "--val_families", "nope", "--out_dir"]).arg(dir.path().join("c")).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--val_families"), "{}", String::from_utf8_lossy(&bad.stderr));
}
