// test_gpt2cu: checks the GPU GPT-2 (llmc/gpt2_cuda.cuh) against the PyTorch float64 reference state
// of tests/reference (written by dev/reference/gpt2_reference.py), and measures its speed.
//   --mode reference    logits, loss, all 16 gradients, 10 AdamW steps (loss and grad-norm
//                       trajectories, final weights) in --precision fp32 and/or bf16
//   --mode cpu          against the CPU model (llmc/gpt2.h) for head sizes 16..128 and T=200
//   --mode determinism  two identical short training runs on the GPU give bitwise equal weights
//   --mode bench        tokens/s, MFU and peak GPU memory of training steps on a random model
//
// Tolerances (relative error = max|got - want| / max|want| over a tensor):
//   fp32: 1e-4 everywhere (the CPU test's bound; cuBLAS reorders sums, so not bitwise).
//   bf16: activations and the working weights are rounded to 8 significant bits (unit roundoff
//   2^-9 = 2e-3) after every layer op, about ten roundings per transformer block. Logits and loss:
//   3e-2 (a few roundoffs, growing with depth). Gradients: 1.5e-1, because they are products of
//   rounded activations and rounded upstream gradients, and small entries of a tensor are
//   measured against its largest one. After 10 AdamW steps the loss trajectory: 3e-2; final
//   weights: 1e-1 (Adam normalises each update to about lr, so a gradient whose sign flips under
//   rounding moves a weight by 2 lr per step). A wrong formula gives errors of order 1.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llmc/gpt2_cuda.cuh"

extern "C" {
#include "llmc/args.h"
#include "llmc/rng.h"
}

// ---------------------------------------------------------------------------------------------
// Reference container (format and reader in dev/reference/reference_state.h).

#include "dev/reference/reference_state.h"


// ---------------------------------------------------------------------------------------------

static int g_failures = 0;

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
    printf("  %-22s rel err %.3e (tol %.0e) %s\n", name, e, tol, ok ? "" : "  <-- FAIL");
    if (!ok) g_failures++;
}

static void expect_true(const char *what, int ok) {
    printf("  %-40s %s\n", what, ok ? "ok" : "FAIL");
    if (!ok) g_failures++;
}

static Precision parse_precision(const char *s) {
    if (strcmp(s, "fp32") == 0) return PRECISION_FP32;
    if (strcmp(s, "bf16") == 0) return PRECISION_BF16;
    die("--precision %s: unknown (use fp32, bf16 or both)", s);
}

static void reference_one(State *s, const char *model_path, Precision precision) {
    int bf16 = precision == PRECISION_BF16;
    double tol_fwd = bf16 ? 3e-2 : 1e-4, tol_grad = bf16 ? 1.5e-1 : 1e-4;
    double tol_traj = bf16 ? 3e-2 : 1e-4, tol_final = bf16 ? 1e-1 : 1e-4;
    GPT2 host;
    gpt2_init_from_checkpoint(&host, model_path);
    Entry *in = state_get(s, "inputs"), *tg = state_get(s, "targets");
    int B = (int)in->dims[0], T = (int)in->dims[1];
    const int *inputs = (const int *)in->data, *targets = (const int *)tg->data;
    size_t Vp = host.config.padded_vocab_size, P = host.num_parameters;
    printf("%s: model L=%d C=%d NH=%d V=%d Vp=%d, batch %dx%d\n", bf16 ? "bf16" : "fp32", host.config.num_layers,
           host.config.channels, host.config.num_heads, host.config.vocab_size, host.config.padded_vocab_size, B, T);

    GPT2Cuda m;
    gpt2cu_init(&m, &host, precision, B, T, "--batch");
    gpt2cu_forward(&m, inputs, targets, B, T);
    float *logits = (float *)malloc_or_die((size_t)B * T * Vp * sizeof(float));
    gpt2cu_download_logits(&m, logits);
    expect_close("logits", logits, (const float *)state_get(s, "logits")->data, (size_t)B * T * Vp, tol_fwd);
    expect_close("loss", &m.mean_loss, (const float *)state_get(s, "loss")->data, 1, tol_fwd);
    gpt2cu_zero_grad(&m);
    gpt2cu_backward(&m, 1.0f);
    float *grads = (float *)malloc_or_die(P * sizeof(float));
    gpt2cu_download_grads(&m, grads);
    size_t off = 0;
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) {
        char name[64];
        snprintf(name, sizeof name, "grad_%s", GPT2_PARAM_NAMES[i]);
        Entry *e = state_get(s, name);
        if (e->count != host.param_sizes[i]) die("%s: %s has %zu values, the model %zu", s->path, name, e->count, host.param_sizes[i]);
        expect_close(name, grads + off, (const float *)e->data, e->count, tol_grad);
        off += host.param_sizes[i];
    }
    // Grad accumulation: forward + backward at scale 0.5 twice equals one pass at scale 1.
    gpt2cu_zero_grad(&m);
    for (int k = 0; k < 2; k++) {
        gpt2cu_forward(&m, inputs, targets, B, T);
        gpt2cu_backward(&m, 0.5f);
    }
    float *grads2 = (float *)malloc_or_die(P * sizeof(float));
    gpt2cu_download_grads(&m, grads2);
    expect_close("grads, 2 x 0.5 accum", grads2, grads, P, 1e-5);
    // Forward without targets gives the same logits (bitwise: same kernels, same inputs).
    gpt2cu_forward(&m, inputs, targets, B, T);
    gpt2cu_download_logits(&m, logits);
    float *logits2 = (float *)malloc_or_die((size_t)B * T * Vp * sizeof(float));
    gpt2cu_forward(&m, inputs, NULL, B, T);
    gpt2cu_download_logits(&m, logits2);
    expect_true("forward without targets: same logits", memcmp(logits, logits2, (size_t)B * T * Vp * 4) == 0);
    expect_true("forward without targets: mean_loss = -1", m.mean_loss == -1.0f);
    gpt2cu_free(&m);

    // AdamW steps from the checkpoint with the reference's hyperparameters.
    gpt2cu_init(&m, &host, precision, B, T, "--batch");
    const float *hp = (const float *)state_get(s, "hyper")->data;
    AdamWHyper h;
    h.learning_rate = hp[0]; h.beta1 = hp[1]; h.beta2 = hp[2]; h.eps = hp[3]; h.weight_decay = hp[4]; h.grad_clip = hp[5];
    int steps = (int)hp[6];
    float *losses = (float *)malloc_or_die(steps * sizeof(float)), *norms = (float *)malloc_or_die(steps * sizeof(float));
    for (int step = 0; step < steps; step++) {
        gpt2cu_forward(&m, inputs, targets, B, T);
        gpt2cu_zero_grad(&m);
        gpt2cu_backward(&m, 1.0f);
        losses[step] = m.mean_loss;
        norms[step] = gpt2cu_adamw_step(&m, &h);
    }
    printf("  %d AdamW steps: loss %.6f -> %.6f\n", steps, losses[0], losses[steps - 1]);
    expect_close("loss trajectory", losses, (const float *)state_get(s, "train_losses")->data, steps, tol_traj);
    expect_close("grad norm trajectory", norms, (const float *)state_get(s, "train_grad_norms")->data, steps, tol_grad);
    gpt2cu_download_params(&m, &host);
    off = 0;
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) {
        char name[64];
        snprintf(name, sizeof name, "final_%s", GPT2_PARAM_NAMES[i]);
        expect_close(name, host.params_memory + off, (const float *)state_get(s, name)->data, host.param_sizes[i], tol_final);
        off += host.param_sizes[i];
    }
    gpt2cu_free(&m);
    free(losses); free(norms); free(logits); free(logits2); free(grads); free(grads2);
    gpt2_free(&host);
}

// Random tokens for the determinism and bench modes.
static void random_tokens(int *out, size_t n, int V, uint64_t seed) {
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        out[i] = (int)(x % (uint64_t)V);
    }
}

static void train_steps(GPT2Cuda *m, const int *inputs, const int *targets, int B, int T, int steps, const AdamWHyper *h) {
    for (int step = 0; step < steps; step++) {
        gpt2cu_forward(m, inputs + (size_t)(step % 2) * B * T, targets + (size_t)(step % 2) * B * T, B, T);
        gpt2cu_zero_grad(m);
        gpt2cu_backward(m, 1.0f);
        gpt2cu_adamw_step(m, h);
    }
}

// The GPU model against the CPU model (llmc/gpt2.h, itself checked against PyTorch) on shapes the
// reference state does not cover: head sizes 16, 32, 64 and 128, and T = 200 so that attention
// runs over several key tiles and a partial last tile. Same random weights and tokens on both.
static void mode_cpu(Precision precision, int steps) {
    int bf16 = precision == PRECISION_BF16;
    double tol_fwd = bf16 ? 3e-2 : 1e-4, tol_grad = bf16 ? 1.5e-1 : 1e-4, tol_final = bf16 ? 1e-1 : 1e-4;
    const int shapes[][3] = {{2, 64, 4}, {2, 64, 2}, {2, 128, 2}, {1, 256, 2}};  // L, C, NH: HS 16, 32, 64, 128
    const int B = 2, T = 200, V = 1000;
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
        GPT2Config c;
        char why[256];
        if (!gpt2_config_make(&c, shapes[k][0], shapes[k][1], shapes[k][2], V, 0, 256, why, sizeof why)) die("%s", why);
        GPT2 cpu, start;
        gpt2_init_random(&cpu, c, 42 + k);
        gpt2_init_random(&start, c, 42 + k);
        size_t P = cpu.num_parameters, BT = (size_t)B * T, Vp = c.padded_vocab_size;
        int *tokens = (int *)malloc_or_die((BT + 1) * sizeof(int));
        random_tokens(tokens, BT + 1, V, 11 + k);
        int *targets = (int *)malloc_or_die(BT * sizeof(int));
        memcpy(targets, tokens + 1, BT * sizeof(int));
        targets[5] = -1;  // an ignored position
        printf("%s vs CPU: L=%d C=%d NH=%d (head size %d), B=%d T=%d V=%d\n", bf16 ? "bf16" : "fp32", c.num_layers,
               c.channels, c.num_heads, c.channels / c.num_heads, B, T, V);
        GPT2Cuda m;
        gpt2cu_init(&m, &start, precision, B, T, "--batch");
        gpt2_forward(&cpu, tokens, targets, B, T);
        gpt2_zero_grad(&cpu);
        gpt2_backward(&cpu, 1.0f);
        gpt2cu_forward(&m, tokens, targets, B, T);
        float *logits = (float *)malloc_or_die(BT * Vp * sizeof(float)), *grads = (float *)malloc_or_die(P * sizeof(float));
        gpt2cu_download_logits(&m, logits);
        expect_close("logits", logits, cpu.logits, BT * Vp, tol_fwd);
        expect_close("loss", &m.mean_loss, &cpu.mean_loss, 1, tol_fwd);
        gpt2cu_zero_grad(&m);
        gpt2cu_backward(&m, 1.0f);
        gpt2cu_download_grads(&m, grads);
        size_t off = 0;
        for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) {
            char name[64];
            snprintf(name, sizeof name, "grad_%s", GPT2_PARAM_NAMES[i]);
            expect_close(name, grads + off, cpu.grads_memory + off, cpu.param_sizes[i], tol_grad);
            off += cpu.param_sizes[i];
        }
        // A few AdamW steps on both from the same start. eps 1e-4 as in the reference state: with 1e-8,
        // Adam turns rounding noise in gradients that are zero in exact math into O(lr) steps.
        AdamWHyper h;
        h.learning_rate = 1e-3f; h.beta1 = 0.9f; h.beta2 = 0.95f; h.eps = 1e-4f; h.weight_decay = 0.1f; h.grad_clip = 1.0f;
        AdamW opt;
        adamw_init(&opt, P);
        adamw_step(&opt, &cpu, &h);
        gpt2cu_adamw_step(&m, &h);
        for (int step = 1; step < steps; step++) {
            gpt2_forward(&cpu, tokens, targets, B, T);
            gpt2_zero_grad(&cpu);
            gpt2_backward(&cpu, 1.0f);
            adamw_step(&opt, &cpu, &h);
            gpt2cu_forward(&m, tokens, targets, B, T);
            gpt2cu_zero_grad(&m);
            gpt2cu_backward(&m, 1.0f);
            gpt2cu_adamw_step(&m, &h);
        }
        gpt2cu_download_params(&m, &start);
        char name[64];
        snprintf(name, sizeof name, "weights after %d steps", steps);
        expect_close(name, start.params_memory, cpu.params_memory, P, tol_final);
        adamw_free(&opt);
        gpt2cu_free(&m);
        gpt2_free(&cpu);
        gpt2_free(&start);
        free(tokens); free(targets); free(logits); free(grads);
    }
}

static void model_from_name(GPT2 *host, const char *name, uint64_t seed) {
    GPT2Config c;
    if (gpt2_config_from_descriptor(name, &c)) { gpt2_init_random(host, c, seed); return; }
    gpt2_init_from_checkpoint(host, name);
}

static void mode_determinism(const char *model_name, Precision precision, int B, int T, int steps) {
    GPT2 host;
    model_from_name(&host, model_name, 1337);
    size_t BT = (size_t)B * T, P = host.num_parameters;
    int *tokens = (int *)malloc_or_die(2 * BT * sizeof(int) + sizeof(int));
    random_tokens(tokens, 2 * BT + 1, host.config.vocab_size, 7);
    AdamWHyper h;
    h.learning_rate = 1e-3f; h.beta1 = 0.9f; h.beta2 = 0.95f; h.eps = 1e-8f; h.weight_decay = 0.1f; h.grad_clip = 1.0f;
    float *first = (float *)malloc_or_die(P * 4), *second = (float *)malloc_or_die(P * 4);
    for (int run = 0; run < 2; run++) {
        GPT2Cuda m;
        gpt2cu_init(&m, &host, precision, B, T, "--batch");
        train_steps(&m, tokens, tokens + 1, B, T, steps, &h);
        cuda_check(cudaStreamSynchronize(m.stream));
        cuda_check(cudaMemcpy(run == 0 ? first : second, m.master, P * 4, cudaMemcpyDeviceToHost));
        gpt2cu_free(&m);
    }
    printf("determinism: %s %s B=%d T=%d, %d steps twice\n", model_name, precision == PRECISION_BF16 ? "bf16" : "fp32", B, T, steps);
    expect_true("two runs give bitwise equal weights", memcmp(first, second, P * 4) == 0);
    free(first); free(second); free(tokens);
    gpt2_free(&host);
}

static void mode_bench(const char *model_name, Precision precision, int B, int T, int steps) {
    GPT2 host;
    model_from_name(&host, model_name, 1337);
    cudaDeviceProp prop = gpu_check_device(precision);
    size_t BT = (size_t)B * T;
    int *tokens = (int *)malloc_or_die((2 * BT + 1) * sizeof(int));
    random_tokens(tokens, 2 * BT + 1, host.config.vocab_size, 7);
    AdamWHyper h;
    h.learning_rate = 1e-4f; h.beta1 = 0.9f; h.beta2 = 0.95f; h.eps = 1e-8f; h.weight_decay = 0.1f; h.grad_clip = 1.0f;
    size_t free0, total;
    cuda_check(cudaMemGetInfo(&free0, &total));
    GPT2Cuda m;
    gpt2cu_init(&m, &host, precision, B, T, "--batch");
    const int warmup = 3;
    train_steps(&m, tokens, tokens + 1, B, T, warmup, &h);
    cuda_check(cudaDeviceSynchronize());
    double t0 = now_seconds();
    train_steps(&m, tokens, tokens + 1, B, T, steps, &h);
    cuda_check(cudaDeviceSynchronize());
    double seconds = now_seconds() - t0;
    size_t free1;
    cuda_check(cudaMemGetInfo(&free1, &total));
    double tokens_per_second = (double)BT * steps / seconds;
    double flops = gpt2_train_flops_per_token(&host.config, T) * tokens_per_second;
    const double h100_bf16_peak = 989e12;
    printf("bench %s %s B=%d T=%d on %s: %.0f tok/s, %.1f ms/step, MFU %.1f%% (of 989 TFLOP/s), GPU memory %.2f GiB "
           "(process total %.2f GiB), loss %.4f\n",
           model_name, precision == PRECISION_BF16 ? "bf16" : "fp32", B, T, prop.name, tokens_per_second,
           1e3 * seconds / steps, 100.0 * flops / h100_bf16_peak, (free0 - free1) / 1073741824.0,
           (total - free1) / 1073741824.0, m.mean_loss);
    gpt2cu_free(&m);
    free(tokens);
    gpt2_free(&host);
}

int main(int argc, char **argv) {
    set_program_name(argv[0]);
    const char *mode = "reference", *state_path = "tests/reference/tiny_reference.bin";
    const char *model_path = "tests/reference/tiny_model_v3.bin", *precision = "both", *model_name = "d12";
    int64_t batch = 16, seq = 1024, steps = 20;
    ArgSpec specs[] = {
        {"mode", ARG_STRING, &mode, "reference, cpu, determinism or bench", 0, 0, 0},
        {"state", ARG_STRING, &state_path, "reference state (dev/reference/gpt2_reference.py)", 0, 0, 0},
        {"model", ARG_STRING, &model_path, "model file of the reference state", 0, 0, 0},
        {"precision", ARG_STRING, &precision, "fp32, bf16 or both (reference); fp32 or bf16 otherwise", 0, 0, 0},
        {"model_name", ARG_STRING, &model_name, "determinism/bench: d2..d48 (random init) or a checkpoint", 0, 0, 0},
        {"batch", ARG_INT, &batch, "determinism/bench: batch size B", 1, 4096, 0},
        {"seq", ARG_INT, &seq, "determinism/bench: sequence length T", 1, 1024, 0},
        {"steps", ARG_INT, &steps, "determinism/bench: training steps", 1, 100000, 0},
    };
    parse_args(argc, argv, specs, (int)(sizeof specs / sizeof *specs),
               "Check the GPU GPT-2 against the PyTorch reference and the CPU model, its determinism, and its speed.");
    int steps_set = arg_was_set(specs, (int)(sizeof specs / sizeof *specs), "steps");
    if (strcmp(mode, "reference") == 0) {
        State s;
        state_read(&s, state_path);
        if (strcmp(precision, "both") == 0) {
            gpu_check_device(PRECISION_BF16);
            reference_one(&s, model_path, PRECISION_FP32);
            reference_one(&s, model_path, PRECISION_BF16);
        } else {
            Precision p = parse_precision(precision);
            gpu_check_device(p);
            reference_one(&s, model_path, p);
        }
        state_free(&s);
    } else if (strcmp(mode, "cpu") == 0) {
        Precision p = strcmp(precision, "both") == 0 ? PRECISION_FP32 : parse_precision(precision);
        gpu_check_device(p);
        mode_cpu(p, steps_set ? (int)steps : 3);
    } else if (strcmp(mode, "determinism") == 0) {
        Precision p = strcmp(precision, "both") == 0 ? PRECISION_BF16 : parse_precision(precision);
        gpu_check_device(p);
        mode_determinism(model_name, p, (int)batch, (int)seq, (int)steps);
    } else if (strcmp(mode, "bench") == 0) {
        Precision p = strcmp(precision, "both") == 0 ? PRECISION_BF16 : parse_precision(precision);
        mode_bench(model_name, p, (int)batch, (int)seq, (int)steps);
    } else {
        die("--mode %s: unknown (use reference, cpu, determinism or bench)", mode);
    }
    printf(g_failures ? "FAIL: %d checks failed\n" : "all checks passed\n", g_failures);
    return g_failures ? 1 : 0;
}
