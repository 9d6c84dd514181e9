#!/usr/bin/env bash
# The CUDA trainer: built whenever nvcc is found (CI has nvcc but no GPU), its flag errors and
# its "no GPU" error are one line; on a machine with a GPU, the model against the PyTorch
# reference, determinism, and a killed + resumed training run that is bitwise equal to an
# uninterrupted one. (scripts/device_check.sh runs the same GPU checks plus the benchmark.)
source "$(dirname "$0")/lib.sh"

NVCC=$(command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null || true)
if [ -z "$NVCC" ]; then skip "no nvcc: the CUDA programs are not built on this machine"; exit 0; fi
for prog in train_gpt2cu test_gpt2cu; do
  if [ -x "./$prog" ]; then pass "$prog is built"; else fail "$prog is not built (run make)"; fi
done
[ -x ./train_gpt2cu ] && [ -x ./test_gpt2cu ] || exit 0
mkdir -p "$TMP/bin" && cp ./train_gpt2cu ./test_gpt2cu "$TMP/bin/"
TRAIN=$TMP/bin/train_gpt2cu
TEST=$TMP/bin/test_gpt2cu

# A tiny example-aligned shard (format: llmc/shard.h), 16 records of 1 + 32 tokens.
$PY - "$TMP" <<'PYEOF'
import sys, numpy as np
rng = np.random.default_rng(3)
for name, n in (("train", 16), ("val", 4)):
    toks = rng.integers(0, 50000, size=(n, 33)); toks[:, 0] = 50256
    header = np.zeros(256, dtype="<i4"); header[:4] = [20240520, 1, n * 33, 33]
    with open("%s/%s.bin" % (sys.argv[1], name), "wb") as f:
        f.write(header.tobytes()); f.write(toks.astype("<u2").tobytes())
PYEOF
FLAGS=(--model_name d2 --train_file "$TMP/train.bin" --validation_file "$TMP/val.bin" --per_device_train_batch_size 4
       --max_steps 8 --save_every 2 --seed 5 --quiet)

# The kernel playground (dev/cuda: each kernel family standalone with a CPU check and a benchmark)
# compiles here too, into a private folder; it runs on a GPU (scripts/device_check.sh).
check "dev/cuda kernel playground compiles (make -C dev/cuda)" \
  make -s -C dev/cuda OUT="$TMP/dev_cuda" NVCC="$NVCC" "$TMP/dev_cuda/attention" "$TMP/dev_cuda/layernorm" \
  "$TMP/dev_cuda/classifier" "$TMP/dev_cuda/decode_attention"

# train_gpt2.cu is generated from train_gpt2.c (the twin trainers must not drift apart).
check "train_gpt2.cu is up to date with train_gpt2.c" $PY dev/cuda/make_train_gpt2cu.py --check

# Flag errors come before any GPU work, so they are checked everywhere.
# (to a file, not a pipe: the exit status of --help counts)
check "--help exits 0 and lists --precision" bash -c "$TRAIN --help > $TMP/help.out 2>&1 && grep -q -- '--precision bf16|fp32' $TMP/help.out"
expect_error "unknown --precision" "^train_gpt2cu: error: --precision fp16: .*use --precision bf16 or --precision fp32" \
  $TRAIN "${FLAGS[@]}" --precision fp16 --output_dir "$TMP/o1"
expect_error "--precision without a value" "^train_gpt2cu: error: --precision needs a value" $TRAIN "${FLAGS[@]}" --precision
expect_error "shared flag parser (bad number)" "^train_gpt2cu: error: --per_device_train_batch_size" \
  $TRAIN "${FLAGS[@]}" --per_device_train_batch_size abc --output_dir "$TMP/o2"
expect_error "missing train file" "^train_gpt2cu: error: --train_file $TMP/nope.bin" \
  $TRAIN --model_name d2 --train_file "$TMP/nope.bin" --output_dir "$TMP/o3"
expect_error "test_gpt2cu: unknown mode" "^test_gpt2cu: error: --mode nope" $TEST --mode nope

if ! have_gpu; then
  expect_error "no GPU: one line, nothing written" "^train_gpt2cu: error: no CUDA GPU found" \
    $TRAIN "${FLAGS[@]}" --output_dir "$TMP/nogpu"
  check "no GPU: --output_dir not created" test ! -e "$TMP/nogpu"
  expect_error "no GPU: test_gpt2cu says it needs one and names its emulated build (not the trainer)" \
    "^test_gpt2cu: error: no CUDA GPU found .*this test needs a GPU; without one, make test runs it on the CPU emulator as build/emu/test_gpt2cu" $TEST
  skip "no GPU: test_gpt2cu against the PyTorch reference (fp32, bf16)"
  skip "no GPU: test_gpt2cu against the CPU model (fp32, bf16)"
  skip "no GPU: determinism of two GPU runs"
  skip "no GPU: kill + resume bitwise equal"
  exit 0
fi

[ -d .device/lib ] && export LD_LIBRARY_PATH="$ROOT/.device/lib:${LD_LIBRARY_PATH:-}"
check "test_gpt2cu: fp32 and bf16 against the PyTorch reference" $TEST --mode reference
check "test_gpt2cu: fp32 GPU model vs the CPU model (head sizes 16..128)" $TEST --mode cpu --precision fp32
check "test_gpt2cu: bf16 GPU model vs the CPU model" $TEST --mode cpu --precision bf16
check "test_gpt2cu: two bf16 runs bitwise equal" $TEST --mode determinism --model_name d2 --batch 2 --seq 64 --steps 3
check "train_gpt2cu: uninterrupted run" $TRAIN "${FLAGS[@]}" --output_dir "$TMP/full"
# (in a subshell whose stderr is dropped: bash's own "Killed" notice is not part of the test output)
rc=0; (MEMLENS_TEST_KILL_AT=after_state:4 $TRAIN "${FLAGS[@]}" --output_dir "$TMP/killed" > "$TMP/killed.log" 2>&1; exit $?) 2>/dev/null || rc=$?
check "train_gpt2cu: killed after the step-4 checkpoint (SIGKILL, exit 137)" test "$rc" -eq 137
# --resume on a finished run also exits 0: the log must say it resumed from the step-4 checkpoint
rc=0; $TRAIN "${FLAGS[@]}" --output_dir "$TMP/killed" --resume > "$TMP/resume.log" 2>&1 || rc=$?
check "train_gpt2cu: resume after a kill, from step 4" bash -c "[ $rc -eq 0 ] && grep -q 'resuming from step 4' '$TMP/resume.log'"
check "train_gpt2cu: killed + resumed model.bin bitwise equal" cmp "$TMP/full/model.bin" "$TMP/killed/model.bin"
