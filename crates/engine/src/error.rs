//! The engine's error type: every variant names the file, tensor or field at fault.

use std::path::PathBuf;

/// Errors from loading models, adapters and tokenizers, and from generation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A JSON file did not parse.
    #[error("{}: invalid JSON: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
    /// A model configuration is invalid or unsupported.
    #[error("{}: {msg}", path.display())]
    Config {
        /// The configuration file (or model path).
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// A weight is missing or has the wrong shape or type.
    #[error("{}: tensor `{name}`: {msg}", path.display())]
    Weight {
        /// The weights file (or directory).
        path: PathBuf,
        /// The tensor name.
        name: String,
        /// What is wrong.
        msg: String,
    },
    /// A PEFT adapter cannot be used with this model.
    #[error("adapter {}: {msg}", path.display())]
    Adapter {
        /// The adapter directory.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// The tokenizer could not be loaded or used.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// A GGUF file is malformed or unsupported.
    #[error("{}: {msg}", path.display())]
    Gguf {
        /// The GGUF file.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// Invalid generation request (e.g. an empty prompt, or a prompt longer than the model allows).
    #[error("{0}")]
    Request(String),
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}

/// Reads and parses a JSON file, naming the file in every error.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    serde_json::from_str(&text).map_err(|source| Error::Json { path: path.to_path_buf(), source })
}
