#!/usr/bin/env python3
"""Build the engine's GGUF reference fixtures.

Two parts (see README.md next to this file, section "GGUF fixtures"):

real   SmolLM2-135M-Instruct Q4_1 (the embedded default base model, 98 MB, not committed):
       transformers' own GGUF loader (dequantises to float32) records tokenization, greedy
       tokens, logprobs, top-3 alternatives and prefill logprobs into
       crates/engine/tests/fixtures/gguf/smollm2_expected.json.
tiny   tiny random Llama GGUF files written with the `gguf` package (GGUFWriter) exactly as
       llama.cpp's convert_hf_to_gguf.py lays them out (q/k rows permuted for interleaved RoPE,
       byte-level BPE vocab and merges in tokenizer.ggml.*), in several tensor types; the
       reference is transformers' GGUF loader, cross-checked against a LlamaForCausalLM built
       from the original unpermuted (dequantised) weights.

Usage (from the repository root):
    .venv-ref/bin/python tests/reference/make_gguf_fixtures.py            # both parts
    .venv-ref/bin/python tests/reference/make_gguf_fixtures.py tiny       # offline part only
    .venv-ref/bin/python tests/reference/make_gguf_fixtures.py real [--gguf PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

import gguf
import tokenizers
import transformers
from gguf import GGMLQuantizationType as QT
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_engine_fixtures import (  # noqa: E402  (shared prompt format and reference helpers)
    CORPUS,
    LONG_PROMPT,
    SPECIAL_TOKENS,
    VOCAB_SIZE,
    SHORT_PROMPT,
    TOKENIZE_STRINGS,
    logits_of,
    make_prompt,
    top_entries,
    train_tokenizer,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
OUT = REPO_ROOT / "crates" / "engine" / "tests" / "fixtures" / "gguf"
REAL_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
REAL_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
TOP_N = 3

# The pre-tokenizer of the original Hugging Face SmolLM2 tokenizer.json, which llama.cpp's
# "smollm" pre-tokenizer reproduces (regex "\p{N}" first, then GPT-2's): every digit alone.
ORIGINAL_SMOLLM_PRE = {
    "type": "Sequence",
    "pretokenizers": [
        {"type": "Digits", "individual_digits": True},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
    ],
}


def versions() -> dict:
    return {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "gguf": _dist_version("gguf"),
        "numpy": np.__version__,
    }


def _dist_version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def load_gguf_model(path: Path):
    model = AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=torch.float32, attn_implementation="eager"
    )
    model.eval()
    for p in model.parameters():
        assert p.dtype == torch.float32, p.dtype
    return model


@torch.no_grad()
def run_greedy(model, tokenizer, prompt: str, input_ids: list[int], max_new: int, eos_ids: list[int],
               min_gap_required: float) -> dict:
    """Greedy decoding with one full forward per step (no KV cache), raw log_softmax logprobs."""
    logits = logits_of(model, input_ids)
    assert torch.isfinite(logits).all()
    lsm = torch.log_softmax(logits, dim=-1)
    prefill = [None] + [lsm[i - 1, input_ids[i]].item() for i in range(1, len(input_ids))]
    ids = list(input_ids)
    generated, step_lps, tops, gaps = [], [], [], []
    finish = "length"
    for _ in range(max_new):
        last = logits_of(model, ids)[-1]
        lp = torch.log_softmax(last, dim=-1)
        top2 = torch.topk(last, 2)
        gaps.append((top2.values[0] - top2.values[1]).item())
        tok = int(torch.argmax(last).item())
        generated.append(tok)
        step_lps.append(lp[tok].item())
        tops.append(top_entries(lp, TOP_N))
        ids.append(tok)
        if tok in eos_ids:
            finish = "eos_token"
            break
    out = model.generate(
        input_ids=torch.tensor([input_ids]), attention_mask=torch.ones(1, len(input_ids), dtype=torch.long),
        max_new_tokens=max_new, do_sample=False, eos_token_id=eos_ids, pad_token_id=eos_ids[0],
    )
    assert out[0, len(input_ids):].tolist() == generated, (out[0, len(input_ids):].tolist(), generated)
    min_gap = min(gaps)
    assert min_gap >= min_gap_required, f"greedy near-tie ({min_gap}) for prompt {prompt[:40]!r}"
    return {
        "adapter": None,
        "prompt": prompt,
        "input_ids": input_ids,
        "prefill_logprobs": prefill,
        "generated_ids": generated,
        "generated_text": tokenizer.decode(generated, skip_special_tokens=True),
        "finish_reason": finish,
        "logprobs": step_lps,
        "top_tokens": tops,
        "min_gap": min_gap,
    }


def write_json(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {path.relative_to(REPO_ROOT)}")


# ---------------------------------------------------------------------------
# Part 1: the real SmolLM2-135M-Instruct Q4_1 file
# ---------------------------------------------------------------------------

REAL_TOKENIZE = [
    "2024-03-15",
    "12345",
    "order 66 costs 1,234.50 USD",
    " 7 x 8 = 56",
    "abc123def",
    "  two  spaces\n\nnew lines\tand\ttabs\r\n",
    "café naïve 日本語 🙂 Ünïcödé",
    "x² + y³ = ½, ２０２４",
    "powers  ²² and ³³",
    "SELECT name FROM singer WHERE country = 'O''Brien' AND note = \"quoted\" LIMIT 10;",
    "<|im_start|>user\nhi<|im_end|>",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|> literal <|im_end|>text",
    "",
    " ",
    make_prompt("CREATE TABLE t (id INT)", "How many rows were added on 2024-03-15?"),
]

REAL_SCHEMA = (
    "CREATE TABLE singer (singer_id INTEGER PRIMARY KEY, name TEXT, country TEXT, age INTEGER);\n"
    "CREATE TABLE concert (concert_id INTEGER PRIMARY KEY, concert_name TEXT, singer_id INTEGER, year INTEGER);"
)
REAL_SQL_PROMPT = make_prompt(REAL_SCHEMA, "How many singers are older than 30?")
REAL_MAX_NEW = 16


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def llama_cpp_ids(path: Path, texts: list[str], add_bos: bool = False) -> tuple[str, list[list[int]]] | None:
    """Token ids from llama.cpp itself (llama-cpp-python), if it is installed: optional cross-check."""
    try:
        import llama_cpp  # noqa: F401
        from llama_cpp import Llama
    except ImportError:
        return None
    llm = Llama(model_path=str(path), vocab_only=True, verbose=False)
    ids = [llm.tokenize(t.encode(), add_bos=add_bos, special=True) for t in texts]
    return llama_cpp.__version__, ids


def make_real(path: Path) -> None:
    digest = sha256_of(path)
    assert digest == REAL_SHA256, f"{path}: sha256 {digest}, expected {REAL_SHA256}"
    tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    backend = json.loads(tok.backend_tokenizer.to_str())
    # What transformers builds from the GGUF metadata: a plain ByteLevel pre-tokenizer, i.e. it
    # does not split digits one by one as the original tokenizer and llama.cpp do.
    transformers_pre = backend["pre_tokenizer"]
    backend["pre_tokenizer"] = ORIGINAL_SMOLLM_PRE
    original = Tokenizer.from_str(json.dumps(backend))

    texts = REAL_TOKENIZE
    records, differ = [], []
    for text in texts:
        t_ids = tok(text).input_ids
        o_ids = original.encode(text).ids
        rec = {"text": text, "ids": o_ids, "transformers_ids": t_ids}
        records.append(rec)
        if t_ids != o_ids:
            differ.append(text)
    llama = llama_cpp_ids(path, texts)
    llama_cpp_version = None
    if llama is not None:
        llama_cpp_version, lids = llama
        for rec, l in zip(records, lids):
            assert l == rec["ids"], ("llama.cpp disagrees with the original tokenizer", rec["text"], l, rec["ids"])
        print(f"llama.cpp {llama_cpp_version} agrees with the digit-splitting tokenizer on all strings")
    print("transformers' GGUF tokenizer differs from the original on:", differ)

    model = load_gguf_model(path)
    eos = [int(tok.eos_token_id)]
    chat_prompt = tok.apply_chat_template(
        [{"role": "user", "content": "Write a SQL query that counts the rows of table t."}],
        tokenize=False, add_generation_prompt=True,
    )
    sql_chat_prompt = tok.apply_chat_template(
        [{"role": "user", "content": REAL_SQL_PROMPT}], tokenize=False, add_generation_prompt=True
    )
    # The raw Text-to-SQL prompt (the instruct model answers it with <|im_end|> at once: covers
    # the 82-token prefill and stopping on EOS), the same prompt in the chat template, a short
    # chat prompt, and plain text continuation.
    prompts = [REAL_SQL_PROMPT, sql_chat_prompt, chat_prompt, "The capital of France is"]
    runs = []
    for prompt in prompts:
        ids = original.encode(prompt).ids
        assert ids == tok(prompt).input_ids, prompt
        runs.append(run_greedy(model, tok, prompt, ids, REAL_MAX_NEW, eos, 1e-3))
        print(f"  {prompt[:30]!r}... -> {runs[-1]['generated_text']!r} (min gap {runs[-1]['min_gap']:.4f})")
    write_json(OUT / "smollm2_expected.json", {
        "case": "smollm2",
        "file": REAL_NAME,
        "sha256": REAL_SHA256,
        "versions": versions(),
        "llama_cpp_cross_check": llama_cpp_version,
        "transformers_pre_tokenizer": transformers_pre,
        "original_pre_tokenizer": ORIGINAL_SMOLLM_PRE,
        "transformers_differs_on": differ,
        "eos_token_ids": eos,
        "max_new_tokens": REAL_MAX_NEW,
        "top_n": TOP_N,
        "tokenize": records,
        "runs": runs,
    })


# ---------------------------------------------------------------------------
# Part 2: tiny random GGUF files
# ---------------------------------------------------------------------------

HIDDEN, LAYERS, HEADS, KV_HEADS, INTER = 64, 2, 4, 2, 256
HEAD_DIM = HIDDEN // HEADS
TINY_MAX_NEW = 12

# case name -> (tensor type of the 2-D weights, add_bos_token, tied embeddings, pre-tokenizer)
TINY_CASES = {
    "tiny_f32": ("F32", True, False, "gpt-2"),
    "tiny_f16": ("F16", False, True, "gpt-2"),
    "tiny_q8_0": ("Q8_0", False, False, "gpt-2"),
    "tiny_q4_0": ("Q4_0", True, True, "gpt-2"),
    "tiny_q4_1": ("Q4_1", False, False, "smollm"),
    # gguf-py cannot quantize K-quants: random but valid Q4_K / Q6_K blocks are written instead
    # (ffn_down, whose rows hold 256 values = one super-block); the rest is Q8_0.
    "tiny_kquants": ("Q8_0", False, False, "gpt-2"),
}


def permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp convert_hf_to_gguf.py LlamaModel.permute: HF rotate-half -> interleaved rows."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def random_kquant_blocks(rng: np.random.Generator, rows: int, cols: int, qtype) -> np.ndarray:
    """Random valid K-quant super-blocks (byte layout of ggml's block_q4_K / block_q6_K)."""
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    nb = rows * cols // block_size
    raw = rng.integers(0, 256, size=(nb, type_size), dtype=np.uint8)
    if qtype == QT.Q4_K:  # d, dmin (f16), scales[12], qs[128]
        d = rng.uniform(0.0004, 0.0008, nb).astype(np.float16)
        dmin = rng.uniform(0.0002, 0.0004, nb).astype(np.float16)
        raw[:, 0:2] = d.view(np.uint8).reshape(nb, 2)
        raw[:, 2:4] = dmin.view(np.uint8).reshape(nb, 2)
    elif qtype == QT.Q6_K:  # ql[128], qh[64], scales[16] (int8), d (f16)
        d = rng.uniform(0.00005, 0.0001, nb).astype(np.float16)
        raw[:, 208:210] = d.view(np.uint8).reshape(nb, 2)
    else:
        raise ValueError(qtype)
    return raw.reshape(rows, cols // block_size * type_size)


def tiny_tokenizer_meta(tok: Tokenizer) -> tuple[list[str], list[str], list[int]]:
    spec = json.loads(tok.to_str())
    vocab = spec["model"]["vocab"]
    tokens = [None] * len(vocab)
    for t, i in vocab.items():
        tokens[i] = t
    assert all(t is not None for t in tokens)
    merges = [m if isinstance(m, str) else " ".join(m) for m in spec["model"]["merges"]]
    types = [3 if t in ("<s>", "</s>", "<pad>") else 1 for t in tokens]
    return tokens, merges, types


def random_hf_weights(seed: int, vocab: int, tied: bool) -> dict[str, np.ndarray]:
    """HF-layout float32 weights (the 'original model' the GGUF file is converted from)."""
    rng = np.random.default_rng(seed)
    std = 0.35
    w = {"model.embed_tokens.weight": rng.normal(0, std, (vocab, HIDDEN)),
         "model.norm.weight": 1.0 + 0.1 * rng.normal(size=HIDDEN)}
    if not tied:
        w["lm_head.weight"] = rng.normal(0, std, (vocab, HIDDEN))
    kv = KV_HEADS * HEAD_DIM
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = 1.0 + 0.1 * rng.normal(size=HIDDEN)
        w[p + "post_attention_layernorm.weight"] = 1.0 + 0.1 * rng.normal(size=HIDDEN)
        w[p + "self_attn.q_proj.weight"] = rng.normal(0, std, (HIDDEN, HIDDEN))
        w[p + "self_attn.k_proj.weight"] = rng.normal(0, std, (kv, HIDDEN))
        w[p + "self_attn.v_proj.weight"] = rng.normal(0, std, (kv, HIDDEN))
        w[p + "self_attn.o_proj.weight"] = rng.normal(0, std, (HIDDEN, HIDDEN))
        w[p + "mlp.gate_proj.weight"] = rng.normal(0, std, (INTER, HIDDEN))
        w[p + "mlp.up_proj.weight"] = rng.normal(0, std, (INTER, HIDDEN))
        w[p + "mlp.down_proj.weight"] = rng.normal(0, std / 2, (HIDDEN, INTER))
    return {k: v.astype(np.float32) for k, v in w.items()}


GGUF_NAMES = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
    "input_layernorm.weight": "attn_norm.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}


def gguf_name(hf: str) -> str:
    if hf in GGUF_NAMES:
        return GGUF_NAMES[hf]
    _, _, layer, rest = hf.split(".", 3)
    return f"blk.{layer}.{GGUF_NAMES[rest]}"


def write_tiny(path: Path, case: str, tok: Tokenizer, seed: int) -> dict[str, np.ndarray]:
    """Writes one tiny GGUF file; returns the dequantised weights in HF layout (unpermuted)."""
    qname, add_bos, tied, pre = TINY_CASES[case]
    tokens, merges, types = tiny_tokenizer_meta(tok)
    hf = random_hf_weights(seed, len(tokens), tied)
    rng = np.random.default_rng(seed + 1000)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name(case)
    w.add_context_length(256)
    w.add_embedding_length(HIDDEN)
    w.add_block_count(LAYERS)
    w.add_feed_forward_length(INTER)
    w.add_rope_dimension_count(HEAD_DIM)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_rope_freq_base(10000.0 if case != "tiny_q4_1" else 100000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(len(tokens))
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(0)
    w.add_eos_token_id(1)
    w.add_pad_token_id(2)
    w.add_add_bos_token(add_bos)
    w.add_add_space_prefix(False)
    dequantised = {}
    for name, arr in hf.items():
        gname = gguf_name(name)
        data = arr
        if name.endswith("q_proj.weight"):
            data = permute(arr, HEADS)
        elif name.endswith("k_proj.weight"):
            data = permute(arr, KV_HEADS)
        if arr.ndim == 1:  # norms stay F32, as llama.cpp keeps them
            w.add_tensor(gname, data)
            stored = data
        elif case == "tiny_kquants" and name.endswith("down_proj.weight"):
            qt = QT.Q4_K if ".0." in name else QT.Q6_K
            raw = random_kquant_blocks(rng, *data.shape, qt)
            w.add_tensor(gname, raw, raw_dtype=qt)
            stored = gguf.quants.dequantize(raw, qt)
        elif qname == "F32":
            w.add_tensor(gname, data)
            stored = data
        elif qname == "F16":
            h = data.astype(np.float16)
            w.add_tensor(gname, h)
            stored = h.astype(np.float32)
        else:
            qt = QT[qname]
            raw = gguf.quants.quantize(data, qt)
            w.add_tensor(gname, raw, raw_dtype=qt)
            stored = gguf.quants.dequantize(raw, qt)
        stored = np.asarray(stored, dtype=np.float32).reshape(arr.shape)
        # Undo the permutation to get the HF-layout weights the GGUF file represents.
        if name.endswith("q_proj.weight"):
            stored = inverse_permute(stored, HEADS)
        elif name.endswith("k_proj.weight"):
            stored = inverse_permute(stored, KV_HEADS)
        dequantised[name] = stored
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return dequantised


def inverse_permute(w: np.ndarray, n_head: int) -> np.ndarray:
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def hf_model_from(weights: dict[str, np.ndarray], vocab: int, tied: bool, rope_theta: float):
    cfg = LlamaConfig(
        vocab_size=vocab, hidden_size=HIDDEN, intermediate_size=INTER, num_hidden_layers=LAYERS,
        num_attention_heads=HEADS, num_key_value_heads=KV_HEADS, max_position_embeddings=256,
        rms_norm_eps=1e-5, rope_theta=rope_theta, tie_word_embeddings=tied, bos_token_id=0, eos_token_id=1,
        attn_implementation="eager",
    )
    model = LlamaForCausalLM(cfg).eval()
    state = {k: torch.from_numpy(v) for k, v in weights.items()}
    if tied:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and all(k.endswith("rotary_emb.inv_freq") for k in missing), (missing, unexpected)
    return model


DIGIT_CORPUS = "2024-03-15 2023 2014 12345 100 1000 42 2020-01-01 3.14 250 99 10 20 30 2024 2024\n" * 5


def train_digit_tokenizer() -> Tokenizer:
    """Like make_engine_fixtures.train_tokenizer, plus numbers in the corpus so that the vocab has
    multi-digit tokens ("20", "2024", ...): with pre "smollm" they must never be used."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE, special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator((CORPUS + DIGIT_CORPUS).splitlines(keepends=True) * 3, trainer=trainer)
    assert tok.get_vocab_size() == VOCAB_SIZE
    multi_digit = [t for t in tok.get_vocab() if sum(c.isdigit() for c in t) >= 2]
    assert len(multi_digit) >= 5, multi_digit
    for i, s in enumerate(SPECIAL_TOKENS):
        assert tok.token_to_id(s) == i
    return tok


TINY_TOKENIZE = TOKENIZE_STRINGS + ["dates 2024-03-15 and 12345 and 2014", "x 20 y 2023%"]
TINY_PROMPTS = [SHORT_PROMPT, LONG_PROMPT]


def differ_expected(tok: Tokenizer, hf_tok) -> bool:
    """transformers ignores pre "smollm" (merges digits); make sure the fixture shows it."""
    text = "in 2024"
    return hf_tok(text).input_ids == tok.encode(text).ids and len(tok.encode(text).ids) < 6


def make_tiny(cases: list[str]) -> None:
    plain_tok, digit_tok = train_tokenizer(), train_digit_tokenizer()
    for case in cases:
        qname, add_bos, tied, pre = TINY_CASES[case]
        base_tok = digit_tok if pre == "smollm" else plain_tok
        path = OUT / f"{case}.gguf"
        path.parent.mkdir(parents=True, exist_ok=True)
        weights = write_tiny(path, case, base_tok, seed=100 + 17 * list(TINY_CASES).index(case))
        rope_theta = 10000.0 if case != "tiny_q4_1" else 100000.0

        hf_tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        model = load_gguf_model(path)
        # Cross-check transformers' GGUF loading (un-permutation, dequantisation, tying) against
        # the model built directly from the unpermuted weights.
        ref = hf_model_from(weights, base_tok.get_vocab_size(), tied, rope_theta)
        probe = list(range(3, 40))
        diff = (logits_of(model, probe) - logits_of(ref, probe)).abs().max().item()
        assert diff < 1e-4, (case, diff)

        # Token ids: what llama.cpp does is the reference. With pre "gpt-2" (llama.cpp's name for GPT-2's regex) that is a ByteLevel
        # pre-tokenizer (what transformers builds); with "smollm" digits are split one by one,
        # which transformers ignores. add_bos_token: llama.cpp prepends BOS.
        spec = json.loads(base_tok.to_str())
        if pre == "smollm":
            spec["pre_tokenizer"] = ORIGINAL_SMOLLM_PRE
            assert differ_expected(base_tok, hf_tok)
        original = Tokenizer.from_str(json.dumps(spec))
        bos = [0] if add_bos else []
        records, differ = [], []
        for text in TINY_TOKENIZE:
            o_ids = bos + original.encode(text, add_special_tokens=False).ids
            t_ids = hf_tok(text).input_ids
            records.append({"text": text, "ids": o_ids, "transformers_ids": t_ids})
            if o_ids != t_ids:
                differ.append(text)
        llama = llama_cpp_ids(path, TINY_TOKENIZE, add_bos)
        if llama is not None:
            for rec, l in zip(records, llama[1]):
                assert l == rec["ids"], ("llama.cpp disagrees", case, rec["text"], l, rec["ids"])
        runs = []
        for prompt in TINY_PROMPTS:
            ids = bos + original.encode(prompt, add_special_tokens=False).ids
            runs.append(run_greedy(model, hf_tok, prompt, ids, TINY_MAX_NEW, [1], 1e-3))
        print(f"{case}: {path.stat().st_size} bytes, GGUF-vs-HF logits diff {diff:.2e}, "
              f"transformers ids differ on {len(differ)} strings")
        write_json(OUT / f"{case}_expected.json", {
            "case": case,
            "file": path.name,
            "tensor_type": qname,
            "add_bos_token": add_bos,
            "tied_embeddings": tied,
            "pre": pre,
            "versions": versions(),
            "gguf_vs_unpermuted_hf_max_logit_diff": diff,
            "transformers_differs_on": differ,
            "llama_cpp_cross_check": llama[0] if llama else None,
            "max_new_tokens": TINY_MAX_NEW,
            "top_n": TOP_N,
            "tokenize": records,
            "runs": runs,
        })


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("parts", nargs="*", default=["tiny", "real"], help="tiny, real, or tiny case names")
    ap.add_argument("--gguf", type=Path, default=REPO_ROOT / "models" / REAL_NAME, help="path of the real model file")
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    parts = args.parts
    tiny = [c for c in TINY_CASES if "tiny" in parts or c in parts]
    if tiny:
        make_tiny(tiny)
    if "real" in parts:
        make_real(args.gguf)


if __name__ == "__main__":
    main()
