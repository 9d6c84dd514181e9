#include "safetensors.h"
#include "utils.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct { const char *name; size_t size; } DTYPES[SAFE_NUM_DTYPES] = {
    [SAFE_BOOL] = {"BOOL", 1}, [SAFE_U8] = {"U8", 1},   [SAFE_I8] = {"I8", 1},
    [SAFE_F8_E5M2] = {"F8_E5M2", 1}, [SAFE_F8_E4M3] = {"F8_E4M3", 1},
    [SAFE_I16] = {"I16", 2},   [SAFE_U16] = {"U16", 2}, [SAFE_F16] = {"F16", 2}, [SAFE_BF16] = {"BF16", 2},
    [SAFE_I32] = {"I32", 4},   [SAFE_U32] = {"U32", 4}, [SAFE_F32] = {"F32", 4},
    [SAFE_F64] = {"F64", 8},   [SAFE_I64] = {"I64", 8}, [SAFE_U64] = {"U64", 8},
};

const char *safe_dtype_name(SafeDType dtype) { return DTYPES[dtype].name; }
size_t safe_dtype_size(SafeDType dtype) { return DTYPES[dtype].size; }

static int dtype_from_name(const char *name) {
    for (int i = 0; i < SAFE_NUM_DTYPES; i++) if (!strcmp(DTYPES[i].name, name)) return i;
    return -1;
}

// ---------------------------------------------------------------------------------------------
// Scalar conversions.

float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exponent = (h >> 10) & 0x1f;
    uint32_t mantissa = h & 0x3ff;
    uint32_t bits;
    if (exponent == 0x1f) {                      // inf / nan
        bits = sign | 0x7f800000u | (mantissa << 13);
    } else if (exponent != 0) {                  // normal: rebias 15 -> 127
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {                  // signed zero
        bits = sign;
    } else {                                     // subnormal: mantissa * 2^-24, exact in fp32
        float magnitude = ldexpf((float)mantissa, -24);
        return sign ? -magnitude : magnitude;
    }
    float out;
    memcpy(&out, &bits, 4);
    return out;
}

float bf16_to_float(uint16_t b) {
    uint32_t bits = (uint32_t)b << 16;
    float out;
    memcpy(&out, &bits, 4);
    return out;
}

uint16_t float_to_bf16_round(float x) {
    uint32_t bits;
    memcpy(&bits, &x, 4);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40);   // keep NaN a NaN
    uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
    return (uint16_t)((bits + rounding) >> 16);
}

// ---------------------------------------------------------------------------------------------
// Reading.

// JSON numbers are doubles: accept only whole, non-negative values that a double holds exactly.
static int json_to_size(const cJSON *item, size_t *out) {
    if (!cJSON_IsNumber(item)) return 0;
    double v = item->valuedouble;
    if (!(v >= 0 && v <= 9007199254740992.0) || v != floor(v)) return 0;
    *out = (size_t)v;
    return 1;
}

static int compare_by_name(const void *a, const void *b) {
    return strcmp((*(const SafeTensor *const *)a)->name, (*(const SafeTensor *const *)b)->name);
}

static int compare_by_begin(const void *a, const void *b) {
    const SafeTensor *x = *(const SafeTensor *const *)a, *y = *(const SafeTensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

// Names end up in error lines: no control characters (one line), bounded length.
static int is_clean_name(const char *s) {
    size_t n = 0;
    for (; s[n]; n++) if ((unsigned char)s[n] < 0x20 || s[n] == 0x7f || n >= 512) return 0;
    return n > 0;
}

#define CORRUPT "(the file is corrupt or not a safetensors file; download or export it again)"

// Fill one SafeTensor from its header entry; dies naming the file and tensor on any inconsistency.
static void parse_tensor_entry(const SafeTensorsFile *st, const cJSON *entry, SafeTensor *t) {
    const char *path = st->path, *name = entry->string;
    if (!cJSON_IsObject(entry)) die("%s: header entry '%s' is not an object " CORRUPT, path, name);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(entry, "shape");
    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
    if (!cJSON_IsString(dtype) || !cJSON_IsArray(shape) || !cJSON_IsArray(offsets))
        die("%s: tensor '%s' lacks a string dtype, a shape list or a data_offsets list " CORRUPT, path, name);
    int d = dtype_from_name(dtype->valuestring);
    if (d < 0) die("%s: tensor '%s' has an unknown dtype " CORRUPT, path, name);
    t->name = strdup_or_die(name);
    t->dtype = (SafeDType)d;

    int ndim = cJSON_GetArraySize(shape);
    if (ndim > SAFETENSORS_MAX_DIMS)
        die("%s: tensor '%s' has %d dimensions (at most %d supported) " CORRUPT, path, name, ndim, SAFETENSORS_MAX_DIMS);
    t->ndim = ndim;
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        size_t dim;
        if (!json_to_size(cJSON_GetArrayItem(shape, i), &dim))
            die("%s: tensor '%s' has a shape entry that is not a non-negative integer " CORRUPT, path, name);
        if (dim != 0 && count > SIZE_MAX / 16 / dim)
            die("%s: tensor '%s' has an impossibly large shape " CORRUPT, path, name);
        t->shape[i] = (int64_t)dim;
        count *= dim;
    }
    t->num_elements = count;

    size_t begin, end;
    if (cJSON_GetArraySize(offsets) != 2 || !json_to_size(cJSON_GetArrayItem(offsets, 0), &begin) ||
        !json_to_size(cJSON_GetArrayItem(offsets, 1), &end) || end < begin)
        die("%s: tensor '%s' has malformed data_offsets (need [begin, end] with begin <= end) " CORRUPT, path, name);
    if (end > st->data_size)
        die("%s: tensor '%s' data_offsets [%zu, %zu] run past the end of the data (%zu bytes); the file is truncated "
            "or corrupt (download or export it again)", path, name, begin, end, st->data_size);
    if (end - begin != count * safe_dtype_size(t->dtype))
        die("%s: tensor '%s' has %zu bytes of data but its shape and dtype %s need %zu " CORRUPT,
            path, name, end - begin, safe_dtype_name(t->dtype), count * safe_dtype_size(t->dtype));
    t->begin = begin;
    t->end = end;
}

void safetensors_open(SafeTensorsFile *st, const char *path) {
    memset(st, 0, sizeof *st);
    st->path = strdup_or_die(path);
    int fd = open(path, O_RDONLY | O_NONBLOCK);  // a FIFO would block the open; fstat refuses it below
    if (fd < 0) die("cannot open %s: %s (check the path)", path, strerror(errno));
    struct stat info;
    if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) die("%s is not a regular file (give a .safetensors file)", path);
    st->file_size = (size_t)info.st_size;
    if (st->file_size < 8)
        die("%s is truncated: %zu bytes, shorter than the 8-byte header length (download or export it again)",
            path, st->file_size);
    st->map = mmap(NULL, st->file_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (st->map == MAP_FAILED) die("cannot map %s: %s", path, strerror(errno));
    close(fd);

    uint64_t header_len = 0;
    for (int i = 7; i >= 0; i--) header_len = (header_len << 8) | st->map[i];   // little-endian on any host
    if (header_len > SAFETENSORS_MAX_HEADER_BYTES)
        die("%s: header length %llu exceeds the %u-byte limit " CORRUPT, path, (unsigned long long)header_len,
            SAFETENSORS_MAX_HEADER_BYTES);
    if (header_len > st->file_size - 8)
        die("%s: header length %llu runs past the end of the %zu-byte file; the file is truncated or corrupt "
            "(download or export it again)", path, (unsigned long long)header_len, st->file_size);
    st->data = st->map + 8 + header_len;
    st->data_size = st->file_size - 8 - header_len;

    // cJSON wants a NUL-terminated string; a NUL inside the header is itself a corruption.
    char *text = malloc_or_die(header_len + 1);
    memcpy(text, st->map + 8, header_len);
    text[header_len] = '\0';
    if (strlen(text) != header_len) die("%s: header contains a NUL byte " CORRUPT, path);
    const char *parse_end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &parse_end, 1);
    if (!root || !cJSON_IsObject(root)) {
        size_t where = parse_end ? (size_t)(parse_end - text) : 0;
        die("%s: header is not a JSON object (parse error near byte %zu) " CORRUPT, path, where);
    }

    int n = 0;
    for (const cJSON *e = root->child; e; e = e->next) if (strcmp(e->string, "__metadata__") != 0) n++;
    st->tensors = calloc_or_die(n, sizeof(SafeTensor));
    for (const cJSON *e = root->child; e; e = e->next) {
        if (!strcmp(e->string, "__metadata__")) {
            if (!cJSON_IsObject(e)) die("%s: __metadata__ is not an object " CORRUPT, path);
            continue;
        }
        if (!is_clean_name(e->string))
            die("%s: header has a tensor name with control characters or over 512 bytes " CORRUPT, path);
        parse_tensor_entry(st, e, &st->tensors[st->num_tensors]);
        st->num_tensors++;
    }
    cJSON_Delete(root);
    free(text);

    // Names must be unique (sorted, so a hostile header with many entries stays fast to check).
    SafeTensor **order = malloc_or_die((n ? n : 1) * sizeof(SafeTensor *));
    for (int i = 0; i < n; i++) order[i] = &st->tensors[i];
    qsort(order, n, sizeof(SafeTensor *), compare_by_name);
    for (int i = 1; i < n; i++)
        if (!strcmp(order[i]->name, order[i - 1]->name))
            die("%s: tensor '%s' appears twice in the header " CORRUPT, path, order[i]->name);
    // Tensors must not share bytes: sort by start and check each begins after the previous ends.
    qsort(order, n, sizeof(SafeTensor *), compare_by_begin);
    for (int i = 1; i < n; i++) {
        if (order[i]->begin < order[i - 1]->end)
            die("%s: data of tensors '%s' and '%s' overlap " CORRUPT, path, order[i - 1]->name, order[i]->name);
    }
    free(order);
}

void safetensors_close(SafeTensorsFile *st) {
    if (st->map) munmap(st->map, st->file_size);
    for (int i = 0; i < st->num_tensors; i++) free(st->tensors[i].name);
    free(st->tensors);
    free(st->path);
    memset(st, 0, sizeof *st);
}

const SafeTensor *safetensors_find(const SafeTensorsFile *st, const char *name) {
    for (int i = 0; i < st->num_tensors; i++) if (!strcmp(st->tensors[i].name, name)) return &st->tensors[i];
    return NULL;
}

void safetensors_read_f32(const SafeTensorsFile *st, const SafeTensor *t, float *out) {
    const uint8_t *src = st->data + t->begin;
    size_t n = t->num_elements;
    // memcpy per element: the data section has no alignment guarantee.
    switch (t->dtype) {
    case SAFE_F32:
        memcpy(out, src, n * 4);
        break;
    case SAFE_F16:
        for (size_t i = 0; i < n; i++) { uint16_t h; memcpy(&h, src + 2 * i, 2); out[i] = half_to_float(h); }
        break;
    case SAFE_BF16:
        for (size_t i = 0; i < n; i++) { uint16_t b; memcpy(&b, src + 2 * i, 2); out[i] = bf16_to_float(b); }
        break;
    default:
        die("%s: tensor '%s' has dtype %s; only F32, F16 and BF16 weights can be converted "
            "(re-export the model with torch_dtype float32)", st->path, t->name, safe_dtype_name(t->dtype));
    }
}

// ---------------------------------------------------------------------------------------------
// Writing.

size_t safetensors_write_header(FILE *f, const char *path, const SafeTensorSpec *specs, int n,
                                const char *metadata_format) {
    cJSON *root = cJSON_CreateObject();
    cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
    cJSON_AddStringToObject(meta, "format", metadata_format);
    size_t offset = 0;
    for (int i = 0; i < n; i++) {
        cJSON *entry = cJSON_AddObjectToObject(root, specs[i].name);
        cJSON_AddStringToObject(entry, "dtype", safe_dtype_name(specs[i].dtype));
        cJSON *shape = cJSON_AddArrayToObject(entry, "shape");
        size_t count = 1;
        for (int d = 0; d < specs[i].ndim; d++) {
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)specs[i].shape[d]));
            count *= (size_t)specs[i].shape[d];
        }
        size_t bytes = count * safe_dtype_size(specs[i].dtype);
        cJSON *offsets = cJSON_AddArrayToObject(entry, "data_offsets");
        cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)offset));
        cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)(offset + bytes)));
        offset += bytes;
    }
    char *text = cJSON_PrintUnformatted(root);
    if (!text) die("out of memory formatting the safetensors header for %s", path);
    cJSON_Delete(root);
    // Pad with spaces so the data section starts 8-byte aligned (valid JSON whitespace).
    size_t len = strlen(text), padded = (len + 7) / 8 * 8;
    uint8_t prefix[8];
    for (int i = 0; i < 8; i++) prefix[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    fwrite_or_die(prefix, 1, 8, f, path);
    fwrite_or_die(text, 1, len, f, path);
    for (size_t i = len; i < padded; i++) fwrite_or_die(" ", 1, 1, f, path);
    free(text);
    return offset;
}
