#!/usr/bin/env bash
# Builds the book and fails on what mdBook only warns about, or does not check at all:
#   1. `mdbook build book` must exit 0 and print no WARN/ERROR line (a missing include
#      file is only an ERROR line for mdBook 0.5.4, which still exits 0);
#   2. every {{#include}} / {{#rustdoc_include}} must name an existing file and, if it
#      names an anchor, a file with both `ANCHOR: name` and `ANCHOR_END: name` and at
#      least one line between them (mdBook 0.5.4 says nothing about a missing anchor: the
#      listing just comes out empty);
#   3. every relative link and image in book/src must point to an existing file, and a
#      `#fragment` on a link to a chapter must match a heading of that chapter (ids as
#      mdBook makes them).
#
# Needs mdBook on PATH and python3 (stdlib only). Install mdBook with
#   cargo install mdbook --locked --version 0.5.4
# (measured: 1062 s with CARGO_BUILD_JOBS=1 on the 2-core machine while other builds ran;
# an idle machine with both cores should need well under that). graphviz's `dot` is only
# needed to re-render book/src/img/engine_graph.svg, not by this script.
# (mdbook-linkcheck 0.7.7, its latest release, depends on mdBook 0.4 and pulls in an HTTP
# client and tokio; rather than pin mdBook to 0.4 for it, checks 2 and 3 are done here.)
#
# Usage: scripts/check-book.sh            (from anywhere in the repository)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! command -v mdbook >/dev/null; then
    echo "check-book: mdbook not found; install it with: cargo install mdbook --locked --version 0.5.4" >&2
    exit 2
fi

status=0

# 1. Build, failing on any warning or error mdBook prints.
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! mdbook build book >"$log" 2>&1; then
    cat "$log" >&2
    echo "check-book: mdbook build failed" >&2
    exit 1
fi
if grep -E '(\[|\b)(WARN|ERROR)(\]|\b)' "$log" >&2; then
    echo "check-book: mdbook printed warnings or errors (above)" >&2
    status=1
fi

# 2 and 3. Includes, anchors and internal links, checked on the sources.
python3 - "$root/book/src" <<'PY' || status=1
import os
import re
import sys

src = sys.argv[1]
errors = []

def chapters():
    for d, _, files in os.walk(src):
        for f in sorted(files):
            if f.endswith(".md"):
                yield os.path.join(d, f)

def rel(p):
    return os.path.relpath(p, os.path.dirname(src))

def strip_code(text, keep_inline=False):
    """Blanks fenced code blocks and (unless keep_inline) inline code, where links are not
    links, keeping line numbers."""
    out, fence = [], None
    for line in text.split("\n"):
        m = re.match(r"^\s*(```+|~~~+)", line)
        if fence is None and m:
            fence = m.group(1)
            out.append("")
        elif fence is not None:
            if line.strip().startswith(fence):
                fence = None
            out.append("")
        else:
            out.append(line if keep_inline else re.sub(r"`[^`]*`", "``", line))
    return out

def heading_ids(path):
    """Heading ids as mdBook makes them: text lower-cased, markup removed, spaces to
    '-', only alphanumerics, '-' and '_' kept; repeats get -1, -2, ..."""
    ids, seen = set(), {}
    for line in strip_code(open(path, encoding="utf-8").read(), keep_inline=True):
        m = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(2))  # [text](url) -> text
        text = re.sub(r"<[^>]+>", "", text).replace("`", "")
        slug = "".join(
            c for c in text.strip().lower().replace(" ", "-") if c.isalnum() or c in "-_"
        )
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        ids.add(slug if n == 0 else f"{slug}-{n}")
    return ids

include_re = re.compile(r"(?<!\\)\{\{#(include|rustdoc_include)\s+([^}\s]+)\s*\}\}")
link_re = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
anchor_cache = {}

def check_include(md, lineno, target):
    path, _, anchor = target.partition(":")
    full = os.path.normpath(os.path.join(os.path.dirname(md), path))
    where = f"{rel(md)}:{lineno}"
    if not os.path.isfile(full):
        errors.append(f"{where}: included file {path} does not exist")
        return
    if not anchor or re.fullmatch(r"[0-9:]*", anchor):
        return  # whole file, or a line range
    if full not in anchor_cache:
        anchor_cache[full] = open(full, encoding="utf-8").read().split("\n")
    lines = anchor_cache[full]
    start = [i for i, l in enumerate(lines) if re.search(rf"ANCHOR:\s*{re.escape(anchor)}\s*$", l)]
    end = [i for i, l in enumerate(lines) if re.search(rf"ANCHOR_END:\s*{re.escape(anchor)}\s*$", l)]
    if len(start) != 1 or len(end) != 1:
        errors.append(
            f"{where}: {path} needs exactly one `ANCHOR: {anchor}` and one "
            f"`ANCHOR_END: {anchor}` (found {len(start)} and {len(end)})"
        )
    elif end[0] <= start[0] + 1:
        errors.append(f"{where}: anchor {anchor} in {path} is empty or reversed")

for md in chapters():
    text = open(md, encoding="utf-8").read()
    for lineno, line in enumerate(text.split("\n"), 1):
        for m in include_re.finditer(line):
            check_include(md, lineno, m.group(2))
    for lineno, line in enumerate(strip_code(text), 1):
        for m in link_re.finditer(line):
            target = m.group(1)
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("//"):
                continue  # external (http:, mailto:, ...)
            path, _, frag = target.partition("#")
            where = f"{rel(md)}:{lineno}"
            full = os.path.normpath(os.path.join(os.path.dirname(md), path)) if path else md
            if path and not os.path.exists(full):
                errors.append(f"{where}: link target {path} does not exist")
                continue
            if frag and full.endswith(".md") and frag not in heading_ids(full):
                errors.append(f"{where}: {rel(full)} has no heading with id #{frag}")

summary = os.path.join(src, "SUMMARY.md")
listed = set()
for line in open(summary, encoding="utf-8"):
    for m in link_re.finditer(line):
        listed.add(os.path.normpath(os.path.join(src, m.group(1))))
for md in chapters():
    if md != summary and os.path.normpath(md) not in listed:
        errors.append(f"{rel(md)}: not listed in SUMMARY.md (mdBook would not build it)")

for e in errors:
    print("check-book:", e, file=sys.stderr)
if errors:
    sys.exit(1)
print(f"check-book: includes, anchors and internal links OK")
PY

if [ "$status" -ne 0 ]; then
    echo "check-book: FAILED" >&2
    exit 1
fi
echo "check-book: OK (book/build/index.html)"
