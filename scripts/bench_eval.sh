#!/usr/bin/env bash
# Evaluator speed: examples/s of test_memorization with the teacher-forced fast path and with
# plain greedy decoding, side by side, on
#   1. the CPU preset of scripts/run_experiment.sh (its trained model from runs/cpu when present,
#      else a 1-step model of the same shape), at the preset's full settings;
#   2. a d12 (124M) model (models/gpt2.bin when present, else a random d12) on 1,024-token examples
#      with the seed's settings (context lengths 16..512, 100 new tokens), a few examples per split.
# Scratch files go to build/bench_eval/. Usage: scripts/bench_eval.sh [--threads N] [--d12_examples N]
set -euo pipefail
cd "$(dirname "$0")/.."
threads=0
d12_examples=4
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    --d12_examples) d12_examples=$2; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench_eval.sh: error: unknown argument '$1' (use --threads N, --d12_examples N)" >&2; exit 2 ;;
  esac
done
for prog in ./generate_dataset ./train_gpt2 ./test_memorization; do
  [ -x "$prog" ] || { echo "bench_eval.sh: error: $prog is not built (run make first)" >&2; exit 1; }
done
W=build/bench_eval
mkdir -p "$W"
PY=/usr/bin/python3

# run_pair NAME MODEL DATA EVAL_FLAGS...: fast path and plain greedy, one line of figures
run_pair() {
  local name=$1 model=$2 data=$3; shift 3
  local common=(--model_path "$model" --train_file "$data/train.bin" --test_file "$data/test.bin"
                --metadata_file "$data/metadata.json" --threads "$threads" --exposure_candidates 0 "$@")  # exposure is not part of this comparison
  ./test_memorization "${common[@]}" --output_file "$W/$name.fast.json" 2> "$W/$name.fast.log" \
    || { tail -3 "$W/$name.fast.log"; return 1; }
  ./test_memorization "${common[@]}" --output_file "$W/$name.plain.json" --plain_greedy 2> "$W/$name.plain.log" \
    || { tail -3 "$W/$name.plain.log"; return 1; }
  $PY - "$name" "$W/$name.fast.json" "$W/$name.plain.json" <<'P'
import json, sys
name, fast, plain = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
n = sum(s["num_examples"] for s in fast["results"].values())
tf, tp = fast["timings"], plain["timings"]
m = fast["model"]
print(f"{name:<6} L={m['num_layers']:<2} C={m['channels']:<4} {fast['dataset']['tokens_per_example']:>5} tok/ex  "
      f"k={','.join(map(str, fast['context_lengths']))}  new={fast['config']['max_new_tokens']}  {n} examples, "
      f"{fast['config']['threads_used']} threads")
print(f"       fast path:    {tf['examples_per_second']:8.2f} examples/s  ({tf['evaluation_cpu_seconds']:.1f} CPU s; "
      f"wall {tf['evaluation_seconds']:.1f} s: teacher-forced "
      f"{tf['teacher_forced_seconds']:.1f}, ID probe {tf['id_probe_seconds']:.1f}, generation {tf['generation_seconds']:.1f} "
      f"for {tf['generated_sequences']} sequences)")
print(f"       plain greedy: {tp['examples_per_second']:8.2f} examples/s  ({tp['evaluation_cpu_seconds']:.1f} CPU s; "
      f"wall {tp['evaluation_seconds']:.1f} s: generation "
      f"{tp['generation_seconds']:.1f} for {tp['generated_sequences']} sequences)")
print(f"       speed-up of the fast path: {tp['evaluation_seconds'] / max(tf['evaluation_seconds'], 1e-9):.2f}x wall, "
      f"{tp['evaluation_cpu_seconds'] / max(tf['evaluation_cpu_seconds'], 1e-9):.2f}x CPU time")
P
}

echo "== CPU preset"
cpu_data=$W/cpu_data
[ -s "$cpu_data/metadata.json" ] || ./generate_dataset --num_examples 120 --tokens_per_example 64 --train_ratio 0.75 \
  --seed 1337 --output_dir "$cpu_data" --overwrite > /dev/null
if [ -s runs/cpu/model/model.bin ] && [ -s runs/cpu/data/metadata.json ]; then
  cpu_model=runs/cpu/model/model.bin; cpu_data=runs/cpu/data
  echo "(trained model of make run: $cpu_model)"
else
  cpu_model=$W/cpu_model/model.bin
  [ -s "$cpu_model" ] || ./train_gpt2 --layers 2 --channels 128 --heads 4 --train_file "$cpu_data/train.bin" \
    --validation_file none --output_dir "$W/cpu_model" --max_steps 1 --overwrite_output_dir --quiet > /dev/null
  echo "(no runs/cpu model: a 1-step model of the preset's shape, so little matches and most probes are generated)"
fi
run_pair cpu "$cpu_model" "$cpu_data" --num_examples 50 --context_lengths 4,8,16,32,48 --max_new_tokens 16 --seed 1337
# exposure (identifier ranking among candidates) on the same model, timed on its own
./test_memorization --model_path "$cpu_model" --train_file "$cpu_data/train.bin" --test_file "$cpu_data/test.bin" \
  --metadata_file "$cpu_data/metadata.json" --threads "$threads" --num_examples 50 --context_lengths 16 \
  --max_new_tokens 16 --seed 1337 --exposure_candidates 1000 --output_file "$W/cpu.exposure.json" 2> "$W/cpu.exposure.log" \
  || { tail -3 "$W/cpu.exposure.log"; exit 1; }
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); n=sum(s["num_examples"] for s in d["results"].values()); t=d["timings"]["exposure_seconds"]; print(f"       exposure, 1000 candidates: {n} examples in {t:.1f} s ({n/max(t,1e-9):.2f} examples/s)")' "$W/cpu.exposure.json"

echo "== d12"
d12_data=$W/d12_data
[ -s "$d12_data/metadata.json" ] || ./generate_dataset --num_examples 40 --tokens_per_example 1024 --seed 1337 \
  --output_dir "$d12_data" --overwrite > /dev/null
if [ -s models/gpt2.bin ]; then
  d12_model=models/gpt2.bin
  echo "(pretrained GPT-2 124M: $d12_model)"
else
  d12_model=$W/d12_model/model.bin
  [ -s "$d12_model" ] || ./train_gpt2 --model_name d12 --train_file "$d12_data/train.bin" --validation_file none \
    --output_dir "$W/d12_model" --max_steps 1 --per_device_train_batch_size 1 --max_seq_length 64 \
    --overwrite_output_dir --quiet > /dev/null
  echo "(no models/gpt2.bin: a random d12, so nothing matches and every probe is generated)"
fi
run_pair d12 "$d12_model" "$d12_data" --num_examples "$d12_examples" --context_lengths 16,32,64,128,256,512 \
  --max_new_tokens 100 --batch_size 4
