#include "stats.h"
#include "utils.h"

#include <math.h>
#include <stdlib.h>

Estimate wilson_interval(size_t successes, size_t n, double z) {
    Estimate e = {0.0, 0.0, 1.0};
    if (n == 0) return e;
    double nn = (double)n;
    double p = (double)successes / nn;
    double z2 = z * z;
    double denom = 1.0 + z2 / nn;
    double center = (p + z2 / (2.0 * nn)) / denom;
    double half = z * sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn)) / denom;
    e.value = p;
    e.low = fmax(0.0, center - half);
    e.high = fmin(1.0, center + half);
    // at the ends the exact bounds are 0 and 1; rounding must not put p outside its interval
    if (successes == 0) e.low = 0.0;
    if (successes == n) e.high = 1.0;
    return e;
}

void stats_rng_seed(StatsRng *r, uint64_t seed) { r->state = seed; }

uint64_t stats_rng_next(StatsRng *r) {
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double mean_of(const double *x, size_t n) {
    if (n == 0) return NAN;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += x[i];
    return sum / (double)n;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double quantile_sorted(const double *sorted, size_t n, double q) {
    if (n == 0) return NAN;
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    if (lo >= n - 1) return sorted[n - 1];
    double frac = pos - (double)lo;
    return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

Estimate bootstrap_mean(const double *x, size_t n, int num_resamples, double level, uint64_t seed) {
    Estimate e = {NAN, NAN, NAN};
    if (n == 0) return e;
    e.value = mean_of(x, n);
    if (n == 1 || num_resamples < 2) { e.low = e.high = e.value; return e; }
    double *means = malloc_or_die((size_t)num_resamples * sizeof(double));
    StatsRng rng;
    stats_rng_seed(&rng, seed);
    for (int b = 0; b < num_resamples; b++) {
        double sum = 0.0;
        for (size_t i = 0; i < n; i++) sum += x[stats_rng_next(&rng) % n];
        means[b] = sum / (double)n;
    }
    qsort(means, (size_t)num_resamples, sizeof(double), compare_doubles);
    e.low = quantile_sorted(means, (size_t)num_resamples, (1.0 - level) / 2.0);
    e.high = quantile_sorted(means, (size_t)num_resamples, (1.0 + level) / 2.0);
    free(means);
    return e;
}
