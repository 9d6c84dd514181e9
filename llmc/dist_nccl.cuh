// Data parallelism of the CUDA trainer: one process per GPU, the NCCL communicator of the ranks
// and the collectives on the GPU. llmc/dist.h says who we are (world size, rank, local rank from
// mpirun, srun or MEMLENS_* variables); this file picks the GPU, creates the communicator and
// moves the data.
//
// How the ranks meet (--nccl_init):
//   mpi (default)   the ranks were started by mpirun, or by srun with PMI: llmc/dist.c initialises
//                   MPI and rank 0's ncclUniqueId goes to the others by MPI broadcast.
//   file:PATH       no MPI at all: the ranks come from the environment (SLURM_PROCID/SLURM_NTASKS/
//   tcp:HOST:PORT   SLURM_LOCALID of an srun step, or MEMLENS_RANK/MEMLENS_WORLD_SIZE/
//                   MEMLENS_LOCAL_RANK) and the id goes through llmc/rendezvous.h.
// Given explicitly, --nccl_init creates the communicator even for one rank, so that a one-GPU
// run goes through every step of the multi-GPU path (the all-reduce of one rank is a copy).
//
// Collectives. The fp32 gradients are summed in place on the GPU with ncclAllReduce after the
// accumulation passes (each rank's gradient is already weighted by its share of the step, so the
// sum is the mean). Host values (losses, the resume step) go through a small device buffer. NCCL
// sums in an order fixed by the world size and the topology, so a run is bitwise repeatable (and
// resumable) with the same ranks on the same kind of machine; other world sizes agree to rounding.
//
// Deadlines. The communicator is non-blocking (ncclCommInitRankConfig with blocking = 0): every
// wait polls ncclCommGetAsyncError and the stream against the MEMLENS_DIST_TIMEOUT deadline of
// llmc/dist.h (default 600 s). A rank that died or hangs makes the others stop with one line
// ("train_gpt2cu: error: rank 0 of 8: all-reduce of gradients: no answer from the other ranks in
// 600 s ...") after ncclCommAbort, instead of spinning on the GPU forever.
//
// Built without NCCL (nccl.h not found by the Makefile: no -DUSE_NCCL), one process works as
// before and a launch as several ranks, or with --nccl_init, is refused with one line.
#ifndef LLMC_DIST_NCCL_CUH
#define LLMC_DIST_NCCL_CUH

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cuda_common.cuh"
#ifdef USE_NCCL
#include <nccl.h>
#endif

extern "C" {
#include "dist.h"
#include "rendezvous.h"
#include "utils.h"
}

// Small host-value collectives (losses, the resume step, barriers) go through this many bytes.
#define DIST_GPU_SCRATCH_BYTES 512

typedef struct {
    const char *nccl_init;  // NULL (= mpi when there are several ranks), "mpi", "file:PATH" or "tcp:HOST:PORT"
    int gpu;                // --gpu N, or -1: the local rank's GPU
} DistGpuFlags;

typedef struct {
    Dist *dist;
    int active;             // 1 when a communicator exists: several ranks, or --nccl_init given
    int device;
#ifdef USE_NCCL
    ncclComm_t comm;
#endif
    cudaStream_t stream;    // the host-value collectives
    void *scratch;          // DIST_GPU_SCRATCH_BYTES on the device
    double allowed_seconds; // what the current wait may take (dist_take_wait_seconds)
} DistNccl;

static int dist_gpu_uses_rendezvous(const DistGpuFlags *f) { return f->nccl_init && strcmp(f->nccl_init, "mpi") != 0; }

// Takes --nccl_init and --gpu ("--flag value" or "--flag=value") out of argv, before dist_init
// and the trainer's own parser; checks their values.
static DistGpuFlags dist_gpu_take_flags(int *argc, char **argv) {
    DistGpuFlags f = {NULL, -1};
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *names[] = {"--nccl_init", "--gpu"}, *value = NULL;
        int which = -1;
        for (int k = 0; k < 2 && which < 0; k++) {
            size_t n = strlen(names[k]);
            if (strcmp(argv[i], names[k]) == 0) {
                if (i + 1 >= *argc)
                    die("%s needs a value (%s)", names[k], k == 0 ? "--nccl_init mpi, file:/shared/dir/nccl_id or tcp:HOST:PORT"
                                                                  : "--gpu 0 for the first GPU of the node");
                which = k;
                value = argv[++i];
            } else if (strncmp(argv[i], names[k], n) == 0 && argv[i][n] == '=') {
                which = k;
                value = argv[i] + n + 1;
            }
        }
        if (which < 0) {
            argv[out++] = argv[i];
            continue;
        }
        if (which == 0) {
            Rendezvous r;
            char why[512];
            if (strcmp(value, "mpi") != 0 && rendezvous_parse(&r, value, why, sizeof why) != 0)
                die("--nccl_init %s: %s, or mpi under mpirun", value, why);
            f.nccl_init = value;
        } else {
            char *end;
            long gpu = strtol(value, &end, 10);
            if (!*value || *end || gpu < 0 || gpu > 1023) die("--gpu %s: not a GPU number (use --gpu 0 for the first GPU of the node)", value);
            f.gpu = (int)gpu;
        }
    }
    *argc = out;
    argv[out] = NULL;
    return f;
}

// dist_init, or, for a file/TCP rendezvous, only the launcher's environment (no MPI).
static void dist_gpu_launch(Dist *d, int *argc, char ***argv, const DistGpuFlags *f) {
#ifdef USE_NCCL
    if (dist_gpu_uses_rendezvous(f)) dist_init_env(d);
    else dist_init(d, argc, argv);
#else
    // Without NCCL there is nothing to move gradients with: one process only, and MPI stays untouched.
    (void)argc; (void)argv;
    dist_init_env(d);
    if (d->world_size > 1 || f->nccl_init) {
        // Every rank says it: under a file/TCP rendezvous no launcher may be there to end the others.
        char which[64] = "";
        if (d->world_size > 1) snprintf(which, sizeof which, " (rank %d of %d)", d->rank, d->world_size);
        die("%s was built without NCCL (nccl.h was not found at build time) and trains on one GPU only%s%s (install NCCL, "
            "e.g. libnccl-dev, then `make clean-cuda all`; the Makefile says at build time whether it found it)",
            program_name(), d->world_size > 1 ? ", but it was launched as several ranks" : "; drop --nccl_init", which);
    }
#endif
}

// The GPU of this rank: --gpu if given; the only visible one (srun --gpus-per-task=1, or a
// CUDA_VISIBLE_DEVICES per rank); else the local rank's.
static int dist_gpu_pick_device(Dist *d, int requested) {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
        (void)cudaGetLastError();
        return 0;  // gpu_check_device_at says what is wrong
    }
    if (requested >= 0) {
        if (requested >= count) dist_abort(d, "--gpu %d: this node shows %d GPU%s (0..%d)", requested, count, count == 1 ? "" : "s", count - 1);
        return requested;
    }
    if (count == 1) return 0;
    if (d->local_rank >= count)
        dist_abort(d, "this is local rank %d on its node, but the node shows only %d GPUs (start at most %d ranks per node, "
                   "or pick one with --gpu)", d->local_rank, count, count);
    return d->local_rank;
}

#ifdef USE_NCCL
static double dist_gpu_deadline(DistNccl *nc) {
    nc->allowed_seconds = dist_take_wait_seconds(nc->dist);
    return now_seconds() + nc->allowed_seconds;
}

// A collective failed or timed out: end this rank's NCCL work, then the whole job, with one line.
__attribute__((noreturn)) static void dist_gpu_fail(DistNccl *nc, const char *message) {
    if (nc->comm) ncclCommAbort(nc->comm);
    nc->comm = NULL;
    dist_abort(nc->dist, "%s", message);
}

__attribute__((noreturn)) static void dist_gpu_timeout(DistNccl *nc, const char *operation, const char *what) {
    char message[768];
    snprintf(message, sizeof message, "%s of %s: no answer from the other ranks in %.0f s (a rank died or hangs: see its "
             "messages; raise MEMLENS_DIST_TIMEOUT if ranks can legitimately drift apart this long)", operation, what,
             nc->allowed_seconds);
    dist_gpu_fail(nc, message);
}

__attribute__((noreturn)) static void dist_gpu_error(DistNccl *nc, ncclResult_t rc, const char *operation, const char *what) {
    char message[768];
    const char *detail = ncclGetLastError(nc->comm);
    snprintf(message, sizeof message, "%s of %s failed in NCCL: %s%s%s (see the other ranks' messages; NCCL_DEBUG=WARN "
             "tells more; a CUDA error here is often GPU memory: leave more free with a smaller batch)", operation, what,
             ncclGetErrorString(rc), detail && *detail ? ": " : "", detail ? detail : "");
    dist_gpu_fail(nc, message);
}

static void dist_gpu_pause(long *pause_us, long max_us) {
    struct timespec t = {0, *pause_us * 1000};
    nanosleep(&t, NULL);
    if (*pause_us < max_us) *pause_us *= 2;
}

// A call on the non-blocking communicator returned rc: wait until it is no longer in progress.
static void dist_gpu_wait_call(DistNccl *nc, ncclResult_t rc, const char *operation, const char *what, double deadline) {
    long pause_us = 10;
    while (rc == ncclInProgress) {
        if (now_seconds() > deadline) dist_gpu_timeout(nc, operation, what);
        dist_gpu_pause(&pause_us, 10000);
        ncclResult_t query = ncclCommGetAsyncError(nc->comm, &rc);
        if (query != ncclSuccess) rc = query;
    }
    if (rc != ncclSuccess) dist_gpu_error(nc, rc, operation, what);
}

// Wait until the work queued on `stream` (the collective and what came before it) is done,
// watching for NCCL errors (a peer that died) and the deadline.
static void dist_gpu_wait_stream(DistNccl *nc, cudaStream_t stream, const char *operation, const char *what, double deadline) {
    long pause_us = 2;
    for (;;) {
        cudaError_t e = cudaStreamQuery(stream);
        if (e == cudaSuccess) return;
        if (e != cudaErrorNotReady) cuda_check(e);
        ncclResult_t async = ncclSuccess;
        ncclResult_t query = ncclCommGetAsyncError(nc->comm, &async);
        if (query != ncclSuccess) async = query;
        if (async != ncclSuccess && async != ncclInProgress) dist_gpu_error(nc, async, operation, what);
        if (now_seconds() > deadline) dist_gpu_timeout(nc, operation, what);
        dist_gpu_pause(&pause_us, 200);
    }
}
#endif

// The communicator of the ranks, on `device` (already current: gpu_check_device_at). Nothing to
// do for one rank without --nccl_init.
static void dist_gpu_setup(DistNccl *nc, Dist *d, const DistGpuFlags *f, int device) {
    memset(nc, 0, sizeof *nc);
    nc->dist = d;
    nc->device = device;
    if (d->world_size <= 1 && !f->nccl_init) return;
#ifdef USE_NCCL
    double deadline = dist_gpu_deadline(nc);
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    if (d->rank == 0) {
        ncclResult_t rc = ncclGetUniqueId(&id);
        if (rc != ncclSuccess)
            dist_abort(d, "ncclGetUniqueId failed: %s (NCCL finds no usable network interface? set NCCL_SOCKET_IFNAME)",
                       ncclGetErrorString(rc));
    }
    Rendezvous rendezvous;
    const char *how = "MPI";
    if (dist_gpu_uses_rendezvous(f)) {
        char why[768];
        if (rendezvous_parse(&rendezvous, f->nccl_init, why, sizeof why) != 0 ||
            rendezvous_share(&rendezvous, d->rank, d->world_size, &id, sizeof id, d->timeout_seconds, why, sizeof why) != 0)
            dist_abort(d, "--nccl_init %s: %s", f->nccl_init, why);
        how = rendezvous.kind == RENDEZVOUS_FILE ? "a shared file" : "TCP";
    } else {
        dist_broadcast(d, &id, sizeof id, 0, "the NCCL id");
    }
    // NCCL (2.22 on) connects ranks, and allocates those connections' GPU buffers, at the first
    // collective of each kind. The model sizes its batch from the memory free after this setup, so
    // ask for the connections now, where that measurement sees them; otherwise a batch at the limit
    // fails in the first step with an NCCL error instead of the batch-size message. A user's own
    // setting wins.
    setenv("NCCL_RUNTIME_CONNECT", "0", 0);
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    ncclResult_t rc = ncclCommInitRankConfig(&nc->comm, d->world_size, id, d->rank, &config);
    if (rc != ncclSuccess && rc != ncclInProgress && !nc->comm)
        dist_abort(d, "ncclCommInitRankConfig failed: %s (%s)", ncclGetErrorString(rc), ncclGetLastError(NULL));
    dist_gpu_wait_call(nc, rc, "setup", "the NCCL communicator", deadline);
    // Every rank is in (the communicator needs all of them), so the id file has done its job.
    if (dist_gpu_uses_rendezvous(f)) rendezvous_finish(&rendezvous, d->rank);
    cuda_check(cudaStreamCreateWithFlags(&nc->stream, cudaStreamNonBlocking));
    cuda_check(cudaMalloc(&nc->scratch, DIST_GPU_SCRATCH_BYTES));
    nc->active = 1;
    int version = 0;
    ncclGetVersion(&version);
    printf("nccl: %d rank%s, ids shared through %s, NCCL %d.%d.%d, NCCL_RUNTIME_CONNECT=%s; rank 0 on GPU %d\n",
           d->world_size, d->world_size == 1 ? "" : "s", how, version / 10000, (version / 100) % 100, version % 100,
           getenv("NCCL_RUNTIME_CONNECT"), device);
    fflush(stdout);
#else
    dist_abort(d, "built without NCCL: several ranks are not possible (see dist_gpu_launch)");
#endif
}

// In place on the device: buf (n) <- sum over ranks, after the work already queued on `stream`.
// Returns when the sum is complete.
static void dist_gpu_allreduce_sum_float(DistNccl *nc, float *buf, size_t n, cudaStream_t stream, const char *what) {
    if (!nc->active) return;
#ifdef USE_NCCL
    double deadline = dist_gpu_deadline(nc);
    dist_gpu_wait_call(nc, ncclAllReduce(buf, buf, n, ncclFloat, ncclSum, nc->comm, stream), "all-reduce", what, deadline);
    dist_gpu_wait_stream(nc, stream, "all-reduce", what, deadline);
#endif
}

// ZeRO-1 (train_gpt2.cu --zero_stage 1). buf holds world_size blocks of `block` floats (the
// padded layout of dist_zero_shard), and NCCL works in place on this rank's block.
// Reduce-scatter: this rank's block <- its sum over ranks (the rest of buf is left to NCCL).
static void dist_gpu_reduce_scatter_sum_float(DistNccl *nc, float *buf, size_t block, cudaStream_t stream, const char *what) {
    if (!nc->active) return;
#ifdef USE_NCCL
    double deadline = dist_gpu_deadline(nc);
    float *mine = buf + (size_t)nc->dist->rank * block;
    dist_gpu_wait_call(nc, ncclReduceScatter(buf, mine, block, ncclFloat, ncclSum, nc->comm, stream), "reduce-scatter", what,
                       deadline);
    dist_gpu_wait_stream(nc, stream, "reduce-scatter", what, deadline);
#endif
}

// All-gather: every rank's block to every rank.
static void dist_gpu_allgather_float(DistNccl *nc, float *buf, size_t block, cudaStream_t stream, const char *what) {
    if (!nc->active) return;
#ifdef USE_NCCL
    double deadline = dist_gpu_deadline(nc);
    const float *mine = buf + (size_t)nc->dist->rank * block;
    dist_gpu_wait_call(nc, ncclAllGather(mine, buf, block, ncclFloat, nc->comm, stream), "all-gather", what, deadline);
    dist_gpu_wait_stream(nc, stream, "all-gather", what, deadline);
#endif
}

// Host values through the scratch buffer: sum of doubles, broadcast of bytes from root, barrier.
static void dist_gpu_allreduce_sum_double(DistNccl *nc, double *buf, size_t n, const char *what) {
    if (!nc->active) return;
    if (n * sizeof(double) > DIST_GPU_SCRATCH_BYTES) die("dist_gpu_allreduce_sum_double: %zu values is more than the scratch holds", n);
#ifdef USE_NCCL
    double deadline = dist_gpu_deadline(nc);
    cuda_check(cudaMemcpyAsync(nc->scratch, buf, n * sizeof(double), cudaMemcpyHostToDevice, nc->stream));
    dist_gpu_wait_call(nc, ncclAllReduce(nc->scratch, nc->scratch, n, ncclDouble, ncclSum, nc->comm, nc->stream), "all-reduce",
                       what, deadline);
    cuda_check(cudaMemcpyAsync(buf, nc->scratch, n * sizeof(double), cudaMemcpyDeviceToHost, nc->stream));
    dist_gpu_wait_stream(nc, nc->stream, "all-reduce", what, deadline);
#endif
}

static void dist_gpu_broadcast(DistNccl *nc, void *buf, size_t bytes, int root, const char *what) {
    if (!nc->active) return;
    if (bytes > DIST_GPU_SCRATCH_BYTES) die("dist_gpu_broadcast: %zu bytes is more than the scratch holds", bytes);
#ifdef USE_NCCL
    double deadline = dist_gpu_deadline(nc);
    cuda_check(cudaMemcpyAsync(nc->scratch, buf, bytes, cudaMemcpyHostToDevice, nc->stream));
    dist_gpu_wait_call(nc, ncclBroadcast(nc->scratch, nc->scratch, bytes, ncclUint8, root, nc->comm, nc->stream), "broadcast",
                       what, deadline);
    cuda_check(cudaMemcpyAsync(buf, nc->scratch, bytes, cudaMemcpyDeviceToHost, nc->stream));
    dist_gpu_wait_stream(nc, nc->stream, "broadcast", what, deadline);
#endif
}

static void dist_gpu_barrier(DistNccl *nc, const char *what) {
    double nothing = 0.0;
    dist_gpu_allreduce_sum_double(nc, &nothing, 1, what);
}

// The end of the run: every rank waits for the others (rank 0 writes the model meanwhile), the
// communicator is closed, then MPI (if any).
static void dist_gpu_finalize(DistNccl *nc) {
#ifdef USE_NCCL
    if (nc->active) {
        dist_gpu_barrier(nc, "the end of the run");
        double deadline = dist_gpu_deadline(nc);
        dist_gpu_wait_call(nc, ncclCommFinalize(nc->comm), "shutdown", "the NCCL communicator", deadline);
        ncclCommDestroy(nc->comm);
        nc->comm = NULL;
        cuda_check(cudaFree(nc->scratch));
        cuda_check(cudaStreamDestroy(nc->stream));
        nc->active = 0;
    }
#endif
    dist_finalize(nc->dist);
}

#endif
