/* Reference layer norm over rows of length d: the statistics in two passes (the mean,
 * then the mean squared deviation), every sum in double; the backward from the forward's
 * rounded mean and rstd, as the table says. */
#include <math.h>
#include "ref_impl.h"

static double ld_or(lg_dtype dt, const void *p, int64_t i, double absent)
{
    return p ? ref_ld(dt, p, i) : absent;
}

void lg_ref_ln_forward(lg_dtype dt, int64_t rows, int64_t d, const void *x, const void *gamma,
                       const void *beta, double eps, void *y, void *mean, void *rstd)
{
    for (int64_t r = 0; r < rows; r++) {
        double sum = 0, sq = 0;
        for (int64_t j = 0; j < d; j++)
            sum += ref_ld(dt, x, r * d + j);
        double mu = sum / (double)d;
        for (int64_t j = 0; j < d; j++) {
            double e = ref_ld(dt, x, r * d + j) - mu;
            sq += e * e;
        }
        double rs = 1 / sqrt(sq / (double)d + eps);
        ref_st(dt, mean, r, mu);
        ref_st(dt, rstd, r, rs);
        for (int64_t j = 0; j < d; j++)
            ref_st(dt, y, r * d + j, (ref_ld(dt, x, r * d + j) - mu) * rs *
                                         ld_or(dt, gamma, j, 1) + ld_or(dt, beta, j, 0));
    }
}

/* x̂ = (x - mean) rstd; g = gy γ; dx = rstd (g - mean g - x̂ mean(g x̂)) per row;
 * dγ = Σ_rows gy x̂, dβ = Σ_rows gy. */
void lg_ref_ln_backward(lg_dtype dt, int64_t rows, int64_t d, const void *gy, const void *x,
                        const void *gamma, const void *mean, const void *rstd, void *dx,
                        void *dgamma, void *dbeta)
{
    for (int64_t r = 0; dx && r < rows; r++) {
        double mu = ref_ld(dt, mean, r), rs = ref_ld(dt, rstd, r), s1 = 0, s2 = 0;
        for (int64_t j = 0; j < d; j++) {
            double gj = ref_ld(dt, gy, r * d + j) * ld_or(dt, gamma, j, 1);
            s1 += gj;
            s2 += gj * (ref_ld(dt, x, r * d + j) - mu) * rs;
        }
        for (int64_t j = 0; j < d; j++) {
            double gj = ref_ld(dt, gy, r * d + j) * ld_or(dt, gamma, j, 1);
            double xh = (ref_ld(dt, x, r * d + j) - mu) * rs;
            ref_st(dt, dx, r * d + j, rs * (gj - s1 / (double)d - xh * s2 / (double)d));
        }
    }
    for (int64_t j = 0; j < d; j++) {
        double sg = 0, sgx = 0;
        for (int64_t r = 0; r < rows; r++) {
            double gv = ref_ld(dt, gy, r * d + j);
            sg += gv;
            sgx += gv * (ref_ld(dt, x, r * d + j) - ref_ld(dt, mean, r)) * ref_ld(dt, rstd, r);
        }
        if (dbeta)
            ref_st(dt, dbeta, j, sg);
        if (dgamma)
            ref_st(dt, dgamma, j, sgx);
    }
}
