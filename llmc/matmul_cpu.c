// Packed GEMM. Loop nest (outer to inner), for each thread's slice of C:
//   jc over N in NC columns -> pc over K in KC -> pack B block (KC x NC) into NR-wide slivers
//   -> ic over M in MC rows -> pack A block (MC x KC) into MR-tall slivers
//   -> jr over NR slivers -> ir over MR slivers -> register kernel (MR x NR, kc long).
// Packed layouts: A sliver a[k*MR + i], B sliver b[k*NR + j]; edges are zero padded.
// matmul_forward_packed skips the B packing: the weight was packed once, in the same slivers
// (see "Pre-packed weights" below), and the same gemm_block does the rest.
#include "matmul_cpu.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include "utils.h"

#define MR 12
#define NR 32
#define KC 256
#define MC 192   // multiple of MR; an A block (MC x KC, 192 KiB) stays in L2
#define NC 1024  // multiple of NR

// ---------------------------------------------------------------------------------------------
// Register kernels: c (MR x NR, row stride ldc) = [c +] a-sliver . b-sliver over kc steps.
// The optional epilogue (first K block only) adds bias[j] and addend[i][j] (row stride ldc).

#if defined(__AVX512F__)
static void kernel(int kc, const float *restrict a, const float *restrict b, float *c,
                   size_t ldc, int accumulate, const float *bias, const float *addend) {
    __m512 acc[MR][2];
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int k = 0; k < kc; k++) {
        __m512 b0 = _mm512_load_ps(b + (size_t)k * NR);
        __m512 b1 = _mm512_load_ps(b + (size_t)k * NR + 16);
#pragma GCC unroll 12
        for (int i = 0; i < MR; i++) {
            __m512 ai = _mm512_set1_ps(a[(size_t)k * MR + i]);
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
        }
    }
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
        float *row = c + (size_t)i * ldc;
        if (accumulate) {
            acc[i][0] = _mm512_add_ps(_mm512_loadu_ps(row), acc[i][0]);
            acc[i][1] = _mm512_add_ps(_mm512_loadu_ps(row + 16), acc[i][1]);
        } else {
            if (bias) {
                acc[i][0] = _mm512_add_ps(acc[i][0], _mm512_loadu_ps(bias));
                acc[i][1] = _mm512_add_ps(acc[i][1], _mm512_loadu_ps(bias + 16));
            }
            if (addend) {
                const float *r = addend + (size_t)i * ldc;
                acc[i][0] = _mm512_add_ps(_mm512_loadu_ps(r), acc[i][0]);
                acc[i][1] = _mm512_add_ps(_mm512_loadu_ps(r + 16), acc[i][1]);
            }
        }
        _mm512_storeu_ps(row, acc[i][0]);
        _mm512_storeu_ps(row + 16, acc[i][1]);
    }
}
#elif defined(__AVX2__)
// 16 ymm registers hold a 6 x 16 tile (12 accumulators); the MR x NR tile is 2 x 2 of those.
static void kernel_6x16(int kc, const float *restrict a, const float *restrict b, float *c,
                        size_t ldc, int accumulate, const float *bias, const float *addend) {
    __m256 acc[6][2];
    for (int i = 0; i < 6; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int k = 0; k < kc; k++) {
        __m256 b0 = _mm256_load_ps(b + (size_t)k * NR);
        __m256 b1 = _mm256_load_ps(b + (size_t)k * NR + 8);
        for (int i = 0; i < 6; i++) {
            __m256 ai = _mm256_broadcast_ss(a + (size_t)k * MR + i);
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
        }
    }
    for (int i = 0; i < 6; i++) {
        float *row = c + (size_t)i * ldc;
        if (accumulate) {
            acc[i][0] = _mm256_add_ps(_mm256_loadu_ps(row), acc[i][0]);
            acc[i][1] = _mm256_add_ps(_mm256_loadu_ps(row + 8), acc[i][1]);
        } else {
            if (bias) {
                acc[i][0] = _mm256_add_ps(acc[i][0], _mm256_loadu_ps(bias));
                acc[i][1] = _mm256_add_ps(acc[i][1], _mm256_loadu_ps(bias + 8));
            }
            if (addend) {
                const float *r = addend + (size_t)i * ldc;
                acc[i][0] = _mm256_add_ps(_mm256_loadu_ps(r), acc[i][0]);
                acc[i][1] = _mm256_add_ps(_mm256_loadu_ps(r + 8), acc[i][1]);
            }
        }
        _mm256_storeu_ps(row, acc[i][0]);
        _mm256_storeu_ps(row + 8, acc[i][1]);
    }
}
static void kernel(int kc, const float *restrict a, const float *restrict b, float *c,
                   size_t ldc, int accumulate, const float *bias, const float *addend) {
    for (int i0 = 0; i0 < MR; i0 += 6)
        for (int j0 = 0; j0 < NR; j0 += 16)
            kernel_6x16(kc, a + i0, b + j0, c + (size_t)i0 * ldc + j0, ldc, accumulate,
                        bias ? bias + j0 : NULL, addend ? addend + (size_t)i0 * ldc + j0 : NULL);
}
#else
static void kernel(int kc, const float *restrict a, const float *restrict b, float *c,
                   size_t ldc, int accumulate, const float *bias, const float *addend) {
    for (int i = 0; i < MR; i++) {
        float acc[NR] = {0};
        for (int k = 0; k < kc; k++) {
            float ai = a[(size_t)k * MR + i];
            for (int j = 0; j < NR; j++) acc[j] += ai * b[(size_t)k * NR + j];
        }
        float *row = c + (size_t)i * ldc;
        for (int j = 0; j < NR; j++) {
            float x = acc[j];
            if (accumulate) {
                x = row[j] + x;
            } else {
                if (bias) x = x + bias[j];
                if (addend) x = addend[(size_t)i * ldc + j] + x;
            }
            row[j] = x;
        }
    }
}
#endif

// ---------------------------------------------------------------------------------------------
// Packing.

// One sliver from a source whose rows are not adjacent (rs != 1): dst[k*R + r] = src[r*rs + k*cs]
// for r < rows, zero for rows <= r < R, k < kc. Walks each source row along k.
static void pack_sliver_strided(float *restrict dst, const float *restrict src, size_t rs, size_t cs,
                                int rows, int kc, int R) {
    for (int r = 0; r < rows; r++) {
        const float *s = src + (size_t)r * rs;
        if (cs == 1) {
            for (int k = 0; k < kc; k++) dst[(size_t)k * R + r] = s[k];
        } else {
            for (int k = 0; k < kc; k++) dst[(size_t)k * R + r] = s[(size_t)k * cs];
        }
    }
    for (int r = rows; r < R; r++)
        for (int k = 0; k < kc; k++) dst[(size_t)k * R + r] = 0.0f;
}

// A whole panel of `rows` rows (ceil(rows / R) slivers, each R x kc, stored one after another).
// When the rows of one k are adjacent (rs == 1), walk k outermost so each source line is read
// once and in full; otherwise pack sliver by sliver.
static void pack_panel(float *restrict dst, const float *restrict src, size_t rs, size_t cs,
                       int rows, int kc, int R) {
    if (rs == 1) {
        for (int k = 0; k < kc; k++) {
            const float *s = src + (size_t)k * cs;
            for (int r0 = 0; r0 < rows; r0 += R) {
                int n = rows - r0 < R ? rows - r0 : R;
                float *d = dst + (size_t)r0 * kc + (size_t)k * R;
                memcpy(d, s + r0, n * sizeof(float));
                for (int r = n; r < R; r++) d[r] = 0.0f;
            }
        }
    } else {
        for (int r0 = 0; r0 < rows; r0 += R) {
            int n = rows - r0 < R ? rows - r0 : R;
            pack_sliver_strided(dst + (size_t)r0 * kc, src + (size_t)r0 * rs, rs, cs, n, kc, R);
        }
    }
}

// Per-thread packing buffers, allocated once per thread and reused (no allocation per step).
static _Thread_local float *tls_pack_a;
static _Thread_local float *tls_pack_b;

static float *aligned_or_die(size_t n) {
    void *p = NULL;
    if (posix_memalign(&p, 64, n * sizeof(float)) != 0) die("out of memory allocating GEMM buffers");
    return p;
}

// C = [C +] nothing (+ epilogue): the K == 0 product.
static void gemm_empty(float *C, size_t ldc, int M, int N, int accumulate, const float *bias, const float *addend) {
    if (!accumulate)
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                C[(size_t)i * ldc + j] = (addend ? addend[(size_t)i * ldc + j] : 0.0f) + (bias ? bias[j] : 0.0f);
}

// One (jc, pc) block: columns jc .. jc+nc of C [+]= A[:, pc .. pc+kc] @ the packed B block pb
// (nc columns in NR-wide slivers, kc long). acc = 0 on the first K block: then the epilogue adds
// bias and addend. Shared by the re-packing and the pre-packed paths, so both sum alike.
static void gemm_block(float *C, size_t ldc, const float *A, size_t a_rs, size_t a_cs, const float *pb,
                       int M, int jc, int nc, int pc, int kc, int acc, const float *bias, const float *addend,
                       float *pa) {
    float edge[MR * NR] __attribute__((aligned(64)));
    for (int ic = 0; ic < M; ic += MC) {
        int mc = M - ic < MC ? M - ic : MC;
        pack_panel(pa, A + (size_t)ic * a_rs + (size_t)pc * a_cs, a_rs, a_cs, mc, kc, MR);
        for (int jr = 0; jr < nc; jr += NR) {
            int cols = nc - jr < NR ? nc - jr : NR;
            const float *bs = pb + (size_t)jr * kc;
            for (int ir = 0; ir < mc; ir += MR) {
                int rows = mc - ir < MR ? mc - ir : MR;
                const float *as = pa + (size_t)ir * kc;
                size_t offset = (size_t)(ic + ir) * ldc + jc + jr;
                float *c = C + offset;
                const float *bias_j = !acc && bias ? bias + jc + jr : NULL;
                const float *add_ij = !acc && addend ? addend + offset : NULL;
                if (rows == MR && cols == NR) {
                    kernel(kc, as, bs, c, ldc, acc, bias_j, add_ij);
                } else {  // edge tile: compute the full tile aside, keep the valid part
                    kernel(kc, as, bs, edge, NR, 0, NULL, NULL);
                    for (int i = 0; i < rows; i++)
                        for (int j = 0; j < cols; j++) {
                            float x = edge[i * NR + j];
                            if (acc) {
                                x = c[(size_t)i * ldc + j] + x;
                            } else {
                                if (bias_j) x = x + bias_j[j];
                                if (add_ij) x = add_ij[(size_t)i * ldc + j] + x;
                            }
                            c[(size_t)i * ldc + j] = x;
                        }
                }
            }
        }
    }
}

// One thread's serial GEMM on a sub-problem. bias (N) and addend (M, N; row stride ldc) are added
// once, when !accumulate: C = addend + (A B + bias).
static void gemm_serial(float *C, size_t ldc, const float *A, size_t a_rs, size_t a_cs,
                        const float *B, size_t b_rs, size_t b_cs, int M, int N, int K, int accumulate,
                        const float *bias, const float *addend) {
    if (!tls_pack_a) tls_pack_a = aligned_or_die((size_t)MC * KC);
    if (!tls_pack_b) tls_pack_b = aligned_or_die((size_t)KC * NC);
    float *pa = tls_pack_a, *pb = tls_pack_b;

    if (K == 0) {
        gemm_empty(C, ldc, M, N, accumulate, bias, addend);
        return;
    }
    for (int jc = 0; jc < N; jc += NC) {
        int nc = N - jc < NC ? N - jc : NC;
        for (int pc = 0; pc < K; pc += KC) {
            int kc = K - pc < KC ? K - pc : KC;
            pack_panel(pb, B + (size_t)pc * b_rs + (size_t)jc * b_cs, b_cs, b_rs, nc, kc, NR);
            gemm_block(C, ldc, A, a_rs, a_cs, pb, M, jc, nc, pc, kc, accumulate || pc > 0, bias, addend, pa);
        }
    }
}

// This thread's share of an M x N product (no barrier): the longer of M and N is cut into equal
// runs of whole slivers. Returns 0 when the thread has none; else *split_n says which was cut and
// [*lo, *hi) is the thread's run of it.
static int team_share(int M, int N, int *split_n, int *lo, int *hi) {
    if (M <= 0 || N <= 0) return 0;
    int nt = omp_get_num_threads(), t = omp_get_thread_num();
    *split_n = N >= M;
    int unit = *split_n ? NR : MR, len = *split_n ? N : M;
    int units = (len + unit - 1) / unit;
    int u0 = (int)((long)units * t / nt), u1 = (int)((long)units * (t + 1) / nt);
    *lo = u0 * unit;
    *hi = u1 * unit < len ? u1 * unit : len;
    return *lo < *hi;
}

// This thread's share of C (called by every thread of a team, no barrier).
static void gemm_team(float *C, size_t ldc, const float *A, size_t a_rs, size_t a_cs,
                      const float *B, size_t b_rs, size_t b_cs, int M, int N, int K, int accumulate,
                      const float *bias, const float *addend) {
    int split_n, lo, hi;
    if (!team_share(M, N, &split_n, &lo, &hi)) return;
    if (split_n)
        gemm_serial(C + lo, ldc, A, a_rs, a_cs, B + (size_t)lo * b_cs, b_rs, b_cs, M, hi - lo, K, accumulate,
                    bias ? bias + lo : NULL, addend ? addend + lo : NULL);
    else
        gemm_serial(C + (size_t)lo * ldc, ldc, A + (size_t)lo * a_rs, a_rs, a_cs, B, b_rs, b_cs, hi - lo, N, K,
                    accumulate, bias, addend ? addend + (size_t)lo * ldc : NULL);
}

// Small products are not worth waking the thread team.
static int worth_threads(int M, int N, int K) { return (double)M * N * (K > 0 ? K : 1) > 2e6; }

void gemm_cpu(float *C, size_t ldc, const float *A, size_t a_rs, size_t a_cs,
              const float *B, size_t b_rs, size_t b_cs, int M, int N, int K, int accumulate) {
#pragma omp parallel if (worth_threads(M, N, K))
    gemm_team(C, ldc, A, a_rs, a_cs, B, b_rs, b_cs, M, N, K, accumulate, NULL, NULL);
}

// ---------------------------------------------------------------------------------------------
// Layer forms.

void matmul_forward(float *out, const float *inp, const float *weight, const float *bias,
                    int BT, int C, int OC) {
    matmul_forward_residual(out, inp, weight, bias, NULL, BT, C, OC);
}

void matmul_forward_residual(float *out, const float *inp, const float *weight, const float *bias,
                             const float *residual, int BT, int C, int OC) {
    // out = inp @ weight^T: B[k][j] = weight[j*C + k]; bias and residual fused into the store.
#pragma omp parallel if (worth_threads(BT, OC, C))
    gemm_team(out, OC, inp, C, 1, weight, 1, C, BT, OC, C, 0, bias, residual);
}

void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                     const float *inp, const float *weight, int BT, int C, int OC, int accumulate) {
    // Three independent outputs, one parallel region: each thread does its share of each in turn.
#pragma omp parallel if (worth_threads(BT, C, OC))
    {
        if (dinp) gemm_team(dinp, C, dout, OC, 1, weight, C, 1, BT, C, OC, 0, NULL, NULL);
        // dweight[o][c] += sum_bt dout[bt][o] * inp[bt][c]: A[o][bt] = dout[bt*OC + o].
        if (dweight) gemm_team(dweight, C, dout, 1, OC, inp, C, 1, OC, C, BT, accumulate, NULL, NULL);
        if (dbias) {
            // Threads own disjoint column ranges; rows are summed in order.
            int nt = omp_get_num_threads(), t = omp_get_thread_num();
            int lo = (int)((long)OC * t / nt), hi = (int)((long)OC * (t + 1) / nt);
            if (!accumulate)
                for (int o = lo; o < hi; o++) dbias[o] = 0.0f;
            for (int bt = 0; bt < BT; bt++) {
                const float *d = dout + (size_t)bt * OC;
                for (int o = lo; o < hi; o++) dbias[o] += d[o];
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pre-packed weights. The whole weight is stored as pack_panel would store it, K block by K block:
// block pc (kc = min(KC, C - pc) long) holds every NR-wide sliver of the OC columns, at
// data + pc * OC_padded, sliver of column j at + j * kc. matmul_forward packs exactly these
// slivers (threads and NC blocks start on sliver boundaries), so the kernel sees the same numbers.

struct PackedWeight {
    int C, OC;
    size_t oc_padded;  // OC rounded up to NR
    float *data;       // C * oc_padded floats, 64-byte aligned
};

PackedWeight *matmul_pack_weight(const float *weight, int C, int OC) {
    if (C < 0 || OC < 1) die("matmul_pack_weight: bad shape (%d, %d)", OC, C);
    PackedWeight *pw = malloc_or_die(sizeof *pw);
    pw->C = C;
    pw->OC = OC;
    pw->oc_padded = (size_t)(OC + NR - 1) / NR * NR;
    pw->data = aligned_or_die((size_t)C * pw->oc_padded + 1);
    // B[k][j] = weight[j*C + k] (rs 1 along k, cs C along j), as in matmul_forward_residual
    #pragma omp parallel for schedule(static)
    for (int pc = 0; pc < C; pc += KC) {
        int kc = C - pc < KC ? C - pc : KC;
        pack_panel(pw->data + (size_t)pc * pw->oc_padded, weight + pc, C, 1, OC, kc, NR);
    }
    return pw;
}

void matmul_packed_free(PackedWeight *pw) {
    if (!pw) return;
    free(pw->data);
    free(pw);
}

// gemm_serial with B already packed: this thread's rows (M, from A) and columns n0 .. n0+N of the
// weight; C, bias and addend already point at column n0. Same jc / pc loops as gemm_serial.
static void gemm_serial_packed(float *C, size_t ldc, const float *A, size_t a_rs, const PackedWeight *pw,
                               int n0, int M, int N, const float *bias, const float *addend) {
    if (!tls_pack_a) tls_pack_a = aligned_or_die((size_t)MC * KC);
    const int K = pw->C;
    if (K == 0) {
        gemm_empty(C, ldc, M, N, 0, bias, addend);
        return;
    }
    for (int jc = 0; jc < N; jc += NC) {
        int nc = N - jc < NC ? N - jc : NC;
        for (int pc = 0; pc < K; pc += KC) {
            int kc = K - pc < KC ? K - pc : KC;
            const float *pb = pw->data + (size_t)pc * pw->oc_padded + (size_t)(n0 + jc) * kc;
            gemm_block(C, ldc, A, a_rs, 1, pb, M, jc, nc, pc, kc, pc > 0, bias, addend, tls_pack_a);
        }
    }
}

void matmul_forward_packed(float *out, const float *inp, const PackedWeight *pw, const float *bias,
                           int BT, int C, int OC) {
    if (pw->C != C || pw->OC != OC)
        die("matmul_forward_packed: weight packed as (%d, %d), called with (%d, %d)", pw->OC, pw->C, OC, C);
    // Same split as matmul_forward (along M or N only); the sums do not depend on it anyway.
#pragma omp parallel if (worth_threads(BT, OC, C))
    {
        int split_n, lo, hi;
        if (team_share(BT, OC, &split_n, &lo, &hi)) {
            if (split_n)
                gemm_serial_packed(out + lo, OC, inp, C, pw, lo, BT, hi - lo, bias ? bias + lo : NULL, NULL);
            else
                gemm_serial_packed(out + (size_t)lo * OC, OC, inp + (size_t)lo * C, C, pw, 0, hi - lo, OC, bias, NULL);
        }
    }
}
