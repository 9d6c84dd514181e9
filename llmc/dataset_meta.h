// Reader for the metadata.json that generate_dataset writes next to train.bin and test.bin:
// per example its id, split, training copies and where its two identifiers sit among its
// tokens, plus the map from shard record index to example. Validated on load, so programs that
// use it (test_memorization, train_gpt2) can trust every index.
#ifndef LLMC_DATASET_META_H
#define LLMC_DATASET_META_H

#include <stdint.h>

typedef struct {
    char id[32];               // "SYNTHETIC_EXAMPLE_NNNNN"
    int number;                // NNNNN
    int is_test;               // 0 train, 1 test
    int repeats;               // training copies (1 for test examples)
    int num_tokens;            // = tokens_per_example
    // Token positions as half-open ranges [begin, end) into the example's tokens (not counting
    // the eot that starts each shard record): the opening identifier is [0, k), the closing one
    // [N - k, N).
    int start_id_begin, start_id_end;
    int end_id_begin, end_id_end;
    char genre[32];
    char sha256[65];           // of the example's text (UTF-8 bytes)
} DatasetExample;

typedef struct {
    int tokens_per_example;    // N
    int record_length;         // N + 1: shard record r is eot followed by the example's N tokens
    int64_t seed;
    char tokenizer_sha256[65];  // of the tokenizer file generate_dataset read (gpt2_tokenizer.bin)
    int tokenizer_vocab_size;
    int tokenizer_eot;
    int num_examples;
    DatasetExample *examples;  // (num_examples,) in the order of synthetic_dataset.json
    int num_train_records;
    int *train_records;        // (num_train_records,) example index of train.bin record r
    int num_test_records;
    int *test_records;         // (num_test_records,) example index of test.bin record r
} DatasetMeta;

// Load and validate metadata.json; dies with one line naming the file and the problem, and the
// flag that gave the path (e.g. "--metadata_file"; may be NULL) when the file cannot be read.
void dataset_meta_load(DatasetMeta *m, const char *path, const char *flag);
void dataset_meta_free(DatasetMeta *m);
// Index of the example with this id ("SYNTHETIC_EXAMPLE_NNNNN"), or -1.
int dataset_meta_find(const DatasetMeta *m, const char *id);

#endif
