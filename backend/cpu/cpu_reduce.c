/* CPU reduction kernels: sum and max along an axis, sum-to-shape (the reverse of
 * broadcasting), softmax, log-softmax and logsumexp. */
#include <omp.h>
#include <string.h>
#include <tgmath.h>
#include "cpu_impl.h"

/* Columns per tile of the column sums: 256 partial sums in doubles stay in L1. */
enum { SUM_TILE = 256 };

#define LG_CPU_KERNELS "cpu_reduce.inc"
#include "cpu_each_type.h"

void lg_cpu_reduce(lg_reduce_kind k, lg_dtype dt, int64_t outer, int64_t len, int64_t inner,
                   const void *x, void *y, int64_t *argmax)
{
    if (dt == LG_F32)
        reduce_f32(k, outer, len, inner, x, y, argmax);
    else
        reduce_f64(k, outer, len, inner, x, y, argmax);
}

void lg_cpu_sum_to(lg_dtype dt, const lg_bcast *bc, const void *x, void *y, int64_t ny)
{
    if (dt == LG_F32)
        sum_to_f32(bc, x, y, ny);
    else
        sum_to_f64(bc, x, y, ny);
}

void lg_cpu_softmax(int log, lg_dtype dt, int64_t outer, int64_t len, int64_t inner,
                    const void *x, void *y)
{
    if (dt == LG_F32)
        softmax_f32(log, outer, len, inner, x, y);
    else
        softmax_f64(log, outer, len, inner, x, y);
}

void lg_cpu_logsumexp(lg_dtype dt, int64_t outer, int64_t len, int64_t inner, const void *x,
                      void *y)
{
    if (dt == LG_F32)
        logsumexp_f32(outer, len, inner, x, y);
    else
        logsumexp_f64(outer, len, inner, x, y);
}
