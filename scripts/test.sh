#!/usr/bin/env bash
# Runs every test of the project. Idempotent: installs what the tests need first.
set -euo pipefail
cd "$(dirname "$0")/.."

# Official Python clients (huggingface_hub) that the Hub tests compare against.
./scripts/setup-test-venv.sh
export TEXT2SQL_TEST_PYTHON="$PWD/.venv-test/bin/python"
export TEXT2SQL_SEED_PYTHON="$PWD/.venv-seed/bin/python"
# The official client must never reach the real Hub from tests, and must use plain LFS (not Xet).
export HF_HUB_DISABLE_XET=1 HF_HUB_DISABLE_TELEMETRY=1

cargo test --workspace --all-targets "$@"
