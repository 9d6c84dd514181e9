// SHA-256 (FIPS 180-4) for provenance: text, tokenizer, checkpoint and dataset hashes.
#ifndef LLMC_SHA256_H
#define LLMC_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t state[8];
    uint64_t total_bytes;
    uint8_t block[64];
    size_t block_len;
} Sha256;

void sha256_init(Sha256 *s);
void sha256_update(Sha256 *s, const void *data, size_t len);
void sha256_final(Sha256 *s, uint8_t digest[32]);
// Lower-case hex of the digest of data, into hex[65].
void sha256_hex(const void *data, size_t len, char hex[65]);
// Hex digest of a file's contents; dies naming the file if it cannot be read.
void sha256_file_hex(const char *path, char hex[65]);

#endif
