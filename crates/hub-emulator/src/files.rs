//! `resolve` downloads. Regular files are served directly; LFS files answer 302 to a same-origin
//! object URL (like the Hub's CDN redirect), with `X-Linked-Etag`/`X-Linked-Size` on both.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::api::readable;
use crate::{caller, ApiError, AppState};

type Result<T> = std::result::Result<T, ApiError>;

fn set(resp: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

/// Serves bytes with Range support (`bytes=N-` and `bytes=N-M`).
fn serve_bytes(bytes: Vec<u8>, headers: &HeaderMap) -> Response {
    let total = bytes.len() as u64;
    let range = headers.get("range").and_then(|r| r.to_str().ok()).and_then(|r| r.strip_prefix("bytes=")).and_then(|r| {
        let (a, b) = r.split_once('-')?;
        let start: u64 = a.trim().parse().ok()?;
        let end: u64 = if b.trim().is_empty() { total.saturating_sub(1) } else { b.trim().parse().ok()? };
        Some((start, end.min(total.saturating_sub(1))))
    });
    match range {
        Some((start, end)) if start <= end && start < total => {
            let slice = bytes[start as usize..=end as usize].to_vec();
            let mut r = (StatusCode::PARTIAL_CONTENT, slice).into_response();
            set(&mut r, "content-range", &format!("bytes {start}-{end}/{total}"));
            r
        }
        Some(_) => {
            let mut r = ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, "Requested Range Not Satisfiable").into_response();
            set(&mut r, "content-range", &format!("bytes */{total}"));
            r
        }
        None => (StatusCode::OK, bytes).into_response(),
    }
}

pub(crate) async fn resolve(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((ns, name, rev, path)): Path<(String, String, String, String)>,
) -> Result<Response> {
    let who = caller(&state, &headers)?;
    let id = format!("{ns}/{name}");
    let (file, commit_oid, object) = {
        let store = state.0.store.lock().expect("store lock");
        let repo = readable(store.repo(&id), &id, &who)?;
        let commit = repo.resolve(&rev).ok_or_else(|| ApiError::revision_not_found(&rev))?;
        let file = commit.files.get(&path).cloned().ok_or_else(|| ApiError::entry_not_found(&path, &commit.oid))?;
        let object = store.object_path(&file.sha256);
        (file, commit.oid.clone(), object)
    };
    if file.lfs {
        let mut r = StatusCode::FOUND.into_response();
        set(&mut r, "location", &format!("/lfs-objects/{id}/{}?commit={commit_oid}", file.sha256));
        set(&mut r, "x-repo-commit", &commit_oid);
        set(&mut r, "etag", &format!("\"{}\"", file.sha256));
        set(&mut r, "x-linked-etag", &format!("\"{}\"", file.sha256));
        set(&mut r, "x-linked-size", &file.size.to_string());
        return Ok(r);
    }
    let bytes = std::fs::read(&object).map_err(ApiError::internal)?;
    let mut r = serve_bytes(bytes, &headers);
    set(&mut r, "x-repo-commit", &commit_oid);
    set(&mut r, "etag", &format!("\"{}\"", file.git_oid));
    set(&mut r, "x-linked-size", &file.size.to_string());
    set(&mut r, "accept-ranges", "bytes");
    set(&mut r, "content-type", "application/octet-stream");
    Ok(r)
}

#[derive(serde::Deserialize)]
pub(crate) struct ObjQuery {
    commit: Option<String>,
}

/// The "CDN" side of an LFS redirect: a capability URL (the sha256), no auth needed.
pub(crate) async fn lfs_object(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((_ns, _name, sha)): Path<(String, String, String)>,
    axum::extract::Query(q): axum::extract::Query<ObjQuery>,
) -> Result<Response> {
    let path = {
        let store = state.0.store.lock().expect("store lock");
        store.object_size(&sha).ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no such object"))?;
        store.object_path(&sha)
    };
    let bytes = std::fs::read(&path).map_err(ApiError::internal)?;
    let size = bytes.len();
    let mut r = serve_bytes(bytes, &headers);
    if let Some(c) = q.commit {
        set(&mut r, "x-repo-commit", &c);
    }
    set(&mut r, "etag", &format!("\"{sha}\""));
    set(&mut r, "x-linked-etag", &format!("\"{sha}\""));
    set(&mut r, "x-linked-size", &size.to_string());
    set(&mut r, "accept-ranges", "bytes");
    set(&mut r, "content-type", "application/octet-stream");
    Ok(r)
}
