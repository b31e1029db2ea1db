//! `text2sql bench train`: training throughput (tokens/s) and peak memory of `text2sql train`
//! on real data, for comparison with PyTorch + PEFT on the same job
//! (tests/reference/bench_train_peft.py takes the same flags).

use anyhow::{Context, Result};
use serde_json::json;

/// Arguments of `text2sql bench train`: the training flags, plus how many steps to time.
#[derive(clap::Args, Debug)]
pub struct TrainBenchArgs {
    /// Optimiser steps to run; the first is a warm-up and is not counted.
    #[arg(long, default_value_t = 6)]
    pub steps: usize,
    #[command(flatten)]
    pub train: super::train::Args,
}

/// Peak resident memory of this process (Linux `VmHWM`), in MB.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb / 1024.0)
}

/// Runs the benchmark and prints its JSON report.
pub fn run(mut args: TrainBenchArgs) -> Result<()> {
    let out = tempfile::tempdir().context("creating a temporary output directory")?;
    let t = &mut args.train;
    t.output_dir = out.path().to_path_buf();
    t.max_steps = Some(args.steps.max(2));
    t.stop_after_steps = None;
    t.resume = false;
    t.val_path = None;
    t.save_steps = usize::MAX;
    super::train::run(args.train)?;
    let path = out.path().join("metrics.json");
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?).with_context(|| format!("reading {}", path.display()))?;
    let log = m["train_log"].as_array().context("metrics.json without train_log")?;
    // Per-step tokens/s → tokens and seconds per step, the warm-up step left out.
    let (mut tokens, mut computed, mut secs) = (0.0, 0.0, 0.0);
    for e in log.iter().skip(1) {
        let (tps, n) = (e["tokens_per_s"].as_f64().unwrap_or(0.0), e["tokens"].as_f64().unwrap_or(0.0));
        if tps > 0.0 {
            tokens += n;
            computed += e["computed_tokens"].as_f64().unwrap_or(n);
            secs += n / tps;
        }
    }
    let examples_per_step = m["batch_size"].as_f64().unwrap_or(0.0) * m["gradient_accumulation_steps"].as_f64().unwrap_or(1.0);
    let rate = |n: f64| if secs > 0.0 { (n / secs * 10.0).round() / 10.0 } else { 0.0 };
    let report = json!({
        "benchmark": "train",
        "implementation": "text2sql (candle, f32)",
        "base_model": m["base_model"],
        "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "rayon_num_threads": std::env::var("RAYON_NUM_THREADS").ok(),
        "batch_size": m["batch_size"],
        "lora_r": m["lora_r"],
        "target_modules": m["target_modules"],
        "max_seq_length": m["max_seq_length"],
        "steps_measured": log.len().saturating_sub(1),
        "group_by_prefix": m["group_by_prefix"],
        // Tokens of the training examples per second (what PyTorch + PEFT's number counts);
        // computed_tokens_per_s: those the model ran, fewer when prompts share a prefix.
        "tokens_per_s": rate(tokens),
        "computed_tokens_per_s": rate(computed),
        "examples_per_s": rate(examples_per_step * log.len().saturating_sub(1) as f64),
        "peak_rss_mb": peak_rss_mb().map(|v| v.round()),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
