# Sourced by the scripts: one cargo target directory outside the clone, so a fresh
# clone (CI) builds incrementally on top of the last run instead of from nothing.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rlhf-playground/target}"
mkdir -p "$CARGO_TARGET_DIR"
# binaryen 132's wasm-opt (installed by scripts/setup.sh) before any system one.
export PATH="$(pwd)/tools/wasm-opt/node_modules/.bin:$PATH"
