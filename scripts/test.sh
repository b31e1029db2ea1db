#!/usr/bin/env bash
# Runs every test of the project. Idempotent: installs what the tests need first.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-targets "$@"
