#include "gpt2_infer.h"
#include "layers_cpu.h"
#include "matmul_cpu.h"
#include "utils.h"

#include <math.h>
#include <omp.h>
#include <string.h>

void gpt2_infer_init(GPT2Infer *g, const GPT2 *model, int max_batch, int max_len) {
    memset(g, 0, sizeof *g);
    const GPT2Config *c = &model->config;
    if (max_batch < 1 || max_len < 1) die("gpt2_infer_init: batch %d and length %d must be positive", max_batch, max_len);
    g->model = model;
    g->max_batch = max_batch;
    g->max_len = max_len;
    size_t cache = (size_t)c->num_layers * max_batch * max_len * c->channels;
    g->key_cache = malloc_or_die(cache * sizeof(float));
    g->value_cache = malloc_or_die(cache * sizeof(float));
    g->att_scores = malloc_or_die((size_t)omp_get_max_threads() * max_len * sizeof(float));
    g->last_ln = malloc_or_die((size_t)max_batch * c->channels * sizeof(float));
    g->logits = malloc_or_die((size_t)max_batch * c->padded_vocab_size * sizeof(float));
    g->logits_rows = (size_t)max_batch;
}

static void ensure_chunk_capacity(GPT2Infer *g, size_t rows) {
    if (rows <= g->chunk_capacity) return;
    size_t C = (size_t)g->model->config.channels;
    free(g->x); free(g->ln); free(g->qkv); free(g->atty); free(g->proj); free(g->fch);
    free(g->ln_mean); free(g->ln_rstd);
    g->ln_mean = malloc_or_die(rows * sizeof(float));
    g->ln_rstd = malloc_or_die(rows * sizeof(float));
    g->x = malloc_or_die(rows * C * sizeof(float));
    g->ln = malloc_or_die(rows * C * sizeof(float));
    g->qkv = malloc_or_die(rows * 3 * C * sizeof(float));
    g->atty = malloc_or_die(rows * C * sizeof(float));
    g->proj = malloc_or_die(rows * C * sizeof(float));
    g->fch = malloc_or_die(rows * 4 * C * sizeof(float));
    g->chunk_capacity = rows;
}

void gpt2_infer_free(GPT2Infer *g) {
    free(g->key_cache); free(g->value_cache); free(g->att_scores); free(g->last_ln); free(g->logits);
    free(g->x); free(g->ln); free(g->qkv); free(g->atty); free(g->proj); free(g->fch);
    free(g->ln_mean); free(g->ln_rstd);
    if (g->packed && !g->packed_borrowed) {
        for (int i = 0; i <= g->model->config.num_layers * GPT2_PACKED_PER_LAYER; i++) matmul_packed_free(g->packed[i]);
        free(g->packed);
    }
    memset(g, 0, sizeof *g);
}

void gpt2_infer_share_packed(GPT2Infer *dst, GPT2Infer *src) {
    if (dst->model != src->model) die("gpt2_infer_share_packed: two different models (internal error)");
    gpt2_infer_pack_weights(src);
    if (dst->packed && !dst->packed_borrowed) die("gpt2_infer_share_packed: the target packed its own (internal error)");
    dst->packed = src->packed;
    dst->packed_borrowed = 1;
}

void gpt2_infer_pack_weights(GPT2Infer *g) {
    if (g->packed) return;
    const GPT2Config *cfg = &g->model->config;
    const GPT2Params *p = &g->model->params;
    const int C = cfg->channels, L = cfg->num_layers;
    g->packed = malloc_or_die(((size_t)L * GPT2_PACKED_PER_LAYER + 1) * sizeof *g->packed);
    for (int l = 0; l < L; l++) {
        GPT2_PACKED(g, l, GPT2_PACKED_QKV) = matmul_pack_weight(p->qkvw + (size_t)l * 3 * C * C, C, 3 * C);
        GPT2_PACKED(g, l, GPT2_PACKED_ATTPROJ) = matmul_pack_weight(p->attprojw + (size_t)l * C * C, C, C);
        GPT2_PACKED(g, l, GPT2_PACKED_FC) = matmul_pack_weight(p->fcw + (size_t)l * 4 * C * C, C, 4 * C);
        GPT2_PACKED(g, l, GPT2_PACKED_FCPROJ) = matmul_pack_weight(p->fcprojw + (size_t)l * C * 4 * C, 4 * C, C);
    }
    GPT2_PACKED_WTE(g) = matmul_pack_weight(p->wte, C, cfg->padded_vocab_size);
}

void gpt2_argmax_rows(int *out, float *margin, const float *logits, size_t N, int V, int Vp) {
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < N; i++) {
        const float *row = logits + i * (size_t)Vp;
        int best = 0;
        float top = -INFINITY, second = -INFINITY;  // one pass; an equal later value is the runner-up
        for (int v = 0; v < V; v++) {
            if (row[v] > top) { second = top; top = row[v]; best = v; }
            else if (row[v] > second) second = row[v];
        }
        out[i] = best;
        if (margin) margin[i] = (row[best] - second) / fmaxf(1.0f, fabsf(row[best]));
    }
}

int gpt2_argmax_vocab(const float *logits, int V) {
    // a NaN never wins (not even at id 0), nothing above -inf gives 0: the GPU's logit_stats rule
    int best = 0;
    float top = -INFINITY;
    for (int v = 0; v < V; v++)
        if (logits[v] > top) { top = logits[v]; best = v; }
    return best;
}

// Runs S new tokens per row (tokens, positions: (B, S)) through the model, on top of past[b]
// cached tokens of row b (past NULL: none), in cache rows row0 .. row0+B-1; appends their keys and
// values to the cache and leaves the logits of each row's last n_last new tokens in g->logits
// (B, n_last, Vp). Every row's sums run in the same order whatever the other rows are, so a row's
// result does not depend on the batch it is in.
static void forward_chunk(GPT2Infer *g, const int *tokens, const int *positions, int B, int S, const int *past, int row0,
                          int n_last) {
    const GPT2 *m = g->model;
    const GPT2Config *cfg = &m->config;
    const int C = cfg->channels, L = cfg->num_layers, NH = cfg->num_heads, hs = C / NH;
    const int V = cfg->vocab_size, Vp = cfg->padded_vocab_size, maxT = cfg->max_seq_len;
    const int BS = B * S;
    if (row0 < 0 || row0 + B > g->max_batch) die("generation: cache rows %d..%d, the cache holds %d (internal error)", row0, row0 + B - 1, g->max_batch);
    for (int b = 0; b < B; b++)
        if ((past ? past[b] : 0) + S > g->max_len)
            die("generation: %d cached + %d new tokens exceed the cache length %d (internal error)", past ? past[b] : 0, S, g->max_len);
    ensure_chunk_capacity(g, (size_t)BS);
    gpt2_infer_pack_weights(g);
    const GPT2Params *p = &m->params;

    for (int i = 0; i < BS; i++) {
        if (tokens[i] < 0 || tokens[i] >= V) die("generation: token id %d is outside the vocabulary [0, %d)", tokens[i], V);
        if (positions[i] < 0 || positions[i] >= maxT)
            die("generation: position %d is outside the model's range [0, %d) (use shorter prompts or fewer new tokens)", positions[i], maxT);
    }
    encoder_forward(g->x, tokens, positions, p->wte, p->wpe, BS, C);

    const float scale = 1.0f / sqrtf((float)hs);
    for (int l = 0; l < L; l++) {
        layernorm_forward(g->ln, g->ln_mean, g->ln_rstd, g->x, p->ln1w + (size_t)l * C, p->ln1b + (size_t)l * C, BS, C);
        matmul_forward_packed(g->qkv, g->ln, GPT2_PACKED(g, l, GPT2_PACKED_QKV), p->qkvb + (size_t)l * 3 * C, BS, C, 3 * C);
        float *kc = g->key_cache + (size_t)l * g->max_batch * g->max_len * C;   // (max_batch, max_len, C)
        float *vc = g->value_cache + (size_t)l * g->max_batch * g->max_len * C;
        for (int b = 0; b < B; b++)
            for (int s = 0; s < S; s++) {
                const float *row = g->qkv + ((size_t)b * S + s) * 3 * C;
                size_t at = ((size_t)(row0 + b) * g->max_len + (past ? past[b] : 0) + s) * C;
                memcpy(kc + at, row + C, C * sizeof(float));
                memcpy(vc + at, row + 2 * C, C * sizeof(float));
            }
        // causal attention: the new token s of row b sees cached tokens 0 .. past[b]+s of its own row
        #pragma omp parallel for collapse(2) schedule(static)
        for (int bs = 0; bs < BS; bs++)
            for (int h = 0; h < NH; h++) {
                int b = bs / S, s = bs % S, n_keys = (past ? past[b] : 0) + s + 1;
                float *w = g->att_scores + (size_t)omp_get_thread_num() * g->max_len;
                const float *q = g->qkv + (size_t)bs * 3 * C + h * hs;
                const float *keys = kc + (size_t)(row0 + b) * g->max_len * C + h * hs;
                const float *values = vc + (size_t)(row0 + b) * g->max_len * C + h * hs;
                attention_query(g->atty + (size_t)bs * C + h * hs, w, q, hs, scale,
                                keys, values, C, n_keys, NULL, NULL, 0, 0);
            }
        matmul_forward_packed(g->proj, g->atty, GPT2_PACKED(g, l, GPT2_PACKED_ATTPROJ), p->attprojb + (size_t)l * C, BS, C, C);
        residual_forward(g->x, g->x, g->proj, (size_t)BS * C);
        layernorm_forward(g->ln, g->ln_mean, g->ln_rstd, g->x, p->ln2w + (size_t)l * C, p->ln2b + (size_t)l * C, BS, C);
        matmul_forward_packed(g->fch, g->ln, GPT2_PACKED(g, l, GPT2_PACKED_FC), p->fcb + (size_t)l * 4 * C, BS, C, 4 * C);
        gelu_forward(g->fch, g->fch, (size_t)BS * 4 * C);
        matmul_forward_packed(g->proj, g->fch, GPT2_PACKED(g, l, GPT2_PACKED_FCPROJ), p->fcprojb + (size_t)l * C, BS, 4 * C, C);
        residual_forward(g->x, g->x, g->proj, (size_t)BS * C);
    }
    // only the last n_last tokens of each row need logits: (B*n_last, C) -> (B*n_last, Vp), tied embedding
    const size_t rows = (size_t)B * n_last;
    if (rows > g->logits_rows) {
        free(g->logits); free(g->last_ln);
        g->logits = malloc_or_die(rows * Vp * sizeof(float));
        g->last_ln = malloc_or_die(rows * C * sizeof(float));
        g->logits_rows = rows;
    }
    for (int b = 0; b < B; b++) // proj and the LayerNorm statistics hold B*S >= B*n_last rows
        memcpy(g->proj + (size_t)b * n_last * C, g->x + ((size_t)b * S + S - n_last) * C, (size_t)n_last * C * sizeof(float));
    layernorm_forward(g->last_ln, g->ln_mean, g->ln_rstd, g->proj, p->lnfw, p->lnfb, (int)rows, C);
    matmul_forward_packed(g->logits, g->last_ln, GPT2_PACKED_WTE(g), NULL, (int)rows, C, Vp);
}

void gpt2_greedy_generate(GPT2Infer *g, const int *prompts, const int *positions, const int *lengths, int B, int P,
                          int num_new, int *out) {
    const GPT2Config *cfg = &g->model->config;
    if (B < 1 || B > g->max_batch) die("generation: batch of %d rows, the cache holds %d", B, g->max_batch);
    if (P < 1 || num_new < 1) die("generation: prompt length %d and new tokens %d must be positive", P, num_new);
    for (int b = 0; b < B; b++) {
        const int len = lengths ? lengths[b] : P;
        if (len < 1 || len > P) die("generation: row %d has a prompt of %d tokens, outside 1..%d", b, len, P);
        if (len + num_new - 1 > g->max_len)
            die("generation: %d prompt + %d new tokens exceed the cache length %d", len, num_new, g->max_len);
    }
    const int V = cfg->vocab_size, Vp = cfg->padded_vocab_size;
    int *tokens = malloc_or_die((size_t)B * P * sizeof(int)), *token_positions = malloc_or_die((size_t)B * P * sizeof(int));
    int *next_positions = malloc_or_die((size_t)B * sizeof(int)), *past = malloc_or_die((size_t)B * sizeof(int));
    // prefill: each run of consecutive rows with one prompt length is one pass, (rows, len) packed
    for (int b0 = 0, b1; b0 < B; b0 = b1) {
        const int len = lengths ? lengths[b0] : P;
        for (b1 = b0 + 1; b1 < B && (lengths ? lengths[b1] : P) == len; b1++) {}
        for (int b = b0; b < b1; b++)
            for (int j = 0; j < len; j++) {
                tokens[(size_t)(b - b0) * len + j] = prompts[(size_t)b * P + j];
                token_positions[(size_t)(b - b0) * len + j] = positions ? positions[(size_t)b * P + j] : j;
            }
        forward_chunk(g, tokens, token_positions, b1 - b0, len, NULL, b0, 1);
        for (int b = b0; b < b1; b++) {
            out[(size_t)b * num_new] = gpt2_argmax_vocab(g->logits + (size_t)(b - b0) * Vp, V);
            next_positions[b] = token_positions[(size_t)(b - b0) * len + len - 1];
            past[b] = len - 1;  // one less than the tokens cached: the step below adds 1 first
        }
    }
    // decode: one token per row and step, each row at its own cache length
    for (int i = 1; i < num_new; i++) {
        for (int b = 0; b < B; b++) {
            tokens[b] = out[(size_t)b * num_new + i - 1];
            next_positions[b] += 1;
            past[b] += 1;
        }
        forward_chunk(g, tokens, next_positions, B, 1, past, 0, 1);
        for (int b = 0; b < B; b++) out[(size_t)b * num_new + i] = gpt2_argmax_vocab(g->logits + (size_t)b * Vp, V);
    }
    free(tokens); free(token_positions); free(next_positions); free(past);
}

void gpt2_score_last(GPT2Infer *g, const int *tokens, const int *positions, int B, int T, int n_last, int *argmax_out,
                     float *margin_out) {
    const GPT2Config *cfg = &g->model->config;
    if (B < 1 || B > g->max_batch) die("scoring: batch of %d rows, the cache holds %d", B, g->max_batch);
    if (T < 1 || T > g->max_len) die("scoring: %d tokens per row, the cache holds %d", T, g->max_len);
    if (n_last < 1 || n_last > T) die("scoring: %d last positions of %d", n_last, T);
    forward_chunk(g, tokens, positions, B, T, NULL, 0, n_last);
    gpt2_argmax_rows(argmax_out, margin_out, g->logits, (size_t)B * n_last, cfg->vocab_size, cfg->padded_vocab_size);
}
