// Token shards in llm.c's format: an int32 header of 256 slots, then uint16 tokens.
//   header[0] = 20240520 (magic), header[1] = 1 (version), header[2] = number of tokens,
//   header[3] = record length R (memlens extension; 0 = not example-aligned).
// memlens shards are example-aligned: record i is tokens [i*R, (i+1)*R), the eot id followed by
// the example's tokens_per_example tokens, so R = tokens_per_example + 1.
#ifndef LLMC_SHARD_H
#define LLMC_SHARD_H

#include <stddef.h>
#include <stdint.h>

#define SHARD_MAGIC 20240520
#define SHARD_VERSION 1
#define SHARD_HEADER_INTS 256

typedef struct {
    char *path;
    uint16_t *tokens;      // num_tokens tokens
    size_t num_tokens;
    int record_length;     // R, or 0 if the shard is not example-aligned
    size_t num_records;    // num_tokens / R (0 if R == 0)
    int max_token;         // largest token id in the shard
} Shard;

// Read and validate a whole shard (magic, version, size against the header, alignment). Dies
// with a one-line message naming the file and the fix on any problem.
void shard_load(Shard *s, const char *path);
void shard_free(Shard *s);
// Write tokens as a shard, atomically.
void shard_write(const char *path, const uint16_t *tokens, size_t num_tokens, int record_length);

#endif
