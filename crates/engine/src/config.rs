//! Model configuration: the wire form of Hugging Face `config.json` ([`HfConfig`], fields named
//! exactly like its keys) and the resolved form the model runs on ([`Config`]).
//!
//! Llama, Mistral and Qwen2 share one implementation; what differs between them is data here:
//! attention biases (Qwen2), the sliding window (Mistral, Qwen2 when enabled) and defaults.

use crate::error::{read_json, Error, Result};
use serde::Deserialize;
use std::path::Path;

/// The decoder families this engine runs. They differ only in configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// `LlamaForCausalLM` (also SmolLM2).
    Llama,
    /// `MistralForCausalLM`.
    Mistral,
    /// `Qwen2ForCausalLM` (q/k/v projections carry a bias).
    Qwen2,
}

/// One token id or a list of them (`eos_token_id` may be either in `config.json`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum TokenIds {
    /// A single id.
    One(u32),
    /// Several ids.
    Many(Vec<u32>),
}

impl TokenIds {
    /// The ids as a list.
    pub fn to_vec(&self) -> Vec<u32> {
        match self {
            TokenIds::One(id) => vec![*id],
            TokenIds::Many(ids) => ids.clone(),
        }
    }
}

/// RoPE parameters, either transformers 4's `rope_scaling` or transformers 5's `rope_parameters`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RopeParameters {
    /// `rope_type` (transformers ≥ 4.45) or legacy `type`.
    #[serde(alias = "type")]
    pub rope_type: Option<String>,
    /// Base frequency (only inside `rope_parameters`).
    pub rope_theta: Option<f64>,
    /// Scaling factor (`linear`, `llama3`).
    pub factor: Option<f64>,
    /// `llama3`: low frequency factor.
    pub low_freq_factor: Option<f64>,
    /// `llama3`: high frequency factor.
    pub high_freq_factor: Option<f64>,
    /// `llama3`: context length the model was trained with.
    pub original_max_position_embeddings: Option<usize>,
}

/// `config.json` as Hugging Face writes it for Llama, Mistral and Qwen2 models.
#[derive(Debug, Clone, Deserialize)]
pub struct HfConfig {
    /// e.g. `["LlamaForCausalLM"]`.
    #[serde(default)]
    pub architectures: Vec<String>,
    /// e.g. `llama`.
    pub model_type: Option<String>,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Model width.
    pub hidden_size: usize,
    /// MLP width.
    pub intermediate_size: usize,
    /// Number of decoder layers.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads (GQA); defaults to `num_attention_heads`.
    pub num_key_value_heads: Option<usize>,
    /// Explicit head size; defaults to `hidden_size / num_attention_heads`.
    pub head_dim: Option<usize>,
    /// RMSNorm epsilon.
    #[serde(default = "default_rms_norm_eps")]
    pub rms_norm_eps: f64,
    /// Flat RoPE base (transformers 4).
    pub rope_theta: Option<f64>,
    /// RoPE scaling (transformers 4).
    pub rope_scaling: Option<RopeParameters>,
    /// RoPE parameters including `rope_theta` (transformers 5).
    pub rope_parameters: Option<RopeParameters>,
    /// Longest supported sequence.
    #[serde(default = "default_max_position_embeddings")]
    pub max_position_embeddings: usize,
    /// Sliding-window attention span (Mistral; Qwen2 with `use_sliding_window`).
    pub sliding_window: Option<usize>,
    /// Qwen2: whether `sliding_window` is used at all.
    pub use_sliding_window: Option<bool>,
    /// Qwen2: layers below this index use full attention.
    pub max_window_layers: Option<usize>,
    /// Whether `lm_head` shares the embedding matrix.
    pub tie_word_embeddings: Option<bool>,
    /// Llama: bias on q/k/v/o.
    #[serde(default)]
    pub attention_bias: bool,
    /// Llama: bias on the MLP projections.
    #[serde(default)]
    pub mlp_bias: bool,
    /// Activation; only `silu` is supported.
    pub hidden_act: Option<String>,
    /// Beginning-of-sequence id.
    pub bos_token_id: Option<TokenIds>,
    /// End-of-sequence id(s).
    pub eos_token_id: Option<TokenIds>,
}

fn default_rms_norm_eps() -> f64 {
    1e-6
}

fn default_max_position_embeddings() -> usize {
    4096
}

/// How RoPE frequencies are scaled.
#[derive(Debug, Clone, PartialEq)]
pub enum RopeScaling {
    /// Plain RoPE.
    None,
    /// Positions divided by `factor`.
    Linear {
        /// Scaling factor.
        factor: f64,
    },
    /// Llama 3.1's frequency-dependent scaling.
    Llama3 {
        /// Scaling factor.
        factor: f64,
        /// Low frequency factor.
        low_freq_factor: f64,
        /// High frequency factor.
        high_freq_factor: f64,
        /// Original context length.
        original_max_position_embeddings: usize,
    },
}

/// The resolved configuration the model runs on: every default applied, nothing optional left
/// that the forward pass would have to interpret.
#[derive(Debug, Clone)]
pub struct Config {
    /// Decoder family.
    pub arch: Arch,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Model width.
    pub hidden_size: usize,
    /// MLP width.
    pub intermediate_size: usize,
    /// Number of layers.
    pub num_layers: usize,
    /// Query heads.
    pub num_heads: usize,
    /// Key/value heads.
    pub num_kv_heads: usize,
    /// Head size.
    pub head_dim: usize,
    /// RMSNorm epsilon.
    pub rms_norm_eps: f64,
    /// RoPE base.
    pub rope_theta: f64,
    /// RoPE scaling.
    pub rope_scaling: RopeScaling,
    /// Longest supported sequence.
    pub max_position_embeddings: usize,
    /// Sliding window span, for layers at or above `sliding_window_from_layer`.
    pub sliding_window: Option<usize>,
    /// First layer that uses the sliding window (0 for Mistral).
    pub sliding_window_from_layer: usize,
    /// `lm_head` shares the embedding matrix.
    pub tie_word_embeddings: bool,
    /// Bias on q/k/v.
    pub qkv_bias: bool,
    /// Bias on o_proj.
    pub o_bias: bool,
    /// Bias on the MLP projections.
    pub mlp_bias: bool,
    /// Beginning-of-sequence id.
    pub bos_token_id: Option<u32>,
    /// End-of-sequence ids.
    pub eos_token_ids: Vec<u32>,
}

impl HfConfig {
    /// Reads `config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        read_json(path)
    }

    /// Resolves defaults and checks the configuration; `path` names the file in errors.
    pub fn into_config(self, path: &Path) -> Result<Config> {
        let err = |msg: String| Error::Config { path: path.to_path_buf(), msg };
        let arch_name = self.architectures.first().cloned().unwrap_or_default();
        let model_type = self.model_type.clone().unwrap_or_default();
        let arch = match (arch_name.as_str(), model_type.as_str()) {
            ("LlamaForCausalLM", _) | (_, "llama") => Arch::Llama,
            ("MistralForCausalLM", _) | (_, "mistral") => Arch::Mistral,
            ("Qwen2ForCausalLM", _) | (_, "qwen2") => Arch::Qwen2,
            _ => {
                return Err(err(format!(
                    "unsupported architecture {arch_name:?} (model_type {model_type:?}); \
                     supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM"
                )))
            }
        };
        if let Some(act) = &self.hidden_act {
            if act != "silu" {
                return Err(err(format!("unsupported hidden_act {act:?} (only \"silu\")")));
            }
        }
        if self.num_attention_heads == 0 || self.hidden_size == 0 || self.num_hidden_layers == 0 {
            return Err(err("hidden_size, num_attention_heads and num_hidden_layers must be > 0".into()));
        }
        let num_kv_heads = self.num_key_value_heads.unwrap_or(self.num_attention_heads);
        if num_kv_heads == 0 || !self.num_attention_heads.is_multiple_of(num_kv_heads) {
            return Err(err(format!(
                "num_attention_heads ({}) must be a multiple of num_key_value_heads ({num_kv_heads})",
                self.num_attention_heads
            )));
        }
        let head_dim = match self.head_dim {
            Some(d) => d,
            None if self.hidden_size.is_multiple_of(self.num_attention_heads) => {
                self.hidden_size / self.num_attention_heads
            }
            None => {
                return Err(err(format!(
                    "hidden_size ({}) is not divisible by num_attention_heads ({}) and no head_dim is given",
                    self.hidden_size, self.num_attention_heads
                )))
            }
        };
        if head_dim % 2 != 0 {
            return Err(err(format!("head_dim must be even for RoPE, got {head_dim}")));
        }
        let params = self.rope_parameters.clone().or(self.rope_scaling.clone()).unwrap_or_default();
        let rope_theta = self
            .rope_parameters
            .as_ref()
            .and_then(|p| p.rope_theta)
            .or(self.rope_theta)
            .unwrap_or(10_000.0);
        let rope_scaling = resolve_rope_scaling(&params).map_err(err)?;
        let (sliding_window, sliding_window_from_layer) = match arch {
            Arch::Qwen2 if self.use_sliding_window == Some(true) => {
                (self.sliding_window, self.max_window_layers.unwrap_or(0))
            }
            Arch::Qwen2 => (None, 0),
            _ => (self.sliding_window, 0),
        };
        Ok(Config {
            arch,
            vocab_size: self.vocab_size,
            hidden_size: self.hidden_size,
            intermediate_size: self.intermediate_size,
            num_layers: self.num_hidden_layers,
            num_heads: self.num_attention_heads,
            num_kv_heads,
            head_dim,
            rms_norm_eps: self.rms_norm_eps,
            rope_theta,
            rope_scaling,
            max_position_embeddings: self.max_position_embeddings,
            sliding_window,
            sliding_window_from_layer,
            tie_word_embeddings: self.tie_word_embeddings.unwrap_or(false),
            qkv_bias: arch == Arch::Qwen2 || self.attention_bias,
            o_bias: self.attention_bias,
            mlp_bias: self.mlp_bias,
            bos_token_id: self.bos_token_id.as_ref().and_then(|ids| ids.to_vec().first().copied()),
            eos_token_ids: self.eos_token_id.as_ref().map(TokenIds::to_vec).unwrap_or_default(),
        })
    }
}

fn resolve_rope_scaling(p: &RopeParameters) -> std::result::Result<RopeScaling, String> {
    match p.rope_type.as_deref() {
        None | Some("default") => Ok(RopeScaling::None),
        Some("linear") => {
            let factor = p.factor.ok_or("rope scaling \"linear\" needs `factor`")?;
            Ok(RopeScaling::Linear { factor })
        }
        Some("llama3") => {
            let need = |v: Option<f64>, name: &str| v.ok_or(format!("rope scaling \"llama3\" needs `{name}`"));
            Ok(RopeScaling::Llama3 {
                factor: need(p.factor, "factor")?,
                low_freq_factor: need(p.low_freq_factor, "low_freq_factor")?,
                high_freq_factor: need(p.high_freq_factor, "high_freq_factor")?,
                original_max_position_embeddings: p
                    .original_max_position_embeddings
                    .ok_or("rope scaling \"llama3\" needs `original_max_position_embeddings`")?,
            })
        }
        Some(other) => Err(format!(
            "unsupported rope scaling type {other:?} (supported: default, linear, llama3)"
        )),
    }
}

impl Config {
    /// Reads and resolves `config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        HfConfig::from_file(path)?.into_config(path)
    }

    /// The RoPE inverse frequencies, one per pair of head dimensions, scaling applied; computed
    /// in f32 as transformers does, so positions rotate identically.
    pub fn rope_inv_freq(&self) -> Vec<f32> {
        let d = self.head_dim;
        let theta = self.rope_theta as f32;
        let base: Vec<f32> =
            (0..d / 2).map(|i| 1.0 / theta.powf((2 * i) as f32 / d as f32)).collect();
        match &self.rope_scaling {
            RopeScaling::None => base,
            RopeScaling::Linear { factor } => base.iter().map(|f| f / *factor as f32).collect(),
            RopeScaling::Llama3 {
                factor,
                low_freq_factor,
                high_freq_factor,
                original_max_position_embeddings,
            } => {
                let (factor, low, high) = (*factor as f32, *low_freq_factor as f32, *high_freq_factor as f32);
                let old_len = *original_max_position_embeddings as f32;
                let low_freq_wavelen = old_len / low;
                let high_freq_wavelen = old_len / high;
                base.iter()
                    .map(|&freq| {
                        let wavelen = 2.0 * std::f32::consts::PI / freq;
                        if wavelen < high_freq_wavelen {
                            freq
                        } else if wavelen > low_freq_wavelen {
                            freq / factor
                        } else {
                            let smooth = (old_len / wavelen - low) / (high - low);
                            (1.0 - smooth) * freq / factor + smooth * freq
                        }
                    })
                    .collect()
            }
        }
    }

    /// Sliding window for layer `layer`, if any.
    pub fn window_for_layer(&self, layer: usize) -> Option<usize> {
        self.sliding_window.filter(|_| layer >= self.sliding_window_from_layer)
    }
}
