// Reader of the reference states written by dev/reference/gpt2_reference.py, shared by the CPU
// test (tests/unit/test_gpt2_reference.c) and the GPU test (test_gpt2cu.cu). Format: "MLREF001",
// uint32 count, then per entry uint32 name length, name, uint32 dtype (0 f32, 1 i32), uint32 ndim,
// uint64 dims[ndim], then the 4-byte values.
#ifndef DEV_REFERENCE_STATE_H
#define DEV_REFERENCE_STATE_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "llmc/utils.h"
#ifdef __cplusplus
}
#endif

typedef struct {
    char name[64];
    int dtype;  // 0 f32, 1 i32
    int ndim;
    size_t dims[8];
    size_t count;
    void *data;
} Entry;

typedef struct {
    Entry *entries;
    int count;
    const char *path;
} State;

static inline void state_read(State *s, const char *path) {
    FILE *f = fopen_or_die(path, "rb", "regenerate it with `make reference`");
    char magic[8];
    fread_or_die(magic, 1, 8, f, path);
    if (memcmp(magic, "MLREF001", 8) != 0) die("%s is not a reference state (bad magic; run `make reference`)", path);
    uint32_t n;
    fread_or_die(&n, 4, 1, f, path);
    if (n > 1000) die("%s: implausible entry count %u (the file is corrupt; run `make reference`)", path, n);
    s->entries = (Entry *)calloc_or_die(n, sizeof(Entry));
    s->count = (int)n;
    s->path = path;
    for (uint32_t i = 0; i < n; i++) {
        Entry *e = &s->entries[i];
        uint32_t len, dtype, ndim;
        fread_or_die(&len, 4, 1, f, path);
        if (len >= sizeof(e->name)) die("%s: entry name too long (the file is corrupt)", path);
        fread_or_die(e->name, 1, len, f, path);
        fread_or_die(&dtype, 4, 1, f, path);
        fread_or_die(&ndim, 4, 1, f, path);
        if (dtype > 1 || ndim > 8) die("%s: bad entry header for %s (the file is corrupt)", path, e->name);
        e->dtype = (int)dtype;
        e->ndim = (int)ndim;
        e->count = 1;
        for (uint32_t d = 0; d < ndim; d++) {
            uint64_t dim;
            fread_or_die(&dim, 8, 1, f, path);
            e->dims[d] = dim;
            e->count *= dim;
        }
        e->data = malloc_or_die(e->count * 4);
        fread_or_die(e->data, 4, e->count, f, path);
    }
    fclose(f);
}

static inline Entry *state_get(State *s, const char *name) {
    for (int i = 0; i < s->count; i++)
        if (strcmp(s->entries[i].name, name) == 0) return &s->entries[i];
    die("%s has no entry '%s' (regenerate it with `make reference`)", s->path, name);
}

static inline void state_free(State *s) {
    for (int i = 0; i < s->count; i++) free(s->entries[i].data);
    free(s->entries);
}

#endif
