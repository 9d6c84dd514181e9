#!/usr/bin/env bash
# Tokenizer encode throughput on English text, one thread: ours (./tokenize --count, whole process
# minus the time of the same process on empty input, so startup and the vocabulary load are not
# counted) beside tiktoken's WASM build (node, encode call only) on the same text, best of 3 each.
# The text: Debian's license texts and package copyright files (English prose), about 10 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
export NODE_PATH="$PWD/build/npm/node_modules"
PY=/usr/bin/python3
[ -x ./tokenize ] && [ -f gpt2_tokenizer.bin ] || { echo "bench_tokenizer: run 'make tokenize vocab' first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# English text, valid UTF-8, about 10 MB.
{ cat /usr/share/common-licenses/*; find /usr/share/doc -name copyright | sort | xargs cat; } |
  $PY -c 'import sys; d = sys.stdin.buffer.read().decode("utf-8", "ignore").encode(); sys.stdout.buffer.write(d[:10_000_000])' \
  > "$tmp/english.txt"
bytes=$(wc -c < "$tmp/english.txt")
: > "$tmp/empty.txt"

best_seconds() {   # best wall time of 3 runs of the command, in seconds
  local best=999999 t0 t1 s
  for _ in 1 2 3; do
    t0=$(date +%s.%N); "$@" > /dev/null; t1=$(date +%s.%N)
    s=$(echo "$t1 - $t0" | bc -l)
    if (( $(echo "$s < $best" | bc -l) )); then best=$s; fi
  done
  echo "$best"
}
full=$(best_seconds ./tokenize --count --input "$tmp/english.txt")
empty=$(best_seconds ./tokenize --count --input "$tmp/empty.txt")
ours=$(echo "scale=2; $bytes / 1000000 / ($full - $empty)" | bc -l)
tiktoken=$(node tests/tiktoken_encode.js --bench "$tmp/english.txt")
ratio=$(echo "scale=2; $ours / $tiktoken" | bc -l)
echo "tokenizer encode, English text ($(echo "scale=1; $bytes / 1000000" | bc) MB, 1 thread):" \
     "memlens $ours MB/s, tiktoken-wasm $tiktoken MB/s, ratio ${ratio}x (goal >= 2x)"
