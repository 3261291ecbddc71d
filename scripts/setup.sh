#!/usr/bin/env bash
# Installs what building and testing the app needs, skipping what is already there.
# Usage: scripts/setup.sh [--test]   (--test also installs Chromium and the e2e deps)
# Idempotent: a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }

apt_updated=0
apt_install() {
  if [ $apt_updated -eq 0 ]; then $SUDO apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

# The toolchain pinned by rust-toolchain.toml, with the wasm target.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# rustfmt and clippy for the lint step (the minimal rustup profile lacks them).
for c in rustfmt clippy; do
  if ! rustup component list --installed | grep -q "^$c"; then
    log "adding the $c component"
    rustup component add "$c"
  fi
done

# Trunk 0.21.14 (0.22 needs a newer rustc than the pinned one).
if ! trunk --version 2>/dev/null | grep -q '0\.21\.14'; then
  log "installing trunk 0.21.14 (about 11 minutes on 2 cores)"
  cargo install --locked trunk --version 0.21.14
fi

# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly.
# Not --locked: one of its locked dependencies was yanked from the registry.
wbg=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -q " $wbg\$"; then
  log "installing wasm-bindgen-cli $wbg (about 4 minutes)"
  cargo install wasm-bindgen-cli --version "$wbg" --force
fi

# wasm-opt from binaryen 132 on npm (Debian's 108 corrupts wasm-bindgen's externref
# table). scripts/env.sh puts it first on PATH; trunk runs it offline.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  log "installing Node.js and npm"
  apt_install nodejs npm
fi
if [ ! -x tools/wasm-opt/node_modules/.bin/wasm-opt ]; then
  log "installing wasm-opt (binaryen 132, npm)"
  (cd tools/wasm-opt && npm ci --no-audit --no-fund --loglevel=error)
fi

if [ $want_test -eq 1 ]; then
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    log "installing Chromium (its SwiftShader gives headless WebGPU) and ChromeDriver"
    apt_install chromium chromium-driver
  fi
  # A CJK font, so screenshots of the 简体中文 UI show characters, not boxes.
  if ! fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk"; then
    log "installing a CJK font for the browser tests"
    apt_install fonts-wqy-microhei
  fi
  if [ ! -d tests/e2e/node_modules/playwright-core ]; then
    log "installing the e2e test's npm packages"
    (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
log "tools ready"
