#!/usr/bin/env bash
# Creates .venv-test/ with the official Python clients the tests compare against.
# Idempotent: does nothing when the venv already matches tests/python-requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-test
REQ=tests/python-requirements.txt
STAMP="$VENV/.requirements.sha256"
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  exit 0
fi
PY=${PYTHON:-python3}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ"
echo "$want" > "$STAMP"
ver=$("$VENV/bin/python" -c 'import huggingface_hub as h; print(h.__version__)')
echo "setup-test-venv: $VENV ready (huggingface_hub $ver)" >&2
