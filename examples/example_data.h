/* Shared by the Fashion-MNIST examples (pca, svd_compress): the default data folder and
 * loading the training images as f64. Header-only, on lagrad's public headers alone. */
#ifndef LAGRAD_EXAMPLE_DATA_H
#define LAGRAD_EXAMPLE_DATA_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include "lagrad/lagrad.h"

#define DEFAULT_DATA "/usr/share/datasets/fashion-mnist"

/* The first min(max_n, n) training images of the MNIST-layout folder `dir` (n when max_n
 * < 1) as a caller-owned f64 (N, side*side) tensor in [0, 1]; *side gets the image side.
 * On failure: one line on stderr starting with `prog` and naming the folder, and NULL
 * (main then exits 1). */
static inline lg_tensor *load_images(const char *prog, const char *dir, int64_t max_n,
                                     int *side)
{
    lg_dataset ds;
    if (lg_dataset_load_mnist(dir, "train", &ds) != LG_OK) {
        fprintf(stderr, "%s: cannot load Fashion-MNIST from %s (%s); run "
                "scripts/fetch-fashion-mnist.sh or pass --data DIR\n", prog, dir,
                lg_last_errmsg());
        return NULL;
    }
    int s = (int)lround(sqrt((double)ds.features));
    lg_tensor *x = NULL;
    if (ds.n < 1 || (int64_t)s * s != ds.features) {
        fprintf(stderr, "%s: %s/train-images-idx3-ubyte: expected square images, got %lld "
                "of %lld pixels; run scripts/fetch-fashion-mnist.sh or pass --data DIR\n",
                prog, dir, (long long)ds.n, (long long)ds.features);
    } else {
        int64_t n = max_n > 0 && max_n < ds.n ? max_n : ds.n;
        int64_t shape[2] = {n, ds.features};
        x = lg_tensor_new(LG_F64, 2, shape);
        if (x) {
            const float *src = lg_tensor_cdata(ds.images);
            double *dst = lg_tensor_data(x);
            for (int64_t i = 0; i < n * ds.features; i++)
                dst[i] = (double)src[i];
            *side = s;
        } else {
            fprintf(stderr, "%s: cannot load Fashion-MNIST from %s (%s); run "
                    "scripts/fetch-fashion-mnist.sh or pass --data DIR\n", prog, dir,
                    lg_last_errmsg());
        }
    }
    lg_dataset_free(&ds);
    return x;
}

#endif
