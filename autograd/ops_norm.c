/* Layer norm and dropout. Both are compositions of recorded ops, so their gradients
 * (of every order) come from the ops they are built from. */
#include "ops_impl.h"

/* (x - mean) / sqrt(var + eps) * gamma + beta over the last axis, biased variance. */
lg_tensor *lg_layer_norm(lg_graph *g, lg_tensor *x, lg_tensor *gamma, lg_tensor *beta,
                         double eps)
{
    const char *name = "lg_layer_norm";
    if (!lg_check_inputs(g, name, 1, &x))
        return NULL;
    if (x->ndim < 1 || x->shape[x->ndim - 1] == 0)
        return lg_fail(g, LG_ERR_SHAPE, "%s: need a non-empty last axis, got %s", name,
                       lg_tshape(x).s);
    if (!(eps >= 0))
        return lg_fail(g, LG_ERR_ARG, "%s: eps must be >= 0, got %g", name, eps);
    int64_t d = x->shape[x->ndim - 1];
    lg_tensor *affine[2] = {gamma, beta};
    for (int i = 0; i < 2; i++) {
        lg_tensor *p = affine[i];
        if (p && (p->ndim != 1 || p->shape[0] != d))
            return lg_fail(g, LG_ERR_SHAPE, "%s: %s must be (%lld), got %s", name,
                           i ? "beta" : "gamma", (long long)d, lg_tshape(p).s);
        if (p && p->dtype != x->dtype)
            return lg_fail(g, LG_ERR_DTYPE, "%s: %s is %s, x is %s", name, i ? "beta" : "gamma",
                           lg_dtype_name(p->dtype), lg_dtype_name(x->dtype));
    }
    lg_tensor *xc = lg_sub(g, x, lg_mean_axis(g, x, -1, true));
    lg_tensor *var = lg_mean_axis(g, lg_mul(g, xc, xc), -1, true);
    lg_tensor *y = lg_mul(g, xc, lg_pow_scalar(g, lg_add_scalar(g, var, eps), -0.5));
    if (gamma)
        y = lg_mul(g, y, gamma);
    if (beta)
        y = lg_add(g, y, beta);
    return y;
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
