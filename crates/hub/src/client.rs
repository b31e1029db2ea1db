//! Blocking HTTP client for the Hub API: auth header, retries with backoff, error mapping.

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use indicatif::ProgressBar;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::de::DeserializeOwned;

use crate::auth::{self, Token};
use crate::error::HubError;

/// Everything except unreserved characters is escaped (revisions: `refs/pr/1` → `refs%2Fpr%2F1`).
const STRICT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
/// Same, but `/` is kept (file paths in `/resolve/` URLs).
const PATH: &AsciiSet = &STRICT.remove(b'/');

/// Percent-encodes a revision (no safe characters).
pub fn encode_revision(rev: &str) -> String {
    utf8_percent_encode(rev, STRICT).to_string()
}

/// Percent-encodes a file path, keeping `/`.
pub fn encode_path(path: &str) -> String {
    utf8_percent_encode(path, PATH).to_string()
}

/// Retry policy for idempotent calls: statuses 408, 429, 500, 502, 503, 504 and network errors.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first try.
    pub max_retries: u32,
    /// First sleep; doubles each time up to `max_delay`.
    pub base_delay: Duration,
    /// Longest sleep.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { max_retries: 5, base_delay: Duration::from_secs(1), max_delay: Duration::from_secs(8) }
    }
}

impl RetryPolicy {
    fn delay(&self, attempt: u32) -> Duration {
        let d = self.base_delay.saturating_mul(1u32 << attempt.min(16));
        d.min(self.max_delay)
    }
}

/// How a client is configured.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Hub endpoint without trailing `/`.
    pub endpoint: String,
    /// Token to send, if any.
    pub token: Option<Token>,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Read/write timeout per I/O step.
    pub io_timeout: Duration,
}

impl ClientOptions {
    /// Endpoint from `HF_ENDPOINT` (or `endpoint` when given), token resolved as documented in
    /// [`crate::auth`] with `token` as the explicit one.
    pub fn from_env(endpoint: Option<&str>, token: Option<&str>) -> ClientOptions {
        ClientOptions {
            endpoint: endpoint
                .map(|e| e.trim_end_matches('/').to_string())
                .unwrap_or_else(auth::endpoint_from_env),
            token: auth::resolve_token(token),
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(30),
            io_timeout: Duration::from_secs(120),
        }
    }
}

/// A request body.
pub(crate) enum Body<'a> {
    None,
    Bytes(&'a [u8], &'a str),
    /// A file slice sent with Content-Length, reopened on every try.
    File { path: PathBuf, offset: u64, len: u64, progress: Option<&'a ProgressBar> },
}

/// One request.
pub(crate) struct Req<'a> {
    pub method: &'a str,
    pub url: String,
    pub body: Body<'a>,
    pub auth: bool,
    pub retry: bool,
    pub headers: Vec<(&'a str, String)>,
    /// Repository id for error messages.
    pub repo_id: Option<&'a str>,
    pub revision: Option<&'a str>,
}

impl<'a> Req<'a> {
    pub fn new(method: &'a str, url: String) -> Self {
        Req { method, url, body: Body::None, auth: true, retry: false, headers: Vec::new(), repo_id: None, revision: None }
    }
    pub fn json(mut self, body: &'a [u8]) -> Self {
        self.body = Body::Bytes(body, "application/json");
        self
    }
    pub fn retry(mut self) -> Self {
        self.retry = true;
        self
    }
    pub fn repo(mut self, repo_id: &'a str, revision: Option<&'a str>) -> Self {
        self.repo_id = Some(repo_id);
        self.revision = revision;
        self
    }
}

/// The Hub client.
pub struct HubClient {
    opts: ClientOptions,
    agent: ureq::Agent,
}

fn retryable(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

impl HubClient {
    /// Builds a client.
    pub fn new(opts: ClientOptions) -> HubClient {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(opts.connect_timeout)
            .timeout_read(opts.io_timeout)
            .timeout_write(opts.io_timeout)
            .user_agent(concat!("text2sql/", env!("CARGO_PKG_VERSION"), "; hf_hub-compatible"))
            .build();
        HubClient { opts, agent }
    }

    /// The endpoint, without trailing `/`.
    pub fn endpoint(&self) -> &str {
        &self.opts.endpoint
    }

    /// The token in use, if any.
    pub fn token(&self) -> Option<&Token> {
        self.opts.token.as_ref()
    }

    /// Builds `endpoint + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.opts.endpoint, path)
    }

    /// Rewrites `https://huggingface.co` hrefs to the configured endpoint.
    pub(crate) fn rewrite_href(&self, href: &str) -> String {
        match href.strip_prefix(auth::DEFAULT_ENDPOINT) {
            Some(rest) if self.opts.endpoint != auth::DEFAULT_ENDPOINT => format!("{}{}", self.opts.endpoint, rest),
            _ => href.to_string(),
        }
    }

    /// Sends a request, retrying as configured; returns the successful response.
    pub(crate) fn send(&self, req: &Req<'_>) -> Result<ureq::Response, HubError> {
        let mut attempt = 0u32;
        loop {
            let start_pos = match &req.body {
                Body::File { progress: Some(pb), .. } => Some(pb.position()),
                _ => None,
            };
            let result = self.send_once(req);
            let can_retry = req.retry && attempt < self.opts.retry.max_retries;
            match result {
                Ok(resp) => return Ok(resp),
                Err(ureq::Error::Status(code, resp)) if can_retry && retryable(code) => {
                    let wait = retry_after(&resp).unwrap_or_else(|| self.opts.retry.delay(attempt));
                    drop(resp);
                    self.before_retry(req, start_pos, wait, &format!("HTTP {code}"));
                }
                Err(ureq::Error::Status(code, resp)) => return Err(self.map_status(req, code, resp)),
                Err(ureq::Error::Transport(t)) if can_retry => {
                    self.before_retry(req, start_pos, self.opts.retry.delay(attempt), &t.to_string());
                }
                Err(ureq::Error::Transport(t)) => {
                    return Err(HubError::Transport { url: req.url.clone(), message: t.to_string() })
                }
            }
            attempt += 1;
        }
    }

    fn before_retry(&self, req: &Req<'_>, start_pos: Option<u64>, wait: Duration, why: &str) {
        if let (Body::File { progress: Some(pb), .. }, Some(pos)) = (&req.body, start_pos) {
            pb.set_position(pos);
        }
        eprintln!("warning: {} {} failed ({why}); retrying in {:.1}s", req.method, req.url, wait.as_secs_f64());
        std::thread::sleep(wait);
    }

    #[allow(clippy::result_large_err)] // ureq's own error type, consumed right away by `send`
    fn send_once(&self, req: &Req<'_>) -> Result<ureq::Response, ureq::Error> {
        let mut r = self.agent.request(req.method, &req.url);
        if req.auth {
            if let Some(t) = &self.opts.token {
                r = r.set("Authorization", &format!("Bearer {}", t.secret()));
            }
        }
        for (k, v) in &req.headers {
            r = r.set(k, v);
        }
        match &req.body {
            Body::None => r.call(),
            Body::Bytes(b, ct) => {
                if !req.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
                    r = r.set("Content-Type", ct);
                }
                r.send_bytes(b)
            }
            Body::File { path, offset, len, progress } => {
                use std::io::{Seek, SeekFrom};
                let mut f = std::fs::File::open(path)
                    .map_err(|e| ureq::Error::from(std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))))?;
                f.seek(SeekFrom::Start(*offset)).map_err(ureq::Error::from)?;
                let reader = f.take(*len);
                r = r.set("Content-Length", &len.to_string());
                match progress {
                    Some(pb) => r.send(pb.wrap_read(reader)),
                    None => r.send(reader),
                }
            }
        }
    }

    fn map_status(&self, req: &Req<'_>, status: u16, resp: ureq::Response) -> HubError {
        let code = resp.header("X-Error-Code").map(str::to_string);
        let header_msg = resp.header("X-Error-Message").map(str::to_string);
        let mut body = String::new();
        let _ = resp.into_reader().take(64 * 1024).read_to_string(&mut body);
        let message = header_msg.unwrap_or_else(|| error_message_from_body(&body));
        let method = req.method.to_string();
        let url = req.url.clone();
        let repo_id = req.repo_id.unwrap_or("").to_string();
        match code.as_deref() {
            Some("RevisionNotFound") => {
                return HubError::RevisionNotFound { repo_id, revision: req.revision.unwrap_or("").to_string(), message }
            }
            Some("EntryNotFound") => return HubError::EntryNotFound { url, message },
            Some("RepoNotFound") => return HubError::RepoNotFound { repo_id, message },
            _ => {}
        }
        match status {
            401 => HubError::InvalidToken {
                source_desc: self.opts.token.as_ref().map(|t| t.source.to_string()).unwrap_or_else(|| "no token".into()),
                message,
            },
            403 => HubError::Forbidden { method, url, message },
            404 if req.repo_id.is_some() => HubError::RepoNotFound { repo_id, message },
            409 => HubError::Conflict { method, url, message },
            _ => HubError::Http { status, method, url, message },
        }
    }

    /// Sends and parses a JSON answer.
    pub(crate) fn send_json<T: DeserializeOwned>(&self, req: &Req<'_>) -> Result<T, HubError> {
        let resp = self.send(req)?;
        read_json(&req.url, resp)
    }
}

pub(crate) fn read_json<T: DeserializeOwned>(url: &str, resp: ureq::Response) -> Result<T, HubError> {
    let mut body = Vec::new();
    resp.into_reader()
        .read_to_end(&mut body)
        .map_err(|e| HubError::Transport { url: url.to_string(), message: e.to_string() })?;
    serde_json::from_slice(&body).map_err(|e| HubError::InvalidResponse { url: url.to_string(), message: e.to_string() })
}

fn retry_after(resp: &ureq::Response) -> Option<Duration> {
    let v: u64 = resp.header("Retry-After")?.trim().parse().ok()?;
    Some(Duration::from_secs(v.min(60) + 1))
}

/// Extracts a message from `{"error": ".."}`, `{"error": [..]}`, `{"errors": [{"message"}]}` or text.
fn error_message_from_body(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
        if let Some(s) = v.get("error").and_then(|e| e.as_str()) {
            return s.to_string();
        }
        if let Some(a) = v.get("error").and_then(|e| e.as_array()) {
            return a.iter().map(|x| x.as_str().map(str::to_string).unwrap_or_else(|| x.to_string())).collect::<Vec<_>>().join("; ");
        }
        if let Some(a) = v.get("errors").and_then(|e| e.as_array()) {
            return a.iter().filter_map(|x| x.get("message").and_then(|m| m.as_str())).collect::<Vec<_>>().join("; ");
        }
    }
    let t = body.trim();
    if t.starts_with('<') || t.is_empty() {
        "(no error message)".to_string()
    } else {
        t.chars().take(500).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_and_path_encoding() {
        assert_eq!(encode_revision("refs/pr/1"), "refs%2Fpr%2F1");
        assert_eq!(encode_path("a b/c.json"), "a%20b/c.json");
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy::default();
        let s: Vec<u64> = (0..5).map(|a| p.delay(a).as_secs()).collect();
        assert_eq!(s, vec![1, 2, 4, 8, 8]);
    }

    #[test]
    fn error_bodies() {
        assert_eq!(error_message_from_body(r#"{"error":"nope"}"#), "nope");
        assert_eq!(error_message_from_body(r#"{"errors":[{"message":"a"},{"message":"b"}]}"#), "a; b");
        assert_eq!(error_message_from_body("<html>"), "(no error message)");
    }
}
