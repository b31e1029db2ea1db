//! `text2sql bench serve` against a real `text2sql serve` on the fixture model: the JSON report
//! has every mode and key, counts the right number of requests and tokens, and no errors.

mod serve_common;

use serde_json::Value;
use serve_common::*;
use std::process::Command;

#[test]
fn bench_serve_reports_three_modes() {
    let model = model_dir();
    let adapters = two_adapters();
    let server = Server::start(&["--model-id", &model, "--lora-adapters", &adapters, "--hostname", "127.0.0.1", "--port", "0"], &[]);
    let out = Command::new(env!("CARGO_BIN_EXE_text2sql"))
        .args(["bench", "serve", "--endpoint", &server.base, "--concurrency", "3", "--requests", "6", "--max-new-tokens", "5"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench serve failed: {stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(report["benchmark"], "serve");
    // default adapters: the ids of GET /v1/models but the base
    assert_eq!(report["adapters"], serde_json::json!(["qv", "pat"]));
    for mode in ["mixed_adapters", "base", "one_adapter_at_a_time"] {
        let r = &report["results"][mode];
        assert_eq!(r["requests"], 6, "{mode}: {r}");
        assert_eq!(r["errors"], 0, "{mode}: {r}");
        // greedy on this prompt never stops before 5 tokens on the fixture model
        assert_eq!(r["generated_tokens"], 30, "{mode}: {r}");
        for k in ["requests_per_s", "generated_tokens_per_s", "wall_s"] {
            assert!(r[k].as_f64().unwrap() > 0.0, "{mode}.{k}: {r}");
        }
        let p50 = r["latency_ms"]["p50"].as_f64().unwrap();
        let p99 = r["latency_ms"]["p99"].as_f64().unwrap();
        assert!(p50 > 0.0 && p99 >= p50, "{mode}: {r}");
    }
    let per = report["results"]["one_adapter_at_a_time"]["per_adapter"].as_array().unwrap();
    assert_eq!(per.iter().map(|p| p["adapter"].as_str().unwrap()).collect::<Vec<_>>(), ["qv", "pat"]);
    assert_eq!(per.iter().map(|p| p["requests"].as_u64().unwrap()).sum::<u64>(), 6);

    // a wrong adapter shows up as errors, not as a crash; an unreachable endpoint is a clear error
    let out = Command::new(env!("CARGO_BIN_EXE_text2sql"))
        .args(["bench", "serve", "--endpoint", &server.base, "--requests", "2", "--max-new-tokens", "2", "--modes", "mixed_adapters", "--adapters", "qv,nope", "--warmup", "false"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["results"]["mixed_adapters"]["errors"], 1);
    assert!(report["results"]["mixed_adapters"]["error_samples"][0].as_str().unwrap().contains("HTTP 422"));
    let out = Command::new(env!("CARGO_BIN_EXE_text2sql")).args(["bench", "serve", "--endpoint", "http://127.0.0.1:9"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is a server running at http://127.0.0.1:9?"));
}
