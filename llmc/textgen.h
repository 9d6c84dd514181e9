// Offline generator of natural-looking English documents in several genres (encyclopedia
// entries, biographies, letters, news, reports, stories, recipes, reviews, meeting notes).
// Text comes from sentence templates whose slots are filled from word lists (textgen_words.h)
// and from a per-document cast of people, places and organisations, so every document is full
// of specific names, numbers and dates and differs from every other. Output is a pure function
// of (genre, seed): no global state, safe to call from many threads at once.
#ifndef LLMC_TEXTGEN_H
#define LLMC_TEXTGEN_H

#include <stddef.h>
#include <stdint.h>

// Bumped whenever the text for a given seed changes, and recorded in dataset metadata.
#define TEXTGEN_VERSION 1

// Growable byte buffer, always NUL-terminated.
typedef struct {
    char *data;
    size_t len, cap;
} TextBuf;

void textbuf_append(TextBuf *b, const char *s, size_t n);
void textbuf_append_str(TextBuf *b, const char *s);
void textbuf_clear(TextBuf *b);   // len = 0, keeps memory
void textbuf_free(TextBuf *b);

int textgen_num_genres(void);
// Short lower-case name ("news", "recipe", ...) for metadata; genre in [0, textgen_num_genres()).
const char *textgen_genre_name(int genre);

// Append one document of the given genre to out: a title or opening, paragraphs until at least
// min_chars bytes were written, then a closing. The text never starts or ends with whitespace.
void textgen_document(TextBuf *out, int genre, uint64_t seed, size_t min_chars);

#endif
