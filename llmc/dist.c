// Process group and collectives for data parallelism; see dist.h for the contract.
#include "dist.h"

#include <errno.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "utils.h"

#ifdef USE_MPI
#include <mpi.h>
#endif

static const double DEFAULT_TIMEOUT_SECONDS = 600.0;

size_t dist_share(size_t n, int world_size, int rank, size_t *first) {
    size_t W = (size_t)world_size, r = (size_t)rank;
    size_t base = n / W, extra = n % W;
    // The first `extra` ranks take one more item each.
    if (first) *first = r * base + (r < extra ? r : extra);
    return base + (r < extra ? 1 : 0);
}

size_t dist_zero_block(size_t n, int world_size) {
    size_t even = (n + (size_t)world_size - 1) / (size_t)world_size;
    return (even + DIST_ZERO_ALIGN - 1) / DIST_ZERO_ALIGN * DIST_ZERO_ALIGN;
}

size_t dist_zero_shard(size_t n, int world_size, int rank, size_t *first) {
    size_t block = dist_zero_block(n, world_size);
    size_t start = block * (size_t)rank, end = start + block;
    if (start > n) start = n;
    if (end > n) end = n;
    if (first) *first = start;
    return end - start;
}

// An environment variable as a whole number >= 0; -1 when unset or empty, dies when malformed.
static long env_int(const char *name) {
    const char *text = getenv(name);
    if (!text || !*text) return -1;
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end || v < 0) die("environment variable %s='%s' is not a whole number >= 0 (unset it or fix the launcher)", name, text);
    return v;
}

// Who launched us, from the first launcher whose variables are set. Slurm's variables count only
// inside an srun step (SLURM_STEP_NUM_TASKS): the batch script itself also carries SLURM_NTASKS.
static void read_launcher_env(Dist *d) {
    static const struct { const char *launcher, *rank, *size, *local_rank, *local_size; } sources[] = {
        {"mpirun", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE"},
        {"pmi", "PMIX_RANK", "PMIX_SIZE", "PMIX_LOCAL_RANK", "PMIX_LOCAL_SIZE"},
        {"pmi", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MPI_LOCALNRANKS"},
        {"slurm", "SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE"},
        {"MEMLENS_* variables", "MEMLENS_RANK", "MEMLENS_WORLD_SIZE", "MEMLENS_LOCAL_RANK", "MEMLENS_LOCAL_SIZE"},
    };
    d->world_size = 1; d->rank = 0; d->local_rank = 0; d->local_size = 1;
    snprintf(d->launcher, sizeof d->launcher, "none");
    for (size_t i = 0; i < sizeof sources / sizeof *sources; i++) {
        long rank = env_int(sources[i].rank), size = env_int(sources[i].size);
        if (rank < 0 || size < 0) continue;
        if (size < 1 || rank >= size)
            die("%s=%ld and %s=%ld do not make a valid rank (fix the launcher's environment)",
                sources[i].rank, rank, sources[i].size, size);
        long local_rank = env_int(sources[i].local_rank), local_size = env_int(sources[i].local_size);
        d->world_size = (int)size;
        d->rank = (int)rank;
        d->local_rank = local_rank >= 0 ? (int)local_rank : 0;
        d->local_size = local_size >= 1 ? (int)local_size : 1;
        snprintf(d->launcher, sizeof d->launcher, "%s", sources[i].launcher);
        return;
    }
}

static double read_timeout(void) {
    const char *text = getenv("MEMLENS_DIST_TIMEOUT");
    if (!text || !*text) return DEFAULT_TIMEOUT_SECONDS;
    char *end;
    double v = strtod(text, &end);
    if (*end || !(v > 0))
        die("MEMLENS_DIST_TIMEOUT='%s' is not a number of seconds > 0 (e.g. MEMLENS_DIST_TIMEOUT=600)", text);
    return v;
}

void dist_init_env(Dist *d) {
    memset(d, 0, sizeof *d);
    read_launcher_env(d);
    d->timeout_seconds = read_timeout();
}

void dist_grace(Dist *d, double seconds) { d->grace_seconds = seconds; }

double dist_write_grace(const Dist *d, double bytes) {
    double at_10_mb_per_s = bytes / 10e6;
    return at_10_mb_per_s > d->timeout_seconds ? at_10_mb_per_s : d->timeout_seconds;
}

double dist_take_wait_seconds(Dist *d) {
    double seconds = d->timeout_seconds + d->grace_seconds;
    d->grace_seconds = 0.0;
    return seconds;
}

void dist_abort(Dist *d, const char *fmt, ...) {
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    if (!d || d->world_size <= 1) die("%s", message);
    fflush(stdout);
    fprintf(stderr, "%s: error: rank %d of %d: %s\n", program_name(), d->rank, d->world_size, message);
    fflush(stderr);
#ifdef USE_MPI
    // mpirun answers with SIGTERM to every rank, which also removes their unfinished temp files.
    if (d->using_mpi) MPI_Abort(MPI_COMM_WORLD, 1);
#endif
    _exit(1);
}

#ifdef USE_MPI
// ---------------------------------------------------------------------------------------------
// MPI build.

// MPI counts are ints: big buffers go in segments of at most this many elements (this also bounds
// the scratch memory of the all-reduce and the reduce-scatter to one segment). The test hook
// MEMLENS_TEST_DIST_SEGMENT makes segments small, so that tests of small buffers cross them.
static size_t segment_elements(void) {
    static size_t elements = 0;
    if (elements == 0) {
        const char *text = getenv("MEMLENS_TEST_DIST_SEGMENT");
        long long v = text ? atoll(text) : 0;
        elements = v > 0 ? (size_t)v : (size_t)1 << 26;
    }
    return elements;
}
#define SEGMENT_ELEMENTS segment_elements()

// Poll a non-blocking request until it completes or the deadline passes. Sleeping between polls
// keeps waiting ranks from burning the cores the slower ranks are computing on.
static void wait_or_abort(Dist *d, MPI_Request *request, const char *operation, const char *what) {
    double allowed = dist_take_wait_seconds(d), deadline = now_seconds() + allowed;
    long pause_us = 10;
    for (;;) {
        int done = 0;
        int rc = MPI_Test(request, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) dist_abort(d, "%s of %s failed in MPI (error %d; see the other ranks' messages)", operation, what, rc);
        if (done) return;
        if (now_seconds() > deadline)
            dist_abort(d, "%s of %s: no answer from the other ranks in %.0f s (a rank died or hangs: see its messages; "
                       "raise MEMLENS_DIST_TIMEOUT if ranks can legitimately drift apart this long)",
                       operation, what, allowed);
        struct timespec pause = {0, pause_us * 1000};
        nanosleep(&pause, NULL);
        if (pause_us < 1000) pause_us *= 2;
    }
}

void dist_init(Dist *d, int *argc, char ***argv) {
    memset(d, 0, sizeof *d);
    read_launcher_env(d);
    d->timeout_seconds = read_timeout();
    if (d->world_size <= 1) return;  // one process: MPI stays untouched, nothing to wait for
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        die("MPI_Init failed on rank %d of %d (launched by %s; check the MPI installation with `mpirun -np 2 hostname`)",
            d->rank, d->world_size, d->launcher);
    d->using_mpi = 1;
    // Errors come back as return codes, so that they end in our one-line message.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int mpi_rank, mpi_size;
    MPI_Comm_rank(MPI_COMM_WORLD, &mpi_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &mpi_size);
    if (mpi_size != d->world_size || mpi_rank != d->rank) {
        if (mpi_size == 1)
            die("launched as rank %d of %d by %s, but MPI sees a single process (start with mpirun -np N, or srun --mpi=pmix)",
                d->rank, d->world_size, d->launcher);
        dist_abort(d, "MPI says rank %d of %d but the %s environment says rank %d of %d (fix the launcher's environment)",
                   mpi_rank, mpi_size, d->launcher, d->rank, d->world_size);
    }
}

void dist_finalize(Dist *d) {
    if (!d->using_mpi) return;
    dist_barrier(d, "the end of the run");
    MPI_Finalize();
    d->using_mpi = 0;
}

// One segment of the deterministic all-reduce; scratch holds W * ceil(n / W) elements.
static void allreduce_segment(Dist *d, void *buf, size_t n, size_t elem, MPI_Datatype type, void *scratch,
                              const char *what) {
    int W = d->world_size, me = d->rank;
    int send_counts[W], send_displs[W], recv_counts[W], recv_displs[W];
    size_t my_first, my_count = dist_share(n, W, me, &my_first);
    for (int r = 0; r < W; r++) {
        size_t first, count = dist_share(n, W, r, &first);
        send_counts[r] = (int)count;            // rank r owns slice r of my buffer
        send_displs[r] = (int)first;
        recv_counts[r] = (int)my_count;         // every rank sends me its copy of my slice
        recv_displs[r] = (int)(r * my_count);
    }
    MPI_Request request;
    if (MPI_Ialltoallv(buf, send_counts, send_displs, type, scratch, recv_counts, recv_displs, type, MPI_COMM_WORLD,
                       &request) != MPI_SUCCESS)
        dist_abort(d, "all-to-all of %s could not start", what);
    wait_or_abort(d, &request, "all-reduce (exchange)", what);

    // Sum my slice in rank order: rank 0's value, + rank 1's, + ...
    char *mine = (char *)buf + my_first * elem;
    if (type == MPI_FLOAT) {
        float *out = (float *)mine, *in = scratch;
        for (size_t i = 0; i < my_count; i++) {
            float s = in[i];
            for (int r = 1; r < W; r++) s += in[(size_t)r * my_count + i];
            out[i] = s;
        }
    } else {
        double *out = (double *)mine, *in = scratch;
        for (size_t i = 0; i < my_count; i++) {
            double s = in[i];
            for (int r = 1; r < W; r++) s += in[(size_t)r * my_count + i];
            out[i] = s;
        }
    }
    for (int r = 0; r < W; r++) { recv_counts[r] = send_counts[r]; recv_displs[r] = send_displs[r]; }
    if (MPI_Iallgatherv(MPI_IN_PLACE, 0, type, buf, recv_counts, recv_displs, type, MPI_COMM_WORLD, &request) != MPI_SUCCESS)
        dist_abort(d, "all-gather of %s could not start", what);
    wait_or_abort(d, &request, "all-reduce (gather)", what);
}

static void allreduce_sum(Dist *d, void *buf, size_t n, size_t elem, MPI_Datatype type, const char *what) {
    if (!d->using_mpi || n == 0) return;
    size_t segment = n < SEGMENT_ELEMENTS ? n : SEGMENT_ELEMENTS;
    // Each rank receives W copies of its slice, and a slice is at most ceil(segment / W) long.
    size_t W = (size_t)d->world_size, largest_slice = (segment + W - 1) / W;
    void *scratch = malloc_or_die(W * largest_slice * elem);
    for (size_t first = 0; first < n; first += segment) {
        size_t count = n - first < segment ? n - first : segment;
        allreduce_segment(d, (char *)buf + first * elem, count, elem, type, scratch, what);
    }
    free(scratch);
}

void dist_allreduce_sum_float(Dist *d, float *buf, size_t n, const char *what) {
    allreduce_sum(d, buf, n, sizeof(float), MPI_FLOAT, what);
}

// ZeRO-1 collectives, in rounds: round k moves piece k of every rank's shard, a W-th of a segment
// each, so that the counts fit MPI's int and the scratch one segment. The displacements are
// offsets in buf, hence the 2^31 limit on n (GPT-2's largest model has 1.56e9 parameters).
static size_t zero_piece(int W) {
    size_t piece = SEGMENT_ELEMENTS / (size_t)W;
    return piece > 0 ? piece : 1;
}

static void zero_round(size_t n, int W, int r, size_t k, size_t *first, size_t *count) {
    size_t shard_first, shard_count = dist_zero_shard(n, W, r, &shard_first), piece = zero_piece(W);
    size_t lo = k * piece < shard_count ? k * piece : shard_count;
    size_t hi = lo + piece < shard_count ? lo + piece : shard_count;
    *first = shard_first + lo;
    *count = hi - lo;
}

static size_t zero_rounds(Dist *d, size_t n, const char *what) {
    if (n > (size_t)INT32_MAX)
        dist_abort(d, "%s: %zu values, more than the 2^31 the sharded collectives move (use --zero_stage 0)", what, n);
    size_t block = dist_zero_block(n, d->world_size), piece = zero_piece(d->world_size);
    return (block + piece - 1) / piece;
}

void dist_reduce_scatter_sum_float(Dist *d, float *buf, size_t n, const char *what) {
    if (!d->using_mpi || n == 0) return;
    int W = d->world_size, me = d->rank;
    size_t rounds = zero_rounds(d, n, what);
    size_t block = dist_zero_block(n, W), piece = zero_piece(W) < block ? zero_piece(W) : block;
    float *scratch = malloc_or_die((size_t)W * piece * sizeof(float));  // W copies of my largest piece
    for (size_t k = 0; k < rounds; k++) {
        int send_counts[W], send_displs[W], recv_counts[W], recv_displs[W];
        size_t my_first, my_count;
        zero_round(n, W, me, k, &my_first, &my_count);
        for (int r = 0; r < W; r++) {
            size_t first, count;
            zero_round(n, W, r, k, &first, &count);
            send_counts[r] = (int)count;             // rank r sums piece k of its shard
            send_displs[r] = (int)first;
            recv_counts[r] = (int)my_count;          // every rank sends me its copy of my piece
            recv_displs[r] = (int)((size_t)r * my_count);
        }
        MPI_Request request;
        if (MPI_Ialltoallv(buf, send_counts, send_displs, MPI_FLOAT, scratch, recv_counts, recv_displs, MPI_FLOAT,
                           MPI_COMM_WORLD, &request) != MPI_SUCCESS)
            dist_abort(d, "all-to-all of %s could not start", what);
        wait_or_abort(d, &request, "reduce-scatter", what);
        // The same additions as allreduce_segment: rank 0's value, + rank 1's, + ...
        float *out = buf + my_first;
        for (size_t i = 0; i < my_count; i++) {
            float s = scratch[i];
            for (int r = 1; r < W; r++) s += scratch[(size_t)r * my_count + i];
            out[i] = s;
        }
    }
    free(scratch);
}

void dist_allgather_float(Dist *d, float *buf, size_t n, const char *what) {
    if (!d->using_mpi || n == 0) return;
    int W = d->world_size;
    size_t rounds = zero_rounds(d, n, what);
    for (size_t k = 0; k < rounds; k++) {
        int counts[W], displs[W];
        for (int r = 0; r < W; r++) {
            size_t first, count;
            zero_round(n, W, r, k, &first, &count);
            counts[r] = (int)count;
            displs[r] = (int)first;
        }
        MPI_Request request;
        if (MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, buf, counts, displs, MPI_FLOAT, MPI_COMM_WORLD, &request) != MPI_SUCCESS)
            dist_abort(d, "all-gather of %s could not start", what);
        wait_or_abort(d, &request, "all-gather", what);
    }
}

void dist_allreduce_sum_double(Dist *d, double *buf, size_t n, const char *what) {
    allreduce_sum(d, buf, n, sizeof(double), MPI_DOUBLE, what);
}

void dist_broadcast(Dist *d, void *buf, size_t bytes, int root, const char *what) {
    if (!d->using_mpi) return;
    for (size_t first = 0; first < bytes; first += SEGMENT_ELEMENTS) {
        size_t count = bytes - first < SEGMENT_ELEMENTS ? bytes - first : SEGMENT_ELEMENTS;
        MPI_Request request;
        if (MPI_Ibcast((char *)buf + first, (int)count, MPI_BYTE, root, MPI_COMM_WORLD, &request) != MPI_SUCCESS)
            dist_abort(d, "broadcast of %s could not start", what);
        wait_or_abort(d, &request, "broadcast", what);
    }
}

void dist_barrier(Dist *d, const char *what) {
    if (!d->using_mpi) return;
    MPI_Request request;
    if (MPI_Ibarrier(MPI_COMM_WORLD, &request) != MPI_SUCCESS) dist_abort(d, "barrier at %s could not start", what);
    wait_or_abort(d, &request, "barrier", what);
}

void *dist_gather_bytes(Dist *d, const void *data, size_t len, size_t *lens_out, const char *what) {
    if (!d->using_mpi) {
        lens_out[0] = len;
        void *copy = malloc_or_die(len ? len : 1);
        if (len) memcpy(copy, data, len);
        return copy;
    }
    int W = d->world_size;
    uint64_t my_len = len, all_lens[W];
    MPI_Request request;
    if (MPI_Igather(&my_len, 1, MPI_UINT64_T, all_lens, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD, &request) != MPI_SUCCESS)
        dist_abort(d, "gather of %s sizes could not start", what);
    wait_or_abort(d, &request, "gather (sizes)", what);
    int counts[W], displs[W];
    char *all = NULL;
    if (d->rank == 0) {
        uint64_t total = 0;
        for (int r = 0; r < W; r++) {
            if (total + all_lens[r] > (uint64_t)INT32_MAX)
                dist_abort(d, "gather of %s: more than 2 GiB in total (gather in smaller pieces)", what);
            counts[r] = (int)all_lens[r];
            displs[r] = (int)total;
            lens_out[r] = all_lens[r];
            total += all_lens[r];
        }
        all = malloc_or_die(total ? total : 1);
    } else if (len > (size_t)INT32_MAX) {
        dist_abort(d, "gather of %s: more than 2 GiB from one rank (gather in smaller pieces)", what);
    }
    if (MPI_Igatherv(data, (int)len, MPI_BYTE, all, counts, displs, MPI_BYTE, 0, MPI_COMM_WORLD, &request) != MPI_SUCCESS)
        dist_abort(d, "gather of %s could not start", what);
    wait_or_abort(d, &request, "gather", what);
    return all;
}

#else
// ---------------------------------------------------------------------------------------------
// Build without MPI: one process, every collective is the identity.

void dist_init(Dist *d, int *argc, char ***argv) {
    memset(d, 0, sizeof *d);
    read_launcher_env(d);
    d->timeout_seconds = read_timeout();
    if (d->world_size > 1) {
        // Every rank knows it; rank 0 alone says it, and the launcher ends the others when it exits.
        if (d->rank != 0) { sleep(10); exit(1); }
        die("launched as %d ranks by %s, but %s was built without MPI and runs as one process only (CPU programs: "
            "install libopenmpi-dev openmpi-bin, then `make clean all`; train_gpt2cu: see llmc/dist.h on NCCL)",
            d->world_size, d->launcher, program_name());
    }
}

void dist_finalize(Dist *d) { (void)d; }
void dist_allreduce_sum_float(Dist *d, float *buf, size_t n, const char *what) { (void)d; (void)buf; (void)n; (void)what; }
void dist_allreduce_sum_double(Dist *d, double *buf, size_t n, const char *what) { (void)d; (void)buf; (void)n; (void)what; }
void dist_reduce_scatter_sum_float(Dist *d, float *buf, size_t n, const char *what) { (void)d; (void)buf; (void)n; (void)what; }
void dist_allgather_float(Dist *d, float *buf, size_t n, const char *what) { (void)d; (void)buf; (void)n; (void)what; }
void dist_broadcast(Dist *d, void *buf, size_t bytes, int root, const char *what) { (void)d; (void)buf; (void)bytes; (void)root; (void)what; }
void dist_barrier(Dist *d, const char *what) { (void)d; (void)what; }

void *dist_gather_bytes(Dist *d, const void *data, size_t len, size_t *lens_out, const char *what) {
    (void)d; (void)what;
    lens_out[0] = len;
    void *copy = malloc_or_die(len ? len : 1);
    if (len) memcpy(copy, data, len);
    return copy;
}
#endif

void dist_allreduce_mean_float(Dist *d, float *buf, size_t n, const char *what) {
    if (d->world_size <= 1) return;
    dist_allreduce_sum_float(d, buf, n, what);
    float W = (float)d->world_size;
    for (size_t i = 0; i < n; i++) buf[i] /= W;
}
