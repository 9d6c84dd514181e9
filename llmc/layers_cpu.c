// GPT-2's non-matmul layers (see layers_cpu.h for the shapes and contracts).
#include "layers_cpu.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#include "fast_math.h"

// Split [0, n) evenly into the team's contiguous ranges (the same split every call).
static inline void thread_range(size_t n, size_t *lo, size_t *hi) {
    size_t nt = (size_t)omp_get_num_threads(), t = (size_t)omp_get_thread_num();
    *lo = n * t / nt;
    *hi = n * (t + 1) / nt;
}

// ---------------------------------------------------------------------------------------------
// Embedding.

void encoder_forward(float *out, const int *inp, const int *pos, const float *wte, const float *wpe,
                     int BT, int C) {
#pragma omp parallel for schedule(static)
    for (int bt = 0; bt < BT; bt++) {
        const float *te = wte + (size_t)inp[bt] * C;
        const float *pe = wpe + (size_t)pos[bt] * C;
        float *o = out + (size_t)bt * C;
        for (int c = 0; c < C; c++) o[c] = te[c] + pe[c];
    }
}

void encoder_backward(float *dwte, float *dwpe, const float *dout, const int *inp, const int *pos,
                      int BT, int C) {
    // Tokens (and positions) repeat, so rows cannot be split across threads: split channels instead,
    // each thread adding the rows in order.
#pragma omp parallel
    {
        size_t lo, hi;
        thread_range((size_t)C, &lo, &hi);
        for (int bt = 0; bt < BT; bt++) {
            const float *d = dout + (size_t)bt * C;
            float *te = dwte + (size_t)inp[bt] * C;
            float *pe = dwpe + (size_t)pos[bt] * C;
            for (size_t c = lo; c < hi; c++) {
                te[c] += d[c];
                pe[c] += d[c];
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// LayerNorm (eps 1e-5, biased variance, as GPT-2 / torch).

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                       const float *bias, int BT, int C) {
#pragma omp parallel for schedule(static)
    for (int bt = 0; bt < BT; bt++) {
        const float *x = inp + (size_t)bt * C;
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int c = 0; c < C; c++) sum += x[c];
        float m = sum / C;
        float var = 0.0f;
#pragma omp simd reduction(+ : var)
        for (int c = 0; c < C; c++) { float d = x[c] - m; var += d * d; }
        float s = 1.0f / sqrtf(var / C + 1e-5f);
        float *o = out + (size_t)bt * C;
        for (int c = 0; c < C; c++) o[c] = (x[c] - m) * s * weight[c] + bias[c];
        mean[bt] = m;
        rstd[bt] = s;
    }
}

void layernorm_backward(float *dinp, const float *dresidual, float *dweight, float *dbias,
                        const float *dout, const float *inp, const float *weight, const float *mean,
                        const float *rstd, int BT, int C, int accumulate) {
#pragma omp parallel
    {
        // Parameter grads (they read only dout/inp), split by channel so rows add in order.
        size_t lo, hi;
        thread_range((size_t)C, &lo, &hi);
        if (!accumulate)
            for (size_t c = lo; c < hi; c++) dweight[c] = dbias[c] = 0.0f;
        for (int bt = 0; bt < BT; bt++) {
            const float *x = inp + (size_t)bt * C, *d = dout + (size_t)bt * C;
            float m = mean[bt], s = rstd[bt];
            for (size_t c = lo; c < hi; c++) {
                dweight[c] += (x[c] - m) * s * d[c];
                dbias[c] += d[c];
            }
        }
        // Input grads, split by row; independent of the above, so no barrier in between.
#pragma omp for schedule(static) nowait
        for (int bt = 0; bt < BT; bt++) {
            const float *x = inp + (size_t)bt * C, *d = dout + (size_t)bt * C;
            float m = mean[bt], s = rstd[bt];
            // dnorm = weight * dout; dx = (dnorm - mean(dnorm) - norm * mean(dnorm * norm)) * rstd
            float dnorm_mean = 0.0f, dnorm_norm_mean = 0.0f;
#pragma omp simd reduction(+ : dnorm_mean, dnorm_norm_mean)
            for (int c = 0; c < C; c++) {
                float dn = weight[c] * d[c];
                dnorm_mean += dn;
                dnorm_norm_mean += dn * (x[c] - m) * s;
            }
            dnorm_mean /= C;
            dnorm_norm_mean /= C;
            float *di = dinp + (size_t)bt * C;
            const float *dr = dresidual ? dresidual + (size_t)bt * C : NULL;
            for (int c = 0; c < C; c++) {
                float norm = (x[c] - m) * s;
                float g = (weight[c] * d[c] - dnorm_mean - norm * dnorm_norm_mean) * s;
                di[c] = dr ? dr[c] + g : g;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Causal self-attention. qkv rows hold [q (C) | k (C) | v (C)]; head h uses columns h*hs..h*hs+hs.

void attention_forward(float *out, float *att, const float *qkv, int B, int T, int C, int NH) {
    int hs = C / NH;
    size_t C3 = 3 * (size_t)C;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for collapse(3) schedule(static)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < NH; h++) {
                const float *q = qkv + ((size_t)b * T + t) * C3 + (size_t)h * hs;
                float *row = att + (((size_t)b * NH + h) * T + t) * T;
                float maxv = -INFINITY;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *k = qkv + ((size_t)b * T + t2) * C3 + C + (size_t)h * hs;
                    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
                    for (int i = 0; i < hs; i++) dot += q[i] * k[i];
                    dot *= scale;
                    row[t2] = dot;
                    if (dot > maxv) maxv = dot;
                }
                float sum = 0.0f;
                for (int t2 = 0; t2 <= t; t2++) {
                    float e = fast_expf(row[t2] - maxv);
                    row[t2] = e;
                    sum += e;
                }
                float inv = 1.0f / sum;
                for (int t2 = 0; t2 <= t; t2++) row[t2] *= inv;
                float *o = out + ((size_t)b * T + t) * C + (size_t)h * hs;
                for (int i = 0; i < hs; i++) o[i] = 0.0f;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *v = qkv + ((size_t)b * T + t2) * C3 + 2 * (size_t)C + (size_t)h * hs;
                    float a = row[t2];
                    for (int i = 0; i < hs; i++) o[i] += a * v[i];
                }
            }
}

void attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
                        int B, int T, int C, int NH) {
    int hs = C / NH;
    size_t C3 = 3 * (size_t)C;
    float scale = 1.0f / sqrtf((float)hs);
    // One (b, h) pair touches only its own q/k/v columns of dqkv, so pairs run in parallel and the
    // key/value grads of a pair are summed over queries in order.
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            float datt[T];  // one row of d(att) / d(pre-softmax), reused per query
            for (int t = 0; t < T; t++) {
                float *d = dqkv + ((size_t)b * T + t) * C3 + (size_t)h * hs;
                for (int i = 0; i < hs; i++) d[i] = d[C + i] = d[2 * C + i] = 0.0f;
            }
            for (int t = 0; t < T; t++) {
                const float *row = att + (((size_t)b * NH + h) * T + t) * T;
                const float *dout_t = dout + ((size_t)b * T + t) * C + (size_t)h * hs;
                const float *q = qkv + ((size_t)b * T + t) * C3 + (size_t)h * hs;
                float *dq = dqkv + ((size_t)b * T + t) * C3 + (size_t)h * hs;
                float weighted = 0.0f;  // sum_t2 att * datt, the softmax backward's correction
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *v = qkv + ((size_t)b * T + t2) * C3 + 2 * (size_t)C + (size_t)h * hs;
                    float *dv = dqkv + ((size_t)b * T + t2) * C3 + 2 * (size_t)C + (size_t)h * hs;
                    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
                    for (int i = 0; i < hs; i++) {
                        dot += dout_t[i] * v[i];
                        dv[i] += row[t2] * dout_t[i];
                    }
                    datt[t2] = dot;
                    weighted += row[t2] * dot;
                }
                for (int t2 = 0; t2 <= t; t2++) {
                    float dpre = row[t2] * (datt[t2] - weighted) * scale;
                    const float *k = qkv + ((size_t)b * T + t2) * C3 + C + (size_t)h * hs;
                    float *dk = dqkv + ((size_t)b * T + t2) * C3 + C + (size_t)h * hs;
                    for (int i = 0; i < hs; i++) {
                        dq[i] += dpre * k[i];
                        dk[i] += dpre * q[i];
                    }
                }
            }
        }
}

// ---------------------------------------------------------------------------------------------
// GELU (tanh form): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).

#define GELU_SCALE 0.7978845608028654f  // sqrt(2/pi)

void gelu_forward(float *out, const float *inp, size_t N) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < N; i++) {
        float x = inp[i];
        float u = GELU_SCALE * (x + 0.044715f * x * x * x);
        out[i] = 0.5f * x * (1.0f + fast_tanhf(u));
    }
}

void gelu_backward(float *dinp, const float *inp, const float *dout, size_t N) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < N; i++) {
        float x = inp[i];
        float u = GELU_SCALE * (x + 0.044715f * x * x * x);
        float th = fast_tanhf(u);
        float du = GELU_SCALE * (1.0f + 3.0f * 0.044715f * x * x);
        float grad = 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * du;  // sech^2 = 1 - tanh^2
        dinp[i] = grad * dout[i];
    }
}

void residual_forward(float *out, const float *a, const float *b, size_t N) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < N; i++) out[i] = a[i] + b[i];
}

// ---------------------------------------------------------------------------------------------
// Softmax + cross-entropy over the real vocabulary.

int crossentropy_softmax_forward(float *probs, float *losses, const float *logits, const int *targets,
                                 int BT, int V, int Vp) {
    int counted = 0;
#pragma omp parallel for schedule(static) reduction(+ : counted)
    for (int bt = 0; bt < BT; bt++) {
        const float *z = logits + (size_t)bt * Vp;
        float *p = probs + (size_t)bt * Vp;
        float maxv = -INFINITY;
#pragma omp simd reduction(max : maxv)
        for (int v = 0; v < V; v++) maxv = z[v] > maxv ? z[v] : maxv;
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int v = 0; v < V; v++) {
            p[v] = fast_expf(z[v] - maxv);
            sum += p[v];
        }
        float inv = 1.0f / sum;
        for (int v = 0; v < V; v++) p[v] *= inv;
        for (int v = V; v < Vp; v++) p[v] = 0.0f;
        int target = targets[bt];
        // -log softmax via log-sum-exp: exact for tiny probabilities too.
        losses[bt] = target >= 0 ? logf(sum) + maxv - z[target] : 0.0f;
        counted += target >= 0;
    }
    return counted;
}

void crossentropy_softmax_backward(float *dlogits, const float *probs, const int *targets, float dloss,
                                   int BT, int V, int Vp) {
#pragma omp parallel for schedule(static)
    for (int bt = 0; bt < BT; bt++) {
        float *d = dlogits + (size_t)bt * Vp;
        const float *p = probs + (size_t)bt * Vp;
        int target = targets[bt];
        if (target < 0) {
            memset(d, 0, (size_t)Vp * sizeof(float));
            continue;
        }
        for (int v = 0; v < V; v++) d[v] = p[v] * dloss;
        d[target] -= dloss;
        for (int v = V; v < Vp; v++) d[v] = 0.0f;
    }
}

void attention_query(float *y, float *w, const float *q, int hs, float scale,
                     const float *ka, const float *va, size_t stride_a, int n_a,
                     const float *kb, const float *vb, size_t stride_b, int n_b) {
    const int n = n_a + n_b;
    float maxv = -INFINITY;
    for (int t = 0; t < n; t++) {
        const float *k = t < n_a ? ka + (size_t)t * stride_a : kb + (size_t)(t - n_a) * stride_b;
        float dot = 0.0f;
        for (int i = 0; i < hs; i++) dot += q[i] * k[i];
        w[t] = dot * scale;
        if (w[t] > maxv) maxv = w[t];
    }
    float sum = 0.0f;
    for (int t = 0; t < n; t++) { w[t] = expf(w[t] - maxv); sum += w[t]; }
    float inv = 1.0f / sum;
    for (int i = 0; i < hs; i++) y[i] = 0.0f;
    for (int t = 0; t < n; t++) {
        const float *v = t < n_a ? va + (size_t)t * stride_a : vb + (size_t)(t - n_a) * stride_b;
        float wt = w[t] * inv;
        for (int i = 0; i < hs; i++) y[i] += wt * v[i];
    }
}
