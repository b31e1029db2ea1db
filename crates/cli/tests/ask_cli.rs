//! `text2sql ask` end to end: --sql with --execute on SQLite (table, row cap, refusals that
//! leave the file unchanged, unknown-name warnings, trimming shown with --verbose), and
//! generation with the tiny fixture model and a LoRA adapter (junk SQL, but the report and
//! exit code must be right).

mod serve_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_text2sql"));
    c.env_remove("TEXT2SQL_DB").env_remove("HF_TOKEN");
    c
}

fn tiny() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../engine/tests/fixtures/llama_gqa")
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

fn make_db(dir: &Path) -> PathBuf {
    let path = dir.join("music.db");
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch(
        "CREATE TABLE singer (singer_id INTEGER PRIMARY KEY, name TEXT, age INT);
         CREATE TABLE concert (concert_id INTEGER PRIMARY KEY, singer_id INT REFERENCES singer(singer_id), year TEXT);",
    )
    .unwrap();
    for i in 0..5 {
        c.execute("INSERT INTO singer (name, age) VALUES (?1, ?2)", rusqlite::params![format!("s{i}"), 30 + i]).unwrap();
    }
    path
}

#[test]
fn execute_prints_a_capped_table() {
    let dir = tempfile::tempdir().unwrap();
    let db = make_db(dir.path());
    let out = bin()
        .args(["ask", "Names of singers by age", "--db"])
        .arg(format!("sqlite://{}", db.display()))
        .args(["--sql", "SELECT name, age FROM singer ORDER BY age;", "--execute", "--max_rows", "3"])
        .output()
        .unwrap();
    let (o, e) = text(&out);
    assert!(out.status.success(), "{o}\n{e}");
    let lines: Vec<&str> = o.lines().collect();
    assert_eq!(lines[0], "SELECT name, age FROM singer ORDER BY age;");
    assert!(o.contains("| name | age |"), "{o}");
    for (n, a) in [("s0", 30), ("s1", 31), ("s2", 32)] {
        assert!(o.contains(&format!("| {n}   | {a}  |")), "{o}");
    }
    assert!(!o.contains("s3"), "{o}");
    assert!(o.contains("(3 rows shown; more rows were cut by --max-rows 3)"), "{o}");
    assert!(e.contains("parse: ok") && e.contains("schema adherence: ok"), "{e}");
}

#[test]
fn writes_are_refused_and_the_database_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let db = make_db(dir.path());
    let before = std::fs::read(&db).unwrap();
    for (sql, want) in [
        ("INSERT INTO singer (name) VALUES ('x')", "refused: INSERT"),
        ("UPDATE singer SET age = 0", "refused: UPDATE"),
        ("DELETE FROM singer", "refused: DELETE"),
        ("ATTACH DATABASE 'other.db' AS o", "refused: ATTACH"),
        ("PRAGMA user_version = 3", "refused: PRAGMA"),
        ("SELECT 1; DROP TABLE singer", "refused: 2 statements"),
    ] {
        let out = bin()
            .current_dir(dir.path())
            .args(["ask", "q", "--db"])
            .arg(db.display().to_string())
            .args(["--sql", sql, "--execute"])
            .output()
            .unwrap();
        let (o, e) = text(&out);
        assert!(!out.status.success(), "{sql}: {o}\n{e}");
        assert!(e.contains(want) && e.contains("exactly one read-only SELECT"), "{sql}: {e}");
        assert!(!o.contains("+-"), "{sql}: a table was printed: {o}");
    }
    assert_eq!(std::fs::read(&db).unwrap(), before);
    assert!(!dir.path().join("other.db").exists());
}

#[test]
fn unknown_names_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("schema.sql");
    std::fs::write(&schema, "CREATE TABLE singer (singer_id INT PRIMARY KEY, name TEXT);").unwrap();
    let out = bin()
        .args(["ask", "q", "--schema"])
        .arg(&schema)
        .args(["--sql", "SELECT nickname, band.x FROM singer"])
        .output()
        .unwrap();
    let (o, e) = text(&out);
    assert!(out.status.success(), "{o}\n{e}");
    assert_eq!(o.trim(), "SELECT nickname, band.x FROM singer");
    assert!(e.contains("parse: ok"), "{e}");
    assert!(e.contains("schema adherence: FAILED"), "{e}");
    assert!(e.contains("names absent from the schema: column nickname, table or alias band"), "{e}");

    let out = bin().args(["ask", "q", "--schema"]).arg(&schema).args(["--sql", "SELEC oops"]).output().unwrap();
    let (_, e) = text(&out);
    assert!(out.status.success());
    assert!(e.contains("parse: FAILED") && e.contains("not checked"), "{e}");

    let out = bin().args(["ask", "q", "--schema"]).arg(&schema).args(["--sql", "SELECT 1", "--execute"]).output().unwrap();
    assert!(!out.status.success(), "--execute without --db must fail");
}

#[test]
fn verbose_shows_trimming_of_a_large_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.db");
    let c = rusqlite::Connection::open(&path).unwrap();
    let mut ddl = String::from(
        "CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, city TEXT);
         CREATE TABLE orders (order_id INTEGER PRIMARY KEY, customer_id INT REFERENCES customers(customer_id), total REAL);",
    );
    for i in 0..28 {
        ddl.push_str(&format!("CREATE TABLE misc_{i} (k{i} INT, v{i} TEXT);"));
    }
    c.execute_batch(&ddl).unwrap();
    drop(c);
    let out = bin()
        .args(["ask", "Total of the orders per city", "--verbose", "--max_tables", "5", "--db"])
        .arg(&path)
        .args(["--sql", "SELECT c.city, sum(o.total) FROM orders o JOIN customers c USING (customer_id) GROUP BY c.city"])
        .output()
        .unwrap();
    let (o, e) = text(&out);
    assert!(out.status.success(), "{o}\n{e}");
    assert!(e.contains("schema trimmed to 2 of 30 tables"), "{e}");
    assert!(e.contains("kept    orders") && e.contains("kept    customers") && e.contains("dropped misc_0"), "{e}");
    // The prompt holds exactly the kept tables, in the project's format.
    let prompt = e.split("--- prompt ---\n").nth(1).unwrap().split("\n--------------").next().unwrap();
    assert!(prompt.starts_with("### Schema:\nCREATE TABLE customers"), "{prompt}");
    assert!(prompt.ends_with("\n\n### Question:\nTotal of the orders per city\n\nReturn only the SQL query."), "{prompt}");
    assert!(!prompt.contains("misc_"), "{prompt}");
    assert!(e.contains("schema adherence: ok"), "{e}");
}

#[test]
fn tiny_model_with_adapter_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("schema.sql");
    std::fs::write(&schema, "CREATE TABLE t (a INT);").unwrap();
    let out = bin()
        .args(["ask", "How many a?", "--schema"])
        .arg(&schema)
        .arg("--model")
        .arg(tiny().join("model"))
        .arg("--adapter")
        .arg(tiny().join("adapters/qv_r8"))
        .args(["--max_new_tokens", "12", "--verbose"])
        .output()
        .unwrap();
    let (o, e) = text(&out);
    assert!(out.status.success(), "{o}\n{e}");
    assert!(e.contains("--- prompt ---\n### Schema:\nCREATE TABLE t (a INT);\n\n### Question:\nHow many a?\n\nReturn only the SQL query.\n"), "{e}");
    assert!(e.contains("--- generation ---"), "{e}");
    // Random tokens: whatever the SQL is, it is reported.
    assert!(e.contains("parse: ok") || e.contains("parse: FAILED"), "{e}");
    assert!(e.contains("schema adherence: "), "{e}");
    assert!(!e.contains("warning: adapter"), "{e}");
}

/// The embedded default (SmolLM2-135M-Instruct Q4_1 + the shipped text2sql-qlora adapter) on
/// the web UI's sample databases: fixed questions get SQL that parses with free decoding, and
/// with schema-constrained decoding (the mode the model card recommends) SQL that names only
/// the schema's tables and columns and runs read-only with a result. (Free decoding may name
/// an absent column, as v5 did on the 'Books' question with a self-join on `product_id`; v6
/// answers it with a valid but wrong `SELECT DISTINCT category FROM products`.)
#[test]
fn shipped_adapter_answers_fixed_questions_with_valid_sql() {
    let samples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../server/ui/samples");
    let dir = tempfile::tempdir().unwrap();
    for (sample, question) in [
        ("shop", "How many customers are there?"),
        ("shop", "List the names of all products in the category 'Books'."),
        ("hr", "What is the average salary of employees?"),
        ("music", "How many tracks are there in each genre?"),
    ] {
        let db = dir.path().join(format!("{sample}.db"));
        if !db.exists() {
            let script = std::fs::read_to_string(samples.join(format!("{sample}.sql"))).unwrap();
            rusqlite::Connection::open(&db).unwrap().execute_batch(&script).unwrap();
        }
        let free = bin().args(["ask", question, "--db", db.to_str().unwrap(), "--max_new_tokens", "96"]).output().unwrap();
        let (stdout, stderr) = text(&free);
        if !free.status.success() && stderr.contains("pip") {
            println!("SKIP shipped_adapter_answers_fixed_questions_with_valid_sql: the default model cannot be fetched: {stderr}");
            return;
        }
        assert!(free.status.success() && stderr.contains("parse: ok"), "{sample}: {question} (free)\nstdout:\n{stdout}\nstderr:\n{stderr}");
        println!("{sample}: {question} -> free: {}", stdout.lines().next().unwrap_or_default());
        let out = bin().args(["ask", question, "--db", db.to_str().unwrap(), "--execute", "--constrained", "--max_new_tokens", "96"]).output().unwrap();
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{sample}: {question}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        assert!(stderr.contains("parse: ok") && stderr.contains("schema adherence: ok"), "{sample}: {question}\n{stdout}\n{stderr}");
        assert!(stdout.contains("row"), "{sample}: {question}: no result table\n{stdout}");
        println!("{sample}: {question} -> constrained: {}", stdout.lines().next().unwrap_or_default());
    }
}

/// `ask --endpoint` against a real `text2sql serve` (no stub): the SQL and the report equal the
/// in-process engine's, free and schema-constrained, with and without an adapter.
#[test]
fn endpoint_answers_like_the_in_process_engine() {
    let server = serve_common::Server::start(
        &["--model-id", &serve_common::model_dir(), "--hostname", "127.0.0.1", "--port", "0"],
        &[("LORA_ADAPTERS", &serve_common::two_adapters())],
    );
    let dir = tempfile::tempdir().unwrap();
    let db = make_db(dir.path());
    for (adapter, constrained) in [(None, false), (Some("qv"), false), (Some("qv"), true)] {
        let ask = |remote: bool| {
            let mut c = bin();
            c.args(["ask", "How many singers are older than 30?", "--db"]).arg(format!("sqlite://{}", db.display()));
            c.args(["--max_new_tokens", "16"]);
            if constrained {
                c.arg("--constrained");
            }
            if remote {
                c.args(["--endpoint", &server.base]);
                if let Some(a) = adapter {
                    c.args(["--adapter_id", a]);
                }
            } else {
                c.arg("--model").arg(tiny().join("model"));
                if let Some(a) = adapter {
                    c.arg("--adapter").arg(serve_common::adapter_dir(a));
                }
            }
            let out = c.output().unwrap();
            let (o, e) = text(&out);
            assert!(out.status.success(), "remote={remote} {adapter:?} constrained={constrained}\n{o}\n{e}\n{}", server.log());
            (o, e.lines().filter(|l| l.starts_with("parse:") || l.starts_with("schema adherence:")).collect::<Vec<_>>().join("\n"))
        };
        let (local, remote) = (ask(false), ask(true));
        assert_eq!(local, remote, "{adapter:?} constrained={constrained}");
    }
}
