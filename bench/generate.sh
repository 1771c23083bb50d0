#!/usr/bin/env bash
# Benchmark: surrogate generation at ~1 GiB against the sqlite3 shell.
#
# In one run it
#   1. builds rollproof (release) and generates the default profile scaled
#      to about 1 GiB (`--scale 12` gives ~1.03 GB), under /usr/bin/time -v
#      for wall time and peak RSS;
#   2. has the sqlite3 command-line shell (/usr/bin/sqlite3) bulk-insert the
#      SAME number of rows per table, of the SAME average byte size per
#      column, from recursive CTEs, into the SAME schema;
#   3. prints both times, their ratio and both peak RSS figures.
# Targets (issue #2): rollproof within 2x of the shell's time, and rollproof's
# peak RSS under 128 MiB. With --strict a missed target exits 1.
#
# How the baseline is made comparable (and, where a choice exists, as cheap
# as possible for the shell, so the ratio flatters rollproof nowhere):
#   - schema: the surrogate's own CREATE TABLE statements, so the same
#     primary keys, UNIQUE constraints and their automatic indexes; the
#     secondary CREATE INDEX statements run after the load, exactly as
#     rollproof's generator does;
#   - pragmas: page_size 4096, journal_mode OFF, synchronous OFF,
#     cache_size 32 MiB, one transaction per table — rollproof's settings;
#   - rows: per table, the surrogate's row count; per column, the
#     surrogate's NULL fraction (NULLs spread evenly by row number), storage
#     type and average byte length of text, so the file ends up the same size;
#   - values: text in a primary key or UNIQUE index is random (hex of
#     randomblob, made unique with the row number), because rollproof's
#     uuid keys are random too and random keys are what makes unique indexes
#     expensive; text under a secondary index is increasing (cheapest to
#     index); text with at most 16 distinct values (status, kind: CHECK
#     constraints) cycles through the surrogate's own values; all other
#     text is a run of 'x' of the average length; integers
#     are the row number (or its parity for booleans).
#   - rollproof's time includes what `generate` always does after writing:
#     fsync of the output before the atomic rename, and SHA-256 of the file
#     (about 0.7 s per GiB with SHA-NI). The shell's time includes a `sync`
#     of its file (same durability; printed separately too), not a hash.
#   - both runs start after a `sync`, with the previous output deleted.
#
# Usage: bench/generate.sh [--scale N] [--runs N] [--strict] [--keep] [--dir D] [--no-build]
set -euo pipefail

scale=12
runs=1
strict=0
keep=0
build=1
dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) scale="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --strict) strict=1; shift ;;
    --keep) keep=1; shift ;;
    --no-build) build=0; shift ;;
    --dir) dir="$2"; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 0 ;;
    *) echo "bench: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

die() { echo "bench: $*" >&2; exit 2; }
[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time) is missing: it measures peak RSS. Install it: apt-get install time"
/usr/bin/time -v true 2>/dev/null || die "/usr/bin/time does not support -v (need GNU time: apt-get install time)"
SQLITE=${SQLITE:-/usr/bin/sqlite3}
[ -x "$SQLITE" ] || die "$SQLITE is missing: the baseline needs the sqlite3 shell. Install it: apt-get install sqlite3"
command -v cargo >/dev/null || die "cargo is missing"

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/target/release/rollproof"
if [ "$build" = 1 ] || [ ! -x "$bin" ]; then
  echo "bench: building rollproof (release)…" >&2
  (cd "$root" && cargo build --release --quiet) || die "release build failed"
fi
profile="$root/surrogates/profiles/default.toml"

if [ -z "$dir" ]; then
  dir=$(mktemp -d /tmp/rollproof-bench.XXXXXX)
else
  mkdir -p "$dir"
fi
cleanup() { if [ "$keep" = 0 ]; then rm -rf "$dir"; else echo "bench: kept $dir" >&2; fi; }
trap cleanup EXIT

now() { date +%s.%N; }
# Peak RSS in KiB from a GNU time -v report.
rss_kib() { awk -F': ' '/Maximum resident set size/ {print $2}' "$1"; }
# CPU seconds (user + system) from a GNU time -v report: less sensitive than
# wall time to other load on the machine.
cpu_s() { awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$1"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# --- 1. rollproof ---------------------------------------------------------
rp_times=(); rp_cpu=(); rp_rss=0
for i in $(seq 1 "$runs"); do
  rm -f "$dir/surrogate.db"
  sync
  t0=$(now)
  /usr/bin/time -v -o "$dir/rollproof.time" \
    "$bin" generate --profile "$profile" --seed 1 --scale "$scale" --out "$dir/surrogate.db" --json \
    >"$dir/generate.json"
  t1=$(now)
  rp_times+=("$(echo "$t1 - $t0" | bc -l)")
  rp_cpu+=("$(cpu_s "$dir/rollproof.time")")
  r=$(rss_kib "$dir/rollproof.time"); [ "$r" -gt "$rp_rss" ] && rp_rss=$r
done
db="$dir/surrogate.db"
size=$(stat -c %s "$db")
rows=$("$SQLITE" "$db" "SELECT sum(n) FROM ($(
  "$SQLITE" "$db" "SELECT group_concat('SELECT count(*) AS n FROM \"' || name || '\"', ' UNION ALL ') FROM sqlite_schema WHERE type='table' AND name NOT LIKE 'sqlite_%' AND name <> 'rollproof_provenance'"
))")

# --- 2. the baseline script, derived from the surrogate's shape ------------
sql="$dir/baseline.sql"
{
  echo "PRAGMA page_size=4096; PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-32768;"
  "$SQLITE" "$db" "SELECT sql || ';' FROM sqlite_schema WHERE type='table' AND name NOT LIKE 'sqlite_%' AND name <> 'rollproof_provenance' ORDER BY rowid"
} >"$sql"

# A CASE cycling through a column's values when it has at most 16 distinct
# ones (fails otherwise): respects CHECK constraints, keeps low cardinality.
distinct_labels() {
  local vals
  vals=$("$SQLITE" "$db" "SELECT quote(v) FROM (SELECT DISTINCT CAST(\"$2\" AS TEXT) AS v FROM \"$1\" WHERE \"$2\" IS NOT NULL LIMIT 17)")
  local k
  k=$(echo "$vals" | grep -c . || true)
  [ "$k" -ge 1 ] && [ "$k" -le 16 ] || return 1
  local expr="CASE n % $k" j=0
  while read -r v; do expr+=" WHEN $j THEN $v"; j=$((j+1)); done <<<"$vals"
  echo "$expr END"
}

tables=$("$SQLITE" "$db" "SELECT name FROM sqlite_schema WHERE type='table' AND name NOT LIKE 'sqlite_%' AND name <> 'rollproof_provenance' ORDER BY rowid")
for t in $tables; do
  n=$("$SQLITE" "$db" "SELECT count(*) FROM \"$t\"")
  [ "$n" -gt 0 ] || continue
  # name|type|pk|in_unique|in_secondary per column
  cols=$("$SQLITE" -separator '|' "$db" "
    SELECT c.name, upper(c.type), c.pk,
      EXISTS (SELECT 1 FROM pragma_index_list('$t') il JOIN pragma_index_info(il.name) ii
              WHERE il.\"unique\" AND ii.name = c.name),
      EXISTS (SELECT 1 FROM pragma_index_list('$t') il JOIN pragma_index_info(il.name) ii
              WHERE NOT il.\"unique\" AND ii.name = c.name)
    FROM pragma_table_info('$t') c ORDER BY c.cid")
  npk=$(echo "$cols" | awk -F'|' '$3 > 0' | wc -l)
  # One scan: per column nulls, integer/real/text counts, average text bytes.
  aggs=""
  while IFS='|' read -r name _; do
    q="\"$name\""
    aggs+="${aggs:+, }sum($q IS NULL), sum(typeof($q)='integer'), sum(typeof($q)='real'), sum(typeof($q) IN ('text','blob')), coalesce(cast(round(avg(CASE WHEN typeof($q) IN ('text','blob') THEN length(CAST($q AS BLOB)) END)) AS INTEGER), 0)"
  done <<<"$cols"
  IFS='|' read -r -a st <<<"$("$SQLITE" -separator '|' "$db" "SELECT $aggs FROM \"$t\"")"
  names=(); exprs=(); i=0
  while IFS='|' read -r name type pk uniq sec; do
    nulls=${st[$((i*5))]}; ints=${st[$((i*5+1))]}; reals=${st[$((i*5+2))]}; texts=${st[$((i*5+3))]}; len=${st[$((i*5+4))]}
    i=$((i+1))
    if [ "$pk" = 1 ] && [ "$npk" = 1 ] && [ "$type" = INTEGER ]; then
      continue  # rowid alias: SQLite assigns it, as for rollproof's serial ids
    fi
    if [ "$nulls" = "$n" ]; then
      continue  # always NULL: the column default (NULL) is what the surrogate has
    fi
    if [ "$texts" -ge "$ints" ] && [ "$texts" -ge "$reals" ]; then
      if [ "$uniq" = 1 ] || [ "$pk" != 0 ]; then
        v="printf('%.*s%d', max($len - length(n), 0), hex(randomblob(($len + 1) / 2)), n)"
      elif [ "$len" -le 32 ] && labels=$(distinct_labels "$t" "$name"); then
        v="$labels"
      elif [ "$sec" = 1 ]; then
        v="printf('%0*d', $len, n)"
      else
        v="printf('%.*c', $len, 'x')"
      fi
    elif [ "$reals" -gt "$ints" ]; then
      v="n * 0.5"
    elif [ "$type" = BOOLEAN ]; then
      v="n % 2"
    else
      v="n"
    fi
    if [ "$nulls" -gt 0 ]; then
      # NULL in the same share of rows, spread evenly.
      v="CASE WHEN (n * $nulls) / $n <> ((n - 1) * $nulls) / $n THEN NULL ELSE $v END"
    fi
    names+=("\"$name\""); exprs+=("$v")
  done <<<"$cols"
  list=$(IFS=,; echo "${names[*]}"); vals=$(IFS=,; echo "${exprs[*]}")
  echo "BEGIN; INSERT INTO \"$t\" ($list) WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < $n) SELECT $vals FROM c; COMMIT;" >>"$sql"
done
"$SQLITE" "$db" "SELECT sql || ';' FROM sqlite_schema WHERE type='index' AND sql IS NOT NULL" >>"$sql"

# --- 3. the shell ------------------------------------------------------------
sh_times=(); sh_ins=(); sh_cpu=(); sh_rss=0
for i in $(seq 1 "$runs"); do
  rm -f "$dir/baseline.db"
  sync
  t0=$(now)
  /usr/bin/time -v -o "$dir/sqlite3.time" "$SQLITE" -bail "$dir/baseline.db" <"$sql" >/dev/null
  t1=$(now)
  # rollproof fsyncs its output before the atomic rename; make the
  # baseline's file just as durable, and time that separately.
  sync "$dir/baseline.db"
  t2=$(now)
  sh_times+=("$(echo "$t2 - $t0" | bc -l)")
  sh_ins+=("$(echo "$t1 - $t0" | bc -l)")
  sh_cpu+=("$(cpu_s "$dir/sqlite3.time")")
  r=$(rss_kib "$dir/sqlite3.time"); [ "$r" -gt "$sh_rss" ] && sh_rss=$r
done
base_size=$(stat -c %s "$dir/baseline.db")
base_rows=$("$SQLITE" "$dir/baseline.db" "SELECT sum(n) FROM ($(
  "$SQLITE" "$dir/baseline.db" "SELECT group_concat('SELECT count(*) AS n FROM \"' || name || '\"', ' UNION ALL ') FROM sqlite_schema WHERE type='table' AND name NOT LIKE 'sqlite_%'"
))")

rp=$(printf '%s\n' "${rp_times[@]}" | median)
sh=$(printf '%s\n' "${sh_times[@]}" | median)
shi=$(printf '%s\n' "${sh_ins[@]}" | median)
ratio=$(echo "$rp / $sh" | bc -l)
rpc=$(printf '%s\n' "${rp_cpu[@]}" | median)
shc=$(printf '%s\n' "${sh_cpu[@]}" | median)
rss_mib=$(echo "$rp_rss / 1024" | bc -l)

printf 'rollproof generate --scale %s: %.2f s wall  %.2f s CPU  %d bytes  %d rows  peak RSS %.1f MiB  (median of %d)\n' \
  "$scale" "$rp" "$rpc" "$size" "$rows" "$rss_mib" "$runs"
printf 'sqlite3 %s recursive CTE:    %.2f s wall (insert %.2f s, then fsync)  %.2f s CPU  %d bytes  %d rows  peak RSS %.1f MiB\n' \
  "$("$SQLITE" --version | cut -d' ' -f1)" "$sh" "$shi" "$shc" "$base_size" "$base_rows" "$(echo "$sh_rss / 1024" | bc -l)"
printf 'ratio rollproof / sqlite3: %.2fx wall (%.2fx against the insert alone), %.2fx CPU (target <= 2x, wall)\n' \
  "$ratio" "$(echo "$rp / $shi" | bc -l)" "$(echo "$rpc / $shc" | bc -l)"
printf 'load average at the end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'rollproof peak RSS: %.1f MiB (target < 128 MiB)\n' "$rss_mib"

[ "$rows" = "$base_rows" ] || echo "bench: warning: row counts differ ($rows vs $base_rows)" >&2
missed=0
if [ "$(echo "$ratio > 2" | bc -l)" = 1 ]; then echo "bench: MISSED: time ratio above 2x" >&2; missed=1; fi
if [ "$(echo "$rss_mib >= 128" | bc -l)" = 1 ]; then echo "bench: MISSED: peak RSS not under 128 MiB" >&2; missed=1; fi
if [ "$missed" = 1 ] && [ "$strict" = 1 ]; then exit 1; fi
exit 0
