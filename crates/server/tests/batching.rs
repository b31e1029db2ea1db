//! Scheduling: concurrent requests for different adapters share forward passes and each gets
//! its solo result; overload is an immediate 429; a client that goes away frees its slot.

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_with_different_adapters_get_their_solo_results() {
    let app = app();
    let mut handles = Vec::new();
    for round in 0..3 {
        for adapter in ["", "qv", "pat"] {
            let app = app.clone();
            handles.push(tokio::spawn(async move {
                let n = 4 + round;
                let r = post(&app, "/generate", json!({"inputs": PROMPT, "parameters": {"adapter_id": adapter, "max_new_tokens": n, "details": true}})).await;
                (adapter, n, r.json())
            }));
        }
    }
    for h in handles {
        let (adapter, n, body) = h.await.unwrap();
        assert_eq!(ids(&body["details"]), solo(adapter, n), "adapter {adapter:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_is_429_and_a_dropped_client_frees_its_slot() {
    let mut l = limits();
    l.max_concurrent_requests = 1;
    l.max_total_tokens = 256;
    let state = state_with(l, config());
    let app = text2sql_server::app(state.clone());
    // Occupy the only slot with a long generation whose response we never read.
    let long = axum::http::Request::post("/generate")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(json!({"inputs": "x", "parameters": {"max_new_tokens": 200}}).to_string()))
        .unwrap();
    let app2 = app.clone();
    let pending = tokio::spawn(async move {
        use tower::ServiceExt;
        app2.oneshot(long).await
    });
    // Wait until it holds the slot (a loaded machine may take a while to run the task).
    for _ in 0..500 {
        if state.infer.in_flight(1) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let r = post(&app, "/generate", json!({"inputs": "y", "parameters": {"max_new_tokens": 1}})).await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.json(), json!({"error": "Model is overloaded", "error_type": "overloaded"}));
    // The client goes away: the slot must come back without waiting for 200 tokens.
    pending.abort();
    let mut ok = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if state.infer.in_flight(1) == 0 {
            ok = true;
            break;
        }
    }
    assert!(ok, "slot not freed after the client disconnected");
    let r = post(&app, "/generate", json!({"inputs": "y", "parameters": {"max_new_tokens": 1}})).await;
    assert_eq!(r.status, 200);
}
