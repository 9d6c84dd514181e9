// The model calls of the memorization evaluator (test_memorization.c), behind one interface with two
// implementations: the CPU (llmc/gpt2.h + llmc/gpt2_infer.h + llmc/exposure.h, in test_memorization.c)
// and the GPU (llmc/memorization_cuda.cu, linked into test_memorizationcu). The driver -- example
// selection, probes, metrics, JSON -- is the same code for both, so both give the same files.
//
// Every decision is an argmax over the real vocabulary with the lowest id winning ties, computed in
// fp32 by both backends; they differ only in the order of floating-point sums, which can flip an
// argmax only where the top two logits (nearly) tie. The relative margins returned below let the
// driver count such positions.
#ifndef LLMC_EVAL_BACKEND_H
#define LLMC_EVAL_BACKEND_H

#include <stddef.h>

#include "gpt2.h"

typedef struct EvalBackend EvalBackend;
struct EvalBackend {
    const char *name;          // "cpu" or "cuda"
    char device[256];          // e.g. "NVIDIA H100 80GB HBM3 (compute capability 9.0)"
    const char *precision;     // "fp32"
    int generation_batch;      // rows of one generation / ID-probe batch (the KV cache's rows)

    // Examples of T tokens that one teacher-forced pass takes (at least 1).
    int (*teacher_batch)(EvalBackend *b, int T);
    // Full forward over (B, T) inputs at positions 0..T-1: at each position the argmax (B, T), the
    // relative margin (top-1 - top-2 logit) / max(1, |top-1|) (B, T) and the NLL of targets (nats).
    void (*teacher_forced)(EvalBackend *b, const int *inputs, const int *targets, int B, int T,
                           int *argmax, float *margin, float *nll);
    // Forward over (B, T) tokens at `positions` (B, T), each row causal on its own; argmax and
    // margin at each row's last n_last positions: (B, n_last).
    void (*score_last)(EvalBackend *b, const int *tokens, const int *positions, int B, int T, int n_last,
                       int *argmax, float *margin);
    // Greedy decoding with a KV cache (gpt2_greedy_generate's contract): prompts, positions (B, P),
    // row b's prompt its first lengths[b] tokens (lengths NULL: all P), positions NULL = 0..len-1;
    // writes (B, num_new) ids. Rows of different prompt lengths decode in the same steps.
    // B <= generation_batch.
    void (*greedy_generate)(EvalBackend *b, const int *prompts, const int *positions, const int *lengths, int B, int P,
                            int num_new, int *out);
    // score_continuations (llmc/exposure.h): log-likelihoods of M candidate continuations of one
    // context (P tokens at `positions`); NaN for a candidate needing positions beyond the model's
    // range. max_len: the longest context plus candidate any call will use. Returns the NaN count.
    size_t (*score_continuations)(EvalBackend *b, int max_len, const int *context, const int *positions, int P,
                                  const int *const *candidates, const int *lengths, int M, double *loglik);
    void (*free)(EvalBackend *b);
    void *impl;
};

// Dies with one line unless a CUDA GPU is usable (call it before any long work).
void eval_backend_cuda_check(void);
// The GPU backend (llmc/memorization_cuda.cu): uploads the model's weights to GPU local_rank modulo
// the GPUs present (one GPU per rank under mpirun/srun). cache_len: prompt + generated tokens per
// row of the KV cache; max_examples: the most examples of one teacher-forced pass; max_rows: the
// most rows of one generation batch (the batches are cut to what fits in the GPU's free memory).
// Dies with one line without a GPU.
EvalBackend *eval_backend_cuda_create(const GPT2 *model, int cache_len, int max_examples, int max_rows, int local_rank);

#endif
