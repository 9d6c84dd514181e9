// Unit tests for llmc/safetensors (scalar conversions, write -> read round trip), and a helper for
// tests/test_convert_hf.sh that runs the C forward on a converted model:
//   test_convert_unit                                  run the unit tests
//   test_convert_unit --logits MODEL.bin TOKENS OUT    TOKENS: one row of ids per line -> OUT: float32 (B, T, Vp)
#include "llmc/gpt2.h"
#include "llmc/safetensors.h"
#include "llmc/utils.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

static int failures = 0;
#define EXPECT(cond, ...) do { if (!(cond)) { failures++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

static uint32_t float_bits(float x) { uint32_t b; memcpy(&b, &x, 4); return b; }

static void test_half(void) {
    // Known IEEE half encodings.
    struct { uint16_t h; float f; } cases[] = {
        {0x3c00, 1.0f}, {0xc000, -2.0f}, {0x7bff, 65504.0f}, {0x0400, 6.103515625e-05f},
        {0x0001, 5.9604644775390625e-08f}, {0x03ff, 6.097555160522461e-05f}, {0x3555, 0.333251953125f},
        {0x0000, 0.0f},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        EXPECT(half_to_float(cases[i].h) == cases[i].f, "half 0x%04x -> %g, want %g", cases[i].h, half_to_float(cases[i].h), cases[i].f);
    EXPECT(float_bits(half_to_float(0x8000)) == 0x80000000u, "negative zero keeps its sign");
    EXPECT(isinf(half_to_float(0x7c00)) && half_to_float(0x7c00) > 0, "+inf");
    EXPECT(isinf(half_to_float(0xfc00)) && half_to_float(0xfc00) < 0, "-inf");
    EXPECT(isnan(half_to_float(0x7e00)), "nan");
}

static void test_bf16(void) {
    EXPECT(float_to_bf16_round(1.0f) == 0x3f80, "1.0");
    EXPECT(bf16_to_float(0x3f80) == 1.0f, "1.0 back");
    // 1 + 2^-8 is exactly between 1.0 (even) and 1 + 2^-7: ties go to even (down).
    EXPECT(float_to_bf16_round(1.0f + ldexpf(1, -8)) == 0x3f80, "tie to even, down");
    // 1 + 3 * 2^-8 is between 1 + 2^-7 (odd) and 1 + 2^-6 (even): up.
    EXPECT(float_to_bf16_round(1.0f + 3 * ldexpf(1, -8)) == 0x3f82, "tie to even, up");
    EXPECT(float_to_bf16_round(1.0f + ldexpf(1, -8) + ldexpf(1, -20)) == 0x3f81, "above the tie rounds up");
    EXPECT(isnan(bf16_to_float(float_to_bf16_round(NAN))), "nan stays nan");
    // Every bf16 value survives widening and rounding back unchanged.
    int bad = 0;
    for (uint32_t b = 0; b < 65536; b++) {
        float f = bf16_to_float((uint16_t)b);
        if (!isnan(f) && float_to_bf16_round(f) != b) bad++;
    }
    EXPECT(bad == 0, "%d bf16 values did not round-trip", bad);
}

static void test_write_read(void) {
    char path[] = "/tmp/test_convert_unit.XXXXXX";
    int fd = mkstemp(path);
    EXPECT(fd >= 0, "mkstemp");
    close(fd);
    float a[6] = {1, -2, 3.5f, 4, 5, 6};
    uint16_t b[3] = {0x3c00, 0xc000, 0x3555};   // F16: 1, -2, 0.33325
    SafeTensorSpec specs[2] = {
        {.name = "a", .dtype = SAFE_F32, .ndim = 2, .shape = {2, 3}},
        {.name = "layer.b", .dtype = SAFE_F16, .ndim = 1, .shape = {3}},
    };
    FILE *f = fopen(path, "wb");
    size_t data = safetensors_write_header(f, path, specs, 2, "pt");
    EXPECT(data == sizeof a + sizeof b, "data size %zu", data);
    long header_end = ftell(f);
    EXPECT(header_end % 8 == 0, "data section starts 8-aligned (%ld)", header_end);
    fwrite(a, sizeof a, 1, f);
    fwrite(b, sizeof b, 1, f);
    fclose(f);

    SafeTensorsFile st;
    safetensors_open(&st, path);
    EXPECT(st.num_tensors == 2, "two tensors, got %d", st.num_tensors);
    const SafeTensor *ta = safetensors_find(&st, "a"), *tb = safetensors_find(&st, "layer.b");
    EXPECT(ta && tb && !safetensors_find(&st, "missing"), "find");
    if (ta && tb) {
        EXPECT(ta->ndim == 2 && ta->shape[0] == 2 && ta->shape[1] == 3 && ta->dtype == SAFE_F32, "shape of a");
        float out[6];
        safetensors_read_f32(&st, ta, out);
        EXPECT(!memcmp(out, a, sizeof a), "values of a");
        safetensors_read_f32(&st, tb, out);
        EXPECT(out[0] == 1 && out[1] == -2 && out[2] == 0.333251953125f, "values of b");
    }
    safetensors_close(&st);
    unlink(path);
}

static void dump_logits(const char *model_path, const char *tokens_path, const char *out_path) {
    GPT2 model;
    gpt2_init_from_checkpoint(&model, model_path);
    FILE *f = fopen_or_die(tokens_path, "r", NULL);
    int cap = 1024, n = 0, B = 0, T = 0, row = 0;
    int *tokens = malloc_or_die(cap * sizeof(int));
    char line[65536];
    while (fgets(line, sizeof line, f)) {
        row = 0;
        for (char *p = strtok(line, " \t\n"); p; p = strtok(NULL, " \t\n")) {
            if (n == cap) tokens = realloc_or_die(tokens, (cap *= 2) * sizeof(int));
            tokens[n++] = atoi(p);
            row++;
        }
        if (!row) continue;
        if (T && row != T) die("%s: rows have different lengths", tokens_path);
        T = row;
        B++;
    }
    fclose(f);
    gpt2_forward(&model, tokens, NULL, B, T);
    write_file_atomic_or_die(out_path, model.logits, (size_t)B * T * model.config.padded_vocab_size * sizeof(float));
    free(tokens);
    gpt2_free(&model);
}

int main(int argc, char **argv) {
    set_program_name(argv[0]);
    if (argc == 5 && !strcmp(argv[1], "--logits")) {
        dump_logits(argv[2], argv[3], argv[4]);
        return 0;
    }
    test_half();
    test_bf16();
    test_write_read();
    printf("%s\n", failures ? "test_convert_unit: FAILED" : "test_convert_unit: all passed");
    return failures != 0;
}
