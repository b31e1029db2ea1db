//! `text2sql serve`: a TGI-compatible multi-LoRA inference server.
//!
//! Data flow (as in TGI's router): [`routes`] (thin handlers) → [`validation`] (wire
//! parameters to a resolved engine request, adapters resolved by [`adapters`]) → [`infer`]
//! (semaphore admission, then an engine thread doing continuous batching) → responses and SSE
//! streams. Errors map to TGI's status codes and `error_type`s in [`error`].
#![deny(missing_docs)]

pub mod adapters;
pub mod api;
pub mod chat;
pub mod error;
pub mod grammar;
pub mod infer;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod ui;
pub mod validation;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;
use text2sql_engine::Engine;

/// Server-wide settings that are not validation limits.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `/info.model_id` and the OpenAI `model` of the base.
    pub model_id: String,
    /// `x-compute-type`.
    pub compute_type: String,
    /// Required bearer token, if any.
    pub api_key: Option<String>,
    /// `return_full_text` default on `POST /`.
    pub compat_return_full_text: bool,
    /// Max request body size in bytes.
    pub payload_limit: usize,
}

/// Everything handlers need, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Admission + scheduling.
    pub infer: infer::Infer,
    /// Request validation (owns the adapter registry and limits).
    pub validation: validation::Validation,
    /// The loaded base model.
    pub engine: Arc<Engine>,
    /// `/info`.
    pub info: Arc<api::Info>,
    /// Metrics registry.
    pub metrics: Arc<metrics::Metrics>,
    /// Server settings.
    pub config: Arc<ServerConfig>,
    /// Chat template.
    pub chat: Arc<chat::ChatTemplate>,
}

impl AppState {
    /// Builds the state and starts the engine thread.
    pub fn new(
        engine: Arc<Engine>,
        adapters: adapters::AdapterRegistry,
        limits: validation::Limits,
        batching: infer::BatchingConfig,
        config: ServerConfig,
    ) -> Self {
        let metrics = Arc::new(metrics::Metrics::default());
        let infer = infer::Infer::start(engine.clone(), batching.clone(), limits.max_concurrent_requests, metrics.clone());
        let info = api::Info {
            model_id: config.model_id.clone(),
            model_sha: None,
            model_pipeline_tag: Some("text-generation".into()),
            model_dtype: "float32".into(),
            model_device_type: "cpu".into(),
            max_concurrent_requests: limits.max_concurrent_requests,
            max_best_of: 1,
            max_stop_sequences: limits.max_stop_sequences,
            max_input_tokens: limits.max_input_tokens,
            max_total_tokens: limits.max_total_tokens,
            max_batch_total_tokens: batching.max_batch_total_tokens,
            validation_workers: 2,
            max_client_batch_size: limits.max_client_batch_size,
            router: "text2sql".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            sha: None,
            docker_label: None,
            lora_adapters: Vec::new(),
        };
        let tok = &engine.tokenizer;
        let chat = chat::ChatTemplate::new(tok.chat_template.clone(), tok.bos_token.clone(), tok.eos_token.clone());
        Self {
            infer,
            validation: validation::Validation::new(engine.clone(), adapters, limits),
            engine,
            info: Arc::new(info),
            metrics,
            config: Arc::new(config),
            chat: Arc::new(chat),
        }
    }
}

async fn require_api_key(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(key) = &state.config.api_key {
        let ok = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.get(..7).filter(|p| p.eq_ignore_ascii_case("bearer ")).map(|_| &v[7..]))
            .is_some_and(|given| constant_time_eq(given.as_bytes(), key.as_bytes()));
        if !ok {
            return StatusCode::UNAUTHORIZED.into_response();
        }
    }
    next.run(req).await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The router: every route of the contract. `/health` needs no API key.
pub fn app(state: AppState) -> Router {
    use routes::{info, native, openai};
    let protected = Router::new()
        .route("/", post(native::compat_generate))
        .route("/generate", post(native::generate))
        .route("/generate_stream", post(native::generate_stream))
        .route("/tokenize", post(native::tokenize))
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/completions", post(openai::completions))
        .route("/v1/models", get(openai::models))
        .route("/info", get(info::info))
        .route("/metrics", get(info::metrics))
        .route("/api-doc/openapi.json", get(info::openapi))
        .route("/docs", get(info::docs))
        .route("/ui/samples", get(ui::list_samples))
        .route("/ui/run", post(ui::run))
        .route("/ui/check", post(ui::check))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_api_key));
    let open = Router::new()
        .route("/health", get(info::health))
        .route("/ping", get(info::health))
        .route("/", get(ui::index))
        .route("/ui/app.js", get(ui::script))
        .route("/ui/style.css", get(ui::style));
    let limit = state.config.payload_limit;
    protected
        .merge(open)
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .layer(tower_http::cors::CorsLayer::permissive())
        .with_state(state)
}

/// Serves `app` on `addr` until SIGINT/SIGTERM, then stops accepting, lets in-flight requests
/// finish, and returns.
pub async fn serve(state: AppState, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
