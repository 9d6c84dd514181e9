// Shared CUDA plumbing for the GPU trainer: error checks that die with one line, the floatX
// element types (fp32 and bf16), conversions, warp reductions and launch helpers.
//
// Every CUDA / cuBLAS call goes through cuda_check / cublas_check: a failure is reported as one
// `prog: error: ...` line naming the call site (via die() from llmc/utils.h) and exits non-zero.
#ifndef LLMC_CUDA_COMMON_CUH
#define LLMC_CUDA_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <cublasLt.h>
#include <stdint.h>
#include <stdio.h>

extern "C" {
#include "utils.h"
}

// ---------------------------------------------------------------------------------------------
// Error checks.

static inline void cuda_check_at(cudaError_t err, const char *what, const char *file, int line) {
    if (err == cudaSuccess) return;
    die("CUDA error in %s (%s:%d): %s (check the GPU with nvidia-smi; rerun with a smaller batch if memory is short)",
        what, file, line, cudaGetErrorString(err));
}
#define cuda_check(call) cuda_check_at((call), #call, __FILE__, __LINE__)
// After a kernel launch: catches bad launch configurations at once (asynchronous faults surface
// at the next synchronising call, which is also checked).
#define cuda_check_launch() cuda_check_at(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)

static inline void cublas_check_at(cublasStatus_t st, const char *what, const char *file, int line) {
    if (st == CUBLAS_STATUS_SUCCESS) return;
    die("cuBLAS error %d in %s (%s:%d) (this shape/precision is not supported by cuBLASLt on this GPU)",
        (int)st, what, file, line);
}
#define cublas_check(call) cublas_check_at((call), #call, __FILE__, __LINE__)

__host__ __device__ inline int ceil_div(long long a, long long b) { return (int)((a + b - 1) / b); }

// ---------------------------------------------------------------------------------------------
// Element types. Activations and the working copy of the weights are floatX (float or bf16);
// master weights, gradients, optimizer moments, LayerNorm statistics and losses are always fp32.

typedef __nv_bfloat16 bf16;

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(bf16 x) { return __bfloat162float(x); }
template <typename T> __device__ __forceinline__ T from_float(float x);
template <> __device__ __forceinline__ float from_float<float>(float x) { return x; }
// Round to nearest even: deterministic (llm.c uses stochastic rounding; we prefer bitwise repeatability).
template <> __device__ __forceinline__ bf16 from_float<bf16>(float x) { return __float2bfloat16_rn(x); }

template <typename T> struct CudaType;
template <> struct CudaType<float> { static constexpr cudaDataType_t value = CUDA_R_32F; static const char *name() { return "fp32"; } };
template <> struct CudaType<bf16> { static constexpr cudaDataType_t value = CUDA_R_16BF; static const char *name() { return "bf16"; } };

// ---------------------------------------------------------------------------------------------
// Reductions in a fixed order (butterfly), so every lane gets the same bits on every run.

__device__ __forceinline__ float warp_sum(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
    return v;
}
__device__ __forceinline__ double warp_sum_double(double v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

// The largest grid y extent of the current device (65535 on every GPU so far), asked once.
static inline int cuda_max_grid_y() {
    static int most = 0;
    if (most == 0) {
        int device;
        cuda_check(cudaGetDevice(&device));
        cuda_check(cudaDeviceGetAttribute(&most, cudaDevAttrMaxGridDimY, device));
    }
    return most;
}

// Launches kernel with `smem` bytes of dynamic shared memory, raising the 48 KiB default when needed.
template <typename Kernel, typename... Args>
static void launch_with_smem(Kernel kernel, dim3 grid, int threads, size_t smem, cudaStream_t stream, Args... args) {
    if (smem > 48 * 1024) cuda_check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    kernel<<<grid, threads, smem, stream>>>(args...);
    cuda_check_launch();
}

// Fixed-order reduction over the block (blockDim a multiple of 32): a butterfly within each warp
// (a commutative op gives every lane the same bits), then the warps' results in warp order; every
// thread gets the result. Two barriers, not one per tree level. scratch: blockDim / 32 values.
template <typename T, typename Op>
__device__ T block_reduce(T v, T *scratch, Op op) {
    for (int offset = 16; offset > 0; offset >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, offset));
    if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
    __syncthreads();
    T result = scratch[0];
    for (int w = 1; w < (int)(blockDim.x / 32); w++) result = op(result, scratch[w]);
    __syncthreads();  // scratch is reused by the caller's next reduction
    return result;
}
struct MaxOp { __device__ float operator()(float a, float b) const { return fmaxf(a, b); } };
struct SumOp { __device__ float operator()(float a, float b) const { return a + b; } };
struct SumOpD { __device__ double operator()(double a, double b) const { return a + b; } };

#endif
