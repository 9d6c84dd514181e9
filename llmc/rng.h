// Small deterministic random number generator shared by every program: splitmix64 to spread the
// seed, xorshift64* for the stream, uniform floats from the top 24 bits and Box-Muller normals.
// The whole state is one uint64_t, so saving/restoring it (train state) is trivial.
#ifndef LLMC_RNG_H
#define LLMC_RNG_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t state;  // never 0 (xorshift would stay at 0 forever)
} Rng;

// splitmix64 step: turns nearby seeds (0, 1, 2...) into unrelated states.
static inline uint64_t rng_splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline void rng_seed(Rng *r, uint64_t seed) {
    uint64_t s = seed;
    r->state = rng_splitmix64(&s);
    if (r->state == 0) r->state = 0x2545F4914F6CDD1DULL;
}

// xorshift64* (Vigna): 64-bit output, period 2^64 - 1.
static inline uint64_t rng_u64(Rng *r) {
    uint64_t x = r->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static inline uint32_t rng_u32(Rng *r) { return (uint32_t)(rng_u64(r) >> 32); }

// Uniform in [0, 1): 24 random bits, exactly representable as float.
static inline float rng_uniform(Rng *r) { return (float)(rng_u64(r) >> 40) * (1.0f / 16777216.0f); }

// Uniform integer in [0, n) without modulo bias (rejection sampling); n > 0.
static inline uint64_t rng_below(Rng *r, uint64_t n) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do { x = rng_u64(r); } while (x >= limit);
    return x % n;
}

// Standard normal by Box-Muller (one value per call; the partner value is dropped so that the
// stream position depends only on the number of calls). Computed in double for accuracy.
static inline float rng_normal(Rng *r) {
    double u1 = ((double)(rng_u64(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);  // (0, 1]
    double u2 = (double)(rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);          // [0, 1)
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

// Fisher-Yates shuffle of an int array.
static inline void rng_shuffle_int(Rng *r, int *a, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rng_below(r, i);
        int t = a[i - 1]; a[i - 1] = a[j]; a[j] = t;
    }
}

#endif
