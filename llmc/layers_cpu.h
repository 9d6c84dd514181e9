// GPT-2's non-matmul layers on the CPU (fp32): embedding, LayerNorm, causal self-attention, GELU,
// residual add, softmax + cross-entropy, each with its backward. OpenMP with static schedules;
// reductions that cross rows (weight/bias/embedding grads) run over rows in order inside one thread,
// so results are bitwise reproducible. Shapes in comments: B batch, T time, C channels, NH heads.
#ifndef LLMC_LAYERS_CPU_H
#define LLMC_LAYERS_CPU_H

#include <stddef.h>

// out (B,T,C) = wte[inp[b,t]] + wpe[pos[b,t]].
void encoder_forward(float *out, const int *inp, const int *pos, const float *wte, const float *wpe,
                     int BT, int C);
// dwte, dwpe += scatter of dout (B,T,C).
void encoder_backward(float *dwte, float *dwpe, const float *dout, const int *inp, const int *pos,
                      int BT, int C);

// out (BT,C) = (inp - mean) * rstd * weight + bias; mean, rstd (BT) saved for backward.
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                       const float *bias, int BT, int C);
// dinp (BT,C) = dresidual + d(layernorm)/d(inp) . dout  (written, not accumulated; dresidual may be
// NULL or equal dinp); dweight, dbias (C) += (accumulate = 1) or = (accumulate = 0).
void layernorm_backward(float *dinp, const float *dresidual, float *dweight, float *dbias,
                        const float *dout, const float *inp, const float *weight, const float *mean,
                        const float *rstd, int BT, int C, int accumulate);

// qkv (B,T,3C) -> out (B,T,C); att (B,NH,T,T) keeps the softmax rows (t2 <= t) for backward.
void attention_forward(float *out, float *att, const float *qkv, int B, int T, int C, int NH);
// dqkv (B,T,3C) written (not accumulated) from dout (B,T,C).
void attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
                        int B, int T, int C, int NH);
// Inference: one query head attending over keys in two runs, n_a keys at ka/va spaced stride_a floats
// apart, then n_b keys at kb/vb spaced stride_b (a KV cache, then tokens not yet in it; either run
// may be empty). y (hs) = softmax(scale * q.k) . v; w is scratch for n_a + n_b scores.
void attention_query(float *y, float *w, const float *q, int hs, float scale,
                     const float *ka, const float *va, size_t stride_a, int n_a,
                     const float *kb, const float *vb, size_t stride_b, int n_b);

// GELU, tanh approximation. out = gelu(inp), N elements.
void gelu_forward(float *out, const float *inp, size_t N);
// dinp = gelu'(inp) * dout (written).
void gelu_backward(float *dinp, const float *inp, const float *dout, size_t N);

// out = a + b, N elements.
void residual_forward(float *out, const float *a, const float *b, size_t N);

// probs (BT,Vp): softmax over the first V logits (padded columns 0); losses (BT) = -log p[target]
// (0 where target < 0). Returns the number of tokens with a target (>= 0).
int crossentropy_softmax_forward(float *probs, float *losses, const float *logits, const int *targets,
                                 int BT, int V, int Vp);
// dlogits (BT,Vp) = (probs - onehot(target)) * dloss, with dloss the same for every counted token;
// rows with target < 0 and padded columns get 0. Written, not accumulated.
void crossentropy_softmax_backward(float *dlogits, const float *probs, const int *targets, float dloss,
                                   int BT, int V, int Vp);

#endif
