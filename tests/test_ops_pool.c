/* Pooling ops: lg_max_pool2d, lg_avg_pool2d, lg_global_avg_pool2d and lg_flatten.
 * Forward values against PyTorch, max pooling's gradient by hand (first maximum, windows
 * that overlap), f64 gradcheck of first and second order, f32 against f64 at sizes that
 * take the threaded path, and the error paths. */
#include "ops_test_util.h"


typedef lg_tensor *(*pool_fn)(lg_graph *g, lg_tensor *x, const lg_pool2d_opts *o);

static lg_pool2d_opts popts(int kh, int kw, int sh, int sw, int ph, int pw)
{
    return (lg_pool2d_opts){{kh, kw}, {sh, sw}, {ph, pw}};
}

/* Runs f on the x of conv_torch_ref.py's pooling section, in f64 and f32. */
static void check_pool_fwd(pool_fn f, lg_pool2d_opts o, const int64_t *sy, const double *want,
                           double tol64, const char *what)
{
    int64_t sx[4] = {1, 2, 5, 5}, n = sy[0] * sy[1] * sy[2] * sy[3];
    for (int d = 0; d < 2; d++) {
        lg_dtype dt = d ? LG_F32 : LG_F64;
        lg_tensor *x = ot_pattern(dt, 4, sx, 7, 17, 4.0);
        lg_graph *g = lg_graph_new();
        lg_tensor *y = f(g, x, &o);
        ot_assert_shape(y, 4, sy);
        assert_int_equal(lg_tensor_dtype(y), dt);
        tu_assert_tensor_close(y, want, n, d ? 1e-7 : tol64, d ? 1e-6 : 0, what);
        lg_graph_free(g);
        lg_tensor_free(x);
    }
}

static void test_max_pool2d_forward_matches_torch(void **state)
{
    (void)state;
    /* tests/conv_torch_ref.py: F.max_pool2d(x, 3, 2, 1), F.max_pool2d(x, (2,3), (1,2),
     * (1,1)), F.max_pool2d(x, 3, None, 1) and F.max_pool2d(x, 2), torch 1.13. */
    static const double a[18] = {0, 1.75, 1, 0.5, 2, 1.5, 0.75, 0.75, 1.75,
                                 1.25, 1.25, 2, 1.75, 1.75, 1, 2, 2, 1.25};
    static const double b[36] = {
        -0.25, 1.5, 0.75, 0, 1.75, 1, 0.25, 2, 1.25, 0.5, 2, 1.5, 0.75, 0.75, 1.75, 0.75,
        0.75, 1.75, 1, 1, 2, 1.25, 1.25, 2, 1.5, 1.5, 0.75, 1.75, 1.75, 1, 2, 2, 1.25, 2, 2,
        1.25};
    check_pool_fwd(lg_max_pool2d, popts(3, 3, 2, 2, 1, 1), (int64_t[]){1, 2, 3, 3}, a, 0,
                   "max k3 s2 p1");
    check_pool_fwd(lg_max_pool2d, popts(2, 3, 1, 2, 1, 1), (int64_t[]){1, 2, 6, 3}, b, 0,
                   "max k(2,3) s(1,2) p(1,1)");
    /* stride 0 means stride = kernel (PyTorch's default): F.max_pool2d(x, 3, None, 1). */
    check_pool_fwd(lg_max_pool2d, popts(3, 3, 0, 0, 1, 1), (int64_t[]){1, 2, 2, 2},
                   (double[]){0, 1.75, 0.75, 2, 1.25, 2, 2, 1.25}, 0, "max k3 p1 default stride");
    /* F.max_pool2d(x, 2): the 2x2 stride-2 path. */
    check_pool_fwd(lg_max_pool2d, popts(2, 2, 0, 0, 0, 0), (int64_t[]){1, 2, 2, 2},
                   (double[]){0, 1.75, 0.5, 2, 1.25, 0.5, 1.75, 1}, 0, "max k2");
}

static void test_avg_pool2d_forward_matches_torch(void **state)
{
    (void)state;
    /* F.avg_pool2d(x, 3, 2, 1) and F.avg_pool2d(x, (2,3), (1,2), (1,1)), torch 1.13
     * (count_include_pad=True). */
    static const double a[18] = {
        -0.44444444444444442, 0.1388888888888889, 0, -0.41666666666666669,
        0.1111111111111111, 0.25, -0.1111111111111111, -0.30555555555555558,
        0.33333333333333331, 0.1111111111111111, 0.027777777777777776, 0.083333333333333329,
        0.41666666666666669, 0.41666666666666669, -0.33333333333333331, 0.44444444444444442,
        0.52777777777777779, -0.055555555555555552};
    static const double b[36] = {
        -0.375, 0.041666666666666664, -0.041666666666666664, -0.66666666666666663,
        0.20833333333333334, 0, -0.5, 0.45833333333333331, 0.16666666666666666,
        -0.33333333333333331, 0, 0.33333333333333331, -0.16666666666666666,
        -0.45833333333333331, 0.5, -0.041666666666666664, -0.16666666666666666,
        0.29166666666666669, 0.041666666666666664, -0.041666666666666664, 0.375,
        0.16666666666666666, 0.041666666666666664, 0.125, 0.33333333333333331,
        0.29166666666666669, -0.41666666666666669, 0.5, 0.54166666666666663, -0.25,
        0.66666666666666663, 0.79166666666666663, -0.083333333333333329, 0.375,
        0.45833333333333331, 0};
    check_pool_fwd(lg_avg_pool2d, popts(3, 3, 2, 2, 1, 1), (int64_t[]){1, 2, 3, 3}, a, 1e-15,
                   "avg k3 s2 p1");
    check_pool_fwd(lg_avg_pool2d, popts(2, 3, 1, 2, 1, 1), (int64_t[]){1, 2, 6, 3}, b, 1e-15,
                   "avg k(2,3) s(1,2) p(1,1)");
}

static void test_global_avg_pool2d_and_flatten_forward(void **state)
{
    (void)state;
    int64_t sx[4] = {1, 2, 5, 5}, sg[2] = {1, 2}, sf[2] = {1, 50}, sf2[3] = {1, 2, 25};
    for (int d = 0; d < 2; d++) {
        lg_dtype dt = d ? LG_F32 : LG_F64;
        lg_graph *g = lg_graph_new();
        lg_tensor *xc = ot_pattern(dt, 4, sx, 7, 17, 4.0);
        lg_tensor *x = lg_graph_input(g, dt, 4, sx, lg_tensor_data(xc));
        /* x.mean(dim=(2,3)) printed by torch 1.13: -0.04, 0.02. */
        lg_tensor *m = lg_global_avg_pool2d(g, x);
        ot_assert_shape(m, 2, sg);
        tu_assert_tensor_close(m, (double[]){-0.04, 0.02}, 2, d ? 1e-7 : 1e-16, 0, "global");
        lg_tensor *f = lg_flatten(g, x, 1), *f2 = lg_flatten(g, x, -2);
        ot_assert_shape(f, 2, sf);
        ot_assert_shape(f2, 3, sf2);
        /* A view: the same elements in the same order, not a copy. */
        assert_ptr_equal(lg_tensor_data(f), lg_tensor_data(x));
        assert_ptr_equal(lg_tensor_data(f2), lg_tensor_data(x));
        int64_t s1 = 50;
        ot_assert_shape(lg_flatten(g, x, 0), 1, &s1);
        lg_graph_free(g);
        lg_tensor_free(xc);
    }
}

/* ---- max pooling's gradient, by hand ---- */

static void max_pool_grad(int64_t h, int64_t w, const double *xv, lg_pool2d_opts o,
                          const double *want)
{
    int64_t sx[4] = {1, 1, h, w};
    lg_tensor *x = ot_tensor(LG_F64, 4, sx, xv);
    lg_tensor_set_requires_grad(x, true);
    lg_graph *g = lg_graph_new();
    assert_int_equal(lg_backward(g, lg_sum(g, lg_max_pool2d(g, x, &o))), LG_OK);
    tu_assert_tensor_close(lg_tensor_grad(x), want, h * w, 0, 0, "max pool gradient");
    lg_graph_free(g);
    lg_tensor_free(x);
}

static void test_max_pool2d_gradient_goes_to_the_first_maximum(void **state)
{
    (void)state;
    /* A 2x2 window of equal values: all of the gradient to the first (row-major). */
    max_pool_grad(2, 2, (double[]){1, 1, 1, 1}, popts(2, 2, 0, 0, 0, 0),
                  (double[]){1, 0, 0, 0});
    /* Overlapping windows [1,3] and [3,2] (kernel (1,2), stride 1) both pick the 3. */
    max_pool_grad(1, 3, (double[]){1, 3, 2}, popts(1, 2, 1, 1, 0, 0), (double[]){0, 2, 0});
    /* Padding never wins, even over negative values: kernel 3, padding 1 on a 2x2 of
     * negatives, one window holding all four cells; -1 is the largest. */
    max_pool_grad(2, 2, (double[]){-4, -1, -3, -2}, popts(3, 3, 2, 2, 1, 1),
                  (double[]){0, 1, 0, 0});
}

static void test_max_pool2d_propagates_nan_like_torch(void **state)
{
    (void)state;
    /* torch 1.13: F.max_pool2d([[1, nan, 5, 0], [3, 2, 1, 7]], 2) = [nan, 7], and the
     * gradient of its sum goes to the NaN and to the 7. */
    double xv[8] = {1, NAN, 5, 0, 3, 2, 1, 7};
    int64_t sx[4] = {1, 1, 2, 4};
    lg_tensor *x = ot_tensor(LG_F64, 4, sx, xv);
    lg_tensor_set_requires_grad(x, true);
    lg_graph *g = lg_graph_new();
    lg_pool2d_opts o = popts(2, 2, 0, 0, 0, 0);
    lg_tensor *y = lg_max_pool2d(g, x, &o);
    assert_non_null(y);
    assert_true(isnan(lg_tensor_item(y, 0)));
    tu_assert_near(lg_tensor_item(y, 1), 7, 0);
    int64_t s1[4] = {1, 1, 1, 2};
    lg_tensor *ones = lg_tensor_ones(LG_F64, 4, s1);
    assert_int_equal(lg_backward_ex(g, y, ones, false), LG_OK);
    tu_assert_tensor_close(lg_tensor_grad(x), (double[]){0, 1, 0, 0, 0, 0, 0, 1}, 8, 0, 0,
                           "NaN max pool gradient");
    lg_graph_free(g);
    lg_tensor_free(ones);
    lg_tensor_free(x);
}

/* Every 2x2 window over the values {0, 1, NaN} (81 of them side by side), in f64 and
 * f32: the output and the cell its gradient goes to are those of the row-major fold
 * PyTorch does (the first maximum; a NaN wins over numbers, the first NaN over NaNs),
 * computed here cell by cell; the 2x2 kernel reaches them column first. */
static void test_max_pool2d_2x2_ties_and_nans_match_the_fold(void **state)
{
    (void)state;
    enum { WIN = 81 };
    const double vals[3] = {0, 1, NAN};
    double xv[4 * WIN], want_y[WIN], want_g[4 * WIN] = {0};
    for (int k = 0; k < WIN; k++) {
        double cell[4];
        for (int j = 0, code = k; j < 4; j++, code /= 3)
            cell[j] = vals[code % 3];
        int best = 0;
        for (int j = 1; j < 4; j++)
            if (!(cell[j] <= cell[best]) && cell[best] == cell[best])
                best = j;
        /* cells 0, 1 on the top row, 2, 3 below it: columns 2k and 2k + 1 */
        for (int j = 0; j < 4; j++)
            xv[(j / 2) * 2 * WIN + 2 * k + j % 2] = cell[j];
        want_y[k] = cell[best];
        want_g[(best / 2) * 2 * WIN + 2 * k + best % 2] = 1;
    }
    int64_t sx[4] = {1, 1, 2, 2 * WIN}, sy[4] = {1, 1, 1, WIN};
    lg_pool2d_opts o = popts(2, 2, 0, 0, 0, 0);
    for (int d = 0; d < 2; d++) {
        lg_dtype dt = d ? LG_F32 : LG_F64;
        lg_tensor *x = ot_tensor(dt, 4, sx, xv), *ones = lg_tensor_ones(dt, 4, sy);
        lg_tensor_set_requires_grad(x, true);
        lg_graph *g = lg_graph_new();
        lg_tensor *y = lg_max_pool2d(g, x, &o);
        assert_non_null(y);
        for (int k = 0; k < WIN; k++) {
            double v = lg_tensor_item(y, k);
            if (isnan(want_y[k]))
                assert_true(isnan(v));
            else
                tu_assert_near(v, want_y[k], 0);
        }
        assert_int_equal(lg_backward_ex(g, y, ones, false), LG_OK);
        tu_assert_tensor_close(lg_tensor_grad(x), want_g, 4 * WIN, 0, 0,
                               "2x2 argmax against the fold");
        lg_graph_free(g);
        lg_tensor_free(ones);
        lg_tensor_free(x);
    }
}

/* ---- gradcheck, first and second order, f64 ---- */

typedef struct pool_case {
    pool_fn f;
    lg_pool2d_opts o;
} pool_case;

static lg_tensor *pool_op(lg_graph *g, lg_tensor *const *in, const void *p)
{
    const pool_case *c = p;
    return c->f(g, in[0], &c->o);
}

static void gradcheck_pool(pool_fn f, lg_pool2d_opts o, const int64_t *sx, uint64_t seed,
                           const char *what)
{
    lg_tensor *x = tu_rand(4, sx, seed, 0, 0);
    pool_case c = {f, o};
    ot_gradcheck(pool_op, &c, &x, 1, seed + 1, what);
    lg_tensor_free(x);
}

static void test_max_pool2d_gradcheck(void **state)
{
    (void)state;
    gradcheck_pool(lg_max_pool2d, popts(3, 3, 2, 2, 1, 1), (int64_t[]){2, 2, 5, 5}, 1,
                   "max k3 s2 p1");
    gradcheck_pool(lg_max_pool2d, popts(2, 3, 1, 2, 1, 1), (int64_t[]){1, 2, 4, 6}, 2,
                   "max k(2,3) s(1,2) p(1,1)");
    gradcheck_pool(lg_max_pool2d, popts(2, 2, 0, 0, 0, 0), (int64_t[]){2, 3, 4, 4}, 3,
                   "max k2");
    /* An odd last row and column that no 2x2 window covers: their gradient is 0. */
    gradcheck_pool(lg_max_pool2d, popts(2, 2, 0, 0, 0, 0), (int64_t[]){1, 2, 5, 7}, 31,
                   "max k2, odd sizes");
}

static void test_avg_pool2d_gradcheck(void **state)
{
    (void)state;
    gradcheck_pool(lg_avg_pool2d, popts(3, 3, 2, 2, 1, 1), (int64_t[]){2, 2, 5, 5}, 4,
                   "avg k3 s2 p1");
    gradcheck_pool(lg_avg_pool2d, popts(2, 3, 1, 2, 1, 1), (int64_t[]){1, 2, 4, 6}, 5,
                   "avg k(2,3) s(1,2) p(1,1)");
}

static lg_tensor *global_op(lg_graph *g, lg_tensor *const *in, const void *p)
{
    (void)p;
    return lg_global_avg_pool2d(g, in[0]);
}

static lg_tensor *flatten_op(lg_graph *g, lg_tensor *const *in, const void *p)
{
    return lg_flatten(g, in[0], *(const int *)p);
}

static void test_global_avg_pool2d_and_flatten_gradcheck(void **state)
{
    (void)state;
    lg_tensor *x = tu_rand(4, (int64_t[]){2, 3, 3, 4}, 6, 0, 0);
    ot_gradcheck(global_op, NULL, &x, 1, 7, "global avg");
    int starts[2] = {1, -2};
    for (int i = 0; i < 2; i++)
        ot_gradcheck(flatten_op, &starts[i], &x, 1, 8 + i, "flatten");
    lg_tensor_free(x);
}

/* ---- f32 against f64 above the OpenMP threshold ---- */

static void test_pooling_f32_matches_f64_on_large_inputs(void **state)
{
    (void)state;
    int64_t sx[4] = {8, 16, 17, 17}; /* 36992 elements > LG_OMP_MIN */
    /* Max pooling twice: the general path and the 2x2 stride-2 one. */
    pool_fn fs[3] = {lg_max_pool2d, lg_avg_pool2d, lg_max_pool2d};
    lg_pool2d_opts os[3] = {popts(3, 3, 2, 2, 1, 1), popts(3, 3, 2, 2, 1, 1),
                            popts(2, 2, 0, 0, 0, 0)};
    for (int k = 0; k < 3; k++) {
        lg_pool2d_opts o = os[k];
        bool avg = k == 1;
        double *ref[2] = {NULL, NULL};
        int64_t n[2];
        for (int d = 0; d < 2; d++) {
            lg_dtype dt = d ? LG_F32 : LG_F64;
            /* Values are multiples of 1/64 below 2^7: exact in f32, distinct in windows. */
            lg_tensor *x = ot_pattern(dt, 4, sx, 7919, 10007, 64.0);
            lg_tensor_set_requires_grad(x, true);
            lg_graph *g = lg_graph_new();
            lg_tensor *y = fs[k](g, x, &o);
            assert_int_equal(lg_backward(g, lg_sum(g, lg_mul(g, y, y))), LG_OK);
            const lg_tensor *outs[2] = {y, lg_tensor_grad(x)};
            for (int i = 0; i < 2; i++) {
                n[i] = lg_tensor_numel(outs[i]);
                double *v = malloc(sizeof *v * (size_t)n[i]);
                assert_non_null(v);
                for (int64_t j = 0; j < n[i]; j++)
                    v[j] = lg_tensor_item(outs[i], j);
                if (d == 0) {
                    ref[i] = v;
                } else {
                    /* max pooling is exact in f32 here; averages round. */
                    tu_assert_close_arr(v, ref[i], n[i], avg ? 1e-4 : 0, avg ? 1e-5 : 0,
                                        avg ? "avg f32 vs f64" : "max f32 vs f64");
                    free(v);
                }
            }
            lg_graph_free(g);
            lg_tensor_free(x);
        }
        free(ref[0]);
        free(ref[1]);
    }
}

/* ---- errors ---- */

static void test_pooling_rejects_bad_shapes_and_arguments(void **state)
{
    (void)state;
    int64_t s3[3] = {2, 5, 5}, s4[4] = {2, 3, 4, 4};
    lg_tensor *x3 = tu_rand(3, s3, 1, 0, 0), *x = tu_rand(4, s4, 2, 0, 0);
    lg_graph *g = lg_graph_new();
    pool_fn fs[2] = {lg_max_pool2d, lg_avg_pool2d};
    const char *names[2] = {"lg_max_pool2d", "lg_avg_pool2d"};
    lg_pool2d_opts ok = popts(2, 2, 0, 0, 0, 0), big = popts(5, 2, 0, 0, 0, 0);
    lg_pool2d_opts bad[4] = {popts(0, 2, 0, 0, 0, 0), popts(2, 2, -1, 0, 0, 0),
                             popts(2, 2, 0, 0, 2, 0), popts(3, 3, 1, 1, 0, -1)};
    for (int k = 0; k < 2; k++) {
        OT_EXPECT_ERROR(g, fs[k](g, x3, &ok), LG_ERR_SHAPE, names[k], "(2,5,5)");
        OT_EXPECT_ERROR(g, fs[k](g, x, &big), LG_ERR_SHAPE, names[k], "larger", "(2,3,4,4)",
                        "(5,2)");
        for (int i = 0; i < 4; i++)
            OT_EXPECT_ERROR(g, fs[k](g, x, &bad[i]), LG_ERR_ARG, names[k], "kernel");
        OT_EXPECT_ERROR(g, fs[k](g, NULL, &ok), LG_ERR_ARG, names[k], "NULL");
        /* NULL options are lg_pool2d_defaults(): a 2x2 window at stride 2 */
        lg_tensor *yd = fs[k](g, x, NULL), *y2 = fs[k](g, x, &ok);
        ot_assert_shape(yd, 4, (int64_t[]){2, 3, 2, 2});
        for (int64_t i = 0; i < lg_tensor_numel(y2); i++)
            assert_true(lg_tensor_item(yd, i) == lg_tensor_item(y2, i));
        assert_null(fs[k](NULL, x, &ok));
        assert_non_null(strstr(lg_last_errmsg(), names[k]));
    }
    OT_EXPECT_ERROR(g, lg_global_avg_pool2d(g, x3), LG_ERR_SHAPE, "lg_global_avg_pool2d",
                    "(2,5,5)");
    OT_EXPECT_ERROR(g, lg_global_avg_pool2d(g, NULL), LG_ERR_ARG, "lg_global_avg_pool2d",
                    "NULL");
    OT_EXPECT_ERROR(g, lg_flatten(g, x, 4), LG_ERR_ARG, "lg_flatten", "axis 4");
    OT_EXPECT_ERROR(g, lg_flatten(g, x, -5), LG_ERR_ARG, "lg_flatten", "axis -5");
    OT_EXPECT_ERROR(g, lg_flatten(g, NULL, 1), LG_ERR_ARG, "lg_flatten", "NULL");
    lg_tensor *s = lg_tensor_zeros(LG_F64, 0, NULL);
    OT_EXPECT_ERROR(g, lg_flatten(g, s, 0), LG_ERR_SHAPE, "lg_flatten", "rank");
    /* The graph still works afterwards. */
    int64_t sy[4] = {2, 3, 2, 2};
    ot_assert_shape(lg_max_pool2d(g, x, &ok), 4, sy);
    lg_graph_free(g);
    lg_tensor *all[3] = {x3, x, s};
    ot_free_all(all, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_max_pool2d_forward_matches_torch),
        cmocka_unit_test(test_avg_pool2d_forward_matches_torch),
        cmocka_unit_test(test_global_avg_pool2d_and_flatten_forward),
        cmocka_unit_test(test_max_pool2d_gradient_goes_to_the_first_maximum),
        cmocka_unit_test(test_max_pool2d_propagates_nan_like_torch),
        cmocka_unit_test(test_max_pool2d_2x2_ties_and_nans_match_the_fold),
        cmocka_unit_test(test_max_pool2d_gradcheck),
        cmocka_unit_test(test_avg_pool2d_gradcheck),
        cmocka_unit_test(test_global_avg_pool2d_and_flatten_gradcheck),
        cmocka_unit_test(test_pooling_f32_matches_f64_on_large_inputs),
        cmocka_unit_test(test_pooling_rejects_bad_shapes_and_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
