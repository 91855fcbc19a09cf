/* Internal: the reference backend's kernels (backend/reference/), plain loops over host
 * memory that the parity test holds the fast backends against. Every value is read into a
 * double, computed in double and rounded once on the store, so one formula serves f32 and
 * f64 and a reader checks it against the table's contract in backend_impl.h. */
#ifndef LAGRAD_REF_IMPL_H
#define LAGRAD_REF_IMPL_H

#include "../backend_impl.h"

/* Element i of an f32 or f64 array as a double, and the store that rounds it back. */
static inline double ref_ld(lg_dtype dt, const void *p, int64_t i)
{
    return dt == LG_F32 ? (double)((const float *)p)[i] : ((const double *)p)[i];
}
static inline void ref_st(lg_dtype dt, void *p, int64_t i, double v)
{
    if (dt == LG_F32)
        ((float *)p)[i] = (float)v;
    else
        ((double *)p)[i] = v;
}
/* A kernel parameter as the dtype sees it: the CPU kernels take p as a T, so an f32 op
 * computes with p rounded to float. */
static inline double ref_param(lg_dtype dt, double p) { return dt == LG_F32 ? (double)(float)p : p; }

/* Offset of flat element i of an iteration over bc, in operand o's strides. */
static inline int64_t ref_offset(const lg_bcast *bc, int o, int64_t i)
{
    int64_t off = 0;
    for (int d = bc->ndim - 1; d >= 0; d--) {
        off += (i % bc->shape[d]) * bc->stride[o][d];
        i /= bc->shape[d];
    }
    return off;
}

/* ref_elementwise.c */
void lg_ref_unary(lg_unary_kind k, lg_dtype dt, int64_t n, const void *x, void *y, double p);
void lg_ref_binary(lg_binary_kind k, lg_dtype dt, const lg_bcast *bc, const void *a,
                   const void *b, void *y, double p);
void lg_ref_where(lg_dtype dt, const lg_bcast *bc, const void *m, const void *a,
                  const void *b, void *y);
void lg_ref_fill(lg_dtype dt, int64_t n, void *y, double v);
int64_t lg_ref_find_outside(lg_dtype dt, int64_t n, const void *x, double lo, double hi);
void lg_ref_iota(lg_dtype dt, int64_t n, void *y, double start, double step);
void lg_ref_copy_rows(lg_dtype dt, int64_t rows, int64_t cols, const void *src,
                      int64_t src_ld, void *dst, int64_t dst_ld);
void lg_ref_permute(lg_dtype dt, int ndim, const int64_t *xshape, const int *perm,
                    const void *x, void *y);
void lg_ref_gather(lg_dtype dt, const lg_index_geom *ig, const void *idx, const void *x,
                   void *y);
void lg_ref_scatter_add(lg_dtype dt, const lg_index_geom *ig, const void *idx,
                        const void *x, void *y);

/* ref_reduce.c */
void lg_ref_reduce(lg_reduce_kind k, lg_dtype dt, int64_t outer, int64_t len, int64_t inner,
                   const void *x, void *y, int64_t *argmax);
void lg_ref_sum_to(lg_dtype dt, const lg_bcast *bc, const void *x, void *y, int64_t ny);
void lg_ref_softmax(int log, lg_dtype dt, int64_t outer, int64_t len, int64_t inner,
                    const void *x, void *y);
void lg_ref_softmax_backward(lg_dtype dt, int64_t outer, int64_t len, int64_t inner,
                             const void *y, const void *dy, void *dx);
void lg_ref_logsumexp(lg_dtype dt, int64_t outer, int64_t len, int64_t inner, const void *x,
                      void *y);
void lg_ref_gemm(lg_dtype dt, int ta, int tb, int64_t batch, int64_t m, int64_t n, int64_t k,
                 double alpha, const void *a, int64_t sa, const void *b, int64_t sb,
                 double beta, void *c, int64_t sc);

/* ref_conv.c */
size_t lg_ref_conv2d_scratch(lg_dtype dt, const lg_conv_geom *cg);
void lg_ref_conv2d(lg_dtype dt, const lg_conv_geom *cg, const void *x, const void *w,
                   const void *bias, void *y, void *scratch);
void lg_ref_conv2d_input_grad(lg_dtype dt, const lg_conv_geom *cg, const void *dy,
                              const void *w, void *dx, void *scratch);
void lg_ref_conv2d_weight_grad(lg_dtype dt, const lg_conv_geom *cg, const void *x,
                               const void *dy, void *dw, void *scratch);
void lg_ref_conv2d_bias_grad(lg_dtype dt, const lg_conv_geom *cg, const void *dy, void *db);

/* ref_pool.c */
void lg_ref_max_pool(lg_dtype dt, const lg_conv_geom *cg, const void *x, void *y,
                     int32_t *idx);
void lg_ref_pool_scatter(lg_dtype dt, const lg_conv_geom *cg, const void *dy,
                         const int32_t *idx, void *dx);
void lg_ref_pool_gather(lg_dtype dt, const lg_conv_geom *cg, const void *x,
                        const int32_t *idx, void *y);
void lg_ref_avg_pool(lg_dtype dt, const lg_conv_geom *cg, const void *x, void *y);
void lg_ref_avg_pool_adjoint(lg_dtype dt, const lg_conv_geom *cg, const void *dy, void *dx);

/* ref_batchnorm.c */
void lg_ref_bn_forward(lg_dtype dt, const lg_bn_dims *d, const void *x, const void *gamma,
                       const void *beta, double eps, void *y, void *mean, void *rstd,
                       void *var);
void lg_ref_bn_backward(lg_dtype dt, const lg_bn_dims *d, const void *gy, const void *x,
                        const void *gamma, const void *mean, const void *rstd, void *dx,
                        void *dgamma, void *dbeta);

/* nn (ref_nn.c) */
void lg_ref_rng_fill(lg_rng_kind k, lg_dtype dt, int64_t n, void *y, uint64_t seed,
                     uint64_t counter, double a, double b);
void lg_ref_ln_forward(lg_dtype dt, int64_t rows, int64_t d, const void *x, const void *gamma,
                       const void *beta, double eps, void *y, void *mean, void *rstd);
void lg_ref_ln_backward(lg_dtype dt, int64_t rows, int64_t d, const void *gy, const void *x,
                        const void *gamma, const void *mean, const void *rstd, void *dx,
                        void *dgamma, void *dbeta);
double lg_ref_dot(lg_dtype dt, int64_t n, const void *x, const void *y);
void lg_ref_optim_update(const lg_optim_hyper *h, lg_dtype dt, int nseg, const lg_optim_seg *seg);

/* linalg (ref_linalg.c, ref_linalg_jacobi.c) */
int64_t lg_ref_linalg(lg_linalg_kind k, lg_dtype dt, lg_linalg_args *a);
void lg_ref_tri_map(lg_tri_kind k, lg_dtype dt, int64_t batch, int64_t n,
                    const void *const *in, void *y, const double *c);
/* Symmetric eigen-decomposition of a (n,n) double matrix by cyclic Jacobi: w (n) ascending,
 * v (n,n) eigenvectors as columns; a is destroyed. False when it did not converge. */
bool ref_jacobi_eigh(int64_t n, double *a, double *w, double *v);
/* SVD of a (m,n) double matrix by one-sided Jacobi: s (k) descending, u (m,m) and
 * vt (n,n) full orthogonal (their first k columns / rows are the singular vectors).
 * work holds 2 (m + n)² doubles. False when it did not converge. */
bool ref_jacobi_svd(int64_t m, int64_t n, const double *a, double *s, double *u, double *vt,
                    double *work);

#endif
