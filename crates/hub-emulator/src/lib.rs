//! A local stand-in for the Hugging Face Hub, for tests.
//!
//! It speaks the subset of the Hub HTTP API described in `shared/contracts/hub-api.md`: whoami,
//! repo creation, preupload, LFS batch/upload/verify (basic and multipart), NDJSON commits, repo
//! info, tree and paths-info listings, `resolve` downloads with the headers `huggingface_hub`
//! expects, and validate-yaml. Repos live on disk; tokens are given as `NAME=TOKEN`, and a token
//! may write only to its own namespace. Tests run [`app`] in-process through [`spawn`].
#![deny(missing_docs)]

mod api;
mod error;
mod files;
pub mod fixtures;
mod lfs;
pub mod store;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;

pub use error::ApiError;
use store::Store;

/// Emulator settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where repos and objects are stored.
    pub data_dir: PathBuf,
    /// (user name, token) pairs.
    pub tokens: Vec<(String, String)>,
    /// Files at least this large are "lfs" in preupload (besides the `.gitattributes` patterns).
    pub lfs_threshold: u64,
    /// LFS objects larger than this are uploaded multipart with parts of this size.
    pub multipart_chunk_size: Option<u64>,
}

impl Config {
    /// Defaults: 10 MB LFS threshold, multipart above 64 MiB in 64 MiB parts.
    pub fn new(data_dir: PathBuf, tokens: Vec<(String, String)>) -> Config {
        Config { data_dir, tokens, lfs_threshold: 10 * 1000 * 1000, multipart_chunk_size: Some(64 * 1024 * 1024) }
    }
}

/// A fault to inject: the next `remaining` requests whose path starts with `path_prefix` get
/// `status`.
#[derive(Debug, Clone)]
pub struct Fault {
    /// HTTP method, e.g. "POST".
    pub method: String,
    /// Path prefix.
    pub path_prefix: String,
    /// How many requests fail.
    pub remaining: usize,
    /// Status to answer.
    pub status: u16,
}

pub(crate) struct Inner {
    pub cfg: Config,
    pub store: Mutex<Store>,
    pub uploads: Mutex<HashMap<String, lfs::PendingUpload>>,
    faults: Mutex<Vec<Fault>>,
    log: Mutex<Vec<String>>,
}

/// Shared state of the emulator (cheap to clone).
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<Inner>);

impl AppState {
    /// Opens the data dir.
    pub fn new(cfg: Config) -> std::io::Result<AppState> {
        let store = Store::open(&cfg.data_dir)?;
        Ok(AppState(Arc::new(Inner {
            cfg,
            store: Mutex::new(store),
            uploads: Mutex::new(HashMap::new()),
            faults: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
        })))
    }

    /// Adds a fault.
    pub fn inject_fault(&self, fault: Fault) {
        self.0.faults.lock().expect("faults lock").push(fault);
    }

    /// Every request seen so far, as "METHOD /path".
    pub fn requests(&self) -> Vec<String> {
        self.0.log.lock().expect("log lock").clone()
    }

    /// The commit ids of a branch's history, newest first.
    pub fn history(&self, repo_id: &str, branch: &str) -> Vec<(String, String)> {
        let store = self.0.store.lock().expect("store lock");
        let Some(repo) = store.repo(repo_id) else { return vec![] };
        let mut out = Vec::new();
        let mut cur = repo.branches.get(branch).cloned();
        while let Some(oid) = cur {
            let c = &repo.commits[&oid];
            out.push((oid.clone(), c.summary.clone()));
            cur = c.parent.clone();
        }
        out
    }

    pub(crate) fn user_for_token(&self, token: &str) -> Option<String> {
        self.0.cfg.tokens.iter().find(|(_, t)| t == token).map(|(u, _)| u.clone())
    }
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Caller {
    Anonymous,
    User(String),
}

impl Caller {
    pub fn name(&self) -> Option<&str> {
        match self {
            Caller::Anonymous => None,
            Caller::User(u) => Some(u),
        }
    }
}

/// Reads the Authorization header: no header is anonymous, an unknown token is a 401.
pub(crate) fn caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let Some(v) = headers.get("authorization") else { return Ok(Caller::Anonymous) };
    let v = v.to_str().map_err(|_| ApiError::invalid_credentials())?;
    let token = v.strip_prefix("Bearer ").ok_or_else(ApiError::invalid_credentials)?.trim();
    state.user_for_token(token).map(Caller::User).ok_or_else(ApiError::invalid_credentials)
}

/// Base URL the client used to reach us (for hrefs), from the Host header.
pub(crate) fn base_url(headers: &HeaderMap) -> String {
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    format!("http://{host}")
}

async fn record_and_inject(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    state.0.log.lock().expect("log lock").push(format!("{method} {path}"));
    let injected = {
        let mut faults = state.0.faults.lock().expect("faults lock");
        let hit = faults.iter_mut().find(|f| f.remaining > 0 && f.method == method && path.starts_with(&f.path_prefix));
        hit.map(|f| {
            f.remaining -= 1;
            f.status
        })
    };
    if let Some(status) = injected {
        let status = axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::SERVICE_UNAVAILABLE);
        return ApiError::new(status, "injected fault").into_response();
    }
    next.run(req).await
}

/// The router.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/api/whoami-v2", get(api::whoami))
        .route("/api/repos/create", post(api::create_repo))
        .route("/api/validate-yaml", post(api::validate_yaml))
        .route("/api/models/{ns}/{name}", get(api::model_info))
        .route("/api/models/{ns}/{name}/revision/{rev}", get(api::model_info_rev))
        .route("/api/models/{ns}/{name}/tree/{rev}", get(api::tree_root))
        .route("/api/models/{ns}/{name}/tree/{rev}/{*path}", get(api::tree_path))
        .route("/api/models/{ns}/{name}/paths-info/{rev}", post(api::paths_info))
        .route("/api/models/{ns}/{name}/preupload/{rev}", post(api::preupload))
        .route("/api/models/{ns}/{name}/commit/{rev}", post(api::commit))
        .route("/api/models/{ns}/{name}/branch/{branch}", post(api::create_branch))
        .route("/{ns}/{name}/info/lfs/objects/batch", post(lfs::batch))
        .route("/lfs-upload/{id}", put(lfs::put_object).post(lfs::complete_multipart))
        .route("/lfs-upload/{id}/part/{n}", put(lfs::put_part))
        .route("/lfs-verify/{ns}/{name}", post(lfs::verify))
        .route("/lfs-objects/{ns}/{name}/{sha}", get(files::lfs_object))
        .route("/{ns}/{name}/resolve/{rev}/{*path}", get(files::resolve))
        .fallback(api::not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), record_and_inject))
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

/// A running in-process emulator (for tests); it stops when the process exits.
pub struct Running {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Bound address.
    pub addr: SocketAddr,
    /// The state, to inspect requests or inject faults.
    pub state: AppState,
}

/// Starts the emulator on 127.0.0.1 with an OS-assigned port, on a background thread.
pub fn spawn(cfg: Config) -> std::io::Result<Running> {
    let state = AppState::new(cfg)?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let router = app(state.clone());
    std::thread::Builder::new().name("hub-emulator".into()).spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            axum::serve(listener, router).await.expect("serve");
        });
    })?;
    Ok(Running { url: format!("http://{addr}"), addr, state })
}
