//! `text2sql eval internal|spider`: score predictions with every metric of text2sql-sql
//! and write eval_<benchmark>.json (what `publish --include_metrics` reads) and .md.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use text2sql_sql::eval::{
    self, EndpointSource, Example, FileSource, GoldSource, JudgeOptions, Metrics, PredictionSource, Report, SpiderSet,
};
use text2sql_sql::exec::ExecOptions;
use text2sql_sql::semantic::SemanticOptions;

/// Evaluate predictions on the internal validation set or on Spider dev.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    target: Target,
}

#[derive(clap::Subcommand)]
enum Target {
    /// Internal validation set (the seed's Alpaca JSONL).
    Internal(InternalArgs),
    /// Spider dev (official layout: dev.json, tables.json, optional database/).
    Spider(SpiderArgs),
}

#[derive(clap::Args)]
struct InternalArgs {
    /// Validation file (Alpaca JSONL: instruction, input, output).
    #[arg(long = "val_path", alias = "val-path", default_value = "data/processed/val.jsonl")]
    val_path: PathBuf,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args)]
struct SpiderArgs {
    /// Folder with dev.json and tables.json (and optionally database/<db>/<db>.sqlite).
    #[arg(long = "spider_dir", alias = "spider-dir", env = "TEXT2SQL_SPIDER_DIR")]
    spider_dir: PathBuf,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args)]
struct Common {
    /// Where eval_<benchmark>.json and .md go.
    #[arg(long = "out_dir", alias = "out-dir", default_value = "reports")]
    out_dir: PathBuf,
    /// Use the gold SQL as prediction (checks the pipeline).
    #[arg(long, group = "source")]
    mock: bool,
    /// Predictions file: one SQL per line, in example order (Spider's format).
    #[arg(long, group = "source")]
    predictions: Option<PathBuf>,
    /// A TGI-compatible server: POST {URL}/generate. HF_TOKEN is sent as bearer token.
    #[arg(long, group = "source")]
    endpoint: Option<String>,
    /// Base model for in-process generation (HF directory or .gguf; default: the embedded
    /// SmolLM2 GGUF when no other source is given).
    #[arg(long, group = "source")]
    model: Option<PathBuf>,
    /// LoRA adapter folder for in-process generation.
    #[arg(long, conflicts_with_all = ["mock", "predictions", "endpoint"])]
    adapter: Option<PathBuf>,
    /// Adapter to request from the endpoint (TGI's parameters.adapter_id).
    #[arg(long = "adapter_id", alias = "adapter-id", requires = "endpoint")]
    adapter_id: Option<String>,
    /// Parallel requests / judging threads.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Evaluate only the first N examples.
    #[arg(long = "max_examples", alias = "max-examples")]
    max_examples: Option<usize>,
    /// Random databases per example for semantic accuracy.
    #[arg(long = "semantic_dbs", alias = "semantic-dbs", default_value_t = 8)]
    semantic_dbs: usize,
    /// Per-query time limit in milliseconds (execution and semantic accuracy).
    #[arg(long = "query_timeout_ms", alias = "query-timeout-ms", default_value_t = 5000)]
    query_timeout_ms: u64,
    /// Endpoint request timeout in seconds.
    #[arg(long = "request_timeout", alias = "request-timeout", default_value_t = 120)]
    request_timeout: u64,
    /// Schema-constrained decoding: the SQL may only name tables and columns of each prompt's
    /// schema and must parse (engine or endpoint: `parameters.grammar` of type sql).
    #[arg(long, conflicts_with_all = ["mock", "predictions"])]
    constrained: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

/// Where predictions come from, as chosen on the command line.
pub enum SourceChoice {
    /// --mock
    Mock,
    /// --predictions FILE
    File(PathBuf),
    /// --endpoint URL [--adapter_id ID]
    Endpoint { url: String, adapter_id: Option<String> },
    /// --model DIR [--adapter DIR]: the in-process engine.
    Engine { model: PathBuf, adapter: Option<PathBuf> },
}

impl Common {
    fn choice(&self) -> Result<SourceChoice> {
        Ok(if self.mock {
            SourceChoice::Mock
        } else if let Some(p) = &self.predictions {
            SourceChoice::File(p.clone())
        } else if let Some(u) = &self.endpoint {
            SourceChoice::Endpoint { url: u.clone(), adapter_id: self.adapter_id.clone() }
        } else if let Some(m) = &self.model {
            SourceChoice::Engine { model: m.clone(), adapter: self.adapter.clone() }
        } else {
            SourceChoice::Engine { model: super::default_model::ensure()?, adapter: self.adapter.clone() }
        })
    }

    fn source(&self, n: usize) -> Result<Box<dyn PredictionSource>> {
        Ok(match self.choice()? {
            SourceChoice::Mock => Box::new(GoldSource),
            SourceChoice::File(p) => Box::new(FileSource::open(&p, n).with_context(|| "--predictions")?),
            SourceChoice::Endpoint { url, adapter_id } => {
                let token = hf_token();
                let mut src = EndpointSource::new(&url, adapter_id, token, Duration::from_secs(self.request_timeout));
                if self.constrained {
                    src.grammar = Some(serde_json::json!({"type": "sql", "value": null}));
                }
                Box::new(src)
            }
            SourceChoice::Engine { model, adapter } => Box::new(EngineSource::load(model, adapter, self.constrained)?),
        })
    }

    fn judge_options(&self) -> JudgeOptions {
        let exec = ExecOptions { timeout: Duration::from_millis(self.query_timeout_ms), ..Default::default() };
        JudgeOptions { exec, semantic: SemanticOptions { n_dbs: self.semantic_dbs, exec, ..Default::default() } }
    }
}

/// HF_TOKEN, else the huggingface_hub token file ($HF_TOKEN_PATH, $HF_HOME/token or
/// ~/.cache/huggingface/token). Never printed.
pub(crate) fn hf_token() -> Option<String> {
    if let Some(t) = std::env::var("HF_TOKEN").ok().filter(|t| !t.trim().is_empty()) {
        return Some(t.trim().to_string());
    }
    let path = std::env::var_os("HF_TOKEN_PATH").map(PathBuf::from).or_else(|| {
        std::env::var_os("HF_HOME")
            .map(|h| PathBuf::from(h).join("token"))
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/huggingface/token")))
    })?;
    std::fs::read_to_string(path).ok().map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
}

/// Runs `text2sql eval`.
pub fn run(args: Args) -> Result<()> {
    match args.target {
        Target::Internal(a) => {
            let examples = eval::load_internal(&a.val_path).with_context(|| format!("--val_path {}", a.val_path.display()))?;
            run_benchmark("internal", examples, None, &a.common)
        }
        Target::Spider(a) => {
            let set = eval::load_spider(&a.spider_dir).with_context(|| format!("--spider_dir {}", a.spider_dir.display()))?;
            let examples = set.examples.clone();
            run_benchmark("spider", examples, Some(&set), &a.common)
        }
    }
}

fn run_benchmark(name: &str, mut examples: Vec<Example>, spider: Option<&SpiderSet>, c: &Common) -> Result<()> {
    if let Some(n) = c.max_examples {
        examples.truncate(n);
    }
    if examples.is_empty() {
        bail!("no examples to evaluate");
    }
    let source = c.source(examples.len())?;
    let bar = if c.quiet { ProgressBar::hidden() } else { ProgressBar::new(examples.len() as u64) };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let correct = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let key = if spider.is_some() { "exact-set-match" } else { "exact match" };
    let results = eval::evaluate(&examples, spider, source.as_ref(), &c.judge_options(), c.concurrency, &|r| {
        let ok = if spider.is_some() { r.verdicts.exact_set_match == Some(true) } else { r.verdicts.exact_match };
        let k = correct.fetch_add(usize::from(ok), std::sync::atomic::Ordering::Relaxed) + usize::from(ok);
        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        bar.set_message(format!("{key} {:.1}%", 100.0 * k as f64 / n as f64));
        bar.inc(1);
    });
    bar.finish_and_clear();
    // A source that failed every request (unknown adapter, bad token, server down) is a
    // configuration error, not a 0 % score.
    let failed: Vec<&str> = results
        .iter()
        .filter_map(|r| r.verdicts.notes.first().and_then(|n| n.strip_prefix(eval::SOURCE_FAILED)))
        .collect();
    if let Some(first) = failed.first() {
        if failed.len() == results.len() {
            bail!("every prediction request failed ({} of {}); the first: {first}", failed.len(), results.len());
        }
        eprintln!("warning: {} of {} prediction requests failed (scored as wrong); the first: {first}", failed.len(), results.len());
    }
    let metrics = Metrics::from_examples(&results, spider.is_some());
    let report = Report { benchmark: name.into(), source: source.describe(), metrics, examples: results };
    let (json, md) = eval::write_reports(&report, &c.out_dir).with_context(|| format!("--out_dir {}", c.out_dir.display()))?;
    print!("{}", report.markdown());
    eprintln!("wrote {} and {}", json.display(), md.display());
    Ok(())
}

/// `--model` / `--adapter`: greedy generation with the in-process engine (256 new tokens at
/// most, fewer if the context is shorter; stopping at EOS), exactly what `text2sql serve` would answer with temperature 0.
struct EngineSource {
    engine: text2sql_engine::Engine,
    adapter: Option<std::sync::Arc<text2sql_engine::LoraAdapter>>,
    label: String,
    constrained: bool,
}

impl EngineSource {
    fn load(model: PathBuf, adapter: Option<PathBuf>, constrained: bool) -> Result<Self> {
        let engine = text2sql_engine::Engine::load(&model).with_context(|| format!("loading --model {}", model.display()))?;
        let adapter = match &adapter {
            Some(dir) => Some(engine.load_adapter(dir, "adapter").with_context(|| format!("loading --adapter {}", dir.display()))?),
            None => None,
        };
        let mut label = match &adapter {
            Some(a) => format!("engine {} + adapter {}", model.display(), a.path.display()),
            None => format!("engine {}", model.display()),
        };
        if constrained {
            label.push_str(", schema-constrained");
        }
        Ok(Self { engine, adapter, label, constrained })
    }
}

impl PredictionSource for EngineSource {
    fn describe(&self) -> String {
        self.label.clone()
    }

    fn predict(&self, _: usize, prompt: &str, _: &str) -> std::result::Result<String, text2sql_sql::eval::source::SourceError> {
        let err = |e: String| text2sql_sql::eval::source::SourceError(e);
        let constraint = if self.constrained { Some(super::ask::sql_constraint_of_prompt(prompt).map_err(err)?) } else { None };
        self.engine.complete_greedy(prompt, self.adapter.as_ref(), 256, constraint).map_err(|e| err(e.to_string()))
    }
}
