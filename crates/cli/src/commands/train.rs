//! `text2sql train`: LoRA training on CPU with a frozen base (GGUF dequantised or HF
//! safetensors), loss on the SQL tokens only; PEFT output servable by `text2sql serve` and TGI.

use anyhow::{bail, Context, Result};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;
use text2sql_engine::lora::Proj;
use text2sql_engine::Engine;
use text2sql_train::trainer::{encode_example, Example, TrainConfig, Trainer};
use text2sql_train::TrainableLora;

/// The instruction line the serving prompt may end with; training shows both forms.
const SUFFIX: &str = "\n\nReturn only the SQL query.";

/// Arguments of `text2sql train` (the original train_qlora flags).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Training data: Alpaca JSONL (instruction, input, output).
    #[arg(long = "train_path", alias = "train-path")]
    pub train_path: PathBuf,
    /// Validation data (same format); validation loss is reported every --eval_steps.
    #[arg(long = "val_path", alias = "val-path")]
    pub val_path: Option<PathBuf>,
    /// Base model: HF directory or .gguf (default: the embedded SmolLM2-135M-Instruct Q4_1).
    #[arg(long = "base_model", alias = "base-model")]
    pub base_model: Option<PathBuf>,
    /// `base_model_name_or_path` written into adapter_config.json.
    #[arg(long = "base_model_name", alias = "base-model-name", default_value = "HuggingFaceTB/SmolLM2-135M-Instruct")]
    pub base_model_name: String,
    /// Where the PEFT adapter, metrics.json and checkpoint/ go.
    #[arg(long = "output_dir", alias = "output-dir", default_value = "outputs/adapters")]
    pub output_dir: PathBuf,
    /// Optimiser steps (overrides --num_train_epochs).
    #[arg(long = "max_steps", alias = "max-steps")]
    pub max_steps: Option<usize>,
    /// Epochs over the training data.
    #[arg(long = "num_train_epochs", alias = "num-train-epochs", default_value_t = 1.0)]
    pub num_train_epochs: f64,
    /// Peak learning rate.
    #[arg(long = "learning_rate", alias = "learning-rate", default_value_t = 2e-4)]
    pub learning_rate: f64,
    /// LoRA rank.
    #[arg(long = "lora_r", alias = "lora-r", default_value_t = 16)]
    pub lora_r: usize,
    /// LoRA alpha.
    #[arg(long = "lora_alpha", alias = "lora-alpha", default_value_t = 32.0)]
    pub lora_alpha: f64,
    /// LoRA dropout on the adapter branch's input during training (PEFT's lora_dropout).
    #[arg(long = "lora_dropout", alias = "lora-dropout", default_value_t = 0.0)]
    pub lora_dropout: f64,
    /// Only these layers get LoRA (PEFT's layers_to_transform): `16-29`, `20,21,22` or
    /// `top:12`. Backpropagation stops at the lowest one, so upper-layer LoRA trains faster.
    #[arg(long = "layers_to_transform", alias = "layers-to-transform")]
    pub layers_to_transform: Option<String>,
    /// Comma-separated projections (q_proj,k_proj,...) or all-linear.
    #[arg(long = "target_modules", alias = "target-modules", default_value = "all-linear")]
    pub target_modules: String,
    /// Examples per forward pass.
    #[arg(long = "batch_size", alias = "batch-size", default_value_t = 4)]
    pub batch_size: usize,
    /// Forward passes per optimiser step.
    #[arg(long = "gradient_accumulation_steps", alias = "gradient-accumulation-steps", default_value_t = 1)]
    pub gradient_accumulation_steps: usize,
    /// Fraction of steps for linear warmup.
    #[arg(long = "warmup_ratio", alias = "warmup-ratio", default_value_t = 0.03)]
    pub warmup_ratio: f64,
    /// Seed (LoRA init, data order, prompt-suffix choice).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Longest example in tokens (prompt start is cut first).
    #[arg(long = "max_seq_length", alias = "max-seq-length", default_value_t = 512)]
    pub max_seq_length: usize,
    /// Global gradient-norm clip.
    #[arg(long = "max_grad_norm", alias = "max-grad-norm", default_value_t = 1.0)]
    pub max_grad_norm: f64,
    /// Validation every N steps.
    #[arg(long = "eval_steps", alias = "eval-steps", default_value_t = 100)]
    pub eval_steps: usize,
    /// Checkpoint every N steps (into OUTPUT_DIR/checkpoint).
    #[arg(long = "save_steps", alias = "save-steps", default_value_t = 50)]
    pub save_steps: usize,
    /// Continue from OUTPUT_DIR/checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Start from this PEFT adapter's weights instead of fresh ones, to train a shipped or
    /// published adapter further (same --lora_r, --lora_alpha, --target_modules and layers as
    /// its adapter_config.json). A fresh schedule and optimiser.
    #[arg(long = "init_adapter", alias = "init-adapter", conflicts_with = "resume")]
    pub init_adapter: Option<PathBuf>,
    /// Keep the questions on one schema together in the data order (groups of up to
    /// --batch_size examples whose prompts share a prefix, shuffled as groups) so that each
    /// batch computes the shared schema once: on `data synth` corpora (several questions per
    /// schema) 1.4x the examples per second on 2 threads and about 2x on one, the same loss and
    /// gradients per batch. Changes which examples meet in a batch, so a recipe trained without it is not
    /// reproduced bit for bit with it.
    #[arg(long = "group_by_prefix", alias = "group-by-prefix")]
    pub group_by_prefix: bool,
    /// Stop after this many steps of the schedule (checkpoint, adapter and metrics written),
    /// to continue later with --resume: long runs in time-boxed pieces.
    #[arg(long = "stop_after_steps", alias = "stop-after-steps")]
    pub stop_after_steps: Option<usize>,
}

fn read_jsonl(path: &Path) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("{}:{}: invalid JSON", path.display(), i + 1))?;
        let field = |k: &str| {
            v.get(k).and_then(|x| x.as_str()).map(str::to_string).with_context(|| format!("{}:{}: missing string field `{k}`", path.display(), i + 1))
        };
        out.push((field("input")?, field("output")?));
    }
    if out.is_empty() {
        bail!("{}: no examples", path.display());
    }
    Ok(out)
}

fn encode_all(engine: &Engine, rows: &[(String, String)], max_len: usize, seed: u64) -> Result<Vec<Example>> {
    let eos = *engine.eos_token_ids.first().context("the model has no EOS token")?;
    let mut rng = StdRng::seed_from_u64(seed);
    rows.iter()
        .map(|(input, sql)| {
            // Text-to-SQL prompts come with and without the instruction line, as served.
            let sql_task = input.starts_with("### Schema:") && !input.ends_with(SUFFIX);
            let prompt = if sql_task && rng.random_bool(0.5) { format!("{input}{SUFFIX}") } else { input.clone() };
            Ok(encode_example(&engine.tokenizer, eos, &prompt, &format!("\n{sql}"), max_len)?)
        })
        .collect()
}

fn targets(spec: &str) -> Result<Vec<Proj>> {
    if spec == "all-linear" {
        return Ok(Proj::ALL.to_vec());
    }
    spec.split(',')
        .map(|n| {
            let n = n.trim();
            Proj::ALL.into_iter().find(|p| p.name() == n).with_context(|| {
                format!("--target_modules: unknown module {n:?} (use all-linear or q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj)")
            })
        })
        .collect()
}

/// Step and validation logs plus totals, carried across `--resume` in the checkpoint.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct History {
    train_log: Vec<serde_json::Value>,
    val_log: Vec<serde_json::Value>,
    tokens: usize,
    wall_s: f64,
}

/// Parses `--layers_to_transform` for a model of `n` layers.
fn parse_layers(spec: &str, n: usize) -> Result<Vec<usize>> {
    let bad = |why: &str| anyhow::anyhow!("--layers_to_transform {spec:?}: {why} (use e.g. 16-29, 20,21,22 or top:12; the model has {n} layers)");
    let mut out = Vec::new();
    if let Some(k) = spec.strip_prefix("top:") {
        let k: usize = k.trim().parse().map_err(|_| bad("not a number after top:"))?;
        if k == 0 || k > n {
            return Err(bad("count out of range"));
        }
        return Ok((n - k..n).collect());
    }
    for part in spec.split(',') {
        let part = part.trim();
        let num = |t: &str| t.trim().parse::<usize>().map_err(|_| bad(&format!("{t:?} is not a layer index")));
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => (num(part)?, num(part)?),
        };
        if a > b || b >= n {
            return Err(bad(&format!("{part:?} is out of range")));
        }
        out.extend(a..=b);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Runs `text2sql train`.
pub fn run(args: Args) -> Result<()> {
    if !(0.0..1.0).contains(&args.lora_dropout) {
        bail!("--lora_dropout {}: must be in [0, 1)", args.lora_dropout);
    }
    if args.batch_size == 0 || args.gradient_accumulation_steps == 0 {
        bail!("--batch_size and --gradient_accumulation_steps must be > 0");
    }
    let targets = targets(&args.target_modules)?;
    let base = match &args.base_model {
        Some(p) => p.clone(),
        None => super::default_model::ensure()?,
    };
    let engine = Engine::load(&base).with_context(|| format!("loading --base_model {}", base.display()))?;
    let rows = read_jsonl(&args.train_path)?;
    let context = engine.config().max_position_embeddings;
    if args.max_seq_length > context {
        bail!("--max_seq_length {} exceeds the context of {} ({context} tokens)", args.max_seq_length, base.display());
    }
    let train = encode_all(&engine, &rows, args.max_seq_length, args.seed)?;
    let val = match &args.val_path {
        Some(p) => encode_all(&engine, &read_jsonl(p)?, args.max_seq_length, args.seed + 1)?,
        None => Vec::new(),
    };
    let per_step = args.batch_size * args.gradient_accumulation_steps;
    let total_steps = args
        .max_steps
        .unwrap_or_else(|| ((train.len() as f64 * args.num_train_epochs) / per_step as f64).ceil() as usize)
        .max(1);
    let cfg = TrainConfig {
        learning_rate: args.learning_rate,
        warmup_steps: ((total_steps as f64 * args.warmup_ratio).round() as usize).max(1),
        total_steps,
        batch_size: args.batch_size,
        gradient_accumulation_steps: args.gradient_accumulation_steps,
        max_grad_norm: args.max_grad_norm,
        weight_decay: 0.0,
        seed: args.seed,
        group_by_prefix: args.group_by_prefix,
    };
    let names: Vec<&str> = targets.iter().map(|p| p.name()).collect();
    let mut adapter_config = json!({
        "peft_type": "LORA", "r": args.lora_r, "lora_alpha": args.lora_alpha, "target_modules": names,
    });
    if let Some(spec) = &args.layers_to_transform {
        adapter_config["layers_to_transform"] = json!(parse_layers(spec, engine.config().num_layers)?);
    }
    let mut lora = TrainableLora::new(engine.config(), serde_json::from_value(adapter_config)?, &targets, args.seed)?;
    lora.dropout = args.lora_dropout;
    if let Some(dir) = &args.init_adapter {
        lora.load_peft_weights(dir).with_context(|| format!("--init_adapter {}", dir.display()))?;
    }
    let mut model = engine.model.clone();
    model.set_differentiable_from(lora.first_layer());
    let mut trainer = Trainer::new(&model, lora, cfg)?;
    let ckpt = args.output_dir.join("checkpoint");
    if args.resume {
        trainer.load_checkpoint(&ckpt).with_context(|| format!("--resume: loading {}", ckpt.display()))?;
        eprintln!("resumed at step {}", trainer.state.step);
    }
    eprintln!(
        "training {} examples ({} val) for {total_steps} steps of {per_step} examples, LoRA r={} on {}",
        train.len(),
        val.len(),
        args.lora_r,
        names.join(",")
    );
    let bar = indicatif::ProgressBar::new(total_steps as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} [{elapsed_precise}<{eta_precise}]")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_position(trainer.state.step as u64);
    let started = Instant::now();
    // The logs of earlier pieces of a resumed run, so metrics.json and the curve cover it all.
    let mut history = History::default();
    if args.resume {
        let path = ckpt.join("history.json");
        if path.is_file() {
            history = serde_json::from_str(&std::fs::read_to_string(&path)?).with_context(|| format!("reading {}", path.display()))?;
        }
    }
    let earlier_s = history.wall_s;
    let plain_log = !std::io::IsTerminal::is_terminal(&std::io::stderr());
    let first_step = trainer.state.step;
    let stop_at = args.stop_after_steps.unwrap_or(total_steps).min(total_steps);
    while trainer.state.step < stop_at {
        let t = Instant::now();
        let r = trainer.step(&train)?;
        history.tokens += r.tokens;
        let tps = r.tokens as f64 / t.elapsed().as_secs_f64();
        bar.set_message(format!("loss {:.4} lr {:.2e} {:.0} tok/s", r.loss, r.lr, tps));
        bar.inc(1);
        if plain_log && (r.step % 10 == 0 || r.step == stop_at) {
            // Background runs (logs, no terminal): a line every 10 steps instead of the bar.
            let done = r.step - first_step;
            let eta = started.elapsed().as_secs_f64() / done.max(1) as f64 * (stop_at - r.step) as f64;
            eprintln!("step {}/{total_steps} loss {:.4} lr {:.2e} {tps:.0} tok/s eta {:.0} min", r.step, r.loss, r.lr, eta / 60.0);
        }
        history.train_log.push(json!({
            "step": r.step, "loss": r.loss, "lr": r.lr, "grad_norm": r.grad_norm, "tokens": r.tokens,
            "computed_tokens": r.computed_tokens, "tokens_per_s": tps,
        }));
        if !val.is_empty() && (r.step % args.eval_steps == 0 || r.step == total_steps) {
            let vl = trainer.eval_loss(&val)?;
            let line = format!("step {}: val loss {vl:.4}", r.step);
            if plain_log {
                eprintln!("{line}");
            } else {
                bar.println(line);
            }
            history.val_log.push(json!({"step": r.step, "val_loss": vl}));
        }
        if r.step % args.save_steps == 0 || r.step == stop_at {
            trainer.save_checkpoint(&ckpt)?;
            history.wall_s = earlier_s + started.elapsed().as_secs_f64();
            let path = ckpt.join("history.json");
            std::fs::write(&path, serde_json::to_string(&history)?).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    bar.finish();
    trainer.lora.save_peft(&args.output_dir, &args.base_model_name, &names)?;
    let wall = earlier_s + started.elapsed().as_secs_f64();
    let tokens_total = history.tokens;
    let points = |log: &[serde_json::Value], key: &str| -> Vec<(usize, f64)> {
        log.iter().filter_map(|e| Some((e["step"].as_u64()? as usize, e[key].as_f64()?))).collect()
    };
    let (train_pts, val_pts) = (points(&history.train_log, "loss"), points(&history.val_log, "val_loss"));
    let metrics = json!({
        "base_model": base.display().to_string(),
        "examples": train.len(), "val_examples": val.len(), "steps": total_steps,
        "lora_r": args.lora_r, "lora_alpha": args.lora_alpha, "target_modules": names,
        "learning_rate": args.learning_rate, "batch_size": args.batch_size,
        "gradient_accumulation_steps": args.gradient_accumulation_steps, "max_seq_length": args.max_seq_length,
        "seed": args.seed, "group_by_prefix": args.group_by_prefix, "wall_s": wall, "tokens_per_s": tokens_total as f64 / wall.max(1e-9),
        "train_log": history.train_log, "val_log": history.val_log,
    });
    let path = args.output_dir.join("metrics.json");
    std::fs::write(&path, serde_json::to_string_pretty(&metrics)?).with_context(|| format!("writing {}", path.display()))?;
    let png = args.output_dir.join("loss.png");
    let title = format!("LoRA r={} on {} ({} examples)", args.lora_r, base.file_name().unwrap_or_default().to_string_lossy(), train.len());
    super::train_plot::loss_curve_png(&png, &title, &train_pts, &val_pts)?;
    eprintln!("adapter written to {} ({:.0} s, {:.0} tokens/s)", args.output_dir.display(), wall, tokens_total as f64 / wall.max(1e-9));
    Ok(())
}
