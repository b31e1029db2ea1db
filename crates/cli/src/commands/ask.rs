//! `text2sql ask "question" --schema FILE.sql | --db URL`: builds the project's prompt from
//! the schema (introspected from the database with --db, trimmed to the relevant tables
//! when large), generates SQL with the in-process engine or a TGI-compatible endpoint,
//! prints it with a parse/adherence report, and with --execute runs it read-only.
//!
//! Standard output carries the SQL (and the result table); the report and warnings go to
//! standard error, so `sql=$(text2sql ask ...)` captures only the query.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use text2sql_engine::{Engine, LoraAdapter};
use text2sql_sql::ask::{self, Db, DbUrl, ExecLimits, SqlReport};
use text2sql_sql::eval::source::{EndpointSource, PredictionSource};
use text2sql_sql::Schema;

/// The adapter used by default when it is shipped in models/adapters/.
const DEFAULT_ADAPTER: &str = "text2sql-qlora";

/// Ask a question in plain language; get SQL (and, with --execute, its result).
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("schema_source").required(true).args(["schema", "db"])))]
pub struct Args {
    /// The question, e.g. "How many singers are older than 30?".
    pub question: String,
    /// A file of CREATE TABLE statements.
    #[arg(long)]
    pub schema: Option<PathBuf>,
    /// A database to introspect (and query with --execute): sqlite:///abs/path.db,
    /// sqlite://relative.db, a plain SQLite file path, or postgres://user:pass@host:port/db.
    #[arg(long, env = "TEXT2SQL_DB")]
    pub db: Option<String>,
    /// Base model for in-process generation (HF directory or .gguf). Default: the embedded
    /// SmolLM2-135M-Instruct GGUF with the shipped adapter text2sql-qlora when present.
    #[arg(long, conflicts_with = "endpoint")]
    pub model: Option<PathBuf>,
    /// LoRA adapter folder (PEFT) for in-process generation.
    #[arg(long, conflicts_with = "endpoint")]
    pub adapter: Option<PathBuf>,
    /// A TGI-compatible server: POST {URL}/generate (HF_TOKEN is sent as bearer token).
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Adapter to request from the endpoint (TGI's parameters.adapter_id).
    #[arg(long = "adapter_id", alias = "adapter-id", requires = "endpoint")]
    pub adapter_id: Option<String>,
    /// Use this SQL as written instead of generating one (checks and --execute still apply).
    #[arg(long, conflicts_with_all = ["model", "adapter", "endpoint"])]
    pub sql: Option<String>,
    /// Run the SQL read-only on --db and print the result as a table.
    #[arg(long, requires = "db")]
    pub execute: bool,
    /// Rows shown at most with --execute.
    #[arg(long = "max_rows", alias = "max-rows", default_value_t = 100)]
    pub max_rows: usize,
    /// Time budget of the query with --execute, in milliseconds.
    #[arg(long = "timeout_ms", alias = "timeout-ms", default_value_t = 5000)]
    pub timeout_ms: u64,
    /// Tokens to generate at most.
    #[arg(long = "max_new_tokens", alias = "max-new-tokens", default_value_t = 256)]
    pub max_new_tokens: usize,
    /// Schemas with more tables than this are trimmed to the tables relevant to the question.
    #[arg(long = "max_tables", alias = "max-tables", default_value_t = 20)]
    pub max_tables: usize,
    /// Token budget of the schema in the prompt (also capped by the model's context).
    #[arg(long = "max_schema_tokens", alias = "max-schema-tokens", default_value_t = 2048)]
    pub max_schema_tokens: usize,
    /// Endpoint request timeout in seconds.
    #[arg(long = "request_timeout", alias = "request-timeout", default_value_t = 120)]
    pub request_timeout: u64,
    /// Show the schema trimming, the prompt and the raw generation (on standard error).
    #[arg(long, short)]
    pub verbose: bool,
    /// Schema-constrained decoding: the SQL must parse and may only name tables and columns of
    /// the (trimmed) schema in the prompt; with --endpoint sent as `parameters.grammar`.
    #[arg(long, conflicts_with = "sql")]
    pub constrained: bool,
}

/// Where SQL comes from.
enum Generator {
    Fixed(String),
    Engine { engine: Box<Engine>, adapter: Option<Arc<LoraAdapter>>, constrained: bool },
    Endpoint(EndpointSource),
}

impl Generator {
    fn new(a: &Args) -> Result<Generator> {
        if let Some(sql) = &a.sql {
            return Ok(Generator::Fixed(sql.clone()));
        }
        if let Some(url) = &a.endpoint {
            let mut src = EndpointSource::new(url, a.adapter_id.clone(), super::eval::hf_token(), Duration::from_secs(a.request_timeout));
            src.max_new_tokens = u32::try_from(a.max_new_tokens).unwrap_or(u32::MAX);
            if a.constrained {
                src.grammar = Some(serde_json::json!({"type": "sql", "value": null}));
            }
            return Ok(Generator::Endpoint(src));
        }
        let (model, adapter_dir) = match &a.model {
            Some(m) => (m.clone(), a.adapter.clone()),
            None => {
                let adapter = a.adapter.clone().or_else(|| {
                    let found = super::default_model::shipped_adapters().into_iter().find(|(id, _)| id == DEFAULT_ADAPTER);
                    if found.is_none() {
                        eprintln!(
                            "warning: adapter {DEFAULT_ADAPTER} is not in {}/adapters: generating with the base model \
                             alone (expect weak SQL; pass --adapter DIR)",
                            super::default_model::models_dir().display()
                        );
                    }
                    found.map(|(_, dir)| dir)
                });
                (super::default_model::ensure()?, adapter)
            }
        };
        let engine = Engine::load(&model).with_context(|| format!("loading --model {}", model.display()))?;
        let adapter = match &adapter_dir {
            Some(dir) => Some(engine.load_adapter(dir, "adapter").with_context(|| format!("loading --adapter {}", dir.display()))?),
            None => None,
        };
        Ok(Generator::Engine { engine: Box::new(engine), adapter, constrained: a.constrained })
    }

    /// Tokens of `text` (exact with the engine, estimated at 3.5 characters per token otherwise).
    fn count_tokens(&self, text: &str) -> usize {
        match self {
            Generator::Engine { engine, .. } => engine.tokenizer.encode(text, false).map(|t| t.len()).unwrap_or(usize::MAX),
            _ => (text.chars().count() * 2).div_ceil(7),
        }
    }

    /// The model's context length, when known.
    fn context(&self) -> Option<usize> {
        match self {
            Generator::Engine { engine, .. } => Some(engine.config().max_position_embeddings),
            _ => None,
        }
    }

    fn generate(&self, prompt: &str, max_new_tokens: usize) -> Result<String> {
        match self {
            Generator::Fixed(s) => Ok(s.clone()),
            Generator::Endpoint(src) => src.predict(0, prompt, "").map_err(|e| anyhow::anyhow!("{e}")),
            Generator::Engine { engine, adapter, constrained } => engine
                .complete_greedy(prompt, adapter.as_ref(), max_new_tokens, constrained.then(|| sql_constraint_of_prompt(prompt)).transpose().map_err(anyhow::Error::msg)?)
                .context("generating (if the prompt fills the context, trim the schema with --max_tables)"),
        }
    }
}

/// The schema-constrained SQL grammar of a Text-to-SQL prompt (its `### Schema:` block).
pub(crate) fn sql_constraint_of_prompt(prompt: &str) -> Result<Arc<dyn text2sql_engine::Constraint>, String> {
    use text2sql_server::grammar::{schema_of_prompt, SqlGrammar};
    let ddl = schema_of_prompt(prompt).ok_or("--constrained: the prompt has no `### Schema:` block")?;
    let g = SqlGrammar::from_ddl(ddl).map_err(|e| format!("--constrained: {e}"))?;
    Ok(Arc::new(g))
}

/// Runs `text2sql ask`.
pub fn run(a: Args) -> Result<()> {
    if a.max_rows == 0 {
        bail!("--max_rows must be at least 1");
    }
    let (schema, file_ddl, mut db) = if let Some(path) = &a.schema {
        let text = std::fs::read_to_string(path).with_context(|| format!("--schema {}", path.display()))?;
        let schema = Schema::from_ddl(&text).with_context(|| format!("--schema {}", path.display()))?;
        (schema, Some(text.trim().to_string()), None)
    } else {
        let url_text = a.db.as_deref().unwrap_or_default();
        let url = DbUrl::parse(url_text).context("--db")?;
        let mut db = Db::open(&url).with_context(|| format!("--db {}", redact(url_text)))?;
        let schema = db.introspect().with_context(|| format!("reading the schema of --db {}", redact(url_text)))?;
        (schema, None, Some(db))
    };
    let generator = Generator::new(&a)?;

    // Trim the schema to what fits: the schema budget, and the context minus room to answer.
    let reserve = generator.context().map(|c| a.max_new_tokens.min(c / 4)).unwrap_or(0);
    let fits = |ddl: &str| {
        generator.count_tokens(ddl) <= a.max_schema_tokens
            && generator.context().is_none_or(|c| generator.count_tokens(&ask::prompt(ddl, &a.question)) + reserve <= c)
    };
    let trimmed = ask::trim_schema(&schema, &a.question, a.max_tables, &fits);
    if trimmed.trimmed() || a.verbose {
        report_trimming(&trimmed, a.verbose);
    }
    let ddl = match (&file_ddl, trimmed.trimmed()) {
        (Some(text), false) => text.clone(),
        _ => trimmed.schema.to_ddl(),
    };
    let prompt = ask::prompt(&ddl, &a.question);
    if a.verbose {
        eprintln!("--- prompt ---\n{prompt}\n--------------");
    }
    let raw = generator.generate(&prompt, a.max_new_tokens)?;
    if a.verbose && !matches!(generator, Generator::Fixed(_)) {
        eprintln!("--- generation ---\n{raw}\n------------------");
    }
    // Generated text is reduced to its first statement; --sql is taken as written (so that
    // several statements are refused by --execute, not silently cut).
    let sql = match &generator {
        Generator::Fixed(s) => s.trim().to_string(),
        _ => ask::extract_sql(&raw),
    };
    if sql.is_empty() {
        eprintln!("warning: the generation held no SQL (raw: {raw:?})");
    } else {
        println!("{sql}");
    }

    let report = SqlReport::check(&sql, &schema);
    match &report.parse_error {
        None => eprintln!("parse: ok"),
        Some(e) => eprintln!("parse: FAILED ({e})"),
    }
    if report.parses() {
        if report.adheres() {
            eprintln!("schema adherence: ok");
        } else {
            eprintln!("schema adherence: FAILED");
            eprintln!("warning: the SQL references names absent from the schema: {}", report.unknown_names().join(", "));
        }
    } else {
        eprintln!("schema adherence: not checked (the SQL does not parse)");
    }

    if a.execute {
        if sql.is_empty() {
            bail!("--execute: nothing to run, there is no SQL");
        }
        let db = db.as_mut().context("--execute needs --db")?;
        let limits = ExecLimits { max_rows: a.max_rows, timeout: Duration::from_millis(a.timeout_ms) };
        let table = db.execute(&sql, &limits).context("--execute")?;
        println!("{}", table.render());
    }
    Ok(())
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

fn report_trimming(t: &ask::Trimmed, verbose: bool) {
    let total = t.kept.len() + t.dropped.len();
    if t.trimmed() {
        eprintln!("schema trimmed to {} of {total} tables for this question", t.kept.len());
    } else {
        eprintln!("schema: all {total} tables fit");
    }
    if !verbose {
        return;
    }
    for c in &t.kept {
        let why = match &c.neighbour_of {
            Some(src) => format!("foreign-key neighbour of {src}"),
            None if c.matched.is_empty() => "no lexical match".to_string(),
            None => format!("matched {}", c.matched.join(", ")),
        };
        eprintln!("  kept    {:<24} score {:>5.2}  {why}", c.table, c.score);
    }
    for c in &t.dropped {
        eprintln!("  dropped {:<24} score {:>5.2}", c.table, c.score);
    }
}
