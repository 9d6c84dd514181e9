// GPT-2 byte-level BPE tokenizer, identical to tiktoken's "gpt2" encoding.
// The vocabulary is read from llm.c's tokenizer file (gpt2_tokenizer.bin): an int32 header of
// 256 slots (magic 20240328, version 2, vocab size, eot id), then every token as one length byte
// followed by its bytes. A token's id is its BPE merge rank, so the file alone defines encoding.
// A loaded Tokenizer is read-only: encode/decode may be called from many threads at once.
#ifndef LLMC_TOKENIZER_H
#define LLMC_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#define TOKENIZER_MAGIC 20240328

typedef struct Tokenizer Tokenizer;

// Growable list of token ids.
typedef struct {
    int *ids;
    size_t len, cap;
} TokenList;

void token_list_push(TokenList *list, int id);
void token_list_clear(TokenList *list);   // len = 0, keeps memory
void token_list_free(TokenList *list);

// Load a tokenizer file; dies with one line naming the file and the fix on any problem.
Tokenizer *tokenizer_load(const char *path);
void tokenizer_free(Tokenizer *t);
int tokenizer_vocab_size(const Tokenizer *t);
int tokenizer_eot(const Tokenizer *t);

// Encode len bytes of UTF-8 text, appending ids to out; returns the number appended.
// "<|endoftext|>" in the text is ordinary text. Invalid UTF-8 never crashes (see tokenizer.c
// for exactly what happens to it).
size_t tokenizer_encode(const Tokenizer *t, const char *text, size_t len, TokenList *out);

// The bytes of one token (not NUL-terminated); *len gets the byte count. id must be valid.
const uint8_t *tokenizer_token_bytes(const Tokenizer *t, int id, size_t *len);

// Decode ids to bytes, appended into a malloc'd, NUL-terminated buffer; returns its length.
// Dies naming the id if one is out of range.
size_t tokenizer_decode(const Tokenizer *t, const int *ids, size_t n, char **out);

// Streaming printer that is safe across UTF-8 sequences split between tokens: bytes of an
// incomplete sequence are held back until the sequence completes (or is known to be invalid,
// then written as U+FFFD).
typedef struct {
    uint8_t pending[4];
    int pending_len;
} Utf8Printer;
void utf8_printer_init(Utf8Printer *p);
void utf8_printer_write_token(Utf8Printer *p, const Tokenizer *t, int id, void (*emit)(const char *, size_t, void *), void *ctx);
void utf8_printer_flush(Utf8Printer *p, void (*emit)(const char *, size_t, void *), void *ctx);

// UTF-8 helpers. utf8_is_valid: 1 if text[0..len) is well-formed UTF-8 (no overlongs, no
// surrogates, nothing above U+10FFFF). utf8_replace_invalid: a malloc'd, NUL-terminated copy in
// which every maximal invalid subpart is replaced by U+FFFD, exactly as Python's
// bytes.decode('utf-8', 'replace') and node's TextDecoder do; *out_len gets its length.
int utf8_is_valid(const char *text, size_t len);
char *utf8_replace_invalid(const char *text, size_t len, size_t *out_len);

// Path of the default tokenizer: "gpt2_tokenizer.bin" in the current directory if present,
// else next to the running executable. Returns a malloc'd string.
char *tokenizer_default_path(void);

#endif
