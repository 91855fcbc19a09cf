/* Softmax's backward in one pass per row (issue 16: attention's (B·nh, T, T) scores),
 * where the composed VJP made three full-size tensors. The forward is in cpu_reduce.c. */
#include "cpu_impl.h"

#define LG_CPU_KERNELS "cpu_softmax_bwd.inc"
#include "cpu_each_type.h"

void lg_cpu_softmax_backward(lg_dtype dt, int64_t outer, int64_t len, int64_t inner,
                             const void *y, const void *dy, void *dx)
{
    if (dt == LG_F32)
        softmax_bwd_f32(outer, len, inner, y, dy, dx);
    else
        softmax_bwd_f64(outer, len, inner, y, dy, dx);
}
