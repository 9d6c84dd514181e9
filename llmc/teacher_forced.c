#include "teacher_forced.h"
#include "gpt2_infer.h"
#include "utils.h"

void gpt2_argmax_positions(const GPT2 *m, int *out) {
    if (!m->logits || m->batch_size < 1 || m->seq_len < 1)
        die("gpt2_argmax_positions: the model has no logits (call gpt2_forward first)");
    const size_t N = (size_t)m->batch_size * m->seq_len;
    const int V = m->config.vocab_size, Vp = m->config.padded_vocab_size;
    gpt2_argmax_rows(out, NULL, m->logits, N, V, Vp);
}

int teacher_forced_score(const int *argmax, const int *targets, int k, int M, int *first_wrong) {
    int correct = 0;
    *first_wrong = -1;
    for (int j = k; j < k + M; j++) {
        if (argmax[j] == targets[j]) correct++;
        else if (*first_wrong < 0) *first_wrong = j - k;
    }
    return correct;
}
