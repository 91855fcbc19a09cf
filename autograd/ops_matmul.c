/* Matrix products: matmul with BLAS transpose flags (2-D and batched 3-D), outer, dot
 * and the fused linear layer. The VJPs are matmuls with flipped flags, so no transpose
 * is ever materialised. */
#include "ops_impl.h"

/* Input i's gradient op(p) op(q) of a matmul-like VJP. When both factors are matrices
 * and the product has as many elements as the input, it may go straight into the input's
 * .grad (lg_grad_sink; a GEMM with beta 1 over the contiguous .grad, the flat add the
 * usual path does) and NULL is returned. Otherwise it is a graph tensor, summed over the
 * batch (sum_batches) when input i is one matrix shared by every batch entry. The sizes
 * come from the operands, never from .grad, whose header the caller may have reshaped. */
static lg_tensor *product_grad(lg_graph *g, const lg_node *n, int i, lg_tensor *p,
                               lg_tensor *q, bool tp, bool tq, bool sum_batches)
{
    if (p->ndim == 2 && q->ndim == 2) {
        int64_t m = tp ? p->shape[1] : p->shape[0], k = tp ? p->shape[0] : p->shape[1];
        int64_t cols = tq ? q->shape[0] : q->shape[1];
        lg_tensor *sink = m * cols == n->in[i]->numel ? lg_grad_sink(g, n, i) : NULL;
        if (sink) {
            g->be->gemm(p->dtype, tp, tq, 1, m, cols, k, 1.0, p->data, 0, q->data, 0, 1.0,
                        sink->data, 0);
            return NULL;
        }
    }
    if (g->status != LG_OK)
        return NULL;
    lg_tensor *prod = lg_matmul_t(g, p, q, tp, tq);
    return sum_batches ? lg_sum_to_like(g, prod, n->in[i]) : prod;
}

/* C = op(A) op(B), per batch:
 *   dA += dC op(B)ᵀ     (as stored: trans_a ? op(B) dCᵀ : dC op(B)ᵀ)
 *   dB += op(A)ᵀ dC     (as stored: trans_b ? dCᵀ op(A) : op(A)ᵀ dC) */
static void matmul_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    lg_tensor *a = n->in[0], *b = n->in[1], *dc = gy[0];
    bool ta = n->at.trans_a, tb = n->at.trans_b;
    if (lg_needs_grad(n, 0))
        gx[0] = ta ? product_grad(g, n, 0, b, dc, tb, true, true)
                   : product_grad(g, n, 0, dc, b, false, !tb, true);
    if (lg_needs_grad(n, 1))
        gx[1] = tb ? product_grad(g, n, 1, dc, a, true, ta, true)
                   : product_grad(g, n, 1, a, dc, !ta, false, true);
}
static const lg_op MATMUL = {"lg_matmul", matmul_vjp};

lg_tensor *lg_matmul_t(lg_graph *g, lg_tensor *a, lg_tensor *b, bool trans_a, bool trans_b)
{
    lg_tensor *in[2] = {a, b};
    const char *name = MATMUL.name;
    if (!lg_check_inputs(g, name, 2, in) || !lg_check_same_dtype(g, name, 2, in))
        return NULL;
    if (a->ndim < 2 || a->ndim > 3 || b->ndim < 2 || b->ndim > 3)
        return lg_fail(g, LG_ERR_SHAPE, "%s: need 2-D or 3-D operands, got %s @ %s", name,
                       lg_tshape(a).s, lg_tshape(b).s);
    int64_t ar = a->shape[a->ndim - 2], ac = a->shape[a->ndim - 1];
    int64_t br = b->shape[b->ndim - 2], bc = b->shape[b->ndim - 1];
    int64_t m = trans_a ? ac : ar, k = trans_a ? ar : ac;
    int64_t kb = trans_b ? bc : br, nn = trans_b ? br : bc;
    if (k != kb)
        return lg_fail(g, LG_ERR_SHAPE, "%s: inner dimensions differ: %s%s @ %s%s", name,
                       lg_tshape(a).s, trans_a ? "ᵀ" : "", lg_tshape(b).s, trans_b ? "ᵀ" : "");
    int64_t ba = a->ndim == 3 ? a->shape[0] : 1, bb = b->ndim == 3 ? b->shape[0] : 1;
    if (a->ndim == 3 && b->ndim == 3 && ba != bb)
        return lg_fail(g, LG_ERR_SHAPE, "%s: batch sizes differ: %s @ %s", name, lg_tshape(a).s,
                       lg_tshape(b).s);
    int64_t batch = ba > bb ? ba : bb;
    bool batched = a->ndim == 3 || b->ndim == 3;
    int64_t shape[3] = {batch, m, nn};
    lg_tensor *y = batched ? lg_graph_tensor(g, a->dtype, 3, shape)
                           : lg_graph_tensor(g, a->dtype, 2, shape + 1);
    if (!y)
        return NULL;
    if (m * nn > 0)
        g->be->gemm(a->dtype, trans_a, trans_b, batch, m, nn, k, 1.0, a->data,
                    a->ndim == 3 ? m * k : 0, b->data, b->ndim == 3 ? k * nn : 0, 0.0, y->data,
                    m * nn);
    lg_node *n = lg_record(g, &MATMUL, 2, in, 1, &y);
    if (n) {
        n->at.trans_a = trans_a;
        n->at.trans_b = trans_b;
    }
    return g->status == LG_OK ? y : NULL;
}

lg_tensor *lg_matmul(lg_graph *g, lg_tensor *a, lg_tensor *b)
{
    return lg_matmul_t(g, a, b, false, false);
}

static bool check_vectors(lg_graph *g, const char *name, lg_tensor *u, lg_tensor *v)
{
    lg_tensor *in[2] = {u, v};
    if (!lg_check_inputs(g, name, 2, in) || !lg_check_same_dtype(g, name, 2, in))
        return false;
    if (u->ndim != 1 || v->ndim != 1) {
        lg_fail(g, LG_ERR_SHAPE, "%s: need 1-D vectors, got %s and %s", name, lg_tshape(u).s,
                lg_tshape(v).s);
        return false;
    }
    return true;
}

/* u vᵀ as the (m,1) @ (1,n) matmul; its gradients come from matmul and reshape. */
lg_tensor *lg_outer(lg_graph *g, lg_tensor *u, lg_tensor *v)
{
    if (!check_vectors(g, "lg_outer", u, v))
        return NULL;
    int64_t su[2] = {u->shape[0], 1}, sv[2] = {1, v->shape[0]};
    return lg_matmul(g, lg_reshape(g, u, 2, su), lg_reshape(g, v, 2, sv));
}

/* Σ u ⊙ v; its gradients come from mul and sum. */
lg_tensor *lg_dot(lg_graph *g, lg_tensor *u, lg_tensor *v)
{
    if (!check_vectors(g, "lg_dot", u, v))
        return NULL;
    if (u->shape[0] != v->shape[0])
        return lg_fail(g, LG_ERR_SHAPE, "lg_dot: lengths differ: %s and %s", lg_tshape(u).s,
                       lg_tshape(v).s);
    return lg_sum(g, lg_mul(g, u, v));
}

/* Y = X Wᵀ + b, X (N,in), W (out,in), b (out):
 *   dX += dY W,  dW += dYᵀ X,  db += Σ_rows dY */
static void linear_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    if (lg_needs_grad(n, 0))
        gx[0] = lg_matmul_t(g, gy[0], n->in[1], false, false);
    if (lg_needs_grad(n, 1))
        gx[1] = product_grad(g, n, 1, gy[0], n->in[0], true, false, false);
    if (n->nin == 3 && lg_needs_grad(n, 2))
        gx[2] = lg_sum_axis(g, gy[0], 0, false);
}
static const lg_op LINEAR = {"lg_linear", linear_vjp};
lg_tensor *lg_linear(lg_graph *g, lg_tensor *x, lg_tensor *w, lg_tensor *b)
{
    lg_tensor *in[3] = {x, w, b};
    int nin = b ? 3 : 2;
    const char *name = LINEAR.name;
    if (!lg_check_inputs(g, name, nin, in) || !lg_check_same_dtype(g, name, nin, in))
        return NULL;
    if (x->ndim != 2 || w->ndim != 2 || x->shape[1] != w->shape[1] ||
        (b && (b->ndim != 1 || b->shape[0] != w->shape[0])))
        return lg_fail(g, LG_ERR_SHAPE, "%s: need x (N,in), W (out,in), b (out): got x %s, "
                       "W %s, b %s", name, lg_tshape(x).s, lg_tshape(w).s,
                       b ? lg_tshape(b).s : "none");
    int64_t rows = x->shape[0], out = w->shape[0], inn = x->shape[1];
    int64_t shape[2] = {rows, out};
    lg_tensor *y = lg_graph_tensor(g, x->dtype, 2, shape);
    if (!y)
        return NULL;
    if (b)
        g->be->copy_rows(x->dtype, rows, out, b->data, 0, y->data, out);
    if (rows * out > 0) {
        if (!b && inn == 0)
            g->be->fill(x->dtype, y->numel, y->data, 0.0);
        g->be->gemm(x->dtype, false, true, 1, rows, out, inn, 1.0, x->data, 0, w->data, 0,
                    b ? 1.0 : 0.0, y->data, 0);
    }
    lg_record(g, &LINEAR, nin, in, 1, &y);
    return g->status == LG_OK ? y : NULL;
}
