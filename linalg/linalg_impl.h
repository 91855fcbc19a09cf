/* Internal: helpers shared by the linalg files (argument checks, constant masks, the
 * LU factorisation and its solve op, the call into the backend). Never installed.
 * The numbers are crunched behind the backend table (the `linalg` and `tri_map` entries,
 * backend/backend_impl.h): the CPU's are LAPACK's, the reference's textbook loops. */
#ifndef LAGRAD_LINALG_IMPL_H
#define LAGRAD_LINALG_IMPL_H

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
/* Runs one linalg kind on g's backend (batch 1 unless set), its workspace from the arena.
 * Returns the entry's info; LA_NO_WORK when no workspace could be had (the graph's error
 * is then set: LG_ERR_OOM, or LG_ERR_UNSUPPORTED for one LAPACK cannot address). */
#define LA_NO_WORK INT64_MIN
int64_t la_run(lg_graph *g, const char *name, lg_linalg_kind k, lg_dtype dt,
               lg_linalg_args *a);
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

/* LU of A (n,n) by the backend (LG_LA_LU): factors in its own layout, pivots, det A,
 * its sign and log|det A|. info > 0 means pivot info-1 is exactly zero (A singular). */
typedef struct la_lu {
    void *f;            /* the factors, n x n */
    int32_t *ipiv;      /* n pivots */
    void *det;          /* 3 of dt: det, sign, log|det| */
    int64_t info;
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
