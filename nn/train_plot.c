/* lg_train_plot: training curves from CSV files to a PNG through gnuplot, run as its own
 * process (posix_spawnp, no shell) with the script on its command line and its output
 * discarded. Reading the CSV headers picks the columns; gnuplot does the drawing. */
#define _POSIX_C_SOURCE 200809L /* posix_spawnp, waitpid */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "lagrad/train.h"
#include "file_impl.h"
#include "../tensor/tensor_impl.h"

extern char **environ;

#define MAX_COLS 32
#define SCRIPT_BYTES 16384

static const char *FN = "lg_train_plot";

typedef struct columns {
    int n;
    char name[MAX_COLS][64];
} columns;

/* The header line of a CSV file. */
static lg_status read_header(const char *path, columns *c)
{
    /* a FIFO planted at the CSV's path must not hang the run: open it as the loaders do */
    lg_status st;
    uint64_t size;
    int fd = lg_open_regular(path, FN, &size, &st);
    FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
    char line[4096];
    if (!f) {
        if (fd >= 0)
            close(fd);
        return fd >= 0 ? lg_set_error(LG_ERR_IO, "%s: cannot read %s", FN, path) : st;
    }
    bool ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    if (!ok)
        return lg_set_error(LG_ERR_FORMAT, "%s: %s has no header line", FN, path);
    c->n = 0;
    for (char *s = line; *s && c->n < MAX_COLS;) {
        size_t len = strcspn(s, ",\r\n");
        snprintf(c->name[c->n++], sizeof c->name[0], "%.*s", (int)len, s);
        s += len;
        if (*s != ',')
            break;
        s++;
    }
    return LG_OK;
}

/* Appends to the script; false when it would not fit. */
static bool put(char *buf, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, SCRIPT_BYTES - *len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= SCRIPT_BYTES - *len)
        return false;
    *len += (size_t)n;
    return true;
}

/* The plot command of one panel: columns of csv whose name holds `key`, over those of
 * steps (thin grey lines drawn first). Returns how many curves it draws; -1 when the
 * script is full. */
static int panel(char *buf, size_t *len, const char *key, const char *csv, const columns *c,
                 const char *steps, const columns *sc)
{
    int curves = 0;
    bool ok = put(buf, len, "set title '%s'\nset xrange [0:*]\nset autoscale xfixmax\nplot ",
                  !strcmp(key, "loss") ? "loss" : "accuracy");
    for (int i = 1; steps && i < sc->n && ok; i++)
        if (strstr(sc->name[i], key))
            ok = put(buf, len, "%s'%s' using 1:%d with lines lc rgb '#b8b8b8' title 'step %s'",
                     curves++ ? ", " : "", steps, i + 1, sc->name[i]);
    for (int i = 1; i < c->n && ok; i++)
        if (strstr(c->name[i], key))
            ok = put(buf, len, "%s'%s' using 1:%d with linespoints pt 7 ps 0.6 title '%s'",
                     curves++ ? ", " : "", csv, i + 1, c->name[i]);
    return ok && put(buf, len, "\n") ? curves : -1;
}

/* Runs gnuplot -e script; its stdin, stdout and stderr are /dev/null. */
static lg_status run_gnuplot(const char *script)
{
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa))
        return lg_set_error(LG_ERR_OOM, "%s: cannot prepare to run gnuplot", FN);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    char *argv[] = {"gnuplot", "-e", (char *)script, NULL};
    pid_t pid;
    int err = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (err == ENOENT)
        return lg_set_error(LG_ERR_UNSUPPORTED, "%s: gnuplot is not installed (Debian: "
                            "apt-get install gnuplot-nox)", FN);
    if (err)
        return lg_set_error(LG_ERR_IO, "%s: cannot run gnuplot: %s", FN, strerror(err));
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return lg_set_error(LG_ERR_IO, "%s: waiting for gnuplot: %s", FN, strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return lg_set_error(LG_ERR_UNSUPPORTED, "%s: gnuplot is not installed (Debian: "
                            "apt-get install gnuplot-nox)", FN);
    if (!WIFEXITED(status) || WEXITSTATUS(status))
        return lg_set_error(LG_ERR_IO, "%s: gnuplot failed (%s %d)", FN,
                            WIFEXITED(status) ? "exit status" : "signal",
                            WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    return LG_OK;
}

static bool is_png(const char *path)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char head[8];
    lg_status st;
    uint64_t size;
    int fd = lg_open_regular(path, FN, &size, &st);
    bool ok = fd >= 0 && read(fd, head, 8) == 8 && !memcmp(head, sig, 8);
    if (fd >= 0)
        close(fd);
    return ok;
}

lg_status lg_train_plot(const char *csv, const char *steps_csv, const char *png)
{
    const char *paths[3] = {csv, steps_csv, png};
    if (!csv || !png)
        return lg_set_error(LG_ERR_ARG, "%s: %s is NULL", FN, !csv ? "csv" : "png");
    for (int i = 0; i < 3; i++)
        if (paths[i] && (strpbrk(paths[i], "'\n\r") || strlen(paths[i]) > 4000))
            return lg_set_error(LG_ERR_ARG, "%s: the path %.100s has a quote or a newline, or "
                                "is over 4000 bytes", FN, paths[i]);
    columns c, sc;
    lg_status s = read_header(csv, &c);
    if (s == LG_OK && steps_csv)
        s = read_header(steps_csv, &sc);
    if (s != LG_OK)
        return s;
    char *script = lg_malloc(SCRIPT_BYTES);
    if (!script)
        return lg_set_error(LG_ERR_OOM, "%s: out of memory", FN);
    size_t len = 0;
    bool ok = put(script, &len,
                  "set terminal pngcairo size 1200,480 noenhanced\nset output '%s'\n"
                  "set datafile separator ','\nset datafile columnheaders\nset grid\n"
                  "set xlabel 'epoch'\nset key outside bottom center horizontal\n"
                  "set multiplot layout 1,2 title '%s'\n", png, csv);
    int loss = ok ? panel(script, &len, "loss", csv, &c, steps_csv, &sc) : -1;
    int acc = loss >= 0 ? panel(script, &len, "acc", csv, &c, steps_csv, &sc) : -1;
    ok = acc >= 0 && put(script, &len, "unset multiplot\nset output\n");
    if (!ok)
        s = lg_set_error(LG_ERR_FORMAT, "%s: %s has too many columns to plot", FN, csv);
    else if (!loss || !acc)
        s = lg_set_error(LG_ERR_FORMAT, "%s: %s has no %s column", FN, csv,
                         !loss ? "loss" : "accuracy");
    for (char *c = script; *c; c++) /* gnuplot -e takes one line: ';' ends a command */
        if (*c == '\n')
            *c = ';';
    if (s == LG_OK) {
        remove(png);
        s = run_gnuplot(script);
    }
    lg_free(script, SCRIPT_BYTES);
    if (s == LG_OK && !is_png(png))
        return lg_set_error(LG_ERR_IO, "%s: gnuplot left no PNG at %s", FN, png);
    return s;
}
