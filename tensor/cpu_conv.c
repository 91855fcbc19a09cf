/* CPU convolution: im2col then one GEMM per group and sample (forward), GEMM then col2im
 * (input gradient), im2col then GEMMs summed over samples (weight gradient). A sample's
 * columns (C*kh*kw, ho*wo) stay in the L2 cache between im2col and its GEMM. Large work
 * splits the samples over OpenMP threads, each with its own scratch; the weight gradient
 * sums the threads' partials in thread order, so results repeat at a fixed thread count. */
#include <omp.h>
#include <string.h>
#include "cpu_conv_impl.h"
#include "cpu_impl.h"

#define T float
#define NAME(x) x##_f32
#include "cpu_conv.inc"
#undef T
#undef NAME
#define T double
#define NAME(x) x##_f64
#include "cpu_conv.inc"
#undef T
#undef NAME

/* Below this many multiply-adds a convolution stays on one thread (about 0.1 ms). */
#define CONV_OMP_MIN_MACS ((int64_t)1 << 21)

static int64_t kdim(const lg_conv_geom *cg) { return cg->c * cg->kh * cg->kw; }
static int64_t odim(const lg_conv_geom *cg) { return cg->ho * cg->wo; }

/* A 1x1 kernel with stride 1 and no padding: the columns are x itself. */
static bool cols_are_x(const lg_conv_geom *cg)
{
    return cg->kh == 1 && cg->kw == 1 && cg->sh == 1 && cg->sw == 1 && cg->ph == 0 &&
           cg->pw == 0;
}

static int conv_threads(const lg_conv_geom *cg)
{
    int64_t macs = cg->n * cg->co * kdim(cg) / cg->groups * odim(cg);
    if (cg->n < 2 || macs < CONV_OMP_MIN_MACS)
        return 1;
    int nt = omp_get_max_threads();
    return nt > cg->n ? (int)cg->n : nt;
}

/* Per thread: the columns of one sample, then a partial weight gradient. */
static size_t align64(size_t b) { return (b + 63) & ~(size_t)63; }
static size_t cols_bytes(lg_dtype dt, const lg_conv_geom *cg)
{
    return align64((size_t)(kdim(cg) * odim(cg)) * lg_dtype_size(dt));
}
static size_t thread_bytes(lg_dtype dt, const lg_conv_geom *cg)
{
    size_t wgrad = (size_t)(cg->co * kdim(cg) / cg->groups) * lg_dtype_size(dt);
    return cols_bytes(dt, cg) + align64(wgrad);
}

size_t lg_cpu_conv2d_scratch(lg_dtype dt, const lg_conv_geom *cg)
{
    return (size_t)conv_threads(cg) * thread_bytes(dt, cg);
}

static void im2col(lg_dtype dt, const lg_conv_geom *cg, const void *x, void *cols)
{
    if (dt == LG_F32)
        im2col_f32(cg, x, cols);
    else
        im2col_f64(cg, x, cols);
}

static void col2im(lg_dtype dt, const lg_conv_geom *cg, void *cols, void *x)
{
    if (dt == LG_F32)
        col2im_f32(cg, cols, x);
    else
        col2im_f64(cg, cols, x);
}

/* p + i elements of dtype dt. */
static void *at(lg_dtype dt, const void *p, int64_t i)
{
    return (char *)p + (size_t)i * lg_dtype_size(dt);
}

/* Samples [n0, n1) of the forward: Y[n, g] (Cog, L) = W[g] (Cog, Kg) @ cols[g] (Kg, L),
 * with bias copied into Y first when given (then beta = 1). */
static void forward_range(lg_dtype dt, const lg_conv_geom *cg, const void *x, const void *w,
                          const void *bias, void *y, void *cols, int64_t n0, int64_t n1)
{
    int64_t K = kdim(cg), L = odim(cg), G = cg->groups, cog = cg->co / G, kg = K / G;
    for (int64_t n = n0; n < n1; n++) {
        const void *xn = at(dt, x, n * cg->c * cg->h * cg->w);
        void *yn = at(dt, y, n * cg->co * L);
        const void *cn = xn;
        if (!cols_are_x(cg)) {
            im2col(dt, cg, xn, cols);
            cn = cols;
        }
        if (bias && dt == LG_F32)
            fill_bias_f32(cg->co, L, bias, yn);
        else if (bias)
            fill_bias_f64(cg->co, L, bias, yn);
        for (int64_t gi = 0; gi < G; gi++)
            lg_cpu_gemm(dt, 0, 0, 1, cog, L, kg, 1.0, at(dt, w, gi * cog * kg), 0,
                        at(dt, cn, gi * kg * L), 0, bias ? 1.0 : 0.0,
                        at(dt, yn, gi * cog * L), 0);
    }
}

/* Samples [n0, n1) of the input gradient: dcols[g] (Kg, L) = W[g]ᵀ (Kg, Cog) @ dY[n, g]
 * (Cog, L), then dx[n] = col2im(dcols). */
static void input_grad_range(lg_dtype dt, const lg_conv_geom *cg, const void *dy,
                             const void *w, void *dx, void *cols, int64_t n0, int64_t n1)
{
    int64_t K = kdim(cg), L = odim(cg), G = cg->groups, cog = cg->co / G, kg = K / G;
    bool direct = cols_are_x(cg);
    for (int64_t n = n0; n < n1; n++) {
        const void *dyn = at(dt, dy, n * cg->co * L);
        void *dxn = at(dt, dx, n * cg->c * cg->h * cg->w);
        void *cn = direct ? dxn : cols;
        for (int64_t gi = 0; gi < G; gi++)
            lg_cpu_gemm(dt, 1, 0, 1, kg, L, cog, 1.0, at(dt, w, gi * cog * kg), 0,
                        at(dt, dyn, gi * cog * L), 0, 0.0, at(dt, cn, gi * kg * L), 0);
        if (!direct)
            col2im(dt, cg, cols, dxn);
    }
}

/* Samples [n0, n1) of the weight gradient into acc (Co, Kg):
 * acc[g] (Cog, Kg) = Σ_n dY[n, g] (Cog, L) @ cols[g]ᵀ (L, Kg); zeros when n0 == n1. */
static void weight_grad_range(lg_dtype dt, const lg_conv_geom *cg, const void *x,
                              const void *dy, void *acc, void *cols, int64_t n0, int64_t n1)
{
    int64_t K = kdim(cg), L = odim(cg), G = cg->groups, cog = cg->co / G, kg = K / G;
    if (n0 == n1)
        memset(acc, 0, (size_t)(cg->co * kg) * lg_dtype_size(dt));
    for (int64_t n = n0; n < n1; n++) {
        const void *xn = at(dt, x, n * cg->c * cg->h * cg->w);
        const void *cn = xn;
        if (!cols_are_x(cg)) {
            im2col(dt, cg, xn, cols);
            cn = cols;
        }
        for (int64_t gi = 0; gi < G; gi++)
            lg_cpu_gemm(dt, 0, 1, 1, cog, kg, L, 1.0, at(dt, dy, n * cg->co * L + gi * cog * L),
                        0, at(dt, cn, gi * kg * L), 0, n == n0 ? 0.0 : 1.0,
                        at(dt, acc, gi * cog * kg), 0);
    }
}

/* Thread t of nt takes samples [t n / nt, (t+1) n / nt). */
static int64_t split(int64_t n, int t, int nt) { return n * t / nt; }

void lg_cpu_conv2d(lg_dtype dt, const lg_conv_geom *cg, const void *x, const void *w,
                   const void *bias, void *y, void *scratch)
{
    int nt = conv_threads(cg);
    if (nt == 1) {
        forward_range(dt, cg, x, w, bias, y, scratch, 0, cg->n);
        return;
    }
    size_t tb = thread_bytes(dt, cg);
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), nteam = omp_get_num_threads();
        forward_range(dt, cg, x, w, bias, y, (char *)scratch + (size_t)t * tb,
                      split(cg->n, t, nteam), split(cg->n, t + 1, nteam));
    }
}

void lg_cpu_conv2d_input_grad(lg_dtype dt, const lg_conv_geom *cg, const void *dy,
                              const void *w, void *dx, void *scratch)
{
    int nt = conv_threads(cg);
    if (nt == 1) {
        input_grad_range(dt, cg, dy, w, dx, scratch, 0, cg->n);
        return;
    }
    size_t tb = thread_bytes(dt, cg);
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), nteam = omp_get_num_threads();
        input_grad_range(dt, cg, dy, w, dx, (char *)scratch + (size_t)t * tb,
                         split(cg->n, t, nteam), split(cg->n, t + 1, nteam));
    }
}

void lg_cpu_conv2d_weight_grad(lg_dtype dt, const lg_conv_geom *cg, const void *x,
                               const void *dy, void *dw, void *scratch)
{
    int nt = conv_threads(cg);
    if (nt == 1) {
        weight_grad_range(dt, cg, x, dy, dw, scratch, 0, cg->n);
        return;
    }
    size_t tb = thread_bytes(dt, cg), cb = cols_bytes(dt, cg);
    int64_t nw = cg->co * kdim(cg) / cg->groups;
    int used = nt;
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), nteam = omp_get_num_threads();
        char *mine = (char *)scratch + (size_t)t * tb;
        /* Thread 0 writes dw itself; the others their partials after their columns. */
        weight_grad_range(dt, cg, x, dy, t == 0 ? dw : mine + cb, mine,
                          split(cg->n, t, nteam), split(cg->n, t + 1, nteam));
#pragma omp single
        used = nteam;
    }
    for (int t = 1; t < used; t++) {
        const void *part = (char *)scratch + (size_t)t * tb + cb;
        if (dt == LG_F32)
            add_into_f32(nw, part, dw);
        else
            add_into_f64(nw, part, dw);
    }
}
