#!/usr/bin/env bash
# The GPU check of train_gpt2cu's data parallelism (llmc/dist_nccl.cuh), for ONE GPU and a short
# lease (under a minute on an H100). Two ranks cannot share a GPU (NCCL refuses it), so this checks
# everything one GPU can: every way of setting up the NCCL communicator gives the model.bin of the
# plain run bitwise, a resume through NCCL is exact, and a rank that never comes ends the job
# with one line in bounded time instead of a hang.
#   1. plain run (no communicator)                         -> the reference model.bin
#   2. mpirun -np 1                                         -> bitwise equal
#   3. mpirun -np 1 --nccl_init mpi (NCCL all-reduce, id by MPI broadcast) -> bitwise equal
#   4. --nccl_init file:DIR/nccl_id (no MPI), ranks from MEMLENS_* -> bitwise equal, id file removed
#   5. --nccl_init tcp:127.0.0.1:PORT (no MPI)             -> bitwise equal
#   6. file init, killed after the step-8 checkpoint, resumed -> bitwise equal
#   6b. --zero_stage 1 through NCCL (reduce-scatter, sharded AdamW, all-gather; moments gathered
#      for the checkpoint): model.bin and the checkpointed moments bitwise equal (one rank's shard
#      is everything, so only the code path differs)
#   7. world size 2 with rank 1 missing: file init (NCCL setup waits), tcp init (rendezvous waits),
#      MEMLENS_DIST_TIMEOUT=3 -> exit != 0 within 60 s, one line naming the wait, nothing written
# Prints "PASS name" / "FAIL name"; logs in $OUT/device_check_dist_logs.tgz (or /tmp/device_check_dist_logs).
# Prepare on the build machine: scripts/prepare_device.sh && make train_gpt2cu; carry .device and train_gpt2cu.
# Usage: scripts/device_check_dist.sh
set -u
cd "$(dirname "$0")/.."
LOG=/tmp/device_check_dist_logs
rm -rf "$LOG"; mkdir -p "$LOG"
WORK=$(mktemp -d /tmp/device_check_dist.XXXXXX)
PY=${PY:-$(command -v python3)}
source scripts/device_lib.sh  # pass, fail, run, device_library_path
same() {  # same NAME A B: model files bitwise equal
  if cmp -s "$2" "$3"; then pass "$1"; else fail "$1 ($2 vs $3 differ or are missing)"; fi
}

# ---- environment (as scripts/device_check.sh)
device_library_path
# One node: NCCL's bootstrap on the loopback interface; its warnings go to the logs.
export NCCL_SOCKET_IFNAME=${NCCL_SOCKET_IFNAME:-lo} NCCL_DEBUG=${NCCL_DEBUG:-WARN}
export OMPI_MCA_btl_vader_single_copy_mechanism=none
MPIRUN=(mpirun --bind-to none -np 1)
[ "$(id -u)" -eq 0 ] && MPIRUN+=(--allow-run-as-root)
echo "== environment"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "nvidia-smi failed"
mpirun --version 2>&1 | head -n1
ldd ./train_gpt2cu | grep -E "nccl|mpi|not found" | sed 's/^/    /'
if ldd ./train_gpt2cu | grep -q "not found"; then echo "FAIL libraries missing (see above)"; exit 1; fi
./train_gpt2cu --help | grep -q -- "--nccl_init" || { echo "FAIL this train_gpt2cu has no --nccl_init (rebuild)"; exit 1; }

# ---- data: 64 examples of 128 tokens (no numpy needed)
"$PY" - "$WORK" <<'PYEOF'
import random, struct, sys
def shard(path, n, tpe, seed):
    rng = random.Random(seed)
    with open(path, "wb") as f:
        header = [20240520, 1, n * (tpe + 1), tpe + 1] + [0] * 252
        f.write(struct.pack("<256i", *header))
        for _ in range(n):
            row = [50256] + [rng.randrange(1000) for _ in range(tpe)]
            f.write(struct.pack("<%dH" % len(row), *row))
shard(sys.argv[1] + "/train.bin", 64, 128, 1)
shard(sys.argv[1] + "/val.bin", 8, 128, 2)
PYEOF
FLAGS=(--model_name d2 --train_file "$WORK/train.bin" --validation_file "$WORK/val.bin" --per_device_train_batch_size 8
       --max_steps 16 --save_every 4 --eval_every 8 --learning_rate 1e-3 --warmup_steps 2 --seed 7 --quiet)
ONE=(env MEMLENS_WORLD_SIZE=1 MEMLENS_RANK=0 MEMLENS_LOCAL_RANK=0)

# ---- 1-5: every setup gives the plain run's model, bitwise
echo "== one rank through every setup path"
run plain 60 ./train_gpt2cu "${FLAGS[@]}" --output_dir "$WORK/plain"
run mpirun_np1 60 "${MPIRUN[@]}" ./train_gpt2cu "${FLAGS[@]}" --output_dir "$WORK/mpi1"
same "mpirun -np 1: model.bin bitwise equal to the plain run" "$WORK/plain/model.bin" "$WORK/mpi1/model.bin"
run mpirun_np1_nccl 60 "${MPIRUN[@]}" ./train_gpt2cu "${FLAGS[@]}" --nccl_init mpi --output_dir "$WORK/mpinccl"
grep -q "nccl: 1 rank, ids shared through MPI" "$LOG/mpirun_np1_nccl.log" && pass "mpirun -np 1 --nccl_init mpi made a communicator" \
  || fail "mpirun -np 1 --nccl_init mpi: no 'nccl: 1 rank' line"
grep -q "nccl: 1 rank, .*NCCL_RUNTIME_CONNECT=0;" "$LOG/mpirun_np1_nccl.log" \
  && pass "NCCL connects at setup (NCCL_RUNTIME_CONNECT=0), before the batch-size check" \
  || fail "no NCCL_RUNTIME_CONNECT=0 in the nccl: line"
same "mpirun -np 1 with the NCCL all-reduce: model.bin bitwise equal" "$WORK/plain/model.bin" "$WORK/mpinccl/model.bin"
run file_init 60 "${ONE[@]}" ./train_gpt2cu "${FLAGS[@]}" --nccl_init "file:$WORK/nccl_id" --output_dir "$WORK/file"
grep -q "nccl: 1 rank, ids shared through a shared file" "$LOG/file_init.log" && pass "file init made a communicator" \
  || fail "file init: no 'nccl: 1 rank' line"
same "--nccl_init file: model.bin bitwise equal" "$WORK/plain/model.bin" "$WORK/file/model.bin"
[ ! -e "$WORK/nccl_id" ] && pass "file init: the id file is removed once every rank is in" || fail "file init: $WORK/nccl_id left behind"
port=$((20000 + RANDOM % 20000))
run tcp_init 60 "${ONE[@]}" ./train_gpt2cu "${FLAGS[@]}" --nccl_init "tcp:127.0.0.1:$port" --output_dir "$WORK/tcp"
same "--nccl_init tcp: model.bin bitwise equal" "$WORK/plain/model.bin" "$WORK/tcp/model.bin"
cmp -s "$WORK/plain/model_00000008.bin" "$WORK/file/model_00000008.bin" && pass "file init: checkpoint of step 8 bitwise equal" \
  || fail "file init: checkpoint of step 8 differs"

# ---- 6: kill + resume through NCCL
echo "== resume through NCCL"
MEMLENS_TEST_KILL_AT=after_state:8 timeout 60 "${ONE[@]}" ./train_gpt2cu "${FLAGS[@]}" --nccl_init "file:$WORK/nccl_id" \
  --output_dir "$WORK/killed" > "$LOG/killed.log" 2>&1
rc=$?; [ $rc -eq 137 ] && pass "killed after the step-8 checkpoint (as planned)" || fail "kill (exit $rc, expected 137)"
run resume 60 "${ONE[@]}" ./train_gpt2cu "${FLAGS[@]}" --nccl_init "file:$WORK/nccl_id" --output_dir "$WORK/killed" --resume
grep -q "resuming from step 8" "$LOG/resume.log" && pass "resume started at step 8" || fail "resume did not start at step 8"
same "file init, killed + resumed: model.bin bitwise equal" "$WORK/plain/model.bin" "$WORK/killed/model.bin"

# ---- 6b: ZeRO-1's collectives and sharded update on the real NCCL
echo "== ZeRO-1 through NCCL"
run zero1 60 "${ONE[@]}" ./train_gpt2cu "${FLAGS[@]}" --nccl_init "file:$WORK/nccl_id" --zero_stage 1 --output_dir "$WORK/zero1"
grep -q "ZeRO-1: each rank updates at most" "$LOG/zero1.log" && pass "--zero_stage 1 took effect (its start-up line)" \
  || fail "--zero_stage 1: no 'ZeRO-1:' line"
same "--zero_stage 1 (1 rank, NCCL): model.bin bitwise equal" "$WORK/plain/model.bin" "$WORK/zero1/model.bin"
"$PY" - "$WORK/plain/state_00000008.bin" "$WORK/zero1/state_00000008.bin" <<'PYEOF' && pass "--zero_stage 1: the step-8 checkpoint's AdamW moments bitwise equal" || fail "--zero_stage 1: the checkpointed moments differ"
import struct, sys
a, b = (open(p, "rb").read() for p in sys.argv[1:3])
P = struct.unpack_from("<Q", a, 7 * 8)[0]  # llmc/train_state.h: header word 7; m and v end just before the CRC
sys.exit(0 if P > 0 and a[-(8 * P + 8):-8] == b[-(8 * P + 8):-8] else 1)
PYEOF

# ---- 7: a rank that never comes
echo "== a missing rank ends the job with one line"
missing_rank() {  # NAME INIT PATTERN
  local name=$1 init=$2 pattern=$3 t0=$SECONDS rc=0
  MEMLENS_DIST_TIMEOUT=3 MEMLENS_WORLD_SIZE=2 MEMLENS_RANK=0 MEMLENS_LOCAL_RANK=0 timeout -s KILL 90 ./train_gpt2cu "${FLAGS[@]}" \
    --nccl_init "$init" --output_dir "$WORK/$name" > "$LOG/$name.out" 2> "$LOG/$name.err" || rc=$?
  local secs=$((SECONDS - t0)) lines; lines=$(grep -c '' "$LOG/$name.err")
  if [ $rc -ne 0 ] && [ $rc -ne 137 ] && [ $secs -lt 60 ] && grep -Eq "$pattern" "$LOG/$name.err" && [ ! -e "$WORK/$name" ]; then
    pass "$name: exit $rc after $secs s, nothing written ($lines line(s) on stderr)"
  else
    fail "$name: exit $rc after $secs s (expected a message matching /$pattern/ within 60 s, nothing written)"
  fi
  sed 's/^/    /' "$LOG/$name.err" | tail -n 5
}
missing_rank missing_rank_file "file:$WORK/nccl_id_2" \
  '^train_gpt2cu: error: rank 0 of 2: setup of the NCCL communicator: no answer from the other ranks in 3 s'
missing_rank missing_rank_tcp "tcp:127.0.0.1:$((port + 1))" \
  '^train_gpt2cu: error: rank 0 of 2: --nccl_init tcp:.*only 0 of the 1 other ranks connected'

rm -rf "$WORK"
if [ -n "${OUT:-}" ]; then tar czf "$OUT/device_check_dist_logs.tgz" -C /tmp device_check_dist_logs && LOG="$OUT/device_check_dist_logs.tgz"; fi
echo "== device_check_dist: $passed passed, $failed failed (logs in $LOG)"
[ $failed -eq 0 ]
