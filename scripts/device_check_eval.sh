#!/usr/bin/env bash
# The GPU check of test_memorizationcu (issue 8), as ONE script for a short GPU lease (about 60-90 s
# on an H100):
#   1. environment; the carried binaries and their libraries
#   3. d12 (GPT-2 124M shape, random weights) on the default dataset (1,000 x 1,024 tokens)
#   4. speed of the GPU evaluator first: seed defaults (50 + 50 examples, k = 16..512, 100 new
#      tokens, every memorization metric; exposure off, timed apart), all 1,000 examples, and
#      exposure at 1,000 candidates
#   4b. tests/test_memorization_cuda.sh: GPU == CPU on a small memorizing model (fast path,
#      --plain_greedy, records at the model's maximum length), two GPU runs identical
#   5. GPU == CPU on d12 for 1 member + 1 non-member (6 context lengths, 100 new tokens, exposure
#      with 100 candidates), every decision and every mean; the CPU evaluator's time per example,
#      scaled, beside the GPU figures (on an H100 machine's 16 cores the CPU took 100 s for 2 + 2
#      examples, so it runs last)
# Prints "PASS name" / "FAIL name" lines and the figures; logs in $OUT/device_check_eval_logs.tgz.
# Carry (built on the build machine with `make` and scripts/prepare_device.sh): .device,
# test_memorization, test_memorizationcu, generate_dataset, train_gpt2, gpt2_tokenizer.bin.
# Usage: scripts/device_check_eval.sh
set -u
cd "$(dirname "$0")/.."
LOG=/tmp/device_check_eval_logs
rm -rf "$LOG"; mkdir -p "$LOG"
WORK=$(mktemp -d /tmp/device_check_eval.XXXXXX)
PY=${PY:-$(command -v python3)}
source scripts/device_lib.sh  # pass, fail, run, device_library_path
finish() {
  [ -n "${OUT:-}" ] && tar -czf "$OUT/device_check_eval_logs.tgz" -C /tmp device_check_eval_logs 2>/dev/null
  rm -rf "$WORK"
  echo "== $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit $?
}

# ---- 1. environment
device_library_path
echo "== environment: $(nproc) cores; LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv,noheader || echo "nvidia-smi failed"
for f in test_memorization test_memorizationcu generate_dataset train_gpt2 gpt2_tokenizer.bin; do
  [ -e "$f" ] || { fail "carried file $f is missing (carry it from the build machine)"; finish; }
done
for f in test_memorization test_memorizationcu generate_dataset train_gpt2; do
  if ldd "./$f" | grep -q "not found"; then fail "libraries of $f:"; ldd "./$f" | grep "not found" | sed 's/^/    /'; finish; fi
done
pass "binaries and libraries present"

# ---- 3. d12 on the default dataset: GPU == CPU
echo "== d12 (random weights) on 1,000 x 1,024-token examples"
run dataset 120 ./generate_dataset --output_dir "$WORK/ds" --threads 0
# A random d12 in llm.c's v3 format (wte std 0.1: logits spread as a trained model's do).
run d12_model 120 "$PY" dev/reference/random_d12.py "$WORK/d12.bin"
D12=(--model_path "$WORK/d12.bin" --train_file "$WORK/ds/train.bin" --test_file "$WORK/ds/test.bin"
     --metadata_file "$WORK/ds/metadata.json")
# The figures so far (called after the timed runs, so that they come even if a later step hangs,
# and at the end with the CPU comparison).
summary() {
"$PY" - "$WORK" <<'P'
import json, os, sys
w = sys.argv[1]
def load(name):
    p = os.path.join(w, name)
    return json.load(open(p)) if os.path.exists(p) else None
def line(label, r, extra=""):
    if r is None: print("  %-38s (no result)" % label); return
    t = r["timings"]; n = r["results"]["train"]["num_examples"] + r["results"]["test"]["num_examples"]
    print("  %-38s %7.2f s for %4d examples (teacher-forced %.2f, ID probe %.2f, generation %.2f for %d sequences, exposure %.2f; text+records %.2f)%s"
          % (label, t["evaluation_seconds"], n, t["teacher_forced_seconds"], t["id_probe_seconds"], t["generation_seconds"],
             t["generated_sequences"], t["exposure_seconds"], t["text_and_records_seconds"], extra))
seed, all_, expo, cpu = load("gpu_seed.json"), load("gpu_all.json"), load("gpu_exposure.json"), load("cpu_small.json")
seed_v2, seed_tf32, seed_tf32_v2 = load("gpu_seed_v2.json"), load("gpu_seed_tf32.json"), load("gpu_seed_tf32_v2.json")
all_tf32_v2 = load("gpu_all_tf32_v2.json")
if seed: print("  GPU:", seed["backend"]["device"], "| near ties:", seed["backend"]["near_ties"])
line("GPU, seed defaults (50+50, exposure off)", seed, "  [target <= 1 s]")
line("GPU, all 1,000 examples (exposure off)", all_, "  [target <= 10 s]")
line("GPU, 50+50 with exposure (1,000 cand.)", expo)
line("GPU, seed defaults, decode attention v2", seed_v2)
line("GPU, seed defaults, TF32 mode", seed_tf32)
line("GPU, seed defaults, TF32 + attention v2", seed_tf32_v2, "  [target <= 1 s]")
line("GPU, all 1,000, TF32 + attention v2", all_tf32_v2, "  [target <= 10 s]")
if cpu:
    t = cpu["timings"]; n = cpu["results"]["train"]["num_examples"] + cpu["results"]["test"]["num_examples"]
    per = (t["evaluation_seconds"] - t["exposure_seconds"]) / n
    print("  CPU (%s), %d examples: %.1f s without exposure = %.1f s per example -> about %.0f s for the 100 of the seed defaults"
          % (cpu["backend"]["device"], n, t["evaluation_seconds"] - t["exposure_seconds"], per, per * 100))
    if seed:
        g = seed["timings"]["evaluation_seconds"]
        print("  speed-up at the seed defaults: about %.0fx (CPU figure scaled from %d examples)" % (per * 100 / max(g, 1e-9), n))
P
}

# ---- 4. speed first (GPU only, so the figures come even if the CPU step below runs long)
echo "== speed of the GPU evaluator (d12)"
run gpu_seed_defaults 120 ./test_memorizationcu "${D12[@]}" --exposure_candidates 0 --output_file "$WORK/gpu_seed.json"
run gpu_all_examples 180 ./test_memorizationcu "${D12[@]}" --num_examples 0 --exposure_candidates 0 --output_file "$WORK/gpu_all.json"
run gpu_exposure_1000 180 ./test_memorizationcu "${D12[@]}" --exposure_candidates 1000 --output_file "$WORK/gpu_exposure.json"
# the vectorized KV-cache attention (llmc/decode_attention.cuh version 2): its time, and its records
# against version 1's at the seed defaults
run gpu_seed_defaults_v2 120 env MEMLENS_DECODE_ATTENTION=2 ./test_memorizationcu "${D12[@]}" --exposure_candidates 0 \
  --output_file "$WORK/gpu_seed_v2.json"
run gpu_v2_equals_v1 60 "$PY" tests/compare_eval.py "$WORK/gpu_seed.json" "$WORK/gpu_seed_v2.json"
sed 's/^/    /' "$LOG/gpu_v2_equals_v1.log" | head -4
# TF32 mode (the ID probe and generation on the TF32 tensor cores, near ties rerun in fp32): its
# time, how many rows it reran, and its records against the fp32 run's (they must be identical);
# then with the version-2 attention as well (the candidate default)
run gpu_seed_tf32 120 env MEMLENS_EVAL_TF32=1 ./test_memorizationcu "${D12[@]}" --exposure_candidates 0 \
  --output_file "$WORK/gpu_seed_tf32.json"
grep -h "TF32 mode" "$LOG/gpu_seed_tf32.log" | sed 's/^/    /'
run gpu_tf32_equals_fp32 60 "$PY" tests/compare_eval.py "$WORK/gpu_seed.json" "$WORK/gpu_seed_tf32.json"
sed 's/^/    /' "$LOG/gpu_tf32_equals_fp32.log" | head -4
run gpu_seed_tf32_v2 120 env MEMLENS_EVAL_TF32=1 MEMLENS_DECODE_ATTENTION=2 ./test_memorizationcu "${D12[@]}" \
  --exposure_candidates 0 --output_file "$WORK/gpu_seed_tf32_v2.json"
run gpu_tf32_v2_equals_fp32_v2 60 "$PY" tests/compare_eval.py "$WORK/gpu_seed_v2.json" "$WORK/gpu_seed_tf32_v2.json"
sed 's/^/    /' "$LOG/gpu_tf32_v2_equals_fp32_v2.log" | head -4
# (against fp32 with attention v1: this d12 has no position within 0.3 of a tie, so the two
# attention versions' rounding cannot flip a decision here)
run gpu_all_tf32_v2 180 env MEMLENS_EVAL_TF32=1 MEMLENS_DECODE_ATTENTION=2 ./test_memorizationcu "${D12[@]}" \
  --num_examples 0 --exposure_candidates 0 --output_file "$WORK/gpu_all_tf32_v2.json"
grep -h "TF32 mode" "$LOG/gpu_all_tf32_v2.log" | sed 's/^/    /'
run gpu_all_tf32_v2_equals_fp32 60 "$PY" tests/compare_eval.py "$WORK/gpu_all.json" "$WORK/gpu_all_tf32_v2.json"
sed 's/^/    /' "$LOG/gpu_all_tf32_v2_equals_fp32.log" | head -4
summary

# ---- 4b. the test file (small memorizing model: GPU == CPU, fast path and --plain_greedy)
echo "== tests/test_memorization_cuda.sh"
run test_memorization_cuda 150 bash tests/run_tests.sh tests/test_memorization_cuda.sh
grep -h "  ok \|FAIL\|skipped\|GPU:\|records;" "$LOG/test_memorization_cuda.log" | sed 's/^/    /'
grep -q "skipped: no GPU" "$LOG/test_memorization_cuda.log" && fail "the test file saw no GPU (have_gpu: nvidia-smi -L)"

# ---- 5. GPU == CPU on d12 (the CPU evaluator takes about 25 s per example here)
run d12_cpu_1x1 150 ./test_memorization "${D12[@]}" --num_examples 1 --exposure_candidates 100 --threads 0 \
  --output_file "$WORK/cpu_small.json"
run d12_gpu_1x1 120 ./test_memorizationcu "${D12[@]}" --num_examples 1 --exposure_candidates 100 \
  --output_file "$WORK/gpu_small.json"
run d12_gpu_equals_cpu 60 "$PY" tests/compare_eval.py "$WORK/cpu_small.json" "$WORK/gpu_small.json"
sed 's/^/    /' "$LOG/d12_gpu_equals_cpu.log" | head -8

summary
finish
