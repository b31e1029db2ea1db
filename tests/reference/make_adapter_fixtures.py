#!/usr/bin/env python3
"""Reference outputs of the SHIPPED LoRA adapters (models/adapters/*) on the embedded base.

transformers loads SmolLM2-135M-Instruct Q4_1 from the GGUF (dequantised to float32, as our
engine does) and Python PEFT attaches each adapter directory written by `text2sql train`
(adapter_config.json + adapter_model.safetensors, PEFT key names). For fixed prompts it records
greedy tokens, logprobs, top-3 alternatives and prefill logprobs into
crates/engine/tests/fixtures/gguf/smollm2_adapters_expected.json; the Rust test
`smollm2_shipped_adapters_match_peft` (crates/engine/tests/gguf.rs) must reproduce them. This is
the PEFT round trip of our training output: if PEFT read our files differently (names, scaling,
layers_to_transform, target modules), the tokens or logprobs would differ.

Usage (from the repository root, after training or updating an adapter):
    .venv-ref/bin/python tests/reference/make_adapter_fixtures.py [--gguf PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import peft
import torch
from peft import PeftModel
from tokenizers import Tokenizer
from transformers import AutoTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_gguf_fixtures import (  # noqa: E402
    ORIGINAL_SMOLLM_PRE,
    OUT,
    REAL_NAME,
    REAL_SHA256,
    REPO_ROOT,
    TOP_N,
    load_gguf_model,
    run_greedy,
    sha256_of,
    versions,
    write_json,
)

ADAPTERS = REPO_ROOT / "models" / "adapters"
MAX_NEW = 24

SCHEMA = (
    "CREATE TABLE customers (\n  id INTEGER PRIMARY KEY,\n  name TEXT,\n  city TEXT\n);\n\n"
    "CREATE TABLE orders (\n  id INTEGER PRIMARY KEY,\n  customer_id INTEGER REFERENCES customers(id),\n"
    "  order_date TEXT,\n  total REAL\n);"
)


def sql_prompt(question: str, suffix: bool = True) -> str:
    p = f"### Schema:\n{SCHEMA}\n\n### Question:\n{question}"
    return p + "\n\nReturn only the SQL query." if suffix else p


def explain_prompt(sql: str) -> str:
    return f"### SQL:\n{sql}\n\nExplain in one sentence what this query returns."


PROMPTS = {
    "text2sql-qlora": [
        sql_prompt("How many customers are there?"),
        sql_prompt("What is the total of orders placed in March 2024?"),
        sql_prompt("Which customers from Paris placed an order?", suffix=False),
    ],
    "sql-explain": [
        explain_prompt("SELECT COUNT(*) FROM orders WHERE order_date >= '2024-01-01'"),
        explain_prompt("SELECT city, COUNT(*) FROM customers GROUP BY city"),
    ],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf", type=Path, default=REPO_ROOT / "models" / REAL_NAME)
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    warnings.filterwarnings("ignore")
    assert sha256_of(args.gguf) == REAL_SHA256, args.gguf
    tok = AutoTokenizer.from_pretrained(str(args.gguf.parent), gguf_file=args.gguf.name)
    eos = [int(tok.eos_token_id)]
    # Token ids as llama.cpp and the original tokenizer make them (digits split one by one),
    # which transformers' GGUF tokenizer does not do (see make_gguf_fixtures.py).
    backend = json.loads(tok.backend_tokenizer.to_str())
    backend["pre_tokenizer"] = ORIGINAL_SMOLLM_PRE
    original = Tokenizer.from_str(json.dumps(backend))
    runs = []
    for name, prompts in PROMPTS.items():
        adir = ADAPTERS / name
        if not adir.is_dir():
            print(f"skip {name}: {adir} missing")
            continue
        model = PeftModel.from_pretrained(load_gguf_model(args.gguf), str(adir))
        model.eval()
        for prompt in prompts:
            ids = original.encode(prompt).ids
            run = run_greedy(model, tok, prompt, ids, MAX_NEW, eos, 0.0)
            run["adapter"] = name
            runs.append(run)
            print(f"  {name}: {prompt.splitlines()[-1][:50]!r} -> {run['generated_text']!r} (min gap {run['min_gap']:.4f})")
    write_json(OUT / "smollm2_adapters_expected.json", {
        "case": "smollm2_adapters",
        "file": REAL_NAME,
        "sha256": REAL_SHA256,
        "versions": {**versions(), "peft": peft.__version__},
        "eos_token_ids": eos,
        "max_new_tokens": MAX_NEW,
        "top_n": TOP_N,
        "tokenize": [],
        "runs": runs,
    })


if __name__ == "__main__":
    main()
