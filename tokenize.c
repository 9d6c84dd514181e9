// tokenize: GPT-2 tokenizer on the command line.
//   text -> ids:   tokenize [--input FILE]            prints the ids, space-separated, on one line
//   count only:    tokenize --count [--input FILE]
//   ids -> text:   tokenize --decode [--input FILE]   reads whitespace-separated ids, writes the bytes
//   many files:    tokenize --input_list LIST         one line per file named in LIST: PATH<TAB>ids
//   streaming:     tokenize --decode --stream         decodes token by token through Utf8Printer, as
//                                                     a text generator would print (invalid UTF-8 -> U+FFFD)
// Input is stdin unless --input is given (a file, or a pipe such as <(cmd)); --input_list may have
// CRLF line endings. The encoding is identical to tiktoken's "gpt2".
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "llmc/args.h"
#include "llmc/tokenizer.h"
#include "llmc/utils.h"

static void emit_stdout(const char *bytes, size_t n, void *ctx) {
    fwrite_or_die(bytes, 1, n, stdout, "stdout");
}

// Parse whitespace-separated token ids; dies naming the offending word.
static size_t parse_ids(const char *text, const char *source, int vocab_size, int **ids_out) {
    size_t n = 0, cap = 1024;
    int *ids = malloc_or_die(cap * sizeof(int));
    const char *p = text;
    for (;;) {
        while (isspace((unsigned char)*p)) p++;
        if (!*p) break;
        const char *word = p;
        while (*p && !isspace((unsigned char)*p)) p++;
        int len = (int)(p - word);
        long long v = 0;
        int ok = len > 0 && len <= 9;
        for (int i = 0; ok && i < len; i++) {
            if (!isdigit((unsigned char)word[i])) ok = 0;
            else v = v * 10 + (word[i] - '0');
        }
        if (!ok || v >= vocab_size)
            die("--decode: '%.*s' (word %zu of %s) is not a token id (ids are whole numbers from 0 to %d)",
                len > 40 ? 40 : len, word, n + 1, source, vocab_size - 1);
        if (n == cap) { cap *= 2; ids = realloc_or_die(ids, cap * sizeof(int)); }
        ids[n++] = (int)v;
    }
    *ids_out = ids;
    return n;
}

static void print_ids(const TokenList *ids) {
    for (size_t i = 0; i < ids->len; i++) printf(i ? " %d" : "%d", ids->ids[i]);
}

// --input_list: one tokenizer load for many documents (the tests compare thousands of ids per file).
static void encode_listed_files(const char *list_path, const char *tokenizer_path) {
    if (!file_exists(list_path)) die("--input_list: %s is not a readable file (check the path)", list_path);
    char *list = read_file_or_die(list_path, NULL);
    // every listed path is checked before the first line of ids goes out
    size_t num_paths = 0, cap = 16;
    char **paths = malloc_or_die(cap * sizeof *paths), *save = NULL;
    for (char *path = strtok_r(list, "\n", &save); path; path = strtok_r(NULL, "\n", &save)) {
        size_t n = strlen(path);
        if (n && path[n - 1] == '\r') path[--n] = '\0';  // a list with CRLF line endings
        if (!*path) continue;
        if (!file_exists(path)) die("--input_list: %s names %s, which is not a readable file (fix the list)", list_path, path);
        if (num_paths == cap) { cap *= 2; paths = realloc_or_die(paths, cap * sizeof *paths); }
        paths[num_paths++] = path;
    }
    if (num_paths == 0) die("--input_list: %s names no files (one path per line)", list_path);
    Tokenizer *tok = tokenizer_load(tokenizer_path);
    TokenList ids = {0};
    for (size_t i = 0; i < num_paths; i++) {
        const char *path = paths[i];
        size_t len;
        char *text = read_file_or_die(path, &len);
        token_list_clear(&ids);
        tokenizer_encode(tok, text, len, &ids);
        printf("%s\t", path);
        print_ids(&ids);
        putchar('\n');
        free(text);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) die("cannot write to stdout: %s", strerror(errno));
    token_list_free(&ids);
    tokenizer_free(tok);
    free(paths);
    free(list);
}

int main(int argc, char **argv) {
    set_program_name(argv[0]);
    const char *input_path = NULL, *input_list = NULL, *tokenizer_path = NULL;
    int decode = 0, count = 0, stream = 0;
    ArgSpec specs[] = {
        {"input", ARG_STRING, &input_path, "read from FILE instead of stdin", 1, 0, 0},
        {"input_list", ARG_STRING, &input_list, "encode every file named in LIST (one path per line); prints "
                                                "one line per file: PATH<TAB>ids", 1, 0, 0},
        {"tokenizer", ARG_STRING, &tokenizer_path,
         "tokenizer file in llm.c's format (if not given: gpt2_tokenizer.bin in the current directory, else next to this program)", 1, 0, 0},
        {"decode", ARG_BOOL, &decode, "read token ids and write their bytes", 1, 0, 0},
        {"count", ARG_BOOL, &count, "print only the number of tokens of the text", 1, 0, 0},
        {"stream", ARG_BOOL, &stream, "with --decode: print token by token, holding back split UTF-8 characters "
                                      "and writing invalid UTF-8 as U+FFFD", 1, 0, 0},
    };
    int nspecs = sizeof specs / sizeof specs[0];
    parse_args(argc, argv, specs, nspecs,
               "GPT-2 tokenizer (identical to tiktoken's \"gpt2\" encoding). Text in, token ids out\n"
               "(space-separated, one line); --decode turns ids back into text. Reads stdin unless --input.");
    if (decode && count) die("--count and --decode cannot be combined (--count counts the tokens of a text)");
    if (stream && !decode) die("--stream only applies to --decode (add --decode, or drop --stream)");

    if (input_list && (input_path || decode || count))
        die("--input_list cannot be combined with --input, --decode or --count (it encodes the listed files)");

    char *default_path = NULL;
    if (!tokenizer_path) tokenizer_path = default_path = tokenizer_default_path();
    if (input_list) {
        encode_listed_files(input_list, tokenizer_path);
        free(default_path);
        return 0;
    }
    // a regular file, or a pipe (e.g. --input <(cmd)), read to its end like stdin
    const char *kind;
    if (input_path && path_kind(input_path, &kind) != 1 && !(kind && !strcmp(kind, "a FIFO"))) {
        if (kind) die("--input: %s is %s, not a readable file (give a file, or pipe the text to stdin)", input_path, kind);
        die("--input: %s is not a readable file (check the path)", input_path);
    }
    const char *source = input_path ? input_path : "stdin";
    size_t len;
    char *text = read_file_or_die(input_path ? input_path : "/dev/stdin", &len);
    Tokenizer *tok = tokenizer_load(tokenizer_path);

    if (decode) {
        // parse_ids reads a C string: a NUL would end the ids there and drop the rest unseen
        const char *nul = memchr(text, '\0', len);
        if (nul)
            die("--decode: %s has a NUL byte at byte %zu (give token ids as text: whole numbers separated by whitespace)",
                source, (size_t)(nul - text));
        int *ids;
        size_t n = parse_ids(text, source, tokenizer_vocab_size(tok), &ids);
        if (stream) {
            Utf8Printer printer;
            utf8_printer_init(&printer);
            for (size_t i = 0; i < n; i++) utf8_printer_write_token(&printer, tok, ids[i], emit_stdout, NULL);
            utf8_printer_flush(&printer, emit_stdout, NULL);
        } else {
            char *bytes;
            size_t nbytes = tokenizer_decode(tok, ids, n, &bytes);
            fwrite_or_die(bytes, 1, nbytes, stdout, "stdout");
            free(bytes);
        }
        free(ids);
    } else {
        TokenList ids = {0};
        tokenizer_encode(tok, text, len, &ids);
        if (count) {
            printf("%zu\n", ids.len);
        } else {
            print_ids(&ids);
            putchar('\n');
        }
        token_list_free(&ids);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) die("cannot write to stdout: %s", strerror(errno));
    tokenizer_free(tok);
    free(text);
    free(default_path);
    return 0;
}
