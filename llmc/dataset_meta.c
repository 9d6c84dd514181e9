#include "dataset_meta.h"
#include "json_io.h"
#include "utils.h"

#include <math.h>
#include <string.h>

#define HINT "regenerate the dataset with generate_dataset"

// Fetch a whole number field from obj; dies naming the file and the field.
static int get_int(const char *path, const cJSON *obj, const char *where, const char *key, double lo, double hi) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
        die("%s: %s has no whole-number field \"%s\" (%s)", path, where, key, HINT);
    if (v->valuedouble < lo || v->valuedouble > hi)
        die("%s: %s field \"%s\" = %.0f is out of range [%.0f, %.0f] (%s)", path, where, key, v->valuedouble, lo, hi, HINT);
    return (int)v->valuedouble;
}

static const char *get_string(const char *path, const cJSON *obj, const char *where, const char *key, size_t max_len) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsString(v)) die("%s: %s has no string field \"%s\" (%s)", path, where, key, HINT);
    if (strlen(v->valuestring) > max_len) die("%s: %s field \"%s\" is too long (%s)", path, where, key, HINT);
    return v->valuestring;
}

// [begin, end) pair of whole numbers in [lo, hi]; checked before the cast to int, which would
// truncate a fraction and is undefined for values beyond int's range.
static void get_range(const char *path, const cJSON *obj, const char *where, const char *key, int lo, int hi,
                      int *begin, int *end) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2 || !cJSON_IsNumber(v->child) || !cJSON_IsNumber(v->child->next))
        die("%s: %s field \"%s\" must be a [begin, end] pair of whole numbers (%s)", path, where, key, HINT);
    double b = v->child->valuedouble, e = v->child->next->valuedouble;
    if (b != floor(b) || e != floor(e))
        die("%s: %s field \"%s\" must be a [begin, end] pair of whole numbers, not [%g, %g] (%s)", path, where, key, b, e, HINT);
    if (b < lo || b > hi || e < lo || e > hi)
        die("%s: %s field \"%s\" = [%g, %g] is out of range [%d, %d] (%s)", path, where, key, b, e, lo, hi, HINT);
    *begin = (int)b;
    *end = (int)e;
}

int dataset_meta_find(const DatasetMeta *m, const char *id) {
    for (int i = 0; i < m->num_examples; i++) if (!strcmp(m->examples[i].id, id)) return i;
    return -1;
}

// Record lists map shard records to examples by id; ids are "SYNTHETIC_EXAMPLE_NNNNN", so a
// direct table by number makes the lookup O(1).
static int *load_records(const char *path, const cJSON *root, const char *key, const DatasetMeta *m,
                         const int *index_of_number, int *count) {
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!cJSON_IsArray(arr)) die("%s: no array \"%s\" (%s)", path, key, HINT);
    int n = cJSON_GetArraySize(arr);
    int *records = malloc_or_die((size_t)(n ? n : 1) * sizeof(int));
    int r = 0;
    for (const cJSON *v = arr->child; v; v = v->next, r++) {
        int idx = -1;
        if (cJSON_IsString(v)) {
            const char *s = v->valuestring;
            const char *prefix = "SYNTHETIC_EXAMPLE_";
            size_t plen = strlen(prefix);
            if (!strncmp(s, prefix, plen) && strlen(s) == plen + 5) {
                int num = atoi(s + plen);
                if (num >= 0 && num < 100000) idx = index_of_number[num];
                if (idx >= 0 && strcmp(m->examples[idx].id, s)) idx = -1;
            }
        }
        if (idx < 0) die("%s: \"%s\"[%d] does not name an example of this dataset (%s)", path, key, r, HINT);
        records[r] = idx;
    }
    *count = n;
    return records;
}

void dataset_meta_load(DatasetMeta *m, const char *path, const char *flag) {
    memset(m, 0, sizeof *m);
    char hint[160];
    snprintf(hint, sizeof hint, "give %s%sthe metadata.json written by generate_dataset", flag ? flag : "", flag ? " " : "");
    cJSON *root = json_read_file_or_die(path, hint);
    if (!cJSON_IsObject(root)) die("%s: not a JSON object (%s)", path, HINT);
    const cJSON *format = cJSON_GetObjectItemCaseSensitive(root, "format");
    if (!cJSON_IsString(format) || strcmp(format->valuestring, "memlens-dataset"))
        die("%s: not a memlens dataset metadata file (\"format\" is not \"memlens-dataset\"; %s)", path, HINT);
    m->tokens_per_example = get_int(path, root, "the file", "tokens_per_example", 2, 1 << 20);
    m->record_length = get_int(path, root, "the file", "record_length", 3, (1 << 20) + 1);
    if (m->record_length != m->tokens_per_example + 1)
        die("%s: record_length %d is not tokens_per_example + 1 = %d (%s)", path, m->record_length, m->tokens_per_example + 1, HINT);
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(root, "seed");
    // Optional (informational); when present a whole number that fits int64 (a cast of 1e300 is undefined).
    if (seed && (!cJSON_IsNumber(seed) || seed->valuedouble != floor(seed->valuedouble) || fabs(seed->valuedouble) >= 9.2e18))
        die("%s: field \"seed\" is not a whole number within int64 (%s)", path, HINT);
    m->seed = seed ? (int64_t)seed->valuedouble : 0;
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(root, "tokenizer");
    if (!cJSON_IsObject(tok)) die("%s: no object \"tokenizer\" (%s)", path, HINT);
    snprintf(m->tokenizer_sha256, sizeof m->tokenizer_sha256, "%s", get_string(path, tok, "\"tokenizer\"", "sha256", 64));
    // the same limits tokenizer_load puts on a tokenizer file
    m->tokenizer_vocab_size = get_int(path, tok, "\"tokenizer\"", "vocab_size", 256, 1 << 24);
    m->tokenizer_eot = get_int(path, tok, "\"tokenizer\"", "eot_token", 0, m->tokenizer_vocab_size - 1);

    const cJSON *examples = cJSON_GetObjectItemCaseSensitive(root, "examples");
    if (!cJSON_IsArray(examples) || cJSON_GetArraySize(examples) == 0) die("%s: no examples (%s)", path, HINT);
    m->num_examples = cJSON_GetArraySize(examples);
    m->examples = calloc_or_die((size_t)m->num_examples, sizeof(DatasetExample));
    int *index_of_number = malloc_or_die(100000 * sizeof(int));
    for (int i = 0; i < 100000; i++) index_of_number[i] = -1;
    int i = 0, N = m->tokens_per_example;
    for (const cJSON *o = examples->child; o; o = o->next, i++) {
        DatasetExample *e = &m->examples[i];
        char where[48];
        snprintf(where, sizeof where, "examples[%d]", i);
        if (!cJSON_IsObject(o)) die("%s: %s is not an object (%s)", path, where, HINT);
        snprintf(e->id, sizeof e->id, "%s", get_string(path, o, where, "id", 31));
        e->number = get_int(path, o, where, "number", 0, 99999);
        char expected[32];
        snprintf(expected, sizeof expected, "SYNTHETIC_EXAMPLE_%05d", e->number);
        if (strcmp(e->id, expected)) die("%s: %s id \"%s\" does not match its number %d (%s)", path, where, e->id, e->number, HINT);
        if (index_of_number[e->number] >= 0) die("%s: %s repeats the id %s (%s)", path, where, e->id, HINT);
        index_of_number[e->number] = i;
        const char *split = get_string(path, o, where, "split", 8);
        if (!strcmp(split, "train")) e->is_test = 0;
        else if (!strcmp(split, "test")) e->is_test = 1;
        else die("%s: %s split \"%s\" is neither train nor test (%s)", path, where, split, HINT);
        e->repeats = get_int(path, o, where, "repeats", 1, 1000000);
        e->num_tokens = get_int(path, o, where, "num_tokens", N, N);
        get_range(path, o, where, "start_identifier_tokens", 0, N, &e->start_id_begin, &e->start_id_end);
        get_range(path, o, where, "end_identifier_tokens", 0, N, &e->end_id_begin, &e->end_id_end);
        if (e->start_id_begin != 0 || e->start_id_end <= 0 || e->end_id_end != N ||
            e->end_id_begin < e->start_id_end || e->end_id_end - e->end_id_begin != e->start_id_end)
            die("%s: %s identifier positions [%d,%d) and [%d,%d) are inconsistent with %d tokens (%s)", path, where,
                e->start_id_begin, e->start_id_end, e->end_id_begin, e->end_id_end, N, HINT);
        snprintf(e->genre, sizeof e->genre, "%s", get_string(path, o, where, "genre", 31));
        snprintf(e->sha256, sizeof e->sha256, "%s", get_string(path, o, where, "sha256", 64));
    }
    m->train_records = load_records(path, root, "train_records", m, index_of_number, &m->num_train_records);
    m->test_records = load_records(path, root, "test_records", m, index_of_number, &m->num_test_records);
    // Every training example appears exactly `repeats` times in train.bin, every test example once in test.bin.
    int *seen = calloc_or_die((size_t)m->num_examples, sizeof(int));
    for (int r = 0; r < m->num_train_records; r++) {
        const DatasetExample *e = &m->examples[m->train_records[r]];
        if (e->is_test) die("%s: train_records[%d] is the test example %s (%s)", path, r, e->id, HINT);
        seen[m->train_records[r]]++;
    }
    for (int r = 0; r < m->num_test_records; r++) {
        const DatasetExample *e = &m->examples[m->test_records[r]];
        if (!e->is_test) die("%s: test_records[%d] is the training example %s (%s)", path, r, e->id, HINT);
        seen[m->test_records[r]]++;
    }
    for (int k = 0; k < m->num_examples; k++) {
        const DatasetExample *e = &m->examples[k];
        int want = e->is_test ? 1 : e->repeats;
        if (seen[k] != want)
            die("%s: %s appears in %d shard records but should appear in %d (%s)", path, e->id, seen[k], want, HINT);
    }
    free(seen);
    free(index_of_number);
    cJSON_Delete(root);
}

void dataset_meta_free(DatasetMeta *m) {
    free(m->examples);
    free(m->train_records);
    free(m->test_records);
    memset(m, 0, sizeof *m);
}
