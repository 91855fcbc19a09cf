/* Gradient checking: reverse-mode gradients against central finite differences in f64,
 * per element, along random directions, and for Hessian-vector products. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "lagrad/gradcheck.h"
#include "hvp_impl.h"

lg_gradcheck_opts lg_gradcheck_defaults(void)
{
    return (lg_gradcheck_opts){.eps = 1e-6, .atol = 1e-5, .rtol = 1e-3,
                               .mode = LG_GRADCHECK_FULL, .n_probes = 4, .seed = 0,
                               .second_order = false};
}

typedef struct checker {
    lg_fn f;
    void *ctx;
    lg_tensor *const *in;
    int n;
    lg_graph *g;
    lg_gradcheck_opts o;
    lg_gradcheck_report r;
    double worst;  /* largest excess |a - num| - atol - rtol |num| seen */
} checker;

/* f at the inputs' current values, with nothing recorded. */
static lg_status eval(checker *c, double *out)
{
    lg_graph_reset(c->g);
    lg_graph_set_grad_enabled(c->g, false);
    lg_tensor *y;
    lg_status s = lg_eval_scalar(c->g, c->f, c->ctx, c->in, c->n, "lg_gradcheck", &y);
    lg_graph_set_grad_enabled(c->g, true);
    if (s == LG_OK)
        *out = lg_load(y->data, y->dtype, 0);
    return s;
}

/* Gradients at the current values, copied into the caller-shaped tensors gr. */
static lg_status gradients(checker *c, lg_tensor *const *gr)
{
    lg_graph_reset(c->g);
    lg_tensor *y, *gs[LG_HVP_MAX_INPUTS];
    lg_status s = lg_eval_scalar(c->g, c->f, c->ctx, c->in, c->n, "lg_gradcheck", &y);
    if (s == LG_OK)
        s = lg_grad(c->g, y, NULL, c->n, c->in, gs, false);
    if (s != LG_OK && lg_graph_status(c->g) != LG_OK)
        lg_set_error(s, "lg_gradcheck: %s", lg_graph_errmsg(c->g));
    for (int i = 0; s == LG_OK && i < c->n; i++)
        memcpy(gr[i]->data, gs[i]->data, (size_t)gr[i]->numel * sizeof(double));
    return s;
}

static void compare(checker *c, int order, int input, int64_t index, double a, double num)
{
    double err = fabs(a - num);
    double excess = err - c->o.atol - c->o.rtol * fabs(num);
    if (isnan(a) != isnan(num) || (isnan(err) && !isnan(a)))
        excess = INFINITY;
    c->r.n_checked++;
    if (err > c->r.max_abs_err || isnan(err))
        c->r.max_abs_err = err;
    if (excess > c->worst || c->r.n_checked == 1) {
        c->worst = excess;
        c->r.order = order;
        c->r.input = input;
        c->r.index = index;
        c->r.analytic = a;
        c->r.numeric = num;
    }
}

/* x_i += t * d_i for every input. */
static void shift(checker *c, lg_tensor *const *d, double t)
{
    for (int i = 0; i < c->n; i++) {
        double *x = c->in[i]->data;
        const double *dd = d[i]->data;
        for (int64_t j = 0; j < c->in[i]->numel; j++)
            x[j] += t * dd[j];
    }
}

static lg_status check_full(checker *c, lg_tensor *const *grad)
{
    for (int i = 0; i < c->n; i++) {
        double *x = c->in[i]->data;
        for (int64_t j = 0; j < c->in[i]->numel; j++) {
            double v = x[j], fp, fm;
            x[j] = v + c->o.eps;
            lg_status s = eval(c, &fp);
            x[j] = v - c->o.eps;
            if (s == LG_OK)
                s = eval(c, &fm);
            x[j] = v;
            if (s != LG_OK)
                return s;
            compare(c, 1, i, j, ((double *)grad[i]->data)[j], (fp - fm) / (2 * c->o.eps));
        }
    }
    return LG_OK;
}

static void fill_normal(lg_tensor *const *d, int n, lg_rng *rng)
{
    for (int i = 0; i < n; i++)
        lg_rng_fill_normal(rng, LG_F64, d[i]->data, d[i]->numel, 0.0, 1.0);
}

static lg_status check_random(checker *c, lg_tensor *const *grad, lg_tensor *const *u,
                              lg_rng *rng)
{
    for (int p = 0; p < c->o.n_probes; p++) {
        fill_normal(u, c->n, rng);
        double a = 0, fp = 0, fm = 0;
        for (int i = 0; i < c->n; i++)
            for (int64_t j = 0; j < u[i]->numel; j++)
                a += ((double *)grad[i]->data)[j] * ((double *)u[i]->data)[j];
        shift(c, u, c->o.eps);
        lg_status s = eval(c, &fp);
        shift(c, u, -2 * c->o.eps);
        if (s == LG_OK)
            s = eval(c, &fm);
        shift(c, u, c->o.eps);
        if (s != LG_OK)
            return s;
        compare(c, 1, -1, -1, a, (fp - fm) / (2 * c->o.eps));
    }
    return LG_OK;
}

/* H v from double backward against (grad(x + eps v) - grad(x - eps v)) / 2 eps. */
static lg_status check_second(checker *c, lg_tensor *const *v, lg_tensor *const *hv,
                              lg_tensor *const *gp, lg_tensor *const *gm, lg_rng *rng)
{
    for (int p = 0; p < c->o.n_probes; p++) {
        fill_normal(v, c->n, rng);
        lg_graph_reset(c->g);
        lg_status s = lg_hvp_on(c->g, c->f, c->ctx, c->in, c->n, v, hv);
        shift(c, v, c->o.eps);
        if (s == LG_OK)
            s = gradients(c, gp);
        shift(c, v, -2 * c->o.eps);
        if (s == LG_OK)
            s = gradients(c, gm);
        shift(c, v, c->o.eps);
        if (s != LG_OK)
            return s;
        for (int i = 0; i < c->n; i++)
            for (int64_t j = 0; j < v[i]->numel; j++)
                compare(c, 2, i, j, ((double *)hv[i]->data)[j],
                        (((double *)gp[i]->data)[j] - ((double *)gm[i]->data)[j]) /
                            (2 * c->o.eps));
    }
    return LG_OK;
}

/* Five caller-shaped scratch sets: gradient, direction, H v, and the two shifted grads. */
enum { SCR_GRAD, SCR_DIR, SCR_HV, SCR_GP, SCR_GM, SCR_N };

static lg_status run(checker *c, lg_tensor *scr[SCR_N][LG_HVP_MAX_INPUTS])
{
    lg_rng rng;
    lg_rng_init(&rng, c->o.seed);
    lg_status s = gradients(c, scr[SCR_GRAD]);
    if (s == LG_OK)
        s = c->o.mode == LG_GRADCHECK_RANDOM ? check_random(c, scr[SCR_GRAD], scr[SCR_DIR], &rng)
                                             : check_full(c, scr[SCR_GRAD]);
    if (s == LG_OK && c->o.second_order)
        s = check_second(c, scr[SCR_DIR], scr[SCR_HV], scr[SCR_GP], scr[SCR_GM], &rng);
    return s;
}

lg_status lg_gradcheck(lg_fn f, void *ctx, lg_tensor *const *inputs, int n,
                       const lg_gradcheck_opts *opts, lg_gradcheck_report *report)
{
    checker c = {.f = f, .ctx = ctx, .in = inputs, .n = n};
    c.o = opts ? *opts : lg_gradcheck_defaults();
    if (!f)
        return lg_set_error(LG_ERR_ARG, "lg_gradcheck: f is NULL");
    if (n > LG_HVP_MAX_INPUTS)
        return lg_set_error(LG_ERR_ARG, "lg_gradcheck: at most %d inputs, got %d",
                            LG_HVP_MAX_INPUTS, n);
    lg_status s = lg_check_caller_inputs("lg_gradcheck", inputs, n, NULL, NULL);
    if (s != LG_OK)
        return s;
    for (int i = 0; i < n; i++)
        if (inputs[i]->dtype != LG_F64)
            return lg_set_error(LG_ERR_DTYPE, "lg_gradcheck: input %d is %s; finite "
                                "differences need f64", i, lg_dtype_name(inputs[i]->dtype));
    if (!(c.o.eps > 0) || c.o.atol < 0 || c.o.rtol < 0 || c.o.n_probes < 1)
        return lg_set_error(LG_ERR_ARG, "lg_gradcheck: need eps > 0, atol, rtol >= 0 and "
                            "n_probes >= 1");
    lg_tensor *scr[SCR_N][LG_HVP_MAX_INPUTS] = {{NULL}};
    c.g = lg_graph_new();
    s = c.g ? LG_OK : LG_ERR_OOM;
    for (int k = 0; k < SCR_N && s == LG_OK; k++)
        for (int i = 0; i < n && s == LG_OK; i++)
            if (!(scr[k][i] = lg_tensor_zeros(LG_F64, inputs[i]->ndim, inputs[i]->shape)))
                s = LG_ERR_OOM;
    unsigned flags[LG_HVP_MAX_INPUTS];
    if (s == LG_OK) {
        lg_mark_inputs(inputs, n, flags);
        s = run(&c, scr);
        lg_unmark_inputs(inputs, n, flags);
    }
    for (int k = 0; k < SCR_N; k++)
        for (int i = 0; i < n; i++)
            lg_tensor_free(scr[k][i]);
    lg_graph_free(c.g);
    c.r.passed = s == LG_OK && c.worst <= 0;
    if (s == LG_OK)
        snprintf(c.r.msg, sizeof c.r.msg, "%s: %s-order worst at input %d index %lld: "
                 "analytic %.10g numeric %.10g (max abs err %.3g over %lld checks)",
                 c.r.passed ? "passed" : "FAILED", c.r.order == 2 ? "second" : "first",
                 c.r.input, (long long)c.r.index, c.r.analytic, c.r.numeric, c.r.max_abs_err,
                 (long long)c.r.n_checked);
    else
        snprintf(c.r.msg, sizeof c.r.msg, "%s", lg_last_errmsg());
    if (report)
        *report = c.r;
    if (s == LG_OK && !c.r.passed)
        s = lg_set_error(LG_ERR_NUMERIC, "lg_gradcheck: %s", c.r.msg);
    return s;
}
