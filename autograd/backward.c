/* Reverse mode: the tape walk, gradient accumulation into leaves, functional gradients
 * and Hessian-vector products. The walk is a loop over the tape from its tail (no
 * recursion), so chains of any length work. */
#include <string.h>
#include "graph_impl.h"

static bool is_scalar(const lg_tensor *t) { return t->numel == 1; }

/* An accumulator is a gradient that backward made for t alone (a zero fill, a copy or a
 * sum) while not recording: nothing else refers to it, so later contributions may go into
 * it in place. It is marked by its own (otherwise unused) gacc pointing back at t. */
static bool owns(const lg_tensor *t)
{
    return t->gacc && t->gacc->gacc == t;
}

static void add_in_place(lg_graph *g, lg_tensor *acc, const lg_tensor *d)
{
    lg_bcast bc = {.ndim = 1, .numel = acc->numel, .shape = {acc->numel}, .stride = {{1}, {1}}};
    g->be->binary(LG_BIN_ADD, acc->dtype, &bc, acc->data, d->data, acc->data, 0);
}

/* Adds gradient contribution d into t's accumulator; leaves go on the touched list. */
static void accumulate(lg_graph *g, lg_tensor *t, lg_tensor *d, lg_leaf_ref **leaves)
{
    if (!t->gacc) {
        t->gacc = d;
        if (!t->node && !t->on_leaf_list) {
            lg_leaf_ref *ref = lg_arena_alloc(g, sizeof *ref, "lg_backward");
            if (!ref)
                return;
            ref->t = t;
            ref->next = *leaves;
            *leaves = ref;
            t->on_leaf_list = 1;
        }
        return;
    }
    if (!g->grad_enabled && owns(t) && d != t->gacc && lg_same_shape(d, t->gacc)) {
        add_in_place(g, t->gacc, d); /* no new tensor: the arena stays smaller */
        return;
    }
    lg_tensor *sum = lg_add(g, t->gacc, d);
    if (sum) {
        t->gacc = sum;
        if (!g->grad_enabled)
            sum->gacc = t;
    }
}

lg_tensor *lg_grad_acc(lg_graph *g, const lg_node *n, int i)
{
    lg_tensor *t = n->in[i];
    if (!g->in_backward || g->grad_enabled || g->anomaly || !(t->flags & LG_TF_REQUIRES_GRAD))
        return NULL;
    if (!t->node) /* leaves: their .grad when it may be written now, else the usual path */
        return lg_grad_sink(g, n, i);
    if (owns(t))
        return t->gacc;
    lg_tensor *acc = t->gacc ? lg_graph_tensor(g, t->dtype, t->ndim, t->shape)
                             : lg_graph_full(g, t->dtype, t->ndim, t->shape, 0.0);
    if (!acc)
        return NULL;
    if (t->gacc)
        g->be->mem_copy(LG_COPY_DEVICE_TO_DEVICE, acc->data, t->gacc->data,
                        (size_t)acc->numel * lg_dtype_size(acc->dtype));
    acc->gacc = t;
    t->gacc = acc;
    return acc;
}

static lg_status check_root(lg_graph *g, const char *fn, lg_tensor *out, const lg_tensor *seed)
{
    if (!g)
        return lg_set_error(LG_ERR_ARG, "%s: graph is NULL", fn);
    if (g->status != LG_OK)
        return g->status;
    if (g->in_backward)
        return (lg_fail(g, LG_ERR_STATE, "%s: called from inside a backward pass", fn), g->status);
    if (!out)
        return (lg_fail(g, LG_ERR_ARG, "%s: output tensor is NULL", fn), g->status);
    if (out->graph != g || out->epoch != g->epoch)
        return (lg_fail(g, LG_ERR_STATE, "%s: output %s is not a live tensor of this graph "
                        "(made before lg_graph_reset, or by another graph)", fn,
                        lg_tshape(out).s), g->status);
    if (!seed && !is_scalar(out))
        return (lg_fail(g, LG_ERR_SHAPE, "%s: output %s is not a scalar; pass a seed "
                        "gradient of its shape", fn, lg_tshape(out).s), g->status);
    if (seed && (!lg_same_shape(seed, out) || seed->dtype != out->dtype))
        return (lg_fail(g, LG_ERR_SHAPE, "%s: seed %s %s does not match output %s %s", fn,
                        lg_dtype_name(seed->dtype), lg_tshape(seed).s,
                        lg_dtype_name(out->dtype), lg_tshape(out).s), g->status);
    return LG_OK;
}

/* Walks the tape from its current tail and leaves d(out)/dt in t->gacc for every
 * tensor reached. Returns the list of leaves reached. */
static lg_status walk(lg_graph *g, const char *fn, lg_tensor *out, const lg_tensor *seed,
                      bool create_graph, lg_leaf_ref **leaves)
{
    lg_node *last = g->tail;
    for (lg_node *n = last; n; n = n->prev)
        for (int j = 0; j < n->nout; j++)
            n->out[j]->gacc = NULL;
    *leaves = NULL;

    lg_tensor *s = seed ? lg_graph_input(g, out->dtype, out->ndim, out->shape, seed->data)
                        : lg_graph_full(g, out->dtype, out->ndim, out->shape, 1.0);
    if (!s)
        return g->status;
    bool prev_enabled = g->grad_enabled;
    g->grad_enabled = create_graph;
    g->in_backward = true;
    accumulate(g, out, s, leaves);
    for (lg_node *n = last; n && g->status == LG_OK; n = n->prev) {
        lg_tensor *gy[LG_NODE_MAX_OUT] = {NULL};
        bool any = false;
        for (int j = 0; j < n->nout; j++) {
            gy[j] = n->out[j]->gacc;
            any = any || gy[j];
        }
        if (!any)
            continue;
        lg_tensor *gx_small[8] = {NULL};
        lg_tensor **gx = gx_small;
        if (n->nin > 8) {
            gx = lg_arena_alloc(g, sizeof *gx * (size_t)n->nin, fn);
            if (!gx)
                break;
            memset(gx, 0, sizeof *gx * (size_t)n->nin);
        }
        n->op->vjp(g, n, gy, gx);
        if (g->anomaly && g->status == LG_OK && !lg_anomaly_check_vjp(g, n, gx))
            break;
        for (int i = 0; i < n->nin && g->status == LG_OK; i++)
            if (gx[i] && (n->in[i]->flags & LG_TF_REQUIRES_GRAD))
                accumulate(g, n->in[i], gx[i], leaves);
    }
    g->in_backward = false;
    g->grad_enabled = prev_enabled;
    /* the marks mean "still being summed": none outlives the walk */
    for (lg_node *n = last; n; n = n->prev)
        for (int j = 0; j < n->nout; j++)
            if (owns(n->out[j]))
                n->out[j]->gacc->gacc = NULL;
    return g->status;
}

static void clear_leaves(lg_leaf_ref *l)
{
    for (; l; l = l->next) {
        if (owns(l->t))
            l->t->gacc->gacc = NULL;
        l->t->gacc = NULL;
        l->t->on_leaf_list = 0;
    }
}

/* t->grad, made (zero) on first use. */
static lg_tensor *leaf_grad(lg_graph *g, lg_tensor *t)
{
    if (!t->grad) {
        t->grad = lg_tensor_zeros(t->dtype, t->ndim, t->shape);
        if (!t->grad)
            return lg_fail(g, LG_ERR_OOM, "lg_backward: out of memory for the gradient of "
                           "a %s leaf", lg_tshape(t).s);
        t->grad->flags |= LG_TF_GRAD;
    }
    return t->grad;
}

lg_tensor *lg_grad_sink(lg_graph *g, const lg_node *n, int i)
{
    lg_tensor *t = n->in[i];
    if (!g->sink_grads || t->graph || !(t->flags & LG_TF_REQUIRES_GRAD))
        return NULL;
    lg_tensor *grad = leaf_grad(g, t);
    if (!grad)
        return NULL;
    const char *lo = grad->data, *hi = lo + (size_t)grad->numel * lg_dtype_size(grad->dtype);
    return g->wrap_lo && lo < g->wrap_hi && g->wrap_lo < hi ? NULL : grad;
}

static lg_status add_into_leaf_grad(lg_graph *g, lg_tensor *t)
{
    if (!leaf_grad(g, t))
        return g->status;
    lg_bcast bc = {.ndim = 1, .numel = t->numel, .shape = {t->numel}, .stride = {{1}, {1}}};
    g->be->binary(LG_BIN_ADD, t->dtype, &bc, t->grad->data, t->gacc->data, t->grad->data, 0);
    return LG_OK;
}

lg_status lg_backward_ex(lg_graph *g, lg_tensor *out, const lg_tensor *seed, bool create_graph)
{
    lg_status s = check_root(g, "lg_backward", out, seed);
    if (s != LG_OK)
        return s;
    if (!(out->flags & LG_TF_REQUIRES_GRAD))
        return (lg_fail(g, LG_ERR_STATE, "lg_backward: output %s does not require grad (made "
                        "in no-grad mode, or from inputs that do not require grad)",
                        lg_tshape(out).s), g->status);
    lg_leaf_ref *leaves;
    g->sink_grads = !create_graph && !g->anomaly && !g->reads_grad;
    s = walk(g, "lg_backward", out, seed, create_graph, &leaves);
    g->sink_grads = false;
    for (lg_leaf_ref *l = leaves; l && s == LG_OK; l = l->next)
        if (!l->t->graph)
            s = add_into_leaf_grad(g, l->t);
    clear_leaves(leaves);
    return s;
}

lg_status lg_backward(lg_graph *g, lg_tensor *loss)
{
    return lg_backward_ex(g, loss, NULL, false);
}

lg_status lg_grad(lg_graph *g, lg_tensor *out, const lg_tensor *seed, int n,
                  lg_tensor *const *inputs, lg_tensor **grads, bool create_graph)
{
    lg_status s = check_root(g, "lg_grad", out, seed);
    if (s != LG_OK)
        return s;
    if (n < 0 || (n > 0 && (!inputs || !grads)))
        return (lg_fail(g, LG_ERR_ARG, "lg_grad: need n >= 0 inputs and grads arrays"),
                g->status);
    if (!lg_check_inputs(g, "lg_grad", n, inputs))
        return g->status;
    lg_leaf_ref *leaves;
    s = walk(g, "lg_grad", out, seed, create_graph, &leaves);
    for (int i = 0; i < n && s == LG_OK; i++) {
        lg_tensor *x = inputs[i];
        grads[i] = x->gacc ? x->gacc : lg_graph_full(g, x->dtype, x->ndim, x->shape, 0.0);
        s = g->status;
    }
    clear_leaves(leaves);
    return s;
}
