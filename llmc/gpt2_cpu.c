// GPT-2 forward and backward passes on the CPU, built from layers_cpu.c and matmul_cpu.c.
#include <math.h>
#include <omp.h>
#include <string.h>

#include "gpt2.h"
#include "layers_cpu.h"
#include "matmul_cpu.h"
#include "utils.h"

static float *alloc_aligned_or_die(size_t n, const char *what) {
    void *p = NULL;
    if (posix_memalign(&p, 64, (n ? n : 1) * sizeof(float)) != 0)
        die("out of memory allocating %zu MiB for %s (use a smaller batch size or sequence length)",
            n * sizeof(float) >> 20, what);
    return p;
}

// Carve the activation block for this B, T (returns the floats needed; assigns pointers when base != NULL).
static size_t layout_acts(GPT2Acts *a, float *base, const GPT2Config *c, int B, int T, int with_probs) {
    size_t L = c->num_layers, C = c->channels, NH = c->num_heads, Vp = c->padded_vocab_size;
    size_t BT = (size_t)B * T;
    size_t sizes[GPT2_NUM_ACT_TENSORS] = {
        BT * C,                       // encoded
        L * BT * C, L * BT, L * BT,   // ln1, ln1_mean, ln1_rstd
        L * BT * 3 * C,               // qkv
        L * BT * C,                   // atty
        L * B * NH * T * T,           // att
        L * BT * C,                   // residual2
        L * BT * C, L * BT, L * BT,   // ln2, ln2_mean, ln2_rstd
        L * BT * 4 * C, L * BT * 4 * C,  // fch, fch_gelu
        L * BT * C,                   // residual3
        BT * C, BT, BT,               // lnf, lnf_mean, lnf_rstd
        BT * Vp,                      // logits
        with_probs ? BT * Vp : 0,     // probs
        BT,                           // losses
    };
    float **ptrs[GPT2_NUM_ACT_TENSORS] = {
        &a->encoded, &a->ln1, &a->ln1_mean, &a->ln1_rstd, &a->qkv, &a->atty, &a->att, &a->residual2,
        &a->ln2, &a->ln2_mean, &a->ln2_rstd, &a->fch, &a->fch_gelu, &a->residual3, &a->lnf,
        &a->lnf_mean, &a->lnf_rstd, &a->logits, &a->probs, &a->losses};
    size_t total = 0;
    for (int i = 0; i < GPT2_NUM_ACT_TENSORS; i++) {
        // Keep every tensor 64-byte aligned.
        size_t padded = (sizes[i] + 15) & ~(size_t)15;
        if (base) *ptrs[i] = sizes[i] ? base + total : NULL;
        total += padded;
    }
    return total;
}

// Backward scratch: one layer's worth (layers are processed one at a time), reusing GPT2Acts fields:
//   residual3 / residual2: two (B,T,C) residual-stream grads used in turn; ln1: (B,T,C) grad of a
//   LayerNorm output; qkv: (B,T,3C); atty: (B,T,C); fch, fch_gelu: (B,T,4C); logits: (B,T,Vp).
static size_t layout_grad_acts(GPT2Acts *g, float *base, const GPT2Config *c, int B, int T) {
    size_t C = c->channels, Vp = c->padded_vocab_size, BT = (size_t)B * T;
    memset(g, 0, sizeof(*g));
    size_t sizes[8] = {BT * C, BT * C, BT * C, BT * 3 * C, BT * C, BT * 4 * C, BT * 4 * C, BT * Vp};
    float **ptrs[8] = {&g->residual3, &g->residual2, &g->ln1, &g->qkv, &g->atty, &g->fch, &g->fch_gelu, &g->logits};
    size_t total = 0;
    for (int i = 0; i < 8; i++) {
        if (base) *ptrs[i] = base + total;
        total += (sizes[i] + 15) & ~(size_t)15;
    }
    return total;
}

static void ensure_io_capacity(GPT2 *m, size_t BT) {
    if (BT <= m->io_capacity) return;
    free(m->inputs);
    free(m->positions);
    free(m->targets);
    m->inputs = malloc_or_die(BT * sizeof(int));
    m->positions = malloc_or_die(BT * sizeof(int));
    m->targets = malloc_or_die(BT * sizeof(int));
    m->io_capacity = BT;
}

void gpt2_forward_positions(GPT2 *m, const int *inputs, const int *positions, const int *targets,
                            int B, int T) {
    const GPT2Config *c = &m->config;
    if (!m->params_memory) die("gpt2_forward: the model is not initialised (load a checkpoint or init it first)");
    if (B < 1 || T < 1) die("gpt2_forward: batch size %d and sequence length %d must be positive", B, T);
    if (T > c->max_seq_len)
        die("sequence length %d exceeds the model's max_seq_len %d (use a shorter sequence length)", T, c->max_seq_len);
    size_t L = c->num_layers, C = c->channels, NH = c->num_heads, Vp = c->padded_vocab_size;
    int V = c->vocab_size;
    size_t BT = (size_t)B * T;

    // Validate ids up front: a bad id would read outside the embedding tables.
    ensure_io_capacity(m, BT);
    for (size_t i = 0; i < BT; i++) {
        if (inputs[i] < 0 || inputs[i] >= V)
            die("input token id %d (batch row %zu, position %zu) is outside the vocabulary 0..%d (the data does not match this model)",
                inputs[i], i / T, i % T, V - 1);
        int p = positions ? positions[i] : (int)(i % T);
        if (p < 0 || p >= c->max_seq_len)
            die("position %d (batch row %zu, index %zu) is outside 0..%d (positions must be below max_seq_len)",
                p, i / T, i % T, c->max_seq_len - 1);
        if (targets && targets[i] >= V)
            die("target token id %d (batch row %zu, position %zu) is outside the vocabulary 0..%d (the data does not match this model)",
                targets[i], i / T, i % T, V - 1);
        m->inputs[i] = inputs[i];
        m->positions[i] = p;
        if (targets) m->targets[i] = targets[i];
    }

    size_t need = layout_acts(&m->acts, NULL, c, B, T, targets != NULL);
    if (need > m->acts_capacity) {
        free(m->acts_memory);
        m->acts_memory = alloc_aligned_or_die(need, "activations");
        m->acts_capacity = need;
    }
    layout_acts(&m->acts, m->acts_memory, c, B, T, targets != NULL);
    m->batch_size = B;
    m->seq_len = T;
    m->logits = m->acts.logits;
    m->losses = m->acts.losses;

    const GPT2Params *p = &m->params;
    GPT2Acts *a = &m->acts;
    encoder_forward(a->encoded, m->inputs, m->positions, p->wte, p->wpe, (int)BT, (int)C);
    for (size_t l = 0; l < L; l++) {
        const float *residual = l == 0 ? a->encoded : a->residual3 + (l - 1) * BT * C;
        // This layer's weights.
        const float *ln1w = p->ln1w + l * C, *ln1b = p->ln1b + l * C;
        const float *qkvw = p->qkvw + l * 3 * C * C, *qkvb = p->qkvb + l * 3 * C;
        const float *attprojw = p->attprojw + l * C * C, *attprojb = p->attprojb + l * C;
        const float *ln2w = p->ln2w + l * C, *ln2b = p->ln2b + l * C;
        const float *fcw = p->fcw + l * 4 * C * C, *fcb = p->fcb + l * 4 * C;
        const float *fcprojw = p->fcprojw + l * C * 4 * C, *fcprojb = p->fcprojb + l * C;
        // This layer's activations.
        float *ln1 = a->ln1 + l * BT * C, *ln1_mean = a->ln1_mean + l * BT, *ln1_rstd = a->ln1_rstd + l * BT;
        float *qkv = a->qkv + l * BT * 3 * C, *atty = a->atty + l * BT * C;
        float *att = a->att + l * B * NH * T * T;
        float *residual2 = a->residual2 + l * BT * C;
        float *ln2 = a->ln2 + l * BT * C, *ln2_mean = a->ln2_mean + l * BT, *ln2_rstd = a->ln2_rstd + l * BT;
        float *fch = a->fch + l * BT * 4 * C, *fch_gelu = a->fch_gelu + l * BT * 4 * C;
        float *residual3 = a->residual3 + l * BT * C;

        layernorm_forward(ln1, ln1_mean, ln1_rstd, residual, ln1w, ln1b, (int)BT, (int)C);
        matmul_forward(qkv, ln1, qkvw, qkvb, (int)BT, (int)C, (int)(3 * C));
        attention_forward(atty, att, qkv, B, T, (int)C, (int)NH);
        matmul_forward_residual(residual2, atty, attprojw, attprojb, residual, (int)BT, (int)C, (int)C);
        layernorm_forward(ln2, ln2_mean, ln2_rstd, residual2, ln2w, ln2b, (int)BT, (int)C);
        matmul_forward(fch, ln2, fcw, fcb, (int)BT, (int)C, (int)(4 * C));
        gelu_forward(fch_gelu, fch, BT * 4 * C);
        matmul_forward_residual(residual3, fch_gelu, fcprojw, fcprojb, residual2, (int)BT, (int)(4 * C), (int)C);
    }
    const float *last = a->residual3 + (L - 1) * BT * C;
    layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd, last, p->lnfw, p->lnfb, (int)BT, (int)C);
    // Tied embeddings: the classifier is wte (Vp, C); padded rows give (unused) logits too.
    matmul_forward(a->logits, a->lnf, p->wte, NULL, (int)BT, (int)C, (int)Vp);

    if (targets) {
        m->num_loss_tokens = crossentropy_softmax_forward(a->probs, a->losses, a->logits, m->targets,
                                                          (int)BT, V, (int)Vp);
        double sum = 0.0;
        for (size_t i = 0; i < BT; i++) sum += a->losses[i];
        m->mean_loss = m->num_loss_tokens > 0 ? (float)(sum / m->num_loss_tokens) : 0.0f;
    } else {
        m->num_loss_tokens = 0;
        m->mean_loss = -1.0f;
    }
    m->has_targets = targets != NULL;
}

void gpt2_forward(GPT2 *m, const int *inputs, const int *targets, int B, int T) {
    gpt2_forward_positions(m, inputs, NULL, targets, B, T);
}

static void ensure_grads(GPT2 *m) {
    if (m->grads_memory) return;
    m->grads_memory = alloc_aligned_or_die(m->num_parameters, "gradients");
    memset(m->grads_memory, 0, m->num_parameters * sizeof(float));
    float *base = m->grads_memory;
    float **ptrs[GPT2_NUM_PARAM_TENSORS] = {
        &m->grads.wte, &m->grads.wpe, &m->grads.ln1w, &m->grads.ln1b, &m->grads.qkvw, &m->grads.qkvb,
        &m->grads.attprojw, &m->grads.attprojb, &m->grads.ln2w, &m->grads.ln2b, &m->grads.fcw,
        &m->grads.fcb, &m->grads.fcprojw, &m->grads.fcprojb, &m->grads.lnfw, &m->grads.lnfb};
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) {
        *ptrs[i] = base;
        base += m->param_sizes[i];
    }
}

void gpt2_zero_grad(GPT2 *m) {
    // Lazy: the next backward writes every gradient instead of adding to it, which saves a pass
    // over all parameters (and the read in every weight-gradient GEMM).
    ensure_grads(m);
    m->grads_pending_zero = 1;
}

void gpt2_backward(GPT2 *m, float loss_scale) {
    if (!m->has_targets)
        die("gpt2_backward: the last forward pass had no targets (call gpt2_forward with targets first)");
    ensure_grads(m);
    const GPT2Config *c = &m->config;
    int B = m->batch_size, T = m->seq_len;
    size_t L = c->num_layers, C = c->channels, NH = c->num_heads, Vp = c->padded_vocab_size;
    size_t BT = (size_t)B * T;
    size_t need = layout_grad_acts(&m->grads_acts, NULL, c, B, T);
    if (need > m->grads_acts_capacity) {
        free(m->grads_acts_memory);
        m->grads_acts_memory = alloc_aligned_or_die(need, "activation gradients");
        m->grads_acts_capacity = need;
    }
    layout_grad_acts(&m->grads_acts, m->grads_acts_memory, c, B, T);
    const GPT2Params *p = &m->params;
    GPT2Params *g = &m->grads;
    const GPT2Acts *a = &m->acts;
    GPT2Acts *ga = &m->grads_acts;
    float *dres = ga->residual3, *dres_other = ga->residual2;  // swapped as we go down
    // After zero_grad the first backward overwrites the gradients. Every tensor is fully written
    // below except wpe (only the positions used get rows), which is cleared here.
    int acc = !m->grads_pending_zero;
    if (!acc) memset(g->wpe, 0, m->param_sizes[GPT2_WPE] * sizeof(float));
    float *dln = ga->ln1;

    // d(loss_scale * mean_loss) / d(loss_i) = loss_scale / counted tokens.
    float dloss = m->num_loss_tokens > 0 ? loss_scale / m->num_loss_tokens : 0.0f;
    crossentropy_softmax_backward(ga->logits, a->probs, m->targets, dloss, (int)BT, c->vocab_size, (int)Vp);
    matmul_backward(dln, g->wte, NULL, ga->logits, a->lnf, p->wte, (int)BT, (int)C, (int)Vp, acc);
    layernorm_backward(dres, NULL, g->lnfw, g->lnfb, dln, a->residual3 + (L - 1) * BT * C, p->lnfw,
                       a->lnf_mean, a->lnf_rstd, (int)BT, (int)C, acc);

    for (size_t l = L; l-- > 0;) {  // top layer first
        const float *residual = l == 0 ? a->encoded : a->residual3 + (l - 1) * BT * C;
        const float *ln1w = p->ln1w + l * C, *qkvw = p->qkvw + l * 3 * C * C;
        const float *attprojw = p->attprojw + l * C * C, *ln2w = p->ln2w + l * C;
        const float *fcw = p->fcw + l * 4 * C * C, *fcprojw = p->fcprojw + l * C * 4 * C;
        const float *ln1 = a->ln1 + l * BT * C, *ln1_mean = a->ln1_mean + l * BT, *ln1_rstd = a->ln1_rstd + l * BT;
        const float *qkv = a->qkv + l * BT * 3 * C, *atty = a->atty + l * BT * C;
        const float *att = a->att + l * B * NH * T * T, *residual2 = a->residual2 + l * BT * C;
        const float *ln2 = a->ln2 + l * BT * C, *ln2_mean = a->ln2_mean + l * BT, *ln2_rstd = a->ln2_rstd + l * BT;
        const float *fch = a->fch + l * BT * 4 * C, *fch_gelu = a->fch_gelu + l * BT * 4 * C;

        // dres holds d loss / d residual3[l]. MLP branch: residual3 = residual2 + fcproj(gelu(fc(ln2))).
        matmul_backward(ga->fch_gelu, g->fcprojw + l * C * 4 * C, g->fcprojb + l * C, dres, fch_gelu,
                        fcprojw, (int)BT, (int)(4 * C), (int)C, acc);
        gelu_backward(ga->fch, fch, ga->fch_gelu, BT * 4 * C);
        matmul_backward(dln, g->fcw + l * 4 * C * C, g->fcb + l * 4 * C, ga->fch, ln2, fcw, (int)BT,
                        (int)C, (int)(4 * C), acc);
        layernorm_backward(dres_other, dres, g->ln2w + l * C, g->ln2b + l * C, dln, residual2, ln2w,
                           ln2_mean, ln2_rstd, (int)BT, (int)C, acc);
        // dres_other = d loss / d residual2[l]. Attention branch: residual2 = residual + attproj(attn(qkv(ln1))).
        matmul_backward(ga->atty, g->attprojw + l * C * C, g->attprojb + l * C, dres_other, atty,
                        attprojw, (int)BT, (int)C, (int)C, acc);
        attention_backward(ga->qkv, ga->atty, qkv, att, B, T, (int)C, (int)NH);
        matmul_backward(dln, g->qkvw + l * 3 * C * C, g->qkvb + l * 3 * C, ga->qkv, ln1, qkvw, (int)BT,
                        (int)C, (int)(3 * C), acc);
        layernorm_backward(dres, dres_other, g->ln1w + l * C, g->ln1b + l * C, dln, residual, ln1w,
                           ln1_mean, ln1_rstd, (int)BT, (int)C, acc);
        // dres = d loss / d (this layer's input).
    }
    encoder_backward(g->wte, g->wpe, dres, m->inputs, m->positions, (int)BT, (int)C);
    m->grads_pending_zero = 0;
}

double gpt2_grad_sumsq(const GPT2 *m, size_t first, size_t count) {
    if (first + count > m->num_parameters || first + count < first)
        die("gpt2_grad_sumsq: gradients [%zu, %zu + %zu) are outside the model's %zu", first, first, count, m->num_parameters);
    if (!m->grads_memory || m->grads_pending_zero) return 0.0;
    // Fixed chunks summed in order: the result does not depend on the thread count.
    enum { CHUNKS = 256 };
    double partial[CHUNKS];
    const float *g = m->grads_memory + first;
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < CHUNKS; ch++) {
        size_t lo = count * ch / CHUNKS, hi = count * (ch + 1) / CHUNKS;
        double s = 0.0;
#pragma omp simd reduction(+ : s)
        for (size_t i = lo; i < hi; i++) s += (double)g[i] * g[i];
        partial[ch] = s;
    }
    double total = 0.0;
    for (int ch = 0; ch < CHUNKS; ch++) total += partial[ch];
    return total;
}

float gpt2_grad_norm(const GPT2 *m) { return (float)sqrt(gpt2_grad_sumsq(m, 0, m->num_parameters)); }
