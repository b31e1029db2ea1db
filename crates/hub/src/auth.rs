//! Token and directory lookup, following `huggingface_hub`'s conventions.
//!
//! Order: explicit token (`--token`) > `HF_TOKEN` > `HUGGING_FACE_HUB_TOKEN` > `HF_TOKEN_PATH` >
//! `$HF_HOME/token` (where `HF_HOME` defaults to `$XDG_CACHE_HOME/huggingface`, else
//! `~/.cache/huggingface`).

use std::path::PathBuf;

/// Default Hub endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// Where a token was found. Printed in error messages instead of the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// Passed explicitly (e.g. `--token`).
    Explicit,
    /// An environment variable (its name).
    Env(&'static str),
    /// A token file.
    File(PathBuf),
}

impl std::fmt::Display for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSource::Explicit => f.write_str("--token"),
            TokenSource::Env(name) => f.write_str(name),
            TokenSource::File(p) => write!(f, "token file {}", p.display()),
        }
    }
}

/// A resolved token. `Debug` hides the secret.
#[derive(Clone)]
pub struct Token {
    secret: String,
    /// Where it came from.
    pub source: TokenSource,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token").field("secret", &"<hidden>").field("source", &self.source).finish()
    }
}

impl Token {
    /// Builds a token; returns None when it is empty after cleaning (CR/LF removed, trimmed).
    pub fn new(raw: &str, source: TokenSource) -> Option<Token> {
        let secret: String = raw.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        let secret = secret.trim().to_string();
        if secret.is_empty() {
            None
        } else {
            Some(Token { secret, source })
        }
    }

    /// The secret, for the Authorization header only.
    pub fn secret(&self) -> &str {
        &self.secret
    }
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// `HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`.
pub fn hf_home() -> PathBuf {
    if let Some(h) = env_nonempty("HF_HOME") {
        return expand_home(&h);
    }
    if let Some(x) = env_nonempty("XDG_CACHE_HOME") {
        return expand_home(&x).join("huggingface");
    }
    home_dir().join(".cache").join("huggingface")
}

/// The hub cache: `HF_HUB_CACHE`, else `$HF_HOME/hub`.
pub fn hub_cache_dir() -> PathBuf {
    match env_nonempty("HF_HUB_CACHE") {
        Some(p) => expand_home(&p),
        None => hf_home().join("hub"),
    }
}

/// The token file: `HF_TOKEN_PATH`, else `$HF_HOME/token`.
pub fn token_path() -> PathBuf {
    match env_nonempty("HF_TOKEN_PATH") {
        Some(p) => expand_home(&p),
        None => hf_home().join("token"),
    }
}

/// `HF_ENDPOINT` without trailing `/`, else [`DEFAULT_ENDPOINT`].
pub fn endpoint_from_env() -> String {
    match env_nonempty("HF_ENDPOINT") {
        Some(e) => e.trim_end_matches('/').to_string(),
        None => DEFAULT_ENDPOINT.to_string(),
    }
}

/// True when `HF_HUB_OFFLINE` or `TRANSFORMERS_OFFLINE` is `1/ON/YES/TRUE`.
pub fn offline_from_env() -> bool {
    ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"].iter().any(|k| {
        std::env::var(k)
            .map(|v| matches!(v.trim().to_ascii_uppercase().as_str(), "1" | "ON" | "YES" | "TRUE"))
            .unwrap_or(false)
    })
}

fn home_dir() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/"))
}

fn expand_home(p: &str) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => home_dir().join(rest),
        None if p == "~" => home_dir(),
        None => PathBuf::from(p),
    }
}

/// Resolves the token: `explicit` first, then the environment, then the token file.
pub fn resolve_token(explicit: Option<&str>) -> Option<Token> {
    if let Some(t) = explicit.and_then(|t| Token::new(t, TokenSource::Explicit)) {
        return Some(t);
    }
    for name in ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"] {
        if let Some(t) = std::env::var(name).ok().and_then(|v| Token::new(&v, TokenSource::Env(name))) {
            return Some(t);
        }
    }
    let path = token_path();
    let raw = std::fs::read_to_string(&path).ok()?;
    Token::new(&raw, TokenSource::File(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_cleaned_and_empty_means_none() {
        let t = Token::new("  hf_abc\r\n", TokenSource::Explicit).unwrap();
        assert_eq!(t.secret(), "hf_abc");
        assert!(Token::new(" \n", TokenSource::Explicit).is_none());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let t = Token::new("hf_secret_value", TokenSource::Env("HF_TOKEN")).unwrap();
        let shown = format!("{t:?} {}", t.source);
        assert!(!shown.contains("hf_secret_value"), "{shown}");
        assert!(shown.contains("HF_TOKEN"));
    }

    #[test]
    fn explicit_token_wins() {
        let t = resolve_token(Some("hf_explicit")).unwrap();
        assert_eq!(t.secret(), "hf_explicit");
        assert_eq!(t.source, TokenSource::Explicit);
    }
}
