// Unit tests of llmc/tokenizer.c: BPE rules on a hand-built vocabulary (checked against a naive
// reference BPE written here), GPT-2 encode/decode on the real vocabulary, invalid UTF-8 handling
// (maximal-subpart rule), the Utf8Printer, and encoding from several threads at once.
// Run from the repository root (needs gpt2_tokenizer.bin; `make vocab` builds it).
// Exit status 0 = all passed; every failure prints one line.
#include <omp.h>
#include <string.h>
#include <unistd.h>

#include "llmc/tokenizer.h"
#include "llmc/utils.h"

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint32_t rng_next(void) {   // xorshift64*
    rng_state ^= rng_state >> 12; rng_state ^= rng_state << 25; rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ULL) >> 32);
}

// (memcmp must not see the NULL of an empty list, hence the n == 0 case.)
static int ids_equal(const TokenList *a, const int *b, size_t n) {
    return a->len == n && (n == 0 || memcmp(a->ids, b, n * sizeof(int)) == 0);
}
static int same_ids(const TokenList *a, const TokenList *b) { return ids_equal(a, b->ids, b->len); }

// ---------------------------------------------------------------------------------------------
// A tiny vocabulary: ids 0..255 are the bytes in byte order, then a few merged tokens, then eot.
static const char *TINY_TOKENS[] = {"bc", "ab", "abc", "aa", "cd", "abcd", "dd", "ddd"};
#define TINY_MERGED ((int)(sizeof TINY_TOKENS / sizeof TINY_TOKENS[0]))

static void write_tiny_vocab(const char *path, int version) {
    int32_t header[256] = {0};
    header[0] = TOKENIZER_MAGIC;
    header[1] = version;
    header[2] = 256 + TINY_MERGED + 1;
    header[3] = 256 + TINY_MERGED;
    FILE *f = fopen_or_die(path, "wb", NULL);
    fwrite_or_die(header, sizeof header, 1, f, path);
    for (int b = 0; b < 256; b++) { uint8_t rec[2] = {1, (uint8_t)b}; fwrite_or_die(rec, 2, 1, f, path); }
    for (int i = 0; i < TINY_MERGED; i++) {
        uint8_t len = (uint8_t)strlen(TINY_TOKENS[i]);
        fwrite_or_die(&len, 1, 1, f, path);
        fwrite_or_die(TINY_TOKENS[i], 1, len, f, path);
    }
    uint8_t len = 13;
    fwrite_or_die(&len, 1, 1, f, path);
    fwrite_or_die("<|endoftext|>", 1, 13, f, path);
    fclose(f);
}

// Naive reference BPE over one piece (tiktoken's rule, written the slow obvious way): if the
// whole piece is a token use it; else repeatedly find the adjacent pair whose concatenation is
// the lowest-id token (leftmost on ties) and merge it.
static int find_token(const Tokenizer *t, const uint8_t *p, size_t n) {
    for (int id = 0; id < tokenizer_vocab_size(t); id++) {
        if (id == tokenizer_eot(t)) continue;
        size_t len;
        const uint8_t *b = tokenizer_token_bytes(t, id, &len);
        if (len == n && memcmp(b, p, n) == 0) return id;
    }
    return -1;
}

static void reference_bpe(const Tokenizer *t, const uint8_t *p, size_t n, TokenList *out) {
    int whole = find_token(t, p, n);
    if (whole >= 0) { token_list_push(out, whole); return; }
    size_t *start = malloc_or_die((n + 1) * sizeof(size_t));
    size_t parts = n;
    for (size_t i = 0; i <= n; i++) start[i] = i;
    for (;;) {
        int best_id = -1;
        size_t best = 0;
        for (size_t i = 0; i + 1 < parts; i++) {
            int id = find_token(t, p + start[i], start[i + 2] - start[i]);
            if (id >= 0 && (best_id < 0 || id < best_id)) { best_id = id; best = i; }
        }
        if (best_id < 0) break;
        memmove(start + best + 1, start + best + 2, (parts - best - 1) * sizeof(size_t));
        parts--;
    }
    for (size_t i = 0; i < parts; i++) token_list_push(out, find_token(t, p + start[i], start[i + 1] - start[i]));
    free(start);
}

static void test_tiny_vocab(void) {
    char path[] = "/tmp/tokenizer_unit_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    write_tiny_vocab(path, 2);
    Tokenizer *t = tokenizer_load(path);
    CHECK(tokenizer_vocab_size(t) == 256 + TINY_MERGED + 1, "tiny vocab size %d", tokenizer_vocab_size(t));
    CHECK(tokenizer_eot(t) == 256 + TINY_MERGED, "tiny eot %d", tokenizer_eot(t));
    TokenList ids = {0};
    struct { const char *text; int expect[8]; size_t n; } cases[] = {
        {"abc", {258}, 1},                  // whole piece is a token
        {"abcd", {261}, 1},                 // whole piece again (even though BPE would also reach it)
        {"bcd", {256, 'd'}, 2},             // bc (256) beats cd (260)
        {"aaa", {259, 'a'}, 2},             // tie between two "aa": leftmost wins
        {"aabc", {'a', 258}, 2},            // bc (256), then a+bc = abc (258) beats aa (259)
        {"abcdd", {261, 'd'}, 2},           // bc, then abc, then abc+d = abcd (261) beats dd (262)
        {"dddd", {262, 262}, 2},            // dd, dd; ddd (263) would need dd+d
        {"x", {'x'}, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        token_list_clear(&ids);
        tokenizer_encode(t, cases[i].text, strlen(cases[i].text), &ids);
        CHECK(ids_equal(&ids, cases[i].expect, cases[i].n), "tiny vocab: '%s' gave %zu ids, first %d",
              cases[i].text, ids.len, ids.len ? ids.ids[0] : -1);
    }
    // Random letter strings (one piece each) against the reference, short and long (> 64 bytes
    // takes the heap-based path).
    TokenList ref = {0};
    char text[256];
    for (int trial = 0; trial < 300; trial++) {
        size_t n = trial < 200 ? 1 + rng_next() % 64 : 65 + rng_next() % 191;
        for (size_t i = 0; i < n; i++) text[i] = "abcd"[rng_next() % 4];
        token_list_clear(&ids);
        token_list_clear(&ref);
        tokenizer_encode(t, text, n, &ids);
        reference_bpe(t, (const uint8_t *)text, n, &ref);
        CHECK(same_ids(&ids, &ref),
              "tiny vocab: BPE differs from the reference on '%.*s'", (int)n, text);
    }
    // A version 1 file has no eot slot: eot is GPT-2's 50256, out of range here, so it must be refused
    // (tested in tests/test_tokenizer.sh since it exits); the version 2 file loaded fine above.
    token_list_free(&ids);
    token_list_free(&ref);
    tokenizer_free(t);
    unlink(path);
}

// ---------------------------------------------------------------------------------------------
// The real GPT-2 vocabulary.

static void test_gpt2_known(const Tokenizer *t) {
    // Expected ids from tiktoken's "gpt2" encoding (npm tiktoken@1.0.22).
    struct { const char *text; int expect[16]; size_t n; } cases[] = {
        {"Hello world! DON'T we'LL   spaces\t\n\n", {15496, 995, 0, 23917, 6, 51, 356, 6, 3069, 220, 220, 9029, 197, 628}, 14},
        {"<|endoftext|>", {27, 91, 437, 1659, 5239, 91, 29}, 7},
        {"", {0}, 0},
    };
    TokenList ids = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        token_list_clear(&ids);
        size_t added = tokenizer_encode(t, cases[i].text, strlen(cases[i].text), &ids);
        CHECK(added == ids.len && ids_equal(&ids, cases[i].expect, cases[i].n), "gpt2: '%s' gave %zu ids", cases[i].text, ids.len);
    }
    // encode appends: the list is not cleared between calls.
    token_list_clear(&ids);
    tokenizer_encode(t, "Hello", 5, &ids);
    size_t added = tokenizer_encode(t, " world", 6, &ids);
    int expect[] = {15496, 995};
    CHECK(added == 1 && ids_equal(&ids, expect, 2), "gpt2: encode does not append (%zu ids)", ids.len);
    CHECK(tokenizer_eot(t) == 50256 && tokenizer_vocab_size(t) == 50257, "gpt2: eot %d, vocab %d",
          tokenizer_eot(t), tokenizer_vocab_size(t));
    size_t len;
    const uint8_t *eot = tokenizer_token_bytes(t, 50256, &len);
    CHECK(len == 13 && memcmp(eot, "<|endoftext|>", 13) == 0, "gpt2: eot bytes");
    token_list_free(&ids);
}

// Random UTF-8 text from a mix of ASCII, 2-, 3- and 4-byte characters.
static size_t random_utf8(char *buf, size_t max_chars) {
    static const char *pieces[] = {"a", "Z", " ", "  ", "\n", "\t", "7", "'s", "!", "\xc3\xa9", "\xd0\x96",
                                   "\xe4\xb8\xad", "\xe2\x80\x99", "\xe3\x80\x80", "\xf0\x9f\x91\x8d",
                                   "\xf0\x9f\x8f\xbd", "\xe2\x80\x8d", "\xcc\x81", "\xc2\xa0", "\xc2\x85"};
    size_t n = 0, count = rng_next() % max_chars;
    for (size_t i = 0; i < count; i++) {
        const char *p = pieces[rng_next() % (sizeof pieces / sizeof pieces[0])];
        memcpy(buf + n, p, strlen(p));
        n += strlen(p);
    }
    return n;
}

static void test_roundtrip(const Tokenizer *t) {
    char text[4 * 300 + 1];
    TokenList ids = {0};
    for (int trial = 0; trial < 300; trial++) {
        size_t n = random_utf8(text, 300);
        token_list_clear(&ids);
        tokenizer_encode(t, text, n, &ids);
        char *back;
        size_t back_len = tokenizer_decode(t, ids.ids, ids.len, &back);
        CHECK(back_len == n && memcmp(back, text, n) == 0 && back[back_len] == '\0', "round trip failed (trial %d)", trial);
        free(back);
    }
    // Long pieces (the heap-based BPE path): letters, spaces, digits, an accented letter. All but
    // the spaces must merge (GPT-2 has no multi-space tokens).
    static char long_text[20000];
    const char *alphabets[] = {"etaoinshrdlu", " ", "0123456789", "\xc3\xa9"};
    for (int a = 0; a < 4; a++) {
        size_t n = 0, step = strlen(alphabets[a]) == 2 ? 2 : 1;
        while (n + 2 < sizeof long_text / 2) {
            if (step == 2) { memcpy(long_text + n, alphabets[a], 2); n += 2; }
            else long_text[n++] = alphabets[a][rng_next() % strlen(alphabets[a])];
        }
        token_list_clear(&ids);
        tokenizer_encode(t, long_text, n, &ids);
        char *back;
        size_t back_len = tokenizer_decode(t, ids.ids, ids.len, &back);
        CHECK(back_len == n && memcmp(back, long_text, n) == 0 && (a == 1 || ids.len < n), "long piece %d: round trip failed", a);
        free(back);
    }
    token_list_free(&ids);
}

// ---------------------------------------------------------------------------------------------
// Invalid UTF-8: each maximal invalid subpart becomes one U+FFFD (WHATWG / Python 'replace').

static void test_invalid_utf8(const Tokenizer *t) {
#define R "\xef\xbf\xbd"   // U+FFFD
    struct { const char *in; size_t in_len; const char *out; size_t out_len; } cases[] = {
        {"a\xff" "b", 3, "a" R "b", 5},
        {"\xe2\x82" "A", 3, R "A", 4},                  // truncated 3-byte sequence: one U+FFFD
        {"\xed\xa0\x80", 3, R R R, 9},                  // encoded surrogate: three
        {"\xc0\xaf", 2, R R, 6},                          // overlong: two
        {"\xf4\x90\x80\x80", 4, R R R R, 12},             // above U+10FFFF: four
        {"x\xf0\x9f\x98", 4, "x" R, 4},                   // cut off at the end: one
        {"\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80", 4},   // a valid emoji is untouched
        {"\x80\x80", 2, R R, 6},                          // stray continuation bytes: one each
        {"a\0b", 3, "a\0b", 3},                           // NUL is valid UTF-8
    };
#undef R
    TokenList ids = {0}, expect = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t out_len, want_len = cases[i].out_len;
        char *out = utf8_replace_invalid(cases[i].in, cases[i].in_len, &out_len);
        CHECK(out_len == want_len && memcmp(out, cases[i].out, out_len) == 0, "replace_invalid case %zu", i);
        CHECK(utf8_is_valid(cases[i].in, cases[i].in_len) == (out_len == cases[i].in_len && !memcmp(out, cases[i].in, out_len)),
              "utf8_is_valid case %zu", i);
        // Encoding the invalid bytes equals encoding the replaced text.
        token_list_clear(&ids);
        token_list_clear(&expect);
        tokenizer_encode(t, cases[i].in, cases[i].in_len, &ids);
        tokenizer_encode(t, out, out_len, &expect);
        CHECK(same_ids(&ids, &expect), "encode invalid case %zu", i);
        free(out);
    }
    // Random bytes never crash and always encode like their replaced text.
    char bytes[512];
    for (int trial = 0; trial < 200; trial++) {
        size_t n = rng_next() % sizeof bytes;
        for (size_t i = 0; i < n; i++) bytes[i] = (char)(rng_next() % 4 ? rng_next() : "\xe2\x82\xac\xf0"[rng_next() % 4]);
        size_t clean_len;
        char *clean = utf8_replace_invalid(bytes, n, &clean_len);
        CHECK(utf8_is_valid(clean, clean_len), "replaced text is not valid UTF-8 (trial %d)", trial);
        token_list_clear(&ids);
        token_list_clear(&expect);
        tokenizer_encode(t, bytes, n, &ids);
        tokenizer_encode(t, clean, clean_len, &expect);
        CHECK(same_ids(&ids, &expect), "random bytes trial %d", trial);
        free(clean);
    }
    token_list_free(&ids);
    token_list_free(&expect);
}

// ---------------------------------------------------------------------------------------------
// Utf8Printer: token by token output equals the replaced decode of all the bytes at once.

typedef struct { char *buf; size_t len, cap; } Sink;
static void sink_emit(const char *bytes, size_t n, void *ctx) {
    Sink *s = ctx;
    if (s->len + n > s->cap) { s->cap = (s->len + n) * 2; s->buf = realloc_or_die(s->buf, s->cap); }
    memcpy(s->buf + s->len, bytes, n);
    s->len += n;
}

static void check_printer(const Tokenizer *t, const int *ids, size_t n, const char *what) {
    Sink sink = {0};
    Utf8Printer printer;
    utf8_printer_init(&printer);
    for (size_t i = 0; i < n; i++) {
        utf8_printer_write_token(&printer, t, ids[i], sink_emit, &sink);
        CHECK(printer.pending_len >= 0 && printer.pending_len <= 3, "%s: pending %d bytes", what, printer.pending_len);
    }
    utf8_printer_flush(&printer, sink_emit, &sink);
    char *raw;
    size_t raw_len = tokenizer_decode(t, ids, n, &raw);
    size_t want_len;
    char *want = utf8_replace_invalid(raw, raw_len, &want_len);
    CHECK(sink.len == want_len && (want_len == 0 || memcmp(sink.buf, want, want_len) == 0), "%s: printer output differs", what);
    free(raw);
    free(want);
    free(sink.buf);
}

static void test_printer(const Tokenizer *t) {
    // A thumbs-up with skin tone is split over byte-level tokens: nothing may print early.
    const char *text = "ok \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd done \xe4\xb8\xad";
    TokenList ids = {0};
    tokenizer_encode(t, text, strlen(text), &ids);
    check_printer(t, ids.ids, ids.len, "emoji text");
    // The single-byte tokens for 0xE2 (a 3-byte lead byte) and 'A'.
    int e2 = -1, a = -1;
    for (int id = 0; id < 256; id++) {
        size_t len;
        const uint8_t *b = tokenizer_token_bytes(t, id, &len);
        if (b[0] == 0xE2) e2 = id;
        if (b[0] == 'A') a = id;
    }
    int broken[] = {e2, a, e2};   // unfinished sequence, then an ASCII letter, then one left at the end
    check_printer(t, broken, 3, "broken sequence");
    Sink sink = {0};
    Utf8Printer printer;
    utf8_printer_init(&printer);
    utf8_printer_write_token(&printer, t, e2, sink_emit, &sink);
    CHECK(sink.len == 0 && printer.pending_len == 1, "a lone lead byte must be held back");
    utf8_printer_write_token(&printer, t, a, sink_emit, &sink);
    CHECK(sink.len == 4 && !memcmp(sink.buf, "\xef\xbf\xbd" "A", 4), "lead byte + 'A' must print U+FFFD A");
    free(sink.buf);
    // Random id sequences (mostly byte tokens, so sequences split and break often).
    int random_ids[64];
    for (int trial = 0; trial < 300; trial++) {
        size_t n = rng_next() % 64;
        for (size_t i = 0; i < n; i++) random_ids[i] = rng_next() % 3 ? (int)(rng_next() % 256) : (int)(rng_next() % 50257);
        check_printer(t, random_ids, n, "random ids");
    }
    token_list_free(&ids);
}

// ---------------------------------------------------------------------------------------------
// Thread safety: many threads encoding at once give the single-threaded answer.

static void test_threads(const Tokenizer *t) {
    enum { N_TEXTS = 64 };
    static char texts[N_TEXTS][4 * 400];
    size_t lens[N_TEXTS];
    TokenList serial[N_TEXTS];
    memset(serial, 0, sizeof serial);
    for (int i = 0; i < N_TEXTS; i++) {
        lens[i] = random_utf8(texts[i], 400);
        tokenizer_encode(t, texts[i], lens[i], &serial[i]);
    }
    int mismatches = 0;
    #pragma omp parallel for num_threads(4) schedule(dynamic) reduction(+ : mismatches)
    for (int rep = 0; rep < N_TEXTS * 8; rep++) {
        int i = rep % N_TEXTS;
        TokenList ids = {0};
        tokenizer_encode(t, texts[i], lens[i], &ids);
        if (!same_ids(&ids, &serial[i])) mismatches++;
        token_list_free(&ids);
    }
    CHECK(mismatches == 0, "threads: %d encodings differ from the serial result", mismatches);
    for (int i = 0; i < N_TEXTS; i++) token_list_free(&serial[i]);
}

int main(int argc, char **argv) {
    set_program_name(argv[0]);
    test_tiny_vocab();
    char *path = tokenizer_default_path();
    Tokenizer *t = tokenizer_load(path);
    test_gpt2_known(t);
    test_roundtrip(t);
    test_invalid_utf8(t);
    test_printer(t);
    test_threads(t);
    tokenizer_free(t);
    free(path);
    if (failures) { printf("%d failures\n", failures); return 1; }
    printf("all tokenizer unit tests passed\n");
    return 0;
}
