#!/usr/bin/env bash
# Memorization at every saved checkpoint of a training run: when did the model start to reproduce
# its members, and to leak them (exposure, membership inference)? Each model_NNNNNNNN.bin the
# trainer saved (--save_every; keep them all with --save_total_limit 0), and the final model.bin
# when no checkpoint holds its step, goes through test_memorization with every metric; then
# scripts/report.py draws the results against the training step.
#
#   scripts/eval_checkpoints.sh MODEL_DIR --data_dir DATA_DIR [--output_dir DIR] [--evaluator PROGRAM]
#                               [--every N] [--ranks N] [--no_report] [-- test_memorization flags...]
#
#   MODEL_DIR        the trainer's --output_dir (train_gpt2 or train_gpt2cu)
#   --data_dir D     the dataset it was trained on (generate_dataset's --output_dir: train.bin,
#                    test.bin, metadata.json); train.bin (and test.bin, when the run validated on
#                    it) must be the files whose sha256 the run's config.json recorded
#   --output_dir DIR where the results go (default MODEL_DIR/checkpoint_eval): DIR/step_NNNNNNNN/
#                    results/memorization_results.json (+ .jsonl) per checkpoint, and DIR/report/
#                    (runs.csv, privacy.csv, vs_step.png, ...)
#   --evaluator P    test_memorization (default) or test_memorizationcu (the GPU evaluator) of this
#                    repository, or a path
#   --every N        only the checkpoints whose step is a multiple of N (the final model always)
#   --ranks N        each evaluation as N data-parallel ranks (mpirun -np N: one per GPU with
#                    test_memorizationcu, or N CPU processes); $MEMLENS_LAUNCH replaces "mpirun -np N"
#   --no_report      skip scripts/report.py at the end
#   after --          passed to the evaluator (e.g. --context_lengths 16,32 --exposure_candidates 1000
#                    --threads 8); the flags that name the model, the data and the output are set here
# Resumable: a checkpoint whose results are complete and whose command and checkpoint file (size,
# time) are unchanged is skipped. Relative paths, also in the flags after --, are taken from the
# directory you run the script in.
set -euo pipefail
caller_pwd=$PWD
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3

die() { echo "eval_checkpoints.sh: error: $*" >&2; exit 2; }
usage() { sed -n '2,/^set -euo/p' "$ROOT/scripts/eval_checkpoints.sh" | sed '$d' | sed 's/^# \{0,1\}//'; }
# absolute PATH: from the caller's directory, normalised (run/, ./run and run are one stamp)
absolute() { case "$1" in /*) realpath -m -- "$1" ;; *) realpath -m -- "$caller_pwd/$1" ;; esac; }

model_dir="" data_dir="" out_dir="" evaluator="" every=1 ranks=1 report=1
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --data_dir|--output_dir|--evaluator|--every|--ranks)
      [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value (see --help)"
      case "$1" in
        --data_dir) data_dir=$2 ;; --output_dir) out_dir=$2 ;; --evaluator) evaluator=$2 ;; --every) every=$2 ;;
        --ranks) ranks=$2 ;;
      esac
      shift 2 ;;
    --no_report) report=0; shift ;;
    --) shift; extra=("$@"); break ;;
    -*) die "unknown flag '$1' (see --help)" ;;
    *) [ -z "$model_dir" ] || die "two model directories given ('$model_dir' and '$1'); pass one trainer --output_dir"
       model_dir=$1; shift ;;
  esac
done
[ -n "$model_dir" ] || die "no MODEL_DIR given: pass the trainer's --output_dir (see --help)"
[ -n "$data_dir" ] || die "--data_dir is required: the generate_dataset --output_dir the model was trained on"
[[ "$every" =~ ^[1-9][0-9]*$ ]] || die "--every '$every' is not a positive whole number"
[[ "$ranks" =~ ^[1-9][0-9]*$ ]] || die "--ranks '$ranks' is not a positive whole number"
source "$ROOT/scripts/mpi_launch.sh"
mpi_launch "$ranks" --ranks eval_checkpoints.sh
model_dir=$(absolute "$model_dir"); data_dir=$(absolute "$data_dir")
out_dir=$(absolute "${out_dir:-$model_dir/checkpoint_eval}")
case "$evaluator" in "") evaluator=$ROOT/test_memorization ;; */*) evaluator=$(absolute "$evaluator") ;; *) evaluator=$ROOT/$evaluator ;; esac
[ -d "$model_dir" ] || die "$model_dir is not a directory (pass the trainer's --output_dir)"
[ -f "$model_dir/config.json" ] || die "$model_dir has no config.json, so it is not a trainer's --output_dir (pass the directory train_gpt2 wrote)"
for f in train.bin test.bin metadata.json; do
  [ -f "$data_dir/$f" ] || die "--data_dir: $data_dir/$f is missing (pass the generate_dataset --output_dir the model was trained on)"
done
[ -x "$evaluator" ] || die "--evaluator: $evaluator is not an executable (build it with make)"
tokenizer=(--tokenizer "$ROOT/gpt2_tokenizer.bin")  # the evaluator runs in your directory
for ((i = 0; i < ${#extra[@]}; i++)); do
  case "${extra[$i]%%=*}" in  # --flag value and --flag=value alike
    --model_path|--model_name|--model_dir|--train_file|--test_file|--metadata_file|--output_file)
      die "${extra[$i]%%=*} after -- is set by this script for each checkpoint; leave it out" ;;
    --tokenizer) tokenizer=() ;;
  esac
done

# The data must be what the run trained (and validated) on: the sha256 values in its config.json.
# Prints the final step (0 when the run has not finished).
final_step=$("$PY" - "$model_dir/config.json" "$data_dir" <<'P'
import hashlib, json, os, sys
config_path, data_dir = sys.argv[1:3]
def die(msg):
    print(f"eval_checkpoints.sh: error: {msg}", file=sys.stderr); sys.exit(2)
try:
    config = json.load(open(config_path, encoding="utf-8"))
    data = config["data"]
except (OSError, ValueError, KeyError, TypeError) as e:
    die(f"{config_path}: not a trainer's config.json ({e}); pass the directory train_gpt2 wrote")
def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
for name, key in (("train.bin", "train_sha256"), ("test.bin", "validation_sha256")):
    want = data.get(key)
    if want and sha256(os.path.join(data_dir, name)) != want:
        die(f"--data_dir: {data_dir}/{name} is not the file the model was {'trained' if name == 'train.bin' else 'validated'} "
            f"on (sha256 differs from {key} in {config_path}); pass the run's dataset")
print(int((config.get("result") or {}).get("steps") or 0))
P
) || exit 2

# The checkpoints, in step order: model_NNNNNNNN.bin, then model.bin when its step has none.
steps=() files=()
shopt -s nullglob
for f in "$model_dir"/model_[0-9]*.bin; do
  base=${f##*/}; s=${base#model_}; s=${s%.bin}
  [[ "$s" =~ ^[0-9]{8}$ ]] || continue  # the trainer's names only (a model_10.bin copy would clash)
  steps+=($((10#$s))); files+=("$f")
done
if [ "$final_step" -gt 0 ] && [ -f "$model_dir/model.bin" ] && [ ! -f "$(printf '%s/model_%08d.bin' "$model_dir" "$final_step")" ]; then
  steps+=("$final_step"); files+=("$model_dir/model.bin")
fi
[ ${#steps[@]} -gt 0 ] || die "$model_dir holds no checkpoint (model_NNNNNNNN.bin) and no finished model.bin; train with --save_every N"

mkdir -p "$out_dir" || die "--output_dir: cannot create $out_dir; pass a writable directory"
ran=0 skipped=0 total=0 gone=0 points=()
run_label=$(basename "$model_dir")
for i in "${!steps[@]}"; do
  step=${steps[$i]} model=${files[$i]}
  [ $((step % every)) -eq 0 ] || [ "$step" -eq "$final_step" ] || continue
  total=$((total + 1))
  name=$(printf 'step_%08d' "$step")
  # a trainer with --save_total_limit may remove a listed checkpoint while this runs
  gone_line="== step $step: ${model##*/} was removed (by the trainer's --save_total_limit?), skipped"
  [ -f "$model" ] || { echo "$gone_line"; gone=$((gone + 1)); continue; }
  dir=$out_dir/$name results=$out_dir/$name/results/memorization_results.json
  cmd=("${launch[@]}" "$evaluator" --model_path "$model" --train_file "$data_dir/train.bin" --test_file "$data_dir/test.bin"
       --metadata_file "$data_dir/metadata.json" --output_file "$results" "${tokenizer[@]}" "${extra[@]}")
  stamp="${cmd[*]} | $(stat -c '%s %Y' "$model" 2>/dev/null || echo removed)"
  if [ -f "$dir/.sweep_done" ] && [ "$(cat "$dir/.sweep_done")" = "$stamp" ] && [ -s "$results" ] && [ -s "${results%.json}.jsonl" ]; then
    echo "== step $step: complete, skipped"
    skipped=$((skipped + 1)); points+=("$dir"); continue
  fi
  echo "== step $step: ${model##*/} (the command heads $dir/eval.log)"
  mkdir -p "$dir/results"
  rm -f "$dir/.sweep_done" "$results" "${results%.json}.jsonl"
  # the point's parameters for scripts/report.py, written before the run (an unfinished one is left out)
  "$PY" - "$dir/sweep_point.json" "${run_label}_$name" "$step" "$stamp" "$data_dir/metadata.json" "$model_dir" <<'P'
import json, os, sys
path, name, step, stamp, metadata, model_dir = sys.argv[1:7]
try:  # the dataset's repeat schedule (generate_dataset --duplicates), for the report's column
    duplicates = json.load(open(metadata))["options"].get("duplicates")
except (OSError, ValueError, KeyError, TypeError, AttributeError):
    duplicates = None
tmp = path + ".tmp"
with open(tmp, "w") as f:
    json.dump({"schema_version": 1, "run": name, "model_dir": model_dir, "step": int(step), "duplicates": duplicates,
               "command": stamp}, f, indent=2)
    f.write("\n"); f.flush(); os.fsync(f.fileno())
os.replace(tmp, path)
P
  t0=$(date +%s)
  echo "${cmd[*]}" > "$dir/eval.log"
  if ! "${cmd[@]}" >> "$dir/eval.log" 2>&1 && [ ! -f "$model" ]; then
    echo "$gone_line"; gone=$((gone + 1)); continue
  fi
  [ -s "$results" ] ||
    die "the evaluator failed on $model (step $step): $(grep -v '^[[:space:]]*$' "$dir/eval.log" | tail -n 1) (whole log: $dir/eval.log)"
  echo "$stamp" > "$dir/.sweep_done"
  ran=$((ran + 1)); points+=("$dir")
  "$PY" - "$results" "$step" "$(( $(date +%s) - t0 ))" <<'P'
import json, sys
r = json.load(open(sys.argv[1]))
def rate(split):
    by_k = ((r["results"] or {}).get(split) or {}).get("by_context_length") or {}
    v = lambda a: a["exact_match_rate"]["value"]
    return " ".join(f"k={a['k']} " + ("n/a" if v(a) is None else f"{v(a):.2f}") for a in sorted(by_k.values(), key=lambda a: a["k"]))
print(f"   step {sys.argv[2]}: exact match, members: {rate('train')} | non-members: {rate('test')} ({sys.argv[3]} s)")
P
done
echo "eval_checkpoints: $ran evaluated, $skipped complete already, $gone removed meanwhile ($total checkpoints) under $out_dir"
# the report covers this run's checkpoints only (not older step_* folders of a retrained run)
if [ $report -eq 1 ] && [ ${#points[@]} -gt 0 ]; then
  "$PY" "$ROOT/scripts/report.py" "${points[@]}" --output_dir "$out_dir/report"
fi
