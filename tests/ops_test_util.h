/* Helpers shared by the op tests (test_ops_*.c): tensors from doubles in either dtype,
 * error expectations that read the graph's message, and a gradcheck of weighted sums of
 * an op's output. Builds on test_util.h. */
#ifndef LAGRAD_OPS_TEST_UTIL_H
#define LAGRAD_OPS_TEST_UTIL_H

#include <stdlib.h>
#include <string.h>
#include "test_util.h"

/* A graph input of dtype dt holding the doubles v (rounded for f32). */
static inline lg_tensor *ot_input(lg_graph *g, lg_dtype dt, int ndim, const int64_t *shape,
                                  const double *v)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    lg_tensor *t;
    if (dt == LG_F64) {
        t = lg_graph_input(g, dt, ndim, shape, v);
    } else {
        float *f = malloc(sizeof *f * (size_t)(n ? n : 1));
        assert_non_null(f);
        for (int64_t i = 0; i < n; i++)
            f[i] = (float)v[i];
        t = lg_graph_input(g, dt, ndim, shape, f);
        free(f);
    }
    assert_non_null(t);
    return t;
}

/* A caller-owned tensor of dtype dt holding v (the caller frees it). */
static inline lg_tensor *ot_tensor(lg_dtype dt, int ndim, const int64_t *shape,
                                   const double *v)
{
    lg_tensor *t = lg_tensor_zeros(dt, ndim, shape);
    assert_non_null(t);
    for (int64_t i = 0; i < lg_tensor_numel(t); i++) {
        if (dt == LG_F64)
            ((double *)lg_tensor_data(t))[i] = v[i];
        else
            ((float *)lg_tensor_data(t))[i] = (float)v[i];
    }
    return t;
}

/* Asserts t's rank and shape. */
static inline void ot_assert_shape(const lg_tensor *t, int ndim, const int64_t *shape)
{
    assert_non_null(t);
    assert_int_equal(lg_tensor_ndim(t), ndim);
    for (int i = 0; i < ndim; i++)
        assert_int_equal(lg_tensor_shape(t)[i], shape[i]);
}

/* Tolerances for exact-in-f64 values computed in either dtype. */
static inline double ot_tol(lg_dtype dt) { return dt == LG_F32 ? 1e-5 : 1e-12; }

/* Asserts that y is NULL, that g holds error `want`, and that its message contains each
 * string given (NULL-terminated); then clears the error for the next case. */
static inline void ot_expect_error_v(lg_graph *g, const lg_tensor *y, lg_status want, ...)
{
    assert_null(y);
    if (lg_graph_status(g) != want) {
        print_error("want %s, got %s: \"%s\"\n", lg_status_str(want),
                    lg_status_str(lg_graph_status(g)), lg_graph_errmsg(g));
        fail();
    }
    const char *msg = lg_graph_errmsg(g);
    va_list ap;
    va_start(ap, want);
    for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *)) {
        if (!strstr(msg, s)) {
            va_end(ap);
            print_error("message \"%s\" lacks \"%s\"\n", msg, s);
            fail();
        }
    }
    va_end(ap);
    lg_graph_clear_error(g);
}
#define OT_EXPECT_ERROR(g, y, want, ...) \
    ot_expect_error_v(g, y, want, __VA_ARGS__, (const char *)NULL)

/* An op under gradcheck: its output for inputs `in` and parameters p. */
typedef lg_tensor *(*ot_op)(lg_graph *g, lg_tensor *const *in, const void *p);

typedef struct ot_wctx {
    ot_op op;
    const void *p;
    lg_tensor *w;  /* fixed random weight of the op's output shape (caller-owned) */
    bool square;
} ot_wctx;

/* Σ w ⊙ op(in), or Σ w ⊙ op(in)² when square. */
static inline lg_tensor *ot_weighted(lg_graph *g, lg_tensor *const *in, int n, void *ctx)
{
    (void)n;
    ot_wctx *c = ctx;
    lg_tensor *y = c->op(g, in, c->p);
    if (c->square)
        y = lg_mul(g, y, y);
    return lg_sum(g, lg_mul(g, y, c->w));
}

/* Gradchecks, first and second order, two scalar functions of op:
 *   Σ w ⊙ op(x)  : its Hessian is op's own second derivative (identically zero for ops
 *                  linear in their inputs: the check then confirms the HVP is zero);
 *   Σ w ⊙ op(x)² : its Hessian 2 Jᵀ diag(w) J + ... runs double backward through op's
 *                  VJP, so the VJP must itself be recorded correctly.
 * w is drawn from `seed` with the output's shape, found by running op once. */
static inline void ot_gradcheck(ot_op op, const void *p, lg_tensor *const *in, int n,
                                uint64_t seed, const char *what)
{
    lg_graph *g = lg_graph_new();
    assert_non_null(g);
    lg_tensor *y = op(g, in, p);
    if (!y) {
        print_error("%s: forward failed: %s\n", what, lg_graph_errmsg(g));
        fail();
    }
    lg_tensor *w = tu_rand(lg_tensor_ndim(y), lg_tensor_shape(y), seed, 0, 0);
    lg_graph_free(g);
    char label[200];
    for (int square = 0; square < 2; square++) {
        ot_wctx c = {op, p, w, square != 0};
        snprintf(label, sizeof label, "%s, %s", what, square ? "sum(w*y^2)" : "sum(w*y)");
        tu_gradcheck(ot_weighted, &c, in, n, true, label);
    }
    lg_tensor_free(w);
}

/* Frees n caller-owned tensors. */
static inline void ot_free_all(lg_tensor **ts, int n)
{
    for (int i = 0; i < n; i++)
        lg_tensor_free(ts[i]);
}

#endif
