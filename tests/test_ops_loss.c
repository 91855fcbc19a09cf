/* Losses, layer norm and dropout: lg_cross_entropy, lg_mse, lg_bce_with_logits,
 * lg_layer_norm and lg_dropout. Forward values against hand computation or identities,
 * stability at logits of 1e3 and 1e4, gradients against finite differences, and the
 * error paths. */
#include "ops_test_util.h"

static const lg_dtype DTYPES[2] = {LG_F32, LG_F64};

/* n int32 labels as an i32 graph tensor. */
static lg_tensor *labels_in(lg_graph *g, int64_t n, const int32_t *v)
{
    return lg_graph_input(g, LG_I32, 1, &n, v);
}

/* ---- cross-entropy ---- */

static void test_cross_entropy_matches_hand_value(void **state)
{
    (void)state;
    /* Row [0,0] with label 0: -log(1/2) = log 2. Row [0, ln 3] with label 1:
     * -log(3/4) = log(4/3). Mean: (log 2 + log(4/3)) / 2 = log(8/3) / 2. */
    const double xv[4] = {0, 0, 0, log(3.0)};
    const int32_t labels[2] = {0, 1};
    const double want = log(8.0 / 3.0) / 2;
    for (int d = 0; d < 2; d++) {
        lg_graph *g = lg_graph_new();
        lg_tensor *l = lg_cross_entropy(g, ot_input(g, DTYPES[d], 2, (int64_t[]){2, 2}, xv),
                                        labels_in(g, 2, labels));
        ot_assert_shape(l, 0, NULL);
        assert_int_equal(lg_tensor_dtype(l), DTYPES[d]);
        tu_assert_tensor_close(l, &want, 1, ot_tol(DTYPES[d]), 0, "cross-entropy");
        lg_graph_free(g);
    }
}

static void test_cross_entropy_equals_minus_mean_log_softmax_at_label(void **state)
{
    (void)state;
    /* An identity between two ops: CE = -mean_i log_softmax(x)_i[label_i]. */
    int64_t s[2] = {5, 4};
    const int32_t labels[5] = {3, 0, 2, 2, 1};
    lg_tensor *x = tu_rand(2, s, 31, 0, 0);
    double *xv = lg_tensor_data(x);
    for (int i = 0; i < 20; i++)
        xv[i] *= 3;
    for (int d = 0; d < 2; d++) {
        lg_graph *g = lg_graph_new();
        lg_tensor *xi = ot_input(g, DTYPES[d], 2, s, xv);
        lg_tensor *l = lg_cross_entropy(g, xi, labels_in(g, 5, labels));
        lg_tensor *ls = lg_log_softmax(g, xi, 1);
        assert_non_null(ls);
        double want = 0;
        for (int i = 0; i < 5; i++)
            want -= lg_tensor_item(ls, i * 4 + labels[i]) / 5;
        tu_assert_tensor_close(l, &want, 1, DTYPES[d] == LG_F32 ? 1e-5 : 1e-13, 0,
                               "CE = -mean log_softmax[label]");
        lg_graph_free(g);
    }
    lg_tensor_free(x);
}

static void test_cross_entropy_is_finite_at_logits_of_1e4(void **state)
{
    (void)state;
    /* Rows [1e4, 0, -1e4]: label 0 costs log(1 + e^-1e4 + e^-2e4) = 0, label 2 costs
     * 1e4 - (-1e4) = 2e4; mean 1e4. Gradient (softmax - onehot) / N with softmax
     * [1, 0, 0]: row 0 zeros, row 1 [1, 0, -1] / 2. */
    const double xv[6] = {1e4, 0, -1e4, 1e4, 0, -1e4};
    const int32_t labels[2] = {0, 2};
    const double want = 1e4, gwant[6] = {0, 0, 0, 0.5, 0, -0.5};
    for (int d = 0; d < 2; d++) {
        lg_tensor *x = ot_tensor(DTYPES[d], 2, (int64_t[]){2, 3}, xv);
        lg_tensor_set_requires_grad(x, true);
        lg_graph *g = lg_graph_new();
        lg_tensor *l = lg_cross_entropy(g, x, labels_in(g, 2, labels));
        tu_assert_tensor_close(l, &want, 1, 0, 1e-7, "CE at 1e4");
        assert_int_equal(lg_backward(g, l), LG_OK);
        tu_assert_tensor_close(lg_tensor_grad(x), gwant, 6, 1e-7, 0, "CE grad at 1e4");
        lg_graph_free(g);
        lg_tensor_free(x);
    }
}

static void test_cross_entropy_gradient_is_softmax_minus_onehot_over_n(void **state)
{
    (void)state;
    /* Logits [[0,0],[0,ln 3]], labels [0,1]: softmax rows [1/2,1/2] and [1/4,3/4], so
     * the gradient is [[-1/2, 1/2], [1/4, -1/4]] / 2 (by hand). */
    const double xv[4] = {0, 0, 0, log(3.0)}, want[4] = {-0.25, 0.25, 0.125, -0.125};
    const int32_t labels[2] = {0, 1};
    lg_tensor *x = ot_tensor(LG_F64, 2, (int64_t[]){2, 2}, xv);
    lg_tensor_set_requires_grad(x, true);
    lg_graph *g = lg_graph_new();
    assert_int_equal(lg_backward(g, lg_cross_entropy(g, x, labels_in(g, 2, labels))), LG_OK);
    tu_assert_tensor_close(lg_tensor_grad(x), want, 4, 1e-15, 0, "CE grad");
    lg_graph_free(g);
    lg_tensor_free(x);
}

static void test_cross_entropy_copies_labels(void **state)
{
    (void)state;
    /* The labels are copied: changing the caller's (wrapped) array after the call does
     * not move the gradient, which is computed later in backward. */
    const double xv[4] = {0, 0, 0, log(3.0)}, want[4] = {-0.25, 0.25, 0.125, -0.125};
    int32_t labels[2] = {0, 1};
    lg_tensor *x = ot_tensor(LG_F64, 2, (int64_t[]){2, 2}, xv);
    lg_tensor_set_requires_grad(x, true);
    lg_graph *g = lg_graph_new();
    lg_tensor *y = lg_tensor_wrap(LG_I32, 1, (int64_t[]){2}, labels);
    lg_tensor *l = lg_cross_entropy(g, x, y);
    labels[0] = 1;
    labels[1] = 0;
    assert_int_equal(lg_backward(g, l), LG_OK);
    tu_assert_tensor_close(lg_tensor_grad(x), want, 4, 1e-15, 0, "CE grad, labels changed");
    lg_graph_free(g);
    lg_tensor_free(x);
    lg_tensor_free(y);
}

static void test_cross_entropy_rejects_bad_labels_and_shapes(void **state)
{
    (void)state;
    lg_graph *g = lg_graph_new();
    lg_tensor *x = lg_graph_full(g, LG_F64, 2, (int64_t[]){3, 4}, 0);
    const int32_t hv[3] = {0, 1, 4}, lv[3] = {0, -1, 2}, okv[3] = {0, 1, 3};
    int32_t ov[3] = {0, 1, 3};
    int64_t i64v[3] = {0, 1, 3};
    /* caller-owned label tensors: they outlive the graph's resets inside OT_EXPECT_ERROR */
    lg_tensor *high = lg_tensor_from_data(LG_I32, 1, (int64_t[]){3}, hv);
    lg_tensor *low = lg_tensor_from_data(LG_I32, 1, (int64_t[]){3}, lv);
    lg_tensor *ok = lg_tensor_from_data(LG_I32, 1, (int64_t[]){3}, okv);
    lg_tensor *ok64 = lg_tensor_from_data(LG_I64, 1, (int64_t[]){3}, i64v);
    lg_tensor *flt = lg_tensor_zeros(LG_F32, 1, (int64_t[]){3});
    lg_tensor *shortl = lg_tensor_wrap(LG_I32, 1, (int64_t[]){2}, ov);
    lg_tensor *col = lg_tensor_wrap(LG_I32, 2, (int64_t[]){3, 1}, ov);
    OT_EXPECT_ERROR(g, lg_cross_entropy(g, x, high), LG_ERR_ARG, "lg_cross_entropy", "row 2",
                    "label 4");
    OT_EXPECT_ERROR(g, lg_cross_entropy(g, x, low), LG_ERR_ARG, "lg_cross_entropy", "row 1",
                    "label -1");
    OT_EXPECT_ERROR(g, lg_cross_entropy(g, x, NULL), LG_ERR_ARG, "lg_cross_entropy");
    OT_EXPECT_ERROR(g, lg_cross_entropy(g, NULL, ok), LG_ERR_ARG, "lg_cross_entropy");
    /* float labels, a short label buffer and an (N,1) column are caught, not misread */
    OT_EXPECT_ERROR(g, lg_cross_entropy(g, x, flt), LG_ERR_DTYPE, "lg_cross_entropy",
                    "labels are f32; need i32 or i64");
    OT_EXPECT_ERROR(g, lg_cross_entropy(g, x, shortl), LG_ERR_SHAPE, "lg_cross_entropy", "(2)",
                    "need (3)");
    OT_EXPECT_ERROR(g, lg_cross_entropy(g, x, col), LG_ERR_SHAPE, "lg_cross_entropy", "(3,1)");
    lg_tensor *v = lg_graph_full(g, LG_F64, 1, (int64_t[]){4}, 0);
    OT_EXPECT_ERROR(g, lg_cross_entropy(g, v, ok), LG_ERR_SHAPE, "lg_cross_entropy", "(4)");
    lg_tensor *e = lg_graph_full(g, LG_F64, 2, (int64_t[]){0, 4}, 0);
    OT_EXPECT_ERROR(g, lg_cross_entropy(g, e, ok), LG_ERR_SHAPE, "lg_cross_entropy", "(0,4)");
    assert_non_null(lg_cross_entropy(g, x, ok));
    /* i64 labels (PyTorch's habit) give the same loss as i32 ones */
    double l32 = lg_tensor_item(lg_cross_entropy(g, x, ok), 0);
    assert_true(l32 == lg_tensor_item(lg_cross_entropy(g, x, ok64), 0));
    lg_graph_free(g);
    lg_tensor *ts[7] = {high, low, ok, ok64, flt, shortl, col};
    for (int i = 0; i < 7; i++)
        lg_tensor_free(ts[i]);
}

/* ---- mse ---- */

static void test_mse_matches_hand_value(void **state)
{
    (void)state;
    /* a = [1,2,3], b = [1,0,0]: (0 + 4 + 9) / 3 = 13/3. */
    const double av[3] = {1, 2, 3}, bv[3] = {1, 0, 0}, want = 13.0 / 3;
    for (int d = 0; d < 2; d++) {
        lg_graph *g = lg_graph_new();
        lg_tensor *l = lg_mse(g, ot_input(g, DTYPES[d], 1, (int64_t[]){3}, av),
                              ot_input(g, DTYPES[d], 1, (int64_t[]){3}, bv));
        ot_assert_shape(l, 0, NULL);
        tu_assert_tensor_close(l, &want, 1, ot_tol(DTYPES[d]), 0, "mse");
        lg_graph_free(g);
    }
}

static void test_mse_rejects_shape_dtype_and_null(void **state)
{
    (void)state;
    lg_graph *g = lg_graph_new();
    lg_tensor *a = lg_graph_full(g, LG_F64, 1, (int64_t[]){3}, 0);
    lg_tensor *b = lg_graph_full(g, LG_F64, 1, (int64_t[]){4}, 0);
    lg_tensor *r = lg_graph_full(g, LG_F64, 2, (int64_t[]){1, 3}, 0);
    lg_tensor *f = lg_graph_full(g, LG_F32, 1, (int64_t[]){3}, 0);
    OT_EXPECT_ERROR(g, lg_mse(g, a, b), LG_ERR_SHAPE, "lg_mse", "(3)", "(4)");
    /* (3) and (1,3) broadcast, but mse wants equal shapes. */
    OT_EXPECT_ERROR(g, lg_mse(g, a, r), LG_ERR_SHAPE, "lg_mse", "(1,3)");
    OT_EXPECT_ERROR(g, lg_mse(g, a, f), LG_ERR_DTYPE, "lg_mse");
    OT_EXPECT_ERROR(g, lg_mse(g, NULL, a), LG_ERR_ARG, "lg_mse");
    OT_EXPECT_ERROR(g, lg_mse(g, a, NULL), LG_ERR_ARG, "lg_mse");
    lg_graph_free(g);
}

/* ---- bce_with_logits ---- */

/* -[y log σ(x) + (1-y) log(1-σ(x))], straight from the definition (moderate x only). */
static double naive_bce(double x, double y)
{
    double s = 1 / (1 + exp(-x));
    return -(y * log(s) + (1 - y) * log(1 - s));
}

static void test_bce_with_logits_matches_definition(void **state)
{
    (void)state;
    const double xv[4] = {0, 2, -1, 0.5}, yv[4] = {1, 0.25, 0, 0.5};
    double want = 0;
    for (int i = 0; i < 4; i++)
        want += naive_bce(xv[i], yv[i]) / 4;
    for (int d = 0; d < 2; d++) {
        lg_graph *g = lg_graph_new();
        lg_tensor *l = lg_bce_with_logits(g, ot_input(g, DTYPES[d], 2, (int64_t[]){2, 2}, xv),
                                          ot_input(g, DTYPES[d], 2, (int64_t[]){2, 2}, yv));
        ot_assert_shape(l, 0, NULL);
        tu_assert_tensor_close(l, &want, 1, DTYPES[d] == LG_F32 ? 1e-6 : 1e-14, 0, "bce");
        lg_graph_free(g);
    }
}

static void test_bce_with_logits_is_finite_at_logits_of_1e3(void **state)
{
    (void)state;
    /* σ(±1e3) is 0 or 1 in floating point, so the naive form would take log 0. The
     * stable form gives, per element, max(x,0) - x y + log1p(e^-|x|):
     * (1e3, 1) → 0, (-1e3, 0) → 0, (1e3, 0) → 1e3, (-1e3, 1) → 1e3; mean 500.
     * Gradients / 4: logits (σ(x) - y) = [0, 0, 1, -1]; targets -x = [-1e3, 1e3, -1e3, 1e3]. */
    const double xv[4] = {1e3, -1e3, 1e3, -1e3}, yv[4] = {1, 0, 0, 1};
    const double want = 500, gx[4] = {0, 0, 0.25, -0.25}, gy[4] = {-250, 250, -250, 250};
    for (int d = 0; d < 2; d++) {
        lg_tensor *x = ot_tensor(DTYPES[d], 1, (int64_t[]){4}, xv);
        lg_tensor *y = ot_tensor(DTYPES[d], 1, (int64_t[]){4}, yv);
        lg_tensor_set_requires_grad(x, true);
        lg_tensor_set_requires_grad(y, true);
        lg_graph *g = lg_graph_new();
        lg_tensor *l = lg_bce_with_logits(g, x, y);
        tu_assert_tensor_close(l, &want, 1, 0, 1e-12, "bce at 1e3");
        assert_int_equal(lg_backward(g, l), LG_OK);
        tu_assert_tensor_close(lg_tensor_grad(x), gx, 4, 1e-12, 0, "bce d/dlogits at 1e3");
        tu_assert_tensor_close(lg_tensor_grad(y), gy, 4, 0, 1e-12, "bce d/dtargets at 1e3");
        lg_graph_free(g);
        lg_tensor_free(x);
        lg_tensor_free(y);
    }
}

static void test_bce_with_logits_rejects_shape_dtype_and_null(void **state)
{
    (void)state;
    lg_graph *g = lg_graph_new();
    lg_tensor *a = lg_graph_full(g, LG_F64, 1, (int64_t[]){3}, 0);
    lg_tensor *b = lg_graph_full(g, LG_F64, 1, (int64_t[]){4}, 0);
    lg_tensor *e = lg_graph_full(g, LG_F64, 1, (int64_t[]){0}, 0);
    lg_tensor *f = lg_graph_full(g, LG_F32, 1, (int64_t[]){3}, 0);
    OT_EXPECT_ERROR(g, lg_bce_with_logits(g, a, b), LG_ERR_SHAPE, "lg_bce_with_logits", "(3)",
                    "(4)");
    /* The mean of nothing is undefined: an empty input is refused. */
    OT_EXPECT_ERROR(g, lg_bce_with_logits(g, e, e), LG_ERR_SHAPE, "lg_bce_with_logits", "(0)");
    OT_EXPECT_ERROR(g, lg_bce_with_logits(g, a, f), LG_ERR_DTYPE, "lg_bce_with_logits");
    OT_EXPECT_ERROR(g, lg_bce_with_logits(g, NULL, a), LG_ERR_ARG, "lg_bce_with_logits");
    OT_EXPECT_ERROR(g, lg_bce_with_logits(g, a, NULL), LG_ERR_ARG, "lg_bce_with_logits");
    lg_graph_free(g);
}

/* ---- layer_norm ---- */

static void test_layer_norm_matches_hand_values(void **state)
{
    (void)state;
    /* Row [1,2,3]: mean 2, biased variance (1 + 0 + 1) / 3 = 2/3, so with eps 0 it maps
     * to [-1,0,1] / sqrt(2/3) = [-r, 0, r], r = sqrt(3/2). Row [2,2,5]: mean 3,
     * variance (1 + 1 + 4) / 3 = 2, so [-1,-1,2] / sqrt(2). With eps = 1 the first row
     * becomes [-1,0,1] / sqrt(5/3) and the second [-1,-1,2] / sqrt(3).
     * gamma [1,2,3] and beta [0,1,0] then scale and shift the columns. */
    const double xv[6] = {1, 2, 3, 2, 2, 5}, gv[3] = {1, 2, 3}, bv[3] = {0, 1, 0};
    const double r = sqrt(1.5), q = 1 / sqrt(2.0);
    const double e1 = 1 / sqrt(5.0 / 3), e2 = 1 / sqrt(3.0);
    const double plain[6] = {-r, 0, r, -q, -q, 2 * q};
    const double affine[6] = {-r, 1, 3 * r, -q, 1 - 2 * q, 6 * q};
    const double gonly[6] = {-r, 0, 3 * r, -q, -2 * q, 6 * q};
    const double bonly[6] = {-r, 1, r, -q, 1 - q, 2 * q};
    const double eps1[6] = {-e1, 0, e1, -e2, -e2, 2 * e2};
    int64_t s[2] = {2, 3}, d3 = 3;
    for (int d = 0; d < 2; d++) {
        double tol = DTYPES[d] == LG_F32 ? 1e-6 : 1e-14;
        lg_graph *g = lg_graph_new();
        lg_tensor *x = ot_input(g, DTYPES[d], 2, s, xv);
        lg_tensor *gm = ot_input(g, DTYPES[d], 1, &d3, gv);
        lg_tensor *bt = ot_input(g, DTYPES[d], 1, &d3, bv);
        lg_tensor *y = lg_layer_norm(g, x, NULL, NULL, 0);
        ot_assert_shape(y, 2, s);
        tu_assert_tensor_close(y, plain, 6, tol, tol, "layer norm");
        tu_assert_tensor_close(lg_layer_norm(g, x, gm, bt, 0), affine, 6, tol, tol,
                               "layer norm, gamma and beta");
        tu_assert_tensor_close(lg_layer_norm(g, x, gm, NULL, 0), gonly, 6, tol, tol,
                               "layer norm, gamma only");
        tu_assert_tensor_close(lg_layer_norm(g, x, NULL, bt, 0), bonly, 6, tol, tol,
                               "layer norm, beta only");
        tu_assert_tensor_close(lg_layer_norm(g, x, NULL, NULL, 1.0), eps1, 6, tol, tol,
                               "layer norm, eps 1");
        lg_graph_free(g);
    }
}

static void test_layer_norm_rows_have_zero_mean_and_unit_variance(void **state)
{
    (void)state;
    /* Rows of (2,3,16) drawn with mean 5 and spread 3: after the norm each row (last
     * axis) has mean 0 and biased variance v / (v + eps), within 1e-5 of 1 for eps 1e-5. */
    int64_t s[3] = {2, 3, 16};
    lg_tensor *x = tu_rand(3, s, 41, 2, 8);
    for (int d = 0; d < 2; d++) {
        lg_graph *g = lg_graph_new();
        lg_tensor *y = lg_layer_norm(g, ot_input(g, DTYPES[d], 3, s, lg_tensor_cdata(x)), NULL,
                                     NULL, 1e-5);
        assert_non_null(y);
        for (int row = 0; row < 6; row++) {
            double m = 0, v = 0;
            for (int j = 0; j < 16; j++)
                m += lg_tensor_item(y, row * 16 + j) / 16;
            for (int j = 0; j < 16; j++)
                v += pow(lg_tensor_item(y, row * 16 + j) - m, 2) / 16;
            assert_float_equal(m, 0, 1e-6);
            assert_float_equal(v, 1, 2e-5);
        }
        lg_graph_free(g);
    }
    lg_tensor_free(x);
}

static void test_layer_norm_rejects_bad_arguments(void **state)
{
    (void)state;
    lg_graph *g = lg_graph_new();
    lg_tensor *x = lg_graph_full(g, LG_F64, 2, (int64_t[]){2, 3}, 1);
    lg_tensor *g4 = lg_graph_full(g, LG_F64, 1, (int64_t[]){4}, 1);
    lg_tensor *g13 = lg_graph_full(g, LG_F64, 2, (int64_t[]){1, 3}, 1);
    lg_tensor *g3f = lg_graph_full(g, LG_F32, 1, (int64_t[]){3}, 1);
    lg_tensor *g3 = lg_graph_full(g, LG_F64, 1, (int64_t[]){3}, 1);
    OT_EXPECT_ERROR(g, lg_layer_norm(g, x, g4, NULL, 1e-5), LG_ERR_SHAPE, "lg_layer_norm",
                    "gamma", "(4)");
    OT_EXPECT_ERROR(g, lg_layer_norm(g, x, g3, g13, 1e-5), LG_ERR_SHAPE, "lg_layer_norm",
                    "beta", "(1,3)");
    OT_EXPECT_ERROR(g, lg_layer_norm(g, x, g3f, NULL, 1e-5), LG_ERR_DTYPE, "lg_layer_norm",
                    "gamma", "f32");
    OT_EXPECT_ERROR(g, lg_layer_norm(g, x, NULL, g3f, 1e-5), LG_ERR_DTYPE, "beta");
    OT_EXPECT_ERROR(g, lg_layer_norm(g, x, NULL, NULL, -1e-5), LG_ERR_ARG, "lg_layer_norm",
                    "eps");
    OT_EXPECT_ERROR(g, lg_layer_norm(g, x, NULL, NULL, NAN), LG_ERR_ARG, "lg_layer_norm");
    lg_tensor *s = lg_graph_full(g, LG_F64, 0, NULL, 1);
    OT_EXPECT_ERROR(g, lg_layer_norm(g, s, NULL, NULL, 1e-5), LG_ERR_SHAPE, "lg_layer_norm");
    lg_tensor *e = lg_graph_full(g, LG_F64, 2, (int64_t[]){2, 0}, 1);
    OT_EXPECT_ERROR(g, lg_layer_norm(g, e, NULL, NULL, 1e-5), LG_ERR_SHAPE, "lg_layer_norm",
                    "(2,0)");
    OT_EXPECT_ERROR(g, lg_layer_norm(g, NULL, NULL, NULL, 1e-5), LG_ERR_ARG, "lg_layer_norm");
    lg_graph_free(g);
}

/* ---- dropout ---- */

static void test_dropout_zeroes_about_p_and_scales_the_rest(void **state)
{
    (void)state;
    /* On 4000 ones with p = 0.3: the zero fraction is 0.3 within 0.03 (about 4 standard
     * deviations of a binomial; the seed fixes the draw, so this is deterministic), and
     * every kept value is 1 / (1 - 0.3). */
    int64_t n = 4000;
    for (int d = 0; d < 2; d++) {
        lg_rng r;
        lg_rng_init(&r, 1234);
        lg_graph *g = lg_graph_new();
        lg_tensor *y = lg_dropout(g, lg_graph_full(g, DTYPES[d], 1, &n, 1.0), 0.3, &r);
        ot_assert_shape(y, 1, &n);
        int64_t zeros = 0;
        double keep = DTYPES[d] == LG_F32 ? (double)(float)(1 / 0.7) : 1 / 0.7;
        for (int64_t i = 0; i < n; i++) {
            double v = lg_tensor_item(y, i);
            if (v == 0)
                zeros++;
            else
                assert_float_equal(v, keep, 1e-15);
        }
        assert_float_equal((double)zeros / (double)n, 0.3, 0.03);
        lg_graph_free(g);
    }
}

static void test_dropout_same_seed_gives_same_mask(void **state)
{
    (void)state;
    /* Two graphs, two rngs with seed 7: identical outputs. A second call on the same
     * rng draws a fresh mask (the counter moved on), and seed 8 differs too. */
    int64_t n = 200;
    lg_tensor *x = tu_rand(1, &n, 51, 0, 0);
    lg_rng r1, r2, r3;
    lg_rng_init(&r1, 7);
    lg_rng_init(&r2, 7);
    lg_rng_init(&r3, 8);
    lg_graph *g1 = lg_graph_new(), *g2 = lg_graph_new();
    lg_tensor *a = lg_dropout(g1, x, 0.5, &r1), *b = lg_dropout(g2, x, 0.5, &r2);
    lg_tensor *c = lg_dropout(g1, x, 0.5, &r1), *e = lg_dropout(g2, x, 0.5, &r3);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_non_null(e);
    assert_memory_equal(lg_tensor_cdata(a), lg_tensor_cdata(b), sizeof(double) * 200);
    int same_next = 1, same_seed8 = 1;
    for (int64_t i = 0; i < n; i++) {
        same_next &= (lg_tensor_item(a, i) == 0) == (lg_tensor_item(c, i) == 0);
        same_seed8 &= (lg_tensor_item(a, i) == 0) == (lg_tensor_item(e, i) == 0);
    }
    assert_false(same_next);
    assert_false(same_seed8);
    lg_graph_free(g1);
    lg_graph_free(g2);
    lg_tensor_free(x);
}

static void test_dropout_in_eval_mode_or_p_zero_returns_x(void **state)
{
    (void)state;
    int64_t n = 10;
    lg_tensor *x = tu_rand(1, &n, 52, 0, 0);
    lg_rng r;
    lg_rng_init(&r, 3);
    lg_graph *g = lg_graph_new();
    assert_true(lg_graph_set_training(g, false)); /* the default was training */
    assert_ptr_equal(lg_dropout(g, x, 0.5, &r), x);
    assert_ptr_equal(lg_dropout(g, x, 0.5, NULL), x); /* no rng needed in evaluation */
    assert_int_equal(r.counter, 0);                    /* and none drawn */
    assert_false(lg_graph_set_training(g, true));
    assert_ptr_equal(lg_dropout(g, x, 0.0, &r), x);
    assert_int_equal(lg_graph_status(g), LG_OK);
    lg_graph_free(g);
    lg_tensor_free(x);
}

static void test_dropout_gradient_equals_the_mask(void **state)
{
    (void)state;
    /* y = x ⊙ m, so d Σy / dx = m: 0 where y was dropped, 1/(1-p) where kept; and
     * y = x ⊙ grad holds element by element. */
    int64_t n = 50;
    double p = 0.4;
    lg_tensor *x = tu_rand(1, &n, 53, 1, 2); /* never 0, so a zero in y means dropped */
    lg_tensor_set_requires_grad(x, true);
    lg_rng r;
    lg_rng_init(&r, 99);
    lg_graph *g = lg_graph_new();
    lg_tensor *y = lg_dropout(g, x, p, &r);
    assert_int_equal(lg_backward(g, lg_sum(g, y)), LG_OK);
    const lg_tensor *gr = lg_tensor_grad(x);
    int dropped = 0;
    for (int64_t i = 0; i < n; i++) {
        double yi = lg_tensor_item(y, i), gi = lg_tensor_item(gr, i);
        assert_float_equal(gi, yi == 0 ? 0 : 1 / (1 - p), 1e-15);
        assert_float_equal(yi, lg_tensor_item(x, i) * gi, 1e-15);
        dropped += yi == 0;
    }
    assert_true(dropped > 0 && dropped < n);
    lg_graph_free(g);
    lg_tensor_free(x);
}

static void test_dropout_rejects_bad_p_rng_and_null(void **state)
{
    (void)state;
    lg_rng r;
    lg_rng_init(&r, 1);
    lg_graph *g = lg_graph_new();
    lg_tensor *x = lg_graph_full(g, LG_F64, 1, (int64_t[]){4}, 1);
    OT_EXPECT_ERROR(g, lg_dropout(g, x, 1.0, &r), LG_ERR_ARG, "lg_dropout", "p");
    OT_EXPECT_ERROR(g, lg_dropout(g, x, -0.1, &r), LG_ERR_ARG, "lg_dropout");
    OT_EXPECT_ERROR(g, lg_dropout(g, x, NAN, &r), LG_ERR_ARG, "lg_dropout");
    OT_EXPECT_ERROR(g, lg_dropout(g, x, 0.5, NULL), LG_ERR_ARG, "lg_dropout", "rng");
    OT_EXPECT_ERROR(g, lg_dropout(g, NULL, 0.5, &r), LG_ERR_ARG, "lg_dropout");
    lg_graph_free(g);
}

/* ---- gradients ---- */

static lg_tensor *op_cross_entropy(lg_graph *g, lg_tensor *const *in, const void *p)
{
    return lg_cross_entropy(g, in[0], labels_in(g, lg_tensor_shape(in[0])[0], p));
}
static lg_tensor *op_mse(lg_graph *g, lg_tensor *const *in, const void *p)
{
    (void)p;
    return lg_mse(g, in[0], in[1]);
}
static lg_tensor *op_bce(lg_graph *g, lg_tensor *const *in, const void *p)
{
    (void)p;
    return lg_bce_with_logits(g, in[0], in[1]);
}

static void test_cross_entropy_vjp_matches_finite_diff(void **state)
{
    (void)state;
    const int64_t shapes[3][2] = {{1, 2}, {4, 3}, {3, 5}};
    const int32_t labels[3][4] = {{1}, {0, 2, 1, 2}, {4, 0, 3}};
    for (int c = 0; c < 3; c++) {
        lg_tensor *x = tu_rand(2, shapes[c], 60 + (uint64_t)c, 0, 0);
        ot_gradcheck(op_cross_entropy, labels[c], &x, 1, 70 + (uint64_t)c, "cross-entropy");
        lg_tensor_free(x);
    }
}

static void test_mse_vjp_matches_finite_diff(void **state)
{
    (void)state;
    const int ndims[3] = {1, 2, 3};
    const int64_t shapes[3][3] = {{4}, {2, 3}, {2, 2, 2}};
    for (int c = 0; c < 3; c++) {
        lg_tensor *in[2] = {tu_rand(ndims[c], shapes[c], 80 + (uint64_t)c, 0, 0),
                            tu_rand(ndims[c], shapes[c], 90 + (uint64_t)c, 0, 0)};
        ot_gradcheck(op_mse, NULL, in, 2, 100 + (uint64_t)c, "mse");
        ot_free_all(in, 2);
    }
}

static void test_bce_with_logits_vjp_matches_finite_diff_in_logits_and_targets(void **state)
{
    (void)state;
    const int ndims[3] = {1, 2, 3};
    const int64_t shapes[3][3] = {{4}, {2, 3}, {2, 1, 3}};
    for (int c = 0; c < 3; c++) {
        lg_tensor *in[2] = {tu_rand(ndims[c], shapes[c], 110 + (uint64_t)c, 0, 0),
                            tu_rand(ndims[c], shapes[c], 120 + (uint64_t)c, 0, 1)};
        double *xv = lg_tensor_data(in[0]);
        for (int64_t i = 0; i < lg_tensor_numel(in[0]); i++)
            xv[i] *= 3; /* logits across the sigmoid's curve, not only near 0 */
        ot_gradcheck(op_bce, NULL, in, 2, 130 + (uint64_t)c, "bce_with_logits");
        ot_free_all(in, 2);
    }
}

typedef struct ln_params {
    bool gamma, beta;
} ln_params;

static lg_tensor *op_layer_norm(lg_graph *g, lg_tensor *const *in, const void *p)
{
    const ln_params *lp = p;
    int k = 1;
    lg_tensor *gamma = lp->gamma ? in[k++] : NULL;
    lg_tensor *beta = lp->beta ? in[k] : NULL;
    return lg_layer_norm(g, in[0], gamma, beta, 1e-5);
}

static void test_layer_norm_vjp_matches_finite_diff(void **state)
{
    (void)state;
    const int ndims[3] = {2, 2, 3};
    const int64_t shapes[3][3] = {{2, 4}, {3, 5}, {2, 2, 3}};
    const ln_params variants[4] = {{true, true}, {false, false}, {true, false}, {false, true}};
    for (int c = 0; c < 3; c++) {
        int64_t dim = shapes[c][ndims[c] - 1];
        lg_tensor *x = tu_rand(ndims[c], shapes[c], 140 + (uint64_t)c, 0, 0);
        lg_tensor *gm = tu_rand(1, &dim, 150 + (uint64_t)c, 0, 0);
        lg_tensor *bt = tu_rand(1, &dim, 160 + (uint64_t)c, 0, 0);
        for (int v = 0; v < 4; v++) {
            lg_tensor *in[3] = {x, variants[v].gamma ? gm : bt, bt};
            int n = 1 + variants[v].gamma + variants[v].beta;
            char what[64];
            snprintf(what, sizeof what, "layer_norm rank %d gamma %d beta %d", ndims[c],
                     variants[v].gamma, variants[v].beta);
            ot_gradcheck(op_layer_norm, &variants[v], in, n, 170 + (uint64_t)c, what);
        }
        lg_tensor_free(x);
        lg_tensor_free(gm);
        lg_tensor_free(bt);
    }
}

/* Dropout with its rng re-seeded on every call, so each evaluation draws the same mask
 * and f is a fixed (linear) function of x. */
static lg_tensor *op_dropout(lg_graph *g, lg_tensor *const *in, const void *p)
{
    (void)p;
    lg_rng r;
    lg_rng_init(&r, 2024);
    return lg_dropout(g, in[0], 0.3, &r);
}

static void test_dropout_vjp_matches_finite_diff_with_fixed_mask(void **state)
{
    (void)state;
    /* x ⊙ m is linear in x: Σ w ⊙ y has a zero Hessian; Σ w ⊙ y² has 2 w m². */
    const int ndims[3] = {1, 2, 3};
    const int64_t shapes[3][3] = {{6}, {3, 4}, {2, 3, 2}};
    for (int c = 0; c < 3; c++) {
        lg_tensor *x = tu_rand(ndims[c], shapes[c], 180 + (uint64_t)c, 0, 0);
        ot_gradcheck(op_dropout, NULL, &x, 1, 190 + (uint64_t)c, "dropout");
        lg_tensor_free(x);
    }
}

/* A caller-owned leaf of dtype dt holding t's values, requiring grad. */
static lg_tensor *leaf_of(const lg_tensor *t, lg_dtype dt)
{
    lg_tensor *l = ot_as_dtype(t, dt);
    assert_int_equal(lg_tensor_set_requires_grad(l, true), LG_OK);
    return l;
}

/* The two VJPs of the fused op agree: the first-order one (one fused kernel) and the one
 * recorded for higher orders (written in ops), on (7, 33) rows, one shifted by 50, in f64
 * to 1e-12 relative and in f32 to 1e-5. */
static void test_layer_norm_fused_and_recorded_vjps_agree(void **state)
{
    (void)state;
    int64_t s[2] = {7, 33}, d = 33;
    lg_tensor *x = tu_rand(2, s, 181, -2, 2), *w = tu_rand(2, s, 182, -1, 1);
    for (int64_t j = 0; j < d; j++)
        ((double *)lg_tensor_data(x))[2 * d + j] += 50;
    lg_tensor *gm = tu_rand(1, &d, 183, 0.5, 1.5), *bt = tu_rand(1, &d, 184, -1, 1);
    for (int k = 0; k < 2; k++) {
        lg_dtype dt = DTYPES[k];
        double tol = dt == LG_F64 ? 1e-12 : 1e-5;
        lg_tensor *grads[2][3];
        lg_graph *g = lg_graph_new();
        lg_tensor *in[3] = {leaf_of(x, dt), leaf_of(gm, dt), leaf_of(bt, dt)};
        for (int create = 0; create < 2; create++) {
            lg_tensor *y = lg_layer_norm(g, in[0], in[1], in[2], 1e-5);
            lg_tensor *loss = lg_sum(g, lg_mul(g, y, ot_input(g, dt, 2, s, lg_tensor_cdata(w))));
            assert_int_equal(lg_grad(g, loss, NULL, 3, in, grads[create], create != 0), LG_OK);
        }
        for (int i = 0; i < 3; i++) {
            int64_t n = lg_tensor_numel(grads[0][i]);
            double scale = 0;
            for (int64_t q = 0; q < n; q++)
                scale = fmax(scale, fabs(lg_tensor_item(grads[1][i], q)));
            for (int64_t q = 0; q < n; q++)
                assert_float_equal(lg_tensor_item(grads[0][i], q),
                                   lg_tensor_item(grads[1][i], q), tol * scale);
        }
        lg_graph_free(g);
        ot_free_all(in, 3);
    }
    lg_tensor_free(x), lg_tensor_free(w), lg_tensor_free(gm), lg_tensor_free(bt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cross_entropy_matches_hand_value),
        cmocka_unit_test(test_cross_entropy_equals_minus_mean_log_softmax_at_label),
        cmocka_unit_test(test_cross_entropy_is_finite_at_logits_of_1e4),
        cmocka_unit_test(test_cross_entropy_gradient_is_softmax_minus_onehot_over_n),
        cmocka_unit_test(test_cross_entropy_copies_labels),
        cmocka_unit_test(test_cross_entropy_rejects_bad_labels_and_shapes),
        cmocka_unit_test(test_mse_matches_hand_value),
        cmocka_unit_test(test_mse_rejects_shape_dtype_and_null),
        cmocka_unit_test(test_bce_with_logits_matches_definition),
        cmocka_unit_test(test_bce_with_logits_is_finite_at_logits_of_1e3),
        cmocka_unit_test(test_bce_with_logits_rejects_shape_dtype_and_null),
        cmocka_unit_test(test_layer_norm_matches_hand_values),
        cmocka_unit_test(test_layer_norm_rows_have_zero_mean_and_unit_variance),
        cmocka_unit_test(test_layer_norm_rejects_bad_arguments),
        cmocka_unit_test(test_dropout_zeroes_about_p_and_scales_the_rest),
        cmocka_unit_test(test_dropout_same_seed_gives_same_mask),
        cmocka_unit_test(test_dropout_in_eval_mode_or_p_zero_returns_x),
        cmocka_unit_test(test_dropout_gradient_equals_the_mask),
        cmocka_unit_test(test_dropout_rejects_bad_p_rng_and_null),
        cmocka_unit_test(test_cross_entropy_vjp_matches_finite_diff),
        cmocka_unit_test(test_mse_vjp_matches_finite_diff),
        cmocka_unit_test(test_bce_with_logits_vjp_matches_finite_diff_in_logits_and_targets),
        cmocka_unit_test(test_layer_norm_vjp_matches_finite_diff),
        cmocka_unit_test(test_layer_norm_fused_and_recorded_vjps_agree),
        cmocka_unit_test(test_dropout_vjp_matches_finite_diff_with_fixed_mask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
