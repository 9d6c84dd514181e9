#!/usr/bin/env bash
# Data parallelism with MPI (llmc/dist.c): the collectives against sums each rank recomputes
# itself; 2 and 3 ranks train the same model as one process with the same global batch; 2-rank
# resume is bitwise exact; a killed or hung rank ends the job with a message in bounded time;
# 2-rank evaluation writes the same results as one process. Skipped when MPI is absent.
source "$(dirname "$0")/lib.sh"

# One process (with or without MPI): dist_share, and every collective is the identity.
if [ -x build/tests/test_dist_unit ]; then check "one process: slices and collectives" build/tests/test_dist_unit
else fail "build/tests/test_dist_unit is not built (run make unit-tests)"; fi
if [ -x build/tests/asan/test_dist_unit ]; then check "one process under ASan+UBSan" build/tests/asan/test_dist_unit
else fail "build/tests/asan/test_dist_unit is not built (run make asan-tests)"; fi

# The rendezvous of train_gpt2cu --nccl_init file:/tcp: (llmc/rendezvous.c): forked ranks meet
# through a file and a TCP port; deadlines, stale files of other jobs, mismatched world sizes.
if [ -x build/tests/test_rendezvous ]; then check "rendezvous: ranks meet by file and by TCP; every failure is bounded" build/tests/test_rendezvous
else fail "build/tests/test_rendezvous is not built (run make unit-tests)"; fi
if [ -x build/tests/asan/test_rendezvous ]; then check "rendezvous under ASan+UBSan" build/tests/asan/test_rendezvous
else fail "build/tests/asan/test_rendezvous is not built (run make asan-tests)"; fi
# train_gpt2cu's launch flags are checked before any GPU work, so on every machine.
if [ -x ./train_gpt2cu ] && mkdir -p "$TMP/cu" && cp ./train_gpt2cu "$TMP/cu/"; then
  CU=$TMP/cu/train_gpt2cu
  expect_error "train_gpt2cu: an unknown --nccl_init is one line naming the choices" \
    '^train_gpt2cu: error: --nccl_init nfs:/x: .*use file:/shared/dir/nccl_id or tcp:HOST:PORT' "$CU" --nccl_init nfs:/x
  expect_error "train_gpt2cu: a --nccl_init port out of range" "^train_gpt2cu: error: --nccl_init tcp:node1:0: the port" \
    "$CU" --nccl_init tcp:node1:0
  expect_error "train_gpt2cu: a bad --gpu" '^train_gpt2cu: error: --gpu -1: not a GPU number' "$CU" --gpu -1
  # --nccl_init file:/tcp: reads the ranks from the environment without MPI (checked like dist_init).
  expect_error "train_gpt2cu --nccl_init file: checks the launcher's environment" \
    'MEMLENS_RANK=5 and MEMLENS_WORLD_SIZE=2 do not make a valid rank' \
    env MEMLENS_WORLD_SIZE=2 MEMLENS_RANK=5 "$CU" --nccl_init "file:$TMP/nccl_id"
  # Built without NCCL (no nccl.h at build time) it trains on one GPU: every rank of a multi-rank
  # launch says so in one line; with NCCL the launch gets as far as looking for the GPU.
  if ldd "$CU" | grep -q libnccl; then with_nccl=1; else with_nccl=0; fi
  no_nccl='^train_gpt2cu: error: train_gpt2cu was built without NCCL .*launched as several ranks \(rank %s of 2\) \(install NCCL'
  $PY -c 'import struct, sys; open(sys.argv[1], "wb").write(struct.pack("<256i", 20240520, 1, 66, 33, *[0] * 252) + struct.pack("<66H", *[50256] + [7] * 32 + [50256] + [9] * 32))' "$TMP/cu/train.bin"
  if [ $with_nccl = 0 ]; then
    expect_error "train_gpt2cu built without NCCL: rank 1 of 2 (--nccl_init tcp:) says so itself" "$(printf "$no_nccl" 1)" \
      env MEMLENS_WORLD_SIZE=2 MEMLENS_RANK=1 "$CU" --nccl_init tcp:127.0.0.1:29500 --model_name d2 --train_file "$TMP/cu/train.bin" --validation_file none \
      --output_dir "$TMP/cu/out"
    expect_error "train_gpt2cu built without NCCL: rank 0 of 2 from MEMLENS_* says so" "$(printf "$no_nccl" 0)" \
      env MEMLENS_WORLD_SIZE=2 MEMLENS_RANK=0 "$CU"
  elif ! have_gpu; then  # no MPI involved: it gets as far as looking for the GPU
    expect_error "train_gpt2cu --nccl_init tcp: as rank 1 of 2 needs no MPI" '^train_gpt2cu: error: no CUDA GPU found' \
      env MEMLENS_WORLD_SIZE=2 MEMLENS_RANK=1 "$CU" --nccl_init tcp:127.0.0.1:29500 --model_name d2 --train_file "$TMP/cu/train.bin" --validation_file none \
      --output_dir "$TMP/cu/out"
  fi
  if [ $with_nccl = 1 ] && ldd "$CU" | grep -q libmpi; then
    expect_error "train_gpt2cu: ranks from MEMLENS_* without --nccl_init need an MPI launcher" \
      'rank 0 of 2 by MEMLENS_\* variables, but MPI sees a single process' env MEMLENS_WORLD_SIZE=2 MEMLENS_RANK=0 "$CU"
  fi
fi

if ! command -v mpirun > /dev/null; then skip "mpirun not found (make deps installs openmpi-bin)"; exit 0; fi
if [ ! -x ./train_gpt2 ]; then fail "train_gpt2 is not built (run make)"; exit 0; fi
if ! ldd ./train_gpt2 | grep -q libmpi; then skip "train_gpt2 was built without MPI (install libopenmpi-dev, make clean all)"; exit 0; fi

# Private copies: a rebuild in the shared tree during the test must not swap binaries under us.
mkdir -p "$TMP/bin"
for prog in train_gpt2 test_memorization build/tests/test_dist_unit; do
  [ -x "$prog" ] || continue
  for _ in 1 2 3 4 5; do cp "$prog" "$TMP/bin/" && "$TMP/bin/$(basename "$prog")" --help > /dev/null 2>&1 && break; sleep 1; done
done
TRAIN=$TMP/bin/train_gpt2

mpi_launcher  # MPIRUN (tests/lib.sh); --oversubscribe lets 3 ranks share 2 cores
mpi() { local n=$1; shift; timeout -s KILL 120 "${MPIRUN[@]}" -np "$n" "$@"; }

# ---------------------------------------------------------------------------------------------
# Collectives.
if [ -x "$TMP/bin/test_dist_unit" ]; then
  check "collectives on 2 ranks equal the rank-order sums" mpi 2 "$TMP/bin/test_dist_unit"
  check "collectives on 3 ranks equal the rank-order sums" mpi 3 "$TMP/bin/test_dist_unit"
  # Segments of 1000 values: every collective crosses many of them (ZeRO-1's in uneven pieces).
  check "collectives on 3 ranks in many small segments" mpi 3 -x MEMLENS_TEST_DIST_SEGMENT=1000 "$TMP/bin/test_dist_unit"
  # Under ASan+UBSan (leak checks off: libmpi keeps its own allocations until exit).
  if [ -x build/tests/asan/test_dist_unit ] && cp build/tests/asan/test_dist_unit "$TMP/bin/asan_test_dist_unit"; then
    check "collectives on 3 ranks under ASan+UBSan" mpi 3 -x ASAN_OPTIONS=detect_leaks=0 "$TMP/bin/asan_test_dist_unit"
  fi
  hung_collective() {
    local t0=$SECONDS rc=0
    MEMLENS_DIST_TIMEOUT=2 mpi 2 "$TMP/bin/test_dist_unit" --hang_rank 1 > "$TMP/hang.out" 2> "$TMP/hang.err" || rc=$?
    [ "$rc" -ne 0 ] && [ $((SECONDS - t0)) -lt 60 ] &&
      grep -Eq 'test_dist_unit: error: rank 0 of 2: .*no answer from the other ranks in 2 s' "$TMP/hang.err"
  }
  check "a hung rank: the others stop after MEMLENS_DIST_TIMEOUT with one message" hung_collective
  # The launcher's environment is checked before anything runs.
  UNIT=$TMP/bin/test_dist_unit
  expect_error "ranks from MEMLENS_* without an MPI launcher are refused" \
    'rank 0 of 2 by MEMLENS_\* variables, but MPI sees a single process \(start with mpirun' \
    env MEMLENS_WORLD_SIZE=2 MEMLENS_RANK=0 "$UNIT"
  expect_error "an impossible rank in the environment is refused" 'OMPI_COMM_WORLD_RANK=5 and OMPI_COMM_WORLD_SIZE=2' \
    env OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_RANK=5 "$UNIT"
  expect_error "a malformed MEMLENS_DIST_TIMEOUT is refused" "MEMLENS_DIST_TIMEOUT='soon' is not a number of seconds" \
    env MEMLENS_DIST_TIMEOUT=soon "$UNIT"
else
  fail "build/tests/test_dist_unit is not built (run make unit-tests)"
fi

# ---------------------------------------------------------------------------------------------
# Training. 21 examples of 32 tokens: with B=2 the passes of the last step of each epoch are
# uneven, so some ranks get fewer rows than others, or none.
cat > "$TMP/h.py" <<'EOF'
import json, sys
import numpy as np

def shard(out, n, tpe, vocab, seed):
    rng = np.random.default_rng(seed)
    toks = rng.integers(0, vocab - 1, size=(n, tpe + 1), dtype=np.int64)
    toks[:, 0] = vocab - 1
    header = np.zeros(256, dtype="<i4")
    header[:4] = [20240520, 1, n * (tpe + 1), tpe + 1]
    with open(out, "wb") as f:
        f.write(header.tobytes())
        f.write(toks.astype("<u2").tobytes())

def weights(path):
    return np.fromfile(path, dtype="<f4")[256:].astype(np.float64)

def close(a, b):
    # Only the order of the gradient sums differs: the weights agree to float rounding.
    x, y = weights(a), weights(b)
    assert x.shape == y.shape and np.abs(x).max() > 0
    rel = np.linalg.norm(x - y) / np.linalg.norm(x)
    print("relative L2 difference %.3g, max abs difference %.3g" % (rel, np.abs(x - y).max()))
    assert rel < 1e-6, rel
    assert np.abs(x - y).max() < 1e-5

def far(a, b):
    x, y = weights(a), weights(b)
    assert np.linalg.norm(x - y) / np.linalg.norm(x) > 1e-4, "different runs gave the same model"

def same_log(a, b, steps):
    la = [json.loads(l) for l in open(a)]
    lb = [json.loads(l) for l in open(b)]
    assert [r["step"] for r in la] == list(range(1, steps + 1)), [r["step"] for r in la]
    assert [r["step"] for r in lb] == list(range(1, steps + 1)), [r["step"] for r in lb]
    for ra, rb in zip(la, lb):
        for key in ("loss", "val_loss", "grad_norm"):
            if key in ra or key in rb:
                assert abs(ra[key] - rb[key]) <= 1e-5 * abs(ra[key]), (ra["step"], key, ra[key], rb[key])

def moments(a, b, mode):
    # AdamW m and v: the last 8 P bytes before a state file's CRC (llmc/train_state.h).
    P = int(np.fromfile(a, dtype="<u8", count=8)[7])
    x, y = open(a, "rb").read()[-(8 * P + 8):-8], open(b, "rb").read()[-(8 * P + 8):-8]
    if mode == "bitwise":
        assert x == y, "the AdamW moments differ"
    else:
        x, y = np.frombuffer(x, dtype="<f4").astype(np.float64), np.frombuffer(y, dtype="<f4").astype(np.float64)
        assert np.abs(x).max() > 0 and np.linalg.norm(x - y) <= 1e-6 * np.linalg.norm(x), np.linalg.norm(x - y)

def world_size(config, want):
    got = json.load(open(config))["training"]["world_size"]
    assert got == want, got

if __name__ == "__main__":
    f = globals()[sys.argv[1]]
    f(*[int(x) if x.isdigit() else x for x in sys.argv[2:]])
EOF
D=$TMP/data; mkdir -p "$D"
$PY "$TMP/h.py" shard "$D/train.bin" 21 32 512 1
$PY "$TMP/h.py" shard "$D/val.bin" 7 32 512 2
TINY=(--layers 2 --channels 64 --heads 4 --vocab_size 512 --threads 1 --quiet --train_file "$D/train.bin"
      --validation_file "$D/val.bin" --per_device_train_batch_size 2 --learning_rate 1e-3 --eval_every 3)
# 6 steps = 2 epochs of 8, 8, 5 examples (total 256 tokens = 2 rows x 32 x 2 ranks x 2 passes).
RUN2=("${TINY[@]}" --total_batch_size 256 --max_steps 6)

train_equal() {
  local n=$1 total=$2 steps=$3
  "$TRAIN" "${TINY[@]}" --total_batch_size "$total" --max_steps "$steps" --output_dir "$TMP/one_$n" > /dev/null &&
    mpi "$n" "$TRAIN" "${TINY[@]}" --total_batch_size "$total" --max_steps "$steps" --output_dir "$TMP/many_$n" > "$TMP/many_$n.out" &&
    $PY "$TMP/h.py" close "$TMP/one_$n/model.bin" "$TMP/many_$n/model.bin" &&
    $PY "$TMP/h.py" same_log "$TMP/one_$n/train_log.jsonl" "$TMP/many_$n/train_log.jsonl" "$steps" &&
    $PY "$TMP/h.py" world_size "$TMP/many_$n/config.json" "$n" &&
    grep -q "data parallel: $n ranks" "$TMP/many_$n.out"
}
check "2 ranks train the model of 1 process (same global batch; within 1e-6)" train_equal 2 256 6
check "3 ranks train the model of 1 process (uneven last passes)" train_equal 3 384 4
# The comparison can tell models apart: another seed is far away.
check "the model comparison detects a different run" bash -c \
  "'$TRAIN' ${TINY[*]} --total_batch_size 256 --max_steps 6 --seed 7 --output_dir '$TMP/seed7' > /dev/null &&
   $PY '$TMP/h.py' far '$TMP/one_2/model.bin' '$TMP/seed7/model.bin'"
unsplittable_batch() {
  ! mpi 2 "$TRAIN" "${TINY[@]}" --total_batch_size 64 --max_steps 1 --output_dir "$TMP/bad" > /dev/null 2> "$TMP/bad.err" &&
    grep -q 'total_batch_size 64 is not a multiple of B\*T\*ranks = 2\*32\*2 = 128' "$TMP/bad.err"
}
check "a total batch the ranks cannot split is refused, naming B*T*ranks" unsplittable_batch

# Resume: kill every rank after the log line of step 5 (checkpoints every 2 steps), resume, and
# the model must be bitwise the one of the uninterrupted 2-rank run.
resume_exact() {
  mpi 2 "$TRAIN" "${RUN2[@]}" --save_every 2 --output_dir "$TMP/full2" > /dev/null || return 1
  MEMLENS_TEST_KILL_AT=after_log:5 mpi 2 "$TRAIN" "${RUN2[@]}" --save_every 2 --output_dir "$TMP/res2" > /dev/null 2>&1
  [ -f "$TMP/res2/model_00000004.bin" ] && [ ! -f "$TMP/res2/model.bin" ] || { echo "the kill did not happen at step 5"; return 1; }
  mpi 2 "$TRAIN" "${RUN2[@]}" --save_every 2 --output_dir "$TMP/res2" --resume > "$TMP/res2.out" || return 1
  grep -q "resuming from step 4" "$TMP/res2.out" && cmp "$TMP/full2/model.bin" "$TMP/res2/model.bin" &&
    $PY "$TMP/h.py" same_log "$TMP/full2/train_log.jsonl" "$TMP/res2/train_log.jsonl" 6 &&
    ! ls "$TMP/res2" | grep -q '\.tmp\.'
}
check "2-rank resume after a kill is bitwise the uninterrupted 2-rank run" resume_exact
expect_error "resuming a 2-rank checkpoint with 1 process names the difference" \
  'resume: .*state_00000006\.bin belongs to a different run \(world_size was 2, now 1\)' \
  "$TRAIN" "${RUN2[@]}" --save_every 2 --output_dir "$TMP/full2" --resume

# ZeRO-1: each rank sums and updates only its shard of the weights (the CPU keeps all moments, the
# GPU only its shard's); the all-gathers make the model, and the checkpoint, those of the all-reduce path.
zero1_equal() {
  mpi 2 "$TRAIN" "${RUN2[@]}" --save_every 2 --zero_stage 1 --output_dir "$TMP/zero2" > "$TMP/zero2.out" || return 1
  grep -q "ZeRO-1: each rank updates at most 99200 of the 198400 weights" "$TMP/zero2.out" &&
    $PY "$TMP/h.py" close "$TMP/full2/model.bin" "$TMP/zero2/model.bin" &&
    $PY "$TMP/h.py" moments "$TMP/full2/state_00000004.bin" "$TMP/zero2/state_00000004.bin" close &&
    $PY "$TMP/h.py" same_log "$TMP/full2/train_log.jsonl" "$TMP/zero2/train_log.jsonl" 6
}
check "ZeRO-1 on 2 ranks: the model and checkpointed moments of the all-reduce run (within 1e-6)" zero1_equal
# Without clipping the gradient norm (the one sum ZeRO-1 orders differently) is not used: bitwise.
zero1_bitwise() {
  mpi 2 "$TRAIN" "${RUN2[@]}" --grad_clip 0 --save_every 2 --output_dir "$TMP/noclip" > /dev/null &&
    mpi 2 "$TRAIN" "${RUN2[@]}" --grad_clip 0 --save_every 2 --zero_stage 1 --output_dir "$TMP/noclip_zero" > /dev/null &&
    cmp "$TMP/noclip/model.bin" "$TMP/noclip_zero/model.bin" &&
    $PY "$TMP/h.py" moments "$TMP/noclip/state_00000004.bin" "$TMP/noclip_zero/state_00000004.bin" bitwise
}
check "ZeRO-1 without clipping: model and moments bitwise those of the all-reduce run" zero1_bitwise
zero1_three() {
  mpi 3 "$TRAIN" "${TINY[@]}" --total_batch_size 384 --max_steps 4 --zero_stage 1 --output_dir "$TMP/zero3" > /dev/null &&
    $PY "$TMP/h.py" close "$TMP/one_3/model.bin" "$TMP/zero3/model.bin"
}
check "ZeRO-1 on 3 ranks (uneven shards) trains the model of 1 process" zero1_three
zero1_resume() {
  MEMLENS_TEST_KILL_AT=after_log:5 mpi 2 "$TRAIN" "${RUN2[@]}" --save_every 2 --zero_stage 1 --output_dir "$TMP/zres" > /dev/null 2>&1
  [ -f "$TMP/zres/model_00000004.bin" ] && [ ! -f "$TMP/zres/model.bin" ] || { echo "the kill did not happen at step 5"; return 1; }
  mpi 2 "$TRAIN" "${RUN2[@]}" --save_every 2 --zero_stage 1 --output_dir "$TMP/zres" --resume > "$TMP/zres.out" &&
    grep -q "resuming from step 4" "$TMP/zres.out" && cmp "$TMP/zero2/model.bin" "$TMP/zres/model.bin"
}
check "ZeRO-1 resume after a kill is bitwise the uninterrupted ZeRO-1 run" zero1_resume
zero1_refused() {  # every rank says it, each line whole (one write); mpirun adds its own lines
  ! mpi 2 "$TRAIN" "${RUN2[@]}" --save_every 2 --output_dir "$TMP/zero2" --resume > /dev/null 2> "$TMP/zero_mix.err" &&
    grep -Eq '^train_gpt2: error: --resume: .*state_00000006\.bin belongs to a different run \(zero_stage was 1, now \(absent\)\)' \
      "$TMP/zero_mix.err" || { head -5 "$TMP/zero_mix.err"; return 1; }
}
check "resuming a ZeRO-1 checkpoint without --zero_stage 1 is refused, naming the difference" zero1_refused

# A rank killed mid-run: mpirun ends the job, non-zero, naming the rank.
killed_rank() {
  local t0=$SECONDS rc=0
  mpi 1 "$TRAIN" "${TINY[@]}" --total_batch_size 256 --max_steps 100000 --output_dir "$TMP/kill" : \
    -np 1 env MEMLENS_TEST_KILL_AT=mid_step:20 "$TRAIN" "${TINY[@]}" --total_batch_size 256 --max_steps 100000 \
    --output_dir "$TMP/kill" > /dev/null 2> "$TMP/kill.err" || rc=$?
  cat "$TMP/kill.err"
  [ "$rc" -ne 0 ] && [ $((SECONDS - t0)) -lt 100 ] &&
    grep -Eq 'rank 1 .*(signal 9|Killed)' "$TMP/kill.err" && [ ! -f "$TMP/kill/model.bin" ]
}
check "a killed rank ends the job non-zero with a message naming it" killed_rank
# Rank 0 alone writes checkpoints; the other ranks wait for it in their next collective. A slow
# disk (rank 0 pauses 4.5 s after writing the state of step 2) must not count against
# MEMLENS_DIST_TIMEOUT=3: that one wait gets the write's grace (here the timeout again).
slow_checkpoint() {
  MEMLENS_DIST_TIMEOUT=3 MEMLENS_TEST_PAUSE_AT=after_state:2:4.5 mpi 2 "$TRAIN" "${RUN2[@]}" --save_every 2 \
    --output_dir "$TMP/slow" > /dev/null 2> "$TMP/slow.err" || { cat "$TMP/slow.err"; return 1; }
  cmp "$TMP/full2/model.bin" "$TMP/slow/model.bin"
}
check "a checkpoint write longer than MEMLENS_DIST_TIMEOUT: the other rank waits for it (the model of the plain run)" slow_checkpoint
# A rank that hangs (stopped once rank 0 logged a step): the others give up after
# MEMLENS_DIST_TIMEOUT with one message.
hung_rank() {
  local t0=$SECONDS rc=0
  MEMLENS_DIST_TIMEOUT=3 mpi 1 "$TRAIN" "${TINY[@]}" --total_batch_size 256 --max_steps 100000 --output_dir "$TMP/hang" : \
    -np 1 bash -c 'log=$1; shift; "$@" & child=$!
                   for _ in $(seq 600); do [ -s "$log" ] && break; sleep 0.1; done  # training is under way
                   kill -STOP $child; wait $child' _ "$TMP/hang/train_log.jsonl" \
    "$TRAIN" "${TINY[@]}" --total_batch_size 256 --max_steps 100000 --output_dir "$TMP/hang" > /dev/null 2> "$TMP/hangt.err" || rc=$?
  cat "$TMP/hangt.err"
  [ "$rc" -ne 0 ] && [ $((SECONDS - t0)) -lt 60 ] &&
    grep -Eq '^train_gpt2: error: rank 0 of 2: .* of (gradients|training loss|validation loss): no answer from the other ranks in 3 s' "$TMP/hangt.err"
}
check "a hung rank: the trainer stops after MEMLENS_DIST_TIMEOUT naming the collective" hung_rank

# ---------------------------------------------------------------------------------------------
# Evaluation: 2 and 3 ranks write the results and per-example records of one process.
if [ -x "$TMP/bin/test_memorization" ] && [ -x ./generate_dataset ] && [ -f gpt2_tokenizer.bin ]; then
  DS=$TMP/ds
  ./generate_dataset --num_examples 16 --tokens_per_example 64 --train_ratio 0.75 --seed 5 --duplicates 1:8,3:4 \
    --output_dir "$DS" > "$TMP/gen.log" 2>&1 || { fail "generate_dataset for the evaluation tests"; cat "$TMP/gen.log"; }
  "$TRAIN" --layers 1 --channels 32 --heads 2 --train_file "$DS/train.bin" --validation_file none --output_dir "$TMP/evmodel" \
    --per_device_train_batch_size 10 --max_steps 40 --learning_rate 2e-2 --lr_schedule constant --threads 1 --quiet > /dev/null 2>&1 ||
    fail "train_gpt2 for the evaluation tests"
  EVAL=("$TMP/bin/test_memorization" --model_path "$TMP/evmodel" --train_file "$DS/train.bin" --test_file "$DS/test.bin"
        --metadata_file "$DS/metadata.json" --context_lengths 4,8,16,48 --max_new_tokens 16 --num_examples 0
        --batch_size 5 --threads 1 --exposure_candidates 200)
  cat > "$TMP/same_eval.py" <<'PY'
import json, os, sys
a, b, ranks = sys.argv[1], sys.argv[2], int(sys.argv[3])
ja, jb = json.load(open(a)), json.load(open(b))
assert jb["config"]["world_size"] == ranks, jb["config"]["world_size"]
for j, path in ((ja, a), (jb, b)):
    j.pop("timings")
    assert os.path.basename(j.pop("records_file")) == os.path.basename(path) + "l"
    for key in ("output_file", "world_size"):
        j["config"].pop(key)
assert ja == jb, [k for k in ja if ja[k] != jb.get(k)]
assert open(a + "l").read() == open(b + "l").read(), "per-example records differ"
assert sum(1 for _ in open(b + "l")) == 16 * 4
PY
  eval_equal() {
    local n=$1; shift
    "${EVAL[@]}" "$@" --output_file "$TMP/ev1/memorization.json" > /dev/null 2>&1 &&
      mpi "$n" "${EVAL[@]}" "$@" --output_file "$TMP/ev$n/memorization.json" > /dev/null 2> "$TMP/ev$n.err" &&
      $PY "$TMP/same_eval.py" "$TMP/ev1/memorization.json" "$TMP/ev$n/memorization.json" "$n"
  }
  mkdir -p "$TMP/ev1" "$TMP/ev2" "$TMP/ev3"
  check "2-rank evaluation writes the results and records of 1 process" eval_equal 2
  check "3-rank evaluation (plain greedy) writes the results and records of 1 process" eval_equal 3 --plain_greedy
else
  fail "test_memorization, generate_dataset or gpt2_tokenizer.bin missing (run make and make vocab)"
fi

# run_experiment.sh --gpus N keeps --batch_size as the global batch: it must split evenly.
expect_error "run_experiment.sh --gpus refuses a batch the ranks cannot split" \
  'batch_size 18 is not a multiple of --gpus 4 \(use e.g. --batch_size 20\)' \
  scripts/run_experiment.sh --preset cpu --gpus 4 --batch_size 18 --output_dir "$TMP/exp"
