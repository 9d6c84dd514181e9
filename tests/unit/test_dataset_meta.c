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
#include <sys/wait.h>
#include <unistd.h>

#include "llmc/dataset_meta.h"
#include "llmc/utils.h"
#include "child_stderr.h"

static const char *SMALL =
    "{\"format\": \"memlens-dataset\", \"seed\": 5, \"tokens_per_example\": 64, \"record_length\": 65,\n"
    " \"tokenizer\": {\"sha256\": \"abc\", \"vocab_size\": 50257, \"eot_token\": 50256},\n"
    " \"examples\": [\n"
    "  {\"id\": \"SYNTHETIC_EXAMPLE_00042\", \"number\": 42, \"split\": \"train\", \"repeats\": 2, \"num_tokens\": 64,\n"
    "   \"start_identifier_tokens\": [0, 12], \"end_identifier_tokens\": [52, 64], \"genre\": \"news\", \"sha256\": \"x\"},\n"
    "  {\"id\": \"SYNTHETIC_EXAMPLE_99999\", \"number\": 99999, \"split\": \"test\", \"repeats\": 1, \"num_tokens\": 64,\n"
    "   \"start_identifier_tokens\": [0, 11], \"end_identifier_tokens\": [53, 64], \"genre\": \"story\", \"sha256\": \"y\"}],\n"
    " \"train_records\": [\"SYNTHETIC_EXAMPLE_00042\", \"SYNTHETIC_EXAMPLE_00042\"],\n"
    " \"test_records\": [\"SYNTHETIC_EXAMPLE_99999\"]}\n";

static int failures = 0;
#define EXPECT(cond, msg) do { if (!(cond)) { failures++; printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, msg); } } while (0)

// SMALL with the first `from` replaced by `to`, then `tail` (len bytes, may hold a NUL) appended.
static size_t variant(char *out, size_t cap, const char *from, const char *to, const char *tail, size_t tail_len) {
    const char *at = from ? strstr(SMALL, from) : NULL;
    size_t n = 0;
    if (at) {
        n = (size_t)snprintf(out, cap, "%.*s%s%s", (int)(at - SMALL), SMALL, to, at + strlen(from));
    } else {
        n = (size_t)snprintf(out, cap, "%s", SMALL);
    }
    memcpy(out + n, tail, tail_len);
    return n + tail_len;
}

// Load `text` in a child process (dataset_meta_load dies on bad input). Returns 0 when it loaded;
// otherwise 1, with what it wrote on stderr in err. Each refusal must be exactly one line.
static void load_meta(void *path) {
    DatasetMeta m;
    dataset_meta_load(&m, (const char *)path, NULL);
    dataset_meta_free(&m);
}

static int load_in_child(const char *text, size_t len, char *err, size_t err_cap) {
    char path[] = "/tmp/test_dataset_meta.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len) { perror("temp file"); exit(1); }
    close(fd);
    int status = run_in_child(load_meta, path, err, err_cap);
    unlink(path);
    return status == 0 ? 0 : 1;
}

// The file must be refused with one line containing `want`.
static void expect_refused(const char *name, const char *text, size_t len, const char *want) {
    char err[4096];
    int refused = load_in_child(text, len, err, sizeof err);
    const char *nl = strchr(err, '\n');
    int one_line = nl && nl[1] == '\0';
    if (!refused || !one_line || !strstr(err, want)) {
        failures++;
        printf("FAIL %s: expected one error line containing \"%s\", got%s: %s\n", name, want, refused ? "" : " success", err);
    }
}

static void expect_loads(const char *name, const char *text, size_t len) {
    char err[4096];
    if (load_in_child(text, len, err, sizeof err)) { failures++; printf("FAIL %s: refused: %s\n", name, err); }
}

// Identifier ranges must be whole numbers in range, like every other integer field (a fraction
// was truncated, 1e300 was an undefined conversion); the file must end after its JSON document.
static void test_bad_files(void) {
    static char buf[8192];
    size_t n;
    n = variant(buf, sizeof buf, "[0, 12]", "[0, 12.7]", "", 0);
    expect_refused("fractional identifier end", buf, n, "\"start_identifier_tokens\" must be a [begin, end] pair of whole numbers");
    n = variant(buf, sizeof buf, "[0, 12]", "[0, 1e300]", "", 0);
    expect_refused("huge identifier end", buf, n, "\"start_identifier_tokens\" = [0, 1e+300] is out of range [0, 64]");
    n = variant(buf, sizeof buf, "[52, 64]", "[-3, 64]", "", 0);
    expect_refused("negative identifier begin", buf, n, "\"end_identifier_tokens\" = [-3, 64] is out of range [0, 64]");
    n = variant(buf, sizeof buf, "[52, 64]", "[52.0, 64]", "", 0);
    expect_loads("52.0 is a whole number", buf, n);
    n = variant(buf, sizeof buf, "\"seed\": 5", "\"seed\": 1e300", "", 0);
    expect_refused("seed beyond int64", buf, n, "field \"seed\" is not a whole number within int64");
    n = variant(buf, sizeof buf, "\"seed\": 5", "\"seed\": 2.5", "", 0);
    expect_refused("fractional seed", buf, n, "field \"seed\" is not a whole number within int64");
    n = variant(buf, sizeof buf, "\"seed\": 5", "\"seed\": 9007199254740991", "", 0);
    expect_loads("seed 2^53 - 1 (generate_dataset's largest)", buf, n);
    n = variant(buf, sizeof buf, NULL, NULL, "xyz{\"garbage\":", 14);
    expect_refused("garbage after the document", buf, n, "trailing data after the JSON document at byte");
    n = variant(buf, sizeof buf, NULL, NULL, "\0", 1);
    expect_refused("a NUL byte after the document", buf, n, "trailing data after the JSON document at byte");
    n = variant(buf, sizeof buf, NULL, NULL, SMALL, strlen(SMALL));
    expect_refused("the document written twice", buf, n, "trailing data after the JSON document at byte");
    n = variant(buf, sizeof buf, NULL, NULL, " \t\r\n\n", 5);
    expect_loads("trailing whitespace", buf, n);
    n = variant(buf, sizeof buf, "\"eot_token\": 50256", "\"eot_token\": 2.5", "", 0);
    expect_refused("fractional tokenizer.eot_token", buf, n, "has no whole-number field \"eot_token\"");
}

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
    EXPECT(m.tokenizer_vocab_size == 50257 && m.tokenizer_eot == 50256, "tokenizer vocab_size / eot_token");
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
    test_bad_files();
    if (failures) { printf("%d failures\n", failures); return 1; }
    printf("dataset_meta unit tests passed\n");
    return 0;
}
