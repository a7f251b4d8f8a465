#!/usr/bin/env bash
# Regenerates what the book's homework chapters show: each problem's full-size output
# (book/src/homework/<problem>/output.txt) and its plots and results.json (written by the
# example itself into book/src/homework/<problem>/). Run it after changing an example, and
# commit the result, so the book shows what the code really prints.
#
# Usage: scripts/book-outputs.sh [PROBLEM ...]     (default: all seven problems)
# MNIST is fetched into data/mnist on first use (or set MNIST_DIR).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

problems=("$@")
if [ ${#problems[@]} -eq 0 ]; then
  problems=(pca_linear_ae regularized_linear_ae autoencoders_synthetic autoencoders_mnist
            scaled_dot_product argmax_attention kernel_attention)
fi

trap 'rm -f book/src/homework/*/output.txt.tmp book/src/homework/*/*/output.txt.tmp' EXIT
cargo build --release --examples
# run_into <folder> <problem> [flags...]: the example's output and files into <folder>.
run_into() {
  local out=$1 p=$2
  shift 2
  local bin="target/release/examples/$p"
  [ -x "$bin" ] || { echo "book-outputs: no example named $p" >&2; exit 2; }
  mkdir -p "$out"
  echo "book-outputs: $p $*"
  {
    if [ $# -gt 0 ]; then
      echo "\$ cargo run --release --example $p -- $*"
    else
      echo "\$ cargo run --release --example $p"
    fi
    echo "# $(date -u +%Y-%m-%d), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
    "$bin" "$@" --out "$out" 2>&1
  } | sed "s|$root/||g" >"$out/output.txt.tmp"
  mv "$out/output.txt.tmp" "$out/output.txt"
}

for p in "${problems[@]}"; do
  run_into "book/src/homework/$p" "$p"
  # The MNIST chapter also compares the three kinds of autoencoder.
  if [ "$p" = autoencoders_mnist ]; then
    run_into "book/src/homework/$p/all_models" "$p" --model vanilla,denoising,masked
  fi
done
