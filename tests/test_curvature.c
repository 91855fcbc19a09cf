/* Tests of curvature.h against exact answers: quadratics ½xᵀAx with A = P diag(λ) Pᵀ of a
 * chosen spectrum (P a Householder reflection, so the eigenvalues are known by
 * construction), the explicit Hessian of a small f64 MLP built from HVP columns and
 * diagonalised by lg_eigh, and HVPs against central differences of gradients. */
#include "test_util.h"
#include "test_alloc.h"
#include <stdlib.h>
#include <string.h>

/* ---- a dense symmetric matrix of known spectrum ---- */

typedef struct dense {
    int64_t n;
    double *a;        /* (n, n) row-major */
    int calls;
    int fail_after;   /* the call with this 1-based number returns LG_ERR_IO; 0 never */
    bool poison;      /* products come back NaN */
} dense;

static lg_status dense_apply(void *ctx, const double *x, double *y)
{
    dense *d = ctx;
    if (++d->calls == d->fail_after)
        return LG_ERR_IO;
    for (int64_t i = 0; i < d->n; i++) {
        double s = 0;
        for (int64_t j = 0; j < d->n; j++)
            s += d->a[i * d->n + j] * x[j];
        y[i] = d->poison ? NAN : s;
    }
    return LG_OK;
}

/* A = P diag(lam) P with P = I − 2uuᵀ/uᵀu for a random u: symmetric, eigenvalues lam,
 * eigenvector i is column i of P. */
static dense dense_new(const double *lam, int64_t n, uint64_t seed)
{
    dense d = {.n = n, .a = calloc((size_t)(n * n), sizeof(double))};
    double *u = malloc((size_t)n * sizeof *u), uu = 0;
    lg_rng r;
    lg_rng_init(&r, seed);
    for (int64_t i = 0; i < n; i++) {
        u[i] = lg_rng_uniform(&r) - 0.5;
        uu += u[i] * u[i];
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t k = 0; k < n; k++) {
                double pik = (i == k) - 2 * u[i] * u[k] / uu;
                double pjk = (j == k) - 2 * u[j] * u[k] / uu;
                s += pik * lam[k] * pjk;
            }
            d.a[i * n + j] = s;
        }
    free(u);
    return d;
}

static lg_linop dense_op(dense *d)
{
    return (lg_linop){.n = d->n, .apply = dense_apply, .ctx = d};
}

/* ‖A y − θ y‖ computed here, independently of the library. */
static double dense_residual(const dense *d, const double *y, double theta)
{
    double r2 = 0;
    for (int64_t i = 0; i < d->n; i++) {
        double s = -theta * y[i];
        for (int64_t j = 0; j < d->n; j++)
            s += d->a[i * d->n + j] * y[j];
        r2 += s * s;
    }
    return sqrt(r2);
}

/* 40 eigenvalues: 9, 9 (repeated), 6.5, 4, then 1..2 spread, and -1, -3, -3 (repeated
 * negative) at the bottom. */
enum { NQ = 40 };
static void spectrum(double *lam)
{
    for (int i = 0; i < NQ; i++)
        lam[i] = 1.0 + (double)i / NQ;
    lam[0] = 9, lam[1] = 9, lam[2] = 6.5, lam[3] = 4;
    lam[NQ - 3] = -1, lam[NQ - 2] = -3, lam[NQ - 1] = -3;
}

static void test_lanczos_quadratic_top_and_bottom_match_known_spectrum(void **state)
{
    (void)state;
    double lam[NQ];
    spectrum(lam);
    dense d = dense_new(lam, NQ, 1);
    lg_linop op = dense_op(&d);
    double tv[3], tvec[3 * NQ], tres[3], bv[2], bvec[2 * NQ], bres[2];
    lg_eigpairs top = {3, tv, tvec, tres}, bottom = {2, bv, bvec, bres};
    lg_lanczos_info info;
    assert_int_equal(lg_lanczos(&op, &top, &bottom, NULL, &info), LG_OK);
    assert_true(info.converged);
    /* one Krylov space holds one vector of each eigenspace: 9 once, then 6.5 and 4 */
    double want_top[3] = {9, 6.5, 4}, want_bottom[2] = {-3, -1};
    tu_assert_close_arr(tv, want_top, 3, 1e-10, 0, "top");
    tu_assert_close_arr(bv, want_bottom, 2, 1e-10, 0, "bottom");
    for (int i = 0; i < 3; i++) {
        double r = dense_residual(&d, tvec + i * NQ, tv[i]);
        assert_true(r < 1e-8);
        assert_true(fabs(tres[i] - r) < 1e-9);
    }
    for (int i = 0; i < 2; i++)
        assert_true(dense_residual(&d, bvec + i * NQ, bv[i]) < 1e-8);
    assert_int_equal(info.products, info.iterations);
    free(d.a);
}

static void test_lanczos_deflation_finds_the_second_copy_of_a_repeated_eigenvalue(void **state)
{
    (void)state;
    double lam[NQ];
    spectrum(lam);
    dense d = dense_new(lam, NQ, 2);
    lg_linop op = dense_op(&d);
    double v1, y1[NQ], v2[2], y2[2 * NQ], bv[2], by[2 * NQ];
    lg_eigpairs top = {1, &v1, y1, NULL};
    assert_int_equal(lg_lanczos(&op, &top, NULL, NULL, NULL), LG_OK);
    tu_assert_near(v1, 9, 1e-10);
    lg_lanczos_opts o = lg_lanczos_defaults();
    o.deflate = y1;
    o.n_deflate = 1;
    lg_eigpairs top2 = {2, v2, y2, NULL};
    assert_int_equal(lg_lanczos(&op, &top2, NULL, &o, NULL), LG_OK);
    double want[2] = {9, 6.5};
    tu_assert_close_arr(v2, want, 2, 1e-10, 0, "deflated top");
    double dot = 0;
    for (int i = 0; i < NQ; i++)
        dot += y1[i] * y2[i];
    assert_true(fabs(dot) < 1e-10);
    /* the same for the repeated negative eigenvalue at the bottom */
    lg_eigpairs b1 = {1, bv, by, NULL};
    assert_int_equal(lg_lanczos(&op, NULL, &b1, NULL, NULL), LG_OK);
    o.deflate = by;
    lg_eigpairs b2 = {2, bv, NULL, NULL};
    double bvals[2];
    b2.values = bvals;
    assert_int_equal(lg_lanczos(&op, NULL, &b2, &o, NULL), LG_OK);
    double want_b[2] = {-3, -1};
    tu_assert_close_arr(bvals, want_b, 2, 1e-10, 0, "deflated bottom");
    free(d.a);
}

static void test_lanczos_invariant_space_ends_early_with_nan_past_the_distinct_values(void **state)
{
    (void)state;
    double lam[12];
    for (int i = 0; i < 12; i++)
        lam[i] = i < 6 ? 2.0 : -0.5;
    dense d = dense_new(lam, 12, 3);
    lg_linop op = dense_op(&d);
    double v[3], res[3];
    lg_eigpairs top = {3, v, NULL, res};
    lg_lanczos_info info;
    assert_int_equal(lg_lanczos(&op, &top, NULL, NULL, &info), LG_OK);
    assert_int_equal(info.iterations, 2);
    tu_assert_near(v[0], 2, 1e-12);
    tu_assert_near(v[1], -0.5, 1e-12);
    assert_true(isnan(v[2]) && isnan(res[2]));
    assert_true(res[0] == 0 && res[1] == 0);
    free(d.a);
}

static void test_lanczos_check_residuals_agree_with_the_recurrence(void **state)
{
    (void)state;
    double lam[NQ];
    spectrum(lam);
    dense d = dense_new(lam, NQ, 4);
    lg_linop op = dense_op(&d);
    lg_lanczos_opts o = lg_lanczos_defaults();
    o.tol = 1e-3; /* stop early, so the residuals are well above rounding */
    double v[2], r1[2], r2[2];
    lg_eigpairs top = {2, v, NULL, r1};
    lg_lanczos_info info;
    assert_int_equal(lg_lanczos(&op, &top, NULL, &o, &info), LG_OK);
    o.check_residuals = true;
    top.residuals = r2;
    lg_lanczos_info info2;
    assert_int_equal(lg_lanczos(&op, &top, NULL, &o, &info2), LG_OK);
    assert_int_equal(info2.products, info.products + 2);
    tu_assert_close_arr(r2, r1, 2, 1e-12, 1e-6, "explicit vs recurrence residuals");
    free(d.a);
}

static void test_lanczos_max_iter_reached_reports_no_converge_with_the_estimates(void **state)
{
    (void)state;
    double lam[NQ];
    spectrum(lam);
    dense d = dense_new(lam, NQ, 5);
    lg_linop op = dense_op(&d);
    lg_lanczos_opts o = lg_lanczos_defaults();
    o.max_iter = 3;
    double v[2];
    lg_eigpairs top = {2, v, NULL, NULL};
    lg_lanczos_info info;
    assert_int_equal(lg_lanczos(&op, &top, NULL, &o, &info), LG_ERR_NO_CONVERGE);
    assert_false(info.converged);
    assert_int_equal(info.iterations, 3);
    assert_true(v[0] <= 9 + 1e-12 && v[0] > 4); /* a Ritz value lies inside the spectrum */
    assert_non_null(strstr(lg_last_errmsg(), "lg_lanczos"));
    free(d.a);
}

static void test_lanczos_rejects_bad_arguments(void **state)
{
    (void)state;
    double lam[6] = {1, 2, 3, 4, 5, 6}, v[7], z[6] = {0};
    dense d = dense_new(lam, 6, 6);
    lg_linop op = dense_op(&d);
    lg_eigpairs top = {1, v, NULL, NULL};
    assert_int_equal(lg_lanczos(NULL, &top, NULL, NULL, NULL), LG_ERR_ARG);
    lg_linop bad = op;
    bad.apply = NULL;
    assert_int_equal(lg_lanczos(&bad, &top, NULL, NULL, NULL), LG_ERR_ARG);
    bad = op;
    bad.n = 0;
    assert_int_equal(lg_lanczos(&bad, &top, NULL, NULL, NULL), LG_ERR_ARG);
    bad.n = (int64_t)1 << 31;
    assert_int_equal(lg_lanczos(&bad, &top, NULL, NULL, NULL), LG_ERR_ARG);
    assert_int_equal(lg_lanczos(&op, NULL, NULL, NULL, NULL), LG_ERR_ARG);
    lg_eigpairs none = {0, NULL, NULL, NULL}, many = {7, v, NULL, NULL};
    lg_eigpairs noval = {1, NULL, NULL, NULL};
    assert_int_equal(lg_lanczos(&op, &none, &none, NULL, NULL), LG_ERR_ARG);
    assert_int_equal(lg_lanczos(&op, &many, NULL, NULL, NULL), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "top.k = 7"));
    assert_int_equal(lg_lanczos(&op, NULL, &noval, NULL, NULL), LG_ERR_ARG);
    lg_lanczos_opts o = lg_lanczos_defaults();
    o.tol = -1;
    assert_int_equal(lg_lanczos(&op, &top, NULL, &o, NULL), LG_ERR_ARG);
    o = lg_lanczos_defaults();
    o.max_iter = 0;
    assert_int_equal(lg_lanczos(&op, &top, NULL, &o, NULL), LG_ERR_ARG);
    o = lg_lanczos_defaults();
    o.n_deflate = 1;
    assert_int_equal(lg_lanczos(&op, &top, NULL, &o, NULL), LG_ERR_ARG);
    o = lg_lanczos_defaults();
    o.v0 = z;
    assert_int_equal(lg_lanczos(&op, &top, NULL, &o, NULL), LG_ERR_ARG);
    d.fail_after = 2; /* the operator's own status comes back unchanged */
    assert_int_equal(lg_lanczos(&op, &top, NULL, NULL, NULL), LG_ERR_IO);
    d.fail_after = 0;
    d.poison = true;
    assert_int_equal(lg_lanczos(&op, &top, NULL, NULL, NULL), LG_ERR_NUMERIC);
    free(d.a);
}

/* ---- the quadratic through a parameter store: lg_hessian over graph ops ---- */

typedef struct quad {
    lg_tensor *a;    /* (n, n) f64, caller-owned */
    lg_tensor *x;    /* (n, 1) in the store */
    int64_t n;
    int mode;        /* 0: ½xᵀAx; 1: a non-scalar; 2: a shape error; 3: NULL, no error */
} quad;

static lg_tensor *quad_loss(lg_graph *g, int64_t batch, void *ctx)
{
    (void)batch;
    quad *q = ctx;
    lg_tensor *a = lg_graph_input(g, lg_tensor_dtype(q->x), 2, (int64_t[]){q->n, q->n},
                                  lg_tensor_cdata(q->a));
    if (q->mode == 1)
        return lg_mul(g, q->x, q->x);
    if (q->mode == 2)
        return lg_matmul(g, q->x, a);
    if (q->mode == 3)
        return NULL;
    return lg_scale(g, lg_sum(g, lg_mul(g, q->x, lg_matmul(g, a, q->x))), 0.5);
}

static void test_hessian_of_store_quadratic_is_the_matrix(void **state)
{
    (void)state;
    double lam[NQ];
    spectrum(lam);
    dense d = dense_new(lam, NQ, 7);
    lg_params *p = lg_params_new();
    quad q = {.a = lg_tensor_from_data(LG_F64, 2, (int64_t[]){NQ, NQ}, d.a),
              .x = lg_params_add(p, "x", LG_F64, 2, (int64_t[]){NQ, 1}), .n = NQ};
    lg_rng r;
    lg_rng_init(&r, 8);
    double *x = lg_tensor_data(q.x), v[NQ], hv[NQ], av[NQ];
    for (int i = 0; i < NQ; i++) {
        x[i] = lg_rng_uniform(&r);
        v[i] = lg_rng_uniform(&r) - 0.5;
    }
    lg_hessian *h = lg_hessian_new(p, quad_loss, &q, NULL);
    assert_non_null(h);
    assert_int_equal(lg_hessian_dim(h), NQ);
    assert_int_equal(lg_hessian_hvp(h, v, hv), LG_OK);
    dense_apply(&d, v, av);
    tu_assert_close_arr(hv, av, NQ, 1e-12, 1e-12, "H v = A v");
    lg_linop op = lg_hessian_linop(h);
    double tv[2], bv[1];
    lg_eigpairs top = {2, tv, NULL, NULL}, bottom = {1, bv, NULL, NULL};
    lg_lanczos_info info;
    assert_int_equal(lg_lanczos(&op, &top, &bottom, NULL, &info), LG_OK);
    tu_assert_near(tv[0], 9, 1e-10);
    tu_assert_near(tv[1], 6.5, 1e-10);
    tu_assert_near(bv[0], -3, 1e-10);
    assert_int_equal(lg_hessian_hvp_count(h), 1 + info.products);
    /* the gradient is A x and the loss ½xᵀAx */
    double grad[NQ], loss, ax[NQ], xax = 0;
    assert_int_equal(lg_hessian_grad(h, grad, &loss), LG_OK);
    dense_apply(&d, x, ax);
    for (int i = 0; i < NQ; i++)
        xax += x[i] * ax[i];
    tu_assert_close_arr(grad, ax, NQ, 1e-12, 1e-12, "gradient");
    tu_assert_near(loss, 0.5 * xax, 1e-12);
    lg_hessian_free(h);
    lg_params_free(p);
    lg_tensor_free(q.a);
    free(d.a);
}

/* A product allocates nothing after the first, cold or replayed (lg_hessian_reuse). */
static void test_hessian_hvp_allocates_nothing_after_the_first(void **state)
{
    (void)state;
    double lam[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    dense d = dense_new(lam, 8, 9);
    counter c = {0};
    lg_allocator al = counter_allocator(&c);
    lg_set_allocator(&al);
    lg_params *p = lg_params_new();
    quad q = {.a = lg_tensor_from_data(LG_F64, 2, (int64_t[]){8, 8}, d.a),
              .x = lg_params_add(p, "x", LG_F64, 2, (int64_t[]){8, 1}), .n = 8};
    lg_hessian *h = lg_hessian_new(p, quad_loss, &q, NULL);
    double v[8] = {1, 0, 0, 0, 0, 0, 0, 1}, hv[8], want[8];
    assert_int_equal(lg_hessian_hvp(h, v, hv), LG_OK);
    long before = c.calls;
    assert_int_equal(lg_hessian_hvp(h, v, hv), LG_OK);
    assert_int_equal(c.calls, before);
    /* with reuse, replays rewind the graph to the kept gradient: after the first product,
     * enough of them that replays which did not rewind would outgrow the arena's chunks,
     * each exactly A v */
    assert_int_equal(lg_hessian_reuse(h, true), LG_OK);
    assert_int_equal(lg_hessian_hvp(h, v, hv), LG_OK);
    before = c.calls;
    for (int k = 0; k < 3000; k++) {
        for (int i = 0; i < 8; i++)
            v[i] = cos((double)(k * 8 + i));
        assert_int_equal(lg_hessian_hvp(h, v, hv), LG_OK);
        dense_apply(&d, v, want);
        tu_assert_close_arr(hv, want, 8, 1e-13, 1e-13, "replayed H v vs A v");
    }
    assert_int_equal(c.calls, before);
    lg_hessian_free(h);
    lg_params_free(p);
    lg_tensor_free(q.a);
    assert_int_equal(c.live, 0);
    lg_set_allocator(NULL);
    free(d.a);
}

static void test_hessian_rejects_bad_arguments(void **state)
{
    (void)state;
    double lam[4] = {1, 2, 3, 4}, v[4] = {1, 1, 1, 1}, hv[4];
    dense d = dense_new(lam, 4, 10);
    lg_params *p = lg_params_new(), *empty = lg_params_new();
    quad q = {.a = lg_tensor_from_data(LG_F64, 2, (int64_t[]){4, 4}, d.a),
              .x = lg_params_add(p, "x", LG_F64, 2, (int64_t[]){4, 1}), .n = 4};
    assert_null(lg_hessian_new(NULL, quad_loss, &q, NULL));
    assert_int_equal(lg_last_status(), LG_ERR_ARG);
    assert_null(lg_hessian_new(p, NULL, &q, NULL));
    assert_null(lg_hessian_new(empty, quad_loss, &q, NULL));
    assert_non_null(strstr(lg_last_errmsg(), "no trainable"));
    lg_hessian_opts o = lg_hessian_defaults();
    o.n_batches = 0;
    assert_null(lg_hessian_new(p, quad_loss, &q, &o));
    o = lg_hessian_defaults();
    double w = -1;
    o.batch_weights = &w;
    assert_null(lg_hessian_new(p, quad_loss, &q, &o));
    o = lg_hessian_defaults();
    const char *sel[1] = {"y"};
    o.select = sel;
    o.n_select = 1;
    assert_null(lg_hessian_new(p, quad_loss, &q, &o));
    assert_non_null(strstr(lg_last_errmsg(), "'y' matches no trainable"));
    o.n_select = 1;
    o.select = (const char *const[]){""};
    assert_null(lg_hessian_new(p, quad_loss, &q, &o));
    o.select = NULL;
    assert_null(lg_hessian_new(p, quad_loss, &q, &o));

    lg_hessian *h = lg_hessian_new(p, quad_loss, &q, NULL);
    assert_non_null(h);
    assert_int_equal(lg_hessian_hvp(NULL, v, hv), LG_ERR_ARG);
    assert_int_equal(lg_hessian_hvp(h, NULL, hv), LG_ERR_ARG);
    assert_int_equal(lg_hessian_hvp(h, v, NULL), LG_ERR_ARG);
    assert_int_equal(lg_hessian_grad(NULL, hv, NULL), LG_ERR_ARG);
    assert_int_equal(lg_hessian_get_params(NULL, hv), LG_ERR_ARG);
    assert_int_equal(lg_hessian_get_params(h, NULL), LG_ERR_ARG);
    assert_int_equal(lg_hessian_set_params(h, NULL), LG_ERR_ARG);
    assert_int_equal(lg_hessian_set_params(NULL, v), LG_ERR_ARG);
    q.mode = 1;
    assert_int_equal(lg_hessian_hvp(h, v, hv), LG_ERR_SHAPE);
    assert_non_null(strstr(lg_last_errmsg(), "must be a scalar"));
    q.mode = 2;
    assert_int_equal(lg_hessian_hvp(h, v, hv), LG_ERR_SHAPE);
    assert_non_null(strstr(lg_last_errmsg(), "lg_matmul"));
    assert_int_equal(lg_hessian_grad(h, hv, NULL), LG_ERR_SHAPE);
    q.mode = 3;
    assert_int_equal(lg_hessian_hvp(h, v, hv), LG_ERR_ARG);
    q.mode = 0; /* usable again after errors */
    assert_int_equal(lg_hessian_hvp(h, v, hv), LG_OK);
    assert_int_equal(lg_hessian_dim(NULL), 0);
    assert_int_equal(lg_hessian_hvp_count(NULL), 0);
    assert_null(lg_hessian_linop(NULL).apply);
    lg_hessian_free(NULL);
    lg_hessian_free(h);
    lg_params_free(p);
    lg_params_free(empty);
    lg_tensor_free(q.a);
    free(d.a);
}

/* Every allocation of lg_hessian_new, lg_hessian_hvp and lg_lanczos failed in turn: each
 * call reports LG_ERR_OOM (or NULL), nothing leaks, and the next try succeeds. */
static void test_curvature_out_of_memory_fails_cleanly_at_every_allocation(void **state)
{
    (void)state;
    double lam[6] = {-1, 1, 2, 3, 4, 5}, v[6] = {1, 2, 3, 4, 5, 6}, hv[6], top1;
    dense d = dense_new(lam, 6, 18);
    counter c = {0};
    lg_allocator al = counter_allocator(&c);
    lg_set_allocator(&al);
    lg_params *p = lg_params_new();
    quad q = {.a = lg_tensor_from_data(LG_F64, 2, (int64_t[]){6, 6}, d.a),
              .x = lg_params_add(p, "x", LG_F64, 2, (int64_t[]){6, 1}), .n = 6};
    long base = c.live;
    bool done = false;
    long k = 1;
    for (; k < 10000 && !done; k++) {
        c.fail_at = c.calls + k;
        lg_hessian *h = lg_hessian_new(p, quad_loss, &q, NULL);
        lg_status s = h ? lg_hessian_hvp(h, v, hv) : LG_ERR_OOM;
        lg_linop op = lg_hessian_linop(h);
        lg_eigpairs top = {1, &top1, NULL, NULL};
        if (s == LG_OK)
            s = lg_lanczos(&op, &top, NULL, NULL, NULL);
        assert_true(s == LG_OK || s == LG_ERR_OOM);
        done = s == LG_OK;
        lg_hessian_free(h);
        assert_int_equal(c.live, base);
    }
    assert_true(done);
    assert_true(k > 10); /* the graph, the store's scratch and Lanczos' basis each failed */
    tu_assert_near(top1, 5, 1e-10);
    c.fail_at = 0;
    lg_params_free(p);
    lg_tensor_free(q.a);
    assert_int_equal(c.live, 0);
    lg_set_allocator(NULL);
    free(d.a);
}

/* ---- Hutchinson ---- */

static void test_hutchinson_within_three_standard_errors_and_variance_matches_theory(void **state)
{
    (void)state;
    double lam[NQ];
    spectrum(lam);
    dense d = dense_new(lam, NQ, 11);
    lg_linop op = dense_op(&d);
    double tr = 0, off2 = 0;
    for (int i = 0; i < NQ; i++) {
        tr += lam[i];
        for (int j = 0; j < NQ; j++)
            off2 += i != j ? d.a[i * NQ + j] * d.a[i * NQ + j] : 0;
    }
    lg_hutchinson_opts o = lg_hutchinson_defaults();
    o.rel_tol = 0;
    o.max_probes = 4000;
    lg_trace_estimate r;
    assert_int_equal(lg_hutchinson_trace(&op, &o, &r), LG_OK);
    assert_int_equal(r.probes, 4000);
    assert_true(r.converged);
    assert_true(fabs(r.trace - tr) <= 3 * r.std_err);
    /* Var zᵀAz = 2 Σ_{i≠j} A_ij² for Rademacher z; the sample variance is within 10% */
    double var = r.std_err * r.std_err * r.probes;
    assert_true(fabs(var / (2 * off2) - 1) < 0.1);
    free(d.a);
}

static void test_hutchinson_is_exact_for_a_diagonal_and_stops_at_min_probes(void **state)
{
    (void)state;
    double lam[NQ];
    spectrum(lam);
    dense d = {.n = NQ, .a = calloc(NQ * NQ, sizeof(double))};
    double tr = 0;
    for (int i = 0; i < NQ; i++) {
        d.a[i * NQ + i] = lam[i];
        tr += lam[i];
    }
    lg_linop op = dense_op(&d);
    lg_trace_estimate r;
    assert_int_equal(lg_hutchinson_trace(&op, NULL, &r), LG_OK);
    assert_int_equal(r.probes, 10);
    tu_assert_near(r.trace, tr, 1e-12);
    tu_assert_near(r.std_err, 0, 1e-12);
    free(d.a);
}

static void test_hutchinson_stops_at_rel_tol_or_reports_no_converge(void **state)
{
    (void)state;
    double lam[NQ];
    spectrum(lam);
    dense d = dense_new(lam, NQ, 12);
    lg_linop op = dense_op(&d);
    lg_hutchinson_opts o = lg_hutchinson_defaults();
    o.rel_tol = 0.05;
    lg_trace_estimate r;
    assert_int_equal(lg_hutchinson_trace(&op, &o, &r), LG_OK);
    assert_true(r.std_err <= 0.05 * fabs(r.trace));
    assert_true(r.probes < 1000);
    o.rel_tol = 1e-9;
    o.max_probes = 20;
    assert_int_equal(lg_hutchinson_trace(&op, &o, &r), LG_ERR_NO_CONVERGE);
    assert_int_equal(r.probes, 20);
    assert_false(r.converged);
    assert_true(r.std_err > 0);
    free(d.a);
}

static void test_hutchinson_rejects_bad_arguments(void **state)
{
    (void)state;
    double lam[4] = {1, 2, 3, 4};
    dense d = dense_new(lam, 4, 13);
    lg_linop op = dense_op(&d);
    lg_trace_estimate r;
    assert_int_equal(lg_hutchinson_trace(NULL, NULL, &r), LG_ERR_ARG);
    assert_int_equal(lg_hutchinson_trace(&op, NULL, NULL), LG_ERR_ARG);
    lg_hutchinson_opts o = lg_hutchinson_defaults();
    o.min_probes = 1;
    assert_int_equal(lg_hutchinson_trace(&op, &o, &r), LG_ERR_ARG);
    o = lg_hutchinson_defaults();
    o.max_probes = 5;
    assert_int_equal(lg_hutchinson_trace(&op, &o, &r), LG_ERR_ARG);
    o = lg_hutchinson_defaults();
    o.rel_tol = NAN;
    assert_int_equal(lg_hutchinson_trace(&op, &o, &r), LG_ERR_ARG);
    d.fail_after = 3;
    assert_int_equal(lg_hutchinson_trace(&op, NULL, &r), LG_ERR_IO);
    d.fail_after = 0;
    d.poison = true;
    assert_int_equal(lg_hutchinson_trace(&op, NULL, &r), LG_ERR_NUMERIC);
    free(d.a);
}

/* ---- stochastic Lanczos quadrature ---- */

/* tr(A^k)/n from the known eigenvalues. */
static double exact_moment(const double *lam, int n, int k)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += pow(lam[i], k);
    return s / n;
}

static void test_slq_moments_equal_exact_moments(void **state)
{
    (void)state;
    double lam[NQ];
    spectrum(lam);
    dense d = dense_new(lam, NQ, 14);
    lg_linop op = dense_op(&d);
    /* probes e_1..e_n: the probe average of eᵢᵀAᵏeᵢ is tr(Aᵏ)/n exactly, and 8 steps of
     * Gauss quadrature are exact for k < 16 */
    enum { STEPS = 8 };
    double *basis = calloc(NQ * NQ, sizeof(double));
    for (int i = 0; i < NQ; i++)
        basis[i * NQ + i] = 1;
    lg_slq_opts o = lg_slq_defaults();
    o.probes = NQ;
    o.steps = STEPS;
    o.vectors = basis;
    double nodes[NQ * STEPS], weights[NQ * STEPS];
    assert_int_equal(lg_slq(&op, &o, nodes, weights), LG_OK);
    for (int k = 0; k <= 10; k++) {
        double m = 0;
        for (int j = 0; j < NQ * STEPS; j++)
            m += weights[j] * pow(nodes[j], k);
        m /= NQ;
        double want = exact_moment(lam, NQ, k);
        if (fabs(m - want) > 1e-10 * fmax(1, fabs(want))) {
            print_error("moment %d: %.17g want %.17g\n", k, m, want);
            fail();
        }
    }
    free(basis);
    free(d.a);
}

static void test_slq_random_probe_is_gauss_quadrature_of_its_quadratic_form(void **state)
{
    (void)state;
    double lam[NQ];
    spectrum(lam);
    dense d = dense_new(lam, NQ, 15);
    lg_linop op = dense_op(&d);
    enum { STEPS = 6 };
    double nodes[2 * STEPS], weights[2 * STEPS];
    lg_slq_opts o = lg_slq_defaults();
    o.probes = 2;
    o.steps = STEPS;
    o.seed = 3;
    assert_int_equal(lg_slq(&op, &o, nodes, weights), LG_OK);
    /* the same Rademacher probes, drawn here: zᵀAᵏz/zᵀz by repeated products */
    lg_rng r;
    lg_rng_init(&r, 3);
    for (int p = 0; p < 2; p++) {
        double z[NQ], ak[NQ], tmp[NQ], wsum = 0;
        for (int i = 0; i < NQ; i++)
            z[i] = ak[i] = lg_rng_uniform(&r) < 0.5 ? -1.0 : 1.0;
        for (int j = 0; j < STEPS; j++)
            wsum += weights[p * STEPS + j];
        tu_assert_near(wsum, 1, 1e-13);
        for (int k = 1; k < 2 * STEPS; k++) {
            dense_apply(&d, ak, tmp);
            memcpy(ak, tmp, sizeof ak);
            double want = 0, got = 0;
            for (int i = 0; i < NQ; i++)
                want += z[i] * ak[i];
            want /= NQ;
            for (int j = 0; j < STEPS; j++)
                got += weights[p * STEPS + j] * pow(nodes[p * STEPS + j], k);
            tu_assert_near(got, want, 1e-10 * fmax(1, fabs(want)));
        }
    }
    free(d.a);
}

static void test_slq_density_is_the_gaussian_mixture_and_integrates_to_one(void **state)
{
    (void)state;
    double nodes[4] = {-1, 2, 0.5, 3}, weights[4] = {0.25, 0.75, 1, 0};
    enum { G = 2001 };
    double grid[G], dens[G];
    for (int i = 0; i < G; i++)
        grid[i] = -5 + 10.0 * i / (G - 1);
    assert_int_equal(lg_slq_density(nodes, weights, 2, 2, 0.3, grid, G, dens), LG_OK);
    double integral = 0;
    for (int i = 0; i < G; i++)
        integral += dens[i] * (i == 0 || i == G - 1 ? 0.5 : 1) * (10.0 / (G - 1));
    tu_assert_near(integral, 1, 1e-10);
    /* at t = 2: (0.25 N(2;-1) + 0.75 N(2;2) + 1 N(2;0.5)) / 2 by hand */
    double t = 2, c = 1 / (0.3 * sqrt(2 * 3.14159265358979323846)), want = 0;
    want += 0.25 * c * exp(-0.5 * pow((t + 1) / 0.3, 2));
    want += 0.75 * c;
    want += 1.0 * c * exp(-0.5 * pow((t - 0.5) / 0.3, 2));
    tu_assert_near(dens[1400], want / 2, 1e-12);
}

static void test_slq_rejects_bad_arguments(void **state)
{
    (void)state;
    double lam[4] = {1, 2, 3, 4}, nodes[40], weights[40], zero[4] = {0}, g = 0, dens;
    dense d = dense_new(lam, 4, 16);
    lg_linop op = dense_op(&d);
    assert_int_equal(lg_slq(NULL, NULL, nodes, weights), LG_ERR_ARG);
    assert_int_equal(lg_slq(&op, NULL, NULL, weights), LG_ERR_ARG);
    assert_int_equal(lg_slq(&op, NULL, nodes, NULL), LG_ERR_ARG);
    lg_slq_opts o = lg_slq_defaults(); /* 30 steps > n = 4 */
    assert_int_equal(lg_slq(&op, &o, nodes, weights), LG_ERR_ARG);
    o.steps = 4;
    o.probes = 0;
    assert_int_equal(lg_slq(&op, &o, nodes, weights), LG_ERR_ARG);
    o.probes = 1;
    o.vectors = zero;
    assert_int_equal(lg_slq(&op, &o, nodes, weights), LG_ERR_ARG);
    o.vectors = NULL;
    d.fail_after = 2;
    assert_int_equal(lg_slq(&op, &o, nodes, weights), LG_ERR_IO);
    d.fail_after = 0;
    d.poison = true;
    assert_int_equal(lg_slq(&op, &o, nodes, weights), LG_ERR_NUMERIC);
    assert_int_equal(lg_slq_density(NULL, weights, 1, 1, 1, &g, 1, &dens), LG_ERR_ARG);
    assert_int_equal(lg_slq_density(nodes, NULL, 1, 1, 1, &g, 1, &dens), LG_ERR_ARG);
    assert_int_equal(lg_slq_density(nodes, weights, 1, 1, 1, NULL, 1, &dens), LG_ERR_ARG);
    assert_int_equal(lg_slq_density(nodes, weights, 1, 1, 1, &g, 1, NULL), LG_ERR_ARG);
    assert_int_equal(lg_slq_density(nodes, weights, 0, 1, 1, &g, 1, &dens), LG_ERR_ARG);
    assert_int_equal(lg_slq_density(nodes, weights, 1, 0, 1, &g, 1, &dens), LG_ERR_ARG);
    assert_int_equal(lg_slq_density(nodes, weights, 1, 1, 1, &g, 0, &dens), LG_ERR_ARG);
    assert_int_equal(lg_slq_density(nodes, weights, 1, 1, 0, &g, 1, &dens), LG_ERR_ARG);
    free(d.a);
}

/* ---- a small f64 MLP: tanh, softmax cross-entropy ---- */

enum { IN = 20, HID = 40, OUT = 5, NB = 64 };  /* 20·40 + 40 + 40·5 + 5 = 1045 params */

typedef struct mlp {
    lg_params *p;
    lg_linear_layer l1, l2;
    double x[NB * IN], y[NB * OUT]; /* inputs and one-hot labels */
    int64_t rows;                   /* samples per batch (NB, or NB/2 in two batches) */
} mlp;

/* mean over the batch's rows of −Σ_c y_c log softmax(f(x))_c, written with
 * lg_log_softmax so it depends on no label format */
static lg_tensor *mlp_loss(lg_graph *g, int64_t batch, void *ctx)
{
    mlp *m = ctx;
    int64_t r0 = batch * m->rows;
    lg_tensor *x = lg_graph_input(g, LG_F64, 2, (int64_t[]){m->rows, IN}, m->x + r0 * IN);
    lg_tensor *y = lg_graph_input(g, LG_F64, 2, (int64_t[]){m->rows, OUT}, m->y + r0 * OUT);
    lg_tensor *h = lg_tanh(g, lg_linear_layer_forward(g, &m->l1, x));
    lg_tensor *z = lg_linear_layer_forward(g, &m->l2, h);
    return lg_scale(g, lg_sum(g, lg_mul(g, y, lg_log_softmax(g, z, 1))), -1.0 / (double)m->rows);
}

static void mlp_init(mlp *m)
{
    lg_rng r;
    lg_rng_init(&r, 42);
    m->p = lg_params_new();
    assert_int_equal(lg_linear_layer_init(&m->l1, m->p, "fc1", IN, HID, true, LG_F64, &r), LG_OK);
    assert_int_equal(lg_linear_layer_init(&m->l2, m->p, "fc2", HID, OUT, true, LG_F64, &r), LG_OK);
    for (int i = 0; i < NB * IN; i++)
        m->x[i] = 2 * lg_rng_uniform(&r) - 1;
    memset(m->y, 0, sizeof m->y);
    for (int i = 0; i < NB; i++)
        m->y[i * OUT + (int)(lg_rng_uniform(&r) * OUT)] = 1;
    m->rows = NB;
}

static void test_mlp_lanczos_matches_eigh_of_the_explicit_hessian(void **state)
{
    (void)state;
    mlp m;
    mlp_init(&m);
    lg_hessian *h = lg_hessian_new(m.p, mlp_loss, &m, NULL);
    assert_non_null(h);
    int64_t n = lg_hessian_dim(h);
    assert_int_equal(n, 1045);
    /* the explicit Hessian, column by column from HVPs */
    double *H = calloc((size_t)(n * n), sizeof(double)), *e = calloc((size_t)n, sizeof(double));
    for (int64_t j = 0; j < n; j++) {
        e[j] = 1;
        assert_int_equal(lg_hessian_hvp(h, e, H + j * n), LG_OK);
        e[j] = 0;
    }
    double asym = 0, hmax = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            asym = fmax(asym, fabs(H[i * n + j] - H[j * n + i]));
            hmax = fmax(hmax, fabs(H[i * n + j]));
        }
    assert_true(asym <= 1e-12 * hmax); /* a Hessian is symmetric */
    lg_graph *g = lg_graph_new();
    lg_tensor *ht = lg_graph_input(g, LG_F64, 2, (int64_t[]){n, n}, H), *vals, *vecs;
    assert_int_equal(lg_eigh(g, ht, &vals, &vecs), LG_OK);
    const double *ev = lg_tensor_cdata(vals); /* ascending */
    lg_linop op = lg_hessian_linop(h);
    double tv[3], bv[1];
    lg_eigpairs top = {3, tv, NULL, NULL}, bottom = {1, bv, NULL, NULL};
    lg_lanczos_opts o = lg_lanczos_defaults();
    o.max_iter = 80;
    /* residual r gives |θ − λ| ≲ r²/gap; the bottom pair's gap here is 0.003, so a
     * relative residual of 2e-6 is well inside 1e-8 on the values */
    o.tol = 2e-6;
    lg_lanczos_info info;
    assert_int_equal(lg_lanczos(&op, &top, &bottom, &o, &info), LG_OK);
    assert_true(info.products <= 80);
    double want_top[3] = {ev[n - 1], ev[n - 2], ev[n - 3]};
    tu_assert_close_arr(tv, want_top, 3, 0, 1e-8, "top 3 vs eigh");
    tu_assert_near(bv[0], ev[0], 1e-8 * fabs(ev[0]));
    assert_true(ev[0] < 0); /* cross-entropy of a random net: negative curvature shows */
    print_message("MLP Hessian: %lld params, top %.10g %.10g %.10g, bottom %.10g, %d products\n",
                  (long long)n, tv[0], tv[1], tv[2], bv[0], (int)info.products);
    lg_graph_free(g);
    free(H);
    free(e);
    lg_hessian_free(h);
    lg_params_free(m.p);
}

static void test_mlp_hvp_matches_finite_differences_of_gradients(void **state)
{
    (void)state;
    mlp m;
    mlp_init(&m);
    lg_hessian *h = lg_hessian_new(m.p, mlp_loss, &m, NULL);
    int64_t n = lg_hessian_dim(h);
    double *th = malloc((size_t)n * sizeof(double)), *v = malloc((size_t)n * sizeof(double));
    double *hv = malloc((size_t)n * sizeof(double)), *gp = malloc((size_t)n * sizeof(double));
    double *gm = malloc((size_t)n * sizeof(double)), *x = malloc((size_t)n * sizeof(double));
    assert_int_equal(lg_hessian_get_params(h, th), LG_OK);
    lg_rng r;
    lg_rng_init(&r, 5);
    for (int trial = 0; trial < 3; trial++) {
        for (int64_t i = 0; i < n; i++)
            v[i] = lg_rng_uniform(&r) - 0.5;
        assert_int_equal(lg_hessian_hvp(h, v, hv), LG_OK);
        const double eps = 1e-5;
        for (int64_t i = 0; i < n; i++)
            x[i] = th[i] + eps * v[i];
        lg_hessian_set_params(h, x);
        assert_int_equal(lg_hessian_grad(h, gp, NULL), LG_OK);
        for (int64_t i = 0; i < n; i++)
            x[i] = th[i] - eps * v[i];
        lg_hessian_set_params(h, x);
        assert_int_equal(lg_hessian_grad(h, gm, NULL), LG_OK);
        lg_hessian_set_params(h, th);
        double scale = 0;
        for (int64_t i = 0; i < n; i++) {
            gp[i] = (gp[i] - gm[i]) / (2 * eps);
            scale = fmax(scale, fabs(hv[i]));
        }
        tu_assert_close_arr(hv, gp, n, 1e-7 * scale, 1e-6, "H v vs central differences");
    }
    free(th), free(v), free(hv), free(gp), free(gm), free(x);
    lg_hessian_free(h);
    lg_params_free(m.p);
}

/* mlp_loss that counts its calls: one call is one forward pass recorded. */
typedef struct counted {
    mlp *m;
    int calls;
} counted;

static lg_tensor *counted_loss(lg_graph *g, int64_t batch, void *ctx)
{
    counted *c = ctx;
    c->calls++;
    return mlp_loss(g, batch, c->m);
}

/* hv = H v from a fresh object without reuse: the reference for the replays. */
static void cold_hvp(mlp *m, const double *v, double *hv)
{
    counted c = {m, 0};
    lg_hessian *h = lg_hessian_new(m->p, counted_loss, &c, NULL);
    assert_int_equal(lg_hessian_hvp(h, v, hv), LG_OK);
    lg_hessian_free(h);
}

/* With reuse on, the first product records the loss and its gradient once and later ones
 * replay only the v-dependent backward: the same bits as cold products, one loss call for
 * many products. A gradient or new parameters in between drop the recording (the products
 * follow the new parameters), turning reuse off makes every product record again, and with
 * two batches reuse changes nothing. */
static void test_hessian_reuse_replays_the_same_products_and_drops_on_change(void **state)
{
    (void)state;
    mlp m;
    mlp_init(&m);
    counted c = {&m, 0};
    lg_hessian *h = lg_hessian_new(m.p, counted_loss, &c, NULL);
    int64_t n = lg_hessian_dim(h);
    size_t bytes = (size_t)n * sizeof(double);
    double *v[3], *want[3], *got = malloc(bytes), *th = malloc(bytes), *g = malloc(bytes);
    for (int k = 0; k < 3; k++) {
        v[k] = malloc(bytes);
        want[k] = malloc(bytes);
        for (int64_t i = 0; i < n; i++)
            v[k][i] = sin((double)(i * (k + 2)));
        cold_hvp(&m, v[k], want[k]);
    }
    assert_int_equal(lg_hessian_reuse(h, true), LG_OK);
    for (int round = 0; round < 2; round++) /* v0, v1, v2, then again */
        for (int k = 0; k < 3; k++) {
            assert_int_equal(lg_hessian_hvp(h, v[k], got), LG_OK);
            assert_memory_equal(got, want[k], bytes);
        }
    assert_int_equal(c.calls, 1);
    assert_int_equal(lg_hessian_hvp_count(h), 6);

    /* a gradient records over the graph: the next product records anew */
    double loss;
    assert_int_equal(lg_hessian_grad(h, g, &loss), LG_OK);
    assert_int_equal(lg_hessian_hvp(h, v[1], got), LG_OK);
    assert_memory_equal(got, want[1], bytes);
    assert_int_equal(lg_hessian_hvp(h, v[2], got), LG_OK);
    assert_memory_equal(got, want[2], bytes);
    assert_int_equal(c.calls, 3);

    /* new parameters: the products are those of the new θ */
    assert_int_equal(lg_hessian_get_params(h, th), LG_OK);
    for (int64_t i = 0; i < n; i++)
        th[i] *= 1.25;
    assert_int_equal(lg_hessian_set_params(h, th), LG_OK);
    double *moved = malloc(bytes);
    cold_hvp(&m, v[0], moved);
    assert_true(memcmp(moved, want[0], bytes) != 0);
    assert_int_equal(lg_hessian_hvp(h, v[0], got), LG_OK);
    assert_memory_equal(got, moved, bytes);
    assert_int_equal(lg_hessian_hvp(h, v[0], got), LG_OK);
    assert_memory_equal(got, moved, bytes);
    assert_int_equal(c.calls, 4);

    /* off: every product records */
    assert_int_equal(lg_hessian_reuse(h, false), LG_OK);
    assert_int_equal(lg_hessian_hvp(h, v[0], got), LG_OK);
    assert_int_equal(lg_hessian_hvp(h, v[0], got), LG_OK);
    assert_memory_equal(got, moved, bytes);
    assert_int_equal(c.calls, 6);
    assert_int_equal(lg_hessian_reuse(NULL, true), LG_ERR_ARG);

    /* two batches: reuse on changes nothing */
    lg_hessian_opts o = lg_hessian_defaults();
    o.n_batches = 2;
    m.rows = NB / 2;
    counted c2 = {&m, 0};
    lg_hessian *halves = lg_hessian_new(m.p, counted_loss, &c2, &o);
    assert_int_equal(lg_hessian_reuse(halves, true), LG_OK);
    assert_int_equal(lg_hessian_hvp(halves, v[0], got), LG_OK);
    assert_int_equal(lg_hessian_hvp(halves, v[0], got), LG_OK);
    tu_assert_close_arr(got, moved, n, 1e-13, 1e-10, "two batches with reuse vs one");
    assert_int_equal(c2.calls, 4);

    for (int k = 0; k < 3; k++)
        free(v[k]), free(want[k]);
    free(got), free(th), free(g), free(moved);
    lg_hessian_free(h);
    lg_hessian_free(halves);
    lg_params_free(m.p);
}

static void test_hessian_two_weighted_batches_equal_the_full_batch(void **state)
{
    (void)state;
    mlp m;
    mlp_init(&m);
    lg_hessian *full = lg_hessian_new(m.p, mlp_loss, &m, NULL);
    int64_t n = lg_hessian_dim(full);
    double *v = malloc((size_t)n * sizeof(double)), *a = malloc((size_t)n * sizeof(double));
    double *b = malloc((size_t)n * sizeof(double));
    for (int64_t i = 0; i < n; i++)
        v[i] = sin((double)i);
    assert_int_equal(lg_hessian_hvp(full, v, a), LG_OK);
    /* the mean over 64 rows is the mean of the two 32-row means */
    lg_hessian_opts o = lg_hessian_defaults();
    o.n_batches = 2;
    lg_hessian *halves = lg_hessian_new(m.p, mlp_loss, &m, &o);
    m.rows = NB / 2;
    assert_int_equal(lg_hessian_hvp(halves, v, b), LG_OK);
    tu_assert_close_arr(b, a, n, 1e-13, 1e-10, "two batches of 32 vs one of 64");
    double w[2] = {1.0, 0.0}; /* weights: only the first half */
    o.batch_weights = w;
    lg_hessian *first = lg_hessian_new(m.p, mlp_loss, &m, &o);
    o = lg_hessian_defaults();
    lg_hessian *one = lg_hessian_new(m.p, mlp_loss, &m, &o);
    assert_int_equal(lg_hessian_hvp(first, v, a), LG_OK);
    assert_int_equal(lg_hessian_hvp(one, v, b), LG_OK); /* batch 0 alone = rows 0..31 */
    tu_assert_close_arr(a, b, n, 1e-14, 1e-12, "weights (1, 0) vs batch 0 alone");
    free(v), free(a), free(b);
    lg_hessian_free(full);
    lg_hessian_free(halves);
    lg_hessian_free(first);
    lg_hessian_free(one);
    lg_params_free(m.p);
}

static void test_hessian_selection_is_the_block_of_the_full_hessian(void **state)
{
    (void)state;
    mlp m;
    mlp_init(&m);
    lg_hessian *full = lg_hessian_new(m.p, mlp_loss, &m, NULL);
    lg_hessian_opts o = lg_hessian_defaults();
    const char *sel[1] = {"fc2"};
    o.select = sel;
    o.n_select = 1;
    lg_hessian *h2 = lg_hessian_new(m.p, mlp_loss, &m, &o);
    assert_non_null(h2);
    int64_t n = lg_hessian_dim(full), n2 = lg_hessian_dim(h2), off = n - n2;
    assert_int_equal(n2, HID * OUT + OUT);
    double *v = calloc((size_t)n, sizeof(double)), *hv = malloc((size_t)n * sizeof(double));
    double *hv2 = malloc((size_t)n2 * sizeof(double));
    for (int64_t i = 0; i < n2; i++)
        v[off + i] = cos((double)i);
    assert_int_equal(lg_hessian_hvp(full, v, hv), LG_OK);
    assert_int_equal(lg_hessian_hvp(h2, v + off, hv2), LG_OK);
    tu_assert_close_arr(hv2, hv + off, n2, 1e-14, 1e-12, "fc2 block");
    /* freezing fc1 selects the same block */
    assert_int_equal(lg_params_freeze(m.p, "fc1", true, NULL), LG_OK);
    lg_hessian *hf = lg_hessian_new(m.p, mlp_loss, &m, NULL);
    assert_int_equal(lg_hessian_dim(hf), n2);
    assert_int_equal(lg_hessian_hvp(hf, v + off, hv2), LG_OK);
    tu_assert_close_arr(hv2, hv + off, n2, 1e-14, 1e-12, "fc1 frozen");
    free(v), free(hv), free(hv2);
    lg_hessian_free(full);
    lg_hessian_free(h2);
    lg_hessian_free(hf);
    lg_params_free(m.p);
}

static void test_hessian_f32_store_matches_f64(void **state)
{
    (void)state;
    double lam[8] = {-2, 1, 1.5, 2, 3, 4, 5, 6};
    dense d = dense_new(lam, 8, 17);
    lg_params *p = lg_params_new();
    quad q = {.n = 8};
    float af[64];
    for (int i = 0; i < 64; i++)
        af[i] = (float)d.a[i];
    q.a = lg_tensor_from_data(LG_F32, 2, (int64_t[]){8, 8}, af);
    q.x = lg_params_add(p, "x", LG_F32, 2, (int64_t[]){8, 1});
    lg_hessian *h = lg_hessian_new(p, quad_loss, &q, NULL);
    lg_linop op = lg_hessian_linop(h);
    double tv[1], bv[1];
    lg_eigpairs top = {1, tv, NULL, NULL}, bottom = {1, bv, NULL, NULL};
    lg_lanczos_opts o = lg_lanczos_defaults();
    o.tol = 1e-5;
    assert_int_equal(lg_lanczos(&op, &top, &bottom, &o, NULL), LG_OK);
    tu_assert_near(tv[0], 6, 1e-5);
    tu_assert_near(bv[0], -2, 1e-5);
    lg_hessian_free(h);
    lg_params_free(p);
    lg_tensor_free(q.a);
    free(d.a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lanczos_quadratic_top_and_bottom_match_known_spectrum),
        cmocka_unit_test(test_lanczos_deflation_finds_the_second_copy_of_a_repeated_eigenvalue),
        cmocka_unit_test(test_lanczos_invariant_space_ends_early_with_nan_past_the_distinct_values),
        cmocka_unit_test(test_lanczos_check_residuals_agree_with_the_recurrence),
        cmocka_unit_test(test_lanczos_max_iter_reached_reports_no_converge_with_the_estimates),
        cmocka_unit_test(test_lanczos_rejects_bad_arguments),
        cmocka_unit_test(test_hessian_of_store_quadratic_is_the_matrix),
        cmocka_unit_test(test_hessian_hvp_allocates_nothing_after_the_first),
        cmocka_unit_test(test_hessian_rejects_bad_arguments),
        cmocka_unit_test(test_curvature_out_of_memory_fails_cleanly_at_every_allocation),
        cmocka_unit_test(test_hutchinson_within_three_standard_errors_and_variance_matches_theory),
        cmocka_unit_test(test_hutchinson_is_exact_for_a_diagonal_and_stops_at_min_probes),
        cmocka_unit_test(test_hutchinson_stops_at_rel_tol_or_reports_no_converge),
        cmocka_unit_test(test_hutchinson_rejects_bad_arguments),
        cmocka_unit_test(test_slq_moments_equal_exact_moments),
        cmocka_unit_test(test_slq_random_probe_is_gauss_quadrature_of_its_quadratic_form),
        cmocka_unit_test(test_slq_density_is_the_gaussian_mixture_and_integrates_to_one),
        cmocka_unit_test(test_slq_rejects_bad_arguments),
        cmocka_unit_test(test_mlp_lanczos_matches_eigh_of_the_explicit_hessian),
        cmocka_unit_test(test_mlp_hvp_matches_finite_differences_of_gradients),
        cmocka_unit_test(test_hessian_reuse_replays_the_same_products_and_drops_on_change),
        cmocka_unit_test(test_hessian_two_weighted_batches_equal_the_full_batch),
        cmocka_unit_test(test_hessian_selection_is_the_block_of_the_full_hessian),
        cmocka_unit_test(test_hessian_f32_store_matches_f64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
