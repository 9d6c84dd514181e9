// Example-aligned batches from a memlens token shard. Record i of the shard is
// [eot, example tokens...] (R = tokens_per_example + 1 tokens); one batch row is one record:
//   inputs  = record[0 .. T-1]
//   targets = record[1 .. T]
// so every example is trained on from its first token. T <= R - 1; when T < R - 1 the last
// R - 1 - T tokens of each record are never seen.
// Training order: a permutation of the records per epoch, drawn from a seeded RNG whose state
// (with the permutation and the position in it) is saved in the train state for exact resume.
#ifndef LLMC_DATALOADER_H
#define LLMC_DATALOADER_H

#include <stddef.h>
#include <stdint.h>
#include "rng.h"
#include "shard.h"

typedef struct {
    Shard shard;
    int record_length;     // R
    size_t num_records;    // N
    int B, T;              // rows per batch, tokens per row
    int shuffle;           // 0: records in file order every epoch (validation)
    Rng rng;               // shuffle stream
    int *order;            // (N) record index for each position of the current epoch
    size_t position;       // rows of the current epoch already handed out
    int64_t epoch;         // completed epochs
    int *inputs;           // (B, T) last batch
    int *targets;          // (B, T)
} DataLoader;

// Load and check a shard: it must be example-aligned with at least one record of >= 2 tokens.
// Dies with one line naming the file and the fix. `flag` names the flag that gave the path.
void dataloader_open(DataLoader *dl, const char *path, const char *flag);
// Set the batch shape and the order of the first epoch. Requires 1 <= T <= R - 1.
void dataloader_start(DataLoader *dl, int B, int T, int shuffle, uint64_t seed);
// Back to the first epoch's order for this seed (epoch 0, position 0).
void dataloader_reset(DataLoader *dl, uint64_t seed);
void dataloader_free(DataLoader *dl);

// Rows left in the current epoch.
size_t dataloader_rows_left(const DataLoader *dl);
// Fill inputs/targets with the next min(max_rows, B, rows left) rows and return that count. When
// the epoch is used up it starts the next one at once (epoch++, new permutation).
int dataloader_next(DataLoader *dl, int max_rows);
// Fill inputs/targets with records first .. first+count-1 in file order (validation); count <= B.
void dataloader_fill_records(DataLoader *dl, size_t first, int count);

#endif
