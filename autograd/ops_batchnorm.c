/* Batch normalisation over (N, C) or (N, C, H, W), per channel C: the fused training
 * forward (batch statistics, running-statistics update), its fused backward op with an
 * analytic VJP written in lagrad ops (so every order differentiates), and eval mode as a
 * composition of ops. Pooling, conv and flatten live in their own files. */
#include <math.h>
#include <omp.h>
#include <string.h>
#include "ops_impl.h"

/* A (N, C, S) view of x, S = H*W (1 for (N, C)): element (n, c, s) at (n*C + c)*S + s. */
typedef struct bn_dims {
    int64_t n, c, s, m; /* m = n*s: values per channel */
} bn_dims;

static bn_dims dims_of(const lg_tensor *x)
{
    bn_dims d = {x->shape[0], x->shape[1], 1, 0};
    for (int i = 2; i < x->ndim; i++)
        d.s *= x->shape[i];
    d.m = d.n * d.s;
    return d;
}

/* Per-channel (C) tensors broadcast against x: shape (1, C) or (1, C, 1, 1). */
static lg_tensor *as_channels(lg_graph *g, lg_tensor *t, const lg_tensor *x)
{
    int64_t shape[4] = {1, x->shape[1], 1, 1};
    return lg_reshape(g, t, x->ndim, shape);
}

/* Σ over every axis but the channel axis, kept as (1, C) or (1, C, 1, 1). */
static lg_tensor *chan_sum(lg_graph *g, lg_tensor *t)
{
    if (t && t->ndim == 4)
        t = lg_sum_axis(g, lg_sum_axis(g, t, 3, true), 2, true);
    return lg_sum_axis(g, t, 0, true);
}

static lg_tensor *chan_mean(lg_graph *g, lg_tensor *t, bn_dims d)
{
    return lg_scale(g, chan_sum(g, t), 1.0 / (double)d.m);
}

static lg_tensor *as_vector(lg_graph *g, lg_tensor *t)
{
    return t ? lg_reshape(g, t, 1, &t->shape[1]) : NULL;
}

/* ---- kernels: one channel per iteration ----
 * The sums run over one (n, c) plane at a time in LANES independent accumulators of T
 * (locals, so the compiler vectorises them), and the planes' sums add up in double: the
 * order is fixed, so results do not depend on the thread count. The statistics take one
 * pass (plus one over the first plane): the sums of e = x - K and e², shifted by K = the
 * mean of the channel's first (H, W) plane, give mean = K + Σe/M and
 * var = Σe²/M - (Σe/M)²; K is within a few standard deviations of the mean, so the
 * subtraction loses little, and the shift keeps a large mean against a small spread
 * exact enough in f32. The
 * per-channel functions are CPU clones (LG_CPU_CLONES): SSE2 converts and sums 4 floats
 * at a time, AVX-512 16. */
#define LANES 16

/* Channels are processed in blocks, sample by sample within a block: for each sample
 * the block's planes are one contiguous run (at least BN_RUN_BYTES, which the hardware
 * prefetcher follows; one plane at a time, a channel's planes lie a whole sample apart
 * and every plane started with cache misses), while the whole block (under
 * BN_BLOCK_BYTES per tensor: the backward rereads gy and x) stays in L2 between the
 * passes; in the CNN's profile the backward's share went 8.6% -> 7.0% from 1 MiB to
 * 512 KiB, and 256 KiB gave no more. Each channel still sums its planes
 * in sample order, so blocks change no result. */
#define BN_BLOCK_MAX 64
#define BN_RUN_BYTES 16384
#define BN_BLOCK_BYTES (1 << 19)

static int64_t block_channels(bn_dims d, size_t es)
{
    int64_t plane = d.s * (int64_t)es, cb = (BN_RUN_BYTES + plane - 1) / plane;
    while (cb > 1 && d.n * cb * plane > BN_BLOCK_BYTES)
        cb--;
    if (cb > BN_BLOCK_MAX)
        cb = BN_BLOCK_MAX;
    if (cb > d.c)
        cb = d.c;
    if (d.n * d.c * d.s < LG_OMP_MIN)
        return cb;
    /* Threaded: a whole number of equal blocks per thread (32 channels in blocks of 5
     * gave one of two threads 4 blocks, the other 3). */
    int64_t nt = omp_get_max_threads(), nb = (d.c + cb - 1) / cb;
    nb = (nb + nt - 1) / nt * nt;
    cb = (d.c + nb - 1) / nb;
    return cb > 0 ? cb : 1;
}

#define BN_KERNELS(T)                                                                      \
    /* LANES values of T as one GNU C vector: the compiler keeps it in registers (one      \
     * zmm, or several narrower ones) and does not reorder the sums. */                    \
    typedef T vec_##T __attribute__((vector_size(LANES * sizeof(T))));                     \
                                                                                           \
    /* Σ of the lanes in double (by pointer: a vector argument would change the ABI        \
     * between the clones). */                                                             \
    static inline double hsum_##T(const vec_##T *v)                                        \
    {                                                                                      \
        double s = 0;                                                                      \
        for (int k = 0; k < LANES; k++)                                                    \
            s += (double)(*v)[k];                                                          \
        return s;                                                                          \
    }                                                                                      \
                                                                                           \
    /* Adds Σ (p[i] - shift) to *sum and Σ (p[i] - shift)² to *sq over len elements. */    \
    static inline void sums_##T(const T *restrict p, int64_t len, T shift, double *sum,    \
                                double *sq)                                                \
    {                                                                                      \
        vec_##T a = {0}, a2 = {0};                                                         \
        int64_t i = 0;                                                                     \
        for (; i + LANES <= len; i += LANES) {                                             \
            vec_##T e;                                                                     \
            memcpy(&e, p + i, sizeof e);                                                   \
            e -= shift;                                                                    \
            a += e;                                                                        \
            a2 += e * e;                                                                   \
        }                                                                                  \
        for (int k = 0; i < len; i++, k++) {                                               \
            T e = p[i] - shift;                                                            \
            a[k] += e;                                                                     \
            a2[k] += e * e;                                                                \
        }                                                                                  \
        *sum += hsum_##T(&a);                                                              \
        *sq += hsum_##T(&a2);                                                              \
    }                                                                                      \
                                                                                           \
    /* Adds Σ g[i] to *sg and Σ g[i] (x[i] - mu) to *sgx over len elements. */             \
    static inline void dot_sums_##T(const T *restrict g, const T *restrict x, int64_t len, \
                                    T mu, double *sg, double *sgx)                         \
    {                                                                                      \
        vec_##T a = {0}, b = {0};                                                          \
        int64_t i = 0;                                                                     \
        for (; i + LANES <= len; i += LANES) {                                             \
            vec_##T gv, xv;                                                                \
            memcpy(&gv, g + i, sizeof gv);                                                 \
            memcpy(&xv, x + i, sizeof xv);                                                 \
            a += gv;                                                                       \
            b += gv * (xv - mu);                                                           \
        }                                                                                  \
        for (int k = 0; i < len; i++, k++) {                                               \
            a[k] += g[i];                                                                  \
            b[k] += g[i] * (x[i] - mu);                                                    \
        }                                                                                  \
        *sg += hsum_##T(&a);                                                               \
        *sgx += hsum_##T(&b);                                                              \
    }                                                                                      \
                                                                                           \
    /* Channels [c0, c1): mean[c], rstd[c] = 1/sqrt(var + eps) and var[c] (biased);        \
     * y = (x - mean) a + b with a = rstd gamma, b = beta. */                              \
    LG_CPU_CLONES static void bn_forward_block_##T(bn_dims d, int64_t c0, int64_t c1,      \
                                                   const T *x, const T *gamma,             \
                                                   const T *beta, double eps, T *y,        \
                                                   T *mean, T *rstd, double *var)          \
    {                                                                                      \
        double sum[BN_BLOCK_MAX], sq[BN_BLOCK_MAX];                                        \
        T shift[BN_BLOCK_MAX], a[BN_BLOCK_MAX], b[BN_BLOCK_MAX];                           \
        for (int64_t c = c0; c < c1; c++) { /* the shift: plane 0's mean */                \
            double s0 = 0, q0 = 0;                                                         \
            sums_##T(x + c * d.s, d.s, 0, &s0, &q0);                                       \
            shift[c - c0] = (T)(s0 / (double)d.s);                                         \
            sum[c - c0] = sq[c - c0] = 0;                                                  \
        }                                                                                  \
        for (int64_t n = 0; n < d.n; n++)                                                  \
            for (int64_t c = c0; c < c1; c++)                                              \
                sums_##T(x + (n * d.c + c) * d.s, d.s, shift[c - c0], &sum[c - c0],        \
                         &sq[c - c0]);                                                     \
        for (int64_t c = c0; c < c1; c++) {                                                \
            double dm = sum[c - c0] / (double)d.m, mu = (double)shift[c - c0] + dm;        \
            double v = sq[c - c0] / (double)d.m - dm * dm;                                 \
            v = v > 0 ? v : 0;                                                             \
            double r = 1.0 / sqrt(v + eps);                                                \
            mean[c] = (T)mu;                                                               \
            rstd[c] = (T)r;                                                                \
            var[c] = v;                                                                    \
            a[c - c0] = (T)(r * (double)gamma[c]);                                         \
            b[c - c0] = beta[c];                                                           \
        }                                                                                  \
        for (int64_t n = 0; n < d.n; n++)                                                  \
            for (int64_t c = c0; c < c1; c++) {                                            \
                const T *restrict p = x + (n * d.c + c) * d.s;                             \
                T *restrict q = y + (n * d.c + c) * d.s;                                   \
                T mt = mean[c], ac = a[c - c0], bc = b[c - c0];                            \
                for (int64_t i = 0; i < d.s; i++)                                          \
                    q[i] = (p[i] - mt) * ac + bc;                                          \
            }                                                                              \
    }                                                                                      \
                                                                                           \
    static void bn_forward_##T(bn_dims d, const T *x, const T *gamma, const T *beta,       \
                               double eps, T *y, T *mean, T *rstd, double *var)            \
    {                                                                                      \
        int64_t cb = block_channels(d, sizeof(T)), nb = (d.c + cb - 1) / cb;               \
        LG_PARALLEL_IF(d.n * d.c * d.s >= LG_OMP_MIN && nb > 1,                            \
            for (int64_t k = 0; k < nb; k++)                                               \
                bn_forward_block_##T(d, k * cb, k * cb + cb < d.c ? k * cb + cb : d.c, x,  \
                                     gamma, beta, eps, y, mean, rstd, var););              \
    }                                                                                      \
                                                                                           \
    /* Channels [c0, c1): dbeta = Σ gy, dgamma = Σ gy xhat,                                \
     * dx = gamma rstd (gy - dbeta/M - xhat dgamma/M), xhat = (x - mean) rstd: two passes  \
     * over gy and x. */                                                                   \
    LG_CPU_CLONES static void bn_backward_block_##T(bn_dims d, int64_t c0, int64_t c1,     \
                                                    const T *gy, const T *x,               \
                                                    const T *gamma, const T *mean,         \
                                                    const T *rstd, T *dx, T *dgamma,       \
                                                    T *dbeta)                              \
    {                                                                                      \
        double sg[BN_BLOCK_MAX] = {0}, sgx[BN_BLOCK_MAX] = {0};                            \
        T k1[BN_BLOCK_MAX], k2[BN_BLOCK_MAX], k0[BN_BLOCK_MAX];                            \
        for (int64_t n = 0; n < d.n; n++)                                                  \
            for (int64_t c = c0; c < c1; c++)                                              \
                dot_sums_##T(gy + (n * d.c + c) * d.s, x + (n * d.c + c) * d.s, d.s,       \
                             mean[c], &sg[c - c0], &sgx[c - c0]);                          \
        for (int64_t c = c0; c < c1; c++) {                                                \
            double r = (double)rstd[c], kg = (double)gamma[c] * r, m = (double)d.m;        \
            k1[c - c0] = (T)kg;                                                            \
            k2[c - c0] = (T)(-kg * r * r * sgx[c - c0] / m);                               \
            k0[c - c0] = (T)(-kg * sg[c - c0] / m);                                        \
            dgamma[c] = (T)(sgx[c - c0] * r);                                              \
            dbeta[c] = (T)sg[c - c0];                                                      \
        }                                                                                  \
        for (int64_t n = 0; n < d.n; n++)                                                  \
            for (int64_t c = c0; c < c1; c++) {                                            \
                const T *restrict pg = gy + (n * d.c + c) * d.s;                           \
                const T *restrict px = x + (n * d.c + c) * d.s;                            \
                T *restrict q = dx + (n * d.c + c) * d.s;                                  \
                T mt = mean[c], a1 = k1[c - c0], a2 = k2[c - c0], a0 = k0[c - c0];         \
                for (int64_t i = 0; i < d.s; i++)                                          \
                    q[i] = a1 * pg[i] + a2 * (px[i] - mt) + a0;                            \
            }                                                                              \
    }                                                                                      \
                                                                                           \
    static void bn_backward_##T(bn_dims d, const T *gy, const T *x, const T *gamma,        \
                                const T *mean, const T *rstd, T *dx, T *dgamma, T *dbeta)  \
    {                                                                                      \
        int64_t cb = block_channels(d, sizeof(T)), nb = (d.c + cb - 1) / cb;               \
        LG_PARALLEL_IF(d.n * d.c * d.s >= LG_OMP_MIN && nb > 1,                            \
            for (int64_t k = 0; k < nb; k++)                                               \
                bn_backward_block_##T(d, k * cb, k * cb + cb < d.c ? k * cb + cb : d.c,    \
                                      gy, x, gamma, mean, rstd, dx, dgamma, dbeta););      \
    }

BN_KERNELS(float)
BN_KERNELS(double)

/* ---- the fused backward op ---- */

static lg_tensor *bn_backward(lg_graph *g, lg_tensor *gy, lg_tensor *x, lg_tensor *gamma,
                              lg_tensor *mean, lg_tensor *rstd, double eps, lg_tensor **dgamma,
                              lg_tensor **dbeta);

/* x̂ = (x - μ) r and r = (var + eps)^-½ rebuilt from x with ops, so that what the VJP
 * below computes from them differentiates again. */
static void xhat_ops(lg_graph *g, lg_tensor *x, bn_dims d, double eps, lg_tensor **xhat,
                     lg_tensor **r)
{
    lg_tensor *xc = lg_sub(g, x, chan_mean(g, x, d));
    *r = lg_pow_scalar(g, lg_add_scalar(g, chan_mean(g, lg_mul(g, xc, xc), d), eps), -0.5);
    *xhat = lg_mul(g, xc, *r);
}

/* (dx, dγ, dβ) = B(gy, x, γ) above; per channel, with M values, P(v) = r (v - mean(v)
 * - x̂ mean(v x̂)) the projection through which the batch statistics act, dx = γ P(gy),
 * dγ = Σ gy x̂, dβ = Σ gy. For incoming gradients A (of dx, shape of x), Bγ, Bβ (C):
 *   d gy += γ P(A) + Bγ x̂ + Bβ                    (γ P(A) is B(A, x, γ)'s dx)
 *   d γ  += Σ A P(gy)
 *   d x  += Bγ P(gy) - γ r²/M [x̂ (Σ A gy - ΣA Σgy/M - 3 Σgy x̂ Σ A x̂/M)
 *                               + (gy - mean gy) Σ A x̂ + (A - mean A) Σ gy x̂]
 * (the derivative of <A, γ P(gy)> through r and x̂; cf. PyTorch's
 * batchnorm_double_backward). */
static void bn_backward_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    lg_tensor *g0 = n->in[0], *x = n->in[1], *gamma = n->in[2];
    lg_tensor *a = gy[0], *bg = gy[1], *bb = gy[2];
    bn_dims d = dims_of(x);
    double m = (double)d.m;
    lg_tensor *xhat, *r, *ones = lg_graph_full(g, x->dtype, 1, &d.c, 1.0);
    xhat_ops(g, x, d, n->f[0], &xhat, &r);
    lg_tensor *gam = as_channels(g, gamma, x), *skip;
    lg_tensor *sg = chan_sum(g, g0), *sgx = chan_sum(g, lg_mul(g, g0, xhat));
    /* P(gy), through the fused op with γ = 1 */
    lg_tensor *pg = (a || bg) ? bn_backward(g, g0, x, ones, n->saved[0], n->saved[1], n->f[0],
                                            &skip, &skip) : NULL;
    lg_tensor *dgy = NULL, *dx = NULL, *dgam = NULL;
    if (a) {
        dgy = bn_backward(g, a, x, gamma, n->saved[0], n->saved[1], n->f[0], &skip, &skip);
        dgam = as_vector(g, chan_sum(g, lg_mul(g, a, pg)));
        lg_tensor *sa = chan_sum(g, a), *sax = chan_sum(g, lg_mul(g, a, xhat));
        lg_tensor *s1 = lg_sub(g, chan_sum(g, lg_mul(g, a, g0)), lg_scale(g, lg_mul(g, sa, sg),
                                                                          1.0 / m));
        lg_tensor *coef = lg_sub(g, s1, lg_scale(g, lg_mul(g, sgx, sax), 3.0 / m));
        lg_tensor *t = lg_mul(g, xhat, coef);
        t = lg_add(g, t, lg_mul(g, lg_sub(g, g0, lg_scale(g, sg, 1.0 / m)), sax));
        t = lg_add(g, t, lg_mul(g, lg_sub(g, a, lg_scale(g, sa, 1.0 / m)), sgx));
        dx = lg_mul(g, t, lg_scale(g, lg_mul(g, gam, lg_mul(g, r, r)), -1.0 / m));
    }
    if (bg) {
        lg_tensor *bgc = as_channels(g, bg, x);
        lg_tensor *t = lg_mul(g, xhat, bgc);
        dgy = dgy ? lg_add(g, dgy, t) : t;
        t = lg_mul(g, pg, bgc);
        dx = dx ? lg_add(g, dx, t) : t;
    }
    if (bb) {
        lg_tensor *t = lg_broadcast_to(g, as_channels(g, bb, x), x->ndim, x->shape);
        dgy = dgy ? lg_add(g, dgy, t) : t;
    }
    if (lg_needs_grad(n, 0))
        gx[0] = dgy;
    if (lg_needs_grad(n, 1))
        gx[1] = dx;
    if (lg_needs_grad(n, 2))
        gx[2] = dgam;
}
static const lg_op BN_BWD = {"lg_batch_norm_backward", bn_backward_vjp};

/* Returns dx and sets *dgamma, *dbeta (C); mean and rstd are the forward's (C) values,
 * computed with eps. */
static lg_tensor *bn_backward(lg_graph *g, lg_tensor *gy, lg_tensor *x, lg_tensor *gamma,
                              lg_tensor *mean, lg_tensor *rstd, double eps, lg_tensor **dgamma,
                              lg_tensor **dbeta)
{
    lg_tensor *in[3] = {gy, x, gamma};
    *dgamma = *dbeta = NULL;
    if (!lg_check_inputs(g, BN_BWD.name, 3, in) || !mean || !rstd)
        return NULL;
    bn_dims d = dims_of(x);
    lg_tensor *dx = lg_graph_tensor(g, x->dtype, x->ndim, x->shape);
    lg_tensor *dg = lg_graph_tensor(g, x->dtype, 1, &d.c);
    lg_tensor *db = lg_graph_tensor(g, x->dtype, 1, &d.c);
    if (!dx || !dg || !db)
        return NULL;
    if (x->dtype == LG_F32)
        bn_backward_float(d, gy->data, x->data, gamma->data, mean->data, rstd->data, dx->data,
                          dg->data, db->data);
    else
        bn_backward_double(d, gy->data, x->data, gamma->data, mean->data, rstd->data, dx->data,
                           dg->data, db->data);
    lg_tensor *out[3] = {dx, dg, db};
    lg_node *n = lg_record(g, &BN_BWD, 3, in, 3, out);
    if (n) {
        n->saved[0] = mean;
        n->saved[1] = rstd;
        n->f[0] = eps;
    }
    *dgamma = dg;
    *dbeta = db;
    return g->status == LG_OK ? dx : NULL;
}

/* ---- the training forward ---- */

/* y = γ x̂ + β with batch statistics: (dx, dγ, dβ) = B(dy, x, γ), the fused op above. */
static void bn_train_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    lg_tensor *dg, *db;
    lg_tensor *dx = bn_backward(g, gy[0], n->in[0], n->in[1], n->saved[0], n->saved[1],
                                n->f[0], &dg, &db);
    if (lg_needs_grad(n, 0))
        gx[0] = dx;
    if (lg_needs_grad(n, 1))
        gx[1] = dg;
    if (lg_needs_grad(n, 2))
        gx[2] = db;
}
static const lg_op BN_TRAIN = {"lg_batch_norm", bn_train_vjp};

/* running = (1 - momentum) running + momentum stat, with the unbiased variance. */
static void update_running(lg_tensor *rm, lg_tensor *rv, const lg_tensor *mean,
                           const double *var, bn_dims d, double momentum)
{
    double unbias = (double)d.m / (double)(d.m - 1);
    for (int64_t c = 0; c < d.c; c++) {
        double m0 = lg_load(rm->data, rm->dtype, c), v0 = lg_load(rv->data, rv->dtype, c);
        lg_store(rm->data, rm->dtype, c,
                 (1 - momentum) * m0 + momentum * lg_load(mean->data, mean->dtype, c));
        lg_store(rv->data, rv->dtype, c, (1 - momentum) * v0 + momentum * var[c] * unbias);
    }
}

static lg_tensor *bn_train(lg_graph *g, lg_tensor *x, lg_tensor *gamma, lg_tensor *beta,
                           lg_tensor *rm, lg_tensor *rv, double momentum, double eps)
{
    bn_dims d = dims_of(x);
    if (d.m < 2)
        return lg_fail(g, LG_ERR_SHAPE, "lg_batch_norm: training needs more than one value "
                       "per channel, got input %s", lg_tshape(x).s);
    lg_tensor *y = lg_graph_tensor(g, x->dtype, x->ndim, x->shape);
    lg_tensor *mean = lg_graph_tensor(g, x->dtype, 1, &d.c);
    lg_tensor *rstd = lg_graph_tensor(g, x->dtype, 1, &d.c);
    double *var = lg_arena_alloc(g, sizeof *var * (size_t)d.c, "lg_batch_norm");
    if (!y || !mean || !rstd || !var)
        return NULL;
    if (x->dtype == LG_F32)
        bn_forward_float(d, x->data, gamma->data, beta->data, eps, y->data, mean->data,
                         rstd->data, var);
    else
        bn_forward_double(d, x->data, gamma->data, beta->data, eps, y->data, mean->data,
                          rstd->data, var);
    lg_tensor *in[3] = {x, gamma, beta};
    lg_node *n = lg_record(g, &BN_TRAIN, 3, in, 1, &y);
    if (n) {
        n->saved[0] = mean;
        n->saved[1] = rstd;
        n->f[0] = eps;
    }
    if (g->status != LG_OK)
        return NULL;
    if (rm)
        update_running(rm, rv, mean, var, d, momentum);
    return y;
}

/* ---- eval mode ---- */

/* y = x s + (β - μ s) with s = γ / √(σ² + eps) from the running statistics (constants
 * here): a composition of ops, so γ and β get their gradients from mul and add. */
static lg_tensor *bn_eval(lg_graph *g, lg_tensor *x, lg_tensor *gamma, lg_tensor *beta,
                          const lg_tensor *rm, const lg_tensor *rv, double eps)
{
    int64_t c = x->shape[1];
    lg_tensor *rstd = lg_graph_tensor(g, x->dtype, 1, &c);
    lg_tensor *mean = lg_graph_tensor(g, x->dtype, 1, &c);
    if (!rstd || !mean)
        return NULL;
    for (int64_t i = 0; i < c; i++) {
        lg_store(rstd->data, x->dtype, i, 1.0 / sqrt(lg_load(rv->data, rv->dtype, i) + eps));
        lg_store(mean->data, x->dtype, i, lg_load(rm->data, rm->dtype, i));
    }
    lg_tensor *s = lg_mul(g, gamma, rstd);
    lg_tensor *shift = lg_sub(g, beta, lg_mul(g, mean, s));
    return lg_add(g, lg_mul(g, x, as_channels(g, s, x)), as_channels(g, shift, x));
}

/* ---- argument checks and dispatch ---- */

/* An optional per-channel tensor: NULL, or (C) of x's dtype. */
static bool check_channel_arg(lg_graph *g, const lg_tensor *t, const lg_tensor *x,
                              const char *what)
{
    const char *fn = "lg_batch_norm";
    if (!t)
        return true;
    if (t->ndim != 1 || t->shape[0] != x->shape[1]) {
        lg_fail(g, LG_ERR_SHAPE, "%s: %s must be (%lld) for input %s, got %s", fn, what,
                (long long)x->shape[1], lg_tshape(x).s, lg_tshape(t).s);
        return false;
    }
    if (t->dtype != x->dtype) {
        lg_fail(g, LG_ERR_DTYPE, "%s: %s is %s, x is %s", fn, what, lg_dtype_name(t->dtype),
                lg_dtype_name(x->dtype));
        return false;
    }
    return true;
}

/* The running statistics are buffers updated in place: caller-owned, not differentiated. */
static bool check_running(lg_graph *g, const lg_tensor *t, const lg_tensor *x, const char *what)
{
    if (!t)
        return true;
    if (t->graph) {
        lg_fail(g, LG_ERR_ARG, "lg_batch_norm: %s must be a caller-owned tensor, not a "
                "graph tensor", what);
        return false;
    }
    if (t->flags & LG_TF_REQUIRES_GRAD) {
        lg_fail(g, LG_ERR_ARG, "lg_batch_norm: %s requires grad; running statistics are "
                "buffers (freeze them)", what);
        return false;
    }
    return check_channel_arg(g, t, x, what);
}

static bool check_args(lg_graph *g, lg_tensor *x, lg_tensor *gamma, lg_tensor *beta,
                       lg_tensor *rm, lg_tensor *rv, double momentum, double eps)
{
    const char *fn = "lg_batch_norm";
    lg_tensor *opt[2] = {gamma, beta};
    if (!lg_check_inputs(g, fn, 1, &x))
        return false;
    for (int i = 0; i < 2; i++)
        if (opt[i] && !lg_check_inputs(g, fn, 1, &opt[i]))
            return false;
    if ((x->ndim != 2 && x->ndim != 4) || x->shape[1] < 1)
        return lg_fail(g, LG_ERR_SHAPE, "%s: x must be (N,C) or (N,C,H,W) with C >= 1, got %s",
                       fn, lg_tshape(x).s), false;
    if (!check_channel_arg(g, gamma, x, "gamma") || !check_channel_arg(g, beta, x, "beta") ||
        !check_running(g, rm, x, "running_mean") || !check_running(g, rv, x, "running_var"))
        return false;
    if (!rm != !rv)
        return lg_fail(g, LG_ERR_ARG, "%s: give both running_mean and running_var or neither",
                       fn), false;
    if (!g->training && !rm)
        return lg_fail(g, LG_ERR_ARG, "%s: eval mode needs running_mean and running_var", fn),
               false;
    if (!(momentum >= 0 && momentum <= 1))
        return lg_fail(g, LG_ERR_ARG, "%s: momentum must be in [0, 1], got %g", fn, momentum),
               false;
    if (!(eps >= 0 && isfinite(eps)))
        return lg_fail(g, LG_ERR_ARG, "%s: eps must be finite and >= 0, got %g", fn, eps),
               false;
    return true;
}

lg_tensor *lg_batch_norm(lg_graph *g, lg_tensor *x, lg_tensor *gamma, lg_tensor *beta,
                         lg_tensor *running_mean, lg_tensor *running_var, double momentum,
                         double eps)
{
    if (!check_args(g, x, gamma, beta, running_mean, running_var, momentum, eps))
        return NULL;
    int64_t c = x->shape[1];
    if (!gamma)
        gamma = lg_graph_full(g, x->dtype, 1, &c, 1.0);
    if (!beta)
        beta = lg_graph_full(g, x->dtype, 1, &c, 0.0);
    if (!gamma || !beta)
        return NULL;
    if (!g->training)
        return bn_eval(g, x, gamma, beta, running_mean, running_var, eps);
    return bn_train(g, x, gamma, beta, running_mean, running_var, momentum, eps);
}
