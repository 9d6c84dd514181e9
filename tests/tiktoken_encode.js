// Oracle: tiktoken's official "gpt2" encoding (npm tiktoken@1.0.22, the WASM build of OpenAI's
// Rust tokenizer), with special tokens treated as ordinary text.
//   node tests/tiktoken_encode.js < FILE             ids of stdin's text, space-separated, one line
//   node tests/tiktoken_encode.js FILE...            one line per file: FILE<TAB>ids
//   node tests/tiktoken_encode.js --bench FILE       encode throughput on FILE in MB/s (one thread)
// Bytes are read as UTF-8 with invalid sequences replaced by U+FFFD (WHATWG rule, same as Python's
// bytes.decode('utf-8', 'replace')), which is what tiktoken sees of them.
// Needs NODE_PATH to contain build/npm/node_modules (tests/lib.sh sets it; `make test-deps` installs it).
'use strict';
const fs = require('fs');
const { get_encoding } = require('tiktoken');

const enc = get_encoding('gpt2');
// allowed_special = none, disallowed_special = none: "<|endoftext|>" in text is plain text.
const encode = (text) => enc.encode(text, [], []);
const readText = (path) => fs.readFileSync(path).toString('utf8');

const args = process.argv.slice(2);
if (args[0] === '--bench') {
  const text = readText(args[1]);
  const bytes = Buffer.byteLength(text, 'utf8');
  encode(text.slice(0, 10000));   // warm up
  let best = Infinity;
  for (let rep = 0; rep < 3; rep++) {
    const t0 = process.hrtime.bigint();
    encode(text);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  console.log((bytes / 1e6 / best).toFixed(2));
} else if (args.length === 0) {
  console.log(Array.from(encode(fs.readFileSync(0).toString('utf8'))).join(' '));
} else {
  const lines = args.map((path) => path + '\t' + Array.from(encode(readText(path))).join(' '));
  process.stdout.write(lines.join('\n') + '\n');
}
enc.free();
