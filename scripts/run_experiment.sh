#!/usr/bin/env bash
# The whole experiment: generate a dataset, train a model on its training split, measure
# memorization of members (train) against non-members (test), plot. `make run` calls it with
# --preset auto.
#
#   scripts/run_experiment.sh [--preset auto|cpu|seed] [--output_dir DIR] [--gpus N] [overrides]
#
# Presets:
#   cpu   sized for a 2-core CPU-only machine (whole run in minutes): 120 examples x 64 tokens
#         (90 members, 30 non-members), a 2-layer 128-channel GPT-2 from scratch, context lengths
#         4..48 with 16 new tokens, exposure among 1,000 candidate identifiers.
#   seed  the seed project's experiment: 1,000 examples x 1,024 tokens, fine-tune pretrained GPT-2
#         (models/gpt2.bin) for 3 epochs with the CUDA trainer, context lengths 16..512 with 100 new
#         tokens, exposure among 10,000 candidate identifiers.
#   auto  seed when an NVIDIA GPU and the CUDA trainer (./train_gpt2cu) are present, else cpu.
# Every step is skipped when its output exists, is complete, and was made by the same command
# (stamped in DIR/.stamps/); an interrupted training run resumes from its last checkpoint. When
# a step reruns, the results and plots of the earlier command are removed first.
# Results: DIR/results/memorization_results.json (+ .jsonl) and DIR/results/*.png.
set -euo pipefail
caller_pwd=$PWD
cd "$(dirname "$0")/.."
PY=/usr/bin/python3

usage() {
  sed -n '2,/^set -euo/p' scripts/run_experiment.sh | sed '$d' | sed 's/^# \{0,1\}//'
  cat <<'EOF'
Overrides (defaults come from the preset):
  --output_dir DIR          where everything goes (default runs/<preset> in the repository; a
                            relative DIR is taken from the directory you run the script in)
  --gpus N                  train and evaluate with N data-parallel ranks (mpirun -np N; one per GPU,
                            or N CPU processes); --batch_size stays the global batch and must be a
                            multiple of N. $MEMLENS_LAUNCH replaces "mpirun -np N" (Slurm scripts)
  --num_examples N          examples in the dataset
  --tokens_per_example N    tokens per example
  --train_ratio X           share of examples in the training split
  --duplicates SPEC         training copies per example (generate_dataset --duplicates)
  --model NAME              train_gpt2 --model_name (e.g. gpt2, d12) instead of the preset's model
  --max_steps N             training steps (0 = use --epochs)
  --epochs N                training epochs; replaces the preset's step count (the cpu preset trains
                            a fixed number of steps), so it cannot be combined with --max_steps N > 0
  --learning_rate X         peak learning rate
  --batch_size N            training batch size (examples per step)
  --eval_examples N         examples per split evaluated (0 = all)
  --context_lengths LIST    e.g. 16,32,64
  --max_new_tokens N        tokens generated per prompt
  --exposure_candidates N   identifiers each closing identifier is ranked among (test_memorization; 0 = off, all)
  --threads N               threads for every step (0 = all cores)
  --seed N                  seed for the dataset, the initialisation and the evaluation sample
  --gen_args "..."  --train_args "..."  --eval_args "..."   extra flags passed to each program;
                            the programs run in the repository root, so a relative path inside
                            these strings (e.g. --gen_args "--input my.jsonl") is relative to the
                            repository root, not to your directory: pass absolute paths
EOF
}

preset=auto
out_dir=""
gpus=1
declare -A o=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --preset|--output_dir|--gpus)
      [ $# -ge 2 ] && [ -n "$2" ] || { echo "run_experiment.sh: error: $1 needs a value (see --help)" >&2; exit 2; }
      case "$1" in --preset) preset=$2 ;; --output_dir) out_dir=$2 ;; --gpus) gpus=$2 ;; esac
      shift 2 ;;
    --num_examples|--tokens_per_example|--train_ratio|--duplicates|--model|--max_steps|--epochs|--learning_rate|\
    --batch_size|--eval_examples|--context_lengths|--max_new_tokens|--exposure_candidates|--threads|--seed|--gen_args|--train_args|--eval_args)
      [ $# -ge 2 ] || { echo "run_experiment.sh: error: $1 needs a value (see --help)" >&2; exit 2; }
      o[${1#--}]=$2; shift 2 ;;
    *) echo "run_experiment.sh: error: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

have_cuda_setup() {
  command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && [ -x ./train_gpt2cu ]
}
if [ "$preset" = auto ]; then
  if have_cuda_setup; then preset=seed; else preset=cpu; fi
  echo "run_experiment: preset auto -> $preset"
fi

case "$preset" in
  cpu)
    d_num_examples=120; d_tokens=64; d_ratio=0.75; d_model=""; d_arch="--layers 2 --channels 128 --heads 4"
    d_steps=300; d_epochs=0; d_lr=5e-3; d_batch=18; d_schedule="--lr_schedule cosine --warmup_steps 10 --min_lr_fraction 0.1 --weight_decay 0"
    d_eval_examples=50; d_ks=4,8,16,32,48; d_new=16; d_exposure=1000; trainer=./train_gpt2 ;;
  seed)
    d_num_examples=1000; d_tokens=1024; d_ratio=0.9; d_model=gpt2; d_arch=""
    d_steps=0; d_epochs=3; d_lr=5e-5; d_batch=4; d_schedule="--lr_schedule linear --warmup_steps 0"
    d_eval_examples=50; d_ks=16,32,64,128,256,512; d_new=100; d_exposure=10000
    if have_cuda_setup; then trainer=./train_gpt2cu
    else
      trainer=./train_gpt2
      [ ! -x ./train_gpt2cu ] || echo "run_experiment: note: no usable NVIDIA GPU (nvidia-smi -L failed), so the seed preset trains with the CPU trainer ./train_gpt2"
    fi ;;
  *) echo "run_experiment.sh: error: --preset '$preset' is not a preset (use auto, cpu or seed)" >&2; exit 2 ;;
esac

num_examples=${o[num_examples]:-$d_num_examples}
tokens=${o[tokens_per_example]:-$d_tokens}
ratio=${o[train_ratio]:-$d_ratio}
steps=${o[max_steps]:-$d_steps}
epochs=${o[epochs]:-$d_epochs}
# --epochs replaces the preset's step count; with an explicit --max_steps N > 0 it would be ignored
if [ -n "${o[epochs]:-}" ]; then
  if [ -n "${o[max_steps]:-}" ] && [ "${o[max_steps]}" != 0 ]; then
    echo "run_experiment.sh: error: --epochs ${o[epochs]} and --max_steps ${o[max_steps]} both set the training length; give one (or --max_steps 0)" >&2; exit 2
  fi
  steps=0
fi
lr=${o[learning_rate]:-$d_lr}
batch=${o[batch_size]:-$d_batch}
eval_examples=${o[eval_examples]:-$d_eval_examples}
ks=${o[context_lengths]:-$d_ks}
new_tokens=${o[max_new_tokens]:-$d_new}
exposure_candidates=${o[exposure_candidates]:-$d_exposure}
threads=${o[threads]:-0}
seed=${o[seed]:-1337}
# a DIR given relative is the caller's; the default stays runs/<preset> in the repository (as before,
# so that its stamps still match)
if [ -n "${out_dir:-}" ]; then case "$out_dir" in /*) ;; *) out_dir=$caller_pwd/$out_dir ;; esac
else out_dir=runs/$preset; fi
if [ -n "${o[model]:-}" ]; then model_flags="--model_name ${o[model]}"
elif [ -n "$d_model" ]; then model_flags="--model_name $d_model"
else model_flags=$d_arch; fi
if [ "$steps" != 0 ]; then length_flags="--max_steps $steps"; else length_flags="--num_train_epochs $epochs"; fi

# --gpus N: the trainer and the evaluator run as N ranks; each trains on batch / N examples per pass.
[[ "$gpus" =~ ^[1-9][0-9]*$ ]] || { echo "run_experiment.sh: error: --gpus '$gpus' is not a whole number >= 1" >&2; exit 2; }
per_rank_batch=$batch
if [ "$gpus" -gt 1 ]; then
  [ $((batch % gpus)) -eq 0 ] || {
    echo "run_experiment.sh: error: --batch_size $batch is not a multiple of --gpus $gpus (use e.g. --batch_size $((gpus * (batch / gpus + 1))))" >&2; exit 2; }
  per_rank_batch=$((batch / gpus))
fi
source scripts/mpi_launch.sh
mpi_launch "$gpus" --gpus run_experiment.sh

for prog in ./generate_dataset "$trainer" ./test_memorization; do
  [ -x "$prog" ] || { echo "run_experiment.sh: error: $prog is not built (run make first)" >&2; exit 1; }
done

data=$out_dir/data; model=$out_dir/model; results=$out_dir/results; stamps=$out_dir/.stamps
mkdir -p "$out_dir" "$stamps" "$results" 2>/dev/null || {
  echo "run_experiment.sh: error: --output_dir: cannot create the directories of $out_dir (a file in the way, or no write permission); pass a writable directory" >&2; exit 2; }
t_start=$(date +%s)

# run_step NAME COMPLETE_TEST -- CMD...: runs CMD unless COMPLETE_TEST (a function name) passes and
# the stamp says the same command made the output. A changed command invalidates the later steps too.
invalidated=0
# remove_stale_outputs STEP: once STEP reruns, the results and plots were made from older inputs; they
# go before it runs, so that a rerun that fails cannot leave them looking current (scripts/report.py)
remove_stale_outputs() {
  case $1 in generate|train|test) rm -f "$results/memorization_results.json" "$results/memorization_results.jsonl" ;; esac
  rm -f "$results"/*.png
}
run_step() {
  local name=$1 complete=$2; shift 3
  local stamp="$stamps/$name" cmd="$*"
  if [ $invalidated -eq 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$cmd" ] && "$complete"; then
    echo "== $name: done already, skipped ($stamp)"
    return
  fi
  invalidated=1
  echo "== $name: $cmd"
  local t0; t0=$(date +%s)
  rm -f "$stamp"
  remove_stale_outputs "$name"
  "$@"
  echo "$cmd" > "$stamp"
  echo "== $name: $(( $(date +%s) - t0 )) s"
}

# 1. dataset
gen_cmd=(./generate_dataset --num_examples "$num_examples" --tokens_per_example "$tokens" --train_ratio "$ratio"
         --seed "$seed" --output_dir "$data" --threads "$threads" --overwrite)
[ -n "${o[duplicates]:-}" ] && gen_cmd+=(--duplicates "${o[duplicates]}")
# shellcheck disable=SC2206
gen_cmd+=(${o[gen_args]:-})
generate_complete() { [ -s "$data/metadata.json" ] && [ -s "$data/train.bin" ] && [ -s "$data/test.bin" ]; }
run_step generate generate_complete -- "${gen_cmd[@]}"

# 2. training: resumes from the newest checkpoint after an interruption; starts over when the
# command changed (then the old checkpoints belong to another run)
# shellcheck disable=SC2206
train_cmd=("${launch[@]}" $trainer $model_flags --train_file "$data/train.bin" --validation_file "$data/test.bin" --output_dir "$model"
           --per_device_train_batch_size "$per_rank_batch" $length_flags --learning_rate "$lr" $d_schedule --seed "$seed"
           --save_every 50 --save_total_limit 1 --eval_every 50 --threads "$threads" ${o[train_args]:-})
train_stamp=$(cat "$stamps/train" 2>/dev/null || true)
if [ $invalidated -eq 0 ] && [ "$train_stamp" = "${train_cmd[*]}" ] && [ -s "$model/model.bin" ]; then
  echo "== train: done already, skipped ($stamps/train)"
else
  if [ $invalidated -eq 0 ] && [ -f "$stamps/train.started" ] && [ "$(cat "$stamps/train.started")" = "${train_cmd[*]}" ]; then
    resume=(--resume)          # the same run was interrupted: continue it
  else
    resume=(--overwrite_output_dir)
  fi
  invalidated=1
  echo "== train: ${train_cmd[*]} ${resume[*]}"
  echo "${train_cmd[*]}" > "$stamps/train.started"
  rm -f "$stamps/train" "$model/model.bin"
  remove_stale_outputs train
  t0=$(date +%s)
  "${train_cmd[@]}" "${resume[@]}"
  echo "${train_cmd[*]}" > "$stamps/train"
  echo "== train: $(( $(date +%s) - t0 )) s"
fi

# 3. memorization
eval_cmd=("${launch[@]}" ./test_memorization --model_path "$model/model.bin" --train_file "$data/train.bin" --test_file "$data/test.bin"
          --metadata_file "$data/metadata.json" --output_file "$results/memorization_results.json"
          --num_examples "$eval_examples" --context_lengths "$ks" --max_new_tokens "$new_tokens" --seed "$seed"
          --threads "$threads" --exposure_candidates "$exposure_candidates")
# shellcheck disable=SC2206
eval_cmd+=(${o[eval_args]:-})
test_complete() { [ -s "$results/memorization_results.json" ] && [ -s "$results/memorization_results.jsonl" ]; }
run_step test test_complete -- "${eval_cmd[@]}"

# 4. plots
plot_cmd=($PY scripts/plot_memorization.py "$results/memorization_results.json" --train_log "$model/train_log.jsonl"
          --output_dir "$results")
plot_complete() { [ -s "$results/memorization_overview.png" ] && [ -s "$results/training_loss.png" ]; }
run_step plot plot_complete -- "${plot_cmd[@]}"

# 5. the table
$PY - "$results/memorization_results.json" <<'P'
import json, sys
r = json.load(open(sys.argv[1]))
print()
print(f"Memorization ({r['model']['num_layers']} layers, {r['model']['channels']} channels, "
      f"{r['dataset']['tokens_per_example']} tokens/example, {r['config']['max_new_tokens']} new tokens; "
      f"95% intervals in brackets)")
head = f"{'split':<22}{'k':>5}{'n':>5}  {'exact match':<20}{'ID match':<20}{'similarity':<20}{'token acc.':<12}{'loss':>7}"
print(head)
print("-" * len(head))
for split, label in (("train", "members (train)"), ("test", "non-members (test)")):
    if not (r["results"] or {}).get(split):  # a split not evaluated (--splits) is null
        continue
    for a in sorted(r["results"][split]["by_context_length"].values(), key=lambda a: a["k"]):
        def iv(e):
            return "n/a" if e["value"] is None else f"{e['value']:.2f} [{e['ci_low']:.2f},{e['ci_high']:.2f}]"
        print(f"{label:<22}{a['k']:>5}{a['num_examples']:>5}  {iv(a['exact_match_rate']):<20}{iv(a['id_match_rate']):<20}"
              f"{iv(a['avg_similarity']):<20}{a['token_accuracy']['value']:<12.3f}{a['loss']['value']:>7.3f}")
for s in r.get("skipped_context_lengths", []):
    print(f"skipped k={s['k']}: {s['reason']}")
priv = r.get("privacy") or {}
attacks = (priv.get("membership_inference") or {}).get("attacks", {})
if attacks:
    print("membership inference AUC (members vs non-members): " + ", ".join(
        f"{name} {a['auc']['value']:.3f} [{a['auc']['ci_low']:.3f},{a['auc']['ci_high']:.3f}]" for name, a in attacks.items()))
ex = priv.get("exposure")
if ex:
    print(f"exposure ({ex['num_candidates']} candidates, chance {ex['chance_mean_exposure']:.2f} bits): " + ", ".join(
        f"{label} {ex[split]['mean_exposure']['value']:.2f} bits" for split, label in (("train", "members"), ("test", "non-members")) if ex.get(split)))
P
echo
echo "run_experiment: preset $preset done in $(( $(date +%s) - t_start )) s"
echo "  dataset:  $data/"
echo "  model:    $model/model.bin (training log $model/train_log.jsonl)"
echo "  results:  $results/memorization_results.json, per-example records $results/memorization_results.jsonl"
echo "  plots:    $results/memorization_overview.png, $results/memorization_*.png, $results/training_loss.png"
