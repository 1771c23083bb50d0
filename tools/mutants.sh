#!/usr/bin/env bash
# Mutation-test the rules a reviewer relies on (issue #18, docs/TESTING.md).
# Each mutant swaps an operator or replaces a return value in one of the files
# listed in .cargo/mutants.toml; the library's unit tests must then fail. A
# mutant that survives is a rule no test pins. Not part of CI (too slow): run
# it before resolving any change to those files, and say so in the notes.
#
#   bash tools/mutants.sh                        # every rule file
#   bash tools/mutants.sh --re "^src/proof/rules.rs"  # one file (-f adds to the list)
#   bash tools/mutants.sh --list                 # what would be mutated
#
# Extra arguments go to cargo-mutants. Results: target/mutants/mutants.out
# (caught.txt, missed.txt, unviable.txt, timeout.txt). Exit status is
# cargo-mutants' own: 0 every mutant caught, 2 some missed, 3 timeouts,
# 4 the unmutated tree already fails.
set -euo pipefail
cd "$(dirname "$0")/.."
version=27.1.0
if ! cargo mutants --version 2>/dev/null | grep -q "$version"; then
  echo "mutants: installing cargo-mutants $version (once)..." >&2
  cargo install --locked --version "$version" cargo-mutants
fi
# cargo-mutants writes its results under target/, which a fresh clone lacks.
mkdir -p target
exec cargo mutants --jobs 1 "$@"
