// Shared helpers of the standalone kernel checks in dev/cuda: random data, upload in fp32 or
// bf16, download, relative error against a CPU result, and timing with CUDA events.
// Each check runs one kernel family from llmc/*.cuh against the CPU kernels of llmc/layers_cpu.c
// (themselves checked against PyTorch) and prints "PASS/FAIL name rel err ..." and a time.
#ifndef DEV_CUDA_COMMON_CUH
#define DEV_CUDA_COMMON_CUH

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vector>

#include "llmc/cuda_common.cuh"

static int g_failures = 0;

static std::vector<float> random_vector(size_t n, float scale, uint64_t seed) {
    std::vector<float> v(n);
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 12345;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        v[i] = scale * ((float)((x >> 11) & 0xffffff) / 16777216.0f * 2.0f - 1.0f);
    }
    return v;
}

// Round through floatX so that the CPU sees exactly the values the GPU sees.
template <typename floatX> static float round_to(float x);
template <> float round_to<float>(float x) { return x; }
template <> float round_to<bf16>(float x) { return __bfloat162float(__float2bfloat16_rn(x)); }

template <typename floatX>
static floatX *upload(std::vector<float> &v) {  // also rounds v in place
    std::vector<floatX> tmp(v.size());
    for (size_t i = 0; i < v.size(); i++) { v[i] = round_to<floatX>(v[i]); tmp[i] = (floatX)v[i]; }
    floatX *d;
    cuda_check(cudaMalloc(&d, v.size() * sizeof(floatX)));
    cuda_check(cudaMemcpy(d, tmp.data(), v.size() * sizeof(floatX), cudaMemcpyHostToDevice));
    return d;
}

template <typename floatX>
static std::vector<float> download(const floatX *d, size_t n) {
    std::vector<floatX> tmp(n);
    cuda_check(cudaDeviceSynchronize());
    cuda_check(cudaMemcpy(tmp.data(), d, n * sizeof(floatX), cudaMemcpyDeviceToHost));
    std::vector<float> v(n);
    for (size_t i = 0; i < n; i++) v[i] = (float)tmp[i];
    return v;
}

static void compare(const char *name, const std::vector<float> &got, const float *want, size_t n, double tol) {
    double max_diff = 0.0, max_ref = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (!(d <= max_diff)) max_diff = d;
        if (fabs(want[i]) > max_ref) max_ref = fabs(want[i]);
    }
    double e = max_ref > 0 ? max_diff / max_ref : max_diff;
    int ok = e <= tol;
    printf("%s %-40s rel err %.2e (tol %.0e)\n", ok ? "PASS" : "FAIL", name, e, tol);
    if (!ok) g_failures++;
}

// Mean milliseconds of fn() over `reps` calls after 2 warm-ups.
template <typename F>
static float time_ms(F fn, int reps) {
    for (int i = 0; i < 2; i++) fn();
    cudaEvent_t a, b;
    cuda_check(cudaEventCreate(&a));
    cuda_check(cudaEventCreate(&b));
    cuda_check(cudaEventRecord(a));
    for (int i = 0; i < reps; i++) fn();
    cuda_check(cudaEventRecord(b));
    cuda_check(cudaEventSynchronize(b));
    float ms;
    cuda_check(cudaEventElapsedTime(&ms, a, b));
    return ms / reps;
}

static int arg_int(int argc, char **argv, const char *name, int fallback) {
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return atoi(argv[i + 1]);
    return fallback;
}

static int arg_bf16(int argc, char **argv) {
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--precision") == 0) return strcmp(argv[i + 1], "bf16") == 0;
    return 0;
}

#endif
