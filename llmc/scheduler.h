// Learning-rate schedules: constant, cosine or linear decay, each after an optional linear warmup.
// Steps are 0-based (the LR used by optimizer update number step+1):
//   warmup    step < W:   lr = max_lr * (step + 1) / W
//   then      p = (step - W) / max(1, S - W)          in [0, 1), S = total steps
//   constant:             lr = max_lr
//   cosine:               lr = min_lr + (max_lr - min_lr) * 0.5 * (1 + cos(pi * p))
//   linear:               lr = max_lr - (max_lr - min_lr) * p
// with min_lr = max_lr * min_lr_fraction.
#ifndef LLMC_SCHEDULER_H
#define LLMC_SCHEDULER_H

#include <stdint.h>

typedef enum { LR_CONSTANT, LR_COSINE, LR_LINEAR } LRScheduleKind;

typedef struct {
    LRScheduleKind kind;
    double max_lr;
    double min_lr_fraction;   // of max_lr, reached at the end of cosine/linear decay
    int64_t warmup_steps;
    int64_t total_steps;
} LRSchedule;

// "constant" / "cosine" / "linear" -> 1 and *kind set; anything else -> 0.
int lr_schedule_kind_from_name(const char *name, LRScheduleKind *kind);
const char *lr_schedule_kind_name(LRScheduleKind kind);
double lr_schedule_at(const LRSchedule *s, int64_t step);

#endif
