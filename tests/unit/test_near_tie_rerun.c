// Checks llmc/near_tie_rerun.c, the host logic of the GPU evaluator's TF32 mode, with the CPU's
// greedy generator as the exact one: a "fast" result that agrees with the exact tokens before each
// row's first near tie and is wrong from there on must come out equal to the exact generation, and
// rows must restart where they can (recorded prompt lengths), at their prompt where a later start
// would overrun the cache or the model's positions.
#include "llmc/gpt2.h"
#include "llmc/gpt2_infer.h"
#include "llmc/near_tie_rerun.h"
#include "llmc/utils.h"

#include <stdio.h>
#include <string.h>

enum { B = 6, P = 7, NEW = 12, MAX_T = 64 };

typedef struct {
    GPT2Infer *gen;
    int calls, rows, lengths[B], num_new;
} Exact;

static void exact_generate(void *ctx, const int *prompts, const int *positions, const int *lengths, int rows, int stride,
                           int num_new, int *out) {
    Exact *e = ctx;
    e->calls++;
    e->rows = rows;
    e->num_new = num_new;
    for (int i = 0; i < rows && i < B; i++) e->lengths[i] = lengths[i];
    gpt2_greedy_generate(e->gen, prompts, positions, lengths, rows, stride, num_new, out);
}

static int failures = 0;
static void expect(int ok, const char *what) {
    if (!ok) { fprintf(stderr, "FAIL %s\n", what); failures++; }
}

// One case: fast tokens = exact ones before first[r], wrong from there; the result must be exact.
static void run_case(const char *name, GPT2Infer *gen, const int *prompts, const int *positions, const int *lengths,
                     const int *first, const int *reference, int cache_len, int want_reruns, const int *want_lengths) {
    int out[B * NEW];
    for (int r = 0; r < B; r++)
        for (int i = 0; i < NEW; i++)
            out[r * NEW + i] = i < first[r] ? reference[r * NEW + i] : (reference[r * NEW + i] + 1 + i) % 500;
    Exact e = {gen, 0, 0, {0}, 0};
    int n = continue_from_near_ties(exact_generate, &e, prompts, positions, lengths, B, P, NEW, first, cache_len, MAX_T, out);
    char what[160];
    snprintf(what, sizeof what, "%s: %d rows generated again (expected %d)", name, n, want_reruns);
    expect(n == want_reruns && e.rows == want_reruns && e.calls == (want_reruns > 0), what);
    snprintf(what, sizeof what, "%s: the result equals the exact generation", name);
    expect(memcmp(out, reference, sizeof out) == 0, what);
    for (int i = 0; i < want_reruns; i++) {
        snprintf(what, sizeof what, "%s: rerun %d starts from a prompt of %d tokens (expected %d)", name, i, e.lengths[i],
                 want_lengths[i]);
        expect(e.lengths[i] == want_lengths[i], what);
    }
    if (!failures) printf("%s: ok (%d rows again, %d new tokens each)\n", name, n, e.num_new);
}

int main(int argc, char **argv) {
    set_program_name(argv[0]);
    GPT2Config cfg;
    char why[256];
    if (!gpt2_config_make(&cfg, 2, 64, 4, 500, 512, MAX_T, why, sizeof why)) die("config: %s", why);
    GPT2 model;
    gpt2_init_random(&model, cfg, 4321);
    for (size_t i = 0; i < model.param_sizes[GPT2_WTE]; i++) model.params.wte[i] *= 4.0f;  // clear margins
    for (size_t i = 0; i < model.param_sizes[GPT2_FCW]; i++) model.params.fcw[i] *= 8.0f;

    // ragged prompts at their own positions; the last row ends close to the model's last position
    const int lengths[B] = {7, 3, 3, 5, 7, 2}, offsets[B] = {0, 4, 9, 20, 1, 50};
    int prompts[B * P], positions[B * P], reference[B * NEW];
    for (int r = 0; r < B; r++)
        for (int j = 0; j < P; j++) {
            prompts[r * P + j] = (r * 97 + j * 31 + 7) % cfg.vocab_size;
            positions[r * P + j] = offsets[r] + j;
        }
    const int roomy = P + 2 * NEW;  // a cache long enough for any restart
    GPT2Infer gen;
    gpt2_infer_init(&gen, &model, B, roomy);
    gpt2_greedy_generate(&gen, prompts, positions, lengths, B, P, NEW, reference);

    // nothing to redo
    const int none[B] = {NEW, NEW, NEW, NEW, NEW, NEW};
    run_case("no near ties", &gen, prompts, positions, lengths, none, reference, roomy, 0, NULL);
    // rows 1, 2, 4, 5 met near ties at tokens 0, 5, 11, 3. Row 5 (prompt at positions 50, 51; the
    // fast pass reached 62): restarting at 3 with 12 tokens to make would reach 51 + 3 + 12 - 1 = 65,
    // past the model's 64 positions, so it starts at its prompt.
    // Sorted by new prompt length: row 5 (2+0), row 1 (3+0), row 2 (3+5), row 4 (7+11).
    const int some[B] = {NEW, 0, 5, NEW, 11, 3};
    const int some_lengths[] = {2, 3, 8, 18};
    run_case("restarts", &gen, prompts, positions, lengths, some, reference, roomy, 4, some_lengths);
    // a cache of exactly what the fast pass used (7 + 12 - 1 = 18): row 4's restart at 11 would need
    // 7 + 11 + 12 - 1 = 29 slots, row 2's 3 + 5 + 12 - 1 = 19; both start at their prompts
    GPT2Infer tight;
    gpt2_infer_init(&tight, &model, B, P + NEW - 1);
    const int tight_lengths[] = {2, 3, 3, 7};
    run_case("tight cache", &tight, prompts, positions, lengths, some, reference, P + NEW - 1, 4, tight_lengths);
    // when no row restarts at 0, every row can keep its prefix: rows 2 and 4 at 5 and 11 make 7 tokens
    const int late[B] = {NEW, NEW, 5, NEW, 11, NEW};
    const int late_lengths[] = {8, 18};
    run_case("late restarts", &gen, prompts, positions, lengths, late, reference, roomy, 2, late_lengths);

    gpt2_infer_free(&gen);
    gpt2_infer_free(&tight);
    gpt2_free(&model);
    if (failures) { fprintf(stderr, "%d failures\n", failures); return 1; }
    printf("continue_from_near_ties: every case equals the exact generation\n");
    return 0;
}
