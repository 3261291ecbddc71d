#!/usr/bin/env bash
# Installs what is missing, builds the app in release mode and serves it at
# http://127.0.0.1:8080/ (Ctrl-C stops). Extra arguments go to `trunk serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
echo "Building, then serving at http://127.0.0.1:8080/ (open it in a browser with WebGPU, e.g. Chrome or Edge)"
exec trunk serve --release "$@"
