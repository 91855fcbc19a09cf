/* Options and flags: NULL options mean the defaults, each options struct has a
 * _defaults(), and flags replace runs of booleans (lg_solve_triangular). Values are
 * hand-computed. Pooling's and LoRA's NULL cases are in their own tests. */
#include "ops_test_util.h"

static void test_lr_cosine_defaults_run_from_base_to_zero(void **state)
{
    (void)state;
    lg_lr_cosine_config c = lg_lr_cosine_defaults(0.1, 100);
    double lr;
    assert_int_equal(lg_lr_cosine(&c, 0, &lr), LG_OK);
    tu_assert_near(lr, 0.1, 1e-15);
    assert_int_equal(lg_lr_cosine(&c, 50, &lr), LG_OK); /* (1 + cos(π/2)) / 2 = 1/2 */
    tu_assert_near(lr, 0.05, 1e-15);
    assert_int_equal(lg_lr_cosine(&c, 100, &lr), LG_OK);
    tu_assert_near(lr, 0.0, 1e-15);
}

static void test_pool_defaults_are_a_2x2_halving_window(void **state)
{
    (void)state;
    lg_pool2d_opts o = lg_pool2d_defaults();
    assert_int_equal(o.kernel[0], 2);
    assert_int_equal(o.kernel[1], 2);
    assert_int_equal(o.stride[0], 0); /* 0: equal to the kernel */
    assert_int_equal(o.padding[0], 0);
}

static void test_solve_triangular_takes_flags(void **state)
{
    (void)state;
    /* U = [[2,1],[0,4]], b = [4, 8]: U x = b gives x = [1, 2]; Uᵀ x = b gives
     * x = [2, 1.5] (2 x0 = 4, x0 + 4 x1 = 8); the lower triangle [[2,0],[0,4]] gives [2,2]. */
    lg_graph *g = lg_graph_new();
    lg_tensor *u = ot_input(g, LG_F64, 2, (int64_t[]){2, 2}, (double[]){2, 1, 0, 4});
    lg_tensor *b = ot_input(g, LG_F64, 1, (int64_t[]){2}, (double[]){4, 8});
    tu_assert_tensor_close(lg_solve_triangular(g, u, b, LG_TRI_UPPER), (double[]){1, 2}, 2,
                           1e-15, 0, "U x = b");
    tu_assert_tensor_close(lg_solve_triangular(g, u, b, LG_TRI_UPPER | LG_TRI_TRANSPOSE),
                           (double[]){2, 1.5}, 2, 1e-15, 0, "Uᵀ x = b");
    tu_assert_tensor_close(lg_solve_triangular(g, u, b, LG_TRI_LOWER), (double[]){2, 2}, 2,
                           1e-15, 0, "lower part");
    OT_EXPECT_ERROR(g, lg_solve_triangular(g, u, b, 4), LG_ERR_ARG, "lg_solve_triangular",
                    "unknown flags 0x4");
    lg_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lr_cosine_defaults_run_from_base_to_zero),
        cmocka_unit_test(test_pool_defaults_are_a_2x2_halving_window),
        cmocka_unit_test(test_solve_triangular_takes_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
