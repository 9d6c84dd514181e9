#include "train_args.h"
#include "scheduler.h"
#include "utils.h"

#include <string.h>

static void add(TrainArgs *a, const char *name, ArgType type, void *dest, const char *help, double min, double max) {
    if (a->num_specs >= TRAIN_ARGS_MAX) die("internal: too many trainer flags (raise TRAIN_ARGS_MAX)");
    ArgSpec *s = &a->specs[a->num_specs++];
    memset(s, 0, sizeof *s);
    s->name = name;
    s->type = type;
    s->dest = dest;
    s->help = help;
    s->min = min;
    s->max = max;
}

static void set_defaults(TrainArgs *a) {
    memset(a, 0, sizeof *a);
    a->model_name = "gpt2";
    a->model_dir = "models";
    a->vocab_size = 50257;
    a->tokenizer = "gpt2_tokenizer.bin";
    a->train_file = "synthetic_dataset/train.bin";
    a->validation_file = "synthetic_dataset/test.bin";
    a->per_device_train_batch_size = 4;
    a->num_train_epochs = 3;
    a->learning_rate = 5e-5;
    a->weight_decay = 0.0;
    a->grad_clip = 1.0;
    a->adam_beta1 = 0.9;
    a->adam_beta2 = 0.999;
    a->adam_epsilon = 1e-8;
    a->lr_schedule = "linear";
    a->seed = 42;
    a->output_dir = "finetuned_model";
    a->mem_eval_examples = 16;
    a->mem_eval_context_lengths = "16,32,64,128,256,512";
    a->mem_eval_new_tokens = 100;
}

static void build_table(TrainArgs *a) {
    const double BIG = 1e15;
    add(a, "model_name", ARG_STRING, &a->model_name,
        "model to start from: a pretrained name (gpt2, gpt2-medium, gpt2-large, gpt2-xl, distilgpt2 -> <model_dir>/<name>.bin), "
        "a from-scratch descriptor (d2, d4, d6, d12, d24, d36, d48), or the path of an llm.c checkpoint (.bin, fp32 or bf16)", 1, 0);
    add(a, "model_dir", ARG_STRING, &a->model_dir, "directory holding pretrained checkpoints (scripts/download_gpt2.sh fills it)", 1, 0);
    add(a, "layers", ARG_INT, &a->layers, "from scratch with this many layers (give --layers, --channels and --heads together; 0 = unset)", 0, 1000);
    add(a, "channels", ARG_INT, &a->channels, "from scratch: embedding width C (a multiple of --heads)", 0, 100000);
    add(a, "heads", ARG_INT, &a->heads, "from scratch: attention heads", 0, 1000);
    add(a, "vocab_size", ARG_INT, &a->vocab_size, "from scratch: vocabulary size (GPT-2: 50257; must exceed every token id in the data)", 2, 65536);
    add(a, "tokenizer", ARG_STRING, &a->tokenizer,
        "GPT-2 tokenizer file (llm.c format): checked at start when it exists, recorded by sha256 in config.json", 1, 0);
    add(a, "train_file", ARG_STRING, &a->train_file, "training shard (train.bin from generate_dataset)", 1, 0);
    add(a, "validation_file", ARG_STRING, &a->validation_file, "validation shard (test.bin from generate_dataset), or 'none'", 1, 0);
    add(a, "max_seq_length", ARG_INT, &a->max_seq_length,
        "tokens per training row T; each row is one example from its first token (0 = record length - 1, capped at the model's maximum)", 0, 1 << 20);
    add(a, "val_max_examples", ARG_INT, &a->val_max_examples, "validate on the first N validation examples only (0 = all)", 0, BIG);
    add(a, "per_device_train_batch_size", ARG_INT, &a->per_device_train_batch_size, "rows (examples) per forward/backward pass B", 1, 1 << 20);
    add(a, "total_batch_size", ARG_INT, &a->total_batch_size,
        "tokens per optimizer step = B*T*ranks*accumulation steps; a multiple of B*T*ranks (0 = B*T*ranks, no accumulation; ranks = 1 unless started by mpirun)", 0, BIG);
    add(a, "num_train_epochs", ARG_INT, &a->num_train_epochs, "passes over the training examples (ignored when --max_steps is set)", 1, 1e9);
    add(a, "max_steps", ARG_INT, &a->max_steps, "optimizer steps to run, reshuffling at each epoch end (0 = from --num_train_epochs)", 0, BIG);
    add(a, "learning_rate", ARG_FLOAT, &a->learning_rate, "peak learning rate", 0, 10);
    add(a, "lr_schedule", ARG_STRING, &a->lr_schedule, "constant, cosine or linear decay after the warmup", 1, 0);
    add(a, "warmup_steps", ARG_INT, &a->warmup_steps, "linear warmup: step s (0-based) uses lr * (s+1) / warmup_steps", 0, BIG);
    add(a, "min_lr_fraction", ARG_FLOAT, &a->min_lr_fraction, "cosine/linear decay ends at learning_rate * this", 0, 1);
    add(a, "weight_decay", ARG_FLOAT, &a->weight_decay, "AdamW decoupled weight decay, applied to 2-D weights only", 0, 10);
    add(a, "grad_clip", ARG_FLOAT, &a->grad_clip, "clip gradients to this global L2 norm (0 = off)", 0, 1e9);
    add(a, "adam_beta1", ARG_FLOAT, &a->adam_beta1, "AdamW beta1", 0, 0.999999);
    add(a, "adam_beta2", ARG_FLOAT, &a->adam_beta2, "AdamW beta2", 0, 0.999999999);
    // > 0: a weight whose gradient was always 0 (an unused padded vocabulary row) has m = v = 0, and 0 / 0 is NaN
    add(a, "adam_epsilon", ARG_FLOAT, &a->adam_epsilon, "AdamW epsilon", 1e-30, 1);
    add(a, "zero_stage", ARG_INT, &a->zero_stage,
        "1 = ZeRO-1 across the ranks of mpirun: each rank updates 1/ranks of the weights, and train_gpt2cu keeps only "
        "their AdamW moments on its GPU (memory for the moments / ranks); 0 = every rank updates all. The same model "
        "either way (to the rounding of the gradient norm)", 0, 1);
    add(a, "seed", ARG_INT, &a->seed, "seed for the from-scratch init and the per-epoch shuffle", 0, 9.2e18);
    add(a, "output_dir", ARG_STRING, &a->output_dir, "where model.bin, config.json, train_log.jsonl and checkpoints go", 1, 0);
    add(a, "save_every", ARG_INT, &a->save_every, "write a resumable checkpoint (model_NNNNNNNN.bin + state_NNNNNNNN.bin) every N steps (0 = never)", 0, BIG);
    add(a, "save_total_limit", ARG_INT, &a->save_total_limit, "keep only the newest N checkpoints (0 = keep all)", 0, BIG);
    add(a, "eval_every", ARG_INT, &a->eval_every, "validation loss every N steps (0 = only at the end; always at the end)", 0, BIG);
    add(a, "threads", ARG_INT, &a->threads, "OpenMP threads (0 = OpenMP's default); train_gpt2's bitwise resume needs the same count", 0, 4096);
    add(a, "resume", ARG_BOOL, &a->resume, "continue from the newest complete checkpoint in --output_dir (starts fresh when there is none)", 1, 0);
    add(a, "overwrite_output_dir", ARG_BOOL, &a->overwrite_output_dir, "start fresh even if --output_dir holds checkpoints (deletes them)", 1, 0);
    add(a, "save_bf16", ARG_BOOL, &a->save_bf16, "write the final model.bin in bf16 (version 5); checkpoints stay fp32 for exact resume", 1, 0);
    add(a, "quiet", ARG_BOOL, &a->quiet, "no per-step progress on stderr (errors are still reported)", 1, 0);
    add(a, "mem_eval_every", ARG_INT, &a->mem_eval_every,
        "every N steps, the teacher-forced memorization probe on fixed members (training shard) and non-members "
        "(--validation_file): exact match and token accuracy per context length in train_log.jsonl (0 = off)", 0, BIG);
    add(a, "mem_eval_examples", ARG_INT, &a->mem_eval_examples,
        "--mem_eval_every: members and non-members each, rows evenly spread over each shard (all rows if fewer)", 1, 1 << 20);
    add(a, "mem_eval_context_lengths", ARG_STRING, &a->mem_eval_context_lengths,
        "--mem_eval_every: prompt lengths k (comma-separated); those with k + new tokens > T are dropped", 1, 0);
    add(a, "mem_eval_new_tokens", ARG_INT, &a->mem_eval_new_tokens,
        "--mem_eval_every: continuation tokens M that must all be right for an exact match (clipped to T - the smallest k)", 1, 1 << 20);
}

void train_args_parse(TrainArgs *a, int argc, char **argv, const char *description) {
    set_defaults(a);
    build_table(a);
    parse_args(argc, argv, a->specs, a->num_specs, description);
    LRScheduleKind kind;
    if (!lr_schedule_kind_from_name(a->lr_schedule, &kind))
        die("--lr_schedule: '%s' is not a schedule (use constant, cosine or linear)", a->lr_schedule);
    int shape_set = (a->layers > 0) + (a->channels > 0) + (a->heads > 0);
    if (shape_set != 0 && shape_set != 3)
        die("--layers, --channels and --heads go together (give all three for a from-scratch model, or none)");
    if (shape_set == 3 && train_args_was_set(a, "model_name"))
        die("--model_name and --layers/--channels/--heads both given (use one: a named model or an explicit shape)");
    if (train_args_was_set(a, "vocab_size") && shape_set != 3 && !train_args_was_set(a, "model_name"))
        die("--vocab_size applies to from-scratch models only (add --layers/--channels/--heads or a descriptor --model_name d2..d48)");
    if (a->resume && a->overwrite_output_dir)
        die("--resume and --overwrite_output_dir contradict each other (use one)");
    // the list is checked even with the probe off, so a typo never waits for a later run to surface
    a->mem_eval_num_ks = parse_int_list_or_die("mem_eval_context_lengths", a->mem_eval_context_lengths, &a->mem_eval_ks, 1, 1 << 20);
}

int train_args_was_set(const TrainArgs *a, const char *name) { return arg_was_set(a->specs, a->num_specs, name); }

int train_args_explicit_shape(const TrainArgs *a) { return a->layers > 0 && a->channels > 0 && a->heads > 0; }

cJSON *train_args_to_json(const TrainArgs *a) {
    cJSON *obj = cJSON_CreateObject();
    for (int i = 0; i < a->num_specs; i++) {
        const ArgSpec *s = &a->specs[i];
        switch (s->type) {
        case ARG_INT: cJSON_AddNumberToObject(obj, s->name, (double)*(int64_t *)s->dest); break;
        case ARG_FLOAT: cJSON_AddNumberToObject(obj, s->name, *(double *)s->dest); break;
        case ARG_STRING: cJSON_AddStringToObject(obj, s->name, *(const char **)s->dest); break;
        case ARG_BOOL: cJSON_AddBoolToObject(obj, s->name, *(int *)s->dest); break;
        }
    }
    return obj;
}
