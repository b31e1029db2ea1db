#!/usr/bin/env python3
"""Record test-suite-sql-eval's result comparison (exec_eval.result_eq) on generated pairs
of query results, as a fixture for text2sql-sql's `exec::results_match`.

Usage (the official code is NOT vendored; fetch taoyds/test-suite-sql-eval yourself):

    .venv-spider/bin/pip install tqdm sqlparse
    .venv-spider/bin/python tests/reference/result_eq_verdicts.py \
        --official /path/to/test-suite-sql-eval --out crates/sql/tests/fixtures/result_eq_verdicts.jsonl

Pairs are built deterministically: a random table of ints, integral floats, other floats,
strings and NULLs (small pools, so duplicates happen), and a transformed copy (identical,
rows shuffled, columns permuted, a row dropped or duplicated, a value changed, ints
written as floats, two values swapped inside a row, a column dropped).
"""
import argparse
import json
import random
import sys

SEED = 6
N = 1500
POOL = [0, 1, 2, 3, 1.5, 2.25, "a", "b", "c", "1", None]


def table(rng):
    cols = rng.randint(1, 4)
    rows = rng.randint(0, 6)
    return [tuple(rng.choice(POOL) for _ in range(cols)) for _ in range(rows)]


def transform(rng, a):
    kind = rng.choice(["same", "shuffle", "permute", "drop_row", "dup_row", "change", "float",
                       "swap_in_row", "drop_col", "permute_shuffle"])
    b = list(a)
    if not b:
        return kind, [tuple(rng.choice(POOL) for _ in range(2))] if kind == "change" else b
    ncol = len(b[0])
    if kind == "shuffle":
        rng.shuffle(b)
    elif kind in ("permute", "permute_shuffle"):
        perm = list(range(ncol))
        rng.shuffle(perm)
        b = [tuple(r[i] for i in perm) for r in b]
        if kind == "permute_shuffle":
            rng.shuffle(b)
    elif kind == "drop_row":
        b.pop(rng.randrange(len(b)))
    elif kind == "dup_row":
        b.insert(rng.randrange(len(b) + 1), rng.choice(b))
    elif kind == "change":
        i, j = rng.randrange(len(b)), rng.randrange(ncol)
        r = list(b[i])
        r[j] = rng.choice(POOL)
        b[i] = tuple(r)
    elif kind == "float":
        b = [tuple(float(x) if isinstance(x, int) else x for x in r) for r in b]
    elif kind == "swap_in_row" and ncol > 1:
        i = rng.randrange(len(b))
        r = list(b[i])
        r[0], r[1] = r[1], r[0]
        b[i] = tuple(r)
    elif kind == "drop_col" and ncol > 1:
        b = [r[1:] for r in b]
    return kind, b


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--official", required=True, help="checkout of taoyds/test-suite-sql-eval")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    sys.path.insert(0, args.official)
    import exec_eval  # noqa: E402

    rng = random.Random(SEED)
    with open(args.out, "w") as f:
        n_true = 0
        for _ in range(N):
            a = table(rng)
            kind, b = transform(rng, a)
            ordered = rng.random() < 0.3
            v = bool(exec_eval.result_eq(a, b, order_matters=ordered))
            n_true += v
            f.write(json.dumps({"kind": kind, "ordered": ordered, "a": a, "b": b, "verdict": v}) + "\n")
    print(f"{N} pairs, {n_true} equal")


if __name__ == "__main__":
    main()
