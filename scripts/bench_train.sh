#!/usr/bin/env bash
# train_gpt2 end to end: tokens/s of full optimizer steps (data, forward, backward, AdamW, log
# line), the time to write one checkpoint pair (model + AdamW state, fsync'd, with CRC-32
# checksums) and the time to find and verify it on --resume, and peak RSS.
#   BENCH_MODEL=d2 (default) | d12 ...   BENCH_STEPS=12   BENCH_B=4   BENCH_T=64   THREADS=2
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x ./train_gpt2 ] && [ -x ./generate_dataset ] || { echo "bench_train: build first (make)"; exit 1; }
MODEL=${BENCH_MODEL:-d2} STEPS=${BENCH_STEPS:-12} B=${BENCH_B:-4} T=${BENCH_T:-64} THREADS=${THREADS:-2}
TMP=$(mktemp -d /tmp/memlens-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
./generate_dataset --num_examples 60 --tokens_per_example 128 --output_dir "$TMP/ds" > /dev/null
FLAGS=(--model_name "$MODEL" --train_file "$TMP/ds/train.bin" --validation_file none --output_dir "$TMP/out"
       --max_steps "$STEPS" --save_every "$STEPS" --per_device_train_batch_size "$B" --max_seq_length "$T"
       --threads "$THREADS" --quiet)
TIME=()
[ -x /usr/bin/time ] && TIME=(/usr/bin/time -f "%M")
"${TIME[@]}" ./train_gpt2 "${FLAGS[@]}" > "$TMP/run.out" 2> "$TMP/time.err"
# Resume from the final checkpoint: measures finding + verifying the pair (nothing left to train).
./train_gpt2 "${FLAGS[@]}" --resume > "$TMP/resume.out"
/usr/bin/python3 - "$TMP" "$MODEL" "$B" "$T" "$THREADS" <<'PY'
import json, re, statistics, sys
tmp, model, B, T, threads = sys.argv[1:]
rows = [json.loads(l) for l in open(tmp + "/out/train_log.jsonl")]
tps = [r["tokens_per_second"] for r in rows[1:]]  # step 1 pays for allocation
run, resume = open(tmp + "/run.out").read(), open(tmp + "/resume.out").read()
params = re.search(r"(\d+) parameters", run).group(1)
save = re.search(r"written in ([0-9.]+) s", run)
verify = re.search(r"verified in ([0-9.]+) s", resume).group(1)
rss = open(tmp + "/time.err").read().strip().splitlines()
print("model %s (%s parameters), B=%s T=%s, %s threads, %d steps" % (model, params, B, T, threads, len(rows)))
print("  train step throughput: median %.0f tokens/s (min %.0f, max %.0f), %.3f s/step"
      % (statistics.median(tps), min(tps), max(tps), int(B) * int(T) / statistics.median(tps)))
print("  checkpoint pair write: %s s;  resume find+verify: %s s" % (save.group(1) if save else "?", verify))
if rss and rss[-1].isdigit():
    print("  peak RSS: %.0f MB" % (int(rss[-1]) / 1024))
PY
