//! Generation: per-sequence state (KV cache, sampler, stopping criteria, detokeniser) and one
//! batched decoding step over any mix of sequences — new ones prefilling, old ones decoding,
//! each with its own adapter. The server's continuous batching calls [`step`] in a loop; the
//! CLI and tests use [`generate_all`].

use crate::error::{Error, Result};
use crate::lora::LoraAdapter;
use crate::model::{log_softmax, KvCache, Logits, Model, SegmentInput};
use crate::sampling::{Sampler, SamplingParams};
use crate::tokenizer::{IncrementalDecoder, Tokenizer};
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::Arc;

/// Why generation stopped (TGI's `finish_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// `max_new_tokens` reached.
    Length,
    /// An end-of-sequence token was generated.
    EosToken,
    /// The text ended with a stop sequence.
    StopSequence,
}

/// A generated token as TGI reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Token {
    /// Token id.
    pub id: u32,
    /// Its text.
    pub text: String,
    /// Log-probability.
    pub logprob: f32,
    /// Whether it is a special token (e.g. EOS).
    pub special: bool,
}

/// A prompt token with the logprob the model gave it (`None` for the first).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrefillToken {
    /// Token id.
    pub id: u32,
    /// Its text.
    pub text: String,
    /// `log p(token | previous tokens)`; `None` for the first token.
    pub logprob: Option<f32>,
}

/// Everything a request asks of generation, already validated.
#[derive(Debug, Clone)]
pub struct GenerateRequest {
    /// The tokenised prompt.
    pub input_ids: Vec<u32>,
    /// The adapter to apply, if any.
    pub adapter: Option<Arc<LoraAdapter>>,
    /// How to choose tokens.
    pub sampling: SamplingParams,
    /// Maximum number of new tokens (≥ 1).
    pub max_new_tokens: usize,
    /// Stop when the generated text ends with one of these.
    pub stop: Vec<String>,
    /// Report this many alternatives per generated token.
    pub top_n_tokens: usize,
    /// Report prompt-token logprobs.
    pub decoder_input_details: bool,
    /// Do not stop at EOS.
    pub ignore_eos: bool,
    /// Only generate text this grammar accepts (EOS only where it is complete).
    pub constraint: Option<Arc<dyn crate::Constraint>>,
}

impl GenerateRequest {
    /// A greedy request with default settings.
    pub fn greedy(input_ids: Vec<u32>, max_new_tokens: usize) -> Self {
        Self {
            input_ids,
            adapter: None,
            sampling: SamplingParams::default(),
            max_new_tokens,
            stop: Vec::new(),
            top_n_tokens: 0,
            decoder_input_details: false,
            ignore_eos: false,
            constraint: None,
        }
    }
}

/// What one step produced for one sequence.
#[derive(Debug, Clone)]
pub struct StepOutput {
    /// The new token.
    pub token: Token,
    /// Alternatives (when `top_n_tokens` > 0).
    pub top_tokens: Vec<Token>,
    /// Set when this token ends the sequence.
    pub finish: Option<FinishReason>,
}

/// The state of one sequence being generated.
pub struct Sequence {
    req: GenerateRequest,
    sampler: Sampler,
    cache: KvCache,
    all_ids: Vec<u32>,
    decoder: IncrementalDecoder,
    eos: Vec<u32>,
    generated_text_raw: String,
    /// Prompt tokens with logprobs (filled during prefill when asked for).
    pub prefill: Vec<PrefillToken>,
    /// Generated tokens so far.
    pub tokens: Vec<Token>,
    /// Alternatives per generated token.
    pub top_tokens: Vec<Vec<Token>>,
    /// Set once finished.
    pub finish: Option<FinishReason>,
    /// Tokens to emit next regardless of the model: the completion of a constrained text that
    /// is about to run out of `max_new_tokens`, then EOS.
    forced: VecDeque<u32>,
    /// The completion found, while choosing the last token, for the text it left (so the next
    /// step need not search again): (text, completion ids).
    memo: Option<(String, Vec<u32>)>,
}

impl std::fmt::Debug for Sequence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sequence")
            .field("input_length", &self.req.input_ids.len())
            .field("generated", &self.tokens.len())
            .field("finish", &self.finish)
            .finish()
    }
}

impl Sequence {
    /// Starts a sequence; `eos` are the ids that end generation.
    pub fn new(model: &Model, req: GenerateRequest, eos: &[u32]) -> Result<Self> {
        if req.input_ids.is_empty() {
            return Err(Error::Request("the prompt is empty".into()));
        }
        if req.max_new_tokens == 0 {
            return Err(Error::Request("max_new_tokens must be at least 1".into()));
        }
        let max = model.config().max_position_embeddings;
        if req.input_ids.len() + req.max_new_tokens > max {
            return Err(Error::Request(format!(
                "prompt ({} tokens) + max_new_tokens ({}) exceeds the model's {max} positions",
                req.input_ids.len(),
                req.max_new_tokens
            )));
        }
        let vocab = model.config().vocab_size;
        if let Some(bad) = req.input_ids.iter().find(|&&t| t as usize >= vocab) {
            return Err(Error::Request(format!("token id {bad} is out of range (vocab_size {vocab})")));
        }
        Ok(Self {
            sampler: Sampler::new(req.sampling.clone()),
            cache: model.new_cache(),
            all_ids: req.input_ids.clone(),
            decoder: IncrementalDecoder::new(req.input_ids.len(), false),
            eos: if req.ignore_eos { Vec::new() } else { eos.to_vec() },
            generated_text_raw: String::new(),
            prefill: Vec::new(),
            tokens: Vec::new(),
            top_tokens: Vec::new(),
            finish: None,
            forced: VecDeque::new(),
            memo: None,
            req,
        })
    }

    /// The request.
    pub fn request(&self) -> &GenerateRequest {
        &self.req
    }

    /// The seed reported to the client (`None` when greedy).
    pub fn seed(&self) -> Option<u64> {
        self.sampler.reported_seed()
    }

    /// Prompt length in tokens.
    pub fn input_length(&self) -> usize {
        self.req.input_ids.len()
    }

    /// Tokens not yet in the KV cache (the whole prompt before prefill, then 1).
    pub fn pending_tokens(&self) -> usize {
        self.all_ids.len() - self.cache.len()
    }

    /// Positions this sequence will occupy at most (prompt + max_new_tokens).
    pub fn max_total_tokens(&self) -> usize {
        self.req.input_ids.len() + self.req.max_new_tokens
    }

    /// The generated text: special tokens skipped, a matched stop sequence kept (TGI).
    pub fn generated_text(&self, tok: &Tokenizer) -> Result<String> {
        let n = self.tokens.len();
        let ids: Vec<u32> = self.all_ids[self.all_ids.len() - n..].to_vec();
        // Decode with one prompt token before, then drop its text: keeps a leading space that
        // SentencePiece-style decoders would strip from the first generated token.
        let lead = self.req.input_ids[self.req.input_ids.len() - 1];
        let with_lead = tok.decode(&[&[lead][..], &ids].concat(), true)?;
        let lead_text = tok.decode(&[lead], true)?;
        Ok(match with_lead.strip_prefix(&lead_text) {
            Some(rest) => rest.to_string(),
            None => tok.decode(&ids, true)?,
        })
    }

    /// Tokens still allowed.
    fn tokens_left(&self) -> usize {
        self.req.max_new_tokens - self.tokens.len()
    }

    /// Within [`FINISH_WINDOW`](crate::constraint::FINISH_WINDOW) of `max_new_tokens`: when
    /// the shortest completion of the text (`ids`) needs about all the tokens left, queues it
    /// (then EOS) in `forced`.
    fn plan_finish(&mut self, ids: &[u32]) {
        use crate::constraint::{FINISH_SLACK, FINISH_WINDOW};
        let left = self.tokens_left();
        if left <= FINISH_WINDOW && ids.len() + FINISH_SLACK >= left {
            self.force(ids);
        }
    }

    /// Queues `ids` (as many as fit), then EOS if there is room.
    fn force(&mut self, ids: &[u32]) {
        let left = self.tokens_left();
        self.forced.extend(ids.iter().take(left));
        if ids.len() < left {
            self.forced.extend(self.eos.first());
        }
    }

    fn push(&mut self, tok: &Tokenizer, choice: crate::sampling::Choice) -> Result<StepOutput> {
        self.all_ids.push(choice.id);
        let text = self.decoder.next(tok, &self.all_ids)?;
        let special = tok.is_special(choice.id);
        if !special {
            self.generated_text_raw.push_str(&text);
        }
        let token = Token { id: choice.id, text, logprob: choice.logprob, special };
        let top_tokens: Vec<Token> = choice
            .top
            .iter()
            .map(|&(id, logprob)| Token { id, text: tok.token_text(id), logprob, special: tok.is_special(id) })
            .collect();
        self.tokens.push(token.clone());
        if self.req.top_n_tokens > 0 {
            self.top_tokens.push(top_tokens.clone());
        }
        let finish = if self.eos.contains(&choice.id) {
            Some(FinishReason::EosToken)
        } else if self.req.stop.iter().any(|s| !s.is_empty() && self.generated_text_raw.ends_with(s.as_str())) {
            Some(FinishReason::StopSequence)
        } else if self.tokens.len() >= self.req.max_new_tokens {
            Some(FinishReason::Length)
        } else {
            None
        };
        self.finish = finish;
        Ok(StepOutput { token, top_tokens, finish })
    }
}

/// The tokens of the shortest completion `c` finds for `text` (`None`: unknown).
fn completion_ids(tok: &Tokenizer, c: &dyn crate::Constraint, text: &str) -> Result<Option<Vec<u32>>> {
    Ok(match c.completion(text) {
        None => None,
        Some(done) if done.is_empty() => Some(Vec::new()),
        Some(done) => Some(tok.encode(&done, false)?),
    })
}

/// What a token must leave behind besides a viable text (see [`accepts`]).
struct Finishing {
    /// The text so far has a known completion: so must the text after the token.
    required: bool,
    /// Tokens left, near the end: the completion and EOS must fit in them after the token.
    left: Option<usize>,
    /// Completion searches still allowed this step (later candidates are refused).
    searches: usize,
    /// The last candidate text that passed, with its completion.
    found: Option<(String, Vec<u32>)>,
}

/// Whether token `id` keeps `text` (the generation so far, whose last tokens are `window`)
/// acceptable to `c`: EOS only when the text is complete, other special tokens never, others
/// only if the text stays viable and, per `fin`, finishable in time.
fn accepts(tok: &Tokenizer, c: &dyn crate::Constraint, eos: &[u32], text: &str, window: &[u32], id: u32, fin: &mut Finishing) -> bool {
    use crate::Viability;
    if eos.contains(&id) {
        return c.check(text) == Viability::Complete;
    }
    if tok.is_special(id) || fin.required && fin.searches == 0 {
        // Untested candidates are refused; should none tested pass, the completion is forced.
        return false;
    }
    // The candidate's text in context: decode a short window with and without it.
    let (Ok(before), Ok(after)) = (tok.decode(window, true), tok.decode(&[window, &[id]].concat(), true)) else {
        return false;
    };
    let piece = after.strip_prefix(before.as_str()).unwrap_or(&after);
    let next = format!("{text}{piece}");
    if c.check(&next) == Viability::Dead {
        return false;
    }
    if !fin.required {
        return true;
    }
    fin.searches -= 1;
    match completion_ids(tok, c, &next) {
        Ok(Some(ids)) if fin.left.is_none_or(|left| ids.len() + 2 <= left) => {
            fin.found = Some((next, ids));
            true
        }
        _ => false,
    }
}

/// One forward pass over every unfinished sequence in `seqs`: prefills what is pending (at
/// most `prefill_chunk` prompt tokens per sequence, when given) and decodes one token for each
/// sequence whose prompt is fully cached. Returns one entry per sequence: `Some` when a token
/// was produced, `None` for finished sequences and for unfinished prefill chunks.
pub fn step(
    model: &Model,
    tok: &Tokenizer,
    seqs: &mut [&mut Sequence],
    prefill_chunk: Option<usize>,
) -> Result<Vec<Option<StepOutput>>> {
    let active: Vec<usize> = (0..seqs.len()).filter(|&i| seqs[i].finish.is_none()).collect();
    let mut results: Vec<Option<StepOutput>> = vec![None; seqs.len()];
    if active.is_empty() {
        return Ok(results);
    }
    // Which tokens each sequence feeds, and whether that completes its prompt.
    let mut plans = Vec::with_capacity(active.len());
    for &i in &active {
        let s = &seqs[i];
        let start = s.cache.len();
        let pending = s.all_ids.len() - start;
        let n = prefill_chunk.map_or(pending, |c| pending.min(c.max(1)));
        let want_prefill = s.req.decoder_input_details && start < s.req.input_ids.len();
        plans.push((i, start, n, start + n == s.all_ids.len(), want_prefill));
    }
    let token_slices: Vec<Vec<u32>> =
        plans.iter().map(|&(i, start, n, _, _)| seqs[i].all_ids[start..start + n].to_vec()).collect();
    let adapters: Vec<Option<Arc<LoraAdapter>>> =
        plans.iter().map(|&(i, ..)| seqs[i].req.adapter.clone()).collect();
    let inputs: Vec<SegmentInput<'_>> = plans
        .iter()
        .enumerate()
        .map(|(k, plan)| SegmentInput { tokens: &token_slices[k], adapter: adapters[k].as_ref(), logits: if plan.4 { Logits::All } else { Logits::Last }, fork_of: None })
        .collect();
    // `active` is ascending, so the caches come out in the same order as `plans`.
    let mut caches: Vec<&mut KvCache> = seqs
        .iter_mut()
        .filter(|s| s.finish.is_none())
        .map(|s| &mut s.cache)
        .collect();
    let logits = model.forward(&inputs, &mut caches)?;
    for (&(i, start, n, completes, want_prefill), seg_logits) in plans.iter().zip(logits) {
        let s = &mut *seqs[i];
        let last = if want_prefill {
            // Rows are positions start..start+n; row r predicts token start+r+1.
            let lp = log_softmax(&seg_logits)?;
            let prompt_len = s.req.input_ids.len();
            if start == 0 {
                let id = s.all_ids[0];
                s.prefill.push(PrefillToken { id, text: tok.token_text(id), logprob: None });
            }
            for r in 0..n {
                let target = start + r + 1;
                if target < prompt_len {
                    let id = s.all_ids[target];
                    let logprob = lp.get(r)?.get(id as usize)?.to_scalar::<f32>()?;
                    s.prefill.push(PrefillToken { id, text: tok.token_text(id), logprob: Some(logprob) });
                }
            }
            seg_logits.get(n - 1)?
        } else {
            seg_logits.get(0)?
        };
        if !completes {
            continue;
        }
        let logits_vec: Vec<f32> = last.to_vec1()?;
        let choice = match s.req.constraint.clone() {
            None => s.sampler.choose(&logits_vec, &s.all_ids, s.req.top_n_tokens, None),
            Some(c) => {
                use crate::constraint::{FINISH_SEARCHES, FINISH_WINDOW};
                // The exact text so far (the streaming decoder may hold back a partial piece).
                let text = s.generated_text(tok)?;
                // Its shortest completion, when the grammar can tell: every token must then
                // leave a completable text, and near the end one that fits in time.
                let done = match s.memo.take() {
                    _ if !c.completes() || !s.forced.is_empty() => None,
                    Some((seen, ids)) if seen == text => Some(ids),
                    _ => completion_ids(tok, c.as_ref(), &text)?,
                };
                if let Some(ids) = &done {
                    s.plan_finish(ids);
                }
                let forced = s.forced.pop_front();
                let left = Some(s.tokens_left()).filter(|&l| l <= FINISH_WINDOW);
                let mut fin = Finishing { required: done.is_some(), left, searches: FINISH_SEARCHES, found: None };
                let (eos, ids, n) = (&s.eos, &s.all_ids, s.tokens.len());
                let window = &ids[ids.len() - n.min(4)..];
                let mut accept = |id: u32| match forced {
                    Some(f) => id == f,
                    None => accepts(tok, c.as_ref(), eos, &text, window, id, &mut fin),
                };
                let fallback = s.eos.first().copied();
                let choice = s.sampler.choose(&logits_vec, &s.all_ids, s.req.top_n_tokens, Some((&mut accept, fallback)));
                s.memo = fin.found.take();
                match done {
                    // Nothing acceptable but an unfinished text would end here: finish it instead.
                    Some(ids) if Some(choice.id) == fallback && !ids.is_empty() && c.check(&text) != crate::Viability::Complete => {
                        s.force(&ids);
                        let f = s.forced.pop_front();
                        let mut only = |id: u32| Some(id) == f;
                        s.sampler.choose(&logits_vec, &s.all_ids, s.req.top_n_tokens, Some((&mut only, fallback)))
                    }
                    _ => choice,
                }
            }
        };
        results[i] = Some(s.push(tok, choice)?);
    }
    Ok(results)
}

/// Runs every request to completion in one shared batch (new sequences prefill together, then
/// all decode together, finished ones dropping out). Returns the finished sequences in order.
pub fn generate_all(model: &Model, tok: &Tokenizer, eos: &[u32], reqs: Vec<GenerateRequest>) -> Result<Vec<Sequence>> {
    let mut seqs = reqs.into_iter().map(|r| Sequence::new(model, r, eos)).collect::<Result<Vec<_>>>()?;
    loop {
        let mut live: Vec<&mut Sequence> = seqs.iter_mut().filter(|s| s.finish.is_none()).collect();
        if live.is_empty() {
            break;
        }
        step(model, tok, &mut live, None)?;
    }
    Ok(seqs)
}
