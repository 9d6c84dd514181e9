#!/usr/bin/python3
"""Build the tokenizer test corpus: a directory of small documents, one file each, that the
tests encode with our tokenizer and with tiktoken and compare id by id.

The corpus is assembled at test time from text already on a Debian machine (licenses, C headers,
package copyright files) plus generated strings aimed at the tokenizer's edge cases: numbers,
dates, money, contractions in every case, whitespace runs, Unicode spaces, many scripts, emoji
sequences, combining marks, very long pieces, every code point of the BMP and plane 1, and
random mixtures of all of these. Deterministic for a given machine and --seed.

  make_tokenizer_corpus.py --out DIR [--seed N] [--sweep]     valid UTF-8 documents
  make_tokenizer_corpus.py --out DIR --invalid [--seed N]     documents with invalid UTF-8
"""
import argparse
import glob
import os
import random
import sys

MAX_SOURCE_BYTES = 30000    # per document taken from a file on the machine


def write_doc(out_dir, name, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(out_dir, name + ".txt"), "wb") as f:
        f.write(data)
    return len(data)


def files_on_machine(pattern, budget):
    """Sorted, de-duplicated (symlinks resolved) readable text files up to budget bytes."""
    seen, picked, total = set(), [], 0
    for path in sorted(glob.glob(pattern, recursive=True)):
        real = os.path.realpath(path)
        if real in seen or not os.path.isfile(real):
            continue
        seen.add(real)
        with open(real, "rb") as f:
            data = f.read(MAX_SOURCE_BYTES)
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            continue   # the valid corpus is valid UTF-8; invalid bytes have their own documents
        if not data:
            continue
        picked.append((path, data))
        total += len(data)
        if total >= budget:
            break
    return picked


def safe_name(path):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in path.strip("/"))[-60:]


# Hand-written sentences in many scripts (short, so they mix well).
SCRIPTS = {
    "chinese": "今天天气很好，我们去公园散步吧。机器学习模型会记住训练数据吗？数字１２３和标点！",
    "japanese": "東京の空は青い。カタカナとひらがなを混ぜた文章です。ｶﾀｶﾅ半角も。",
    "korean": "안녕하세요. 오늘은 토크나이저를 시험합니다. 한글 자모: ㄱㄴㄷ.",
    "arabic": "مرحبا بالعالم. هذا نص تجريبي لاختبار المقسم، والأرقام ٠١٢٣٤٥٦٧٨٩.",
    "hebrew": "שלום עולם, זהו מבחן עם ניקוד: שָׁלוֹם.",
    "devanagari": "नमस्ते दुनिया। यह एक परीक्षण वाक्य है। अंक: ०१२३४५६७८९",
    "cyrillic": "Привет, мир! Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "greek": "Γειά σου Κόσμε! Η γλώσσα είναι όμορφη· ΑΒΓΔ αβγδ ΐΰ.",
    "thai": "สวัสดีชาวโลก ภาษาไทยไม่มีช่องว่างระหว่างคำ ๑๒๓",
    "vietnamese": "Tiếng Việt có nhiều dấu thanh: ả, ạ, ẫ, ự, Ở ĐÂY.",
    "latin": "Café naïve façade déjà vu — Straße, Ærø, Łódź, İstanbul, ǅemal, ﬁne ﬂow.",
    "math": "𝐀𝐁𝐂 𝟏𝟐𝟑 x² + y³ = z⁴, ½ ¾ Ⅻ ⅷ ∑∫√∞ ≤≥≠ α→β",
    "fullwidth": "ＡＢＣ　ａｂｃ　１２３！？（）",
    "emoji": "👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 🧑🏿‍💻 ❤️‍🔥 🇩🇪🇯🇵 👋🏻👋🏼👋🏾 ☺️ ✌🏿 🤷‍♀️",
    "combining": "e\u0301 a\u0308 o\u0302\u0323 Z\u0351\u0356\u0320a\u036bl\u0334g\u0362o n\u0303 \u0301alone",
}

UNICODE_SPACES = ["\u00a0", "\u1680", "\u2000", "\u2001", "\u2002", "\u2003", "\u2004", "\u2005",
                  "\u2006", "\u2007", "\u2008", "\u2009", "\u200a", "\u2028", "\u2029", "\u202f",
                  "\u205f", "\u3000", "\u0085", "\u180e", "\u200b", "\u200c", "\u200d", "\u2060",
                  "\ufeff", "\x0b", "\x0c", "\r", "\x1c", "\x1d", "\x1e", "\x1f"]
ASCII_SPACES = [" ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", " \n", "\t\t", "    ", "\n \n"]
CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Re", "'rE", "'VE",
                "'M", "'LL", "'Ll", "'lL", "'D", "’s", "’ll", "''s", "'", "'x"]
WORDS = ["DON'T", "don't", "Don't", "we'LL", "We'll", "WE'LL", "you're", "YOU'RE", "I'm", "I'M",
         "they've", "THEY'VE", "she'd", "SHE'D", "it's", "IT'S", "can't", "o'clock", "rock'n'roll",
         "l'homme", "'tis", "y'all", "ma'am", "'ello", "x's", "2's", "'90s", "the", "The", "THE",
         "tokenizer", "memorization", "GPT-2", "llm.c", "<|endoftext|>", "<|endoftext", "endoftext|>",
         "<|im_start|>", "https://example.com/a?b=c&d=e#f", "user@example.org", "C:\\Windows\\System32"]
PUNCT = list("!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~") + ["...", "--", "—", "–", "…", "«", "»", "“", "”",
                                                       "‘", "’", "¿", "¡", "§", "©", "®", "™", "°", "•", "€", "£", "¥"]


def numbers_doc(rng):
    parts = []
    for _ in range(3000):
        kind = rng.randrange(10)
        if kind == 0:
            parts.append(str(rng.randrange(10 ** rng.randrange(1, 20))))
        elif kind == 1:
            parts.append(f"{rng.randrange(1, 29):02d}/{rng.randrange(1, 13):02d}/{rng.randrange(1900, 2100)}")
        elif kind == 2:
            parts.append(f"{rng.randrange(1900, 2100)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}T"
                         f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}Z")
        elif kind == 3:
            parts.append(rng.choice(["$", "€", "£", "¥", "USD ", "-$"]) + f"{rng.randrange(10 ** 7):,}.{rng.randrange(100):02d}")
        elif kind == 4:
            parts.append(f"{rng.uniform(-1e6, 1e6):.{rng.randrange(8)}f}")
        elif kind == 5:
            parts.append(f"{rng.random():.3e}")
        elif kind == 6:
            parts.append(f"{rng.randrange(100)}%")
        elif kind == 7:
            parts.append(f"+1 ({rng.randrange(100, 999)}) {rng.randrange(100, 999)}-{rng.randrange(1000, 9999)}")
        elif kind == 8:
            parts.append(f"v{rng.randrange(10)}.{rng.randrange(30)}.{rng.randrange(100)}")
        else:
            parts.append(hex(rng.randrange(1 << 32)))
        parts.append(rng.choice([" ", ", ", "\n", "; ", " - ", "\t"]))
    return "".join(parts)


def contractions_doc(rng):
    parts = []
    for _ in range(4000):
        word = rng.choice(WORDS) if rng.random() < 0.5 else rng.choice(["a", "X", "we", "WE", "1", " ", "", "é"]) + rng.choice(CONTRACTIONS)
        parts.append(word)
        parts.append(rng.choice([" ", " ", "\n", ". ", "'", ""]))
    return "".join(parts)


def whitespace_doc(rng, spaces):
    parts = []
    for _ in range(4000):
        parts.append(rng.choice(spaces) * rng.randrange(1, 4))
        parts.append(rng.choice(["word", "x", "1", "!", "", " ", "é", "中", "'s", "\n"]))
    parts.append(rng.choice(spaces) * 5)   # trailing whitespace at the very end
    return "".join(parts)


def fragments_doc(rng, pieces, count):
    return "".join(rng.choice(pieces) for _ in range(count))


def random_script_words(rng, ranges, count):
    words = []
    for _ in range(count):
        lo, hi = rng.choice(ranges)
        words.append("".join(chr(rng.randrange(lo, hi + 1)) for _ in range(rng.randrange(1, 9))))
    return " ".join(words)


def sweep_docs(out_dir):
    """Every code point (no surrogates) of planes 0 and 1, every 7th of planes 2, 3 and 14, each in
    contexts that show how the regex classifies it: next to letters, digits, punctuation, spaces."""
    total = 0
    cps = [cp for cp in range(0x20000) if not 0xD800 <= cp <= 0xDFFF]
    cps += list(range(0x20000, 0x40000, 7)) + list(range(0xE0000, 0xE1000, 7))
    for start in range(0, len(cps), 8192):
        block = cps[start:start + 8192]
        text = "".join(f"a{chr(c)}b {chr(c)}1{chr(c)}! {chr(c)}\n" for c in block)
        total += write_doc(out_dir, f"sweep_{block[0]:06x}", text)
    return total


def invalid_docs(out_dir, rng):
    """Byte strings with invalid UTF-8: stray continuation bytes, overlongs, surrogates, code points
    above U+10FFFF, truncated sequences (also at the very end), 0xFE/0xFF, NUL, mixed with text."""
    bad = [b"\x80", b"\xbf", b"\xc0\xaf", b"\xc1\xbf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xed\xbf\xbf",
           b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xf8\x88\x80\x80\x80", b"\xfe", b"\xff", b"\xc3",
           b"\xe2\x82", b"\xf0\x9f\x98", b"\xf0\x9f", b"\xe2", b"\xc3\x28", b"\xe2\x28\xa1", b"\xf0\x28\x8c\xbc",
           b"\x00", b"\xc2\x80", b"\xef\xbf\xbd", b"\xf0\x9f\x98\x80"]
    good = [s.encode() for s in ["hello", " world", "'s", "123", " ", "\n", "é", "中文", "👍🏽", "!!", "DON'T"]]
    total = 0
    for i in range(40):
        parts = [rng.choice(bad if rng.random() < 0.4 else good) for _ in range(rng.randrange(5, 400))]
        total += write_doc(out_dir, f"invalid_{i:02d}", b"".join(parts))
    total += write_doc(out_dir, "invalid_only_bad", b"".join(bad))
    total += write_doc(out_dir, "invalid_truncated_end", b"abc \xf0\x9f\x98")
    total += write_doc(out_dir, "invalid_random_bytes", bytes(rng.randrange(256) for _ in range(20000)))
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="directory to fill with documents")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--sweep", action="store_true", help="also write the code point sweep (about 3 MB)")
    ap.add_argument("--invalid", action="store_true", help="write only the invalid UTF-8 documents")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = random.Random(args.seed)
    if args.invalid:
        total = invalid_docs(args.out, rng)
        print(f"{len(os.listdir(args.out))} documents, {total} bytes")
        return

    total = 0
    for path, data in files_on_machine("/usr/share/common-licenses/*", 300_000):
        total += write_doc(args.out, "license_" + safe_name(path), data)
    for path, data in files_on_machine("/usr/include/*.h", 250_000):
        total += write_doc(args.out, "code_" + safe_name(path), data)
    for path, data in files_on_machine("/usr/share/doc/*/copyright", 250_000):
        total += write_doc(args.out, "copyright_" + safe_name(path), data)

    total += write_doc(args.out, "gen_numbers", numbers_doc(rng))
    total += write_doc(args.out, "gen_contractions", contractions_doc(rng))
    total += write_doc(args.out, "gen_ascii_whitespace", whitespace_doc(rng, ASCII_SPACES))
    total += write_doc(args.out, "gen_unicode_whitespace", whitespace_doc(rng, UNICODE_SPACES + ASCII_SPACES))
    for name, text in SCRIPTS.items():
        pieces = text.split(" ") + [" ", "\n", "  "]
        total += write_doc(args.out, "gen_script_" + name, fragments_doc(rng, pieces, 1500))
    total += write_doc(args.out, "gen_random_scripts", random_script_words(rng, [
        (0x4E00, 0x9FFF), (0x0600, 0x06FF), (0x0900, 0x097F), (0x0400, 0x04FF), (0x0370, 0x03FF),
        (0xAC00, 0xD7A3), (0x3040, 0x30FF), (0x0E00, 0x0E7F), (0x1F300, 0x1FAFF), (0x0300, 0x036F)], 6000))
    all_pieces = (list(SCRIPTS.values()) + UNICODE_SPACES + ASCII_SPACES + CONTRACTIONS + WORDS + PUNCT +
                  [str(d) for d in range(10)] + ["a", "b", "Z", "é", " x", " 1", " !"])
    for i in range(8):
        total += write_doc(args.out, f"gen_mix_{i}", fragments_doc(rng, all_pieces, 2500))
    # Very long pieces (beyond the short-piece BPE path) and trailing whitespace.
    long_letters = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(5000))
    total += write_doc(args.out, "gen_long_pieces",
                       "a" * 3000 + " " + long_letters + " " + "9" * 2000 + " " + "!" * 1500 + " " * 3000 + "x" +
                       "\n" * 500 + "ab" * 1000 + " " + "é" * 1000 + " " + "中" * 800 + "\t" * 300)
    total += write_doc(args.out, "gen_only_spaces", " " * 10000)
    total += write_doc(args.out, "gen_trailing_newlines", "end of text\n\n\n   \t \n")
    total += write_doc(args.out, "gen_endoftext", "<|endoftext|>The <|endoftext|> token is text here.<|endoftext|>")
    total += write_doc(args.out, "gen_single_char", "x")
    if args.sweep:
        total += sweep_docs(args.out)
    print(f"{len(os.listdir(args.out))} documents, {total} bytes")


if __name__ == "__main__":
    sys.exit(main())
