// Attention of a few new queries per row against a KV cache (inference: the GPU evaluator's
// prefill-then-decode generation and exposure scoring, llmc/memorization_cuda.cu), fp32. The cache
// of one layer is (rows, len, C): row r's key of token t at kc + (r * len + t) * C, heads side by
// side as in qkv. Rows of a batch may hold different numbers of cached tokens (row_past).
// Two versions of the attention, both with a fixed order of every sum (no atomics):
//   1: one thread per key for the scores, HS-lane groups for the weighted values (scalar loads);
//   2: the same split with 16-byte loads, and HS/4-lane groups, so that 4x more value rows are in
//      flight (needs HS and C multiples of 4).
// dev/cuda/decode_attention.cu checks both against the CPU's attention_query and times them.
#ifndef LLMC_DECODE_ATTENTION_CUH
#define LLMC_DECODE_ATTENTION_CUH

#include <math.h>
#include "cuda_common.cuh"

#define DECODE_THREADS 128    // threads per (query, head) of the cache attention

// The tokens cached in row b before this pass: past, plus row_past[b] where rows differ (rows of
// different prompt lengths decoding together).
__device__ __forceinline__ int cached_before(const int *row_past, int b, int past) {
    return (row_past ? row_past[b] : 0) + past;
}

// Keys and values of the B*S new tokens (qkv (B,S,3C)) into one layer's cache slab (rows, len, C):
// token s of row b goes to cache row row0 + b, slot cached_before(b) + s.
__global__ void kv_write_kernel(float *kc, float *vc, const float *qkv, int B, int S, int C, int row0, const int *row_past,
                                int past, int len) {
    long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (long long)B * S * C) return;
    long long bs = idx / C;
    int c = (int)(idx % C), b = (int)(bs / S), s = (int)(bs % S);
    long long dst = ((long long)(row0 + b) * len + cached_before(row_past, b, past) + s) * C + c;
    kc[dst] = qkv[bs * 3 * C + C + c];
    vc[dst] = qkv[bs * 3 * C + 2 * C + c];
}


// Where the keys and values of query (blockIdx.x = b*S + s, head blockIdx.y) are: n keys, the
// first n_cached in a cache row (key j at ck + j*C), the rest the row's own new ones (key j at
// own_k + (j - n_cached)*3C); values likewise. Also loads the query into q (HS floats of shared
// memory) and syncs the block.
struct QueryKeys {
    int n, n_cached;
    const float *ck, *cv, *own_k, *own_v;
};
__device__ __forceinline__ QueryKeys query_keys(float *q, const float *qkv, const float *kc, const float *vc, int S, int C,
                                                int HS, int len, int row0, const int *row_past, int past, int prefix_row) {
    const int bs = blockIdx.x, h = blockIdx.y, b = bs / S, s = bs % S;
    const int p = cached_before(row_past, b, past);
    QueryKeys k;
    k.n = p + s + 1;
    k.n_cached = prefix_row < 0 ? k.n : p;
    const long long crow = prefix_row < 0 ? row0 + b : prefix_row;
    k.ck = kc + crow * len * C + h * HS;
    k.cv = vc + crow * len * C + h * HS;
    k.own_k = qkv + (long long)b * S * 3 * C + C + h * HS;
    k.own_v = k.own_k + C;
    for (int d = threadIdx.x; d < HS; d += blockDim.x) q[d] = qkv[(long long)bs * 3 * C + h * HS + d];
    __syncthreads();
    return k;
}

// The scores w[0..n) (this thread's max of its own in local_max) become exp(w - max) in place;
// returns 1 / their sum to every thread. Its last block_reduce also orders the w[] writes before
// any thread reads them. red: DECODE_THREADS floats of scratch.
__device__ __forceinline__ float softmax_in_place(float *w, int n, float local_max, float *red) {
    const float maxv = block_reduce(local_max, red, MaxOp());
    float local_sum = 0.0f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        float e = expf(w[j] - maxv);
        w[j] = e;
        local_sum += e;
    }
    return 1.0f / block_reduce(local_sum, red, SumOp());
}

// Attention of new queries against the KV cache. grid (B*S, NH), block DECODE_THREADS.
// Query s of row b (qkv (B,S,3C)) attends to p + s + 1 keys, p = cached_before(row_past, b, past):
//   prefix_row < 0: all of them in cache row row0 + b, slots 0 .. p+s (the new keys were written
//                   there first): decoding and appending to a cached context;
//   prefix_row >= 0: slots 0 .. past-1 of cache row prefix_row (a context shared by every row),
//                   then the row's own new keys 0..s straight from qkv: exposure candidates
//                   (row_past NULL).
// Shared memory: HS (query) + max_keys (weights) + DECODE_THREADS (reductions) floats.
__global__ void __launch_bounds__(DECODE_THREADS)
cache_attention_kernel(float *out, const float *qkv, const float *kc, const float *vc, int S, int C, int HS, int len,
                       int row0, const int *row_past, int past, int prefix_row, int max_keys, float scale) {
    extern __shared__ float smem[];
    float *q = smem, *w = smem + HS, *red = smem + HS + max_keys;
    const int bs = blockIdx.x, h = blockIdx.y, tid = threadIdx.x;
    const QueryKeys qk = query_keys(q, qkv, kc, vc, S, C, HS, len, row0, row_past, past, prefix_row);
    const int n = qk.n, n_cached = qk.n_cached;
    const float *ck = qk.ck, *cv = qk.cv, *own_k = qk.own_k, *own_v = qk.own_v;
    float local_max = -INFINITY;
    for (int j = tid; j < n; j += blockDim.x) {
        const float *k = j < n_cached ? ck + (long long)j * C : own_k + (long long)(j - n_cached) * 3 * C;
        float dot = 0.0f;
        for (int i = 0; i < HS; i++) dot += q[i] * k[i];
        w[j] = dot * scale;
        local_max = fmaxf(local_max, w[j]);
    }
    const float inv = softmax_in_place(w, n, local_max, red);
    // output: G = blockDim/HS groups of HS lanes; group g sums keys g, g+G, ...; groups added in order
    const int G = blockDim.x / HS, d = tid % HS, g = tid / HS;
    float acc = 0.0f;
    if (g < G)
        for (int j = g; j < n; j += G) {
            const float *v = j < n_cached ? cv + (long long)j * C : own_v + (long long)(j - n_cached) * 3 * C;
            acc += (w[j] * inv) * v[d];
        }
    red[tid] = acc;
    __syncthreads();
    if (g == 0) {
        float total = 0.0f;
        for (int gg = 0; gg < G; gg++) total += red[gg * HS + d];
        out[(long long)bs * C + h * HS + d] = total;
    }
}

// Version 2 of cache_attention_kernel (same arguments, same keys and values, another order of the
// sums): scores with float4 loads of each key; weighted values by G = DECODE_THREADS / (HS/4)
// groups of HS/4 threads, each thread a float4 of the head, group g summing keys g, g+G, ...; the
// G partial rows added in group order. Shared memory: decode_attention_smem(2, HS, max_keys).
__global__ void __launch_bounds__(DECODE_THREADS)
cache_attention_vec_kernel(float *out, const float *qkv, const float *kc, const float *vc, int S, int C, int HS, int len,
                           int row0, const int *row_past, int past, int prefix_row, int max_keys, float scale) {
    extern __shared__ __align__(16) float smem[];
    const int keys_padded = (max_keys + 3) & ~3;  // the float4 scratch below starts 16-byte aligned
    float *q = smem, *w = smem + HS, *red = smem + HS + keys_padded;
    const int bs = blockIdx.x, h = blockIdx.y, tid = threadIdx.x;
    const QueryKeys qk = query_keys(q, qkv, kc, vc, S, C, HS, len, row0, row_past, past, prefix_row);
    const int n = qk.n, n_cached = qk.n_cached;
    const float *ck = qk.ck, *cv = qk.cv, *own_k = qk.own_k, *own_v = qk.own_v;
    const int H4 = HS / 4;
    const float4 *q4 = reinterpret_cast<const float4 *>(q);
    float local_max = -INFINITY;
    for (int j = tid; j < n; j += blockDim.x) {
        const float4 *k4 = reinterpret_cast<const float4 *>(j < n_cached ? ck + (long long)j * C
                                                                         : own_k + (long long)(j - n_cached) * 3 * C);
        float dot = 0.0f;
        for (int i = 0; i < H4; i++) {
            const float4 a = q4[i], k = k4[i];
            dot += a.x * k.x; dot += a.y * k.y; dot += a.z * k.z; dot += a.w * k.w;
        }
        w[j] = dot * scale;
        local_max = fmaxf(local_max, w[j]);
    }
    const float inv = softmax_in_place(w, n, local_max, red);
    const int G = blockDim.x / H4, g = tid / H4, d4 = tid % H4;     // H4 divides DECODE_THREADS: every thread has a group
    float4 acc = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    for (int j = g; j < n; j += G) {
        const float4 v = reinterpret_cast<const float4 *>(j < n_cached ? cv + (long long)j * C
                                                                       : own_v + (long long)(j - n_cached) * 3 * C)[d4];
        const float pj = w[j] * inv;
        acc.x += pj * v.x; acc.y += pj * v.y; acc.z += pj * v.z; acc.w += pj * v.w;
    }
    float4 *red4 = reinterpret_cast<float4 *>(red);  // G * H4 = DECODE_THREADS float4
    red4[tid] = acc;
    __syncthreads();
    if (tid < H4) {
        float4 total = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        for (int gg = 0; gg < G; gg++) {
            const float4 r = red4[gg * H4 + tid];
            total.x += r.x; total.y += r.y; total.z += r.z; total.w += r.w;
        }
        reinterpret_cast<float4 *>(out + (long long)bs * C + h * HS)[tid] = total;
    }
}

// Bytes of dynamic shared memory either version needs for max_keys keys.
static size_t decode_attention_smem(int version, int HS, int max_keys) {
    if (version == 1) return (size_t)(HS + max_keys + DECODE_THREADS) * sizeof(float);
    return (size_t)(HS + ((max_keys + 3) & ~3) + 4 * DECODE_THREADS) * sizeof(float);
}

// Whether version 2 can run this shape (16-byte aligned heads, every thread in a value group).
static int decode_attention_vec_supported(int HS, int C) {
    return HS % 4 == 0 && C % 4 == 0 && DECODE_THREADS % (HS / 4) == 0 && HS / 4 <= DECODE_THREADS;
}

// The attention of N = B*S queries, NH heads (grid (N, NH)); smem from decode_attention_smem.
static void decode_attention_forward(int version, float *out, const float *qkv, const float *kc, const float *vc, int B,
                                     int S, int C, int NH, int len, int row0, const int *row_past, int past, int prefix_row,
                                     int max_keys, size_t smem, cudaStream_t stream) {
    const int HS = C / NH;
    const float scale = 1.0f / sqrtf((float)HS);
    dim3 grid((unsigned)((long long)B * S), (unsigned)NH);
    launch_with_smem(version == 2 ? cache_attention_vec_kernel : cache_attention_kernel, grid, DECODE_THREADS, smem, stream,
                     out, qkv, kc, vc, S, C, HS, len, row0, row_past, past, prefix_row, max_keys, scale);
}

#endif
