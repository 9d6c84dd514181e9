#!/usr/bin/env bash
# The C GPT-2 (llmc/gpt2*.c, layers_cpu.c, matmul_cpu.c, adamw.c) against the PyTorch float64
# reference in tests/reference/ (dev/reference/gpt2_reference.py; `make reference` regenerates it):
# logits, loss, every gradient, shifted positions and 10 AdamW steps within 1e-5 relative
# (max|c - torch| / max|torch| per tensor). Also checkpoint files (llm.c v3/v5 written by torch),
# bad files, determinism, the GEMM, sanitizers, and that torch today reproduces the committed state.
source "$(dirname "$0")/lib.sh"

BIN=build/tests/test_gpt2_reference
ASAN=build/tests/asan/test_gpt2_reference
REF=tests/reference

# Like check, but also shows the line with the worst error so the margin is visible.
check_worst() {
  local name=$1; shift
  if "$@" > "$TMP/.worst.log" 2>&1; then
    pass "$name"; grep -E "^worst" "$TMP/.worst.log" | sed 's/^/        /'
  else
    fail "$name"; grep -E "FAIL|error" "$TMP/.worst.log" | head -15 | sed 's/^/        /'
  fi
}

check_worst "logits, loss, 16 grads, positions, 10 AdamW steps match PyTorch (1e-5)" \
  $BIN --mode reference --state $REF/tiny_reference.bin --model $REF/tiny_model_v3.bin
check "llm.c v3/v5 files from torch: fp32 and bf16 saves byte-identical, reload bitwise" \
  $BIN --mode roundtrip --model $REF/tiny_model_v3.bin --model_bf16 $REF/tiny_model_v5.bin --out_dir "$TMP"
check "v5 (bf16) checkpoint loads with the v3 shape" bash -c \
  "$BIN --mode load --model $REF/tiny_model_v5.bin | grep -q 'L=2 C=64 NH=4 V=500 Vp=512 maxT=64, 136960 parameters'"
check "training is deterministic: same run twice and 1 vs 2 threads bitwise equal; init stats" \
  $BIN --mode determinism --threads 2
check "packed GEMM matches a float64 loop (shapes, transposes, accumulate)" $BIN --mode gemm
check "reference comparison under ASan+UBSan" \
  $ASAN --mode reference --state $REF/tiny_reference.bin --model $REF/tiny_model_v3.bin
check "training steps (C=128, B=3, T=40, 1 and 2 threads) under ASan+UBSan" $ASAN --mode determinism --threads 2
check "checkpoint round trip and GEMM under ASan+UBSan" bash -c \
  "$ASAN --mode roundtrip --model $REF/tiny_model_v3.bin --model_bf16 $REF/tiny_model_v5.bin --out_dir '$TMP' && $ASAN --mode gemm"
check "pre-packed weights (generation, scoring): matmul_forward_packed bitwise equals matmul_forward" \
  build/tests/test_matmul_packed
check "pre-packed weights bitwise equal under ASan+UBSan" build/tests/asan/test_matmul_packed

# The AVX2 and portable-C kernels (this machine runs the AVX-512 ones): rebuild the model files for
# x86-64-v3 (AVX2 + FMA) and plain x86-64 and run the same reference and GEMM checks.
fallback_check() {
  local arch=$1 dir="$TMP/fallback-$1"
  mkdir -p "$dir"
  for f in gpt2 gpt2_cpu layers_cpu matmul_cpu adamw utils args safetensors dist; do
    gcc -O2 -march="$arch" -fopenmp -std=gnu11 -fno-math-errno -fno-trapping-math -c llmc/$f.c -o "$dir/$f.o" || return 1
  done
  gcc -O2 -march="$arch" -fopenmp -std=gnu11 -I. tests/unit/test_gpt2_reference.c "$dir"/*.o -lcjson -lm -o "$dir/t" || return 1
  gcc -O2 -march="$arch" -fopenmp -std=gnu11 -I. tests/unit/test_matmul_packed.c "$dir"/*.o -lcjson -lm -o "$dir/p" || return 1
  "$dir/t" --mode reference --state $REF/tiny_reference.bin --model $REF/tiny_model_v3.bin && "$dir/t" --mode gemm && "$dir/p"
}
check "AVX2 kernels (-march=x86-64-v3) match PyTorch and the float64 GEMM; packed weights bitwise" fallback_check x86-64-v3
check "portable C kernels (-march=x86-64) match PyTorch and the float64 GEMM; packed weights bitwise" fallback_check x86-64

# Bad model files: one line naming the file and what to do.
$PY - "$REF/tiny_model_v3.bin" "$TMP" <<'P'
import struct, sys
src, d = sys.argv[1], sys.argv[2]
data = bytearray(open(src, "rb").read())
def put(name, b): open(f"{d}/{name}", "wb").write(b)
bad = bytearray(data); bad[0:4] = struct.pack("<i", 12345); put("magic.bin", bad)
bad = bytearray(data); bad[4:8] = struct.pack("<i", 4); put("version.bin", bad)
put("truncated.bin", data[:len(data) - 100])
put("header_only.bin", data[:500])
put("trailing.bin", data + b"\0" * 8)
bad = bytearray(data); bad[24:28] = struct.pack("<i", 128); put("size_mismatch.bin", bad)   # channels 64 -> 128
bad = bytearray(data); bad[20:24] = struct.pack("<i", 3); put("heads.bin", bad)             # 64 % 3 != 0
P
expect_error "model file: wrong magic" "magic.bin.*bad magic number 12345.*llm.c" $BIN --mode load --model "$TMP/magic.bin"
expect_error "model file: unsupported version" "version.bin.*unsupported version 4.*3 = fp32, 5 = bf16" $BIN --mode load --model "$TMP/version.bin"
expect_error "model file: truncated" "truncated.bin has [0-9]+ bytes but its header .* needs [0-9]+ .*truncated" $BIN --mode load --model "$TMP/truncated.bin"
expect_error "model file: shorter than the header" "header_only.bin is truncated: 500 bytes" $BIN --mode load --model "$TMP/header_only.bin"
expect_error "model file: trailing bytes" "trailing.bin has [0-9]+ bytes .*trailing bytes" $BIN --mode load --model "$TMP/trailing.bin"
expect_error "model file: sizes do not match the header" "size_mismatch.bin has [0-9]+ bytes but its header \(L=2 C=128" $BIN --mode load --model "$TMP/size_mismatch.bin"
expect_error "model file: invalid shape in header" "heads.bin has an invalid header: channels 64 is not divisible by num_heads 3" $BIN --mode load --model "$TMP/heads.bin"
expect_error "model file: missing" "cannot open model file $TMP/none.bin" $BIN --mode load --model "$TMP/none.bin"
expect_error "model file: a directory" "is not a regular file" $BIN --mode load --model "$TMP"
expect_error "saving into a missing directory" "cannot write model file $TMP/nodir/m.bin: No such file or directory \(check that its directory exists" \
  $BIN --mode load --model $REF/tiny_model_v3.bin --save "$TMP/nodir/m.bin"

# The oracle is live: torch today regenerates the committed fixture and reference state.
if $PY -c "import torch, numpy" 2>/dev/null; then
  $PY dev/reference/gpt2_reference.py fixture --out_dir "$TMP/regen" > /dev/null
  check "torch regenerates the committed model files and batch byte for byte" bash -c \
    "cmp $REF/tiny_model_v3.bin $TMP/regen/tiny_model_v3.bin && cmp $REF/tiny_model_v5.bin $TMP/regen/tiny_model_v5.bin && cmp $REF/tiny_batch.bin $TMP/regen/tiny_batch.bin"
  $PY dev/reference/gpt2_reference.py reference --model "$TMP/regen/tiny_model_v3.bin" \
    --batch "$TMP/regen/tiny_batch.bin" --out "$TMP/regen/tiny_reference.bin" > /dev/null
  check_worst "torch regenerates the committed reference state (1e-6)" \
    $BIN --mode compare --state $REF/tiny_reference.bin --other "$TMP/regen/tiny_reference.bin" --tolerance 1e-6
else
  skip "torch is not importable by $PY: cannot regenerate the reference (apt-get install python3-torch)"
fi
