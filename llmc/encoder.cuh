// Token + position embedding on the GPU, forward and a deterministic backward.
// The trainer's positions are 0..T-1 in every row; the GPU evaluator gives its own (forward only).
#ifndef LLMC_ENCODER_CUH
#define LLMC_ENCODER_CUH

#include "cuda_common.cuh"

// out (B,T,C) = wte[inp[b,t]] + wpe[pos[b,t]] (pos NULL: t). One thread per output element.
template <typename floatX>
__global__ void encoder_forward_kernel(floatX *out, const int *inp, const int *pos, const floatX *wte, const floatX *wpe,
                                       int BT, int T, int C) {
    long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (long long)BT * C) return;
    int bt = (int)(idx / C), c = (int)(idx % C);
    int t = pos ? pos[bt] : bt % T;
    out[idx] = from_float<floatX>(to_float(wte[(long long)inp[bt] * C + c]) + to_float(wpe[(long long)t * C + c]));
}

template <typename floatX>
void encoder_forward(floatX *out, const int *inp, const int *pos, const floatX *wte, const floatX *wpe, int B, int T,
                     int C, cudaStream_t stream) {
    long long n = (long long)B * T * C;
    const int block = 256;
    encoder_forward_kernel<<<ceil_div(n, block), block, 0, stream>>>(out, inp, pos, wte, wpe, B * T, T, C);
    cuda_check_launch();
}

// dwpe[t] += sum over b of dout[b,t] (b in order). One thread per (t, c).
template <typename floatX>
__global__ void encoder_backward_wpe_kernel(float *dwpe, const floatX *dout, int B, int T, int C) {
    long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (long long)T * C) return;
    float sum = 0.0f;
    for (int b = 0; b < B; b++) sum += to_float(dout[(long long)b * T * C + idx]);
    dwpe[idx] += sum;
}

// dwte: the host buckets the B*T positions by token id (stable order; see gpt2_cuda.cuh), so each
// distinct token is one block that owns its row of dwte and sums its positions in a fixed order:
// no atomics, the same bits on every run.
//   bucket_tokens (U)    distinct token ids
//   bucket_starts (U+1)  offsets into bucket_rows
//   bucket_rows  (B*T)   positions (b*T + t), grouped by token, ascending within a token
template <typename floatX>
__global__ void encoder_backward_wte_kernel(float *dwte, const floatX *dout, const int *bucket_tokens,
                                            const int *bucket_starts, const int *bucket_rows, int C) {
    int u = blockIdx.x;
    int token = bucket_tokens[u], lo = bucket_starts[u], hi = bucket_starts[u + 1];
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float sum = 0.0f;
        for (int k = lo; k < hi; k++) sum += to_float(dout[(long long)bucket_rows[k] * C + c]);
        dwte[(long long)token * C + c] += sum;
    }
}

template <typename floatX>
void encoder_backward(float *dwte, float *dwpe, const floatX *dout, const int *bucket_tokens, const int *bucket_starts,
                      const int *bucket_rows, int num_buckets, int B, int T, int C, cudaStream_t stream) {
    const int block = 256;
    encoder_backward_wpe_kernel<<<ceil_div((long long)T * C, block), block, 0, stream>>>(dwpe, dout, B, T, C);
    cuda_check_launch();
    if (num_buckets > 0) {
        encoder_backward_wte_kernel<<<num_buckets, block, 0, stream>>>(dwte, dout, bucket_tokens, bucket_starts,
                                                                        bucket_rows, C);
        cuda_check_launch();
    }
}

#endif
