#!/usr/bin/env bash
# Real-GPU figures in one call (a bench, never a test): on a machine with a GPU,
# the same pretraining step natively in burn wgpu (Vulkan) and in PyTorch eager
# CUDA, side by side as ratios; sampling and PPO iterations on wgpu; the whole
# `micro` recipe on wgpu. Finishes in under 10 minutes on one H200.
#
# Usage: bash scripts/gpu_bench.sh [results-dir]
#   GPU_BIN=DIR   prebuilt x86-64 bench binaries (pretrain, rlhf-bench; or .xz of
#                 them) built with `--features wgpu,fast-cpu`, for a machine without
#                 cargo or network (`scripts/gpu_bench.sh --build-only DIR` makes
#                 them); else cargo builds them here.
#   PIPELINE_SECS the whole-recipe run's time limit (default 200).
# Needs: a Vulkan loader (libvulkan1; `.gl/*.deb` beside the repo are unpacked when
# the loader is missing) and python3 with torch built for CUDA.
set -uo pipefail
cd "$(dirname "$0")/.."

build() {
  source scripts/env.sh
  cargo build --locked --release --features wgpu,fast-cpu --benches || exit 1
  local dir=$1
  mkdir -p "$dir"
  # cargo names bench executables with a hash: the newest of each that has wgpu in it.
  for b in pretrain rlhf; do
    f=$(ls -t "$CARGO_TARGET_DIR"/release/deps/$b-* | grep -v '\.d$' | while read -r x; do grep -q 'no wgpu device' "$x" && echo "$x"; done | head -1)
    cp "$f" "$dir/$([ $b = rlhf ] && echo rlhf-bench || echo pretrain)"
  done
  strip "$dir"/* 2>/dev/null || true
}

if [ "${1:-}" = "--build-only" ]; then build "${2:?directory}"; exit 0; fi
out=${1:-$(mktemp -d)}
mkdir -p "$out"
bin=${GPU_BIN:-}
if [ -z "$bin" ]; then bin=$(mktemp -d); build "$bin"; fi
# Carried binaries may come xz-compressed (a device call carries at most 64 MiB).
if ls "$bin"/*.xz >/dev/null 2>&1; then
  tmp=$(mktemp -d)
  for f in "$bin"/*.xz; do
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$f" "$tmp/$(basename "${f%.xz}")"
  done
  chmod +x "$tmp"/*
  bin=$tmp
fi

if ! ldconfig -p | grep -q libvulkan && ls .gl/*.deb >/dev/null 2>&1; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
# The NVIDIA container layout keeps the Vulkan ICD outside the loader's search path.
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES=${VK_DRIVER_FILES:-$icd}

step() { printf '\n== %s (%ss)\n' "$*" "$SECONDS"; }
step "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv 2>&1 | tee "$out/gpu.txt"
nproc | tee -a "$out/gpu.txt"

step "pretraining step: burn wgpu"
BENCH_DEVICE=wgpu BENCH_STEPS=${BENCH_STEPS:-30} "$bin/pretrain" 2> "$out/pretrain.err" | tee "$out/burn.jsonl"
tail -5 "$out/pretrain.err"
step "pretraining step: PyTorch CUDA (eager)"
python3 benches/torch_reference.py --device cuda | tee "$out/torch.jsonl"
python3 benches/compare.py "$out/burn.jsonl" "$out/torch.jsonl" | tee "$out/ratios.jsonl"

step "sampling and PPO iterations on wgpu"
BENCH_DEVICE=wgpu BENCH_STEPS=${BENCH_STEPS_RLHF:-3} timeout 150 "$bin/rlhf-bench" 2> "$out/rlhf.err" | tee "$out/rlhf.jsonl"
tail -3 "$out/rlhf.err"

step "the whole micro recipe on wgpu"
BENCH_DEVICE=wgpu BENCH_PRESET=none BENCH_PIPELINE=micro timeout "${PIPELINE_SECS:-200}" "$bin/rlhf-bench" 2> "$out/pipeline.err" | tee "$out/pipeline.jsonl"
echo "exit $? after ${SECONDS}s"; tail -3 "$out/pipeline.err"
step "done"
