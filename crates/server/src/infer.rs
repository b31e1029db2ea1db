//! Admission and continuous batching.
//!
//! [`Infer`] is the handlers' Clone handle: a semaphore turns overload into an immediate 429,
//! and each admitted request gets a channel of [`InferStreamResponse`]s. One engine thread owns
//! every running sequence: between two forward passes it takes new requests from its queue
//! (within the token budgets), drops requests whose client went away, runs one batched step
//! in which rows with different adapters decode together, and sends each row its token.

use crate::error::InferError;
use crate::metrics::Metrics;
use crate::validation::ValidRequest;
use std::collections::VecDeque;
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::Instant;
use text2sql_engine::generate::{step, Sequence};
use text2sql_engine::{Engine, FinishReason, PrefillToken, Token};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

/// Batching knobs (TGI names).
#[derive(Debug, Clone)]
pub struct BatchingConfig {
    /// Max sum over running sequences of (prompt + max_new_tokens).
    pub max_batch_total_tokens: usize,
    /// Max prompt tokens prefilled in one forward pass (longer prompts are chunked).
    pub max_batch_prefill_tokens: usize,
    /// Max sequences in a batch.
    pub max_batch_size: Option<usize>,
}

/// The final message of a generation.
#[derive(Debug, Clone)]
pub struct GenerationEnd {
    /// Why it stopped.
    pub finish_reason: FinishReason,
    /// Generated text (special tokens skipped).
    pub generated_text: String,
    /// Every generated token.
    pub tokens: Vec<Token>,
    /// Alternatives per token.
    pub top_tokens: Vec<Vec<Token>>,
    /// Prompt tokens with logprobs (if asked for).
    pub prefill: Vec<PrefillToken>,
    /// Seed when sampling.
    pub seed: Option<u64>,
    /// Prompt length.
    pub input_length: usize,
    /// When the request was queued.
    pub queued: Instant,
    /// When its prefill started.
    pub started: Instant,
}

/// What the engine thread sends per request.
#[derive(Debug, Clone)]
pub enum InferStreamResponse {
    /// A token that does not end the sequence.
    Intermediate {
        /// The token.
        token: Token,
        /// Alternatives.
        top_tokens: Vec<Token>,
    },
    /// The last token, and the whole result.
    End(Box<GenerationEnd>),
}

/// Receiver of one request's events.
pub type ResponseStream = mpsc::UnboundedReceiver<Result<InferStreamResponse, InferError>>;

struct Entry {
    request: ValidRequest,
    tx: mpsc::UnboundedSender<Result<InferStreamResponse, InferError>>,
    queued: Instant,
    _permit: OwnedSemaphorePermit,
}

struct Running {
    seq: Sequence,
    entry: Entry,
    started: Instant,
}

/// The handlers' handle on admission and the engine thread.
#[derive(Clone)]
pub struct Infer {
    tx: std_mpsc::Sender<Entry>,
    semaphore: Arc<Semaphore>,
}

impl Infer {
    /// Starts the engine thread.
    pub fn start(engine: Arc<Engine>, cfg: BatchingConfig, max_concurrent_requests: usize, metrics: Arc<Metrics>) -> Self {
        let (tx, rx) = std_mpsc::channel();
        std::thread::Builder::new()
            .name("engine".into())
            .spawn(move || engine_loop(engine, rx, cfg, metrics))
            .unwrap_or_else(|e| panic!("cannot start the engine thread: {e}"));
        Self { tx, semaphore: Arc::new(Semaphore::new(max_concurrent_requests)) }
    }

    /// Takes a concurrency slot, or fails at once with `overloaded`.
    pub fn try_permit(&self) -> Result<OwnedSemaphorePermit, InferError> {
        self.semaphore.clone().try_acquire_owned().map_err(|_| InferError::Overloaded)
    }

    /// Requests in flight (slots taken).
    pub fn in_flight(&self, max: usize) -> usize {
        max - self.semaphore.available_permits()
    }

    /// Queues a validated request; its events arrive on the returned stream.
    pub fn schedule(&self, request: ValidRequest, permit: OwnedSemaphorePermit) -> Result<ResponseStream, InferError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let entry = Entry { request, tx, queued: Instant::now(), _permit: permit };
        self.tx.send(entry).map_err(|_| InferError::Unhealthy)?;
        Ok(rx)
    }

    /// Runs a request to completion and returns its end message.
    pub async fn generate(&self, request: ValidRequest, permit: OwnedSemaphorePermit) -> Result<GenerationEnd, InferError> {
        let mut rx = self.schedule(request, permit)?;
        while let Some(event) = rx.recv().await {
            match event? {
                InferStreamResponse::Intermediate { .. } => {}
                InferStreamResponse::End(end) => return Ok(*end),
            }
        }
        Err(InferError::IncompleteGeneration)
    }
}

fn engine_loop(engine: Arc<Engine>, rx: std_mpsc::Receiver<Entry>, cfg: BatchingConfig, metrics: Arc<Metrics>) {
    let mut waiting: VecDeque<Entry> = VecDeque::new();
    let mut running: Vec<Running> = Vec::new();
    loop {
        if running.is_empty() && waiting.is_empty() {
            match rx.recv() {
                Ok(e) => waiting.push_back(e),
                Err(_) => return, // every handle dropped: shut down
            }
        }
        while let Ok(e) = rx.try_recv() {
            waiting.push_back(e);
        }
        // A closed channel means the client went away: free its slot, stop its decoding.
        waiting.retain(|e| !e.tx.is_closed());
        running.retain(|r| !r.entry.tx.is_closed());
        if running.is_empty() && waiting.is_empty() {
            metrics.set_batch(0, 0, 0);
            continue;
        }

        let mut budget: usize = running.iter().map(|r| r.seq.max_total_tokens()).sum();
        while let Some(front) = waiting.front() {
            let need = front.request.request.input_ids.len() + front.request.request.max_new_tokens;
            let full = cfg.max_batch_size.is_some_and(|m| running.len() >= m);
            if full || (!running.is_empty() && budget + need > cfg.max_batch_total_tokens) {
                break;
            }
            let Some(entry) = waiting.pop_front() else { break };
            match Sequence::new(&engine.model, entry.request.request.clone(), &engine.eos_token_ids) {
                Ok(seq) => {
                    budget += need;
                    metrics.observe_queue(entry.queued.elapsed().as_secs_f64());
                    running.push(Running { seq, entry, started: Instant::now() });
                }
                Err(e) => {
                    let _ = entry.tx.send(Err(InferError::Validation(e.to_string())));
                }
            }
        }
        metrics.set_batch(running.len(), waiting.len(), budget);
        if running.is_empty() {
            continue;
        }
        let t = Instant::now();
        let result = {
            let mut seqs: Vec<&mut Sequence> = running.iter_mut().map(|r| &mut r.seq).collect();
            step(&engine.model, &engine.tokenizer, &mut seqs, Some(cfg.max_batch_prefill_tokens))
        };
        metrics.observe_forward(t.elapsed().as_secs_f64());
        let outputs = match result {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(error = %e, "forward pass failed");
                for r in running.drain(..) {
                    let _ = r.entry.tx.send(Err(InferError::Generation(e.to_string())));
                }
                continue;
            }
        };
        for (r, out) in running.iter_mut().zip(outputs) {
            let Some(out) = out else { continue };
            let event = match out.finish {
                None => Ok(InferStreamResponse::Intermediate { token: out.token, top_tokens: out.top_tokens }),
                Some(finish_reason) => match r.seq.generated_text(&engine.tokenizer) {
                    Ok(generated_text) => Ok(InferStreamResponse::End(Box::new(GenerationEnd {
                        finish_reason,
                        generated_text,
                        tokens: r.seq.tokens.clone(),
                        top_tokens: r.seq.top_tokens.clone(),
                        prefill: r.seq.prefill.clone(),
                        seed: r.seq.seed(),
                        input_length: r.seq.input_length(),
                        queued: r.entry.queued,
                        started: r.started,
                    }))),
                    Err(e) => Err(InferError::Generation(e.to_string())),
                },
            };
            if event.is_err() {
                r.seq.finish = Some(FinishReason::Length);
            }
            let _ = r.entry.tx.send(event);
        }
        running.retain(|r| r.seq.finish.is_none());
        if running.is_empty() && waiting.is_empty() {
            metrics.set_batch(0, 0, 0);
        }
    }
}
