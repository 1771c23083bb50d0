#!/usr/bin/env bash
# PostgreSQL benchmark (issue #8): the default profile at ~1 GiB (--scale 12)
# on a throwaway PostgreSQL cluster, in one run:
#   - generating the surrogate into PostgreSQL (rollproof generate --target-url),
#   - the logical-hash throughput (rollproof hash --target-url, MB/s of COPY text),
#   - snapshot/restore: CREATE DATABASE … TEMPLATE (FILE_COPY and WAL_LOG)
#     versus pg_dump -Fc / pg_restore,
#   - two full rehearsals (template and pg-dump snapshots, 500 births,
#     restore rollback) with their phase timings from the proof reports.
# Usage: bench/postgres.sh [SCALE]   (default 12; ~1 GiB as a SQLite file)
# Runs as root too (the server then runs as `nobody`). Durability settings
# are PostgreSQL's defaults (fsync on); results go to stdout and
# $OUT (default bench/postgres-results.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${1:-12}
OUT=${OUT:-bench/postgres-results.txt}
REPS=${REPS:-3}

cargo build --release --quiet
BIN=$PWD/target/release/rollproof

pgbin() {
  if command -v "$1" >/dev/null 2>&1; then command -v "$1"; return; fi
  ls /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -1
}
INITDB=$(pgbin initdb); PGCTL=$(pgbin pg_ctl); PSQL=$(pgbin psql)
PGDUMP=$(pgbin pg_dump); PGRESTORE=$(pgbin pg_restore)
for p in "$INITDB" "$PGCTL" "$PSQL" "$PGDUMP" "$PGRESTORE"; do
  [ -x "$p" ] || { echo "bench: PostgreSQL programs missing (install postgresql)" >&2; exit 2; }
done

WORK=$(mktemp -d /tmp/rollproof-bench-XXXXXX)
RUNAS=()
if [ "$(id -u)" = 0 ]; then chown nobody "$WORK"; RUNAS=(runuser -u nobody --); fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() {
  "${RUNAS[@]}" "$PGCTL" -D "$WORK/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
"${RUNAS[@]}" env LC_ALL=C "$INITDB" -D "$WORK/data" --auth=trust -U rollproof --locale=C -E UTF8 >/dev/null
"${RUNAS[@]}" "$PGCTL" -D "$WORK/data" -l "$WORK/server.log" -w start -o \
  "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$WORK -c shared_buffers=1GB -c max_wal_size=8GB -c checkpoint_timeout=30min" >/dev/null
SERVER=postgres://rollproof@127.0.0.1:$PORT
DB=rollproof_bench
psql_t() { "$PSQL" -X -q -A -t -h 127.0.0.1 -p "$PORT" -U rollproof "$@"; }
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2-$1:.2f}')"; }
median() { python3 -c "import sys,statistics; print(f'{statistics.median(float(x) for x in sys.argv[1:]):.2f}')" "$@"; }

{
echo "# rollproof PostgreSQL benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "# $("$PSQL" --version), $(nproc) CPUs, scale $SCALE, medians of $REPS"
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

t0=$(now)
"$BIN" generate --profile surrogates/profiles/default.toml --scale "$SCALE" --seed 7 \
  --target-url "$SERVER/$DB" --json > "$WORK/generate.json"
t1=$(now)
size=$(psql_t postgres -c "SELECT pg_database_size('$DB')")
rows=$(python3 -c "import json; print(sum(json.load(open('$WORK/generate.json'))['rows'].values()))")
echo "generate into PostgreSQL (SQLite generation + COPY load + constraints + hash): $(secs "$t0" "$t1") s; $rows rows; database $((size / 1048576)) MiB"

hs=(); mbs=()
for _ in $(seq "$REPS"); do
  "$BIN" hash --target-url "$SERVER/$DB" --json > "$WORK/hash.json"
  hs+=("$(python3 -c "import json; print(json.load(open('$WORK/hash.json'))['seconds'])")")
  mbs+=("$(python3 -c "import json; print(json.load(open('$WORK/hash.json'))['mb_per_s'])")")
done
copy=$(python3 -c "import json; print(json.load(open('$WORK/hash.json'))['copy_bytes'])")
echo "logical hash (ordered COPY of every table into SHA-256): $(median "${hs[@]}") s; $((copy / 1000000)) MB of COPY text; $(median "${mbs[@]}") MB/s"

for strategy in FILE_COPY WAL_LOG; do
  ts=()
  for _ in $(seq "$REPS"); do
    a=$(now); psql_t postgres -c "CREATE DATABASE ${DB}_tpl TEMPLATE $DB STRATEGY $strategy"; b=$(now)
    ts+=("$(secs "$a" "$b")")
    psql_t postgres -c "DROP DATABASE ${DB}_tpl"
  done
  echo "snapshot CREATE DATABASE … TEMPLATE (STRATEGY $strategy): $(median "${ts[@]}") s"
done

ds=(); rs=()
for _ in $(seq "$REPS"); do
  a=$(now)
  "$PGDUMP" -h 127.0.0.1 -p "$PORT" -U rollproof -Fc --no-owner --no-privileges \
    --exclude-schema=rollproof_meta -f "$WORK/bench.dump" "$DB"
  b=$(now)
  psql_t postgres -c "CREATE DATABASE ${DB}_rst TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
  c=$(now)
  "$PGRESTORE" -h 127.0.0.1 -p "$PORT" -U rollproof --no-owner --no-privileges \
    --exit-on-error --single-transaction -d "${DB}_rst" "$WORK/bench.dump"
  d=$(now)
  psql_t postgres -c "DROP DATABASE ${DB}_rst"
  ds+=("$(secs "$a" "$b")"); rs+=("$(secs "$b" "$d")")
done
echo "snapshot pg_dump -Fc: $(median "${ds[@]}") s ($(( $(stat -c %s "$WORK/bench.dump") / 1048576 )) MiB file); restore CREATE DATABASE + pg_restore: $(median "${rs[@]}") s"
psql_t postgres -c "DROP DATABASE $DB"

for method in template pg-dump; do
  cat > "$WORK/bench-$method.toml" <<TOML
[scenario]
name = "bench-pg-$method"
description = "benchmark: default profile at scale $SCALE on PostgreSQL, $method snapshot"
expect = "PASS"
[surrogate]
profile = "$PWD/surrogates/profiles/default.toml"
seed = 7
scale = $SCALE
url = "$SERVER/rollproof_rehearsal"
[apply]
kind = "births"
count = 500
seed = 11
[snapshot]
method = "$method"
[rollback]
method = "restore"
TOML
  "$BIN" rehearse "$WORK/bench-$method.toml" --workspace "$WORK/ws" --reports "$WORK/reports" --json > "$WORK/rehearse-$method.json" 2>"$WORK/rehearse-$method.log" || true
  python3 - "$WORK" "$method" <<'PY'
import json, sys, glob
work, method = sys.argv[1], sys.argv[2]
summary = json.load(open(f"{work}/rehearse-{method}.json"))
r = summary["results"][0]
rep = json.load(open(r["report"]))
t = rep["timing_ms"]
print(f"rehearsal ({method} snapshot, 500 births, restore): verdict {rep['verdict']} {rep['proof']}; "
      + ", ".join(f"{k} {v/1000:.2f} s" for k, v in t.items()))
PY
done
} | tee "$OUT"
