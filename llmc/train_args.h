// The trainer's flags: one table and one parser shared by the CPU trainer (train_gpt2.c) and the
// CUDA trainer, so both accept the same command lines and record the same config.json.
// Names follow the seed (Hugging Face run_clm style) where one existed.
#ifndef LLMC_TRAIN_ARGS_H
#define LLMC_TRAIN_ARGS_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include "args.h"

#define MEMLENS_VERSION "0.1.0"
#define TRAIN_ARGS_MAX 48

typedef struct {
    // model
    const char *model_name;        // d2..d48, gpt2/gpt2-medium/..., or an llm.c checkpoint path
    const char *model_dir;         // where pretrained names are looked up
    int64_t layers, channels, heads, vocab_size;  // explicit from-scratch shape (0 = unset)
    const char *tokenizer;         // recorded (sha256) in config.json
    // data
    const char *train_file, *validation_file;
    int64_t max_seq_length;        // T; 0 = min(record length - 1, model max)
    int64_t val_max_examples;      // 0 = the whole validation shard
    // optimisation
    int64_t per_device_train_batch_size;  // B
    int64_t total_batch_size;             // tokens per optimizer step = B*T*accum; 0 = B*T
    int64_t num_train_epochs, max_steps;
    double learning_rate, min_lr_fraction, weight_decay, grad_clip;
    double adam_beta1, adam_beta2, adam_epsilon;
    const char *lr_schedule;
    int64_t warmup_steps, seed;
    int64_t zero_stage;            // 1: the AdamW moments sharded across the ranks (ZeRO-1); 0: not
    // output and bookkeeping
    const char *output_dir;
    int64_t save_every, eval_every, save_total_limit, threads;
    int resume, overwrite_output_dir, save_bf16, quiet;
    // memorization probe during training (0 = off); the list is parsed into mem_eval_ks
    int64_t mem_eval_every, mem_eval_examples, mem_eval_new_tokens;
    const char *mem_eval_context_lengths;
    int64_t *mem_eval_ks;          // (mem_eval_num_ks) as given: the trainer drops those that do not fit
    int mem_eval_num_ks;

    ArgSpec specs[TRAIN_ARGS_MAX];
    int num_specs;
} TrainArgs;

// Defaults, table, parse, and the checks that need no data (schedule name, shape flags).
// Dies with one line naming the flag on any error; --help prints usage and exits 0.
void train_args_parse(TrainArgs *a, int argc, char **argv, const char *description);
int train_args_was_set(const TrainArgs *a, const char *name);
// Every flag and its value (numbers, strings, booleans) as a JSON object, for config.json.
cJSON *train_args_to_json(const TrainArgs *a);
// Whether the architecture came from --layers/--channels/--heads.
int train_args_explicit_shape(const TrainArgs *a);

#endif
