//! `text2sql bench`: speed measurements as JSON (never timed tests).

use anyhow::{bail, Result};
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;
use text2sql_engine::config::{Arch, Config, RopeScaling};
use text2sql_engine::lora::{LoraAdapter, Proj};
use text2sql_engine::model::{KvCache, Logits, Model, SegmentInput};
use text2sql_engine::random::{random_adapter, random_model};

/// `text2sql bench` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum BenchCommand {
    /// Prefill and decode tokens/s of the engine on a random-weight model of a realistic shape,
    /// batch 1 and 8, without adapters, with one adapter, and with a different adapter per row.
    Engine(EngineArgs),
    /// Load test of a running server (`text2sql serve` or TGI): N concurrent clients over M
    /// adapters; mixed adapters vs. base vs. one adapter at a time; throughput and latency.
    Serve(super::bench_serve::ServeArgs),
    /// Cost of schema-constrained decoding: greedy generation of the hand-written evaluation
    /// prompts with and without the `sql` grammar; checks per token and their time.
    Grammar(super::bench_grammar::GrammarArgs),
    /// Training throughput (tokens/s, first step excluded) and peak memory of `text2sql train`
    /// on real data; tests/reference/bench_train_peft.py measures PyTorch + PEFT on the same job.
    Train(super::bench_train::TrainBenchArgs),
}

/// Arguments of `text2sql bench engine`.
#[derive(clap::Args, Debug)]
pub struct EngineArgs {
    /// Model shape: smollm2-135m, qwen2-0.5b or llama-1b (random weights, generated on the fly).
    #[arg(long, default_value = "qwen2-0.5b")]
    pub shape: String,
    /// Prompt length in tokens.
    #[arg(long = "prompt-len", alias = "prompt_len", default_value_t = 128)]
    pub prompt_len: usize,
    /// Decode steps measured.
    #[arg(long = "decode-steps", alias = "decode_steps", default_value_t = 16)]
    pub decode_steps: usize,
    /// Batch sizes to measure.
    #[arg(long = "batch", value_delimiter = ',', default_values_t = vec![1usize, 8])]
    pub batch: Vec<usize>,
    /// LoRA rank of the benchmark adapters (all linear layers).
    #[arg(long = "lora-r", alias = "lora_r", default_value_t = 16)]
    pub lora_r: usize,
}

/// The architecture of a named model shape.
pub fn shape_config(name: &str) -> Result<Config> {
    let (arch, vocab, hidden, inter, layers, heads, kv, tied) = match name {
        "smollm2-135m" => (Arch::Llama, 49152, 576, 1536, 30, 9, 3, true),
        "qwen2-0.5b" => (Arch::Qwen2, 151936, 896, 4864, 24, 14, 2, true),
        "llama-1b" => (Arch::Llama, 128256, 2048, 8192, 16, 32, 8, true),
        other => bail!("unknown --shape {other:?} (smollm2-135m, qwen2-0.5b, llama-1b)"),
    };
    Ok(Config {
        arch,
        vocab_size: vocab,
        hidden_size: hidden,
        intermediate_size: inter,
        num_layers: layers,
        num_heads: heads,
        num_kv_heads: kv,
        head_dim: hidden / heads,
        rms_norm_eps: 1e-6,
        rope_theta: 10_000.0,
        rope_scaling: RopeScaling::None,
        max_position_embeddings: 4096,
        sliding_window: None,
        sliding_window_from_layer: 0,
        tie_word_embeddings: tied,
        qkv_bias: arch == Arch::Qwen2,
        o_bias: false,
        mlp_bias: false,
        bos_token_id: None,
        eos_token_ids: vec![],
    })
}

fn measure(model: &Model, adapters: &[Option<Arc<LoraAdapter>>], prompt_len: usize, steps: usize) -> Result<(f64, f64)> {
    let b = adapters.len();
    let vocab = model.config().vocab_size as u32;
    let prompts: Vec<Vec<u32>> =
        (0..b).map(|r| (0..prompt_len).map(|i| ((i * 7919 + r * 104729) as u32) % vocab).collect()).collect();
    let mut caches: Vec<KvCache> = (0..b).map(|_| model.new_cache()).collect();
    // One forward pass: row r feeds rows[r] with its adapter.
    let mut forward = |rows: &[Vec<u32>]| -> Result<()> {
        let inputs: Vec<SegmentInput> = rows
            .iter()
            .zip(adapters)
            .map(|(p, a)| SegmentInput { tokens: p, adapter: a.as_ref(), logits: Logits::Last, fork_of: None })
            .collect();
        let mut refs: Vec<&mut KvCache> = caches.iter_mut().collect();
        model.forward(&inputs, &mut refs)?;
        Ok(())
    };
    let t = Instant::now();
    forward(&prompts)?;
    let prefill = (b * prompt_len) as f64 / t.elapsed().as_secs_f64();
    let next: Vec<Vec<u32>> = (0..b).map(|r| vec![(r as u32 * 31) % vocab]).collect();
    let t = Instant::now();
    for _ in 0..steps {
        forward(&next)?;
    }
    let decode = (b * steps) as f64 / t.elapsed().as_secs_f64();
    Ok((prefill, decode))
}

/// Runs a benchmark and prints its JSON report.
pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Serve(args) => super::bench_serve::run(args),
        BenchCommand::Grammar(args) => super::bench_grammar::run(args),
        BenchCommand::Train(args) => super::bench_train::run(args),
        BenchCommand::Engine(args) => {
            let cfg = shape_config(&args.shape)?;
            let t = Instant::now();
            let model = random_model(&cfg, 0)?;
            let build_s = t.elapsed().as_secs_f64();
            let n_adapters = 4;
            let adapters: Vec<Arc<LoraAdapter>> = (0..n_adapters)
                .map(|i| random_adapter(&cfg, &format!("bench-{i}"), args.lora_r, &Proj::ALL, 100 + i as u64).map(Arc::new))
                .collect::<Result<_, _>>()?;
            let mut results = Vec::new();
            for &b in &args.batch {
                for mode in ["base", "one_adapter", "mixed_adapters"] {
                    let rows: Vec<Option<Arc<LoraAdapter>>> = (0..b)
                        .map(|r| match mode {
                            "base" => None,
                            "one_adapter" => Some(adapters[0].clone()),
                            _ => Some(adapters[r % n_adapters].clone()),
                        })
                        .collect();
                    if mode == "mixed_adapters" && b == 1 {
                        continue;
                    }
                    let (prefill, decode) = measure(&model, &rows, args.prompt_len, args.decode_steps)?;
                    let row = json!({
                        "batch": b, "mode": mode,
                        "prefill_tokens_per_s": (prefill * 10.0).round() / 10.0,
                        "decode_tokens_per_s": (decode * 10.0).round() / 10.0,
                    });
                    eprintln!("{row}");
                    results.push(row);
                }
            }
            let report = json!({
                "benchmark": "engine",
                "shape": args.shape,
                "params": text2sql_engine::random::weight_shapes(&cfg).iter().map(|(_, s)| s.iter().product::<usize>()).sum::<usize>(),
                "dtype": "f32",
                "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
                "prompt_len": args.prompt_len,
                "decode_steps": args.decode_steps,
                "lora_r": args.lora_r,
                "lora_targets": "all-linear",
                "model_build_s": build_s,
                "results": results,
            });
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
    }
}
