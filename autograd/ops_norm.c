/* Layer norm (a fused op) and dropout (a composition of recorded ops). */
#include "ops_impl.h"

/* ---- layer norm: one fused op (the backend's ln_forward), whose first-order VJP is
 * the fused ln_backward and whose recorded VJP (create_graph) is written in ops, so every
 * order differentiates ---- */

static int64_t ln_rows(const lg_tensor *x) { return x->numel / x->shape[x->ndim - 1]; }

/* Σ over every axis but the last, as a (d) vector. */
static lg_tensor *sum_rows(lg_graph *g, lg_tensor *t, int64_t rows, int64_t d)
{
    return lg_sum_axis(g, lg_reshape(g, t, 2, (int64_t[]){rows, d}), 0, false);
}

/* With x̂ = (x - μ) r, r = (var + eps)^-½ and g = gy γ over each row of d values:
 * dx = r (g - mean g - x̂ mean(g x̂)), dγ = Σ gy x̂, dβ = Σ gy (over the rows). */
static void ln_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    lg_tensor *x = n->in[0], *gamma = n->in[1];
    int64_t d = x->shape[x->ndim - 1], rows = ln_rows(x);
    bool need[3] = {lg_needs_grad(n, 0), lg_needs_grad(n, 1), lg_needs_grad(n, 2)};
    if (!g->grad_enabled) { /* first order: one fused pass, nothing recorded */
        lg_tensor *dx = need[0] ? lg_graph_tensor(g, x->dtype, x->ndim, x->shape) : NULL;
        lg_tensor *dg = need[1] ? lg_graph_tensor(g, x->dtype, 1, &d) : NULL;
        lg_tensor *db = need[2] ? lg_graph_tensor(g, x->dtype, 1, &d) : NULL;
        if ((need[0] && !dx) || (need[1] && !dg) || (need[2] && !db))
            return;
        g->be->ln_backward(x->dtype, rows, d, gy[0]->data, x->data, gamma->data,
                           n->saved[0]->data, n->saved[1]->data, dx ? dx->data : NULL,
                           dg ? dg->data : NULL, db ? db->data : NULL);
        gx[0] = dx, gx[1] = dg, gx[2] = db;
        return;
    }
    lg_tensor *xc = lg_sub(g, x, lg_mean_axis(g, x, -1, true));
    lg_tensor *r = lg_pow_scalar(g, lg_add_scalar(g, lg_mean_axis(g, lg_mul(g, xc, xc), -1,
                                                                  true), n->at.eps), -0.5);
    lg_tensor *xhat = lg_mul(g, xc, r);
    if (need[0]) {
        lg_tensor *gg = lg_mul(g, gy[0], gamma);
        lg_tensor *t = lg_sub(g, gg, lg_mean_axis(g, gg, -1, true));
        t = lg_sub(g, t, lg_mul(g, xhat, lg_mean_axis(g, lg_mul(g, gg, xhat), -1, true)));
        gx[0] = lg_mul(g, r, t);
    }
    if (need[1])
        gx[1] = sum_rows(g, lg_mul(g, gy[0], xhat), rows, d);
    if (need[2])
        gx[2] = sum_rows(g, gy[0], rows, d);
}
static const lg_op LAYER_NORM = {"lg_layer_norm", ln_vjp};

/* (x - mean) / sqrt(var + eps) * gamma + beta over the last axis, biased variance. */
lg_tensor *lg_layer_norm(lg_graph *g, lg_tensor *x, lg_tensor *gamma, lg_tensor *beta,
                         double eps)
{
    const char *name = LAYER_NORM.name;
    if (!lg_check_inputs(g, name, 1, &x))
        return NULL;
    if (x->ndim < 1 || x->shape[x->ndim - 1] == 0)
        return lg_fail(g, LG_ERR_SHAPE, "%s: need a non-empty last axis, got %s", name,
                       lg_tshape(x).s);
    if (!(eps >= 0))
        return lg_fail(g, LG_ERR_ARG, "%s: eps must be >= 0, got %g", name, eps);
    int64_t d = x->shape[x->ndim - 1], rows = ln_rows(x);
    lg_tensor *affine[2] = {gamma, beta};
    for (int i = 0; i < 2; i++) {
        lg_tensor *p = affine[i];
        if (p && !lg_check_inputs(g, name, 1, &p))
            return NULL;
        if (p && (p->ndim != 1 || p->shape[0] != d))
            return lg_fail(g, LG_ERR_SHAPE, "%s: %s must be (%lld), got %s", name,
                           i ? "beta" : "gamma", (long long)d, lg_tshape(p).s);
        if (p && p->dtype != x->dtype)
            return lg_fail(g, LG_ERR_DTYPE, "%s: %s is %s, x is %s", name, i ? "beta" : "gamma",
                           lg_dtype_name(p->dtype), lg_dtype_name(x->dtype));
    }
    lg_tensor *y = lg_graph_tensor(g, x->dtype, x->ndim, x->shape);
    lg_tensor *mean = y ? lg_graph_tensor(g, x->dtype, 1, &rows) : NULL;
    lg_tensor *rstd = mean ? lg_graph_tensor(g, x->dtype, 1, &rows) : NULL;
    if (!rstd)
        return NULL;
    g->be->ln_forward(x->dtype, rows, d, x->data, gamma ? gamma->data : NULL,
                      beta ? beta->data : NULL, eps, y->data, mean->data, rstd->data);
    /* The node always has three inputs; an absent γ or β is recorded as the constant it
     * stands for (it needs no gradient, so the VJP skips it). */
    lg_tensor *in[3] = {x, gamma, beta};
    if (!gamma && g->grad_enabled)
        in[1] = lg_graph_full(g, x->dtype, 1, &d, 1.0);
    if (!beta && g->grad_enabled)
        in[2] = lg_graph_full(g, x->dtype, 1, &d, 0.0);
    if (g->grad_enabled && (!in[1] || !in[2]))
        return NULL;
    lg_node *n = lg_record(g, &LAYER_NORM, 3, in, 1, &y); /* in[] is only read when enabled */
    if (n) {
        n->saved[0] = mean;
        n->saved[1] = rstd;
        n->at.eps = eps;
    }
    return g->status == LG_OK ? y : NULL;
}

/* Inverted dropout: x ⊙ mask with mask ∈ {0, 1/(1-p)} drawn from rng. */
lg_tensor *lg_dropout(lg_graph *g, lg_tensor *x, double p, lg_rng *rng)
{
    const char *name = "lg_dropout";
    if (!lg_check_inputs(g, name, 1, &x))
        return NULL;
    if (!(p >= 0 && p < 1))
        return lg_fail(g, LG_ERR_ARG, "%s: p must be in [0, 1), got %g", name, p);
    if (!g->training || p == 0)
        return x;
    if (!rng)
        return lg_fail(g, LG_ERR_ARG, "%s: rng is NULL in training mode", name);
    lg_tensor *mask = lg_graph_tensor(g, x->dtype, x->ndim, x->shape);
    if (!mask)
        return NULL;
    /* draw i decides element i, as a uniform fill would: u < p drops it */
    g->be->rng_fill(LG_RNG_KEEP_MASK, x->dtype, mask->numel, mask->data, rng->seed,
                    rng->counter, p, 1.0 / (1.0 - p));
    rng->counter += (uint64_t)mask->numel;
    return lg_mul(g, x, mask);
}
