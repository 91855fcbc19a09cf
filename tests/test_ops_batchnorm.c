/* lg_batch_norm: forward values and running statistics against PyTorch, f64 gradchecks of
 * first and second order in training and eval mode, the fused double backward against the
 * same normalisation composed of plain ops, f32 against f64, a step that allocates nothing
 * after the first, and the error paths. */
#include "ops_test_util.h"
#include "test_alloc.h"

/* Inputs of the PyTorch reference below: x[i] = 2 sin(0.7 i) + 0.05 i. */
static void ref_x(double *x, int n)
{
    for (int i = 0; i < n; i++)
        x[i] = 2 * sin(0.7 * i) + 0.05 * i;
}

/* python3-torch 1.13, float64:
 *   x = xs(24).reshape(2,3,2,2); gamma = [1.5,-0.5,2]; beta = [0.1,0.2,-0.3]
 *   rm = [0.5,-0.5,0]; rv = [1,2,0.5]
 *   y = F.batch_norm(x, rm, rv, gamma, beta, training=True, momentum=0.1, eps=1e-5)
 *   ye = F.batch_norm(x, rm, rv, gamma, beta, training=False, eps=1e-5)  # updated rm, rv */
static const double TORCH_TRAIN_Y[24] = {
    -1.219694774221, 0.582495354842,  1.568751075482,  1.306884680886,  -0.183632122611,
    0.330572183377,  0.716391953908,  0.78322027381,   -3.994222537317, -1.864047880949,
    0.241099932933,  1.368348529557,  1.889617479274,  0.514849504731,  -1.26407274665,
    -2.578830574344, 0.605579516407,  0.305167370605,  -0.221479212135, -0.735819963361,
    2.088151028001,  1.708814771566,  0.070616970946,  -2.018760814738};
static const double TORCH_RM[3] = {0.5480099791272266, -0.4615986373635562, 0.147202580540183};
static const double TORCH_RV[3] = {1.0418288446275883, 1.9887210499610428, 0.6325630366758105};
static const double TORCH_EVAL_Y[24] = {
    -0.705340338748, 1.261587343096,  2.337996345132,  2.052192837405,  -0.272114772333,
    0.196443053125,  0.548013179228,  0.608909075835,  -2.839115380053, 0.545986052799,
    3.891316849889,  5.682649231112,  2.688193031715,  1.187758010108,  -0.753774885707,
    -2.188714254483, 0.447037683409,  0.173293453462,  -0.306602134187, -0.775284292489,
    6.826501197226,  6.223690671173,  3.62039910276,   0.300128760165};
/* x2 = xs(12).reshape(4,3), no affine, rm2 = 0, rv2 = 1, momentum 0.25, eps 1e-3 */
static const double TORCH_NC_Y[12] = {
    -0.193189329755, 0.556723710937, 0.836757930295,  1.388252739839,
    0.202644830802,  -0.851640868965, -1.409474653115, -1.675521515771,
    -1.126719268168, 0.214411243031, 0.916152974032,  1.141602206838};
static const double TORCH_NC_RM[3] = {0.0573059368399545, 0.15046747793600657,
                                      0.20519601228793988};
static const double TORCH_NC_RV[3] = {1.2189462823719082, 1.333141341638132,
                                      1.4936775513049318};

static const int64_t X4[4] = {2, 3, 2, 2}, C3 = 3;

static void test_batch_norm_train_then_eval_match_torch(void **state)
{
    (void)state;
    double x[24];
    ref_x(x, 24);
    for (int k = 0; k < 2; k++) {
        lg_dtype dt = k ? LG_F32 : LG_F64;
        double tol = k ? 2e-6 : 1e-11;
        lg_graph *g = lg_graph_new();
        lg_tensor *gamma = ot_tensor(dt, 1, &C3, (double[]){1.5, -0.5, 2});
        lg_tensor *beta = ot_tensor(dt, 1, &C3, (double[]){0.1, 0.2, -0.3});
        lg_tensor *rm = ot_tensor(dt, 1, &C3, (double[]){0.5, -0.5, 0});
        lg_tensor *rv = ot_tensor(dt, 1, &C3, (double[]){1, 2, 0.5});
        lg_tensor *xt = ot_input(g, dt, 4, X4, x);
        lg_tensor *y = lg_batch_norm(g, xt, gamma, beta, rm, rv, 0.1, 1e-5);
        tu_assert_tensor_close(y, TORCH_TRAIN_Y, 24, tol, tol, "train y");
        ot_assert_shape(y, 4, X4);
        tu_assert_tensor_close(rm, TORCH_RM, 3, tol, tol, "running_mean");
        tu_assert_tensor_close(rv, TORCH_RV, 3, tol, tol, "running_var (unbiased)");
        double after_train[3];
        for (int i = 0; i < 3; i++)
            after_train[i] = lg_tensor_item(rm, i);
        assert_true(lg_graph_set_training(g, false));
        tu_assert_tensor_close(lg_batch_norm(g, xt, gamma, beta, rm, rv, 0.1, 1e-5),
                               TORCH_EVAL_Y, 24, tol, tol, "eval y");
        tu_assert_tensor_close(rm, after_train, 3, 0, 0, "eval leaves running_mean alone");
        lg_graph_free(g);
        lg_tensor *ts[4] = {gamma, beta, rm, rv};
        ot_free_all(ts, 4);
    }
}

static void test_batch_norm_nc_without_affine_matches_torch(void **state)
{
    (void)state;
    double x[12];
    ref_x(x, 12);
    for (int k = 0; k < 2; k++) {
        lg_dtype dt = k ? LG_F32 : LG_F64;
        double tol = k ? 2e-6 : 1e-11;
        lg_graph *g = lg_graph_new();
        lg_tensor *rm = lg_tensor_zeros(dt, 1, &C3), *rv = lg_tensor_ones(dt, 1, &C3);
        lg_tensor *y = lg_batch_norm(g, ot_input(g, dt, 2, (int64_t[]){4, 3}, x), NULL, NULL,
                                     rm, rv, 0.25, 1e-3);
        tu_assert_tensor_close(y, TORCH_NC_Y, 12, tol, tol, "nc y");
        tu_assert_tensor_close(rm, TORCH_NC_RM, 3, tol, tol, "nc running_mean");
        tu_assert_tensor_close(rv, TORCH_NC_RV, 3, tol, tol, "nc running_var");
        lg_graph_free(g);
        lg_tensor_free(rm);
        lg_tensor_free(rv);
    }
}

/* In training the output of each channel has mean 0 and biased variance 1/(1 + eps/var):
 * checked on a tensor large enough for the threaded kernel. */
static void test_batch_norm_train_normalises_each_channel(void **state)
{
    (void)state;
    int64_t shape[4] = {8, 16, 16, 16};
    lg_tensor *x = tu_rand(4, shape, 7, -3, 5);
    lg_graph *g = lg_graph_new();
    lg_tensor *y = lg_batch_norm(g, x, NULL, NULL, NULL, NULL, 0.1, 0);
    assert_non_null(y);
    const double *p = lg_tensor_cdata(y);
    for (int64_t c = 0; c < 16; c++) {
        double s = 0, ss = 0;
        for (int64_t n = 0; n < 8; n++)
            for (int64_t i = 0; i < 256; i++) {
                double v = p[(n * 16 + c) * 256 + i];
                s += v;
                ss += v * v;
            }
        tu_assert_near(s / 2048, 0, 1e-12);
        tu_assert_near(ss / 2048, 1, 1e-12);
    }
    lg_graph_free(g);
    lg_tensor_free(x);
}

/* f32 statistics with a mean far from zero against a small spread (1000 + U(-1, 1)) and a
 * first plane shifted by 20 standard deviations (the kernel sums x - K, K = that plane's
 * mean, in one pass): the output matches the f64 computation to f32 precision. */
static void test_batch_norm_f32_large_mean_matches_f64(void **state)
{
    (void)state;
    int64_t shape[4] = {16, 2, 8, 8};
    lg_tensor *x64 = tu_rand(4, shape, 9, 999, 1001);
    double *p = lg_tensor_data(x64);
    for (int64_t c = 0; c < 2; c++)
        for (int64_t i = 0; i < 64; i++)
            p[c * 64 + i] += 11.0; /* sample 0: 19 times the uniform's deviation off */
    lg_tensor *x32 = ot_as_dtype(x64, LG_F32);
    lg_graph *g = lg_graph_new();
    lg_tensor *y64 = lg_batch_norm(g, x64, NULL, NULL, NULL, NULL, 0.1, 1e-5);
    lg_tensor *y32 = lg_batch_norm(g, x32, NULL, NULL, NULL, NULL, 0.1, 1e-5);
    assert_non_null(y64);
    assert_non_null(y32);
    const double *a = lg_tensor_cdata(y64);
    const float *b = lg_tensor_cdata(y32);
    for (int64_t i = 0; i < 16 * 2 * 64; i++)
        tu_assert_near(b[i], a[i], 2e-3);
    lg_graph_free(g);
    lg_tensor_free(x64);
    lg_tensor_free(x32);
}

/* ---- gradients ---- */

typedef struct bn_case {
    bool eval;
    bool affine;
    lg_tensor *rm, *rv; /* eval: the running statistics */
    double eps;
} bn_case;

static lg_tensor *bn_op(lg_graph *g, lg_tensor *const *in, const void *p)
{
    const bn_case *c = p;
    lg_graph_set_training(g, !c->eval);
    return lg_batch_norm(g, in[0], c->affine ? in[1] : NULL, c->affine ? in[2] : NULL, c->rm,
                         c->rv, 0.1, c->eps);
}

static void gradcheck_case(int ndim, const int64_t *xs, bn_case *c, const char *what)
{
    int64_t ch = xs[1];
    lg_tensor *in[3] = {tu_rand(ndim, xs, 11, 0, 0), tu_rand(1, &ch, 12, 0.5, 2),
                        tu_rand(1, &ch, 13, 0, 0)};
    if (c->eval) {
        c->rm = tu_rand(1, &ch, 14, 0, 0);
        c->rv = tu_rand(1, &ch, 15, 0.5, 2);
    }
    ot_gradcheck(bn_op, c, in, c->affine ? 3 : 1, 21, what);
    ot_free_all(in, 3);
    lg_tensor_free(c->rm);
    lg_tensor_free(c->rv);
}

static void test_batch_norm_train_nchw_gradcheck(void **state)
{
    (void)state;
    gradcheck_case(4, (int64_t[]){3, 2, 2, 3}, &(bn_case){.affine = true, .eps = 1e-5},
                   "bn train nchw affine");
    gradcheck_case(4, (int64_t[]){2, 3, 1, 2}, &(bn_case){.affine = false, .eps = 0.1},
                   "bn train nchw plain");
}

static void test_batch_norm_train_nc_gradcheck(void **state)
{
    (void)state;
    gradcheck_case(2, (int64_t[]){5, 3}, &(bn_case){.affine = true, .eps = 1e-5},
                   "bn train nc affine");
}

static void test_batch_norm_eval_gradcheck(void **state)
{
    (void)state;
    gradcheck_case(4, (int64_t[]){2, 3, 2, 2}, &(bn_case){.eval = true, .affine = true,
                                                          .eps = 1e-5}, "bn eval nchw");
    gradcheck_case(2, (int64_t[]){4, 2}, &(bn_case){.eval = true, .affine = true, .eps = 1e-5},
                   "bn eval nc");
}

/* The same normalisation composed of plain ops (as layer_norm is), for x (N, C, H, W). */
static lg_tensor *composed_bn(lg_graph *g, lg_tensor *x, lg_tensor *gamma, lg_tensor *beta,
                              double eps)
{
    int64_t cs[4] = {1, lg_tensor_shape(x)[1], 1, 1};
    lg_tensor *mu = lg_mean_axis(g, lg_mean_axis(g, lg_mean_axis(g, x, 3, true), 2, true), 0,
                                 true);
    lg_tensor *xc = lg_sub(g, x, mu);
    lg_tensor *sq = lg_mul(g, xc, xc);
    lg_tensor *var = lg_mean_axis(g, lg_mean_axis(g, lg_mean_axis(g, sq, 3, true), 2, true),
                                  0, true);
    lg_tensor *y = lg_mul(g, xc, lg_pow_scalar(g, lg_add_scalar(g, var, eps), -0.5));
    return lg_add(g, lg_mul(g, y, lg_reshape(g, gamma, 4, cs)), lg_reshape(g, beta, 4, cs));
}

typedef struct loss_ctx {
    bool composed;
    lg_tensor *w;
} loss_ctx;

/* Σ w ⊙ tanh(bn(x)): a loss whose Hessian couples every element. */
static lg_tensor *bn_loss(lg_graph *g, lg_tensor *const *in, int n, void *ctx)
{
    (void)n;
    loss_ctx *c = ctx;
    lg_tensor *y = c->composed ? composed_bn(g, in[0], in[1], in[2], 1e-3)
                               : lg_batch_norm(g, in[0], in[1], in[2], NULL, NULL, 0.1, 1e-3);
    return lg_sum(g, lg_mul(g, lg_tanh(g, y), c->w));
}

static void test_batch_norm_double_backward_matches_composed_ops(void **state)
{
    (void)state;
    int64_t xs[4] = {3, 2, 3, 2}, ch = 2;
    lg_tensor *x[3] = {tu_rand(4, xs, 31, 0, 0), tu_rand(1, &ch, 32, 0.5, 2),
                       tu_rand(1, &ch, 33, 0, 0)};
    lg_tensor *u[3] = {tu_rand(4, xs, 34, 0, 0), tu_rand(1, &ch, 35, 0, 0),
                       tu_rand(1, &ch, 36, 0, 0)};
    lg_tensor *w = tu_rand(4, xs, 37, 0, 0);
    double fused[160], plain[160];
    loss_ctx cf = {false, w}, cp = {true, w};
    int64_t k = ot_grad_and_hvp(LG_F64, bn_loss, &cf, x, u, 3, fused, 160);
    assert_int_equal(ot_grad_and_hvp(LG_F64, bn_loss, &cp, x, u, 3, plain, 160), k);
    tu_assert_close_arr(fused, plain, k, 1e-11, 1e-9, "fused vs composed grad and HVP");
    ot_free_all(x, 3);
    ot_free_all(u, 3);
    lg_tensor_free(w);
}

/* The f32 kernels against the f64 ones: gradient and HVP. */
static void test_batch_norm_f32_grads_match_f64(void **state)
{
    (void)state;
    int64_t xs[4] = {4, 3, 3, 3}, ch = 3;
    lg_tensor *x[3] = {tu_rand(4, xs, 41, 0, 0), tu_rand(1, &ch, 42, 0.5, 2),
                       tu_rand(1, &ch, 43, 0, 0)};
    lg_tensor *u[3] = {tu_rand(4, xs, 44, 0, 0), tu_rand(1, &ch, 45, 0, 0),
                       tu_rand(1, &ch, 46, 0, 0)};
    lg_tensor *w64 = tu_rand(4, xs, 47, 0, 0), *w32 = ot_as_dtype(w64, LG_F32);
    double d64[240], d32[240];
    loss_ctx c64 = {false, w64}, c32 = {false, w32};
    int64_t k = ot_grad_and_hvp(LG_F64, bn_loss, &c64, x, u, 3, d64, 240);
    assert_int_equal(ot_grad_and_hvp(LG_F32, bn_loss, &c32, x, u, 3, d32, 240), k);
    tu_assert_close_arr(d32, d64, k, 2e-4, 2e-3, "f32 vs f64 grad and HVP");
    ot_free_all(x, 3);
    ot_free_all(u, 3);
    lg_tensor_free(w64);
    lg_tensor_free(w32);
}

/* No-grad mode records nothing but still normalises with batch statistics and updates the
 * running ones (training is a flag of its own, as in PyTorch). */
static void test_batch_norm_no_grad_training_updates_running_stats(void **state)
{
    (void)state;
    double x[12];
    ref_x(x, 12);
    lg_graph *g = lg_graph_new();
    lg_graph_set_grad_enabled(g, false);
    lg_tensor *rm = lg_tensor_zeros(LG_F64, 1, &C3), *rv = lg_tensor_ones(LG_F64, 1, &C3);
    lg_tensor *xt = ot_input(g, LG_F64, 2, (int64_t[]){4, 3}, x);
    lg_tensor_set_requires_grad(rm, false);
    tu_assert_tensor_close(lg_batch_norm(g, xt, NULL, NULL, rm, rv, 0.25, 1e-3), TORCH_NC_Y,
                           12, 1e-11, 1e-11, "no-grad y");
    tu_assert_tensor_close(rm, TORCH_NC_RM, 3, 1e-12, 1e-12, "no-grad running_mean");
    assert_int_equal(lg_graph_num_ops(g), 0);
    lg_graph_free(g);
    lg_tensor_free(rm);
    lg_tensor_free(rv);
}

/* After the first, a training step (forward, backward) allocates nothing. */
static void test_batch_norm_step_allocates_nothing_after_the_first(void **state)
{
    (void)state;
    int64_t xs[4] = {4, 3, 5, 5};
    lg_tensor *x = tu_rand(4, xs, 51, 0, 0);
    lg_tensor *gamma = lg_tensor_ones(LG_F64, 1, &C3), *beta = lg_tensor_zeros(LG_F64, 1, &C3);
    lg_tensor *rm = lg_tensor_zeros(LG_F64, 1, &C3), *rv = lg_tensor_ones(LG_F64, 1, &C3);
    lg_tensor_set_requires_grad(gamma, true);
    lg_tensor_set_requires_grad(beta, true);
    lg_graph *g = lg_graph_new();
    counter c = {0};
    lg_allocator al = counter_allocator(&c);
    for (int step = 0; step < 3; step++) {
        if (step == 2)
            lg_set_allocator(&al);
        lg_graph_reset(g);
        lg_tensor *y = lg_batch_norm(g, x, gamma, beta, rm, rv, 0.1, 1e-5);
        assert_int_equal(lg_backward(g, lg_sum(g, lg_mul(g, y, y))), LG_OK);
    }
    lg_set_allocator(NULL);
    assert_int_equal(c.calls, 0);
    lg_graph_free(g);
    lg_tensor *ts[5] = {x, gamma, beta, rm, rv};
    ot_free_all(ts, 5);
}

/* ---- errors ---- */

static void test_batch_norm_rejects_bad_arguments(void **state)
{
    (void)state;
    lg_graph *g = lg_graph_new();
    lg_tensor *x = lg_graph_full(g, LG_F64, 4, X4, 1.0);
    lg_tensor *c3 = lg_tensor_ones(LG_F64, 1, &C3), *c2 = lg_tensor_ones(LG_F64, 1,
                                                                        (int64_t[]){2});
    lg_tensor *f3 = lg_tensor_ones(LG_F32, 1, &C3), *rv = lg_tensor_ones(LG_F64, 1, &C3);
    lg_tensor *x3 = lg_graph_full(g, LG_F64, 3, (int64_t[]){2, 3, 4}, 1.0);
    lg_tensor *one = lg_graph_full(g, LG_F64, 2, (int64_t[]){1, 3}, 1.0);

    assert_null(lg_batch_norm(NULL, x, NULL, NULL, NULL, NULL, 0.1, 1e-5));
    assert_non_null(strstr(lg_last_errmsg(), "lg_batch_norm"));
    OT_EXPECT_ERROR(g, lg_batch_norm(g, NULL, NULL, NULL, NULL, NULL, 0.1, 1e-5), LG_ERR_ARG,
                    "lg_batch_norm", "NULL");
    OT_EXPECT_ERROR(g, lg_batch_norm(g, x3, NULL, NULL, NULL, NULL, 0.1, 1e-5), LG_ERR_SHAPE,
                    "lg_batch_norm", "(N,C) or (N,C,H,W)", "(2,3,4)");
    OT_EXPECT_ERROR(g, lg_batch_norm(g, x, c2, NULL, NULL, NULL, 0.1, 1e-5), LG_ERR_SHAPE,
                    "gamma must be (3)", "(2)");
    OT_EXPECT_ERROR(g, lg_batch_norm(g, x, NULL, c2, NULL, NULL, 0.1, 1e-5), LG_ERR_SHAPE,
                    "beta must be (3)");
    OT_EXPECT_ERROR(g, lg_batch_norm(g, x, f3, NULL, NULL, NULL, 0.1, 1e-5), LG_ERR_DTYPE,
                    "gamma is f32");
    OT_EXPECT_ERROR(g, lg_batch_norm(g, x, NULL, NULL, f3, rv, 0.1, 1e-5), LG_ERR_DTYPE,
                    "running_mean is f32");
    OT_EXPECT_ERROR(g, lg_batch_norm(g, x, NULL, NULL, c3, NULL, 0.1, 1e-5), LG_ERR_ARG,
                    "both running_mean and running_var");
    OT_EXPECT_ERROR(g, lg_batch_norm(g, x, NULL, NULL, x, rv, 0.1, 1e-5), LG_ERR_ARG,
                    "running_mean must be a caller-owned tensor");
    lg_tensor_set_requires_grad(c3, true);
    OT_EXPECT_ERROR(g, lg_batch_norm(g, x, NULL, NULL, c3, rv, 0.1, 1e-5), LG_ERR_ARG,
                    "running_mean requires grad");
    lg_tensor_set_requires_grad(c3, false);
    OT_EXPECT_ERROR(g, lg_batch_norm(g, x, NULL, NULL, c3, rv, 1.5, 1e-5), LG_ERR_ARG,
                    "momentum", "1.5");
    OT_EXPECT_ERROR(g, lg_batch_norm(g, x, NULL, NULL, NULL, NULL, 0.1, -1), LG_ERR_ARG, "eps");
    OT_EXPECT_ERROR(g, lg_batch_norm(g, one, NULL, NULL, NULL, NULL, 0.1, 1e-5), LG_ERR_SHAPE,
                    "more than one value per channel", "(1,3)");
    lg_graph_set_training(g, false);
    OT_EXPECT_ERROR(g, lg_batch_norm(g, x, NULL, NULL, NULL, NULL, 0.1, 1e-5), LG_ERR_ARG,
                    "eval mode needs running_mean and running_var");
    /* in eval a single value per channel is fine */
    assert_non_null(lg_batch_norm(g, one, NULL, NULL, c3, rv, 0.1, 1e-5));
    lg_graph_free(g);
    lg_tensor *ts[4] = {c3, c2, f3, rv};
    ot_free_all(ts, 4);
}

/* An earlier error sticks: batch norm after a failed op returns NULL and keeps it. */
static void test_batch_norm_keeps_the_first_error(void **state)
{
    (void)state;
    lg_graph *g = lg_graph_new();
    lg_tensor *x = lg_graph_full(g, LG_F64, 4, X4, 1.0);
    assert_null(lg_matmul(g, x, x));
    lg_status first = lg_graph_status(g);
    assert_null(lg_batch_norm(g, x, NULL, NULL, NULL, NULL, 0.1, 1e-5));
    assert_int_equal(lg_graph_status(g), first);
    assert_null(strstr(lg_graph_errmsg(g), "lg_batch_norm"));
    lg_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_norm_train_then_eval_match_torch),
        cmocka_unit_test(test_batch_norm_nc_without_affine_matches_torch),
        cmocka_unit_test(test_batch_norm_train_normalises_each_channel),
        cmocka_unit_test(test_batch_norm_train_nchw_gradcheck),
        cmocka_unit_test(test_batch_norm_train_nc_gradcheck),
        cmocka_unit_test(test_batch_norm_eval_gradcheck),
        cmocka_unit_test(test_batch_norm_double_backward_matches_composed_ops),
        cmocka_unit_test(test_batch_norm_f32_grads_match_f64),
        cmocka_unit_test(test_batch_norm_f32_large_mean_matches_f64),
        cmocka_unit_test(test_batch_norm_no_grad_training_updates_running_stats),
        cmocka_unit_test(test_batch_norm_step_allocates_nothing_after_the_first),
        cmocka_unit_test(test_batch_norm_rejects_bad_arguments),
        cmocka_unit_test(test_batch_norm_keeps_the_first_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
