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
