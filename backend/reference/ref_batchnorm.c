/* Reference batch norm per channel c of x viewed as (n, c, s), element (n, c, s) at
 * (n C + c) S + s and m = n s values per channel: the statistics in two passes (the mean,
 * then the mean squared deviation), every sum in double. */
#include <math.h>
#include "ref_impl.h"

static int64_t at(const lg_bn_dims *d, int64_t n, int64_t c, int64_t s)
{
    return (n * d->c + c) * d->s + s;
}

void lg_ref_bn_forward(lg_dtype dt, const lg_bn_dims *d, const void *x, const void *gamma,
                       const void *beta, double eps, void *y, void *mean, void *rstd,
                       void *var)
{
    for (int64_t c = 0; c < d->c; c++) {
        double sum = 0, sq = 0;
        for (int64_t n = 0; n < d->n; n++)
            for (int64_t s = 0; s < d->s; s++)
                sum += ref_ld(dt, x, at(d, n, c, s));
        double mu = sum / (double)d->m;
        for (int64_t n = 0; n < d->n; n++)
            for (int64_t s = 0; s < d->s; s++) {
                double e = ref_ld(dt, x, at(d, n, c, s)) - mu;
                sq += e * e;
            }
        double v = sq / (double)d->m, r = 1 / sqrt(v + eps);
        double g = ref_ld(dt, gamma, c), b = ref_ld(dt, beta, c);
        ref_st(dt, mean, c, mu);
        ref_st(dt, rstd, c, r);
        ref_st(dt, var, c, v);
        for (int64_t n = 0; n < d->n; n++)
            for (int64_t s = 0; s < d->s; s++)
                ref_st(dt, y, at(d, n, c, s), (ref_ld(dt, x, at(d, n, c, s)) - mu) * r * g + b);
    }
}

/* dbeta = Σ gy, dgamma = Σ gy xhat, dx = gamma rstd (gy - dbeta/m - xhat dgamma/m), with
 * xhat = (x - mean) rstd from the forward's (rounded) mean and rstd. */
void lg_ref_bn_backward(lg_dtype dt, const lg_bn_dims *d, const void *gy, const void *x,
                        const void *gamma, const void *mean, const void *rstd, void *dx,
                        void *dgamma, void *dbeta)
{
    for (int64_t c = 0; c < d->c; c++) {
        double mu = ref_ld(dt, mean, c), r = ref_ld(dt, rstd, c), g = ref_ld(dt, gamma, c);
        double sg = 0, sgx = 0;
        for (int64_t n = 0; n < d->n; n++)
            for (int64_t s = 0; s < d->s; s++) {
                double gv = ref_ld(dt, gy, at(d, n, c, s));
                sg += gv;
                sgx += gv * (ref_ld(dt, x, at(d, n, c, s)) - mu) * r;
            }
        ref_st(dt, dbeta, c, sg);
        ref_st(dt, dgamma, c, sgx);
        for (int64_t n = 0; n < d->n; n++)
            for (int64_t s = 0; s < d->s; s++) {
                double xhat = (ref_ld(dt, x, at(d, n, c, s)) - mu) * r;
                double gv = ref_ld(dt, gy, at(d, n, c, s));
                ref_st(dt, dx, at(d, n, c, s),
                       g * r * (gv - sg / (double)d->m - xhat * sgx / (double)d->m));
            }
    }
}
