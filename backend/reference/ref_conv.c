/* Reference 2-D convolution straight from its definition: cross-correlation over NCHW x
 * and OIHW w (w is (co, c/groups, kh, kw)), no im2col and no scratch. Each output of each
 * kernel is one sum in double: the gradients are written as gathers over the outputs that
 * read an element, not as scattered additions. */
#include "ref_impl.h"

size_t lg_ref_conv2d_scratch(lg_dtype dt, const lg_conv_geom *cg)
{
    (void)dt;
    (void)cg;
    return 0; /* direct loops need none */
}

/* Input channels per group and output channels per group. */
static int64_t cin_g(const lg_conv_geom *cg) { return cg->c / cg->groups; }
static int64_t cout_g(const lg_conv_geom *cg) { return cg->co / cg->groups; }

static int64_t x_at(const lg_conv_geom *cg, int64_t n, int64_t c, int64_t ih, int64_t iw)
{
    return ((n * cg->c + c) * cg->h + ih) * cg->w + iw;
}
static int64_t y_at(const lg_conv_geom *cg, int64_t n, int64_t o, int64_t oh, int64_t ow)
{
    return ((n * cg->co + o) * cg->ho + oh) * cg->wo + ow;
}
static int64_t w_at(const lg_conv_geom *cg, int64_t o, int64_t ci, int64_t ki, int64_t kj)
{
    return ((o * cin_g(cg) + ci) * cg->kh + ki) * cg->kw + kj;
}

/* x[n, c, ih, iw], or the zero of the padding outside the plane. The zero is multiplied,
 * not skipped: as in im2col (and PyTorch), Inf times padding is NaN. */
static double x_or_pad(lg_dtype dt, const lg_conv_geom *cg, const void *x, int64_t n,
                       int64_t c, int64_t ih, int64_t iw)
{
    if (ih < 0 || ih >= cg->h || iw < 0 || iw >= cg->w)
        return 0;
    return ref_ld(dt, x, x_at(cg, n, c, ih, iw));
}

/* y[n, o, oh, ow] = bias[o] + Σ_{ci, ki, kj} x[n, g cin + ci, ih, iw] w[o, ci, ki, kj],
 * ih = oh sh - ph + ki dh, iw = ow sw - pw + kj dw, g = o / cout; padding reads zero.
 * The bias comes first, as the CPU adds it before the products. */
void lg_ref_conv2d(lg_dtype dt, const lg_conv_geom *cg, const void *x, const void *w,
                   const void *bias, void *y, void *scratch)
{
    (void)scratch;
    for (int64_t n = 0; n < cg->n; n++)
        for (int64_t o = 0; o < cg->co; o++)
            for (int64_t oh = 0; oh < cg->ho; oh++)
                for (int64_t ow = 0; ow < cg->wo; ow++) {
                    int64_t g = o / cout_g(cg);
                    double s = bias ? ref_ld(dt, bias, o) : 0;
                    for (int64_t ci = 0; ci < cin_g(cg); ci++)
                        for (int64_t ki = 0; ki < cg->kh; ki++)
                            for (int64_t kj = 0; kj < cg->kw; kj++) {
                                int64_t ih = oh * cg->sh - cg->ph + ki * cg->dh;
                                int64_t iw = ow * cg->sw - cg->pw + kj * cg->dw;
                                s += x_or_pad(dt, cg, x, n, g * cin_g(cg) + ci, ih, iw) *
                                     ref_ld(dt, w, w_at(cg, o, ci, ki, kj));
                            }
                    ref_st(dt, y, y_at(cg, n, o, oh, ow), s);
                }
}

/* The output coordinate whose tap at offset `tap` reads input coordinate i:
 * i = out * stride - pad + tap, or -1 when no whole out in [0, nout) does. */
static int64_t out_of(int64_t i, int64_t tap, int64_t stride, int64_t pad, int64_t nout)
{
    int64_t t = i + pad - tap;
    if (t < 0 || t % stride)
        return -1;
    return t / stride < nout ? t / stride : -1;
}

/* dx[n, c, ih, iw] = Σ over the outputs (o, oh, ow) and taps (ki, kj) that read it of
 * dy[n, o, oh, ow] w[o, c - g cin, ki, kj]. */
void lg_ref_conv2d_input_grad(lg_dtype dt, const lg_conv_geom *cg, const void *dy,
                              const void *w, void *dx, void *scratch)
{
    (void)scratch;
    for (int64_t n = 0; n < cg->n; n++)
        for (int64_t c = 0; c < cg->c; c++)
            for (int64_t ih = 0; ih < cg->h; ih++)
                for (int64_t iw = 0; iw < cg->w; iw++) {
                    int64_t g = c / cin_g(cg), ci = c % cin_g(cg);
                    double s = 0;
                    for (int64_t o = g * cout_g(cg); o < (g + 1) * cout_g(cg); o++)
                        for (int64_t ki = 0; ki < cg->kh; ki++)
                            for (int64_t kj = 0; kj < cg->kw; kj++) {
                                int64_t oh = out_of(ih, ki * cg->dh, cg->sh, cg->ph, cg->ho);
                                int64_t ow = out_of(iw, kj * cg->dw, cg->sw, cg->pw, cg->wo);
                                if (oh < 0 || ow < 0)
                                    continue;
                                s += ref_ld(dt, dy, y_at(cg, n, o, oh, ow)) *
                                     ref_ld(dt, w, w_at(cg, o, ci, ki, kj));
                            }
                    ref_st(dt, dx, x_at(cg, n, c, ih, iw), s);
                }
}

/* dw[o, ci, ki, kj] = Σ_{n, oh, ow} dy[n, o, oh, ow] x[n, g cin + ci, ih, iw]. */
void lg_ref_conv2d_weight_grad(lg_dtype dt, const lg_conv_geom *cg, const void *x,
                               const void *dy, void *dw, void *scratch)
{
    (void)scratch;
    for (int64_t o = 0; o < cg->co; o++)
        for (int64_t ci = 0; ci < cin_g(cg); ci++)
            for (int64_t ki = 0; ki < cg->kh; ki++)
                for (int64_t kj = 0; kj < cg->kw; kj++) {
                    int64_t c = o / cout_g(cg) * cin_g(cg) + ci;
                    double s = 0;
                    for (int64_t n = 0; n < cg->n; n++)
                        for (int64_t oh = 0; oh < cg->ho; oh++)
                            for (int64_t ow = 0; ow < cg->wo; ow++) {
                                int64_t ih = oh * cg->sh - cg->ph + ki * cg->dh;
                                int64_t iw = ow * cg->sw - cg->pw + kj * cg->dw;
                                s += ref_ld(dt, dy, y_at(cg, n, o, oh, ow)) *
                                     x_or_pad(dt, cg, x, n, c, ih, iw);
                            }
                    ref_st(dt, dw, w_at(cg, o, ci, ki, kj), s);
                }
}

void lg_ref_conv2d_bias_grad(lg_dtype dt, const lg_conv_geom *cg, const void *dy, void *db)
{
    for (int64_t o = 0; o < cg->co; o++) {
        double s = 0;
        for (int64_t n = 0; n < cg->n; n++)
            for (int64_t q = 0; q < cg->ho * cg->wo; q++)
                s += ref_ld(dt, dy, (n * cg->co + o) * cg->ho * cg->wo + q);
        ref_st(dt, db, o, s);
    }
}
