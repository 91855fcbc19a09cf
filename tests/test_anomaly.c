/* Anomaly mode: planted NaN/Inf faults are caught at the op (forward) or VJP (backward) that
 * made them, with LG_ERR_NUMERIC and a message naming the op, its tape position and the
 * input shapes; off by default; a clean step gives the same numbers with it on. */
#include <string.h>
#include "test_util.h"

/* A caller-owned (rows, cols) f64 leaf that requires grad. */
static lg_tensor *leaf(int64_t rows, int64_t cols, const double *v)
{
    int64_t shape[2] = {rows, cols};
    lg_tensor *t = lg_tensor_from_data(LG_F64, 2, shape, v);
    assert_non_null(t);
    assert_int_equal(lg_tensor_set_requires_grad(t, true), LG_OK);
    return t;
}

static void assert_msg_has(const lg_graph *g, const char *part)
{
    if (!strstr(lg_graph_errmsg(g), part)) {
        print_error("message \"%s\" lacks \"%s\"\n", lg_graph_errmsg(g), part);
        fail();
    }
}

static void test_anomaly_is_off_by_default_and_nan_flows_through(void **state)
{
    (void)state;
    const double v[2] = {-1, 4};
    lg_tensor *x = leaf(1, 2, v);
    lg_graph *g = lg_graph_new();
    assert_false(lg_graph_anomaly(g));
    lg_tensor *y = lg_sum(g, lg_log(g, x));
    assert_int_equal(lg_graph_status(g), LG_OK);
    assert_true(isnan(lg_tensor_item(y, 0)));
    lg_graph_free(g);
    lg_tensor_free(x);
}

static void test_anomaly_catches_log_of_negative_at_the_log(void **state)
{
    (void)state;
    const double v[6] = {1, 2, 3, 4, -5, 6};
    lg_tensor *x = leaf(2, 3, v);
    lg_graph *g = lg_graph_new();
    assert_false(lg_graph_set_anomaly(g, true));
    lg_tensor *h = lg_scale(g, x, 2.0); /* op #0 */
    assert_non_null(h);
    /* op #1: log(-10) is NaN at element 4; the op fails like on any error */
    assert_null(lg_log(g, h));
    assert_int_equal(lg_graph_status(g), LG_ERR_NUMERIC);
    assert_msg_has(g, "lg_log (op #1)");
    assert_msg_has(g, "NaN at element 4");
    assert_msg_has(g, "inputs (2,3)");
    lg_graph_free(g);
    lg_tensor_free(x);
}

static void test_anomaly_catches_overflowing_exp_as_inf(void **state)
{
    (void)state;
    const double v[3] = {1, 800, 2}; /* exp(800) overflows f64 */
    lg_tensor *x = leaf(1, 3, v);
    lg_graph *g = lg_graph_new();
    lg_graph_set_anomaly(g, true);
    assert_null(lg_exp(g, x));
    assert_int_equal(lg_graph_status(g), LG_ERR_NUMERIC);
    assert_msg_has(g, "lg_exp (op #0) produced +Inf at element 1 of output 0 (1,3)");
    lg_graph_free(g);
    lg_tensor_free(x);
}

/* A hand-written loss mean((a - b) / (c - d)) where c == d on one element: 0/0. */
static void test_anomaly_catches_zero_over_zero_in_a_custom_loss(void **state)
{
    (void)state;
    const double a[2] = {1, 3}, b[2] = {0, 3}, c[2] = {2, 5}, d[2] = {1, 5};
    lg_tensor *ta = leaf(2, 1, a), *tb = leaf(2, 1, b), *tc = leaf(2, 1, c),
              *td = leaf(2, 1, d);
    lg_graph *g = lg_graph_new();
    lg_graph_set_anomaly(g, true);
    lg_tensor *num = lg_sub(g, ta, tb), *den = lg_sub(g, tc, td);
    assert_int_equal(lg_graph_status(g), LG_OK); /* 0 is finite: nothing yet */
    assert_null(lg_div(g, num, den));
    assert_int_equal(lg_graph_status(g), LG_ERR_NUMERIC);
    assert_msg_has(g, "lg_div (op #2) produced NaN at element 1");
    assert_msg_has(g, "inputs (2,1), (2,1)");
    assert_int_equal(lg_backward(g, num), LG_ERR_NUMERIC); /* backward refuses too */
    lg_graph_free(g);
    for (lg_tensor **t = (lg_tensor *[]){ta, tb, tc, td, NULL}; *t; t++)
        lg_tensor_free(*t);
}

/* sqrt(0) = 0 is finite, but its derivative 1/(2 sqrt 0) is not: only backward fails,
 * and the message names the VJP of sqrt, not the ops the VJP is made of. */
static void test_anomaly_catches_infinite_gradient_in_the_vjp(void **state)
{
    (void)state;
    const double v[3] = {4, 0, 9};
    lg_tensor *x = leaf(1, 3, v);
    lg_graph *g = lg_graph_new();
    lg_graph_set_anomaly(g, true);
    lg_tensor *y = lg_sum(g, lg_sqrt(g, lg_scale(g, x, 1.0)));
    assert_int_equal(lg_graph_status(g), LG_OK);
    assert_int_equal(lg_backward(g, y), LG_ERR_NUMERIC);
    assert_msg_has(g, "the VJP of lg_sqrt (op #1) produced +Inf at element 1 of the "
                      "gradient for input 0 (1,3)");
    /* the gradient of the leaf was not touched by the failed pass */
    assert_null(lg_tensor_grad(x));
    lg_graph_free(g);
    lg_tensor_free(x);
}

/* With finite numbers anomaly mode changes nothing: same loss, same gradients, and the
 * setting survives a reset that clears the error of a failed step. */
static void test_anomaly_mode_leaves_a_clean_step_unchanged(void **state)
{
    (void)state;
    int64_t ws[2] = {3, 4}, xs[2] = {2, 4};
    lg_tensor *wr = tu_rand(2, ws, 7, 0, 0), *xr = tu_rand(2, xs, 8, 0, 0);
    const double *wv = lg_tensor_cdata(wr), *xv = lg_tensor_cdata(xr);
    double loss[2], grad[2][12];
    for (int on = 0; on < 2; on++) {
        lg_tensor *w = leaf(3, 4, wv), *x = leaf(2, 4, xv);
        lg_graph *g = lg_graph_new();
        lg_graph_set_anomaly(g, on);
        if (on) { /* a failed step first, then reset */
            assert_null(lg_log(g, lg_scale(g, x, -1.0)));
            assert_int_equal(lg_graph_status(g), LG_ERR_NUMERIC);
            lg_graph_reset(g);
            assert_true(lg_graph_anomaly(g));
        }
        lg_tensor *l = lg_mean(g, lg_tanh(g, lg_matmul_t(g, x, w, false, true)));
        assert_int_equal(lg_backward(g, l), LG_OK);
        loss[on] = lg_tensor_item(l, 0);
        for (int i = 0; i < 12; i++)
            grad[on][i] = lg_tensor_item(lg_tensor_grad(w), i);
        lg_graph_free(g);
        lg_tensor_free(w);
        lg_tensor_free(x);
    }
    lg_tensor_free(wr);
    lg_tensor_free(xr);
    assert_true(loss[0] == loss[1]);
    assert_memory_equal(grad[0], grad[1], sizeof grad[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_anomaly_is_off_by_default_and_nan_flows_through),
        cmocka_unit_test(test_anomaly_catches_log_of_negative_at_the_log),
        cmocka_unit_test(test_anomaly_catches_overflowing_exp_as_inf),
        cmocka_unit_test(test_anomaly_catches_zero_over_zero_in_a_custom_loss),
        cmocka_unit_test(test_anomaly_catches_infinite_gradient_in_the_vjp),
        cmocka_unit_test(test_anomaly_mode_leaves_a_clean_step_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
