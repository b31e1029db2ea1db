//! `text2sql bench serve`: load test of a RUNNING TGI-compatible server (ours or TGI itself)
//! over its HTTP API, with N concurrent clients spread over M LoRA adapters. Three modes:
//! `mixed_adapters` (requests round-robin over the adapters, all concurrent: the multi-LoRA
//! case), `base` (no adapter) and `one_adapter_at_a_time` (all requests of adapter A, then of
//! B, ...). JSON report: per mode requests/s, generated tokens/s, p50/p99 latency, errors.

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A realistic Text-to-SQL prompt in the project's format.
pub const DEFAULT_PROMPT: &str = "### Schema:\n\
CREATE TABLE customers (\n  id INTEGER PRIMARY KEY,\n  name TEXT,\n  country TEXT,\n  created_at TIMESTAMP\n);\n\
CREATE TABLE orders (\n  id INTEGER PRIMARY KEY,\n  customer_id INTEGER REFERENCES customers(id),\n  amount NUMERIC,\n  created_at TIMESTAMP\n);\n\n\
### Question:\nTotal order amount per customer country for the last 7 days.\n\n\
Return only the SQL query.";

const MODES: [&str; 3] = ["mixed_adapters", "base", "one_adapter_at_a_time"];

/// Arguments of `text2sql bench serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Base URL of the running server.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    pub endpoint: String,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Adapter ids (comma-separated). Default: every id of GET /v1/models but the base model.
    #[arg(long, value_delimiter = ',')]
    pub adapters: Vec<String>,
    /// Requests per mode.
    #[arg(long, default_value_t = 64)]
    pub requests: usize,
    /// `max_new_tokens` of every request.
    #[arg(long = "max-new-tokens", alias = "max_new_tokens", default_value_t = 32)]
    pub max_new_tokens: u32,
    /// Prompt sent by every request (default: a Text-to-SQL prompt in the project's format).
    #[arg(long)]
    pub prompt: Option<String>,
    /// Modes to run (comma-separated): mixed_adapters, base, one_adapter_at_a_time.
    #[arg(long, value_delimiter = ',', default_values_t = MODES.map(String::from))]
    pub modes: Vec<String>,
    /// Warm-up requests (one per adapter and one for the base) before measuring.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub warmup: bool,
    /// Bearer token, for servers started with an API key.
    #[arg(long = "api-key", env = "TEXT2SQL_BENCH_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Per-request timeout in seconds.
    #[arg(long = "timeout-s", default_value_t = 600)]
    pub timeout_s: u64,
}

struct Client {
    agent: ureq::Agent,
    endpoint: String,
    auth: Option<String>,
}

struct Outcome {
    latency_s: f64,
    generated_tokens: u64,
    error: Option<String>,
}

impl Client {
    fn get(&self, path: &str) -> Result<Value> {
        let mut req = self.agent.get(&format!("{}{path}", self.endpoint));
        if let Some(a) = &self.auth {
            req = req.set("authorization", a);
        }
        let resp = req.call().with_context(|| format!("GET {}{path}", self.endpoint))?;
        let text = resp.into_string().with_context(|| format!("GET {}{path}: reading the body", self.endpoint))?;
        serde_json::from_str(&text).with_context(|| format!("GET {}{path}: not JSON", self.endpoint))
    }

    fn generate(&self, prompt: &str, adapter: Option<&str>, max_new_tokens: u32) -> Outcome {
        let mut params = json!({"max_new_tokens": max_new_tokens, "details": true, "do_sample": false});
        if let Some(a) = adapter {
            params["adapter_id"] = json!(a);
        }
        let body = json!({"inputs": prompt, "parameters": params}).to_string();
        let mut req = self.agent.post(&format!("{}/generate", self.endpoint)).set("content-type", "application/json");
        if let Some(a) = &self.auth {
            req = req.set("authorization", a);
        }
        let t = Instant::now();
        let result = req.send_string(&body);
        let outcome = |generated_tokens, error| Outcome { latency_s: t.elapsed().as_secs_f64(), generated_tokens, error };
        match result {
            Ok(resp) => {
                let header = resp.header("x-generated-tokens").and_then(|h| h.parse::<u64>().ok());
                let parsed = resp.into_string().map_err(|e| e.to_string()).and_then(|t| serde_json::from_str::<Value>(&t).map_err(|e| e.to_string()));
                match parsed {
                    Ok(v) => {
                        let n = v["details"]["generated_tokens"].as_u64().or(header);
                        match n {
                            Some(n) => outcome(n, None),
                            None => outcome(0, Some(format!("200 without details.generated_tokens: {v}"))),
                        }
                    }
                    Err(e) => outcome(0, Some(format!("200 with an unreadable body: {e}"))),
                }
            }
            Err(ureq::Error::Status(code, resp)) => {
                let text = resp.into_string().unwrap_or_default();
                outcome(0, Some(format!("HTTP {code}: {}", text.chars().take(200).collect::<String>())))
            }
            Err(e) => outcome(0, Some(format!("transport: {e}"))),
        }
    }
}

/// Runs `plan` (one adapter choice per request) with `concurrency` client threads.
fn run_plan(client: &Client, prompt: &str, max_new: u32, concurrency: usize, plan: &[Option<String>]) -> (f64, Vec<Outcome>) {
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(plan.len()));
    let t = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..concurrency.min(plan.len()).max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(adapter) = plan.get(i) else { break };
                let o = client.generate(prompt, adapter.as_deref(), max_new);
                results.lock().unwrap().push(o);
            });
        }
    });
    (t.elapsed().as_secs_f64(), results.into_inner().unwrap())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// Summary of one batch of outcomes (latency over successful requests only).
fn summarize(wall_s: f64, outcomes: &[Outcome]) -> Value {
    let ok: Vec<&Outcome> = outcomes.iter().filter(|o| o.error.is_none()).collect();
    let mut lat: Vec<f64> = ok.iter().map(|o| o.latency_s * 1000.0).collect();
    lat.sort_by(|a, b| a.total_cmp(b));
    let tokens: u64 = ok.iter().map(|o| o.generated_tokens).sum();
    let mut samples: Vec<&str> = outcomes.iter().filter_map(|o| o.error.as_deref()).collect();
    samples.dedup();
    samples.truncate(5);
    let wall = wall_s.max(1e-9);
    json!({
        "requests": outcomes.len(),
        "successes": ok.len(),
        "errors": outcomes.len() - ok.len(),
        "error_samples": samples,
        "wall_s": round(wall_s, 4),
        "requests_per_s": round(ok.len() as f64 / wall, 3),
        "generated_tokens": tokens,
        "generated_tokens_per_s": round(tokens as f64 / wall, 2),
        "latency_ms": {
            "p50": round(percentile(&lat, 50.0), 2),
            "p99": round(percentile(&lat, 99.0), 2),
            "mean": round(if lat.is_empty() { 0.0 } else { lat.iter().sum::<f64>() / lat.len() as f64 }, 2),
            "max": round(lat.last().copied().unwrap_or(0.0), 2),
        },
    })
}

/// Runs `text2sql bench serve` and prints its JSON report.
pub fn run(args: ServeArgs) -> Result<()> {
    if args.concurrency == 0 || args.requests == 0 || args.max_new_tokens == 0 {
        bail!("--concurrency, --requests and --max-new-tokens must be > 0");
    }
    for m in &args.modes {
        if !MODES.contains(&m.as_str()) {
            bail!("unknown --modes entry {m:?} (mixed_adapters, base, one_adapter_at_a_time)");
        }
    }
    let endpoint = args.endpoint.trim_end_matches('/').to_string();
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(args.timeout_s))
        .max_idle_connections_per_host(args.concurrency.max(1))
        .build();
    let client = Client { agent, endpoint: endpoint.clone(), auth: args.api_key.as_ref().map(|k| format!("Bearer {k}")) };
    let info = client.get("/info").with_context(|| format!("is a server running at {endpoint}?"))?;
    let model_id = info["model_id"].as_str().unwrap_or("").to_string();
    let adapters: Vec<String> = if args.adapters.is_empty() {
        let models = client.get("/v1/models")?;
        models["data"]
            .as_array()
            .map(|d| d.iter().filter_map(|m| m["id"].as_str()).filter(|id| *id != model_id).map(String::from).collect())
            .unwrap_or_default()
    } else {
        args.adapters.iter().map(|a| a.trim().to_string()).filter(|a| !a.is_empty()).collect()
    };
    let prompt = args.prompt.clone().unwrap_or_else(|| DEFAULT_PROMPT.to_string());
    let max_new = args.max_new_tokens;

    if args.warmup {
        for a in std::iter::once(None).chain(adapters.iter().map(|a| Some(a.as_str()))) {
            if let Some(e) = client.generate(&prompt, a, max_new.min(4)).error {
                bail!("warm-up request (adapter {:?}) failed: {e}", a.unwrap_or(""));
            }
        }
    }

    let mut results = serde_json::Map::new();
    for mode in MODES.iter().filter(|m| args.modes.iter().any(|x| x == *m)) {
        let needs_adapters = *mode != "base";
        if needs_adapters && adapters.is_empty() {
            results.insert(mode.to_string(), json!({"skipped": "the server lists no adapters (pass --adapters)"}));
            continue;
        }
        let row = match *mode {
            "mixed_adapters" => {
                let plan: Vec<Option<String>> = (0..args.requests).map(|i| Some(adapters[i % adapters.len()].clone())).collect();
                let (wall, outcomes) = run_plan(&client, &prompt, max_new, args.concurrency, &plan);
                summarize(wall, &outcomes)
            }
            "base" => {
                let plan = vec![None; args.requests];
                let (wall, outcomes) = run_plan(&client, &prompt, max_new, args.concurrency, &plan);
                summarize(wall, &outcomes)
            }
            _ => {
                // the same number of requests in total, split over the adapters, one after the other
                let mut all = Vec::new();
                let mut per_adapter = Vec::new();
                let mut wall_total = 0.0;
                for (k, a) in adapters.iter().enumerate() {
                    let n = args.requests / adapters.len() + usize::from(k < args.requests % adapters.len());
                    if n == 0 {
                        continue;
                    }
                    let plan = vec![Some(a.clone()); n];
                    let (wall, outcomes) = run_plan(&client, &prompt, max_new, args.concurrency, &plan);
                    let mut s = summarize(wall, &outcomes);
                    s["adapter"] = json!(a);
                    per_adapter.push(s);
                    wall_total += wall;
                    all.extend(outcomes);
                }
                let mut s = summarize(wall_total, &all);
                s["per_adapter"] = Value::Array(per_adapter);
                s
            }
        };
        eprintln!("{mode}: {row}");
        results.insert(mode.to_string(), row);
    }
    let report = json!({
        "benchmark": "serve",
        "endpoint": endpoint,
        "model_id": model_id,
        "adapters": adapters,
        "concurrency": args.concurrency,
        "requests_per_mode": args.requests,
        "max_new_tokens": max_new,
        "prompt_chars": prompt.chars().count(),
        "results": results,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
