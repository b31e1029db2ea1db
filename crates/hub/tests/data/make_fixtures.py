"""Regenerates the reference adapter fixture with the REAL `safetensors` library.

    python -m venv /tmp/v && /tmp/v/bin/pip install safetensors numpy
    /tmp/v/bin/python crates/hub/tests/data/make_fixtures.py

Writes peft_adapter/ (adapter_config.json with the keys PEFT 0.x writes, and
adapter_model.safetensors with PEFT tensor names, F16 LoRA A/B, format=pt metadata).
"""
import json
import os

import numpy as np
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "peft_adapter")
R, HIDDEN, LAYERS = 2, 8, 2

os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(0)
tensors = {}
for layer in range(LAYERS):
    for module in ("q_proj", "v_proj"):
        prefix = f"base_model.model.model.layers.{layer}.self_attn.{module}"
        tensors[f"{prefix}.lora_A.weight"] = rng.standard_normal((R, HIDDEN)).astype(np.float16)
        tensors[f"{prefix}.lora_B.weight"] = np.zeros((HIDDEN, R), dtype=np.float16)
save_file(tensors, os.path.join(OUT, "adapter_model.safetensors"), metadata={"format": "pt"})

config = {
    "alpha_pattern": {},
    "auto_mapping": None,
    "base_model_name_or_path": "mistralai/Mistral-7B-Instruct-v0.1",
    "bias": "none",
    "fan_in_fan_out": False,
    "inference_mode": True,
    "init_lora_weights": True,
    "layers_pattern": None,
    "layers_to_transform": None,
    "lora_alpha": 16,
    "lora_dropout": 0.05,
    "modules_to_save": None,
    "peft_type": "LORA",
    "r": R,
    "rank_pattern": {},
    "revision": None,
    "target_modules": ["v_proj", "q_proj"],
    "task_type": "CAUSAL_LM",
    "use_dora": False,
    "use_rslora": False,
}
with open(os.path.join(OUT, "adapter_config.json"), "w") as f:
    json.dump(config, f, indent=2, sort_keys=True)
    f.write("\n")
print("wrote", OUT)
