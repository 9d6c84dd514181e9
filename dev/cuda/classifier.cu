// Fused softmax + cross-entropy (llmc/fused_classifier.cuh) standalone: losses and in-place
// dlogits against llmc/layers_cpu.c, and timing. One version (the llmc kernel).
// Usage: classifier [--BT 4096] [--V 50257] [--Vp 50304] [--precision fp32|bf16]
#include "common.cuh"
#include "llmc/fused_classifier.cuh"

extern "C" {
#include "llmc/layers_cpu.h"
}

template <typename floatX>
static void run(int BT, int V, int Vp) {
    int bf16 = sizeof(floatX) == 2;
    size_t N = (size_t)BT * Vp;
    std::vector<float> logits = random_vector(N, 8.0f, 1);
    std::vector<int> targets(BT);
    for (int i = 0; i < BT; i++) targets[i] = (int)(((uint64_t)i * 2654435761u) % V);
    targets[1] = -1;  // ignored
    floatX *d_logits = upload<floatX>(logits);
    int *d_targets;
    float *d_losses, *d_lse;
    cuda_check(cudaMalloc(&d_targets, BT * sizeof(int)));
    cuda_check(cudaMemcpy(d_targets, targets.data(), BT * sizeof(int), cudaMemcpyHostToDevice));
    cuda_check(cudaMalloc(&d_losses, BT * 4));
    cuda_check(cudaMalloc(&d_lse, BT * 4));
    std::vector<float> probs(N), losses(BT), dlogits(N);
    int counted = crossentropy_softmax_forward(probs.data(), losses.data(), logits.data(), targets.data(), BT, V, Vp);
    float dloss = 1.0f / counted;
    crossentropy_softmax_backward(dlogits.data(), probs.data(), targets.data(), dloss, BT, V, Vp);

    printf("classifier %s BT=%d V=%d Vp=%d\n", bf16 ? "bf16" : "fp32", BT, V, Vp);
    classifier_forward<floatX>(d_losses, d_lse, d_logits, d_targets, BT, V, Vp, 0);
    compare("losses", download(d_losses, BT), losses.data(), BT, 1e-5);
    classifier_backward<floatX>(d_logits, d_lse, d_targets, dloss, BT, V, Vp, 0);
    compare("dlogits (in place)", download(d_logits, N), dlogits.data(), N, bf16 ? 1e-2 : 1e-5);
    float msf = time_ms([&] { classifier_forward<floatX>(d_losses, d_lse, d_logits, d_targets, BT, V, Vp, 0); }, 10);
    float msb = time_ms([&] { classifier_backward<floatX>(d_logits, d_lse, d_targets, dloss, BT, V, Vp, 0); }, 10);
    printf("time: forward %.3f ms (%.0f GB/s), backward %.3f ms (%.0f GB/s)\n", msf, N * sizeof(floatX) / msf / 1e6, msb,
           2.0 * N * sizeof(floatX) / msb / 1e6);
}

int main(int argc, char **argv) {
    set_program_name(argv[0]);
    int BT = arg_int(argc, argv, "--BT", 4096), V = arg_int(argc, argv, "--V", 50257), Vp = arg_int(argc, argv, "--Vp", 50304);
    if (arg_bf16(argc, argv)) run<bf16>(BT, V, Vp);
    else run<float>(BT, V, Vp);
    return g_failures ? 1 : 0;
}
