//! Shared harness of the `serve_*` tests: the real `text2sql serve` process on 127.0.0.1 (port
//! chosen by the OS, read from the `listening on http://ADDR` line), the tiny fixture model of the
//! engine's parity tests, the engine's own solo greedy output as reference, and helpers to run
//! the official Python clients.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use text2sql_engine::{Engine, FinishReason, GenerateRequest};

/// The Text-to-SQL prompt (project format) most tests send.
pub const PROMPT: &str = "### Schema:\nCREATE TABLE users (id INT, name TEXT);\n\n### Question:\nHow many users?\n\nReturn only the SQL query.";

/// Env vars of `text2sql serve` (and the Hub client) that must not leak from the caller's shell.
const SERVE_ENV: &[&str] = &[
    "MODEL_ID", "REVISION", "LORA_ADAPTERS", "HOSTNAME", "PORT", "MAX_CONCURRENT_REQUESTS", "MAX_INPUT_TOKENS",
    "MAX_INPUT_LENGTH", "MAX_TOTAL_TOKENS", "MAX_BATCH_TOTAL_TOKENS", "MAX_BATCH_PREFILL_TOKENS", "MAX_BATCH_SIZE",
    "MAX_STOP_SEQUENCES", "MAX_TOP_N_TOKENS", "MAX_CLIENT_BATCH_SIZE", "API_KEY", "DYNAMIC_ADAPTERS",
    "MAX_LOADED_ADAPTERS", "ADAPTER_ROOT", "LENIENT_ADAPTERS", "COMPAT_RETURN_FULL_TEXT", "PAYLOAD_LIMIT",
    "COMPUTE_TYPE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_ENDPOINT", "HF_HUB_OFFLINE",
    "HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME",
];

pub fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../engine/tests/fixtures/llama_gqa")
}

pub fn model_dir() -> String {
    fixture().join("model").display().to_string()
}

/// Fixture adapter directory of a test adapter id.
pub fn adapter_dir(id: &str) -> PathBuf {
    let sub = match id {
        "qv" => "qv_r8",
        "pat" => "patterns",
        "rs" => "all_linear_rslora",
        other => other,
    };
    fixture().join("adapters").join(sub)
}

/// `qv=<dir>,pat=<dir>`: TGI's LORA_ADAPTERS form.
pub fn two_adapters() -> String {
    format!("qv={},pat={}", adapter_dir("qv").display(), adapter_dir("pat").display())
}

/// A running `text2sql serve`; killed (SIGKILL) on drop unless it already exited.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub base: String,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// `text2sql serve ARGS` with `ENVS` (the serve env vars of the caller removed first).
    pub fn start(args: &[&str], envs: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_text2sql"));
        cmd.arg("serve").args(args);
        for k in SERVE_ENV {
            cmd.env_remove(k);
        }
        cmd.env("RUST_LOG", "info");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn text2sql serve");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let log2 = log.clone();
        // Keep draining stderr for the whole life of the process (a full pipe would block it).
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("listening on http://") {
                    let addr = rest.split_whitespace().next().unwrap_or("").to_string();
                    let _ = tx.send(addr);
                }
                let mut l = log2.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                let status = child.wait();
                std::thread::sleep(Duration::from_millis(200));
                panic!("text2sql serve did not start ({status:?}); stderr:\n{}", log.lock().unwrap());
            }
        };
        let addr: SocketAddr = addr.parse().unwrap_or_else(|e| panic!("bad listen address {addr:?}: {e}"));
        let server = Server { child, addr, base: format!("http://{addr}"), log };
        server.wait_healthy();
        server
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match ureq::get(&format!("{}/health", self.base)).timeout(Duration::from_secs(5)).call() {
                Ok(r) if r.status() == 200 => return,
                _ if Instant::now() > deadline => panic!("/health never answered 200; stderr:\n{}", self.log()),
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// POST JSON; returns (status, body) for 2xx and 4xx/5xx alike.
pub fn post_json(url: &str, body: &Value) -> (u16, String) {
    match ureq::post(url).set("content-type", "application/json").timeout(Duration::from_secs(120)).send_string(&body.to_string()) {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
        Err(e) => panic!("POST {url}: {e}"),
    }
}

pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::load(&fixture().join("model")).expect("fixture model"))
}

fn finish_name(f: Option<FinishReason>) -> &'static str {
    match f {
        Some(FinishReason::EosToken) => "eos_token",
        Some(FinishReason::Length) => "length",
        Some(FinishReason::StopSequence) => "stop_sequence",
        None => "none",
    }
}

/// The engine's own greedy output, alone in its batch, for `input_ids` with the adapter in
/// `dir` (None = base): ids, per-token texts, special flags, generated_text, finish_reason.
pub fn solo_ids(input_ids: Vec<u32>, dir: Option<&Path>, max_new_tokens: usize) -> Value {
    let e = engine();
    let adapter = dir.map(|d| e.load_adapter(d, "reference").expect("fixture adapter"));
    let req = GenerateRequest { adapter, ..GenerateRequest::greedy(input_ids, max_new_tokens) };
    let seq = e.generate(vec![req]).unwrap().pop().unwrap();
    json!({
        "ids": seq.tokens.iter().map(|t| t.id).collect::<Vec<_>>(),
        "texts": seq.tokens.iter().map(|t| t.text.clone()).collect::<Vec<_>>(),
        "special": seq.tokens.iter().map(|t| t.special).collect::<Vec<_>>(),
        "generated_text": seq.generated_text(&e.tokenizer).unwrap(),
        "finish_reason": finish_name(seq.finish),
    })
}

/// Solo greedy output for a plain prompt (special tokens added, as `/generate` does).
pub fn solo(prompt: &str, dir: Option<&Path>, max_new_tokens: usize) -> Value {
    solo_ids(engine().encode_prompt(prompt).unwrap(), dir, max_new_tokens)
}

/// The fixture tokenizer's chat template, rendered by hand for one user message (the template
/// string is asserted so a fixture change fails here instead of silently).
pub fn chat_prompt(user: &str) -> String {
    let cfg: Value = serde_json::from_slice(&std::fs::read(fixture().join("model/tokenizer_config.json")).unwrap()).unwrap();
    assert_eq!(
        cfg["chat_template"].as_str().unwrap(),
        "{% if add_bos is defined and add_bos %}{{ bos_token }}{% endif %}{% for message in messages %}{{ '### ' + message['role'] + ':\\n' + message['content'] + '\\n\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '### assistant:\\n' }}{% endif %}",
        "fixture chat template changed: update chat_prompt()"
    );
    format!("### user:\n{user}\n\n### assistant:\n")
}

/// Solo greedy output for a chat turn (template rendered, no special tokens added: TGI).
pub fn solo_chat(user: &str, dir: Option<&Path>, max_new_tokens: usize) -> Value {
    let ids = engine().tokenizer.encode(&chat_prompt(user), false).unwrap();
    solo_ids(ids, dir, max_new_tokens)
}

/// Reference file for the client scripts: per adapter id ("" = base) the solo greedy output for
/// `PROMPT` as a plain prompt ("generate") and as one chat user message ("chat").
pub fn expectations(adapters: &[(&str, Option<PathBuf>)], max_new_tokens: usize) -> Value {
    let mut generate = serde_json::Map::new();
    let mut chat = serde_json::Map::new();
    for (id, dir) in adapters {
        generate.insert(id.to_string(), solo(PROMPT, dir.as_deref(), max_new_tokens));
        chat.insert(id.to_string(), solo_chat(PROMPT, dir.as_deref(), max_new_tokens));
    }
    json!({"prompt": PROMPT, "max_new_tokens": max_new_tokens, "generate": generate, "chat": chat})
}

/// The Python of an official-client venv, from `var`; None (and a SKIP line) when unset.
pub fn python(var: &str, test: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            eprintln!("SKIP {test}: {var} is unset (./scripts/test.sh sets it)");
            None
        }
    }
}

pub fn client_script(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/clients").join(name).display().to_string()
}

/// Runs `python tests/clients/SCRIPT ARGS` with a clean Hub environment (no telemetry, no
/// proxy for loopback, a throwaway HF_HOME so no saved token is sent); asserts exit 0.
pub fn run_client(python: &str, script: &str, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(python);
    cmd.arg(client_script(script)).args(args);
    for k in ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HUB_OFFLINE", "HF_ENDPOINT", "OPENAI_API_KEY", "OPENAI_BASE_URL"] {
        cmd.env_remove(k);
    }
    cmd.env("HF_HOME", home.path())
        .env("HF_HUB_DISABLE_TELEMETRY", "1")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("--- {script} stdout:\n{stdout}\n--- {script} stderr:\n{stderr}");
    assert!(out.status.success(), "{script} failed ({})", out.status);
    out
}

/// Writes `value` as JSON into `dir/name` and returns the path.
pub fn write_json(dir: &Path, name: &str, value: &Value) -> String {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    p.display().to_string()
}
