// OpenAI-compatible Chat Completions client for generate_dataset: prompts, concurrent requests
// with retries (libcurl multi), an append-only answer cache, and API key handling.
// See openai_client.h for the contract.
#define _GNU_SOURCE  // memmem
#define PCRE2_CODE_UNIT_WIDTH 8
#include "openai_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <pcre2.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sha256.h"
#include "splitmix.h"
#include "utils.h"

#define MAX_BACKOFF_S 60.0
#define MAX_RETRY_AFTER_S 600.0
#define MAX_SHOWN_SERVER_TEXT 200   // bytes of a server error message shown to the user
#define REFUSAL_MAX_BYTES 600       // refusals are short; long texts that start "I'm sorry" are letters
#define PROGRESS_EVERY_S 10.0
// Real answers are kilobytes; past this the server is not a chat endpoint (or never stops).
#define MAX_ANSWER_BYTES ((size_t)16 << 20)

static const char *PROMPT_TEMPLATE =
    "Write a self-contained %s of at least %d words. Make it rich in specific details: invent names "
    "of people, places and organisations, dates, numbers and concrete events, and keep them consistent. "
    "Write plain prose without Markdown, and write only the text itself, with no preface or closing remarks. "
    "This is text number %d of a collection, so make it different from any other.";
// Appended to the prompt when an example is asked for again (its first text repeated a 50-token
// span of another example, or could not be cut to the exact length).
static const char *VARIANT_SUFFIX = " (Version %d: write a new text, different from any earlier version.)";
static const char *CONTINUE_PROMPT =
    "Continue the text from exactly where it stops. Do not repeat or summarise anything, and write "
    "only the continuation.";

// ---------------------------------------------------------------------------------------------
// Small string helpers.

typedef struct {
    char *data;
    size_t len, cap;
} Buf;

static void buf_append(Buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        b->data = realloc_or_die(b->data, cap);
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// A one-line, key-free excerpt of text that came from a server or from curl: control characters
// become spaces, the key (if it was echoed back) becomes "[redacted]", long texts are cut.
static char *safe_excerpt(const char *text, size_t len, const char *api_key) {
    if (len > 4 * MAX_SHOWN_SERVER_TEXT) len = 4 * MAX_SHOWN_SERVER_TEXT;
    Buf b = {0};
    size_t key_len = api_key ? strlen(api_key) : 0;
    for (size_t i = 0; i < len && b.len < MAX_SHOWN_SERVER_TEXT;) {
        if (key_len && i + key_len <= len && memcmp(text + i, api_key, key_len) == 0) {
            buf_append(&b, "[redacted]", 10);
            i += key_len;
            continue;
        }
        char c = text[i++];
        if ((unsigned char)c < 0x20 || c == 0x7f) c = ' ';
        buf_append(&b, &c, 1);
    }
    if (!b.data) return strdup_or_die("");
    return b.data;
}

// ---------------------------------------------------------------------------------------------
// API key and base URL: the environment, else a python-dotenv style ./.env file.

// Value of name in ./.env, or NULL. Lines are KEY=VALUE with optional "export ", spaces around
// "=", single or double quotes around the value, and # comments (whole-line, or after an
// unquoted value).
static char *dotenv_lookup(const char *name) {
    FILE *f = fopen(".env", "rb");
    if (!f) return NULL;
    int errcode;
    PCRE2_SIZE erroffset;
    // 1: name; 2: double-quoted value; 3: single-quoted value; 4: bare value (up to a " #" comment).
    const char *pattern =
        "^\\s*(?:export\\s+)?([A-Za-z_][A-Za-z0-9_.]*)\\s*=\\s*"
        "(?:\"((?:[^\"\\\\]|\\\\.)*)\"|'([^']*)'|((?:[^#\\s]|\\s+(?!#|\\s*$))*))\\s*(?:#.*)?$";
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0, &errcode, &erroffset, NULL);
    if (!re) die("internal error: the .env pattern does not compile (this is a bug; please report it)");
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    char *value = NULL, *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
        if (pcre2_match(re, (PCRE2_SPTR)line, (PCRE2_SIZE)n, 0, 0, md, NULL) < 0) continue;   // comments, junk
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (ov[3] - ov[2] != strlen(name) || memcmp(line + ov[2], name, ov[3] - ov[2]) != 0) continue;
        for (int group = 2; group <= 4; group++) {
            if (ov[2 * group] == PCRE2_UNSET) continue;
            size_t len = ov[2 * group + 1] - ov[2 * group];
            free(value);   // the last assignment wins, as in python-dotenv
            value = malloc_or_die(len + 1);
            // Double quotes allow backslash escapes of the quote and the backslash itself.
            size_t k = 0;
            for (size_t i = ov[2 * group]; i < ov[2 * group + 1]; i++) {
                if (group == 2 && line[i] == '\\' && i + 1 < ov[2 * group + 1]) i++;
                value[k++] = line[i];
            }
            value[k] = '\0';
            break;
        }
    }
    free(line);
    fclose(f);
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return value;
}

char *openai_find_api_key(void) {
    const char *env = getenv("OPENAI_API_KEY");
    char *key = env ? strdup_or_die(env) : dotenv_lookup("OPENAI_API_KEY");
    // Spaces or line breaks around a pasted key would break the header.
    if (key) {
        char *start = key;
        while (is_space(*start)) start++;
        size_t len = strlen(start);
        while (len > 0 && is_space(start[len - 1])) len--;
        memmove(key, start, len);
        key[len] = '\0';
        if (!*key) { free(key); key = NULL; }
        // A line break inside the key would smuggle extra headers into every request.
        for (const char *p = key; p && *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f) {
                free(key);
                die("OPENAI_API_KEY (%s) contains a control character such as a line break (set it to the key "
                    "alone, on one line)", env ? "the environment variable" : "in ./.env");
            }
    }
    return key;
}

char *openai_resolve_api_base(const char *flag_value) {
    char *base;
    const char *env = getenv("OPENAI_BASE_URL");
    if (flag_value) base = strdup_or_die(flag_value);
    else if (env && *env) base = strdup_or_die(env);
    else if (!(base = dotenv_lookup("OPENAI_BASE_URL")) || !*base) { free(base); base = strdup_or_die(OPENAI_DEFAULT_API_BASE); }
    size_t len = strlen(base);
    while (len > 0 && base[len - 1] == '/') base[--len] = '\0';
    return base;
}

int openai_text_has_identifier(const char *text, size_t len) {
    static const char prefix[] = "[SYNTHETIC_EXAMPLE_";
    const size_t k = sizeof prefix - 1;
    for (const char *p = text, *end = text + len; (p = memmem(p, (size_t)(end - p), prefix, k)) != NULL; p++)
        if (p + k < end && p[k] >= '0' && p[k] <= '9') return 1;
    return 0;
}

void openai_check_api_base(const char *base) {
    // Checked before anything is created, so a typo costs no directory and no request.
    for (const char *p = base; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            die("--api_base: the URL contains a space or control character (give a URL like http://localhost:8000/v1)");
    // libcurl reads http:///v1 as host "v1".
    const char *sep = strstr(base, "://");
    if (sep && (sep[3] == '/' || sep[3] == '\0'))
        die("--api_base: '%s' has no host (give a URL like http://localhost:8000/v1)", base);
    CURLU *u = curl_url();
    if (!u) die("libcurl could not parse URLs (out of memory?)");
    CURLUcode rc = curl_url_set(u, CURLUPART_URL, base, 0);
    if (rc != CURLUE_OK) {
        curl_url_cleanup(u);
        die("--api_base: '%s' is not a valid URL: %s (give a URL like http://localhost:8000/v1)", base, curl_url_strerror(rc));
    }
    char *scheme = NULL, *host = NULL, *query = NULL, *fragment = NULL;
    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    curl_url_get(u, CURLUPART_HOST, &host, 0);
    curl_url_get(u, CURLUPART_QUERY, &query, 0);
    curl_url_get(u, CURLUPART_FRAGMENT, &fragment, 0);
    const char *problem = NULL;
    if (!scheme || (strcmp(scheme, "http") && strcmp(scheme, "https"))) problem = "is not an http:// or https:// URL";
    else if (!host || !*host) problem = "has no host";
    else if (query) problem = "has a ?query, which would end up before /chat/completions";
    else if (fragment) problem = "has a #fragment, which would end up before /chat/completions";
    curl_free(scheme);
    curl_free(host);
    curl_free(query);
    curl_free(fragment);
    curl_url_cleanup(u);
    if (problem) die("--api_base: '%s' %s (give a URL like http://localhost:8000/v1)", base, problem);
}

// ---------------------------------------------------------------------------------------------
// Prompts.

const char *openai_genre_phrase(const char *genre) {
    static const char *phrases[][2] = {
        {"encyclopedia", "encyclopedia entry about a town, a person, an institution or an invention"},
        {"biography", "biography of an invented person"},
        {"letter", "personal or business letter"},
        {"news", "news article"},
        {"report", "technical or business report"},
        {"story", "short story"},
        {"recipe", "recipe with a short introduction, ingredients and steps"},
        {"review", "review of a product, a book, a restaurant or a performance"},
        {"meeting_notes", "set of meeting notes with attendees, decisions and action items"},
    };
    for (size_t i = 0; i < sizeof phrases / sizeof phrases[0]; i++)
        if (!strcmp(phrases[i][0], genre)) return phrases[i][1];
    return genre;
}

// Words to ask for: GPT-2 spends about 1.3 tokens per English word; ask for a little more than
// enough, rounded to 50, so one answer usually suffices.
static int words_for_tokens(int min_tokens) {
    int words = (int)ceil(min_tokens * 0.85 / 50.0) * 50;
    return words < 50 ? 50 : words;
}

// ---------------------------------------------------------------------------------------------
// One example's conversation.

typedef enum { TASK_PENDING, TASK_IN_FLIGHT, TASK_DONE, TASK_FAILED } TaskState;

typedef struct {
    int index;
    const char *genre;
    int variant;         // 0: first request for this example; k > 0: asked anew for the k-th time
    TaskState state;
    // Answers so far: (turns,) contents and finish reasons; the text is their join.
    char **answers, **finish_reasons;
    int turns;
    Buf text;
    int attempts;        // failed requests for the current turn
    double not_before;   // backoff: do not start before this time (now_seconds)
    char *error;         // why the example failed (TASK_FAILED)
    // The request in flight.
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    char body_sha[65];
    Buf response;
    int too_large;       // the answer passed MAX_ANSWER_BYTES and was cut off
    double started;
    char curl_error[CURL_ERROR_SIZE];
} Task;

static char *build_body(const OpenAIConfig *cfg, const Task *t, int min_tokens) {
    char prompt[1024];
    int len = snprintf(prompt, sizeof prompt, PROMPT_TEMPLATE, openai_genre_phrase(t->genre), words_for_tokens(min_tokens),
                       t->index + 1);
    if (t->variant > 0 && len > 0 && (size_t)len < sizeof prompt)
        snprintf(prompt + len, sizeof prompt - (size_t)len, VARIANT_SUFFIX, t->variant + 1);
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "model", cfg->model);
    cJSON *messages = cJSON_AddArrayToObject(body, "messages");
    for (int turn = 0; turn <= t->turns; turn++) {
        cJSON *user = cJSON_CreateObject();
        cJSON_AddStringToObject(user, "role", "user");
        cJSON_AddStringToObject(user, "content", turn == 0 ? prompt : CONTINUE_PROMPT);
        cJSON_AddItemToArray(messages, user);
        if (turn == t->turns) break;
        cJSON *assistant = cJSON_CreateObject();
        cJSON_AddStringToObject(assistant, "role", "assistant");
        cJSON_AddStringToObject(assistant, "content", t->answers[turn]);
        cJSON_AddItemToArray(messages, assistant);
    }
    cJSON_AddNumberToObject(body, "temperature", cfg->temperature);
    cJSON_AddNumberToObject(body, "seed", (double)(cfg->seed + (uint64_t)t->index));
    if (cfg->max_output_tokens > 0) cJSON_AddNumberToObject(body, "max_tokens", cfg->max_output_tokens);
    char *s = cJSON_PrintUnformatted(body);
    if (!s) die("out of memory while building a request");
    cJSON_Delete(body);
    return s;
}

// Appends an answer to the conversation and extends the text. After an answer cut by the token
// limit (finish_reason "length") the continuation goes on mid-sentence: it is joined with one
// space unless either side already has one or it starts with punctuation. After a finished
// answer the continuation starts a new paragraph (a blank line).
static void task_add_answer(Task *t, const char *content, const char *finish_reason) {
    t->answers = realloc_or_die(t->answers, (size_t)(t->turns + 1) * sizeof(char *));
    t->finish_reasons = realloc_or_die(t->finish_reasons, (size_t)(t->turns + 1) * sizeof(char *));
    t->answers[t->turns] = strdup_or_die(content);
    t->finish_reasons[t->turns] = strdup_or_die(finish_reason);
    if (t->turns > 0 && strcmp(t->finish_reasons[t->turns - 1], "length") != 0) {
        while (t->text.len > 0 && is_space(t->text.data[t->text.len - 1])) t->text.data[--t->text.len] = '\0';
        while (is_space(*content)) content++;
        buf_append(&t->text, "\n\n", 2);
    } else if (t->turns > 0) {
        // Chat models start a new message without the space a running text would have.
        char last = t->text.len ? t->text.data[t->text.len - 1] : ' ';
        if (!is_space(last) && !is_space(content[0]) && content[0] && !strchr(".,;:!?)]}'\"", content[0]))
            buf_append(&t->text, " ", 1);
    }
    buf_append(&t->text, content, strlen(content));
    t->turns++;
    t->attempts = 0;
}

// ---------------------------------------------------------------------------------------------
// The cache: one JSON object per line,
//   {"index": i, "turn": t, "request_sha256": ..., "model": ..., "content": ..., "finish_reason": ...}

typedef struct {
    int turn;
    char sha[65];
    char *content, *finish_reason;
} CacheEntry;

typedef struct {
    CacheEntry *items;
    int len, cap;
} CacheBucket;   // the entries of one example

typedef struct {
    const char *path;
    int fd;
    CacheBucket *buckets;   // (n,)
    int n;
    int loaded_lines, torn, unterminated;
} Cache;

// The start of a line as cache_append writes it ({"index": ...), cut short by a crash.
static int looks_like_torn_line(const char *s, size_t len) {
    static const char key[] = "\"index\"";
    if (len == 0 || s[0] != '{') return 0;
    size_t i = 1;
    while (i < len && s[i] == ' ') i++;
    size_t rest = len - i, k = sizeof key - 1;
    return memcmp(s + i, key, rest < k ? rest : k) == 0;
}

static void cache_put(Cache *c, int index, int turn, const char *sha, const char *content, const char *finish) {
    if (index < 0 || index >= c->n) return;   // from a run with more examples: not needed now
    CacheBucket *b = &c->buckets[index];
    if (b->len == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 4;
        b->items = realloc_or_die(b->items, (size_t)b->cap * sizeof(CacheEntry));
    }
    CacheEntry *e = &b->items[b->len++];
    e->turn = turn;
    snprintf(e->sha, sizeof e->sha, "%s", sha);
    e->content = strdup_or_die(content);
    e->finish_reason = strdup_or_die(finish);
}

static const CacheEntry *cache_get(const Cache *c, int index, int turn, const char *sha) {
    const CacheBucket *b = &c->buckets[index];
    for (int i = b->len - 1; i >= 0; i--)   // the newest line wins
        if (b->items[i].turn == turn && !strcmp(b->items[i].sha, sha)) return &b->items[i];
    return NULL;
}

static void cache_open_for_append(Cache *c) {
    c->fd = open(c->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (c->fd < 0)
        die("%s: cannot open the answer cache for writing: %s (choose a writable --output_dir)", c->path, strerror(errno));
}

static void cache_open(Cache *c, const char *path, int n) {
    c->path = path;
    c->n = n;
    c->buckets = calloc_or_die((size_t)(n ? n : 1), sizeof(CacheBucket));
    c->fd = -1;
    // A FIFO or device here would block the read below forever.
    regular_file_or_die(path, "remove it, or choose another --output_dir");
    if (file_exists(path)) {
        size_t size;
        char *data = read_file_or_die(path, &size);
        size_t pos = 0, good_end = 0;
        int line_no = 0;
        while (pos < size) {
            char *nl = memchr(data + pos, '\n', size - pos);
            line_no++;
            size_t len = nl ? (size_t)(nl - (data + pos)) : size - pos;
            if (!nl) {
                // No newline at the end: a complete line is kept (and given its newline); the start
                // of one, as a crash mid-write leaves it, is cut off; anything else is not ours.
                cJSON *o = cJSON_ParseWithLength(data + pos, len);
                int complete = o && cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "index"));
                cJSON_Delete(o);
                if (!complete) {
                    if (!looks_like_torn_line(data + pos, len))
                        die("%s:%d: not a cache line written by generate_dataset (delete that line, or the file to ask "
                            "for every answer again)", path, line_no);
                    c->torn = 1;
                    break;
                }
                c->unterminated = 1;
            }
            if (len > 0) {
                cJSON *o = cJSON_ParseWithLength(data + pos, len);
                cJSON *index = o ? cJSON_GetObjectItemCaseSensitive(o, "index") : NULL;
                cJSON *turn = o ? cJSON_GetObjectItemCaseSensitive(o, "turn") : NULL;
                cJSON *sha = o ? cJSON_GetObjectItemCaseSensitive(o, "request_sha256") : NULL;
                cJSON *content = o ? cJSON_GetObjectItemCaseSensitive(o, "content") : NULL;
                cJSON *finish = o ? cJSON_GetObjectItemCaseSensitive(o, "finish_reason") : NULL;
                if (!cJSON_IsNumber(index) || !cJSON_IsNumber(turn) || !cJSON_IsString(sha) || strlen(sha->valuestring) != 64 ||
                    !cJSON_IsString(content) || !cJSON_IsString(finish))
                    die("%s:%d: not a cache line written by generate_dataset (delete that line, or the file to ask "
                        "for every answer again)", path, line_no);
                cache_put(c, (int)index->valuedouble, (int)turn->valuedouble, sha->valuestring, content->valuestring,
                          finish->valuestring);
                c->loaded_lines++;
                cJSON_Delete(o);
            }
            pos += len + 1;
            good_end = pos;
        }
        free(data);
        if (c->unterminated) {
            int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
            if (fd < 0 || write(fd, "\n", 1) != 1 || close(fd) != 0)
                die("%s: cannot end the last line: %s (make the file writable)", path, strerror(errno));
        }
        // Cut the torn tail off so the next line starts on a line of its own.
        if (c->torn && truncate(path, (off_t)good_end) != 0)
            die("%s: cannot remove a torn last line: %s (make the file writable)", path, strerror(errno));
    }
    // Opened for writing only with the first new answer: a run that gets none leaves no empty file.
    if (file_exists(path)) cache_open_for_append(c);
}

// One line per answer, fsync'd, so that an answer once paid for survives any crash.
static void cache_append(Cache *c, int index, int turn, const char *sha, const char *model, const char *content,
                         const char *finish) {
    if (c->fd < 0) cache_open_for_append(c);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", index);
    cJSON_AddNumberToObject(o, "turn", turn);
    cJSON_AddStringToObject(o, "request_sha256", sha);
    cJSON_AddStringToObject(o, "model", model);
    cJSON_AddStringToObject(o, "content", content);
    cJSON_AddStringToObject(o, "finish_reason", finish);
    char *line = cJSON_PrintUnformatted(o);
    if (!line) die("out of memory while writing %s", c->path);
    cJSON_Delete(o);
    size_t len = strlen(line);
    line = realloc_or_die(line, len + 2);
    line[len++] = '\n';
    // One write() call for the whole line: with O_APPEND it lands in one piece, or torn at the end.
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(c->fd, line + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            int e = errno;
            die("%s: cannot append an answer: %s (%s, then rerun to resume)", c->path, strerror(e),
                write_fix(e, "free some disk space"));
        }
        done += (size_t)w;
    }
    if (fsync(c->fd) != 0) die("%s: fsync failed: %s (check the disk, then rerun to resume)", c->path, strerror(errno));
    free(line);
}

static void cache_close(Cache *c) {
    if (c->fd >= 0) close(c->fd);
    for (int i = 0; i < c->n; i++) {
        for (int j = 0; j < c->buckets[i].len; j++) {
            free(c->buckets[i].items[j].content);
            free(c->buckets[i].items[j].finish_reason);
        }
        free(c->buckets[i].items);
    }
    free(c->buckets);
}

// ---------------------------------------------------------------------------------------------
// The collection loop.

typedef struct {
    const OpenAIConfig *cfg;
    const Tokenizer *tok;
    int min_tokens;
    Cache cache;
    OpenAIStats *stats;
    SplitMix jitter;
    TokenList scratch;
    pcre2_code *refusal_re;
    pcre2_match_data *refusal_md;
    char *url;
} Collector;

static void task_fail(Task *t, char *message) {
    t->state = TASK_FAILED;
    free(t->error);
    t->error = message;
}

static char *printf_alloc(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *printf_alloc(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = malloc_or_die((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

// After an answer: done if long enough, else the next turn is due (from the cache or the network).
static void task_after_answer(Collector *co, Task *t) {
    token_list_clear(&co->scratch);
    int have = (int)tokenizer_encode(co->tok, t->text.data, t->text.len, &co->scratch);
    if (have >= co->min_tokens) { t->state = TASK_DONE; return; }
    if (t->turns >= co->cfg->max_turns) {
        task_fail(t, printf_alloc("example %d: after %d turns the text has %d of the %d tokens needed (raise --max_turns, "
                                  "or use a model that writes longer answers)", t->index, t->turns, have, co->min_tokens));
        return;
    }
    t->state = TASK_PENDING;
    t->not_before = 0;
}

// Takes every answer the cache already holds for this conversation.
static void task_advance_from_cache(Collector *co, Task *t) {
    while (t->state == TASK_PENDING) {
        char *body = build_body(co->cfg, t, co->min_tokens);
        char sha[65];
        sha256_hex(body, strlen(body), sha);
        free(body);
        const CacheEntry *e = cache_get(&co->cache, t->index, t->turns, sha);
        if (!e) return;
        co->stats->cached_answers++;
        if (t->turns > 0) co->stats->continuations++;
        task_add_answer(t, e->content, e->finish_reason);
        task_after_answer(co, t);
    }
}

static size_t on_body_bytes(char *data, size_t size, size_t nmemb, void *user) {
    Task *t = user;
    // A server that streams without end would otherwise be buffered until memory runs out.
    if (t->response.len + size * nmemb > MAX_ANSWER_BYTES) { t->too_large = 1; return 0; }
    buf_append(&t->response, data, size * nmemb);
    return size * nmemb;
}

static void task_start(Collector *co, CURLM *multi, Task *t) {
    const OpenAIConfig *cfg = co->cfg;
    t->body = build_body(cfg, t, co->min_tokens);
    sha256_hex(t->body, strlen(t->body), t->body_sha);
    t->response.len = 0;
    t->too_large = 0;
    t->curl_error[0] = '\0';
    t->easy = curl_easy_init();
    if (!t->easy) die("libcurl could not create a request (out of memory?)");
    t->headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (cfg->api_key && *cfg->api_key) {
        // The only place the key goes. CURLOPT_VERBOSE stays off: it would print this header.
        size_t n = strlen(cfg->api_key) + 32;
        char *auth = malloc_or_die(n);
        snprintf(auth, n, "Authorization: Bearer %s", cfg->api_key);
        t->headers = curl_slist_append(t->headers, auth);
        memset(auth, 0, n);
        free(auth);
    }
    curl_easy_setopt(t->easy, CURLOPT_URL, co->url);
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->body);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(t->body));
    curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_body_bytes);
    curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)MAX_ANSWER_BYTES);
    curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, (long)(cfg->timeout_s * 1000.0));
    curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)(fmin(cfg->timeout_s, 30.0) * 1000.0));
    curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->curl_error);
    curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
    curl_easy_setopt(t->easy, CURLOPT_USERAGENT, "memlens-generate_dataset");
    // Redirects could carry the Authorization header to another host: do not follow them.
    curl_easy_setopt(t->easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_multi_add_handle(multi, t->easy);
    t->state = TASK_IN_FLIGHT;
    t->started = now_seconds();
    co->stats->requests++;
    if (t->attempts > 0) co->stats->retries++;
    if (cfg->verbose)
        fprintf(stderr, "openai: -> example %d turn %d try %d: POST %s (%zu bytes, model %s)\n", t->index, t->turns,
                t->attempts + 1, co->url, strlen(t->body), cfg->model);
}

static void task_release_request(CURLM *multi, Task *t) {
    curl_multi_remove_handle(multi, t->easy);
    curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);
    free(t->body);
    t->easy = NULL;
    t->headers = NULL;
    t->body = NULL;
}

// The error message of an OpenAI-style error body ({"error": {"message": ...}}), else the body.
static char *server_message(const Collector *co, const Buf *response) {
    cJSON *o = response->data ? cJSON_ParseWithLength(response->data, response->len) : NULL;
    cJSON *err = o ? cJSON_GetObjectItemCaseSensitive(o, "error") : NULL;
    cJSON *msg = cJSON_IsObject(err) ? cJSON_GetObjectItemCaseSensitive(err, "message") : NULL;
    if (cJSON_IsString(err)) msg = err;
    char *s;
    if (cJSON_IsString(msg)) s = safe_excerpt(msg->valuestring, strlen(msg->valuestring), co->cfg->api_key);
    else s = safe_excerpt(response->data ? response->data : "", response->len, co->cfg->api_key);
    cJSON_Delete(o);
    return s;
}

// Where a 3xx answer points, as an --api_base (without /chat/completions), or NULL.
static char *redirect_base(const Collector *co, const Task *t) {
    char *location = NULL;
    if (curl_easy_getinfo(t->easy, CURLINFO_REDIRECT_URL, &location) != CURLE_OK || !location || !*location) return NULL;
    char *s = safe_excerpt(location, strlen(location), co->cfg->api_key);
    size_t len = strlen(s), tail = strlen("/chat/completions");
    if (len > tail && !strcmp(s + len - tail, "/chat/completions")) s[len - tail] = '\0';
    return s;
}

static int looks_like_refusal(Collector *co, const char *content) {
    size_t len = strlen(content);
    if (len > REFUSAL_MAX_BYTES) return 0;
    return pcre2_match(co->refusal_re, (PCRE2_SPTR)content, len, 0, 0, co->refusal_md, NULL) >= 0;
}

// A finished request: accept the answer, schedule a retry, or fail the example.
static void task_finish(Collector *co, CURLM *multi, Task *t, CURLcode result) {
    const OpenAIConfig *cfg = co->cfg;
    long status = 0;
    curl_off_t retry_after = -1;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(t->easy, CURLINFO_RETRY_AFTER, &retry_after);
    char *problem = NULL;   // set: this try failed
    int retryable = 1;
    char *content = NULL, *finish = NULL;
    char *redirect = result == CURLE_OK && status >= 300 && status < 400 ? redirect_base(co, t) : NULL;
    if (t->too_large || result == CURLE_FILESIZE_EXCEEDED) {
        problem = printf_alloc("the answer is larger than %zu MiB; check --api_base", MAX_ANSWER_BYTES >> 20);
    } else if (result != CURLE_OK) {
        char *detail = safe_excerpt(t->curl_error, strlen(t->curl_error), cfg->api_key);
        if (result == CURLE_OPERATION_TIMEDOUT)
            problem = printf_alloc("no answer within --timeout %g s", cfg->timeout_s);
        else
            problem = printf_alloc("%s (%s)", curl_easy_strerror(result), detail);
        free(detail);
        // A malformed URL or an unknown scheme will not get better by asking again.
        if (result == CURLE_URL_MALFORMAT || result == CURLE_UNSUPPORTED_PROTOCOL) retryable = 0;
    } else if (status == 429 || status == 408 || status >= 500) {
        char *msg = server_message(co, &t->response);
        problem = printf_alloc("HTTP %ld: %s", status, msg);
        free(msg);
    } else if (redirect) {
        problem = printf_alloc("HTTP %ld: the server redirects to %s; give that URL as --api_base", status, redirect);
        retryable = 0;
    } else if (status < 200 || status >= 300) {
        char *msg = server_message(co, &t->response);
        const char *hint = status == 401 || status == 403 ? " (check OPENAI_API_KEY or .env)"
                           : status == 404           ? " (check --api_base and --model)"
                                                     : " (check --model and the server's options)";
        problem = printf_alloc("HTTP %ld: %s%s", status, msg, hint);
        free(msg);
        retryable = 0;
    } else {
        cJSON *o = cJSON_ParseWithLength(t->response.data ? t->response.data : "", t->response.len);
        cJSON *choices = o ? cJSON_GetObjectItemCaseSensitive(o, "choices") : NULL;
        cJSON *choice = cJSON_IsArray(choices) ? cJSON_GetArrayItem(choices, 0) : NULL;
        cJSON *message = choice ? cJSON_GetObjectItemCaseSensitive(choice, "message") : NULL;
        cJSON *text = message ? cJSON_GetObjectItemCaseSensitive(message, "content") : NULL;
        cJSON *refusal = message ? cJSON_GetObjectItemCaseSensitive(message, "refusal") : NULL;
        cJSON *reason = choice ? cJSON_GetObjectItemCaseSensitive(choice, "finish_reason") : NULL;
        const char *reason_str = cJSON_IsString(reason) ? reason->valuestring : "unknown";
        if (!o) {
            problem = printf_alloc("the answer is not valid JSON (%zu bytes)", t->response.len);
        } else if (!cJSON_IsObject(message)) {
            problem = strdup_or_die("the answer has no choices[0].message");
        } else if (cJSON_IsString(refusal) && refusal->valuestring[0]) {
            char *msg = safe_excerpt(refusal->valuestring, strlen(refusal->valuestring), cfg->api_key);
            problem = printf_alloc("the model refused: %s", msg);
            free(msg);
        } else if (!strcmp(reason_str, "content_filter")) {
            problem = strdup_or_die("the answer was withheld by the content filter");
        } else if (!cJSON_IsString(text)) {
            problem = strdup_or_die("the answer has no text content");
        } else {
            const char *p = text->valuestring;
            while (is_space(*p)) p++;
            if (!*p) {
                problem = strdup_or_die("the answer is empty");
            } else if (openai_text_has_identifier(text->valuestring, strlen(text->valuestring))) {
                // An identifier in the text would make it appear in two examples.
                problem = strdup_or_die("the answer contains an identifier string [SYNTHETIC_EXAMPLE_<digits>]");
            } else if (looks_like_refusal(co, text->valuestring)) {
                char *msg = safe_excerpt(text->valuestring, strlen(text->valuestring), cfg->api_key);
                problem = printf_alloc("the model refused: %s", msg);
                free(msg);
            } else {
                // Bytes the tokenizer can round-trip: invalid UTF-8 (from bad escapes) becomes U+FFFD.
                size_t len = strlen(text->valuestring);
                if (utf8_is_valid(text->valuestring, len)) content = strdup_or_die(text->valuestring);
                else content = utf8_replace_invalid(text->valuestring, len, &len);
                finish = strdup_or_die(reason_str);
            }
        }
        cJSON_Delete(o);
    }
    free(redirect);
    if (cfg->verbose) {
        double took = now_seconds() - t->started;
        if (problem)
            fprintf(stderr, "openai: <- example %d turn %d try %d (%.2f s): %s\n", t->index, t->turns, t->attempts + 1,
                    took, problem);
        else
            fprintf(stderr, "openai: <- example %d turn %d try %d (%.2f s): HTTP %ld, finish_reason %s, %zu bytes of text\n",
                    t->index, t->turns, t->attempts + 1, took, status, finish, strlen(content));
    }
    task_release_request(multi, t);

    if (!problem) {
        cache_append(&co->cache, t->index, t->turns, t->body_sha, cfg->model, content, finish);
        co->stats->answers++;
        if (t->turns > 0) co->stats->continuations++;
        task_add_answer(t, content, finish);
        free(content);
        free(finish);
        task_after_answer(co, t);
        task_advance_from_cache(co, t);
        return;
    }
    t->attempts++;
    if (!retryable || t->attempts > cfg->max_retries) {
        if (retryable)
            task_fail(t, printf_alloc("example %d turn %d: gave up after %d requests (--max_retries %d); last error: %s",
                                      t->index, t->turns, t->attempts, cfg->max_retries, problem));
        else
            task_fail(t, printf_alloc("example %d turn %d: %s", t->index, t->turns, problem));
        free(problem);
        return;
    }
    free(problem);
    // Exponential backoff with jitter, so that many clients do not retry in lockstep; a server's
    // Retry-After (seconds or a date; curl turns both into seconds) takes precedence.
    double delay = fmin(MAX_BACKOFF_S, cfg->retry_base_delay_s * pow(2.0, t->attempts - 1));
    delay *= 0.5 + 0.5 * splitmix_uniform(&co->jitter);
    if (retry_after > 0) delay = fmin((double)retry_after, MAX_RETRY_AFTER_S) + cfg->retry_base_delay_s * splitmix_uniform(&co->jitter);
    t->state = TASK_PENDING;
    t->not_before = now_seconds() + delay;
}

char **openai_collect_texts(const OpenAIConfig *cfg, const Tokenizer *tok, int n, const char *const *genres,
                            const int *variants, int min_tokens, OpenAIStats *stats) {
    Collector co = {.cfg = cfg, .tok = tok, .min_tokens = min_tokens, .stats = stats};
    int answers_before = stats->answers;
    co.jitter = (SplitMix){(uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32)};
    size_t url_len = strlen(cfg->api_base) + 32;
    co.url = malloc_or_die(url_len);
    snprintf(co.url, url_len, "%s/chat/completions", cfg->api_base);
    int errcode;
    PCRE2_SIZE erroffset;
    const char *refusal_pattern =
        "^\\W*(?:I'm sorry|I am sorry|I apologi[sz]e|I can(?:no|')t|I'm unable|I am unable|I won't|As an AI)";
    co.refusal_re = pcre2_compile((PCRE2_SPTR)refusal_pattern, PCRE2_ZERO_TERMINATED, PCRE2_CASELESS | PCRE2_UTF, &errcode,
                                  &erroffset, NULL);
    if (!co.refusal_re) die("internal error: the refusal pattern does not compile (this is a bug; please report it)");
    co.refusal_md = pcre2_match_data_create_from_pattern(co.refusal_re, NULL);
    cache_open(&co.cache, cfg->cache_path, n);

    Task *tasks = calloc_or_die((size_t)(n ? n : 1), sizeof(Task));
    for (int i = 0; i < n; i++) {
        tasks[i].index = i;
        tasks[i].genre = genres[i];
        tasks[i].variant = variants ? variants[i] : 0;
        if (tasks[i].variant < 0) { tasks[i].state = TASK_DONE; continue; }   // not wanted this time: NULL text
        tasks[i].state = TASK_PENDING;
        task_advance_from_cache(&co, &tasks[i]);
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) die("libcurl could not be initialised");
    CURLM *multi = curl_multi_init();
    if (!multi) die("libcurl could not create a request pool (out of memory?)");
    int in_flight = 0;
    double last_progress = now_seconds();
    for (;;) {
        double now = now_seconds(), next_start = INFINITY;
        int open = 0;
        for (int i = 0; i < n; i++) {
            Task *t = &tasks[i];
            if (t->state == TASK_IN_FLIGHT) open++;
            if (t->state != TASK_PENDING) continue;
            open++;
            if (t->not_before > now) { next_start = fmin(next_start, t->not_before); continue; }
            if (in_flight < cfg->concurrency) { task_start(&co, multi, t); in_flight++; }
        }
        if (!open) break;
        int running;
        curl_multi_perform(multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            Task *t;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
            CURLcode result = msg->data.result;
            task_finish(&co, multi, t, result);
            in_flight--;
        }
        int still_open = 0;
        for (int i = 0; i < n && !still_open; i++) still_open = tasks[i].state == TASK_PENDING || tasks[i].state == TASK_IN_FLIGHT;
        if (!still_open) break;
        // Sleep until curl has something to do or the next backoff ends (at most a second).
        double wait_s = 1.0;
        if (next_start < INFINITY) wait_s = fmin(wait_s, fmax(0.0, next_start - now_seconds()));
        if (in_flight < cfg->concurrency) {
            int ready = 0;
            for (int i = 0; i < n && !ready; i++) ready = tasks[i].state == TASK_PENDING && tasks[i].not_before <= now_seconds();
            if (ready) wait_s = 0;
        }
        if (wait_s > 0) curl_multi_poll(multi, NULL, 0, (int)ceil(wait_s * 1000.0), NULL);
        if (now_seconds() - last_progress >= PROGRESS_EVERY_S) {
            int done = 0;
            for (int i = 0; i < n; i++) done += tasks[i].state == TASK_DONE;
            printf("openai: %d of %d texts complete, %d requests sent (%d retries), %d answers from the cache\n", done, n,
                   stats->requests, stats->retries, stats->cached_answers);
            fflush(stdout);
            last_progress = now_seconds();
        }
    }
    curl_multi_cleanup(multi);
    curl_global_cleanup();

    int failed = 0, first_failed = -1;
    for (int i = 0; i < n; i++)
        if (tasks[i].state == TASK_FAILED) { failed++; if (first_failed < 0) first_failed = i; }
    if (failed) {
        // One line: the first failure, how many, and how to resume. Everything received is cached.
        int kept = co.cache.loaded_lines + stats->answers - answers_before;
        if (kept == 0)
            die("openai: %s (%d of %d texts incomplete; no answer was received, so nothing was kept)", tasks[first_failed].error,
                failed, n);
        die("openai: %s (%d of %d texts incomplete; the %d answers received so far are kept in %s: rerun the same command "
            "to resume)", tasks[first_failed].error, failed, n, co.cache.loaded_lines + stats->answers - answers_before,
            cfg->cache_path);
    }
    char **texts = malloc_or_die((size_t)(n ? n : 1) * sizeof(char *));
    for (int i = 0; i < n; i++) {
        Task *t = &tasks[i];
        texts[i] = t->text.data;   // ownership passes to the caller
        for (int j = 0; j < t->turns; j++) { free(t->answers[j]); free(t->finish_reasons[j]); }
        free(t->answers);
        free(t->finish_reasons);
        free(t->response.data);
        free(t->error);
    }
    free(tasks);
    cache_close(&co.cache);
    token_list_free(&co.scratch);
    pcre2_match_data_free(co.refusal_md);
    pcre2_code_free(co.refusal_re);
    free(co.url);
    return texts;
}

void openai_add_metadata(cJSON *obj, const OpenAIConfig *cfg, int min_tokens, const OpenAIStats *stats) {
    cJSON *o = cJSON_AddObjectToObject(obj, "openai");
    cJSON_AddStringToObject(o, "model", cfg->model);
    cJSON_AddStringToObject(o, "api_base", cfg->api_base);
    cJSON_AddStringToObject(o, "endpoint", "chat/completions");
    cJSON_AddNumberToObject(o, "temperature", cfg->temperature);
    if (cfg->max_output_tokens > 0) cJSON_AddNumberToObject(o, "max_output_tokens", cfg->max_output_tokens);
    else cJSON_AddNullToObject(o, "max_output_tokens");
    cJSON_AddNumberToObject(o, "max_turns", cfg->max_turns);
    cJSON_AddNumberToObject(o, "min_text_tokens", min_tokens);
    cJSON_AddNumberToObject(o, "requested_words", words_for_tokens(min_tokens));
    cJSON_AddStringToObject(o, "prompt_template", PROMPT_TEMPLATE);
    cJSON_AddStringToObject(o, "continuation_prompt", CONTINUE_PROMPT);
    cJSON_AddStringToObject(o, "variant_suffix", VARIANT_SUFFIX);
    cJSON_AddStringToObject(o, "request_seed", "--seed + example index");
    cJSON_AddStringToObject(o, "genres", "example i asks for genre i mod the number of genres");
    cJSON_AddStringToObject(o, "continuation_join",
                            "after finish_reason \"length\" the next answer continues the paragraph (one space unless it starts "
                            "with whitespace or punctuation); otherwise it follows after a blank line");
    cJSON_AddStringToObject(o, "cache_file", OPENAI_CACHE_FILE);
    cJSON_AddNumberToObject(o, "requests", stats->requests);
    cJSON_AddNumberToObject(o, "retries", stats->retries);
    cJSON_AddNumberToObject(o, "new_answers", stats->answers);
    cJSON_AddNumberToObject(o, "answers_from_cache", stats->cached_answers);
    cJSON_AddNumberToObject(o, "continuations", stats->continuations);
}
