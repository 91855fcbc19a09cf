/* The CPU tri_map entry and the typed helpers of the linalg drivers (cpu_linalg.c):
 * dtype dispatch over cpu_linalg.inc. Single-threaded: these are O(n²) passes beside
 * O(n³) factorisations. */
#include <math.h>
#include <string.h>
#include "cpu_linalg.h"

#define MIN(a, b) ((a) < (b) ? (a) : (b))

#define LG_CPU_KERNELS "cpu_linalg.inc"
#include "cpu_each_type.h"

#define DISPATCH(dt, fn, ...) ((dt) == LG_F64 ? fn##_f64(__VA_ARGS__) : fn##_f32(__VA_ARGS__))

void la_cpu_transpose(lg_dtype dt, int64_t rows, int64_t cols, const void *x, void *y)
{
    DISPATCH(dt, transpose, rows, cols, x, y);
}

void la_cpu_mirror_lower(lg_dtype dt, int64_t n, void *y) { DISPATCH(dt, mirror_lower, n, y); }

void la_cpu_zero_upper(lg_dtype dt, int64_t n, void *y)
{
    size_t es = lg_dtype_size(dt);
    for (int64_t i = 0; i + 1 < n; i++)
        memset((char *)y + (size_t)(i * n + i + 1) * es, 0, (size_t)(n - i - 1) * es);
}

void la_cpu_tri_one(lg_tri_kind k, lg_dtype dt, int64_t n, const void *const *in, void *y,
                    const double *c)
{
    bool d = dt == LG_F64;
    switch (k) {
    case LG_TRI_SCALE:
        DISPATCH(dt, tri_scale, n, in[0], y, c);
        break;
    case LG_TRI_SYM_FROM_LOWER:
        if (d)
            sym_from_lower_f64(n, in[0], y, c[0]);
        else
            sym_from_lower_f32(n, in[0], y, (float)c[0]);
        break;
    case LG_TRI_FOLD_LOWER:
        if (d)
            fold_lower_f64(n, in[0], y, c[0]);
        else
            fold_lower_f32(n, in[0], y, (float)c[0]);
        break;
    case LG_TRI_EIGH_GAP:
        DISPATCH(dt, eigh_gap, n, in[0], in[1], in[2], y);
        break;
    case LG_TRI_SVD_GAP:
        DISPATCH(dt, svd_gap, n, in[0], in[1], in[2], in[3], y);
        break;
    }
}

/* Element offsets of matrix b of a batch: (n,n) matrices and (n) vectors per kind. */
void lg_cpu_tri_map(lg_tri_kind k, lg_dtype dt, int64_t batch, int64_t n,
                    const void *const *in, void *y, const double *c)
{
    size_t es = lg_dtype_size(dt), mat = (size_t)(n * n) * es, vec = (size_t)n * es;
    int nin = k == LG_TRI_EIGH_GAP ? 3 : k == LG_TRI_SVD_GAP ? 4 : 1;
    for (int64_t b = 0; b < batch; b++) {
        const void *ib[4] = {NULL, NULL, NULL, NULL};
        for (int i = 0; i < nin; i++) {
            bool is_vec = (k == LG_TRI_EIGH_GAP && i > 0) || (k == LG_TRI_SVD_GAP && i > 1);
            ib[i] = in[i] ? (const char *)in[i] + (size_t)b * (is_vec ? vec : mat) : NULL;
        }
        la_cpu_tri_one(k, dt, n, ib, (char *)y + (size_t)b * mat, c);
    }
}

double la_cpu_max_abs(lg_dtype dt, int64_t n, const void *x, double floor)
{
    return DISPATCH(dt, max_abs, n, x, floor);
}

int64_t la_cpu_first_asymmetric(lg_dtype dt, int64_t n, const void *x, double tol,
                                double *gap)
{
    return DISPATCH(dt, first_asymmetric, n, x, tol, gap);
}

void la_cpu_lu_det(lg_dtype dt, int64_t n, const void *f, const int32_t *ipiv, int32_t info,
                   void *y)
{
    DISPATCH(dt, lu_det, n, f, ipiv, info, y);
}

void la_cpu_plu_unpack(lg_dtype dt, int64_t m, int64_t n, const void *f,
                       const int32_t *ipiv, int64_t *perm, void *p, void *l, void *u)
{
    DISPATCH(dt, plu_unpack, m, n, f, ipiv, perm, p, l, u);
}

void la_cpu_upper_rows(lg_dtype dt, int64_t k, int64_t n, const void *buf, void *r)
{
    DISPATCH(dt, upper_rows, k, n, buf, r);
}

void la_cpu_scale_rows_pinv(lg_dtype dt, int64_t k, int64_t n, const void *s, double cut,
                            void *x)
{
    DISPATCH(dt, scale_rows_pinv, k, n, s, cut, x);
}
