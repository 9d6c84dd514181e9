// Tests of llmc/dist.c. Run alone it checks the single-process behaviour; run under
// `mpirun -np W` (tests/test_dist.sh) every rank checks the collectives against values it computes
// itself: each rank's input is a function of (rank, index) only, so any rank can rebuild every
// other rank's input and add them up in rank order, and in double precision as a second opinion.
//   --hang_rank R   rank R stops before the first collective (SIGSTOP) so the others must time out.
#include <math.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "llmc/dist.h"
#include "llmc/splitmix.h"
#include "llmc/utils.h"

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; fprintf(stderr, "rank check failed: " __VA_ARGS__); fprintf(stderr, "\n"); } } while (0)

// Input of `rank` at index i: varied magnitudes and signs, so that the order of addition matters.
static float input_value(int rank, size_t i) {
    SplitMix stream = splitmix_derive(20240520, (uint64_t)rank, (uint64_t)i);
    uint64_t bits = splitmix_next(&stream);
    double unit = (double)(bits >> 11) / 9007199254740992.0;  // [0, 1)
    double scale = pow(10.0, (double)((bits & 7) % 7) - 3.0);
    return (float)((unit - 0.5) * scale);
}

static void test_share(void) {
    // Every split of n into W slices is contiguous, in rank order, covers 0..n-1 and is balanced.
    for (size_t n = 0; n < 40; n++)
        for (int W = 1; W <= 9; W++) {
            size_t next = 0, smallest = (size_t)-1, largest = 0;
            for (int r = 0; r < W; r++) {
                size_t first, count = dist_share(n, W, r, &first);
                CHECK(first == next, "dist_share(%zu, %d, %d) starts at %zu, expected %zu", n, W, r, first, next);
                next = first + count;
                if (count < smallest) smallest = count;
                if (count > largest) largest = count;
            }
            CHECK(next == n, "dist_share(%zu, %d) covers %zu items", n, W, next);
            CHECK(largest - smallest <= 1, "dist_share(%zu, %d) unbalanced: %zu vs %zu", n, W, smallest, largest);
        }
}

static void test_allreduce(Dist *d, size_t n) {
    float *buf = malloc_or_die((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) buf[i] = input_value(d->rank, i);
    dist_allreduce_sum_float(d, buf, n, "test buffer");
    size_t bitwise_mismatch = 0, far = 0;
    for (size_t i = 0; i < n; i++) {
        float in_order = input_value(0, i);
        double exact = input_value(0, i), magnitude = fabs(exact);
        for (int r = 1; r < d->world_size; r++) {
            in_order += input_value(r, i);
            exact += input_value(r, i);
            magnitude += fabs(input_value(r, i));
        }
        if (memcmp(&in_order, &buf[i], sizeof(float)) != 0) bitwise_mismatch++;
        // float rounding bound: a few ulps of the sum of magnitudes
        if (fabs((double)buf[i] - exact) > 1e-6 * magnitude) far++;
    }
    CHECK(bitwise_mismatch == 0, "all-reduce of %zu floats: %zu values differ from the rank-order sum", n, bitwise_mismatch);
    CHECK(far == 0, "all-reduce of %zu floats: %zu values far from the double-precision sum", n, far);

    // The mean is the sum divided by W.
    for (size_t i = 0; i < n; i++) buf[i] = input_value(d->rank, i);
    dist_allreduce_mean_float(d, buf, n, "test buffer");
    size_t mean_mismatch = 0;
    for (size_t i = 0; i < n; i++) {
        float s = input_value(0, i);
        for (int r = 1; r < d->world_size; r++) s += input_value(r, i);
        if (buf[i] != s / (float)d->world_size) mean_mismatch++;
    }
    CHECK(mean_mismatch == 0, "mean all-reduce of %zu floats: %zu values differ", n, mean_mismatch);
    free(buf);
}

static void test_zero_shard(void) {
    // ZeRO-1 blocks: ceil(n / W) rounded up to 64 each (NCCL's equal counts, 256-byte aligned starts),
    // contiguous, in rank order, covering n.
    CHECK(dist_zero_block(6966784, 3) == 2322304, "dist_zero_block(6966784, 3) = %zu, expected 2322304",
          dist_zero_block(6966784, 3));
    CHECK(dist_zero_block(1, 8) == 64 && dist_zero_block(0, 2) == 0 && dist_zero_block(128, 2) == 64 &&
          dist_zero_block(129, 2) == 128, "dist_zero_block rounds to multiples of 64");
    for (size_t n = 0; n < 700; n += n < 70 ? 1 : 13)
        for (int W = 1; W <= 9; W++) {
            size_t next = 0, block = ((n + W - 1) / W + 63) / 64 * 64;
            CHECK(block % 64 == 0 && block * W >= n && (n == 0 || block * W < n + 64 * (size_t)W),
                  "dist_zero_block(%zu, %d) = %zu", n, W, block);
            CHECK(dist_zero_block(n, W) == block, "dist_zero_block(%zu, %d) = %zu, expected %zu", n, W,
                  dist_zero_block(n, W), block);
            for (int r = 0; r < W; r++) {
                size_t first, count = dist_zero_shard(n, W, r, &first);
                CHECK(first == next, "dist_zero_shard(%zu, %d, %d) starts at %zu, expected %zu", n, W, r, first, next);
                CHECK(first == (r * block < n ? r * block : n), "dist_zero_shard(%zu, %d, %d) is not block %d", n, W, r, r);
                CHECK(count <= block, "dist_zero_shard(%zu, %d, %d) holds %zu > %zu", n, W, r, count, block);
                next = first + count;
            }
            CHECK(next == n, "dist_zero_shard(%zu, %d) covers %zu items", n, W, next);
        }
}

// Reduce-scatter: my shard is the rank-order sum (bitwise the all-reduce's), the rest untouched;
// all-gather: every rank's shard everywhere.
static void test_reduce_scatter_allgather(Dist *d, size_t n) {
    float *buf = malloc_or_die((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) buf[i] = input_value(d->rank, i);
    dist_reduce_scatter_sum_float(d, buf, n, "test buffer");
    size_t first, count = dist_zero_shard(n, d->world_size, d->rank, &first);
    size_t wrong_sum = 0, touched = 0;
    for (size_t i = 0; i < n; i++) {
        if (i >= first && i < first + count) {
            float in_order = input_value(0, i);
            for (int r = 1; r < d->world_size; r++) in_order += input_value(r, i);
            if (memcmp(&in_order, &buf[i], sizeof(float)) != 0) wrong_sum++;
        } else if (buf[i] != input_value(d->rank, i)) {
            touched++;
        }
    }
    CHECK(wrong_sum == 0, "reduce-scatter of %zu floats: %zu values of rank %d's shard differ from the rank-order sum", n,
          wrong_sum, d->rank);
    CHECK(touched == 0, "reduce-scatter of %zu floats: %zu values outside rank %d's shard changed", n, touched, d->rank);

    // Each rank fills its own shard with the values of "rank 1000", the rest with its own garbage.
    for (size_t i = 0; i < n; i++) buf[i] = i >= first && i < first + count ? input_value(1000, i) : input_value(d->rank, i);
    dist_allgather_float(d, buf, n, "test buffer");
    size_t wrong = 0;
    for (size_t i = 0; i < n; i++)
        if (buf[i] != input_value(1000, i)) wrong++;
    CHECK(wrong == 0, "all-gather of %zu floats: %zu values are not their shard owner's", n, wrong);
    free(buf);
}

static void test_double_and_broadcast(Dist *d) {
    double sums[3] = {d->rank + 0.25, 1.0, -(double)d->rank};
    dist_allreduce_sum_double(d, sums, 3, "test doubles");
    double W = d->world_size;
    CHECK(sums[0] == W * (W - 1) / 2 + 0.25 * W && sums[1] == W && sums[2] == -W * (W - 1) / 2,
          "double all-reduce gave %g %g %g", sums[0], sums[1], sums[2]);

    int root = d->world_size - 1;
    char message[100];
    memset(message, 0, sizeof message);
    if (d->rank == root) snprintf(message, sizeof message, "hello from rank %d", root);
    dist_broadcast(d, message, sizeof message, root, "test message");
    char expected[100];
    snprintf(expected, sizeof expected, "hello from rank %d", root);
    CHECK(strcmp(message, expected) == 0, "broadcast gave '%s'", message);
}

static void test_gather(Dist *d) {
    // Rank r sends (r * 7) % 5 bytes (some ranks send nothing), byte j = r * 16 + j.
    size_t len = (size_t)(d->rank * 7) % 5;
    unsigned char mine[8];
    for (size_t j = 0; j < len; j++) mine[j] = (unsigned char)(d->rank * 16 + j);
    size_t *lens = calloc_or_die((size_t)d->world_size, sizeof *lens);
    unsigned char *all = dist_gather_bytes(d, mine, len, lens, "test blobs");
    if (d->rank != 0) {
        CHECK(all == NULL, "gather returned data on rank %d", d->rank);
    } else {
        size_t at = 0;
        for (int r = 0; r < d->world_size; r++) {
            size_t want = (size_t)(r * 7) % 5;
            CHECK(lens[r] == want, "gather: rank %d sent %zu bytes, got %zu", r, want, lens[r]);
            for (size_t j = 0; j < want && j < lens[r]; j++)
                CHECK(all[at + j] == (unsigned char)(r * 16 + j), "gather: rank %d byte %zu wrong", r, j);
            at += lens[r];
        }
    }
    free(all);
    free(lens);
}

int main(int argc, char **argv) {
    set_program_name(argv[0]);
    int hang_rank = -1;
    if (argc == 3 && strcmp(argv[1], "--hang_rank") == 0) hang_rank = atoi(argv[2]);
    Dist d;
    dist_init(&d, &argc, &argv);
    if (d.rank == hang_rank) raise(SIGSTOP);  // alive but silent: only the deadline can end the wait

    test_share();
    size_t sizes[] = {0, 1, 2, 3, 1000, 1000003};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) test_allreduce(&d, sizes[i]);
    test_zero_shard();
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) test_reduce_scatter_allgather(&d, sizes[i]);
    test_double_and_broadcast(&d);
    test_gather(&d);
    dist_barrier(&d, "the end of the test");

    // Every rank's verdict reaches every rank, so the exit code agrees everywhere.
    double total_failures = failures;
    dist_allreduce_sum_double(&d, &total_failures, 1, "failure count");
    if (d.rank == 0)
        printf("test_dist_unit: %d rank(s) via %s, %s\n", d.world_size, d.launcher,
               total_failures == 0 ? "all checks passed" : "FAILED");
    dist_finalize(&d);
    return total_failures == 0 ? 0 : 1;
}
