// SplitMix64: a tiny, fast, well-mixed 64-bit generator (Steele, Lea and Flood, 2014).
// Used wherever memlens needs reproducible randomness from a seed: dataset identifiers, splits,
// shuffles and the text generator. Every stream is derived from (seed, purpose, index), so
// results do not depend on thread count or the order in which work is done.
#ifndef LLMC_SPLITMIX_H
#define LLMC_SPLITMIX_H

#include <stdint.h>

#include "rng.h"

typedef struct {
    uint64_t state;
} SplitMix;

// The same splitmix64 step as llmc/rng.h's seeding, used here as the whole stream.
static inline uint64_t splitmix_next(SplitMix *r) { return rng_splitmix64(&r->state); }

// A stream seeded from several values, so that (seed, 1, 7) and (seed, 7, 1) differ.
static inline SplitMix splitmix_derive(uint64_t seed, uint64_t a, uint64_t b) {
    SplitMix r = {seed};
    uint64_t s = splitmix_next(&r) ^ (a * 0xD1B54A32D192ED03ull);
    r.state = s;
    s = splitmix_next(&r) ^ (b * 0x8CB92BA72F3D8DD7ull);
    r.state = s;
    splitmix_next(&r);
    return r;
}

// Uniform integer in [0, n), n > 0 (Lemire's multiply-shift; the tiny bias is irrelevant here
// because n is at most a few hundred thousand).
static inline uint64_t splitmix_below(SplitMix *r, uint64_t n) {
    return (uint64_t)(((unsigned __int128)splitmix_next(r) * n) >> 64);
}

// Uniform double in [0, 1) with 53 random bits.
static inline double splitmix_uniform(SplitMix *r) {
    return (splitmix_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

#endif
