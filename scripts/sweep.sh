#!/usr/bin/env bash
# A grid of memorization experiments: every combination of model size, epochs, learning rate and
# repeat schedule is one scripts/run_experiment.sh run in its own directory under --sweep_dir.
#
#   scripts/sweep.sh [--sweep_dir DIR] [--preset cpu|seed] [--models LIST] [--epochs LIST]
#                    [--learning_rates LIST] [--repeats LIST] [--task_index I] [--list] [--report]
#                    [-- run_experiment.sh flags...]
#
# Models: names or descriptors that train_gpt2 --model_name takes (gpt2, d2, d4, ...), or a small
# architecture from scratch written L<layers>-C<channels>-H<heads> (e.g. L1-C64-H2), passed to
# train_gpt2 as --layers/--channels/--heads through run_experiment.sh --train_args (so it cannot
# be combined with a --train_args of your own after --).
# Lists are comma-separated, except --repeats: repeat schedules (generate_dataset --duplicates
# specs, which contain commas) separated by ';', "none" for one copy of every example, e.g.
#   --repeats 'none;1:60,4:15,16:15'
# Resumable: a run whose results are complete and whose command is unchanged is skipped (stamp
# DIR/<run>/.sweep_done); an interrupted run continues where run_experiment.sh left it.
# --task_index I runs only grid point I (0-based; Slurm array jobs: scripts/slurm/sweep.sbatch),
# --list prints the grid (index, run directory, command quoted to paste into a shell) and runs
# nothing, --report runs scripts/report.py on the sweep directory at the end.
# A relative --sweep_dir is taken from the directory you run the script in (the default runs/sweep
# lies in the repository); run_experiment.sh runs its programs in the repository root, so relative
# paths inside --gen_args/--train_args/--eval_args after -- are relative to the repository root.
# Duplicate values in a list, and flags after -- that the grid sets itself, are refused.
set -euo pipefail
caller_pwd=$PWD
cd "$(dirname "$0")/.."
PY=/usr/bin/python3

die() { echo "sweep.sh: error: $*" >&2; exit 2; }
usage() { sed -n '2,/^set -euo/p' scripts/sweep.sh | sed '$d' | sed 's/^# \{0,1\}//'; }
# The words of a command as one line that a shell reads back as the same words: plain words as they
# are, any other in single quotes (a ' inside as '\'').
shell_quote() {
  local out="" w q="'"
  for w in "$@"; do
    if [[ "$w" =~ ^[A-Za-z0-9_./:=,+@%-]+$ ]]; then out+=" $w"; else out+=" '${w//$q/$q\\$q$q}'"; fi
  done
  printf '%s' "${out# }"
}

sweep_dir="" preset=cpu models=d2 epochs=3 lrs=5e-3 repeats=none task_index="" list=0 report=0
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --sweep_dir|--preset|--models|--epochs|--learning_rates|--repeats|--task_index)
      [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value (see --help)"
      case "$1" in
        --sweep_dir) sweep_dir=$2 ;; --preset) preset=$2 ;; --models) models=$2 ;; --epochs) epochs=$2 ;;
        --learning_rates) lrs=$2 ;; --repeats) repeats=$2 ;; --task_index) task_index=$2 ;;
      esac
      shift 2 ;;
    --list) list=1; shift ;;
    --report) report=1; shift ;;
    --) shift; extra=("$@"); break ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
case "$preset" in cpu|seed) ;; *) die "--preset '$preset' is not a preset (use cpu or seed)" ;; esac
case "$sweep_dir" in "") sweep_dir=runs/sweep ;; /*) ;; *) sweep_dir=$caller_pwd/$sweep_dir ;; esac
# flags after -- that every grid point sets itself (all run_experiment.sh flags but --help take a value)
i=0
while [ $i -lt ${#extra[@]} ]; do
  case "${extra[$i]}" in
    --epochs|--model|--learning_rate|--duplicates|--preset|--max_steps|--output_dir)
      die "${extra[$i]} after -- is set by the grid; use the sweep's own flags (--epochs, --models, --learning_rates, --repeats, --preset, --sweep_dir) instead" ;;
    -h|--help) i=$((i + 1)) ;;
    *) i=$((i + 2)) ;;
  esac
done

IFS=, read -r -a model_list <<< "$models"
IFS=, read -r -a epoch_list <<< "$epochs"
IFS=, read -r -a lr_list <<< "$lrs"
IFS=';' read -r -a repeat_list <<< "$repeats"
for m in "${model_list[@]}"; do
  [[ "$m" =~ ^[A-Za-z0-9._/-]+$ ]] || die "--models: '$m' is not a model name (e.g. d2,d4 or gpt2)"
done
for m in "${model_list[@]}"; do
  if [[ "$m" =~ ^L[0-9]+-C[0-9]+-H[0-9]+$ ]]; then
    for x in "${extra[@]}"; do
      [ "$x" != --train_args ] || die "--models: the architecture $m uses run_experiment.sh --train_args; leave out the --train_args after -- (or use a named model)"
    done
  fi
done
for e in "${epoch_list[@]}"; do
  [[ "$e" =~ ^[1-9][0-9]*$ ]] || die "--epochs: '$e' is not a positive whole number (e.g. 1,3,10)"
done
for l in "${lr_list[@]}"; do
  [[ "$l" =~ ^[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$ ]] || die "--learning_rates: '$l' is not a number (e.g. 5e-3,1e-3)"
done
# no_duplicates FLAG VALUES...: two equal values would make two grid points with one directory
no_duplicates() {
  local flag=$1; shift
  declare -A seen=()
  local v
  for v in "$@"; do
    [ -z "${seen[$v]:-}" ] || die "$flag: '$v' is given twice (two grid points would share one run directory)"
    seen[$v]=1
  done
}
no_duplicates --models "${model_list[@]}"
no_duplicates --epochs "${epoch_list[@]}"
no_duplicates --learning_rates "${lr_list[@]}"
no_duplicates --repeats "${repeat_list[@]}"
for r in "${repeat_list[@]}"; do
  [ "$r" = none ] || [[ "$r" =~ ^[0-9]+:([0-9]+|\*)(,[0-9]+:([0-9]+|\*))*$ ]] ||
    die "--repeats: '$r' is not a schedule (use REPEATS:COUNT pairs like 1:60,4:15,16:15, or none; separate schedules with ';')"
done

# the grid, in a fixed order: models, then epochs, learning rates, repeat schedules
names=() g_model=() g_epochs=() g_lr=() g_repeats=()
for m in "${model_list[@]}"; do
  for e in "${epoch_list[@]}"; do
    for l in "${lr_list[@]}"; do
      for r in "${repeat_list[@]}"; do
        rep_name=$(echo "$r" | sed 's/:/x/g; s/,/-/g; s/[*]/rest/g')
        names+=("model-${m//\//_}_ep-${e}_lr-${l}_rep-${rep_name}")
        g_model+=("$m"); g_epochs+=("$e"); g_lr+=("$l"); g_repeats+=("$r")
      done
    done
  done
done
# command_for I: sets cmd (an array) to grid point I's run_experiment.sh command
command_for() {
  local i=$1
  local model_flags=(--model "${g_model[$i]}")
  if [[ "${g_model[$i]}" =~ ^L([0-9]+)-C([0-9]+)-H([0-9]+)$ ]]; then
    model_flags=(--train_args "--layers ${BASH_REMATCH[1]} --channels ${BASH_REMATCH[2]} --heads ${BASH_REMATCH[3]}")
  fi
  cmd=(scripts/run_experiment.sh --preset "$preset" --output_dir "$sweep_dir/${names[$i]}" "${model_flags[@]}"
       --max_steps 0 --epochs "${g_epochs[$i]}" --learning_rate "${g_lr[$i]}")
  [ "${g_repeats[$i]}" = none ] || cmd+=(--duplicates "${g_repeats[$i]}")
  cmd+=("${extra[@]}")
}
total=${#names[@]}
declare -A seen_name=()
for n in "${names[@]}"; do  # e.g. models a/b and a_b
  [ -z "${seen_name[$n]:-}" ] || die "two grid points share the run directory $n (rename a model or a schedule)"
  seen_name[$n]=1
done
if [ -n "$task_index" ]; then
  [[ "$task_index" =~ ^[0-9]+$ ]] && [ "$task_index" -lt "$total" ] ||
    die "--task_index '$task_index' is outside the grid of $total runs (use 0 to $((total - 1)); --list shows them)"
fi
if [ $list -eq 1 ]; then
  for i in "${!names[@]}"; do command_for "$i"; printf '%d\t%s\t%s\n' "$i" "$sweep_dir/${names[$i]}" "$(shell_quote "${cmd[@]}")"; done
  exit 0
fi

mkdir -p "$sweep_dir"
done_count=0 skipped=0 failed=0
for i in "${!names[@]}"; do
  [ -z "$task_index" ] || [ "$i" -eq "$task_index" ] || continue
  command_for "$i"
  dir=$sweep_dir/${names[$i]} stamp="${cmd[*]}"
  results=$dir/results/memorization_results.json
  if [ -f "$dir/.sweep_done" ] && [ "$(cat "$dir/.sweep_done")" = "$stamp" ] && [ -s "$results" ]; then
    echo "== sweep [$((i + 1))/$total] ${names[$i]}: complete, skipped"
    skipped=$((skipped + 1)); continue
  fi
  echo "== sweep [$((i + 1))/$total] ${names[$i]}: $(shell_quote "${cmd[@]}")"
  rm -f "$dir/.sweep_done"
  mkdir -p "$dir"
  # the grid point, for scripts/report.py (written before the run so a failed run is still listed)
  $PY - "$dir/sweep_point.json" "${names[$i]}" "${g_model[$i]}" "${g_epochs[$i]}" "${g_lr[$i]}" "${g_repeats[$i]}" "$stamp" <<'P'
import json, os, sys
path, name, model, epochs, lr, repeats, cmd = sys.argv[1:8]
point = {"schema_version": 1, "run": name, "model": model, "epochs": int(epochs), "learning_rate": float(lr),
         "duplicates": None if repeats == "none" else repeats, "command": cmd}
tmp = path + ".tmp"
with open(tmp, "w") as f:
    json.dump(point, f, indent=2); f.write("\n"); f.flush(); os.fsync(f.fileno())
os.replace(tmp, path)
P
  if "${cmd[@]}" > "$dir/sweep.log" 2>&1; then
    echo "$stamp" > "$dir/.sweep_done"
    done_count=$((done_count + 1))
    grep "run_experiment: preset" "$dir/sweep.log" | sed 's/^/   /' || true
  else
    rc=$?
    failed=$((failed + 1))
    echo "   FAILED (exit $rc): see $dir/sweep.log; last lines:"
    tail -n 5 "$dir/sweep.log" | sed 's/^/   | /'
  fi
done
echo "sweep: $done_count run, $skipped complete already, $failed failed ($total in the grid) under $sweep_dir"
if [ $report -eq 1 ]; then
  $PY scripts/report.py "$sweep_dir"
fi
[ $failed -eq 0 ]
