// The emulated NCCL of dev/cuda/emu/include/nccl.h. The ranks are processes on this machine; they
// meet in a file that all of them map, named inside the ncclUniqueId. A collective is complete
// when the call returns (the emulator's streams are synchronous): each rank copies its part into
// its slot of the file, all meet at a barrier, each reads what it needs, all meet again. Sums run
// in rank order, so every rank gets the same bits and a run repeats bitwise. The collectives:
// ncclAllReduce, ncclBroadcast, ncclReduceScatter and ncclAllGather (reductions: ncclSum only);
// a reduce-scatter's block gets the same bits as the all-reduce of the same data.
// What it reports that NCCL would not (NCCL hangs or corrupts memory instead):
//   - ranks calling different collectives, or the same one with different counts, types or roots;
//   - buffers outside device memory;
//   - a reduce-scatter's or all-gather's send and receive buffers that overlap other than in
//     NCCL's in-place form (recvbuff == sendbuff + rank * recvcount for a reduce-scatter,
//     sendbuff == recvbuff + rank * sendcount for an all-gather);
//   - ranks that disagree on the number of ranks, or two processes claiming one rank.
// As NCCL does, it refuses two ranks on one GPU (MEMLENS_EMU_DEVICES gives the emulator several)
// and ranks on different machines (which NCCL allows, but one shared file cannot serve).
// A rank that exited or aborted ends the call with ncclRemoteError and a message for
// ncclGetLastError, as NCCL's asynchronous error does on a GPU. A rank that does not answer within
// MEMLENS_DIST_TIMEOUT seconds (default 600) leaves a non-blocking communicator's call in progress
// for good, as a hung peer leaves NCCL's: the caller's own deadline has to end it.
#include <nccl.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <stdint.h>

#include <atomic>

static const int MAX_RANKS = 64;
static const size_t SLOT_BYTES = (size_t)4 << 20;  // each rank's part of one chunk of a collective
static const size_t HEADER_BYTES = 16384;
static const char ID_TAG[] = "memlens-emu-nccl-";
// The unique id: the shared file's path (NUL-terminated) in the first ID_PATH_BYTES, the host name
// after it.
static const size_t ID_PATH_BYTES = 96;
static_assert(std::atomic<int>::is_always_lock_free && std::atomic<long long>::is_always_lock_free,
              "the shared file needs address-free atomics");

enum OpKind { OP_NONE = 0, OP_ALLREDUCE, OP_BROADCAST, OP_REDUCESCATTER, OP_ALLGATHER };
static const char *const OP_NAME[] = {"none", "all-reduce", "broadcast", "reduce-scatter", "all-gather"};
static const char *const OP_STEP[] = {"none", "an all-reduce", "a broadcast", "a reduce-scatter", "an all-gather"};

// What one rank is about to do (checked against the others before any data moves).
struct OpDesc {
    std::atomic<int> kind, type, root;
    std::atomic<long long> count, seq;
};

// The start of the shared file; a fresh file is zeros, which is every field's initial state.
struct Shared {
    std::atomic<int> nranks;
    std::atomic<int> joined;
    std::atomic<int> departed;
    std::atomic<int> aborted_by;   // 1 + the rank that called ncclCommAbort, or 0
    std::atomic<int> pid[MAX_RANKS];  // 0: not yet joined; -1: left through ncclCommDestroy
    std::atomic<int> device[MAX_RANKS];  // 1 + the rank's GPU (cudaGetDevice at joining), or 0
    std::atomic<unsigned> barrier_waiting, barrier_generation;
    OpDesc op[MAX_RANKS];
};
static_assert(sizeof(Shared) <= HEADER_BYTES, "the header outgrew HEADER_BYTES");

struct EmuNcclComm {
    Shared *shared;
    char *slots;        // nranks slots of SLOT_BYTES after the header
    size_t map_bytes;
    int rank, nranks;
    char path[NCCL_UNIQUE_ID_BYTES];
    ncclResult_t state;  // ncclInProgress until every rank joined; an error sticks
    bool blocking;
    bool hung;           // a peer did not answer in time: in progress for good
    long long seq;
    double timeout_seconds;
};

static char last_error[768];

static ncclResult_t set_error(EmuNcclComm *c, ncclResult_t rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static ncclResult_t set_error(EmuNcclComm *c, ncclResult_t rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    if (c) c->state = rc;  // a failed communicator stays failed, as NCCL's does
    return rc;
}

static double now_seconds() {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static double read_timeout() {
    const char *s = getenv("MEMLENS_DIST_TIMEOUT");
    if (!s || !*s) return 600.0;
    char *end;
    double v = strtod(s, &end);
    return (*end || !(v > 0)) ? 600.0 : v;  // the program itself reports a malformed value
}

// A process that still runs (a zombie, killed but not yet reaped, counts as gone).
static bool process_alive(int pid) {
    if (kill(pid, 0) != 0 && errno == ESRCH) return false;
    char path[64], stat[256];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return true;  // no /proc: trust kill()
    size_t n = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[n] = 0;
    const char *paren = strrchr(stat, ')');
    return !(paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X'));
}

// Why the other ranks cannot answer (an abort, a rank that exited or left), or NULL.
static const char *peer_failure(EmuNcclComm *c, char *why, size_t len) {
    Shared *s = c->shared;
    int by = s->aborted_by.load();
    if (by) {
        snprintf(why, len, "rank %d aborted the communicator", by - 1);
        return why;
    }
    for (int r = 0; r < c->nranks; r++) {
        if (r == c->rank) continue;
        int pid = s->pid[r].load();
        if (pid == -1) {
            snprintf(why, len, "rank %d left the communicator (ncclCommDestroy) while this rank waits for it", r);
            return why;
        }
        if (pid > 0 && !process_alive(pid)) {
            snprintf(why, len, "rank %d (pid %d) exited", r, pid);
            return why;
        }
    }
    return NULL;
}

// Every rank arrives before any leaves (sense by generation). `what` names the step for messages.
static ncclResult_t barrier(EmuNcclComm *c, const char *what) {
    Shared *s = c->shared;
    const unsigned generation = s->barrier_generation.load();
    if ((int)s->barrier_waiting.fetch_add(1) + 1 == c->nranks) {
        s->barrier_waiting.store(0);
        s->barrier_generation.fetch_add(1);
        return ncclSuccess;
    }
    const double deadline = now_seconds() + c->timeout_seconds;
    double next_look = 0;  // peers' liveness (a kill() and a /proc read each) at most every 50 ms
    long spins = 0, pause_us = 1;
    char why[256];
    for (;;) {
        if (s->barrier_generation.load() != generation) return ncclSuccess;
        if (++spins < 64) continue;
        const double now = now_seconds();
        const char *failure = NULL;
        if (now >= next_look) {
            failure = peer_failure(c, why, sizeof why);
            next_look = now + 0.05;
        }
        // (a rank that left or exited after the barrier opened does not count: look again)
        if (s->barrier_generation.load() != generation) return ncclSuccess;
        if (failure) return set_error(c, ncclRemoteError, "nccl emulator: rank %d at %s: %s", c->rank, what, failure);
        if (now > deadline) {
            if (!c->blocking) {  // as with a hung peer on a GPU: the call never completes
                c->hung = true;
                snprintf(last_error, sizeof last_error, "nccl emulator: rank %d at %s: no answer from the other ranks in "
                         "%.0f s", c->rank, what, c->timeout_seconds);
                return ncclInProgress;
            }
            return set_error(c, ncclRemoteError, "nccl emulator: rank %d at %s: no answer from the other ranks in %.0f s "
                             "(a rank hangs; raise MEMLENS_DIST_TIMEOUT if ranks can legitimately drift apart this long)",
                             c->rank, what, c->timeout_seconds);
        }
        struct timespec t = {0, pause_us * 1000};
        nanosleep(&t, NULL);
        if (pause_us < 1000) pause_us *= 2;
    }
}

static size_t type_bytes(ncclDataType_t t) {
    switch (t) {
        case ncclInt8: case ncclUint8: return 1;
        case ncclInt32: case ncclUint32: case ncclFloat32: return 4;
        case ncclFloat64: return 8;
    }
    return 0;
}
static const char *type_name(int t) {
    switch (t) {
        case ncclInt8: return "int8";
        case ncclUint8: return "uint8";
        case ncclInt32: return "int32";
        case ncclUint32: return "uint32";
        case ncclFloat32: return "float32";
        case ncclFloat64: return "float64";
    }
    return "unknown type";
}

// recv[i] = slot 0 [at + i] + slot 1 [at + i] + ... in rank order (the all-reduce and the
// reduce-scatter share it, so that both give the same bits for the same elements).
template <typename T>
static void sum_slots(const EmuNcclComm *c, void *recv, size_t at, size_t n) {
    T *out = (T *)recv;
    for (size_t i = 0; i < n; i++) {
        T acc = ((const T *)c->slots)[at + i];
        for (int r = 1; r < c->nranks; r++) acc = (T)(acc + ((const T *)(c->slots + (size_t)r * SLOT_BYTES))[at + i]);
        out[i] = acc;
    }
}
static void sum_slots(const EmuNcclComm *c, ncclDataType_t type, void *recv, size_t at, size_t n) {
    switch (type) {
        case ncclInt8: sum_slots<int8_t>(c, recv, at, n); break;
        case ncclUint8: sum_slots<uint8_t>(c, recv, at, n); break;
        case ncclInt32: sum_slots<int32_t>(c, recv, at, n); break;
        case ncclUint32: sum_slots<uint32_t>(c, recv, at, n); break;
        case ncclFloat32: sum_slots<float>(c, recv, at, n); break;
        case ncclFloat64: sum_slots<double>(c, recv, at, n); break;
    }
}

static void describe(char *out, size_t len, int kind, long long count, int type, int root) {
    if (kind == OP_BROADCAST) snprintf(out, len, "broadcast of %lld %s from rank %d", count, type_name(type), root);
    else if (kind == OP_REDUCESCATTER) snprintf(out, len, "reduce-scatter of %lld %s to each rank", count, type_name(type));
    else if (kind == OP_ALLGATHER) snprintf(out, len, "all-gather of %lld %s from each rank", count, type_name(type));
    else snprintf(out, len, "all-reduce of %lld %s", count, type_name(type));
}

// The checks every collective starts with; afterwards all ranks agree on what moves. `count` is
// per rank: a reduce-scatter sends nranks * count elements, an all-gather receives as many.
static ncclResult_t begin_collective(EmuNcclComm *c, OpKind kind, const void *send, void *recv, size_t count,
                                     ncclDataType_t type, int root) {
    if (!c) return set_error(NULL, ncclInvalidArgument, "nccl emulator: a collective on a NULL communicator");
    if (c->hung) return ncclInProgress;
    if (c->state != ncclSuccess)
        return c->state == ncclInProgress
                   ? set_error(NULL, ncclInvalidUsage, "nccl emulator: rank %d: a collective before the communicator is ready "
                               "(wait until ncclCommGetAsyncError gives ncclSuccess)", c->rank)
                   : c->state;
    const size_t elem = type_bytes(type);
    if (!elem) return set_error(c, ncclInvalidArgument, "nccl emulator: rank %d: data type %d is not emulated", c->rank, (int)type);
    if (kind == OP_BROADCAST && (root < 0 || root >= c->nranks))
        return set_error(c, ncclInvalidArgument, "nccl emulator: rank %d: broadcast root %d of %d ranks", c->rank, root, c->nranks);
    if (count > SIZE_MAX / elem / (size_t)c->nranks)
        return set_error(c, ncclInvalidArgument, "nccl emulator: rank %d: a %s of %zu elements per rank overflows size_t",
                         c->rank, OP_NAME[kind], count);
    const size_t send_bytes = (kind == OP_REDUCESCATTER ? (size_t)c->nranks : 1) * count * elem;
    const size_t recv_bytes = (kind == OP_ALLGATHER ? (size_t)c->nranks : 1) * count * elem;
    const bool sends = kind != OP_BROADCAST || c->rank == root;
    if (count && ((sends && !emu_on_device(send, send_bytes)) || !emu_on_device(recv, recv_bytes)))
        return set_error(c, ncclInvalidArgument, "nccl emulator: rank %d: a buffer of the %s is not device memory (cudaMalloc)"
                         "%s", c->rank, OP_NAME[kind], kind == OP_REDUCESCATTER ? ", or sendbuff is shorter than nranks * "
                         "recvcount elements" : kind == OP_ALLGATHER ? ", or recvbuff is shorter than nranks * sendcount elements" : "");
    // NCCL allows one in-place form for these two (this rank's block of the long buffer is the
    // short one); any other overlap it computes silently wrong, so the emulator refuses it.
    if (count && (kind == OP_REDUCESCATTER || kind == OP_ALLGATHER)) {
        const bool rs = kind == OP_REDUCESCATTER;
        const uintptr_t whole = (uintptr_t)(rs ? send : recv), part = (uintptr_t)(rs ? recv : send);
        const size_t whole_bytes = rs ? send_bytes : recv_bytes, part_bytes = count * elem;
        const size_t in_place = (size_t)c->rank * count * elem;
        if (part != whole + in_place && part < whole + whole_bytes && whole < part + part_bytes)
            return set_error(c, ncclInvalidArgument, "nccl emulator: rank %d: %s of %zu %s: %s starts %+lld bytes from %s "
                             "and overlaps it, but NCCL's only in-place form is %s (%zu bytes on rank %d); any other overlap is "
                             "undefined in NCCL", c->rank, rs ? "a reduce-scatter" : "an all-gather", count, type_name(type),
                             rs ? "recvbuff" : "sendbuff", (long long)(part - whole), rs ? "sendbuff" : "recvbuff",
                             rs ? "recvbuff == sendbuff + rank * recvcount" : "sendbuff == recvbuff + rank * sendcount",
                             in_place, c->rank);
    }
    OpDesc &mine = c->shared->op[c->rank];
    mine.kind.store(kind);
    mine.type.store(type);
    mine.root.store(kind == OP_BROADCAST ? root : -1);
    mine.count.store((long long)count);
    mine.seq.store(++c->seq);
    ncclResult_t rc = barrier(c, OP_STEP[kind]);
    if (rc != ncclSuccess) return rc;
    for (int r = 0; r < c->nranks; r++) {
        const OpDesc &o = c->shared->op[r];
        // (the barriers pair each rank's n-th collective, so seq is the same on every rank: it
        // only numbers the collective in the message)
        if (o.kind.load() != mine.kind.load() || o.type.load() != mine.type.load() || o.root.load() != mine.root.load() ||
            o.count.load() != mine.count.load()) {
            char a[160], b[160];
            describe(a, sizeof a, mine.kind.load(), mine.count.load(), mine.type.load(), mine.root.load());
            describe(b, sizeof b, o.kind.load(), o.count.load(), o.type.load(), o.root.load());
            return set_error(c, ncclInvalidUsage, "nccl emulator: at collective #%lld rank %d calls %s, while rank %d calls "
                             "%s (on a GPU this hangs or corrupts memory)", mine.seq.load(), c->rank, a, r, b);
        }
    }
    // no rank may overwrite its descriptor before every rank has compared
    return barrier(c, "the check of a collective");
}

ncclResult_t ncclGetVersion(int *version) {
    *version = 0;  // not a NCCL release: the trainer prints "NCCL 0.0.0"
    return ncclSuccess;
}

// The shared file is created here, by the one rank that makes the id, and only opened by the
// others: a rank that comes after an abort removed it finds no file instead of a fresh one.
ncclResult_t ncclGetUniqueId(ncclUniqueId *id) {
    memset(id, 0, sizeof *id);
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    unsigned nonce = (unsigned)(t.tv_nsec ^ (t.tv_sec << 20) ^ ((unsigned)getpid() << 8));
    int n = snprintf(id->internal, ID_PATH_BYTES, "%s/%s%d-%08x", dir, ID_TAG, (int)getpid(), nonce);
    if (n < 0 || (size_t)n >= ID_PATH_BYTES)
        return set_error(NULL, ncclSystemError, "nccl emulator: TMPDIR=%s is too long for a unique id (use a shorter TMPDIR)", dir);
    gethostname(id->internal + ID_PATH_BYTES, NCCL_UNIQUE_ID_BYTES - ID_PATH_BYTES - 1);
    int fd = open(id->internal, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    if (fd < 0) return set_error(NULL, ncclSystemError, "nccl emulator: cannot create %s: %s", id->internal, strerror(errno));
    close(fd);
    return ncclSuccess;
}

ncclResult_t ncclCommInitRankConfig(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank, ncclConfig_t *config) {
    *comm = NULL;
    if (nranks < 1 || nranks > MAX_RANKS || rank < 0 || rank >= nranks)
        return set_error(NULL, ncclInvalidArgument, "nccl emulator: rank %d of %d ranks (1..%d ranks emulated)", rank, nranks,
                         MAX_RANKS);
    if (!memchr(id.internal, 0, ID_PATH_BYTES) || !strstr(id.internal, ID_TAG) || !memchr(id.internal + ID_PATH_BYTES, 0,
                                                                                          NCCL_UNIQUE_ID_BYTES - ID_PATH_BYTES))
        return set_error(NULL, ncclInvalidArgument, "nccl emulator: the unique id does not come from ncclGetUniqueId");
    char host[NCCL_UNIQUE_ID_BYTES] = "";
    gethostname(host, NCCL_UNIQUE_ID_BYTES - ID_PATH_BYTES - 1);
    if (strcmp(host, id.internal + ID_PATH_BYTES) != 0)
        return set_error(NULL, ncclInvalidUsage, "nccl emulator: rank %d runs on %s, but the id was made on %s (the emulated NCCL "
                         "joins processes of one machine only)", rank, host, id.internal + ID_PATH_BYTES);
    EmuNcclComm *c = new EmuNcclComm();
    c->rank = rank;
    c->nranks = nranks;
    c->timeout_seconds = read_timeout();
    c->blocking = !config || config->blocking;
    snprintf(c->path, sizeof c->path, "%s", id.internal);
    c->map_bytes = HEADER_BYTES + (size_t)nranks * SLOT_BYTES;  // sparse: only the used pages take memory
    int fd = open(c->path, O_RDWR | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || ((size_t)st.st_size < c->map_bytes && ftruncate(fd, (off_t)c->map_bytes) != 0)) {
        int e = errno;
        if (fd >= 0) close(fd);
        delete c;
        if (e == ENOENT)
            return set_error(NULL, ncclRemoteError, "nccl emulator: rank %d: %s is gone (another rank aborted, or ended, "
                             "before this one joined)", rank, id.internal);
        return set_error(NULL, ncclSystemError, "nccl emulator: %s: %s", id.internal, strerror(e));
    }
    void *map = mmap(NULL, c->map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        delete c;
        return set_error(NULL, ncclSystemError, "nccl emulator: cannot map %s: %s", id.internal, strerror(errno));
    }
    c->shared = (Shared *)map;
    c->slots = (char *)map + HEADER_BYTES;
    *comm = c;
    int expected = 0;
    if (!c->shared->nranks.compare_exchange_strong(expected, nranks) && expected != nranks)
        return set_error(c, ncclInvalidUsage, "nccl emulator: rank %d was told of %d ranks, another rank of %d", rank, nranks,
                         expected);
    expected = 0;
    if (!c->shared->pid[rank].compare_exchange_strong(expected, (int)getpid()))
        return set_error(c, ncclInvalidUsage, "nccl emulator: rank %d is claimed twice (pid %d and pid %d)", rank, expected,
                         (int)getpid());
    // NCCL refuses two ranks on one GPU ("Duplicate GPU detected"); so does the emulator. Each rank
    // publishes its device, then looks at the others': of two that collide, the later one sees it.
    int device = 0;
    cudaGetDevice(&device);
    c->shared->device[rank].store(device + 1);
    for (int r = 0; r < nranks; r++)
        if (r != rank && c->shared->device[r].load() == device + 1)
            return set_error(c, ncclInvalidUsage, "nccl emulator: ranks %d and %d both use GPU %d (NCCL refuses two ranks on one "
                             "GPU: give each rank its own; the emulator shows MEMLENS_EMU_DEVICES of them)", r, rank, device);
    c->shared->joined.fetch_add(1);
    c->state = ncclInProgress;
    if (!c->blocking) return ncclInProgress;
    ncclResult_t rc;
    const double deadline = now_seconds() + c->timeout_seconds;
    while (ncclCommGetAsyncError(c, &rc) == ncclSuccess && rc == ncclInProgress) {
        if (now_seconds() > deadline)
            return set_error(c, ncclRemoteError, "nccl emulator: rank %d joining: %d of %d ranks came in %.0f s", rank,
                             c->shared->joined.load(), nranks, c->timeout_seconds);
        usleep(1000);
    }
    return rc;
}

ncclResult_t ncclCommGetAsyncError(ncclComm_t c, ncclResult_t *async_error) {
    if (!c) return set_error(NULL, ncclInvalidArgument, "nccl emulator: ncclCommGetAsyncError on a NULL communicator");
    if (c->state == ncclInProgress && !c->hung) {
        char why[256];
        const char *failure = peer_failure(c, why, sizeof why);
        if (c->shared->joined.load() == c->nranks) c->state = ncclSuccess;
        else if (failure) set_error(c, ncclRemoteError, "nccl emulator: rank %d joining: %s", c->rank, failure);
    }
    *async_error = c->hung ? ncclInProgress : c->state;
    return ncclSuccess;
}

ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype, ncclRedOp_t op,
                           ncclComm_t c, cudaStream_t) {
    if (op != ncclSum) return set_error(c, ncclInvalidArgument, "nccl emulator: only ncclSum is emulated");
    ncclResult_t rc = begin_collective(c, OP_ALLREDUCE, sendbuff, recvbuff, count, datatype, 0);
    if (rc != ncclSuccess) return rc;
    const size_t elem = type_bytes(datatype), per_chunk = SLOT_BYTES / elem;
    for (size_t first = 0; first < count; first += per_chunk) {
        const size_t n = count - first < per_chunk ? count - first : per_chunk;
        memcpy(c->slots + (size_t)c->rank * SLOT_BYTES, (const char *)sendbuff + first * elem, n * elem);
        if ((rc = barrier(c, "an all-reduce")) != ncclSuccess) return rc;
        // (recvbuff may be sendbuff: the slots hold the inputs)
        sum_slots(c, datatype, (char *)recvbuff + first * elem, 0, n);
        if ((rc = barrier(c, "an all-reduce")) != ncclSuccess) return rc;  // before the slots take the next chunk
    }
    return ncclSuccess;
}

ncclResult_t ncclBroadcast(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype, int root, ncclComm_t c,
                           cudaStream_t) {
    ncclResult_t rc = begin_collective(c, OP_BROADCAST, sendbuff, recvbuff, count, datatype, root);
    if (rc != ncclSuccess) return rc;
    const size_t elem = type_bytes(datatype), per_chunk = SLOT_BYTES / elem;
    char *slot = c->slots + (size_t)root * SLOT_BYTES;
    for (size_t first = 0; first < count; first += per_chunk) {
        const size_t n = count - first < per_chunk ? count - first : per_chunk;
        if (c->rank == root) memcpy(slot, (const char *)sendbuff + first * elem, n * elem);
        if ((rc = barrier(c, "a broadcast")) != ncclSuccess) return rc;
        memmove((char *)recvbuff + first * elem, slot, n * elem);
        if ((rc = barrier(c, "a broadcast")) != ncclSuccess) return rc;
    }
    return ncclSuccess;
}

// Chunk by chunk of the blocks: each rank puts its n elements of every rank's block into its
// slot (block b at b * n), then rank r sums block r of all slots in rank order.
ncclResult_t ncclReduceScatter(const void *sendbuff, void *recvbuff, size_t recvcount, ncclDataType_t datatype,
                               ncclRedOp_t op, ncclComm_t c, cudaStream_t) {
    if (op != ncclSum) return set_error(c, ncclInvalidArgument, "nccl emulator: only ncclSum is emulated");
    ncclResult_t rc = begin_collective(c, OP_REDUCESCATTER, sendbuff, recvbuff, recvcount, datatype, 0);
    if (rc != ncclSuccess) return rc;
    const size_t elem = type_bytes(datatype), per_chunk = SLOT_BYTES / elem / (size_t)c->nranks;
    char *slot = c->slots + (size_t)c->rank * SLOT_BYTES;
    for (size_t first = 0; first < recvcount; first += per_chunk) {
        const size_t n = recvcount - first < per_chunk ? recvcount - first : per_chunk;
        for (int b = 0; b < c->nranks; b++)
            memcpy(slot + (size_t)b * n * elem, (const char *)sendbuff + ((size_t)b * recvcount + first) * elem, n * elem);
        if ((rc = barrier(c, "a reduce-scatter")) != ncclSuccess) return rc;
        // (in place, this writes only the part of this rank's block that is already in the slot)
        sum_slots(c, datatype, (char *)recvbuff + first * elem, (size_t)c->rank * n, n);
        if ((rc = barrier(c, "a reduce-scatter")) != ncclSuccess) return rc;  // before the slots take the next chunk
    }
    return ncclSuccess;
}

// Chunk by chunk: each rank puts its n elements into its slot, then every rank copies slot q into
// block q of recvbuff (in place, block `rank` gets back the bytes it already holds).
ncclResult_t ncclAllGather(const void *sendbuff, void *recvbuff, size_t sendcount, ncclDataType_t datatype, ncclComm_t c,
                           cudaStream_t) {
    ncclResult_t rc = begin_collective(c, OP_ALLGATHER, sendbuff, recvbuff, sendcount, datatype, 0);
    if (rc != ncclSuccess) return rc;
    const size_t elem = type_bytes(datatype), per_chunk = SLOT_BYTES / elem;
    for (size_t first = 0; first < sendcount; first += per_chunk) {
        const size_t n = sendcount - first < per_chunk ? sendcount - first : per_chunk;
        memcpy(c->slots + (size_t)c->rank * SLOT_BYTES, (const char *)sendbuff + first * elem, n * elem);
        if ((rc = barrier(c, "an all-gather")) != ncclSuccess) return rc;
        for (int q = 0; q < c->nranks; q++)
            memmove((char *)recvbuff + ((size_t)q * sendcount + first) * elem, c->slots + (size_t)q * SLOT_BYTES, n * elem);
        if ((rc = barrier(c, "an all-gather")) != ncclSuccess) return rc;
    }
    return ncclSuccess;
}

ncclResult_t ncclCommFinalize(ncclComm_t c) {
    if (!c) return set_error(NULL, ncclInvalidArgument, "nccl emulator: ncclCommFinalize on a NULL communicator");
    if (c->hung) return ncclInProgress;
    return c->state == ncclInProgress ? ncclInvalidUsage : c->state;  // every collective has completed already
}

static void release(EmuNcclComm *c) {
    munmap(c->shared, c->map_bytes);
    delete c;
}

ncclResult_t ncclCommDestroy(ncclComm_t c) {
    if (!c) return ncclSuccess;
    c->shared->pid[c->rank].store(-1);
    if (c->shared->departed.fetch_add(1) + 1 == c->nranks) unlink(c->path);  // the last one out removes the file
    release(c);
    return ncclSuccess;
}

ncclResult_t ncclCommAbort(ncclComm_t c) {
    if (!c) return ncclSuccess;
    int none = 0;
    c->shared->aborted_by.compare_exchange_strong(none, c->rank + 1);
    unlink(c->path);  // the others keep their mappings; nobody joins later
    release(c);
    return ncclSuccess;
}

const char *ncclGetErrorString(ncclResult_t result) {
    switch (result) {
        case ncclSuccess: return "no error";
        case ncclUnhandledCudaError: return "unhandled cuda error";
        case ncclSystemError: return "unhandled system error";
        case ncclInternalError: return "internal error";
        case ncclInvalidArgument: return "invalid argument";
        case ncclInvalidUsage: return "invalid usage";
        case ncclRemoteError: return "remote process exited or there was a network error";
        case ncclInProgress: return "NCCL operation in progress";
    }
    return "unknown result code";
}

const char *ncclGetLastError(ncclComm_t) { return last_error; }

