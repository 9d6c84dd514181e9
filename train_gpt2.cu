// train_gpt2cu: the GPU trainer of memlens, train_gpt2.c's twin. Same flags (llmc/train_args.h),
// data loading, checkpoints, logs and bitwise-exact resume; the model runs on one GPU in bf16
// mixed precision (fp32 master weights and AdamW state) or, with --precision fp32, fully in fp32
// (llmc/gpt2_cuda.cuh and the kernels in llmc/*.cuh). Read it side by side with train_gpt2.c:
// the structure and names are the same; the differences are marked "GPU:".
// GENERATED from train_gpt2.c by dev/cuda/make_train_gpt2cu.py: edit that script, not this file.
//
// Checkpoints are written from the CPU: the fp32 master weights and the AdamW moments are copied
// back from the GPU and saved with the same llmc code (llm.c model file + state file).
//
// Outputs in --output_dir: model.bin (final weights), config.json (everything needed to say
// what was trained on what), train_log.jsonl (one line per optimizer step), and every
// --save_every steps model_NNNNNNNN.bin + state_NNNNNNNN.bin for --resume.
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <omp.h>
#include <math.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "llmc/dist_nccl.cuh"
#include "llmc/gpt2_cuda.cuh"

extern "C" {
#include "llmc/adamw.h"
#include "llmc/dataloader.h"
#include "llmc/dist.h"
#include "llmc/gpt2.h"
#include "llmc/json_io.h"
#include "llmc/mem_eval.h"
#include "llmc/scheduler.h"
#include "llmc/sha256.h"
#include "llmc/teacher_forced.h"
#include "llmc/tokenizer.h"
#include "llmc/train_args.h"
#include "llmc/train_state.h"
#include "llmc/utils.h"
}

static const char *DESCRIPTION =
    "Train GPT-2 on one GPU, or on one GPU per rank (NCCL), on memlens shards: every row is one example\n"
    "from its first token.\n"
    "Fine-tune a pretrained model (--model_name gpt2) or train from scratch (--model_name d2..d48, or\n"
    "--layers/--channels/--heads). Kill it at any moment and --resume gives bitwise the same model.bin.\n"
    "Several GPUs: mpirun -np N train_gpt2cu ..., or srun train_gpt2cu ... (with PMI); without MPI, any\n"
    "launcher that sets SLURM_PROCID/SLURM_STEP_NUM_TASKS or MEMLENS_RANK/MEMLENS_WORLD_SIZE, with --nccl_init file:/tcp:.\n"
    "GPU flags (besides those below):\n"
    "  --precision bf16|fp32    bf16 mixed precision (default) or full fp32 for checking\n"
    "  --nccl_init METHOD       how the ranks share the NCCL id: mpi (default), file:/shared/dir/nccl_id\n"
    "                           (a path every node sees) or tcp:HOST:PORT (HOST: rank 0's node)\n"
    "  --gpu N                  this rank's GPU on its node (default: the local rank's, or the only one visible)";

// The ranks of a data-parallel run (mpirun -np N): world_size 1 when run alone. Every rank reads
// the same global batches and trains on its slice of each; rank 0 alone writes files and output.
static Dist dist;
// GPU: the NCCL communicator of the ranks (llmc/dist_nccl.cuh); every collective goes through it.
static DistNccl nccl;

// ---------------------------------------------------------------------------------------------
// Model: where the starting weights come from.

typedef struct {
    char source[1024];   // pretrained/checkpoint path, or "random:<shape>"
    int from_scratch;
} ModelOrigin;

static void init_model(const TrainArgs *a, GPT2 *model, ModelOrigin *origin) {
    GPT2Config config;
    char why[512];
    memset(origin, 0, sizeof *origin);
    if (train_args_explicit_shape(a) || gpt2_config_from_descriptor(a->model_name, &config)) {
        int layers, channels, heads;
        if (train_args_explicit_shape(a)) {
            layers = (int)a->layers; channels = (int)a->channels; heads = (int)a->heads;
        } else {
            layers = config.num_layers; channels = config.channels; heads = config.num_heads;
        }
        if (!gpt2_config_make(&config, layers, channels, heads, (int)a->vocab_size, 0, 1024, why, sizeof why))
            die("--layers/--channels/--heads: %s (choose a valid shape, e.g. --layers 2 --channels 64 --heads 4)", why);
        gpt2_init_random(model, config, (uint64_t)a->seed);
        snprintf(origin->source, sizeof origin->source, "random:L%d-C%d-H%d-V%d", layers, channels, heads, config.vocab_size);
        origin->from_scratch = 1;
        return;
    }
    if (train_args_was_set(a, "vocab_size"))
        die("--vocab_size applies to from-scratch models only (a checkpoint brings its own vocabulary; drop the flag)");
    const char *path = a->model_name;
    if (gpt2_resolve_pretrained(a->model_name, a->model_dir, "--model_name", origin->source, sizeof origin->source))
        path = origin->source;
    if (!file_exists(path))
        die("--model_name %s: no such checkpoint file (use gpt2, gpt2-medium, gpt2-large, gpt2-xl, distilgpt2, "
            "a descriptor d2..d48, or the path of an llm.c .bin)", a->model_name);
    snprintf(origin->source, sizeof origin->source, "%s", path);
    if (gpt2_init_from_checkpoint_try(model, path, why, sizeof why) != 0) die("--model_name: %s", why);
}

// ---------------------------------------------------------------------------------------------
// The plan: shapes and step counts derived from the flags, the data and the model.

typedef struct {
    int B, T;
    int accum_steps;
    int64_t rows_per_step;    // examples per optimizer step = B * ranks * accum_steps
    int64_t steps_per_epoch;  // ceil(N / rows_per_step): the last step of an epoch may be smaller
    int64_t total_steps;
    char train_sha256[65], val_sha256[65], tokenizer_sha256[65];
} TrainPlan;

static void make_plan(const TrainArgs *a, const GPT2 *model, const DataLoader *train, TrainPlan *p) {
    const GPT2Config *c = &model->config;
    int R = train->record_length;
    if (train->shard.max_token >= c->vocab_size)
        die("%s holds token id %d but the model's vocabulary has %d tokens (use data tokenized for this model%s)",
            a->train_file, train->shard.max_token, c->vocab_size, train_args_explicit_shape(a) ? ", or raise --vocab_size" : "");
    p->B = (int)a->per_device_train_batch_size;
    if (a->max_seq_length > 0) {
        if (a->max_seq_length > c->max_seq_len)
            die("--max_seq_length %lld exceeds the model's maximum sequence length %d (use --max_seq_length <= %d)",
                (long long)a->max_seq_length, c->max_seq_len, c->max_seq_len);
        if (a->max_seq_length > R - 1)
            die("--max_seq_length %lld is longer than the examples in %s (%d tokens each; use --max_seq_length <= %d)",
                (long long)a->max_seq_length, a->train_file, R - 1, R - 1);
        p->T = (int)a->max_seq_length;
    } else {
        p->T = R - 1 < c->max_seq_len ? R - 1 : c->max_seq_len;
    }
    // One pass of the global batch is B rows on each of the ranks.
    int64_t tokens_per_pass = (int64_t)p->B * p->T * dist.world_size;
    if (a->total_batch_size == 0) {
        p->accum_steps = 1;
    } else {
        if (a->total_batch_size % tokens_per_pass != 0 && dist.world_size > 1)
            die("--total_batch_size %lld is not a multiple of B*T*ranks = %d*%d*%d = %lld (use e.g. --total_batch_size %lld)",
                (long long)a->total_batch_size, p->B, p->T, dist.world_size, (long long)tokens_per_pass,
                (long long)(2 * tokens_per_pass));
        if (a->total_batch_size % tokens_per_pass != 0)
            die("--total_batch_size %lld is not a multiple of B*T = %d*%d = %lld (use e.g. --total_batch_size %lld)",
                (long long)a->total_batch_size, p->B, p->T, (long long)tokens_per_pass, (long long)(2 * tokens_per_pass));
        p->accum_steps = (int)(a->total_batch_size / tokens_per_pass);
    }
    p->rows_per_step = (int64_t)p->B * dist.world_size * p->accum_steps;
    p->steps_per_epoch = ((int64_t)train->num_records + p->rows_per_step - 1) / p->rows_per_step;
    p->total_steps = a->max_steps > 0 ? a->max_steps : a->num_train_epochs * p->steps_per_epoch;
}

// The flags and data that must be unchanged for a checkpoint to continue this run bitwise.
static char *run_identity(const TrainArgs *a, const GPT2 *model, const ModelOrigin *origin, const TrainPlan *p,
                          Precision precision) {
    cJSON *id = cJSON_CreateObject();
    // GPU: the precision changes every bit of the run, so a checkpoint continues only its own.
    cJSON_AddStringToObject(id, "precision", precision == PRECISION_BF16 ? "bf16" : "fp32");
    const GPT2Config *c = &model->config;
    cJSON_AddStringToObject(id, "model", origin->source);
    char shape[128];
    snprintf(shape, sizeof shape, "L%d C%d H%d V%d Vp%d maxT%d", c->num_layers, c->channels, c->num_heads,
             c->vocab_size, c->padded_vocab_size, c->max_seq_len);
    cJSON_AddStringToObject(id, "architecture", shape);
    cJSON_AddStringToObject(id, "train_sha256", p->train_sha256);
    cJSON_AddNumberToObject(id, "seed", (double)a->seed);
    // Resume is bitwise exact only with the same number of ranks (the gradient sums group alike).
    cJSON_AddNumberToObject(id, "world_size", dist.world_size);
    // ZeRO-1 adds the gradient norm up in another order. Recorded only when set, so that checkpoints
    // of runs without it keep their identity.
    if (a->zero_stage) cJSON_AddNumberToObject(id, "zero_stage", (double)a->zero_stage);
    cJSON_AddNumberToObject(id, "per_device_train_batch_size", p->B);
    cJSON_AddNumberToObject(id, "max_seq_length", p->T);
    cJSON_AddNumberToObject(id, "accumulation_steps", p->accum_steps);
    cJSON_AddNumberToObject(id, "total_steps", (double)p->total_steps);
    cJSON_AddNumberToObject(id, "learning_rate", a->learning_rate);
    cJSON_AddStringToObject(id, "lr_schedule", a->lr_schedule);
    cJSON_AddNumberToObject(id, "warmup_steps", (double)a->warmup_steps);
    cJSON_AddNumberToObject(id, "min_lr_fraction", a->min_lr_fraction);
    cJSON_AddNumberToObject(id, "weight_decay", a->weight_decay);
    cJSON_AddNumberToObject(id, "grad_clip", a->grad_clip);
    cJSON_AddNumberToObject(id, "adam_beta1", a->adam_beta1);
    cJSON_AddNumberToObject(id, "adam_beta2", a->adam_beta2);
    cJSON_AddNumberToObject(id, "adam_epsilon", a->adam_epsilon);
    char *text = cJSON_PrintUnformatted(id);
    cJSON_Delete(id);
    char *copy = strdup_or_die(text);
    cJSON_free(text);
    return copy;
}

// ---------------------------------------------------------------------------------------------
// Provenance.

static void git_commit(char *out, size_t n) {
#ifdef GIT_COMMIT
    snprintf(out, n, "%s", GIT_COMMIT);
    if (strcmp(out, "unknown") != 0 && out[0]) return;
#endif
    snprintf(out, n, "unknown");
    FILE *f = popen("git rev-parse HEAD 2>/dev/null", "r");
    if (!f) return;
    char line[128];
    if (fgets(line, sizeof line, f) && strlen(line) >= 40) {
        line[strcspn(line, "\n")] = '\0';
        snprintf(out, n, "%s", line);
    }
    pclose(f);
}

static cJSON *build_config(const TrainArgs *a, const GPT2 *model, const ModelOrigin *origin, const TrainPlan *p,
                           const DataLoader *train, const DataLoader *val, int threads, int64_t resumed_from,
                           Precision precision, const cudaDeviceProp *gpu) {
    cJSON *root = cJSON_CreateObject();
    char commit[128];
    git_commit(commit, sizeof commit);
    cJSON_AddStringToObject(root, "program", "train_gpt2cu");
    cJSON_AddStringToObject(root, "version", MEMLENS_VERSION);
    cJSON_AddStringToObject(root, "git_commit", commit);

    const GPT2Config *c = &model->config;
    cJSON *m = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(m, "source", origin->source);
    cJSON_AddStringToObject(m, "init", origin->from_scratch ? "random" : "checkpoint");
    cJSON_AddNumberToObject(m, "max_seq_len", c->max_seq_len);
    cJSON_AddNumberToObject(m, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(m, "padded_vocab_size", c->padded_vocab_size);
    cJSON_AddNumberToObject(m, "num_layers", c->num_layers);
    cJSON_AddNumberToObject(m, "num_heads", c->num_heads);
    cJSON_AddNumberToObject(m, "channels", c->channels);
    cJSON_AddNumberToObject(m, "num_parameters", (double)model->num_parameters);

    cJSON *tok = cJSON_AddObjectToObject(root, "tokenizer");
    cJSON_AddStringToObject(tok, "path", a->tokenizer);
    if (p->tokenizer_sha256[0]) cJSON_AddStringToObject(tok, "sha256", p->tokenizer_sha256);
    else cJSON_AddNullToObject(tok, "sha256");

    cJSON *d = cJSON_AddObjectToObject(root, "data");
    cJSON_AddStringToObject(d, "train_file", a->train_file);
    cJSON_AddStringToObject(d, "train_sha256", p->train_sha256);
    cJSON_AddNumberToObject(d, "train_examples", (double)train->num_records);
    cJSON_AddNumberToObject(d, "record_length", train->record_length);
    cJSON_AddNumberToObject(d, "tokens_per_example", train->record_length - 1);
    cJSON_AddNumberToObject(d, "seq_len", p->T);
    cJSON_AddNumberToObject(d, "untrained_tokens_per_example", train->record_length - 1 - p->T);
    if (val) {
        cJSON_AddStringToObject(d, "validation_file", a->validation_file);
        cJSON_AddStringToObject(d, "validation_sha256", p->val_sha256);
        cJSON_AddNumberToObject(d, "validation_examples", (double)val->num_records);
    } else {
        cJSON_AddNullToObject(d, "validation_file");
    }

    cJSON *t = cJSON_AddObjectToObject(root, "training");
    cJSON_AddNumberToObject(t, "batch_size", p->B);
    cJSON_AddNumberToObject(t, "world_size", dist.world_size);
    cJSON_AddNumberToObject(t, "zero_stage", (double)a->zero_stage);
    cJSON_AddNumberToObject(t, "accumulation_steps", p->accum_steps);
    cJSON_AddNumberToObject(t, "examples_per_step", (double)p->rows_per_step);
    cJSON_AddNumberToObject(t, "tokens_per_step", (double)(p->rows_per_step * p->T));
    cJSON_AddNumberToObject(t, "steps_per_epoch", (double)p->steps_per_epoch);
    cJSON_AddNumberToObject(t, "total_steps", (double)p->total_steps);
    cJSON_AddNumberToObject(t, "threads", threads);
    cJSON_AddStringToObject(t, "precision", precision == PRECISION_BF16 ? "bf16" : "fp32");
    cJSON_AddStringToObject(t, "gpu", gpu->name);
    if (resumed_from >= 0) cJSON_AddNumberToObject(t, "resumed_from_step", (double)resumed_from);
    else cJSON_AddNullToObject(t, "resumed_from_step");

    cJSON_AddItemToObject(root, "flags", train_args_to_json(a));
    return root;
}

// ---------------------------------------------------------------------------------------------
// ZeRO-1 (--zero_stage 1): the optimizer state is split across the ranks (llmc/dist.h's
// dist_zero_shard). Once the passes of a step are done, each rank gets the summed gradients of its
// shard only (reduce-scatter), updates the weights of its shard with its moments, and every rank's
// updated shard goes to all (all-gather): each half the traffic of the all-reduce it replaces.
// Every weight gets the update it gets without ZeRO; only the gradient norm is added up in another
// order, shard by shard. The CPU reference keeps full-size moment buffers (checkpoints are read into
// and written from them), so its memory stays the same: here the logic is checked; the GPU keeps
// only its shard.

// GPU: the shard and its moments were set by gpt2cu_init_sharded; the weights are all-gathered in
// the padded layout, then the bf16 working copy is refreshed from them.
static float zero1_adamw_step(GPT2Cuda *model, const AdamWHyper *h) {
    double sumsq = gpt2cu_grad_sumsq(model, model->shard_first, model->shard_count);
    dist_gpu_allreduce_sum_double(&nccl, &sumsq, 1, "gradient norm");
    float norm = (float)sqrt(sumsq);
    gpt2cu_adamw_step_with_norm(model, h, norm);
    dist_gpu_allgather_float(&nccl, model->master, model->shard_stride, model->stream, "updated weights");
    gpt2cu_refresh_working_copy(model);
    return norm;
}

// A checkpoint holds the whole optimizer state, in the format of a run without ZeRO: every rank's
// shard of the moments to every rank (rank 0 writes them). GPU: each shard goes through the
// gradient buffer (padded alike, and free until the next step zeroes it), then to rank 0's host.
static void zero1_gather_moments(GPT2Cuda *model, AdamW *opt) {
    float *host[2] = {opt->m, opt->v};
    const float *shard[2] = {model->opt_m, model->opt_v};
    float *mine = model->grads + (size_t)model->shard_rank * model->shard_stride;
    for (int k = 0; k < 2; k++) {
        cuda_check(cudaMemcpyAsync(mine, shard[k], model->shard_stride * sizeof(float), cudaMemcpyDeviceToDevice, model->stream));
        dist_gpu_allgather_float(&nccl, model->grads, model->shard_stride, model->stream, "AdamW moments");
        cuda_check(cudaStreamSynchronize(model->stream));
        if (dist_is_main(&dist))  // the writer
            cuda_check(cudaMemcpy(host[k], model->grads, model->num_parameters * sizeof(float), cudaMemcpyDeviceToHost));
    }
    opt->step = model->opt_step;
}

// ---------------------------------------------------------------------------------------------
// Validation and checkpoints.

// Mean per-token loss over the first n validation examples, in file order, B rows at a time.
// Each rank takes a contiguous share of the examples; the weighted sums are added across ranks.
static double validation_loss(GPT2Cuda *model, DataLoader *val, size_t n) {
    size_t begin;
    size_t end = dist_share(n, dist.world_size, dist.rank, &begin);
    end += begin;
    double weighted = 0.0;
    for (size_t first = begin; first < end; first += (size_t)val->B) {
        int rows = (size_t)val->B < end - first ? val->B : (int)(end - first);
        dataloader_fill_records(val, first, rows);
        gpt2cu_forward(model, val->inputs, val->targets, rows, val->T);
        weighted += (double)model->mean_loss * rows;
    }
    dist_gpu_allreduce_sum_double(&nccl, &weighted, 1, "validation loss");
    return weighted / (double)n;
}

// ---------------------------------------------------------------------------------------------
// --mem_eval_every (llmc/mem_eval.h): the probe's model call, a forward pass without targets and
// the argmax at every position.

static void mem_eval_argmax(void *model, const int *inputs, int rows, int T, int *argmax) {
    gpt2cu_forward((GPT2Cuda *)model, inputs, NULL, rows, T);
    gpt2cu_argmax((GPT2Cuda *)model, argmax);  // GPU: argmax on the device (llmc/gpt2_cuda.cuh)
}

static void fsync_dir_of(const char *path) {
    char *copy = strdup_or_die(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) { fsync(fd); close(fd); }
    free(copy);
}

// The model file goes to a temporary name first, so that a kill between "weights written" and
// "renamed" can be tested; the rename makes it appear complete or not at all.
static int save_model_file(const GPT2 *model, const char *path, int bf16, int64_t step) {
    size_t n = strlen(path) + 32;
    char *tmp = (char *)malloc_or_die(n);
    snprintf(tmp, n, "%s.tmp.%d", path, (int)getpid());
    int rc = gpt2_save_checkpoint_try(model, tmp, bf16);
    if (rc == 0) {
        test_kill_point("model_temp_written", step);
        if (rename(tmp, path) != 0) {
            int e = errno;
            unlink(tmp);
            errno = e;
            rc = -1;
        } else {
            fsync_dir_of(path);
        }
    }
    free(tmp);
    return rc;
}

static void save_checkpoint(const TrainArgs *a, const GPT2 *model, const AdamW *opt, TrainState *st,
                            int64_t previous_step) {
    char *model_path = checkpoint_model_path(a->output_dir, st->step);
    char *state_path = checkpoint_state_path(a->output_dir, st->step);
    char previous[96] = "there is no earlier checkpoint";
    if (previous_step >= 0) snprintf(previous, sizeof previous, "the checkpoint of step %lld is intact", (long long)previous_step);
    // A stale state from an abandoned attempt must never pair with the new model file.
    unlink(state_path);
    if (save_model_file(model, model_path, 0, st->step) != 0)
        die("cannot write checkpoint %s: %s (free disk space or use --save_total_limit; %s)", model_path, strerror(errno), previous);
    test_kill_point("after_model", st->step);
    if (file_crc32(model_path, &st->model_size, &st->model_crc32) != 0)
        die("cannot read back %s: %s (check the disk; %s)", model_path, strerror(errno), previous);
    if (train_state_write(state_path, st, opt) != 0) {
        int e = errno;
        unlink(model_path);
        die("cannot write checkpoint %s: %s (free disk space or use --save_total_limit; %s)", state_path, strerror(e), previous);
    }
    test_kill_point("after_state", st->step);
    if (a->save_total_limit > 0) {
        int n;
        int64_t *steps = checkpoint_list_steps(a->output_dir, &n);
        for (int i = (int)a->save_total_limit; i < n; i++) checkpoint_remove(a->output_dir, steps[i]);
        free(steps);
    }
    free(model_path);
    free(state_path);
}

// Newest complete checkpoint that belongs to this run; -1 when there is none. A pair without its
// state file is incomplete (the model file is written first, so a kill in between leaves that):
// skipped like no checkpoint at all. Any other unusable pair is damaged: skipped when an older
// pair can be used, but an error when none can, since starting over would overwrite it. A
// complete pair from a different run is an error. Warnings wait for the outcome, so that an
// error stays one line.
static int64_t find_resume_point(const TrainArgs *a, const char *identity, AdamW *opt, TrainState *st) {
    int n;
    int64_t *steps = checkpoint_list_steps(a->output_dir, &n);
    int64_t found = -1;
    char **skipped = (char **)calloc_or_die((size_t)n, sizeof *skipped);  // (cast: train_gpt2.cu is C++)
    int newest_damaged = -1;
    for (int i = 0; i < n && found < 0; i++) {
        char *model_path = checkpoint_model_path(a->output_dir, steps[i]);
        char *state_path = checkpoint_state_path(a->output_dir, steps[i]);
        char why[1024];
        int damaged = 1;
        if (!file_exists(state_path)) {
            snprintf(why, sizeof why, "%s is missing (the write did not finish)", state_path);
            damaged = 0;
        } else if (!file_exists(model_path)) {
            snprintf(why, sizeof why, "%s is missing", model_path);
        } else if (train_state_read(state_path, st, opt, st->num_records, why, sizeof why) != 0) {
            // why says what is wrong
        } else {
            if (train_identity_diff(st->identity, identity, why, sizeof why))
                die("--resume: %s belongs to a different run (%s); resume with the same flags and data, or use another --output_dir",
                    state_path, why);
            uint64_t size = 0;
            uint32_t crc = 0;
            if (st->step != steps[i])
                snprintf(why, sizeof why, "%s holds step %lld", state_path, (long long)st->step);
            else if (file_crc32(model_path, &size, &crc) != 0 || size != st->model_size || crc != st->model_crc32)
                snprintf(why, sizeof why, "%s does not match its state file", model_path);
            else
                found = steps[i];
            if (found < 0) { free(st->identity); st->identity = NULL; }
        }
        if (found < 0) {
            skipped[i] = strdup_or_die(why);
            if (damaged && newest_damaged < 0) newest_damaged = i;
        }
        free(model_path);
        free(state_path);
    }
    if (found < 0 && newest_damaged >= 0) {
        if (n == 1)
            die("--resume: the only checkpoint in %s cannot be used (step %lld: %s); repair or remove it, or start over "
                "with --overwrite_output_dir in place of --resume", a->output_dir, (long long)steps[0], skipped[0]);
        die("--resume: none of the %d checkpoints in %s can be used (step %lld: %s); repair or remove them, or start over "
            "with --overwrite_output_dir in place of --resume", n, a->output_dir, (long long)steps[newest_damaged],
            skipped[newest_damaged]);
    }
    for (int i = 0; i < n; i++) {
        if (!skipped[i]) continue;
        warn("skipping checkpoint of step %lld: %s", (long long)steps[i], skipped[i]);
        free(skipped[i]);
    }
    free(skipped);
    free(steps);
    return found;
}

static void format_duration(double seconds, char *out, size_t n) {
    long s = (long)(seconds + 0.5);
    if (s >= 3600) snprintf(out, n, "%ldh%02ldm", s / 3600, (s / 60) % 60);
    else if (s >= 60) snprintf(out, n, "%ldm%02lds", s / 60, s % 60);
    else snprintf(out, n, "%lds", s);
}

static void output_path_usable_or_die(const char *path) {
    const char *kind;
    int k = path_kind(path, &kind);
    if (k < 0) die("--output_dir: cannot look at %s: %s (make it readable, or choose another --output_dir)", path, strerror(errno));
    if (k == 2)
        die("--output_dir: %s exists and is not a regular file (%s); remove or rename it, the run reads or writes this path",
            path, kind);
}

// Every path of the output dir the run may read or replace must be absent or a regular file.
// Checked before anything is trained or rewritten: otherwise a directory there would pass for a
// missing checkpoint, and the run would train for nothing and fail at its first write. Future
// checkpoint names match the listing's pattern, so any that exist are among the steps listed.
static void check_output_paths(const char *dir) {
    static const char *const FILES[] = {"model.bin", "config.json", "train_log.jsonl"};
    for (size_t i = 0; i < sizeof FILES / sizeof *FILES; i++) {
        char *path = path_join(dir, FILES[i]);
        output_path_usable_or_die(path);
        free(path);
    }
    int n;
    int64_t *steps = checkpoint_list_steps(dir, &n);
    for (int i = 0; i < n; i++) {
        char *model_path = checkpoint_model_path(dir, steps[i]), *state_path = checkpoint_state_path(dir, steps[i]);
        output_path_usable_or_die(model_path);
        output_path_usable_or_die(state_path);
        free(model_path);
        free(state_path);
    }
    free(steps);
}

// Two trainers writing one output directory would interleave their logs and checkpoints. The
// lock is released by the kernel when the process ends, however it ends. A process that was just
// killed may still be finishing an fsync, so wait a few seconds before calling the dir busy.
static void lock_output_dir(const char *dir) {
    char *path = path_join(dir, ".train_gpt2.lock");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) die("cannot create %s: %s (choose a writable --output_dir)", path, strerror(errno));
    double give_up = now_seconds() + 5.0;
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (now_seconds() > give_up)
            die("--output_dir %s is in use by another train_gpt2 process (wait for it, or choose another --output_dir)", dir);
        usleep(100 * 1000);
    }
    free(path);  // fd stays open: it holds the lock
}

// ---------------------------------------------------------------------------------------------

// GPU: --precision is the one flag train_gpt2 does not have. It is taken out of argv before the
// shared parser sees the rest ("--precision bf16" or "--precision=bf16").
static Precision take_precision_flag(int *argc, char **argv) {
    Precision precision = PRECISION_BF16;
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *value = NULL;
        if (strcmp(argv[i], "--precision") == 0) {
            if (i + 1 >= *argc) die("--precision needs a value (use --precision bf16 or --precision fp32)");
            value = argv[++i];
        } else if (strncmp(argv[i], "--precision=", 12) == 0) {
            value = argv[i] + 12;
        } else {
            argv[out++] = argv[i];
            continue;
        }
        if (strcmp(value, "bf16") == 0) precision = PRECISION_BF16;
        else if (strcmp(value, "fp32") == 0) precision = PRECISION_FP32;
        else die("--precision %s: unknown precision (use --precision bf16 or --precision fp32)", value);
    }
    *argc = out;
    argv[out] = NULL;
    return precision;
}

// ---------------------------------------------------------------------------------------------

int main(int argc, char **argv) {
    set_program_name(argv[0]);
    // GPU: --nccl_init decides how the ranks meet: through MPI, or without it (file / TCP rendezvous).
    DistGpuFlags gpu_flags = dist_gpu_take_flags(&argc, argv);
    dist_gpu_launch(&dist, &argc, &argv, &gpu_flags);
    Precision precision = take_precision_flag(&argc, argv);
    TrainArgs args;
    train_args_parse(&args, argc, argv, DESCRIPTION);
    if (args.threads > 0) omp_set_num_threads((int)args.threads);
    int threads = omp_get_max_threads();
    if (!dist_is_main(&dist)) {  // rank 0 speaks for the job; errors and warnings still reach stderr
        if (!freopen("/dev/null", "w", stdout)) die("cannot open /dev/null: %s", strerror(errno));
        args.quiet = 1;
    }

    // Data first: its errors are cheap to find, a model can take a while to load.
    DataLoader train, val_loader, *val = NULL;
    dataloader_open(&train, args.train_file, "--train_file");
    if (strcmp(args.validation_file, "none") != 0) {
        dataloader_open(&val_loader, args.validation_file, "--validation_file");
        val = &val_loader;
    }
    // The default path is optional, but only absence skips it: a directory or FIFO there is a mistake.
    const char *tokenizer_kind;
    int tokenizer_found = path_kind(args.tokenizer, &tokenizer_kind);
    if (tokenizer_found < 0)
        die("--tokenizer %s: cannot look at it: %s (make it readable, or point --tokenizer at the tokenizer file)",
            args.tokenizer, strerror(errno));
    if (tokenizer_found == 2)
        die("--tokenizer %s exists but is not a regular file (%s); point --tokenizer at the tokenizer file, or move it away",
            args.tokenizer, tokenizer_kind);
    if (train_args_was_set(&args, "tokenizer") && tokenizer_found == 0)
        die("--tokenizer %s: no such file (run `make vocab`, or leave the flag out)", args.tokenizer);
    // Only its hash is recorded, but a file that is no tokenizer must fail here, as in the other programs.
    if (tokenizer_found == 1) tokenizer_free(tokenizer_load(args.tokenizer));

    // GPU: this rank's GPU (the local rank's unless --gpu says), new enough, before the model is
    // read; then the communicator of the ranks.
    int device = dist_gpu_pick_device(&dist, gpu_flags.gpu);
    cudaDeviceProp gpu = gpu_check_device_at(precision, device);
    dist_gpu_setup(&nccl, &dist, &gpu_flags, device);

    GPT2 model;  // host copy: checkpoints are read into it and written from it
    ModelOrigin origin;
    init_model(&args, &model, &origin);
    TrainPlan plan;
    memset(&plan, 0, sizeof plan);
    make_plan(&args, &model, &train, &plan);
    if (val && val->shard.max_token >= model.config.vocab_size)
        die("%s holds token id %d but the model's vocabulary has %d tokens (use data tokenized for this model)",
            args.validation_file, val->shard.max_token, model.config.vocab_size);
    if (val && val->record_length - 1 < plan.T)
        die("%s: its examples have %d tokens, fewer than the training length T=%d (use a validation shard from the same dataset, or --max_seq_length <= %d)",
            args.validation_file, val->record_length - 1, plan.T, val->record_length - 1);
    // Every rank draws the same global passes of B * ranks rows and trains on its slice of each.
    dataloader_start(&train, plan.B * dist.world_size, plan.T, 1, (uint64_t)args.seed);
    if (val) dataloader_start(val, plan.B, plan.T, 0, 0);
    size_t val_examples = 0;
    if (val) {
        val_examples = val->num_records;
        if (args.val_max_examples > 0 && (size_t)args.val_max_examples < val_examples) val_examples = (size_t)args.val_max_examples;
    }
    MemEval mem;
    mem_eval_setup(&mem, &args, &train, val, plan.T, plan.B);
    sha256_file_hex(args.train_file, plan.train_sha256);
    if (val) sha256_file_hex(args.validation_file, plan.val_sha256);
    if (file_exists(args.tokenizer)) sha256_file_hex(args.tokenizer, plan.tokenizer_sha256);

    LRSchedule schedule;
    lr_schedule_kind_from_name(args.lr_schedule, &schedule.kind);
    schedule.max_lr = args.learning_rate;
    schedule.min_lr_fraction = args.min_lr_fraction;
    schedule.warmup_steps = args.warmup_steps;
    schedule.total_steps = plan.total_steps;

    // GPU: allocate everything now (an out-of-memory error names the batch size that fits) and
    // upload the starting weights, before anything is written to --output_dir.
    GPT2Cuda gmodel;
    // ZeRO-1: this rank keeps the moments of its shard only.
    int zero1 = args.zero_stage == 1;
    gpt2cu_init_sharded(&gmodel, &model, precision, plan.B, plan.T, "--per_device_train_batch_size",
                        zero1 ? dist.world_size : 1, zero1 ? dist.rank : 0, dist.world_size);

    AdamW opt;  // host copy of the moments: filled from the GPU for checkpoints, and on resume
    adamw_init(&opt, model.num_parameters);
    AdamWHyper hyper = {
        .learning_rate = 0.0f, .beta1 = (float)args.adam_beta1, .beta2 = (float)args.adam_beta2,
        .eps = (float)args.adam_epsilon, .weight_decay = (float)args.weight_decay, .grad_clip = (float)args.grad_clip,
    };

    // Output directory: a fresh start or a resume.
    if (dist_is_main(&dist)) {
        make_dirs_or_die(args.output_dir);
        lock_output_dir(args.output_dir);
        check_output_paths(args.output_dir);
        remove_stale_temp_files(args.output_dir);
    }
    dist_gpu_barrier(&nccl, "output directory setup");
    char *log_path = path_join(args.output_dir, "train_log.jsonl");
    char *config_path = path_join(args.output_dir, "config.json");
    char *final_path = path_join(args.output_dir, "model.bin");
    char *identity = run_identity(&args, &model, &origin, &plan, precision);
    TrainState st;
    memset(&st, 0, sizeof st);
    st.num_records = train.num_records;
    st.order = train.order;
    st.threads = threads;
    int64_t start_step = 0;
    double elapsed_before = 0.0;
    int64_t tokens_trained = 0;
    int64_t resumed_from = -1;
    double resume_seconds = 0.0;
    if (args.resume) {
        double resume_start = now_seconds();
        resumed_from = find_resume_point(&args, identity, &opt, &st);
        resume_seconds = now_seconds() - resume_start;
        // Every rank reads the checkpoint itself, so every rank must see the same one.
        int64_t rank0_resumed_from = resumed_from;
        dist_gpu_broadcast(&nccl, &rank0_resumed_from, sizeof rank0_resumed_from, 0, "resume step");
        if (rank0_resumed_from != resumed_from)
            dist_abort(&dist, "--resume: this rank found the checkpoint of step %lld, rank 0 that of step %lld (put --output_dir "
                       "on a file system every node sees)", (long long)resumed_from, (long long)rank0_resumed_from);
        if (resumed_from >= 0) {
            char *model_path = checkpoint_model_path(args.output_dir, resumed_from);
            char why[512];
            gpt2_free(&model);
            if (gpt2_init_from_checkpoint_try(&model, model_path, why, sizeof why) != 0) die("--resume: %s", why);
            // GPU: continue from exactly these weights and moments (the bf16 copy is re-derived
            // from the master weights, as after every AdamW step).
            gpt2cu_upload_params(&gmodel, &model);
            gpt2cu_upload_optimizer(&gmodel, &opt);
            free(model_path);
            start_step = st.step;
            train.epoch = st.epoch;
            train.position = st.position;
            train.rng.state = st.rng_state;
            elapsed_before = st.elapsed_seconds;
            tokens_trained = st.tokens_trained;
            // GPU: the host thread count does not change the GPU results.
            free(st.identity);
        } else {
            // Failed candidates may have been read part-way into these buffers: start clean.
            warn("--resume: no complete checkpoint in %s, starting from step 0", args.output_dir);
            dataloader_reset(&train, (uint64_t)args.seed);
            adamw_free(&opt);
            adamw_init(&opt, model.num_parameters);
        }
        if (dist_is_main(&dist)) jsonl_truncate_after(log_path, "step", (double)start_step);
    } else if (dist_is_main(&dist)) {
        int n;
        int64_t *steps = checkpoint_list_steps(args.output_dir, &n);
        if (n > 0 && !args.overwrite_output_dir)
            die("--output_dir %s already holds checkpoints of a run (continue it with --resume, or start over with --overwrite_output_dir)",
                args.output_dir);
        for (int i = 0; i < n; i++) checkpoint_remove(args.output_dir, steps[i]);
        free(steps);
        write_file_atomic_or_die(log_path, "", 0);
    }
    st.identity = identity;

    cJSON *config = build_config(&args, &model, &origin, &plan, &train, val, threads, resumed_from, precision, &gpu);
    if (dist_is_main(&dist)) json_write_file_atomic_or_die(config_path, config);

    printf("train_gpt2cu %s: %s, %zu parameters (L=%d C=%d H=%d V=%d), %s on %s\n", MEMLENS_VERSION, origin.source,
           model.num_parameters, model.config.num_layers, model.config.channels, model.config.num_heads,
           model.config.vocab_size, precision == PRECISION_BF16 ? "bf16" : "fp32", gpu.name);
    printf("data: %zu training examples of %d tokens in %s; T=%d", train.num_records, train.record_length - 1,
           args.train_file, plan.T);
    if (plan.T < train.record_length - 1) printf(" (the last %d tokens of each example are not trained on)", train.record_length - 1 - plan.T);
    printf("\n");
    if (val) printf("validation: %zu of %zu examples in %s\n", val_examples, val->num_records, args.validation_file);
    printf("schedule: %lld steps (%lld per epoch), %d examples x %d accumulation = %lld examples per step, lr %g %s, warmup %lld\n",
           (long long)plan.total_steps, (long long)plan.steps_per_epoch, plan.B * dist.world_size, plan.accum_steps, (long long)plan.rows_per_step,
           args.learning_rate, args.lr_schedule, (long long)args.warmup_steps);
    if (dist.world_size > 1)
        printf("data parallel: %d ranks (launched by %s), each trains on %d of every %d examples of a pass\n",
               dist.world_size, dist.launcher, plan.B, plan.B * dist.world_size);
    if (args.zero_stage == 1) {
        size_t shard = dist_zero_shard(model.num_parameters, dist.world_size, 0, NULL);
        printf("ZeRO-1: each rank updates at most %zu of the %zu weights and keeps only their AdamW moments on its "
               "GPU: %.3f GiB instead of %.3f GiB\n", shard, model.num_parameters,
               gmodel.shard_stride * 8.0 / 1073741824.0, model.num_parameters * 8.0 / 1073741824.0);
        if (dist.world_size == 1) warn("--zero_stage 1 with one rank: there is nothing to shard (start several ranks with mpirun)");
    }
    if (resumed_from >= 0) printf("resuming from step %lld (checkpoint found and verified in %.2f s)\n", (long long)resumed_from, resume_seconds);
    fflush(stdout);

    // Training loop. One optimizer step = accum_steps passes of up to B examples; the last step of
    // an epoch takes only the examples left, so every example is seen once per epoch.
    int64_t previous_checkpoint = resumed_from;
    double process_start = now_seconds();
    float last_loss = -1.0f;
    double last_val = -1.0;
    int64_t last_val_step = -1;
    for (int64_t step = start_step; step < plan.total_steps; step++) {
        double t0 = now_seconds();
        float lr = (float)lr_schedule_at(&schedule, step);
        int64_t left = (int64_t)dataloader_rows_left(&train);
        int rows_this_step = (int)(left < plan.rows_per_step ? left : plan.rows_per_step);
        gpt2cu_zero_grad(&gmodel);
        float loss = 0.0f;
        for (int done = 0; done < rows_this_step;) {
            int pass_rows = dataloader_next(&train, rows_this_step - done);
            done += pass_rows;
            // This rank's contiguous slice of the pass (all of it when alone), moved to the front.
            size_t slice_first;
            int rows = (int)dist_share((size_t)pass_rows, dist.world_size, dist.rank, &slice_first);
            if (rows == 0) continue;  // a short last pass of an epoch can leave a rank nothing
            if (slice_first > 0) {
                memmove(train.inputs, train.inputs + slice_first * plan.T, (size_t)rows * plan.T * sizeof(int));
                memmove(train.targets, train.targets + slice_first * plan.T, (size_t)rows * plan.T * sizeof(int));
            }
            gpt2cu_forward(&gmodel, train.inputs, train.targets, rows, plan.T);
            // Weight each pass by its share of the step's examples: the gradient is then the mean over them.
            float share = (float)rows / (float)rows_this_step;
            gpt2cu_backward(&gmodel, share);
            loss += gmodel.mean_loss * share;
        }
        if (nccl.active) {
            // Each rank's gradient is already weighted by its share of the step: the sum is the mean.
            // GPU: summed on the device; a rank that had no rows adds the zeros of gpt2cu_zero_grad.
            if (args.zero_stage == 1)  // this rank's shard only: the rest is not used (zero1_adamw_step)
                dist_gpu_reduce_scatter_sum_float(&nccl, gmodel.grads, gmodel.shard_stride, gmodel.stream, "gradients");
            else
                dist_gpu_allreduce_sum_float(&nccl, gmodel.grads, gmodel.num_parameters, gmodel.stream, "gradients");
            double loss_sum = loss;
            dist_gpu_allreduce_sum_double(&nccl, &loss_sum, 1, "training loss");
            loss = (float)loss_sum;
        }
        if (!isfinite(loss))
            die("the training loss became %f at step %lld (training diverged; lower --learning_rate or use --grad_clip; "
                "checkpoints so far are intact)", loss, (long long)(step + 1));
        test_kill_point("mid_step", step + 1);
        hyper.learning_rate = lr;
        float grad_norm = args.zero_stage == 1 ? zero1_adamw_step(&gmodel, &hyper) : gpt2cu_adamw_step(&gmodel, &hyper);
        int64_t done_steps = step + 1;
        tokens_trained += (int64_t)rows_this_step * plan.T;
        last_loss = loss;

        int do_eval = val && (done_steps == plan.total_steps || (args.eval_every > 0 && done_steps % args.eval_every == 0));
        if (do_eval) {
            last_val = validation_loss(&gmodel, val, val_examples);
            last_val_step = done_steps;
        }
        // The probe only reads the model (rank 0 alone: every rank holds the same weights).
        int do_mem_eval = mem.enabled && done_steps % args.mem_eval_every == 0 && dist_is_main(&dist);
        cJSON *mem_json = do_mem_eval ? mem_eval_run(&mem, mem_eval_argmax, &gmodel) : NULL;
        double t1 = now_seconds();
        double elapsed = elapsed_before + (t1 - process_start);
        double tokens_per_second = (double)rows_this_step * plan.T / (t1 - t0);
        double epoch_progress = (double)train.epoch + (double)train.position / (double)train.num_records;

        cJSON *line = cJSON_CreateObject();
        cJSON_AddNumberToObject(line, "step", (double)done_steps);
        cJSON_AddNumberToObject(line, "epoch", epoch_progress);
        cJSON_AddNumberToObject(line, "loss", loss);
        if (do_eval) cJSON_AddNumberToObject(line, "val_loss", last_val);
        cJSON_AddNumberToObject(line, "lr", lr);
        cJSON_AddNumberToObject(line, "grad_norm", grad_norm);
        cJSON_AddNumberToObject(line, "tokens_per_second", tokens_per_second);
        cJSON_AddNumberToObject(line, "elapsed_s", elapsed);
        if (mem_json) cJSON_AddItemToObject(line, "mem_eval", mem_json);  // the line owns it now
        if (dist_is_main(&dist)) jsonl_append_or_die(log_path, line);
        cJSON_Delete(line);
        test_kill_point("after_log", done_steps);

        if (!args.quiet) {
            double per_step = (t1 - process_start) / (double)(done_steps - start_step);
            char eta[32];
            format_duration(per_step * (double)(plan.total_steps - done_steps), eta, sizeof eta);
            fprintf(stderr, "step %lld/%lld | epoch %.2f | loss %.6f", (long long)done_steps, (long long)plan.total_steps,
                    epoch_progress, loss);
            if (do_eval) fprintf(stderr, " | val %.6f", last_val);
            fprintf(stderr, " | lr %.3e | norm %.4f | %.0f tok/s | ETA %s\n", lr, grad_norm, tokens_per_second, eta);
            if (do_mem_eval) mem_eval_print(&mem, done_steps);
        }

        int do_save = args.save_every > 0 && done_steps % args.save_every == 0;
        if (do_save && args.zero_stage == 1) zero1_gather_moments(&gmodel, &opt);  // a collective: every rank
        if (do_save && dist_is_main(&dist)) {
            st.step = done_steps;
            st.epoch = train.epoch;
            st.position = train.position;
            st.rng_state = train.rng.state;
            st.elapsed_seconds = elapsed;
            st.tokens_trained = tokens_trained;
            double save_start = now_seconds();
            gpt2cu_download_params(&gmodel, &model);  // GPU: fp32 master weights and moments to the host
            if (args.zero_stage != 1) gpt2cu_download_optimizer(&gmodel, &opt);  // (ZeRO-1 gathered them above)
            save_checkpoint(&args, &model, &opt, &st, previous_checkpoint);
            previous_checkpoint = done_steps;
            printf("checkpoint of step %lld written in %.2f s\n", (long long)done_steps, now_seconds() - save_start);
            fflush(stdout);
        }
        // The other ranks wait for that write in their next collective (model + state: about 12 bytes a weight).
        if (do_save) dist_grace(&dist, dist_write_grace(&dist, 12.0 * (double)model.num_parameters));
    }
    if (val && last_val_step < 0) {  // resumed at the very end: nothing trained in this process
        last_val = validation_loss(&gmodel, val, val_examples);
        last_val_step = plan.total_steps;
    }

    test_kill_point("before_final_model", plan.total_steps);
    gpt2cu_download_params(&gmodel, &model);
    if (!dist_is_main(&dist)) {  // rank 0 writes the model; the others only wait for it to finish
        dist_grace(&dist, dist_write_grace(&dist, 8.0 * (double)model.num_parameters));  // the write and its sha256
        dist_gpu_finalize(&nccl);
        return 0;
    }
    if (save_model_file(&model, final_path, args.save_bf16, plan.total_steps) != 0)
        die("cannot write %s: %s (free disk space; the checkpoints in %s are intact, rerun with --resume)",
            final_path, strerror(errno), args.output_dir);
    double train_seconds = elapsed_before + (now_seconds() - process_start);
    cJSON *result = cJSON_AddObjectToObject(config, "result");
    cJSON_AddNumberToObject(result, "steps", (double)plan.total_steps);
    cJSON_AddNumberToObject(result, "tokens_trained", (double)tokens_trained);
    cJSON_AddNumberToObject(result, "train_seconds", train_seconds);
    if (last_loss >= 0) cJSON_AddNumberToObject(result, "final_train_loss", last_loss);
    else cJSON_AddNullToObject(result, "final_train_loss");
    if (val) cJSON_AddNumberToObject(result, "final_val_loss", last_val);
    else cJSON_AddNullToObject(result, "final_val_loss");
    char model_sha[65];
    sha256_file_hex(final_path, model_sha);
    cJSON_AddStringToObject(result, "model_sha256", model_sha);
    json_write_file_atomic_or_die(config_path, config);
    cJSON_Delete(config);

    printf("done: %lld steps, %lld tokens in %.1f s", (long long)plan.total_steps, (long long)tokens_trained, train_seconds);
    if (last_loss >= 0) printf("; final loss %.6f", last_loss);
    if (val) printf(", val loss %.6f", last_val);
    printf("\nwrote %s\n", final_path);

    free(identity);
    free(log_path);
    free(config_path);
    free(final_path);
    mem_eval_free(&mem);
    adamw_free(&opt);
    gpt2cu_free(&gmodel);
    gpt2_free(&model);
    dataloader_free(&train);
    if (val) dataloader_free(val);
    dist_gpu_finalize(&nccl);
    return 0;
}
