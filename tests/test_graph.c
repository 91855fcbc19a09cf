/* The graph and backward: accumulation, seeds, reset, no-grad, long chains, double
 * backward and HVPs, allocation counting and out-of-memory injection, determinism. */
#include <stdlib.h>
#include <string.h>
#include "test_util.h"
#include "test_alloc.h"

/* ---- the counting allocator of test_alloc.h, zeroed and installed ---- */
static void use_counter(counter *c)
{
    *c = (counter){0};
    lg_allocator a = counter_allocator(c);
    lg_set_allocator(&a);
}

static lg_tensor *vec(const double *v, int64_t n)
{
    lg_tensor *t = lg_tensor_from_data(LG_F64, 1, &n, v);
    assert_non_null(t);
    assert_int_equal(lg_tensor_set_requires_grad(t, true), LG_OK);
    return t;
}

static void test_backward_accumulates_into_leaf_grad(void **state)
{
    (void)state;
    const double xv[3] = {1, -2, 3};
    lg_tensor *x = vec(xv, 3);
    lg_graph *g = lg_graph_new();
    lg_tensor *y = lg_sum(g, lg_mul(g, x, x)); /* d/dx Σx² = 2x */
    assert_int_equal(lg_backward(g, y), LG_OK);
    const double want1[3] = {2, -4, 6};
    tu_assert_tensor_close(lg_tensor_grad(x), want1, 3, 0, 0, "grad after one backward");
    /* A second backward on the same tape accumulates again (documented). */
    assert_int_equal(lg_backward(g, y), LG_OK);
    const double want2[3] = {4, -8, 12};
    tu_assert_tensor_close(lg_tensor_grad(x), want2, 3, 0, 0, "grad after two backwards");
    lg_tensor_zero_grad(x);
    const double zero[3] = {0, 0, 0};
    tu_assert_tensor_close(lg_tensor_grad(x), zero, 3, 0, 0, "grad after zero_grad");
    lg_graph_free(g);
    lg_tensor_free(x);
}

static void test_backward_non_scalar_needs_seed(void **state)
{
    (void)state;
    const double xv[2] = {1, 2}, sv[2] = {10, 20};
    lg_tensor *x = vec(xv, 2);
    int64_t n = 2;
    lg_tensor *seed = lg_tensor_from_data(LG_F64, 1, &n, sv);
    lg_graph *g = lg_graph_new();
    lg_tensor *y = lg_scale(g, x, 3.0);
    assert_int_equal(lg_backward(g, y), LG_ERR_SHAPE);
    assert_non_null(strstr(lg_graph_errmsg(g), "not a scalar"));
    lg_graph_reset(g);
    y = lg_scale(g, x, 3.0);
    assert_int_equal(lg_backward_ex(g, y, seed, false), LG_OK);
    const double want[2] = {30, 60}; /* 3 * seed */
    tu_assert_tensor_close(lg_tensor_grad(x), want, 2, 0, 0, "seeded grad");
    /* A seed of the wrong shape is refused. */
    lg_graph_reset(g);
    y = lg_scale(g, lg_reshape(g, x, 2, (int64_t[]){1, 2}), 3.0);
    assert_int_equal(lg_backward_ex(g, y, seed, false), LG_ERR_SHAPE);
    lg_graph_free(g);
    lg_tensor_free(seed);
    lg_tensor_free(x);
}

static void test_backward_after_reset_is_state_error(void **state)
{
    (void)state;
    const double xv[1] = {2};
    lg_tensor *x = vec(xv, 1);
    lg_graph *g = lg_graph_new();
    lg_tensor *y = lg_sum(g, lg_exp(g, x));
    lg_graph_reset(g);
    assert_int_equal(lg_backward(g, y), LG_ERR_STATE);
    assert_non_null(strstr(lg_graph_errmsg(g), "lg_graph_reset"));
    assert_null(lg_tensor_grad(x));
    /* Feeding a stale tensor to an op is the same error. */
    lg_graph_reset(g);
    lg_tensor *stale = lg_exp(g, x);
    lg_graph_reset(g);
    assert_null(lg_neg(g, stale));
    assert_int_equal(lg_graph_status(g), LG_ERR_STATE);
    lg_graph_free(g);
    lg_tensor_free(x);
}

static void test_backward_argument_errors(void **state)
{
    (void)state;
    const double xv[1] = {2};
    lg_tensor *x = vec(xv, 1);
    lg_graph *g = lg_graph_new(), *other = lg_graph_new();
    assert_int_equal(lg_backward(NULL, NULL), LG_ERR_ARG);
    assert_int_equal(lg_backward(g, NULL), LG_ERR_ARG);
    lg_graph_reset(g);
    lg_tensor *y = lg_sum(g, x);
    assert_int_equal(lg_backward(other, y), LG_ERR_STATE); /* tensor of another graph */
    assert_int_equal(lg_backward(g, x), LG_ERR_STATE);     /* a caller-owned leaf */
    lg_graph_reset(g);
    lg_graph_set_grad_enabled(g, false);
    y = lg_sum(g, x);
    assert_int_equal(lg_backward(g, y), LG_ERR_STATE); /* nothing recorded */
    assert_non_null(strstr(lg_graph_errmsg(g), "does not require grad"));
    lg_graph_free(other);
    lg_graph_free(g);
    lg_tensor_free(x);
}

static void test_no_grad_mode_records_nothing(void **state)
{
    (void)state;
    const double xv[2] = {1, 2};
    lg_tensor *x = vec(xv, 2);
    lg_graph *g = lg_graph_new();
    assert_true(lg_graph_set_grad_enabled(g, false));
    lg_tensor *y = lg_sum(g, lg_relu(g, lg_mul(g, x, x)));
    assert_non_null(y);
    assert_int_equal(lg_graph_num_ops(g), 0);
    assert_false(lg_tensor_requires_grad(y));
    tu_assert_near(lg_tensor_item(y, 0), 5.0, 0);
    assert_false(lg_graph_set_grad_enabled(g, true));
    y = lg_sum(g, lg_mul(g, x, x));
    assert_int_equal(lg_graph_num_ops(g), 2);
    lg_graph_free(g);
    lg_tensor_free(x);
}

/* y = 1.00001^100000 x through 100,000 recorded scale ops: the walk is a loop, so a
 * deep chain needs no stack. */
static void test_backward_walks_100k_op_chain(void **state)
{
    (void)state;
    const double xv[1] = {1.5};
    lg_tensor *x = vec(xv, 1);
    lg_graph *g = lg_graph_new();
    lg_tensor *y = x;
    for (int i = 0; i < 100000; i++)
        y = lg_scale(g, y, 1.00001);
    assert_int_equal(lg_graph_num_ops(g), 100000);
    assert_int_equal(lg_backward(g, lg_sum(g, y)), LG_OK);
    double want = pow(1.00001, 100000);
    tu_assert_tensor_close(lg_tensor_grad(x), &want, 1, 0, 1e-9, "chain gradient");
    lg_graph_free(g);
    lg_tensor_free(x);
}

static void test_grad_of_grad_gives_second_derivative(void **state)
{
    (void)state;
    const double xv[1] = {2};
    lg_tensor *x = vec(xv, 1);
    lg_graph *g = lg_graph_new();
    lg_tensor *y = lg_sum(g, lg_pow_scalar(g, x, 3)); /* x³ */
    lg_tensor *dy;
    assert_int_equal(lg_grad(g, y, NULL, 1, &x, &dy, true), LG_OK);
    tu_assert_near(lg_tensor_item(dy, 0), 12.0, 1e-12); /* 3x² */
    assert_null(lg_tensor_grad(x)); /* lg_grad leaves .grad alone */
    assert_int_equal(lg_backward(g, lg_sum(g, dy)), LG_OK);
    tu_assert_near(lg_tensor_item(lg_tensor_grad(x), 0), 12.0, 1e-12); /* 6x */
    lg_graph_free(g);
    lg_tensor_free(x);
}

static void test_grad_is_zero_for_unused_input(void **state)
{
    (void)state;
    const double xv[2] = {1, 2};
    lg_tensor *x = vec(xv, 2), *z = vec(xv, 2);
    lg_graph *g = lg_graph_new();
    lg_tensor *y = lg_sum(g, lg_exp(g, x));
    lg_tensor *in[2] = {x, z}, *gr[2];
    assert_int_equal(lg_grad(g, y, NULL, 2, in, gr, false), LG_OK);
    const double zero[2] = {0, 0}, want[2] = {exp(1.0), exp(2.0)};
    tu_assert_tensor_close(gr[0], want, 2, 0, 1e-15, "grad of used input");
    tu_assert_tensor_close(gr[1], zero, 2, 0, 0, "grad of unused input");
    assert_int_equal(lg_grad(g, y, NULL, -1, in, gr, false), LG_ERR_ARG);
    lg_graph_free(g);
    lg_tensor_free(x);
    lg_tensor_free(z);
}

/* f(x) = xᵀ A x has Hessian A + Aᵀ, so H v is known exactly. */
static lg_tensor *quad_form(lg_graph *g, lg_tensor *const *in, int n, void *ctx)
{
    (void)n;
    lg_tensor *a = ctx, *x = in[0];
    int64_t col[2] = {lg_tensor_numel(x), 1};
    lg_tensor *xc = lg_reshape(g, x, 2, col);
    return lg_sum(g, lg_mul(g, xc, lg_matmul(g, a, xc)));
}

static void test_hvp_matches_quadratic_form_hessian(void **state)
{
    (void)state;
    int64_t sa[2] = {5, 5}, sx[1] = {5};
    lg_tensor *a = tu_rand(2, sa, 11, 0, 0), *x = tu_rand(1, sx, 12, 0, 0);
    lg_tensor *v = tu_rand(1, sx, 13, 0, 0), *hv = lg_tensor_zeros(LG_F64, 1, sx);
    assert_int_equal(lg_hvp(quad_form, a, &x, 1, &v, &hv), LG_OK);
    double want[5];
    const double *A = lg_tensor_cdata(a), *V = lg_tensor_cdata(v);
    for (int i = 0; i < 5; i++) {
        want[i] = 0;
        for (int j = 0; j < 5; j++)
            want[i] += (A[i * 5 + j] + A[j * 5 + i]) * V[j];
    }
    tu_assert_tensor_close(hv, want, 5, 1e-12, 1e-12, "H v of xᵀAx");
    assert_false(lg_tensor_requires_grad(x)); /* lg_hvp restores the flag */
    lg_tensor_free(a);
    lg_tensor_free(x);
    lg_tensor_free(v);
    lg_tensor_free(hv);
}

/* A non-quadratic function: sum(tanh(W x)²) + sum(softmax(x) ⊙ x). */
static lg_tensor *nonlinear(lg_graph *g, lg_tensor *const *in, int n, void *ctx)
{
    (void)n;
    lg_tensor *w = ctx, *x = in[0];
    int64_t col[2] = {lg_tensor_numel(x), 1};
    lg_tensor *h = lg_tanh(g, lg_matmul(g, w, lg_reshape(g, x, 2, col)));
    return lg_add(g, lg_sum(g, lg_mul(g, h, h)), lg_sum(g, lg_mul(g, lg_softmax(g, x, 0), x)));
}

static void test_hvp_matches_finite_diff_of_gradients(void **state)
{
    (void)state;
    int64_t sw[2] = {4, 6}, sx[1] = {6};
    lg_tensor *w = tu_rand(2, sw, 21, 0, 0), *x = tu_rand(1, sx, 22, 0, 0);
    lg_tensor *v = tu_rand(1, sx, 23, 0, 0), *hv = lg_tensor_zeros(LG_F64, 1, sx);
    assert_int_equal(lg_hvp(nonlinear, w, &x, 1, &v, &hv), LG_OK);
    /* (grad(x + h v) - grad(x - h v)) / 2h */
    double h = 1e-5, num[6];
    double *xd = lg_tensor_data(x);
    const double *vd = lg_tensor_cdata(v);
    lg_tensor *gp = lg_tensor_zeros(LG_F64, 1, sx), *gm = lg_tensor_zeros(LG_F64, 1, sx);
    lg_graph *g = lg_graph_new();
    lg_tensor_set_requires_grad(x, true);
    for (int side = 0; side < 2; side++) {
        for (int i = 0; i < 6; i++)
            xd[i] += (side ? -2 : 1) * h * vd[i];
        lg_graph_reset(g);
        lg_tensor *gr;
        assert_int_equal(lg_grad(g, nonlinear(g, &x, 1, w), NULL, 1, &x, &gr, false), LG_OK);
        lg_tensor_copy_from(side ? gm : gp, gr);
    }
    for (int i = 0; i < 6; i++) {
        xd[i] += h * vd[i];
        num[i] = (lg_tensor_item(gp, i) - lg_tensor_item(gm, i)) / (2 * h);
    }
    tu_assert_tensor_close(hv, num, 6, 1e-6, 1e-5, "H v against differences of gradients");
    lg_graph_free(g);
    lg_tensor *ts[] = {w, x, v, hv, gp, gm};
    for (int i = 0; i < 6; i++)
        lg_tensor_free(ts[i]);
}

static void test_hvp_rejects_bad_arguments(void **state)
{
    (void)state;
    int64_t s3[1] = {3}, s4[1] = {4};
    lg_tensor *x = lg_tensor_zeros(LG_F64, 1, s3), *v = lg_tensor_zeros(LG_F64, 1, s4);
    lg_tensor *hv = lg_tensor_zeros(LG_F64, 1, s3);
    assert_int_equal(lg_hvp(NULL, NULL, &x, 1, &hv, &hv), LG_ERR_ARG);
    assert_int_equal(lg_hvp(quad_form, NULL, &x, 1, &v, &hv), LG_ERR_SHAPE);
    assert_non_null(strstr(lg_last_errmsg(), "lg_hvp"));
    lg_tensor_free(x);
    lg_tensor_free(v);
    lg_tensor_free(hv);
}

/* ---- gradcheck itself must catch wrong gradients ---- */
static lg_tensor *sum_relu(lg_graph *g, lg_tensor *const *in, int n, void *ctx)
{
    (void)n, (void)ctx;
    return lg_sum(g, lg_relu(g, in[0]));
}

static lg_tensor *sum_abs(lg_graph *g, lg_tensor *const *in, int n, void *ctx)
{
    (void)n, (void)ctx;
    return lg_sum(g, lg_abs(g, in[0]));
}

static void test_gradcheck_reports_kink_as_failure(void **state)
{
    (void)state;
    /* relu at exactly 0: the VJP says 0, central differences say 0.5. */
    const double xv[3] = {1.0, 0.0, -1.0};
    int64_t n = 3;
    lg_tensor *x = lg_tensor_from_data(LG_F64, 1, &n, xv);
    lg_gradcheck_report r;
    assert_int_equal(lg_gradcheck(sum_relu, NULL, &x, 1, NULL, &r), LG_ERR_NUMERIC);
    assert_false(r.passed);
    assert_int_equal(r.index, 1);
    tu_assert_near(r.analytic, 0.0, 0);
    tu_assert_near(r.numeric, 0.5, 1e-6);
    /* Random-probe mode sees it too. */
    lg_gradcheck_opts o = lg_gradcheck_defaults();
    o.mode = LG_GRADCHECK_RANDOM;
    assert_int_equal(lg_gradcheck(sum_relu, NULL, &x, 1, &o, &r), LG_ERR_NUMERIC);
    /* Second order: |x| has zero curvature off 0 but a jump in slope at 0. */
    o = lg_gradcheck_defaults();
    o.second_order = true;
    assert_int_equal(lg_gradcheck(sum_abs, NULL, &x, 1, &o, &r), LG_ERR_NUMERIC);
    lg_tensor_free(x);
}

static void test_gradcheck_random_mode_passes_on_large_input(void **state)
{
    (void)state;
    int64_t s[2] = {50, 40};
    lg_tensor *x = tu_rand(2, s, 5, 0.1, 2.0);
    lg_gradcheck_opts o = lg_gradcheck_defaults();
    o.mode = LG_GRADCHECK_RANDOM;
    o.n_probes = 8;
    lg_gradcheck_report r;
    assert_int_equal(lg_gradcheck(sum_relu, NULL, &x, 1, &o, &r), LG_OK);
    assert_true(r.passed);
    assert_int_equal(r.n_checked, 8);
    lg_tensor_free(x);
}

static void test_gradcheck_rejects_f32_and_null(void **state)
{
    (void)state;
    int64_t n = 2;
    lg_tensor *x = lg_tensor_zeros(LG_F32, 1, &n);
    assert_int_equal(lg_gradcheck(sum_relu, NULL, &x, 1, NULL, NULL), LG_ERR_DTYPE);
    assert_non_null(strstr(lg_last_errmsg(), "f32"));
    assert_int_equal(lg_gradcheck(NULL, NULL, &x, 1, NULL, NULL), LG_ERR_ARG);
    lg_tensor *none = NULL;
    assert_int_equal(lg_gradcheck(sum_relu, NULL, &none, 1, NULL, NULL), LG_ERR_ARG);
    lg_tensor_free(x);
}

/* ---- memory: no allocation after the first step, and out-of-memory safety ---- */
typedef struct mlp {
    lg_tensor *w1, *b1, *w2, *b2, *x;
    int32_t labels[16];
} mlp;

static mlp mlp_new(void)
{
    mlp m;
    lg_rng r;
    lg_rng_init(&r, 3);
    int64_t sw1[2] = {32, 20}, sb1[1] = {32}, sw2[2] = {10, 32}, sb2[1] = {10}, sx[2] = {16, 20};
    m.w1 = lg_tensor_normal(LG_F32, 2, sw1, 0, 0.2, &r);
    m.b1 = lg_tensor_zeros(LG_F32, 1, sb1);
    m.w2 = lg_tensor_normal(LG_F32, 2, sw2, 0, 0.2, &r);
    m.b2 = lg_tensor_zeros(LG_F32, 1, sb2);
    m.x = lg_tensor_normal(LG_F32, 2, sx, 0, 1, &r);
    lg_tensor *p[4] = {m.w1, m.b1, m.w2, m.b2};
    for (int i = 0; i < 4; i++)
        if (p[i])
            lg_tensor_set_requires_grad(p[i], true);
    for (int i = 0; i < 16; i++)
        m.labels[i] = i % 10;
    return m;
}

static void mlp_free(mlp *m)
{
    lg_tensor *p[5] = {m->w1, m->b1, m->w2, m->b2, m->x};
    for (int i = 0; i < 5; i++)
        lg_tensor_free(p[i]);
}

/* One SGD step; returns the status of the forward/backward. */
static lg_status mlp_step(lg_graph *g, mlp *m, float *loss)
{
    lg_graph_reset(g);
    lg_tensor *h = lg_relu(g, lg_linear(g, m->x, m->w1, m->b1));
    lg_tensor *y = lg_graph_input(g, LG_I32, 1, (int64_t[]){16}, m->labels);
    lg_tensor *l = lg_cross_entropy(g, lg_linear(g, h, m->w2, m->b2), y);
    lg_status s = l ? lg_backward(g, l) : lg_graph_status(g);
    if (s != LG_OK)
        return s;
    *loss = (float)lg_tensor_item(l, 0);
    lg_tensor *p[4] = {m->w1, m->b1, m->w2, m->b2};
    for (int i = 0; i < 4; i++) {
        float *w = lg_tensor_data(p[i]);
        const float *dw = lg_tensor_cdata(lg_tensor_grad(p[i]));
        for (int64_t j = 0; j < lg_tensor_numel(p[i]); j++)
            w[j] -= 0.1f * dw[j];
        lg_tensor_zero_grad(p[i]);
    }
    return LG_OK;
}

static void test_training_step_allocates_nothing_after_first(void **state)
{
    (void)state;
    counter c;
    use_counter(&c);
    mlp m = mlp_new();
    lg_graph *g = lg_graph_new();
    float first = 0, loss = 0;
    assert_int_equal(mlp_step(g, &m, &first), LG_OK);
    long after_first = c.calls;
    for (int i = 0; i < 20; i++)
        assert_int_equal(mlp_step(g, &m, &loss), LG_OK);
    assert_int_equal(c.calls, after_first); /* zero allocations in steps 2..21 */
    assert_true(loss < first);              /* and it did train */
    lg_graph_free(g);
    mlp_free(&m);
    assert_int_equal(c.live, 0);
    assert_int_equal(c.live_bytes, 0);
    lg_set_allocator(NULL);
}

static void test_oom_at_every_allocation_leaks_nothing(void **state)
{
    (void)state;
    counter c;
    use_counter(&c);
    mlp m = mlp_new();
    lg_graph *g = lg_graph_new();
    float loss;
    assert_int_equal(mlp_step(g, &m, &loss), LG_OK);
    lg_graph_free(g);
    mlp_free(&m);
    long total = c.calls;
    assert_true(total > 5);
    for (long k = 1; k <= total; k++) {
        use_counter(&c);
        c.fail_at = k;
        lg_status s = LG_ERR_OOM;
        m = mlp_new();
        g = lg_graph_new();
        bool built = m.w1 && m.b1 && m.w2 && m.b2 && m.x && g;
        if (built) {
            s = mlp_step(g, &m, &loss);
            assert_int_equal(s, LG_ERR_OOM);
            assert_non_null(strstr(lg_graph_errmsg(g), "out of memory"));
            /* The graph is usable again after a reset. */
            assert_int_equal(mlp_step(g, &m, &loss), LG_OK);
        }
        lg_graph_free(g);
        mlp_free(&m);
        assert_int_equal(c.live, 0);
        assert_int_equal(c.live_bytes, 0);
    }
    lg_set_allocator(NULL);
}

/* ---- threads: identical bits run to run at a fixed thread count ---- */
static void run_big(lg_graph *g, lg_tensor *a, lg_tensor *b, double out[3])
{
    lg_graph_reset(g);
    lg_tensor *c = lg_matmul(g, a, b);
    lg_tensor *s = lg_softmax(g, c, 1);
    out[0] = lg_tensor_item(lg_sum(g, lg_exp(g, c)), 0);
    out[1] = lg_tensor_item(lg_sum(g, lg_mul(g, s, c)), 0);
    out[2] = lg_tensor_item(lg_sum(g, lg_sum_axis(g, c, 0, false)), 0);
}

static void test_results_bit_identical_at_fixed_threads(void **state)
{
    (void)state;
    int64_t sa[2] = {300, 200}, sb[2] = {200, 300};
    lg_rng r;
    lg_rng_init(&r, 9);
    lg_tensor *a = lg_tensor_normal(LG_F32, 2, sa, 0, 0.1, &r);
    lg_tensor *b = lg_tensor_normal(LG_F32, 2, sb, 0, 0.1, &r);
    lg_graph *g = lg_graph_new();
    assert_int_equal(lg_set_num_threads(2), LG_OK);
    double r1[3], r2[3];
    run_big(g, a, b, r1);
    run_big(g, a, b, r2);
    assert_memory_equal(r1, r2, sizeof r1);
    assert_int_equal(lg_set_num_threads(0), LG_ERR_ARG);
    lg_graph_free(g);
    lg_tensor_free(a);
    lg_tensor_free(b);
}

static void test_graph_inputs_and_errors(void **state)
{
    (void)state;
    const float d[3] = {1, 2, 3};
    int64_t n = 3, neg = -1;
    lg_graph *g = lg_graph_new();
    lg_tensor *t = lg_graph_input(g, LG_F32, 1, &n, d);
    assert_non_null(t);
    tu_assert_near(lg_tensor_item(t, 2), 3.0, 0);
    assert_false(lg_tensor_requires_grad(t)); /* a constant */
    lg_tensor *f = lg_graph_full(g, LG_F64, 1, &n, 0.5);
    tu_assert_near(lg_tensor_item(f, 1), 0.5, 0);
    assert_null(lg_graph_input(g, LG_F32, 1, &n, NULL));
    assert_int_equal(lg_graph_status(g), LG_ERR_ARG);
    assert_non_null(strstr(lg_graph_errmsg(g), "lg_graph_input"));
    /* The first error sticks: later failures and ops do not replace it. */
    assert_null(lg_graph_full(g, LG_F32, 1, &neg, 0));
    assert_null(lg_exp(g, t));
    assert_int_equal(lg_graph_status(g), LG_ERR_ARG);
    assert_non_null(strstr(lg_graph_errmsg(g), "data is NULL"));
    lg_graph_clear_error(g);
    assert_null(lg_graph_full(g, LG_F32, 1, &neg, 0));
    assert_int_equal(lg_graph_status(g), LG_ERR_SHAPE);
    lg_graph_reset(g);
    assert_null(lg_graph_full(g, (lg_dtype)9, 1, &n, 0));
    assert_int_equal(lg_graph_status(g), LG_ERR_DTYPE);
    lg_graph_reset(g);
    assert_int_equal(lg_graph_status(g), LG_OK);
    assert_true(lg_graph_set_training(g, false));
    assert_false(lg_graph_set_training(g, true));
    assert_true(lg_graph_arena_bytes(g) > 0);
    /* NULL graphs are refused without crashing. */
    assert_int_equal(lg_graph_status(NULL), LG_ERR_ARG);
    assert_null(lg_graph_input(NULL, LG_F32, 1, &n, d));
    assert_null(lg_exp(NULL, t));
    assert_non_null(strstr(lg_last_errmsg(), "lg_exp: graph is NULL"));
    lg_graph_reset(NULL);
    lg_graph_free(NULL);
    lg_graph_free(g);
}

static void test_blas_is_the_openmp_build(void **state)
{
    (void)state;
    assert_string_equal(lg_blas_threading(), "openmp");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backward_accumulates_into_leaf_grad),
        cmocka_unit_test(test_backward_non_scalar_needs_seed),
        cmocka_unit_test(test_backward_after_reset_is_state_error),
        cmocka_unit_test(test_backward_argument_errors),
        cmocka_unit_test(test_no_grad_mode_records_nothing),
        cmocka_unit_test(test_backward_walks_100k_op_chain),
        cmocka_unit_test(test_grad_of_grad_gives_second_derivative),
        cmocka_unit_test(test_grad_is_zero_for_unused_input),
        cmocka_unit_test(test_hvp_matches_quadratic_form_hessian),
        cmocka_unit_test(test_hvp_matches_finite_diff_of_gradients),
        cmocka_unit_test(test_hvp_rejects_bad_arguments),
        cmocka_unit_test(test_gradcheck_reports_kink_as_failure),
        cmocka_unit_test(test_gradcheck_random_mode_passes_on_large_input),
        cmocka_unit_test(test_gradcheck_rejects_f32_and_null),
        cmocka_unit_test(test_training_step_allocates_nothing_after_first),
        cmocka_unit_test(test_oom_at_every_allocation_leaks_nothing),
        cmocka_unit_test(test_results_bit_identical_at_fixed_threads),
        cmocka_unit_test(test_graph_inputs_and_errors),
        cmocka_unit_test(test_blas_is_the_openmp_build),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
