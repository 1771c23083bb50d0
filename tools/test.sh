#!/usr/bin/env bash
# The README's test command: set up what the tests need, then run them.
#
#   bash tools/test.sh [cargo test arguments…]
#
# The end-to-end tests also run the stock tools rollproof's evidence is
# checked against (sqlite3, python3, sha256sum, ssh-keygen), start their own
# throwaway PostgreSQL server (initdb, pg_ctl; pg_dump and pg_restore), and
# build SQLite from source (a C compiler). What is missing is installed when
# this runs as root on a Debian/Ubuntu machine (apt-get, as CI does);
# otherwise the one command to run is printed and nothing else happens.
# .ci/run calls exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."

# Keep in step with rust-version in Cargo.toml (the locked rusqlite needs it).
msrv="1.89"

say() { echo "test.sh: $*" >&2; }

if ! command -v cargo >/dev/null 2>&1; then
  say "cargo is not installed; install Rust $msrv or newer first:"
  say "  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh"
  exit 2
fi
have=$(rustc --version 2>/dev/null | awk '{print $2}')
if [ -n "$have" ] && [ "$(printf '%s\n%s\n' "$msrv" "$have" | sort -V | head -n1)" != "$msrv" ]; then
  say "rustc $have is older than $msrv (needed by the locked dependencies); run: rustup update stable"
  exit 2
fi

missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need cc gcc
need sqlite3 sqlite3
need python3 python3
need sha256sum coreutils
need ssh-keygen openssh-client
need pg_dump postgresql-client
need pg_restore postgresql-client
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
if [ ${#missing[@]} -gt 0 ]; then
  # One package may satisfy several tools; list each once.
  mapfile -t pkgs < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
  else
    say "missing: ${pkgs[*]}. Install them, then run this again:"
    if command -v apt-get >/dev/null 2>&1; then
      say "  sudo apt-get install -y ${pkgs[*]}"
    else
      say "  (with your system's package manager: a C compiler, sqlite3, python3, OpenSSH's ssh-keygen, the PostgreSQL server and client)"
    fi
    exit 2
  fi
fi

exec cargo test --locked "$@"
