// Matrix multiplies through cuBLASLt, with the bias add fused as an epilogue, and a deterministic
// bias gradient. Row-major shapes as in the CPU code (llmc/matmul_cpu.h):
//   forward   out (BT,OC)  = inp (BT,C) . weight(OC,C)^T + bias (OC)
//   backward  dinp (BT,C)  = dout (BT,OC) . weight (OC,C)
//             dweight (OC,C) += dout^T . inp      (fp32 gradients, accumulated with beta = 1)
//             dbias (OC)     += column sums of dout
// cuBLAS is column-major: a row-major (R,K) matrix is a column-major (K,R) one, so each product
// is computed in its transposed form.
// Determinism: the algorithm is the first heuristic result for the shape, which is fixed for a
// given GPU, library and shape. Split-K is allowed only with the reduction scheme that keeps the
// partial products in fp32 in the workspace and sums them in a separate pass (never in place, never
// in bf16): the weight gradients (small M x N, K = B*T) need it to fill the GPU (measured on an
// H100: the 3072x768 gradient of d12 at B*T=16384 ran at 213 TFLOP/s without it).
#ifndef LLMC_MATMUL_CUH
#define LLMC_MATMUL_CUH

#include <string.h>

#include "cuda_common.cuh"
#include "layernorm.cuh"  // COLUMN_REDUCE_* constants

#define CUBLASLT_WORKSPACE_BYTES (32u << 20)

// One product's cuBLASLt set-up: descriptors and the algorithm for a shape, types, epilogue and
// pointer alignments.
typedef struct {
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, ld;
    cublasLtMatmulAlgo_t algo;
    int has_bias;
} MatmulPlan;

// A plan with everything it was made for: matmul_lt finds it again on the next call of the same
// product, so the heuristic query and the descriptors are made once per shape, not per call.
typedef struct {
    int32_t d_type, ab_type, compute;
    int32_t has_bias, m, n, k, trans_a, trans_b, split_k;
    uint32_t align_a, align_b, align_d, align_bias;  // the bias's too: a kernel may assume it
} MatmulKey;  // all 4-byte fields: no padding, so memcmp compares keys
static_assert(sizeof(MatmulKey) == 14 * 4, "MatmulKey must have no padding");

typedef struct {
    MatmulKey key;
    MatmulPlan plan;
} MatmulPlanEntry;

typedef struct {
    cublasLtHandle_t handle;
    void *workspace;          // CUBLASLT_WORKSPACE_BYTES on the device
    MatmulPlanEntry *plans;   // the plans made so far (a model has a few dozen shapes)
    int num_plans, plans_cap;
} MatmulContext;

static void matmul_plan_free(MatmulPlan *plan);

static void matmul_context_init(MatmulContext *ctx) {
    memset(ctx, 0, sizeof *ctx);
    cublas_check(cublasLtCreate(&ctx->handle));
    cuda_check(cudaMalloc(&ctx->workspace, CUBLASLT_WORKSPACE_BYTES));
}

static void matmul_context_free(MatmulContext *ctx) {
    for (int i = 0; i < ctx->num_plans; i++) matmul_plan_free(&ctx->plans[i].plan);
    free(ctx->plans);
    cuda_check(cudaFree(ctx->workspace));
    cublas_check(cublasLtDestroy(ctx->handle));
    memset(ctx, 0, sizeof *ctx);
}

// Largest power of two (<= 256) dividing the address: cuBLASLt must not pick a kernel that needs more.
static uint32_t pointer_alignment(const void *p) {
    uintptr_t a = (uintptr_t)p;
    uint32_t align = 256;
    while (align > 1 && (a % align) != 0) align >>= 1;
    return align;
}

// Column-major D (m,n) = op(A) . op(B) [+ bias (m)] [+ beta * D].
//   A: (k,m) with lda = k when trans_a, else (m,k) with lda = m
//   B: (n,k) with ldb = n when trans_b, else (k,n) with ldb = k
// ab_type: the type of A and B; d_type: the type of D (and C = D when beta != 0).
// split_k: allow the fp32-workspace split-K scheme (see the top of this file); without it the sum
// over k runs in one pass.
// compute: CUBLAS_COMPUTE_32F (the trainer; fp32 operands then stay fp32), or
// CUBLAS_COMPUTE_32F_FAST_TF32 (fp32 operands rounded to TF32 on the tensor cores: the GPU
// evaluator's opt-in fast mode, which reruns near ties in fp32).
// bias: NULL for none, else the bias of the first run (later runs may bring another).
static void matmul_plan_init(const MatmulContext *ctx, MatmulPlan *plan, cudaDataType_t d_type, cudaDataType_t ab_type,
                             const void *bias, int m, int n, int k, int trans_a, int trans_b, uint32_t align_a,
                             uint32_t align_b, uint32_t align_d, int split_k, cublasComputeType_t compute) {
    plan->has_bias = bias != NULL;
    cublas_check(cublasLtMatmulDescCreate(&plan->desc, compute, CUDA_R_32F));
    cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublas_check(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_TRANSA, &op_a, sizeof op_a));
    cublas_check(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_TRANSB, &op_b, sizeof op_b));
    if (bias) {
        cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_BIAS;
        cublas_check(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue));
        cublas_check(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    }
    cublas_check(cublasLtMatrixLayoutCreate(&plan->la, ab_type, trans_a ? k : m, trans_a ? m : k, trans_a ? k : m));
    cublas_check(cublasLtMatrixLayoutCreate(&plan->lb, ab_type, trans_b ? n : k, trans_b ? k : n, trans_b ? n : k));
    cublas_check(cublasLtMatrixLayoutCreate(&plan->ld, d_type, m, n, m));

    cublasLtMatmulPreference_t pref;
    cublas_check(cublasLtMatmulPreferenceCreate(&pref));
    size_t workspace = CUBLASLT_WORKSPACE_BYTES;
    cublas_check(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace,
                                                      sizeof workspace));
    // fp32 partials; not in place, not in bf16 (NONE, one pass over k, is always allowed)
    uint32_t reductions = split_k ? CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE : CUBLASLT_REDUCTION_SCHEME_NONE;
    cublas_check(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK,
                                                      &reductions, sizeof reductions));
    cublas_check(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_a, sizeof align_a));
    cublas_check(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_b, sizeof align_b));
    cublas_check(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_d, sizeof align_d));
    cublas_check(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_d, sizeof align_d));

    cublasLtMatmulHeuristicResult_t heuristic;
    int found = 0;
    cublas_check(cublasLtMatmulAlgoGetHeuristic(ctx->handle, plan->desc, plan->la, plan->lb, plan->ld, plan->ld, pref, 1,
                                                &heuristic, &found));
    cublas_check(cublasLtMatmulPreferenceDestroy(pref));
    if (found == 0)
        die("cuBLASLt has no algorithm for a %dx%dx%d matmul (%s, %s compute); this GPU/precision combination is not supported",
            m, n, k, ab_type == CUDA_R_16BF ? "bf16" : "fp32", compute == CUBLAS_COMPUTE_32F_FAST_TF32 ? "TF32" : "fp32");
    plan->algo = heuristic.algo;
}

// D = op(A) . op(B) [+ bias] + beta * D with a plan made for these pointers' alignments.
static void matmul_plan_run(const MatmulContext *ctx, MatmulPlan *plan, void *d, const void *a, const void *b,
                            const void *bias, float beta, cudaStream_t stream) {
    if (plan->has_bias)  // read when the product is enqueued, so each run may bring its own
        cublas_check(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    float alpha = 1.0f;
    cublas_check(cublasLtMatmul(ctx->handle, plan->desc, &alpha, a, plan->la, b, plan->lb, &beta, d, plan->ld, d, plan->ld,
                                &plan->algo, ctx->workspace, CUBLASLT_WORKSPACE_BYTES, stream));
}

static void matmul_plan_free(MatmulPlan *plan) {
    cublas_check(cublasLtMatrixLayoutDestroy(plan->la));
    cublas_check(cublasLtMatrixLayoutDestroy(plan->lb));
    cublas_check(cublasLtMatrixLayoutDestroy(plan->ld));
    cublas_check(cublasLtMatmulDescDestroy(plan->desc));
}

// One product (see matmul_plan_init), with the plan of its shape, types and alignments made on
// the first call and kept in ctx. The trainer allows split-K; the GPU evaluator does not.
static void matmul_lt(MatmulContext *ctx, void *d, cudaDataType_t d_type, const void *a, const void *b,
                      cudaDataType_t ab_type, const void *bias, int m, int n, int k, int trans_a, int trans_b,
                      float beta, int split_k, cublasComputeType_t compute, cudaStream_t stream) {
    const uint32_t align_a = pointer_alignment(a), align_b = pointer_alignment(b), align_d = pointer_alignment(d);
    const MatmulKey key = {d_type, ab_type, compute, bias != NULL, m, n, k, trans_a, trans_b, split_k,
                           align_a, align_b, align_d, bias ? pointer_alignment(bias) : 0};
    MatmulPlan *plan = NULL;
    for (int i = 0; i < ctx->num_plans && !plan; i++)
        if (memcmp(&ctx->plans[i].key, &key, sizeof key) == 0) plan = &ctx->plans[i].plan;
    if (!plan) {
        if (ctx->num_plans == ctx->plans_cap) {
            ctx->plans_cap = ctx->plans_cap ? 2 * ctx->plans_cap : 32;
            ctx->plans = (MatmulPlanEntry *)realloc_or_die(ctx->plans, (size_t)ctx->plans_cap * sizeof *ctx->plans);
        }
        MatmulPlanEntry *e = &ctx->plans[ctx->num_plans++];
        e->key = key;
        matmul_plan_init(ctx, &e->plan, d_type, ab_type, bias, m, n, k, trans_a, trans_b, align_a, align_b, align_d, split_k,
                         compute);
        plan = &e->plan;
    }
    matmul_plan_run(ctx, plan, d, a, b, bias, beta, stream);
}

// out (BT,OC) = inp (BT,C) . weight(OC,C)^T + bias (bias may be NULL).
template <typename floatX>
void matmul_forward(MatmulContext *ctx, floatX *out, const floatX *inp, const floatX *weight, const floatX *bias,
                    int BT, int C, int OC, cudaStream_t stream) {
    cudaDataType_t t = CudaType<floatX>::value;
    matmul_lt(ctx, out, t, weight, inp, t, bias, OC, BT, C, 1, 0, 0.0f, 1, CUBLAS_COMPUTE_32F, stream);
}

// dbias partial sums over fixed row chunks: grid (ceil(OC/32), COLUMN_REDUCE_CHUNKS),
// block (32, COLUMN_REDUCE_ROWS_PER_BLOCK); partial (COLUMN_REDUCE_CHUNKS, OC).
template <typename floatX>
__global__ void bias_backward_partial_kernel(float *partial, const floatX *dout, int BT, int OC) {
    __shared__ float s[COLUMN_REDUCE_ROWS_PER_BLOCK][32];
    int c = blockIdx.x * 32 + threadIdx.x;
    int chunk = blockIdx.y;
    int rows_per_chunk = ceil_div(BT, COLUMN_REDUCE_CHUNKS);
    int lo = chunk * rows_per_chunk, hi = min(BT, lo + rows_per_chunk);
    float acc = 0.0f;
    if (c < OC)
        for (int r = lo + threadIdx.y; r < hi; r += COLUMN_REDUCE_ROWS_PER_BLOCK) acc += to_float(dout[(long long)r * OC + c]);
    s[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && c < OC) {
        float sum = 0.0f;
        for (int y = 0; y < COLUMN_REDUCE_ROWS_PER_BLOCK; y++) sum += s[y][threadIdx.x];
        partial[(long long)chunk * OC + c] = sum;
    }
}

__global__ void bias_backward_finish_kernel(float *dbias, const float *partial, int OC) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= OC) return;
    float sum = 0.0f;
    for (int k = 0; k < COLUMN_REDUCE_CHUNKS; k++) sum += partial[(long long)k * OC + c];
    dbias[c] += sum;
}

// dinp = dout . weight (written); dweight += dout^T . inp; dbias += column sums of dout (if not NULL).
// scratch: COLUMN_REDUCE_CHUNKS * OC floats (for the bias).
template <typename floatX>
void matmul_backward(MatmulContext *ctx, floatX *dinp, float *dweight, float *dbias, float *scratch,
                     const floatX *dout, const floatX *inp, const floatX *weight, int BT, int C, int OC,
                     cudaStream_t stream) {
    cudaDataType_t t = CudaType<floatX>::value;
    // dinp^T (C,BT) = weight^T (C,OC) . dout^T (OC,BT)
    matmul_lt(ctx, dinp, t, weight, dout, t, NULL, C, BT, OC, 0, 0, 0.0f, 1, CUBLAS_COMPUTE_32F, stream);
    // dweight^T (C,OC) += inp^T (C,BT) . dout (BT,OC)
    matmul_lt(ctx, dweight, CUDA_R_32F, inp, dout, t, NULL, C, OC, BT, 0, 1, 1.0f, 1, CUBLAS_COMPUTE_32F, stream);
    if (dbias) {
        dim3 grid(ceil_div(OC, 32), COLUMN_REDUCE_CHUNKS), block(32, COLUMN_REDUCE_ROWS_PER_BLOCK);
        bias_backward_partial_kernel<<<grid, block, 0, stream>>>(scratch, dout, BT, OC);
        cuda_check_launch();
        bias_backward_finish_kernel<<<ceil_div(OC, 256), 256, 0, stream>>>(dbias, scratch, OC);
        cuda_check_launch();
    }
}

#endif
