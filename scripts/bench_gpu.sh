#!/usr/bin/env bash
# GPU training speed (`make bench-gpu`; also run by `make bench`): bf16 training steps of random-init
# models at T=1024 -- d12 with B=16 and B=32, d24 with B=16 -- reporting tokens/s, MFU against the
# H100's dense bf16 peak (989 TFLOP/s; FLOPs per token from gpt2_train_flops_per_token) and the GPU
# memory the process holds. Anchor: llm.c on an H100 does 317.6k tok/s at d12 B=16 in 12.4 GB.
# Usage: scripts/bench_gpu.sh [STEPS]   (default 20 timed steps after 3 warm-up steps)
set -uo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-20}
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "bench_gpu: skipped: no GPU"; exit 0
fi
[ -x ./test_gpt2cu ] || { echo "bench_gpu: error: ./test_gpt2cu is not built (run make with nvcc installed)" >&2; exit 1; }
[ -d .device/lib ] && export LD_LIBRARY_PATH="$PWD/.device/lib:${LD_LIBRARY_PATH:-}"
status=0
for config in "d12 16" "d12 32" "d24 16"; do
  set -- $config
  ./test_gpt2cu --mode bench --model_name "$1" --batch "$2" --seq 1024 --steps "$STEPS" | grep "^bench" || status=1
done
exit $status
