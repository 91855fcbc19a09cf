/* For the libFuzzer targets only: the input becomes a file the loaders open by path (an
 * in-memory memfd, named through /proc/self/fd), and the checks that turn a silent
 * misbehaviour into a crash libFuzzer reports: an allocation peak over the cap, a leak
 * through lagrad's allocator, an error without a message naming the function. */
#ifndef LAGRAD_FUZZ_UTIL_H
#define LAGRAD_FUZZ_UTIL_H

#define _GNU_SOURCE /* memfd_create */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "../test_alloc.h"
#include "fuzz_inputs.h"

/* Writes data to the process's one memfd and returns a path that opens it. */
static inline const char *fuzz_path(const uint8_t *data, size_t n)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("lagrad-fuzz", 0);
        if (fd < 0) {
            perror("memfd_create");
            abort();
        }
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || (n && pwrite(fd, data, n, 0) != (ssize_t)n)) {
        perror("fuzz_path: writing the memfd");
        abort();
    }
    return path;
}

/* Installs a counting allocator for one iteration; fuzz_end checks and removes it. */
static counter g_count;
static inline void fuzz_begin(void)
{
    static lg_allocator al;
    g_count = (counter){0};
    al = counter_allocator(&g_count);
    lg_set_allocator(&al);
}

static inline void fuzz_end(size_t justified, const char *what)
{
    lg_set_allocator(NULL);
    if (g_count.live != 0) {
        fprintf(stderr, "%s: %ld blocks from lagrad's allocator not freed\n", what,
                g_count.live);
        abort();
    }
    if (g_count.peak_bytes > fuzz_alloc_budget(justified)) {
        fprintf(stderr, "%s: allocated %zu bytes at once (largest block %zu) for a file "
                "that justifies %zu; the cap is %zu\n", what, g_count.peak_bytes,
                g_count.largest, justified, fuzz_alloc_budget(justified));
        abort();
    }
}

/* An error must come with a message that starts with the function's name. */
static inline void fuzz_check_error(lg_status s, const char *fn)
{
    if (s == LG_OK)
        return;
    if (strncmp(lg_last_errmsg(), fn, strlen(fn)) != 0) {
        fprintf(stderr, "%s returned %d with the message \"%s\"\n", fn, (int)s,
                lg_last_errmsg());
        abort();
    }
}

#endif
