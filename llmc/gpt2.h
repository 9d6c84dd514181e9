// The GPT-2 model on the CPU in fp32: configuration, parameter layout (llm.c's order, one
// contiguous block), initialisation, llm.c checkpoint files (v3 fp32, v5 bf16), forward, backward.
// Kernels live in layers_cpu.c and matmul_cpu.c; the optimizer in adamw.c.
//
// Shapes: B batch, T sequence length, C channels, L layers, NH heads, V vocab, Vp padded vocab.
// Every computation is deterministic for a fixed thread count (static schedules, fixed reduction
// order); in fact the results do not depend on the thread count either.
#ifndef LLMC_GPT2_H
#define LLMC_GPT2_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int max_seq_len;        // maxT: rows of wpe (1024 for GPT-2)
    int vocab_size;         // V: real tokens (50257)
    int padded_vocab_size;  // Vp: rows of wte (50304); logits exist for all Vp, the loss uses V
    int num_layers;         // L
    int num_heads;          // NH
    int channels;           // C
} GPT2Config;

#define GPT2_MAGIC 20240326
#define GPT2_VERSION_FP32 3
#define GPT2_VERSION_BF16 5

#define GPT2_NUM_PARAM_TENSORS 16
// llm.c's order. The index constants say which tensor is which.
enum {
    GPT2_WTE, GPT2_WPE, GPT2_LN1W, GPT2_LN1B, GPT2_QKVW, GPT2_QKVB, GPT2_ATTPROJW, GPT2_ATTPROJB,
    GPT2_LN2W, GPT2_LN2B, GPT2_FCW, GPT2_FCB, GPT2_FCPROJW, GPT2_FCPROJB, GPT2_LNFW, GPT2_LNFB
};
extern const char *const GPT2_PARAM_NAMES[GPT2_NUM_PARAM_TENSORS];

// Pointers into one contiguous block (params_memory or grads_memory).
typedef struct {
    float *wte;       // (Vp, C)    token embeddings, tied with the output classifier
    float *wpe;       // (maxT, C)  position embeddings
    float *ln1w;      // (L, C)
    float *ln1b;      // (L, C)
    float *qkvw;      // (L, 3C, C)
    float *qkvb;      // (L, 3C)
    float *attprojw;  // (L, C, C)
    float *attprojb;  // (L, C)
    float *ln2w;      // (L, C)
    float *ln2b;      // (L, C)
    float *fcw;       // (L, 4C, C)
    float *fcb;       // (L, 4C)
    float *fcprojw;   // (L, C, 4C)
    float *fcprojb;   // (L, C)
    float *lnfw;      // (C)
    float *lnfb;      // (C)
} GPT2Params;

// Activations of the last forward pass (carved from one block for the current B, T).
typedef struct {
    float *encoded;    // (B, T, C)      wte[token] + wpe[position]
    float *ln1;        // (L, B, T, C)
    float *ln1_mean;   // (L, B, T)
    float *ln1_rstd;   // (L, B, T)
    float *qkv;        // (L, B, T, 3C)
    float *atty;       // (L, B, T, C)    attention output before the projection
    float *att;        // (L, B, NH, T, T) softmax probabilities (causal; upper triangle unused)
    float *residual2;  // (L, B, T, C)    residual + attention projection (fused, not kept apart)
    float *ln2;        // (L, B, T, C)
    float *ln2_mean;   // (L, B, T)
    float *ln2_rstd;   // (L, B, T)
    float *fch;        // (L, B, T, 4C)
    float *fch_gelu;   // (L, B, T, 4C)
    float *residual3;  // (L, B, T, C)    residual2 + MLP projection (fused)
    float *lnf;        // (B, T, C)
    float *lnf_mean;   // (B, T)
    float *lnf_rstd;   // (B, T)
    float *logits;     // (B, T, Vp)
    float *probs;      // (B, T, Vp)     softmax over the first V columns (only with targets)
    float *losses;     // (B, T)         per-token cross-entropy (only with targets; 0 where ignored)
} GPT2Acts;
#define GPT2_NUM_ACT_TENSORS 20

typedef struct GPT2 {
    GPT2Config config;
    GPT2Params params;
    size_t param_sizes[GPT2_NUM_PARAM_TENSORS];  // element counts
    float *params_memory;                        // num_parameters floats, llm.c order
    size_t num_parameters;
    // Gradients: allocated on the first gpt2_zero_grad/gpt2_backward (inference never pays for them).
    GPT2Params grads;
    float *grads_memory;
    // Activations of the last forward; backward scratch (one layer's worth of activation grads,
    // see layout_grad_acts in gpt2_cpu.c).
    GPT2Acts acts;
    GPT2Acts grads_acts;
    float *acts_memory;
    float *grads_acts_memory;
    size_t acts_capacity;        // floats allocated in acts_memory
    size_t grads_acts_capacity;  // floats allocated in grads_acts_memory
    int batch_size;              // B of the last forward
    int seq_len;                 // T of the last forward
    int *inputs;                 // (B, T) copy of the last inputs
    int *positions;              // (B, T) copy of the positions used
    int *targets;                // (B, T) copy of the targets (or NULL when none were given)
    size_t io_capacity;          // ints allocated in inputs/positions/targets
    float *logits;               // = acts.logits: (B, T, Vp) after forward
    float *losses;               // = acts.losses: (B, T) per-token loss after forward with targets
    float mean_loss;             // mean over tokens with target >= 0; -1 when no targets were given
    int num_loss_tokens;         // tokens counted in mean_loss
    int has_targets;             // whether the last forward had targets (backward needs them)
    int grads_pending_zero;      // set by gpt2_zero_grad: the next backward overwrites the grads
} GPT2;

// ---- configuration
// "d2","d4","d6","d12","d24","d36","d48" -> 1 (fills c), else 0. GPT-2 vocab (50257 -> 50304),
// max_seq_len 1024. Channels/heads: d2 128/2, d4 256/4, d6 384/6, d12 768/12, d24 1024/16,
// d36 1280/20, d48 1600/25.
int gpt2_config_from_descriptor(const char *desc, GPT2Config *c);
// Pretrained names (gpt2, gpt2-medium, gpt2-large, gpt2-xl, distilgpt2) live as converted llm.c
// files <model_dir>/<name>.bin (scripts/download_gpt2.sh makes them). Returns 1 and the path in out
// when name is one of them, else 0. Dies with one line saying how to get the file when it is
// missing; flag names the flag for that message ("--model_name").
int gpt2_resolve_pretrained(const char *name, const char *model_dir, const char *flag, char *out, size_t out_len);
// Explicit shape; returns 1 when valid, else 0 with a reason in why (may be NULL). Vp is V rounded
// up to a multiple of 128 when padded_vocab_size is 0.
int gpt2_config_make(GPT2Config *c, int num_layers, int channels, int num_heads, int vocab_size,
                     int padded_vocab_size, int max_seq_len, char *why, size_t why_len);
int gpt2_config_validate(const GPT2Config *c, char *why, size_t why_len);
// Element counts of the 16 tensors; returns the total.
size_t gpt2_param_sizes(const GPT2Config *c, size_t sizes[GPT2_NUM_PARAM_TENSORS]);
// Whether tensor i gets weight decay (the 2-D weights: wte wpe qkvw attprojw fcw fcprojw).
int gpt2_param_is_decayed(int tensor_index);
// Training FLOPs per token at sequence length T (6 x matmul params + attention), for MFU/GFLOP/s.
double gpt2_train_flops_per_token(const GPT2Config *c, int T);

// ---- construction
// GPT-2 init from a seed: N(0, 0.02) weights, residual projections (attprojw, fcprojw) scaled by
// 1/sqrt(2L), biases 0, LayerNorm w=1 b=0, padded vocab rows 0. Same seed -> same bits.
void gpt2_init_random(GPT2 *m, GPT2Config c, uint64_t seed);
// Allocate for a shape with every parameter zero (for converters that fill all tensors themselves).
void gpt2_init_empty(GPT2 *m, GPT2Config c);
// llm.c model file, version 3 (fp32) or 5 (bf16). Dies with one line naming the file on bad input.
void gpt2_init_from_checkpoint(GPT2 *m, const char *path);
// Same, but returns 0 on success or -1 with a one-line reason in why (nothing allocated on error).
int gpt2_init_from_checkpoint_try(GPT2 *m, const char *path, char *why, size_t why_len);
// Atomic write (temp + fsync + rename); bf16 = 1 writes version 5 (round to nearest even).
void gpt2_save_checkpoint(const GPT2 *m, const char *path, int bf16);
// 0 on success; -1 with errno set (ENOSPC, EACCES, ENOENT for a missing directory...) and no file
// left behind (an existing file under path is untouched).
int gpt2_save_checkpoint_try(const GPT2 *m, const char *path, int bf16);
void gpt2_free(GPT2 *m);

// ---- compute
// inputs, targets: (B, T) token ids. targets may be NULL (no loss, no probs); a target < 0 is
// ignored in the loss. Activations are (re)allocated only when the needed size grows.
// Dies with one line when an id is outside [0, V) or T > max_seq_len.
void gpt2_forward(GPT2 *m, const int *inputs, const int *targets, int B, int T);
// positions: (B, T) indices into wpe (each < max_seq_len), or NULL for 0..T-1 in every row.
void gpt2_forward_positions(GPT2 *m, const int *inputs, const int *positions, const int *targets,
                            int B, int T);
// Lazy: marks the gradients as zero; the next gpt2_backward overwrites instead of adding (so read
// grads_memory only after a backward). Allocates the gradients on first use.
void gpt2_zero_grad(GPT2 *m);
// Accumulates into grads the gradient of loss_scale * mean_loss of the last forward (which must
// have had targets). Grad accumulation: call with loss_scale = 1/accum_steps after each forward.
void gpt2_backward(GPT2 *m, float loss_scale);
// Global L2 norm of all gradients (double accumulation in a fixed order).
float gpt2_grad_norm(const GPT2 *m);
// Sum of squares of the gradients [first, first + count), in the same fixed order as
// gpt2_grad_norm (which is the square root of the whole range's): ZeRO-1 adds the ranks' shards.
double gpt2_grad_sumsq(const GPT2 *m, size_t first, size_t count);

#endif
