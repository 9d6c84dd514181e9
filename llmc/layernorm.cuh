// LayerNorm on the GPU (eps 1e-5, biased variance, as GPT-2 / torch), fused with the residual add
// in the forward pass, and a backward whose weight/bias gradients are reduced deterministically:
// per-chunk partial sums over fixed row ranges, then a fixed-order sum of the chunks.
#ifndef LLMC_LAYERNORM_CUH
#define LLMC_LAYERNORM_CUH

#include "cuda_common.cuh"

// Row chunks of the deterministic column reductions (also used by the bias gradient in
// matmul.cuh). Fixed, so the summation order does not depend on the GPU model.
#define COLUMN_REDUCE_CHUNKS 32
#define COLUMN_REDUCE_ROWS_PER_BLOCK 8   // blockDim.y of the column kernels

// One warp per row.
//   residual_out (BT,C) = inp1 + inp2 (rounded to floatX), when inp2 != NULL
//   x = residual_out (or inp1 when inp2 == NULL)
//   out (BT,C) = (x - mean) * rstd * weight + bias;  mean, rstd (BT) fp32, saved for backward
// Statistics are computed from the rounded x, the same values the backward pass reads.
template <typename floatX>
__global__ void fused_residual_layernorm_kernel(floatX *residual_out, floatX *out, float *mean, float *rstd,
                                                const floatX *inp1, const floatX *inp2, const floatX *weight,
                                                const floatX *bias, int BT, int C) {
    int lane = threadIdx.x % 32;
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= BT) return;  // whole warps leave together: row is uniform within a warp
    long long base = (long long)row * C;
    const floatX *x = inp1 + base;
    float sum = 0.0f;
    if (inp2) {
        for (int c = lane; c < C; c += 32) {
            floatX r = from_float<floatX>(to_float(inp1[base + c]) + to_float(inp2[base + c]));
            residual_out[base + c] = r;
            sum += to_float(r);
        }
        x = residual_out + base;  // this lane reads back only what it wrote itself
    } else {
        for (int c = lane; c < C; c += 32) sum += to_float(x[c]);
    }
    float m = warp_sum(sum) / C;
    float var = 0.0f;
    for (int c = lane; c < C; c += 32) {
        float d = to_float(x[c]) - m;
        var += d * d;
    }
    float s = 1.0f / sqrtf(warp_sum(var) / C + 1e-5f);
    for (int c = lane; c < C; c += 32) {
        float n = (to_float(x[c]) - m) * s;
        out[base + c] = from_float<floatX>(n * to_float(weight[c]) + to_float(bias[c]));
    }
    if (lane == 0) {
        mean[row] = m;
        rstd[row] = s;
    }
}

template <typename floatX>
void fused_residual_layernorm_forward(floatX *residual_out, floatX *out, float *mean, float *rstd, const floatX *inp1,
                                      const floatX *inp2, const floatX *weight, const floatX *bias, int BT, int C,
                                      cudaStream_t stream) {
    const int block = 256, rows_per_block = block / 32;
    fused_residual_layernorm_kernel<<<ceil_div(BT, rows_per_block), block, 0, stream>>>(
        residual_out, out, mean, rstd, inp1, inp2, weight, bias, BT, C);
    cuda_check_launch();
}

// dinp (BT,C) = dresidual + d(layernorm)/d(inp) . dout (written; dresidual may be NULL or == dinp).
// One warp per row.
template <typename floatX>
__global__ void layernorm_backward_input_kernel(floatX *dinp, const floatX *dresidual, const floatX *dout,
                                                const floatX *inp, const floatX *weight, const float *mean,
                                                const float *rstd, int BT, int C) {
    int lane = threadIdx.x % 32;
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= BT) return;
    long long base = (long long)row * C;
    float m = mean[row], s = rstd[row];
    float dnorm_mean = 0.0f, dnorm_norm_mean = 0.0f;
    for (int c = lane; c < C; c += 32) {
        float dn = to_float(weight[c]) * to_float(dout[base + c]);
        dnorm_mean += dn;
        dnorm_norm_mean += dn * (to_float(inp[base + c]) - m) * s;
    }
    dnorm_mean = warp_sum(dnorm_mean) / C;
    dnorm_norm_mean = warp_sum(dnorm_norm_mean) / C;
    for (int c = lane; c < C; c += 32) {
        float norm = (to_float(inp[base + c]) - m) * s;
        float g = (to_float(weight[c]) * to_float(dout[base + c]) - dnorm_mean - norm * dnorm_norm_mean) * s;
        if (dresidual) g += to_float(dresidual[base + c]);
        dinp[base + c] = from_float<floatX>(g);
    }
}

// Partial sums for dweight = sum_rows dout * norm and dbias = sum_rows dout over one row chunk.
// grid (ceil(C/32), COLUMN_REDUCE_CHUNKS), block (32, COLUMN_REDUCE_ROWS_PER_BLOCK).
// partial: (COLUMN_REDUCE_CHUNKS, 2, C): [chunk][0][c] weight part, [chunk][1][c] bias part.
template <typename floatX>
__global__ void layernorm_backward_params_partial_kernel(float *partial, const floatX *dout, const floatX *inp,
                                                         const float *mean, const float *rstd, int BT, int C) {
    __shared__ float sw[COLUMN_REDUCE_ROWS_PER_BLOCK][32];
    __shared__ float sb[COLUMN_REDUCE_ROWS_PER_BLOCK][32];
    int c = blockIdx.x * 32 + threadIdx.x;
    int chunk = blockIdx.y;
    int rows_per_chunk = ceil_div(BT, COLUMN_REDUCE_CHUNKS);
    int lo = chunk * rows_per_chunk, hi = min(BT, lo + rows_per_chunk);
    float acc_w = 0.0f, acc_b = 0.0f;
    if (c < C) {
        for (int r = lo + threadIdx.y; r < hi; r += COLUMN_REDUCE_ROWS_PER_BLOCK) {
            float d = to_float(dout[(long long)r * C + c]);
            acc_w += d * (to_float(inp[(long long)r * C + c]) - mean[r]) * rstd[r];
            acc_b += d;
        }
    }
    sw[threadIdx.y][threadIdx.x] = acc_w;
    sb[threadIdx.y][threadIdx.x] = acc_b;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        float w = 0.0f, b = 0.0f;
        for (int y = 0; y < COLUMN_REDUCE_ROWS_PER_BLOCK; y++) { w += sw[y][threadIdx.x]; b += sb[y][threadIdx.x]; }
        partial[((long long)chunk * 2 + 0) * C + c] = w;
        partial[((long long)chunk * 2 + 1) * C + c] = b;
    }
}

// dweight[c] += sum over chunks (in order) of partial[chunk][0][c]; dbias likewise with [1].
__global__ void layernorm_backward_params_finish_kernel(float *dweight, float *dbias, const float *partial, int C) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float w = 0.0f, b = 0.0f;
    for (int k = 0; k < COLUMN_REDUCE_CHUNKS; k++) {
        w += partial[((long long)k * 2 + 0) * C + c];
        b += partial[((long long)k * 2 + 1) * C + c];
    }
    dweight[c] += w;
    dbias[c] += b;
}

// scratch: COLUMN_REDUCE_CHUNKS * 2 * C floats.
template <typename floatX>
void layernorm_backward(floatX *dinp, const floatX *dresidual, float *dweight, float *dbias, float *scratch,
                        const floatX *dout, const floatX *inp, const floatX *weight, const float *mean,
                        const float *rstd, int BT, int C, cudaStream_t stream) {
    // The parameter partials read dout before dinp is written: dinp may alias dresidual but never dout.
    dim3 grid(ceil_div(C, 32), COLUMN_REDUCE_CHUNKS), block(32, COLUMN_REDUCE_ROWS_PER_BLOCK);
    layernorm_backward_params_partial_kernel<<<grid, block, 0, stream>>>(scratch, dout, inp, mean, rstd, BT, C);
    cuda_check_launch();
    layernorm_backward_params_finish_kernel<<<ceil_div(C, 256), 256, 0, stream>>>(dweight, dbias, scratch, C);
    cuda_check_launch();
    const int threads = 256, rows_per_block = threads / 32;
    layernorm_backward_input_kernel<<<ceil_div(BT, rows_per_block), threads, 0, stream>>>(
        dinp, dresidual, dout, inp, weight, mean, rstd, BT, C);
    cuda_check_launch();
}

#endif
