/* CPU find_outside: the range scan behind the checks that run before a kernel (anomaly
 * mode's NaN/Inf scan, linalg's finite inputs, index bounds). */
#include <math.h>
#include "cpu_impl.h"

enum { FIND_BLOCK = 1024 };

#define LG_CPU_KERNELS "cpu_find.inc"
#include "cpu_each_type.h"

#define T int32_t
#define NAME(x) x##_i32
#include "cpu_find.inc"
#undef T
#undef NAME

#define T int64_t
#define NAME(x) x##_i64
#include "cpu_find.inc"
#undef T
#undef NAME

/* [lo, hi] rounded inwards and clamped to [min, max] of an integer type; false when no
 * integer of the type lies in it. */
static bool int_bounds(double lo, double hi, double min, double max, double *l, double *h)
{
    *l = lo < min ? min : ceil(lo);
    *h = hi > max ? max : floor(hi);
    return !(isnan(lo) || isnan(hi)) && *l <= *h;
}

int64_t lg_cpu_find_outside(lg_dtype dt, int64_t n, const void *x, double lo, double hi)
{
    double l, h;
    switch (dt) {
    case LG_F32:
        return find_outside_f32(n, x, (float)lo, (float)hi);
    case LG_F64:
        return find_outside_f64(n, x, lo, hi);
    case LG_I32:
        if (!int_bounds(lo, hi, INT32_MIN, INT32_MAX, &l, &h))
            return n > 0 ? 0 : -1;
        return find_outside_i32(n, x, (int32_t)l, (int32_t)h);
    default: /* LG_I64: 2^63 is the first double above INT64_MAX */
        if (!int_bounds(lo, hi, -0x1p63, 0x1p63, &l, &h))
            return n > 0 ? 0 : -1;
        return find_outside_i64(n, x, l <= -0x1p63 ? INT64_MIN : (int64_t)l,
                                h >= 0x1p63 ? INT64_MAX : (int64_t)h);
    }
}
