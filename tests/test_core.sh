#!/usr/bin/env bash
# Shared helpers: sha256, flags, atomic files, shards (also under ASan+UBSan), and the
# one-line error contract of the flag parser and shard reader.
source "$(dirname "$0")/lib.sh"

check "core unit tests" build/tests/test_core_unit "$TMP"
check "core unit tests under ASan+UBSan" build/tests/asan/test_core_unit "$TMP"

# sha256 of a file agrees with coreutils' sha256sum
head -c 300000 /dev/urandom > "$TMP/blob"
cat > "$TMP/sha.c" <<'C'
#include "llmc/sha256.h"
#include <stdio.h>
int main(int c, char **v) { char h[65]; sha256_file_hex(v[1], h); puts(h); return 0; }
C
gcc -I. "$TMP/sha.c" build/libllmc.a -lm -fopenmp -o "$TMP/sha" 2>/dev/null
check "sha256 of a file equals sha256sum" bash -c "[ \"\$('$TMP/sha' '$TMP/blob')\" = \"\$(sha256sum '$TMP/blob' | cut -d' ' -f1)\" ]"

# Shard reader: truncated, wrong magic, trailing bytes, misaligned records
cat > "$TMP/shardcheck.c" <<'C'
#include "llmc/shard.h"
#include "llmc/utils.h"
#include <stdio.h>
int main(int c, char **v) { set_program_name("shardcheck"); Shard s; shard_load(&s, v[1]); printf("%zu\n", s.num_tokens); return 0; }
C
gcc -I. "$TMP/shardcheck.c" build/libllmc.a -lm -fopenmp -o "$TMP/shardcheck" 2>/dev/null
$PY - "$TMP" <<'P'
import struct, sys
d = sys.argv[1]
def shard(path, magic=20240520, version=1, n=None, rec=4, tokens=range(12), extra=b""):
    toks = list(tokens)
    h = [0] * 256
    h[0], h[1], h[2], h[3] = magic, version, len(toks) if n is None else n, rec
    with open(path, "wb") as f:
        f.write(struct.pack("<256i", *h)); f.write(struct.pack("<%dH" % len(toks), *toks)); f.write(extra)
shard(d + "/good.bin")
shard(d + "/magic.bin", magic=123)
shard(d + "/trunc.bin", n=20)
shard(d + "/trailing.bin", extra=b"xx")
shard(d + "/misaligned.bin", rec=5)
open(d + "/short.bin", "wb").write(b"abc")
P
check "a valid shard loads" bash -c "[ \"\$('$TMP/shardcheck' '$TMP/good.bin')\" = 12 ]"
expect_error "shard with wrong magic" "magic.bin.*not a token shard" "$TMP/shardcheck" "$TMP/magic.bin"
expect_error "truncated shard" "trunc.bin is truncated" "$TMP/shardcheck" "$TMP/trunc.bin"
expect_error "shard with trailing bytes" "trailing.bin.*trailing bytes" "$TMP/shardcheck" "$TMP/trailing.bin"
expect_error "shard not a whole number of records" "misaligned.bin.*records" "$TMP/shardcheck" "$TMP/misaligned.bin"
expect_error "file too short for a shard header" "short.bin is too short" "$TMP/shardcheck" "$TMP/short.bin"
expect_error "missing shard file" "cannot open .*nope.bin" "$TMP/shardcheck" "$TMP/nope.bin"

# Inputs that are not regular files. Reading a FIFO would block until something writes to it (a
# hang without a word); a directory is never what a file flag means.
mkfifo "$TMP/fifo.bin"; mkdir "$TMP/dir.bin"
cat > "$TMP/readcheck.c" <<'C'
#include "llmc/json_io.h"
#include "llmc/utils.h"
#include <stdio.h>
#include <string.h>
int main(int c, char **v) {
    set_program_name("readcheck");
    size_t n = 0;
    if (strcmp(v[1], "json") == 0) json_read_file_or_die(v[2], NULL);
    else read_file_or_die(v[2], &n);
    printf("%zu\n", n);
    return 0;
}
C
gcc -I. "$TMP/readcheck.c" build/libllmc.a -lcjson -lm -fopenmp -o "$TMP/readcheck" 2> "$TMP/readcheck.log" ||
  { fail "readcheck.c did not build"; head -3 "$TMP/readcheck.log"; }
expect_error "a FIFO as a shard: one line at once, not a hang" "cannot read .*fifo.bin: it is a FIFO" timeout 20 "$TMP/shardcheck" "$TMP/fifo.bin"
expect_error "a directory as a shard" "cannot read .*dir.bin: it is a directory" "$TMP/shardcheck" "$TMP/dir.bin"
expect_error "a FIFO as a JSON file (metadata, config): one line, not a hang" "cannot read .*fifo.bin: it is a FIFO" \
  timeout 20 "$TMP/readcheck" json "$TMP/fifo.bin"
expect_error "a character device as a JSON file (it would never end: /dev/zero)" "cannot read /dev/zero: it is a device" \
  timeout 20 "$TMP/readcheck" json /dev/zero
expect_error "a directory as a text input" "cannot read .*dir.bin: it is a directory" "$TMP/readcheck" text "$TMP/dir.bin"
check "text inputs may still be pipes (/dev/stdin)" bash -c "[ \"\$(printf abcde | '$TMP/readcheck' text /dev/stdin)\" = 5 ]"

# The trainer's data loader: every record must start with the same token (the eot), or the header's
# record length does not cut the shard into examples.
cat > "$TMP/dlcheck.c" <<'C'
#include "llmc/dataloader.h"
#include "llmc/utils.h"
#include <stdio.h>
int main(int c, char **v) { set_program_name("dlcheck"); DataLoader d; dataloader_open(&d, v[1], "--train_file"); printf("%zu\n", d.num_records); return 0; }
C
gcc -I. "$TMP/dlcheck.c" build/libllmc.a -lm -fopenmp -o "$TMP/dlcheck" 2>/dev/null
$PY - "$TMP" <<'P'
import struct, sys
d = sys.argv[1]
def shard(path, toks, rec):
    with open(path, "wb") as f:
        f.write(struct.pack("<256i", 20240520, 1, len(toks), rec, *[0] * 252)); f.write(struct.pack("<%dH" % len(toks), *toks))
ex = [[99, 1, 2, 3, 4, 5], [99, 6, 7, 8, 9, 10], [99, 11, 12, 13, 14, 15], [99, 16, 17, 18, 19, 20]]
shard(d + "/aligned.bin", sum(ex, []), 6)
shard(d + "/offby.bin", sum(ex, []), 3)            # records of 3: record 1 starts inside example 0
bad = [list(e) for e in ex]; bad[2][0] = 13
shard(d + "/badstart.bin", sum(bad, []), 6)        # one record lost its eot
P
check "data loader: 4 records that each start with the eot" bash -c "[ \"\$('$TMP/dlcheck' '$TMP/aligned.bin')\" = 4 ]"
expect_error "data loader: a record length that cuts examples apart" \
  "^dlcheck: error: --train_file .*offby.bin: record 1 starts with token 3 but record 0 with 99" "$TMP/dlcheck" "$TMP/offby.bin"
expect_error "data loader: a record that does not start with the eot" \
  "^dlcheck: error: --train_file .*badstart.bin: record 2 starts with token 13 but record 0 with 99" "$TMP/dlcheck" "$TMP/badstart.bin"

# Model files with a NaN or infinite weight: refused with the tensor and index, not trained on or
# scored (every logit they touch would be NaN).
cat > "$TMP/modelcheck.c" <<'C'
#include "llmc/gpt2.h"
#include "llmc/utils.h"
#include <stdio.h>
#include <string.h>
int main(int c, char **v) {
    set_program_name("modelcheck");
    GPT2 m;
    if (strcmp(v[1], "make") == 0) {
        GPT2Config cfg = {.max_seq_len = 16, .vocab_size = 100, .num_layers = 1, .num_heads = 2, .channels = 16, .padded_vocab_size = 128};
        gpt2_init_random(&m, cfg, 1);
        gpt2_save_checkpoint(&m, v[2], 0);
    } else {
        gpt2_init_from_checkpoint(&m, v[2]);
    }
    printf("%zu\n", m.num_parameters);
    return 0;
}
C
gcc -I. "$TMP/modelcheck.c" build/libllmc.a -lcjson -lm -fopenmp -o "$TMP/modelcheck" 2> "$TMP/modelcheck.log" ||
  { fail "modelcheck.c did not build"; head -3 "$TMP/modelcheck.log"; }
"$TMP/modelcheck" make "$TMP/m.bin" > /dev/null
$PY - "$TMP" <<'P'
import shutil, struct, sys
d = sys.argv[1]
def poke(name, float_index, value):
    b = bytearray(open(d + "/m.bin", "rb").read())
    struct.pack_into("<f", b, 1024 + 4 * float_index, value)
    open(d + "/" + name, "wb").write(b)
poke("nan.bin", 0, float("nan"))                      # wte[0]
n = (len(open(d + "/m.bin", "rb").read()) - 1024) // 4
poke("inf.bin", n - 1, float("-inf"))                 # the last weight: lnfb[15]
poke("big.bin", n - 1, 3e38)                          # finite: a valid (if odd) weight
P
check "model file: a random model saved and loaded (5,616 weights)" bash -c "[ \"\$('$TMP/modelcheck' load '$TMP/m.bin')\" = 5616 ]"
expect_error "model file with a NaN weight: refused, naming the tensor and index" \
  "nan.bin has a non-finite weight \(NaN wte\[0\]\)" "$TMP/modelcheck" load "$TMP/nan.bin"
expect_error "model file with an infinite weight in the last tensor: named as lnfb[15]" \
  "inf.bin has a non-finite weight \(-inf lnfb\[15\]\)" "$TMP/modelcheck" load "$TMP/inf.bin"
check "model file with a large finite weight (3e38) still loads" "$TMP/modelcheck" load "$TMP/big.bin"

# fast_expf (llmc/fast_math.h, the CPU softmax/GELU): a NaN input gives NaN, without the undefined
# float-to-int conversion that UBSan reports.
cat > "$TMP/expcheck.c" <<'C'
#include "llmc/fast_math.h"
#include <math.h>
#include <stdio.h>
int main(void) {
    volatile float in[4] = {NAN, -NAN, INFINITY, -INFINITY};
    float out[4];
    for (int i = 0; i < 4; i++) out[i] = fast_expf(in[i]);
    printf("%g %g %g %g\n", out[0], out[1], out[2], out[3]);
    return !(isnan(out[0]) && isnan(out[1]) && out[2] > 1e38f && out[3] >= 0.0f && out[3] < 1e-37f);
}
C
if gcc -O1 -fsanitize=undefined,float-cast-overflow -fno-sanitize-recover=all -I. "$TMP/expcheck.c" -lm -o "$TMP/expcheck" 2>/dev/null; then
  check "fast_expf: NaN in, NaN out; +-inf clamp; no UBSan report" "$TMP/expcheck"
else
  fail "fast_expf check did not compile with -fsanitize=undefined"
fi
