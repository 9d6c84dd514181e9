// Checks the C GPT-2 (llmc/gpt2*.c, layers, matmul, adamw) against the PyTorch reference state
// written by dev/reference/gpt2_reference.py, plus checkpoint I/O, determinism and the GEMM.
//   --mode reference    logits, loss, all grads, positions, 10 AdamW steps vs the state file
//   --mode roundtrip    fp32/bf16 save -> bytes equal to torch's files, reload bitwise equal
//   --mode load         load a model file and print its shape (for the bad-file tests)
//   --mode determinism  two identical short training runs (and 1 vs 2 threads) bitwise equal
//   --mode gemm         packed GEMM vs a float64 loop over many shapes and transposes
//   --mode compare      two reference states agree within --tolerance (the oracle is live)
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llmc/adamw.h"
#include "llmc/args.h"
#include "llmc/dist.h"
#include "llmc/gpt2.h"
#include "llmc/matmul_cpu.h"
#include "llmc/rng.h"
#include "llmc/utils.h"

// ---------------------------------------------------------------------------------------------
// Reference container (format and reader in dev/reference/reference_state.h).

#include "dev/reference/reference_state.h"


// ---------------------------------------------------------------------------------------------
// Comparisons: relative error of a tensor = max|a - b| / max|b|.

static int g_failures = 0;
static double g_worst = -1.0;  // below any error, so the first comparison names itself
static char g_worst_name[96];

static double rel_error(const float *got, const float *want, size_t n) {
    double max_diff = 0.0, max_ref = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (!(d <= max_diff)) max_diff = d;  // also catches NaN
        if (fabs(want[i]) > max_ref) max_ref = fabs(want[i]);
    }
    return max_ref > 0 ? max_diff / max_ref : max_diff;
}

static void expect_close(const char *name, const float *got, const float *want, size_t n, double tol) {
    double e = rel_error(got, want, n);
    int ok = e <= tol;
    printf("  %-22s rel err %.3e %s\n", name, e, ok ? "" : "  <-- FAIL");
    if (!ok) g_failures++;
    if (!(e <= g_worst)) { g_worst = e; snprintf(g_worst_name, sizeof(g_worst_name), "%s", name); }
}

static void expect_true(const char *what, int ok) {
    printf("  %-40s %s\n", what, ok ? "ok" : "FAIL");
    if (!ok) g_failures++;
}

// ---------------------------------------------------------------------------------------------

static float *tensor_of(GPT2 *m, float *base, int i) {
    size_t off = 0;
    for (int j = 0; j < i; j++) off += m->param_sizes[j];
    (void)m;
    return base + off;
}

static void mode_reference(const char *state_path, const char *model_path, double tol) {
    State s;
    state_read(&s, state_path);
    GPT2 m;
    gpt2_init_from_checkpoint(&m, model_path);
    Entry *in = state_get(&s, "inputs"), *tg = state_get(&s, "targets"), *pos = state_get(&s, "positions");
    int B = (int)in->dims[0], T = (int)in->dims[1];
    const int *inputs = in->data, *targets = tg->data, *positions = pos->data;
    size_t Vp = m.config.padded_vocab_size;
    printf("model L=%d C=%d NH=%d V=%d Vp=%d maxT=%d, batch %dx%d, tolerance %.0e\n", m.config.num_layers,
           m.config.channels, m.config.num_heads, m.config.vocab_size, m.config.padded_vocab_size,
           m.config.max_seq_len, B, T, tol);

    // Forward + backward on the batch.
    gpt2_forward(&m, inputs, targets, B, T);
    gpt2_zero_grad(&m);
    gpt2_backward(&m, 1.0f);
    expect_close("logits", m.logits, state_get(&s, "logits")->data, (size_t)B * T * Vp, tol);
    expect_close("loss", &m.mean_loss, state_get(&s, "loss")->data, 1, tol);
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) {
        char name[64];
        snprintf(name, sizeof(name), "grad_%s", GPT2_PARAM_NAMES[i]);
        Entry *e = state_get(&s, name);
        if (e->count != m.param_sizes[i]) die("%s: %s has %zu values, the model %zu", state_path, name, e->count, m.param_sizes[i]);
        expect_close(name, tensor_of(&m, m.grads_memory, i), e->data, e->count, tol);
    }
    // Grad accumulation: two backward passes at scale 0.5 equal one at scale 1 (up to rounding).
    float *once = malloc_or_die(m.num_parameters * sizeof(float));
    memcpy(once, m.grads_memory, m.num_parameters * sizeof(float));
    gpt2_zero_grad(&m);
    gpt2_backward(&m, 0.5f);
    gpt2_backward(&m, 0.5f);
    expect_close("grads, 2 x 0.5 accum", m.grads_memory, once, m.num_parameters, 1e-6);
    free(once);

    // Logits without targets are the same; explicit positions 0..T-1 are the default.
    float *logits_copy = malloc_or_die((size_t)B * T * Vp * sizeof(float));
    memcpy(logits_copy, m.logits, (size_t)B * T * Vp * sizeof(float));
    gpt2_forward(&m, inputs, NULL, B, T);
    expect_true("forward without targets: same logits", memcmp(logits_copy, m.logits, (size_t)B * T * Vp * 4) == 0);
    expect_true("forward without targets: mean_loss = -1", m.mean_loss == -1.0f);
    int *zero_based = malloc_or_die((size_t)B * T * sizeof(int));
    for (int i = 0; i < B * T; i++) zero_based[i] = i % T;
    gpt2_forward_positions(&m, inputs, zero_based, targets, B, T);
    expect_true("explicit positions 0..T-1: same logits", memcmp(logits_copy, m.logits, (size_t)B * T * Vp * 4) == 0);
    free(zero_based);
    // Causality and shape changes: a 5-token prefix of row 1 (B=1, T=5, smaller buffers in use)
    // gives exactly the first 5 positions of that row's logits, and a later bigger batch works.
    {
        gpt2_forward(&m, inputs + T, NULL, 1, 5);
        int same = memcmp(m.logits, logits_copy + (size_t)T * Vp, 5 * Vp * sizeof(float)) == 0;
        expect_true("causal: prefix logits bitwise equal", same);
        int *bigger = malloc_or_die((size_t)3 * (T + 8) * sizeof(int));
        for (int i = 0; i < 3 * (T + 8); i++) bigger[i] = inputs[i % (B * T)];
        gpt2_forward(&m, bigger, bigger, 3, T + 8);  // grows the activations
        gpt2_forward(&m, inputs, NULL, B, T);
        expect_true("after growing B, T: same logits again", memcmp(logits_copy, m.logits, (size_t)B * T * Vp * 4) == 0);
        free(bigger);
    }
    // Shifted positions (as the evaluator feeds them).
    gpt2_forward_positions(&m, inputs, positions, targets, B, T);
    expect_close("logits, shifted positions", m.logits, state_get(&s, "logits_positions")->data, (size_t)B * T * Vp, tol);
    expect_close("loss, shifted positions", &m.mean_loss, state_get(&s, "loss_positions")->data, 1, tol);
    free(logits_copy);

    // AdamW steps from the checkpoint with the reference's hyperparameters.
    gpt2_free(&m);
    gpt2_init_from_checkpoint(&m, model_path);
    const float *hp = state_get(&s, "hyper")->data;
    AdamWHyper h = {.learning_rate = hp[0], .beta1 = hp[1], .beta2 = hp[2], .eps = hp[3],
                    .weight_decay = hp[4], .grad_clip = hp[5]};
    int steps = (int)hp[6];
    AdamW opt;
    adamw_init(&opt, m.num_parameters);
    float *losses = malloc_or_die(steps * sizeof(float)), *norms = malloc_or_die(steps * sizeof(float));
    for (int step = 0; step < steps; step++) {
        gpt2_forward(&m, inputs, targets, B, T);
        gpt2_zero_grad(&m);
        gpt2_backward(&m, 1.0f);
        losses[step] = m.mean_loss;
        norms[step] = adamw_step(&opt, &m, &h);
    }
    printf("  %d AdamW steps (lr %g, betas %g/%g, eps %g, wd %g, clip %g): loss %.6f -> %.6f\n", steps,
           h.learning_rate, h.beta1, h.beta2, h.eps, h.weight_decay, h.grad_clip, losses[0], losses[steps - 1]);
    expect_close("loss trajectory", losses, state_get(&s, "train_losses")->data, steps, tol);
    expect_close("grad norm trajectory", norms, state_get(&s, "train_grad_norms")->data, steps, tol);
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) {
        char name[64];
        snprintf(name, sizeof(name), "final_%s", GPT2_PARAM_NAMES[i]);
        expect_close(name, tensor_of(&m, m.params_memory, i), state_get(&s, name)->data, m.param_sizes[i], tol);
    }
    free(losses);
    free(norms);
    adamw_free(&opt);
    gpt2_free(&m);
    state_free(&s);
    printf("worst relative error %.3e (%s)\n", g_worst, g_worst_name);
}

static int files_equal(const char *a, const char *b) {
    size_t na, nb;
    char *da = read_file_or_die(a, &na), *db = read_file_or_die(b, &nb);
    int eq = na == nb && memcmp(da, db, na) == 0;
    free(da);
    free(db);
    return eq;
}

static void mode_roundtrip(const char *v3, const char *v5, const char *out_dir) {
    char p32[4096], p16[4096], p16b[4096];
    snprintf(p32, sizeof(p32), "%s/roundtrip_v3.bin", out_dir);
    snprintf(p16, sizeof(p16), "%s/roundtrip_v5.bin", out_dir);
    snprintf(p16b, sizeof(p16b), "%s/roundtrip_v5_again.bin", out_dir);
    GPT2 a, b, c;
    gpt2_init_from_checkpoint(&a, v3);
    gpt2_save_checkpoint(&a, p32, 0);
    expect_true("fp32 save == torch's v3 file (bytes)", files_equal(p32, v3));
    gpt2_init_from_checkpoint(&b, p32);
    expect_true("fp32 reload: parameters bitwise equal",
                a.num_parameters == b.num_parameters && memcmp(a.params_memory, b.params_memory, a.num_parameters * 4) == 0);
    gpt2_save_checkpoint(&a, p16, 1);
    expect_true("bf16 save == torch's v5 file (bytes, RNE)", files_equal(p16, v5));
    gpt2_init_from_checkpoint(&c, v5);
    gpt2_save_checkpoint(&c, p16b, 1);
    expect_true("v5 load + bf16 save: bytes unchanged", files_equal(p16b, v5));
    // bf16 keeps 8 significant bits: each value within 2^-8 relative of the fp32 one.
    int close = 1;
    for (size_t i = 0; i < a.num_parameters; i++)
        if (fabsf(c.params_memory[i] - a.params_memory[i]) > fabsf(a.params_memory[i]) * (1.0f / 256)) close = 0;
    expect_true("v5 parameters within bf16 precision of v3", close);
    expect_true("v5 config equals v3 config", memcmp(&a.config, &c.config, sizeof(GPT2Config)) == 0);
    // A model from a descriptor round-trips too (checks the header written for GPT-2 sizes).
    GPT2 d, e;
    GPT2Config cfg;
    expect_true("descriptor d2 known, d3 unknown", gpt2_config_from_descriptor("d2", &cfg) && !gpt2_config_from_descriptor("d3", &cfg));
    gpt2_init_random(&d, cfg, 7);
    gpt2_save_checkpoint(&d, p32, 0);
    gpt2_init_from_checkpoint(&e, p32);
    expect_true("d2 random init: save/load bitwise",
                memcmp(&d.config, &e.config, sizeof(cfg)) == 0 && memcmp(d.params_memory, e.params_memory, d.num_parameters * 4) == 0);
    // A save that cannot happen reports -1 with errno and leaves nothing behind.
    char missing[4200];
    snprintf(missing, sizeof(missing), "%s/no_such_dir/model.bin", out_dir);
    errno = 0;
    int rc = gpt2_save_checkpoint_try(&a, missing, 0);
    expect_true("save into a missing directory: -1, ENOENT", rc == -1 && errno == ENOENT && !file_exists(missing));
    gpt2_free(&a); gpt2_free(&b); gpt2_free(&c); gpt2_free(&d); gpt2_free(&e);
}

// A few training steps of a small random model; returns params (caller frees) and the losses.
// shards > 1: AdamW updates the parameters in that many ZeRO-1 blocks, one call each, as the ranks
// of --zero_stage 1 do; *max_norm_error gets the worst relative difference between the norm from
// the blocks' sums of squares and gpt2_grad_norm.
static float *train_briefly_sharded(int threads, uint64_t seed, int steps, float *losses, size_t *n_out, int shards,
                                    double *max_norm_error) {
    omp_set_num_threads(threads);
    GPT2Config c;
    char why[128];
    if (!gpt2_config_make(&c, 2, 128, 4, 1000, 0, 64, why, sizeof(why))) die("config: %s", why);
    GPT2 m;
    gpt2_init_random(&m, c, seed);
    int B = 3, T = 40;
    int *x = malloc_or_die((size_t)(B * T + 1) * sizeof(int));
    Rng r;
    rng_seed(&r, 99);
    for (int i = 0; i < B * T + 1; i++) x[i] = (int)rng_below(&r, c.vocab_size);
    AdamW opt;
    adamw_init(&opt, m.num_parameters);
    AdamWHyper h = {.learning_rate = 3e-3f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f, .grad_clip = 1.0f};
    for (int s = 0; s < steps; s++) {
        gpt2_forward(&m, x, x + 1, B, T);
        gpt2_zero_grad(&m);
        gpt2_backward(&m, 1.0f);
        if (shards <= 1) {
            adamw_step(&opt, &m, &h);
        } else {
            float norm = gpt2_grad_norm(&m);
            double sumsq = 0.0;
            for (int r = 0; r < shards; r++) {
                size_t first, count = dist_zero_shard(m.num_parameters, shards, r, &first);
                sumsq += gpt2_grad_sumsq(&m, first, count);
            }
            double err = fabs(sqrt(sumsq) - norm) / norm;
            if (err > *max_norm_error) *max_norm_error = err;
            int64_t step_before = opt.step;  // each rank counts its own steps
            for (int r = shards - 1; r >= 0; r--) {  // any order: the blocks do not overlap
                size_t first, count = dist_zero_shard(m.num_parameters, shards, r, &first);
                opt.step = step_before;
                adamw_step_range(&opt, &m, &h, norm, first, count);
            }
        }
        losses[s] = m.mean_loss;
    }
    float *params = malloc_or_die(m.num_parameters * sizeof(float));
    memcpy(params, m.params_memory, m.num_parameters * sizeof(float));
    *n_out = m.num_parameters;
    adamw_free(&opt);
    gpt2_free(&m);
    free(x);
    return params;
}

static float *train_briefly(int threads, uint64_t seed, int steps, float *losses, size_t *n_out) {
    return train_briefly_sharded(threads, seed, steps, losses, n_out, 1, NULL);
}

static void mode_determinism(int threads) {
    enum { STEPS = 4 };
    float la[STEPS], lb[STEPS], lc[STEPS];
    size_t n;
    float *a = train_briefly(threads, 1, STEPS, la, &n);
    float *b = train_briefly(threads, 1, STEPS, lb, &n);
    float *c = train_briefly(1, 1, STEPS, lc, &n);
    printf("  losses %.6f -> %.6f over %d steps\n", la[0], la[STEPS - 1], STEPS);
    expect_true("loss decreases", la[STEPS - 1] < la[0]);
    char what[96];
    snprintf(what, sizeof(what), "%d threads twice: bitwise equal", threads);
    expect_true(what, memcmp(a, b, n * 4) == 0 && memcmp(la, lb, sizeof(la)) == 0);
    snprintf(what, sizeof(what), "%d threads vs 1 thread: bitwise equal", threads);
    expect_true(what, memcmp(a, c, n * 4) == 0 && memcmp(la, lc, sizeof(la)) == 0);
    // ZeRO-1's update: 3 blocks of AdamW give every weight the update of one call, bitwise.
    float ld[STEPS];
    double norm_error = 0.0;
    float *d = train_briefly_sharded(threads, 1, STEPS, ld, &n, 3, &norm_error);
    expect_true("AdamW in 3 ZeRO-1 blocks: bitwise the one-call update", memcmp(a, d, n * 4) == 0 && memcmp(la, ld, sizeof(la)) == 0);
    printf("  norm from 3 blocks' sums of squares vs gpt2_grad_norm: relative difference %.2e\n", norm_error);
    expect_true("the blocks' sums of squares give the gradient norm (within 1e-6)", norm_error < 1e-6);
    free(a); free(b); free(c); free(d);
    // Same seed -> same init; another seed -> another init.
    GPT2Config cfg;
    gpt2_config_from_descriptor("d2", &cfg);
    GPT2 x, y, z;
    omp_set_num_threads(threads);
    gpt2_init_random(&x, cfg, 5);
    omp_set_num_threads(1);
    gpt2_init_random(&y, cfg, 5);
    gpt2_init_random(&z, cfg, 6);
    expect_true("init: same seed bitwise equal (any threads)", memcmp(x.params_memory, y.params_memory, x.num_parameters * 4) == 0);
    expect_true("init: other seed differs", memcmp(x.params_memory, z.params_memory, x.num_parameters * 4) != 0);
    // Init statistics: wte ~ N(0, 0.02), fcprojw ~ N(0, 0.02/sqrt(2L)), padded rows zero, LN w = 1.
    double s1 = 0, s2 = 0;
    size_t nw = (size_t)cfg.vocab_size * cfg.channels;
    for (size_t i = 0; i < nw; i++) { s1 += x.params.wte[i]; s2 += (double)x.params.wte[i] * x.params.wte[i]; }
    double sd = sqrt(s2 / nw - (s1 / nw) * (s1 / nw));
    printf("  wte std %.5f (want 0.02), mean %.2e\n", sd, s1 / nw);
    expect_true("init: wte std 0.02", fabs(sd - 0.02) < 2e-4 && fabs(s1 / nw) < 1e-4);
    s2 = 0;
    size_t np = x.param_sizes[GPT2_FCPROJW];
    for (size_t i = 0; i < np; i++) s2 += (double)x.params.fcprojw[i] * x.params.fcprojw[i];
    double want = 0.02 / sqrt(2.0 * cfg.num_layers);
    printf("  fcprojw std %.5f (want %.5f)\n", sqrt(s2 / np), want);
    expect_true("init: residual projections scaled", fabs(sqrt(s2 / np) - want) < want * 0.02);
    int pad_zero = 1;
    for (size_t i = nw; i < x.param_sizes[GPT2_WTE]; i++) pad_zero &= x.params.wte[i] == 0.0f;
    expect_true("init: padded vocab rows zero", pad_zero);
    expect_true("init: LayerNorm weights 1, biases 0", x.params.ln1w[0] == 1.0f && x.params.lnfw[cfg.channels - 1] == 1.0f &&
                x.params.qkvb[0] == 0.0f && x.params.lnfb[0] == 0.0f);
    gpt2_free(&x); gpt2_free(&y); gpt2_free(&z);
}

static void mode_gemm(void) {
    Rng r;
    rng_seed(&r, 3);
    int shapes[][3] = {{1, 1, 1}, {5, 7, 3}, {12, 32, 256}, {13, 33, 257}, {37, 100, 600}, {300, 40, 513}, {64, 1100, 70}, {200, 65, 1}};
    double worst = 0;
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        for (int mode = 0; mode < 8; mode++) {
            int ta = mode & 1, tb = (mode >> 1) & 1, acc = (mode >> 2) & 1;
            float *A = malloc_or_die((size_t)M * K * 4), *Bm = malloc_or_die((size_t)K * N * 4);
            float *C = malloc_or_die((size_t)M * N * 4), *C0 = malloc_or_die((size_t)M * N * 4);
            for (size_t i = 0; i < (size_t)M * K; i++) A[i] = rng_uniform(&r) - 0.5f;
            for (size_t i = 0; i < (size_t)K * N; i++) Bm[i] = rng_uniform(&r) - 0.5f;
            for (size_t i = 0; i < (size_t)M * N; i++) C[i] = C0[i] = rng_uniform(&r) - 0.5f;
            size_t ars = ta ? 1 : K, acs = ta ? M : 1, brs = tb ? 1 : N, bcs = tb ? K : 1;
            gemm_cpu(C, N, A, ars, acs, Bm, brs, bcs, M, N, K, acc);
            double err = 0;
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double want = acc ? C0[(size_t)i * N + j] : 0.0;
                    for (int k = 0; k < K; k++) want += (double)A[i * ars + k * acs] * Bm[k * brs + j * bcs];
                    // Bound: fp32 summation error grows ~ sqrt(K) ulp; scale by K to be safe.
                    double e = fabs(want - C[(size_t)i * N + j]) / (1e-7 * (K + 1));
                    if (e > err) err = e;
                }
            if (err > worst) worst = err;
            free(A); free(Bm); free(C); free(C0);
        }
    }
    printf("  worst |error| / (1e-7 (K+1)) over all shapes: %.3f\n", worst);
    expect_true("gemm matches float64 loop (all transposes, accumulate)", worst < 1.0);
    // The fused layer form: out = residual + (inp @ weight^T + bias), also in place (out = residual).
    int layer_shapes[][3] = {{5, 7, 3}, {37, 100, 600}, {64, 64, 1100}, {256, 96, 40}};
    worst = 0;
    for (size_t s = 0; s < sizeof(layer_shapes) / sizeof(layer_shapes[0]); s++) {
        int BT = layer_shapes[s][0], C = layer_shapes[s][1], OC = layer_shapes[s][2];
        float *inp = malloc_or_die((size_t)BT * C * 4), *w = malloc_or_die((size_t)OC * C * 4);
        float *bias = malloc_or_die((size_t)OC * 4), *res = malloc_or_die((size_t)BT * OC * 4);
        float *out = malloc_or_die((size_t)BT * OC * 4), *inplace = malloc_or_die((size_t)BT * OC * 4);
        for (size_t i = 0; i < (size_t)BT * C; i++) inp[i] = rng_uniform(&r) - 0.5f;
        for (size_t i = 0; i < (size_t)OC * C; i++) w[i] = rng_uniform(&r) - 0.5f;
        for (int i = 0; i < OC; i++) bias[i] = rng_uniform(&r) - 0.5f;
        for (size_t i = 0; i < (size_t)BT * OC; i++) inplace[i] = res[i] = rng_uniform(&r) - 0.5f;
        matmul_forward_residual(out, inp, w, bias, res, BT, C, OC);
        matmul_forward_residual(inplace, inp, w, bias, inplace, BT, C, OC);
        int same = memcmp(out, inplace, (size_t)BT * OC * 4) == 0;
        if (!same) worst = 1e9;
        for (int i = 0; i < BT; i++)
            for (int j = 0; j < OC; j++) {
                double want = (double)res[(size_t)i * OC + j] + bias[j];
                for (int k = 0; k < C; k++) want += (double)inp[(size_t)i * C + k] * w[(size_t)j * C + k];
                double e = fabs(want - out[(size_t)i * OC + j]) / (1e-7 * (C + 1));
                if (e > worst) worst = e;
            }
        free(inp); free(w); free(bias); free(res); free(out); free(inplace);
    }
    printf("  matmul_forward_residual worst |error| / (1e-7 (C+1)): %.3f\n", worst);
    expect_true("matmul + bias + residual fused (and in place) matches float64", worst < 1.0);
}

static void mode_compare(const char *a_path, const char *b_path, double tol) {
    State a, b;
    state_read(&a, a_path);
    state_read(&b, b_path);
    expect_true("same entries", a.count == b.count);
    for (int i = 0; i < a.count; i++) {
        Entry *x = &a.entries[i], *y = state_get(&b, x->name);
        if (x->count != y->count || x->dtype != y->dtype) { expect_true(x->name, 0); continue; }
        if (x->dtype == 1) expect_true(x->name, memcmp(x->data, y->data, x->count * 4) == 0);
        else expect_close(x->name, x->data, y->data, x->count, tol);
    }
    printf("worst relative error %.3e (%s)\n", g_worst, g_worst_name);
    state_free(&a);
    state_free(&b);
}

int main(int argc, char **argv) {
    set_program_name(argv[0]);
    const char *mode = "reference", *state = "tests/reference/tiny_reference.bin";
    const char *model = "tests/reference/tiny_model_v3.bin", *model_bf16 = "tests/reference/tiny_model_v5.bin";
    const char *other = NULL, *out_dir = "/tmp", *save = NULL;
    double tolerance = 1e-5;
    int64_t threads = 2;
    ArgSpec specs[] = {
        {"mode", ARG_STRING, &mode, "reference | roundtrip | load | determinism | gemm | compare", 0, -1, 0},
        {"state", ARG_STRING, &state, "reference state from dev/reference/gpt2_reference.py", 0, -1, 0},
        {"model", ARG_STRING, &model, "llm.c model file (v3 fp32)", 0, -1, 0},
        {"model_bf16", ARG_STRING, &model_bf16, "the same model as v5 (bf16), written by torch", 0, -1, 0},
        {"other", ARG_STRING, &other, "second state for --mode compare", 0, -1, 0},
        {"save", ARG_STRING, &save, "--mode load: also save the model here (fp32)", 0, -1, 0},
        {"out_dir", ARG_STRING, &out_dir, "scratch directory for --mode roundtrip", 0, -1, 0},
        {"tolerance", ARG_FLOAT, &tolerance, "max relative error max|a-b|/max|b| per tensor", 0, 1, 0},
        {"threads", ARG_INT, &threads, "OpenMP threads for --mode determinism", 1, 256, 0},
    };
    parse_args(argc, argv, specs, sizeof(specs) / sizeof(specs[0]), "GPT-2 CPU model checks against the PyTorch reference.");
    if (strcmp(mode, "reference") == 0) {
        mode_reference(state, model, tolerance);
    } else if (strcmp(mode, "roundtrip") == 0) {
        mode_roundtrip(model, model_bf16, out_dir);
    } else if (strcmp(mode, "load") == 0) {
        GPT2 m;
        gpt2_init_from_checkpoint(&m, model);
        if (save) gpt2_save_checkpoint(&m, save, 0);
        printf("%s: L=%d C=%d NH=%d V=%d Vp=%d maxT=%d, %zu parameters\n", model, m.config.num_layers,
               m.config.channels, m.config.num_heads, m.config.vocab_size, m.config.padded_vocab_size,
               m.config.max_seq_len, m.num_parameters);
        gpt2_free(&m);
    } else if (strcmp(mode, "determinism") == 0) {
        mode_determinism((int)threads);
    } else if (strcmp(mode, "gemm") == 0) {
        mode_gemm();
    } else if (strcmp(mode, "compare") == 0) {
        if (!other) die("--mode compare needs --other STATE (the second reference state)");
        mode_compare(state, other, tolerance);
    } else {
        die("--mode: unknown mode '%s' (use reference, roundtrip, load, determinism, gemm or compare)", mode);
    }
    printf("%s\n", g_failures ? "FAILED" : "all checks passed");
    return g_failures ? 1 : 0;
}
