/* Shared by the tests that prove nothing reaches the terminal (BLAS and LAPACK errors,
 * empty products, lstsq): stdout and stderr go to a temporary file between quiet_begin
 * and quiet_end, which fails the test, printing what arrived, if anything did. Needs
 * <cmocka.h> (through test_util.h) and _POSIX_C_SOURCE 200809L or _GNU_SOURCE. */
#ifndef LAGRAD_TEST_QUIET_H
#define LAGRAD_TEST_QUIET_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Runs with stdout and stderr sent to a temporary file; fails if anything arrives. */
typedef struct quiet {
    int saved[2];
    char path[64];
    int fd;
} quiet;

static inline void quiet_begin(quiet *q)
{
    fflush(stdout);
    fflush(stderr);
    snprintf(q->path, sizeof q->path, "/tmp/lagrad-quiet.XXXXXX");
    q->fd = mkstemp(q->path);
    assert_true(q->fd >= 0);
    for (int i = 0; i < 2; i++) {
        q->saved[i] = dup(1 + i);
        assert_true(dup2(q->fd, 1 + i) >= 0);
    }
}

static inline void quiet_end(quiet *q)
{
    fflush(stdout);
    fflush(stderr);
    for (int i = 0; i < 2; i++) {
        dup2(q->saved[i], 1 + i);
        close(q->saved[i]);
    }
    struct stat st;
    assert_int_equal(fstat(q->fd, &st), 0);
    if (st.st_size != 0) {
        char buf[256] = {0};
        ssize_t n = pread(q->fd, buf, sizeof buf - 1, 0);
        print_error("%lld bytes reached the terminal: %.*s\n", (long long)st.st_size,
                    (int)(n > 0 ? n : 0), buf);
    }
    close(q->fd);
    unlink(q->path);
    assert_int_equal(st.st_size, 0);
}

#endif
