//! Shared helpers for the engine's integration tests.
#![allow(dead_code)]

use serde::Deserialize;
use std::path::PathBuf;

/// `crates/engine/tests/fixtures`.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

#[derive(Debug, Deserialize)]
pub struct Expected {
    pub case: String,
    pub max_new_tokens: usize,
    pub top_n: usize,
    pub tokenize: Vec<TokenizeCase>,
    pub runs: Vec<Run>,
}

#[derive(Debug, Deserialize)]
pub struct TokenizeCase {
    pub text: String,
    pub ids: Vec<u32>,
}

#[derive(Debug, Deserialize, Clone)]
pub struct Run {
    pub adapter: Option<String>,
    pub prompt: String,
    pub input_ids: Vec<u32>,
    pub prefill_logprobs: Vec<Option<f32>>,
    pub generated_ids: Vec<u32>,
    pub generated_text: String,
    pub finish_reason: String,
    pub logprobs: Vec<f32>,
    pub top_tokens: Vec<Vec<(u32, f32)>>,
    pub min_gap: f32,
}

pub fn load_expected(case: &str) -> Expected {
    let path = fixtures().join(case).join("expected.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (regenerate with tests/reference/make_engine_fixtures.py)", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Copies a directory (one level) to a fresh temp dir.
pub fn copy_dir(src: &std::path::Path) -> tempfile::TempDir {
    let dst = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(src).expect("read_dir") {
        let entry = entry.expect("entry");
        if entry.path().is_file() {
            std::fs::copy(entry.path(), dst.path().join(entry.file_name())).expect("copy");
        }
    }
    dst
}

/// Compares a generated sequence with a reference run: ids, finish reason and text exactly;
/// logprobs, prefill logprobs and top-token logprobs within `tol` (alternatives may swap places
/// only when their logprobs tie within it). Returns the largest logprob difference seen.
pub fn check_run(what: &str, run: &Run, seq: &text2sql_engine::Sequence, engine: &text2sql_engine::Engine, tol: f32) -> f32 {
    use text2sql_engine::FinishReason;
    let mut max = 0f32;
    let mut close = |ours: f32, theirs: f32, label: &dyn Fn() -> String| {
        let d = (ours - theirs).abs();
        max = max.max(d);
        assert!(d < tol, "{what}: {}: ours {ours} vs reference {theirs}", label());
    };
    let ids: Vec<u32> = seq.tokens.iter().map(|t| t.id).collect();
    assert_eq!(ids, run.generated_ids, "{what}: generated ids");
    for (j, (t, &lp)) in seq.tokens.iter().zip(&run.logprobs).enumerate() {
        close(t.logprob, lp, &|| format!("logprob of token {j}"));
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
            (Some(a), Some(b)) => close(a, *b, &|| format!("prefill logprob {i}")),
            (a, b) => panic!("{what}: prefill logprob {i}: ours {a:?} vs reference {b:?}"),
        }
    }
    assert_eq!(seq.top_tokens.len(), run.top_tokens.len(), "{what}: top_tokens length");
    for (j, (ours, theirs)) in seq.top_tokens.iter().zip(&run.top_tokens).enumerate() {
        assert_eq!(ours.len(), theirs.len(), "{what}: top_n at step {j}");
        for (k, (o, t)) in ours.iter().zip(theirs).enumerate() {
            close(o.logprob, t.1, &|| format!("top token {k} at step {j} (ids {} vs {})", o.id, t.0));
        }
    }
    let text = seq.generated_text(&engine.tokenizer).expect("decode");
    assert_eq!(text, run.generated_text, "{what}: generated text");
    max
}
