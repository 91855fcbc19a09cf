/* Pseudo-inverse (through the SVD, with the Golub-Pereyra VJP) and least squares
 * (gelsd, forward only). */
#include <math.h>
#include "linalg_impl.h"

static double default_rcond(const lg_tensor *a, double rcond)
{
    int64_t mn = a->shape[0] > a->shape[1] ? a->shape[0] : a->shape[1];
    return rcond < 0 ? (double)mn * la_eps(a->dtype) : rcond;
}

/* X = A⁺, A (m,n), X (n,m). Golub & Pereyra 1973 (eq. 4.12), as JAX's pinv JVP, valid
 * where A's rank is locally constant:
 *   dA += -Xᵀ dX Xᵀ + (I - A X) dXᵀ X Xᵀ + Xᵀ X dXᵀ (I - X A)                  (m,n) */
static void pinv_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    lg_tensor *a = n->in[0], *x = n->out[0], *gxx = gy[0];
    lg_tensor *t1 = lg_matmul_t(g, lg_matmul_t(g, x, gxx, true, false), x, false, true);
    lg_tensor *t2 = lg_matmul_t(g, gxx, lg_matmul_t(g, x, x, false, true), true, false);
    t2 = lg_sub(g, t2, lg_matmul(g, a, lg_matmul(g, x, t2)));
    lg_tensor *t3 = lg_matmul_t(g, lg_matmul_t(g, x, x, true, false), gxx, false, true);
    t3 = lg_sub(g, t3, lg_matmul(g, lg_matmul(g, t3, x), a));
    gx[0] = lg_add(g, lg_sub(g, t2, t1), t3);
}
static const lg_op PINV = {"lg_pinv", pinv_vjp};

lg_tensor *lg_pinv(lg_graph *g, lg_tensor *a, double rcond)
{
    const char *name = PINV.name;
    if (!lg_check_inputs(g, name, 1, &a) || !la_check_matrix(g, name, "A", a, false) ||
        !la_check_finite(g, name, "A", a))
        return NULL;
    lg_tensor *u, *s, *vt;
    if (la_svd(g, name, a, false, true, &u, &s, &vt) != LG_OK)
        return NULL;
    /* X = V diag(1/σ) Uᵀ over σ > rcond σmax: scale the rows of Vᵀ, then (.)ᵀ Uᵀ. */
    int64_t k = s->numel, nn = a->shape[1];
    double cut = k ? default_rcond(a, rcond) * lg_load(s->data, s->dtype, 0) : 0;
    for (int64_t i = 0; i < k; i++) {
        double si = lg_load(s->data, s->dtype, i), w = si > cut ? 1.0 / si : 0.0;
        for (int64_t j = 0; j < nn; j++)
            lg_store(vt->data, vt->dtype, i * nn + j, w * lg_load(vt->data, vt->dtype, i * nn + j));
    }
    int64_t shape[2] = {nn, a->shape[0]};
    lg_tensor *x = lg_graph_tensor(g, a->dtype, 2, shape);
    if (!x)
        return NULL;
    if (x->numel > 0) {
        if (k == 0)
            g->be->fill(a->dtype, x->numel, x->data, 0.0);
        else
            g->be->gemm(a->dtype, true, true, 1, nn, a->shape[0], k, 1.0, vt->data, 0, u->data,
                        0, 0.0, x->data, 0);
    }
    lg_record(g, &PINV, 1, &a, 1, &x);
    return g->status == LG_OK ? x : NULL;
}

#define GELSD(T, pre, work, lwork, iw)                                                      \
    pre##gelsd_work(LAPACK_COL_MAJOR, (lapack_int)m, (lapack_int)n, (lapack_int)kr, (T *)ab, \
                    lda, (T *)bb, ldb, (T *)s->data, (T)rc, &rank, (T *)work, lwork, iw)

lg_status lg_lstsq(lg_graph *g, lg_tensor *a, lg_tensor *b, double rcond, lg_lstsq_result *out)
{
    const char *name = "lg_lstsq";
    lg_tensor *in[2] = {a, b};
    if (!lg_check_inputs(g, name, 2, in))
        return g ? g->status : LG_ERR_ARG;
    if (!out)
        return (lg_fail(g, LG_ERR_ARG, "%s: out must not be NULL", name), g->status);
    *out = (lg_lstsq_result){NULL, NULL, NULL, 0};
    if (!la_check_matrix(g, name, "A", a, false) || !la_check_finite(g, name, "A", a) ||
        !la_check_rhs(g, name, a, b))
        return g->status;
    lg_dtype dt = a->dtype;
    int64_t m = a->shape[0], n = a->shape[1], k = b->ndim == 2 ? b->shape[1] : 1;
    /* B (m, 0): numpy answers an empty (n, 0) solution with A's rank and singular values;
     * gelsd refuses nrhs = 0 (and OpenBLAS would print about it), so it solves one zero
     * column that nothing reads back. */
    int64_t kr = k > 0 ? k : 1;
    int64_t mn = m < n ? m : n, ld = m > n ? m : n, ts[2] = {n, m};
    lapack_int lda = (lapack_int)(m > 0 ? m : 1), ldb = (lapack_int)(ld > 0 ? ld : 1), rank = 0;
    lg_tensor *at = lg_graph_tensor(g, dt, 2, ts), *s = lg_graph_tensor(g, dt, 1, &mn);
    void *bb = la_alloc(g, dt, ld * kr, name);
    int64_t xs[2] = {n, k};
    lg_tensor *x = lg_graph_tensor(g, dt, b->ndim, xs);
    if (!at || !s || !bb || !x)
        return g->status;
    void *ab = at->data;
    /* gelsd wants A and B column-major: A's transpose as stored, B column by column. */
    la_transpose_into(dt, m, n, a->data, ab);
    g->be->fill(dt, ld * kr, bb, 0.0);
    for (int64_t i = 0; i < m; i++)
        for (int64_t c = 0; c < k; c++)
            lg_store(bb, dt, c * ld + i, lg_load(b->data, dt, i * k + c));
    double rc = default_rcond(a, rcond), wq[1];
    lapack_int iq[1] = {1}, info = 0;
    if (mn > 0) {
        info = dt == LG_F64 ? GELSD(double, LAPACKE_d, wq, -1, iq)
                            : GELSD(float, LAPACKE_s, wq, -1, iq);
        lapack_int lwork = la_lwork(dt, wq);
        void *work = la_alloc(g, dt, lwork, name);
        lapack_int *iwork = lg_arena_alloc(g, sizeof *iwork * (size_t)(iq[0] > 0 ? iq[0] : 1),
                                           name);
        if (!work || !iwork)
            return g->status;
        if (info == 0)
            info = dt == LG_F64 ? GELSD(double, LAPACKE_d, work, lwork, iwork)
                                : GELSD(float, LAPACKE_s, work, lwork, iwork);
    }
    if (info > 0)
        return (lg_fail(g, LG_ERR_NO_CONVERGE, "%s: gelsd did not converge (%d off-diagonal "
                        "elements did not reach zero)", name, (int)info), g->status);
    if (info < 0)
        return (lg_fail(g, LG_ERR_ARG, "%s: gelsd rejected argument %d", name, (int)-info),
                g->status);
    for (int64_t i = 0; i < n; i++)
        for (int64_t c = 0; c < k; c++)
            lg_store(x->data, dt, i * k + c, i < m || mn > 0 ? lg_load(bb, dt, c * ld + i) : 0.0);
    int64_t nres = m > n && rank == n ? k : 0;
    lg_tensor *res = lg_graph_tensor(g, dt, 1, &nres);
    if (!res)
        return g->status;
    for (int64_t c = 0; c < nres; c++) {
        double r2 = 0;
        for (int64_t i = n; i < m; i++)
            r2 += lg_load(bb, dt, c * ld + i) * lg_load(bb, dt, c * ld + i);
        lg_store(res->data, dt, c, r2);
    }
    *out = (lg_lstsq_result){x, res, s, (int64_t)rank};
    return LG_OK;
}
