/* The reference backend's random fills, dot products and optimizer steps: the formulas of
 * backend_impl.h (lg_rng_kind, lg_optim_hyper) in double, one element at a time. */
#include <float.h>
#include "../rng_draw.h"
#include "ref_impl.h"

void lg_ref_rng_fill(lg_rng_kind k, lg_dtype dt, int64_t n, void *y, uint64_t seed,
                     uint64_t counter, double a, double b)
{
    for (int64_t i = 0; i < n; i++)
        lg_store(y, dt, i, lg_rng_value(k, seed, counter, i, a, b));
}

double lg_ref_dot(lg_dtype dt, int64_t n, const void *x, const void *y)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += ref_ld(dt, x, i) * ref_ld(dt, y, i);
    return s;
}

static void optim_element(const lg_optim_hyper *h, lg_dtype dt, const lg_optim_seg *s,
                          int64_t i)
{
    double tmin = dt == LG_F32 ? FLT_MIN : DBL_MIN;
    double x = ref_ld(dt, s->x, i), g = ref_ld(dt, s->g, i);
    double d = h->wd != 0 ? g + ref_param(dt, h->wd) * x : g;
    if (h->zero_grad)
        ref_st(dt, s->g, i, 0);
    if (h->adam) {
        double m = h->b1 * ref_ld(dt, s->m, i) + (1 - h->b1) * d;
        double v = h->b2 * ref_ld(dt, s->v, i) + (1 - h->b2) * d * d;
        m = fabs(m) < tmin ? 0 : m;
        v = v < tmin ? 0 : v;
        ref_st(dt, s->m, i, m);
        ref_st(dt, s->v, i, v);
        ref_st(dt, s->x, i, x * h->shrink - h->step * m / (sqrt(v) * h->inv_sqrt_bc2 + h->eps));
    } else if (h->mu == 0) {
        ref_st(dt, s->x, i, x - h->lr * d);
    } else {
        double b = h->first ? d : h->mu * ref_ld(dt, s->m, i) + h->damp * d;
        b = fabs(b) < tmin ? 0 : b;
        ref_st(dt, s->m, i, b);
        ref_st(dt, s->x, i, x - h->lr * (h->nesterov ? d + h->mu * b : b));
    }
}

void lg_ref_optim_update(const lg_optim_hyper *h, lg_dtype dt, int nseg, const lg_optim_seg *seg)
{
    for (int j = 0; j < nseg; j++)
        for (int64_t i = 0; i < seg[j].n; i++)
            optim_element(h, dt, &seg[j], i);
}
