/* Scans a tensor for NaN or Inf: used by anomaly mode and the linalg input checks. */
#include <float.h>
#include <math.h>
#include "tensor_impl.h"

/* Blocks of this many elements are tested with a branch-free loop (it vectorises); only a
 * block that holds a non-finite value is searched element by element. */
#define FINITE_BLOCK 1024

static int64_t first_nonfinite_f32(const float *x, int64_t n)
{
    for (int64_t b = 0; b < n; b += FINITE_BLOCK) {
        int64_t e = b + FINITE_BLOCK < n ? b + FINITE_BLOCK : n;
        int bad = 0;
        for (int64_t i = b; i < e; i++)
            bad |= !(fabsf(x[i]) <= FLT_MAX); /* false for NaN and +-Inf */
        if (bad)
            for (int64_t i = b; i < e; i++)
                if (!isfinite(x[i]))
                    return i;
    }
    return -1;
}

static int64_t first_nonfinite_f64(const double *x, int64_t n)
{
    for (int64_t b = 0; b < n; b += FINITE_BLOCK) {
        int64_t e = b + FINITE_BLOCK < n ? b + FINITE_BLOCK : n;
        int bad = 0;
        for (int64_t i = b; i < e; i++)
            bad |= !(fabs(x[i]) <= DBL_MAX);
        if (bad)
            for (int64_t i = b; i < e; i++)
                if (!isfinite(x[i]))
                    return i;
    }
    return -1;
}

int64_t lg_first_nonfinite(const void *data, lg_dtype dt, int64_t n)
{
    return dt == LG_F32 ? first_nonfinite_f32(data, n) : first_nonfinite_f64(data, n);
}
