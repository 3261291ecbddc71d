#!/usr/bin/env bash
# Runs every test: formatting and lints, native unit + integration tests (burn's
# flex CPU backend), then the release web app in headless Chromium with WebGPU
# (SwiftShader).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash scripts/setup.sh --test
source scripts/env.sh
step() { printf '\n\033[1;34m== %s (%ss)\033[0m\n' "$*" "$(( $(date +%s) - start ))"; }

step "formatting and lints (cargo fmt --check, clippy native and wasm32; check-only)"
cargo fmt --all --check
cargo clippy --locked --all-targets -- -D warnings
cargo clippy --locked --target wasm32-unknown-unknown --no-default-features --lib -- -D warnings

step "native tests (cargo test)"
cargo test --locked

step "release build of the web app (trunk build --release)"
trunk build --release

step "end-to-end tests in headless Chromium (WebGPU)"
node tests/e2e/run.mjs

step "all tests passed"
