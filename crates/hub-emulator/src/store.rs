//! On-disk repository store: content-addressed objects plus one JSON file per repo.
//!
//! Layout under the data dir: `objects/<sha256>` (every file's bytes, regular or LFS),
//! `tmp/` (uploads in progress), `repos/<ns>/<name>.json` (branches and commits).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha1::Digest as _;

/// A file in a commit.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileRec {
    /// Size of the content.
    pub size: u64,
    /// sha256 of the content (names the object).
    pub sha256: String,
    /// Git blob sha1: of the content (regular) or of the LFS pointer (LFS).
    pub git_oid: String,
    /// Stored through LFS.
    pub lfs: bool,
}

impl FileRec {
    /// LFS pointer text.
    pub fn pointer(&self) -> String {
        lfs_pointer(&self.sha256, self.size)
    }
}

/// LFS pointer file content for an object.
pub fn lfs_pointer(sha256: &str, size: u64) -> String {
    format!("version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n")
}

/// One commit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Commit {
    /// 40-hex id.
    pub oid: String,
    /// Parent id.
    pub parent: Option<String>,
    /// Title.
    pub summary: String,
    /// Description.
    pub description: String,
    /// Unix seconds.
    pub date: u64,
    /// The full file set at this commit.
    pub files: BTreeMap<String, FileRec>,
}

/// One repository.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Repo {
    /// `ns/name`.
    pub id: String,
    /// Private.
    pub private: bool,
    /// Unix seconds.
    pub created: u64,
    /// Branch → commit id.
    pub branches: BTreeMap<String, String>,
    /// Every commit by id.
    pub commits: BTreeMap<String, Commit>,
}

impl Repo {
    /// Resolves a branch name or commit id.
    pub fn resolve(&self, rev: &str) -> Option<&Commit> {
        let oid = self.branches.get(rev).map(String::as_str).unwrap_or(rev);
        self.commits.get(oid)
    }
}

/// Current unix time in seconds.
pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// ISO-8601 UTC for unix seconds.
pub fn iso8601(secs: u64) -> String {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // civil from days (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.000Z", rem / 3600, (rem / 60) % 60, rem % 60)
}

/// Hex of bytes.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Git blob sha1.
pub fn git_blob_sha1(bytes: &[u8]) -> String {
    let mut h = sha1::Sha1::new();
    h.update(format!("blob {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    hex(&h.finalize())
}

/// The store.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    repos: BTreeMap<String, Repo>,
}

impl Store {
    /// Opens (and loads) a data dir.
    pub fn open(root: &Path) -> std::io::Result<Store> {
        for d in ["objects", "tmp", "repos"] {
            std::fs::create_dir_all(root.join(d))?;
        }
        let mut repos = BTreeMap::new();
        for ns in std::fs::read_dir(root.join("repos"))? {
            let ns = ns?;
            if !ns.file_type()?.is_dir() {
                continue;
            }
            for f in std::fs::read_dir(ns.path())? {
                let f = f?;
                if f.path().extension().is_some_and(|e| e == "json") {
                    let text = std::fs::read_to_string(f.path())?;
                    let repo: Repo = serde_json::from_str(&text)
                        .map_err(|e| std::io::Error::other(format!("{}: {e}", f.path().display())))?;
                    repos.insert(repo.id.clone(), repo);
                }
            }
        }
        Ok(Store { root: root.to_path_buf(), repos })
    }

    /// Data dir.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Path of an object.
    pub fn object_path(&self, sha256: &str) -> PathBuf {
        self.root.join("objects").join(sha256)
    }

    /// Temp dir for uploads.
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Size of a stored object, if stored.
    pub fn object_size(&self, sha256: &str) -> Option<u64> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        std::fs::metadata(self.object_path(sha256)).ok().map(|m| m.len())
    }

    /// Stores bytes; returns their sha256.
    pub fn put_object(&self, bytes: &[u8]) -> std::io::Result<String> {
        let sha = hex(&sha2::Sha256::digest(bytes));
        let path = self.object_path(&sha);
        if !path.exists() {
            let tmp = self.tmp_dir().join(format!("{sha}.{}", std::process::id()));
            std::fs::write(&tmp, bytes)?;
            std::fs::rename(&tmp, &path)?;
        }
        Ok(sha)
    }

    /// A repo by id.
    pub fn repo(&self, id: &str) -> Option<&Repo> {
        self.repos.get(id)
    }

    /// Creates a repo with an initial commit holding `.gitattributes`; None if it exists.
    pub fn create_repo(&mut self, id: &str, private: bool) -> std::io::Result<Option<&Repo>> {
        if self.repos.contains_key(id) {
            return Ok(None);
        }
        let attrs = DEFAULT_GITATTRIBUTES.as_bytes();
        let sha = self.put_object(attrs)?;
        let mut files = BTreeMap::new();
        files.insert(
            ".gitattributes".to_string(),
            FileRec { size: attrs.len() as u64, sha256: sha, git_oid: git_blob_sha1(attrs), lfs: false },
        );
        let t = now();
        let oid = commit_id(None, "initial commit", t, &files);
        let commit = Commit { oid: oid.clone(), parent: None, summary: "initial commit".into(), description: String::new(), date: t, files };
        let mut repo = Repo { id: id.to_string(), private, created: t, branches: BTreeMap::new(), commits: BTreeMap::new() };
        repo.branches.insert("main".into(), oid.clone());
        repo.commits.insert(oid, commit);
        self.repos.insert(id.to_string(), repo);
        self.save(id)?;
        Ok(self.repos.get(id))
    }

    /// Adds a commit on `branch` with the given new file set.
    pub fn commit(&mut self, id: &str, branch: &str, summary: &str, description: &str, files: BTreeMap<String, FileRec>) -> std::io::Result<String> {
        let repo = self.repos.get_mut(id).ok_or_else(|| std::io::Error::other("no such repo"))?;
        let parent = repo.branches.get(branch).cloned();
        let t = now();
        let oid = commit_id(parent.as_deref(), summary, t, &files);
        repo.commits.insert(
            oid.clone(),
            Commit { oid: oid.clone(), parent, summary: summary.into(), description: description.into(), date: t, files },
        );
        repo.branches.insert(branch.to_string(), oid.clone());
        self.save(id)?;
        Ok(oid)
    }

    /// Creates `branch` at the head of `from`. False if it already exists.
    pub fn create_branch(&mut self, id: &str, branch: &str, from: &str) -> std::io::Result<bool> {
        let repo = self.repos.get_mut(id).ok_or_else(|| std::io::Error::other("no such repo"))?;
        if repo.branches.contains_key(branch) {
            return Ok(false);
        }
        let Some(c) = repo.resolve(from).map(|c| c.oid.clone()) else { return Ok(false) };
        repo.branches.insert(branch.to_string(), c);
        self.save(id)?;
        Ok(true)
    }

    fn save(&self, id: &str) -> std::io::Result<()> {
        let repo = &self.repos[id];
        let path = self.root.join("repos").join(format!("{id}.json"));
        std::fs::create_dir_all(path.parent().expect("repo path has a parent"))?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(repo).map_err(std::io::Error::other)?)?;
        std::fs::rename(tmp, path)
    }
}

fn commit_id(parent: Option<&str>, summary: &str, t: u64, files: &BTreeMap<String, FileRec>) -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut h = sha1::Sha1::new();
    h.update(format!("{parent:?}\n{summary}\n{t}\n{n}\n{}\n", std::process::id()));
    for (p, f) in files {
        h.update(format!("{p}\0{}\0", f.git_oid));
    }
    hex(&h.finalize())
}

/// The `.gitattributes` every new model repo starts with (LFS rules, as on the Hub).
pub const DEFAULT_GITATTRIBUTES: &str = "*.bin filter=lfs diff=lfs merge=lfs -text
*.safetensors filter=lfs diff=lfs merge=lfs -text
*.pt filter=lfs diff=lfs merge=lfs -text
*.pth filter=lfs diff=lfs merge=lfs -text
*.ckpt filter=lfs diff=lfs merge=lfs -text
*.gguf filter=lfs diff=lfs merge=lfs -text
*.onnx filter=lfs diff=lfs merge=lfs -text
*.h5 filter=lfs diff=lfs merge=lfs -text
*.msgpack filter=lfs diff=lfs merge=lfs -text
*.zip filter=lfs diff=lfs merge=lfs -text
*.tar.gz filter=lfs diff=lfs merge=lfs -text
";

/// True when a path matches one of the default LFS patterns.
pub fn matches_lfs_pattern(path: &str) -> bool {
    DEFAULT_GITATTRIBUTES.lines().filter_map(|l| l.split_whitespace().next()).any(|pat| {
        pat.strip_prefix('*').is_some_and(|suffix| path.ends_with(suffix))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_700_000_000), "2023-11-14T22:13:20.000Z");
    }

    #[test]
    fn lfs_patterns() {
        assert!(matches_lfs_pattern("adapter_model.safetensors"));
        assert!(matches_lfs_pattern("sub/x.tar.gz"));
        assert!(!matches_lfs_pattern("README.md"));
    }

    #[test]
    fn repos_persist() {
        let dir = tempfile_dir();
        {
            let mut s = Store::open(&dir).unwrap();
            s.create_repo("a/b", true).unwrap().unwrap();
        }
        let s = Store::open(&dir).unwrap();
        let r = s.repo("a/b").unwrap();
        assert!(r.private);
        assert!(r.resolve("main").unwrap().files.contains_key(".gitattributes"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("hub-emulator-test-{}-{}", std::process::id(), now()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
