/* lagrad tensors: dense, row-major, rank 0 to LG_MAX_DIMS, of f32 or f64 (values that
 * carry gradients) or i32 or i64 (labels, token ids, indices; never requiring grad).
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
/* The library is built with hidden visibility: what this header declares is its ABI. */
#pragma GCC visibility push(default)

#define LG_MAX_DIMS 6

typedef struct lg_tensor lg_tensor;

/* Seeded counter-based RNG: element i of a draw depends only on (seed, counter + i),
 * so results are identical at any thread count. */
typedef struct lg_rng {
    uint64_t seed;
    uint64_t counter;
} lg_rng;

/* Starts a stream: seed as given, counter 0. */
void lg_rng_init(lg_rng *r, uint64_t seed);
/* One uniform double in [0, 1), advancing the counter by one. */
double lg_rng_uniform(lg_rng *r);

/* Creation, for every dtype unless noted. shape may be NULL when ndim is 0 (a scalar).
 * Errors (NULL return, with lg_last_status() and lg_last_errmsg() saying which): bad
 * dtype (LG_ERR_DTYPE), ndim outside [0, LG_MAX_DIMS] or a negative dimension
 * (LG_ERR_ARG/LG_ERR_SHAPE), out of memory (LG_ERR_OOM). An integer tensor takes only
 * whole values in its range (lg_tensor_full(LG_I32, ..., 2.5) is LG_ERR_ARG). */
lg_tensor *lg_tensor_new(lg_dtype dt, int ndim, const int64_t *shape); /* zeros */
lg_tensor *lg_tensor_zeros(lg_dtype dt, int ndim, const int64_t *shape);
lg_tensor *lg_tensor_ones(lg_dtype dt, int ndim, const int64_t *shape);
lg_tensor *lg_tensor_full(lg_dtype dt, int ndim, const int64_t *shape, double value);
/* Copies numel elements of type dt from data. */
lg_tensor *lg_tensor_from_data(lg_dtype dt, int ndim, const int64_t *shape, const void *data);
/* 1-D [start, start+step, ...) with ceil((stop-start)/step) elements; step != 0
 * (LG_ERR_ARG), at most 2^63 elements (LG_ERR_SHAPE). Integer dtypes truncate toward 0. */
lg_tensor *lg_tensor_arange(lg_dtype dt, double start, double stop, double step);
/* n x n identity. */
lg_tensor *lg_tensor_eye(lg_dtype dt, int64_t n);
/* Uniform in [lo, hi) and normal(mean, std), drawn from r (r->counter advances).
 * f32 and f64 only (LG_ERR_DTYPE). */
lg_tensor *lg_tensor_uniform(lg_dtype dt, int ndim, const int64_t *shape, double lo,
                             double hi, lg_rng *r);
lg_tensor *lg_tensor_normal(lg_dtype dt, int ndim, const int64_t *shape, double mean,
                            double std, lg_rng *r);
/* Wraps a caller buffer without copying. The buffer must stay alive, and at least
 * numel elements long, until the tensor is freed; lg_tensor_free leaves it alone. */
lg_tensor *lg_tensor_wrap(lg_dtype dt, int ndim, const int64_t *shape, void *data);
/* A new caller-owned tensor with the same dtype, shape and values (no grad). */
lg_tensor *lg_tensor_copy(const lg_tensor *t);

/* Frees a caller-owned tensor and its gradient. NULL is a no-op (LG_OK). A tensor that a
 * graph or a parameter store owns is refused with LG_ERR_ARG and left alone, so a
 * mistaken free cannot corrupt them. */
lg_status lg_tensor_free(lg_tensor *t);

/* Copies src's values into dst; both must have equal numel and dtype. */
lg_status lg_tensor_copy_from(lg_tensor *dst, const lg_tensor *src);
/* Sets every element to v (a whole number in range for integer tensors: LG_ERR_ARG). */
lg_status lg_tensor_fill(lg_tensor *t, double v);
/* Changes the shape in place (same numel, the data is unchanged). Caller-owned only. */
lg_status lg_tensor_reshape(lg_tensor *t, int ndim, const int64_t *shape);

/* Accessors. These never fail on a valid tensor; on NULL they return 0/NULL
 * (lg_tensor_dtype: LG_DTYPE_INVALID, with lg_last_status() LG_ERR_ARG). */
lg_dtype lg_tensor_dtype(const lg_tensor *t);
int lg_tensor_ndim(const lg_tensor *t);
const int64_t *lg_tensor_shape(const lg_tensor *t);   /* ndim entries */
const int64_t *lg_tensor_strides(const lg_tensor *t); /* in elements, row-major */
int64_t lg_tensor_numel(const lg_tensor *t);
/* Raw data: float* for LG_F32, double* for LG_F64, int32_t* for LG_I32, int64_t* for
 * LG_I64; always contiguous row-major. */
void *lg_tensor_data(lg_tensor *t);
const void *lg_tensor_cdata(const lg_tensor *t);

/* Element access by multi-index (ndim entries), any dtype, as double. Out-of-range index
 * or NULL: LG_ERR_ARG; lg_tensor_set on an integer tensor also needs a whole value in
 * range (LG_ERR_ARG). */
lg_status lg_tensor_get(const lg_tensor *t, const int64_t *idx, double *out);
lg_status lg_tensor_set(lg_tensor *t, const int64_t *idx, double v);
/* Exact integer access for LG_I32/LG_I64 tensors (values past 2^53 survive). A float
 * tensor is LG_ERR_DTYPE; a value outside i32 for an i32 tensor LG_ERR_ARG. */
lg_status lg_tensor_get_i64(const lg_tensor *t, const int64_t *idx, int64_t *out);
lg_status lg_tensor_set_i64(lg_tensor *t, const int64_t *idx, int64_t v);
/* Flat (row-major) element as double. NULL or an index outside [0, numel) returns NaN
 * and sets lg_last_status() to LG_ERR_ARG, so an unchecked loop prints nan, not 0. */
double lg_tensor_item(const lg_tensor *t, int64_t flat);

/* Gradients of caller-owned leaves. A tensor with requires_grad set takes part in
 * backward; its gradient accumulates (+=) over backward calls into a caller-owned
 * tensor of the same shape, made on first use and freed with the tensor. Integer
 * tensors never require grad (LG_ERR_DTYPE); graph tensors are refused (LG_ERR_ARG). */
lg_status lg_tensor_set_requires_grad(lg_tensor *t, bool on);
bool lg_tensor_requires_grad(const lg_tensor *t);
/* The accumulated gradient, or NULL if none has been computed yet. */
lg_tensor *lg_tensor_grad(const lg_tensor *t);
/* Sets the gradient to zero (keeps its memory). NULL: LG_ERR_ARG. */
lg_status lg_tensor_zero_grad(lg_tensor *t);

/* Writes "tensor(f32, shape=(2,3)) [[...]]" to f; at most max_elems values per tensor
 * (0 means all). Floats print with 6 significant digits, integers exactly. */
lg_status lg_tensor_print(const lg_tensor *t, FILE *f, int64_t max_elems);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
