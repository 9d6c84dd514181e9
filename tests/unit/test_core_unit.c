// Unit tests of the shared helpers: sha256 against FIPS 180-4 vectors, flag parsing,
// atomic files, shard round trip. Exit status 0 only if every check holds.
#include "llmc/args.h"
#include "llmc/json_io.h"
#include "llmc/sha256.h"
#include "llmc/shard.h"
#include "llmc/utils.h"

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "child_stderr.h"

static int failures = 0;
#define EXPECT(cond) do { if (!(cond)) { fprintf(stderr, "FAILED %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static void test_sha256(void) {
    char hex[65];
    sha256_hex("", 0, hex);
    EXPECT(!strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    sha256_hex("abc", 3, hex);
    EXPECT(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256_hex(two_blocks, strlen(two_blocks), hex);
    EXPECT(!strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
    // one million 'a', fed in uneven pieces to exercise block boundaries
    Sha256 s;
    sha256_init(&s);
    char chunk[997];
    memset(chunk, 'a', sizeof chunk);
    size_t left = 1000000;
    while (left) { size_t n = left < sizeof chunk ? left : sizeof chunk; sha256_update(&s, chunk, n); left -= n; }
    uint8_t d[32];
    sha256_final(&s, d);
    EXPECT(d[0] == 0xcd && d[1] == 0xc7 && d[31] == 0xd0);
}

static void test_args(void) {
    int64_t n = 5;
    double lr = 0.1;
    const char *name = "x";
    int flag = 0;
    ArgSpec specs[] = {
        {"num", ARG_INT, &n, "a count", 1, 100, 0},
        {"lr", ARG_FLOAT, &lr, "a rate", 0, 1, 0},
        {"name", ARG_STRING, &name, "a name", 1, 0, 0},
        {"overwrite", ARG_BOOL, &flag, "a switch", 1, 0, 0},
    };
    char *argv[] = {"prog", "--num", "42", "--lr=0.25", "--name", "abc", "--overwrite"};
    parse_args(7, argv, specs, 4, "test");
    EXPECT(n == 42);
    EXPECT(lr == 0.25);
    EXPECT(!strcmp(name, "abc"));
    EXPECT(flag == 1);
    EXPECT(arg_was_set(specs, 4, "num") && arg_was_set(specs, 4, "overwrite"));
    int64_t *vals;
    int count = parse_int_list_or_die("context_lengths", "16,32,64", &vals, 1, 4096);
    EXPECT(count == 3 && vals[0] == 16 && vals[2] == 64);
    free(vals);
    int ks[] = {64, 16, 64, 32, 16, 8};
    int kept = sort_unique_ints(ks, 6);
    EXPECT(kept == 4 && ks[0] == 8 && ks[1] == 16 && ks[2] == 32 && ks[3] == 64);
    EXPECT(sort_unique_ints(ks, 0) == 0);
}

static void test_atomic_and_shard(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/shard.bin", dir);
    uint16_t toks[12];
    for (int i = 0; i < 12; i++) toks[i] = (uint16_t)(i * 1000);
    shard_write(path, toks, 12, 4);
    Shard s;
    shard_load(&s, path);
    EXPECT(s.num_tokens == 12 && s.record_length == 4 && s.num_records == 3 && s.max_token == 11000);
    EXPECT(!memcmp(s.tokens, toks, sizeof toks));
    shard_free(&s);
    // an aborted atomic file leaves nothing behind, and the previous content stays
    AtomicFile af;
    atomic_open(&af, path);
    fputs("garbage", af.f);
    char tmp_copy[600];
    snprintf(tmp_copy, sizeof tmp_copy, "%s", af.tmp_path);
    atomic_abort(&af);
    EXPECT(access(tmp_copy, F_OK) != 0);
    shard_load(&s, path);
    EXPECT(s.num_tokens == 12);
    shard_free(&s);
}

// warn() and die() write "prog: kind: message" lines, short or longer than their stack buffer,
// each line whole (a child process with stderr on a pipe; die exits 1).
static void report_some_lines(void *long_text) {
    warn("short %d", 42);
    warn("long %s end", (const char *)long_text);
    die("and %s", "out");
}

static void test_report_lines(void) {
    char long_text[5001];
    for (int i = 0; i < 5000; i++) long_text[i] = (char)('a' + i % 26);
    long_text[5000] = '\0';
    static char got[16384];
    int status = run_in_child(report_some_lines, long_text, got, sizeof got);
    static char want[16384];
    snprintf(want, sizeof want, "%s: warning: short 42\n%s: warning: long %s end\n%s: error: and out\n", program_name(),
             program_name(), long_text, program_name());
    EXPECT(strcmp(got, want) == 0);
    EXPECT(status == 1);
}

static void read_json_object(void *path) {
    cJSON *root = json_read_file_or_die((const char *)path, NULL);
    _exit(cJSON_IsObject(root) ? 0 : 2);
}

// Run json_read_file_or_die on `len` bytes of `text` in a child (it dies on bad input); returns the
// child's exit status and its stderr in err.
static int read_json_in_child(const char *dir, const char *text, size_t len, char *path, size_t path_cap, char *err, size_t err_cap) {
    snprintf(path, path_cap, "%s/doc.json", dir);
    write_file_atomic_or_die(path, text, len);
    return run_in_child(read_json_object, path, err, err_cap);
}

// A JSON file is one document: trailing whitespace is fine, anything else after it (garbage, a
// NUL byte, the document written twice) is refused with one line naming the file and the byte.
static void test_json_trailing_data(const char *dir) {
    char path[512], err[2048], want[1024];
    const struct { const char *text; size_t len; int bad_at; } cases[] = {
        {"{\"a\": 1}", 8, -1},
        {"{\"a\": 1} \n\t\r\n", 13, -1},
        {"{\"a\": 1}\nxyz{\"garbage\":", 23, 9},
        {"{\"a\": 1}\n\0", 10, 9},
        {"{\"a\": 1}{\"a\": 1}", 16, 8},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = read_json_in_child(dir, cases[i].text, cases[i].len, path, sizeof path, err, sizeof err);
        if (cases[i].bad_at < 0) {
            EXPECT(rc == 0 && err[0] == '\0');
        } else {
            snprintf(want, sizeof want, "%s: error: %s: trailing data after the JSON document at byte %d "
                     "(the file is damaged; regenerate it)\n", program_name(), path, cases[i].bad_at);
            EXPECT(rc == 1 && !strcmp(err, want));
            if (strcmp(err, want)) fprintf(stderr, "case %zu: got \"%s\"\n", i, err);
        }
    }
}

int main(int argc, char **argv) {
    set_program_name(argv[0]);
    if (argc != 2) die("usage: test_core_unit SCRATCH_DIR");
    test_sha256();
    test_args();
    test_atomic_and_shard(argv[1]);
    test_report_lines();
    test_json_trailing_data(argv[1]);
    if (failures) { fprintf(stderr, "%d checks failed\n", failures); return 1; }
    printf("all core checks passed\n");
    return 0;
}
