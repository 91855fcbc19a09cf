/* Symmetric eigen-decomposition (syevd) and its VJP through the eigenvalue-gap matrix.
 * General (non-symmetric) eig is not provided. */
#include <math.h>
#include "linalg_impl.h"

static bool check_symmetric(lg_graph *g, const char *name, const lg_tensor *a)
{
    int64_t n = a->shape[0], i, j;
    double tol = sqrt(la_eps(a->dtype)) * la_max_abs(a->dtype, a->numel, a->data, 1.0);
    if (la_first_asymmetric(a->dtype, n, a->data, tol, &i, &j)) {
        double d = fabs(lg_load(a->data, a->dtype, i * n + j) -
                        lg_load(a->data, a->dtype, j * n + i));
        lg_fail(g, LG_ERR_NUMERIC, "%s: matrix is not symmetric: |A(%lld,%lld) - A(%lld,%lld)| "
                "= %g exceeds %g", name, (long long)i, (long long)j, (long long)j,
                (long long)i, d, tol);
        return false;
    }
    return true;
}

/* False (LG_ERR_NUMERIC) when two of the sorted values v (n) are within 8 n eps max|v|:
 * the eigenvector gradient is undefined there. */
static bool check_gaps(lg_graph *g, const char *name, const lg_tensor *v)
{
    int64_t n = v->numel;
    double scale = 0;
    for (int64_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(lg_load(v->data, v->dtype, i)));
    double tol = 8.0 * (double)n * la_eps(v->dtype) * scale;
    for (int64_t i = 0; i + 1 < n; i++) {
        double gap = fabs(lg_load(v->data, v->dtype, i + 1) - lg_load(v->data, v->dtype, i));
        if (gap <= tol) {
            lg_fail(g, LG_ERR_NUMERIC, "%s: eigenvalues %lld and %lld are repeated (gap %g "
                    "<= %g): the gradient through the eigenvectors is undefined", name,
                    (long long)i, (long long)i + 1, gap, tol);
            return false;
        }
    }
    return true;
}

/* A = V diag(λ) Vᵀ, A (n,n), λ (n), V (n,n). As PyTorch's linalg_eig_backward for
 * Hermitian input (also Giles 2008 §3.1, Magnus & Neudecker):
 *   K = ½(Vᵀ dV - dVᵀ V)   (skew part; the symmetric part is not a valid direction)
 *   F = K / E,  E_ij = λj - λi for i != j (diagonal of E set to 1; K's is 0)
 *   dA += V (F + diag(dλ)) Vᵀ
 * Without dV this is V diag(dλ) Vᵀ, defined for repeated eigenvalues too. F + diag(dλ)
 * is symmetric (K and E are both antisymmetric): la_eigh_gap builds it in one pass and
 * la_sym_sandwich applies V · Vᵀ with a trmm and a syr2k instead of two GEMMs. */
static void eigh_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    lg_tensor *lam = n->out[0], *v = n->out[1];
    if (!gy[1]) {
        gx[0] = lg_matmul_t(g, lg_mul(g, v, la_row(g, gy[0])), v, false, true);
        return;
    }
    if (!check_gaps(g, n->op->name, lam))
        return;
    lg_tensor *m = lg_matmul_t(g, v, gy[1], true, false);
    gx[0] = la_sym_sandwich(g, v, la_eigh_gap(g, m, lam, gy[0]));
}
static const lg_op EIGH = {"lg_eigh", eigh_vjp};

static lapack_int syevd(lg_dtype dt, int64_t n, void *a, void *w, void *work, lapack_int lwork,
                        lapack_int *iwork, lapack_int liwork)
{
    lapack_int ld = (lapack_int)(n > 0 ? n : 1);
    /* Column-major, row-major A reads as Aᵀ = A; its 'U' triangle is A's lower one. */
    return dt == LG_F64 ? LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, 'V', 'U', (lapack_int)n, a, ld,
                                              w, work, lwork, iwork, liwork)
                        : LAPACKE_ssyevd_work(LAPACK_COL_MAJOR, 'V', 'U', (lapack_int)n, a, ld,
                                              w, work, lwork, iwork, liwork);
}

lg_status lg_eigh(lg_graph *g, lg_tensor *a, lg_tensor **vals, lg_tensor **vecs)
{
    const char *name = EIGH.name;
    if (vals)
        *vals = NULL;
    if (vecs)
        *vecs = NULL;
    if (!lg_check_inputs(g, name, 1, &a))
        return g ? g->status : LG_ERR_ARG;
    if (!vals || !vecs)
        return (lg_fail(g, LG_ERR_ARG, "%s: vals and vecs must not be NULL", name), g->status);
    if (!la_check_matrix(g, name, "A", a, true) || !la_check_finite(g, name, "A", a) ||
        !check_symmetric(g, name, a))
        return g->status;
    int64_t n = a->shape[0];
    lg_tensor *out[2] = {lg_graph_tensor(g, a->dtype, 1, &n), NULL};
    lg_tensor *buf = la_copy(g, a);
    out[1] = lg_graph_tensor(g, a->dtype, 2, a->shape);
    if (!out[0] || !buf || !out[1])
        return g->status;
    double wq[1];
    lapack_int iq[1];
    lapack_int info = syevd(a->dtype, n, buf->data, out[0]->data, wq, -1, iq, -1);
    lapack_int lwork = la_lwork(a->dtype, wq), liwork = iq[0] > 0 ? iq[0] : 1;
    void *work = la_alloc(g, a->dtype, lwork, name);
    lapack_int *iwork = lg_arena_alloc(g, sizeof *iwork * (size_t)liwork, name);
    if (!work || !iwork)
        return g->status;
    if (info == 0)
        info = syevd(a->dtype, n, buf->data, out[0]->data, work, lwork, iwork, liwork);
    if (info > 0)
        return (lg_fail(g, LG_ERR_NO_CONVERGE, "%s: syevd did not converge (%d off-diagonal "
                        "elements did not reach zero)", name, (int)info), g->status);
    if (info < 0)
        return (lg_fail(g, LG_ERR_ARG, "%s: syevd rejected argument %d", name, (int)-info),
                g->status);
    /* The eigenvectors are buf's columns in column-major order, i.e. its rows as stored. */
    la_transpose_into(a->dtype, n, n, buf->data, out[1]->data);
    lg_record(g, &EIGH, 1, &a, 2, out);
    if (g->status != LG_OK)
        return g->status;
    *vals = out[0];
    *vecs = out[1];
    return LG_OK;
}
