// Causal attention (llmc/attention.cuh) standalone: forward and backward against the CPU kernels
// of llmc/layers_cpu.c, and timing. Versions (forward and backward):
//   0  naive forward: one thread per query row, a max pass and a sum pass over the keys
//   1  llmc/attention.cuh, CUDA cores: key/value tiles in shared memory, online softmax, fp32 math
//      (the fp32 check mode's kernels)
//   2  llmc/attention_tc.cuh, tensor cores (bf16 only): mma.sync m16n8k16 with the scores kept in
//      registers (the bf16 training path), with blocks of 4 and of 8 warps
// Usage: attention [--B 4] [--T 1024] [--C 768] [--NH 12] [--precision fp32|bf16] [--reps 10]
//   --reps 0 checks without timing (the emulator's run with more than 65535 rows x heads).
#include "common.cuh"
#include "llmc/attention.cuh"

extern "C" {
#include "llmc/layers_cpu.h"
}

// Version 0: out row i = softmax(q_i K^T * scale) V, no shared memory, fp32 math.
template <typename floatX>
__global__ void attention_forward_naive(floatX *out, const floatX *qkv, int B, int T, int NH, int HS) {
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= B * NH * T) return;
    int i = idx % T, h = (idx / T) % NH, b = idx / (T * NH), C = NH * HS;
    float scale = 1.0f / sqrtf((float)HS);
    const floatX *q = qkv + ((long long)b * T + i) * 3 * C + h * HS;
    float m = -INFINITY;
    for (int j = 0; j <= i; j++) {
        const floatX *k = qkv + ((long long)b * T + j) * 3 * C + C + h * HS;
        float s = 0.0f;
        for (int d = 0; d < HS; d++) s += to_float(q[d]) * to_float(k[d]);
        m = fmaxf(m, s * scale);
    }
    float sum = 0.0f, acc[128];  // HS <= 128 (local memory: this version is about clarity, not speed)
    for (int d = 0; d < HS; d++) acc[d] = 0.0f;
    for (int j = 0; j <= i; j++) {
        const floatX *k = qkv + ((long long)b * T + j) * 3 * C + C + h * HS;
        float s = 0.0f;
        for (int d = 0; d < HS; d++) s += to_float(q[d]) * to_float(k[d]);
        float p = expf(s * scale - m);
        sum += p;
        for (int d = 0; d < HS; d++) acc[d] += p * to_float(k[C + d]);  // k + C is v of row j
    }
    floatX *o = out + ((long long)b * T + i) * C + h * HS;
    for (int d = 0; d < HS; d++) o[d] = from_float<floatX>(acc[d] / sum);
}

template <typename floatX>
static void run(int B, int T, int C, int NH, int reps) {
    int bf16 = sizeof(floatX) == 2;
    double tol = bf16 ? 2e-2 : 1e-4;
    size_t BT = (size_t)B * T;
    std::vector<float> qkv = random_vector(BT * 3 * C, 1.0f, 1), dout = random_vector(BT * C, 1.0f, 2);
    floatX *d_qkv = upload<floatX>(qkv), *d_dout = upload<floatX>(dout);
    floatX *d_out, *d_dqkv;
    float *d_lse, *d_delta;
    cuda_check(cudaMalloc(&d_out, BT * C * sizeof(floatX)));
    cuda_check(cudaMalloc(&d_dqkv, BT * 3 * C * sizeof(floatX)));
    cuda_check(cudaMalloc(&d_lse, (size_t)B * NH * T * sizeof(float)));
    cuda_check(cudaMalloc(&d_delta, (size_t)B * NH * T * sizeof(float)));

    std::vector<float> out(BT * C), att((size_t)B * NH * T * T), dqkv(BT * 3 * C);
    attention_forward(out.data(), att.data(), qkv.data(), B, T, C, NH);
    attention_backward(dqkv.data(), dout.data(), qkv.data(), att.data(), B, T, C, NH);

    printf("attention %s B=%d T=%d C=%d NH=%d (head size %d)\n", bf16 ? "bf16" : "fp32", B, T, C, NH, C / NH);
    double flops = 2.0 * 2.0 * B * NH * (double)T * T / 2 * (C / NH);  // QK^T and PV, causal half
    auto check_and_time = [&](const char *version, auto forward, auto backward) {
        cuda_check(cudaMemset(d_out, 0xff, BT * C * sizeof(floatX)));  // NaN poison: every output must be written
        cuda_check(cudaMemset(d_dqkv, 0xff, BT * 3 * C * sizeof(floatX)));
        forward();
        char name[64];
        snprintf(name, sizeof name, "forward (version %s)", version);
        compare(name, download(d_out, BT * C), out.data(), BT * C, tol);
        backward();
        snprintf(name, sizeof name, "backward dqkv (version %s)", version);
        compare(name, download(d_dqkv, BT * 3 * C), dqkv.data(), BT * 3 * C, bf16 ? 5e-2 : 1e-4);
        if (reps == 0) return;
        float msf = time_ms(forward, reps), msb = time_ms(backward, reps);
        // The backward does 2.5x the forward's products (dq: 3, dk/dv: 4 against the forward's 2).
        printf("time: version %s forward %.3f ms (%.1f TFLOP/s), backward %.3f ms (%.1f TFLOP/s)\n", version, msf,
               flops / msf / 1e9, msb, 2.5 * flops / msb / 1e9);
    };
    check_and_time("1, CUDA cores",
                   [&] { attention_forward_simt<floatX>(d_out, d_lse, d_qkv, B, T, C, NH, 0); },
                   [&] { attention_backward_simt<floatX>(d_dqkv, d_delta, d_dout, d_qkv, d_out, d_lse, B, T, C, NH, 0); });
    if constexpr (sizeof(floatX) == 2) {
        check_and_time("2, tensor cores, 4 warps",
                       [&] { attention_forward_tc<4>(d_out, d_lse, d_qkv, B, T, C, NH, 0); },
                       [&] { attention_backward_tc<4>(d_dqkv, d_delta, d_dout, d_qkv, d_out, d_lse, B, T, C, NH, 0); });
        check_and_time("2, tensor cores, 8 warps",
                       [&] { attention_forward_tc<8>(d_out, d_lse, d_qkv, B, T, C, NH, 0); },
                       [&] { attention_backward_tc<8>(d_dqkv, d_delta, d_dout, d_qkv, d_out, d_lse, B, T, C, NH, 0); });
    }
    attention_forward_naive<floatX><<<ceil_div(B * NH * T, 128), 128>>>(d_out, d_qkv, B, T, NH, C / NH);
    cuda_check_launch();
    compare("forward (version 0, naive)", download(d_out, BT * C), out.data(), BT * C, tol);
    if (reps > 0) {
        float ms0 = time_ms([&] { attention_forward_naive<floatX><<<ceil_div(B * NH * T, 128), 128>>>(d_out, d_qkv, B, T, NH, C / NH); },
                            reps < 3 ? reps : 3);
        printf("time: version 0 forward %.3f ms (%.1f TFLOP/s)\n", ms0, flops / ms0 / 1e9);
    }
    cudaFree(d_qkv); cudaFree(d_dout); cudaFree(d_out); cudaFree(d_dqkv); cudaFree(d_lse); cudaFree(d_delta);
}

int main(int argc, char **argv) {
    set_program_name(argv[0]);
    int B = arg_int(argc, argv, "--B", 4), T = arg_int(argc, argv, "--T", 1024);
    int C = arg_int(argc, argv, "--C", 768), NH = arg_int(argc, argv, "--NH", 12), reps = arg_int(argc, argv, "--reps", 10);
    if (NH < 1 || C % NH != 0 || !attention_head_size_supported(C / NH))
        die("--C %d / --NH %d: head size must be 16, 32, 64 or 128", C, NH);
    if (reps < 0) die("--reps %d: use 0 (check only) or more", reps);
    if (arg_bf16(argc, argv)) run<bf16>(B, T, C, NH, reps);
    else run<float>(B, T, C, NH, reps);
    return g_failures ? 1 : 0;
}
