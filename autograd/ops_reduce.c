/* Reductions (sum, mean, max along an axis, logsumexp) and softmax / log_softmax,
 * all over the middle axis of an (outer, len, inner) view. */
#include <math.h>
#include <string.h>
#include "ops_impl.h"

/* x's shape with `axis` set to 1 (keepdim) or removed. */
static int reduced_shape(const lg_tensor *x, int axis, bool keepdim, int64_t *shape)
{
    int nd = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (d != axis)
            shape[nd++] = x->shape[d];
        else if (keepdim)
            shape[nd++] = 1;
    }
    return nd;
}

/* dy of a reduction over `axis`, spread back over x's shape. */
static lg_tensor *spread_back(lg_graph *g, lg_tensor *gy, const lg_tensor *x, int axis)
{
    int64_t keep[LG_MAX_DIMS];
    int nd = reduced_shape(x, axis, true, keep);
    return lg_broadcast_to(g, lg_reshape(g, gy, nd, keep), x->ndim, x->shape);
}

/* Runs a reduction kernel over `axis` (axis -1 with ndim 0 or "all" means everything). */
static lg_tensor *reduce_forward(lg_graph *g, const char *name, lg_tensor *x, int *axis,
                                 bool all, bool keepdim, lg_reduce_kind k, int64_t **argmax)
{
    if (!lg_check_inputs(g, name, 1, &x))
        return NULL;
    int64_t outer = 1, len = x->numel, inner = 1, shape[LG_MAX_DIMS];
    int nd = 0;
    if (!all) {
        if (!lg_check_axis(g, name, axis, x->ndim))
            return NULL;
        outer = lg_outer_size(x, *axis);
        len = x->shape[*axis];
        inner = lg_inner_size(x, *axis);
        nd = reduced_shape(x, *axis, keepdim, shape);
    }
    if (len == 0 && k != LG_RED_SUM)
        return lg_fail(g, LG_ERR_SHAPE, "%s: cannot take the %s of an empty axis of %s", name,
                       k == LG_RED_MAX ? "max" : "min", lg_tshape(x).s);
    lg_tensor *y = lg_graph_tensor(g, x->dtype, nd, shape);
    if (!y)
        return NULL;
    if (argmax) {
        *argmax = lg_arena_data(g, sizeof(int64_t) * (size_t)(y->numel ? y->numel : 1), name);
        if (!*argmax)
            return NULL;
    }
    if (len == 0)
        g->be->fill(x->dtype, y->numel, y->data, 0.0);
    else
        g->be->reduce(k, x->dtype, outer, len, inner, x->data, y->data, argmax ? *argmax : NULL);
    return y;
}

/* s = Σ x: dx += broadcast(ds) */
static void sum_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    gx[0] = lg_broadcast_to(g, gy[0], n->in[0]->ndim, n->in[0]->shape);
}
static const lg_op SUM = {"lg_sum", sum_vjp};
lg_tensor *lg_sum(lg_graph *g, lg_tensor *x)
{
    int axis = 0;
    lg_tensor *y = reduce_forward(g, SUM.name, x, &axis, true, false, LG_RED_SUM, NULL);
    if (y)
        lg_record(g, &SUM, 1, &x, 1, &y);
    return y && g->status == LG_OK ? y : NULL;
}

/* mean = sum / numel; checked under its own name so that errors say lg_mean. */
lg_tensor *lg_mean(lg_graph *g, lg_tensor *x)
{
    if (!lg_check_inputs(g, "lg_mean", 1, &x))
        return NULL;
    lg_tensor *s = lg_sum(g, x);
    return s ? lg_scale(g, s, x->numel ? 1.0 / (double)x->numel : NAN) : NULL;
}

/* y = Σ_axis x: dx += broadcast(reshape(dy, keepdim shape)) */
static void sum_axis_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    gx[0] = spread_back(g, gy[0], n->in[0], n->at.axis);
}
static const lg_op SUM_AXIS = {"lg_sum_axis", sum_axis_vjp};
lg_tensor *lg_sum_axis(lg_graph *g, lg_tensor *x, int axis, bool keepdim)
{
    lg_tensor *y = reduce_forward(g, SUM_AXIS.name, x, &axis, false, keepdim, LG_RED_SUM, NULL);
    lg_node *n = y ? lg_record(g, &SUM_AXIS, 1, &x, 1, &y) : NULL;
    if (n)
        n->at.axis = axis;
    return y && g->status == LG_OK ? y : NULL;
}

lg_tensor *lg_mean_axis(lg_graph *g, lg_tensor *x, int axis, bool keepdim)
{
    if (!lg_check_inputs(g, "lg_mean_axis", 1, &x) ||
        !lg_check_axis(g, "lg_mean_axis", &axis, x->ndim))
        return NULL;
    lg_tensor *s = lg_sum_axis(g, x, axis, keepdim);
    if (!s)
        return NULL;
    int64_t len = x->shape[axis];
    return lg_scale(g, s, len ? 1.0 / (double)len : NAN);
}

/* y = max_axis x: dx += broadcast(dy) ⊙ [x is the (first) argmax] */
static void max_axis_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    gx[0] = lg_mul(g, spread_back(g, gy[0], n->in[0], n->at.axis), n->saved[0]);
}
static const lg_op MAX_AXIS = {"lg_max_axis", max_axis_vjp};
lg_tensor *lg_max_axis(lg_graph *g, lg_tensor *x, int axis, bool keepdim)
{
    int64_t *arg = NULL;
    lg_tensor *y = reduce_forward(g, MAX_AXIS.name, x, &axis, false, keepdim, LG_RED_MAX, &arg);
    lg_node *n = y ? lg_record(g, &MAX_AXIS, 1, &x, 1, &y) : NULL;
    if (n) {
        n->at.axis = axis;
        /* mask (outer, len, inner) = 0, then 1 at each argmax: a scatter-add of ones through
         * the backend, not a loop over host memory (issue 15) */
        lg_tensor *mask = lg_graph_full(g, x->dtype, x->ndim, x->shape, 0.0);
        lg_tensor *ones = lg_graph_full(g, x->dtype, y->ndim, y->shape, 1.0);
        if (!mask || !ones)
            return NULL;
        int64_t inner = lg_inner_size(x, axis);
        if (y->numel) {
            lg_index_geom ig = {.outer = y->numel / inner, .n = x->shape[axis], .inner = inner,
                                .k = 1, .per_element = 1, .itype = LG_I64};
            g->be->scatter_add(x->dtype, &ig, arg, ones->data, mask->data);
        }
        n->saved[0] = mask;
    }
    return y && g->status == LG_OK ? y : NULL;
}

/* The index of the first max (min) along axis as an i64 tensor; no gradient. */
static lg_tensor *arg_reduce(lg_graph *g, const char *name, lg_tensor *x, int axis,
                             bool keepdim, lg_reduce_kind k)
{
    int64_t *arg = NULL;
    lg_tensor *y = reduce_forward(g, name, x, &axis, false, keepdim, k, &arg);
    lg_tensor *idx = y ? lg_graph_tensor(g, LG_I64, y->ndim, y->shape) : NULL;
    if (idx)
        g->be->mem_copy(LG_COPY_DEVICE_TO_DEVICE, idx->data, arg, sizeof *arg * (size_t)idx->numel);
    return idx;
}

lg_tensor *lg_argmax_axis(lg_graph *g, lg_tensor *x, int axis, bool keepdim)
{
    return arg_reduce(g, "lg_argmax_axis", x, axis, keepdim, LG_RED_MAX);
}

lg_tensor *lg_argmin_axis(lg_graph *g, lg_tensor *x, int axis, bool keepdim)
{
    return arg_reduce(g, "lg_argmin_axis", x, axis, keepdim, LG_RED_MIN);
}

/* y = log Σ_axis exp(x): dx += broadcast(dy) ⊙ softmax(x) */
static void logsumexp_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    int axis = n->at.axis;
    gx[0] = lg_mul(g, spread_back(g, gy[0], n->in[0], axis), lg_softmax(g, n->in[0], axis));
}
static const lg_op LOGSUMEXP = {"lg_logsumexp", logsumexp_vjp};
lg_tensor *lg_logsumexp(lg_graph *g, lg_tensor *x, int axis, bool keepdim)
{
    const char *name = LOGSUMEXP.name;
    if (!lg_check_inputs(g, name, 1, &x) || !lg_check_axis(g, name, &axis, x->ndim))
        return NULL;
    int64_t shape[LG_MAX_DIMS];
    int nd = reduced_shape(x, axis, keepdim, shape);
    lg_tensor *y = lg_graph_tensor(g, x->dtype, nd, shape);
    if (!y)
        return NULL;
    if (x->shape[axis] == 0)
        g->be->fill(x->dtype, y->numel, y->data, -1.0 / 0.0);
    else
        g->be->logsumexp(x->dtype, lg_outer_size(x, axis), x->shape[axis],
                         lg_inner_size(x, axis), x->data, y->data);
    lg_node *n = lg_record(g, &LOGSUMEXP, 1, &x, 1, &y);
    if (n)
        n->at.axis = axis;
    return g->status == LG_OK ? y : NULL;
}

static lg_tensor *softmax_forward(lg_graph *g, const lg_op *op, lg_tensor *x, int axis, int log)
{
    if (!lg_check_inputs(g, op->name, 1, &x) || !lg_check_axis(g, op->name, &axis, x->ndim))
        return NULL;
    lg_tensor *y = lg_graph_tensor(g, x->dtype, x->ndim, x->shape);
    if (!y)
        return NULL;
    if (y->numel)
        g->be->softmax(log, x->dtype, lg_outer_size(x, axis), x->shape[axis],
                       lg_inner_size(x, axis), x->data, y->data);
    lg_node *n = lg_record(g, op, 1, &x, 1, &y);
    if (n)
        n->at.axis = axis;
    return g->status == LG_OK ? y : NULL;
}

static lg_tensor *softmax_backward(lg_graph *g, lg_tensor *y, lg_tensor *dy, int axis);

/* z = softmax_backward(y, dy) = y ⊙ (dy - s), s = Σ_axis dy ⊙ y. Linear in dy with a
 * symmetric Jacobian (diag(y) - y yᵀ per row): d(dy) += softmax_backward(y, dz); and
 * dy += dz ⊙ (dy - s) - dy ⊙ Σ_axis dz ⊙ y, from ops, so every order differentiates. */
static void softmax_bwd_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy,
                            lg_tensor **gx)
{
    lg_tensor *y = n->in[0], *dy = n->in[1];
    int axis = n->at.axis;
    if (lg_needs_grad(n, 1))
        gx[1] = softmax_backward(g, y, gy[0], axis);
    if (lg_needs_grad(n, 0)) {
        lg_tensor *s = lg_sum_axis(g, lg_mul(g, dy, y), axis, true);
        lg_tensor *t = lg_sum_axis(g, lg_mul(g, gy[0], y), axis, true);
        gx[0] = lg_sub(g, lg_mul(g, gy[0], lg_sub(g, dy, s)), lg_mul(g, dy, t));
    }
}
static const lg_op SOFTMAX_BWD = {"lg_softmax_backward", softmax_bwd_vjp};
/* One kernel pass (issue 16): the composition mul, sum, sub, mul made three tensors of
 * y's size, (B·nh, T, T) per attention layer. y and dy come from softmax_vjp: same
 * shape and dtype, axis already normalised. */
static lg_tensor *softmax_backward(lg_graph *g, lg_tensor *y, lg_tensor *dy, int axis)
{
    lg_tensor *in[2] = {y, dy};
    if (!lg_check_inputs(g, SOFTMAX_BWD.name, 2, in))
        return NULL;
    lg_tensor *dx = lg_graph_tensor(g, y->dtype, y->ndim, y->shape);
    if (!dx)
        return NULL;
    if (dx->numel)
        g->be->softmax_backward(y->dtype, lg_outer_size(y, axis), y->shape[axis],
                                lg_inner_size(y, axis), y->data, dy->data, dx->data);
    lg_node *n = lg_record(g, &SOFTMAX_BWD, 2, in, 1, &dx);
    if (n)
        n->at.axis = axis;
    return g->status == LG_OK ? dx : NULL;
}

/* y = softmax(x): dx += y ⊙ (dy - Σ_axis(dy ⊙ y)) */
static void softmax_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    gx[0] = softmax_backward(g, n->out[0], gy[0], n->at.axis);
}
static const lg_op SOFTMAX = {"lg_softmax", softmax_vjp};
lg_tensor *lg_softmax(lg_graph *g, lg_tensor *x, int axis)
{
    return softmax_forward(g, &SOFTMAX, x, axis, 0);
}

/* y = log_softmax(x): dx += dy - exp(y) ⊙ Σ_axis dy */
static void log_softmax_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    lg_tensor *s = lg_sum_axis(g, gy[0], n->at.axis, true);
    gx[0] = lg_sub(g, gy[0], lg_mul(g, lg_exp(g, n->out[0]), s));
}
static const lg_op LOG_SOFTMAX = {"lg_log_softmax", log_softmax_vjp};
lg_tensor *lg_log_softmax(lg_graph *g, lg_tensor *x, int axis)
{
    return softmax_forward(g, &LOG_SOFTMAX, x, axis, 1);
}
