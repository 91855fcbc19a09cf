/* Shared by examples/lora_finetune, bench/mlp and bench/cnn_bench: the 784-256-128-10
 * layer widths, a clock, the cosine learning rate, loading and standardising an
 * MNIST-format folder, and test-accuracy helpers. Header-only, on lagrad's public headers
 * alone. */
#ifndef LAGRAD_EXAMPLE_MLP_H
#define LAGRAD_EXAMPLE_MLP_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include "lagrad/lagrad.h"

#define LAYERS 3
static const int64_t WIDTHS[LAYERS + 1] = {784, 256, 128, 10};

/* Monotonic seconds. */
static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Cosine decay from lr to 0 over the whole run: lr/2 (1 + cos(pi t / T)). */
static inline double cosine_lr(double lr, int64_t t, int64_t total)
{
    return 0.5 * lr * (1 + cos(3.14159265358979323846 * (double)t / (double)total));
}

/* Loads the train and t10k splits of the MNIST-format folder `dir` and standardises both
 * with the training set's mean and std; *background (may be NULL) gets where a 0 pixel
 * lands, (0 - mean) / std, the fill for augmentation. On failure: one line on stderr
 * starting with `prog`, nothing left allocated, and 1; 0 on success. */
static inline int load_data_standardized(const char *prog, const char *dir, lg_dataset *train,
                                         lg_dataset *test, double *background)
{
    if (lg_dataset_load_mnist(dir, "train", train) != LG_OK ||
        lg_dataset_load_mnist(dir, "t10k", test) != LG_OK) {
        fprintf(stderr, "%s: cannot load --data %s: %s\n", prog, dir, lg_last_errmsg());
        lg_dataset_free(train);
        return 1;
    }
    double mean, std;
    if (lg_dataset_mean_std(train, &mean, &std) != LG_OK ||
        lg_dataset_normalize(train, mean, std) != LG_OK ||
        lg_dataset_normalize(test, mean, std) != LG_OK) {
        fprintf(stderr, "%s: cannot normalise: %s\n", prog, lg_last_errmsg());
        lg_dataset_free(train);
        lg_dataset_free(test);
        return 1;
    }
    if (background)
        *background = -mean / std;
    return 0;
}

/* load_data_standardized without the background value. */
static inline int load_data_normalized(const char *prog, const char *dir, lg_dataset *train,
                                       lg_dataset *test)
{
    return load_data_standardized(prog, dir, train, test, NULL);
}

/* After resetting g: rows [start, start + *rows) of d as an f32 graph input, where *rows
 * gets min(1000, d->n - start). NULL when the graph has failed. */
static inline lg_tensor *eval_chunk(lg_graph *g, const lg_dataset *d, int64_t start,
                                    int64_t *rows)
{
    *rows = d->n - start < 1000 ? d->n - start : 1000;
    int64_t shape[2] = {*rows, d->features};
    lg_graph_reset(g);
    return lg_graph_input(g, LG_F32, 2, shape,
                          (const float *)lg_tensor_cdata(d->images) + start * d->features);
}

#endif
