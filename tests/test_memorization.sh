#!/usr/bin/env bash
# test_memorization: statistics, TF-IDF against scikit-learn, KV-cache generation against the
# model's full forward, the teacher-forced fast path against plain greedy decoding on a model
# that memorized its training set, aggregates recomputed in Python, and bad input.
source "$(dirname "$0")/lib.sh"

check "stats unit checks" build/tests/test_stats_unit
check "stats unit checks under ASan+UBSan" build/tests/asan/test_stats_unit
check "tfidf self-checks" build/tests/test_tfidf_unit
check "tfidf self-checks under ASan+UBSan" build/tests/asan/test_tfidf_unit
check "KV-cache greedy generation equals full-forward decoding" build/tests/test_infer_unit
check "KV-cache generation under ASan+UBSan" build/tests/asan/test_infer_unit
# The GPU evaluator's TF32 mode restarts rows from their first near tie (llmc/near_tie_rerun.c);
# here the CPU generator plays the exact one.
check "near-tie restarts give the exact generation" build/tests/test_near_tie_rerun
check "near-tie restarts under ASan+UBSan" build/tests/asan/test_near_tie_rerun

# ---- TF-IDF on hand-picked edge cases (Unicode, digits, underscores, unknown words, empty text)
$PY - "$TMP/tfidf_case.json" <<'P'
import json, sys
fit = ["The cat sat on the mat.", "A dog chased the cat! Caf\u00e9 \u00c9T\u00c9 na\u00efve_test x_y",
       "Numbers 42 and 1999; \u00a0spaces\ttabs\nnew lines", "\u00fcber Stra\u00dfe \u03a3\u038a\u03a3\u03a5\u03a6\u039f\u03a3",
       "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8 \u6771\u4eac 2024", "", "snake_case __init__ a1 b",
       "O'Neil's don't-stop e-mail 3.14 1,000 $5 #tag @user", "Nov 27, 2026 -- it's 10:15 in Castleridge"]
pairs = [["the cat", "THE CAT sat"], ["dog dog dog cat", "cat sat mat"], ["zebra", "cat"], ["", ""],
         ["caf\u00e9 \u00e9t\u00e9", "Caf\u00e9 \u00c9T\u00c9 na\u00efve_test"], ["\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8", "\u6771\u4eac 2024"],
         ["don't stop the e-mail", "O'Neil's don't-stop e-mail"], ["10:15 in Castleridge", "it's 10:15"]]
json.dump({"fit": fit, "pairs": pairs, "analyze": fit + [p[0] for p in pairs]}, open(sys.argv[1], "w"))
P
build/tests/test_tfidf_unit "$TMP/tfidf_case.json" > "$TMP/tfidf_c.json" 2>&1
check "TF-IDF words and cosines equal sklearn on edge cases (1e-6)" $PY tests/tfidf_oracle.py pairs "$TMP/tfidf_case.json" "$TMP/tfidf_c.json"

# ---- a dataset (12 members, 4 of them with 3 training copies; 4 non-members) and a small model
# that memorizes part of it: both outcomes occur, and repeated examples are memorized more
DS=$TMP/ds
./generate_dataset --num_examples 16 --tokens_per_example 64 --train_ratio 0.75 --seed 5 --duplicates 1:8,3:4 \
  --output_dir "$DS" > "$TMP/gen.log" 2>&1 \
  || { fail "generate_dataset for the evaluator tests"; cat "$TMP/gen.log"; exit 1; }
./train_gpt2 --layers 1 --channels 32 --heads 2 --train_file "$DS/train.bin" --validation_file none \
  --output_dir "$TMP/model" --per_device_train_batch_size 10 --max_steps 60 --learning_rate 2e-2 \
  --lr_schedule constant --warmup_steps 5 --threads 1 --quiet > "$TMP/train.log" 2>&1 \
  || { fail "train_gpt2 for the evaluator tests"; tail -5 "$TMP/train.log"; exit 1; }

EVAL_ARGS=(--model_path "$TMP/model" --train_file "$DS/train.bin" --test_file "$DS/test.bin"
           --metadata_file "$DS/metadata.json" --context_lengths 4,8,16,32,48 --max_new_tokens 16
           --num_examples 0 --batch_size 5 --threads 2 --exposure_candidates 100)  # exposure: tests/test_audit.sh
check "fast path run" ./test_memorization "${EVAL_ARGS[@]}" --output_file "$TMP/fast.json"
check "plain greedy run" ./test_memorization "${EVAL_ARGS[@]}" --output_file "$TMP/plain.json" --plain_greedy

# Decisions (exact match, matched prefix, ID match) and texts must be identical for every
# example and k; the runs must also contain both outcomes, or the comparison would prove little.
cat > "$TMP/compare.py" <<'P'
import json, sys
fast = [json.loads(l) for l in open(sys.argv[1])]
plain = [json.loads(l) for l in open(sys.argv[2])]
assert len(fast) == len(plain) == int(sys.argv[3]), (len(fast), len(plain))
bad = 0
for f, p in zip(fast, plain):
    assert (f["example_id"], f["k"]) == (p["example_id"], p["k"])
    assert f["decided_by"] == "teacher_forced" and p["decided_by"] == "plain_greedy"
    for key in ("exact_match", "matched_prefix", "id_match", "generated_text", "id_generated_text",
                "similarity", "id_in_generation", "token_accuracy", "loss"):
        if f.get(key) != p.get(key):
            bad += 1
            print("differs:", f["example_id"], "k", f["k"], key, f.get(key), p.get(key))
exact = sum(r["exact_match"] for r in fast)
idm = sum(bool(r["id_match"]) for r in fast)
print(f"{len(fast)} probes; exact matches {exact}, ID matches {idm}, differences {bad}")
assert 0 < exact < len(fast) and 0 < idm < len(fast), "need both outcomes"
sys.exit(1 if bad else 0)
P
check "fast path == plain greedy for every example and k" $PY "$TMP/compare.py" "$TMP/fast.jsonl" "$TMP/plain.jsonl" 80

# The same model cut to a maximum length of 64 (wpe rows 0..63 kept: the same function on those
# positions), so that each 65-token record ends exactly at the model's limit: the ID probe's last
# identifier token is then predicted from position 63, the edge where off-by-one errors live.
$PY - "$TMP/model/model.bin" "$TMP/model64.bin" <<'P'
import sys
import numpy as np
raw = open(sys.argv[1], "rb").read()
header = np.frombuffer(raw[:1024], dtype=np.int32).copy()
assert header[0] == 20240326 and header[1] == 3, header[:2]
maxT, V, L, NH, C, Vp = (int(x) for x in header[2:8])
params = np.frombuffer(raw[1024:], dtype=np.float32)
wte, wpe, rest = params[:Vp * C], params[Vp * C:Vp * C + maxT * C], params[Vp * C + maxT * C:]
header[2] = 64
with open(sys.argv[2], "wb") as f:
    f.write(header.tobytes()); f.write(wte.tobytes()); f.write(wpe[:64 * C].tobytes()); f.write(rest.tobytes())
P
EDGE_ARGS=("${EVAL_ARGS[@]}" --model_path "$TMP/model64.bin" --context_lengths 8,16,32,48)
./test_memorization "${EDGE_ARGS[@]}" --output_file "$TMP/edge_fast.json" > /dev/null 2>&1
./test_memorization "${EDGE_ARGS[@]}" --output_file "$TMP/edge_plain.json" --plain_greedy > /dev/null 2>&1
check "fast path == plain greedy when records end at the model's maximum length" \
  $PY "$TMP/compare.py" "$TMP/edge_fast.jsonl" "$TMP/edge_plain.jsonl" 64
check "similarities equal sklearn TfidfVectorizer fitted on the dataset texts (1e-6)" \
  $PY tests/tfidf_oracle.py results "$DS" "$TMP/fast.jsonl"

# Aggregates recomputed from the per-example records: rates with the Wilson formula, means and
# their bootstrap intervals with an independent re-implementation (splitmix64 + numpy percentile).
cat > "$TMP/aggregates.py" <<'P'
import json, math, sys
import numpy as np
res = json.load(open(sys.argv[1]))
recs = [json.loads(l) for l in open(sys.argv[2])]
assert res["schema_version"] == 1 and res["program"] == "test_memorization"
for key in ("model_sha256", "train_file_sha256", "test_file_sha256", "metadata_file_sha256", "tokenizer_sha256"):
    assert len(res["provenance"][key]) == 64, key
assert res["context_lengths"] == [4, 8, 16, 32, 48]
M = (1 << 64) - 1
def splitmix(state):
    while True:
        state = (state + 0x9E3779B97F4A7C15) & M
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
        yield z ^ (z >> 31)
def bootstrap(x, resamples, seed):
    g = splitmix(seed)
    n = len(x)
    means = []
    for _ in range(resamples):
        s = 0.0
        for _ in range(n):
            s += x[next(g) % n]
        means.append(s / n)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))
def wilson(k, n, z=1.959963984540054):
    if n == 0:
        return 0.0, 1.0
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, c - h), min(1.0, c + h)
checked = 0
for split, agg in res["results"].items():
    for key, a in agg["by_context_length"].items():
        rs = [r for r in recs if r["split"] == split and r["k"] == a["k"]]
        assert len(rs) == a["num_examples"] == agg["num_examples"]
        for name, field in (("exact_match_rate", "exact_match"), ("id_in_generation_rate", "id_in_generation"),
                            ("id_match_rate", "id_match")):
            vals = [r[field] for r in rs if r[field] is not None]
            succ = sum(vals)
            lo, hi = wilson(succ, len(vals))
            e = a[name]
            assert e["n"] == len(vals) and e["successes"] == succ, (split, key, name)
            if vals:
                assert abs(e["value"] - succ / len(vals)) < 1e-12
            assert abs(e["ci_low"] - lo) < 1e-9 and abs(e["ci_high"] - hi) < 1e-9, (split, key, name, e, lo, hi)
            checked += 1
        for name, field in (("avg_similarity", "similarity"), ("token_accuracy", "token_accuracy"),
                            ("matched_prefix", "matched_prefix"), ("loss", "loss")):
            x = [float(r[field]) for r in rs]
            e = a[name]
            assert abs(e["value"] - sum(x) / len(x)) < 1e-9, (split, key, name)
            lo, hi = bootstrap(x, e["resamples"], int(e["bootstrap_seed"]))
            assert abs(e["ci_low"] - lo) < 1e-9 and abs(e["ci_high"] - hi) < 1e-9, (split, key, name, e, lo, hi)
            checked += 1
        if split == "train":  # members grouped by training copies
            groups = {}
            for r in rs:
                groups.setdefault(str(r["repeats"]), []).append(r)
            assert set(groups) == set(a["by_repeats"]), (groups.keys(), a["by_repeats"].keys())
            for rep, g in groups.items():
                e = a["by_repeats"][rep]["exact_match_rate"]
                assert e["n"] == len(g) and e["successes"] == sum(r["exact_match"] for r in g)
                checked += 1
print(f"{checked} aggregates equal their recomputation")
P
check "JSON parses; aggregates and intervals equal a Python recomputation from the .jsonl" \
  $PY "$TMP/aggregates.py" "$TMP/fast.json" "$TMP/fast.jsonl"
check "members memorized, non-members not (exact match at k=32: train >= 0.5, test 0)" $PY -c "
import json, sys
r = json.load(open('$TMP/fast.json'))['results']
tr = r['train']['by_context_length']['32']['exact_match_rate']['value']
te = r['test']['by_context_length']['32']['exact_match_rate']['value']
print('train', tr, 'test', te); sys.exit(0 if tr >= 0.5 and te == 0 else 1)"

# ---- adjustments that are not errors
./test_memorization "${EVAL_ARGS[@]}" --num_examples 1000 --splits test --context_lengths 8,60 \
  --output_file "$TMP/adjust.json" > /dev/null 2> "$TMP/adjust.err"
check "--num_examples above a split's size uses all and says so" grep -q "more than the 4 examples of the test split: using all 4" "$TMP/adjust.err"
check "a context length that does not fit is skipped with a note in the JSON" $PY -c "
import json; r = json.load(open('$TMP/adjust.json'))
assert r['context_lengths'] == [8] and r['skipped_context_lengths'][0]['k'] == 60, r['skipped_context_lengths']
assert list(r['results']) == ['test'] and r['results']['test']['num_examples'] == 4"

# ---- bad input: one line naming the flag or file, non-zero exit, no results file
BAD=(./test_memorization --model_path "$TMP/model" --train_file "$DS/train.bin" --test_file "$DS/test.bin"
     --metadata_file "$DS/metadata.json" --context_lengths 8,16 --max_new_tokens 16 --threads 1 --output_file "$TMP/bad.json")
expect_error "malformed --context_lengths" "^test_memorization: error: --context_lengths: " "${BAD[@]}" --context_lengths 8,abc
expect_error "empty item in --context_lengths" "^test_memorization: error: --context_lengths: " "${BAD[@]}" --context_lengths 8,,16
expect_error "zero context length" "^test_memorization: error: --context_lengths: " "${BAD[@]}" --context_lengths 0
expect_error "no context length fits" "--context_lengths: none of 60,64 fits: k \+ --max_new_tokens \(16\) must be at most 64" "${BAD[@]}" --context_lengths 60,64
expect_error "non-numeric --num_examples" "^test_memorization: error: --num_examples: 'many' is not a whole number" "${BAD[@]}" --num_examples many
expect_error "unknown --splits value" "^test_memorization: error: --splits: 'validation' is not a split \(use train, test or both\)" "${BAD[@]}" --splits validation
for splits in train,, ,test train,,test; do
  expect_error "empty item in --splits '$splits'" "^test_memorization: error: --splits: empty item in '$splits' \(use train, test or both, comma-separated" \
    "${BAD[@]}" --splits "$splits"
done
# --splits both (what --help offers) is train,test; its exposure line lists the splits without a trailing comma
"${BAD[@]}" --splits both --exposure_candidates 100 --output_file "$TMP/both.json" > /dev/null 2> "$TMP/both.err"
check "--splits both evaluates members and non-members" $PY -c "
import json; r = json.load(open('$TMP/both.json')); assert list(r['results']) == ['train', 'test'], list(r['results'])"
check "exposure line: members, non-members, no trailing comma" \
  grep -Eq '^exposure \(100 candidates, chance [0-9.]+ bits\): members [0-9.]+ bits \(estimate [0-9.]+\), non-members [0-9.]+ bits \(estimate [0-9.]+\)$' "$TMP/both.err"
# a file-size limit (ulimit -f) while writing the results: an error line like a full disk, not a
# silent SIGXFSZ death; neither file is replaced (both are complete before either is renamed)
mkdir -p "$TMP/fsize" && cp "$TMP/both.json" "$TMP/both.jsonl" "$TMP/fsize/"
rc=0; ( ulimit -f 8; exec "${BAD[@]}" --exposure_candidates 100 --output_file "$TMP/fsize/both.json" ) > /dev/null 2> "$TMP/fsize.err" || rc=$?
check "file-size limit (ulimit -f): exit 1, one error line naming the file" bash -c "
  [ $rc -eq 1 ] && [ \$(grep -c 'error:' '$TMP/fsize.err') -eq 1 ] &&
  tail -n 1 '$TMP/fsize.err' | grep -q 'error: cannot write .*fsize/both\.jsonl: File too large'"
check "  ... earlier results intact, no temporary files" bash -c "
  cmp '$TMP/both.json' '$TMP/fsize/both.json' && cmp '$TMP/both.jsonl' '$TMP/fsize/both.jsonl' && ! ls '$TMP/fsize' | grep -q tmp"
# the second rename failing (a preloaded rename() refuses targets ending in .json): the .jsonl
# that the first rename put in place is taken back
cat > "$TMP/norename.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <string.h>
int rename(const char *from, const char *to) {
    size_t n = strlen(to);
    if (n > 5 && !strcmp(to + n - 5, ".json")) { errno = EACCES; return -1; }
    return ((int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename"))(from, to);
}
C
gcc -shared -fPIC -o "$TMP/norename.so" "$TMP/norename.c" -ldl
mkdir -p "$TMP/norename"
rc=0; LD_PRELOAD="$TMP/norename.so" "${BAD[@]}" --exposure_candidates 0 --output_file "$TMP/norename/r.json" > /dev/null 2> "$TMP/norename.err" || rc=$?
check "results file cannot be renamed: one error line, its .jsonl taken back, nothing left" bash -c "
  [ $rc -eq 1 ] && [ \$(grep -c 'error:' '$TMP/norename.err') -eq 1 ] &&
  tail -n 1 '$TMP/norename.err' | grep -q 'cannot write .*r\.json: Permission denied (.*the new .*r\.jsonl was removed with it)' &&
  [ -z \"\$(ls -A '$TMP/norename')\" ]"
# ... and with an earlier pair there, the earlier .jsonl is put back beside the earlier .json
mkdir -p "$TMP/norename2" && cp "$TMP/both.json" "$TMP/norename2/r.json" && cp "$TMP/both.jsonl" "$TMP/norename2/r.jsonl"
rc=0; LD_PRELOAD="$TMP/norename.so" "${BAD[@]}" --exposure_candidates 0 --output_file "$TMP/norename2/r.json" > /dev/null 2> "$TMP/norename2.err" || rc=$?
check "  ... an earlier pair is left as it was (its .jsonl put back), nothing else left" bash -c "
  [ $rc -eq 1 ] && tail -n 1 '$TMP/norename2.err' | grep -q 'the earlier .*r\.jsonl was put back' &&
  cmp '$TMP/both.json' '$TMP/norename2/r.json' && cmp '$TMP/both.jsonl' '$TMP/norename2/r.jsonl' &&
  [ \"\$(ls -A '$TMP/norename2' | wc -l)\" -eq 2 ]"
expect_error "missing model" "^test_memorization: error: --model_path: .*/nothing_here does not exist" "${BAD[@]}" --model_path "$TMP/nothing_here"
expect_error "model directory without model.bin" "has no model.bin" "${BAD[@]}" --model_path "$DS"
expect_error "missing metadata: names the flag and the fix" \
  "cannot open .*metadata_missing\.json: No such file or directory \(give --metadata_file the metadata\.json written by generate_dataset\)" \
  "${BAD[@]}" --metadata_file "$TMP/metadata_missing.json"
expect_error "unwritable output" "bad_dir" "${BAD[@]}" --output_file "$TMP/bad_dir/sub/x.json/y"
# a directory as the results file, or as its .jsonl: refused before the model is read (one line)
mkdir -p "$TMP/outdir" "$TMP/recdir.jsonl"
expect_error "--output_file that is a directory" "^test_memorization: error: --output_file .*/outdir is a directory \(give a file path" \
  "${BAD[@]}" --output_file "$TMP/outdir"
expect_error "--output_file whose .jsonl is a directory" "^test_memorization: error: --output_file .*recdir\.json: its records file .*recdir\.jsonl is a directory" \
  "${BAD[@]}" --output_file "$TMP/recdir.json"
check "  ... and nothing written beside them" test ! -e "$TMP/outdir.jsonl" -a ! -e "$TMP/recdir.json"
# one model source: a checkpoint or a pretrained name
expect_error "--model_path and --model_name together" "--model_path and --model_name both given \(give one" "${BAD[@]}" --model_name gpt2
expect_error "--model_dir without --model_name" "--model_dir is only used with --model_name" "${BAD[@]}" --model_dir "$TMP/models"
# metadata of another dataset with the same shape: the text hashes give it away (same --duplicates,
# so the record counts agree and only the hash check can catch it)
check "generate another dataset of the same shape" ./generate_dataset --num_examples 16 --tokens_per_example 64 --train_ratio 0.75 \
  --seed 6 --duplicates 1:8,3:4 --output_dir "$TMP/other"
expect_error "metadata of another dataset" "text hash does not match the tokens in .*train\.bin record [0-9]+ \(the metadata belongs to another dataset" \
  "${BAD[@]}" --metadata_file "$TMP/other/metadata.json"
# metadata of a dataset with another record length
./generate_dataset --num_examples 16 --tokens_per_example 80 --train_ratio 0.75 --seed 5 --output_dir "$TMP/long" > /dev/null 2>&1
expect_error "metadata with another record length" "tokens_per_example 80 does not match" "${BAD[@]}" --metadata_file "$TMP/long/metadata.json"
expect_error "shards with different record lengths" "record length" "${BAD[@]}" --test_file "$TMP/long/test.bin"
# damaged metadata: bytes after the JSON document, an identifier range that is not whole numbers
cp "$DS/metadata.json" "$TMP/meta_garbage.json" && printf 'xyz{"garbage":' >> "$TMP/meta_garbage.json"
cp "$DS/metadata.json" "$TMP/meta_nul.json" && printf '\0' >> "$TMP/meta_nul.json"
cat "$DS/metadata.json" "$DS/metadata.json" > "$TMP/meta_twice.json"
for kind in garbage nul twice; do
  expect_error "metadata with trailing data ($kind)" \
    "^test_memorization: error: .*meta_$kind\.json: trailing data after the JSON document at byte [0-9]+ \(the file is damaged; " \
    "${BAD[@]}" --metadata_file "$TMP/meta_$kind.json"
done
# tokenizers that are not the dataset's: another eot id (version 2 slot 3), and the same
# vocabulary as a version 1 file (other bytes, so another sha256)
$PY - "$DS/metadata.json" "$TMP" <<'P'
import json, struct, sys
m = json.load(open(sys.argv[1]))
m["examples"][0]["start_identifier_tokens"][1] += 0.7
json.dump(m, open(sys.argv[2] + "/meta_fraction.json", "w"))
tok = open("gpt2_tokenizer.bin", "rb").read()
open(sys.argv[2] + "/tok_eot.bin", "wb").write(tok[:12] + struct.pack("<i", 50255) + tok[16:])
open(sys.argv[2] + "/tok_v1.bin", "wb").write(tok[:4] + struct.pack("<i", 1) + tok[8:])
P
expect_error "metadata identifier range that is not whole numbers" \
  "meta_fraction\.json: examples\[0\] field \"start_identifier_tokens\" must be a \[begin, end\] pair of whole numbers" \
  "${BAD[@]}" --metadata_file "$TMP/meta_fraction.json"
expect_error "--tokenizer with another eot id than the dataset's" \
  "^test_memorization: error: .*metadata\.json was made with a tokenizer whose eot_token is 50256, but --tokenizer .*tok_eot\.bin has 50255: pass the tokenizer the dataset was made with" \
  "${BAD[@]}" --tokenizer "$TMP/tok_eot.bin"
expect_error "--tokenizer file other than the dataset's (sha256)" \
  "^test_memorization: error: .*metadata\.json was made with tokenizer sha256 [0-9a-f]{12}\.\.\., but --tokenizer .*tok_v1\.bin has [0-9a-f]{12}\.\.\.: pass the tokenizer the dataset was made with" \
  "${BAD[@]}" --tokenizer "$TMP/tok_v1.bin"
# an empty test split
./generate_dataset --num_examples 16 --tokens_per_example 64 --train_ratio 1.0 --seed 5 --output_dir "$TMP/alltrain" > /dev/null 2>&1
expect_error "empty test split" "test split has no examples" "${BAD[@]}" --train_file "$TMP/alltrain/train.bin" \
  --test_file "$TMP/alltrain/test.bin" --metadata_file "$TMP/alltrain/metadata.json"
# models that do not fit the data: a small vocabulary, and a short maximum length
$PY - "$TMP" <<'P'
import sys
import numpy as np
def write(path, V, Vp, maxT, L=1, C=32, NH=2):
    header = np.zeros(256, dtype=np.int32)
    header[:8] = [20240326, 3, maxT, V, L, NH, C, Vp]
    sizes = [Vp * C, maxT * C, L * C, L * C, L * 3 * C * C, L * 3 * C, L * C * C, L * C, L * C, L * C,
             L * 4 * C * C, L * 4 * C, L * C * 4 * C, L * C, C, C]
    params = np.random.default_rng(0).normal(0, 0.02, sum(sizes)).astype(np.float32)
    with open(path, "wb") as f:
        f.write(header.tobytes()); f.write(params.tobytes())
write(sys.argv[1] + "/small_vocab.bin", 1000, 1024, 64)
write(sys.argv[1] + "/short.bin", 50257, 50304, 20)
P
# The results would replace an input, or a file this program did not write: refused, nothing touched.
cp "$DS/train.bin" "$TMP/train_copy.bin"
expect_error "--output_file naming the train shard" \
  "^test_memorization: error: --output_file .*/train\.bin: it is the --train_file, an input" "${BAD[@]}" --output_file "$DS/train.bin"
check "  ... the shard unchanged, no train.bin.jsonl beside it" bash -c "cmp '$DS/train.bin' '$TMP/train_copy.bin' && [ ! -e '$DS/train.bin.jsonl' ]"
expect_error "--output_file naming the model file" "it is the --model_path, an input" "${BAD[@]}" --output_file "$TMP/model/model.bin"
expect_error "--output_file naming the dataset's JSON" "synthetic_dataset\.json exists and is not a results file of test_memorization" \
  "${BAD[@]}" --output_file "$DS/synthetic_dataset.json"
expect_error "--output_file whose records file would be the dataset's train.jsonl" \
  "its records file .*/train\.jsonl exists and is not test_memorization records" "${BAD[@]}" --output_file "$DS/train.json"
expect_error "model vocabulary smaller than the dataset's tokens" "outside the model's vocabulary" "${BAD[@]}" --model_path "$TMP/small_vocab.bin"
expect_error "model maximum length too short for every k" "maximum" "${BAD[@]}" --model_path "$TMP/short.bin"
check "no results file after any error" test ! -e "$TMP/bad.json" -a ! -e "$TMP/bad.jsonl"
check "no temporary files left behind" bash -c "! ls '$TMP' | grep -q '\.tmp\.'"

# --model_name: pretrained names resolve to <model_dir>/<name>.bin (what scripts/download_gpt2.sh writes).
mkdir -p "$TMP/models" && cp "$TMP/model/model.bin" "$TMP/models/distilgpt2.bin"
./test_memorization "${EVAL_ARGS[@]}" --output_file "$TMP/by_path.json" > /dev/null 2>&1
EVAL_BY_NAME=("${EVAL_ARGS[@]:2}")  # without --model_path: give one model
check "--model_name distilgpt2 --model_dir evaluates <model_dir>/distilgpt2.bin like --model_path" bash -c "
  ./test_memorization ${EVAL_BY_NAME[*]@Q} --model_name distilgpt2 --model_dir '$TMP/models' --output_file '$TMP/by_name.json' > /dev/null 2>&1 &&
  $PY - '$TMP/by_path.json' '$TMP/by_name.json' <<'P'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
assert a['results'] == b['results'], 'results differ'
assert b['provenance']['model'].endswith('models/distilgpt2.bin'), b['provenance']['model']
P"
BY_NAME=("${BAD[0]}" "${BAD[@]:3}")  # BAD without --model_path
expect_error "--model_name of a missing pretrained model says how to get it" \
  "models_none/gpt2.bin not found.*scripts/download_gpt2.sh gpt2" "${BY_NAME[@]}" --model_name gpt2 --model_dir "$TMP/models_none"
expect_error "--model_name that is not a pretrained name" "not a pretrained name" "${BY_NAME[@]}" --model_name gpt3
