//! Synthetic Text-to-SQL corpus (`text2sql data synth`): hand-written business schema
//! families, procedural variation into thousands of concrete schemas, question/SQL templates
//! with several phrasings each, and verification of every example on a generated SQLite
//! instance (the SQL parses, follows the schema and returns rows). Deterministic by seed;
//! validation families are held out of training entirely.

pub mod catalog;
pub mod error;
pub mod explain;
pub mod handwritten;
pub mod instance;
pub mod phrasings;
pub mod templates;
pub mod variant;
pub mod words;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use serde::Serialize;
use text2sql_sql::eval::{alpaca_input, AlpacaRow, INSTRUCTION};
use text2sql_sql::exec::{run_query, ExecOptions};

pub use catalog::{families, Family};
pub use error::{Result, SynthError};
pub use phrasings::TemplateSet;

/// Which families are held out for validation.
#[derive(Debug, Clone)]
pub enum ValFamilies {
    /// This many, chosen by the seed.
    Count(usize),
    /// These family ids.
    List(Vec<String>),
}

impl std::str::FromStr for ValFamilies {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().parse::<usize>() {
            Ok(n) => Ok(ValFamilies::Count(n)),
            Err(_) => Ok(ValFamilies::List(s.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect())),
        }
    }
}

/// What the rows teach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Task {
    /// Schema + question → SQL (the text2sql-qlora adapter).
    #[default]
    Sql,
    /// SQL → one-sentence explanation (the sql-explain adapter).
    Explain,
}

impl std::str::FromStr for Task {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sql" => Ok(Task::Sql),
            "explain" => Ok(Task::Explain),
            other => Err(format!("unknown task {other:?} (use sql or explain)")),
        }
    }
}

/// Settings of a run.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    /// Training examples.
    pub n_train: usize,
    /// Validation examples (held-out families).
    pub n_val: usize,
    /// Seed.
    pub seed: u64,
    /// Held-out families.
    pub val_families: ValFamilies,
    /// Draw families only from these domains (schema files, e.g. `retail`); empty: all. Keeps
    /// a corpus byte-identical after the catalog grows by new files.
    pub domains: Vec<String>,
    /// Which templates questions are drawn from.
    pub templates: TemplateSet,
}

/// One verified example.
#[derive(Debug, Clone)]
pub struct Example {
    /// Family id.
    pub family: String,
    /// Template kind.
    pub kind: &'static str,
    /// Phrasing id.
    pub phrasing: String,
    /// Table names of the schema (distractors included).
    pub tables: Vec<String>,
    /// DDL.
    pub ddl: Arc<str>,
    /// Question.
    pub question: String,
    /// Gold SQL.
    pub sql: String,
    /// Script (DDL + INSERTs) that builds the instance the SQL was verified on.
    pub instance: Arc<str>,
}

impl Example {
    /// As an Alpaca row of the Text-to-SQL task.
    pub fn alpaca(&self) -> AlpacaRow {
        AlpacaRow { instruction: INSTRUCTION.to_string(), input: alpaca_input(&self.ddl, &self.question), output: self.sql.clone() }
    }

    /// As an Alpaca row of `task`.
    pub fn row(&self, task: Task) -> AlpacaRow {
        match task {
            Task::Sql => self.alpaca(),
            Task::Explain => explain::explain_row(&self.sql, &self.question),
        }
    }
}

/// Counts of one split.
#[derive(Debug, Clone, Serialize, Default)]
pub struct SplitStats {
    /// Examples.
    pub examples: usize,
    /// Distinct DDL texts.
    pub distinct_schemas: usize,
    /// Distinct table-name sets.
    pub distinct_table_sets: usize,
    /// Families used.
    pub families: Vec<String>,
    /// Examples per template kind.
    pub per_template: BTreeMap<String, usize>,
    /// Examples per phrasing.
    pub per_phrasing: BTreeMap<String, usize>,
    /// Examples per family.
    pub per_family: BTreeMap<String, usize>,
    /// Candidates dropped (SQL failed to parse or execute, empty result, duplicate).
    pub dropped: BTreeMap<String, usize>,
}

/// The generated corpus.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// Training examples.
    pub train: Vec<Example>,
    /// Validation examples.
    pub val: Vec<Example>,
    /// Statistics.
    pub stats: Stats,
}

/// stats.json.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    /// Seed.
    pub seed: u64,
    /// Families in the catalog.
    pub catalog_families: usize,
    /// Tables in the catalog.
    pub catalog_tables: usize,
    /// Template kinds.
    pub template_kinds: usize,
    /// Phrasings in all.
    pub phrasings: usize,
    /// Held-out families.
    pub val_families: Vec<String>,
    /// Training split.
    pub train: SplitStats,
    /// Validation split.
    pub val: SplitStats,
}

/// Chooses the held-out family ids.
pub fn choose_val(fams: &[Family], sel: &ValFamilies, seed: u64) -> Result<Vec<String>> {
    let ids: Vec<String> = fams.iter().map(|f| f.id.clone()).collect();
    let out = match sel {
        ValFamilies::Count(n) => {
            if *n == 0 || *n >= ids.len() {
                return Err(SynthError::Option { flag: "--val_families".into(), message: format!("count must be in 1..{}, got {n}", ids.len()) });
            }
            let mut v = ids.clone();
            v.shuffle(&mut StdRng::seed_from_u64(seed ^ 0x5eed_0ffa));
            v.truncate(*n);
            v.sort();
            v
        }
        ValFamilies::List(l) => {
            for x in l {
                if !ids.contains(x) {
                    return Err(SynthError::Option { flag: "--val_families".into(), message: format!("unknown family {x:?}; known: {}", ids.join(", ")) });
                }
            }
            if l.is_empty() || l.len() >= ids.len() {
                return Err(SynthError::Option { flag: "--val_families".into(), message: "give at least one and not all families".into() });
            }
            let mut v = l.clone();
            v.sort();
            v.dedup();
            v
        }
    };
    Ok(out)
}

/// Keeps the families of `domains` (all when empty), in catalog order.
pub fn select_domains(fams: Vec<Family>, domains: &[String]) -> Result<Vec<Family>> {
    if domains.is_empty() {
        return Ok(fams);
    }
    let known: BTreeSet<&str> = fams.iter().map(|f| f.domain.as_str()).collect();
    if let Some(bad) = domains.iter().find(|d| !known.contains(d.as_str())) {
        let known: Vec<&str> = known.into_iter().collect();
        return Err(SynthError::Option { flag: "--domains".into(), message: format!("unknown domain {bad:?}; known: {}", known.join(", ")) });
    }
    Ok(fams.into_iter().filter(|f| domains.contains(&f.domain)).collect())
}

/// Generates the corpus.
pub fn generate(opts: &SynthOptions) -> Result<Corpus> {
    let fams = select_domains(families()?, &opts.domains)?;
    let val_ids = choose_val(&fams, &opts.val_families, opts.seed)?;
    let (val_f, train_f): (Vec<&Family>, Vec<&Family>) = fams.iter().partition(|f| val_ids.contains(&f.id));
    let (train, train_s) = split(&train_f, opts.n_train, opts.seed.wrapping_mul(2).wrapping_add(1), "train", opts.templates)?;
    let (val, val_s) = split(&val_f, opts.n_val, opts.seed.wrapping_mul(2).wrapping_add(2), "val", opts.templates)?;
    let stats = Stats {
        seed: opts.seed,
        catalog_families: fams.len(),
        catalog_tables: fams.iter().map(|f| f.tables.len()).sum(),
        template_kinds: opts.templates.kinds().len(),
        phrasings: opts.templates.phrasing_count(),
        val_families: val_ids,
        train: train_s,
        val: val_s,
    };
    Ok(Corpus { train, val, stats })
}

fn split(fams: &[&Family], n: usize, seed: u64, name: &str, set: TemplateSet) -> Result<(Vec<Example>, SplitStats)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let keys = templates::keys(set);
    let mut out: Vec<Example> = Vec::new();
    let mut st = SplitStats::default();
    let mut seen: HashSet<(Arc<str>, String)> = HashSet::new();
    let exec = ExecOptions { timeout: std::time::Duration::from_secs(2), max_rows: 1000 };
    let mut order: Vec<&Family> = Vec::new();
    let mut attempts = 0usize;
    while out.len() < n {
        attempts += 1;
        if attempts > n * 4 + 50 {
            return Err(SynthError::Shortfall { split: name.into(), got: out.len(), want: n });
        }
        if order.is_empty() {
            order = fams.to_vec();
            order.shuffle(&mut rng);
        }
        let Some(fam) = order.pop() else { break };
        let vs = variant::make(fam, fams, &mut rng);
        let inst = instance::generate(&vs, &mut rng);
        let schema = match text2sql_sql::Schema::from_ddl(&vs.ddl) {
            Ok(s) => s,
            Err(_) => {
                *st.dropped.entry("ddl_unparsed".into()).or_default() += 1;
                continue;
            }
        };
        let mut conn = match inst.open() {
            Ok(c) => c,
            Err(_) => {
                *st.dropped.entry("instance_failed".into()).or_default() += 1;
                continue;
            }
        };
        let ddl: Arc<str> = Arc::from(vs.ddl.as_str());
        let script: Arc<str> = Arc::from(inst.script.as_str());
        let tables: Vec<String> = vs.tables.iter().map(|t| t.name.trim_matches('"').to_lowercase()).collect();
        let per = rng.random_range(2..=4usize);
        let mut got = 0;
        for _ in 0..per * 3 {
            if got >= per || out.len() >= n {
                break;
            }
            let Some(key) = keys.choose(&mut rng) else { break };
            let Some(g) = templates::instantiate(key, &vs, &inst, &mut rng) else { continue };
            let why = if text2sql_sql::parse_sql(&g.sql).is_err() {
                Some("sql_unparsed")
            } else if !text2sql_sql::check_adherence(&g.sql, &schema).map(|v| v.is_empty()).unwrap_or(false) {
                Some("schema_violation")
            } else {
                match run_query(&mut conn, &g.sql, &exec) {
                    Ok(rows) if rows.is_empty() || rows.iter().all(|r| r.iter().all(|c| *c == text2sql_sql::exec::Cell::Null)) => Some("empty_result"),
                    Ok(_) => None,
                    Err(_) => Some("exec_failed"),
                }
            };
            if let Some(w) = why {
                *st.dropped.entry(w.into()).or_default() += 1;
                continue;
            }
            if !seen.insert((ddl.clone(), g.question.clone())) {
                *st.dropped.entry("duplicate".into()).or_default() += 1;
                continue;
            }
            got += 1;
            out.push(Example {
                family: fam.id.clone(),
                kind: g.kind,
                phrasing: g.phrasing,
                tables: tables.clone(),
                ddl: ddl.clone(),
                question: g.question,
                sql: g.sql,
                instance: script.clone(),
            });
        }
    }
    let mut ddls = BTreeSet::new();
    let mut tsets = BTreeSet::new();
    let mut fams_used = BTreeSet::new();
    for e in &out {
        ddls.insert(e.ddl.clone());
        let mut t = e.tables.clone();
        t.sort();
        tsets.insert(t);
        fams_used.insert(e.family.clone());
        *st.per_template.entry(e.kind.into()).or_default() += 1;
        *st.per_phrasing.entry(e.phrasing.clone()).or_default() += 1;
        *st.per_family.entry(e.family.clone()).or_default() += 1;
    }
    st.examples = out.len();
    st.distinct_schemas = ddls.len();
    st.distinct_table_sets = tsets.len();
    st.families = fams_used.into_iter().collect();
    Ok((out, st))
}

/// Writes train.jsonl, val.jsonl (rows of the Text-to-SQL task) and stats.json into `dir`.
pub fn write(corpus: &Corpus, dir: &Path) -> Result<()> {
    write_task(corpus, dir, Task::Sql)
}

/// Writes train.jsonl, val.jsonl (rows of `task`) and stats.json into `dir`.
pub fn write_task(corpus: &Corpus, dir: &Path, task: Task) -> Result<()> {
    let io = |p: &Path, e: std::io::Error| SynthError::Io { path: p.display().to_string(), source: e };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    for (name, rows) in [("train.jsonl", &corpus.train), ("val.jsonl", &corpus.val)] {
        let p = dir.join(name);
        let mut s = String::new();
        for e in rows.iter() {
            s.push_str(&serde_json::to_string(&e.row(task)).map_err(|e| io(&p, e.into()))?);
            s.push('\n');
        }
        std::fs::write(&p, s).map_err(|e| io(&p, e))?;
    }
    let p = dir.join("stats.json");
    let s = serde_json::to_string_pretty(&corpus.stats).map_err(|e| io(&p, e.into()))?;
    std::fs::write(&p, s + "\n").map_err(|e| io(&p, e))
}
