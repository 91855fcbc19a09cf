/* Internal: what lagrad's replacements of the BLAS/LAPACK error handlers (xerbla_,
 * cblas_xerbla, LAPACKE_xerbla, in cpu_gemm.c) recorded instead of printing. */
#ifndef LAGRAD_BLAS_IMPL_H
#define LAGRAD_BLAS_IMPL_H

/* The argument number (or LAPACKE's negative info) of the last BLAS/LAPACK call of this
 * thread that refused an argument, 0 if none since the last call; *name (may be NULL)
 * gets the routine's name. Reading clears it. */
int lg_blas_last_error(const char **name);

#endif
