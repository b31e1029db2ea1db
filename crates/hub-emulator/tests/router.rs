//! The router in-process (`tower::ServiceExt::oneshot`): the error contract of hub-api.md.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use hub_emulator::{app, AppState, Config};
use serde_json::{json, Value};
use tower::ServiceExt;

const TOK: &str = "tok_alice";

fn state(dir: &std::path::Path) -> AppState {
    AppState::new(Config::new(dir.to_path_buf(), vec![("alice".into(), TOK.into())])).unwrap()
}

async fn call(st: &AppState, method: &str, uri: &str, token: Option<&str>, body: &str) -> (StatusCode, axum::http::HeaderMap, Value) {
    let mut req = Request::builder().method(method).uri(uri).header("host", "127.0.0.1:1");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = app(st.clone()).oneshot(req.body(Body::from(body.to_string())).unwrap()).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    (status, headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn ndjson(lines: &[Value]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[tokio::test]
async fn error_contract() {
    let d = tempfile::tempdir().unwrap();
    let st = state(d.path());

    // unknown routes: 404 with a JSON error body
    let (s, _, v) = call(&st, "GET", "/api/nothing-here", None, "").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(v["error"].is_string());

    // validate-yaml always answers JSON, 400 with errors[] on bad metadata
    let (s, _, v) = call(&st, "POST", "/api/validate-yaml", None, &json!({"content": "---\nmodel-index: [{}]\n---\n", "repoType": "model"}).to_string()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["errors"][0]["message"].as_str().unwrap().contains("name"), "{v}");
    let (s, _, v) = call(&st, "POST", "/api/validate-yaml", None, &json!({"content": "# no front matter", "repoType": "model"}).to_string()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v, json!({"errors": [], "warnings": []}));

    // missing repo: 404 RepoNotFound
    let (s, h, _) = call(&st, "POST", "/api/models/alice/none/preupload/main", Some(TOK), r#"{"files":[]}"#).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(h["x-error-code"], "RepoNotFound");

    // create, then commit errors
    let (s, _, v) = call(&st, "POST", "/api/repos/create", Some(TOK), r#"{"name":"r","organization":"alice","private":true}"#).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["url"], "http://127.0.0.1:1/alice/r");
    let (_, _, info) = call(&st, "GET", "/api/models/alice/r/revision/main", Some(TOK), "").await;
    let head = info["sha"].as_str().unwrap().to_string();
    assert_eq!(head.len(), 40);
    assert_eq!(info["private"], true);

    let header = json!({"key": "header", "value": {"summary": "s", "description": ""}});
    let file = |p: &str| json!({"key": "file", "value": {"path": p, "content": base64::engine::general_purpose::STANDARD.encode(b"x"), "encoding": "base64"}});
    for bad in ["../x", ".git/config", "/abs", "a//b"] {
        let (s, _, v) = call(&st, "POST", "/api/models/alice/r/commit/main", Some(TOK), &ndjson(&[header.clone(), file(bad)])).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {v}");
    }
    let lfs = json!({"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": "a".repeat(64), "size": 3}});
    let (s, _, v) = call(&st, "POST", "/api/models/alice/r/commit/main", Some(TOK), &ndjson(&[header.clone(), lfs])).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["error"].as_str().unwrap().contains("was not uploaded"));
    let stale = json!({"key": "header", "value": {"summary": "s", "parentCommit": "0".repeat(40)}});
    let (s, _, _) = call(&st, "POST", "/api/models/alice/r/commit/main", Some(TOK), &ndjson(&[stale, file("a.txt")])).await;
    assert_eq!(s, StatusCode::PRECONDITION_FAILED);
    let (s, _, _) = call(&st, "POST", "/api/models/alice/r/commit/nobranch", Some(TOK), &ndjson(&[header.clone(), file("a.txt")])).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // a good commit, then resolve headers for a regular file
    let ok_header = json!({"key": "header", "value": {"summary": "s", "parentCommit": head}});
    let (s, _, v) = call(&st, "POST", "/api/models/alice/r/commit/main", Some(TOK), &ndjson(&[ok_header, file("dir/a.txt")])).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let oid = v["commitOid"].as_str().unwrap().to_string();
    assert!(oid.len() == 40 && oid.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert_eq!(v["commitUrl"], format!("http://127.0.0.1:1/alice/r/commit/{oid}"));
    assert!(v["pullRequestUrl"].is_null());
    let req = Request::builder().method("GET").uri("/alice/r/resolve/main/dir/a.txt").header("authorization", format!("Bearer {TOK}"))
        .header("range", "bytes=0-").body(Body::empty()).unwrap();
    let resp = app(st.clone()).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    let h = resp.headers();
    assert_eq!(h["x-repo-commit"], oid.as_str());
    // `printf x | git hash-object --stdin`
    assert_eq!(h["etag"], "\"c1b0730e0133447badcfd47fd144e254807b06e1\"");
    assert_eq!(h["x-linked-size"], "1");
    assert_eq!(h["content-range"], "bytes 0-0/1");
    assert!(h.get("x-xet-hash").is_none());

    // tree: recursive lists the directory and both files, never xetHash
    let (_, _, tree) = call(&st, "GET", &format!("/api/models/alice/r/tree/{oid}?recursive=true&expand=false"), Some(TOK), "").await;
    let paths: Vec<&str> = tree.as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert_eq!(paths, vec!["dir", ".gitattributes", "dir/a.txt"]);
    assert!(!tree.to_string().contains("xetHash"));
    let (_, _, top) = call(&st, "GET", "/api/models/alice/r/tree/main", Some(TOK), "").await;
    assert_eq!(top.as_array().unwrap().len(), 2, "{top}");

    // private: anonymous callers see 404 RepoNotFound, bad tokens 401
    let (s, h, _) = call(&st, "GET", "/alice/r/resolve/main/dir/a.txt", None, "").await;
    assert_eq!((s, h["x-error-code"].to_str().unwrap()), (StatusCode::NOT_FOUND, "RepoNotFound"));
    let (s, h, _) = call(&st, "GET", "/api/models/alice/r", Some("wrong"), "").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(h["x-error-message"], "Invalid credentials in Authorization header");

    // LFS batch: unknown objects get upload + verify actions, no Xet transfer
    let batch = json!({"operation": "upload", "transfers": ["basic", "multipart"], "objects": [{"oid": "b".repeat(64), "size": 5}], "hash_algo": "sha256"});
    let (s, _, v) = call(&st, "POST", "/alice/r.git/info/lfs/objects/batch", Some(TOK), &batch.to_string()).await;
    assert_eq!(s, StatusCode::OK);
    assert_ne!(v["transfer"], "xet");
    assert!(v["objects"][0]["actions"]["upload"]["href"].as_str().unwrap().starts_with("http://127.0.0.1:1/lfs-upload/"));
    assert!(v["objects"][0]["actions"]["verify"]["href"].is_string());
}
