//! Every route, validation rule and error shape, driven in-process.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn generate_with_adapter_matches_the_engine() {
    let app = app();
    for adapter in ["", "qv", "pat"] {
        let r = post(&app, "/generate", json!({"inputs": PROMPT, "parameters": {"adapter_id": adapter, "max_new_tokens": 6, "details": true, "temperature": 0.0}})).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let body = r.json();
        assert_eq!(ids(&body["details"]), solo(adapter, 6), "adapter {adapter:?}");
        assert_eq!(body["details"]["finish_reason"], "length");
        assert_eq!(body["details"]["generated_tokens"], 6);
        assert!(body["details"]["seed"].is_null());
        assert_eq!(body["details"]["prefill"], json!([]));
        assert!(body["details"].get("top_tokens").is_none());
        assert_eq!(r.headers["x-adapter-id"], adapter);
        assert_eq!(r.headers["x-generated-tokens"], "6");
        for h in ["x-compute-type", "x-compute-time", "x-total-time", "x-validation-time", "x-queue-time", "x-inference-time", "x-time-per-token", "x-prompt-tokens", "x-compute-characters"] {
            assert!(r.headers.contains_key(h), "missing header {h}");
        }
    }
}

#[tokio::test]
async fn generate_without_details_omits_them_and_prefill_when_asked() {
    let app = app();
    let r = post(&app, "/generate", json!({"inputs": PROMPT, "parameters": {"max_new_tokens": 2}})).await;
    assert_eq!(r.status, 200);
    assert!(r.json().get("details").is_none());
    let r = post(&app, "/generate", json!({"inputs": PROMPT, "parameters": {"max_new_tokens": 2, "decoder_input_details": true, "top_n_tokens": 2}})).await;
    let body = r.json();
    let prefill = body["details"]["prefill"].as_array().unwrap();
    assert_eq!(prefill.len(), engine().encode_prompt(PROMPT).unwrap().len());
    assert!(prefill[0]["logprob"].is_null());
    assert!(prefill[1]["logprob"].as_f64().unwrap() < 0.0);
    assert_eq!(body["details"]["top_tokens"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn every_validation_rule_is_a_422_naming_the_field() {
    let app = app();
    let cases = [
        (json!({"temperature": -1.0}), "`temperature` must be strictly positive"),
        (json!({"repetition_penalty": 0.0}), "`repetition_penalty` must be strictly positive"),
        (json!({"frequency_penalty": 3.0}), "`frequency_penalty` must be >= -2.0 and <= 2.0"),
        (json!({"top_p": 1.0}), "`top_p` must be > 0.0 and < 1.0"),
        (json!({"typical_p": 0.0}), "`typical_p` must be > 0.0 and < 1.0"),
        (json!({"top_k": 0}), "`top_k` must be strictly positive"),
        (json!({"max_new_tokens": 0}), "`max_new_tokens` must be strictly positive"),
        (json!({"stop": ["a", "b", "c", "d", "e"]}), "`stop` supports up to 4 stop sequences. Given: 5"),
        (json!({"top_n_tokens": 9}), "`top_n_tokens` must be >= 0 and <= 5. Given: 9"),
        (json!({"truncate": 0}), "`truncate` must be strictly positive and less than 200. Given: 0"),
        (json!({"max_new_tokens": 250}), "`inputs` tokens + `max_new_tokens` must be <= 256."),
        (json!({"best_of": 2, "do_sample": true}), "`best_of` != 1 is not allowed for this endpoint"),
        (json!({"grammar": {"type": "json", "value": {"type": "decimal"}}}), "grammar `json` is not valid: unsupported type `decimal`"),
        (json!({"grammar": {"type": "sql", "value": "CREATE TABLE ("}}), "grammar `sql`: "),
        (json!({"grammar": {"type": "regex", "value": "("}}), "grammar `regex`: "),
        (json!({"adapter_id": "nope"}), "adapter `nope` is not loaded (loaded: qv, pat)"),
    ];
    for (params, msg) in cases {
        let r = post(&app, "/generate", json!({"inputs": PROMPT, "parameters": params})).await;
        assert_eq!(r.status, 422, "{params}: {}", r.text());
        let body = r.json();
        assert_eq!(body["error_type"], "validation", "{params}");
        let err = body["error"].as_str().unwrap();
        assert!(err.starts_with("Input validation error: ") && err.contains(msg), "{params}: {err}");
    }
    let r = post(&app, "/generate", json!({"inputs": ""})).await;
    assert!(r.json()["error"].as_str().unwrap().contains("`inputs` cannot be empty"));
    let mut long = String::new();
    while engine().encode_prompt(&long).unwrap().len() < 220 {
        long.push_str("word ");
    }
    let r = post(&app, "/generate", json!({"inputs": long, "parameters": {"max_new_tokens": 1}})).await;
    assert!(r.json()["error"].as_str().unwrap().contains("`inputs` must have less than 200 tokens"), "{}", r.text());
}

#[tokio::test]
async fn malformed_bodies_get_axum_rejections_not_panics() {
    let app = app();
    let r = send(&app, axum::http::Request::post("/generate").body(axum::body::Body::from("{}")).unwrap()).await;
    assert_eq!(r.status, 415);
    let r = send(&app, axum::http::Request::post("/generate").header("content-type", "application/json").body(axum::body::Body::from("{not json")).unwrap()).await;
    assert_eq!(r.status, 400);
    let r = post(&app, "/generate", json!({"parameters": {}})).await;
    assert_eq!(r.status, 422);
    let r = post(&app, "/generate", json!({"inputs": "x", "parameters": {"max_new_tokens": -1}})).await;
    assert_eq!(r.status, 422);
    let r = post(&app, "/generate", json!({"inputs": "x", "parameters": null})).await;
    assert_eq!(r.status, 200, "null parameters are accepted: {}", r.text());
}

#[tokio::test]
async fn truncate_keeps_the_last_tokens_and_null_fields_are_absent() {
    let app = app();
    let r = post(&app, "/generate", json!({"inputs": PROMPT, "parameters": {"truncate": 5, "max_new_tokens": 1, "details": true, "stop": null, "seed": null}})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.headers["x-prompt-tokens"], "5");
}

#[tokio::test]
async fn stream_events_have_tgi_shape() {
    let app = app();
    let r = post(&app, "/generate_stream", json!({"inputs": PROMPT, "parameters": {"adapter_id": "qv", "max_new_tokens": 4, "details": true}})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-type"], "text/event-stream");
    let events: Vec<serde_json::Value> = r.events().iter().map(|e| serde_json::from_str(e).unwrap()).collect();
    assert_eq!(events.len(), 4);
    for (i, ev) in events.iter().enumerate() {
        assert_eq!(ev["index"], i + 1);
        if i < 3 {
            assert!(ev["generated_text"].is_null() && ev["details"].is_null());
        }
    }
    let ids: Vec<u32> = events.iter().map(|e| e["token"]["id"].as_u64().unwrap() as u32).collect();
    assert_eq!(ids, solo("qv", 4));
    let last = &events[3];
    assert_eq!(last["details"]["finish_reason"], "length");
    assert_eq!(last["details"]["input_length"], engine().encode_prompt(PROMPT).unwrap().len());
    assert!(last["generated_text"].is_string());
    // Validation errors arrive in the stream.
    let r = post(&app, "/generate_stream", json!({"inputs": PROMPT, "parameters": {"top_p": 2.0}})).await;
    assert_eq!(r.status, 200);
    let ev: serde_json::Value = serde_json::from_str(&r.events()[0]).unwrap();
    assert_eq!(ev["error_type"], "validation");
    assert_eq!(ev["error"], "Input validation error: `top_p` must be > 0.0 and < 1.0");
}

#[tokio::test]
async fn compat_route_wraps_in_an_array_and_returns_full_text() {
    let app = app();
    let r = post(&app, "/", json!({"inputs": PROMPT, "parameters": {"adapter_id": "pat", "max_new_tokens": 3, "temperature": 0.0}})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    let arr = body.as_array().expect("array");
    assert_eq!(arr.len(), 1);
    assert!(arr[0]["generated_text"].as_str().unwrap().starts_with(PROMPT));
    let r = post(&app, "/", json!({"inputs": PROMPT, "parameters": {"max_new_tokens": 2, "return_full_text": false}, "stream": true})).await;
    assert_eq!(r.headers["content-type"], "text/event-stream");
    assert_eq!(r.events().len(), 2);
}

#[tokio::test]
async fn openai_chat_and_completions() {
    let app = app();
    let r = post(&app, "/v1/chat/completions", json!({"model": "qv", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3, "temperature": 0, "logprobs": true, "top_logprobs": 2})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let b = r.json();
    assert_eq!(b["object"], "chat.completion");
    assert_eq!(b["model"], "qv");
    assert_eq!(b["choices"][0]["message"]["role"], "assistant");
    assert_eq!(b["choices"][0]["finish_reason"], "length");
    assert_eq!(b["usage"]["completion_tokens"], 3);
    assert_eq!(b["choices"][0]["logprobs"]["content"][0]["top_logprobs"].as_array().unwrap().len(), 2);
    let r = post(&app, "/v1/chat/completions", json!({"model": "dummy", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, "stream": true, "stream_options": {"include_usage": true}})).await;
    let ev = r.events();
    assert_eq!(ev.last().unwrap(), "[DONE]");
    let usage: serde_json::Value = serde_json::from_str(&ev[ev.len() - 2]).unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["completion_tokens"], 2);
    let r = post(&app, "/v1/completions", json!({"model": "pat", "prompt": [PROMPT, "hello"], "max_tokens": 2})).await;
    let b = r.json();
    assert_eq!(b["object"], "text_completion");
    assert_eq!(b["choices"].as_array().unwrap().len(), 2);
    assert_eq!(b["choices"][1]["index"], 1);
    let r = post(&app, "/v1/completions", json!({"prompt": ["a", "b", "c", "d", "e"]})).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["error_type"], "batch size exceeded");
    let r = post(&app, "/v1/completions", json!({"prompt": "a", "suffix": "b"})).await;
    assert_eq!(r.json()["error_type"], "suffix not supported");
    let r = post(&app, "/v1/completions", json!({"prompt": "a", "max_tokens": 2, "stream": true})).await;
    assert_eq!(r.events().last().unwrap(), "[DONE]");
}

#[tokio::test]
async fn info_models_health_metrics_tokenize_openapi() {
    let app = app();
    let info = get(&app, "/info").await.json();
    assert_eq!(info["model_id"], "tiny-llama");
    assert_eq!(info["max_total_tokens"], 256);
    assert_eq!(info["lora_adapters"], json!(["qv", "pat"]));
    let models = get(&app, "/v1/models").await.json();
    let ids: Vec<&str> = models["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["tiny-llama", "qv", "pat"]);
    assert_eq!(get(&app, "/health").await.status, 200);
    post(&app, "/generate", json!({"inputs": "x", "parameters": {"max_new_tokens": 1}})).await;
    post(&app, "/generate", json!({"inputs": "x", "parameters": {"top_k": -1}})).await;
    let m = get(&app, "/metrics").await.text();
    for name in ["tgi_request_count", "tgi_request_success", "tgi_request_failure{err=\"validation\"}", "tgi_request_duration_bucket", "tgi_request_generated_tokens_count", "tgi_batch_current_size"] {
        assert!(m.contains(name), "missing {name} in\n{m}");
    }
    let toks = post(&app, "/tokenize", json!({"inputs": "SELECT 1"})).await.json();
    let expect = engine().encode_prompt("SELECT 1").unwrap();
    let got: Vec<u32> = toks.as_array().unwrap().iter().map(|t| t["id"].as_u64().unwrap() as u32).collect();
    assert_eq!(got, expect);
    assert_eq!(toks[0]["text"], "<s>");
    let doc = get(&app, "/api-doc/openapi.json").await.json();
    for p in ["/generate", "/generate_stream", "/v1/chat/completions", "/v1/completions", "/info", "/tokenize"] {
        assert!(doc["paths"].get(p).is_some(), "openapi lacks {p}");
    }
}

#[tokio::test]
async fn api_key_guards_every_route_but_health() {
    let mut cfg = config();
    cfg.api_key = Some("s3cret".into());
    let app = text2sql_server::app(state_with(limits(), cfg));
    assert_eq!(post(&app, "/generate", json!({"inputs": "x"})).await.status, 401);
    assert_eq!(get(&app, "/info").await.status, 401);
    assert_eq!(get(&app, "/health").await.status, 200);
    let req = axum::http::Request::post("/generate")
        .header("content-type", "application/json")
        .header("authorization", "Bearer s3cret")
        .body(axum::body::Body::from(json!({"inputs": "x", "parameters": {"max_new_tokens": 1}}).to_string()))
        .unwrap();
    assert_eq!(send(&app, req).await.status, 200);
    let req = axum::http::Request::get("/info").header("authorization", "Bearer wrong").body(axum::body::Body::empty()).unwrap();
    assert_eq!(send(&app, req).await.status, 401);
}

#[tokio::test]
async fn lenient_mode_falls_back_to_the_base_model() {
    let mut l = limits();
    l.lenient_adapters = true;
    let app = text2sql_server::app(state_with(l, config()));
    let r = post(&app, "/generate", json!({"inputs": PROMPT, "parameters": {"adapter_id": "nope", "max_new_tokens": 3, "details": true}})).await;
    assert_eq!(r.status, 200);
    assert_eq!(ids(&r.json()["details"]), solo("", 3));
}
