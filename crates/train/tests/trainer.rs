//! The training loop: schedule, example encoding, loss going down over steps, and a run
//! interrupted by a checkpoint that resumes to exactly the uninterrupted result.

use std::path::PathBuf;
use text2sql_engine::lora::Proj;
use text2sql_engine::random::lora_config;
use text2sql_engine::Engine;
use text2sql_train::trainer::{encode_example, lr_at, Example, TrainConfig, Trainer};
use text2sql_train::TrainableLora;

fn engine() -> Engine {
    Engine::load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../engine/tests/fixtures/llama_gqa/model")).unwrap()
}

fn examples(e: &Engine) -> Vec<Example> {
    let pairs = [
        ("### Question:\nHow many users?", "SELECT COUNT(*) FROM users;"),
        ("### Question:\nList user names.", "SELECT name FROM users;"),
        ("### Question:\nOldest user?", "SELECT name FROM users ORDER BY age DESC LIMIT 1;"),
        ("### Question:\nUsers in Paris?", "SELECT * FROM users WHERE city = 'Paris';"),
    ];
    pairs.iter().map(|(p, c)| encode_example(&e.tokenizer, 1, p, &format!("\n{c}"), 96).unwrap()).collect()
}

fn config(total: usize) -> TrainConfig {
    TrainConfig {
        learning_rate: 1e-2,
        warmup_steps: 2,
        total_steps: total,
        batch_size: 2,
        gradient_accumulation_steps: 2,
        max_grad_norm: 1.0,
        weight_decay: 0.01,
        seed: 5,
    }
}

#[test]
fn schedule_warms_up_then_decays_to_zero() {
    let c = config(10);
    assert!((lr_at(&c, 0) - 5e-3).abs() < 1e-12);
    assert!((lr_at(&c, 1) - 1e-2).abs() < 1e-12);
    assert!((lr_at(&c, 2) - 1e-2).abs() < 1e-12);
    assert!(lr_at(&c, 6) < lr_at(&c, 4));
    assert!(lr_at(&c, 10).abs() < 1e-12);
}

#[test]
fn examples_mask_only_the_response_and_eos() {
    let e = engine();
    let ex = encode_example(&e.tokenizer, 1, "### Question:\nhi", "\nSELECT 1;", 64).unwrap();
    let prompt = e.encode_prompt("### Question:\nhi").unwrap();
    assert_eq!(&ex.ids[..prompt.len()], &prompt[..]);
    assert_eq!(*ex.ids.last().unwrap(), 1);
    assert!(ex.mask[..prompt.len()].iter().all(|m| !m));
    assert!(ex.mask[prompt.len()..].iter().all(|m| *m));
    // Long prompts lose their start, never the response.
    let short = encode_example(&e.tokenizer, 1, &"word ".repeat(50), "\nSELECT 1;", 16).unwrap();
    assert_eq!(short.ids.len(), 16);
    assert_eq!(*short.ids.last().unwrap(), 1);
    assert!(encode_example(&e.tokenizer, 1, "x", &"SELECT 1 ".repeat(40), 16).is_err());
}

fn new_trainer<'a>(model: &'a text2sql_engine::Model, cfg: &text2sql_engine::Config, total: usize) -> Trainer<'a> {
    let targets = Proj::ALL;
    let lora = TrainableLora::new(cfg, lora_config(4, &targets), &targets, 11).unwrap();
    Trainer::new(model, lora, config(total)).unwrap()
}

#[test]
fn loss_falls_and_a_resumed_run_equals_an_uninterrupted_one() {
    let e = engine();
    let mut model = e.model.clone();
    model.set_differentiable(true);
    let data = examples(&e);

    let mut straight = new_trainer(&model, e.config(), 8);
    let before = straight.eval_loss(&data).unwrap();
    let mut reports = Vec::new();
    for _ in 0..8 {
        reports.push(straight.step(&data).unwrap());
    }
    let after = straight.eval_loss(&data).unwrap();
    assert!(after < 0.7 * before, "eval loss {before} → {after}");
    assert!(reports.iter().all(|r| r.grad_norm.is_finite() && r.tokens > 0));

    let dir = tempfile::tempdir().unwrap();
    let mut first = new_trainer(&model, e.config(), 8);
    for _ in 0..3 {
        first.step(&data).unwrap();
    }
    first.save_checkpoint(dir.path()).unwrap();
    drop(first);
    let mut resumed = new_trainer(&model, e.config(), 8);
    resumed.load_checkpoint(dir.path()).unwrap();
    assert_eq!(resumed.state.step, 3);
    for _ in 3..8 {
        resumed.step(&data).unwrap();
    }
    for ((name, a), (_, b)) in straight.lora.named_vars().iter().zip(resumed.lora.named_vars()) {
        let diff = (a.as_tensor() - b.as_tensor()).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(diff < 1e-6, "{name} differs by {diff} after resume");
    }
}

fn upper_layer_trainer<'a>(model: &'a text2sql_engine::Model, cfg: &text2sql_engine::Config) -> Trainer<'a> {
    let targets = Proj::ALL;
    let mut adapter_config = lora_config(4, &targets);
    adapter_config.layers_to_transform = Some(text2sql_engine::lora::LayerIndices::Many(vec![2]));
    let lora = TrainableLora::new(cfg, adapter_config, &targets, 11).unwrap();
    assert_eq!(lora.first_layer(), 2);
    assert!(lora.named_vars().iter().all(|(n, _)| n.contains(".layers.2.")), "LoRA only on layer 2");
    Trainer::new(model, lora, config(4)).unwrap()
}

#[test]
fn upper_layer_lora_trains_the_same_with_frozen_fast_lower_layers() {
    // Backpropagation stops at the lowest LoRA layer, so the layers below may run the fused
    // inference kernels: the run must equal one with differentiable ops everywhere.
    let e = engine();
    let data = examples(&e);
    let mut slow = e.model.clone();
    slow.set_differentiable(true);
    let mut fast = e.model.clone();
    fast.set_differentiable_from(2);
    let mut a = upper_layer_trainer(&slow, e.config());
    let mut b = upper_layer_trainer(&fast, e.config());
    for _ in 0..4 {
        let (ra, rb) = (a.step(&data).unwrap(), b.step(&data).unwrap());
        assert!((ra.loss - rb.loss).abs() < 1e-4, "loss {} vs {}", ra.loss, rb.loss);
        assert!((ra.grad_norm - rb.grad_norm).abs() < 1e-3 * ra.grad_norm.max(1.0), "grad norm {} vs {}", ra.grad_norm, rb.grad_norm);
    }
    for ((name, x), (_, y)) in a.lora.named_vars().iter().zip(b.lora.named_vars()) {
        let diff = (x.as_tensor() - y.as_tensor()).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(diff < 1e-4, "{name} differs by {diff}");
    }
    // The saved adapter says where it applies, and the engine loads it back onto layer 2 only.
    let dir = tempfile::tempdir().unwrap();
    b.lora.save_peft(dir.path(), "tiny", &Proj::ALL.map(|p| p.name())).unwrap();
    let cfg: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("adapter_config.json")).unwrap()).unwrap();
    assert_eq!(cfg["layers_to_transform"], serde_json::json!([2]));
    e.load_adapter(dir.path(), "upper").unwrap();
}

#[test]
fn lora_dropout_randomises_training_steps_only() {
    let e = engine();
    let mut model = e.model.clone();
    model.set_differentiable(true);
    let data = examples(&e);
    let mut plain = new_trainer(&model, e.config(), 4);
    let mut dropped = new_trainer(&model, e.config(), 4);
    dropped.lora.dropout = 0.5;
    // B starts at zero, so the first step's loss is the base's either way; take one step each.
    plain.step(&data).unwrap();
    dropped.step(&data).unwrap();
    let (ra, rb) = (plain.step(&data).unwrap(), dropped.step(&data).unwrap());
    assert!((ra.grad_norm - rb.grad_norm).abs() > 1e-6, "dropout changed nothing");
    // Evaluation never drops: the same weights give the same loss twice.
    assert_eq!(dropped.eval_loss(&data).unwrap(), dropped.eval_loss(&data).unwrap());
    let dir = tempfile::tempdir().unwrap();
    dropped.lora.save_peft(dir.path(), "tiny", &Proj::ALL.map(|p| p.name())).unwrap();
    assert!(std::fs::read_to_string(dir.path().join("adapter_config.json")).unwrap().contains("\"lora_dropout\": 0.5"));
}
