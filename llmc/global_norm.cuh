// Sum of squares of the fp32 gradients (the square of their global L2 norm), deterministic: a
// fixed grid of blocks each sums a fixed grid-stride set of elements in double, reduces with a
// fixed tree, and one block sums the block partials in order. The same bits on every run,
// independent of timing. The caller takes the square root (or first adds the sums of other ranks'
// shards, under ZeRO-1).
#ifndef LLMC_GLOBAL_NORM_CUH
#define LLMC_GLOBAL_NORM_CUH

#include <math.h>
#include "cuda_common.cuh"

#define GLOBAL_NORM_BLOCKS 1024
#define GLOBAL_NORM_THREADS 512

// partial (GLOBAL_NORM_BLOCKS) = per-block sums of squares.
__global__ void __launch_bounds__(GLOBAL_NORM_THREADS)
global_norm_partial_kernel(double *partial, const float *grads, size_t n) {
    __shared__ double warp_sums[GLOBAL_NORM_THREADS / 32];
    double sum = 0.0;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        double g = grads[i];
        sum += g * g;
    }
    sum = warp_sum_double(sum);
    if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = sum;
    __syncthreads();
    if (threadIdx.x == 0) {
        double total = 0.0;
        for (int w = 0; w < GLOBAL_NORM_THREADS / 32; w++) total += warp_sums[w];
        partial[blockIdx.x] = total;
    }
}

// out[0] = sum of partials, in index order by one thread.
__global__ void global_norm_finish_kernel(double *out, const double *partial) {
    if (threadIdx.x != 0 || blockIdx.x != 0) return;
    double total = 0.0;
    for (int k = 0; k < GLOBAL_NORM_BLOCKS; k++) total += partial[k];
    out[0] = total;
}

// scratch: GLOBAL_NORM_BLOCKS doubles; result: one double on the device.
static void global_sum_of_squares(double *result, double *scratch, const float *grads, size_t n, cudaStream_t stream) {
    global_norm_partial_kernel<<<GLOBAL_NORM_BLOCKS, GLOBAL_NORM_THREADS, 0, stream>>>(scratch, grads, n);
    cuda_check_launch();
    global_norm_finish_kernel<<<1, 32, 0, stream>>>(result, scratch);
    cuda_check_launch();
}

#endif
