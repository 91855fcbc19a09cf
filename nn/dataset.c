/* Labelled datasets from IDX files: pixels as f32 in [0, 1], labels as an i32 tensor, mean/std
 * normalisation, seeded shuffling and mini-batch copies into preallocated tensors. The
 * file reading itself (and all its validation) is in idx.c. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "lagrad/data.h"
#include "../backend/backend_impl.h"

/* Whether x looks like what lg_idx_load makes (callers may build one by hand). */
static bool idx_ok(const lg_idx *x)
{
    if (x->ndim < 1 || x->ndim > LG_IDX_MAX_DIMS || !x->data)
        return false;
    uint64_t prod = 1;
    for (int i = 0; i < x->ndim; i++) {
        if (x->dims[i] < 1 || x->dims[i] > INT32_MAX)
            return false;
        prod *= (uint64_t)x->dims[i];
        if (prod > LG_IDX_MAX_BYTES)
            return false;
    }
    return prod == x->bytes;
}

lg_status lg_dataset_from_idx(const lg_idx *images, const lg_idx *labels, lg_dataset *out)
{
    const char *fn = "lg_dataset_from_idx";
    if (!out)
        return lg_set_error(LG_ERR_ARG, "%s: out is NULL", fn);
    memset(out, 0, sizeof *out);
    if (!images || !labels)
        return lg_set_error(LG_ERR_ARG, "%s: %s is NULL", fn, images ? "labels" : "images");
    if (!idx_ok(images) || !idx_ok(labels))
        return lg_set_error(LG_ERR_ARG, "%s: %s is not a valid lg_idx (see lg_idx_load)", fn,
                            idx_ok(images) ? "labels" : "images");
    if (labels->ndim != 1)
        return lg_set_error(LG_ERR_FORMAT, "%s: labels have %d dimensions, want 1", fn,
                            labels->ndim);
    int64_t n = images->dims[0];
    if (labels->dims[0] != n)
        return lg_set_error(LG_ERR_FORMAT, "%s: %lld labels for %lld images", fn,
                            (long long)labels->dims[0], (long long)n);
    int64_t features = (int64_t)(images->bytes / (size_t)n);
    lg_tensor *yt = lg_tensor_new(LG_I32, 1, &n);
    lg_tensor *x = yt ? lg_tensor_new(LG_F32, 2, (int64_t[]){n, features}) : NULL;
    if (!x) {
        lg_tensor_free(yt);
        return lg_set_error(LG_ERR_OOM, "%s: out of memory for %lld samples of %lld", fn,
                            (long long)n, (long long)features);
    }
    int32_t *y = lg_tensor_data(yt);
    float *px = lg_tensor_data(x);
    for (size_t i = 0; i < images->bytes; i++)
        px[i] = (float)images->data[i] / 255.0f;
    int32_t classes = 0;
    for (int64_t i = 0; i < n; i++) {
        y[i] = labels->data[i];
        if (y[i] >= classes)
            classes = y[i] + 1;
    }
    out->images = x;
    out->labels = yt;
    out->n = n;
    out->features = features;
    out->sample_ndim = images->ndim - 1;
    for (int i = 1; i < images->ndim; i++)
        out->sample_shape[i - 1] = images->dims[i];
    out->num_classes = classes;
    return LG_OK;
}

lg_status lg_dataset_load(const char *images_path, const char *labels_path, lg_dataset *out)
{
    const char *fn = "lg_dataset_load";
    if (!out)
        return lg_set_error(LG_ERR_ARG, "%s: out is NULL", fn);
    memset(out, 0, sizeof *out);
    if (!images_path || !labels_path)
        return lg_set_error(LG_ERR_ARG, "%s: %s path is NULL", fn,
                            images_path ? "labels" : "images");
    lg_idx *xi = NULL, *yi = NULL;
    lg_status s = lg_idx_load(images_path, &xi);
    if (s == LG_OK)
        s = lg_idx_load(labels_path, &yi);
    /* The same checks as lg_dataset_from_idx, with messages that name the files. */
    if (s == LG_OK && yi->ndim != 1)
        s = lg_set_error(LG_ERR_FORMAT, "%s: %s: labels have %d dimensions, want 1", fn,
                         labels_path, yi->ndim);
    else if (s == LG_OK && yi->dims[0] != xi->dims[0])
        s = lg_set_error(LG_ERR_FORMAT, "%s: %s has %lld labels, %s has %lld images", fn,
                         labels_path, (long long)yi->dims[0], images_path,
                         (long long)xi->dims[0]);
    if (s == LG_OK)
        s = lg_dataset_from_idx(xi, yi, out);
    lg_idx_free(xi);
    lg_idx_free(yi);
    return s;
}

/* <dir>/<name>, or <dir>/<name>.gz when only that exists; LG_ERR_IO when neither does. */
static lg_status find_file(const char *fn, const char *dir, const char *name, char *buf,
                           size_t len)
{
    if ((size_t)snprintf(buf, len, "%s/%s", dir, name) >= len)
        return lg_set_error(LG_ERR_ARG, "%s: folder name too long: %s", fn, dir);
    if (access(buf, F_OK) == 0)
        return LG_OK;
    if ((size_t)snprintf(buf, len, "%s/%s.gz", dir, name) >= len)
        return lg_set_error(LG_ERR_ARG, "%s: folder name too long: %s", fn, dir);
    if (access(buf, F_OK) == 0)
        return LG_OK;
    return lg_set_error(LG_ERR_IO, "%s: %s: no %s or %s.gz there", fn, dir, name, name);
}

lg_status lg_dataset_load_mnist(const char *dir, const char *split, lg_dataset *out)
{
    const char *fn = "lg_dataset_load_mnist";
    if (!out)
        return lg_set_error(LG_ERR_ARG, "%s: out is NULL", fn);
    memset(out, 0, sizeof *out);
    if (!dir || !split)
        return lg_set_error(LG_ERR_ARG, "%s: %s is NULL", fn, dir ? "split" : "dir");
    if (strcmp(split, "train") != 0 && strcmp(split, "t10k") != 0)
        return lg_set_error(LG_ERR_ARG, "%s: split \"%.32s\" (want \"train\" or \"t10k\")",
                            fn, split);
    char name[64], images[4096], labels[4096];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", split);
    lg_status s = find_file(fn, dir, name, images, sizeof images);
    if (s != LG_OK)
        return s;
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", split);
    if ((s = find_file(fn, dir, name, labels, sizeof labels)) != LG_OK)
        return s;
    return lg_dataset_load(images, labels, out);
}

void lg_dataset_free(lg_dataset *d)
{
    if (!d)
        return;
    lg_tensor_free(d->images);
    lg_tensor_free(d->labels);
    memset(d, 0, sizeof *d);
}

lg_status lg_dataset_mean_std(const lg_dataset *d, double *mean, double *std)
{
    const char *fn = "lg_dataset_mean_std";
    if (!d || !d->images || !mean || !std)
        return lg_set_error(LG_ERR_ARG, "%s: %s is NULL", fn,
                            !d ? "d" : !d->images ? "d->images" : !mean ? "mean" : "std");
    int64_t n = lg_tensor_numel(d->images);
    if (n == 0)
        return lg_set_error(LG_ERR_ARG, "%s: the dataset is empty", fn);
    const float *x = lg_tensor_cdata(d->images);
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < n; i++)
        sum += x[i];
    double m = sum / (double)n;
    for (int64_t i = 0; i < n; i++)
        sq += (x[i] - m) * (x[i] - m);
    *mean = m;
    *std = sqrt(sq / (double)n);
    return LG_OK;
}

lg_status lg_dataset_normalize(lg_dataset *d, double mean, double std)
{
    const char *fn = "lg_dataset_normalize";
    if (!d || !d->images)
        return lg_set_error(LG_ERR_ARG, "%s: %s is NULL", fn, d ? "d->images" : "d");
    if (!(std > 0) || !isfinite(std) || !isfinite(mean))
        return lg_set_error(LG_ERR_ARG, "%s: mean %g, std %g (want finite, std > 0)", fn,
                            mean, std);
    float *x = lg_tensor_data(d->images);
    int64_t n = lg_tensor_numel(d->images);
    float m = (float)mean, inv = (float)(1.0 / std);
    for (int64_t i = 0; i < n; i++)
        x[i] = (x[i] - m) * inv;
    return LG_OK;
}

lg_status lg_data_shuffle(int64_t *perm, int64_t n, lg_rng *r)
{
    const char *fn = "lg_data_shuffle";
    if (n < 0 || !r || (!perm && n > 0))
        return lg_set_error(LG_ERR_ARG, "%s: %s", fn,
                            n < 0 ? "n < 0" : !r ? "r is NULL" : "perm is NULL");
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    /* Fisher-Yates: swap i with a uniform j in [0, i]. */
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(lg_rng_uniform(r) * (double)(i + 1));
        if (j > i) /* guards rounding at u just below 1 */
            j = i;
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    return LG_OK;
}

int64_t lg_data_num_batches(int64_t n, int64_t batch_size)
{
    if (n <= 0 || batch_size <= 0)
        return 0;
    return n / batch_size + (n % batch_size != 0);
}

/* Asks for every cache line of a row of f floats. */
static void prefetch_row(const float *row, int64_t f)
{
#if defined(__GNUC__)
    for (int64_t j = 0; j < f; j += 64 / (int64_t)sizeof(float))
        __builtin_prefetch(row + j);
#else
    (void)row;
    (void)f;
#endif
}

lg_status lg_dataset_batch(const lg_dataset *d, const int64_t *perm, int64_t batch_size,
                           int64_t b, lg_tensor *x, lg_tensor *y)
{
    const char *fn = "lg_dataset_batch";
    if (!d || !d->images || !x)
        return lg_set_error(LG_ERR_ARG, "%s: %s is NULL", fn,
                            !d ? "d" : !d->images ? "d->images" : "x");
    if (batch_size < 1)
        return lg_set_error(LG_ERR_ARG, "%s: batch_size %lld (want >= 1)", fn,
                            (long long)batch_size);
    int64_t nb = lg_data_num_batches(d->n, batch_size);
    if (b < 0 || b >= nb)
        return lg_set_error(LG_ERR_ARG, "%s: batch %lld of %lld (batch_size %lld, %lld "
                            "samples)", fn, (long long)b, (long long)nb,
                            (long long)batch_size, (long long)d->n);
    int64_t start = b * batch_size;
    int64_t rows = d->n - start < batch_size ? d->n - start : batch_size;
    lg_dtype dt = lg_tensor_dtype(x);
    if (lg_tensor_ndim(x) < 1 || lg_tensor_shape(x)[0] != rows ||
        lg_tensor_numel(x) != rows * d->features || !lg_dtype_is_float(dt))
        return lg_set_error(LG_ERR_SHAPE, "%s: x is %s, batch %lld needs (%lld, ...) with "
                            "%lld features per row", fn, lg_tshape(x).s, (long long)b,
                            (long long)rows, (long long)d->features);
    if (y && (lg_tensor_dtype(y) != LG_I32 && lg_tensor_dtype(y) != LG_I64))
        return lg_set_error(LG_ERR_DTYPE, "%s: y is %s; labels need i32 or i64", fn,
                            lg_dtype_name(lg_tensor_dtype(y)));
    if (y && (lg_tensor_ndim(y) != 1 || lg_tensor_numel(y) != rows))
        return lg_set_error(LG_ERR_SHAPE, "%s: y is %s, batch %lld needs (%lld)", fn,
                            lg_tshape(y).s, (long long)b, (long long)rows);
    /* at least n: a view that lowers n keeps the whole label tensor */
    if (!d->labels || lg_tensor_dtype(d->labels) != LG_I32 || lg_tensor_numel(d->labels) < d->n)
        return lg_set_error(LG_ERR_ARG, "%s: d->labels must be an i32 tensor of at least %lld "
                            "entries", fn, (long long)d->n);
    for (int64_t i = 0; i < rows; i++) {
        int64_t k = perm ? perm[start + i] : start + i;
        if (k < 0 || k >= d->n)
            return lg_set_error(LG_ERR_ARG, "%s: perm[%lld] = %lld, outside [0, %lld)", fn,
                                (long long)(start + i), (long long)k, (long long)d->n);
    }
    const float *src = lg_tensor_cdata(d->images);
    void *dst = lg_tensor_data(x);
    int64_t f = d->features;
    for (int64_t i = 0; i < rows; i++) {
        int64_t k = perm ? perm[start + i] : start + i;
        const float *row = src + k * f;
        if (perm && i + 1 < rows) /* shuffled rows are cache misses: start the next one now */
            prefetch_row(src + perm[start + i + 1] * f, f);
        if (dt == LG_F32) {
            memcpy((float *)dst + i * f, row, sizeof(float) * (size_t)f);
        } else {
            double *o = (double *)dst + i * f;
            for (int64_t j = 0; j < f; j++)
                o[j] = row[j];
        }
        if (y)
            lg_store(lg_tensor_data(y), lg_tensor_dtype(y), i,
                     ((const int32_t *)lg_tensor_cdata(d->labels))[k]);
    }
    return LG_OK;
}

lg_status lg_accuracy(const lg_tensor *scores, const lg_tensor *labels, int64_t *n_correct,
                      double *accuracy)
{
    const char *fn = "lg_accuracy";
    if (!scores || !labels)
        return lg_set_error(LG_ERR_ARG, "%s: %s is NULL", fn, scores ? "labels" : "scores");
    lg_dtype lt = lg_tensor_dtype(labels), st = lg_tensor_dtype(scores);
    if (!lg_dtype_is_float(st) || (lt != LG_I32 && lt != LG_I64))
        return lg_set_error(LG_ERR_DTYPE, "%s: scores are %s and labels %s; need f32/f64 "
                            "scores and i32/i64 labels", fn, lg_dtype_name(st),
                            lg_dtype_name(lt));
    int64_t n = lg_tensor_ndim(scores) == 2 ? lg_tensor_shape(scores)[0] : -1;
    int64_t c = n >= 0 ? lg_tensor_shape(scores)[1] : 0;
    if (n < 0 || c < 1 || lg_tensor_ndim(labels) != 1 || lg_tensor_numel(labels) != n)
        return lg_set_error(LG_ERR_SHAPE, "%s: scores %s and labels %s; need (N, C) with C "
                            ">= 1 and (N)", fn, lg_tshape(scores).s, lg_tshape(labels).s);
    /* row by row through the backend's reduction: no allocation, so a training loop may
     * call it every step */
    const char *base = lg_tensor_cdata(scores);
    size_t row_bytes = (size_t)c * lg_dtype_size(st);
    int64_t correct = 0;
    for (int64_t i = 0; i < n; i++) {
        double best; /* room for one element of either float dtype */
        int64_t arg = 0;
        lg_cpu_backend()->reduce(LG_RED_MAX, st, 1, c, 1, base + (size_t)i * row_bytes, &best,
                                 &arg);
        correct += arg == lg_load_int(lg_tensor_cdata(labels), lt, i);
    }
    if (n_correct)
        *n_correct = correct;
    if (accuracy)
        *accuracy = n ? (double)correct / (double)n : NAN;
    return LG_OK;
}
