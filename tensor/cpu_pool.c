/* CPU pooling kernels: max pooling with argmax, its scatter adjoint and the gather that
 * is the scatter's adjoint, average pooling and its adjoint. Each (n, c) plane is
 * independent; OpenMP splits the planes when the input exceeds LG_OMP_MIN elements. */
#include <string.h>
#include "cpu_conv_impl.h"

/* U: the unsigned integer as wide as T, for branch-free selects. */
#define T float
#define U uint32_t
#define NAME(x) x##_f32
#include "cpu_pool.inc"
#undef T
#undef U
#undef NAME
#define T double
#define U uint64_t
#define NAME(x) x##_f64
#include "cpu_pool.inc"
#undef T
#undef U
#undef NAME

static bool parallel(const lg_conv_geom *cg)
{
    return cg->n * cg->c > 1 && cg->n * cg->c * cg->h * cg->w > LG_OMP_MIN;
}

void lg_cpu_max_pool(lg_dtype dt, const lg_conv_geom *cg, const void *x, void *y,
                     int32_t *idx)
{
    int64_t planes = cg->n * cg->c, hw = cg->h * cg->w, l = cg->ho * cg->wo;
    if (dt == LG_F32) {
        const float *xs = x;
        float *ys = y;
        LG_PARALLEL_IF(parallel(cg),
            for (int64_t p = 0; p < planes; p++)
                max_plane_f32(cg, xs + p * hw, ys + p * l, idx + p * l);
        );
    } else {
        const double *xs = x;
        double *ys = y;
        LG_PARALLEL_IF(parallel(cg),
            for (int64_t p = 0; p < planes; p++)
                max_plane_f64(cg, xs + p * hw, ys + p * l, idx + p * l);
        );
    }
}

void lg_cpu_pool_scatter(lg_dtype dt, const lg_conv_geom *cg, const void *dy,
                         const int32_t *idx, void *dx)
{
    int64_t planes = cg->n * cg->c, hw = cg->h * cg->w, l = cg->ho * cg->wo;
    if (dt == LG_F32) {
        const float *s = dy;
        float *b = dx;
        LG_PARALLEL_IF(parallel(cg),
            for (int64_t p = 0; p < planes; p++)
                scatter_plane_f32(cg, s + p * l, idx + p * l, b + p * hw);
        );
    } else {
        const double *s = dy;
        double *b = dx;
        LG_PARALLEL_IF(parallel(cg),
            for (int64_t p = 0; p < planes; p++)
                scatter_plane_f64(cg, s + p * l, idx + p * l, b + p * hw);
        );
    }
}

void lg_cpu_pool_gather(lg_dtype dt, const lg_conv_geom *cg, const void *x,
                        const int32_t *idx, void *y)
{
    int64_t planes = cg->n * cg->c, hw = cg->h * cg->w, l = cg->ho * cg->wo;
    if (dt == LG_F32) {
        const float *b = x;
        float *s = y;
        LG_PARALLEL_IF(parallel(cg),
            for (int64_t p = 0; p < planes; p++)
                gather_plane_f32(l, b + p * hw, idx + p * l, s + p * l);
        );
    } else {
        const double *b = x;
        double *s = y;
        LG_PARALLEL_IF(parallel(cg),
            for (int64_t p = 0; p < planes; p++)
                gather_plane_f64(l, b + p * hw, idx + p * l, s + p * l);
        );
    }
}

/* Forward (adjoint 0) reads planes of h*w and writes ho*wo; the adjoint the reverse. */
static void avg(lg_dtype dt, const lg_conv_geom *cg, const void *in, void *out, int adjoint)
{
    int64_t planes = cg->n * cg->c, hw = cg->h * cg->w, l = cg->ho * cg->wo;
    int64_t si = adjoint ? l : hw, so = adjoint ? hw : l;
    if (dt == LG_F32) {
        const float *a = in;
        float *b = out;
        LG_PARALLEL_IF(parallel(cg),
            for (int64_t p = 0; p < planes; p++)
                avg_plane_f32(cg, a + p * si, b + p * so, adjoint);
        );
    } else {
        const double *a = in;
        double *b = out;
        LG_PARALLEL_IF(parallel(cg),
            for (int64_t p = 0; p < planes; p++)
                avg_plane_f64(cg, a + p * si, b + p * so, adjoint);
        );
    }
}

void lg_cpu_avg_pool(lg_dtype dt, const lg_conv_geom *cg, const void *x, void *y)
{
    avg(dt, cg, x, y, 0);
}

void lg_cpu_avg_pool_adjoint(lg_dtype dt, const lg_conv_geom *cg, const void *dy, void *dx)
{
    avg(dt, cg, dy, dx, 1);
}
