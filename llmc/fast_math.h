// exp and tanh as plain arithmetic, so loops that call them vectorise (AVX-512/AVX2) without
// -ffast-math. exp: range reduction x = n ln2 + r (|r| <= ln2/2), degree-7 Taylor polynomial for
// e^r (relative error < 1e-8 before rounding, ~2 ulp after), scale by 2^n through the exponent bits.
#ifndef LLMC_FAST_MATH_H
#define LLMC_FAST_MATH_H

#include <stdint.h>

static inline float fast_expf(float x) {
    // Inputs below -87.3 give e^-87.3 ~ 1.2e-38 instead of a subnormal or 0: harmless as a softmax
    // weight, and it keeps 2^n a normal number (n >= -126).
    x = x < -87.3f ? -87.3f : x;
    x = x > 88.0f ? 88.0f : x;  // keeps 2^n finite (n <= 127)
    // n = round(x / ln2) as floor(y + 0.5): y + 126.5 > 0 here, so the int conversion (truncation)
    // is a floor. (Conversions vectorise; floorf/roundf do not without -ffast-math.)
    // A NaN x passes both clamps; its conversion to int would be undefined, so it converts 126.5
    // instead, and the NaN still reaches the result through r.
    float y = x * 1.4426950408889634f + 126.5f;
    y = y == y ? y : 126.5f;
    int32_t ni = (int32_t)y - 126;
    float n = (float)ni;
    // ln2 split in two so n * ln2_hi is exact.
    float r = x - n * 0.693145751953125f;
    r = r - n * 1.428606765330187e-06f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    union { int32_t i; float f; } scale = {.i = (ni + 127) << 23};  // 2^n
    return p * scale.f;
}

// tanh(u) = 1 - 2 / (e^(2u) + 1); |tanh(u)| rounds to 1 beyond |u| = 9. Absolute error ~1e-7.
static inline float fast_tanhf(float u) {
    u = u > 9.0f ? 9.0f : u;
    u = u < -9.0f ? -9.0f : u;
    return 1.0f - 2.0f / (fast_expf(2.0f * u) + 1.0f);
}

#endif
