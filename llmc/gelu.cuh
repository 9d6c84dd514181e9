// GELU (tanh form, as GPT-2): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), forward and backward.
#ifndef LLMC_GELU_CUH
#define LLMC_GELU_CUH

#include "cuda_common.cuh"

#define GELU_SCALING_FACTOR 0.7978845608028654f  // sqrt(2/pi)

// tanh: the hardware approximation (about 2^-11 relative error, far below bf16's 2^-8) in bf16,
// the accurate one in the fp32 check mode. Both are deterministic.
template <typename floatX> __device__ __forceinline__ float gelu_tanh(float u);
template <> __device__ __forceinline__ float gelu_tanh<float>(float u) { return tanhf(u); }
template <> __device__ __forceinline__ float gelu_tanh<bf16>(float u) {
    float r;
#ifndef MEMLENS_CUDA_EMULATOR
    asm("tanh.approx.f32 %0, %1;" : "=f"(r) : "f"(u));
#else
    r = tanhf(u);  // the CPU emulator (dev/cuda/emu) has no PTX
#endif
    return r;
}

template <typename floatX> __device__ __forceinline__ float gelu_value(float x) {
    float u = GELU_SCALING_FACTOR * (x + 0.044715f * x * x * x);
    return 0.5f * x * (1.0f + gelu_tanh<floatX>(u));
}

template <typename floatX> __device__ __forceinline__ float gelu_grad(float x) {
    float u = GELU_SCALING_FACTOR * (x + 0.044715f * x * x * x);
    float th = gelu_tanh<floatX>(u);
    float du = GELU_SCALING_FACTOR * (1.0f + 3.0f * 0.044715f * x * x);
    return 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * du;
}

// 16-byte vectors (8 bf16 or 4 floats) per thread; the tail past the last whole vector element by
// element. Pointers from the activation arena are 256-byte aligned.
#define GELU_VEC(floatX) (16 / (int)sizeof(floatX))

// out = gelu(inp), N elements.
template <typename floatX>
__global__ void gelu_forward_kernel(floatX *out, const floatX *inp, long long N) {
    constexpr int VEC = GELU_VEC(floatX);
    long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if ((k + 1) * VEC <= N) {
        uint4 raw = reinterpret_cast<const uint4 *>(inp)[k];
        floatX *v = reinterpret_cast<floatX *>(&raw);
#pragma unroll
        for (int i = 0; i < VEC; i++) v[i] = from_float<floatX>(gelu_value<floatX>(to_float(v[i])));
        reinterpret_cast<uint4 *>(out)[k] = raw;
    } else {
        for (long long i = k * VEC; i < N && i < (k + 1) * VEC; i++) out[i] = from_float<floatX>(gelu_value<floatX>(to_float(inp[i])));
    }
}

// dinp = gelu'(inp) * dout (written; dinp may equal dout).
template <typename floatX>
__global__ void gelu_backward_kernel(floatX *dinp, const floatX *inp, const floatX *dout, long long N) {
    constexpr int VEC = GELU_VEC(floatX);
    long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if ((k + 1) * VEC <= N) {
        uint4 raw_x = reinterpret_cast<const uint4 *>(inp)[k], raw_d = reinterpret_cast<const uint4 *>(dout)[k];
        const floatX *x = reinterpret_cast<const floatX *>(&raw_x);
        floatX *d = reinterpret_cast<floatX *>(&raw_d);
#pragma unroll
        for (int i = 0; i < VEC; i++) d[i] = from_float<floatX>(gelu_grad<floatX>(to_float(x[i])) * to_float(d[i]));
        reinterpret_cast<uint4 *>(dinp)[k] = raw_d;
    } else {
        for (long long i = k * VEC; i < N && i < (k + 1) * VEC; i++)
            dinp[i] = from_float<floatX>(gelu_grad<floatX>(to_float(inp[i])) * to_float(dout[i]));
    }
}

template <typename floatX>
void gelu_forward(floatX *out, const floatX *inp, long long N, cudaStream_t stream) {
    gelu_forward_kernel<<<ceil_div(ceil_div(N, GELU_VEC(floatX)), 256), 256, 0, stream>>>(out, inp, N);
    cuda_check_launch();
}

template <typename floatX>
void gelu_backward(floatX *dinp, const floatX *inp, const floatX *dout, long long N, cudaStream_t stream) {
    gelu_backward_kernel<<<ceil_div(ceil_div(N, GELU_VEC(floatX)), 256), 256, 0, stream>>>(dinp, inp, dout, N);
    cuda_check_launch();
}

#endif
