// Causal self-attention without the (T,T) matrix in global memory (flash-attention style):
// the forward pass streams key/value tiles through shared memory with an online softmax and
// keeps only the log-sum-exp of each query row (B,NH,T); the backward pass recomputes the
// probabilities from it. All arithmetic is fp32; no atomics (dQ and dK/dV are separate kernels
// that each own their output rows), so results are bitwise repeatable.
//
// Layout as in the CPU code: qkv (B,T,3C) holds q | k | v, head h at columns h*HS .. h*HS+HS-1
// of each third; out (B,T,C). HS = C/NH is a template parameter (16, 32, 64, 128).
// Each row (query or key) is owned by a group of G = HS/16 consecutive lanes, 16 dims each;
// dot products are reduced inside the group with a fixed butterfly, so every lane of the group
// sees the same bits.
#ifndef LLMC_ATTENTION_CUH
#define LLMC_ATTENTION_CUH

#include <math.h>
#include "cuda_common.cuh"

#define ATTN_DIMS_PER_THREAD 16
#define ATTN_ROWS_PER_BLOCK 64      // query rows (forward, dQ) or key rows (dK/dV) per block
#define ATTN_TILE_FLOATS 4096       // one shared tile: (4096 / HS) rows x HS floats = 16 KiB

template <int G>
__device__ __forceinline__ float group_sum(float v, unsigned mask) {
#pragma unroll
    for (int offset = G / 2; offset > 0; offset >>= 1) v += __shfl_xor_sync(mask, v, offset);
    return v;
}

template <int G>
__device__ __forceinline__ unsigned group_mask() {
    int lane = threadIdx.x & 31;
    return G >= 32 ? 0xffffffffu : (((1u << G) - 1u) << (lane & ~(G - 1)));
}

// Cooperative load of rows [first, first + rows) of one third (which = 0 q, 1 k, 2 v) of head h in
// batch row b into tile (rows, HS) as fp32; rows past T are zero.
template <typename floatX, int HS>
__device__ void load_tile(float *tile, const floatX *qkv, int b, int h, int which, int first, int rows, int T, int C) {
    for (int e = threadIdx.x; e < rows * HS; e += blockDim.x) {
        int r = e / HS, d = e % HS, t = first + r;
        tile[e] = t < T ? to_float(qkv[((long long)b * T + t) * 3 * C + which * C + h * HS + d]) : 0.0f;
    }
}

// grid (ceil(T/64), B*NH), block 64*G. out (B,T,C), lse (B,NH,T).
template <typename floatX, int HS>
__global__ void __launch_bounds__(ATTN_ROWS_PER_BLOCK * (HS / ATTN_DIMS_PER_THREAD))
attention_forward_kernel(floatX *out, float *lse, const floatX *qkv, int B, int T, int NH, float scale) {
    constexpr int G = HS / ATTN_DIMS_PER_THREAD, D = ATTN_DIMS_PER_THREAD, BC = ATTN_TILE_FLOATS / HS;
    __shared__ float k_tile[ATTN_TILE_FLOATS], v_tile[ATTN_TILE_FLOATS];
    int C = NH * HS;
    int b = blockIdx.y / NH, h = blockIdx.y % NH;
    int row = threadIdx.x / G, part = threadIdx.x % G;
    int first_query = blockIdx.x * ATTN_ROWS_PER_BLOCK;
    int i = first_query + row;
    bool valid = i < T;
    unsigned mask = group_mask<G>();

    float q[D], o[D];
    const floatX *qrow = qkv + ((long long)b * T + (valid ? i : 0)) * 3 * C + h * HS + part * D;
#pragma unroll
    for (int d = 0; d < D; d++) { q[d] = valid ? to_float(qrow[d]) : 0.0f; o[d] = 0.0f; }
    float m = -INFINITY, l = 0.0f;

    int last_key = min(T - 1, first_query + ATTN_ROWS_PER_BLOCK - 1);
    for (int kt = 0; kt <= last_key; kt += BC) {
        __syncthreads();  // the previous tile is no longer read
        load_tile<floatX, HS>(k_tile, qkv, b, h, 1, kt, BC, T, C);
        load_tile<floatX, HS>(v_tile, qkv, b, h, 2, kt, BC, T, C);
        __syncthreads();
        int count = valid ? min(BC, i - kt + 1) : 0;  // causal: keys kt .. i
        for (int j = 0; j < count; j++) {
            const float *kj = k_tile + j * HS + part * D, *vj = v_tile + j * HS + part * D;
            float s = 0.0f;
#pragma unroll
            for (int d = 0; d < D; d++) s += q[d] * kj[d];
            s = group_sum<G>(s, mask) * scale;
            float m_new = fmaxf(m, s);
            float correction = expf(m - m_new);  // 0 on the first key (m = -inf)
            float p = expf(s - m_new);
            l = l * correction + p;
#pragma unroll
            for (int d = 0; d < D; d++) o[d] = o[d] * correction + p * vj[d];
            m = m_new;
        }
    }
    if (!valid) return;
    float inv_l = 1.0f / l;
    floatX *orow = out + ((long long)b * T + i) * C + h * HS + part * D;
#pragma unroll
    for (int d = 0; d < D; d++) orow[d] = from_float<floatX>(o[d] * inv_l);
    if (part == 0) lse[((long long)b * NH + h) * T + i] = m + logf(l);
}

// delta (B,NH,T) = sum_d dout . out over the head's dims (the softmax backward's row term).
template <typename floatX>
__global__ void attention_delta_kernel(float *delta, const floatX *dout, const floatX *out, int B, int T, int NH, int HS) {
    long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (long long)B * NH * T) return;
    int t = (int)(idx % T), h = (int)((idx / T) % NH), b = (int)(idx / ((long long)T * NH));
    int C = NH * HS;
    long long base = ((long long)b * T + t) * C + h * HS;
    float sum = 0.0f;
    for (int d = 0; d < HS; d++) sum += to_float(dout[base + d]) * to_float(out[base + d]);
    delta[idx] = sum;
}

// dq for the rows this block owns: dq_i = scale * sum_{j<=i} p_ij (dp_ij - delta_i) k_j,
// p_ij = exp(scale q_i.k_j - lse_i), dp_ij = dout_i . v_j. grid (ceil(T/64), B*NH), block 64*G.
template <typename floatX, int HS>
__global__ void __launch_bounds__(ATTN_ROWS_PER_BLOCK * (HS / ATTN_DIMS_PER_THREAD))
attention_backward_dq_kernel(floatX *dqkv, const floatX *dout, const floatX *qkv, const float *lse, const float *delta,
                             int B, int T, int NH, float scale) {
    constexpr int G = HS / ATTN_DIMS_PER_THREAD, D = ATTN_DIMS_PER_THREAD, BC = ATTN_TILE_FLOATS / HS;
    __shared__ float k_tile[ATTN_TILE_FLOATS], v_tile[ATTN_TILE_FLOATS];
    int C = NH * HS;
    int b = blockIdx.y / NH, h = blockIdx.y % NH;
    int row = threadIdx.x / G, part = threadIdx.x % G;
    int first_query = blockIdx.x * ATTN_ROWS_PER_BLOCK;
    int i = first_query + row;
    bool valid = i < T;
    unsigned mask = group_mask<G>();
    int ii = valid ? i : 0;

    float q[D], dO[D], dq[D];
    const floatX *qrow = qkv + ((long long)b * T + ii) * 3 * C + h * HS + part * D;
    const floatX *dorow = dout + ((long long)b * T + ii) * C + h * HS + part * D;
#pragma unroll
    for (int d = 0; d < D; d++) { q[d] = to_float(qrow[d]); dO[d] = to_float(dorow[d]); dq[d] = 0.0f; }
    long long stat = ((long long)b * NH + h) * T + ii;
    float lse_i = lse[stat], delta_i = delta[stat];

    int last_key = min(T - 1, first_query + ATTN_ROWS_PER_BLOCK - 1);
    for (int kt = 0; kt <= last_key; kt += BC) {
        __syncthreads();
        load_tile<floatX, HS>(k_tile, qkv, b, h, 1, kt, BC, T, C);
        load_tile<floatX, HS>(v_tile, qkv, b, h, 2, kt, BC, T, C);
        __syncthreads();
        int count = valid ? min(BC, i - kt + 1) : 0;
        for (int j = 0; j < count; j++) {
            const float *kj = k_tile + j * HS + part * D, *vj = v_tile + j * HS + part * D;
            float s = 0.0f, dp = 0.0f;
#pragma unroll
            for (int d = 0; d < D; d++) { s += q[d] * kj[d]; dp += dO[d] * vj[d]; }
            s = group_sum<G>(s, mask) * scale;
            dp = group_sum<G>(dp, mask);
            float ds = expf(s - lse_i) * (dp - delta_i);
#pragma unroll
            for (int d = 0; d < D; d++) dq[d] += ds * kj[d];
        }
    }
    if (!valid) return;
    floatX *dqrow = dqkv + ((long long)b * T + i) * 3 * C + h * HS + part * D;
#pragma unroll
    for (int d = 0; d < D; d++) dqrow[d] = from_float<floatX>(dq[d] * scale);
}

// dk_j = scale * sum_{i>=j} ds_ij q_i and dv_j = sum_{i>=j} p_ij dout_i for the key rows this block
// owns; query tiles stream through shared memory. grid (ceil(T/64), B*NH), block 64*G.
template <typename floatX, int HS>
__global__ void __launch_bounds__(ATTN_ROWS_PER_BLOCK * (HS / ATTN_DIMS_PER_THREAD))
attention_backward_dkv_kernel(floatX *dqkv, const floatX *dout, const floatX *qkv, const float *lse, const float *delta,
                              int B, int T, int NH, float scale) {
    constexpr int G = HS / ATTN_DIMS_PER_THREAD, D = ATTN_DIMS_PER_THREAD, BQ = ATTN_TILE_FLOATS / HS;
    __shared__ float q_tile[ATTN_TILE_FLOATS], do_tile[ATTN_TILE_FLOATS];
    __shared__ float lse_tile[BQ], delta_tile[BQ];
    int C = NH * HS;
    int b = blockIdx.y / NH, h = blockIdx.y % NH;
    int row = threadIdx.x / G, part = threadIdx.x % G;
    int first_key = blockIdx.x * ATTN_ROWS_PER_BLOCK;
    int j = first_key + row;
    bool valid = j < T;
    unsigned mask = group_mask<G>();
    int jj = valid ? j : 0;

    float k[D], v[D], dk[D], dv[D];
    const floatX *krow = qkv + ((long long)b * T + jj) * 3 * C + C + h * HS + part * D;
#pragma unroll
    for (int d = 0; d < D; d++) { k[d] = to_float(krow[d]); v[d] = to_float(krow[C + d]); dk[d] = 0.0f; dv[d] = 0.0f; }
    long long stat_base = ((long long)b * NH + h) * T;

    for (int qt = first_key; qt < T; qt += BQ) {  // queries before first_key see none of these keys
        __syncthreads();
        load_tile<floatX, HS>(q_tile, qkv, b, h, 0, qt, BQ, T, C);
        for (int e = threadIdx.x; e < BQ * HS; e += blockDim.x) {
            int r = e / HS, d = e % HS, t = qt + r;
            do_tile[e] = t < T ? to_float(dout[((long long)b * T + t) * C + h * HS + d]) : 0.0f;
        }
        for (int r = threadIdx.x; r < BQ; r += blockDim.x) {
            int t = qt + r;
            lse_tile[r] = t < T ? lse[stat_base + t] : 0.0f;
            delta_tile[r] = t < T ? delta[stat_base + t] : 0.0f;
        }
        __syncthreads();
        int start = valid ? max(0, j - qt) : BQ;   // causal: queries i >= j
        int stop = min(BQ, T - qt);
        for (int r = start; r < stop; r++) {
            const float *qi = q_tile + r * HS + part * D, *doi = do_tile + r * HS + part * D;
            float s = 0.0f, dp = 0.0f;
#pragma unroll
            for (int d = 0; d < D; d++) { s += qi[d] * k[d]; dp += doi[d] * v[d]; }
            s = group_sum<G>(s, mask) * scale;
            dp = group_sum<G>(dp, mask);
            float p = expf(s - lse_tile[r]);
            float ds = p * (dp - delta_tile[r]);
#pragma unroll
            for (int d = 0; d < D; d++) { dv[d] += p * doi[d]; dk[d] += ds * qi[d]; }
        }
    }
    if (!valid) return;
    floatX *dkrow = dqkv + ((long long)b * T + j) * 3 * C + C + h * HS + part * D;
#pragma unroll
    for (int d = 0; d < D; d++) { dkrow[d] = from_float<floatX>(dk[d] * scale); dkrow[C + d] = from_float<floatX>(dv[d]); }
}

static inline int attention_head_size_supported(int HS) { return HS == 16 || HS == 32 || HS == 64 || HS == 128; }

// The attention grids put B*NH blocks in y, whose extent is at most 65535 on every GPU. Larger
// batches (short examples, many rows) run in slices of whole rows: every tensor here is row-major
// in b, so a slice of rows [b0, b0 + nb) is a pointer offset, and each launch sees nb rows.
template <typename Launch>
static void attention_in_row_slices(int B, int NH, Launch launch) {
    const int most = cuda_max_grid_y() / NH;
    if (most < 1) die("attention: %d heads do not fit a grid of at most %d blocks in y", NH, cuda_max_grid_y());
    for (int b0 = 0; b0 < B; b0 += most) launch(b0, B - b0 < most ? B - b0 : most);
}

// The CUDA-core version (fp32 arithmetic): every precision, the fp32 check mode's path.
// out (B,T,C), lse (B,NH,T) from qkv (B,T,3C).
template <typename floatX>
void attention_forward_simt(floatX *out, float *lse, const floatX *qkv, int B, int T, int C, int NH, cudaStream_t stream) {
    int HS = C / NH;
    float scale = 1.0f / sqrtf((float)HS);
    if (!attention_head_size_supported(HS))
        die("attention: head size %d is not supported on the GPU (use channels/heads of 16, 32, 64 or 128)", HS);
    int threads = ATTN_ROWS_PER_BLOCK * (HS / ATTN_DIMS_PER_THREAD);
    attention_in_row_slices(B, NH, [&](int b0, int nb) {
        dim3 grid(ceil_div(T, ATTN_ROWS_PER_BLOCK), nb * NH);
        floatX *o = out + (size_t)b0 * T * C;
        float *l = lse + (size_t)b0 * NH * T;
        const floatX *x = qkv + (size_t)b0 * T * 3 * C;
        switch (HS) {
            case 16: attention_forward_kernel<floatX, 16><<<grid, threads, 0, stream>>>(o, l, x, nb, T, NH, scale); break;
            case 32: attention_forward_kernel<floatX, 32><<<grid, threads, 0, stream>>>(o, l, x, nb, T, NH, scale); break;
            case 64: attention_forward_kernel<floatX, 64><<<grid, threads, 0, stream>>>(o, l, x, nb, T, NH, scale); break;
            case 128: attention_forward_kernel<floatX, 128><<<grid, threads, 0, stream>>>(o, l, x, nb, T, NH, scale); break;
        }
        cuda_check_launch();
    });
}

// dqkv (B,T,3C) written from dout (B,T,C); out, lse from the forward pass; delta: (B,NH,T) scratch.
template <typename floatX>
void attention_backward_simt(floatX *dqkv, float *delta, const floatX *dout, const floatX *qkv, const floatX *out,
                        const float *lse, int B, int T, int C, int NH, cudaStream_t stream) {
    int HS = C / NH;
    float scale = 1.0f / sqrtf((float)HS);
    long long rows = (long long)B * NH * T;
    attention_delta_kernel<<<ceil_div(rows, 256), 256, 0, stream>>>(delta, dout, out, B, T, NH, HS);
    cuda_check_launch();
    if (!attention_head_size_supported(HS))
        die("attention: head size %d is not supported on the GPU (use channels/heads of 16, 32, 64 or 128)", HS);
    int threads = ATTN_ROWS_PER_BLOCK * (HS / ATTN_DIMS_PER_THREAD);
    attention_in_row_slices(B, NH, [&](int b0, int nb) {
        dim3 grid(ceil_div(T, ATTN_ROWS_PER_BLOCK), nb * NH);
        floatX *dx = dqkv + (size_t)b0 * T * 3 * C;
        const floatX *dy = dout + (size_t)b0 * T * C, *x = qkv + (size_t)b0 * T * 3 * C;
        const float *l = lse + (size_t)b0 * NH * T, *dl = delta + (size_t)b0 * NH * T;
#define LAUNCH_ATTN_BACKWARD(HSV)                                                                              \
        attention_backward_dq_kernel<floatX, HSV><<<grid, threads, 0, stream>>>(dx, dy, x, l, dl, nb, T, NH, scale);  \
        cuda_check_launch();                                                                                   \
        attention_backward_dkv_kernel<floatX, HSV><<<grid, threads, 0, stream>>>(dx, dy, x, l, dl, nb, T, NH, scale); \
        cuda_check_launch();
        switch (HS) {
            case 16: LAUNCH_ATTN_BACKWARD(16) break;
            case 32: LAUNCH_ATTN_BACKWARD(32) break;
            case 64: LAUNCH_ATTN_BACKWARD(64) break;
            case 128: LAUNCH_ATTN_BACKWARD(128) break;
        }
#undef LAUNCH_ATTN_BACKWARD
    });
}

#include "attention_tc.cuh"

#endif
