//! Wire types of the native TGI routes (`/generate`, `/generate_stream`, `/`, `/info`,
//! `/tokenize`). Every field is as TGI names it; `null` is accepted wherever a field is optional.

use serde::{Deserialize, Deserializer, Serialize};
use text2sql_engine::{FinishReason, PrefillToken, Token};
use utoipa::ToSchema;

/// Treats `null` like an absent field.
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Generation parameters (all optional).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct GenerateParameters {
    /// LoRA adapter to apply (absent or empty: the base model).
    pub adapter_id: Option<String>,
    /// Generate this many sequences and return the best (needs sampling).
    pub best_of: Option<usize>,
    /// Sampling temperature; 0 means greedy.
    pub temperature: Option<f32>,
    /// Repetition penalty (> 0).
    pub repetition_penalty: Option<f32>,
    /// Frequency penalty in [-2, 2].
    pub frequency_penalty: Option<f32>,
    /// Top-k (> 0).
    pub top_k: Option<i64>,
    /// Top-p in (0, 1).
    pub top_p: Option<f32>,
    /// Typical-p in (0, 1).
    pub typical_p: Option<f32>,
    /// Sample instead of greedy decoding.
    #[serde(deserialize_with = "null_as_default")]
    pub do_sample: bool,
    /// Maximum new tokens.
    pub max_new_tokens: Option<u32>,
    /// Prepend the prompt to the output.
    pub return_full_text: Option<bool>,
    /// Stop sequences.
    #[serde(deserialize_with = "null_as_default")]
    pub stop: Vec<String>,
    /// Keep only the last N prompt tokens.
    pub truncate: Option<usize>,
    /// Accepted and ignored.
    #[serde(deserialize_with = "null_as_default")]
    pub watermark: bool,
    /// Return details.
    #[serde(deserialize_with = "null_as_default")]
    pub details: bool,
    /// Return prompt-token logprobs.
    #[serde(deserialize_with = "null_as_default")]
    pub decoder_input_details: bool,
    /// Random seed.
    pub seed: Option<u64>,
    /// Alternatives per token.
    pub top_n_tokens: Option<u32>,
    /// Constrained decoding (not yet supported).
    #[schema(value_type = Option<Object>)]
    pub grammar: Option<serde_json::Value>,
}

/// Body of `POST /generate` and `POST /generate_stream`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct GenerateRequest {
    /// The prompt.
    pub inputs: String,
    /// Parameters (absent: TGI's defaults, which sample).
    #[serde(default)]
    pub parameters: Option<GenerateParameters>,
}

/// Body of `POST /`: a generate request plus `stream`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CompatGenerateRequest {
    /// The prompt.
    pub inputs: String,
    /// Parameters.
    #[serde(default)]
    pub parameters: Option<GenerateParameters>,
    /// Stream tokens as server-sent events.
    #[serde(default, deserialize_with = "null_as_default")]
    pub stream: bool,
}

/// Final details of a stream.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StreamDetails {
    /// Why generation stopped.
    #[schema(value_type = String)]
    pub finish_reason: FinishReason,
    /// Generated tokens.
    pub generated_tokens: u32,
    /// Seed when sampling.
    pub seed: Option<u64>,
    /// Prompt length in tokens.
    pub input_length: u32,
}

/// One server-sent event of `/generate_stream`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StreamResponse {
    /// 1-based token index.
    pub index: u32,
    /// The token.
    #[schema(value_type = Object)]
    pub token: Token,
    /// Alternatives (only with `top_n_tokens`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub top_tokens: Option<Vec<Token>>,
    /// The full text, on the last event only.
    pub generated_text: Option<String>,
    /// Details, on the last event only (when asked for).
    pub details: Option<StreamDetails>,
}

/// `GET /info`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Info {
    /// Model id or path.
    pub model_id: String,
    /// Model revision.
    pub model_sha: Option<String>,
    /// Pipeline tag.
    pub model_pipeline_tag: Option<String>,
    /// Dtype used for compute.
    pub model_dtype: String,
    /// Device.
    pub model_device_type: String,
    /// Concurrency limit.
    pub max_concurrent_requests: usize,
    /// Max `best_of`.
    pub max_best_of: usize,
    /// Max stop sequences.
    pub max_stop_sequences: usize,
    /// Max prompt tokens.
    pub max_input_tokens: usize,
    /// Max prompt + generated tokens.
    pub max_total_tokens: usize,
    /// Token budget of a batch.
    pub max_batch_total_tokens: usize,
    /// Tokenisation workers.
    pub validation_workers: usize,
    /// Max prompts per `/v1/completions` call.
    pub max_client_batch_size: usize,
    /// Router name.
    pub router: String,
    /// Version.
    pub version: String,
    /// Build commit.
    pub sha: Option<String>,
    /// Docker label.
    pub docker_label: Option<String>,
    /// Loaded LoRA adapters (ours).
    pub lora_adapters: Vec<String>,
}

/// One entry of `POST /tokenize`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SimpleToken {
    /// Token id.
    pub id: u32,
    /// Its text.
    pub text: String,
    /// Byte start in the input.
    pub start: usize,
    /// Byte end in the input.
    pub stop: usize,
}

/// Prefill token schema for OpenAPI.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PrefillTokenSchema {
    id: u32,
    text: String,
    logprob: Option<f32>,
}

/// Keeps the engine types referenced (they are serialised as-is).
pub type EnginePrefill = PrefillToken;
