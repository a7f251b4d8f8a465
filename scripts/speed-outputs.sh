#!/usr/bin/env bash
# Regenerates what the book's speed chapter shows, in one session on one machine, so that
# every ratio it quotes was measured side by side:
#
#   book/src/gemm_output/bench_gemm.txt     bench_gemm with the gemm crate as peer
#   book/src/speed_output/matmul_torch.txt  PyTorch's matmul (MKL) on the square shapes
#   book/src/speed_output/stats_<ex>.txt    FERROGRAD_GEMM_STATS tables of the two runs
#   book/src/speed_output/compare.txt       the two autoencoder runs against PyTorch
#
# Usage: PYTHON=/path/to/venv/bin/python scripts/speed-outputs.sh
# PYTHON must have torch==2.15.0 and numpy (scripts/torch_baselines/requirements.txt); the
# PyTorch parts are not optional, since the chapter's ratios need both sides. MNIST is
# fetched into data/mnist on first use (or set MNIST_DIR). Run it on a quiet machine:
# the load average is printed at the top of every file.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
: "${PYTHON:?set PYTHON to an interpreter with torch==2.15.0 and numpy (see scripts/torch_baselines/README.md)}"
"$PYTHON" -c 'import torch, numpy' || { echo "speed-outputs: $PYTHON lacks torch/numpy" >&2; exit 2; }
export MNIST_DIR=${MNIST_DIR:-data/mnist}
bash scripts/fetch-mnist.sh "$MNIST_DIR"

out=book/src/speed_output
mkdir -p "$out" book/src/gemm_output
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

header() {
    echo "\$ $*"
    echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
}

# Build the examples once, with the peer (cargo test would rebuild bench_gemm without it).
cargo build --release --features peer --examples
bin=target/release/examples

echo "speed-outputs: bench_gemm"
{ header cargo run --release --features peer --example bench_gemm; "$bin/bench_gemm"; } \
    >"$tmp/bench_gemm.txt" 2>&1
mv "$tmp/bench_gemm.txt" book/src/gemm_output/bench_gemm.txt

echo "speed-outputs: PyTorch matmul"
{ header python scripts/torch_baselines/matmul.py; "$PYTHON" scripts/torch_baselines/matmul.py; } \
    >"$tmp/matmul_torch.txt" 2>&1
mv "$tmp/matmul_torch.txt" "$out/matmul_torch.txt"

# The one-thread f32 peak that bench_gemm measures, for the tables' %peak column.
peak=$("$bin/bench_gemm" --json --only 1024x1024x1024 --threads 1 --dtype f32 --samples 3 |
    sed -n 's/.*"peak_gflops": *\([0-9.]*\).*/\1/p' | head -1)
[ -n "$peak" ] || { echo "speed-outputs: could not read the peak from bench_gemm --json" >&2; exit 1; }

for ex in autoencoders_mnist autoencoders_synthetic; do
    echo "speed-outputs: GEMM calls of $ex"
    {
        header FERROGRAD_GEMM_STATS=1 FERROGRAD_GEMM_PEAK="$peak" cargo run --release --example "$ex"
        FERROGRAD_GEMM_STATS=1 FERROGRAD_GEMM_PEAK="$peak" "$bin/$ex" --out "$tmp/$ex" 2>&1 >/dev/null
    } >"$tmp/stats_$ex.txt"
    mv "$tmp/stats_$ex.txt" "$out/stats_$ex.txt"
done

echo "speed-outputs: against PyTorch (scripts/torch_baselines/compare.sh, N=${N:-2})"
{ header "N=${N:-2} scripts/torch_baselines/compare.sh"; N=${N:-2} PYTHON=$PYTHON bash scripts/torch_baselines/compare.sh 2>&1 | grep -v '^   Compiling\|^    Finished\|^== cargo build'; } \
    >"$tmp/compare.txt"
mv "$tmp/compare.txt" "$out/compare.txt"
echo "speed-outputs: done; see $out and book/src/gemm_output"
