//! Publishing and downloading against the in-process hub emulator, checked with the OFFICIAL
//! `huggingface_hub` client when TEXT2SQL_TEST_PYTHON is set (./scripts/test.sh sets it).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{client_opts, emulator, hf_client, python, sha256_file, ALICE, BOB};
use hub_emulator::fixtures::{metrics_json, write_adapter, AdapterSpec};
use hub_emulator::{Config, Fault};
use text2sql_hub::publish::{publish, PublishError, PublishOptions, ReadmeOutcome};
use text2sql_hub::{snapshot_download, DownloadOptions, HubClient, HubError};

fn opts(url: &str, token: Option<&str>, repo: &str, dir: &Path) -> PublishOptions {
    PublishOptions {
        repo_id: repo.into(),
        adapter_dir: dir.to_path_buf(),
        private: false,
        skip_readme: false,
        strict_readme: false,
        include_metrics: vec![],
        commit_message: "Add QLoRA adapter artifacts".into(),
        revision: "main".into(),
        dry_run: false,
        progress: false,
        client: client_opts(url, token),
    }
}

fn run(o: &PublishOptions) -> Result<text2sql_hub::publish::PublishReport, PublishError> {
    let mut out = Vec::new();
    let r = publish(o, &mut out);
    eprintln!("{}", String::from_utf8_lossy(&out));
    r
}

/// sha256 of every file under `dir` (following symlinks), keyed by relative path.
fn tree_hashes(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, d: &Path, out: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(p.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/"), sha256_file(&p));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn download(url: &str, token: Option<&str>, hf_home: &Path, repo: &str) -> Result<PathBuf, HubError> {
    let o = DownloadOptions { cache_dir: Some(hf_home.join("hub")), offline: Some(false), client: Some(client_opts(url, token)), ..Default::default() };
    snapshot_download(repo, None, &o)
}

fn setup() -> (tempfile::TempDir, hub_emulator::Running, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let hub = emulator(&d.path().join("hub-data"));
    let dir = d.path().join("adapter");
    write_adapter(&dir, &AdapterSpec::default()).unwrap();
    (d, hub, dir)
}

#[test]
fn publish_makes_one_commit_and_official_client_downloads_identical_bytes() {
    let (d, hub, dir) = setup();
    let metrics = d.path().join("eval_internal.json");
    std::fs::write(&metrics, serde_json::to_vec(&metrics_json(40, 25)).unwrap()).unwrap();
    std::fs::write(dir.join("tokenizer_config.json"), b"{\"model_max_length\": 512}").unwrap();
    let mut o = opts(&hub.url, Some(ALICE), "alice/t2s-qlora", &dir);
    o.include_metrics = vec![metrics];
    let report = run(&o).unwrap();
    assert_eq!(report.readme, ReadmeOutcome::Generated);
    let commit = report.commit.unwrap();
    assert_eq!(commit.lfs_files, vec!["adapter_model.safetensors"]);

    // exactly one commit on top of the repo's initial commit, with the seed's message
    let history = hub.state.history("alice/t2s-qlora", "main");
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[0], (commit.commit_oid.clone(), "Add QLoRA adapter artifacts".to_string()));
    let reqs = hub.state.requests();
    assert!(reqs.iter().any(|r| r.starts_with("PUT /lfs-upload/")), "LFS PUT expected: {reqs:?}");
    assert!(reqs.iter().any(|r| r.starts_with("POST /lfs-verify/")), "LFS verify expected: {reqs:?}");
    assert_eq!(reqs.iter().filter(|r| r.contains("/commit/")).count(), 1);

    let mut expected = tree_hashes(&dir);
    let card = report.card.unwrap();
    expected.insert("README.md".into(), {
        use sha2::Digest;
        sha2::Sha256::digest(card.as_bytes()).iter().map(|x| format!("{x:02x}")).collect()
    });
    expected.insert(".gitattributes".into(), sha256_file(&hub_emulator_gitattributes(d.path())));

    // our own download
    let hf_home = d.path().join("hf-home");
    let snap = download(&hub.url, Some(ALICE), &hf_home, "alice/t2s-qlora").unwrap();
    assert_eq!(tree_hashes(&snap), expected);
    assert!(std::fs::symlink_metadata(snap.join("adapter_model.safetensors")).unwrap().file_type().is_symlink());
    let fm = common::front_matter(&std::fs::read_to_string(snap.join("README.md")).unwrap());
    assert_eq!(fm["model-index"][0]["results"][0]["metrics"][0]["value"].as_f64(), Some(25.0 / 40.0));

    let Some(py) = python("publish_makes_one_commit (official client)") else { return };
    // the official client downloads the same bytes into its own cache
    let official_home = d.path().join("official-home");
    let (ok, v) = hf_client(&py, &hub.url, &official_home, Some(ALICE), &["snapshot", "alice/t2s-qlora"]);
    assert!(ok, "{v}");
    let got: BTreeMap<String, String> = serde_json::from_value(v["files"].clone()).unwrap();
    assert_eq!(got, expected);
    assert_eq!(v["card_data"]["library_name"], "peft");
    assert_eq!(v["card_data"]["base_model"], "mistralai/Mistral-7B-Instruct-v0.1");
    assert_eq!(v["card_data"]["model-index"][0]["results"][0]["metrics"][0]["type"], "exact_match");
    let evals = v["card_data"]["_eval_results"].as_array().unwrap();
    assert_eq!(evals.len(), 4, "{evals:?}");
    assert_eq!(evals[0], serde_json::json!(["text-generation", "text2sql-internal", "Internal validation set", "exact_match", 25.0 / 40.0]));

    // and finds OUR cache offline (HF cache layout compatibility)
    let (ok, v) = hf_client(&py, &hub.url, &hf_home, None, &["snapshot", "alice/t2s-qlora", "--offline"]);
    assert!(ok, "{v}");
    let got: BTreeMap<String, String> = serde_json::from_value(v["files"].clone()).unwrap();
    assert_eq!(got, expected);
}

/// The emulator's initial .gitattributes, written to a file for hashing.
fn hub_emulator_gitattributes(dir: &Path) -> PathBuf {
    let p = dir.join("gitattributes.expected");
    std::fs::write(&p, hub_emulator::store::DEFAULT_GITATTRIBUTES).unwrap();
    p
}

#[test]
fn republishing_unchanged_files_makes_no_commit() {
    let (_d, hub, dir) = setup();
    let o = opts(&hub.url, Some(ALICE), "alice/same", &dir);
    let first = run(&o).unwrap().commit.unwrap();
    let second = run(&o).unwrap().commit.unwrap();
    assert!(second.commit_url.is_empty());
    assert_eq!(second.commit_oid, first.commit_oid);
    assert_eq!(hub.state.history("alice/same", "main").len(), 2);
}

#[test]
fn official_upload_folder_with_lfs_then_our_download_and_offline_official_read() {
    let Some(py) = python("official_upload_folder_with_lfs") else { return };
    let d = tempfile::tempdir().unwrap();
    let hub = emulator(&d.path().join("hub-data"));
    let folder = d.path().join("up");
    std::fs::create_dir_all(folder.join("sub")).unwrap();
    let big: Vec<u8> = (0..11 * 1000 * 1000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(folder.join("big.dat"), &big).unwrap();
    std::fs::write(folder.join("config.json"), b"{\"a\": 1}").unwrap();
    std::fs::write(folder.join("sub/notes.txt"), b"hello\n").unwrap();
    std::fs::write(folder.join("empty.txt"), b"").unwrap();
    std::fs::write(folder.join("README.md"), b"---\nlicense: mit\n---\n# hi\n").unwrap();

    let (ok, v) = hf_client(&py, &hub.url, &d.path().join("h1"), Some(ALICE), &["upload", "alice/up", folder.to_str().unwrap()]);
    assert!(ok, "{v}");
    let reqs = hub.state.requests();
    assert!(reqs.iter().any(|r| r == "POST /alice/up.git/info/lfs/objects/batch"), "{reqs:?}");
    assert!(reqs.iter().any(|r| r.starts_with("PUT /lfs-upload/")), "{reqs:?}");
    assert!(reqs.iter().any(|r| r == "POST /api/validate-yaml"), "{reqs:?}");

    // our client reads it back byte for byte
    let hf_home = d.path().join("ours");
    let snap = download(&hub.url, Some(ALICE), &hf_home, "alice/up").unwrap();
    let mut expected = tree_hashes(&folder);
    expected.insert(".gitattributes".into(), sha256_file(&hub_emulator_gitattributes(d.path())));
    assert_eq!(tree_hashes(&snap), expected);
    // the official client finds our cache offline
    let (ok, v) = hf_client(&py, &hub.url, &hf_home, None, &["snapshot", "alice/up", "--offline"]);
    assert!(ok, "{v}");
    let got: BTreeMap<String, String> = serde_json::from_value(v["files"].clone()).unwrap();
    assert_eq!(got, expected);
    // and our offline mode serves the same snapshot without the network
    let o = DownloadOptions { cache_dir: Some(hf_home.join("hub")), offline: Some(true), endpoint: Some("http://127.0.0.1:9".into()), ..Default::default() };
    assert_eq!(snapshot_download("alice/up", Some("main"), &o).unwrap(), snap);
}

#[test]
fn private_repos_refuse_other_tokens() {
    let (d, hub, dir) = setup();
    let mut o = opts(&hub.url, Some(ALICE), "alice/secret", &dir);
    o.private = true;
    run(&o).unwrap();

    let bob = HubClient::new(client_opts(&hub.url, Some(BOB)));
    assert!(matches!(bob.repo_info("alice/secret", None), Err(HubError::RepoNotFound { .. })));
    let anon = HubClient::new(client_opts(&hub.url, None));
    assert!(matches!(anon.repo_info("alice/secret", None), Err(HubError::RepoNotFound { .. })));
    assert!(download(&hub.url, Some(BOB), &d.path().join("bob"), "alice/secret").is_err());
    assert!(download(&hub.url, None, &d.path().join("anon"), "alice/secret").is_err());
    assert!(download(&hub.url, Some(ALICE), &d.path().join("alice"), "alice/secret").is_ok());
    assert!(HubClient::new(client_opts(&hub.url, Some(ALICE))).repo_info("alice/secret", None).unwrap().private);

    // bob cannot publish into alice's namespace
    let e = run(&opts(&hub.url, Some(BOB), "alice/secret", &dir)).unwrap_err();
    assert!(matches!(e, PublishError::Hub(HubError::Forbidden { .. })), "{e}");
    assert_eq!(hub.state.history("alice/secret", "main").len(), 2);

    let Some(py) = python("private_repos_refuse_other_tokens (official client)") else { return };
    let (ok, v) = hf_client(&py, &hub.url, &d.path().join("h-bob"), Some(BOB), &["snapshot", "alice/secret"]);
    assert!(!ok);
    assert_eq!(v["error"], "RepositoryNotFoundError", "{v}");
    let (ok, v) = hf_client(&py, &hub.url, &d.path().join("h-alice"), Some(ALICE), &["snapshot", "alice/secret"]);
    assert!(ok, "{v}");
}

#[test]
fn skip_readme_preserves_existing_readme() {
    let (d, hub, dir) = setup();
    // (a) a hand-written README in the adapter dir is uploaded as is
    let custom = b"---\nlicense: apache-2.0\n---\n# My own card\n";
    std::fs::write(dir.join("README.md"), custom).unwrap();
    let mut o = opts(&hub.url, Some(ALICE), "alice/custom", &dir);
    o.skip_readme = true;
    assert_eq!(run(&o).unwrap().readme, ReadmeOutcome::Skipped);
    let snap = download(&hub.url, Some(ALICE), &d.path().join("h1"), "alice/custom").unwrap();
    assert_eq!(std::fs::read(snap.join("README.md")).unwrap(), custom);
    assert_eq!(std::fs::read(dir.join("README.md")).unwrap(), custom, "local README untouched");

    // (b) a README already on the Hub survives a --skip_readme publish without a local one
    std::fs::remove_file(dir.join("README.md")).unwrap();
    let first = run(&opts(&hub.url, Some(ALICE), "alice/keep", &dir)).unwrap();
    let generated = first.card.unwrap();
    std::fs::write(dir.join("extra.json"), b"{}").unwrap();
    let mut o = opts(&hub.url, Some(ALICE), "alice/keep", &dir);
    o.skip_readme = true;
    run(&o).unwrap();
    assert_eq!(hub.state.history("alice/keep", "main").len(), 3);
    let snap = download(&hub.url, Some(ALICE), &d.path().join("h2"), "alice/keep").unwrap();
    assert_eq!(std::fs::read_to_string(snap.join("README.md")).unwrap(), generated);
    assert!(snap.join("extra.json").exists());
    assert!(!dir.join("README.md").exists(), "publish never writes into the adapter dir");
}

#[test]
fn strict_readme_fails_on_broken_metrics_while_default_continues() {
    let (d, hub, dir) = setup();
    let broken = d.path().join("eval_internal.json");
    std::fs::write(&broken, b"{\"metrics\": {\"exact_match\": {\"count\": 1, \"rate\": 7}}}").unwrap();
    let mut o = opts(&hub.url, Some(ALICE), "alice/strict", &dir);
    o.include_metrics = vec![broken];
    o.strict_readme = true;
    let e = run(&o).unwrap_err();
    assert!(matches!(e, PublishError::Readme(_)), "{e}");
    assert_ne!(e.exit_code(), 0);
    assert!(e.to_string().contains("eval_internal.json"), "{e}");
    assert!(hub.state.requests().is_empty(), "strict README failure must touch nothing");

    o.strict_readme = false;
    let r = run(&o).unwrap();
    assert!(matches!(r.readme, ReadmeOutcome::Failed(_)));
    let snap = download(&hub.url, Some(ALICE), &d.path().join("h"), "alice/strict").unwrap();
    assert!(snap.join("adapter_model.safetensors").exists());
    assert!(!snap.join("README.md").exists());
}

#[test]
fn invalid_adapter_or_bad_token_uploads_nothing_and_hides_the_token() {
    let (_d, hub, dir) = setup();
    std::fs::write(dir.join("adapter_model.safetensors"), b"").unwrap();
    let e = run(&opts(&hub.url, Some(ALICE), "alice/x", &dir)).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(hub.state.requests().is_empty());

    let (_d, hub, dir) = setup();
    let secret = "hf_not_a_valid_token_XYZ";
    let e = run(&opts(&hub.url, Some(secret), "alice/x", &dir)).unwrap_err();
    assert!(matches!(e, PublishError::Hub(HubError::InvalidToken { .. })), "{e}");
    let msg = format!("{e} {e:?}");
    assert!(!msg.contains(secret), "token leaked: {msg}");
    assert!(msg.contains("invalid Hugging Face token"), "{msg}");
    assert_eq!(hub.state.requests(), vec!["GET /api/whoami-v2".to_string()]);

    // no token at all: a clear error, and no request
    let e = run(&opts(&hub.url, None, "alice/x", &dir)).unwrap_err();
    assert!(matches!(e, PublishError::Hub(HubError::NoToken { .. })), "{e}");
    assert!(e.to_string().contains("HF_TOKEN"), "{e}");
    assert_eq!(hub.state.requests().len(), 1);
}

#[test]
fn transient_errors_are_retried() {
    let (d, hub, dir) = setup();
    hub.state.inject_fault(Fault { method: "POST".into(), path_prefix: "/api/models/alice/retry/preupload".into(), remaining: 2, status: 503 });
    hub.state.inject_fault(Fault { method: "PUT".into(), path_prefix: "/lfs-upload/".into(), remaining: 1, status: 500 });
    hub.state.inject_fault(Fault { method: "GET".into(), path_prefix: "/alice/retry/resolve/".into(), remaining: 2, status: 502 });
    run(&opts(&hub.url, Some(ALICE), "alice/retry", &dir)).unwrap();
    let reqs = hub.state.requests();
    assert_eq!(reqs.iter().filter(|r| r.contains("/preupload/")).count(), 3);
    assert_eq!(reqs.iter().filter(|r| r.starts_with("PUT /lfs-upload/")).count(), 2);
    let snap = download(&hub.url, Some(ALICE), &d.path().join("h"), "alice/retry").unwrap();
    assert_eq!(sha256_file(&snap.join("adapter_config.json")), sha256_file(&dir.join("adapter_config.json")));

    // a permanent 5xx gives up after the retries with a clear error
    hub.state.inject_fault(Fault { method: "POST".into(), path_prefix: "/api/models/alice/down/preupload".into(), remaining: 100, status: 503 });
    let e = run(&opts(&hub.url, Some(ALICE), "alice/down", &dir)).unwrap_err();
    assert!(e.to_string().contains("HTTP 503"), "{e}");
}

#[test]
fn multipart_lfs_upload_and_branches() {
    let d = tempfile::tempdir().unwrap();
    let mut cfg = Config::new(d.path().join("hub-data"), vec![("alice".into(), ALICE.into())]);
    cfg.multipart_chunk_size = Some(1000);
    let hub = common::emulator_with(cfg);
    let dir = d.path().join("adapter");
    write_adapter(&dir, &AdapterSpec { hidden: 64, ..Default::default() }).unwrap();
    let mut o = opts(&hub.url, Some(ALICE), "alice/multi", &dir);
    o.revision = "dev".into();
    run(&o).unwrap();
    let reqs = hub.state.requests();
    let parts = reqs.iter().filter(|r| r.starts_with("PUT /lfs-upload/") && r.contains("/part/")).count();
    let size = std::fs::metadata(dir.join("adapter_model.safetensors")).unwrap().len();
    assert_eq!(parts as u64, size.div_ceil(1000), "{reqs:?}");
    assert_eq!(hub.state.history("alice/multi", "main").len(), 1, "main untouched");
    assert_eq!(hub.state.history("alice/multi", "dev").len(), 2);
    let dl = DownloadOptions { cache_dir: Some(d.path().join("h/hub")), offline: Some(false), client: Some(client_opts(&hub.url, Some(ALICE))), ..Default::default() };
    let snap = snapshot_download("alice/multi", Some("dev"), &dl).unwrap();
    assert_eq!(sha256_file(&snap.join("adapter_model.safetensors")), sha256_file(&dir.join("adapter_model.safetensors")));
    assert_eq!(std::fs::read_to_string(d.path().join("h/hub/models--alice--multi/refs/dev")).unwrap(), snap.file_name().unwrap().to_str().unwrap());

    // LORA_ADAPTERS sources: repo@revision, plain repo ids, local directories
    assert_eq!(text2sql_hub::resolve_source("alice/multi@dev", &dl).unwrap(), snap);
    let main = text2sql_hub::resolve_source("alice/multi", &dl).unwrap();
    assert!(!main.join("adapter_model.safetensors").exists(), "main has only .gitattributes");
    assert_eq!(text2sql_hub::resolve_source(dir.to_str().unwrap(), &dl).unwrap(), dir);
    let e = text2sql_hub::resolve_source("./no/such/dir", &dl).unwrap_err();
    assert!(e.to_string().contains("neither an existing directory nor a Hub repo id"), "{e}");
}
