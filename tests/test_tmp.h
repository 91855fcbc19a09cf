/* Shared by the file-writing tests (checkpoint, idx): one temporary directory per test
 * program and paths inside it. Needs _POSIX_C_SOURCE 200809L (mkdtemp, lstat). */
#ifndef LAGRAD_TEST_TMP_H
#define LAGRAD_TEST_TMP_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[64];
static char g_path[8][256];
static int g_next;

/* A path in the test's temporary directory (a few live at once). */
static inline const char *tpath(const char *name)
{
    char *p = g_path[g_next++ % 8];
    int n = snprintf(p, sizeof g_path[0], "%s/%s", g_dir, name);
    if (n < 0 || (size_t)n >= sizeof g_path[0])
        p[0] = '\0'; /* too long: an empty path fails loudly in the test that asked */
    return p;
}

/* Creates g_dir as /tmp/lagrad-<tag>.XXXXXX; 0 on success, -1 on failure. */
static inline int tmp_dir_make(const char *tag)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/lagrad-%s.XXXXXX", tag);
    return mkdtemp(g_dir) ? 0 : -1;
}

/* Removes `dir` and everything below it (links are unlinked, not followed). */
static inline void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        int len = snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (len < 0 || (size_t)len >= sizeof p)
            continue; /* too long to name: left in place */
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            remove_tree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Files in g_dir whose names contain `part`, or -1 when it cannot be read. */
static inline int tmp_count_files(const char *part)
{
    DIR *d = opendir(g_dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strstr(e->d_name, part) != NULL;
    closedir(d);
    return n;
}

/* Writes a safetensors file by hand: the 8-byte little-endian length of the header json
 * padded with spaces to a multiple of 8, the header, then n bytes of data. For tests that
 * need files lagrad's writer would refuse to make. 0 on success. */
static inline int tmp_write_safetensors(const char *path, const char *json, const void *data,
                                        size_t n)
{
    size_t len = strlen(json), padded = (len + 7) / 8 * 8;
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int bad = fwrite(le, 1, 8, f) != 8 || fwrite(json, 1, len, f) != len;
    for (size_t i = len; i < padded; i++)
        bad |= fputc(' ', f) == EOF;
    if (n)
        bad |= fwrite(data, 1, n, f) != n;
    return fclose(f) != 0 || bad ? -1 : 0;
}

/* A cmocka group teardown: removes g_dir. */
static inline int tmp_teardown(void **state)
{
    (void)state;
    remove_tree(g_dir);
    return 0;
}

#endif
