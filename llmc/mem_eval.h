// --mem_eval_every of the trainers: the teacher-forced memorization probe of test_memorization
// (llmc/teacher_forced.h) on fixed rows of the training shard (members) and of the validation
// shard (non-members), logged as the train_log.jsonl field "mem_eval". The model call is the
// caller's (the CPU or the GPU model), so both trainers share everything else.
#ifndef LLMC_MEM_EVAL_H
#define LLMC_MEM_EVAL_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "dataloader.h"
#include "train_args.h"

#define MEM_GROUPS 2  // members, non-members

typedef struct {
    int enabled;
    int *ks, num_ks;                    // context lengths that fit, ascending
    int M;                              // new tokens per probe
    int T;                              // tokens per forward: max k + M <= the training T
    int B;                              // rows per forward <= the training B (the GPU's activations fit)
    int n[MEM_GROUPS];                  // rows per group
    int *inputs[MEM_GROUPS];            // (n, T) record[0 .. T)
    int *targets[MEM_GROUPS];           // (n, T) record[1 .. T]
    int *argmax;                        // (B, T)
    int *exact[MEM_GROUPS];             // (num_ks) rows with every continuation token right
    int64_t *correct[MEM_GROUPS];       // (num_ks) right continuation tokens, summed over rows
    double seconds;                     // of the last run
} MemEval;

// The model's argmax prediction at every position of rows (rows, T) of inputs: argmax (rows, T).
typedef void (*MemEvalArgmax)(void *model, const int *inputs, int rows, int T, int *argmax);

// The probe's plan from the flags: the context lengths and new tokens that fit the training rows
// of train_T tokens (the GPU trainer has activations for train_B x train_T only), and the rows of
// each group (copied once; no RNG is touched). Disabled when --mem_eval_every is 0; dies with one
// line when there are no non-members (--validation_file none) or no context length fits.
void mem_eval_setup(MemEval *me, const TrainArgs *a, const DataLoader *train, const DataLoader *val, int train_T,
                    int train_B);
void mem_eval_free(MemEval *me);
// Both groups, a forward per train_B rows: exact match and token accuracy per context length.
cJSON *mem_eval_run(MemEval *me, MemEvalArgmax argmax_of, void *model);
// One stderr line: exact-match rate of members / non-members at each k.
void mem_eval_print(const MemEval *me, int64_t step);

#endif
