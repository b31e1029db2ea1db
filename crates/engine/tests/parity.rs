//! The engine against transformers + PEFT: greedy tokens, logprobs, top tokens and prefill
//! logprobs recorded by tests/reference/make_engine_fixtures.py, for the base model and every
//! adapter, run alone and all together in one mixed batch.

mod common;

use common::{fixtures, load_expected, Run};
use std::collections::HashMap;
use std::sync::Arc;
use text2sql_engine::{Engine, GenerateRequest, LoraAdapter, Sequence};

const TOL: f32 = 1e-4;

fn request(run: &Run, top_n: usize, max_new_tokens: usize, adapters: &HashMap<String, Arc<LoraAdapter>>) -> GenerateRequest {
    GenerateRequest {
        adapter: run.adapter.as_ref().map(|a| adapters[a].clone()),
        top_n_tokens: top_n,
        decoder_input_details: true,
        ..GenerateRequest::greedy(run.input_ids.clone(), max_new_tokens)
    }
}

fn check_run(case: &str, label: &str, run: &Run, seq: &Sequence, engine: &Engine) {
    let what = format!("{case} / {} / {label} / prompt {:?}", run.adapter.as_deref().unwrap_or("base"), &run.prompt[..run.prompt.len().min(30)]);
    common::check_run(&what, run, seq, engine, TOL);
}

fn check_case(case: &str) {
    let expected = load_expected(case);
    let dir = fixtures().join(case);
    let engine = Engine::load(&dir.join("model")).unwrap_or_else(|e| panic!("{case}: {e}"));
    for t in &expected.tokenize {
        let ids = engine.encode_prompt(&t.text).expect("encode");
        assert_eq!(ids, t.ids, "{case}: token ids of {:?}", t.text);
    }
    let mut adapters = HashMap::new();
    for run in &expected.runs {
        if let Some(name) = &run.adapter {
            if !adapters.contains_key(name) {
                let a = engine.load_adapter(&dir.join("adapters").join(name), name).unwrap_or_else(|e| panic!("{case}: {e}"));
                adapters.insert(name.clone(), a);
            }
        }
    }
    // Each run alone.
    let mut solo = Vec::new();
    for run in &expected.runs {
        assert!(run.min_gap >= 1e-3, "fixture has a near tie");
        assert_eq!(run.input_ids, engine.encode_prompt(&run.prompt).expect("encode"), "{case}: prompt ids");
        let seq = engine
            .generate(vec![request(run, expected.top_n, expected.max_new_tokens, &adapters)])
            .expect("generate")
            .pop()
            .expect("one sequence");
        check_run(case, "solo", run, &seq, &engine);
        solo.push(seq);
    }
    // All runs in one batch: base and every adapter side by side, prompts of different lengths.
    let reqs = expected.runs.iter().map(|r| request(r, expected.top_n, expected.max_new_tokens, &adapters)).collect();
    let batch = engine.generate(reqs).expect("batched generate");
    for ((run, seq), alone) in expected.runs.iter().zip(&batch).zip(&solo) {
        check_run(case, "mixed batch", run, seq, &engine);
        // Same tokens; logprobs equal up to float reassociation (the matmul kernels block rows
        // differently for different batch sizes).
        for (a, b) in seq.tokens.iter().zip(&alone.tokens) {
            assert_eq!(a.id, b.id);
            assert!((a.logprob - b.logprob).abs() < 5e-5, "{case}: batch vs solo logprob {} vs {}", a.logprob, b.logprob);
        }
    }
}

#[test]
fn llama_gqa_flat_rope_theta_and_five_adapter_kinds() {
    check_case("llama_gqa");
}

#[test]
fn mistral_head_dim_sliding_window_tied_bf16_sharded() {
    check_case("mistral_tied_bf16");
}

#[test]
fn qwen2_qkv_bias_linear_rope_scaling_f16() {
    check_case("qwen2_bias");
}

#[test]
fn llama3_rope_scaling() {
    check_case("llama_rope3");
}
