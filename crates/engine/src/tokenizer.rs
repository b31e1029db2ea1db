//! Tokenizer: a `tokenizers` tokenizer plus what `tokenizer_config.json` and
//! `generation_config.json` add (special tokens, chat template, EOS ids), and TGI's incremental
//! detokenisation for streaming.

use crate::error::{Error, Result};
use std::collections::HashSet;
use std::path::Path;

/// A model's tokenizer.
#[derive(Clone)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    special: HashSet<u32>,
    /// The Jinja chat template, if the model has one.
    pub chat_template: Option<String>,
    /// The BOS token text (for chat templates).
    pub bos_token: Option<String>,
    /// The EOS token text (for chat templates).
    pub eos_token: Option<String>,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer").field("vocab_size", &self.vocab_size()).finish()
    }
}

fn token_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Object(o) => o.get("content").and_then(|c| c.as_str()).map(str::to_string),
        _ => None,
    }
}

impl Tokenizer {
    /// Loads `tokenizer.json` (required) and `tokenizer_config.json` (optional) from a model dir.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let path = dir.join("tokenizer.json");
        if !path.is_file() {
            return Err(Error::Tokenizer(format!("{}: missing tokenizer.json", dir.display())));
        }
        let inner = tokenizers::Tokenizer::from_file(&path)
            .map_err(|e| Error::Tokenizer(format!("{}: {e}", path.display())))?;
        let mut tok = Self::from_tokenizer(inner);
        let cfg_path = dir.join("tokenizer_config.json");
        if cfg_path.is_file() {
            let cfg: serde_json::Value = crate::error::read_json(&cfg_path)?;
            tok.chat_template = match cfg.get("chat_template") {
                Some(serde_json::Value::String(s)) => Some(s.clone()),
                Some(serde_json::Value::Array(list)) => list
                    .iter()
                    .find(|t| t.get("name").and_then(|n| n.as_str()) == Some("default"))
                    .or(list.first())
                    .and_then(|t| t.get("template"))
                    .and_then(|t| t.as_str())
                    .map(str::to_string),
                _ => None,
            };
            tok.bos_token = cfg.get("bos_token").and_then(token_text);
            tok.eos_token = cfg.get("eos_token").and_then(token_text);
        }
        let jinja = dir.join("chat_template.jinja");
        if tok.chat_template.is_none() && jinja.is_file() {
            tok.chat_template = Some(std::fs::read_to_string(&jinja).map_err(crate::error::io_err(&jinja))?);
        }
        Ok(tok)
    }

    /// Wraps an already built `tokenizers` tokenizer.
    pub fn from_tokenizer(inner: tokenizers::Tokenizer) -> Self {
        let special = inner
            .get_added_tokens_decoder()
            .iter()
            .filter(|(_, t)| t.special)
            .map(|(id, _)| *id)
            .collect();
        Self { inner, special, chat_template: None, bos_token: None, eos_token: None }
    }

    /// The underlying `tokenizers` tokenizer.
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }

    /// Vocabulary size including added tokens.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Encodes text; with `add_special_tokens` the post-processor adds BOS etc. as transformers
    /// does by default.
    pub fn encode(&self, text: &str, add_special_tokens: bool) -> Result<Vec<u32>> {
        Ok(self.encode_with_offsets(text, add_special_tokens)?.into_iter().map(|(id, _)| id).collect())
    }

    /// Encodes text and returns each id with its byte span in `text`.
    pub fn encode_with_offsets(&self, text: &str, add_special_tokens: bool) -> Result<Vec<(u32, (usize, usize))>> {
        let enc = self.inner.encode(text, add_special_tokens).map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().iter().copied().zip(enc.get_offsets().iter().copied()).collect())
    }

    /// Decodes ids to text.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        self.inner.decode(ids, skip_special_tokens).map_err(|e| Error::Tokenizer(e.to_string()))
    }

    /// The text of one token on its own (special tokens kept), as TGI reports prefill and top
    /// tokens.
    pub fn token_text(&self, id: u32) -> String {
        self.decode(&[id], false).unwrap_or_default()
    }

    /// Whether `id` is a special token (e.g. `</s>`).
    pub fn is_special(&self, id: u32) -> bool {
        self.special.contains(&id)
    }

    /// Looks up a token's id.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }
}

/// TGI's incremental detokenisation: the text a new token adds, robust to tokens that split a
/// UTF-8 character or that change how earlier tokens decode (SentencePiece spaces).
#[derive(Debug, Clone)]
pub struct IncrementalDecoder {
    prefix_offset: usize,
    read_offset: usize,
    skip_special_tokens: bool,
}

impl IncrementalDecoder {
    /// Starts after a prompt of `prompt_len` tokens (TGI starts its prefix 5 tokens back).
    pub fn new(prompt_len: usize, skip_special_tokens: bool) -> Self {
        Self { prefix_offset: prompt_len.saturating_sub(5), read_offset: prompt_len, skip_special_tokens }
    }

    /// Given every id so far (prompt and generated, the new one last), returns the new text
    /// ("" while a character is incomplete).
    pub fn next(&mut self, tok: &Tokenizer, all_ids: &[u32]) -> Result<String> {
        let prefix = tok.decode(&all_ids[self.prefix_offset..self.read_offset], self.skip_special_tokens)?;
        let full = tok.decode(&all_ids[self.prefix_offset..], self.skip_special_tokens)?;
        if full.len() > prefix.len() && !full.ends_with('\u{FFFD}') && full.is_char_boundary(prefix.len()) {
            let text = full[prefix.len()..].to_string();
            self.prefix_offset = self.read_offset;
            self.read_offset = all_ids.len();
            Ok(text)
        } else {
            Ok(String::new())
        }
    }
}
