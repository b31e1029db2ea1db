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

# PostgreSQL server for the read-only `ask` tests (they print SKIP if it cannot be installed).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
    || echo "test.sh: could not install postgresql; its tests will be skipped" >&2
fi

# Headless Chromium + chromedriver for the web UI test (it prints SKIP if they are missing).
if ! command -v chromedriver >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
    || echo "test.sh: could not install chromium; the web UI test will be skipped" >&2
fi

cargo test --workspace --all-targets "$@"
