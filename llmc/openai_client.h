// Texts written by a language model behind an OpenAI-compatible Chat Completions endpoint
// (OpenAI itself, or a local llama.cpp / vLLM / Ollama server), for generate_dataset.
//
// One conversation per example: a prompt asking for a self-contained text of a given genre,
// then "continue" turns until the text is long enough. Requests run concurrently (libcurl multi);
// 429, 5xx, timeouts, connection errors and unusable answers (malformed JSON, empty content,
// refusals, texts holding an identifier string, answers over 16 MiB) are retried with
// exponential backoff and jitter, honouring Retry-After.
//
// Every answer is appended to a cache (JSONL, one fsync'd line per answer) as it arrives, keyed
// by (example index, turn, sha256 of the request body), so a rerun after Ctrl-C, a crash or
// exhausted retries asks only for what is missing, and a changed model or prompt never reuses
// an answer given to a different request.
//
// The API key is only ever placed in the Authorization header: it is never written to the
// cache, metadata, messages or traces (curl's own verbose mode, which prints headers, is never
// turned on; server error texts are redacted before they are shown).
#ifndef LLMC_OPENAI_CLIENT_H
#define LLMC_OPENAI_CLIENT_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "tokenizer.h"

#define OPENAI_DEFAULT_API_BASE "https://api.openai.com/v1"
#define OPENAI_CACHE_FILE "openai_cache.jsonl"

typedef struct {
    const char *model;            // e.g. "gpt-4o-mini"
    const char *api_base;         // "{api_base}/chat/completions" is requested
    const char *api_key;          // NULL or "": no Authorization header (local servers)
    double temperature;
    int max_output_tokens;        // "max_tokens" per request; 0: not sent (the server decides)
    int concurrency;              // requests in flight at once
    int max_retries;              // retries per request after the first try
    double timeout_s;             // whole-request timeout
    double retry_base_delay_s;    // first backoff; doubles with every retry (capped at 60 s)
    int max_turns;                // first answer + continuations per example
    uint64_t seed;                // request "seed" is seed + example index
    const char *cache_path;       // JSONL cache (created if missing)
    int verbose;                  // a line per request sent and per answer on stderr (never headers)
} OpenAIConfig;

typedef struct {
    int requests;          // HTTP requests sent (retries included)
    int retries;           // requests that were retries of a failed one
    int answers;           // new answers written to the cache
    int cached_answers;    // answers taken from the cache instead of the network
    int continuations;     // turns after the first
} OpenAIStats;

// The API key: $OPENAI_API_KEY, else OPENAI_API_KEY in ./.env (python-dotenv style: KEY=VALUE
// lines, optional "export", optional quotes, # comments). Returns a malloc'd string or NULL.
char *openai_find_api_key(void);
// The API base: flag value if given, else $OPENAI_BASE_URL, else OPENAI_BASE_URL in ./.env,
// else OPENAI_DEFAULT_API_BASE. Trailing slashes are removed. Returns a malloc'd string.
char *openai_resolve_api_base(const char *flag_value);

// Dies with one line naming --api_base unless base is an http(s) URL with a host and neither a
// query nor a fragment (it is followed by "/chat/completions"). Creates nothing.
void openai_check_api_base(const char *base);
// 1 when text contains an identifier string: "[SYNTHETIC_EXAMPLE_" followed by a digit.
int openai_text_has_identifier(const char *text, size_t len);

// The genre phrase used in prompts for a textgen genre name ("news" -> "news article").
const char *openai_genre_phrase(const char *genre_name);

// Collects one text per example: texts[i] answers a prompt for genres[i] (a textgen genre name)
// and is at least min_tokens GPT-2 tokens long. variants (NULL: all 0) asks anew for an example:
// variant k > 0 adds "Version k+1" to its prompt, so it is a different request with its own cache
// entries; variant -1 skips the example (its text is NULL). Returns a malloc'd array of n
// malloc'd strings; counts are added to *stats (zero it before the first call).
// If any example cannot be completed (retries exhausted, too many turns, a non-retryable HTTP
// error), the other examples are still finished and cached, then it dies with one line that
// names the first failure and says to rerun to resume.
char **openai_collect_texts(const OpenAIConfig *cfg, const Tokenizer *tok, int n, const char *const *genres,
                            const int *variants, int min_tokens, OpenAIStats *stats);

// Adds the options that shaped the texts (model, base URL, temperature, prompts, limits, cache
// file, request counts) to obj under "openai". Never the key.
void openai_add_metadata(cJSON *obj, const OpenAIConfig *cfg, int min_tokens, const OpenAIStats *stats);

#endif
