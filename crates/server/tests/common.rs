//! Test harness: the tiny fixture model of the engine's parity tests, two of its adapters, and
//! helpers to drive the router in-process.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use text2sql_engine::Engine;
use text2sql_server::adapters::{AdapterRegistry, AdapterSpecs};
use text2sql_server::infer::BatchingConfig;
use text2sql_server::validation::Limits;
use text2sql_server::{AppState, ServerConfig};
use tower::ServiceExt;

pub fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../engine/tests/fixtures/llama_gqa")
}

pub fn engine() -> Arc<Engine> {
    static ENGINE: OnceLock<Arc<Engine>> = OnceLock::new();
    ENGINE.get_or_init(|| Arc::new(Engine::load(&fixture().join("model")).expect("fixture model"))).clone()
}

pub fn specs() -> AdapterSpecs {
    let f = fixture();
    format!("qv={},pat={}", f.join("adapters/qv_r8").display(), f.join("adapters/patterns").display())
        .parse()
        .expect("specs")
}

pub fn limits() -> Limits {
    Limits { max_total_tokens: 256, max_input_tokens: 200, ..Limits::default() }
}

pub fn config() -> ServerConfig {
    ServerConfig {
        model_id: "tiny-llama".into(),
        compute_type: "cpu".into(),
        api_key: None,
        compat_return_full_text: true,
        payload_limit: 2_000_000,
    }
}

pub fn state_with(limits: Limits, config: ServerConfig) -> AppState {
    let e = engine();
    let adapters = AdapterRegistry::load(e.clone(), &specs(), None, None).expect("adapters");
    let batching = BatchingConfig { max_batch_total_tokens: 4096, max_batch_prefill_tokens: 64, max_batch_size: None };
    AppState::new(e, adapters, limits, batching, config)
}

pub fn app() -> Router {
    text2sql_server::app(state_with(limits(), config()))
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// `data:` payloads of an SSE body.
    pub fn events(&self) -> Vec<String> {
        self.text().split("\n\n").filter_map(|e| e.strip_prefix("data: ").map(str::to_string)).collect()
    }
}

pub async fn send(app: &Router, req: Request<Body>) -> Reply {
    let resp = app.clone().oneshot(req).await.expect("router");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.expect("body").to_bytes().to_vec();
    Reply { status, headers, body }
}

pub async fn post(app: &Router, path: &str, body: serde_json::Value) -> Reply {
    let req = Request::post(path).header("content-type", "application/json").body(Body::from(body.to_string())).unwrap();
    send(app, req).await
}

pub async fn get(app: &Router, path: &str) -> Reply {
    send(app, Request::get(path).body(Body::empty()).unwrap()).await
}

pub const PROMPT: &str = "### Schema:\nCREATE TABLE users (id INT, name TEXT);\n\n### Question:\nHow many users?";

/// The engine's own greedy output for `PROMPT` with an adapter ("" = base).
pub fn solo(adapter: &str, max_new_tokens: usize) -> Vec<u32> {
    let e = engine();
    let a = if adapter.is_empty() {
        None
    } else {
        let dir = fixture().join("adapters").join(if adapter == "qv" { "qv_r8" } else { "patterns" });
        Some(e.load_adapter(&dir, adapter).unwrap())
    };
    let req = text2sql_engine::GenerateRequest { adapter: a, ..text2sql_engine::GenerateRequest::greedy(e.encode_prompt(PROMPT).unwrap(), max_new_tokens) };
    e.generate(vec![req]).unwrap().pop().unwrap().tokens.iter().map(|t| t.id).collect()
}

pub fn ids(details: &serde_json::Value) -> Vec<u32> {
    details["tokens"].as_array().unwrap().iter().map(|t| t["id"].as_u64().unwrap() as u32).collect()
}
