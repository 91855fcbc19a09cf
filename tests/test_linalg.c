/* linalg: known small values, identities on random f64 matrices, first- and second-order
 * gradchecks of every differentiable function, and every error path. Expected values
 * are hand-computed (shown in comments) or come from identities. */
#include <stdlib.h>
#include <string.h>
#include "test_util.h"

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
        lg_tensor *x = lg_solve_triangular(g, a, b, upper, trans);
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
        return wsum(g, lg_solve_triangular(g, in[0], in[1], t & 1, t & 2));
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
    assert_null(lg_solve_triangular(g, t, b, false, false));
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
    assert_null(lg_solve_triangular(g, a, b4, false, false));
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
    assert_null(lg_solve_triangular(g, a, b, false, false));
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
