// GPT-2 tokenizer: byte-level BPE that gives the same ids as tiktoken's "gpt2" encoding.
//
// Encoding has two steps, as in tiktoken:
//  1. Pre-tokenization: split the text into pieces with GPT-2's regex (PCRE2, UTF + UCP, JIT)
//       's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//     where \s is spelled out as Unicode's White_Space property, which is what tiktoken's Rust
//     regex means by \s. PCRE2's own \s differs: it misses U+0085 (NEXT LINE).
//  2. BPE inside each piece: if the whole piece is a token, that is the answer. Otherwise start
//     from single bytes and repeatedly merge the adjacent pair whose concatenation is the token
//     with the lowest id (leftmost on ties), until no adjacent pair is a token. A token's id is
//     its merge rank (make_tokenizer checks this when it builds the file).
//
// Invalid UTF-8: encoding never fails on it. Each maximal invalid subsequence (the Unicode /
// WHATWG "maximal subpart" rule, which Python's bytes.decode('utf-8', 'replace') and node's
// TextDecoder also follow) is replaced by U+FFFD before step 1. So encode(bytes) equals tiktoken's
// encoding of bytes.decode('utf-8', 'replace'), and decoding gives back the replaced text.
//
// Speed: most pieces are whole tokens (one hash lookup). Pieces that need BPE are remembered in a
// small per-call cache (piece bytes -> ids), since the same words come back again and again.
//
// Thread safety: a loaded Tokenizer is never written to. encode keeps its scratch (PCRE2 match
// data, BPE arrays, the piece cache) in per-call memory, so any number of threads may share one.
#include "tokenizer.h"
#include "utils.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <limits.h>
#include <string.h>
#include <unistd.h>

// Unicode White_Space (what Rust's regex, and so tiktoken, means by \s).
#define WHITE_SPACE "\\t-\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"
static const char *GPT2_PATTERN =
    "'s|'t|'re|'ve|'m|'ll|'d"
    "| ?\\p{L}+"
    "| ?\\p{N}+"
    "| ?[^" WHITE_SPACE "\\p{L}\\p{N}]+"
    "|[" WHITE_SPACE "]+(?![^" WHITE_SPACE "])"
    "|[" WHITE_SPACE "]+";

struct Tokenizer {
    char *path;
    int vocab_size;
    int eot;
    uint8_t *token_bytes;     // all tokens' bytes back to back
    uint32_t *token_offset;   // [vocab_size + 1]: token id's bytes are token_bytes[off[id] .. off[id+1])
    int max_token_len;
    // Open-addressing hash table: token bytes -> id (every token but eot).
    int32_t *slots;           // -1 = empty
    uint32_t *slot_hash;
    size_t slot_mask;
    pcre2_code *pattern;
    int jit;                  // 1 if the pattern was JIT-compiled
};

// ---------------------------------------------------------------------------------------------
// Token lists.

void token_list_push(TokenList *list, int id) {
    if (list->len == list->cap) {
        list->cap = list->cap ? list->cap * 2 : 256;
        list->ids = realloc_or_die(list->ids, list->cap * sizeof(int));
    }
    list->ids[list->len++] = id;
}

void token_list_clear(TokenList *list) { list->len = 0; }

void token_list_free(TokenList *list) {
    free(list->ids);
    list->ids = NULL;
    list->len = list->cap = 0;
}

// ---------------------------------------------------------------------------------------------
// UTF-8 validation by the maximal-subpart rule.

// Look at the sequence starting at s (avail >= 1 bytes). Returns its length (1..4) if it is a
// complete valid sequence; 0 if the avail bytes are a valid but unfinished prefix; -k if the
// first k bytes are a maximal invalid subpart (to be replaced by one U+FFFD).
static int utf8_sequence(const uint8_t *s, size_t avail) {
    uint8_t c = s[0];
    if (c < 0x80) return 1;
    int need;
    uint8_t lo = 0x80, hi = 0xBF;   // allowed range of the next byte
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0) lo = 0xA0;   // no overlong forms
        if (c == 0xED) hi = 0x9F;   // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0) lo = 0x90;   // no overlong forms
        if (c == 0xF4) hi = 0x8F;   // nothing above U+10FFFF
    } else return -1;
    for (int i = 1; i <= need; i++) {
        if ((size_t)i >= avail) return 0;
        if (s[i] < lo || s[i] > hi) return -i;
        lo = 0x80;
        hi = 0xBF;
    }
    return need + 1;
}

static const char REPLACEMENT[] = "\xEF\xBF\xBD";   // U+FFFD

int utf8_is_valid(const char *text, size_t len) {
    const uint8_t *s = (const uint8_t *)text;
    size_t i = 0;
    while (i < len) {
        if (s[i] < 0x80) { i++; continue; }
        int n = utf8_sequence(s + i, len - i);
        if (n <= 0) return 0;
        i += n;
    }
    return 1;
}

char *utf8_replace_invalid(const char *text, size_t len, size_t *out_len) {
    const uint8_t *s = (const uint8_t *)text;
    char *out = malloc_or_die(len * 3 + 1);   // each byte grows to at most 3
    size_t i = 0, o = 0;
    while (i < len) {
        int n = utf8_sequence(s + i, len - i);
        if (n > 0) {
            memcpy(out + o, s + i, n);
            o += n;
            i += n;
        } else {
            memcpy(out + o, REPLACEMENT, 3);
            o += 3;
            i += n < 0 ? (size_t)-n : len - i;   // an unfinished prefix at the end is one subpart
        }
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

// ---------------------------------------------------------------------------------------------
// Vocabulary hash table.

static inline uint32_t hash_bytes(const uint8_t *p, size_t n) {
    uint32_t h = 2166136261u;   // FNV-1a
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 16777619u; }
    return h;
}

// Id of the token with exactly these bytes (whose hash_bytes is h), or -1.
static inline int token_lookup_hashed(const Tokenizer *t, const uint8_t *p, size_t n, uint32_t h) {
    for (size_t i = h & t->slot_mask;; i = (i + 1) & t->slot_mask) {
        int id = t->slots[i];
        if (id < 0) return -1;
        if (t->slot_hash[i] == h) {
            uint32_t off = t->token_offset[id];
            if (t->token_offset[id + 1] - off == n && memcmp(t->token_bytes + off, p, n) == 0) return id;
        }
    }
}

static inline int token_lookup(const Tokenizer *t, const uint8_t *p, size_t n) {
    if (n > (size_t)t->max_token_len) return -1;
    return token_lookup_hashed(t, p, n, hash_bytes(p, n));
}

static void build_table(Tokenizer *t) {
    size_t cap = 1;
    while (cap < (size_t)t->vocab_size * 2) cap <<= 1;
    t->slots = malloc_or_die(cap * sizeof(int32_t));
    t->slot_hash = malloc_or_die(cap * sizeof(uint32_t));
    for (size_t i = 0; i < cap; i++) t->slots[i] = -1;
    t->slot_mask = cap - 1;
    for (int id = 0; id < t->vocab_size; id++) {
        if (id == t->eot) continue;   // eot is a special token, never produced from text
        const uint8_t *p = t->token_bytes + t->token_offset[id];
        size_t n = t->token_offset[id + 1] - t->token_offset[id];
        if (token_lookup(t, p, n) >= 0) continue;   // a repeated token keeps its lowest id
        uint32_t h = hash_bytes(p, n);
        size_t i = h & t->slot_mask;
        while (t->slots[i] >= 0) i = (i + 1) & t->slot_mask;
        t->slots[i] = id;
        t->slot_hash[i] = h;
    }
}

// ---------------------------------------------------------------------------------------------
// Loading.

static void compile_pattern(Tokenizer *t) {
    int err;
    PCRE2_SIZE err_offset;
    t->pattern = pcre2_compile((PCRE2_SPTR)GPT2_PATTERN, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP,
                               &err, &err_offset, NULL);
    if (!t->pattern) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        die("cannot compile GPT-2's pre-tokenizer regex at offset %zu: %s (PCRE2 must support UTF and Unicode properties)",
            (size_t)err_offset, (char *)msg);
    }
    t->jit = pcre2_jit_compile(t->pattern, PCRE2_JIT_COMPLETE) == 0;
}

Tokenizer *tokenizer_load(const char *path) {
    if (!file_exists(path))
        die("tokenizer file %s not found (run `make vocab` to create gpt2_tokenizer.bin, or pass --tokenizer PATH)", path);
    size_t size;
    uint8_t *data = (uint8_t *)read_file_or_die(path, &size);
    const char *fix = "run `make vocab` to rebuild gpt2_tokenizer.bin";
    int32_t header[256];
    if (size < sizeof header)
        die("tokenizer file %s is truncated: %zu bytes, shorter than its 1024-byte header (%s)", path, size, fix);
    memcpy(header, data, sizeof header);
    if (header[0] != TOKENIZER_MAGIC)
        die("%s is not a tokenizer file: magic number %d, expected %d (%s)", path, header[0], TOKENIZER_MAGIC, fix);
    if (header[1] != 1 && header[1] != 2)
        die("tokenizer file %s has version %d; only versions 1 and 2 are known (%s)", path, header[1], fix);
    Tokenizer *t = calloc_or_die(1, sizeof(Tokenizer));
    t->path = strdup_or_die(path);
    t->vocab_size = header[2];
    if (t->vocab_size < 256 || t->vocab_size > 1 << 24)
        die("tokenizer file %s claims %d tokens, expected 256 to %d (%s)", path, t->vocab_size, 1 << 24, fix);
    t->eot = header[1] == 1 ? 50256 : header[3];   // version 1 files predate the eot slot; GPT-2's is 50256
    if (t->eot < 0 || t->eot >= t->vocab_size)
        die("tokenizer file %s: end-of-text id %d is outside 0..%d (%s)", path, t->eot, t->vocab_size - 1, fix);

    // Token records: one length byte, then that many bytes.
    t->token_offset = malloc_or_die((t->vocab_size + 1) * sizeof(uint32_t));
    size_t pos = sizeof header, total = 0;
    for (int id = 0; id < t->vocab_size; id++) {
        if (pos >= size)
            die("tokenizer file %s is truncated: it ends at token %d of %d (%s)", path, id, t->vocab_size, fix);
        int len = data[pos];
        if (len == 0) die("tokenizer file %s: token %d has length 0 (%s)", path, id, fix);
        if (pos + 1 + len > size)
            die("tokenizer file %s is truncated inside token %d of %d (%s)", path, id, t->vocab_size, fix);
        pos += 1 + len;
        total += len;
    }
    if (pos != size)
        die("tokenizer file %s has %zu unexpected bytes after its %d tokens (%s)", path, size - pos, t->vocab_size, fix);
    t->token_bytes = malloc_or_die(total);
    pos = sizeof header;
    size_t off = 0;
    for (int id = 0; id < t->vocab_size; id++) {
        int len = data[pos];
        t->token_offset[id] = (uint32_t)off;
        memcpy(t->token_bytes + off, data + pos + 1, len);
        off += len;
        pos += 1 + len;
        if (len > t->max_token_len) t->max_token_len = len;
    }
    t->token_offset[t->vocab_size] = (uint32_t)off;
    free(data);

    build_table(t);
    // Byte-level BPE needs every single byte to be a token, or some text could not be encoded.
    for (int b = 0; b < 256; b++) {
        uint8_t byte = (uint8_t)b;
        if (token_lookup(t, &byte, 1) < 0)
            die("tokenizer file %s has no token for the byte 0x%02x, so it cannot encode every text (%s)", path, b, fix);
    }
    compile_pattern(t);
    return t;
}

void tokenizer_free(Tokenizer *t) {
    if (!t) return;
    pcre2_code_free(t->pattern);
    free(t->slots);
    free(t->slot_hash);
    free(t->token_bytes);
    free(t->token_offset);
    free(t->path);
    free(t);
}

int tokenizer_vocab_size(const Tokenizer *t) { return t->vocab_size; }
int tokenizer_eot(const Tokenizer *t) { return t->eot; }

// ---------------------------------------------------------------------------------------------
// BPE on one pre-tokenized piece.

// Short pieces (almost all of them): tiktoken's own method, a scan for the lowest-ranked pair
// over an array of part boundaries. O(n^2) but n is tiny.
#define SHORT_PIECE 64

static void bpe_short(const Tokenizer *t, const uint8_t *p, int n, TokenList *out) {
    int start[SHORT_PIECE + 1];   // start[i]: first byte of part i; start[parts] = n
    int rank[SHORT_PIECE];        // rank[i]: id of part i + part i+1 joined, or INT_MAX
    int parts = n;
    for (int i = 0; i <= n; i++) start[i] = i;
    for (int i = 0; i + 1 < parts; i++) {
        int id = token_lookup(t, p + i, 2);
        rank[i] = id < 0 ? INT_MAX : id;
    }
    while (parts > 1) {
        int best = -1, best_rank = INT_MAX;
        for (int i = 0; i + 1 < parts; i++) {
            if (rank[i] < best_rank) { best_rank = rank[i]; best = i; }
        }
        if (best < 0) break;
        // Merge part best+1 into part best.
        memmove(start + best + 1, start + best + 2, (parts - best - 1) * sizeof(int));
        if (parts - best - 3 > 0) memmove(rank + best + 1, rank + best + 2, (parts - best - 3) * sizeof(int));
        parts--;
        for (int i = best - 1; i <= best; i++) {
            if (i < 0 || i + 1 >= parts) continue;
            int id = token_lookup(t, p + start[i], start[i + 2] - start[i]);
            rank[i] = id < 0 ? INT_MAX : id;
        }
    }
    for (int i = 0; i < parts; i++) token_list_push(out, token_lookup(t, p + start[i], start[i + 1] - start[i]));
}

// Long pieces (long runs of letters, digits, spaces): the same merges in O(n log n), with a
// linked list of parts and a min-heap of candidate pairs keyed by (rank, position). A heap entry
// goes stale when either part changes; stale entries are skipped when popped. Popping the
// smallest (rank, position) is exactly tiktoken's "lowest rank, leftmost" choice.
typedef struct { int rank, left, right, end; } PairCandidate;

static int candidate_less(const PairCandidate *a, const PairCandidate *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static void heap_push(PairCandidate *heap, size_t *size, PairCandidate c) {
    size_t i = (*size)++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!candidate_less(&c, &heap[parent])) break;
        heap[i] = heap[parent];
        i = parent;
    }
    heap[i] = c;
}

static PairCandidate heap_pop(PairCandidate *heap, size_t *size) {
    PairCandidate top = heap[0], last = heap[--(*size)];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= *size) break;
        if (child + 1 < *size && candidate_less(&heap[child + 1], &heap[child])) child++;
        if (!candidate_less(&heap[child], &last)) break;
        heap[i] = heap[child];
        i = child;
    }
    if (*size > 0) heap[i] = last;
    return top;
}

static void bpe_long(const Tokenizer *t, const uint8_t *p, size_t n, TokenList *out) {
    // Parts are identified by their first byte. next[i] = start of the following part (n at the
    // end); prev[i] = start of the previous part (-1 at the front); alive[i] = part starts at i.
    int64_t *next = malloc_or_die(n * sizeof(int64_t));
    int64_t *prev = malloc_or_die(n * sizeof(int64_t));
    uint8_t *alive = malloc_or_die(n);
    // Each merge pushes at most 2 candidates; n - 1 initial ones.
    PairCandidate *heap = malloc_or_die(3 * n * sizeof(PairCandidate));
    size_t heap_size = 0;
    for (size_t i = 0; i < n; i++) {
        next[i] = i + 1;
        prev[i] = (int64_t)i - 1;
        alive[i] = 1;
    }
    for (size_t i = 0; i + 1 < n; i++) {
        int id = token_lookup(t, p + i, 2);
        if (id >= 0) heap_push(heap, &heap_size, (PairCandidate){id, (int)i, (int)i + 1, (int)i + 2});
    }
    while (heap_size > 0) {
        PairCandidate c = heap_pop(heap, &heap_size);
        if (!alive[c.left] || !alive[c.right] || next[c.left] != c.right || next[c.right] != c.end) continue;
        // Merge the right part into the left one.
        alive[c.right] = 0;
        next[c.left] = c.end;
        if (c.end < (int64_t)n) prev[c.end] = c.left;
        if (prev[c.left] >= 0) {
            int64_t l = prev[c.left];
            int id = token_lookup(t, p + l, c.end - l);
            if (id >= 0) heap_push(heap, &heap_size, (PairCandidate){id, (int)l, c.left, c.end});
        }
        if (c.end < (int64_t)n) {
            int64_t e = next[c.end];
            int id = token_lookup(t, p + c.left, e - c.left);
            if (id >= 0) heap_push(heap, &heap_size, (PairCandidate){id, c.left, c.end, (int)e});
        }
    }
    for (int64_t i = 0; i < (int64_t)n; i = next[i]) token_list_push(out, token_lookup(t, p + i, next[i] - i));
    free(next);
    free(prev);
    free(alive);
    free(heap);
}

// Per-call cache of pieces that needed BPE (words that are not single tokens repeat a lot in
// real text). Direct-mapped: a colliding piece simply replaces the old entry. Living inside one
// encode call keeps the Tokenizer read-only and needs no locks.
#define CACHE_KEY_MAX 26
#define CACHE_IDS_MAX 6
typedef struct {
    uint32_t hash;
    uint8_t len;                 // piece length in bytes; 0 = empty slot
    uint8_t n_ids;
    uint8_t key[CACHE_KEY_MAX];
    int32_t ids[CACHE_IDS_MAX];
} PieceCacheEntry;

typedef struct {
    PieceCacheEntry *slots;
    size_t mask;
} PieceCache;

static void encode_piece(const Tokenizer *t, const uint8_t *p, size_t n, TokenList *out, PieceCache *cache) {
    if (n <= (size_t)t->max_token_len) {
        uint32_t h = hash_bytes(p, n);
        int whole = token_lookup_hashed(t, p, n, h);
        if (whole >= 0) { token_list_push(out, whole); return; }   // tiktoken takes a whole-piece token as is
        if (n <= CACHE_KEY_MAX) {
            PieceCacheEntry *e = &cache->slots[h & cache->mask];
            if (e->len == n && e->hash == h && memcmp(e->key, p, n) == 0) {
                for (int i = 0; i < e->n_ids; i++) token_list_push(out, e->ids[i]);
                return;
            }
            size_t before = out->len;
            bpe_short(t, p, (int)n, out);
            size_t made = out->len - before;
            if (made <= CACHE_IDS_MAX) {
                e->hash = h;
                e->len = (uint8_t)n;
                e->n_ids = (uint8_t)made;
                memcpy(e->key, p, n);
                for (size_t i = 0; i < made; i++) e->ids[i] = out->ids[before + i];
            }
            return;
        }
    }
    if (n <= SHORT_PIECE) bpe_short(t, p, (int)n, out);
    else if (n <= INT_MAX) bpe_long(t, p, n, out);
    else die("cannot encode a single regex piece of %zu bytes (the limit is 2 GiB; split the text)", n);
}

// ---------------------------------------------------------------------------------------------
// Encoding.

size_t tokenizer_encode(const Tokenizer *t, const char *text, size_t len, TokenList *out) {
    size_t before = out->len;
    char *replaced = NULL;
    if (!utf8_is_valid(text, len)) {
        replaced = utf8_replace_invalid(text, len, &len);
        text = replaced;
    }
    pcre2_match_data *match = pcre2_match_data_create_from_pattern(t->pattern, NULL);
    if (!match) die("out of memory allocating regex match data");
    // Cache size grows with the text: ~1 slot per 16 bytes, 64..8192 slots (at most ~460 KB).
    size_t cache_slots = 64;
    while (cache_slots < 8192 && cache_slots * 16 < len) cache_slots <<= 1;
    PieceCache cache = {calloc_or_die(cache_slots, sizeof(PieceCacheEntry)), cache_slots - 1};
    const uint8_t *s = (const uint8_t *)text;
    size_t pos = 0;
    while (pos < len) {
        int rc = t->jit ? pcre2_jit_match(t->pattern, s, len, pos, 0, match, NULL)
                        : pcre2_match(t->pattern, s, len, pos, PCRE2_NO_UTF_CHECK, match, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) break;   // cannot happen: every character matches some branch
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            die("pre-tokenizer regex failed at byte %zu: %s", pos, (char *)msg);
        }
        PCRE2_SIZE *ovector = pcre2_get_ovector_pointer(match);
        size_t begin = ovector[0], end = ovector[1];
        if (end == begin) { pos++; continue; }   // cannot happen either: no branch matches empty
        encode_piece(t, s + begin, end - begin, out, &cache);
        pos = end;
    }
    pcre2_match_data_free(match);
    free(cache.slots);
    free(replaced);
    return out->len - before;
}

// ---------------------------------------------------------------------------------------------
// Decoding.

const uint8_t *tokenizer_token_bytes(const Tokenizer *t, int id, size_t *len) {
    *len = t->token_offset[id + 1] - t->token_offset[id];
    return t->token_bytes + t->token_offset[id];
}

size_t tokenizer_decode(const Tokenizer *t, const int *ids, size_t n, char **out) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->vocab_size)
            die("token id %d (at position %zu) is outside 0..%d, the vocabulary of %s", ids[i], i, t->vocab_size - 1, t->path);
        total += t->token_offset[ids[i] + 1] - t->token_offset[ids[i]];
    }
    char *buf = malloc_or_die(total + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const uint8_t *b = tokenizer_token_bytes(t, ids[i], &len);
        memcpy(buf + o, b, len);
        o += len;
    }
    buf[o] = '\0';
    *out = buf;
    return o;
}

void utf8_printer_init(Utf8Printer *p) { p->pending_len = 0; }

// Emit buf[0..n) as text: complete sequences as they are, invalid subparts as U+FFFD, and keep
// a trailing unfinished sequence (at most 3 bytes) in p->pending for the next token.
static void printer_feed(Utf8Printer *p, const uint8_t *buf, size_t n, void (*emit)(const char *, size_t, void *), void *ctx) {
    size_t i = 0, run = 0;   // buf[run..i) is valid text not yet emitted
    p->pending_len = 0;
    while (i < n) {
        int k = utf8_sequence(buf + i, n - i);
        if (k > 0) { i += k; continue; }
        if (i > run) emit((const char *)buf + run, i - run, ctx);
        if (k == 0) {   // unfinished: wait for the next token
            p->pending_len = (int)(n - i);
            memcpy(p->pending, buf + i, n - i);
            return;
        }
        emit(REPLACEMENT, 3, ctx);
        i += -k;
        run = i;
    }
    if (i > run) emit((const char *)buf + run, i - run, ctx);
}

void utf8_printer_write_token(Utf8Printer *p, const Tokenizer *t, int id, void (*emit)(const char *, size_t, void *), void *ctx) {
    if (id < 0 || id >= t->vocab_size) die("token id %d is outside 0..%d, the vocabulary of %s", id, t->vocab_size - 1, t->path);
    size_t len;
    const uint8_t *bytes = tokenizer_token_bytes(t, id, &len);
    uint8_t buf[4 + 256];   // pending (< 4) + one token (< 256)
    memcpy(buf, p->pending, p->pending_len);
    memcpy(buf + p->pending_len, bytes, len);
    printer_feed(p, buf, p->pending_len + len, emit, ctx);
}

void utf8_printer_flush(Utf8Printer *p, void (*emit)(const char *, size_t, void *), void *ctx) {
    if (p->pending_len > 0) emit(REPLACEMENT, 3, ctx);   // an unfinished sequence is one invalid subpart
    p->pending_len = 0;
}

// ---------------------------------------------------------------------------------------------

char *tokenizer_default_path(void) {
    const char *name = "gpt2_tokenizer.bin";
    if (file_exists(name)) return strdup_or_die(name);
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            slash[1] = '\0';
            size_t need = strlen(exe) + strlen(name) + 1;
            char *path = malloc_or_die(need);
            snprintf(path, need, "%s%s", exe, name);
            if (file_exists(path)) return path;
            free(path);
        }
    }
    return strdup_or_die(name);
}
