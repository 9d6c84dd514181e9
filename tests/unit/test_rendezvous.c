// Tests of llmc/rendezvous.c with real processes: rank 0 and the other ranks are forked children
// that meet through a file or a TCP port on this machine, as the ranks of train_gpt2cu do across
// nodes (--nccl_init file:/tcp:). Also the failures: nobody comes (deadline), a stale file of
// another job, mismatched world sizes, two processes claiming one rank, bad specs.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "llmc/rendezvous.h"
#include "llmc/utils.h"

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; fprintf(stderr, "FAIL: " __VA_ARGS__); fprintf(stderr, "\n"); } } while (0)

#define BLOB 128

static void blob_of(unsigned char *b, int salt) {
    for (int i = 0; i < BLOB; i++) b[i] = (unsigned char)(i * 37 + salt * 11 + 5);
}

// What one forked rank does: share, then report through its exit code (0 = got the right
// bytes) and, on failure, its reason through a pipe.
typedef struct {
    const char *spec;
    int rank, world_size;
    size_t len;
    double timeout, delay;      // seconds to wait before starting (rank 0 comes late on purpose)
    const char *job_id;         // MEMLENS_JOB_ID for this process (NULL: unset)
    int salt;                   // rank 0's bytes
    int keep;                   // rank 0: leave the file behind (a job that died during setup)
} Role;

typedef struct {
    pid_t pid;
    int pipe_fd;
} Child;

static Child start(Role role) {
    int fds[2];
    if (pipe(fds) != 0) die("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0) die("fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        unsetenv("SLURM_JOB_ID");
        unsetenv("SLURM_STEP_ID");
        if (role.job_id) setenv("MEMLENS_JOB_ID", role.job_id, 1);
        else unsetenv("MEMLENS_JOB_ID");
        if (role.delay > 0) usleep((useconds_t)(role.delay * 1e6));
        Rendezvous r;
        char why[512] = "";
        unsigned char want[BLOB], got[BLOB];
        blob_of(want, role.salt);
        if (role.rank == 0) memcpy(got, want, BLOB);
        else memset(got, 0, BLOB);
        int rc = rendezvous_parse(&r, role.spec, why, sizeof why);
        if (rc == 0) rc = rendezvous_share(&r, role.rank, role.world_size, got, role.len, role.timeout, why, sizeof why);
        if (rc == 0 && memcmp(got, want, role.len) != 0) { rc = -1; snprintf(why, sizeof why, "wrong bytes"); }
        if (rc == 0 && role.rank == 0 && !role.keep) rendezvous_finish(&r, 0);
        if (write(fds[1], why, strlen(why)) < 0) _exit(3);
        _exit(rc == 0 ? 0 : 1);
    }
    close(fds[1]);
    Child c = {pid, fds[0]};
    return c;
}

// Waits for the child; returns its exit code (or 100+signal) and its reason in why.
static int finish(Child c, char *why, size_t n) {
    ssize_t k = read(c.pipe_fd, why, n - 1);
    why[k > 0 ? k : 0] = '\0';
    close(c.pipe_fd);
    int status;
    waitpid(c.pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

// A port nobody listens on right now (the kernel's pick for port 0).
static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        die("cannot find a free port: %s", strerror(errno));
    close(fd);
    return ntohs(a.sin_port);
}

static void test_parse(void) {
    Rendezvous r;
    char why[512];
    CHECK(rendezvous_parse(&r, "file:/shared/run/nccl_id", why, sizeof why) == 0 && r.kind == RENDEZVOUS_FILE &&
          strcmp(r.path, "/shared/run/nccl_id") == 0, "file: spec");
    CHECK(rendezvous_parse(&r, "tcp:node001:29500", why, sizeof why) == 0 && r.kind == RENDEZVOUS_TCP &&
          strcmp(r.host, "node001") == 0 && strcmp(r.port, "29500") == 0, "tcp: spec");
    CHECK(rendezvous_parse(&r, "tcp:[::1]:29500", why, sizeof why) == 0 && strcmp(r.host, "::1") == 0, "tcp: IPv6 spec");
    const char *bad[][2] = {
        {"nfs:/x", "is not a rendezvous"}, {"file:", "names no file"}, {"tcp:node001", "is not tcp:HOST:PORT"},
        {"tcp::29500", "is not tcp:HOST:PORT"}, {"tcp:node001:0", "not a number in 1..65535"},
        {"tcp:node001:70000", "not a number in 1..65535"}, {"tcp:node001:29x", "not a number in 1..65535"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        why[0] = '\0';
        int rc = rendezvous_parse(&r, bad[i][0], why, sizeof why);
        CHECK(rc != 0 && strstr(why, bad[i][1]), "parse '%s': rc %d, reason '%s' (expected '%s')", bad[i][0], rc, why, bad[i][1]);
    }
}

// Every rank gets rank 0's bytes; the other ranks start first, rank 0 comes 0.3 s later.
static void test_share(const char *spec, int world_size) {
    Child c[8];
    for (int r = 1; r < world_size; r++) c[r] = start((Role){spec, r, world_size, BLOB, 10.0, 0.0, "job-a", 7, 0});
    c[0] = start((Role){spec, 0, world_size, BLOB, 10.0, 0.3, "job-a", 7, 1});
    for (int r = 0; r < world_size; r++) {
        char why[512];
        int rc = finish(c[r], why, sizeof why);
        CHECK(rc == 0, "%s, %d ranks: rank %d exit %d (%s)", spec, world_size, r, rc, why);
    }
    // As in train_gpt2cu: rank 0 cleans up once every rank is known to be in.
    Rendezvous r;
    char why[512];
    if (rendezvous_parse(&r, spec, why, sizeof why) != 0) die("%s", why);
    rendezvous_finish(&r, 0);
}

// One process alone; returns its exit code and reason, and how long it took.
static int alone(Role role, char *why, size_t n, double *seconds) {
    double t0 = now_seconds();
    int rc = finish(start(role), why, n);
    *seconds = now_seconds() - t0;
    return rc;
}

int main(int argc, char **argv) {
    set_program_name(argv[0]);
    signal(SIGPIPE, SIG_IGN);
    test_parse();

    char dir[] = "/tmp/test_rendezvous.XXXXXX";
    if (!mkdtemp(dir)) die("mkdtemp: %s", strerror(errno));
    char spec[1200], why[512], why2[512];
    double seconds;
    int rc, rc2;

    // file: 3 ranks; the file is gone afterwards (rank 0 removes it once all are in).
    snprintf(spec, sizeof spec, "file:%s/nccl_id", dir);
    test_share(spec, 3);
    CHECK(!file_exists(spec + 5), "%s still exists after rendezvous_finish", spec + 5);
    // A single rank still goes through the file (and removes it).
    rc = alone((Role){spec, 0, 1, BLOB, 1.0, 0.0, "job-a", 7, 0}, why, sizeof why, &seconds);
    CHECK(rc == 0 && !file_exists(spec + 5), "file: one rank: exit %d (%s)", rc, why);

    // A stale file of another job is never taken: rank 1 waits, then names the reason.
    Child writer = start((Role){spec, 0, 2, BLOB, 1.0, 0.0, "old-job", 1, 1});
    rc = finish(writer, why, sizeof why);
    CHECK(rc == 0, "the old job's rank 0: exit %d (%s)", rc, why);
    CHECK(file_exists(spec + 5), "rank 0 of the old job did not leave its file");
    rc = alone((Role){spec, 1, 2, BLOB, 0.5, 0.0, "new-job", 1, 0}, why, sizeof why, &seconds);
    CHECK(rc == 1 && strstr(why, "belongs to another job") && seconds < 5,
          "stale file: exit %d after %.1f s (%s)", rc, seconds, why);
    // ... but the new job's rank 0 replaces it, and then rank 1 gets the new bytes.
    Child late = start((Role){spec, 1, 2, BLOB, 10.0, 0.0, "new-job", 9, 0});
    Child fresh = start((Role){spec, 0, 2, BLOB, 10.0, 0.3, "new-job", 9, 1});
    rc = finish(late, why, sizeof why);
    rc2 = finish(fresh, why2, sizeof why2);
    CHECK(rc == 0 && rc2 == 0, "a new job over a stale file: rank 1 exit %d (%s), rank 0 exit %d (%s)", rc, why, rc2, why2);
    // Different world sizes in one job: one line naming both.
    Child w2 = start((Role){spec, 0, 2, BLOB, 10.0, 0.0, "job-b", 3, 1});
    finish(w2, why2, sizeof why2);
    rc = alone((Role){spec, 1, 3, BLOB, 5.0, 0.0, "job-b", 3, 0}, why, sizeof why, &seconds);
    CHECK(rc == 1 && strstr(why, "world size 2") && strstr(why, "world size 3"), "file: world sizes: exit %d (%s)", rc, why);
    unlink(spec + 5);
    // Nobody writes: the deadline.
    rc = alone((Role){spec, 1, 2, BLOB, 0.5, 0.0, "job-c", 3, 0}, why, sizeof why, &seconds);
    CHECK(rc == 1 && strstr(why, "it never appeared") && seconds < 5, "file: no rank 0: exit %d after %.1f s (%s)", rc, seconds, why);
    // A directory that does not exist.
    snprintf(spec, sizeof spec, "file:%s/missing/nccl_id", dir);
    rc = alone((Role){spec, 0, 2, BLOB, 0.5, 0.0, "job-c", 3, 0}, why, sizeof why, &seconds);
    CHECK(rc == 1 && strstr(why, "its directory must exist"), "file: missing directory: exit %d (%s)", rc, why);

    // tcp: 4 ranks, the others start before rank 0 listens.
    snprintf(spec, sizeof spec, "tcp:127.0.0.1:%d", free_port());
    test_share(spec, 4);
    snprintf(spec, sizeof spec, "tcp:localhost:%d", free_port());
    test_share(spec, 2);
    // Rank 0 alone waits for rank 1 until the deadline.
    snprintf(spec, sizeof spec, "tcp:127.0.0.1:%d", free_port());
    rc = alone((Role){spec, 0, 2, BLOB, 0.5, 0.0, NULL, 3, 0}, why, sizeof why, &seconds);
    CHECK(rc == 1 && strstr(why, "only 0 of the 1 other ranks connected") && seconds < 5,
          "tcp: no rank 1: exit %d after %.1f s (%s)", rc, seconds, why);
    // Rank 1 with nobody listening: the deadline.
    rc = alone((Role){spec, 1, 2, BLOB, 0.5, 0.0, NULL, 3, 0}, why, sizeof why, &seconds);
    CHECK(rc == 1 && strstr(why, "could not get the rendezvous from rank 0") && seconds < 5,
          "tcp: no rank 0: exit %d after %.1f s (%s)", rc, seconds, why);
    // Different world sizes: both sides say so.
    snprintf(spec, sizeof spec, "tcp:127.0.0.1:%d", free_port());
    Child server = start((Role){spec, 0, 2, BLOB, 5.0, 0.0, NULL, 3, 0});
    rc = alone((Role){spec, 1, 3, BLOB, 5.0, 0.0, NULL, 3, 0}, why, sizeof why, &seconds);
    rc2 = finish(server, why2, sizeof why2);
    CHECK(rc == 1 && strstr(why, "world size 2, this rank with 3"), "tcp: world sizes, rank 1: exit %d (%s)", rc, why);
    CHECK(rc2 == 1 && strstr(why2, "world size 3 connected"), "tcp: world sizes, rank 0: exit %d (%s)", rc2, why2);
    // Two processes claiming rank 1 of 3: rank 0 stops with a message naming the rank.
    snprintf(spec, sizeof spec, "tcp:127.0.0.1:%d", free_port());
    Child a = start((Role){spec, 1, 3, BLOB, 5.0, 0.0, NULL, 3, 0});
    Child b = start((Role){spec, 1, 3, BLOB, 5.0, 0.0, NULL, 3, 0});
    rc2 = alone((Role){spec, 0, 3, BLOB, 5.0, 0.3, NULL, 3, 0}, why2, sizeof why2, &seconds);
    int ra = finish(a, why, sizeof why), rb = finish(b, why, sizeof why);
    CHECK(rc2 == 1 && strstr(why2, "rank 1 connected twice"), "tcp: duplicate rank: rank 0 exit %d (%s)", rc2, why2);
    CHECK((ra == 0) + (rb == 0) == 1, "tcp: duplicate rank: exactly one of the two got the bytes (exits %d, %d)", ra, rb);

    rmdir(dir);
    if (failures) {
        fprintf(stderr, "test_rendezvous: %d failures\n", failures);
        return 1;
    }
    printf("test_rendezvous: all checks passed\n");
    return 0;
}
