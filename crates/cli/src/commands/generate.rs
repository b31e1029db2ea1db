//! `text2sql generate`: one generation, printed as text or as TGI's `/generate` JSON body.

use anyhow::{bail, Context, Result};
use std::io::Read;
use std::path::PathBuf;
use text2sql_engine::{Engine, GenerateRequest, GenerateResponse, SamplingParams};

/// Arguments of `text2sql generate`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model: a Hugging Face model directory (config.json, tokenizer.json, safetensors) or a
    /// .gguf file. Default: the embedded SmolLM2-135M-Instruct Q4_1 GGUF.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// PEFT LoRA adapter directory (adapter_config.json + adapter_model.safetensors).
    #[arg(long)]
    pub adapter: Option<PathBuf>,
    /// The prompt; `-` reads it from standard input.
    #[arg(long)]
    pub prompt: String,
    /// Maximum number of tokens to generate.
    #[arg(long = "max-new-tokens", alias = "max_new_tokens", default_value_t = 100)]
    pub max_new_tokens: usize,
    /// Sample instead of greedy decoding.
    #[arg(long = "do-sample", alias = "do_sample")]
    pub do_sample: bool,
    /// Sampling temperature (0 means greedy).
    #[arg(long)]
    pub temperature: Option<f32>,
    /// Keep only the K most likely tokens.
    #[arg(long = "top-k", alias = "top_k")]
    pub top_k: Option<usize>,
    /// Nucleus sampling: keep the smallest set of tokens with this probability mass (0 < P < 1).
    #[arg(long = "top-p", alias = "top_p")]
    pub top_p: Option<f32>,
    /// Typical sampling mass (0 < P < 1).
    #[arg(long = "typical-p", alias = "typical_p")]
    pub typical_p: Option<f32>,
    /// Repetition penalty (> 0; 1 = off).
    #[arg(long = "repetition-penalty", alias = "repetition_penalty")]
    pub repetition_penalty: Option<f32>,
    /// Frequency penalty (-2..2; 0 = off).
    #[arg(long = "frequency-penalty", alias = "frequency_penalty")]
    pub frequency_penalty: Option<f32>,
    /// Random seed (sampling is reproducible with the same seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Stop when the generated text ends with this string (repeatable).
    #[arg(long)]
    pub stop: Vec<String>,
    /// Also report the prompt tokens with their logprobs (`details.prefill`).
    #[arg(long = "decoder-input-details", alias = "decoder_input_details")]
    pub decoder_input_details: bool,
    /// Report the N most likely alternatives for every generated token.
    #[arg(long = "top-n-tokens", alias = "top_n_tokens", default_value_t = 0)]
    pub top_n_tokens: usize,
    /// Print TGI's JSON response body (with details) instead of the text.
    #[arg(long)]
    pub json: bool,
    /// Schema-constrained SQL: the output must parse and name only tables and columns of the
    /// prompt's `### Schema:` block (same as --grammar '{"type": "sql", "value": null}').
    #[arg(long, conflicts_with = "grammar")]
    pub constrained: bool,
    /// A grammar as TGI's `parameters.grammar`: {"type": "regex", "value": "..."},
    /// {"type": "json", "value": <JSON schema>} or {"type": "sql", "value": null | "<DDL>"}.
    #[arg(long)]
    pub grammar: Option<String>,
}

/// Turns CLI flags into validated sampling parameters.
pub fn sampling_params(a: &Args) -> Result<SamplingParams> {
    let mut p = SamplingParams { do_sample: a.do_sample, seed: a.seed, ..Default::default() };
    match a.temperature {
        Some(t) if t < 0.0 || !t.is_finite() => bail!("--temperature must be >= 0, got {t}"),
        Some(0.0) => p.do_sample = false,
        Some(t) => p.temperature = t,
        None => {}
    }
    if let Some(k) = a.top_k {
        if k == 0 {
            bail!("--top-k must be strictly positive");
        }
        p.top_k = Some(k);
    }
    if let Some(v) = a.top_p {
        if !(v > 0.0 && v < 1.0) {
            bail!("--top-p must be > 0.0 and < 1.0, got {v}");
        }
        p.top_p = Some(v);
    }
    if let Some(v) = a.typical_p {
        if !(v > 0.0 && v < 1.0) {
            bail!("--typical-p must be > 0.0 and < 1.0, got {v}");
        }
        p.typical_p = Some(v);
    }
    if let Some(v) = a.repetition_penalty {
        if v.is_nan() || v <= 0.0 {
            bail!("--repetition-penalty must be strictly positive, got {v}");
        }
        p.repetition_penalty = v;
    }
    if let Some(v) = a.frequency_penalty {
        if !(-2.0..=2.0).contains(&v) {
            bail!("--frequency-penalty must be >= -2.0 and <= 2.0, got {v}");
        }
        p.frequency_penalty = v;
    }
    if a.max_new_tokens == 0 {
        bail!("--max-new-tokens must be strictly positive");
    }
    Ok(p)
}

/// Runs `text2sql generate`.
pub fn run(args: Args) -> Result<()> {
    let sampling = sampling_params(&args)?;
    let prompt = if args.prompt == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).context("reading the prompt from standard input")?;
        s
    } else {
        args.prompt.clone()
    };
    if prompt.is_empty() {
        bail!("--prompt is empty");
    }
    let model = match &args.model {
        Some(m) => m.clone(),
        None => super::default_model::ensure()?,
    };
    let engine = Engine::load(&model).with_context(|| format!("loading model {}", model.display()))?;
    let adapter = match &args.adapter {
        Some(dir) => Some(engine.load_adapter(dir, "adapter")?),
        None => None,
    };
    let input_ids = engine.encode_prompt(&prompt)?;
    let grammar = match (&args.grammar, args.constrained) {
        (Some(g), _) => Some(serde_json::from_str::<serde_json::Value>(g).context("--grammar: invalid JSON")?),
        (None, true) => Some(serde_json::json!({"type": "sql", "value": null})),
        (None, false) => None,
    };
    let constraint = match grammar {
        Some(g) => Some(text2sql_server::grammar::parse(&g, &prompt).map_err(|e| anyhow::anyhow!("--grammar: {e}"))?),
        None => None,
    };
    let req = GenerateRequest {
        constraint,
        adapter,
        sampling,
        stop: args.stop.clone(),
        top_n_tokens: args.top_n_tokens,
        decoder_input_details: args.decoder_input_details,
        ..GenerateRequest::greedy(input_ids, args.max_new_tokens)
    };
    let seq = engine.generate(vec![req])?.pop().context("no output")?;
    let resp = GenerateResponse::from_sequence(&seq, &engine.tokenizer, true)?;
    if args.json {
        println!("{}", serde_json::to_string(&resp)?);
    } else {
        println!("{}", resp.generated_text);
    }
    Ok(())
}
