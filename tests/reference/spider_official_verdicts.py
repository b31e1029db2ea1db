#!/usr/bin/env python3
"""Record the official Spider evaluator's exact-set-match verdicts as a test fixture.

Usage (the official code is NOT vendored; fetch taoyds/spider yourself):

    python -m venv .venv-spider && .venv-spider/bin/pip install nltk
    .venv-spider/bin/python tests/reference/spider_official_verdicts.py \
        --official /path/to/taoyds-spider-checkout \
        --spider-dir ../shared/data/spider \
        --out crates/sql/tests/fixtures/spider_verdicts.jsonl \
        --all-out /tmp/spider_verdicts_all.jsonl

What it does, deterministically:
  * gold-vs-gold for every dev example (the fixture keeps only the index, verdict and
    hardness; the Rust test rebuilds the gold from dev.json);
  * perturbed predictions built from each gold by fixed recipes (drop a WHERE condition,
    swap a column, change an aggregate, flip ORDER direction, add/remove DISTINCT, change
    the LIMIT value, reorder SELECT items, change a value, INNER JOIN, <>, ...); the
    fixture keeps a sample of SAMPLE rows with the prediction text, --all-out gets all;
  * each pair goes through the official process_sql.get_sql + evaluation.py's rebuild
    and Evaluator.eval_exact_match, exactly as evaluation.evaluate() does per example.

Schema: built from tables.json (original names, lower-cased) instead of reading the
.sqlite files, which Spider's dev.json distribution here lacks.

NLTK shim: process_sql imports nltk.word_tokenize, which first splits sentences with the
punkt model (a data download, unavailable offline). SQL is one "sentence", so we call
word_tokenize with preserve_line=True: the same Treebank tokenizer, without punkt.
"""
import argparse
import copy
import json
import random
import re
import sys

SAMPLE = 400
SEED = 20181001

EMPTY_SQL = {
    "except": None, "from": {"conds": [], "table_units": []}, "groupBy": [], "having": [],
    "intersect": None, "limit": None, "orderBy": [], "select": [False, []], "union": None,
    "where": [],
}


def load_official(path):
    import nltk
    orig = nltk.word_tokenize
    nltk.word_tokenize = lambda text, language="english", preserve_line=True: orig(text, language, True)
    sys.path.insert(0, path)
    import process_sql  # noqa: E402
    import evaluation  # noqa: E402
    return process_sql, evaluation


def schema_dict(entry):
    tables = [t.lower() for t in entry["table_names_original"]]
    schema = {t: [] for t in tables}
    for t, c in entry["column_names_original"]:
        if t >= 0:
            schema[tables[t]].append(c.lower())
    return schema


def verdict(ps, ev, schema, kmap, gold, pred):
    g_sql = ps.get_sql(schema, gold)
    hardness = ev.Evaluator().eval_hardness(g_sql)
    try:
        p_sql = ps.get_sql(schema, pred)
    except Exception:
        p_sql = copy.deepcopy(EMPTY_SQL)
    g_valid = ev.build_valid_col_units(g_sql["from"]["table_units"], schema)
    g_sql = ev.rebuild_sql_col(g_valid, ev.rebuild_sql_val(g_sql), kmap)
    p_valid = ev.build_valid_col_units(p_sql["from"]["table_units"], schema)
    p_sql = ev.rebuild_sql_col(p_valid, ev.rebuild_sql_val(p_sql), kmap)
    try:
        exact = int(bool(ev.Evaluator().eval_exact_match(p_sql, g_sql)))
    except Exception:
        exact = None  # the official script itself would crash here
    return exact, hardness


# ---------------------------------------------------------------- perturbations
KW = r"(?i)"


def p_drop_where_cond(g, cols):
    m = re.search(KW + r"\s+(and|or)\s+", g)
    if not m or not re.search(KW + r"\bwhere\b", g[: m.start()]):
        return None
    rest = g[m.end():]
    n = re.search(KW + r"\s+(group|order|limit|intersect|union|except|and|or)\b|\)", rest)
    return g[: m.start()] + (rest[n.start():] if n else "")


def p_swap_column(g, cols):
    m = re.match(KW + r"\s*select\s+(distinct\s+)?((?:\w+\.)?)(\w+)", g)
    if not m or m.group(3).lower() in ("count", "max", "min", "sum", "avg", "distinct"):
        return None
    cur = m.group(3).lower()
    others = sorted(c for c in cols if c.lower() != cur and re.fullmatch(r"\w+", c))
    if not others:
        return None
    return g[: m.start(3)] + others[len(cur) % len(others)] + g[m.end(3):]


AGG_SWAP = {"count": "max", "max": "min", "min": "max", "avg": "sum", "sum": "avg"}


def p_change_agg(g, cols):
    m = re.search(r"(?i)\b(count|max|min|avg|sum)\s*\(", g)
    if not m:
        return None
    return g[: m.start(1)] + AGG_SWAP[m.group(1).lower()] + g[m.end(1):]


def p_order_dir(g, cols):
    if re.search(KW + r"\bdesc\b", g):
        return re.sub(KW + r"\bdesc\b", "ASC", g, count=1)
    if re.search(KW + r"\basc\b", g):
        return re.sub(KW + r"\basc\b", "DESC", g, count=1)
    m = re.search(KW + r"\border\s+by\s+[\w.]+(\s*\([^)]*\))?", g)
    if not m:
        return None
    return g[: m.end()] + " DESC" + g[m.end():]


def p_distinct(g, cols):
    if re.match(KW + r"\s*select\s+distinct\b", g):
        return re.sub(KW + r"^\s*select\s+distinct\s+", "SELECT ", g, count=1)
    return re.sub(KW + r"^\s*select\s+", "SELECT DISTINCT ", g, count=1)


def p_limit_value(g, cols):
    m = re.search(KW + r"\blimit\s+(\d+)", g)
    if not m:
        return None
    return g[: m.start(1)] + str(int(m.group(1)) + 1) + g[m.end(1):]


def p_drop_limit(g, cols):
    m = re.search(KW + r"\s+limit\s+\d+", g)
    return None if not m else g[: m.start()] + g[m.end():]


def p_reorder_select(g, cols):
    m = re.match(KW + r"\s*select\s+(distinct\s+)?(.*?)\s+from\s", g)
    if not m or "(" in m.group(2) and m.group(2).count(",") < 1:
        return None
    items = [s.strip() for s in m.group(2).split(",")]
    if len(items) < 2 or any(s.count("(") != s.count(")") for s in items):
        return None
    items = items[1:] + items[:1]
    return g[: m.start(2)] + " , ".join(items) + g[m.end(2):]


def p_change_value(g, cols):
    m = re.search(r"(\"[^\"]*\"|'[^']*')", g)
    if m:
        return g[: m.start()] + "'zzz'" + g[m.end():]
    m = re.search(r"(?<![\w.])(\d+)(?![\w.])", g)
    return None if not m else g[: m.start()] + str(int(m.group(1)) + 7) + g[m.end():]


def p_surface(g, cols):
    return "  ".join(re.sub(KW + r"\b(select|from|where)\b", lambda x: x.group(1).lower(), g).split(" ")) + " ;"


def p_inner_join(g, cols):
    return None if not re.search(KW + r"\bjoin\b", g) else re.sub(KW + r"\bjoin\b", "INNER JOIN", g, count=1)


def p_neq(g, cols):
    return None if "!=" not in g else g.replace("!=", "<>", 1)


def p_cmp_op(g, cols):
    m = re.search(r"\s(>|<)\s", g)
    if not m:
        return None
    return g[: m.start(1)] + {">": "<", "<": ">"}[m.group(1)] + g[m.end(1):]


def p_drop_group(g, cols):
    m = re.search(KW + r"\s+group\s+by\s+[\w.]+", g)
    return None if not m else g[: m.start()] + g[m.end():]


def p_swap_table_order(g, cols):
    m = re.search(KW + r"from\s+(\w+)\s+as\s+(\w+)\s+join\s+(\w+)\s+as\s+(\w+)", g)
    if not m:
        return None
    return g[: m.start()] + f"FROM {m.group(3)} AS {m.group(4)} JOIN {m.group(1)} AS {m.group(2)}" + g[m.end():]


def p_tight_ops(g, cols):
    """Spacing the tokenizer is sensitive to: `a>=5`, `a,b`, `count( * )`."""
    t = re.sub(r"\s*(>=|<=|!=|=|>|<)\s*", r"\1", g, count=2)
    t = re.sub(r"\s*,\s*", ",", t)
    return t.replace("(*)", "( * )")


def p_lower_all(g, cols):
    return g.lower()


def p_alias_no_as(g, cols):
    return None if not re.search(KW + r"\bas\s+t1\b", g) else re.sub(KW + r"\bas\s+(t1)\b", r"\1", g, count=1)


def p_col_alias(g, cols):
    m = re.search(KW + r"\s+from\s", g)
    return None if not m else g[: m.start()] + " AS c0" + g[m.start():]


def p_is_null(g, cols):
    m = re.search(KW + r"\bwhere\s+([\w.]+)\s*(=|>|<|!=|like)\s*(\"[^\"]*\"|'[^']*'|[\d.]+)", g)
    return None if not m else g[: m.start(2)] + "IS NULL" + g[m.end(3):]


PERTURBATIONS = [
    ("drop_where_cond", p_drop_where_cond), ("swap_column", p_swap_column),
    ("change_agg", p_change_agg), ("order_dir", p_order_dir), ("distinct", p_distinct),
    ("limit_value", p_limit_value), ("drop_limit", p_drop_limit),
    ("reorder_select", p_reorder_select), ("change_value", p_change_value),
    ("surface", p_surface), ("inner_join", p_inner_join), ("neq", p_neq),
    ("cmp_op", p_cmp_op), ("drop_group", p_drop_group), ("swap_table_order", p_swap_table_order),
    ("tight_ops", p_tight_ops), ("lower_all", p_lower_all), ("alias_no_as", p_alias_no_as),
    ("col_alias", p_col_alias), ("is_null", p_is_null),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--official", required=True, help="checkout of taoyds/spider (evaluation.py, process_sql.py)")
    ap.add_argument("--spider-dir", required=True, help="folder with dev.json and tables.json")
    ap.add_argument("--out", required=True, help="fixture to write (JSONL)")
    ap.add_argument("--all-out", help="also write every perturbed row, with text, here (keep it out of the repo)")
    args = ap.parse_args()
    ps, ev = load_official(args.official)
    dev = json.load(open(f"{args.spider_dir}/dev.json"))
    tables = json.load(open(f"{args.spider_dir}/tables.json"))
    entries = {t["db_id"]: t for t in tables}
    kmaps = {t["db_id"]: ev.build_foreign_key_map(t) for t in tables}
    gold_rows, pert_rows = [], []
    for i, ex in enumerate(dev):
        entry = entries[ex["db_id"]]
        schema = ps.Schema(schema_dict(entry))
        kmap = kmaps[ex["db_id"]]
        g = ex["query"]
        try:
            v, h = verdict(ps, ev, schema, kmap, g, g)
        except Exception as e:  # gold unparseable by the official parser
            gold_rows.append({"i": i, "kind": "gold", "verdict": None, "hardness": None, "error": type(e).__name__})
            continue
        gold_rows.append({"i": i, "kind": "gold", "verdict": v, "hardness": h})
        cols = [c for t, c in entry["column_names_original"] if t >= 0]
        same_db = [k for k in range(i + 1, len(dev)) if dev[k]["db_id"] == ex["db_id"]][:2]
        others = [("other_gold", lambda g, c, k=k: dev[k]["query"]) for k in same_db]
        for name, fn in PERTURBATIONS + others:
            p = fn(g, cols)
            if p is None or p == g:
                continue
            v, _ = verdict(ps, ev, schema, kmap, g, p)
            if v is None:
                continue
            pert_rows.append({"i": i, "kind": name, "pred": p, "verdict": v})
    rng = random.Random(SEED)
    sample = sorted(rng.sample(range(len(pert_rows)), min(SAMPLE, len(pert_rows))))
    with open(args.out, "w") as f:
        for r in gold_rows:
            f.write(json.dumps(r) + "\n")
        for k in sample:
            f.write(json.dumps(pert_rows[k]) + "\n")
    if args.all_out:
        with open(args.all_out, "w") as f:
            for r in pert_rows:
                f.write(json.dumps(r) + "\n")
    n_ok = sum(1 for r in gold_rows if r["verdict"] == 1)
    print(f"gold-vs-gold: {n_ok}/{len(gold_rows)} match; perturbed rows: {len(pert_rows)} "
          f"({sum(r['verdict'] for r in pert_rows)} still match); fixture sample: {len(sample)}")


if __name__ == "__main__":
    main()
