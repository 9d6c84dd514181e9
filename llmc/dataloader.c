#include "dataloader.h"
#include "utils.h"

#include <string.h>

void dataloader_open(DataLoader *dl, const char *path, const char *flag) {
    memset(dl, 0, sizeof *dl);
    if (!file_exists(path))
        die("%s %s: no such file (give the %s written by generate_dataset%s)", flag, path,
            strstr(flag, "validation") ? "test.bin" : "train.bin", strstr(flag, "validation") ? ", or 'none'" : "");
    shard_load(&dl->shard, path);
    if (dl->shard.record_length == 0)
        die("%s is not example-aligned (header[3] record length is 0; regenerate it with generate_dataset)", path);
    if (dl->shard.record_length < 2)
        die("%s: record length %d is too short to train on (need >= 2 tokens: eot + example; regenerate it)",
            path, dl->shard.record_length);
    if (dl->shard.num_records == 0)
        die("%s holds no records (regenerate the dataset with more examples)", path);
    // Each record is one example from its first token: the eot (the same id in every record),
    // then the example. A header whose record length is off would otherwise train on rows that
    // straddle examples without a word. (The id itself depends on the vocabulary: --vocab_size runs
    // use their own.)
    const int R = dl->shard.record_length;
    const int start = dl->shard.tokens[0];
    for (size_t r = 1; r < dl->shard.num_records; r++) {
        int first = dl->shard.tokens[r * (size_t)R];
        if (first != start)
            die("%s %s: record %zu starts with token %d but record 0 with %d: with records of %d tokens these are not "
                "one example each (the header or the tokens are damaged; regenerate it with generate_dataset)",
                flag, path, r, first, start, R);
    }
    dl->record_length = R;
    dl->num_records = dl->shard.num_records;
}

static void new_epoch_order(DataLoader *dl) {
    for (size_t i = 0; i < dl->num_records; i++) dl->order[i] = (int)i;
    if (dl->shuffle) rng_shuffle_int(&dl->rng, dl->order, dl->num_records);
    dl->position = 0;
}

void dataloader_start(DataLoader *dl, int B, int T, int shuffle, uint64_t seed) {
    if (T < 1 || T > dl->record_length - 1)
        die("sequence length %d does not fit %s (records hold %d tokens, so T <= %d)",
            T, dl->shard.path, dl->record_length, dl->record_length - 1);
    dl->B = B;
    dl->T = T;
    dl->shuffle = shuffle;
    dl->order = malloc_or_die(dl->num_records * sizeof(int));
    dl->inputs = malloc_or_die((size_t)B * T * sizeof(int));
    dl->targets = malloc_or_die((size_t)B * T * sizeof(int));
    dataloader_reset(dl, seed);
}

void dataloader_reset(DataLoader *dl, uint64_t seed) {
    rng_seed(&dl->rng, seed);
    dl->epoch = 0;
    new_epoch_order(dl);
}

void dataloader_free(DataLoader *dl) {
    shard_free(&dl->shard);
    free(dl->order);
    free(dl->inputs);
    free(dl->targets);
    memset(dl, 0, sizeof *dl);
}

size_t dataloader_rows_left(const DataLoader *dl) { return dl->num_records - dl->position; }

// Row `row` of the batch <- record `record`: inputs record[0..T-1], targets record[1..T].
static void copy_record(DataLoader *dl, int row, size_t record) {
    const uint16_t *src = dl->shard.tokens + record * (size_t)dl->record_length;
    int *in = dl->inputs + (size_t)row * dl->T;
    int *tg = dl->targets + (size_t)row * dl->T;
    for (int t = 0; t < dl->T; t++) {
        in[t] = src[t];
        tg[t] = src[t + 1];
    }
}

int dataloader_next(DataLoader *dl, int max_rows) {
    size_t left = dataloader_rows_left(dl);
    int rows = max_rows < dl->B ? max_rows : dl->B;
    if ((size_t)rows > left) rows = (int)left;
    for (int r = 0; r < rows; r++) copy_record(dl, r, (size_t)dl->order[dl->position + r]);
    dl->position += (size_t)rows;
    if (dl->position == dl->num_records) {
        dl->epoch++;
        new_epoch_order(dl);
    }
    return rows;
}

void dataloader_fill_records(DataLoader *dl, size_t first, int count) {
    for (int r = 0; r < count; r++) copy_record(dl, r, first + (size_t)r);
}
