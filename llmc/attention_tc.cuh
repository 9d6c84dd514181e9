// Causal self-attention on the tensor cores (bf16 operands, fp32 accumulation): the bf16 path of
// llmc/attention.cuh. Same contract as the CUDA-core kernels there (flash-attention style: the
// (T,T) matrix never reaches global memory; the forward keeps the log-sum-exp of each query row,
// the backward recomputes the probabilities; dQ and dK/dV are separate kernels that each own their
// output rows, so there are no atomics and the results are bitwise repeatable).
//
// Building block: mma.sync.m16n8k16 (PTX ISA, "Matrix Fragments for mma.m16n8k16"). Lane l of a
// warp has g = l/4 and t = l%4 and holds
//   A (16x16, row-major)  a[0] = A[g][2t,2t+1]   a[1] = A[g+8][2t,2t+1]
//                         a[2] = A[g][2t+8,+9]   a[3] = A[g+8][2t+8,+9]      (bf16 pairs)
//   B (16x8, k x n)       b[0] = B[2t,2t+1][g]   b[1] = B[2t+8,+9][g]
//   C (16x8, fp32)        c[0],c[1] = C[g][2t,2t+1]   c[2],c[3] = C[g+8][2t,2t+1]
// Two adjacent 16x8 C tiles hold exactly the elements of one 16x16 A fragment, so scores computed
// as C feed the next product as A without leaving the registers (P V, dS K, P^T dO, dS^T Q).
// B is read from a row-major shared tile either way round: "n-major" (row n holds the k values of
// column n: each b register is one 32-bit load) or "k-major" (row k holds the n values: ldmatrix
// .trans transposes 8x8 blocks on the way to the registers), so no tile is ever stored twice.
// Shared tiles have 8 bf16 of padding per row: the 8 rows read by one load or one 8x8 block then
// fall in different banks.
//
// Blocks: WARPS warps x 16 rows own query rows (forward, dQ) or key rows (dK/dV); the other side
// streams through shared memory in tiles of 64. Head sizes 16, 32, 64 and 128 (those the CUDA-core
// kernels and the checks cover; GPT-2's are all 64).
// WARPS = 4 or 8 (dev/cuda/attention times both; the model uses TC_MODEL_WARPS).
#ifndef LLMC_ATTENTION_TC_CUH
#define LLMC_ATTENTION_TC_CUH

#include <cuda_bf16.h>
#include "cuda_common.cuh"

#define TC_TILE 64     // rows of the streamed side per step
#ifndef TC_MODEL_WARPS
#define TC_MODEL_WARPS 4
#endif
#define TC_LOG2E 1.4426950408889634f
#define TC_LN2 0.6931471805599453f

// C (16x8, fp32) += A (16x16, bf16, row-major) . B (16x8, bf16, column-major), one warp. Lane
// l = 4g + t holds a = A[g][2t..], A[g+8][2t..], A[g][2t+8..], A[g+8][2t+8..] (pairs, lower column in
// the low half), b = B[2t..][g], B[2t+8..][g], c = C[g][2t], C[g][2t+1], C[g+8][2t], C[g+8][2t+1].
#ifndef MEMLENS_CUDA_EMULATOR
__device__ __forceinline__ void mma_16816(float c[4], const uint32_t a[4], const uint32_t b[2]) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
#else
// The CPU emulator (dev/cuda/emu) has no tensor cores: the same product from the fragment layout
// above, gathering rows g, g+8 of A and columns 2t, 2t+1 of B from the lanes that hold them.
__device__ __forceinline__ float bf16_half(uint32_t pair, int high) {
    return bf16_to_float((uint16_t)(high ? pair >> 16 : pair & 0xffffu));  // the emulator's bf16 bits -> float
}
__device__ __forceinline__ void mma_16816(float c[4], const uint32_t a[4], const uint32_t b[2]) {
    const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    float arow[2][16], bcol[2][16];  // A rows g, g+8; B columns 2t, 2t+1 (over k)
    for (int tt = 0; tt < 4; tt++) {
        for (int r = 0; r < 4; r++) {  // a[r] of lane 4g + tt: row g + 8 (r & 1), columns 2tt + 8 (r >> 1) + {0, 1}
            const uint32_t v = __shfl_sync(0xffffffffu, a[r], 4 * g + tt);
            arow[r & 1][2 * tt + 8 * (r >> 1)] = bf16_half(v, 0);
            arow[r & 1][2 * tt + 8 * (r >> 1) + 1] = bf16_half(v, 1);
        }
        for (int n = 0; n < 2; n++)
            for (int r = 0; r < 2; r++) {  // b[r] of lane 4 (2t + n) + tt: rows 2tt + 8r + {0, 1} of column 2t + n
                const uint32_t v = __shfl_sync(0xffffffffu, b[r], 4 * (2 * t + n) + tt);
                bcol[n][2 * tt + 8 * r] = bf16_half(v, 0);
                bcol[n][2 * tt + 8 * r + 1] = bf16_half(v, 1);
            }
    }
    for (int i = 0; i < 4; i++) {
        float sum = c[i];
        for (int k = 0; k < 16; k++) sum += arow[i >> 1][k] * bcol[i & 1][k];
        c[i] = sum;
    }
}
#endif

// Two floats as a bf16 pair, the first in the low half (= the lower column index).
__device__ __forceinline__ uint32_t pack_bf16x2(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t *>(&v);
}

__device__ __forceinline__ uint32_t load_pair(const bf16 *p) { return *reinterpret_cast<const uint32_t *>(p); }

// A fragment of rows row0.., columns col0.. of a row-major shared tile with row stride ld.
__device__ __forceinline__ void load_a_frag(uint32_t a[4], const bf16 *s, int ld, int row0, int col0) {
    int g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
    const bf16 *p = s + (row0 + g) * ld + col0 + 2 * t;
    a[0] = load_pair(p);
    a[1] = load_pair(p + 8 * ld);
    a[2] = load_pair(p + 8);
    a[3] = load_pair(p + 8 * ld + 8);
}

// B fragment (k0..k0+15, n0..n0+7) of B[k][n] = s[n * ld + k] (the tile stored n-major).
__device__ __forceinline__ void load_b_frag(uint32_t b[2], const bf16 *s, int ld, int n0, int k0) {
    int g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
    const bf16 *p = s + (n0 + g) * ld + k0 + 2 * t;
    b[0] = load_pair(p);
    b[1] = load_pair(p + 8);
}

// B fragments of two adjacent n-tiles (n0.., n0+8..) for k-chunk k0..k0+15 of B[k][n] = s[k * ld + n]
// (a k-major tile) in one ldmatrix.x4.trans: lane l gives the address of row l%8 of 8x8 block l/8,
// the blocks being (k0, n0), (k0+8, n0), (k0, n0+8), (k0+8, n0+8); after the transpose each lane
// holds B[2t,2t+1][g] of each block, which is b[0] / b[1] of the two fragments.
__device__ __forceinline__ void load_b_frags_trans(uint32_t b0[2], uint32_t b1[2], const bf16 *s, int ld, int k0, int n0) {
    int l = threadIdx.x & 31;
    const bf16 *p = s + (k0 + ((l >> 3) & 1) * 8 + (l & 7)) * ld + n0 + (l >> 4) * 8;
#ifndef MEMLENS_CUDA_EMULATOR
    uint32_t addr = (uint32_t)__cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(b0[0]), "=r"(b0[1]), "=r"(b1[0]), "=r"(b1[1])
                 : "r"(addr)
                 : "memory");
#else
    // The CPU emulator: register j of lane 4g + t is (row 2t, column g) | (row 2t + 1, column g) << 16
    // of 8x8 block j, whose row r's address lane 8j + r holds.
    uint32_t *dst[4] = {&b0[0], &b0[1], &b1[0], &b1[1]};
    const int g = l >> 2, t = l & 3;
    for (int j = 0; j < 4; j++) {
        const bf16 *r0 = __shfl_sync(0xffffffffu, p, 8 * j + 2 * t), *r1 = __shfl_sync(0xffffffffu, p, 8 * j + 2 * t + 1);
        *dst[j] = (uint32_t)r0[g].bits | (uint32_t)r1[g].bits << 16;
    }
#endif
}

// Scores of 16 rows x 64 columns (8 C tiles) as the A fragment of k-chunk kk (columns 16kk..16kk+15).
__device__ __forceinline__ void scores_to_a_frag(uint32_t a[4], const float s[8][4], int kk) {
    a[0] = pack_bf16x2(s[2 * kk][0], s[2 * kk][1]);
    a[1] = pack_bf16x2(s[2 * kk][2], s[2 * kk][3]);
    a[2] = pack_bf16x2(s[2 * kk + 1][0], s[2 * kk + 1][1]);
    a[3] = pack_bf16x2(s[2 * kk + 1][2], s[2 * kk + 1][3]);
}

// Rows first..first+ROWS-1 of one head's q, k or v (src = its first column in row 0, row stride
// 3C) into a row-major shared tile dst (ROWS, ld); rows at or past T are zero. 16-byte copies.
template <int HS, int ROWS, int THREADS>
__device__ __forceinline__ void load_rows(bf16 *dst, int ld, const bf16 *src, int stride, int first, int T) {
    constexpr int VECS = HS / 8;  // 16-byte vectors per row
    for (int e = threadIdx.x; e < ROWS * VECS; e += THREADS) {
        int r = e / VECS, v = e % VECS, row = first + r;
        uint4 val = make_uint4(0, 0, 0, 0);
        if (row < T) val = *reinterpret_cast<const uint4 *>(src + (size_t)row * stride + v * 8);
        *reinterpret_cast<uint4 *>(dst + r * ld + v * 8) = val;
    }
}

template <int HS, int WARPS> struct TcShape {
    static constexpr int ROWS = 16 * WARPS, THREADS = 32 * WARPS;  // rows a block owns, its threads
    static constexpr int LD = HS + 8;          // row stride of (rows, HS) tiles
    static constexpr int OWN_TILE = ROWS * LD, ROW_TILE = TC_TILE * LD;  // elements
    static constexpr int KC = HS / 16;         // 16-wide k-chunks over the head dims
    static constexpr int DN = HS / 8;          // 8-wide C tiles over the head dims
    static constexpr size_t FORWARD_SMEM = (size_t)(OWN_TILE + 2 * ROW_TILE) * sizeof(bf16);
    static constexpr size_t DQ_SMEM = (size_t)(2 * OWN_TILE + 2 * ROW_TILE) * sizeof(bf16);
    static constexpr size_t DKV_SMEM = (size_t)(2 * OWN_TILE + 2 * ROW_TILE) * sizeof(bf16) + 2 * TC_TILE * sizeof(float);
};

// grid (ceil(T/ROWS), B*NH), block 32*WARPS, dynamic shared memory TcShape::FORWARD_SMEM.
// out (B,T,C), lse (B,NH,T) (natural log); scale_log2 = log2(e) / sqrt(HS).
template <int HS, int WARPS>
__global__ void __launch_bounds__(32 * WARPS)
attention_forward_tc_kernel(bf16 *out, float *lse, const bf16 *qkv, int T, int NH, float scale_log2) {
    typedef TcShape<HS, WARPS> S;
    extern __shared__ __align__(16) unsigned char tc_smem[];
    bf16 *q_s = reinterpret_cast<bf16 *>(tc_smem), *k_s = q_s + S::OWN_TILE, *v_s = k_s + S::ROW_TILE;
    const int C = NH * HS, b = blockIdx.y / NH, h = blockIdx.y % NH;
    const int q0 = (gridDim.x - 1 - blockIdx.x) * S::ROWS;  // the longest rows (latest queries) first
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const bf16 *base = qkv + (size_t)b * T * 3 * C + h * HS;

    load_rows<HS, S::ROWS, S::THREADS>(q_s, S::LD, base, 3 * C, q0, T);
    __syncthreads();
    uint32_t qa[S::KC][4];
#pragma unroll
    for (int kc = 0; kc < S::KC; kc++) load_a_frag(qa[kc], q_s, S::LD, warp * 16, kc * 16);

    const int row0 = q0 + warp * 16 + g, row1 = row0 + 8;  // this lane's two query rows
    float o[S::DN][4];
#pragma unroll
    for (int d = 0; d < S::DN; d++) o[d][0] = o[d][1] = o[d][2] = o[d][3] = 0.0f;
    float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.0f, l1 = 0.0f;  // running max (log2 units), lane's partial sums

    const int last_key = min(T, q0 + S::ROWS) - 1;
    for (int k0 = 0; k0 <= last_key; k0 += TC_TILE) {
        __syncthreads();  // everyone is done with the previous tiles
        load_rows<HS, TC_TILE, S::THREADS>(k_s, S::LD, base + C, 3 * C, k0, T);
        load_rows<HS, TC_TILE, S::THREADS>(v_s, S::LD, base + 2 * C, 3 * C, k0, T);
        __syncthreads();
        if (k0 > q0 + warp * 16 + 15) continue;  // every key of the tile is after this warp's rows

        float s[8][4];  // scores of rows (g, g+8) x keys k0 + 8j + 2t + {0,1}
#pragma unroll
        for (int j = 0; j < 8; j++) {
            s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.0f;
#pragma unroll
            for (int kc = 0; kc < S::KC; kc++) {
                uint32_t kb[2];
                load_b_frag(kb, k_s, S::LD, j * 8, kc * 16);
                mma_16816(s[j], qa[kc], kb);
            }
        }
        // Tile 0 comes first and every row keeps its key 0 there, so the running maxima are finite
        // from then on (a row with no key left in a later tile keeps its maximum: correction 1).
        const bool edge = k0 + TC_TILE > q0 || k0 + TC_TILE > T;  // the diagonal tile or the last one
        float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
        for (int j = 0; j < 8; j++) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                float v = s[j][e] * scale_log2;
                if (edge) {
                    int key = k0 + j * 8 + 2 * t + (e & 1), row = e < 2 ? row0 : row1;
                    if (key > row || key >= T) v = -INFINITY;
                }
                s[j][e] = v;
            }
            mx0 = fmaxf(mx0, fmaxf(s[j][0], s[j][1]));
            mx1 = fmaxf(mx1, fmaxf(s[j][2], s[j][3]));
        }
        // The 4 lanes of a row (t = 0..3) agree on its maximum.
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
        float new0 = fmaxf(m0, mx0), new1 = fmaxf(m1, mx1);
        float corr0 = exp2f(m0 - new0), corr1 = exp2f(m1 - new1);  // 0 on the first tile
        m0 = new0;
        m1 = new1;
        float sum0 = 0.0f, sum1 = 0.0f;
#pragma unroll
        for (int j = 0; j < 8; j++) {
            s[j][0] = exp2f(s[j][0] - m0);
            s[j][1] = exp2f(s[j][1] - m0);
            s[j][2] = exp2f(s[j][2] - m1);
            s[j][3] = exp2f(s[j][3] - m1);
            sum0 += s[j][0] + s[j][1];
            sum1 += s[j][2] + s[j][3];
        }
        l0 = l0 * corr0 + sum0;
        l1 = l1 * corr1 + sum1;
#pragma unroll
        for (int d = 0; d < S::DN; d++) {
            o[d][0] *= corr0; o[d][1] *= corr0;
            o[d][2] *= corr1; o[d][3] *= corr1;
        }
        // o (16, HS) += P (16, 64 keys) . V (64, HS); B[k = key][n = dim] = v_s[key][dim] (k-major).
#pragma unroll
        for (int kk = 0; kk < 4; kk++) {
            uint32_t pa[4];
            scores_to_a_frag(pa, s, kk);
#pragma unroll
            for (int d = 0; d < S::DN; d += 2) {
                uint32_t vb0[2], vb1[2];
                load_b_frags_trans(vb0, vb1, v_s, S::LD, kk * 16, d * 8);
                mma_16816(o[d], pa, vb0);
                mma_16816(o[d + 1], pa, vb1);
            }
        }
    }
    l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
    l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
    float inv0 = 1.0f / l0, inv1 = 1.0f / l1;
    bf16 *orow0 = out + ((size_t)b * T + row0) * C + h * HS + 2 * t, *orow1 = orow0 + 8 * (size_t)C;
#pragma unroll
    for (int d = 0; d < S::DN; d++) {
        if (row0 < T) *reinterpret_cast<uint32_t *>(orow0 + d * 8) = pack_bf16x2(o[d][0] * inv0, o[d][1] * inv0);
        if (row1 < T) *reinterpret_cast<uint32_t *>(orow1 + d * 8) = pack_bf16x2(o[d][2] * inv1, o[d][3] * inv1);
    }
    if (t == 0) {
        float *lse_bh = lse + ((size_t)b * NH + h) * T;
        if (row0 < T) lse_bh[row0] = (m0 + log2f(l0)) * TC_LN2;
        if (row1 < T) lse_bh[row1] = (m1 + log2f(l1)) * TC_LN2;
    }
}

// dq_i = scale * sum_{j<=i} p_ij (dp_ij - delta_i) k_j for the query rows of the block; key
// tiles stream. It also computes delta_i = dout_i . out_i (the softmax backward's row term) for
// its rows and writes it for the dK/dV kernel, which runs next. grid (ceil(T/ROWS), B*NH), block 32*WARPS, dynamic shared memory DQ_SMEM.
template <int HS, int WARPS>
__global__ void __launch_bounds__(32 * WARPS)
attention_backward_dq_tc_kernel(bf16 *dqkv, float *delta, const bf16 *dout, const bf16 *qkv, const bf16 *out,
                                const float *lse, int T, int NH, float scale, float scale_log2) {
    typedef TcShape<HS, WARPS> S;
    extern __shared__ __align__(16) unsigned char tc_smem[];
    bf16 *q_s = reinterpret_cast<bf16 *>(tc_smem), *do_s = q_s + S::OWN_TILE, *k_s = do_s + S::OWN_TILE;
    bf16 *v_s = k_s + S::ROW_TILE;
    const int C = NH * HS, b = blockIdx.y / NH, h = blockIdx.y % NH;
    const int q0 = (gridDim.x - 1 - blockIdx.x) * S::ROWS;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const bf16 *base = qkv + (size_t)b * T * 3 * C + h * HS;

    load_rows<HS, S::ROWS, S::THREADS>(q_s, S::LD, base, 3 * C, q0, T);
    load_rows<HS, S::ROWS, S::THREADS>(do_s, S::LD, dout + (size_t)b * T * C + h * HS, C, q0, T);
    __syncthreads();
    // The A fragments of Q and dO are re-read from shared memory per use: kept in registers they
    // would push the kernel past 200 registers and halve the blocks per SM.
    const int row0 = q0 + warp * 16 + g, row1 = row0 + 8;
    const float *lse_bh = lse + ((size_t)b * NH + h) * T;
    // Rows past T: p = 2^(s - inf) = 0, so they add nothing.
    const float lse0 = row0 < T ? lse_bh[row0] * TC_LOG2E : INFINITY, lse1 = row1 < T ? lse_bh[row1] * TC_LOG2E : INFINITY;
    // delta of rows (g, g+8): the 4 lanes of a row take dims 2t, 2t+8, ... and combine by a fixed butterfly.
    float delta0 = 0.0f, delta1 = 0.0f;
    {
        const bf16 *o0 = out + ((size_t)b * T + row0) * C + h * HS, *o1 = o0 + 8 * (size_t)C;
        const bf16 *d0 = do_s + (warp * 16 + g) * S::LD, *d1 = d0 + 8 * S::LD;
#pragma unroll
        for (int d = 2 * t; d < HS; d += 8) {
            float2 dd0 = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162 *>(d0 + d));
            float2 dd1 = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162 *>(d1 + d));
            if (row0 < T) {
                float2 oo = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162 *>(o0 + d));
                delta0 += dd0.x * oo.x + dd0.y * oo.y;
            }
            if (row1 < T) {
                float2 oo = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162 *>(o1 + d));
                delta1 += dd1.x * oo.x + dd1.y * oo.y;
            }
        }
        delta0 += __shfl_xor_sync(0xffffffffu, delta0, 1);
        delta0 += __shfl_xor_sync(0xffffffffu, delta0, 2);
        delta1 += __shfl_xor_sync(0xffffffffu, delta1, 1);
        delta1 += __shfl_xor_sync(0xffffffffu, delta1, 2);
        float *delta_bh = delta + ((size_t)b * NH + h) * T;
        if (t == 0 && row0 < T) delta_bh[row0] = delta0;
        if (t == 0 && row1 < T) delta_bh[row1] = delta1;
    }
    float dq[S::DN][4];
#pragma unroll
    for (int d = 0; d < S::DN; d++) dq[d][0] = dq[d][1] = dq[d][2] = dq[d][3] = 0.0f;

    const int last_key = min(T, q0 + S::ROWS) - 1;
    for (int k0 = 0; k0 <= last_key; k0 += TC_TILE) {
        __syncthreads();
        load_rows<HS, TC_TILE, S::THREADS>(k_s, S::LD, base + C, 3 * C, k0, T);
        load_rows<HS, TC_TILE, S::THREADS>(v_s, S::LD, base + 2 * C, 3 * C, k0, T);
        __syncthreads();
        if (k0 > q0 + warp * 16 + 15) continue;  // every key of the tile is after this warp's rows
        float s[8][4], dp[8][4];  // scores and dP = dO V^T of rows (g, g+8) x keys k0 + 8j + 2t + {0,1}
#pragma unroll
        for (int j = 0; j < 8; j++) s[j][0] = s[j][1] = s[j][2] = s[j][3] = dp[j][0] = dp[j][1] = dp[j][2] = dp[j][3] = 0.0f;
#pragma unroll
        for (int kc = 0; kc < S::KC; kc++) {
            uint32_t qa[4], da[4];
            load_a_frag(qa, q_s, S::LD, warp * 16, kc * 16);
            load_a_frag(da, do_s, S::LD, warp * 16, kc * 16);
#pragma unroll
            for (int j = 0; j < 8; j++) {
                uint32_t kb[2], vb[2];
                load_b_frag(kb, k_s, S::LD, j * 8, kc * 16);
                mma_16816(s[j], qa, kb);
                load_b_frag(vb, v_s, S::LD, j * 8, kc * 16);
                mma_16816(dp[j], da, vb);
            }
        }
        const bool edge = k0 + TC_TILE > q0 || k0 + TC_TILE > T;
#pragma unroll
        for (int j = 0; j < 8; j++) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int row = e < 2 ? row0 : row1;
                float p = exp2f(s[j][e] * scale_log2 - (e < 2 ? lse0 : lse1));
                if (edge) {
                    int key = k0 + j * 8 + 2 * t + (e & 1);
                    if (key > row || key >= T) p = 0.0f;
                }
                s[j][e] = p * (dp[j][e] - (e < 2 ? delta0 : delta1));  // dS
            }
        }
        // dq (16, HS) += dS (16, 64 keys) . K (64, HS); B[k = key][n = dim] = k_s[key][dim] (k-major).
#pragma unroll
        for (int kk = 0; kk < 4; kk++) {
            uint32_t sa[4];
            scores_to_a_frag(sa, s, kk);
#pragma unroll
            for (int d = 0; d < S::DN; d += 2) {
                uint32_t kb0[2], kb1[2];
                load_b_frags_trans(kb0, kb1, k_s, S::LD, kk * 16, d * 8);
                mma_16816(dq[d], sa, kb0);
                mma_16816(dq[d + 1], sa, kb1);
            }
        }
    }
    bf16 *dq0 = dqkv + ((size_t)b * T + row0) * 3 * C + h * HS + 2 * t, *dq1 = dq0 + 8 * (size_t)3 * C;
#pragma unroll
    for (int d = 0; d < S::DN; d++) {
        if (row0 < T) *reinterpret_cast<uint32_t *>(dq0 + d * 8) = pack_bf16x2(dq[d][0] * scale, dq[d][1] * scale);
        if (row1 < T) *reinterpret_cast<uint32_t *>(dq1 + d * 8) = pack_bf16x2(dq[d][2] * scale, dq[d][3] * scale);
    }
}

// dk_j = scale * sum_{i>=j} ds_ij q_i and dv_j = sum_{i>=j} p_ij dout_i for the 64 key rows of the
// block, computed transposed (S^T = K Q^T, dP^T = V dO^T); query tiles stream. grid
// (ceil(T/ROWS), B*NH), block 32*WARPS, dynamic shared memory DKV_SMEM.
template <int HS, int WARPS>
__global__ void __launch_bounds__(32 * WARPS)
attention_backward_dkv_tc_kernel(bf16 *dqkv, const bf16 *dout, const bf16 *qkv, const float *lse, const float *delta,
                                 int T, int NH, float scale, float scale_log2) {
    typedef TcShape<HS, WARPS> S;
    extern __shared__ __align__(16) unsigned char tc_smem[];
    bf16 *k_s = reinterpret_cast<bf16 *>(tc_smem), *v_s = k_s + S::OWN_TILE, *q_s = v_s + S::OWN_TILE;
    bf16 *do_s = q_s + S::ROW_TILE;
    float *lse_s = reinterpret_cast<float *>(do_s + S::ROW_TILE), *delta_s = lse_s + TC_TILE;
    const int C = NH * HS, b = blockIdx.y / NH, h = blockIdx.y % NH;
    const int j0 = blockIdx.x * S::ROWS;  // the first key blocks see the most queries: they start first
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const bf16 *base = qkv + (size_t)b * T * 3 * C + h * HS, *dout_bh = dout + (size_t)b * T * C + h * HS;
    const float *lse_bh = lse + ((size_t)b * NH + h) * T, *delta_bh = delta + ((size_t)b * NH + h) * T;

    load_rows<HS, S::ROWS, S::THREADS>(k_s, S::LD, base + C, 3 * C, j0, T);
    load_rows<HS, S::ROWS, S::THREADS>(v_s, S::LD, base + 2 * C, 3 * C, j0, T);
    // (the first __syncthreads of the loop below orders these loads before any read)
    // The A fragments of K and V are re-read from shared memory per use (as in the dQ kernel).
    const int key0 = j0 + warp * 16 + g, key1 = key0 + 8;  // this lane's two key rows
    float dk[S::DN][4], dv[S::DN][4];
#pragma unroll
    for (int d = 0; d < S::DN; d++) {
        dk[d][0] = dk[d][1] = dk[d][2] = dk[d][3] = 0.0f;
        dv[d][0] = dv[d][1] = dv[d][2] = dv[d][3] = 0.0f;
    }

    for (int i0 = j0; i0 < T; i0 += TC_TILE) {  // queries before j0 see none of these keys
        __syncthreads();
        load_rows<HS, TC_TILE, S::THREADS>(q_s, S::LD, base, 3 * C, i0, T);
        load_rows<HS, TC_TILE, S::THREADS>(do_s, S::LD, dout_bh, C, i0, T);
        for (int r = threadIdx.x; r < TC_TILE; r += S::THREADS) {
            int row = i0 + r;
            lse_s[r] = row < T ? lse_bh[row] * TC_LOG2E : INFINITY;  // rows past T: p = 0
            delta_s[r] = row < T ? delta_bh[row] : 0.0f;
        }
        __syncthreads();
        if (i0 + TC_TILE - 1 < j0 + warp * 16) continue;  // every query of the tile is before this warp's keys
        float st[8][4], dpt[8][4];  // S^T, dP^T of key rows (g, g+8) x queries i0 + 8j + 2t + {0,1}
#pragma unroll
        for (int j = 0; j < 8; j++) st[j][0] = st[j][1] = st[j][2] = st[j][3] = dpt[j][0] = dpt[j][1] = dpt[j][2] = dpt[j][3] = 0.0f;
#pragma unroll
        for (int kc = 0; kc < S::KC; kc++) {
            uint32_t ka[4], va[4];
            load_a_frag(ka, k_s, S::LD, warp * 16, kc * 16);
            load_a_frag(va, v_s, S::LD, warp * 16, kc * 16);
#pragma unroll
            for (int j = 0; j < 8; j++) {
                uint32_t qb[2], db[2];
                load_b_frag(qb, q_s, S::LD, j * 8, kc * 16);
                mma_16816(st[j], ka, qb);
                load_b_frag(db, do_s, S::LD, j * 8, kc * 16);
                mma_16816(dpt[j], va, db);
            }
        }
        const bool diagonal = i0 < j0 + S::ROWS;  // tiles with queries before some of these keys
#pragma unroll
        for (int j = 0; j < 8; j++) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int r = j * 8 + 2 * t + (e & 1);
                float p = exp2f(st[j][e] * scale_log2 - lse_s[r]);
                if (diagonal && (e < 2 ? key0 : key1) > i0 + r) p = 0.0f;
                st[j][e] = p;
                dpt[j][e] = p * (dpt[j][e] - delta_s[r]);  // dS^T
            }
        }
        // dv (16, HS) += P^T (16, 64 queries) . dO (64, HS); dk += dS^T . Q; B k-major from do_s, q_s.
#pragma unroll
        for (int kk = 0; kk < 4; kk++) {
            uint32_t pa[4], sa[4];
            scores_to_a_frag(pa, st, kk);
            scores_to_a_frag(sa, dpt, kk);
#pragma unroll
            for (int d = 0; d < S::DN; d += 2) {
                uint32_t db0[2], db1[2], qb0[2], qb1[2];
                load_b_frags_trans(db0, db1, do_s, S::LD, kk * 16, d * 8);
                mma_16816(dv[d], pa, db0);
                mma_16816(dv[d + 1], pa, db1);
                load_b_frags_trans(qb0, qb1, q_s, S::LD, kk * 16, d * 8);
                mma_16816(dk[d], sa, qb0);
                mma_16816(dk[d + 1], sa, qb1);
            }
        }
    }
    bf16 *dk0 = dqkv + ((size_t)b * T + key0) * 3 * C + C + h * HS + 2 * t, *dk1 = dk0 + 8 * (size_t)3 * C;
#pragma unroll
    for (int d = 0; d < S::DN; d++) {
        if (key0 < T) {
            *reinterpret_cast<uint32_t *>(dk0 + d * 8) = pack_bf16x2(dk[d][0] * scale, dk[d][1] * scale);
            *reinterpret_cast<uint32_t *>(dk0 + C + d * 8) = pack_bf16x2(dv[d][0], dv[d][1]);
        }
        if (key1 < T) {
            *reinterpret_cast<uint32_t *>(dk1 + d * 8) = pack_bf16x2(dk[d][2] * scale, dk[d][3] * scale);
            *reinterpret_cast<uint32_t *>(dk1 + C + d * 8) = pack_bf16x2(dv[d][2], dv[d][3]);
        }
    }
}

template <int HS, int WARPS>
static void attention_forward_tc_hs(bf16 *out, float *lse, const bf16 *qkv, int B, int T, int NH, cudaStream_t stream) {
    typedef TcShape<HS, WARPS> S;
    const size_t C = (size_t)NH * HS;
    attention_in_row_slices(B, NH, [&](int b0, int nb) {
        dim3 grid(ceil_div(T, S::ROWS), nb * NH);
        launch_with_smem(attention_forward_tc_kernel<HS, WARPS>, grid, S::THREADS, S::FORWARD_SMEM, stream,
                         out + (size_t)b0 * T * C, lse + (size_t)b0 * NH * T, qkv + (size_t)b0 * T * 3 * C, T, NH,
                         TC_LOG2E / sqrtf((float)HS));
    });
}

template <int HS, int WARPS>
static void attention_backward_tc_hs(bf16 *dqkv, float *delta, const bf16 *dout, const bf16 *qkv, const bf16 *out,
                                     const float *lse, int B, int T, int NH, cudaStream_t stream) {
    typedef TcShape<HS, WARPS> S;
    const size_t C = (size_t)NH * HS;
    float scale = 1.0f / sqrtf((float)HS), scale_log2 = TC_LOG2E * scale;
    attention_in_row_slices(B, NH, [&](int b0, int nb) {
        dim3 grid(ceil_div(T, S::ROWS), nb * NH);
        bf16 *dx = dqkv + (size_t)b0 * T * 3 * C;
        float *dl = delta + (size_t)b0 * NH * T;
        const bf16 *dy = dout + (size_t)b0 * T * C, *x = qkv + (size_t)b0 * T * 3 * C, *y = out + (size_t)b0 * T * C;
        const float *l = lse + (size_t)b0 * NH * T;
        launch_with_smem(attention_backward_dq_tc_kernel<HS, WARPS>, grid, S::THREADS, S::DQ_SMEM, stream, dx, dl, dy, x, y,
                         l, T, NH, scale, scale_log2);
        launch_with_smem(attention_backward_dkv_tc_kernel<HS, WARPS>, grid, S::THREADS, S::DKV_SMEM, stream, dx, dy, x, l,
                         dl, T, NH, scale, scale_log2);
    });
}

#define TC_DISPATCH(HS_VALUE, CALL)                                                                     \
    switch (HS_VALUE) {                                                                                 \
        case 16: CALL(16); break;                                                                       \
        case 32: CALL(32); break;                                                                       \
        case 64: CALL(64); break;                                                                       \
        case 128: CALL(128); break;                                                                     \
        default: die("attention: head size %d is not supported on the GPU (use channels/heads of 16, 32, 64 or 128)", HS_VALUE); \
    }

// bf16 out (B,T,C), lse (B,NH,T) from qkv (B,T,3C) on the tensor cores.
template <int WARPS = TC_MODEL_WARPS>
static void attention_forward_tc(bf16 *out, float *lse, const bf16 *qkv, int B, int T, int C, int NH, cudaStream_t stream) {
    int HS = C / NH;
#define TC_FORWARD(H) attention_forward_tc_hs<H, WARPS>(out, lse, qkv, B, T, NH, stream)
    TC_DISPATCH(HS, TC_FORWARD)
#undef TC_FORWARD
}

// bf16 dqkv (B,T,3C) from dout (B,T,C) on the tensor cores; delta (B,NH,T) scratch.
template <int WARPS = TC_MODEL_WARPS>
static void attention_backward_tc(bf16 *dqkv, float *delta, const bf16 *dout, const bf16 *qkv, const bf16 *out,
                                  const float *lse, int B, int T, int C, int NH, cudaStream_t stream) {
    int HS = C / NH;
#define TC_BACKWARD(H) attention_backward_tc_hs<H, WARPS>(dqkv, delta, dout, qkv, out, lse, B, T, NH, stream)
    TC_DISPATCH(HS, TC_BACKWARD)
#undef TC_BACKWARD
}
#undef TC_DISPATCH

// The model's entry points: bf16 runs on the tensor cores, fp32 (the check mode) on the CUDA cores.
template <typename floatX>
void attention_forward(floatX *out, float *lse, const floatX *qkv, int B, int T, int C, int NH, cudaStream_t stream) {
    if constexpr (sizeof(floatX) == 2) attention_forward_tc(out, lse, qkv, B, T, C, NH, stream);
    else attention_forward_simt<floatX>(out, lse, qkv, B, T, C, NH, stream);
}

template <typename floatX>
void attention_backward(floatX *dqkv, float *delta, const floatX *dout, const floatX *qkv, const floatX *out,
                        const float *lse, int B, int T, int C, int NH, cudaStream_t stream) {
    if constexpr (sizeof(floatX) == 2) attention_backward_tc(dqkv, delta, dout, qkv, out, lse, B, T, C, NH, stream);
    else attention_backward_simt<floatX>(dqkv, delta, dout, qkv, out, lse, B, T, C, NH, stream);
}

#endif
