// test_memorization: how much of its training data a GPT-2 model reproduces.
//
// For every selected example (members from train.bin, non-members from test.bin) and context
// length k, two probes:
//   prefix probe: prompt = eot + the example's first k tokens (positions 0..k, as in training);
//     greedy decoding of max_new_tokens is compared with the example's next tokens.
//   ID probe: prompt = the k tokens just before the closing identifier, at their original
//     positions; greedy decoding must produce the closing identifier's tokens.
// Fast path: greedy decoding reproduces a continuation exactly iff, with the true continuation
// fed in (teacher forcing), the argmax at every continuation position is the true token. So one
// forward pass per example gives exact match, matched prefix, token accuracy and loss for every k;
// text is generated (KV cache, batched) only where a metric needs it and the pass cannot give it.
// --plain_greedy decodes every probe autoregressively instead (to check the fast path).
//
// The model calls go through an EvalBackend (llmc/eval_backend.h): the CPU one below, or the GPU
// one of llmc/memorization_cuda.cu when built as test_memorizationcu (-DMEMLENS_CUDA, see the
// Makefile). Everything else -- selection, probes, metrics, JSON -- is this one file for both.
//
// Output: a JSON summary (configuration, provenance, aggregates with 95% intervals, timings) and a
// .jsonl of per-example records beside it, both written atomically.
#include "llmc/args.h"
#include "llmc/dataset_meta.h"
#include "llmc/dist.h"
#include "llmc/eval_backend.h"
#include "llmc/exposure.h"
#include "llmc/gpt2.h"
#include "llmc/gpt2_infer.h"
#include "llmc/mia.h"
#include "llmc/sha256.h"
#include "llmc/shard.h"
#include "llmc/stats.h"
#include "llmc/teacher_forced.h"
#include "llmc/tfidf.h"
#include "llmc/tokenizer.h"
#include "llmc/utils.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

// The ranks of a data-parallel run (mpirun -np N); world_size 1 when run alone.
static Dist dist;

#ifdef MEMLENS_CUDA
#define PROGRAM_NAME "test_memorizationcu"
#else
#define PROGRAM_NAME "test_memorization"
#endif
#define PROGRAM_VERSION "1.0.0"
// A decision position whose top-1 minus top-2 logit is below this share of max(1, |top-1 logit|)
// is counted as a near tie. Both backends compute in fp32 and differ only in the order of sums;
// test_gpt2cu holds the GPU's fp32 logits within 1e-4 (relative to the largest) of the CPU's, so
// only decisions this close can come out differently; the JSON says how many there were.
#define NEAR_TIE_RELATIVE 1e-4
#define SCHEMA_VERSION 1
#define NUM_SPLITS 2
static const char *const SPLIT_NAMES[NUM_SPLITS] = {"train", "test"};

// ---------------------------------------------------------------------------------------------
// Inputs.

typedef struct {
    const char *model_path, *model_name, *model_dir, *tokenizer_path, *train_file, *test_file, *metadata_file, *output_file;
    const char *context_lengths_text, *splits_text, *exposure_candidates_text, *exposure_context;
    int64_t num_examples, max_new_tokens, seed, threads, batch_size, bootstrap_samples;
    int plain_greedy;
} Options;

// One example to evaluate: where its tokens are and where its closing identifier sits.
typedef struct {
    const char *id;          // identifier text from the metadata
    int split;               // 0 train (member), 1 test (non-member)
    int repeats;             // training copies
    int number;              // NNNNN of the identifier
    size_t record;           // record index in the split's shard (the first copy)
    const uint16_t *tokens;  // the record: eot, then tokens_per_example tokens (R in all)
    int close_pos;           // record position of the closing identifier's first token
    int close_len;           // its token count
    char *id_text;           // the closing identifier decoded and trimmed ("[SYNTHETIC_EXAMPLE_00042]")
} Example;

// Results of both probes for one example and one context length.
typedef struct {
    int exact_match;         // greedy continuation == true continuation
    int matched_prefix;      // leading generated tokens that are right
    double token_accuracy;   // teacher-forced argmax == true token, share of continuation positions
    double loss;             // mean NLL of the true continuation (nats)
    double similarity;       // TF-IDF cosine of generated vs true continuation text
    int id_applicable;       // the k tokens before the closing identifier exist in the record
    int id_match;            // greedy decoding from them gives the closing identifier exactly
    int id_in_generation;    // the identifier text appears in the prefix probe's generated text
    int *generated;          // (max_new) greedy continuation; NULL until known (exact: the truth)
    int *id_generated;       // (close_len) greedy identifier attempt; NULL when id_match
} Probe;

// Privacy-audit values of one example (llmc/mia.h, llmc/exposure.h): membership-inference
// scores from the teacher-forced pass and the exposure of its closing identifier.
typedef struct {
    double loss;             // mean NLL of the scored tokens (nats)
    double zlib_ratio;       // loss / zlib-compressed bytes of their text
    double min_k[2];         // min-k% log-probability, k = 10%, 20%
    int has_exposure;        // exposure was computed (--exposure_candidates > 0 and it applies)
    ExposureResult exposure;
} AuditRecord;

static const double MIN_K_FRACTIONS[2] = {0.10, 0.20};

typedef struct {
    Options opt;
    GPT2 model;
    Tokenizer *tokenizer;
    Shard shards[NUM_SPLITS];
    const char *shard_paths[NUM_SPLITS];
    int split_enabled[NUM_SPLITS];
    int tokens_per_example, record_length;
    int *ks, num_ks;                   // context lengths that are evaluated
    cJSON *skipped;                    // [{k, reason}]
    cJSON *notes;                      // strings: adjustments made
    Example *examples[NUM_SPLITS];     // selected examples per split
    int num_examples[NUM_SPLITS];
    int available_examples[NUM_SPLITS];
    Probe *probes[NUM_SPLITS];         // (num_examples, num_ks)
    TfidfModel *tfidf;
    int tfidf_documents;
    int gen_batch;                     // rows per generation batch (the KV cache is small: more than --batch_size)
    int max_close_len;
    double t_teacher, t_id, t_generate, t_text;
    AuditRecord *audit[NUM_SPLITS];    // (num_examples) per split
    int exposure_candidates;           // 0 = exposure off
    int mia_scored_tokens;             // tokens per example behind the MIA scores
    double t_exposure;
    size_t generated_sequences;
    EvalBackend *backend;
    // decision positions and those among them with a near tie (NEAR_TIE_RELATIVE)
    size_t tf_positions, tf_near_ties, id_positions, id_near_ties;
} Eval;

static Probe *probe_at(Eval *ev, int split, int example, int ki) { return &ev->probes[split][(size_t)example * ev->num_ks + ki]; }

// ---------------------------------------------------------------------------------------------
// Small helpers.

// The output's companion file: "x.json" -> "x.jsonl", anything else -> "<name>.jsonl".
static char *records_path_for(const char *output) {
    size_t n = strlen(output);
    char *p = malloc_or_die(n + 8);
    if (n > 5 && !strcmp(output + n - 5, ".json")) snprintf(p, n + 8, "%sl", output);
    else snprintf(p, n + 8, "%s.jsonl", output);
    return p;
}

// A file at path whose start parses as a JSON object with `key`: what an earlier run of this
// program left there (results: "program"; records: one object per line with "example_id").
static int looks_like_ours(const char *path, int first_line_only, const char *key) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t cap = 1 << 20, len = 0;
    char *text = malloc_or_die(cap + 1);
    int c;
    while (len < cap && (c = fgetc(f)) != EOF && !(first_line_only && c == '\n')) text[len++] = (char)c;
    fclose(f);
    text[len] = '\0';
    cJSON *root = cJSON_ParseWithLength(text, len);
    int ours = cJSON_IsObject(root) && cJSON_GetObjectItemCaseSensitive(root, key) != NULL;
    cJSON_Delete(root);
    free(text);
    return ours;
}

// The results and records files replace whatever is at their paths. Refuse when that is one of the
// inputs (--output_file data/train.bin would put JSON over the shard) or a file that an earlier run
// of this program did not write (synthetic_dataset.json, a run's config.json, ...).
static void refuse_output_over_inputs(const Options *o, const char *records_path) {
    const char *inputs[][2] = {{"--model_path", o->model_path}, {"--tokenizer", o->tokenizer_path},
                               {"--train_file", o->train_file}, {"--test_file", o->test_file},
                               {"--metadata_file", o->metadata_file}};
    const char *targets[2] = {o->output_file, records_path};
    for (int t = 0; t < 2; t++) {
        struct stat out, in;
        if (stat(targets[t], &out) != 0) continue;
        for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++)
            if (inputs[i][1] && stat(inputs[i][1], &in) == 0 && in.st_dev == out.st_dev && in.st_ino == out.st_ino)
                die("--output_file %s: %s%s is the %s, an input; writing the results would replace it (give another "
                    "--output_file)", o->output_file, t ? "its records file " : "", t ? records_path : "it", inputs[i][0]);
    }
    if (file_exists(o->output_file) && !looks_like_ours(o->output_file, 0, "schema_version"))
        die("--output_file %s exists and is not a results file of test_memorization; writing would replace it (give "
            "another --output_file, or remove the file)", o->output_file);
    if (file_exists(records_path) && !looks_like_ours(records_path, 1, "example_id"))
        die("--output_file %s: its records file %s exists and is not test_memorization records; writing would replace it "
            "(give another --output_file, or remove the file)", o->output_file, records_path);
}

static char *git_commit(void) {
    char exe[4096], cmd[4300], line[128] = "";
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return strdup_or_die("unknown");
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) *slash = '\0';
    snprintf(cmd, sizeof cmd, "git -C '%s' rev-parse HEAD 2>/dev/null", exe);
    FILE *p = popen(cmd, "r");
    if (p) {
        if (!fgets(line, sizeof line, p)) line[0] = '\0';
        pclose(p);
    }
    line[strcspn(line, "\r\n")] = '\0';
    return strdup_or_die(strlen(line) == 40 ? line : "unknown");
}

// CPU seconds of this process (all threads): a figure that holds up on a shared machine.
static double cpu_seconds(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

static char *decode_tokens(const Tokenizer *t, const int *ids, size_t n) {
    char *text = NULL;
    tokenizer_decode(t, ids, n, &text);
    return text;
}

static char *decode_record_span(const Tokenizer *t, const uint16_t *tokens, int start, int len) {
    int *ids = malloc_or_die((size_t)(len > 0 ? len : 1) * sizeof(int));
    for (int i = 0; i < len; i++) ids[i] = tokens[start + i];
    char *text = decode_tokens(t, ids, (size_t)len);
    free(ids);
    return text;
}

static int is_near_tie(float relative_margin) { return !(relative_margin >= NEAR_TIE_RELATIVE); }

#ifndef MEMLENS_CUDA
// ---------------------------------------------------------------------------------------------
// The CPU backend (llmc/eval_backend.h): the fp32 model of llmc/gpt2.h, KV-cache inference of
// llmc/gpt2_infer.h, exposure scoring of llmc/exposure.h.

typedef struct {
    GPT2 *model;
    GPT2Infer infer;              // KV cache of generation_batch rows
    int batch_size;               // --batch_size: examples per teacher-forced pass
    ContinuationScorer scorer;    // made on the first exposure call
    int scorer_len;
} CpuBackend;

static int cpu_teacher_batch(EvalBackend *b, int T) { return ((CpuBackend *)b->impl)->batch_size; }

static void cpu_teacher_forced(EvalBackend *b, const int *inputs, const int *targets, int B, int T, int *argmax,
                               float *margin, float *nll) {
    CpuBackend *c = b->impl;
    const GPT2Config *cfg = &c->model->config;
    gpt2_forward(c->model, inputs, targets, B, T);
    gpt2_argmax_rows(argmax, margin, c->model->logits, (size_t)B * T, cfg->vocab_size, cfg->padded_vocab_size);
    memcpy(nll, c->model->losses, (size_t)B * T * sizeof(float));
}

static void cpu_score_last(EvalBackend *b, const int *tokens, const int *positions, int B, int T, int n_last, int *argmax,
                           float *margin) {
    gpt2_score_last(&((CpuBackend *)b->impl)->infer, tokens, positions, B, T, n_last, argmax, margin);
}

static void cpu_greedy_generate(EvalBackend *b, const int *prompts, const int *positions, const int *lengths, int B, int P,
                                int num_new, int *out) {
    gpt2_greedy_generate(&((CpuBackend *)b->impl)->infer, prompts, positions, lengths, B, P, num_new, out);
}

static size_t cpu_score_continuations(EvalBackend *b, int max_len, const int *context, const int *positions, int P,
                                      const int *const *candidates, const int *lengths, int M, double *loglik) {
    CpuBackend *c = b->impl;
    if (c->scorer_len < max_len) {
        if (c->scorer_len) continuation_scorer_free(&c->scorer);
        continuation_scorer_init(&c->scorer, c->model, max_len);
        gpt2_infer_share_packed(&c->scorer.infer, &c->infer);  // one packed copy of the weights, not two
        c->scorer_len = max_len;
    }
    return score_continuations(&c->scorer, context, positions, P, candidates, lengths, M, 256, loglik);
}

static void cpu_free(EvalBackend *b) {
    CpuBackend *c = b->impl;
    if (c->scorer_len) continuation_scorer_free(&c->scorer);  // borrows c->infer's packed weights
    gpt2_infer_free(&c->infer);
    free(c);
    free(b);
}

static EvalBackend *eval_backend_cpu_create(GPT2 *model, int cache_len, int generation_batch, int batch_size) {
    EvalBackend *b = calloc_or_die(1, sizeof *b);
    CpuBackend *c = calloc_or_die(1, sizeof *c);
    c->model = model;
    c->batch_size = batch_size;
    gpt2_infer_init(&c->infer, model, generation_batch, cache_len);
    b->name = "cpu";
    snprintf(b->device, sizeof b->device, "CPU, %d OpenMP threads", omp_get_max_threads());
    b->precision = "fp32";
    b->generation_batch = generation_batch;
    b->teacher_batch = cpu_teacher_batch;
    b->teacher_forced = cpu_teacher_forced;
    b->score_last = cpu_score_last;
    b->greedy_generate = cpu_greedy_generate;
    b->score_continuations = cpu_score_continuations;
    b->free = cpu_free;
    b->impl = c;
    return b;
}
#endif

// ---------------------------------------------------------------------------------------------
// Loading and validation: every mismatch is one line naming the file and the fix.

static void load_model(Eval *ev) {
    const char *path = ev->opt.model_path;
    // --model_name gpt2 (etc.) evaluates a converted pretrained checkpoint, e.g. as a baseline.
    char pretrained[1024];
    if (ev->opt.model_name) {
        if (!gpt2_resolve_pretrained(ev->opt.model_name, ev->opt.model_dir, "--model_name", pretrained, sizeof pretrained))
            die("--model_name %s: not a pretrained name (use gpt2, gpt2-medium, gpt2-large, gpt2-xl or distilgpt2; "
                "for a checkpoint file use --model_path)", ev->opt.model_name);
        path = pretrained;
    }
    char *file = dir_exists(path) ? path_join(path, "model.bin") : strdup_or_die(path);
    if (!file_exists(file)) {
        if (dir_exists(path)) die("--model_path: %s has no model.bin (point --model_path at a checkpoint file or a train_gpt2 output directory)", path);
        die("--model_path: %s does not exist (train one with train_gpt2 or pass an llm.c checkpoint)", path);
    }
    gpt2_init_from_checkpoint(&ev->model, file);
    ev->opt.model_path = file; // from here on, the file itself
}

static void load_data(Eval *ev) {
    const Options *o = &ev->opt;
    const GPT2Config *cfg = &ev->model.config;
    ev->tokenizer = tokenizer_load(o->tokenizer_path);
    // every id the model can generate must be decodable
    if (tokenizer_vocab_size(ev->tokenizer) < cfg->vocab_size)
        die("--tokenizer: %s has %d tokens but the model %s has a vocabulary of %d (use the tokenizer the model was trained with)",
            o->tokenizer_path, tokenizer_vocab_size(ev->tokenizer), o->model_path, cfg->vocab_size);
    ev->shard_paths[0] = o->train_file;
    ev->shard_paths[1] = o->test_file;
    for (int s = 0; s < NUM_SPLITS; s++) {
        // both shards are always loaded: the TF-IDF vocabulary is fitted on the whole dataset
        shard_load(&ev->shards[s], ev->shard_paths[s]);
        Shard *sh = &ev->shards[s];
        if (sh->record_length <= 0)
            die("%s: the shard is not example-aligned (header slot 3 is 0; regenerate the dataset with generate_dataset)", sh->path);
        if (sh->num_tokens > 0 && sh->max_token >= cfg->vocab_size)
            die("%s: token id %d is outside the model's vocabulary of %d (the dataset and %s were made with different tokenizers)",
                sh->path, sh->max_token, cfg->vocab_size, o->model_path);
    }
    if (ev->shards[0].record_length != ev->shards[1].record_length)
        die("%s: record length %d differs from %s's %d (pass shards of the same dataset)", ev->shards[1].path,
            ev->shards[1].record_length, ev->shards[0].path, ev->shards[0].record_length);
    ev->record_length = ev->shards[0].record_length;
    ev->tokens_per_example = ev->record_length - 1;
}

// Reads the metadata, checks it against the shards, and picks the examples of each split.
static void select_examples(Eval *ev) {
    const Options *o = &ev->opt;
    DatasetMeta meta;
    dataset_meta_load(&meta, o->metadata_file, "--metadata_file");
    // The dataset's ids only mean its texts under the tokenizer that made them. metadata.json
    // holds the sha256 of the tokenizer file generate_dataset read, so hash ours the same way;
    // eot and vocab_size first, as they say more than a hash when they differ.
    const char *fix = "pass the tokenizer the dataset was made with";
    if (meta.tokenizer_eot != tokenizer_eot(ev->tokenizer))
        die("%s was made with a tokenizer whose eot_token is %d, but --tokenizer %s has %d: %s", o->metadata_file,
            meta.tokenizer_eot, o->tokenizer_path, tokenizer_eot(ev->tokenizer), fix);
    if (meta.tokenizer_vocab_size != tokenizer_vocab_size(ev->tokenizer))
        die("%s was made with a tokenizer of %d tokens, but --tokenizer %s has %d: %s", o->metadata_file,
            meta.tokenizer_vocab_size, o->tokenizer_path, tokenizer_vocab_size(ev->tokenizer), fix);
    char tokenizer_sha[65];
    sha256_file_hex(o->tokenizer_path, tokenizer_sha);
    if (strcmp(meta.tokenizer_sha256, tokenizer_sha))
        die("%s was made with tokenizer sha256 %.12s..., but --tokenizer %s has %.12s...: %s", o->metadata_file,
            meta.tokenizer_sha256, o->tokenizer_path, tokenizer_sha, fix);
    if (meta.tokens_per_example != ev->tokens_per_example)
        die("%s: tokens_per_example %d does not match the shards' record length %d (pass the metadata of the same dataset with --metadata_file)",
            o->metadata_file, meta.tokens_per_example, ev->record_length);
    const int num_records[NUM_SPLITS] = {meta.num_train_records, meta.num_test_records};
    const int *record_example[NUM_SPLITS] = {meta.train_records, meta.test_records};
    for (int s = 0; s < NUM_SPLITS; s++)
        if ((size_t)num_records[s] != ev->shards[s].num_records)
            die("%s: lists %d %s records but %s holds %zu (pass the metadata of the same dataset with --metadata_file)",
                o->metadata_file, num_records[s], SPLIT_NAMES[s], ev->shards[s].path, ev->shards[s].num_records);
    // each example's first record in its split's shard (-1: none)
    int *first_record = malloc_or_die((size_t)(meta.num_examples ? meta.num_examples : 1) * sizeof(int));
    for (int e = 0; e < meta.num_examples; e++) first_record[e] = -1;
    for (int s = 0; s < NUM_SPLITS; s++)
        for (int r = num_records[s] - 1; r >= 0; r--) {
            int e = record_example[s][r];
            if (e < 0 || e >= meta.num_examples || meta.examples[e].is_test != s)
                die("%s: %s record %d maps to example %d, which is not a %s example (regenerate the dataset)",
                    o->metadata_file, SPLIT_NAMES[s], r, e, SPLIT_NAMES[s]);
            first_record[e] = r;
        }
    const int eot = tokenizer_eot(ev->tokenizer);
    const int R = ev->record_length;

    // TF-IDF corpus: every distinct example once, decoded from the very tokens in the shards.
    char **texts = malloc_or_die((meta.num_examples ? meta.num_examples : 1) * sizeof(char *));
    size_t *lens = malloc_or_die((meta.num_examples ? meta.num_examples : 1) * sizeof(size_t));
    int num_texts = 0;

    for (int s = 0; s < NUM_SPLITS; s++) {
        int count = 0;
        for (int e = 0; e < meta.num_examples; e++) count += meta.examples[e].is_test == s;
        if (ev->split_enabled[s] && count == 0)
            die("%s: the %s split has no examples (generate a dataset with both splits, or leave it out with --splits)",
                ev->shards[s].path, SPLIT_NAMES[s]);
    }
    for (int s = 0; s < NUM_SPLITS; s++) {
        // candidates: distinct examples of this split, at their first record
        int *candidates = malloc_or_die((meta.num_examples ? meta.num_examples : 1) * sizeof(int));
        int n = 0;
        for (int e = 0; e < meta.num_examples; e++) {
            const DatasetExample *de = &meta.examples[e];
            if (de->is_test != s) continue;
            if (first_record[e] < 0)
                die("%s: example %s has no record in %s (pass the metadata of the same dataset with --metadata_file)",
                    o->metadata_file, de->id, ev->shards[s].path);
            const uint16_t *rec = ev->shards[s].tokens + (size_t)first_record[e] * R;
            if (rec[0] != eot)
                die("%s: record %d does not start with the eot token %d (regenerate the dataset with generate_dataset)",
                    ev->shards[s].path, first_record[e], eot);
            if (de->end_id_begin < 1 || de->end_id_end <= de->end_id_begin || de->end_id_end > ev->tokens_per_example)
                die("%s: example %s has its closing identifier at tokens %d..%d, outside its %d tokens (regenerate the dataset)",
                    o->metadata_file, de->id, de->end_id_begin, de->end_id_end, ev->tokens_per_example);
            texts[num_texts] = decode_record_span(ev->tokenizer, rec, 1, ev->tokens_per_example);
            lens[num_texts] = strlen(texts[num_texts]);
            if (de->sha256[0]) {
                char hex[65];
                sha256_hex(texts[num_texts], lens[num_texts], hex);
                if (strcmp(hex, de->sha256))
                    die("%s: example %s's text hash does not match the tokens in %s record %d (the metadata belongs to another dataset; pass the matching --metadata_file)",
                        o->metadata_file, de->id, ev->shards[s].path, first_record[e]);
            }
            num_texts++;
            candidates[n++] = (int)e;
        }
        ev->available_examples[s] = n;
        if (!ev->split_enabled[s]) { free(candidates); continue; }
        int want = o->num_examples == 0 ? n : (int)o->num_examples;
        if (want > n) {
            char note[256];
            snprintf(note, sizeof note, "--num_examples %d is more than the %d examples of the %s split: using all %d", want, n, SPLIT_NAMES[s], n);
            warn("%s", note);
            cJSON_AddItemToArray(ev->notes, cJSON_CreateString(note));
            want = n;
        }
        // seeded partial Fisher-Yates: which examples are evaluated depends only on --seed
        StatsRng rng;
        stats_rng_seed(&rng, (uint64_t)o->seed * 2 + (uint64_t)s);
        for (int i = 0; i < want; i++) {
            int j = i + (int)(stats_rng_next(&rng) % (uint64_t)(n - i));
            int t = candidates[i]; candidates[i] = candidates[j]; candidates[j] = t;
        }
        ev->examples[s] = calloc_or_die((size_t)want, sizeof(Example));
        ev->num_examples[s] = want;
        for (int i = 0; i < want; i++) {
            const DatasetExample *de = &meta.examples[candidates[i]];
            Example *ex = &ev->examples[s][i];
            ex->id = strdup_or_die(de->id);
            ex->split = s;
            ex->repeats = de->repeats;
            ex->number = de->number;
            ex->record = (size_t)first_record[candidates[i]];
            ex->tokens = ev->shards[s].tokens + ex->record * R;
            ex->close_pos = 1 + de->end_id_begin;  // record position = example position + 1 (the eot)
            ex->close_len = de->end_id_end - de->end_id_begin;
            char *raw = decode_record_span(ev->tokenizer, ex->tokens, ex->close_pos, ex->close_len);
            char *start = raw;
            while (*start == ' ' || *start == '\n' || *start == '\t' || *start == '\r') start++;
            size_t len = strlen(start);
            while (len > 0 && (start[len - 1] == ' ' || start[len - 1] == '\n' || start[len - 1] == '\t' || start[len - 1] == '\r')) len--;
            start[len] = '\0';
            ex->id_text = strdup_or_die(start);
            free(raw);
            if (ex->close_len > ev->max_close_len) ev->max_close_len = ex->close_len;
        }
        free(candidates);
    }
    double t0 = now_seconds();
    ev->tfidf = tfidf_fit((const char *const *)texts, lens, (size_t)num_texts);
    ev->tfidf_documents = num_texts;
    fprintf(stderr, "%s: TF-IDF fitted on %d texts (%zu words) in %.2f s\n", program_name(), num_texts,
            tfidf_vocab_size(ev->tfidf), now_seconds() - t0);
    for (int i = 0; i < num_texts; i++) free(texts[i]);
    free(texts); free(lens);
    free(first_record);
    dataset_meta_free(&meta);
}

// Context lengths: parse, drop those that do not fit (with a note), keep the rest ascending.
static void choose_context_lengths(Eval *ev) {
    const Options *o = &ev->opt;
    int64_t *list;
    int n = parse_int_list_or_die("context_lengths", o->context_lengths_text, &list, 1, 1000000);
    const int maxT = ev->model.config.max_seq_len;
    ev->ks = malloc_or_die((size_t)n * sizeof(int));
    ev->num_ks = 0;
    for (int i = 0; i < n; i++) {
        int k = (int)list[i];
        int duplicate = 0;
        for (int j = 0; j < ev->num_ks; j++) duplicate |= ev->ks[j] == k;
        if (duplicate) continue;
        char reason[256] = "";
        // the last input of the teacher-forced pass is record position k + max_new - 1
        if (k + o->max_new_tokens > ev->tokens_per_example)
            snprintf(reason, sizeof reason, "k + max_new_tokens = %lld exceeds the %d tokens of an example",
                     (long long)(k + o->max_new_tokens), ev->tokens_per_example);
        else if (k + o->max_new_tokens > maxT)
            snprintf(reason, sizeof reason, "k + max_new_tokens = %lld exceeds the model's maximum sequence length %d",
                     (long long)(k + o->max_new_tokens), maxT);
        if (reason[0]) {
            cJSON *item = cJSON_CreateObject();
            cJSON_AddNumberToObject(item, "k", k);
            cJSON_AddStringToObject(item, "reason", reason);
            cJSON_AddItemToArray(ev->skipped, item);
            continue;
        }
        ev->ks[ev->num_ks++] = k;
    }
    free(list);
    if (ev->num_ks == 0)
        die("--context_lengths: none of %s fits: k + --max_new_tokens (%lld) must be at most %d (the example length and the model's maximum); use smaller values",
            o->context_lengths_text, (long long)o->max_new_tokens, ev->tokens_per_example < maxT ? ev->tokens_per_example : maxT);
    cJSON *item;
    cJSON_ArrayForEach(item, ev->skipped)  // said only now: an error above must stay one line
        fprintf(stderr, "%s: skipping context length %d: %s\n", program_name(),
                (int)cJSON_GetNumberValue(cJSON_GetObjectItem(item, "k")), cJSON_GetStringValue(cJSON_GetObjectItem(item, "reason")));
    ev->num_ks = sort_unique_ints(ev->ks, ev->num_ks);  // (repeats were already left out)
}

// ---------------------------------------------------------------------------------------------
// Teacher-forced pass: one forward over record[0 .. Tf) per example gives, at every position j,
// the argmax and the NLL of record[j+1]; each k reads its continuation positions k .. k+max_new-1.

static void teacher_forced_pass(Eval *ev, int s) {
    const int n = ev->num_examples[s], max_new = (int)ev->opt.max_new_tokens;
    const int Tf = ev->ks[ev->num_ks - 1] + max_new;
    EvalBackend *be = ev->backend;
    int B = be->teacher_batch(be, Tf);
    if (B > n) B = n > 0 ? n : 1;
    int *inputs = malloc_or_die((size_t)B * Tf * sizeof(int));
    int *targets = malloc_or_die((size_t)B * Tf * sizeof(int));
    int *argmax = malloc_or_die((size_t)B * Tf * sizeof(int));
    float *margin = malloc_or_die((size_t)B * Tf * sizeof(float));
    float *nll_all = malloc_or_die((size_t)B * Tf * sizeof(float));
    ev->mia_scored_tokens = Tf;
    double t0 = now_seconds();
    for (int start = 0; start < n; start += B) {
        int rows = n - start < B ? n - start : B;
        for (int r = 0; r < rows; r++) {
            const uint16_t *rec = ev->examples[s][start + r].tokens;
            for (int j = 0; j < Tf; j++) { inputs[r * Tf + j] = rec[j]; targets[r * Tf + j] = rec[j + 1]; }
        }
        be->teacher_forced(be, inputs, targets, rows, Tf, argmax, margin, nll_all);
        for (int r = 0; r < rows; r++) {
            const int *am = argmax + (size_t)r * Tf, *tg = targets + (size_t)r * Tf;
            const float *nll = nll_all + (size_t)r * Tf;
            // near ties among the positions some k decides on: inputs ks[0] .. Tf-1
            for (int j = ev->ks[0]; j < Tf; j++) {
                ev->tf_positions++;
                ev->tf_near_ties += is_near_tie(margin[(size_t)r * Tf + j]);
            }
            // membership-inference scores over the same Tf tokens (record positions 1..Tf)
            AuditRecord *au = &ev->audit[s][start + r];
            au->loss = mia_mean_nll(nll, (size_t)Tf);
            for (int q = 0; q < 2; q++) au->min_k[q] = mia_min_k_logprob(nll, (size_t)Tf, MIN_K_FRACTIONS[q]);
            char *text = decode_record_span(ev->tokenizer, ev->examples[s][start + r].tokens, 1, Tf);
            size_t zlib_bytes = mia_zlib_size(text, strlen(text));
            au->zlib_ratio = au->loss / (double)(zlib_bytes ? zlib_bytes : 1);
            free(text);
            for (int ki = 0; ki < ev->num_ks; ki++) {
                int k = ev->ks[ki];
                Probe *p = probe_at(ev, s, start + r, ki);
                // the decision rule shared with the trainers' --mem_eval_every (llmc/teacher_forced.h)
                int prefix;
                int correct = teacher_forced_score(am, tg, k, max_new, &prefix);
                double loss = 0.0;
                for (int j = k; j < k + max_new; j++) loss += nll[j];
                p->exact_match = prefix < 0;
                p->matched_prefix = prefix < 0 ? max_new : prefix;
                p->token_accuracy = (double)correct / max_new;
                p->loss = loss / max_new;
                if (p->exact_match) { // the greedy continuation is the truth itself
                    p->generated = malloc_or_die((size_t)max_new * sizeof(int));
                    for (int j = 0; j < max_new; j++) p->generated[j] = tg[k + j];
                }
            }
        }
        fprintf(stderr, "%s: %s: teacher-forced pass %d/%d examples (%.1f s)\n", program_name(), SPLIT_NAMES[s],
                start + rows, n, now_seconds() - t0);
    }
    ev->t_teacher += now_seconds() - t0;
    free(inputs); free(targets); free(argmax); free(margin); free(nll_all);
}

// ID probe, teacher-forced: inputs are the k tokens before the closing identifier and the
// identifier minus its last token, at their record positions; the identifier is reproduced iff the
// argmax at the last prompt position and every identifier position but the last is right. Rows
// with shorter identifiers are padded at the end, which (causal attention) changes nothing before.
static void id_probe_pass(Eval *ev, int s) {
    const int n = ev->num_examples[s];
    const GPT2Config *cfg = &ev->model.config;
    const int maxT = cfg->max_seq_len, eot = tokenizer_eot(ev->tokenizer);
    double t0 = now_seconds();
    for (int ki = 0; ki < ev->num_ks; ki++) {
        const int k = ev->ks[ki];
        const int T = k + ev->max_close_len - 1;
        const int B = ev->gen_batch, n_last = ev->max_close_len; // the rows the KV cache holds
        int *inputs = malloc_or_die((size_t)B * T * sizeof(int));
        int *positions = malloc_or_die((size_t)B * T * sizeof(int));
        int *argmax = malloc_or_die((size_t)B * n_last * sizeof(int));
        float *margin = malloc_or_die((size_t)B * n_last * sizeof(float));
        int *rows_of = malloc_or_die((size_t)B * sizeof(int));
        int next = 0;
        while (next < n) {
            int rows = 0;
            while (rows < B && next < n) {
                const Example *ex = &ev->examples[s][next];
                Probe *p = probe_at(ev, s, next, ki);
                // the prompt must exist in the record and the identifier's inputs must fit the model
                p->id_applicable = ex->close_pos - k >= 0 && ex->close_pos + ex->close_len - 2 < maxT;
                if (p->id_applicable) {
                    int first = ex->close_pos - k, real = k + ex->close_len - 1;
                    for (int j = 0; j < T; j++) {
                        int at = first + j;
                        inputs[rows * T + j] = j < real ? ex->tokens[at] : eot;
                        positions[rows * T + j] = at < maxT ? at : maxT - 1;
                    }
                    rows_of[rows++] = next;
                }
                next++;
            }
            if (rows == 0) continue;
            // logits only where the identifier is predicted: the last max_close_len positions,
            // T - n_last = k - 1 is the last prompt token, so window index t predicts identifier token t
            ev->backend->score_last(ev->backend, inputs, positions, rows, T, n_last, argmax, margin);
            for (int r = 0; r < rows; r++) {
                const Example *ex = &ev->examples[s][rows_of[r]];
                Probe *p = probe_at(ev, s, rows_of[r], ki);
                for (int t = 0; t < ex->close_len; t++) {
                    ev->id_positions++;
                    ev->id_near_ties += is_near_tie(margin[(size_t)r * n_last + t]);
                }
                p->id_match = 1;
                for (int t = 0; t < ex->close_len; t++)
                    if (argmax[(size_t)r * n_last + t] != ex->tokens[ex->close_pos + t]) { p->id_match = 0; break; }
            }
        }
        free(inputs); free(positions); free(argmax); free(margin); free(rows_of);
    }
    ev->t_id += now_seconds() - t0;
    fprintf(stderr, "%s: %s: ID probe, %d context lengths (%.1f s)\n", program_name(), SPLIT_NAMES[s], ev->num_ks, now_seconds() - t0);
}

// exposure_of_example's scorer (llmc/exposure.h): the backend's, with room for every candidate
// (identifiers differ by a few tokens: the record plus 32 holds every context + candidate).
static size_t backend_score_continuations(void *ctx, const int *context, const int *positions, int P, const int **tokens,
                                          const int *lengths, int M, double *loglik) {
    Eval *ev = (Eval *)ctx;
    return ev->backend->score_continuations(ev->backend, ev->record_length + 32, context, positions, P, tokens, lengths,
                                            M, loglik);
}

// Exposure of each example's closing identifier: its log-likelihood given every token before it
// (at their training positions) ranked among --exposure_candidates identifiers (llmc/exposure.h).
static void exposure_pass(Eval *ev, int s, const CandidateSet *cs, IdentifierTokens *ids) {
    const int n = ev->num_examples[s], maxT = ev->model.config.max_seq_len;
    double t0 = now_seconds();
    int *context = malloc_or_die((size_t)ev->record_length * sizeof(int));
    int *positions = malloc_or_die((size_t)ev->record_length * sizeof(int));
    // body: leave the opening identifier out, so that the closing one cannot be copied from it
    const int body_only = !strcmp(ev->opt.exposure_context, "body");
    int skipped = 0;
    for (int e = 0; e < n; e++) {
        const Example *ex = &ev->examples[s][e];
        AuditRecord *au = &ev->audit[s][e];
        int len;
        const int *marker = identifier_tokens(ids, ex->number, &len);
        int same = len == ex->close_len;
        for (int t = 0; same && t < len; t++) same = marker[t] == ex->tokens[ex->close_pos + t];
        // the context must fit the model, and the identifier must be tokenized as the dataset did
        if (!same || ex->close_pos > maxT) { skipped++; continue; }
        int P = 0;
        for (int t = 0; t < ex->close_pos; t++) {
            if (body_only && t >= 1 && t < 1 + ex->close_len) continue; // the opening identifier: the same tokens
            context[P] = ex->tokens[t];
            positions[P++] = t;
        }
        au->exposure = exposure_of_example(backend_score_continuations, ev, cs, ids, ex->number, context, positions, P);
        au->has_exposure = 1;
        if ((e + 1) % 10 == 0 || e + 1 == n)
            fprintf(stderr, "%s: %s: exposure %d/%d examples, %d candidates (%.1f s)\n", program_name(), SPLIT_NAMES[s],
                    e + 1, n, cs->num_candidates, now_seconds() - t0);
    }
    if (skipped) {
        char note[256];
        snprintf(note, sizeof note, "exposure: %d %s examples skipped (closing identifier beyond the model's %d positions, or tokenized differently from its marker)",
                 skipped, SPLIT_NAMES[s], maxT);
        warn("%s", note);
        cJSON_AddItemToArray(ev->notes, cJSON_CreateString(note));
    }
    free(context); free(positions);
    ev->t_exposure += now_seconds() - t0;
}

// ---------------------------------------------------------------------------------------------
// Generation (KV cache; the prefix probe batches all context lengths together, the ID probe one
// identifier length at a time).

// Prefix probe: generates for every probe without a known continuation (all of them with
// --plain_greedy, where exact match and matched prefix then come from the generated tokens).
// The probes of every context length share batches: a row's prompt is its own k+1 tokens, and all
// rows decode together, so a split costs max_new decode steps per batch, not per context length.
static void generate_prefix(Eval *ev, int s) {
    const int n = ev->num_examples[s], B = ev->gen_batch, max_new = (int)ev->opt.max_new_tokens;
    const int plain = ev->opt.plain_greedy, P = ev->ks[ev->num_ks - 1] + 1;  // the longest prompt
    double t0 = now_seconds();
    int *prompts = malloc_or_die((size_t)B * P * sizeof(int));
    int *lengths = malloc_or_die((size_t)B * sizeof(int));
    int *out = malloc_or_die((size_t)B * max_new * sizeof(int));
    int *probe_of = malloc_or_die((size_t)B * 2 * sizeof(int));  // (ki, example) of each row
    size_t done = 0;
    // probes in (context length, example) order: rows of one length stay together (one prefill pass)
    const size_t total = (size_t)ev->num_ks * n;
    for (size_t next = 0; next < total;) {
        int rows = 0;
        for (; next < total && rows < B; next++) {
            const int ki = (int)(next / n), e = (int)(next % n);
            const Probe *p = probe_at(ev, s, e, ki);
            if (!plain && p->exact_match) continue;
            const int len = ev->ks[ki] + 1;
            for (int j = 0; j < len; j++) prompts[(size_t)rows * P + j] = ev->examples[s][e].tokens[j];
            lengths[rows] = len;
            probe_of[2 * rows] = ki;
            probe_of[2 * rows + 1] = e;
            rows++;
        }
        if (rows == 0) continue;
        ev->backend->greedy_generate(ev->backend, prompts, NULL, lengths, rows, P, max_new, out); // positions 0..k as in training
        for (int r = 0; r < rows; r++) {
            const int ki_r = probe_of[2 * r], e_r = probe_of[2 * r + 1];
            Probe *p = probe_at(ev, s, e_r, ki_r);
            const uint16_t *truth = ev->examples[s][e_r].tokens + lengths[r];
            free(p->generated);
            p->generated = malloc_or_die((size_t)max_new * sizeof(int));
            memcpy(p->generated, out + (size_t)r * max_new, (size_t)max_new * sizeof(int));
            if (plain) {
                int prefix = 0;
                while (prefix < max_new && p->generated[prefix] == truth[prefix]) prefix++;
                p->matched_prefix = prefix;
                p->exact_match = prefix == max_new;
            }
        }
        done += (size_t)rows;
    }
    free(prompts); free(lengths); free(out); free(probe_of);
    ev->generated_sequences += done;
    ev->t_generate += now_seconds() - t0;
    fprintf(stderr, "%s: %s: generated %zu continuations of %d tokens (%.1f s)\n", program_name(), SPLIT_NAMES[s],
            done, max_new, now_seconds() - t0);
}

// ID probe generation: the identifier attempt where it was not reproduced (every applicable probe
// with --plain_greedy, which then decides id_match from the generated tokens). A batch holds
// identifiers of one length, so that no row is fed positions beyond its identifier (an applicable
// probe's identifier fits the model: close_pos + close_len - 2 < max_seq_len).
static int compare_by_close_len(const void *a, const void *b) {
    const int *x = a, *y = b; // (close_len, example index) pairs
    if (x[0] != y[0]) return (x[0] > y[0]) - (x[0] < y[0]);
    return (x[1] > y[1]) - (x[1] < y[1]);
}

static void generate_id(Eval *ev, int s) {
    const int n = ev->num_examples[s], B = ev->gen_batch, plain = ev->opt.plain_greedy;
    double t0 = now_seconds();
    int *pending = malloc_or_die((size_t)(n ? n : 1) * 2 * sizeof(int));
    for (int ki = 0; ki < ev->num_ks; ki++) {
        const int k = ev->ks[ki];
        int num_pending = 0;
        for (int e = 0; e < n; e++) {
            const Probe *p = probe_at(ev, s, e, ki);
            if (!p->id_applicable || (!plain && p->id_match)) continue;
            pending[2 * num_pending] = ev->examples[s][e].close_len;
            pending[2 * num_pending + 1] = e;
            num_pending++;
        }
        qsort(pending, (size_t)num_pending, 2 * sizeof(int), compare_by_close_len);
        int *prompts = malloc_or_die((size_t)B * k * sizeof(int));
        int *positions = malloc_or_die((size_t)B * k * sizeof(int));
        int *out = malloc_or_die((size_t)B * ev->max_close_len * sizeof(int));
        for (int start = 0; start < num_pending;) {
            const int len = pending[2 * start];
            int rows = 0;
            while (rows < B && start + rows < num_pending && pending[2 * (start + rows)] == len) {
                const Example *ex = &ev->examples[s][pending[2 * (start + rows) + 1]];
                for (int j = 0; j < k; j++) {
                    prompts[rows * k + j] = ex->tokens[ex->close_pos - k + j];
                    positions[rows * k + j] = ex->close_pos - k + j;
                }
                rows++;
            }
            ev->backend->greedy_generate(ev->backend, prompts, positions, NULL, rows, k, len, out);
            for (int r = 0; r < rows; r++) {
                const int e = pending[2 * (start + r) + 1];
                const Example *ex = &ev->examples[s][e];
                Probe *p = probe_at(ev, s, e, ki);
                const int *got = out + (size_t)r * len;
                int match = 1;
                for (int t = 0; t < len; t++) match &= got[t] == ex->tokens[ex->close_pos + t];
                if (plain) p->id_match = match;
                if (!match) {
                    p->id_generated = malloc_or_die((size_t)len * sizeof(int));
                    memcpy(p->id_generated, got, (size_t)len * sizeof(int));
                }
            }
            start += rows;
        }
        free(prompts); free(positions); free(out);
    }
    free(pending);
    ev->t_generate += now_seconds() - t0;
}

// ---------------------------------------------------------------------------------------------
// Texts, similarity, and the per-example records.

static cJSON *probe_record(Eval *ev, int s, int e, int ki, double *similarity_out, int *id_in_gen_out) {
    const Example *ex = &ev->examples[s][e];
    Probe *p = probe_at(ev, s, e, ki);
    const int k = ev->ks[ki], max_new = (int)ev->opt.max_new_tokens;
    char *generated = decode_tokens(ev->tokenizer, p->generated, (size_t)max_new);
    char *truth = decode_record_span(ev->tokenizer, ex->tokens, k + 1, max_new);
    p->similarity = tfidf_similarity(ev->tfidf, generated, strlen(generated), truth, strlen(truth));
    p->id_in_generation = strstr(generated, ex->id_text) != NULL;
    *similarity_out = p->similarity;
    *id_in_gen_out = p->id_in_generation;

    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "split", SPLIT_NAMES[s]);
    cJSON_AddBoolToObject(r, "member", s == 0);
    cJSON_AddStringToObject(r, "example_id", ex->id);
    cJSON_AddNumberToObject(r, "record_index", (double)ex->record);
    cJSON_AddNumberToObject(r, "repeats", ex->repeats);
    cJSON_AddNumberToObject(r, "k", k);
    cJSON_AddBoolToObject(r, "exact_match", p->exact_match);
    cJSON_AddNumberToObject(r, "matched_prefix", p->matched_prefix);
    cJSON_AddNumberToObject(r, "token_accuracy", p->token_accuracy);
    cJSON_AddNumberToObject(r, "loss", p->loss);
    cJSON_AddNumberToObject(r, "similarity", p->similarity);
    if (p->id_applicable) cJSON_AddBoolToObject(r, "id_match", p->id_match);
    else cJSON_AddNullToObject(r, "id_match");
    cJSON_AddBoolToObject(r, "id_in_generation", p->id_in_generation);
    cJSON_AddStringToObject(r, "identifier", ex->id_text);
    cJSON_AddStringToObject(r, "generated_text", generated);
    cJSON_AddStringToObject(r, "true_continuation", truth);
    if (p->id_applicable) {
        if (p->id_match) cJSON_AddStringToObject(r, "id_generated_text", ex->id_text);
        else {
            char *idgen = decode_tokens(ev->tokenizer, p->id_generated, (size_t)ex->close_len);
            cJSON_AddStringToObject(r, "id_generated_text", idgen);
            free(idgen);
        }
    }
    const AuditRecord *au = &ev->audit[s][e];
    cJSON_AddNumberToObject(r, "mia_loss", au->loss);
    cJSON_AddNumberToObject(r, "mia_zlib_ratio", au->zlib_ratio);
    cJSON_AddNumberToObject(r, "mia_min_k_10", au->min_k[0]);
    cJSON_AddNumberToObject(r, "mia_min_k_20", au->min_k[1]);
    if (au->has_exposure) {
        cJSON_AddNumberToObject(r, "id_loglik", au->exposure.true_loglik);
        cJSON_AddNumberToObject(r, "exposure_rank", (double)au->exposure.rank);
        cJSON_AddNumberToObject(r, "exposure_candidates", (double)au->exposure.num_candidates);
        cJSON_AddNumberToObject(r, "exposure", au->exposure.exposure);
        if (isfinite(au->exposure.estimate)) cJSON_AddNumberToObject(r, "exposure_estimate", au->exposure.estimate);
        else cJSON_AddNullToObject(r, "exposure_estimate");
    } else {
        cJSON_AddNullToObject(r, "exposure");
    }
    cJSON_AddStringToObject(r, "decided_by", ev->opt.plain_greedy ? "plain_greedy" : "teacher_forced");
    free(generated);
    free(truth);
    return r;
}

static cJSON *rate_json(size_t successes, size_t n) {
    Estimate e = wilson_interval(successes, n, STATS_Z95);
    cJSON *o = cJSON_CreateObject();
    if (n == 0) cJSON_AddNullToObject(o, "value");
    else cJSON_AddNumberToObject(o, "value", e.value);
    cJSON_AddNumberToObject(o, "ci_low", e.low);
    cJSON_AddNumberToObject(o, "ci_high", e.high);
    cJSON_AddNumberToObject(o, "successes", (double)successes);
    cJSON_AddNumberToObject(o, "n", (double)n);
    cJSON_AddStringToObject(o, "interval", "wilson95");
    return o;
}

static cJSON *mean_json(const double *x, size_t n, int resamples, uint64_t seed) {
    Estimate e = bootstrap_mean(x, n, resamples, 0.95, seed);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "value", e.value);
    cJSON_AddNumberToObject(o, "ci_low", e.low);
    cJSON_AddNumberToObject(o, "ci_high", e.high);
    cJSON_AddNumberToObject(o, "n", (double)n);
    cJSON_AddStringToObject(o, "interval", "bootstrap95_percentile");
    cJSON_AddNumberToObject(o, "resamples", resamples);
    char seed_text[32];
    snprintf(seed_text, sizeof seed_text, "%llu", (unsigned long long)seed);
    cJSON_AddStringToObject(o, "bootstrap_seed", seed_text); // a string: JSON numbers lose 64-bit precision
    return o;
}

// Writes the records into `records`, opened here on the .jsonl's temporary name and left for main()
// to rename together with the results file, and returns the aggregates by split and k.
static cJSON *records_and_aggregates(Eval *ev, const char *records_path, AtomicFile *records) {
    double t0 = now_seconds();
    atomic_open(records, records_path);
    cJSON *by_split = cJSON_CreateObject();
    const int resamples = (int)ev->opt.bootstrap_samples;
    for (int s = 0; s < NUM_SPLITS; s++) {
        if (!ev->split_enabled[s]) continue;
        const int n = ev->num_examples[s];
        cJSON *split = cJSON_AddObjectToObject(by_split, SPLIT_NAMES[s]);
        cJSON_AddBoolToObject(split, "member", s == 0);
        cJSON_AddNumberToObject(split, "num_examples", n);
        cJSON_AddNumberToObject(split, "available_examples", ev->available_examples[s]);
        cJSON *by_k = cJSON_AddObjectToObject(split, "by_context_length");
        double *sim = malloc_or_die((size_t)n * sizeof(double)), *acc = malloc_or_die((size_t)n * sizeof(double));
        double *prefix = malloc_or_die((size_t)n * sizeof(double)), *loss = malloc_or_die((size_t)n * sizeof(double));
        for (int ki = 0; ki < ev->num_ks; ki++) {
            size_t exact = 0, id_ok = 0, id_n = 0, id_in_gen = 0;
            for (int e = 0; e < n; e++) {
                int in_gen;
                cJSON *rec = probe_record(ev, s, e, ki, &sim[e], &in_gen);
                char *line = cJSON_PrintUnformatted(rec);
                fprintf(records->f, "%s\n", line);
                free(line);
                cJSON_Delete(rec);
                const Probe *p = probe_at(ev, s, e, ki);
                exact += p->exact_match;
                id_in_gen += in_gen;
                if (p->id_applicable) { id_n++; id_ok += p->id_match; }
                acc[e] = p->token_accuracy;
                prefix[e] = p->matched_prefix;
                loss[e] = p->loss;
            }
            char key[16];
            snprintf(key, sizeof key, "%d", ev->ks[ki]);
            cJSON *a = cJSON_AddObjectToObject(by_k, key);
            cJSON_AddNumberToObject(a, "k", ev->ks[ki]);
            cJSON_AddNumberToObject(a, "num_examples", n);
            cJSON_AddItemToObject(a, "exact_match_rate", rate_json(exact, (size_t)n));
            cJSON_AddItemToObject(a, "id_match_rate", rate_json(id_ok, id_n));
            cJSON_AddItemToObject(a, "id_in_generation_rate", rate_json(id_in_gen, (size_t)n));
            // one bootstrap stream per (seed, split, k, metric), recorded beside each interval
            uint64_t base = (uint64_t)ev->opt.seed * 1000003ull + (uint64_t)s * 10007ull + (uint64_t)ev->ks[ki] * 16ull;
            cJSON_AddItemToObject(a, "avg_similarity", mean_json(sim, (size_t)n, resamples, base + 1));
            cJSON_AddItemToObject(a, "token_accuracy", mean_json(acc, (size_t)n, resamples, base + 2));
            cJSON_AddItemToObject(a, "matched_prefix", mean_json(prefix, (size_t)n, resamples, base + 3));
            cJSON_AddItemToObject(a, "loss", mean_json(loss, (size_t)n, resamples, base + 4));
            // members by training copies (generate_dataset --duplicates): memorization vs repetition
            if (s == 0) {
                cJSON *by_rep = cJSON_AddObjectToObject(a, "by_repeats");
                for (int e = 0; e < n; e++) {
                    int rep = ev->examples[s][e].repeats, seen = 0;
                    for (int f = 0; f < e; f++) seen |= ev->examples[s][f].repeats == rep;
                    if (seen) continue;
                    size_t group = 0, group_exact = 0, group_id = 0, group_id_n = 0;
                    double *gx[4]; // similarity, token accuracy, matched prefix, loss of the group
                    for (int m = 0; m < 4; m++) gx[m] = malloc_or_die((size_t)n * sizeof(double));
                    for (int f = e; f < n; f++) {
                        if (ev->examples[s][f].repeats != rep) continue;
                        const Probe *q = probe_at(ev, s, f, ki);
                        gx[0][group] = sim[f]; gx[1][group] = acc[f]; gx[2][group] = prefix[f]; gx[3][group] = loss[f];
                        group++;
                        group_exact += q->exact_match;
                        if (q->id_applicable) { group_id_n++; group_id += q->id_match; }
                    }
                    char rep_key[16];
                    snprintf(rep_key, sizeof rep_key, "%d", rep);
                    cJSON *g = cJSON_AddObjectToObject(by_rep, rep_key);
                    cJSON_AddNumberToObject(g, "num_examples", (double)group);
                    cJSON_AddItemToObject(g, "exact_match_rate", rate_json(group_exact, group));
                    cJSON_AddItemToObject(g, "id_match_rate", rate_json(group_id, group_id_n));
                    static const char *const names[4] = {"avg_similarity", "token_accuracy", "matched_prefix", "loss"};
                    for (int m = 0; m < 4; m++) {
                        cJSON_AddItemToObject(g, names[m], mean_json(gx[m], group, resamples, base + 5 + (uint64_t)rep * 8 + m));
                        free(gx[m]);
                    }
                }
            }
        }
        free(sim); free(acc); free(prefix); free(loss);
    }
    ev->t_text = now_seconds() - t0;
    return by_split;
}

// ---------------------------------------------------------------------------------------------
// Privacy aggregates: membership inference (members vs non-members) and exposure.

static cJSON *estimate_json(Estimate e) {
    cJSON *o = cJSON_CreateObject();
    if (isnan(e.value)) cJSON_AddNullToObject(o, "value"); else cJSON_AddNumberToObject(o, "value", e.value);
    if (isnan(e.low)) cJSON_AddNullToObject(o, "ci_low"); else cJSON_AddNumberToObject(o, "ci_low", e.low);
    if (isnan(e.high)) cJSON_AddNullToObject(o, "ci_high"); else cJSON_AddNumberToObject(o, "ci_high", e.high);
    return o;
}

#define NUM_ATTACKS 4
static const char *const ATTACK_NAMES[NUM_ATTACKS] = {"loss", "zlib", "min_k_10", "min_k_20"};
static const char *const ATTACK_SCORES[NUM_ATTACKS] = {"-loss", "-loss/zlib_bytes", "min-10% log-probability", "min-20% log-probability"};
static const double FPR_BUDGETS[2] = {0.01, 0.001};

// Higher = more member-like.
static double attack_score(const AuditRecord *a, int attack) {
    switch (attack) {
    case 0: return -a->loss;
    case 1: return -a->zlib_ratio;
    default: return a->min_k[attack - 2];
    }
}

// One attack's AUC and TPR at the FPR budgets for the members whose repeats == rep (0: all)
// against every non-member; with_roc adds the curve's points.
static cJSON *attack_json(Eval *ev, int attack, int rep, int with_roc, uint64_t seed) {
    const int n0 = ev->num_examples[0], n1 = ev->num_examples[1];
    double *scores = malloc_or_die((size_t)(n0 + n1) * sizeof(double));
    int *labels = malloc_or_die((size_t)(n0 + n1) * sizeof(int));
    size_t n = 0, members = 0;
    for (int e = 0; e < n0; e++)
        if (rep == 0 || ev->examples[0][e].repeats == rep) { scores[n] = attack_score(&ev->audit[0][e], attack); labels[n++] = 1; members++; }
    for (int e = 0; e < n1; e++) { scores[n] = attack_score(&ev->audit[1][e], attack); labels[n++] = 0; }
    MiaResult m = mia_evaluate(scores, labels, n, FPR_BUDGETS, 2, (int)ev->opt.bootstrap_samples, 0.95, seed);
    cJSON *o = cJSON_CreateObject();
    if (rep == 0) cJSON_AddStringToObject(o, "score", ATTACK_SCORES[attack]);
    else cJSON_AddNumberToObject(o, "num_members", (double)members);
    cJSON_AddItemToObject(o, "auc", estimate_json(m.auc));
    cJSON *at = cJSON_AddObjectToObject(o, "tpr_at_fpr");
    for (int f = 0; f < 2; f++) {
        char key[16];
        snprintf(key, sizeof key, "%g", FPR_BUDGETS[f]);
        cJSON_AddItemToObject(at, key, estimate_json(m.tpr_at[f]));
    }
    char seed_text[32];
    snprintf(seed_text, sizeof seed_text, "%llu", (unsigned long long)seed);
    cJSON_AddStringToObject(o, "bootstrap_seed", seed_text);
    if (with_roc) {
        RocPoint *pts = malloc_or_die((n + 1) * sizeof(RocPoint));
        size_t np = roc_curve(scores, labels, n, pts);
        cJSON *roc = cJSON_AddObjectToObject(o, "roc"), *fpr = cJSON_AddArrayToObject(roc, "fpr"), *tpr = cJSON_AddArrayToObject(roc, "tpr");
        for (size_t i = 0; i < np; i++) {
            cJSON_AddItemToArray(fpr, cJSON_CreateNumber(pts[i].fpr));
            cJSON_AddItemToArray(tpr, cJSON_CreateNumber(pts[i].tpr));
        }
        free(pts);
    }
    free(scores); free(labels);
    return o;
}

// Mean exposure, mean skew-normal estimate and the rank-1 rate of the examples of split s with
// repeats == rep (0: all).
static cJSON *exposure_group_json(Eval *ev, int s, int rep, uint64_t seed) {
    const int n = ev->num_examples[s];
    double *x = malloc_or_die((size_t)(n ? n : 1) * sizeof(double)), *est = malloc_or_die((size_t)(n ? n : 1) * sizeof(double));
    size_t m = 0, m_est = 0, rank1 = 0, unscorable = 0;
    for (int e = 0; e < n; e++) {
        const AuditRecord *a = &ev->audit[s][e];
        if (!a->has_exposure || (rep && ev->examples[s][e].repeats != rep)) continue;
        x[m++] = a->exposure.exposure;
        if (isfinite(a->exposure.estimate)) est[m_est++] = a->exposure.estimate;
        rank1 += a->exposure.rank == 1;
        unscorable += a->exposure.unscorable;
    }
    const int resamples = (int)ev->opt.bootstrap_samples;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "num_examples", (double)m);
    cJSON_AddItemToObject(o, "mean_exposure", m ? mean_json(x, m, resamples, seed) : estimate_json((Estimate){NAN, NAN, NAN}));
    cJSON_AddItemToObject(o, "mean_exposure_estimate", m_est ? mean_json(est, m_est, resamples, seed + 1) : estimate_json((Estimate){NAN, NAN, NAN}));
    cJSON_AddItemToObject(o, "rank1_rate", rate_json(rank1, m));
    if (rep == 0) cJSON_AddNumberToObject(o, "unscorable_candidates", (double)unscorable);
    free(x); free(est);
    return o;
}

// Distinct repeat counts of the evaluated members, ascending.
static int member_repeat_levels(Eval *ev, int *levels) {
    int count = 0;
    for (int e = 0; e < ev->num_examples[0]; e++) {
        int rep = ev->examples[0][e].repeats, seen = 0;
        for (int i = 0; i < count; i++) seen |= levels[i] == rep;
        if (!seen) levels[count++] = rep;
    }
    for (int i = 1; i < count; i++)
        for (int j = i; j > 0 && levels[j] < levels[j - 1]; j--) { int t = levels[j]; levels[j] = levels[j - 1]; levels[j - 1] = t; }
    return count;
}

static cJSON *privacy_json(Eval *ev) {
    cJSON *root = cJSON_CreateObject();
    const uint64_t base = (uint64_t)ev->opt.seed * 1000003ull + 900001ull;
    int *levels = malloc_or_die((size_t)(ev->num_examples[0] ? ev->num_examples[0] : 1) * sizeof(int));
    int num_levels = ev->split_enabled[0] ? member_repeat_levels(ev, levels) : 0;
    // membership inference needs both splits
    if (ev->split_enabled[0] && ev->split_enabled[1]) {
        cJSON *mia = cJSON_AddObjectToObject(root, "membership_inference");
        cJSON_AddNumberToObject(mia, "num_members", ev->num_examples[0]);
        cJSON_AddNumberToObject(mia, "num_non_members", ev->num_examples[1]);
        cJSON_AddNumberToObject(mia, "scored_tokens", ev->mia_scored_tokens);
        cJSON_AddStringToObject(mia, "tpr_at_fpr_method", "conservative_step");
        cJSON_AddStringToObject(mia, "interval", "bootstrap95_percentile_stratified");
        cJSON_AddNumberToObject(mia, "resamples", (double)ev->opt.bootstrap_samples);
        cJSON *attacks = cJSON_AddObjectToObject(mia, "attacks");
        for (int a = 0; a < NUM_ATTACKS; a++) {
            cJSON *o = attack_json(ev, a, 0, 1, base + (uint64_t)a * 101);
            if (num_levels > 1) {
                cJSON *by = cJSON_AddObjectToObject(o, "by_repeats");
                for (int l = 0; l < num_levels; l++) {
                    char key[16];
                    snprintf(key, sizeof key, "%d", levels[l]);
                    cJSON_AddItemToObject(by, key, attack_json(ev, a, levels[l], 0, base + (uint64_t)a * 101 + 1 + (uint64_t)levels[l]));
                }
            }
            cJSON_AddItemToObject(attacks, ATTACK_NAMES[a], o);
        }
    } else {
        cJSON_AddNullToObject(root, "membership_inference");
    }
    if (ev->exposure_candidates > 0) {
        cJSON *ex = cJSON_AddObjectToObject(root, "exposure");
        double N = ev->exposure_candidates;
        cJSON_AddNumberToObject(ex, "num_candidates", N);
        cJSON_AddNumberToObject(ex, "candidate_seed", (double)ev->opt.seed);
        cJSON_AddStringToObject(ex, "context", ev->opt.exposure_context);
        // E[log2 N - log2 rank] for a rank uniform on 1..N: what a model that knows nothing gets
        cJSON_AddNumberToObject(ex, "chance_mean_exposure", log2(N) - lgamma(N + 1.0) / (N * M_LN2));
        for (int s = 0; s < NUM_SPLITS; s++) {
            if (!ev->split_enabled[s]) continue;
            cJSON *o = exposure_group_json(ev, s, 0, base + 7001 + (uint64_t)s * 2);
            if (s == 0 && num_levels > 1) {
                cJSON *by = cJSON_AddObjectToObject(o, "by_repeats");
                for (int l = 0; l < num_levels; l++) {
                    char key[16];
                    snprintf(key, sizeof key, "%d", levels[l]);
                    cJSON_AddItemToObject(by, key, exposure_group_json(ev, 0, levels[l], base + 8001 + (uint64_t)levels[l] * 2));
                }
            }
            cJSON_AddItemToObject(ex, SPLIT_NAMES[s], o);
        }
    } else {
        cJSON_AddNullToObject(root, "exposure");
    }
    free(levels);
    return root;
}

static void print_privacy(cJSON *privacy) {
    cJSON *attacks = cJSON_GetObjectItem(cJSON_GetObjectItem(privacy, "membership_inference"), "attacks");
    if (attacks) {
        fprintf(stderr, "\n%-10s %8s %18s %12s %12s\n", "attack", "AUC", "95% interval", "TPR@1%FPR", "TPR@0.1%FPR");
        for (int a = 0; a < NUM_ATTACKS; a++) {
            cJSON *o = cJSON_GetObjectItem(attacks, ATTACK_NAMES[a]), *auc = cJSON_GetObjectItem(o, "auc");
            cJSON *at = cJSON_GetObjectItem(o, "tpr_at_fpr");
#define V(obj, name) cJSON_GetNumberValue(cJSON_GetObjectItem(obj, name))
            fprintf(stderr, "%-10s %8.3f     [%5.3f, %5.3f] %12.3f %12.3f\n", ATTACK_NAMES[a], V(auc, "value"), V(auc, "ci_low"),
                    V(auc, "ci_high"), V(cJSON_GetObjectItem(at, "0.01"), "value"), V(cJSON_GetObjectItem(at, "0.001"), "value"));
        }
    }
    cJSON *ex = cJSON_GetObjectItem(privacy, "exposure");
    if (cJSON_IsObject(ex)) {
        fprintf(stderr, "\nexposure (%d candidates, chance %.2f bits):", (int)V(ex, "num_candidates"), V(ex, "chance_mean_exposure"));
        const char *sep = " ";  // between the splits, not after the last
        for (int s = 0; s < NUM_SPLITS; s++) {
            cJSON *o = cJSON_GetObjectItem(ex, SPLIT_NAMES[s]);
            if (!o) continue;
            fprintf(stderr, "%s%s %.2f bits (estimate %.1f)", sep, s ? "non-members" : "members",
                    V(cJSON_GetObjectItem(o, "mean_exposure"), "value"), V(cJSON_GetObjectItem(o, "mean_exposure_estimate"), "value"));
            sep = ", ";
        }
        fprintf(stderr, "\n");
#undef V
    }
}

// ---------------------------------------------------------------------------------------------
// Data parallelism (mpirun -np N): each rank probes a contiguous share of every split's examples
// and rank 0 gathers the probes and writes the files (the exposure pass runs on rank 0 alone). A probe depends only on its own example (the
// rows of a batch never mix), so the results equal those of one process, bit for bit.

// One probe as bytes: 6 int32 (exact_match, matched_prefix, id_applicable, id_match, has_generated,
// has_id_generated), 2 doubles (token_accuracy, loss), then the generated tokens that are known.
static size_t probe_pack(const Probe *p, int max_new, int close_len, char *out) {
    int32_t head[6] = {p->exact_match, p->matched_prefix, p->id_applicable, p->id_match, p->generated != NULL,
                       p->id_generated != NULL};
    double values[2] = {p->token_accuracy, p->loss};
    size_t at = 0;
    memcpy(out + at, head, sizeof head); at += sizeof head;
    memcpy(out + at, values, sizeof values); at += sizeof values;
    if (p->generated) { memcpy(out + at, p->generated, (size_t)max_new * sizeof(int)); at += (size_t)max_new * sizeof(int); }
    if (p->id_generated) { memcpy(out + at, p->id_generated, (size_t)close_len * sizeof(int)); at += (size_t)close_len * sizeof(int); }
    return at;
}

static size_t probe_unpack(Probe *p, int max_new, int close_len, const char *in, size_t left) {
    int32_t head[6];
    double values[2];
    if (left < sizeof head + sizeof values) return 0;
    memcpy(head, in, sizeof head);
    memcpy(values, in + sizeof head, sizeof values);
    size_t need = sizeof head + sizeof values + (head[4] ? (size_t)max_new * sizeof(int) : 0) +
                  (head[5] ? (size_t)close_len * sizeof(int) : 0);
    if (left < need) return 0;
    p->exact_match = head[0]; p->matched_prefix = head[1]; p->id_applicable = head[2]; p->id_match = head[3];
    p->token_accuracy = values[0]; p->loss = values[1];
    size_t at = sizeof head + sizeof values;
    if (head[4]) {
        p->generated = malloc_or_die((size_t)max_new * sizeof(int));
        memcpy(p->generated, in + at, (size_t)max_new * sizeof(int));
        at += (size_t)max_new * sizeof(int);
    }
    if (head[5]) {
        p->id_generated = malloc_or_die((size_t)close_len * sizeof(int));
        memcpy(p->id_generated, in + at, (size_t)close_len * sizeof(int));
        at += (size_t)close_len * sizeof(int);
    }
    return at;
}

// Every rank's probes and audit scores of split s to rank 0, into ev->probes[s] and ev->audit[s]
// at the rank's share of the examples. An AuditRecord holds no pointers: it travels as bytes.
static void gather_probes(Eval *ev, int s) {
    const int n = ev->num_examples[s], max_new = (int)ev->opt.max_new_tokens, W = dist.world_size;
    size_t first, count = dist_share((size_t)n, W, dist.rank, &first);
    size_t probe_max = 6 * sizeof(int32_t) + 2 * sizeof(double) + ((size_t)max_new + ev->max_close_len) * sizeof(int);
    char *mine = malloc_or_die(count * (ev->num_ks * probe_max + sizeof(AuditRecord)) + 1);
    size_t len = 0;
    for (size_t e = first; e < first + count; e++) {
        memcpy(mine + len, &ev->audit[s][e], sizeof(AuditRecord));
        len += sizeof(AuditRecord);
        for (int ki = 0; ki < ev->num_ks; ki++)
            len += probe_pack(probe_at(ev, s, (int)e, ki), max_new, ev->examples[s][e].close_len, mine + len);
    }
    size_t *lens = calloc_or_die((size_t)W, sizeof *lens);
    char *all = dist_gather_bytes(&dist, mine, len, lens, "probes");
    if (dist_is_main(&dist)) {
        size_t offset = lens[0];  // rank 0's own probes are in place already
        for (int r = 1; r < W; r++) {
            size_t r_first, r_count = dist_share((size_t)n, W, r, &r_first), used = 0;
            for (size_t e = r_first; e < r_first + r_count; e++) {
                if (lens[r] - used < sizeof(AuditRecord))
                    dist_abort(&dist, "the probes from rank %d are truncated (%zu bytes)", r, lens[r]);
                memcpy(&ev->audit[s][e], all + offset + used, sizeof(AuditRecord));
                used += sizeof(AuditRecord);
                for (int ki = 0; ki < ev->num_ks; ki++) {
                    size_t got = probe_unpack(probe_at(ev, s, (int)e, ki), max_new, ev->examples[s][e].close_len,
                                              all + offset + used, lens[r] - used);
                    if (got == 0) dist_abort(&dist, "the probes from rank %d are truncated (%zu bytes)", r, lens[r]);
                    used += got;
                }
            }
            if (used != lens[r]) dist_abort(&dist, "rank %d sent %zu bytes of probes, expected %zu", r, lens[r], used);
            offset += lens[r];
        }
    }
    free(all);
    free(lens);
    free(mine);
}

// All probes of split s: this rank's share of the examples, then (several ranks) gathered to rank 0.
static void evaluate_split(Eval *ev, int s) {
    Example *all_examples = ev->examples[s];
    Probe *all_probes = ev->probes[s];
    AuditRecord *all_audit = ev->audit[s];
    const int n = ev->num_examples[s];
    size_t first, count = dist_share((size_t)n, dist.world_size, dist.rank, &first);
    ev->examples[s] = all_examples + first;
    ev->probes[s] = all_probes + first * (size_t)ev->num_ks;
    ev->audit[s] = all_audit + first;
    ev->num_examples[s] = (int)count;
    teacher_forced_pass(ev, s);
    id_probe_pass(ev, s);
    generate_prefix(ev, s);
    generate_id(ev, s);
    ev->examples[s] = all_examples;
    ev->probes[s] = all_probes;
    ev->audit[s] = all_audit;
    ev->num_examples[s] = n;
    if (dist.world_size > 1) gather_probes(ev, s);
}

// ---------------------------------------------------------------------------------------------

static void print_table(Eval *ev, cJSON *aggregates) {
    fprintf(stderr, "\n%-6s %6s %6s %8s %8s %8s %8s %8s\n", "split", "k", "n", "exact", "id", "sim", "tok_acc", "loss");
    for (int s = 0; s < NUM_SPLITS; s++) {
        if (!ev->split_enabled[s]) continue;
        cJSON *by_k = cJSON_GetObjectItem(cJSON_GetObjectItem(aggregates, SPLIT_NAMES[s]), "by_context_length");
        for (int ki = 0; ki < ev->num_ks; ki++) {
            char key[16];
            snprintf(key, sizeof key, "%d", ev->ks[ki]);
            cJSON *a = cJSON_GetObjectItem(by_k, key);
#define V(name) cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(a, name), "value"))
            fprintf(stderr, "%-6s %6d %6d %8.3f %8.3f %8.3f %8.3f %8.3f\n", SPLIT_NAMES[s], ev->ks[ki], ev->num_examples[s],
                    V("exact_match_rate"), V("id_match_rate"), V("avg_similarity"), V("token_accuracy"), V("loss"));
#undef V
        }
    }
}

int main(int argc, char **argv) {
    set_program_name(argv[0]);
    dist_init(&dist, &argc, &argv);
    double t_start = now_seconds();
    Eval ev;
    memset(&ev, 0, sizeof ev);
    Options *o = &ev.opt;
    char *default_tokenizer = tokenizer_default_path();
    *o = (Options){.model_path = "finetuned_model", .model_name = NULL, .model_dir = "models", .tokenizer_path = default_tokenizer,
                   .train_file = "synthetic_dataset/train.bin", .test_file = "synthetic_dataset/test.bin",
                   .metadata_file = "synthetic_dataset/metadata.json", .output_file = "memorization_results.json",
                   .context_lengths_text = "16,32,64,128,256,512", .splits_text = "train,test",
                   .num_examples = 50, .max_new_tokens = 100, .seed = 42, .threads = 0, .batch_size = 4,
                   .bootstrap_samples = 1000, .exposure_candidates_text = "10000", .exposure_context = "body"};
    ArgSpec specs[] = {
        {"model_path", ARG_STRING, &o->model_path, "checkpoint file (llm.c v3/v5) or a directory holding model.bin", 1, 0, 0},
        {"model_name", ARG_STRING, &o->model_name, "evaluate a pretrained model instead of --model_path (give one of the two): gpt2, gpt2-medium, gpt2-large, gpt2-xl or distilgpt2, read from <model_dir>/<name>.bin", 1, 0, 0},
        {"model_dir", ARG_STRING, &o->model_dir, "with --model_name: directory holding pretrained checkpoints (scripts/download_gpt2.sh fills it)", 1, 0, 0},
        {"tokenizer", ARG_STRING, &o->tokenizer_path, "GPT-2 tokenizer file (llm.c format)", 1, 0, 0},
        {"train_file", ARG_STRING, &o->train_file, "training shard: members", 1, 0, 0},
        {"test_file", ARG_STRING, &o->test_file, "test shard: non-members", 1, 0, 0},
        {"metadata_file", ARG_STRING, &o->metadata_file, "the dataset's metadata.json", 1, 0, 0},
        {"output_file", ARG_STRING, &o->output_file, "results JSON; per-example records go to the same name with .jsonl", 1, 0, 0},
        {"num_examples", ARG_INT, &o->num_examples, "examples per split (0 = all)", 0, 100000, 0},
        {"context_lengths", ARG_STRING, &o->context_lengths_text, "comma-separated prompt lengths k", 1, 0, 0},
        {"max_new_tokens", ARG_INT, &o->max_new_tokens, "tokens generated (and compared) per prompt", 1, 100000, 0},
        {"seed", ARG_INT, &o->seed, "which examples are drawn, and the bootstrap streams", 0, 9007199254740991.0, 0},
        {"threads", ARG_INT, &o->threads, "OpenMP threads (0 = all cores)", 0, 1024, 0},
        {"batch_size", ARG_INT, &o->batch_size, "examples per teacher-forced forward pass (generation batches take up to 64 while the KV cache stays under 1 GiB)", 1, 4096, 0},
        {"splits", ARG_STRING, &o->splits_text, "which splits: train (members), test (non-members) or both (the same as train,test)", 1, 0, 0},
        {"plain_greedy", ARG_BOOL, &o->plain_greedy, "decode every probe autoregressively instead of the teacher-forced fast path", 1, 0, 0},
        {"bootstrap_samples", ARG_INT, &o->bootstrap_samples, "resamples for the bootstrap intervals (the means, and the membership-inference AUC and TPR)", 10, 1000000, 0},
        {"exposure_candidates", ARG_STRING, &o->exposure_candidates_text,
         "identifiers each closing identifier is ranked among (the true one included): a number (0 = no exposure) or all (100000)", 1, 0, 0},
        {"exposure_context", ARG_STRING, &o->exposure_context,
         "what exposure conditions on: full (every token before the closing identifier) or body (without the opening identifier, which the model could copy)", 1, 0, 0},
    };
    const int num_specs = sizeof specs / sizeof specs[0];
    parse_args(argc, argv, specs, num_specs,
               "Measures memorization: for members (train split) and non-members (test split), prompts of k tokens\n"
               "from each example's start (prefix probe) and before its closing identifier (ID probe), greedy\n"
               "decoding compared with the truth. Writes aggregates with 95% intervals and per-example records.");
    if (o->threads > 0) omp_set_num_threads((int)o->threads);

    // one model: a checkpoint (--model_path) or a pretrained name (--model_name, read from --model_dir)
    if (arg_was_set(specs, num_specs, "model_path") && o->model_name)
        die("--model_path and --model_name both given (give one: --model_path for a checkpoint, --model_name for a pretrained model)");
    if (arg_was_set(specs, num_specs, "model_dir") && !o->model_name)
        die("--model_dir is only used with --model_name (add --model_name NAME, or leave --model_dir out)");

    // --splits
    {
        // split by hand: strtok_r would skip empty items ("train,,"), which are typos
        char *copy = strdup_or_die(o->splits_text), *next = copy;
        while (next) {
            char *tok = next, *comma = strchr(next, ',');
            if (comma) *comma = '\0';
            next = comma ? comma + 1 : NULL;
            if (!*tok) die("--splits: empty item in '%s' (use train, test or both, comma-separated without empty items)", o->splits_text);
            int train = !strcmp(tok, "train") || !strcmp(tok, "members");
            int test = !strcmp(tok, "test") || !strcmp(tok, "non_members");
            if (!strcmp(tok, "both")) train = test = 1;  // --help offers "both": the same as train,test
            if (!train && !test) die("--splits: '%s' is not a split (use train, test or both)", tok);
            ev.split_enabled[0] |= train;
            ev.split_enabled[1] |= test;
        }
        free(copy);
        if (!ev.split_enabled[0] && !ev.split_enabled[1]) die("--splits: no split given (use train, test or both)");
    }
    // --exposure_candidates
    if (!strcmp(o->exposure_candidates_text, "all")) ev.exposure_candidates = EXPOSURE_ID_SPACE;
    else {
        char *end;
        long v = strtol(o->exposure_candidates_text, &end, 10);
        if (*end || end == o->exposure_candidates_text || v < 0 || v > EXPOSURE_ID_SPACE || v == 1)
            die("--exposure_candidates: '%s' is not a candidate count (use 0 for none, 2 to %d, or all)", o->exposure_candidates_text, EXPOSURE_ID_SPACE);
        ev.exposure_candidates = (int)v;
    }
    if (strcmp(o->exposure_context, "full") && strcmp(o->exposure_context, "body"))
        die("--exposure_context: '%s' is not a context (use full or body)", o->exposure_context);
    ev.skipped = cJSON_CreateArray();
    ev.notes = cJSON_CreateArray();
#ifdef MEMLENS_CUDA
    eval_backend_cuda_check();  // no GPU: one line before any work
#endif

    // fail on an unwritable output location before any long work (rank 0 alone writes)
    char *records_path = records_path_for(o->output_file);
    if (dir_exists(o->output_file))
        die("--output_file %s is a directory (give a file path, e.g. %s%smemorization_results.json)", o->output_file,
            o->output_file, path_separator(o->output_file));
    if (dir_exists(records_path))
        die("--output_file %s: its records file %s is a directory (remove it, or give another --output_file)", o->output_file, records_path);
    if (dist_is_main(&dist)) {
        AtomicFile probe;
        atomic_open(&probe, o->output_file);
        atomic_abort(&probe);
    }

    load_model(&ev);
    refuse_output_over_inputs(o, records_path);  // after load_model: --model_path is the model file itself now
    load_data(&ev);
    choose_context_lengths(&ev);
    select_examples(&ev);
    const GPT2Config *cfg = &ev.model.config;
    fprintf(stderr, "%s: model %s (L=%d C=%d NH=%d, %zu parameters), %d threads, examples: %d train, %d test, context lengths:",
            program_name(), o->model_path, cfg->num_layers, cfg->channels, cfg->num_heads, ev.model.num_parameters,
            omp_get_max_threads(), ev.num_examples[0], ev.num_examples[1]);
    for (int i = 0; i < ev.num_ks; i++) fprintf(stderr, " %d", ev.ks[i]);
    fprintf(stderr, "\n");

    int cache_len = ev.ks[ev.num_ks - 1] + (int)o->max_new_tokens;
    if (ev.ks[ev.num_ks - 1] + ev.max_close_len > cache_len) cache_len = ev.ks[ev.num_ks - 1] + ev.max_close_len;
#ifdef MEMLENS_CUDA
    // the GPU takes every probe of a split (examples x context lengths) in one generation batch
    // where memory allows (it cuts batches to its free memory itself); --batch_size is a CPU setting
    {
        int most = ev.num_examples[0] > ev.num_examples[1] ? ev.num_examples[0] : ev.num_examples[1];
        if (most < 1) most = 1;
        ev.backend = eval_backend_cuda_create(&ev.model, cache_len, most, most * ev.num_ks, dist.local_rank);
        ev.gen_batch = ev.backend->generation_batch;
    }
#else
    // generation batch: at least --batch_size rows, more while the KV cache stays under 1 GiB (max 64)
    double row_bytes = 2.0 * cfg->num_layers * cache_len * cfg->channels * sizeof(float);
    ev.gen_batch = (int)fmin(64.0, floor((1024.0 * 1024.0 * 1024.0) / row_bytes));
    if (ev.gen_batch < (int)o->batch_size) ev.gen_batch = (int)o->batch_size;
    ev.backend = eval_backend_cpu_create(&ev.model, cache_len, ev.gen_batch, (int)o->batch_size);
#endif
    fprintf(stderr, "%s: backend %s (%s, %s), generation batch %d\n", program_name(), ev.backend->name,
            ev.backend->device, ev.backend->precision, ev.gen_batch);
    // loading ends here: the backend's set-up (GPU weights upload, allocations) is not evaluation
    double t_loaded = now_seconds(), cpu_loaded = cpu_seconds();
    for (int s = 0; s < NUM_SPLITS; s++) {
        if (!ev.split_enabled[s]) continue;
        ev.probes[s] = calloc_or_die((size_t)ev.num_examples[s] * ev.num_ks, sizeof(Probe));
        ev.audit[s] = calloc_or_die((size_t)(ev.num_examples[s] ? ev.num_examples[s] : 1), sizeof(AuditRecord));
        evaluate_split(&ev, s);
    }
    if (dist.world_size > 1) {
        double counts[5] = {(double)ev.generated_sequences, (double)ev.tf_positions, (double)ev.tf_near_ties,
                            (double)ev.id_positions, (double)ev.id_near_ties};
        dist_allreduce_sum_double(&dist, counts, 5, "generated sequence and near-tie counts");
        ev.generated_sequences = (size_t)counts[0];
        ev.tf_positions = (size_t)counts[1]; ev.tf_near_ties = (size_t)counts[2];
        ev.id_positions = (size_t)counts[3]; ev.id_near_ties = (size_t)counts[4];
    }
    if (!dist_is_main(&dist)) {  // rank 0 writes the results; the others are done
        dist_finalize(&dist);
        return 0;
    }
    if (ev.exposure_candidates > 0) {
        static CandidateSet candidates;    // 400 KB: not on the stack
        static IdentifierTokens identifiers;
        candidate_set_init(&candidates, ev.exposure_candidates, (uint64_t)o->seed);
        identifier_tokens_init(&identifiers, ev.tokenizer);
        for (int s = 0; s < NUM_SPLITS; s++)
            if (ev.split_enabled[s]) exposure_pass(&ev, s, &candidates, &identifiers);
        identifier_tokens_free(&identifiers);
    }
    double t_evaluated = now_seconds();
    AtomicFile records;
    cJSON *aggregates = records_and_aggregates(&ev, records_path, &records);

    // ---- the summary
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "schema_version", SCHEMA_VERSION);
    cJSON_AddStringToObject(root, "program", PROGRAM_NAME);
    cJSON_AddStringToObject(root, "program_version", PROGRAM_VERSION);
    char *commit = git_commit();
    cJSON_AddStringToObject(root, "git_commit", commit);
    free(commit);
    cJSON *config = cJSON_AddObjectToObject(root, "config");
    for (int i = 0; i < num_specs; i++) {
        const ArgSpec *a = &specs[i];
        switch (a->type) {
        case ARG_INT: cJSON_AddNumberToObject(config, a->name, (double)*(int64_t *)a->dest); break;
        case ARG_FLOAT: cJSON_AddNumberToObject(config, a->name, *(double *)a->dest); break;
        case ARG_STRING: cJSON_AddStringToObject(config, a->name, *(const char **)a->dest); break;
        case ARG_BOOL: cJSON_AddBoolToObject(config, a->name, *(int *)a->dest); break;
        }
    }
    cJSON_AddNumberToObject(config, "threads_used", omp_get_max_threads());
    cJSON_AddNumberToObject(config, "world_size", dist.world_size);
    cJSON_AddNumberToObject(config, "generation_batch", ev.gen_batch);
    // which implementation computed the model's outputs, and how close its decisions came to ties
    cJSON *backend = cJSON_AddObjectToObject(root, "backend");
    cJSON_AddStringToObject(backend, "name", ev.backend->name);
    cJSON_AddStringToObject(backend, "device", ev.backend->device);
    cJSON_AddStringToObject(backend, "precision", ev.backend->precision);
    cJSON *ties = cJSON_AddObjectToObject(backend, "near_ties");
    cJSON_AddNumberToObject(ties, "relative_margin_below", NEAR_TIE_RELATIVE);
    cJSON_AddNumberToObject(ties, "teacher_forced_positions", (double)ev.tf_positions);
    cJSON_AddNumberToObject(ties, "teacher_forced", (double)ev.tf_near_ties);
    cJSON_AddNumberToObject(ties, "id_probe_positions", (double)ev.id_positions);
    cJSON_AddNumberToObject(ties, "id_probe", (double)ev.id_near_ties);
    cJSON *ks = cJSON_AddArrayToObject(root, "context_lengths");
    for (int i = 0; i < ev.num_ks; i++) cJSON_AddItemToArray(ks, cJSON_CreateNumber(ev.ks[i]));
    cJSON_AddItemToObject(root, "skipped_context_lengths", ev.skipped);
    cJSON_AddItemToObject(root, "notes", ev.notes);

    cJSON *prov = cJSON_AddObjectToObject(root, "provenance");
    const char *files[][2] = {{"model", o->model_path}, {"tokenizer", o->tokenizer_path}, {"train_file", o->train_file},
                              {"test_file", o->test_file}, {"metadata_file", o->metadata_file}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char hex[65], key[64];
        sha256_file_hex(files[i][1], hex);
        snprintf(key, sizeof key, "%s_sha256", files[i][0]);
        cJSON_AddStringToObject(prov, files[i][0], files[i][1]);
        cJSON_AddStringToObject(prov, key, hex);
    }
    cJSON *model = cJSON_AddObjectToObject(root, "model");
    cJSON_AddNumberToObject(model, "num_layers", cfg->num_layers);
    cJSON_AddNumberToObject(model, "channels", cfg->channels);
    cJSON_AddNumberToObject(model, "num_heads", cfg->num_heads);
    cJSON_AddNumberToObject(model, "vocab_size", cfg->vocab_size);
    cJSON_AddNumberToObject(model, "padded_vocab_size", cfg->padded_vocab_size);
    cJSON_AddNumberToObject(model, "max_seq_len", cfg->max_seq_len);
    cJSON_AddNumberToObject(model, "num_parameters", (double)ev.model.num_parameters);
    cJSON *dataset = cJSON_AddObjectToObject(root, "dataset");
    cJSON_AddNumberToObject(dataset, "tokens_per_example", ev.tokens_per_example);
    cJSON_AddNumberToObject(dataset, "record_length", ev.record_length);
    cJSON_AddNumberToObject(dataset, "train_examples", ev.available_examples[0]);
    cJSON_AddNumberToObject(dataset, "test_examples", ev.available_examples[1]);
    cJSON_AddNumberToObject(dataset, "train_records", (double)ev.shards[0].num_records);
    cJSON_AddNumberToObject(dataset, "tfidf_documents", ev.tfidf_documents);
    cJSON_AddNumberToObject(dataset, "tfidf_vocabulary", (double)tfidf_vocab_size(ev.tfidf));

    cJSON_AddItemToObject(root, "results", aggregates);
    cJSON *privacy = privacy_json(&ev);
    cJSON_AddItemToObject(root, "privacy", privacy);
    cJSON_AddStringToObject(root, "records_file", records_path);

    int total_examples = ev.num_examples[0] + ev.num_examples[1];
    double eval_seconds = t_evaluated - t_loaded + ev.t_text;
    cJSON *timings = cJSON_AddObjectToObject(root, "timings");
    cJSON_AddNumberToObject(timings, "load_seconds", t_loaded - t_start);
    cJSON_AddNumberToObject(timings, "teacher_forced_seconds", ev.t_teacher);
    cJSON_AddNumberToObject(timings, "id_probe_seconds", ev.t_id);
    cJSON_AddNumberToObject(timings, "generation_seconds", ev.t_generate);
    cJSON_AddNumberToObject(timings, "exposure_seconds", ev.t_exposure);
    cJSON_AddNumberToObject(timings, "generated_sequences", (double)ev.generated_sequences);
    cJSON_AddNumberToObject(timings, "text_and_records_seconds", ev.t_text);
    cJSON_AddNumberToObject(timings, "evaluation_seconds", eval_seconds);
    cJSON_AddNumberToObject(timings, "examples_per_second", total_examples / (eval_seconds > 0 ? eval_seconds : 1e-9));
    cJSON_AddNumberToObject(timings, "evaluation_cpu_seconds", cpu_seconds() - cpu_loaded); // all threads together
    cJSON_AddNumberToObject(timings, "total_seconds", now_seconds() - t_start);

    char *text = cJSON_Print(root);
    AtomicFile af;
    atomic_open(&af, o->output_file);
    fputs(text, af.f);
    fputc('\n', af.f);
    free(text);
    // Both files or neither: both are complete on disk before the first rename; an older .jsonl is
    // kept under a second name (a hard link) until the .json is in place too, so that a failed
    // second rename puts the old pair back.
    AtomicFile *outputs[2] = {&records, &af};
    for (int i = 0; i < 2; i++)
        if (atomic_sync(outputs[i]) != 0)
            die("cannot write %s: %s (check free disk space and the file-size limit, ulimit -f; earlier results are intact)",
                outputs[i]->final_path, strerror(errno));
    char *previous = NULL;
    if (file_exists(records_path)) {
        size_t n = strlen(records_path) + 32;
        previous = malloc_or_die(n);
        snprintf(previous, n, "%s.previous.%d", records_path, (int)getpid());
        if (link(records_path, previous) != 0) { free(previous); previous = NULL; }  // no hard links here: no way back
    }
    atomic_commit_or_die(&records);
    if (atomic_commit(&af) != 0) {
        int e = errno;
        if (previous && rename(previous, records_path) == 0)
            die("cannot write %s: %s (check the permissions of its directory; the earlier %s was put back)", o->output_file,
                strerror(e), records_path);
        unlink(records_path);
        die("cannot write %s: %s (check the permissions of its directory; the new %s was removed with it)", o->output_file,
            strerror(e), records_path);
    }
    if (previous) { unlink(previous); free(previous); }

    print_table(&ev, aggregates);
    print_privacy(privacy);
    fprintf(stderr, "\n%s: %d examples in %.1f s (%.2f examples/s); results in %s, per-example records in %s\n",
            program_name(), total_examples, eval_seconds, total_examples / (eval_seconds > 0 ? eval_seconds : 1e-9),
            o->output_file, records_path);

    // ---- cleanup
    cJSON_Delete(root);
    for (int s = 0; s < NUM_SPLITS; s++) {
        if (ev.probes[s])
            for (size_t i = 0; i < (size_t)ev.num_examples[s] * ev.num_ks; i++) { free(ev.probes[s][i].generated); free(ev.probes[s][i].id_generated); }
        free(ev.probes[s]);
        for (int e = 0; e < ev.num_examples[s]; e++) { free((char *)ev.examples[s][e].id); free(ev.examples[s][e].id_text); }
        free(ev.examples[s]);
        free(ev.audit[s]);
        shard_free(&ev.shards[s]);
    }
    ev.backend->free(ev.backend);
    tfidf_free(ev.tfidf);
    tokenizer_free(ev.tokenizer);
    gpt2_free(&ev.model);
    free(ev.ks);
    free(records_path);
    free((char *)o->model_path);
    free(default_tokenizer);
    dist_finalize(&dist);
    return 0;
}
