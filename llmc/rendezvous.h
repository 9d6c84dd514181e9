// Rendezvous without MPI: rank 0 hands a small blob of bytes (the 128-byte ncclUniqueId of the
// CUDA trainer) to every other rank, through a shared file system or a TCP socket. For Slurm
// clusters whose MPI is awkward: srun starts the ranks, llmc/dist.c reads who is who from
// SLURM_PROCID/SLURM_STEP_NUM_TASKS (or MEMLENS_RANK/MEMLENS_WORLD_SIZE), and this file does the rest.
//
//   file:PATH       rank 0 writes PATH atomically (temp file + rename); the others poll until it
//                   appears. PATH must be on a file system every node sees and must not be shared
//                   by two jobs at once. The file records the world size and a job tag
//                   (SLURM_JOB_ID.SLURM_STEP_ID, else MEMLENS_JOB_ID, else empty), so a stale
//                   file of another job is never taken; rank 0 removes it once every rank is in
//                   (rendezvous_finish).
//   tcp:HOST:PORT   rank 0 listens on PORT (all interfaces); the others connect to HOST:PORT,
//                   retrying until rank 0 is up, say who they are and receive the bytes. HOST is
//                   rank 0's node as the others can reach it (e.g. the first node of the job).
//
// Every wait has a deadline (timeout_seconds: the MEMLENS_DIST_TIMEOUT of llmc/dist.h), so a rank
// that never comes makes the others fail with a message instead of waiting forever.
#ifndef LLMC_RENDEZVOUS_H
#define LLMC_RENDEZVOUS_H

#include <stddef.h>

typedef enum { RENDEZVOUS_FILE = 1, RENDEZVOUS_TCP = 2 } RendezvousKind;

typedef struct {
    RendezvousKind kind;
    char path[1024];   // file:
    char host[256];    // tcp:
    char port[16];     // tcp: decimal 1..65535
} Rendezvous;

// Parses "file:PATH" or "tcp:HOST:PORT". Returns 0, or -1 with the reason in why.
int rendezvous_parse(Rendezvous *r, const char *spec, char *why, size_t why_len);

// Rank 0: sends bytes[0..len) to ranks 1..world_size-1. Other ranks: fill bytes[0..len) with
// rank 0's. Returns 0 when done, or -1 with the reason in why (the deadline passed, a rank of
// another world size or blob size called in, I/O errors). With world_size 1, rank 0 still
// writes the file or opens the port (so that a one-GPU run goes through the same steps).
int rendezvous_share(const Rendezvous *r, int rank, int world_size, void *bytes, size_t len, double timeout_seconds,
                     char *why, size_t why_len);

// Rank 0, after every rank is known to have the bytes: removes the file of file:. A no-op
// elsewhere and for tcp:.
void rendezvous_finish(const Rendezvous *r, int rank);

#endif
