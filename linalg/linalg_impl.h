/* Internal: helpers shared by the linalg files (argument checks, constant masks, the
 * LU factorisation and its solve op, LAPACK dtype dispatch). Never installed.
 * LAPACK is called column-major through the LAPACKE _work routines, which then neither
 * allocate nor transpose; row-major data is handed over as its column-major transpose
 * and each routine picks the factorisation that makes that free (see each file). */
#ifndef LAGRAD_LINALG_IMPL_H
#define LAGRAD_LINALG_IMPL_H

#include <lapacke.h>
#include "lagrad/linalg.h"
#include "../autograd/ops_impl.h"

/* True when t is a 2-D matrix (square when asked) whose dimensions fit LAPACK's int;
 * sets LG_ERR_SHAPE naming `name` and `what` otherwise. */
bool la_check_matrix(lg_graph *g, const char *name, const char *what, const lg_tensor *t,
                     bool square);
/* True when every element is finite; LG_ERR_NUMERIC (naming the first bad index)
 * otherwise. */
bool la_check_finite(lg_graph *g, const char *name, const char *what, const lg_tensor *t);
/* Checks for a right-hand side: b is (n) or (n,k) for an (n,n) matrix a, same dtype,
 * finite. */
bool la_check_rhs(lg_graph *g, const char *name, const lg_tensor *a, const lg_tensor *b);

/* Arena memory for n elements of dt (at least one), NULL with LG_ERR_OOM. */
void *la_alloc(lg_graph *g, lg_dtype dt, int64_t n, const char *name);
/* A graph tensor holding a copy of t's data (no graph link). */
lg_tensor *la_copy(lg_graph *g, const lg_tensor *t);

/* Constants in the graph: the n x n identity; the triangle mask (lower or upper) with
 * `diag` on the diagonal. */
lg_tensor *la_eye(lg_graph *g, lg_dtype dt, int64_t n);
lg_tensor *la_tri_mask(lg_graph *g, lg_dtype dt, int64_t n, bool lower, double diag);

/* Differentiable helpers: the diagonal (n) of a square matrix; diag(v) (n,n) of a
 * vector; v as a row (1,n) or a column (n,1). */
lg_tensor *la_diag(lg_graph *g, lg_tensor *a);
lg_tensor *la_diag_embed(lg_graph *g, lg_tensor *v);
lg_tensor *la_row(lg_graph *g, lg_tensor *v);
lg_tensor *la_col(lg_graph *g, lg_tensor *v);

/* Workspace size from a LAPACK query (work[0]), at least 1; -1 when above INT_MAX, which
 * la_alloc refuses (LG_ERR_UNSUPPORTED). */
lapack_int la_lwork(lg_dtype dt, const void *work0);

/* LU of A (n,n), computed as getrf of A's column-major view, i.e. of Aᵀ = P L U.
 * info > 0 means U(info-1, info-1) is exactly zero (A singular). */
typedef struct la_lu {
    void *f;            /* the factors, n x n column-major */
    lapack_int *ipiv;   /* n pivots, 1-based */
    lapack_int info;
    int64_t n;
} la_lu;
la_lu *la_lu_factor(lg_graph *g, const char *name, const lg_tensor *a);
/* (d) X = op(A)⁻¹ B with lu the factorisation of a; b (n,k). `name` labels errors
 * (LG_ERR_SINGULAR when lu->info > 0). */
lg_tensor *la_lu_solve(lg_graph *g, const char *name, lg_tensor *a, const la_lu *lu,
                       lg_tensor *b, bool trans);

/* The SVD forward shared by svd, pinv, norms and rank. */
lg_status la_svd(lg_graph *g, const char *name, lg_tensor *a, bool full, bool want_uv,
                 lg_tensor **u, lg_tensor **s, lg_tensor **vt);

/* Visits (i, j) for j < i, in LA_TILE x LA_TILE tiles so that both x_ij and x_ji stay in
 * cache: LA_FOR_LOWER_TILES(n, i, j) { body }. Small tiles: with power-of-two n the rows of
 * a tile map to a few L1 sets, and 32x32 tiles thrashed them (4-7x slower at n = 256). */
#define LA_TILE 8
#define LA_FOR_LOWER_TILES(n, i, j)                                                    \
    for (int64_t i##0 = 0; i##0 < (n); i##0 += LA_TILE)                                \
        for (int64_t j##0 = 0; j##0 <= i##0; j##0 += LA_TILE)                          \
            for (int64_t i = i##0; i < (i##0 + LA_TILE < (n) ? i##0 + LA_TILE : (n)); i++) \
                for (int64_t j = j##0; j < (j##0 + LA_TILE < i ? j##0 + LA_TILE : i); j++)

/* ---- raw kernels (kernels.c), row-major, no checks ---- */
/* y (cols,rows) = xᵀ for x (rows,cols), tiled. */
void la_transpose_into(lg_dtype dt, int64_t rows, int64_t cols, const void *x, void *y);
/* y (n,n) = s · the symmetric matrix whose lower triangle is x's. */
void la_sym_from_lower_into(lg_dtype dt, int64_t n, const void *x, void *y, double s);
/* y (n,n): s(x_ij + x_ji) below the diagonal, s x_ii on it, 0 above (the adjoint of
 * la_sym_from_lower_into). */
void la_fold_lower_into(lg_dtype dt, int64_t n, const void *x, void *y, double s);
/* y's upper triangle := its lower one, in place. */
void la_mirror_lower(lg_dtype dt, int64_t n, void *y);
/* Zeroes the strict upper triangle of y (n,n) when `lower`, the strict lower otherwise. */
void la_zero_triangle(lg_dtype dt, int64_t n, void *y, bool lower);
/* max(floor, max |x_i|) over n elements (finite x). */
double la_max_abs(lg_dtype dt, int64_t n, const void *x, double floor);
/* True, with the first such (i, j), j < i, when |x_ij - x_ji| > tol for x (n,n). */
bool la_first_asymmetric(lg_dtype dt, int64_t n, const void *x, double tol, int64_t *i,
                         int64_t *j);
/* In-place inverse of a lower triangular a (n,n); LAPACK's info (> 0: zero pivot). */
lapack_int la_tri_inv_lower_inplace(lg_dtype dt, int64_t n, void *a);

/* ---- internal differentiable ops used by the VJPs (each has its own VJP, written in
 * lagrad ops, so double backward holds) ---- */
/* C = α op(A) B (left) or α B op(A) (right); A (k,k) triangular, only its `lower` (or
 * upper) triangle is read; B (k,c) or (r,k). tri_ops.c. */
lg_tensor *la_trmm(lg_graph *g, lg_tensor *a, lg_tensor *b, bool right, bool lower,
                   bool trans, double alpha);
/* A⁻¹ (n,n) of a lower triangular A (its upper triangle is not read); LG_ERR_SINGULAR on a
 * zero diagonal. tri_ops.c. */
lg_tensor *la_tri_inv(lg_graph *g, lg_tensor *a);
/* M (n,n), M_ij = s P_{max(i,j),min(i,j)}: symmetric, from P's lower triangle. sym_ops.c. */
lg_tensor *la_sym_from_lower(lg_graph *g, lg_tensor *p, double s);
/* O (n,n) = s(G_ij + G_ji) below the diagonal, s G_ii on it, 0 above: the adjoint of
 * la_sym_from_lower. sym_ops.c. */
lg_tensor *la_fold_lower(lg_graph *g, lg_tensor *x, double s);
/* Y (m,m) = V ½(S + Sᵀ) Vᵀ for V (m,k), S (k,k), by trmm and syr2k (half a GEMM's work
 * saved over two GEMMs). sym_ops.c. */
lg_tensor *la_sym_sandwich(lg_graph *g, lg_tensor *v, lg_tensor *s);
/* The eigenvalue-gap matrix of the eigh VJP in one pass: m (n,n), lam (n) ascending,
 * glam (n) or NULL:  O_ij = (m_ij - m_ji) / (2 (λj - λi)) off the diagonal, glam_i on it.
 * The caller checks the gaps. gap_ops.c. */
lg_tensor *la_eigh_gap(lg_graph *g, lg_tensor *m, lg_tensor *lam, lg_tensor *glam);
/* The singular-value-gap matrix of the SVD VJP in one pass: j, k (n,n) or NULL (zero),
 * s (n), gs (n) or NULL:
 *   O_ij = ((j_ij - j_ji) σj + σi (k_ij - k_ji)) / (σj² - σi²) off the diagonal, gs_i on it.
 * gap_ops.c. */
lg_tensor *la_svd_gap(lg_graph *g, lg_tensor *j, lg_tensor *k, lg_tensor *s, lg_tensor *gs);
/* The constant (n,n) with zeros on the diagonal and ones elsewhere. */
lg_tensor *la_offdiag_mask(lg_graph *g, lg_dtype dt, int64_t n);

static inline double la_eps(lg_dtype dt)
{
    return dt == LG_F64 ? 2.220446049250313e-16 : 1.1920928955078125e-07;
}

#endif
