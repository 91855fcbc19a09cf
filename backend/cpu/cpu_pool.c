/* CPU pooling kernels: max pooling with argmax, its scatter adjoint and the gather that
 * is the scatter's adjoint, average pooling and its adjoint. Each (n, c) plane is
 * independent; OpenMP splits the planes when the input exceeds LG_OMP_MIN elements. */
#include <string.h>
#include "cpu_conv_impl.h"

/* Planes go to the threads when there are several and enough values in all. */
static bool pool_parallel(const lg_conv_geom *cg)
{
    return cg->n * cg->c > 1 && cg->n * cg->c * cg->h * cg->w > LG_OMP_MIN;
}

#define LG_CPU_KERNELS "cpu_pool.inc"
#include "cpu_each_type.h"

void lg_cpu_max_pool(lg_dtype dt, const lg_conv_geom *cg, const void *x, void *y,
                     int32_t *idx)
{
    if (dt == LG_F32)
        max_pool_f32(cg, x, y, idx);
    else
        max_pool_f64(cg, x, y, idx);
}

void lg_cpu_pool_scatter(lg_dtype dt, const lg_conv_geom *cg, const void *dy,
                         const int32_t *idx, void *dx)
{
    if (dt == LG_F32)
        pool_scatter_f32(cg, dy, idx, dx);
    else
        pool_scatter_f64(cg, dy, idx, dx);
}

void lg_cpu_pool_gather(lg_dtype dt, const lg_conv_geom *cg, const void *x,
                        const int32_t *idx, void *y)
{
    if (dt == LG_F32)
        pool_gather_f32(cg, x, idx, y);
    else
        pool_gather_f64(cg, x, idx, y);
}

void lg_cpu_avg_pool(lg_dtype dt, const lg_conv_geom *cg, const void *x, void *y)
{
    if (dt == LG_F32)
        avg_pool_f32(cg, x, y, 0);
    else
        avg_pool_f64(cg, x, y, 0);
}

void lg_cpu_avg_pool_adjoint(lg_dtype dt, const lg_conv_geom *cg, const void *dy, void *dx)
{
    if (dt == LG_F32)
        avg_pool_f32(cg, dy, dx, 1);
    else
        avg_pool_f64(cg, dy, dx, 1);
}
