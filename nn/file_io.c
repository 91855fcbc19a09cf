/* Opening files to read without blocking, and creating temporary files safely; used by the
 * checkpoint, optimizer-state and IDX code. The formats themselves live in those files. */
#define _GNU_SOURCE /* O_NOFOLLOW, getrandom */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "file_impl.h"
#include "../tensor/tensor_impl.h"

static const char *file_kind(mode_t m)
{
    return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket"
         : S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device"
         : "of another kind";
}

int lg_open_regular(const char *path, const char *fn, uint64_t *size, lg_status *status)
{
    /* Without O_NONBLOCK, opening a FIFO that has no writer waits forever, before fstat
     * could refuse it (issue 14). O_NOCTTY: a terminal never becomes ours. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        *status = lg_set_error(LG_ERR_IO, "%s: %s: cannot open: %s", fn, path,
                               strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        *status = lg_set_error(LG_ERR_IO, "%s: %s: not a regular file (it is %s)", fn, path,
                               file_kind(st.st_mode));
        close(fd);
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        *status = lg_set_error(LG_ERR_IO, "%s: %s: cannot clear O_NONBLOCK: %s", fn, path,
                               strerror(errno));
        close(fd);
        return -1;
    }
    *size = st.st_size > 0 ? (uint64_t)st.st_size : 0;
    *status = LG_OK;
    return fd;
}

/* Six characters from the kernel's random source, mixed with the clock and the pid (which
 * alone would do if getrandom fails): unpredictable, and O_EXCL makes a guess harmless. */
static void random_suffix(char out[7])
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t v = r ^ ((uint64_t)ts.tv_nsec + ((uint64_t)ts.tv_sec << 30)) ^
                 ((uint64_t)getpid() << 40);
    for (int k = 0; k < 2; k++) { /* splitmix64's finaliser */
        v ^= v >> 31;
        v *= 0xBF58476D1CE4E5B9ull;
    }
    for (int i = 0; i < 6; i++, v /= 62)
        out[i] = abc[v % 62];
    out[6] = '\0';
}

int lg_tmp_create(const char *path, const char *fn, char **tmp, size_t *tmp_bytes,
                  lg_status *status)
{
    size_t n = strlen(path) + sizeof ".tmp.XXXXXX";
    char *name = lg_malloc(n);
    *tmp = NULL;
    *tmp_bytes = 0;
    if (!name) {
        *status = lg_set_error(LG_ERR_OOM, "%s: out of memory", fn);
        return -1;
    }
    int fd = -1, err = 0;
    for (int tries = 0; fd < 0 && tries < 100; tries++) {
        char sfx[7];
        random_suffix(sfx);
        snprintf(name, n, "%s.tmp.%s", path, sfx);
        fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0666);
        err = errno;
        if (fd < 0 && err != EEXIST)
            break;
    }
    if (fd < 0) {
        *status = lg_set_error(LG_ERR_IO, "%s: cannot create a temporary file %s: %s", fn,
                               name, strerror(err));
        lg_free(name, n);
        return -1;
    }
    *tmp = name;
    *tmp_bytes = n;
    *status = LG_OK;
    return fd;
}
