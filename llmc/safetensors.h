// safetensors files (Hugging Face's tensor container), read and written without any trust in the input.
// Layout: uint64 little-endian N, then N bytes of JSON header, then the data section.
//   header: {"__metadata__": {...}, "NAME": {"dtype": "F32", "shape": [d0, d1], "data_offsets": [begin, end]}, ...}
//   offsets are relative to the start of the data section; end - begin = prod(shape) * sizeof(dtype).
// The header is parsed with cJSON and every field is checked (types, ranges, sizes, overlaps) before any
// tensor byte is touched, so a corrupt or malicious file gives one error line instead of a crash.
#ifndef LLMC_SAFETENSORS_H
#define LLMC_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SAFETENSORS_MAX_DIMS 8
// Same cap as the reference implementation: a bigger header is not a real model file.
#define SAFETENSORS_MAX_HEADER_BYTES (100u * 1000u * 1000u)

typedef enum {
    SAFE_BOOL, SAFE_U8, SAFE_I8, SAFE_F8_E5M2, SAFE_F8_E4M3, SAFE_I16, SAFE_U16, SAFE_F16, SAFE_BF16,
    SAFE_I32, SAFE_U32, SAFE_F32, SAFE_F64, SAFE_I64, SAFE_U64, SAFE_NUM_DTYPES
} SafeDType;

const char *safe_dtype_name(SafeDType dtype);   // "F32"
size_t safe_dtype_size(SafeDType dtype);        // bytes per element

typedef struct {
    char *name;
    SafeDType dtype;
    int ndim;
    int64_t shape[SAFETENSORS_MAX_DIMS];
    size_t num_elements;
    size_t begin, end;   // byte range inside the data section
} SafeTensor;

typedef struct {
    char *path;
    uint8_t *map;            // the whole file, mmap'ed read-only
    size_t file_size;
    const uint8_t *data;     // the data section (map + 8 + header length)
    size_t data_size;
    int num_tensors;
    SafeTensor *tensors;     // in header order
} SafeTensorsFile;

// Map and validate a file; dies with one line naming the file and the fix on any problem.
void safetensors_open(SafeTensorsFile *st, const char *path);
void safetensors_close(SafeTensorsFile *st);
// NULL when absent.
const SafeTensor *safetensors_find(const SafeTensorsFile *st, const char *name);
// Copy a tensor into out (num_elements floats), widening F16/BF16; dies on any other dtype.
void safetensors_read_f32(const SafeTensorsFile *st, const SafeTensor *t, float *out);

// Writing: describe the tensors, write the header, then the caller writes each tensor's bytes
// (little-endian, row-major) back to back in the same order.
typedef struct {
    const char *name;
    SafeDType dtype;
    int ndim;
    int64_t shape[SAFETENSORS_MAX_DIMS];
} SafeTensorSpec;
// Writes the length prefix and the JSON header (padded with spaces to a multiple of 8, as HF does);
// metadata_format goes into __metadata__.format ("pt"). Returns the data section size in bytes.
size_t safetensors_write_header(FILE *f, const char *path, const SafeTensorSpec *specs, int n,
                                const char *metadata_format);

// Scalar conversions shared with the converters.
float half_to_float(uint16_t h);
float bf16_to_float(uint16_t b);
uint16_t float_to_bf16_round(float x);   // round to nearest even; NaN stays NaN

#endif
