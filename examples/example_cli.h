/* Shared by the image-classification examples (mnist, mnist_fit, cnn): their command line,
 * loading and standardising an MNIST-format folder, a clock, and the closing lines (where
 * the plot is, then the RESULT line). The training itself is in each program. Header-only,
 * on lagrad's public headers alone. */
#ifndef LAGRAD_EXAMPLE_CLI_H
#define LAGRAD_EXAMPLE_CLI_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lagrad/lagrad.h"

typedef struct cli {
    const char *prog, *data, *csv, *checkpoint, *png; /* png NULL: the csv's name, .png */
    int epochs, batch, threads, shift, stop_after, resume, min_batch;
    int fit;                                          /* takes --val and --patience */
    double val;                                       /* --val: fraction held out */
    int patience;                                     /* --patience: epochs */
    int64_t train_limit, test_limit;                  /* 0: every sample */
    double lr;
    uint64_t seed;
    const char *name;                                 /* "fashion-mnist" or "mnist" */
    const char *steps_csv;                            /* the step curves: <csv>_steps.csv */
    char png_buf[4100], steps_buf[4100];
} cli;

static inline void cli_usage(const cli *o)
{
    printf("usage: %s [--data DIR] [--epochs N] [--batch N] [--lr X] [--threads N] [--seed N]\n"
           "       [--csv FILE] [--png FILE] [--checkpoint FILE] [--resume] [--shift N]\n"
           "       [--train-limit N] [--test-limit N] [--stop-after N]\n"
           "  --data DIR  an MNIST-format folder: {train,t10k}-{images-idx3,labels-idx1}-ubyte\n"
           "              (optionally .gz); default %s\n"
           "  --csv FILE  the epoch curves (default %s); the step curves go beside it\n"
           "  --png FILE  the plot of the curves (default: the CSV's name, .png; '' none)\n"
           "  --checkpoint FILE  saved after each epoch with FILE.optim (default %s)\n"
           "  --resume    go on from the checkpoint, exactly as if never stopped\n"
           "  --shift N   augment: move each training image by up to N pixels (0: off)\n"
           "  --train-limit N, --test-limit N  use only the first N samples of a split\n"
           "  --stop-after N  stop after epoch N as if interrupted (the learning-rate\n"
           "              schedule still spans --epochs); go on later with --resume\n"
           "%s"
           "  defaults: %d epochs, batch %d, Adam lr %g on a cosine schedule, shift %d,\n"
           "  %d thread(s), seed %llu\n",
           o->prog, o->data, o->csv, o->checkpoint,
           o->fit ? "  --val F     hold out a fraction F of the training set for validation\n"
                    "  --patience N  stop after N epochs without a lower validation loss\n"
                    "              (0: never), and keep the best parameters\n" : "",
           o->epochs, o->batch, o->lr, o->shift,
           o->threads, (unsigned long long)o->seed);
}

/* Parses argv over the defaults in *o; 0 on success, 1 after a message on stderr. */
static inline int cli_parse(int argc, char **argv, cli *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) { cli_usage(o); exit(0); }
        if (!strcmp(a, "--resume")) { o->resume = 1; continue; }
        if (!v || strncmp(a, "--", 2)) {
            fprintf(stderr, "%s: %s %s (see --help)\n", o->prog, a,
                    v ? "is not an option" : "needs a value");
            return 1;
        }
        i++;
        if (!strcmp(a, "--data")) o->data = v;
        else if (!strcmp(a, "--epochs")) o->epochs = atoi(v);
        else if (!strcmp(a, "--batch")) o->batch = atoi(v);
        else if (!strcmp(a, "--lr")) o->lr = atof(v);
        else if (!strcmp(a, "--threads")) o->threads = atoi(v);
        else if (!strcmp(a, "--seed")) o->seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--csv")) o->csv = v;
        else if (!strcmp(a, "--png")) o->png = v;
        else if (!strcmp(a, "--checkpoint")) o->checkpoint = v;
        else if (!strcmp(a, "--train-limit")) o->train_limit = atoll(v);
        else if (!strcmp(a, "--test-limit")) o->test_limit = atoll(v);
        else if (!strcmp(a, "--shift")) o->shift = atoi(v);
        else if (!strcmp(a, "--stop-after")) o->stop_after = atoi(v);
        else if (o->fit && !strcmp(a, "--val")) o->val = atof(v);
        else if (o->fit && !strcmp(a, "--patience")) o->patience = atoi(v);
        else {
            fprintf(stderr, "%s: unknown option %s (see --help)\n", o->prog, a);
            return 1;
        }
    }
    if (o->epochs < 1 || o->batch < (o->min_batch > 1 ? o->min_batch : 1) || o->threads < 1 ||
        !(o->lr > 0) || o->train_limit < 0 || o->test_limit < 0 || o->shift < 0 ||
        o->shift > 13 || o->stop_after < 0 || strlen(o->csv) > 4000 ||
        !(o->val >= 0 && o->val < 1) || o->patience < 0) {
        fprintf(stderr, "%s: need epochs and threads >= 1, batch >= %d, lr > 0, limits and "
                "--stop-after >= 0, shift in [0, 13], --val in [0, 1)\n", o->prog,
                o->min_batch > 1 ? o->min_batch : 1);
        return 1;
    }
    size_t n = strlen(o->csv); /* mnist_curves.csv -> mnist_curves{.png,_steps.csv} */
    n -= n > 4 && !strcmp(o->csv + n - 4, ".csv") ? 4 : 0;
    snprintf(o->steps_buf, sizeof o->steps_buf, "%.*s_steps.csv", (int)n, o->csv);
    o->steps_csv = o->steps_buf;
    if (!o->png) {
        snprintf(o->png_buf, sizeof o->png_buf, "%.*s.png", (int)n, o->csv);
        o->png = o->png_buf;
    }
    o->name = strstr(o->data, "fashion") ? "fashion-mnist" : "mnist";
    lg_set_num_threads(o->threads);
    setvbuf(stdout, NULL, _IOLBF, 0); /* a line at a time into logs and pipes too */
    return 0;
}

/* Loads the train and t10k splits of o->data, keeps the first --train-limit and
 * --test-limit samples (views: lg_dataset_free still frees all), and standardises both
 * with the training set's mean and std; *background gets where a 0 pixel lands, the fill
 * for --shift. 0 on success; 1 after a message on stderr, nothing left allocated. */
static inline int cli_load(const cli *o, lg_dataset *train, lg_dataset *test,
                           double *background)
{
    double mean = 0, std = 1;
    if (lg_dataset_load_mnist(o->data, "train", train) != LG_OK ||
        lg_dataset_load_mnist(o->data, "t10k", test) != LG_OK ||
        lg_dataset_mean_std(train, &mean, &std) != LG_OK ||
        lg_dataset_normalize(train, mean, std) != LG_OK ||
        lg_dataset_normalize(test, mean, std) != LG_OK) {
        fprintf(stderr, "%s: cannot load --data %s: %s\n", o->prog, o->data, lg_last_errmsg());
        lg_dataset_free(train);
        lg_dataset_free(test);
        return 1;
    }
    if (o->train_limit && o->train_limit < train->n)
        train->n = o->train_limit;
    if (o->test_limit && o->test_limit < test->n)
        test->n = o->test_limit;
    if (train->features != 784 || train->n < o->batch) {
        fprintf(stderr, "%s: need 28x28 images and at least one batch of %d, got %lld of "
                "%lld pixels\n", o->prog, o->batch, (long long)train->n,
                (long long)train->features);
        lg_dataset_free(train);
        lg_dataset_free(test);
        return 1;
    }
    *background = -mean / std;
    return 0;
}

/* Frees what cli_load made. */
static inline void cli_free_data(lg_dataset *train, lg_dataset *test)
{
    lg_dataset_free(train);
    lg_dataset_free(test);
}

/* Wall-clock seconds (C11's timespec_get). */
static inline double cli_now(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Opens the epoch and step CSVs (o->csv, o->steps_csv): appended to on a resumed run,
 * else written anew with the given header lines. 0 on success, else 1 after a message. */
static inline int cli_open_curves(const cli *o, bool resumed, const char *header,
                                  const char *steps_header, FILE **csv, FILE **steps)
{
    *csv = fopen(o->csv, resumed ? "a" : "w");
    *steps = fopen(o->steps_csv, resumed ? "a" : "w");
    if (!*csv || !*steps) {
        fprintf(stderr, "%s: cannot write %s\n", o->prog, *csv ? o->steps_csv : o->csv);
        return 1;
    }
    if (!resumed) {
        fprintf(*csv, "%s\n", header);
        fprintf(*steps, "%s\n", steps_header);
    }
    return 0;
}

/* The closing lines: closes the CSVs (csv and steps, either may be NULL), draws their
 * plot (lg_train_plot, unless --png '') and says where it is, then prints the RESULT line,
 * which scripts read as the last line of the output. Pass plot LG_OK to draw the plot
 * here, or the status of one drawn already (lg_train_result.plot_status). */
static inline void cli_result(const cli *o, FILE *csv, FILE *steps, lg_status plot,
                              double test_accuracy, int epochs, double seconds,
                              double samples_per_s)
{
    if (csv)
        fclose(csv);
    if (steps)
        fclose(steps);
    if (*o->png && plot == LG_OK)
        plot = lg_train_plot(o->csv, o->steps_csv, o->png);
    if (*o->png && plot == LG_OK)
        printf("curves: %s (plot of %s)\n", o->png, o->csv);
    else if (*o->png)
        fprintf(stderr, "%s: no plot: %s\n", o->prog, lg_last_errmsg());
    fflush(stderr);
    printf("RESULT dataset=%s test_accuracy=%.4f epochs=%d seconds=%.1f samples_per_s=%.0f\n",
           o->name, test_accuracy, epochs, seconds, samples_per_s);
}

#endif
