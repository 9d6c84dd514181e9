// Greedy generation in a fast, inexact precision (the GPU evaluator's TF32 mode) made exact: a row
// whose new tokens were all chosen with a top-2 margin above the bound is kept; a row that met a
// near tie keeps its tokens before the first one and goes on from there in the exact precision.
// Its prompt then is the original prompt plus those tokens, which are the exact precision's own
// (each was chosen by a margin the rounding cannot overturn). All such rows run as one batch.
// Host logic only: llmc/memorization_cuda.cu calls it with its fp32 generator, and
// tests/unit/test_near_tie_rerun.c with the CPU's.
#ifndef LLMC_NEAR_TIE_RERUN_H
#define LLMC_NEAR_TIE_RERUN_H

// The exact generator: greedy_generate's contract (llmc/eval_backend.h).
typedef void (*ExactGenerate)(void *ctx, const int *prompts, const int *positions, const int *lengths, int B, int P,
                              int num_new, int *out);

// prompts, positions (B, P) with lengths (B) as given to the fast pass (positions NULL: 0..len-1,
// lengths NULL: all P); out (B, num_new) holds the fast pass's tokens and gets the exact ones;
// first[b]: index of row b's first token chosen below the bound (num_new: none). cache_len: the
// most tokens (prompt + new - 1) a row of the exact generator holds; max_positions: the model's.
// A row whose later start would overrun either, at the batch's token count, starts at its prompt
// (the fast pass fitted, so that does too). Returns the number of rows generated again.
int continue_from_near_ties(ExactGenerate exact, void *ctx, const int *prompts, const int *positions, const int *lengths,
                            int B, int P, int num_new, const int *first, int cache_len, int max_positions, int *out);

#endif
