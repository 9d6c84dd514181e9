// Self-test of the CPU emulator of CUDA and cuBLASLt (dev/cuda/emu): the emulator is itself the
// test harness of the GPU code, so it needs tests that can fail. Valid CUDA too (nvcc -std=c++17
// -I. dev/cuda/emu/selftest.cu -lcublasLt), so that a GPU can say what the emulator should say.
// One line per check: `PASS name` or `FAIL name: detail`; exit 1 when any check fails.
//   selftest            the positive checks (all must pass)
//   selftest deadlock   a block whose threads wait at different __syncthreads (undefined in CUDA),
//                       the emulator must die with its "deadlock" message
//   selftest race       a missing __syncthreads between a shared-memory write and another warp's
//                       read: exits 1 with "race detected" when a warp read what was not written
//   selftest racefree   the same kernel with the barrier: exits 0
//   selftest uninit_shared   a static __shared__ value read before it is written: the emulator
//                       poisons it in every block (exits 1, "uninitialised shared memory read")
//   selftest launch_bounds   more threads than __launch_bounds__: the emulator dies naming the bound
//   selftest static_smem     static + dynamic shared memory above 48 KiB: the emulator dies
#include "llmc/attention.cuh"  // group_sum, group_mask (and cuda_common.cuh: block_reduce)
#include "llmc/matmul.cuh"

extern "C" {
#include "llmc/splitmix.h"
}

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vector>

static int failures = 0;

static void report(bool ok, const char *name, const char *fmt = "", ...) {
    if (ok) {
        printf("PASS %s\n", name);
        return;
    }
    failures++;
    printf("FAIL %s: ", name);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

// Reproducible pseudo-random numbers uniform in [-1, 1), from the library's SplitMix.
static SplitMix rng = {0x9e3779b97f4a7c15ull};
static float uniform_pm1() { return (float)(2.0 * splitmix_uniform(&rng) - 1.0); }

template <typename T> static T *to_device(const std::vector<T> &h) {
    T *d;
    cuda_check(cudaMalloc(&d, h.size() * sizeof(T)));
    cuda_check(cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
    return d;
}
template <typename T> static std::vector<T> to_host(const T *d, size_t count) {
    std::vector<T> h(count);
    cuda_check(cudaMemcpy(h.data(), d, count * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
}

// ---------------------------------------------------------------------------------------------
// 1. block_reduce: every thread of the block gets the sum of the block's values.

__global__ void block_reduce_kernel(float *out, const float *in) {
    __shared__ float scratch[32];  // blockDim / 32 values
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    out[i] = block_reduce(in[i], scratch, SumOp());
}

static void check_block_reduce(int threads) {
    const int blocks = 3;  // later blocks must not see the earlier ones' scratch
    std::vector<float> in(blocks * threads);
    for (int i = 0; i < blocks * threads; i++) in[i] = (float)((i * 37 + 11) % 201 - 100);  // integers: exact sums
    float *d_in = to_device(in), *d_out;
    cuda_check(cudaMalloc(&d_out, in.size() * sizeof(float)));
    block_reduce_kernel<<<blocks, threads>>>(d_out, d_in);
    cuda_check_launch();
    std::vector<float> out = to_host(d_out, in.size());
    int bad = 0;
    float first_got = 0, first_want = 0;
    for (int b = 0; b < blocks; b++) {
        float want = 0;
        for (int t = 0; t < threads; t++) want += in[b * threads + t];
        for (int t = 0; t < threads; t++)
            if (out[b * threads + t] != want && bad++ == 0) first_got = out[b * threads + t], first_want = want;
    }
    char name[64];
    snprintf(name, sizeof name, "block_reduce_sum_%d", threads);
    report(bad == 0, name, "%d of %d threads got a wrong sum (first: %g, want %g)", bad, blocks * threads, first_got, first_want);
    cuda_check(cudaFree(d_in));
    cuda_check(cudaFree(d_out));
}

// ---------------------------------------------------------------------------------------------
// 2. Shuffles of one full warp, and group_sum over groups of 8 lanes with their own masks.

#define SHUFFLE_FIELDS 13  // per lane: xor 1,2,4,8,16; down 1,2,4,8,16; group sum; xor 16 and idx 3 at width 16

__global__ void shuffle_kernel(int *out) {
    const int lane = threadIdx.x;
    const int v = lane * 3 + 1;
    int *o = out + lane * SHUFFLE_FIELDS;
    for (int s = 0; s < 5; s++) o[s] = __shfl_xor_sync(0xffffffffu, v, 1 << s);
    for (int s = 0; s < 5; s++) o[5 + s] = __shfl_down_sync(0xffffffffu, v, 1u << s);
    o[10] = (int)group_sum<8>((float)v, group_mask<8>());
    o[11] = __shfl_xor_sync(0xffffffffu, v, 16, 16);  // width 16: an earlier segment is read, a later one is not
    o[12] = __shfl_sync(0xffffffffu, v, 3, 16);       // lane 3 of the caller's segment of 16
}

static void check_shuffles() {
    int *d_out;
    cuda_check(cudaMalloc(&d_out, 32 * SHUFFLE_FIELDS * sizeof(int)));
    shuffle_kernel<<<1, 32>>>(d_out);
    cuda_check_launch();
    std::vector<int> out = to_host(d_out, 32 * SHUFFLE_FIELDS);
    int bad_xor = 0, bad_down = 0, bad_group = 0, bad_width = 0;
    for (int lane = 0; lane < 32; lane++) {
        const int *o = &out[lane * SHUFFLE_FIELDS];
        for (int s = 0; s < 5; s++) {
            bad_xor += o[s] != (lane ^ (1 << s)) * 3 + 1;
            const int src = lane + (1 << s) < 32 ? lane + (1 << s) : lane;  // past the warp: the lane's own value
            bad_down += o[5 + s] != src * 3 + 1;
        }
        int want = 0;
        for (int l = lane & ~7; l < (lane & ~7) + 8; l++) want += l * 3 + 1;
        bad_group += o[10] != want;
        bad_width += o[11] != ((lane ^ 16) < (lane / 16 + 1) * 16 ? lane ^ 16 : lane) * 3 + 1;
        bad_width += o[12] != ((lane & ~15) + 3) * 3 + 1;
    }
    report(bad_xor == 0, "shfl_xor_sync", "%d wrong lane values", bad_xor);
    report(bad_down == 0, "shfl_down_sync", "%d wrong lane values", bad_down);
    report(bad_group == 0, "group_sum_mask8", "%d lanes got a wrong group sum", bad_group);
    report(bad_width == 0, "shfl_width16", "%d wrong values from xor / indexed shuffles with width 16", bad_width);
    cuda_check(cudaFree(d_out));
}

// ---------------------------------------------------------------------------------------------
// 3. Indices of a 2D grid of 2D blocks.

#define INDEX_FIELDS 9

__global__ void index_kernel(unsigned *out) {
    const unsigned block = blockIdx.y * gridDim.x + blockIdx.x;
    const unsigned thread = threadIdx.y * blockDim.x + threadIdx.x;
    unsigned *o = out + (block * blockDim.x * blockDim.y + thread) * INDEX_FIELDS;
    o[0] = threadIdx.x, o[1] = threadIdx.y, o[2] = threadIdx.z;
    o[3] = blockIdx.x, o[4] = blockIdx.y;
    o[5] = gridDim.x, o[6] = gridDim.y;
    o[7] = blockDim.x, o[8] = blockDim.y;
}

static void check_indices_2d() {
    const unsigned bx = 32, by = 8, gx = 3, gy = 2;
    const size_t count = (size_t)bx * by * gx * gy * INDEX_FIELDS;
    unsigned *d_out;
    cuda_check(cudaMalloc(&d_out, count * sizeof(unsigned)));
    index_kernel<<<dim3(gx, gy), dim3(bx, by)>>>(d_out);
    cuda_check_launch();
    std::vector<unsigned> out = to_host(d_out, count);
    int bad = 0;
    for (unsigned y = 0; y < gy; y++)
        for (unsigned x = 0; x < gx; x++)
            for (unsigned ty = 0; ty < by; ty++)
                for (unsigned tx = 0; tx < bx; tx++) {
                    const unsigned *o = &out[(((y * gx + x) * by + ty) * bx + tx) * INDEX_FIELDS];
                    const unsigned want[INDEX_FIELDS] = {tx, ty, 0, x, y, gx, gy, bx, by};
                    for (int f = 0; f < INDEX_FIELDS; f++)
                        if (o[f] != want[f] && bad++ < 3)
                            fprintf(stderr, "  block (%u,%u) thread (%u,%u) field %d: %u, want %u\n", x, y, tx, ty, f, o[f], want[f]);
                }
    report(bad == 0, "indices_2d_32x8", "%d wrong index values", bad);
    cuda_check(cudaFree(d_out));
}

// ---------------------------------------------------------------------------------------------
// 4. 64 KiB of dynamic shared memory: refused until cudaFuncSetAttribute raises the 48 KiB limit.

#define BIG_SMEM_FLOATS 16384  // 64 KiB

__global__ void big_smem_kernel(float *out) {
    extern __shared__ float big[];
    for (int i = threadIdx.x; i < BIG_SMEM_FLOATS; i += blockDim.x) big[i] = (float)i;
    __syncthreads();
    out[threadIdx.x] = big[threadIdx.x] + big[BIG_SMEM_FLOATS - 1 - threadIdx.x];  // another thread's writes
}

static void check_big_smem() {
    const int threads = 256;
    float *d_out;
    cuda_check(cudaMalloc(&d_out, threads * sizeof(float)));
    cuda_check(cudaMemset(d_out, 0, threads * sizeof(float)));
    (void)cudaGetLastError();
    big_smem_kernel<<<1, threads, BIG_SMEM_FLOATS * sizeof(float)>>>(d_out);
    cudaError_t err = cudaGetLastError();
    cuda_check(cudaDeviceSynchronize());
    std::vector<float> out = to_host(d_out, threads);
    int ran = 0;
    for (int t = 0; t < threads; t++) ran += out[t] != 0.0f;
    report(err != cudaSuccess && ran == 0, "smem_64k_refused_without_attribute", "launch error %d (%s), %d outputs written",
           (int)err, cudaGetErrorString(err), ran);

    cuda_check(cudaFuncSetAttribute(big_smem_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, BIG_SMEM_FLOATS * (int)sizeof(float)));
    big_smem_kernel<<<1, threads, BIG_SMEM_FLOATS * sizeof(float)>>>(d_out);
    err = cudaGetLastError();
    cuda_check(cudaDeviceSynchronize());
    out = to_host(d_out, threads);
    int bad = 0;
    for (int t = 0; t < threads; t++) bad += out[t] != (float)(BIG_SMEM_FLOATS - 1);
    report(err == cudaSuccess && bad == 0, "smem_64k_with_attribute", "launch error %d (%s), %d wrong outputs", (int)err,
           cudaGetErrorString(err), bad);
    cuda_check(cudaFree(d_out));
}

// ---------------------------------------------------------------------------------------------
// 5. More than 1024 threads per block is an invalid configuration.

__global__ void mark_kernel(int *out) { out[threadIdx.x] = 1; }

static void check_too_many_threads() {
    int *d_out;
    cuda_check(cudaMalloc(&d_out, 2048 * sizeof(int)));
    cuda_check(cudaMemset(d_out, 0, 2048 * sizeof(int)));
    (void)cudaGetLastError();
    mark_kernel<<<1, 2048>>>(d_out);
    cudaError_t err = cudaGetLastError();
    cuda_check(cudaDeviceSynchronize());
    std::vector<int> out = to_host(d_out, 2048);
    int ran = 0;
    for (int t = 0; t < 2048; t++) ran += out[t] != 0;
    report(err != cudaSuccess && ran == 0, "launch_2048_threads_refused", "launch error %d (%s), %d outputs written", (int)err,
           cudaGetErrorString(err), ran);
    cuda_check(cudaFree(d_out));
}

// ---------------------------------------------------------------------------------------------
// 6. cudaMemcpy's device side must be device memory.

static void check_memcpy_kinds() {
    const size_t n = 64;
    std::vector<float> src(n, 1.5f);
    float *not_device = (float *)malloc(n * sizeof(float));
    cudaError_t err = cudaMemcpy(not_device, src.data(), n * sizeof(float), cudaMemcpyHostToDevice);
    (void)cudaGetLastError();  // a GPU records the failed copy as the last error too
    report(err != cudaSuccess, "memcpy_h2d_to_host_pointer_refused", "cudaMemcpy returned %d (%s)", (int)err, cudaGetErrorString(err));
    free(not_device);

    float *d;
    cuda_check(cudaMalloc(&d, n * sizeof(float)));
    err = cudaMemcpy(d, src.data(), n * sizeof(float), cudaMemcpyHostToDevice);
    std::vector<float> back(n, 0.0f);
    cudaError_t err2 = cudaMemcpy(back.data(), d, n * sizeof(float), cudaMemcpyDeviceToHost);
    report(err == cudaSuccess && err2 == cudaSuccess && back == src, "memcpy_h2d_d2h_roundtrip", "errors %d, %d", (int)err, (int)err2);
    cuda_check(cudaFree(d));
}

// ---------------------------------------------------------------------------------------------
// 7. matmul_lt (cuBLASLt) against a double-precision loop: D (m,n) = op(A) op(B) [+ bias] [+ D].

// op(A)[i][p] and op(B)[p][j] in matmul_lt's layouts (column-major; see llmc/matmul.cuh).
static float op_a(const std::vector<float> &a, int m, int k, int trans_a, int i, int p) { return trans_a ? a[(size_t)i * k + p] : a[(size_t)p * m + i]; }
static float op_b(const std::vector<float> &b, int n, int k, int trans_b, int p, int j) { return trans_b ? b[(size_t)p * n + j] : b[(size_t)j * k + p]; }

// Runs one product on the device; d0 is D before the product (read when beta = 1).
static std::vector<float> device_matmul(MatmulContext *ctx, const std::vector<float> &a, const std::vector<float> &b,
                                        const std::vector<float> *bias, const std::vector<float> &d0, int m, int n, int k,
                                        int trans_a, int trans_b, float beta, cublasComputeType_t compute) {
    float *d_a = to_device(a), *d_b = to_device(b), *d_d = to_device(d0);
    float *d_bias = bias ? to_device(*bias) : NULL;
    matmul_lt(ctx, d_d, CUDA_R_32F, d_a, d_b, CUDA_R_32F, d_bias, m, n, k, trans_a, trans_b, beta, 0, compute, 0);
    cuda_check(cudaDeviceSynchronize());
    std::vector<float> out = to_host(d_d, (size_t)m * n);
    cuda_check(cudaFree(d_a));
    cuda_check(cudaFree(d_b));
    cuda_check(cudaFree(d_d));
    if (d_bias) cuda_check(cudaFree(d_bias));
    return out;
}

static void check_matmul(MatmulContext *ctx) {
    const int m = 37, n = 13, k = 29;  // odd: no size is a multiple of a tile
    std::vector<float> a((size_t)m * k), b((size_t)k * n), bias(m), d0((size_t)m * n);
    for (float &x : a) x = uniform_pm1();
    for (float &x : b) x = uniform_pm1();
    for (float &x : bias) x = uniform_pm1();
    for (float &x : d0) x = uniform_pm1();
    for (int trans_a = 0; trans_a < 2; trans_a++)
        for (int trans_b = 0; trans_b < 2; trans_b++)
            for (int with_bias = 0; with_bias < 2; with_bias++)
                for (int beta_one = 0; beta_one < 2; beta_one++) {
                    const float beta = beta_one ? 1.0f : 0.0f;
                    std::vector<float> got = device_matmul(ctx, a, b, with_bias ? &bias : NULL, d0, m, n, k, trans_a, trans_b,
                                                           beta, CUBLAS_COMPUTE_32F);
                    double worst = 0;
                    for (int j = 0; j < n; j++)
                        for (int i = 0; i < m; i++) {
                            // relative to the size of the terms: the sum itself may cancel to near 0
                            double ref = 0, scale = 0;
                            for (int p = 0; p < k; p++) {
                                const double t = (double)op_a(a, m, k, trans_a, i, p) * op_b(b, n, k, trans_b, p, j);
                                ref += t, scale += fabs(t);
                            }
                            if (with_bias) ref += bias[i], scale += fabs(bias[i]);
                            if (beta_one) ref += d0[(size_t)j * m + i], scale += fabs(d0[(size_t)j * m + i]);
                            const double rel = fabs(got[(size_t)j * m + i] - ref) / (scale > 0 ? scale : 1);
                            if (worst == worst && !(rel <= worst)) worst = rel;  // a NaN sticks
                        }
                    char name[96];
                    snprintf(name, sizeof name, "matmul_fp32_%c%c%s_beta%d", trans_a ? 'T' : 'N', trans_b ? 'T' : 'N',
                             with_bias ? "_bias" : "", beta_one);
                    report(worst <= 1e-4, name, "largest relative error %.3g (limit 1e-4)", worst);
                }

    // TF32: A and B rounded to 10 mantissa bits, so each product is off by at most ~2^-10 of
    // itself and the sum by at most 2^-10 of the sum of |terms| (<= k * 2^-10 * the largest term);
    // on random inputs some results must differ from fp32, or the rounding is not active.
    std::vector<float> f32 = device_matmul(ctx, a, b, &bias, d0, m, n, k, 0, 0, 0.0f, CUBLAS_COMPUTE_32F);
    std::vector<float> tf32 = device_matmul(ctx, a, b, &bias, d0, m, n, k, 0, 0, 0.0f, CUBLAS_COMPUTE_32F_FAST_TF32);
    int differ = 0, over = 0;
    double worst = 0;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double scale = 0;
            for (int p = 0; p < k; p++) scale += fabs((double)op_a(a, m, k, 0, i, p) * op_b(b, n, k, 0, p, j));
            const float x = f32[(size_t)j * m + i], y = tf32[(size_t)j * m + i];
            const double diff = fabs((double)x - y), limit = scale * (ldexp(1.0, -10) + k * ldexp(1.0, -23));
            differ += memcmp(&x, &y, sizeof x) != 0;
            over += !(diff <= limit);
            if (scale > 0 && diff / scale > worst) worst = diff / scale;
        }
    report(over == 0, "matmul_tf32_within_2^-10", "%d of %d results further from fp32 than 2^-10 of the terms' size (worst %.3g)",
           over, m * n, worst);
    report(differ > 0, "matmul_tf32_rounding_active", "all %d results bitwise equal to fp32: TF32 rounding not applied", m * n);
    printf("  (tf32 vs fp32: %d of %d results differ, largest difference %.3g of the terms' size, 2^-10 = %.3g)\n", differ, m * n,
           worst, ldexp(1.0, -10));
}

// ---------------------------------------------------------------------------------------------
// `deadlock`: threads 0..63 pass one barrier and leave; threads 64..127 wait at a second one that
// the first half never reaches. CUDA requires every thread of the block at the same __syncthreads
// (a divergent barrier is undefined: it may hang, or pass by accident, on a GPU); the emulator must
// die naming a deadlock before the kernel returns.

__global__ void divergent_barrier_kernel(int *out) {
    // Each branch stores before its barrier, so that a host compiler cannot merge the two first
    // __syncthreads calls into one (to the emulator they are plain calls, not convergent ones).
    if (threadIdx.x < 64) {
        out[threadIdx.x] = 1;
        __syncthreads();
        out[threadIdx.x] = 2;
    } else {
        out[threadIdx.x] = 3;
        __syncthreads();
        out[threadIdx.x] = 4;
        __syncthreads();  // the second barrier: threads 0..63 never come
        out[threadIdx.x] = 5;
    }
}

static int run_deadlock() {
    int *d_out;
    cuda_check(cudaMalloc(&d_out, 128 * sizeof(int)));
    divergent_barrier_kernel<<<1, 128>>>(d_out);
    cuda_check_launch();
    cuda_check(cudaDeviceSynchronize());
    // Only reached when nothing stopped the kernel (the word the shell test greps is avoided here,
    // so that this line cannot pass for the emulator's report).
    printf("FAIL divergent_barrier: the kernel with mismatched __syncthreads ran to completion, no hang reported\n");
    return 1;
}

// ---------------------------------------------------------------------------------------------
// `race` / `racefree`: warp w writes shared slot w, then reads the slot of warp (w + 1) % warps;
// without the barrier between, a warp that runs ahead reads a slot not yet written (the emulator
// poisons dynamic shared memory with NaN, and runs each warp as far as the barriers allow).

__global__ void neighbour_slot_kernel(float *out, int with_barrier) {
    extern __shared__ float slot[];
    const int warp = threadIdx.x / 32, warps = blockDim.x / 32;
    if (threadIdx.x % 32 == 0) slot[warp] = (float)(100 * blockIdx.x + warp);
    if (with_barrier) __syncthreads();  // uniform over the block
    out[blockIdx.x * blockDim.x + threadIdx.x] = slot[(warp + 1) % warps];
}

static int run_race(int with_barrier) {
    const int blocks = 2, warps = 4, threads = 32 * warps;
    float *d_out;
    cuda_check(cudaMalloc(&d_out, blocks * threads * sizeof(float)));
    neighbour_slot_kernel<<<blocks, threads, warps * sizeof(float)>>>(d_out, with_barrier);
    cuda_check_launch();
    std::vector<float> out = to_host(d_out, (size_t)blocks * threads);
    int bad = 0;
    for (int blk = 0; blk < blocks; blk++)
        for (int w = 0; w < warps; w++) {
            const float want = (float)(100 * blk + (w + 1) % warps);
            int wrong = 0;
            for (int l = 0; l < 32; l++) wrong += !(out[(blk * warps + w) * 32 + l] == want);
            printf("block %d warp %d read %g (want %g)%s\n", blk, w, out[(blk * warps + w) * 32], want,
                   wrong ? " <- wrong" : "");
            bad += wrong;
        }
    cuda_check(cudaFree(d_out));
    if (bad) {
        printf("race detected: %d of %d threads read a slot before its warp wrote it\n", bad, blocks * threads);
        return 1;
    }
    printf("no race: every warp read its neighbour's slot\n");
    return 0;
}

// ---------------------------------------------------------------------------------------------
// `uninit_shared`: a kernel that reads a static __shared__ value before any thread wrote it (in the
// next statement thread 0 writes it). Undefined on a GPU; the emulator fills shared memory with 0xff
// bytes at every block start, so every block must read a NaN, never 0 or the previous block's 42.

__global__ void uninit_shared_kernel(float *out) {
    __shared__ float acc;
    if (threadIdx.x == 0) {
        out[blockIdx.x] = acc;  // the bug under test: acc was never written in this block
        acc = 42.0f;
    }
}

static int run_uninit_shared() {
    const int blocks = 3;
    float *d_out;
    cuda_check(cudaMalloc(&d_out, blocks * sizeof(float)));
    uninit_shared_kernel<<<blocks, 32>>>(d_out);
    cuda_check_launch();
    std::vector<float> out = to_host(d_out, blocks);
    cuda_check(cudaFree(d_out));
    int nan = 0;
    for (int b = 0; b < blocks; b++) {
        printf("block %d read %g\n", b, out[b]);
        nan += isnan(out[b]);
    }
    if (nan == blocks) {
        printf("uninitialised shared memory read: every block read the poison\n");
        return 1;
    }
    return 0;
}

// `launch_bounds`: 256 threads for a kernel declared __launch_bounds__(128). The launch fails on a
// GPU; the emulator must die naming the bound.
__global__ void __launch_bounds__(128) bounded_kernel(int *out) { out[threadIdx.x] = 1; }

static int run_launch_bounds() {
    int *d_out;
    cuda_check(cudaMalloc(&d_out, 256 * sizeof(int)));
    bounded_kernel<<<1, 256>>>(d_out);
    const cudaError_t err = cudaGetLastError();
    cuda_check(cudaFree(d_out));
    printf("launch of 256 threads past __launch_bounds__(128): %s\n", cudaGetErrorString(err));
    return err == cudaSuccess ? 0 : 1;
}

// `static_smem`: 32 KiB of static __shared__ plus 20 KiB of dynamic shared memory, past the 48 KiB a
// block gets without cudaFuncSetAttribute. The launch fails on a GPU; the emulator must die.
__global__ void static_smem_kernel(float *out) {
    __shared__ float table[8192];
    extern __shared__ float extra[];
    table[threadIdx.x] = 1.0f;
    extra[threadIdx.x] = 2.0f;
    __syncthreads();
    out[threadIdx.x] = table[threadIdx.x] + extra[threadIdx.x];
}

static int run_static_smem() {
    float *d_out;
    cuda_check(cudaMalloc(&d_out, 32 * sizeof(float)));
    static_smem_kernel<<<1, 32, 20 * 1024>>>(d_out);
    const cudaError_t err = cudaGetLastError();
    cuda_check(cudaFree(d_out));
    printf("launch with 32 KiB static + 20 KiB dynamic shared memory: %s\n", cudaGetErrorString(err));
    return err == cudaSuccess ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "deadlock") == 0) return run_deadlock();
    if (strcmp(mode, "race") == 0) return run_race(0);
    if (strcmp(mode, "racefree") == 0) return run_race(1);
    if (strcmp(mode, "uninit_shared") == 0) return run_uninit_shared();
    if (strcmp(mode, "launch_bounds") == 0) return run_launch_bounds();
    if (strcmp(mode, "static_smem") == 0) return run_static_smem();
    if (*mode) {
        fprintf(stderr, "usage: selftest [deadlock | race | racefree | uninit_shared | launch_bounds | static_smem]\n");
        return 2;
    }
    check_block_reduce(256);
    check_block_reduce(1024);
    check_shuffles();
    check_indices_2d();
    check_big_smem();
    check_too_many_threads();
    check_memcpy_kinds();
    MatmulContext ctx;
    matmul_context_init(&ctx);
    check_matmul(&ctx);
    matmul_context_free(&ctx);
    printf("%s (%d failed)\n", failures ? "FAILED" : "all passed", failures);
    return failures ? 1 : 0;
}
