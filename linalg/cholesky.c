/* Cholesky factorisation (potrf) and its VJP (Murray 2016). Solving with the factor is
 * lg_cholesky_solve in solve.c. */
#include "linalg_impl.h"

/* A = L Lᵀ, A (n,n), L (n,n) lower. Murray 2016, "Differentiation of the Cholesky
 * decomposition", eq. 10, in PyTorch's symmetrised form (cholesky_backward):
 *   P = Lᵀ dL,  T = Φ(P) (lower triangle, diagonal halved),  M = ½(T + Tᵀ)
 *   dA += L⁻ᵀ M L⁻¹                 (symmetric)
 * M_ij = ½ P_max(i,j),min(i,j) is one pass (la_sym_from_lower). Only dL's lower triangle
 * reaches Φ(P), since L is lower, so P is a trmm. L⁻ᵀ M L⁻¹ is L⁻¹ (recursive, in trmm)
 * and two trmms: OpenBLAS's trmm runs at GEMM speed, its trsm at about a third of it.
 * Needs L invertible, which potrf guarantees. */
static void cholesky_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    lg_tensor *l = n->out[0];
    lg_tensor *m = la_sym_from_lower(g, la_trmm(g, l, gy[0], false, true, true, 1.0), 0.5);
    lg_tensor *linv = la_tri_inv(g, l);
    lg_tensor *m_linv = la_trmm(g, linv, m, true, true, false, 1.0);    /* M L⁻¹ */
    gx[0] = la_trmm(g, linv, m_linv, false, true, true, 1.0);            /* L⁻ᵀ M L⁻¹ */
}
static const lg_op CHOLESKY = {"lg_cholesky", cholesky_vjp};

lg_tensor *lg_cholesky(lg_graph *g, lg_tensor *a)
{
    const char *name = CHOLESKY.name;
    if (!lg_check_inputs(g, name, 1, &a) || !la_check_matrix(g, name, "A", a, true) ||
        !la_check_finite(g, name, "A", a))
        return NULL;
    lg_tensor *l = lg_graph_tensor(g, a->dtype, 2, a->shape);
    if (!l)
        return NULL;
    lg_linalg_args la = {.n = a->shape[0], .a = a->data, .x = l->data};
    int64_t info = la_run(g, name, LG_LA_CHOLESKY, a->dtype, &la);
    if (info == LA_NO_WORK)
        return NULL;
    if (info > 0)
        return lg_fail(g, LG_ERR_NOT_SPD, "%s: matrix is not positive definite: its leading "
                       "minor of order %d (rows and columns 0 to %d) is not positive", name,
                       (int)info, (int)info - 1);
    if (info < 0)
        return lg_fail(g, LG_ERR_ARG, "%s: potrf rejected argument %d", name, (int)-info);
    lg_record(g, &CHOLESKY, 1, &a, 1, &l);
    return g->status == LG_OK ? l : NULL;
}
