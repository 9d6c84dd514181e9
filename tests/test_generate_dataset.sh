#!/usr/bin/env bash
# generate_dataset: file set, exact token counts (our encoder and tiktoken), identifiers, splits,
# repeats, determinism, shards, the no-shared-50-token-span rule and the diversity figures
# (recomputed independently in Python from tiktoken's tokens), --source file, and bad input.
source "$(dirname "$0")/lib.sh"

GEN=./generate_dataset
if [ ! -x "$GEN" ] || [ ! -f gpt2_tokenizer.bin ]; then
  fail "generate_dataset and gpt2_tokenizer.bin must be built first (make generate_dataset vocab)"; exit 1
fi
if [ ! -f "$NODE_PATH/tiktoken/package.json" ]; then
  fail "tiktoken (npm) missing under $NODE_PATH: run make test-deps"; exit 1
fi

# ---------------------------------------------------------------------------------------------
# Independent checkers. tiktoken (node) encodes every text; Python checks everything against
# those tokens, never against generate_dataset's own numbers.
cat > "$TMP/tiktoken_dataset.js" <<'EOF'
// node tiktoken_dataset.js DIR OUT.json: {id: {tokens: [...], marker: [...]}} for every example.
const fs = require('fs');
const { get_encoding } = require('tiktoken');
const enc = get_encoding('gpt2');
const [dir, out] = process.argv.slice(2);
const result = {};
for (const line of fs.readFileSync(dir + '/synthetic_dataset.jsonl', 'utf8').split('\n')) {
  if (!line) continue;
  const o = JSON.parse(line);
  result[o.id] = { tokens: Array.from(enc.encode(o.text, [], [])), marker: Array.from(enc.encode('[' + o.id + ']', [], [])) };
}
fs.writeFileSync(out, JSON.stringify(result));
EOF

cat > "$TMP/check.py" <<'EOF'
import hashlib, json, math, os, re, subprocess, sys
from collections import Counter
import numpy as np

mode, d = sys.argv[1], sys.argv[2]
args = sys.argv[3:]
FILES = ["metadata.json", "synthetic_dataset.json", "synthetic_dataset.jsonl", "train.jsonl", "test.jsonl", "train.bin", "test.bin"]

def fail(msg):
    print(msg); sys.exit(1)

def load():
    meta = json.load(open(os.path.join(d, "metadata.json")))
    allx = json.load(open(os.path.join(d, "synthetic_dataset.json")))
    jl = lambda name: [json.loads(l) for l in open(os.path.join(d, name), encoding="utf-8")]
    return meta, allx, jl("synthetic_dataset.jsonl"), jl("train.jsonl"), jl("test.jsonl")

def tiktoken_tokens():
    return json.load(open(args[0]))

def body(tok, k):
    return tok[k:len(tok) - k]

def read_shard(name):
    raw = open(os.path.join(d, name), "rb").read()
    header = np.frombuffer(raw[:1024], dtype=np.int32)
    tokens = np.frombuffer(raw[1024:], dtype=np.uint16)
    return header, tokens

if mode == "files":
    names = sorted(os.listdir(d))
    if names != sorted(FILES): fail("files %s, expected %s" % (names, sorted(FILES)))

elif mode == "json":
    meta, allx, all_l, train_l, test_l = load()
    if not isinstance(allx, list) or allx != all_l: fail("synthetic_dataset.json and .jsonl differ")
    for name, lines in (("train.jsonl", train_l), ("test.jsonl", test_l), ("synthetic_dataset.jsonl", all_l)):
        for o in lines:
            if not isinstance(o.get("id"), str) or not isinstance(o.get("text"), str): fail("%s: line without id/text" % name)

elif mode == "structure":
    n, T = int(args[0]), int(args[1])
    meta, allx, all_l, train_l, test_l = load()
    if meta["tokens_per_example"] != T or meta["record_length"] != T + 1: fail("tokens_per_example/record_length")
    if len(allx) != n or meta["num_examples"] != n or len(meta["examples"]) != n: fail("expected %d examples" % n)
    ids = [o["id"] for o in allx]
    if len(set(ids)) != n: fail("identifiers are not unique")
    nums = []
    for o, m in zip(allx, meta["examples"]):
        mt = re.fullmatch(r"SYNTHETIC_EXAMPLE_(\d{5})", o["id"])
        if not mt: fail("bad id %r" % o["id"])
        marker = "[" + o["id"] + "]"
        if not o["text"].startswith(marker + "\n") or not o["text"].endswith("\n" + marker): fail("%s: markers missing at an end" % o["id"])
        if o["text"].count(marker) != 2: fail("%s: marker appears %d times" % (o["id"], o["text"].count(marker)))
        if m["id"] != o["id"] or m["split"] != o["split"] or m["repeats"] != o["repeats"]: fail("%s: metadata disagrees with json" % o["id"])
        if m["sha256"] != hashlib.sha256(o["text"].encode("utf-8")).hexdigest(): fail("%s: sha256" % o["id"])
        if m["num_chars"] != len(o["text"]) or m["num_bytes"] != len(o["text"].encode("utf-8")): fail("%s: char count" % o["id"])
        if m["num_tokens"] != T or m["number"] != int(mt.group(1)): fail("%s: num_tokens/number" % o["id"])
        nums.append(int(mt.group(1)))
    if n >= 10 and (nums == sorted(nums) or nums == sorted(nums, reverse=True)): fail("identifiers are in order, not random")
    ratio = meta["options"]["train_ratio"]
    n_test = round(n * (1 - ratio))
    test_ids = [o["id"] for o in allx if o["split"] == "test"]
    if len(test_ids) != n_test or meta["num_test_examples"] != n_test: fail("test split has %d, expected %d" % (len(test_ids), n_test))
    if n >= 20 and test_ids == ids[-n_test:]: fail("test split is the last examples, not random")
    # jsonl split files agree with the shard record maps
    if [o["id"] for o in train_l] != meta["train_records"]: fail("train.jsonl order differs from train_records")
    if [o["id"] for o in test_l] != meta["test_records"]: fail("test.jsonl order differs from test_records")
    if sorted(meta["test_records"]) != sorted(test_ids): fail("test_records are not the test examples")
    by_id = {o["id"]: o for o in allx}
    for o in train_l + test_l:
        if by_id[o["id"]]["text"] != o["text"]: fail("%s: split file text differs" % o["id"])

elif mode == "tiktoken":
    # Every text is exactly T tokens by tiktoken, identifiers whole tokens at both ends.
    T = int(args[1])
    meta, allx, *_ = load()
    tk = tiktoken_tokens()
    for m in meta["examples"]:
        t, mk = tk[m["id"]]["tokens"], tk[m["id"]]["marker"]
        if len(t) != T: fail("%s: %d tokens by tiktoken, expected %d" % (m["id"], len(t), T))
        k = len(mk)
        if t[:k] != mk or t[-k:] != mk: fail("%s: identifier is not whole tokens at both ends" % m["id"])
        if m["start_identifier_tokens"] != [0, k] or m["end_identifier_tokens"] != [T - k, T]: fail("%s: identifier positions" % m["id"])

elif mode == "shards":
    meta, allx, *_ = load()
    tk = tiktoken_tokens()
    T = meta["tokens_per_example"]
    R = T + 1
    eot = 50256
    for name, key in (("train.bin", "train_records"), ("test.bin", "test_records")):
        header, tokens = read_shard(name)
        recs = meta[key]
        if header[0] != 20240520 or header[1] != 1: fail("%s: magic/version" % name)
        if header[2] != len(tokens) or header[3] != R: fail("%s: header count %d / record length %d" % (name, header[2], header[3]))
        if len(tokens) != len(recs) * R: fail("%s: %d tokens for %d records" % (name, len(tokens), len(recs)))
        for r, rid in enumerate(recs):
            rec = tokens[r * R:(r + 1) * R]
            if rec[0] != eot: fail("%s record %d does not start with eot" % (name, r))
            if list(map(int, rec[1:])) != tk[rid]["tokens"]: fail("%s record %d != tiktoken(text of %s)" % (name, r, rid))

elif mode == "ourtok":
    # Our own encoder, through the tokenize program, agrees with the shards.
    limit = int(args[0])
    meta, allx, *_ = load()
    header, tokens = read_shard("train.bin")
    R = meta["record_length"]
    first = {}
    for r, rid in enumerate(meta["train_records"]):
        first.setdefault(rid, r)
    by_id = {o["id"]: o for o in allx}
    for rid in list(first)[:limit]:
        ids = subprocess.run(["./tokenize"], input=by_id[rid]["text"].encode(), capture_output=True, check=True).stdout.split()
        rec = tokens[first[rid] * R + 1:(first[rid] + 1) * R]
        if list(map(int, ids)) != list(map(int, rec)): fail("%s: ./tokenize differs from train.bin" % rid)

elif mode == "spans":
    # No two examples share a 50-token span between their identifiers (exact check on tiktoken's tokens).
    meta, *_ = load()
    tk = tiktoken_tokens()
    seen = {}
    for m in meta["examples"]:
        t = tk[m["id"]]["tokens"]
        b = np.array(body(t, len(tk[m["id"]]["marker"])), dtype=np.uint16).tobytes()
        mine = set()
        for w in range(len(b) // 2 - 50 + 1):
            key = b[2 * w:2 * w + 100]
            mine.add(key)
        for key in mine:
            other = seen.get(key)
            if other is not None: fail("%s and %s share a 50-token span" % (other, m["id"]))
        for key in mine:
            seen[key] = m["id"]

elif mode == "diversity":
    meta, *_ = load()
    tk = tiktoken_tokens()
    counts = Counter()
    owners = {}
    shared = set()
    total = 0
    for m in meta["examples"]:
        t = body(tk[m["id"]]["tokens"], len(tk[m["id"]]["marker"]))
        counts.update(t)
        total += len(t)
        for g in set(tuple(t[i:i + 8]) for i in range(len(t) - 7)):
            if g in owners: shared.add(g)
            else: owners[g] = m["id"]
    entropy = -sum(c / total * math.log2(c / total) for c in counts.values())
    dv = meta["diversity"]
    got = (dv["body_tokens"], dv["distinct_tokens"], dv["distinct_8grams"], dv["shared_8grams"])
    want = (total, len(counts), len(owners), len(shared))
    if got != want: fail("diversity counts %s, Python finds %s" % (got, want))
    if abs(dv["unigram_entropy_bits"] - entropy) > 1e-9: fail("entropy %r, Python finds %r" % (dv["unigram_entropy_bits"], entropy))
    if dv["shared_8gram_fraction"] != len(shared) / len(owners): fail("shared 8-gram fraction")
    print("distinct %d entropy %.4f shared8 %.4f" % (len(counts), entropy, len(shared) / len(owners)))

elif mode == "repeats":
    spec = dict((int(a), int(b)) for a, b in (x.split(":") for x in args[0].split(",")))
    meta, allx, all_l, train_l, test_l = load()
    rec = Counter(meta["train_records"])
    levels = Counter()
    for m in meta["examples"]:
        if m["split"] == "test":
            if m["repeats"] != 1 or m["id"] in rec: fail("test example %s has training copies" % m["id"])
        else:
            if rec[m["id"]] != m["repeats"]: fail("%s: %d copies in train.bin, repeats says %d" % (m["id"], rec[m["id"]], m["repeats"]))
            levels[m["repeats"]] += 1
    if dict(levels) != {k: v for k, v in spec.items() if v}: fail("repeat levels %s, expected %s" % (dict(levels), spec))
    if len(train_l) != sum(k * v for k, v in spec.items()) or meta["num_train_records"] != len(train_l): fail("train record count")
    # copies are shuffled, not adjacent
    adjacent = sum(1 for a, b in zip(meta["train_records"], meta["train_records"][1:]) if a == b)
    if adjacent > len(train_l) // 4: fail("%d adjacent copies: records are not shuffled" % adjacent)

elif mode == "different":
    other = args[0]
    a = json.load(open(os.path.join(d, "synthetic_dataset.json")))
    b = json.load(open(os.path.join(other, "synthetic_dataset.json")))
    if [o["id"] for o in a] == [o["id"] for o in b]: fail("same identifiers for different seeds")
    body = lambda t: t.split("\n", 1)[1].rsplit("\n", 1)[0]   # without the [ID] lines at both ends
    if sum(body(x["text"]) == body(y["text"]) for x, y in zip(a, b)) > 0: fail("same texts for different seeds")

elif mode == "make_inputs":
    # User texts: every license on the machine as one document, plus three that are too short.
    out = d
    lic = "/usr/share/common-licenses"
    docs = []
    for name in sorted(os.listdir(lic)):
        p = os.path.join(lic, name)
        if os.path.isfile(p) and not os.path.islink(p) and os.path.getsize(p) > 4000:
            text = open(p, encoding="utf-8", errors="replace").read()
            lines = [l.rstrip() for l in text.splitlines() if l.strip() and "\x0c" not in l]
            docs.append("\n".join(lines))
    docs = docs[:6]
    short = ["Too short to use.", "Also short.", "Three words here."]
    dup = "A copy of the first text follows.\n" + docs[0]   # shares a long span with docs[0]: must be skipped
    mixed = [docs[0], short[0]] + docs[1:3] + [short[1]] + docs[3:] + [dup, short[2]]
    with open(os.path.join(out, "input.jsonl"), "w") as f:
        for i, t in enumerate(mixed):
            f.write(json.dumps({"text": t, "source": i}) + "\n")
            if i == 2: f.write("\n")   # a blank line is allowed
    with open(os.path.join(out, "input.txt"), "w") as f:
        f.write("\n\n".join(mixed) + "\n")
    json.dump({"docs": mixed, "long": len(docs) + 1, "short": len(short), "dup": dup}, open(os.path.join(out, "inputs.json"), "w"))

elif mode == "from_file":
    # Examples are long texts in input order, each body a prefix of its text; short texts and
    # texts repeating a 50-token span of an earlier one (the planted copy) are skipped and counted.
    inputs = json.load(open(args[0]))
    meta, allx, *_ = load()
    longs = [t.lstrip(" \t\n\r\x0b\x0c") for t in inputs["docs"] if len(t) > 100]
    info = meta["input"]
    if info["skipped_too_short"] != inputs["short"]: fail("skipped %s as short, expected %d" % (info["skipped_too_short"], inputs["short"]))
    if info["texts"] != len(inputs["docs"]): fail("read %d texts, expected %d" % (info["texts"], len(inputs["docs"])))
    if len(allx) + info["skipped_shared_span"] + info["skipped_no_exact_cut"] != inputs["long"]: fail("long texts not all accounted for")
    if info["skipped_shared_span"] < 1: fail("the planted copy was not skipped")
    last = -1
    for o, m in zip(allx, meta["examples"]):
        marker = "[" + o["id"] + "]"
        inner = o["text"][len(marker) + 1:-(len(marker) + 1)]
        pad = m["padding_spaces"]   # spaces added to reach the exact length when the cut fell on whitespace
        if pad not in (0, 1, 2) or not inner.endswith(" " * pad): fail("%s: padding %r" % (o["id"], pad))
        core = inner[:len(inner) - pad]
        src = [i for i, t in enumerate(longs) if t.startswith(core)]
        if len(core) < 200 or not src or src[-1] <= last: fail("%s is not a prefix of a later input text" % o["id"])
        last = min(i for i in src if i > last)
        if longs[last] == inputs["dup"]: fail("the planted copy was used")
        if m["genre"] != "file": fail("genre should be file")

else:
    fail("unknown mode " + mode)
EOF

checkpy() { "$PY" "$TMP/check.py" "$@"; }
tiktoken_of() { node "$TMP/tiktoken_dataset.js" "$1" "$2"; }

# ---------------------------------------------------------------------------------------------
echo "-- unit tests (C, and under ASan/UBSan)"
for bin in test_textgen_unit test_dataset_meta; do
  check "$bin" build/tests/$bin
  check "$bin under sanitizers" build/tests/asan/$bin
done

echo "-- small dataset: 40 x 256 tokens with duplicates"
SPEC=1:30,2:3,4:2,8:1
check "generate 40 x 256" $GEN --num_examples 40 --tokens_per_example 256 --seed 7 --duplicates $SPEC --output_dir "$TMP/a"
check "file set" checkpy files "$TMP/a"
check "JSON parses with Python's json module" checkpy json "$TMP/a"
check "counts, unique random identifiers at both ends, random split" checkpy structure "$TMP/a" 40 256
check "tiktoken encodes every text" tiktoken_of "$TMP/a" "$TMP/a.tok"
check "identifiers are whole tokens at known positions (tiktoken)" checkpy tiktoken "$TMP/a" "$TMP/a.tok" 256
check "shard headers, alignment, records = tiktoken(text)" checkpy shards "$TMP/a" "$TMP/a.tok"
check "our tokenize program re-encodes every text to its record" checkpy ourtok "$TMP/a" 40
check "--duplicates $SPEC: copies per example and per level" checkpy repeats "$TMP/a" $SPEC
check "no shared 50-token span (exact, Python)" checkpy spans "$TMP/a" "$TMP/a.tok"
check "diversity figures recomputed in Python" checkpy diversity "$TMP/a" "$TMP/a.tok"
check "metadata reader sees the same records as Python" bash -c "
  build/tests/test_dataset_meta '$TMP/a/metadata.json' > '$TMP/a.meta.txt' &&
  $PY -c '
import json, sys
m = json.load(open(\"$TMP/a/metadata.json\"))
lines = [\"%d %d %d %d\" % (len(m[\"examples\"]), len(m[\"train_records\"]), len(m[\"test_records\"]), m[\"tokens_per_example\"])]
lines += [\"%s %s %d %d %d\" % (e[\"id\"], e[\"split\"], e[\"repeats\"], e[\"start_identifier_tokens\"][1], e[\"end_identifier_tokens\"][0]) for e in m[\"examples\"]]
lines += [\"train %d %s\" % (r, i) for r, i in enumerate(m[\"train_records\"])]
lines += [\"test %d %s\" % (r, i) for r, i in enumerate(m[\"test_records\"])]
sys.exit(open(\"$TMP/a.meta.txt\").read() != \"\n\".join(lines) + \"\n\")'"

echo "-- determinism"
$GEN --num_examples 40 --tokens_per_example 256 --seed 7 --duplicates $SPEC --output_dir "$TMP/a2" --threads 1 > /dev/null
check "same seed (1 thread vs all) gives byte-identical files" bash -c "for f in $TMP/a/*; do cmp \"\$f\" \"$TMP/a2/\$(basename \$f)\" || exit 1; done"
$GEN --num_examples 40 --tokens_per_example 256 --seed 8 --duplicates $SPEC --output_dir "$TMP/c" > /dev/null
check "a different seed gives different identifiers and texts" checkpy different "$TMP/a" "$TMP/c"
check "--duplicates with * takes the rest" $GEN --num_examples 20 --tokens_per_example 128 --duplicates 3:2,1:* --output_dir "$TMP/star"
check "  ... and the repeat counts hold" checkpy repeats "$TMP/star" 3:2,1:16

echo "-- --overwrite"
check "--overwrite replaces an existing dataset" $GEN --num_examples 12 --tokens_per_example 128 --seed 9 --output_dir "$TMP/c" --overwrite
check "  ... completely and atomically (new files only, no temporaries)" bash -c "
  checkpy() { $PY '$TMP/check.py' \"\$@\"; }; checkpy files '$TMP/c' && checkpy structure '$TMP/c' 12 128 &&
  grep -q '\"seed\":	9' '$TMP/c/metadata.json'"

echo "-- default size: 1000 x 1024"
check "generate the default dataset" $GEN --output_dir "$TMP/default"
check "default: file set" checkpy files "$TMP/default"
check "default: JSON parses" checkpy json "$TMP/default"
check "default: 1000 examples, unique identifiers, 900/100 split" checkpy structure "$TMP/default" 1000 1024
check "default: tiktoken encodes" tiktoken_of "$TMP/default" "$TMP/default.tok"
check "default: every text is exactly 1024 tokens by tiktoken" checkpy tiktoken "$TMP/default" "$TMP/default.tok" 1024
check "default: shards match tiktoken" checkpy shards "$TMP/default" "$TMP/default.tok"
check "default: our tokenize agrees on a sample" checkpy ourtok "$TMP/default" 8
check "default: no shared 50-token span" checkpy spans "$TMP/default" "$TMP/default.tok"
check "default: diversity figures recomputed in Python" checkpy diversity "$TMP/default" "$TMP/default.tok"
check "default: every genre is used" bash -c "$PY -c '
import json; m = json.load(open(\"$TMP/default/metadata.json\"))
g = {e[\"genre\"] for e in m[\"examples\"]}; assert len(g) >= 9, g'"

echo "-- --source file"
mkdir -p "$TMP/in"
check "make input files" checkpy make_inputs "$TMP/in"
check "--source file with JSONL" $GEN --source file --input "$TMP/in/input.jsonl" --tokens_per_example 256 --output_dir "$TMP/fj"
check "  JSONL: long texts used in order, short ones skipped and counted" checkpy from_file "$TMP/fj" "$TMP/in/inputs.json"
check "  JSONL: exact length by tiktoken" bash -c "node '$TMP/tiktoken_dataset.js' '$TMP/fj' '$TMP/fj.tok' && $PY '$TMP/check.py' tiktoken '$TMP/fj' '$TMP/fj.tok' 256"
check "  JSONL: shards match tiktoken" checkpy shards "$TMP/fj" "$TMP/fj.tok"
check "  JSONL: no shared 50-token span (exact, Python)" checkpy spans "$TMP/fj" "$TMP/fj.tok"
check "--source file with plain text" $GEN --source file --input "$TMP/in/input.txt" --tokens_per_example 256 --output_dir "$TMP/ft"
check "  text: long texts used in order, short ones skipped and counted" checkpy from_file "$TMP/ft" "$TMP/in/inputs.json"
check "  text: exact length by tiktoken" bash -c "node '$TMP/tiktoken_dataset.js' '$TMP/ft' '$TMP/ft.tok' && $PY '$TMP/check.py' tiktoken '$TMP/ft' '$TMP/ft.tok' 256"
check "  text and JSONL inputs give the same examples" cmp "$TMP/fj/synthetic_dataset.json" "$TMP/ft/synthetic_dataset.json"

printf '{"text": "fine"}\n{"text": "also fine"}\n{"text": broken\n' > "$TMP/in/bad.jsonl"
expect_error "malformed JSONL line names file:line" "error: .*bad\.jsonl:3: " \
  $GEN --source file --input "$TMP/in/bad.jsonl" --output_dir "$TMP/bad1"
printf '{"text": "fine"}\n{"title": "no text"}\n' > "$TMP/in/notext.jsonl"
expect_error "JSONL line without \"text\" names file:line" "notext\.jsonl:2: .*text" \
  $GEN --source file --input "$TMP/in/notext.jsonl" --output_dir "$TMP/bad1"
printf 'good line\n\nbad \xff\xfe line\n' > "$TMP/in/bad.txt"
expect_error "invalid UTF-8 in plain text names file:line" "bad\.txt:3: .*UTF-8" \
  $GEN --source file --input "$TMP/in/bad.txt" --output_dir "$TMP/bad1"
printf 'short one\n\nshort two\n' > "$TMP/in/short.txt"
expect_error "only too-short texts" "--input: none of the 2 texts" \
  $GEN --source file --input "$TMP/in/short.txt" --output_dir "$TMP/bad1"
expect_error "--num_examples more than the usable texts" "--num_examples: 50 requested .* only [0-9]+ usable texts \(3 too short, [0-9]+ repeating a 50-token span" \
  $GEN --source file --input "$TMP/in/input.jsonl" --tokens_per_example 256 --num_examples 50 --output_dir "$TMP/bad1"

# Short examples (bodies under 50 tokens): an exact duplicate document is still skipped.
A="The harbour of Ashcombe was rebuilt in 1832 after a storm destroyed the old pier, and the council paid for new granite steps, two cranes and a lighthouse that still stands today near the fish market."
Bt="Agnes Fenwick opened a bakery on Mill Street in 1901; her rye loaves won a county prize three years later, and the shop stayed in the family until her grandson sold it to the railway company."
printf '%s\n\n%s\n\n%s\n' "$A" "$Bt" "$A" > "$TMP/in/dup_short.txt"
check "--source file, 64 tokens: an identical document is skipped as a shared span" bash -c "$GEN --source file --input '$TMP/in/dup_short.txt' \
  --tokens_per_example 64 --output_dir '$TMP/dupshort' >/dev/null && [ \$(grep -c '' '$TMP/dupshort/synthetic_dataset.jsonl') -eq 2 ]"
printf '%s\n\nsee [SYNTHETIC_EXAMPLE_04711] %s\n' "$A" "$Bt" > "$TMP/in/ids.txt"
expect_error "--source file: a text holding an identifier string is refused, naming file:line" \
  "ids\.txt:3: the text contains an identifier string" $GEN --source file --input "$TMP/in/ids.txt" --tokens_per_example 64 --output_dir "$TMP/bad1"

echo "-- bad input: one line naming the flag, non-zero exit, nothing written"
expect_error "unknown flag" "unknown flag '--num_example'" $GEN --num_example 5 --output_dir "$TMP/bad1"
expect_error "non-numeric --num_examples" "--num_examples: 'abc' is not a whole number" $GEN --num_examples abc --output_dir "$TMP/bad1"
expect_error "--num_examples 0" "--num_examples: 0 is out of range" $GEN --num_examples 0 --output_dir "$TMP/bad1"
expect_error "more examples than 5-digit identifiers" "--num_examples: 100001 is out of range .* to 100000" $GEN --num_examples 100001 --output_dir "$TMP/bad1"
expect_error "--num_examples too big for 64 bits is out of range, not 'not a whole number'" \
  "--num_examples: '99999999999999999999' is out of range \(use an integer from 1 to 100000\)" $GEN --num_examples 99999999999999999999 --output_dir "$TMP/bad1"
expect_error "--tokens_per_example too small for two identifiers" "--tokens_per_example: 40 is too small to hold two identifiers" \
  $GEN --tokens_per_example 40 --output_dir "$TMP/bad1"
expect_error "--train_ratio out of range" "--train_ratio: 1.5 is out of range" $GEN --train_ratio 1.5 --output_dir "$TMP/bad1"
expect_error "--train_ratio leaving no training examples" "--train_ratio: .* leaves no training examples" \
  $GEN --num_examples 10 --tokens_per_example 128 --train_ratio 0.01 --output_dir "$TMP/bad1"
expect_error "--duplicates counts that do not add up" "--duplicates: the counts add up to 10 but there are 36 training examples" \
  $GEN --num_examples 40 --tokens_per_example 128 --duplicates 1:5,2:5 --output_dir "$TMP/bad1"
expect_error "--duplicates malformed" "--duplicates: malformed" \
  $GEN --num_examples 40 --tokens_per_example 128 --duplicates 1-36 --output_dir "$TMP/bad1"
expect_error "--duplicates level 0" "--duplicates: repeat level 0 is out of range" \
  $GEN --num_examples 40 --tokens_per_example 128 --duplicates 0:36 --output_dir "$TMP/bad1"
expect_error "--source openai without --model" "--source openai needs --model" $GEN --source openai --output_dir "$TMP/bad1"
expect_error "--source unknown" "--source: unknown source 'web' \(use offline, file or openai\)" $GEN --source web --output_dir "$TMP/bad1"
expect_error "--source file without --input" "--source file needs --input" $GEN --source file --output_dir "$TMP/bad1"
# flags of --source openai would be ignored by the other sources without a word
for flag in "--temperature 0.5" "--concurrency 4" "--verbose"; do
  expect_error "$flag without --source openai" "^generate_dataset: error: ${flag%% *} is only used with --source openai \(add --source openai\)" \
    $GEN $flag --output_dir "$TMP/bad1"
done
expect_error "--input missing file" "--input: .*nope\.jsonl is not a readable file" \
  $GEN --source file --input "$TMP/nope.jsonl" --output_dir "$TMP/bad1"
expect_error "--tokenizer missing file" "--tokenizer: .*missing\.bin not found" $GEN --tokenizer "$TMP/missing.bin" --output_dir "$TMP/bad1"
touch "$TMP/plainfile"
expect_error "unwritable --output_dir (parent is a file)" "--output_dir: cannot create .*plainfile is not a directory" \
  $GEN --num_examples 5 --tokens_per_example 128 --output_dir "$TMP/plainfile/out"
expect_error "unwritable --output_dir (read-only file system)" "--output_dir: cannot write in /proc" \
  $GEN --num_examples 5 --tokens_per_example 128 --output_dir /proc/memlens_out
check "failed runs wrote nothing" test ! -e "$TMP/bad1"
# A file-size limit (ulimit -f, 10 KB) is a write error like a full disk, not a silent SIGXFSZ death.
expect_error "file-size limit (ulimit -f): one line naming the file" \
  "cannot write .*/fsize/synthetic_dataset\.json: File too large \(raise the file-size limit, ulimit -f" \
  bash -c "ulimit -f 10; exec $GEN --num_examples 20 --tokens_per_example 128 --output_dir '$TMP/fsize'"
check "  ... and leaves no files behind" bash -c "[ -d '$TMP/fsize' ] && [ -z \"\$(ls -A '$TMP/fsize')\" ]"
sha_before=$(sha256sum "$TMP/a/metadata.json")
expect_error "existing dataset is not overwritten without --overwrite" "--output_dir: .* already exists and is not empty \(pass --overwrite" \
  $GEN --num_examples 5 --tokens_per_example 128 --output_dir "$TMP/a"
check "  ... and is left untouched" bash -c "[ \"\$(sha256sum '$TMP/a/metadata.json')\" = '$sha_before' ] && [ -z \"\$(ls '$TMP/a' | grep tmp)\" ]"
check "--help lists every flag" bash -c "$GEN --help | grep -c -- '^  --\(num_examples\|tokens_per_example\|output_dir\|seed\|train_ratio\|source\|input\|duplicates\|overwrite\|tokenizer\|threads\)\( \|$\)' | grep -qx 11"
# --output_dir with a trailing slash: the paths printed and written have no doubled slash.
check "--output_dir dir/ prints 'in dir/', not 'dir//'" bash -c "$GEN --num_examples 5 --tokens_per_example 128 --output_dir '$TMP/slash/' | grep -q 'in $TMP/slash/ ('"
