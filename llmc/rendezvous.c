// Rendezvous through a shared file or a TCP socket; see rendezvous.h for the contract.
#define _GNU_SOURCE  // accept4
#include "rendezvous.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "utils.h"

static const char FILE_MAGIC[8] = {'M', 'L', 'R', 'D', 'V', 'Z', '0', '1'};
static const uint32_t TCP_MAGIC = 0x4d4c5256u;  // "MLRV"
#define TAG_BYTES 128
// Status of rank 0's answer to a TCP client.
enum { ANSWER_OK = 0, ANSWER_WRONG_WORLD = 1, ANSWER_WRONG_LENGTH = 2, ANSWER_DUPLICATE_RANK = 3, ANSWER_BAD_RANK = 4 };

static int fail(char *why, size_t why_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t why_len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
    return -1;
}

static void pause_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

// Milliseconds left before the deadline, for poll(); 0 once it passed.
static int ms_left(double deadline) {
    double left = deadline - now_seconds();
    if (left <= 0) return 0;
    return left > 3600.0 ? 3600000 : (int)(left * 1000.0) + 1;
}

int rendezvous_parse(Rendezvous *r, const char *spec, char *why, size_t why_len) {
    memset(r, 0, sizeof *r);
    if (strncmp(spec, "file:", 5) == 0) {
        const char *path = spec + 5;
        if (!*path) return fail(why, why_len, "'%s' names no file (use file:/shared/dir/nccl_id)", spec);
        if (strlen(path) >= sizeof r->path) return fail(why, why_len, "the path of '%s' is too long", spec);
        r->kind = RENDEZVOUS_FILE;
        snprintf(r->path, sizeof r->path, "%s", path);
        return 0;
    }
    if (strncmp(spec, "tcp:", 4) == 0) {
        const char *rest = spec + 4;
        const char *colon = strrchr(rest, ':');  // the last colon: HOST may be [v6:addr]
        if (!colon || colon == rest || !colon[1])
            return fail(why, why_len, "'%s' is not tcp:HOST:PORT (e.g. tcp:node001:29500)", spec);
        size_t host_len = (size_t)(colon - rest);
        if (rest[0] == '[' && host_len >= 2 && rest[host_len - 1] == ']') { rest++; host_len -= 2; }
        if (host_len == 0 || host_len >= sizeof r->host) return fail(why, why_len, "the host of '%s' is empty or too long", spec);
        char *end;
        errno = 0;
        long port = strtol(colon + 1, &end, 10);
        if (errno || *end || port < 1 || port > 65535)
            return fail(why, why_len, "the port of '%s' is not a number in 1..65535 (e.g. tcp:node001:29500)", spec);
        r->kind = RENDEZVOUS_TCP;
        memcpy(r->host, rest, host_len);
        r->host[host_len] = '\0';
        snprintf(r->port, sizeof r->port, "%ld", port);
        return 0;
    }
    return fail(why, why_len, "'%s' is not a rendezvous (use file:/shared/dir/nccl_id or tcp:HOST:PORT)", spec);
}

// The job this process belongs to, so that a file left by another job is never taken for ours.
static void job_tag(char tag[TAG_BYTES]) {
    memset(tag, 0, TAG_BYTES);
    const char *job = getenv("SLURM_JOB_ID"), *step = getenv("SLURM_STEP_ID"), *own = getenv("MEMLENS_JOB_ID");
    if (job && *job) snprintf(tag, TAG_BYTES, "slurm %s.%s", job, step ? step : "");
    else if (own && *own) snprintf(tag, TAG_BYTES, "memlens %s", own);
}

// ---------------------------------------------------------------------------------------------
// file:

static int file_send(const Rendezvous *r, int world_size, const void *bytes, size_t len, char *why, size_t why_len) {
    // Our own file cannot exist yet: whatever is there was left by an earlier job.
    if (unlink(r->path) != 0 && errno != ENOENT)
        return fail(why, why_len, "cannot remove the old %s: %s (delete it, or use another path)", r->path, strerror(errno));
    size_t n = sizeof FILE_MAGIC + 8 + TAG_BYTES + len;
    unsigned char *data = malloc_or_die(n);
    unsigned char *p = data;
    uint32_t w = (uint32_t)world_size, l = (uint32_t)len;
    memcpy(p, FILE_MAGIC, sizeof FILE_MAGIC); p += sizeof FILE_MAGIC;
    memcpy(p, &w, 4); p += 4;
    memcpy(p, &l, 4); p += 4;
    job_tag((char *)p); p += TAG_BYTES;
    memcpy(p, bytes, len);
    char tmp[sizeof r->path + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", r->path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        free(data);
        return fail(why, why_len, "cannot write %s: %s (its directory must exist on a file system every node sees)", tmp,
                    strerror(e));
    }
    int ok = write(fd, data, n) == (ssize_t)n && fsync(fd) == 0;
    int e = errno;
    ok = close(fd) == 0 && ok;
    free(data);
    if (!ok || rename(tmp, r->path) != 0) {
        if (ok) e = errno;
        unlink(tmp);
        return fail(why, why_len, "cannot write %s: %s", r->path, strerror(e));
    }
    return 0;
}

static int file_receive(const Rendezvous *r, int world_size, void *bytes, size_t len, double timeout_seconds, char *why,
                        size_t why_len) {
    double deadline = now_seconds() + timeout_seconds;
    char tag[TAG_BYTES];
    job_tag(tag);
    size_t n = sizeof FILE_MAGIC + 8 + TAG_BYTES + len;
    unsigned char *data = malloc_or_die(n + 1);
    const char *last_problem = "it never appeared";
    char problem[256];
    long pause = 20;
    for (;;) {
        FILE *f = fopen(r->path, "rb");
        if (f) {
            size_t got = fread(data, 1, n + 1, f);
            fclose(f);
            uint32_t w = 0, l = 0;
            if (got >= sizeof FILE_MAGIC + 8) {
                memcpy(&w, data + sizeof FILE_MAGIC, 4);
                memcpy(&l, data + sizeof FILE_MAGIC + 4, 4);
            }
            int ours = got >= sizeof FILE_MAGIC + 8 + TAG_BYTES &&
                       memcmp(data + sizeof FILE_MAGIC + 8, tag, TAG_BYTES) == 0;
            if (got < sizeof FILE_MAGIC + 8 + TAG_BYTES || memcmp(data, FILE_MAGIC, sizeof FILE_MAGIC) != 0) {
                last_problem = "it is not a rendezvous file";
            } else if (!ours) {
                last_problem = "it belongs to another job (its job tag differs)";
            } else if (w != (uint32_t)world_size || l != (uint32_t)len || got != n) {
                free(data);
                return fail(why, why_len, "%s was written by a rank 0 with world size %u and %u bytes, this rank has "
                            "world size %d and %zu bytes (start every rank with the same launcher settings)",
                            r->path, w, l, world_size, len);
            } else {
                memcpy(bytes, data + sizeof FILE_MAGIC + 8 + TAG_BYTES, len);
                free(data);
                return 0;
            }
        } else if (errno != ENOENT) {
            snprintf(problem, sizeof problem, "it cannot be read: %s", strerror(errno));
            last_problem = problem;
        }
        if (now_seconds() > deadline) {
            free(data);
            return fail(why, why_len, "no usable %s from rank 0 in %.0f s (%s; check that rank 0 runs and that the path is "
                        "on a file system every node sees)", r->path, timeout_seconds, last_problem);
        }
        pause_ms(pause);
        if (pause < 500) pause *= 2;
    }
}

// ---------------------------------------------------------------------------------------------
// tcp:

// Reads or writes exactly n bytes before the deadline; 0, or -1 with errno (ETIMEDOUT, or
// ECONNRESET when the peer closed).
static int io_exact(int fd, void *buf, size_t n, int writing, double deadline) {
    unsigned char *p = buf;
    while (n > 0) {
        struct pollfd pfd = {fd, (short)(writing ? POLLOUT : POLLIN), 0};
        int ready = poll(&pfd, 1, ms_left(deadline));
        if (ready < 0) { if (errno == EINTR) continue; return -1; }
        if (ready == 0) { errno = ETIMEDOUT; return -1; }
        ssize_t k = writing ? send(fd, p, n, MSG_NOSIGNAL) : recv(fd, p, n, 0);
        if (k < 0) { if (errno == EINTR || errno == EAGAIN) continue; return -1; }
        if (k == 0) { errno = ECONNRESET; return -1; }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int tcp_listen(const Rendezvous *r, int backlog, char *why, size_t why_len) {
    struct addrinfo hints, *list;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int rc = getaddrinfo(NULL, r->port, &hints, &list);
    if (rc != 0) return fail(why, why_len, "cannot listen on port %s: %s", r->port, gai_strerror(rc));
    int fd = -1, e = 0;
    for (struct addrinfo *a = list; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) { e = errno; continue; }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, backlog) != 0) {
            e = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(list);
    if (fd < 0)
        return fail(why, why_len, "cannot listen on port %s: %s (choose a free port in tcp:HOST:PORT)", r->port, strerror(e));
    return fd;
}

static int tcp_send(const Rendezvous *r, int world_size, const void *bytes, size_t len, double timeout_seconds, char *why,
                    size_t why_len) {
    double deadline = now_seconds() + timeout_seconds;
    int server = tcp_listen(r, world_size, why, why_len);
    if (server < 0) return -1;
    char *served = calloc_or_die((size_t)world_size, 1);
    int remaining = world_size - 1, result = 0;
    while (remaining > 0 && result == 0) {
        struct pollfd pfd = {server, POLLIN, 0};
        int ready = poll(&pfd, 1, ms_left(deadline));
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) {
            result = fail(why, why_len, "only %d of the %d other ranks connected to port %s in %.0f s (a rank did not "
                          "start, or cannot reach this node under the host name given in tcp:HOST:PORT)",
                          world_size - 1 - remaining, world_size - 1, r->port, timeout_seconds);
            break;
        }
        int client = accept4(server, NULL, NULL, SOCK_CLOEXEC);
        if (client < 0) continue;  // the client gave up already: it will call again
        uint32_t hello[4], answer[3];
        if (io_exact(client, hello, sizeof hello, 0, deadline) != 0 || ntohl(hello[0]) != TCP_MAGIC) {
            close(client);  // not one of ours (a port scanner, a rank of an old job): ignore it
            continue;
        }
        uint32_t their_world = ntohl(hello[1]), their_rank = ntohl(hello[2]), their_len = ntohl(hello[3]);
        uint32_t status = ANSWER_OK;
        if (their_world != (uint32_t)world_size) status = ANSWER_WRONG_WORLD;
        else if (their_len != (uint32_t)len) status = ANSWER_WRONG_LENGTH;
        else if (their_rank == 0 || their_rank >= (uint32_t)world_size) status = ANSWER_BAD_RANK;
        else if (served[their_rank]) status = ANSWER_DUPLICATE_RANK;
        answer[0] = htonl(TCP_MAGIC);
        answer[1] = htonl(status);
        answer[2] = htonl((uint32_t)world_size);
        int sent = io_exact(client, answer, sizeof answer, 1, deadline) == 0 &&
                   (status != ANSWER_OK || io_exact(client, (void *)bytes, len, 1, deadline) == 0);
        close(client);
        if (status == ANSWER_WRONG_WORLD)
            result = fail(why, why_len, "a rank with world size %u connected, this job has %d ranks (start every rank "
                          "with the same launcher settings)", their_world, world_size);
        else if (status == ANSWER_WRONG_LENGTH)
            result = fail(why, why_len, "rank %u expects %u bytes, rank 0 has %zu (mixed program versions?)", their_rank,
                          their_len, len);
        else if (status == ANSWER_BAD_RANK || status == ANSWER_DUPLICATE_RANK)
            result = fail(why, why_len, "rank %u connected %s (two ranks share a rank number: fix the launcher's environment)",
                          their_rank, status == ANSWER_BAD_RANK ? "with an impossible rank" : "twice");
        else if (sent) {
            served[their_rank] = 1;
            remaining--;
        }
    }
    free(served);
    close(server);
    return result;
}

// One connection attempt to any address of HOST:PORT, bounded by the deadline.
static int tcp_connect_once(struct addrinfo *list, double deadline) {
    for (struct addrinfo *a = list; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
        if (fd < 0) continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) return fd;
        if (errno == EINPROGRESS) {
            struct pollfd pfd = {fd, POLLOUT, 0};
            int wait = ms_left(deadline);
            if (wait > 2000) wait = 2000;  // an unreachable address must not eat the whole deadline
            int err = 0;
            socklen_t err_len = sizeof err;
            if (poll(&pfd, 1, wait) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) == 0 && err == 0) return fd;
        }
        close(fd);
    }
    return -1;
}

static int tcp_receive(const Rendezvous *r, int rank, int world_size, void *bytes, size_t len, double timeout_seconds,
                       char *why, size_t why_len) {
    double deadline = now_seconds() + timeout_seconds;
    struct addrinfo hints, *list = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    long pause = 20;
    const char *problem = "rank 0 did not answer";
    for (;;) {
        if (!list) {
            int rc = getaddrinfo(r->host, r->port, &hints, &list);
            if (rc != 0 && rc != EAI_AGAIN)
                return fail(why, why_len, "cannot resolve host '%s' of tcp:%s:%s: %s (use the name or address of rank 0's node)",
                            r->host, r->host, r->port, gai_strerror(rc));
            if (rc != 0) list = NULL;
        }
        int fd = list ? tcp_connect_once(list, deadline) : -1;
        if (fd >= 0) {
            uint32_t hello[4] = {htonl(TCP_MAGIC), htonl((uint32_t)world_size), htonl((uint32_t)rank), htonl((uint32_t)len)};
            uint32_t answer[3];
            int ok = io_exact(fd, hello, sizeof hello, 1, deadline) == 0 && io_exact(fd, answer, sizeof answer, 0, deadline) == 0;
            if (ok && ntohl(answer[0]) == TCP_MAGIC) {
                uint32_t status = ntohl(answer[1]), their_world = ntohl(answer[2]);
                int got = status == ANSWER_OK && io_exact(fd, bytes, len, 0, deadline) == 0;
                close(fd);
                freeaddrinfo(list);
                if (got) return 0;
                if (status == ANSWER_WRONG_WORLD)
                    return fail(why, why_len, "rank 0 at %s:%s runs with world size %u, this rank with %d (start every "
                                "rank with the same launcher settings)", r->host, r->port, their_world, world_size);
                if (status == ANSWER_OK) return fail(why, why_len, "rank 0 at %s:%s hung up mid-answer", r->host, r->port);
                return fail(why, why_len, "rank 0 at %s:%s refused rank %d (%s)", r->host, r->port, rank,
                            status == ANSWER_DUPLICATE_RANK ? "another process already came as this rank"
                            : status == ANSWER_WRONG_LENGTH ? "different blob sizes: mixed program versions?"
                                                            : "impossible rank");
            }
            problem = "something else answers on that port";
            close(fd);
        }
        if (now_seconds() > deadline) {
            if (list) freeaddrinfo(list);
            return fail(why, why_len, "could not get the rendezvous from rank 0 at %s:%s in %.0f s (%s; check that rank 0 "
                        "runs and that HOST is its node)", r->host, r->port, timeout_seconds, problem);
        }
        pause_ms(pause);
        if (pause < 500) pause *= 2;
    }
}

// ---------------------------------------------------------------------------------------------

int rendezvous_share(const Rendezvous *r, int rank, int world_size, void *bytes, size_t len, double timeout_seconds,
                     char *why, size_t why_len) {
    if (rank < 0 || rank >= world_size) return fail(why, why_len, "rank %d is outside 0..%d", rank, world_size - 1);
    if (r->kind == RENDEZVOUS_FILE)
        return rank == 0 ? file_send(r, world_size, bytes, len, why, why_len)
                         : file_receive(r, world_size, bytes, len, timeout_seconds, why, why_len);
    if (r->kind == RENDEZVOUS_TCP)
        return rank == 0 ? tcp_send(r, world_size, bytes, len, timeout_seconds, why, why_len)
                         : tcp_receive(r, rank, world_size, bytes, len, timeout_seconds, why, why_len);
    return fail(why, why_len, "unknown rendezvous kind %d", (int)r->kind);
}

void rendezvous_finish(const Rendezvous *r, int rank) {
    if (r->kind == RENDEZVOUS_FILE && rank == 0) unlink(r->path);
}
