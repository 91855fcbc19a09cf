/* CPU elementwise kernels: unary maps, broadcast binary ops, where, fill and iota. OpenMP above
 * LG_OMP_MIN elements; every element is computed independently, so results do not depend
 * on the thread count. */
#include <tgmath.h>
#include "cpu_impl.h"
#include "cpu_math.h"

#define LG_CPU_KERNELS "cpu_elementwise.inc"
#include "cpu_each_type.h"

void lg_cpu_unary(lg_unary_kind k, lg_dtype dt, int64_t n, const void *x, void *y, double p)
{
    if (dt == LG_F32)
        unary_f32(k, n, x, y, (float)p);
    else
        unary_f64(k, n, x, y, p);
}

void lg_cpu_binary(lg_binary_kind k, lg_dtype dt, const lg_bcast *bc, const void *a,
                   const void *b, void *y, double p)
{
    if (dt == LG_F32)
        binary_f32(k, bc, a, b, y, (float)p);
    else
        binary_f64(k, bc, a, b, y, p);
}

void lg_cpu_where(lg_dtype dt, const lg_bcast *bc, const void *m, const void *a,
                  const void *b, void *y)
{
    if (dt == LG_F32)
        where_f32(bc, m, a, b, y);
    else
        where_f64(bc, m, a, b, y);
}

typedef struct fill_args {
    lg_dtype dt;
    void *y;
    double v;
} fill_args;

static void fill_range(int64_t lo, int64_t hi, void *ctx)
{
    const fill_args *f = ctx;
    if (f->dt == LG_F32) {
        float *p = f->y, v = (float)f->v;
        for (int64_t i = lo; i < hi; i++)
            p[i] = v;
    } else if (f->dt == LG_F64) {
        double *p = f->y;
        for (int64_t i = lo; i < hi; i++)
            p[i] = f->v;
    } else { /* integer tensors: the caller checked that v is a whole number in range */
        for (int64_t i = lo; i < hi; i++)
            lg_store(f->y, f->dt, i, f->v);
    }
}

typedef struct iota_args {
    lg_dtype dt;
    void *y;
    double start, step;
} iota_args;

static void iota_range(int64_t lo, int64_t hi, void *ctx)
{
    const iota_args *a = ctx;
    for (int64_t i = lo; i < hi; i++)
        lg_store(a->y, a->dt, i, a->start + (double)i * a->step);
}

void lg_cpu_iota(lg_dtype dt, int64_t n, void *y, double start, double step)
{
    iota_args a = {dt, y, start, step};
    lg_cpu_parallel_range(n, n > LG_OMP_MIN, iota_range, &a);
}

void lg_cpu_fill(lg_dtype dt, int64_t n, void *y, double v)
{
    fill_args f = {dt, y, v};
    lg_cpu_parallel_range(n, n > LG_OMP_MIN, fill_range, &f);
}
