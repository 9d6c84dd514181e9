#include "scheduler.h"

#include <math.h>
#include <string.h>

static const char *const KIND_NAMES[] = {"constant", "cosine", "linear"};

int lr_schedule_kind_from_name(const char *name, LRScheduleKind *kind) {
    for (int i = 0; i < 3; i++) {
        if (!strcmp(name, KIND_NAMES[i])) { *kind = (LRScheduleKind)i; return 1; }
    }
    return 0;
}

const char *lr_schedule_kind_name(LRScheduleKind kind) { return KIND_NAMES[kind]; }

double lr_schedule_at(const LRSchedule *s, int64_t step) {
    if (step < s->warmup_steps) return s->max_lr * (double)(step + 1) / (double)s->warmup_steps;
    if (s->kind == LR_CONSTANT) return s->max_lr;
    int64_t decay_steps = s->total_steps - s->warmup_steps;
    if (decay_steps < 1) decay_steps = 1;
    double progress = (double)(step - s->warmup_steps) / (double)decay_steps;
    if (progress > 1.0) progress = 1.0;  // steps past the planned end (not reached in normal runs)
    double min_lr = s->max_lr * s->min_lr_fraction;
    if (s->kind == LR_COSINE) return min_lr + (s->max_lr - min_lr) * 0.5 * (1.0 + cos(M_PI * progress));
    return s->max_lr - (s->max_lr - min_lr) * progress;
}
