//! Malformed models and adapters give specific errors (file, tensor, expected/got), never panics.

mod common;

use common::{copy_dir, fixtures};
use std::path::Path;
use text2sql_engine::Engine;

fn llama() -> Engine {
    Engine::load(&fixtures().join("llama_gqa/model")).expect("fixture model loads")
}

fn adapter_dir() -> std::path::PathBuf {
    fixtures().join("llama_gqa/adapters/qv_r8")
}

fn load_err(engine: &Engine, dir: &Path) -> String {
    match engine.load_adapter(dir, "x") {
        Ok(_) => panic!("adapter in {} should not load", dir.display()),
        Err(e) => e.to_string(),
    }
}

fn edit_config(dir: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("adapter_config.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

fn rewrite_weights(dir: &Path, f: impl FnOnce(&mut std::collections::HashMap<String, candle_core::Tensor>)) {
    let path = dir.join("adapter_model.safetensors");
    let mut t = candle_core::safetensors::load(&path, &candle_core::Device::Cpu).unwrap();
    f(&mut t);
    candle_core::safetensors::save(&t, &path).unwrap();
}

#[test]
fn missing_lora_tensor_names_file_and_tensor() {
    let engine = llama();
    let dir = copy_dir(&adapter_dir());
    rewrite_weights(dir.path(), |t| {
        t.remove("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight").expect("fixture has it");
    });
    let err = load_err(&engine, dir.path());
    assert!(err.contains("adapter_model.safetensors"), "{err}");
    assert!(err.contains("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"), "{err}");
    assert!(err.contains("missing"), "{err}");
}

#[test]
fn pickle_only_adapter_is_refused_with_conversion_hint() {
    let engine = llama();
    let dir = copy_dir(&adapter_dir());
    std::fs::rename(dir.path().join("adapter_model.safetensors"), dir.path().join("adapter_model.bin")).unwrap();
    let err = load_err(&engine, dir.path());
    assert!(err.contains("adapter_model.bin") && err.contains("pickle") && err.contains("save_file"), "{err}");
}

#[test]
fn dora_is_refused() {
    let engine = llama();
    let dir = copy_dir(&adapter_dir());
    edit_config(dir.path(), |v| v["use_dora"] = true.into());
    let err = load_err(&engine, dir.path());
    assert!(err.contains("use_dora") && err.contains("DoRA"), "{err}");
}

#[test]
fn modules_to_save_is_refused() {
    let engine = llama();
    let dir = copy_dir(&adapter_dir());
    edit_config(dir.path(), |v| v["modules_to_save"] = serde_json::json!(["lm_head"]));
    let err = load_err(&engine, dir.path());
    assert!(err.contains("modules_to_save") && err.contains("lm_head"), "{err}");
}

#[test]
fn adapter_for_another_base_is_a_shape_error() {
    let engine = llama();
    // The Mistral fixture's q_proj has head_dim 32 × 4 heads = 128 outputs; Llama's has 64.
    let dir = fixtures().join("mistral_tied_bf16/adapters/qkvo_r4");
    let err = load_err(&engine, &dir);
    assert!(err.contains("expected shape") && err.contains("got"), "{err}");
    assert!(err.contains("lora_"), "{err}");
}

#[test]
fn unknown_target_module_is_named() {
    let engine = llama();
    let dir = copy_dir(&adapter_dir());
    edit_config(dir.path(), |v| v["target_modules"] = serde_json::json!(["c_attn", "q_proj"]));
    let err = load_err(&engine, dir.path());
    assert!(err.contains("\"c_attn\"") && err.contains("does not exist"), "{err}");
}

#[test]
fn config_and_weights_disagreeing_is_an_error() {
    let engine = llama();
    let dir = copy_dir(&adapter_dir());
    edit_config(dir.path(), |v| v["target_modules"] = serde_json::json!(["q_proj"]));
    let err = load_err(&engine, dir.path());
    assert!(err.contains("v_proj") && err.contains("does not target"), "{err}");
}

#[test]
fn truncated_adapter_weights_are_reported() {
    let engine = llama();
    let dir = copy_dir(&adapter_dir());
    let path = dir.path().join("adapter_model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 100]).unwrap();
    let err = load_err(&engine, dir.path());
    assert!(err.contains("truncated"), "{err}");
    std::fs::write(&path, b"").unwrap();
    let err = load_err(&engine, dir.path());
    assert!(err.contains("adapter_model.safetensors"), "{err}");
}

#[test]
fn malformed_adapter_config_names_the_file() {
    let engine = llama();
    let dir = copy_dir(&adapter_dir());
    std::fs::write(dir.path().join("adapter_config.json"), "{\"r\": ").unwrap();
    let err = load_err(&engine, dir.path());
    assert!(err.contains("adapter_config.json") && err.contains("invalid JSON"), "{err}");
    let empty = tempfile::tempdir().unwrap();
    let err = load_err(&engine, empty.path());
    assert!(err.contains("missing adapter_config.json"), "{err}");
}

#[test]
fn model_dir_errors() {
    let dir = copy_dir(&fixtures().join("llama_gqa/model"));
    let p = dir.path();
    std::fs::remove_file(p.join("model.safetensors")).unwrap();
    let err = Engine::load(p).unwrap_err().to_string();
    assert!(err.contains("no model.safetensors"), "{err}");

    let dir = copy_dir(&fixtures().join("llama_gqa/model"));
    let p = dir.path();
    let bytes = std::fs::read(p.join("model.safetensors")).unwrap();
    std::fs::write(p.join("model.safetensors"), &bytes[..bytes.len() / 2]).unwrap();
    let err = Engine::load(p).unwrap_err().to_string();
    assert!(err.contains("truncated"), "{err}");

    let dir = copy_dir(&fixtures().join("llama_gqa/model"));
    let p = dir.path();
    let cfg = std::fs::read_to_string(p.join("config.json")).unwrap();
    std::fs::write(p.join("config.json"), cfg.replace("LlamaForCausalLM", "GPT2LMHeadModel").replace("\"llama\"", "\"gpt2\"")).unwrap();
    let err = Engine::load(p).unwrap_err().to_string();
    assert!(err.contains("unsupported architecture") && err.contains("config.json"), "{err}");

    let err = Engine::load(Path::new("/nonexistent/model")).unwrap_err().to_string();
    assert!(err.contains("/nonexistent/model"), "{err}");
}

#[test]
fn missing_shard_is_reported() {
    let dir = copy_dir(&fixtures().join("mistral_tied_bf16/model"));
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("model.safetensors.index.json")).unwrap()).unwrap();
    let shard = index["weight_map"].as_object().unwrap().values().next().unwrap().as_str().unwrap().to_string();
    std::fs::remove_file(dir.path().join(&shard)).unwrap();
    let err = Engine::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains(&shard) && err.contains("does not exist"), "{err}");
}

#[test]
fn missing_base_weight_names_the_tensor() {
    let dir = copy_dir(&fixtures().join("llama_gqa/model"));
    let path = dir.path().join("model.safetensors");
    let mut t = candle_core::safetensors::load(&path, &candle_core::Device::Cpu).unwrap();
    t.remove("model.layers.2.mlp.down_proj.weight").unwrap();
    candle_core::safetensors::save(&t, &path).unwrap();
    let err = Engine::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("model.layers.2.mlp.down_proj.weight"), "{err}");
}
