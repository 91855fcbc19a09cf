/* lg_train_progress_print: the ready-made progress callback, a bar redrawn in place on a
 * terminal and plain lines elsewhere. The only code of lagrad that writes to a stream, and
 * only to the one its caller hands it. */
#define _POSIX_C_SOURCE 200809L /* fileno */
#include <math.h>
#include <stdio.h>
#include <unistd.h>
#include "lagrad/train.h"

#define BAR 24

/* "1.9 s", "4 min 10 s", "1 h 02 min" */
static void fmt_time(char *buf, size_t n, double s)
{
    if (!(s >= 0) || s > 1e7)
        snprintf(buf, n, "?");
    else if (s < 60)
        snprintf(buf, n, "%.1f s", s);
    else if (s < 3600)
        snprintf(buf, n, "%d min %02d s", (int)s / 60, (int)s % 60);
    else
        snprintf(buf, n, "%d h %02d min", (int)s / 3600, (int)s / 60 % 60);
}

static void print_step(const lg_train_progress *p, FILE *f, bool tty)
{
    char left[32];
    fmt_time(left, sizeof left, p->eta_s);
    if (tty) {
        char bar[BAR + 1];
        int64_t full = p->epoch_samples > 0 ? p->samples * BAR / p->epoch_samples : 0;
        for (int i = 0; i < BAR; i++)
            bar[i] = i < full ? '#' : '.';
        bar[BAR] = 0;
        fprintf(f, "\repoch %d/%d [%s] %lld/%lld  %.0f samples/s  loss %.4f  %s left   ",
                p->epoch, p->epochs, bar, (long long)p->samples, (long long)p->epoch_samples,
                p->samples_per_s, p->loss, left);
    } else if (p->line_due) {
        fprintf(f, "epoch %d/%d  %lld/%lld samples  %.0f samples/s  loss %.4f  %s left\n",
                p->epoch, p->epochs, (long long)p->samples, (long long)p->epoch_samples,
                p->samples_per_s, p->loss, left);
    }
}

static void print_epoch(const lg_train_progress *p, FILE *f, bool tty)
{
    char took[32];
    fmt_time(took, sizeof took, p->elapsed_s);
    if (tty) /* clear the bar's line */
        fprintf(f, "\r%*s\r", 100, "");
    fprintf(f, "epoch %2d/%d  loss %.4f  acc %.4f", p->epoch, p->epochs, p->loss, p->accuracy);
    if (!isnan(p->val_loss))
        fprintf(f, "  val loss %.4f acc %.4f%s", p->val_loss, p->val_accuracy,
                p->improved ? " *" : "");
    if (!isnan(p->test_accuracy))
        fprintf(f, "  test acc %.4f", p->test_accuracy);
    fprintf(f, "  %.0f samples/s  %s\n", p->samples_per_s, took);
}

void lg_train_progress_print(const lg_train_progress *p, void *ud)
{
    FILE *f = ud;
    if (!p || !f)
        return;
    int fd = fileno(f);
    bool tty = fd >= 0 && isatty(fd);
    if (p->event == LG_TRAIN_EPOCH)
        print_epoch(p, f, tty);
    else
        print_step(p, f, tty);
    fflush(f);
}
