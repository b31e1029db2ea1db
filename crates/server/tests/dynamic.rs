//! Dynamic adapters (`--dynamic-adapters`): loaded on first use (once, however many requests
//! wait), evicted least-recently-used, and local paths confined to the allowed root.

mod common;

use common::*;
use std::sync::Arc;
use text2sql_server::adapters::{AdapterRegistry, AdapterSpecs, DynamicConfig};

fn registry(max_loaded: usize) -> (AdapterRegistry, tempfile::TempDir) {
    let root = tempfile::tempdir().unwrap();
    for name in ["qv_r8", "patterns", "regex_target"] {
        let src = fixture().join("adapters").join(name);
        let dst = root.path().join(name);
        std::fs::create_dir_all(&dst).unwrap();
        for f in ["adapter_config.json", "adapter_model.safetensors"] {
            std::fs::copy(src.join(f), dst.join(f)).unwrap();
        }
    }
    let cfg = DynamicConfig { allowed_root: Some(root.path().to_path_buf()), allow_hub: false, max_loaded };
    (AdapterRegistry::load(engine(), &AdapterSpecs::default(), None, Some(cfg)).unwrap(), root)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_requests_load_an_adapter_once() {
    let (reg, _root) = registry(4);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let reg = reg.clone();
            tokio::spawn(async move { reg.resolve("qv_r8", false).await.unwrap().0.unwrap() })
        })
        .collect();
    let mut got = Vec::new();
    for t in tasks {
        got.push(t.await.unwrap());
    }
    assert!(got.windows(2).all(|w| Arc::ptr_eq(&w[0], &w[1])), "every request shares one loaded adapter");
    assert_eq!(reg.dynamic_loads(), 1);
    assert_eq!(reg.names(), vec!["qv_r8".to_string()]);
}

#[tokio::test]
async fn least_recently_used_adapter_is_evicted() {
    let (reg, _root) = registry(2);
    reg.resolve("qv_r8", false).await.unwrap();
    reg.resolve("patterns", false).await.unwrap();
    reg.resolve("qv_r8", false).await.unwrap(); // qv_r8 is now the most recent
    reg.resolve("regex_target", false).await.unwrap();
    assert_eq!(reg.names(), vec!["qv_r8".to_string(), "regex_target".to_string()]);
    reg.resolve("patterns", false).await.unwrap();
    assert_eq!(reg.dynamic_loads(), 4, "an evicted adapter is loaded again");
}

#[tokio::test]
async fn paths_outside_the_root_and_hub_ids_are_refused() {
    let (reg, _root) = registry(2);
    for bad in ["../qv_r8", "/etc", "qv_r8/../../etc", "org/some-adapter", "missing"] {
        let err = reg.resolve(bad, false).await.unwrap_err();
        assert_eq!(err.error_type(), "validation", "{bad}");
        assert!(err.to_string().contains(&format!("adapter `{bad}` could not be loaded")), "{bad}: {err}");
    }
    assert!(reg.names().is_empty());
}

#[tokio::test]
async fn a_dynamically_loaded_adapter_generates_like_the_static_one() {
    let (reg, _root) = registry(2);
    let state = text2sql_server::AppState::new(
        engine(),
        reg,
        limits(),
        text2sql_server::infer::BatchingConfig { max_batch_total_tokens: 4096, max_batch_prefill_tokens: 64, max_batch_size: None },
        config(),
    );
    let app = text2sql_server::app(state);
    let r = post(&app, "/generate", serde_json::json!({"inputs": PROMPT, "parameters": {"adapter_id": "qv_r8", "max_new_tokens": 5, "details": true}})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(ids(&r.json()["details"]), solo("qv", 5));
}
