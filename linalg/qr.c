/* QR (reduced, by Householder reflections) with its VJP, and LU with pivots (forward
 * only). */
#include "linalg_impl.h"

/* The square part of the QR VJP: A = Q R with R (k,k) invertible, Q (m,k), as PyTorch's
 * linalg_qr_backward (after Walter & Lehmann 2018, Seeger et al. 2017):
 *   M = triu(dR Rᵀ - Qᵀ dQ),  S = M + Mᵀ with diagonal M_ii        (k,k)
 *   dA = (Q S + dQ) R⁻ᵀ                                            (m,k)
 * R⁻ᵀ is applied as the triangular solve R Xᵀ = (Q S + dQ)ᵀ. */
static lg_tensor *qr_square_vjp(lg_graph *g, lg_tensor *q, lg_tensor *r, lg_tensor *gq,
                                lg_tensor *gr)
{
    int64_t k = r->shape[0];
    lg_tensor *m = NULL;
    if (gr)
        m = lg_matmul_t(g, gr, r, false, true);
    if (gq) {
        lg_tensor *qgq = lg_matmul_t(g, q, gq, true, false);
        m = m ? lg_sub(g, m, qgq) : lg_neg(g, qgq);
    }
    lg_tensor *t = lg_mul(g, m, la_tri_mask(g, r->dtype, k, false, 0.5));
    lg_tensor *b = lg_matmul(g, q, lg_add(g, t, lg_transpose(g, t)));
    if (gq)
        b = lg_add(g, b, gq);
    return lg_transpose(g, lg_solve_triangular(g, r, lg_transpose(g, b), LG_TRI_UPPER));
}

/* A (m,n) = Q (m,k) R (k,n). m >= n: the square formula above. m < n (PyTorch): split
 * A = [X | Y], R = [U | V] with X, U (m,m); then dY = Q dV and
 * dX = square VJP with dQ + Y dVᵀ and dU. */
static void qr_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    lg_tensor *a = n->in[0], *q = n->out[0], *r = n->out[1], *gq = gy[0], *gr = gy[1];
    int64_t m = a->shape[0], nn = a->shape[1];
    if (m >= nn) {
        gx[0] = qr_square_vjp(g, q, r, gq, gr);
        return;
    }
    lg_tensor *u = lg_slice(g, r, 1, 0, m);
    lg_tensor *gu = gr ? lg_slice(g, gr, 1, 0, m) : NULL;
    lg_tensor *gv = gr ? lg_slice(g, gr, 1, m, nn) : NULL, *gyv;
    if (gv) {
        lg_tensor *ygv = lg_matmul_t(g, lg_slice(g, a, 1, m, nn), gv, false, true);
        gq = gq ? lg_add(g, gq, ygv) : ygv;
        gyv = lg_matmul(g, q, gv);
    } else {
        int64_t shape[2] = {m, nn - m};
        gyv = lg_graph_full(g, a->dtype, 2, shape, 0.0);
    }
    lg_tensor *parts[2] = {qr_square_vjp(g, q, u, gq, gu), gyv};
    gx[0] = lg_concat(g, parts, 2, 1);
}
static const lg_op QR = {"lg_qr", qr_vjp};

lg_status lg_qr(lg_graph *g, lg_tensor *a, lg_tensor **q, lg_tensor **r)
{
    const char *name = QR.name;
    if (q)
        *q = NULL;
    if (r)
        *r = NULL;
    if (!lg_check_inputs(g, name, 1, &a))
        return g ? g->status : LG_ERR_ARG;
    if (!q || !r)
        return (lg_fail(g, LG_ERR_ARG, "%s: q and r must not be NULL", name), g->status);
    if (!la_check_matrix(g, name, "A", a, false) || !la_check_finite(g, name, "A", a))
        return g->status;
    int64_t m = a->shape[0], n = a->shape[1], k = m < n ? m : n;
    int64_t qs[2] = {m, k}, rs[2] = {k, n};
    lg_tensor *out[2] = {lg_graph_tensor(g, a->dtype, 2, qs), lg_graph_tensor(g, a->dtype, 2, rs)};
    if (!out[0] || !out[1])
        return g->status;
    lg_linalg_args la = {.m = m, .n = n, .a = a->data, .x = out[0]->data, .y = out[1]->data};
    int64_t info = k > 0 ? la_run(g, name, LG_LA_QR, a->dtype, &la) : 0;
    if (info == LA_NO_WORK)
        return g->status;
    if (info != 0)
        return (lg_fail(g, LG_ERR_ARG, "%s: LAPACK rejected argument %d", name, (int)-info),
                g->status);
    lg_record(g, &QR, 1, &a, 2, out);
    if (g->status != LG_OK)
        return g->status;
    *q = out[0];
    *r = out[1];
    return LG_OK;
}

lg_status lg_lu(lg_graph *g, lg_tensor *a, lg_tensor **p, lg_tensor **l, lg_tensor **u)
{
    const char *name = "lg_lu";
    if (p)
        *p = NULL;
    if (l)
        *l = NULL;
    if (u)
        *u = NULL;
    if (!lg_check_inputs(g, name, 1, &a))
        return g ? g->status : LG_ERR_ARG;
    if (!p || !l || !u)
        return (lg_fail(g, LG_ERR_ARG, "%s: p, l and u must not be NULL", name), g->status);
    if (!la_check_matrix(g, name, "A", a, false) || !la_check_finite(g, name, "A", a))
        return g->status;
    int64_t m = a->shape[0], n = a->shape[1], k = m < n ? m : n;
    int64_t ps[2] = {m, m}, ls[2] = {m, k}, us[2] = {k, n};
    lg_tensor *tp = lg_graph_tensor(g, a->dtype, 2, ps), *tl = lg_graph_tensor(g, a->dtype, 2, ls);
    lg_tensor *tu = lg_graph_tensor(g, a->dtype, 2, us);
    if (!tp || !tl || !tu)
        return g->status;
    lg_linalg_args la = {.m = m, .n = n, .a = a->data, .x = tp->data, .y = tl->data,
                         .z = tu->data};
    int64_t info = la_run(g, name, LG_LA_PLU, a->dtype, &la);
    if (info == LA_NO_WORK)
        return g->status;
    if (info < 0)
        return (lg_fail(g, LG_ERR_ARG, "%s: getrf rejected argument %d", name, (int)-info),
                g->status);
    *p = tp;
    *l = tl;
    *u = tu;
    return LG_OK;
}
