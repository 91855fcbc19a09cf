/* The body of both IDX targets: load one file with lg_idx_load, check what came back, and
 * on success build a dataset from it (as images, and as labels when it is 1-D). */
#ifndef LAGRAD_FUZZ_IDX_COMMON_H
#define LAGRAD_FUZZ_IDX_COMMON_H

#include "fuzz_util.h"
#include "lagrad/data.h"

/* A loaded lg_idx must be what the header said and no larger than the file allows. */
static inline void check_idx(const lg_idx *x, size_t justified)
{
    size_t prod = 1;
    bool ok = x->ndim >= 1 && x->ndim <= LG_IDX_MAX_DIMS && x->data;
    for (int i = 0; ok && i < x->ndim; i++) {
        ok = x->dims[i] >= 1;
        prod *= (size_t)x->dims[i];
    }
    if (!ok || prod != x->bytes || x->bytes > justified) {
        fprintf(stderr, "lg_idx_load succeeded with ndim %d, %zu bytes (product %zu) for a "
                "file that justifies %zu\n", x->ndim, x->bytes, prod, justified);
        abort();
    }
}

static inline void fuzz_idx_file(const uint8_t *file, size_t n, const char *what)
{
    size_t justified = n;
    size_t inflated = fuzz_gunzip_len(file, n, (size_t)1 << 30);
    if (inflated > justified)
        justified = inflated;
    const char *path = fuzz_path(file, n);
    fuzz_begin();
    lg_idx *x = (lg_idx *)&x;
    lg_status s = lg_idx_load(path, &x);
    fuzz_check_error(s, "lg_idx_load");
    if ((s == LG_OK) != (x != NULL))
        abort();
    if (x) {
        check_idx(x, justified);
        lg_dataset d;
        lg_status ds = lg_dataset_from_idx(x, x, &d);
        if (ds == LG_OK)
            lg_dataset_free(&d);
        else
            fuzz_check_error(ds, "lg_dataset_from_idx");
        lg_idx_free(x);
    }
    /* a dataset from the file and itself goes through lg_dataset_load's messages */
    lg_dataset d;
    if (lg_dataset_load(path, path, &d) == LG_OK)
        lg_dataset_free(&d);
    fuzz_end(justified, what);
}

#endif
