// Everything beyond the weights that an exact resume needs, in state_NNNNNNNN.bin next to the
// weights in model_NNNNNNNN.bin (an llm.c fp32 checkpoint). NNNNNNNN = optimizer steps done.
//
// state file (native little-endian):
//   uint64 header[32]: magic, version, step, epoch, position in the epoch's order, shuffle RNG
//                      state, number of records, number of parameters, AdamW step, threads,
//                      elapsed seconds (double bits), identity length, tokens trained,
//                      size and CRC-32 of the model_NNNNNNNN.bin this state belongs to
//   char   identity[len]      JSON: the flags and data hash that must match to resume this run
//   int32  order[N]           record order of the current epoch
//   float  m[P], v[P]         AdamW moments
//   uint64 crc32              CRC-32 (zlib) of every byte above (catches truncation and corruption)
// The model file is written first, then the state: a pair is complete only when the state's
// checksum holds and the model file's size and CRC-32 match, so a crash at any moment leaves
// either the previous complete pair or the new one. (CRC-32 rather than sha256: it runs at
// GB/s, and a d12 pair is 1.5 GB to check at every save and resume.)
#ifndef LLMC_TRAIN_STATE_H
#define LLMC_TRAIN_STATE_H

#include <stddef.h>
#include <stdint.h>
#include "adamw.h"

#define TRAIN_STATE_MAGIC 20261127ULL
#define TRAIN_STATE_VERSION 1ULL

typedef struct {
    int64_t step;            // optimizer steps done
    int64_t epoch;           // completed epochs
    uint64_t position;       // rows of the current epoch already used
    uint64_t rng_state;      // shuffle RNG (llmc/rng.h) after drawing the current order
    size_t num_records;
    int *order;              // (num_records) caller-owned buffer
    int64_t threads;
    double elapsed_seconds;  // training time before this checkpoint (summed over resumes)
    int64_t tokens_trained;
    uint64_t model_size;     // bytes of the paired model file
    uint32_t model_crc32;    // its CRC-32
    char *identity;          // JSON text (train_state_read allocates it)
} TrainState;

// Atomic write (temp, fsync, rename). 0 on success, -1 with errno set and no file left under path.
int train_state_write(const char *path, const TrainState *s, const AdamW *opt);
// Read and verify a state file against the current run's sizes, filling s (s->order must point
// to num_records ints) and opt->m, opt->v, opt->step. 0 on success, -1 with a reason in why.
// Beyond the checksum, the fields must make sense: the order a permutation, AdamW step = step,
// epoch <= step, threads 1..4096, elapsed time finite and >= 0, m finite, v finite and >= 0.
int train_state_read(const char *path, TrainState *s, AdamW *opt, size_t num_records, char *why, size_t why_len);

// "<dir>/model_%08lld.bin" and "<dir>/state_%08lld.bin" (malloc'd).
char *checkpoint_model_path(const char *dir, int64_t step);
char *checkpoint_state_path(const char *dir, int64_t step);
// Steps that have a model_ or a state_ file in dir, newest first (malloc'd; count in *n).
int64_t *checkpoint_list_steps(const char *dir, int *n);
// Delete both files of a checkpoint (state first, so a half-deleted pair is never complete).
void checkpoint_remove(const char *dir, int64_t step);
// Size and CRC-32 of a whole file; 0 on success, -1 with errno set when it cannot be read.
int file_crc32(const char *path, uint64_t *size, uint32_t *crc);
// Remove temporary files ("NAME.tmp.PID") left in dir by processes that no longer run.
void remove_stale_temp_files(const char *dir);

// Compare two identity JSON texts; 0 when equal, else 1 with the first differing field and both
// values in why.
int train_identity_diff(const char *saved, const char *current, char *why, size_t why_len);

// Test hook: when the environment variable MEMLENS_TEST_KILL_AT is "NAME" or "NAME:STEP" and
// matches, the process kills itself with SIGKILL here (to test crash safety at exact points);
// when MEMLENS_TEST_PAUSE_AT is "NAME:STEP:SECONDS", it sleeps that long here (a slow disk).
void test_kill_point(const char *name, int64_t step);

#endif
