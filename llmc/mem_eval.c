// --mem_eval_every of train_gpt2 and train_gpt2cu (see mem_eval.h).
#include "mem_eval.h"

#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "teacher_forced.h"
#include "utils.h"

static const char *const MEM_GROUP_NAMES[MEM_GROUPS] = {"members", "non_members"};

// Rows i * N / n, i = 0..n-1: evenly spread and fixed, copied once; no RNG is touched.
static void take_rows(MemEval *me, int g, const DataLoader *dl, int64_t want) {
    size_t N = dl->num_records;
    int n = (int)(want < (int64_t)N ? want : (int64_t)N);
    int T = me->T, R = dl->record_length;
    me->n[g] = n;
    me->inputs[g] = (int *)malloc_or_die((size_t)n * T * sizeof(int));
    me->targets[g] = (int *)malloc_or_die((size_t)n * T * sizeof(int));
    for (int i = 0; i < n; i++) {
        size_t row = (size_t)((uint64_t)i * N / (uint64_t)n);
        const uint16_t *rec = dl->shard.tokens + row * R;
        for (int j = 0; j < T; j++) {
            me->inputs[g][(size_t)i * T + j] = rec[j];
            me->targets[g][(size_t)i * T + j] = rec[j + 1];
        }
    }
    me->exact[g] = (int *)calloc_or_die((size_t)me->num_ks, sizeof(int));
    me->correct[g] = (int64_t *)calloc_or_die((size_t)me->num_ks, sizeof(int64_t));
}

void mem_eval_setup(MemEval *me, const TrainArgs *a, const DataLoader *train, const DataLoader *val, int train_T,
                    int train_B) {
    memset(me, 0, sizeof *me);
    if (a->mem_eval_every == 0) return;
    if (!val)
        die("--mem_eval_every needs non-members from the held-out split, but --validation_file is none "
            "(pass the dataset's test.bin, or drop --mem_eval_every)");
    me->enabled = 1;
    me->ks = (int *)malloc_or_die((size_t)a->mem_eval_num_ks * sizeof(int));
    for (int i = 0; i < a->mem_eval_num_ks; i++) me->ks[i] = (int)a->mem_eval_ks[i];
    me->num_ks = sort_unique_ints(me->ks, a->mem_eval_num_ks);
    if (me->ks[0] >= train_T)
        die("--mem_eval_context_lengths %s: none fits the training rows of T=%d tokens with at least one new token "
            "(use context lengths below %d)", a->mem_eval_context_lengths, train_T, train_T);
    me->M = (int)a->mem_eval_new_tokens;
    if (me->ks[0] + me->M > train_T) {
        me->M = train_T - me->ks[0];
        warn("--mem_eval_new_tokens %lld: clipped to %d so that k=%d plus the new tokens fits the training rows of T=%d tokens",
             (long long)a->mem_eval_new_tokens, me->M, me->ks[0], train_T);
    }
    int kept = 0;
    char dropped[256] = "";
    for (int i = 0; i < me->num_ks; i++) {
        if (me->ks[i] + me->M <= train_T) { me->ks[kept++] = me->ks[i]; continue; }
        size_t used = strlen(dropped);
        if (used + 16 < sizeof dropped) snprintf(dropped + used, sizeof dropped - used, "%s%d", used ? "," : "", me->ks[i]);
        else if (!strstr(dropped, "...")) snprintf(dropped + used, sizeof dropped - used, ",...");  // a long list, cut
    }
    if (kept < me->num_ks)
        warn("--mem_eval_context_lengths: dropping %s (k + %d new tokens exceeds the training rows of T=%d tokens)",
             dropped, me->M, train_T);
    me->num_ks = kept;
    me->T = me->ks[me->num_ks - 1] + me->M;
    me->B = (int)(a->mem_eval_examples < train_B ? a->mem_eval_examples : train_B);
    take_rows(me, 0, train, a->mem_eval_examples);
    take_rows(me, 1, val, a->mem_eval_examples);
    me->argmax = (int *)malloc_or_die((size_t)me->B * me->T * sizeof(int));
}

void mem_eval_free(MemEval *me) {
    if (!me->enabled) return;
    for (int g = 0; g < MEM_GROUPS; g++) {
        free(me->inputs[g]); free(me->targets[g]); free(me->exact[g]); free(me->correct[g]);
    }
    free(me->argmax);
    free(me->ks);
}

// One group: a forward pass per B rows (no targets), argmax at every position, then each k's
// continuation positions decide, as in test_memorization's teacher-forced pass.
static void run_group(MemEval *me, int g, MemEvalArgmax argmax_of, void *model) {
    const int T = me->T, n = me->n[g];
    memset(me->exact[g], 0, (size_t)me->num_ks * sizeof(int));
    memset(me->correct[g], 0, (size_t)me->num_ks * sizeof(int64_t));
    for (int first = 0; first < n; first += me->B) {
        int rows = n - first < me->B ? n - first : me->B;
        argmax_of(model, me->inputs[g] + (size_t)first * T, rows, T, me->argmax);
        for (int r = 0; r < rows; r++) {
            const int *am = me->argmax + (size_t)r * T, *tg = me->targets[g] + (size_t)(first + r) * T;
            for (int ki = 0; ki < me->num_ks; ki++) {
                int first_wrong;
                me->correct[g][ki] += teacher_forced_score(am, tg, me->ks[ki], me->M, &first_wrong);
                me->exact[g][ki] += first_wrong < 0;
            }
        }
    }
}

cJSON *mem_eval_run(MemEval *me, MemEvalArgmax argmax_of, void *model) {
    double t0 = now_seconds();
    for (int g = 0; g < MEM_GROUPS; g++) run_group(me, g, argmax_of, model);
    cJSON *out = cJSON_CreateObject();
    cJSON *ks = cJSON_AddArrayToObject(out, "context_lengths");
    for (int ki = 0; ki < me->num_ks; ki++) cJSON_AddItemToArray(ks, cJSON_CreateNumber(me->ks[ki]));
    cJSON_AddNumberToObject(out, "new_tokens", me->M);
    for (int g = 0; g < MEM_GROUPS; g++) {
        cJSON *group = cJSON_AddObjectToObject(out, MEM_GROUP_NAMES[g]);
        cJSON_AddNumberToObject(group, "examples", me->n[g]);
        cJSON *em = cJSON_AddArrayToObject(group, "exact_match");
        cJSON *acc = cJSON_AddArrayToObject(group, "token_accuracy");
        for (int ki = 0; ki < me->num_ks; ki++) {
            cJSON_AddItemToArray(em, cJSON_CreateNumber((double)me->exact[g][ki] / me->n[g]));
            cJSON_AddItemToArray(acc, cJSON_CreateNumber((double)me->correct[g][ki] / ((double)me->n[g] * me->M)));
        }
    }
    me->seconds = now_seconds() - t0;
    cJSON_AddNumberToObject(out, "seconds", me->seconds);
    return out;
}

void mem_eval_print(const MemEval *me, int64_t step) {
    fprintf(stderr, "mem eval step %lld | exact match members/non-members:", (long long)step);
    for (int ki = 0; ki < me->num_ks; ki++)
        fprintf(stderr, " k=%d %.2f/%.2f", me->ks[ki], (double)me->exact[0][ki] / me->n[0], (double)me->exact[1][ki] / me->n[1]);
    fprintf(stderr, " | %d+%d examples, %d new tokens | %.2f s\n", me->n[0], me->n[1], me->M, me->seconds);
}
