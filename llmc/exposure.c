#include "exposure.h"
#include "layers_cpu.h"
#include "matmul_cpu.h"
#include "stats.h"
#include "utils.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------------------------------------
// Candidate sets

void candidate_set_init(CandidateSet *c, int num_candidates, uint64_t seed) {
    if (num_candidates < 2 || num_candidates > EXPOSURE_ID_SPACE)
        die("exposure: %d candidates; use 2 to %d", num_candidates, EXPOSURE_ID_SPACE);
    c->num_candidates = num_candidates;
    for (int i = 0; i < EXPOSURE_ID_SPACE; i++) c->order[i] = i;
    // partial Fisher-Yates: only the first num_candidates entries are ever read
    StatsRng rng;
    stats_rng_seed(&rng, seed);
    for (int i = 0; i < num_candidates && i < EXPOSURE_ID_SPACE - 1; i++) {
        int j = i + (int)(stats_rng_next(&rng) % (uint64_t)(EXPOSURE_ID_SPACE - i));
        int t = c->order[i]; c->order[i] = c->order[j]; c->order[j] = t;
    }
}

void candidate_set_others(const CandidateSet *c, int true_number, int *out) {
    int n = 0;
    for (int i = 0; n < c->num_candidates - 1; i++)
        if (c->order[i] != true_number) out[n++] = c->order[i];
}

// ---------------------------------------------------------------------------------------------
// Rank, exposure, skew-normal

size_t exposure_rank(double true_score, const double *others, size_t n) {
    size_t rank = 1;
    for (size_t i = 0; i < n; i++) rank += others[i] >= true_score; // NaN compares false
    return rank;
}

double exposure_from_rank(size_t rank, size_t num_candidates) {
    return log2((double)num_candidates) - log2((double)rank);
}

SkewNormal skewnormal_fit(const double *x, size_t n) {
    SkewNormal d = {0.0, 0.0, 0.0};
    double sum = 0.0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) if (!isnan(x[i])) { sum += x[i]; m++; }
    if (m < 3) return d;
    double mean = sum / (double)m, m2 = 0.0, m3 = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i])) continue;
        double dev = x[i] - mean;
        m2 += dev * dev;
        m3 += dev * dev * dev;
    }
    m2 /= (double)m;
    m3 /= (double)m;
    d.location = mean;
    if (!(m2 > 0.0)) return d;
    double skew = m3 / pow(m2, 1.5);
    if (skew > 0.99) skew = 0.99;
    if (skew < -0.99) skew = -0.99;
    // invert skewness(delta) = (4 - pi)/2 (delta sqrt(2/pi))^3 / (1 - 2 delta^2/pi)^1.5
    double g23 = pow(fabs(skew), 2.0 / 3.0);
    double delta = sqrt(M_PI / 2.0 * g23 / (g23 + pow((4.0 - M_PI) / 2.0, 2.0 / 3.0)));
    if (skew < 0) delta = -delta;
    d.shape = delta / sqrt(1.0 - delta * delta);
    d.scale = sqrt(m2 / (1.0 - 2.0 * delta * delta / M_PI));
    d.location = mean - d.scale * delta * sqrt(2.0 / M_PI);
    return d;
}

// log Phi(u), the standard normal CDF, without underflow for very negative u.
static double log_normal_cdf(double u) {
    if (u > -30.0) return log(0.5 * erfc(-u / M_SQRT2));
    double u2 = u * u; // asymptotic series of the Mills ratio
    return -0.5 * u2 - log(-u) - 0.5 * log(2.0 * M_PI) + log1p(-1.0 / u2 + 3.0 / (u2 * u2));
}

// log of the standard skew-normal density 2 phi(t) Phi(alpha t).
static double log_density(double t, double alpha) {
    return M_LN2 - 0.5 * t * t - 0.5 * log(2.0 * M_PI) + log_normal_cdf(alpha * t);
}

static double log_add(double a, double b) {
    if (a == -INFINITY) return b;
    if (b == -INFINITY) return a;
    double hi = a > b ? a : b, lo = a > b ? b : a;
    return hi + log1p(exp(lo - hi));
}

double skewnormal_log_sf(SkewNormal d, double x) {
    const double alpha = d.shape;
    double z = (x - d.location) / d.scale;
    // the mass below -40 standard units is below e^-800: start there at the lowest
    double t = z < -40.0 ? -40.0 : z;
    // Simpson's rule on consecutive intervals whose width doubles from tiny (to resolve the steep
    // start of a far tail) up to 0.05 (to resolve the body); the log density is concave, so once
    // it falls 60 nats below its maximum while decreasing, the rest is negligible.
    double width = 1e-4 / (1.0 + fabs(t)), total = -INFINITY, peak = -INFINITY;
    enum { SUB = 16 };
    for (int interval = 0; interval < 100000; interval++) {
        double h[SUB + 1], top = -INFINITY, step = width / SUB;
        for (int i = 0; i <= SUB; i++) {
            h[i] = log_density(t + i * step, alpha);
            if (h[i] > top) top = h[i];
        }
        double s = 0.0;
        for (int i = 0; i <= SUB; i++) s += (i == 0 || i == SUB ? 1.0 : (i % 2 ? 4.0 : 2.0)) * exp(h[i] - top);
        total = log_add(total, top + log(s * step / 3.0));
        if (top > peak) peak = top;
        if (h[SUB] < h[0] && h[SUB] < peak - 60.0) break;
        t += width;
        width = width * 2.0 < 0.05 ? width * 2.0 : 0.05;
    }
    return total > 0.0 ? 0.0 : total;
}

double exposure_estimate(SkewNormal d, double true_score) {
    if (!(d.scale > 0.0) || isnan(true_score)) return NAN;
    return -skewnormal_log_sf(d, true_score) / M_LN2;
}

// ---------------------------------------------------------------------------------------------
// Scoring continuations of a cached context

// Log-probability of target under one row of logits (the first V of Vp are real). This softmax
// over the vocabulary per scored token is, with the logits matmul, most of the cost of scoring
// candidates, so the sum of exponentials runs 16 lanes at a time in GCC/Clang vector types
// (llmc/fast_math.h's fast_expf, which does not vectorise inside a reduction: its bit cast goes
// through memory). Accuracy: ~1e-7 relative per term, float sums of 16 lanes, double at the end.
typedef float f32x16 __attribute__((vector_size(64)));
typedef int32_t i32x16 __attribute__((vector_size(64)));

// e^x for x <= 0 (logits minus their maximum): x = n ln2 + r, degree-7 polynomial for e^r,
// 2^n through the exponent bits; below -87 the result stays at e^-87 (negligible in the sum).
// In place through a pointer: vector arguments and returns would depend on the build's ISA ABI.
static inline void exp_nonpositive16(f32x16 *value) {
    f32x16 x = *value;
    const f32x16 floor_value = (f32x16){0} - 87.0f;
    i32x16 low = x < floor_value;  // -1 in the lanes where true
    x = (f32x16)(((i32x16)x & ~low) | ((i32x16)floor_value & low));
    i32x16 ni = __builtin_convertvector(x * 1.4426950408889634f - 0.5f, i32x16); // y <= 0: truncation of y - 0.5 rounds
    f32x16 n = __builtin_convertvector(ni, f32x16);
    f32x16 r = x - n * 0.693145751953125f;  // ln2 split in two so n * ln2_hi is exact
    r = r - n * 1.428606765330187e-06f;
    f32x16 p = r * (1.0f / 5040.0f) + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    *value = p * (f32x16)((ni + 127) << 23);
}

static double log_prob(const float *logits, int V, int target) {
    float maxv = logits[0];
    #pragma omp simd reduction(max:maxv)
    for (int v = 1; v < V; v++) maxv = logits[v] > maxv ? logits[v] : maxv;
    f32x16 lanes = {0};
    int v = 0;
    for (; v + 16 <= V; v += 16) {
        f32x16 x;
        memcpy(&x, logits + v, sizeof x);
        x -= maxv;
        exp_nonpositive16(&x);
        lanes += x;
    }
    double sum = 0.0;
    for (int j = 0; j < 16; j++) sum += lanes[j];
    for (; v < V; v++) sum += exp((double)(logits[v] - maxv));
    return (double)(logits[target] - maxv) - log(sum);
}

void continuation_scorer_init(ContinuationScorer *s, const GPT2 *model, int max_len) {
    memset(s, 0, sizeof *s);
    gpt2_infer_init(&s->infer, model, 1, max_len);
}

void continuation_scorer_free(ContinuationScorer *s) {
    gpt2_infer_free(&s->infer);
    free(s->x); free(s->ln); free(s->qkv); free(s->atty); free(s->proj); free(s->fch);
    free(s->mean); free(s->rstd); free(s->logits); free(s->scores);
    memset(s, 0, sizeof *s);
}

static void scratch_ensure(ContinuationScorer *s, size_t rows, size_t max_keys, int C, int Vp) {
    if (rows > s->rows) {
        free(s->x); free(s->ln); free(s->qkv); free(s->atty); free(s->proj); free(s->fch);
        free(s->mean); free(s->rstd); free(s->logits);
        s->x = malloc_or_die(rows * C * sizeof(float));
        s->ln = malloc_or_die(rows * C * sizeof(float));
        s->qkv = malloc_or_die(rows * 3 * C * sizeof(float));
        s->atty = malloc_or_die(rows * C * sizeof(float));
        s->proj = malloc_or_die(rows * C * sizeof(float));
        s->fch = malloc_or_die(rows * 4 * C * sizeof(float));
        s->mean = malloc_or_die(rows * sizeof(float));
        s->rstd = malloc_or_die(rows * sizeof(float));
        s->logits = malloc_or_die(rows * (size_t)Vp * sizeof(float));
        s->rows = rows;
    }
    if (max_keys > s->max_keys) {
        free(s->scores);
        s->scores = malloc_or_die((size_t)omp_get_max_threads() * max_keys * sizeof(float));
        s->max_keys = max_keys;
    }
}

// Runs tokens (M, S) at positions (M, S) on top of the `past` tokens cached in row 0 of g: token
// s of row m attends to those and to tokens 0..s of its own row (keys kept in the scratch, not
// in the cache, unless append: then M must be 1 and the keys/values go into row 0 after `past`).
// Logits are computed only for the first real[m] tokens of each row (real NULL: all S; the rest
// is padding) and left packed in s->logits: row m's token s at index row_start[m] + s, where
// row_start is the running sum of real (written by this function, M + 1 entries).
static void forward_on_prefix(ContinuationScorer *sc, const int *tokens, const int *positions,
                              int M, int S, int past, int append, const int *real, int *row_start) {
    GPT2Infer *g = &sc->infer;
    const GPT2 *m = g->model;
    const GPT2Config *cfg = &m->config;
    const int C = cfg->channels, L = cfg->num_layers, NH = cfg->num_heads, hs = C / NH, Vp = cfg->padded_vocab_size;
    const int MS = M * S;
    const GPT2Params *p = &m->params;
    scratch_ensure(sc, (size_t)MS, (size_t)past + S, C, Vp);
    gpt2_infer_pack_weights(g); // weights packed once, as for generation (bitwise the same sums)
    encoder_forward(sc->x, tokens, positions, p->wte, p->wpe, MS, C);
    const float scale = 1.0f / sqrtf((float)hs);
    for (int l = 0; l < L; l++) {
        layernorm_forward(sc->ln, sc->mean, sc->rstd, sc->x, p->ln1w + (size_t)l * C, p->ln1b + (size_t)l * C, MS, C);
        matmul_forward_packed(sc->qkv, sc->ln, GPT2_PACKED(g, l, GPT2_PACKED_QKV), p->qkvb + (size_t)l * 3 * C, MS, C, 3 * C);
        const float *kc = g->key_cache + (size_t)l * g->max_batch * g->max_len * C;   // row 0: (max_len, C)
        const float *vc = g->value_cache + (size_t)l * g->max_batch * g->max_len * C;
        #pragma omp parallel for collapse(2) schedule(static)
        for (int ms = 0; ms < MS; ms++)
            for (int h = 0; h < NH; h++) {
                const int row = ms / S, s = ms % S;
                float *w = sc->scores + (size_t)omp_get_thread_num() * sc->max_keys;
                const float *q = sc->qkv + (size_t)ms * 3 * C + h * hs;
                // keys 0 .. past-1: the shared context in the cache; then this row's own tokens 0 .. s
                const float *own = sc->qkv + (size_t)row * S * 3 * C + h * hs;
                attention_query(sc->atty + (size_t)ms * C + h * hs, w, q, hs, scale,
                                kc + h * hs, vc + h * hs, C, past, own + C, own + 2 * C, 3 * (size_t)C, s + 1);
            }
        if (append) // M == 1: the new tokens become part of the shared context
            for (int s = 0; s < S; s++) {
                const float *row = sc->qkv + (size_t)s * 3 * C;
                memcpy(g->key_cache + (size_t)l * g->max_batch * g->max_len * C + (size_t)(past + s) * C, row + C, C * sizeof(float));
                memcpy(g->value_cache + (size_t)l * g->max_batch * g->max_len * C + (size_t)(past + s) * C, row + 2 * C, C * sizeof(float));
            }
        matmul_forward_packed(sc->proj, sc->atty, GPT2_PACKED(g, l, GPT2_PACKED_ATTPROJ), p->attprojb + (size_t)l * C, MS, C, C);
        residual_forward(sc->x, sc->x, sc->proj, (size_t)MS * C);
        layernorm_forward(sc->ln, sc->mean, sc->rstd, sc->x, p->ln2w + (size_t)l * C, p->ln2b + (size_t)l * C, MS, C);
        matmul_forward_packed(sc->fch, sc->ln, GPT2_PACKED(g, l, GPT2_PACKED_FC), p->fcb + (size_t)l * 4 * C, MS, C, 4 * C);
        gelu_forward(sc->fch, sc->fch, (size_t)MS * 4 * C);
        matmul_forward_packed(sc->proj, sc->fch, GPT2_PACKED(g, l, GPT2_PACKED_FCPROJ), p->fcprojb + (size_t)l * C, MS, 4 * C, C);
        residual_forward(sc->x, sc->x, sc->proj, (size_t)MS * C);
    }
    // the logits (B*S, C) x (C, Vp) are most of the cost: only for real tokens
    row_start[0] = 0;
    for (int r = 0; r < M; r++) {
        int n = real ? real[r] : S;
        for (int t = 0; t < n; t++)
            memcpy(sc->proj + (size_t)(row_start[r] + t) * C, sc->x + ((size_t)r * S + t) * C, C * sizeof(float));
        row_start[r + 1] = row_start[r] + n;
    }
    const int packed = row_start[M];
    if (packed == 0) return;
    layernorm_forward(sc->ln, sc->mean, sc->rstd, sc->proj, p->lnfw, p->lnfb, packed, C);
    matmul_forward_packed(sc->logits, sc->ln, GPT2_PACKED_WTE(g), NULL, packed, C, Vp);
}

size_t score_continuations(ContinuationScorer *sc, const int *context, const int *positions, int P,
                           const int *const *candidates, const int *lengths, int M, int batch_size,
                           double *loglik) {
    GPT2Infer *g = &sc->infer;
    const GPT2Config *cfg = &g->model->config;
    const int V = cfg->vocab_size, Vp = cfg->padded_vocab_size, maxT = cfg->max_seq_len;
    if (M < 1 || P < 1 || batch_size < 1) die("score_continuations: %d candidates, context %d, batch %d must be positive", M, P, batch_size);
    int min_len = lengths[0], max_len = lengths[0];
    for (int i = 0; i < M; i++) {
        if (lengths[i] < 1) die("score_continuations: candidate %d is empty", i);
        if (lengths[i] < min_len) min_len = lengths[i];
        if (lengths[i] > max_len) max_len = lengths[i];
    }
    if (P + max_len > g->max_len) die("score_continuations: context %d + candidate %d tokens exceed the cache length %d", P, max_len, g->max_len);
    // shared leading tokens (at least one token of every candidate stays its own)
    int common = 0;
    while (common < min_len - 1) {
        int same = 1;
        for (int i = 1; i < M && same; i++) same = candidates[i][common] == candidates[0][common];
        if (!same) break;
        common++;
    }
    // 1. the context into row 0 (one greedy step = a prefill whose logits predict the next token)
    int unused;
    gpt2_greedy_generate(g, context, positions, NULL, 1, P, 1, &unused);
    const int first_position = positions[P - 1] + 1;
    const float *next_logits = g->logits; // logits for the first token after what is cached
    double shared = 0.0;
    int past = P;
    // 2. the shared tokens, appended to the context
    if (common > 0) {
        if (first_position + common - 1 >= maxT) { // cannot happen when at least the true candidate fits
            for (int i = 0; i < M; i++) loglik[i] = NAN;
            return (size_t)M;
        }
        shared = log_prob(next_logits, V, candidates[0][0]);
        int tokens[common], pos[common];
        for (int s = 0; s < common; s++) { tokens[s] = candidates[0][s]; pos[s] = first_position + s; }
        int row_start[2];
        forward_on_prefix(sc, tokens, pos, 1, common, past, 1, NULL, row_start);
        for (int s = 0; s + 1 < common; s++) shared += log_prob(sc->logits + (size_t)s * Vp, V, candidates[0][s + 1]);
        past += common;
        float *last = malloc_or_die((size_t)Vp * sizeof(float));
        memcpy(last, sc->logits + (size_t)(common - 1) * Vp, (size_t)Vp * sizeof(float));
        next_logits = last;
    }
    // log-probability of each candidate's first own token: one softmax for all of them
    double *first_logprob = malloc_or_die((size_t)V * sizeof(double));
    {
        float maxv = next_logits[0];
        for (int v = 1; v < V; v++) if (next_logits[v] > maxv) maxv = next_logits[v];
        double sum = 0.0;
        for (int v = 0; v < V; v++) sum += exp((double)(next_logits[v] - maxv));
        double log_sum = log(sum);
        for (int v = 0; v < V; v++) first_logprob[v] = (double)(next_logits[v] - maxv) - log_sum;
    }
    // 3. the tails: inputs are a candidate's own tokens but its last, in batches
    const int tail_position = first_position + common;
    const int S = max_len - common - 1; // inputs per row (shorter rows padded)
    size_t unscorable = 0;
    int *tokens = malloc_or_die((size_t)batch_size * (S > 0 ? S : 1) * sizeof(int));
    int *pos = malloc_or_die((size_t)batch_size * (S > 0 ? S : 1) * sizeof(int));
    int *real = malloc_or_die((size_t)batch_size * sizeof(int)), *row_start = malloc_or_die((size_t)(batch_size + 1) * sizeof(int));
    for (int start = 0; start < M; start += batch_size) {
        int rows = M - start < batch_size ? M - start : batch_size;
        for (int r = 0; r < rows; r++) {
            const int *c = candidates[start + r];
            loglik[start + r] = shared + first_logprob[c[common]];
        }
        if (S == 0) continue;
        for (int r = 0; r < rows; r++) {
            const int *c = candidates[start + r];
            int own = lengths[start + r] - common - 1;
            // inputs at positions the model lacks make the candidate unscorable: no logits for them
            real[r] = tail_position + own - 1 >= maxT ? 0 : own;
            for (int s = 0; s < S; s++) {
                // padding repeats the last real input; causal attention keeps it from the real ones
                tokens[r * S + s] = c[common + (s < own ? s : own)];
                int at = tail_position + s;
                pos[r * S + s] = at < maxT ? at : maxT - 1;
            }
        }
        forward_on_prefix(sc, tokens, pos, rows, S, past, 0, real, row_start);
        #pragma omp parallel for schedule(dynamic, 4)
        for (int r = 0; r < rows; r++) {
            const int *c = candidates[start + r];
            int own = lengths[start + r] - common - 1;
            if (own > 0 && tail_position + own - 1 >= maxT) { loglik[start + r] = NAN; continue; }
            for (int s = 0; s < own; s++)
                loglik[start + r] += log_prob(sc->logits + (size_t)(row_start[r] + s) * Vp, V, c[common + s + 1]);
        }
    }
    for (int i = 0; i < M; i++) unscorable += isnan(loglik[i]);
    if (next_logits != g->logits) free((float *)next_logits);
    free(first_logprob); free(tokens); free(pos); free(real); free(row_start);
    return unscorable;
}

// ---------------------------------------------------------------------------------------------
// One example

void identifier_tokens_init(IdentifierTokens *it, const Tokenizer *t) {
    memset(it, 0, sizeof *it);
    it->tokenizer = t;
}

const int *identifier_tokens(IdentifierTokens *it, int number, int *length) {
    if (number < 0 || number >= EXPOSURE_ID_SPACE) die("exposure: identifier number %d is not five digits", number);
    if (!it->tokens[number]) {
        char marker[32];
        int len = snprintf(marker, sizeof marker, "[SYNTHETIC_EXAMPLE_%05d]", number);
        TokenList list = {0};
        tokenizer_encode(it->tokenizer, marker, (size_t)len, &list);
        it->tokens[number] = list.ids;  // the list's buffer is kept
        it->lengths[number] = (int)list.len;
    }
    *length = it->lengths[number];
    return it->tokens[number];
}

void identifier_tokens_free(IdentifierTokens *it) {
    for (int i = 0; i < EXPOSURE_ID_SPACE; i++) free(it->tokens[i]);
    memset(it, 0, sizeof *it);
}

ExposureResult exposure_of_example(ContinuationScoreFn score, void *score_ctx, const CandidateSet *cs, IdentifierTokens *it,
                                   int true_number, const int *context, const int *positions, int P) {
    const int M = cs->num_candidates;   // the true identifier first, then the others
    int *numbers = malloc_or_die((size_t)M * sizeof(int));
    numbers[0] = true_number;
    candidate_set_others(cs, true_number, numbers + 1);
    const int **tokens = malloc_or_die((size_t)M * sizeof(int *));
    int *lengths = malloc_or_die((size_t)M * sizeof(int));
    for (int i = 0; i < M; i++) tokens[i] = identifier_tokens(it, numbers[i], &lengths[i]);
    double *loglik = malloc_or_die((size_t)M * sizeof(double));
    ExposureResult r;
    memset(&r, 0, sizeof r);
    r.unscorable = score(score_ctx, context, positions, P, tokens, lengths, M, loglik);
    r.true_loglik = loglik[0];
    r.num_candidates = (size_t)M - r.unscorable;
    if (isnan(r.true_loglik)) { // cannot happen for a context taken from a training record
        r.exposure = r.estimate = NAN;
    } else {
        r.rank = exposure_rank(r.true_loglik, loglik + 1, (size_t)M - 1);
        r.exposure = exposure_from_rank(r.rank, r.num_candidates);
        r.fit = skewnormal_fit(loglik + 1, (size_t)M - 1);
        r.estimate = exposure_estimate(r.fit, r.true_loglik);
    }
    free(numbers); free(tokens); free(lengths); free(loglik);
    return r;
}
