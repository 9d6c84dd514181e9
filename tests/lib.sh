# Sourced by every tests/test_*.sh. Each check records one result line in $RESULTS
# (pass/fail/skip); tests/run_tests.sh counts them.
# Programs are run from the repository root; scratch space is $TMP (removed afterwards).
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY=/usr/bin/python3          # Debian's python, which has torch, sklearn, numpy
NODE_PATH="$ROOT/build/npm/node_modules"; export NODE_PATH
: "${RESULTS:=/dev/null}"
TMP=$(mktemp -d /tmp/memlens-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

pass() { echo "  ok    $1"; echo pass >> "$RESULTS"; }
fail() { echo "  FAIL  $1"; echo fail >> "$RESULTS"; }
skip() { echo "  skipped: $1"; echo skip >> "$RESULTS"; }

# check NAME CMD...: passes when CMD exits 0; on failure prints the last lines of its output.
# MEMLENS_TEST_TIMES=1 prints the seconds each check took, below its line (to see where `make test` spends its time).
check() {
  local name=$1; shift
  local log="$TMP/.check.log" t0=$SECONDS
  if "$@" > "$log" 2>&1; then pass "$name"; else fail "$name"; tail -n 15 "$log" | sed 's/^/        /'; fi
  [ -z "${MEMLENS_TEST_TIMES:-}" ] || echo "        ($((SECONDS - t0)) s)"
}

# expect_error NAME PATTERN CMD...: CMD must exit non-zero, print exactly one line on stderr,
# and that line must match the extended regex PATTERN.
expect_error() {
  local name=$1 pattern=$2; shift 2
  local out="$TMP/.err.out" err="$TMP/.err.err" rc=0
  "$@" > "$out" 2> "$err" || rc=$?
  local lines; lines=$(grep -c '' "$err" || true)
  if [ "$rc" -eq 0 ]; then fail "$name (exit code 0, expected an error)"; return; fi
  if [ "$lines" -ne 1 ]; then fail "$name (expected one line on stderr, got $lines)"; sed 's/^/        /' "$err" | head -5; return; fi
  if ! grep -Eq -- "$pattern" "$err"; then fail "$name (message does not match /$pattern/)"; sed 's/^/        /' "$err"; return; fi
  pass "$name"
}

# OpenMPI as the tests use it, in the array MPIRUN: --oversubscribe (more ranks than the 2 cores),
# --allow-run-as-root where the tests run as root, no cross-process memory access (containers
# often forbid it). Extra mpirun flags go after it: "${MPIRUN[@]}" -x VAR -np 2 PROGRAM ...
mpi_launcher() {
  MPIRUN=(mpirun --oversubscribe)
  [ "$(id -u)" -eq 0 ] && MPIRUN+=(--allow-run-as-root)
  export OMPI_MCA_btl_vader_single_copy_mechanism=none
}

have_gpu() { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; }
