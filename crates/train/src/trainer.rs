//! The training loop: examples → ragged batches → masked loss → accumulated gradients →
//! global-norm clipping → AdamW with linear warmup and cosine decay; periodic validation loss;
//! checkpoints (LoRA weights, optimiser moments, position in the data) that resume exactly.

use crate::{Result, TrainError, TrainableLora};
use candle_core::{Device, Tensor, Var};
use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use text2sql_engine::model::{Logits, Model, SegmentInput};
use text2sql_engine::Tokenizer;

/// One tokenised training example: `mask[i]` marks tokens the model must learn (the response).
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// Token ids: prompt, response, EOS.
    pub ids: Vec<u32>,
    /// Loss on these positions.
    pub mask: Vec<bool>,
}

/// Tokenises `prompt` (with the tokenizer's special tokens) + `completion` + EOS, cutting the
/// prompt's start when longer than `max_len`. Fails when the response alone does not fit.
pub fn encode_example(tok: &Tokenizer, eos: u32, prompt: &str, completion: &str, max_len: usize) -> Result<Example> {
    let p = tok.encode(prompt, true)?;
    let mut c = tok.encode(completion, false)?;
    c.push(eos);
    if c.len() + 1 > max_len {
        return Err(TrainError::Example(format!("response of {} tokens does not fit max_seq_length {max_len}", c.len())));
    }
    let keep = (max_len - c.len()).min(p.len());
    let p = &p[p.len() - keep..];
    let mut mask = vec![false; p.len()];
    mask.extend(std::iter::repeat_n(true, c.len()));
    Ok(Example { ids: [p, &c].concat(), mask })
}

/// Optimisation settings.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    /// Peak learning rate.
    pub learning_rate: f64,
    /// Linear warmup steps.
    pub warmup_steps: usize,
    /// Total optimiser steps (cosine decays to 0 at this step).
    pub total_steps: usize,
    /// Examples per micro-batch (one forward pass).
    pub batch_size: usize,
    /// Micro-batches per optimiser step.
    pub gradient_accumulation_steps: usize,
    /// Global gradient-norm clip (0 = off).
    pub max_grad_norm: f64,
    /// AdamW decoupled weight decay.
    pub weight_decay: f64,
    /// Data order seed.
    pub seed: u64,
}

/// Learning rate at optimiser step `step` (0-based): linear warmup, then cosine to 0.
pub fn lr_at(cfg: &TrainConfig, step: usize) -> f64 {
    if step < cfg.warmup_steps {
        return cfg.learning_rate * (step + 1) as f64 / cfg.warmup_steps as f64;
    }
    let span = cfg.total_steps.saturating_sub(cfg.warmup_steps).max(1) as f64;
    let progress = ((step - cfg.warmup_steps) as f64 / span).min(1.0);
    cfg.learning_rate * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
}

/// AdamW (decoupled weight decay) whose moments can be saved and restored.
pub struct AdamW {
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    t: usize,
    beta1: f64,
    beta2: f64,
    eps: f64,
}

impl AdamW {
    /// Zero moments for `vars`.
    pub fn new(vars: &[Var]) -> Result<Self> {
        let zeros = |v: &Var| v.as_tensor().zeros_like();
        Ok(Self {
            m: vars.iter().map(zeros).collect::<candle_core::Result<_>>()?,
            v: vars.iter().map(zeros).collect::<candle_core::Result<_>>()?,
            t: 0,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        })
    }

    /// One update with gradients `grads[i]` for `vars[i]`.
    pub fn step(&mut self, vars: &[Var], grads: &[Tensor], lr: f64, weight_decay: f64) -> Result<()> {
        self.t += 1;
        let (b1, b2) = (self.beta1, self.beta2);
        let c1 = 1.0 - b1.powi(self.t as i32);
        let c2 = 1.0 - b2.powi(self.t as i32);
        for (i, (var, g)) in vars.iter().zip(grads).enumerate() {
            self.m[i] = ((&self.m[i] * b1)? + (g * (1.0 - b1))?)?;
            self.v[i] = ((&self.v[i] * b2)? + (g.sqr()? * (1.0 - b2))?)?;
            let m_hat = (&self.m[i] / c1)?;
            let v_hat = (&self.v[i] / c2)?;
            let update = (m_hat / (v_hat.sqrt()? + self.eps)?)?;
            let decayed = (var.as_tensor() * (1.0 - lr * weight_decay))?;
            var.set(&(decayed - (update * lr)?)?)?;
        }
        Ok(())
    }

    fn save(&self, path: &Path) -> Result<()> {
        let mut map = HashMap::new();
        for (i, (m, v)) in self.m.iter().zip(&self.v).enumerate() {
            map.insert(format!("m.{i}"), m.clone());
            map.insert(format!("v.{i}"), v.clone());
        }
        map.insert("t".into(), Tensor::new(&[self.t as u32], &Device::Cpu)?);
        candle_core::safetensors::save(&map, path)?;
        Ok(())
    }

    fn load(&mut self, path: &Path) -> Result<()> {
        let map = candle_core::safetensors::load(path, &Device::Cpu)?;
        let get = |k: &str| map.get(k).cloned().ok_or_else(|| TrainError::Example(format!("{}: missing `{k}`", path.display())));
        for i in 0..self.m.len() {
            self.m[i] = get(&format!("m.{i}"))?;
            self.v[i] = get(&format!("v.{i}"))?;
        }
        self.t = get("t")?.to_vec1::<u32>()?[0] as usize;
        Ok(())
    }
}

/// Sum of per-token cross-entropies over the masked positions of a ragged batch (one forward
/// pass), and the number of those tokens.
pub fn batch_loss_sum(model: &Model, adapter: &Arc<text2sql_engine::LoraAdapter>, batch: &[&Example]) -> Result<(Tensor, usize)> {
    // Logits only where a response token is predicted: position i-1 predicts token i.
    let inputs: Vec<Vec<u32>> = batch.iter().map(|e| e.ids[..e.ids.len() - 1].to_vec()).collect();
    let rows: Vec<Vec<usize>> = batch.iter().map(|e| (1..e.ids.len()).filter(|&i| e.mask[i]).map(|i| i - 1).collect()).collect();
    let targets: Vec<u32> = batch.iter().flat_map(|e| (1..e.ids.len()).filter(|&i| e.mask[i]).map(|i| e.ids[i])).collect();
    if targets.is_empty() {
        return Err(TrainError::Example("batch has no response tokens".into()));
    }
    let segs: Vec<SegmentInput<'_>> = inputs
        .iter()
        .zip(&rows)
        .map(|(t, r)| SegmentInput { tokens: t, adapter: Some(adapter), logits: Logits::Rows(r) })
        .collect();
    let mut caches: Vec<_> = batch.iter().map(|_| model.new_cache()).collect();
    let mut refs: Vec<_> = caches.iter_mut().collect();
    let parts = model.forward(&segs, &mut refs)?;
    let n = targets.len();
    let logits = Tensor::cat(&parts, 0)?;
    let logp = candle_nn::ops::log_softmax(&logits, candle_core::D::Minus1)?;
    let picked = logp.gather(&Tensor::from_vec(targets, (n, 1), &Device::Cpu)?, 1)?;
    Ok((picked.sum_all()?.neg()?, n))
}

/// Where training stands (saved with checkpoints).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainState {
    /// Optimiser steps done.
    pub step: usize,
    /// Current epoch.
    pub epoch: usize,
    /// Position in the epoch's shuffled order.
    pub cursor: usize,
}

/// What one optimiser step reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepReport {
    /// Step number (1-based).
    pub step: usize,
    /// Mean loss per response token.
    pub loss: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Gradient norm before clipping.
    pub grad_norm: f64,
    /// Tokens processed (forward+backward).
    pub tokens: usize,
}

/// A LoRA training run over a fixed example set.
pub struct Trainer<'a> {
    model: &'a Model,
    /// The weights being trained.
    pub lora: TrainableLora,
    opt: AdamW,
    cfg: TrainConfig,
    /// Where training stands.
    pub state: TrainState,
}

impl<'a> Trainer<'a> {
    /// Starts a run; `model` must be in differentiable mode.
    pub fn new(model: &'a Model, lora: TrainableLora, cfg: TrainConfig) -> Result<Self> {
        let opt = AdamW::new(&lora.vars())?;
        Ok(Self { model, lora, opt, cfg, state: TrainState { step: 0, epoch: 0, cursor: 0 } })
    }

    fn order(&self, n: usize, epoch: usize) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..n).collect();
        idx.shuffle(&mut StdRng::seed_from_u64(self.cfg.seed.wrapping_add(epoch as u64)));
        idx
    }

    fn next_batch<'e>(&mut self, data: &'e [Example]) -> Vec<&'e Example> {
        let mut out = Vec::with_capacity(self.cfg.batch_size);
        while out.len() < self.cfg.batch_size {
            if self.state.cursor >= data.len() {
                self.state.epoch += 1;
                self.state.cursor = 0;
            }
            let order = self.order(data.len(), self.state.epoch);
            out.push(&data[order[self.state.cursor]]);
            self.state.cursor += 1;
        }
        out
    }

    /// One optimiser step (gradient accumulation, clipping, AdamW).
    pub fn step(&mut self, data: &[Example]) -> Result<StepReport> {
        if data.is_empty() {
            return Err(TrainError::Example("no training examples".into()));
        }
        let vars = self.lora.vars();
        let micro: Vec<Vec<&Example>> = (0..self.cfg.gradient_accumulation_steps.max(1)).map(|_| self.next_batch(data)).collect();
        let total_targets: usize = micro.iter().flatten().map(|e| e.mask.iter().skip(1).filter(|m| **m).count()).sum();
        let adapter = Arc::new(self.lora.adapter()?.with_dropout(self.lora.dropout as f32));
        let mut sums: Vec<Option<Tensor>> = vec![None; vars.len()];
        let (mut loss_total, mut tokens) = (0f64, 0usize);
        for batch in &micro {
            let (loss_sum, _) = batch_loss_sum(self.model, &adapter, batch)?;
            loss_total += loss_sum.to_scalar::<f32>()? as f64;
            tokens += batch.iter().map(|e| e.ids.len()).sum::<usize>();
            let grads = (loss_sum / total_targets as f64)?.backward()?;
            for (s, v) in sums.iter_mut().zip(&vars) {
                if let Some(g) = grads.get(v.as_tensor()) {
                    *s = Some(match s.take() {
                        Some(acc) => (acc + g)?,
                        None => g.clone(),
                    });
                }
            }
        }
        let grads: Vec<Tensor> = sums
            .into_iter()
            .zip(&vars)
            .map(|(g, v)| g.map_or_else(|| v.as_tensor().zeros_like(), Ok))
            .collect::<candle_core::Result<_>>()?;
        let mut sq = 0f64;
        for g in &grads {
            sq += g.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
        }
        let grad_norm = sq.sqrt();
        let grads = if self.cfg.max_grad_norm > 0.0 && grad_norm > self.cfg.max_grad_norm {
            let f = self.cfg.max_grad_norm / (grad_norm + 1e-6);
            grads.iter().map(|g| g * f).collect::<candle_core::Result<Vec<_>>>()?
        } else {
            grads
        };
        let lr = lr_at(&self.cfg, self.state.step);
        self.opt.step(&vars, &grads, lr, self.cfg.weight_decay)?;
        self.state.step += 1;
        Ok(StepReport { step: self.state.step, loss: loss_total / total_targets.max(1) as f64, lr, grad_norm, tokens })
    }

    /// Mean loss per response token over `data` (no gradients kept).
    pub fn eval_loss(&self, data: &[Example]) -> Result<f64> {
        let adapter = Arc::new(self.lora.adapter()?);
        let (mut sum, mut n) = (0f64, 0usize);
        for chunk in data.chunks(self.cfg.batch_size.max(1)) {
            let refs: Vec<&Example> = chunk.iter().collect();
            let (s, k) = batch_loss_sum(self.model, &adapter, &refs)?;
            sum += s.to_scalar::<f32>()? as f64;
            n += k;
        }
        Ok(sum / n.max(1) as f64)
    }

    /// Saves LoRA weights, optimiser moments and the data position into `dir`.
    pub fn save_checkpoint(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(crate::io_err(dir))?;
        let tensors: HashMap<String, Tensor> =
            self.lora.named_vars().iter().map(|(n, v)| (n.clone(), v.as_tensor().detach())).collect();
        candle_core::safetensors::save(&tensors, dir.join("lora.safetensors"))?;
        self.opt.save(&dir.join("optimizer.safetensors"))?;
        let state = serde_json::to_string_pretty(&self.state).map_err(|e| TrainError::Example(e.to_string()))?;
        std::fs::write(dir.join("state.json"), state).map_err(crate::io_err(&dir.join("state.json")))?;
        Ok(())
    }

    /// Restores a checkpoint written by [`Trainer::save_checkpoint`].
    pub fn load_checkpoint(&mut self, dir: &Path) -> Result<()> {
        let tensors = candle_core::safetensors::load(dir.join("lora.safetensors"), &Device::Cpu)?;
        for (name, var) in self.lora.named_vars() {
            let t = tensors.get(name).ok_or_else(|| TrainError::Example(format!("checkpoint lacks `{name}`")))?;
            var.set(t)?;
        }
        self.opt.load(&dir.join("optimizer.safetensors"))?;
        let path = dir.join("state.json");
        let text = std::fs::read_to_string(&path).map_err(crate::io_err(&path))?;
        self.state = serde_json::from_str(&text).map_err(|e| TrainError::Example(format!("{}: {e}", path.display())))?;
        Ok(())
    }
}
