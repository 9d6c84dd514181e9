#!/usr/bin/env bash
# train_gpt2: learning (memorizes a tiny set, checked by the PyTorch reference model), gradient
# accumulation, LR schedules against the documented formulas, step counts, config/log files,
# bitwise-exact resume after kills at named points and at random times, skipping of incomplete
# checkpoints, and one-line errors for bad input. A tiny model (L=2, C=64, H=4) keeps it fast.
source "$(dirname "$0")/lib.sh"

if [ ! -x ./train_gpt2 ]; then fail "train_gpt2 is not built (run make)"; exit 0; fi
# A private copy: a rebuild in the shared tree during the test must not swap the binary under us.
# (Retried: a concurrent relink can leave the file half-written for a moment.)
mkdir -p "$TMP/bin"
TRAIN=$TMP/bin/train_gpt2
for _ in 1 2 3 4 5 6 7 8 9 10; do
  cp ./train_gpt2 "$TRAIN" && "$TRAIN" --help > /dev/null 2>&1 && break
  sleep 1
done

# ---------------------------------------------------------------------------------------------
# Python helpers (Debian's python3 with numpy/torch): shard and checkpoint writers, and the
# independent checks. The shard/state/checkpoint formats are read here from their documentation.
cat > "$TMP/h.py" <<'EOF'
import hashlib, json, math, os, struct, sys, zlib
import numpy as np

def shard(out, n, tpe, vocab, seed, magic=20240520, version=1, record_length=None, max_token=None):
    rng = np.random.default_rng(seed)
    R = tpe + 1
    toks = rng.integers(0, vocab - 1, size=(n, R), dtype=np.int64)
    toks[:, 0] = vocab - 1  # eot starts every record
    if max_token is not None:
        toks[-1, -1] = max_token
    header = np.zeros(256, dtype="<i4")
    header[:4] = [magic, version, n * R, R if record_length is None else record_length]
    with open(out, "wb") as f:
        f.write(header.tobytes())
        f.write(toks.astype("<u2").tobytes())

def checkpoint(out, maxT, V, L, NH, C, magic=20240326, version=3, seed=0):
    Vp = (V + 127) // 128 * 128
    sizes = [Vp * C, maxT * C, L * C, L * C, L * 3 * C * C, L * 3 * C, L * C * C, L * C,
             L * C, L * C, L * 4 * C * C, L * 4 * C, L * C * 4 * C, L * C, C, C]
    rng = np.random.default_rng(seed)
    header = np.zeros(256, dtype="<i4")
    header[:8] = [magic, version, maxT, V, L, NH, C, Vp]
    with open(out, "wb") as f:
        f.write(header.tobytes())
        f.write((rng.standard_normal(sum(sizes)) * 0.02).astype("<f4").tobytes())

def log(path):
    return [json.loads(line) for line in open(path)]

def check_lr(path, kind, lr, warmup, total, min_frac):
    # The schedule as documented in llmc/scheduler.h and README.
    rows = log(path)
    assert [r["step"] for r in rows] == list(range(1, total + 1)), "steps %s" % [r["step"] for r in rows]
    for r in rows:
        s = r["step"] - 1
        if s < warmup:
            want = lr * (s + 1) / warmup
        elif kind == "constant":
            want = lr
        else:
            p = (s - warmup) / max(1, total - warmup)
            lo = lr * min_frac
            want = lo + (lr - lo) * 0.5 * (1 + math.cos(math.pi * p)) if kind == "cosine" else lr - (lr - lo) * p
        assert abs(r["lr"] - want) <= 1e-6 * want + 1e-12, "step %d: lr %r, formula %r" % (r["step"], r["lr"], want)
    print("ok", kind, [round(r["lr"], 8) for r in rows])

def check_steps(path, steps, last_epoch):
    rows = log(path)
    assert [r["step"] for r in rows] == list(range(1, steps + 1)), "got steps %s" % [r["step"] for r in rows]
    assert abs(rows[-1]["epoch"] - last_epoch) < 1e-9, "last epoch %r, expected %r" % (rows[-1]["epoch"], last_epoch)

def read_params(path):
    with open(path, "rb") as f:
        h = np.frombuffer(f.read(1024), dtype="<i4")
        assert h[0] == 20240326 and h[1] == 3, "not an fp32 llm.c checkpoint"
        return np.frombuffer(f.read(), dtype="<f4")

def check_accum(log_a, log_b, model_a, model_b):
    a, b = log(log_a), log(log_b)
    assert len(a) == len(b), "step counts differ"
    for x, y in zip(a, b):
        assert abs(x["loss"] - y["loss"]) <= 1e-5 * abs(x["loss"]), "step %d loss %r vs %r" % (x["step"], x["loss"], y["loss"])
        assert abs(x["grad_norm"] - y["grad_norm"]) <= 1e-4 * abs(x["grad_norm"]), "step %d grad norm %r vs %r" % (x["step"], x["grad_norm"], y["grad_norm"])
    pa, pb = read_params(model_a), read_params(model_b)
    rel = np.abs(pa - pb).max() / np.abs(pa).max()
    assert rel < 1e-4, "parameters differ: max rel %g" % rel
    print("max param diff (relative)", rel)

def check_logs_equal(path_a, path_b):
    a, b = log(path_a), log(path_b)
    keys = ("step", "epoch", "loss", "lr", "grad_norm", "val_loss")
    assert [[r.get(k) for k in keys] for r in a] == [[r.get(k) for k in keys] for r in b], "train logs differ"

def check_state(path, num_records, expect_step):
    # state file layout from llmc/train_state.h
    data = open(path, "rb").read()
    assert zlib.crc32(data[:-8]) == struct.unpack("<Q", data[-8:])[0], "checksum"
    h = struct.unpack("<32Q", data[:256])
    assert h[0] == 20261127 and h[1] == 1 and h[2] == expect_step and h[6] == num_records, h[:8]
    model = open(path.replace("state_", "model_"), "rb").read()
    assert h[13] == len(model) and h[14] == zlib.crc32(model), "model size/crc32 in the state"
    off = 256 + h[11]
    order = np.frombuffer(data[off:off + 4 * num_records], dtype="<i4")
    assert sorted(order.tolist()) == list(range(num_records)), "order is not a permutation"
    return order

def forge_state(path, field, value):
    # Sets one field of a state file (layout in llmc/train_state.h) to value and recomputes
    # the trailing CRC-32, so that only the checks of what the fields mean can catch it.
    data = bytearray(open(path, "rb").read()[:-8])
    h = struct.unpack("<32Q", data[:256])
    n, P = h[6], h[7]
    order = 256 + h[11]
    m = order + 4 * n
    if field == "order":
        data[order:order + 4 * n] = bytes(4 * n)  # every entry 0: in range, but no permutation
    elif field in ("m", "v"):
        struct.pack_into("<f", data, (m if field == "m" else m + 4 * P) + 4 * (P // 2), float(value))
    elif field == "elapsed":
        struct.pack_into("<d", data, 8 * 10, float(value))
    else:
        value = int(value)
        struct.pack_into("<q" if value < 0 else "<Q", data, 8 * {"epoch": 3, "adam_step": 8, "threads": 9}[field], value)
    data += struct.pack("<Q", zlib.crc32(data))
    open(path, "wb").write(data)

def forge_states(src, prefix, *specs):
    # One copy of the run dir src per FIELD:VALUE, as PREFIX_<spec with [^a-z0-9] as _>, its
    # state_00000004.bin forged (one python start for all: numpy takes a while to import).
    import re, shutil
    for spec in specs:
        field, value = spec.split(":", 1)
        dst = prefix + "_" + re.sub("[^a-z0-9]", "_", spec)
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst)
        forge_state(os.path.join(dst, "state_00000004.bin"), field, value)

def check_epoch_orders(path_a, path_b, n):
    a, b = check_state(path_a, n, 6), check_state(path_b, n, 12)
    assert (a != b).any(), "the two epochs used the same order"
    assert (a != np.arange(n)).any(), "not shuffled"

def check_config(config_path, log_path, train_file, eval_steps, total):
    c = json.load(open(config_path))
    for key in ("program", "version", "git_commit", "model", "tokenizer", "data", "training", "flags", "result"):
        assert key in c, "config.json lacks " + key
    assert c["data"]["train_sha256"] == hashlib.sha256(open(train_file, "rb").read()).hexdigest()
    assert len(c["git_commit"]) == 40 or c["git_commit"] == "unknown"
    for flag in ("model_name", "train_file", "validation_file", "output_dir", "num_train_epochs",
                 "per_device_train_batch_size", "learning_rate", "max_seq_length", "seed", "warmup_steps",
                 "weight_decay", "grad_clip", "lr_schedule", "save_every", "eval_every", "max_steps", "threads",
                 "resume", "layers", "channels", "heads", "tokenizer", "save_bf16", "total_batch_size"):
        assert flag in c["flags"], "config.json flags lack " + flag
    tok = c["tokenizer"]["sha256"]
    if os.path.exists(c["tokenizer"]["path"]):
        assert tok == hashlib.sha256(open(c["tokenizer"]["path"], "rb").read()).hexdigest()
    rows = log(log_path)
    assert len(rows) == total
    for r in rows:
        for key in ("step", "epoch", "loss", "lr", "grad_norm", "tokens_per_second", "elapsed_s"):
            assert key in r, "log line lacks " + key
        assert ("val_loss" in r) == (r["step"] in eval_steps), "val_loss at step %d" % r["step"]
    assert rows[-1]["val_loss"] == c["result"]["final_val_loss"]

def torch_loss(model_path, shard_path, T):
    # Loss of the saved model on every record of a shard, by the project's PyTorch reference model.
    import torch
    sys.path.insert(0, "dev/reference")
    import gpt2_reference as ref
    config, params = ref.read_model(model_path)
    p = {k: torch.from_numpy(v).double() for k, v in params.items()}
    with open(shard_path, "rb") as f:
        h = np.frombuffer(f.read(1024), dtype="<i4")
        toks = np.frombuffer(f.read(), dtype="<u2").astype(np.int64).reshape(-1, int(h[3]))
    x = torch.from_numpy(toks[:, :T].copy())
    y = torch.from_numpy(toks[:, 1:T + 1].copy())
    pos = torch.arange(T).expand(x.shape[0], T)
    with torch.no_grad():
        _, loss = ref.gpt2_loss(p, config, x, y, pos)
    return float(loss)

def check_memorized(model_path, shard_path, T, log_path, config_path):
    first = log(log_path)[0]["loss"]
    c_val = json.load(open(config_path))["result"]["final_val_loss"]
    t = torch_loss(model_path, shard_path, T)
    print("first loss %.4f, final loss on the training examples: C %.6f, torch %.6f" % (first, c_val, t))
    assert abs(c_val - t) <= 1e-4 * max(1.0, t), "C and torch disagree"
    assert first > 5 and t < 0.5, "did not memorize"

if __name__ == "__main__":
    fn, args = sys.argv[1], sys.argv[2:]
    conv, kw = [], {}
    for a in args:
        if "=" in a and not a.startswith("/"):
            k, v = a.split("=", 1)
            kw[k] = json.loads(v)
            continue
        try: conv.append(json.loads(a))
        except ValueError: conv.append(a)
    globals()[fn](*conv, **kw)
EOF
H() { "$PY" "$TMP/h.py" "$@"; }

D=$TMP/d
mkdir -p "$D"
# A 512-token vocabulary keeps the model at 0.2M parameters (GPT-2's 50257 is used where it matters).
H shard "$D/train.bin" 21 64 512 1      # 21 examples of 64 tokens (R = 65)
H shard "$D/test.bin" 6 64 512 2
H shard "$D/mem.bin" 4 32 512 3
H shard "$D/train_gpt2vocab.bin" 21 64 50257 4
TINY=(--layers 2 --channels 64 --heads 4 --vocab_size 512 --threads 1 --quiet)
T() { $TRAIN "${TINY[@]}" "$@"; }
DATA=(--train_file "$D/train.bin" --validation_file "$D/test.bin")

check "--help explains every required flag and exits 0" bash -c \
  "$TRAIN --help > $TMP/help.txt && for f in model_name train_file validation_file output_dir num_train_epochs \
     per_device_train_batch_size learning_rate max_seq_length seed warmup_steps weight_decay grad_clip lr_schedule \
     save_every eval_every max_steps threads resume layers channels heads tokenizer save_bf16 total_batch_size \
     min_lr_fraction; do grep -q -- \"^  --\$f \" $TMP/help.txt || grep -q -- \"^  --\$f\$\" $TMP/help.txt || { echo missing \$f; exit 1; }; done"

# ---------------------------------------------------------------------------------------------
# Learning: 4 examples, 60 steps -> memorized. The final validation is run on the training shard
# itself, and the PyTorch reference recomputes that loss from model.bin.
memorize() {
  T --train_file "$D/mem.bin" --validation_file "$D/mem.bin" --output_dir "$TMP/mem" \
    --learning_rate 1e-2 --lr_schedule constant --max_steps 60 > /dev/null &&
  H check_memorized "$TMP/mem/model.bin" "$D/mem.bin" 32 "$TMP/mem/train_log.jsonl" "$TMP/mem/config.json"
}
check "memorizes 4 examples (loss 6.2 -> < 0.5; model.bin's loss confirmed by the PyTorch reference)" memorize

# ---------------------------------------------------------------------------------------------
# Gradient accumulation: B=4 x 1 vs B=2 x 2 vs B=1 x 4 on the same data order (21 examples, so
# each epoch ends with a 1-example step).
accum() {
  T "${DATA[@]}" --output_dir "$TMP/acc1" --max_seq_length 32 --per_device_train_batch_size 4 --num_train_epochs 1 --learning_rate 1e-3 >/dev/null &&
  T "${DATA[@]}" --output_dir "$TMP/acc2" --max_seq_length 32 --per_device_train_batch_size 2 --total_batch_size 128 --num_train_epochs 1 --learning_rate 1e-3 >/dev/null &&
  T "${DATA[@]}" --output_dir "$TMP/acc4" --max_seq_length 32 --per_device_train_batch_size 1 --total_batch_size 128 --num_train_epochs 1 --learning_rate 1e-3 >/dev/null &&
  H check_accum "$TMP/acc1/train_log.jsonl" "$TMP/acc2/train_log.jsonl" "$TMP/acc1/model.bin" "$TMP/acc2/model.bin" &&
  H check_accum "$TMP/acc1/train_log.jsonl" "$TMP/acc4/train_log.jsonl" "$TMP/acc1/model.bin" "$TMP/acc4/model.bin"
}
check "gradient accumulation: B=4 equals B=2 x2 and B=1 x4 (losses 1e-5, grad norms 1e-4, params 1e-4)" accum

# ---------------------------------------------------------------------------------------------
# LR schedules against the documented formula, with warmup and a min LR fraction.
for kind in constant cosine linear; do
  check "lr schedule $kind with warmup matches the documented formula" bash -c "
    $TRAIN ${TINY[*]} --train_file $D/mem.bin --validation_file none --output_dir $TMP/lr_$kind \
      --lr_schedule $kind --learning_rate 3e-3 --warmup_steps 3 --min_lr_fraction 0.1 --max_steps 12 >/dev/null &&
    $PY $TMP/h.py check_lr $TMP/lr_$kind/train_log.jsonl $kind 3e-3 3 12 0.1"
done

# ---------------------------------------------------------------------------------------------
# Step counts: 21 examples, B=4 -> 6 steps per epoch (the last one has 1 example).
check "2 epochs of 21 examples at B=4 -> 12 steps, epoch column ends at 2.0" bash -c "
  $TRAIN ${TINY[*]} --train_file $D/train.bin --validation_file none --output_dir $TMP/ep --max_seq_length 16 \
    --num_train_epochs 2 --save_every 6 >/dev/null && $PY $TMP/h.py check_steps $TMP/ep/train_log.jsonl 12 2.0"
check "each epoch is a fresh permutation of all examples (state files, read by Python)" \
  "$PY" "$TMP/h.py" check_epoch_orders "$TMP/ep/state_00000006.bin" "$TMP/ep/state_00000012.bin" 21
check "--output_dir dir/: 'wrote dir/model.bin', no doubled slash" bash -c "
  $TRAIN ${TINY[*]} --train_file $D/train.bin --validation_file none --output_dir $TMP/slash/ --max_seq_length 16 \
    --max_steps 1 | grep -q 'wrote $TMP/slash/model.bin'"
# Under nohup (SIGHUP ignored by the launcher) a hangup must not end the run: the cleanup handler
# is installed only for signals that were not ignored.
survives_hangup() {
  nohup $TRAIN ${TINY[*]} --train_file $D/train.bin --validation_file none --output_dir $TMP/hup --max_seq_length 16 \
    --max_steps 100000 > $TMP/hup.log 2>&1 &
  local pid=$! alive=1
  for _ in $(seq 100); do [ -s $TMP/hup/train_log.jsonl ] && break; sleep 0.1; done
  kill -HUP $pid; sleep 0.5
  kill -0 $pid 2>/dev/null || alive=0
  kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null
  [ $alive = 1 ] && [ -s $TMP/hup/train_log.jsonl ]
}
check "nohup: SIGHUP does not end the run (an ignored signal stays ignored)" survives_hangup
check "--max_steps 9 overrides epochs and crosses an epoch boundary" bash -c "
  $TRAIN ${TINY[*]} --train_file $D/train.bin --validation_file none --output_dir $TMP/ms --max_seq_length 16 \
    --num_train_epochs 5 --max_steps 9 >/dev/null && $PY $TMP/h.py check_steps $TMP/ms/train_log.jsonl 9 $(/usr/bin/python3 -c 'print(1+12/21)')"

# ---------------------------------------------------------------------------------------------
# config.json and train_log.jsonl: parsed by Python's json, fields and hashes checked.
check "config.json and train_log.jsonl parse and hold the documented fields (val loss every 3 steps + end)" bash -c "
  $TRAIN ${TINY[*]} ${DATA[*]} --output_dir $TMP/cfg --max_seq_length 32 --max_steps 7 --eval_every 3 >/dev/null &&
  $PY $TMP/h.py check_config $TMP/cfg/config.json $TMP/cfg/train_log.jsonl $D/train.bin '[3,6,7]' 7"

# ---------------------------------------------------------------------------------------------
# Exact resume. Reference: one uninterrupted run. Then runs killed at named points (kill hook)
# and at random times, each resumed until done: model.bin must be bitwise identical and the log
# must hold the same steps with the same values.
RUN=(--train_file "$D/train.bin" --validation_file "$D/test.bin" --max_seq_length 32 --per_device_train_batch_size 4
     --num_train_epochs 3 --save_every 2 --eval_every 4 --learning_rate 1e-3 --lr_schedule cosine --warmup_steps 2)
ref_start=$(date +%s%N)
T "${RUN[@]}" --output_dir "$TMP/ref" > /dev/null
REF_MS=$(( ($(date +%s%N) - ref_start) / 1000000 ))   # wall time of one whole run, for the random kills

kill_then_resume() {
  local out=$1; shift
  rm -rf "$out"
  local point
  for point in "$@"; do
    MEMLENS_TEST_KILL_AT=$point T "${RUN[@]}" --output_dir "$out" --resume > /dev/null 2>&1
    local rc=$?
    if [ $rc -ne 137 ]; then echo "run with MEMLENS_TEST_KILL_AT=$point ended with $rc, expected a SIGKILL (137)"; return 1; fi
  done
  T "${RUN[@]}" --output_dir "$out" --resume > /dev/null 2>&1 || { echo "final resume failed"; return 1; }
  cmp "$out/model.bin" "$TMP/ref/model.bin" && H check_logs_equal "$out/train_log.jsonl" "$TMP/ref/train_log.jsonl" &&
    ! ls "$out" | grep -q '\.tmp\.'
}
check "resume bitwise after kill mid-step (before the update)" kill_then_resume "$TMP/k1" mid_step:5
check "resume bitwise after kill right after a log line (log truncated back)" kill_then_resume "$TMP/k2" after_log:7
check "resume bitwise after kill with the model checkpoint under its temp name" kill_then_resume "$TMP/k3" model_temp_written:6
check "resume bitwise after kill between model and state files" kill_then_resume "$TMP/k4" after_model:6
check "resume bitwise after kill with the state file under its temp name" kill_then_resume "$TMP/k5" state_temp_written:8
check "resume bitwise after kill right after a complete checkpoint" kill_then_resume "$TMP/k6" after_state:8
check "resume bitwise after kill before the final model.bin" kill_then_resume "$TMP/k7" before_final_model
check "resume bitwise after 5 kills in a row at different points" kill_then_resume "$TMP/k8" \
  mid_step:1 after_model:2 after_log:5 state_temp_written:10 mid_step:13

# The same with 2 OpenMP threads (against a 2-thread reference).
T "${RUN[@]}" --threads 2 --output_dir "$TMP/ref2" > /dev/null
two_threads() {
  local out=$TMP/t2
  MEMLENS_TEST_KILL_AT=after_log:9 T "${RUN[@]}" --threads 2 --output_dir "$out" > /dev/null 2>&1
  local rc=$?
  if [ $rc -ne 137 ]; then echo "run with MEMLENS_TEST_KILL_AT=after_log:9 ended with $rc, expected a SIGKILL (137)"; return 1; fi
  # a --resume of a finished run would also match: it must resume from the step-8 checkpoint
  T "${RUN[@]}" --threads 2 --output_dir "$out" --resume > "$TMP/t2.log" 2>&1 && grep -q 'resuming from step 8' "$TMP/t2.log" &&
    cmp "$out/model.bin" "$TMP/ref2/model.bin"
}
check "resume bitwise with 2 threads" two_threads

# Each attempt is killed after a random 15-45% of a whole run's wall time, so a run needs several
# attempts; if the machine got faster and fewer than 3 kills happened, start over with shorter delays.
random_kills() {
  local out=$TMP/rk scale=$REF_MS round kills i
  for round in 1 2 3 4; do
    rm -rf "$out"
    kills=0
    for i in $(seq 1 40); do
      local ms=$(( scale * (15 + RANDOM % 31) / 100 ))
      [ $ms -lt 50 ] && ms=50
      local delay
      delay=$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))
      # --foreground: kill train_gpt2 alone and wait until it is gone before the next attempt.
      timeout --foreground -s KILL "$delay" $TRAIN "${TINY[@]}" "${RUN[@]}" --output_dir "$out" --resume > /dev/null 2> "$TMP/rk.err"
      local rc=$?
      [ $rc -eq 0 ] && break
      # 124: timed out and killed (timeout's status with --foreground), 137: SIGKILL seen directly.
      [ $rc -eq 124 ] || [ $rc -eq 137 ] || { echo "run ended with status $rc:"; cat "$TMP/rk.err"; return 1; }
      kills=$((kills + 1))
      echo "killed after ${delay}s"
    done
    [ $kills -ge 3 ] && break
    scale=$((scale / 2))
  done
  T "${RUN[@]}" --output_dir "$out" --resume > /dev/null 2>&1 || return 1
  echo "$kills kills (a whole run takes ${REF_MS} ms)"
  [ $kills -ge 3 ] && cmp "$out/model.bin" "$TMP/ref/model.bin" && H check_logs_equal "$out/train_log.jsonl" "$TMP/ref/train_log.jsonl"
}
check "resume bitwise after SIGKILLs at random times (timeout -s KILL)" random_kills

# Incomplete or damaged checkpoints are skipped: the newest state is removed, the next model is
# truncated, the next state has a flipped byte -> resume starts from step 12 and still ends identical.
skip_incomplete() {
  local out=$TMP/skip
  rm -rf "$out"
  MEMLENS_TEST_KILL_AT=after_state:18 T "${RUN[@]}" --output_dir "$out" > /dev/null 2>&1
  rm "$out/state_00000018.bin"
  truncate -s 1000000 "$out/model_00000016.bin"
  "$PY" -c "
import sys; p='$out/state_00000014.bin'; b=bytearray(open(p,'rb').read()); b[len(b)//2]^=1; open(p,'wb').write(b)"
  T "${RUN[@]}" --output_dir "$out" --resume > "$TMP/skip.out" 2> "$TMP/skip.err" || return 1
  cat "$TMP/skip.err"
  grep -q "step 18" "$TMP/skip.err" && grep -q "step 16" "$TMP/skip.err" && grep -q "step 14" "$TMP/skip.err" &&
    grep -q "resuming from step 12" "$TMP/skip.out" && cmp "$out/model.bin" "$TMP/ref/model.bin" &&
    H check_logs_equal "$out/train_log.jsonl" "$TMP/ref/train_log.jsonl"
}
check "incomplete/truncated/corrupt checkpoints are skipped (warning names each), result still identical" skip_incomplete

check "--save_total_limit 2 keeps only the 2 newest checkpoint pairs" bash -c "
  $TRAIN ${TINY[*]} --train_file $D/mem.bin --validation_file none --output_dir $TMP/lim --max_steps 8 --save_every 2 --save_total_limit 2 >/dev/null &&
  [ \"\$(ls $TMP/lim | grep -E '^(model|state)_' | tr '\n' ' ')\" = 'model_00000006.bin model_00000008.bin state_00000006.bin state_00000008.bin ' ]"
check "--save_bf16 writes model.bin as llm.c version 5 (half the size)" bash -c "
  $TRAIN ${TINY[*]} --train_file $D/mem.bin --validation_file none --output_dir $TMP/bf --max_steps 2 --save_bf16 >/dev/null &&
  $PY -c \"
import numpy as np, os
h = np.fromfile('$TMP/bf/model.bin', dtype='<i4', count=2)
assert h[0] == 20240326 and h[1] == 5, h
assert os.path.getsize('$TMP/bf/model.bin') * 2 - 1024 == os.path.getsize('$TMP/mem/model.bin')\""

# Fine-tuning from an llm.c checkpoint file written by Python (small max_seq_len 48).
H checkpoint "$TMP/small.bin" 48 512 1 2 16
check "fine-tunes from an llm.c checkpoint path (written by Python); T defaults to its max 48 < 64, tail stated" bash -c "
  $TRAIN --quiet --model_name $TMP/small.bin --train_file $D/train.bin --validation_file none --output_dir $TMP/ft \
    --max_steps 2 > $TMP/ft.out && grep -q 'L=1 C=16 H=2' $TMP/ft.out &&
  grep -q 'T=48 (the last 16 tokens of each example are not trained on)' $TMP/ft.out"

# Real data from generate_dataset (GPT-2 vocabulary, 128-token examples), trained at T=64.
real_data() {
  ./generate_dataset --num_examples 40 --tokens_per_example 128 --output_dir "$TMP/gds" > /dev/null &&
  $TRAIN --layers 2 --channels 64 --heads 4 --threads 2 --quiet --train_file "$TMP/gds/train.bin" \
    --validation_file "$TMP/gds/test.bin" --output_dir "$TMP/real" --max_seq_length 64 --max_steps 6 \
    --learning_rate 3e-3 > "$TMP/real.out" &&
  cat "$TMP/real.out" && grep -q 'the last 64 tokens of each example are not trained on' "$TMP/real.out" &&
  "$PY" -c "
import json
c = json.load(open('$TMP/real/config.json')); rows = [json.loads(l) for l in open('$TMP/real/train_log.jsonl')]
assert c['data']['train_examples'] == 36 and c['data']['untrained_tokens_per_example'] == 64, c['data']
assert c['model']['vocab_size'] == 50257 and len(rows) == 6 and 'val_loss' in rows[-1]
assert rows[-1]['loss'] < rows[0]['loss'], (rows[0]['loss'], rows[-1]['loss'])"
}
if [ -x ./generate_dataset ]; then
  check "trains on generate_dataset output (T=64 < 128 stated; loss decreases)" real_data
else
  skip "generate_dataset is not built: real-data training test"
fi

# ---------------------------------------------------------------------------------------------
# Bad input: one line on stderr naming the flag or file, non-zero exit.
H shard "$D/badmagic.bin" 4 32 50257 1 magic=12345
H shard "$D/badversion.bin" 4 32 50257 1 version=7
cp "$D/train.bin" "$D/truncated.bin"; truncate -s 2000 "$D/truncated.bin"
H shard "$D/unaligned.bin" 4 32 50257 1 record_length=0
H shard "$D/bigtoken.bin" 4 32 50257 1 max_token=60000
H checkpoint "$TMP/ck_magic.bin" 48 50257 1 2 16 magic=1
H checkpoint "$TMP/ck_version.bin" 48 50257 1 2 16 version=9
cp "$TMP/small.bin" "$TMP/ck_trunc.bin"; truncate -s 50000 "$TMP/ck_trunc.bin"
mkdir -p "$TMP/nomodels"
B=(--train_file "$D/train.bin" --validation_file none --output_dir "$TMP/bad")

expect_error "shard with a wrong magic" 'badmagic\.bin.*magic' T --train_file "$D/badmagic.bin" --validation_file none --output_dir "$TMP/bad"
expect_error "shard with a wrong version" 'badversion\.bin.*version' T --train_file "$D/badversion.bin" --validation_file none --output_dir "$TMP/bad"
expect_error "truncated shard" 'truncated\.bin.*truncated' T --train_file "$D/truncated.bin" --validation_file none --output_dir "$TMP/bad"
expect_error "shard that is not example-aligned (record length 0)" 'unaligned\.bin.*record length' T --train_file "$D/unaligned.bin" --validation_file none --output_dir "$TMP/bad"
expect_error "shard whose largest token id does not fit the vocabulary" 'bigtoken\.bin.*token id 60000' T --train_file "$D/bigtoken.bin" --validation_file none --output_dir "$TMP/bad"
expect_error "token ids beyond --vocab_size" 'train_gpt2vocab\.bin holds token id [0-9]+ but .* 512 tokens' T --train_file "$D/train_gpt2vocab.bin" --validation_file none --output_dir "$TMP/bad"
expect_error "truncated validation shard" 'truncated\.bin.*truncated' T --train_file "$D/train.bin" --validation_file "$D/truncated.bin" --output_dir "$TMP/bad"
expect_error "checkpoint with a wrong magic" 'ck_magic\.bin is not an llm\.c model file: bad magic number 1, expected 20240326' $TRAIN --model_name "$TMP/ck_magic.bin" "${B[@]}"
expect_error "checkpoint with a wrong version" 'ck_version\.bin has unsupported version 9 \(supported: 3 = fp32, 5 = bf16' $TRAIN --model_name "$TMP/ck_version.bin" "${B[@]}"
expect_error "truncated checkpoint" 'ck_trunc\.bin has 50000 bytes but its header .* needs [0-9]+ \(the file is truncated' $TRAIN --model_name "$TMP/ck_trunc.bin" "${B[@]}"
expect_error "--max_seq_length longer than the examples" 'max_seq_length 65.*use --max_seq_length <= 64' T "${B[@]}" --max_seq_length 65
expect_error "--max_seq_length beyond the model's maximum" "max_seq_length 60 exceeds the model's maximum.*48" $TRAIN --model_name "$TMP/small.bin" "${B[@]}" --max_seq_length 60
expect_error "batch size 0" 'per_device_train_batch_size.*out of range' T "${B[@]}" --per_device_train_batch_size 0
expect_error "non-numeric --learning_rate" "learning_rate: 'fast' is not a number" T "${B[@]}" --learning_rate fast
expect_error "--adam_epsilon 0 (0 / 0 for weights whose gradient is always 0)" 'adam_epsilon.*out of range' T "${B[@]}" --adam_epsilon 0
expect_error "non-numeric --max_steps" "max_steps: '10x' is not a whole number" T "${B[@]}" --max_steps 10x
expect_error "--total_batch_size not a multiple of B*T" 'total_batch_size 100 is not a multiple of B\*T' T "${B[@]}" --max_seq_length 32 --total_batch_size 100
expect_error "unknown --lr_schedule" "lr_schedule: 'step' is not a schedule" T "${B[@]}" --lr_schedule step
expect_error "missing --train_file" 'train_file .*nothere\.bin: no such file' T --train_file "$D/nothere.bin" --output_dir "$TMP/bad"
expect_error "missing --validation_file" 'validation_file .*nothere\.bin: no such file' T --train_file "$D/train.bin" --validation_file "$D/nothere.bin" --output_dir "$TMP/bad"
# the tokenizer is only hashed into config.json, but a file that is no tokenizer is refused as elsewhere
head -c 2048 /dev/zero > "$TMP/badtok.bin"
expect_error "--tokenizer with a wrong magic number" 'badtok\.bin is not a tokenizer file: magic number 0, expected 20240328' \
  T "${B[@]}" --tokenizer "$TMP/badtok.bin"
expect_error "missing pretrained gpt2 says how to get it" 'gpt2\.bin not found.*scripts/download_gpt2\.sh gpt2' \
  $TRAIN --model_name gpt2 --model_dir "$TMP/nomodels" "${B[@]}"
expect_error "--model_name that is neither a name nor a file" 'model_name nosuchmodel' $TRAIN --model_name nosuchmodel "${B[@]}"
expect_error "unknown flag" "unknown flag '--epochs'" T "${B[@]}" --epochs 3
expect_error "existing checkpoints without --resume" 'already holds checkpoints.*--resume' T "${RUN[@]}" --output_dir "$TMP/ref"
# A second trainer on a busy output dir is refused (the first holds a lock while it runs).
$TRAIN "${TINY[@]}" --train_file "$D/mem.bin" --validation_file none --output_dir "$TMP/busy" --max_steps 1000000 > /dev/null 2>&1 &
busy_pid=$!
for _ in $(seq 1 100); do [ -s "$TMP/busy/train_log.jsonl" ] && break; sleep 0.1; done
expect_error "a second trainer on the same --output_dir" 'output_dir .*busy is in use by another train_gpt2' \
  T --train_file "$D/mem.bin" --validation_file none --output_dir "$TMP/busy" --max_steps 2 --resume
kill "$busy_pid" 2>/dev/null; wait "$busy_pid" 2>/dev/null
expect_error "--resume with different flags" 'belongs to a different run.*learning_rate' \
  T "${RUN[@]/1e-3/2e-3}" --output_dir "$TMP/k6" --resume

# No space left while writing a checkpoint (ulimit -f: writes fail with EFBIG). The run stopped
# after step 2's checkpoint is resumed under the limit; step 4's checkpoint cannot be written.
# The error names the file, the step-2 pair stays intact, no partial files remain, and a resume
# without the limit still ends bitwise identical.
limited() { local blocks=$1; shift; ( ulimit -f "$blocks"; exec $TRAIN "${TINY[@]}" "$@" ); }
for case in "500 model" "1200 state"; do  # model file 776 KB, state 1.6 MB
  set -- $case
  out=$TMP/full_$2
  MEMLENS_TEST_KILL_AT=after_state:2 T "${RUN[@]}" --output_dir "$out" > /dev/null 2>&1
  before=$(sha256sum "$out/model_00000002.bin" "$out/state_00000002.bin")
  expect_error "disk full while writing the $2 file of a checkpoint: one line naming it" \
    "cannot write checkpoint .*$2_00000004\\.bin: File too large.*step 2 is intact" limited "$1" "${RUN[@]}" --output_dir "$out" --resume
  check "after the failed $2 write: step-2 pair intact, no step-4 files, no temp files" bash -c "
    [ \"\$(sha256sum $out/model_00000002.bin $out/state_00000002.bin)\" = \"$before\" ] &&
    [ ! -e $out/model_00000004.bin ] && [ ! -e $out/state_00000004.bin ] && ! ls $out | grep -q '\\.tmp\\.'"
  check "resume after the failed $2 write ends bitwise identical" bash -c "
    $TRAIN ${TINY[*]} ${RUN[*]} --output_dir $out --resume >/dev/null 2>&1 && cmp $out/model.bin $TMP/ref/model.bin"
done

# ---------------------------------------------------------------------------------------------
# Hostile output dirs and checkpoints. FG: 4 examples, a checkpoint every 2 steps (4 steps ~0.2 s).
FG=(--train_file "$D/mem.bin" --validation_file none --max_seq_length 16 --max_steps 4 --save_every 2)
T "${FG[@]}" --output_dir "$TMP/fg" > /dev/null 2>&1
MEMLENS_TEST_KILL_AT=after_state:2 T "${FG[@]}" --output_dir "$TMP/fg2" > /dev/null 2>&1
files_sha() { (cd "$1" && find . -maxdepth 1 -type f ! -name .train_gpt2.lock | sort | xargs -r sha256sum); }

# The only checkpoint is damaged (step 1's pair never got its state; step 2's state is truncated):
# --resume must refuse instead of training over it from step 0.
FG1=(--train_file "$D/mem.bin" --validation_file none --max_seq_length 16 --max_steps 4 --save_every 1)
sole=$TMP/sole
MEMLENS_TEST_KILL_AT=after_state:2 T "${FG1[@]}" --output_dir "$sole" > /dev/null 2>&1
rm "$sole/state_00000001.bin"
truncate -s -1 "$sole/state_00000002.bin"
sole_before=$(files_sha "$sole")
expect_error "--resume with no usable checkpoint but a damaged one: refused, naming it and the fix" \
  'resume: none of the 2 checkpoints in .*sole can be used \(step 2: .*state_00000002\.bin .*truncated.*--overwrite_output_dir' \
  T "${FG1[@]}" --output_dir "$sole" --resume
unchanged() { [ "$(files_sha "$1")" = "$2" ] || { echo "files in $1 changed"; return 1; }; }
check "... and the damaged checkpoint, log and config are left untouched" unchanged "$sole" "$sole_before"

# A directory or FIFO where the run reads or writes one of its files (a checkpoint found or still to
# be written, model.bin, config.json, train_log.jsonl): one line naming it, before any training
# and before any file of the run is rewritten. fg2 stopped after its step-2 checkpoint.
not_regular() {  # NAME KIND(dir|fifo)
  local out=$TMP/nr_$1_$2
  cp -r "$TMP/fg2" "$out"
  rm -f "$out/$1"
  if [ "$2" = dir ]; then mkdir "$out/$1"; else mkfifo "$out/$1"; fi
  local before; before=$(files_sha "$out")
  expect_error "--resume with $1 a $2: refused up front, naming it" \
    "output_dir: .*nr_$1_$2/${1//./\\.} exists and is not a regular file .*remove" T "${FG[@]}" --output_dir "$out" --resume
  check "... nothing in the output dir rewritten ($1 a $2)" unchanged "$out" "$before"
}
for name in state_00000002.bin model_00000002.bin state_00000004.bin model.bin config.json train_log.jsonl; do
  not_regular "$name" dir
done
not_regular config.json fifo
mkdir -p "$TMP/nr_fresh/model.bin"
expect_error "fresh run with model.bin a directory: refused before training" \
  'output_dir: .*nr_fresh/model\.bin exists and is not a regular file' T "${FG[@]}" --output_dir "$TMP/nr_fresh"
check "... no train_log.jsonl or config.json written" bash -c "[ ! -e $TMP/nr_fresh/train_log.jsonl ] && [ ! -e $TMP/nr_fresh/config.json ]"

# State files whose CRC-32 is forged after a field is set to nonsense: the checkpoint of step 4 is
# skipped with a warning saying what is wrong, and the run resumes from step 2.
FORGED=(order:0 threads:-1 threads:0 adam_step:0 adam_step:18446744073709551615 epoch:9223372036854775808 epoch:5
        elapsed:nan elapsed:-1 m:nan v:inf v:-1e-3)
H forge_states "$TMP/fg" "$TMP/forge" "${FORGED[@]}"
forged() {  # FIELD:VALUE PATTERN
  local out=$TMP/forge_${1//[^a-z0-9]/_}
  T "${FG[@]}" --output_dir "$out" --resume > "$out.out" 2> "$out.err" || { cat "$out.err"; return 1; }
  cat "$out.err"
  grep -Eq "skipping checkpoint of step 4: .*state_00000004\.bin .*$2" "$out.err" && grep -q "resuming from step 2" "$out.out"
}
check "forged state: record order not a permutation (all zeros) is skipped" forged order:0 'record order'
check "forged state: threads -1 is skipped" forged threads:-1 'threads -1'
check "forged state: threads 0 is skipped" forged threads:0 'threads 0'
check "forged state: AdamW step 0 (4 optimizer steps done) is skipped" forged adam_step:0 'AdamW step 0'
check "forged state: AdamW step 2^64-1 is skipped" forged adam_step:18446744073709551615 'AdamW step 18446744073709551615'
check "forged state: epoch 2^63 is skipped" forged epoch:9223372036854775808 'epoch 9223372036854775808'
check "forged state: epoch 5 after 4 steps is skipped" forged epoch:5 'epoch 5'
check "forged state: NaN elapsed time is skipped" forged elapsed:nan 'elapsed'
check "forged state: negative elapsed time is skipped" forged elapsed:-1 'elapsed'
check "forged state: NaN AdamW m is skipped" forged m:nan 'AdamW m\['
check "forged state: infinite AdamW v is skipped" forged v:inf 'AdamW v\['
check "forged state: negative AdamW v is skipped" forged v:-1e-3 'AdamW v\['

# The default tokenizer path (gpt2_tokenizer.bin in the working directory) or --tokenizer naming a
# directory or FIFO: an error naming the path, not a silently unrecorded tokenizer.
mkdir -p "$TMP/tokdir/gpt2_tokenizer.bin" "$TMP/tokfifo"
mkfifo "$TMP/tokfifo/gpt2_tokenizer.bin"
for kind in dir fifo; do
  expect_error "default gpt2_tokenizer.bin that is a $kind" '--tokenizer gpt2_tokenizer\.bin exists but is not a regular file' \
    bash -c "cd $TMP/tok$kind && exec $TRAIN ${TINY[*]} --train_file $D/mem.bin --validation_file none --output_dir $TMP/tok$kind/out --max_steps 1"
done
expect_error "--tokenizer naming a directory" '--tokenizer .*tokdir/gpt2_tokenizer\.bin exists but is not a regular file' \
  T --train_file "$D/mem.bin" --validation_file none --output_dir "$TMP/tokdir/out" --max_steps 1 --tokenizer "$TMP/tokdir/gpt2_tokenizer.bin"
