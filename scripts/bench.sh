#!/usr/bin/env bash
# `make bench`: runs every scripts/bench_*.sh in turn; each prints its own figures.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
for b in scripts/bench_*.sh; do
  [ -f "$b" ] || continue
  echo "== $b"
  bash "$b" || { echo "benchmark $b failed"; status=1; }
done
exit $status
