// Unit tests of the OpenAI client's local parts: the API key and base URL from the environment
// or a python-dotenv style .env file, and the genre phrases used in prompts. (Requests, retries
// and the cache are tested end to end against a mock server in tests/test_openai_source.sh.)
// Usage: test_openai_client SCRATCH_DIR. Exit status 0 only if every check holds.
#include "llmc/openai_client.h"
#include "llmc/textgen.h"
#include "llmc/utils.h"

#include <string.h>
#include <unistd.h>

static int failures = 0;
#define EXPECT(cond) do { if (!(cond)) { fprintf(stderr, "FAILED %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static void write_dotenv(const char *text) {
    FILE *f = fopen(".env", "w");
    if (!f) die("cannot write .env in the scratch directory");
    fputs(text, f);
    fclose(f);
}

// The key found with .env holding text (and no OPENAI_API_KEY in the environment); "" for none.
static int key_is(const char *dotenv, const char *expected) {
    unsetenv("OPENAI_API_KEY");
    write_dotenv(dotenv);
    char *key = openai_find_api_key();
    int ok = expected ? key && !strcmp(key, expected) : key == NULL;
    if (!ok) fprintf(stderr, "  .env %s -> key '%s', expected '%s'\n", dotenv, key ? key : "(none)", expected ? expected : "(none)");
    free(key);
    return ok;
}

static void test_dotenv(void) {
    EXPECT(key_is("OPENAI_API_KEY=sk-plain\n", "sk-plain"));
    EXPECT(key_is("  OPENAI_API_KEY = sk-spaces   \n", "sk-spaces"));
    EXPECT(key_is("export OPENAI_API_KEY=sk-export\n", "sk-export"));
    EXPECT(key_is("OPENAI_API_KEY=\"sk-double\"\n", "sk-double"));
    EXPECT(key_is("OPENAI_API_KEY='sk-single'\n", "sk-single"));
    EXPECT(key_is("OPENAI_API_KEY=sk-comment # the key\n", "sk-comment"));
    EXPECT(key_is("OPENAI_API_KEY=\"sk-#hash\" # a # inside quotes is kept\n", "sk-#hash"));
    EXPECT(key_is("OPENAI_API_KEY=\"sk-\\\"q\\\"\"\n", "sk-\"q\""));
    EXPECT(key_is("# OPENAI_API_KEY=sk-commented-out\n", NULL));
    EXPECT(key_is("OTHER=1\nOPENAI_API_KEY_2=sk-other-name\n", NULL));
    EXPECT(key_is("OPENAI_API_KEY=sk-first\nOPENAI_API_KEY=sk-last\n", "sk-last"));
    EXPECT(key_is("OPENAI_API_KEY=sk-crlf\r\n", "sk-crlf"));
    EXPECT(key_is("OPENAI_API_KEY=\n", NULL));
    EXPECT(key_is("this line is junk\nOPENAI_API_KEY=sk-after-junk", "sk-after-junk"));
    // The environment wins over .env.
    write_dotenv("OPENAI_API_KEY=sk-from-file\n");
    setenv("OPENAI_API_KEY", " sk-from-env\n", 1);
    char *key = openai_find_api_key();
    EXPECT(key && !strcmp(key, "sk-from-env"));
    free(key);
    unsetenv("OPENAI_API_KEY");
    unlink(".env");
    key = openai_find_api_key();
    EXPECT(key == NULL);
    free(key);
}

static void test_api_base(void) {
    unsetenv("OPENAI_BASE_URL");
    unlink(".env");
    char *b = openai_resolve_api_base(NULL);
    EXPECT(!strcmp(b, OPENAI_DEFAULT_API_BASE));
    free(b);
    write_dotenv("OPENAI_BASE_URL=http://file:1/v1/\n");
    b = openai_resolve_api_base(NULL);
    EXPECT(!strcmp(b, "http://file:1/v1"));
    free(b);
    setenv("OPENAI_BASE_URL", "http://env:2/v1", 1);
    b = openai_resolve_api_base(NULL);
    EXPECT(!strcmp(b, "http://env:2/v1"));
    free(b);
    b = openai_resolve_api_base("http://flag:3/v1//");
    EXPECT(!strcmp(b, "http://flag:3/v1"));
    free(b);
    unsetenv("OPENAI_BASE_URL");
    unlink(".env");
}

static void test_genres(void) {
    // Every genre of the offline generator gets a descriptive phrase in prompts.
    for (int g = 0; g < textgen_num_genres(); g++) {
        const char *name = textgen_genre_name(g);
        const char *phrase = openai_genre_phrase(name);
        EXPECT(strcmp(phrase, name) != 0);
        EXPECT(strlen(phrase) > 4);
    }
    EXPECT(!strcmp(openai_genre_phrase("no-such-genre"), "no-such-genre"));
}

int main(int argc, char **argv) {
    set_program_name(argv[0]);
    if (argc != 2) die("usage: test_openai_client SCRATCH_DIR");
    if (chdir(argv[1]) != 0) die("cannot enter %s", argv[1]);
    test_dotenv();
    test_api_base();
    test_genres();
    if (failures) { fprintf(stderr, "%d check(s) failed\n", failures); return 1; }
    printf("openai client unit tests: all passed\n");
    return 0;
}
