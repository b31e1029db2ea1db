//! `text2sql publish` end to end: the seed's flags verbatim (and kebab-case aliases), token
//! lookup, exit codes and output, against the in-process hub emulator.

use std::path::Path;
use std::process::{Command, Output};

use hub_emulator::fixtures::{metrics_json, write_adapter, AdapterSpec};
use hub_emulator::{Config, Running};

const ALICE: &str = "hf_alice_cli_token_000111";

fn emulator(data: &Path) -> Running {
    hub_emulator::spawn(Config::new(data.to_path_buf(), vec![("alice".into(), ALICE.into())])).unwrap()
}

/// Runs `text2sql publish ARGS` with a clean Hub environment.
fn publish(hf_home: &Path, endpoint: &str, token_env: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_text2sql"));
    cmd.arg("publish").args(args);
    for k in ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HUB_OFFLINE", "XDG_CACHE_HOME"] {
        cmd.env_remove(k);
    }
    cmd.env("HF_HOME", hf_home).env("HF_ENDPOINT", endpoint);
    if let Some(t) = token_env {
        cmd.env("HF_TOKEN", t);
    }
    let out = cmd.output().unwrap();
    eprintln!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out
}

fn setup() -> (tempfile::TempDir, Running, String) {
    let d = tempfile::tempdir().unwrap();
    let hub = emulator(&d.path().join("data"));
    let dir = d.path().join("outputs/adapters");
    write_adapter(&dir, &AdapterSpec::default()).unwrap();
    let dir = dir.to_str().unwrap().to_string();
    (d, hub, dir)
}

fn readme_on_hub(hub: &Running, repo: &str, cache: &Path) -> String {
    let opts = text2sql_hub::DownloadOptions {
        endpoint: Some(hub.url.clone()),
        token: Some(ALICE.into()),
        cache_dir: Some(cache.to_path_buf()),
        offline: Some(false),
        client: None,
    };
    let snap = text2sql_hub::snapshot_download(repo, None, &opts).unwrap();
    std::fs::read_to_string(snap.join("README.md")).unwrap()
}

#[test]
fn seed_flags_work_verbatim() {
    let (d, hub, dir) = setup();
    let m1 = d.path().join("eval_internal.json");
    let m2 = d.path().join("eval_spider.json");
    let m3 = d.path().join("eval_raw.json");
    std::fs::write(&m1, serde_json::to_vec(&metrics_json(10, 4)).unwrap()).unwrap();
    std::fs::write(&m2, serde_json::to_vec(&metrics_json(20, 9)).unwrap()).unwrap();
    std::fs::write(&m3, serde_json::to_vec(&metrics_json(30, 7)["metrics"]).unwrap()).unwrap();
    let out = publish(&d.path().join("home"), &hub.url, Some(ALICE), &[
        "--repo_id", "alice/analytics-copilot-text2sql-mistral7b-qlora",
        "--adapter_dir", &dir,
        "--include_metrics", m1.to_str().unwrap(), m2.to_str().unwrap(),
        "--include_metrics", m3.to_str().unwrap(),
        "--private",
        "--commit_message", "Publish v1",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Authenticated as alice (token from HF_TOKEN)"), "{stdout}");
    let h = hub.state.history("alice/analytics-copilot-text2sql-mistral7b-qlora", "main");
    assert_eq!(h[0].1, "Publish v1");
    let readme = readme_on_hub(&hub, "alice/analytics-copilot-text2sql-mistral7b-qlora", &d.path().join("cache"));
    assert_eq!(readme.matches("  - task:").count(), 3, "{readme}");
    assert!(readme.contains("spider"));
}

#[test]
fn kebab_case_aliases_and_default_commit_message_and_token_file() {
    let (d, hub, dir) = setup();
    let home = d.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("token"), format!("{ALICE}\n")).unwrap();
    let out = publish(&home, &hub.url, None, &["--repo-id", "alice/kebab", "--adapter-dir", &dir, "--skip-readme", "--revision", "main"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("token from token file"));
    let h = hub.state.history("alice/kebab", "main");
    assert_eq!(h[0].1, "Add QLoRA adapter artifacts");
    // --token beats the token file; --endpoint beats HF_ENDPOINT
    let out = publish(&home, "http://127.0.0.1:9", None, &["--repo_id", "alice/kebab2", "--adapter_dir", &dir, "--token", ALICE, "--endpoint", &hub.url]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("token from --token"));
    // HF_TOKEN beats the token file
    std::fs::write(home.join("token"), "hf_stale_token_in_file\n").unwrap();
    let out = publish(&home, &hub.url, Some(ALICE), &["--repo_id", "alice/kebab3", "--adapter_dir", &dir]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("token from HF_TOKEN"));
}

#[test]
fn exit_codes_and_messages() {
    let (d, hub, dir) = setup();
    let home = d.path().join("home");
    // bad token: exit 1, clear message, token never printed
    let secret = "hf_wrong_token_ABCDEF";
    let out = publish(&home, &hub.url, Some(secret), &["--repo_id", "alice/x", "--adapter_dir", &dir]);
    assert_eq!(out.status.code(), Some(1));
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(all.contains("invalid Hugging Face token (from HF_TOKEN)"), "{all}");
    assert!(!all.contains(secret));

    // invalid adapter: exit 2, nothing sent
    let empty = d.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let before = hub.state.requests().len();
    let out = publish(&home, &hub.url, Some(ALICE), &["--repo_id", "alice/x", "--adapter_dir", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("adapter_config.json is missing"));
    assert_eq!(hub.state.requests().len(), before);

    // broken metrics: --strict_readme exits non-zero, the default warns and uploads
    let broken = d.path().join("broken.json");
    std::fs::write(&broken, b"not json").unwrap();
    let args = ["--repo_id", "alice/m", "--adapter_dir", &dir, "--include_metrics", broken.to_str().unwrap()];
    let out = publish(&home, &hub.url, Some(ALICE), &[&args[..], &["--strict_readme"]].concat());
    assert_eq!(out.status.code(), Some(2));
    assert!(hub.state.history("alice/m", "main").is_empty());
    let out = publish(&home, &hub.url, Some(ALICE), &args);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning: README.md generation failed"));
    assert_eq!(hub.state.history("alice/m", "main").len(), 2);

    // bad repo id: exit 2
    let out = publish(&home, &hub.url, Some(ALICE), &["--repo_id", "not/a/repo", "--adapter_dir", &dir]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn dry_run_prints_plan_and_card_and_touches_nothing() {
    let (d, hub, dir) = setup();
    let out = publish(&d.path().join("home"), &hub.url, None, &["--repo_id", "alice/dry", "--adapter_dir", &dir, "--dry-run"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("adapter_model.safetensors ("), "{stdout}");
    assert!(stdout.contains("library_name: peft"));
    assert!(stdout.contains(r#"{"id": "text2sql-qlora", "source": "alice/dry"}"#));
    assert!(hub.state.requests().is_empty());
    assert!(!Path::new(&dir).join("README.md").exists());
}

#[test]
fn help_lists_the_seed_flags() {
    let out = Command::new(env!("CARGO_BIN_EXE_text2sql")).args(["publish", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in ["--repo_id", "--adapter_dir", "--private", "--skip_readme", "--strict_readme", "--include_metrics", "--commit_message", "--token", "--revision", "--dry-run", "--endpoint"] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
}
