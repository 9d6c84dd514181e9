// Data parallelism across processes: one process per rank, started by mpirun or srun. This file
// knows who we are (world size, rank, local rank) and moves buffers between ranks. Built with
// -DUSE_MPI (the Makefile adds it when OpenMPI's mpicc is found) it uses MPI; without it every
// call is the single-process identity, and a launch as several ranks is refused.
//
// Every collective is non-blocking underneath and polled against a deadline, so a rank that died
// or hangs makes the others stop with one line ("prog: error: rank 0 of 2: gradient all-reduce:
// no answer from the other ranks in 600 s ...") and MPI_Abort, instead of waiting forever.
// The deadline is MEMLENS_DIST_TIMEOUT seconds (default 600), counted from the moment a rank
// enters the collective: raise it when ranks can drift apart that long (e.g. rank 0 writing a
// large checkpoint while the others already wait in the next step's all-reduce).
//
// Splitting work. dist_share() cuts n items into world_size contiguous slices whose sizes differ
// by at most one, in rank order; the union of the slices is 0..n-1 in order. The trainer cuts each
// micro-batch of the global batch this way and the evaluator cuts its example list this way, so
// W ranks see exactly the examples one process would see.
//
// Determinism. dist_allreduce_sum_float() never uses MPI_Allreduce (whose summation order is up
// to the implementation): each rank owns a 1/W slice of the buffer, receives every rank's copy
// of its slice (all-to-all), adds them in rank order 0, 1, ..., W-1, and the sums are all-gathered.
// Same world size and same inputs -> bitwise the same result, on every rank, on every run. The
// traffic is that of a ring all-reduce: 2 (W-1)/W of the buffer in and out of each rank.
//
// ---------------------------------------------------------------------------------------------
// Notes for the CUDA trainer: implemented in llmc/dist_nccl.cuh + llmc/rendezvous.h (the file
// rendezvous carries a job tag; tcp: is --nccl_init tcp:HOST:PORT) and ZeRO-1 (below).
//   Setup, with MPI: dist_init(); rank 0 calls ncclGetUniqueId(&id); dist_broadcast(&d, &id,
//     sizeof id, 0); cudaSetDevice(d.local_rank); ncclCommInitRank(&comm, d.world_size, id, d.rank).
//   Setup, without MPI (srun without PMI, or a plain launcher): the rank, world size and local rank
//     come from the environment (dist_init reads SLURM_PROCID/SLURM_STEP_NUM_TASKS/SLURM_LOCALID, or
//     MEMLENS_RANK/MEMLENS_WORLD_SIZE/MEMLENS_LOCAL_RANK); rank 0 writes the ncclUniqueId bytes
//     atomically (AtomicFile) to "<dir>/ncclUniqueId" on a file system every node sees, the others
//     poll for the file with a deadline and read it; or rank 0 listens on a TCP address given as
//     MASTER_ADDR:MASTER_PORT and sends the 128 bytes to each connection. Then ncclCommInitRank.
//   Gradients (bf16 or fp32, on the device): ncclAllReduce(grads, grads, n, type, ncclSum, comm,
//     stream) and scale by 1/W in the optimizer (or ncclAvg). NCCL's ring sums in a fixed order for
//     a fixed world size and topology, which is what exact resume needs; bitwise equality with a
//     different W is not promised.
//   ZeRO-1 (--zero_stage 1; train_gpt2.c's zero1_* and their GPU twins): the parameters are cut
//     into W equal blocks (dist_zero_shard; the GPU buffers padded to W blocks). The gradients are
//     reduce-scattered (ncclReduceScatter in place: each rank gets the sum of its block), each rank
//     runs AdamW on its block with its moments only, and the blocks are all-gathered
//     (ncclAllGather in place). Memory for m and v drops by W; traffic equals one all-reduce. The
//     global norm: each rank's sum of squares over its block, then dist_allreduce_sum_double().
//     A checkpoint gathers the moments first and is written in the usual format by rank 0, so a
//     resume (same W, same --zero_stage, as the run identity demands) reads it like any other.
//   Timeouts: create the communicator with ncclCommInitRankConfig(blocking = 0) and poll
//     ncclCommGetAsyncError() against the same MEMLENS_DIST_TIMEOUT deadline; on expiry
//     ncclCommAbort() and dist_abort().
//   Rank 0 alone writes logs, config.json, checkpoints and model.bin; everything else is shared.
#ifndef LLMC_DIST_H
#define LLMC_DIST_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int world_size;          // number of ranks (1 when not launched by mpirun/srun)
    int rank;                // 0 .. world_size-1; rank 0 writes every output file
    int local_rank;          // rank among the ranks on this node (picks the GPU)
    int local_size;          // ranks on this node
    int using_mpi;           // 1 when MPI was initialised (world_size > 1 in an MPI build)
    double timeout_seconds;  // deadline of every collective
    double grace_seconds;    // added once, to the next wait's deadline (dist_grace)
    char launcher[32];       // "mpirun", "slurm", "pmi", "MEMLENS_* variables" or "none": who set the ranks
} Dist;

// Read the launcher's environment (OMPI_COMM_WORLD_*, PMIX_*/PMI_*, SLURM_* of an srun step,
// MEMLENS_RANK/MEMLENS_WORLD_SIZE) and, for more than one rank in an MPI build, initialise MPI
// and check that it agrees. Dies with one line when the environment is inconsistent, when an
// MPI-less build is launched as several ranks, or when MEMLENS_DIST_TIMEOUT is not a number > 0.
void dist_init(Dist *d, int *argc, char ***argv);
// The same reading of the environment, without MPI in any build (using_mpi stays 0, so the
// collectives below are the identity): for train_gpt2cu --nccl_init file:/tcp:, whose ranks meet
// through llmc/rendezvous.h and move data with NCCL only. Dies like dist_init on a bad environment.
void dist_init_env(Dist *d);
void dist_finalize(Dist *d);
static inline int dist_is_main(const Dist *d) { return d->rank == 0; }

// The contiguous slice of n items that `rank` takes: returns its length, *first its start.
size_t dist_share(size_t n, int world_size, int rank, size_t *first);

// ZeRO-1 shards (--zero_stage 1): n items cut into world_size blocks of ceil(n / W) items rounded up
// to a multiple of DIST_ZERO_ALIGN, in rank order, the last ones short or empty. Equal blocks
// because NCCL's reduce-scatter and all-gather take one count for every rank; the GPU buffers are
// padded to W blocks. The rounding keeps every block's start 256-byte aligned (floats), where
// NCCL's copies run at full speed. Returns the number of real items of `rank`'s block, *first its
// start (at most n).
#define DIST_ZERO_ALIGN 64
size_t dist_zero_shard(size_t n, int world_size, int rank, size_t *first);
// The length of every block: ceil(n / world_size) rounded up to a multiple of DIST_ZERO_ALIGN
// (the GPU buffers hold world_size of them).
size_t dist_zero_block(size_t n, int world_size);
// buf (n): this rank's shard (dist_zero_shard) <- sum over ranks of that shard, added in rank
// order: bitwise what dist_allreduce_sum_float gives there. The rest of buf is left as it was.
// Half the traffic of the all-reduce.
void dist_reduce_scatter_sum_float(Dist *d, float *buf, size_t n, const char *what);
// buf (n): every rank's shard (dist_zero_shard) copied to every rank (the other half).
void dist_allgather_float(Dist *d, float *buf, size_t n, const char *what);

// buf (n) <- sum over ranks of buf, added in rank order (see Determinism above). `what` names
// the buffer in the timeout message ("gradients").
void dist_allreduce_sum_float(Dist *d, float *buf, size_t n, const char *what);
// buf <- (sum over ranks) / world_size.
void dist_allreduce_mean_float(Dist *d, float *buf, size_t n, const char *what);
// Same as the float sum, for small double accumulators (loss sums, norms, counts).
void dist_allreduce_sum_double(Dist *d, double *buf, size_t n, const char *what);
// bytes of buf from `root` to every rank.
void dist_broadcast(Dist *d, void *buf, size_t bytes, int root, const char *what);
void dist_barrier(Dist *d, const char *what);
// Rank 0 alone writes checkpoints and the final model, and the other ranks wait for it in their
// next collective: on slow storage (a d48 checkpoint is 19 GB) longer than any step. dist_grace
// lets that one wait last `seconds` longer than MEMLENS_DIST_TIMEOUT. dist_write_grace is the grace
// for rank 0 writing `bytes`: the timeout again, or the time at 10 MB/s if that is longer.
void dist_grace(Dist *d, double seconds);
double dist_write_grace(const Dist *d, double bytes);
// The seconds the next wait may take: MEMLENS_DIST_TIMEOUT plus any grace, which this uses up.
double dist_take_wait_seconds(Dist *d);
// Each rank sends `len` bytes (len may differ, 0 is fine). On rank 0 returns a malloc'd buffer
// holding every rank's bytes in rank order, with lens_out[r] (caller's array of world_size) the
// length of rank r's part; on the other ranks returns NULL. The total must stay under 2 GiB.
void *dist_gather_bytes(Dist *d, const void *data, size_t len, size_t *lens_out, const char *what);

// One line "prog: error: rank R of W: <message>" and the whole job ends (MPI_Abort), however
// many ranks are still running. Single process: same as die().
__attribute__((noreturn, format(printf, 2, 3))) void dist_abort(Dist *d, const char *fmt, ...);

#endif
