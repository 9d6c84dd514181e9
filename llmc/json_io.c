#include "json_io.h"
#include "utils.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

cJSON *json_read_file_or_die(const char *path, const char *hint) {
    size_t len;
    regular_file_or_die(path, hint);
    char *text = read_file_hint_or_die(path, &len, hint);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        size_t at = end ? (size_t)(end - text) : 0;
        free(text);
        die("%s is not valid JSON (parsing stopped at byte %zu)%s%s%s", path, at,
            hint ? " (" : "", hint ? hint : "", hint ? ")" : "");
    }
    // cJSON stops after the first document; anything but whitespace after it (garbage, a NUL, a
    // second copy) means the file was damaged or appended to, so it is not what was written.
    size_t at = (size_t)(end - text);
    while (at < len && (text[at] == ' ' || text[at] == '\t' || text[at] == '\n' || text[at] == '\r')) at++;
    if (at < len) {
        free(text);
        cJSON_Delete(root);
        die("%s: trailing data after the JSON document at byte %zu (the file is damaged; %s)", path, at,
            hint ? hint : "regenerate it");
    }
    free(text);
    return root;
}

int json_write_file_atomic(const char *path, const cJSON *root) {
    char *text = cJSON_Print(root);
    if (!text) { errno = ENOMEM; return -1; }
    AtomicFile af;
    atomic_open(&af, path);
    size_t n = strlen(text);
    int ok = fwrite(text, 1, n, af.f) == n && fputc('\n', af.f) != EOF;
    int saved = errno;
    cJSON_free(text);
    if (!ok) { atomic_abort(&af); errno = saved; return -1; }
    return atomic_commit(&af);
}

void json_write_file_atomic_or_die(const char *path, const cJSON *root) {
    if (json_write_file_atomic(path, root) != 0)
        die("cannot write %s: %s (check free disk space; any earlier version of the file is intact)", path, strerror(errno));
}

// write() the whole buffer, retrying short writes.
static int write_all(int fd, const char *buf, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

int jsonl_append(const char *path, const cJSON *obj) {
    char *text = cJSON_PrintUnformatted(obj);
    if (!text) { errno = ENOMEM; return -1; }
    size_t n = strlen(text);
    // One write() of the line and its newline, so a reader never sees two records run together.
    char *line = malloc_or_die(n + 1);
    memcpy(line, text, n);
    line[n] = '\n';
    cJSON_free(text);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0666);
    if (fd < 0) { free(line); return -1; }
    int rc = write_all(fd, line, n + 1);
    if (rc == 0) rc = fsync(fd);
    int saved = errno;
    close(fd);
    free(line);
    errno = saved;
    return rc;
}

void jsonl_append_or_die(const char *path, const cJSON *obj) {
    if (jsonl_append(path, obj) != 0) {
        int e = errno;
        die("cannot append to %s: %s (%s)", path, strerror(e), write_fix(e, "check free disk space and permissions"));
    }
}

int64_t jsonl_truncate_after(const char *path, const char *key, double max_value) {
    size_t len = 0;
    char *text = file_exists(path) ? read_file_or_die(path, &len) : strdup_or_die("");
    char *kept = malloc_or_die(len + 1);
    size_t kept_len = 0;
    int64_t kept_lines = 0;
    char *line = text;
    while (line < text + len) {
        char *newline = memchr(line, '\n', (size_t)(text + len - line));
        if (!newline) break;  // a torn last line (no newline): the write never completed
        size_t n = (size_t)(newline - line);
        cJSON *obj = cJSON_ParseWithLength(line, n);
        const cJSON *field = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
        if (cJSON_IsNumber(field) && field->valuedouble <= max_value) {
            memcpy(kept + kept_len, line, n + 1);
            kept_len += n + 1;
            kept_lines++;
        }
        cJSON_Delete(obj);
        line = newline + 1;
    }
    write_file_atomic_or_die(path, kept, kept_len);
    free(kept);
    free(text);
    return kept_lines;
}
