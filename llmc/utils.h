// Small helpers every program shares: one-line fatal errors, checked allocation and I/O,
// and atomic file writes (temporary name, fsync, rename) so that no output is ever half-written.
#ifndef LLMC_UTILS_H
#define LLMC_UTILS_H

#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <stdint.h>

// Program name used as the prefix of every error line ("generate_dataset: error: ..."). Also sets
// up the signal handling every program shares: SIGINT/SIGTERM/SIGHUP remove unfinished temporary
// files, and SIGXFSZ (ulimit -f) is ignored so that an oversized write fails with EFBIG instead.
void set_program_name(const char *argv0);
const char *program_name(void);

// Print "prog: error: <message>" on one line, remove every unfinished temporary file, exit(1).
__attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...);
// Same, but for warnings; never exits.
__attribute__((format(printf, 1, 2))) void warn(const char *fmt, ...);

void *malloc_or_die(size_t n);
void *calloc_or_die(size_t count, size_t size);
void *realloc_or_die(void *p, size_t n);
char *strdup_or_die(const char *s);

// Dies with one line naming path when it exists but is not a regular file: a directory, a device,
// or a FIFO, whose read would block until something writes to it (a hang without a word). For
// inputs that must be files (shards, models, JSON); text inputs may be pipes (/dev/stdin, <(...)).
// A missing path is left to the open that follows.
void regular_file_or_die(const char *path, const char *hint);
// 0 when path does not exist, 1 when it is a regular file (or a link to one), 2 when it is
// something else (*kind names it: "a directory", "a FIFO", "a device", ...), -1 when it cannot be
// looked at (errno set).
int path_kind(const char *path, const char **kind);
// Index of the first x[i] outside [lo, hi] (NaN is outside every range), or n when there is none.
// For checks of whole weight or moment arrays on load: the scan vectorises (about 50 ms for 124M
// floats), and the exact place is looked up only in the chunk where something is found.
size_t first_outside_range(const float *x, size_t n, float lo, float hi);
// Open a file or die with a message naming it and what to do ("hint" may be NULL). For reading,
// a directory is refused at once (pipes and devices are not: see regular_file_or_die).
FILE *fopen_or_die(const char *path, const char *mode, const char *hint);
void fread_or_die(void *dst, size_t size, size_t count, FILE *f, const char *path);
void fwrite_or_die(const void *src, size_t size, size_t count, FILE *f, const char *path);
// The fix to suggest after a write failed with errno e: EFBIG comes from the file-size limit
// (ulimit -f), anything else gets `otherwise`.
const char *write_fix(int e, const char *otherwise);
// Whole file into memory (NUL-terminated for convenience); *len_out gets the byte count.
char *read_file_or_die(const char *path, size_t *len_out);
// Same, with a hint (may be NULL) saying how to fix a file that cannot be opened.
char *read_file_hint_or_die(const char *path, size_t *len_out, const char *hint);
// "/" to put between a directory and a name in it, or "" when the directory already ends with one
// (so that --output_dir out/ gives out/model.bin, not out//model.bin).
const char *path_separator(const char *dir);
// dir + path_separator(dir) + name, malloc'ed.
char *path_join(const char *dir, const char *name);
int file_exists(const char *path);
int dir_exists(const char *path);
// mkdir -p; dies with a message naming the path on failure.
void make_dirs_or_die(const char *path);

// Atomic output. atomic_open creates "<path>.tmp.<pid>" and registers it so that die() and
// fatal signals remove it; atomic_commit flushes, fsyncs, renames onto <path> and fsyncs the
// directory. Nothing ever exists under the final name unless it is complete.
typedef struct {
    FILE *f;
    char *final_path;
    char *tmp_path;
} AtomicFile;
void atomic_open(AtomicFile *af, const char *final_path);
// Flush and fsync the temporary file without renaming it: 0, or -1 with errno set (nothing is
// removed). Lets a program that writes several files find a full disk before renaming any.
int atomic_sync(AtomicFile *af);
// Returns 0 on success; on failure (e.g. disk full) removes the temporary file, returns -1 and
// leaves errno set, so the caller can report it. The previous file under final_path is untouched.
int atomic_commit(AtomicFile *af);
void atomic_commit_or_die(AtomicFile *af);
void atomic_abort(AtomicFile *af);
// Convenience: write a whole buffer atomically, dying with a message naming the path on error.
void write_file_atomic_or_die(const char *path, const void *data, size_t len);

// Wall-clock seconds (monotonic).
double now_seconds(void);

#endif
