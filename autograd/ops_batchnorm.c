/* Batch normalisation over (N, C) or (N, C, H, W), per channel C: the fused training
 * forward (batch statistics, running-statistics update), its fused backward op with an
 * analytic VJP written in lagrad ops (so every order differentiates), and eval mode as a
 * composition of ops. Pooling, conv and flatten live in their own files. */
#include <math.h>
#include "ops_impl.h"

static lg_bn_dims dims_of(const lg_tensor *x)
{
    lg_bn_dims d = {x->shape[0], x->shape[1], 1, 0};
    for (int i = 2; i < x->ndim; i++)
        d.s *= x->shape[i];
    d.m = d.n * d.s;
    return d;
}

/* Per-channel (C) tensors broadcast against x: shape (1, C) or (1, C, 1, 1). */
static lg_tensor *as_channels(lg_graph *g, lg_tensor *t, const lg_tensor *x)
{
    int64_t shape[4] = {1, x->shape[1], 1, 1};
    return lg_reshape(g, t, x->ndim, shape);
}

/* Σ over every axis but the channel axis, kept as (1, C) or (1, C, 1, 1). */
static lg_tensor *chan_sum(lg_graph *g, lg_tensor *t)
{
    if (t && t->ndim == 4)
        t = lg_sum_axis(g, lg_sum_axis(g, t, 3, true), 2, true);
    return lg_sum_axis(g, t, 0, true);
}

static lg_tensor *chan_mean(lg_graph *g, lg_tensor *t, lg_bn_dims d)
{
    return lg_scale(g, chan_sum(g, t), 1.0 / (double)d.m);
}

static lg_tensor *as_vector(lg_graph *g, lg_tensor *t)
{
    return t ? lg_reshape(g, t, 1, &t->shape[1]) : NULL;
}

/* ---- the fused backward op (kernels: the backend's bn_forward and bn_backward) ---- */

static lg_tensor *bn_backward(lg_graph *g, lg_tensor *gy, lg_tensor *x, lg_tensor *gamma,
                              lg_tensor *mean, lg_tensor *rstd, double eps, lg_tensor **dgamma,
                              lg_tensor **dbeta);

/* x̂ = (x - μ) r and r = (var + eps)^-½ rebuilt from x with ops, so that what the VJP
 * below computes from them differentiates again. */
static void xhat_ops(lg_graph *g, lg_tensor *x, lg_bn_dims d, double eps, lg_tensor **xhat,
                     lg_tensor **r)
{
    lg_tensor *xc = lg_sub(g, x, chan_mean(g, x, d));
    *r = lg_pow_scalar(g, lg_add_scalar(g, chan_mean(g, lg_mul(g, xc, xc), d), eps), -0.5);
    *xhat = lg_mul(g, xc, *r);
}

/* (dx, dγ, dβ) = B(gy, x, γ) above; per channel, with M values, P(v) = r (v - mean(v)
 * - x̂ mean(v x̂)) the projection through which the batch statistics act, dx = γ P(gy),
 * dγ = Σ gy x̂, dβ = Σ gy. For incoming gradients A (of dx, shape of x), Bγ, Bβ (C):
 *   d gy += γ P(A) + Bγ x̂ + Bβ                    (γ P(A) is B(A, x, γ)'s dx)
 *   d γ  += Σ A P(gy)
 *   d x  += Bγ P(gy) - γ r²/M [x̂ (Σ A gy - ΣA Σgy/M - 3 Σgy x̂ Σ A x̂/M)
 *                               + (gy - mean gy) Σ A x̂ + (A - mean A) Σ gy x̂]
 * (the derivative of <A, γ P(gy)> through r and x̂; cf. PyTorch's
 * batchnorm_double_backward). */
static void bn_backward_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    lg_tensor *g0 = n->in[0], *x = n->in[1], *gamma = n->in[2];
    lg_tensor *a = gy[0], *bg = gy[1], *bb = gy[2];
    lg_bn_dims d = dims_of(x);
    double m = (double)d.m;
    lg_tensor *xhat, *r, *ones = lg_graph_full(g, x->dtype, 1, &d.c, 1.0);
    xhat_ops(g, x, d, n->at.eps, &xhat, &r);
    lg_tensor *gam = as_channels(g, gamma, x), *skip;
    lg_tensor *sg = chan_sum(g, g0), *sgx = chan_sum(g, lg_mul(g, g0, xhat));
    /* P(gy), through the fused op with γ = 1 */
    lg_tensor *pg = (a || bg) ? bn_backward(g, g0, x, ones, n->saved[0], n->saved[1], n->at.eps,
                                            &skip, &skip) : NULL;
    lg_tensor *dgy = NULL, *dx = NULL, *dgam = NULL;
    if (a) {
        dgy = bn_backward(g, a, x, gamma, n->saved[0], n->saved[1], n->at.eps, &skip, &skip);
        dgam = as_vector(g, chan_sum(g, lg_mul(g, a, pg)));
        lg_tensor *sa = chan_sum(g, a), *sax = chan_sum(g, lg_mul(g, a, xhat));
        lg_tensor *s1 = lg_sub(g, chan_sum(g, lg_mul(g, a, g0)), lg_scale(g, lg_mul(g, sa, sg),
                                                                          1.0 / m));
        lg_tensor *coef = lg_sub(g, s1, lg_scale(g, lg_mul(g, sgx, sax), 3.0 / m));
        lg_tensor *t = lg_mul(g, xhat, coef);
        t = lg_add(g, t, lg_mul(g, lg_sub(g, g0, lg_scale(g, sg, 1.0 / m)), sax));
        t = lg_add(g, t, lg_mul(g, lg_sub(g, a, lg_scale(g, sa, 1.0 / m)), sgx));
        dx = lg_mul(g, t, lg_scale(g, lg_mul(g, gam, lg_mul(g, r, r)), -1.0 / m));
    }
    if (bg) {
        lg_tensor *bgc = as_channels(g, bg, x);
        lg_tensor *t = lg_mul(g, xhat, bgc);
        dgy = dgy ? lg_add(g, dgy, t) : t;
        t = lg_mul(g, pg, bgc);
        dx = dx ? lg_add(g, dx, t) : t;
    }
    if (bb) {
        lg_tensor *t = lg_broadcast_to(g, as_channels(g, bb, x), x->ndim, x->shape);
        dgy = dgy ? lg_add(g, dgy, t) : t;
    }
    if (lg_needs_grad(n, 0))
        gx[0] = dgy;
    if (lg_needs_grad(n, 1))
        gx[1] = dx;
    if (lg_needs_grad(n, 2))
        gx[2] = dgam;
}
static const lg_op BN_BWD = {"lg_batch_norm_backward", bn_backward_vjp};

/* Returns dx and sets *dgamma, *dbeta (C); mean and rstd are the forward's (C) values,
 * computed with eps. */
static lg_tensor *bn_backward(lg_graph *g, lg_tensor *gy, lg_tensor *x, lg_tensor *gamma,
                              lg_tensor *mean, lg_tensor *rstd, double eps, lg_tensor **dgamma,
                              lg_tensor **dbeta)
{
    lg_tensor *in[3] = {gy, x, gamma};
    *dgamma = *dbeta = NULL;
    if (!lg_check_inputs(g, BN_BWD.name, 3, in) || !mean || !rstd)
        return NULL;
    lg_bn_dims d = dims_of(x);
    lg_tensor *dx = lg_graph_tensor(g, x->dtype, x->ndim, x->shape);
    lg_tensor *dg = lg_graph_tensor(g, x->dtype, 1, &d.c);
    lg_tensor *db = lg_graph_tensor(g, x->dtype, 1, &d.c);
    if (!dx || !dg || !db)
        return NULL;
    g->be->bn_backward(x->dtype, &d, gy->data, x->data, gamma->data, mean->data, rstd->data,
                       dx->data, dg->data, db->data);
    lg_tensor *out[3] = {dx, dg, db};
    lg_node *n = lg_record(g, &BN_BWD, 3, in, 3, out);
    if (n) {
        n->saved[0] = mean;
        n->saved[1] = rstd;
        n->at.eps = eps;
    }
    *dgamma = dg;
    *dbeta = db;
    return g->status == LG_OK ? dx : NULL;
}

/* ---- the training forward ---- */

/* y = γ x̂ + β with batch statistics: (dx, dγ, dβ) = B(dy, x, γ), the fused op above. */
static void bn_train_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    lg_tensor *dg, *db;
    lg_tensor *dx = bn_backward(g, gy[0], n->in[0], n->in[1], n->saved[0], n->saved[1],
                                n->at.eps, &dg, &db);
    if (lg_needs_grad(n, 0))
        gx[0] = dx;
    if (lg_needs_grad(n, 1))
        gx[1] = dg;
    if (lg_needs_grad(n, 2))
        gx[2] = db;
}
static const lg_op BN_TRAIN = {"lg_batch_norm", bn_train_vjp};

/* run = (1 - w) run + w k stat over (C) vectors of one dtype, through the backend;
 * scratch holds C elements. */
static void blend(const lg_backend *be, lg_tensor *run, const void *stat, double w, double k,
                  void *scratch)
{
    int64_t c = run->numel;
    lg_bcast same = {.ndim = 1, .numel = c, .shape = {c}, .stride = {{1}, {1}}};
    be->unary(LG_UN_SCALE, run->dtype, c, stat, scratch, w * k);
    be->unary(LG_UN_SCALE, run->dtype, c, run->data, run->data, 1 - w);
    be->binary(LG_BIN_ADD, run->dtype, &same, run->data, scratch, run->data, 0);
}

/* running = (1 - momentum) running + momentum stat, with the unbiased variance (both
 * buffers are (C) of x's dtype, checked by lg_batch_norm). */
static void update_running(lg_graph *g, lg_tensor *rm, lg_tensor *rv, const lg_tensor *mean,
                           const lg_tensor *var, lg_bn_dims d, double momentum)
{
    void *scratch = lg_arena_data(g, (size_t)d.c * lg_dtype_size(rm->dtype), "lg_batch_norm");
    if (!scratch)
        return;
    blend(g->be, rm, mean->data, momentum, 1.0, scratch);
    blend(g->be, rv, var->data, momentum, (double)d.m / (double)(d.m - 1), scratch);
}

static lg_tensor *bn_train(lg_graph *g, lg_tensor *x, lg_tensor *gamma, lg_tensor *beta,
                           lg_tensor *rm, lg_tensor *rv, double momentum, double eps)
{
    lg_bn_dims d = dims_of(x);
    if (d.m < 2)
        return lg_fail(g, LG_ERR_SHAPE, "lg_batch_norm: training needs more than one value "
                       "per channel, got input %s", lg_tshape(x).s);
    lg_tensor *y = lg_graph_tensor(g, x->dtype, x->ndim, x->shape);
    lg_tensor *mean = lg_graph_tensor(g, x->dtype, 1, &d.c);
    lg_tensor *rstd = lg_graph_tensor(g, x->dtype, 1, &d.c);
    lg_tensor *var = lg_graph_tensor(g, x->dtype, 1, &d.c);
    if (!y || !mean || !rstd || !var)
        return NULL;
    g->be->bn_forward(x->dtype, &d, x->data, gamma->data, beta->data, eps, y->data,
                      mean->data, rstd->data, var->data);
    lg_tensor *in[3] = {x, gamma, beta};
    lg_node *n = lg_record(g, &BN_TRAIN, 3, in, 1, &y);
    if (n) {
        n->saved[0] = mean;
        n->saved[1] = rstd;
        n->at.eps = eps;
    }
    if (g->status != LG_OK)
        return NULL;
    if (rm)
        update_running(g, rm, rv, mean, var, d, momentum);
    return g->status == LG_OK ? y : NULL;
}

/* ---- eval mode ---- */

/* y = x s + (β - μ s) with s = γ / √(σ² + eps) from the running statistics (constants
 * here): a composition of ops, so γ and β get their gradients from mul and add. */
static lg_tensor *bn_eval(lg_graph *g, lg_tensor *x, lg_tensor *gamma, lg_tensor *beta,
                          const lg_tensor *rm, const lg_tensor *rv, double eps)
{
    int64_t c = x->shape[1];
    lg_tensor *rstd = lg_graph_tensor(g, x->dtype, 1, &c);
    lg_tensor *mean = lg_graph_tensor(g, x->dtype, 1, &c);
    if (!rstd || !mean)
        return NULL;
    /* rstd = 1 / √(running_var + eps); the running mean is copied, so that the caller
     * may update it before backward */
    g->be->unary(LG_UN_ADD_SCALAR, x->dtype, c, rv->data, rstd->data, eps);
    g->be->unary(LG_UN_SQRT, x->dtype, c, rstd->data, rstd->data, 0);
    g->be->unary(LG_UN_RECIP, x->dtype, c, rstd->data, rstd->data, 0);
    g->be->mem_copy(LG_COPY_DEVICE_TO_DEVICE, mean->data, rm->data,
                    (size_t)c * lg_dtype_size(x->dtype));
    lg_tensor *s = lg_mul(g, gamma, rstd);
    lg_tensor *shift = lg_sub(g, beta, lg_mul(g, mean, s));
    return lg_add(g, lg_mul(g, x, as_channels(g, s, x)), as_channels(g, shift, x));
}

/* ---- argument checks and dispatch ---- */

/* An optional per-channel tensor: NULL, or (C) of x's dtype. */
static bool check_channel_arg(lg_graph *g, const lg_tensor *t, const lg_tensor *x,
                              const char *what)
{
    const char *fn = "lg_batch_norm";
    if (!t)
        return true;
    if (t->ndim != 1 || t->shape[0] != x->shape[1]) {
        lg_fail(g, LG_ERR_SHAPE, "%s: %s must be (%lld) for input %s, got %s", fn, what,
                (long long)x->shape[1], lg_tshape(x).s, lg_tshape(t).s);
        return false;
    }
    if (t->dtype != x->dtype) {
        lg_fail(g, LG_ERR_DTYPE, "%s: %s is %s, x is %s", fn, what, lg_dtype_name(t->dtype),
                lg_dtype_name(x->dtype));
        return false;
    }
    return true;
}

/* The running statistics are buffers updated in place: caller-owned, not differentiated. */
static bool check_running(lg_graph *g, const lg_tensor *t, const lg_tensor *x, const char *what)
{
    if (!t)
        return true;
    if (t->graph) {
        lg_fail(g, LG_ERR_ARG, "lg_batch_norm: %s must be a caller-owned tensor, not a "
                "graph tensor", what);
        return false;
    }
    if (t->flags & LG_TF_REQUIRES_GRAD) {
        lg_fail(g, LG_ERR_ARG, "lg_batch_norm: %s requires grad; running statistics are "
                "buffers (freeze them)", what);
        return false;
    }
    return check_channel_arg(g, t, x, what);
}

static bool check_args(lg_graph *g, lg_tensor *x, lg_tensor *gamma, lg_tensor *beta,
                       lg_tensor *rm, lg_tensor *rv, double momentum, double eps)
{
    const char *fn = "lg_batch_norm";
    lg_tensor *opt[2] = {gamma, beta};
    if (!lg_check_inputs(g, fn, 1, &x))
        return false;
    for (int i = 0; i < 2; i++)
        if (opt[i] && !lg_check_inputs(g, fn, 1, &opt[i]))
            return false;
    if ((x->ndim != 2 && x->ndim != 4) || x->shape[1] < 1)
        return lg_fail(g, LG_ERR_SHAPE, "%s: x must be (N,C) or (N,C,H,W) with C >= 1, got %s",
                       fn, lg_tshape(x).s), false;
    if (!check_channel_arg(g, gamma, x, "gamma") || !check_channel_arg(g, beta, x, "beta") ||
        !check_running(g, rm, x, "running_mean") || !check_running(g, rv, x, "running_var"))
        return false;
    if (!rm != !rv)
        return lg_fail(g, LG_ERR_ARG, "%s: give both running_mean and running_var or neither",
                       fn), false;
    if (!g->training && !rm)
        return lg_fail(g, LG_ERR_ARG, "%s: eval mode needs running_mean and running_var", fn),
               false;
    if (!(momentum >= 0 && momentum <= 1))
        return lg_fail(g, LG_ERR_ARG, "%s: momentum must be in [0, 1], got %g", fn, momentum),
               false;
    if (!(eps >= 0 && isfinite(eps)))
        return lg_fail(g, LG_ERR_ARG, "%s: eps must be finite and >= 0, got %g", fn, eps),
               false;
    return true;
}

lg_tensor *lg_batch_norm(lg_graph *g, lg_tensor *x, lg_tensor *gamma, lg_tensor *beta,
                         lg_tensor *running_mean, lg_tensor *running_var, double momentum,
                         double eps)
{
    if (!check_args(g, x, gamma, beta, running_mean, running_var, momentum, eps))
        return NULL;
    int64_t c = x->shape[1];
    if (!gamma)
        gamma = lg_graph_full(g, x->dtype, 1, &c, 1.0);
    if (!beta)
        beta = lg_graph_full(g, x->dtype, 1, &c, 0.0);
    if (!gamma || !beta)
        return NULL;
    if (!g->training)
        return bn_eval(g, x, gamma, beta, running_mean, running_var, eps);
    return bn_train(g, x, gamma, beta, running_mean, running_var, momentum, eps);
}
