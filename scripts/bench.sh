#!/usr/bin/env bash
# Benchmarks (not tests): native pretraining throughput per preset on burn's flex
# CPU backend, then the release web app in headless Chromium's WebGPU.
# Usage: scripts/bench.sh [browser-steps]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
source scripts/env.sh
cargo bench --locked --bench pretrain
trunk build --release
node tests/e2e/bench.mjs "${1:-12}"
