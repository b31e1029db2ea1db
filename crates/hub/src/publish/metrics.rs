//! Evaluation reports (`--include_metrics`): either a raw metrics dict or `{"metrics": {...}}`.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

/// Metric keys shown in the card, in display order, with their labels.
pub const KNOWN_METRICS: &[(&str, &str)] = &[
    ("exact_match", "Exact match"),
    ("no_values_em", "Exact match without values"),
    ("parse_success", "Parse success"),
    ("schema_adherence", "Schema adherence"),
    ("exact_set_match", "Exact set match"),
    ("execution_accuracy", "Execution accuracy"),
    ("semantic_accuracy", "Semantic accuracy"),
];

/// Why a metrics file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// Cannot read the file.
    #[error("metrics file {path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Error.
        source: std::io::Error,
    },
    /// Not JSON.
    #[error("metrics file {path} is not valid JSON: {message}")]
    Json {
        /// File.
        path: PathBuf,
        /// Parser message.
        message: String,
    },
    /// JSON, but not a metrics report.
    #[error("metrics file {path}: {message}")]
    Shape {
        /// File.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// One metric line.
#[derive(Debug, Clone, Serialize)]
pub struct Metric {
    /// Key, e.g. `exact_match`.
    pub key: String,
    /// Label, e.g. "Exact match".
    pub label: String,
    /// Number of examples that passed, when given.
    pub count: Option<u64>,
    /// Rate in [0, 1].
    pub rate: f64,
    /// Rate with 4 decimals, for display.
    pub rate_text: String,
    /// Percentage with 2 decimals, for display.
    pub percent_text: String,
}

/// One metrics report.
#[derive(Debug, Clone, Serialize)]
pub struct MetricsReport {
    /// File name it came from.
    pub source: String,
    /// Dataset label ("Spider (dev)" or "Internal validation set", or the report's own).
    pub dataset: String,
    /// Dataset type for model-index.
    pub dataset_type: String,
    /// `n_examples`, when given.
    pub n_examples: Option<u64>,
    /// Metrics present, in [`KNOWN_METRICS`] order.
    pub metrics: Vec<Metric>,
}

/// Loads and checks one metrics file.
pub fn load_metrics(path: &Path) -> Result<MetricsReport, MetricsError> {
    let text = std::fs::read_to_string(path).map_err(|e| MetricsError::Io { path: path.to_path_buf(), source: e })?;
    let v: Value = serde_json::from_str(&text).map_err(|e| MetricsError::Json { path: path.to_path_buf(), message: e.to_string() })?;
    parse_metrics(path, &v)
}

/// Checks an already-parsed report.
pub fn parse_metrics(path: &Path, v: &Value) -> Result<MetricsReport, MetricsError> {
    let shape = |m: String| MetricsError::Shape { path: path.to_path_buf(), message: m };
    let top = v.as_object().ok_or_else(|| shape("top level must be a JSON object".into()))?;
    let m = match top.get("metrics") {
        Some(Value::Object(m)) => m,
        Some(other) => return Err(shape(format!("`metrics` must be an object, got {other}"))),
        None => top,
    };
    let n_examples = match m.get("n_examples").or_else(|| top.get("n_examples")) {
        None | Some(Value::Null) => None,
        Some(n) => Some(n.as_u64().ok_or_else(|| shape(format!("`n_examples` must be a non-negative integer, got {n}")))?),
    };
    let mut metrics = Vec::new();
    for (key, label) in KNOWN_METRICS {
        let Some(val) = m.get(*key) else { continue };
        let (count, rate) = match val {
            Value::Object(o) => {
                let count = match o.get("count") {
                    None | Some(Value::Null) => None,
                    Some(c) => Some(c.as_u64().ok_or_else(|| shape(format!("`{key}.count` must be a non-negative integer, got {c}")))?),
                };
                let rate = match o.get("rate") {
                    Some(Value::Number(r)) => r.as_f64().unwrap_or(f64::NAN),
                    None | Some(Value::Null) => match (count, n_examples) {
                        (Some(c), Some(n)) if n > 0 => c as f64 / n as f64,
                        _ => return Err(shape(format!("`{key}` has no `rate` (and no count with n_examples)"))),
                    },
                    Some(other) => return Err(shape(format!("`{key}.rate` must be a number, got {other}"))),
                };
                (count, rate)
            }
            Value::Number(r) => (None, r.as_f64().unwrap_or(f64::NAN)),
            other => return Err(shape(format!("`{key}` must be {{\"count\", \"rate\"}} or a number, got {other}"))),
        };
        if !(0.0..=1.0).contains(&rate) {
            return Err(shape(format!("`{key}` rate {rate} is outside [0, 1]")));
        }
        if let (Some(c), Some(n)) = (count, n_examples) {
            if c > n {
                return Err(shape(format!("`{key}.count` {c} is larger than n_examples {n}")));
            }
        }
        metrics.push(Metric {
            key: key.to_string(),
            label: label.to_string(),
            count,
            rate,
            rate_text: format!("{rate:.4}"),
            percent_text: format!("{:.2}%", rate * 100.0),
        });
    }
    if metrics.is_empty() {
        let names: Vec<&str> = KNOWN_METRICS.iter().map(|(k, _)| *k).collect();
        return Err(shape(format!("no known metric found (expected some of {})", names.join(", "))));
    }
    let source = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let is_spider = source.to_ascii_lowercase().contains("spider")
        || top.get("dataset").and_then(Value::as_str).is_some_and(|d| d.to_ascii_lowercase().contains("spider"))
        || m.contains_key("exact_set_match")
        || m.contains_key("execution_accuracy");
    let (dataset, dataset_type) = match top.get("dataset").and_then(Value::as_str) {
        Some(d) if !d.trim().is_empty() => (d.trim().to_string(), if is_spider { "spider" } else { "text2sql-internal" }.to_string()),
        _ if is_spider => ("Spider (dev)".to_string(), "spider".to_string()),
        _ => ("Internal validation set".to_string(), "text2sql-internal".to_string()),
    };
    Ok(MetricsReport { source, dataset, dataset_type, n_examples, metrics })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p() -> &'static Path {
        Path::new("reports/eval_internal.json")
    }

    #[test]
    fn wrapped_and_raw_forms_agree() {
        let inner = json!({"n_examples": 10, "exact_match": {"count": 4, "rate": 0.4}, "parse_success": {"count": 9, "rate": 0.9}});
        let a = parse_metrics(p(), &json!({"metrics": inner.clone()})).unwrap();
        let b = parse_metrics(p(), &inner).unwrap();
        assert_eq!(a.n_examples, Some(10));
        assert_eq!(serde_json::to_value(&a).unwrap(), serde_json::to_value(&b).unwrap());
        assert_eq!(a.metrics.iter().map(|m| m.key.as_str()).collect::<Vec<_>>(), ["exact_match", "parse_success"]);
        assert_eq!(a.dataset_type, "text2sql-internal");
    }

    #[test]
    fn spider_reports_are_labelled() {
        let r = parse_metrics(Path::new("eval_spider.json"), &json!({"metrics": {"n_examples": 2, "exact_set_match": {"count": 1, "rate": 0.5}}})).unwrap();
        assert_eq!(r.dataset_type, "spider");
        assert_eq!(r.dataset, "Spider (dev)");
    }

    #[test]
    fn malformed_reports_are_refused() {
        for bad in [
            json!([1, 2]),
            json!({"metrics": 3}),
            json!({"foo": 1}),
            json!({"exact_match": "high"}),
            json!({"exact_match": {"count": 3, "rate": 1.5}}),
            json!({"n_examples": 2, "exact_match": {"count": 3, "rate": 0.5}}),
            json!({"n_examples": -1, "exact_match": 0.5}),
        ] {
            assert!(parse_metrics(p(), &bad).is_err(), "{bad}");
        }
    }
}
