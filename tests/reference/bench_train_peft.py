#!/usr/bin/env python3
"""Training throughput of PyTorch + PEFT on the same job as `text2sql train` (a benchmark).

Trains a LoRA adapter on SmolLM2-135M-Instruct loaded by transformers from the same Q4_1 GGUF
(dequantised to float32, as our trainer does) on the same Alpaca JSONL, with the same prompt
(`### Schema: … ### Question: …` + the instruction line), loss on the SQL tokens + EOS only,
AdamW, batch size, max_seq_length, LoRA rank/alpha, target modules and layers. Prints one JSON
line: tokens per second counted like our trainer (every token of every sequence in the batch,
prompt included), over the steps after the first (warm-up).

Compare with (same data, same flags):
    target/release/text2sql bench train --train_path data/synth/train.jsonl --steps 6

Usage (from the repository root; .venv-ref as in tests/reference/README.md; idle machine):
    .venv-ref/bin/python tests/reference/bench_train_peft.py --train_path data/synth/train.jsonl \
        --steps 6 --batch_size 8 --layers top:12 [--threads 2] [--gradient_checkpointing]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_gguf_fixtures import ORIGINAL_SMOLLM_PRE, REAL_NAME, REPO_ROOT, load_gguf_model  # noqa: E402

SUFFIX = "\n\nReturn only the SQL query."
MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def encode(tok, eos: int, prompt: str, completion: str, max_len: int) -> tuple[list[int], list[bool]]:
    p = tok.encode(prompt).ids
    c = tok.encode(completion).ids + [eos]
    ids = (p + c)[-max_len:]
    mask = ([False] * len(p) + [True] * len(c))[-max_len:]
    return ids, mask


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf", type=Path, default=REPO_ROOT / "models" / REAL_NAME)
    ap.add_argument("--train_path", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--batch_size", type=int, default=8)
    ap.add_argument("--max_seq_length", type=int, default=512)
    ap.add_argument("--lora_r", type=int, default=16)
    ap.add_argument("--lora_alpha", type=float, default=32)
    ap.add_argument("--layers", default="top:12", help="all, or top:N (the N highest layers)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--gradient_checkpointing", action="store_true")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)

    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    hf_tok = AutoTokenizer.from_pretrained(str(args.gguf.parent), gguf_file=args.gguf.name)
    backend = json.loads(hf_tok.backend_tokenizer.to_str())
    backend["pre_tokenizer"] = ORIGINAL_SMOLLM_PRE
    tok = Tokenizer.from_str(json.dumps(backend))
    eos = int(hf_tok.eos_token_id)

    model = load_gguf_model(args.gguf)
    n_layers = model.config.num_hidden_layers
    layers = None
    if args.layers != "all":
        top = int(args.layers.split(":", 1)[1])
        layers = list(range(n_layers - top, n_layers))
    cfg = LoraConfig(r=args.lora_r, lora_alpha=args.lora_alpha, target_modules=MODULES, lora_dropout=0.0,
                     layers_to_transform=layers, task_type="CAUSAL_LM")
    model = get_peft_model(model, cfg)
    if args.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4, weight_decay=0.0)

    rows = [json.loads(line) for line in args.train_path.open()]
    random.Random(args.seed).shuffle(rows)
    need = args.batch_size * args.steps
    examples = [encode(tok, eos, r["input"] + SUFFIX, r["output"], args.max_seq_length) for r in rows[:need]]

    times, tokens = [], []
    for step in range(args.steps):
        batch = examples[step * args.batch_size:(step + 1) * args.batch_size]
        width = max(len(ids) for ids, _ in batch)
        input_ids = torch.full((len(batch), width), eos, dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        attn = torch.zeros((len(batch), width), dtype=torch.long)
        for i, (ids, mask) in enumerate(batch):
            input_ids[i, :len(ids)] = torch.tensor(ids)
            attn[i, :len(ids)] = 1
            labels[i, :len(ids)] = torch.tensor([t if m else -100 for t, m in zip(ids, mask)])
        t0 = time.perf_counter()
        out = model(input_ids=input_ids, attention_mask=attn, labels=labels)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
        tokens.append(sum(len(ids) for ids, _ in batch))
        print(f"step {step + 1}: loss {out.loss.item():.4f}, {tokens[-1]} tokens, {times[-1]:.2f} s", file=sys.stderr)
    measured = slice(1, None) if args.steps > 1 else slice(None)
    tps = sum(tokens[measured]) / sum(times[measured])
    print(json.dumps({
        "implementation": f"pytorch {torch.__version__} + peft",
        "threads": args.threads,
        "batch_size": args.batch_size,
        "layers": args.layers,
        "lora_r": args.lora_r,
        "gradient_checkpointing": args.gradient_checkpointing,
        "steps_measured": len(times[measured]),
        "tokens_per_s": round(tps, 1),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }))


def _peak_rss_mb() -> float:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
