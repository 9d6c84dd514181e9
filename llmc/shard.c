#include "shard.h"
#include "utils.h"

#include <string.h>

void shard_load(Shard *s, const char *path) {
    memset(s, 0, sizeof *s);
    s->path = strdup_or_die(path);
    const char *hint = "give a .bin shard written by generate_dataset";
    regular_file_or_die(path, hint);
    FILE *f = fopen_or_die(path, "rb", hint);
    int32_t header[SHARD_HEADER_INTS];
    if (fread(header, sizeof(int32_t), SHARD_HEADER_INTS, f) != SHARD_HEADER_INTS)
        die("%s is too short to be a token shard (regenerate it with generate_dataset)", path);
    if (header[0] != SHARD_MAGIC)
        die("%s is not a token shard: bad magic %d, expected %d (give train.bin/test.bin from generate_dataset)",
            path, header[0], SHARD_MAGIC);
    if (header[1] != SHARD_VERSION)
        die("%s: unsupported shard version %d, expected %d (regenerate it with generate_dataset)", path, header[1], SHARD_VERSION);
    if (header[2] < 0 || header[3] < 0)
        die("%s: corrupt header (negative sizes; regenerate it with generate_dataset)", path);
    s->num_tokens = (size_t)header[2];
    s->record_length = header[3];
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    long expected = (long)(SHARD_HEADER_INTS * sizeof(int32_t) + s->num_tokens * sizeof(uint16_t));
    if (size < expected)
        die("%s is truncated: header says %zu tokens (%ld bytes) but the file has %ld bytes (regenerate it)",
            path, s->num_tokens, expected, size);
    if (size > expected)
        die("%s has %ld trailing bytes after its %zu tokens (the file is corrupt; regenerate it)", path, size - expected, s->num_tokens);
    fseek(f, SHARD_HEADER_INTS * sizeof(int32_t), SEEK_SET);
    s->tokens = malloc_or_die(s->num_tokens * sizeof(uint16_t));
    fread_or_die(s->tokens, sizeof(uint16_t), s->num_tokens, f, path);
    fclose(f);
    if (s->record_length > 0) {
        if (s->num_tokens % (size_t)s->record_length != 0)
            die("%s: %zu tokens is not a whole number of %d-token records (regenerate it)", path, s->num_tokens, s->record_length);
        s->num_records = s->num_tokens / (size_t)s->record_length;
    }
    int mx = 0;
    for (size_t i = 0; i < s->num_tokens; i++) if (s->tokens[i] > mx) mx = s->tokens[i];
    s->max_token = mx;
}

void shard_free(Shard *s) {
    free(s->tokens);
    free(s->path);
    memset(s, 0, sizeof *s);
}

void shard_write(const char *path, const uint16_t *tokens, size_t num_tokens, int record_length) {
    if (num_tokens > INT32_MAX) die("%s: %zu tokens do not fit one shard (limit %d)", path, num_tokens, INT32_MAX);
    int32_t header[SHARD_HEADER_INTS] = {0};
    header[0] = SHARD_MAGIC;
    header[1] = SHARD_VERSION;
    header[2] = (int32_t)num_tokens;
    header[3] = record_length;
    AtomicFile af;
    atomic_open(&af, path);
    fwrite_or_die(header, sizeof(int32_t), SHARD_HEADER_INTS, af.f, af.tmp_path);
    fwrite_or_die(tokens, sizeof(uint16_t), num_tokens, af.f, af.tmp_path);
    atomic_commit_or_die(&af);
}
