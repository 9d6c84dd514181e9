// make_tokenizer: convert GPT-2's vocabulary (encoder.json + vocab.bpe) into llm.c's tokenizer
// file (gpt2_tokenizer.bin), checking on the way that the two files agree.
//
// encoder.json maps each token, written in GPT-2's "byte to unicode" alphabet, to its id.
// That alphabet gives every byte a printable character: the printable bytes 33..126, 161..172
// and 174..255 stand for themselves, the other 68 bytes become U+0100, U+0101, ... in byte order.
// We undo that mapping to get each token's raw bytes.
//
// What we verify (the facts tiktoken's "gpt2" encoding also relies on):
//   - ids 0..255 are the 256 single bytes, in the alphabet's order (not byte-value order);
//   - vocab.bpe's merge line i ("a b") produces the token a+b whose id is 256 + i, and both
//     halves are older tokens; so a token's id is its BPE merge rank;
//   - the last id is "<|endoftext|>", and the ids are exactly 0..N-1 with no gaps or repeats.
//
// Output: int32 header[256] = {20240328, 2, N, eot id, 0...}, then for each id one length byte
// and the token's bytes. Written atomically.
#include <cjson/cJSON.h>
#include <string.h>

#include "llmc/args.h"
#include "llmc/tokenizer.h"
#include "llmc/utils.h"

#define EOT_TEXT "<|endoftext|>"
#define MAX_TOKEN_BYTES 255   // one length byte per token in the output format

// GPT-2's alphabet: unicode_of_byte[b] is the code point that stands for byte b.
static void build_byte_alphabet(int unicode_of_byte[256]) {
    int extra = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        unicode_of_byte[b] = printable ? b : 256 + extra++;
    }
}

// Decode one UTF-8 code point from s (NUL-terminated, as cJSON gives us); returns bytes used or 0.
static int utf8_decode_one(const unsigned char *s, int *cp) {
    if (s[0] < 0x80) { *cp = s[0]; return 1; }
    if ((s[0] & 0xE0) == 0xC0 && (s[1] & 0xC0) == 0x80) {
        *cp = ((s[0] & 0x1F) << 6) | (s[1] & 0x3F);
        return 2;
    }
    if ((s[0] & 0xF0) == 0xE0 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80) {
        *cp = ((s[0] & 0x0F) << 12) | ((s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        return 3;
    }
    return 0;   // the alphabet only uses code points below U+0144
}

typedef struct {
    uint8_t *bytes;   // raw bytes of the token
    int len;
} RawToken;

// Map an alphabet string back to raw bytes; returns 0 if a character is outside the alphabet.
static int alphabet_to_bytes(const char *text, const int byte_of_unicode[512], RawToken *tok) {
    size_t n = strlen(text);
    tok->bytes = malloc_or_die(n + 1);
    tok->len = 0;
    const unsigned char *s = (const unsigned char *)text;
    while (*s) {
        int cp, used = utf8_decode_one(s, &cp);
        if (!used || cp >= 512 || byte_of_unicode[cp] < 0) return 0;
        tok->bytes[tok->len++] = (uint8_t)byte_of_unicode[cp];
        s += used;
    }
    return 1;
}

// Find the id of a token given in the alphabet (linear probing over a small hash of raw bytes).
typedef struct {
    int *slots;        // -1 = empty, else token id
    size_t mask;
    RawToken *tokens;
} TokenIndex;

static uint64_t hash_bytes(const uint8_t *p, int n) {
    uint64_t h = 1469598103934665603ULL;   // FNV-1a
    for (int i = 0; i < n; i++) { h ^= p[i]; h *= 1099511628211ULL; }
    return h;
}

static void index_build(TokenIndex *ix, RawToken *tokens, int n) {
    size_t cap = 1;
    while (cap < (size_t)n * 2) cap <<= 1;
    ix->slots = malloc_or_die(cap * sizeof(int));
    for (size_t i = 0; i < cap; i++) ix->slots[i] = -1;
    ix->mask = cap - 1;
    ix->tokens = tokens;
    for (int id = 0; id < n; id++) {
        size_t h = hash_bytes(tokens[id].bytes, tokens[id].len) & ix->mask;
        while (ix->slots[h] >= 0) h = (h + 1) & ix->mask;
        ix->slots[h] = id;
    }
}

static int index_find(const TokenIndex *ix, const uint8_t *p, int n) {
    size_t h = hash_bytes(p, n) & ix->mask;
    for (; ix->slots[h] >= 0; h = (h + 1) & ix->mask) {
        const RawToken *t = &ix->tokens[ix->slots[h]];
        if (t->len == n && memcmp(t->bytes, p, n) == 0) return ix->slots[h];
    }
    return -1;
}

int main(int argc, char **argv) {
    set_program_name(argv[0]);
    const char *encoder_path = NULL, *merges_path = NULL, *output_path = "gpt2_tokenizer.bin";
    ArgSpec specs[] = {
        {"encoder", ARG_STRING, &encoder_path, "GPT-2's encoder.json (token -> id)", 1, 0, 0},
        {"merges", ARG_STRING, &merges_path, "GPT-2's vocab.bpe (merge rules in rank order)", 1, 0, 0},
        {"output", ARG_STRING, &output_path, "tokenizer file to write (llm.c format, version 2)", 1, 0, 0},
    };
    int nspecs = sizeof specs / sizeof specs[0];
    parse_args(argc, argv, specs, nspecs,
               "Convert GPT-2's encoder.json and vocab.bpe into llm.c's tokenizer file, verifying that\n"
               "token ids equal BPE merge ranks (see dev/data/fetch_vocab.sh for getting the files).");
    if (!encoder_path) die("--encoder is required (path to GPT-2's encoder.json; `make vocab` fetches it)");
    if (!merges_path) die("--merges is required (path to GPT-2's vocab.bpe; `make vocab` fetches it)");

    int unicode_of_byte[256], byte_of_unicode[512];
    build_byte_alphabet(unicode_of_byte);
    for (int i = 0; i < 512; i++) byte_of_unicode[i] = -1;
    for (int b = 0; b < 256; b++) byte_of_unicode[unicode_of_byte[b]] = b;

    // --- encoder.json: token text -> id
    size_t json_len;
    char *json_text = read_file_or_die(encoder_path, &json_len);
    cJSON *root = cJSON_ParseWithLength(json_text, json_len);
    if (!root || !cJSON_IsObject(root))
        die("%s is not a JSON object (expected GPT-2's encoder.json: {\"token\": id, ...})", encoder_path);
    int vocab_size = cJSON_GetArraySize(root);
    if (vocab_size < 257 || vocab_size > 65536)
        die("%s has %d entries (expected GPT-2's 50257; is this the right encoder.json?)", encoder_path, vocab_size);
    RawToken *tokens = calloc_or_die(vocab_size, sizeof(RawToken));
    int eot = -1;
    for (cJSON *item = root->child; item; item = item->next) {
        if (!cJSON_IsNumber(item) || item->valuedouble != (double)(int)item->valuedouble)
            die("%s: the value of \"%s\" is not an integer id (expected GPT-2's encoder.json)", encoder_path, item->string);
        int id = (int)item->valuedouble;
        if (id < 0 || id >= vocab_size)
            die("%s: id %d of \"%s\" is outside 0..%d (ids must be 0..N-1)", encoder_path, id, item->string, vocab_size - 1);
        if (tokens[id].bytes) die("%s: id %d is used twice (ids must be unique)", encoder_path, id);
        if (!strcmp(item->string, EOT_TEXT)) {
            eot = id;
            tokens[id].len = (int)strlen(EOT_TEXT);
            tokens[id].bytes = (uint8_t *)strdup_or_die(EOT_TEXT);
            continue;
        }
        if (!alphabet_to_bytes(item->string, byte_of_unicode, &tokens[id]))
            die("%s: token \"%s\" (id %d) uses a character outside GPT-2's byte alphabet", encoder_path, item->string, id);
        if (tokens[id].len == 0 || tokens[id].len > MAX_TOKEN_BYTES)
            die("%s: token id %d has %d bytes (must be 1..%d)", encoder_path, id, tokens[id].len, MAX_TOKEN_BYTES);
    }
    if (eot != vocab_size - 1)
        die("%s: \"" EOT_TEXT "\" must be the last id %d (found %d)", encoder_path, vocab_size - 1, eot);
    // ids 0..255: the single bytes in alphabet order (ordered by code point of their character).
    int order[256], k = 0;
    for (int cp = 0; cp < 512; cp++) if (byte_of_unicode[cp] >= 0) order[k++] = byte_of_unicode[cp];
    for (int id = 0; id < 256; id++) {
        if (tokens[id].len != 1 || tokens[id].bytes[0] != order[id])
            die("%s: id %d should be the single byte 0x%02x (GPT-2's first 256 ids are the bytes in alphabet order)",
                encoder_path, id, order[id]);
    }

    // --- vocab.bpe: merge line i must build token 256 + i from two older tokens.
    TokenIndex index;
    index_build(&index, tokens, vocab_size - 1);   // eot is not a mergeable token
    size_t merges_len;
    char *merges = read_file_or_die(merges_path, &merges_len);
    if (strncmp(merges, "#version", 8) != 0)
        die("%s does not start with '#version' (expected GPT-2's vocab.bpe)", merges_path);
    char *line = merges, *save = NULL;
    strtok_r(line, "\n", &save);   // skip the version line
    int rank = 0, line_no = 1;
    uint8_t joined[2 * MAX_TOKEN_BYTES];
    for (char *l = strtok_r(NULL, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        line_no++;
        size_t n = strlen(l);
        if (n && l[n - 1] == '\r') l[--n] = '\0';
        if (n == 0) continue;
        char *space = strchr(l, ' ');
        if (!space || strchr(space + 1, ' '))
            die("%s line %d: expected two tokens separated by one space, got '%s'", merges_path, line_no, l);
        *space = '\0';
        RawToken left, right;
        if (!alphabet_to_bytes(l, byte_of_unicode, &left) || !alphabet_to_bytes(space + 1, byte_of_unicode, &right))
            die("%s line %d: a character outside GPT-2's byte alphabet", merges_path, line_no);
        int left_id = index_find(&index, left.bytes, left.len);
        int right_id = index_find(&index, right.bytes, right.len);
        memcpy(joined, left.bytes, left.len);
        memcpy(joined + left.len, right.bytes, right.len);
        int merged_id = index_find(&index, joined, left.len + right.len);
        int expected = 256 + rank;
        if (left_id < 0 || right_id < 0 || left_id >= expected || right_id >= expected)
            die("%s line %d: merge '%s %s' uses a token that is not an earlier id (vocab.bpe and encoder.json disagree)",
                merges_path, line_no, l, space + 1);
        if (merged_id != expected)
            die("%s line %d: merge '%s %s' gives id %d, expected %d (merge rank i must produce id 256+i)",
                merges_path, line_no, l, space + 1, merged_id, expected);
        free(left.bytes);
        free(right.bytes);
        rank++;
    }
    if (256 + rank != eot)
        die("%s has %d merges, expected %d (256 byte tokens + merges + eot = %d ids in %s)",
            merges_path, rank, eot - 256, vocab_size, encoder_path);

    // --- write llm.c's format
    int32_t header[256] = {0};
    header[0] = TOKENIZER_MAGIC;
    header[1] = 2;
    header[2] = vocab_size;
    header[3] = eot;
    AtomicFile out;
    atomic_open(&out, output_path);
    fwrite_or_die(header, sizeof header, 1, out.f, output_path);
    for (int id = 0; id < vocab_size; id++) {
        uint8_t len = (uint8_t)tokens[id].len;
        fwrite_or_die(&len, 1, 1, out.f, output_path);
        fwrite_or_die(tokens[id].bytes, 1, len, out.f, output_path);
    }
    atomic_commit_or_die(&out);
    printf("wrote %s: %d tokens (%d merges verified, eot %d)\n", output_path, vocab_size, rank, eot);

    for (int id = 0; id < vocab_size; id++) free(tokens[id].bytes);
    free(tokens);
    free(index.slots);
    free(merges);
    cJSON_Delete(root);
    free(json_text);
    return 0;
}
