//! The error shape: JSON `{"error": ..}` plus the Hub's `X-Error-Code` / `X-Error-Message`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// An HTTP error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// Status.
    pub status: StatusCode,
    /// Message (body `error`).
    pub message: String,
    /// `X-Error-Code`, e.g. `RepoNotFound`.
    pub code: Option<&'static str>,
    /// Send the message as `X-Error-Message` too.
    pub header_message: bool,
    /// `X-Repo-Commit` (EntryNotFound).
    pub repo_commit: Option<String>,
}

impl ApiError {
    /// Plain error.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into(), code: None, header_message: false, repo_commit: None }
    }
    /// 400.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
    /// 401 for an unknown token.
    pub fn invalid_credentials() -> ApiError {
        ApiError { header_message: true, ..ApiError::new(StatusCode::UNAUTHORIZED, "Invalid credentials in Authorization header") }
    }
    /// 401 when a token is needed and none was sent.
    pub fn auth_required() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "You must be authenticated to access this resource")
    }
    /// 403.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError { header_message: true, ..ApiError::new(StatusCode::FORBIDDEN, message) }
    }
    /// 404 RepoNotFound (missing, or private and not yours).
    pub fn repo_not_found(id: &str) -> ApiError {
        ApiError { code: Some("RepoNotFound"), ..ApiError::new(StatusCode::NOT_FOUND, format!("Repository Not Found for url: {id}.")) }
    }
    /// 404 RevisionNotFound.
    pub fn revision_not_found(rev: &str) -> ApiError {
        ApiError { code: Some("RevisionNotFound"), ..ApiError::new(StatusCode::NOT_FOUND, format!("Invalid rev id: {rev}")) }
    }
    /// 404 EntryNotFound.
    pub fn entry_not_found(path: &str, commit: &str) -> ApiError {
        ApiError {
            code: Some("EntryNotFound"),
            repo_commit: Some(commit.to_string()),
            ..ApiError::new(StatusCode::NOT_FOUND, format!("Entry not found: {path}"))
        }
    }
    /// 500 for local I/O failures.
    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("internal error: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": self.message});
        let mut resp = (self.status, axum::Json(body)).into_response();
        let h = resp.headers_mut();
        if let Some(code) = self.code {
            h.insert("x-error-code", HeaderValue::from_static(code));
        }
        if self.header_message {
            if let Ok(v) = HeaderValue::from_str(&self.message) {
                h.insert("x-error-message", v);
            }
        }
        if let Some(c) = self.repo_commit.and_then(|c| HeaderValue::from_str(&c).ok()) {
            h.insert("x-repo-commit", c);
        }
        resp
    }
}
