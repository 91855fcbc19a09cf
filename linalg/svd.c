/* Singular value decomposition (LG_LA_SVD: gesdd, falling back to gesvd, on the CPU), its
 * VJP through the singular-value gap matrix, and the truncated rank-k helper. Norms, rank
 * and cond built on it live in norms.c, pinv in lstsq.c. */
#include <math.h>
#include "linalg_impl.h"

lg_status la_svd(lg_graph *g, const char *name, lg_tensor *a, bool full, bool want_uv,
                 lg_tensor **u, lg_tensor **s, lg_tensor **vt)
{
    int64_t m = a->shape[0], n = a->shape[1], k = m < n ? m : n;
    int64_t ucols = full ? m : k, vtrows = full ? n : k;
    int64_t us[2] = {m, ucols}, vs[2] = {vtrows, n};
    *s = lg_graph_tensor(g, a->dtype, 1, &k);
    *u = want_uv ? lg_graph_tensor(g, a->dtype, 2, us) : NULL;
    *vt = want_uv ? lg_graph_tensor(g, a->dtype, 2, vs) : NULL;
    if (!*s || (want_uv && (!*u || !*vt)))
        return g->status;
    lg_linalg_args la = {.m = m, .n = n, .full = full, .a = a->data, .x = (*s)->data,
                         .y = want_uv ? (*u)->data : NULL, .z = want_uv ? (*vt)->data : NULL};
    int64_t info = la_run(g, name, LG_LA_SVD, a->dtype, &la);
    if (info == LA_NO_WORK)
        return g->status;
    if (info > 0)
        return (lg_fail(g, LG_ERR_NO_CONVERGE, "%s: gesdd and gesvd did not converge (%d "
                        "superdiagonals did not reach zero)", name, (int)info), g->status);
    if (info < 0)
        return (lg_fail(g, LG_ERR_ARG, "%s: LAPACK rejected argument %d", name, (int)-info),
                g->status);
    return LG_OK;
}

/* False (LG_ERR_NUMERIC) where the U/V gradient is undefined: two singular values within
 * tol = 8 max(m,n) eps σmax, or (need_nonzero) σmin <= tol. */
static bool check_sv(lg_graph *g, const char *name, const lg_tensor *s, int64_t mn,
                     bool need_nonzero)
{
    int64_t k = s->numel;
    lg_linalg_args la = {.n = k, .a = s->data, .upper = need_nonzero,
                         .alpha = 8.0 * (double)mn * la_eps(s->dtype)};
    int64_t at = la_run(g, name, LG_LA_GAPS, s->dtype, &la);
    if (at == LA_NO_WORK)
        return false;
    if (at > 0 && at <= k) {
        lg_fail(g, LG_ERR_NUMERIC, "%s: singular values %lld and %lld are repeated (gap "
                "%g <= %g): the gradient through U and Vt is undefined", name,
                (long long)at - 1, (long long)at, la.r[1], la.r[0]);
        return false;
    }
    if (at > k) {
        lg_fail(g, LG_ERR_NUMERIC, "%s: singular value %lld is zero (<= %g): the gradient "
                "through U and Vt of a non-square matrix is undefined", name,
                (long long)k - 1, la.r[0]);
        return false;
    }
    return true;
}

/* A = U diag(S) Vᵀ, A (m,n), U (m,k), S (k), Vᵀ (k,n); PyTorch's svd_backward (after
 * Townsend 2016, "Differentiating the singular value decomposition"), real case:
 *   J = Uᵀ dU - dUᵀ U,   K = Vᵀ dV - dVᵀ V            (k,k), dV = dVᵀᵀ
 *   E_ij = σj² - σi² (i != j), E_ii = 1
 *   G = (J ⊙ rowσ + colσ ⊙ K) / E + diag(dS)           (k,k)
 *   m > k:  dA += (U G + (I - U Uᵀ) dU diag(1/σ)) Vᵀ
 *   n > k:  dA += U (G Vᵀ + diag(1/σ) dVᵀ (I - V Vᵀ))
 *   else:   dA += U G Vᵀ
 * G is built in one pass by la_svd_gap.
 * With dS alone, dA = U diag(dS) Vᵀ (no division). With full_matrices, only the first k
 * columns of U and rows of Vᵀ take part (the others are an arbitrary basis). */
static void svd_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    lg_tensor *u = n->out[0], *s = n->out[1], *vt = n->out[2];
    lg_tensor *gu = gy[0], *gs = gy[1], *gvt = gy[2];
    int64_t m = u->shape[0], nn = vt->shape[1], k = s->numel;
    if (n->at.full_matrices) {
        u = lg_slice(g, u, 1, 0, k);
        vt = lg_slice(g, vt, 0, 0, k);
        gu = gu ? lg_slice(g, gu, 1, 0, k) : NULL;
        gvt = gvt ? lg_slice(g, gvt, 0, 0, k) : NULL;
    }
    if (!gu && !gvt) {
        gx[0] = lg_matmul(g, lg_mul(g, u, la_row(g, gs)), vt);
        return;
    }
    if (!check_sv(g, n->op->name, s, m > nn ? m : nn, (m > k && gu) || (nn > k && gvt)))
        return;
    lg_tensor *uhgu = gu ? lg_matmul_t(g, u, gu, true, false) : NULL;
    lg_tensor *vhgv = gvt ? lg_matmul_t(g, vt, gvt, false, true) : NULL;
    lg_tensor *gmat = la_svd_gap(g, uhgu, vhgv, s, gs);
    lg_tensor *ga;
    if (m > k && gu) {
        lg_tensor *gusinv = lg_div(g, gu, la_row(g, s));
        lg_tensor *proj = lg_sub(g, gusinv, lg_matmul(g, u, lg_matmul_t(g, u, gusinv, true,
                                                                      false)));
        ga = lg_matmul(g, lg_add(g, lg_matmul(g, u, gmat), proj), vt);
    } else if (nn > k && gvt) {
        lg_tensor *sinvgvt = lg_div(g, gvt, la_col(g, s));
        lg_tensor *proj = lg_sub(g, sinvgvt, lg_matmul(g, lg_matmul_t(g, sinvgvt, vt, false,
                                                                      true), vt));
        ga = lg_matmul(g, u, lg_add(g, lg_matmul(g, gmat, vt), proj));
    } else {
        ga = lg_matmul(g, lg_matmul(g, u, gmat), vt);
    }
    gx[0] = ga;
}
static const lg_op SVD = {"lg_svd", svd_vjp};

lg_status lg_svd(lg_graph *g, lg_tensor *a, bool full_matrices, lg_tensor **u,
                 lg_tensor **s, lg_tensor **vt)
{
    const char *name = SVD.name;
    if (u)
        *u = NULL;
    if (s)
        *s = NULL;
    if (vt)
        *vt = NULL;
    if (!lg_check_inputs(g, name, 1, &a))
        return g ? g->status : LG_ERR_ARG;
    if (!s)
        return (lg_fail(g, LG_ERR_ARG, "%s: s must not be NULL", name), g->status);
    if (!la_check_matrix(g, name, "A", a, false) || !la_check_finite(g, name, "A", a))
        return g->status;
    bool rec = g->grad_enabled && (a->flags & LG_TF_REQUIRES_GRAD);
    lg_tensor *out[3];
    lg_status st = la_svd(g, name, a, full_matrices, rec || u || vt, &out[0], &out[1], &out[2]);
    if (st != LG_OK)
        return st;
    lg_node *n = rec ? lg_record(g, &SVD, 1, &a, 3, out) : NULL;
    if (n)
        n->at.full_matrices = full_matrices;
    if (g->status != LG_OK)
        return g->status;
    if (u)
        *u = out[0];
    *s = out[1];
    if (vt)
        *vt = out[2];
    return LG_OK;
}

lg_status lg_svd_truncated(lg_graph *g, lg_tensor *a, int64_t k, lg_tensor **u,
                           lg_tensor **s, lg_tensor **vt)
{
    const char *name = "lg_svd_truncated";
    if (u)
        *u = NULL;
    if (s)
        *s = NULL;
    if (vt)
        *vt = NULL;
    if (!lg_check_inputs(g, name, 1, &a))
        return g ? g->status : LG_ERR_ARG;
    if (!u || !s || !vt)
        return (lg_fail(g, LG_ERR_ARG, "%s: u, s and vt must not be NULL", name), g->status);
    if (!la_check_matrix(g, name, "A", a, false))
        return g->status;
    int64_t kmax = a->shape[0] < a->shape[1] ? a->shape[0] : a->shape[1];
    if (k < 1 || k > kmax)
        return (lg_fail(g, LG_ERR_ARG, "%s: rank k = %lld is outside [1, %lld] for %s", name,
                        (long long)k, (long long)kmax, lg_tshape(a).s), g->status);
    lg_tensor *fu, *fs, *fvt;
    if (lg_svd(g, a, false, &fu, &fs, &fvt) != LG_OK)
        return g->status;
    lg_tensor *tu = lg_slice(g, fu, 1, 0, k), *ts = lg_slice(g, fs, 0, 0, k);
    lg_tensor *tvt = lg_slice(g, fvt, 0, 0, k);
    if (g->status != LG_OK)
        return g->status;
    *u = tu;
    *s = ts;
    *vt = tvt;
    return LG_OK;
}
