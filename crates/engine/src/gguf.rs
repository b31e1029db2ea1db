//! GGUF models (llama.cpp's format): metadata → [`Config`], tensors dequantised to f32 under
//! Hugging Face names, and the tokenizer rebuilt from `tokenizer.ggml.*` metadata.
//!
//! llama.cpp's converter permutes the rows of `q_proj` and `k_proj` for its interleaved RoPE;
//! we undo that, so the model runs in Hugging Face layout and LoRA adapters trained on a GGUF
//! base are PEFT-compatible with the original model (and servable by TGI).

use crate::config::{Arch, Config, RopeScaling};
use crate::error::{Error, Result};
use crate::tokenizer::Tokenizer;
use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::{Device, Tensor};
use serde_json::json;
use std::collections::HashMap;
use std::path::Path;

/// A GGUF file read into memory.
pub struct GgufModel {
    /// The resolved configuration.
    pub config: Config,
    /// Dequantised f32 tensors with Hugging Face names.
    pub tensors: HashMap<String, Tensor>,
    /// The tokenizer.
    pub tokenizer: Tokenizer,
    /// End-of-sequence ids.
    pub eos_token_ids: Vec<u32>,
    /// Quantisation types found, e.g. `{"Q4_1": 210, "F32": 61}`.
    pub tensor_types: HashMap<String, usize>,
}

struct Meta<'a> {
    path: &'a Path,
    md: &'a HashMap<String, Value>,
}

impl Meta<'_> {
    fn err(&self, msg: String) -> Error {
        Error::Gguf { path: self.path.to_path_buf(), msg }
    }
    fn get(&self, key: &str) -> Result<&Value> {
        self.md.get(key).ok_or_else(|| self.err(format!("missing metadata key `{key}`")))
    }
    fn usize(&self, key: &str) -> Result<usize> {
        let v = self.get(key)?;
        v.to_u64()
            .map(|x| x as usize)
            .or_else(|_| v.to_u32().map(|x| x as usize))
            .or_else(|_| v.to_i32().map(|x| x as usize))
            .map_err(|_| self.err(format!("metadata `{key}` is not an integer")))
    }
    fn opt_usize(&self, key: &str) -> Result<Option<usize>> {
        if self.md.contains_key(key) {
            self.usize(key).map(Some)
        } else {
            Ok(None)
        }
    }
    fn opt_f64(&self, key: &str) -> Result<Option<f64>> {
        match self.md.get(key) {
            None => Ok(None),
            Some(v) => v
                .to_f32()
                .map(|x| x as f64)
                .or_else(|_| v.to_f64())
                .map(Some)
                .map_err(|_| self.err(format!("metadata `{key}` is not a float"))),
        }
    }
    fn string(&self, key: &str) -> Result<&String> {
        self.get(key)?.to_string().map_err(|_| self.err(format!("metadata `{key}` is not a string")))
    }
    fn strings(&self, key: &str) -> Result<Vec<String>> {
        let arr = self.get(key)?.to_vec().map_err(|_| self.err(format!("metadata `{key}` is not an array")))?;
        arr.iter()
            .map(|v| v.to_string().cloned().map_err(|_| self.err(format!("metadata `{key}` holds a non-string"))))
            .collect()
    }
    fn ints(&self, key: &str) -> Result<Vec<i64>> {
        let arr = self.get(key)?.to_vec().map_err(|_| self.err(format!("metadata `{key}` is not an array")))?;
        arr.iter()
            .map(|v| {
                v.to_i32()
                    .map(|x| x as i64)
                    .or_else(|_| v.to_u32().map(|x| x as i64))
                    .or_else(|_| v.to_i64())
                    .map_err(|_| self.err(format!("metadata `{key}` holds a non-integer")))
            })
            .collect()
    }
    fn opt_bool(&self, key: &str) -> Option<bool> {
        self.md.get(key).and_then(|v| v.to_bool().ok())
    }
    fn opt_u32(&self, key: &str) -> Option<u32> {
        self.md.get(key).and_then(|v| v.to_u32().ok().or_else(|| v.to_i32().ok().map(|x| x as u32)))
    }
}

/// Reads the configuration from GGUF metadata.
fn config_from_meta(m: &Meta<'_>, vocab_size: usize, has_output: bool) -> Result<Config> {
    let arch_name = m.string("general.architecture")?.clone();
    let arch = match arch_name.as_str() {
        "llama" => Arch::Llama,
        "qwen2" => Arch::Qwen2,
        other => return Err(m.err(format!("unsupported general.architecture {other:?} (supported: llama, qwen2)"))),
    };
    let a = |k: &str| format!("{arch_name}.{k}");
    let hidden = m.usize(&a("embedding_length"))?;
    let heads = m.usize(&a("attention.head_count"))?;
    let kv = m.opt_usize(&a("attention.head_count_kv"))?.unwrap_or(heads);
    if heads == 0 || kv == 0 || heads % kv != 0 {
        return Err(m.err(format!("invalid head counts: {heads} heads, {kv} kv heads")));
    }
    let head_dim = match m.opt_usize(&a("attention.key_length"))? {
        Some(d) => d,
        None => m.opt_usize(&a("rope.dimension_count"))?.unwrap_or(hidden / heads),
    };
    let rope_scaling = match m.md.get(&a("rope.scaling.type")).and_then(|v| v.to_string().ok()).map(String::as_str) {
        None | Some("none") => RopeScaling::None,
        Some("linear") => RopeScaling::Linear {
            factor: m.opt_f64(&a("rope.scaling.factor"))?.ok_or_else(|| m.err("linear rope scaling without factor".into()))?,
        },
        Some(other) => return Err(m.err(format!("unsupported rope.scaling.type {other:?}"))),
    };
    Ok(Config {
        arch,
        vocab_size,
        hidden_size: hidden,
        intermediate_size: m.usize(&a("feed_forward_length"))?,
        num_layers: m.usize(&a("block_count"))?,
        num_heads: heads,
        num_kv_heads: kv,
        head_dim,
        rms_norm_eps: m.opt_f64(&a("attention.layer_norm_rms_epsilon"))?.unwrap_or(1e-6),
        rope_theta: m.opt_f64(&a("rope.freq_base"))?.unwrap_or(10_000.0),
        rope_scaling,
        max_position_embeddings: m.opt_usize(&a("context_length"))?.unwrap_or(4096),
        sliding_window: None,
        sliding_window_from_layer: 0,
        tie_word_embeddings: !has_output,
        qkv_bias: arch == Arch::Qwen2,
        o_bias: false,
        mlp_bias: false,
        bos_token_id: m.opt_u32("tokenizer.ggml.bos_token_id"),
        eos_token_ids: m.opt_u32("tokenizer.ggml.eos_token_id").into_iter().collect(),
    })
}

/// The Hugging Face name of a GGUF tensor, and whether its rows need un-permuting (q/k).
fn hf_name(name: &str) -> Option<(String, Option<&'static str>)> {
    match name {
        "token_embd.weight" => return Some(("model.embed_tokens.weight".into(), None)),
        "output_norm.weight" => return Some(("model.norm.weight".into(), None)),
        "output.weight" => return Some(("lm_head.weight".into(), None)),
        _ => {}
    }
    let rest = name.strip_prefix("blk.")?;
    let (layer, tail) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let (module, permute) = match tail.rsplit_once('.')?.0 {
        "attn_q" => ("self_attn.q_proj", Some("q")),
        "attn_k" => ("self_attn.k_proj", Some("k")),
        "attn_v" => ("self_attn.v_proj", None),
        "attn_output" => ("self_attn.o_proj", None),
        "ffn_gate" => ("mlp.gate_proj", None),
        "ffn_up" => ("mlp.up_proj", None),
        "ffn_down" => ("mlp.down_proj", None),
        "attn_norm" => ("input_layernorm", None),
        "ffn_norm" => ("post_attention_layernorm", None),
        _ => return None,
    };
    let kind = tail.rsplit_once('.')?.1; // weight | bias
    Some((format!("model.layers.{layer}.{module}.{kind}"), permute))
}

/// Inverts llama.cpp's `permute(w, n_head)` (which is `w.reshape(h, 2, half, rest).swap(1, 2)`):
/// `w.reshape(h, half, 2, rest).swap(1, 2)` restores the Hugging Face row order.
fn unpermute(t: &Tensor, n_head: usize) -> candle_core::Result<Tensor> {
    let dims = t.dims().to_vec();
    let rows = dims[0];
    let half = rows / n_head / 2;
    let rest: usize = dims[1..].iter().product();
    t.reshape((n_head, half, 2, rest))?.transpose(1, 2)?.contiguous()?.reshape(dims)
}

/// Loads a GGUF file.
pub fn load(path: &Path) -> Result<GgufModel> {
    let gerr = |msg: String| Error::Gguf { path: path.to_path_buf(), msg };
    let mut file = std::fs::File::open(path).map_err(crate::error::io_err(path))?;
    let content = Content::read(&mut file).map_err(|e| gerr(format!("not a valid GGUF file: {e}")))?;
    let m = Meta { path, md: &content.metadata };
    let tokenizer = tokenizer_from_meta(&m)?;
    let vocab_size = match m.opt_usize(&format!("{}.vocab_size", m.string("general.architecture")?))? {
        Some(v) => v,
        None => m.strings("tokenizer.ggml.tokens")?.len(),
    };
    let has_output = content.tensor_infos.contains_key("output.weight");
    let config = config_from_meta(&m, vocab_size, has_output)?;
    let mut tensors = HashMap::new();
    let mut tensor_types = HashMap::new();
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    for name in names {
        let Some((hf, permute)) = hf_name(name) else {
            if name == "rope_freqs.weight" {
                continue;
            }
            return Err(gerr(format!("unexpected tensor `{name}`")));
        };
        let q = content
            .tensor(&mut file, name, &Device::Cpu)
            .map_err(|e| gerr(format!("tensor `{name}`: {e}")))?;
        *tensor_types.entry(format!("{:?}", q.dtype())).or_insert(0) += 1;
        let mut t = q.dequantize(&Device::Cpu).map_err(|e| gerr(format!("tensor `{name}`: {e}")))?;
        match permute {
            Some("q") => t = unpermute(&t, config.num_heads)?,
            Some(_) => t = unpermute(&t, config.num_kv_heads)?,
            None => {}
        }
        tensors.insert(hf, t);
    }
    let eos_token_ids = config.eos_token_ids.clone();
    Ok(GgufModel { config, tensors, tokenizer, eos_token_ids, tensor_types })
}

/// Builds a `tokenizers` tokenizer from `tokenizer.ggml.*` metadata (BPE models, `gpt2`).
fn tokenizer_from_meta(m: &Meta<'_>) -> Result<Tokenizer> {
    let model = m.string("tokenizer.ggml.model")?;
    if model != "gpt2" {
        return Err(m.err(format!("tokenizer.ggml.model {model:?} is not supported (only the BPE model \"gpt2\")")));
    }
    let tokens = m.strings("tokenizer.ggml.tokens")?;
    let merges = m.strings("tokenizer.ggml.merges")?;
    let types = if m.md.contains_key("tokenizer.ggml.token_type") { m.ints("tokenizer.ggml.token_type")? } else { vec![1; tokens.len()] };
    let vocab: serde_json::Map<String, serde_json::Value> =
        tokens.iter().enumerate().map(|(i, t)| (t.clone(), json!(i))).collect();
    // Token types: 1 normal, 2 unknown, 3 control, 4 user defined, 5 unused, 6 byte.
    let added: Vec<serde_json::Value> = tokens
        .iter()
        .enumerate()
        .filter(|(i, _)| matches!(types.get(*i), Some(3) | Some(4)))
        .map(|(i, t)| {
            json!({"id": i, "content": t, "single_word": false, "lstrip": false, "rstrip": false,
                   "normalized": types[i] == 4, "special": types[i] == 3})
        })
        .collect();
    let pre = m.md.get("tokenizer.ggml.pre").and_then(|v| v.to_string().ok()).cloned().unwrap_or_default();
    let byte_level = json!({"type": "ByteLevel", "add_prefix_space": m.opt_bool("tokenizer.ggml.add_space_prefix").unwrap_or(false), "trim_offsets": true, "use_regex": true});
    // Pre-tokenizers whose llama.cpp regex splits digits one by one.
    let pre_tokenizer = if ["smollm", "deepseek-coder", "starcoder"].contains(&pre.as_str()) {
        json!({"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": true}, byte_level]})
    } else {
        byte_level
    };
    let bos = m.opt_u32("tokenizer.ggml.bos_token_id");
    let add_bos = m.opt_bool("tokenizer.ggml.add_bos_token").unwrap_or(false);
    let post_processor = match (add_bos, bos.and_then(|b| tokens.get(b as usize))) {
        (true, Some(bos_tok)) => json!({
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos_tok, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": bos_tok, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {bos_tok.clone(): {"id": bos_tok, "ids": [bos], "tokens": [bos_tok]}}
        }),
        _ => json!({"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true}),
    };
    let spec = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": post_processor,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                  "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                  "vocab": vocab, "merges": merges}
    });
    let inner: tokenizers::Tokenizer = spec
        .to_string()
        .parse()
        .map_err(|e| m.err(format!("cannot build the tokenizer from metadata: {e}")))?;
    let mut tok = Tokenizer::from_tokenizer(inner);
    tok.chat_template = m.md.get("tokenizer.chat_template").and_then(|v| v.to_string().ok()).cloned();
    let name_of = |key: &str| m.opt_u32(key).and_then(|i| tokens.get(i as usize)).cloned();
    tok.bos_token = name_of("tokenizer.ggml.bos_token_id");
    tok.eos_token = name_of("tokenizer.ggml.eos_token_id");
    Ok(tok)
}
