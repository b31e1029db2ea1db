//! The decoder: one implementation for Llama, Mistral and Qwen2 (their differences are in
//! [`Config`]), with unmerged per-row LoRA at every linear projection.
//!
//! A forward pass takes a *ragged* batch: the tokens of several sequences concatenated into one
//! `[n_tokens, hidden]` matrix (prefill chunks and single decode tokens side by side, as in
//! TGI's flash layout). Linear layers, norms and the MLP run over all tokens at once; attention
//! runs per sequence against that sequence's own KV cache. Weight names come from the
//! [`VarBuilder`] prefixes, so Hugging Face checkpoints load without renaming.

use crate::config::Config;
use crate::lora::{LinearId, LoraAdapter, Proj, Routing};
use candle_core::{DType, Device, Module, Result, Tensor, D};
use candle_nn::{Embedding, VarBuilder};
use std::sync::Arc;

/// A linear layer `y = x·Wᵀ (+ b)` that adapters may extend.
#[derive(Debug, Clone)]
struct Linear {
    weight: Tensor,
    bias: Option<Tensor>,
    id: Option<LinearId>,
}

impl Linear {
    fn new(in_f: usize, out_f: usize, bias: bool, id: Option<LinearId>, vb: VarBuilder) -> Result<Self> {
        let weight = vb.get((out_f, in_f), "weight")?;
        let bias = if bias { Some(vb.get(out_f, "bias")?) } else { None };
        Ok(Self { weight, bias, id })
    }

    fn forward(&self, x: &Tensor, routing: &Routing) -> Result<Tensor> {
        let mut y = crate::frozen::matmul_t(x, &self.weight)?;
        if let Some(b) = &self.bias {
            y = y.broadcast_add(b)?;
        }
        match self.id {
            Some(id) => routing.apply(id, x, y),
            None => Ok(y),
        }
    }
}

fn proj(cfg: &Config, layer: usize, p: Proj, bias: bool, vb: &VarBuilder) -> Result<Linear> {
    let (in_f, out_f) = p.dims(cfg);
    Linear::new(in_f, out_f, bias, Some((layer, p)), vb.pp(p.name()))
}

#[derive(Debug, Clone)]
struct RmsNorm {
    weight: Tensor,
    eps: f32,
}

impl RmsNorm {
    fn new(size: usize, eps: f64, vb: VarBuilder) -> Result<Self> {
        Ok(Self { weight: vb.get(size, "weight")?, eps: eps as f32 })
    }

    fn forward(&self, x: &Tensor, differentiable: bool) -> Result<Tensor> {
        if differentiable {
            candle_nn::ops::rms_norm_slow(x, &self.weight, self.eps)
        } else {
            candle_nn::ops::rms_norm(x, &self.weight, self.eps)
        }
    }
}

/// Precomputed RoPE tables, computed in f32 like transformers.
#[derive(Debug, Clone)]
struct RotaryEmbedding {
    cos: Tensor,
    sin: Tensor,
}

impl RotaryEmbedding {
    fn new(cfg: &Config, dev: &Device) -> Result<Self> {
        let inv_freq = cfg.rope_inv_freq();
        let half = inv_freq.len();
        let max = cfg.max_position_embeddings;
        let mut angles = Vec::with_capacity(max * half);
        for pos in 0..max {
            for f in &inv_freq {
                angles.push(pos as f32 * f);
            }
        }
        let angles = Tensor::from_vec(angles, (max, half), dev)?;
        Ok(Self { cos: angles.cos()?, sin: angles.sin()? })
    }

    /// Rotates `x` of shape `[heads, len, head_dim]` for positions `pos..pos+len`.
    fn apply(&self, x: &Tensor, pos: usize, differentiable: bool) -> Result<Tensor> {
        let len = x.dim(1)?;
        let cos = self.cos.narrow(0, pos, len)?;
        let sin = self.sin.narrow(0, pos, len)?;
        if differentiable {
            // x·cos + rotate_half(x)·sin with plain tensor ops, so gradients flow.
            let half = x.dim(2)? / 2;
            let (x1, x2) = (x.narrow(2, 0, half)?, x.narrow(2, half, half)?);
            let rotated = Tensor::cat(&[&x2.neg()?, &x1], 2)?;
            let cos = Tensor::cat(&[&cos, &cos], 1)?.unsqueeze(0)?;
            let sin = Tensor::cat(&[&sin, &sin], 1)?.unsqueeze(0)?;
            return x.broadcast_mul(&cos)? + rotated.broadcast_mul(&sin)?;
        }
        candle_nn::rotary_emb::rope(&x.unsqueeze(0)?.contiguous()?, &cos, &sin)?.squeeze(0)
    }
}

/// Keys and values of one sequence for one layer, `[kv_heads, len, head_dim]` each.
#[derive(Debug, Clone, Default)]
struct LayerCache {
    kv: Option<(Tensor, Tensor)>,
}

/// The KV cache of one sequence, across all layers.
#[derive(Debug, Clone)]
pub struct KvCache {
    layers: Vec<LayerCache>,
    len: usize,
}

impl KvCache {
    /// An empty cache for a model with `num_layers` layers.
    pub fn new(num_layers: usize) -> Self {
        Self { layers: vec![LayerCache::default(); num_layers], len: 0 }
    }

    /// Number of positions cached.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[derive(Debug, Clone)]
struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    num_heads: usize,
    num_kv_heads: usize,
    head_dim: usize,
    window: Option<usize>,
}

impl Attention {
    fn new(cfg: &Config, layer: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            q_proj: proj(cfg, layer, Proj::Q, cfg.qkv_bias, &vb)?,
            k_proj: proj(cfg, layer, Proj::K, cfg.qkv_bias, &vb)?,
            v_proj: proj(cfg, layer, Proj::V, cfg.qkv_bias, &vb)?,
            o_proj: proj(cfg, layer, Proj::O, cfg.o_bias, &vb)?,
            num_heads: cfg.num_heads,
            num_kv_heads: cfg.num_kv_heads,
            head_dim: cfg.head_dim,
            window: cfg.window_for_layer(layer),
        })
    }

    fn forward(
        &self,
        x: &Tensor,
        batch: &BatchLayout,
        caches: &mut [LayerCacheRef<'_>],
        rope: &RotaryEmbedding,
        routing: &Routing,
    ) -> Result<Tensor> {
        let q = self.q_proj.forward(x, routing)?;
        let k = self.k_proj.forward(x, routing)?;
        let v = self.v_proj.forward(x, routing)?;
        let (nh, nkv, hd) = (self.num_heads, self.num_kv_heads, self.head_dim);
        let n_rep = nh / nkv;
        let mut outs = Vec::with_capacity(batch.segments.len());
        for si in 0..batch.segments.len() {
            let seg = batch.segments[si];
            let len = seg.len;
            let heads = |t: &Tensor, n: usize| -> Result<Tensor> {
                t.narrow(0, seg.offset, len)?.reshape((len, n, hd))?.transpose(0, 1)?.contiguous()
            };
            let qs = rope.apply(&heads(&q, nh)?, seg.pos, batch.differentiable)?;
            let ks = rope.apply(&heads(&k, nkv)?, seg.pos, batch.differentiable)?;
            let vs = heads(&v, nkv)?;
            // A fork starts from its parent's keys and values as they stand after this pass
            // (the parent comes earlier, so this layer has already extended them).
            let before = match seg.fork_of {
                Some(a) => caches[a].kv.clone(),
                None => caches[si].kv.take(),
            };
            let (k_all, v_all) = match before {
                Some((pk, pv)) => (Tensor::cat(&[&pk, &ks], 1)?, Tensor::cat(&[&pv, &vs], 1)?),
                None => (ks, vs),
            };
            caches[si].kv = Some((k_all.clone(), v_all.clone()));
            let total = k_all.dim(1)?;
            // Query heads h use kv head h / n_rep: group them so K and V are never copied.
            let qg = qs.reshape((nkv, n_rep * len, hd))?;
            let scale = 1.0 / (hd as f64).sqrt();
            let mut att = (qg.matmul(&k_all.t()?)? * scale)?;
            if let Some(mask) = attention_mask(len, seg.pos, total, self.window, x.device())? {
                att = att.reshape((nkv, n_rep, len, total))?.broadcast_add(&mask)?.reshape((nkv, n_rep * len, total))?;
            }
            let att = if batch.differentiable {
                candle_nn::ops::softmax(&att, D::Minus1)?
            } else {
                candle_nn::ops::softmax_last_dim(&att)?
            };
            let out = att.matmul(&v_all)?; // [nkv, n_rep*len, hd]
            let out = out.reshape((nh, len, hd))?.transpose(0, 1)?.reshape((len, nh * hd))?;
            outs.push(out);
        }
        let out = if outs.len() == 1 { outs.pop().unwrap_or_else(|| unreachable!()) } else { Tensor::cat(&outs, 0)? };
        self.o_proj.forward(&out, routing)
    }
}

/// Additive mask `[len, total]` for queries at `pos..pos+len` over keys `0..total`: causal,
/// and with a sliding window key `j` is visible to query `i` only if `i - j < window`
/// (transformers' `kv_idx > q_idx - sliding_window`). `None` when nothing is masked.
fn attention_mask(len: usize, pos: usize, total: usize, window: Option<usize>, dev: &Device) -> Result<Option<Tensor>> {
    let window_bites = window.is_some_and(|w| pos + len > w);
    if len == 1 && !window_bites {
        return Ok(None);
    }
    let mut mask = vec![0f32; len * total];
    for i in 0..len {
        let qpos = pos + i;
        for j in 0..total {
            let hidden = j > qpos || window.is_some_and(|w| qpos - j.min(qpos) >= w);
            if hidden {
                mask[i * total + j] = f32::NEG_INFINITY;
            }
        }
    }
    Ok(Some(Tensor::from_vec(mask, (len, total), dev)?))
}

#[derive(Debug, Clone)]
struct Mlp {
    gate_proj: Linear,
    up_proj: Linear,
    down_proj: Linear,
}

impl Mlp {
    fn new(cfg: &Config, layer: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            gate_proj: proj(cfg, layer, Proj::Gate, cfg.mlp_bias, &vb)?,
            up_proj: proj(cfg, layer, Proj::Up, cfg.mlp_bias, &vb)?,
            down_proj: proj(cfg, layer, Proj::Down, cfg.mlp_bias, &vb)?,
        })
    }

    fn forward(&self, x: &Tensor, routing: &Routing) -> Result<Tensor> {
        let gate = candle_nn::ops::silu(&self.gate_proj.forward(x, routing)?)?;
        let up = self.up_proj.forward(x, routing)?;
        self.down_proj.forward(&(gate * up)?, routing)
    }
}

#[derive(Debug, Clone)]
struct DecoderLayer {
    self_attn: Attention,
    mlp: Mlp,
    input_layernorm: RmsNorm,
    post_attention_layernorm: RmsNorm,
}

impl DecoderLayer {
    fn new(cfg: &Config, layer: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            self_attn: Attention::new(cfg, layer, vb.pp("self_attn"))?,
            mlp: Mlp::new(cfg, layer, vb.pp("mlp"))?,
            input_layernorm: RmsNorm::new(cfg.hidden_size, cfg.rms_norm_eps, vb.pp("input_layernorm"))?,
            post_attention_layernorm: RmsNorm::new(
                cfg.hidden_size,
                cfg.rms_norm_eps,
                vb.pp("post_attention_layernorm"),
            )?,
        })
    }

    fn forward(
        &self,
        x: &Tensor,
        batch: &BatchLayout,
        caches: &mut [LayerCacheRef<'_>],
        rope: &RotaryEmbedding,
        routing: &Routing,
    ) -> Result<Tensor> {
        let h = self.input_layernorm.forward(x, batch.differentiable)?;
        let h = self.self_attn.forward(&h, batch, caches, rope, routing)?;
        let x = (x + h)?;
        let h = self.post_attention_layernorm.forward(&x, batch.differentiable)?;
        let h = self.mlp.forward(&h, routing)?;
        x + h
    }
}

type LayerCacheRef<'a> = &'a mut LayerCache;

/// One sequence's part of a forward pass.
pub struct SegmentInput<'a> {
    /// The new tokens of this sequence (a prompt chunk, or one decoded token).
    pub tokens: &'a [u32],
    /// Its adapter, if any.
    pub adapter: Option<&'a Arc<LoraAdapter>>,
    /// Which positions of this segment need logits.
    pub logits: Logits<'a>,
    /// `Some(a)`: this segment continues the context of segment `a` of the same pass (a's
    /// cache plus a's new tokens), as a fork of that sequence: its positions follow a's, its
    /// queries see a's keys and values, and its cache (which must start empty) ends up holding
    /// the whole context. Many examples that share a long prompt (one schema, several
    /// questions) compute that prompt once; gradients flow back into it from every fork.
    pub fork_of: Option<usize>,
}

/// Which positions of a segment get logits (the `lm_head` over the vocabulary is the most
/// expensive layer for small models, so only what is needed is computed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logits<'a> {
    /// The last position (decoding).
    Last,
    /// Every position (prefill logprobs).
    All,
    /// These positions, relative to the segment's first new token (training targets).
    Rows(&'a [usize]),
}

#[derive(Debug, Clone, Copy)]
struct Segment {
    offset: usize,
    len: usize,
    pos: usize,
    fork_of: Option<usize>,
}

struct BatchLayout {
    segments: Vec<Segment>,
    differentiable: bool,
}

/// A Llama/Mistral/Qwen2 causal language model.
#[derive(Debug, Clone)]
pub struct Model {
    embed_tokens: Embedding,
    layers: Vec<DecoderLayer>,
    norm: RmsNorm,
    lm_head: Linear,
    rotary: RotaryEmbedding,
    cfg: Config,
    /// First layer run with differentiable ops (`None`: inference kernels everywhere).
    differentiable_from: Option<usize>,
}

impl Model {
    /// Builds the model from weights named like the Hugging Face checkpoint.
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let vb_m = vb.pp("model");
        let embed_tokens = candle_nn::embedding(cfg.vocab_size, cfg.hidden_size, vb_m.pp("embed_tokens"))?;
        let layers = (0..cfg.num_layers)
            .map(|i| DecoderLayer::new(cfg, i, vb_m.pp(format!("layers.{i}"))))
            .collect::<Result<Vec<_>>>()?;
        let norm = RmsNorm::new(cfg.hidden_size, cfg.rms_norm_eps, vb_m.pp("norm"))?;
        let lm_head = if cfg.tie_word_embeddings {
            Linear { weight: embed_tokens.embeddings().clone(), bias: None, id: None }
        } else {
            Linear::new(cfg.hidden_size, cfg.vocab_size, false, None, vb.pp("lm_head"))?
        };
        let rotary = RotaryEmbedding::new(cfg, vb.device())?;
        Ok(Self { embed_tokens, layers, norm, lm_head, rotary, cfg: cfg.clone(), differentiable_from: None })
    }

    /// Use only operations with gradients (RMSNorm, RoPE and softmax as plain tensor ops)
    /// so LoRA weights held in `Var`s can be trained; slower, same results up to float
    /// rounding. Off by default (fused inference kernels).
    pub fn set_differentiable(&mut self, on: bool) {
        self.differentiable_from = on.then_some(0);
    }

    /// Differentiable ops from layer `first` up only: when no trainable weight sits below
    /// `first` (LoRA on the upper layers), the frozen lower layers keep the fused kernels and
    /// backpropagation never enters them.
    pub fn set_differentiable_from(&mut self, first: usize) {
        self.differentiable_from = Some(first);
    }

    /// The resolved configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// A fresh, empty KV cache for one sequence.
    pub fn new_cache(&self) -> KvCache {
        KvCache::new(self.cfg.num_layers)
    }

    /// Runs one forward pass over a ragged batch and appends the new keys/values to each
    /// sequence's cache. Returns, per segment, logits `[n, vocab]` in f32: for every new
    /// position asked for by each segment's [`Logits`] (`n` rows, in order).
    pub fn forward(&self, inputs: &[SegmentInput<'_>], caches: &mut [&mut KvCache]) -> Result<Vec<Tensor>> {
        if inputs.len() != caches.len() {
            candle_core::bail!("forward: {} segments but {} caches", inputs.len(), caches.len());
        }
        let dev = self.embed_tokens.embeddings().device().clone();
        let mut ids = Vec::new();
        let mut segments: Vec<Segment> = Vec::with_capacity(inputs.len());
        let mut rows = Vec::new();
        for (si, (inp, cache)) in inputs.iter().zip(caches.iter()).enumerate() {
            if inp.tokens.is_empty() {
                candle_core::bail!("forward: empty segment");
            }
            let pos = match inp.fork_of {
                None => cache.len,
                Some(a) if a < si && cache.len == 0 => segments[a].pos + segments[a].len,
                Some(a) => candle_core::bail!(
                    "forward: segment {si} forks segment {a}, which must come earlier, into an empty cache (it holds {})",
                    cache.len
                ),
            };
            if pos + inp.tokens.len() > self.cfg.max_position_embeddings {
                candle_core::bail!(
                    "sequence of {} tokens exceeds max_position_embeddings ({})",
                    pos + inp.tokens.len(),
                    self.cfg.max_position_embeddings
                );
            }
            if let Some(&bad) = inp.tokens.iter().find(|&&t| t as usize >= self.cfg.vocab_size) {
                candle_core::bail!("token id {bad} is out of range for vocab_size {}", self.cfg.vocab_size);
            }
            segments.push(Segment { offset: ids.len(), len: inp.tokens.len(), pos, fork_of: inp.fork_of });
            ids.extend_from_slice(inp.tokens);
            rows.extend(std::iter::repeat_n(inp.adapter, inp.tokens.len()));
        }
        let routing = Routing::new(&rows).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        let mut batch = BatchLayout { segments, differentiable: false };
        let n = ids.len();
        let mut x = self.embed_tokens.forward(&Tensor::from_vec(ids, n, &dev)?)?;
        for (li, layer) in self.layers.iter().enumerate() {
            batch.differentiable = self.differentiable_from.is_some_and(|f| li >= f);
            let mut layer_caches: Vec<LayerCacheRef<'_>> =
                caches.iter_mut().map(|c| &mut c.layers[li]).collect();
            x = layer.forward(&x, &batch, &mut layer_caches, &self.rotary, &routing)?;
        }
        for (seg, cache) in batch.segments.iter().zip(caches.iter_mut()) {
            cache.len = seg.pos + seg.len;
        }
        // Only the positions whose logits are wanted go through the norm and lm_head.
        let mut picked = Vec::new();
        let mut counts = Vec::new();
        for (seg, inp) in batch.segments.iter().zip(inputs) {
            match inp.logits {
                Logits::All => {
                    picked.extend((seg.offset..seg.offset + seg.len).map(|i| i as u32));
                    counts.push(seg.len);
                }
                Logits::Last => {
                    picked.push((seg.offset + seg.len - 1) as u32);
                    counts.push(1);
                }
                Logits::Rows(rows) => {
                    if let Some(&bad) = rows.iter().find(|&&r| r >= seg.len) {
                        candle_core::bail!("logit row {bad} is outside a segment of {} tokens", seg.len);
                    }
                    picked.extend(rows.iter().map(|&r| (seg.offset + r) as u32));
                    counts.push(rows.len());
                }
            }
        }
        let m = picked.len();
        let h = x.index_select(&Tensor::from_vec(picked, m, &dev)?, 0)?;
        let h = self.norm.forward(&h, self.differentiable_from.is_some())?;
        let logits = self.lm_head.forward(&h, &Routing::default())?.to_dtype(DType::F32)?;
        let mut out = Vec::with_capacity(counts.len());
        let mut start = 0;
        for c in counts {
            out.push(logits.narrow(0, start, c)?);
            start += c;
        }
        Ok(out)
    }
}

/// Log-softmax over the last dimension, in f32.
pub fn log_softmax(logits: &Tensor) -> Result<Tensor> {
    candle_nn::ops::log_softmax(logits, D::Minus1)
}
