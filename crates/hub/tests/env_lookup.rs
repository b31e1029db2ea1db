//! Environment handling (HF_HOME, HF_ENDPOINT, HF_TOKEN, token file, HF_HUB_OFFLINE).
//! One test in its own binary, because it changes the process environment.

mod common;

use hub_emulator::fixtures::{write_adapter, AdapterSpec};
use text2sql_hub::publish::{publish, PublishOptions};
use text2sql_hub::{snapshot_download, ClientOptions, DownloadOptions, HubClient, HubError};

#[test]
fn download_and_auth_follow_the_hf_environment() {
    let d = tempfile::tempdir().unwrap();
    let hub = common::emulator(&d.path().join("data"));
    let dir = d.path().join("adapter");
    write_adapter(&dir, &AdapterSpec::default()).unwrap();
    let mut out = Vec::new();
    let o = PublishOptions {
        repo_id: "alice/env".into(),
        adapter_dir: dir.clone(),
        private: true,
        skip_readme: false,
        strict_readme: true,
        include_metrics: vec![],
        commit_message: "m".into(),
        revision: "main".into(),
        dry_run: false,
        progress: false,
        client: common::client_opts(&hub.url, Some(common::ALICE)),
    };
    publish(&o, &mut out).unwrap();

    let home = d.path().join("hf-home");
    for k in ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HUB_CACHE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"] {
        std::env::remove_var(k);
    }
    std::env::set_var("HF_HOME", &home);
    std::env::set_var("HF_ENDPOINT", format!("{}/", hub.url));

    // no token anywhere: whoami fails locally, the private repo is invisible
    let anon = HubClient::new(ClientOptions::from_env(None, None));
    assert!(matches!(anon.whoami(), Err(HubError::NoToken { .. })));
    assert!(snapshot_download("alice/env", None, &DownloadOptions::default()).is_err());

    // the token file under HF_HOME
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("token"), format!("{}\n", common::ALICE)).unwrap();
    let c = HubClient::new(ClientOptions::from_env(None, None));
    assert_eq!(c.endpoint(), hub.url, "trailing / removed");
    assert_eq!(c.whoami().unwrap().name, "alice");
    let snap = snapshot_download("alice/env", None, &DownloadOptions::default()).unwrap();
    assert!(snap.starts_with(home.join("hub/models--alice--env/snapshots")), "{}", snap.display());
    assert!(snap.join("README.md").is_file());

    // HF_TOKEN wins over the file
    std::env::set_var("HF_TOKEN", common::BOB);
    assert_eq!(HubClient::new(ClientOptions::from_env(None, None)).whoami().unwrap().name, "bob");
    std::env::remove_var("HF_TOKEN");

    // offline: served from the cache with the Hub unreachable; uncached repos are a clear error
    std::env::set_var("HF_HUB_OFFLINE", "1");
    std::env::set_var("HF_ENDPOINT", "http://127.0.0.1:9");
    assert_eq!(snapshot_download("alice/env", None, &DownloadOptions::default()).unwrap(), snap);
    let e = snapshot_download("alice/other", None, &DownloadOptions::default()).unwrap_err();
    assert!(matches!(e, HubError::Offline { .. }), "{e}");
    assert!(e.to_string().contains("HF_HUB_OFFLINE"));

    // online but unreachable: falls back to the cached snapshot
    std::env::remove_var("HF_HUB_OFFLINE");
    assert_eq!(snapshot_download("alice/env", Some("main"), &DownloadOptions::default()).unwrap(), snap);
}
