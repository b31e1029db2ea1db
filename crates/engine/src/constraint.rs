//! Constrained decoding: a [`Constraint`] judges the generated text, and the sampler only picks
//! tokens that keep it viable (EOS only when it is complete). Candidates are tried lazily, best
//! first (greedy) or by rejection (sampling, which is exact: a rejected token is masked and the
//! rest renormalised), so the usual cost is one check per token, small next to a forward pass.
//! A grammar that can complete texts ([`Constraint::completion`]) also keeps every text
//! finishable: a token is allowed only if the text after it has a known completion (a prefix
//! parser can call viable a text no continuation saves, e.g. a seventh nested call). Near
//! `max_new_tokens` ([`FINISH_WINDOW`]) that completion plus EOS must fit in the tokens left,
//! and should it need about all of them anyway, or should nothing else be acceptable, its
//! tokens are forced (their logprobs reported as usual), then EOS. A constrained answer is thus
//! complete even when the model would have rambled to the limit.

use std::fmt::Debug;

/// Where a generated text stands against a constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viability {
    /// No continuation is valid.
    Dead,
    /// Some continuation is valid.
    Viable,
    /// Valid as it is (generation may stop); more may still follow.
    Complete,
}

/// A grammar over the generated text (e.g. schema-constrained SQL).
pub trait Constraint: Send + Sync + Debug {
    /// Judges `text`, the whole generated text so far (special tokens excluded).
    fn check(&self, text: &str) -> Viability;

    /// A short text that makes `text` complete (`Some("")` when it is already), or `None` when
    /// none is known. A generation about to run out of `max_new_tokens` is finished
    /// with it, so that a constrained answer is complete rather than cut mid-way.
    fn completion(&self, _text: &str) -> Option<String> {
        None
    }

    /// Whether [`completion`](Self::completion) is implemented; then, near the end, a token
    /// after which no completion is found is refused.
    fn completes(&self) -> bool {
        false
    }
}

/// When at most this many new tokens are left, a constrained generation keeps within reach of a
/// complete text (see [`Constraint::completion`]).
pub const FINISH_WINDOW: usize = 48;

/// Candidates per step whose text after them is checked for a completion (the best viable
/// ones; the rest are refused, which bounds the cost of a step: when none of these passes,
/// the completion of the text so far is forced).
pub const FINISH_SEARCHES: usize = 16;

/// Tokens kept in hand beyond the completion before it is forced: one for EOS, one spare.
pub const FINISH_SLACK: usize = 2;

/// Candidates tried first, best first, before the rest of the vocabulary is searched (and only
/// when no token at all keeps the text viable is the sequence ended with EOS).
pub const MAX_CANDIDATES: usize = 4096;
