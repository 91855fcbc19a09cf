/* Raw kernels under the linalg ops: a blocked transpose, the triangle folds and mirrors
 * the VJPs use, and a recursive triangular inverse. No graph, no checks: the ops in
 * tri_ops.c, sym_ops.c and gap_ops.c validate first. Row-major throughout. */
#include <cblas.h>
#include <string.h>
#include "linalg_impl.h"

/* Tiles keep both the rows read and the columns written in L1. */
#define TILE LA_TILE

#define MIN(a, b) ((a) < (b) ? (a) : (b))

#define TRANSPOSE(T, SFX)                                                              \
    static void transpose_##SFX(int64_t rows, int64_t cols, const T *x, T *y)          \
    {                                                                                  \
        for (int64_t i0 = 0; i0 < rows; i0 += TILE)                                    \
            for (int64_t j0 = 0; j0 < cols; j0 += TILE)                                \
                for (int64_t i = i0; i < MIN(i0 + TILE, rows); i++)                    \
                    for (int64_t j = j0; j < MIN(j0 + TILE, cols); j++)                \
                        y[j * rows + i] = x[i * cols + j];                             \
    }
TRANSPOSE(float, f32)
TRANSPOSE(double, f64)

void la_transpose_into(lg_dtype dt, int64_t rows, int64_t cols, const void *x, void *y)
{
    if (dt == LG_F64)
        transpose_f64(rows, cols, x, y);
    else
        transpose_f32(rows, cols, x, y);
}

/* Lower or upper triangle (with the diagonal) of y (n,n) from x in one tiled pass:
 *   sym_from_lower:  y_ij = s x_ij (j <= i),   y_ij = s x_ji (j > i)
 *   fold_lower:      y_ij = s (x_ij + x_ji) (j < i),  s x_ii,  0 (j > i)
 *   mirror_lower:    y_ij = y_ji for j > i (in place, x unused) */
#define TRI_KERNELS(T, SFX)                                                            \
    static void sym_from_lower_##SFX(int64_t n, const T *x, T *y, T s)                 \
    {                                                                                  \
        for (int64_t i0 = 0; i0 < n; i0 += TILE)                                       \
            for (int64_t j0 = 0; j0 <= i0; j0 += TILE)                                 \
                for (int64_t i = i0; i < MIN(i0 + TILE, n); i++)                       \
                    for (int64_t j = j0; j < MIN(j0 + TILE, i + 1); j++) {             \
                        T v = s * x[i * n + j];                                        \
                        y[i * n + j] = v;                                              \
                        y[j * n + i] = v;                                              \
                    }                                                                  \
    }                                                                                  \
    static void fold_lower_##SFX(int64_t n, const T *x, T *y, T s)                     \
    {                                                                                  \
        for (int64_t i0 = 0; i0 < n; i0 += TILE)                                       \
            for (int64_t j0 = 0; j0 <= i0; j0 += TILE)                                 \
                for (int64_t i = i0; i < MIN(i0 + TILE, n); i++)                       \
                    for (int64_t j = j0; j < MIN(j0 + TILE, i + 1); j++) {             \
                        y[i * n + j] = i == j ? s * x[i * n + i]                       \
                                              : s * (x[i * n + j] + x[j * n + i]);     \
                        if (j != i)                                                    \
                            y[j * n + i] = 0;                                          \
                    }                                                                  \
    }                                                                                  \
    static void mirror_lower_##SFX(int64_t n, T *y)                                    \
    {                                                                                  \
        for (int64_t i0 = 0; i0 < n; i0 += TILE)                                       \
            for (int64_t j0 = 0; j0 <= i0; j0 += TILE)                                 \
                for (int64_t i = i0; i < MIN(i0 + TILE, n); i++)                       \
                    for (int64_t j = j0; j < MIN(j0 + TILE, i); j++)                   \
                        y[j * n + i] = y[i * n + j];                                   \
    }
TRI_KERNELS(float, f32)
TRI_KERNELS(double, f64)

void la_sym_from_lower_into(lg_dtype dt, int64_t n, const void *x, void *y, double s)
{
    if (dt == LG_F64)
        sym_from_lower_f64(n, x, y, s);
    else
        sym_from_lower_f32(n, x, y, (float)s);
}

void la_fold_lower_into(lg_dtype dt, int64_t n, const void *x, void *y, double s)
{
    if (dt == LG_F64)
        fold_lower_f64(n, x, y, s);
    else
        fold_lower_f32(n, x, y, (float)s);
}

void la_mirror_lower(lg_dtype dt, int64_t n, void *y)
{
    if (dt == LG_F64)
        mirror_lower_f64(n, y);
    else
        mirror_lower_f32(n, y);
}

/* The triangle opposite `lower` (without the diagonal) set to zero. */
void la_zero_triangle(lg_dtype dt, int64_t n, void *y, bool lower)
{
    size_t es = lg_dtype_size(dt);
    for (int64_t i = 0; i < n; i++) {
        int64_t j0 = lower ? i + 1 : 0, j1 = lower ? n : i;
        if (j1 > j0)
            memset((char *)y + (size_t)(i * n + j0) * es, 0, (size_t)(j1 - j0) * es);
    }
}

/* Below this order LAPACK's trtri inverts directly; above it the recursion below keeps
 * the work in trmm, which OpenBLAS runs several times faster than its trtri here. */
#define TRI_INV_BASE 32

/* In-place inverse of the row-major lower triangular block a (n,n), leading dimension
 * ld: [[A,0],[B,C]]⁻¹ = [[A⁻¹,0],[-C⁻¹ B A⁻¹, C⁻¹]]. Returns LAPACK's info (> 0: a
 * zero on the diagonal). Row-major lower is column-major upper, hence 'U'. */
#define TRI_INV(T, SFX, PFX)                                                           \
    static lapack_int tri_inv_##SFX(int64_t n, T *a, int64_t ld)                       \
    {                                                                                  \
        if (n <= TRI_INV_BASE)                                                         \
            return LAPACKE_##PFX##trtri_work(LAPACK_COL_MAJOR, 'U', 'N', (lapack_int)n, a,  \
                                             (lapack_int)ld);                          \
        int64_t h = n / 2;                                                             \
        T *a21 = a + h * ld, *a22 = a21 + h;                                           \
        lapack_int info = tri_inv_##SFX(h, a, ld);                                     \
        if (info != 0)                                                                 \
            return info;                                                               \
        info = tri_inv_##SFX(n - h, a22, ld);                                          \
        if (info != 0)                                                                 \
            return info + (lapack_int)h;                                               \
        cblas_##PFX##trmm(CblasRowMajor, CblasRight, CblasLower, CblasNoTrans,         \
                          CblasNonUnit, (int)(n - h), (int)h, 1, a, (int)ld, a21, (int)ld); \
        cblas_##PFX##trmm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans,          \
                          CblasNonUnit, (int)(n - h), (int)h, -1, a22, (int)ld, a21,   \
                          (int)ld);                                                    \
        return 0;                                                                      \
    }
TRI_INV(float, f32, s)
TRI_INV(double, f64, d)

lapack_int la_tri_inv_lower_inplace(lg_dtype dt, int64_t n, void *a)
{
    return dt == LG_F64 ? tri_inv_f64(n, a, n) : tri_inv_f32(n, a, n);
}

/* Largest |x_i| (at least `floor`), and the first (i, j), j < i in tile order, with
 * |x_ij - x_ji| > tol, or false. */
#define SYM_CHECK(T, SFX)                                                                  \
    static double max_abs_##SFX(int64_t n, const T *x, double floor)                      \
    {                                                                                      \
        T m = (T)floor;                                                                    \
        for (int64_t i = 0; i < n; i++)                                                    \
            m = x[i] > m ? x[i] : -x[i] > m ? -x[i] : m;                                   \
        return m;                                                                          \
    }                                                                                      \
    static bool first_asymmetric_##SFX(int64_t n, const T *x, double tol, int64_t *bi,    \
                                       int64_t *bj)                                        \
    {                                                                                      \
        LA_FOR_LOWER_TILES(n, i, j) {                                                      \
            double d = (double)x[i * n + j] - (double)x[j * n + i];                       \
            if (d > tol || -d > tol) {                                                     \
                *bi = i;                                                                   \
                *bj = j;                                                                   \
                return true;                                                               \
            }                                                                              \
        }                                                                                  \
        return false;                                                                      \
    }
SYM_CHECK(float, f32)
SYM_CHECK(double, f64)

double la_max_abs(lg_dtype dt, int64_t n, const void *x, double floor)
{
    return dt == LG_F64 ? max_abs_f64(n, x, floor) : max_abs_f32(n, x, floor);
}

bool la_first_asymmetric(lg_dtype dt, int64_t n, const void *x, double tol, int64_t *i,
                         int64_t *j)
{
    return dt == LG_F64 ? first_asymmetric_f64(n, x, tol, i, j)
                        : first_asymmetric_f32(n, x, tol, i, j);
}
