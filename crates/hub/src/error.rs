//! Typed errors of the Hub client.

use std::path::PathBuf;

/// Everything that can go wrong while talking to the Hub or its local cache.
///
/// Messages never contain a token: at most the *source* of the token is named.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// No token could be found anywhere (flag, env, token file).
    #[error("no Hugging Face token found: pass --token, set HF_TOKEN, or run `hf auth login` (token file {token_file})")]
    NoToken {
        /// The token file that was looked at.
        token_file: String,
    },
    /// The server rejected the token (401 on whoami or elsewhere).
    #[error("invalid Hugging Face token (from {source_desc}): the Hub answered 401 {message}")]
    InvalidToken {
        /// Where the token came from, e.g. "HF_TOKEN".
        source_desc: String,
        /// Server message.
        message: String,
    },
    /// Authenticated but not allowed (403).
    #[error("forbidden: {method} {url}: {message} (does the token have write access to this namespace?)")]
    Forbidden {
        /// HTTP method.
        method: String,
        /// URL that was called.
        url: String,
        /// Server message.
        message: String,
    },
    /// The repository does not exist or is private and not visible to this token.
    #[error("repository not found: {repo_id} ({message}); check the repo id, and that your token can see it")]
    RepoNotFound {
        /// Repository id.
        repo_id: String,
        /// Server message.
        message: String,
    },
    /// The branch, tag or commit does not exist.
    #[error("revision not found: {revision} in {repo_id} ({message})")]
    RevisionNotFound {
        /// Repository id.
        repo_id: String,
        /// Revision.
        revision: String,
        /// Server message.
        message: String,
    },
    /// A file does not exist at that revision.
    #[error("file not found in repository: {url} ({message})")]
    EntryNotFound {
        /// URL that was called.
        url: String,
        /// Server message.
        message: String,
    },
    /// 409 Conflict.
    #[error("conflict: {method} {url}: {message}")]
    Conflict {
        /// HTTP method.
        method: String,
        /// URL that was called.
        url: String,
        /// Server message.
        message: String,
    },
    /// Any other HTTP error status.
    #[error("HTTP {status} from {method} {url}: {message}")]
    Http {
        /// Status code.
        status: u16,
        /// HTTP method.
        method: String,
        /// URL that was called.
        url: String,
        /// Server message.
        message: String,
    },
    /// The connection failed (after retries where the call is retried).
    #[error("cannot reach {url}: {message}")]
    Transport {
        /// URL that was called.
        url: String,
        /// Transport error text.
        message: String,
    },
    /// The server answered something this client cannot use.
    #[error("unexpected response from {url}: {message}")]
    InvalidResponse {
        /// URL that was called.
        url: String,
        /// What was wrong.
        message: String,
    },
    /// Downloaded bytes do not match the size or hash the server announced.
    #[error("integrity check failed for {path}: expected {expected}, got {got}")]
    Integrity {
        /// File in the repository.
        path: String,
        /// Expected value.
        expected: String,
        /// Actual value.
        got: String,
    },
    /// Offline mode (HF_HUB_OFFLINE) and the files are not in the cache.
    #[error("offline mode is enabled (HF_HUB_OFFLINE) and {what} is not in the cache at {cache}")]
    Offline {
        /// What was asked for.
        what: String,
        /// Cache directory looked at.
        cache: String,
    },
    /// A bad argument (repo id, path).
    #[error("invalid {what}: {message}")]
    InvalidArgument {
        /// Which argument.
        what: &'static str,
        /// Why.
        message: String,
    },
    /// Local I/O error.
    #[error("{path}: {source}")]
    Io {
        /// File or directory involved.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
}

impl HubError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        HubError::Io { path: path.into(), source }
    }
}
