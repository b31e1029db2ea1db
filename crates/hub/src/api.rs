//! Repository-level calls: whoami, create repo, revision info, tree listing.

use serde::Deserialize;

use crate::client::{encode_path, encode_revision, HubClient, Req};
use crate::error::HubError;

/// `GET /api/whoami-v2` answer (the fields we use).
#[derive(Debug, Clone, Deserialize)]
pub struct WhoAmI {
    /// User (or org) name: the default namespace.
    pub name: String,
    /// Organisations the user belongs to.
    #[serde(default)]
    pub orgs: Vec<OrgRef>,
}

/// An organisation in a whoami answer.
#[derive(Debug, Clone, Deserialize)]
pub struct OrgRef {
    /// Organisation name.
    pub name: String,
}

/// The `sha` and file list of one revision (`GET /api/models/{repo}/revision/{rev}`).
#[derive(Debug, Clone, Deserialize)]
pub struct RepoInfo {
    /// Repository id.
    pub id: String,
    /// Commit sha of the revision.
    pub sha: Option<String>,
    /// Private repository.
    #[serde(default)]
    pub private: bool,
    /// Files.
    #[serde(default)]
    pub siblings: Vec<Sibling>,
}

/// A file entry in [`RepoInfo`].
#[derive(Debug, Clone, Deserialize)]
pub struct Sibling {
    /// Path in the repo.
    pub rfilename: String,
}

/// One entry of the tree listing.
#[derive(Debug, Clone, Deserialize)]
pub struct TreeEntry {
    /// "file" or "directory".
    #[serde(rename = "type")]
    pub kind: String,
    /// Git object id (blob sha1 for files).
    pub oid: String,
    /// Size in bytes.
    #[serde(default)]
    pub size: u64,
    /// Path in the repo.
    pub path: String,
    /// LFS pointer info.
    pub lfs: Option<LfsInfo>,
}

/// LFS info of a tree entry.
#[derive(Debug, Clone, Deserialize)]
pub struct LfsInfo {
    /// sha256 of the content.
    pub oid: String,
    /// Size of the content.
    pub size: u64,
}

/// Checks a repo id: `name` or `namespace/name`, with Hub-safe characters.
pub fn validate_repo_id(repo_id: &str) -> Result<(), HubError> {
    let bad = |m: &str| HubError::InvalidArgument { what: "repo id", message: format!("{repo_id:?}: {m}") };
    let parts: Vec<&str> = repo_id.split('/').collect();
    if parts.len() > 2 {
        return Err(bad("expected `namespace/name`"));
    }
    for p in &parts {
        if p.is_empty() || p.len() > 96 {
            return Err(bad("each part must be 1 to 96 characters"));
        }
        if !p.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return Err(bad("only letters, digits, '-', '_' and '.' are allowed"));
        }
        if p.starts_with(['-', '.']) || p.ends_with(['-', '.']) || p.contains("--") || p.contains("..") {
            return Err(bad("'-' and '.' cannot start or end a part, and '--' and '..' are forbidden"));
        }
    }
    Ok(())
}

impl HubClient {
    /// `GET /api/whoami-v2`. Fails with [`HubError::NoToken`] without a request when no token is set.
    pub fn whoami(&self) -> Result<WhoAmI, HubError> {
        if self.token().is_none() {
            return Err(HubError::NoToken { token_file: crate::auth::token_path().display().to_string() });
        }
        self.send_json(&Req::new("GET", self.url("/api/whoami-v2")))
    }

    /// `POST /api/repos/create` with exist_ok semantics; returns the repo URL.
    pub fn create_repo(&self, repo_id: &str, private: bool) -> Result<String, HubError> {
        validate_repo_id(repo_id)?;
        let (org, name) = match repo_id.split_once('/') {
            Some((o, n)) => (Some(o), n),
            None => (None, repo_id),
        };
        let mut body = serde_json::json!({"name": name, "organization": org, "type": "model"});
        if private {
            body["visibility"] = "private".into();
            body["private"] = true.into();
        }
        let bytes = serde_json::to_vec(&body).expect("json");
        let req = Req::new("POST", self.url("/api/repos/create")).json(&bytes);
        match self.send_json::<serde_json::Value>(&req) {
            Ok(v) => Ok(v.get("url").and_then(|u| u.as_str()).unwrap_or_default().to_string()),
            Err(HubError::Conflict { .. }) => Ok(format!("{}/{}", self.endpoint(), repo_id)),
            Err(e @ (HubError::InvalidToken { .. } | HubError::Forbidden { .. })) => {
                // exist_ok fallback: the repo may exist even if we may not create repos here.
                match self.repo_info(repo_id, None) {
                    Ok(_) => Ok(format!("{}/{}", self.endpoint(), repo_id)),
                    Err(_) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// `POST /api/models/{repo}/branch/{branch}` from main; an existing branch is fine.
    pub fn create_branch(&self, repo_id: &str, branch: &str) -> Result<(), HubError> {
        let url = self.url(&format!("/api/models/{repo_id}/branch/{}", encode_revision(branch)));
        let body = b"{}";
        match self.send(&Req::new("POST", url).json(body).repo(repo_id, Some(branch))) {
            Ok(_) | Err(HubError::Conflict { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `GET /api/models/{repo}/revision/{rev}` (or `/api/models/{repo}` without revision).
    pub fn repo_info(&self, repo_id: &str, revision: Option<&str>) -> Result<RepoInfo, HubError> {
        let url = match revision {
            Some(r) => self.url(&format!("/api/models/{repo_id}/revision/{}", encode_revision(r))),
            None => self.url(&format!("/api/models/{repo_id}")),
        };
        self.send_json(&Req::new("GET", url).repo(repo_id, revision))
    }

    /// Recursive tree listing of a revision, following `Link: rel="next"` pagination.
    pub fn list_tree(&self, repo_id: &str, revision: &str) -> Result<Vec<TreeEntry>, HubError> {
        let mut url = Some(self.url(&format!(
            "/api/models/{repo_id}/tree/{}?recursive=true&expand=false",
            encode_revision(revision)
        )));
        let mut all = Vec::new();
        while let Some(u) = url.take() {
            let req = Req::new("GET", u).repo(repo_id, Some(revision)).retry();
            let resp = self.send(&req)?;
            url = resp.header("Link").and_then(next_link).map(|l| self.rewrite_href(&l));
            let page: Vec<TreeEntry> = crate::client::read_json(&req.url, resp)?;
            all.extend(page);
        }
        Ok(all)
    }

    /// URL of a file: `{endpoint}/{repo}/resolve/{rev}/{path}`.
    pub fn resolve_url(&self, repo_id: &str, revision: &str, path: &str) -> String {
        self.url(&format!("/{repo_id}/resolve/{}/{}", encode_revision(revision), encode_path(path)))
    }
}

/// Parses `<url>; rel="next"` out of a Link header.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        if params.contains("rel=\"next\"") {
            Some(url.trim().trim_start_matches('<').trim_end_matches('>').to_string())
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_ids() {
        assert!(validate_repo_id("alice/my-adapter_v1.2").is_ok());
        assert!(validate_repo_id("my-adapter").is_ok());
        for bad in ["", "a/b/c", "a/", "/b", "a/b c", "a/-b", "a/b..c", "a/b--c"] {
            assert!(validate_repo_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn link_header() {
        assert_eq!(next_link("<http://x/a?cursor=2>; rel=\"next\"").as_deref(), Some("http://x/a?cursor=2"));
        assert_eq!(next_link("<http://x/a>; rel=\"prev\""), None);
    }
}
