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

/* The arguments of both passes' block loops; each reads the fields it needs. The mean and
 * rstd are written by the forward and read by the backward. */
typedef struct bn_args {
    lg_bn_dims d;
    int64_t cb; /* channels per block */
    const void *x, *gamma, *beta, *gy;
    double eps;
    void *y, *mean, *rstd, *dx, *dgamma, *dbeta;
    void *var; /* the biased variance, of dt */
} bn_args;

#define LG_CPU_KERNELS "cpu_batchnorm.inc"
#include "cpu_each_type.h"

/* Blocks go to the threads when there are several and enough values in all. */
static void run_blocks(const lg_bn_dims *d, lg_range_fn blocks, bn_args *a)
{
    int64_t nb = (d->c + a->cb - 1) / a->cb;
    lg_cpu_parallel_range(nb, d->n * d->c * d->s >= LG_OMP_MIN && nb > 1, blocks, a);
}

void lg_cpu_bn_forward(lg_dtype dt, const lg_bn_dims *d, const void *x, const void *gamma,
                       const void *beta, double eps, void *y, void *mean, void *rstd,
                       void *var)
{
    bn_args a = {.d = *d, .cb = block_channels(*d, lg_dtype_size(dt)), .x = x,
                 .gamma = gamma, .beta = beta, .eps = eps, .y = y, .mean = mean,
                 .rstd = rstd, .var = var};
    run_blocks(d, dt == LG_F32 ? bn_forward_blocks_f32 : bn_forward_blocks_f64, &a);
}

void lg_cpu_bn_backward(lg_dtype dt, const lg_bn_dims *d, const void *gy, const void *x,
                        const void *gamma, const void *mean, const void *rstd, void *dx,
                        void *dgamma, void *dbeta)
{
    bn_args a = {.d = *d, .cb = block_channels(*d, lg_dtype_size(dt)), .x = x,
                 .gamma = gamma, .gy = gy, .mean = (void *)mean, .rstd = (void *)rstd,
                 .dx = dx, .dgamma = dgamma, .dbeta = dbeta};
    run_blocks(d, dt == LG_F32 ? bn_backward_blocks_f32 : bn_backward_blocks_f64, &a);
}
