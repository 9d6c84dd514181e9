// AdamW with clipping by global norm, written to match torch.optim.AdamW step for step:
//   p <- p * (1 - lr * wd)                      (decoupled weight decay; 2-D weights only)
//   m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
//   p <- p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
#include "adamw.h"


#include <math.h>
#include <omp.h>
#include <string.h>

#include "utils.h"

void adamw_init(AdamW *opt, size_t num_parameters) {
    opt->m = calloc_or_die(num_parameters, sizeof(float));
    opt->v = calloc_or_die(num_parameters, sizeof(float));
    opt->num_parameters = num_parameters;
    opt->step = 0;
}

void adamw_free(AdamW *opt) {
    free(opt->m);
    free(opt->v);
    memset(opt, 0, sizeof(*opt));
}

// The element-wise update on one thread's range (vectorised: the Makefile builds this file with
// -fno-math-errno, so sqrtf is an instruction).
static void update_range(float *restrict p, const float *restrict g, float *restrict m, float *restrict v,
                         size_t n, float grad_scale, float decay, float b1, float b2, float eps,
                         float step_size, float bias2_sqrt) {
    for (size_t k = 0; k < n; k++) {
        float grad = g[k] * grad_scale;
        float mk = b1 * m[k] + (1.0f - b1) * grad;
        float vk = b2 * v[k] + (1.0f - b2) * grad * grad;
        m[k] = mk;
        v[k] = vk;
        p[k] = p[k] * decay - step_size * mk / (sqrtf(vk) / bias2_sqrt + eps);
    }
}

void adamw_step_range(AdamW *opt, GPT2 *model, const AdamWHyper *h, float grad_norm, size_t first, size_t count) {
    if (opt->num_parameters != model->num_parameters)
        die("optimizer state has %zu parameters but the model has %zu (the state file belongs to another model)",
            opt->num_parameters, model->num_parameters);
    if (!model->grads_memory) die("adamw_step: no gradients (run gpt2_backward first)");
    if (first + count > model->num_parameters || first + count < first)
        die("adamw_step_range: parameters [%zu, %zu + %zu) are outside the model's %zu", first, first, count, model->num_parameters);
    // torch.nn.utils.clip_grad_norm_: scale by clip / (norm + 1e-6) when that is below 1.
    float grad_scale = 1.0f;
    if (h->grad_clip > 0.0f) {
        float coef = h->grad_clip / (grad_norm + 1e-6f);
        if (coef < 1.0f) grad_scale = coef;
    }
    opt->step++;
    double t = (double)opt->step;
    float bias1 = (float)(1.0 - pow(h->beta1, t));
    float bias2_sqrt = (float)sqrt(1.0 - pow(h->beta2, t));
    float step_size = h->learning_rate / bias1;
    float b1 = h->beta1, b2 = h->beta2, eps = h->eps;

    // One parallel region for all 16 tensors: each thread updates its share of every tensor's part
    // in [first, end).
    size_t end = first + count;
#pragma omp parallel
    {
        size_t nt = (size_t)omp_get_num_threads(), tid = (size_t)omp_get_thread_num();
        size_t offset = 0;
        for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) {
            size_t tensor_end = offset + model->param_sizes[i];
            size_t part_lo = offset > first ? offset : first, part_hi = tensor_end < end ? tensor_end : end;
            if (part_lo < part_hi) {
                size_t n = part_hi - part_lo;
                float decay = gpt2_param_is_decayed(i) ? 1.0f - h->learning_rate * h->weight_decay : 1.0f;
                size_t lo = part_lo + n * tid / nt, hi = part_lo + n * (tid + 1) / nt;
                update_range(model->params_memory + lo, model->grads_memory + lo, opt->m + lo, opt->v + lo,
                             hi - lo, grad_scale, decay, b1, b2, eps, step_size, bias2_sqrt);
            }
            offset = tensor_end;
        }
    }
}

void adamw_step_with_norm(AdamW *opt, GPT2 *model, const AdamWHyper *h, float grad_norm) {
    adamw_step_range(opt, model, h, grad_norm, 0, model->num_parameters);
}

float adamw_step(AdamW *opt, GPT2 *model, const AdamWHyper *h) {
    float norm = gpt2_grad_norm(model);
    adamw_step_with_norm(opt, model, h, norm);
    return norm;
}
