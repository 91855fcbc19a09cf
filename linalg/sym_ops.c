/* Internal differentiable ops on symmetric matrices for the VJPs: the symmetric fill from
 * a lower triangle, its adjoint (the fold onto the lower triangle), and the congruence
 * V S Vᵀ of a symmetric S. Each replaces several full (n,n) passes (mask, transpose, add,
 * scale) with one. */
#include "linalg_impl.h"

static bool check_square(lg_graph *g, const char *name, lg_tensor *x)
{
    return lg_check_inputs(g, name, 1, &x) && la_check_matrix(g, name, "X", x, true);
}

/* M = s sym(tril(P)) and O = s fold(X) are each other's adjoints (f[0] = s). */
static void sym_from_lower_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy,
                               lg_tensor **gx)
{
    gx[0] = la_fold_lower(g, gy[0], n->at.p);
}
static void fold_lower_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy,
                           lg_tensor **gx)
{
    gx[0] = la_sym_from_lower(g, gy[0], n->at.p);
}
static const lg_op SYM_FROM_LOWER = {"la_sym_from_lower", sym_from_lower_vjp};
static const lg_op FOLD_LOWER = {"la_fold_lower", fold_lower_vjp};

static lg_tensor *tri_map(lg_graph *g, const lg_op *op, lg_tensor *x, double s)
{
    if (!check_square(g, op->name, x))
        return NULL;
    lg_tensor *y = lg_graph_tensor(g, x->dtype, 2, x->shape);
    if (!y)
        return NULL;
    const void *in[1] = {x->data};
    if (x->numel > 0)
        g->be->tri_map(op == &SYM_FROM_LOWER ? LG_TRI_SYM_FROM_LOWER : LG_TRI_FOLD_LOWER,
                       x->dtype, 1, x->shape[0], in, y->data, &s);
    lg_node *nd = lg_record(g, op, 1, &x, 1, &y);
    if (nd)
        nd->at.p = s;
    return g->status == LG_OK ? y : NULL;
}

lg_tensor *la_sym_from_lower(lg_graph *g, lg_tensor *p, double s)
{
    return tri_map(g, &SYM_FROM_LOWER, p, s);
}

lg_tensor *la_fold_lower(lg_graph *g, lg_tensor *x, double s)
{
    return tri_map(g, &FOLD_LOWER, x, s);
}

/* Y = V Ŝ Vᵀ with Ŝ = ½(S + Sᵀ), V (m,k), S (k,k), Y (m,m):
 *   dV += (dY + dYᵀ) V Ŝ,   dS += Vᵀ ½(dY + dYᵀ) V   (itself a sandwich, by Vᵀ) */
static void sym_sandwich_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy,
                             lg_tensor **gx)
{
    lg_tensor *v = n->in[0], *s = n->in[1];
    if (lg_needs_grad(n, 1))
        gx[1] = la_sym_sandwich(g, lg_transpose(g, v), gy[0]);
    if (lg_needs_grad(n, 0)) {
        lg_tensor *gsym = lg_add(g, gy[0], lg_transpose(g, gy[0]));
        lg_tensor *shat = lg_scale(g, lg_add(g, s, lg_transpose(g, s)), 0.5);
        gx[0] = lg_matmul(g, lg_matmul(g, gsym, v), shat);
    }
}
static const lg_op SYM_SANDWICH = {"la_sym_sandwich", sym_sandwich_vjp};

/* With Ŝ = Sl + Slᵀ (Sl its lower triangle, diagonal halved), V Ŝ Vᵀ = W Vᵀ + V Wᵀ for
 * W = V Sl: one trmm and one syr2k, whose lower triangle is mirrored. */
lg_tensor *la_sym_sandwich(lg_graph *g, lg_tensor *v, lg_tensor *s)
{
    const char *name = SYM_SANDWICH.name;
    lg_tensor *in[2] = {v, s};
    if (!lg_check_inputs(g, name, 2, in) || !lg_check_same_dtype(g, name, 2, in) ||
        !la_check_matrix(g, name, "V", v, false) || !la_check_matrix(g, name, "S", s, true))
        return NULL;
    int64_t m = v->shape[0], k = v->shape[1];
    if (s->shape[0] != k)
        return lg_fail(g, LG_ERR_SHAPE, "%s: S %s does not fit V %s", name, lg_tshape(s).s,
                       lg_tshape(v).s);
    int64_t ys[2] = {m, m};
    lg_tensor *y = lg_graph_tensor(g, v->dtype, 2, ys);
    if (!y)
        return NULL;
    lg_linalg_args la = {.m = m, .k = k, .a = v->data, .b = s->data, .x = y->data};
    if (la_run(g, name, LG_LA_SYM_SANDWICH, v->dtype, &la) == LA_NO_WORK)
        return NULL;
    lg_record(g, &SYM_SANDWICH, 2, in, 1, &y);
    return g->status == LG_OK ? y : NULL;
}
