// Exposure of identifiers (Carlini et al. 2019, "The Secret Sharer"): how much more likely the
// model finds an example's true closing identifier than other identifiers of the same form.
//   rank     = 1 + number of candidates whose log-likelihood is >= the true one's (ties count
//              against the true identifier, so exposure is never overstated)
//   exposure = log2(num_candidates) - log2(rank), where num_candidates counts the true one too;
//              0 .. log2(num_candidates) bits, about 1/ln 2 = 1.44 bits on average by chance.
//   estimate = -log2 P(X >= true log-likelihood), X skew-normal fitted to the other candidates'
//              log-likelihoods: extrapolates beyond the rank-1 ceiling of a finite candidate set.
// The candidates' log-likelihoods come from the model with the context's KV cache computed once.
#ifndef LLMC_EXPOSURE_H
#define LLMC_EXPOSURE_H

#include <stddef.h>
#include <stdint.h>

#include "gpt2_infer.h"
#include "tokenizer.h"

#define EXPOSURE_ID_SPACE 100000   // five-digit identifiers: 00000 .. 99999

// ---- candidate sets

// A seeded random order of all five-digit numbers; the candidates of an example with true
// number t are t plus the first (num_candidates - 1) numbers of this order other than t, so
// every example is ranked against (almost) the same set. num_candidates = EXPOSURE_ID_SPACE
// ranks against every identifier.
typedef struct {
    int num_candidates;          // including the true identifier
    int order[EXPOSURE_ID_SPACE];
} CandidateSet;

void candidate_set_init(CandidateSet *c, int num_candidates, uint64_t seed);
// Writes the num_candidates - 1 other numbers for true number t to out.
void candidate_set_others(const CandidateSet *c, int true_number, int *out);

// ---- rank, exposure and the skew-normal extrapolation

// 1 + #{i : others[i] >= true_score}; NaN scores among the others are not counted.
size_t exposure_rank(double true_score, const double *others, size_t n);
double exposure_from_rank(size_t rank, size_t num_candidates);

typedef struct {
    double location, scale, shape;  // xi, omega > 0, alpha: density 2/omega phi(z) Phi(alpha z), z = (x - xi)/omega
} SkewNormal;

// Method-of-moments fit (mean, standard deviation and skewness of x; the skewness is clipped to
// +-0.99, just inside the family's limit of about +-0.995). NaN values are skipped. Fewer than 3
// finite values or zero spread give scale 0 (then the estimate is not defined).
SkewNormal skewnormal_fit(const double *x, size_t n);
// log P(X >= x) in nats, accurate far into the upper tail (integrates the density in log space).
double skewnormal_log_sf(SkewNormal d, double x);
// -log2 P(X >= true_score) under d; NaN when d.scale is 0.
double exposure_estimate(SkewNormal d, double true_score);

// ---- scoring identifiers with the model

// Scores continuations of one context with the model: a KV cache whose row 0 holds the context,
// and scratch buffers kept between calls (allocating them per example costs more than small
// models take to score).
typedef struct {
    GPT2Infer infer;
    size_t rows, max_keys;    // capacities of the scratch below
    float *x, *ln, *qkv, *atty, *proj, *fch, *mean, *rstd; // (rows, C or 3C or 4C)
    float *logits;            // (rows, Vp)
    float *scores;            // (threads, max_keys) attention weights
} ContinuationScorer;

// max_len: the longest context plus the longest candidate.
void continuation_scorer_init(ContinuationScorer *s, const GPT2 *model, int max_len);
void continuation_scorer_free(ContinuationScorer *s);

// Log-likelihoods (nats) of M token sequences, each a continuation of the same context: the
// context (P tokens at positions[0..P), e.g. their original record positions) is run once into
// the KV cache; the leading tokens shared by every candidate are run once on top of it, and only
// the differing tails run per candidate, batch_size candidates at a time. Candidate token t takes
// position positions[P-1] + 1 + t. A candidate whose inputs would need a position beyond the
// model's max_seq_len gets NaN. Returns the number of NaN (unscorable) candidates.
size_t score_continuations(ContinuationScorer *sc, const int *context, const int *positions, int P,
                           const int *const *candidates, const int *lengths, int M, int batch_size,
                           double *loglik);

// ---- one example, end to end

// Token ids of "[SYNTHETIC_EXAMPLE_NNNNN]" for every number, encoded on first use exactly as
// generate_dataset encodes the marker (on its own: the generator only keeps texts whose closing
// tokens equal the marker's own encoding).
typedef struct {
    const Tokenizer *tokenizer;
    int *tokens[EXPOSURE_ID_SPACE];
    int lengths[EXPOSURE_ID_SPACE];
} IdentifierTokens;

void identifier_tokens_init(IdentifierTokens *it, const Tokenizer *t);
const int *identifier_tokens(IdentifierTokens *it, int number, int *length);
void identifier_tokens_free(IdentifierTokens *it);

typedef struct {
    double true_loglik;      // log p(true identifier | context), nats
    size_t rank;             // among the scorable candidates (1 = most likely)
    size_t num_candidates;   // scorable candidates, the true one included
    size_t unscorable;       // candidates that would need positions beyond the model's range
    double exposure;         // log2(num_candidates) - log2(rank)
    double estimate;         // skew-normal extrapolation, -log2 P(X >= true_loglik)
    SkewNormal fit;
} ExposureResult;

// A scorer of M continuations after one context, as score_continuations: loglik[i] = log p(tokens[i]
// | context) in nats, NaN where the continuation would need positions beyond the model's range;
// returns how many were NaN. ctx is the caller's (the CPU scorer, or the GPU evaluator's backend).
typedef size_t (*ContinuationScoreFn)(void *ctx, const int *context, const int *positions, int P, const int **tokens,
                                      const int *lengths, int M, double *loglik);

// Exposure of the identifier `true_number` after `context` (P tokens at `positions`, e.g. the
// tokens before the closing identifier where the model saw them in training; the identifier
// takes the positions after the last one): scores the true identifier and the candidate set's
// others with `score`, then ranks the true one and fits the others' distribution.
ExposureResult exposure_of_example(ContinuationScoreFn score, void *score_ctx, const CandidateSet *cs, IdentifierTokens *it,
                                   int true_number, const int *context, const int *positions, int P);

#endif
