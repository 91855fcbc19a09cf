/* Internal: the tensor struct, the allocator entry points and shape helpers shared by
 * tensor/ and autograd/. Never installed. */
#ifndef LAGRAD_TENSOR_IMPL_H
#define LAGRAD_TENSOR_IMPL_H

#include <stdarg.h>
#include "lagrad/extension.h" /* lg_malloc, lg_free, lg_set_error */
#include "lagrad/tensor.h"
#include "lagrad/backend.h"

#define LG_ALIGN 64

enum {
    LG_TF_OWNS_DATA = 1u,     /* data came from lg_malloc and is freed with the tensor */
    LG_TF_REQUIRES_GRAD = 2u, /* takes part in backward */
    /* The header belongs to a container (an lg_params store keeps its parameters' headers
     * in its own arrays, their data in one block per dtype): lg_tensor_free and
     * lg_tensor_set_requires_grad refuse it, since the store frees and freezes them. */
    LG_TF_BORROWED = 4u,
    LG_TF_GRAD = 8u,          /* a leaf's .grad: backward may write it while walking */
};

struct lg_graph;
struct lg_node;

/* A tensor header. tensor/ owns the first group (storage, shape, device) and, for
 * caller-owned tensors, the leaf's .grad slot behind the public requires-grad API (made,
 * zeroed, reshaped and freed with the tensor); `graph` tells it a tensor is not the
 * caller's. The rest belongs to autograd/ and is opaque here (forward declarations only:
 * tensor/ never follows those pointers). It lives in the header rather than in a side
 * table because backward visits every tensor of the tape: one header per tensor, from the
 * graph's arena, with no lookup. */
struct lg_tensor {
    /* storage and shape: tensor/ */
    void *data;
    int64_t shape[LG_MAX_DIMS];
    int64_t strides[LG_MAX_DIMS]; /* elements; always the contiguous row-major ones */
    int64_t numel;
    lg_dtype dtype;
    int ndim;
    unsigned flags;
    size_t data_bytes;        /* bytes allocated for data when LG_TF_OWNS_DATA */
    lg_device device;         /* where data lives: LG_DEVICE_HOST for caller-owned tensors */
    /* autograd/ */
    struct lg_tensor *grad;   /* caller-owned leaves: accumulated gradient */
    struct lg_graph *graph;   /* owning graph, NULL for caller-owned tensors */
    uint64_t epoch;           /* graph generation the tensor was made in (stale handles) */
    struct lg_node *node;     /* the op that produced it, NULL for leaves/constants */
    struct lg_tensor *gacc;   /* backward scratch: gradient accumulated so far; on an
                                 accumulator backward made, the tensor it sums for */
    int out_index;            /* which output of node */
    int on_leaf_list;         /* backward scratch: already in the touched-leaf list */
};

/* Fills shape/strides/numel of t; returns LG_ERR_ARG/LG_ERR_SHAPE on bad input, with
 * a message naming `fn` in *msg (size msglen). */
lg_status lg_shape_init(lg_tensor *t, int ndim, const int64_t *shape, const char *fn,
                        char *msg, size_t msglen);

/* "(2,3)" for messages. The buffer lives until the end of the full expression. */
typedef struct { char s[96]; } lg_shape_text;
lg_shape_text lg_shape_str(int ndim, const int64_t *shape);
lg_shape_text lg_tshape(const lg_tensor *t);

static inline int lg_dtype_valid(lg_dtype dt)
{
    return dt == LG_F32 || dt == LG_F64 || dt == LG_I32 || dt == LG_I64;
}
static inline int lg_dtype_int(lg_dtype dt) { return dt == LG_I32 || dt == LG_I64; }
/* LG_ERR_ARG (message naming fn) unless v can be stored exactly in dtype dt: any value for
 * floats, a whole number in range for integers. */
lg_status lg_check_value(const char *fn, lg_dtype dt, double v);

/* NumPy broadcasting of shapes a and b into out; 0 when they do not broadcast. */
int lg_broadcast_shapes(int na, const int64_t *a, int nb, const int64_t *b, int *nout,
                        int64_t *out);
/* Strides to read a tensor of shape (n, shape) as if broadcast to (nout, out):
 * 0 on broadcast axes, row-major elsewhere. */
void lg_broadcast_strides(int n, const int64_t *shape, int nout, const int64_t *out,
                          int64_t *strides);
int lg_same_shape(const lg_tensor *a, const lg_tensor *b);

/* Element i of an integer tensor as int64_t. */
static inline int64_t lg_load_int(const void *data, lg_dtype dt, int64_t i)
{
    return dt == LG_I32 ? (int64_t)((const int32_t *)data)[i] : ((const int64_t *)data)[i];
}

/* v rounded toward zero and saturated to [lo, hi]; NaN gives 0. Never undefined. */
static inline int64_t lg_double_to_int(double v, int64_t lo, int64_t hi)
{
    if (v != v)
        return 0;
    if (v <= (double)lo)
        return lo;
    if (v >= (double)hi)  /* (double)INT64_MAX is 2^63, itself out of range */
        return hi;
    return (int64_t)v;
}

/* The value of element i as a double (any dtype) and the reverse. Storing into an integer
 * tensor saturates (lg_double_to_int); public setters check the value first. */
static inline double lg_load(const void *data, lg_dtype dt, int64_t i)
{
    switch (dt) {
    case LG_F32: return (double)((const float *)data)[i];
    case LG_F64: return ((const double *)data)[i];
    default: return (double)lg_load_int(data, dt, i);
    }
}
static inline void lg_store(void *data, lg_dtype dt, int64_t i, double v)
{
    switch (dt) {
    case LG_F32: ((float *)data)[i] = (float)v; break;
    case LG_F64: ((double *)data)[i] = v; break;
    case LG_I32: ((int32_t *)data)[i] = (int32_t)lg_double_to_int(v, INT32_MIN, INT32_MAX); break;
    case LG_I64: ((int64_t *)data)[i] = lg_double_to_int(v, INT64_MIN, INT64_MAX); break;
    default: break;
    }
}

/* Fills n elements at data from the counter-based RNG (consumes n counters). */
void lg_rng_fill_uniform(lg_rng *r, lg_dtype dt, void *data, int64_t n, double lo, double hi);
void lg_rng_fill_normal(lg_rng *r, lg_dtype dt, void *data, int64_t n, double mean, double std);

/* The default thread count (threads_auto.c, core.h): lg_graph_reset ticks it once per
 * step; lg_set_num_threads turns it off for good. */
void lg_threads_auto_tick(void);
void lg_threads_auto_off(void);
/* The policy alone, for tests: at time t (s), with the steering thread waiting for a CPU
 * `busy` of the time since the last call, the thread count to use next. */
typedef struct lg_threads_auto_state {
    int all, now;           /* the count with free cores (OpenMP's default), the current */
    double next_probe_s;    /* at 1 thread: when to try every core again */
    double probe_wait_s;    /* the wait before the next probe: 2 s, doubled per failure */
    bool probing;           /* at all threads for a trial measurement */
} lg_threads_auto_state;
lg_threads_auto_state lg_threads_auto_start(int all);
int lg_threads_auto_next(lg_threads_auto_state *s, double t, double busy);

#endif
