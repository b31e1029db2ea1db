//! The engine against transformers + PEFT: greedy tokens, logprobs, top tokens and prefill
//! logprobs recorded by tests/reference/make_engine_fixtures.py, for the base model and every
//! adapter, run alone and all together in one mixed batch.

mod common;

use common::{fixtures, load_expected, Run};
use std::collections::HashMap;
use std::sync::Arc;
use text2sql_engine::{Engine, FinishReason, GenerateRequest, LoraAdapter, Sequence};

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
    let ids: Vec<u32> = seq.tokens.iter().map(|t| t.id).collect();
    assert_eq!(ids, run.generated_ids, "{what}: generated ids");
    for (j, (t, &lp)) in seq.tokens.iter().zip(&run.logprobs).enumerate() {
        assert!((t.logprob - lp).abs() < TOL, "{what}: logprob of token {j}: ours {} vs reference {lp}", t.logprob);
    }
    let finish = match seq.finish {
        Some(FinishReason::Length) => "length",
        Some(FinishReason::EosToken) => "eos_token",
        Some(FinishReason::StopSequence) => "stop_sequence",
        None => "unfinished",
    };
    assert_eq!(finish, run.finish_reason, "{what}: finish reason");
    assert_eq!(seq.prefill.len(), run.prefill_logprobs.len(), "{what}: prefill length");
    for (i, (p, r)) in seq.prefill.iter().zip(&run.prefill_logprobs).enumerate() {
        assert_eq!(p.id, run.input_ids[i], "{what}: prefill id {i}");
        match (p.logprob, r) {
            (None, None) => {}
            (Some(a), Some(b)) => assert!((a - b).abs() < TOL, "{what}: prefill logprob {i}: ours {a} vs reference {b}"),
            (a, b) => panic!("{what}: prefill logprob {i}: ours {a:?} vs reference {b:?}"),
        }
    }
    assert_eq!(seq.top_tokens.len(), run.top_tokens.len(), "{what}: top_tokens length");
    for (j, (ours, theirs)) in seq.top_tokens.iter().zip(&run.top_tokens).enumerate() {
        for (k, (o, t)) in ours.iter().zip(theirs).enumerate() {
            // Alternatives may swap places only when their logprobs tie within tolerance.
            if o.id != t.0 {
                assert!((o.logprob - t.1).abs() < TOL, "{what}: top token {k} at step {j}: ours {} vs {}", o.id, t.0);
            } else {
                assert!((o.logprob - t.1).abs() < TOL, "{what}: top logprob {k} at step {j}: {} vs {}", o.logprob, t.1);
            }
        }
    }
    let text = seq.generated_text(&engine.tokenizer).expect("decode");
    assert_eq!(text, run.generated_text, "{what}: generated text");
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
