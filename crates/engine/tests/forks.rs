//! A segment that forks another segment of the same forward pass (`SegmentInput::fork_of`)
//! computes exactly what the whole sequence computes as one segment: positions, attention to
//! the parent's keys and values (causal, sliding window), adapters, and a cache that goes on
//! decoding. Checked on the fixture models against plain one-segment passes.

mod common;

use std::sync::Arc;
use text2sql_engine::lora::{LoraAdapter, Proj};
use text2sql_engine::model::{KvCache, Logits, SegmentInput};
use text2sql_engine::random::random_adapter;
use text2sql_engine::{Engine, Model};

fn engine(case: &str) -> Engine {
    Engine::load(&common::fixtures().join(case).join("model")).expect("fixture model")
}

fn ids(n: usize, salt: usize, vocab: usize) -> Vec<u32> {
    (0..n).map(|i| ((i * 7919 + salt * 104_729 + 13) % vocab) as u32).collect()
}

fn seg<'a>(tokens: &'a [u32], adapter: Option<&'a Arc<LoraAdapter>>, fork_of: Option<usize>) -> SegmentInput<'a> {
    SegmentInput { tokens, adapter, logits: Logits::All, fork_of }
}

fn rows(t: &candle_core::Tensor) -> Vec<Vec<f32>> {
    t.to_vec2::<f32>().unwrap()
}

/// Logits of every position of `tokens` run as one plain segment.
fn whole(model: &Model, tokens: &[u32], adapter: Option<&Arc<LoraAdapter>>) -> Vec<Vec<f32>> {
    let mut cache = model.new_cache();
    rows(&model.forward(&[seg(tokens, adapter, None)], &mut [&mut cache]).unwrap()[0])
}

fn assert_close(got: &[Vec<f32>], want: &[Vec<f32>], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: row count");
    let max = got.iter().flatten().zip(want.iter().flatten()).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(max < 1e-4, "{what}: max logit difference {max}");
}

fn check_forks(case: &str, prefix_len: usize) {
    let e = engine(case);
    let vocab = e.config().vocab_size;
    let a = Arc::new(random_adapter(e.config(), "a", 4, &Proj::ALL, 3).unwrap());
    for adapter in [None, Some(&a)] {
        let p = ids(prefix_len, 1, vocab);
        let (c1, c2, d) = (ids(9, 2, vocab), ids(5, 3, vocab), ids(4, 4, vocab));
        let mut caches: Vec<KvCache> = (0..4).map(|_| e.model.new_cache()).collect();
        let inputs = [seg(&p, adapter, None), seg(&c1, adapter, Some(0)), seg(&c2, adapter, Some(0)), seg(&d, adapter, Some(1))];
        let mut refs: Vec<&mut KvCache> = caches.iter_mut().collect();
        let out = e.model.forward(&inputs, &mut refs).unwrap();
        let tag = format!("{case} adapter={}", adapter.is_some());
        let full1 = whole(&e.model, &[p.clone(), c1.clone()].concat(), adapter);
        let full2 = whole(&e.model, &[p.clone(), c2.clone()].concat(), adapter);
        let full3 = whole(&e.model, &[p.clone(), c1.clone(), d.clone()].concat(), adapter);
        assert_close(&rows(&out[0]), &full1[..prefix_len], &format!("{tag}: parent"));
        assert_close(&rows(&out[1]), &full1[prefix_len..], &format!("{tag}: fork 1"));
        assert_close(&rows(&out[2]), &full2[prefix_len..], &format!("{tag}: fork 2"));
        assert_close(&rows(&out[3]), &full3[prefix_len + c1.len()..], &format!("{tag}: fork of a fork"));
        // Each fork's cache holds its whole context and decodes on like the whole sequence.
        assert_eq!(caches[2].len(), prefix_len + c2.len());
        let next = [ids(1, 9, vocab)[0]];
        let step = e.model.forward(&[seg(&next, adapter, None)], &mut [&mut caches[2]]).unwrap();
        let full = whole(&e.model, &[p.clone(), c2.clone(), next.to_vec()].concat(), adapter);
        assert_close(&rows(&step[0]), &full[full.len() - 1..], &format!("{tag}: decoding after the fork"));
        // The parent's cache is its own: the forks did not write into it.
        assert_eq!(caches[0].len(), prefix_len);
    }
}

#[test]
fn forks_equal_whole_sequences_llama_gqa() {
    check_forks("llama_gqa", 30);
}

#[test]
fn forks_equal_whole_sequences_across_a_sliding_window() {
    // mistral_tied_bf16 has sliding_window 16: the forks' queries see only the window's end
    // of the parent.
    check_forks("mistral_tied_bf16", 24);
}

#[test]
fn forks_of_later_segments_or_into_used_caches_are_errors() {
    let e = engine("llama_gqa");
    let t = ids(4, 1, e.config().vocab_size);
    let mut c = [e.model.new_cache(), e.model.new_cache()];
    let [c0, c1] = &mut c;
    let err = e.model.forward(&[seg(&t, None, Some(1)), seg(&t, None, None)], &mut [c0, c1]).unwrap_err().to_string();
    assert!(err.contains("forks segment 1, which must come earlier"), "{err}");
    let mut used = e.model.new_cache();
    e.model.forward(&[seg(&t, None, None)], &mut [&mut used]).unwrap();
    let mut fresh = e.model.new_cache();
    let err = e.model.forward(&[seg(&t, None, None), seg(&t, None, Some(0))], &mut [&mut fresh, &mut used]).unwrap_err().to_string();
    assert!(err.contains("into an empty cache (it holds 4)"), "{err}");
}
