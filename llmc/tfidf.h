// TF-IDF vectors and cosine similarity, numerically the same as scikit-learn's default
// TfidfVectorizer: text lowercased (Python str.lower), words found with (?u)\b\w\w+\b
// (PCRE2 with UTF and Unicode properties), raw term counts, smoothed idf
// ln((1 + n) / (1 + df)) + 1 fitted on a corpus, vectors scaled to unit L2 norm.
// Bytes that are not valid UTF-8 are treated as U+FFFD (as bytes.decode('utf-8', 'replace')
// would do; either way they separate words). Known differences from Python, irrelevant for
// English text: lowercasing uses the C library's simple case mapping, so the few characters
// whose Python lowercase has two code points (U+0130) differ; the final-sigma rule looks
// only at the characters right beside the sigma (Python skips case-ignorable marks).
#ifndef LLMC_TFIDF_H
#define LLMC_TFIDF_H

#include <stddef.h>

typedef struct TfidfModel TfidfModel;

// Sparse unit vector: term indices ascending, weights with sum of squares 1 (or no terms).
typedef struct {
    int *terms;
    double *weights;
    int num_terms;
} TfidfVector;

// Fit the vocabulary and idf weights on texts[0..n) (lens[i] bytes each).
TfidfModel *tfidf_fit(const char *const *texts, const size_t *lens, size_t n);
void tfidf_free(TfidfModel *m);
size_t tfidf_vocab_size(const TfidfModel *m);
// idf of a term (already lowercase), or 0 if it is not in the vocabulary.
double tfidf_idf(const TfidfModel *m, const char *term);

// Vector of one text; words outside the fitted vocabulary are ignored. Thread-safe.
void tfidf_transform(const TfidfModel *m, const char *text, size_t len, TfidfVector *out);
void tfidf_vector_free(TfidfVector *v);
// Dot product of two unit vectors = their cosine (0 when either has no known word).
double tfidf_cosine(const TfidfVector *a, const TfidfVector *b);
// Convenience: cosine between the vectors of two texts.
double tfidf_similarity(const TfidfModel *m, const char *a, size_t alen, const char *b, size_t blen);

// The words of a text as sklearn's analyzer finds them (lowercased, UTF-8, each NUL-terminated),
// for tests and debugging. Returns the count; *words_out is malloc'd (free each, then the array).
size_t tfidf_analyze(const char *text, size_t len, char ***words_out);

#endif
