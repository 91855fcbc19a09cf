/* The reference softmax backward: plain loops, the sum in double in index order. */
#include "ref_impl.h"

void lg_ref_softmax_backward(lg_dtype dt, int64_t outer, int64_t len, int64_t inner,
                             const void *y, const void *dy, void *dx)
{
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            int64_t base = o * len * inner + j;
            double s = 0;
            for (int64_t i = 0; i < len; i++)
                s += ref_ld(dt, dy, base + i * inner) * ref_ld(dt, y, base + i * inner);
            for (int64_t i = 0; i < len; i++) {
                int64_t k = base + i * inner;
                ref_st(dt, dx, k, ref_ld(dt, y, k) * (ref_ld(dt, dy, k) - s));
            }
        }
}
