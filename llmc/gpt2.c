// GPT-2 configuration, parameter layout, initialisation and llm.c checkpoint files.
// Forward/backward are in gpt2_cpu.c.
#include "gpt2.h"

#include <errno.h>
#include <float.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rng.h"
#include "safetensors.h"  // bf16_to_float, float_to_bf16_round
#include "utils.h"

const char *const GPT2_PARAM_NAMES[GPT2_NUM_PARAM_TENSORS] = {
    "wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
    "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb"};

#define GPT2_VOCAB 50257
#define GPT2_PADDED_VOCAB 50304
#define GPT2_MAX_SEQ_LEN 1024
#define HEADER_INTS 256

static void set_why(char *why, size_t why_len, const char *fmt, ...) {
    if (!why || why_len == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

// ---------------------------------------------------------------------------------------------
// Configuration.

int gpt2_config_from_descriptor(const char *desc, GPT2Config *c) {
    static const struct { const char *name; int layers, channels, heads; } table[] = {
        {"d2", 2, 128, 2},     {"d4", 4, 256, 4},     {"d6", 6, 384, 6},     {"d12", 12, 768, 12},
        {"d24", 24, 1024, 16}, {"d36", 36, 1280, 20}, {"d48", 48, 1600, 25},
    };
    if (!desc) return 0;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (strcmp(desc, table[i].name) == 0) {
            c->max_seq_len = GPT2_MAX_SEQ_LEN;
            c->vocab_size = GPT2_VOCAB;
            c->padded_vocab_size = GPT2_PADDED_VOCAB;
            c->num_layers = table[i].layers;
            c->channels = table[i].channels;
            c->num_heads = table[i].heads;
            return 1;
        }
    }
    return 0;
}

int gpt2_config_validate(const GPT2Config *c, char *why, size_t why_len) {
    // Upper bounds keep every size computation far from overflow and reject garbage headers.
    if (c->num_layers < 1 || c->num_layers > 1024) { set_why(why, why_len, "num_layers %d is not in 1..1024", c->num_layers); return 0; }
    if (c->channels < 1 || c->channels > 65536) { set_why(why, why_len, "channels %d is not in 1..65536", c->channels); return 0; }
    if (c->num_heads < 1 || c->num_heads > c->channels) { set_why(why, why_len, "num_heads %d is not in 1..channels (%d)", c->num_heads, c->channels); return 0; }
    if (c->channels % c->num_heads != 0) { set_why(why, why_len, "channels %d is not divisible by num_heads %d", c->channels, c->num_heads); return 0; }
    if (c->vocab_size < 1 || c->vocab_size > 16777216) { set_why(why, why_len, "vocab_size %d is not in 1..16777216", c->vocab_size); return 0; }
    if (c->padded_vocab_size < c->vocab_size || c->padded_vocab_size > 16777216) {
        set_why(why, why_len, "padded_vocab_size %d is smaller than vocab_size %d or too large", c->padded_vocab_size, c->vocab_size);
        return 0;
    }
    if (c->max_seq_len < 1 || c->max_seq_len > 1048576) { set_why(why, why_len, "max_seq_len %d is not in 1..1048576", c->max_seq_len); return 0; }
    return 1;
}

int gpt2_config_make(GPT2Config *c, int num_layers, int channels, int num_heads, int vocab_size,
                     int padded_vocab_size, int max_seq_len, char *why, size_t why_len) {
    GPT2Config t;
    t.num_layers = num_layers;
    t.channels = channels;
    t.num_heads = num_heads;
    t.vocab_size = vocab_size;
    // Padding to a multiple of 128 keeps the classifier's rows aligned (llm.c pads to 128 too).
    t.padded_vocab_size = padded_vocab_size > 0 ? padded_vocab_size : ((vocab_size + 127) / 128) * 128;
    t.max_seq_len = max_seq_len;
    if (!gpt2_config_validate(&t, why, why_len)) return 0;
    *c = t;
    return 1;
}

size_t gpt2_param_sizes(const GPT2Config *c, size_t s[GPT2_NUM_PARAM_TENSORS]) {
    size_t Vp = c->padded_vocab_size, C = c->channels, L = c->num_layers, maxT = c->max_seq_len;
    s[GPT2_WTE] = Vp * C;
    s[GPT2_WPE] = maxT * C;
    s[GPT2_LN1W] = L * C;
    s[GPT2_LN1B] = L * C;
    s[GPT2_QKVW] = L * 3 * C * C;
    s[GPT2_QKVB] = L * 3 * C;
    s[GPT2_ATTPROJW] = L * C * C;
    s[GPT2_ATTPROJB] = L * C;
    s[GPT2_LN2W] = L * C;
    s[GPT2_LN2B] = L * C;
    s[GPT2_FCW] = L * 4 * C * C;
    s[GPT2_FCB] = L * 4 * C;
    s[GPT2_FCPROJW] = L * C * 4 * C;
    s[GPT2_FCPROJB] = L * C;
    s[GPT2_LNFW] = C;
    s[GPT2_LNFB] = C;
    size_t total = 0;
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) total += s[i];
    return total;
}

int gpt2_param_is_decayed(int i) {
    return i == GPT2_WTE || i == GPT2_WPE || i == GPT2_QKVW || i == GPT2_ATTPROJW ||
           i == GPT2_FCW || i == GPT2_FCPROJW;
}

double gpt2_train_flops_per_token(const GPT2Config *c, int T) {
    // Matmul weights touched per token: the blocks and the (padded) classifier; the embedding
    // lookup is not a matmul. Attention: QK^T and att.V are 2*T*C MACs per layer, x3 for training.
    double C = c->channels, L = c->num_layers;
    double matmul_params = L * 12.0 * C * C + (double)c->padded_vocab_size * C;
    return 6.0 * matmul_params + 6.0 * L * 2.0 * T * C;
}

// ---------------------------------------------------------------------------------------------
// Allocation.

static float *alloc_floats_aligned(size_t n) {
    void *p = NULL;
    // 64-byte alignment: one AVX-512 vector / cache line.
    if (posix_memalign(&p, 64, (n ? n : 1) * sizeof(float)) != 0)
        die("out of memory allocating %zu floats for the model", n);
    return p;
}

static void point_tensors(GPT2Params *p, float *base, const size_t s[GPT2_NUM_PARAM_TENSORS]) {
    float **ptrs[GPT2_NUM_PARAM_TENSORS] = {
        &p->wte, &p->wpe, &p->ln1w, &p->ln1b, &p->qkvw, &p->qkvb, &p->attprojw, &p->attprojb,
        &p->ln2w, &p->ln2b, &p->fcw, &p->fcb, &p->fcprojw, &p->fcprojb, &p->lnfw, &p->lnfb};
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) {
        *ptrs[i] = base;
        base += s[i];
    }
}

// Sets config, sizes and allocates (uninitialised) parameters; everything else empty.
static void gpt2_setup(GPT2 *m, GPT2Config c) {
    memset(m, 0, sizeof(*m));
    m->config = c;
    m->num_parameters = gpt2_param_sizes(&c, m->param_sizes);
    m->params_memory = alloc_floats_aligned(m->num_parameters);
    point_tensors(&m->params, m->params_memory, m->param_sizes);
    m->mean_loss = -1.0f;
}

void gpt2_free(GPT2 *m) {
    free(m->params_memory);
    free(m->grads_memory);
    free(m->acts_memory);
    free(m->grads_acts_memory);
    free(m->inputs);
    free(m->positions);
    free(m->targets);
    memset(m, 0, sizeof(*m));
}

// ---------------------------------------------------------------------------------------------
// Random initialisation.

// Each tensor is filled in chunks with their own generator seeded from (seed, tensor, chunk), so
// the result is the same for any number of threads and the big models initialise in parallel.
#define INIT_CHUNK 65536

static void fill_normal(float *dst, size_t n, float std, uint64_t seed, int tensor) {
    size_t num_chunks = (n + INIT_CHUNK - 1) / INIT_CHUNK;
#pragma omp parallel for schedule(static)
    for (size_t chunk = 0; chunk < num_chunks; chunk++) {
        Rng r;
        uint64_t mix = seed;
        uint64_t key = rng_splitmix64(&mix) ^ ((uint64_t)tensor << 48) ^ (uint64_t)chunk;
        rng_seed(&r, key);
        size_t end = (chunk + 1) * INIT_CHUNK < n ? (chunk + 1) * INIT_CHUNK : n;
        for (size_t i = chunk * INIT_CHUNK; i < end; i++) dst[i] = std * rng_normal(&r);
    }
}

void gpt2_init_empty(GPT2 *m, GPT2Config c) {
    char why[256];
    if (!gpt2_config_validate(&c, why, sizeof(why))) die("invalid model shape: %s", why);
    gpt2_setup(m, c);
    memset(m->params_memory, 0, m->num_parameters * sizeof(float));
}

void gpt2_init_random(GPT2 *m, GPT2Config c, uint64_t seed) {
    char why[256];
    if (!gpt2_config_validate(&c, why, sizeof(why))) die("invalid model shape: %s", why);
    gpt2_setup(m, c);
    const float std = 0.02f;
    // GPT-2 scales the residual projections so the residual stream's variance does not grow with depth.
    const float residual_std = std / sqrtf(2.0f * c.num_layers);
    size_t C = c.channels;
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) {
        float *t = m->params_memory;
        for (int j = 0; j < i; j++) t += m->param_sizes[j];
        size_t n = m->param_sizes[i];
        switch (i) {
        case GPT2_WTE:
            // Only the real vocabulary rows; the padding rows stay exactly zero.
            fill_normal(t, (size_t)c.vocab_size * C, std, seed, i);
            memset(t + (size_t)c.vocab_size * C, 0, (n - (size_t)c.vocab_size * C) * sizeof(float));
            break;
        case GPT2_WPE: case GPT2_QKVW: case GPT2_FCW:
            fill_normal(t, n, std, seed, i);
            break;
        case GPT2_ATTPROJW: case GPT2_FCPROJW:
            fill_normal(t, n, residual_std, seed, i);
            break;
        case GPT2_LN1W: case GPT2_LN2W: case GPT2_LNFW:
            for (size_t k = 0; k < n; k++) t[k] = 1.0f;
            break;
        default:  // biases
            memset(t, 0, n * sizeof(float));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Checkpoint files: int32 header[256], then the 16 tensors in order, fp32 (v3) or bf16 (v5).

int gpt2_init_from_checkpoint_try(GPT2 *m, const char *path, char *why, size_t why_len) {
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {  // before fopen: opening a FIFO would block
        set_why(why, why_len, "model file %s is not a regular file (pass an llm.c model .bin file)", path);
        return -1;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        set_why(why, why_len, "cannot open model file %s: %s (check the path; train_gpt2 writes model_NNNNNNNN.bin)", path, strerror(errno));
        return -1;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        set_why(why, why_len, "model file %s is not a regular file (pass an llm.c model .bin file)", path);
        fclose(f);
        return -1;
    }
    int32_t header[HEADER_INTS];
    if (fread(header, sizeof(int32_t), HEADER_INTS, f) != HEADER_INTS) {
        set_why(why, why_len, "model file %s is truncated: %lld bytes, shorter than the 1024-byte header (re-save or re-download it)",
                path, (long long)st.st_size);
        fclose(f);
        return -1;
    }
    if (header[0] != GPT2_MAGIC) {
        set_why(why, why_len, "%s is not an llm.c model file: bad magic number %d, expected %d (pass a model .bin written by llm.c or train_gpt2)",
                path, header[0], GPT2_MAGIC);
        fclose(f);
        return -1;
    }
    if (header[1] != GPT2_VERSION_FP32 && header[1] != GPT2_VERSION_BF16) {
        set_why(why, why_len, "model file %s has unsupported version %d (supported: 3 = fp32, 5 = bf16; re-export it with llm.c)",
                path, header[1]);
        fclose(f);
        return -1;
    }
    int bf16 = header[1] == GPT2_VERSION_BF16;
    GPT2Config c = {.max_seq_len = header[2], .vocab_size = header[3], .num_layers = header[4],
                    .num_heads = header[5], .channels = header[6], .padded_vocab_size = header[7]};
    char reason[160];
    if (!gpt2_config_validate(&c, reason, sizeof(reason))) {
        set_why(why, why_len, "model file %s has an invalid header: %s (the file is corrupt; re-save it)", path, reason);
        fclose(f);
        return -1;
    }
    size_t sizes[GPT2_NUM_PARAM_TENSORS];
    size_t n = gpt2_param_sizes(&c, sizes);
    unsigned long long expected = HEADER_INTS * 4ull + (unsigned long long)n * (bf16 ? 2 : 4);
    if ((unsigned long long)st.st_size != expected) {
        set_why(why, why_len, "model file %s has %lld bytes but its header (L=%d C=%d NH=%d Vp=%d maxT=%d, %s) needs %llu (%s; re-save it)",
                path, (long long)st.st_size, c.num_layers, c.channels, c.num_heads, c.padded_vocab_size,
                c.max_seq_len, bf16 ? "bf16" : "fp32", expected,
                (unsigned long long)st.st_size < expected ? "the file is truncated" : "it has trailing bytes");
        fclose(f);
        return -1;
    }
    gpt2_setup(m, c);
    size_t got;
    if (!bf16) {
        got = fread(m->params_memory, sizeof(float), n, f);
    } else {
        // Convert in chunks so a bf16 file never needs a second full-size buffer.
        enum { CHUNK = 1 << 20 };
        uint16_t *buf = malloc_or_die(CHUNK * sizeof(uint16_t));
        got = 0;
        while (got < n) {
            size_t want = n - got < CHUNK ? n - got : CHUNK;
            size_t r = fread(buf, sizeof(uint16_t), want, f);
            for (size_t i = 0; i < r; i++) m->params_memory[got + i] = bf16_to_float(buf[i]);
            got += r;
            if (r != want) break;
        }
        free(buf);
    }
    fclose(f);
    if (got != n) {
        gpt2_free(m);
        set_why(why, why_len, "cannot read model file %s: it ended early (re-save it)", path);
        return -1;
    }
    // A NaN or infinite weight makes every logit it touches NaN: the trainer would blame its
    // learning rate and the evaluator would score garbage, instead of naming the damaged file.
    size_t index = first_outside_range(m->params_memory, n, -FLT_MAX, FLT_MAX);
    if (index < n) {
        float value = m->params_memory[index];
        int tensor = 0;
        while (index >= m->param_sizes[tensor]) index -= m->param_sizes[tensor++];
        gpt2_free(m);
        set_why(why, why_len, "model file %s has a non-finite weight (%s %s[%zu]); the file is damaged, or it was saved from a "
                "run that diverged: use an earlier checkpoint", path, isnan(value) ? "NaN" : value > 0 ? "+inf" : "-inf",
                GPT2_PARAM_NAMES[tensor], index);
        return -1;
    }
    return 0;
}

void gpt2_init_from_checkpoint(GPT2 *m, const char *path) {
    char why[512];
    if (gpt2_init_from_checkpoint_try(m, path, why, sizeof(why)) != 0) die("%s", why);
}

int gpt2_save_checkpoint_try(const GPT2 *m, const char *path, int bf16) {
    const GPT2Config *c = &m->config;
    int32_t header[HEADER_INTS] = {0};
    header[0] = GPT2_MAGIC;
    header[1] = bf16 ? GPT2_VERSION_BF16 : GPT2_VERSION_FP32;
    header[2] = c->max_seq_len;
    header[3] = c->vocab_size;
    header[4] = c->num_layers;
    header[5] = c->num_heads;
    header[6] = c->channels;
    header[7] = c->padded_vocab_size;
    // atomic_open dies when it cannot create the file; report that as -1 like a failed write.
    char *dir_copy = strdup_or_die(path);
    int dir_ok = access(dirname(dir_copy), W_OK) == 0;
    int dir_errno = errno;
    free(dir_copy);
    if (!dir_ok) {
        errno = dir_errno;
        return -1;
    }
    AtomicFile af;
    atomic_open(&af, path);
    int ok = fwrite(header, sizeof(int32_t), HEADER_INTS, af.f) == HEADER_INTS;
    size_t n = m->num_parameters;
    if (ok && !bf16) {
        ok = fwrite(m->params_memory, sizeof(float), n, af.f) == n;
    } else if (ok) {
        enum { CHUNK = 1 << 20 };
        uint16_t *buf = malloc_or_die(CHUNK * sizeof(uint16_t));
        for (size_t done = 0; ok && done < n; done += CHUNK) {
            size_t k = n - done < CHUNK ? n - done : CHUNK;
            for (size_t i = 0; i < k; i++) buf[i] = float_to_bf16_round(m->params_memory[done + i]);
            ok = fwrite(buf, sizeof(uint16_t), k, af.f) == k;
        }
        free(buf);
    }
    if (!ok) {
        int e = errno;
        atomic_abort(&af);
        errno = e ? e : EIO;
        return -1;
    }
    return atomic_commit(&af);
}

void gpt2_save_checkpoint(const GPT2 *m, const char *path, int bf16) {
    if (gpt2_save_checkpoint_try(m, path, bf16) != 0)
        die("cannot write model file %s: %s (check that its directory exists and is writable and the disk has space; no partial file was left)",
            path, strerror(errno));
}

// ---------------------------------------------------------------------------------------------
// Pretrained names -> converted checkpoint files.

static const char *const GPT2_PRETRAINED_NAMES[] = {"gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl", "distilgpt2"};

int gpt2_resolve_pretrained(const char *name, const char *model_dir, const char *flag, char *out, size_t out_len) {
    for (size_t i = 0; i < sizeof GPT2_PRETRAINED_NAMES / sizeof *GPT2_PRETRAINED_NAMES; i++) {
        if (strcmp(name, GPT2_PRETRAINED_NAMES[i]) != 0) continue;
        snprintf(out, out_len, "%s%s%s.bin", model_dir, path_separator(model_dir), name);
        if (!file_exists(out))
            die("%s %s: %s not found (get it with: scripts/download_gpt2.sh %s %s%s, or set --model_dir)",
                flag, name, out, name, model_dir, path_separator(model_dir));
        return 1;
    }
    return 0;
}
