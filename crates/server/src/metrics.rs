//! Prometheus metrics with TGI's `tgi_*` names, rendered as text on `GET /metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

const SECONDS: &[f64] = &[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
const COUNTS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0];

#[derive(Default, Clone)]
struct Histogram {
    buckets: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, bounds: &[f64], v: f64) {
        if self.buckets.len() != bounds.len() {
            self.buckets = vec![0; bounds.len()];
        }
        for (b, bound) in self.buckets.iter_mut().zip(bounds) {
            if v <= *bound {
                *b += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }
}

#[derive(Default)]
struct State {
    counters: BTreeMap<String, u64>,
    gauges: BTreeMap<String, f64>,
    histograms: BTreeMap<&'static str, (Histogram, bool)>,
}

/// The server's metrics registry.
#[derive(Default)]
pub struct Metrics {
    state: Mutex<State>,
}

impl Metrics {
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> Option<R> {
        self.state.lock().ok().map(|mut s| f(&mut s))
    }

    /// Increments a counter (`name` may carry labels, e.g. `tgi_request_failure{err="validation"}`).
    pub fn inc(&self, name: &str) {
        self.with(|s| *s.counters.entry(name.to_string()).or_default() += 1);
    }

    fn observe(&self, name: &'static str, seconds: bool, v: f64) {
        self.with(|s| {
            let (h, _) = s.histograms.entry(name).or_insert_with(|| (Histogram::default(), seconds));
            h.observe(if seconds { SECONDS } else { COUNTS }, v);
        });
    }

    /// Records a finished request.
    pub fn observe_request(&self, total_s: f64, validation_s: f64, inference_s: f64, input_len: usize, generated: usize, max_new: usize) {
        self.inc("tgi_request_success");
        self.observe("tgi_request_duration", true, total_s);
        self.observe("tgi_request_validation_duration", true, validation_s);
        self.observe("tgi_request_inference_duration", true, inference_s);
        if generated > 0 {
            self.observe("tgi_request_mean_time_per_token_duration", true, inference_s / generated as f64);
        }
        self.observe("tgi_request_input_length", false, input_len as f64);
        self.observe("tgi_request_generated_tokens", false, generated as f64);
        self.observe("tgi_request_max_new_tokens", false, max_new as f64);
    }

    /// Records a failed request.
    pub fn observe_failure(&self, label: &str) {
        self.inc(&format!("tgi_request_failure{{err=\"{label}\"}}"));
    }

    /// Time spent queued.
    pub fn observe_queue(&self, s: f64) {
        self.observe("tgi_request_queue_duration", true, s);
    }

    /// One batched forward pass.
    pub fn observe_forward(&self, s: f64) {
        self.inc("tgi_batch_inference_count{method=\"decode\"}");
        self.observe("tgi_batch_forward_duration", true, s);
    }

    /// Batch gauges.
    pub fn set_batch(&self, size: usize, queue: usize, max_tokens: usize) {
        self.with(|s| {
            s.gauges.insert("tgi_batch_current_size".into(), size as f64);
            s.gauges.insert("tgi_queue_size".into(), queue as f64);
            s.gauges.insert("tgi_batch_current_max_tokens".into(), max_tokens as f64);
        });
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.with(|s| {
            let mut typed = std::collections::HashSet::new();
            for (name, v) in &s.counters {
                let base = name.split('{').next().unwrap_or(name);
                if typed.insert(base.to_string()) {
                    let _ = writeln!(out, "# TYPE {base} counter");
                }
                let _ = writeln!(out, "{name} {v}");
            }
            for (name, v) in &s.gauges {
                let _ = writeln!(out, "# TYPE {name} gauge\n{name} {v}");
            }
            for (name, (h, seconds)) in &s.histograms {
                let bounds = if *seconds { SECONDS } else { COUNTS };
                let _ = writeln!(out, "# TYPE {name} histogram");
                for (b, bound) in h.buckets.iter().zip(bounds) {
                    let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {b}");
                }
                let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}\n{name}_sum {}\n{name}_count {}", h.count, h.sum, h.count);
            }
        });
        out
    }
}
