#!/usr/bin/env bash
# Times ferrograd's autoencoder examples against the PyTorch baselines of this folder,
# alternating the two, N times each, and prints a table of wall and CPU times.
#
#   scripts/torch_baselines/compare.sh            # both experiments, N=3
#   N=5 ONLY=mnist scripts/torch_baselines/compare.sh
#
# Environment:
#   N          runs of each program per experiment (default 3)
#   ONLY       mnist | synthetic (default: both)
#   PYTHON     interpreter with torch==2.15.0 and numpy (default: python3)
#   MNIST_DIR  folder with the four MNIST IDX files (default: data/mnist)
#   TORCH_THREADS  torch.set_num_threads for the PyTorch scripts (default 2, as in the earlier issue's
#              measurement; 1 avoids OpenMP's hand-offs when another process holds a core)
#   KEEP       a folder to keep the logs in (default: a temporary folder, removed)
#
# Both programs do the same work (see README.md): ferrograd's full default run of
# autoencoders_mnist (ours x2, the raw-pixel probe, the notebook default x2) against
# mnist_ae.py with no flags, and ferrograd's full autoencoders_synthetic sweep against
# synthetic_sweep.py with no flags. ferrograd additionally writes its PNG/SVG plots and
# results.json (into a temporary --out folder); the PyTorch scripts write nothing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
N=${N:-3}
ONLY=${ONLY:-}
PYTHON=${PYTHON:-python3}
TORCH_THREADS=${TORCH_THREADS:-2}
export MNIST_DIR=${MNIST_DIR:-data/mnist}
[[ -x /usr/bin/time ]] || { echo "compare.sh: needs /usr/bin/time (GNU time)" >&2; exit 1; }
"$PYTHON" -c 'import torch, numpy' || { echo "compare.sh: $PYTHON lacks torch/numpy (see requirements.txt)" >&2; exit 1; }
if [[ -n ${KEEP:-} ]]; then tmp=$KEEP; mkdir -p "$tmp"; else tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT; fi

echo "== cargo build --release --examples"
cargo build --release --examples

echo "date:  $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "cpu:   $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores"
echo "torch: $("$PYTHON" -c 'import torch; print(torch.__version__)')"
echo "load:  $(uptime)"
echo "PyTorch threads: $TORCH_THREADS (OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset})"

# time_run <name> <cmd...>: runs the command under /usr/bin/time, log in $tmp/<name>.log,
# "wall user sys" in $tmp/<name>.time.
time_run() {
    local name=$1
    shift
    /usr/bin/time -f '%e %U %S' -o "$tmp/$name.time" "$@" >"$tmp/$name.log" 2>"$tmp/$name.err" || {
        echo "compare.sh: $name failed; its output:" >&2
        tail -20 "$tmp/$name.log" "$tmp/$name.err" >&2
        exit 1
    }
}
# loop_seconds <name>: the training-loop time the program printed.
loop_seconds() {
    sed -n -e 's/^compute: .* in \([0-9.]*\) s.*/\1/p' -e 's/^training loop: \([0-9.]*\) s.*/\1/p' \
        "$tmp/$1.log" | tail -1
}

# experiment <label> <ours cmd> -- <torch cmd>
experiment() {
    local label=$1
    shift
    local ours=() theirs=()
    while [[ $1 != -- ]]; do ours+=("$1"); shift; done
    shift
    theirs=("$@")
    echo
    echo "== $label: N=$N, alternating (odd runs ferrograd first, even runs PyTorch first)"
    for i in $(seq 1 "$N"); do
        if ((i % 2)); then
            time_run "$label-ours-$i" "${ours[@]}" --out "$tmp/out-$label-$i"
            time_run "$label-torch-$i" "${theirs[@]}"
        else
            time_run "$label-torch-$i" "${theirs[@]}"
            time_run "$label-ours-$i" "${ours[@]}" --out "$tmp/out-$label-$i"
        fi
        echo "   run $i done; load: $(cut -d' ' -f1-3 /proc/loadavg)"
    done
    printf '\n%-10s %4s | %9s %9s %9s | %9s %9s %9s | %7s %7s\n' "$label" run \
        "ours wall" "ours cpu" "ours loop" "torch wall" "torch cpu" "torch loop" "wall x" "loop x"
    local bo=1e9 bt=1e9 blo=1e9 blt=1e9
    for i in $(seq 1 "$N"); do
        read -r ow ou os <"$tmp/$label-ours-$i.time"
        read -r tw tu ts <"$tmp/$label-torch-$i.time"
        local ol tl
        ol=$(loop_seconds "$label-ours-$i")
        tl=$(loop_seconds "$label-torch-$i")
        awk -v l="$label" -v i="$i" -v ow="$ow" -v oc="$(awk "BEGIN{print $ou+$os}")" -v ol="$ol" \
            -v tw="$tw" -v tc="$(awk "BEGIN{print $tu+$ts}")" -v tl="$tl" \
            'BEGIN{printf "%-10s %4s | %8.2fs %8.2fs %8.2fs | %9.2fs %8.2fs %9.2fs | %6.2fx %6.2fx\n", l, i, ow, oc, ol, tw, tc, tl, tw/ow, tl/ol}'
        bo=$(awk "BEGIN{print ($ow<$bo)?$ow:$bo}")
        bt=$(awk "BEGIN{print ($tw<$bt)?$tw:$bt}")
        blo=$(awk "BEGIN{print ($ol<$blo)?$ol:$blo}")
        blt=$(awk "BEGIN{print ($tl<$blt)?$tl:$blt}")
    done
    awk -v l="$label" -v bo="$bo" -v bt="$bt" -v blo="$blo" -v blt="$blt" \
        'BEGIN{printf "%-10s %4s | %8.2fs %9s %8.2fs | %9.2fs %9s %9.2fs | %6.2fx %6.2fx\n", l, "best", bo, "", blo, bt, "", blt, bt/bo, blt/blo}'
    echo "results (last run of each):"
    grep -E '^(ours|notebook default|raw pixels|vanilla|denoising|masked) ' "$tmp/$label-ours-$N.log" | sed 's/^/  ferrograd: /' | cut -c1-120
    grep -E '^(ours|notebook default|raw pixels|vanilla|denoising|masked) ' "$tmp/$label-torch-$N.log" | sed 's/^/  pytorch:   /' | cut -c1-120
}

if [[ -z $ONLY || $ONLY == mnist ]]; then
    experiment mnist target/release/examples/autoencoders_mnist -- \
        "$PYTHON" "$here/mnist_ae.py" "$MNIST_DIR" --threads "$TORCH_THREADS"
fi
if [[ -z $ONLY || $ONLY == synthetic ]]; then
    experiment synthetic target/release/examples/autoencoders_synthetic -- \
        "$PYTHON" "$here/synthetic_sweep.py" --threads "$TORCH_THREADS"
fi
echo
echo "load at the end: $(uptime)"
echo "wall/cpu: /usr/bin/time of the whole process; loop: the training loop each program"
echo "reports (ferrograd: 'compute: ... in S s', PyTorch: 'training loop: S s'); x = PyTorch / ferrograd."
