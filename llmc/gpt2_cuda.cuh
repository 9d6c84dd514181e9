// GPT-2 on the GPU: the same model as llmc/gpt2.h (same parameter layout, same forward and
// backward structure, same names), in bf16 mixed precision or full fp32:
//   fp32 master weights, fp32 gradients, fp32 AdamW moments (always);
//   activations and the working copy of the weights in floatX (bf16, or fp32 with --precision fp32).
// Checkpoints stay on the CPU side: the trainer loads/saves through llmc/gpt2.h and moves the
// weights and moments with the upload/download functions below.
//
// Differences from the CPU model: positions are always 0..T-1 (training never shifts them), and
// the attention probabilities are never stored (flash-style, see attention.cuh).
#ifndef LLMC_GPT2_CUDA_CUH
#define LLMC_GPT2_CUDA_CUH

#include <algorithm>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <vector>

#include "cuda_common.cuh"
#include "adamw.cuh"
#include "attention.cuh"
#include "encoder.cuh"
#include "fused_classifier.cuh"
#include "gelu.cuh"
#include "global_norm.cuh"
#include "layernorm.cuh"
#include "logit_stats.cuh"
#include "matmul.cuh"

extern "C" {
#include "adamw.h"
#include "dist.h"
#include "gpt2.h"
}

typedef enum { PRECISION_FP32 = 0, PRECISION_BF16 = 1 } Precision;

// Activation and scratch pointers for one (B, T), carved from one device block. floatX tensors are
// void * here and cast in the templated passes.
typedef struct {
    void *encoded;                 // (B,T,C)
    void *ln1;                     // (L,B,T,C)
    float *ln1_mean, *ln1_rstd;    // (L,B,T)
    void *qkv;                     // (L,B,T,3C)
    void *atty;                    // (L,B,T,C)
    float *att_lse;                // (L,B,NH,T) log-sum-exp of each attention row
    void *residual2;               // (L,B,T,C)
    void *ln2;                     // (L,B,T,C)
    float *ln2_mean, *ln2_rstd;    // (L,B,T)
    void *fch, *fch_gelu;          // (L,B,T,4C)
    void *residual3;               // (L,B,T,C)
    void *lnf;                     // (B,T,C)
    float *lnf_mean, *lnf_rstd;    // (B,T)
    void *logits;                  // (B,T,Vp); dlogits in place after backward
    float *losses;                 // (B,T)
    float *logits_lse;             // (B,T)
    void *proj;                    // (B,T,C) output of attproj / fcproj before the residual add
    // backward scratch (one layer at a time)
    void *dres_a, *dres_b, *dln;   // (B,T,C)
    void *dqkv;                    // (B,T,3C)
    void *datty;                   // (B,T,C)
    void *dfch;                    // (B,T,4C)
    float *att_delta;              // (B,NH,T)
} GPT2CudaActs;

typedef struct {
    GPT2Config config;
    Precision precision;
    size_t elem_size;                            // bytes of one floatX
    size_t num_parameters;
    size_t param_sizes[GPT2_NUM_PARAM_TENSORS];
    size_t param_offsets[GPT2_NUM_PARAM_TENSORS];
    float *master;         // (P, padded) fp32 weights
    void *params;          // (P) floatX working copy; == master in fp32 mode
    float *grads;          // (P, padded)
    float *opt_m, *opt_v;  // (shard_stride) the moments of this rank's shard (all P without ZeRO-1)
    int64_t opt_step;
    // ZeRO-1 (train_gpt2.cu --zero_stage 1): of shard_ranks ranks, this one (shard_rank) updates
    // the weights [shard_first, shard_first + shard_count) and keeps their moments only. master and
    // grads hold padded_parameters = shard_ranks * shard_stride floats (zeros past P), the equal
    // blocks of NCCL's reduce-scatter and all-gather (llmc/dist.h dist_zero_shard). One rank: the
    // shard is everything.
    int shard_ranks, shard_rank;
    size_t shard_first, shard_count, shard_stride, padded_parameters;
    int max_B, max_T;
    void *acts_memory;
    GPT2CudaActs acts;
    float *reduce_scratch;   // COLUMN_REDUCE_CHUNKS * 4C
    double *norm_scratch;    // GLOBAL_NORM_BLOCKS
    double *sumsq_result;    // 1: the gradients' sum of squares
    int *inputs, *targets;   // (max_B * max_T)
    int *bucket_tokens, *bucket_starts, *bucket_rows;  // wte backward buckets (see encoder.cuh)
    int num_buckets;
    MatmulContext matmul;
    cudaStream_t stream;
    // host side
    float *host_losses;      // (max_B * max_T)
    int *host_targets;       // (max_B * max_T)
    int B, T;                // of the last forward
    int *argmax;             // (max_B * max_T) gpt2cu_argmax's output, allocated on its first call
    float mean_loss;         // -1 without targets
    int num_loss_tokens;
    int has_targets;
} GPT2Cuda;

// Bytes of the activation block for (B, T) (assigns the pointers when base != NULL).
static size_t gpt2cu_layout_acts(GPT2CudaActs *a, char *base, const GPT2Config *c, size_t elem, int B, int T) {
    size_t L = c->num_layers, C = c->channels, NH = c->num_heads, Vp = c->padded_vocab_size;
    size_t BT = (size_t)B * T;
    struct { void **ptr; size_t bytes; } t[] = {
        {&a->encoded, BT * C * elem},
        {&a->ln1, L * BT * C * elem},
        {(void **)&a->ln1_mean, L * BT * 4}, {(void **)&a->ln1_rstd, L * BT * 4},
        {&a->qkv, L * BT * 3 * C * elem},
        {&a->atty, L * BT * C * elem},
        {(void **)&a->att_lse, L * B * NH * T * 4},
        {&a->residual2, L * BT * C * elem},
        {&a->ln2, L * BT * C * elem},
        {(void **)&a->ln2_mean, L * BT * 4}, {(void **)&a->ln2_rstd, L * BT * 4},
        {&a->fch, L * BT * 4 * C * elem}, {&a->fch_gelu, L * BT * 4 * C * elem},
        {&a->residual3, L * BT * C * elem},
        {&a->lnf, BT * C * elem},
        {(void **)&a->lnf_mean, BT * 4}, {(void **)&a->lnf_rstd, BT * 4},
        {&a->logits, BT * Vp * elem},
        {(void **)&a->losses, BT * 4}, {(void **)&a->logits_lse, BT * 4},
        {&a->proj, BT * C * elem},
        {&a->dres_a, BT * C * elem}, {&a->dres_b, BT * C * elem}, {&a->dln, BT * C * elem},
        {&a->dqkv, BT * 3 * C * elem}, {&a->datty, BT * C * elem}, {&a->dfch, BT * 4 * C * elem},
        {(void **)&a->att_delta, B * NH * T * 4},
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        if (base) *t[i].ptr = base + total;
        total += (t[i].bytes + 255) & ~(size_t)255;  // 256-byte alignment for cuBLASLt
    }
    return total;
}

// Device bytes the model needs besides the activations: weights, copy, grads, moments, scratch.
// The moments of 1/shard_ranks of the weights (ZeRO-1).
static size_t gpt2cu_fixed_bytes(const GPT2Config *c, size_t num_parameters, Precision precision, int B, int T,
                                 int shard_ranks) {
    size_t P = num_parameters, stride = dist_zero_block(P, shard_ranks), padded = stride * shard_ranks;
    size_t copy = precision == PRECISION_BF16 ? P * 2 : 0;
    size_t BT = (size_t)B * T;
    return padded * 4 * 2 + stride * 4 * 2 + copy + (size_t)COLUMN_REDUCE_CHUNKS * 4 * c->channels * 4 +
           GLOBAL_NORM_BLOCKS * 8 + BT * 4 * 5 + CUBLASLT_WORKSPACE_BYTES + (64u << 20) /* CUDA context, cuBLASLt internals */;
}

static size_t gpt2cu_bytes_needed(const GPT2Config *c, size_t num_parameters, Precision precision, int B, int T,
                                  int shard_ranks) {
    GPT2CudaActs a;
    size_t elem = precision == PRECISION_BF16 ? 2 : 4;
    return gpt2cu_fixed_bytes(c, num_parameters, precision, B, T, shard_ranks) + gpt2cu_layout_acts(&a, NULL, c, elem, B, T);
}

// cudaMalloc that reports out-of-memory to the caller (other errors die).
static int try_cuda_malloc(void **p, size_t bytes) {
    cudaError_t err = cudaMalloc(p, bytes ? bytes : 1);
    if (err == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError();  // clear the sticky-free error state
        *p = NULL;
        return -1;
    }
    cuda_check(err);
    return 0;
}

// The largest batch size (<= B) whose memory fits in `free_bytes`; 0 when not even 1 does.
static int gpt2cu_batch_that_fits(const GPT2Config *c, size_t P, Precision precision, int B, int T, int shard_ranks,
                                  size_t free_bytes) {
    for (int b = B; b >= 1; b--)
        if (gpt2cu_bytes_needed(c, P, precision, b, T, shard_ranks) <= free_bytes) return b;
    return 0;
}

static void gpt2cu_free(GPT2Cuda *m);
static void gpt2cu_upload_params(GPT2Cuda *m, const GPT2 *host);

// Allocate everything for batches up to max_B x max_T and upload the host model's weights.
// Out of memory dies with one line naming the batch size that fits. `batch_flag` names the flag.
// shard_ranks > 1: ZeRO-1, this is rank shard_rank of them (see GPT2Cuda). job_ranks: the ranks of
// the job; when there are several and the moments are not sharded, an out-of-memory message also
// says which batch size --zero_stage 1 would fit.
static void gpt2cu_init_sharded(GPT2Cuda *m, const GPT2 *host, Precision precision, int max_B, int max_T,
                                const char *batch_flag, int shard_ranks, int shard_rank, int job_ranks) {
    if (shard_ranks < 1 || shard_rank < 0 || shard_rank >= shard_ranks)
        die("gpt2cu_init_sharded: shard %d of %d does not exist", shard_rank, shard_ranks);
    memset(m, 0, sizeof *m);
    m->config = host->config;
    m->precision = precision;
    m->elem_size = precision == PRECISION_BF16 ? 2 : 4;
    m->num_parameters = host->num_parameters;
    size_t off = 0;
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) {
        m->param_sizes[i] = host->param_sizes[i];
        m->param_offsets[i] = off;
        off += host->param_sizes[i];
    }
    m->max_B = max_B;
    m->max_T = max_T;
    m->shard_ranks = shard_ranks;
    m->shard_rank = shard_rank;
    m->shard_stride = dist_zero_block(m->num_parameters, shard_ranks);
    m->padded_parameters = m->shard_stride * shard_ranks;
    m->shard_count = dist_zero_shard(m->num_parameters, shard_ranks, shard_rank, &m->shard_first);
    int HS = m->config.channels / m->config.num_heads;
    if (!attention_head_size_supported(HS))
        die("the model's head size is %d (channels %d / heads %d); the GPU trainer supports 16, 32, 64 or 128 "
            "(choose --channels/--heads accordingly)", HS, m->config.channels, m->config.num_heads);

    size_t P = m->num_parameters, BT = (size_t)max_B * max_T, padded = m->padded_parameters, stride = m->shard_stride;
    size_t free_bytes = 0, total_bytes = 0;
    cuda_check(cudaMemGetInfo(&free_bytes, &total_bytes));
    size_t need = gpt2cu_bytes_needed(&m->config, P, precision, max_B, max_T, shard_ranks);
    int fits = gpt2cu_batch_that_fits(&m->config, P, precision, max_B, max_T, shard_ranks, free_bytes);
    char zero1[160] = "";
    if (fits < max_B && shard_ranks == 1 && job_ranks > 1) {
        int zero1_fits = gpt2cu_batch_that_fits(&m->config, P, precision, max_B, max_T, job_ranks, free_bytes);
        if (zero1_fits > fits)
            snprintf(zero1, sizeof zero1, "; or --zero_stage 1, with which %s %d fits", batch_flag, zero1_fits);
    }
    if (fits == 0)
        die("the model (%zu parameters) needs %.2f GiB of GPU memory even at batch size 1 and T=%d, but the GPU has "
            "%.2f GiB free of %.2f GiB (use a smaller model or a shorter --max_seq_length%s)",
            P, gpt2cu_bytes_needed(&m->config, P, precision, 1, max_T, shard_ranks) / 1073741824.0, max_T, free_bytes / 1073741824.0,
            total_bytes / 1073741824.0, zero1);
    if (fits < max_B)
        die("%s %d needs %.2f GiB of GPU memory at T=%d but %.2f GiB are free (use %s %d or less%s)", batch_flag, max_B,
            need / 1073741824.0, max_T, free_bytes / 1073741824.0, batch_flag, fits, zero1);

    cuda_check(cudaStreamCreate(&m->stream));
    matmul_context_init(&m->matmul);
    size_t acts_bytes = gpt2cu_layout_acts(&m->acts, NULL, &m->config, m->elem_size, max_B, max_T);
    void **bufs[] = {(void **)&m->master, (void **)&m->grads, (void **)&m->opt_m, (void **)&m->opt_v, &m->acts_memory,
                     (void **)&m->reduce_scratch, (void **)&m->norm_scratch, (void **)&m->sumsq_result,
                     (void **)&m->inputs, (void **)&m->targets, (void **)&m->bucket_tokens,
                     (void **)&m->bucket_starts, (void **)&m->bucket_rows};
    size_t sizes[] = {padded * 4, padded * 4, stride * 4, stride * 4, acts_bytes,
                      (size_t)COLUMN_REDUCE_CHUNKS * 4 * m->config.channels * 4, GLOBAL_NORM_BLOCKS * 8, 8, BT * 4, BT * 4,
                      BT * 4, (BT + 1) * 4, BT * 4};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        if (try_cuda_malloc(bufs[i], sizes[i]) != 0) {
            cuda_check(cudaMemGetInfo(&free_bytes, &total_bytes));
            int b = gpt2cu_batch_that_fits(&m->config, P, precision, max_B, max_T, shard_ranks, free_bytes + need);
            die("out of GPU memory while allocating for %s %d at T=%d (%.2f GiB estimated; use %s %d or less)",
                batch_flag, max_B, max_T, need / 1073741824.0, batch_flag, b > 1 ? b - 1 : 1);
        }
    }
    if (precision == PRECISION_BF16) {
        if (try_cuda_malloc(&m->params, P * 2) != 0)
            die("out of GPU memory for the bf16 weight copy (use a smaller %s)", batch_flag);
    } else {
        m->params = m->master;
    }
    cuda_check(cudaMemset(m->master, 0, padded * 4));  // the padding stays zero
    cuda_check(cudaMemset(m->grads, 0, padded * 4));
    cuda_check(cudaMemset(m->opt_m, 0, stride * 4));
    cuda_check(cudaMemset(m->opt_v, 0, stride * 4));
    m->host_losses = (float *)malloc_or_die(BT * sizeof(float));
    m->host_targets = (int *)malloc_or_die(BT * sizeof(int));
    m->mean_loss = -1.0f;
    m->opt_step = 0;
    gpt2cu_upload_params(m, host);
}

static void gpt2cu_init(GPT2Cuda *m, const GPT2 *host, Precision precision, int max_B, int max_T, const char *batch_flag) {
    gpt2cu_init_sharded(m, host, precision, max_B, max_T, batch_flag, 1, 0, 1);
}

// The floatX working copy <- the fp32 master weights (after an upload, or ZeRO-1's all-gather).
static void gpt2cu_refresh_working_copy(GPT2Cuda *m) {
    if (m->precision == PRECISION_BF16) {
        copy_to_floatx_kernel<bf16><<<ceil_div((long long)m->num_parameters, 512), 512, 0, m->stream>>>(
            (bf16 *)m->params, m->master, m->num_parameters);
        cuda_check_launch();
    }
}

// Replace the weights with the host model's (same shape), e.g. after loading a checkpoint.
static void gpt2cu_upload_params(GPT2Cuda *m, const GPT2 *host) {
    if (host->num_parameters != m->num_parameters) die("gpt2cu_upload_params: the model shapes differ");
    cuda_check(cudaMemcpy(m->master, host->params_memory, m->num_parameters * 4, cudaMemcpyHostToDevice));
    gpt2cu_refresh_working_copy(m);
    cuda_check(cudaStreamSynchronize(m->stream));
}

// fp32 master weights -> host model (for checkpoints).
static void gpt2cu_download_params(const GPT2Cuda *m, GPT2 *host) {
    cuda_check(cudaStreamSynchronize(m->stream));
    cuda_check(cudaMemcpy(host->params_memory, m->master, m->num_parameters * 4, cudaMemcpyDeviceToHost));
}

static void gpt2cu_download_grads(const GPT2Cuda *m, float *out) {
    cuda_check(cudaStreamSynchronize(m->stream));
    cuda_check(cudaMemcpy(out, m->grads, m->num_parameters * 4, cudaMemcpyDeviceToHost));
}

// The host's whole optimizer state -> this rank's shard of the moments on the device.
static void gpt2cu_upload_optimizer(GPT2Cuda *m, const AdamW *opt) {
    if (opt->num_parameters != m->num_parameters) die("optimizer state and model differ in size");
    cuda_check(cudaMemcpy(m->opt_m, opt->m + m->shard_first, m->shard_count * 4, cudaMemcpyHostToDevice));
    cuda_check(cudaMemcpy(m->opt_v, opt->v + m->shard_first, m->shard_count * 4, cudaMemcpyHostToDevice));
    m->opt_step = opt->step;
}

// The device's moments -> the host (one rank: ZeRO-1's shards are gathered by the trainer).
static void gpt2cu_download_optimizer(const GPT2Cuda *m, AdamW *opt) {
    if (m->shard_ranks != 1) die("gpt2cu_download_optimizer: this rank holds 1/%d of the moments (gather them)", m->shard_ranks);
    cuda_check(cudaStreamSynchronize(m->stream));
    cuda_check(cudaMemcpy(opt->m, m->opt_m, m->num_parameters * 4, cudaMemcpyDeviceToHost));
    cuda_check(cudaMemcpy(opt->v, m->opt_v, m->num_parameters * 4, cudaMemcpyDeviceToHost));
    opt->step = m->opt_step;
}

// ---------------------------------------------------------------------------------------------
// Forward and backward, templated on the activation type.

template <typename floatX>
struct GPT2CudaParams {  // pointers into a flat parameter array of element type T, llm.c order
    floatX *wte, *wpe, *ln1w, *ln1b, *qkvw, *qkvb, *attprojw, *attprojb, *ln2w, *ln2b, *fcw, *fcb, *fcprojw,
        *fcprojb, *lnfw, *lnfb;
};

template <typename T>
static GPT2CudaParams<T> gpt2cu_param_pointers(const GPT2Cuda *m, T *base) {
    GPT2CudaParams<T> p;
    T **ptrs[GPT2_NUM_PARAM_TENSORS] = {&p.wte, &p.wpe, &p.ln1w, &p.ln1b, &p.qkvw, &p.qkvb, &p.attprojw, &p.attprojb,
                                        &p.ln2w, &p.ln2b, &p.fcw, &p.fcb, &p.fcprojw, &p.fcprojb, &p.lnfw, &p.lnfb};
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) *ptrs[i] = base + m->param_offsets[i];
    return p;
}

template <typename floatX>
static void gpt2cu_forward_t(GPT2Cuda *m, int B, int T) {
    const GPT2Config *c = &m->config;
    size_t L = c->num_layers, C = c->channels, NH = c->num_heads, Vp = c->padded_vocab_size;
    int BT = B * T;
    cudaStream_t s = m->stream;
    GPT2CudaActs *a = &m->acts;
    GPT2CudaParams<floatX> p = gpt2cu_param_pointers<floatX>(m, (floatX *)m->params);
    // Activations of layer l: base + l * (per-layer size).
#define ACT(name, per) ((floatX *)a->name + (size_t)(l) * (per))
#define STAT(name, per) (a->name + (size_t)(l) * (per))
    size_t l = 0;
    encoder_forward<floatX>((floatX *)a->encoded, m->inputs, NULL, p.wte, p.wpe, B, T, (int)C, s);
    fused_residual_layernorm_forward<floatX>(NULL, ACT(ln1, BT * C), STAT(ln1_mean, BT), STAT(ln1_rstd, BT),
                                             (floatX *)a->encoded, NULL, p.ln1w, p.ln1b, BT, (int)C, s);
    for (l = 0; l < L; l++) {
        const floatX *residual = l == 0 ? (floatX *)a->encoded : (floatX *)a->residual3 + (l - 1) * BT * C;
        floatX *ln1 = ACT(ln1, BT * C), *qkv = ACT(qkv, BT * 3 * C), *atty = ACT(atty, BT * C);
        floatX *residual2 = ACT(residual2, BT * C), *ln2 = ACT(ln2, BT * C);
        floatX *fch = ACT(fch, BT * 4 * C), *fch_gelu = ACT(fch_gelu, BT * 4 * C), *residual3 = ACT(residual3, BT * C);
        float *att_lse = STAT(att_lse, (size_t)B * NH * T);
        floatX *proj = (floatX *)a->proj;

        matmul_forward<floatX>(&m->matmul, qkv, ln1, p.qkvw + l * 3 * C * C, p.qkvb + l * 3 * C, BT, (int)C, (int)(3 * C), s);
        attention_forward<floatX>(atty, att_lse, qkv, B, T, (int)C, (int)NH, s);
        matmul_forward<floatX>(&m->matmul, proj, atty, p.attprojw + l * C * C, p.attprojb + l * C, BT, (int)C, (int)C, s);
        fused_residual_layernorm_forward<floatX>(residual2, ln2, STAT(ln2_mean, BT), STAT(ln2_rstd, BT), residual, proj,
                                                 p.ln2w + l * C, p.ln2b + l * C, BT, (int)C, s);
        matmul_forward<floatX>(&m->matmul, fch, ln2, p.fcw + l * 4 * C * C, p.fcb + l * 4 * C, BT, (int)C, (int)(4 * C), s);
        gelu_forward<floatX>(fch_gelu, fch, (long long)BT * 4 * C, s);
        matmul_forward<floatX>(&m->matmul, proj, fch_gelu, p.fcprojw + l * C * 4 * C, p.fcprojb + l * C, BT, (int)(4 * C), (int)C, s);
        // residual3 = residual2 + fcproj, fused with the next LayerNorm (ln1 of layer l+1, or lnf).
        if (l + 1 < L) {
            size_t n = l + 1;
            fused_residual_layernorm_forward<floatX>(residual3, (floatX *)a->ln1 + n * BT * C, a->ln1_mean + n * BT,
                                                     a->ln1_rstd + n * BT, residual2, proj, p.ln1w + n * C,
                                                     p.ln1b + n * C, BT, (int)C, s);
        } else {
            fused_residual_layernorm_forward<floatX>(residual3, (floatX *)a->lnf, a->lnf_mean, a->lnf_rstd, residual2,
                                                     proj, p.lnfw, p.lnfb, BT, (int)C, s);
        }
    }
#undef ACT
#undef STAT
    // Tied embeddings: the classifier is wte (Vp, C).
    matmul_forward<floatX>(&m->matmul, (floatX *)a->logits, (floatX *)a->lnf, p.wte, (floatX *)NULL, BT, (int)C, (int)Vp, s);
    if (m->has_targets)
        classifier_forward<floatX>(a->losses, a->logits_lse, (floatX *)a->logits, m->targets, BT, c->vocab_size, (int)Vp, s);
}

template <typename floatX>
static void gpt2cu_backward_t(GPT2Cuda *m, float loss_scale) {
    const GPT2Config *c = &m->config;
    size_t L = c->num_layers, C = c->channels, NH = c->num_heads, Vp = c->padded_vocab_size;
    int B = m->B, T = m->T, BT = B * T;
    cudaStream_t s = m->stream;
    GPT2CudaActs *a = &m->acts;
    GPT2CudaParams<floatX> p = gpt2cu_param_pointers<floatX>(m, (floatX *)m->params);
    GPT2CudaParams<float> g = gpt2cu_param_pointers<float>(m, m->grads);
    floatX *dres = (floatX *)a->dres_a, *dres_other = (floatX *)a->dres_b, *dln = (floatX *)a->dln;
    floatX *dqkv = (floatX *)a->dqkv, *datty = (floatX *)a->datty, *dfch = (floatX *)a->dfch;
    float *rs = m->reduce_scratch;

    // d(loss_scale * mean_loss) / d(loss_i) = loss_scale / counted tokens; dlogits overwrite the logits.
    float dloss = m->num_loss_tokens > 0 ? loss_scale / m->num_loss_tokens : 0.0f;
    floatX *dlogits = (floatX *)a->logits;
    classifier_backward<floatX>(dlogits, a->logits_lse, m->targets, dloss, BT, c->vocab_size, (int)Vp, s);
    matmul_backward<floatX>(&m->matmul, dln, g.wte, NULL, rs, dlogits, (floatX *)a->lnf, p.wte, BT, (int)C, (int)Vp, s);
    layernorm_backward<floatX>(dres, NULL, g.lnfw, g.lnfb, rs, dln, (floatX *)a->residual3 + (L - 1) * BT * C, p.lnfw,
                               a->lnf_mean, a->lnf_rstd, BT, (int)C, s);

    for (size_t li = L; li-- > 0;) {
        size_t l = li;
        const floatX *residual = l == 0 ? (floatX *)a->encoded : (floatX *)a->residual3 + (l - 1) * BT * C;
        const floatX *ln1 = (floatX *)a->ln1 + l * BT * C, *qkv = (floatX *)a->qkv + l * BT * 3 * C;
        const floatX *atty = (floatX *)a->atty + l * BT * C, *residual2 = (floatX *)a->residual2 + l * BT * C;
        const floatX *ln2 = (floatX *)a->ln2 + l * BT * C;
        const floatX *fch = (floatX *)a->fch + l * BT * 4 * C, *fch_gelu = (floatX *)a->fch_gelu + l * BT * 4 * C;
        const float *ln1_mean = a->ln1_mean + l * BT, *ln1_rstd = a->ln1_rstd + l * BT;
        const float *ln2_mean = a->ln2_mean + l * BT, *ln2_rstd = a->ln2_rstd + l * BT;
        const float *att_lse = a->att_lse + l * (size_t)B * NH * T;

        // dres holds d loss / d residual3[l]. MLP branch: residual3 = residual2 + fcproj(gelu(fc(ln2))).
        matmul_backward<floatX>(&m->matmul, dfch, g.fcprojw + l * C * 4 * C, g.fcprojb + l * C, rs, dres, fch_gelu,
                                p.fcprojw + l * C * 4 * C, BT, (int)(4 * C), (int)C, s);
        gelu_backward<floatX>(dfch, fch, dfch, (long long)BT * 4 * C, s);
        matmul_backward<floatX>(&m->matmul, dln, g.fcw + l * 4 * C * C, g.fcb + l * 4 * C, rs, dfch, ln2,
                                p.fcw + l * 4 * C * C, BT, (int)C, (int)(4 * C), s);
        layernorm_backward<floatX>(dres_other, dres, g.ln2w + l * C, g.ln2b + l * C, rs, dln, residual2, p.ln2w + l * C,
                                   ln2_mean, ln2_rstd, BT, (int)C, s);
        // dres_other = d loss / d residual2[l]. Attention branch: residual2 = residual + attproj(attn(qkv(ln1))).
        matmul_backward<floatX>(&m->matmul, datty, g.attprojw + l * C * C, g.attprojb + l * C, rs, dres_other, atty,
                                p.attprojw + l * C * C, BT, (int)C, (int)C, s);
        attention_backward<floatX>(dqkv, a->att_delta, datty, qkv, atty, att_lse, B, T, (int)C, (int)NH, s);
        matmul_backward<floatX>(&m->matmul, dln, g.qkvw + l * 3 * C * C, g.qkvb + l * 3 * C, rs, dqkv, ln1,
                                p.qkvw + l * 3 * C * C, BT, (int)C, (int)(3 * C), s);
        layernorm_backward<floatX>(dres, dres_other, g.ln1w + l * C, g.ln1b + l * C, rs, dln, residual, p.ln1w + l * C,
                                   ln1_mean, ln1_rstd, BT, (int)C, s);
        // dres = d loss / d (this layer's input).
    }
    encoder_backward<floatX>(g.wte, g.wpe, dres, m->bucket_tokens, m->bucket_starts, m->bucket_rows, m->num_buckets, B, T,
                             (int)C, s);
}

// ---------------------------------------------------------------------------------------------
// The API, mirroring gpt2_forward / gpt2_zero_grad / gpt2_backward / gpt2_grad_norm / adamw_step.

// inputs, targets: (B,T) host arrays; targets may be NULL (no loss); a target < 0 is ignored.
static void gpt2cu_forward(GPT2Cuda *m, const int *inputs, const int *targets, int B, int T) {
    const GPT2Config *c = &m->config;
    if (B < 1 || T < 1 || B > m->max_B || T > m->max_T)
        die("gpt2cu_forward: batch %dx%d outside the allocated %dx%d", B, T, m->max_B, m->max_T);
    int V = c->vocab_size;
    size_t BT = (size_t)B * T;
    for (size_t i = 0; i < BT; i++) {
        if (inputs[i] < 0 || inputs[i] >= V)
            die("input token id %d (batch row %zu, position %zu) is outside the vocabulary 0..%d (the data does not match this model)",
                inputs[i], i / T, i % T, V - 1);
        if (targets && targets[i] >= V)
            die("target token id %d (batch row %zu, position %zu) is outside the vocabulary 0..%d (the data does not match this model)",
                targets[i], i / T, i % T, V - 1);
    }
    // Activation pointers for this (B, T) inside the block allocated for (max_B, max_T).
    gpt2cu_layout_acts(&m->acts, (char *)m->acts_memory, c, m->elem_size, B, T);
    m->B = B;
    m->T = T;
    m->has_targets = targets != NULL;
    cuda_check(cudaMemcpyAsync(m->inputs, inputs, BT * sizeof(int), cudaMemcpyHostToDevice, m->stream));
    if (targets) {
        memcpy(m->host_targets, targets, BT * sizeof(int));
        cuda_check(cudaMemcpyAsync(m->targets, m->host_targets, BT * sizeof(int), cudaMemcpyHostToDevice, m->stream));
        // Buckets of positions by token id for the deterministic wte backward: sort (token, position).
        std::vector<uint64_t> keys(BT);
        for (size_t i = 0; i < BT; i++) keys[i] = ((uint64_t)(uint32_t)inputs[i] << 32) | (uint64_t)i;
        std::sort(keys.begin(), keys.end());
        std::vector<int> tokens, starts, rows(BT);
        for (size_t i = 0; i < BT; i++) {
            int token = (int)(keys[i] >> 32);
            rows[i] = (int)(keys[i] & 0xffffffffu);
            if (i == 0 || token != tokens.back()) { tokens.push_back(token); starts.push_back((int)i); }
        }
        starts.push_back((int)BT);
        m->num_buckets = (int)tokens.size();
        cuda_check(cudaMemcpyAsync(m->bucket_tokens, tokens.data(), tokens.size() * sizeof(int), cudaMemcpyHostToDevice, m->stream));
        cuda_check(cudaMemcpyAsync(m->bucket_starts, starts.data(), starts.size() * sizeof(int), cudaMemcpyHostToDevice, m->stream));
        cuda_check(cudaMemcpyAsync(m->bucket_rows, rows.data(), BT * sizeof(int), cudaMemcpyHostToDevice, m->stream));
        // the vectors die at the end of this block: wait for the copies first
        cuda_check(cudaStreamSynchronize(m->stream));
    }
    if (m->precision == PRECISION_BF16) gpt2cu_forward_t<bf16>(m, B, T);
    else gpt2cu_forward_t<float>(m, B, T);
    if (targets) {
        cuda_check(cudaMemcpyAsync(m->host_losses, m->acts.losses, BT * sizeof(float), cudaMemcpyDeviceToHost, m->stream));
        cuda_check(cudaStreamSynchronize(m->stream));
        int counted = 0;
        double sum = 0.0;
        for (size_t i = 0; i < BT; i++) {
            if (targets[i] >= 0) counted++;
            sum += m->host_losses[i];
        }
        m->num_loss_tokens = counted;
        m->mean_loss = counted > 0 ? (float)(sum / counted) : 0.0f;
    } else {
        cuda_check(cudaStreamSynchronize(m->stream));
        m->num_loss_tokens = 0;
        m->mean_loss = -1.0f;
    }
}

static void gpt2cu_zero_grad(GPT2Cuda *m) {  // the padding too: ZeRO-1 passes the moments through it
    cuda_check(cudaMemsetAsync(m->grads, 0, m->padded_parameters * sizeof(float), m->stream));
}

// Accumulates the gradient of loss_scale * mean_loss of the last forward (which needs targets).
// The logits of that forward are overwritten by their gradient.
static void gpt2cu_backward(GPT2Cuda *m, float loss_scale) {
    if (!m->has_targets) die("gpt2cu_backward: the last forward pass had no targets (call gpt2cu_forward with targets first)");
    if (m->precision == PRECISION_BF16) gpt2cu_backward_t<bf16>(m, loss_scale);
    else gpt2cu_backward_t<float>(m, loss_scale);
    m->has_targets = 0;  // the logits now hold dlogits: a second backward needs a new forward
}

// Sum of squares of the gradients [first, first + count), as gpt2_grad_sumsq on the CPU.
static double gpt2cu_grad_sumsq(GPT2Cuda *m, size_t first, size_t count) {
    global_sum_of_squares(m->sumsq_result, m->norm_scratch, m->grads + first, count, m->stream);
    double sumsq;
    cuda_check(cudaMemcpyAsync(&sumsq, m->sumsq_result, sizeof sumsq, cudaMemcpyDeviceToHost, m->stream));
    cuda_check(cudaStreamSynchronize(m->stream));
    return sumsq;
}

static float gpt2cu_grad_norm(GPT2Cuda *m) { return (float)sqrt(gpt2cu_grad_sumsq(m, 0, m->num_parameters)); }

// The update of adamw_step_range (llmc/adamw.c) on the GPU, for this rank's shard (all weights
// without ZeRO-1), with the norm of all gradients; the moments live on the device.
static void gpt2cu_adamw_step_with_norm(GPT2Cuda *m, const AdamWHyper *h, float grad_norm) {
    float grad_scale = 1.0f;
    if (h->grad_clip > 0.0f) {
        float coef = h->grad_clip / (grad_norm + 1e-6f);
        if (coef < 1.0f) grad_scale = coef;
    }
    m->opt_step++;
    double t = (double)m->opt_step;
    float bias1 = (float)(1.0 - pow(h->beta1, t));
    float bias2_sqrt = (float)sqrt(1.0 - pow(h->beta2, t));
    float step_size = h->learning_rate / bias1;
    AdamWTensorTable table;
    memset(&table, 0, sizeof table);
    table.count = GPT2_NUM_PARAM_TENSORS;
    size_t first = m->shard_first, n = m->shard_count;
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) {  // tensor ends, counted from the shard's start
        size_t end = m->param_offsets[i] + m->param_sizes[i];
        table.ends[i] = end > first ? end - first : 0;
        table.decay[i] = gpt2_param_is_decayed(i) ? 1.0f - h->learning_rate * h->weight_decay : 1.0f;
    }
    if (n == 0) return;  // a rank whose shard is empty (more ranks than weights)
    // Under ZeRO-1 the working copy is refreshed whole after the all-gather: no copy here.
    bf16 *copy = m->shard_ranks == 1 ? (bf16 *)m->params + first : NULL;
    if (m->precision == PRECISION_BF16)
        adamw_update<bf16>(m->master + first, copy, m->grads + first, m->opt_m, m->opt_v, n, &table,
                           grad_scale, h->beta1, h->beta2, h->eps, step_size, bias2_sqrt, m->stream);
    else
        adamw_update<float>(m->master + first, (float *)NULL, m->grads + first, m->opt_m, m->opt_v, n, &table,
                            grad_scale, h->beta1, h->beta2, h->eps, step_size, bias2_sqrt, m->stream);
}

// adamw_step: global norm, clip, update; returns the norm before clipping.
static float gpt2cu_adamw_step(GPT2Cuda *m, const AdamWHyper *h) {
    float norm = gpt2cu_grad_norm(m);
    gpt2cu_adamw_step_with_norm(m, h, norm);
    return norm;
}

// Logits of the last forward (before backward) as fp32 on the host: (B,T,Vp).
static void gpt2cu_download_logits(GPT2Cuda *m, float *out) {
    size_t n = (size_t)m->B * m->T * m->config.padded_vocab_size;
    cuda_check(cudaStreamSynchronize(m->stream));
    if (m->precision == PRECISION_FP32) {
        cuda_check(cudaMemcpy(out, m->acts.logits, n * 4, cudaMemcpyDeviceToHost));
        return;
    }
    std::vector<uint16_t> raw(n);
    cuda_check(cudaMemcpy(raw.data(), m->acts.logits, n * 2, cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < n; i++) {
        uint32_t bits = (uint32_t)raw[i] << 16;
        memcpy(&out[i], &bits, 4);
    }
}

// Argmax over the real vocabulary at every position of the last forward (B*T host ints), from
// the logits on the device: only the ids come back. Call it before gpt2cu_backward, which
// overwrites the logits with their gradient.
static void gpt2cu_argmax(GPT2Cuda *m, int *out) {
    if (m->B < 1 || m->T < 1) die("gpt2cu_argmax: no forward pass yet (call gpt2cu_forward first)");
    if (!m->argmax) cuda_check(cudaMalloc((void **)&m->argmax, (size_t)m->max_B * m->max_T * sizeof(int)));
    const int rows = m->B * m->T, V = m->config.vocab_size, Vp = m->config.padded_vocab_size;
    if (m->precision == PRECISION_BF16)
        logit_stats_kernel<bf16><<<rows, LOGIT_STATS_THREADS, 0, m->stream>>>((const bf16 *)m->acts.logits, V, Vp, NULL,
                                                                              m->argmax, NULL, NULL, 0);
    else
        logit_stats_kernel<float><<<rows, LOGIT_STATS_THREADS, 0, m->stream>>>((const float *)m->acts.logits, V, Vp, NULL,
                                                                               m->argmax, NULL, NULL, 0);
    cuda_check_launch();
    cuda_check(cudaMemcpyAsync(out, m->argmax, (size_t)rows * sizeof(int), cudaMemcpyDeviceToHost, m->stream));
    cuda_check(cudaStreamSynchronize(m->stream));
}

static void gpt2cu_free(GPT2Cuda *m) {
    cuda_check(cudaStreamSynchronize(m->stream));
    if (m->argmax) cuda_check(cudaFree(m->argmax));
    if (m->precision == PRECISION_BF16) cuda_check(cudaFree(m->params));
    void *bufs[] = {m->master, m->grads, m->opt_m, m->opt_v, m->acts_memory, m->reduce_scratch, m->norm_scratch,
                    m->sumsq_result, m->inputs, m->targets, m->bucket_tokens, m->bucket_starts, m->bucket_rows};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) cuda_check(cudaFree(bufs[i]));
    matmul_context_free(&m->matmul);
    cuda_check(cudaStreamDestroy(m->stream));
    free(m->host_losses);
    free(m->host_targets);
    memset(m, 0, sizeof *m);
}

// GPU `device` must exist and be new enough (bf16 tensor cores: compute capability 8.0+); it
// becomes the current device. Dies with one line otherwise, saying what to do without a GPU
// (no_gpu); returns the device's properties.
static cudaDeviceProp gpu_check_device_or(Precision precision, int device, const char *no_gpu) {
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess || count == 0)
        die("no CUDA GPU found (%s); %s, or check the driver with nvidia-smi",
            err != cudaSuccess ? cudaGetErrorString(err) : "0 devices", no_gpu);
    if (device < 0 || device >= count) die("GPU %d does not exist: %d visible (0..%d)", device, count, count - 1);
    cudaDeviceProp prop;
    cuda_check(cudaGetDeviceProperties(&prop, device));
    if (prop.major < 8)
        die("GPU %s has compute capability %d.%d; this program needs 8.0 or newer (Ampere, Hopper)%s", prop.name,
            prop.major, prop.minor, precision == PRECISION_BF16 ? " for bf16" : "");
    cuda_check(cudaSetDevice(device));
    return prop;
}

// The trainer's GPU: without one, the CPU trainer does the same work.
static cudaDeviceProp gpu_check_device_at(Precision precision, int device) {
    return gpu_check_device_or(precision, device, "run the CPU trainer train_gpt2 instead");
}

// The first GPU, for the GPU test programs (test_gpt2cu, test_argmax_cuda): they test GPU code, so
// there is nothing to run instead on the CPU but their emulated build.
static cudaDeviceProp gpu_check_device(Precision precision) {
    static char fix[256];
    snprintf(fix, sizeof fix, "this test needs a GPU; without one, make test runs it on the CPU emulator as build/emu/%s",
             program_name());
    return gpu_check_device_or(precision, 0, fix);
}

#endif
