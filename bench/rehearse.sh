#!/usr/bin/env bash
# Benchmark: a full `restore` rehearsal on a ~1 GiB surrogate against a
# shell baseline doing the same physical work, in the same run (issue #3).
#
#   rollproof: rehearse a scenario (copy snapshot, N births through
#     fn_birth_register, restore by copy) on the surrogate, under
#     /usr/bin/time -v (wall time, peak RSS). This includes everything a
#     rehearsal always does: the guard's working copy (adopt_copy) and its
#     provenance checks, file SHA-256, the logical hash, integrity_check and
#     foreign_key_check at before and after-apply (carried over at the
#     byte-identical snapshot and after-rollback phases), the report.
#   shell baseline: cp (working copy), sha256sum, cp (snapshot), the same N
#     births as SQL through the sqlite3 shell (one transaction), sha256sum,
#     cp back, sha256sum — and the same with `openssl dgst -sha256`, the
#     SHA-NI speed limit on this kind of machine.
#   file hashing: rollproof's file SHA-256 path (`apply-worker
#     --file-sha256`, the function every phase uses) vs sha256sum and
#     openssl on the same file, warm cache.
#
# Targets: rehearsal wall time within 1.5x of the baseline, file hashing at
# least 90% of sha256sum's throughput, peak RSS under 128 MiB.
# Usage: bench/rehearse.sh [--scale N] [--births N] [--dir D] [--no-build] [--keep]
set -euo pipefail

scale=12
births=2000
dir=""
build=1
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) scale="$2"; shift 2 ;;
    --births) births="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --keep) keep=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
repo="$(cd "$(dirname "$0")/.." && pwd)"
[ -n "$dir" ] || dir="$(mktemp -d /tmp/rollproof-bench-rehearse.XXXXXX)"
mkdir -p "$dir"
[ "$keep" = 1 ] || trap 'rm -rf "$dir"' EXIT
if [ "$build" = 1 ]; then (cd "$repo" && cargo build --release --quiet); fi
rp="$repo/target/release/rollproof"
export ROLLPROOF_WORKSPACE="$dir/ws"

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l; }

echo "== generating the surrogate (default profile, --scale $scale)"
"$rp" generate --profile "$repo/surrogates/profiles/default.toml" --seed 7 --scale "$scale" --out "$dir/base.db" --force
size=$(stat -c %s "$dir/base.db")
echo "surrogate: $size bytes"

cat > "$dir/bench.toml" <<TOML
[scenario]
name = "bench-restore"
description = "benchmark: $births births, copy snapshot, restore by copy"
expect = "PASS"
[surrogate]
file = "base.db"
[apply]
kind = "births"
count = $births
seed = 11
kinds = { meter = 1.0, sensor = 1.0 }
[snapshot]
method = "copy"
[rollback]
method = "restore"
TOML
"$rp" apply-worker --db "$dir/base.db" --emit-sql --count "$births" --seed 11 > "$dir/births.sql"

# Warm the page cache for both sides alike.
cat "$dir/base.db" > /dev/null

echo "== rollproof rehearse"
/usr/bin/time -v -o "$dir/time.txt" "$rp" rehearse "$dir/bench.toml" --reports "$dir/reports" --json > "$dir/rehearse.json"
rp_wall=$(grep -E "Elapsed \(wall clock\)" "$dir/time.txt" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
rp_rss=$(grep "Maximum resident set size" "$dir/time.txt" | awk '{print $NF}')
report=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["report"])' "$dir/rehearse.json")
python3 - "$report" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"verdict {r['verdict']} ({r['proof']}); steps (ms):", ", ".join(f"{k} {v}" for k, v in r["timing_ms"].items()))
PY

baseline() { # $1 = hash command
  local h="$1" t0 t1
  rm -f "$dir/b.db" "$dir/b-snap.db"
  t0=$(now)
  cp "$dir/base.db" "$dir/b.db"
  $h "$dir/b.db" > /dev/null
  cp "$dir/b.db" "$dir/b-snap.db"
  sqlite3 "$dir/b.db" < "$dir/births.sql"
  $h "$dir/b.db" > /dev/null
  cp "$dir/b-snap.db" "$dir/b.db"
  $h "$dir/b.db" > /dev/null
  t1=$(now)
  secs "$t0" "$t1"
}
echo "== shell baseline (cp, sqlite3 births, cp back, 3 hashes)"
base_sum=$(baseline sha256sum)
base_ssl=$(baseline "openssl dgst -sha256")
cmp -s "$dir/b.db" "$dir/base.db" && echo "baseline restored byte-exactly"

echo "== file hashing, warm cache"
hash_time() { local t0 t1; t0=$(now); "$@" > /dev/null; t1=$(now); secs "$t0" "$t1"; }
h_rp=$(hash_time "$rp" apply-worker --db "$dir/base.db" --file-sha256)
h_sum=$(hash_time sha256sum "$dir/base.db")
h_ssl=$(hash_time openssl dgst -sha256 "$dir/base.db")

mb() { echo "$size / $1 / 1048576" | bc -l; }
printf '\n%-44s %10s\n' "measure" "value"
printf '%-44s %10.2f s\n' "rollproof rehearse (restore) wall" "$rp_wall"
printf '%-44s %10.2f s\n' "baseline with sha256sum" "$base_sum"
printf '%-44s %10.2f s\n' "baseline with openssl dgst -sha256" "$base_ssl"
printf '%-44s %10.2f x\n' "ratio rollproof / baseline(sha256sum)" "$(echo "$rp_wall / $base_sum" | bc -l)"
printf '%-44s %10.2f x\n' "ratio rollproof / baseline(openssl)" "$(echo "$rp_wall / $base_ssl" | bc -l)"
printf '%-44s %10.0f MiB/s\n' "file hashing: rollproof" "$(mb "$h_rp")"
printf '%-44s %10.0f MiB/s\n' "file hashing: sha256sum" "$(mb "$h_sum")"
printf '%-44s %10.0f MiB/s\n' "file hashing: openssl dgst -sha256" "$(mb "$h_ssl")"
printf '%-44s %10.0f %%\n' "rollproof hashing vs sha256sum" "$(echo "100 * $h_sum / $h_rp" | bc -l)"
printf '%-44s %10.0f %%\n' "rollproof hashing vs openssl" "$(echo "100 * $h_ssl / $h_rp" | bc -l)"
printf '%-44s %10.1f MiB\n' "rollproof peak RSS" "$(echo "$rp_rss / 1024" | bc -l)"
