/* linalg's internal ops (linalg_impl.h) that the fast VJPs are built from: each against
 * the composite of public ops it replaces, in f64 and f32, with first- and second-order
 * gradchecks of its own VJP, and its error paths. The public functions' gradchecks
 * (test_linalg.c) cover them again inside the VJPs. */
#include <math.h>
#include <string.h>
#include "test_util.h"
#include "linalg/linalg_impl.h"

static lg_tensor *rmat(int64_t r, int64_t c, uint64_t seed)
{
    int64_t shape[2] = {r, c};
    return tu_rand(2, shape, seed, 0, 0);
}

/* Σ t ⊙ W with fixed weights W_i = cos(0.7 i + 0.3). */
static lg_tensor *wsum(lg_graph *g, lg_tensor *t)
{
    if (!t)
        return NULL;
    static double w[1024];
    static float wf[1024];
    int64_t n = lg_tensor_numel(t);
    assert_true(n <= 1024);
    for (int64_t i = 0; i < n; i++)
        wf[i] = (float)(w[i] = cos(0.7 * (double)i + 0.3));
    lg_dtype dt = lg_tensor_dtype(t);
    return lg_sum(g, lg_mul(g, t, lg_graph_input(g, dt, lg_tensor_ndim(t), lg_tensor_shape(t),
                                                  dt == LG_F64 ? (const void *)w : wf)));
}

/* max |a - b| over two graph tensors of one shape. */
static double max_diff(const lg_tensor *a, const lg_tensor *b)
{
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(lg_tensor_numel(a), lg_tensor_numel(b));
    double m = 0;
    for (int64_t i = 0; i < lg_tensor_numel(a); i++)
        m = fmax(m, fabs(lg_tensor_item(a, i) - lg_tensor_item(b, i)));
    return m;
}

/* t itself (f64), or a graph copy rounded to f32. */
static lg_tensor *in_dtype(lg_graph *g, lg_tensor *t, lg_dtype dt)
{
    static float f[8192];
    int64_t n = lg_tensor_numel(t);
    assert_true(n <= 8192);
    if (dt == LG_F64)
        return t;
    for (int64_t i = 0; i < n; i++)
        f[i] = (float)lg_tensor_item(t, i);
    return lg_graph_input(g, dt, lg_tensor_ndim(t), lg_tensor_shape(t), f);
}

/* ---- trmm and the triangular inverse ---- */

static lg_tensor *f_trmm(lg_graph *g, lg_tensor *const *in, int n, void *ctx)
{
    (void)n;
    int v = *(int *)ctx;
    return wsum(g, la_trmm(g, in[0], in[1], v & 1, v & 2, v & 4, -1.5));
}

static void test_trmm_matches_masked_matmul_and_gradchecks(void **state)
{
    (void)state;
    lg_tensor *a = rmat(4, 4, 1), *bl = rmat(4, 3, 2), *br = rmat(3, 4, 3);
    lg_graph *g = lg_graph_new();
    for (int v = 0; v < 8; v++) {
        bool right = v & 1, lower = v & 2, trans = v & 4;
        lg_tensor *b = right ? br : bl;
        for (int d = 0; d < 2; d++) {
            lg_dtype dt = d ? LG_F32 : LG_F64;
            lg_tensor *ad = in_dtype(g, a, dt), *bd = in_dtype(g, b, dt);
            lg_tensor *t = lg_mul(g, ad, la_tri_mask(g, dt, 4, lower, 1.0));
            lg_tensor *opa = trans ? lg_transpose(g, t) : t;
            lg_tensor *want = lg_scale(g, right ? lg_matmul(g, bd, opa) : lg_matmul(g, opa, bd),
                                       -1.5);
            assert_true(max_diff(la_trmm(g, ad, bd, right, lower, trans, -1.5), want) <
                        (d ? 1e-5 : 1e-13));
        }
        lg_tensor *in[2] = {a, b};
        tu_gradcheck(f_trmm, &v, in, 2, true, "la_trmm");
    }
    lg_graph_free(g);
    lg_tensor_free(a);
    lg_tensor_free(bl);
    lg_tensor_free(br);
}

static lg_tensor *f_tri_inv(lg_graph *g, lg_tensor *const *in, int n, void *ctx)
{
    (void)n, (void)ctx;
    return wsum(g, la_tri_inv(g, in[0]));
}

static void test_tri_inv_times_matrix_is_identity_and_gradchecks(void **state)
{
    (void)state;
    lg_graph *g = lg_graph_new();
    /* 70 > the recursion's base order, so the blocked path runs too. */
    const int64_t sizes[3] = {1, 5, 70};
    for (int si = 0; si < 3; si++) {
        int64_t n = sizes[si];
        lg_tensor *a = rmat(n, n, 10 + (uint64_t)si);
        double *p = lg_tensor_data(a);
        for (int64_t i = 0; i < n * n; i++) /* off-diagonal O(1/n): well conditioned */
            p[i] = i % (n + 1) == 0 ? 2.0 + fabs(p[i]) : p[i] / (double)n;
        for (int d = 0; d < 2; d++) {
            lg_dtype dt = d ? LG_F32 : LG_F64;
            lg_tensor *ad = in_dtype(g, a, dt);
            lg_tensor *prod = lg_matmul(g, la_tri_inv(g, ad),
                                        lg_mul(g, ad, la_tri_mask(g, dt, n, true, 1.0)));
            double err = max_diff(prod, la_eye(g, dt, n));
            if (err >= (d ? 1e-5 : 1e-13))
                fail_msg("n = %lld %s: |L⁻¹ L - I| = %g", (long long)n, d ? "f32" : "f64", err);
        }
        if (n <= 5)
            tu_gradcheck(f_tri_inv, NULL, &a, 1, true, "la_tri_inv");
        lg_tensor_free(a);
    }
    lg_graph_free(g);
}

static void test_tri_inv_reports_zero_diagonal_as_singular(void **state)
{
    (void)state;
    const double v[9] = {1, 0, 0, 2, 0, 0, 3, 4, 5};
    int64_t shape[2] = {3, 3};
    lg_graph *g = lg_graph_new();
    assert_null(la_tri_inv(g, lg_graph_input(g, LG_F64, 2, shape, v)));
    assert_int_equal(lg_graph_status(g), LG_ERR_SINGULAR);
    assert_non_null(strstr(lg_graph_errmsg(g), "A(1,1) is zero"));
    lg_graph_free(g);
}

/* ---- symmetric fill, fold and sandwich ---- */

static void test_sym_from_lower_and_fold_known_3x3_and_adjoint(void **state)
{
    (void)state;
    const double p[9] = {1, 9, 9, 2, 3, 9, 4, 5, 6};
    /* by hand: s = 2 */
    const double sym[9] = {2, 4, 8, 4, 6, 10, 8, 10, 12};
    const double fold[9] = {2, 0, 0, 22, 6, 0, 26, 28, 12};
    int64_t shape[2] = {3, 3};
    lg_graph *g = lg_graph_new();
    lg_tensor *pt = lg_graph_input(g, LG_F64, 2, shape, p);
    lg_tensor *s = la_sym_from_lower(g, pt, 2.0), *f = la_fold_lower(g, pt, 2.0);
    assert_non_null(s);
    assert_non_null(f);
    for (int i = 0; i < 9; i++) {
        assert_true(lg_tensor_item(s, i) == sym[i]);
        assert_true(lg_tensor_item(f, i) == fold[i]);
    }
    /* <fold(G), P> = <G, sym(P)> on random 40x40 (tiles past the first) */
    lg_tensor *gm = rmat(40, 40, 20), *pm = rmat(40, 40, 21);
    double lhs = lg_tensor_item(lg_sum(g, lg_mul(g, la_fold_lower(g, gm, 0.5), pm)), 0);
    double rhs = lg_tensor_item(lg_sum(g, lg_mul(g, gm, la_sym_from_lower(g, pm, 0.5))), 0);
    assert_true(fabs(lhs - rhs) < 1e-11 * (1 + fabs(lhs)));
    lg_graph_free(g);
    lg_tensor_free(gm);
    lg_tensor_free(pm);
}

static lg_tensor *f_sym(lg_graph *g, lg_tensor *const *in, int n, void *ctx)
{
    (void)n;
    switch (*(int *)ctx) {
    case 0: return wsum(g, la_sym_from_lower(g, in[0], 0.5));
    case 1: return wsum(g, la_fold_lower(g, in[0], 0.5));
    default: return wsum(g, la_sym_sandwich(g, in[1], in[0]));
    }
}

static void test_sym_sandwich_matches_two_matmuls_and_gradchecks(void **state)
{
    (void)state;
    lg_tensor *s = rmat(3, 3, 30), *v = rmat(4, 3, 31);
    lg_graph *g = lg_graph_new();
    for (int d = 0; d < 2; d++) {
        lg_dtype dt = d ? LG_F32 : LG_F64;
        lg_tensor *sd = in_dtype(g, s, dt), *vd = in_dtype(g, v, dt);
        lg_tensor *shat = lg_scale(g, lg_add(g, sd, lg_transpose(g, sd)), 0.5);
        lg_tensor *want = lg_matmul_t(g, lg_matmul(g, vd, shat), vd, false, true);
        assert_true(max_diff(la_sym_sandwich(g, vd, sd), want) < (d ? 1e-5 : 1e-13));
    }
    lg_tensor *in[2] = {s, v};
    const char *names[3] = {"la_sym_from_lower", "la_fold_lower", "la_sym_sandwich"};
    for (int k = 0; k < 3; k++)
        tu_gradcheck(f_sym, &k, in, k < 2 ? 1 : 2, true, names[k]);
    lg_graph_free(g);
    lg_tensor_free(s);
    lg_tensor_free(v);
}

/* ---- gap matrices ---- */

/* Distinct values, ascending (eigh) or descending (svd). */
static lg_tensor *spread(int64_t n, bool descending)
{
    double v[8];
    for (int64_t i = 0; i < n; i++)
        v[i] = descending ? 3.0 - 0.6 * (double)i : -1.0 + 0.7 * (double)i;
    lg_tensor *t = lg_tensor_from_data(LG_F64, 1, &n, v);
    assert_non_null(t);
    return t;
}

/* The composite formulas the gap ops replace (the former VJP bodies). */
static lg_tensor *eigh_gap_ref(lg_graph *g, lg_tensor *m, lg_tensor *lam, lg_tensor *glam)
{
    lg_tensor *k = lg_scale(g, lg_sub(g, m, lg_transpose(g, m)), 0.5);
    lg_tensor *e = lg_add(g, lg_sub(g, la_row(g, lam), la_col(g, lam)),
                          la_eye(g, lam->dtype, lam->numel));
    lg_tensor *o = lg_div(g, k, e);
    return glam ? lg_add(g, o, la_diag_embed(g, glam)) : o;
}

static lg_tensor *svd_gap_ref(lg_graph *g, lg_tensor *j, lg_tensor *k, lg_tensor *s,
                              lg_tensor *gs)
{
    lg_tensor *s2 = lg_mul(g, s, s);
    lg_tensor *e = lg_add(g, lg_sub(g, la_row(g, s2), la_col(g, s2)), la_eye(g, s->dtype,
                                                                            s->numel));
    lg_tensor *jt = lg_mul(g, lg_sub(g, j, lg_transpose(g, j)), la_row(g, s));
    lg_tensor *kt = lg_mul(g, la_col(g, s), lg_sub(g, k, lg_transpose(g, k)));
    lg_tensor *o = lg_div(g, lg_add(g, jt, kt), e);
    return gs ? lg_add(g, o, la_diag_embed(g, gs)) : o;
}

static lg_tensor *f_gap(lg_graph *g, lg_tensor *const *in, int n, void *ctx)
{
    (void)n;
    switch (*(int *)ctx) {
    case 0: return wsum(g, la_eigh_gap(g, in[0], in[2], in[3]));
    case 1: return wsum(g, la_eigh_gap(g, in[0], in[2], NULL));
    case 2: return wsum(g, la_svd_gap(g, in[0], in[1], in[2], in[3]));
    case 3: return wsum(g, la_svd_gap(g, in[0], NULL, in[2], NULL));
    default: return wsum(g, la_svd_gap(g, NULL, in[1], in[2], in[3]));
    }
}

static void test_gap_ops_match_composites_and_gradcheck(void **state)
{
    (void)state;
    /* 37 > one tile, so the tiled loop crosses tile edges. */
    const int64_t n = 5, big = 37;
    lg_tensor *j = rmat(big, big, 40), *k = rmat(big, big, 41);
    int64_t nb = big;
    lg_tensor *lam = tu_rand(1, &nb, 42, 0, 0), *gl = tu_rand(1, &nb, 43, 0, 0);
    double *lp = lg_tensor_data(lam);
    for (int64_t i = 0; i < big; i++)
        lp[i] = 0.3 * (double)i - 4.0 + 0.1 * lp[i];  /* ascending, gaps >= 0.1 */
    lg_graph *g = lg_graph_new();
    for (int d = 0; d < 2; d++) {
        lg_dtype dt = d ? LG_F32 : LG_F64;
        double tol = d ? 1e-3 : 1e-11;
        lg_tensor *jd = in_dtype(g, j, dt), *kd = in_dtype(g, k, dt);
        lg_tensor *ld = in_dtype(g, lam, dt), *gd = in_dtype(g, gl, dt);
        assert_true(max_diff(la_eigh_gap(g, jd, ld, gd), eigh_gap_ref(g, jd, ld, gd)) < tol);
        assert_true(max_diff(la_eigh_gap(g, jd, ld, NULL), eigh_gap_ref(g, jd, ld, NULL)) <
                    tol);
        assert_true(max_diff(la_svd_gap(g, jd, kd, ld, gd), svd_gap_ref(g, jd, kd, ld, gd)) <
                    tol);
    }
    lg_tensor *jn = rmat(n, n, 44), *kn = rmat(n, n, 45);
    lg_tensor *ls = spread(n, false), *ss = spread(n, true), *gv = tu_rand(1, &n, 46, 0, 0);
    const char *names[5] = {"la_eigh_gap", "la_eigh_gap no dλ", "la_svd_gap",
                            "la_svd_gap dU only", "la_svd_gap dV only"};
    for (int v = 0; v < 5; v++) {
        lg_tensor *in[4] = {jn, kn, v < 2 ? ls : ss, gv};
        tu_gradcheck(f_gap, &v, in, 4, true, names[v]);
    }
    lg_graph_free(g);
    lg_tensor *all[9] = {j, k, lam, gl, jn, kn, ls, ss, gv};
    for (int i = 0; i < 9; i++)
        lg_tensor_free(all[i]);
}

static void test_internal_ops_reject_mismatched_shapes(void **state)
{
    (void)state;
    int64_t three = 3;
    lg_tensor *a = rmat(3, 3, 50), *b = rmat(2, 3, 51), *v = tu_rand(1, &three, 52, 0, 0);
    lg_graph *g = lg_graph_new();
    assert_null(la_trmm(g, a, b, false, true, false, 1.0));
    assert_int_equal(lg_graph_status(g), LG_ERR_SHAPE);
    assert_non_null(strstr(lg_graph_errmsg(g), "la_trmm: A (3,3) (square) does not fit B (2,3)"));
    lg_graph_reset(g);
    assert_null(la_sym_sandwich(g, b, b));
    assert_int_equal(lg_graph_status(g), LG_ERR_SHAPE);
    lg_graph_reset(g);
    assert_null(la_eigh_gap(g, a, b, NULL));
    assert_int_equal(lg_graph_status(g), LG_ERR_SHAPE);
    lg_graph_reset(g);
    assert_null(la_svd_gap(g, b, NULL, v, NULL));
    assert_int_equal(lg_graph_status(g), LG_ERR_SHAPE);
    lg_graph_free(g);
    lg_tensor_free(a);
    lg_tensor_free(b);
    lg_tensor_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trmm_matches_masked_matmul_and_gradchecks),
        cmocka_unit_test(test_tri_inv_times_matrix_is_identity_and_gradchecks),
        cmocka_unit_test(test_tri_inv_reports_zero_diagonal_as_singular),
        cmocka_unit_test(test_sym_from_lower_and_fold_known_3x3_and_adjoint),
        cmocka_unit_test(test_sym_sandwich_matches_two_matmuls_and_gradchecks),
        cmocka_unit_test(test_gap_ops_match_composites_and_gradcheck),
        cmocka_unit_test(test_internal_ops_reject_mismatched_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
