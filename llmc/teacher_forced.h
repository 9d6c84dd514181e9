// The teacher-forced memorization probe, shared by test_memorization's fast path and the
// trainers' --mem_eval_every, so both decide "memorized" by the same rule.
//
// A row is a memlens record: record[0] = eot, then the example's tokens. One forward pass over
// inputs record[0 .. Tf) with targets[j] = record[j+1] gives at every position j the argmax
// prediction of record[j+1]. For context length k the prompt is eot + the first k example tokens
// (record[0 .. k], positions 0..k, as in training), and greedy decoding of M new tokens reproduces
// the true continuation exactly iff argmax[j] == targets[j] for every j in k .. k+M-1 (each
// greedy step then sees the true tokens). So Tf = max k + M covers every k at once.
#ifndef LLMC_TEACHER_FORCED_H
#define LLMC_TEACHER_FORCED_H

#include "gpt2.h"

// Argmax over the real vocabulary (lowest id on ties, gpt2_argmax_vocab) of the logits at every
// position of the model's last forward: out (B*T) for that forward's B, T. Call it before
// gpt2_backward, which overwrites the logits.
void gpt2_argmax_positions(const GPT2 *m, int *out);

// One row and one context length k: how many of positions k .. k+M-1 have argmax == target;
// *first_wrong = the offset (0..M-1) of the first wrong one, or -1 when all M are right (exact
// match). argmax and targets are the row's (Tf) arrays, k + M <= Tf.
int teacher_forced_score(const int *argmax, const int *targets, int k, int M, int *first_wrong);

#endif
