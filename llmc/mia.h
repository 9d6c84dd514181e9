// Membership inference: per-example scores and how well they separate members (trained on) from
// non-members (held out). Every score is oriented "higher = more member-like", so one ROC code
// serves all of them. The ROC curve, its AUC and the handling of tied scores follow scikit-learn
// (roc_curve with drop_intermediate=False, roc_auc_score), which tests/test_audit.sh checks.
#ifndef LLMC_MIA_H
#define LLMC_MIA_H

#include <stddef.h>
#include <stdint.h>

#include "stats.h"

// ---- per-example scores (from the per-token NLLs of one teacher-forced pass)

// Mean NLL (nats per token) of n tokens: the "loss" attack uses -loss as its score.
double mia_mean_nll(const float *token_nll, size_t n);

// Min-k% probability (Shi et al. 2024): the mean log-probability of the k_fraction * n least
// likely tokens (at least one). Higher = more member-like. Uses a scratch copy (no side effects).
double mia_min_k_logprob(const float *token_nll, size_t n, double k_fraction);

// Bytes of zlib.compress(text) at the default level (the zlib ratio attack of Carlini et al.
// 2021 divides the mean NLL by it: text that is easy to compress needs no memorization to be
// predicted, so a low loss on it is weaker evidence of membership).
size_t mia_zlib_size(const char *text, size_t len);

// ---- ROC analysis

typedef struct {
    double threshold;  // predict "member" when score >= threshold
    double fpr, tpr;
} RocPoint;

// ROC curve of scores (n) with labels (1 = member, 0 = non-member): the first point is (0, 0)
// at threshold +inf, then one point per distinct score, in decreasing score order (tied scores
// move together, as in scikit-learn). out needs room for n + 1 points; returns the count, or 0
// when either class is empty.
size_t roc_curve(const double *scores, const int *labels, size_t n, RocPoint *out);

// Area under the curve by the trapezoidal rule over roc_curve's points (= probability that a
// random member outscores a random non-member, ties counting one half). NaN if a class is empty.
double roc_auc(const double *scores, const int *labels, size_t n);

// TPR at a false-positive budget, the conservative step: the largest TPR among the curve's points
// with FPR <= max_fpr (no interpolation between points, so the reported TPR is achieved by an
// actual threshold). With fewer than 1 / max_fpr non-members only FPR = 0 qualifies.
double tpr_at_fpr(const RocPoint *points, size_t num_points, double max_fpr);

#define MIA_MAX_FPRS 4

typedef struct {
    Estimate auc;
    int num_fprs;
    double fprs[MIA_MAX_FPRS];
    Estimate tpr_at[MIA_MAX_FPRS];
    size_t num_members, num_non_members;
} MiaResult;

// AUC and TPR at each of fprs (at most MIA_MAX_FPRS), each with a percentile bootstrap interval
// at `level`: every resample draws the members and the non-members separately with replacement
// (index = stats_rng_next() % count; members first, then non-members), from one splitmix64
// stream seeded with `seed`; the interval's ends are the (1 -+ level) / 2 quantiles with linear
// interpolation. num_resamples = 0 gives intervals equal to the point estimate.
MiaResult mia_evaluate(const double *scores, const int *labels, size_t n, const double *fprs, int num_fprs,
                       int num_resamples, double level, uint64_t seed);

#endif
