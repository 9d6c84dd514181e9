// The emulated NCCL's own checks (dev/cuda/emu/nccl_emu.cpp), so that a broken emulator cannot
// pass the trainer's multi-rank tests: ranks are forked processes. Sums must equal the rank-order
// sums bit for bit (also across the chunk boundary), a broadcast must deliver the root's bytes, a
// reduce-scatter must give each rank its block of the all-reduce of the same data bit for bit and an
// all-gather every rank's data (both out of and in place, past a chunk), and each misuse must end
// every rank's call with the right error instead of a hang: collectives that differ between ranks, a
// rank that exited, a rank that does not answer in time, ranks that disagree on their number, a
// buffer outside device memory (or too short), send and receive buffers that overlap other than in
// NCCL's in-place form.
// Prints "PASS name" / "FAIL name"; exits non-zero when anything failed.
#include <nccl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <vector>

static int failures = 0;

struct Options {
    bool join = true;        // body gets a joined communicator (else the one init returned, error or not)
    bool own_device = true;  // rank r on emulated GPU r (else every rank on GPU 0)
    bool rank1_first = false;  // rank 0 starts its init only after rank 1's returned
    std::function<int(int)> ranks_told;  // the number of ranks rank r is told (default: nranks)
};

// One process per rank runs body(rank, comm) and exits with its result (0 = as expected); the
// scenario passes when every rank did.
static void scenario(const char *name, int nranks, const std::function<int(int, ncclComm_t)> &body, Options o = Options()) {
    ncclUniqueId id;
    if (ncclGetUniqueId(&id) != ncclSuccess) { printf("FAIL %s: ncclGetUniqueId\n", name); failures++; return; }
    int order[2];
    if (pipe(order) != 0) { printf("FAIL %s: pipe\n", name); failures++; return; }
    std::vector<pid_t> pids;
    for (int r = 0; r < nranks; r++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            alarm(60);  // a hang is a failure, not a stuck test
            char byte = 0;
            if (o.own_device) cudaSetDevice(r);
            if (o.rank1_first && r == 0 && read(order[0], &byte, 1) != 1) _exit(92);
            ncclComm_t comm = NULL;
            ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
            config.blocking = 0;
            ncclResult_t rc = ncclCommInitRankConfig(&comm, o.ranks_told ? o.ranks_told(r) : nranks, id, r, &config);
            if (o.rank1_first && r == 1 && write(order[1], &byte, 1) != 1) _exit(93);
            if (o.join) {
                while (rc == ncclInProgress) { usleep(1000); ncclCommGetAsyncError(comm, &rc); }
                if (rc != ncclSuccess) { fprintf(stderr, "rank %d: init: %s\n", r, ncclGetLastError(comm)); _exit(90); }
                _exit(body(r, comm));
            }
            _exit(body(r, comm));  // (a failed init leaves its error in comm)
        }
        pids.push_back(pid);
    }
    close(order[0]);
    close(order[1]);
    bool ok = true;
    for (int r = 0; r < nranks; r++) {
        int status = 0;
        waitpid(pids[r], &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            printf("    rank %d: %s %d\n", r, WIFEXITED(status) ? "exit" : "signal",
                   WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
            ok = false;
        }
    }
    unlink(id.internal);  // (a scenario that ends in an error leaves the communicator's file)
    printf("%s %s\n", ok ? "PASS" : "FAIL", name);
    failures += !ok;
}

template <typename T>
static T *device_array(size_t n) {
    void *p = NULL;
    if (cudaMalloc(&p, n * sizeof(T)) != cudaSuccess) { fprintf(stderr, "cudaMalloc failed\n"); _exit(91); }
    return (T *)p;
}

// rc must be `want`, and the last error must contain `text`.
static int expect(ncclResult_t rc, ncclResult_t want, const char *text, int rank) {
    if (rc == want && strstr(ncclGetLastError(NULL), text)) return 0;
    fprintf(stderr, "rank %d: got %s (%s), want %s with \"%s\"\n", rank, ncclGetErrorString(rc), ncclGetLastError(NULL),
            ncclGetErrorString(want), text);
    return 1;
}

static float value_f(int rank, size_t i) { return (rank + 1) * 0.1f + (float)(i % 1000) * 1e-3f + (float)rank / 3.0f; }
static double value_d(int rank, size_t i) { return 1.0 / (double)(rank + 3 + i % 977) - 0.25 * rank + 1e-9 * (double)i; }

// Rank r's reduce-scatter of n per rank (out of place, then in place in a copy of sendbuff) must
// equal block r of the all-reduce of the same nranks * n elements bit for bit, and that block the
// rank-order sum; the in-place call leaves the other blocks of sendbuff alone.
template <typename T>
static int check_reduce_scatter(int r, int nranks, ncclComm_t comm, size_t n, ncclDataType_t type, T (*value)(int, size_t)) {
    const size_t total = (size_t)nranks * n, bytes = n * sizeof(T);
    std::vector<T> host(total), all(total), block(n);
    for (size_t i = 0; i < total; i++) host[i] = value(r, i);
    T *send = device_array<T>(total), *all_d = device_array<T>(total), *recv = device_array<T>(n), *inplace = device_array<T>(total);
    cudaMemcpy(send, host.data(), total * sizeof(T), cudaMemcpyHostToDevice);
    cudaMemcpy(inplace, host.data(), total * sizeof(T), cudaMemcpyHostToDevice);
    if (ncclAllReduce(send, all_d, total, type, ncclSum, comm, 0) != ncclSuccess) return 20;
    if (ncclReduceScatter(send, recv, n, type, ncclSum, comm, 0) != ncclSuccess) return 21;
    if (ncclReduceScatter(inplace, inplace + (size_t)r * n, n, type, ncclSum, comm, 0) != ncclSuccess) return 22;
    cudaMemcpy(all.data(), all_d, total * sizeof(T), cudaMemcpyDeviceToHost);
    for (size_t i = 0; i < n; i++) {
        T want = value(0, (size_t)r * n + i);
        for (int q = 1; q < nranks; q++) want = (T)(want + value(q, (size_t)r * n + i));
        if (memcmp(&want, &all[(size_t)r * n + i], sizeof(T)) != 0) return 23;  // (the all-reduce itself)
    }
    cudaMemcpy(block.data(), recv, bytes, cudaMemcpyDeviceToHost);
    if (memcmp(block.data(), &all[(size_t)r * n], bytes) != 0) return 24;
    std::vector<T> after(total);
    cudaMemcpy(after.data(), inplace, total * sizeof(T), cudaMemcpyDeviceToHost);
    for (int b = 0; b < nranks; b++)
        if (memcmp(&after[(size_t)b * n], b == r ? &all[(size_t)r * n] : &host[(size_t)b * n], bytes) != 0) return b == r ? 25 : 26;
    return 0;
}

// An all-gather of n distinct elements per rank, out of place and in place (each rank's data
// already in its block of recvbuff): every rank gets block q == rank q's data.
template <typename T>
static int check_all_gather(int r, int nranks, ncclComm_t comm, size_t n, ncclDataType_t type, T (*value)(int, size_t)) {
    const size_t total = (size_t)nranks * n;
    std::vector<T> mine(n), want(total), got(total);
    for (size_t i = 0; i < n; i++) mine[i] = value(r, i);
    for (size_t i = 0; i < total; i++) want[i] = value((int)(i / n), i % n);
    T *send = device_array<T>(n), *recv = device_array<T>(total), *inplace = device_array<T>(total);
    cudaMemcpy(send, mine.data(), n * sizeof(T), cudaMemcpyHostToDevice);
    cudaMemset(inplace, 0xff, total * sizeof(T));
    cudaMemcpy(inplace + (size_t)r * n, mine.data(), n * sizeof(T), cudaMemcpyHostToDevice);
    if (ncclAllGather(send, recv, n, type, comm, 0) != ncclSuccess) return 30;
    cudaMemcpy(got.data(), recv, total * sizeof(T), cudaMemcpyDeviceToHost);
    if (memcmp(got.data(), want.data(), total * sizeof(T)) != 0) return 31;
    if (ncclAllGather(inplace + (size_t)r * n, inplace, n, type, comm, 0) != ncclSuccess) return 32;
    cudaMemcpy(got.data(), inplace, total * sizeof(T), cudaMemcpyDeviceToHost);
    return memcmp(got.data(), want.data(), total * sizeof(T)) != 0 ? 33 : 0;
}

static unsigned char value_u8(int rank, size_t i) { return (unsigned char)(i * 31 + 17 * rank + 1); }

int main() {
    setenv("MEMLENS_EMU_DEVICES", "4", 1);  // a GPU per rank (read by each forked rank)
    // Sums of floats (over two chunks of the slot, in place), doubles and ints; a broadcast of
    // bytes (over two chunks) from rank 2 into another buffer; then the communicator is closed.
    scenario("3 ranks: all-reduce float32 (1.5 M, in place), float64, int32 == rank-order sums; broadcast of 5 MiB", 3,
             [](int r, ncclComm_t comm) {
                 const size_t n = 1500007;
                 std::vector<float> host(n), want(n);
                 for (size_t i = 0; i < n; i++) {
                     host[i] = value_f(r, i);
                     want[i] = (value_f(0, i) + value_f(1, i)) + value_f(2, i);
                 }
                 float *buf = device_array<float>(n);
                 cudaMemcpy(buf, host.data(), n * sizeof(float), cudaMemcpyHostToDevice);
                 if (ncclAllReduce(buf, buf, n, ncclFloat, ncclSum, comm, 0) != ncclSuccess) return 2;
                 cudaMemcpy(host.data(), buf, n * sizeof(float), cudaMemcpyDeviceToHost);
                 if (memcmp(host.data(), want.data(), n * sizeof(float)) != 0) return 3;
                 double *d = device_array<double>(2), dh[2] = {1.0 / (r + 3), -2.5 * r}, dout[2];
                 cudaMemcpy(d, dh, sizeof dh, cudaMemcpyHostToDevice);
                 if (ncclAllReduce(d, d, 2, ncclDouble, ncclSum, comm, 0) != ncclSuccess) return 4;
                 cudaMemcpy(dout, d, sizeof dout, cudaMemcpyDeviceToHost);
                 if (dout[0] != (1.0 / 3 + 1.0 / 4) + 1.0 / 5 || dout[1] != -7.5) return 5;
                 int *in = device_array<int>(3), *out = device_array<int>(3), ih[3] = {r, 10 * r, -1}, ioh[3];
                 cudaMemcpy(in, ih, sizeof ih, cudaMemcpyHostToDevice);
                 if (ncclAllReduce(in, out, 3, ncclInt, ncclSum, comm, 0) != ncclSuccess) return 6;
                 cudaMemcpy(ioh, out, sizeof ioh, cudaMemcpyDeviceToHost);
                 if (ioh[0] != 3 || ioh[1] != 30 || ioh[2] != -3) return 7;
                 const size_t bytes = (size_t)5 << 20;
                 unsigned char *src = device_array<unsigned char>(bytes), *dst = device_array<unsigned char>(bytes);
                 std::vector<unsigned char> b(bytes);
                 for (size_t i = 0; i < bytes; i++) b[i] = (unsigned char)(i * 7 + 13 * r);
                 cudaMemcpy(src, b.data(), bytes, cudaMemcpyHostToDevice);
                 if (ncclBroadcast(src, dst, bytes, ncclUint8, 2, comm, 0) != ncclSuccess) return 8;
                 cudaMemcpy(b.data(), dst, bytes, cudaMemcpyDeviceToHost);
                 for (size_t i = 0; i < bytes; i++)
                     if (b[i] != (unsigned char)(i * 7 + 26)) return 9;
                 if (ncclCommFinalize(comm) != ncclSuccess || ncclCommDestroy(comm) != ncclSuccess) return 10;
                 return 0;
             });
    // Past one slot's elements per rank (SLOT_BYTES = 4 MiB: 1 Mi floats, 512 Ki doubles), counts
    // that no chunk size divides: a reduce-scatter's chunk is a slot's elements / nranks.
    for (int nranks = 2; nranks <= 3; nranks++) {
        char name[256];
        snprintf(name, sizeof name, "%d ranks: reduce-scatter float32 (1 Mi + 4099 per rank) and float64 (512 Ki + 777) == block "
                 "of the all-reduce bitwise, out of and in place; all-gather float32, float64 in place, uint8", nranks);
        scenario(name, nranks, [nranks](int r, ncclComm_t comm) {
            int rc;
            if ((rc = check_reduce_scatter<float>(r, nranks, comm, ((size_t)1 << 20) + 4099, ncclFloat, value_f))) return rc;
            if ((rc = check_reduce_scatter<double>(r, nranks, comm, ((size_t)1 << 19) + 777, ncclDouble, value_d))) return 10 + rc;
            if ((rc = check_all_gather<float>(r, nranks, comm, ((size_t)1 << 20) + 4099, ncclFloat, value_f))) return rc;
            if ((rc = check_all_gather<double>(r, nranks, comm, ((size_t)1 << 19) + 777, ncclDouble, value_d))) return 10 + rc;
            if ((rc = check_all_gather<unsigned char>(r, nranks, comm, 5, ncclUint8, value_u8))) return 20 + rc;
            return ncclCommFinalize(comm) != ncclSuccess || ncclCommDestroy(comm) != ncclSuccess ? 50 : 0;
        });
    }
    scenario("1 rank: the all-reduce, reduce-scatter and all-gather are copies", 1, [](int, ncclComm_t comm) {
        float *in = device_array<float>(4), *out = device_array<float>(4), h[4] = {1, 2, 3, 4}, o[4];
        cudaMemcpy(in, h, sizeof h, cudaMemcpyHostToDevice);
        if (ncclAllReduce(in, out, 4, ncclFloat, ncclSum, comm, 0) != ncclSuccess) return 2;
        cudaMemcpy(o, out, sizeof o, cudaMemcpyDeviceToHost);
        if (memcmp(h, o, sizeof h) != 0) return 3;
        for (int k = 0; k < 2; k++) {
            cudaMemset(out, 0, sizeof h);
            if ((k ? ncclAllGather(in, out, 4, ncclFloat, comm, 0) : ncclReduceScatter(in, out, 4, ncclFloat, ncclSum, comm, 0)) !=
                ncclSuccess) return 4 + k;
            cudaMemcpy(o, out, sizeof o, cudaMemcpyDeviceToHost);
            if (memcmp(h, o, sizeof h) != 0) return 6 + k;
        }
        return ncclCommDestroy(comm), 0;
    });
    scenario("ranks calling different collectives: every rank gets ncclInvalidUsage naming both", 3, [](int r, ncclComm_t comm) {
        float *buf = device_array<float>(16);
        ncclResult_t rc = r == 2 ? ncclBroadcast(buf, buf, 11, ncclFloat, 0, comm, 0) : ncclAllReduce(buf, buf, 10, ncclFloat, ncclSum, comm, 0);
        return expect(rc, ncclInvalidUsage, r == 2 ? "rank 2 calls broadcast of 11 float32 from rank 0, while rank 0 calls all-reduce of 10"
                                                   : "calls all-reduce of 10 float32, while rank 2 calls broadcast of 11", r);
    });
    scenario("a reduce-scatter against an all-gather of the same count: ncclInvalidUsage naming both", 2, [](int r, ncclComm_t comm) {
        float *buf = device_array<float>(32);
        ncclResult_t rc = r == 0 ? ncclReduceScatter(buf, buf + 20, 10, ncclFloat, ncclSum, comm, 0)
                                 : ncclAllGather(buf + 20, buf, 10, ncclFloat, comm, 0);
        return expect(rc, ncclInvalidUsage, r == 0 ? "rank 0 calls reduce-scatter of 10 float32 to each rank, while rank 1 calls "
                                                     "all-gather of 10 float32 from each rank"
                                                   : "rank 1 calls all-gather of 10 float32 from each rank, while rank 0 calls "
                                                     "reduce-scatter of 10", r);
    });
    // Overlaps NCCL leaves undefined: each rank's call is refused before any data moves (so every
    // rank misuses here; a rank whose peer was refused waits for it, as for any failed call).
    // Rank 0: the next rank's block; rank 1: rank 0's in-place position (in place for rank 0 only);
    // rank 2: its own block shifted by one element.
    scenario("a reduce-scatter whose recvbuff overlaps sendbuff other than at sendbuff + rank * recvcount: ncclInvalidArgument", 3,
             [](int r, ncclComm_t comm) {
        const size_t n = 10;
        float *send = device_array<float>(3 * n + 1);
        float *recv = r == 0 ? send + n : r == 1 ? send : send + 2 * n + 1;
        return expect(ncclReduceScatter(send, recv, n, ncclFloat, ncclSum, comm, 0), ncclInvalidArgument,
                      r == 0 ? "recvbuff starts +40 bytes from sendbuff and overlaps it, but NCCL's only in-place form is "
                               "recvbuff == sendbuff + rank * recvcount (0 bytes on rank 0)"
                      : r == 1 ? "recvbuff starts +0 bytes from sendbuff and overlaps it" : "recvbuff starts +84 bytes", r);
    });
    scenario("an all-gather whose sendbuff overlaps recvbuff other than at recvbuff + rank * sendcount: ncclInvalidArgument", 2,
             [](int r, ncclComm_t comm) {
        const size_t n = 6;
        double *recv = device_array<double>(2 * n + 2);
        double *send = r == 0 ? recv + n : recv + n + 2;  // (rank 1: straddles the end of recvbuff)
        return expect(ncclAllGather(send, recv, n, ncclDouble, comm, 0), ncclInvalidArgument,
                      r == 0 ? "sendbuff starts +48 bytes from recvbuff and overlaps it, but NCCL's only in-place form is "
                               "sendbuff == recvbuff + rank * sendcount (0 bytes on rank 0)"
                             : "sendbuff starts +64 bytes from recvbuff and overlaps it", r);
    });
    scenario("a rank that exited: the others' all-reduce ends with ncclRemoteError naming it", 3, [](int r, ncclComm_t comm) {
        if (r == 1) return 0;  // exits without a word
        float *buf = device_array<float>(8);
        // (rank 2 may see rank 0 gone first: rank 0 exits as soon as it has its error)
        return expect(ncclAllReduce(buf, buf, 8, ncclFloat, ncclSum, comm, 0), ncclRemoteError, r == 0 ? "rank 1 (pid" : ") exited", r);
    });
    setenv("MEMLENS_DIST_TIMEOUT", "1", 1);
    scenario("a rank that does not answer within MEMLENS_DIST_TIMEOUT: the call stays in progress, as with a hung peer", 2,
             [](int r, ncclComm_t comm) {
        float *buf = device_array<float>(8);
        if (r == 1) { sleep(5); return 0; }
        if (expect(ncclAllReduce(buf, buf, 8, ncclFloat, ncclSum, comm, 0), ncclInProgress,
                   "no answer from the other ranks in 1 s", r)) return 1;
        ncclResult_t async = ncclSuccess;
        ncclCommGetAsyncError(comm, &async);
        return async == ncclInProgress && ncclAllReduce(buf, buf, 8, ncclFloat, ncclSum, comm, 0) == ncclInProgress ? 0 : 2;
    });
    unsetenv("MEMLENS_DIST_TIMEOUT");
    Options disagree;
    disagree.join = false;
    disagree.rank1_first = true;  // rank 1, told of 3 ranks, joins first
    disagree.ranks_told = [](int r) { return r == 0 ? 2 : 3; };
    scenario("ranks that disagree on their number: ncclInvalidUsage", 2, [](int r, ncclComm_t comm) {
        ncclResult_t async = ncclSuccess;
        if (comm) ncclCommGetAsyncError(comm, &async);
        return r == 0 ? expect(async, ncclInvalidUsage, "rank 0 was told of 2 ranks, another rank of 3", r) : 0;
    }, disagree);
    Options one_gpu;
    one_gpu.join = false;
    one_gpu.own_device = false;
    one_gpu.rank1_first = true;
    scenario("two ranks on one GPU: ncclInvalidUsage, as NCCL's duplicate-GPU check", 2, [](int r, ncclComm_t comm) {
        ncclResult_t async = ncclSuccess;
        if (comm) ncclCommGetAsyncError(comm, &async);
        return r == 0 ? expect(async, ncclInvalidUsage, "ranks 1 and 0 both use GPU 0", r) : 0;
    }, one_gpu);
    scenario("a host buffer: ncclInvalidArgument", 1, [](int r, ncclComm_t comm) {
        float host[4] = {0};
        return expect(ncclAllReduce(host, host, 4, ncclFloat, ncclSum, comm, 0), ncclInvalidArgument, "not device memory", r);
    });
    // The device check covers the long buffer's nranks * count elements, not count.
    scenario("a reduce-scatter's sendbuff / an all-gather's recvbuff of count elements, not nranks * count: ncclInvalidArgument", 2,
             [](int r, ncclComm_t comm) {
        float *a = device_array<float>(8), *b = device_array<float>(8);
        return r == 0 ? expect(ncclReduceScatter(a, b, 8, ncclFloat, ncclSum, comm, 0), ncclInvalidArgument,
                               "or sendbuff is shorter than nranks * recvcount", r)
                      : expect(ncclAllGather(a, b, 8, ncclFloat, comm, 0), ncclInvalidArgument,
                               "or recvbuff is shorter than nranks * sendcount", r);
    });
    printf("%s\n", failures ? "FAIL nccl emulator self-test" : "PASS nccl emulator self-test");
    return failures ? 1 : 0;
}
