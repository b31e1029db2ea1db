//! Constrained decoding: a [`Constraint`] judges the generated text, and the sampler only picks
//! tokens that keep it viable (EOS only when it is complete). Candidates are tried lazily, best
//! first (greedy) or by rejection (sampling, which is exact: a rejected token is masked and the
//! rest renormalised), so the usual cost is one check per token, small next to a forward pass.

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
}

/// Candidates tried first, best first, before the rest of the vocabulary is searched (and only
/// when no token at all keeps the text viable is the sequence ended with EOS).
pub const MAX_CANDIDATES: usize = 4096;
