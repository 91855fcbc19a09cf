/* Symmetric eigen-decomposition (LG_LA_EIGH: syevd on the CPU, Jacobi on the reference;
 * eigenvector signs are the backend's) and its VJP through the eigenvalue-gap matrix.
 * General (non-symmetric) eig is not provided. */
#include <math.h>
#include "linalg_impl.h"

static bool check_symmetric(lg_graph *g, const char *name, const lg_tensor *a)
{
    int64_t n = a->shape[0];
    lg_linalg_args la = {.n = n, .a = a->data, .alpha = sqrt(la_eps(a->dtype))};
    int64_t at = la_run(g, name, LG_LA_ASYMMETRY, a->dtype, &la);
    if (at == LA_NO_WORK)
        return false;
    if (at > 0) {
        long long i = (at - 1) / n, j = (at - 1) % n;
        lg_fail(g, LG_ERR_NUMERIC, "%s: matrix is not symmetric: |A(%lld,%lld) - A(%lld,%lld)| "
                "= %g exceeds %g", name, i, j, j, i, la.r[1], la.r[0]);
        return false;
    }
    return true;
}

/* False (LG_ERR_NUMERIC) when two of the sorted values v (n) are within 8 n eps max|v|:
 * the eigenvector gradient is undefined there. */
static bool check_gaps(lg_graph *g, const char *name, const lg_tensor *v)
{
    int64_t n = v->numel;
    lg_linalg_args la = {.n = n, .a = v->data, .alpha = 8.0 * (double)n * la_eps(v->dtype)};
    int64_t at = la_run(g, name, LG_LA_GAPS, v->dtype, &la);
    if (at == LA_NO_WORK)
        return false;
    if (at > 0) {
        lg_fail(g, LG_ERR_NUMERIC, "%s: eigenvalues %lld and %lld are repeated (gap %g "
                "<= %g): the gradient through the eigenvectors is undefined", name,
                (long long)at - 1, (long long)at, la.r[1], la.r[0]);
        return false;
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
    out[1] = lg_graph_tensor(g, a->dtype, 2, a->shape);
    if (!out[0] || !out[1])
        return g->status;
    lg_linalg_args la = {.n = n, .a = a->data, .x = out[0]->data, .y = out[1]->data};
    int64_t info = la_run(g, name, LG_LA_EIGH, a->dtype, &la);
    if (info == LA_NO_WORK)
        return g->status;
    if (info > 0)
        return (lg_fail(g, LG_ERR_NO_CONVERGE, "%s: syevd did not converge (%d off-diagonal "
                        "elements did not reach zero)", name, (int)info), g->status);
    if (info < 0)
        return (lg_fail(g, LG_ERR_ARG, "%s: syevd rejected argument %d", name, (int)-info),
                g->status);
    lg_record(g, &EIGH, 1, &a, 2, out);
    if (g->status != LG_OK)
        return g->status;
    *vals = out[0];
    *vecs = out[1];
    return LG_OK;
}
