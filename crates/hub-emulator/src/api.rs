//! JSON API handlers: whoami, repos, validate-yaml, info, tree, paths-info, preupload, commit.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::store::{self, git_blob_sha1, iso8601, FileRec, Repo};
use crate::{base_url, caller, ApiError, AppState, Caller};

type Result<T> = std::result::Result<T, ApiError>;

pub(crate) async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "Not Found")
}

pub(crate) async fn whoami(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>> {
    match caller(&state, &headers)? {
        Caller::Anonymous => Err(ApiError::auth_required()),
        Caller::User(name) => Ok(Json(json!({
            "type": "user", "id": format!("id-{name}"), "name": name, "fullname": name, "email": null,
            "orgs": [], "isPro": false,
            "auth": {"type": "access_token", "accessToken": {"displayName": "hub-emulator", "role": "write"}},
        }))),
    }
}

/// Checks a repo name part (the Hub's rules, simplified).
pub(crate) fn valid_part(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 96
        && p.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !p.starts_with(['-', '.'])
        && !p.ends_with(['-', '.'])
        && !p.contains("--")
        && !p.contains("..")
}

/// Finds a repo the caller may read; 404 RepoNotFound otherwise.
pub(crate) fn readable<'a>(repo: Option<&'a Repo>, id: &str, who: &Caller) -> Result<&'a Repo> {
    match repo {
        Some(r) if !r.private || who.name() == Some(r.id.split('/').next().unwrap_or("")) => Ok(r),
        _ => Err(ApiError::repo_not_found(id)),
    }
}

/// Checks write access: the caller's own namespace only.
pub(crate) fn writable<'a>(repo: Option<&'a Repo>, id: &str, who: &Caller) -> Result<&'a Repo> {
    let r = readable(repo, id, who)?;
    match who {
        Caller::Anonymous => Err(ApiError::auth_required()),
        Caller::User(u) if id.split('/').next() == Some(u.as_str()) => Ok(r),
        Caller::User(u) => Err(ApiError::forbidden(format!("{u} has no write access to {id}"))),
    }
}

pub(crate) async fn create_repo(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response> {
    let who = caller(&state, &headers)?;
    let Caller::User(user) = &who else { return Err(ApiError::auth_required()) };
    let v: Value = serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    let name = v.get("name").and_then(Value::as_str).unwrap_or_default();
    let ns = v.get("organization").and_then(Value::as_str).unwrap_or(user);
    if let Some(t) = v.get("type").and_then(Value::as_str) {
        if t != "model" {
            return Err(ApiError::bad_request(format!("this emulator only hosts model repos, not {t}")));
        }
    }
    if !valid_part(name) || !valid_part(ns) {
        return Err(ApiError::bad_request(format!("invalid repo name {ns}/{name}")));
    }
    let id = format!("{ns}/{name}");
    let url = format!("{}/{id}", base_url(&headers));
    if ns != user {
        return Err(ApiError::forbidden(format!("You don't have the rights to create a model under the namespace \"{ns}\"")));
    }
    let private = v.get("visibility").and_then(Value::as_str).map(|s| s == "private")
        .or_else(|| v.get("private").and_then(Value::as_bool))
        .unwrap_or(false);
    let mut store = state.0.store.lock().expect("store lock");
    match store.create_repo(&id, private).map_err(ApiError::internal)? {
        Some(_) => Ok(Json(json!({"url": url, "name": id, "id": id})).into_response()),
        None => Ok((StatusCode::CONFLICT, Json(json!({"error": "You already created this model repo", "url": url}))).into_response()),
    }
}

pub(crate) async fn validate_yaml(body: Bytes) -> Response {
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return (StatusCode::BAD_REQUEST, Json(json!({"errors": [{"message": format!("invalid JSON: {e}")}]}))).into_response(),
    };
    let content = v.get("content").and_then(Value::as_str).unwrap_or_default();
    match check_card_metadata(content) {
        Ok(()) => Json(json!({"errors": [], "warnings": []})).into_response(),
        Err(m) => (StatusCode::BAD_REQUEST, Json(json!({"errors": [{"message": m}], "warnings": []}))).into_response(),
    }
}

/// Parses README front matter and checks the keys the Hub validates most strictly.
pub(crate) fn check_card_metadata(content: &str) -> std::result::Result<(), String> {
    let Some(rest) = content.strip_prefix("---\n") else { return Ok(()) };
    let Some(end) = rest.find("\n---") else { return Err("front matter has no closing `---`".into()) };
    let meta: serde_yaml::Value = serde_yaml::from_str(&rest[..end]).map_err(|e| format!("YAML: {e}"))?;
    if meta.is_null() {
        return Ok(());
    }
    let map = meta.as_mapping().ok_or("front matter must be a mapping")?;
    if let Some(b) = map.get("base_model") {
        let ids: Vec<&str> = match b {
            serde_yaml::Value::String(s) => vec![s.as_str()],
            serde_yaml::Value::Sequence(v) => v.iter().filter_map(|x| x.as_str()).collect(),
            _ => return Err("\"base_model\" must be a string or a list of strings".into()),
        };
        for id in ids {
            let parts: Vec<&str> = id.split('/').collect();
            if parts.len() > 2 || !parts.iter().all(|p| valid_part(p)) {
                return Err(format!("\"base_model\" {id:?} is not a valid model id"));
            }
        }
    }
    if let Some(mi) = map.get("model-index") {
        let list = mi.as_sequence().ok_or("\"model-index\" must be a list")?;
        for entry in list {
            entry.get("name").and_then(|n| n.as_str()).ok_or("\"model-index[].name\" is required")?;
            let results = entry.get("results").and_then(|r| r.as_sequence()).ok_or("\"model-index[].results\" must be a list")?;
            for r in results {
                r.get("task").and_then(|t| t.get("type")).and_then(|t| t.as_str()).ok_or("\"results[].task.type\" is required")?;
                let ds = r.get("dataset").ok_or("\"results[].dataset\" is required")?;
                ds.get("name").and_then(|t| t.as_str()).ok_or("\"dataset.name\" is required")?;
                ds.get("type").and_then(|t| t.as_str()).ok_or("\"dataset.type\" is required")?;
                let metrics = r.get("metrics").and_then(|m| m.as_sequence()).ok_or("\"results[].metrics\" must be a list")?;
                for m in metrics {
                    m.get("type").and_then(|t| t.as_str()).ok_or("\"metrics[].type\" is required")?;
                    m.get("value").filter(|v| !v.is_null()).ok_or("\"metrics[].value\" is required")?;
                }
            }
        }
    }
    Ok(())
}

fn repo_id(ns: &str, name: &str) -> String {
    format!("{ns}/{name}")
}

fn info_json(repo: &Repo, rev: &str, blobs: bool) -> Result<Value> {
    let commit = repo.resolve(rev).ok_or_else(|| ApiError::revision_not_found(rev))?;
    let siblings: Vec<Value> = commit
        .files
        .iter()
        .map(|(p, f)| {
            let mut s = json!({"rfilename": p});
            if blobs {
                s["size"] = f.size.into();
                s["blobId"] = f.git_oid.clone().into();
                if f.lfs {
                    s["lfs"] = json!({"sha256": f.sha256, "size": f.size, "pointerSize": f.pointer().len()});
                }
            }
            s
        })
        .collect();
    let (ns, _) = repo.id.split_once('/').unwrap_or(("", ""));
    Ok(json!({
        "_id": format!("emu-{}", &commit.oid[..12]), "id": repo.id, "modelId": repo.id, "author": ns,
        "sha": commit.oid, "private": repo.private, "disabled": false, "gated": false,
        "lastModified": iso8601(commit.date), "createdAt": iso8601(repo.created),
        "tags": [], "downloads": 0, "likes": 0, "library_name": "peft",
        "siblings": siblings,
    }))
}

#[derive(Deserialize, Default)]
pub(crate) struct InfoQuery {
    blobs: Option<String>,
}

fn truthy(s: &Option<String>) -> bool {
    s.as_deref().is_some_and(|v| matches!(v, "1" | "true" | "True"))
}

pub(crate) async fn model_info(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Query<InfoQuery>,
) -> Result<Json<Value>> {
    info(state, headers, ns, name, "main".into(), q).await
}

pub(crate) async fn model_info_rev(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((ns, name, rev)): Path<(String, String, String)>,
    Query(q): Query<InfoQuery>,
) -> Result<Json<Value>> {
    info(state, headers, ns, name, rev, q).await
}

async fn info(state: AppState, headers: HeaderMap, ns: String, name: String, rev: String, q: InfoQuery) -> Result<Json<Value>> {
    let who = caller(&state, &headers)?;
    let id = repo_id(&ns, &name);
    let store = state.0.store.lock().expect("store lock");
    let repo = readable(store.repo(&id), &id, &who)?;
    Ok(Json(info_json(repo, &rev, truthy(&q.blobs))?))
}

#[derive(Deserialize, Default)]
pub(crate) struct TreeQuery {
    recursive: Option<String>,
}

pub(crate) async fn tree_root(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((ns, name, rev)): Path<(String, String, String)>,
    Query(q): Query<TreeQuery>,
) -> Result<Json<Value>> {
    tree(state, headers, ns, name, rev, String::new(), q)
}

pub(crate) async fn tree_path(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((ns, name, rev, path)): Path<(String, String, String, String)>,
    Query(q): Query<TreeQuery>,
) -> Result<Json<Value>> {
    tree(state, headers, ns, name, rev, path, q)
}

fn file_entry(path: &str, f: &FileRec) -> Value {
    let mut e = json!({"type": "file", "oid": f.git_oid, "size": f.size, "path": path});
    if f.lfs {
        e["lfs"] = json!({"oid": f.sha256, "size": f.size, "pointerSize": f.pointer().len()});
    }
    e
}

fn tree(state: AppState, headers: HeaderMap, ns: String, name: String, rev: String, path: String, q: TreeQuery) -> Result<Json<Value>> {
    let who = caller(&state, &headers)?;
    let id = repo_id(&ns, &name);
    let store = state.0.store.lock().expect("store lock");
    let repo = readable(store.repo(&id), &id, &who)?;
    let commit = repo.resolve(&rev).ok_or_else(|| ApiError::revision_not_found(&rev))?;
    let recursive = truthy(&q.recursive);
    let prefix = if path.is_empty() { String::new() } else { format!("{}/", path.trim_end_matches('/')) };
    if !prefix.is_empty() && !commit.files.keys().any(|p| p.starts_with(&prefix)) {
        return Err(ApiError::entry_not_found(&path, &commit.oid));
    }
    let mut dirs = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for (p, f) in &commit.files {
        let Some(rel) = p.strip_prefix(&prefix) else { continue };
        let segs: Vec<&str> = rel.split('/').collect();
        for i in 1..segs.len() {
            if recursive || i == 1 {
                dirs.insert(format!("{prefix}{}", segs[..i].join("/")));
            }
        }
        if recursive || segs.len() == 1 {
            out.push(file_entry(p, f));
        }
    }
    let mut all: Vec<Value> = dirs
        .into_iter()
        .map(|d| json!({"type": "directory", "oid": git_blob_sha1(format!("tree {d} {}", commit.oid).as_bytes()), "size": 0, "path": d}))
        .collect();
    all.extend(out);
    Ok(Json(Value::Array(all)))
}

pub(crate) async fn paths_info(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((ns, name, rev)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Json<Value>> {
    let who = caller(&state, &headers)?;
    let id = repo_id(&ns, &name);
    let paths: Vec<String> = if let Ok(v) = serde_json::from_slice::<Value>(&body) {
        v.get("paths").and_then(Value::as_array).map(|a| a.iter().filter_map(|p| p.as_str().map(str::to_string)).collect()).unwrap_or_default()
    } else {
        String::from_utf8_lossy(&body)
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .filter(|(k, _)| *k == "paths")
            .map(|(_, v)| percent_encoding::percent_decode_str(&v.replace('+', " ")).decode_utf8_lossy().into_owned())
            .collect()
    };
    let store = state.0.store.lock().expect("store lock");
    let repo = readable(store.repo(&id), &id, &who)?;
    let commit = repo.resolve(&rev).ok_or_else(|| ApiError::revision_not_found(&rev))?;
    let mut out = Vec::new();
    for p in paths {
        let p = p.trim_matches('/').to_string();
        if let Some(f) = commit.files.get(&p) {
            out.push(file_entry(&p, f));
        } else if commit.files.keys().any(|k| k.starts_with(&format!("{p}/"))) {
            out.push(json!({"type": "directory", "oid": git_blob_sha1(p.as_bytes()), "size": 0, "path": p}));
        }
    }
    Ok(Json(Value::Array(out)))
}

#[derive(Deserialize)]
struct PreuploadBody {
    files: Vec<PreuploadFile>,
}

#[derive(Deserialize)]
struct PreuploadFile {
    path: String,
    size: u64,
    #[serde(default)]
    sample: String,
}

pub(crate) async fn preupload(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((ns, name, rev)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Json<Value>> {
    let who = caller(&state, &headers)?;
    let id = repo_id(&ns, &name);
    let req: PreuploadBody = serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("preupload body: {e}")))?;
    let store = state.0.store.lock().expect("store lock");
    let repo = writable(store.repo(&id), &id, &who)?;
    let commit = repo.resolve(&rev).ok_or_else(|| ApiError::revision_not_found(&rev))?;
    let threshold = state.0.cfg.lfs_threshold;
    let files: Vec<Value> = req
        .files
        .iter()
        .map(|f| {
            let sample = base64::engine::general_purpose::STANDARD.decode(&f.sample).unwrap_or_default();
            let binary = sample.contains(&0);
            let lfs = f.size > 0 && (f.size >= threshold || store::matches_lfs_pattern(&f.path) || binary);
            let oid = commit.files.get(&f.path).map(|r| if lfs { r.sha256.clone() } else { r.git_oid.clone() });
            json!({"path": f.path, "uploadMode": if lfs { "lfs" } else { "regular" }, "shouldIgnore": false, "oid": oid})
        })
        .collect();
    Ok(Json(json!({"files": files})))
}

/// Refuses `..`, `.`, empty, absolute and `.git` paths.
pub(crate) fn valid_repo_path(p: &str) -> bool {
    !p.is_empty() && !p.starts_with('/') && p.split('/').all(|s| !s.is_empty() && s != "." && s != ".." && s != ".git")
}

pub(crate) async fn commit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((ns, name, rev)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Json<Value>> {
    let who = caller(&state, &headers)?;
    let id = repo_id(&ns, &name);
    let mut store = state.0.store.lock().expect("store lock");
    let repo = writable(store.repo(&id), &id, &who)?;
    let head = repo.branches.get(&rev).cloned().ok_or_else(|| ApiError::revision_not_found(&rev))?;
    let mut files = repo.commits[&head].files.clone();
    let text = std::str::from_utf8(&body).map_err(|_| ApiError::bad_request("commit body is not UTF-8"))?;
    let mut header: Option<Value> = None;
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).map_err(|e| ApiError::bad_request(format!("line {}: {e}", i + 1)))?;
        let key = v.get("key").and_then(Value::as_str).unwrap_or_default();
        let val = v.get("value").cloned().unwrap_or(Value::Null);
        let path = val.get("path").and_then(Value::as_str).unwrap_or_default().to_string();
        match key {
            "header" => header = Some(val),
            "file" | "lfsFile" | "deletedFile" if !valid_repo_path(&path) => {
                return Err(ApiError::bad_request(format!("line {}: invalid path {path:?}", i + 1)))
            }
            "file" => {
                if val.get("encoding").and_then(Value::as_str) != Some("base64") {
                    return Err(ApiError::bad_request(format!("line {}: only base64 encoding is supported", i + 1)));
                }
                let content = val.get("content").and_then(Value::as_str).unwrap_or_default();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(content)
                    .map_err(|e| ApiError::bad_request(format!("line {}: bad base64: {e}", i + 1)))?;
                let sha256 = store.put_object(&bytes).map_err(ApiError::internal)?;
                files.insert(path, FileRec { size: bytes.len() as u64, sha256, git_oid: git_blob_sha1(&bytes), lfs: false });
            }
            "lfsFile" => {
                let oid = val.get("oid").and_then(Value::as_str).unwrap_or_default().to_string();
                let stored = store.object_size(&oid).ok_or_else(|| ApiError::bad_request(format!("line {}: LFS object {oid} for {path} was not uploaded", i + 1)))?;
                if let Some(size) = val.get("size").and_then(Value::as_u64) {
                    if size != stored {
                        return Err(ApiError::bad_request(format!("line {}: LFS object {oid} has size {stored}, not {size}", i + 1)));
                    }
                }
                let pointer = store::lfs_pointer(&oid, stored);
                files.insert(path, FileRec { size: stored, sha256: oid, git_oid: git_blob_sha1(pointer.as_bytes()), lfs: true });
            }
            "deletedFile" => {
                files.remove(&path);
            }
            "deletedFolder" => {
                let prefix = format!("{}/", path.trim_end_matches('/'));
                files.retain(|k, _| !k.starts_with(&prefix));
            }
            other => return Err(ApiError::bad_request(format!("line {}: unknown key {other:?}", i + 1))),
        }
    }
    let header = header.ok_or_else(|| ApiError::bad_request("commit has no header line"))?;
    if let Some(parent) = header.get("parentCommit").and_then(Value::as_str) {
        if parent != head {
            return Err(ApiError::new(StatusCode::PRECONDITION_FAILED, format!("parentCommit {parent} is not the head {head} of {rev}")));
        }
    }
    let summary = header.get("summary").and_then(Value::as_str).unwrap_or("Upload files").to_string();
    let description = header.get("description").and_then(Value::as_str).unwrap_or_default().to_string();
    let oid = store.commit(&id, &rev, &summary, &description, files).map_err(ApiError::internal)?;
    Ok(Json(json!({
        "success": true,
        "commitOid": oid,
        "commitUrl": format!("{}/{id}/commit/{oid}", base_url(&headers)),
        "pullRequestUrl": null,
        "hookOutput": "",
    })))
}

pub(crate) async fn create_branch(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((ns, name, branch)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response> {
    let who = caller(&state, &headers)?;
    let id = repo_id(&ns, &name);
    let from = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("startingPoint").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| "main".into());
    let mut store = state.0.store.lock().expect("store lock");
    writable(store.repo(&id), &id, &who)?;
    if store.create_branch(&id, &branch, &from).map_err(ApiError::internal)? {
        Ok(Json(json!({})).into_response())
    } else {
        Ok(ApiError::new(StatusCode::CONFLICT, format!("Reference already exists: refs/heads/{branch}")).into_response())
    }
}
