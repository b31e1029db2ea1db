//! Hugging Face Hub client for text2sql.
//!
//! - [`auth`]: token, endpoint and cache-dir lookup with `huggingface_hub`'s conventions.
//! - [`client::HubClient`]: blocking HTTP with retries and typed errors ([`HubError`]).
//! - [`api`]: whoami, repo creation (exist_ok), revision info, tree listing.
//! - [`upload`]: one-commit uploads (preupload, LFS basic/multipart + verify, NDJSON commit).
//! - [`download::snapshot_download`]: a repo revision into the standard HF cache.
//! - [`publish`]: adapter validation, model card rendering and the `text2sql publish` flow.
#![deny(missing_docs)]

pub mod api;
pub mod auth;
pub mod client;
pub mod download;
mod error;
pub mod publish;
pub mod upload;

pub use client::{ClientOptions, HubClient, RetryPolicy};
pub use download::{resolve_source, snapshot_download, DownloadOptions};
pub use error::HubError;
