#!/usr/bin/env bash
# test_memorizationcu, the GPU evaluator: built whenever nvcc is found (CI has nvcc but no GPU);
# its flag errors and its "no GPU" error are one line. With a GPU: on a small model that memorized
# part of its data, the GPU and CPU evaluators give identical decisions for every probe record
# (exact match, matched prefix, ID match, generated texts) and every number of the results JSON
# within 1e-4 (relative to max(1, |value|)), in the fast path, with --plain_greedy, at the model's
# maximum length, with the vectorised decode attention and in TF32 mode; two GPU runs give
# identical files.
# MEMLENS_GPU_EVALUATOR=build/emu/test_memorizationcu (tests/test_cuda_emu.sh) runs the same checks
# on the CPU emulator of dev/cuda/emu, plus its own: a coarser "TF32" that sends most rows back to
# fp32, and the warps scheduled in reverse order.
# (scripts/device_check_eval.sh runs this plus the d12 comparison and the speed figures.)
source "$(dirname "$0")/lib.sh"

GPU=${MEMLENS_GPU_EVALUATOR:-./test_memorizationcu}
EMULATED=0
if [ "$GPU" != ./test_memorizationcu ]; then
  EMULATED=1
  [ -x "$GPU" ] || { fail "$GPU is not built (run make emu)"; exit 0; }
else
  NVCC=$(command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null || true)
  if [ -z "$NVCC" ]; then skip "no nvcc: test_memorizationcu is not built on this machine"; exit 0; fi
  if [ -x ./test_memorizationcu ]; then pass "test_memorizationcu is built"; else fail "test_memorizationcu is not built (run make)"; exit 0; fi
  [ -d .device/lib ] && export LD_LIBRARY_PATH="$ROOT/.device/lib:${LD_LIBRARY_PATH:-}"
fi
ON=$([ $EMULATED = 1 ] && echo "emulator" || echo "GPU")

# A dataset (12 members, 4 with 3 training copies; 4 non-members) and a 1-layer model (head size
# 16) that memorizes part of it, as in tests/test_memorization.sh.
DS=$TMP/ds
./generate_dataset --num_examples 16 --tokens_per_example 64 --train_ratio 0.75 --seed 5 --duplicates 1:8,3:4 \
  --output_dir "$DS" > "$TMP/gen.log" 2>&1 || { fail "generate_dataset for the GPU evaluator tests"; cat "$TMP/gen.log"; exit 1; }
EVAL_ARGS=(--model_path "$TMP/model" --train_file "$DS/train.bin" --test_file "$DS/test.bin"
           --metadata_file "$DS/metadata.json" --context_lengths 4,8,16,32,48 --max_new_tokens 16
           --num_examples 0 --batch_size 5 --threads 2 --exposure_candidates 100)

# Flag errors come before any GPU work, so they are checked everywhere.
# (to a file, not a pipe: the exit status of --help counts)
check "--help exits 0 and names the program" bash -c "$GPU --help > $TMP/help.out 2>&1 && grep -q '^usage: test_memorizationcu' $TMP/help.out"
expect_error "unknown --splits value" "^test_memorizationcu: error: --splits" $GPU "${EVAL_ARGS[@]}" --splits validation \
  --output_file "$TMP/bad.json"
expect_error "unknown --exposure_context" "^test_memorizationcu: error: --exposure_context" $GPU "${EVAL_ARGS[@]}" \
  --exposure_context nope --output_file "$TMP/bad.json"

if [ $EMULATED = 0 ] && ! have_gpu; then
  expect_error "no GPU: one line" "^test_memorizationcu: error: no CUDA GPU found" $GPU "${EVAL_ARGS[@]}" --output_file "$TMP/nogpu.json"
  check "no GPU: no results file" test ! -e "$TMP/nogpu.json" -a ! -e "$TMP/nogpu.jsonl"
  skip "no GPU: GPU and CPU evaluators agree (fast path, records and JSON)"
  skip "no GPU: GPU and CPU evaluators agree (--plain_greedy)"
  skip "no GPU: GPU and CPU evaluators agree at the model's maximum length"
  skip "no GPU: two GPU runs give identical files"
  skip "no GPU: GPU and CPU evaluators agree with the vectorised decode attention and in TF32 mode"
  skip "no GPU: the GPU evaluator as 2 ranks (mpirun) equals one process"
  exit 0
fi

./train_gpt2 --layers 1 --channels 32 --heads 2 --train_file "$DS/train.bin" --validation_file none \
  --output_dir "$TMP/model" --per_device_train_batch_size 10 --max_steps 60 --learning_rate 2e-2 \
  --lr_schedule constant --warmup_steps 5 --threads 1 --quiet > "$TMP/train.log" 2>&1 \
  || { fail "train_gpt2 for the GPU evaluator tests"; tail -5 "$TMP/train.log"; exit 1; }

COMPARE="$PY tests/compare_eval.py"

./test_memorization "${EVAL_ARGS[@]}" --output_file "$TMP/cpu.json" > "$TMP/cpu.log" 2>&1
check "$ON evaluator runs" $GPU "${EVAL_ARGS[@]}" --output_file "$TMP/gpu.json"
check "$ON == CPU: fast path, every record and every mean (1e-4)" $COMPARE "$TMP/cpu.json" "$TMP/gpu.json" both

./test_memorization "${EVAL_ARGS[@]}" --plain_greedy --output_file "$TMP/cpu_plain.json" > /dev/null 2>&1
$GPU "${EVAL_ARGS[@]}" --plain_greedy --output_file "$TMP/gpu_plain.json" > "$TMP/gpu_plain.log" 2>&1
check "$ON == CPU: --plain_greedy (KV-cache decoding of every probe)" $COMPARE "$TMP/cpu_plain.json" "$TMP/gpu_plain.json" both

# The model cut to a maximum length of 64 (see tests/test_memorization.sh): records end at the
# model's last position, where the ID probe and exposure meet the edge of the position table.
# Standard library only: the GPU machines' plain python3 may lack numpy.
$PY - "$TMP/model/model.bin" "$TMP/model64.bin" <<'P'
import struct, sys
raw = open(sys.argv[1], "rb").read()
header = list(struct.unpack("<256i", raw[:1024]))
assert header[0] == 20240326 and header[1] == 3, header[:2]
maxT, V, L, NH, C, Vp = header[2:8]
wte_end, wpe_end = 1024 + 4 * Vp * C, 1024 + 4 * (Vp * C + maxT * C)
header[2] = 64
with open(sys.argv[2], "wb") as f:
    f.write(struct.pack("<256i", *header))
    f.write(raw[1024:wte_end])                    # wte
    f.write(raw[wte_end:wte_end + 4 * 64 * C])     # the first 64 rows of wpe
    f.write(raw[wpe_end:])                         # everything after wpe
P
EDGE_ARGS=("${EVAL_ARGS[@]}" --model_path "$TMP/model64.bin" --context_lengths 8,16,32,48)
./test_memorization "${EDGE_ARGS[@]}" --output_file "$TMP/cpu_edge.json" > /dev/null 2>&1
$GPU "${EDGE_ARGS[@]}" --output_file "$TMP/gpu_edge.json" > "$TMP/gpu_edge.log" 2>&1
check "$ON == CPU: records ending at the model's maximum length" $COMPARE "$TMP/cpu_edge.json" "$TMP/gpu_edge.json"

# same_files A.json B.json [WORLD_SIZE]: identical records (.jsonl), equal results and privacy
# (timings differ), and B's config.world_size when given.
same_files() {
  cmp "${1%.json}.jsonl" "${2%.json}.jsonl" && $PY - "$1" "$2" "${3:-}" <<'P'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
ok = (a["results"], a["privacy"]) == (b["results"], b["privacy"])
sys.exit(0 if ok and (not sys.argv[3] or b["config"]["world_size"] == int(sys.argv[3])) else 1)
P
}
$GPU "${EVAL_ARGS[@]}" --output_file "$TMP/gpu2.json" > /dev/null 2>&1
check "two $ON runs give identical records and results" same_files "$TMP/gpu.json" "$TMP/gpu2.json"

# Data parallelism (mpirun -np 2): each rank probes its share of the examples on the GPU, rank 0
# gathers them; the files must be those of one process.
if command -v mpirun > /dev/null && ldd "$GPU" | grep -q libmpi; then
  mpi_launcher
  rc=0
  timeout -k 20 300 "${MPIRUN[@]}" -x OMP_NUM_THREADS=1 -np 2 $GPU "${EVAL_ARGS[@]}" --threads 1 \
    --output_file "$TMP/gpu_w2.json" > "$TMP/gpu_w2.log" 2>&1 || rc=$?
  [ $rc = 0 ] || tail -5 "$TMP/gpu_w2.log"
  check "$ON evaluator as 2 ranks (mpirun; world_size 2 in its config) gives the records and results of one process" \
    same_files "$TMP/gpu.json" "$TMP/gpu_w2.json" 2
else
  skip "mpirun or an MPI build missing: the $ON evaluator as 2 ranks"
fi

# The opt-in fast paths keep every decision: the vectorised decode attention (version 2), and TF32
# matmuls with the rows that met a near tie rerun in fp32 (the log says how many).
# Each mode's run must succeed, and a failed one must not leave the previous mode's files to compare.
run_mode() {
  rm -f "$TMP/mode.json" "$TMP/mode.jsonl"
  env $1 $GPU "${EVAL_ARGS[@]}" --output_file "$TMP/mode.json" > "$TMP/mode.log" 2>&1 || { tail -5 "$TMP/mode.log"; return 1; }
  $COMPARE "$TMP/cpu.json" "$TMP/mode.json" both
}
for mode in "MEMLENS_DECODE_ATTENTION=2" "MEMLENS_EVAL_TF32=1" "MEMLENS_EVAL_TF32=1 MEMLENS_DECODE_ATTENTION=2"; do
  check "$ON == CPU with $mode" run_mode "$mode"
done
check "TF32 mode says what it reran" grep -Eq "TF32 mode: rerun in fp32 .*: [0-9]+ of [0-9]+ ID-probe rows, [0-9]+ of [0-9]+ generated rows" "$TMP/mode.log"

if [ $EMULATED = 1 ]; then
  # A "TF32" of 4 mantissa bits moves the logits 60x more than TF32 does: calibration raises the
  # bound, most rows go back to fp32, and the restarts from each row's first near tie must still
  # give the fp32 decisions.
  MEMLENS_EVAL_TF32=1 MEMLENS_EMU_TF32_BITS=4 $GPU "${EVAL_ARGS[@]}" --output_file "$TMP/coarse.json" > "$TMP/coarse.log" 2>&1
  check "emulator == CPU in TF32 mode with 4-bit mantissas (most rows rerun)" $COMPARE "$TMP/cpu.json" "$TMP/coarse.json" both
  check "4-bit mantissas: calibration raised the rerun bound above 1e-2" \
    grep -Eq "rerun bound 0\.0[2-9]|rerun bound 0\.[1-9]" "$TMP/coarse.log"
  # Warps scheduled last-first: a missing barrier that the first order hides shows here.
  MEMLENS_EMU_WARP_ORDER=reverse $GPU "${EVAL_ARGS[@]}" --plain_greedy --output_file "$TMP/reverse.json" > /dev/null 2>&1
  check "emulator == CPU with the warps in reverse order (--plain_greedy)" $COMPARE "$TMP/cpu_plain.json" "$TMP/reverse.json" both
fi
