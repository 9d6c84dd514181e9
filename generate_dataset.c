// generate_dataset: a dataset of uniquely identified examples for memorization experiments.
//
// Every example is exactly --tokens_per_example GPT-2 tokens when its whole text is encoded:
//   [SYNTHETIC_EXAMPLE_NNNNN]\n<body>\n[SYNTHETIC_EXAMPLE_NNNNN]
// NNNNN is a unique random 5-digit number. The newlines keep BPE from merging across the
// identifiers (GPT-2's pre-tokenizer never joins a lone newline to a letter or bracket), and the
// cut is verified by re-encoding the full text, so the stored tokens equal encode(text).
// The body comes from the offline text generator (llmc/textgen.c), from the user's own texts
// (--source file) or from a language model behind an OpenAI-compatible API (--source openai,
// llmc/openai_client.c; its texts are cut like user texts). No two examples share a 50-token span
// of body: collisions are found by hashing every 50-token window; a generated example is
// regenerated, a user's text is skipped (and counted), a model's text is asked for anew.
// User texts too short for the example length are skipped and counted too.
//
// Outputs in --output_dir: synthetic_dataset.json (all examples), synthetic_dataset.jsonl,
// train.jsonl (one line per training record, in train.bin order), test.jsonl, train.bin and
// test.bin (llm.c shards, one record of eot + tokens per example copy) and metadata.json.
// All of it is computed in memory first and then written atomically; metadata.json goes last.
#include <cjson/cJSON.h>
#include <errno.h>
#include <dirent.h>
#include <libgen.h>
#include <math.h>
#include <omp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "llmc/args.h"
#include "llmc/openai_client.h"
#include "llmc/sha256.h"
#include "llmc/shard.h"
#include "llmc/splitmix.h"
#include "llmc/textgen.h"
#include "llmc/tokenizer.h"
#include "llmc/utils.h"

#define GENERATOR_VERSION 1
#define MAX_IDENTIFIERS 100000     // five digits: 00000 .. 99999
#define MIN_TOKENS_PER_EXAMPLE 64  // two identifiers (about 12 tokens each), two newlines, some text
#define MAX_TOKENS_PER_EXAMPLE 16384
#define SPAN_LENGTH 50             // no two examples may share this many body tokens in a row
#define NGRAM_LENGTH 8             // for the diversity figure
#define MAX_CUT_SHIFT 24           // how far the cut may move (in tokens) to find an exact fit
#define MAX_UNIQUE_ROUNDS 100

// Streams of randomness, one per purpose, all derived from --seed.
enum { STREAM_IDS = 1, STREAM_TEXT, STREAM_SPLIT, STREAM_REPEATS, STREAM_RECORDS };

typedef struct {
    int number;          // NNNNN
    char id[24];         // "SYNTHETIC_EXAMPLE_NNNNN"
    char marker[32];     // "[SYNTHETIC_EXAMPLE_NNNNN]"
    char *text;          // the full example text, NUL-terminated
    size_t text_len;
    int *tokens;         // (tokens_per_example,) = encode(text)
    int marker_tokens;   // identifier length in tokens: [0, k) and [N-k, N)
    int genre;           // textgen genre, or -1 for --source file
    int attempt;         // how many times the body was regenerated (offline source)
    int source_doc;      // --source file: index into the input documents
    int is_test;
    int repeats;         // training copies (test examples: 1)
    int padding;         // spaces added before the closing newline to reach the exact length (user texts only)
} Example;

typedef struct {
    const char *text;    // points into the input buffer (plain text) or a cJSON string
    size_t len;
    int line;            // first line of the document in the input file
} InputDoc;

// Options, all from the command line.
static int64_t num_examples = 1000, tokens_per_example = 1024, seed = 1337, threads = 0;
static double train_ratio = 0.9;
static const char *output_dir = "synthetic_dataset", *source = "offline", *input_path = NULL;
static const char *input_format = "auto", *duplicates = NULL, *tokenizer_path = NULL;
static int overwrite = 0;
// --source openai (llmc/openai_client.h).
static const char *openai_model = NULL, *openai_api_base = NULL;
static double openai_temperature = 1.0, openai_timeout = 300.0, openai_retry_base_delay = 1.0;
static int64_t openai_concurrency = 8, openai_max_retries = 6, openai_max_turns = 4, openai_max_output_tokens = 0;
static int openai_verbose = 0;
#define OPENAI_MAX_ROUNDS 5   // times an example may be asked anew (shared span, no exact cut)

static ArgSpec specs[] = {
    {"num_examples", ARG_INT, &num_examples,
     "number of examples (each gets its own identifier; at most 100000). With --source file: "
     "default is every input text that is long enough", 1, MAX_IDENTIFIERS, 0},
    {"tokens_per_example", ARG_INT, &tokens_per_example,
     "exact GPT-2 token count of every example, identifiers included", 1, MAX_TOKENS_PER_EXAMPLE, 0},
    {"output_dir", ARG_STRING, &output_dir, "directory for the dataset files", 1, 0, 0},
    {"seed", ARG_INT, &seed, "random seed; the same seed gives byte-identical files", 0, 9007199254740991.0, 0},
    {"train_ratio", ARG_FLOAT, &train_ratio, "fraction of examples in the training split (the rest is test)", 0.0, 1.0, 0},
    {"source", ARG_STRING, &source,
     "where example text comes from: offline (built-in English text generator), file (--input) or openai "
     "(a language model behind an OpenAI-compatible API; needs --model)", 1, 0, 0},
    {"input", ARG_STRING, &input_path,
     "with --source file: JSONL with a \"text\" field per line, or plain text with a blank line between documents; "
     "texts are used in order, each cut at the end to the exact length; texts too short, or repeating a 50-token "
     "span of an earlier text, are skipped and counted in metadata.json", 1, 0, 0},
    {"input_format", ARG_STRING, &input_format,
     "with --source file: auto (.jsonl/.json means JSONL, anything else plain text), jsonl or text", 1, 0, 0},
    {"duplicates", ARG_STRING, &duplicates,
     "training copies per example as REPEATS:COUNT,... e.g. 1:700,2:100,4:50,8:30,16:20; the counts cover the "
     "training examples and must add up to their number (one COUNT may be * for the rest); test examples always "
     "appear once; default: every example once", 1, 0, 0},
    {"overwrite", ARG_BOOL, &overwrite, "replace the files of an existing, non-empty --output_dir", 1, 0, 0},
    {"tokenizer", ARG_STRING, &tokenizer_path,
     "GPT-2 tokenizer file (llm.c format); default: gpt2_tokenizer.bin here or next to this program", 1, 0, 0},
    {"threads", ARG_INT, &threads, "worker threads for encoding (0 = all cores)", 0, 1024, 0},
    {"model", ARG_STRING, &openai_model, "with --source openai: the model name, e.g. gpt-4o-mini (required)", 1, 0, 0},
    {"api_base", ARG_STRING, &openai_api_base,
     "with --source openai: API base URL; default $OPENAI_BASE_URL, OPENAI_BASE_URL in ./.env, or "
     OPENAI_DEFAULT_API_BASE ". The key comes from $OPENAI_API_KEY or ./.env; none is sent if unset", 1, 0, 0},
    {"temperature", ARG_FLOAT, &openai_temperature, "with --source openai: sampling temperature", 0.0, 2.0, 0},
    {"concurrency", ARG_INT, &openai_concurrency, "with --source openai: requests in flight at once", 1, 1024, 0},
    {"max_retries", ARG_INT, &openai_max_retries,
     "with --source openai: retries of a failed request (429, 5xx, timeout, connection error, unusable answer)", 0, 100, 0},
    {"timeout", ARG_FLOAT, &openai_timeout, "with --source openai: seconds allowed per request", 0.001, 86400, 0},
    {"retry_base_delay", ARG_FLOAT, &openai_retry_base_delay,
     "with --source openai: seconds before the first retry; doubles with each retry, with jitter (Retry-After wins)", 0.0, 600, 0},
    {"max_turns", ARG_INT, &openai_max_turns,
     "with --source openai: answers per example at most (the first, then \"continue\" requests while too short)", 1, 100, 0},
    {"max_output_tokens", ARG_INT, &openai_max_output_tokens,
     "with --source openai: max_tokens per answer (0 = not sent, the server decides)", 0, 1000000, 0},
    {"verbose", ARG_BOOL, &openai_verbose, "with --source openai: a line on stderr when each request goes out and when its answer, error or timeout comes back (never headers or the key)", 1, 0, 0},
};
#define NUM_SPECS ((int)(sizeof specs / sizeof specs[0]))

static const char *DESCRIPTION =
    "Builds a dataset of uniquely identified examples for memorization experiments. Each example is\n"
    "exactly --tokens_per_example GPT-2 tokens and reads\n"
    "  [SYNTHETIC_EXAMPLE_NNNNN]\\n<text>\\n[SYNTHETIC_EXAMPLE_NNNNN]\n"
    "with NNNNN a unique random 5-digit number. Writes synthetic_dataset.json/.jsonl, train.jsonl,\n"
    "test.jsonl, train.bin, test.bin (llm.c token shards) and metadata.json to --output_dir.";

// ---------------------------------------------------------------------------------------------
// Fitting a body between two identifiers at exactly N tokens.

typedef enum { FIT_OK, FIT_TOO_SHORT, FIT_NO_EXACT_CUT } FitResult;

static int is_ascii_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

// Builds ex->text / ex->tokens from body. Scratch lists are the caller's (one per thread).
// max_padding > 0 (user texts, which cannot be regenerated): when no cut fits exactly because the
// token at the cut is whitespace (which must be trimmed), fill the one or two missing tokens with
// spaces before the closing newline; every space is one token there (" " then "\n[").
static FitResult fit_example(const Tokenizer *tok, Example *ex, const char *body, size_t body_len, int n_tokens,
                             int max_padding, TokenList *scratch_body, TokenList *scratch_full, TokenList *scratch_marker) {
    // Leading and trailing whitespace would merge with the newlines around the identifiers.
    while (body_len > 0 && is_ascii_space(body[0])) body++, body_len--;
    while (body_len > 0 && is_ascii_space(body[body_len - 1])) body_len--;
    size_t marker_len = strlen(ex->marker);
    token_list_clear(scratch_marker);
    int k = (int)tokenizer_encode(tok, ex->marker, marker_len, scratch_marker);
    int body_budget = n_tokens - 2 * k - 2;   // the two newlines are one token each
    if (body_budget < 1) return FIT_TOO_SHORT;
    token_list_clear(scratch_body);
    size_t m = tokenizer_encode(tok, body, body_len, scratch_body);
    if ((int)m < body_budget) return FIT_TOO_SHORT;

    // Byte offset where each body token ends, so a cut after c tokens is body[0 .. ends[c-1]).
    size_t *ends = malloc_or_die(m * sizeof(size_t));
    size_t off = 0;
    for (size_t i = 0; i < m; i++) {
        size_t n;
        tokenizer_token_bytes(tok, scratch_body->ids[i], &n);
        off += n;
        ends[i] = off;
    }
    char *text = malloc_or_die(2 * marker_len + body_len + 3 + max_padding);
    FitResult result = FIT_NO_EXACT_CUT;
    // Try the exact budget first, then nearby cuts: a cut inside a word can re-encode into a
    // different number of tokens, and a cut after whitespace is trimmed.
    for (int pad = 0; pad <= max_padding && result != FIT_OK; pad++)
    for (int shift = 0; shift <= 2 * MAX_CUT_SHIFT && result != FIT_OK; shift++) {
        int c = body_budget + ((shift % 2) ? (shift + 1) / 2 : -(shift / 2));
        if (c < 1 || c > (int)m) continue;
        size_t cut = ends[c - 1];
        if (cut < body_len && ((unsigned char)body[cut] & 0xC0) == 0x80) continue;   // inside a UTF-8 character
        while (cut > 0 && is_ascii_space(body[cut - 1])) cut--;
        if (cut == 0) continue;
        size_t len = 0;
        memcpy(text + len, ex->marker, marker_len); len += marker_len;
        text[len++] = '\n';
        memcpy(text + len, body, cut); len += cut;
        for (int i = 0; i < pad; i++) text[len++] = ' ';
        text[len++] = '\n';
        memcpy(text + len, ex->marker, marker_len); len += marker_len;
        text[len] = '\0';
        token_list_clear(scratch_full);
        if ((int)tokenizer_encode(tok, text, len, scratch_full) != n_tokens) continue;
        // The identifiers must be whole tokens at both ends, or a reader could not find them.
        if (memcmp(scratch_full->ids, scratch_marker->ids, k * sizeof(int)) != 0) continue;
        if (memcmp(scratch_full->ids + n_tokens - k, scratch_marker->ids, k * sizeof(int)) != 0) continue;
        free(ex->text);
        free(ex->tokens);
        ex->text = strdup_or_die(text);
        ex->text_len = len;
        ex->tokens = malloc_or_die(n_tokens * sizeof(int));
        memcpy(ex->tokens, scratch_full->ids, n_tokens * sizeof(int));
        ex->marker_tokens = k;
        ex->padding = pad;
        result = FIT_OK;
    }
    free(text);
    free(ends);
    return result;
}

// Offline source: generate text for example i (attempt a) until it fits.
static void build_offline_example(const Tokenizer *tok, Example *ex, int index, int n_tokens, TextBuf *buf,
                                  TokenList *s1, TokenList *s2, TokenList *s3) {
    for (;; ex->attempt++) {
        SplitMix r = splitmix_derive((uint64_t)seed, STREAM_TEXT, ((uint64_t)index << 20) | (uint64_t)ex->attempt);
        ex->genre = (int)splitmix_below(&r, (uint64_t)textgen_num_genres());
        uint64_t doc_seed = splitmix_next(&r);
        // About 4 bytes per token in this text; ask for plenty, and more if it still falls short.
        size_t min_chars = (size_t)n_tokens * 6 + 256;
        for (int grow = 0; grow < 4; grow++, min_chars *= 2) {
            textbuf_clear(buf);
            textgen_document(buf, ex->genre, doc_seed, min_chars);
            FitResult fr = fit_example(tok, ex, buf->data, buf->len, n_tokens, 0, s1, s2, s3);
            if (fr == FIT_OK) return;
            if (fr == FIT_NO_EXACT_CUT) break;   // try a different document
        }
        if (ex->attempt > 1000) die("could not fit generated text into %d tokens (this is a bug; please report it)", n_tokens);
    }
}

// ---------------------------------------------------------------------------------------------
// Input documents for --source file.

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int line_is_blank(const char *p, const char *end) {
    for (; p < end; p++) if (!is_ascii_space(*p)) return 0;
    return 1;
}

// Plain text: documents are separated by one or more blank lines. Every byte must be UTF-8.
static InputDoc *read_text_docs(const char *path, char *data, size_t size, int *count) {
    int n = 0, cap = 1024;
    InputDoc *docs = malloc_or_die(cap * sizeof(InputDoc));
    const char *p = data, *end = data + size, *doc_start = NULL;
    int line = 1, doc_line = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        if (!utf8_is_valid(p, (size_t)(line_end - p)))
            die("%s:%d: the line is not valid UTF-8 (convert the file to UTF-8)", path, line);
        if (memchr(p, '\0', (size_t)(line_end - p)))
            die("%s:%d: the line contains a NUL byte (give a text file)", path, line);
        int blank = line_is_blank(p, line_end);
        if (!blank && !doc_start) { doc_start = p; doc_line = line; }
        int last = !nl || nl + 1 == end;
        if ((blank || last) && doc_start) {
            const char *doc_end = blank ? p : line_end;
            if (n == cap) { cap *= 2; docs = realloc_or_die(docs, cap * sizeof(InputDoc)); }
            docs[n++] = (InputDoc){doc_start, (size_t)(doc_end - doc_start), doc_line};
            doc_start = NULL;
        }
        p = nl ? nl + 1 : end;
        line++;
    }
    *count = n;
    return docs;
}

// JSONL: one object per line with a string field "text"; blank lines are skipped.
static InputDoc *read_jsonl_docs(const char *path, const char *data, size_t size, int *count, cJSON ***keep, int *n_keep) {
    int n = 0, cap = 1024;
    InputDoc *docs = malloc_or_die(cap * sizeof(InputDoc));
    cJSON **objects = malloc_or_die(cap * sizeof(cJSON *));
    const char *p = data, *end = data + size;
    int line = 1;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        if (!line_is_blank(p, line_end)) {
            const char *parse_end = NULL;
            cJSON *obj = cJSON_ParseWithLengthOpts(p, (size_t)(line_end - p), &parse_end, 0);
            if (!obj) die("%s:%d: not valid JSON (each line must be one object like {\"text\": \"...\"})", path, line);
            if (!line_is_blank(parse_end, line_end))
                die("%s:%d: extra characters after the JSON object (put one object per line)", path, line);
            if (!cJSON_IsObject(obj)) die("%s:%d: the line is not a JSON object (use {\"text\": \"...\"})", path, line);
            cJSON *text = cJSON_GetObjectItemCaseSensitive(obj, "text");
            if (!cJSON_IsString(text)) die("%s:%d: no string field \"text\" (each line needs {\"text\": \"...\"})", path, line);
            size_t len = strlen(text->valuestring);
            if (!utf8_is_valid(text->valuestring, len))
                die("%s:%d: the \"text\" field is not valid UTF-8 (fix the escape sequences)", path, line);
            if (n == cap) {
                cap *= 2;
                docs = realloc_or_die(docs, cap * sizeof(InputDoc));
                objects = realloc_or_die(objects, cap * sizeof(cJSON *));
            }
            objects[n] = obj;
            docs[n++] = (InputDoc){text->valuestring, len, line};
        }
        p = nl ? nl + 1 : end;
        line++;
    }
    *count = n;
    *keep = objects;
    *n_keep = n;
    return docs;
}

// ---------------------------------------------------------------------------------------------
// --duplicates SPEC: "REPEATS:COUNT,..." -> repeat level per training example.

typedef struct { int repeats; int count; } RepeatLevel;

static int parse_duplicates(const char *spec, int num_train, RepeatLevel **out) {
    int n = 0, cap = 8, star = -1;
    RepeatLevel *levels = malloc_or_die(cap * sizeof(RepeatLevel));
    const char *p = spec;
    long total = 0;
    while (*p) {
        char *end;
        errno = 0;
        long r = strtol(p, &end, 10);
        if (end == p || *end != ':' || errno)
            die("--duplicates: malformed '%s' (use REPEATS:COUNT pairs, e.g. 1:700,2:100,4:100)", spec);
        if (r < 1 || r > 1000)
            die("--duplicates: repeat level %ld is out of range (use 1 to 1000 copies)", r);
        p = end + 1;
        long c;
        if (*p == '*') {
            if (star >= 0) die("--duplicates: only one count may be * (in '%s')", spec);
            star = n;
            c = 0;
            end = (char *)p + 1;
        } else {
            c = strtol(p, &end, 10);
            if (end == p || errno || c < 0 || c > MAX_IDENTIFIERS)
                die("--duplicates: malformed count in '%s' (counts are whole numbers from 0 to %d, or *)", spec, MAX_IDENTIFIERS);
        }
        for (int i = 0; i < n; i++)
            if (levels[i].repeats == (int)r) die("--duplicates: repeat level %ld appears twice in '%s' (list each level once)", r, spec);
        if (n == cap) { cap *= 2; levels = realloc_or_die(levels, cap * sizeof(RepeatLevel)); }
        levels[n++] = (RepeatLevel){(int)r, (int)c};
        total += c;
        p = end;
        if (*p == ',') {
            p++;
            if (!*p) die("--duplicates: malformed '%s' (trailing comma)", spec);
        } else if (*p) {
            die("--duplicates: malformed '%s' (use REPEATS:COUNT pairs separated by commas)", spec);
        }
    }
    if (n == 0) die("--duplicates: the list is empty (use REPEATS:COUNT pairs, e.g. 1:700,2:100)");
    if (star >= 0) {
        if (total > num_train)
            die("--duplicates: the counts add up to %ld, more than the %d training examples (lower the counts)", total, num_train);
        levels[star].count = (int)(num_train - total);
    } else if (total != num_train) {
        die("--duplicates: the counts add up to %ld but there are %d training examples (make them add up to %d, "
            "or write * as one count)", total, num_train, num_train);
    }
    *out = levels;
    return n;
}

// ---------------------------------------------------------------------------------------------
// Hash sets over token windows.

static uint64_t hash_window(const int *ids, int n) {
    uint64_t h = 0x243F6A8885A308D3ull;
    for (int i = 0; i < n; i++) {
        h ^= (uint64_t)ids[i];
        h *= 0x100000001B3ull;
        h ^= h >> 29;
    }
    return h ^ (h >> 32);
}

static size_t table_size_for(size_t items) {
    size_t size = 1024;
    while (size < 2 * items) size *= 2;
    return size;
}

// Marks every example whose body shares a 50-token window with an earlier example. Returns the
// number marked. Windows of a marked example are not added, so its partner stays unmarked.
// Bodies under 50 tokens (small --tokens_per_example) are compared in windows as long as the
// shortest body, so a text identical to (or inside) another one is still caught.
static int find_shared_spans(Example *ex, int n, int n_tokens, int *marked) {
    int span = SPAN_LENGTH;
    for (int i = 0; i < n; i++) {
        int body = n_tokens - 2 * ex[i].marker_tokens;
        if (body < span) span = body;
    }
    if (span < 1) span = 1;
    size_t windows = 0;
    for (int i = 0; i < n; i++) {
        int body = n_tokens - 2 * ex[i].marker_tokens;
        if (body >= span) windows += (size_t)(body - span + 1);
    }
    size_t size = table_size_for(windows), mask = size - 1;
    uint64_t *keys = calloc_or_die(size, sizeof(uint64_t));
    int32_t *owner = malloc_or_die(size * sizeof(int32_t));
    memset(owner, 0xFF, size * sizeof(int32_t));
    uint64_t *hashes = malloc_or_die((size_t)n_tokens * sizeof(uint64_t));
    int num_marked = 0;
    for (int i = 0; i < n; i++) {
        marked[i] = 0;
        int lo = ex[i].marker_tokens, hi = n_tokens - ex[i].marker_tokens;   // body: [lo, hi)
        int nw = hi - lo - span + 1;
        for (int w = 0; w < nw; w++) {
            hashes[w] = hash_window(ex[i].tokens + lo + w, span);
            size_t slot = hashes[w] & mask;
            while (owner[slot] >= 0 && keys[slot] != hashes[w]) slot = (slot + 1) & mask;
            if (owner[slot] >= 0 && owner[slot] != i) { marked[i] = 1; break; }
        }
        if (marked[i]) { num_marked++; continue; }
        for (int w = 0; w < nw; w++) {
            size_t slot = hashes[w] & mask;
            while (owner[slot] >= 0 && keys[slot] != hashes[w]) slot = (slot + 1) & mask;
            if (owner[slot] < 0) { owner[slot] = i; keys[slot] = hashes[w]; }
        }
    }
    free(keys);
    free(owner);
    free(hashes);
    return num_marked;
}

typedef struct {
    int64_t distinct_tokens;
    double unigram_entropy_bits;
    int64_t distinct_ngrams, shared_ngrams;
    double shared_ngram_fraction;
    int64_t body_tokens;
} Diversity;

// Diversity of the bodies (tokens between the identifiers, each example once). 8-grams are
// keyed exactly (8 x 16 bits), so the figures can be recomputed to the last digit elsewhere.
static Diversity measure_diversity(const Example *ex, int n, int n_tokens, int vocab_size) {
    Diversity d = {0};
    int64_t *counts = calloc_or_die((size_t)vocab_size, sizeof(int64_t));
    size_t grams = 0;
    for (int i = 0; i < n; i++) {
        int lo = ex[i].marker_tokens, hi = n_tokens - ex[i].marker_tokens;
        for (int t = lo; t < hi; t++) counts[ex[i].tokens[t]]++;
        d.body_tokens += hi - lo;
        if (hi - lo >= NGRAM_LENGTH) grams += (size_t)(hi - lo - NGRAM_LENGTH + 1);
    }
    for (int v = 0; v < vocab_size; v++) {
        if (!counts[v]) continue;
        d.distinct_tokens++;
        double p = (double)counts[v] / (double)d.body_tokens;
        d.unigram_entropy_bits -= p * log2(p);
    }
    free(counts);

    size_t size = table_size_for(grams), mask = size - 1;
    uint64_t (*keys)[2] = malloc_or_die(size * sizeof *keys);
    int32_t *first = malloc_or_die(size * sizeof(int32_t));   // first example holding the gram, -1 empty
    uint8_t *shared = calloc_or_die(size, 1);
    memset(first, 0xFF, size * sizeof(int32_t));
    for (int i = 0; i < n; i++) {
        int lo = ex[i].marker_tokens, hi = n_tokens - ex[i].marker_tokens;
        for (int t = lo; t + NGRAM_LENGTH <= hi; t++) {
            const int *g = ex[i].tokens + t;
            uint64_t k0 = (uint64_t)g[0] << 48 | (uint64_t)g[1] << 32 | (uint64_t)g[2] << 16 | (uint64_t)g[3];
            uint64_t k1 = (uint64_t)g[4] << 48 | (uint64_t)g[5] << 32 | (uint64_t)g[6] << 16 | (uint64_t)g[7];
            uint64_t h = (k0 * 0x9E3779B97F4A7C15ull) ^ (k1 * 0xC2B2AE3D27D4EB4Full);
            size_t slot = (h ^ (h >> 31)) & mask;
            while (first[slot] >= 0 && (keys[slot][0] != k0 || keys[slot][1] != k1)) slot = (slot + 1) & mask;
            if (first[slot] < 0) {
                first[slot] = i;
                keys[slot][0] = k0;
                keys[slot][1] = k1;
                d.distinct_ngrams++;
            } else if (first[slot] != i && !shared[slot]) {
                shared[slot] = 1;
                d.shared_ngrams++;
            }
        }
    }
    d.shared_ngram_fraction = d.distinct_ngrams ? (double)d.shared_ngrams / (double)d.distinct_ngrams : 0.0;
    free(keys);
    free(first);
    free(shared);
    return d;
}

// ---------------------------------------------------------------------------------------------
// Output directory checks (before any work, so bad paths fail fast and nothing is created).

static int output_dir_may_hold_cache = 0;   // --source openai: resuming from openai_cache.jsonl

static void check_output_dir(const char *dir) {
    struct stat st;
    char *probe_dir;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) die("--output_dir: %s exists and is not a directory (choose another path)", dir);
        DIR *d = opendir(dir);
        if (!d) die("--output_dir: cannot read %s: %s (choose a readable, writable directory)", dir, strerror(errno));
        int empty = 1;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (output_dir_may_hold_cache && !strcmp(e->d_name, OPENAI_CACHE_FILE)) continue;
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) { empty = 0; break; }
        }
        closedir(d);
        if (!empty && !overwrite)
            die("--output_dir: %s already exists and is not empty (pass --overwrite to replace the dataset files, "
                "or choose another directory)", dir);
        probe_dir = strdup_or_die(dir);
    } else {
        // The nearest existing ancestor must be a directory we can write into.
        probe_dir = strdup_or_die(dir);
        for (;;) {
            char *copy = strdup_or_die(probe_dir);
            char *parent = strdup_or_die(dirname(copy));
            free(copy);
            free(probe_dir);
            probe_dir = parent;
            if (stat(probe_dir, &st) == 0) break;
            if (!strcmp(probe_dir, "/") || !strcmp(probe_dir, ".")) break;
        }
        if (stat(probe_dir, &st) != 0 || !S_ISDIR(st.st_mode))
            die("--output_dir: cannot create %s because %s is not a directory (choose a writable location)", dir, probe_dir);
    }
    // Really try to write: access() says yes to root even on read-only file systems.
    size_t n = strlen(probe_dir) + 40;
    char *probe = malloc_or_die(n);
    snprintf(probe, n, "%s/.generate_dataset.probe.XXXXXX", probe_dir);
    int fd = mkstemp(probe);
    if (fd < 0) die("--output_dir: cannot write in %s: %s (choose a writable directory)", probe_dir, strerror(errno));
    close(fd);
    unlink(probe);
    free(probe);
    free(probe_dir);
}

// ---------------------------------------------------------------------------------------------
// Writing.

static size_t count_utf8_chars(const char *s, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++) if (((unsigned char)s[i] & 0xC0) != 0x80) n++;
    return n;
}

static cJSON *example_line(const Example *ex, const char *split_name) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", ex->id);
    cJSON_AddStringToObject(o, "text", ex->text);
    cJSON_AddStringToObject(o, "split", split_name);
    cJSON_AddNumberToObject(o, "repeats", ex->repeats);
    return o;
}

// Output file in memory: name, bytes.
typedef struct {
    const char *name;
    char *data;
    size_t len;
} OutFile;

static void add_jsonl_line(TextBuf *b, cJSON *o) {
    char *s = cJSON_PrintUnformatted(o);
    if (!s) die("out of memory while writing JSON");
    textbuf_append_str(b, s);
    textbuf_append(b, "\n", 1);
    free(s);
}

// At exit: removes --output_dir if this run created it and left nothing in it (rmdir refuses
// any directory that holds a file).
static void remove_dir_if_empty(void) { rmdir(output_dir); }

// ---------------------------------------------------------------------------------------------

int main(int argc, char **argv) {
    set_program_name(argv[0]);
    parse_args(argc, argv, specs, NUM_SPECS, DESCRIPTION);
    double t_start = now_seconds();
    int n_tokens = (int)tokens_per_example;
    int from_file, from_openai = 0;

    // --- Validate everything before doing any work.
    if (!strcmp(source, "offline")) from_file = 0;
    else if (!strcmp(source, "file")) from_file = 1;
    else if (!strcmp(source, "openai")) from_file = 0, from_openai = 1;
    else die("--source: unknown source '%s' (use offline, file or openai)", source);
    if (from_openai && !openai_model) die("--source openai needs --model NAME (e.g. --model gpt-4o-mini)");
    // A flag whose help starts "with --source X:" belongs to that source alone; given with another
    // source it would be silently ignored.
    for (int i = 0; i < NUM_SPECS; i++) {
        const char *prefix = "with --source ", *only = specs[i].help;
        if (!specs[i].was_set || strncmp(only, prefix, strlen(prefix))) continue;
        only += strlen(prefix);
        size_t len = strcspn(only, ":");
        if (strlen(source) != len || strncmp(source, only, len))
            die("--%s is only used with --source %.*s (add --source %.*s)", specs[i].name, (int)len, only, (int)len, only);
    }
    char *api_base = from_openai ? openai_resolve_api_base(openai_api_base) : NULL;
    if (from_openai) openai_check_api_base(api_base);
    output_dir_may_hold_cache = from_openai;
    if (from_file && !input_path) die("--source file needs --input FILE (a JSONL or plain text file of texts)");
    if (strcmp(input_format, "auto") && strcmp(input_format, "jsonl") && strcmp(input_format, "text"))
        die("--input_format: unknown format '%s' (use auto, jsonl or text)", input_format);
    if (n_tokens < MIN_TOKENS_PER_EXAMPLE)
        die("--tokens_per_example: %d is too small to hold two identifiers and some text (use at least %d)",
            n_tokens, MIN_TOKENS_PER_EXAMPLE);
    if (threads > 0) omp_set_num_threads((int)threads);
    check_output_dir(output_dir);

    char *tok_path = tokenizer_path ? strdup_or_die(tokenizer_path) : tokenizer_default_path();
    if (!file_exists(tok_path))
        die("--tokenizer: %s not found (run `make vocab` or pass --tokenizer PATH)", tok_path);
    Tokenizer *tok = tokenizer_load(tok_path);
    char tokenizer_sha[65];
    sha256_file_hex(tok_path, tokenizer_sha);

    // --- Input documents (--source file).
    InputDoc *docs = NULL;
    int num_docs = 0, n_json_objects = 0;
    cJSON **json_objects = NULL;
    char *input_data = NULL;
    if (from_file) {
        if (!file_exists(input_path)) die("--input: %s is not a readable file (give a JSONL or plain text file)", input_path);
        size_t size;
        input_data = read_file_or_die(input_path, &size);
        int jsonl = !strcmp(input_format, "jsonl") ||
                    (!strcmp(input_format, "auto") && (ends_with(input_path, ".jsonl") || ends_with(input_path, ".json")));
        docs = jsonl ? read_jsonl_docs(input_path, input_data, size, &num_docs, &json_objects, &n_json_objects)
                     : read_text_docs(input_path, input_data, size, &num_docs);
        // Refused like a NUL byte: the identifier would appear in two examples, and skipping the
        // text silently would hide that the file is (part of) an earlier dataset.
        for (int i = 0; i < num_docs; i++) {
            if (openai_text_has_identifier(docs[i].text, docs[i].len))
                die("%s:%d: the text contains an identifier string [SYNTHETIC_EXAMPLE_<digits>] (remove it, or the "
                    "text; a generated dataset cannot be used as --input)", input_path, docs[i].line);
        }
        if (num_docs == 0) die("--input: %s contains no texts (give a JSONL file of {\"text\": ...} or plain text)", input_path);
        if (num_docs > MAX_IDENTIFIERS)
            die("--input: %s has %d texts, more than the %d five-digit identifiers (split the file)", input_path, num_docs, MAX_IDENTIFIERS);
    }

    // --- Identifiers: a random permutation of 00000..99999, first come first served.
    int num_slots = from_file ? num_docs : (int)num_examples;
    int *numbers = malloc_or_die(MAX_IDENTIFIERS * sizeof(int));
    for (int i = 0; i < MAX_IDENTIFIERS; i++) numbers[i] = i;
    SplitMix rng_ids = splitmix_derive((uint64_t)seed, STREAM_IDS, 0);
    for (int i = 0; i < num_slots; i++) {
        int j = i + (int)splitmix_below(&rng_ids, (uint64_t)(MAX_IDENTIFIERS - i));
        int t = numbers[i]; numbers[i] = numbers[j]; numbers[j] = t;
    }
    Example *ex = calloc_or_die((size_t)num_slots, sizeof(Example));
    for (int i = 0; i < num_slots; i++) {
        ex[i].number = numbers[i];
        snprintf(ex[i].id, sizeof ex[i].id, "SYNTHETIC_EXAMPLE_%05d", numbers[i]);
        snprintf(ex[i].marker, sizeof ex[i].marker, "[%s]", ex[i].id);
        ex[i].source_doc = from_file ? i : -1;
        ex[i].genre = -1;
    }
    free(numbers);

    // --- --source openai: one text per example from the model (genres in rotation), cached in
    // --output_dir as it arrives, then cut like a --source file text. An example whose text has no
    // exact cut, or repeats a 50-token span of an earlier example, is asked for anew (a new version).
    OpenAIConfig openai_cfg = {0};
    OpenAIStats openai_stats = {0};
    char *openai_key = NULL, *openai_cache = NULL;
    int openai_anew_no_cut = 0, openai_anew_shared = 0;
    if (from_openai) {
        openai_key = openai_find_api_key();
        openai_cfg = (OpenAIConfig){
            .model = openai_model, .api_base = api_base, .api_key = openai_key,
            .temperature = openai_temperature, .max_output_tokens = (int)openai_max_output_tokens,
            .concurrency = (int)openai_concurrency, .max_retries = (int)openai_max_retries, .timeout_s = openai_timeout,
            .retry_base_delay_s = openai_retry_base_delay, .max_turns = (int)openai_max_turns, .seed = (uint64_t)seed,
            .verbose = openai_verbose};
        if (!dir_exists(output_dir)) {
            make_dirs_or_die(output_dir);
            atexit(remove_dir_if_empty);   // a failure before any answer leaves no empty directory
        }
        openai_cache = path_join(output_dir, OPENAI_CACHE_FILE);
        openai_cfg.cache_path = openai_cache;
        const char **genres = malloc_or_die((size_t)num_slots * sizeof(char *));
        int *version = calloc_or_die((size_t)num_slots, sizeof(int));   // per example: 0, then 1, 2, ... when asked anew
        int *ask = calloc_or_die((size_t)num_slots, sizeof(int));       // this round: version to ask for, or -1
        int *redo = malloc_or_die((size_t)num_slots * sizeof(int));
        FitResult *fits = malloc_or_die((size_t)num_slots * sizeof(FitResult));
        for (int i = 0; i < num_slots; i++) {
            ex[i].genre = i % textgen_num_genres();
            genres[i] = textgen_genre_name(ex[i].genre);
        }
        for (int round = 0;; round++) {
            char **texts = openai_collect_texts(&openai_cfg, tok, num_slots, genres, ask, n_tokens, &openai_stats);
            #pragma omp parallel
            {
                TokenList s1 = {0}, s2 = {0}, s3 = {0};
                #pragma omp for schedule(dynamic, 4)
                for (int i = 0; i < num_slots; i++)
                    // An identifier in the text (e.g. from an older cache) would be in two examples.
                    fits[i] = texts[i] && openai_text_has_identifier(texts[i], strlen(texts[i])) ? FIT_NO_EXACT_CUT
                              : texts[i] ? fit_example(tok, &ex[i], texts[i], strlen(texts[i]), n_tokens, 2, &s1, &s2, &s3) : FIT_OK;
                token_list_free(&s1); token_list_free(&s2); token_list_free(&s3);
            }
            int count = 0;
            for (int i = 0; i < num_slots; i++) { free(texts[i]); redo[i] = fits[i] != FIT_OK; count += redo[i]; }
            free(texts);
            openai_anew_no_cut += count;
            if (count == 0) {   // every example has tokens now: look for shared spans
                count = find_shared_spans(ex, num_slots, n_tokens, redo);
                openai_anew_shared += count;
            }
            if (count == 0) break;
            if (round + 1 >= OPENAI_MAX_ROUNDS)
                die("--source openai: %d texts still repeat a 50-token span of another text or have no exact cut after "
                    "%d versions (use a higher --temperature or another --model)", count, OPENAI_MAX_ROUNDS);
            for (int i = 0; i < num_slots; i++) ask[i] = redo[i] ? ++version[i] : -1;
        }
        free(genres); free(version); free(ask); free(redo); free(fits);
    }

    // --- Build every example (in parallel; each depends only on the seed and its index).
    FitResult *fit = calloc_or_die((size_t)num_slots, sizeof(FitResult));
    #pragma omp parallel
    {
        TextBuf buf = {0};
        TokenList s1 = {0}, s2 = {0}, s3 = {0};
        #pragma omp for schedule(dynamic, 4)
        for (int i = 0; i < num_slots; i++) {
            if (from_file) fit[i] = fit_example(tok, &ex[i], docs[i].text, docs[i].len, n_tokens, 2, &s1, &s2, &s3);
            else if (!from_openai) build_offline_example(tok, &ex[i], i, n_tokens, &buf, &s1, &s2, &s3);
        }
        textbuf_free(&buf);
        token_list_free(&s1); token_list_free(&s2); token_list_free(&s3);
    }

    // --- With --source file: keep the texts that fit, in input order, and drop any text that
    // shares a 50-token span with an earlier kept one (a near-duplicate would blur what the model
    // memorised from which example). Offline text is regenerated instead, further down.
    int skipped_short = 0, skipped_no_cut = 0, skipped_shared = 0, n = num_slots;
    int *marked = malloc_or_die((size_t)(num_slots ? num_slots : 1) * sizeof(int));
    if (from_file) {
        n = 0;
        for (int i = 0; i < num_slots; i++) {
            if (fit[i] == FIT_OK) ex[n++] = ex[i];
            else if (fit[i] == FIT_TOO_SHORT) skipped_short++;
            else skipped_no_cut++;
        }
        if (n == 0)
            die("--input: none of the %d texts in %s is long enough for %d tokens (give longer texts or lower --tokens_per_example)",
                num_docs, input_path, n_tokens);
        find_shared_spans(ex, n, n_tokens, marked);
        int kept = 0;
        for (int i = 0; i < n; i++) {
            if (marked[i]) { skipped_shared++; free(ex[i].text); free(ex[i].tokens); }
            else ex[kept++] = ex[i];
        }
        n = kept;
        if (arg_was_set(specs, NUM_SPECS, "num_examples")) {
            if (n < num_examples)
                die("--num_examples: %lld requested but %s has only %d usable texts (%d too short, %d repeating "
                    "a 50-token span of an earlier text; lower --num_examples)",
                    (long long)num_examples, input_path, n, skipped_short, skipped_shared);
            for (int i = (int)num_examples; i < n; i++) { free(ex[i].text); free(ex[i].tokens); }
            n = (int)num_examples;
        }
    }
    free(fit);

    // --- Offline text: no shared 50-token spans; regenerate later examples until none collide.
    int regenerated = 0;
    for (int round = 0; !from_file && !from_openai; round++) {
        int count = find_shared_spans(ex, n, n_tokens, marked);
        if (count == 0) break;
        if (round >= MAX_UNIQUE_ROUNDS) die("could not make %d examples free of shared 50-token spans (this is a bug; please report it)", count);
        regenerated += count;
        #pragma omp parallel
        {
            TextBuf buf = {0};
            TokenList s1 = {0}, s2 = {0}, s3 = {0};
            #pragma omp for schedule(dynamic, 1)
            for (int i = 0; i < n; i++) {
                if (!marked[i]) continue;
                ex[i].attempt++;
                build_offline_example(tok, &ex[i], i, n_tokens, &buf, &s1, &s2, &s3);
            }
            textbuf_free(&buf);
            token_list_free(&s1); token_list_free(&s2); token_list_free(&s3);
        }
    }
    free(marked);

    // --- Split: a random n_test examples are held out.
    int n_test = (int)llround((double)n * (1.0 - train_ratio));
    int n_train = n - n_test;
    if (n_train < 1) die("--train_ratio: %g leaves no training examples out of %d (raise --train_ratio)", train_ratio, n);
    int *order = malloc_or_die((size_t)n * sizeof(int));
    for (int i = 0; i < n; i++) order[i] = i;
    SplitMix rng_split = splitmix_derive((uint64_t)seed, STREAM_SPLIT, 0);
    for (int i = n - 1; i > 0; i--) {
        int j = (int)splitmix_below(&rng_split, (uint64_t)i + 1);
        int t = order[i]; order[i] = order[j]; order[j] = t;
    }
    for (int i = 0; i < n; i++) { ex[order[i]].is_test = i < n_test; ex[order[i]].repeats = 1; }

    // --- Repeats: shuffle the training examples and hand out the levels in order.
    RepeatLevel *levels = NULL;
    int n_levels = 0;
    int *train_ids = malloc_or_die((size_t)n_train * sizeof(int));
    for (int i = 0, k = 0; i < n; i++) if (!ex[i].is_test) train_ids[k++] = i;
    if (duplicates) {
        n_levels = parse_duplicates(duplicates, n_train, &levels);
        SplitMix r = splitmix_derive((uint64_t)seed, STREAM_REPEATS, 0);
        for (int i = n_train - 1; i > 0; i--) {
            int j = (int)splitmix_below(&r, (uint64_t)i + 1);
            int t = train_ids[i]; train_ids[i] = train_ids[j]; train_ids[j] = t;
        }
        for (int l = 0, k = 0; l < n_levels; l++)
            for (int c = 0; c < levels[l].count; c++) ex[train_ids[k++]].repeats = levels[l].repeats;
    }
    // Training records: every copy of every training example, shuffled.
    size_t n_train_records = 0;
    for (int i = 0; i < n; i++) if (!ex[i].is_test) n_train_records += (size_t)ex[i].repeats;
    int *train_records = malloc_or_die(n_train_records * sizeof(int));
    int *train_copy = malloc_or_die(n_train_records * sizeof(int));
    {
        size_t k = 0;
        for (int i = 0; i < n; i++)
            if (!ex[i].is_test)
                for (int c = 0; c < ex[i].repeats; c++) { train_records[k] = i; train_copy[k] = c + 1; k++; }
        SplitMix r = splitmix_derive((uint64_t)seed, STREAM_RECORDS, 0);
        for (size_t i = n_train_records; i > 1; i--) {
            size_t j = (size_t)splitmix_below(&r, i);
            int t = train_records[i - 1]; train_records[i - 1] = train_records[j]; train_records[j] = t;
            t = train_copy[i - 1]; train_copy[i - 1] = train_copy[j]; train_copy[j] = t;
        }
    }
    int *test_records = malloc_or_die((size_t)(n_test ? n_test : 1) * sizeof(int));
    for (int i = 0, k = 0; i < n; i++) if (ex[i].is_test) test_records[k++] = i;

    Diversity div = measure_diversity(ex, n, n_tokens, tokenizer_vocab_size(tok));

    // --- Serialise everything in memory.
    int record_length = n_tokens + 1;
    int eot = tokenizer_eot(tok);
    size_t train_tokens = n_train_records * (size_t)record_length, test_tokens = (size_t)n_test * (size_t)record_length;
    if (train_tokens > INT32_MAX) die("the training shard would hold %zu tokens, more than one shard allows (lower --duplicates or --num_examples)", train_tokens);
    uint16_t *train_bin = malloc_or_die(train_tokens * sizeof(uint16_t) + 1);
    uint16_t *test_bin = malloc_or_die(test_tokens * sizeof(uint16_t) + 1);
    for (size_t r = 0; r < n_train_records; r++) {
        uint16_t *dst = train_bin + r * record_length;
        dst[0] = (uint16_t)eot;
        for (int t = 0; t < n_tokens; t++) dst[1 + t] = (uint16_t)ex[train_records[r]].tokens[t];
    }
    for (int r = 0; r < n_test; r++) {
        uint16_t *dst = test_bin + (size_t)r * record_length;
        dst[0] = (uint16_t)eot;
        for (int t = 0; t < n_tokens; t++) dst[1 + t] = (uint16_t)ex[test_records[r]].tokens[t];
    }

    TextBuf all_jsonl = {0}, train_jsonl = {0}, test_jsonl = {0};
    cJSON *all_array = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        cJSON *o = example_line(&ex[i], ex[i].is_test ? "test" : "train");
        add_jsonl_line(&all_jsonl, o);
        cJSON_AddItemToArray(all_array, o);
    }
    for (size_t r = 0; r < n_train_records; r++) {
        cJSON *o = example_line(&ex[train_records[r]], "train");
        cJSON_AddNumberToObject(o, "copy", train_copy[r]);
        add_jsonl_line(&train_jsonl, o);
        cJSON_Delete(o);
    }
    for (int r = 0; r < n_test; r++) {
        cJSON *o = example_line(&ex[test_records[r]], "test");
        add_jsonl_line(&test_jsonl, o);
        cJSON_Delete(o);
    }
    char *all_json = cJSON_Print(all_array);
    if (!all_json) die("out of memory while writing JSON");
    cJSON_Delete(all_array);

    // Shards as they will be on disk, so metadata can carry their hashes.
    size_t train_bin_bytes = SHARD_HEADER_INTS * 4 + train_tokens * 2, test_bin_bytes = SHARD_HEADER_INTS * 4 + test_tokens * 2;
    OutFile files[] = {
        {"synthetic_dataset.json", all_json, strlen(all_json)},
        {"synthetic_dataset.jsonl", all_jsonl.data ? all_jsonl.data : "", all_jsonl.len},
        {"train.jsonl", train_jsonl.data ? train_jsonl.data : "", train_jsonl.len},
        {"test.jsonl", test_jsonl.data ? test_jsonl.data : "", test_jsonl.len},
        {"train.bin", malloc_or_die(train_bin_bytes), train_bin_bytes},
        {"test.bin", malloc_or_die(test_bin_bytes), test_bin_bytes},
    };
    int num_files = (int)(sizeof files / sizeof files[0]);
    {
        // llm.c shard layout (llmc/shard.h): int32 header[256], then uint16 tokens.
        int32_t header[SHARD_HEADER_INTS] = {SHARD_MAGIC, SHARD_VERSION, (int32_t)train_tokens, record_length};
        memcpy(files[4].data, header, sizeof header);
        memcpy(files[4].data + sizeof header, train_bin, train_tokens * 2);
        header[2] = (int32_t)test_tokens;
        memcpy(files[5].data, header, sizeof header);
        memcpy(files[5].data + sizeof header, test_bin, test_tokens * 2);
    }
    free(train_bin);
    free(test_bin);

    cJSON *meta = cJSON_CreateObject();
    cJSON_AddStringToObject(meta, "format", "memlens-dataset");
    cJSON_AddStringToObject(meta, "generator", "generate_dataset");
    cJSON_AddNumberToObject(meta, "generator_version", GENERATOR_VERSION);
    cJSON_AddNumberToObject(meta, "textgen_version", TEXTGEN_VERSION);
    cJSON_AddNumberToObject(meta, "seed", (double)seed);
    cJSON *opts = cJSON_AddObjectToObject(meta, "options");
    cJSON_AddNumberToObject(opts, "num_examples", from_file && !arg_was_set(specs, NUM_SPECS, "num_examples") ? n : (double)num_examples);
    cJSON_AddNumberToObject(opts, "tokens_per_example", n_tokens);
    cJSON_AddNumberToObject(opts, "seed", (double)seed);
    cJSON_AddNumberToObject(opts, "train_ratio", train_ratio);
    cJSON_AddStringToObject(opts, "source", source);
    if (input_path) cJSON_AddStringToObject(opts, "input", input_path); else cJSON_AddNullToObject(opts, "input");
    cJSON_AddStringToObject(opts, "input_format", input_format);
    if (duplicates) cJSON_AddStringToObject(opts, "duplicates", duplicates); else cJSON_AddNullToObject(opts, "duplicates");
    cJSON_AddStringToObject(opts, "tokenizer", tok_path);
    cJSON *tk = cJSON_AddObjectToObject(meta, "tokenizer");
    cJSON_AddStringToObject(tk, "path", tok_path);
    cJSON_AddStringToObject(tk, "sha256", tokenizer_sha);
    cJSON_AddNumberToObject(tk, "vocab_size", tokenizer_vocab_size(tok));
    cJSON_AddNumberToObject(tk, "eot_token", eot);
    cJSON_AddNumberToObject(meta, "tokens_per_example", n_tokens);
    cJSON_AddNumberToObject(meta, "record_length", record_length);
    cJSON_AddStringToObject(meta, "identifier_format", "[SYNTHETIC_EXAMPLE_NNNNN]");
    cJSON_AddNumberToObject(meta, "num_examples", n);
    cJSON_AddNumberToObject(meta, "num_train_examples", n_train);
    cJSON_AddNumberToObject(meta, "num_test_examples", n_test);
    cJSON_AddNumberToObject(meta, "num_train_records", (double)n_train_records);
    cJSON_AddNumberToObject(meta, "num_test_records", n_test);
    if (from_file) {
        cJSON *src = cJSON_AddObjectToObject(meta, "input");
        cJSON_AddStringToObject(src, "path", input_path);
        char input_sha[65];
        sha256_file_hex(input_path, input_sha);
        cJSON_AddStringToObject(src, "sha256", input_sha);
        cJSON_AddNumberToObject(src, "texts", num_docs);
        cJSON_AddNumberToObject(src, "used", n);
        cJSON_AddNumberToObject(src, "skipped_too_short", skipped_short);
        cJSON_AddNumberToObject(src, "skipped_no_exact_cut", skipped_no_cut);
        cJSON_AddNumberToObject(src, "skipped_shared_span", skipped_shared);
    }
    if (from_openai) {
        openai_add_metadata(meta, &openai_cfg, n_tokens, &openai_stats);
        cJSON *oa = cJSON_GetObjectItemCaseSensitive(meta, "openai");
        cJSON_AddNumberToObject(oa, "asked_anew_for_no_exact_cut", openai_anew_no_cut);
        cJSON_AddNumberToObject(oa, "asked_anew_for_shared_spans", openai_anew_shared);
    }
    cJSON_AddNumberToObject(meta, "regenerated_for_shared_spans", regenerated);
    cJSON *dv = cJSON_AddObjectToObject(meta, "diversity");
    cJSON_AddStringToObject(dv, "computed_over",
                            "body tokens strictly between the two identifiers of every example, each example once");
    cJSON_AddNumberToObject(dv, "body_tokens", (double)div.body_tokens);
    cJSON_AddNumberToObject(dv, "distinct_tokens", (double)div.distinct_tokens);
    cJSON_AddNumberToObject(dv, "unigram_entropy_bits", div.unigram_entropy_bits);
    cJSON_AddNumberToObject(dv, "distinct_8grams", (double)div.distinct_ngrams);
    cJSON_AddNumberToObject(dv, "shared_8grams", (double)div.shared_ngrams);
    cJSON_AddNumberToObject(dv, "shared_8gram_fraction", div.shared_ngram_fraction);
    cJSON_AddNumberToObject(dv, "max_shared_span_tokens_allowed", SPAN_LENGTH - 1);
    if (levels) {
        cJSON *lv = cJSON_AddObjectToObject(meta, "repeat_levels");
        for (int l = 0; l < n_levels; l++) {
            char key[16];
            snprintf(key, sizeof key, "%d", levels[l].repeats);
            cJSON_AddNumberToObject(lv, key, levels[l].count);
        }
    }
    cJSON *files_obj = cJSON_AddObjectToObject(meta, "files");
    for (int f = 0; f < num_files; f++) {
        char hex[65];
        sha256_hex(files[f].data, files[f].len, hex);
        cJSON *fo = cJSON_AddObjectToObject(files_obj, files[f].name);
        cJSON_AddNumberToObject(fo, "bytes", (double)files[f].len);
        cJSON_AddStringToObject(fo, "sha256", hex);
    }
    cJSON *examples = cJSON_AddArrayToObject(meta, "examples");
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        char hex[65];
        sha256_hex(ex[i].text, ex[i].text_len, hex);
        cJSON_AddStringToObject(o, "id", ex[i].id);
        cJSON_AddNumberToObject(o, "number", ex[i].number);
        cJSON_AddStringToObject(o, "split", ex[i].is_test ? "test" : "train");
        cJSON_AddNumberToObject(o, "repeats", ex[i].repeats);
        cJSON_AddNumberToObject(o, "num_tokens", n_tokens);
        cJSON_AddNumberToObject(o, "num_chars", (double)count_utf8_chars(ex[i].text, ex[i].text_len));
        cJSON_AddNumberToObject(o, "num_bytes", (double)ex[i].text_len);
        cJSON_AddStringToObject(o, "genre", from_file ? "file" : textgen_genre_name(ex[i].genre));
        if (from_file) {
            cJSON_AddNumberToObject(o, "input_line", docs[ex[i].source_doc].line);
            cJSON_AddNumberToObject(o, "padding_spaces", ex[i].padding);
        }
        if (from_openai) cJSON_AddNumberToObject(o, "padding_spaces", ex[i].padding);
        // Token positions as half-open ranges [start, end) into the example's tokens.
        int k = ex[i].marker_tokens;
        int start_pos[2] = {0, k}, end_pos[2] = {n_tokens - k, n_tokens};
        cJSON_AddItemToObject(o, "start_identifier_tokens", cJSON_CreateIntArray(start_pos, 2));
        cJSON_AddItemToObject(o, "end_identifier_tokens", cJSON_CreateIntArray(end_pos, 2));
        cJSON_AddStringToObject(o, "sha256", hex);
        cJSON_AddItemToArray(examples, o);
    }
    // Record r of train.bin / test.bin holds this example.
    cJSON *tr = cJSON_AddArrayToObject(meta, "train_records");
    for (size_t r = 0; r < n_train_records; r++) cJSON_AddItemToArray(tr, cJSON_CreateString(ex[train_records[r]].id));
    cJSON *te = cJSON_AddArrayToObject(meta, "test_records");
    for (int r = 0; r < n_test; r++) cJSON_AddItemToArray(te, cJSON_CreateString(ex[test_records[r]].id));
    char *meta_text = cJSON_Print(meta);
    if (!meta_text) die("out of memory while writing JSON");
    cJSON_Delete(meta);

    // --- Write: every file to a temporary name first, then rename them all, metadata last.
    make_dirs_or_die(output_dir);
    AtomicFile af[8];
    for (int f = 0; f < num_files; f++) {
        char *path = path_join(output_dir, files[f].name);
        atomic_open(&af[f], path);
        fwrite_or_die(files[f].data, 1, files[f].len, af[f].f, af[f].final_path);
        free(path);
    }
    char *meta_path = path_join(output_dir, "metadata.json");
    atomic_open(&af[num_files], meta_path);
    fwrite_or_die(meta_text, 1, strlen(meta_text), af[num_files].f, af[num_files].final_path);
    fwrite_or_die("\n", 1, 1, af[num_files].f, af[num_files].final_path);
    for (int f = 0; f <= num_files; f++) atomic_commit_or_die(&af[f]);

    double elapsed = now_seconds() - t_start;
    printf("generate_dataset: %d examples x %d tokens in %s%s (%d train, %d test; %zu train records) in %.2f s\n",
           n, n_tokens, output_dir, path_separator(output_dir), n_train, n_test, n_train_records, elapsed);
    if (from_openai)
        printf("openai: %s at %s: %d requests (%d retries), %d new answers, %d answers from %s; %d texts asked anew\n",
               openai_cfg.model, openai_cfg.api_base, openai_stats.requests, openai_stats.retries, openai_stats.answers,
               openai_stats.cached_answers, openai_cache, openai_anew_no_cut + openai_anew_shared);
    if (from_file)
        printf("input: %d texts in %s, %d used, %d skipped as too short, %d as repeating a 50-token span of an earlier text\n",
               num_docs, input_path, n, skipped_short, skipped_shared);
    printf("diversity: %lld distinct tokens, %.3f bits/token unigram entropy, %.4f of distinct 8-grams shared "
           "between examples; %d examples regenerated to avoid shared %d-token spans\n",
           (long long)div.distinct_tokens, div.unigram_entropy_bits, div.shared_ngram_fraction, regenerated, SPAN_LENGTH);

    // Tidy up (keeps leak checkers quiet).
    free(meta_path);
    free(meta_text);
    for (int f = 0; f < num_files; f++) if (f == 0 || f >= 4) free(files[f].data);
    textbuf_free(&all_jsonl); textbuf_free(&train_jsonl); textbuf_free(&test_jsonl);
    for (int i = 0; i < n; i++) { free(ex[i].text); free(ex[i].tokens); }
    free(ex);
    free(train_ids); free(train_records); free(train_copy); free(test_records); free(order); free(levels);
    for (int i = 0; i < n_json_objects; i++) cJSON_Delete(json_objects[i]);
    free(json_objects);
    free(docs);
    free(input_data);
    free(openai_cache);
    free((char *)openai_cfg.api_base);
    free(openai_key);
    free(tok_path);
    tokenizer_free(tok);
    return 0;
}
