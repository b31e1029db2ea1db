//! The web UI's routes in-process: the page and assets, the bundled sample databases (every
//! example question's SQL runs and returns rows), read-only refusals, limits, and /ui/check.

mod common;

use common::*;
use serde_json::json;
use text2sql_sql::schema::Schema;

#[tokio::test]
async fn page_and_assets_are_served_with_their_types() {
    let app = app();
    for (path, ty, needle) in [
        ("/", "text/html", "<title>text2sql copilot</title>"),
        ("/ui/app.js", "text/javascript", "generate_stream"),
        ("/ui/style.css", "text/css", "--accent"),
    ] {
        let r = get(&app, path).await;
        assert_eq!(r.status, 200, "{path}");
        assert!(r.headers["content-type"].to_str().unwrap().starts_with(ty), "{path}");
        assert!(r.text().contains(needle), "{path}");
    }
}

#[tokio::test]
async fn every_sample_question_sql_runs_and_returns_rows() {
    let app = app();
    let samples = get(&app, "/ui/samples").await.json();
    let samples = samples.as_array().unwrap();
    assert_eq!(samples.len(), 3);
    let gold: serde_json::Value =
        serde_json::from_str(include_str!("../ui/samples/questions.json")).unwrap();
    for s in samples {
        let name = s["name"].as_str().unwrap();
        let ddl = s["ddl"].as_str().unwrap();
        let schema = Schema::from_ddl(ddl).unwrap_or_else(|e| panic!("{name}: DDL does not parse: {e}"));
        assert!(schema.tables.len() >= 3, "{name}");
        assert!(!ddl.contains("INSERT"), "{name}: the prompt DDL must hold only CREATE TABLE");
        assert!(!s["title"].as_str().unwrap().is_empty() && !s["description"].as_str().unwrap().is_empty());
        let questions = gold[name].as_array().unwrap();
        assert_eq!(s["questions"].as_array().unwrap().len(), questions.len());
        for q in questions {
            let sql = q["sql"].as_str().unwrap();
            let r = post(&app, "/ui/run", json!({"sample": name, "sql": sql})).await;
            assert_eq!(r.status, 200, "{name}: {sql}: {}", r.text());
            let body = r.json();
            assert!(!body["rows"].as_array().unwrap().is_empty(), "{name}: {sql} returned no rows");
            // The gold SQL names only tables and columns of the schema the page shows.
            let c = post(&app, "/ui/check", json!({"text": sql, "ddl": ddl})).await.json();
            assert_eq!(c["parse_error"], serde_json::Value::Null, "{sql}");
            assert_eq!(c["unknown_names"], json!([]), "{sql}");
        }
    }
}

#[tokio::test]
async fn run_refuses_writes_and_several_statements_and_keeps_the_data() {
    let app = app();
    let count = || async { post(&app, "/ui/run", json!({"sample": "shop", "sql": "SELECT COUNT(*) FROM customers"})).await.json()["rows"][0][0].clone() };
    let before = count().await;
    for sql in [
        "DELETE FROM customers",
        "UPDATE customers SET name = 'x'",
        "INSERT INTO customers (name) VALUES ('x')",
        "DROP TABLE customers",
        "ATTACH DATABASE '/tmp/x.db' AS x",
        "PRAGMA query_only = OFF",
        "SELECT 1; DELETE FROM customers",
        "CREATE TABLE t (a INT)",
    ] {
        let r = post(&app, "/ui/run", json!({"sample": "shop", "sql": sql})).await;
        assert_eq!(r.status, 422, "{sql}: {}", r.text());
        let e = r.json();
        assert_eq!(e["error_type"], "refused", "{sql}: {e}");
        assert!(!e["error"].as_str().unwrap().is_empty());
    }
    assert_eq!(count().await, before);
}

#[tokio::test]
async fn run_errors_are_clear() {
    let app = app();
    let r = post(&app, "/ui/run", json!({"sample": "nope", "sql": "SELECT 1"})).await;
    assert_eq!(r.status, 404);
    assert!(r.json()["error"].as_str().unwrap().contains("shop"), "lists the known samples");
    let r = post(&app, "/ui/run", json!({"sample": "shop", "sql": "SELECT nope FROM customers"})).await;
    assert_eq!((r.status.as_u16(), r.json()["error_type"].as_str().unwrap()), (422, "sql_error"));
    let r = post(&app, "/ui/run", json!({"sample": "shop", "sql": "SELECT 1", "max_rows": 0})).await;
    assert_eq!(r.status, 422);
    // An endless query stops at the time cap.
    let endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT COUNT(*) FROM n";
    let r = post(&app, "/ui/run", json!({"sample": "shop", "sql": endless})).await;
    assert_eq!((r.status.as_u16(), r.json()["error_type"].as_str().unwrap()), (422, "timeout"));
    // Row cap.
    let r = post(&app, "/ui/run", json!({"sample": "shop", "sql": "SELECT * FROM customers", "max_rows": 2})).await.json();
    assert_eq!(r["rows"].as_array().unwrap().len(), 2);
    assert_eq!(r["truncated"], true);
    // Malformed body: axum's JSON rejection.
    let r = post(&app, "/ui/run", json!({"sql": "SELECT 1"})).await;
    assert_eq!(r.status, 422);
}

#[tokio::test]
async fn check_extracts_sql_and_names_unknown_tables_and_columns() {
    let app = app();
    let ddl = "CREATE TABLE users (id INT, name TEXT);";
    let c = post(&app, "/ui/check", json!({"text": "```sql\nSELECT nam FROM user\n```\nThis query…", "ddl": ddl})).await.json();
    assert_eq!(c["sql"], "SELECT nam FROM user");
    let unknown: Vec<String> = serde_json::from_value(c["unknown_names"].clone()).unwrap();
    assert!(unknown.iter().any(|u| u.contains("user")), "{unknown:?}");
    let c = post(&app, "/ui/check", json!({"text": "SELEC name FROM", "ddl": ddl})).await.json();
    assert!(c["parse_error"].is_string());
    let r = post(&app, "/ui/check", json!({"text": "SELECT 1", "ddl": "CREATE TABLE ("})).await;
    assert_eq!((r.status.as_u16(), r.json()["error_type"].as_str().unwrap()), (422, "invalid_schema"));
}

#[tokio::test]
async fn ui_data_routes_need_the_api_key_but_the_page_does_not() {
    let mut cfg = config();
    cfg.api_key = Some("k".into());
    let app = text2sql_server::app(state_with(limits(), cfg));
    assert_eq!(get(&app, "/").await.status, 200);
    assert_eq!(get(&app, "/ui/app.js").await.status, 200);
    assert_eq!(get(&app, "/ui/samples").await.status, 401);
    assert_eq!(post(&app, "/ui/run", json!({"sample": "shop", "sql": "SELECT 1"})).await.status, 401);
    assert_eq!(post(&app, "/ui/check", json!({"text": "SELECT 1", "ddl": ""})).await.status, 401);
}
