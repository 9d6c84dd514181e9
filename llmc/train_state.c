#include "train_state.h"
#include "utils.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

enum {
    H_MAGIC, H_VERSION, H_STEP, H_EPOCH, H_POSITION, H_RNG, H_RECORDS, H_PARAMS, H_ADAM_STEP,
    H_THREADS, H_ELAPSED, H_IDENTITY_LEN, H_TOKENS, H_MODEL_SIZE, H_MODEL_CRC, H_COUNT = 32
};

// ---------------------------------------------------------------------------------------------
// Writing: every byte goes through the checksum on its way to the file.

typedef struct {
    FILE *f;
    uLong crc;
    int failed;
} HashedWriter;

static void hw_write(HashedWriter *w, const void *data, size_t len) {
    if (w->failed) return;
    w->crc = crc32_z(w->crc, data, len);
    if (fwrite(data, 1, len, w->f) != len) w->failed = 1;
}

int train_state_write(const char *path, const TrainState *s, const AdamW *opt) {
    uint64_t header[H_COUNT] = {0};
    size_t identity_len = strlen(s->identity);
    header[H_MAGIC] = TRAIN_STATE_MAGIC;
    header[H_VERSION] = TRAIN_STATE_VERSION;
    header[H_STEP] = (uint64_t)s->step;
    header[H_EPOCH] = (uint64_t)s->epoch;
    header[H_POSITION] = s->position;
    header[H_RNG] = s->rng_state;
    header[H_RECORDS] = s->num_records;
    header[H_PARAMS] = opt->num_parameters;
    header[H_ADAM_STEP] = (uint64_t)opt->step;
    header[H_THREADS] = (uint64_t)s->threads;
    memcpy(&header[H_ELAPSED], &s->elapsed_seconds, sizeof(double));
    header[H_IDENTITY_LEN] = identity_len;
    header[H_TOKENS] = (uint64_t)s->tokens_trained;
    header[H_MODEL_SIZE] = s->model_size;
    header[H_MODEL_CRC] = s->model_crc32;

    AtomicFile af;
    atomic_open(&af, path);
    HashedWriter w = {.f = af.f, .crc = crc32_z(0L, Z_NULL, 0)};
    hw_write(&w, header, sizeof header);
    hw_write(&w, s->identity, identity_len);
    for (size_t i = 0; i < s->num_records; i++) {
        int32_t v = s->order[i];
        hw_write(&w, &v, sizeof v);
    }
    hw_write(&w, opt->m, opt->num_parameters * sizeof(float));
    hw_write(&w, opt->v, opt->num_parameters * sizeof(float));
    uint64_t checksum = w.crc;
    if (!w.failed && fwrite(&checksum, sizeof checksum, 1, af.f) != 1) w.failed = 1;
    if (w.failed) {
        int saved = errno;
        atomic_abort(&af);
        errno = saved;
        return -1;
    }
    if (fflush(af.f) != 0) {
        int saved = errno;
        atomic_abort(&af);
        errno = saved;
        return -1;
    }
    test_kill_point("state_temp_written", s->step);
    return atomic_commit(&af);
}

// ---------------------------------------------------------------------------------------------
// Reading: a bad file is not fatal (the caller falls back to an older checkpoint), so every
// check returns a reason instead of dying.

static int reason(char *why, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return -1;
}

static int hr_read(FILE *f, uLong *crc, void *dst, size_t len) {
    if (fread(dst, 1, len, f) != len) return -1;
    *crc = crc32_z(*crc, dst, len);
    return 0;
}

// A CRC only says the bytes are those that were written; a hand-made file can carry a correct
// one. What the fields mean is checked here, once the checksum holds: 0, or -1 with a reason.
static int check_meaning(const char *path, const uint64_t *header, const int *order, size_t num_records,
                         const AdamW *opt, char *why, size_t why_len) {
    uint64_t step = header[H_STEP];
    if (step > (uint64_t)INT64_MAX) return reason(why, why_len, "%s has a corrupt header (step %llu)", path, (unsigned long long)step);
    // adamw_step_range runs once per optimizer step, however many passes a step accumulates.
    if (header[H_ADAM_STEP] != step)
        return reason(why, why_len, "%s has a corrupt header (AdamW step %llu after %llu optimizer steps; they must be equal)",
                      path, (unsigned long long)header[H_ADAM_STEP], (unsigned long long)step);
    // Every epoch takes at least one step (the loader counts an epoch when its last row is used).
    if (header[H_EPOCH] > step)
        return reason(why, why_len, "%s has a corrupt header (epoch %llu after %llu steps)", path,
                      (unsigned long long)header[H_EPOCH], (unsigned long long)step);
    // The trainer records omp_get_max_threads(); --threads accepts at most 4096.
    int64_t threads = (int64_t)header[H_THREADS];
    if (threads < 1 || threads > 4096)
        return reason(why, why_len, "%s has a corrupt header (threads %lld, expected 1 to 4096)", path, (long long)threads);
    double elapsed;
    memcpy(&elapsed, &header[H_ELAPSED], sizeof elapsed);
    if (!isfinite(elapsed) || elapsed < 0.0)
        return reason(why, why_len, "%s has a corrupt header (elapsed time %g s)", path, elapsed);
    if ((int64_t)header[H_TOKENS] < 0)
        return reason(why, why_len, "%s has a corrupt header (tokens trained %lld)", path, (long long)(int64_t)header[H_TOKENS]);
    // The order is a permutation: each record once (entries are already known to be in range).
    unsigned char *seen = calloc_or_die(num_records / 8 + 1, 1);
    int rc = 0;
    for (size_t i = 0; i < num_records && rc == 0; i++) {
        size_t r = (size_t)order[i];
        if (seen[r / 8] & (1u << (r % 8)))
            rc = reason(why, why_len, "%s has a corrupt record order (record %zu appears twice)", path, r);
        seen[r / 8] |= (unsigned char)(1u << (r % 8));
    }
    free(seen);
    if (rc != 0) return rc;
    // Moments AdamW can produce: m finite, v (a running mean of squares) finite and >= 0.
    size_t n = opt->num_parameters, i;
    if ((i = first_outside_range(opt->m, n, -FLT_MAX, FLT_MAX)) < n)
        return reason(why, why_len, "%s has corrupt AdamW moments (AdamW m[%zu] = %g)", path, i, (double)opt->m[i]);
    if ((i = first_outside_range(opt->v, n, 0.0f, FLT_MAX)) < n)
        return reason(why, why_len, "%s has corrupt AdamW moments (AdamW v[%zu] = %g, must be finite and >= 0)", path, i,
                      (double)opt->v[i]);
    return 0;
}

int train_state_read(const char *path, TrainState *s, AdamW *opt, size_t num_records, char *why, size_t why_len) {
    FILE *f = fopen(path, "rb");
    if (!f) return reason(why, why_len, "cannot open %s: %s", path, strerror(errno));
    int rc = -1;
    uLong h = crc32_z(0L, Z_NULL, 0);
    uint64_t header[H_COUNT];
    s->identity = NULL;
    if (hr_read(f, &h, header, sizeof header) != 0) { reason(why, why_len, "%s is truncated (no complete header)", path); goto done; }
    if (header[H_MAGIC] != TRAIN_STATE_MAGIC) {
        reason(why, why_len, "%s is not a memlens train state (bad magic %llu)", path, (unsigned long long)header[H_MAGIC]);
        goto done;
    }
    if (header[H_VERSION] != TRAIN_STATE_VERSION) {
        reason(why, why_len, "%s has unsupported version %llu (expected %llu)", path,
               (unsigned long long)header[H_VERSION], TRAIN_STATE_VERSION);
        goto done;
    }
    if (header[H_PARAMS] != opt->num_parameters) {
        reason(why, why_len, "%s is for a model with %llu parameters, this one has %zu", path,
               (unsigned long long)header[H_PARAMS], opt->num_parameters);
        goto done;
    }
    if (header[H_RECORDS] != num_records) {
        reason(why, why_len, "%s is for a training shard of %llu records, this one has %zu", path,
               (unsigned long long)header[H_RECORDS], num_records);
        goto done;
    }
    if (header[H_IDENTITY_LEN] > (1u << 20) || header[H_POSITION] >= num_records) {
        reason(why, why_len, "%s has a corrupt header", path);
        goto done;
    }
    // The exact size is known from the header: check it before reading a gigabyte of moments.
    long expected = (long)(sizeof header + header[H_IDENTITY_LEN] + num_records * sizeof(int32_t) +
                           2 * opt->num_parameters * sizeof(float) + sizeof(uint64_t));
    if (fseek(f, 0, SEEK_END) != 0) { reason(why, why_len, "cannot read %s: %s", path, strerror(errno)); goto done; }
    long size = ftell(f);
    if (size != expected) {
        reason(why, why_len, "%s has %ld bytes, expected %ld (%s)", path, size, expected,
               size < expected ? "truncated" : "trailing garbage");
        goto done;
    }
    fseek(f, (long)sizeof header, SEEK_SET);
    s->identity = calloc_or_die(header[H_IDENTITY_LEN] + 1, 1);
    if (hr_read(f, &h, s->identity, header[H_IDENTITY_LEN]) != 0) {
        reason(why, why_len, "%s is truncated", path);
        goto done;
    }
    for (size_t i = 0; i < num_records; i++) {
        int32_t v;
        if (hr_read(f, &h, &v, sizeof v) != 0) { reason(why, why_len, "%s is truncated", path); goto done; }
        if (v < 0 || (size_t)v >= num_records) { reason(why, why_len, "%s has a corrupt record order", path); goto done; }
        s->order[i] = v;
    }
    if (hr_read(f, &h, opt->m, opt->num_parameters * sizeof(float)) != 0 ||
        hr_read(f, &h, opt->v, opt->num_parameters * sizeof(float)) != 0) {
        reason(why, why_len, "%s is truncated", path);
        goto done;
    }
    uint64_t stored;
    if (fread(&stored, sizeof stored, 1, f) != 1) { reason(why, why_len, "%s is truncated", path); goto done; }
    if (stored != (uint64_t)h) {
        reason(why, why_len, "%s is corrupt (checksum mismatch)", path);
        goto done;
    }
    if (check_meaning(path, header, s->order, num_records, opt, why, why_len) != 0) goto done;
    s->model_size = header[H_MODEL_SIZE];
    s->model_crc32 = (uint32_t)header[H_MODEL_CRC];
    s->step = (int64_t)header[H_STEP];
    s->epoch = (int64_t)header[H_EPOCH];
    s->position = header[H_POSITION];
    s->rng_state = header[H_RNG];
    s->num_records = num_records;
    s->threads = (int64_t)header[H_THREADS];
    memcpy(&s->elapsed_seconds, &header[H_ELAPSED], sizeof(double));
    s->tokens_trained = (int64_t)header[H_TOKENS];
    opt->step = (int64_t)header[H_ADAM_STEP];
    rc = 0;
done:
    fclose(f);
    if (rc != 0) { free(s->identity); s->identity = NULL; }
    return rc;
}

// ---------------------------------------------------------------------------------------------
// Checkpoint files in the output directory.

static char *checkpoint_path(const char *dir, const char *kind, int64_t step) {
    size_t n = strlen(dir) + 64;
    char *p = malloc_or_die(n);
    snprintf(p, n, "%s%s%s_%08lld.bin", dir, path_separator(dir), kind, (long long)step);
    return p;
}

char *checkpoint_model_path(const char *dir, int64_t step) { return checkpoint_path(dir, "model", step); }
char *checkpoint_state_path(const char *dir, int64_t step) { return checkpoint_path(dir, "state", step); }

// "model_00000012.bin" / "state_00000012.bin" -> 12; anything else -> -1.
static int64_t checkpoint_step_of(const char *name) {
    const char *digits;
    if (!strncmp(name, "model_", 6) || !strncmp(name, "state_", 6)) digits = name + 6;
    else return -1;
    size_t nd = strspn(digits, "0123456789");
    if (nd < 8 || nd > 18 || strcmp(digits + nd, ".bin") != 0) return -1;
    return strtoll(digits, NULL, 10);
}

static int compare_desc(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x < y) - (x > y);
}

int64_t *checkpoint_list_steps(const char *dir, int *n) {
    *n = 0;
    int cap = 16;
    int64_t *steps = malloc_or_die(cap * sizeof(int64_t));
    DIR *d = opendir(dir);
    if (!d) return steps;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int64_t step = checkpoint_step_of(e->d_name);
        if (step < 0) continue;
        int seen = 0;
        for (int i = 0; i < *n; i++) if (steps[i] == step) seen = 1;
        if (seen) continue;
        if (*n == cap) { cap *= 2; steps = realloc_or_die(steps, cap * sizeof(int64_t)); }
        steps[(*n)++] = step;
    }
    closedir(d);
    qsort(steps, *n, sizeof(int64_t), compare_desc);
    return steps;
}

void checkpoint_remove(const char *dir, int64_t step) {
    char *state = checkpoint_state_path(dir, step), *model = checkpoint_model_path(dir, step);
    unlink(state);
    unlink(model);
    free(state);
    free(model);
}

int file_crc32(const char *path, uint64_t *size, uint32_t *crc) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    enum { CHUNK = 1 << 22 };
    unsigned char *buf = malloc_or_die(CHUNK);
    uLong c = crc32_z(0L, Z_NULL, 0);
    uint64_t total = 0;
    size_t got;
    while ((got = fread(buf, 1, CHUNK, f)) > 0) {
        c = crc32_z(c, buf, got);
        total += got;
    }
    int rc = ferror(f) ? -1 : 0;
    int saved = errno;
    fclose(f);
    free(buf);
    errno = saved;
    *size = total;
    *crc = (uint32_t)c;
    return rc;
}

void remove_stale_temp_files(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        // Only our own outputs: "<name>.tmp.<pid>", possibly nested ("model_N.bin.tmp.1.tmp.1").
        static const char *const OURS[] = {"model_", "state_", "model.bin", "config.json", "train_log.jsonl"};
        int ours = 0;
        for (size_t i = 0; i < sizeof OURS / sizeof *OURS; i++) ours |= !strncmp(e->d_name, OURS[i], strlen(OURS[i]));
        if (!ours) continue;
        const char *tmp = NULL;
        for (const char *p = strstr(e->d_name, ".tmp."); p; p = strstr(p + 1, ".tmp.")) tmp = p;
        if (!tmp) continue;
        const char *pid_text = tmp + 5;
        if (!*pid_text || pid_text[strspn(pid_text, "0123456789")] != '\0') continue;
        pid_t pid = (pid_t)atol(pid_text);
        if (pid == getpid() || (kill(pid, 0) != 0 && errno == ESRCH)) {
            size_t n = strlen(dir) + strlen(e->d_name) + 2;
            char *path = malloc_or_die(n);
            snprintf(path, n, "%s%s%s", dir, path_separator(dir), e->d_name);
            unlink(path);
            free(path);
        }
    }
    closedir(d);
}

// ---------------------------------------------------------------------------------------------

int train_identity_diff(const char *saved, const char *current, char *why, size_t why_len) {
    cJSON *a = cJSON_Parse(saved), *b = cJSON_Parse(current);
    int differs = 0;
    if (!a || !b) {
        snprintf(why, why_len, "the saved run identity is unreadable");
        differs = 1;
    } else {
        const cJSON *item;
        cJSON_ArrayForEach(item, b) {
            const cJSON *other = cJSON_GetObjectItemCaseSensitive(a, item->string);
            if (other && cJSON_Compare(item, other, 1)) continue;
            char *now = cJSON_PrintUnformatted(item);
            char *then = other ? cJSON_PrintUnformatted(other) : NULL;
            snprintf(why, why_len, "%s was %s, now %s", item->string, then ? then : "(absent)", now);
            cJSON_free(now);
            if (then) cJSON_free(then);
            differs = 1;
            break;
        }
        // A field only the saved run has (e.g. zero_stage, recorded only when it is set).
        if (!differs) cJSON_ArrayForEach(item, a) {
            if (cJSON_GetObjectItemCaseSensitive(b, item->string)) continue;
            char *then = cJSON_PrintUnformatted(item);
            snprintf(why, why_len, "%s was %s, now (absent)", item->string, then);
            cJSON_free(then);
            differs = 1;
            break;
        }
    }
    cJSON_Delete(a);
    cJSON_Delete(b);
    return differs;
}

void test_kill_point(const char *name, int64_t step) {
    const char *spec = getenv("MEMLENS_TEST_KILL_AT");
    size_t n = strlen(name);
    if (spec && strncmp(spec, name, n) == 0 &&
        (spec[n] == '\0' || (spec[n] == ':' && strtoll(spec + n + 1, NULL, 10) == step)))
        raise(SIGKILL);
    // MEMLENS_TEST_PAUSE_AT=NAME:STEP:SECONDS: a slow disk, for the other ranks' deadlines.
    const char *pause = getenv("MEMLENS_TEST_PAUSE_AT");
    char *end;
    if (pause && strncmp(pause, name, n) == 0 && pause[n] == ':' && strtoll(pause + n + 1, &end, 10) == step &&
        *end == ':') {
        double seconds = strtod(end + 1, NULL);
        struct timespec t = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
        nanosleep(&t, NULL);
    }
}
