#!/usr/bin/env python3
"""Build the engine's reference fixtures with transformers + PEFT.

Creates tiny random Llama / Mistral / Qwen2 checkpoints (with a tiny byte-level
BPE tokenizer trained here), PEFT LoRA adapters for them, and records what the
upstream implementations compute: tokenization, prefill log-probabilities and a
greedy generation (float32, eager attention, no KV cache) with per-step
log-probabilities and top-n alternatives.

Everything is seeded, so re-running rewrites identical fixtures (given the
pinned versions in requirements.txt). See README.md next to this file.

Output: crates/engine/tests/fixtures/<case>/{model/,adapters/<name>/,expected.json}
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

import peft
import tokenizers
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "crates" / "engine" / "tests" / "fixtures"

VOCAB_SIZE = 384
SPECIAL_TOKENS = ["<s>", "</s>", "<pad>"]  # ids 0, 1, 2
MAX_NEW_TOKENS = 12
TOP_N = 3
MIN_GAP = 1e-3

# ---------------------------------------------------------------------------
# Tokenizer
# ---------------------------------------------------------------------------

CORPUS = """\
CREATE TABLE singer (singer_id INTEGER PRIMARY KEY, name TEXT, country TEXT, age INTEGER, is_male BOOLEAN);
CREATE TABLE concert (concert_id INTEGER PRIMARY KEY, concert_name TEXT, theme TEXT, stadium_id INTEGER, year TEXT);
CREATE TABLE stadium (stadium_id INTEGER PRIMARY KEY, location TEXT, name TEXT, capacity INTEGER, highest INTEGER, average INTEGER);
CREATE TABLE singer_in_concert (concert_id INTEGER, singer_id TEXT, FOREIGN KEY (concert_id) REFERENCES concert(concert_id));
CREATE TABLE employee (employee_id INTEGER PRIMARY KEY, name TEXT, age INTEGER, city TEXT, salary REAL);
CREATE TABLE department (department_id INTEGER PRIMARY KEY, name TEXT, budget REAL, head_id INTEGER);
CREATE TABLE orders (order_id INTEGER PRIMARY KEY, customer_id INTEGER, amount REAL, order_date TEXT, status TEXT);
CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, first_name TEXT, last_name TEXT, email TEXT, city TEXT);
SELECT count(*) FROM singer;
SELECT name, country, age FROM singer ORDER BY age DESC;
SELECT avg(age), min(age), max(age) FROM singer WHERE country = 'France';
SELECT T2.name FROM concert AS T1 JOIN stadium AS T2 ON T1.stadium_id = T2.stadium_id WHERE T1.year = '2014';
SELECT country, count(*) FROM singer GROUP BY country HAVING count(*) > 1;
SELECT name FROM employee WHERE salary > (SELECT avg(salary) FROM employee);
SELECT city, sum(amount) FROM orders JOIN customers ON orders.customer_id = customers.customer_id GROUP BY city;
SELECT DISTINCT status FROM orders WHERE order_date LIKE '2023%' ORDER BY status ASC LIMIT 5;
SELECT first_name, last_name FROM customers WHERE email IS NOT NULL AND city != 'Paris';
SELECT name FROM department WHERE budget BETWEEN 1000 AND 5000 UNION SELECT name FROM stadium;
SELECT T1.name FROM employee AS T1 LEFT JOIN department AS T2 ON T1.employee_id = T2.head_id WHERE T2.name IS NULL;
How many singers do we have?
What are the names, countries, and ages for every singer in descending order of age?
What is the average, minimum, and maximum age of all singers from France?
Show the names of stadiums that had a concert in 2014.
Which countries have more than one singer? Show the count for each country.
Find the employees who earn more than the average salary.
What is the total order amount for each city of the customers?
List the distinct order statuses of orders placed in 2023, sorted alphabetically.
Return only the SQL query. Return the SQL query only, with no explanation.
### Schema:
### Question:
The quick brown fox jumps over the lazy dog. Tables have columns and rows; every row has a primary key.
A question is answered by a query that selects columns from one or more tables, joins them, and filters rows.
The café serves naïve customers; 日本 is Japan. Tabs\tand  double  spaces appear in code.
"""


def train_tokenizer() -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # Feed the corpus several times (whole lines) so merge counts are stable.
    lines = CORPUS.splitlines(keepends=True)
    tok.train_from_iterator(lines * 3, trainer=trainer)
    assert tok.get_vocab_size() == VOCAB_SIZE, tok.get_vocab_size()
    for i, s in enumerate(SPECIAL_TOKENS):
        assert tok.token_to_id(s) == i, (s, tok.token_to_id(s))
    return tok


CHAT_TEMPLATE = (
    "{% if add_bos is defined and add_bos %}{{ bos_token }}{% endif %}"
    "{% for message in messages %}"
    "{{ '### ' + message['role'] + ':\\n' + message['content'] + '\\n\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '### assistant:\\n' }}{% endif %}"
)


def save_tokenizer(base: Tokenizer, model_dir: Path, add_bos: bool) -> None:
    tok = Tokenizer.from_str(base.to_str())
    if add_bos:
        # Like Llama's tokenizer.json: prepend BOS to every sequence.
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A",
            pair="<s> $A <s> $B",
            special_tokens=[("<s>", 0)],
        )
    else:
        tok.post_processor = None
    tok.save(str(model_dir / "tokenizer.json"))
    cfg = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "pad_token": "<pad>",
        "unk_token": None,
        "add_bos_token": add_bos,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": 256,
        "chat_template": CHAT_TEMPLATE,
    }
    (model_dir / "tokenizer_config.json").write_text(json.dumps(cfg, indent=2) + "\n")


TOKENIZE_STRINGS = [
    "SELECT name FROM singer WHERE age > 30;",
    "  leading spaces and trailing spaces  ",
    "double  spaces   and\ttabs\t\there",
    "line one\nline two\n\n  indented\r\nwindows",
    "café naïve 日本 🙂",
    "SELECT * FROM t WHERE name = 'O''Brien' AND note = \"quoted\";",
    "<s> special token text inside <s>text</s> and <pad>",
    "### Schema:\nCREATE TABLE a (id INT);\n\n### Question:\nHow many?\n\nReturn only the SQL query.",
    "",
    " ",
    "numbers 0123456789 and symbols ~!@#$%^&*()_+{}|:<>?",
]

# ---------------------------------------------------------------------------
# Prompts
# ---------------------------------------------------------------------------


def make_prompt(schema: str, question: str) -> str:
    return f"### Schema:\n{schema}\n\n### Question:\n{question}\n\nReturn only the SQL query."


SHORT_PROMPT = make_prompt("CREATE TABLE singer (id INT, name TEXT)", "How many singers are there?")
LONG_PROMPT = make_prompt(
    "CREATE TABLE stadium (stadium_id INTEGER PRIMARY KEY, location TEXT, name TEXT, capacity INTEGER);\n"
    "CREATE TABLE concert (concert_id INTEGER PRIMARY KEY, concert_name TEXT, stadium_id INTEGER, year TEXT);",
    "Show the names of stadiums that had a concert in 2014, sorted by capacity.",
)

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def versions() -> dict:
    return {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "tokenizers": tokenizers.__version__,
    }


def randomize_extras(model: torch.nn.Module, seed: int) -> None:
    """Make RMSNorm weights and biases non-trivial so that the Rust side must apply them."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith(".bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=g))


@torch.no_grad()
def plant_eos_token(model, ids: list[int], eos_id: int, step: int) -> None:
    """Make greedy decoding of `ids` emit `eos_id` at generation step `step`.

    Random tiny models practically never pick EOS, so to exercise stopping we copy the
    output-embedding row of the token greedy decoding picks at `step` into the EOS row,
    scaled up a little so EOS wins there. EOS ids never occur in the prompts, so with tied
    embeddings the change to the input embedding is harmless.
    """
    seq = list(ids)
    for _ in range(step + 1):
        seq.append(int(logits_of(model, seq)[-1].argmax()))
    target = seq[len(ids) + step]
    assert target not in seq[len(ids):len(ids) + step] and target > 2, (target, seq[len(ids):])
    w = model.get_output_embeddings().weight
    w[eos_id] = 1.05 * w[target]


def load_f32(model_dir: Path, **overrides) -> torch.nn.Module:
    model = AutoModelForCausalLM.from_pretrained(
        str(model_dir), dtype=torch.float32, attn_implementation="eager", **overrides
    )
    model.eval()
    for p in model.parameters():
        assert p.dtype == torch.float32, p.dtype
    return model


@torch.no_grad()
def logits_of(model, ids: list[int]) -> torch.Tensor:
    out = model(input_ids=torch.tensor([ids], dtype=torch.long), use_cache=False)
    return out.logits[0].float()


def top_entries(logprobs: torch.Tensor, n: int) -> list[list]:
    lp = logprobs.tolist()
    order = sorted(range(len(lp)), key=lambda i: (-lp[i], i))[:n]
    return [[i, lp[i]] for i in order]


@torch.no_grad()
def run_reference(model, tokenizer, prompt: str, eos_ids: list[int], adapter: str | None) -> dict:
    input_ids = tokenizer(prompt).input_ids
    logits = logits_of(model, input_ids)
    assert torch.isfinite(logits).all()
    lsm = torch.log_softmax(logits, dim=-1)
    prefill = [None] + [lsm[i - 1, input_ids[i]].item() for i in range(1, len(input_ids))]

    ids = list(input_ids)
    generated, step_lps, tops, gaps = [], [], [], []
    finish = "length"
    for _ in range(MAX_NEW_TOKENS):
        last = logits_of(model, ids)[-1]
        assert torch.isfinite(last).all()
        lp = torch.log_softmax(last, dim=-1)
        top2 = torch.topk(last, 2)
        gaps.append((top2.values[0] - top2.values[1]).item())
        tok = int(torch.argmax(last).item())
        generated.append(tok)
        step_lps.append(lp[tok].item())
        tops.append(top_entries(lp, TOP_N))
        assert tops[-1][0][0] == tok
        ids.append(tok)
        if tok in eos_ids:
            finish = "eos_token"
            break
    min_gap = min(gaps)
    # Cross-check the manual loop against transformers' own greedy generate() (with KV cache).
    out = model.generate(
        input_ids=torch.tensor([input_ids]), attention_mask=torch.ones(1, len(input_ids), dtype=torch.long),
        max_new_tokens=MAX_NEW_TOKENS, do_sample=False, eos_token_id=eos_ids, pad_token_id=2,
    )
    assert out[0, len(input_ids):].tolist() == generated, (out[0, len(input_ids):].tolist(), generated)
    assert min_gap >= MIN_GAP, f"run not peaked enough: adapter={adapter} min_gap={min_gap}"
    return {
        "adapter": adapter,
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


def check_tokenizer(model_dir: Path) -> tuple:
    hf = AutoTokenizer.from_pretrained(str(model_dir))
    raw = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    records = []
    for text in TOKENIZE_STRINGS + [SHORT_PROMPT, LONG_PROMPT]:
        a = hf(text).input_ids
        b = raw.encode(text).ids
        assert a == b, (text, a, b)
        if text in TOKENIZE_STRINGS:
            records.append({"text": text, "ids": a})
    return hf, records


def save_model(model, model_dir: Path, storage_dtype, gen_cfg: GenerationConfig, **save_kwargs) -> None:
    model = model.to(storage_dtype)
    model.generation_config = gen_cfg
    model.save_pretrained(str(model_dir), **save_kwargs)
    for p in model_dir.glob("*.md"):
        p.unlink()


def make_adapter(model_dir: Path, adapters_dir: Path, name: str, seed: int, lora_kwargs: dict) -> dict:
    base = load_f32(model_dir)
    # PEFT records the base model's name_or_path in adapter_config.json; use a portable relative
    # path (the model dir as seen from the adapter dir) instead of this machine's absolute path.
    base.name_or_path = base.config.name_or_path = "../../model"
    torch.manual_seed(seed)
    cfg = LoraConfig(task_type="CAUSAL_LM", init_lora_weights=False, lora_dropout=0.0, **lora_kwargs)
    # init_lora_weights=False: lora_A and lora_B both get nn.Linear's default (kaiming-uniform)
    # init, so B is not zero and every adapter visibly changes the output.
    pm = get_peft_model(base, cfg)
    out = adapters_dir / name
    pm.save_pretrained(str(out))
    for p in out.glob("*.md"):
        p.unlink()
    saved = json.loads((out / "adapter_config.json").read_text())
    return saved


def check_adapter_config(saved: dict, expect: dict, name: str) -> None:
    for k, v in expect.items():
        got = saved.get(k)
        if isinstance(v, (list, set)) and isinstance(got, list):
            ok = sorted(got) == sorted(v)
        else:
            ok = got == v
        assert ok, f"adapter {name}: saved {k}={got!r}, expected {v!r}"


def build_case(out_root: Path, case: str, *, model_cls, config, storage_dtype, add_bos: bool,
               eos_ids: list[int], seed: int, adapters: list[dict], base_tok: Tokenizer,
               save_kwargs: dict | None = None, post_save=None, extra_checks=None,
               plant_eos: dict | None = None) -> dict:
    case_dir = out_root / case
    if case_dir.exists():
        shutil.rmtree(case_dir)
    model_dir = case_dir / "model"
    adapters_dir = case_dir / "adapters"
    model_dir.mkdir(parents=True)

    save_tokenizer(base_tok, model_dir, add_bos)

    torch.manual_seed(seed)
    model = model_cls(config).float().eval()
    randomize_extras(model, seed + 1)
    if plant_eos is not None:
        ids = Tokenizer.from_file(str(model_dir / "tokenizer.json")).encode(plant_eos["prompt"]).ids
        plant_eos_token(model, ids, plant_eos["eos_id"], plant_eos["step"])
    gen_cfg = GenerationConfig(
        bos_token_id=0, eos_token_id=eos_ids if len(eos_ids) > 1 else eos_ids[0], pad_token_id=2,
        do_sample=False, max_new_tokens=MAX_NEW_TOKENS,
    )
    save_model(model, model_dir, storage_dtype, gen_cfg, **(save_kwargs or {}))
    if post_save is not None:
        post_save(model_dir)

    tokenizer, tok_records = check_tokenizer(model_dir)
    base = load_f32(model_dir)
    if extra_checks is not None:
        extra_checks(model_dir, base, tokenizer)

    prompts = [SHORT_PROMPT, LONG_PROMPT]
    runs = [run_reference(base, tokenizer, p, eos_ids, None) for p in prompts]
    if plant_eos is not None:
        r = runs[prompts.index(plant_eos["prompt"])]
        assert r["finish_reason"] == "eos_token" and r["generated_ids"][-1] == plant_eos["eos_id"], \
            f"planted EOS not generated: {r['generated_ids']}"
    base_runs = {r["prompt"]: r for r in runs}
    del base

    for i, spec in enumerate(adapters):
        name = spec["name"]
        saved = make_adapter(model_dir, adapters_dir, name, seed + 100 + i, spec["lora"])
        check_adapter_config(saved, spec.get("expect_saved", {}), name)
        model = PeftModel.from_pretrained(load_f32(model_dir), str(adapters_dir / name)).eval()
        for p in prompts:
            r = run_reference(model, tokenizer, p, eos_ids, name)
            b = base_runs[p]
            changed = r["generated_ids"] != b["generated_ids"] or any(
                abs(x - y) > 1e-3 for x, y in zip(r["logprobs"], b["logprobs"])
            )
            assert changed, f"adapter {name} does not change the output for prompt {p[:30]!r}"
            runs.append(r)
        del model

    expected = {
        "case": case,
        "versions": versions(),
        "max_new_tokens": MAX_NEW_TOKENS,
        "top_n": TOP_N,
        "tokenize": tok_records,
        "runs": runs,
    }
    (case_dir / "expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n")
    return expected


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------


def flatten_rope(model_dir: Path) -> None:
    """Rewrite config.json with the old flat rope form: top-level rope_theta, rope_scaling null."""
    path = model_dir / "config.json"
    cfg = json.loads(path.read_text())
    rp = cfg.pop("rope_parameters", None)
    assert rp is None or (rp.get("rope_type") == "default" and rp.get("rope_theta") == 10000.0), rp
    cfg["rope_theta"] = 10000.0
    cfg["rope_scaling"] = None
    path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def llama_gqa(out_root: Path, tok: Tokenizer) -> dict:
    config = LlamaConfig(
        vocab_size=VOCAB_SIZE, hidden_size=64, intermediate_size=128, num_hidden_layers=3,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
        initializer_range=0.35, rms_norm_eps=1e-5, tie_word_embeddings=False,
        bos_token_id=0, eos_token_id=1, pad_token_id=2,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
    )
    reference_logits = {}

    def post_save(model_dir: Path) -> None:
        # Logits with the config exactly as transformers saved it, then flatten the rope fields.
        m = load_f32(model_dir)
        ids = Tokenizer.from_file(str(model_dir / "tokenizer.json")).encode(LONG_PROMPT).ids
        reference_logits["before"] = logits_of(m, ids)
        reference_logits["ids"] = ids
        flatten_rope(model_dir)

    def extra(model_dir: Path, base, tokenizer) -> None:
        assert base.config.rope_parameters == {"rope_type": "default", "rope_theta": 10000.0}, \
            base.config.rope_parameters
        after = logits_of(base, reference_logits["ids"])
        assert torch.equal(after, reference_logits["before"]), "flat rope config changed the model"

    adapters = [
        {"name": "qv_r8",
         "lora": dict(target_modules=["q_proj", "v_proj"], r=8, lora_alpha=16),
         "expect_saved": {"target_modules": ["q_proj", "v_proj"], "r": 8, "lora_alpha": 16}},
        {"name": "all_linear_rslora",
         "lora": dict(target_modules="all-linear", r=4, lora_alpha=8, use_rslora=True),
         "expect_saved": {"r": 4, "lora_alpha": 8, "use_rslora": True}},
        {"name": "patterns",
         "lora": dict(target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
                      r=4, lora_alpha=8,
                      rank_pattern={"v_proj": 8, "model.layers.1.self_attn.q_proj": 2},
                      alpha_pattern={"down_proj": 32}),
         "expect_saved": {"r": 4, "lora_alpha": 8,
                          "rank_pattern": {"v_proj": 8, "model.layers.1.self_attn.q_proj": 2},
                          "alpha_pattern": {"down_proj": 32}}},
        {"name": "regex_target",
         "lora": dict(target_modules=r".*\.(q_proj|gate_proj)$", r=4, lora_alpha=8),
         "expect_saved": {"target_modules": r".*\.(q_proj|gate_proj)$"}},
        {"name": "layers_subset",
         "lora": dict(target_modules=["k_proj", "o_proj", "up_proj"], layers_to_transform=[0, 2], r=4, lora_alpha=8),
         "expect_saved": {"target_modules": ["k_proj", "o_proj", "up_proj"], "layers_to_transform": [0, 2]}},
    ]
    return build_case(out_root, "llama_gqa", model_cls=LlamaForCausalLM, config=config,
                      storage_dtype=torch.float32, add_bos=True, eos_ids=[1], seed=1000,
                      adapters=adapters, base_tok=tok, post_save=post_save, extra_checks=extra)


def mistral_tied_bf16(out_root: Path, tok: Tokenizer) -> dict:
    config = MistralConfig(
        vocab_size=VOCAB_SIZE, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=1, head_dim=32, sliding_window=16,
        max_position_embeddings=256, initializer_range=0.35, rms_norm_eps=1e-5,
        tie_word_embeddings=True, bos_token_id=0, eos_token_id=[1, 2], pad_token_id=2,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
    )

    def extra(model_dir: Path, base, tokenizer) -> None:
        cfg = json.loads((model_dir / "config.json").read_text())
        assert cfg["eos_token_id"] == [1, 2], cfg["eos_token_id"]
        assert cfg["sliding_window"] == 16 and cfg["head_dim"] == 32 and cfg["tie_word_embeddings"] is True
        assert cfg["rope_parameters"]["rope_theta"] == 1000000.0, cfg["rope_parameters"]
        idx = json.loads((model_dir / "model.safetensors.index.json").read_text())
        shards = sorted(set(idx["weight_map"].values()))
        assert len(shards) >= 2, shards
        assert "lm_head.weight" not in idx["weight_map"]
        # The sliding window must matter for the long prompt (and not for a prompt within the window).
        full = load_f32(model_dir, sliding_window=None)
        assert full.config.sliding_window is None
        long_ids = tokenizer(LONG_PROMPT).input_ids
        assert len(long_ids) > 16
        a, b = logits_of(base, long_ids), logits_of(full, long_ids)
        assert not torch.allclose(a, b), "sliding_window had no effect"
        assert torch.equal(a[:16], b[:16]), "positions inside the window must be unaffected"

    adapters = [
        {"name": "qkvo_r4",
         "lora": dict(target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], r=4, lora_alpha=8)},
        {"name": "mlp_r8",
         "lora": dict(target_modules=["gate_proj", "up_proj", "down_proj"], r=8, lora_alpha=16)},
    ]
    return build_case(out_root, "mistral_tied_bf16", model_cls=MistralForCausalLM, config=config,
                      storage_dtype=torch.bfloat16, add_bos=False, eos_ids=[1, 2], seed=2000,
                      adapters=adapters, base_tok=tok, save_kwargs={"max_shard_size": "100KB"},
                      plant_eos={"prompt": SHORT_PROMPT, "eos_id": 2, "step": 3},
                      extra_checks=extra)


def qwen2_bias(out_root: Path, tok: Tokenizer) -> dict:
    config = Qwen2Config(
        vocab_size=VOCAB_SIZE, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
        initializer_range=0.35, rms_norm_eps=1e-6, tie_word_embeddings=True, use_sliding_window=False,
        bos_token_id=0, eos_token_id=1, pad_token_id=2,
        rope_parameters={"rope_type": "linear", "factor": 2.0, "rope_theta": 10000.0},
    )

    def extra(model_dir: Path, base, tokenizer) -> None:
        cfg = json.loads((model_dir / "config.json").read_text())
        assert cfg["rope_parameters"]["rope_type"] == "linear" and cfg["rope_parameters"]["factor"] == 2.0
        assert cfg["dtype"] == "float16", cfg.get("dtype")
        assert base.model.layers[0].self_attn.q_proj.bias is not None
        # The linear scaling must matter: compare with plain rope.
        plain = load_f32(model_dir, rope_parameters={"rope_type": "default", "rope_theta": 10000.0})
        ids = tokenizer(LONG_PROMPT).input_ids
        assert not torch.allclose(logits_of(base, ids), logits_of(plain, ids)), "linear scaling had no effect"

    adapters = [
        {"name": "all_linear",
         "lora": dict(target_modules="all-linear", r=4, lora_alpha=8),
         "expect_saved": {"r": 4, "lora_alpha": 8}},
    ]
    return build_case(out_root, "qwen2_bias", model_cls=Qwen2ForCausalLM, config=config,
                      storage_dtype=torch.float16, add_bos=False, eos_ids=[1], seed=3000,
                      adapters=adapters, base_tok=tok, extra_checks=extra)


def llama_rope3(out_root: Path, tok: Tokenizer) -> dict:
    config = LlamaConfig(
        vocab_size=VOCAB_SIZE, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=256,
        initializer_range=0.35, rms_norm_eps=1e-5, tie_word_embeddings=False,
        bos_token_id=0, eos_token_id=1, pad_token_id=2,
        rope_parameters={"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0, "low_freq_factor": 1.0,
                         "high_freq_factor": 4.0, "original_max_position_embeddings": 32},
    )

    def extra(model_dir: Path, base, tokenizer) -> None:
        rp = json.loads((model_dir / "config.json").read_text())["rope_parameters"]
        assert rp["rope_type"] == "llama3" and rp["original_max_position_embeddings"] == 32, rp
        assert len(tokenizer(LONG_PROMPT).input_ids) > 32
        # The scaling must matter: compare with plain rope.
        plain = load_f32(model_dir, rope_parameters={"rope_type": "default", "rope_theta": 10000.0})
        ids = tokenizer(LONG_PROMPT).input_ids
        assert not torch.allclose(logits_of(base, ids), logits_of(plain, ids)), "llama3 scaling had no effect"

    return build_case(out_root, "llama_rope3", model_cls=LlamaForCausalLM, config=config,
                      storage_dtype=torch.float32, add_bos=True, eos_ids=[1], seed=4000,
                      adapters=[], base_tok=tok, extra_checks=extra,
                      plant_eos={"prompt": LONG_PROMPT, "eos_id": 1, "step": 5})


CASES = {
    "llama_gqa": llama_gqa,
    "mistral_tied_bf16": mistral_tied_bf16,
    "qwen2_bias": qwen2_bias,
    "llama_rope3": llama_rope3,
}


def main() -> None:
    # PEFT stores an expanded "all-linear" target set as a list in set order; fix the
    # string hash seed so that order (and so the files) is the same on every run.
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, *sys.argv])
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="fixtures root (default: %(default)s)")
    ap.add_argument("cases", nargs="*", help=f"cases to build (default: all): {', '.join(CASES)}")
    args = ap.parse_args()
    for name in args.cases:
        if name not in CASES:
            ap.error(f"unknown case {name!r}; known: {', '.join(CASES)}")

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    np.random.seed(0)
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning)
    # PEFT looks for the base config at base_model_name_or_path ("../../model", relative to the
    # adapter dir) only to detect a resized vocabulary; no fixture adapter targets embeddings.
    warnings.filterwarnings("ignore", message="Could not find a config file")

    tok = train_tokenizer()
    again = train_tokenizer()
    assert tok.to_str() == again.to_str(), "tokenizer training is not deterministic"

    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.cases or list(CASES):
        exp = CASES[name](args.out, tok)
        summary = ", ".join(
            f"{r['adapter'] or 'base'}:{len(r['input_ids'])}+{len(r['generated_ids'])}"
            f"(gap {r['min_gap']:.3g}, {r['finish_reason']})" for r in exp["runs"]
        )
        print(f"{name}: {summary}")


if __name__ == "__main__":
    main()
