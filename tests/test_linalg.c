/* linalg: known small values, identities on random f64 matrices, first- and second-order
 * gradchecks of every differentiable function, and every error path. Expected values
 * are hand-computed (shown in comments) or come from identities. */
#include <stdlib.h>
#include <string.h>
#include "test_util.h"
#include "test_alloc.h"

/* ---- helpers ---- */

static lg_tensor *mat(int64_t r, int64_t c, const double *v)
{
    int64_t shape[2] = {r, c};
    lg_tensor *t = lg_tensor_from_data(LG_F64, 2, shape, v);
    assert_non_null(t);
    return t;
}

static lg_tensor *rmat(int64_t r, int64_t c, uint64_t seed)
{
    int64_t shape[2] = {r, c};
    return tu_rand(2, shape, seed, 0, 0);
}

/* A random matrix plus `d` on the diagonal (well conditioned for d ~ n). */
static lg_tensor *rmat_diag(int64_t n, uint64_t seed, double d)
{
    lg_tensor *t = rmat(n, n, seed);
    double *p = lg_tensor_data(t);
    for (int64_t i = 0; i < n; i++)
        p[i * n + i] += d;
    return t;
}

/* A graph copy of caller matrix data, as f32 or f64. */
static lg_tensor *as_dtype(lg_graph *g, const lg_tensor *t, lg_dtype dt)
{
    int64_t n = lg_tensor_numel(t);
    assert_true(n <= 4096);
    static float f[4096];
    for (int64_t i = 0; i < n; i++)
        f[i] = (float)lg_tensor_item(t, i);
    return lg_graph_input(g, dt, lg_tensor_ndim(t), lg_tensor_shape(t),
                          dt == LG_F64 ? lg_tensor_cdata(t) : (const void *)f);
}

/* Σ t ⊙ W with fixed weights W_i = cos(0.9 i + 0.4): a generic scalar loss. */
static lg_tensor *wsum(lg_graph *g, lg_tensor *t)
{
    if (!t)
        return NULL;
    static double w[4096];
    int64_t n = lg_tensor_numel(t);
    assert_true(n <= 4096);
    for (int64_t i = 0; i < n; i++)
        w[i] = cos(0.9 * (double)i + 0.4);
    return lg_sum(g, lg_mul(g, t, lg_graph_input(g, LG_F64, lg_tensor_ndim(t),
                                                  lg_tensor_shape(t), w)));
}

static lg_tensor *eye_scaled(lg_graph *g, int64_t n, double d)
{
    static double e[1024];
    assert_true(n * n <= 1024);
    for (int64_t i = 0; i < n * n; i++)
        e[i] = i % (n + 1) == 0 ? d : 0;
    int64_t shape[2] = {n, n};
    return lg_graph_input(g, LG_F64, 2, shape, e);
}

/* B Bᵀ + n I: SPD for any B (n,n). */
static lg_tensor *spd(lg_graph *g, lg_tensor *b)
{
    int64_t n = lg_tensor_shape(b)[0];
    return lg_add(g, lg_matmul_t(g, b, b, false, true), eye_scaled(g, n, (double)n));
}

/* (X + Xᵀ)/2. */
static lg_tensor *sym(lg_graph *g, lg_tensor *x)
{
    return lg_scale(g, lg_add(g, x, lg_transpose(g, x)), 0.5);
}

/* C = A B for caller data, row-major (m,k) @ (k,n). */
static void matmul_ref(const double *a, const double *b, double *c, int64_t m, int64_t k,
                       int64_t n, bool ta, bool tb)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t p = 0; p < k; p++)
                s += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
            c[i * n + j] = s;
        }
}

static const double *d64(lg_tensor *t)
{
    assert_non_null(t);
    assert_int_equal(lg_tensor_dtype(t), LG_F64);
    return lg_tensor_cdata(t);
}

/* Asserts the graph holds error `want` and that its message contains `part`. */
static void expect_error(lg_graph *g, lg_status want, const char *part)
{
    if (lg_graph_status(g) != want || !strstr(lg_graph_errmsg(g), part)) {
        print_error("want %s containing \"%s\", got %s: \"%s\"\n", lg_status_str(want), part,
                    lg_status_str(lg_graph_status(g)), lg_graph_errmsg(g));
        fail();
    }
    lg_graph_reset(g);
}

/* ---- solve, triangular solve, inverse ---- */

static void test_solve_known_2x2(void **state)
{
    (void)state;
    /* [[2,1],[1,3]] x = [3,5]: x = [0.8, 1.4] by hand. */
    const double av[4] = {2, 1, 1, 3}, bv[2] = {3, 5}, want[2] = {0.8, 1.4};
    lg_graph *g = lg_graph_new();
    int64_t n = 2, sh[2] = {2, 2};
    for (int d = 0; d < 2; d++) {
        lg_dtype dt = d ? LG_F32 : LG_F64;
        float af[4] = {2, 1, 1, 3}, bf[2] = {3, 5};
        lg_tensor *a = lg_graph_input(g, dt, 2, sh, d ? (void *)af : (const void *)av);
        lg_tensor *b = lg_graph_input(g, dt, 1, &n, d ? (void *)bf : (const void *)bv);
        lg_tensor *x = lg_solve(g, a, b);
        assert_int_equal(lg_tensor_ndim(x), 1);
        tu_assert_tensor_close(x, want, 2, 1e-6, 1e-6, "solve");
    }
    lg_graph_free(g);
}

static void test_solve_matrix_rhs_satisfies_ax_eq_b(void **state)
{
    (void)state;
    lg_tensor *a = rmat_diag(6, 1, 0), *b = rmat(6, 3, 2);
    lg_graph *g = lg_graph_new();
    lg_tensor *x = lg_solve(g, a, b);
    double ax[18];
    matmul_ref(d64(a), d64(x), ax, 6, 6, 3, false, false);
    tu_assert_close_arr(ax, d64(b), 18, 1e-10, 1e-10, "A X = B");
    lg_graph_free(g);
    lg_tensor_free(a);
    lg_tensor_free(b);
}

static void test_solve_triangular_all_variants(void **state)
{
    (void)state;
    lg_tensor *a = rmat_diag(5, 3, 4), *b = rmat(5, 2, 4);
    lg_graph *g = lg_graph_new();
    for (int v = 0; v < 4; v++) {
        bool upper = v & 1, trans = v & 2;
        double t[25], ax[10];
        memcpy(t, d64(a), sizeof t);
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 5; j++)
                if (upper ? j < i : j > i)
                    t[i * 5 + j] = 0;
        lg_tensor *x = lg_solve_triangular(g, a, b, (unsigned)v);
        matmul_ref(t, d64(x), ax, 5, 5, 2, trans, false);
        tu_assert_close_arr(ax, d64(b), 10, 1e-10, 1e-10, "op(T) X = B");
    }
    lg_graph_free(g);
    lg_tensor_free(a);
    lg_tensor_free(b);
}

static void test_inv_known_2x2(void **state)
{
    (void)state;
    /* [[4,7],[2,6]]⁻¹ = [[6,-7],[-2,4]] / 10. */
    const double av[4] = {4, 7, 2, 6}, want[4] = {0.6, -0.7, -0.2, 0.4};
    lg_tensor *a = mat(2, 2, av);
    lg_graph *g = lg_graph_new();
    tu_assert_tensor_close(lg_inv(g, a), want, 4, 1e-12, 1e-12, "inv");
    tu_assert_tensor_close(lg_inv(g, as_dtype(g, a, LG_F32)), want, 4, 1e-6, 1e-5, "inv f32");
    lg_graph_free(g);
    lg_tensor_free(a);
}

static void test_cholesky_solve_matches_solve(void **state)
{
    (void)state;
    lg_tensor *bm = rmat(5, 5, 5), *c = rmat(5, 2, 6);
    lg_graph *g = lg_graph_new();
    lg_tensor *a = spd(g, bm);
    lg_tensor *x1 = lg_cholesky_solve(g, lg_cholesky(g, a), c), *x2 = lg_solve(g, a, c);
    tu_assert_close_arr(d64(x1), d64(x2), 10, 1e-12, 1e-10, "cholesky_solve vs solve");
    lg_graph_free(g);
    lg_tensor_free(bm);
    lg_tensor_free(c);
}

/* ---- gradchecks: one function per family, the variant in ctx ---- */

static lg_tensor *f_solve(lg_graph *g, lg_tensor *const *in, int n, void *ctx)
{
    (void)n;
    int v = *(int *)ctx;
    switch (v) {
    case 0: return wsum(g, lg_solve(g, in[0], in[1]));
    case 1: { /* vector right-hand side */
        int64_t len = lg_tensor_shape(in[1])[0];
        return wsum(g, lg_solve(g, in[0], lg_reshape(g, lg_slice(g, in[1], 1, 0, 1), 1, &len)));
    }
    case 2: return wsum(g, lg_inv(g, in[0]));
    case 3: return lg_det(g, in[0]);
    case 4: {
        lg_tensor *s, *l;
        return lg_slogdet(g, in[0], &s, &l) == LG_OK ? lg_mul(g, l, lg_add_scalar(g, l, 1.0))
                                                     : NULL;
    }
    default: { /* triangular, variant 5..8 */
        int t = v - 5;
        return wsum(g, lg_solve_triangular(g, in[0], in[1], (unsigned)t));
    }
    }
}

static void test_solve_family_gradcheck_first_and_second_order(void **state)
{
    (void)state;
    lg_tensor *a = rmat_diag(4, 11, 4), *b = rmat(4, 2, 12);
    lg_tensor *in[2] = {a, b};
    const char *names[9] = {"solve", "solve vec", "inv", "det", "slogdet", "trsm L",
                            "trsm U", "trsm Lᵀ", "trsm Uᵀ"};
    for (int v = 0; v < 9; v++)
        tu_gradcheck(f_solve, &v, in, v >= 2 && v <= 4 ? 1 : 2, true, names[v]);
    lg_tensor_free(a);
    lg_tensor_free(b);
}

static lg_tensor *f_chol(lg_graph *g, lg_tensor *const *in, int n, void *ctx)
{
    (void)n;
    lg_tensor *l = lg_cholesky(g, spd(g, in[0]));
    return *(int *)ctx ? wsum(g, lg_cholesky_solve(g, l, in[1])) : wsum(g, l);
}

static void test_cholesky_gradcheck_first_and_second_order(void **state)
{
    (void)state;
    lg_tensor *b = rmat(4, 4, 21), *c = rmat(4, 2, 22);
    lg_tensor *in[2] = {b, c};
    int v0 = 0, v1 = 1;
    tu_gradcheck(f_chol, &v0, in, 1, true, "cholesky");
    tu_gradcheck(f_chol, &v1, in, 2, true, "cholesky_solve");
    lg_tensor_free(b);
    lg_tensor_free(c);
}

/* ---- cholesky and det ---- */

static void test_cholesky_known_2x2(void **state)
{
    (void)state;
    /* [[4,2],[2,3]] = L Lᵀ with L = [[2,0],[1,√2]]. */
    const double av[4] = {4, 2, 2, 3}, want[4] = {2, 0, 1, sqrt(2.0)};
    lg_tensor *a = mat(2, 2, av);
    lg_graph *g = lg_graph_new();
    tu_assert_tensor_close(lg_cholesky(g, a), want, 4, 1e-12, 1e-12, "cholesky");
    tu_assert_tensor_close(lg_cholesky(g, as_dtype(g, a, LG_F32)), want, 4, 1e-6, 1e-6,
                           "cholesky f32");
    lg_graph_free(g);
    lg_tensor_free(a);
}

static void test_cholesky_reconstructs_random_spd(void **state)
{
    (void)state;
    lg_tensor *b = rmat(8, 8, 31);
    lg_graph *g = lg_graph_new();
    lg_tensor *a = spd(g, b), *l = lg_cholesky(g, a);
    double llt[64];
    matmul_ref(d64(l), d64(l), llt, 8, 8, 8, false, true);
    tu_assert_close_arr(llt, d64(a), 64, 1e-10, 1e-12, "L Lᵀ = A");
    for (int i = 0; i < 8; i++)
        for (int j = i + 1; j < 8; j++)
            assert_true(d64(l)[i * 8 + j] == 0.0);
    lg_graph_free(g);
    lg_tensor_free(b);
}

static void test_det_and_slogdet_known_2x2(void **state)
{
    (void)state;
    /* det [[1,2],[3,4]] = -2: sign -1, log|det| = log 2. */
    const double av[4] = {1, 2, 3, 4}, want = -2, ws = -1, wl = log(2.0);
    lg_tensor *a = mat(2, 2, av);
    lg_graph *g = lg_graph_new();
    tu_assert_tensor_close(lg_det(g, a), &want, 1, 1e-12, 1e-12, "det");
    lg_tensor *s, *l;
    assert_int_equal(lg_slogdet(g, a, &s, &l), LG_OK);
    tu_assert_tensor_close(s, &ws, 1, 0, 0, "sign");
    tu_assert_tensor_close(l, &wl, 1, 1e-12, 1e-12, "logabsdet");
    /* singular: det 0, sign 0, log|det| -inf (NumPy's convention) */
    const double sv[4] = {1, 2, 2, 4}, zero = 0, ninf = -INFINITY;
    lg_tensor *sa = mat(2, 2, sv);
    tu_assert_tensor_close(lg_det(g, sa), &zero, 1, 0, 0, "det singular");
    assert_int_equal(lg_slogdet(g, sa, &s, &l), LG_OK);
    tu_assert_tensor_close(s, &zero, 1, 0, 0, "sign singular");
    assert_true(lg_tensor_item(l, 0) == ninf);
    lg_graph_free(g);
    lg_tensor_free(a);
    lg_tensor_free(sa);
}

/* ---- errors ---- */

static void test_solve_and_inv_reject_singular(void **state)
{
    (void)state;
    const double sv[4] = {1, 2, 2, 4}, bv[2] = {1, 1};
    lg_tensor *a = mat(2, 2, sv), *b = mat(2, 1, bv);
    lg_graph *g = lg_graph_new();
    assert_null(lg_solve(g, a, b));
    expect_error(g, LG_ERR_SINGULAR, "lg_solve: matrix is singular: U(1,1)");
    assert_null(lg_inv(g, a));
    expect_error(g, LG_ERR_SINGULAR, "lg_inv: matrix is singular");
    const double tv[4] = {1, 0, 2, 0};
    lg_tensor *t = mat(2, 2, tv);
    assert_null(lg_solve_triangular(g, t, b, LG_TRI_LOWER));
    expect_error(g, LG_ERR_SINGULAR, "A(1,1) is zero");
    lg_graph_free(g);
    lg_tensor_free(a);
    lg_tensor_free(b);
    lg_tensor_free(t);
}

static void test_det_gradient_at_singular_matrix_is_singular_error(void **state)
{
    (void)state;
    const double sv[4] = {1, 2, 2, 4};
    lg_tensor *a = mat(2, 2, sv);
    lg_tensor_set_requires_grad(a, true);
    lg_graph *g = lg_graph_new();
    lg_tensor *d = lg_det(g, a);
    assert_non_null(d);
    assert_int_equal(lg_backward(g, d), LG_ERR_SINGULAR);
    expect_error(g, LG_ERR_SINGULAR, "lg_det: matrix is singular");
    lg_graph_free(g);
    lg_tensor_free(a);
}

static void test_solve_family_rejects_bad_shapes_dtypes_and_nan(void **state)
{
    (void)state;
    lg_tensor *a = rmat_diag(3, 41, 3), *ns = rmat(3, 2, 42), *b = rmat(3, 2, 43);
    lg_tensor *b4 = rmat(4, 1, 44), *v3 = tu_rand(1, (int64_t[]){3}, 45, 0, 0);
    lg_graph *g = lg_graph_new();
    assert_null(lg_solve(g, ns, b));
    expect_error(g, LG_ERR_SHAPE, "lg_solve: A must be square, got (3,2)");
    assert_null(lg_solve(g, v3, b));
    expect_error(g, LG_ERR_SHAPE, "A must be a matrix");
    assert_null(lg_solve(g, a, b4));
    expect_error(g, LG_ERR_SHAPE, "lg_solve: B must be (3) or (3,k)");
    assert_null(lg_solve_triangular(g, a, b4, LG_TRI_LOWER));
    expect_error(g, LG_ERR_SHAPE, "lg_solve_triangular: B must be");
    assert_null(lg_cholesky_solve(g, a, b4));
    expect_error(g, LG_ERR_SHAPE, "lg_cholesky_solve: B must be");
    assert_null(lg_solve(g, a, as_dtype(g, b, LG_F32)));
    expect_error(g, LG_ERR_DTYPE, "lg_solve: dtypes differ");
    assert_null(lg_inv(g, ns));
    expect_error(g, LG_ERR_SHAPE, "lg_inv: A must be square");
    assert_null(lg_det(g, ns));
    expect_error(g, LG_ERR_SHAPE, "lg_det: A must be square");
    lg_tensor *s, *l;
    assert_int_equal(lg_slogdet(g, ns, &s, &l), LG_ERR_SHAPE);
    assert_null(s);
    expect_error(g, LG_ERR_SHAPE, "lg_slogdet: A must be square");
    double *p = lg_tensor_data(a);
    p[4] = NAN;
    assert_null(lg_solve(g, a, b));
    expect_error(g, LG_ERR_NUMERIC, "lg_solve: A (3,3) holds nan at flat index 4");
    assert_null(lg_det(g, a));
    expect_error(g, LG_ERR_NUMERIC, "lg_det");
    assert_null(lg_inv(g, a));
    expect_error(g, LG_ERR_NUMERIC, "lg_inv");
    p[4] = INFINITY;
    assert_null(lg_solve_triangular(g, a, b, LG_TRI_LOWER));
    expect_error(g, LG_ERR_NUMERIC, "holds inf");
    p[4] = 3;
    ((double *)lg_tensor_data(b))[0] = NAN;
    assert_null(lg_solve(g, a, b));
    expect_error(g, LG_ERR_NUMERIC, "B (3,2) holds nan");
    assert_null(lg_solve(g, NULL, b));
    expect_error(g, LG_ERR_ARG, "input 0 is NULL");
    lg_graph_free(g);
    lg_tensor_free(a);
    lg_tensor_free(ns);
    lg_tensor_free(b);
    lg_tensor_free(b4);
    lg_tensor_free(v3);
}

static void test_cholesky_rejects_non_spd(void **state)
{
    (void)state;
    /* [[1,2],[2,1]] has eigenvalues 3 and -1: the minor of order 2 fails. */
    const double av[4] = {1, 2, 2, 1}, nv[6] = {1, 0, 0, 1, 0, 0};
    const double n3[9] = {4, 0, 0, 0, 1, 0, 0, 0, -1};
    lg_tensor *a = mat(2, 2, av), *ns = mat(2, 3, nv), *a3 = mat(3, 3, n3);
    lg_graph *g = lg_graph_new();
    assert_null(lg_cholesky(g, a));
    expect_error(g, LG_ERR_NOT_SPD, "leading minor of order 2");
    assert_null(lg_cholesky(g, as_dtype(g, a3, LG_F32)));
    expect_error(g, LG_ERR_NOT_SPD, "leading minor of order 3");
    assert_null(lg_cholesky(g, ns));
    expect_error(g, LG_ERR_SHAPE, "lg_cholesky: A must be square, got (2,3)");
    ((double *)lg_tensor_data(a))[3] = NAN;
    assert_null(lg_cholesky(g, a));
    expect_error(g, LG_ERR_NUMERIC, "lg_cholesky: A (2,2) holds nan");
    lg_graph_free(g);
    lg_tensor_free(a);
    lg_tensor_free(ns);
    lg_tensor_free(a3);
}

/* ---- eigh ---- */

static void test_eigh_known_2x2(void **state)
{
    (void)state;
    /* [[2,1],[1,2]]: eigenvalues 1, 3 with vectors (1,-1)/√2 and (1,1)/√2. */
    const double av[4] = {2, 1, 1, 2}, wv[2] = {1, 3};
    lg_tensor *a = mat(2, 2, av);
    lg_graph *g = lg_graph_new();
    for (int d = 0; d < 2; d++) {
        lg_tensor *vals, *vecs;
        assert_int_equal(lg_eigh(g, d ? as_dtype(g, a, LG_F32) : a, &vals, &vecs), LG_OK);
        tu_assert_tensor_close(vals, wv, 2, 1e-6, 1e-6, "eigh values");
        double r = 1 / sqrt(2.0);
        /* each column up to sign */
        double c0 = lg_tensor_item(vecs, 0) > 0 ? 1 : -1, c1 = lg_tensor_item(vecs, 1) > 0 ? 1 : -1;
        const double want[4] = {r * c0, r * c1, -r * c0, r * c1};
        tu_assert_tensor_close(vecs, want, 4, 1e-6, 1e-6, "eigh vectors");
    }
    lg_graph_free(g);
    lg_tensor_free(a);
}

static void test_eigh_satisfies_av_eq_vlambda_with_orthonormal_v(void **state)
{
    (void)state;
    lg_tensor *x = rmat(7, 7, 51);
    lg_graph *g = lg_graph_new();
    lg_tensor *a = sym(g, x), *vals, *vecs;
    assert_int_equal(lg_eigh(g, a, &vals, &vecs), LG_OK);
    double av[49], vl[49], vtv[49], eye[49] = {0};
    matmul_ref(d64(a), d64(vecs), av, 7, 7, 7, false, false);
    for (int i = 0; i < 7; i++) {
        eye[i * 8] = 1;
        for (int j = 0; j < 7; j++)
            vl[i * 7 + j] = d64(vecs)[i * 7 + j] * d64(vals)[j];
        if (i)
            assert_true(d64(vals)[i] >= d64(vals)[i - 1]);
    }
    tu_assert_close_arr(av, vl, 49, 1e-12, 1e-10, "A V = V Λ");
    matmul_ref(d64(vecs), d64(vecs), vtv, 7, 7, 7, true, false);
    tu_assert_close_arr(vtv, eye, 49, 1e-12, 0, "Vᵀ V = I");
    /* det(A) = Π λ */
    double prod = 1;
    for (int i = 0; i < 7; i++)
        prod *= d64(vals)[i];
    tu_assert_tensor_close(lg_det(g, a), &prod, 1, 1e-12, 1e-10, "det = Π λ");
    lg_graph_free(g);
    lg_tensor_free(x);
}

static lg_tensor *f_eigh(lg_graph *g, lg_tensor *const *in, int n, void *ctx)
{
    (void)n;
    lg_tensor *vals, *vecs;
    if (lg_eigh(g, sym(g, in[0]), &vals, &vecs) != LG_OK)
        return NULL;
    switch (*(int *)ctx) {
    case 0: return wsum(g, vals);
    case 1: return wsum(g, lg_mul(g, vecs, vecs));   /* invariant to each column's sign */
    default: {                                       /* V diag(w) Vᵀ with distinct w */
        int64_t k = lg_tensor_shape(vecs)[1];
        double w[16];
        for (int64_t i = 0; i < k; i++)
            w[i] = 0.5 + (double)i * (double)i;
        lg_tensor *wt = lg_graph_input(g, LG_F64, 1, &k, w);
        lg_tensor *vw = lg_mul(g, vecs, lg_reshape(g, wt, 2, (int64_t[]){1, k}));
        return lg_add(g, wsum(g, lg_matmul_t(g, vw, vecs, false, true)), wsum(g, vals));
    }
    }
}

static void test_eigh_gradcheck_first_and_second_order(void **state)
{
    (void)state;
    lg_tensor *x = rmat(4, 4, 61);
    const char *names[3] = {"eigh values", "eigh V⊙V", "eigh V diag(w) Vᵀ"};
    for (int v = 0; v < 3; v++)
        tu_gradcheck(f_eigh, &v, &x, 1, true, names[v]);
    lg_tensor_free(x);
}

static void test_eigh_repeated_eigenvalues_vector_gradient_is_numeric_error(void **state)
{
    (void)state;
    lg_tensor *a = lg_tensor_eye(LG_F64, 3);
    lg_tensor_set_requires_grad(a, true);
    lg_graph *g = lg_graph_new();
    lg_tensor *vals, *vecs;
    /* Through the values alone the gradient is defined: d Σ wᵢλᵢ = V diag(w) Vᵀ. */
    assert_int_equal(lg_eigh(g, a, &vals, &vecs), LG_OK);
    assert_int_equal(lg_backward(g, lg_sum(g, vals)), LG_OK);
    const double eye[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    tu_assert_tensor_close(lg_tensor_grad(a), eye, 9, 1e-12, 0, "d tr / dA = I");
    lg_graph_reset(g);
    assert_int_equal(lg_eigh(g, a, &vals, &vecs), LG_OK);
    assert_int_equal(lg_backward(g, wsum(g, vecs)), LG_ERR_NUMERIC);
    expect_error(g, LG_ERR_NUMERIC, "eigenvalues 0 and 1 are repeated");
    lg_graph_free(g);
    lg_tensor_free(a);
}

static void test_eigh_rejects_non_symmetric_non_square_and_nan(void **state)
{
    (void)state;
    const double av[4] = {1, 2, 2.001, 1}, nv[6] = {1, 2, 3, 4, 5, 6};
    lg_tensor *a = mat(2, 2, av), *ns = mat(2, 3, nv), *vals, *vecs;
    lg_graph *g = lg_graph_new();
    assert_int_equal(lg_eigh(g, a, &vals, &vecs), LG_ERR_NUMERIC);
    assert_null(vals);
    assert_null(vecs);
    expect_error(g, LG_ERR_NUMERIC, "lg_eigh: matrix is not symmetric: |A(1,0) - A(0,1)|");
    assert_int_equal(lg_eigh(g, ns, &vals, &vecs), LG_ERR_SHAPE);
    expect_error(g, LG_ERR_SHAPE, "lg_eigh: A must be square");
    ((double *)lg_tensor_data(a))[0] = NAN;
    assert_int_equal(lg_eigh(g, a, &vals, &vecs), LG_ERR_NUMERIC);
    expect_error(g, LG_ERR_NUMERIC, "lg_eigh: A (2,2) holds nan");
    assert_int_equal(lg_eigh(g, a, NULL, &vecs), LG_ERR_ARG);
    expect_error(g, LG_ERR_ARG, "must not be NULL");
    lg_graph_free(g);
    lg_tensor_free(a);
    lg_tensor_free(ns);
}

/* ---- svd ---- */

static void test_svd_known_2x2(void **state)
{
    (void)state;
    /* [[3,0],[4,5]]: AᵀA = [[25,20],[20,25]] has eigenvalues 45 and 5, so σ = 3√5, √5. */
    const double av[4] = {3, 0, 4, 5}, want[2] = {3 * sqrt(5.0), sqrt(5.0)};
    lg_tensor *a = mat(2, 2, av);
    lg_graph *g = lg_graph_new();
    lg_tensor *u, *s, *vt;
    assert_int_equal(lg_svd(g, a, false, &u, &s, &vt), LG_OK);
    tu_assert_tensor_close(s, want, 2, 1e-12, 1e-12, "svd");
    assert_int_equal(lg_svd(g, as_dtype(g, a, LG_F32), false, NULL, &s, NULL), LG_OK);
    tu_assert_tensor_close(s, want, 2, 1e-5, 1e-5, "svd f32");
    lg_graph_free(g);
    lg_tensor_free(a);
}

/* U diag(S) Vᵀ = A and orthonormal U, V, for (m,n) reduced and full. */
static void check_svd_identities(int64_t m, int64_t n, bool full, uint64_t seed)
{
    lg_tensor *a = rmat(m, n, seed);
    lg_graph *g = lg_graph_new();
    lg_tensor *u, *s, *vt;
    assert_int_equal(lg_svd(g, a, full, &u, &s, &vt), LG_OK);
    int64_t k = m < n ? m : n, uc = lg_tensor_shape(u)[1], vr = lg_tensor_shape(vt)[0];
    assert_int_equal(uc, full ? m : k);
    assert_int_equal(vr, full ? n : k);
    double us[64] = {0}, usv[64], utu[64], vvt[64], eye[64], fro2 = 0, s2 = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < k; j++)
            us[i * k + j] = d64(u)[i * uc + j] * d64(s)[j];
    matmul_ref(us, d64(vt), usv, m, k, n, false, false);
    tu_assert_close_arr(usv, d64(a), m * n, 1e-12, 1e-10, "U S Vᵀ = A");
    matmul_ref(d64(u), d64(u), utu, uc, m, uc, true, false);
    for (int64_t i = 0; i < 64; i++)
        eye[i] = 0;
    for (int64_t i = 0; i < uc; i++)
        eye[i * uc + i] = 1;
    tu_assert_close_arr(utu, eye, uc * uc, 1e-12, 0, "Uᵀ U = I");
    matmul_ref(d64(vt), d64(vt), vvt, vr, n, vr, false, true);
    for (int64_t i = 0; i < 64; i++)
        eye[i] = 0;
    for (int64_t i = 0; i < vr; i++)
        eye[i * vr + i] = 1;
    tu_assert_close_arr(vvt, eye, vr * vr, 1e-12, 0, "Vᵀ V = I");
    for (int64_t i = 0; i < m * n; i++)
        fro2 += d64(a)[i] * d64(a)[i];
    for (int64_t i = 0; i < k; i++) {
        s2 += d64(s)[i] * d64(s)[i];
        if (i)
            assert_true(d64(s)[i] <= d64(s)[i - 1]);
    }
    tu_assert_close_arr(&s2, &fro2, 1, 1e-12, 1e-12, "‖A‖F² = Σσ²");
    double fro = sqrt(fro2);
    tu_assert_tensor_close(lg_norm_fro(g, a), &fro, 1, 1e-12, 1e-12, "norm_fro");
    lg_graph_free(g);
    lg_tensor_free(a);
}

static void test_svd_reconstructs_with_orthonormal_factors(void **state)
{
    (void)state;
    check_svd_identities(6, 4, false, 71);
    check_svd_identities(4, 6, false, 72);
    check_svd_identities(5, 5, false, 73);
    check_svd_identities(6, 4, true, 74);
    check_svd_identities(3, 7, true, 75);
}

static lg_tensor *f_svd(lg_graph *g, lg_tensor *const *in, int n, void *ctx)
{
    (void)n;
    int v = *(int *)ctx;
    lg_tensor *u, *s, *vt;
    if (lg_svd(g, in[0], v == 3, &u, &s, &vt) != LG_OK)
        return NULL;
    switch (v) {
    case 0: return wsum(g, s);
    case 1: /* gauge-invariant in each singular pair's sign */
        return lg_add(g, wsum(g, lg_mul(g, u, u)), wsum(g, lg_mul(g, vt, vt)));
    case 2: { /* U diag(S) Vᵀ, squared so that the loss is not linear in A */
        lg_tensor *usv = lg_matmul(g, lg_mul(g, u, lg_reshape(g, s, 2, (int64_t[]){1, -1})), vt);
        return wsum(g, lg_mul(g, usv, usv));
    }
    default: { /* full matrices: only the first k columns / rows take part */
        int64_t k = lg_tensor_numel(s);
        lg_tensor *uk = lg_slice(g, u, 1, 0, k), *vk = lg_slice(g, vt, 0, 0, k);
        return lg_add(g, wsum(g, lg_mul(g, uk, uk)), wsum(g, lg_mul(g, vk, vk)));
    }
    }
}

static void test_svd_gradcheck_first_and_second_order(void **state)
{
    (void)state;
    const int64_t shapes[3][2] = {{5, 3}, {3, 5}, {4, 4}};
    const char *names[4] = {"svd S", "svd U⊙U + V⊙V", "svd U S Vᵀ", "svd full"};
    for (int sh = 0; sh < 3; sh++) {
        lg_tensor *a = rmat(shapes[sh][0], shapes[sh][1], 81 + (uint64_t)sh);
        for (int v = 0; v < 4; v++)
            tu_gradcheck(f_svd, &v, &a, 1, true, names[v]);
        lg_tensor_free(a);
    }
}

static void test_svd_repeated_singular_values_uv_gradient_is_numeric_error(void **state)
{
    (void)state;
    const double av[6] = {2, 0, 0, 2, 0, 0}; /* (3,2) with σ = 2, 2 */
    lg_tensor *a = mat(3, 2, av);
    lg_tensor_set_requires_grad(a, true);
    lg_graph *g = lg_graph_new();
    lg_tensor *u, *s, *vt;
    assert_int_equal(lg_svd(g, a, false, &u, &s, &vt), LG_OK);
    assert_int_equal(lg_backward(g, lg_sum(g, s)), LG_OK); /* the nuclear norm: U Vᵀ */
    const double want[6] = {1, 0, 0, 1, 0, 0};
    tu_assert_tensor_close(lg_tensor_grad(a), want, 6, 1e-12, 0, "d Σσ / dA");
    lg_graph_reset(g);
    assert_int_equal(lg_svd(g, a, false, &u, &s, &vt), LG_OK);
    assert_int_equal(lg_backward(g, wsum(g, lg_mul(g, u, u))), LG_ERR_NUMERIC);
    expect_error(g, LG_ERR_NUMERIC, "singular values 0 and 1 are repeated");
    lg_graph_free(g);
    lg_tensor_free(a);
}

static void test_svd_truncated_keeps_leading_triplets(void **state)
{
    (void)state;
    lg_tensor *a = rmat(6, 5, 91);
    lg_graph *g = lg_graph_new();
    lg_tensor *u, *s, *vt, *tu, *ts, *tvt;
    assert_int_equal(lg_svd(g, a, false, &u, &s, &vt), LG_OK);
    assert_int_equal(lg_svd_truncated(g, a, 2, &tu, &ts, &tvt), LG_OK);
    assert_int_equal(lg_tensor_shape(tu)[1], 2);
    assert_int_equal(lg_tensor_shape(tvt)[0], 2);
    tu_assert_close_arr(d64(ts), d64(s), 2, 0, 0, "σ1, σ2");
    assert_int_equal(lg_svd_truncated(g, a, 6, &tu, &ts, &tvt), LG_ERR_ARG);
    expect_error(g, LG_ERR_ARG, "rank k = 6 is outside [1, 5]");
    lg_graph_free(g);
    lg_tensor_free(a);
}

static void test_svd_rejects_nan_and_non_matrix(void **state)
{
    (void)state;
    lg_tensor *a = rmat(3, 2, 92), *v = tu_rand(1, (int64_t[]){4}, 93, 0, 0), *u, *s, *vt;
    lg_graph *g = lg_graph_new();
    assert_int_equal(lg_svd(g, v, false, &u, &s, &vt), LG_ERR_SHAPE);
    expect_error(g, LG_ERR_SHAPE, "lg_svd: A must be a matrix (2-D), got (4)");
    ((double *)lg_tensor_data(a))[5] = -INFINITY;
    assert_int_equal(lg_svd(g, a, false, &u, &s, &vt), LG_ERR_NUMERIC);
    assert_null(s);
    expect_error(g, LG_ERR_NUMERIC, "lg_svd: A (3,2) holds -inf at flat index 5");
    assert_int_equal(lg_svd(g, a, false, &u, NULL, &vt), LG_ERR_ARG);
    expect_error(g, LG_ERR_ARG, "s must not be NULL");
    lg_graph_free(g);
    lg_tensor_free(a);
    lg_tensor_free(v);
}

/* ---- qr, lu ---- */

static void test_qr_known_column(void **state)
{
    (void)state;
    /* [3,4]ᵀ = Q R with Q = ±[0.6, 0.8]ᵀ, R = ±5 (one sign for both). */
    const double av[2] = {3, 4};
    lg_tensor *a = mat(2, 1, av), *q, *r;
    lg_graph *g = lg_graph_new();
    assert_int_equal(lg_qr(g, a, &q, &r), LG_OK);
    double sg = lg_tensor_item(r, 0) > 0 ? 1 : -1;
    const double wq[2] = {0.6 * sg, 0.8 * sg}, wr = 5 * sg;
    tu_assert_tensor_close(q, wq, 2, 1e-12, 1e-12, "Q");
    tu_assert_tensor_close(r, &wr, 1, 1e-12, 1e-12, "R");
    lg_graph_free(g);
    lg_tensor_free(a);
}

static void check_qr(int64_t m, int64_t n, uint64_t seed)
{
    lg_tensor *a = rmat(m, n, seed), *q, *r;
    lg_graph *g = lg_graph_new();
    assert_int_equal(lg_qr(g, a, &q, &r), LG_OK);
    int64_t k = m < n ? m : n;
    double qr[64], qtq[64], eye[64] = {0};
    matmul_ref(d64(q), d64(r), qr, m, k, n, false, false);
    tu_assert_close_arr(qr, d64(a), m * n, 1e-12, 1e-10, "Q R = A");
    matmul_ref(d64(q), d64(q), qtq, k, m, k, true, false);
    for (int64_t i = 0; i < k; i++)
        eye[i * k + i] = 1;
    tu_assert_close_arr(qtq, eye, k * k, 1e-12, 0, "Qᵀ Q = I");
    for (int64_t i = 0; i < k; i++)
        for (int64_t j = 0; j < i && j < n; j++)
            assert_true(d64(r)[i * n + j] == 0.0);
    lg_graph_free(g);
    lg_tensor_free(a);
}

static void test_qr_reconstructs_with_orthonormal_q_and_upper_r(void **state)
{
    (void)state;
    check_qr(6, 4, 101);
    check_qr(4, 6, 102);
    check_qr(5, 5, 103);
}

static lg_tensor *f_qr(lg_graph *g, lg_tensor *const *in, int n, void *ctx)
{
    (void)n;
    lg_tensor *q, *r;
    if (lg_qr(g, in[0], &q, &r) != LG_OK)
        return NULL;
    switch (*(int *)ctx) {
    case 0: return wsum(g, q);
    case 1: return wsum(g, r);
    default: return lg_add(g, wsum(g, q), wsum(g, lg_mul(g, r, r)));
    }
}

static void test_qr_gradcheck_first_and_second_order(void **state)
{
    (void)state;
    const int64_t shapes[3][2] = {{5, 3}, {3, 5}, {4, 4}};
    for (int sh = 0; sh < 3; sh++) {
        lg_tensor *a = rmat(shapes[sh][0], shapes[sh][1], 111 + (uint64_t)sh);
        for (int v = 0; v < 3; v++)
            tu_gradcheck(f_qr, &v, &a, 1, true, "qr");
        lg_tensor_free(a);
    }
}

static void test_lu_reconstructs_pa_eq_lu(void **state)
{
    (void)state;
    const int64_t shapes[3][2] = {{5, 3}, {3, 5}, {4, 4}};
    lg_graph *g = lg_graph_new();
    for (int sh = 0; sh < 3; sh++) {
        int64_t m = shapes[sh][0], n = shapes[sh][1], k = m < n ? m : n;
        lg_tensor *a = rmat(m, n, 121 + (uint64_t)sh), *p, *l, *u;
        assert_int_equal(lg_lu(g, a, &p, &l, &u), LG_OK);
        double lu[64], plu[64];
        matmul_ref(d64(l), d64(u), lu, m, k, n, false, false);
        matmul_ref(d64(p), lu, plu, m, m, n, false, false);
        tu_assert_close_arr(plu, d64(a), m * n, 1e-12, 1e-12, "P L U = A");
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < k; j++) {
                if (j > i)
                    assert_true(d64(l)[i * k + j] == 0.0);
                if (j == i)
                    assert_true(d64(l)[i * k + j] == 1.0);
                assert_true(fabs(d64(l)[i * k + j]) <= 1.0); /* partial pivoting */
            }
        lg_tensor_free(a);
    }
    /* singular input factors fine: U has a zero on its diagonal */
    const double sv[4] = {1, 2, 2, 4};
    lg_tensor *s = mat(2, 2, sv), *p, *l, *u;
    assert_int_equal(lg_lu(g, s, &p, &l, &u), LG_OK);
    assert_true(lg_tensor_item(u, 3) == 0.0);
    ((double *)lg_tensor_data(s))[1] = NAN;
    assert_int_equal(lg_lu(g, s, &p, &l, &u), LG_ERR_NUMERIC);
    expect_error(g, LG_ERR_NUMERIC, "lg_lu: A (2,2) holds nan");
    assert_int_equal(lg_qr(g, s, &p, &l), LG_ERR_NUMERIC);
    expect_error(g, LG_ERR_NUMERIC, "lg_qr: A (2,2) holds nan");
    lg_graph_free(g);
    lg_tensor_free(s);
}

/* ---- pinv, lstsq ---- */

static void test_pinv_satisfies_penrose_identity(void **state)
{
    (void)state;
    lg_graph *g = lg_graph_new();
    const int64_t shapes[2][2] = {{6, 4}, {3, 5}};
    for (int sh = 0; sh < 2; sh++) {
        int64_t m = shapes[sh][0], n = shapes[sh][1];
        lg_tensor *a = rmat(m, n, 131 + (uint64_t)sh);
        lg_tensor *x = lg_pinv(g, a, -1);
        double ax[64], axa[64];
        matmul_ref(d64(a), d64(x), ax, m, n, m, false, false);
        matmul_ref(ax, d64(a), axa, m, m, n, false, false);
        tu_assert_close_arr(axa, d64(a), m * n, 1e-12, 1e-10, "A A⁺ A = A");
        lg_tensor_free(a);
    }
    /* rank 1: [[1,2],[2,4]]⁺ = A / 25 (A = 5 u uᵀ with u = (1,2)/√5) */
    const double rv[4] = {1, 2, 2, 4}, want[4] = {0.04, 0.08, 0.08, 0.16};
    lg_tensor *r = mat(2, 2, rv);
    tu_assert_tensor_close(lg_pinv(g, r, -1), want, 4, 1e-12, 1e-12, "pinv rank 1");
    int64_t rank = -1;
    assert_int_equal(lg_matrix_rank(g, r, -1, &rank), LG_OK);
    assert_int_equal(rank, 1);
    lg_graph_free(g);
    lg_tensor_free(r);
}

static lg_tensor *f_pinv(lg_graph *g, lg_tensor *const *in, int n, void *ctx)
{
    (void)n;
    (void)ctx;
    return wsum(g, lg_pinv(g, in[0], -1));
}

static void test_pinv_gradcheck_first_and_second_order(void **state)
{
    (void)state;
    lg_tensor *a = rmat(5, 3, 141), *b = rmat(3, 4, 142), *c = rmat_diag(3, 143, 3);
    tu_gradcheck(f_pinv, NULL, &a, 1, true, "pinv tall");
    tu_gradcheck(f_pinv, NULL, &b, 1, true, "pinv wide");
    tu_gradcheck(f_pinv, NULL, &c, 1, true, "pinv square");
    lg_tensor_free(a);
    lg_tensor_free(b);
    lg_tensor_free(c);
}

static void test_lstsq_matches_normal_equations(void **state)
{
    (void)state;
    lg_tensor *a = rmat(8, 3, 151), *b = rmat(8, 2, 152);
    lg_graph *g = lg_graph_new();
    lg_lstsq_result r;
    assert_int_equal(lg_lstsq(g, a, b, -1, &r), LG_OK);
    assert_int_equal(r.rank, 3);
    lg_tensor *xn = lg_solve(g, lg_matmul_t(g, a, a, true, false), lg_matmul_t(g, a, b, true, false));
    tu_assert_close_arr(d64(r.solution), d64(xn), 6, 1e-12, 1e-10, "lstsq = (AᵀA)⁻¹AᵀB");
    /* residuals: ‖A X - B‖² per column */
    double ax[16], res[2] = {0, 0};
    matmul_ref(d64(a), d64(r.solution), ax, 8, 3, 2, false, false);
    for (int i = 0; i < 8; i++)
        for (int c = 0; c < 2; c++)
            res[c] += (ax[i * 2 + c] - d64(b)[i * 2 + c]) * (ax[i * 2 + c] - d64(b)[i * 2 + c]);
    tu_assert_tensor_close(r.residuals, res, 2, 1e-12, 1e-10, "residuals");
    lg_tensor *u, *s, *vt;
    assert_int_equal(lg_svd(g, a, false, &u, &s, &vt), LG_OK);
    tu_assert_close_arr(d64(r.sv), d64(s), 3, 1e-12, 1e-12, "singular values");
    /* a known line fit: y = 1 + 2t at t = 0,1,2 exactly; a vector right-hand side */
    const double lv[6] = {1, 0, 1, 1, 1, 2}, yv[3] = {1, 3, 5}, want[2] = {1, 2};
    lg_tensor *la = mat(3, 2, lv), *ly = lg_tensor_from_data(LG_F64, 1, (int64_t[]){3}, yv);
    assert_int_equal(lg_lstsq(g, la, ly, -1, &r), LG_OK);
    assert_int_equal(lg_tensor_ndim(r.solution), 1);
    tu_assert_tensor_close(r.solution, want, 2, 1e-12, 1e-12, "line fit");
    assert_true(fabs(lg_tensor_item(r.residuals, 0)) < 1e-20);
    /* rank deficient: no residuals (NumPy's rule) */
    const double dv[6] = {1, 2, 2, 4, 3, 6};
    lg_tensor *da = mat(3, 2, dv);
    assert_int_equal(lg_lstsq(g, da, ly, -1, &r), LG_OK);
    assert_int_equal(r.rank, 1);
    assert_int_equal(lg_tensor_numel(r.residuals), 0);
    assert_int_equal(lg_lstsq(g, la, b, -1, &r), LG_ERR_SHAPE);
    expect_error(g, LG_ERR_SHAPE, "lg_lstsq: B must be (3) or (3,k)");
    lg_graph_free(g);
    lg_tensor_free(a);
    lg_tensor_free(b);
    lg_tensor_free(la);
    lg_tensor_free(ly);
    lg_tensor_free(da);
}

/* ---- norms, trace, cond, rank, cosine ---- */

static void test_norms_known_values(void **state)
{
    (void)state;
    const double xv[3] = {3, -4, 0};
    lg_tensor *x = lg_tensor_from_data(LG_F64, 1, (int64_t[]){3}, xv);
    lg_graph *g = lg_graph_new();
    const double l0 = 2, l1 = 7, l2 = 5, li = 4;
    tu_assert_tensor_close(lg_norm_l0(g, x), &l0, 1, 0, 0, "L0");
    tu_assert_tensor_close(lg_norm_l1(g, x), &l1, 1, 0, 0, "L1");
    tu_assert_tensor_close(lg_norm_l2(g, x), &l2, 1, 1e-15, 0, "L2");
    tu_assert_tensor_close(lg_norm_linf(g, x), &li, 1, 0, 0, "Linf");
    /* diag(1,4): trace 5, spectral 4, nuclear 5, cond 4; [[3,0],[4,5]]: Frobenius √50 */
    const double dv[4] = {1, 0, 0, 4}, av[4] = {3, 0, 4, 5};
    lg_tensor *d = mat(2, 2, dv), *a = mat(2, 2, av);
    const double tr = 5, sp = 4, nu = 5, co = 4, fr = sqrt(50.0);
    tu_assert_tensor_close(lg_trace(g, d), &tr, 1, 0, 0, "trace");
    tu_assert_tensor_close(lg_norm_spectral(g, d), &sp, 1, 1e-14, 0, "spectral");
    tu_assert_tensor_close(lg_norm_nuclear(g, d), &nu, 1, 1e-14, 0, "nuclear");
    tu_assert_tensor_close(lg_cond(g, d), &co, 1, 1e-14, 1e-14, "cond");
    tu_assert_tensor_close(lg_norm_fro(g, a), &fr, 1, 1e-14, 0, "Frobenius");
    tu_assert_tensor_close(lg_norm_l2(g, as_dtype(g, a, LG_F32)), &fr, 1, 1e-6, 1e-6, "L2 f32");
    /* rows (1,0)·(1,1) = 1/√2; a zero row gives 0 */
    const double av2[4] = {1, 0, 0, 0}, bv2[4] = {1, 1, 2, 3}, wc[2] = {1 / sqrt(2.0), 0};
    lg_tensor *ca = mat(2, 2, av2), *cb = mat(2, 2, bv2);
    tu_assert_tensor_close(lg_cosine_similarity(g, ca, cb, 1e-8), wc, 2, 1e-15, 1e-15, "cos");
    lg_graph_free(g);
    lg_tensor_free(x);
    lg_tensor_free(d);
    lg_tensor_free(a);
    lg_tensor_free(ca);
    lg_tensor_free(cb);
}

static lg_tensor *f_norm(lg_graph *g, lg_tensor *const *in, int n, void *ctx)
{
    (void)n;
    lg_tensor *a = in[0];
    switch (*(int *)ctx) {
    case 0: return lg_norm_l1(g, a);
    case 1: return lg_norm_l2(g, a);
    case 2: return lg_norm_linf(g, a);
    case 3: return lg_norm_fro(g, a);
    case 4: return lg_norm_spectral(g, a);
    case 5: return lg_norm_nuclear(g, a);
    case 6: return lg_trace(g, lg_matmul_t(g, a, a, true, false));
    case 7: return lg_cond(g, a);
    default: return wsum(g, lg_cosine_similarity(g, lg_slice(g, a, 1, 0, 2),
                                                 lg_slice(g, a, 1, 1, 3), 1e-8));
    }
}

static void test_norms_gradcheck_first_and_second_order(void **state)
{
    (void)state;
    lg_tensor *a = rmat(4, 3, 161);
    const char *names[9] = {"L1", "L2", "Linf", "fro", "spectral", "nuclear", "trace",
                            "cond", "cosine"};
    for (int v = 0; v < 9; v++)
        tu_gradcheck(f_norm, &v, &a, 1, true, names[v]);
    lg_tensor_free(a);
}

static void test_norm_l2_and_cosine_have_zero_gradient_at_zero(void **state)
{
    (void)state;
    lg_tensor *z = lg_tensor_zeros(LG_F64, 2, (int64_t[]){2, 3});
    const double bv[6] = {1, 2, 3, 4, 5, 6}, zero[6] = {0};
    lg_tensor *b = mat(2, 3, bv);
    lg_tensor_set_requires_grad(z, true);
    lg_graph *g = lg_graph_new();
    assert_int_equal(lg_backward(g, lg_norm_l2(g, z)), LG_OK);
    tu_assert_tensor_close(lg_tensor_grad(z), zero, 6, 0, 0, "d‖0‖");
    lg_tensor_zero_grad(z);
    lg_tensor *c = lg_cosine_similarity(g, z, b, 1e-8);
    tu_assert_tensor_close(c, zero, 2, 0, 0, "cos(0, b)");
    assert_int_equal(lg_backward(g, lg_sum(g, c)), LG_OK);
    for (int i = 0; i < 6; i++)
        assert_true(isfinite(lg_tensor_item(lg_tensor_grad(z), i)));
    lg_graph_free(g);
    lg_tensor_free(z);
    lg_tensor_free(b);
}

static void test_norms_reject_bad_input(void **state)
{
    (void)state;
    lg_tensor *a = rmat(2, 3, 171), *b = rmat(3, 2, 172);
    lg_graph *g = lg_graph_new();
    assert_null(lg_trace(g, a));
    expect_error(g, LG_ERR_SHAPE, "lg_trace: A must be square");
    assert_null(lg_cosine_similarity(g, a, b, 1e-8));
    expect_error(g, LG_ERR_SHAPE, "lg_cosine_similarity: need a and b of one shape");
    assert_null(lg_cosine_similarity(g, a, a, 0));
    expect_error(g, LG_ERR_ARG, "eps must be > 0");
    assert_null(lg_cosine_similarity(g, a, as_dtype(g, a, LG_F32), 1e-8));
    expect_error(g, LG_ERR_DTYPE, "dtypes differ");
    int64_t rank = 7;
    assert_int_equal(lg_matrix_rank(g, a, -1, NULL), LG_ERR_ARG);
    expect_error(g, LG_ERR_ARG, "rank must not be NULL");
    ((double *)lg_tensor_data(a))[2] = NAN;
    assert_int_equal(lg_matrix_rank(g, a, -1, &rank), LG_ERR_NUMERIC);
    assert_int_equal(rank, 7);
    expect_error(g, LG_ERR_NUMERIC, "lg_matrix_rank: A (2,3) holds nan");
    assert_null(lg_norm_spectral(g, a));
    expect_error(g, LG_ERR_NUMERIC, "lg_norm_spectral");
    assert_null(lg_cond(g, a));
    expect_error(g, LG_ERR_NUMERIC, "lg_cond");
    assert_null(lg_pinv(g, a, -1));
    expect_error(g, LG_ERR_NUMERIC, "lg_pinv");
    lg_lstsq_result r;
    assert_int_equal(lg_lstsq(g, b, a, -1, &r), LG_ERR_SHAPE);
    expect_error(g, LG_ERR_SHAPE, "lg_lstsq");
    lg_graph_free(g);
    lg_tensor_free(a);
    lg_tensor_free(b);
}

/* ---- allocation and f32 gradients ---- */

/* One training-like step through every decomposition with a VJP. */
static lg_status linalg_step(lg_graph *g, lg_tensor *b)
{
    lg_graph_reset(g);
    lg_tensor *a = spd(g, b), *vals, *vecs, *u, *s, *vt, *q, *r, *sg, *ld;
    lg_tensor *l = lg_cholesky(g, a);
    lg_tensor *loss = lg_add(g, wsum(g, l), wsum(g, lg_solve(g, a, b)));
    loss = lg_add(g, loss, wsum(g, lg_inv(g, a)));
    if (lg_eigh(g, a, &vals, &vecs) == LG_OK)
        loss = lg_add(g, loss, wsum(g, lg_mul(g, vecs, vecs)));
    if (lg_svd(g, b, false, &u, &s, &vt) == LG_OK)
        loss = lg_add(g, loss, wsum(g, lg_mul(g, u, u)));
    if (lg_qr(g, b, &q, &r) == LG_OK)
        loss = lg_add(g, loss, wsum(g, r));
    if (lg_slogdet(g, a, &sg, &ld) == LG_OK)
        loss = lg_add(g, loss, ld);
    loss = lg_add(g, loss, wsum(g, lg_pinv(g, b, -1)));
    return loss ? lg_backward(g, loss) : lg_graph_status(g);
}

static void test_linalg_step_allocates_nothing_after_first(void **state)
{
    (void)state;
    counter c = {0};
    lg_allocator al = counter_allocator(&c);
    lg_set_allocator(&al);
    lg_tensor *b = rmat(5, 5, 181);
    lg_tensor_set_requires_grad(b, true);
    lg_graph *g = lg_graph_new();
    assert_int_equal(linalg_step(g, b), LG_OK);
    long after_first = c.calls;
    assert_int_equal(linalg_step(g, b), LG_OK);
    assert_int_equal(c.calls, after_first);
    lg_graph_free(g);
    lg_tensor_free(b);
    assert_int_equal(c.live, 0);
    lg_set_allocator(NULL);
    /* failing each allocation in turn is tests/test_oom.c's job, for every linalg function */
}

static void test_f32_gradients_match_f64(void **state)
{
    (void)state;
    lg_tensor *b64 = rmat(4, 4, 191);
    lg_graph *g = lg_graph_new();
    double grads[2][16];
    for (int d = 0; d < 2; d++) {
        lg_dtype dt = d ? LG_F32 : LG_F64;
        lg_tensor *b = as_dtype(g, b64, dt), *vals, *vecs, *u, *s, *vt;
        lg_tensor *leaf = lg_tensor_from_data(dt, 2, lg_tensor_shape(b), lg_tensor_cdata(b));
        lg_tensor_set_requires_grad(leaf, true);
        lg_tensor *eye = lg_tensor_eye(LG_F64, 4);
        lg_tensor *a4 = lg_add(g, lg_matmul_t(g, leaf, leaf, false, true), as_dtype(g, eye, dt));
        lg_tensor_free(eye);
        assert_int_equal(lg_eigh(g, a4, &vals, &vecs), LG_OK);
        assert_int_equal(lg_svd(g, leaf, false, &u, &s, &vt), LG_OK);
        lg_tensor *loss = lg_add(g, lg_sum(g, lg_mul(g, vecs, vecs)), lg_sum(g, lg_mul(g, u, s)));
        loss = lg_add(g, loss, lg_sum(g, lg_cholesky(g, a4)));
        loss = lg_add(g, loss, lg_sum(g, lg_solve(g, a4, leaf)));
        assert_int_equal(lg_backward(g, loss), LG_OK);
        for (int i = 0; i < 16; i++)
            grads[d][i] = lg_tensor_item(lg_tensor_grad(leaf), i);
        lg_tensor_free(leaf);
    }
    tu_assert_close_arr(grads[1], grads[0], 16, 2e-3, 2e-3, "f32 vs f64 gradients");
    lg_graph_free(g);
    lg_tensor_free(b64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_solve_known_2x2),
        cmocka_unit_test(test_solve_matrix_rhs_satisfies_ax_eq_b),
        cmocka_unit_test(test_solve_triangular_all_variants),
        cmocka_unit_test(test_inv_known_2x2),
        cmocka_unit_test(test_cholesky_solve_matches_solve),
        cmocka_unit_test(test_solve_family_gradcheck_first_and_second_order),
        cmocka_unit_test(test_cholesky_gradcheck_first_and_second_order),
        cmocka_unit_test(test_cholesky_known_2x2),
        cmocka_unit_test(test_cholesky_reconstructs_random_spd),
        cmocka_unit_test(test_det_and_slogdet_known_2x2),
        cmocka_unit_test(test_solve_and_inv_reject_singular),
        cmocka_unit_test(test_det_gradient_at_singular_matrix_is_singular_error),
        cmocka_unit_test(test_solve_family_rejects_bad_shapes_dtypes_and_nan),
        cmocka_unit_test(test_cholesky_rejects_non_spd),
        cmocka_unit_test(test_eigh_known_2x2),
        cmocka_unit_test(test_eigh_satisfies_av_eq_vlambda_with_orthonormal_v),
        cmocka_unit_test(test_eigh_gradcheck_first_and_second_order),
        cmocka_unit_test(test_eigh_repeated_eigenvalues_vector_gradient_is_numeric_error),
        cmocka_unit_test(test_eigh_rejects_non_symmetric_non_square_and_nan),
        cmocka_unit_test(test_svd_known_2x2),
        cmocka_unit_test(test_svd_reconstructs_with_orthonormal_factors),
        cmocka_unit_test(test_svd_gradcheck_first_and_second_order),
        cmocka_unit_test(test_svd_repeated_singular_values_uv_gradient_is_numeric_error),
        cmocka_unit_test(test_svd_truncated_keeps_leading_triplets),
        cmocka_unit_test(test_svd_rejects_nan_and_non_matrix),
        cmocka_unit_test(test_qr_known_column),
        cmocka_unit_test(test_qr_reconstructs_with_orthonormal_q_and_upper_r),
        cmocka_unit_test(test_qr_gradcheck_first_and_second_order),
        cmocka_unit_test(test_lu_reconstructs_pa_eq_lu),
        cmocka_unit_test(test_pinv_satisfies_penrose_identity),
        cmocka_unit_test(test_pinv_gradcheck_first_and_second_order),
        cmocka_unit_test(test_lstsq_matches_normal_equations),
        cmocka_unit_test(test_norms_known_values),
        cmocka_unit_test(test_norms_gradcheck_first_and_second_order),
        cmocka_unit_test(test_norm_l2_and_cosine_have_zero_gradient_at_zero),
        cmocka_unit_test(test_norms_reject_bad_input),
        cmocka_unit_test(test_linalg_step_allocates_nothing_after_first),
        cmocka_unit_test(test_f32_gradients_match_f64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
