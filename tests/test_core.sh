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
