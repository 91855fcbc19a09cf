/* Linear solves: LU (getrf/getrs) with its internal solve op shared with inv and det,
 * triangular solve (trsm), Cholesky solve, and the inverse. Least squares lives in
 * lstsq.c. */
#include <cblas.h>
#include <string.h>
#include "linalg_impl.h"

#define LDA(n) ((lapack_int)((n) > 0 ? (n) : 1))

la_lu *la_lu_factor(lg_graph *g, const char *name, const lg_tensor *a)
{
    int64_t n = a->shape[0];
    la_lu *lu = lg_arena_alloc(g, sizeof *lu, name);
    void *f = lu ? la_alloc(g, a->dtype, n * n, name) : NULL;
    lapack_int *ipiv = f ? lg_arena_alloc(g, sizeof *ipiv * (size_t)(n ? n : 1), name) : NULL;
    if (!ipiv)
        return NULL;
    memcpy(f, a->data, (size_t)(n * n) * lg_dtype_size(a->dtype));
    /* The column-major view of row-major A is Aᵀ: this factors Aᵀ = P L U. */
    lu->info = a->dtype == LG_F64
                   ? LAPACKE_dgetrf_work(LAPACK_COL_MAJOR, (lapack_int)n, (lapack_int)n, f,
                                         LDA(n), ipiv)
                   : LAPACKE_sgetrf_work(LAPACK_COL_MAJOR, (lapack_int)n, (lapack_int)n, f,
                                         LDA(n), ipiv);
    lu->f = f;
    lu->ipiv = ipiv;
    lu->n = n;
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
    int64_t n = lu->n, k = b->shape[1];
    lg_tensor *x = lg_graph_tensor(g, b->dtype, 2, b->shape);
    /* getrs wants B column-major: (k,n) row-major is that, and for k = 1 it is B itself,
     * solved in place in x. The factors are of Aᵀ, so A X = B is the transposed solve. */
    void *buf = k == 1 ? (x ? x->data : NULL) : la_alloc(g, b->dtype, n * k, name);
    if (!x || !buf)
        return NULL;
    if (k == 1)
        memcpy(buf, b->data, (size_t)n * lg_dtype_size(b->dtype));
    else
        la_transpose_into(b->dtype, n, k, b->data, buf);
    char tr = trans ? 'N' : 'T';
    lapack_int info =
        b->dtype == LG_F64
            ? LAPACKE_dgetrs_work(LAPACK_COL_MAJOR, tr, (lapack_int)n, (lapack_int)k, lu->f,
                                  LDA(n), lu->ipiv, buf, LDA(n))
            : LAPACKE_sgetrs_work(LAPACK_COL_MAJOR, tr, (lapack_int)n, (lapack_int)k, lu->f,
                                  LDA(n), lu->ipiv, buf, LDA(n));
    if (info != 0)
        return lg_fail(g, LG_ERR_ARG, "%s: getrs rejected argument %d", name, (int)-info);
    if (k != 1)
        la_transpose_into(b->dtype, k, n, buf, x->data);
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
    int64_t n = a->shape[0], k = b->shape[1];
    for (int64_t i = 0; i < n; i++)
        if (lg_load(a->data, a->dtype, i * n + i) == 0.0)
            return lg_fail(g, LG_ERR_SINGULAR, "%s: triangular matrix is singular: A(%lld,%lld) "
                           "is zero", name, (long long)i, (long long)i);
    lg_tensor *x = la_copy(g, b);
    if (!x)
        return NULL;
    if (n * k > 0) {
        CBLAS_UPLO ul = upper ? CblasUpper : CblasLower;
        CBLAS_TRANSPOSE tr = trans ? CblasTrans : CblasNoTrans;
        if (a->dtype == LG_F64)
            cblas_dtrsm(CblasRowMajor, CblasLeft, ul, tr, CblasNonUnit, (int)n, (int)k, 1.0,
                        a->data, (int)n, x->data, (int)k);
        else
            cblas_strsm(CblasRowMajor, CblasLeft, ul, tr, CblasNonUnit, (int)n, (int)k, 1.0f,
                        a->data, (int)n, x->data, (int)k);
    }
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
