//! Where predictions come from. The CLI picks one; the in-process engine implements
//! [`PredictionSource`] too (wired by the engine crate).

use std::path::Path;
use std::time::Duration;

use crate::{Result, SqlError};

/// Why a prediction could not be obtained (HTTP error, missing line...).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

/// A source of predicted SQL. `predict` is called from several threads at once when
/// `--concurrency` > 1.
pub trait PredictionSource: Sync {
    /// Short description for reports ("mock", "file:preds.txt", an endpoint URL...).
    fn describe(&self) -> String;
    /// The raw prediction for example `index`, whose prompt and gold are given.
    fn predict(&self, index: usize, prompt: &str, gold: &str) -> std::result::Result<String, SourceError>;
}

/// `--mock`: the gold is the prediction (checks the pipeline end to end).
pub struct GoldSource;

impl PredictionSource for GoldSource {
    fn describe(&self) -> String {
        "mock (gold as prediction)".into()
    }
    fn predict(&self, _: usize, _: &str, gold: &str) -> std::result::Result<String, SourceError> {
        Ok(gold.to_string())
    }
}

/// `--predictions FILE`: one SQL per line, in example order (Spider's format; a
/// tab-separated db_id after the SQL is ignored).
pub struct FileSource {
    path: String,
    lines: Vec<String>,
}

impl FileSource {
    /// Reads the file; it must hold at least `n` lines.
    pub fn open(path: &Path, n: usize) -> Result<FileSource> {
        let text = std::fs::read_to_string(path).map_err(|e| SqlError::Io { path: path.display().to_string(), source: e })?;
        let lines: Vec<String> = text.lines().map(|l| l.split('\t').next().unwrap_or("").trim().to_string()).collect();
        if lines.len() < n {
            return Err(SqlError::Json {
                path: path.display().to_string(),
                message: format!("{} predictions for {n} examples (one SQL per line expected)", lines.len()),
            });
        }
        Ok(FileSource { path: path.display().to_string(), lines })
    }
}

impl PredictionSource for FileSource {
    fn describe(&self) -> String {
        format!("file {}", self.path)
    }
    fn predict(&self, index: usize, _: &str, _: &str) -> std::result::Result<String, SourceError> {
        self.lines.get(index).cloned().ok_or_else(|| SourceError(format!("no prediction on line {}", index + 1)))
    }
}

/// `--endpoint URL`: any TGI-compatible server, `POST {URL}/generate`.
pub struct EndpointSource {
    url: String,
    adapter_id: Option<String>,
    token: Option<String>,
    agent: ureq::Agent,
    /// Tokens to generate.
    pub max_new_tokens: u32,
    /// `parameters.grammar` sent with every request (e.g. `{"type": "sql", "value": null}`).
    pub grammar: Option<serde_json::Value>,
}

impl EndpointSource {
    /// `token` is sent as a bearer token (never logged).
    pub fn new(url: &str, adapter_id: Option<String>, token: Option<String>, timeout: Duration) -> EndpointSource {
        EndpointSource {
            url: url.trim_end_matches('/').to_string(),
            adapter_id,
            token,
            agent: ureq::AgentBuilder::new().timeout(timeout).build(),
            max_new_tokens: 256,
            grammar: None,
        }
    }
}

impl PredictionSource for EndpointSource {
    fn describe(&self) -> String {
        match &self.adapter_id {
            Some(a) => format!("endpoint {} (adapter {a})", self.url),
            None => format!("endpoint {}", self.url),
        }
    }
    fn predict(&self, _: usize, prompt: &str, _: &str) -> std::result::Result<String, SourceError> {
        let mut params = serde_json::json!({"max_new_tokens": self.max_new_tokens, "temperature": 0.0});
        if let Some(a) = &self.adapter_id {
            params["adapter_id"] = serde_json::Value::String(a.clone());
        }
        if let Some(g) = &self.grammar {
            params["grammar"] = g.clone();
        }
        let body = serde_json::json!({"inputs": prompt, "parameters": params});
        let mut req = self.agent.post(&format!("{}/generate", self.url));
        if let Some(t) = &self.token {
            req = req.set("Authorization", &format!("Bearer {t}"));
        }
        let resp = match req.send_json(body) {
            Ok(r) => r,
            Err(ureq::Error::Status(code, r)) => {
                let text = r.into_string().unwrap_or_default();
                return Err(SourceError(format!(
                    "{}/generate answered {code}: {}",
                    self.url,
                    text.chars().take(300).collect::<String>()
                )));
            }
            Err(e) => return Err(SourceError(format!("{}/generate: {e}", self.url))),
        };
        let v: serde_json::Value = resp.into_json().map_err(|e| SourceError(format!("{}/generate: bad JSON: {e}", self.url)))?;
        let text = v
            .get("generated_text")
            .or_else(|| v.get(0).and_then(|x| x.get("generated_text")))
            .and_then(|x| x.as_str())
            .ok_or_else(|| SourceError(format!("{}/generate: no generated_text in response", self.url)))?;
        Ok(text.to_string())
    }
}
