#!/usr/bin/env bash
# Runs every tests/test_*.sh (or those named on the command line) and ends with
# "N passed, N failed, N skipped"; exits non-zero if anything failed.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
RESULTS=$(mktemp)
export RESULTS
trap 'rm -f "$RESULTS"' EXIT
scripts=("$@")
[ ${#scripts[@]} -eq 0 ] && scripts=(tests/test_*.sh)
start=$(date +%s)
for t in "${scripts[@]}"; do
  echo "== $t"
  before=$(grep -c fail "$RESULTS" || true)
  t0=$(date +%s)
  bash "$t"; rc=$?
  after=$(grep -c fail "$RESULTS" || true)
  if [ $rc -ne 0 ] && [ "$after" -eq "$before" ]; then
    echo "  FAIL  $t exited with status $rc"; echo fail >> "$RESULTS"
  fi
  echo "   ($(( $(date +%s) - t0 )) s)"
done
passed=$(grep -c '^pass$' "$RESULTS" || true)
failed=$(grep -c '^fail$' "$RESULTS" || true)
skipped=$(grep -c '^skip$' "$RESULTS" || true)
echo "total time $(( $(date +%s) - start )) s"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
