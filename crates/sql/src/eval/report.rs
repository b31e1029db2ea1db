//! Aggregated metrics and the eval_*.json / eval_*.md reports.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ExampleResult;
use crate::{Result, SqlError};

/// `{"count", "rate"}` plus `n`, the number of examples the judge could decide.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Default)]
pub struct Metric {
    /// Correct examples.
    pub count: usize,
    /// count / n (0 when n is 0).
    pub rate: f64,
    /// Examples judged.
    pub n: usize,
}

impl Metric {
    fn of(it: impl Iterator<Item = Option<bool>>) -> Option<Metric> {
        let (mut count, mut n) = (0, 0);
        for v in it.flatten() {
            n += 1;
            count += usize::from(v);
        }
        (n > 0).then(|| Metric { count, n, rate: if n == 0 { 0.0 } else { count as f64 / n as f64 } })
    }
}

/// The "metrics" object of a report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Metrics {
    /// Examples evaluated.
    pub n_examples: usize,
    /// Normalised exact match.
    pub exact_match: Metric,
    /// Exact match ignoring literal values.
    pub no_values_em: Metric,
    /// Predictions that parse.
    pub parse_success: Metric,
    /// Predictions that reference only schema tables/columns.
    pub schema_adherence: Metric,
    /// Spider exact-set-match.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub exact_set_match: Option<Metric>,
    /// Execution accuracy (only with databases).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub execution_accuracy: Option<Metric>,
    /// Semantic accuracy on generated databases.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub semantic_accuracy: Option<Metric>,
    /// Breakdown by Spider hardness.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub by_hardness: BTreeMap<String, Metrics>,
}

impl Metrics {
    /// Aggregates per-example results.
    pub fn from_examples(ex: &[ExampleResult], with_hardness: bool) -> Metrics {
        let b = |f: fn(&ExampleResult) -> bool| Metric::of(ex.iter().map(|e| Some(f(e)))).unwrap_or_default();
        let mut m = Metrics {
            n_examples: ex.len(),
            exact_match: b(|e| e.verdicts.exact_match),
            no_values_em: b(|e| e.verdicts.no_values_em),
            parse_success: b(|e| e.verdicts.parse_success),
            schema_adherence: b(|e| e.verdicts.schema_adherence),
            exact_set_match: Metric::of(ex.iter().map(|e| e.verdicts.exact_set_match)),
            execution_accuracy: Metric::of(ex.iter().map(|e| e.verdicts.execution_accuracy)),
            semantic_accuracy: Metric::of(ex.iter().map(|e| e.verdicts.semantic_accuracy)),
            by_hardness: BTreeMap::new(),
        };
        if with_hardness {
            for h in ["easy", "medium", "hard", "extra"] {
                let sub: Vec<ExampleResult> =
                    ex.iter().filter(|e| e.verdicts.hardness.map(|x| x.as_str()) == Some(h)).cloned().collect();
                if !sub.is_empty() {
                    m.by_hardness.insert(h.to_string(), Metrics::from_examples(&sub, false));
                }
            }
        }
        m
    }
}

/// A whole report: what `publish --include_metrics` reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// "internal" or "spider".
    pub benchmark: String,
    /// Where predictions came from (mock, file, endpoint URL...).
    pub source: String,
    /// Aggregated metrics.
    pub metrics: Metrics,
    /// Per-example predictions and verdicts.
    pub examples: Vec<ExampleResult>,
}

fn pct(m: &Metric) -> String {
    format!("{:.1}% ({}/{})", m.rate * 100.0, m.count, m.n)
}

fn md_rows(m: &Metrics) -> Vec<(&'static str, Option<Metric>)> {
    vec![
        ("Exact match (normalised)", Some(m.exact_match)),
        ("Exact match, values ignored", Some(m.no_values_em)),
        ("Parse success", Some(m.parse_success)),
        ("Schema adherence", Some(m.schema_adherence)),
        ("Spider exact-set-match", m.exact_set_match),
        ("Execution accuracy", m.execution_accuracy),
        ("Semantic accuracy (generated DBs)", m.semantic_accuracy),
    ]
}

impl Report {
    /// The Markdown summary.
    pub fn markdown(&self) -> String {
        let m = &self.metrics;
        let mut s = format!(
            "# Evaluation: {}\n\nPredictions: {}. Examples: {}.\n\n| Metric | Score |\n|---|---|\n",
            self.benchmark, self.source, m.n_examples
        );
        for (name, v) in md_rows(m) {
            if let Some(v) = v {
                s.push_str(&format!("| {name} | {} |\n", pct(&v)));
            }
        }
        if !m.by_hardness.is_empty() {
            s.push_str("\n## By Spider hardness\n\n| Hardness | n | Exact-set-match | Execution | Semantic |\n|---|---|---|---|---|\n");
            let order = ["easy", "medium", "hard", "extra"];
            for (h, hm) in order.iter().filter_map(|h| m.by_hardness.get(*h).map(|x| (h, x))) {
                let f = |x: Option<Metric>| x.map(|x| pct(&x)).unwrap_or_else(|| "n/a".into());
                s.push_str(&format!(
                    "| {h} | {} | {} | {} | {} |\n",
                    hm.n_examples,
                    f(hm.exact_set_match),
                    f(hm.execution_accuracy),
                    f(hm.semantic_accuracy)
                ));
            }
        }
        s
    }
}

/// Writes `out_dir/eval_<benchmark>.json` and `.md`; returns both paths.
pub fn write_reports(report: &Report, out_dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let io = |p: &Path| {
        let p = p.display().to_string();
        move |e| SqlError::Io { path: p, source: e }
    };
    std::fs::create_dir_all(out_dir).map_err(io(out_dir))?;
    let json = out_dir.join(format!("eval_{}.json", report.benchmark));
    let md = out_dir.join(format!("eval_{}.md", report.benchmark));
    let text = serde_json::to_string_pretty(report)
        .map_err(|e| SqlError::Json { path: json.display().to_string(), message: e.to_string() })?;
    std::fs::write(&json, text + "\n").map_err(io(&json))?;
    std::fs::write(&md, report.markdown()).map_err(io(&md))?;
    Ok((json, md))
}
