// Per-position statistics of logits rows, so that a few numbers per position leave the GPU instead
// of a vocabulary-wide row: the argmax over the real vocabulary V (lowest id on ties, a NaN never
// wins, a row with nothing above -inf gives id 0: gpt2_argmax_vocab's rule on the CPU), the
// relative top-2 margin (top1 - top2) / max(1, |top1|) (near ties), and the NLL of a target.
// Used by gpt2cu_argmax (the trainers' --mem_eval_every) and the GPU evaluator.
#ifndef LLMC_LOGIT_STATS_CUH
#define LLMC_LOGIT_STATS_CUH

#include <limits.h>
#include <math.h>
#include "cuda_common.cuh"

#define LOGIT_STATS_THREADS 256

// One block of LOGIT_STATS_THREADS per row of logits (rows, Vp). Outputs at index out0 + row;
// margin NULL: not computed; targets NULL: no NLL (else -log softmax[target], 0 where target < 0).
template <typename floatX>
__global__ void __launch_bounds__(LOGIT_STATS_THREADS)
logit_stats_kernel(const floatX *logits, int V, int Vp, const int *targets, int *argmax, float *margin, float *nll, int out0) {
    __shared__ float s1[LOGIT_STATS_THREADS], s2[LOGIT_STATS_THREADS];
    __shared__ int si[LOGIT_STATS_THREADS];
    __shared__ double sd[LOGIT_STATS_THREADS];
    const int r = blockIdx.x, tid = threadIdx.x;
    const floatX *row = logits + (long long)r * Vp;
    float m1 = -INFINITY, m2 = -INFINITY;
    int i1 = INT_MAX;
    for (int v = tid; v < V; v += blockDim.x) {  // ascending ids: a later equal value is a runner-up
        float x = to_float(row[v]);
        if (x > m1) { m2 = m1; m1 = x; i1 = v; }
        else if (x > m2) m2 = x;
    }
    s1[tid] = m1; s2[tid] = m2; si[tid] = i1;
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
        if (tid < stride) {
            float a1 = s1[tid], a2 = s2[tid], b1 = s1[tid + stride], b2 = s2[tid + stride];
            int ai = si[tid], bi = si[tid + stride];
            if (b1 > a1 || (b1 == a1 && bi < ai)) { s1[tid] = b1; si[tid] = bi; s2[tid] = fmaxf(b2, a1); }
            else { s2[tid] = fmaxf(a2, b1); }
        }
        __syncthreads();
    }
    const float top = s1[0], second = s2[0];
    const int best = si[0];
    if (tid == 0) {
        argmax[out0 + r] = best == INT_MAX ? 0 : best;
        if (margin) margin[out0 + r] = (top - second) / fmaxf(1.0f, fabsf(top));
    }
    if (!targets) return;  // uniform across the block
    const int target = targets[out0 + r];
    double sum = 0.0;
    for (int v = tid; v < V; v += blockDim.x) sum += exp((double)(to_float(row[v]) - top));
    sum = block_reduce(sum, sd, SumOpD());
    if (tid == 0) nll[out0 + r] = target < 0 ? 0.0f : (float)(log(sum) - (double)(to_float(row[target]) - top));
}

#endif
