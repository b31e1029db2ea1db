//! `snapshot_download`: a whole repo revision into the standard HF cache layout.
//!
//! Layout (shared with `huggingface_hub`): `<cache>/models--{ns}--{name}/blobs/<etag>`,
//! `snapshots/<sha>/<path>` (relative symlinks to the blobs), `refs/<revision>` (the sha).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha1::Digest as _;

use crate::auth;
use crate::client::{ClientOptions, HubClient, Req};
use crate::error::HubError;
use crate::upload::hex;

/// Options of [`snapshot_download`]. `Default` reads everything from the environment.
#[derive(Debug, Clone, Default)]
pub struct DownloadOptions {
    /// Endpoint; default `HF_ENDPOINT` or `https://huggingface.co`.
    pub endpoint: Option<String>,
    /// Explicit token; default `HF_TOKEN`, then the token file.
    pub token: Option<String>,
    /// Hub cache dir; default `HF_HUB_CACHE` or `$HF_HOME/hub`.
    pub cache_dir: Option<PathBuf>,
    /// Offline mode; default from `HF_HUB_OFFLINE`.
    pub offline: Option<bool>,
    /// Client options override (tests: retry policy).
    pub client: Option<ClientOptions>,
}

/// The cache folder of a model repo: `<cache>/models--{ns}--{name}`.
pub fn repo_cache_dir(cache: &Path, repo_id: &str) -> PathBuf {
    cache.join(format!("models--{}", repo_id.replace('/', "--")))
}

fn is_commit_sha(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Looks a revision up in the cache only.
pub fn cached_snapshot(cache: &Path, repo_id: &str, revision: &str) -> Option<PathBuf> {
    let repo_dir = repo_cache_dir(cache, repo_id);
    let sha = if is_commit_sha(revision) {
        revision.to_string()
    } else {
        std::fs::read_to_string(repo_dir.join("refs").join(revision)).ok()?.trim().to_string()
    };
    let snap = repo_dir.join("snapshots").join(sha);
    snap.is_dir().then_some(snap)
}

/// Downloads every file of `repo_id` at `revision` (default "main") into the HF cache and returns
/// the snapshot folder. In offline mode, or when the Hub cannot be reached, a cached snapshot is
/// returned if there is one.
pub fn snapshot_download(repo_id: &str, revision: Option<&str>, opts: &DownloadOptions) -> Result<PathBuf, HubError> {
    crate::api::validate_repo_id(repo_id)?;
    let revision = revision.unwrap_or("main");
    let cache = opts.cache_dir.clone().unwrap_or_else(auth::hub_cache_dir);
    let offline = opts.offline.unwrap_or_else(auth::offline_from_env);
    if offline {
        return cached_snapshot(&cache, repo_id, revision).ok_or_else(|| HubError::Offline {
            what: format!("{repo_id}@{revision}"),
            cache: cache.display().to_string(),
        });
    }
    let client_opts = opts
        .client
        .clone()
        .unwrap_or_else(|| ClientOptions::from_env(opts.endpoint.as_deref(), opts.token.as_deref()));
    let client = HubClient::new(client_opts);
    match download_online(&client, &cache, repo_id, revision) {
        Err(e @ HubError::Transport { .. }) => cached_snapshot(&cache, repo_id, revision).ok_or(e),
        other => other,
    }
}

/// Resolves a `LORA_ADAPTERS` `source`: an existing local directory is used as is; anything else
/// is a Hub repo id, optionally `namespace/name@revision`, fetched with [`snapshot_download`].
pub fn resolve_source(source: &str, opts: &DownloadOptions) -> Result<PathBuf, HubError> {
    let local = Path::new(source);
    if local.is_dir() {
        return Ok(local.to_path_buf());
    }
    let (repo, rev) = match source.split_once('@') {
        Some((r, v)) if !v.is_empty() => (r, Some(v)),
        _ => (source, None),
    };
    crate::api::validate_repo_id(repo).map_err(|_| HubError::InvalidArgument {
        what: "adapter source",
        message: format!("{source:?} is neither an existing directory nor a Hub repo id (namespace/name[@revision])"),
    })?;
    snapshot_download(repo, rev, opts)
}

fn download_online(client: &HubClient, cache: &Path, repo_id: &str, revision: &str) -> Result<PathBuf, HubError> {
    let info = client.repo_info(repo_id, Some(revision))?;
    let url = client.url(&format!("/api/models/{repo_id}/revision/{revision}"));
    let sha = info.sha.filter(|s| is_commit_sha(s)).ok_or_else(|| HubError::InvalidResponse {
        url,
        message: "revision info has no 40-hex `sha`".into(),
    })?;
    let tree = client.list_tree(repo_id, &sha)?;
    let repo_dir = repo_cache_dir(cache, repo_id);
    let blobs = repo_dir.join("blobs");
    let snap = repo_dir.join("snapshots").join(&sha);
    for d in [&blobs, &snap] {
        std::fs::create_dir_all(d).map_err(|e| HubError::io(d, e))?;
    }
    let tag = cache.join("CACHEDIR.TAG");
    if !tag.exists() {
        let _ = std::fs::write(&tag, "Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by text2sql-hub.\n");
    }
    // Progress over the bytes still to download (drawn only when stderr is a terminal).
    let missing: u64 = tree
        .iter()
        .filter(|e| e.kind == "file")
        .map(|e| match &e.lfs {
            Some(l) => (l.oid.clone(), l.size),
            None => (e.oid.clone(), e.size),
        })
        .filter(|(etag, size)| std::fs::metadata(blobs.join(etag)).map(|m| m.len() != *size).unwrap_or(true))
        .map(|(_, size)| size)
        .sum();
    let pb = indicatif::ProgressBar::new(missing);
    pb.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_message(format!("downloading {repo_id}"));
    for entry in tree.iter().filter(|e| e.kind == "file") {
        crate::upload::validate_path_in_repo(&entry.path)?;
        let (etag, size) = match &entry.lfs {
            Some(l) => (l.oid.clone(), l.size),
            None => (entry.oid.clone(), entry.size),
        };
        if !etag.bytes().all(|b| b.is_ascii_hexdigit()) || etag.is_empty() {
            return Err(HubError::InvalidResponse { url: client.url("/tree"), message: format!("bad oid for {}", entry.path) });
        }
        let blob = blobs.join(&etag);
        if !blob.is_file() || std::fs::metadata(&blob).map(|m| m.len()).unwrap_or(u64::MAX) != size {
            fetch_blob(client, repo_id, &sha, &entry.path, &blob, size, entry.lfs.is_some(), &etag, &pb)?;
        }
        link_snapshot_file(&snap, &entry.path, &etag)?;
    }
    pb.finish_and_clear();
    if revision != sha {
        let refs = repo_dir.join("refs");
        let ref_file = refs.join(revision);
        if let Some(parent) = ref_file.parent() {
            std::fs::create_dir_all(parent).map_err(|e| HubError::io(parent, e))?;
        }
        std::fs::write(&ref_file, &sha).map_err(|e| HubError::io(&ref_file, e))?;
    }
    Ok(snap)
}

#[allow(clippy::too_many_arguments)]
fn fetch_blob(
    client: &HubClient,
    repo_id: &str,
    sha: &str,
    path: &str,
    blob: &Path,
    size: u64,
    is_lfs: bool,
    etag: &str,
    pb: &indicatif::ProgressBar,
) -> Result<(), HubError> {
    let tmp = blob.with_extension("incomplete");
    let mut out = std::fs::File::create(&tmp).map_err(|e| HubError::io(&tmp, e))?;
    let mut sha256 = sha2::Sha256::new();
    let mut gitsha = sha1::Sha1::new();
    gitsha.update(format!("blob {size}\0").as_bytes());
    let mut written = 0u64;
    if size > 0 {
        let mut req = Req::new("GET", client.resolve_url(repo_id, sha, path)).retry().repo(repo_id, Some(sha));
        req.headers.push(("X-HF-Download-Counter", "1".into()));
        let resp = client.send(&req)?;
        let mut reader = resp.into_reader();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = reader.read(&mut buf).map_err(|e| HubError::Transport { url: req.url.clone(), message: e.to_string() })?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n]).map_err(|e| HubError::io(&tmp, e))?;
            sha256.update(&buf[..n]);
            gitsha.update(&buf[..n]);
            written += n as u64;
            pb.inc(n as u64);
        }
    }
    out.sync_all().map_err(|e| HubError::io(&tmp, e))?;
    drop(out);
    let check = |expected: String, got: String| {
        if expected != got {
            let _ = std::fs::remove_file(&tmp);
            Err(HubError::Integrity { path: path.to_string(), expected, got })
        } else {
            Ok(())
        }
    };
    check(format!("{size} bytes"), format!("{written} bytes"))?;
    let got = if is_lfs { hex(&sha256.finalize()) } else { hex(&gitsha.finalize()) };
    check(etag.to_string(), got)?;
    std::fs::rename(&tmp, blob).map_err(|e| HubError::io(blob, e))
}

fn link_snapshot_file(snap: &Path, path: &str, etag: &str) -> Result<(), HubError> {
    let dest = snap.join(path);
    let depth = path.matches('/').count();
    let mut target = PathBuf::new();
    for _ in 0..depth + 2 {
        target.push("..");
    }
    target.push("blobs");
    target.push(etag);
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(|e| HubError::io(parent, e))?;
    }
    if std::fs::symlink_metadata(&dest).is_ok() {
        if std::fs::read_link(&dest).ok().as_deref() == Some(target.as_path()) {
            return Ok(());
        }
        std::fs::remove_file(&dest).map_err(|e| HubError::io(&dest, e))?;
    }
    make_link(&target, &dest)
}

#[cfg(unix)]
fn make_link(target: &Path, dest: &Path) -> Result<(), HubError> {
    std::os::unix::fs::symlink(target, dest).map_err(|e| HubError::io(dest, e))
}

#[cfg(not(unix))]
fn make_link(target: &Path, dest: &Path) -> Result<(), HubError> {
    // No symlinks: copy the blob like huggingface_hub does on Windows without developer mode.
    let blob = dest.parent().unwrap_or(Path::new(".")).join(target);
    std::fs::copy(&blob, dest).map(|_| ()).map_err(|e| HubError::io(dest, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_dir_names() {
        assert_eq!(repo_cache_dir(Path::new("/c"), "org/name"), PathBuf::from("/c/models--org--name"));
        assert!(is_commit_sha(&"a".repeat(40)));
        assert!(!is_commit_sha("main"));
    }

    #[test]
    fn offline_without_cache_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let opts = DownloadOptions { cache_dir: Some(dir.path().into()), offline: Some(true), ..Default::default() };
        let err = snapshot_download("a/b", None, &opts).unwrap_err();
        assert!(matches!(err, HubError::Offline { .. }), "{err}");
    }
}
