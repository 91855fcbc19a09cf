/* Internal: the CPU kernels that make up lg_cpu_backend(). */
#ifndef LAGRAD_CPU_IMPL_H
#define LAGRAD_CPU_IMPL_H

#include "../backend_impl.h"

/* Elementwise work below this many elements stays on one thread. */
#define LG_OMP_MIN 32768

/* Built for AVX-512, AVX2 and the baseline, picked at load time: for
 * the streaming kernels (conv, pooling, batch norm, the optimizer step), which SSE2 runs
 * 4 floats at a time. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__) && defined(__linux__)
#define LG_CPU_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LG_CPU_CLONES
#endif

/* Runs body(lo, hi, ctx) over [0, n): split in equal static chunks across the OpenMP
 * threads when `parallel` holds (callers pass n > LG_OMP_MIN or the like), else once on
 * the calling thread. Each element's result must not depend on its chunk, so results do
 * not depend on the thread count. */
typedef void (*lg_range_fn)(int64_t lo, int64_t hi, void *ctx);
void lg_cpu_parallel_range(int64_t n, int parallel, lg_range_fn body, void *ctx);

void lg_cpu_unary(lg_unary_kind k, lg_dtype dt, int64_t n, const void *x, void *y, double p);
void lg_cpu_binary(lg_binary_kind k, lg_dtype dt, const lg_bcast *bc, const void *a,
                   const void *b, void *y, double p);
void lg_cpu_where(lg_dtype dt, const lg_bcast *bc, const void *m, const void *a,
                  const void *b, void *y);
void lg_cpu_fill(lg_dtype dt, int64_t n, void *y, double v);
int64_t lg_cpu_find_outside(lg_dtype dt, int64_t n, const void *x, double lo, double hi);
void lg_cpu_iota(lg_dtype dt, int64_t n, void *y, double start, double step);
void lg_cpu_gather(lg_dtype dt, const lg_index_geom *ig, const void *idx, const void *x,
                   void *y);
void lg_cpu_scatter_add(lg_dtype dt, const lg_index_geom *ig, const void *idx,
                        const void *x, void *y);
void lg_cpu_copy_rows(lg_dtype dt, int64_t rows, int64_t cols, const void *src,
                      int64_t src_ld, void *dst, int64_t dst_ld);
void lg_cpu_permute(lg_dtype dt, int ndim, const int64_t *xshape, const int *perm,
                    const void *x, void *y);
void lg_cpu_reduce(lg_reduce_kind k, lg_dtype dt, int64_t outer, int64_t len, int64_t inner,
                   const void *x, void *y, int64_t *argmax);
void lg_cpu_sum_to(lg_dtype dt, const lg_bcast *bc, const void *x, void *y, int64_t ny);
void lg_cpu_softmax(int log, lg_dtype dt, int64_t outer, int64_t len, int64_t inner,
                    const void *x, void *y);
void lg_cpu_logsumexp(lg_dtype dt, int64_t outer, int64_t len, int64_t inner, const void *x,
                      void *y);
void lg_cpu_gemm(lg_dtype dt, int ta, int tb, int64_t batch, int64_t m, int64_t n, int64_t k,
                 double alpha, const void *a, int64_t sa, const void *b, int64_t sb,
                 double beta, void *c, int64_t sc);
/* f32 GEMM on AVX-512 (cpu_sgemm.c): C (m×n, leading dimension ldc) = alpha op(A) op(B)
 * + beta C, row-major. false, with nothing written, when it declines: no AVX-512, a product
 * under 16³ or of fewer than 8 rows, alpha 0, or LAGRAD_SGEMM=blas. Every size must fit in
 * int. */
bool lg_cpu_sgemm(int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha,
                  const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                  float *c, int64_t ldc);
/* layer norm (cpu_layernorm.c) */
void lg_cpu_ln_forward(lg_dtype dt, int64_t rows, int64_t d, const void *x, const void *gamma,
                       const void *beta, double eps, void *y, void *mean, void *rstd);
void lg_cpu_ln_backward(lg_dtype dt, int64_t rows, int64_t d, const void *gy, const void *x,
                        const void *gamma, const void *mean, const void *rstd, void *dx,
                        void *dgamma, void *dbeta);
/* nn: random fills and dots (cpu_random.c), optimizer steps (cpu_optim.c) */
void lg_cpu_rng_fill(lg_rng_kind k, lg_dtype dt, int64_t n, void *y, uint64_t seed,
                     uint64_t counter, double a, double b);
double lg_cpu_dot(lg_dtype dt, int64_t n, const void *x, const void *y);
void lg_cpu_optim_update(const lg_optim_hyper *h, lg_dtype dt, int nseg,
                         const lg_optim_seg *seg);
/* linalg (cpu_linalg.c, cpu_linalg_maps.c) */
int64_t lg_cpu_linalg(lg_linalg_kind k, lg_dtype dt, lg_linalg_args *a);
void lg_cpu_tri_map(lg_tri_kind k, lg_dtype dt, int64_t batch, int64_t n,
                    const void *const *in, void *y, const double *c);
/* text models (cpu_softmax_bwd.c) */
void lg_cpu_softmax_backward(lg_dtype dt, int64_t outer, int64_t len, int64_t inner,
                             const void *y, const void *dy, void *dx);

#endif
