//! Random models and adapters of any shape, for benchmarks and tests (nothing downloaded).

use crate::config::Config;
use crate::error::Result;
use crate::lora::{AdapterConfig, LoraAdapter, Proj};
use crate::model::Model;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::collections::HashMap;
use std::path::Path;

/// Every weight of a model with its shape, named like the Hugging Face checkpoint.
pub fn weight_shapes(cfg: &Config) -> Vec<(String, Vec<usize>)> {
    let mut out = vec![("model.embed_tokens.weight".to_string(), vec![cfg.vocab_size, cfg.hidden_size])];
    for l in 0..cfg.num_layers {
        for p in Proj::ALL {
            let (i, o) = p.dims(cfg);
            let path = p.module_path(l);
            out.push((format!("{path}.weight"), vec![o, i]));
            let bias = match p {
                Proj::Q | Proj::K | Proj::V => cfg.qkv_bias,
                Proj::O => cfg.o_bias,
                _ => cfg.mlp_bias,
            };
            if bias {
                out.push((format!("{path}.bias"), vec![o]));
            }
        }
        for n in ["input_layernorm", "post_attention_layernorm"] {
            out.push((format!("model.layers.{l}.{n}.weight"), vec![cfg.hidden_size]));
        }
    }
    out.push(("model.norm.weight".to_string(), vec![cfg.hidden_size]));
    if !cfg.tie_word_embeddings {
        out.push(("lm_head.weight".to_string(), vec![cfg.vocab_size, cfg.hidden_size]));
    }
    out
}

fn uniform(rng: &mut StdRng, shape: &[usize], scale: f32) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let data: Vec<f32> = (0..n).map(|_| rng.random_range(-scale..scale)).collect();
    Ok(Tensor::from_vec(data, shape, &Device::Cpu)?)
}

/// Random weights for `cfg` (uniform, scaled by fan-in; norms at 1).
pub fn random_weights(cfg: &Config, seed: u64) -> Result<HashMap<String, Tensor>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut map = HashMap::new();
    for (name, shape) in weight_shapes(cfg) {
        let t = if name.ends_with("norm.weight") {
            Tensor::ones(shape.as_slice(), DType::F32, &Device::Cpu)?
        } else {
            let fan_in = *shape.last().unwrap_or(&1) as f32;
            uniform(&mut rng, &shape, (3.0 / fan_in).sqrt())?
        };
        map.insert(name, t);
    }
    Ok(map)
}

/// A model with random weights.
pub fn random_model(cfg: &Config, seed: u64) -> Result<Model> {
    let vb = VarBuilder::from_tensors(random_weights(cfg, seed)?, DType::F32, &Device::Cpu);
    Ok(Model::new(cfg, vb)?)
}

/// PEFT-named random LoRA tensors (`base_model.model.<module>.lora_{A,B}.weight`) for `targets`.
pub fn random_lora_tensors(cfg: &Config, r: usize, targets: &[Proj], seed: u64) -> Result<HashMap<String, Tensor>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut map = HashMap::new();
    for l in 0..cfg.num_layers {
        for &p in targets {
            let (i, o) = p.dims(cfg);
            let m = p.module_path(l);
            map.insert(format!("base_model.model.{m}.lora_A.weight"), uniform(&mut rng, &[r, i], (1.0 / i as f32).sqrt())?);
            map.insert(format!("base_model.model.{m}.lora_B.weight"), uniform(&mut rng, &[o, r], (1.0 / r as f32).sqrt())?);
        }
    }
    Ok(map)
}

/// A minimal LoRA adapter config targeting `targets` with rank `r` and alpha `2r`.
pub fn lora_config(r: usize, targets: &[Proj]) -> AdapterConfig {
    serde_json::from_value(serde_json::json!({
        "peft_type": "LORA",
        "r": r,
        "lora_alpha": 2 * r,
        "target_modules": targets.iter().map(|p| p.name()).collect::<Vec<_>>(),
    }))
    .unwrap_or_else(|_| unreachable!("static adapter config"))
}

/// A random LoRA adapter for `cfg`.
pub fn random_adapter(cfg: &Config, name: &str, r: usize, targets: &[Proj], seed: u64) -> Result<LoraAdapter> {
    let config = lora_config(r, targets);
    let tensors = random_lora_tensors(cfg, r, targets, seed)?;
    LoraAdapter::from_tensors(name, Path::new(name), Path::new("<random>"), config, tensors, cfg)
}
