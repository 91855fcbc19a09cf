/* Reference pooling over the (h, w) planes of (n, c, h, w): max pooling with the index of
 * the first maximum, its scatter adjoint and the gather that is the scatter's adjoint,
 * average pooling and its adjoint. Window (oh, ow) covers rows [oh sh - ph, + kh) and
 * columns [ow sw - pw, + kw), clipped to the plane (padding never wins a max; it counts
 * as zeros in an average, which divides by kh kw). */
#include <math.h>
#include "ref_impl.h"

/* The rows [*r0, *r1) and columns [*c0, *c1) of window (oh, ow) inside the plane. */
static void window(const lg_conv_geom *cg, int64_t oh, int64_t ow, int64_t *r0, int64_t *r1,
                   int64_t *c0, int64_t *c1)
{
    *r0 = oh * cg->sh - cg->ph;
    *c0 = ow * cg->sw - cg->pw;
    *r1 = *r0 + cg->kh < cg->h ? *r0 + cg->kh : cg->h;
    *c1 = *c0 + cg->kw < cg->w ? *c0 + cg->kw : cg->w;
    *r0 = *r0 > 0 ? *r0 : 0;
    *c0 = *c0 > 0 ? *c0 : 0;
}

void lg_ref_max_pool(lg_dtype dt, const lg_conv_geom *cg, const void *x, void *y,
                     int32_t *idx)
{
    int64_t hw = cg->h * cg->w, l = cg->ho * cg->wo;
    for (int64_t p = 0; p < cg->n * cg->c; p++)
        for (int64_t oh = 0; oh < cg->ho; oh++)
            for (int64_t ow = 0; ow < cg->wo; ow++) {
                int64_t r0, r1, c0, c1;
                window(cg, oh, ow, &r0, &r1, &c0, &c1);
                /* row-major over the window: the first maximum, and the first NaN over
                 * every number (as in PyTorch) */
                int64_t best = r0 * cg->w + c0;
                double bv = ref_ld(dt, x, p * hw + best);
                for (int64_t r = r0; r < r1; r++)
                    for (int64_t c = c0; c < c1; c++) {
                        double v = ref_ld(dt, x, p * hw + r * cg->w + c);
                        if (!isnan(bv) && (isnan(v) || v > bv)) {
                            bv = v;
                            best = r * cg->w + c;
                        }
                    }
                ref_st(dt, y, p * l + oh * cg->wo + ow, bv);
                idx[p * l + oh * cg->wo + ow] = (int32_t)best;
            }
}

void lg_ref_pool_scatter(lg_dtype dt, const lg_conv_geom *cg, const void *dy,
                         const int32_t *idx, void *dx)
{
    int64_t hw = cg->h * cg->w, l = cg->ho * cg->wo;
    for (int64_t i = 0; i < cg->n * cg->c * hw; i++)
        ref_st(dt, dx, i, 0);
    for (int64_t p = 0; p < cg->n * cg->c; p++)
        for (int64_t q = 0; q < l; q++) {
            int64_t at = p * hw + idx[p * l + q];
            ref_st(dt, dx, at, ref_ld(dt, dx, at) + ref_ld(dt, dy, p * l + q));
        }
}

void lg_ref_pool_gather(lg_dtype dt, const lg_conv_geom *cg, const void *x,
                        const int32_t *idx, void *y)
{
    int64_t hw = cg->h * cg->w, l = cg->ho * cg->wo;
    for (int64_t p = 0; p < cg->n * cg->c; p++)
        for (int64_t q = 0; q < l; q++)
            ref_st(dt, y, p * l + q, ref_ld(dt, x, p * hw + idx[p * l + q]));
}

void lg_ref_avg_pool(lg_dtype dt, const lg_conv_geom *cg, const void *x, void *y)
{
    int64_t hw = cg->h * cg->w, l = cg->ho * cg->wo;
    for (int64_t p = 0; p < cg->n * cg->c; p++)
        for (int64_t oh = 0; oh < cg->ho; oh++)
            for (int64_t ow = 0; ow < cg->wo; ow++) {
                int64_t r0, r1, c0, c1;
                window(cg, oh, ow, &r0, &r1, &c0, &c1);
                double s = 0;
                for (int64_t r = r0; r < r1; r++)
                    for (int64_t c = c0; c < c1; c++)
                        s += ref_ld(dt, x, p * hw + r * cg->w + c);
                ref_st(dt, y, p * l + oh * cg->wo + ow, s / (double)(cg->kh * cg->kw));
            }
}

/* dx[cell] = Σ over the windows that cover the cell of dy[window] / (kh kw). */
void lg_ref_avg_pool_adjoint(lg_dtype dt, const lg_conv_geom *cg, const void *dy, void *dx)
{
    int64_t hw = cg->h * cg->w, l = cg->ho * cg->wo;
    for (int64_t p = 0; p < cg->n * cg->c; p++)
        for (int64_t r = 0; r < cg->h; r++)
            for (int64_t c = 0; c < cg->w; c++) {
                double s = 0;
                for (int64_t oh = 0; oh < cg->ho; oh++)
                    for (int64_t ow = 0; ow < cg->wo; ow++) {
                        int64_t r0, r1, c0, c1;
                        window(cg, oh, ow, &r0, &r1, &c0, &c1);
                        if (r >= r0 && r < r1 && c >= c0 && c < c1)
                            s += ref_ld(dt, dy, p * l + oh * cg->wo + ow);
                    }
                ref_st(dt, dx, p * hw + r * cg->w + c, s / (double)(cg->kh * cg->kw));
            }
}
