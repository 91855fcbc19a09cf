/* CPU batch-norm kernels of lg_cpu_backend(): the fused training forward (batch
 * statistics and the normalised output) and the fused backward, per channel of an
 * (N, C, S) view. Their contract is on the backend table entries in backend_impl.h. */
#include <math.h>
#include <omp.h>
#include <string.h>
#include "cpu_conv_impl.h"

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

static int64_t block_channels(lg_bn_dims d, size_t es)
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
    LG_CPU_CLONES static void bn_forward_block_##T(lg_bn_dims d, int64_t c0, int64_t c1,      \
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
    static void bn_forward_##T(lg_bn_dims d, const T *x, const T *gamma, const T *beta,       \
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
    LG_CPU_CLONES static void bn_backward_block_##T(lg_bn_dims d, int64_t c0, int64_t c1,     \
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
    static void bn_backward_##T(lg_bn_dims d, const T *gy, const T *x, const T *gamma,        \
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

void lg_cpu_bn_forward(lg_dtype dt, const lg_bn_dims *d, const void *x, const void *gamma,
                       const void *beta, double eps, void *y, void *mean, void *rstd,
                       double *var)
{
    if (dt == LG_F32)
        bn_forward_float(*d, x, gamma, beta, eps, y, mean, rstd, var);
    else
        bn_forward_double(*d, x, gamma, beta, eps, y, mean, rstd, var);
}

void lg_cpu_bn_backward(lg_dtype dt, const lg_bn_dims *d, const void *gy, const void *x,
                        const void *gamma, const void *mean, const void *rstd, void *dx,
                        void *dgamma, void *dbeta)
{
    if (dt == LG_F32)
        bn_backward_float(*d, gy, x, gamma, mean, rstd, dx, dgamma, dbeta);
    else
        bn_backward_double(*d, gy, x, gamma, mean, rstd, dx, dgamma, dbeta);
}
