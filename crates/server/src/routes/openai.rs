//! OpenAI-compatible routes: `POST /v1/chat/completions`, `POST /v1/completions`,
//! `GET /v1/models`. `model` selects an adapter when it names one; anything else (the base
//! model id, `"tgi"`, `"dummy"`, absent) means the base model, as TGI does.

use crate::api::GenerateParameters;
use crate::chat::Message;
use crate::error::InferError;
use crate::infer::{GenerationEnd, InferStreamResponse};
use crate::routes::native::{generate_valid, timing_headers, Timing};
use crate::validation::{RouteOptions, ValidRequest};
use crate::AppState;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use text2sql_engine::FinishReason;

/// `stop` as a string or a list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StopField {
    /// One string.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl StopField {
    fn into_vec(self) -> Vec<String> {
        match self {
            StopField::One(s) => vec![s],
            StopField::Many(v) => v,
        }
    }
}

/// `stream_options`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StreamOptions {
    /// Send a final usage chunk.
    #[serde(default)]
    pub include_usage: bool,
}

/// Body of `POST /v1/chat/completions`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ChatRequest {
    /// Adapter id, or anything else for the base model.
    pub model: Option<String>,
    /// The conversation.
    pub messages: Vec<Message>,
    /// Max new tokens.
    #[serde(alias = "max_completion_tokens")]
    pub max_tokens: Option<u32>,
    /// Temperature (0 = greedy).
    pub temperature: Option<f32>,
    /// Nucleus mass.
    pub top_p: Option<f32>,
    /// Seed.
    pub seed: Option<u64>,
    /// Stop sequences.
    #[schema(value_type = Option<Vec<String>>)]
    pub stop: Option<StopField>,
    /// Stream chunks.
    #[serde(default)]
    pub stream: Option<bool>,
    /// Stream options.
    #[schema(value_type = Option<Object>)]
    pub stream_options: Option<StreamOptions>,
    /// Frequency penalty.
    pub frequency_penalty: Option<f32>,
    /// Mapped to `repetition_penalty = presence_penalty + 2` (TGI).
    pub presence_penalty: Option<f32>,
    /// Return logprobs.
    pub logprobs: Option<bool>,
    /// Alternatives per token.
    pub top_logprobs: Option<u32>,
    /// Not supported.
    #[schema(value_type = Option<Object>)]
    pub tools: Option<Value>,
    /// Constrained decoding: `parameters.grammar`'s shapes (`{"type": "json", "value": <schema>}`,
    /// `json_schema`, `regex`, `sql`) or OpenAI's `{"type": "json_object"}`,
    /// `{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}`, `{"type": "text"}`.
    #[schema(value_type = Option<Object>)]
    pub response_format: Option<Value>,
}

/// Body of `POST /v1/completions`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct CompletionRequest {
    /// Adapter id, or anything else for the base model.
    pub model: Option<String>,
    /// One prompt or several.
    #[schema(value_type = Object)]
    pub prompt: StopField,
    /// Max new tokens.
    pub max_tokens: Option<u32>,
    /// Temperature (0 = greedy).
    pub temperature: Option<f32>,
    /// Nucleus mass.
    pub top_p: Option<f32>,
    /// Seed.
    pub seed: Option<u64>,
    /// Stop sequences.
    #[schema(value_type = Option<Vec<String>>)]
    pub stop: Option<StopField>,
    /// Stream chunks.
    #[serde(default)]
    pub stream: Option<bool>,
    /// Repetition penalty.
    pub repetition_penalty: Option<f32>,
    /// Frequency penalty.
    pub frequency_penalty: Option<f32>,
    /// Constrained decoding, as on the chat route (`{"type": "json_schema", ...}`,
    /// `{"type": "sql", "value": null}`, ...): an extension of this route.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub response_format: Option<Value>,
    /// Not supported.
    pub suffix: Option<String>,
}

fn adapter_for(state: &AppState, model: &Option<String>) -> String {
    match model.as_deref() {
        Some(m) if state.validation.adapters().names().iter().any(|n| n == m) => m.to_string(),
        _ => String::new(),
    }
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// OpenAI's `usage` object.
fn usage(prompt_tokens: usize, completion_tokens: usize) -> Value {
    json!({"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens})
}

fn chat_finish(f: FinishReason) -> &'static str {
    match f {
        FinishReason::EosToken => "stop",
        FinishReason::Length => "length",
        FinishReason::StopSequence => "stop_sequence",
    }
}

fn raw_finish(f: FinishReason) -> &'static str {
    match f {
        FinishReason::EosToken => "eos_token",
        FinishReason::Length => "length",
        FinishReason::StopSequence => "stop_sequence",
    }
}

fn openai_error_event(e: &InferError) -> Event {
    Event::default().data(json!({"error": {"message": e.to_string(), "http_status_code": 422}}).to_string())
}

fn sse(stream: impl futures::Stream<Item = Result<Event, std::convert::Infallible>> + Send + 'static) -> Response {
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)).text("")).into_response()
}

async fn validate(state: &AppState, inputs: String, params: GenerateParameters, stream: bool, add_special: bool) -> Result<ValidRequest, InferError> {
    let opts = RouteOptions { stream, default_return_full_text: false, add_special_tokens: add_special };
    state.validation.validate(inputs, Some(params), opts).await
}

fn logprobs_json(end: &GenerationEnd) -> Value {
    let content: Vec<Value> = end
        .tokens
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let top: Vec<Value> = end
                .top_tokens
                .get(i)
                .map(|ts| ts.iter().map(|a| json!({"token": a.text, "logprob": a.logprob})).collect())
                .unwrap_or_default();
            json!({"token": t.text, "logprob": t.logprob, "top_logprobs": top})
        })
        .collect();
    json!({"content": content})
}

/// `POST /v1/chat/completions`
#[utoipa::path(post, path = "/v1/chat/completions", request_body = ChatRequest,
    responses((status = 200, description = "A chat completion, or a stream of chunks")))]
pub async fn chat_completions(State(state): State<AppState>, Json(req): Json<ChatRequest>) -> Response {
    let start = Instant::now();
    state.metrics.inc("tgi_request_count");
    if req.tools.is_some() {
        return InferError::Validation("tools are not supported".into()).into_response();
    }
    let prompt = match state.chat.apply(&req.messages) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let adapter = adapter_for(&state, &req.model);
    let model_name = req.model.clone().filter(|m| m != "tgi").unwrap_or_else(|| state.info.model_id.clone());
    let want_logprobs = req.logprobs.unwrap_or(false);
    let params = GenerateParameters {
        adapter_id: Some(adapter.clone()),
        temperature: req.temperature,
        top_p: req.top_p,
        seed: req.seed,
        stop: req.stop.map(StopField::into_vec).unwrap_or_default(),
        max_new_tokens: req.max_tokens,
        frequency_penalty: req.frequency_penalty,
        repetition_penalty: req.presence_penalty.map(|p| p + 2.0),
        top_n_tokens: req.top_logprobs.filter(|_| want_logprobs),
        details: true,
        grammar: crate::grammar::from_response_format(req.response_format.clone()),
        ..Default::default()
    };
    let add_special = !state.chat.has_template();
    let stream = req.stream.unwrap_or(false);
    let include_usage = req.stream_options.map(|o| o.include_usage).unwrap_or(false);
    let fingerprint = state.info.version.clone() + "-native";
    if !stream {
        let permit = match state.infer.try_permit() {
            Ok(p) => p,
            Err(e) => return e.into_response(),
        };
        let valid = match validate(&state, prompt, params, false, add_special).await {
            Ok(v) => v,
            Err(e) => return e.into_response(),
        };
        let timing = Timing { start, validated: Instant::now() };
        let characters = valid.inputs.chars().count();
        return match generate_valid(&state, valid, &timing, permit).await {
            Ok(end) => {
                let headers = timing_headers(&state, &end, &timing, characters, &adapter);
                let body = json!({
                    "object": "chat.completion", "id": "", "created": now(), "model": model_name,
                    "system_fingerprint": fingerprint,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": end.generated_text},
                                 "logprobs": if want_logprobs { logprobs_json(&end) } else { Value::Null },
                                 "finish_reason": chat_finish(end.finish_reason)}],
                    "usage": usage(end.input_length, end.tokens.len()),
                });
                (headers, Json(body)).into_response()
            }
            Err(e) => e.into_response(),
        };
    }
    let s = async_stream::stream! {
        let chunk = |choices: Value, usage: Value| json!({
            "object": "chat.completion.chunk", "id": "", "created": now(), "model": model_name,
            "system_fingerprint": fingerprint, "choices": choices, "usage": usage,
        });
        let permit = match state.infer.try_permit() {
            Ok(p) => p,
            Err(e) => { yield Ok(openai_error_event(&e)); yield Ok(Event::default().data("[DONE]")); return; }
        };
        let valid = match validate(&state, prompt, params, true, add_special).await {
            Ok(v) => v,
            Err(e) => { yield Ok(openai_error_event(&e)); yield Ok(Event::default().data("[DONE]")); return; }
        };
        let mut rx = match state.infer.schedule(valid, permit) {
            Ok(rx) => rx,
            Err(e) => { yield Ok(openai_error_event(&e)); yield Ok(Event::default().data("[DONE]")); return; }
        };
        while let Some(ev) = rx.recv().await {
            match ev {
                Ok(InferStreamResponse::Intermediate { token, top_tokens }) => {
                    let content = if token.special { String::new() } else { token.text.clone() };
                    let lp = if want_logprobs {
                        json!({"content": [{"token": token.text, "logprob": token.logprob,
                            "top_logprobs": top_tokens.iter().map(|a| json!({"token": a.text, "logprob": a.logprob})).collect::<Vec<_>>()}]})
                    } else { Value::Null };
                    let c = chunk(json!([{"index": 0, "delta": {"role": "assistant", "content": content}, "logprobs": lp, "finish_reason": null}]), Value::Null);
                    yield Ok(Event::default().data(c.to_string()));
                }
                Ok(InferStreamResponse::End(end)) => {
                    let last = end.tokens.last();
                    let content = last.filter(|t| !t.special).map(|t| t.text.clone()).unwrap_or_default();
                    let c = chunk(json!([{"index": 0, "delta": {"role": "assistant", "content": content}, "logprobs": null, "finish_reason": chat_finish(end.finish_reason)}]), Value::Null);
                    yield Ok(Event::default().data(c.to_string()));
                    if include_usage {
                        let u = usage(end.input_length, end.tokens.len());
                        yield Ok(Event::default().data(chunk(json!([]), u).to_string()));
                    }
                    break;
                }
                Err(e) => { yield Ok(openai_error_event(&e)); break; }
            }
        }
        yield Ok(Event::default().data("[DONE]"));
    };
    sse(s)
}

/// `POST /v1/completions`
#[utoipa::path(post, path = "/v1/completions", request_body = CompletionRequest,
    responses((status = 200, description = "A text completion, or a stream of chunks")))]
pub async fn completions(State(state): State<AppState>, Json(req): Json<CompletionRequest>) -> Response {
    let start = Instant::now();
    state.metrics.inc("tgi_request_count");
    if req.suffix.is_some() {
        return InferError::SuffixNotSupported.into_response();
    }
    let prompts = req.prompt.clone().into_vec();
    if prompts.is_empty() {
        return InferError::Validation("`prompt` cannot be empty".into()).into_response();
    }
    let max = state.validation.limits.max_client_batch_size;
    if prompts.len() > max {
        return InferError::BatchSizeExceeded(max).into_response();
    }
    let adapter = adapter_for(&state, &req.model);
    let params = GenerateParameters {
        adapter_id: Some(adapter.clone()),
        temperature: req.temperature,
        top_p: req.top_p,
        seed: req.seed,
        stop: req.stop.clone().map(StopField::into_vec).unwrap_or_default(),
        max_new_tokens: req.max_tokens,
        frequency_penalty: req.frequency_penalty,
        repetition_penalty: req.repetition_penalty,
        details: true,
        grammar: crate::grammar::from_response_format(req.response_format.clone()),
        ..Default::default()
    };
    let model_name = state.info.model_id.clone();
    let fingerprint = state.info.version.clone() + "-native";
    if !req.stream.unwrap_or(false) {
        // Validate every prompt first, then generate them concurrently (one batch).
        let mut jobs = Vec::new();
        for p in prompts {
            let permit = match state.infer.try_permit() {
                Ok(p) => p,
                Err(e) => return e.into_response(),
            };
            let valid = match validate(&state, p, params.clone(), false, true).await {
                Ok(v) => v,
                Err(e) => return e.into_response(),
            };
            jobs.push((valid, permit));
        }
        let timing = Timing { start, validated: Instant::now() };
        let results = futures::future::join_all(jobs.into_iter().map(|(v, p)| generate_valid(&state, v, &timing, p))).await;
        let mut choices = Vec::new();
        let (mut prompt_tokens, mut completion_tokens) = (0, 0);
        for (i, r) in results.into_iter().enumerate() {
            match r {
                Ok(end) => {
                    prompt_tokens += end.input_length;
                    completion_tokens += end.tokens.len();
                    choices.push(json!({"index": i, "text": end.generated_text, "logprobs": null, "finish_reason": chat_finish(end.finish_reason)}));
                }
                Err(e) => return e.into_response(),
            }
        }
        let body = json!({
            "object": "text_completion", "id": "", "created": now(), "model": model_name,
            "system_fingerprint": fingerprint, "choices": choices,
            "usage": usage(prompt_tokens, completion_tokens),
        });
        let mut headers = axum::http::HeaderMap::new();
        if let Ok(v) = axum::http::HeaderValue::from_str(&adapter) {
            headers.insert("x-adapter-id", v);
        }
        return (headers, Json(body)).into_response();
    }
    let s = async_stream::stream! {
        let chunk = |index: usize, text: String, finish: &str| json!({
            "object": "text_completion", "id": "", "created": now(), "model": model_name,
            "system_fingerprint": fingerprint,
            "choices": [{"index": index, "text": text, "logprobs": null, "finish_reason": finish}],
        });
        for (index, p) in prompts.into_iter().enumerate() {
            let permit = match state.infer.try_permit() {
                Ok(p) => p,
                Err(e) => { yield Ok(openai_error_event(&e)); break; }
            };
            let valid = match validate(&state, p, params.clone(), true, true).await {
                Ok(v) => v,
                Err(e) => { yield Ok(openai_error_event(&e)); break; }
            };
            let mut rx = match state.infer.schedule(valid, permit) {
                Ok(rx) => rx,
                Err(e) => { yield Ok(openai_error_event(&e)); break; }
            };
            while let Some(ev) = rx.recv().await {
                match ev {
                    Ok(InferStreamResponse::Intermediate { token, .. }) => {
                        let text = if token.special { String::new() } else { token.text };
                        yield Ok(Event::default().data(chunk(index, text, "").to_string()));
                    }
                    Ok(InferStreamResponse::End(end)) => {
                        let text = end.tokens.last().filter(|t| !t.special).map(|t| t.text.clone()).unwrap_or_default();
                        let mut c = chunk(index, text, raw_finish(end.finish_reason));
                        c["usage"] = usage(end.input_length, end.tokens.len());
                        yield Ok(Event::default().data(c.to_string()));
                        break;
                    }
                    Err(e) => { yield Ok(openai_error_event(&e)); break; }
                }
            }
        }
        yield Ok(Event::default().data("[DONE]"));
    };
    sse(s)
}

/// `GET /v1/models`: the base model, then one entry per loaded adapter.
#[utoipa::path(get, path = "/v1/models", responses((status = 200, description = "Base model and adapters")))]
pub async fn models(State(state): State<AppState>) -> Response {
    let base = state.info.model_id.clone();
    let mut data = vec![json!({"id": base, "object": "model", "created": 0, "owned_by": base})];
    for name in state.validation.adapters().names() {
        data.push(json!({"id": name, "object": "model", "created": 0, "owned_by": base}));
    }
    Json(json!({"object": "list", "data": data})).into_response()
}
