#include "near_tie_rerun.h"

#include <stdlib.h>
#include <string.h>

#include "utils.h"

typedef struct {
    int row, restart, len, base;  // base: the prompt's last position
} Rerun;

static int by_new_prompt_length(const void *a, const void *b) {
    const Rerun *x = a, *y = b;
    int lx = x->len + x->restart, ly = y->len + y->restart;
    if (lx != ly) return (lx > ly) - (lx < ly);
    return (x->row > y->row) - (x->row < y->row);
}

int continue_from_near_ties(ExactGenerate exact, void *ctx, const int *prompts, const int *positions, const int *lengths,
                            int B, int P, int num_new, const int *first, int cache_len, int max_positions, int *out) {
    int n = 0;
    for (int r = 0; r < B; r++) n += first[r] < num_new;
    if (n == 0) return 0;
    Rerun *rr = malloc_or_die((size_t)n * sizeof *rr);
    for (int r = 0, i = 0; r < B; r++) {
        if (first[r] >= num_new) continue;
        rr[i].row = r;
        rr[i].restart = first[r] < 0 ? 0 : first[r];
        rr[i].len = lengths ? lengths[r] : P;
        rr[i].base = positions ? positions[(size_t)r * P + rr[i].len - 1] : rr[i].len - 1;
        i++;
    }
    // every row generates num_new - (earliest restart) tokens; a row that would overrun falls back to
    // its prompt, which can lower the earliest restart, so check again until nothing changes
    int n_gen = num_new;
    for (int changed = 1; changed;) {
        changed = 0;
        int earliest = num_new;
        for (int i = 0; i < n; i++)
            if (rr[i].restart < earliest) earliest = rr[i].restart;
        n_gen = num_new - earliest;
        for (int i = 0; i < n; i++)
            if (rr[i].restart > 0 && (rr[i].len + rr[i].restart + n_gen - 1 > cache_len ||
                                      rr[i].base + rr[i].restart + n_gen - 1 >= max_positions)) {
                rr[i].restart = 0;
                changed = 1;
            }
    }
    qsort(rr, (size_t)n, sizeof *rr, by_new_prompt_length);  // one prompt length: one prefill pass
    const int P2 = P + num_new;
    int *pr = malloc_or_die((size_t)n * P2 * sizeof(int)), *po = malloc_or_die((size_t)n * P2 * sizeof(int));
    int *le = malloc_or_die((size_t)n * sizeof(int)), *again = malloc_or_die((size_t)n * n_gen * sizeof(int));
    for (int i = 0; i < n; i++) {
        const Rerun *x = &rr[i];
        for (int j = 0; j < x->len; j++) {
            pr[(size_t)i * P2 + j] = prompts[(size_t)x->row * P + j];
            po[(size_t)i * P2 + j] = positions ? positions[(size_t)x->row * P + j] : j;
        }
        for (int j = 0; j < x->restart; j++) {
            pr[(size_t)i * P2 + x->len + j] = out[(size_t)x->row * num_new + j];
            po[(size_t)i * P2 + x->len + j] = x->base + 1 + j;
        }
        le[i] = x->len + x->restart;
    }
    exact(ctx, pr, po, le, n, P2, n_gen, again);
    for (int i = 0; i < n; i++)
        memcpy(out + (size_t)rr[i].row * num_new + rr[i].restart, again + (size_t)i * n_gen,
               (size_t)(num_new - rr[i].restart) * sizeof(int));
    free(rr); free(pr); free(po); free(le); free(again);
    return n;
}
