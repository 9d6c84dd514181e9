// For unit tests of code that dies on bad input: run it in a child process with its stderr on a
// pipe, and look at what it wrote and how it ended.
#ifndef TESTS_UNIT_CHILD_STDERR_H
#define TESTS_UNIT_CHILD_STDERR_H

#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

// Runs fn(arg) in a child (which exits 0 if fn returns). err gets what the child wrote on stderr
// (at most cap - 1 bytes, NUL-terminated). Returns the child's exit status, or -1 when it did not
// exit normally (a signal) or could not be started.
static int run_in_child(void (*fn)(void *), void *arg, char *err, size_t cap) {
    int fds[2];
    if (pipe(fds) != 0) return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        fn(arg);
        _exit(0);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while (n < cap - 1 && (r = read(fds[0], err + n, cap - 1 - n)) > 0) n += (size_t)r;
    err[n] = '\0';
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#endif
