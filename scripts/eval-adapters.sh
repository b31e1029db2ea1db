#!/usr/bin/env bash
# Measures the shipped text2sql-qlora adapter and the base model alone, free and
# schema-constrained, on:
#   held-out   crates/synth/eval/heldout.alpaca.jsonl: 400 synthetic questions on the 8 schema
#              families never trained on (scripts/corpora.sh's held_out), frozen as a file so that
#              new templates do not change it (written by `data synth --n_train 4000 --n_val 400
#              --seed 42 --val_families $held_out`, its val.jsonl)
#   handwritten crates/synth/eval/handwritten.alpaca.jsonl: 101 questions written by hand on
#              8 schemas no generator produced
#   spider     Spider dev (when TEXT2SQL_SPIDER_DIR points at it; MAX_SPIDER examples)
# and the sql-explain adapter (and the base) on the held-out split of `data synth --task explain`
# through one `text2sql serve` (continuous batching, --concurrency 8). Reports go to
# reports/<set>-<model>[-constrained]/eval_*.{json,md}.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release
bin=target/release/text2sql
port=${PORT_EVAL:-3917}
. scripts/corpora.sh # v1_domains

mkdir -p reports
"$bin" serve --port "$port" --hostname 127.0.0.1 --max-batch-size 8 >reports/serve.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 120); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 1; done

run() { # set-name val-path model(adapter id or base) constrained(0/1) [extra args]
  local name=$1 path=$2 model=$3 constrained=$4
  shift 4
  local args=(--endpoint "http://127.0.0.1:$port" --concurrency 8 -q)
  [ "$model" != base ] && args+=(--adapter_id "$model")
  local tag=$name-$model
  [ "$constrained" = 1 ] && { args+=(--constrained); tag=$tag-constrained; }
  echo "== $tag"
  if [ "$name" = spider ]; then
    "$bin" eval spider --spider_dir "$path" --out_dir "reports/$tag" "${args[@]}" "$@" | head -30
  else
    "$bin" eval internal --val_path "$path" --out_dir "reports/$tag" "${args[@]}" "$@" | head -30
  fi
}

for model in text2sql-qlora base; do
  for c in 0 1; do
    run held-out crates/synth/eval/heldout.alpaca.jsonl "$model" "$c"
    run handwritten crates/synth/eval/handwritten.alpaca.jsonl "$model" "$c"
  done
done
"$bin" data synth --task explain --n_train 2000 --n_val 80 --seed 7 --domains $v1_domains --templates v1 --out_dir data/synth-explain >/dev/null
echo "== explain-sql-explain"
python3 scripts/eval-explain.py --endpoint "http://127.0.0.1:$port" --val_path data/synth-explain/val.jsonl \
  --out reports/explain-sql-explain.json
echo "== explain-base"
python3 scripts/eval-explain.py --endpoint "http://127.0.0.1:$port" --val_path data/synth-explain/val.jsonl \
  --adapter_id "" --out reports/explain-base.json
if [ -n "${TEXT2SQL_SPIDER_DIR:-}" ]; then
  run spider "$TEXT2SQL_SPIDER_DIR" text2sql-qlora 0 --max_examples "${MAX_SPIDER:-1034}"
  run spider "$TEXT2SQL_SPIDER_DIR" text2sql-qlora 1 --max_examples "${MAX_SPIDER:-1034}"
fi
