/* Internal: the backend seam. Ops reach every kernel through this table, so another
 * backend (cuda/) plugs in without #ifdefs in the ops. The CPU table is the reference. */
#ifndef LAGRAD_BACKEND_IMPL_H
#define LAGRAD_BACKEND_IMPL_H

#include "../tensor/tensor_impl.h"

typedef enum lg_unary_kind {
    LG_UN_NEG, LG_UN_EXP, LG_UN_LOG, LG_UN_SQRT, LG_UN_ABS, LG_UN_SIGN,
    LG_UN_ADD_SCALAR, /* x + p */
    LG_UN_SCALE,      /* p * x */
    LG_UN_POW,        /* x ^ p */
    LG_UN_RELU, LG_UN_LEAKY_RELU /* slope p */, LG_UN_SIGMOID, LG_UN_TANH,
    LG_UN_GELU,       /* x Phi(x) */
    LG_UN_RECIP,      /* 1 / x */
    LG_UN_SOFTPLUS    /* log(1 + exp(x)), as max(x, 0) + log1p(exp(-|x|)) */
} lg_unary_kind;

typedef enum lg_binary_kind {
    LG_BIN_ADD, LG_BIN_SUB, LG_BIN_MUL, LG_BIN_DIV,
    LG_BIN_RELU_BWD,  /* b > 0 ? a : 0          (a = dy, b = x) */
    LG_BIN_LEAKY_BWD, /* b > 0 ? a : p * a */
    LG_BIN_LEFT,      /* a (b is ignored): a broadcasting copy */
    LG_BIN_TANH_BWD,  /* a (1 - b²)             (a = dy, b = y = tanh x) */
    LG_BIN_GELU_BWD   /* a (Φ(b) + b φ(b))      (a = dy, b = x): dy ⊙ gelu'(x) */
} lg_binary_kind;

typedef enum lg_reduce_kind { LG_RED_SUM, LG_RED_MAX, LG_RED_MIN } lg_reduce_kind;

/* Indexing along the middle axis of x viewed as (outer, n, inner), with k indices (each in
 * [0, n), checked by the op; i32 or i64). Shared: idx holds k entries used for every
 * (outer, inner) pair (index_select, embedding). Per element: idx is (outer, k, inner)
 * and each entry picks for its own position (torch.gather, take_along_axis). */
typedef struct lg_index_geom {
    int64_t outer, n, inner, k;
    int per_element;
    lg_dtype itype;
} lg_index_geom;

/* An elementwise iteration over `shape` (ndim axes), reading up to three operands
 * with their own (possibly zero) strides; the output is contiguous. */
typedef struct lg_bcast {
    int ndim;
    int64_t numel;
    int64_t shape[LG_MAX_DIMS];
    int64_t stride[3][LG_MAX_DIMS];
} lg_bcast;

/* The geometry of one 2-D convolution or pooling: input (n, c, h, w), output (ho, wo),
 * window (kh, kw) with stride, zero padding and dilation. Convolutions add co output
 * channels and groups; pooling uses co = c, groups = 1, dilation 1. */
typedef struct lg_conv_geom {
    int64_t n, c, h, w;
    int64_t co, kh, kw, ho, wo;
    int64_t sh, sw, ph, pw, dh, dw;
    int64_t groups;
} lg_conv_geom;

/* Batch norm's (N, C, S) view of an (N, C) or (N, C, H, W) tensor, S = H*W (1 for
 * (N, C)): element (n, c, s) at (n*C + c)*S + s; m = n*s values per channel. */
typedef struct lg_bn_dims {
    int64_t n, c, s, m;
} lg_bn_dims;

/* The distributions of rng_fill. Draw i is lg_rng_unit(seed, counter + i) (rng_draw.h).
 * UNIFORM: a + (b - a) u. NORMAL: a + b z, z by Box-Muller on draws 2i and 2i+1.
 * KEEP_MASK (dropout's inverted mask): u < a ? 0 : b. */
typedef enum lg_rng_kind { LG_RNG_UNIFORM, LG_RNG_NORMAL, LG_RNG_KEEP_MASK } lg_rng_kind;

/* One optimizer step's constants (nn/optim.c computes them from the config and the step
 * count), as torch.optim's formulas use them. SGD: d = g + wd x; first step b = d, else
 * b = mu m + damp d; x -= lr (nesterov ? d + mu b : b) (mu 0: x -= lr d, no state).
 * Adam/AdamW: d = g + wd x (Adam's L2; wd 0 for AdamW); m = b1 m + (1 - b1) d;
 * v = b2 v + (1 - b2) d²; x = x shrink - step m / (√v inv_sqrt_bc2 + eps) with
 * step = lr / (1 - b1^t), inv_sqrt_bc2 = 1/√(1 - b2^t), shrink = 1 - lr wd_adamw.
 * Moments below the type's smallest normal are flushed to zero (denormals made the step
 * 7x slower); g is zeroed after it is read when zero_grad. */
typedef struct lg_optim_hyper {
    bool adam, first, nesterov, zero_grad;
    double lr, wd, mu, damp;
    double b1, b2, eps, step, inv_sqrt_bc2, shrink;
} lg_optim_hyper;

/* One parameter's slice for optim_update: n elements of x (values), g (gradients), m and
 * v (state; NULL where the rule keeps none). */
typedef struct lg_optim_seg {
    int64_t n;
    void *x, *g, *m, *v;
} lg_optim_seg;

/* Which way a backend's mem_copy moves bytes. */
typedef enum lg_copy_kind {
    LG_COPY_HOST_TO_DEVICE,
    LG_COPY_DEVICE_TO_HOST,
    LG_COPY_DEVICE_TO_DEVICE
} lg_copy_kind;

/* linalg: the dense linear algebra behind linalg/ (one entry, `linalg`, whose kind picks
 * the routine, as LAPACK's drivers do), and the triangle-structured maps of its VJPs
 * (`tri_map`). Every matrix is row-major and contiguous; `batch` matrices lie one after
 * another. The sizes, inputs and outputs each kind uses are listed with it; unused fields
 * are ignored. */
typedef enum lg_linalg_kind {
    LG_LA_CHOLESKY,  /* a (n,n) SPD -> x (n,n) = L lower, A = L Lᵀ, strict upper zeroed.
                      * info i: the leading minor of order i is not positive */
    LG_LA_LU,        /* a (n,n) -> x (n,n) and piv (n): LU factors in the backend's own
                      * layout, read only by LG_LA_LU_SOLVE of the same backend; y (3, may
                      * be NULL) = det A, sign det A (0 when singular), log|det A|.
                      * info i: pivot i-1 is exactly zero (A singular; x is still usable
                      * for y) */
    LG_LA_LU_SOLVE,  /* a = LU's x and piv, b (n,k) -> x (n,k) = op(A)⁻¹ B (trans) */
    LG_LA_PLU,       /* a (m,n) -> x = P (m,m), y = L (m,k) unit lower, z = U (k,n)
                      * upper, A = P L U by partial (row) pivoting, k = min(m,n) */
    LG_LA_EIGH,      /* a (n,n) symmetric (lower triangle read) -> x = λ (n) ascending,
                      * y = V (n,n), A = V diag(λ) Vᵀ, eigenvectors as columns, each of
                      * unit norm; its sign is the backend's choice. info: no convergence */
    LG_LA_SVD,       /* a (m,n) -> x = σ (k) descending, k = min(m,n); y = U (m, full ? m :
                      * k) and z = Vᵀ (full ? n : k, n) unless NULL; A = U diag(σ) Vᵀ,
                      * signs of singular-vector pairs the backend's choice (identities
                      * when k = 0). info: no convergence */
    LG_LA_QR,        /* a (m,n) -> x = Q (m,k) orthonormal columns, y = R (k,n) upper,
                      * by Householder reflections as LAPACK's larfg defines them (so R's
                      * diagonal signs are those of geqrf) */
    LG_LA_LSTSQ,     /* a (m,n), b (m,k) (NULL when k = 0), alpha = rcond -> x (n,k) the
                      * minimum-norm least-squares solution over σ > rcond σmax, y = σ
                      * (min(m,n)), rank; z (k) = ‖A x - B‖² per column when m > n and
                      * rank = n (not written otherwise). info: no convergence */
    LG_LA_PINV,      /* a (m,n), alpha = rcond -> x (n,m) = V diag(1/σ over σ > rcond
                      * σmax, else 0) Uᵀ. info: no convergence */
    LG_LA_TRSM,      /* a (n,n) triangular (upper, else lower; the other triangle is not
                      * read), b (n,k) -> x (n,k) = op(A)⁻¹ B (trans). info i: A(i-1,i-1)
                      * is zero (checked first; x is then not written) */
    LG_LA_TRMM,      /* a (k,k) triangular (upper, else lower), b (m,n), alpha ->
                      * x (m,n) = α op(A) B, or α B op(A) when right */
    LG_LA_TRI_INV,   /* a (n,n) lower (upper not read) -> x (n,n) = A⁻¹, upper zeroed.
                      * info i: A(i-1,i-1) is zero */
    LG_LA_SYM_SANDWICH, /* a = V (m,k), b = S (k,k) -> x (m,m) = V ½(S + Sᵀ) Vᵀ */
    LG_LA_NRM2,      /* a (n) -> x (1) = sqrt(Σ a²), scaled so that it cannot overflow */
    LG_LA_ASYMMETRY, /* a (n,n), alpha: tol = alpha max(1, max|a_ij|). Returns 1 + i n + j
                      * for the first (i, j), j < i in row-major order, with
                      * |a_ij - a_ji| > tol, 0 when none; r[0] = tol, r[1] = that gap */
    LG_LA_GAPS       /* a (n) sorted, alpha: tol = alpha max|a_i|. Returns 1 + i for the
                      * first i with |a_i+1 - a_i| <= tol; else, when upper is set,
                      * n + 1 if |a_n-1| <= tol (a zero last value); else 0. r[0] = tol,
                      * r[1] = that gap (or |a_n-1|) */
} lg_linalg_kind;

/* One linalg call. With work = NULL the call only sets work_bytes to the scratch it needs
 * (as LAPACK's lwork = -1 query; SIZE_MAX when more than the backend can address) and
 * returns 0 (or -i for a refused argument); the op then passes that much (64-byte
 * aligned) in work. Returns 0, LAPACK's info (> 0, per kind above) of the first matrix
 * that failed (its index in `failed`), or -i when argument i was refused. */
typedef struct lg_linalg_args {
    int64_t batch, m, n, k;
    bool upper, trans, right, full;
    double alpha;
    const void *a, *b;
    void *x, *y, *z;
    int32_t *piv;      /* (batch, n) for LU and LU_SOLVE */
    void *work;
    size_t work_bytes;
    int64_t failed, rank; /* out */
    double r[2];          /* out */
} lg_linalg_args;

/* tri_map's kinds, over batch (n,n) matrices (vectors (batch, n)); in[] and c[] by kind. */
typedef enum lg_tri_kind {
    LG_TRI_SCALE,          /* y_ij = c[p] x_ij, p = 0 below the diagonal, 1 on it, 2 above;
                            * in[0] = x, or NULL for x_ij = 1 (masks, the identity) */
    LG_TRI_SYM_FROM_LOWER, /* y_ij = c[0] x_max(i,j),min(i,j); in[0] = x */
    LG_TRI_FOLD_LOWER,     /* y_ij = c[0](x_ij + x_ji) below, c[0] x_ii on, 0 above (the
                            * adjoint of SYM_FROM_LOWER); in[0] = x */
    LG_TRI_EIGH_GAP,       /* in = {m, λ, gλ}: y_ij = (m_ij - m_ji) / (2(λj - λi)) off the
                            * diagonal, gλ_i on it */
    LG_TRI_SVD_GAP         /* in = {j, k, σ, gσ}, j and k may be NULL (zero): y_ij =
                            * ((j_ij - j_ji) σj + σi (k_ij - k_ji)) / (σj² - σi²) off the
                            * diagonal, gσ_i on it */
} lg_tri_kind;

struct lg_backend {
    const char *name;
    lg_device device; /* where the data of its graphs' tensors lives */
    /* Memory on the backend's device: mem_alloc gives `bytes` 64-byte aligned (NULL when
     * out of memory), mem_free takes it back with the size asked for, mem_copy moves
     * bytes between host and device or within the device. For host backends these are
     * lg_malloc, lg_free and memcpy. */
    void *(*mem_alloc)(size_t bytes);
    void (*mem_free)(void *p, size_t bytes);
    void (*mem_copy)(lg_copy_kind k, void *dst, const void *src, size_t bytes);
    /* y[i] = f(x[i]) for n contiguous elements. */
    void (*unary)(lg_unary_kind k, lg_dtype dt, int64_t n, const void *x, void *y, double p);
    /* y = a (op) b with broadcasting strides stride[0] (a) and stride[1] (b). */
    void (*binary)(lg_binary_kind k, lg_dtype dt, const lg_bcast *bc, const void *a,
                   const void *b, void *y, double p);
    /* y = mask != 0 ? a : b, strides 0, 1, 2 for mask, a, b. */
    void (*where)(lg_dtype dt, const lg_bcast *bc, const void *mask, const void *a,
                  const void *b, void *y);
    /* Reduces the middle axis of x viewed as (outer, len, inner) into y (outer, inner).
     * For LG_RED_MAX and LG_RED_MIN, argmax (may be NULL) receives the first index of the
     * extremum (of the first NaN, when there is one). */
    void (*reduce)(lg_reduce_kind k, lg_dtype dt, int64_t outer, int64_t len,
                   int64_t inner, const void *x, void *y, int64_t *argmax);
    /* Sums x (read through bc with stride[0]) into contiguous y: every x element is
     * added to the y element at offset sum(idx * stride[1]). Zeroes y first. */
    void (*sum_to)(lg_dtype dt, const lg_bcast *bc, const void *x, void *y, int64_t ny);
    /* Softmax, log-softmax or logsumexp of the middle axis of (outer, len, inner), each
     * max-subtracted. For logsumexp y is (outer, inner). */
    void (*softmax)(int log, lg_dtype dt, int64_t outer, int64_t len, int64_t inner,
                    const void *x, void *y);
    void (*logsumexp)(lg_dtype dt, int64_t outer, int64_t len, int64_t inner,
                      const void *x, void *y);
    /* C[b] = alpha op(A[b]) op(B[b]) + beta C[b], row-major, for b < batch; the batch
     * strides are in elements (0 shares one matrix across the batch). */
    void (*gemm)(lg_dtype dt, int ta, int tb, int64_t batch, int64_t m, int64_t n,
                 int64_t k, double alpha, const void *a, int64_t sa, const void *b,
                 int64_t sb, double beta, void *c, int64_t sc);
    /* Copies rows: dst[r*dst_ld + j] = src[r*src_ld + j] for r < rows, j < cols. */
    void (*copy_rows)(lg_dtype dt, int64_t rows, int64_t cols, const void *src,
                      int64_t src_ld, void *dst, int64_t dst_ld);
    /* y = x with axes permuted: y shape[i] = x shape[perm[i]]. */
    void (*permute)(lg_dtype dt, int ndim, const int64_t *xshape, const int *perm,
                    const void *x, void *y);
    void (*fill)(lg_dtype dt, int64_t n, void *y, double v);
    /* The index of the first x[i], i < n, outside [lo, hi], or -1 when there is none. Any
     * dtype; NaN lies outside every range. For integer tensors the bounds are rounded
     * inwards (ceil lo, floor hi). The checks before a kernel runs use it: finiteness is
     * [-max, max] of the type (anomaly mode, linalg's inputs), an index [0, n - 1]. */
    int64_t (*find_outside)(lg_dtype dt, int64_t n, const void *x, double lo, double hi);
    /* y[i] = start + i step for i < n, computed in double and stored as dt (any dtype;
     * for integer tensors the caller checks that every value is whole and in range). */
    void (*iota)(lg_dtype dt, int64_t n, void *y, double start, double step);
    /* gather: y (outer, k, inner) = x at the indices. scatter_add: y (outer, n, inner)
     * += x (outer, k, inner) at the indices, repeated indices summing in order of k. */
    void (*gather)(lg_dtype dt, const lg_index_geom *ig, const void *idx, const void *x,
                   void *y);
    void (*scatter_add)(lg_dtype dt, const lg_index_geom *ig, const void *idx, const void *x,
                        void *y);
    /* Convolution (cpu_conv.c), cross-correlation over NCHW x and OIHW w, as im2col
     * then GEMMs. Each needs conv2d_scratch(dt, geom) bytes of scratch, 64-byte aligned.
     * y = conv(x, w) + bias (bias may be NULL); dx = the adjoint in x, dw = the adjoint
     * in w (both overwritten, not accumulated). */
    size_t (*conv2d_scratch)(lg_dtype dt, const lg_conv_geom *cg);
    void (*conv2d)(lg_dtype dt, const lg_conv_geom *cg, const void *x, const void *w,
                   const void *bias, void *y, void *scratch);
    void (*conv2d_input_grad)(lg_dtype dt, const lg_conv_geom *cg, const void *dy,
                              const void *w, void *dx, void *scratch);
    void (*conv2d_weight_grad)(lg_dtype dt, const lg_conv_geom *cg, const void *x,
                               const void *dy, void *dw, void *scratch);
    /* db[o] = Σ over n, oh, ow of dy[n, o, oh, ow]: the bias gradient (overwritten). */
    void (*conv2d_bias_grad)(lg_dtype dt, const lg_conv_geom *cg, const void *dy, void *db);
    /* Pooling (cpu_pool.c) over (n, c, h, w). max_pool writes y and, per output, the
     * flat index within its (h, w) plane of the first maximum (padding never wins).
     * pool_scatter: dx = zeros, dx[plane, idx[q]] += dy[q] (max pool's adjoint);
     * pool_gather: y[q] = x[plane, idx[q]] (scatter's adjoint). avg_pool divides by
     * kh*kw (padding counts as zeros); avg_pool_adjoint is its transpose. */
    void (*max_pool)(lg_dtype dt, const lg_conv_geom *cg, const void *x, void *y,
                     int32_t *idx);
    void (*pool_scatter)(lg_dtype dt, const lg_conv_geom *cg, const void *dy,
                         const int32_t *idx, void *dx);
    void (*pool_gather)(lg_dtype dt, const lg_conv_geom *cg, const void *x,
                        const int32_t *idx, void *y);
    void (*avg_pool)(lg_dtype dt, const lg_conv_geom *cg, const void *x, void *y);
    void (*avg_pool_adjoint)(lg_dtype dt, const lg_conv_geom *cg, const void *dy, void *dx);
    /* Batch norm (cpu_batchnorm.c) per channel c of x viewed as (n, c, s). bn_forward
     * writes mean[c], rstd[c] = 1/sqrt(var + eps) and the biased var[c] (all of dt), and
     * y = (x - mean) rstd gamma + beta. bn_backward writes, from gy, x and the forward's
     * mean and rstd, dbeta = Σ gy, dgamma = Σ gy xhat and
     * dx = gamma rstd (gy - dbeta/m - xhat dgamma/m), xhat = (x - mean) rstd. Sums run
     * in a fixed order: the results do not depend on the thread count. */
    void (*bn_forward)(lg_dtype dt, const lg_bn_dims *d, const void *x, const void *gamma,
                       const void *beta, double eps, void *y, void *mean, void *rstd,
                       void *var);
    void (*bn_backward)(lg_dtype dt, const lg_bn_dims *d, const void *gy, const void *x,
                        const void *gamma, const void *mean, const void *rstd, void *dx,
                        void *dgamma, void *dbeta);
    /* Layer norm (cpu_layernorm.c) over the last axis of x viewed as (rows, d). ln_forward
     * writes mean[r], rstd[r] = 1/sqrt(var + eps) (biased var; both of dt) and
     * y = (x - mean) rstd γ + β; γ and β (d) may be NULL (1 and 0). ln_backward writes,
     * from gy, x, γ (NULL: 1) and the forward's mean and rstd, with x̂ = (x - mean) rstd
     * and g = gy γ: dx = rstd (g - mean_d g - x̂ mean_d(g x̂)), dγ = Σ_rows gy x̂ and
     * dβ = Σ_rows gy; any of dx, dγ, dβ may be NULL (not computed). Sums run in a fixed
     * order: the results do not depend on the thread count. */
    void (*ln_forward)(lg_dtype dt, int64_t rows, int64_t d, const void *x, const void *gamma,
                       const void *beta, double eps, void *y, void *mean, void *rstd);
    void (*ln_backward)(lg_dtype dt, int64_t rows, int64_t d, const void *gy, const void *x,
                        const void *gamma, const void *mean, const void *rstd, void *dx,
                        void *dgamma, void *dbeta);
    /* ---- nn: random fills, dot products, optimizer steps ---- */
    /* y = n draws of distribution k from the counter-based generator (see lg_rng_kind). */
    void (*rng_fill)(lg_rng_kind k, lg_dtype dt, int64_t n, void *y, uint64_t seed,
                     uint64_t counter, double a, double b);
    /* Σ x[i] y[i] for i < n, accumulated in double in an order that depends on n alone
     * (gradient norms for clipping: the same bits on every rank and thread count). */
    double (*dot)(lg_dtype dt, int64_t n, const void *x, const void *y);
    /* One optimizer step (see lg_optim_hyper) over nseg parameters, all of type dt. Every
     * element is independent, so any split over threads gives the same bits. */
    void (*optim_update)(const lg_optim_hyper *h, lg_dtype dt, int nseg,
                         const lg_optim_seg *seg);
    /* linalg (cpu_linalg.c, ref_linalg.c): see lg_linalg_kind and lg_tri_kind above. */
    int64_t (*linalg)(lg_linalg_kind k, lg_dtype dt, lg_linalg_args *a);
    void (*tri_map)(lg_tri_kind k, lg_dtype dt, int64_t batch, int64_t n,
                    const void *const *in, void *y, const double *c);
    /* ---- text models (issue 16) ---- */
    /* Softmax's adjoint along the middle axis of (outer, len, inner), from its output y:
     * dx = y (dy - Σ_len dy y) (cpu_softmax_bwd.c): one pass where the composed VJP made
     * three full-size tensors. */
    void (*softmax_backward)(lg_dtype dt, int64_t outer, int64_t len, int64_t inner,
                             const void *y, const void *dy, void *dx);
};

const lg_backend *lg_cpu_backend(void);
/* Plain loops over host memory (backend/reference/): the oracle of the parity test. */
const lg_backend *lg_reference_backend(void);
/* The mem_* entries of every host backend. */
void *lg_host_alloc(size_t bytes);
void lg_host_free(void *p, size_t bytes);
void lg_host_copy(lg_copy_kind k, void *dst, const void *src, size_t bytes);

#endif
