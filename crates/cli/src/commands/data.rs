//! `text2sql data build`: sql-create-context rows to train.jsonl / val.jsonl.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use text2sql_sql::data::{build, hf_cached_files, read_rows, write_jsonl, BuildOptions, BuildReport};

/// Prepare training data.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Validate, dedup and split question/context/answer rows into Alpaca train/val JSONL.
    Build(BuildArgs),
    /// Generate a synthetic corpus: thousands of business schemas, verified question/SQL pairs.
    Synth(SynthArgs),
}

#[derive(clap::Args)]
struct SynthArgs {
    /// Training examples.
    #[arg(long = "n_train", alias = "n-train", default_value_t = 20_000)]
    n_train: usize,
    /// Validation examples, from held-out schema families only.
    #[arg(long = "n_val", alias = "n-val", default_value_t = 2_000)]
    n_val: usize,
    /// Seed; the same seed gives byte-identical output.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Output folder for train.jsonl, val.jsonl and stats.json.
    #[arg(long = "out_dir", alias = "out-dir", default_value = "data/synth")]
    out_dir: PathBuf,
    /// Held-out families: a count (chosen by the seed) or a comma-separated list of family ids.
    #[arg(long = "val_families", alias = "val-families", default_value = "8")]
    val_families: text2sql_synth::ValFamilies,
    /// Draw families only from these domains (the schema files: retail, finance, health,
    /// education, hr, travel, media, tech, public, ...), comma-separated; default: all. A
    /// corpus made with a domain list stays byte-identical when later versions add domains.
    #[arg(long, value_delimiter = ',')]
    domains: Vec<String>,
    /// Template set: `v2` (default) adds compound questions (a flag or a date with a numeric
    /// filter, totals over a period, parents ranked by a total, per-parent counts in a period,
    /// groups sorted by their aggregate) to `v1`, the set of text2sql-qlora's training stages 1
    /// to 5 (`v1` keeps their corpora byte-identical).
    #[arg(long, default_value = "v2")]
    templates: text2sql_synth::TemplateSet,
    /// `sql`: schema + question → SQL (text2sql-qlora); `explain`: SQL → one-sentence
    /// explanation (sql-explain), from the same verified examples.
    #[arg(long, default_value = "sql")]
    task: text2sql_synth::Task,
}

fn run_synth(a: SynthArgs) -> Result<()> {
    let opts = text2sql_synth::SynthOptions { n_train: a.n_train, n_val: a.n_val, seed: a.seed, val_families: a.val_families, domains: a.domains, templates: a.templates };
    let corpus = text2sql_synth::generate(&opts)?;
    text2sql_synth::write_task(&corpus, &a.out_dir, a.task).with_context(|| format!("--out_dir {}", a.out_dir.display()))?;
    let s = &corpus.stats;
    println!(
        "{} train examples on {} distinct schemas, {} val examples on {} distinct schemas (held-out families: {})",
        s.train.examples, s.train.distinct_schemas, s.val.examples, s.val.distinct_schemas, s.val_families.join(", ")
    );
    eprintln!("wrote train.jsonl, val.jsonl and stats.json to {}", a.out_dir.display());
    Ok(())
}

#[derive(clap::Args)]
struct BuildArgs {
    /// Input JSON (array) or JSONL file with fields question, context, answer.
    #[arg(long, group = "input_source")]
    input: Option<PathBuf>,
    /// A dataset already in the local Hugging Face cache, e.g. b-mc2/sql-create-context.
    #[arg(long, group = "input_source")]
    dataset: Option<String>,
    /// Output folder for train.jsonl, val.jsonl and build_report.json.
    #[arg(long = "out_dir", alias = "out-dir", default_value = "data/processed")]
    out_dir: PathBuf,
    /// Fraction of rows for validation.
    #[arg(long = "val_fraction", alias = "val-fraction", default_value_t = 0.1)]
    val_fraction: f64,
    /// Split seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

/// Runs `text2sql data`.
pub fn run(args: Args) -> Result<()> {
    let a = match args.action {
        Action::Build(a) => a,
        Action::Synth(a) => return run_synth(a),
    };
    if !(0.0..1.0).contains(&a.val_fraction) {
        bail!("--val_fraction must be in [0, 1), got {}", a.val_fraction);
    }
    let files = match (&a.input, &a.dataset) {
        (Some(p), _) => vec![p.clone()],
        (None, Some(d)) => hf_cached_files(d).with_context(|| format!("--dataset {d}"))?,
        (None, None) => bail!("give --input FILE or --dataset REPO_ID"),
    };
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    for f in &files {
        let (r, b) = read_rows(f).with_context(|| format!("reading {}", f.display()))?;
        rows.extend(r);
        for mut d in b {
            d.reason = format!("{}: {}", f.display(), d.reason);
            bad.push(d);
        }
    }
    let (train, val, report) = build(rows, bad, &BuildOptions { val_fraction: a.val_fraction, seed: a.seed });
    write_jsonl(&a.out_dir.join("train.jsonl"), &train)?;
    write_jsonl(&a.out_dir.join("val.jsonl"), &val)?;
    let rp = a.out_dir.join("build_report.json");
    std::fs::write(&rp, serde_json::to_string_pretty(&report)? + "\n").with_context(|| rp.display().to_string())?;
    print_report(&report);
    eprintln!("wrote {}, {} and {}", a.out_dir.join("train.jsonl").display(), a.out_dir.join("val.jsonl").display(), rp.display());
    Ok(())
}

fn print_report(r: &BuildReport) {
    println!("read {} rows: {} train, {} val", r.read, r.train, r.val);
    for (what, list) in [
        ("bad lines", &r.bad_lines),
        ("unparseable SQL", &r.unparseable_sql),
        ("unparseable schema", &r.unparseable_schema),
        ("SQL referencing tables/columns absent from the schema", &r.schema_violations),
        ("duplicates", &r.duplicates),
    ] {
        if list.is_empty() {
            continue;
        }
        println!("dropped {} ({what}):", list.len());
        for d in list.iter().take(10) {
            println!("  line {}: {}", d.line, d.reason);
        }
        if list.len() > 10 {
            println!("  ... {} more in build_report.json", list.len() - 10);
        }
    }
}
