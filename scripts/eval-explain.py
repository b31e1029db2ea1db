#!/usr/bin/env python3
"""Measures the sql-explain adapter through a running `text2sql serve` (or any TGI server).

For every row of an Alpaca JSONL made by `text2sql data synth --task explain` (held-out schema
families in its val split) it asks POST /generate (greedy, adapter sql-explain) and reports:
  exact      the sentence equals the reference (case and surrounding space ignored)
  literals   every string and number literal of the SQL appears in the sentence
  one_line   a single line ending with a full stop
Writes a JSON report with every example; prints the summary as JSON.

Usage: scripts/eval-explain.py --endpoint http://127.0.0.1:3000 --val_path data/synth-explain/val.jsonl \
           [--adapter_id sql-explain] [--out reports/explain.json]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor


def generate(endpoint: str, adapter: str | None, prompt: str) -> str:
    params = {"max_new_tokens": 64, "temperature": 0.0}
    if adapter:
        params["adapter_id"] = adapter
    req = urllib.request.Request(f"{endpoint.rstrip('/')}/generate", data=json.dumps({"inputs": prompt, "parameters": params}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=300) as r:
        return json.load(r)["generated_text"].strip()


def literals(sql: str) -> list[str]:
    strings = [s.replace("''", "'") for s in re.findall(r"'((?:[^']|'')*)'", sql)]
    rest = re.sub(r"'(?:[^']|'')*'", " ", sql)
    numbers = re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])", rest)
    return [s.strip("%") for s in strings] + numbers


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--val_path", required=True)
    ap.add_argument("--adapter_id", default="sql-explain")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--out")
    args = ap.parse_args()
    rows = [json.loads(line) for line in open(args.val_path) if line.strip()]
    with ThreadPoolExecutor(args.concurrency) as pool:
        preds = list(pool.map(lambda r: generate(args.endpoint, args.adapter_id, r["input"]), rows))
    examples = []
    for r, p in zip(rows, preds):
        sql = r["input"].split("### SQL:\n", 1)[1].split("\n\n", 1)[0]
        lits = literals(sql)
        examples.append({
            "sql": sql, "reference": r["output"], "prediction": p,
            "exact": p.strip().lower() == r["output"].strip().lower(),
            "literals": all(lit.lower() in p.lower() for lit in lits),
            "one_line": "\n" not in p and p.endswith("."),
        })
    n = len(examples)
    summary = {"n_examples": n, "adapter_id": args.adapter_id}
    for k in ("exact", "literals", "one_line"):
        c = sum(e[k] for e in examples)
        summary[k] = {"count": c, "rate": round(c / n, 4) if n else 0.0}
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"summary": summary, "examples": examples}, f, indent=1)
    json.dump(summary, sys.stdout)
    print()


if __name__ == "__main__":
    main()
