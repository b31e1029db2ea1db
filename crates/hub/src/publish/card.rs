//! Model card (README.md) rendering with a minijinja template.

use std::path::PathBuf;

use serde::Serialize;

use super::metrics::{load_metrics, MetricsError, MetricsReport};
use super::validate::AdapterInfo;

/// Shown when `adapter_config.json` has no `base_model_name_or_path`.
pub const UNKNOWN_BASE_MODEL: &str = "<unknown-base-model>";

const TEMPLATE: &str = include_str!("../../templates/model_card.md.j2");

/// Why a README could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum CardError {
    /// A metrics file is missing or malformed.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    /// The template failed to render.
    #[error("model card template: {0}")]
    Template(String),
}

/// Inputs of the card.
#[derive(Debug, Clone)]
pub struct CardInput<'a> {
    /// Repository id.
    pub repo_id: &'a str,
    /// Endpoint (for the repo URL in model-index sources).
    pub endpoint: &'a str,
    /// The validated adapter.
    pub adapter: &'a AdapterInfo,
    /// `--include_metrics` files.
    pub metrics_files: &'a [PathBuf],
}

#[derive(Serialize)]
struct Context<'a> {
    repo_id: &'a str,
    repo_name: &'a str,
    repo_url: String,
    base_model: String,
    base_model_id: Option<String>,
    /// Shell-safe base model for the `text2sql serve` example.
    serve_model: String,
    peft_type: String,
    r: u64,
    lora_alpha: String,
    lora_dropout: Option<f64>,
    target_modules: &'a [String],
    lora_pairs: usize,
    weights_file: String,
    tags: Vec<String>,
    reports: Vec<MetricsReport>,
}

/// True when `s` can be a Hub model id (so it may go into `base_model` front matter). Local paths
/// such as `/models/base` or `./base` are shown in the text only.
pub fn is_hub_model_id(s: &str) -> bool {
    !s.starts_with(['/', '.', '~']) && crate::api::validate_repo_id(s).is_ok()
}

/// Loads every metrics file; the first failure is returned.
pub fn load_reports(files: &[PathBuf]) -> Result<Vec<MetricsReport>, CardError> {
    files.iter().map(|p| load_metrics(p).map_err(CardError::from)).collect()
}

/// Renders README.md.
pub fn render_model_card(input: &CardInput<'_>) -> Result<String, CardError> {
    let reports = load_reports(input.metrics_files)?;
    let cfg = &input.adapter.config;
    let base_model = cfg.base_model.clone().unwrap_or_else(|| UNKNOWN_BASE_MODEL.to_string());
    let base_model_id = cfg.base_model.clone().filter(|b| is_hub_model_id(b));
    let mut tags = vec!["lora".to_string(), "peft".to_string(), "text-to-sql".to_string(), "sql".to_string()];
    if let Some(b) = &base_model_id {
        tags.push(format!("base_model:adapter:{b}"));
    }
    tags.sort();
    tags.dedup();
    let serve_model = match &cfg.base_model {
        Some(b) if !b.contains(|c: char| c.is_whitespace() || "<>|&;$`'\"".contains(c)) => b.clone(),
        _ => "BASE_MODEL_ID".to_string(),
    };
    let ctx = Context {
        serve_model,
        repo_id: input.repo_id,
        repo_name: input.repo_id.rsplit('/').next().unwrap_or(input.repo_id),
        repo_url: format!("{}/{}", input.endpoint.trim_end_matches('/'), input.repo_id),
        base_model,
        base_model_id,
        peft_type: cfg.peft_type.clone().unwrap_or_else(|| "LORA".into()),
        r: cfg.r,
        lora_alpha: cfg.lora_alpha.map(format_number).unwrap_or_else(|| "(not set)".into()),
        lora_dropout: cfg.lora_dropout,
        target_modules: &cfg.target_modules,
        lora_pairs: input.adapter.lora_pairs,
        weights_file: input.adapter.weights.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
        tags,
        reports,
    };
    let mut env = minijinja::Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    env.add_template("model_card", TEMPLATE).map_err(|e| CardError::Template(e.to_string()))?;
    let tmpl = env.get_template("model_card").map_err(|e| CardError::Template(e.to_string()))?;
    tmpl.render(&ctx).map_err(|e| CardError::Template(e.to_string()))
}

fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}
