// Times training steps (forward + backward + AdamW) of a randomly initialised GPT-2 on the CPU and
// prints seconds/step, tokens/s, GFLOP/s and peak RSS. Used by scripts/bench_model.sh.
#include <omp.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "llmc/adamw.h"
#include "llmc/args.h"
#include "llmc/gpt2.h"
#include "llmc/rng.h"
#include "llmc/utils.h"

// User + system CPU seconds of the whole process so far.
static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

int main(int argc, char **argv) {
    set_program_name(argv[0]);
    const char *descriptor = "d12";
    int64_t B = 4, T = 64, steps = 5, warmup = 1, threads = 0, seed = 1;
    ArgSpec specs[] = {
        {"descriptor", ARG_STRING, &descriptor, "model size: d2 d4 d6 d12 d24 d36 d48", 0, -1, 0},
        {"batch_size", ARG_INT, &B, "B, sequences per step", 1, 1024, 0},
        {"seq_len", ARG_INT, &T, "T, tokens per sequence", 1, 1024, 0},
        {"steps", ARG_INT, &steps, "timed steps", 1, 1000, 0},
        {"warmup", ARG_INT, &warmup, "untimed steps first (allocation, caches)", 0, 100, 0},
        {"threads", ARG_INT, &threads, "OpenMP threads (0 = OpenMP's default)", 0, 1024, 0},
        {"seed", ARG_INT, &seed, "init and data seed", 0, 1e18, 0},
    };
    parse_args(argc, argv, specs, sizeof(specs) / sizeof(specs[0]),
               "Benchmark GPT-2 CPU training steps (forward + backward + AdamW).");
    if (threads > 0) omp_set_num_threads((int)threads);
    GPT2Config c;
    if (!gpt2_config_from_descriptor(descriptor, &c))
        die("--descriptor: unknown model '%s' (use d2, d4, d6, d12, d24, d36 or d48)", descriptor);
    if (T > c.max_seq_len) die("--seq_len: %lld exceeds max_seq_len %d (use a smaller value)", (long long)T, c.max_seq_len);
    GPT2 m;
    gpt2_init_random(&m, c, (uint64_t)seed);
    int *tokens = malloc_or_die((size_t)(B * T + 1) * sizeof(int));
    Rng r;
    rng_seed(&r, (uint64_t)seed + 1);
    for (int64_t i = 0; i < B * T + 1; i++) tokens[i] = (int)rng_below(&r, c.vocab_size);
    AdamW opt;
    adamw_init(&opt, m.num_parameters);
    AdamWHyper h = {.learning_rate = 1e-4f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f, .grad_clip = 1.0f};
    double t_fwd = 0, t_bwd = 0, t_opt = 0, t_total = 0, cpu_start = 0;
    float loss = 0;
    for (int64_t s = 0; s < warmup + steps; s++) {
        if (s == warmup) cpu_start = cpu_seconds();
        double t0 = now_seconds();
        gpt2_forward(&m, tokens, tokens + 1, (int)B, (int)T);
        double t1 = now_seconds();
        gpt2_zero_grad(&m);
        gpt2_backward(&m, 1.0f);
        double t2 = now_seconds();
        adamw_step(&opt, &m, &h);
        double t3 = now_seconds();
        loss = m.mean_loss;
        if (s >= warmup) {
            t_fwd += t1 - t0;
            t_bwd += t2 - t1;
            t_opt += t3 - t2;
            t_total += t3 - t0;
        }
    }
    double cpu_per_step = (cpu_seconds() - cpu_start) / steps;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double per_step = t_total / steps;
    double tokens_per_step = (double)B * T;
    double gflops = gpt2_train_flops_per_token(&c, (int)T) * tokens_per_step / per_step / 1e9;
    printf("model %s (%zu parameters), B=%lld T=%lld, %d threads, %lld timed steps (last loss %.4f)\n",
           descriptor, m.num_parameters, (long long)B, (long long)T, omp_get_max_threads(), (long long)steps, loss);
    printf("step %.3f s (forward %.3f, backward %.3f, adamw %.3f)\n", per_step, t_fwd / steps, t_bwd / steps, t_opt / steps);
    // On shared cores wall time includes waiting for the CPU; CPU time (all threads) does not.
    printf("cpu %.3f s/step over all threads (wall x threads = %.3f)\n", cpu_per_step, per_step * omp_get_max_threads());
    printf("tokens/s %.1f\n", tokens_per_step / per_step);
    printf("GFLOP/s %.1f\n", gflops);
    printf("peak RSS %.1f MiB\n", ru.ru_maxrss / 1024.0);
    adamw_free(&opt);
    gpt2_free(&m);
    free(tokens);
    return 0;
}
