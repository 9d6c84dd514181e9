// Small cJSON helpers for files: read a JSON file (errors name the file), write one atomically,
// append one line to a JSONL log durably, and cut a JSONL log back to a given step on resume.
#ifndef LLMC_JSON_IO_H
#define LLMC_JSON_IO_H

#include <cjson/cJSON.h>
#include <stdint.h>

// Parse a whole JSON file. Dies with one line naming the file (and the byte where parsing
// stopped) when it cannot be read, is not valid JSON, or has anything but whitespace after the
// document; hint says how to fix it (may be NULL).
cJSON *json_read_file_or_die(const char *path, const char *hint);

// Pretty-print root into path atomically (temp name, fsync, rename). 0 on success, -1 with errno
// set and no file left under the final name (an older file stays intact).
int json_write_file_atomic(const char *path, const cJSON *root);
void json_write_file_atomic_or_die(const char *path, const cJSON *root);

// Append obj as one unformatted line plus '\n' and fsync, so a line that was reported written
// survives a crash. 0 on success, -1 with errno set.
int jsonl_append(const char *path, const cJSON *obj);
void jsonl_append_or_die(const char *path, const cJSON *obj);

// Keep only the complete lines of a JSONL file whose numeric field `key` is <= max_value, in
// order; drop the rest (later steps, a torn last line after a crash). Rewrites atomically.
// A missing file is created empty. Returns the number of lines kept.
int64_t jsonl_truncate_after(const char *path, const char *key, double max_value);

#endif
