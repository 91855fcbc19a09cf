/* Reductions and normalisations: lg_sum, lg_mean, lg_sum_axis, lg_mean_axis,
 * lg_max_axis, lg_logsumexp, lg_softmax and lg_log_softmax. Forward values against hand
 * computation or a naive double-precision loop, stability at logits of 1e3 and 1e4,
 * gradients against finite differences, and the error paths. */
#include "ops_test_util.h"

static const lg_dtype DTYPES[2] = {LG_F32, LG_F64};

/* x = [[1,2,3],[4,5,6]], used by the hand-computed cases. */
static const double X23[6] = {1, 2, 3, 4, 5, 6};
static const int64_t S23[2] = {2, 3};

/* ---- naive references over the middle axis of (outer, len, inner), in double ---- */

static void split(int nd, const int64_t *s, int axis, int64_t *outer, int64_t *len,
                  int64_t *inner)
{
    *outer = *inner = 1;
    for (int d = 0; d < axis; d++)
        *outer *= s[d];
    *len = s[axis];
    for (int d = axis + 1; d < nd; d++)
        *inner *= s[d];
}

/* logsumexp straight from the definition, log Σ exp x: valid for moderate x only. */
static void naive_lse(const double *x, int nd, const int64_t *s, int axis, double *y)
{
    int64_t o, l, in;
    split(nd, s, axis, &o, &l, &in);
    for (int64_t a = 0; a < o; a++)
        for (int64_t c = 0; c < in; c++) {
            double acc = 0;
            for (int64_t b = 0; b < l; b++)
                acc += exp(x[(a * l + b) * in + c]);
            y[a * in + c] = log(acc);
        }
}

/* softmax straight from the definition, exp x / Σ exp x (moderate x only). */
static void naive_softmax(const double *x, int nd, const int64_t *s, int axis, double *y)
{
    int64_t o, l, in;
    split(nd, s, axis, &o, &l, &in);
    for (int64_t a = 0; a < o; a++)
        for (int64_t c = 0; c < in; c++) {
            double acc = 0;
            for (int64_t b = 0; b < l; b++)
                acc += exp(x[(a * l + b) * in + c]);
            for (int64_t b = 0; b < l; b++)
                y[(a * l + b) * in + c] = exp(x[(a * l + b) * in + c]) / acc;
        }
}

/* log_softmax in double as (x - m) - log Σ exp(x - m), m the max: safe at any scale. */
static void stable_log_softmax(const double *x, int nd, const int64_t *s, int axis, double *y)
{
    int64_t o, l, in;
    split(nd, s, axis, &o, &l, &in);
    for (int64_t a = 0; a < o; a++)
        for (int64_t c = 0; c < in; c++) {
            double m = -INFINITY, acc = 0;
            for (int64_t b = 0; b < l; b++)
                m = fmax(m, x[(a * l + b) * in + c]);
            for (int64_t b = 0; b < l; b++)
                acc += exp(x[(a * l + b) * in + c] - m);
            for (int64_t b = 0; b < l; b++)
                y[(a * l + b) * in + c] = (x[(a * l + b) * in + c] - m) - log(acc);
        }
}

/* ---- sum and mean ---- */

static void test_sum_and_mean_match_hand_values(void **state)
{
    (void)state;
    /* 1+2+3+4+5+6 = 21, mean 21/6 = 3.5; both rank 0. */
    const double sum = 21, mean = 3.5;
    for (int d = 0; d < 2; d++) {
        lg_graph *g = lg_graph_new();
        lg_tensor *x = ot_input(g, DTYPES[d], 2, S23, X23);
        lg_tensor *s = lg_sum(g, x), *m = lg_mean(g, x);
        ot_assert_shape(s, 0, NULL);
        ot_assert_shape(m, 0, NULL);
        tu_assert_tensor_close(s, &sum, 1, 0, 0, "sum");
        tu_assert_tensor_close(m, &mean, 1, 0, 0, "mean");
        lg_graph_free(g);
    }
}

static void test_sum_of_a_long_vector_is_accurate(void **state)
{
    (void)state;
    /* 100000 copies of 0.1 (past the threaded-sum threshold): 10000 up to the f32
     * rounding of 0.1 itself, since the kernel accumulates in double. */
    int64_t n = 100000;
    for (int d = 0; d < 2; d++) {
        lg_graph *g = lg_graph_new();
        lg_tensor *x = lg_graph_full(g, DTYPES[d], 1, &n, 0.1);
        double want = (DTYPES[d] == LG_F32 ? (double)0.1f : 0.1) * (double)n;
        tu_assert_tensor_close(lg_sum(g, x), &want, 1, 0, 1e-7, "long sum");
        lg_graph_free(g);
    }
}

static void test_sum_axis_and_mean_axis_reduce_each_axis(void **state)
{
    (void)state;
    /* Axis 0: [1+4, 2+5, 3+6] = [5,7,9], mean [2.5,3.5,4.5];
     * axis 1: [1+2+3, 4+5+6] = [6,15], mean [2,5] (by hand). */
    const double s0[3] = {5, 7, 9}, m0[3] = {2.5, 3.5, 4.5}, s1[2] = {6, 15}, m1[2] = {2, 5};
    for (int d = 0; d < 2; d++) {
        lg_graph *g = lg_graph_new();
        lg_tensor *x = ot_input(g, DTYPES[d], 2, S23, X23);
        for (int keep = 0; keep < 2; keep++) {
            lg_tensor *a = lg_sum_axis(g, x, 0, keep), *b = lg_mean_axis(g, x, 0, keep);
            lg_tensor *c = lg_sum_axis(g, x, 1, keep), *e = lg_mean_axis(g, x, -1, keep);
            if (keep) {
                ot_assert_shape(a, 2, (int64_t[]){1, 3});
                ot_assert_shape(b, 2, (int64_t[]){1, 3});
                ot_assert_shape(c, 2, (int64_t[]){2, 1});
                ot_assert_shape(e, 2, (int64_t[]){2, 1});
            } else {
                ot_assert_shape(a, 1, (int64_t[]){3});
                ot_assert_shape(b, 1, (int64_t[]){3});
                ot_assert_shape(c, 1, (int64_t[]){2});
                ot_assert_shape(e, 1, (int64_t[]){2});
            }
            tu_assert_tensor_close(a, s0, 3, 0, 0, "sum axis 0");
            tu_assert_tensor_close(b, m0, 3, 0, 0, "mean axis 0");
            tu_assert_tensor_close(c, s1, 2, 0, 0, "sum axis 1");
            tu_assert_tensor_close(e, m1, 2, 0, 0, "mean axis -1");
        }
        lg_graph_free(g);
    }
}

static void test_sum_axis_over_middle_axis_of_3d(void **state)
{
    (void)state;
    /* x[i][j][k] = 12i + 4j + k over (2,3,4); Σ_j = 36i + 12 + 3k (by hand):
     * [[12,15,18,21],[48,51,54,57]]; mean over j divides by 3. */
    double v[24];
    for (int i = 0; i < 24; i++)
        v[i] = i;
    const double want[8] = {12, 15, 18, 21, 48, 51, 54, 57};
    double mean[8];
    for (int i = 0; i < 8; i++)
        mean[i] = want[i] / 3;
    lg_graph *g = lg_graph_new();
    lg_tensor *x = ot_input(g, LG_F64, 3, (int64_t[]){2, 3, 4}, v);
    lg_tensor *s = lg_sum_axis(g, x, 1, false);
    ot_assert_shape(s, 2, (int64_t[]){2, 4});
    tu_assert_tensor_close(s, want, 8, 0, 0, "sum over axis 1");
    lg_tensor *m = lg_mean_axis(g, x, -2, true);
    ot_assert_shape(m, 3, (int64_t[]){2, 1, 4});
    tu_assert_tensor_close(m, mean, 8, 1e-14, 0, "mean over axis -2");
    lg_graph_free(g);
}

static void test_sum_of_empty_tensor_is_zero(void **state)
{
    (void)state;
    /* An empty sum is 0, along an axis too (its length is 0). */
    lg_graph *g = lg_graph_new();
    lg_tensor *x = lg_graph_full(g, LG_F64, 2, (int64_t[]){2, 0}, 1);
    const double zeros[2] = {0, 0};
    tu_assert_tensor_close(lg_sum(g, x), zeros, 1, 0, 0, "sum of (2,0)");
    tu_assert_tensor_close(lg_sum_axis(g, x, 1, false), zeros, 2, 0, 0, "sum over empty axis");
    lg_graph_free(g);
}

/* ---- max_axis ---- */

static void test_max_axis_matches_hand_values(void **state)
{
    (void)state;
    /* x = [[1,5,3],[7,2,6]]: axis 1 → [5,7]; axis 0 → [7,5,6] (by hand). */
    const double xv[6] = {1, 5, 3, 7, 2, 6}, m1[2] = {5, 7}, m0[3] = {7, 5, 6};
    for (int d = 0; d < 2; d++) {
        lg_graph *g = lg_graph_new();
        lg_tensor *x = ot_input(g, DTYPES[d], 2, S23, xv);
        lg_tensor *a = lg_max_axis(g, x, 1, false), *b = lg_max_axis(g, x, 0, true);
        ot_assert_shape(a, 1, (int64_t[]){2});
        ot_assert_shape(b, 2, (int64_t[]){1, 3});
        tu_assert_tensor_close(a, m1, 2, 0, 0, "max axis 1");
        tu_assert_tensor_close(b, m0, 3, 0, 0, "max axis 0");
        tu_assert_tensor_close(lg_max_axis(g, x, -1, true), m1, 2, 0, 0, "max axis -1");
        lg_graph_free(g);
    }
}

static void test_max_axis_gradient_goes_to_the_first_maximum_on_ties(void **state)
{
    (void)state;
    /* Along axis 1 of [[7,2,7],[1,4,4]]: the maxima 7 and 4 are tied; the gradient
     * goes to the first of each, [[1,0,0],[0,1,0]].
     * Along axis 0 of [[1,4],[3,4],[3,0]] (inner axis of length 2): column 0 ties at
     * rows 1 and 2, column 1 at rows 0 and 1: [[0,1],[1,0],[0,0]]. */
    const double xa[6] = {7, 2, 7, 1, 4, 4}, ga[6] = {1, 0, 0, 0, 1, 0};
    const double xb[6] = {1, 4, 3, 4, 3, 0}, gb[6] = {0, 1, 1, 0, 0, 0};
    for (int d = 0; d < 2; d++) {
        lg_tensor *a = ot_tensor(DTYPES[d], 2, S23, xa);
        lg_tensor *b = ot_tensor(DTYPES[d], 2, (int64_t[]){3, 2}, xb);
        lg_tensor_set_requires_grad(a, true);
        lg_tensor_set_requires_grad(b, true);
        lg_graph *g = lg_graph_new();
        lg_tensor *ma = lg_max_axis(g, a, 1, false), *mb = lg_max_axis(g, b, 0, false);
        tu_assert_tensor_close(ma, (double[]){7, 4}, 2, 0, 0, "tied max axis 1");
        tu_assert_tensor_close(mb, (double[]){3, 4}, 2, 0, 0, "tied max axis 0");
        assert_int_equal(lg_backward(g, lg_add(g, lg_sum(g, ma), lg_sum(g, mb))), LG_OK);
        tu_assert_tensor_close(lg_tensor_grad(a), ga, 6, 0, 0, "grad of tied max, axis 1");
        tu_assert_tensor_close(lg_tensor_grad(b), gb, 6, 0, 0, "grad of tied max, axis 0");
        lg_graph_free(g);
        lg_tensor_free(a);
        lg_tensor_free(b);
    }
}

static void test_max_axis_rejects_empty_axis(void **state)
{
    (void)state;
    lg_graph *g = lg_graph_new();
    lg_tensor *x = lg_graph_full(g, LG_F64, 2, (int64_t[]){2, 0}, 1);
    OT_EXPECT_ERROR(g, lg_max_axis(g, x, 1, false), LG_ERR_SHAPE, "lg_max_axis", "(2,0)");
    lg_graph_free(g);
}

/* ---- logsumexp ---- */

static void test_logsumexp_matches_definition(void **state)
{
    (void)state;
    /* Against log Σ exp computed directly in double (safe at these magnitudes). */
    int64_t s[3] = {2, 3, 4};
    lg_tensor *x = tu_rand(3, s, 50, 0, 0);
    for (int axis = 0; axis < 3; axis++) {
        double want[12];
        naive_lse(lg_tensor_cdata(x), 3, s, axis, want);
        for (int d = 0; d < 2; d++) {
            lg_graph *g = lg_graph_new();
            lg_tensor *y = lg_logsumexp(g, ot_input(g, DTYPES[d], 3, s, lg_tensor_cdata(x)),
                                        axis, false);
            ot_assert_shape(y, 2, (int64_t[]){axis ? 2 : 3, axis == 2 ? 3 : 4});
            tu_assert_tensor_close(y, want, 24 / s[axis], DTYPES[d] == LG_F32 ? 1e-5 : 1e-13,
                                   DTYPES[d] == LG_F32 ? 1e-5 : 1e-13, "logsumexp");
            lg_graph_free(g);
        }
    }
    lg_tensor_free(x);
}

static void test_logsumexp_does_not_overflow_at_large_logits(void **state)
{
    (void)state;
    /* log(e^a + e^a) = a + log 2; log(e^1e3 + e^0) = 1e3 + log1p(e^-1e3) = 1e3;
     * exp(1e4) itself is inf in both dtypes. [-1e4, 1e4 - 1]: 1e4 - 1 + log1p(e^(1-2e4)). */
    const double xv[6] = {1e4, 1e4, 1e3, 0, -1e4, 1e4 - 1};
    const double want[3] = {1e4 + log(2.0), 1e3, 1e4 - 1};
    for (int d = 0; d < 2; d++) {
        lg_graph *g = lg_graph_new();
        lg_tensor *y = lg_logsumexp(g, ot_input(g, DTYPES[d], 2, (int64_t[]){3, 2}, xv), 1,
                                    true);
        ot_assert_shape(y, 2, (int64_t[]){3, 1});
        /* f32 spacing at 1e4 is about 1e-3. */
        tu_assert_tensor_close(y, want, 3, DTYPES[d] == LG_F32 ? 2e-3 : 1e-11, 0, "lse 1e4");
        lg_graph_free(g);
    }
}

static void test_logsumexp_of_infinities(void **state)
{
    (void)state;
    /* All -inf: log 0 = -inf. One +inf: +inf. One -inf among finite values: ignored,
     * log(e^0 + e^0 + 0) = log 2. None of these may give NaN. */
    const double xv[9] = {-INFINITY, -INFINITY, -INFINITY, 0, INFINITY, 1,
                          0, -INFINITY, 0};
    lg_graph *g = lg_graph_new();
    lg_tensor *y = lg_logsumexp(g, ot_input(g, LG_F64, 2, (int64_t[]){3, 3}, xv), 1, false);
    assert_non_null(y);
    assert_true(isinf(lg_tensor_item(y, 0)) && lg_tensor_item(y, 0) < 0);
    assert_true(isinf(lg_tensor_item(y, 1)) && lg_tensor_item(y, 1) > 0);
    assert_float_equal(lg_tensor_item(y, 2), log(2.0), 1e-15);
    lg_graph_free(g);
}

/* ---- softmax and log_softmax ---- */

static void test_softmax_matches_hand_values(void **state)
{
    (void)state;
    /* softmax([0, ln 2, ln 3]) = [1,2,3]/6; along axis 0 of its column form the same. */
    const double xv[3] = {0, log(2.0), log(3.0)}, want[3] = {1.0 / 6, 2.0 / 6, 3.0 / 6};
    for (int d = 0; d < 2; d++) {
        double tol = ot_tol(DTYPES[d]);
        lg_graph *g = lg_graph_new();
        lg_tensor *row = ot_input(g, DTYPES[d], 2, (int64_t[]){1, 3}, xv);
        lg_tensor *col = ot_input(g, DTYPES[d], 2, (int64_t[]){3, 1}, xv);
        tu_assert_tensor_close(lg_softmax(g, row, 1), want, 3, tol, tol, "softmax axis 1");
        tu_assert_tensor_close(lg_softmax(g, row, -1), want, 3, tol, tol, "softmax axis -1");
        tu_assert_tensor_close(lg_softmax(g, col, 0), want, 3, tol, tol, "softmax axis 0");
        /* log of the same: [ln 1/6, ln 2/6, ln 3/6]. */
        const double lw[3] = {log(1.0 / 6), log(2.0 / 6), log(3.0 / 6)};
        tu_assert_tensor_close(lg_log_softmax(g, row, 1), lw, 3, tol, tol, "log_softmax");
        tu_assert_tensor_close(lg_log_softmax(g, col, -2), lw, 3, tol, tol, "log_softmax ax 0");
        /* A length-1 axis: softmax 1, log_softmax 0. */
        const double ones[3] = {1, 1, 1}, zeros[3] = {0, 0, 0};
        tu_assert_tensor_close(lg_softmax(g, col, 1), ones, 3, 0, 0, "softmax of length 1");
        tu_assert_tensor_close(lg_log_softmax(g, col, 1), zeros, 3, 0, 0, "log_sm length 1");
        lg_graph_free(g);
    }
}

static void test_softmax_matches_definition_on_every_axis_of_3d(void **state)
{
    (void)state;
    int64_t s[3] = {2, 3, 4};
    lg_tensor *x = tu_rand(3, s, 60, 0, 0);
    const double *xv = lg_tensor_cdata(x);
    for (int axis = -1; axis < 3; axis++) {
        double want[24], lse[12], lwant[24];
        int a = axis < 0 ? axis + 3 : axis;
        naive_softmax(xv, 3, s, a, want);
        naive_lse(xv, 3, s, a, lse);
        int64_t o, l, in;
        split(3, s, a, &o, &l, &in);
        for (int64_t i = 0; i < 24; i++) /* log_softmax = x - logsumexp (identity) */
            lwant[i] = xv[i] - lse[(i / (l * in)) * in + i % in];
        for (int d = 0; d < 2; d++) {
            double tol = DTYPES[d] == LG_F32 ? 1e-6 : 1e-14;
            lg_graph *g = lg_graph_new();
            lg_tensor *xi = ot_input(g, DTYPES[d], 3, s, xv);
            lg_tensor *y = lg_softmax(g, xi, axis), *ly = lg_log_softmax(g, xi, axis);
            ot_assert_shape(y, 3, s);
            ot_assert_shape(ly, 3, s);
            tu_assert_tensor_close(y, want, 24, tol, 10 * tol, "softmax 3-D");
            tu_assert_tensor_close(ly, lwant, 24, 10 * tol, 10 * tol, "log_softmax 3-D");
            lg_graph_free(g);
        }
    }
    lg_tensor_free(x);
}

static void test_softmax_is_stable_at_logits_of_1e3_and_1e4(void **state)
{
    (void)state;
    /* exp(1e3) and exp(1e4) overflow both dtypes; a max-subtracted softmax does not.
     * Rows by hand: [1e4, 1e4, -1e4] → [1/2, 1/2, 0] and [1e3, 0, 1e3] → [1/2, 0, 1/2].
     * 1e4 + ln 3 is not representable closely enough in f32, so only f64 checks
     * [1e4, 1e4 + ln 3, 0] → [1/4, 3/4, 0]. */
    const double xv[6] = {1e4, 1e4, -1e4, 1e3, 0, 1e3};
    const double want[6] = {0.5, 0.5, 0, 0.5, 0, 0.5};
    for (int d = 0; d < 2; d++) {
        lg_graph *g = lg_graph_new();
        lg_tensor *x = ot_input(g, DTYPES[d], 2, S23, xv);
        lg_tensor *y = lg_softmax(g, x, 1), *ly = lg_log_softmax(g, x, 1);
        tu_assert_tensor_close(y, want, 6, 1e-7, 0, "softmax at 1e4");
        /* log_softmax = x - logsumexp: [-ln 2, -ln 2, -2e4 - ln 2], [-ln 2, -1e3 - ln 2, -ln 2]. */
        const double lw[6] = {-log(2.0), -log(2.0), -2e4 - log(2.0),
                              -log(2.0), -1e3 - log(2.0), -log(2.0)};
        /* (x - max) is exact here, so even f32 keeps -ln 2 to its precision. */
        tu_assert_tensor_close(ly, lw, 6, DTYPES[d] == LG_F32 ? 1e-7 : 1e-15, 1e-7,
                               "log_softmax at 1e4");
        lg_graph_free(g);
    }
    const double x64[3] = {1e4, 1e4 + log(3.0), 0}, w64[3] = {0.25, 0.75, 0};
    lg_graph *g = lg_graph_new();
    lg_tensor *y = lg_softmax(g, ot_input(g, LG_F64, 1, (int64_t[]){3}, x64), 0);
    tu_assert_tensor_close(y, w64, 3, 1e-11, 0, "softmax [1e4, 1e4 + ln 3, 0]");
    lg_graph_free(g);
}

static void test_softmax_rows_sum_to_one_and_log_softmax_is_x_minus_lse_at_scale(void **state)
{
    (void)state;
    /* Logits of scale 1e3 and 1e4 along axis 0, 1 and the middle of 3-D: every softmax
     * row sums to 1 with no NaN; log_softmax matches a double-precision max-subtracted
     * reference to the precision of its dtype, and equals x - logsumexp(x) computed by
     * two other lagrad ops (an identity, up to the rounding of x - lse at 1e4). */
    const double scales[2] = {1e3, 1e4};
    int64_t s[3] = {3, 5, 4};
    for (int sc = 0; sc < 2; sc++)
        for (int d = 0; d < 2; d++)
            for (int axis = 0; axis < 3; axis++) {
                bool f32 = DTYPES[d] == LG_F32;
                lg_tensor *r = tu_rand(3, s, 70 + (uint64_t)(sc * 10 + axis), -1, 1);
                double *rv = lg_tensor_data(r);
                for (int i = 0; i < 60; i++)
                    rv[i] *= scales[sc];
                lg_graph *g = lg_graph_new();
                lg_tensor *x = ot_input(g, DTYPES[d], 3, s, rv);
                lg_tensor *y = lg_softmax(g, x, axis);
                lg_tensor *rows = lg_sum_axis(g, y, axis, false);
                lg_tensor *ly = lg_log_softmax(g, x, axis);
                lg_tensor *ref = lg_sub(g, x, lg_logsumexp(g, x, axis, true));
                assert_non_null(ref);
                int64_t nrows = lg_tensor_numel(rows);
                double ones[20], xr[60], got[60], want[60], ident[60];
                for (int64_t i = 0; i < nrows; i++)
                    ones[i] = 1;
                tu_assert_tensor_close(rows, ones, nrows, 1e-6, 0, "softmax rows sum");
                for (int i = 0; i < 60; i++) {
                    xr[i] = lg_tensor_item(x, i); /* the values as rounded to the dtype */
                    got[i] = lg_tensor_item(ly, i);
                    ident[i] = lg_tensor_item(ref, i);
                    assert_false(isnan(lg_tensor_item(y, i)));
                    assert_true(isfinite(got[i]));
                }
                stable_log_softmax(xr, 3, s, axis, want);
                tu_assert_close_arr(got, want, 60, f32 ? 1e-6 : 1e-12, f32 ? 2e-7 : 1e-15,
                                    "log_softmax against double reference");
                /* f32 spacing at 1e4 is 1e-3, and x - lse rounds there. */
                tu_assert_close_arr(ident, got, 60, f32 ? 2e-3 : 1e-11, 1e-6,
                                    "log_softmax = x - lse");
                lg_graph_free(g);
                lg_tensor_free(r);
            }
}

static void test_softmax_gradient_at_1e4_is_finite(void **state)
{
    (void)state;
    /* d/dx Σ w ⊙ softmax(x) at [1e4, 1e4, -1e4]: y = [1/2, 1/2, 0],
     * dx = y ⊙ (w - y·w), with w = [1, 3, 5]: y·w = 2, dx = [-1/2, 1/2, 0] (by hand).
     * For log_softmax, dx = w - softmax Σ w = [1 - 4.5, 3 - 4.5, 5 - 0] = [-3.5, -1.5, 5]. */
    const double xv[3] = {1e4, 1e4, -1e4}, wv[3] = {1, 3, 5};
    const double want[3] = {-0.5, 0.5, 0}, lwant[3] = {-3.5, -1.5, 5};
    for (int log_mode = 0; log_mode < 2; log_mode++) {
        lg_tensor *x = ot_tensor(LG_F64, 1, (int64_t[]){3}, xv);
        lg_tensor_set_requires_grad(x, true);
        lg_graph *g = lg_graph_new();
        lg_tensor *y = log_mode ? lg_log_softmax(g, x, 0) : lg_softmax(g, x, 0);
        lg_tensor *w = ot_input(g, LG_F64, 1, (int64_t[]){3}, wv);
        assert_int_equal(lg_backward(g, lg_sum(g, lg_mul(g, y, w))), LG_OK);
        tu_assert_tensor_close(lg_tensor_grad(x), log_mode ? lwant : want, 3, 1e-12, 0,
                               log_mode ? "log_softmax grad at 1e4" : "softmax grad at 1e4");
        lg_graph_free(g);
        lg_tensor_free(x);
    }
}

/* ---- errors ---- */

static void test_reductions_reject_bad_axis_and_null(void **state)
{
    (void)state;
    lg_graph *g = lg_graph_new();
    lg_tensor *x = lg_graph_full(g, LG_F64, 2, S23, 1);
    OT_EXPECT_ERROR(g, lg_sum_axis(g, x, 2, false), LG_ERR_ARG, "lg_sum_axis", "axis 2",
                    "rank 2");
    OT_EXPECT_ERROR(g, lg_sum_axis(g, x, -3, true), LG_ERR_ARG, "lg_sum_axis", "axis -3");
    /* mean is built on sum, but its errors still name lg_mean. */
    OT_EXPECT_ERROR(g, lg_mean_axis(g, x, 5, false), LG_ERR_ARG, "lg_mean_axis", "axis 5");
    OT_EXPECT_ERROR(g, lg_max_axis(g, x, -3, false), LG_ERR_ARG, "lg_max_axis", "axis -3");
    OT_EXPECT_ERROR(g, lg_logsumexp(g, x, 2, false), LG_ERR_ARG, "lg_logsumexp", "axis 2");
    OT_EXPECT_ERROR(g, lg_softmax(g, x, 2), LG_ERR_ARG, "lg_softmax", "axis 2");
    OT_EXPECT_ERROR(g, lg_log_softmax(g, x, -3), LG_ERR_ARG, "lg_log_softmax", "axis -3");
    /* A scalar has no axis at all. */
    lg_tensor *s = lg_graph_full(g, LG_F64, 0, NULL, 1);
    OT_EXPECT_ERROR(g, lg_softmax(g, s, 0), LG_ERR_ARG, "lg_softmax", "rank 0");
    OT_EXPECT_ERROR(g, lg_sum(g, NULL), LG_ERR_ARG, "lg_sum");
    OT_EXPECT_ERROR(g, lg_mean(g, NULL), LG_ERR_ARG, "lg_mean");
    OT_EXPECT_ERROR(g, lg_sum_axis(g, NULL, 0, false), LG_ERR_ARG, "lg_sum_axis");
    OT_EXPECT_ERROR(g, lg_mean_axis(g, NULL, 0, false), LG_ERR_ARG, "lg_mean_axis");
    OT_EXPECT_ERROR(g, lg_max_axis(g, NULL, 0, false), LG_ERR_ARG, "lg_max_axis");
    OT_EXPECT_ERROR(g, lg_logsumexp(g, NULL, 0, false), LG_ERR_ARG, "lg_logsumexp");
    OT_EXPECT_ERROR(g, lg_softmax(g, NULL, 0), LG_ERR_ARG, "lg_softmax");
    OT_EXPECT_ERROR(g, lg_log_softmax(g, NULL, 0), LG_ERR_ARG, "lg_log_softmax");
    lg_graph_free(g);
}

/* ---- gradients ---- */

typedef struct red_params {
    int axis;
    bool keepdim;
} red_params;

static lg_tensor *op_sum(lg_graph *g, lg_tensor *const *in, const void *p)
{
    (void)p;
    return lg_sum(g, in[0]);
}
static lg_tensor *op_mean(lg_graph *g, lg_tensor *const *in, const void *p)
{
    (void)p;
    return lg_mean(g, in[0]);
}
static lg_tensor *op_sum_axis(lg_graph *g, lg_tensor *const *in, const void *p)
{
    const red_params *rp = p;
    return lg_sum_axis(g, in[0], rp->axis, rp->keepdim);
}
static lg_tensor *op_mean_axis(lg_graph *g, lg_tensor *const *in, const void *p)
{
    const red_params *rp = p;
    return lg_mean_axis(g, in[0], rp->axis, rp->keepdim);
}
static lg_tensor *op_max_axis(lg_graph *g, lg_tensor *const *in, const void *p)
{
    const red_params *rp = p;
    return lg_max_axis(g, in[0], rp->axis, rp->keepdim);
}
static lg_tensor *op_logsumexp(lg_graph *g, lg_tensor *const *in, const void *p)
{
    const red_params *rp = p;
    return lg_logsumexp(g, in[0], rp->axis, rp->keepdim);
}
static lg_tensor *op_softmax(lg_graph *g, lg_tensor *const *in, const void *p)
{
    return lg_softmax(g, in[0], ((const red_params *)p)->axis);
}
static lg_tensor *op_log_softmax(lg_graph *g, lg_tensor *const *in, const void *p)
{
    return lg_log_softmax(g, in[0], ((const red_params *)p)->axis);
}

/* Random inputs of three shapes: a vector, a matrix and a 3-D tensor. */
static const int NDIMS[3] = {1, 2, 3};
static const int64_t SHAPES[3][3] = {{5}, {3, 4}, {2, 3, 4}};

/* Gradchecks op on every shape, every axis (also counted from the end) and both
 * keepdim settings. */
static void gradcheck_each_axis(ot_op op, const char *name, bool has_keepdim, uint64_t seed)
{
    for (int c = 0; c < 3; c++) {
        lg_tensor *x = tu_rand(NDIMS[c], SHAPES[c], seed + (uint64_t)c, 0, 0);
        for (int axis = -NDIMS[c]; axis < NDIMS[c]; axis++)
            for (int keep = 0; keep < (has_keepdim ? 2 : 1); keep++) {
                red_params p = {axis, keep != 0};
                char what[96];
                snprintf(what, sizeof what, "%s rank %d axis %d keepdim %d", name, NDIMS[c],
                         axis, keep);
                ot_gradcheck(op, &p, &x, 1, seed + 100 + (uint64_t)c, what);
            }
        lg_tensor_free(x);
    }
}

static void test_sum_and_mean_vjp_match_finite_diff(void **state)
{
    (void)state;
    /* Linear: zero Hessian for Σ w ⊙ sum(x), non-zero for the squared form. */
    for (int c = 0; c < 3; c++) {
        lg_tensor *x = tu_rand(NDIMS[c], SHAPES[c], 80 + (uint64_t)c, 0, 0);
        ot_gradcheck(op_sum, NULL, &x, 1, 90, "sum");
        ot_gradcheck(op_mean, NULL, &x, 1, 91, "mean");
        lg_tensor_free(x);
    }
}

static void test_sum_axis_and_mean_axis_vjp_match_finite_diff(void **state)
{
    (void)state;
    gradcheck_each_axis(op_sum_axis, "sum_axis", true, 1000);
    gradcheck_each_axis(op_mean_axis, "mean_axis", true, 2000);
}

static void test_max_axis_vjp_matches_finite_diff_without_ties(void **state)
{
    (void)state;
    /* Normal draws have no ties (nor near-ties within eps = 1e-6 here); max is piecewise
     * linear, so its own Hessian is zero away from ties. */
    gradcheck_each_axis(op_max_axis, "max_axis", true, 3000);
}

static void test_logsumexp_vjp_matches_finite_diff(void **state)
{
    (void)state;
    gradcheck_each_axis(op_logsumexp, "logsumexp", true, 4000);
}

static void test_softmax_vjp_matches_finite_diff(void **state)
{
    (void)state;
    gradcheck_each_axis(op_softmax, "softmax", false, 5000);
}

static void test_log_softmax_vjp_matches_finite_diff(void **state)
{
    (void)state;
    gradcheck_each_axis(op_log_softmax, "log_softmax", false, 6000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sum_and_mean_match_hand_values),
        cmocka_unit_test(test_sum_of_a_long_vector_is_accurate),
        cmocka_unit_test(test_sum_axis_and_mean_axis_reduce_each_axis),
        cmocka_unit_test(test_sum_axis_over_middle_axis_of_3d),
        cmocka_unit_test(test_sum_of_empty_tensor_is_zero),
        cmocka_unit_test(test_max_axis_matches_hand_values),
        cmocka_unit_test(test_max_axis_gradient_goes_to_the_first_maximum_on_ties),
        cmocka_unit_test(test_max_axis_rejects_empty_axis),
        cmocka_unit_test(test_logsumexp_matches_definition),
        cmocka_unit_test(test_logsumexp_does_not_overflow_at_large_logits),
        cmocka_unit_test(test_logsumexp_of_infinities),
        cmocka_unit_test(test_softmax_matches_hand_values),
        cmocka_unit_test(test_softmax_matches_definition_on_every_axis_of_3d),
        cmocka_unit_test(test_softmax_is_stable_at_logits_of_1e3_and_1e4),
        cmocka_unit_test(test_softmax_rows_sum_to_one_and_log_softmax_is_x_minus_lse_at_scale),
        cmocka_unit_test(test_softmax_gradient_at_1e4_is_finite),
        cmocka_unit_test(test_reductions_reject_bad_axis_and_null),
        cmocka_unit_test(test_sum_and_mean_vjp_match_finite_diff),
        cmocka_unit_test(test_sum_axis_and_mean_axis_vjp_match_finite_diff),
        cmocka_unit_test(test_max_axis_vjp_matches_finite_diff_without_ties),
        cmocka_unit_test(test_logsumexp_vjp_matches_finite_diff),
        cmocka_unit_test(test_softmax_vjp_matches_finite_diff),
        cmocka_unit_test(test_log_softmax_vjp_matches_finite_diff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
