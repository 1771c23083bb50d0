#!/usr/bin/env bash
# Derive the surrogate's Directus part from a real Directus bootstrap
# (issue #15): nothing of it is typed by hand.
#
#   surrogates/directus/directus-<V>.toml            `rollproof profile --url`
#       of the bootstrapped database: its complete schema (33 directus_*
#       tables, columns in Directus's order, types, defaults, keys, indexes,
#       sequences) and value-free statistics; no row values.
#   surrogates/directus/directus-<V>-migrations.tsv  version<TAB>name of
#       every row of directus_migrations: the migrations Directus checks
#       on start (identifiers from Directus's code, no user data).
#
# Usage: tools/directus-describe.sh URL VERSION
#   URL      postgres://user@127.0.0.1:port/db of a database that
#            `npx directus bootstrap` (Directus VERSION) has just created
#   ROLLPROOF  the rollproof binary [target/debug/rollproof]
# Example (the lead's install, docs/SURFACE.md):
#   tools/directus-describe.sh postgres://postgres@127.0.0.1:55432/dx 12.4.1
# Then: rollproof seal --regenerate-fixtures, and commit both files.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
url=${1:?usage: tools/directus-describe.sh URL VERSION}
version=${2:?usage: tools/directus-describe.sh URL VERSION}
ROLLPROOF=${ROLLPROOF:-$root/target/debug/rollproof}
PSQL=${PSQL:-/usr/lib/postgresql/15/bin/psql}
out="$root/surrogates/directus"
mkdir -p "$out"
# Row estimates come from the planner's statistics: analyze the fresh
# bootstrap (a throwaway database) so the counts are exact.
"$PSQL" -X -q -v ON_ERROR_STOP=1 "$url" -c ANALYZE
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$ROLLPROOF" profile --url "$url" --out "$tmp/p.toml"
# Name the description after the release, not after the database.
sed -e "1,6s/^name = .*/name = \"directus-$version\"/" \
    -e "1,6s/^description = .*/description = \"Directus $version bootstrap on PostgreSQL, extracted by \`rollproof profile --url\` (tools\/directus-describe.sh): schema and statistics only, no row values.\"/" \
    "$tmp/p.toml" >"$out/directus-$version.toml"
"$PSQL" -X -q -v ON_ERROR_STOP=1 "$url" -At \
  -c "COPY (SELECT version, name FROM directus_migrations ORDER BY version) TO STDOUT" \
  >"$out/directus-$version-migrations.tsv"
echo "wrote $out/directus-$version.toml and directus-$version-migrations.tsv"
