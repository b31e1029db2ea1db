//! LoRA training on candle autograd: the base model stays frozen (plain tensors), the LoRA
//! matrices are `Var`s named exactly as PEFT names them, and the forward pass is the engine's
//! own model in differentiable mode — one model implementation for inference and training.
//!
//! This crate holds the core (trainable adapter, masked next-token loss, AdamW step, PEFT
//! save); the `text2sql train` command, data loading, schedules and checkpoints build on it.
#![deny(missing_docs)]

pub mod trainer;

use candle_core::{DType, Device, Tensor, Var};
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::collections::HashMap;
use std::path::Path;
use text2sql_engine::lora::{AdapterConfig, LoraAdapter, Proj};
use text2sql_engine::model::Model;
use text2sql_engine::Config;

/// Training errors.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// The engine refused the adapter or model.
    #[error(transparent)]
    Engine(#[from] text2sql_engine::Error),
    /// Writing the adapter failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A training example cannot be used.
    #[error("{0}")]
    Example(String),
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, TrainError>;

/// Maps an I/O error to [`TrainError::Io`] naming `path`.
pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError {
    let path = path.display().to_string();
    move |source| TrainError::Io { path, source }
}

/// LoRA matrices being trained, keyed by their PEFT tensor names
/// (`base_model.model.<module>.lora_{A,B}.weight`).
pub struct TrainableLora {
    /// The adapter configuration saved with the weights.
    pub config: AdapterConfig,
    vars: Vec<(String, Var)>,
    cfg: Config,
    /// PEFT's `lora_dropout`, applied during training steps only.
    pub dropout: f64,
}

impl TrainableLora {
    /// New LoRA weights for `targets` on every layer (or the config's `layers_to_transform`): A uniform in ±1/√in (PEFT's Kaiming-uniform
    /// bound with a=√5), B zero, so training starts from the base model exactly.
    pub fn new(cfg: &Config, config: AdapterConfig, targets: &[Proj], seed: u64) -> Result<Self> {
        let mut rng = StdRng::seed_from_u64(seed);
        let r = config.r;
        let mut vars = Vec::new();
        for l in Self::layers_of(&config, cfg.num_layers) {
            for &p in targets {
                let (i, o) = p.dims(cfg);
                let m = p.module_path(l);
                let bound = 1.0 / (i as f32).sqrt();
                let a: Vec<f32> = (0..r * i).map(|_| rng.random_range(-bound..bound)).collect();
                let a = Var::from_tensor(&Tensor::from_vec(a, (r, i), &Device::Cpu)?)?;
                let b = Var::zeros((o, r), DType::F32, &Device::Cpu)?;
                vars.push((format!("base_model.model.{m}.lora_A.weight"), a));
                vars.push((format!("base_model.model.{m}.lora_B.weight"), b));
            }
        }
        Ok(Self { config, vars, cfg: cfg.clone(), dropout: 0.0 })
    }

    /// Replaces the weights with those of the PEFT adapter in `dir` (warm start: fine-tune a
    /// shipped or published adapter further). Its `adapter_model.safetensors` must hold every
    /// tensor of this run with the same shape: same `r`, target modules and layers.
    pub fn load_peft_weights(&self, dir: &Path) -> Result<()> {
        let path = dir.join("adapter_model.safetensors");
        if !path.is_file() {
            return Err(TrainError::Example(format!("{}: no adapter_model.safetensors", dir.display())));
        }
        // The scale alpha/r multiplies the loaded weights: another r or alpha would start from
        // another function than the adapter's, even where the shapes allowed it.
        let config_path = dir.join("adapter_config.json");
        if let Ok(text) = std::fs::read_to_string(&config_path) {
            let theirs: AdapterConfig = serde_json::from_str(&text)
                .map_err(|e| TrainError::Example(format!("{}: {e}", config_path.display())))?;
            let mismatch = |field: &str, theirs: String, ours: String| {
                TrainError::Example(format!(
                    "{}: {field} is {theirs}, this run uses {ours} (pass --{} {theirs})",
                    config_path.display(),
                    if field == "r" { "lora_r" } else { field }
                ))
            };
            if theirs.r != self.config.r {
                return Err(mismatch("r", theirs.r.to_string(), self.config.r.to_string()));
            }
            if theirs.lora_alpha != self.config.lora_alpha {
                return Err(mismatch("lora_alpha", theirs.lora_alpha.to_string(), self.config.lora_alpha.to_string()));
            }
        }
        // A truncated or malformed file gets the engine's clear error, as when serving it.
        text2sql_engine::weights::check_safetensors_header(&path)?;
        let tensors = candle_core::safetensors::load(&path, &Device::Cpu)?;
        for (name, var) in &self.vars {
            let t = tensors.get(name).ok_or_else(|| {
                TrainError::Example(format!("{}: lacks `{name}` (train with the adapter's target modules and layers)", path.display()))
            })?;
            if t.dims() != var.dims() {
                return Err(TrainError::Example(format!(
                    "{}: `{name}` has shape {:?}, this run needs {:?} (use the adapter's lora_r)",
                    path.display(),
                    t.dims(),
                    var.dims()
                )));
            }
            var.set(&t.to_dtype(DType::F32)?)?;
        }
        Ok(())
    }

    /// The layers that carry LoRA weights: `layers_to_transform`, or all of them.
    pub fn layers_of(config: &AdapterConfig, num_layers: usize) -> Vec<usize> {
        config.layer_filter().unwrap_or_else(|| (0..num_layers).collect())
    }

    /// The lowest layer with LoRA weights (backpropagation stops there).
    pub fn first_layer(&self) -> usize {
        Self::layers_of(&self.config, self.cfg.num_layers).into_iter().min().unwrap_or(0)
    }

    /// The trainable variables (for the optimiser).
    pub fn vars(&self) -> Vec<Var> {
        self.vars.iter().map(|(_, v)| v.clone()).collect()
    }

    /// Named variables, PEFT names.
    pub fn named_vars(&self) -> &[(String, Var)] {
        &self.vars
    }

    /// An adapter whose weights are connected to the variables in the autograd graph.
    pub fn adapter(&self) -> Result<LoraAdapter> {
        let tensors: HashMap<String, Tensor> = self.vars.iter().map(|(n, v)| (n.clone(), v.as_tensor().clone())).collect();
        Ok(LoraAdapter::from_tensors("training", Path::new("<training>"), Path::new("<training>"), self.config.clone(), tensors, &self.cfg)?)
    }

    /// Writes a PEFT adapter directory: `adapter_config.json` + `adapter_model.safetensors`.
    pub fn save_peft(&self, dir: &Path, base_model: &str, target_names: &[&str]) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let tensors: HashMap<String, Tensor> =
            self.vars.iter().map(|(n, v)| (n.clone(), v.as_tensor().detach())).collect();
        candle_core::safetensors::save(&tensors, dir.join("adapter_model.safetensors"))?;
        let mut config = serde_json::json!({
            "peft_type": "LORA",
            "task_type": "CAUSAL_LM",
            "base_model_name_or_path": base_model,
            "r": self.config.r,
            "lora_alpha": self.config.lora_alpha,
            "lora_dropout": self.dropout,
            "use_rslora": self.config.use_rslora,
            "target_modules": target_names,
            "bias": "none",
            "fan_in_fan_out": false,
            "inference_mode": true,
        });
        if self.config.layers_to_transform.is_some() {
            config["layers_to_transform"] = serde_json::json!(Self::layers_of(&self.config, self.cfg.num_layers));
        }
        let path = dir.join("adapter_config.json");
        let text = serde_json::to_string_pretty(&config).map_err(|e| TrainError::Example(e.to_string()))?;
        std::fs::write(&path, text).map_err(io_err(&path))?;
        Ok(())
    }
}

/// Mean next-token cross-entropy over the positions whose *target* token is marked in
/// `loss_mask` (`loss_mask[i]` = token `i` is part of the response). The model must be in
/// differentiable mode for gradients to reach the adapter.
pub fn masked_loss(model: &Model, adapter: &std::sync::Arc<LoraAdapter>, ids: &[u32], loss_mask: &[bool]) -> Result<Tensor> {
    if ids.len() < 2 || ids.len() != loss_mask.len() {
        return Err(TrainError::Example(format!("need ≥ 2 tokens and one mask flag per token ({} / {})", ids.len(), loss_mask.len())));
    }
    let example = trainer::Example { ids: ids.to_vec(), mask: loss_mask.to_vec() };
    let (sum, n) = trainer::batch_loss_sum(model, adapter, &[&example])?;
    Ok((sum / n as f64)?)
}
