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

impl Example {
    /// Positions of the tokens the model is trained to predict (never 0: nothing predicts it).
    fn targets(&self) -> impl Iterator<Item = usize> + '_ {
        (1..self.ids.len()).filter(|&i| self.mask[i])
    }
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
    /// Keep examples that share a prompt prefix (one schema, several questions) together in
    /// the data order, shuffled as groups, so each batch computes that prefix once.
    pub group_by_prefix: bool,
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

/// A shared prompt prefix shorter than this is not worth a segment of its own.
const MIN_SHARED_TOKENS: usize = 16;

/// Length of the prompt (the index of the first response token).
fn prompt_len(e: &Example) -> usize {
    e.mask.iter().position(|&m| m).unwrap_or(e.ids.len())
}

fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Whether `b` shares enough of `root`'s prompt to be computed on top of it: at least
/// [`MIN_SHARED_TOKENS`] and half of the root's prompt (the schema, not just `CREATE TABLE`).
fn shares_prompt(root: &Example, b: &Example, common: usize) -> bool {
    common >= MIN_SHARED_TOKENS && common * 2 >= prompt_len(root) && common * 2 >= prompt_len(b)
}

/// Splits a batch into runs of consecutive examples that share a prompt prefix, each with the
/// number of leading tokens computed once for the run (0 for an example on its own). The
/// shared part always ends before the last prompt token, so every loss position stays in the
/// examples' own segments.
pub fn shared_runs(batch: &[&Example]) -> Vec<(std::ops::Range<usize>, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < batch.len() {
        let root = batch[i];
        let mut shared = prompt_len(root).saturating_sub(1);
        let mut j = i + 1;
        while j < batch.len() {
            let common = common_prefix(&root.ids, &batch[j].ids);
            if !shares_prompt(root, batch[j], common) {
                break;
            }
            shared = shared.min(common).min(prompt_len(batch[j]).saturating_sub(1));
            j += 1;
        }
        runs.push((i..j, if j - i > 1 && shared >= MIN_SHARED_TOKENS { shared } else { 0 }));
        i = j;
    }
    runs
}

/// Sum of per-token cross-entropies over the masked positions of a ragged batch (one forward
/// pass), and the number of those tokens. Consecutive examples with a common prompt prefix
/// compute it once: a prefix segment, and each example as a fork of it (same loss, same
/// gradients, fewer tokens through the model).
pub fn batch_loss_sum(model: &Model, adapter: &Arc<text2sql_engine::LoraAdapter>, batch: &[&Example]) -> Result<(Tensor, usize)> {
    Ok(batch_loss(model, adapter, batch)?.0)
}

/// [`batch_loss_sum`], plus the number of tokens the forward pass computed.
fn batch_loss(model: &Model, adapter: &Arc<text2sql_engine::LoraAdapter>, batch: &[&Example]) -> Result<((Tensor, usize), usize)> {
    // Per segment: tokens, logit rows (position r of the segment predicts the next token), parent.
    let mut segs: Vec<(&[u32], Vec<usize>, Option<usize>)> = Vec::new();
    for (run, shared) in shared_runs(batch) {
        let parent = (shared > 0).then(|| {
            segs.push((&batch[run.start].ids[..shared], Vec::new(), None));
            segs.len() - 1
        });
        for e in &batch[run] {
            // Logits only where a response token is predicted: position i-1 predicts token i.
            let rows = e.targets().map(|i| i - 1 - shared).collect();
            segs.push((&e.ids[shared..e.ids.len() - 1], rows, parent));
        }
    }
    let targets: Vec<u32> = batch.iter().flat_map(|e| e.targets().map(|i| e.ids[i])).collect();
    if targets.is_empty() {
        return Err(TrainError::Example("batch has no response tokens".into()));
    }
    let inputs: Vec<SegmentInput<'_>> = segs
        .iter()
        .map(|(t, r, parent)| SegmentInput { tokens: t, adapter: Some(adapter), logits: Logits::Rows(r), fork_of: *parent })
        .collect();
    let computed = segs.iter().map(|s| s.0.len()).sum();
    let mut caches: Vec<_> = segs.iter().map(|_| model.new_cache()).collect();
    let mut refs: Vec<_> = caches.iter_mut().collect();
    let parts = model.forward(&inputs, &mut refs)?;
    let parts: Vec<Tensor> = parts.into_iter().zip(&segs).filter(|(_, s)| !s.1.is_empty()).map(|(p, _)| p).collect();
    let n = targets.len();
    let logits = Tensor::cat(&parts, 0)?;
    let logp = candle_nn::ops::log_softmax(&logits, candle_core::D::Minus1)?;
    let picked = logp.gather(&Tensor::from_vec(targets, (n, 1), &Device::Cpu)?, 1)?;
    Ok(((picked.sum_all()?.neg()?, n), computed))
}

/// Groups of example indices whose prompts share a prefix (as [`shared_runs`] judges it), at
/// most `max` each: neighbours in the lexicographic order of their token ids.
fn prefix_groups(data: &[Example], max: usize) -> Vec<Vec<usize>> {
    let mut idx: Vec<usize> = (0..data.len()).collect();
    idx.sort_by(|&a, &b| data[a].ids.cmp(&data[b].ids).then(a.cmp(&b)));
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for i in idx {
        match groups.last_mut() {
            Some(g) if g.len() < max && {
                let root = &data[g[0]];
                shares_prompt(root, &data[i], common_prefix(&root.ids, &data[i].ids))
            } =>
            {
                g.push(i)
            }
            _ => groups.push(vec![i]),
        }
    }
    groups
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
    /// Tokens of the step's examples (forward+backward).
    pub tokens: usize,
    /// Tokens the model computed: fewer than `tokens` when examples shared a prompt prefix.
    pub computed_tokens: usize,
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
    /// The visiting order of one epoch (computed once per epoch).
    order: Option<(usize, Vec<usize>)>,
}

impl<'a> Trainer<'a> {
    /// Starts a run; `model` must be in differentiable mode.
    pub fn new(model: &'a Model, lora: TrainableLora, cfg: TrainConfig) -> Result<Self> {
        let opt = AdamW::new(&lora.vars())?;
        Ok(Self { model, lora, opt, cfg, state: TrainState { step: 0, epoch: 0, cursor: 0 }, order: None })
    }

    /// The example visited at `cursor` of `epoch`: a seeded shuffle of the examples, or of the
    /// prefix groups (members kept together) with `group_by_prefix`.
    fn example_at(&mut self, data: &[Example], epoch: usize, cursor: usize) -> usize {
        if self.order.as_ref().is_none_or(|(e, o)| *e != epoch || o.len() != data.len()) {
            let mut rng = StdRng::seed_from_u64(self.cfg.seed.wrapping_add(epoch as u64));
            let order = if self.cfg.group_by_prefix {
                let groups = prefix_groups(data, self.cfg.batch_size.max(1));
                let mut picks: Vec<usize> = (0..groups.len()).collect();
                picks.shuffle(&mut rng);
                picks.into_iter().flat_map(|g| groups[g].iter().copied()).collect()
            } else {
                let mut idx: Vec<usize> = (0..data.len()).collect();
                idx.shuffle(&mut rng);
                idx
            };
            self.order = Some((epoch, order));
        }
        self.order.as_ref().map_or(cursor, |(_, o)| o[cursor])
    }

    fn next_batch<'e>(&mut self, data: &'e [Example]) -> Vec<&'e Example> {
        let mut out = Vec::with_capacity(self.cfg.batch_size);
        while out.len() < self.cfg.batch_size {
            if self.state.cursor >= data.len() {
                self.state.epoch += 1;
                self.state.cursor = 0;
            }
            let i = self.example_at(data, self.state.epoch, self.state.cursor);
            out.push(&data[i]);
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
        let total_targets: usize = micro.iter().flatten().map(|e| e.targets().count()).sum();
        let adapter = Arc::new(self.lora.adapter()?.with_dropout(self.lora.dropout as f32));
        let mut sums: Vec<Option<Tensor>> = vec![None; vars.len()];
        let (mut loss_total, mut tokens, mut computed_tokens) = (0f64, 0usize, 0usize);
        for batch in &micro {
            let ((loss_sum, _), computed) = batch_loss(self.model, &adapter, batch)?;
            loss_total += loss_sum.to_scalar::<f32>()? as f64;
            tokens += batch.iter().map(|e| e.ids.len()).sum::<usize>();
            computed_tokens += computed;
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
        Ok(StepReport { step: self.state.step, loss: loss_total / total_targets.max(1) as f64, lr, grad_norm, tokens, computed_tokens })
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
