#!/usr/bin/env bash
# Benchmark: `rollproof migrations` on a 50-migration folder over a
# production-sized database (1,000,000 rows per table by default), against
# a shell baseline in the same run (issue #16, "Speed").
#
#   bench/migrations.sh [ROWS] [STEPS]    default: 1000000 rows per table, 50 steps
#
# The folder (plain layout, written under $TMPDIR, removed at exit):
# migration 1 creates two tables (`orders` and `lines`, keyed to orders);
# migrations 2..STEPS cycle through adding a column, an index, a view, a
# trigger, a second index and a CHECKed column, each with a correct down.
#
# rollproof: `rollproof migrations DIR --rows ROWS` fills both tables with
# ROWS generated rows before step 2 (data first), then per step snapshots
# (file copy, hashed), runs up, measures, down, measures, proves, runs the
# up again and measures (that state is the next step's before). A measure
# reuses the digest of every table whose page fingerprint it has seen
# (src/engine/sqlite/fingerprint.rs): only the tables a script rewrote are
# hashed row by row.
#
# Baseline (no proof): the sqlite3 shell creates the same tables, fills them
# with ROWS rows each from recursive CTEs (values of similar size), then per
# migration copies the database file (the snapshot), runs the up, the down
# and the up again with the shell. Both sides are timed whole, fill
# included. Target: rollproof at most 3x the baseline.
set -euo pipefail
cd "$(dirname "$0")/.."

rows=${1:-1000000}
steps=${2:-50}

cargo build --locked --release --quiet
bin=${CARGO_TARGET_DIR:-$PWD/target}/release/rollproof
command -v sqlite3 >/dev/null || { echo "bench: needs the sqlite3 shell" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/rollproof-mig-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
mig=$work/mig
mkdir -p "$mig"

# m N NAME UP DOWN: write one plain-layout migration.
m() { printf '%s\n' "$3" > "$mig/$1-$2.up.sql"; printf '%s\n' "$4" > "$mig/$1-$2.down.sql"; }

create_orders="CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, placed_at TEXT NOT NULL, total_cents INTEGER NOT NULL, note TEXT);
CREATE TABLE lines (id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL REFERENCES orders (id), sku TEXT NOT NULL, qty INTEGER NOT NULL);"
m 1 create "$create_orders" "DROP TABLE lines;
DROP TABLE orders;"
for i in $(seq 2 "$steps"); do
  case $(( i % 6 )) in
    0) m "$i" "col$i" "ALTER TABLE orders ADD COLUMN c$i TEXT;" "ALTER TABLE orders DROP COLUMN c$i;" ;;
    1) m "$i" "ix$i" "CREATE INDEX ix_lines_$i ON lines (sku, qty);" "DROP INDEX ix_lines_$i;" ;;
    2) m "$i" "view$i" "CREATE VIEW v$i AS SELECT o.id, count(*) AS n FROM orders o JOIN lines l ON l.order_id = o.id GROUP BY o.id;" "DROP VIEW v$i;" ;;
    3) m "$i" "trg$i" "CREATE TRIGGER t$i AFTER UPDATE ON orders BEGIN SELECT 1; END;" "DROP TRIGGER t$i;" ;;
    4) m "$i" "ix$i" "CREATE INDEX ix_orders_$i ON orders (placed_at);" "DROP INDEX ix_orders_$i;" ;;
    5) m "$i" "chk$i" "ALTER TABLE lines ADD COLUMN k$i INTEGER NOT NULL DEFAULT 0 CHECK (k$i >= 0);" "ALTER TABLE lines DROP COLUMN k$i;" ;;
  esac
done

# run LABEL CMD...: time CMD, print wall seconds and peak RSS; sets $secs.
run() {
  local label=$1; shift
  local log="$work/time.log"
  /usr/bin/time -v "$@" >"$work/out.log" 2>"$log" || {
    local rc=$?
    echo "bench: $label failed ($rc):" >&2; tail -20 "$work/out.log" "$log" >&2; exit 1; }
  secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {
    n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$log")
  local rss
  rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$log")
  awk -v l="$label" -v s="$secs" -v r="$rss" 'BEGIN {
    printf "%-28s %8.2f s  peak RSS %6.1f MiB\n", l, s, r / 1024 }'
}

baseline() {
  local db=$work/base.db
  rm -f "$db"
  sqlite3 "$db" "$create_orders
BEGIN;
INSERT INTO orders SELECT i, 'customer-' || (i % 9973) || '-' || hex(randomblob(6)),
  date('2023-01-01', '+' || (i % 700) || ' days'), (i * 37) % 100000,
  CASE WHEN i % 3 = 0 THEN NULL ELSE 'note ' || hex(randomblob(10)) END
  FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $rows) SELECT i FROM n);
INSERT INTO lines SELECT i, 1 + (i * 7919) % $rows, 'SKU-' || hex(randomblob(5)), 1 + i % 9
  FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $rows) SELECT i FROM n);
COMMIT;"
  for i in $(seq 2 "$steps"); do
    cp "$db" "$work/snap.db"
    sqlite3 "$db" < "$mig/$i"-*.up.sql
    sqlite3 "$db" < "$mig/$i"-*.down.sql
    sqlite3 "$db" < "$mig/$i"-*.up.sql
  done
  ls -l "$db" | awk '{ printf "bench: baseline database %.1f MB\n", $5 / 1e6 }'
}
export -f baseline
export work mig steps rows create_orders

echo "bench: $(nproc) CPUs; $steps migrations, $rows rows per table"
run "baseline (sqlite3 shell)" bash -c baseline
base=$secs
run "rollproof migrations" "$bin" migrations "$mig" --rows "$rows" \
  --workspace "$work/ws" --reports "$work/reports"
ours=$secs
grep -E '^(PASS|FAIL)' "$work/out.log" || true
awk -v a="$ours" -v b="$base" 'BEGIN { printf "bench: ratio rollproof / baseline = %.2fx (target <= 3x)\n", a / b }'
