//! The training loop: schedule, example encoding, loss going down over steps, and a run
//! interrupted by a checkpoint that resumes to exactly the uninterrupted result.

use std::path::PathBuf;
use text2sql_engine::lora::Proj;
use text2sql_engine::random::lora_config;
use text2sql_engine::Engine;
use text2sql_train::trainer::{batch_loss_sum, encode_example, lr_at, shared_runs, Example, TrainConfig, Trainer};
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
        group_by_prefix: false,
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

/// Three questions on one schema, two on another, and one on a third, in mixed order.
fn schema_examples(e: &Engine) -> Vec<Example> {
    let shop = "### Schema:\nCREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, city TEXT, age INTEGER);\nCREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id), total REAL);\n\n### Question:\n";
    let stock = "### Schema:\nCREATE TABLE items (sku TEXT PRIMARY KEY, title TEXT, price REAL, stock INTEGER);\n\n### Question:\n";
    let pairs = [
        (shop, "How many users?", "SELECT COUNT(*) FROM users;"),
        (stock, "Cheapest item?", "SELECT title FROM items ORDER BY price LIMIT 1;"),
        (shop, "Users in Paris?", "SELECT name FROM users WHERE city = 'Paris';"),
        ("### Question:\n", "Hi?", "SELECT 1;"),
        (shop, "Total of all orders?", "SELECT SUM(total) FROM orders;"),
        (stock, "Items out of stock?", "SELECT title FROM items WHERE stock = 0;"),
    ];
    pairs.iter().map(|(s, q, c)| encode_example(&e.tokenizer, 1, &format!("{s}{q}"), &format!("\n{c}"), 200).unwrap()).collect()
}

/// The fixture model in differentiable mode, the schema examples, and a fresh r=4 LoRA.
fn schema_setup(e: &Engine) -> (text2sql_engine::Model, Vec<Example>, TrainableLora) {
    let mut model = e.model.clone();
    model.set_differentiable(true);
    let lora = TrainableLora::new(e.config(), lora_config(4, &Proj::ALL), &Proj::ALL, 11).unwrap();
    (model, schema_examples(e), lora)
}

fn loss_and_grads(model: &text2sql_engine::Model, lora: &TrainableLora, batch: &[&Example]) -> (f32, Vec<Vec<f32>>) {
    let adapter = std::sync::Arc::new(lora.adapter().unwrap());
    let (loss, _) = batch_loss_sum(model, &adapter, batch).unwrap();
    let grads = loss.backward().unwrap();
    let g = lora.vars().iter().map(|v| grads.get(v.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap()).collect();
    (loss.to_scalar::<f32>().unwrap(), g)
}

#[test]
fn examples_sharing_a_prompt_prefix_give_the_loss_and_gradients_of_separate_ones() {
    let e = engine();
    let (model, data, lora) = schema_setup(&e);
    // B is zero at init, so train one step first: every LoRA factor then carries gradient.
    let mut warm = Trainer::new(&model, lora, config(2)).unwrap();
    warm.step(&data).unwrap();
    let lora = warm.lora;
    let batch = [&data[0], &data[2], &data[4], &data[1], &data[5], &data[3]];
    let runs = shared_runs(&batch);
    let shop_prompt = data[0].mask.iter().position(|&m| m).unwrap();
    assert_eq!(runs.len(), 3, "{runs:?}");
    assert_eq!(runs[0].0, 0..3);
    assert!(runs[0].1 >= 16 && runs[0].1 < shop_prompt, "shared {} of a {shop_prompt}-token prompt", runs[0].1);
    assert_eq!(runs[1].0, 3..5);
    assert_eq!(runs[2], (5..6, 0));
    let (shared_loss, shared_grads) = loss_and_grads(&model, &lora, &batch);
    let mut alone_loss = 0f32;
    let mut alone_grads: Vec<Vec<f32>> = Vec::new();
    for ex in batch {
        let (l, g) = loss_and_grads(&model, &lora, &[ex]);
        alone_loss += l;
        if alone_grads.is_empty() {
            alone_grads = g;
        } else {
            alone_grads.iter_mut().zip(g).for_each(|(acc, g)| acc.iter_mut().zip(g).for_each(|(a, b)| *a += b));
        }
    }
    assert!((shared_loss - alone_loss).abs() < 1e-4 * alone_loss.abs().max(1.0), "loss {shared_loss} vs {alone_loss}");
    let scale = alone_grads.iter().flatten().fold(0f32, |m, g| m.max(g.abs()));
    let diff = shared_grads.iter().flatten().zip(alone_grads.iter().flatten()).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(scale > 0.0 && diff < 1e-4 * scale, "gradients differ by {diff} (largest {scale})");
}

#[test]
fn grouped_order_keeps_a_schema_together_and_visits_every_example_once_per_epoch() {
    let e = engine();
    let (model, data, _) = schema_setup(&e);
    let grouped = |seed: u64| {
        let lora = schema_setup(&e).2;
        Trainer::new(&model, lora, TrainConfig { batch_size: 3, gradient_accumulation_steps: 1, seed, group_by_prefix: true, ..config(4) })
            .unwrap()
    };
    let mut t = grouped(5);
    let (mut tokens, mut computed) = (0, 0);
    for _ in 0..2 {
        let r = t.step(&data).unwrap();
        tokens += r.tokens;
        computed += r.computed_tokens;
    }
    // Two steps of 3 = one epoch: each example once; the questions on one schema come
    // together (however the groups fall into batches, two of them meet), so a shared schema
    // was computed once.
    assert_eq!((t.state.epoch, t.state.cursor), (0, 6));
    assert!(computed < tokens, "computed {computed} of {tokens} tokens");
    let full: usize = data.iter().map(|x| x.ids.len()).sum();
    assert_eq!(tokens, full);
    // Deterministic by seed, and a resumed grouped run equals an uninterrupted one.
    let dir = tempfile::tempdir().unwrap();
    let mut a = grouped(9);
    let mut b = grouped(9);
    a.step(&data).unwrap();
    a.save_checkpoint(dir.path()).unwrap();
    b.load_checkpoint(dir.path()).unwrap();
    for _ in 0..3 {
        let (ra, rb) = (a.step(&data).unwrap(), b.step(&data).unwrap());
        assert_eq!((ra.tokens, ra.computed_tokens), (rb.tokens, rb.computed_tokens));
        assert!((ra.loss - rb.loss).abs() < 1e-6);
    }
}
