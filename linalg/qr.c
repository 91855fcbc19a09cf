/* QR (reduced, via LQ of the column-major view) with its VJP, and LU with pivots
 * (forward only). */
#include <string.h>
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

#define LQ(T, pre, work, lwork)                                                            \
    pre##gelqf_work(LAPACK_COL_MAJOR, (lapack_int)n, (lapack_int)m, (T *)buf, lda, (T *)tau, \
                    (T *)work, lwork)
#define ORGLQ(T, pre, work, lwork)                                                          \
    pre##orglq_work(LAPACK_COL_MAJOR, (lapack_int)k, (lapack_int)m, (lapack_int)k, (T *)buf, \
                    lda, (T *)tau, (T *)work, lwork)

/* Column-major, row-major A (m,n) is M = Aᵀ (n x m). gelqf gives M = L Q' with L
 * (n,k) lower and Q' (k,m) orthonormal rows, so A = Q'ᵀ Lᵀ: read row-major, the
 * first k rows of buf hold R = Lᵀ and orglq's Q' holds Q. */
static lapack_int lq(lg_graph *g, const char *name, lg_dtype dt, int64_t m, int64_t n,
                     void *buf, lg_tensor *q, lg_tensor *r)
{
    int64_t k = m < n ? m : n;
    lapack_int lda = (lapack_int)(n > 0 ? n : 1);
    void *tau = la_alloc(g, dt, k, name);
    double wq[2];
    if (!tau)
        return -1000;
    lapack_int info = dt == LG_F64 ? LQ(double, LAPACKE_d, wq, -1) : LQ(float, LAPACKE_s, wq, -1);
    lapack_int info2 = dt == LG_F64 ? ORGLQ(double, LAPACKE_d, wq + 1, -1)
                                    : ORGLQ(float, LAPACKE_s, wq + 1, -1);
    lapack_int l1 = la_lwork(dt, wq), l2 = la_lwork(dt, (char *)wq + lg_dtype_size(dt));
    lapack_int lwork = l1 < 0 || l2 < 0 ? -1 : l1 > l2 ? l1 : l2; /* -1: too large */
    void *work = la_alloc(g, dt, lwork, name);
    if (!work)
        return -1000;
    if (info == 0 && info2 == 0)
        info = dt == LG_F64 ? LQ(double, LAPACKE_d, work, lwork) : LQ(float, LAPACKE_s, work, lwork);
    if (info != 0)
        return info;
    for (int64_t i = 0; i < k; i++)
        for (int64_t j = 0; j < n; j++)
            lg_store(r->data, dt, i * n + j, j >= i ? lg_load(buf, dt, i * n + j) : 0.0);
    info = dt == LG_F64 ? ORGLQ(double, LAPACKE_d, work, lwork)
                        : ORGLQ(float, LAPACKE_s, work, lwork);
    if (info == 0 && m * k > 0)
        g->be->copy_rows(dt, m, k, buf, n, q->data, k);
    return info;
}

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
    lg_tensor *buf = la_copy(g, a);
    if (!out[0] || !out[1] || !buf)
        return g->status;
    lapack_int info = k > 0 ? lq(g, name, a->dtype, m, n, buf->data, out[0], out[1]) : 0;
    if (info == -1000)
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

/* Fills p (m,m) with the permutation P of A = P L U from getrf's 1-based row swaps. */
static void pivots_to_matrix(lg_tensor *p, const lapack_int *ipiv, int64_t k, int64_t *perm)
{
    int64_t m = p->shape[0];
    for (int64_t i = 0; i < m; i++)
        perm[i] = i;
    for (int64_t i = 0; i < k; i++) {
        int64_t j = ipiv[i] - 1, t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    /* Row i of Pᵀ A is row perm[i] of A, so P(perm[i], i) = 1. */
    for (int64_t i = 0; i < m * m; i++)
        lg_store(p->data, p->dtype, i, 0.0);
    for (int64_t i = 0; i < m; i++)
        lg_store(p->data, p->dtype, perm[i] * m + i, 1.0);
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
    int64_t ps[2] = {m, m}, ls[2] = {m, k}, us[2] = {k, n}, ts[2] = {n, m};
    lg_tensor *tp = lg_graph_tensor(g, a->dtype, 2, ps), *tl = lg_graph_tensor(g, a->dtype, 2, ls);
    lg_tensor *tu = lg_graph_tensor(g, a->dtype, 2, us), *buf = lg_graph_tensor(g, a->dtype, 2, ts);
    lapack_int *ipiv = lg_arena_alloc(g, sizeof *ipiv * (size_t)(k + 1), name);
    int64_t *perm = lg_arena_alloc(g, sizeof *perm * (size_t)(m + 1), name);
    if (!tp || !tl || !tu || !buf || !ipiv || !perm)
        return g->status;
    /* getrf needs A itself column-major: (n,m) row-major is that. */
    if (m * n > 0) {
        la_transpose_into(a->dtype, m, n, a->data, buf->data);
        lapack_int lda = (lapack_int)m, info =
            a->dtype == LG_F64
                ? LAPACKE_dgetrf_work(LAPACK_COL_MAJOR, (lapack_int)m, (lapack_int)n, buf->data,
                                      lda, ipiv)
                : LAPACKE_sgetrf_work(LAPACK_COL_MAJOR, (lapack_int)m, (lapack_int)n, buf->data,
                                      lda, ipiv);
        if (info < 0)
            return (lg_fail(g, LG_ERR_ARG, "%s: getrf rejected argument %d", name, (int)-info),
                    g->status);
    }
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < k; j++)
            lg_store(tl->data, a->dtype, i * k + j,
                     i > j ? lg_load(buf->data, a->dtype, j * m + i) : i == j ? 1.0 : 0.0);
    for (int64_t i = 0; i < k; i++)
        for (int64_t j = 0; j < n; j++)
            lg_store(tu->data, a->dtype, i * n + j,
                     j >= i ? lg_load(buf->data, a->dtype, j * m + i) : 0.0);
    pivots_to_matrix(tp, ipiv, k, perm);
    *p = tp;
    *l = tl;
    *u = tu;
    return LG_OK;
}
