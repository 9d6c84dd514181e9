// Fused residual + LayerNorm (llmc/layernorm.cuh) standalone: forward and backward (input, weight
// and bias grads) against llmc/layers_cpu.c, and timing. One version (the llmc kernel).
// Usage: layernorm [--BT 16384] [--C 768] [--precision fp32|bf16]
#include "common.cuh"
#include "llmc/layernorm.cuh"

extern "C" {
#include "llmc/layers_cpu.h"
}

template <typename floatX>
static void run(int BT, int C) {
    int bf16 = sizeof(floatX) == 2;
    double tol = bf16 ? 2e-2 : 1e-5;
    size_t N = (size_t)BT * C;
    std::vector<float> a = random_vector(N, 1.0f, 1), b = random_vector(N, 1.0f, 2), w = random_vector(C, 1.0f, 3);
    std::vector<float> bias = random_vector(C, 0.5f, 4), dout = random_vector(N, 1.0f, 5), dres = random_vector(N, 1.0f, 6);
    floatX *d_a = upload<floatX>(a), *d_b = upload<floatX>(b), *d_w = upload<floatX>(w), *d_bias = upload<floatX>(bias);
    floatX *d_dout = upload<floatX>(dout), *d_dres = upload<floatX>(dres), *d_res, *d_out, *d_dinp;
    float *d_mean, *d_rstd, *d_dw, *d_db, *d_scratch;
    cuda_check(cudaMalloc(&d_res, N * sizeof(floatX)));
    cuda_check(cudaMalloc(&d_out, N * sizeof(floatX)));
    cuda_check(cudaMalloc(&d_dinp, N * sizeof(floatX)));
    cuda_check(cudaMalloc(&d_mean, BT * 4));
    cuda_check(cudaMalloc(&d_rstd, BT * 4));
    cuda_check(cudaMalloc(&d_dw, C * 4));
    cuda_check(cudaMalloc(&d_db, C * 4));
    cuda_check(cudaMalloc(&d_scratch, (size_t)COLUMN_REDUCE_CHUNKS * 2 * C * 4));
    cuda_check(cudaMemset(d_dw, 0, C * 4));
    cuda_check(cudaMemset(d_db, 0, C * 4));

    // CPU: residual = round(a + b), then LayerNorm of it.
    std::vector<float> res(N), out(N), mean(BT), rstd(BT), dinp(N), dw(C, 0.0f), db(C, 0.0f);
    for (size_t i = 0; i < N; i++) res[i] = round_to<floatX>(a[i] + b[i]);
    layernorm_forward(out.data(), mean.data(), rstd.data(), res.data(), w.data(), bias.data(), BT, C);
    layernorm_backward(dinp.data(), dres.data(), dw.data(), db.data(), dout.data(), res.data(), w.data(), mean.data(),
                       rstd.data(), BT, C, 1);

    printf("layernorm %s BT=%d C=%d\n", bf16 ? "bf16" : "fp32", BT, C);
    fused_residual_layernorm_forward<floatX>(d_res, d_out, d_mean, d_rstd, d_a, d_b, d_w, d_bias, BT, C, 0);
    compare("residual", download(d_res, N), res.data(), N, tol);
    compare("forward out", download(d_out, N), out.data(), N, tol);
    compare("forward mean", download(d_mean, BT), mean.data(), BT, 1e-5);
    compare("forward rstd", download(d_rstd, BT), rstd.data(), BT, 1e-5);
    layernorm_backward<floatX>(d_dinp, d_dres, d_dw, d_db, d_scratch, d_dout, d_res, d_w, d_mean, d_rstd, BT, C, 0);
    compare("backward dinp", download(d_dinp, N), dinp.data(), N, tol);
    compare("backward dweight", download(d_dw, C), dw.data(), C, 1e-4);
    compare("backward dbias", download(d_db, C), db.data(), C, 1e-4);
    float msf = time_ms([&] { fused_residual_layernorm_forward<floatX>(d_res, d_out, d_mean, d_rstd, d_a, d_b, d_w, d_bias, BT, C, 0); }, 20);
    float msb = time_ms([&] { layernorm_backward<floatX>(d_dinp, d_dres, d_dw, d_db, d_scratch, d_dout, d_res, d_w, d_mean, d_rstd, BT, C, 0); }, 20);
    double bytes_f = (double)N * sizeof(floatX) * 5;  // a, b read; residual written, read back; out written
    printf("time: forward %.3f ms (%.0f GB/s), backward %.3f ms\n", msf, bytes_f / msf / 1e6, msb);
}

int main(int argc, char **argv) {
    set_program_name(argv[0]);
    int BT = arg_int(argc, argv, "--BT", 16384), C = arg_int(argc, argv, "--C", 768);
    if (arg_bf16(argc, argv)) run<bf16>(BT, C);
    else run<float>(BT, C);
    return g_failures ? 1 : 0;
}
