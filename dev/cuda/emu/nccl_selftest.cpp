// The emulated NCCL's own checks (dev/cuda/emu/nccl_emu.cpp), so that a broken emulator cannot
// pass the trainer's multi-rank tests: ranks are forked processes. Sums must equal the rank-order
// sums bit for bit (also across the chunk boundary), a broadcast must deliver the root's bytes, and
// each misuse must end every rank's call with the right error instead of a hang: collectives that
// differ between ranks, a rank that exited, a rank that does not answer in time, ranks that
// disagree on their number, a buffer outside device memory.
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
    scenario("1 rank: the all-reduce is a copy", 1, [](int, ncclComm_t comm) {
        float *in = device_array<float>(4), *out = device_array<float>(4), h[4] = {1, 2, 3, 4}, o[4];
        cudaMemcpy(in, h, sizeof h, cudaMemcpyHostToDevice);
        if (ncclAllReduce(in, out, 4, ncclFloat, ncclSum, comm, 0) != ncclSuccess) return 2;
        cudaMemcpy(o, out, sizeof o, cudaMemcpyDeviceToHost);
        return memcmp(h, o, sizeof h) != 0 ? 3 : (ncclCommDestroy(comm), 0);
    });
    scenario("ranks calling different collectives: every rank gets ncclInvalidUsage naming both", 3, [](int r, ncclComm_t comm) {
        float *buf = device_array<float>(16);
        ncclResult_t rc = r == 2 ? ncclBroadcast(buf, buf, 11, ncclFloat, 0, comm, 0) : ncclAllReduce(buf, buf, 10, ncclFloat, ncclSum, comm, 0);
        return expect(rc, ncclInvalidUsage, r == 2 ? "rank 2 calls broadcast of 11 float32 from rank 0, while rank 0 calls all-reduce of 10"
                                                   : "calls all-reduce of 10 float32, while rank 2 calls broadcast of 11", r);
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
    printf("%s\n", failures ? "FAIL nccl emulator self-test" : "PASS nccl emulator self-test");
    return failures ? 1 : 0;
}
