#!/usr/bin/env bash
# Benchmark: `rollproof generate` on a non-surface schema, against the
# sqlite3 shell inserting the same rows, in the same run (issue #14 §6).
#
# The profile is bench/shop.toml, shipped: a format-2 profile (schema and
# statistics, no values) of our own 14-table shop, bench/shop.sql (foreign
# keys, one self-reference, composite and WITHOUT ROWID keys, UNIQUE
# constraints, partial and expression unique indexes, CHECKs, a view, a
# trigger).
#
# In one run it
#   1. builds rollproof (release) and runs `rollproof generate --profile
#      bench/shop.toml --scale N --out …` (default 26, about 1 GiB) — the
#      whole command: the generic engine, fsync, SHA-256, provenance —
#      under /usr/bin/time -v for wall time and peak RSS;
#   2. has the sqlite3 shell (/usr/bin/sqlite3) insert exactly the same rows
#      into the same schema: the tables' own CREATE TABLE statements, then
#      per table `INSERT INTO t SELECT * FROM src.t` from the generated file
#      (ATTACHed, already in the page cache), one transaction per table, then
#      the same indexes, view and trigger — rollproof's pragmas (page_size
#      4096, journal_mode OFF, synchronous OFF, cache_size 32 MiB) — and
#      then, like generate, fsyncs the file and takes its SHA-256
#      (`sync FILE`, `sha256sum`);
#   3. prints both times, their ratio and both peak RSS figures.
# The baseline makes no values at all, it only copies them: the cheapest
# way for the shell to end with the same rows, so the ratio flatters
# rollproof nowhere.
# Targets: rollproof within 2x of the shell's time, peak RSS under 128 MiB.
# With --strict a missed target exits 1.
#
# Usage: bench/generate-open.sh [--scale N] [--strict] [--keep] [--dir D]
set -euo pipefail

scale=26
strict=0
keep=0
dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) scale="$2"; shift 2 ;;
    --strict) strict=1; shift ;;
    --keep) keep=1; shift ;;
    --dir) dir="$2"; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 0 ;;
    *) echo "bench: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

die() { echo "bench: $*" >&2; exit 2; }
[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time) is missing: it measures peak RSS. Install it: apt-get install time"
SQLITE=${SQLITE:-/usr/bin/sqlite3}
[ -x "$SQLITE" ] || die "$SQLITE is missing: the baseline needs the sqlite3 shell. Install it: apt-get install sqlite3"
command -v cargo >/dev/null || die "cargo is missing"

root=$(cd "$(dirname "$0")/.." && pwd)
echo "bench: building rollproof (release)…" >&2
(cd "$root" && cargo build --release --quiet) || die "release build failed (run: cargo build --release)"
rollproof="$root/target/release/rollproof"
profile="$root/bench/shop.toml"

if [ -z "$dir" ]; then dir=$(mktemp -d /tmp/rollproof-bench-open.XXXXXX); else mkdir -p "$dir"; fi
cleanup() { if [ "$keep" = 0 ]; then rm -rf "$dir"; else echo "bench: kept $dir" >&2; fi; }
trap cleanup EXIT
now() { date +%s.%N; }
rss_kib() { awk -F': ' '/Maximum resident set size/ {print $2}' "$1"; }
cpu_s() { awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$1"; }
count_rows() {
  "$SQLITE" "$1" "SELECT sum(n) FROM ($("$SQLITE" "$1" \
    "SELECT group_concat('SELECT count(*) AS n FROM \"' || name || '\"', ' UNION ALL ') FROM sqlite_schema WHERE type='table' AND name NOT LIKE 'sqlite_%'"))"
}

# --- 1. rollproof generate ---------------------------------------------------
db="$dir/shop.db"
sync
t0=$(now)
(cd "$dir" && /usr/bin/time -v -o "$dir/rollproof.time" \
  "$rollproof" generate --profile "$profile" --seed 1 --scale "$scale" --out "$db" >/dev/null 2>"$dir/generate.log") \
  || { cat "$dir/generate.log" >&2; die "rollproof generate failed"; }
t1=$(now)
rp=$(echo "$t1 - $t0" | bc -l)
size=$(stat -c %s "$db")
rows=$(count_rows "$db")

# --- 2. the shell: the same rows into the same schema -----------------------
sql="$dir/baseline.sql"
{
  echo "PRAGMA page_size=4096; PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-32768;"
  echo "ATTACH '$db' AS src;"
  "$SQLITE" "$db" "SELECT sql || ';' FROM sqlite_schema WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
  "$SQLITE" "$db" "SELECT 'BEGIN; INSERT INTO main.\"' || name || '\" SELECT * FROM src.\"' || name || '\"; COMMIT;' FROM sqlite_schema WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
  "$SQLITE" "$db" "SELECT sql || ';' FROM sqlite_schema WHERE type IN ('index','view','trigger') AND sql IS NOT NULL ORDER BY rowid"
} >"$sql"
rm -f "$dir/baseline.db"
sync
t0=$(now)
/usr/bin/time -v -o "$dir/sqlite3.time" "$SQLITE" -bail "$dir/baseline.db" <"$sql" >/dev/null
sync "$dir/baseline.db"
sha256sum "$dir/baseline.db" >/dev/null
t1=$(now)
sh=$(echo "$t1 - $t0" | bc -l)
base_rows=$(count_rows "$dir/baseline.db")

ratio=$(echo "$rp / $sh" | bc -l)
rss_mib=$(echo "$(rss_kib "$dir/rollproof.time") / 1024" | bc -l)
printf 'rollproof generate, shop --scale %s: %.2f s wall  %.2f s CPU  %d bytes  %d rows  peak RSS %.1f MiB\n' \
  "$scale" "$rp" "$(cpu_s "$dir/rollproof.time")" "$size" "$rows" "$rss_mib"
printf 'sqlite3 %s INSERT … SELECT + fsync + sha256sum: %.2f s wall  %.2f s CPU  %d bytes  %d rows  peak RSS %.1f MiB\n' \
  "$("$SQLITE" --version | cut -d' ' -f1)" "$sh" "$(cpu_s "$dir/sqlite3.time")" \
  "$(stat -c %s "$dir/baseline.db")" "$base_rows" "$(echo "$(rss_kib "$dir/sqlite3.time") / 1024" | bc -l)"
printf 'ratio rollproof / sqlite3: %.2fx wall (target <= 2x)\n' "$ratio"
printf 'load average at the end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"

[ "$rows" = "$base_rows" ] || echo "bench: warning: row counts differ ($rows vs $base_rows)" >&2
missed=0
if [ "$(echo "$ratio > 2" | bc -l)" = 1 ]; then echo "bench: MISSED: time ratio above 2x" >&2; missed=1; fi
if [ "$(echo "$rss_mib >= 128" | bc -l)" = 1 ]; then echo "bench: MISSED: peak RSS not under 128 MiB" >&2; missed=1; fi
if [ "$missed" = 1 ] && [ "$strict" = 1 ]; then exit 1; fi
exit 0
