// The KV-cache attention of the GPU evaluator (llmc/decode_attention.cuh) standalone: versions 1
// and 2 against the CPU's attention_query (llmc/layers_cpu.c), in the two ways the evaluator calls
// it, and timed on a decode step shaped like the seed defaults.
//   decode:   S new tokens per row at its own cache length (rows of different prompt lengths in one
//             batch) plus a shared step offset, the new keys written to the cache first by
//             kv_write_kernel;
//   append:   S tokens appended to one row's cached context (no per-row lengths);
//   exposure: every row's queries see the first P slots of one shared cache row, then the row's
//             own new keys straight from qkv.
// Usage: decode_attention [--B 300] [--NH 12] [--HS 64] [--len 612] [--reps 20]   (fp32 only)
#include "common.cuh"
#include "llmc/decode_attention.cuh"

extern "C" {
#include "llmc/layers_cpu.h"
}

// The prompt lengths of the seed defaults' probes (k + 1 for k = 16 .. 512) plus half of 100
// generated tokens: row b of a decode batch has this many tokens cached.
static int seed_like_past(int b, int len, int S) {
    static const int ks[] = {16, 32, 64, 128, 256, 512};
    int p = ks[b % 6] + 1 + 50;
    return p + S <= len ? p : len - S;
}

// The three ways the evaluator calls the attention (cached tokens of row b: row_past[b] + past):
enum Layout {
    DECODE,    // generation: per-row cached lengths (row_past) plus a shared step offset (past = 2)
    APPEND,    // exposure step 2: one row's context (row_past NULL, past = 200), S shared tokens appended
    EXPOSURE,  // exposure step 3: every row sees slots 0..P-1 of cache row 0, then its own S new keys
};

// One check of both versions in one layout, each against the CPU. The new keys are written to the
// cache by kv_write_kernel first (DECODE, APPEND), as in the evaluator; the output buffer is
// poisoned with NaN before each version, so an output a version fails to write cannot pass.
static void check(const char *what, Layout layout, int B, int S, int NH, int HS, int len) {
    const int C = NH * HS, P = 257, offset = layout == DECODE ? 2 : layout == APPEND ? 200 : P;
    const float scale = 1.0f / sqrtf((float)HS);
    std::vector<float> kc = random_vector((size_t)B * len * C, 1.0f, 11), vc = random_vector((size_t)B * len * C, 1.0f, 12);
    std::vector<float> qkv = random_vector((size_t)B * S * 3 * C, 1.0f, 13);
    std::vector<int> row_past(B, 0), cached(B);  // cached[b]: tokens before this pass's first new one
    int max_row_past = 0;
    for (int b = 0; b < B; b++) {
        if (layout == DECODE) row_past[b] = seed_like_past(b, len, S + offset);
        if (row_past[b] > max_row_past) max_row_past = row_past[b];
        cached[b] = row_past[b] + offset;
    }
    float *d_kc = upload<float>(kc), *d_vc = upload<float>(vc), *d_qkv = upload<float>(qkv), *d_out;
    int *d_row_past;
    cuda_check(cudaMalloc(&d_out, (size_t)B * S * C * sizeof(float)));
    cuda_check(cudaMalloc(&d_row_past, B * sizeof(int)));
    cuda_check(cudaMemcpy(d_row_past, row_past.data(), B * sizeof(int), cudaMemcpyHostToDevice));
    const int *rp = layout == DECODE ? d_row_past : NULL;
    const int prefix_row = layout == EXPOSURE ? 0 : -1, max_keys = max_row_past + offset + S;

    // CPU: the cache after the write (not in EXPOSURE), then one attention_query per (row, token, head)
    if (layout != EXPOSURE)
        for (int b = 0; b < B; b++)
            for (int s = 0; s < S; s++)
                for (int c = 0; c < C; c++) {
                    size_t at = ((size_t)b * len + cached[b] + s) * C + c, from = ((size_t)b * S + s) * 3 * C;
                    kc[at] = qkv[from + C + c];
                    vc[at] = qkv[from + 2 * C + c];
                }
    std::vector<float> want((size_t)B * S * C), scores(len + S);
    for (int b = 0; b < B; b++)
        for (int s = 0; s < S; s++)
            for (int h = 0; h < NH; h++) {
                const float *q = &qkv[((size_t)b * S + s) * 3 * C + h * HS];
                float *y = &want[((size_t)b * S + s) * C + h * HS];
                if (layout != EXPOSURE) {
                    const float *k = &kc[(size_t)b * len * C + h * HS], *v = &vc[(size_t)b * len * C + h * HS];
                    attention_query(y, scores.data(), q, HS, scale, k, v, C, cached[b] + s + 1, NULL, NULL, 0, 0);
                } else {
                    const float *k = &kc[h * HS], *v = &vc[h * HS];
                    const float *own_k = &qkv[(size_t)b * S * 3 * C + C + h * HS];
                    attention_query(y, scores.data(), q, HS, scale, k, v, C, P, own_k, own_k + C, 3 * C, s + 1);
                }
            }

    std::vector<float> got[3];
    for (int version = 1; version <= 2; version++) {
        if (layout != EXPOSURE) {
            kv_write_kernel<<<ceil_div((long long)B * S * C, 256), 256>>>(d_kc, d_vc, d_qkv, B, S, C, 0, rp, offset, len);
            cuda_check_launch();
        }
        const size_t smem = decode_attention_smem(version, HS, max_keys);
        cuda_check(cudaMemset(d_out, 0xFF, (size_t)B * S * C * sizeof(float)));  // NaN
        decode_attention_forward(version, d_out, d_qkv, d_kc, d_vc, B, S, C, NH, len, 0, rp, offset, prefix_row, max_keys,
                                 smem, 0);
        got[version] = download(d_out, (size_t)B * S * C);
        char name[96];
        snprintf(name, sizeof name, "%s v%d (B=%d S=%d HS=%d)", what, version, B, S, HS);
        compare(name, got[version], want.data(), want.size(), 1e-5);
    }
    char name[96];
    snprintf(name, sizeof name, "%s v2 vs v1 (HS=%d)", what, HS);
    compare(name, got[2], got[1].data(), got[1].size(), 1e-5);
    cuda_check(cudaFree(d_kc)); cuda_check(cudaFree(d_vc)); cuda_check(cudaFree(d_qkv));
    cuda_check(cudaFree(d_out)); cuda_check(cudaFree(d_row_past));
}

// One decode step of B rows (S = 1) at the seed-like cache lengths: time of each version and the
// bandwidth of the keys and values it reads.
static void bench(int B, int NH, int HS, int len, int reps) {
    const int C = NH * HS;
    std::vector<float> kc = random_vector((size_t)B * len * C, 1.0f, 21), vc = random_vector((size_t)B * len * C, 1.0f, 22);
    std::vector<float> qkv = random_vector((size_t)B * 3 * C, 1.0f, 23);
    std::vector<int> past(B);
    int max_past = 0;
    double keys = 0;
    for (int b = 0; b < B; b++) {
        past[b] = seed_like_past(b, len, 1);
        if (past[b] > max_past) max_past = past[b];
        keys += past[b] + 1;
    }
    float *d_kc = upload<float>(kc), *d_vc = upload<float>(vc), *d_qkv = upload<float>(qkv), *d_out;
    int *d_past;
    cuda_check(cudaMalloc(&d_out, (size_t)B * C * sizeof(float)));
    cuda_check(cudaMalloc(&d_past, B * sizeof(int)));
    cuda_check(cudaMemcpy(d_past, past.data(), B * sizeof(int), cudaMemcpyHostToDevice));
    const double bytes = keys * 2.0 * C * sizeof(float);  // every key and value row of every head, once
    printf("decode step: B=%d rows, NH=%d, HS=%d, %.0f cached keys per row on average, %.1f MB of keys and values\n", B, NH,
           HS, keys / B, bytes / 1e6);
    for (int version = 1; version <= 2; version++) {
        const size_t smem = decode_attention_smem(version, HS, max_past + 1);
        float ms = time_ms([&] {
            decode_attention_forward(version, d_out, d_qkv, d_kc, d_vc, B, 1, C, NH, len, 0, d_past, 0, -1, max_past + 1, smem, 0);
        }, reps);
        printf("time: v%d %.3f ms per layer (%.0f GB/s); x12 layers x100 steps: %.2f s\n", version, ms, bytes / ms / 1e6,
               ms * 12 * 100 / 1e3);
    }
    cuda_check(cudaFree(d_kc)); cuda_check(cudaFree(d_vc)); cuda_check(cudaFree(d_qkv));
    cuda_check(cudaFree(d_out)); cuda_check(cudaFree(d_past));
}

int main(int argc, char **argv) {
    set_program_name(argv[0]);
    const int B = arg_int(argc, argv, "--B", 300), NH = arg_int(argc, argv, "--NH", 12), HS = arg_int(argc, argv, "--HS", 64);
    const int len = arg_int(argc, argv, "--len", 612), reps = arg_int(argc, argv, "--reps", 20);
    if (!decode_attention_vec_supported(HS, NH * HS)) die("--HS %d: version 2 needs a multiple of 4 dividing %d", HS, 4 * DECODE_THREADS);
    // small shapes for the checks (every head size the evaluator supports), then the timing
    const int head_sizes[] = {16, 32, 64, 128};
    for (int i = 0; i < 4; i++) {
        check("decode S=1", DECODE, 12, 1, 4, head_sizes[i], 620);
        check("decode S=3", DECODE, 7, 3, 4, head_sizes[i], 620);
        check("append S=5", APPEND, 1, 5, 4, head_sizes[i], 300);
        check("exposure S=4", EXPOSURE, 5, 4, 4, head_sizes[i], 300);
    }
    bench(B, NH, HS, len, reps);
    return g_failures ? 1 : 0;
}
