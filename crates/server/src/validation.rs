//! Request validation, in TGI's order and with TGI's messages: raw wire parameters in, a fully
//! resolved engine request out. Nothing after this module re-parses or applies defaults.

use crate::adapters::AdapterRegistry;
use crate::api::GenerateParameters;
use crate::error::{invalid, InferError};
use std::sync::Arc;
use text2sql_engine::{Engine, GenerateRequest as EngineRequest, SamplingParams};

/// Limits, from the launcher flags / environment.
#[derive(Debug, Clone)]
pub struct Limits {
    /// In-flight requests before 429.
    pub max_concurrent_requests: usize,
    /// Max stop sequences.
    pub max_stop_sequences: usize,
    /// Max `top_n_tokens`.
    pub max_top_n_tokens: u32,
    /// Max prompt tokens.
    pub max_input_tokens: usize,
    /// Max prompt + new tokens.
    pub max_total_tokens: usize,
    /// Max prompts per `/v1/completions` call.
    pub max_client_batch_size: usize,
    /// Unknown `adapter_id` falls back to the base model (TGI) instead of a 422.
    pub lenient_adapters: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_concurrent_requests: 128,
            max_stop_sequences: 4,
            max_top_n_tokens: 5,
            max_input_tokens: 4095,
            max_total_tokens: 4096,
            max_client_batch_size: 4,
            lenient_adapters: false,
        }
    }
}

/// A validated request, ready for the scheduler.
#[derive(Debug, Clone)]
pub struct ValidRequest {
    /// The prompt text as sent.
    pub inputs: String,
    /// What the engine runs.
    pub request: EngineRequest,
    /// Whether to return details.
    pub details: bool,
    /// Prepend `inputs` to the generated text.
    pub return_full_text: bool,
    /// Name of the adapter used ("" for the base model).
    pub adapter_name: String,
}

/// How a route wants its request validated.
#[derive(Debug, Clone, Copy)]
pub struct RouteOptions {
    /// The route streams.
    pub stream: bool,
    /// `return_full_text` when the request leaves it out.
    pub default_return_full_text: bool,
    /// Add BOS etc. when tokenising (false for chat: the template has them).
    pub add_special_tokens: bool,
}

/// Validates requests against the model and the limits.
#[derive(Clone)]
pub struct Validation {
    engine: Arc<Engine>,
    adapters: AdapterRegistry,
    /// The limits in force.
    pub limits: Arc<Limits>,
}

impl Validation {
    /// A validator for `engine` with `adapters`.
    pub fn new(engine: Arc<Engine>, adapters: AdapterRegistry, limits: Limits) -> Self {
        Self { engine, adapters, limits: Arc::new(limits) }
    }

    /// The adapter registry.
    pub fn adapters(&self) -> &AdapterRegistry {
        &self.adapters
    }

    /// Validates one request. `parameters` is `None` when the body had no `parameters` key
    /// (then TGI samples by default).
    pub async fn validate(
        &self,
        inputs: String,
        parameters: Option<GenerateParameters>,
        opts: RouteOptions,
    ) -> Result<ValidRequest, InferError> {
        let absent = parameters.is_none();
        let p = parameters.unwrap_or_default();
        let do_sample = p.do_sample || absent;
        let l = &self.limits;

        // best_of > 1 is not implemented: MAX_BEST_OF is 1, as TGI allows.
        if p.best_of.is_some_and(|b| b != 1) {
            return Err(invalid("`best_of` != 1 is not allowed for this endpoint"));
        }
        let mut sampling = SamplingParams { do_sample, seed: p.seed, ..Default::default() };
        match p.temperature {
            Some(t) if t.is_nan() || t < 0.0 => return Err(invalid("`temperature` must be strictly positive")),
            // Ours: exactly 0 means greedy (TGI rejects it; the seed document sends it).
            Some(0.0) => sampling.do_sample = false,
            Some(t) => sampling.temperature = t,
            None => {}
        }
        if let Some(r) = p.repetition_penalty {
            if r.is_nan() || r <= 0.0 {
                return Err(invalid("`repetition_penalty` must be strictly positive"));
            }
            sampling.repetition_penalty = r;
        }
        if let Some(f) = p.frequency_penalty {
            if !(-2.0..=2.0).contains(&f) {
                return Err(invalid("`frequency_penalty` must be >= -2.0 and <= 2.0"));
            }
            sampling.frequency_penalty = f;
        }
        if let Some(v) = p.top_p {
            if !(v > 0.0 && v < 1.0) {
                return Err(invalid("`top_p` must be > 0.0 and < 1.0"));
            }
            sampling.top_p = Some(v);
        }
        if let Some(v) = p.typical_p {
            if !(v > 0.0 && v < 1.0) {
                return Err(invalid("`typical_p` must be > 0.0 and < 1.0"));
            }
            sampling.typical_p = Some(v);
        }
        if let Some(k) = p.top_k {
            if k <= 0 {
                return Err(invalid("`top_k` must be strictly positive"));
            }
            sampling.top_k = Some(k as usize);
        }
        if p.max_new_tokens == Some(0) {
            return Err(invalid("`max_new_tokens` must be strictly positive"));
        }
        if p.stop.len() > l.max_stop_sequences {
            return Err(invalid(format!(
                "`stop` supports up to {} stop sequences. Given: {}",
                l.max_stop_sequences,
                p.stop.len()
            )));
        }
        let top_n_tokens = p.top_n_tokens.unwrap_or(0);
        if top_n_tokens > l.max_top_n_tokens {
            return Err(invalid(format!(
                "`top_n_tokens` must be >= 0 and <= {}. Given: {top_n_tokens}",
                l.max_top_n_tokens
            )));
        }
        if opts.stream && p.decoder_input_details {
            return Err(invalid("`decoder_input_details` == true is not supported when streaming tokens"));
        }
        if inputs.is_empty() {
            return Err(invalid("`inputs` cannot be empty"));
        }
        if let Some(t) = p.truncate {
            if t == 0 || t > l.max_input_tokens {
                return Err(invalid(format!(
                    "`truncate` must be strictly positive and less than {}. Given: {t}",
                    l.max_input_tokens
                )));
            }
        }
        // Compiling a grammar's automaton can take a while: off the async threads.
        let constraint = match &p.grammar {
            Some(g) if !g.is_null() => {
                let (g, text) = (g.clone(), inputs.clone());
                Some(
                    tokio::task::spawn_blocking(move || crate::grammar::parse(&g, &text))
                        .await
                        .map_err(|e| InferError::Generation(format!("grammar task failed: {e}")))??,
                )
            }
            _ => None,
        };
        let (adapter, adapter_name) = self.adapters.resolve(p.adapter_id.as_deref().unwrap_or(""), l.lenient_adapters).await?;

        let engine = self.engine.clone();
        let text = inputs.clone();
        let add = opts.add_special_tokens;
        let mut ids = tokio::task::spawn_blocking(move || engine.tokenizer.encode(&text, add))
            .await
            .map_err(|e| InferError::Generation(format!("tokenizer task failed: {e}")))?
            .map_err(|e| invalid(e.to_string()))?;
        if let Some(t) = p.truncate {
            if ids.len() > t {
                ids.drain(..ids.len() - t);
            }
        }
        let input_len = ids.len();
        if input_len == 0 {
            return Err(invalid("`inputs` cannot be empty"));
        }
        let max_new_tokens = match p.max_new_tokens {
            Some(n) => n as usize,
            None => l.max_total_tokens.saturating_sub(input_len).max(1),
        };
        if input_len + max_new_tokens > l.max_total_tokens {
            return Err(invalid(format!(
                "`inputs` tokens + `max_new_tokens` must be <= {}. Given: {input_len} `inputs` tokens and {max_new_tokens} `max_new_tokens`",
                l.max_total_tokens
            )));
        }
        if input_len > l.max_input_tokens {
            return Err(invalid(format!(
                "`inputs` must have less than {} tokens. Given: {input_len}",
                l.max_input_tokens
            )));
        }
        Ok(ValidRequest {
            inputs,
            request: EngineRequest {
                input_ids: ids,
                adapter,
                sampling,
                max_new_tokens,
                stop: p.stop,
                top_n_tokens: top_n_tokens as usize,
                decoder_input_details: p.decoder_input_details,
                ignore_eos: false,
                constraint,
            },
            details: p.details || p.decoder_input_details,
            return_full_text: p.return_full_text.unwrap_or(opts.default_return_full_text),
            adapter_name,
        })
    }
}
