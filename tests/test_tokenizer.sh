#!/usr/bin/env bash
# The GPT-2 tokenizer against its oracles:
#   - tiktoken's official "gpt2" encoding (npm tiktoken@1.0.22, run by node) on a corpus of a few MB
#     built at test time (dev/data/make_tokenizer_corpus.py), compared document by document;
#   - Python's bytes.decode('utf-8', 'replace') for invalid UTF-8 and for streamed decoding;
#   - an independent Python conversion of encoder.json for make_tokenizer's output file.
# Plus bad tokenizer files, bad flags, and the C unit test (also under ASan + UBSan).
source "$(dirname "$0")/lib.sh"

TOKENIZE=./tokenize
TOKFILE=gpt2_tokenizer.bin
ORACLE="node tests/tiktoken_encode.js"
for need in "$TOKENIZE" "$TOKFILE" build/make_tokenizer build/vocab/encoder.json; do
  [ -e "$need" ] || { fail "prerequisite $need is missing (run: make tokenize vocab)"; exit 1; }
done
if [ ! -f build/npm/node_modules/tiktoken/package.json ]; then
  fail "the oracle tiktoken@1.0.22 is missing (run: make test-deps)"; exit 1
fi

# ---------------------------------------------------------------------------------------------
# C unit tests (encode/decode/Utf8Printer/invalid UTF-8/threads), plain and under sanitizers.
check "unit test test_tokenizer_unit" build/tests/test_tokenizer_unit
check "unit test test_tokenizer_unit under ASan+UBSan" build/tests/asan/test_tokenizer_unit

# ---------------------------------------------------------------------------------------------
# Corpus vs tiktoken, document by document.
CORPUS=$TMP/corpus
$PY dev/data/make_tokenizer_corpus.py --out "$CORPUS" --sweep > "$TMP/corpus.log"
corpus_bytes=$(cat "$CORPUS"/*.txt | wc -c)
check "corpus is at least 1 MB ($corpus_bytes bytes, $(ls "$CORPUS" | wc -l) documents)" test "$corpus_bytes" -ge 1000000

# ours: one line "PATH<TAB>ids" per document, like the oracle prints.
encode_all() { ls "$@" > "$TMP/list.txt" && $TOKENIZE --tokenizer $TOKFILE --input_list "$TMP/list.txt"; }

# Python side of the checks, independent of our C code: GPT-2's vocabulary read from encoder.json
# with its byte alphabet undone (to decode ids and to build tokenizer files), and comparisons.
cat > "$TMP/oracle.py" <<'EOF'
import glob, json, os, struct, sys

def load_vocab(encoder_path):
    encoder = json.load(open(encoder_path, encoding="utf-8"))
    # GPT-2's byte alphabet: printable bytes stand for themselves, the rest get U+0100.. in order.
    char_of_byte, extra = {}, 0
    for b in range(256):
        if 33 <= b <= 126 or 161 <= b <= 172 or 174 <= b <= 255:
            char_of_byte[b] = chr(b)
        else:
            char_of_byte[b] = chr(256 + extra)
            extra += 1
    byte_of_char = {c: b for b, c in char_of_byte.items()}
    tokens = [None] * len(encoder)
    for text, i in encoder.items():
        tokens[i] = text.encode() if text == "<|endoftext|>" else bytes(byte_of_char[c] for c in text)
    return tokens

def load_tsv(path):
    return dict(line.rstrip("\n").split("\t", 1) for line in open(path, encoding="utf-8"))

def compare(want_path, got_path):
    """Every document's ids equal; a mismatch names the document and the first difference."""
    want, got = load_tsv(want_path), load_tsv(got_path)
    bad = 0
    for doc, ids in want.items():
        a, b = ids.split(), got.get(doc, "<missing>").split()
        if a != b:
            bad += 1
            i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
            print(f"{doc}: differs at id {i} of {len(a)} (tiktoken {a[i:i+6]}, ours {b[i:i+6]}, ours has {len(b)} ids)")
    if len(want) != len(got) or not want:
        print(f"document count: tiktoken {len(want)}, ours {len(got)}")
        bad += 1
    return bad == 0

def roundtrip(encoder_path, got_path, docs_dir):
    """Our ids, decoded by this independent decoder, give back each document's bytes, or for
    invalid UTF-8 exactly Python's bytes.decode('utf-8', 'replace'). Every .txt in docs_dir is checked."""
    tokens, bad = load_vocab(encoder_path), 0
    got = load_tsv(got_path)
    # the documents decoded must be all of docs_dir's (a missing or empty list would check nothing)
    expected = {os.path.realpath(p) for p in glob.glob(os.path.join(docs_dir, "*.txt"))}
    if not expected or {os.path.realpath(d) for d in got} != expected:
        print(f"documents: {len(got)} in {got_path}, expected the {len(expected)} .txt files of {docs_dir}")
        bad += 1
    for doc, ids in got.items():
        want = open(doc, "rb").read().decode("utf-8", "replace").encode("utf-8")
        if b"".join(tokens[int(i)] for i in ids.split()) != want:
            print(f"{doc}: decoded ids are not the document's (replaced) text")
            bad += 1
    return bad == 0

def replaced(raw_path, text_path):
    """text_path holds exactly raw_path's bytes decoded with errors='replace'."""
    raw, text = open(raw_path, "rb").read(), open(text_path, "rb").read()
    return raw.decode("utf-8", "replace").encode("utf-8") == text

def build(encoder_path, v2_path, v1_path):
    """llm.c's tokenizer file, version 2 (with eot) and version 1 (without)."""
    tokens = load_vocab(encoder_path)
    body = b"".join(bytes([len(t)]) + t for t in tokens)
    for path, header in ((v2_path, [20240328, 2, len(tokens), len(tokens) - 1]), (v1_path, [20240328, 1, len(tokens)])):
        with open(path, "wb") as f:
            f.write(struct.pack("<256i", *(header + [0] * (256 - len(header)))) + body)
    return True

sys.exit(0 if globals()[sys.argv[1]](*sys.argv[2:]) else 1)
EOF
oracle() { $PY "$TMP/oracle.py" "$@"; }

$ORACLE "$CORPUS"/*.txt > "$TMP/tiktoken.tsv"
encode_all "$CORPUS"/*.txt > "$TMP/ours.tsv"
for group in license code copyright gen sweep; do
  grep -F "$CORPUS/${group}_" "$TMP/tiktoken.tsv" > "$TMP/want_$group.tsv"
  grep -F "$CORPUS/${group}_" "$TMP/ours.tsv" > "$TMP/got_$group.tsv"
  check "ids identical to tiktoken: $group documents ($(wc -l < "$TMP/want_$group.tsv"))" \
    oracle compare "$TMP/want_$group.tsv" "$TMP/got_$group.tsv"
done

# Decode round trip: our ids decoded by the independent Python decoder give back every document;
# tokenize --decode gives back the exact bytes too (on a sample: one process per file).
check "our ids decode (in Python) to the exact document, all documents" \
  oracle roundtrip build/vocab/encoder.json "$TMP/ours.tsv" "$CORPUS"
roundtrip_sample() {
  local f bad=0
  for f in "$CORPUS"/gen_mix_0.txt "$CORPUS"/gen_long_pieces.txt "$CORPUS"/gen_script_emoji.txt \
           "$CORPUS"/gen_unicode_whitespace.txt "$CORPUS"/sweep_000000.txt; do
    $TOKENIZE --tokenizer $TOKFILE --input "$f" | $TOKENIZE --tokenizer $TOKFILE --decode | cmp -s - "$f" ||
      { echo "round trip differs: $f"; bad=1; }
  done
  return $bad
}
check "tokenize | tokenize --decode gives back the exact bytes" roundtrip_sample

# --count prints the number of ids.
doc="$CORPUS/gen_mix_0.txt"
check "--count equals the number of ids" test "$($TOKENIZE --count --input "$doc")" -eq "$($TOKENIZE --input "$doc" | wc -w)"
check "empty input gives no ids" test "$(printf '' | $TOKENIZE --count)" = 0

# ---------------------------------------------------------------------------------------------
# Invalid UTF-8: each maximal invalid subpart becomes U+FFFD, so the ids equal tiktoken's on
# bytes.decode('utf-8', 'replace') (node reads the bytes with the same rule), and the ids decode
# to exactly Python's replaced text.
INVALID=$TMP/invalid
$PY dev/data/make_tokenizer_corpus.py --out "$INVALID" --invalid > /dev/null
$ORACLE "$INVALID"/*.txt > "$TMP/tiktoken_invalid.tsv"
encode_all "$INVALID"/*.txt > "$TMP/ours_invalid.tsv"
check "invalid UTF-8: ids identical to tiktoken on the replaced text ($(ls "$INVALID" | wc -l) documents)" \
  oracle compare "$TMP/tiktoken_invalid.tsv" "$TMP/ours_invalid.tsv"
check "invalid UTF-8: ids decode (in Python) to bytes.decode('utf-8','replace')" \
  oracle roundtrip build/vocab/encoder.json "$TMP/ours_invalid.tsv" "$INVALID"
f="$INVALID/invalid_only_bad.txt"
$TOKENIZE --input "$f" | $TOKENIZE --decode > "$TMP/decoded.bin"
check "invalid UTF-8: tokenize | tokenize --decode == Python's replaced text" oracle replaced "$f" "$TMP/decoded.bin"

# Streamed decoding (Utf8Printer): random ids, mostly single bytes so UTF-8 sequences split and
# break, printed token by token must equal Python's replaced decode of all the bytes at once.
stream_like_python() {
  local seed bad=0
  for seed in 1 2 3; do
    $PY -c 'import random, sys; r = random.Random(int(sys.argv[1]))
print(" ".join(str(r.randrange(256) if r.random() < 0.7 else r.randrange(50257)) for _ in range(5000)))' $seed > "$TMP/ids.txt"
    # both decodes must succeed and print something: two empty outputs would compare equal
    $TOKENIZE --decode --input "$TMP/ids.txt" > "$TMP/raw.bin" &&
      $TOKENIZE --decode --stream --input "$TMP/ids.txt" > "$TMP/streamed.bin" &&
      [ -s "$TMP/raw.bin" ] && [ -s "$TMP/streamed.bin" ] || { echo "a decode failed or printed nothing (seed $seed)"; bad=1; continue; }
    oracle replaced "$TMP/raw.bin" "$TMP/streamed.bin" || { echo "streamed output differs (seed $seed)"; bad=1; }
  done
  return $bad
}
check "--decode --stream (Utf8Printer) == Python's bytes.decode('utf-8','replace')" stream_like_python

# ---------------------------------------------------------------------------------------------
# The tokenizer file: rebuild llm.c's format independently in Python from encoder.json and
# compare byte for byte; a hand-built version 1 file (no eot slot) must load and agree.
oracle build build/vocab/encoder.json "$TMP/py_v2.bin" "$TMP/py_v1.bin"
check "make_tokenizer output == independent Python conversion of encoder.json" cmp "$TMP/py_v2.bin" "$TOKFILE"
same_ids_with() {
  $TOKENIZE --tokenizer "$1" --input "$doc" > "$TMP/v.ids" && $TOKENIZE --input "$doc" | cmp -s - "$TMP/v.ids" &&
  test "$(echo 50256 | $TOKENIZE --tokenizer "$1" --decode)" = "<|endoftext|>"
}
check "hand-built version 1 file loads (eot = 50256) and encodes the same" same_ids_with "$TMP/py_v1.bin"

# Bad tokenizer files: one line naming the file and the fix.
head -c 1000 $TOKFILE > "$TMP/short_header.bin"
head -c 200000 $TOKFILE > "$TMP/truncated.bin"
{ printf '\x01\x02\x03\x04'; tail -c +5 $TOKFILE; } > "$TMP/bad_magic.bin"
{ head -c 4 $TOKFILE; printf '\x03\x00\x00\x00'; tail -c +9 $TOKFILE; } > "$TMP/bad_version.bin"
{ cat $TOKFILE; printf 'xyz'; } > "$TMP/trailing.bin"
expect_error "missing tokenizer file" "^tokenize: error: tokenizer file $TMP/nope.bin not found .*make vocab" \
  $TOKENIZE --tokenizer "$TMP/nope.bin" --input "$doc"
expect_error "tokenizer file shorter than its header" "^tokenize: error: .*short_header.bin is truncated.*make vocab" \
  $TOKENIZE --tokenizer "$TMP/short_header.bin" --input "$doc"
expect_error "truncated tokenizer file" "^tokenize: error: .*truncated.bin is truncated.*token [0-9]+ of 50257" \
  $TOKENIZE --tokenizer "$TMP/truncated.bin" --input "$doc"
expect_error "wrong magic number" "^tokenize: error: .*bad_magic.bin is not a tokenizer file: magic number" \
  $TOKENIZE --tokenizer "$TMP/bad_magic.bin" --input "$doc"
expect_error "unknown version" "^tokenize: error: .*bad_version.bin has version 3" \
  $TOKENIZE --tokenizer "$TMP/bad_version.bin" --input "$doc"
expect_error "trailing bytes after the tokens" "^tokenize: error: .*trailing.bin has 3 unexpected bytes" \
  $TOKENIZE --tokenizer "$TMP/trailing.bin" --input "$doc"
# a vocabulary size outside 256..2^24: the message gives that range (not "at least 256" for a huge one)
for v in 255 16777217; do
  { head -c 8 $TOKFILE; $PY -c "import struct, sys; sys.stdout.buffer.write(struct.pack('<i', $v))"; tail -c +13 $TOKFILE; } > "$TMP/vocab_$v.bin"
  expect_error "vocab_size $v out of range" "^tokenize: error: tokenizer file .*vocab_$v\.bin claims $v tokens, expected 256 to 16777216 \(" \
    $TOKENIZE --tokenizer "$TMP/vocab_$v.bin" --input "$doc"
done

# make_tokenizer refuses inconsistent inputs and writes nothing.
sed '5s/^\([^ ]*\) \(.*\)$/\2 \1/' build/vocab/vocab.bpe > "$TMP/swapped.bpe"    # merge line 5 reversed
head -n 1000 build/vocab/vocab.bpe > "$TMP/short.bpe"
echo '{"a": 0,' > "$TMP/broken.json"
expect_error "make_tokenizer: a merge that does not produce id 256+i" \
  "^make_tokenizer: error: .*swapped.bpe line 5: merge .* (gives id|uses a token)" \
  build/make_tokenizer --encoder build/vocab/encoder.json --merges "$TMP/swapped.bpe" --output "$TMP/out.bin"
expect_error "make_tokenizer: too few merges" "^make_tokenizer: error: .*short.bpe has 999 merges, expected 50000" \
  build/make_tokenizer --encoder build/vocab/encoder.json --merges "$TMP/short.bpe" --output "$TMP/out.bin"
expect_error "make_tokenizer: encoder.json is not JSON" "^make_tokenizer: error: .*broken.json is not a JSON object" \
  build/make_tokenizer --encoder "$TMP/broken.json" --merges build/vocab/vocab.bpe --output "$TMP/out.bin"
expect_error "make_tokenizer: --merges missing" "^make_tokenizer: error: --merges is required" \
  build/make_tokenizer --encoder build/vocab/encoder.json --output "$TMP/out.bin"
check "make_tokenizer wrote nothing after errors" test -z "$(ls "$TMP" | grep '^out.bin')"

# ---------------------------------------------------------------------------------------------
# tokenize's flags.
check "tokenize --help" $TOKENIZE --help
expect_error "unknown flag" "^tokenize: error: unknown flag '--bogus'" $TOKENIZE --bogus
expect_error "--count with --decode" "^tokenize: error: --count and --decode cannot be combined" $TOKENIZE --count --decode
expect_error "--stream without --decode" "^tokenize: error: --stream only applies to --decode" $TOKENIZE --stream --input "$doc"
expect_error "--input missing file" "^tokenize: error: --input: $TMP/missing.txt is not a readable file" \
  $TOKENIZE --input "$TMP/missing.txt"
echo "15496 abc 995" > "$TMP/bad_ids.txt"
expect_error "--decode: a word that is not an id" "^tokenize: error: --decode: 'abc' \(word 2 of .*bad_ids.txt\) is not a token id" \
  $TOKENIZE --decode --input "$TMP/bad_ids.txt"
expect_error "--decode: id out of range" "^tokenize: error: --decode: '50257' .* is not a token id \(ids are whole numbers from 0 to 50256\)" \
  sh -c "echo 50257 | $TOKENIZE --decode"
expect_error "--decode: negative id" "^tokenize: error: --decode: '-1' " sh -c "echo -1 | $TOKENIZE --decode"
# a NUL byte in the ids (which would end the text early): an error naming the input, on stdin or in a file
printf '5\0 6' > "$TMP/nul_ids.txt"
expect_error "--decode: NUL byte on stdin" "^tokenize: error: --decode: stdin has a NUL byte at byte 1 " \
  sh -c "$TOKENIZE --decode < '$TMP/nul_ids.txt'"
expect_error "--decode: NUL byte in --input" "^tokenize: error: --decode: .*nul_ids\.txt has a NUL byte at byte 1 " \
  $TOKENIZE --decode --input "$TMP/nul_ids.txt"
echo "$doc" > "$TMP/list_bad.txt"; echo "$TMP/missing.txt" >> "$TMP/list_bad.txt"
expect_error "--input_list naming a missing file" "^tokenize: error: --input_list: .*list_bad.txt names .*missing.txt" \
  $TOKENIZE --input_list "$TMP/list_bad.txt"
check "  ... is found before any ids are printed (the good first file's included)" \
  bash -c "[ -z \"\$($TOKENIZE --input_list '$TMP/list_bad.txt' 2>/dev/null)\" ]"
: > "$TMP/list_empty.txt"
expect_error "--input_list naming no files" "^tokenize: error: --input_list: .*list_empty.txt names no files" \
  $TOKENIZE --input_list "$TMP/list_empty.txt"
# a list with CRLF line endings (written on Windows) names the same files; --input reads a pipe (<(cmd)) like stdin
printf '%s\r\n%s\r\n' "$doc" "$doc" > "$TMP/list_crlf.txt"
check "--input_list with CRLF line endings encodes the listed files" \
  bash -c "[ \"\$($TOKENIZE --input_list '$TMP/list_crlf.txt' | cut -f1 | sort -u)\" = '$doc' ] &&
    [ \"\$($TOKENIZE --input_list '$TMP/list_crlf.txt' | head -n 1 | cut -f2)\" = \"\$($TOKENIZE --input '$doc')\" ]"
check "--input <(cmd): a pipe is read like stdin" \
  bash -c "[ \"\$($TOKENIZE --input <(cat '$doc'))\" = \"\$($TOKENIZE --input '$doc')\" ]"
expect_error "--input a directory: says what it is" "^tokenize: error: --input: $TMP is a directory, not a readable file" $TOKENIZE --input "$TMP"
