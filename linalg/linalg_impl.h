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

/* Workspace size from a LAPACK query (work[0]), at least 1. */
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

static inline double la_eps(lg_dtype dt)
{
    return dt == LG_F64 ? 2.220446049250313e-16 : 1.1920928955078125e-07;
}

#endif
