/* Internal: the typed loops under the CPU linalg entry (cpu_linalg.inc, instantiated in
 * cpu_linalg_maps.c): triangle maps, gap matrices, transposes and the small scans the
 * LAPACK drivers in cpu_linalg.c need around their calls. Row-major, no checks. */
#ifndef LAGRAD_CPU_LINALG_H
#define LAGRAD_CPU_LINALG_H

#include "cpu_impl.h"

/* Visits (i, j) for j < i, in TILE x TILE tiles so that both x_ij and x_ji stay in cache:
 * LA_FOR_LOWER_TILES(n, i, j) { body }. Small tiles: with power-of-two n the rows of a
 * tile map to a few L1 sets, and 32x32 tiles thrashed them (4-7x slower at n = 256). */
#define LA_TILE 8
#define LA_FOR_LOWER_TILES(n, i, j)                                                    \
    for (int64_t i##0 = 0; i##0 < (n); i##0 += LA_TILE)                                \
        for (int64_t j##0 = 0; j##0 <= i##0; j##0 += LA_TILE)                          \
            for (int64_t i = i##0; i < (i##0 + LA_TILE < (n) ? i##0 + LA_TILE : (n)); i++) \
                for (int64_t j = j##0; j < (j##0 + LA_TILE < i ? j##0 + LA_TILE : i); j++)

/* y (cols,rows) = xᵀ for x (rows,cols), tiled. */
void la_cpu_transpose(lg_dtype dt, int64_t rows, int64_t cols, const void *x, void *y);
/* y's upper triangle := its lower one, in place. */
void la_cpu_mirror_lower(lg_dtype dt, int64_t n, void *y);
/* Zeroes the strict upper triangle of y (n,n). */
void la_cpu_zero_upper(lg_dtype dt, int64_t n, void *y);
/* One (n,n) matrix of tri_map. */
void la_cpu_tri_one(lg_tri_kind k, lg_dtype dt, int64_t n, const void *const *in, void *y,
                    const double *c);
/* max(floor, max |x_i|) over n elements. */
double la_cpu_max_abs(lg_dtype dt, int64_t n, const void *x, double floor);
/* 1 + i n + j of the first (i, j), j < i in row-major order, with |x_ij - x_ji| > tol,
 * or 0; *gap gets that difference. A tiled scan first, so the common (symmetric) case
 * reads each pair once in cache. */
int64_t la_cpu_first_asymmetric(lg_dtype dt, int64_t n, const void *x, double tol,
                                double *gap);
/* det, sign and log|det| (into y, 3 of dt) from getrf's factors f (n,n) and pivots;
 * info > 0 marks a singular matrix (sign 0, log -inf). */
void la_cpu_lu_det(lg_dtype dt, int64_t n, const void *f, const int32_t *ipiv, int32_t info,
                   void *y);
/* lg_lu's unpacking of getrf on A column-major (f with ld m): L (m,k) unit lower, U (k,n),
 * P (m,m) from the 1-based row swaps; perm is m scratch indices. */
void la_cpu_plu_unpack(lg_dtype dt, int64_t m, int64_t n, const void *f,
                       const int32_t *ipiv, int64_t *perm, void *p, void *l, void *u);
/* r (k,n) = the upper triangle of the first k rows of buf (.., n). */
void la_cpu_upper_rows(lg_dtype dt, int64_t k, int64_t n, const void *buf, void *r);
/* Scales row i of x (k,n) by 1/s_i where s_i > cut, by 0 otherwise. */
void la_cpu_scale_rows_pinv(lg_dtype dt, int64_t k, int64_t n, const void *s, double cut,
                            void *x);

#endif
