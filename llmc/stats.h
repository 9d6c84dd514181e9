// Confidence intervals for the evaluator's aggregates: Wilson score intervals for rates and a
// seeded percentile bootstrap for means. Deterministic: the same inputs and seed give the same
// numbers on every machine (tests/test_memorization.sh recomputes both in Python).
#ifndef LLMC_STATS_H
#define LLMC_STATS_H

#include <stddef.h>
#include <stdint.h>

// z for a two-sided 95% interval (the 0.975 quantile of the standard normal).
#define STATS_Z95 1.959963984540054

typedef struct {
    double value;     // the point estimate (rate or mean)
    double low, high; // the interval
} Estimate;

// Wilson score interval for successes out of n trials. n == 0 gives value 0 and [0, 1].
Estimate wilson_interval(size_t successes, size_t n, double z);

// splitmix64: small, fast, and trivial to reproduce in Python for the tests.
typedef struct { uint64_t state; } StatsRng;
void stats_rng_seed(StatsRng *r, uint64_t seed);
uint64_t stats_rng_next(StatsRng *r);

// Percentile bootstrap of the mean of x[0..n): num_resamples means of n draws with replacement
// (draw index = next() % n), the interval is their (1-level)/2 and (1+level)/2 quantiles with
// linear interpolation (numpy's default). value is the plain mean. n == 0 gives NaN everywhere;
// n == 1 gives a zero-width interval.
Estimate bootstrap_mean(const double *x, size_t n, int num_resamples, double level, uint64_t seed);

// Quantile q in [0,1] of sorted[0..n) with linear interpolation between order statistics.
double quantile_sorted(const double *sorted, size_t n, double q);

double mean_of(const double *x, size_t n);

#endif
