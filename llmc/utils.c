#include "utils.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *g_program = "memlens";

const char *program_name(void) { return g_program; }

// ---------------------------------------------------------------------------------------------
// Registry of temporary files in flight, cleaned up by die() and by fatal signals.

#define MAX_PENDING_TMP 64
static char *g_pending_tmp[MAX_PENDING_TMP];

static void register_tmp(char *path) {
    for (int i = 0; i < MAX_PENDING_TMP; i++) {
        if (!g_pending_tmp[i]) { g_pending_tmp[i] = path; return; }
    }
    // More than 64 files in flight is a programming error, not a user error.
    fprintf(stderr, "%s: error: too many temporary files open at once\n", g_program);
    exit(1);
}

static void unregister_tmp(const char *path) {
    for (int i = 0; i < MAX_PENDING_TMP; i++) {
        if (g_pending_tmp[i] == path) { g_pending_tmp[i] = NULL; return; }
    }
}

static void remove_pending_tmp(void) {
    for (int i = 0; i < MAX_PENDING_TMP; i++) {
        if (g_pending_tmp[i]) { unlink(g_pending_tmp[i]); g_pending_tmp[i] = NULL; }
    }
}

static void on_fatal_signal(int sig) {
    // unlink() is async-signal-safe; the registry holds plain pointers set before the signal.
    for (int i = 0; i < MAX_PENDING_TMP; i++) {
        if (g_pending_tmp[i]) unlink(g_pending_tmp[i]);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_signal_cleanup(void) {
    static int installed = 0;
    if (installed) return;
    installed = 1;
    // A signal the launcher made us ignore stays ignored: `nohup` (SIGHUP), `&` in a
    // non-interactive shell (SIGINT).
    const int fatal[] = {SIGINT, SIGTERM, SIGHUP};
    for (int i = 0; i < 3; i++) {
        struct sigaction old;
        if (sigaction(fatal[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        signal(fatal[i], on_fatal_signal);
    }
    // A file-size limit (ulimit -f) must surface as a write error (EFBIG) that is reported and
    // cleaned up like a full disk, not kill the program silently with its temporary files left.
    signal(SIGXFSZ, SIG_IGN);
}

void set_program_name(const char *argv0) {
    const char *slash = strrchr(argv0, '/');
    g_program = slash ? slash + 1 : argv0;
    install_signal_cleanup();  // every program calls this first, so its very first write is covered
}

// "prog: kind: message\n" in one write: the ranks of an MPI job share one stderr, and the pieces
// of lines written piecemeal interleave there ("train_gpt2: error: train_gpt2: error: ...").
static void report_line(const char *kind, const char *fmt, va_list ap) {
    char small[2048], *line = small;
    va_list again;
    va_copy(again, ap);
    int head = snprintf(small, sizeof small, "%s: %s: ", g_program, kind);
    int body = vsnprintf(small + head, sizeof small - (size_t)head, fmt, ap);
    if (body < 0) body = 0;
    size_t length = (size_t)head + (size_t)body + 1;
    if (length + 1 > sizeof small && (line = malloc(length + 1)) != NULL) {  // long: format it again, whole
        memcpy(line, small, (size_t)head);
        vsnprintf(line + head, length - (size_t)head, fmt, again);
    } else if (!line) {  // no memory for a long line: the part that fits
        line = small;
        length = sizeof small - 1;
    }
    va_end(again);
    line[length - 1] = '\n';
    fwrite(line, 1, length, stderr);
    if (line != small) free(line);
}

void die(const char *fmt, ...) {
    fflush(stdout);
    va_list ap;
    va_start(ap, fmt);
    report_line("error", fmt, ap);
    va_end(ap);
    remove_pending_tmp();
    exit(1);
}

void warn(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    report_line("warning", fmt, ap);
    va_end(ap);
}

// ---------------------------------------------------------------------------------------------
// Checked allocation and I/O.

void *malloc_or_die(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory allocating %zu bytes", n);
    return p;
}

void *calloc_or_die(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) die("out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

void *realloc_or_die(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) die("out of memory allocating %zu bytes", n);
    return q;
}

char *strdup_or_die(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc_or_die(n);
    memcpy(p, s, n);
    return p;
}

int path_kind(const char *path, const char **kind) {
    struct stat st;
    *kind = NULL;
    if (stat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
    if (S_ISREG(st.st_mode)) return 1;
    if (S_ISDIR(st.st_mode)) *kind = "a directory";
    else if (S_ISFIFO(st.st_mode)) *kind = "a FIFO";
    else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) *kind = "a device";
    else if (S_ISSOCK(st.st_mode)) *kind = "a socket";
    else *kind = "not a file";
    return 2;
}

size_t first_outside_range(const float *x, size_t n, float lo, float hi) {
    const size_t CHUNK = 1 << 16;
    for (size_t start = 0; start < n; start += CHUNK) {
        size_t end = n - start < CHUNK ? n : start + CHUNK;
        int bad = 0;
        for (size_t i = start; i < end; i++) bad |= !(x[i] >= lo && x[i] <= hi);  // true for NaN
        if (!bad) continue;
        size_t i = start;
        while (x[i] >= lo && x[i] <= hi) i++;
        return i;
    }
    return n;
}

static void refuse_kind(const char *path, const char *kind, const char *hint) {
    if (hint) die("cannot read %s: it is %s (%s)", path, kind, hint);
    die("cannot read %s: it is %s (pass a regular file)", path, kind);
}

void regular_file_or_die(const char *path, const char *hint) {
    const char *kind;
    if (path_kind(path, &kind) == 2) refuse_kind(path, kind, hint);
}

FILE *fopen_or_die(const char *path, const char *mode, const char *hint) {
    // A directory opens for reading on Linux and fails only at the first read, with EISDIR.
    const char *kind;
    if (mode[0] == 'r' && path_kind(path, &kind) == 2 && strcmp(kind, "a directory") == 0) refuse_kind(path, kind, hint);
    FILE *f = fopen(path, mode);
    if (!f) {
        if (hint) die("cannot open %s: %s (%s)", path, strerror(errno), hint);
        die("cannot open %s: %s", path, strerror(errno));
    }
    return f;
}

void fread_or_die(void *dst, size_t size, size_t count, FILE *f, const char *path) {
    size_t got = fread(dst, size, count, f);
    if (got != count) {
        if (feof(f)) die("%s is truncated: expected %zu more bytes (the file is incomplete; regenerate it)",
                         path, (count - got) * size);
        die("cannot read %s: %s", path, strerror(errno));
    }
}

const char *write_fix(int e, const char *otherwise) { return e == EFBIG ? "raise the file-size limit, ulimit -f" : otherwise; }

void fwrite_or_die(const void *src, size_t size, size_t count, FILE *f, const char *path) {
    if (fwrite(src, size, count, f) != count) {
        int e = errno;
        die("cannot write %s: %s (%s)", path, strerror(e), write_fix(e, "check free disk space and permissions"));
    }
}

char *read_file_or_die(const char *path, size_t *len_out) { return read_file_hint_or_die(path, len_out, NULL); }

char *read_file_hint_or_die(const char *path, size_t *len_out, const char *hint) {
    FILE *f = fopen_or_die(path, "rb", hint);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc_or_die(cap + 1);
    for (;;) {
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
        if (len == cap) { cap *= 2; buf = realloc_or_die(buf, cap + 1); }
    }
    if (ferror(f)) die("cannot read %s: %s", path, strerror(errno));
    fclose(f);
    buf[len] = '\0';
    if (len_out) *len_out = len;
    return buf;
}

const char *path_separator(const char *dir) {
    size_t n = strlen(dir);
    return n > 0 && dir[n - 1] == '/' ? "" : "/";
}

char *path_join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc_or_die(n);
    snprintf(p, n, "%s%s%s", dir, path_separator(dir), name);
    return p;
}

int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int dir_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

void make_dirs_or_die(const char *path) {
    char *buf = strdup_or_die(path);
    size_t n = strlen(buf);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char saved = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                die("cannot create directory %s: %s (choose a writable location)", buf, strerror(errno));
            buf[i] = saved;
        }
    }
    if (!dir_exists(path)) die("%s exists but is not a directory (choose another path)", path);
    free(buf);
}

// ---------------------------------------------------------------------------------------------
// Atomic files.

void atomic_open(AtomicFile *af, const char *final_path) {
    install_signal_cleanup();
    // The rename at commit would replace whatever is there: a device (--output /dev/null as
    // root), a FIFO or a directory must stay what it is.
    struct stat st;
    if (stat(final_path, &st) == 0 && !S_ISREG(st.st_mode))
        die("cannot write %s: it exists and is not a regular file (give the path of a file to create or replace)", final_path);
    size_t n = strlen(final_path) + 32;
    af->final_path = strdup_or_die(final_path);
    af->tmp_path = malloc_or_die(n);
    snprintf(af->tmp_path, n, "%s.tmp.%d", final_path, (int)getpid());
    af->f = fopen(af->tmp_path, "wb");
    if (!af->f) {
        int e = errno;
        char *dir = strdup_or_die(final_path);
        die("cannot write %s: %s (check that directory %s exists and is writable)",
            final_path, strerror(e), dirname(dir));
    }
    register_tmp(af->tmp_path);
}

static void fsync_parent_dir(const char *path) {
    char *copy = strdup_or_die(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) { fsync(fd); close(fd); }
    free(copy);
}

static void atomic_release(AtomicFile *af) {
    unregister_tmp(af->tmp_path);
    free(af->tmp_path);
    free(af->final_path);
    af->tmp_path = af->final_path = NULL;
    af->f = NULL;
}

int atomic_sync(AtomicFile *af) {
    return fflush(af->f) == 0 && !ferror(af->f) && fsync(fileno(af->f)) == 0 ? 0 : -1;
}

int atomic_commit(AtomicFile *af) {
    int ok = atomic_sync(af) == 0;
    int saved_errno = errno;
    if (fclose(af->f) != 0 && ok) { ok = 0; saved_errno = errno; }
    if (ok && rename(af->tmp_path, af->final_path) != 0) { ok = 0; saved_errno = errno; }
    if (!ok) {
        unlink(af->tmp_path);
        atomic_release(af);
        errno = saved_errno;
        return -1;
    }
    fsync_parent_dir(af->final_path);
    atomic_release(af);
    return 0;
}

void atomic_commit_or_die(AtomicFile *af) {
    char *path = strdup_or_die(af->final_path);
    if (atomic_commit(af) != 0) {
        int e = errno;
        die("cannot write %s: %s (%s; any earlier version of the file is intact)", path, strerror(e), write_fix(e, "check free disk space"));
    }
    free(path);
}

void atomic_abort(AtomicFile *af) {
    if (af->f) fclose(af->f);
    unlink(af->tmp_path);
    atomic_release(af);
}

void write_file_atomic_or_die(const char *path, const void *data, size_t len) {
    AtomicFile af;
    atomic_open(&af, path);
    fwrite_or_die(data, 1, len, af.f, af.tmp_path);
    atomic_commit_or_die(&af);
}

double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
