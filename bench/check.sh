#!/usr/bin/env bash
# Throughput and peak memory of `rollproof check` against sha256sum and
# openssl on the same sealed files (docs/SEALS.md, "Speed").
#
#   bench/check.sh [GIB] [FILES]     default: 2 GiB in 8 files
#
# Creates a throwaway repository under $TMPDIR (removed at exit) whose
# reports/ folder holds FILES random files totalling GIB GiB, seals it, then
# times each tool over the same bytes. The files were just written, so they
# sit in the page cache: this measures hashing speed, not the disk; run
# `sync; echo 3 > /proc/sys/vm/drop_caches` between runs (as root) to
# measure a cold disk instead.
set -euo pipefail
cd "$(dirname "$0")/.."

gib=${1:-2}
files=${2:-8}
mib_each=$(( gib * 1024 / files ))
total_bytes=$(( mib_each * files * 1048576 ))

cargo build --locked --release --quiet
bin=$PWD/target/release/rollproof

work=$(mktemp -d "${TMPDIR:-/tmp}/rollproof-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/reports/blobs"
echo "bench: writing $files x $mib_each MiB of random bytes under $work"
for i in $(seq 1 "$files"); do
  head -c "$(( mib_each * 1048576 ))" /dev/urandom > "$work/reports/blobs/blob-$i.bin"
done
"$bin" seal --root "$work" --sealed-dir reports >/dev/null

# run LABEL CMD...: time CMD, print throughput and peak RSS.
run() {
  local label=$1; shift
  local log="$work/time.log"
  /usr/bin/time -v "$@" >/dev/null 2>"$log" || {
    echo "bench: $label failed:" >&2; cat "$log" >&2; exit 1; }
  local secs rss
  secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {
    n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$log")
  rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$log")
  awk -v l="$label" -v s="$secs" -v b="$total_bytes" -v r="$rss" 'BEGIN {
    printf "%-34s %7.2f s  %8.1f MiB/s  peak RSS %6.1f MiB\n", l, s, b / 1048576 / s, r / 1024 }'
}

blobs=("$work"/reports/blobs/*.bin)
echo "bench: $(nproc) CPUs; $(( total_bytes / 1048576 )) MiB in $files files (warm page cache)"
cat "${blobs[@]}" >/dev/null # warm the cache once for everyone
run "rollproof check (default jobs)" "$bin" check --root "$work" --quiet
run "rollproof check -j1" "$bin" check --root "$work" --quiet -j 1
run "sha256sum" sha256sum "${blobs[@]}"
run "openssl dgst -sha256" openssl dgst -sha256 "${blobs[@]}"
