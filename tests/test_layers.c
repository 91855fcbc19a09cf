/* Initialisers, the Linear, dropout and layer-norm layers, L1/L2 penalties, gradient
 * clipping and LR schedules. Initialisers are checked statistically (moments and bounds);
 * clipping and schedule values were printed by PyTorch 1.13 (scripts in the comments);
 * the tests do not need torch. */
#include <string.h>
#include "test_util.h"

/* Mean and (biased) variance of t's elements. */
static void moments(const lg_tensor *t, double *mean, double *var)
{
    int64_t n = lg_tensor_numel(t);
    double s = 0, ss = 0;
    for (int64_t i = 0; i < n; i++)
        s += lg_tensor_item(t, i);
    *mean = s / (double)n;
    for (int64_t i = 0; i < n; i++) {
        double d = lg_tensor_item(t, i) - *mean;
        ss += d * d;
    }
    *var = ss / (double)n;
}

static double max_abs(const lg_tensor *t)
{
    double m = 0;
    for (int64_t i = 0; i < lg_tensor_numel(t); i++)
        m = fmax(m, fabs(lg_tensor_item(t, i)));
    return m;
}

/* The sample of n draws has mean within 6 standard errors of 0 and variance within 4%
 * of want (the relative standard error of a sample variance is √(2/n) ≈ 0.4% here). */
static void assert_moments(const lg_tensor *t, double want_var, const char *what)
{
    double mean, var;
    moments(t, &mean, &var);
    double n = (double)lg_tensor_numel(t);
    if (fabs(mean) > 6 * sqrt(want_var / n) || fabs(var / want_var - 1) > 0.04) {
        print_error("%s: mean %g, var %g, want 0 and %g\n", what, mean, var, want_var);
        fail();
    }
}

static void test_init_fans_follow_pytorch(void **state)
{
    (void)state;
    int64_t s2[2] = {3, 4}, s4[4] = {5, 2, 3, 3}, s1[1] = {7};
    lg_tensor *a = lg_tensor_new(LG_F32, 2, s2), *b = lg_tensor_new(LG_F32, 4, s4);
    lg_tensor *c = lg_tensor_new(LG_F32, 1, s1);
    int64_t fi, fo;
    assert_int_equal(lg_init_fans(a, &fi, &fo), LG_OK);
    assert_int_equal(fi, 4); /* Linear weight (out, in): fan_in = in */
    assert_int_equal(fo, 3);
    assert_int_equal(lg_init_fans(b, &fi, &fo), LG_OK);
    assert_int_equal(fi, 18); /* conv (out, in, kh, kw): in·kh·kw */
    assert_int_equal(fo, 45);
    assert_int_equal(lg_init_fans(c, &fi, &fo), LG_ERR_SHAPE);
    assert_non_null(strstr(lg_last_errmsg(), "rank >= 2"));
    assert_int_equal(lg_init_fans(NULL, &fi, &fo), LG_ERR_ARG);
    lg_tensor_free(a);
    lg_tensor_free(b);
    lg_tensor_free(c);
}

static void test_init_kaiming_and_xavier_have_torch_moments_and_bounds(void **state)
{
    (void)state;
    int64_t s[2] = {400, 300}; /* fan_in 300, fan_out 400 */
    lg_tensor *t = lg_tensor_new(LG_F64, 2, s);
    lg_rng r;
    lg_rng_init(&r, 7);
    assert_int_equal(lg_init_kaiming_normal(t, 0.0, &r), LG_OK);
    assert_moments(t, 2.0 / 300, "kaiming_normal relu");
    assert_int_equal(lg_init_kaiming_normal(t, 0.5, &r), LG_OK);
    assert_moments(t, 2.0 / (1.25 * 300), "kaiming_normal leaky 0.5");

    assert_int_equal(lg_init_kaiming_uniform(t, 0.0, &r), LG_OK);
    double b = sqrt(2.0) * sqrt(3.0 / 300);
    assert_true(max_abs(t) <= b);
    assert_true(max_abs(t) > 0.999 * b);
    assert_moments(t, b * b / 3, "kaiming_uniform relu");
    assert_int_equal(lg_init_kaiming_uniform(t, sqrt(5.0), &r), LG_OK);
    assert_true(max_abs(t) <= 1 / sqrt(300.0)); /* nn.Linear's U(±1/√fan_in) */
    assert_true(max_abs(t) > 0.999 / sqrt(300.0));

    assert_int_equal(lg_init_xavier_normal(t, 1.0, &r), LG_OK);
    assert_moments(t, 2.0 / 700, "xavier_normal");
    assert_int_equal(lg_init_xavier_uniform(t, 2.0, &r), LG_OK);
    b = 2.0 * sqrt(6.0 / 700);
    assert_true(max_abs(t) <= b);
    assert_true(max_abs(t) > 0.999 * b);
    assert_moments(t, b * b / 3, "xavier_uniform gain 2");

    assert_int_equal(lg_init_uniform(t, 1.0, 3.0, &r), LG_OK);
    double mean, var;
    moments(t, &mean, &var);
    tu_assert_near(mean, 2.0, 0.01);
    assert_int_equal(lg_init_zeros(t), LG_OK);
    assert_true(max_abs(t) == 0);
    lg_tensor_free(t);
}

static void test_init_is_reproducible_from_the_seed_in_f32(void **state)
{
    (void)state;
    int64_t s[2] = {16, 8};
    lg_tensor *a = lg_tensor_new(LG_F32, 2, s), *b = lg_tensor_new(LG_F32, 2, s);
    lg_rng r1, r2;
    lg_rng_init(&r1, 42);
    lg_rng_init(&r2, 42);
    assert_int_equal(lg_init_xavier_normal(a, 1.0, &r1), LG_OK);
    assert_int_equal(lg_init_xavier_normal(b, 1.0, &r2), LG_OK);
    assert_memory_equal(lg_tensor_data(a), lg_tensor_data(b), 128 * sizeof(float));
    assert_int_equal(r1.counter, r2.counter);
    assert_int_equal(lg_init_xavier_normal(b, 1.0, &r2), LG_OK); /* the stream moved on */
    assert_memory_not_equal(lg_tensor_data(a), lg_tensor_data(b), 128 * sizeof(float));
    lg_tensor_free(a);
    lg_tensor_free(b);
}

static void test_init_rejects_bad_arguments(void **state)
{
    (void)state;
    int64_t s[2] = {3, 4}, v[1] = {4}, e[2] = {0, 4};
    lg_tensor *t = lg_tensor_new(LG_F32, 2, s), *vec = lg_tensor_new(LG_F32, 1, v);
    lg_tensor *empty = lg_tensor_new(LG_F32, 2, e);
    lg_rng r;
    lg_rng_init(&r, 1);
    assert_int_equal(lg_init_kaiming_normal(NULL, 0, &r), LG_ERR_ARG);
    assert_int_equal(lg_init_kaiming_uniform(t, 0, NULL), LG_ERR_ARG);
    assert_int_equal(lg_init_kaiming_uniform(vec, 0, &r), LG_ERR_SHAPE);
    assert_non_null(strstr(lg_last_errmsg(), "lg_init_kaiming_uniform"));
    assert_int_equal(lg_init_kaiming_normal(t, NAN, &r), LG_ERR_ARG);
    assert_int_equal(lg_init_xavier_normal(vec, 1, &r), LG_ERR_SHAPE);
    assert_int_equal(lg_init_xavier_uniform(t, 0, &r), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "gain"));
    assert_int_equal(lg_init_xavier_normal(t, -1, &r), LG_ERR_ARG);
    assert_int_equal(lg_init_uniform(t, 2, 1, &r), LG_ERR_ARG);
    assert_int_equal(lg_init_uniform(NULL, 0, 1, &r), LG_ERR_ARG);
    assert_int_equal(lg_init_zeros(NULL), LG_ERR_ARG);
    assert_int_equal(lg_init_uniform(vec, -1, 1, &r), LG_OK); /* any rank */
    uint64_t before = r.counter;
    assert_int_equal(lg_init_kaiming_uniform(empty, 0, &r), LG_OK); /* no-op */
    assert_int_equal(r.counter, before);
    lg_tensor_free(t);
    lg_tensor_free(vec);
    lg_tensor_free(empty);
}

/* ---- Linear ---- */

static void test_linear_layer_has_pytorch_layout_init_and_forward(void **state)
{
    (void)state;
    lg_params *p = lg_params_new();
    lg_rng r;
    lg_rng_init(&r, 3);
    lg_linear_layer fc;
    assert_int_equal(lg_linear_layer_init(&fc, p, "fc", 5, 3, true, LG_F64, &r), LG_OK);
    assert_ptr_equal(fc.weight, lg_params_get(p, "fc.weight"));
    assert_ptr_equal(fc.bias, lg_params_get(p, "fc.bias"));
    assert_int_equal(lg_tensor_shape(fc.weight)[0], 3); /* (out, in) */
    assert_int_equal(lg_tensor_shape(fc.weight)[1], 5);
    assert_true(max_abs(fc.weight) <= 1 / sqrt(5.0));
    assert_true(max_abs(fc.bias) <= 1 / sqrt(5.0));
    assert_true(max_abs(fc.bias) > 0);

    lg_graph *g = lg_graph_new();
    int64_t xs[3] = {2, 4, 5};
    lg_tensor *x = tu_rand(3, xs, 11, 0, 0);
    lg_tensor *y = lg_linear_layer_forward(g, &fc, x); /* (2,4,5) -> (2,4,3) */
    assert_non_null(y);
    assert_int_equal(lg_tensor_ndim(y), 3);
    assert_int_equal(lg_tensor_shape(y)[2], 3);
    double want[24];
    for (int n = 0; n < 8; n++)
        for (int o = 0; o < 3; o++) {
            double acc = lg_tensor_item(fc.bias, o);
            for (int i = 0; i < 5; i++)
                acc += lg_tensor_item(x, n * 5 + i) * lg_tensor_item(fc.weight, o * 5 + i);
            want[n * 3 + o] = acc;
        }
    tu_assert_tensor_close(y, want, 24, 1e-14, 1e-14, "x Wᵀ + b");
    assert_int_equal(lg_backward(g, lg_sum(g, y)), LG_OK);
    /* d sum(x Wᵀ + b) / db = N = 8 rows. */
    const double eight[3] = {8, 8, 8};
    tu_assert_tensor_close(lg_tensor_grad(fc.bias), eight, 3, 1e-12, 0, "bias grad");

    lg_linear_layer nb;
    assert_int_equal(lg_linear_layer_init(&nb, p, "nb", 5, 2, false, LG_F64, &r), LG_OK);
    assert_null(nb.bias);
    assert_null(lg_params_get(p, "nb.bias"));
    lg_graph_reset(g);
    int64_t rs[1] = {5};
    lg_tensor *row = tu_rand(1, rs, 12, 0, 0);
    y = lg_linear_layer_forward(g, &nb, row); /* (5) -> (2) */
    assert_non_null(y);
    assert_int_equal(lg_tensor_ndim(y), 1);
    assert_int_equal(lg_params_numel(p, true), 15 + 3 + 10);
    lg_tensor_free(row);
    lg_tensor_free(x);
    lg_graph_free(g);
    lg_params_free(p);
}

static void test_linear_layer_rejects_bad_arguments(void **state)
{
    (void)state;
    lg_params *p = lg_params_new();
    lg_rng r;
    lg_rng_init(&r, 3);
    lg_linear_layer fc;
    assert_int_equal(lg_linear_layer_init(&fc, p, "fc", 4, 3, true, LG_F32, &r), LG_OK);
    lg_linear_layer bad;
    assert_int_equal(lg_linear_layer_init(&bad, p, "fc", 4, 3, true, LG_F32, &r), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "'fc.weight' already exists"));
    assert_null(bad.weight);
    assert_int_equal(lg_linear_layer_init(&bad, p, "a", 0, 3, true, LG_F32, &r), LG_ERR_ARG);
    assert_int_equal(lg_linear_layer_init(&bad, p, "a", 4, 3, true, (lg_dtype)9, &r),
                     LG_ERR_DTYPE);
    assert_int_equal(lg_linear_layer_init(&bad, NULL, "a", 4, 3, true, LG_F32, &r), LG_ERR_ARG);
    assert_int_equal(lg_linear_layer_init(&bad, p, "", 4, 3, true, LG_F32, &r), LG_ERR_ARG);
    assert_int_equal(lg_linear_layer_init(&bad, p, "a", 4, 3, true, LG_F32, NULL), LG_ERR_ARG);
    assert_int_equal(lg_linear_layer_init(NULL, p, "a", 4, 3, true, LG_F32, &r), LG_ERR_ARG);
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(lg_linear_layer_init(&bad, p, longname, 4, 3, true, LG_F32, &r),
                     LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "too long"));
    assert_int_equal(lg_params_count(p), 2);

    lg_graph *g = lg_graph_new();
    int64_t xs[2] = {2, 5};
    lg_tensor *x = lg_tensor_new(LG_F32, 2, xs);
    assert_null(lg_linear_layer_forward(g, &fc, x));
    assert_int_equal(lg_graph_status(g), LG_ERR_SHAPE);
    assert_non_null(strstr(lg_graph_errmsg(g), "in_features = 4"));
    lg_graph_reset(g);
    assert_null(lg_linear_layer_forward(g, NULL, x));
    assert_int_equal(lg_graph_status(g), LG_ERR_ARG);
    lg_graph_reset(g);
    memset(&bad, 0, sizeof bad);
    assert_null(lg_linear_layer_forward(g, &bad, x));
    assert_int_equal(lg_graph_status(g), LG_ERR_ARG);
    lg_graph_reset(g);
    assert_null(lg_linear_layer_forward(g, &fc, NULL));
    assert_int_equal(lg_graph_status(g), LG_ERR_ARG);
    assert_null(lg_linear_layer_forward(NULL, &fc, x));
    assert_non_null(strstr(lg_last_errmsg(), "graph is NULL"));
    lg_graph_reset(g);
    int64_t x64s[2] = {2, 4};
    lg_tensor *x64 = lg_tensor_new(LG_F64, 2, x64s);
    assert_null(lg_linear_layer_forward(g, &fc, x64));
    assert_int_equal(lg_graph_status(g), LG_ERR_DTYPE);
    lg_tensor_free(x64);
    lg_tensor_free(x);
    lg_graph_free(g);
    lg_params_free(p);
}

/* ---- dropout and layer norm ---- */

static void test_dropout_layer_drops_scales_and_draws_fresh_masks(void **state)
{
    (void)state;
    lg_dropout_layer d;
    assert_int_equal(lg_dropout_layer_init(&d, 0.25, 5), LG_OK);
    lg_graph *g = lg_graph_new();
    int64_t s[1] = {20000};
    lg_tensor *x = lg_tensor_ones(LG_F64, 1, s);
    lg_tensor *y1 = lg_dropout_layer_forward(g, &d, x);
    lg_tensor *y2 = lg_dropout_layer_forward(g, &d, x);
    assert_non_null(y1);
    assert_non_null(y2);
    int64_t zeros = 0, differ = 0;
    for (int64_t i = 0; i < s[0]; i++) {
        double v = lg_tensor_item(y1, i);
        assert_true(v == 0 || fabs(v - 1 / 0.75) < 1e-15);
        zeros += v == 0;
        differ += v != lg_tensor_item(y2, i);
    }
    tu_assert_near((double)zeros / (double)s[0], 0.25, 0.02);
    assert_true(differ > 1000);
    lg_graph_set_training(g, false);
    assert_ptr_equal(lg_dropout_layer_forward(g, &d, x), x);
    assert_int_equal(lg_dropout_layer_init(&d, 1.0, 5), LG_ERR_ARG);
    assert_int_equal(lg_dropout_layer_init(&d, -0.1, 5), LG_ERR_ARG);
    assert_int_equal(lg_dropout_layer_init(NULL, 0.1, 5), LG_ERR_ARG);
    assert_null(lg_dropout_layer_forward(g, NULL, x));
    assert_int_equal(lg_graph_status(g), LG_ERR_ARG);
    lg_tensor_free(x);
    lg_graph_free(g);
}

static void test_layer_norm_layer_starts_as_plain_normalisation(void **state)
{
    (void)state;
    lg_params *p = lg_params_new();
    lg_layer_norm_layer ln;
    assert_int_equal(lg_layer_norm_layer_init(&ln, p, "ln", 6, 1e-5, LG_F64), LG_OK);
    assert_ptr_equal(ln.gamma, lg_params_get(p, "ln.weight"));
    assert_ptr_equal(ln.beta, lg_params_get(p, "ln.bias"));
    const double ones[6] = {1, 1, 1, 1, 1, 1}, zeros[6] = {0};
    tu_assert_tensor_close(ln.gamma, ones, 6, 0, 0, "gamma");
    tu_assert_tensor_close(ln.beta, zeros, 6, 0, 0, "beta");
    lg_graph *g = lg_graph_new();
    int64_t xs[3] = {2, 3, 6};
    lg_tensor *x = tu_rand(3, xs, 4, 0, 0);
    lg_tensor *y = lg_layer_norm_layer_forward(g, &ln, x);
    assert_non_null(y);
    for (int row = 0; row < 6; row++) {
        double m = 0, v = 0;
        for (int j = 0; j < 6; j++)
            m += lg_tensor_item(y, row * 6 + j) / 6;
        for (int j = 0; j < 6; j++)
            v += pow(lg_tensor_item(y, row * 6 + j) - m, 2) / 6;
        tu_assert_near(m, 0, 1e-12);
        tu_assert_near(v, 1, 1e-4); /* eps shrinks it slightly */
    }
    assert_int_equal(lg_backward(g, lg_sum(g, lg_mul(g, y, x))), LG_OK);
    assert_non_null(lg_tensor_grad(ln.gamma));

    lg_graph_reset(g);
    int64_t bs[2] = {2, 5};
    lg_tensor *bad = lg_tensor_new(LG_F64, 2, bs);
    assert_null(lg_layer_norm_layer_forward(g, &ln, bad));
    assert_int_equal(lg_graph_status(g), LG_ERR_SHAPE);
    lg_graph_reset(g);
    assert_null(lg_layer_norm_layer_forward(g, NULL, x));
    assert_int_equal(lg_graph_status(g), LG_ERR_ARG);
    lg_layer_norm_layer l2;
    assert_int_equal(lg_layer_norm_layer_init(&l2, p, "ln", 6, 1e-5, LG_F64), LG_ERR_ARG);
    assert_int_equal(lg_layer_norm_layer_init(&l2, p, "m", 0, 1e-5, LG_F64), LG_ERR_ARG);
    assert_int_equal(lg_layer_norm_layer_init(&l2, p, "m", 4, 0, LG_F64), LG_ERR_ARG);
    assert_int_equal(lg_layer_norm_layer_init(&l2, p, "m", 4, 1e-5, (lg_dtype)3), LG_ERR_DTYPE);
    assert_int_equal(lg_layer_norm_layer_init(NULL, p, "m", 4, 1e-5, LG_F64), LG_ERR_ARG);
    lg_tensor_free(bad);
    lg_tensor_free(x);
    lg_graph_free(g);
    lg_params_free(p);
}

/* ---- penalties ---- */

static void test_penalties_sum_trainable_parameters_and_give_their_gradients(void **state)
{
    (void)state;
    lg_params *p = lg_params_new();
    int64_t s2[2] = {2, 2}, s1[1] = {3};
    lg_tensor *w = lg_params_add(p, "w", LG_F64, 2, s2);
    lg_tensor *b = lg_params_add(p, "b", LG_F64, 1, s1);
    lg_tensor *frozen = lg_params_add(p, "f", LG_F64, 1, s1);
    const double wv[4] = {1, -2, 0.5, 3}, bv[3] = {-0.25, 4, 1};
    memcpy(lg_tensor_data(w), wv, sizeof wv);
    memcpy(lg_tensor_data(b), bv, sizeof bv);
    lg_tensor_fill(frozen, 100);
    assert_int_equal(lg_params_freeze(p, "f", true, NULL), LG_OK);
    lg_graph *g = lg_graph_new();
    lg_tensor *l1 = lg_l1_penalty(g, p, 0.1);
    lg_tensor *l2 = lg_l2_penalty(g, p, 0.2);
    assert_non_null(l1);
    assert_non_null(l2);
    /* Σ|w| = 6.5 + 5.25 = 11.75; Σw² = 14.25 + 17.0625 = 31.3125. */
    tu_assert_near(lg_tensor_item(l1, 0), 1.175, 1e-14);
    tu_assert_near(lg_tensor_item(l2, 0), 0.1 * 31.3125, 1e-14);
    assert_int_equal(lg_backward(g, lg_add(g, l1, l2)), LG_OK);
    double want[4];
    for (int i = 0; i < 4; i++)
        want[i] = 0.1 * (wv[i] > 0 ? 1 : -1) + 0.2 * wv[i];
    tu_assert_tensor_close(lg_tensor_grad(w), want, 4, 1e-14, 0, "d/dw");
    for (int i = 0; i < 3; i++)
        want[i] = 0.1 * (bv[i] > 0 ? 1 : -1) + 0.2 * bv[i];
    tu_assert_tensor_close(lg_tensor_grad(b), want, 3, 1e-14, 0, "d/db");
    const double zeros[3] = {0};
    tu_assert_tensor_close(lg_tensor_grad(frozen), zeros, 3, 0, 0, "frozen untouched");
    lg_graph_free(g);
    lg_params_free(p);
}

typedef struct penalty_ctx {
    lg_params *p;
} penalty_ctx;

static lg_tensor *penalty_fn(lg_graph *g, lg_tensor *const *in, int n, void *ctx)
{
    (void)in;
    (void)n;
    penalty_ctx *c = ctx;
    return lg_add(g, lg_l1_penalty(g, c->p, 0.3), lg_l2_penalty(g, c->p, 0.7));
}

static void test_penalties_pass_gradcheck_in_f64(void **state)
{
    (void)state;
    lg_params *p = lg_params_new();
    int64_t s[2] = {3, 2};
    lg_tensor *w = lg_params_add(p, "w", LG_F64, 2, s);
    lg_rng r;
    lg_rng_init(&r, 9);
    lg_init_uniform(w, 0.2, 1.0, &r); /* away from |w|'s kink at 0 */
    ((double *)lg_tensor_data(w))[1] *= -1;
    penalty_ctx c = {p};
    tu_gradcheck(penalty_fn, &c, &w, 1, true, "l1 + l2 penalty");
    lg_params_free(p);
}

static void test_penalties_reject_bad_arguments(void **state)
{
    (void)state;
    lg_params *p = lg_params_new();
    lg_graph *g = lg_graph_new();
    assert_null(lg_l1_penalty(g, p, 0.1));
    assert_int_equal(lg_graph_status(g), LG_ERR_ARG);
    assert_non_null(strstr(lg_graph_errmsg(g), "no trainable parameter"));
    int64_t s[1] = {2};
    lg_params_add(p, "a", LG_F32, 1, s);
    lg_graph_reset(g);
    assert_null(lg_l2_penalty(g, p, -1));
    assert_int_equal(lg_graph_status(g), LG_ERR_ARG);
    lg_graph_reset(g);
    assert_null(lg_l2_penalty(g, p, NAN));
    assert_int_equal(lg_graph_status(g), LG_ERR_ARG);
    lg_graph_reset(g);
    assert_null(lg_l1_penalty(g, NULL, 1));
    assert_int_equal(lg_graph_status(g), LG_ERR_ARG);
    assert_null(lg_l1_penalty(NULL, p, 1));
    lg_params_add(p, "b", LG_F64, 1, s);
    lg_graph_reset(g);
    assert_null(lg_l1_penalty(g, p, 1));
    assert_int_equal(lg_graph_status(g), LG_ERR_DTYPE);
    assert_non_null(strstr(lg_graph_errmsg(g), "'b'"));
    lg_graph_reset(g);
    assert_int_equal(lg_params_freeze(p, "b", true, NULL), LG_OK);
    assert_non_null(lg_l1_penalty(g, p, 1)); /* the f64 one is frozen now */
    lg_graph_free(g);
    lg_params_free(p);
}

/* ---- clipping ----
 * a = nn.Parameter(torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64))
 * b = nn.Parameter(torch.tensor([[3.0, 0.25], [-1.5, 2.0]], dtype=torch.float64))
 * a.grad = [0.3, -1.2, 2.5]; b.grad = [[1.0, -0.5], [0.75, -2.0]]
 * torch.nn.utils.clip_grad_norm_([a, b], 1.5) printed the values below. */
static void test_clip_grad_norm_matches_torch(void **state)
{
    (void)state;
    lg_params *p = lg_params_new();
    int64_t sa[1] = {3}, sb[2] = {2, 2};
    lg_tensor *a = lg_params_add(p, "a", LG_F64, 1, sa);
    lg_tensor *b = lg_params_add(p, "b", LG_F64, 2, sb);
    lg_tensor *f = lg_params_add(p, "frozen", LG_F32, 1, sa);
    const double ga[3] = {0.3, -1.2, 2.5}, gb[4] = {1.0, -0.5, 0.75, -2.0};
    memcpy(lg_tensor_data(lg_tensor_grad(a)), ga, sizeof ga);
    memcpy(lg_tensor_data(lg_tensor_grad(b)), gb, sizeof gb);
    lg_tensor_fill(lg_tensor_grad(f), 1000); /* frozen: neither counted nor scaled */
    lg_params_freeze(p, "frozen", true, NULL);
    double norm = 0;
    assert_int_equal(lg_params_clip_grad_norm(p, 1.5, &norm), LG_OK);
    tu_assert_near(norm, 3.6868007811651551, 1e-15);
    const double wa[3] = {0.12205700949232605, -0.4882280379693042, 1.0171417457693837};
    const double wb[4] = {0.40685669830775351, -0.20342834915387675, 0.30514252373081513,
                          -0.81371339661550701};
    tu_assert_tensor_close(lg_tensor_grad(a), wa, 3, 1e-15, 1e-15, "clipped a");
    tu_assert_tensor_close(lg_tensor_grad(b), wb, 4, 1e-15, 1e-15, "clipped b");
    const double thousand[3] = {1000, 1000, 1000};
    tu_assert_tensor_close(lg_tensor_grad(f), thousand, 3, 0, 0, "frozen grad");

    /* Below the limit nothing changes. */
    assert_int_equal(lg_params_clip_grad_norm(p, 10, &norm), LG_OK);
    tu_assert_near(norm, 1.5, 1e-6);
    tu_assert_tensor_close(lg_tensor_grad(a), wa, 3, 1e-15, 1e-15, "unclipped a");

    ((double *)lg_tensor_data(lg_tensor_grad(b)))[2] = NAN;
    assert_int_equal(lg_params_clip_grad_norm(p, 1, &norm), LG_ERR_NUMERIC);
    assert_true(isnan(norm));
    tu_assert_tensor_close(lg_tensor_grad(a), wa, 3, 1e-15, 1e-15, "left alone");
    assert_int_equal(lg_params_clip_grad_norm(p, 0, NULL), LG_ERR_ARG);
    assert_int_equal(lg_params_clip_grad_norm(p, INFINITY, NULL), LG_ERR_ARG);
    assert_int_equal(lg_params_clip_grad_norm(NULL, 1, NULL), LG_ERR_ARG);
    lg_params_free(p);
}

/* ---- schedules ---- */

/* o = SGD([p], lr=0.1); s = StepLR(o, step_size=3, gamma=0.5); lr before each of 10
 * steps (o.step(); s.step()). */
static void test_lr_step_matches_torch_steplr(void **state)
{
    (void)state;
    const double want[10] = {0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125};
    for (int t = 0; t < 10; t++) {
        double lr = -1;
        assert_int_equal(lg_lr_step(0.1, 3, 0.5, t, &lr), LG_OK);
        tu_assert_near(lr, want[t], 1e-17);
    }
    double lr = 7;
    assert_int_equal(lg_lr_step(0.1, 0, 0.5, 1, &lr), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "step_size"));
    assert_int_equal(lg_lr_step(0.1, 3, 0, 1, &lr), LG_ERR_ARG);
    assert_int_equal(lg_lr_step(-0.1, 3, 0.5, 1, &lr), LG_ERR_ARG);
    assert_int_equal(lg_lr_step(0.1, 3, 0.5, -1, &lr), LG_ERR_ARG);
    assert_int_equal(lg_lr_step(0.1, 3, 0.5, 1, NULL), LG_ERR_ARG);
    tu_assert_near(lr, 7, 0);
}

/* o = SGD([p], lr=0.5)
 * s = SequentialLR(o, [LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=4),
 *                      CosineAnnealingLR(o, T_max=6, eta_min=0.01)], milestones=[4])
 * lr before each of 11 steps. */
static void test_lr_cosine_matches_torch_sequential_linear_cosine(void **state)
{
    (void)state;
    const double want[11] = {0.050000000000000003, 0.16250000000000001, 0.27500000000000002,
                             0.38750000000000007, 0.5, 0.4671762239271875, 0.3775, 0.255,
                             0.13250000000000006, 0.042823776072812521, 0.01};
    lg_lr_cosine_config c = {.base_lr = 0.5, .min_lr = 0.01, .warmup_steps = 4,
                             .warmup_start = 0.1, .total_steps = 10};
    for (int t = 0; t < 11; t++) {
        double lr = -1;
        assert_int_equal(lg_lr_cosine(&c, t, &lr), LG_OK);
        tu_assert_near(lr, want[t], 1e-15);
    }
    double lr = -1;
    assert_int_equal(lg_lr_cosine(&c, 25, &lr), LG_OK); /* past T: the floor */
    tu_assert_near(lr, 0.01, 0);
    c.warmup_steps = 0; /* no warm-up: starts at the peak, warmup_start unused */
    c.warmup_start = 0;
    assert_int_equal(lg_lr_cosine(&c, 0, &lr), LG_OK);
    tu_assert_near(lr, 0.5, 0);
    assert_int_equal(lg_lr_cosine(&c, 5, &lr), LG_OK);
    tu_assert_near(lr, 0.255, 1e-15);

    lg_lr_cosine_config bad = c;
    bad.total_steps = 0;
    assert_int_equal(lg_lr_cosine(&bad, 0, &lr), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "total_steps"));
    bad = c;
    bad.warmup_steps = 2;
    assert_int_equal(lg_lr_cosine(&bad, 0, &lr), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "warmup_start"));
    bad = c;
    bad.min_lr = 1;
    assert_int_equal(lg_lr_cosine(&bad, 0, &lr), LG_ERR_ARG);
    bad = c;
    bad.base_lr = INFINITY;
    assert_int_equal(lg_lr_cosine(&bad, 0, &lr), LG_ERR_ARG);
    bad = c;
    bad.warmup_steps = -1;
    assert_int_equal(lg_lr_cosine(&bad, 0, &lr), LG_ERR_ARG);
    assert_int_equal(lg_lr_cosine(&c, -1, &lr), LG_ERR_ARG);
    assert_int_equal(lg_lr_cosine(NULL, 0, &lr), LG_ERR_ARG);
    assert_int_equal(lg_lr_cosine(&c, 0, NULL), LG_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_fans_follow_pytorch),
        cmocka_unit_test(test_init_kaiming_and_xavier_have_torch_moments_and_bounds),
        cmocka_unit_test(test_init_is_reproducible_from_the_seed_in_f32),
        cmocka_unit_test(test_init_rejects_bad_arguments),
        cmocka_unit_test(test_linear_layer_has_pytorch_layout_init_and_forward),
        cmocka_unit_test(test_linear_layer_rejects_bad_arguments),
        cmocka_unit_test(test_dropout_layer_drops_scales_and_draws_fresh_masks),
        cmocka_unit_test(test_layer_norm_layer_starts_as_plain_normalisation),
        cmocka_unit_test(test_penalties_sum_trainable_parameters_and_give_their_gradients),
        cmocka_unit_test(test_penalties_pass_gradcheck_in_f64),
        cmocka_unit_test(test_penalties_reject_bad_arguments),
        cmocka_unit_test(test_clip_grad_norm_matches_torch),
        cmocka_unit_test(test_lr_step_matches_torch_steplr),
        cmocka_unit_test(test_lr_cosine_matches_torch_sequential_linear_cosine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
