#!/usr/bin/env bash
# The GPU verification of the CUDA trainer, as ONE script for a short GPU lease (a few minutes):
#   1. environment, nvidia-smi, (re)build only if the carried binaries are missing
#   2. test_gpt2cu against the PyTorch reference (fp32 and bf16)
#   3. determinism of the model (two runs, bitwise) in bf16 and fp32
#   4. train_gpt2cu: a short run; the same run killed after a checkpoint and resumed -> model.bin
#      bitwise equal; a third run -> bitwise equal (determinism); the loss goes down
#   5. bad input: batch size too large for GPU memory -> one line naming a batch size that fits
#   6. speed: d12 at T=1024 with B=16 and B=32, d24 with B=16 (tokens/s, MFU, GPU memory)
# Prints "PASS name" / "FAIL name" lines and the figures; full logs in $OUT/device_check_logs.tgz
# (or /tmp/device_check_logs when $OUT is unset).
# Prepare on the build machine: scripts/prepare_device.sh && make && make -C dev/cuda; carry
# .device, train_gpt2cu, test_gpt2cu, build/libllmc_portable.a and build/dev_cuda.
#   --all: also scripts/device_check_dist.sh (NCCL, issue 9) and scripts/device_check_eval.sh (the GPU
#   evaluator, issue 8; it runs first), with the portable CPU programs of .device/portable (copied over
#   ./test_memorization, ./generate_dataset and ./train_gpt2), and the GPU part of tests/test_mem_eval.sh;
#   carry test_memorizationcu, gpt2_tokenizer.bin and build/tests/test_argmax_cuda too
#   (scripts/prepare_device.sh prints the whole list).
# Usage: scripts/device_check.sh [--quick] [--all]   (--quick: no benchmark)
set -u
cd "$(dirname "$0")/.."
QUICK=0; ALL=0
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    --all) ALL=1 ;;
    *) echo "device_check: error: unknown argument $arg (use --quick and/or --all)" >&2; exit 2 ;;
  esac
done
# Logs go to a scratch folder and, at the end, into one archive in $OUT (the device tool returns few files).
LOG=/tmp/device_check_logs
rm -rf "$LOG"; mkdir -p "$LOG"
WORK=$(mktemp -d /tmp/device_check.XXXXXX)
PY=${PY:-$(command -v python3)}
source scripts/device_lib.sh  # pass, fail, run, device_library_path

# ---- 1. environment
device_library_path
if [ $ALL -eq 1 ]; then
  # The CPU programs built for any x86-64-v2 CPU replace this copy's -march=native ones.
  [ -d .device/portable ] && cp .device/portable/* . && echo "== portable CPU programs: $(ls .device/portable | tr '\n' ' ')"
  device_fallback_libs ./generate_dataset ./test_memorization ./train_gpt2 ./test_memorizationcu ./train_gpt2cu \
    build/tests/test_argmax_cuda
fi
echo "== environment: LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv,noheader || echo "nvidia-smi failed"
if [ ! -x ./train_gpt2cu ] || [ ! -x ./test_gpt2cu ]; then
  echo "== binaries missing: building with nvcc (cJSON headers from .device/include)"
  cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n1 | tr -d '.')
  CPATH="$PWD/.device/include" LIBRARY_PATH="$PWD/.device/lib" \
    make -j8 train_gpt2cu test_gpt2cu GPU_COMPUTE_CAPABILITY="${cc:-90}" NVCC="$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)" \
    LDLIBS="-lcjson -lm" > "$LOG/build.log" 2>&1 || { echo "FAIL build"; tail -n 30 "$LOG/build.log"; exit 1; }
fi
ldd ./train_gpt2cu | grep -q "not found" && { echo "FAIL libraries:"; ldd ./train_gpt2cu | grep "not found"; exit 1; }

# ---- 2. the model against the reference
check_model() {
echo "== test_gpt2cu vs the PyTorch reference"
run reference_fp32 120 ./test_gpt2cu --mode reference --precision fp32
run reference_bf16 120 ./test_gpt2cu --mode reference --precision bf16
grep -h "^fp32\|^bf16\|  logits \|  loss \|trajectory\|steps:\|FAIL" "$LOG/reference_fp32.log" "$LOG/reference_bf16.log" | sed 's/^/    /'

echo "== test_gpt2cu vs the CPU model (head sizes 16, 32, 64, 128; T=200 over several key tiles)"
run cpu_fp32 180 ./test_gpt2cu --mode cpu --precision fp32
run cpu_bf16 180 ./test_gpt2cu --mode cpu --precision bf16
grep -h "vs CPU\|FAIL" "$LOG/cpu_fp32.log" "$LOG/cpu_bf16.log" | sed 's/^/    /'
}
check_kernels() {
# The standalone kernel checks (make -C dev/cuda; carried in build/dev_cuda), when present.
if [ -d build/dev_cuda ]; then
  echo "== dev/cuda kernel checks"
  for k in attention layernorm classifier; do
    [ -x build/dev_cuda/$k ] || continue
    run "kernel_${k}_fp32" 120 build/dev_cuda/$k --precision fp32
    run "kernel_${k}_bf16" 120 build/dev_cuda/$k --precision bf16
    grep -h "^PASS\|^FAIL\|^time" "$LOG/kernel_${k}_fp32.log" "$LOG/kernel_${k}_bf16.log" | sed 's/^/    /'
  done
  if [ -x build/dev_cuda/attention ]; then
    # 16390 rows x 4 heads = 65560 blocks in y, past the GPU's 65535: the launches run in row slices.
    run kernel_attention_slices_fp32 120 build/dev_cuda/attention --B 16390 --T 8 --C 64 --NH 4 --reps 1
    run kernel_attention_slices_bf16 120 build/dev_cuda/attention --B 16390 --T 8 --C 64 --NH 4 --reps 1 --precision bf16
    grep -h "^PASS\|^FAIL" "$LOG/kernel_attention_slices_fp32.log" "$LOG/kernel_attention_slices_bf16.log" | sed 's/^/    /'
  fi
  if [ -x build/dev_cuda/decode_attention ]; then  # the evaluator's KV-cache attention (fp32 only): versions 1 and 2
    run kernel_decode_attention 120 build/dev_cuda/decode_attention
    grep -h "^FAIL\|^decode step\|^time" "$LOG/kernel_decode_attention.log" | sed 's/^/    /'
  fi
fi
}

# ---- 3. determinism of the model
check_determinism() {
echo "== determinism (model)"
run determinism_bf16 120 ./test_gpt2cu --mode determinism --precision bf16 --model_name d2 --batch 4 --seq 256 --steps 4
run determinism_fp32 120 ./test_gpt2cu --mode determinism --precision fp32 --model_name d2 --batch 4 --seq 256 --steps 4
}

# ---- 4. the trainer: kill + resume bitwise, determinism, learning
check_trainer() {
echo "== train_gpt2cu: resume and determinism"
"$PY" - "$WORK" <<'PYEOF'
import sys, numpy as np
out = sys.argv[1]
def shard(path, n, tpe, seed):
    rng = np.random.default_rng(seed)
    toks = rng.integers(0, 1000, size=(n, tpe + 1))  # a small alphabet: the unigram is learnable fast
    toks[:, 0] = 50256
    header = np.zeros(256, dtype="<i4"); header[:4] = [20240520, 1, n * (tpe + 1), tpe + 1]
    with open(path, "wb") as f:
        f.write(header.tobytes()); f.write(toks.astype("<u2").tobytes())
shard(out + "/train.bin", 64, 128, 1)
shard(out + "/val.bin", 8, 128, 2)
PYEOF
FLAGS=(--model_name d2 --train_file "$WORK/train.bin" --validation_file "$WORK/val.bin" --per_device_train_batch_size 8
       --max_steps 16 --save_every 4 --eval_every 8 --learning_rate 1e-3 --warmup_steps 2 --seed 7 --quiet)
run train_full 120 ./train_gpt2cu "${FLAGS[@]}" --output_dir "$WORK/full"
MEMLENS_TEST_KILL_AT=after_state:8 timeout 120 ./train_gpt2cu "${FLAGS[@]}" --output_dir "$WORK/killed" > "$LOG/train_killed.log" 2>&1
rc=$?; [ $rc -eq 137 ] && pass "train_killed (SIGKILL after the step-8 checkpoint, as planned)" || fail "train_killed (exit $rc, expected 137)"
run train_resume 120 ./train_gpt2cu "${FLAGS[@]}" --output_dir "$WORK/killed" --resume
grep -q "resuming from step 8" "$LOG/train_resume.log" && pass "resume started at step 8" || fail "resume did not start at step 8"
cmp -s "$WORK/full/model.bin" "$WORK/killed/model.bin" && pass "killed+resumed model.bin bitwise equal to uninterrupted run" \
  || fail "killed+resumed model.bin differs from the uninterrupted run"
run train_again 120 ./train_gpt2cu "${FLAGS[@]}" --output_dir "$WORK/again"
cmp -s "$WORK/full/model.bin" "$WORK/again/model.bin" && pass "two runs: model.bin bitwise equal" || fail "two runs: model.bin differs"
cmp -s "$WORK/full/model_00000008.bin" "$WORK/again/model_00000008.bin" && pass "two runs: checkpoint of step 8 bitwise equal" \
  || fail "two runs: checkpoint of step 8 differs"
"$PY" - "$WORK/full/train_log.jsonl" <<'PYEOF' && pass "loss goes down (memorising 64 random examples)" || fail "loss does not go down"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("    loss %.4f -> %.4f over %d steps, val %s" % (rows[0]["loss"], rows[-1]["loss"], len(rows), rows[-1].get("val_loss")))
sys.exit(0 if len(rows) == 16 and rows[-1]["loss"] < rows[0]["loss"] - 0.5 else 1)
PYEOF
run train_fp32 120 ./train_gpt2cu "${FLAGS[@]}" --precision fp32 --output_dir "$WORK/fp32"
tail -n 2 "$LOG/train_full.log" "$LOG/train_fp32.log" | sed 's/^/    /'
# The same run on the CPU trainer (built portable by make -C dev/cuda): the loss trajectories of
# the fp32 GPU run must match it closely, the bf16 run loosely.
if [ -x build/dev_cuda/train_gpt2_cpu ]; then
  run train_cpu 300 build/dev_cuda/train_gpt2_cpu "${FLAGS[@]}" --output_dir "$WORK/cpu" --threads "$(nproc)"
  follows=1
  "$PY" tests/compare_train_logs.py "$WORK/cpu/train_log.jsonl" "$WORK/fp32/train_log.jsonl" 1e-3 --label "GPU fp32 vs CPU trainer:" || follows=0
  "$PY" tests/compare_train_logs.py "$WORK/cpu/train_log.jsonl" "$WORK/full/train_log.jsonl" 3e-2 \
    --grad_norm_tolerance 9e-2 --label "GPU bf16 vs CPU trainer:" || follows=0
  [ $follows -eq 1 ] && pass "GPU trainer follows the CPU trainer" || fail "GPU trainer departs from the CPU trainer"
fi
}

# ---- 5. bad input: out of memory
check_oom() {
echo "== out-of-memory message"
timeout 120 ./train_gpt2cu --model_name d24 --train_file "$WORK/train.bin" --validation_file none --per_device_train_batch_size 4096 \
  --max_seq_length 128 --output_dir "$WORK/oom" > "$LOG/oom.out" 2> "$LOG/oom.err"; rc=$?
if [ $rc -ne 0 ] && [ "$(grep -c '' "$LOG/oom.err")" -eq 1 ] && grep -q "per_device_train_batch_size [0-9]* or less" "$LOG/oom.err" && [ ! -e "$WORK/oom" ]; then
  pass "out of memory: one line naming a batch size that fits, nothing written"
else fail "out of memory message (exit $rc)"; fi
sed 's/^/    /' "$LOG/oom.err"
}

# ---- 6. speed
check_speed() {
  echo "== speed (bf16, random init, T=1024)"
  run bench_d12_b16 150 ./test_gpt2cu --mode bench --model_name d12 --batch 16 --seq 1024 --steps 20
  run bench_d12_b32 150 ./test_gpt2cu --mode bench --model_name d12 --batch 32 --seq 1024 --steps 10
  run bench_d24_b16 150 ./test_gpt2cu --mode bench --model_name d24 --batch 16 --seq 1024 --steps 10
  grep -h "^bench" "$LOG"/bench_*.log | sed 's/^/    /'
}

# ---- 7. with --all: the NCCL and evaluator checks, one PASS/FAIL line each here (details above)
check_dist() {
  echo "== scripts/device_check_dist.sh"
  if timeout 150 bash scripts/device_check_dist.sh; then pass "device_check_dist"; else fail "device_check_dist"; fi
}
check_eval() {
  echo "== scripts/device_check_eval.sh"
  if timeout 360 bash scripts/device_check_eval.sh; then pass "device_check_eval"; else fail "device_check_eval"; fi
}
check_mem_eval() {
  echo "== tests/test_mem_eval.sh, GPU part (train_gpt2cu --mem_eval_every, gpt2cu_argmax)"
  if MEM_EVAL_GPU_ONLY=1 timeout 200 bash tests/run_tests.sh tests/test_mem_eval.sh; then pass "test_mem_eval (GPU)"
  else fail "test_mem_eval (GPU)"; fi
}

if [ $ALL -eq 1 ]; then
  # What has no figures yet comes first, so that a lease that ends early still gives them: the GPU
  # evaluator (speed, then GPU == CPU), then the trainer's correctness, the in-training probe, NCCL,
  # the kernel playground, and the trainer's speed last.
  check_eval; check_model; check_determinism; check_trainer; check_oom; check_mem_eval; check_kernels; check_dist
  [ $QUICK -eq 0 ] && check_speed
else
  check_model; check_kernels; check_determinism; check_trainer; check_oom
  [ $QUICK -eq 0 ] && check_speed
fi
rm -rf "$WORK"
if [ -n "${OUT:-}" ]; then tar czf "$OUT/device_check_logs.tgz" -C /tmp device_check_logs && LOG="$OUT/device_check_logs.tgz"; fi
echo "== device_check: $passed passed, $failed failed (logs in $LOG)"
[ $failed -eq 0 ]
