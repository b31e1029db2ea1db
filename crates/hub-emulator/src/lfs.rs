//! Git LFS: batch API, basic and multipart uploads, verify.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use sha2::Digest as _;

use crate::api::writable;
use crate::store::hex;
use crate::{base_url, caller, ApiError, AppState};

type Result<T> = std::result::Result<T, ApiError>;

/// An upload the batch call handed out.
#[derive(Debug, Clone)]
pub(crate) struct PendingUpload {
    pub oid: String,
    pub size: u64,
    pub chunk_size: Option<u64>,
}

fn lfs_json(v: Value) -> Response {
    let mut r = Json(v).into_response();
    r.headers_mut().insert("content-type", HeaderValue::from_static("application/vnd.git-lfs+json"));
    r
}

fn upload_id(oid: &str) -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    hex(&sha2::Sha256::digest(format!("{oid}:{n}:{nanos}:{}", std::process::id())))
}

pub(crate) async fn batch(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((ns, name_git)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response> {
    let who = caller(&state, &headers)?;
    let name = name_git.strip_suffix(".git").ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "Not Found"))?;
    let id = format!("{ns}/{name}");
    let v: Value = serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("batch body: {e}")))?;
    if v.get("operation").and_then(Value::as_str) != Some("upload") {
        return Err(ApiError::bad_request("only the upload operation is supported"));
    }
    let transfers: Vec<&str> = v.get("transfers").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_else(|| vec!["basic"]);
    let objects = v.get("objects").and_then(Value::as_array).ok_or_else(|| ApiError::bad_request("batch has no objects"))?;
    let store = state.0.store.lock().expect("store lock");
    writable(store.repo(&id), &id, &who)?;
    let base = base_url(&headers);
    let mut out = Vec::new();
    let mut uploads = state.0.uploads.lock().expect("uploads lock");
    for o in objects {
        let oid = o.get("oid").and_then(Value::as_str).unwrap_or_default().to_string();
        let size = o.get("size").and_then(Value::as_u64).unwrap_or(0);
        if oid.len() != 64 || !oid.bytes().all(|b| b.is_ascii_hexdigit()) {
            out.push(json!({"oid": oid, "size": size, "error": {"code": 422, "message": "oid must be a sha256 hex digest"}}));
            continue;
        }
        if store.object_size(&oid) == Some(size) {
            out.push(json!({"oid": oid, "size": size}));
            continue;
        }
        let uid = upload_id(&oid);
        let chunk = state.0.cfg.multipart_chunk_size.filter(|c| *c > 0 && size > *c && transfers.contains(&"multipart"));
        let verify = json!({"href": format!("{base}/lfs-verify/{id}")});
        let upload = match chunk {
            None => json!({"href": format!("{base}/lfs-upload/{uid}")}),
            Some(c) => {
                let mut header = serde_json::Map::new();
                header.insert("chunk_size".into(), c.to_string().into());
                for n in 1..=size.div_ceil(c) {
                    header.insert(n.to_string(), format!("{base}/lfs-upload/{uid}/part/{n}").into());
                }
                json!({"href": format!("{base}/lfs-upload/{uid}"), "header": header})
            }
        };
        uploads.insert(uid, PendingUpload { oid: oid.clone(), size, chunk_size: chunk });
        out.push(json!({"oid": oid, "size": size, "authenticated": true, "actions": {"upload": upload, "verify": verify}}));
    }
    Ok(lfs_json(json!({"transfer": "basic", "objects": out, "hash_algo": "sha256"})))
}

fn store_checked(state: &AppState, up: &PendingUpload, bytes: &[u8]) -> Result<()> {
    if bytes.len() as u64 != up.size {
        return Err(ApiError::bad_request(format!("object {} should be {} bytes, got {}", up.oid, up.size, bytes.len())));
    }
    let store = state.0.store.lock().expect("store lock");
    let sha = hex(&sha2::Sha256::digest(bytes));
    if sha != up.oid {
        return Err(ApiError::bad_request(format!("content hashes to {sha}, not {}", up.oid)));
    }
    store.put_object(bytes).map_err(ApiError::internal)?;
    Ok(())
}

pub(crate) async fn put_object(State(state): State<AppState>, Path(uid): Path<String>, body: Bytes) -> Result<StatusCode> {
    let up = state.0.uploads.lock().expect("uploads lock").get(&uid).cloned().ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "unknown upload"))?;
    if up.chunk_size.is_some() {
        return Err(ApiError::bad_request("this object must be uploaded in parts"));
    }
    store_checked(&state, &up, &body)?;
    Ok(StatusCode::OK)
}

fn part_path(state: &AppState, uid: &str, n: u64) -> std::path::PathBuf {
    state.0.store.lock().expect("store lock").tmp_dir().join(format!("{uid}.part{n}"))
}

pub(crate) async fn put_part(State(state): State<AppState>, Path((uid, n)): Path<(String, u64)>, body: Bytes) -> Result<Response> {
    let up = state.0.uploads.lock().expect("uploads lock").get(&uid).cloned().ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "unknown upload"))?;
    let chunk = up.chunk_size.ok_or_else(|| ApiError::bad_request("not a multipart upload"))?;
    let parts = up.size.div_ceil(chunk);
    if n == 0 || n > parts {
        return Err(ApiError::bad_request(format!("part {n} out of 1..={parts}")));
    }
    let want = if n == parts { up.size - chunk * (parts - 1) } else { chunk };
    if body.len() as u64 != want {
        return Err(ApiError::bad_request(format!("part {n} should be {want} bytes, got {}", body.len())));
    }
    std::fs::write(part_path(&state, &uid, n), &body).map_err(ApiError::internal)?;
    let etag = format!("\"{}\"", &hex(&sha2::Sha256::digest(&body))[..32]);
    let mut r = StatusCode::OK.into_response();
    r.headers_mut().insert("etag", HeaderValue::from_str(&etag).map_err(ApiError::internal)?);
    Ok(r)
}

pub(crate) async fn complete_multipart(State(state): State<AppState>, Path(uid): Path<String>, body: Bytes) -> Result<Response> {
    let up = state.0.uploads.lock().expect("uploads lock").get(&uid).cloned().ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "unknown upload"))?;
    let chunk = up.chunk_size.ok_or_else(|| ApiError::bad_request("not a multipart upload"))?;
    let v: Value = serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("completion body: {e}")))?;
    if v.get("oid").and_then(Value::as_str) != Some(up.oid.as_str()) {
        return Err(ApiError::bad_request("completion oid does not match the upload"));
    }
    let parts = v.get("parts").and_then(Value::as_array).ok_or_else(|| ApiError::bad_request("completion has no parts"))?;
    let n_parts = up.size.div_ceil(chunk);
    if parts.len() as u64 != n_parts {
        return Err(ApiError::bad_request(format!("expected {n_parts} parts, got {}", parts.len())));
    }
    let mut all = Vec::with_capacity(up.size as usize);
    for (i, p) in parts.iter().enumerate() {
        let n = p.get("partNumber").and_then(Value::as_u64).unwrap_or(0);
        if n != i as u64 + 1 {
            return Err(ApiError::bad_request(format!("parts must be listed in order; got partNumber {n} at position {}", i + 1)));
        }
        let bytes = std::fs::read(part_path(&state, &uid, n)).map_err(|_| ApiError::bad_request(format!("part {n} was not uploaded")))?;
        let etag = format!("\"{}\"", &hex(&sha2::Sha256::digest(&bytes))[..32]);
        if p.get("etag").and_then(Value::as_str) != Some(etag.as_str()) {
            return Err(ApiError::bad_request(format!("part {n}: etag does not match")));
        }
        all.extend_from_slice(&bytes);
    }
    store_checked(&state, &up, &all)?;
    for n in 1..=n_parts {
        let _ = std::fs::remove_file(part_path(&state, &uid, n));
    }
    Ok(lfs_json(json!({})))
}

pub(crate) async fn verify(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response> {
    let who = caller(&state, &headers)?;
    let id = format!("{ns}/{name}");
    let v: Value = serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("verify body: {e}")))?;
    let oid = v.get("oid").and_then(Value::as_str).unwrap_or_default();
    let size = v.get("size").and_then(Value::as_u64);
    let store = state.0.store.lock().expect("store lock");
    writable(store.repo(&id), &id, &who)?;
    match (store.object_size(oid), size) {
        (Some(s), Some(want)) if s == want => Ok(lfs_json(json!({"oid": oid, "size": s}))),
        (Some(s), _) => Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("object {oid} has size {s}, not {size:?}"))),
        (None, _) => Err(ApiError::new(StatusCode::NOT_FOUND, format!("object {oid} is not stored"))),
    }
}
