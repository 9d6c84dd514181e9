// AdamW over all parameters in one fused kernel, the same update as llmc/adamw.c (torch's AdamW):
//   p <- p * (1 - lr * wd)   (2-D weights only)
//   m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2     with g = grad * clip scale
//   p <- p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// on the fp32 master weights, then the floatX working copy is refreshed (rounded to nearest).
#ifndef LLMC_ADAMW_CUH
#define LLMC_ADAMW_CUH

#include "cuda_common.cuh"

#define ADAMW_MAX_TENSORS 16

// Where each parameter tensor ends and whether it is decayed (passed by value to the kernel).
typedef struct {
    size_t ends[ADAMW_MAX_TENSORS];   // exclusive end offset of tensor k in the flat parameter array
    float decay[ADAMW_MAX_TENSORS];   // 1 - lr * wd for decayed tensors, 1 otherwise
    int count;
} AdamWTensorTable;

// params_copy may be NULL (fp32 mode: the master weights are the working weights).
template <typename floatX>
__global__ void adamw_kernel(float *master, floatX *params_copy, const float *grads, float *m, float *v, size_t n,
                             AdamWTensorTable table, float grad_scale, float beta1, float beta2, float eps,
                             float step_size, float bias2_sqrt) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float decay = 1.0f;
    for (int k = 0; k < table.count; k++)
        if (i < table.ends[k]) { decay = table.decay[k]; break; }
    float grad = grads[i] * grad_scale;
    float mk = beta1 * m[i] + (1.0f - beta1) * grad;
    float vk = beta2 * v[i] + (1.0f - beta2) * grad * grad;
    m[i] = mk;
    v[i] = vk;
    float p = master[i] * decay - step_size * mk / (sqrtf(vk) / bias2_sqrt + eps);
    master[i] = p;
    if (params_copy) params_copy[i] = from_float<floatX>(p);
}

template <typename floatX>
void adamw_update(float *master, floatX *params_copy, const float *grads, float *m, float *v, size_t n,
                  const AdamWTensorTable *table, float grad_scale, float beta1, float beta2, float eps,
                  float step_size, float bias2_sqrt, cudaStream_t stream) {
    const int block = 512;
    adamw_kernel<<<ceil_div((long long)n, block), block, 0, stream>>>(master, params_copy, grads, m, v, n, *table,
                                                                      grad_scale, beta1, beta2, eps, step_size,
                                                                      bias2_sqrt);
    cuda_check_launch();
}

// Fill the floatX working copy from the fp32 master weights (after loading a checkpoint).
template <typename floatX>
__global__ void copy_to_floatx_kernel(floatX *dst, const float *src, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) dst[i] = from_float<floatX>(src[i]);
}

#endif
