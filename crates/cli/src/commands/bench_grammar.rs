//! `text2sql bench grammar`: the cost of schema-constrained decoding. Greedy generation of the
//! hand-written evaluation prompts with and without the `sql` grammar on the same model; the
//! constraint is wrapped to count and time its checks and its completion searches (which keep
//! every text finishable).

use anyhow::{Context, Result};
use serde_json::json;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use text2sql_engine::{Constraint, Engine, GenerateRequest, Viability};

/// Arguments of `text2sql bench grammar`.
#[derive(clap::Args, Debug)]
pub struct GrammarArgs {
    /// Base model (default: the embedded SmolLM2-135M-Instruct GGUF).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Adapter folder (default: the shipped text2sql-qlora when present).
    #[arg(long)]
    pub adapter: Option<PathBuf>,
    /// Prompts (Alpaca JSONL of the project's prompt format).
    #[arg(long = "val_path", alias = "val-path", default_value = "crates/synth/eval/handwritten.alpaca.jsonl")]
    pub val_path: PathBuf,
    /// Prompts measured.
    #[arg(long, default_value_t = 20)]
    pub n: usize,
    /// Tokens generated at most per prompt.
    #[arg(long = "max_new_tokens", alias = "max-new-tokens", default_value_t = 96)]
    pub max_new_tokens: usize,
}

/// Calls and nanoseconds of one kind of constraint work.
#[derive(Debug, Default)]
struct Tally {
    calls: AtomicU64,
    nanos: AtomicU64,
}

impl Tally {
    fn time<T>(&self, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let v = f();
        self.nanos.fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        self.calls.fetch_add(1, Ordering::Relaxed);
        v
    }

    /// (calls, milliseconds).
    fn read(&self) -> (f64, f64) {
        (self.calls.load(Ordering::Relaxed) as f64, self.nanos.load(Ordering::Relaxed) as f64 / 1e6)
    }
}

/// Counts and times the checks and completion searches of an inner constraint.
#[derive(Debug)]
struct Timed {
    inner: Arc<dyn Constraint>,
    checks: Arc<Tally>,
    completions: Arc<Tally>,
}

impl Constraint for Timed {
    fn check(&self, text: &str) -> Viability {
        self.checks.time(|| self.inner.check(text))
    }

    fn completion(&self, text: &str) -> Option<String> {
        self.completions.time(|| self.inner.completion(text))
    }

    fn completes(&self) -> bool {
        self.inner.completes()
    }
}

/// Runs the benchmark and prints its JSON report.
pub fn run(a: GrammarArgs) -> Result<()> {
    let model = match &a.model {
        Some(m) => m.clone(),
        None => super::default_model::ensure()?,
    };
    let engine = Engine::load(&model).with_context(|| format!("loading --model {}", model.display()))?;
    let adapter_dir = a.adapter.clone().or_else(|| {
        super::default_model::shipped_adapters().into_iter().find(|(id, _)| id == "text2sql-qlora").map(|(_, d)| d)
    });
    let adapter = match &adapter_dir {
        Some(d) => Some(engine.load_adapter(d, "adapter")?),
        None => None,
    };
    let examples = text2sql_sql::eval::load_internal(&a.val_path).with_context(|| format!("--val_path {}", a.val_path.display()))?;
    let (checks, completions) = (Arc::new(Tally::default()), Arc::new(Tally::default()));
    let (mut free_s, mut free_tokens, mut con_s, mut con_tokens) = (0f64, 0usize, 0f64, 0usize);
    for ex in examples.iter().take(a.n) {
        let prompt = ex.prompt();
        let ids = engine.encode_prompt(&prompt)?;
        for constrained in [false, true] {
            let constraint: Option<Arc<dyn Constraint>> = if constrained {
                let inner = super::ask::sql_constraint_of_prompt(&prompt).map_err(anyhow::Error::msg)?;
                Some(Arc::new(Timed { inner, checks: checks.clone(), completions: completions.clone() }))
            } else {
                None
            };
            let req = GenerateRequest { adapter: adapter.clone(), constraint, ..GenerateRequest::greedy(ids.clone(), a.max_new_tokens) };
            let t = Instant::now();
            let seq = engine.generate(vec![req])?.pop().context("no output")?;
            let (s, n) = (t.elapsed().as_secs_f64(), seq.tokens.len());
            if constrained {
                (con_s, con_tokens) = (con_s + s, con_tokens + n);
            } else {
                (free_s, free_tokens) = (free_s + s, free_tokens + n);
            }
        }
    }
    let ((checks, check_ms), (searches, search_ms)) = (checks.read(), completions.read());
    let per_token = |x: f64| x / con_tokens.max(1) as f64;
    let report = json!({
        "benchmark": "grammar",
        "model": model.display().to_string(),
        "adapter": adapter_dir.map(|d| d.display().to_string()),
        "prompts": a.n.min(examples.len()),
        "free": {"tokens": free_tokens, "seconds": free_s, "ms_per_token": 1000.0 * free_s / free_tokens.max(1) as f64},
        "constrained": {"tokens": con_tokens, "seconds": con_s, "ms_per_token": 1000.0 * con_s / con_tokens.max(1) as f64},
        "checks_per_token": per_token(checks),
        "check_us_mean": 1000.0 * check_ms / checks.max(1.0),
        "check_ms_per_token": per_token(check_ms),
        "completion_searches_per_token": per_token(searches),
        "completion_search_us_mean": 1000.0 * search_ms / searches.max(1.0),
        "completion_ms_per_token": per_token(search_ms),
        "grammar_ms_per_token": per_token(check_ms + search_ms),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
