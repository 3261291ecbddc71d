#!/usr/bin/env bash
# The recipe over several seeds (a bench, never a test): runs the headless runner
# once per seed, as many at a time as there are cores, and prints one row per seed
# with 95 % intervals, the pooled figures, and the recipe's lessons checked.
#
# Usage: bash scripts/seeds.sh [SEEDS] [runner flags...]
#   SEEDS   a list like 1-5 or 1,3,7 (default 1-5)
#   flags   passed to every run, e.g. --preset small, --beta 0.05
#   SEEDS_JOBS runs at a time (default: one per core)
# Runs are kept under $SEEDS_OUT (default ~/.cache/rlhf-playground/seeds/<time>):
# one JSON-lines file per seed, the summary last.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
spec=${1:-1-5}
[ $# -gt 0 ] && shift
seeds=()
for part in ${spec//,/ }; do
  if [[ $part == *-* ]]; then seeds+=($(seq "${part%-*}" "${part#*-}")); else seeds+=("$part"); fi
done
out=${SEEDS_OUT:-$HOME/.cache/rlhf-playground/seeds/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
# The dev profile shares the native tests' build (dependencies at opt-level 3):
# no second cold build; SEEDS_PROFILE=release for the last ~20 %.
profile=${SEEDS_PROFILE:-dev}
cargo build --locked --profile "$profile" --bin rlhf
bin="$CARGO_TARGET_DIR/$([ "$profile" = dev ] && echo debug || echo "$profile")/rlhf"
echo "seeds ${seeds[*]} → $out (flags: ${*:-defaults})"
for s in "${seeds[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "${SEEDS_JOBS:-$(nproc)}" ]; do wait -n || true; done
  ( "$bin" --seed "$s" --quiet "$@" > "$out/seed-$s.jsonl" 2> "$out/seed-$s.err" \
      || echo "seed $s failed: $(tail -1 "$out/seed-$s.err")" ) &
done
wait
python3 benches/seeds.py "$out"/seed-*.jsonl | tee "$out/table.txt"
