/* Activations (relu, leaky_relu, sigmoid, tanh, gelu): forward values in f32 and f64
 * against hand computations, behaviour at |x| = 1000, gradients at the kinks, f64
 * gradchecks of first and second order, f32 backward against f64, and the error paths. */
#include "ops_test_util.h"

/* Forward compares use OT_ATOL64/OT_RTOL64 and OT_ATOL32/OT_RTOL32: in f32 a few float ulp;
 * gelu(-3) loses ~4 digits to 1 + erf(x/√2) cancelling, hence the absolute 1e-7. */

/* Uniform wrappers (p is leaky_relu's slope, unused by the others). */
static lg_tensor *act_relu(lg_graph *g, lg_tensor *x, double p)
{
    (void)p;
    return lg_relu(g, x);
}
static lg_tensor *act_leaky(lg_graph *g, lg_tensor *x, double s) { return lg_leaky_relu(g, x, s); }
static lg_tensor *act_sigmoid(lg_graph *g, lg_tensor *x, double p)
{
    (void)p;
    return lg_sigmoid(g, x);
}
static lg_tensor *act_tanh(lg_graph *g, lg_tensor *x, double p)
{
    (void)p;
    return lg_tanh(g, x);
}
static lg_tensor *act_gelu(lg_graph *g, lg_tensor *x, double p)
{
    (void)p;
    return lg_gelu(g, x);
}

static const ot_unop_entry ACTS[] = {
    {"lg_relu", act_relu, 0},       {"lg_leaky_relu", act_leaky, 0.1},
    {"lg_sigmoid", act_sigmoid, 0}, {"lg_tanh", act_tanh, 0},
    {"lg_gelu", act_gelu, 0},
};
#define N_ACTS ((int)(sizeof ACTS / sizeof ACTS[0]))

/* ---- forward ---- */

static void test_relu_forward_clamps_negatives_to_zero(void **state)
{
    (void)state;
    const double x[6] = {-1000, -2, -0.5, 0, 0.5, 3};
    ot_check_unary_fwd(act_relu, 0, 6, x, (double[]){0, 0, 0, 0, 0.5, 3}, "relu");
}

static void test_leaky_relu_forward_scales_negatives_by_slope(void **state)
{
    (void)state;
    const double x[5] = {-2, -0.5, 0, 0.5, 3};
    ot_check_unary_fwd(act_leaky, 0.1, 5, x, (double[]){-0.2, -0.05, 0, 0.5, 3}, "leaky 0.1");
    ot_check_unary_fwd(act_leaky, 0.25, 5, x, (double[]){-0.5, -0.125, 0, 0.5, 3}, "leaky 0.25");
    /* slope 0 is relu */
    ot_check_unary_fwd(act_leaky, 0, 5, x, (double[]){0, 0, 0, 0.5, 3}, "leaky 0");
}

static void test_sigmoid_forward_matches_reference(void **state)
{
    (void)state;
    /* 1 / (1 + exp(-x)) in Python: sigmoid(-2) = 0.11920292202211755, sigmoid(0) = 0.5,
     * sigmoid(1) = 0.7310585786300049, sigmoid(3) = 0.9525741268224334 */
    const double x[4] = {-2, 0, 1, 3};
    const double want[4] = {0.11920292202211755, 0.5, 0.7310585786300049, 0.9525741268224334};
    ot_check_unary_fwd(act_sigmoid, 0, 4, x, want, "sigmoid");
}

static void test_tanh_forward_matches_reference(void **state)
{
    (void)state;
    /* Python math.tanh */
    const double x[5] = {-1, 0, 0.5, 2, -2};
    const double want[5] = {-0.7615941559557649, 0, 0.46211715726000974, 0.9640275800758169,
                            -0.9640275800758169};
    ot_check_unary_fwd(act_tanh, 0, 5, x, want, "tanh");
}

static void test_gelu_forward_matches_exact_erf_form(void **state)
{
    (void)state;
    /* gelu(x) = x/2 (1 + erf(x/√2)), Python math.erf / math.erfc:
     * gelu(1) = 0.5 (1 + erf(0.70710678)) = 0.8413447460685429
     * gelu(-1) = -0.5 erfc(0.70710678) = -0.15865525393145707
     * gelu(0.5) = 0.34573123063700656, gelu(2) = 1.9544997361036416
     * gelu(-3) = -1.5 erfc(3/√2) = -0.004049694094890287 */
    const double x[6] = {-3, -1, 0, 0.5, 1, 2};
    const double want[6] = {-0.004049694094890287, -0.15865525393145707, 0,
                            0.34573123063700656, 0.8413447460685429, 1.9544997361036416};
    /* f64 also loses digits at -3 (1 + erf cancels, as in PyTorch): 1e-15 absolute. */
    ot_check_unary_fwd(act_gelu, 0, 6, x, want, "gelu");
}

/* At |x| = 1000 exp(1000) overflows; the kernels must give the limits, not inf/inf. */
static void test_sigmoid_tanh_gelu_saturate_without_nan_at_large_inputs(void **state)
{
    (void)state;
    const double x[4] = {-1000, -100, 100, 1000};
    ot_check_unary_fwd(act_sigmoid, 0, 4, x, (double[]){0, 0, 1, 1}, "sigmoid at ±1000");
    ot_check_unary_fwd(act_tanh, 0, 4, x, (double[]){-1, -1, 1, 1}, "tanh at ±1000");
    ot_check_unary_fwd(act_gelu, 0, 4, x, (double[]){0, 0, 100, 1000}, "gelu at ±1000");
    /* sigmoid(-100) = exp(-100)/(1+exp(-100)) = 3.720075976020836e-44: not flushed to 0
     * in f64 (the atol above would hide that) */
    lg_graph *g = lg_graph_new();
    lg_tensor *y = ot_run_unary_1d(g, act_sigmoid, 0, LG_F64, 4, x);
    const double tiny = 3.720075976020836e-44;
    tu_assert_close_arr((double[]){lg_tensor_item(y, 1)}, &tiny, 1, 0, 1e-13, "sigmoid(-100)");
    lg_graph_free(g);
}

/* The gradient at |x| = 1000 is exactly the limit 0 (sigmoid, tanh) or 0/1 (gelu),
 * finite in both dtypes. */
static void test_saturated_activations_have_finite_zero_grad(void **state)
{
    (void)state;
    const double x[2] = {-1000, 1000};
    struct {
        ot_unop f;
        double want[2];
        const char *what;
    } cases[3] = {{act_sigmoid, {0, 0}, "sigmoid'"}, {act_tanh, {0, 0}, "tanh'"},
                  {act_gelu, {0, 1}, "gelu'"}};
    for (int k = 0; k < 2; k++) {
        for (int c = 0; c < 3; c++) {
            int64_t n = 2;
            lg_tensor *xt = k ? lg_tensor_from_data(LG_F32, 1, &n, (float[]){-1000, 1000})
                              : lg_tensor_from_data(LG_F64, 1, &n, x);
            lg_tensor_set_requires_grad(xt, true);
            lg_graph *g = lg_graph_new();
            assert_int_equal(lg_backward(g, lg_sum(g, cases[c].f(g, xt, 0))), LG_OK);
            tu_assert_tensor_close(lg_tensor_grad(xt), cases[c].want, 2, 0, 0, cases[c].what);
            lg_graph_free(g);
            lg_tensor_free(xt);
        }
    }
}

static void test_relu_and_leaky_relu_grads_at_kink_follow_pytorch(void **state)
{
    (void)state;
    /* PyTorch: relu'(0) = 0 (threshold_backward keeps x > 0); leaky_relu'(0) = slope
     * (x > 0 ? 1 : slope). */
    const double x[3] = {-2, 0, 3};
    ot_check_grad_1d(act_relu, 0, 3, x, (double[]){0, 0, 1}, 0, "relu'");
    ot_check_grad_1d(act_leaky, 0.1, 3, x, (double[]){0.1, 0.1, 1}, 0, "leaky_relu' (0.1)");
}

static void test_smooth_activation_grads_match_closed_forms(void **state)
{
    (void)state;
    const double x[3] = {-1, 0, 1};
    /* sigmoid' = s(1-s): s(±1) = 0.7310585786300049 / 0.2689414213699951 ->
     * 0.19661193324148185 at both; 0.25 at 0 */
    ot_check_grad_1d(act_sigmoid, 0, 3, x,
                     (double[]){0.19661193324148185, 0.25, 0.19661193324148185}, 1e-15, "sigmoid'");
    /* tanh' = 1 - tanh² = 0.41997434161402614 at ±1, 1 at 0 */
    ot_check_grad_1d(act_tanh, 0, 3, x, (double[]){0.41997434161402614, 1, 0.41997434161402614},
                     1e-15, "tanh'");
    /* gelu' = Phi(x) + x phi(x), phi(1) = 0.24197072451914337:
     * gelu'(1) = 0.8413447460685429 + 0.24197072451914337 = 1.0833154705876864,
     * gelu'(-1) = 0.15865525393145707 - 0.24197072451914337 = -0.08331547058768629,
     * gelu'(0) = 0.5 */
    ot_check_grad_1d(act_gelu, 0, 3, x, (double[]){-0.08331547058768629, 0.5, 1.0833154705876864},
                     1e-15, "gelu'");
}

/* ---- gradchecks ----
 * Loss sum(w ⊙ v) with a fixed random caller-owned w and v one of
 *   y          plain: for relu and leaky_relu the Hessian is zero, and must be seen so;
 *   y ⊙ y      the outer gradient vanishes where relu does, so the mask is applied twice;
 *   y ⊙ x      the outer gradient w ⊙ x does not vanish for x < 0, so a fused backward
 *              op (relu_backward, leaky_relu_backward) that forgot its mask in its own
 *              VJP would show in the Hessian. */

typedef enum variant { PLAIN, SQUARE, TIMES_X, N_VARIANTS } variant;
static const char *const VARIANT_NAME[N_VARIANTS] = {"y", "y*y", "y*x"};

typedef struct fn_ctx {
    ot_unop f;
    double p;
    lg_tensor *w;
    variant v;
} fn_ctx;

static lg_tensor *act_loss(lg_graph *g, lg_tensor *const *in, int n, void *ctx)
{
    (void)n;
    fn_ctx *c = ctx;
    lg_tensor *y = c->f(g, in[0], c->p);
    if (c->v == SQUARE)
        y = lg_mul(g, y, y);
    else if (c->v == TIMES_X)
        y = lg_mul(g, y, in[0]);
    return lg_sum(g, lg_mul(g, y, c->w));
}

static const ot_shape SHAPES[] = {{0, {0}}, {1, {5}}, {2, {3, 4}}, {3, {2, 3, 2}}};

/* Inputs uniform in [lo, hi); with away_from_0, |x| in [lo, hi) with alternating sign. */
static void grad_act(ot_unop f, double p, double lo, double hi, bool away_from_0,
                     const char *what)
{
    for (size_t k = 0; k < sizeof SHAPES / sizeof SHAPES[0]; k++) {
        ot_shape s = SHAPES[k];
        lg_tensor *x = ot_draw(s.ndim, s.s, 10 + k, (ot_dist){lo, hi, away_from_0, false});
        lg_tensor *w = tu_rand(s.ndim, s.s, 20 + k, 0, 0);
        for (int v = 0; v < N_VARIANTS; v++) {
            fn_ctx c = {.f = f, .p = p, .w = w, .v = (variant)v};
            char msg[96];
            snprintf(msg, sizeof msg, "%s, rank %d, sum(w*%s)", what, s.ndim, VARIANT_NAME[v]);
            tu_gradcheck(act_loss, &c, &x, 1, true, msg);
        }
        lg_tensor_free(x);
        lg_tensor_free(w);
    }
}

/* |x| > 0.1 keeps central differences off the kink. relu is piecewise linear, so the
 * plain second-order check must agree with a zero Hessian; sum(w x relu(x)) has Hessian
 * 2 w [x > 0], which checks the VJP of relu_backward. */
static void test_relu_vjp_and_hvp_match_finite_diff_away_from_zero(void **state)
{
    (void)state;
    grad_act(act_relu, 0, 0.1, 2, true, "relu");
}

/* Piecewise linear too: zero Hessian plain, 2 w s(x)² squared, 2 w s(x) times x, with
 * s(x) = x > 0 ? 1 : slope. */
static void test_leaky_relu_vjp_and_hvp_match_finite_diff_away_from_zero(void **state)
{
    (void)state;
    grad_act(act_leaky, 0.1, 0.1, 2, true, "leaky 0.1");
    grad_act(act_leaky, 0.01, 0.1, 2, true, "leaky 0.01");
    grad_act(act_leaky, 2.0, 0.1, 2, true, "leaky 2");
}

static void test_sigmoid_vjp_and_hvp_match_finite_diff(void **state)
{
    (void)state;
    grad_act(act_sigmoid, 0, -2, 2, false, "sigmoid [-2,2)");
    grad_act(act_sigmoid, 0, -8, 8, false, "sigmoid [-8,8)");
}

static void test_tanh_vjp_and_hvp_match_finite_diff(void **state)
{
    (void)state;
    grad_act(act_tanh, 0, -2, 2, false, "tanh [-2,2)");
    grad_act(act_tanh, 0, -5, 5, false, "tanh [-5,5)");
}

static void test_gelu_vjp_and_hvp_match_finite_diff(void **state)
{
    (void)state;
    grad_act(act_gelu, 0, -2, 2, false, "gelu [-2,2)");
    grad_act(act_gelu, 0, -5, 5, false, "gelu [-5,5)");
}

/* ---- f32 backward ----
 * The same loss in f32 and f64: the gradient and one Hessian-vector product (double
 * backward through lg_grad with create_graph) must agree to f32 precision, so the fused
 * backward ops and the constants in the VJPs work in f32 too. */

/* grad then H u of act_loss at x, in dtype dt, flattened into out (24 values). */
static void grad_and_hvp(lg_dtype dt, fn_ctx c, lg_tensor *x, lg_tensor *u, double *out)
{
    c.w = ot_as_dtype(c.w, dt);
    assert_int_equal(ot_grad_and_hvp(dt, act_loss, &c, &x, &u, 1, out, 24), 24);
    lg_tensor_free(c.w);
}

static void test_f32_grads_and_hvps_match_f64(void **state)
{
    (void)state;
    int64_t s34[2] = {3, 4};
    lg_tensor *x = ot_draw(2, s34, 41, (ot_dist){0.1, 3, true, false});
    lg_tensor *w = tu_rand(2, s34, 42, 0, 0), *u = tu_rand(2, s34, 43, 0, 0);
    for (int i = 0; i < N_ACTS; i++) {
        for (int v = 0; v < N_VARIANTS; v++) {
            fn_ctx c = {.f = ACTS[i].f, .p = ACTS[i].p, .w = w, .v = (variant)v};
            double r64[24], r32[24];
            grad_and_hvp(LG_F64, c, x, u, r64);
            grad_and_hvp(LG_F32, c, x, u, r32);
            char msg[64];
            snprintf(msg, sizeof msg, "%s, sum(w*%s)", ACTS[i].name, VARIANT_NAME[v]);
            tu_assert_close_arr(r32, r64, 24, 1e-4, 1e-4, msg);
        }
    }
    lg_tensor_free(x);
    lg_tensor_free(w);
    lg_tensor_free(u);
}

/* ---- error paths ---- */

static void test_activations_reject_null_input_with_arg_error(void **state)
{
    (void)state;
    lg_graph *g = lg_graph_new();
    ot_unops_reject_null_input(g, ACTS, N_ACTS);
    lg_graph_free(g);
}

static void test_activations_reject_null_graph(void **state)
{
    (void)state;
    int64_t s[1] = {3};
    lg_tensor *x = lg_tensor_ones(LG_F64, 1, s);
    ot_unops_reject_null_graph(ACTS, N_ACTS, x);
    lg_tensor_free(x);
}

/* After a first error (a dtype error in lg_mul), each activation given NULL returns
 * NULL and the graph keeps that first status and message. */
static void test_activations_given_null_after_error_keep_first_error(void **state)
{
    (void)state;
    int64_t s[1] = {3};
    lg_tensor *a = lg_tensor_ones(LG_F64, 1, s), *b = lg_tensor_ones(LG_F32, 1, s);
    lg_graph *g = lg_graph_new();
    lg_tensor *bad = lg_mul(g, a, b);
    assert_null(bad);
    assert_int_equal(lg_graph_status(g), LG_ERR_DTYPE);
    char first[256];
    snprintf(first, sizeof first, "%s", lg_graph_errmsg(g));
    assert_non_null(strstr(first, "lg_mul"));
    for (int i = 0; i < N_ACTS; i++) {
        ot_expect_error_named(g, ACTS[i].f(g, bad, ACTS[i].p), LG_ERR_DTYPE, ACTS[i].name, "lg_mul",
                              NULL);
        assert_string_equal(lg_graph_errmsg(g), first);
        /* a valid input does not run either while the error stands */
        ot_expect_error_named(g, ACTS[i].f(g, a, ACTS[i].p), LG_ERR_DTYPE, ACTS[i].name, "lg_mul",
                              NULL);
        assert_string_equal(lg_graph_errmsg(g), first);
    }
    lg_graph_free(g);
    lg_tensor_free(a);
    lg_tensor_free(b);
}

static void test_activations_reject_tensor_from_before_reset(void **state)
{
    (void)state;
    int64_t s[1] = {3};
    lg_tensor *x = lg_tensor_ones(LG_F64, 1, s);
    lg_graph *g = lg_graph_new();
    for (int i = 0; i < N_ACTS; i++) {
        lg_graph_reset(g);
        lg_tensor *stale = lg_scale(g, x, -2.0);
        assert_non_null(stale);
        lg_graph_reset(g);
        ot_expect_error_named(g, ACTS[i].f(g, stale, ACTS[i].p), LG_ERR_STATE, ACTS[i].name,
                              ACTS[i].name, "lg_graph_reset");
    }
    lg_graph_free(g);
    lg_tensor_free(x);
}

static void test_activations_reject_tensor_of_another_graph(void **state)
{
    (void)state;
    int64_t s[1] = {3};
    lg_tensor *x = lg_tensor_ones(LG_F64, 1, s);
    lg_graph *g = lg_graph_new(), *other = lg_graph_new();
    lg_tensor *foreign = lg_scale(other, x, 2.0);
    for (int i = 0; i < N_ACTS; i++) {
        lg_graph_reset(g);
        ot_expect_error_named(g, ACTS[i].f(g, foreign, ACTS[i].p), LG_ERR_ARG, ACTS[i].name,
                              ACTS[i].name, "another graph");
    }
    lg_graph_free(other);
    lg_graph_free(g);
    lg_tensor_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relu_forward_clamps_negatives_to_zero),
        cmocka_unit_test(test_leaky_relu_forward_scales_negatives_by_slope),
        cmocka_unit_test(test_sigmoid_forward_matches_reference),
        cmocka_unit_test(test_tanh_forward_matches_reference),
        cmocka_unit_test(test_gelu_forward_matches_exact_erf_form),
        cmocka_unit_test(test_sigmoid_tanh_gelu_saturate_without_nan_at_large_inputs),
        cmocka_unit_test(test_saturated_activations_have_finite_zero_grad),
        cmocka_unit_test(test_relu_and_leaky_relu_grads_at_kink_follow_pytorch),
        cmocka_unit_test(test_smooth_activation_grads_match_closed_forms),
        cmocka_unit_test(test_relu_vjp_and_hvp_match_finite_diff_away_from_zero),
        cmocka_unit_test(test_leaky_relu_vjp_and_hvp_match_finite_diff_away_from_zero),
        cmocka_unit_test(test_sigmoid_vjp_and_hvp_match_finite_diff),
        cmocka_unit_test(test_tanh_vjp_and_hvp_match_finite_diff),
        cmocka_unit_test(test_gelu_vjp_and_hvp_match_finite_diff),
        cmocka_unit_test(test_f32_grads_and_hvps_match_f64),
        cmocka_unit_test(test_activations_reject_null_input_with_arg_error),
        cmocka_unit_test(test_activations_reject_null_graph),
        cmocka_unit_test(test_activations_given_null_after_error_keep_first_error),
        cmocka_unit_test(test_activations_reject_tensor_from_before_reset),
        cmocka_unit_test(test_activations_reject_tensor_of_another_graph),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
