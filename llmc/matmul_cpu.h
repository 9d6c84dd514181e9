// Dense matrix multiplication on the CPU: a packed, cache-blocked GEMM (BLIS-style loops around an
// AVX-512 / AVX2 register-tile kernel, portable C otherwise), plus the layer forms the model uses.
// Work is split over OpenMP threads along M or N only, never along K, so every output element is
// summed in the same order for any thread count: results are bitwise reproducible.
#ifndef LLMC_MATMUL_CPU_H
#define LLMC_MATMUL_CPU_H

#include <stddef.h>

// C (M, N) = [C +] A (M, K) @ B (K, N). A[i][k] is A[i*a_rs + k*a_cs] and B[k][j] is
// B[k*b_rs + j*b_cs], so transposed operands need no copies. C has row stride ldc.
void gemm_cpu(float *C, size_t ldc, const float *A, size_t a_rs, size_t a_cs,
              const float *B, size_t b_rs, size_t b_cs, int M, int N, int K, int accumulate);

// out (BT, OC) = inp (BT, C) @ weight (OC, C)^T + bias (OC); bias may be NULL.
void matmul_forward(float *out, const float *inp, const float *weight, const float *bias,
                    int BT, int C, int OC);
// out (BT, OC) = residual (BT, OC) + (inp @ weight^T + bias): the residual add fused into the store.
// residual may equal out (in place) or be NULL.
void matmul_forward_residual(float *out, const float *inp, const float *weight, const float *bias,
                             const float *residual, int BT, int C, int OC);
// dinp (BT, C) = dout (BT, OC) @ weight (OC, C)         (overwritten; skipped when NULL)
// dweight (OC, C) [+]= dout^T @ inp;  dbias (OC) [+]= column sums of dout (skipped when NULL);
// accumulate = 0 overwrites them (the first backward after zero_grad), 1 adds.
void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                     const float *inp, const float *weight, int BT, int C, int OC, int accumulate);

// A weight (OC, C) packed once into the GEMM's B-operand layout, for layers that run the same
// weight many times on a few rows (a decode step has M = batch rows): matmul_forward re-packs the
// whole weight on every call, which for small M costs more memory traffic than the product.
// matmul_forward_packed runs the same K blocks, the same kernel and the same per-element order of
// additions as matmul_forward, so its output is bitwise identical for every BT (and any thread
// count). The packed copy is about the size of the weight (C x OC rounded up to 32 columns).
typedef struct PackedWeight PackedWeight;
PackedWeight *matmul_pack_weight(const float *weight, int C, int OC);
void matmul_packed_free(PackedWeight *pw); // NULL is fine
// out (BT, OC) = inp (BT, C) @ weight^T + bias, as matmul_forward; C and OC must match the packing.
void matmul_forward_packed(float *out, const float *inp, const PackedWeight *pw, const float *bias,
                           int BT, int C, int OC);

#endif
