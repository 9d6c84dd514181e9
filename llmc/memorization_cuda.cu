// The GPU backend of the memorization evaluator (llmc/eval_backend.h), linked into
// test_memorizationcu. Inference only, in fp32 throughout (cuBLASLt with CUBLAS_COMPUTE_32F, no
// TF32; fp32 attention), so every argmax equals the CPU evaluator's except where the top two
// logits tie to within fp32 rounding (the driver counts those positions, see NEAR_TIE_RELATIVE).
// The opt-in TF32 mode (MEMLENS_EVAL_TF32=1, see GpuEval.tf32) keeps those decisions by rerunning
// in fp32 every row that met a margin below TF32_RERUN_BELOW.
//
// It reuses the trainer's kernels (matmul.cuh, layernorm.cuh, gelu.cuh, attention.cuh) and adds
// what inference needs:
//   - tokens at arbitrary positions (the ID probe and exposure feed tokens where they were in
//     training), one encoder kernel;
//   - a KV cache (L, rows, len, C) for keys and values, written by the prefill and by each decode
//     step, and an attention kernel for a few new queries per row against the cache;
//   - the classifier in row chunks with an argmax / top-2 margin / NLL kernel, so that only a few
//     numbers per position leave the GPU, never the (rows, Vp) logits;
//   - greedy decoding that keeps the chosen tokens on the device between steps.
// Nothing here keeps activations for a backward pass: one layer's scratch is reused by every layer.
// Every reduction has a fixed order and there are no atomics, so two runs give the same bits.
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <vector>

#include "cuda_common.cuh"
#include "attention.cuh"
#include "decode_attention.cuh"
#include "encoder.cuh"
#include "gelu.cuh"
#include "layernorm.cuh"
#include "logit_stats.cuh"
#include "matmul.cuh"

extern "C" {
#include "eval_backend.h"
#include "near_tie_rerun.h"
}

#define LOGIT_ROWS 2048       // rows of logits computed at once: 2048 x 50304 x 4 B = 412 MB
// TF32 mode: a relative top-2 margin below this sends the row back to fp32. TF32 keeps 10 mantissa
// bits (relative rounding 2^-11 of each matmul input); dev/reference/tf32_margin.py measures how far
// that moves the logits (relative to max(1, |top-1|)): see the README for the figures and the factor.
// Each run also measures its own model's error (calibrate_tf32) and raises the bound to 4x that.
#define TF32_RERUN_BELOW 1e-2f

// ---------------------------------------------------------------------------------------------
// Kernels.

// dst (n,C) = src rows idx[i].
__global__ void gather_rows_kernel(float *dst, const float *src, const int *idx, int n, int C) {
    long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= (long long)n * C) return;
    long long i = e / C;
    dst[e] = src[(long long)idx[i] * C + e % C];
}

// After decode step i: out[b][i] = the chosen token; it becomes row b's next input, at the next position.
__global__ void feed_back_kernel(int *out, int *tokens, int *positions, const int *chosen, const int *base_position,
                                 int B, int num_new, int i) {
    int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= B) return;
    out[(long long)b * num_new + i] = chosen[b];
    tokens[b] = chosen[b];
    positions[b] = base_position[b] + i + 1;
}

// TF32 calibration: err[r] = max_v |b[v] - a[v]| / max(1, |max_v a[v]|) over the real vocabulary,
// a the fp32 logits of row r, b the TF32 ones. One block per row.
__global__ void relative_logit_error_kernel(float *err, const float *a, const float *b, int V, int Vp) {
    __shared__ float red[256];
    const float *ra = a + (long long)blockIdx.x * Vp, *rb = b + (long long)blockIdx.x * Vp;
    float diff = 0.0f, top = -INFINITY;
    for (int v = threadIdx.x; v < V; v += blockDim.x) {
        const float d = fabsf(rb[v] - ra[v]);
        diff = d == d ? fmaxf(diff, d) : INFINITY;  // fmaxf would drop a NaN
        top = fmaxf(top, ra[v]);
    }
    diff = block_reduce(diff, red, MaxOp());
    top = block_reduce(top, red, MaxOp());
    if (threadIdx.x == 0) err[blockIdx.x] = isfinite(top) ? diff / fmaxf(1.0f, fabsf(top)) : INFINITY;
}

// TF32 mode: rows r0 .. r0+n-1 of a generation batch whose new token `token` was chosen with a
// relative margin below the bound (margin at the same index) keep the first such token's index in
// taint (which starts at the number of new tokens: no near tie).
__global__ void taint_kernel(int *taint, const float *margin, int r0, int n, float below, int token) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r < n && !(margin[r0 + r] >= below) && token < taint[r0 + r]) taint[r0 + r] = token;  // NaN: a near tie
}

// a[r] = value for r < n.
__global__ void fill_kernel(int *a, int n, int value) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r < n) a[r] = value;
}

// ---------------------------------------------------------------------------------------------
// The model on the device.

struct KVCache {
    float *k = nullptr, *v = nullptr;  // (L, rows, len, C)
    int rows = 0, len = 0;
};

struct GpuEval {
    GPT2Config cfg;
    int L, C, NH, HS, V, Vp, maxT;
    float *params = nullptr;  // (P) fp32, llm.c order
    float *wte, *wpe, *ln1w, *ln1b, *qkvw, *qkvb, *attprojw, *attprojb, *ln2w, *ln2b, *fcw, *fcb, *fcprojw, *fcprojb,
        *lnfw, *lnfb;
    MatmulContext mm;
    cudaStream_t stream;
    size_t cap;  // token rows of the scratch below
    float *x, *ln, *qkv, *atty, *proj, *fch, *mean, *rstd, *lse;  // (cap, C / 3C / 4C / 1 / NH)
    float *sel;                                                    // (cap, C) gathered rows for logits
    int *tokens, *positions, *idx, *targets, *argmax;              // (cap)
    float *margin, *nll;                                           // (cap)
    float *logits;                                                 // (LOGIT_ROWS, Vp)
    KVCache gen, ctx;  // generation rows; one row holding an exposure context
    int *gen_out = nullptr, *gen_base = nullptr;  // (gen.rows * max new tokens), (gen.rows) last prompt position
    int *gen_len = nullptr;                       // (gen.rows) prompt length of each row
    size_t gen_out_cap = 0;
    int attention_version = 1;  // of llmc/decode_attention.cuh; MEMLENS_DECODE_ATTENTION=2 picks the other (device checks)
    // TF32 mode (MEMLENS_EVAL_TF32=1, device checks until a GPU has run it): the ID probe and
    // generation run their matmuls on the TF32 tensor cores (fast = 1 during those passes); a row
    // with any chosen token whose relative top-2 margin is below tf32_rerun_below is run again in
    // fp32, so every decision is the fp32 one. The teacher-forced pass (NLL, loss) stays fp32.
    int tf32 = 0, fast = 0;
    float tf32_rerun_below = TF32_RERUN_BELOW;
    int *gen_taint = nullptr;                            // (gen.rows) first new token with a near tie in TF32
    int tf32_calibrated = 0;                             // the bound was checked against this model
    float tf32_error = 0.0f;                             // the largest relative logit error measured
    long long tf32_rows[2] = {0, 0}, tf32_reruns[2] = {0, 0};  // [0] ID probe, [1] generation
};

static void kv_alloc(KVCache *c, const GpuEval *g, int rows, int len, const char *what) {
    size_t bytes = (size_t)g->L * rows * len * g->C * sizeof(float);
    if (cudaMalloc(&c->k, bytes) != cudaSuccess || cudaMalloc(&c->v, bytes) != cudaSuccess)
        die("out of GPU memory for the %s KV cache (%d rows x %d tokens, %.2f GiB; use fewer --num_examples or a smaller model)",
            what, rows, len, 2.0 * bytes / 1073741824.0);
    c->rows = rows;
    c->len = len;
}

static void kv_free(KVCache *c) {
    if (c->k) cuda_check(cudaFree(c->k));
    if (c->v) cuda_check(cudaFree(c->v));
    c->k = c->v = nullptr;
    c->rows = c->len = 0;
}

// out (N,OC) = inp (N,C) . weight (OC,C)^T + bias (OC; may be NULL), fp32 with fp32 compute (TF32
// only while g->fast) and no split-K (one pass over k), its plan kept in g->mm.
static void mm_forward(GpuEval *g, float *out, const float *inp, const float *weight, const float *bias, int N, int C, int OC) {
    // column-major: out^T (OC,N) = weight (C,OC)^T . inp^T (C,N)
    matmul_lt(&g->mm, out, CUDA_R_32F, weight, inp, CUDA_R_32F, bias, OC, N, C, 1, 0, 0.0f, 0,
              g->fast ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F, g->stream);
}

// Runs N = B*S tokens (g->tokens, g->positions, already on the device) through the model and
// leaves the final LayerNorm of every token in g->ln (N, C). Row b has past + row_past[b] tokens
// cached (row_past: device array of B, or NULL for none; row_past_max: its largest entry).
//   cache NULL: each row is causal on its own S tokens (past must be 0, row_past NULL).
//   cache, prefix_row < 0: with p = past + row_past[b], the new keys/values go to cache row row0 + b
//     at slots p + s, and each query sees its row's slots 0 .. p+s (prefill when p == 0, decoding
//     after; rows of different prompt lengths decode in one pass through row_past).
//   cache, prefix_row >= 0: nothing is written; each query sees slots 0 .. past-1 of cache row
//     prefix_row, then its own row's new tokens 0..s.
static void gpu_forward(GpuEval *g, int B, int S, KVCache *cache, int row0, int past, const int *row_past, int row_past_max,
                        int prefix_row) {
    const int C = g->C, NH = g->NH, HS = g->HS, L = g->L;
    const long long N = (long long)B * S;
    if ((size_t)N > g->cap) die("gpu_forward: %lld tokens exceed the scratch of %zu (internal error)", N, g->cap);
    if (!cache && (past != 0 || row_past)) die("gpu_forward: past tokens without a cache (internal error)");
    if (row_past && prefix_row >= 0) die("gpu_forward: per-row past tokens with a shared prefix (internal error)");
    if (!row_past) row_past_max = 0;
    cudaStream_t st = g->stream;
    encoder_forward<float>(g->x, g->tokens, g->positions, g->wte, g->wpe, 1, (int)N, C, st);  // positions given
    const int max_keys = row_past_max + past + S;
    const size_t decode_smem = decode_attention_smem(g->attention_version, HS, max_keys);
    // ln = LN1 of layer 0; later layers get theirs fused with the residual add that ends the layer before
    fused_residual_layernorm_forward<float>(NULL, g->ln, g->mean, g->rstd, g->x, NULL, g->ln1w, g->ln1b, (int)N, C, st);
    for (int l = 0; l < L; l++) {
        mm_forward(g, g->qkv, g->ln, g->qkvw + (size_t)l * 3 * C * C, g->qkvb + (size_t)l * 3 * C, (int)N,
                              C, 3 * C);
        float *kc = cache ? cache->k + (size_t)l * cache->rows * cache->len * C : NULL;
        float *vc = cache ? cache->v + (size_t)l * cache->rows * cache->len * C : NULL;
        if (cache && prefix_row < 0) {
            kv_write_kernel<<<ceil_div(N * C, 256), 256, 0, st>>>(kc, vc, g->qkv, B, S, C, row0, row_past, past, cache->len);
            cuda_check_launch();
        }
        if (past == 0 && !row_past && !(cache && prefix_row >= 0)) {
            // a fresh causal pass over each row (the trainer's attention; it reads qkv, not the cache)
            attention_forward<float>(g->atty, g->lse, g->qkv, B, S, C, NH, st);
        } else {
            decode_attention_forward(g->attention_version, g->atty, g->qkv, kc, vc, B, S, C, NH, cache->len, row0, row_past, past,
                                     prefix_row, max_keys, decode_smem, st);
        }
        mm_forward(g, g->proj, g->atty, g->attprojw + (size_t)l * C * C, g->attprojb + (size_t)l * C,
                              (int)N, C, C);
        // x = x + proj (in place: each element is read and written by the same thread), ln = LN2(x)
        fused_residual_layernorm_forward<float>(g->x, g->ln, g->mean, g->rstd, g->x, g->proj, g->ln2w + (size_t)l * C,
                                                g->ln2b + (size_t)l * C, (int)N, C, st);
        mm_forward(g, g->fch, g->ln, g->fcw + (size_t)l * 4 * C * C, g->fcb + (size_t)l * 4 * C, (int)N, C,
                              4 * C);
        gelu_forward<float>(g->fch, g->fch, N * 4 * C, st);
        mm_forward(g, g->proj, g->fch, g->fcprojw + (size_t)l * C * 4 * C, g->fcprojb + (size_t)l * C,
                              (int)N, 4 * C, C);
        if (l + 1 < L) {  // x += proj, ln = LN1 of layer l+1
            fused_residual_layernorm_forward<float>(g->x, g->ln, g->mean, g->rstd, g->x, g->proj, g->ln1w + (size_t)(l + 1) * C,
                                                    g->ln1b + (size_t)(l + 1) * C, (int)N, C, st);
        } else {          // x += proj, ln = final LayerNorm
            fused_residual_layernorm_forward<float>(g->x, g->ln, g->mean, g->rstd, g->x, g->proj, g->lnfw, g->lnfb, (int)N,
                                                    C, st);
        }
    }
}

// Logits of n rows of g->ln (rows idx_host[i], or 0..n-1 when idx_host is NULL), LOGIT_ROWS at a
// time, reduced to argmax / margin / NLL (targets_host NULL: no NLL) in g->argmax etc. at index
// out0 + i. Copies them to the host arrays that are not NULL. Returns the last chunk's first row
// index: g->logits then holds rows first .. n-1.
static int gpu_outputs(GpuEval *g, int n, const int *idx_host, const int *targets_host, int out0, int *argmax_host,
                       float *margin_host, float *nll_host) {
    cudaStream_t st = g->stream;
    const float *src = g->ln;
    if (idx_host) {
        cuda_check(cudaMemcpyAsync(g->idx, idx_host, (size_t)n * sizeof(int), cudaMemcpyHostToDevice, st));
        gather_rows_kernel<<<ceil_div((long long)n * g->C, 256), 256, 0, st>>>(g->sel, g->ln, g->idx, n, g->C);
        cuda_check_launch();
        src = g->sel;
    }
    if (targets_host)
        cuda_check(cudaMemcpyAsync(g->targets + out0, targets_host, (size_t)n * sizeof(int), cudaMemcpyHostToDevice, st));
    int first = 0;
    for (int r0 = 0; r0 < n; r0 += LOGIT_ROWS) {
        int rows = n - r0 < LOGIT_ROWS ? n - r0 : LOGIT_ROWS;
        first = r0;
        mm_forward(g, g->logits, src + (size_t)r0 * g->C, g->wte, (float *)NULL, rows, g->C, g->Vp);
        logit_stats_kernel<float><<<rows, LOGIT_STATS_THREADS, 0, st>>>(g->logits, g->V, g->Vp, targets_host ? g->targets : NULL,
                                                                        g->argmax, g->margin, g->nll, out0 + r0);
        cuda_check_launch();
    }
    if (argmax_host) cuda_check(cudaMemcpyAsync(argmax_host, g->argmax + out0, (size_t)n * sizeof(int), cudaMemcpyDeviceToHost, st));
    if (margin_host) cuda_check(cudaMemcpyAsync(margin_host, g->margin + out0, (size_t)n * sizeof(float), cudaMemcpyDeviceToHost, st));
    if (nll_host) cuda_check(cudaMemcpyAsync(nll_host, g->nll + out0, (size_t)n * sizeof(float), cudaMemcpyDeviceToHost, st));
    // (host inputs above came from pageable memory: staged before the copy calls returned)
    if (argmax_host || margin_host || nll_host) cuda_check(cudaStreamSynchronize(st));
    return first;
}

static void upload_inputs(GpuEval *g, const int *tokens, const int *positions, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (tokens[i] < 0 || tokens[i] >= g->V) die("token id %d is outside the vocabulary [0, %d)", tokens[i], g->V);
        if (positions[i] < 0 || positions[i] >= g->maxT)
            die("position %d is outside the model's range [0, %d) (use shorter prompts or fewer new tokens)", positions[i], g->maxT);
    }
    cuda_check(cudaMemcpyAsync(g->tokens, tokens, n * sizeof(int), cudaMemcpyHostToDevice, g->stream));
    cuda_check(cudaMemcpyAsync(g->positions, positions, n * sizeof(int), cudaMemcpyHostToDevice, g->stream));
    cuda_check(cudaStreamSynchronize(g->stream));  // the host arrays may be temporaries of the caller
}

// Rows of S tokens that one pass of the scratch takes.
static int rows_per_pass(const GpuEval *g, int S) {
    size_t r = g->cap / (size_t)S;
    return r < 1 ? 1 : (r > INT_MAX ? INT_MAX : (int)r);
}

// ---------------------------------------------------------------------------------------------
// The EvalBackend functions.

static int cu_teacher_batch(EvalBackend *b, int T) { return rows_per_pass((GpuEval *)b->impl, T); }

static void cu_teacher_forced(EvalBackend *b, const int *inputs, const int *targets, int B, int T, int *argmax, float *margin,
                              float *nll) {
    GpuEval *g = (GpuEval *)b->impl;
    if ((size_t)T > g->cap) die("teacher-forced pass: %d tokens per row exceed the GPU scratch of %zu tokens", T, g->cap);
    const int per = rows_per_pass(g, T);
    std::vector<int> pos((size_t)per * T);
    for (size_t i = 0; i < pos.size(); i++) pos[i] = (int)(i % T);  // positions 0..T-1, as in training
    for (int r0 = 0; r0 < B; r0 += per) {
        int rows = B - r0 < per ? B - r0 : per;
        size_t off = (size_t)r0 * T, n = (size_t)rows * T;
        upload_inputs(g, inputs + off, pos.data(), n);
        gpu_forward(g, rows, T, NULL, 0, 0, NULL, 0, -1);
        gpu_outputs(g, (int)n, NULL, targets + off, 0, argmax + off, margin + off, nll + off);
    }
}

// TF32 mode, once per run: the relative logit error of TF32 against fp32 on this model, measured
// at every position of one row (T tokens at `positions`), and the rerun bound raised to 4x it
// where TF32_RERUN_BELOW is not already that far above (a margin above 2x the error keeps the
// argmax; dev/reference/tf32_margin.py measured at most 3.5e-3 on three models).
static void calibrate_tf32(GpuEval *g, const int *tokens, const int *positions, int T) {
    if (g->tf32_calibrated) return;
    g->tf32_calibrated = 1;
    if (T > LOGIT_ROWS / 2) T = LOGIT_ROWS / 2;  // fp32 logits in the first half of g->logits, TF32 in the second
    float *fp32_logits = g->logits, *tf32_logits = g->logits + (size_t)T * g->Vp;
    upload_inputs(g, tokens, positions, (size_t)T);
    for (int fast = 0; fast <= 1; fast++) {
        g->fast = fast;
        gpu_forward(g, 1, T, NULL, 0, 0, NULL, 0, -1);
        mm_forward(g, fast ? tf32_logits : fp32_logits, g->ln, g->wte, (float *)NULL, T, g->C, g->Vp);
    }
    g->fast = 0;
    relative_logit_error_kernel<<<T, 256, 0, g->stream>>>(g->margin, fp32_logits, tf32_logits, g->V, g->Vp);  // scratch
    cuda_check_launch();
    std::vector<float> e(T);
    cuda_check(cudaMemcpyAsync(e.data(), g->margin, (size_t)T * sizeof(float), cudaMemcpyDeviceToHost, g->stream));
    cuda_check(cudaStreamSynchronize(g->stream));
    for (int t = 0; t < T; t++)
        if (!(e[t] <= g->tf32_error)) g->tf32_error = e[t];  // NaN sticks
    if (4.0f * g->tf32_error > g->tf32_rerun_below) g->tf32_rerun_below = 4.0f * g->tf32_error;
    fprintf(stderr, "%s: TF32 mode: relative logit error %.2e over %d positions of this model; rerun bound %g\n",
            program_name(), g->tf32_error, T, g->tf32_rerun_below);
    if (!(g->tf32_error < 0.25f)) {  // reruns everywhere would cost more than fp32 alone
        g->tf32 = 0;
        fprintf(stderr, "%s: TF32 mode: off for this model (fp32 only)\n", program_name());
    }
}

// gpu_forward + gpu_outputs over (B, T) rows: argmax and margin at each row's last n_last positions.
static void score_last_pass(GpuEval *g, const int *tokens, const int *positions, int B, int T, int n_last, int *argmax,
                            float *margin) {
    const int per = rows_per_pass(g, T);
    std::vector<int> idx((size_t)per * n_last);
    for (int r0 = 0; r0 < B; r0 += per) {
        int rows = B - r0 < per ? B - r0 : per;
        upload_inputs(g, tokens + (size_t)r0 * T, positions + (size_t)r0 * T, (size_t)rows * T);
        gpu_forward(g, rows, T, NULL, 0, 0, NULL, 0, -1);
        for (int r = 0; r < rows; r++)
            for (int t = 0; t < n_last; t++) idx[(size_t)r * n_last + t] = r * T + T - n_last + t;
        gpu_outputs(g, rows * n_last, idx.data(), NULL, 0, argmax + (size_t)r0 * n_last, margin + (size_t)r0 * n_last, NULL);
    }
}

static void cu_score_last(EvalBackend *b, const int *tokens, const int *positions, int B, int T, int n_last, int *argmax,
                          float *margin) {
    GpuEval *g = (GpuEval *)b->impl;
    if (n_last < 1 || n_last > T) die("scoring: %d last positions of %d", n_last, T);
    if ((size_t)T > g->cap) die("scoring: %d tokens per row exceed the GPU scratch of %zu tokens", T, g->cap);
    if (g->tf32) calibrate_tf32(g, tokens, positions, T);  // the first time; it may turn the mode off
    if (!g->tf32) {
        score_last_pass(g, tokens, positions, B, T, n_last, argmax, margin);
        return;
    }
    g->fast = 1;
    score_last_pass(g, tokens, positions, B, T, n_last, argmax, margin);
    g->fast = 0;
    // rows with a near tie at any scored position: again in fp32, and their results replace the TF32 ones
    std::vector<int> rerun, tok, pos;
    for (int r = 0; r < B; r++)
        for (int t = 0; t < n_last; t++)
            if (!(margin[(size_t)r * n_last + t] >= g->tf32_rerun_below)) { rerun.push_back(r); break; }
    g->tf32_rows[0] += B;
    g->tf32_reruns[0] += (long long)rerun.size();
    if (rerun.empty()) return;
    const int n = (int)rerun.size();
    tok.resize((size_t)n * T); pos.resize((size_t)n * T);
    for (int i = 0; i < n; i++) {
        memcpy(&tok[(size_t)i * T], tokens + (size_t)rerun[i] * T, (size_t)T * sizeof(int));
        memcpy(&pos[(size_t)i * T], positions + (size_t)rerun[i] * T, (size_t)T * sizeof(int));
    }
    std::vector<int> am((size_t)n * n_last);
    std::vector<float> mg((size_t)n * n_last);
    score_last_pass(g, tok.data(), pos.data(), n, T, n_last, am.data(), mg.data());
    for (int i = 0; i < n; i++) {
        memcpy(argmax + (size_t)rerun[i] * n_last, &am[(size_t)i * n_last], (size_t)n_last * sizeof(int));
        memcpy(margin + (size_t)rerun[i] * n_last, &mg[(size_t)i * n_last], (size_t)n_last * sizeof(float));
    }
}

// Greedy decoding of B rows (cu_greedy_generate's contract) in the current precision; while
// g->fast, g->gen_taint[b] becomes the index of row b's first new token chosen at a near tie.
static void generate_pass(GpuEval *g, const int *prompts, const int *positions, const int *lengths, int B, int P,
                          int num_new, int *out) {
    if (B < 1 || B > g->gen.rows) die("generation: batch of %d rows, the cache holds %d", B, g->gen.rows);
    if (P < 1 || num_new < 1) die("generation: prompt length %d and new tokens %d must be positive", P, num_new);
    if ((size_t)P > g->cap) die("generation: a prompt of %d tokens exceeds the GPU scratch of %zu tokens", P, g->cap);
    std::vector<int> len(B), base(B);
    int longest = 0;
    for (int r = 0; r < B; r++) {
        len[r] = lengths ? lengths[r] : P;
        if (len[r] < 1 || len[r] > P) die("generation: row %d has a prompt of %d tokens, outside 1..%d", r, len[r], P);
        if (len[r] + num_new - 1 > g->gen.len)
            die("generation: %d prompt + %d new tokens exceed the cache length %d", len[r], num_new, g->gen.len);
        base[r] = positions ? positions[(size_t)r * P + len[r] - 1] : len[r] - 1;
        // every input takes a position: the last one, that of new token num_new-2, is base + num_new - 1
        if (base[r] + num_new - 1 >= g->maxT)
            die("generation: position %d is outside the model's range [0, %d) (use shorter prompts or fewer new tokens)",
                base[r] + num_new - 1, g->maxT);
        if (len[r] > longest) longest = len[r];
    }
    size_t need = (size_t)B * num_new;
    if (need > g->gen_out_cap) {
        if (g->gen_out) cuda_check(cudaFree(g->gen_out));
        cuda_check(cudaMalloc(&g->gen_out, need * sizeof(int)));
        g->gen_out_cap = need;
    }
    cudaStream_t st = g->stream;
    if (g->fast) {  // no near tie yet: the first one's index starts past the last token
        fill_kernel<<<ceil_div(B, 128), 128, 0, st>>>(g->gen_taint, B, num_new);
        cuda_check_launch();
    }
    cuda_check(cudaMemcpyAsync(g->gen_base, base.data(), (size_t)B * sizeof(int), cudaMemcpyHostToDevice, st));
    cuda_check(cudaMemcpyAsync(g->gen_len, len.data(), (size_t)B * sizeof(int), cudaMemcpyHostToDevice, st));
    // prefill: each run of consecutive rows with one prompt length, in row groups that fit the
    // scratch; each leaves its rows' first new token in g->argmax at the row's index
    std::vector<int> tok, pos, idx;
    for (int b0 = 0, b1; b0 < B; b0 = b1) {
        const int n = len[b0];
        for (b1 = b0 + 1; b1 < B && len[b1] == n; b1++) {}
        const int per = rows_per_pass(g, n);
        for (int r0 = b0; r0 < b1; r0 += per) {
            const int rows = b1 - r0 < per ? b1 - r0 : per;
            tok.resize((size_t)rows * n); pos.resize((size_t)rows * n); idx.resize((size_t)rows);
            for (int r = 0; r < rows; r++) {
                for (int j = 0; j < n; j++) {
                    tok[(size_t)r * n + j] = prompts[(size_t)(r0 + r) * P + j];
                    pos[(size_t)r * n + j] = positions ? positions[(size_t)(r0 + r) * P + j] : j;
                }
                idx[r] = r * n + n - 1;
            }
            upload_inputs(g, tok.data(), pos.data(), (size_t)rows * n);
            gpu_forward(g, rows, n, &g->gen, r0, 0, NULL, 0, -1);
            gpu_outputs(g, rows, idx.data(), NULL, r0, NULL, NULL, NULL);
            if (g->fast) {
                taint_kernel<<<ceil_div(rows, 128), 128, 0, st>>>(g->gen_taint, g->margin, r0, rows, g->tf32_rerun_below, 0);
                cuda_check_launch();
            }
        }
    }
    // decode: the chosen tokens stay on the device; one token per row and step, row b's new token
    // i at cache slot len[b] + i
    for (int i = 0;; i++) {
        feed_back_kernel<<<ceil_div(B, 128), 128, 0, st>>>(g->gen_out, g->tokens, g->positions, g->argmax, g->gen_base, B,
                                                          num_new, i);
        cuda_check_launch();
        if (i + 1 == num_new) break;
        gpu_forward(g, B, 1, &g->gen, 0, i, g->gen_len, longest, -1);
        gpu_outputs(g, B, NULL, NULL, 0, NULL, NULL, NULL);
        if (g->fast) {
            taint_kernel<<<ceil_div(B, 128), 128, 0, st>>>(g->gen_taint, g->margin, 0, B, g->tf32_rerun_below, i + 1);
            cuda_check_launch();
        }
    }
    cuda_check(cudaMemcpyAsync(out, g->gen_out, need * sizeof(int), cudaMemcpyDeviceToHost, st));
    cuda_check(cudaStreamSynchronize(st));
}

// The fp32 generator handed to continue_from_near_ties.
static void exact_fp32_generate(void *ctx, const int *prompts, const int *positions, const int *lengths, int B, int P,
                                int num_new, int *out) {
    GpuEval *g = (GpuEval *)ctx;
    g->fast = 0;
    generate_pass(g, prompts, positions, lengths, B, P, num_new, out);
}

static void cu_greedy_generate(EvalBackend *b, const int *prompts, const int *positions, const int *lengths, int B, int P,
                               int num_new, int *out) {
    GpuEval *g = (GpuEval *)b->impl;
    if (g->tf32 && B >= 1 && P >= 1) {  // calibrate on row 0's prompt if the ID probe has not
        const int len0 = lengths ? lengths[0] : P;
        if (len0 >= 2 && len0 <= P && (size_t)len0 <= g->cap) {
            std::vector<int> pos0(len0);
            for (int j = 0; j < len0; j++) pos0[j] = positions ? positions[j] : j;
            calibrate_tf32(g, prompts, pos0.data(), len0);
        }
    }
    if (!g->tf32) {
        generate_pass(g, prompts, positions, lengths, B, P, num_new, out);
        return;
    }
    g->fast = 1;
    generate_pass(g, prompts, positions, lengths, B, P, num_new, out);
    g->fast = 0;
    std::vector<int> first(B);
    cuda_check(cudaMemcpyAsync(first.data(), g->gen_taint, (size_t)B * sizeof(int), cudaMemcpyDeviceToHost, g->stream));
    cuda_check(cudaStreamSynchronize(g->stream));
    // rows that met a near tie go on in fp32 from their first such token (llmc/near_tie_rerun.h)
    const int again = continue_from_near_ties(exact_fp32_generate, g, prompts, positions, lengths, B, P, num_new,
                                              first.data(), g->gen.len, g->maxT, out);
    g->tf32_rows[1] += B;
    g->tf32_reruns[1] += again;
}

// Row r of the last chunk of logits gpu_outputs computed, to the host (Vp floats).
static void download_logits_row(GpuEval *g, int r, float *out) {
    cuda_check(cudaMemcpyAsync(out, g->logits + (size_t)r * g->Vp, (size_t)g->Vp * sizeof(float), cudaMemcpyDeviceToHost, g->stream));
    cuda_check(cudaStreamSynchronize(g->stream));
}

// log softmax[target] of one row of logits, as llmc/exposure.c's first-token softmax computes it.
static double host_log_prob(const float *logits, int V, int target) {
    float maxv = logits[0];
    for (int v = 1; v < V; v++) if (logits[v] > maxv) maxv = logits[v];
    double sum = 0.0;
    for (int v = 0; v < V; v++) sum += exp((double)(logits[v] - maxv));
    return (double)(logits[target] - maxv) - log(sum);
}

// score_continuations of llmc/exposure.c on the GPU, step for step: the context once into the
// one-row context cache, the tokens every candidate shares appended to it, then each candidate's
// own tail (inputs: its tokens but its last) as one row attending to that cache, many rows a pass.
static size_t cu_score_continuations(EvalBackend *b, int max_len, const int *context, const int *positions, int P,
                                     const int *const *candidates, const int *lengths, int M, double *loglik) {
    GpuEval *g = (GpuEval *)b->impl;
    const int V = g->V, Vp = g->Vp, maxT = g->maxT;
    if (M < 1 || P < 1) die("score_continuations: %d candidates and a context of %d must be positive", M, P);
    if (g->ctx.len < max_len) {
        kv_free(&g->ctx);
        kv_alloc(&g->ctx, g, 1, max_len, "exposure");
    }
    int min_len = lengths[0], max_cand = lengths[0];
    for (int i = 0; i < M; i++) {
        if (lengths[i] < 1) die("score_continuations: candidate %d is empty", i);
        if (lengths[i] < min_len) min_len = lengths[i];
        if (lengths[i] > max_cand) max_cand = lengths[i];
    }
    if (P + max_cand > g->ctx.len) die("score_continuations: context %d + candidate %d tokens exceed the cache length %d", P, max_cand, g->ctx.len);
    if ((size_t)P > g->cap) die("score_continuations: a context of %d tokens exceeds the GPU scratch of %zu tokens", P, g->cap);
    int common = 0;  // shared leading tokens (at least one token of every candidate stays its own)
    while (common < min_len - 1) {
        int same = 1;
        for (int i = 1; i < M && same; i++) same = candidates[i][common] == candidates[0][common];
        if (!same) break;
        common++;
    }
    std::vector<float> next((size_t)Vp);  // logits for the first token after what is cached
    // 1. the context into the context cache
    upload_inputs(g, context, positions, (size_t)P);
    gpu_forward(g, 1, P, &g->ctx, 0, 0, NULL, 0, -1);
    int last = P - 1;
    gpu_outputs(g, 1, &last, NULL, 0, NULL, NULL, NULL);  // one row: g->logits holds it
    download_logits_row(g, 0, next.data());
    const int first_position = positions[P - 1] + 1;
    double shared = 0.0;
    int past = P;
    // 2. the shared tokens, appended to the context
    if (common > 0) {
        if (first_position + common - 1 >= maxT) {
            for (int i = 0; i < M; i++) loglik[i] = NAN;
            return (size_t)M;
        }
        shared = host_log_prob(next.data(), V, candidates[0][0]);
        std::vector<int> tokens(common), pos(common), targets(common);
        std::vector<float> nll(common);
        for (int s = 0; s < common; s++) {
            tokens[s] = candidates[0][s];
            pos[s] = first_position + s;
            targets[s] = s + 1 < common ? candidates[0][s + 1] : -1;
        }
        upload_inputs(g, tokens.data(), pos.data(), (size_t)common);
        gpu_forward(g, 1, common, &g->ctx, 0, past, NULL, 0, -1);
        int first = gpu_outputs(g, common, NULL, targets.data(), 0, NULL, NULL, nll.data());
        for (int s = 0; s + 1 < common; s++) shared -= (double)nll[s];
        past += common;
        download_logits_row(g, common - 1 - first, next.data());
    }
    // log-probability of each candidate's first own token: one softmax for all of them
    std::vector<double> first_logprob((size_t)V);
    {
        float maxv = next[0];
        for (int v = 1; v < V; v++) if (next[v] > maxv) maxv = next[v];
        double sum = 0.0;
        for (int v = 0; v < V; v++) sum += exp((double)(next[v] - maxv));
        double log_sum = log(sum);
        for (int v = 0; v < V; v++) first_logprob[v] = (double)(next[v] - maxv) - log_sum;
    }
    // 3. the tails: inputs are a candidate's own tokens but its last, many candidates per pass
    const int tail_position = first_position + common;
    const int S = max_cand - common - 1;  // inputs per row (shorter rows padded)
    for (int i = 0; i < M; i++) loglik[i] = shared + first_logprob[candidates[i][common]];
    if (S > 0) {
        const int per = rows_per_pass(g, S);
        std::vector<int> tokens, pos, idx, targets, owner;
        std::vector<float> nll;
        for (int start = 0; start < M; start += per) {
            int rows = M - start < per ? M - start : per;
            tokens.assign((size_t)rows * S, 0);
            pos.assign((size_t)rows * S, 0);
            idx.clear(); targets.clear(); owner.clear();
            for (int r = 0; r < rows; r++) {
                const int *c = candidates[start + r];
                int own = lengths[start + r] - common - 1;
                // inputs at positions the model lacks make the candidate unscorable: no logits for them
                int real = tail_position + own - 1 >= maxT ? 0 : own;
                for (int s = 0; s < S; s++) {
                    // padding repeats the last real input; causal attention keeps it from the real ones
                    tokens[(size_t)r * S + s] = c[common + (s < own ? s : own)];
                    int at = tail_position + s;
                    pos[(size_t)r * S + s] = at < maxT ? at : maxT - 1;
                }
                for (int s = 0; s < real; s++) {
                    idx.push_back(r * S + s);
                    targets.push_back(c[common + s + 1]);
                    owner.push_back(start + r);
                }
            }
            upload_inputs(g, tokens.data(), pos.data(), tokens.size());
            gpu_forward(g, rows, S, &g->ctx, 0, past, NULL, 0, 0);
            if (!idx.empty()) {
                nll.resize(idx.size());
                gpu_outputs(g, (int)idx.size(), idx.data(), targets.data(), 0, NULL, NULL, nll.data());
                for (size_t i = 0; i < idx.size(); i++) loglik[owner[i]] -= (double)nll[i];  // in token order per row
            }
            for (int r = 0; r < rows; r++) {
                int own = lengths[start + r] - common - 1;
                if (own > 0 && tail_position + own - 1 >= maxT) loglik[start + r] = NAN;
            }
        }
    }
    size_t unscorable = 0;
    for (int i = 0; i < M; i++) unscorable += isnan(loglik[i]);
    return unscorable;
}

static void cu_free(EvalBackend *b) {
    GpuEval *g = (GpuEval *)b->impl;
    cuda_check(cudaStreamSynchronize(g->stream));
    if (g->tf32)
        fprintf(stderr, "%s: TF32 mode: rerun in fp32 (a relative top-2 margin below %g): %lld of %lld ID-probe rows, %lld of "
                "%lld generated rows\n", program_name(), g->tf32_rerun_below, g->tf32_reruns[0], g->tf32_rows[0],
                g->tf32_reruns[1], g->tf32_rows[1]);
    kv_free(&g->gen);
    kv_free(&g->ctx);
    void *bufs[] = {g->params, g->x, g->ln, g->qkv, g->atty, g->proj, g->fch, g->mean, g->rstd, g->lse, g->sel,
                    g->tokens, g->positions, g->idx, g->targets, g->argmax, g->margin, g->nll, g->logits, g->gen_base,
                    g->gen_len, g->gen_taint, g->gen_out};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        if (bufs[i]) cuda_check(cudaFree(bufs[i]));
    matmul_context_free(&g->mm);
    cuda_check(cudaStreamDestroy(g->stream));
    delete g;
    free(b);
}

extern "C" void eval_backend_cuda_check(void) {
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess || count == 0)
        die("no CUDA GPU found (%s); run the CPU evaluator test_memorization instead, or check the driver with nvidia-smi",
            err != cudaSuccess ? cudaGetErrorString(err) : "0 devices");
}

extern "C" EvalBackend *eval_backend_cuda_create(const GPT2 *model, int cache_len, int max_examples, int max_rows,
                                                 int local_rank) {
    eval_backend_cuda_check();
    int count = 0, device;
    cuda_check(cudaGetDeviceCount(&count));
    device = (local_rank > 0 ? local_rank : 0) % count;
    cuda_check(cudaSetDevice(device));
    cudaDeviceProp prop;
    cuda_check(cudaGetDeviceProperties(&prop, device));

    GpuEval *g = new GpuEval();
    if (const char *v = getenv("MEMLENS_EVAL_TF32")) {
        if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0) die("MEMLENS_EVAL_TF32=%s: use 1 (TF32 with fp32 reruns of near ties) or 0", v);
        g->tf32 = v[0] == '1';
    }
    if (const char *v = getenv("MEMLENS_EVAL_TF32_RERUN_BELOW")) {
        char *end;
        double x = strtod(v, &end);
        if (!*v || *end || !(x >= 0.0 && x < 1.0)) die("MEMLENS_EVAL_TF32_RERUN_BELOW=%s: a relative margin in [0, 1)", v);
        g->tf32_rerun_below = (float)x;
    }
    if (const char *v = getenv("MEMLENS_DECODE_ATTENTION")) {
        if (strcmp(v, "1") != 0 && strcmp(v, "2") != 0)
            die("MEMLENS_DECODE_ATTENTION=%s: use 1 or 2 (the versions of llmc/decode_attention.cuh), or unset it", v);
        g->attention_version = v[0] - '0';
    }
    g->cfg = model->config;
    g->L = g->cfg.num_layers; g->C = g->cfg.channels; g->NH = g->cfg.num_heads; g->HS = g->C / g->NH;
    g->V = g->cfg.vocab_size; g->Vp = g->cfg.padded_vocab_size; g->maxT = g->cfg.max_seq_len;
    if (!attention_head_size_supported(g->HS))
        die("the model's head size is %d (channels %d / heads %d); the GPU evaluator supports 16, 32, 64 or 128 (use the CPU evaluator test_memorization)",
            g->HS, g->C, g->NH);
    if (g->attention_version == 2 && !decode_attention_vec_supported(g->HS, g->C))
        die("MEMLENS_DECODE_ATTENTION=2 needs a head size that is a multiple of 4 dividing %d (this model's is %d)",
            4 * DECODE_THREADS, g->HS);
    cuda_check(cudaStreamCreate(&g->stream));
    matmul_context_init(&g->mm);

    // the weights, fp32, in the host model's layout (pointers at the same offsets)
    const size_t P = model->num_parameters;
    cuda_check(cudaMalloc(&g->params, P * sizeof(float)));
    cuda_check(cudaMemcpy(g->params, model->params_memory, P * sizeof(float), cudaMemcpyHostToDevice));
    const GPT2Params *hp = &model->params;
#define DEVICE_PTR(name) g->name = g->params + (hp->name - model->params_memory)
    DEVICE_PTR(wte); DEVICE_PTR(wpe); DEVICE_PTR(ln1w); DEVICE_PTR(ln1b); DEVICE_PTR(qkvw); DEVICE_PTR(qkvb);
    DEVICE_PTR(attprojw); DEVICE_PTR(attprojb); DEVICE_PTR(ln2w); DEVICE_PTR(ln2b); DEVICE_PTR(fcw); DEVICE_PTR(fcb);
    DEVICE_PTR(fcprojw); DEVICE_PTR(fcprojb); DEVICE_PTR(lnfw); DEVICE_PTR(lnfb);
#undef DEVICE_PTR
    cuda_check(cudaMalloc(&g->logits, (size_t)LOGIT_ROWS * g->Vp * sizeof(float)));

    // The rest of free memory (less 1 GiB for cuBLASLt and the context cache): 40% for the
    // generation KV cache, 50% for the per-token scratch; both no bigger than the run needs.
    size_t free_bytes = 0, total_bytes = 0;
    cuda_check(cudaMemGetInfo(&free_bytes, &total_bytes));
    const double usable = free_bytes > (1ull << 30) ? (double)(free_bytes - (1ull << 30)) : 0.0;
    const double cache_row_bytes = 2.0 * g->L * (double)cache_len * g->C * sizeof(float);
    double gen_rows = floor(0.4 * usable / cache_row_bytes);
    if (gen_rows > max_rows) gen_rows = max_rows;
    if (gen_rows < 1)
        die("the GPU (%s) has %.2f GiB free: not enough for one row of the KV cache (%.2f GiB) besides the weights (use a smaller model or shorter --context_lengths/--max_new_tokens)",
            prop.name, free_bytes / 1073741824.0, cache_row_bytes / 1073741824.0);
    const double token_bytes = (12.0 * g->C + 3 + g->NH) * sizeof(float) + 5 * sizeof(int);
    double cap = floor(0.5 * usable / token_bytes);
    double want = (double)max_examples * cache_len;  // a teacher-forced pass over every example at once
    if (want < g->maxT + 64.0) want = g->maxT + 64.0;  // an exposure context
    if (want < 65536.0) want = 65536.0;                 // many exposure candidates per pass
    if (cap > want) cap = want;
    if (cap < g->maxT + 64.0)
        die("the GPU (%s) has %.2f GiB free: not enough scratch for one sequence of %d tokens (use a smaller model)",
            prop.name, free_bytes / 1073741824.0, g->maxT);
    g->cap = (size_t)cap;
    if (gen_rows > cap) gen_rows = cap;  // a decode step's B tokens go through the scratch
    kv_alloc(&g->gen, g, (int)gen_rows, cache_len, "generation");
    const size_t n = g->cap, C = (size_t)g->C;
    struct { void **p; size_t bytes; } bufs[] = {
        {(void **)&g->x, n * C * 4}, {(void **)&g->ln, n * C * 4}, {(void **)&g->qkv, n * 3 * C * 4},
        {(void **)&g->atty, n * C * 4}, {(void **)&g->proj, n * C * 4}, {(void **)&g->fch, n * 4 * C * 4},
        {(void **)&g->mean, n * 4}, {(void **)&g->rstd, n * 4}, {(void **)&g->lse, n * g->NH * 4},
        {(void **)&g->sel, n * C * 4}, {(void **)&g->tokens, n * 4}, {(void **)&g->positions, n * 4},
        {(void **)&g->idx, n * 4}, {(void **)&g->targets, n * 4}, {(void **)&g->argmax, n * 4},
        {(void **)&g->margin, n * 4}, {(void **)&g->nll, n * 4}, {(void **)&g->gen_base, (size_t)g->gen.rows * 4},
        {(void **)&g->gen_len, (size_t)g->gen.rows * 4}, {(void **)&g->gen_taint, (size_t)g->gen.rows * 4},
    };
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        if (cudaMalloc(bufs[i].p, bufs[i].bytes) != cudaSuccess)
            die("out of GPU memory for the evaluator's scratch (%zu tokens; free %.2f GiB of %.2f GiB on %s)", n,
                free_bytes / 1073741824.0, total_bytes / 1073741824.0, prop.name);

    // one token through the model: loads the kernels and cuBLASLt's state before anything is timed
    int zero = 0;
    upload_inputs(g, &zero, &zero, 1);
    gpu_forward(g, 1, 1, NULL, 0, 0, NULL, 0, -1);
    gpu_outputs(g, 1, NULL, NULL, 0, NULL, NULL, NULL);

    EvalBackend *b = (EvalBackend *)calloc_or_die(1, sizeof *b);
    b->name = "cuda";
    snprintf(b->device, sizeof b->device, "%.200s (compute capability %d.%d)", prop.name, prop.major, prop.minor);
    b->precision = g->tf32 ? "fp32 decisions (TF32 matmuls for the ID probe and generation, near ties rerun in fp32)" : "fp32";
    b->generation_batch = g->gen.rows;
    b->teacher_batch = cu_teacher_batch;
    b->teacher_forced = cu_teacher_forced;
    b->score_last = cu_score_last;
    b->greedy_generate = cu_greedy_generate;
    b->score_continuations = cu_score_continuations;
    b->free = cu_free;
    b->impl = g;
    return b;
}
