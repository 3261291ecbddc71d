#!/usr/bin/env bash
# Do our exported models work in PyTorch and our JSONL in `datasets`? (A check,
# not a CI test: it installs PyTorch.) Trains a short micro run with
# `rlhf --save DIR` (or takes DIR, e.g. the page's exports in one folder), then
# benches/check_export.py loads every model folder into a PyTorch GPT built from
# the model card alone and compares its logits / rewards with the runner's.
#
# Usage: bash scripts/check_export.sh [DIR]
# Python: $EXPORT_PYTHON, else ~/.cache/rlhf-playground/torch (a venv made here
# with `pip install torch safetensors tokenizers datasets` on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --locked --bin rlhf
bin="$CARGO_TARGET_DIR/debug/rlhf"
dir=${1:-}
if [ -z "$dir" ]; then
  dir=$(mktemp -d)
  echo "training a short micro run into $dir"
  "$bin" --preset micro --steps-pretrain 300 --steps-sft 50 --steps-ppo 2 --no-compare --quiet --save "$dir" >/dev/null
fi
py=${EXPORT_PYTHON:-}
if [ -z "$py" ]; then
  venv="$HOME/.cache/rlhf-playground/torch"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -c 'import torch, safetensors, tokenizers, datasets' 2>/dev/null ||
    "$venv/bin/pip" install -q torch safetensors tokenizers datasets
  py="$venv/bin/python"
fi
"$py" benches/check_export.py "$dir" --runner "$bin"
