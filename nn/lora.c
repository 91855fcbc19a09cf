/* LoRA adapters (Hu et al. 2021) on a frozen Linear in a parameter store: init (default or
 * PiSSA from a truncated SVD), the unmerged forward, merge and unmerge. Saving only the
 * adapter is lg_checkpoint_save with the selector "<name>.lora_*" (nn.h, checkpoint.h). */
#include <math.h>
#include <string.h>
#include "layers_impl.h"
#include "lagrad/linalg.h"

lg_lora_config lg_lora_defaults(void)
{
    return (lg_lora_config){.rank = 8, .alpha = 8, .rslora = false, .dropout = 0,
                            .init = LG_LORA_INIT_DEFAULT};
}

static lg_status check_config(const lg_lora_config *c, const char *fn)
{
    const char *bad = NULL;
    if (c->rank < 1)
        bad = "rank (need >= 1)";
    else if (!(c->alpha > 0) || !isfinite(c->alpha))
        bad = "alpha (need finite > 0)";
    else if (!(c->dropout >= 0 && c->dropout < 1))
        bad = "dropout (need [0, 1))";
    else if (c->init != LG_LORA_INIT_DEFAULT && c->init != LG_LORA_INIT_PISSA)
        bad = "init kind";
    if (bad)
        return lg_set_error(LG_ERR_ARG, "%s: bad %s", fn, bad);
    return LG_OK;
}

/* The frozen base: "<name>.weight" (out, in) and an optional "<name>.bias" (out). */
static lg_status find_base(lg_lora *l, const lg_params *p, const char *name, const char *fn)
{
    char full[256];
    int len = snprintf(full, sizeof full, "%s.weight", name);
    if (len < 0 || (size_t)len >= sizeof full)
        return lg_set_error(LG_ERR_ARG, "%s: name '%.40s...' is too long", fn, name);
    lg_tensor *w = lg_params_get(p, full);
    if (!w)
        return lg_set_error(LG_ERR_ARG, "%s: the store has no '%s' to adapt", fn, full);
    if (w->ndim != 2)
        return lg_set_error(LG_ERR_SHAPE, "%s: '%s' must be 2-D (out, in), got %s", fn, full,
                            lg_tshape(w).s);
    snprintf(full, sizeof full, "%s.bias", name);
    lg_tensor *b = lg_params_get(p, full);
    if (b && (b->ndim != 1 || b->shape[0] != w->shape[0] || b->dtype != w->dtype))
        return lg_set_error(LG_ERR_SHAPE, "%s: '%s' must be (%lld) of the weight's dtype, got "
                            "%s %s", fn, full, (long long)w->shape[0], lg_dtype_name(b->dtype),
                            lg_tshape(b).s);
    l->weight = w;
    l->bias = b;
    l->out_features = w->shape[0];
    l->in_features = w->shape[1];
    return LG_OK;
}

/* W += sign·scale·B A, computed in a scratch no-grad graph. */
static lg_status add_delta(lg_lora *l, double sign, const char *fn)
{
    lg_graph *g = lg_graph_new();
    if (!g)
        return lg_set_error(LG_ERR_OOM, "%s: out of memory", fn);
    lg_graph_set_grad_enabled(g, false);
    /* (out, in), the weight's shape; sign·scale folded into one scale */
    lg_tensor *d = lg_scale(g, lg_matmul(g, l->lora_b, l->lora_a), sign * l->scale);
    lg_status s = lg_graph_status(g);
    if (s != LG_OK)
        lg_set_error(s, "%s: %s", fn, lg_graph_errmsg(g));
    else {
        lg_bcast same = {.ndim = 1, .numel = d->numel, .shape = {d->numel}, .stride = {{1}, {1}}};
        g->be->binary(LG_BIN_ADD, d->dtype, &same, l->weight->data, d->data, l->weight->data, 0);
    }
    lg_graph_free(g);
    return s;
}

/* PiSSA (Meng et al. 2024), scaled as PEFT does: with W ≈ U S Vᵀ (top r),
 *   A = diag(√(S/scale)) Vᵀ (r, in),  B = U diag(√(S/scale)) (out, r),
 * so scale·B A = U S Vᵀ, and then W := W − scale·B A from the stored A and B, which
 * keeps x Wᵀ + scale·x Aᵀ Bᵀ equal to the original output up to rounding. */
static lg_status init_pissa(lg_lora *l, const char *fn)
{
    lg_graph *g = lg_graph_new();
    if (!g)
        return lg_set_error(LG_ERR_OOM, "%s: out of memory", fn);
    lg_graph_set_grad_enabled(g, false);
    lg_tensor *u, *s, *vt;
    lg_svd_truncated(g, l->weight, l->rank, &u, &s, &vt);
    lg_tensor *root = lg_sqrt(g, lg_scale(g, s, 1.0 / l->scale)); /* (r) */
    int64_t col[2] = {l->rank, 1};
    lg_tensor *a = lg_mul(g, lg_reshape(g, root, 2, col), vt);   /* (r,1) * (r,in) */
    lg_tensor *b = lg_mul(g, u, root);                           /* (out,r) * (r) */
    lg_status st = lg_graph_status(g);
    if (st != LG_OK)
        lg_set_error(st, "%s: PiSSA init: %s", fn, lg_graph_errmsg(g));
    if (st == LG_OK)
        st = lg_tensor_copy_from(l->lora_a, a);
    if (st == LG_OK)
        st = lg_tensor_copy_from(l->lora_b, b);
    lg_graph_free(g);
    return st == LG_OK ? add_delta(l, -1.0, fn) : st;
}

lg_status lg_lora_init(lg_lora *l, lg_params *p, const char *name, const lg_lora_config *c,
                       lg_rng *r)
{
    const char *fn = "lg_lora_init";
    if (l)
        memset(l, 0, sizeof *l);
    lg_lora_config def = lg_lora_defaults();
    if (!c) /* NULL options mean the defaults */
        c = &def;
    if (!l || !p || !name || !*name || !r)
        return lg_set_error(LG_ERR_ARG, "%s: layer, store, name or rng is NULL/empty", fn);
    lg_lora t = {0};
    lg_status s = check_config(c, fn);
    if (s == LG_OK)
        s = find_base(&t, p, name, fn);
    if (s != LG_OK)
        return s;
    int64_t mn = t.in_features < t.out_features ? t.in_features : t.out_features;
    if (c->init == LG_LORA_INIT_PISSA && c->rank > mn)
        return lg_set_error(LG_ERR_ARG, "%s: PiSSA rank %lld exceeds min(in, out) = %lld", fn,
                            (long long)c->rank, (long long)mn);
    t.rank = c->rank;
    t.scale = c->rslora ? c->alpha / sqrt((double)c->rank) : c->alpha / (double)c->rank;
    t.dropout = c->dropout;
    int64_t as[2] = {t.rank, t.in_features}, bs[2] = {t.out_features, t.rank};
    s = lg_nn_add_param(p, name, "lora_A", t.weight->dtype, 2, as, fn, &t.lora_a);
    if (s == LG_OK)
        s = lg_nn_add_param(p, name, "lora_B", t.weight->dtype, 2, bs, fn, &t.lora_b);
    if (s != LG_OK)
        return s;
    if (c->init == LG_LORA_INIT_PISSA) {
        s = init_pissa(&t, fn);
    } else {
        /* loralib and PEFT: kaiming_uniform_(A, a=√5), B = 0. */
        s = lg_init_kaiming_uniform(t.lora_a, sqrt(5.0), r);
        lg_init_zeros(t.lora_b);
    }
    if (s != LG_OK)
        return s;
    lg_rng_init(&t.rng, (uint64_t)(lg_rng_uniform(r) * 9007199254740992.0)); /* 2^53 */
    lg_tensor_set_requires_grad(t.weight, false);
    if (t.bias)
        lg_tensor_set_requires_grad(t.bias, false);
    *l = t;
    return LG_OK;
}

lg_tensor *lg_lora_forward(lg_graph *g, lg_lora *l, lg_tensor *x)
{
    const char *fn = "lg_lora_forward";
    if (!lg_nn_check(g, l, fn))
        return NULL;
    if (!l->weight || !l->lora_a || !l->lora_b)
        return lg_fail(g, LG_ERR_ARG, "%s: layer has no parameters (not initialised?)", fn);
    lg_tensor *rows = lg_nn_rows(g, x, l->in_features, fn);      /* (N, in) */
    lg_tensor *y = lg_linear(g, rows, l->weight, l->bias);        /* (N, out) */
    if (!l->merged) {
        lg_tensor *h = lg_dropout(g, rows, l->dropout, &l->rng);
        /* Scaling the (N, r) product is cheaper than scaling the (N, out) one. */
        lg_tensor *t = lg_scale(g, lg_matmul_t(g, h, l->lora_a, false, true), l->scale);
        y = lg_add(g, y, lg_matmul_t(g, t, l->lora_b, false, true));
    }
    return lg_nn_unrows(g, y, x, l->out_features);
}

static lg_status check_merge(const lg_lora *l, bool want_merged, const char *fn)
{
    if (!l || !l->weight || !l->lora_a || !l->lora_b)
        return lg_set_error(LG_ERR_ARG, "%s: layer is NULL or not initialised", fn);
    if (l->merged != want_merged)
        return lg_set_error(LG_ERR_STATE, "%s: the adapter is %s merged", fn,
                            l->merged ? "already" : "not");
    return LG_OK;
}

lg_status lg_lora_merge(lg_lora *l)
{
    lg_status s = check_merge(l, false, "lg_lora_merge");
    if (s == LG_OK)
        s = add_delta(l, 1.0, "lg_lora_merge");
    if (s == LG_OK)
        l->merged = true;
    return s;
}

lg_status lg_lora_unmerge(lg_lora *l)
{
    lg_status s = check_merge(l, true, "lg_lora_unmerge");
    if (s == LG_OK)
        s = add_delta(l, -1.0, "lg_lora_unmerge");
    if (s == LG_OK)
        l->merged = false;
    return s;
}
