//! Uploading files in one commit: preupload, LFS batch + PUT + verify, then the NDJSON commit.

use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Deserialize;
use serde_json::{json, Value};
use sha1::Digest as _;

use crate::client::{encode_revision, Body, HubClient, Req};
use crate::error::HubError;

/// Where a file's bytes come from.
#[derive(Debug, Clone)]
pub enum FileSource {
    /// A local file.
    Path(PathBuf),
    /// Bytes in memory (e.g. a generated README).
    Bytes(Vec<u8>),
}

/// One file to put in the commit.
#[derive(Debug, Clone)]
pub struct CommitFile {
    /// Path in the repository (`/` separators).
    pub path_in_repo: String,
    /// Content.
    pub source: FileSource,
}

/// A file with its hashes computed.
#[derive(Debug, Clone)]
pub struct PreparedFile {
    /// Path in the repository.
    pub path_in_repo: String,
    /// Content.
    pub source: FileSource,
    /// Size in bytes.
    pub size: u64,
    /// sha256 hex of the content (LFS oid).
    pub sha256: String,
    /// Git blob sha1 hex (`sha1("blob <len>\0" + bytes)`).
    pub git_sha1: String,
    /// First 512 bytes.
    pub sample: Vec<u8>,
}

/// Result of an upload.
#[derive(Debug, Clone)]
pub struct CommitInfo {
    /// Commit sha (the current head if nothing changed).
    pub commit_oid: String,
    /// Commit URL (empty if nothing changed).
    pub commit_url: String,
    /// Files that went through LFS.
    pub lfs_files: Vec<String>,
    /// Files sent inline.
    pub regular_files: Vec<String>,
    /// Files left out because the remote already had them.
    pub unchanged_files: Vec<String>,
}

/// Options of [`HubClient::upload_files`].
#[derive(Debug, Clone)]
pub struct UploadOptions {
    /// Branch to commit to.
    pub revision: String,
    /// Commit title.
    pub commit_message: String,
    /// Commit description.
    pub commit_description: String,
    /// Show a byte progress bar on stderr (only drawn on a terminal).
    pub progress: bool,
}

/// Lists every regular file under `dir` (sorted, `/`-separated relative paths), skipping `.git`
/// and `.cache/huggingface` like `huggingface_hub` does.
pub fn collect_folder(dir: &Path) -> Result<Vec<CommitFile>, HubError> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<CommitFile>) -> Result<(), HubError> {
        let rd = std::fs::read_dir(dir).map_err(|e| HubError::io(dir, e))?;
        let mut entries: Vec<_> = rd.collect::<Result<_, _>>().map_err(|e| HubError::io(dir, e))?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            let rel: Vec<String> = path
                .strip_prefix(root)
                .expect("walk stays under root")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let rel = rel.join("/");
            if rel == ".git" || rel.starts_with(".git/") || rel.ends_with("/.git") || rel.contains("/.git/") {
                continue;
            }
            if rel == ".cache/huggingface" || rel.starts_with(".cache/huggingface/") {
                continue;
            }
            let meta = std::fs::metadata(&path).map_err(|e| HubError::io(&path, e))?;
            if meta.is_dir() {
                walk(root, &path, out)?;
            } else if meta.is_file() {
                out.push(CommitFile { path_in_repo: rel, source: FileSource::Path(path) });
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort_by(|a, b| a.path_in_repo.cmp(&b.path_in_repo));
    Ok(out)
}

/// Hashes a file (sha256, git sha1, size, sample) in one pass.
pub fn prepare(file: CommitFile) -> Result<PreparedFile, HubError> {
    let mut sha256 = sha2::Sha256::new();
    let mut sample = Vec::with_capacity(512);
    let size;
    let git_sha1;
    match &file.source {
        FileSource::Bytes(b) => {
            size = b.len() as u64;
            sha256.update(b);
            sample.extend_from_slice(&b[..b.len().min(512)]);
            git_sha1 = git_blob_sha1(b);
        }
        FileSource::Path(p) => {
            let mut f = std::fs::File::open(p).map_err(|e| HubError::io(p, e))?;
            size = f.metadata().map_err(|e| HubError::io(p, e))?.len();
            let mut sha1 = sha1::Sha1::new();
            sha1.update(format!("blob {size}\0").as_bytes());
            let mut buf = vec![0u8; 1 << 20];
            let mut read_total = 0u64;
            loop {
                let n = f.read(&mut buf).map_err(|e| HubError::io(p, e))?;
                if n == 0 {
                    break;
                }
                if sample.len() < 512 {
                    let k = (512 - sample.len()).min(n);
                    sample.extend_from_slice(&buf[..k]);
                }
                sha256.update(&buf[..n]);
                sha1.update(&buf[..n]);
                read_total += n as u64;
            }
            if read_total != size {
                return Err(HubError::io(p, std::io::Error::other("file changed size while being read")));
            }
            git_sha1 = hex(&sha1.finalize());
        }
    }
    Ok(PreparedFile {
        path_in_repo: file.path_in_repo,
        source: file.source,
        size,
        sha256: hex(&sha256.finalize()),
        git_sha1,
        sample,
    })
}

/// `sha1("blob <len>\0" + bytes)` as hex.
pub fn git_blob_sha1(bytes: &[u8]) -> String {
    let mut h = sha1::Sha1::new();
    h.update(format!("blob {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    hex(&h.finalize())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Deserialize)]
struct PreuploadResponse {
    files: Vec<PreuploadFile>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PreuploadFile {
    path: String,
    upload_mode: String,
    #[serde(default)]
    should_ignore: bool,
    oid: Option<String>,
}

#[derive(Debug, Deserialize)]
struct BatchObject {
    oid: String,
    size: u64,
    #[serde(default)]
    actions: Option<BatchActions>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct BatchActions {
    upload: Option<BatchAction>,
    verify: Option<BatchAction>,
}

#[derive(Debug, Deserialize)]
struct BatchAction {
    href: String,
    #[serde(default)]
    header: serde_json::Map<String, Value>,
}

/// Checks a path in the repo the way the official client does.
pub fn validate_path_in_repo(path: &str) -> Result<(), HubError> {
    let bad = |m: &str| HubError::InvalidArgument { what: "path in repo", message: format!("{path:?}: {m}") };
    if path.is_empty() || path == "." || path.starts_with('/') {
        return Err(bad("must be a relative file path"));
    }
    for seg in path.split('/') {
        if seg == ".." || seg == "." || seg.is_empty() {
            return Err(bad("no empty, '.' or '..' segments"));
        }
        if seg == ".git" {
            return Err(bad("no '.git' segment"));
        }
    }
    Ok(())
}

impl HubClient {
    /// Uploads `files` to `repo_id` as ONE commit. Files the remote already has are left out;
    /// when nothing changed, no commit is made and the current head is returned.
    pub fn upload_files(&self, repo_id: &str, files: Vec<CommitFile>, opts: &UploadOptions) -> Result<CommitInfo, HubError> {
        crate::api::validate_repo_id(repo_id)?;
        let mut prepared = Vec::with_capacity(files.len());
        for f in files {
            validate_path_in_repo(&f.path_in_repo)?;
            prepared.push(prepare(f)?);
        }
        let rev = opts.revision.as_str();
        let rev_enc = encode_revision(rev);

        // 1. preupload: which files go through LFS, which are unchanged.
        let mut modes: Vec<(PreparedFile, bool)> = Vec::new(); // (file, is_lfs)
        let mut unchanged = Vec::new();
        for chunk in prepared.chunks(256) {
            let body = json!({"files": chunk.iter().map(|f| json!({
                "path": f.path_in_repo,
                "size": f.size,
                "sample": base64::engine::general_purpose::STANDARD.encode(&f.sample),
            })).collect::<Vec<_>>()});
            let bytes = serde_json::to_vec(&body).expect("json");
            let url = self.url(&format!("/api/models/{repo_id}/preupload/{rev_enc}"));
            let resp: PreuploadResponse =
                self.send_json(&Req::new("POST", url.clone()).json(&bytes).retry().repo(repo_id, Some(rev)))?;
            for f in chunk {
                let Some(info) = resp.files.iter().find(|p| p.path == f.path_in_repo) else {
                    return Err(HubError::InvalidResponse { url, message: format!("preupload has no entry for {}", f.path_in_repo) });
                };
                let is_lfs = match info.upload_mode.as_str() {
                    "lfs" => f.size > 0,
                    "regular" => false,
                    other => {
                        return Err(HubError::InvalidResponse { url, message: format!("unknown uploadMode {other:?}") })
                    }
                };
                if info.should_ignore {
                    continue;
                }
                let local = if is_lfs { &f.sha256 } else { &f.git_sha1 };
                if info.oid.as_deref() == Some(local.as_str()) {
                    unchanged.push(f.path_in_repo.clone());
                    continue;
                }
                modes.push((f.clone(), is_lfs));
            }
        }
        if modes.is_empty() {
            let head = self.repo_info(repo_id, Some(rev))?;
            return Ok(CommitInfo {
                commit_oid: head.sha.unwrap_or_default(),
                commit_url: String::new(),
                lfs_files: vec![],
                regular_files: vec![],
                unchanged_files: unchanged,
            });
        }

        // 2. LFS objects.
        let lfs: Vec<&PreparedFile> = modes.iter().filter(|(_, l)| *l).map(|(f, _)| f).collect();
        if !lfs.is_empty() {
            self.upload_lfs(repo_id, rev, &lfs, opts.progress)?;
        }

        // 3. the commit.
        let mut ndjson = Vec::new();
        let line = |key: &str, value: Value, out: &mut Vec<u8>| {
            serde_json::to_writer(&mut *out, &json!({"key": key, "value": value})).expect("json");
            out.push(b'\n');
        };
        line("header", json!({"summary": opts.commit_message, "description": opts.commit_description}), &mut ndjson);
        for (f, is_lfs) in &modes {
            if *is_lfs {
                line("lfsFile", json!({"path": f.path_in_repo, "algo": "sha256", "oid": f.sha256, "size": f.size}), &mut ndjson);
            } else {
                let bytes = match &f.source {
                    FileSource::Bytes(b) => b.clone(),
                    FileSource::Path(p) => std::fs::read(p).map_err(|e| HubError::io(p, e))?,
                };
                let content = base64::engine::general_purpose::STANDARD.encode(&bytes);
                line("file", json!({"path": f.path_in_repo, "content": content, "encoding": "base64"}), &mut ndjson);
            }
        }
        let url = self.url(&format!("/api/models/{repo_id}/commit/{rev_enc}"));
        let mut req = Req::new("POST", url).repo(repo_id, Some(rev));
        req.body = Body::Bytes(&ndjson, "application/x-ndjson");
        let resp: Value = self.send_json(&req)?;
        let commit_oid = resp.get("commitOid").and_then(Value::as_str).unwrap_or_default().to_string();
        if commit_oid.is_empty() {
            return Err(HubError::InvalidResponse { url: req.url.clone(), message: "commit answer has no commitOid".into() });
        }
        Ok(CommitInfo {
            commit_oid,
            commit_url: resp.get("commitUrl").and_then(Value::as_str).unwrap_or_default().to_string(),
            lfs_files: modes.iter().filter(|(_, l)| *l).map(|(f, _)| f.path_in_repo.clone()).collect(),
            regular_files: modes.iter().filter(|(_, l)| !*l).map(|(f, _)| f.path_in_repo.clone()).collect(),
            unchanged_files: unchanged,
        })
    }

    fn upload_lfs(&self, repo_id: &str, rev: &str, files: &[&PreparedFile], progress: bool) -> Result<(), HubError> {
        let total: u64 = files.iter().map(|f| f.size).sum();
        let pb = if progress { ProgressBar::new(total) } else { ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden()) };
        pb.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        pb.set_message("uploading LFS files");
        for chunk in files.chunks(256) {
            let body = json!({
                "operation": "upload",
                "transfers": ["basic", "multipart"],
                "objects": chunk.iter().map(|f| json!({"oid": f.sha256, "size": f.size})).collect::<Vec<_>>(),
                "hash_algo": "sha256",
                "ref": {"name": rev},
            });
            let bytes = serde_json::to_vec(&body).expect("json");
            let url = self.url(&format!("/{repo_id}.git/info/lfs/objects/batch"));
            let mut req = Req::new("POST", url.clone()).retry().repo(repo_id, Some(rev));
            req.body = Body::Bytes(&bytes, "application/vnd.git-lfs+json");
            req.headers.push(("Accept", "application/vnd.git-lfs+json".into()));
            let resp: Value = self.send_json(&req)?;
            let objects: Vec<BatchObject> = serde_json::from_value(resp.get("objects").cloned().unwrap_or(Value::Null))
                .map_err(|e| HubError::InvalidResponse { url: url.clone(), message: format!("LFS batch objects: {e}") })?;
            for f in chunk {
                let obj = objects.iter().find(|o| o.oid == f.sha256 && o.size == f.size).ok_or_else(|| {
                    HubError::InvalidResponse { url: url.clone(), message: format!("LFS batch has no object for {}", f.path_in_repo) }
                })?;
                if let Some(err) = &obj.error {
                    return Err(HubError::InvalidResponse { url: url.clone(), message: format!("LFS batch refused {}: {err}", f.path_in_repo) });
                }
                let Some(actions) = &obj.actions else {
                    pb.inc(f.size); // already stored
                    continue;
                };
                if let Some(up) = &actions.upload {
                    self.lfs_put(f, up, &pb)?;
                } else {
                    pb.inc(f.size);
                }
                if let Some(verify) = &actions.verify {
                    let body = serde_json::to_vec(&json!({"oid": f.sha256, "size": f.size})).expect("json");
                    let req = Req::new("POST", self.rewrite_href(&verify.href)).json(&body).retry();
                    self.send(&req)?;
                }
            }
        }
        pb.finish_and_clear();
        Ok(())
    }

    fn lfs_put(&self, f: &PreparedFile, up: &BatchAction, pb: &ProgressBar) -> Result<(), HubError> {
        let path = match &f.source {
            FileSource::Path(p) => p,
            FileSource::Bytes(b) => {
                // in-memory content (a generated README) is small: one basic PUT
                let mut req = Req::new("PUT", self.rewrite_href(&up.href)).retry();
                req.auth = false;
                req.body = Body::Bytes(b, "application/octet-stream");
                self.send(&req)?;
                pb.inc(f.size);
                return Ok(());
            }
        };
        let chunk_size = up.header.get("chunk_size").and_then(|v| v.as_str().and_then(|s| s.parse().ok()).or(v.as_u64()));
        let Some(chunk_size) = chunk_size.filter(|c: &u64| *c > 0) else {
            let mut req = Req::new("PUT", self.rewrite_href(&up.href)).retry();
            req.auth = false;
            req.body = Body::File { path: path.clone(), offset: 0, len: f.size, progress: Some(pb) };
            self.send(&req)?;
            return Ok(());
        };
        // multipart: numeric header keys are part URLs.
        let mut parts: Vec<(u64, String)> = up
            .header
            .iter()
            .filter_map(|(k, v)| Some((k.parse::<u64>().ok()?, v.as_str()?.to_string())))
            .collect();
        parts.sort_by_key(|(n, _)| *n);
        let expected = f.size.div_ceil(chunk_size);
        if parts.len() as u64 != expected {
            return Err(HubError::InvalidResponse {
                url: up.href.clone(),
                message: format!("multipart upload of {} needs {expected} part URLs, got {}", f.path_in_repo, parts.len()),
            });
        }
        let mut etags = Vec::new();
        for (i, (n, url)) in parts.iter().enumerate() {
            let offset = i as u64 * chunk_size;
            let len = chunk_size.min(f.size - offset);
            let mut req = Req::new("PUT", self.rewrite_href(url)).retry();
            req.auth = false;
            req.body = Body::File { path: path.clone(), offset, len, progress: Some(pb) };
            let resp = self.send(&req)?;
            let etag = resp.header("ETag").unwrap_or_default().to_string();
            if etag.is_empty() {
                return Err(HubError::InvalidResponse { url: req.url.clone(), message: "part upload answer has no ETag".into() });
            }
            etags.push(json!({"partNumber": n, "etag": etag}));
        }
        let body = serde_json::to_vec(&json!({"oid": f.sha256, "parts": etags})).expect("json");
        let mut req = Req::new("POST", self.rewrite_href(&up.href)).retry();
        req.auth = false;
        req.body = Body::Bytes(&body, "application/vnd.git-lfs+json");
        req.headers.push(("Accept", "application/vnd.git-lfs+json".into()));
        self.send(&req)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_sha1_matches_git() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(git_blob_sha1(b"hello\n"), "ce013625030ba8dba906f756967f9e9ca394464a");
        assert_eq!(git_blob_sha1(b""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
    }

    #[test]
    fn paths_in_repo() {
        assert!(validate_path_in_repo("a/b.json").is_ok());
        for bad in ["", ".", "/a", "a/../b", "a//b", ".git/config"] {
            assert!(validate_path_in_repo(bad).is_err(), "{bad}");
        }
    }
}
