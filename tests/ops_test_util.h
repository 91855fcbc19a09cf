/* Helpers shared by the op tests (test_ops_*.c): tensors from doubles in either dtype,
 * error expectations that read the graph's message, a gradcheck of weighted sums of an
 * op's output, and the unary-op checks and f32-against-f64 comparison of the elementwise
 * and activation tests. Builds on test_util.h. */
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

/* A caller-owned tensor whose element i is ((i * a) % m - m / 2) / d: exact in f32, and
 * the formula tests/conv_torch_ref.py uses for its recorded PyTorch values. */
static inline lg_tensor *ot_pattern(lg_dtype dt, int ndim, const int64_t *shape, int a, int m,
                                    double d)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    double *v = malloc(sizeof *v * (size_t)n);
    assert_non_null(v);
    for (int64_t i = 0; i < n; i++)
        v[i] = (double)((i * a) % m - m / 2) / d;
    lg_tensor *t = ot_tensor(dt, ndim, shape, v);
    free(v);
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

/* ---- unary-op tables, forward/grad checks and the f32-against-f64 comparison shared
 * by the elementwise and activation tests ---- */

/* Forward tolerances there: in f64 exact ops are exact and libm results within a few ulp
 * of the correctly rounded value; in f32 a few float ulp plus input rounding. */
#define OT_ATOL64 1e-15
#define OT_RTOL64 1e-14
#define OT_ATOL32 1e-7
#define OT_RTOL32 1e-6

/* A unary op with one scalar parameter (unused by most), so that tables hold every op. */
typedef lg_tensor *(*ot_unop)(lg_graph *g, lg_tensor *x, double p);

/* A table row: the op's public name (as its error messages give it), wrapper, parameter. */
typedef struct ot_unop_entry {
    const char *name;
    ot_unop f;
    double p;
} ot_unop_entry;

/* A rank (at most 3) and shape. */
typedef struct ot_shape {
    int ndim;
    int64_t s[3];
} ot_shape;

/* Runs y = f(x, p) on a 1-D graph input x of the n doubles (rounded for f32) and asserts
 * that it succeeded with shape (n) and dtype dt. */
static inline lg_tensor *ot_run_unary_1d(lg_graph *g, ot_unop f, double p, lg_dtype dt,
                                         int64_t n, const double *x)
{
    lg_tensor *y = f(g, ot_input(g, dt, 1, &n, x), p);
    assert_int_equal(lg_graph_status(g), LG_OK);
    ot_assert_shape(y, 1, &n);
    assert_int_equal(lg_tensor_dtype(y), dt);
    return y;
}

/* Checks f(x, p) against want in f64 then f32, each to the OT_*TOL* tolerances. */
static inline void ot_check_unary_fwd(ot_unop f, double p, int64_t n, const double *x,
                                      const double *want, const char *what)
{
    for (int k = 0; k < 2; k++) {
        lg_dtype dt = k ? LG_F32 : LG_F64;
        lg_graph *g = lg_graph_new();
        assert_non_null(g);
        tu_assert_tensor_close(ot_run_unary_1d(g, f, p, dt, n, x), want, n,
                               k ? OT_ATOL32 : OT_ATOL64, k ? OT_RTOL32 : OT_RTOL64, what);
        lg_graph_free(g);
    }
}

/* Checks d/dx of sum(f(x, p)) at the n f64 points x against want (atol = rtol = tol). */
static inline void ot_check_grad_1d(ot_unop f, double p, int64_t n, const double *x,
                                    const double *want, double tol, const char *what)
{
    lg_tensor *xt = lg_tensor_from_data(LG_F64, 1, &n, x);
    lg_tensor_set_requires_grad(xt, true);
    lg_graph *g = lg_graph_new();
    assert_int_equal(lg_backward(g, lg_sum(g, f(g, xt, p))), LG_OK);
    tu_assert_tensor_close(lg_tensor_grad(xt), want, n, tol, tol, what);
    lg_graph_free(g);
    lg_tensor_free(xt);
}

/* Asserts that op `name` returned NULL with status s and a message holding sub1 and sub2
 * (each when non-NULL). Unlike OT_EXPECT_ERROR it leaves the error standing. */
static inline void ot_expect_error_named(lg_graph *g, const lg_tensor *y, lg_status s,
                                         const char *name, const char *sub1, const char *sub2)
{
    const char *msg = lg_graph_errmsg(g);
    if (y || lg_graph_status(g) != s || (sub1 && !strstr(msg, sub1)) ||
        (sub2 && !strstr(msg, sub2))) {
        print_error("%s: got %s, status %s, message \"%s\"; want NULL, %s, \"%s\", \"%s\"\n",
                    name, y ? "a tensor" : "NULL", lg_status_str(lg_graph_status(g)), msg,
                    lg_status_str(s), sub1 ? sub1 : "", sub2 ? sub2 : "");
        fail();
    }
}

/* Asserts that each of the n ops of table t, given a NULL input on g (reset before each),
 * fails with LG_ERR_ARG and a message naming the op and "NULL". */
static inline void ot_unops_reject_null_input(lg_graph *g, const ot_unop_entry *t, int n)
{
    for (int i = 0; i < n; i++) {
        lg_graph_reset(g);
        ot_expect_error_named(g, t[i].f(g, NULL, t[i].p), LG_ERR_ARG, t[i].name, t[i].name,
                              "NULL");
    }
}

/* Asserts that each of the n ops of table t, given a NULL graph and the valid input x,
 * returns NULL with lg_last_errmsg() naming the op. */
static inline void ot_unops_reject_null_graph(const ot_unop_entry *t, int n, lg_tensor *x)
{
    for (int i = 0; i < n; i++) {
        assert_null(t[i].f(NULL, x, t[i].p));
        assert_non_null(strstr(lg_last_errmsg(), t[i].name));
    }
}

/* How gradcheck inputs are drawn: uniform in [lo, hi), or standard normals when
 * lo == hi == 0. */
typedef struct ot_dist {
    double lo, hi;
    bool alternate_sign; /* negate every other element: |x| in [lo, hi) of both signs */
    bool pin_small;      /* element 0 set to 1e-2, the small positive edge */
} ot_dist;

/* A caller-owned f64 tensor drawn from d with `seed`. */
static inline lg_tensor *ot_draw(int ndim, const int64_t *shape, uint64_t seed, ot_dist d)
{
    lg_tensor *t = tu_rand(ndim, shape, seed, d.lo, d.hi);
    double *x = lg_tensor_data(t);
    int64_t n = lg_tensor_numel(t);
    for (int64_t i = 0; d.alternate_sign && i < n; i += 2)
        x[i] = -x[i];
    if (d.pin_small && n > 0)
        x[0] = 1e-2;
    return t;
}

/* A caller-owned copy of the f64 tensor t in dtype dt. */
static inline lg_tensor *ot_as_dtype(const lg_tensor *t, lg_dtype dt)
{
    if (dt == LG_F64)
        return lg_tensor_copy(t);
    int64_t n = lg_tensor_numel(t);
    float *f = malloc((size_t)(n ? n : 1) * sizeof *f);
    assert_non_null(f);
    for (int64_t i = 0; i < n; i++)
        f[i] = (float)lg_tensor_item(t, i);
    lg_tensor *r = lg_tensor_from_data(LG_F32, lg_tensor_ndim(t), lg_tensor_shape(t), f);
    free(f);
    assert_non_null(r);
    return r;
}

/* For loss f (ctx already holding dt tensors) at the f64 inputs x (n <= 4, converted to
 * dt, as are the directions u): writes the gradient then the Hessian-vector product H u
 * (double backward through lg_grad with create_graph), flattened into out (room for cap
 * values). Returns the number written. */
static inline int64_t ot_grad_and_hvp(lg_dtype dt, lg_fn f, void *ctx, lg_tensor *const *x,
                                      lg_tensor *const *u, int n, double *out, int64_t cap)
{
    assert_true(n >= 1 && n <= 4);
    int64_t total = 0;
    for (int i = 0; i < n; i++)
        total += 2 * lg_tensor_numel(x[i]);
    assert_true(total <= cap);
    lg_tensor *xd[4], *ud[4], *gr[4], *hu[4];
    for (int i = 0; i < n; i++) {
        xd[i] = ot_as_dtype(x[i], dt);
        ud[i] = ot_as_dtype(u[i], dt);
        lg_tensor_set_requires_grad(xd[i], true);
    }
    lg_graph *g = lg_graph_new();
    assert_int_equal(lg_grad(g, f(g, xd, n, ctx), NULL, n, xd, gr, true), LG_OK);
    lg_tensor *gu = NULL;
    for (int i = 0; i < n; i++) {
        lg_tensor *t = lg_sum(g, lg_mul(g, gr[i], ud[i]));
        gu = gu ? lg_add(g, gu, t) : t;
    }
    assert_int_equal(lg_grad(g, gu, NULL, n, xd, hu, false), LG_OK);
    int64_t k = 0;
    for (int i = 0; i < n; i++)
        for (int64_t j = 0; j < lg_tensor_numel(gr[i]); j++)
            out[k++] = lg_tensor_item(gr[i], j);
    for (int i = 0; i < n; i++)
        for (int64_t j = 0; j < lg_tensor_numel(hu[i]); j++)
            out[k++] = lg_tensor_item(hu[i], j);
    lg_graph_free(g);
    for (int i = 0; i < n; i++) {
        lg_tensor_free(xd[i]);
        lg_tensor_free(ud[i]);
    }
    return k;
}

#endif
