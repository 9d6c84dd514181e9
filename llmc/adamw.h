// AdamW (decoupled weight decay, Loshchilov & Hutter) over the model's contiguous parameters, with
// optional clipping by the global gradient norm. Weight decay only on the 2-D weight tensors.
// The update matches torch.optim.AdamW (and torch.nn.utils.clip_grad_norm_ for clipping).
#ifndef LLMC_ADAMW_H
#define LLMC_ADAMW_H

#include <stddef.h>
#include "gpt2.h"

typedef struct {
    float *m;                // (num_parameters) first moment
    float *v;                // (num_parameters) second moment
    size_t num_parameters;
    int64_t step;            // updates done so far (bias correction uses step after increment)
} AdamW;

typedef struct {
    float learning_rate;
    float beta1;             // 0.9
    float beta2;             // 0.95 in llm.c, 0.999 in torch
    float eps;               // 1e-8
    float weight_decay;      // applied to 2-D weights only
    float grad_clip;         // max global grad norm; <= 0 disables clipping
} AdamWHyper;

// Zeroed moments for this many parameters.
void adamw_init(AdamW *opt, size_t num_parameters);
void adamw_free(AdamW *opt);
// One step on m->params using m->grads. Computes the global grad norm, clips (torch's rule:
// scale = clip / (norm + 1e-6) when that is < 1) and updates. Returns the grad norm before clipping.
float adamw_step(AdamW *opt, GPT2 *m, const AdamWHyper *h);
// The same update with a precomputed norm (e.g. from gpt2_grad_norm after accumulation).
void adamw_step_with_norm(AdamW *opt, GPT2 *m, const AdamWHyper *h, float grad_norm);
// The update of parameters [first, first + count) only, with the norm of all gradients (ZeRO-1:
// this rank's shard). m and v stay indexed like the parameters; the rest of them is not touched.
// Every element gets exactly the update adamw_step_with_norm gives it.
void adamw_step_range(AdamW *opt, GPT2 *m, const AdamWHyper *h, float grad_norm, size_t first, size_t count);

#endif
