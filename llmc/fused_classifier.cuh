// Softmax + cross-entropy over the vocabulary without materialising probabilities:
//   forward:  per row, lse = log sum_{v<V} exp(logit_v) (online max/sum), loss = lse - logit[target]
//             (0 where target < 0); lse (BT) is kept for the backward pass.
//   backward: dlogits = (exp(logit - lse) - onehot(target)) * dloss written IN PLACE over the
//             logits (BT,Vp); padded columns (v >= V) and ignored rows get 0.
// One block per row; the block reduction combines per-thread (max, sum) pairs in a fixed order.
#ifndef LLMC_FUSED_CLASSIFIER_CUH
#define LLMC_FUSED_CLASSIFIER_CUH

#include <math.h>
#include "cuda_common.cuh"

#define CLASSIFIER_THREADS 512

// (m, s) represents s * exp(m); combining two keeps the larger exponent.
__device__ __forceinline__ void softmax_pair_combine(float &m, float &s, float m2, float s2) {
    float m_new = fmaxf(m, m2);
    if (m_new == -INFINITY) return;  // both empty
    s = s * expf(m - m_new) + s2 * expf(m2 - m_new);
    m = m_new;
}

template <typename floatX>
__global__ void __launch_bounds__(CLASSIFIER_THREADS)
classifier_forward_kernel(float *losses, float *lse_out, const floatX *logits, const int *targets, int V, int Vp) {
    __shared__ float shared_m[CLASSIFIER_THREADS / 32], shared_s[CLASSIFIER_THREADS / 32];
    int row = blockIdx.x;
    const floatX *x = logits + (long long)row * Vp;
    float m = -INFINITY, s = 0.0f;
    for (int v = threadIdx.x; v < V; v += blockDim.x) {
        float val = to_float(x[v]);
        if (val > m) { s = s * expf(m - val) + 1.0f; m = val; }
        else s += expf(val - m);
    }
    // Warp butterfly, then warp 0's lane 0 combines the warps in order.
    for (int offset = 16; offset > 0; offset >>= 1) {
        float m2 = __shfl_xor_sync(0xffffffffu, m, offset), s2 = __shfl_xor_sync(0xffffffffu, s, offset);
        softmax_pair_combine(m, s, m2, s2);
    }
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0) { shared_m[warp] = m; shared_s[warp] = s; }
    __syncthreads();
    if (threadIdx.x == 0) {
        float bm = shared_m[0], bs = shared_s[0];
        for (int w = 1; w < (int)blockDim.x / 32; w++) softmax_pair_combine(bm, bs, shared_m[w], shared_s[w]);
        float lse = bm + logf(bs);
        int target = targets[row];
        lse_out[row] = lse;
        losses[row] = target >= 0 ? lse - to_float(x[target]) : 0.0f;
    }
}

template <typename floatX>
__global__ void classifier_backward_kernel(floatX *logits, const float *lse, const int *targets, float dloss, int V, int Vp) {
    int row = blockIdx.x;
    floatX *x = logits + (long long)row * Vp;
    int target = targets[row];
    float row_lse = lse[row];
    for (int v = threadIdx.x; v < Vp; v += blockDim.x) {
        float d = 0.0f;
        if (target >= 0 && v < V) d = (expf(to_float(x[v]) - row_lse) - (v == target ? 1.0f : 0.0f)) * dloss;
        x[v] = from_float<floatX>(d);
    }
}

// losses, lse: (BT) fp32; logits (BT,Vp); targets (BT), every target < V (checked on the host).
template <typename floatX>
void classifier_forward(float *losses, float *lse, const floatX *logits, const int *targets, int BT, int V, int Vp,
                        cudaStream_t stream) {
    classifier_forward_kernel<<<BT, CLASSIFIER_THREADS, 0, stream>>>(losses, lse, logits, targets, V, Vp);
    cuda_check_launch();
}

template <typename floatX>
void classifier_backward(floatX *logits, const float *lse, const int *targets, float dloss, int BT, int V, int Vp,
                         cudaStream_t stream) {
    classifier_backward_kernel<<<BT, CLASSIFIER_THREADS, 0, stream>>>(logits, lse, targets, dloss, V, Vp);
    cuda_check_launch();
}

#endif
