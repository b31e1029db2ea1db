#!/usr/bin/env bash
# Creates the Python venvs of the official clients the tests compare against:
#   .venv-test/  from tests/python-requirements.txt       (current huggingface_hub, openai, PyYAML)
#   .venv-seed/  from tests/python-requirements-seed.txt  (the last huggingface_hub with
#                InferenceClient.post, which the seed doc's snippet calls)
# Idempotent: a venv whose stamp matches its requirements file is left as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

setup_venv() {
  local venv=$1 req=$2
  local stamp="$venv/.requirements.sha256"
  local want
  want=$(sha256sum "$req" | cut -d' ' -f1)
  if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  [ -x "$venv/bin/python" ] || "$PY" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  echo "$want" > "$stamp"
  local ver
  ver=$("$venv/bin/python" -c 'import huggingface_hub as h; print(h.__version__)')
  echo "setup-test-venv: $venv ready (huggingface_hub $ver)" >&2
}

setup_venv .venv-test tests/python-requirements.txt
setup_venv .venv-seed tests/python-requirements-seed.txt
