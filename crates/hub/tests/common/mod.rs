//! Shared helpers for the hub integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hub_emulator::{Config, Running};
use text2sql_hub::auth::{Token, TokenSource};
use text2sql_hub::{ClientOptions, RetryPolicy};

pub const ALICE: &str = "hf_alice_token_0123456789";
pub const BOB: &str = "hf_bob_token_9876543210";

/// Starts an in-process emulator with users alice and bob.
pub fn emulator(data: &Path) -> Running {
    let cfg = Config::new(data.to_path_buf(), vec![("alice".into(), ALICE.into()), ("bob".into(), BOB.into())]);
    hub_emulator::spawn(cfg).expect("emulator starts")
}

/// Emulator with a custom config.
pub fn emulator_with(cfg: Config) -> Running {
    hub_emulator::spawn(cfg).expect("emulator starts")
}

/// Client options for a token, with fast retries.
pub fn client_opts(url: &str, token: Option<&str>) -> ClientOptions {
    ClientOptions {
        endpoint: url.to_string(),
        token: token.and_then(|t| Token::new(t, TokenSource::Explicit)),
        retry: RetryPolicy { max_retries: 5, base_delay: Duration::from_millis(10), max_delay: Duration::from_millis(50) },
        connect_timeout: Duration::from_secs(10),
        io_timeout: Duration::from_secs(60),
    }
}

/// The test venv's python (set by scripts/test.sh), or None with a printed skip reason.
pub fn python(test: &str) -> Option<PathBuf> {
    match std::env::var_os("TEXT2SQL_TEST_PYTHON") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => {
            eprintln!("SKIP {test}: TEXT2SQL_TEST_PYTHON is not set (./scripts/test.sh sets it to the venv with the official huggingface_hub)");
            None
        }
    }
}

/// Runs tests/python/hf_client.py with the official client pointed at `endpoint`.
pub fn hf_client(py: &Path, endpoint: &str, hf_home: &Path, token: Option<&str>, args: &[&str]) -> (bool, serde_json::Value) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/hf_client.py");
    let mut cmd = Command::new(py);
    cmd.arg(script).args(args);
    for k in ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "HF_HUB_CACHE", "HF_TOKEN_PATH", "XDG_CACHE_HOME"] {
        cmd.env_remove(k);
    }
    cmd.env("HF_ENDPOINT", endpoint)
        .env("HF_HOME", hf_home)
        .env("HF_HUB_DISABLE_XET", "1")
        .env("HF_HUB_DISABLE_TELEMETRY", "1")
        .env("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    if let Some(t) = token {
        cmd.env("HF_TOKEN", t);
    }
    let out = cmd.output().expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or("").to_string();
    let v = serde_json::from_str(&last).unwrap_or_else(|_| {
        panic!("hf_client.py {args:?} printed no JSON.\nstdout: {stdout}\nstderr: {}", String::from_utf8_lossy(&out.stderr))
    });
    (out.status.success(), v)
}

/// sha256 hex of a file.
pub fn sha256_file(p: &Path) -> String {
    use sha2::Digest;
    let b = std::fs::read(p).unwrap();
    sha2::Sha256::digest(&b).iter().map(|x| format!("{x:02x}")).collect()
}

/// Splits `---\nYAML\n---\n` front matter off a README.
pub fn front_matter(readme: &str) -> serde_yaml::Value {
    let rest = readme.strip_prefix("---\n").expect("README starts with ---");
    let end = rest.find("\n---\n").expect("front matter closes");
    serde_yaml::from_str(&rest[..end]).expect("front matter is YAML")
}
