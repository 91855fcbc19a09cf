/* Losses: fused, max-subtracted cross-entropy on logits with integer labels, mean squared
 * error, and binary cross-entropy on logits. Each returns the mean as a scalar. */
#include <math.h>
#include <string.h>
#include "ops_impl.h"

/* L = mean_i (logsumexp(x_i) - x_i[label_i]), x (N,C), labels (N) saved as int64:
 *   dx += (softmax(x) - onehot(labels)) ⊙ dL / N */
static void cross_entropy_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy,
                              lg_tensor **gx)
{
    lg_tensor *x = n->in[0];
    const int64_t *labels = n->extra;
    int64_t rows = x->shape[0], cols = x->shape[1];
    lg_tensor *onehot = lg_graph_full(g, x->dtype, 2, x->shape, 0.0);
    if (!onehot)
        return;
    for (int64_t i = 0; i < rows; i++)
        lg_store(onehot->data, x->dtype, i * cols + labels[i], 1.0);
    lg_tensor *d = lg_sub(g, lg_softmax(g, x, 1), onehot);
    gx[0] = lg_mul(g, d, lg_scale(g, gy[0], 1.0 / (double)rows));
}
static const lg_op CROSS_ENTROPY = {"lg_cross_entropy", cross_entropy_vjp};

/* mean_i (m_i - x_i[label_i] + log Σ_j exp(x_ij - m_i)), m_i the row max, all in double:
 * storing m + log s in f32 first would round it to ~1e-3 at logits of 1e4. */
static double mean_nll(const lg_tensor *x, const lg_tensor *labels)
{
    int64_t rows = x->shape[0], cols = x->shape[1];
    double acc = 0;
    for (int64_t i = 0; i < rows; i++) {
        double m = lg_load(x->data, x->dtype, i * cols);
        for (int64_t j = 1; j < cols; j++)
            m = fmax(m, lg_load(x->data, x->dtype, i * cols + j));
        double s = 0;
        for (int64_t j = 0; j < cols; j++)
            s += exp(lg_load(x->data, x->dtype, i * cols + j) - m);
        int64_t y = lg_load_int(labels->data, labels->dtype, i);
        acc += (m - lg_load(x->data, x->dtype, i * cols + y)) + log(s);
    }
    return acc / (double)rows;
}

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

lg_tensor *lg_cross_entropy(lg_graph *g, lg_tensor *logits, lg_tensor *labels)
{
    const char *name = CROSS_ENTROPY.name;
    if (!lg_check_inputs(g, name, 1, &logits))
        return NULL;
    if (logits->ndim != 2 || logits->shape[0] == 0 || logits->shape[1] == 0)
        return lg_fail(g, LG_ERR_SHAPE, "%s: logits must be (N,C) with N, C > 0, got %s", name,
                       lg_tshape(logits).s);
    int64_t rows = logits->shape[0], cols = logits->shape[1];
    if (!check_labels(g, name, labels, rows, cols))
        return NULL;
    lg_tensor *y = lg_graph_tensor(g, logits->dtype, 0, NULL);
    if (!y)
        return NULL;
    lg_store(y->data, y->dtype, 0, mean_nll(logits, labels));
    lg_node *n = lg_record(g, &CROSS_ENTROPY, 1, &logits, 1, &y);
    if (n) {
        int64_t *copy = lg_arena_alloc(g, sizeof *copy * (size_t)rows, name);
        if (!copy)
            return NULL;
        for (int64_t i = 0; i < rows; i++)
            copy[i] = lg_load_int(labels->data, labels->dtype, i);
        n->extra = copy;
    }
    return g->status == LG_OK ? y : NULL;
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
    double acc = 0;
    for (int64_t i = 0; i < logits->numel; i++) {
        double x = lg_load(logits->data, logits->dtype, i);
        double t = lg_load(targets->data, targets->dtype, i);
        acc += (x > 0 ? x : 0) - x * t + log1p(exp(-fabs(x)));
    }
    lg_store(y->data, y->dtype, 0, acc / (double)logits->numel);
    lg_record(g, &BCE, 2, in, 1, &y);
    return g->status == LG_OK ? y : NULL;
}
