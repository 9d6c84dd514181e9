// GELU (tanh form, as GPT-2): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), forward and backward.
#ifndef LLMC_GELU_CUH
#define LLMC_GELU_CUH

#include "cuda_common.cuh"

#define GELU_SCALING_FACTOR 0.7978845608028654f  // sqrt(2/pi)

// out = gelu(inp), N elements.
template <typename floatX>
__global__ void gelu_forward_kernel(floatX *out, const floatX *inp, long long N) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N) return;
    float x = to_float(inp[i]);
    float u = GELU_SCALING_FACTOR * (x + 0.044715f * x * x * x);
    out[i] = from_float<floatX>(0.5f * x * (1.0f + tanhf(u)));
}

// dinp = gelu'(inp) * dout (written; dinp may equal dout).
template <typename floatX>
__global__ void gelu_backward_kernel(floatX *dinp, const floatX *inp, const floatX *dout, long long N) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N) return;
    float x = to_float(inp[i]);
    float u = GELU_SCALING_FACTOR * (x + 0.044715f * x * x * x);
    float th = tanhf(u);
    float du = GELU_SCALING_FACTOR * (1.0f + 3.0f * 0.044715f * x * x);
    float grad = 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * du;
    dinp[i] = from_float<floatX>(grad * to_float(dout[i]));
}

template <typename floatX>
void gelu_forward(floatX *out, const floatX *inp, long long N, cudaStream_t stream) {
    gelu_forward_kernel<<<ceil_div(N, 256), 256, 0, stream>>>(out, inp, N);
    cuda_check_launch();
}

template <typename floatX>
void gelu_backward(floatX *dinp, const floatX *inp, const floatX *dout, long long N, cudaStream_t stream) {
    gelu_backward_kernel<<<ceil_div(N, 256), 256, 0, stream>>>(dinp, inp, dout, N);
    cuda_check_launch();
}

#endif
