/* CPU convolution: im2col then one GEMM per group and chunk of samples (forward), GEMM
 * then col2im per sample (input gradient), im2col then GEMMs summed over samples (weight
 * gradient). The columns (C*kh*kw, ho*wo per sample) stay in the L2 cache between im2col
 * and their GEMM: one GEMM over the whole batch's columns measured slower. Large work
 * splits the samples over OpenMP threads, each with its own scratch; the weight gradient
 * sums the threads' partials in thread order, so results repeat at a fixed thread count. */
#include <omp.h>
#include <string.h>
#include "cpu_conv_impl.h"
#include "cpu_impl.h"

/* Lanes of the bias gradient's plane sums: one 64-byte vector of f32. */
#define BIAS_LANES 16

/* The bias gradient's range arguments (cpu_conv.inc). */
typedef struct bias_grad_args {
    const lg_conv_geom *cg;
    const void *dy;
    void *db;
} bias_grad_args;

#define LG_CPU_KERNELS "cpu_conv.inc"
#include "cpu_each_type.h"

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

/* The forward runs CHUNK_COLS or so output columns per GEMM: ceil(CHUNK_COLS / (ho wo))
 * samples side by side, so W is packed once per chunk. At x (64,32,14,14), 3x3, the whole
 * forward took 2.60 ms (w 32 channels) and 3.68 ms (64) one sample per GEMM, 2.45 and 3.55
 * at 512 (3 samples), 2.59 and 3.84 at 1024, where the chunk's columns outgrow the cache.
 * The gradients stay per sample: their GEMMs would need dY regrouped first. */
#define CHUNK_COLS 512

static int64_t chunk(const lg_conv_geom *cg)
{
    int64_t L = odim(cg), nb = (CHUNK_COLS + L - 1) / L;
    if (cols_are_x(cg)) /* x itself is the columns: no copy to batch into */
        nb = 1;
    return nb < cg->n ? nb : (cg->n > 0 ? cg->n : 1);
}

/* Per thread, the larger of: the forward's columns (K, nb L) and GEMM output (Co, nb L);
 * the gradients' columns of one sample (K, L) and a partial weight gradient. */
static size_t align64(size_t b) { return (b + 63) & ~(size_t)63; }
static size_t cols_bytes(lg_dtype dt, const lg_conv_geom *cg)
{
    return align64((size_t)(kdim(cg) * odim(cg)) * lg_dtype_size(dt));
}
static size_t thread_bytes(lg_dtype dt, const lg_conv_geom *cg)
{
    size_t es = lg_dtype_size(dt), wide = (size_t)(chunk(cg) * odim(cg));
    size_t fwd = align64((size_t)kdim(cg) * wide * es) + align64((size_t)cg->co * wide * es);
    size_t grad = cols_bytes(dt, cg) + align64((size_t)(cg->co * kdim(cg) / cg->groups) * es);
    return fwd > grad ? fwd : grad;
}

size_t lg_cpu_conv2d_scratch(lg_dtype dt, const lg_conv_geom *cg)
{
    return (size_t)conv_threads(cg) * thread_bytes(dt, cg);
}

static void im2col(lg_dtype dt, const lg_conv_geom *cg, const void *x, void *cols, int64_t ld)
{
    if (dt == LG_F32)
        im2col_f32(cg, x, cols, ld);
    else
        im2col_f64(cg, x, cols, ld);
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

/* Samples [n0, n1) of the forward, nb at a time: cols (K, m L) holds m samples' columns
 * side by side, then per group Y[g] (Cog, m L) = W[g] (Cog, Kg) @ cols[g] (Kg, m L), and
 * the result goes back to (m, Co, L) with the bias added. One sample at a time (m = 1)
 * the GEMM writes y directly, over the bias copied there first (beta = 1). */
static void forward_range(lg_dtype dt, const lg_conv_geom *cg, const void *x, const void *w,
                          const void *bias, void *y, void *scratch, int64_t n0, int64_t n1)
{
    int64_t K = kdim(cg), L = odim(cg), G = cg->groups, cog = cg->co / G, kg = K / G;
    int64_t nb = chunk(cg);
    void *cols = scratch;
    void *tmp = (char *)scratch + align64((size_t)(K * nb * L) * lg_dtype_size(dt));
    for (int64_t n = n0; n < n1; n += nb) {
        int64_t m = n1 - n < nb ? n1 - n : nb, ld = m * L;
        void *yn = at(dt, y, n * cg->co * L);
        const void *cn = at(dt, x, n * cg->c * cg->h * cg->w);
        if (!cols_are_x(cg)) {
            for (int64_t j = 0; j < m; j++)
                im2col(dt, cg, at(dt, x, (n + j) * cg->c * cg->h * cg->w), at(dt, cols, j * L),
                       ld);
            cn = cols;
        }
        void *out = m == 1 ? yn : tmp;
        if (m == 1 && bias && dt == LG_F32)
            fill_bias_f32(cg->co, L, bias, yn);
        else if (m == 1 && bias)
            fill_bias_f64(cg->co, L, bias, yn);
        for (int64_t gi = 0; gi < G; gi++)
            lg_cpu_gemm(dt, 0, 0, 1, cog, ld, kg, 1.0, at(dt, w, gi * cog * kg), 0,
                        at(dt, cn, gi * kg * ld), 0, m == 1 && bias ? 1.0 : 0.0,
                        at(dt, out, gi * cog * ld), 0);
        if (m > 1 && dt == LG_F32)
            unchunk_f32(m, cg->co, L, tmp, bias, yn);
        else if (m > 1)
            unchunk_f64(m, cg->co, L, tmp, bias, yn);
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
            im2col(dt, cg, xn, cols, L);
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

void lg_cpu_conv2d_bias_grad(lg_dtype dt, const lg_conv_geom *cg, const void *dy, void *db)
{
    /* One channel per iteration: each sum has a fixed order at any thread count. */
    bias_grad_args a = {cg, dy, db};
    lg_cpu_parallel_range(cg->co, cg->n * cg->co * cg->ho * cg->wo >= LG_OMP_MIN,
                          dt == LG_F32 ? bias_grad_f32 : bias_grad_f64, &a);
}
