//! Next-token choice with TGI's semantics: repetition and frequency penalties over every token
//! so far (prompt included), then the warpers temperature → top-k → top-p → typical-p, then a
//! seeded draw (or argmax when greedy). Reported logprobs are those of the final distribution.

use rand::{rngs::StdRng, Rng, SeedableRng};

/// Sampling parameters of one request, already validated.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingParams {
    /// Draw from the distribution instead of taking the argmax.
    pub do_sample: bool,
    /// Temperature (1.0 = off).
    pub temperature: f32,
    /// Keep the k most likely tokens.
    pub top_k: Option<usize>,
    /// Nucleus sampling mass, in (0, 1).
    pub top_p: Option<f32>,
    /// Typical sampling mass, in (0, 1).
    pub typical_p: Option<f32>,
    /// HF repetition penalty (1.0 = off).
    pub repetition_penalty: f32,
    /// TGI frequency penalty (0.0 = off).
    pub frequency_penalty: f32,
    /// Seed for the draw; a random one is chosen (and reported) when sampling without one.
    pub seed: Option<u64>,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            do_sample: false,
            temperature: 1.0,
            top_k: None,
            top_p: None,
            typical_p: None,
            repetition_penalty: 1.0,
            frequency_penalty: 0.0,
            seed: None,
        }
    }
}

impl SamplingParams {
    fn has_warpers(&self) -> bool {
        self.temperature != 1.0 || self.top_k.is_some() || self.top_p.is_some() || self.typical_p.is_some()
    }

    /// Whether tokens are drawn (TGI: `do_sample` or any active warper).
    pub fn is_sampling(&self) -> bool {
        self.do_sample || self.has_warpers()
    }
}

/// The chosen token with its logprob and the most likely alternatives.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// Token id.
    pub id: u32,
    /// Its log-probability under the final distribution.
    pub logprob: f32,
    /// The `top_n` most likely (id, logprob), best first.
    pub top: Vec<(u32, f32)>,
}

/// `(accept, fallback)` of a constrained choice (see [`Sampler::choose`]).
pub type Constrained<'a> = Option<(&'a mut dyn FnMut(u32) -> bool, Option<u32>)>;

/// Per-sequence sampler state (the seeded RNG).
#[derive(Debug, Clone)]
pub struct Sampler {
    params: SamplingParams,
    rng: StdRng,
    seed: u64,
}

impl Sampler {
    /// A sampler for one sequence.
    pub fn new(params: SamplingParams) -> Self {
        let seed = params.seed.unwrap_or_else(|| rand::rng().random());
        Self { rng: StdRng::seed_from_u64(seed), seed, params }
    }

    /// The seed used, reported when sampling (TGI reports `null` when greedy).
    pub fn reported_seed(&self) -> Option<u64> {
        self.params.is_sampling().then_some(self.seed)
    }

    /// The parameters.
    pub fn params(&self) -> &SamplingParams {
        &self.params
    }

    /// Chooses the next token from raw logits; `history` is every token so far. With
    /// `constrained = (accept, fallback)` only tokens `accept` allows are chosen: the best
    /// allowed one (greedy), or a draw from the distribution restricted to allowed tokens
    /// (sampling, by rejection); when none is found among [`crate::constraint::MAX_CANDIDATES`]
    /// candidates, `fallback` (EOS) ends the sequence. Logprobs stay those of the unconstrained
    /// distribution.
    pub fn choose(&mut self, logits: &[f32], history: &[u32], top_n: usize, constrained: Constrained<'_>) -> Choice {
        let mut scores = logits.to_vec();
        let p = &self.params;
        if p.repetition_penalty != 1.0 {
            let mut seen = vec![false; scores.len()];
            for &t in history {
                if let Some(s) = seen.get_mut(t as usize) {
                    *s = true;
                }
            }
            for (s, seen) in scores.iter_mut().zip(seen) {
                if seen {
                    *s = if *s < 0.0 { *s * p.repetition_penalty } else { *s / p.repetition_penalty };
                }
            }
        }
        if p.frequency_penalty != 0.0 && !history.is_empty() {
            let mut counts = vec![0f32; scores.len()];
            for &t in history {
                if let Some(c) = counts.get_mut(t as usize) {
                    *c += 1.0;
                }
            }
            let n = history.len() as f32;
            for (s, c) in scores.iter_mut().zip(counts) {
                *s -= c / n * p.frequency_penalty;
            }
        }
        if p.has_warpers() {
            warp(&mut scores, p);
        }
        let logprobs = log_softmax(&scores);
        let sampling = p.is_sampling();
        let id = match constrained {
            None if sampling => draw(&logprobs, self.rng.random()),
            None => argmax(&scores),
            Some((accept, fallback)) => self.constrained_pick(&logprobs, sampling, accept, fallback),
        };
        Choice { id: id as u32, logprob: logprobs[id], top: top_n_of(&logprobs, top_n) }
    }

    fn constrained_pick(&mut self, logprobs: &[f32], sampling: bool, accept: &mut dyn FnMut(u32) -> bool, fallback: Option<u32>) -> usize {
        use crate::constraint::MAX_CANDIDATES;
        let fallback = fallback.map_or_else(|| argmax(logprobs), |f| f as usize);
        if sampling {
            // Drawing from the renormalised rest is drawing from the masked distribution.
            let mut masked = logprobs.to_vec();
            for _ in 0..MAX_CANDIDATES.min(64) {
                let lp = log_softmax(&masked);
                if !lp.iter().any(|x| x.is_finite()) {
                    return fallback;
                }
                let id = draw(&lp, self.rng.random());
                if accept(id as u32) {
                    return id;
                }
                masked[id] = f32::NEG_INFINITY;
            }
            // Many rejections: the allowed mass is small; take the most likely allowed token.
            return self.constrained_pick(&masked, false, accept, Some(fallback as u32));
        }
        let best = argmax(logprobs);
        if accept(best as u32) {
            return best;
        }
        // Best first, ties by id as argmax: the MAX_CANDIDATES most likely, then (rarely: the
        // model insists on what the grammar forbids) the rest of the vocabulary, so that a
        // viable text is never ended by the fallback while some token continues it.
        let mut order: Vec<usize> = (0..logprobs.len()).filter(|&i| i != best && logprobs[i].is_finite()).collect();
        let by_score = |a: &usize, b: &usize| logprobs[*b].total_cmp(&logprobs[*a]).then(a.cmp(b));
        let mut rest = Vec::new();
        if order.len() > MAX_CANDIDATES {
            order.select_nth_unstable_by(MAX_CANDIDATES, by_score);
            rest = order.split_off(MAX_CANDIDATES);
        }
        order.sort_unstable_by(by_score);
        if let Some(id) = order.into_iter().find(|&id| accept(id as u32)) {
            return id;
        }
        rest.sort_unstable_by(by_score);
        rest.into_iter().find(|&id| accept(id as u32)).unwrap_or(fallback)
    }
}

/// Applies temperature, top-k, top-p and typical-p in TGI's order (masked tokens get -inf).
fn warp(scores: &mut [f32], p: &SamplingParams) {
    if p.temperature != 1.0 && p.temperature > 0.0 {
        for s in scores.iter_mut() {
            *s /= p.temperature;
        }
    }
    if let Some(k) = p.top_k.filter(|&k| k > 0 && k < scores.len()) {
        let mut sorted: Vec<f32> = scores.to_vec();
        sorted.sort_by(|a, b| b.total_cmp(a));
        let kth = sorted[k - 1];
        for s in scores.iter_mut() {
            if *s < kth {
                *s = f32::NEG_INFINITY;
            }
        }
    }
    if let Some(top_p) = p.top_p {
        // HF TopPLogitsWarper: sort ascending, drop tokens whose cumulative mass is <= 1 - top_p,
        // always keeping the most likely one.
        let probs = softmax(scores);
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
        let mut cum = 0f32;
        let last = order.len() - 1;
        for (rank, &i) in order.iter().enumerate() {
            cum += probs[i];
            if cum <= 1.0 - top_p && rank != last {
                scores[i] = f32::NEG_INFINITY;
            }
        }
    }
    if let Some(mass) = p.typical_p {
        // HF TypicalLogitsWarper: rank by |entropy - surprisal|, keep the smallest set whose
        // mass exceeds `mass`.
        let logp = log_softmax(scores);
        let ent: f32 = -logp.iter().filter(|l| l.is_finite()).map(|l| l.exp() * l).sum::<f32>();
        let shifted: Vec<f32> = logp.iter().map(|l| (-l - ent).abs()).collect();
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| shifted[a].total_cmp(&shifted[b]));
        let mut cum = 0f32;
        let mut cutoff = order.len() - 1;
        for (rank, &i) in order.iter().enumerate() {
            cum += logp[i].exp();
            if cum >= mass {
                cutoff = rank;
                break;
            }
        }
        for &i in &order[cutoff + 1..] {
            scores[i] = f32::NEG_INFINITY;
        }
    }
}

fn softmax(scores: &[f32]) -> Vec<f32> {
    log_softmax(scores).into_iter().map(f32::exp).collect()
}

/// Numerically stable log-softmax (computed in f64, returned as f32).
pub fn log_softmax(scores: &[f32]) -> Vec<f32> {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let sum: f64 = scores.iter().map(|&s| (s as f64 - max).exp()).sum();
    let lse = max + sum.ln();
    scores.iter().map(|&s| (s as f64 - lse) as f32).collect()
}

/// Index of the largest score (first on ties, like `torch.argmax`).
pub fn argmax(scores: &[f32]) -> usize {
    let mut best = 0;
    for (i, &s) in scores.iter().enumerate() {
        if s > scores[best] {
            best = i;
        }
    }
    best
}

fn draw(logprobs: &[f32], u: f64) -> usize {
    let mut cum = 0f64;
    let mut last_ok = 0;
    for (i, &l) in logprobs.iter().enumerate() {
        if l == f32::NEG_INFINITY {
            continue;
        }
        last_ok = i;
        cum += (l as f64).exp();
        if u < cum {
            return i;
        }
    }
    last_ok
}

/// The `n` most likely (id, logprob), best first, ties broken by lower id.
pub fn top_n_of(logprobs: &[f32], n: usize) -> Vec<(u32, f32)> {
    if n == 0 {
        return Vec::new();
    }
    let mut idx: Vec<usize> = (0..logprobs.len()).collect();
    let n = n.min(idx.len());
    idx.select_nth_unstable_by(n - 1, |&a, &b| logprobs[b].total_cmp(&logprobs[a]).then(a.cmp(&b)));
    idx.truncate(n);
    idx.sort_by(|&a, &b| logprobs[b].total_cmp(&logprobs[a]).then(a.cmp(&b)));
    idx.into_iter().map(|i| (i as u32, logprobs[i])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_takes_first_maximum_and_reports_raw_logprob() {
        let mut s = Sampler::new(SamplingParams::default());
        let c = s.choose(&[1.0, 3.0, 3.0, 0.0], &[], 2, None);
        assert_eq!(c.id, 1);
        let expected = log_softmax(&[1.0, 3.0, 3.0, 0.0])[1];
        assert!((c.logprob - expected).abs() < 1e-7);
        assert_eq!(c.top.iter().map(|t| t.0).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(s.reported_seed(), None);
    }

    #[test]
    fn repetition_penalty_divides_positive_and_multiplies_negative_scores() {
        let p = SamplingParams { repetition_penalty: 2.0, ..Default::default() };
        let mut s = Sampler::new(p);
        // Token 0 (score 4 → 2) loses to token 1 (3); token 2 (-1 → -2).
        let c = s.choose(&[4.0, 3.0, -1.0], &[0, 2], 3, None);
        assert_eq!(c.id, 1);
        let expected = log_softmax(&[2.0, 3.0, -2.0]);
        for (id, lp) in c.top {
            assert!((lp - expected[id as usize]).abs() < 1e-6);
        }
    }

    #[test]
    fn frequency_penalty_is_normalised_by_history_length() {
        let p = SamplingParams { frequency_penalty: 1.0, ..Default::default() };
        let mut s = Sampler::new(p);
        let c = s.choose(&[1.0, 0.9], &[0, 0, 1, 1, 1, 1], 0, None);
        // 1 - 2/6 = 0.667 vs 0.9 - 4/6 = 0.233
        assert_eq!(c.id, 0);
    }

    #[test]
    fn same_seed_same_draws() {
        let p = SamplingParams { do_sample: true, seed: Some(42), ..Default::default() };
        let logits: Vec<f32> = (0..50).map(|i| (i % 7) as f32 * 0.3).collect();
        let run = || {
            let mut s = Sampler::new(p.clone());
            (0..20).map(|_| s.choose(&logits, &[], 0, None).id).collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
        assert_eq!(Sampler::new(p).reported_seed(), Some(42));
    }

    #[test]
    fn top_k_and_top_p_restrict_the_support() {
        let logits = [5.0, 4.0, 1.0, 0.5, 0.0];
        let p = SamplingParams { do_sample: true, top_k: Some(2), seed: Some(1), ..Default::default() };
        let mut s = Sampler::new(p);
        for _ in 0..50 {
            assert!(s.choose(&logits, &[], 0, None).id < 2);
        }
        let p = SamplingParams { do_sample: true, top_p: Some(0.5), seed: Some(1), ..Default::default() };
        let mut s = Sampler::new(p);
        for _ in 0..50 {
            let c = s.choose(&logits, &[], 0, None);
            assert_eq!(c.id, 0);
            assert_eq!(c.logprob, 0.0);
        }
    }

    #[test]
    fn typical_p_keeps_at_least_one_token() {
        let logits = [2.0, 1.0, 0.0];
        let p = SamplingParams { do_sample: true, typical_p: Some(0.01), seed: Some(3), ..Default::default() };
        let mut s = Sampler::new(p);
        let c = s.choose(&logits, &[], 3, None);
        assert!(c.logprob.abs() < 1e-6, "single token left: {c:?}");
    }

    #[test]
    fn constrained_greedy_takes_the_best_allowed_token_or_the_fallback() {
        let mut s = Sampler::new(SamplingParams::default());
        let logits = [0.5, 3.0, 2.0, 2.0, -1.0];
        let mut odd_only = |id: u32| id % 2 == 1;
        assert_eq!(s.choose(&logits, &[], 0, Some((&mut odd_only, Some(4)))).id, 1);
        let mut not_one = |id: u32| id != 1;
        // Ties keep argmax's order: 2 before 3.
        let c = s.choose(&logits, &[], 0, Some((&mut not_one, Some(4))));
        assert_eq!(c.id, 2);
        assert!((c.logprob - log_softmax(&logits)[2]).abs() < 1e-6, "logprob of the unconstrained distribution");
        let mut nothing = |_: u32| false;
        assert_eq!(s.choose(&logits, &[], 0, Some((&mut nothing, Some(4)))).id, 4);
    }

    #[test]
    fn constrained_sampling_draws_only_allowed_tokens_reproducibly() {
        let params = SamplingParams { do_sample: true, seed: Some(3), ..SamplingParams::default() };
        let logits = [2.0, 2.0, 2.0, 2.0, 2.0, 2.0];
        let run = || {
            let mut s = Sampler::new(params.clone());
            (0..50)
                .map(|_| {
                    let mut even = |id: u32| id.is_multiple_of(2);
                    s.choose(&logits, &[], 0, Some((&mut even, None))).id
                })
                .collect::<Vec<_>>()
        };
        let a = run();
        assert!(a.iter().all(|id| id % 2 == 0), "{a:?}");
        assert_eq!(a, run());
        for id in [0, 2, 4] {
            assert!(a.contains(&id), "allowed token {id} never drawn: {a:?}");
        }
    }
}
