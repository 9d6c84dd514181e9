#!/usr/bin/env bash
# --mem_eval_every (train_gpt2, train_gpt2cu): the teacher-forced memorization probe during
# training. Oracle: test_memorization on the final checkpoint gives, per example and k, the exact
# match and token accuracy that the trainer's last probe must reproduce for its rows. Also: the
# probe never changes training (bitwise model.bin), a resumed run logs the same values, members'
# exact match rises while the model memorizes, bad flags are one-line errors, the plot is drawn.
# GPU section (train_gpt2cu): the same model.bin with and without the probe, the argmax kernel
# against the CPU rule on the same logits, and the probe against the evaluator.
# MEM_EVAL_GPU_ONLY=1 runs only the GPU section (on a GPU machine, which needs just generate_dataset,
# test_memorization, train_gpt2cu, build/tests/test_argmax_cuda, gpt2_tokenizer.bin and python3).
source "$(dirname "$0")/lib.sh"
GPU_ONLY=${MEM_EVAL_GPU_ONLY:-0}
[ -x "$PY" ] || PY=$(command -v python3)  # a GPU machine may keep its python elsewhere (the checks need only json)

NEED=(test_memorization generate_dataset)
[ "$GPU_ONLY" = 1 ] || NEED+=(train_gpt2)
for p in "${NEED[@]}"; do
  if [ ! -x "./$p" ]; then fail "$p is not built (run make)"; exit 0; fi
done
# Private copies: a rebuild in the shared tree during the test must not swap a binary under us.
mkdir -p "$TMP/bin"
for p in "${NEED[@]}"; do
  for _ in 1 2 3 4 5; do cp "./$p" "$TMP/bin/$p" && "$TMP/bin/$p" --help > /dev/null 2>&1 && break; sleep 1; done
done
TRAIN=$TMP/bin/train_gpt2
EVAL=$TMP/bin/test_memorization

# 12 members (4 of them with 3 training copies: 20 training rows) and 4 non-members, 64 tokens each;
# a 1-layer model memorizes part of it in 40 steps (as in tests/test_memorization.sh).
DS=$TMP/ds
./generate_dataset --num_examples 16 --tokens_per_example 64 --train_ratio 0.75 --seed 5 --duplicates 1:8,3:4 \
  --output_dir "$DS" > "$TMP/gen.log" 2>&1 || { fail "generate_dataset"; cat "$TMP/gen.log"; exit 1; }
KS=4,8,16,32,48
NEW=16
BASE=(--layers 1 --channels 32 --heads 2 --train_file "$DS/train.bin" --validation_file "$DS/test.bin"
      --per_device_train_batch_size 8 --max_steps 40 --learning_rate 2e-2 --lr_schedule constant --warmup_steps 5
      --threads 2 --quiet --save_every 10)
# 16 examples each: every row of the test shard and 16 of the 20 training rows (rows i*20/16).
PROBE=(--mem_eval_every 10 --mem_eval_examples 16 --mem_eval_context_lengths "$KS" --mem_eval_new_tokens $NEW)

cat > "$TMP/check.py" <<'P'
import json, sys

def rows_with(path):
    return [r for r in map(json.loads, open(path)) if "mem_eval" in r]

def oracle(log, records, meta, ks, new):
    """The last probe's numbers equal test_memorization's per-example results for the same rows."""
    seen = probe_equals(rows_with(log)[-1]["mem_eval"], records, meta, ks, new)
    assert seen == {True, False}, "need both outcomes among the probes, or the comparison proves little"
    print("trainer's last probe == test_memorization on the final model for", len(ks.split(",")), "context lengths")

def every_step(log, out_dir, meta, ks, new):
    """scripts/eval_checkpoints.sh: the results of checkpoint step s equal the probe at step s."""
    rows = rows_with(log)
    assert [r["step"] for r in rows] == [10, 20, 30, 40], [r["step"] for r in rows]
    seen = set()
    for r in rows:
        records = f"{out_dir}/step_{r['step']:08d}/results/memorization_results.jsonl"
        seen |= probe_equals(r["mem_eval"], records, meta, ks, new)
    assert seen == {True, False}, "need both outcomes among the probes, or the comparison proves little"
    print("each checkpoint's results == the trainer's probe at its step, steps", [r["step"] for r in rows])

def probe_equals(last, records, meta, ks, new):
    """Asserts that one probe's numbers equal the records' for the same rows; the outcomes seen."""
    per = {}
    for r in map(json.loads, open(records)):
        per[(r["split"], r["example_id"], r["k"])] = r
    m = json.load(open(meta))
    ks = [int(k) for k in ks.split(",")]
    assert last["context_lengths"] == ks and last["new_tokens"] == int(new), last
    seen = set()
    for group, split, record_ids in (("members", "train", m["train_records"]), ("non_members", "test", m["test_records"])):
        g = last[group]
        N, n = len(record_ids), g["examples"]
        assert n == min(16, N), (group, n)
        ids = [record_ids[i * N // n] for i in range(n)]
        for ki, k in enumerate(ks):
            exact = sum(per[(split, e, k)]["exact_match"] for e in ids)
            correct = sum(round(per[(split, e, k)]["token_accuracy"] * int(new)) for e in ids)
            assert g["exact_match"][ki] == exact / n, (group, k, g["exact_match"][ki], exact / n)
            assert abs(g["token_accuracy"][ki] - correct / (n * int(new))) < 1e-12, (group, k, g["token_accuracy"][ki], correct)
            seen.update(per[(split, e, k)]["exact_match"] for e in ids)
    return seen

def same(log_a, log_b):
    """Same steps with a probe, same values (the time taken aside)."""
    a, b = rows_with(log_a), rows_with(log_b)
    strip = lambda rows: [(r["step"], {k: v for k, v in r["mem_eval"].items() if k != "seconds"}) for r in rows]
    assert strip(a) == strip(b), (strip(a), strip(b))
    assert [r["step"] for r in a] == [10, 20, 30, 40], [r["step"] for r in a]

def rising(log, least="0.5"):
    rows = rows_with(log)
    first = max(rows[0]["mem_eval"]["members"]["exact_match"])
    last = rows[-1]["mem_eval"]["members"]["exact_match"]
    non = rows[-1]["mem_eval"]["non_members"]["exact_match"]
    assert max(last) > first and max(last) >= float(least), (first, last)
    assert max(non) == 0.0, non  # non-members are never reproduced 16 tokens exactly
    print("members' best exact match", first, "->", max(last))

def clipped(log, ks, new):
    r = rows_with(log)
    assert len(r) == 1 and r[0]["mem_eval"]["context_lengths"] == json.loads(ks) and r[0]["mem_eval"]["new_tokens"] == int(new), r

def no_probe(log):
    assert not rows_with(log) and len(list(open(log))) == 40

globals()[sys.argv[1]](*sys.argv[2:])
P
H() { $PY "$TMP/check.py" "$@"; }

if [ "$GPU_ONLY" != 1 ]; then
# ---- the probe during training, and training without it
"$TRAIN" "${BASE[@]}" "${PROBE[@]}" --output_dir "$TMP/with" > "$TMP/with.log" 2>&1 || { fail "train_gpt2 with --mem_eval_every"; tail -5 "$TMP/with.log"; exit 1; }
"$TRAIN" "${BASE[@]}" --output_dir "$TMP/without" > "$TMP/without.log" 2>&1 || { fail "train_gpt2 without the probe"; tail -5 "$TMP/without.log"; exit 1; }
check "the probe changes nothing in training: model.bin bitwise identical with and without it" \
  cmp "$TMP/with/model.bin" "$TMP/without/model.bin"
check "no probe, no mem_eval field" H no_probe "$TMP/without/train_log.jsonl"
check "members' exact match rises while the model memorizes (non-members stay at 0)" H rising "$TMP/with/train_log.jsonl"

# ---- oracle: test_memorization on the final model, every example, the same k and new tokens
check "test_memorization on the final model" "$EVAL" --model_path "$TMP/with" --train_file "$DS/train.bin" \
  --test_file "$DS/test.bin" --metadata_file "$DS/metadata.json" --context_lengths $KS --max_new_tokens $NEW \
  --num_examples 0 --batch_size 8 --threads 2 --exposure_candidates 0 --output_file "$TMP/eval.json"
check "the last probe's exact match and token accuracy equal test_memorization's for the same rows" \
  H oracle "$TMP/with/train_log.jsonl" "$TMP/eval.jsonl" "$DS/metadata.json" $KS $NEW

# ---- scripts/eval_checkpoints.sh: the run's checkpoints (steps 10..40) through test_memorization;
# each step's records must give the trainer's probe at that step (same weights, other code)
ckpt_eval=(scripts/eval_checkpoints.sh "$TMP/with" --data_dir "$DS" --output_dir "$TMP/ckpt")
ckpt_flags=(-- --context_lengths $KS --max_new_tokens $NEW --num_examples 0 --batch_size 8 --threads 2 --exposure_candidates 0)
check "eval_checkpoints.sh: the 4 checkpoints evaluated in step order, a report against the step" bash -c "
  $(printf '%q ' "${ckpt_eval[@]}" "${ckpt_flags[@]}") > $TMP/ckpt.log 2>&1 &&
  [ \"\$(grep '^== step' $TMP/ckpt.log | cut -d: -f1 | tr '\n' ' ')\" = '== step 10 == step 20 == step 30 == step 40 ' ] &&
  grep -q 'report.py: 4 runs' $TMP/ckpt.log && [ -s $TMP/ckpt/report/vs_step.png ]"
check "eval_checkpoints.sh: each checkpoint's results equal the trainer's probe at its step" \
  H every_step "$TMP/with/train_log.jsonl" "$TMP/ckpt" "$DS/metadata.json" $KS $NEW
check "eval_checkpoints.sh: runs.csv has a row per step and k, with the step and the dataset's repeats" $PY -c "
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert sorted({int(r['step']) for r in rows}) == [10, 20, 30, 40] and len(rows) == 4 * len(sys.argv[2].split(',')), rows
assert {r['run'] for r in rows} == {f'with_step_{s:08d}' for s in (10, 20, 30, 40)}, {r['run'] for r in rows}
assert {r['duplicates'] for r in rows} == {'1:8,3:4'}, {r['duplicates'] for r in rows}" "$TMP/ckpt/report/runs.csv" $KS
# a step folder that is not one of this run's checkpoints (say, of the run before a retraining)
cp -r "$TMP/ckpt/step_00000040" "$TMP/ckpt/step_00000050"
check "eval_checkpoints.sh again: every checkpoint complete, skipped; the report has this run's 4, not the stray step 50" \
  bash -c "$(printf '%q ' "${ckpt_eval[@]}" "${ckpt_flags[@]}") > $TMP/ckpt2.log && [ \$(grep -c 'complete, skipped' $TMP/ckpt2.log) -eq 4 ] &&
           grep -q 'report.py: 4 runs' $TMP/ckpt2.log"
# report.py on a tree (a sweep) holding a checkpoint_eval folder: only the tree's own run
mkdir -p "$TMP/tree/p1/results" "$TMP/tree/p1/model"
cp "$TMP/eval.json" "$TMP/tree/p1/results/memorization_results.json"
cp -r "$TMP/ckpt" "$TMP/tree/p1/model/checkpoint_eval"
check "report.py on a tree: its checkpoint_eval/ folders are left out, with one line saying so" bash -c "
  $PY scripts/report.py $TMP/tree > $TMP/tree.out 2> $TMP/tree.err && grep -q 'report.py: 1 runs' $TMP/tree.out &&
  [ \$(grep -c '' $TMP/tree.err) -eq 1 ] && grep -q 'results in checkpoint_eval/ folders below $TMP/tree not included' $TMP/tree.err"
# a checkpoint removed while the script runs (a trainer's --save_total_limit): skipped, the rest evaluated
cp -r "$TMP/with" "$TMP/rot"
cat > "$TMP/bin/rotating_evaluator" <<EOF2
#!/usr/bin/env bash
case "\$*" in *model_00000020.bin*) rm -f "$TMP/rot/model_00000020.bin"; exit 1 ;; esac
exec "$EVAL" "\$@"
EOF2
chmod +x "$TMP/bin/rotating_evaluator"
check "eval_checkpoints.sh: a checkpoint removed meanwhile is skipped with a line, the others evaluated" bash -c "
  scripts/eval_checkpoints.sh $TMP/rot --data_dir $DS --evaluator $TMP/bin/rotating_evaluator --no_report $(printf '%q ' "${ckpt_flags[@]}") > $TMP/rot.log 2>&1 &&
  grep -q '^== step 20: model_00000020.bin was removed' $TMP/rot.log && grep -q '3 evaluated, 0 complete already, 1 removed meanwhile' $TMP/rot.log"
# --ranks 2: each checkpoint's evaluation as 2 MPI ranks must give the records of one process
if command -v mpirun > /dev/null && ldd "$EVAL" | grep -q libmpi; then
  mpi_launcher
  check "eval_checkpoints.sh --ranks 2 (mpirun): every checkpoint's records equal one process's, world_size 2" bash -c "
    MEMLENS_LAUNCH='${MPIRUN[*]} -x OMP_NUM_THREADS=1 -np 2' scripts/eval_checkpoints.sh $TMP/with --data_dir $DS --output_dir $TMP/ckpt_w2 \
      --ranks 2 --no_report $(printf '%q ' "${ckpt_flags[@]}") > $TMP/ckpt_w2.log 2>&1 &&
    for s in 10 20 30 40; do
      cmp $TMP/ckpt/step_000000\$s/results/memorization_results.jsonl $TMP/ckpt_w2/step_000000\$s/results/memorization_results.jsonl &&
      grep -Eq '\"world_size\":[[:space:]]*2' $TMP/ckpt_w2/step_000000\$s/results/memorization_results.json || exit 1
    done"
else
  skip "mpirun or an MPI build of test_memorization missing: eval_checkpoints.sh --ranks 2"
fi
expect_error "eval_checkpoints.sh --ranks 0" "^eval_checkpoints.sh: error: --ranks '0' is not a positive whole number" \
  scripts/eval_checkpoints.sh "$TMP/with" --data_dir "$DS" --ranks 0
expect_error "eval_checkpoints.sh with --model_path=X after --: refused like --model_path X" \
  "^eval_checkpoints.sh: error: --model_path after -- is set by this script" \
  scripts/eval_checkpoints.sh "$TMP/with" --data_dir "$DS" -- --model_path="$TMP/with/model_00000010.bin"
./generate_dataset --num_examples 16 --tokens_per_example 64 --seed 6 --output_dir "$TMP/other_ds" > /dev/null 2>&1
expect_error "eval_checkpoints.sh with another dataset: refused before any evaluation" \
  "^eval_checkpoints.sh: error: --data_dir: .*other_ds/train.bin is not the file the model was trained on" \
  scripts/eval_checkpoints.sh "$TMP/with" --data_dir "$TMP/other_ds" --output_dir "$TMP/ckpt_other"
expect_error "eval_checkpoints.sh with a flag it sets after --" "^eval_checkpoints.sh: error: --output_file after -- is set by this script" \
  scripts/eval_checkpoints.sh "$TMP/with" --data_dir "$DS" -- --output_file x.json
expect_error "eval_checkpoints.sh with an evaluator flag that fails: one line with the evaluator's error" \
  "^eval_checkpoints.sh: error: the evaluator failed on .*model_00000010.bin \(step 10\): test_memorization: error: unknown flag '--no_such_flag'" \
  scripts/eval_checkpoints.sh "$TMP/with" --data_dir "$DS" --output_dir "$TMP/ckpt_bad" -- --no_such_flag 1

# ---- resume: killed after the log line of step 35 (checkpoint of step 30), resumed to the end
resumed() {
  MEMLENS_TEST_KILL_AT=after_log:35 "$TRAIN" "${BASE[@]}" "${PROBE[@]}" --output_dir "$TMP/res" > /dev/null 2>&1
  [ $? -eq 137 ] || { echo "expected the kill at step 35"; return 1; }
  "$TRAIN" "${BASE[@]}" "${PROBE[@]}" --output_dir "$TMP/res" --resume > /dev/null 2>&1 &&
    cmp "$TMP/res/model.bin" "$TMP/with/model.bin" && H same "$TMP/res/train_log.jsonl" "$TMP/with/train_log.jsonl"
}
check "a killed and resumed run logs the same probe values as an uninterrupted one" resumed

# ---- what does not fit the training rows (T=64) is clipped or dropped, with a warning
SHORT=(--layers 1 --channels 32 --heads 2 --train_file "$DS/train.bin" --validation_file "$DS/test.bin" --max_steps 1
       --threads 2 --quiet --per_device_train_batch_size 4 --mem_eval_every 1)
check "new tokens clipped to T - smallest k (64 - 8), k=60 dropped, one warning each" bash -c "
  $TRAIN ${SHORT[*]} --output_dir $TMP/clip --mem_eval_context_lengths 60,8,8 --mem_eval_new_tokens 100 2> $TMP/clip.err &&
  grep -q 'mem_eval_new_tokens 100: clipped to 56' $TMP/clip.err && grep -q 'dropping 60' $TMP/clip.err &&
  [ \$(grep -c warning $TMP/clip.err) -eq 2 ] && $PY $TMP/check.py clipped $TMP/clip/train_log.jsonl '[8]' 56"
check "--max_seq_length 32 bounds the probe: k=16 + 16 new tokens fits, k=32 is dropped" bash -c "
  $TRAIN ${SHORT[*]} --output_dir $TMP/t32 --max_seq_length 32 --mem_eval_context_lengths 16,32 --mem_eval_new_tokens 16 2> $TMP/t32.err &&
  grep -q 'dropping 32' $TMP/t32.err && $PY $TMP/check.py clipped $TMP/t32/train_log.jsonl '[16]' 16"

# ---- bad input: one line naming the flag
expect_error "--mem_eval_every without a validation shard" '^train_gpt2: error: --mem_eval_every needs non-members.*--validation_file is none' \
  "$TRAIN" "${SHORT[@]}" --validation_file none --output_dir "$TMP/e1"
expect_error "--mem_eval_every negative" '^train_gpt2: error: --mem_eval_every' "$TRAIN" "${SHORT[@]}" --mem_eval_every -1 --output_dir "$TMP/e2"
expect_error "--mem_eval_examples 0" '^train_gpt2: error: --mem_eval_examples' "$TRAIN" "${SHORT[@]}" --mem_eval_examples 0 --output_dir "$TMP/e3"
expect_error "--mem_eval_new_tokens 0" '^train_gpt2: error: --mem_eval_new_tokens' "$TRAIN" "${SHORT[@]}" --mem_eval_new_tokens 0 --output_dir "$TMP/e4"
expect_error "--mem_eval_context_lengths not a list" '^train_gpt2: error: --mem_eval_context_lengths: .x. in .4,x. is not a whole number' \
  "$TRAIN" "${SHORT[@]}" --mem_eval_context_lengths 4,x --output_dir "$TMP/e5"
expect_error "--mem_eval_context_lengths with 0" '^train_gpt2: error: --mem_eval_context_lengths: 0 is out of range' \
  "$TRAIN" "${SHORT[@]}" --mem_eval_context_lengths 0,4 --output_dir "$TMP/e6"
expect_error "--mem_eval_context_lengths none fits" '^train_gpt2: error: --mem_eval_context_lengths 64,100: none fits the training rows of T=64' \
  "$TRAIN" "${SHORT[@]}" --mem_eval_context_lengths 64,100 --output_dir "$TMP/e7"
check "errors leave no --output_dir behind" bash -c "! ls -d $TMP/e[1-7] 2>/dev/null | grep -q ."

# ---- the plot of memorization against training step
check "plot_memorization.py --train_log draws exact match against step" bash -c "
  $PY scripts/plot_memorization.py --train_log $TMP/with/train_log.jsonl --output_dir $TMP/plots > $TMP/plot.out &&
  grep -q memorization_during_training.png $TMP/plot.out && test -s $TMP/plots/memorization_during_training.png &&
  $PY -c \"import sys; d=open('$TMP/plots/memorization_during_training.png','rb').read(8); sys.exit(d != b'\\x89PNG\\r\\n\\x1a\\n')\""
expect_error "plot_memorization.py --train_log without probe rows" 'plot_memorization.py: error: .*no mem_eval rows.*--mem_eval_every' \
  $PY scripts/plot_memorization.py --train_log "$TMP/without/train_log.jsonl" --output_dir "$TMP/plots2"

# ---- 2 MPI ranks: rank 0 alone probes (same weights on every rank); training is unchanged
if command -v mpirun > /dev/null && ldd "$TRAIN" | grep -q libmpi; then
  mpi_launcher
  MPIRUN=(timeout -s KILL 120 "${MPIRUN[@]}" -np 2)
  MPI_RUN=("${BASE[@]}" --max_steps 20 --threads 1 --per_device_train_batch_size 4)
  two_ranks() {
    "${MPIRUN[@]}" "$TRAIN" "${MPI_RUN[@]}" "${PROBE[@]}" --output_dir "$TMP/mpi_with" > /dev/null 2>&1 &&
    "${MPIRUN[@]}" "$TRAIN" "${MPI_RUN[@]}" --output_dir "$TMP/mpi_without" > /dev/null 2>&1 &&
    cmp "$TMP/mpi_with/model.bin" "$TMP/mpi_without/model.bin" &&
    [ "$(grep -c '"mem_eval"' "$TMP/mpi_with/train_log.jsonl")" -eq 2 ]
  }
  check "2 MPI ranks: probes logged at steps 10 and 20, model.bin bitwise as without them" two_ranks
else
  skip "mpirun or an MPI build of train_gpt2 missing: the 2-rank probe check"
fi
fi  # GPU_ONLY

# ---------------------------------------------------------------------------------------------
# GPU: train_gpt2cu with the probe (bf16 and fp32). MEMLENS_GPU_TRAINER=build/emu/train_gpt2cu
# (tests/test_cuda_emu.sh) runs this section on the CPU emulator instead: fp32 with the probe only
# (each emulated run takes about 50 s; bf16 and bitwise repeatability are checked there by
# test_gpt2cu and the trainer comparison).
GPU_TRAINER=${MEMLENS_GPU_TRAINER:-./train_gpt2cu}
PRECISIONS="fp32 bf16"
EMULATED=0
if [ "$GPU_TRAINER" != ./train_gpt2cu ]; then
  PRECISIONS=fp32 EMULATED=1
  [ -x "$GPU_TRAINER" ] || { fail "$GPU_TRAINER is not built (run make emu)"; exit 0; }
elif ! have_gpu || [ ! -x ./train_gpt2cu ]; then
  skip "no GPU: train_gpt2cu --mem_eval_every (model.bin unchanged by the probe, probe == evaluator)"
  skip "no GPU: gpt2cu_argmax against the CPU argmax on the same logits"
  exit 0
else
  if [ -x build/tests/test_argmax_cuda ]; then
    check "gpt2cu_argmax == gpt2_argmax_vocab on the same logits (fp32 and bf16, ties, padding, -inf)" build/tests/test_argmax_cuda
  else
    fail "build/tests/test_argmax_cuda is not built (run make)"
  fi
fi
ON=$([ $EMULATED = 1 ] && echo emulator || echo GPU)
cp "$GPU_TRAINER" "$TMP/bin/train_gpt2cu"
GTRAIN=$TMP/bin/train_gpt2cu
GBASE=("${BASE[@]}")  # --threads only sizes the host-side OpenMP pool there
for prec in $PRECISIONS; do
  "$GTRAIN" "${GBASE[@]}" --precision $prec "${PROBE[@]}" --output_dir "$TMP/g_with_$prec" > "$TMP/g_$prec.log" 2>&1 ||
    { fail "train_gpt2cu --precision $prec with --mem_eval_every"; tail -5 "$TMP/g_$prec.log"; continue; }
  if [ $EMULATED = 0 ]; then
    "$GTRAIN" "${GBASE[@]}" --precision $prec --output_dir "$TMP/g_without_$prec" > "$TMP/g2_$prec.log" 2>&1 ||
      { fail "train_gpt2cu --precision $prec without the probe"; tail -5 "$TMP/g2_$prec.log"; continue; }
    check "$ON $prec: model.bin bitwise identical with and without the probe" cmp "$TMP/g_with_$prec/model.bin" "$TMP/g_without_$prec/model.bin"
  fi
  check "$ON $prec: members' exact match rises" H rising "$TMP/g_with_$prec/train_log.jsonl" 0.1
done
# fp32 on the GPU: the probe's decisions against the CPU evaluator on the GPU's final model (the
# two differ only in the order of sums; a memorized model has no near ties at these positions).
if [ -s "$TMP/g_with_fp32/model.bin" ]; then
  "$EVAL" --model_path "$TMP/g_with_fp32" --train_file "$DS/train.bin" --test_file "$DS/test.bin" \
    --metadata_file "$DS/metadata.json" --context_lengths $KS --max_new_tokens $NEW --num_examples 0 --batch_size 8 \
    --threads 2 --exposure_candidates 0 --output_file "$TMP/geval.json" > "$TMP/geval.log" 2>&1
  check "$ON fp32: the last probe equals test_memorization on the GPU-trained model" \
    H oracle "$TMP/g_with_fp32/train_log.jsonl" "$TMP/geval.jsonl" "$DS/metadata.json" $KS $NEW
fi
