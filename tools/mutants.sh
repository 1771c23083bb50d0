#!/usr/bin/env bash
# Mutation-test the rules a reviewer relies on (issue #18, docs/TESTING.md).
# Each mutant swaps an operator or replaces a return value in one of the files
# listed in .cargo/mutants.toml; the unit tests of that file's module must
# then fail. A mutant that survives is a rule no test pins. Not part of CI
# (too slow): run it before resolving any change to those files, and say so
# in the notes.
#
#   bash tools/mutants.sh proof                 # src/proof/{verdict,rules,judge}.rs
#   bash tools/mutants.sh evidence              # canonical JSON, seal drift
#   bash tools/mutants.sh guard                 # grant policy, guard path and URL
#   bash tools/mutants.sh all                   # the three groups, one after the other
#   bash tools/mutants.sh proof --re 'rules.rs:3[0-9][0-9]:'   # narrow a group
#   bash tools/mutants.sh proof --list          # what would be mutated
#
# Extra arguments go to cargo-mutants (e.g. --timeout 120 --build-timeout 600
# on a loaded machine, --baseline skip on a re-run). Results of group G:
# target/mutants-G/mutants.out/ (caught.txt, missed.txt, unviable.txt,
# timeout.txt, outcomes.json). Exit status is cargo-mutants' own (the last
# group's for `all`): 0 every mutant caught, 2 some missed, 3 timeouts, 4 the
# unmutated tree already fails.
#
# Each group runs only its own module's unit tests (`cargo test --lib
# proof::`, ...): they are where the rules are pinned, and a mutant caught
# only by some far-away test is a rule its own tests do not pin.
#
# The mutants are built in a copy of the source tree, target/mutants-tree/,
# mutated in place: the worktree stays free to edit during a run, and the
# copy's own target/ keeps the `mutants` profile build of the dependencies
# between runs (cargo-mutants' default scratch copy rebuilds every
# dependency on every run: 45 minutes on a loaded 2-core machine).
set -euo pipefail
cd "$(dirname "$0")/.."
version=27.1.0
if ! cargo mutants --version 2>/dev/null | grep -q "$version"; then
  echo "mutants: installing cargo-mutants $version (once)..." >&2
  cargo install --locked --version "$version" cargo-mutants
fi

group=${1:-}
case "$group" in
  proof) files=(src/proof/verdict.rs src/proof/rules.rs src/proof/judge.rs) ;;
  evidence) files=(src/evidence/canonical.rs src/evidence/seal/drift.rs) ;;
  guard) files=(src/guard/grant.rs src/guard/path.rs src/guard/url.rs) ;;
  all)
    shift
    status=0
    for g in proof evidence guard; do
      bash "$0" "$g" "$@" || status=$?
    done
    exit "$status"
    ;;
  *)
    echo "usage: bash tools/mutants.sh proof|evidence|guard|all [cargo-mutants args]" >&2
    exit 2
    ;;
esac
shift

# The copy: every tracked or new (not ignored) file as it is in the
# worktree now; its target/ is kept. MUTANTS_TREE names another copy, for a
# second run at the same time (a copy is mutated by one run at a time),
# and MUTANTS_OUT its results folder.
tree=${MUTANTS_TREE:-target/mutants-tree}
mkdir -p "$tree"
find "$tree" -mindepth 1 -maxdepth 1 ! -name target -exec rm -rf {} +
git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
  tar --null -T - -cf - | tar -xf - -C "$tree"

file_args=()
for f in "${files[@]}"; do file_args+=(-f "$f"); done
out=${MUTANTS_OUT:-$PWD/target/mutants-$group}
mkdir -p "$out"
status=0
cargo mutants --dir "$tree" --in-place --output "$out" \
  "${file_args[@]}" "$@" -- "$group::" || status=$?
# In place, an interrupted run can leave a mutant behind; the next run
# copies afresh, and this says so now.
if grep -rlq 'changed by cargo-mutants' "$tree/src" 2>/dev/null; then
  echo "mutants: a mutant is still applied in $tree (interrupted?); the next run copies afresh" >&2
fi
exit "$status"
