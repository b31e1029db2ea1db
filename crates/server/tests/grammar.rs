//! Constrained decoding through the server: `parameters.grammar` of type `sql` (schema from the
//! prompt or given) and `regex`, with the random tiny model (whose free output is junk), in
//! batches mixing constrained and free rows, different adapters and different schemas.

mod common;

use common::*;
use serde_json::json;
use text2sql_sql::ask::SqlReport;
use text2sql_sql::constrain::{SqlConstraint, Verdict};
use text2sql_sql::schema::Schema;

const SCHEMAS: [&str; 3] = [
    "CREATE TABLE users (id INT, name TEXT, age INT);",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, total REAL, order_date TEXT);\nCREATE TABLE items (id INT, order_id INT REFERENCES orders(id), sku TEXT);",
    "CREATE TABLE \"Flights\" (FlightNo INT, Origin TEXT, Dest TEXT);",
];

fn prompt(ddl: &str) -> String {
    format!("### Schema:\n{ddl}\n\n### Question:\nHow many?\n\nReturn only the SQL query.")
}

/// Every constrained generation is a viable SQL prefix over its own schema, a complete
/// statement when it stopped at EOS, and then it parses and names only schema tables/columns.
#[tokio::test]
async fn constrained_sql_is_always_valid_for_its_schema_across_seeds_adapters_and_batches() {
    let app = app();
    let mut handles = Vec::new();
    for seed in 0..12u64 {
        let ddl = SCHEMAS[seed as usize % 3];
        let adapter = ["", "qv", "pat"][(seed as usize / 3) % 3];
        let mut params = json!({"max_new_tokens": 40, "details": true, "grammar": {"type": "sql", "value": null}});
        if seed % 2 == 1 {
            params["do_sample"] = json!(true);
            params["seed"] = json!(seed);
            params["temperature"] = json!(1.3);
        }
        if !adapter.is_empty() {
            params["adapter_id"] = json!(adapter);
        }
        let a = app.clone();
        let body = json!({"inputs": prompt(ddl), "parameters": params});
        handles.push(tokio::spawn(async move { (ddl, post(&a, "/generate", body).await) }));
        // A free request alongside each constrained one.
        let a = app.clone();
        handles.push(tokio::spawn(async move {
            ("", post(&a, "/generate", json!({"inputs": PROMPT, "parameters": {"max_new_tokens": 8, "details": true}})).await)
        }));
    }
    let mut complete = 0;
    for h in handles {
        let (ddl, r) = h.await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        let body = r.json();
        if ddl.is_empty() {
            assert_eq!(ids(&body["details"]), solo("", 8), "a free row in a constrained batch is unaffected");
            continue;
        }
        let text = body["generated_text"].as_str().unwrap();
        let schema = Schema::from_ddl(ddl).unwrap();
        let verdict = SqlConstraint::new(&schema).check(text);
        assert_ne!(verdict, Verdict::Dead, "{text:?}");
        if body["details"]["finish_reason"] == "eos_token" {
            complete += 1;
            assert_eq!(verdict, Verdict::Complete, "{text:?}");
            let report = SqlReport::check(text.trim(), &schema);
            assert!(report.adheres(), "{text:?}: {report:?}");
        }
    }
    println!("{complete} of 12 constrained generations ended with EOS on a complete statement");
}

#[tokio::test]
async fn sql_grammar_with_explicit_ddl_and_regex_grammar() {
    let app = app();
    let r = post(
        &app,
        "/generate",
        json!({"inputs": "anything", "parameters": {"max_new_tokens": 30, "grammar": {"type": "sql", "value": SCHEMAS[0]}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.json()["generated_text"].as_str().unwrap().to_string();
    let schema = Schema::from_ddl(SCHEMAS[0]).unwrap();
    assert_ne!(SqlConstraint::new(&schema).check(&text), Verdict::Dead, "{text:?}");

    // TGI's regex grammar: the whole output matches; EOS only once it does.
    let r = post(
        &app,
        "/generate",
        json!({"inputs": PROMPT, "parameters": {"max_new_tokens": 12, "details": true, "grammar": {"type": "regex", "value": "(yes|no)-[0-9]{3}"}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    let text = body["generated_text"].as_str().unwrap();
    // Once the text matches, EOS is the only allowed token: the generation must end there.
    assert!(regex::Regex::new(r"^(yes|no)-[0-9]{3}$").unwrap().is_match(text), "{text:?}");
    assert_eq!(body["details"]["finish_reason"], "eos_token");
}

#[tokio::test]
async fn openai_routes_take_response_format() {
    let app = app();
    let r = post(
        &app,
        "/v1/chat/completions",
        json!({"messages": [{"role": "user", "content": "Answer"}], "max_tokens": 10,
               "response_format": {"type": "regex", "value": "(yes|no)"}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    let content = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(content == "yes" || content == "no", "{content:?}");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");

    let r = post(
        &app,
        "/v1/completions",
        json!({"prompt": prompt(SCHEMAS[0]), "max_tokens": 20, "response_format": {"type": "sql", "value": null}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.json()["choices"][0]["text"].as_str().unwrap().to_string();
    let schema = Schema::from_ddl(SCHEMAS[0]).unwrap();
    assert_ne!(SqlConstraint::new(&schema).check(&text), Verdict::Dead, "{text:?}");

    let r = post(&app, "/v1/chat/completions", json!({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}})).await;
    assert_eq!(r.status, 422);
    assert!(r.json()["error"].as_str().unwrap().contains("json_object"));
}
