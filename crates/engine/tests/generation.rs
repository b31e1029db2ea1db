//! Generation mechanics on the tiny fixture model: chunked prefill, sequences joining a running
//! batch, EOS and stop sequences, seeded sampling.

mod common;

use common::fixtures;
use text2sql_engine::generate::{step, Sequence};
use text2sql_engine::{Engine, FinishReason, GenerateRequest, SamplingParams};

fn engine() -> Engine {
    Engine::load(&fixtures().join("llama_gqa/model")).expect("fixture model loads")
}

const PROMPT: &str = "### Schema:\nCREATE TABLE users (id INT, name TEXT);\n\n### Question:\nHow many users?";

fn run_to_end(engine: &Engine, seqs: &mut [Sequence], chunk: Option<usize>) {
    loop {
        let mut live: Vec<&mut Sequence> = seqs.iter_mut().filter(|s| s.finish.is_none()).collect();
        if live.is_empty() {
            break;
        }
        step(&engine.model, &engine.tokenizer, &mut live, chunk).expect("step");
    }
}

fn ids(seq: &Sequence) -> Vec<u32> {
    seq.tokens.iter().map(|t| t.id).collect()
}

#[test]
fn chunked_prefill_matches_one_shot_prefill() {
    let e = engine();
    let input = e.encode_prompt(PROMPT).unwrap();
    let req = GenerateRequest { decoder_input_details: true, ..GenerateRequest::greedy(input, 8) };
    let one = e.generate(vec![req.clone()]).unwrap().pop().unwrap();
    let mut chunked = vec![Sequence::new(&e.model, req, &e.eos_token_ids).unwrap()];
    run_to_end(&e, &mut chunked, Some(5));
    assert_eq!(ids(&one), ids(&chunked[0]));
    assert_eq!(one.prefill.len(), chunked[0].prefill.len());
    for (a, b) in one.prefill.iter().zip(&chunked[0].prefill) {
        assert_eq!(a.id, b.id);
        match (a.logprob, b.logprob) {
            (Some(x), Some(y)) => assert!((x - y).abs() < 1e-5),
            (x, y) => assert_eq!(x, y),
        }
    }
}

#[test]
fn a_sequence_joining_a_running_batch_gets_its_solo_result() {
    let e = engine();
    let a = GenerateRequest::greedy(e.encode_prompt(PROMPT).unwrap(), 10);
    let b = GenerateRequest::greedy(e.encode_prompt("### Question:\nList the names").unwrap(), 6);
    let solo_a = e.generate(vec![a.clone()]).unwrap().pop().unwrap();
    let solo_b = e.generate(vec![b.clone()]).unwrap().pop().unwrap();
    let mut first = Sequence::new(&e.model, a, &e.eos_token_ids).unwrap();
    for _ in 0..3 {
        step(&e.model, &e.tokenizer, &mut [&mut first], None).unwrap();
    }
    let mut seqs = vec![first, Sequence::new(&e.model, b, &e.eos_token_ids).unwrap()];
    run_to_end(&e, &mut seqs, None);
    assert_eq!(ids(&seqs[0]), ids(&solo_a));
    assert_eq!(ids(&seqs[1]), ids(&solo_b));
    for (x, y) in seqs[0].tokens.iter().zip(&solo_a.tokens) {
        assert!((x.logprob - y.logprob).abs() < 1e-5);
    }
}

#[test]
fn eos_ends_generation_and_is_reported() {
    let mut e = engine();
    let input = e.encode_prompt(PROMPT).unwrap();
    let free = e.generate(vec![GenerateRequest::greedy(input.clone(), 6)]).unwrap().pop().unwrap();
    let third = free.tokens[2].id;
    let first_at = free.tokens.iter().position(|t| t.id == third).unwrap();
    e.eos_token_ids = vec![third];
    let seq = e.generate(vec![GenerateRequest::greedy(input.clone(), 6)]).unwrap().pop().unwrap();
    assert_eq!(seq.finish, Some(FinishReason::EosToken));
    assert_eq!(seq.tokens.len(), first_at + 1, "EOS token is the last token reported");
    let ignoring = GenerateRequest { ignore_eos: true, ..GenerateRequest::greedy(input, 6) };
    let seq = e.generate(vec![ignoring]).unwrap().pop().unwrap();
    assert_eq!(seq.finish, Some(FinishReason::Length));
    assert_eq!(seq.tokens.len(), 6);
}

#[test]
fn stop_sequence_ends_generation_and_stays_in_the_text() {
    let e = engine();
    let input = e.encode_prompt(PROMPT).unwrap();
    let free = e.generate(vec![GenerateRequest::greedy(input.clone(), 8)]).unwrap().pop().unwrap();
    let text = free.generated_text(&e.tokenizer).unwrap();
    let prefix: String = free.tokens[..3].iter().map(|t| t.text.as_str()).collect();
    assert!(text.starts_with(&prefix), "{text:?} vs {prefix:?}");
    let stop = prefix.chars().rev().take(2).collect::<Vec<_>>().into_iter().rev().collect::<String>();
    let req = GenerateRequest { stop: vec![stop.clone()], ..GenerateRequest::greedy(input, 8) };
    let seq = e.generate(vec![req]).unwrap().pop().unwrap();
    assert_eq!(seq.finish, Some(FinishReason::StopSequence));
    let out = seq.generated_text(&e.tokenizer).unwrap();
    assert!(out.ends_with(&stop) && seq.tokens.len() <= 3, "{out:?} should end with {stop:?}");
}

#[test]
fn seeded_sampling_is_reproducible_and_reports_the_seed() {
    let e = engine();
    let input = e.encode_prompt(PROMPT).unwrap();
    let sample = |seed: u64| {
        let sampling = SamplingParams { do_sample: true, temperature: 1.5, seed: Some(seed), ..Default::default() };
        let req = GenerateRequest { sampling, ignore_eos: true, ..GenerateRequest::greedy(input.clone(), 12) };
        e.generate(vec![req]).unwrap().pop().unwrap()
    };
    let (a, b, c) = (sample(7), sample(7), sample(8));
    assert_eq!(ids(&a), ids(&b));
    assert_ne!(ids(&a), ids(&c), "different seeds should differ over 12 tokens at temperature 1.5");
    assert_eq!(a.seed(), Some(7));
    let greedy = e.generate(vec![GenerateRequest::greedy(input, 2)]).unwrap().pop().unwrap();
    assert_eq!(greedy.seed(), None);
}

#[test]
fn requests_beyond_the_model_are_errors_not_panics() {
    let e = engine();
    let max = e.config().max_position_embeddings;
    let err = e.generate(vec![GenerateRequest::greedy(vec![0; max], 1)]).unwrap_err().to_string();
    assert!(err.contains("exceeds"), "{err}");
    let err = e.generate(vec![GenerateRequest::greedy(vec![], 1)]).unwrap_err().to_string();
    assert!(err.contains("empty"), "{err}");
    let err = e.generate(vec![GenerateRequest::greedy(vec![u32::MAX], 1)]).unwrap_err().to_string();
    assert!(err.contains("out of range"), "{err}");
}

/// Texts over `(`, `)` and `a` whose parentheses never close more than they opened; complete
/// when balanced and non-empty. The shortest completion closes what is open.
#[derive(Debug)]
struct Parens;

impl Parens {
    fn open(text: &str) -> Option<usize> {
        let mut depth = 0usize;
        for c in text.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.checked_sub(1)?,
                'a' => {}
                _ => return None,
            }
        }
        Some(depth)
    }
}

impl text2sql_engine::Constraint for Parens {
    fn check(&self, text: &str) -> text2sql_engine::Viability {
        use text2sql_engine::Viability;
        match Self::open(text) {
            None => Viability::Dead,
            Some(0) if !text.is_empty() => Viability::Complete,
            Some(_) => Viability::Viable,
        }
    }

    fn completion(&self, text: &str) -> Option<String> {
        let open = Self::open(text)?;
        Some(if text.is_empty() { "a".into() } else { ")".repeat(open) })
    }

    fn completes(&self) -> bool {
        true
    }
}

#[test]
fn constrained_generations_are_finished_within_max_new_tokens() {
    let e = engine();
    let input = e.encode_prompt(PROMPT).unwrap();
    let mut ended_by_eos = 0;
    for seed in 0..16u64 {
        let sampling = SamplingParams { do_sample: true, seed: Some(seed), temperature: 1.5, ..SamplingParams::default() };
        let max_new_tokens = 6 + seed as usize % 10;
        let req = GenerateRequest { sampling, constraint: Some(std::sync::Arc::new(Parens)), ..GenerateRequest::greedy(input.clone(), max_new_tokens) };
        let seq = e.generate(vec![req]).unwrap().pop().unwrap();
        let text = seq.generated_text(&e.tokenizer).unwrap();
        assert!(seq.tokens.len() <= max_new_tokens);
        assert_eq!(Parens::open(&text), Some(0), "seed {seed}: {text:?} is not balanced");
        assert!(!text.is_empty(), "seed {seed}");
        ended_by_eos += usize::from(seq.finish == Some(FinishReason::EosToken));
    }
    println!("{ended_by_eos} of 16 ended with EOS");
}
