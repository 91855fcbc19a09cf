/* Hessian-vector products by double backward: H v = d/dx <grad f(x), v>. */
#include <string.h>
#include "graph_impl.h"
#include "hvp_impl.h"

lg_status lg_check_caller_inputs(const char *fn, lg_tensor *const *inputs, int n,
                                 lg_tensor *const *like, const char *like_name)
{
    if (!inputs || n < 1)
        return lg_set_error(LG_ERR_ARG, "%s: need n >= 1 inputs, got %d", fn, n);
    for (int i = 0; i < n; i++) {
        if (!inputs[i])
            return lg_set_error(LG_ERR_ARG, "%s: input %d is NULL", fn, i);
        if (inputs[i]->graph)
            return lg_set_error(LG_ERR_ARG, "%s: input %d belongs to a graph; pass "
                                "caller-owned tensors", fn, i);
        if (like && (!like[i] || !lg_same_shape(like[i], inputs[i]) ||
                     like[i]->dtype != inputs[i]->dtype))
            return lg_set_error(like && like[i] ? LG_ERR_SHAPE : LG_ERR_ARG,
                                "%s: %s %d must be a %s %s tensor", fn, like_name, i,
                                lg_dtype_name(inputs[i]->dtype), lg_tshape(inputs[i]).s);
    }
    return LG_OK;
}

void lg_mark_inputs(lg_tensor *const *inputs, int n, unsigned *saved_flags)
{
    for (int i = 0; i < n; i++) {
        saved_flags[i] = inputs[i]->flags;
        inputs[i]->flags |= LG_TF_REQUIRES_GRAD;
    }
}

void lg_unmark_inputs(lg_tensor *const *inputs, int n, const unsigned *saved_flags)
{
    for (int i = 0; i < n; i++)
        inputs[i]->flags = saved_flags[i];
}

lg_status lg_eval_scalar(lg_graph *g, lg_fn f, void *ctx, lg_tensor *const *inputs, int n,
                         const char *fn, lg_tensor **y)
{
    *y = f(g, inputs, n, ctx);
    if (lg_graph_status(g) != LG_OK)
        return lg_set_error(lg_graph_status(g), "%s: %s", fn, lg_graph_errmsg(g));
    if (!*y)
        return lg_set_error(LG_ERR_ARG, "%s: the function returned NULL without an error", fn);
    if ((*y)->numel != 1)
        return lg_set_error(LG_ERR_SHAPE, "%s: the function must return a scalar, got %s", fn,
                            lg_tshape(*y).s);
    return LG_OK;
}

/* H v into hv on graph g (already holding nothing of value). */
lg_status lg_hvp_on(lg_graph *g, lg_fn f, void *ctx, lg_tensor *const *inputs, int n,
                    lg_tensor *const *v, lg_tensor *const *hv)
{
    lg_tensor *y, *grads[LG_HVP_MAX_INPUTS], *hvg[LG_HVP_MAX_INPUTS];
    lg_status s = lg_eval_scalar(g, f, ctx, inputs, n, "lg_hvp", &y);
    if (s == LG_OK)
        s = lg_grad(g, y, NULL, n, inputs, grads, true);
    lg_tensor *dot = NULL;
    for (int i = 0; i < n && s == LG_OK; i++) {
        lg_tensor *term = lg_sum(g, lg_mul(g, grads[i], v[i]));
        dot = dot ? lg_add(g, dot, term) : term;
        s = lg_graph_status(g);
    }
    if (s == LG_OK && !(dot->flags & LG_TF_REQUIRES_GRAD)) {
        for (int i = 0; i < n; i++) /* the gradient does not depend on x: H = 0 */
            memset(hv[i]->data, 0, (size_t)hv[i]->numel * lg_dtype_size(hv[i]->dtype));
        return LG_OK;
    }
    if (s == LG_OK)
        s = lg_grad(g, dot, NULL, n, inputs, hvg, false);
    for (int i = 0; i < n && s == LG_OK; i++)
        memcpy(hv[i]->data, hvg[i]->data, (size_t)hv[i]->numel * lg_dtype_size(hv[i]->dtype));
    if (s != LG_OK && lg_graph_status(g) != LG_OK)
        lg_set_error(s, "%s", lg_graph_errmsg(g));
    return s;
}

lg_status lg_hvp(lg_fn f, void *ctx, lg_tensor *const *inputs, int n, lg_tensor *const *v,
                 lg_tensor *const *hv)
{
    if (!f)
        return lg_set_error(LG_ERR_ARG, "lg_hvp: f is NULL");
    if (n > LG_HVP_MAX_INPUTS)
        return lg_set_error(LG_ERR_ARG, "lg_hvp: at most %d inputs, got %d", LG_HVP_MAX_INPUTS, n);
    lg_status s = lg_check_caller_inputs("lg_hvp", inputs, n, v, "v");
    if (s == LG_OK)
        s = lg_check_caller_inputs("lg_hvp", inputs, n, hv, "hv");
    if (s != LG_OK)
        return s;
    lg_graph *g = lg_graph_new();
    if (!g)
        return LG_ERR_OOM;
    unsigned flags[LG_HVP_MAX_INPUTS];
    lg_mark_inputs(inputs, n, flags);
    s = lg_hvp_on(g, f, ctx, inputs, n, v, hv);
    lg_unmark_inputs(inputs, n, flags);
    lg_graph_free(g);
    return s;
}
