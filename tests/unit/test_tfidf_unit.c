// TF-IDF checks. Without arguments: self-checks of properties that need no oracle (run under
// ASan/UBSan too). With a JSON file {"fit": [texts], "pairs": [[a, b], ...], "analyze": [texts]}:
// prints {"vocab_size", "similarities", "words"} as JSON for tests/tfidf_oracle.py to compare
// with scikit-learn.
#include "llmc/tfidf.h"
#include "llmc/utils.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static int failures = 0;
#define EXPECT(cond) do { if (!(cond)) { fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static void self_checks(void) {
    const char *corpus[] = {"The cat sat on the mat.", "A dog chased the cat!", "Numbers like 42 and 1999 count.", ""};
    size_t lens[4];
    for (int i = 0; i < 4; i++) lens[i] = strlen(corpus[i]);
    TfidfModel *m = tfidf_fit(corpus, lens, 4);
    // 'a' is one letter, so not a word; 42 and 1999 are words (\w includes digits)
    EXPECT(tfidf_idf(m, "a") == 0.0);
    EXPECT(tfidf_idf(m, "42") > 0.0);
    // 'the' in 2 of 4 documents: ln(5/3) + 1
    EXPECT(fabs(tfidf_idf(m, "the") - (log(5.0 / 3.0) + 1.0)) < 1e-12);
    const char *x = "THE CAT sat";
    EXPECT(fabs(tfidf_similarity(m, x, strlen(x), "the cat SAT", 11) - 1.0) < 1e-12);
    EXPECT(tfidf_similarity(m, "zebra", 5, "the cat", 7) == 0.0);   // unknown words only
    EXPECT(tfidf_similarity(m, "", 0, "", 0) == 0.0);               // empty texts
    // invalid UTF-8 separates words and never crashes
    const char bad[] = "cat\xff\xfe" "dog\xe2\x82" "mat\xc0";
    char **words;
    size_t n = tfidf_analyze(bad, sizeof bad - 1, &words);
    EXPECT(n == 3);
    if (n == 3) { EXPECT(!strcmp(words[0], "cat")); EXPECT(!strcmp(words[1], "dog")); EXPECT(!strcmp(words[2], "mat")); }
    for (size_t i = 0; i < n; i++) free(words[i]);
    free(words);
    // Unicode letters are lowercased and are word characters
    n = tfidf_analyze("\xc3\x89t\xc3\xa9 \xd0\x9c\xd0\x98\xd0\xa0", 12, &words);
    EXPECT(n == 2);
    if (n == 2) { EXPECT(!strcmp(words[0], "\xc3\xa9t\xc3\xa9")); EXPECT(!strcmp(words[1], "\xd0\xbc\xd0\xb8\xd1\x80")); }
    for (size_t i = 0; i < n; i++) free(words[i]);
    free(words);
    tfidf_free(m);
}

static cJSON *array_or_die(cJSON *root, const char *key, const char *path) {
    cJSON *a = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!cJSON_IsArray(a)) die("%s: \"%s\" must be an array", path, key);
    return a;
}

int main(int argc, char **argv) {
    set_program_name(argv[0]);
    if (argc < 2) {
        self_checks();
        if (failures) { fprintf(stderr, "%d checks failed\n", failures); return 1; }
        printf("tfidf self-checks passed\n");
        return 0;
    }
    size_t len;
    char *text = read_file_or_die(argv[1], &len);
    cJSON *root = cJSON_Parse(text);
    if (!root) die("%s: not valid JSON", argv[1]);
    cJSON *fit = array_or_die(root, "fit", argv[1]);
    int n = cJSON_GetArraySize(fit);
    const char **texts = malloc_or_die((n ? n : 1) * sizeof(char *));
    size_t *lens = malloc_or_die((n ? n : 1) * sizeof(size_t));
    for (int i = 0; i < n; i++) {
        texts[i] = cJSON_GetStringValue(cJSON_GetArrayItem(fit, i));
        if (!texts[i]) die("%s: fit[%d] is not a string", argv[1], i);
        lens[i] = strlen(texts[i]);
    }
    TfidfModel *m = tfidf_fit(texts, lens, (size_t)n);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddNumberToObject(out, "vocab_size", (double)tfidf_vocab_size(m));
    cJSON *sims = cJSON_AddArrayToObject(out, "similarities");
    cJSON *pair;
    cJSON_ArrayForEach(pair, array_or_die(root, "pairs", argv[1])) {
        const char *a = cJSON_GetStringValue(cJSON_GetArrayItem(pair, 0));
        const char *b = cJSON_GetStringValue(cJSON_GetArrayItem(pair, 1));
        if (!a || !b) die("%s: every pair must be two strings", argv[1]);
        cJSON_AddItemToArray(sims, cJSON_CreateNumber(tfidf_similarity(m, a, strlen(a), b, strlen(b))));
    }
    cJSON *words_out = cJSON_AddArrayToObject(out, "words");
    cJSON *item;
    cJSON_ArrayForEach(item, array_or_die(root, "analyze", argv[1])) {
        const char *s = cJSON_GetStringValue(item);
        if (!s) die("%s: analyze entries must be strings", argv[1]);
        char **words;
        size_t nw = tfidf_analyze(s, strlen(s), &words);
        cJSON *list = cJSON_CreateArray();
        for (size_t i = 0; i < nw; i++) { cJSON_AddItemToArray(list, cJSON_CreateString(words[i])); free(words[i]); }
        free(words);
        cJSON_AddItemToArray(words_out, list);
    }
    char *printed = cJSON_PrintUnformatted(out);
    printf("%s\n", printed);
    free(printed);
    cJSON_Delete(out);
    cJSON_Delete(root);
    tfidf_free(m);
    free(texts); free(lens); free(text);
    return 0;
}
