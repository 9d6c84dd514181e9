#!/usr/bin/env bash
# generate_dataset --source openai against a scripted mock server on 127.0.0.1 (no network):
# normal runs, retries (429 + Retry-After, 5xx, dropped connections, timeouts, malformed JSON,
# empty and refused answers), finish_reason "length", connection refused, out-of-order answers,
# resume after failures, Ctrl-C and torn cache lines, and that the API key goes only into the
# Authorization header. Request counts come from the mock's log; texts are checked against the
# mock's own answer generator and token counts against tiktoken.
source "$(dirname "$0")/lib.sh"

GD=${MEMLENS_GENERATE_DATASET:-./generate_dataset}
if [ ! -x "$GD" ] || [ ! -f gpt2_tokenizer.bin ]; then
  fail "generate_dataset and gpt2_tokenizer.bin are needed (run make && make vocab)"; exit 1
fi
GD=$(realpath "$GD")
KEY="sk-memlens-test-$RANDOM$RANDOM-DO-NOT-LEAK"
MODEL=mock-gpt-1
SEED=1000
N=6
TOKENS=128
COMMON=(--source openai --model "$MODEL" --num_examples $N --tokens_per_example $TOKENS --seed $SEED
        --retry_base_delay 0.05 --timeout 5 --concurrency 3 --tokenizer "$ROOT/gpt2_tokenizer.bin")
DATA_FILES=(synthetic_dataset.json synthetic_dataset.jsonl train.jsonl test.jsonl train.bin test.bin)

MOCK_PID=
stop_mock() { if [ -n "$MOCK_PID" ]; then kill "$MOCK_PID" 2>/dev/null; wait "$MOCK_PID" 2>/dev/null; MOCK_PID=; fi; }
trap 'stop_mock; rm -rf "$TMP"' EXIT

# start_mock NAME [FAULTS_JSON]: sets MOCK_LOG and BASE.
start_mock() {
  stop_mock
  local name=$1 faults=${2:-}
  rm -f "$TMP/$name.port"
  MOCK_LOG="$TMP/mock-$name.log"
  : > "$MOCK_LOG"
  "$PY" tests/mock_openai_server.py --port_file "$TMP/$name.port" --log "$MOCK_LOG" --faults "$faults" &
  MOCK_PID=$!
  for _ in $(seq 100); do [ -s "$TMP/$name.port" ] && break; sleep 0.05; done
  BASE="http://127.0.0.1:$(cat "$TMP/$name.port")/v1"
}

# gd NAME ARGS...: generate_dataset into $TMP/out/NAME with the key in the environment;
# stdout and stderr go to $TMP/NAME.out / .err. Returns its exit status.
gd() {
  local name=$1; shift
  OPENAI_API_KEY="$KEY" "$GD" "${COMMON[@]}" --api_base "$BASE" --output_dir "$TMP/out/$name" "$@" \
    > "$TMP/$name.out" 2> "$TMP/$name.err"
}

# The oracle: request counts and bodies from the mock's log, texts from the mock's generator,
# token ids from tiktoken (node), shards parsed independently.
cat > "$TMP/oracle.py" <<'EOF'
import json, os, re, subprocess, sys, tempfile
sys.path.insert(0, os.environ["MEMLENS_TESTS_DIR"])
from mock_openai_server import answer_text, cut_answer

def log(path):
    return [json.loads(line) for line in open(path)]

def cmd_count(path, key=None):
    print(sum(1 for e in log(path) if key is None or f"{e['seed']}:{e['turn']}" == key))

def cmd_requests_ok(path, model, auth):
    entries = log(path)
    assert entries, "no requests logged"
    for e in entries:
        assert e["body_ok"], f"malformed request body: {e}"
        assert e["path"] == "/v1/chat/completions", e["path"]
        assert e["model"] == model, f"model {e['model']!r}, expected {model!r}"
        expected = None if auth == "-" else f"Bearer {auth}"
        assert e["authorization"] == expected, f"Authorization {e['authorization']!r}"

def cmd_each_once(path):
    keys = [f"{e['seed']}:{e['turn']}" for e in log(path)]
    assert len(keys) == len(set(keys)), f"a request was repeated: {sorted(keys)}"

def cmd_prompts(path, key, *needles):
    prompts = [e["prompt"] for e in log(path) if f"{e['seed']}:{e['turn']}" == key]
    for p, needle in zip(prompts, needles):
        assert (needle in p) if needle != "-" else ("Version" not in p), f"prompt {p!r} lacks {needle!r}"
    assert len(prompts) == len(needles), prompts

def cmd_meta(d, expr):
    meta = json.load(open(os.path.join(d, "metadata.json")))
    assert eval(expr, {"meta": meta}), expr

def cmd_max_in_flight(path):
    print(max(e["in_flight"] for e in log(path)))

def cmd_gap(path, key):
    times = [e["time"] for e in log(path) if f"{e['seed']}:{e['turn']}" == key]
    print(f"{times[1] - times[0]:.3f}")

def expected_text(seed, length_cut):
    # How the client joins turns: a blank line after a finished answer, one space after a cut one.
    if length_cut:
        return cut_answer(answer_text(seed, 0, 60)) + " " + "\n\n".join(answer_text(seed, t, 60) for t in range(1, 5))
    return "\n\n".join(answer_text(seed, t, 60) for t in range(5))

def cmd_dataset(d, n, tokens, seed, length_seed="-1"):
    n, tokens, seed, length_seed = int(n), int(tokens), int(seed), int(length_seed)
    rows = [json.loads(l) for l in open(os.path.join(d, "synthetic_dataset.jsonl"))]
    assert len(rows) == n, f"{len(rows)} examples, expected {n}"
    meta = json.load(open(os.path.join(d, "metadata.json")))
    texts = {}
    for i, r in enumerate(rows):
        m = re.fullmatch(r"(\[SYNTHETIC_EXAMPLE_\d{5}\])\n(.*)\n(\[SYNTHETIC_EXAMPLE_\d{5}\])", r["text"], re.S)
        assert m and m.group(1) == m.group(3) == f"[{r['id']}]", f"example {i}: identifiers wrong"
        body = m.group(2)
        full = expected_text(seed + i, seed + i == length_seed)
        # The body is the model's text cut at the end (plus padding spaces if the cut fell on whitespace).
        padding = meta["examples"][i]["padding_spaces"]
        assert body.endswith(" " * padding) and full.startswith(body[:len(body) - padding]), \
            f"example {i}: body is not the model's text:\n{body[:200]!r}"
        assert len(body) > len(full) / 10
        texts[r["id"]] = r["text"]
        assert meta["examples"][i]["genre"] == ["encyclopedia", "biography", "letter", "news", "report", "story",
                                               "recipe", "review", "meeting_notes"][i % 9]
    # Token ids: tiktoken's encoding of every text must be exactly what the shards hold.
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for k, (ident, text) in enumerate(texts.items()):
            p = os.path.join(tmp, ident)
            open(p, "w", encoding="utf-8").write(text)
            paths.append(p)
        out = subprocess.run(["node", os.path.join(os.environ["MEMLENS_TESTS_DIR"], "tiktoken_encode.js"), *paths], capture_output=True, text=True, check=True).stdout
    ids = {os.path.basename(line.split("\t")[0]): [int(x) for x in line.split("\t")[1].split()] for line in out.splitlines()}
    import struct
    for split in ("train", "test"):
        raw = open(os.path.join(d, f"{split}.bin"), "rb").read()
        header = struct.unpack("<256i", raw[:1024])
        assert header[0] == 20240520 and header[1] == 1 and header[3] == tokens + 1, header[:4]
        toks = struct.unpack(f"<{header[2]}H", raw[1024:])
        records = meta[f"{split}_records"]
        assert len(toks) == len(records) * (tokens + 1)
        for r, ident in enumerate(records):
            rec = list(toks[r * (tokens + 1):(r + 1) * (tokens + 1)])
            assert rec[0] == 50256 and len(ids[ident]) == tokens and rec[1:] == ids[ident], f"{ident}: tokens differ"
    assert meta["openai"]["model"] and "api_key" not in json.dumps(meta)

def cmd_cache_order_shuffled(path):
    first_turns = [json.loads(l)["index"] for l in open(path) if json.loads(l)["turn"] == 0]
    assert first_turns != sorted(first_turns), f"answers arrived in request order: {first_turns}"

def cmd_cache_valid(path, n):
    data = open(path, "rb").read()
    assert data.endswith(b"\n"), "the cache does not end with a newline"
    assert len([json.loads(l) for l in data.decode().splitlines()]) == int(n)

def cmd_cache_finish(path, index, turn):
    for l in open(path):
        e = json.loads(l)
        if e["index"] == int(index) and e["turn"] == int(turn):
            print(e["finish_reason"])

globals()["cmd_" + sys.argv[1]](*sys.argv[2:])
EOF
export MEMLENS_TESTS_DIR="$ROOT/tests"
oracle() { "$PY" "$TMP/oracle.py" "$@"; }
same_data() {   # same_data DIR1 DIR2: the dataset files are byte-identical
  local f; for f in "${DATA_FILES[@]}"; do cmp "$1/$f" "$2/$f" || return 1; done
}
lines() { grep -c '' "$1"; }

# Key and base URL lookup (.env variants), genre phrases.
mkdir -p "$TMP/unit"
check "unit tests: .env parsing, base URL, genre phrases" build/tests/test_openai_client "$TMP/unit"
check "unit tests under ASan+UBSan" build/tests/asan/test_openai_client "$TMP/unit"

# ---------------------------------------------------------------------------------------------
# Normal run (the baseline every fault run is compared with), with --verbose.
start_mock base
check "normal run: exit 0, every file written" gd base --verbose
B=$(oracle count "$MOCK_LOG")
check "normal run: requests well-formed JSON with the model, key only in Authorization" \
  oracle requests_ok "$MOCK_LOG" "$MODEL" "$KEY"
check "normal run: each (example, turn) asked once, continuations used ($B requests for $N examples)" \
  bash -c "'$PY' '$TMP/oracle.py' each_once '$MOCK_LOG' && [ $B -gt $N ]"
check "normal run: dataset complete, texts are the model's, exactly $TOKENS tiktoken tokens each" \
  oracle dataset "$TMP/out/base" $N $TOKENS $SEED
check "normal run: one cache line per answer, at most --concurrency 3 in flight" \
  bash -c "[ \$(grep -c '' '$TMP/out/base/openai_cache.jsonl') -eq $B ] && [ \$('$PY' '$TMP/oracle.py' max_in_flight '$MOCK_LOG') -le 3 ]"
check "normal run: metadata records model, base URL, temperature and prompts" \
  "$PY" -c "import json,sys; o=json.load(open('$TMP/out/base/metadata.json'))['openai']; \
assert o['model']=='$MODEL' and o['api_base']=='$BASE' and o['temperature']==1 and 'self-contained' in o['prompt_template'] \
and o['continuation_prompt'] and o['requests']==$B"

# ---------------------------------------------------------------------------------------------
# Faults: each run must end with the same dataset as the baseline.
start_mock r429 '{"1001:0": ["429:1"]}'
check "429 + Retry-After: completes" gd r429
check "429 + Retry-After: one retry, after at least the 1 s asked for" \
  bash -c "[ \$('$PY' '$TMP/oracle.py' count '$MOCK_LOG' 1001:0) -eq 2 ] && [ \$('$PY' '$TMP/oracle.py' count '$MOCK_LOG') -eq $((B + 1)) ] \
    && '$PY' -c 'import sys; sys.exit(float(sys.argv[1]) < 1.0)' \$('$PY' '$TMP/oracle.py' gap '$MOCK_LOG' 1001:0)"
check "429 + Retry-After: dataset identical to the normal run" same_data "$TMP/out/base" "$TMP/out/r429"

start_mock r500 '{"1002:0": ["500", "drop"], "1004:1": ["500"]}'
check "500 / dropped connection, then success: completes" gd r500
check "500 / dropped connection, then success: 3 + 2 requests for the faulty turns" \
  bash -c "[ \$('$PY' '$TMP/oracle.py' count '$MOCK_LOG' 1002:0) -eq 3 ] && [ \$('$PY' '$TMP/oracle.py' count '$MOCK_LOG' 1004:1) -eq 2 ] \
    && [ \$('$PY' '$TMP/oracle.py' count '$MOCK_LOG') -eq $((B + 3)) ]"
check "500 then success: dataset identical to the normal run" same_data "$TMP/out/base" "$TMP/out/r500"

start_mock persist '{"1003:1": ["500", "500", "500", "500", "500", "500", "500", "500"]}'
expect_error "persistent 500: one clear error line after max_retries + 1 requests" \
  'error: openai: example 3 turn 1: gave up after 3 requests \(--max_retries 2\); last error: HTTP 500: .*rerun the same command to resume' \
  env OPENAI_API_KEY="$KEY" "$GD" "${COMMON[@]}" --api_base "$BASE" --output_dir "$TMP/out/persist" --max_retries 2
check "persistent 500: exactly 3 requests for the failing turn, no dataset written, other answers cached" \
  bash -c "[ \$('$PY' '$TMP/oracle.py' count '$MOCK_LOG' 1003:1) -eq 3 ] && [ ! -e '$TMP/out/persist/synthetic_dataset.json' ] \
    && [ ! -e '$TMP/out/persist/metadata.json' ] && [ \$(grep -c '' '$TMP/out/persist/openai_cache.jsonl') -eq $((B - 1)) ]"
start_mock recovered
check "persistent 500: rerun after the server recovers completes" gd persist --max_retries 2
check "persistent 500: the rerun asks only for the missing answer" \
  bash -c "[ \$('$PY' '$TMP/oracle.py' count '$MOCK_LOG') -eq 1 ] && [ \$('$PY' '$TMP/oracle.py' count '$MOCK_LOG' 1003:1) -eq 1 ]"
check "persistent 500: resumed dataset identical to the normal run" same_data "$TMP/out/base" "$TMP/out/persist"

start_mock malformed '{"1004:0": ["malformed"]}'
check "malformed JSON answer: retried and completes" gd malformed
check "malformed JSON answer: one extra request, dataset identical" \
  bash -c "[ \$('$PY' '$TMP/oracle.py' count '$MOCK_LOG' 1004:0) -eq 2 ] && [ \$('$PY' '$TMP/oracle.py' count '$MOCK_LOG') -eq $((B + 1)) ] \
    && for f in ${DATA_FILES[*]}; do cmp '$TMP/out/base/'\$f '$TMP/out/malformed/'\$f || exit 1; done"

start_mock empty '{"1005:0": ["empty", "refusal"], "1000:1": ["empty"]}'
check "empty and refused answers: retried and complete" gd empty
check "empty and refused answers: never cached, retried, dataset identical" \
  bash -c "[ \$('$PY' '$TMP/oracle.py' count '$MOCK_LOG' 1005:0) -eq 3 ] && [ \$('$PY' '$TMP/oracle.py' count '$MOCK_LOG' 1000:1) -eq 2 ] \
    && ! grep -q \"I'm sorry\" '$TMP/out/empty/openai_cache.jsonl' && ! grep -q '\"content\":\"\"' '$TMP/out/empty/openai_cache.jsonl' \
    && for f in ${DATA_FILES[*]}; do cmp '$TMP/out/base/'\$f '$TMP/out/empty/'\$f || exit 1; done"

start_mock slow '{"1001:1": ["slow:2.5"]}'
check "answer slower than --timeout: retried and completes" gd slow --timeout 1
check "answer slower than --timeout: 2 requests for that turn, dataset identical" \
  bash -c "[ \$('$PY' '$TMP/oracle.py' count '$MOCK_LOG' 1001:1) -eq 2 ] \
    && for f in ${DATA_FILES[*]}; do cmp '$TMP/out/base/'\$f '$TMP/out/slow/'\$f || exit 1; done"

start_mock order '{"1000:0": ["delay:0.6"], "1001:0": ["delay:0.3"], "1002:1": ["delay:0.4"]}'
check "out-of-order answers with --concurrency 6: completes" gd order --concurrency 6
check "out-of-order answers: several in flight, answers cached in arrival order, dataset identical" \
  bash -c "[ \$('$PY' '$TMP/oracle.py' max_in_flight '$MOCK_LOG') -ge 3 ] && '$PY' '$TMP/oracle.py' cache_order_shuffled '$TMP/out/order/openai_cache.jsonl' \
    && for f in ${DATA_FILES[*]}; do cmp '$TMP/out/base/'\$f '$TMP/out/order/'\$f || exit 1; done"

start_mock length '{"1000:0": ["length"]}'
check "finish_reason length: completes" gd length
check "finish_reason length: the cut answer is kept and continued in the same paragraph" \
  bash -c "[ \"\$('$PY' '$TMP/oracle.py' cache_finish '$TMP/out/length/openai_cache.jsonl' 0 0)\" = length ] \
    && '$PY' '$TMP/oracle.py' each_once '$MOCK_LOG' && '$PY' '$TMP/oracle.py' dataset '$TMP/out/length' $N $TOKENS $SEED 1000"

start_mock copy '{"1003:0": ["copy:1001"]}'
check "duplicated text (50-token span of another example): completes" gd copy
check "duplicated text: that example is asked anew as version 2, dataset identical" \
  bash -c "'$PY' '$TMP/oracle.py' prompts '$MOCK_LOG' 1003:0 'news article' 'Version 2' && [ \$('$PY' '$TMP/oracle.py' count '$MOCK_LOG') -eq $((B + 2)) ] \
    && '$PY' '$TMP/oracle.py' meta '$TMP/out/copy' 'meta[\"openai\"][\"asked_anew_for_shared_spans\"] == 1' \
    && for f in ${DATA_FILES[*]}; do cmp '$TMP/out/base/'\$f '$TMP/out/copy/'\$f || exit 1; done"

# Short texts (--tokens_per_example 64: bodies under 50 tokens): an identical copy is still caught.
start_mock short '{"1001:0": ["copy:1000"]}'
check "duplicated text under 50 tokens: completes" gd short --tokens_per_example 64
check "duplicated text under 50 tokens: that example is asked anew as version 2" \
  bash -c "'$PY' '$TMP/oracle.py' prompts '$MOCK_LOG' 1001:0 - 'Version 2' \
    && '$PY' '$TMP/oracle.py' meta '$TMP/out/short' 'meta[\"openai\"][\"asked_anew_for_shared_spans\"] == 1'"

start_mock ids '{"1000:0": ["ids"]}'
check "answer holding an identifier string: retried and completes" gd ids
check "answer holding an identifier string: one extra request, dataset identical" \
  bash -c "[ \$('$PY' '$TMP/oracle.py' count '$MOCK_LOG' 1000:0) -eq 2 ] && for f in ${DATA_FILES[*]}; do cmp '$TMP/out/base/'\$f '$TMP/out/ids/'\$f || exit 1; done"

start_mock huge '{"1000:0": ["huge"]}'
check "answer over 16 MiB: cut off, retried and completes" gd huge
check "answer over 16 MiB: one extra request, dataset identical" \
  bash -c "[ \$('$PY' '$TMP/oracle.py' count '$MOCK_LOG' 1000:0) -eq 2 ] && for f in ${DATA_FILES[*]}; do cmp '$TMP/out/base/'\$f '$TMP/out/huge/'\$f || exit 1; done"
start_mock huge0 '{"1000:0": ["huge"]}'
expect_error "answer over 16 MiB with --max_retries 0: one clear line" 'the answer is larger than 16 MiB; check --api_base' \
  env OPENAI_API_KEY="$KEY" "$GD" "${COMMON[@]}" --api_base "$BASE" --output_dir "$TMP/out/huge0" --max_retries 0 --num_examples 1

start_mock redirect '{"1000:0": ["redirect"]}'
expect_error "HTTP 301: names the new location as the --api_base to give" \
  'HTTP 301: the server redirects to http://127\.0\.0\.1:[0-9]+/elsewhere/v1; give that URL as --api_base' \
  env OPENAI_API_KEY="$KEY" "$GD" "${COMMON[@]}" --api_base "$BASE" --output_dir "$TMP/out/redirect" --num_examples 1

start_mock inject
expect_error "API key with a line break: refused, naming OPENAI_API_KEY, before any request" \
  'error: OPENAI_API_KEY .*control character' \
  env OPENAI_API_KEY=$'sk-memlens-inject\r\nX-Injected: yes' "$GD" "${COMMON[@]}" --api_base "$BASE" --output_dir "$TMP/out/inject"
check "API key with a line break: not echoed, no request sent" \
  bash -c "! grep -q 'sk-memlens-inject' '$TMP/.err.err' && [ \$(grep -c '' '$MOCK_LOG') -eq 0 ]"

mkdir -p "$TMP/out/fifo" && mkfifo "$TMP/out/fifo/openai_cache.jsonl"
expect_error "FIFO named openai_cache.jsonl: refused at once, not read" 'openai_cache.jsonl: it is a FIFO' \
  timeout 10 env OPENAI_API_KEY="$KEY" "$GD" "${COMMON[@]}" --api_base "$BASE" --output_dir "$TMP/out/fifo"
stop_mock

# Connection refused: a port nobody listens on.
DEAD_PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
expect_error "connection refused: retried, then one clear error line" \
  "error: openai: example 0 turn 0: gave up after 3 requests \(--max_retries 2\); last error: .*[Cc]ould(n't| not) connect" \
  env OPENAI_API_KEY="$KEY" "$GD" "${COMMON[@]}" --api_base "http://127.0.0.1:$DEAD_PORT/v1" --output_dir "$TMP/out/refused" --max_retries 2
check "connection refused: no output directory is left behind" bash -c "[ ! -e '$TMP/out/refused' ]"

start_mock auth '{"1000:0": ["401"]}'
expect_error "HTTP 401: not retried, the echoed key is redacted" 'error: openai: example 0 turn 0: HTTP 401: Incorrect API key provided: \[redacted\].*check OPENAI_API_KEY' \
  env OPENAI_API_KEY="$KEY" "$GD" "${COMMON[@]}" --api_base "$BASE" --output_dir "$TMP/out/auth"
# (.err.* hold that run's output until the next expect_error; grep must find nothing: exit 1, not 2)
check "HTTP 401: the key is in neither that run's stderr nor its stdout" \
  bash -c "grep -qF '$KEY' '$TMP/.err.err' '$TMP/.err.out'; [ \$? -eq 1 ]"
check "HTTP 401: exactly one request for that turn" bash -c "[ \$('$PY' '$TMP/oracle.py' count '$MOCK_LOG' 1000:0) -eq 1 ]"

# ---------------------------------------------------------------------------------------------
# Resume: Ctrl-C mid-run, torn last cache line, corrupt line, changed model.
start_mock ctrlc '{"1005:1": ["delay:5"]}'
# SIGINT at its default in the child, as at a terminal: a background job of a script starts with
# it ignored, and so does everything under a suite started with it ignored (nohup, `cmd &`), which
# generate_dataset then keeps ignoring, as it should.
OPENAI_API_KEY="$KEY" env --default-signal=INT "$GD" "${COMMON[@]}" --api_base "$BASE" --output_dir "$TMP/out/ctrlc" \
  > "$TMP/ctrlc_int.out" 2>&1 &   # not ctrlc.out: gd ctrlc below writes that
GD_PID=$!
for _ in $(seq 100); do
  [ -f "$TMP/out/ctrlc/openai_cache.jsonl" ] && [ "$(lines "$TMP/out/ctrlc/openai_cache.jsonl")" -ge $((B - 1)) ] && break
  sleep 0.05
done
kill -INT $GD_PID; wait $GD_PID; CTRLC_RC=$?
check "Ctrl-C: the run stops without writing the dataset, answers so far cached" \
  bash -c "[ $CTRLC_RC -ne 0 ] && [ ! -e '$TMP/out/ctrlc/synthetic_dataset.json' ] && [ \$(grep -c '' '$TMP/out/ctrlc/openai_cache.jsonl') -eq $((B - 1)) ]"
start_mock ctrlc2
check "Ctrl-C: the rerun completes" gd ctrlc
check "Ctrl-C: the rerun asked only for the one missing answer, dataset identical" \
  bash -c "[ \$('$PY' '$TMP/oracle.py' count '$MOCK_LOG') -eq 1 ] && for f in ${DATA_FILES[*]}; do cmp '$TMP/out/base/'\$f '$TMP/out/ctrlc/'\$f || exit 1; done"

mkdir -p "$TMP/out/torn"
cp "$TMP/out/base/openai_cache.jsonl" "$TMP/out/torn/"
printf '{"index": 2, "turn": 1, "request_sha256": "ab' >> "$TMP/out/torn/openai_cache.jsonl"
start_mock torn
check "torn last cache line: ignored, everything else from the cache (0 requests)" \
  bash -c "OPENAI_API_KEY='$KEY' '$GD' ${COMMON[*]} --api_base '$BASE' --output_dir '$TMP/out/torn' >/dev/null 2>'$TMP/torn_run.err' \
    && [ \$(grep -c '' '$MOCK_LOG') -eq 0 ] && '$PY' '$TMP/oracle.py' cache_valid '$TMP/out/torn/openai_cache.jsonl' $B \
    && for f in ${DATA_FILES[*]}; do cmp '$TMP/out/base/'\$f '$TMP/out/torn/'\$f || exit 1; done"

mkdir -p "$TMP/out/garbage"
cp "$TMP/out/base/openai_cache.jsonl" "$TMP/out/garbage/"
head -c 3000 /dev/urandom | tr -d '\n' >> "$TMP/out/garbage/openai_cache.jsonl"
expect_error "garbage after the last newline: named with its line number, not truncated" "openai_cache.jsonl:$((B + 1)): not a cache line" \
  env OPENAI_API_KEY="$KEY" "$GD" "${COMMON[@]}" --api_base "$BASE" --output_dir "$TMP/out/garbage"
check "garbage after the last newline: the file is left as it was" \
  bash -c "[ \$(stat -c %s '$TMP/out/garbage/openai_cache.jsonl') -gt \$(stat -c %s '$TMP/out/base/openai_cache.jsonl') ]"

mkdir -p "$TMP/out/nonl"
head -c -1 "$TMP/out/base/openai_cache.jsonl" > "$TMP/out/nonl/openai_cache.jsonl"
start_mock nonl
check "complete last cache line without its newline: kept (0 requests), newline added" \
  bash -c "OPENAI_API_KEY='$KEY' '$GD' ${COMMON[*]} --api_base '$BASE' --output_dir '$TMP/out/nonl' >/dev/null 2>'$TMP/nonl_run.err' \
    && [ \$(grep -c '' '$MOCK_LOG') -eq 0 ] && cmp '$TMP/out/base/openai_cache.jsonl' '$TMP/out/nonl/openai_cache.jsonl' \
    && for f in ${DATA_FILES[*]}; do cmp '$TMP/out/base/'\$f '$TMP/out/nonl/'\$f || exit 1; done"

mkdir -p "$TMP/out/corrupt"
{ head -n 2 "$TMP/out/base/openai_cache.jsonl"; echo 'not json'; tail -n +3 "$TMP/out/base/openai_cache.jsonl"; } > "$TMP/out/corrupt/openai_cache.jsonl"
expect_error "corrupt cache line in the middle: named with its line number" 'openai_cache.jsonl:3: not a cache line' \
  env OPENAI_API_KEY="$KEY" "$GD" "${COMMON[@]}" --api_base "$BASE" --output_dir "$TMP/out/corrupt"

mkdir -p "$TMP/out/model2"
cp "$TMP/out/base/openai_cache.jsonl" "$TMP/out/model2/"
start_mock model2
check "changed --model: no cached answer of the other model is reused" \
  bash -c "OPENAI_API_KEY='$KEY' '$GD' ${COMMON[*]} --model mock-other --api_base '$BASE' --output_dir '$TMP/out/model2' >/dev/null 2>'$TMP/model2_run.err' \
    && [ \$(grep -c '' '$MOCK_LOG') -eq $B ] && '$PY' '$TMP/oracle.py' requests_ok '$MOCK_LOG' mock-other '$KEY' \
    && [ \$(grep -c '' '$TMP/out/model2/openai_cache.jsonl') -eq $((2 * B)) ]"

# ---------------------------------------------------------------------------------------------
# The key: from .env (with the base URL), none at all, and never in any output.
mkdir -p "$TMP/envcwd" "$TMP/nokey"
start_mock dotenv
cat > "$TMP/envcwd/.env" <<EOF
# settings for the mock
export UNRELATED=1
OPENAI_API_KEY = "${KEY}-dotenv"   # quoted, with a comment
OPENAI_BASE_URL='$BASE'
EOF
check "key and base URL from ./.env" \
  bash -c "cd '$TMP/envcwd' && env -u OPENAI_API_KEY -u OPENAI_BASE_URL '$GD' ${COMMON[*]} --output_dir '$TMP/out/dotenv' >/dev/null 2>'$TMP/dotenv_run.err' \
    && '$PY' '$TMP/oracle.py' requests_ok '$MOCK_LOG' '$MODEL' '${KEY}-dotenv'"
start_mock nokey
check "no key anywhere: requests carry no Authorization header" \
  bash -c "cd '$TMP/nokey' && env -u OPENAI_API_KEY '$GD' ${COMMON[*]} --api_base '$BASE' --output_dir '$TMP/out/nokey' >/dev/null 2>'$TMP/nokey_run.err' \
    && '$PY' '$TMP/oracle.py' requests_ok '$MOCK_LOG' '$MODEL' -"
stop_mock
# (each run's stderr is in its own $TMP/*.err; grep must exit 1 = searched all, found nothing: 2 is an error)
check "the key appears in no output file, cache, metadata, stdout, stderr or --verbose trace" \
  bash -c "grep -rlF '$KEY' '$TMP/out' '$TMP'/*.out '$TMP'/*.err '$TMP/.err.out' '$TMP/.err.err'; [ \$? -eq 1 ]"

# ---------------------------------------------------------------------------------------------
# Flags.
expect_error "--source openai without --model" '^generate_dataset: error: --source openai needs --model NAME' "$GD" --source openai --output_dir "$TMP/out/f1"
expect_error "--model without --source openai" '--model is only used with --source openai' "$GD" --model x --output_dir "$TMP/out/f2"
expect_error "--api_base that is not http(s)" '--api_base: .*http' "$GD" --source openai --model x --api_base ftp://host/v1 --output_dir "$TMP/out/f3"
expect_error "--api_base with port 99999: refused at flag time" '^generate_dataset: error: --api_base: .*not a valid URL' \
  "$GD" --source openai --model x --api_base http://127.0.0.1:99999/v1 --output_dir "$TMP/out/f5"
expect_error "--api_base without a host" '^generate_dataset: error: --api_base: .*has no host' \
  "$GD" --source openai --model x --api_base http:///v1 --output_dir "$TMP/out/f5"
expect_error "--api_base with a ?query" '^generate_dataset: error: --api_base: .*query' \
  "$GD" --source openai --model x --api_base 'http://h/v1?x=1' --output_dir "$TMP/out/f5"
expect_error "--api_base with a space" '^generate_dataset: error: --api_base: .*space' \
  "$GD" --source openai --model x --api_base 'http://h /v1' --output_dir "$TMP/out/f5"
check "malformed --api_base: no output directory created" bash -c "[ ! -e '$TMP/out/f5' ]"
expect_error "--concurrency 0" '^generate_dataset: error: --concurrency: 0 is out of range \(use an integer from 1 to 1024\)' "$GD" --source openai --model x --concurrency 0 --output_dir "$TMP/out/f4"
