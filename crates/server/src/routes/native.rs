//! TGI's native routes: `POST /generate`, `POST /generate_stream`, `POST /` and `POST /tokenize`.
//! Handlers only validate, schedule and shape responses; the engine thread computes.

use crate::api::{CompatGenerateRequest, GenerateRequest, SimpleToken, StreamDetails, StreamResponse};
use crate::error::{ErrorResponse, InferError};
use crate::infer::{GenerationEnd, InferStreamResponse};
use crate::validation::{RouteOptions, ValidRequest};
use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::Stream;
use std::convert::Infallible;
use std::time::{Duration, Instant};
use text2sql_engine::{Details, GenerateResponse};

/// What a finished non-streaming generation reports in headers and metrics.
pub struct Timing {
    /// Request arrival.
    pub start: Instant,
    /// Validation done.
    pub validated: Instant,
}

/// Runs validation + generation for the non-streaming routes, recording metrics.
pub async fn generate_valid(state: &AppState, valid: ValidRequest, timing: &Timing, permit: tokio::sync::OwnedSemaphorePermit) -> Result<GenerationEnd, InferError> {
    let max_new = valid.request.max_new_tokens;
    let result = state.infer.generate(valid, permit).await;
    match &result {
        Ok(end) => state.metrics.observe_request(
            timing.start.elapsed().as_secs_f64(),
            (timing.validated - timing.start).as_secs_f64(),
            end.started.elapsed().as_secs_f64(),
            end.input_length,
            end.tokens.len(),
            max_new,
        ),
        Err(e) => state.metrics.observe_failure(e.metric_label()),
    }
    result
}

/// TGI's `x-*` timing headers for a finished request.
pub fn timing_headers(state: &AppState, end: &GenerationEnd, timing: &Timing, characters: usize, adapter: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    let ms = |d: Duration| d.as_millis().to_string();
    let total = timing.start.elapsed();
    let validation = timing.validated - timing.start;
    let queue = end.started.saturating_duration_since(end.queued);
    let inference = end.started.elapsed();
    let per_token = inference / (end.tokens.len().max(1) as u32);
    let mut set = |k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    };
    set("x-compute-type", state.config.compute_type.clone());
    set("x-compute-time", format!("{:.6}", total.as_secs_f64()));
    set("x-compute-characters", characters.to_string());
    set("x-total-time", ms(total));
    set("x-validation-time", ms(validation));
    set("x-queue-time", ms(queue));
    set("x-inference-time", ms(inference));
    set("x-time-per-token", ms(per_token));
    set("x-prompt-tokens", end.input_length.to_string());
    set("x-generated-tokens", end.tokens.len().to_string());
    set("x-adapter-id", adapter.to_string());
    h
}

fn to_response(valid_inputs: &str, return_full_text: bool, details: bool, end: &GenerationEnd) -> GenerateResponse {
    let generated_text =
        if return_full_text { format!("{valid_inputs}{}", end.generated_text) } else { end.generated_text.clone() };
    let details = details.then(|| Details {
        finish_reason: end.finish_reason,
        generated_tokens: end.tokens.len() as u32,
        seed: end.seed,
        prefill: end.prefill.clone(),
        tokens: end.tokens.clone(),
        top_tokens: end.top_tokens.clone(),
    });
    GenerateResponse { generated_text, details }
}

async fn generate_inner(state: &AppState, req: GenerateRequest, default_full_text: bool) -> Result<(HeaderMap, GenerateResponse), InferError> {
    let timing_start = Instant::now();
    state.metrics.inc("tgi_request_count");
    let permit = state.infer.try_permit().inspect_err(|e| state.metrics.observe_failure(e.metric_label()))?;
    let characters = req.inputs.chars().count();
    let opts = RouteOptions { stream: false, default_return_full_text: default_full_text, add_special_tokens: true };
    let valid = state
        .validation
        .validate(req.inputs, req.parameters, opts)
        .await
        .inspect_err(|e| state.metrics.observe_failure(e.metric_label()))?;
    let timing = Timing { start: timing_start, validated: Instant::now() };
    let (inputs, full, details, adapter) = (valid.inputs.clone(), valid.return_full_text, valid.details, valid.adapter_name.clone());
    let end = generate_valid(state, valid, &timing, permit).await?;
    let headers = timing_headers(state, &end, &timing, characters, &adapter);
    Ok((headers, to_response(&inputs, full, details, &end)))
}

/// `POST /generate`
#[utoipa::path(post, path = "/generate", request_body = GenerateRequest,
    responses((status = 200, description = "Generated text"),
              (status = 422, description = "Input validation error", body = ErrorResponse),
              (status = 424, description = "Generation error", body = ErrorResponse),
              (status = 429, description = "Model is overloaded", body = ErrorResponse)))]
pub async fn generate(State(state): State<AppState>, Json(req): Json<GenerateRequest>) -> Response {
    match generate_inner(&state, req, false).await {
        Ok((headers, body)) => (headers, Json(body)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /generate_stream`
#[utoipa::path(post, path = "/generate_stream", request_body = GenerateRequest,
    responses((status = 200, description = "Server-sent events, one per token; errors arrive as events")))]
pub async fn generate_stream(State(state): State<AppState>, Json(req): Json<GenerateRequest>) -> Response {
    stream_response(state, req, false).await
}

/// `POST /` (compat): `/generate` wrapped in a one-element array, or `/generate_stream`.
#[utoipa::path(post, path = "/", request_body = CompatGenerateRequest,
    responses((status = 200, description = "A one-element array of generate responses, or a stream")))]
pub async fn compat_generate(State(state): State<AppState>, Json(req): Json<CompatGenerateRequest>) -> Response {
    let full = state.config.compat_return_full_text;
    let inner = GenerateRequest { inputs: req.inputs, parameters: req.parameters };
    if req.stream {
        return stream_response(state, inner, full).await;
    }
    match generate_inner(&state, inner, full).await {
        Ok((headers, body)) => (headers, Json(vec![body])).into_response(),
        Err(e) => e.into_response(),
    }
}

fn sse_headers(state: &AppState, characters: usize, adapter: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in [
        ("x-compute-type", state.config.compute_type.clone()),
        ("x-compute-characters", characters.to_string()),
        ("x-accel-buffering", "no".to_string()),
        ("cache-control", "no-cache".to_string()),
        ("x-adapter-id", adapter.to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }
    h
}

fn error_event(e: &InferError) -> Event {
    Event::default().json_data(e.body()).unwrap_or_else(|_| Event::default().data("{\"error\":\"Stream event serialization error\",\"error_type\":\"stream_serialization_error\"}"))
}

fn json_event<T: serde::Serialize>(v: &T) -> Event {
    Event::default().json_data(v).unwrap_or_else(|_| Event::default().data("{\"error\":\"Stream event serialization error\",\"error_type\":\"stream_serialization_error\"}"))
}

async fn stream_response(state: AppState, req: GenerateRequest, default_full_text: bool) -> Response {
    let characters = req.inputs.chars().count();
    let adapter = req.parameters.as_ref().and_then(|p| p.adapter_id.clone()).unwrap_or_default();
    let headers = sse_headers(&state, characters, &adapter);
    let stream = native_stream(state, req, default_full_text);
    (headers, Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)).text(""))).into_response()
}

/// Events of `/generate_stream`: validation and overload errors arrive inside the stream.
fn native_stream(state: AppState, req: GenerateRequest, default_full_text: bool) -> impl Stream<Item = Result<Event, Infallible>> {
    async_stream::stream! {
        let start = Instant::now();
        state.metrics.inc("tgi_request_count");
        let permit = match state.infer.try_permit() {
            Ok(p) => p,
            Err(e) => { state.metrics.observe_failure(e.metric_label()); yield Ok(error_event(&e)); return; }
        };
        let opts = RouteOptions { stream: true, default_return_full_text: default_full_text, add_special_tokens: true };
        let valid = match state.validation.validate(req.inputs, req.parameters, opts).await {
            Ok(v) => v,
            Err(e) => { state.metrics.observe_failure(e.metric_label()); yield Ok(error_event(&e)); return; }
        };
        let validated = Instant::now();
        let (inputs, full, details, max_new) = (valid.inputs.clone(), valid.return_full_text, valid.details, valid.request.max_new_tokens);
        let top_n = valid.request.top_n_tokens > 0;
        let mut rx = match state.infer.schedule(valid, permit) {
            Ok(rx) => rx,
            Err(e) => { yield Ok(error_event(&e)); return; }
        };
        let mut index = 0u32;
        while let Some(event) = rx.recv().await {
            index += 1;
            match event {
                Ok(InferStreamResponse::Intermediate { token, top_tokens }) => {
                    let ev = StreamResponse { index, token, top_tokens: top_n.then_some(top_tokens), generated_text: None, details: None };
                    yield Ok(json_event(&ev));
                }
                Ok(InferStreamResponse::End(end)) => {
                    state.metrics.observe_request(start.elapsed().as_secs_f64(), (validated - start).as_secs_f64(), end.started.elapsed().as_secs_f64(), end.input_length, end.tokens.len(), max_new);
                    let token = end.tokens.last().cloned();
                    let top = end.top_tokens.last().cloned();
                    let text = if full { format!("{inputs}{}", end.generated_text) } else { end.generated_text.clone() };
                    let d = details.then_some(StreamDetails { finish_reason: end.finish_reason, generated_tokens: end.tokens.len() as u32, seed: end.seed, input_length: end.input_length as u32 });
                    if let Some(token) = token {
                        let ev = StreamResponse { index, token, top_tokens: if top_n { top } else { None }, generated_text: Some(text), details: d };
                        yield Ok(json_event(&ev));
                    }
                    return;
                }
                Err(e) => { state.metrics.observe_failure(e.metric_label()); yield Ok(error_event(&e)); return; }
            }
        }
        yield Ok(Event::default().json_data(serde_json::json!({"error": "Incomplete generation stream", "error_type": "incomplete_generation_stream"})).unwrap_or_default());
    }
}

/// `POST /tokenize`
#[utoipa::path(post, path = "/tokenize", request_body = GenerateRequest,
    responses((status = 200, description = "Tokens with byte offsets", body = Vec<SimpleToken>)))]
pub async fn tokenize(State(state): State<AppState>, Json(req): Json<GenerateRequest>) -> Response {
    let engine = state.engine.clone();
    let truncate = req.parameters.as_ref().and_then(|p| p.truncate);
    let inputs = req.inputs;
    let result = tokio::task::spawn_blocking(move || -> Result<Vec<SimpleToken>, InferError> {
        let toks = engine.tokenizer.encode_with_offsets(&inputs, true).map_err(|e| InferError::Validation(e.to_string()))?;
        let skip = truncate.map_or(0, |t| toks.len().saturating_sub(t));
        Ok(toks
            .into_iter()
            .skip(skip)
            .map(|(id, (start, stop))| {
                // Special tokens added by the post-processor have an empty span: show their text.
                let text = match inputs.get(start..stop) {
                    Some(t) if start < stop => t.to_string(),
                    _ => engine.tokenizer.token_text(id),
                };
                SimpleToken { id, text, start, stop }
            })
            .collect())
    })
    .await;
    match result {
        Ok(Ok(tokens)) => Json(tokens).into_response(),
        Ok(Err(e)) => e.into_response(),
        Err(e) => InferError::Generation(e.to_string()).into_response(),
    }
}
