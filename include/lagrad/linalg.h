/* lagrad linalg: linear algebra on LAPACK(E) as graph ops, float32 and float64.
 * Matrices are contiguous row-major 2-D tensors (no batching). Every result belongs to g
 * (like any op result) and lives until lg_graph_reset. Ops marked (d) have a VJP written
 * with lagrad ops, so gradients of gradients work too.
 *
 * Errors, kept on g as for every op (lg_graph_status / lg_graph_errmsg):
 *   LG_ERR_SHAPE   not a matrix, not square where square is needed, A/B shapes differ;
 *   LG_ERR_DTYPE   inputs of different dtypes;
 *   LG_ERR_NUMERIC NaN or Inf anywhere in an input, not symmetric (eigh), or a gradient
 *                  that is undefined (see eigh/svd);
 *   LG_ERR_NOT_SPD, LG_ERR_SINGULAR, LG_ERR_NO_CONVERGE from LAPACK's info > 0, with
 *                  the failing index in the message (0-based).
 * LAPACK workspace comes from the graph's arena: after a first step, a step that runs the
 * same ops allocates nothing.
 *
 * NaN policy, one rule for every function here: an input holding NaN or Inf anywhere is
 * refused with LG_ERR_NUMERIC, and the message gives the flat index and the value. This
 * holds for the LAPACK-backed functions (whose results on such input are undefined) and
 * for the ones lagrad computes itself (vector norms, Frobenius, trace, cosine), so a
 * NaN off the diagonal is refused by lg_trace too. The elementwise ops of ops.h, by
 * contrast, propagate NaN as IEEE arithmetic does. */
#ifndef LAGRAD_LINALG_H
#define LAGRAD_LINALG_H

#include "ops.h"

#ifdef __cplusplus
extern "C" {
#endif
/* The library is built with hidden visibility: what this header declares is its ABI. */
#pragma GCC visibility push(default)

/* ---- solving ---- */

/* (d) X = A⁻¹ B by LU with partial pivoting (getrf/getrs). A (n,n); B (n) or (n,k);
 * X has B's shape. LG_ERR_SINGULAR when U(i,i) is exactly zero (i in the message).
 * Gradient (Giles 2008): dB = A⁻ᵀ dX, dA = -dB Xᵀ. */
lg_tensor *lg_solve(lg_graph *g, lg_tensor *a, lg_tensor *b);

/* Flags of lg_solve_triangular, or-ed together. */
enum {
    LG_TRI_LOWER = 0,     /* A is lower triangular (the default) */
    LG_TRI_UPPER = 1,     /* A is upper triangular */
    LG_TRI_TRANSPOSE = 2  /* solve Aᵀ X = B */
};

/* (d) X = op(A)⁻¹ B for triangular A (n,n), B (n) or (n,k); flags from LG_TRI_*: op(A)
 * = Aᵀ with LG_TRI_TRANSPOSE. Reads only the lower (upper with LG_TRI_UPPER) triangle of
 * A, diagonal included. LG_ERR_SINGULAR when a diagonal entry is exactly zero;
 * LG_ERR_ARG for other flag bits. */
lg_tensor *lg_solve_triangular(lg_graph *g, lg_tensor *a, lg_tensor *b, unsigned flags);

/* (d) X = (L Lᵀ)⁻¹ B given the lower Cholesky factor L (n,n); B (n) or (n,k). */
lg_tensor *lg_cholesky_solve(lg_graph *g, lg_tensor *l, lg_tensor *b);

/* (d) A⁻¹ for A (n,n), by LU. LG_ERR_SINGULAR when A is exactly singular. */
lg_tensor *lg_inv(lg_graph *g, lg_tensor *a);

/* ---- factorisations ---- */

/* (d) Lower L (n,n) with A = L Lᵀ (potrf). Reads only A's lower triangle; the gradient
 * is symmetrised (as PyTorch). LG_ERR_NOT_SPD names the leading minor that is not
 * positive definite. Gradient: Murray 2016. */
lg_tensor *lg_cholesky(lg_graph *g, lg_tensor *a);

/* (d) Eigen-decomposition of symmetric A (n,n) (syevd): *vals (n) ascending, *vecs (n,n)
 * with eigenvectors as columns, A = V diag(vals) Vᵀ. A must be symmetric to
 * |a_ij - a_ji| <= sqrt(eps) max(1, max|a|) (LG_ERR_NUMERIC otherwise); only the lower
 * triangle is read. Both outputs are set to NULL on error.
 * Gradient: through vals alone it is V diag(dvals) Vᵀ, defined everywhere. Through vecs
 * it divides by eigenvalue gaps, so backward fails with LG_ERR_NUMERIC when two
 * eigenvalues lie within 8 n eps max|λ| of each other (the gradient is undefined
 * there). Only losses invariant to the sign of each eigenvector have a gradient. */
lg_status lg_eigh(lg_graph *g, lg_tensor *a, lg_tensor **vals, lg_tensor **vecs);

/* (d) A = U diag(S) Vᵀ for A (m,n), k = min(m,n) (gesdd, falling back to gesvd):
 * *s (k) descending; reduced: *u (m,k), *vt (k,n); full_matrices: *u (m,m), *vt (n,n).
 * u or vt may be NULL when not wanted (s may not). LG_ERR_NO_CONVERGE when both LAPACK
 * routines fail. Gradient (as PyTorch/JAX): through S alone U diag(dS) Vᵀ, defined
 * everywhere. Through U or Vᵀ it is defined for losses invariant to the sign of each
 * singular pair (e.g. functions of U diag(S) Vᵀ); it divides by σi² - σj² (and by σi
 * when m != n), so backward fails with LG_ERR_NUMERIC for repeated (within
 * 8 max(m,n) eps σmax) or, for non-square A, zero singular values. With full_matrices
 * the gradient ignores the extra columns of U and rows of Vᵀ (as PyTorch). */
lg_status lg_svd(lg_graph *g, lg_tensor *a, bool full_matrices, lg_tensor **u,
                 lg_tensor **s, lg_tensor **vt);

/* (d) Rank-k truncated SVD: the first k singular triplets, *u (m,k), *s (k), *vt (k,n),
 * 1 <= k <= min(m,n) (LG_ERR_ARG otherwise). Gradients as lg_svd. */
lg_status lg_svd_truncated(lg_graph *g, lg_tensor *a, int64_t k, lg_tensor **u,
                           lg_tensor **s, lg_tensor **vt);

/* (d) Reduced QR of A (m,n), k = min(m,n): *q (m,k) with orthonormal columns, *r (k,n)
 * upper triangular (LAPACK's signs: R's diagonal may be negative). The gradient needs
 * A of full rank (R's leading k x k block invertible). */
lg_status lg_qr(lg_graph *g, lg_tensor *a, lg_tensor **q, lg_tensor **r);

/* LU with partial pivoting of A (m,n), k = min(m,n): A = P L U with *p (m,m) a
 * permutation matrix, *l (m,k) unit lower, *u (k,n) upper. Not differentiable: the
 * outputs are constants. Singular A is fine here (U has a zero on its diagonal). */
lg_status lg_lu(lg_graph *g, lg_tensor *a, lg_tensor **p, lg_tensor **l, lg_tensor **u);

/* ---- determinants, inverses ---- */

/* (d) det(A), a scalar, for A (n,n); 0 for singular A. The gradient dA = dDet det A⁻ᵀ
 * (Giles 2008) needs A⁻¹: backward fails with LG_ERR_SINGULAR at an exactly singular A. */
lg_tensor *lg_det(lg_graph *g, lg_tensor *a);

/* (d) sign(det A) and log|det A| as scalars; sign 0 and log|det| -inf for singular A.
 * Gradient through log|det|: A⁻ᵀ (LG_ERR_SINGULAR at singular A); sign has none. */
lg_status lg_slogdet(lg_graph *g, lg_tensor *a, lg_tensor **sign, lg_tensor **logabsdet);

/* (d) Moore-Penrose pseudo-inverse (n,m) of A (m,n) via SVD: singular values at most
 * rcond σmax count as zero. rcond < 0 picks the default max(m,n) eps (NumPy, PyTorch).
 * Gradient (Golub & Pereyra 1973) valid where the rank does not change:
 * dA = -Xᵀ dX Xᵀ + (I - A X) dXᵀ X Xᵀ + Xᵀ X dXᵀ (I - X A), X = A⁺. */
lg_tensor *lg_pinv(lg_graph *g, lg_tensor *a, double rcond);

/* Least squares min ‖A X - B‖ by SVD (gelsd), A (m,n), B (m) or (m,k). Not
 * differentiable (the results are constants; use lg_pinv or lg_solve for gradients).
 * solution: X (n) or (n,k). residuals: squared residual norm per column, (k) or (1) for
 * vector B, when m > n and rank == n, else a size-0 tensor (NumPy's rule). rank: the
 * effective rank. sv: A's singular values (min(m,n)), descending. Singular values at most
 * rcond σmax count as zero; rcond < 0 picks max(m,n) eps. */
typedef struct lg_lstsq_result {
    lg_tensor *solution;
    lg_tensor *residuals;
    lg_tensor *sv;
    int64_t rank;
} lg_lstsq_result;
lg_status lg_lstsq(lg_graph *g, lg_tensor *a, lg_tensor *b, double rcond, lg_lstsq_result *out);

/* ---- norms and friends (all reduce to a rank-0 scalar unless said otherwise) ---- */

/* Vector norms over all elements of x (any shape). L0 counts non-zeros (a constant,
 * not differentiable). (d) L1 = Σ|x| (gradient sign(x), 0 at 0); (d) L2 = sqrt(Σx²)
 * (gradient x/‖x‖, 0 at x = 0); (d) L∞ = max|x| (gradient to the first maximum). */
lg_tensor *lg_norm_l0(lg_graph *g, lg_tensor *x);
lg_tensor *lg_norm_l1(lg_graph *g, lg_tensor *x);
lg_tensor *lg_norm_l2(lg_graph *g, lg_tensor *x);
lg_tensor *lg_norm_linf(lg_graph *g, lg_tensor *x);

/* Matrix norms of A (m,n). (d) Frobenius sqrt(Σ a²); (d) spectral σmax; (d) nuclear Σσ.
 * Spectral and nuclear go through lg_svd (gradient through S only: defined everywhere
 * except where σmax repeats, where it picks one singular pair). */
lg_tensor *lg_norm_fro(lg_graph *g, lg_tensor *a);
lg_tensor *lg_norm_spectral(lg_graph *g, lg_tensor *a);
lg_tensor *lg_norm_nuclear(lg_graph *g, lg_tensor *a);

/* (d) Σ a_ii of square A (n,n). */
lg_tensor *lg_trace(lg_graph *g, lg_tensor *a);

/* (d) 2-norm condition number σmax / σmin of A (m,n) (NumPy's default); +inf when
 * σmin is 0. */
lg_tensor *lg_cond(lg_graph *g, lg_tensor *a);

/* Number of singular values of A (m,n) above tol; tol < 0 picks NumPy's default
 * σmax max(m,n) eps. Writes *rank (left alone on error). */
lg_status lg_matrix_rank(lg_graph *g, lg_tensor *a, double tol, int64_t *rank);

/* (d) Row-wise cosine similarity of a and b of one shape, (N,D) -> (N) or (D) -> scalar:
 * a·b / (max(‖a‖, eps) max(‖b‖, eps)), as PyTorch. A zero row gives 0 with a finite
 * gradient. eps > 0 (LG_ERR_ARG otherwise); 1e-8 is PyTorch's default. */
lg_tensor *lg_cosine_similarity(lg_graph *g, lg_tensor *a, lg_tensor *b, double eps);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
