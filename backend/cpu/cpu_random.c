/* CPU random fills and dot products. */
#include "../rng_draw.h"
#include "cpu_impl.h"

typedef struct fill_args {
    lg_rng_kind k;
    lg_dtype dt;
    void *y;
    uint64_t seed, counter;
    double a, b;
} fill_args;

static void fill_range(int64_t lo, int64_t hi, void *ctx)
{
    const fill_args *f = ctx;
    for (int64_t i = lo; i < hi; i++)
        lg_store(f->y, f->dt, i, lg_rng_value(f->k, f->seed, f->counter, i, f->a, f->b));
}

void lg_cpu_rng_fill(lg_rng_kind k, lg_dtype dt, int64_t n, void *y, uint64_t seed,
                     uint64_t counter, double a, double b)
{
    fill_args f = {k, dt, y, seed, counter, a, b};
    lg_cpu_parallel_range(n, n > LG_OMP_MIN, fill_range, &f);
}

/* Four running sums, combined in a fixed order: the loop pipelines, and the bits depend on
 * n alone. */
double lg_cpu_dot(lg_dtype dt, int64_t n, const void *x, const void *y)
{
    double s[4] = {0, 0, 0, 0};
    int64_t i = 0;
    if (dt == LG_F32) {
        const float *a = x, *b = y;
        for (; i + 4 <= n; i += 4)
            for (int k = 0; k < 4; k++)
                s[k] += (double)a[i + k] * (double)b[i + k];
        for (; i < n; i++)
            s[0] += (double)a[i] * (double)b[i];
    } else {
        const double *a = x, *b = y;
        for (; i + 4 <= n; i += 4)
            for (int k = 0; k < 4; k++)
                s[k] += a[i + k] * b[i + k];
        for (; i < n; i++)
            s[0] += a[i] * b[i];
    }
    return (s[0] + s[1]) + (s[2] + s[3]);
}
