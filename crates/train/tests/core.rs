//! Training core on the tiny fixture model: the differentiable forward equals the inference
//! forward, autograd gradients match finite differences, loss goes down, and the saved PEFT
//! adapter loads back into the engine with the same outputs.

use candle_nn::Optimizer;
use std::path::PathBuf;
use std::sync::Arc;
use text2sql_engine::lora::Proj;
use text2sql_engine::random::lora_config;
use text2sql_engine::{Engine, GenerateRequest};
use text2sql_train::{masked_loss, TrainableLora};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../engine/tests/fixtures/llama_gqa")
}

fn setup() -> (Engine, Vec<u32>, Vec<bool>) {
    let engine = Engine::load(&fixture().join("model")).expect("fixture model");
    let prompt = engine.encode_prompt("### Question:\nHow many users?\n\n").unwrap();
    let answer = engine.tokenizer.encode("SELECT COUNT(*) FROM users;", false).unwrap();
    let mask: Vec<bool> = (0..prompt.len() + answer.len()).map(|i| i >= prompt.len()).collect();
    (engine, [prompt, answer].concat(), mask)
}

#[test]
fn differentiable_forward_matches_inference_forward() {
    let (engine, ids, _) = setup();
    let a = Arc::new(text2sql_engine::random::random_adapter(engine.config(), "r", 4, &Proj::ALL, 3).unwrap());
    let run = |model: &text2sql_engine::Model| {
        let mut cache = model.new_cache();
        let inp = [text2sql_engine::model::SegmentInput { tokens: &ids, adapter: Some(&a), logits: text2sql_engine::model::Logits::All, fork_of: None }];
        model.forward(&inp, &mut [&mut cache]).unwrap().remove(0).flatten_all().unwrap().to_vec1::<f32>().unwrap()
    };
    let fused = run(&engine.model);
    let mut m = engine.model.clone();
    m.set_differentiable(true);
    let plain = run(&m);
    let max = fused.iter().zip(&plain).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
    assert!(max < 1e-4, "max logit difference {max}");
}

#[test]
fn lora_gradients_match_finite_differences() {
    let (engine, ids, mask) = setup();
    let mut model = engine.model.clone();
    model.set_differentiable(true);
    let targets = [Proj::Q, Proj::V, Proj::Down];
    let lora = TrainableLora::new(engine.config(), lora_config(4, &targets), &targets, 1).unwrap();
    // Move B away from zero so A's gradient is not trivially zero.
    for (name, v) in lora.named_vars() {
        if name.contains("lora_B") {
            let shape = v.as_tensor().dims().to_vec();
            v.set(&candle_core::Tensor::rand(-0.1f32, 0.1, shape.as_slice(), &candle_core::Device::Cpu).unwrap()).unwrap();
        }
    }
    let loss_of = |lora: &TrainableLora| masked_loss(&model, &Arc::new(lora.adapter().unwrap()), &ids, &mask).unwrap();
    let loss = loss_of(&lora);
    let grads = loss.backward().unwrap();
    let mut checked = 0;
    for (name, var) in lora.named_vars().iter().filter(|(n, _)| n.contains("layers.1.") || n.contains("layers.2.mlp")) {
        let g = grads.get(var.as_tensor()).expect("gradient").flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let base = var.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        for &idx in &[0usize, base.len() / 3, base.len() - 1] {
            let eps = 1e-2f32;
            let mut plus = base.clone();
            plus[idx] += eps;
            var.set(&candle_core::Tensor::from_vec(plus, var.as_tensor().shape(), &candle_core::Device::Cpu).unwrap()).unwrap();
            let lp = loss_of(&lora).to_scalar::<f32>().unwrap();
            let mut minus = base.clone();
            minus[idx] -= eps;
            var.set(&candle_core::Tensor::from_vec(minus, var.as_tensor().shape(), &candle_core::Device::Cpu).unwrap()).unwrap();
            let lm = loss_of(&lora).to_scalar::<f32>().unwrap();
            var.set(&candle_core::Tensor::from_vec(base.clone(), var.as_tensor().shape(), &candle_core::Device::Cpu).unwrap()).unwrap();
            let numeric = (lp - lm) / (2.0 * eps);
            let diff = (numeric - g[idx]).abs();
            assert!(diff < 2e-3 + 0.05 * g[idx].abs(), "{name}[{idx}]: autograd {} vs finite difference {numeric}", g[idx]);
            checked += 1;
        }
    }
    assert!(checked >= 12, "checked {checked} parameters");
}

#[test]
fn loss_decreases_and_the_saved_adapter_reproduces_in_the_engine() {
    let (engine, ids, mask) = setup();
    let mut model = engine.model.clone();
    model.set_differentiable(true);
    let targets = Proj::ALL;
    let lora = TrainableLora::new(engine.config(), lora_config(8, &targets), &targets, 7).unwrap();
    let mut opt = candle_nn::AdamW::new(lora.vars(), candle_nn::ParamsAdamW { lr: 1e-2, weight_decay: 0.0, ..Default::default() }).unwrap();
    let mut losses = Vec::new();
    for _ in 0..25 {
        let loss = masked_loss(&model, &Arc::new(lora.adapter().unwrap()), &ids, &mask).unwrap();
        losses.push(loss.to_scalar::<f32>().unwrap());
        opt.backward_step(&loss).unwrap();
    }
    assert!(losses[24] < 0.5 * losses[0], "loss did not fall enough: {losses:?}");

    // PEFT round trip: save, load through the engine's PEFT loader, same greedy continuation as
    // the in-memory adapter.
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<&str> = targets.iter().map(|p| p.name()).collect();
    lora.save_peft(dir.path(), "HuggingFaceTB/SmolLM2-135M-Instruct", &names).unwrap();
    let loaded = engine.load_adapter(dir.path(), "trained").unwrap();
    let in_memory = Arc::new(lora.adapter().unwrap());
    let prompt_len = mask.iter().position(|&m| m).unwrap();
    let gen = |a: Arc<text2sql_engine::LoraAdapter>| {
        let req = GenerateRequest { adapter: Some(a), ..GenerateRequest::greedy(ids[..prompt_len].to_vec(), 8) };
        engine.generate(vec![req]).unwrap().pop().unwrap().tokens.iter().map(|t| (t.id, t.logprob)).collect::<Vec<_>>()
    };
    let (x, y) = (gen(loaded), gen(in_memory));
    for (a, b) in x.iter().zip(&y) {
        assert_eq!(a.0, b.0);
        assert!((a.1 - b.1).abs() < 1e-5);
    }
    // And it learned the answer's first tokens.
    let answer_first = ids[prompt_len];
    assert_eq!(x[0].0, answer_first, "the trained adapter should start the memorised answer");

    // Warm start (`train --init_adapter`): fresh weights of another seed take the saved ones.
    let warm = TrainableLora::new(engine.config(), lora_config(8, &targets), &targets, 99).unwrap();
    warm.load_peft_weights(dir.path()).unwrap();
    for ((n, a), (_, b)) in warm.named_vars().iter().zip(lora.named_vars()) {
        let diff = (a.as_tensor() - b.as_tensor()).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert_eq!(diff, 0.0, "{n} differs after load_peft_weights");
    }
    // Another rank cannot take them, and the error says which flag.
    let other = TrainableLora::new(engine.config(), lora_config(4, &targets), &targets, 99).unwrap();
    let err = other.load_peft_weights(dir.path()).unwrap_err().to_string();
    assert!(err.contains("--lora_r 8"), "{err}");
    // Nor another alpha (the same weights would compute another function).
    let mut config = lora_config(8, &targets);
    config.lora_alpha += 1.0;
    let other = TrainableLora::new(engine.config(), config, &targets, 99).unwrap();
    let err = other.load_peft_weights(dir.path()).unwrap_err().to_string();
    assert!(err.contains("--lora_alpha"), "{err}");
}
