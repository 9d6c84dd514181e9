#!/usr/bin/env bash
# The CUDA code on the CPU emulator (dev/cuda/emu, built by `make emu`, part of `make test`): on a
# machine without a GPU, the GPU evaluator's kernels and host logic run, and must give the CPU
# evaluator's decisions. First the emulator's own checks (so that a broken emulator cannot pass
# the rest): block reductions, shuffles, launch limits, copies, cuBLASLt against a float64 loop, and
# a missing barrier and a deadlock that it must report. Then the GPU model against the PyTorch
# reference and the CPU model (test_gpt2cu), the GPU trainer against the CPU trainer and its
# kill + resume, 2 ranks of the GPU trainer on the emulated NCCL, the kernel playground of
# dev/cuda, the GPU argmax test,
# tests/test_memorization_cuda.sh against the emulated test_memorizationcu, and the GPU section of
# tests/test_mem_eval.sh against the emulated train_gpt2cu.
# None of this replaces the device checks (scripts/device_check.sh): no real warps, memory model,
# cuBLASLt or NCCL kernels, or speed.
source "$(dirname "$0")/lib.sh"

EMU=build/emu
for p in selftest nccl_selftest attention classifier layernorm decode_attention test_argmax_cuda test_memorizationcu test_gpt2cu train_gpt2cu; do
  [ -x "$EMU/$p" ] || { fail "$EMU/$p is not built (run make emu)"; exit 0; }
done

check "emulator self-test: reductions, shuffles, indices, launch limits, copies, cuBLASLt" "$EMU/selftest"
# A barrier that half the block never reaches: a hang on a GPU, one message here.
rc=0; "$EMU/selftest" deadlock > "$TMP/deadlock.log" 2>&1 || rc=$?
check "emulator reports a deadlock (threads that skip __syncthreads)" bash -c "[ $rc -ne 0 ] && grep -q 'cuda emulator: error: deadlock' '$TMP/deadlock.log'"
# A read of another warp's shared memory without the barrier: the warp that runs ahead reads poison.
rc=0; MEMLENS_EMU_WARP_ORDER=forward "$EMU/selftest" race > "$TMP/race.log" 2>&1 || rc=$?
check "emulator shows a missing __syncthreads (shared memory read before it is written)" \
  bash -c "[ $rc -ne 0 ] && grep -q 'race detected' '$TMP/race.log'"
check "the same kernel with the barrier passes" "$EMU/selftest" racefree
rc=0; "$EMU/selftest" uninit_shared > "$TMP/uninit.log" 2>&1 || rc=$?
check "emulator poisons static shared memory in every block (a read before the write gives NaN)" \
  bash -c "[ $rc -ne 0 ] && grep -q 'uninitialised shared memory read' '$TMP/uninit.log'"
rc=0; "$EMU/selftest" launch_bounds > "$TMP/bounds.log" 2>&1 || rc=$?
check "emulator enforces __launch_bounds__" bash -c "[ $rc -ne 0 ] && grep -q '__launch_bounds__(128)' '$TMP/bounds.log'"
rc=0; "$EMU/selftest" static_smem > "$TMP/static_smem.log" 2>&1 || rc=$?
check "emulator counts static with dynamic shared memory (32 + 20 KiB is past 48 KiB)" \
  bash -c "[ $rc -ne 0 ] && grep -q '32768 bytes of static and 20480 of dynamic shared memory' '$TMP/static_smem.log'"

# The GPU model (llmc/gpt2_cuda.cuh): logits, loss, every gradient and 10 AdamW steps against the
# float64 PyTorch reference, fp32 and bf16 (the bf16 attention's tensor-core fragments emulated by
# shuffles); and against the CPU model for head sizes 16..128.
check "test_gpt2cu on the emulator: PyTorch reference, fp32 and bf16" "$EMU/test_gpt2cu" --mode reference --precision both
check "test_gpt2cu on the emulator: GPU model == CPU model (fp32, head sizes 16..128)" "$EMU/test_gpt2cu" --mode cpu --precision fp32

# The GPU trainer (train_gpt2cu) against the CPU trainer on the same run, and killed after a
# checkpoint then resumed.
./generate_dataset --num_examples 20 --tokens_per_example 64 --train_ratio 0.8 --seed 3 --output_dir "$TMP/ds" \
  > "$TMP/gen.log" 2>&1 || { fail "generate_dataset for the trainer comparison"; tail -3 "$TMP/gen.log"; }
TRAIN=(--model_name d2 --train_file "$TMP/ds/train.bin" --validation_file "$TMP/ds/test.bin" --per_device_train_batch_size 4
       --max_steps 4 --save_every 2 --eval_every 2 --learning_rate 1e-3 --warmup_steps 1 --seed 7 --quiet)
./train_gpt2 "${TRAIN[@]}" --output_dir "$TMP/cpu" > "$TMP/train_cpu.log" 2>&1 || { fail "train_gpt2 (CPU) for the trainer comparison"; tail -3 "$TMP/train_cpu.log"; }
check "train_gpt2cu on the emulator, fp32" "$EMU/train_gpt2cu" "${TRAIN[@]}" --precision fp32 --output_dir "$TMP/fp32"
check "train_gpt2cu on the emulator, bf16" "$EMU/train_gpt2cu" "${TRAIN[@]}" --output_dir "$TMP/bf16"
check "GPU trainer == CPU trainer, fp32: loss, val_loss, grad_norm within 1e-4" \
  $PY tests/compare_train_logs.py "$TMP/cpu/train_log.jsonl" "$TMP/fp32/train_log.jsonl" 1e-4
check "GPU trainer ~ CPU trainer, bf16: within 3e-2" \
  $PY tests/compare_train_logs.py "$TMP/cpu/train_log.jsonl" "$TMP/bf16/train_log.jsonl" 3e-2
# (in a subshell whose stderr is dropped: bash's own "Killed" notice is not part of the test output)
rc=0; (MEMLENS_TEST_KILL_AT=after_state:2 timeout 300 "$EMU/train_gpt2cu" "${TRAIN[@]}" --output_dir "$TMP/killed" \
  > "$TMP/killed.log" 2>&1; exit $?) 2>/dev/null || rc=$?
check "train_gpt2cu killed after the step-2 checkpoint (SIGKILL, exit 137)" test "$rc" -eq 137
"$EMU/train_gpt2cu" "${TRAIN[@]}" --output_dir "$TMP/killed" --resume > "$TMP/resume.log" 2>&1
check "killed + resumed: resumed at step 2, model.bin bitwise equal to the uninterrupted run" \
  bash -c "grep -q 'resuming from step 2' '$TMP/resume.log' && cmp '$TMP/bf16/model.bin' '$TMP/killed/model.bin'"

# Data parallelism: train_gpt2cu as 2 ranks, each a process with its own emulated GPU, on the
# emulated NCCL (dev/cuda/emu/nccl_emu.cpp), which first checks itself. The ranks meet by a file (no
# MPI), and must train the model of one CPU process with the same global batch; two ranks on one
# GPU are refused as NCCL refuses them; a rank killed after the step-2 checkpoint makes the other
# stop with one line, and a stopped (hung) rank makes the other stop at its MEMLENS_DIST_TIMEOUT;
# the resumed run (under mpirun when there is one) is bitwise the uninterrupted one.
saved_tmpdir=${TMPDIR-}
export TMPDIR=$TMP  # the emulated communicators' files (a killed rank leaves its file behind)
check "NCCL emulator self-test: rank-order sums, reduce-scatter, all-gather, broadcast, chunks; misuse, dead and late ranks reported" \
  "$EMU/nccl_selftest"
# n_ranks N OUTPUT_DIR ENV_FOR_RANK_0 [flags...]: N ranks, file rendezvous, EMU_DEVICES emulated GPUs
# (default N); rank r's output in OUTPUT_DIR.rankr.log, the exit codes (rank 0 first) in OUTPUT_DIR.rc.
# A rank left waiting gives up after MEMLENS_DIST_TIMEOUT=60 s; `timeout` (TERM: exit 124) backs it.
n_ranks() {
  local n=$1 out=$2 env0=$3; shift 3
  rm -f "$TMP/nccl_id"
  local common=(MEMLENS_WORLD_SIZE=$n MEMLENS_EMU_DEVICES=${EMU_DEVICES:-$n} MEMLENS_DIST_TIMEOUT=60 OMP_NUM_THREADS=1)
  local pids=() r rc0=0
  for ((r = 1; r < n; r++)); do
    env "${common[@]}" MEMLENS_RANK=$r MEMLENS_LOCAL_RANK=$r timeout -k 10 300 "$EMU/train_gpt2cu" \
      --nccl_init "file:$TMP/nccl_id" "$@" --output_dir "$out" > "$out.rank$r.log" 2>&1 &
    pids+=($!)
  done
  (env $env0 "${common[@]}" MEMLENS_RANK=0 MEMLENS_LOCAL_RANK=0 timeout -k 10 300 "$EMU/train_gpt2cu" \
    --nccl_init "file:$TMP/nccl_id" "$@" --output_dir "$out" > "$out.rank0.log" 2>&1; exit $?) 2>/dev/null || rc0=$?
  local codes=$rc0 pid rc
  for pid in "${pids[@]}"; do rc=0; wait "$pid" || rc=$?; codes="$codes $rc"; done
  echo "$codes" > "$out.rc"
}
two_ranks() { n_ranks 2 "$@"; }
PROBE=(--mem_eval_every 2 --mem_eval_examples 4 --mem_eval_context_lengths 16,32 --mem_eval_new_tokens 16)
two_ranks "$TMP/w2" "" "${TRAIN[@]}" --precision fp32 "${PROBE[@]}"
check "train_gpt2cu as 2 ranks on the emulated NCCL (file rendezvous, GPUs 0 and 1): both finish" \
  bash -c "[ \"\$(cat '$TMP/w2.rc')\" = '0 0' ] && grep -q 'data parallel: 2 ranks' '$TMP/w2.rank0.log'"
check "the NCCL connections are made at setup (NCCL_RUNTIME_CONNECT=0), where the batch-size check sees their memory" \
  grep -q 'nccl: 2 ranks, .*NCCL_RUNTIME_CONNECT=0;' "$TMP/w2.rank0.log"
./train_gpt2 "${TRAIN[@]}" --per_device_train_batch_size 8 "${PROBE[@]}" --output_dir "$TMP/cpu8" > "$TMP/train_cpu8.log" 2>&1 ||
  { fail "train_gpt2 (CPU, batch 8) for the 2-rank comparison"; tail -3 "$TMP/train_cpu8.log"; }
check "2 GPU ranks x 4 examples == 1 CPU process x 8 (fp32): loss, val_loss, grad_norm within 1e-4" \
  $PY tests/compare_train_logs.py "$TMP/cpu8/train_log.jsonl" "$TMP/w2/train_log.jsonl" 1e-4
check "2 GPU ranks: rank 0's --mem_eval_every probe (steps 2 and 4) == the CPU process's" $PY -c '
import json, sys
def probes(path):
    out = []
    for line in open(path):
        m = json.loads(line).get("mem_eval")
        if m: m.pop("seconds"); out.append(m)
    return out
a, b = probes(sys.argv[1]), probes(sys.argv[2])
sys.exit(0 if len(a) == 2 and a == b else "probes differ: %s vs %s" % (a, b))' "$TMP/cpu8/train_log.jsonl" "$TMP/w2/train_log.jsonl"
EMU_DEVICES=1 two_ranks "$TMP/w2onegpu" "" "${TRAIN[@]}" --precision fp32
check "2 ranks on one GPU: both stop at setup, one line naming the shared GPU (as NCCL's duplicate-GPU check)" \
  bash -c "! grep -qx '0 0' '$TMP/w2onegpu.rc' && ! grep -q ' 0$\|^0 ' '$TMP/w2onegpu.rc' &&
           cat '$TMP/w2onegpu.rank0.log' '$TMP/w2onegpu.rank1.log' | grep -q '^train_gpt2cu: error: rank [01] of 2: setup of the NCCL communicator failed in NCCL: invalid usage: .*both use GPU 0'"
two_ranks "$TMP/w2kill" "MEMLENS_TEST_KILL_AT=after_state:2" "${TRAIN[@]}" --precision fp32
check "rank 0 killed after the step-2 checkpoint: rank 1 stops with one line naming the exited rank" \
  bash -c "cut -d' ' -f1 '$TMP/w2kill.rc' | grep -qx 137 && ! cut -d' ' -f2 '$TMP/w2kill.rc' | grep -qx 0 &&
           [ -f '$TMP/w2kill/state_00000002.bin' ] && [ ! -f '$TMP/w2kill/state_00000004.bin' ] &&
           grep -q '^train_gpt2cu: error: rank 1 of 2: .*failed in NCCL: remote process exited.*rank 0 (pid [0-9]*) exited' '$TMP/w2kill.rank1.log'"
# A hung rank: rank 1 stopped (SIGSTOP) after step 1; rank 0's own deadline ends its wait.
hung_rank() {
  rm -f "$TMP/nccl_id"
  local common=(MEMLENS_WORLD_SIZE=2 MEMLENS_EMU_DEVICES=2 MEMLENS_DIST_TIMEOUT=10 OMP_NUM_THREADS=1)
  env "${common[@]}" MEMLENS_RANK=1 MEMLENS_LOCAL_RANK=1 "$EMU/train_gpt2cu" --nccl_init "file:$TMP/nccl_id" "${TRAIN[@]}" \
    --precision fp32 --output_dir "$TMP/w2hang" > "$TMP/w2hang.rank1.log" 2>&1 &
  local pid1=$! rc0=0
  env "${common[@]}" MEMLENS_RANK=0 MEMLENS_LOCAL_RANK=0 timeout -k 10 200 "$EMU/train_gpt2cu" --nccl_init "file:$TMP/nccl_id" \
    "${TRAIN[@]}" --precision fp32 --output_dir "$TMP/w2hang" > "$TMP/w2hang.rank0.log" 2>&1 &
  local pid0=$!
  for _ in $(seq 600); do [ -s "$TMP/w2hang/train_log.jsonl" ] && break; sleep 0.1; done
  kill -STOP $pid1
  wait $pid0 || rc0=$?
  kill -KILL $pid1; wait $pid1 2>/dev/null
  [ $rc0 -ne 0 ] && [ $rc0 -ne 124 ] && [ -s "$TMP/w2hang/train_log.jsonl" ] &&
    grep -q '^train_gpt2cu: error: rank 0 of 2: .*: no answer from the other ranks in 10 s (a rank died or hangs' "$TMP/w2hang.rank0.log"
}
check "rank 1 stopped (hung) after step 1: rank 0 stops at MEMLENS_DIST_TIMEOUT=10 with one line" hung_rank
if command -v mpirun > /dev/null && ldd "$EMU/train_gpt2cu" | grep -q libmpi; then
  mpi_launcher
  how="mpirun -np 2, the NCCL id by MPI"
  timeout -k 20 300 "${MPIRUN[@]}" -x OMP_NUM_THREADS=1 -x TMPDIR -x MEMLENS_EMU_DEVICES=2 -x MEMLENS_DIST_TIMEOUT=60 \
    -np 2 "$EMU/train_gpt2cu" "${TRAIN[@]}" \
    --precision fp32 --output_dir "$TMP/w2kill" --resume > "$TMP/w2resume.log" 2>&1
else
  how="no mpirun here: file rendezvous"
  two_ranks "$TMP/w2kill" "" "${TRAIN[@]}" --precision fp32 --resume
  cat "$TMP/w2kill.rank0.log" > "$TMP/w2resume.log"
fi
check "2 ranks resumed ($how): from step 2, model.bin bitwise equal to the uninterrupted 2-rank run" \
  bash -c "grep -q 'resuming from step 2' '$TMP/w2resume.log' && cmp '$TMP/w2/model.bin' '$TMP/w2kill/model.bin'"
# ZeRO-1 (--zero_stage 1): each rank keeps the moments of half the weights, the gradients are
# reduce-scattered and the weights all-gathered (the emulated ncclReduceScatter/ncclAllGather sum
# in rank order, as its all-reduce does). The model, the probe and the checkpointed moments must
# be those of the all-reduce run above; killed + resumed it must be bitwise the uninterrupted run.
two_ranks "$TMP/z2" "" "${TRAIN[@]}" --precision fp32 "${PROBE[@]}" --zero_stage 1
zero1_same() {
  [ "$(cat "$TMP/z2.rc")" = '0 0' ] && grep -q 'ZeRO-1: each rank updates at most 3483392 of the 6966784 weights' "$TMP/z2.rank0.log" &&
    $PY tests/compare_train_logs.py "$TMP/w2/train_log.jsonl" "$TMP/z2/train_log.jsonl" 1e-6 &&
    $PY - "$TMP/w2" "$TMP/z2" <<'PY'
import json, sys
import numpy as np
a, b = sys.argv[1], sys.argv[2]
x = np.fromfile(a + "/model.bin", dtype="<f4")[256:].astype(np.float64)
y = np.fromfile(b + "/model.bin", dtype="<f4")[256:].astype(np.float64)
assert np.linalg.norm(x - y) <= 1e-6 * np.linalg.norm(x), "models differ"
P = x.size
for step in ("00000002", "00000004"):  # AdamW m and v: the last 8 P bytes before the state file's CRC
    ma = np.frombuffer(open("%s/state_%s.bin" % (a, step), "rb").read()[-(8 * P + 8):-8], dtype="<f4").astype(np.float64)
    mb = np.frombuffer(open("%s/state_%s.bin" % (b, step), "rb").read()[-(8 * P + 8):-8], dtype="<f4").astype(np.float64)
    assert np.abs(ma).max() > 0 and np.linalg.norm(ma - mb) <= 1e-6 * np.linalg.norm(ma), "moments of step %s differ" % step
def probes(path):
    lines = [json.loads(l).get("mem_eval") for l in open(path)]
    return [{k: v for k, v in m.items() if k != "seconds"} for m in lines if m]
assert probes(a + "/train_log.jsonl") == probes(b + "/train_log.jsonl") != [], "probes differ"
PY
}
check "ZeRO-1, 2 GPU ranks (fp32): the all-reduce run's losses, model, probe and checkpointed moments (within 1e-6)" zero1_same
two_ranks "$TMP/z2kill" "MEMLENS_TEST_KILL_AT=after_state:2" "${TRAIN[@]}" --precision fp32 "${PROBE[@]}" --zero_stage 1
two_ranks "$TMP/z2kill" "" "${TRAIN[@]}" --precision fp32 "${PROBE[@]}" --zero_stage 1 --resume
check "ZeRO-1, 2 GPU ranks killed after the step-2 checkpoint and resumed: model.bin bitwise the uninterrupted run" \
  bash -c "[ \"\$(cat '$TMP/z2kill.rc')\" = '0 0' ] && grep -q 'resuming from step 2' '$TMP/z2kill.rank0.log' &&
           cmp '$TMP/z2/model.bin' '$TMP/z2kill/model.bin'"
# 3 ranks: the 6,966,784 weights are not a multiple of 3, so the last block is short and the GPU
# buffers carry padding; the short last pass of each epoch gives the ranks 2, 1 and 1 rows.
n_ranks 3 "$TMP/z3" "" "${TRAIN[@]}" --precision fp32 --zero_stage 1
./train_gpt2 "${TRAIN[@]}" --per_device_train_batch_size 12 --output_dir "$TMP/cpu12" > "$TMP/train_cpu12.log" 2>&1 ||
  { fail "train_gpt2 (CPU, batch 12) for the 3-rank comparison"; tail -3 "$TMP/train_cpu12.log"; }
zero1_three() {
  [ "$(cat "$TMP/z3.rc")" = '0 0 0' ] &&
    grep -q 'ZeRO-1: each rank updates at most 2322304 of the 6966784 weights and keeps only their AdamW moments on its GPU' \
      "$TMP/z3.rank0.log" &&
    $PY tests/compare_train_logs.py "$TMP/cpu12/train_log.jsonl" "$TMP/z3/train_log.jsonl" 1e-4 &&
    $PY - "$TMP/cpu12" "$TMP/z3" <<'PY'
import sys
import numpy as np
a, b = sys.argv[1], sys.argv[2]
x = np.fromfile(a + "/model.bin", dtype="<f4")[256:].astype(np.float64)
y = np.fromfile(b + "/model.bin", dtype="<f4")[256:].astype(np.float64)
rel = np.linalg.norm(x - y) / np.linalg.norm(x)
P = x.size
ma = np.frombuffer(open(a + "/state_00000004.bin", "rb").read()[-(8 * P + 8):-8], dtype="<f4").astype(np.float64)
mb = np.frombuffer(open(b + "/state_00000004.bin", "rb").read()[-(8 * P + 8):-8], dtype="<f4").astype(np.float64)
rel_m = np.linalg.norm(ma - mb) / np.linalg.norm(ma)
print("model relative L2 %.2e, moments %.2e" % (rel, rel_m))
assert rel < 1e-5 and rel_m < 1e-4, (rel, rel_m)
PY
}
check "ZeRO-1, 3 GPU ranks (uneven blocks, padding) == 1 CPU process x 12 (fp32): losses, model and moments" zero1_three
# bf16: the working copy of the weights other ranks updated comes from the all-gathered master
# weights. Without clipping (the gradient norm is the one sum ZeRO-1 orders differently) the two
# paths are bitwise the same on the emulator.
SHORT=(--model_name d2 --train_file "$TMP/ds/train.bin" --validation_file none --per_device_train_batch_size 4 --max_steps 3
       --learning_rate 1e-3 --seed 7 --quiet --grad_clip 0)
two_ranks "$TMP/b2" "" "${SHORT[@]}"
two_ranks "$TMP/b2zero" "" "${SHORT[@]}" --zero_stage 1
check "ZeRO-1, 2 GPU ranks (bf16, no clipping): model.bin bitwise the all-reduce run's" \
  bash -c "[ \"\$(cat '$TMP/b2.rc') \$(cat '$TMP/b2zero.rc')\" = '0 0 0 0' ] && grep -q 'ZeRO-1: each rank' '$TMP/b2zero.rank0.log' &&
           cmp '$TMP/b2/model.bin' '$TMP/b2zero/model.bin'"
# Out of GPU memory (a 250 MiB emulated GPU): one line naming the batch size that fits, and with 2
# ranks also the one --zero_stage 1 fits; both suggestions must then train.
OOM=(--model_name d2 --train_file "$TMP/ds/train.bin" --validation_file none --max_steps 1 --seed 7 --quiet)
export MEMLENS_EMU_MEMORY_MIB=250
n_ranks 2 "$TMP/oom2" "" "${OOM[@]}" --per_device_train_batch_size 16
oom_hint() {
  local line; line=$(grep -h '^train_gpt2cu: error: ' "$TMP/oom2.rank0.log")
  echo "$line"
  [[ "$line" =~ needs\ .*\(use\ --per_device_train_batch_size\ ([0-9]+)\ or\ less\;\ or\ --zero_stage\ 1,\ with\ which\ --per_device_train_batch_size\ ([0-9]+)\ fits\)$ ]] ||
    return 1
  local plain=${BASH_REMATCH[1]} zero=${BASH_REMATCH[2]}
  [ "$(cat "$TMP/oom2.rc")" != '0 0' ] && [ ! -e "$TMP/oom2/model.bin" ] && [ "$plain" -lt 16 ] && [ "$zero" -gt "$plain" ] &&
    "$EMU/train_gpt2cu" "${OOM[@]}" --per_device_train_batch_size "$plain" --output_dir "$TMP/oom_plain" > "$TMP/oom_plain.log" 2>&1 &&
    ! "$EMU/train_gpt2cu" "${OOM[@]}" --per_device_train_batch_size $((plain + 1)) --output_dir "$TMP/oom_more" > /dev/null 2>&1 &&
    { n_ranks 2 "$TMP/oom_zero" "" "${OOM[@]}" --zero_stage 1 --per_device_train_batch_size "$zero"
      [ "$(cat "$TMP/oom_zero.rc")" = '0 0' ] && [ -f "$TMP/oom_zero/model.bin" ]; }
}
check "out of GPU memory (250 MiB, 2 ranks): one line naming the batch that fits and the one --zero_stage 1 fits; both train" oom_hint
unset MEMLENS_EMU_MEMORY_MIB
if [ -n "$saved_tmpdir" ]; then export TMPDIR=$saved_tmpdir; else unset TMPDIR; fi

# The kernel playground of dev/cuda: each kernel family against the CPU's, fp32 and bf16 (the
# tensor-core attention with its mma / ldmatrix fragments emulated), at small sizes.
# (--reps 0: checks only, no timing.) A GPU allows at most 65535 blocks in a grid's y, where the
# attention kernels put rows x heads, so larger batches run in slices of rows: with the emulated
# GPU's limit at 7 (MEMLENS_EMU_MAX_GRID_Y), 5 rows x 2 heads run as slices of 3 + 2 rows.
for run in "attention --B 2 --T 80 --C 128 --NH 2 --reps 0" "attention --B 1 --T 72 --C 128 --NH 2 --precision bf16 --reps 0" \
           "env MEMLENS_EMU_MAX_GRID_Y=7 $EMU/attention --B 5 --T 80 --C 128 --NH 2 --reps 0" \
           "env MEMLENS_EMU_MAX_GRID_Y=7 $EMU/attention --B 5 --T 40 --C 128 --NH 2 --precision bf16 --reps 0" \
           "classifier --BT 64 --V 1000 --Vp 1024" "classifier --BT 64 --V 1000 --Vp 1024 --precision bf16" \
           "layernorm --BT 256 --C 128" "layernorm --BT 256 --C 128 --precision bf16"; do
  cmd=$run; [ "${run#env }" != "$run" ] || cmd="$EMU/$run"
  check "dev/cuda playground on the emulator: ${run/$EMU\//}" bash -c "$cmd > '$TMP/playground.log' 2>&1 && grep -q '^PASS' '$TMP/playground.log' && ! grep -q '^FAIL' '$TMP/playground.log'"
done
# Both versions of the KV-cache attention against the CPU's attention_query, in the three layouts.
rc=0; "$EMU/decode_attention" --B 12 --NH 4 --HS 64 --len 300 --reps 1 > "$TMP/decode.log" 2>&1 || rc=$?
check "decode attention v1 and v2 == CPU (decode, append, exposure layouts)" \
  bash -c "[ $rc -eq 0 ] && grep -q '^PASS' '$TMP/decode.log' && ! grep -q '^FAIL' '$TMP/decode.log'"
check "gpt2cu_argmax == the CPU's argmax rule (fp32, bf16, ties, padding, -inf)" "$EMU/test_argmax_cuda"

MEMLENS_GPU_EVALUATOR="$EMU/test_memorizationcu" bash tests/test_memorization_cuda.sh
# The trainers' --mem_eval_every probe on the GPU side (gpt2cu_argmax through llmc/mem_eval.c).
MEMLENS_GPU_TRAINER="$EMU/train_gpt2cu" MEM_EVAL_GPU_ONLY=1 bash tests/test_mem_eval.sh
