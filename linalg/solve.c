/* Linear solves: LU with its internal solve op shared with inv and det, triangular
 * solve, Cholesky solve, and the inverse. Least squares lives in lstsq.c. */
#include <string.h>
#include "linalg_impl.h"

la_lu *la_lu_factor(lg_graph *g, const char *name, const lg_tensor *a)
{
    int64_t n = a->shape[0];
    la_lu *lu = lg_arena_alloc(g, sizeof *lu, name);
    void *f = lu ? la_alloc(g, a->dtype, n * n, name) : NULL;
    void *det = f ? la_alloc(g, a->dtype, 3, name) : NULL;
    int32_t *ipiv = det ? lg_arena_data(g, sizeof *ipiv * (size_t)(n ? n : 1), name) : NULL;
    if (!ipiv)
        return NULL;
    lg_linalg_args la = {.n = n, .a = a->data, .x = f, .y = det, .piv = ipiv};
    int64_t info = la_run(g, name, LG_LA_LU, a->dtype, &la);
    if (info == LA_NO_WORK)
        return NULL;
    if (info < 0) {
        lg_fail(g, LG_ERR_ARG, "%s: getrf rejected argument %d", name, (int)-info);
        return NULL;
    }
    *lu = (la_lu){f, ipiv, det, info, n};
    return lu;
}

static lg_tensor *fail_singular(lg_graph *g, const char *name, const la_lu *lu)
{
    return lg_fail(g, LG_ERR_SINGULAR, "%s: matrix is singular: U(%d,%d) of its LU "
                   "factorisation is exactly zero", name, (int)lu->info - 1, (int)lu->info - 1);
}

/* X = op(A)⁻¹ B, A (n,n), B (n,k), X (n,k)   (Giles 2008, "Collected matrix derivative
 * results", §2.3.1):
 *   trans = 0:  dB += A⁻ᵀ dX,  dA += -dB Xᵀ
 *   trans = 1:  dB += A⁻¹ dX,  dA += -X dBᵀ
 * dB is itself a solve with the saved factorisation, so it records for double backward. */
static void lu_solve_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    bool trans = n->at.trans_a;
    const la_lu *lu = n->extra;
    lg_tensor *a = n->in[0], *x = n->out[0];
    lg_tensor *db = la_lu_solve(g, n->op->name, a, lu, gy[0], !trans);
    if (lg_needs_grad(n, 1))
        gx[1] = db;
    if (lg_needs_grad(n, 0))
        gx[0] = lg_neg(g, trans ? lg_matmul_t(g, x, db, false, true)
                                : lg_matmul_t(g, db, x, false, true));
}
static const lg_op LU_SOLVE = {"lg_solve", lu_solve_vjp};
static const lg_op INV = {"lg_inv", lu_solve_vjp};

lg_tensor *la_lu_solve(lg_graph *g, const char *name, lg_tensor *a, const la_lu *lu,
                       lg_tensor *b, bool trans)
{
    lg_tensor *in[2] = {a, b};
    if (!lg_check_inputs(g, name, 2, in))
        return NULL;
    if (lu->info > 0)
        return fail_singular(g, name, lu);
    lg_tensor *x = lg_graph_tensor(g, b->dtype, 2, b->shape);
    if (!x)
        return NULL;
    lg_linalg_args la = {.n = lu->n, .k = b->shape[1], .a = lu->f, .piv = lu->ipiv,
                         .b = b->data, .x = x->data, .trans = trans};
    int64_t info = la_run(g, name, LG_LA_LU_SOLVE, b->dtype, &la);
    if (info == LA_NO_WORK)
        return NULL;
    if (info != 0)
        return lg_fail(g, LG_ERR_ARG, "%s: getrs rejected argument %d", name, (int)-info);
    bool is_inv = strcmp(name, INV.name) == 0;
    lg_node *nd = lg_record(g, is_inv ? &INV : &LU_SOLVE, 2, in, 1, &x);
    if (nd) {
        nd->at.trans_a = trans;
        nd->extra = lu;
    }
    return g->status == LG_OK ? x : NULL;
}

static lg_tensor *as_matrix(lg_graph *g, lg_tensor *b)
{
    int64_t shape[2] = {b->shape[0], 1};
    return b->ndim == 2 ? b : lg_reshape(g, b, 2, shape);
}

static lg_tensor *like_rhs(lg_graph *g, lg_tensor *x, const lg_tensor *b)
{
    return !x || b->ndim == 2 ? x : lg_reshape(g, x, 1, b->shape);
}

static bool check_square(lg_graph *g, const char *name, lg_tensor *a)
{
    return lg_check_inputs(g, name, 1, &a) && la_check_matrix(g, name, "A", a, true) &&
           la_check_finite(g, name, "A", a);
}

lg_tensor *lg_solve(lg_graph *g, lg_tensor *a, lg_tensor *b)
{
    const char *name = LU_SOLVE.name;
    lg_tensor *in[2] = {a, b};
    if (!lg_check_inputs(g, name, 2, in) || !check_square(g, name, a) ||
        !la_check_rhs(g, name, a, b))
        return NULL;
    la_lu *lu = la_lu_factor(g, name, a);
    if (!lu)
        return NULL;
    return like_rhs(g, la_lu_solve(g, name, a, lu, as_matrix(g, b), false), b);
}

lg_tensor *lg_inv(lg_graph *g, lg_tensor *a)
{
    const char *name = INV.name;
    if (!check_square(g, name, a))
        return NULL;
    la_lu *lu = la_lu_factor(g, name, a);
    lg_tensor *eye = lu ? la_eye(g, a->dtype, a->shape[0]) : NULL;
    return eye ? la_lu_solve(g, name, a, lu, eye, false) : NULL;
}

/* X = op(A)⁻¹ B, A (n,n) triangular, B (n,k):
 *   dB += op(A)⁻ᵀ dX                 (a triangular solve with the other transpose)
 *   dA += tri(-dB Xᵀ)   (trans = 0)  or  tri(-X dBᵀ)   (trans = 1)
 * where tri keeps the triangle that was read (Giles 2008 §2.3.1, restricted to it). */
static lg_tensor *tri_solve(lg_graph *g, lg_tensor *a, lg_tensor *b, bool upper, bool trans);
static void tri_solve_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    bool upper = n->at.upper, trans = n->at.trans_a;
    lg_tensor *a = n->in[0], *x = n->out[0];
    lg_tensor *db = tri_solve(g, a, gy[0], upper, !trans);
    if (lg_needs_grad(n, 1))
        gx[1] = db;
    if (lg_needs_grad(n, 0)) {
        lg_tensor *full = trans ? lg_matmul_t(g, x, db, false, true)
                                : lg_matmul_t(g, db, x, false, true);
        lg_tensor *mask = la_tri_mask(g, a->dtype, a->shape[0], !upper, 1.0);
        gx[0] = lg_neg(g, lg_mul(g, full, mask));
    }
}
static const lg_op TRI_SOLVE = {"lg_solve_triangular", tri_solve_vjp};

static lg_tensor *tri_solve(lg_graph *g, lg_tensor *a, lg_tensor *b, bool upper, bool trans)
{
    const char *name = TRI_SOLVE.name;
    lg_tensor *in[2] = {a, b};
    if (!lg_check_inputs(g, name, 2, in))
        return NULL;
    lg_tensor *x = lg_graph_tensor(g, b->dtype, 2, b->shape);
    if (!x)
        return NULL;
    lg_linalg_args la = {.n = a->shape[0], .k = b->shape[1], .a = a->data, .b = b->data,
                         .x = x->data, .upper = upper, .trans = trans};
    int64_t info = la_run(g, name, LG_LA_TRSM, a->dtype, &la);
    if (info == LA_NO_WORK)
        return NULL;
    if (info > 0)
        return lg_fail(g, LG_ERR_SINGULAR, "%s: triangular matrix is singular: A(%lld,%lld) "
                       "is zero", name, (long long)info - 1, (long long)info - 1);
    lg_node *nd = lg_record(g, &TRI_SOLVE, 2, in, 1, &x);
    if (nd) {
        nd->at.upper = upper;
        nd->at.trans_a = trans;
    }
    return g->status == LG_OK ? x : NULL;
}

lg_tensor *lg_solve_triangular(lg_graph *g, lg_tensor *a, lg_tensor *b, unsigned flags)
{
    const char *name = TRI_SOLVE.name;
    lg_tensor *in[2] = {a, b};
    if (!lg_check_inputs(g, name, 2, in) || !check_square(g, name, a) ||
        !la_check_rhs(g, name, a, b))
        return NULL;
    if (flags & ~(unsigned)(LG_TRI_UPPER | LG_TRI_TRANSPOSE))
        return lg_fail(g, LG_ERR_ARG, "%s: unknown flags 0x%x (LG_TRI_UPPER | "
                       "LG_TRI_TRANSPOSE are 0x%x)", name, flags,
                       (unsigned)(LG_TRI_UPPER | LG_TRI_TRANSPOSE));
    bool upper = flags & LG_TRI_UPPER, transpose = flags & LG_TRI_TRANSPOSE;
    return like_rhs(g, tri_solve(g, a, as_matrix(g, b), upper, transpose), b);
}

/* X = (L Lᵀ)⁻¹ B as two triangular solves, L⁻ᵀ (L⁻¹ B); the gradient comes from theirs. */
lg_tensor *lg_cholesky_solve(lg_graph *g, lg_tensor *l, lg_tensor *b)
{
    const char *name = "lg_cholesky_solve";
    lg_tensor *in[2] = {l, b};
    if (!lg_check_inputs(g, name, 2, in) || !check_square(g, name, l) ||
        !la_check_rhs(g, name, l, b))
        return NULL;
    lg_tensor *y = tri_solve(g, l, as_matrix(g, b), false, false);
    return like_rhs(g, tri_solve(g, l, y, false, true), b);
}
