/* The linalg contract: the bugs an independent check found (cond of a zero matrix, lstsq
 * with an empty right-hand side, the cut NOT_SPD message), the one NaN rule for every
 * linalg function, and the public input limit of lg_hvp / lg_gradcheck. Expected values
 * are hand-computed or numpy's documented answers. */
#define _POSIX_C_SOURCE 200809L
#include "ops_test_util.h"
#include "test_quiet.h"

static void test_cond_of_zero_matrix_is_inf(void **state)
{
    (void)state;
    /* σmax = σmin = 0: the header promises +inf (0/0 gave NaN with LG_OK). numpy.linalg.cond
     * of zeros((2,2)) also returns inf. */
    lg_graph *g = lg_graph_new();
    lg_tensor *z = lg_graph_full(g, LG_F64, 2, (int64_t[]){2, 2}, 0);
    lg_tensor *c = lg_cond(g, z);
    assert_non_null(c);
    assert_int_equal(lg_graph_status(g), LG_OK);
    assert_true(isinf(lg_tensor_item(c, 0)) && lg_tensor_item(c, 0) > 0);
    /* rank-deficient but non-zero: σmin = 0 -> +inf too */
    lg_tensor *r1 = ot_input(g, LG_F32, 2, (int64_t[]){2, 2}, (double[]){1, 2, 2, 4});
    double cr = lg_tensor_item(lg_cond(g, r1), 0);
    assert_true(cr > 1e6); /* inf, or f32 rounding's huge σmax/σmin */
    lg_graph_free(g);
}

static void test_lstsq_with_empty_rhs_returns_empty_solution_silently(void **state)
{
    (void)state;
    /* numpy.linalg.lstsq(A (3,2), B (3,0)) gives x (2,0), residuals (0,), rank 2 and A's
     * singular values. A = [[1,0],[0,2],[0,0]]: σ = [2, 1] (by hand). */
    lg_graph *g = lg_graph_new();
    lg_tensor *a = ot_input(g, LG_F64, 2, (int64_t[]){3, 2}, (double[]){1, 0, 0, 2, 0, 0});
    lg_tensor *b = lg_graph_full(g, LG_F64, 2, (int64_t[]){3, 0}, 0);
    lg_lstsq_result r;
    quiet q;
    quiet_begin(&q);
    lg_status s = lg_lstsq(g, a, b, -1, &r);
    quiet_end(&q); /* fails if LAPACK printed */
    assert_int_equal(s, LG_OK);
    ot_assert_shape(r.solution, 2, (int64_t[]){2, 0});
    ot_assert_shape(r.residuals, 1, (int64_t[]){0});
    assert_int_equal(r.rank, 2);
    tu_assert_tensor_close(r.sv, (double[]){2, 1}, 2, 1e-15, 0, "singular values");
    lg_graph_free(g);
}

static void test_not_spd_message_is_complete(void **state)
{
    (void)state;
    lg_graph *g = lg_graph_new();
    lg_tensor *a = ot_input(g, LG_F64, 2, (int64_t[]){2, 2}, (double[]){1, 2, 2, 1});
    OT_EXPECT_ERROR(g, lg_cholesky(g, a), LG_ERR_NOT_SPD,
                    "lg_cholesky: matrix is not positive definite: its leading minor of "
                    "order 2 (rows and columns 0 to 1) is not positive");
    lg_graph_free(g);
}

static void test_every_linalg_function_refuses_nan_by_one_rule(void **state)
{
    (void)state;
    lg_graph *g = lg_graph_new();
    /* a NaN off the diagonal: even lg_trace, which never reads it, refuses (the rule is
     * about inputs, not about what a function happens to read) */
    const double av[4] = {1, NAN, 0, 1};
    lg_tensor *a = ot_input(g, LG_F64, 2, (int64_t[]){2, 2}, av);
    lg_tensor *v = ot_input(g, LG_F32, 1, (int64_t[]){3}, (double[]){1, INFINITY, 2});
    OT_EXPECT_ERROR(g, lg_trace(g, a), LG_ERR_NUMERIC, "lg_trace", "flat index 1");
    OT_EXPECT_ERROR(g, lg_norm_fro(g, a), LG_ERR_NUMERIC, "lg_norm_fro");
    OT_EXPECT_ERROR(g, lg_norm_l0(g, v), LG_ERR_NUMERIC, "lg_norm_l0", "flat index 1");
    OT_EXPECT_ERROR(g, lg_norm_l1(g, v), LG_ERR_NUMERIC, "lg_norm_l1");
    OT_EXPECT_ERROR(g, lg_norm_l2(g, v), LG_ERR_NUMERIC, "lg_norm_l2");
    OT_EXPECT_ERROR(g, lg_norm_linf(g, v), LG_ERR_NUMERIC, "lg_norm_linf");
    OT_EXPECT_ERROR(g, lg_cosine_similarity(g, v, v, 1e-8), LG_ERR_NUMERIC,
                    "lg_cosine_similarity");
    OT_EXPECT_ERROR(g, lg_cond(g, a), LG_ERR_NUMERIC, "lg_cond");
    OT_EXPECT_ERROR(g, lg_inv(g, a), LG_ERR_NUMERIC, "lg_inv");
    OT_EXPECT_ERROR(g, lg_det(g, a), LG_ERR_NUMERIC, "lg_det");
    /* the elementwise ops still propagate it */
    lg_tensor *s = lg_sum(g, a);
    assert_non_null(s);
    assert_true(isnan(lg_tensor_item(s, 0)));
    lg_graph_free(g);
}

static lg_tensor *sum_of_all(lg_graph *g, lg_tensor *const *in, int n, void *ctx)
{
    (void)ctx;
    lg_tensor *acc = lg_sum(g, in[0]);
    for (int i = 1; i < n; i++)
        acc = lg_add(g, acc, lg_sum(g, in[i]));
    return acc;
}

static void test_hvp_input_limit_is_public_and_enforced(void **state)
{
    (void)state;
    enum { N = LG_FN_MAX_INPUTS + 1 };
    lg_tensor *x[N], *v[N], *hv[N];
    for (int i = 0; i < N; i++) {
        x[i] = lg_tensor_ones(LG_F64, 1, (int64_t[]){1});
        v[i] = lg_tensor_ones(LG_F64, 1, (int64_t[]){1});
        hv[i] = lg_tensor_full(LG_F64, 1, (int64_t[]){1}, 7);
    }
    assert_int_equal(lg_hvp(sum_of_all, NULL, x, N, v, hv), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "at most 16 inputs"));
    /* exactly the limit works: the Hessian of a sum is zero */
    assert_int_equal(lg_hvp(sum_of_all, NULL, x, LG_FN_MAX_INPUTS, v, hv), LG_OK);
    assert_true(lg_tensor_item(hv[0], 0) == 0.0);
    assert_int_equal(lg_gradcheck(sum_of_all, NULL, x, N, NULL, NULL), LG_ERR_ARG);
    for (int i = 0; i < N; i++) {
        lg_tensor_free(x[i]);
        lg_tensor_free(v[i]);
        lg_tensor_free(hv[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cond_of_zero_matrix_is_inf),
        cmocka_unit_test(test_lstsq_with_empty_rhs_returns_empty_solution_silently),
        cmocka_unit_test(test_not_spd_message_is_complete),
        cmocka_unit_test(test_every_linalg_function_refuses_nan_by_one_rule),
        cmocka_unit_test(test_hvp_input_limit_is_public_and_enforced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
