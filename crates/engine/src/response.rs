//! TGI's response body for `POST /generate` (and `text2sql generate --json`).

use crate::error::Result;
use crate::generate::{FinishReason, PrefillToken, Sequence, Token};
use crate::tokenizer::Tokenizer;
use serde::Serialize;

/// `details` of a TGI generate response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Details {
    /// Why generation stopped.
    pub finish_reason: FinishReason,
    /// Number of generated tokens (including a final EOS).
    pub generated_tokens: u32,
    /// Seed used when sampling, `null` when greedy.
    pub seed: Option<u64>,
    /// Prompt tokens with logprobs (empty unless `decoder_input_details`).
    pub prefill: Vec<PrefillToken>,
    /// Generated tokens.
    pub tokens: Vec<Token>,
    /// Alternatives per generated token (omitted unless `top_n_tokens` > 0).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub top_tokens: Vec<Vec<Token>>,
}

/// Body of TGI's `POST /generate` response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GenerateResponse {
    /// The generated text (prompt prepended when `return_full_text`).
    pub generated_text: String,
    /// Present when `details` or `decoder_input_details` was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Details>,
}

impl GenerateResponse {
    /// Builds the response for a finished sequence.
    pub fn from_sequence(seq: &Sequence, tok: &Tokenizer, details: bool) -> Result<Self> {
        let generated_text = seq.generated_text(tok)?;
        let details = details.then(|| Details {
            finish_reason: seq.finish.unwrap_or(FinishReason::Length),
            generated_tokens: seq.tokens.len() as u32,
            seed: seq.seed(),
            prefill: seq.prefill.clone(),
            tokens: seq.tokens.clone(),
            top_tokens: seq.top_tokens.clone(),
        });
        Ok(Self { generated_text, details })
    }
}
