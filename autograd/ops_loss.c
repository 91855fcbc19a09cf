/* Losses: cross-entropy on logits with integer labels (log-softmax and gather), mean squared
 * error, and binary cross-entropy on logits. Each returns the mean as a scalar. */
#include <math.h>
#include <string.h>
#include "ops_impl.h"

/* labels: a live i32/i64 tensor of shape (rows) with entries in [0, cols). */
static bool check_labels(lg_graph *g, const char *name, lg_tensor *labels, int64_t rows,
                         int64_t cols)
{
    if (!lg_check_indices(g, name, labels, cols, "labels", "label", "row"))
        return false;
    if (labels->ndim != 1 || labels->shape[0] != rows) {
        lg_fail(g, LG_ERR_SHAPE, "%s: labels are %s; need (%lld), one per row of the logits",
                name, lg_tshape(labels).s, (long long)rows);
        return false;
    }
    return true;
}

/* L = -mean_i log_softmax(x_i)[label_i], as torch's cross_entropy composes it: the
 * log-softmax keeps x - max exact, so f32 losses stay precise at logits of 1e4, and the
 * gradients (first and second order) come from the three ops. */
lg_tensor *lg_cross_entropy(lg_graph *g, lg_tensor *logits, lg_tensor *labels)
{
    const char *name = "lg_cross_entropy";
    if (!lg_check_inputs(g, name, 1, &logits))
        return NULL;
    if (logits->ndim != 2 || logits->shape[0] == 0 || logits->shape[1] == 0)
        return lg_fail(g, LG_ERR_SHAPE, "%s: logits must be (N,C) with N, C > 0, got %s", name,
                       lg_tshape(logits).s);
    int64_t rows = logits->shape[0], cols = logits->shape[1];
    if (!check_labels(g, name, labels, rows, cols))
        return NULL;
    /* The labels are copied, so that the caller may reuse their tensor before backward. */
    int64_t col[2] = {rows, 1};
    lg_tensor *idx = lg_graph_tensor(g, labels->dtype, 2, col);
    if (!idx)
        return NULL;
    g->be->mem_copy(LG_COPY_DEVICE_TO_DEVICE, idx->data, labels->data,
                    (size_t)rows * lg_dtype_size(labels->dtype));
    return lg_neg(g, lg_mean(g, lg_gather(g, lg_log_softmax(g, logits, 1), 1, idx)));
}

/* mean((a - b)²), built from sub, mul and mean, which supply the gradients. */
lg_tensor *lg_mse(lg_graph *g, lg_tensor *a, lg_tensor *b)
{
    lg_tensor *in[2] = {a, b};
    if (!lg_check_inputs(g, "lg_mse", 2, in) || !lg_check_same_dtype(g, "lg_mse", 2, in))
        return NULL;
    if (!lg_same_shape(a, b))
        return lg_fail(g, LG_ERR_SHAPE, "lg_mse: shapes differ: %s and %s", lg_tshape(a).s,
                       lg_tshape(b).s);
    lg_tensor *d = lg_sub(g, a, b);
    return lg_mean(g, lg_mul(g, d, d));
}

/* L = mean(max(x,0) - x y + log(1 + exp(-|x|))):
 *   dx += (sigmoid(x) - y) dL / N,   dy += -x dL / N */
static void bce_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    lg_tensor *x = n->in[0], *t = n->in[1];
    lg_tensor *s = lg_scale(g, gy[0], 1.0 / (double)x->numel);
    if (lg_needs_grad(n, 0))
        gx[0] = lg_mul(g, lg_sub(g, lg_sigmoid(g, x), t), s);
    if (lg_needs_grad(n, 1))
        gx[1] = lg_mul(g, lg_neg(g, x), s);
}
static const lg_op BCE = {"lg_bce_with_logits", bce_vjp};
lg_tensor *lg_bce_with_logits(lg_graph *g, lg_tensor *logits, lg_tensor *targets)
{
    lg_tensor *in[2] = {logits, targets};
    const char *name = BCE.name;
    if (!lg_check_inputs(g, name, 2, in) || !lg_check_same_dtype(g, name, 2, in))
        return NULL;
    if (!lg_same_shape(logits, targets) || logits->numel == 0)
        return lg_fail(g, LG_ERR_SHAPE, "%s: logits %s and targets %s must share a non-empty "
                       "shape", name, lg_tshape(logits).s, lg_tshape(targets).s);
    lg_tensor *y = lg_graph_tensor(g, logits->dtype, 0, NULL);
    if (!y)
        return NULL;
    /* mean(softplus(x) - x t), the softplus as max(x,0) + log1p(exp(-|x|)), through the
     * backend on two scratch tensors */
    lg_dtype dt = logits->dtype;
    int64_t n = logits->numel;
    lg_tensor *sp = lg_graph_tensor(g, dt, logits->ndim, logits->shape);
    lg_tensor *xt = lg_graph_tensor(g, dt, logits->ndim, logits->shape);
    if (!sp || !xt)
        return NULL;
    lg_bcast same = {.ndim = 1, .numel = n, .shape = {n}, .stride = {{1}, {1}}};
    g->be->unary(LG_UN_SOFTPLUS, dt, n, logits->data, sp->data, 0);
    g->be->binary(LG_BIN_MUL, dt, &same, logits->data, targets->data, xt->data, 0);
    g->be->binary(LG_BIN_SUB, dt, &same, sp->data, xt->data, sp->data, 0);
    g->be->reduce(LG_RED_SUM, dt, 1, n, 1, sp->data, y->data, NULL);
    g->be->unary(LG_UN_SCALE, dt, 1, y->data, y->data, 1.0 / (double)n);
    lg_record(g, &BCE, 2, in, 1, &y);
    return g->status == LG_OK ? y : NULL;
}
