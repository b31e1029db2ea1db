//! `text2sql train` end to end on the tiny fixture model: PEFT output that the engine loads,
//! metrics with a falling loss, and --resume continuing from the checkpoint.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn train(out: &std::path::Path, steps: usize, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_text2sql"))
        .args(["train", "--train_path"])
        .arg(root().join("tests/fixtures/val_mini.jsonl"))
        .arg("--val_path")
        .arg(root().join("tests/fixtures/val_mini.jsonl"))
        .arg("--base_model")
        .arg(root().join("../engine/tests/fixtures/llama_gqa/model"))
        .arg("--output_dir")
        .arg(out)
        .args(["--max_steps", &steps.to_string(), "--batch_size", "3", "--learning_rate", "1e-2", "--lora_r", "4"])
        .args(["--eval_steps", "2", "--save_steps", "2", "--max_seq_length", "256", "--target_modules", "q_proj,v_proj,down_proj"])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn train_writes_a_peft_adapter_the_engine_serves_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let out = train(dir.path(), 6, &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cfg: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("adapter_config.json")).unwrap()).unwrap();
    assert_eq!(cfg["peft_type"], "LORA");
    assert_eq!(cfg["base_model_name_or_path"], "HuggingFaceTB/SmolLM2-135M-Instruct");
    assert_eq!(cfg["target_modules"], serde_json::json!(["q_proj", "v_proj", "down_proj"]));
    let engine = text2sql_engine::Engine::load(&root().join("../engine/tests/fixtures/llama_gqa/model")).unwrap();
    let adapter = engine.load_adapter(dir.path(), "trained").unwrap();
    assert_eq!(adapter.targets().len(), 3 * engine.config().num_layers);
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("metrics.json")).unwrap()).unwrap();
    let losses: Vec<f64> = m["train_log"].as_array().unwrap().iter().map(|r| r["loss"].as_f64().unwrap()).collect();
    assert_eq!(losses.len(), 6);
    assert!(losses[5] < losses[0], "{losses:?}");
    assert_eq!(m["val_log"].as_array().unwrap().len(), 3);

    // Resume: a 6-step run stopped after 4 steps and continued equals the straight run.
    let dir2 = tempfile::tempdir().unwrap();
    assert!(train(dir2.path(), 6, &["--stop_after_steps", "4"]).status.success());
    let out = train(dir2.path(), 6, &["--resume"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("resumed at step 4"));
    let a = candle_core::safetensors::load(dir.path().join("adapter_model.safetensors"), &candle_core::Device::Cpu).unwrap();
    let b = candle_core::safetensors::load(dir2.path().join("adapter_model.safetensors"), &candle_core::Device::Cpu).unwrap();
    assert_eq!(a.len(), b.len());
    for (k, t) in &a {
        let d = (t - &b[k]).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(d < 1e-6, "{k} differs by {d}");
    }
}

#[test]
fn bad_flags_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = train(dir.path(), 1, &["--lora_dropout", "1.5"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--lora_dropout"));
    let out = Command::new(env!("CARGO_BIN_EXE_text2sql"))
        .args(["train", "--max_seq_length", "100000", "--train_path"])
        .arg(root().join("tests/fixtures/val_mini.jsonl"))
        .arg("--base_model")
        .arg(root().join("../engine/tests/fixtures/llama_gqa/model"))
        .arg("--output_dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--max_seq_length 100000 exceeds the context"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(env!("CARGO_BIN_EXE_text2sql")).args(["train", "--train_path", "/nonexistent.jsonl", "--base_model"]).arg(root().join("../engine/tests/fixtures/llama_gqa/model")).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.jsonl"));
}
