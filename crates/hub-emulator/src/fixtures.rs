//! Test fixtures: tiny PEFT-layout LoRA adapter folders written from scratch.

use std::collections::BTreeMap;
use std::path::Path;

/// How to build a fixture adapter.
#[derive(Debug, Clone)]
pub struct AdapterSpec {
    /// `r` written into adapter_config.json.
    pub config_r: u64,
    /// Rank of the tensors actually written.
    pub tensor_r: u64,
    /// `base_model_name_or_path` (None: key absent).
    pub base_model: Option<String>,
    /// Number of layers (each gets q_proj and v_proj A/B pairs).
    pub layers: usize,
    /// Hidden size.
    pub hidden: u64,
}

impl Default for AdapterSpec {
    fn default() -> Self {
        AdapterSpec { config_r: 4, tensor_r: 4, base_model: Some("mistralai/Mistral-7B-Instruct-v0.1".into()), layers: 2, hidden: 16 }
    }
}

/// Serialises tensors (F32, deterministic contents) into safetensors bytes.
pub fn safetensors_bytes(tensors: &BTreeMap<String, Vec<u64>>) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let mut data = Vec::new();
    for (i, (name, shape)) in tensors.iter().enumerate() {
        let numel: u64 = shape.iter().product();
        let begin = data.len();
        for k in 0..numel {
            let v = ((k as f32) * 0.001 + i as f32).sin();
            data.extend_from_slice(&v.to_le_bytes());
        }
        header.insert(
            name.clone(),
            serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [begin, data.len()]}),
        );
    }
    header.insert("__metadata__".into(), serde_json::json!({"format": "pt"}));
    let mut h = serde_json::to_vec(&header).expect("json");
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&h);
    out.extend_from_slice(&data);
    out
}

/// The PEFT tensor names and shapes for a spec.
pub fn lora_tensors(spec: &AdapterSpec) -> BTreeMap<String, Vec<u64>> {
    let mut t = BTreeMap::new();
    for l in 0..spec.layers {
        for m in ["q_proj", "v_proj"] {
            let p = format!("base_model.model.model.layers.{l}.self_attn.{m}");
            t.insert(format!("{p}.lora_A.weight"), vec![spec.tensor_r, spec.hidden]);
            t.insert(format!("{p}.lora_B.weight"), vec![spec.hidden, spec.tensor_r]);
        }
    }
    t
}

/// Writes adapter_config.json and adapter_model.safetensors into `dir`.
pub fn write_adapter(dir: &Path, spec: &AdapterSpec) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut cfg = serde_json::json!({
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "r": spec.config_r,
        "lora_alpha": 16,
        "lora_dropout": 0.05,
        "target_modules": ["v_proj", "q_proj"],
        "bias": "none",
        "inference_mode": true,
    });
    if let Some(b) = &spec.base_model {
        cfg["base_model_name_or_path"] = b.clone().into();
    }
    std::fs::write(dir.join("adapter_config.json"), serde_json::to_vec_pretty(&cfg).expect("json"))?;
    std::fs::write(dir.join("adapter_model.safetensors"), safetensors_bytes(&lora_tensors(spec)))
}

/// A metrics report in the eval output format.
pub fn metrics_json(n: u64, em: u64) -> serde_json::Value {
    let r = |c: u64| serde_json::json!({"count": c, "rate": c as f64 / n as f64});
    serde_json::json!({"metrics": {
        "n_examples": n,
        "exact_match": r(em),
        "no_values_em": r(em + 1),
        "parse_success": r(n),
        "schema_adherence": r(n - 1),
    }})
}
