#include "mia.h"
#include "utils.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

double mia_mean_nll(const float *token_nll, size_t n) {
    if (n == 0) return NAN;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += token_nll[i];
    return sum / (double)n;
}

static int compare_float_descending(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

double mia_min_k_logprob(const float *token_nll, size_t n, double k_fraction) {
    if (n == 0) return NAN;
    size_t count = (size_t)floor(k_fraction * (double)n);
    if (count < 1) count = 1;
    if (count > n) count = n;
    // the least likely tokens are those with the largest NLL
    float *sorted = malloc_or_die(n * sizeof(float));
    memcpy(sorted, token_nll, n * sizeof(float));
    qsort(sorted, n, sizeof(float), compare_float_descending);
    double sum = 0.0;
    for (size_t i = 0; i < count; i++) sum -= sorted[i];
    free(sorted);
    return sum / (double)count;
}

size_t mia_zlib_size(const char *text, size_t len) {
    uLongf size = compressBound((uLong)len);
    Bytef *buffer = malloc_or_die(size);
    if (compress2(buffer, &size, (const Bytef *)text, (uLong)len, Z_DEFAULT_COMPRESSION) != Z_OK)
        die("zlib: compressing %zu bytes failed (out of memory?)", len);
    free(buffer);
    return (size_t)size;
}

// ---------------------------------------------------------------------------------------------
// ROC

typedef struct { double score; int label; } Scored;

static int compare_scored_descending(const void *a, const void *b) {
    double x = ((const Scored *)a)->score, y = ((const Scored *)b)->score;
    return (x < y) - (x > y);
}

size_t roc_curve(const double *scores, const int *labels, size_t n, RocPoint *out) {
    size_t positives = 0;
    for (size_t i = 0; i < n; i++) positives += labels[i] != 0;
    size_t negatives = n - positives;
    if (positives == 0 || negatives == 0) return 0;
    Scored *s = malloc_or_die(n * sizeof(Scored));
    for (size_t i = 0; i < n; i++) s[i] = (Scored){scores[i], labels[i] != 0};
    qsort(s, n, sizeof(Scored), compare_scored_descending);
    size_t count = 0, tp = 0, fp = 0;
    out[count++] = (RocPoint){INFINITY, 0.0, 0.0};
    for (size_t i = 0; i < n; i++) {
        if (s[i].label) tp++; else fp++;
        // a point only after the last of a run of tied scores: ties cross the threshold together
        if (i + 1 < n && s[i + 1].score == s[i].score) continue;
        out[count++] = (RocPoint){s[i].score, (double)fp / (double)negatives, (double)tp / (double)positives};
    }
    free(s);
    return count;
}

static double auc_of_points(const RocPoint *p, size_t m) {
    double area = 0.0;
    for (size_t i = 1; i < m; i++) area += (p[i].fpr - p[i - 1].fpr) * (p[i].tpr + p[i - 1].tpr) * 0.5;
    return area;
}

double roc_auc(const double *scores, const int *labels, size_t n) {
    RocPoint *points = malloc_or_die((n + 1) * sizeof(RocPoint));
    size_t m = roc_curve(scores, labels, n, points);
    double auc = m ? auc_of_points(points, m) : NAN;
    free(points);
    return auc;
}

double tpr_at_fpr(const RocPoint *points, size_t num_points, double max_fpr) {
    double best = 0.0;
    // FPR and TPR never decrease along the curve; the small slack absorbs 1/3-style rounding
    for (size_t i = 0; i < num_points && points[i].fpr <= max_fpr + 1e-12; i++) best = points[i].tpr;
    return best;
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// Interval of the finite values among samples[0..n) (a resample can never lack a class here,
// since classes are drawn separately, so every value is finite unless a score is NaN).
static Estimate interval_of(double value, double *samples, size_t n, double level) {
    Estimate e = {value, value, value};
    if (n == 0) return e;
    qsort(samples, n, sizeof(double), compare_double);
    e.low = quantile_sorted(samples, n, (1.0 - level) / 2.0);
    e.high = quantile_sorted(samples, n, (1.0 + level) / 2.0);
    return e;
}

MiaResult mia_evaluate(const double *scores, const int *labels, size_t n, const double *fprs, int num_fprs,
                       int num_resamples, double level, uint64_t seed) {
    if (num_fprs < 0 || num_fprs > MIA_MAX_FPRS) die("mia_evaluate: %d FPR budgets, at most %d", num_fprs, MIA_MAX_FPRS);
    MiaResult r;
    memset(&r, 0, sizeof r);
    r.num_fprs = num_fprs;
    for (int f = 0; f < num_fprs; f++) r.fprs[f] = fprs[f];
    size_t *members = malloc_or_die((n ? n : 1) * sizeof(size_t)), *non_members = malloc_or_die((n ? n : 1) * sizeof(size_t));
    for (size_t i = 0; i < n; i++) {
        if (labels[i]) members[r.num_members++] = i;
        else non_members[r.num_non_members++] = i;
    }
    RocPoint *points = malloc_or_die((n + 1) * sizeof(RocPoint));
    size_t m = roc_curve(scores, labels, n, points);
    if (m == 0) { // one class is empty: nothing to separate
        r.auc = (Estimate){NAN, NAN, NAN};
        for (int f = 0; f < num_fprs; f++) r.tpr_at[f] = (Estimate){NAN, NAN, NAN};
        free(members); free(non_members); free(points);
        return r;
    }
    double auc = auc_of_points(points, m), tpr[MIA_MAX_FPRS];
    for (int f = 0; f < num_fprs; f++) tpr[f] = tpr_at_fpr(points, m, fprs[f]);

    double *auc_samples = malloc_or_die((size_t)(num_resamples > 0 ? num_resamples : 1) * sizeof(double));
    double *tpr_samples[MIA_MAX_FPRS];
    for (int f = 0; f < num_fprs; f++) tpr_samples[f] = malloc_or_die((size_t)(num_resamples > 0 ? num_resamples : 1) * sizeof(double));
    double *resampled = malloc_or_die(n * sizeof(double));
    int *resampled_labels = malloc_or_die(n * sizeof(int));
    StatsRng rng;
    stats_rng_seed(&rng, seed);
    for (int b = 0; b < num_resamples; b++) {
        size_t k = 0;
        for (size_t i = 0; i < r.num_members; i++, k++) {
            resampled[k] = scores[members[stats_rng_next(&rng) % r.num_members]];
            resampled_labels[k] = 1;
        }
        for (size_t i = 0; i < r.num_non_members; i++, k++) {
            resampled[k] = scores[non_members[stats_rng_next(&rng) % r.num_non_members]];
            resampled_labels[k] = 0;
        }
        size_t mb = roc_curve(resampled, resampled_labels, n, points);
        auc_samples[b] = auc_of_points(points, mb);
        for (int f = 0; f < num_fprs; f++) tpr_samples[f][b] = tpr_at_fpr(points, mb, fprs[f]);
    }
    size_t num = num_resamples > 0 ? (size_t)num_resamples : 0;
    r.auc = interval_of(auc, auc_samples, num, level);
    for (int f = 0; f < num_fprs; f++) {
        r.tpr_at[f] = interval_of(tpr[f], tpr_samples[f], num, level);
        free(tpr_samples[f]);
    }
    free(auc_samples); free(resampled); free(resampled_labels);
    free(members); free(non_members); free(points);
    return r;
}
