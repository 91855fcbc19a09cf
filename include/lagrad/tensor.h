/* lagrad tensors: dense, row-major, float32 or float64, rank 0 to LG_MAX_DIMS.
 * A tensor made here is owned by the caller (free it with lg_tensor_free); tensors
 * returned by graph ops belong to their graph (see graph.h) and must not be freed. */
#ifndef LAGRAD_TENSOR_H
#define LAGRAD_TENSOR_H

#include <stdbool.h>
#include <stdio.h>
#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LG_MAX_DIMS 6

typedef struct lg_tensor lg_tensor;

/* Seeded counter-based RNG: element i of a draw depends only on (seed, counter + i),
 * so results are identical at any thread count. */
typedef struct lg_rng {
    uint64_t seed;
    uint64_t counter;
} lg_rng;

void lg_rng_init(lg_rng *r, uint64_t seed);
/* One uniform double in [0, 1), advancing the counter by one. */
double lg_rng_uniform(lg_rng *r);

/* Creation. shape may be NULL when ndim is 0 (a scalar). Errors (NULL return):
 * bad dtype, ndim outside [0, LG_MAX_DIMS], negative dimension, out of memory;
 * lg_last_errmsg() says which. */
lg_tensor *lg_tensor_new(lg_dtype dt, int ndim, const int64_t *shape); /* zeros */
lg_tensor *lg_tensor_zeros(lg_dtype dt, int ndim, const int64_t *shape);
lg_tensor *lg_tensor_ones(lg_dtype dt, int ndim, const int64_t *shape);
lg_tensor *lg_tensor_full(lg_dtype dt, int ndim, const int64_t *shape, double value);
/* Copies numel elements of type dt from data. */
lg_tensor *lg_tensor_from_data(lg_dtype dt, int ndim, const int64_t *shape, const void *data);
/* 1-D [start, start+step, ...) with ceil((stop-start)/step) elements; step != 0. */
lg_tensor *lg_tensor_arange(lg_dtype dt, double start, double stop, double step);
/* n x n identity. */
lg_tensor *lg_tensor_eye(lg_dtype dt, int64_t n);
/* Uniform in [lo, hi) and normal(mean, std), drawn from r (r->counter advances). */
lg_tensor *lg_tensor_uniform(lg_dtype dt, int ndim, const int64_t *shape, double lo,
                             double hi, lg_rng *r);
lg_tensor *lg_tensor_normal(lg_dtype dt, int ndim, const int64_t *shape, double mean,
                            double std, lg_rng *r);
/* Wraps a caller buffer without copying. The buffer must stay alive, and at least
 * numel elements long, until the tensor is freed; lg_tensor_free leaves it alone. */
lg_tensor *lg_tensor_wrap(lg_dtype dt, int ndim, const int64_t *shape, void *data);
/* A new caller-owned tensor with the same dtype, shape and values (no grad). */
lg_tensor *lg_tensor_copy(const lg_tensor *t);

/* Frees a caller-owned tensor and its gradient. NULL is a no-op. Passing a tensor that a
 * graph owns is refused (nothing happens) so that a mistaken free cannot corrupt a graph. */
void lg_tensor_free(lg_tensor *t);

/* Copies src's values into dst; both must have equal numel and dtype. */
lg_status lg_tensor_copy_from(lg_tensor *dst, const lg_tensor *src);
/* Sets every element to v. */
lg_status lg_tensor_fill(lg_tensor *t, double v);
/* Changes the shape in place (same numel, the data is unchanged). Caller-owned only. */
lg_status lg_tensor_reshape(lg_tensor *t, int ndim, const int64_t *shape);

/* Accessors. These never fail on a valid tensor; on NULL they return 0/NULL. */
lg_dtype lg_tensor_dtype(const lg_tensor *t);
int lg_tensor_ndim(const lg_tensor *t);
const int64_t *lg_tensor_shape(const lg_tensor *t);   /* ndim entries */
const int64_t *lg_tensor_strides(const lg_tensor *t); /* in elements, row-major */
int64_t lg_tensor_numel(const lg_tensor *t);
/* Raw data: float* for LG_F32, double* for LG_F64; always contiguous row-major. */
void *lg_tensor_data(lg_tensor *t);
const void *lg_tensor_cdata(const lg_tensor *t);

/* Element access by multi-index (ndim entries). Out-of-range index: LG_ERR_ARG. */
lg_status lg_tensor_get(const lg_tensor *t, const int64_t *idx, double *out);
lg_status lg_tensor_set(lg_tensor *t, const int64_t *idx, double v);
/* Flat (row-major) element access; no check beyond the bounds (returns 0 / ignores). */
double lg_tensor_item(const lg_tensor *t, int64_t flat);

/* Gradients of caller-owned leaves. A tensor with requires_grad set takes part in
 * backward; its gradient accumulates (+=) over backward calls into a caller-owned
 * tensor of the same shape, made on first use and freed with the tensor. */
lg_status lg_tensor_set_requires_grad(lg_tensor *t, bool on);
bool lg_tensor_requires_grad(const lg_tensor *t);
/* The accumulated gradient, or NULL if none has been computed yet. */
lg_tensor *lg_tensor_grad(const lg_tensor *t);
/* Sets the gradient to zero (keeps its memory). */
void lg_tensor_zero_grad(lg_tensor *t);

/* Writes "tensor(f32, shape=(2,3)) [[...]]" to f; at most max_elems values per tensor
 * (0 means all). */
lg_status lg_tensor_print(const lg_tensor *t, FILE *f, int64_t max_elems);

#ifdef __cplusplus
}
#endif
#endif
