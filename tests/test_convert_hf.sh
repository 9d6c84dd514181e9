#!/usr/bin/env bash
# convert_hf: Hugging Face GPT-2 <-> llm.c model files.
# Oracles: dev/reference/hf_gpt2.py (its own safetensors reader and a PyTorch forward in HF's
# conventions: Conv1D (in, out) weights, unpadded vocab, tied head) against the C forward of the
# converted model; published parameter counts of the five GPT-2 checkpoints; byte equality for round trips.
source "$(dirname "$0")/lib.sh"

REF=dev/reference/hf_gpt2.py
CONV=./convert_hf
UNIT=build/tests/test_convert_unit
if [ ! -x $CONV ] || [ ! -x $UNIT ]; then fail "convert_hf and $UNIT must be built first (make)"; exit 0; fi
if ! $PY -c "import torch, numpy" 2>/dev/null; then skip "convert_hf tests need torch and numpy in $PY (make test-deps)"; exit 0; fi

check "unit: fp16/bf16 conversions, safetensors write -> read" $UNIT
if [ -x build/tests/asan/test_convert_unit ]; then
  check "unit tests under ASan/UBSan" build/tests/asan/test_convert_unit
else
  skip "unit tests under ASan/UBSan (make asan-tests builds them)"
fi

# Two rows of 16 token ids below 300 (the small test vocabulary).
printf '%s\n' "1 5 9 200 3 7 299 0 42 42 17 250 8 99 123 64" "4 4 4 100 20 30 40 50 60 70 80 90 11 12 13 14" > $TMP/tokens.txt

# Logits comparisons are queued and run in one Python process (torch starts once):
# queue_logits "DESCRIPTION" HF_DIR BIN V [pass|fail]: the C forward of BIN must match (pass) or must not
# match (fail, a negative control with attn.c_proj's Conv1D transpose forgotten) the HF-convention forward
# of HF_DIR, within 1e-5 relative (max |c - ref| / max |ref|).
JOBS=$TMP/jobs.txt; : > $JOBS
JOB_DESC=(); JOB_WANT=()
queue_logits() {
  local desc=$1 hf=$2 bin=$3 V=$4 want=${5:-pass} i=${#JOB_DESC[@]}
  JOB_DESC[$i]=$desc; JOB_WANT[$i]=$want
  $UNIT --logits "$bin" $TMP/tokens.txt $TMP/c$i.f32 >/dev/null 2>&1   # a failure shows up as a missing file
  echo "job$i $hf $TMP/c$i.f32 $(( (V + 127) / 128 * 128 )) $([ "$want" = fail ] && echo 1 || echo 0)" >> $JOBS
}
run_logits_jobs() {
  $PY $REF batch --jobs $JOBS --tokens $TMP/tokens.txt > $TMP/jobs.out 2>&1
  for i in "${!JOB_DESC[@]}"; do
    local line; line=$(grep "^job$i " $TMP/jobs.out)
    if [ "$(echo "$line" | cut -d' ' -f2)" = "${JOB_WANT[$i]}" ]; then pass "${JOB_DESC[$i]} (relative error ${line##* })"
    else fail "${JOB_DESC[$i]} (got: ${line:-nothing}; want ${JOB_WANT[$i]})"; tail -3 $TMP/jobs.out | sed 's/^/        /'; fi
  done
}
# convert_ok HF_DIR BIN [flags]: converts with exit 0
convert_ok() { local hf=$1 bin=$2; shift 2; $CONV --input "$hf" --output "$bin" "$@"; }
header_version() { od -An -t d4 -j 4 -N 4 "$1" | tr -d ' '; }

# ---------------------------------------------------------------------------------------------
echo "-- HF -> llm.c: converted weights give the HF forward's logits"
$PY $REF make --out $TMP/f32 --dtype F32 --prefix 1 --lm_head tied --buffers 1 --seed 1
check "F32, transformer. prefix, tied lm_head present, attn.bias buffers: converts" convert_ok $TMP/f32 $TMP/f32.bin
queue_logits "F32 logits match the HF-convention forward" $TMP/f32 $TMP/f32.bin 300
queue_logits "negative control: forgetting the Conv1D transpose of attn.c_proj is detected" $TMP/f32 $TMP/f32.bin 300 fail

$PY $REF make --out $TMP/f16 --dtype F16 --prefix 0 --lm_head absent --shards 3 --seed 2
check "F16, no prefix, no lm_head, 3 shards + index: converts" convert_ok $TMP/f16 $TMP/f16.bin
queue_logits "F16 sharded logits match" $TMP/f16 $TMP/f16.bin 300

$PY $REF make --out $TMP/bf16 --dtype BF16 --torch_dtype bfloat16 --seed 3
check "BF16 -> --bf16 output: converts" convert_ok $TMP/bf16 $TMP/bf16.bin --bf16
check "--bf16 writes llm.c version 5" test "$(header_version $TMP/bf16.bin)" = 5
queue_logits "BF16 logits match (bf16 values carried exactly)" $TMP/bf16 $TMP/bf16.bin 300

$PY $REF make --out $TMP/base --architecture GPT2Model --prefix 0 --seed 4
check "GPT2Model (no head) converts" convert_ok $TMP/base $TMP/base.bin
queue_logits "GPT2Model logits (tied to wte) match" $TMP/base $TMP/base.bin 300

# An lm_head.weight that differs from wte while config.json ties them: HF uses wte, so must we.
$PY $REF make --out $TMP/stale --lm_head untied --seed 5
$PY - $TMP/stale/config.json <<'EOF'
import json, sys
c = json.load(open(sys.argv[1])); del c["tie_word_embeddings"]; json.dump(c, open(sys.argv[1], "w"))
EOF
check "stale lm_head with tied config: converts (with a warning)" convert_ok $TMP/stale $TMP/stale.bin
queue_logits "stale lm_head: logits use wte like HF" $TMP/stale $TMP/stale.bin 300

# GPT-2's width: 768 channels x 12 heads of 64, with 2 layers and a small vocabulary.
$PY $REF make --out $TMP/distil --layers 2 --channels 768 --heads 12 --vocab 300 --positions 32 --dtype F16 --prefix 0 --seed 6
check "GPT-2 width (2 x 768, 12 heads), F16: converts" convert_ok $TMP/distil $TMP/distil.bin
queue_logits "GPT-2 width logits match" $TMP/distil $TMP/distil.bin 300

# ---------------------------------------------------------------------------------------------
echo "-- the five published GPT-2 checkpoints: shapes (header-only sparse files, --dry_run)"
# name layers channels heads -> parameter count Hugging Face reports (num_parameters(), tied head)
while read -r name L C NH count; do
  $PY $REF make --out $TMP/$name --layers $L --channels $C --heads $NH --vocab 50257 --positions 1024 --prefix 0 --header_only 1
  check "$name: --dry_run accepts every tensor and counts $count parameters" \
    bash -c "$CONV --input $TMP/$name --dry_run | grep -q 'parameters: $count (Hugging Face'"
done <<'EOF'
gpt2 12 768 12 124439808
gpt2-medium 24 1024 16 354823168
gpt2-large 36 1280 20 774030080
gpt2-xl 48 1600 25 1557611200
distilgpt2 6 768 12 81912576
EOF
check "--dry_run writes nothing" bash -c "! ls $TMP/*.tmp.* $TMP/gpt2-xl/*.bin 2>/dev/null | grep -q ."
check "--dry_run with an --output: says nothing written, and writes neither that file nor a temporary" \
  bash -c "$CONV --input $TMP/distilgpt2 --output $TMP/dry.bin --dry_run > $TMP/dry.out && grep -q 'nothing written' $TMP/dry.out &&
    ! ls $TMP/dry.bin* 2>/dev/null | grep -q ."
rm -f $TMP/gpt2*/model.safetensors $TMP/distilgpt2/model.safetensors

# ---------------------------------------------------------------------------------------------
echo "-- llm.c -> HF -> llm.c round trips"
for kind in fp32 bf16; do
  flag=; [ $kind = bf16 ] && flag=--bf16
  $PY $REF write_llmc --out $TMP/a_$kind.bin --bf16 $([ $kind = bf16 ] && echo 1 || echo 0) --seed 7
  check "$kind: .bin -> HF" $CONV --to_hf --input $TMP/a_$kind.bin --output $TMP/hf_$kind
  check "$kind: HF -> .bin" convert_ok $TMP/hf_$kind $TMP/b_$kind.bin $flag
  check "$kind: round trip is bit-identical (Python-written .bin vs C-written)" cmp $TMP/a_$kind.bin $TMP/b_$kind.bin
  check "$kind: second trip gives the identical model.safetensors" \
    bash -c "$CONV --to_hf --input $TMP/b_$kind.bin --output $TMP/hf2_$kind >/dev/null && cmp $TMP/hf_$kind/model.safetensors $TMP/hf2_$kind/model.safetensors"
  queue_logits "$kind: the HF export computes the checkpoint's logits" $TMP/hf_$kind $TMP/a_$kind.bin 300
done
# --output naming something that is not a regular file (a FIFO here; /dev/null as root would be the
# same): refused, and it stays what it was
mkfifo $TMP/fifo.bin
expect_error "--output that is not a regular file (a FIFO) is refused" "cannot write .*fifo\.bin: it exists and is not a regular file" \
  $CONV --input $TMP/hf_fp32 --output $TMP/fifo.bin
check "  ... and is still a FIFO, with no temporary file beside it" bash -c "[ -p $TMP/fifo.bin ] && ! ls $TMP/fifo.bin.tmp.* 2>/dev/null | grep -q ."
# --to_hf into a directory that is not empty: only with --overwrite, and never beside another weight layout
cp -r $TMP/hf_fp32 $TMP/hf_again
expect_error "--to_hf into a non-empty directory without --overwrite" "^convert_hf: error: --output: .*hf_again already exists and is not empty \(pass --overwrite" \
  $CONV --to_hf --input $TMP/a_bf16.bin --output $TMP/hf_again
check "  ... and its files are unchanged" cmp $TMP/hf_fp32/model.safetensors $TMP/hf_again/model.safetensors
check "--to_hf --overwrite replaces the model files (the bf16 model's now)" \
  bash -c "$CONV --to_hf --overwrite --input $TMP/a_bf16.bin --output $TMP/hf_again >/dev/null && cmp $TMP/hf_bf16/model.safetensors $TMP/hf_again/model.safetensors &&
           cmp $TMP/hf_bf16/config.json $TMP/hf_again/config.json"
touch $TMP/hf_again/model-00001-of-00002.safetensors
expect_error "--to_hf --overwrite beside shards of another layout" "^convert_hf: error: --output: .*hf_again holds model-00001-of-00002.safetensors, weights in another layout" \
  $CONV --to_hf --overwrite --input $TMP/a_fp32.bin --output $TMP/hf_again
expect_error "--overwrite without --to_hf" "^convert_hf: error: --overwrite applies with --to_hf only" $CONV --overwrite --input $TMP/hf_fp32 --output $TMP/x.bin
echo "-- logits: C forward of each converted model vs the HF-convention PyTorch forward (float64)"
run_logits_jobs
check "to_hf layout: HF names, Conv1D shapes, unpadded vocab, no lm_head, dtypes, config" $PY - $TMP/hf_fp32 $TMP/hf_bf16 <<'EOF'
import json, struct, sys
for d, dtype, torch_dtype in [(sys.argv[1], "F32", "float32"), (sys.argv[2], "BF16", "bfloat16")]:
    raw = open(d + "/model.safetensors", "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0
    h = json.loads(raw[8:8 + n]); h.pop("__metadata__")
    assert h["transformer.wte.weight"]["shape"] == [300, 32], h["transformer.wte.weight"]
    assert h["transformer.wpe.weight"]["shape"] == [64, 32]
    assert h["transformer.h.1.attn.c_attn.weight"]["shape"] == [32, 96]
    assert h["transformer.h.1.mlp.c_fc.weight"]["shape"] == [32, 128]
    assert h["transformer.h.1.mlp.c_proj.weight"]["shape"] == [128, 32]
    assert "lm_head.weight" not in h and len(h) == 4 + 12 * 2, sorted(h)
    assert all(v["dtype"] == dtype for v in h.values())
    c = json.load(open(d + "/config.json"))
    assert c["architectures"] == ["GPT2LMHeadModel"] and c["model_type"] == "gpt2"
    assert (c["n_layer"], c["n_head"], c["n_embd"], c["n_positions"], c["vocab_size"]) == (2, 4, 32, 64, 300)
    assert c["torch_dtype"] == torch_dtype and c["tie_word_embeddings"] is True
    json.load(open(d + "/generation_config.json"))
EOF

if [ -f build/vocab/encoder.json ] && [ -f build/vocab/vocab.bpe ]; then
  $PY $REF write_llmc --out $TMP/v.bin --layers 1 --channels 32 --heads 2 --vocab 50257 --positions 32
  check "--tokenizer_dir copies the GPT-2 vocabulary as vocab.json + merges.txt" \
    bash -c "$CONV --to_hf --input $TMP/v.bin --output $TMP/hf_vocab --tokenizer_dir build/vocab >/dev/null &&
             cmp build/vocab/encoder.json $TMP/hf_vocab/vocab.json && cmp build/vocab/vocab.bpe $TMP/hf_vocab/merges.txt &&
             grep -Eq '\"eos_token_id\":[[:space:]]*50256' $TMP/hf_vocab/config.json"
  expect_error "--tokenizer_dir whose vocabulary size differs from the model's" "has 50257 tokens but the model's vocabulary is 300" \
    $CONV --to_hf --input $TMP/a_fp32.bin --output $TMP/out_hf --tokenizer_dir build/vocab
  check "... and nothing written" test ! -e $TMP/out_hf/model.safetensors
else
  skip "--tokenizer_dir (build/vocab not fetched; make vocab)"
fi

# ---------------------------------------------------------------------------------------------
echo "-- bad input: one line on stderr, non-zero exit, no output file"
# corrupt.py FILE HOW: rewrites a safetensors file's header (with Python's json) or bytes.
cat > $TMP/corrupt.py <<'EOF'
import json, struct, sys
path, how = sys.argv[1], sys.argv[2]
raw = open(path, "rb").read()
(n,) = struct.unpack("<Q", raw[:8])
header, data = json.loads(raw[8:8 + n]), raw[8 + n:]
def save(h, d=data):
    text = json.dumps(h).encode()
    open(path, "wb").write(struct.pack("<Q", len(text)) + text + d)
if how == "truncate_data":
    open(path, "wb").write(raw[:8 + n + len(data) // 2])
elif how == "truncate_tiny":
    open(path, "wb").write(raw[:5])
elif how == "header_len_beyond":
    open(path, "wb").write(struct.pack("<Q", len(raw)) + raw[8:])
elif how == "not_json":
    open(path, "wb").write(raw[:8] + b"{not json" + b" " * (n - 9) + data)
elif how == "overlap":   # two tensors of the same size share bytes
    header["transformer.h.0.ln_1.bias"]["data_offsets"] = header["transformer.h.0.ln_1.weight"]["data_offsets"]
    save(header)
elif how == "out_of_range":
    b, e = header["transformer.ln_f.bias"]["data_offsets"]
    header["transformer.ln_f.bias"]["data_offsets"] = [len(data) + 8, len(data) + 8 + e - b]
    save(header)
elif how == "missing":
    del header["transformer.h.1.mlp.c_fc.bias"]
    save(header)
elif how == "extra":
    header["score.weight"] = {"dtype": "F32", "shape": [0], "data_offsets": [len(data), len(data)]}
    save(header)
elif how == "int_dtype":
    header["transformer.h.0.ln_2.weight"]["dtype"] = "I32"
    save(header)
elif how == "newline_name":
    header["transformer.h.0.ln_2.weight\nsecond line"] = header.pop("transformer.h.0.ln_2.weight")
    save(header)
elif how == "duplicate":   # raw text: json.dumps cannot write a key twice
    text = json.dumps(header).encode()
    entry = json.dumps(header["transformer.ln_f.bias"]).encode()
    text = text[:-1] + b', "transformer.ln_f.bias": ' + entry + b"}"
    open(path, "wb").write(struct.pack("<Q", len(text)) + text + data)
elif how == "size_mismatch":
    header["transformer.wpe.weight"]["shape"] = [63, 32]
    save(header)
EOF
# bad NAME REGEX HOW: corrupt a fresh copy of the F32 model in HOW's way; convert must fail cleanly.
bad() {
  local name=$1 regex=$2 how=$3
  rm -rf $TMP/bad $TMP/out.bin*; cp -r $TMP/f32 $TMP/bad
  $PY $TMP/corrupt.py $TMP/bad/model.safetensors $how
  expect_error "$name" "$regex" $CONV --input $TMP/bad --output $TMP/out.bin
  check "$name: no output file" bash -c "! ls $TMP/out.bin* 2>/dev/null | grep -q ."
}
bad "truncated data" "^convert_hf: error: .*model.safetensors: tensor .* run past the end" truncate_data
bad "file shorter than the length prefix" "^convert_hf: error: .*model.safetensors is truncated" truncate_tiny
bad "header length beyond the file" "^convert_hf: error: .*header length [0-9]+ runs past the end" header_len_beyond
bad "header not JSON" "^convert_hf: error: .*header is not a JSON object" not_json
bad "overlapping data offsets" "^convert_hf: error: .*data of tensors .* overlap" overlap
bad "out-of-range data offsets" "^convert_hf: error: .*ln_f.bias' data_offsets .* run past the end" out_of_range
bad "missing tensor" "^convert_hf: error: .*tensor 'h.1.mlp.c_fc.bias' .* is missing" missing
bad "unexpected tensor" "^convert_hf: error: .*unexpected tensor 'score.weight'" extra
bad "integer dtype" "^convert_hf: error: .*has dtype I32; GPT-2 weights must be F32, F16 or BF16" int_dtype
bad "tensor name with a newline (still one line)" "^convert_hf: error: .*control characters" newline_name
bad "tensor named twice" "^convert_hf: error: .*tensor 'transformer.ln_f.bias' appears twice" duplicate
bad "shape/data size inconsistent" "^convert_hf: error: .*wpe.weight' has [0-9]+ bytes of data but its shape" size_mismatch

# bad_dir NAME REGEX: the directory $TMP/bad prepared by the caller must fail cleanly.
bad_dir() {
  rm -f $TMP/out.bin*
  expect_error "$1" "$2" $CONV --input $TMP/bad --output $TMP/out.bin
  check "$1: no output file" bash -c "! ls $TMP/out.bin* 2>/dev/null | grep -q ."
}
edit_config() {   # edit_config PYTHON-STATEMENT (on dict c)
  rm -rf $TMP/bad; cp -r $TMP/f32 $TMP/bad
  $PY -c "import json; p='$TMP/bad/config.json'; c=json.load(open(p)); $1; json.dump(c, open(p,'w'))"
}
edit_config 'c["vocab_size"] = 301'
bad_dir "tensor shape disagrees with config.json" "wte.weight' has shape \(300, 32\) but config.json implies \(301, 32\)"
edit_config 'c["torch_dtype"] = "float16"'
bad_dir "tensor dtype disagrees with config.json" "has dtype F32 but config.json says torch_dtype float16"
edit_config 'c["architectures"] = ["GPT2ForSequenceClassification"]'
bad_dir "unknown architecture" "unknown architecture 'GPT2ForSequenceClassification'"
edit_config 'c["activation_function"] = "relu"'
bad_dir "activation other than gelu_new" "activation_function must be gelu_new"
edit_config 'del c["n_embd"]'
bad_dir "config.json without n_embd" "missing \"n_embd\""
rm -rf $TMP/bad; mkdir $TMP/bad; echo '{"n_layer": ' > $TMP/bad/config.json
bad_dir "config.json not JSON" "config.json is not valid JSON"

rm -rf $TMP/bad; $PY $REF make --out $TMP/bad --transposed_linear 1
bad_dir "nn.Linear (out, in) orientation" "c_attn.weight' has shape \(96, 32\) but config.json implies \(32, 96\) \(it looks transposed"
rm -rf $TMP/bad; $PY $REF make --out $TMP/bad --lm_head untied
bad_dir "untied lm_head (tie_word_embeddings false)" "lm_head.weight differs from wte.weight and config.json unties them"
edit_config 'c["tie_word_embeddings"] = False'
check "tie_word_embeddings false with lm_head equal to wte converts" convert_ok $TMP/bad $TMP/tied_ok.bin
rm -rf $TMP/bad; cp -r $TMP/f16 $TMP/bad
$PY -c "import json; p='$TMP/bad/model.safetensors.index.json'; c=json.load(open(p)); k=next(iter(c['weight_map'])); c['weight_map'][k]='../f32/model.safetensors'; json.dump(c, open(p,'w'))"
bad_dir "shard index pointing outside the model directory" "is not a shard file name in the model directory"
rm -rf $TMP/bad; cp -r $TMP/f16 $TMP/bad; rm $TMP/bad/model-00002-of-00003.safetensors
bad_dir "missing shard" "shard .*model-00002-of-00003.safetensors listed in model.safetensors.index.json is missing"
rm -rf $TMP/bad; mkdir $TMP/bad; cp $TMP/f32/config.json $TMP/bad/; echo "not really a pickle" > $TMP/bad/pytorch_model.bin
bad_dir "pytorch_model.bin only: refused (pickle)" "pickle file, which is not parsed because unpickling can run arbitrary code; convert it to model.safetensors"
expect_error "--input pointing at pytorch_model.bin" "--input: .*pytorch_model.bin is a pickle file" $CONV --input $TMP/bad/pytorch_model.bin --output $TMP/out.bin

head -c 3000 $TMP/a_fp32.bin > $TMP/trunc.bin
expect_error "--to_hf with a truncated .bin" "trunc.bin has [0-9]+ bytes but its header" $CONV --to_hf --input $TMP/trunc.bin --output $TMP/out_hf2
check "--to_hf failure leaves no directory" test ! -e $TMP/out_hf2
expect_error "missing --input" "^convert_hf: error: --input is required" $CONV --output $TMP/out.bin
expect_error "--bf16 with --to_hf" "^convert_hf: error: --bf16 does not apply with --to_hf" $CONV --to_hf --bf16 --input $TMP/a_fp32.bin --output $TMP/x
expect_error "unknown flag" "^convert_hf: error: unknown flag '--outptu'" $CONV --input $TMP/f32 --outptu $TMP/out.bin

# The same hostile files under AddressSanitizer/UBSan, when the sanitizer library is built (make asan-tests).
if [ -f build/asan/libllmc.a ] && gcc -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined \
     -fopenmp -std=gnu11 -I. convert_hf.c build/asan/libllmc.a -lcjson -lpcre2-8 -lcurl -lz -lm -o $TMP/convert_hf_asan 2>$TMP/asan_build.log; then
  asan_all() {
    for how in truncate_data truncate_tiny header_len_beyond not_json overlap out_of_range missing extra int_dtype newline_name duplicate size_mismatch; do
      rm -rf $TMP/bad; cp -r $TMP/f32 $TMP/bad; $PY $TMP/corrupt.py $TMP/bad/model.safetensors $how
      # die() exits at once by design, so leak checking is for the successful runs below.
      ASAN_OPTIONS=detect_leaks=0 $TMP/convert_hf_asan --input $TMP/bad --output $TMP/out.bin 2>$TMP/asan.err
      [ $? -eq 1 ] && [ "$(grep -c '' $TMP/asan.err)" -eq 1 ] || { echo "$how:"; cat $TMP/asan.err; return 1; }
    done
    $TMP/convert_hf_asan --input $TMP/f16 --output $TMP/asan.bin >/dev/null && cmp $TMP/asan.bin $TMP/f16.bin &&
      $TMP/convert_hf_asan --to_hf --input $TMP/a_bf16.bin --output $TMP/asan_hf >/dev/null &&
      cmp $TMP/asan_hf/model.safetensors $TMP/hf_bf16/model.safetensors
  }
  check "under ASan/UBSan: every hostile file fails cleanly, good files convert identically" asan_all
else
  skip "ASan run of convert_hf (build/asan/libllmc.a missing; make asan-tests)"
fi

# ---------------------------------------------------------------------------------------------
echo "-- scripts/download_gpt2.sh against a local stand-in for the Hub"
hub=$TMP/hub; mkdir -p $hub/gpt2/resolve/main $hub/api/models
cp $TMP/f32/config.json $TMP/f32/model.safetensors $hub/gpt2/resolve/main/
echo '{"a": 0}' > $hub/gpt2/resolve/main/vocab.json; echo '#version: 0.2' > $hub/gpt2/resolve/main/merges.txt
$PY - $hub <<'EOF'
import hashlib, json, os, sys
d = os.path.join(sys.argv[1], "gpt2/resolve/main")
sib = []
for f in sorted(os.listdir(d)):
    p = os.path.join(d, f); s = {"rfilename": f, "size": os.path.getsize(p)}
    if f.endswith(".safetensors"):
        s["lfs"] = {"sha256": hashlib.sha256(open(p, "rb").read()).hexdigest(), "size": os.path.getsize(p)}
    sib.append(s)
json.dump({"id": "gpt2", "siblings": sib}, open(os.path.join(sys.argv[1], "api/models/gpt2"), "w"))
EOF
port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd $hub && exec $PY -m http.server $port --bind 127.0.0.1 >/dev/null 2>&1) &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$TMP"' EXIT   # never leave the stand-in server running
for _ in $(seq 50); do curl -fs http://127.0.0.1:$port/api/models/gpt2 >/dev/null 2>&1 && break; sleep 0.1; done
export MEMLENS_HF_ENDPOINT=http://127.0.0.1:$port
check "download_gpt2.sh gpt2 DIR: downloads, verifies, converts to DIR/gpt2.bin, prints the copy line" \
  bash -c "scripts/download_gpt2.sh gpt2 $TMP/models > $TMP/dl.log 2>&1 && cmp $TMP/models/gpt2.bin $TMP/f32.bin && grep -q 'rsync -avP $TMP/models/gpt2.bin' $TMP/dl.log"
check "download_gpt2.sh again: files already verified are not fetched" \
  bash -c "scripts/download_gpt2.sh gpt2 $TMP/models 2>&1 | grep -q 'have $TMP/models/hf/gpt2/model.safetensors (verified)'"
mv $TMP/models/hf/gpt2/model.safetensors $TMP/models/hf/gpt2/model.safetensors.part
check "download_gpt2.sh after an interruption: a complete .part is verified and kept" \
  bash -c "scripts/download_gpt2.sh gpt2 $TMP/models 2>&1 | grep -q 'model.safetensors (verified, from an interrupted run)' && cmp $TMP/models/gpt2.bin $TMP/f32.bin"
# A file whose sha256 differs from the Hub's listing must stop the script and leave nothing behind.
rm -rf $TMP/models2; printf 'x' >> $hub/gpt2/resolve/main/model.safetensors
$PY -c "import json; p='$hub/api/models/gpt2'; c=json.load(open(p)); [s.update(size=s['size']+1) or s['lfs'].update(size=s['lfs']['size']+1) for s in c['siblings'] if 'lfs' in s]; json.dump(c, open(p,'w'))"
expect_error "download_gpt2.sh: sha256 mismatch is an error" "model.safetensors failed verification \(.*sha256 .* differs from the Hub" \
  scripts/download_gpt2.sh gpt2 $TMP/models2
check "... and no model file or partial download remains" bash -c "! ls $TMP/models2/gpt2.bin $TMP/models2/hf/gpt2/model.safetensors* 2>/dev/null | grep -q ."
kill $server 2>/dev/null; wait $server 2>/dev/null
unset MEMLENS_HF_ENDPOINT
check "download_gpt2.sh --local HF_DIR: converts a local directory" \
  bash -c "scripts/download_gpt2.sh --bf16 --local $TMP/bf16 mymodel $TMP/models3 >/dev/null && cmp $TMP/models3/mymodel.bin $TMP/bf16.bin"
check "download_gpt2.sh NAME DIR --local HF_DIR --bf16: flags after the name work the same" \
  bash -c "scripts/download_gpt2.sh mymodel $TMP/models5 --local $TMP/bf16 --bf16 >/dev/null && cmp $TMP/models5/mymodel.bin $TMP/bf16.bin"
expect_error "download_gpt2.sh with three names" "download_gpt2.sh: error: usage:" scripts/download_gpt2.sh gpt2 $TMP/models4 extra
expect_error "download_gpt2.sh with an unknown flag after the name" "download_gpt2.sh: error: unknown flag '--fp8'" scripts/download_gpt2.sh gpt2 --fp8
expect_error "download_gpt2.sh with a bad name" "is not a Hub model name" scripts/download_gpt2.sh 'gpt2;rm' $TMP/models4
