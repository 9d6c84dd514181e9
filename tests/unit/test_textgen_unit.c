// Unit test for the offline text generator (llmc/textgen.c): determinism, variety, lengths,
// clean edges, valid UTF-8, and every template slot of every genre expands (an unknown slot
// aborts, which fails this test). Also runs under ASan/UBSan (build/tests/asan/).
#include <stdio.h>
#include <string.h>

#include "llmc/textgen.h"
#include "llmc/tokenizer.h"

static int failures = 0;
#define EXPECT(cond, ...) do { if (!(cond)) { failures++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

static int is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

int main(void) {
    int genres = textgen_num_genres();
    EXPECT(genres >= 8, "only %d genres", genres);
    for (int g = 0; g < genres; g++)
        for (int h = g + 1; h < genres; h++)
            EXPECT(strcmp(textgen_genre_name(g), textgen_genre_name(h)) != 0, "genres %d and %d share a name", g, h);
    EXPECT(strcmp(textgen_genre_name(-1), "unknown") == 0 && strcmp(textgen_genre_name(genres), "unknown") == 0,
           "out-of-range genre should be \"unknown\"");

    TextBuf a = {0}, b = {0};
    for (int g = 0; g < genres; g++) {
        for (uint64_t seed = 0; seed < 40; seed++) {
            textbuf_clear(&a);
            textgen_document(&a, g, seed, 3000);
            EXPECT(a.len >= 3000, "genre %s seed %llu: %zu bytes < 3000", textgen_genre_name(g), (unsigned long long)seed, a.len);
            EXPECT(a.len < 3000 + 4000, "genre %s: %zu bytes is far more than asked", textgen_genre_name(g), a.len);
            EXPECT(strlen(a.data) == a.len, "embedded NUL");
            EXPECT(!is_space(a.data[0]) && !is_space(a.data[a.len - 1]), "genre %s: whitespace at an edge", textgen_genre_name(g));
            EXPECT(!strchr(a.data, '{') && !strchr(a.data, '}'), "genre %s: unexpanded slot", textgen_genre_name(g));
            EXPECT(!strstr(a.data, "  "), "genre %s: double space", textgen_genre_name(g));
            EXPECT(!strstr(a.data, " a a") && !strstr(a.data, "the a ") && !strstr(a.data, " a an "),
                   "genre %s: doubled article", textgen_genre_name(g));
            EXPECT(utf8_is_valid(a.data, a.len), "genre %s: invalid UTF-8", textgen_genre_name(g));
            // Same seed, same text; next seed, different text.
            textbuf_clear(&b);
            textgen_document(&b, g, seed, 3000);
            EXPECT(a.len == b.len && memcmp(a.data, b.data, a.len) == 0, "genre %s seed %llu not deterministic",
                   textgen_genre_name(g), (unsigned long long)seed);
            textbuf_clear(&b);
            textgen_document(&b, g, seed + 1000, 3000);
            EXPECT(a.len != b.len || memcmp(a.data, b.data, a.len) != 0, "seeds %llu and %llu give the same text",
                   (unsigned long long)seed, (unsigned long long)seed + 1000);
        }
    }
    // Appending keeps what is already in the buffer.
    textbuf_clear(&a);
    textbuf_append_str(&a, "prefix|");
    textgen_document(&a, 0, 7, 100);
    EXPECT(strncmp(a.data, "prefix|", 7) == 0 && a.len > 107, "textgen_document must append");
    // "an" before vowels: find any " a " followed by a vowel-initial word across many documents.
    int bad_articles = 0;
    for (uint64_t seed = 0; seed < 200; seed++) {
        textbuf_clear(&a);
        textgen_document(&a, (int)(seed % genres), seed, 2000);
        for (const char *p = a.data; (p = strstr(p, " a ")); p += 3)
            if (strchr("aeiouAEIOU", p[3])) bad_articles++;
    }
    EXPECT(bad_articles == 0, "%d times \"a\" before a vowel", bad_articles);
    textbuf_free(&a);
    textbuf_free(&b);
    if (failures) { printf("%d failures\n", failures); return 1; }
    printf("textgen unit tests passed (%d genres)\n", genres);
    return 0;
}
