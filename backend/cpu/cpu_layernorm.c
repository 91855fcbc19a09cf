/* CPU layer norm (issue 16): the forward and first-order backward in one pass per row,
 * where the composed op made about ten full-size tensors each way. */
#include <math.h>
#include "cpu_impl.h"

/* Columns per block of dγ and dβ: two arrays of doubles that stay in registers. */
enum { LN_COLS = 16 };

#define LG_CPU_KERNELS "cpu_layernorm.inc"
#include "cpu_each_type.h"

void lg_cpu_ln_forward(lg_dtype dt, int64_t rows, int64_t d, const void *x, const void *gamma,
                       const void *beta, double eps, void *y, void *mean, void *rstd)
{
    if (dt == LG_F32)
        ln_forward_f32(rows, d, x, gamma, beta, eps, y, mean, rstd);
    else
        ln_forward_f64(rows, d, x, gamma, beta, eps, y, mean, rstd);
}

void lg_cpu_ln_backward(lg_dtype dt, int64_t rows, int64_t d, const void *gy, const void *x,
                        const void *gamma, const void *mean, const void *rstd, void *dx,
                        void *dgamma, void *dbeta)
{
    if (dt == LG_F32)
        ln_backward_f32(rows, d, gy, x, gamma, mean, rstd, dx, dgamma, dbeta);
    else
        ln_backward_f64(rows, d, gy, x, gamma, mean, rstd, dx, dgamma, dbeta);
}
