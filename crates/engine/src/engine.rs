//! [`Engine`]: a loaded base model with its tokenizer, ready to register adapters and generate.

use crate::config::{Config, TokenIds};
use crate::error::{Error, Result};
use crate::generate::{generate_all, GenerateRequest, Sequence};
use crate::lora::LoraAdapter;
use crate::model::Model;
use crate::tokenizer::Tokenizer;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A base model loaded once, plus its tokenizer and stopping ids.
pub struct Engine {
    /// The model.
    pub model: Model,
    /// Its tokenizer.
    pub tokenizer: Tokenizer,
    /// Ids that end generation (config.json ∪ generation_config.json).
    pub eos_token_ids: Vec<u32>,
    /// Where the model was loaded from.
    pub path: PathBuf,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("path", &self.path).finish()
    }
}

impl Engine {
    /// Loads a Hugging Face model directory (config.json, tokenizer.json, safetensors) or a
    /// GGUF file.
    pub fn load(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Err(Error::Config { path: path.to_path_buf(), msg: "no such file or directory".into() });
        }
        if path.is_dir() {
            Self::load_hf_dir(path)
        } else if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gguf")) {
            Self::load_gguf(path)
        } else {
            Err(Error::Config {
                path: path.to_path_buf(),
                msg: "expected a Hugging Face model directory (with config.json) or a .gguf file".into(),
            })
        }
    }

    fn load_gguf(path: &Path) -> Result<Self> {
        let g = crate::gguf::load(path)?;
        let vb = candle_nn::VarBuilder::from_tensors(g.tensors, candle_core::DType::F32, &candle_core::Device::Cpu);
        let model = Model::new(&g.config, vb).map_err(|e| Error::Gguf { path: path.to_path_buf(), msg: e.to_string() })?;
        Ok(Self { model, tokenizer: g.tokenizer, eos_token_ids: g.eos_token_ids, path: path.to_path_buf() })
    }

    fn load_hf_dir(dir: &Path) -> Result<Self> {
        let config_path = dir.join("config.json");
        if !config_path.is_file() {
            return Err(Error::Config { path: dir.to_path_buf(), msg: "missing config.json".into() });
        }
        let cfg = Config::from_file(&config_path)?;
        let files = crate::weights::safetensors_files(dir)?;
        let vb = crate::weights::var_builder(&files)?;
        let model = Model::new(&cfg, vb).map_err(|e| Error::Weight {
            path: dir.to_path_buf(),
            name: String::new(),
            msg: e.to_string(),
        })?;
        let tokenizer = Tokenizer::from_dir(dir)?;
        let mut eos = cfg.eos_token_ids.clone();
        let gen_path = dir.join("generation_config.json");
        if gen_path.is_file() {
            let gen: serde_json::Value = crate::error::read_json(&gen_path)?;
            if let Some(ids) = gen.get("eos_token_id").and_then(|v| serde_json::from_value::<TokenIds>(v.clone()).ok()) {
                for id in ids.to_vec() {
                    if !eos.contains(&id) {
                        eos.push(id);
                    }
                }
            }
        }
        Ok(Self { model, tokenizer, eos_token_ids: eos, path: dir.to_path_buf() })
    }

    /// Builds an engine from parts (random models for benchmarks and tests, GGUF files).
    pub fn from_parts(model: Model, tokenizer: Tokenizer, eos_token_ids: Vec<u32>, path: PathBuf) -> Self {
        Self { model, tokenizer, eos_token_ids, path }
    }

    /// The model configuration.
    pub fn config(&self) -> &Config {
        self.model.config()
    }

    /// Loads a PEFT adapter directory for this model, registered under `name`.
    pub fn load_adapter(&self, dir: &Path, name: &str) -> Result<Arc<LoraAdapter>> {
        Ok(Arc::new(LoraAdapter::load(dir, name, self.config())?))
    }

    /// Tokenises a prompt as the model's tokenizer does by default (special tokens added).
    pub fn encode_prompt(&self, prompt: &str) -> Result<Vec<u32>> {
        self.tokenizer.encode(prompt, true)
    }

    /// Greedy completion of `prompt` — what `serve` answers with temperature 0 — with at most
    /// `max_new_tokens` new tokens, fewer when the context leaves less room; constrained to
    /// `constraint` when given.
    pub fn complete_greedy(
        &self,
        prompt: &str,
        adapter: Option<&Arc<LoraAdapter>>,
        max_new_tokens: usize,
        constraint: Option<Arc<dyn crate::Constraint>>,
    ) -> Result<String> {
        let ids = self.encode_prompt(prompt)?;
        let room = self.config().max_position_embeddings.saturating_sub(ids.len());
        if room == 0 {
            return Err(Error::Request(format!("the prompt ({} tokens) fills the model's context", ids.len())));
        }
        let req = GenerateRequest { adapter: adapter.cloned(), constraint, ..GenerateRequest::greedy(ids, max_new_tokens.min(room)) };
        let seq = self.generate(vec![req])?.pop().ok_or_else(|| Error::Request("no output".into()))?;
        seq.generated_text(&self.tokenizer)
    }

    /// Runs requests to completion in one shared batch.
    pub fn generate(&self, reqs: Vec<GenerateRequest>) -> Result<Vec<Sequence>> {
        generate_all(&self.model, &self.tokenizer, &self.eos_token_ids, reqs)
    }
}
