#!/usr/bin/env bash
# Benchmarks (not tests), in one invocation so the figures are side by side:
#  1. native pretraining throughput per preset (burn flex CPU; wgpu too with
#     BENCH_FEATURES=wgpu), and the same model and step in PyTorch
#     (benches/torch_reference.py) → the ratio burn / PyTorch;
#  2. sampling tokens/s, PPO iteration time (+ the whole micro pipeline with
#     BENCH_PIPELINE=1), with readbacks and kernel dispatches counted;
#  3. the release web app in headless Chromium's WebGPU: bundle size, time to
#     the first control, pretraining speed, frame times, our kernels' check; and
#     its CPU backend's ?bench=1 per preset beside 1.'s native flex (ratio);
#  4. the whole micro lesson on the page's CPU backend, stage by stage, as a
#     learner walks it with the defaults (tests/e2e/walk.mjs, ≈ 5 min).
# Usage: scripts/bench.sh [browser-steps]
# PyTorch: uses $TORCH_PYTHON, else python3 if it imports torch, else
# ~/.cache/rlhf-playground/torch (created with `pip install torch` on first use;
# PyPI's Linux wheel is several GB, which is why this is never part of the tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
source scripts/env.sh
out=$(mktemp -d)
features=${BENCH_FEATURES:+--features $BENCH_FEATURES}

py=${TORCH_PYTHON:-}
if [ -z "$py" ]; then
  if python3 -c 'import torch' 2>/dev/null; then py=python3; else
    venv="$HOME/.cache/rlhf-playground/torch"
    [ -x "$venv/bin/python" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q torch; }
    py="$venv/bin/python"
  fi
fi

cargo bench --locked $features --bench pretrain | tee "$out/burn.jsonl"
# fast-cpu runs flex on rayon's threads: once more on one, beside PyTorch's one.
case "${BENCH_FEATURES:-}" in *fast-cpu*)
  RAYON_NUM_THREADS=1 cargo bench --locked $features --bench pretrain | grep '"flex"' | tee -a "$out/burn.jsonl" ;;
esac
"$py" benches/torch_reference.py --threads 1 | tee "$out/torch1.jsonl"
"$py" benches/torch_reference.py | tee "$out/torch.jsonl"
python3 benches/compare.py "$out/burn.jsonl" "$out/torch1.jsonl" "$out/torch.jsonl"
cargo bench --locked $features --bench rlhf
trunk build --release
NATIVE_JSONL="$out/burn.jsonl" node tests/e2e/bench.mjs "${1:-12}"
node tests/e2e/walk.mjs
