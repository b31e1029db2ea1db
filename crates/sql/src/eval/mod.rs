//! The evaluation pipeline behind `text2sql eval`: examples (internal Alpaca JSONL or
//! Spider), prediction sources, per-example verdicts, aggregated metrics and reports.

mod report;
pub mod source;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::adherence::check_adherence;
use crate::exec::{execution_match, ExecOptions};
use crate::parse::{normalize, normalize_no_values};
use crate::schema::{load_spider_tables, Schema};
use crate::semantic::{semantic_match, SemanticOptions};
use crate::spider::{self, Hardness, SpiderDb};
use crate::{Result, SqlError};

pub use report::{write_reports, Metric, Metrics, Report};
pub use source::{EndpointSource, FileSource, GoldSource, PredictionSource, SourceError};

/// The instruction line of the seed's Alpaca rows.
pub const INSTRUCTION: &str =
    "Write a SQL query that answers the user's question using ONLY the tables and columns provided in the schema.";

/// The exact prompt the model gets.
pub fn prompt(ddl: &str, question: &str) -> String {
    format!("### Schema:\n{ddl}\n\n### Question:\n{question}\n\nReturn only the SQL query.")
}

/// The `input` field of an Alpaca row.
pub fn alpaca_input(ddl: &str, question: &str) -> String {
    format!("### Schema:\n{ddl}\n\n### Question:\n{question}")
}

/// One example to evaluate.
#[derive(Debug, Clone)]
pub struct Example {
    /// Spider db_id (None for internal rows).
    pub db_id: Option<String>,
    /// Schema as DDL (what the prompt shows).
    pub ddl: String,
    /// The question.
    pub question: String,
    /// Gold SQL.
    pub gold: String,
}

impl Example {
    /// The prompt for this example.
    pub fn prompt(&self) -> String {
        prompt(&self.ddl, &self.question)
    }
}

/// A row of the seed's Alpaca-format JSONL.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlpacaRow {
    /// Instruction.
    pub instruction: String,
    /// "### Schema:\n<DDL>\n\n### Question:\n<question>"
    pub input: String,
    /// SQL.
    pub output: String,
}

/// Reads internal val.jsonl; a bad line is an error naming file and line.
pub fn load_internal(path: &Path) -> Result<Vec<Example>> {
    let text = std::fs::read_to_string(path).map_err(|e| SqlError::Io { path: path.display().to_string(), source: e })?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |m: String| SqlError::Json { path: format!("{}:{}", path.display(), n + 1), message: m };
        let row: AlpacaRow = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        let rest = row
            .input
            .strip_prefix("### Schema:\n")
            .ok_or_else(|| bad("input does not start with \"### Schema:\"".into()))?;
        let (ddl, question) =
            rest.split_once("\n\n### Question:\n").ok_or_else(|| bad("input has no \"### Question:\" part".into()))?;
        out.push(Example { db_id: None, ddl: ddl.to_string(), question: question.to_string(), gold: row.output });
    }
    Ok(out)
}

#[derive(Deserialize)]
struct SpiderDev {
    db_id: String,
    query: String,
    question: String,
}

/// Spider data: examples plus, per database, the schema and the evaluator's view of it.
pub struct SpiderSet {
    /// Examples in dev.json order.
    pub examples: Vec<Example>,
    /// db_id -> schema.
    pub schemas: std::collections::HashMap<String, (Schema, SpiderDb)>,
    /// Folder with `<db>/<db>.sqlite`, when present.
    pub database_dir: Option<PathBuf>,
}

/// Reads `dir/dev.json` and `dir/tables.json` (official layout; optional `dir/database`).
pub fn load_spider(dir: &Path) -> Result<SpiderSet> {
    let tables = load_spider_tables(&dir.join("tables.json"))?;
    let mut schemas = std::collections::HashMap::new();
    for t in &tables {
        schemas.insert(t.db_id.clone(), (Schema::from_spider(t)?, SpiderDb::from_tables(t)));
    }
    let dev_path = dir.join("dev.json");
    let text =
        std::fs::read_to_string(&dev_path).map_err(|e| SqlError::Io { path: dev_path.display().to_string(), source: e })?;
    let dev: Vec<SpiderDev> = serde_json::from_str(&text)
        .map_err(|e| SqlError::Json { path: dev_path.display().to_string(), message: e.to_string() })?;
    let mut examples = Vec::with_capacity(dev.len());
    for d in dev {
        let (schema, _) = schemas
            .get(&d.db_id)
            .ok_or_else(|| SqlError::Schema(format!("{}: db_id {} not in tables.json", dev_path.display(), d.db_id)))?;
        examples.push(Example { ddl: schema.to_ddl(), db_id: Some(d.db_id), question: d.question, gold: d.query });
    }
    let db = dir.join("database");
    Ok(SpiderSet { examples, schemas, database_dir: db.is_dir().then_some(db) })
}

/// Settings of the judges.
#[derive(Debug, Clone, Copy, Default)]
pub struct JudgeOptions {
    /// Limits for execution accuracy.
    pub exec: ExecOptions,
    /// Semantic accuracy settings.
    pub semantic: SemanticOptions,
}

/// Per-example verdicts.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Verdicts {
    /// Normalised exact match.
    pub exact_match: bool,
    /// Exact match with literals replaced by placeholders.
    pub no_values_em: bool,
    /// The prediction parses.
    pub parse_success: bool,
    /// The prediction references only what the schema has.
    pub schema_adherence: bool,
    /// Spider's exact-set-match (None when the gold is outside its grammar).
    pub exact_set_match: Option<bool>,
    /// Same result on the real database (None without one).
    pub execution_accuracy: Option<bool>,
    /// Same result on every generated database (None when the gold cannot run there).
    pub semantic_accuracy: Option<bool>,
    /// Spider hardness of the gold.
    pub hardness: Option<Hardness>,
    /// Schema violations of the prediction.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub violations: Vec<String>,
    /// Notes (why a judge could not decide, why a prediction failed).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub notes: Vec<String>,
}

/// What a judge needs besides the two queries.
pub struct JudgeContext<'a> {
    /// The schema.
    pub schema: &'a Schema,
    /// The evaluator's view of the schema.
    pub spider_db: &'a SpiderDb,
    /// A real database to execute on.
    pub sqlite: Option<&'a Path>,
}

/// Judges one prediction against its gold. Never panics on bad SQL.
pub fn judge(gold: &str, pred: &str, ctx: &JudgeContext<'_>, opts: &JudgeOptions) -> Verdicts {
    let mut v = Verdicts::default();
    let (ng, np) = (normalize(gold), normalize(pred));
    v.parse_success = np.is_ok();
    v.exact_match = matches!((&ng, &np), (Ok(a), Ok(b)) if a == b) || gold.trim() == pred.trim();
    v.no_values_em =
        v.exact_match || matches!((normalize_no_values(gold), normalize_no_values(pred)), (Ok(a), Ok(b)) if a == b);
    match check_adherence(pred, ctx.schema) {
        Ok(viol) => {
            v.schema_adherence = viol.is_empty();
            v.violations = viol.iter().map(|x| x.to_string()).collect();
        }
        Err(_) => v.schema_adherence = false,
    }
    match spider::parse(ctx.spider_db, gold) {
        Ok(g) => {
            v.hardness = Some(spider::hardness(&g));
            let p = spider::parse(ctx.spider_db, pred).unwrap_or_default();
            v.exact_set_match = Some(spider::exact_match(ctx.spider_db, &p, &g));
        }
        Err(e) => v.notes.push(format!("exact_set_match: gold outside Spider's grammar: {e}")),
    }
    if let Some(path) = ctx.sqlite {
        match rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY) {
            Ok(mut conn) => match execution_match(&mut conn, gold, pred, &opts.exec) {
                Ok(r) => v.execution_accuracy = Some(r.is_match()),
                Err(e) => v.notes.push(format!("execution: gold failed: {e}")),
            },
            Err(e) => v.notes.push(format!("execution: cannot open {}: {e}", path.display())),
        }
    }
    match semantic_match(ctx.schema, gold, pred, &opts.semantic) {
        Ok(s) => {
            v.semantic_accuracy = Some(s.matched);
            if s.n_nonempty == 0 && s.n_dbs > 0 {
                v.notes.push("semantic: gold returned no rows on any generated database (weak evidence)".into());
            }
            if let Some(r) = s.reason {
                v.notes.push(format!("semantic: {r}"));
            }
        }
        Err(e) => v.notes.push(format!("semantic: gold cannot run on generated databases: {e}")),
    }
    v
}

/// One evaluated example, as it appears in the report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExampleResult {
    /// Position in the input.
    pub index: usize,
    /// Spider db_id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_id: Option<String>,
    /// The question.
    pub question: String,
    /// Gold SQL.
    pub gold: String,
    /// Predicted SQL (empty when the source failed).
    pub prediction: String,
    /// Verdicts.
    #[serde(flatten)]
    pub verdicts: Verdicts,
}

/// The first note of an example whose prediction source failed, followed by the error.
pub const SOURCE_FAILED: &str = "prediction source failed: ";

/// Turns raw model output into one SQL string: code fences and a leading "SQL:" go,
/// whitespace collapses to single spaces.
pub fn clean_prediction(raw: &str) -> String {
    let mut s = raw.trim();
    if let Some(rest) = s.strip_prefix("```") {
        let rest = rest.strip_prefix("sql").or_else(|| rest.strip_prefix("SQL")).unwrap_or(rest);
        s = rest.split("```").next().unwrap_or(rest);
    }
    let s = s.trim().strip_prefix("SQL:").unwrap_or(s.trim());
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Evaluates `examples` with predictions from `source`, `concurrency` at a time.
/// `spider` supplies the schemas (and databases) of Spider examples; internal examples
/// carry their DDL. `on_done` is called once per finished example (from worker threads).
pub fn evaluate(
    examples: &[Example],
    spider: Option<&SpiderSet>,
    source: &dyn PredictionSource,
    opts: &JudgeOptions,
    concurrency: usize,
    on_done: &(dyn Fn(&ExampleResult) + Sync),
) -> Vec<ExampleResult> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::with_capacity(examples.len()));
    std::thread::scope(|s| {
        for _ in 0..concurrency.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(ex) = examples.get(i) else { break };
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| evaluate_one(i, ex, spider, source, opts)))
                    .unwrap_or_else(|_| ExampleResult {
                        index: i,
                        db_id: ex.db_id.clone(),
                        question: ex.question.clone(),
                        gold: ex.gold.clone(),
                        prediction: String::new(),
                        verdicts: Verdicts { notes: vec!["internal error while judging this example".into()], ..Default::default() },
                    });
                on_done(&r);
                results.lock().unwrap_or_else(|p| p.into_inner()).push(r);
            });
        }
    });
    let mut out = results.into_inner().unwrap_or_else(|p| p.into_inner());
    out.sort_by_key(|r| r.index);
    out
}

fn evaluate_one(
    index: usize,
    ex: &Example,
    spider: Option<&SpiderSet>,
    source: &dyn PredictionSource,
    opts: &JudgeOptions,
) -> ExampleResult {
    let (prediction, source_error) = match source.predict(index, &ex.prompt(), &ex.gold) {
        Ok(p) => (clean_prediction(&p), None),
        Err(e) => (String::new(), Some(e)),
    };
    let owned;
    let (schema, sdb, sqlite) = match (spider, &ex.db_id) {
        (Some(set), Some(db)) if set.schemas.contains_key(db) => {
            let (schema, sdb) = &set.schemas[db];
            let path = set.database_dir.as_ref().map(|d| d.join(db).join(format!("{db}.sqlite"))).filter(|p| p.is_file());
            (schema, sdb, path)
        }
        _ => {
            let schema = Schema::from_ddl(&ex.ddl).unwrap_or_default();
            let sdb = SpiderDb::from_schema(&schema);
            owned = (schema, sdb);
            (&owned.0, &owned.1, None)
        }
    };
    let ctx = JudgeContext { schema, spider_db: sdb, sqlite: sqlite.as_deref() };
    let mut verdicts = judge(&ex.gold, &prediction, &ctx, opts);
    if let Some(e) = source_error {
        verdicts.notes.insert(0, format!("{SOURCE_FAILED}{e}"));
    }
    ExampleResult {
        index,
        db_id: ex.db_id.clone(),
        question: ex.question.clone(),
        gold: ex.gold.clone(),
        prediction,
        verdicts,
    }
}
