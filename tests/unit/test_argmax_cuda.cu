// gpt2cu_argmax (llmc/gpt2_cuda.cuh) against the CPU rule gpt2_argmax_vocab on the very same
// logits, fp32 and bf16: random rows, planted ties across threads (the lowest id must win),
// larger values in the padding above V (ignored), NaNs, all -inf rows, vocabularies smaller
// than a block. Built by `make` with nvcc; run by tests/test_mem_eval.sh on a GPU machine.
#include "llmc/gpt2_cuda.cuh"

extern "C" {
#include "llmc/gpt2_infer.h"
#include "llmc/safetensors.h"  // float_to_bf16_round, bf16_to_float
#include "llmc/splitmix.h"
}

#include <vector>

static SplitMix rng = {0x9e3779b97f4a7c15ull};  // reproducible test data
static float uniform(void) { return (float)splitmix_uniform(&rng); }

// Fills (rows, Vp) logits, one of 8 patterns per row.
static void fill(std::vector<float> &logits, int rows, int V, int Vp) {
    for (int r = 0; r < rows; r++) {
        float *row = logits.data() + (size_t)r * Vp;
        int kind = r % 8;
        for (int v = 0; v < Vp; v++) row[v] = 4.0f * uniform() - 2.0f;
        if (kind == 1) {  // the top value planted at three ids in different threads' strides
            int a = V / 3 + 1, b = V / 2, c = V - 1;
            row[a] = row[b] = row[c] = 9.0f;
        } else if (kind == 2) {  // few levels: ties everywhere
            for (int v = 0; v < Vp; v++) row[v] = (float)splitmix_below(&rng, 4);
        } else if (kind == 3) {  // the padding holds larger values: ignored
            for (int v = V; v < Vp; v++) row[v] = 100.0f;
            row[V - 1] = 50.0f;
        } else if (kind == 4) {  // all -inf
            for (int v = 0; v < Vp; v++) row[v] = -INFINITY;
        } else if (kind == 5) {  // NaNs (never at id 0, where the CPU rule keeps a NaN) never win
            for (int v = 1; v < V; v += 7) row[v] = NAN;
        } else if (kind == 6) {  // the winner is id 0
            row[0] = 10.0f;
            row[V - 1] = 10.0f;
        } else if (kind == 7) {  // a tie between a low id of a late thread and a high id of an early one
            row[V > 300 ? 299 : V - 1] = 20.0f;
            row[V > 300 ? 256 : 0] = 20.0f;
        }
    }
}

static int check(Precision precision, int B, int T, int V, int Vp) {
    const int rows = B * T;
    std::vector<float> logits((size_t)rows * Vp);
    fill(logits, rows, V, Vp);
    size_t elem = precision == PRECISION_BF16 ? 2 : 4;
    std::vector<uint16_t> raw;
    if (precision == PRECISION_BF16) {  // the CPU sees exactly the values the GPU holds
        raw.resize(logits.size());
        for (size_t i = 0; i < logits.size(); i++) {
            raw[i] = float_to_bf16_round(logits[i]);
            logits[i] = bf16_to_float(raw[i]);
        }
    }
    GPT2Cuda m;
    memset(&m, 0, sizeof m);
    m.config.vocab_size = V;
    m.config.padded_vocab_size = Vp;
    m.precision = precision;
    m.elem_size = elem;
    m.max_B = B + 1;  // the probe uses at most the training batch
    m.max_T = T;
    m.B = B;
    m.T = T;
    cuda_check(cudaStreamCreate(&m.stream));
    cuda_check(cudaMalloc(&m.acts.logits, logits.size() * elem));
    const void *src = precision == PRECISION_BF16 ? (const void *)raw.data() : (const void *)logits.data();
    cuda_check(cudaMemcpy(m.acts.logits, src, logits.size() * elem, cudaMemcpyHostToDevice));
    std::vector<int> got(rows, -1);
    gpt2cu_argmax(&m, got.data());
    int bad = 0;
    for (int r = 0; r < rows; r++) {
        int want = gpt2_argmax_vocab(logits.data() + (size_t)r * Vp, V);
        if (got[r] != want) {
            if (bad < 5) fprintf(stderr, "  %s V=%d row %d (pattern %d): gpu %d, cpu %d\n", precision == PRECISION_BF16 ? "bf16" : "fp32", V, r,
                                r % 8, got[r], want);
            bad++;
        }
    }
    cuda_check(cudaFree(m.argmax));
    cuda_check(cudaFree(m.acts.logits));
    cuda_check(cudaStreamDestroy(m.stream));
    printf("%s V=%d Vp=%d, %d rows: %s\n", precision == PRECISION_BF16 ? "bf16" : "fp32", V, Vp, rows,
           bad ? "MISMATCH" : "argmax equal");
    return bad;
}

int main(void) {
    set_program_name("test_argmax_cuda");
    gpu_check_device(PRECISION_BF16);
    int bad = 0;
    const int shapes[][2] = {{50257, 50304}, {1000, 1024}, {257, 384}, {100, 128}, {2, 128}};
    for (int p = 0; p < 2; p++)
        for (const auto &s : shapes) bad += check(p ? PRECISION_BF16 : PRECISION_FP32, 4, 16, s[0], s[1]);
    if (bad) {
        fprintf(stderr, "test_argmax_cuda: %d rows differ\n", bad);
        return 1;
    }
    printf("test_argmax_cuda: all equal\n");
    return 0;
}
