// Softmax + cross-entropy over the vocabulary without materialising probabilities:
//   forward:  per row, lse = log sum_{v<V} exp(logit_v) (online max/sum), loss = lse - logit[target]
//             (0 where target < 0); lse (BT) is kept for the backward pass.
//   backward: dlogits = (exp(logit - lse) - onehot(target)) * dloss written IN PLACE over the
//             logits (BT,Vp); padded columns (v >= V) and ignored rows get 0.
// One block per row, 16-byte loads; the block reduction combines per-thread (max, sum) pairs in a
// fixed order.
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

// exp: the fast hardware exp2 in bf16 (its ~2 ulp error is far below bf16's resolution), the
// accurate one in the fp32 check mode. Both are deterministic.
template <typename floatX> __device__ __forceinline__ float classifier_exp(float x);
template <> __device__ __forceinline__ float classifier_exp<float>(float x) { return expf(x); }
template <> __device__ __forceinline__ float classifier_exp<bf16>(float x) { return __expf(x); }

// 16-byte vectors of floatX: 8 bf16 or 4 floats. Rows are Vp elements, Vp a multiple of 8, so a
// row starts on a 16-byte boundary and vector k holds columns k*VEC .. k*VEC+VEC-1.
template <typename floatX> struct ClassifierVec {
    static constexpr int VEC = 16 / sizeof(floatX);
};

template <typename floatX>
__global__ void __launch_bounds__(CLASSIFIER_THREADS)
classifier_forward_kernel(float *losses, float *lse_out, const floatX *logits, const int *targets, int V, int Vp) {
    constexpr int VEC = ClassifierVec<floatX>::VEC;
    __shared__ float shared_m[CLASSIFIER_THREADS / 32], shared_s[CLASSIFIER_THREADS / 32];
    int row = blockIdx.x;
    const floatX *x = logits + (long long)row * Vp;
    float m = -INFINITY, s = 0.0f;
    // Per vector: its maximum first, then one rescale of the running sum.
    for (int k = threadIdx.x; k * VEC < V; k += blockDim.x) {
        uint4 raw = reinterpret_cast<const uint4 *>(x)[k];
        const floatX *vals = reinterpret_cast<const floatX *>(&raw);
        int valid = min(VEC, V - k * VEC);  // the last vector may reach into the padding
        float f[VEC], vmax = -INFINITY;
#pragma unroll
        for (int i = 0; i < VEC; i++) {
            f[i] = i < valid ? to_float(vals[i]) : -INFINITY;
            vmax = fmaxf(vmax, f[i]);
        }
        float m_new = fmaxf(m, vmax);
        float sum = 0.0f;
#pragma unroll
        for (int i = 0; i < VEC; i++) sum += classifier_exp<floatX>(f[i] - m_new);
        s = s * classifier_exp<floatX>(m - m_new) + sum;  // m = -inf at first: exp(-inf) = 0
        m = m_new;
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
__global__ void __launch_bounds__(CLASSIFIER_THREADS)
classifier_backward_kernel(floatX *logits, const float *lse, const int *targets, float dloss, int V, int Vp) {
    constexpr int VEC = ClassifierVec<floatX>::VEC;
    int row = blockIdx.x;
    floatX *x = logits + (long long)row * Vp;
    int target = targets[row];
    float row_lse = lse[row];
    for (int k = threadIdx.x; k * VEC < Vp; k += blockDim.x) {
        uint4 raw = reinterpret_cast<const uint4 *>(x)[k];
        floatX *vals = reinterpret_cast<floatX *>(&raw);
#pragma unroll
        for (int i = 0; i < VEC; i++) {
            int v = k * VEC + i;
            float d = 0.0f;
            if (target >= 0 && v < V)
                d = (classifier_exp<floatX>(to_float(vals[i]) - row_lse) - (v == target ? 1.0f : 0.0f)) * dloss;
            vals[i] = from_float<floatX>(d);
        }
        reinterpret_cast<uint4 *>(x)[k] = raw;
    }
}

// losses, lse: (BT) fp32; logits (BT,Vp), Vp a multiple of 8; targets (BT), every target < V
// (checked on the host).
template <typename floatX>
void classifier_forward(float *losses, float *lse, const floatX *logits, const int *targets, int BT, int V, int Vp,
                        cudaStream_t stream) {
    if (Vp % 8 != 0)
        die("the GPU classifier needs a padded vocabulary that is a multiple of 8, not %d (pad the checkpoint's "
            "vocabulary, e.g. to a multiple of 128 as llm.c does)", Vp);
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
