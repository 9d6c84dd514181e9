#define PCRE2_CODE_UNIT_WIDTH 8
#include "tfidf.h"
#include "utils.h"

#include <locale.h>
#include <math.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

// ---------------------------------------------------------------------------------------------
// Shared, read-only after first use: the compiled word pattern and the UTF-8 case locale.

static pcre2_code *word_pattern;
static locale_t utf8_locale;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_globals(void) {
    int error_code;
    PCRE2_SIZE error_offset;
    // sklearn's default token_pattern (?u)\b\w\w+\b; UCP makes \w and \b Unicode-aware like Python.
    word_pattern = pcre2_compile((PCRE2_SPTR) "\\b\\w\\w+\\b", PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP,
                                 &error_code, &error_offset, NULL);
    if (!word_pattern) die("tfidf: cannot compile the word pattern (PCRE2 error %d)", error_code);
    pcre2_jit_compile(word_pattern, PCRE2_JIT_COMPLETE); // optional speed-up; interpretive matching if it fails
    utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    if (!utf8_locale) utf8_locale = newlocale(LC_CTYPE_MASK, "C.utf8", (locale_t)0);
}

// ---------------------------------------------------------------------------------------------
// Lowercased, valid UTF-8 copy of a text (what Python's text.lower() gives after decoding).

static uint32_t next_code_point(const unsigned char *s, size_t len, size_t *i) {
    unsigned char c = s[*i];
    if (c < 0x80) { (*i)++; return c; }
    int need;
    uint32_t cp, min;
    if (c >= 0xC2 && c <= 0xDF) { need = 1; cp = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { need = 2; cp = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { need = 3; cp = c & 0x07; min = 0x10000; }
    else { (*i)++; return 0xFFFD; }
    if (*i + (size_t)need >= len) { (*i)++; return 0xFFFD; } // truncated sequence
    for (int k = 1; k <= need; k++) {
        unsigned char cc = s[*i + k];
        if ((cc & 0xC0) != 0x80) { (*i)++; return 0xFFFD; }
        cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) { (*i)++; return 0xFFFD; }
    *i += (size_t)need + 1;
    return cp;
}

static size_t put_code_point(uint32_t cp, char *out) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12)); out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F)); return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18)); out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (char)(0x80 | (cp & 0x3F)); return 4;
}

// A letter with case (has a different upper- or lowercase form), for the final-sigma rule.
static int is_cased(uint32_t cp) {
    if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z');
    if (!utf8_locale || cp == 0xFFFD) return 0;
    return towlower_l((wint_t)cp, utf8_locale) != (wint_t)cp || towupper_l((wint_t)cp, utf8_locale) != (wint_t)cp;
}

static char *lowercase_utf8(const char *text, size_t len, size_t *out_len) {
    const unsigned char *s = (const unsigned char *)text;
    uint32_t *cps = malloc_or_die((len ? len : 1) * sizeof(uint32_t));
    size_t n = 0;
    for (size_t i = 0; i < len;) cps[n++] = next_code_point(s, len, &i);
    // Every code point takes at most 4 bytes; an invalid byte becomes 3 (U+FFFD).
    char *out = malloc_or_die(n * 4 + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = cps[i];
        if (cp < 0x80) { if (cp >= 'A' && cp <= 'Z') cp += 32; }
        else if (cp == 0x03A3) {
            // Python's Final_Sigma: capital sigma after a cased letter and not before one -> final form
            int after_cased = i > 0 && is_cased(cps[i - 1]);
            int before_cased = i + 1 < n && is_cased(cps[i + 1]);
            cp = (after_cased && !before_cased) ? 0x03C2 : 0x03C3;
        } else if (utf8_locale && cp != 0xFFFD) {
            cp = (uint32_t)towlower_l((wint_t)cp, utf8_locale);
        }
        o += put_code_point(cp, out + o);
    }
    free(cps);
    out[o] = '\0';
    *out_len = o;
    return out;
}

// Calls fn(word, word_len, ctx) for every word of an already lowercased, valid UTF-8 text.
static void for_each_word(const char *lower, size_t len, void (*fn)(const char *, size_t, void *), void *ctx) {
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(word_pattern, NULL);
    if (!md) die("tfidf: out of memory");
    PCRE2_SIZE start = 0;
    while (start <= len) {
        // NO_UTF_CHECK: lowercase_utf8 only ever produces valid UTF-8.
        int rc = pcre2_match(word_pattern, (PCRE2_SPTR)lower, len, start, PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc < 0) break; // PCRE2_ERROR_NOMATCH (or a resource limit: stop at what was found)
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        fn(lower + ov[0], ov[1] - ov[0], ctx);
        start = ov[1] > ov[0] ? ov[1] : ov[1] + 1; // words are never empty, but never loop forever
    }
    pcre2_match_data_free(md);
}

// ---------------------------------------------------------------------------------------------
// Vocabulary: open-addressing hash map word -> index.

typedef struct {
    char **words;        // (capacity) NULL = empty slot
    int *index;          // (capacity)
    size_t capacity, count;
} WordMap;

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull; // FNV-1a
    for (size_t i = 0; i < n; i++) { h ^= (unsigned char)s[i]; h *= 1099511628211ull; }
    return h;
}

static void wordmap_init(WordMap *m, size_t capacity) {
    m->capacity = capacity;
    m->count = 0;
    m->words = calloc_or_die(capacity, sizeof(char *));
    m->index = calloc_or_die(capacity, sizeof(int));
}

// Slot of the word, or of the empty slot where it would go.
static size_t wordmap_slot(const WordMap *m, const char *w, size_t n) {
    size_t slot = hash_bytes(w, n) & (m->capacity - 1);
    while (m->words[slot] && !(strlen(m->words[slot]) == n && memcmp(m->words[slot], w, n) == 0))
        slot = (slot + 1) & (m->capacity - 1);
    return slot;
}

static int wordmap_find(const WordMap *m, const char *w, size_t n) {
    size_t slot = wordmap_slot(m, w, n);
    return m->words[slot] ? m->index[slot] : -1;
}

static int wordmap_add(WordMap *m, const char *w, size_t n) {
    if ((m->count + 1) * 2 > m->capacity) { // keep the load under 1/2
        WordMap bigger;
        wordmap_init(&bigger, m->capacity * 2);
        for (size_t i = 0; i < m->capacity; i++) {
            if (!m->words[i]) continue;
            size_t slot = wordmap_slot(&bigger, m->words[i], strlen(m->words[i]));
            bigger.words[slot] = m->words[i];
            bigger.index[slot] = m->index[i];
        }
        bigger.count = m->count;
        free(m->words); free(m->index);
        *m = bigger;
    }
    size_t slot = wordmap_slot(m, w, n);
    if (m->words[slot]) return m->index[slot];
    char *copy = malloc_or_die(n + 1);
    memcpy(copy, w, n);
    copy[n] = '\0';
    m->words[slot] = copy;
    m->index[slot] = (int)m->count++;
    return m->index[slot];
}

static void wordmap_free(WordMap *m) {
    for (size_t i = 0; i < m->capacity; i++) free(m->words[i]);
    free(m->words); free(m->index);
}

struct TfidfModel {
    WordMap vocab;
    double *idf;        // (vocab.count)
};

// ---------------------------------------------------------------------------------------------
// Fit.

typedef struct {
    WordMap *vocab;
    int **doc_terms;    // growable list of this document's term indices
    size_t *len, *cap;
} FitCtx;

static void collect_fit_word(const char *w, size_t n, void *vctx) {
    FitCtx *c = vctx;
    int id = wordmap_add(c->vocab, w, n);
    if (*c->len == *c->cap) { *c->cap = *c->cap ? *c->cap * 2 : 64; *c->doc_terms = realloc_or_die(*c->doc_terms, *c->cap * sizeof(int)); }
    (*c->doc_terms)[(*c->len)++] = id;
}

static int compare_ints(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

TfidfModel *tfidf_fit(const char *const *texts, const size_t *lens, size_t n) {
    pthread_once(&init_once, init_globals);
    TfidfModel *m = calloc_or_die(1, sizeof(TfidfModel));
    wordmap_init(&m->vocab, 1024);
    size_t df_cap = 1024;
    int64_t *df = calloc_or_die(df_cap, sizeof(int64_t));
    int *terms = NULL;
    size_t terms_len = 0, terms_cap = 0;
    for (size_t d = 0; d < n; d++) {
        size_t lower_len;
        char *lower = lowercase_utf8(texts[d], lens[d], &lower_len);
        terms_len = 0;
        FitCtx ctx = {&m->vocab, &terms, &terms_len, &terms_cap};
        for_each_word(lower, lower_len, collect_fit_word, &ctx);
        free(lower);
        if (m->vocab.count > df_cap) {
            size_t old = df_cap;
            while (df_cap < m->vocab.count) df_cap *= 2;
            df = realloc_or_die(df, df_cap * sizeof(int64_t));
            memset(df + old, 0, (df_cap - old) * sizeof(int64_t));
        }
        // document frequency: each distinct term of the document counts once
        if (terms_len) qsort(terms, terms_len, sizeof(int), compare_ints);
        for (size_t i = 0; i < terms_len; i++)
            if (i == 0 || terms[i] != terms[i - 1]) df[terms[i]]++;
    }
    free(terms);
    m->idf = malloc_or_die((m->vocab.count ? m->vocab.count : 1) * sizeof(double));
    for (size_t t = 0; t < m->vocab.count; t++)
        m->idf[t] = log((1.0 + (double)n) / (1.0 + (double)df[t])) + 1.0;
    free(df);
    return m;
}

void tfidf_free(TfidfModel *m) {
    if (!m) return;
    wordmap_free(&m->vocab);
    free(m->idf);
    free(m);
}

size_t tfidf_vocab_size(const TfidfModel *m) { return m->vocab.count; }

double tfidf_idf(const TfidfModel *m, const char *term) {
    int id = wordmap_find(&m->vocab, term, strlen(term));
    return id < 0 ? 0.0 : m->idf[id];
}

// ---------------------------------------------------------------------------------------------
// Transform and cosine.

typedef struct {
    const WordMap *vocab;
    int *ids;
    size_t len, cap;
} TransformCtx;

static void collect_known_word(const char *w, size_t n, void *vctx) {
    TransformCtx *c = vctx;
    int id = wordmap_find(c->vocab, w, n);
    if (id < 0) return;
    if (c->len == c->cap) { c->cap = c->cap ? c->cap * 2 : 64; c->ids = realloc_or_die(c->ids, c->cap * sizeof(int)); }
    c->ids[c->len++] = id;
}

void tfidf_transform(const TfidfModel *m, const char *text, size_t len, TfidfVector *out) {
    pthread_once(&init_once, init_globals);
    size_t lower_len;
    char *lower = lowercase_utf8(text, len, &lower_len);
    TransformCtx ctx = {&m->vocab, NULL, 0, 0};
    for_each_word(lower, lower_len, collect_known_word, &ctx);
    free(lower);
    if (ctx.len) qsort(ctx.ids, ctx.len, sizeof(int), compare_ints);
    out->terms = malloc_or_die((ctx.len ? ctx.len : 1) * sizeof(int));
    out->weights = malloc_or_die((ctx.len ? ctx.len : 1) * sizeof(double));
    out->num_terms = 0;
    for (size_t i = 0; i < ctx.len;) {
        size_t j = i;
        while (j < ctx.len && ctx.ids[j] == ctx.ids[i]) j++;
        out->terms[out->num_terms] = ctx.ids[i];
        out->weights[out->num_terms] = (double)(j - i) * m->idf[ctx.ids[i]]; // raw count x idf
        out->num_terms++;
        i = j;
    }
    free(ctx.ids);
    double sum_sq = 0.0;
    for (int i = 0; i < out->num_terms; i++) sum_sq += out->weights[i] * out->weights[i];
    if (sum_sq > 0.0) {
        double inv = 1.0 / sqrt(sum_sq);
        for (int i = 0; i < out->num_terms; i++) out->weights[i] *= inv;
    }
}

void tfidf_vector_free(TfidfVector *v) {
    free(v->terms); free(v->weights);
    v->terms = NULL; v->weights = NULL; v->num_terms = 0;
}

double tfidf_cosine(const TfidfVector *a, const TfidfVector *b) {
    double dot = 0.0;
    int i = 0, j = 0;
    while (i < a->num_terms && j < b->num_terms) { // both sorted by term index
        if (a->terms[i] == b->terms[j]) dot += a->weights[i++] * b->weights[j++];
        else if (a->terms[i] < b->terms[j]) i++;
        else j++;
    }
    return dot;
}

double tfidf_similarity(const TfidfModel *m, const char *a, size_t alen, const char *b, size_t blen) {
    TfidfVector va, vb;
    tfidf_transform(m, a, alen, &va);
    tfidf_transform(m, b, blen, &vb);
    double cos = tfidf_cosine(&va, &vb);
    tfidf_vector_free(&va);
    tfidf_vector_free(&vb);
    return cos;
}

typedef struct { char **words; size_t len, cap; } AnalyzeCtx;

static void collect_any_word(const char *w, size_t n, void *vctx) {
    AnalyzeCtx *c = vctx;
    if (c->len == c->cap) { c->cap = c->cap ? c->cap * 2 : 16; c->words = realloc_or_die(c->words, c->cap * sizeof(char *)); }
    char *copy = malloc_or_die(n + 1);
    memcpy(copy, w, n);
    copy[n] = '\0';
    c->words[c->len++] = copy;
}

size_t tfidf_analyze(const char *text, size_t len, char ***words_out) {
    pthread_once(&init_once, init_globals);
    size_t lower_len;
    char *lower = lowercase_utf8(text, len, &lower_len);
    AnalyzeCtx ctx = {NULL, 0, 0};
    for_each_word(lower, lower_len, collect_any_word, &ctx);
    free(lower);
    *words_out = ctx.words;
    return ctx.len;
}
