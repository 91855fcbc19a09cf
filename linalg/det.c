/* Determinants from the LU factorisation: det and slogdet. Both VJPs need A⁻ᵀ, taken
 * as a solve with the saved factors (so double backward records it). */
#include "linalg_impl.h"

static la_lu *factor_checked(lg_graph *g, const char *name, lg_tensor *a)
{
    if (!lg_check_inputs(g, name, 1, &a) || !la_check_matrix(g, name, "A", a, true) ||
        !la_check_finite(g, name, "A", a))
        return NULL;
    return la_lu_factor(g, name, a);
}

/* A⁻ᵀ (n,n) from the saved factors; LG_ERR_SINGULAR for singular A. */
static lg_tensor *inv_t(lg_graph *g, const lg_node *n)
{
    lg_tensor *a = n->in[0];
    return la_lu_solve(g, n->op->name, a, n->extra, la_eye(g, a->dtype, a->shape[0]), true);
}

/* d = det(A), A (n,n), d scalar:  dA += (dd d) A⁻ᵀ   (Giles 2008 §2.1.4). */
static void det_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    gx[0] = lg_mul(g, inv_t(g, n), lg_mul(g, gy[0], n->out[0]));
}
static const lg_op DET = {"lg_det", det_vjp};

lg_tensor *lg_det(lg_graph *g, lg_tensor *a)
{
    la_lu *lu = factor_checked(g, DET.name, a);
    lg_tensor *d = lu ? lg_graph_tensor(g, a->dtype, 0, NULL) : NULL;
    if (!d)
        return NULL;
    g->be->copy_rows(a->dtype, 1, 1, lu->det, 1, d->data, 1);
    lg_node *n = lg_record(g, &DET, 1, &a, 1, &d);
    if (n)
        n->extra = lu;
    return g->status == LG_OK ? d : NULL;
}

/* (sign, l = log|det A|):  dA += dl A⁻ᵀ; sign is piecewise constant (no gradient). */
static void slogdet_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    if (gy[1])
        gx[0] = lg_mul(g, inv_t(g, n), gy[1]);
}
static const lg_op SLOGDET = {"lg_slogdet", slogdet_vjp};

lg_status lg_slogdet(lg_graph *g, lg_tensor *a, lg_tensor **sign, lg_tensor **logabsdet)
{
    if (!sign || !logabsdet) {
        if (g)
            lg_fail(g, LG_ERR_ARG, "lg_slogdet: sign and logabsdet must not be NULL");
        return g ? g->status : LG_ERR_ARG;
    }
    *sign = *logabsdet = NULL;
    la_lu *lu = factor_checked(g, SLOGDET.name, a);
    lg_tensor *out[2] = {lu ? lg_graph_tensor(g, a->dtype, 0, NULL) : NULL, NULL};
    out[1] = out[0] ? lg_graph_tensor(g, a->dtype, 0, NULL) : NULL;
    if (!out[1])
        return g ? g->status : LG_ERR_ARG;
    /* the LU's det, sign, log|det| */
    size_t es = lg_dtype_size(a->dtype);
    g->be->copy_rows(a->dtype, 1, 1, (char *)lu->det + es, 1, out[0]->data, 1);
    g->be->copy_rows(a->dtype, 1, 1, (char *)lu->det + 2 * es, 1, out[1]->data, 1);
    lg_node *n = lg_record(g, &SLOGDET, 1, &a, 2, out);
    if (n)
        n->extra = lu;
    if (g->status != LG_OK)
        return g->status;
    *sign = out[0];
    *logabsdet = out[1];
    return LG_OK;
}
