// Unit test / probe for the metadata reader (llmc/dataset_meta.c).
//   test_dataset_meta               self-test on a small metadata file written here
//   test_dataset_meta METADATA      load a real metadata.json and print what a reader sees:
//                                   "N R T tokens_per_example", then one line per example
//                                   (id split repeats start_end end_begin) and per record
//                                   ("train r id" / "test r id"), for the test script to compare
//                                   with Python's reading of the same file.
// Also runs under ASan/UBSan (build/tests/asan/).
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "llmc/dataset_meta.h"
#include "llmc/utils.h"

static const char *SMALL =
    "{\"format\": \"memlens-dataset\", \"seed\": 5, \"tokens_per_example\": 64, \"record_length\": 65,\n"
    " \"tokenizer\": {\"sha256\": \"abc\"},\n"
    " \"examples\": [\n"
    "  {\"id\": \"SYNTHETIC_EXAMPLE_00042\", \"number\": 42, \"split\": \"train\", \"repeats\": 2, \"num_tokens\": 64,\n"
    "   \"start_identifier_tokens\": [0, 12], \"end_identifier_tokens\": [52, 64], \"genre\": \"news\", \"sha256\": \"x\"},\n"
    "  {\"id\": \"SYNTHETIC_EXAMPLE_99999\", \"number\": 99999, \"split\": \"test\", \"repeats\": 1, \"num_tokens\": 64,\n"
    "   \"start_identifier_tokens\": [0, 11], \"end_identifier_tokens\": [53, 64], \"genre\": \"story\", \"sha256\": \"y\"}],\n"
    " \"train_records\": [\"SYNTHETIC_EXAMPLE_00042\", \"SYNTHETIC_EXAMPLE_00042\"],\n"
    " \"test_records\": [\"SYNTHETIC_EXAMPLE_99999\"]}\n";

static int failures = 0;
#define EXPECT(cond, msg) do { if (!(cond)) { failures++; printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, msg); } } while (0)

int main(int argc, char **argv) {
    set_program_name(argv[0]);
    DatasetMeta m;
    if (argc > 1) {
        dataset_meta_load(&m, argv[1], NULL);
        printf("%d %d %d %d\n", m.num_examples, m.num_train_records, m.num_test_records, m.tokens_per_example);
        for (int i = 0; i < m.num_examples; i++) {
            const DatasetExample *e = &m.examples[i];
            printf("%s %s %d %d %d\n", e->id, e->is_test ? "test" : "train", e->repeats, e->start_id_end, e->end_id_begin);
        }
        for (int r = 0; r < m.num_train_records; r++) printf("train %d %s\n", r, m.examples[m.train_records[r]].id);
        for (int r = 0; r < m.num_test_records; r++) printf("test %d %s\n", r, m.examples[m.test_records[r]].id);
        dataset_meta_free(&m);
        return 0;
    }
    char path[] = "/tmp/test_dataset_meta.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, SMALL, strlen(SMALL)) != (ssize_t)strlen(SMALL)) { perror("temp file"); return 1; }
    close(fd);
    dataset_meta_load(&m, path, NULL);
    unlink(path);
    EXPECT(m.num_examples == 2 && m.tokens_per_example == 64 && m.record_length == 65, "sizes");
    EXPECT(m.seed == 5 && !strcmp(m.tokenizer_sha256, "abc"), "seed / tokenizer hash");
    EXPECT(!strcmp(m.examples[0].id, "SYNTHETIC_EXAMPLE_00042") && m.examples[0].number == 42, "first id");
    EXPECT(!m.examples[0].is_test && m.examples[1].is_test, "splits");
    EXPECT(m.examples[0].repeats == 2 && m.examples[1].repeats == 1, "repeats");
    EXPECT(m.examples[0].start_id_end == 12 && m.examples[0].end_id_begin == 52, "identifier positions");
    EXPECT(m.examples[1].start_id_end == 11 && m.examples[1].end_id_begin == 53, "identifier positions (2)");
    EXPECT(m.num_train_records == 2 && m.train_records[0] == 0 && m.train_records[1] == 0, "train records");
    EXPECT(m.num_test_records == 1 && m.test_records[0] == 1, "test records");
    EXPECT(dataset_meta_find(&m, "SYNTHETIC_EXAMPLE_99999") == 1 && dataset_meta_find(&m, "nope") == -1, "find");
    EXPECT(!strcmp(m.examples[1].genre, "story"), "genre");
    dataset_meta_free(&m);
    if (failures) { printf("%d failures\n", failures); return 1; }
    printf("dataset_meta unit tests passed\n");
    return 0;
}
