//! The server's error type and its wire form: every error maps to one HTTP status and a stable
//! `error_type`, exactly as TGI's router does (`{"error": "...", "error_type": "..."}`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// What can go wrong with a request.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum InferError {
    /// A parameter is invalid (422).
    #[error("Input validation error: {0}")]
    Validation(String),
    /// The engine failed (424).
    #[error("Request failed during generation: {0}")]
    Generation(String),
    /// More than MAX_CONCURRENT_REQUESTS in flight (429).
    #[error("Model is overloaded")]
    Overloaded,
    /// The generation ended without a final token (500).
    #[error("Incomplete generation")]
    IncompleteGeneration,
    /// The chat template failed (422).
    #[error("Template error: {0}")]
    Template(String),
    /// Tools were asked for (422).
    #[error("Tool error: {0}")]
    Tool(String),
    /// `/v1/completions` with `suffix` (422).
    #[error("Suffix is not supported")]
    SuffixNotSupported,
    /// Too many prompts in one `/v1/completions` call (422).
    #[error("Number of prompts exceeds the maximum allowed batch size of {0}")]
    BatchSizeExceeded(usize),
    /// The server is shutting down or not ready (503).
    #[error("unhealthy")]
    Unhealthy,
}

impl InferError {
    /// The stable `error_type` string.
    pub fn error_type(&self) -> &'static str {
        match self {
            InferError::Validation(_) => "validation",
            InferError::Generation(_) => "generation",
            InferError::Overloaded => "overloaded",
            InferError::IncompleteGeneration => "incomplete_generation",
            InferError::Template(_) => "template_error",
            InferError::Tool(_) => "tool_error",
            InferError::SuffixNotSupported => "suffix not supported",
            InferError::BatchSizeExceeded(_) => "batch size exceeded",
            InferError::Unhealthy => "healthcheck",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            InferError::Validation(_)
            | InferError::Template(_)
            | InferError::Tool(_)
            | InferError::SuffixNotSupported
            | InferError::BatchSizeExceeded(_) => StatusCode::UNPROCESSABLE_ENTITY,
            InferError::Generation(_) => StatusCode::FAILED_DEPENDENCY,
            InferError::Overloaded => StatusCode::TOO_MANY_REQUESTS,
            InferError::IncompleteGeneration => StatusCode::INTERNAL_SERVER_ERROR,
            InferError::Unhealthy => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorResponse {
        ErrorResponse { error: self.to_string(), error_type: self.error_type().to_string() }
    }

    /// The metric label (`tgi_request_failure{err=…}`).
    pub fn metric_label(&self) -> &'static str {
        match self {
            InferError::Validation(_) | InferError::SuffixNotSupported | InferError::BatchSizeExceeded(_) => "validation",
            InferError::Generation(_) => "generation",
            InferError::Overloaded => "overloaded",
            InferError::IncompleteGeneration => "incomplete",
            InferError::Template(_) | InferError::Tool(_) => "template",
            InferError::Unhealthy => "unhealthy",
        }
    }
}

/// `{"error": ..., "error_type": ...}`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema, PartialEq)]
pub struct ErrorResponse {
    /// Human-readable message.
    pub error: String,
    /// Stable machine-readable kind.
    pub error_type: String,
}

impl IntoResponse for InferError {
    fn into_response(self) -> Response {
        (self.status(), Json(self.body())).into_response()
    }
}

/// Shorthand for validation errors.
pub fn invalid(msg: impl Into<String>) -> InferError {
    InferError::Validation(msg.into())
}
