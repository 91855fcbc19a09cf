/* Internal differentiable triangular ops for the VJPs: the triangular matrix product
 * (trmm) and the triangular inverse. Triangular solves are lg_solve_triangular (solve.c);
 * these exist because OpenBLAS's trmm runs 2-3x faster than its trsm at the sizes the
 * Cholesky VJP sees, so L⁻¹ once plus products beats two solves. */
#include "linalg_impl.h"

/* C = α op(A) B (left) or α B op(A) (right), attributes i = {right, lower, trans},
 * f[0] = α. With T = the kept triangle:
 *   left:   dB += α op(A)ᵀ dC,   dA += T(α dC Bᵀ)   (or T(α B dCᵀ) when trans)
 *   right:  dB += α dC op(A)ᵀ,   dA += T(α Bᵀ dC)   (or T(α dCᵀ B) when trans) */
static void trmm_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    bool right = n->at.right, lower = n->at.lower, trans = n->at.trans_a;
    double alpha = n->at.p;
    lg_tensor *a = n->in[0], *b = n->in[1], *gc = gy[0];
    if (lg_needs_grad(n, 1))
        gx[1] = la_trmm(g, a, gc, right, lower, !trans, alpha);
    if (lg_needs_grad(n, 0)) {
        lg_tensor *full = right ? (trans ? lg_matmul_t(g, gc, b, true, false)
                                         : lg_matmul_t(g, b, gc, true, false))
                                : (trans ? lg_matmul_t(g, b, gc, false, true)
                                         : lg_matmul_t(g, gc, b, false, true));
        lg_tensor *mask = la_tri_mask(g, a->dtype, a->shape[0], lower, 1.0);
        gx[0] = lg_scale(g, lg_mul(g, full, mask), alpha);
    }
}
static const lg_op TRMM = {"la_trmm", trmm_vjp};

lg_tensor *la_trmm(lg_graph *g, lg_tensor *a, lg_tensor *b, bool right, bool lower,
                   bool trans, double alpha)
{
    const char *name = TRMM.name;
    lg_tensor *in[2] = {a, b};
    if (!lg_check_inputs(g, name, 2, in) || !lg_check_same_dtype(g, name, 2, in))
        return NULL;
    if (a->ndim != 2 || b->ndim != 2 || a->shape[0] != a->shape[1] ||
        a->shape[0] != b->shape[right ? 1 : 0])
        return lg_fail(g, LG_ERR_SHAPE, "%s: A %s (square) does not fit B %s on the %s", name,
                       lg_tshape(a).s, lg_tshape(b).s, right ? "right" : "left");
    lg_tensor *c = lg_graph_tensor(g, b->dtype, 2, b->shape);
    if (!c)
        return NULL;
    lg_linalg_args la = {.m = b->shape[0], .n = b->shape[1], .k = a->shape[0], .a = a->data,
                         .b = b->data, .x = c->data, .right = right, .upper = !lower,
                         .trans = trans, .alpha = alpha};
    if (la_run(g, name, LG_LA_TRMM, a->dtype, &la) == LA_NO_WORK)
        return NULL;
    lg_node *nd = lg_record(g, &TRMM, 2, in, 1, &c);
    if (nd) {
        nd->at.right = right;
        nd->at.lower = lower;
        nd->at.trans_a = trans;
        nd->at.p = alpha;
    }
    return g->status == LG_OK ? c : NULL;
}

/* X = A⁻¹, A lower triangular: dX = -X dA X, so dA += -T(Xᵀ dX Xᵀ), T the lower
 * triangle (Giles 2008 §2.2.3, restricted to the triangle that was read). */
static void tri_inv_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    lg_tensor *x = n->out[0];
    lg_tensor *xt_gx_xt = la_trmm(g, x, la_trmm(g, x, gy[0], true, true, true, 1.0), false,
                                  true, true, -1.0);
    gx[0] = lg_mul(g, xt_gx_xt, la_tri_mask(g, x->dtype, x->shape[0], true, 1.0));
}
static const lg_op TRI_INV = {"la_tri_inv", tri_inv_vjp};

lg_tensor *la_tri_inv(lg_graph *g, lg_tensor *a)
{
    const char *name = TRI_INV.name;
    if (!lg_check_inputs(g, name, 1, &a) || !la_check_matrix(g, name, "A", a, true))
        return NULL;
    lg_tensor *x = lg_graph_tensor(g, a->dtype, 2, a->shape);
    if (!x)
        return NULL;
    lg_linalg_args la = {.n = a->shape[0], .a = a->data, .x = x->data};
    int64_t info = la_run(g, name, LG_LA_TRI_INV, a->dtype, &la);
    if (info == LA_NO_WORK)
        return NULL;
    if (info > 0)
        return lg_fail(g, LG_ERR_SINGULAR, "%s: triangular matrix %s is singular: A(%d,%d) is "
                       "zero", name, lg_tshape(a).s, (int)info - 1, (int)info - 1);
    if (info < 0)
        return lg_fail(g, LG_ERR_ARG, "%s: trtri rejected argument %d", name, (int)-info);
    lg_record(g, &TRI_INV, 1, &a, 1, &x);
    return g->status == LG_OK ? x : NULL;
}
