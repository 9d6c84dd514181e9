// Batched greedy generation with a KV cache on the CPU, for the memorization evaluator.
// Reads the weights of a loaded GPT2 (never changes them) and reuses its matmul kernel
// and layer kernels (matmul_cpu.h, layers_cpu.h; attention over the cache is its own); the KV cache and scratch buffers live here, so the model's training
// activations are untouched. Rows of a batch may have prompts of different lengths, and each
// row has its own positions (the evaluator feeds tokens at their original positions).
#ifndef LLMC_GPT2_INFER_H
#define LLMC_GPT2_INFER_H

#include "gpt2.h"
#include "matmul_cpu.h"

typedef struct {
    const GPT2 *model;
    int max_batch;      // rows the cache holds
    int max_len;        // tokens per row the cache holds (prompt + generated - 1)
    float *key_cache;   // (L, max_batch, max_len, C)
    float *value_cache; // (L, max_batch, max_len, C)
    // scratch for a chunk of S new tokens per row, (B*S, ...) each
    size_t chunk_capacity; // rows (B*S) the scratch buffers hold
    float *x, *ln, *qkv, *atty, *proj, *fch;
    float *ln_mean, *ln_rstd; // (B*S) LayerNorm statistics (the shared kernel writes them)
    float *att_scores;  // (threads, max_len) one row of attention weights per thread
    float *last_ln;     // (rows, C) final LayerNorm of the positions that get logits
    float *logits;      // (rows, Vp) logits of the last call: (B, n_last, Vp)
    size_t logits_rows; // rows allocated in last_ln and logits
    // The matmul weights packed once (gpt2_infer_pack_weights, on first use; freed with g): a decode
    // step would otherwise re-pack every weight per token. (4L + 1): per layer qkvw, attprojw, fcw,
    // fcprojw, then the tied classifier wte. Outputs are bitwise those of matmul_forward.
    PackedWeight **packed;
    int packed_borrowed;  // packed belongs to another GPT2Infer of the same model (gpt2_infer_share_packed)
} GPT2Infer;

// Indices into GPT2Infer.packed.
enum { GPT2_PACKED_QKV, GPT2_PACKED_ATTPROJ, GPT2_PACKED_FC, GPT2_PACKED_FCPROJ, GPT2_PACKED_PER_LAYER };
#define GPT2_PACKED(g, l, which) ((g)->packed[(size_t)(l) * GPT2_PACKED_PER_LAYER + (which)])
#define GPT2_PACKED_WTE(g) ((g)->packed[(size_t)(g)->model->config.num_layers * GPT2_PACKED_PER_LAYER])

void gpt2_infer_init(GPT2Infer *g, const GPT2 *model, int max_batch, int max_len);
void gpt2_infer_free(GPT2Infer *g);
// Packs the model's matmul weights into g->packed unless already done (about the weights' size
// again in memory). Called by the generation and scoring entry points; the weights must not change
// afterwards while g lives.
void gpt2_infer_pack_weights(GPT2Infer *g);
// dst uses src's packed weights (packing them first if needed) instead of a copy of its own; src
// must hold the same model and outlive dst's use of them.
void gpt2_infer_share_packed(GPT2Infer *dst, GPT2Infer *src);

// Greedy decoding. prompts and positions are (B, P): row b's prompt is its first lengths[b]
// tokens (lengths NULL: all P) and the position of each (positions NULL = 0..len-1). Writes
// (B, num_new) generated ids to out: each new token is the argmax over the real vocabulary (lowest
// id on ties) of the logits at the previous token, and takes the next position. Rows of different
// prompt lengths decode together, each at its own cache length; a row's tokens do not depend on
// the other rows of the batch. Needs B <= max_batch, lengths[b] + num_new - 1 <= max_len and every
// position < max_seq_len (dies with one line otherwise).
void gpt2_greedy_generate(GPT2Infer *g, const int *prompts, const int *positions, const int *lengths, int B, int P,
                          int num_new, int *out);

// Teacher-forced scoring without a loss: runs (B, T) tokens at their positions (each row sees only
// its own tokens, causally) and writes the argmax of the logits at each row's last n_last positions
// to argmax_out (B, n_last). Only those positions pay for the classifier, which dominates small
// models. Uses the cache as scratch (T <= max_len, B <= max_batch).
void gpt2_score_last(GPT2Infer *g, const int *tokens, const int *positions, int B, int T, int n_last, int *argmax_out,
                     float *margin_out);

// Argmax over the first V of Vp logits, lowest index on ties, NaNs skipped, 0 when nothing is
// above -inf (shared with the evaluator's teacher-forced pass so both paths break ties the same
// way; llmc/logit_stats.cuh is the GPU's copy of the rule).
int gpt2_argmax_vocab(const float *logits, int V);
// The same rule over N rows of Vp logits (real vocabulary V), in one pass per row that also gives
// the relative top-2 margin (top-1 - top-2) / max(1, |top-1|) when margin is not NULL (an equal
// runner-up gives 0).
void gpt2_argmax_rows(int *out, float *margin, const float *logits, size_t N, int V, int Vp);

#endif
