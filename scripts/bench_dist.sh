#!/usr/bin/env bash
# Data-parallel CPU training throughput: the same global batch trained by 1 process (1 and 2
# threads) and by 2 MPI ranks of 1 thread each. Prints tokens/s (median over the steps after the
# first) and the 2-rank speedup over 1 process with 1 thread. Skips without an MPI build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
if ! command -v mpirun > /dev/null || [[ "$(ldd ./train_gpt2 2>/dev/null)" != *libmpi* ]]; then
  echo "bench_dist: skipped (train_gpt2 is not built with MPI)"; exit 0
fi
TMP=$(mktemp -d /tmp/memlens-bench-dist.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
MPIRUN=(mpirun --oversubscribe --bind-to none)
[ "$(id -u)" -eq 0 ] && MPIRUN+=(--allow-run-as-root)
STEPS=${STEPS:-12}
$PY - "$TMP/train.bin" <<'EOF2'
import sys
import numpy as np
rng = np.random.default_rng(0)
n, R = 256, 129
toks = rng.integers(0, 2047, size=(n, R)).astype("<u2")
toks[:, 0] = 2047
header = np.zeros(256, dtype="<i4")
header[:4] = [20240520, 1, n * R, R]
with open(sys.argv[1], "wb") as f:
    f.write(header.tobytes())
    f.write(toks.tobytes())
EOF2
# L=4, C=256: 3.7M parameters; T=128, 8 rows per rank per pass, 2 passes on 1 process.
ARGS=(--layers 4 --channels 256 --heads 4 --vocab_size 2048 --train_file "$TMP/train.bin" --validation_file none
      --per_device_train_batch_size 8 --total_batch_size 2048 --max_steps "$STEPS" --quiet)
median() { $PY -c "import json,statistics,sys; r=[json.loads(l)['tokens_per_second'] for l in open(sys.argv[1])][1:]; print('%.0f' % statistics.median(r))" "$1"; }
./train_gpt2 "${ARGS[@]}" --threads 1 --output_dir "$TMP/t1" > /dev/null
./train_gpt2 "${ARGS[@]}" --threads 2 --output_dir "$TMP/t2" > /dev/null
"${MPIRUN[@]}" -np 2 ./train_gpt2 "${ARGS[@]}" --threads 1 --output_dir "$TMP/r2" > /dev/null
one=$(median "$TMP/t1/train_log.jsonl"); two_threads=$(median "$TMP/t2/train_log.jsonl"); ranks=$(median "$TMP/r2/train_log.jsonl")
echo "train_gpt2 L4 C256 T128, 2048 tokens per step, $(nproc) cores:"
echo "  1 process, 1 thread:    $one tokens/s"
echo "  1 process, 2 threads:   $two_threads tokens/s"
echo "  2 MPI ranks x 1 thread: $ranks tokens/s  ($(awk -v a="$ranks" -v b="$one" 'BEGIN{printf "%.2f", a/b}')x the 1-thread process)"
