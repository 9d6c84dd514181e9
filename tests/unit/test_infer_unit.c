// Checks llmc/gpt2_infer.c (KV-cache greedy generation) against the model's own full forward pass
// (gpt2_forward_positions, itself checked against PyTorch): for a small random model, batched
// cached generation must produce the same tokens as re-running the whole sequence every step, and
// the last step's logits must agree to fp32 rounding; teacher-forced scoring of the last positions
// (gpt2_score_last) must pick the same argmax as the full forward. Rows have different positions.
// Rows of different prompt lengths in one batch (the evaluator batches all context lengths
// together) must give bitwise the tokens and logits each row gives alone.
#include "llmc/gpt2.h"
#include "llmc/gpt2_infer.h"
#include "llmc/utils.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    set_program_name(argv[0]);
    GPT2Config cfg;
    char why[256];
    if (!gpt2_config_make(&cfg, 2, 64, 4, 500, 512, 64, why, sizeof why)) die("config: %s", why);
    GPT2 model;
    gpt2_init_random(&model, cfg, 1234);
    // sharpen the random model (larger weights) so greedy choices have clear margins
    for (size_t i = 0; i < model.param_sizes[GPT2_WTE]; i++) model.params.wte[i] *= 4.0f;
    for (size_t i = 0; i < model.param_sizes[GPT2_WPE]; i++) model.params.wpe[i] *= 4.0f;
    for (size_t i = 0; i < model.param_sizes[GPT2_FCPROJW]; i++) model.params.fcprojw[i] *= 8.0f;
    for (size_t i = 0; i < model.param_sizes[GPT2_FCW]; i++) model.params.fcw[i] *= 8.0f;

    enum { B = 3, P = 7, NEW = 12 };
    const int offsets[B] = {0, 9, 40};
    int prompts[B * P], positions[B * P];
    for (int b = 0; b < B; b++)
        for (int p = 0; p < P; p++) {
            prompts[b * P + p] = (b * 131 + p * 37 + 5) % cfg.vocab_size;
            positions[b * P + p] = offsets[b] + p;
        }
    GPT2Infer gen;
    gpt2_infer_init(&gen, &model, 4, P + NEW > 10 ? P + NEW : 10);
    int generated[B * NEW];
    gpt2_greedy_generate(&gen, prompts, positions, NULL, B, P, NEW, generated);

    // naive decoding: one full forward over prompt + generated-so-far per step, per row
    int failures = 0;
    double worst_logit_diff = 0.0;
    for (int b = 0; b < B; b++) {
        int seq[P + NEW], pos[P + NEW];
        for (int p = 0; p < P; p++) { seq[p] = prompts[b * P + p]; pos[p] = positions[b * P + p]; }
        for (int i = 0; i < NEW; i++) {
            int T = P + i;
            gpt2_forward_positions(&model, seq, pos, NULL, 1, T);
            const float *last = model.logits + (size_t)(T - 1) * cfg.padded_vocab_size;
            int next = gpt2_argmax_vocab(last, cfg.vocab_size);
            if (next != generated[b * NEW + i]) {
                fprintf(stderr, "row %d step %d: cached %d, full forward %d\n", b, i, generated[b * NEW + i], next);
                failures++;
                break;
            }
            if (i == NEW - 1) { // gen.logits holds the logits that chose the last token
                float scale = 0.0f;
                for (int v = 0; v < cfg.vocab_size; v++) scale = fmaxf(scale, fabsf(last[v]));
                for (int v = 0; v < cfg.vocab_size; v++) {
                    double d = fabs(last[v] - gen.logits[(size_t)b * cfg.padded_vocab_size + v]) / scale;
                    if (d > worst_logit_diff) worst_logit_diff = d;
                }
            }
            seq[T] = next;
            pos[T] = pos[T - 1] + 1;
        }
    }
    printf("generated %d x %d tokens; worst relative logit difference %.3g\n", B, NEW, worst_logit_diff);
    if (worst_logit_diff > 1e-4) { fprintf(stderr, "logits differ by more than 1e-4\n"); failures++; }
    // the generation must not be degenerate (otherwise the comparison proves little)
    int distinct = 0;
    for (int i = 0; i < B * NEW; i++) {
        int seen = 0;
        for (int j = 0; j < i; j++) seen |= generated[j] == generated[i];
        distinct += !seen;
    }
    if (distinct < 4) { fprintf(stderr, "only %d distinct generated tokens\n", distinct); failures++; }
    // teacher-forced scoring of the last positions equals the full forward's argmax there
    {
        enum { T = 10, LAST = 4 };
        int toks[B * T], poss[B * T], scored[B * LAST], full[B * T];
        for (int i = 0; i < B * T; i++) { toks[i] = (i * 53 + 11) % cfg.vocab_size; poss[i] = offsets[i / T] + i % T; }
        gpt2_score_last(&gen, toks, poss, B, T, LAST, scored, NULL);
        gpt2_forward_positions(&model, toks, poss, NULL, B, T);
        for (int i = 0; i < B * T; i++) full[i] = gpt2_argmax_vocab(model.logits + (size_t)i * cfg.padded_vocab_size, cfg.vocab_size);
        for (int b = 0; b < B; b++)
            for (int j = 0; j < LAST; j++)
                if (scored[b * LAST + j] != full[b * T + T - LAST + j]) {
                    fprintf(stderr, "score_last row %d position %d: %d, full forward %d\n", b, T - LAST + j, scored[b * LAST + j], full[b * T + T - LAST + j]);
                    failures++;
                }
    }
    // the argmax rule shared with the GPU (llmc/logit_stats.cuh): lowest id on ties, NaN never wins
    {
        const float nan_first[5] = {NAN, 1.0f, 3.0f, 3.0f, -1.0f}, all_inf[3] = {-INFINITY, -INFINITY, -INFINITY};
        const float all_nan[3] = {NAN, NAN, NAN}, nan_between[4] = {2.0f, 5.0f, NAN, 5.0f};
        const struct { const float *row; int V, want; const char *what; } cases[] = {
            {nan_first, 5, 2, "NaN at id 0, tie of 3 at ids 2 and 3"}, {all_inf, 3, 0, "all -inf"},
            {all_nan, 3, 0, "all NaN"}, {nan_between, 4, 1, "NaN between a tie of 5 at ids 1 and 3"}};
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
            int got = gpt2_argmax_vocab(cases[i].row, cases[i].V);
            if (got != cases[i].want) { fprintf(stderr, "argmax (%s): %d, expected %d\n", cases[i].what, got, cases[i].want); failures++; }
        }
        // the one-pass rows version: the same ids, and the top-2 margin (0 for a tie with the winner)
        const float rows[2][5] = {{NAN, 1.0f, 3.0f, 3.0f, -1.0f}, {2.0f, 5.0f, NAN, 4.0f, -8.0f}};
        const int want_id[2] = {2, 1};
        const float want_margin[2] = {0.0f, (5.0f - 4.0f) / 5.0f};
        int ids[2];
        float margins[2];
        gpt2_argmax_rows(ids, margins, &rows[0][0], 2, 5, 5);
        for (int r = 0; r < 2; r++)
            if (ids[r] != want_id[r] || fabsf(margins[r] - want_margin[r]) > 1e-7f) {
                fprintf(stderr, "argmax rows, row %d: id %d margin %g, expected %d and %g\n", r, ids[r], margins[r], want_id[r],
                        want_margin[r]);
                failures++;
            }
    }
    // ragged batch: prompts of 7, 2, 2, 5 tokens (two share a prefill pass) against each row alone
    {
        enum { R = 4 };
        const int lens[R] = {7, 2, 2, 5};
        int rp[R * P], rpos[R * P], together[R * NEW], alone[NEW];
        float last_logits[R][512];
        for (int b = 0; b < R; b++)
            for (int p = 0; p < P; p++) {
                rp[b * P + p] = p < lens[b] ? (b * 71 + p * 13 + 3) % cfg.vocab_size : -1; // padding is never read
                rpos[b * P + p] = 5 * b + p;
            }
        gpt2_greedy_generate(&gen, rp, rpos, lens, R, P, NEW, together);
        for (int b = 0; b < R; b++) memcpy(last_logits[b], gen.logits + (size_t)b * cfg.padded_vocab_size, cfg.vocab_size * sizeof(float));
        int ragged_failures = 0;
        for (int b = 0; b < R; b++) {
            gpt2_greedy_generate(&gen, rp + b * P, rpos + b * P, NULL, 1, lens[b], NEW, alone);
            if (memcmp(alone, together + b * NEW, sizeof alone) != 0) {
                fprintf(stderr, "ragged row %d (prompt %d tokens): tokens differ from the row alone\n", b, lens[b]);
                ragged_failures++;
            } else if (memcmp(last_logits[b], gen.logits, cfg.vocab_size * sizeof(float)) != 0) {
                fprintf(stderr, "ragged row %d (prompt %d tokens): last logits differ from the row alone\n", b, lens[b]);
                ragged_failures++;
            }
        }
        int distinct_rows = 0;  // rows must differ, or the check could pass with rows mixed up
        for (int b = 0; b < R; b++) {
            int same = 0;
            for (int c = 0; c < b; c++) same |= memcmp(together + b * NEW, together + c * NEW, NEW * sizeof(int)) == 0;
            distinct_rows += !same;
        }
        if (distinct_rows < R) { fprintf(stderr, "ragged rows generate identical tokens\n"); ragged_failures++; }
        if (!ragged_failures) printf("rows of prompt lengths 7, 2, 2, 5 in one batch: bitwise the tokens and logits of each alone\n");
        failures += ragged_failures;
    }
    gpt2_infer_free(&gen);
    gpt2_free(&model);
    if (failures) { fprintf(stderr, "%d failures\n", failures); return 1; }
    printf("KV-cache generation equals full-forward greedy decoding\n");
    return 0;
}
