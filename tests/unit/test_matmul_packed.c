// matmul_forward_packed (weight packed once, llmc/matmul_cpu.c) must give bitwise the same output
// as matmul_forward for every row count: the generator and the exposure scorer switched to it on
// the promise that no logit changes. Covers edge tiles in M (MR = 12), N (NR = 32, NC = 1024) and
// K (KC = 256), row counts past MC (split along M), with and without bias, on 1, 2 and 3 threads.
#include "llmc/matmul_cpu.h"
#include "llmc/utils.h"

#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint64_t rng_state = 88172645463325252ull;
static float uniform(void) { // xorshift64 -> [-1, 1)
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) * (1.0 / (1 << 23)) - 1.0);
}

static int failures = 0;

static void check_shape(int C, int OC, const int *bts, int n_bt, int threads) {
    int max_bt = 0;
    for (int i = 0; i < n_bt; i++) max_bt = bts[i] > max_bt ? bts[i] : max_bt;
    float *w = malloc_or_die((size_t)OC * C * sizeof(float));
    float *bias = malloc_or_die((size_t)OC * sizeof(float));
    float *inp = malloc_or_die((size_t)max_bt * C * sizeof(float));
    float *ref = malloc_or_die((size_t)max_bt * OC * sizeof(float));
    float *got = malloc_or_die((size_t)max_bt * OC * sizeof(float));
    for (size_t i = 0; i < (size_t)OC * C; i++) w[i] = uniform();
    for (int i = 0; i < OC; i++) bias[i] = uniform();
    for (size_t i = 0; i < (size_t)max_bt * C; i++) inp[i] = uniform();
    PackedWeight *pw = matmul_pack_weight(w, C, OC);
    for (int i = 0; i < n_bt; i++)
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            int BT = bts[i];
            const float *b = with_bias ? bias : NULL;
            size_t bytes = (size_t)BT * OC * sizeof(float);
            memset(ref, 0xA5, bytes); // stale contents must not leak into either output
            memset(got, 0x5A, bytes);
            matmul_forward(ref, inp, w, b, BT, C, OC);
            matmul_forward_packed(got, inp, pw, b, BT, C, OC);
            if (memcmp(ref, got, bytes) != 0) {
                size_t k = 0;
                while (memcmp(ref + k, got + k, sizeof(float)) == 0) k++;
                printf("FAIL C=%d OC=%d BT=%d bias=%d threads=%d: first difference at [%zu][%zu] %.9g vs %.9g\n",
                       C, OC, BT, with_bias, threads, k / OC, k % OC, ref[k], got[k]);
                failures++;
            }
        }
    matmul_packed_free(pw);
    free(w); free(bias); free(inp); free(ref); free(got);
    printf("ok C=%d OC=%d, %d thread(s) (%d row counts, with and without bias)\n", C, OC, threads, n_bt);
}

int main(int argc, char **argv) {
    set_program_name(argv[0]);
    const int all[] = {1, 2, 3, 4, 7, 13, 64, 100};
    const int n_all = (int)(sizeof all / sizeof all[0]);
    // thread counts only grow: a shrinking OpenMP team ends threads, and their GEMM buffers with
    // them (thread-local, never freed), which LeakSanitizer would report
    for (int threads = 1; threads <= 3; threads++) {
        omp_set_num_threads(threads);
        check_shape(64, 512, all, n_all, threads);     // the tiny model's classifier
        check_shape(100, 77, all, n_all, threads);     // odd sizes: edge slivers in N and a short K block
        check_shape(300, 1100, all, n_all, threads);   // two K blocks (256 + 44), two NC blocks, edge sliver
        check_shape(768, 2304, all, n_all, threads);   // d12 qkv: three K blocks
        check_shape(3072, 768, (const int[]){1, 4, 13}, 3, threads); // d12 fcproj: twelve K blocks
        check_shape(33, 20, (const int[]){1, 5, 200, 400}, 4, threads); // M > N (split along M), M > MC
        const int bt_big[] = {2};
        check_shape(768, 50304, bt_big, 1, threads);  // d12 tied classifier at a decode batch
    }
    if (failures) {
        printf("%d mismatches\n", failures);
        return 1;
    }
    printf("matmul_forward_packed is bitwise equal to matmul_forward on every shape\n");
    return 0;
}
