/* lagrad curvature: Hessian spectra from exact Hessian-vector products.
 * A symmetric operator (lg_linop) is anything that maps an f64 vector x (n) to A x (n);
 * lg_hessian makes one from a parameter store and a loss, with one H v by double backward.
 * On any such operator: the extreme eigenpairs by Lanczos with full re-orthogonalisation
 * (lg_lanczos), the trace by Hutchinson's estimator (lg_hutchinson_trace) and the spectral
 * density by stochastic Lanczos quadrature (lg_slq, lg_slq_density). Vectors are plain
 * caller-owned f64 arrays; parameters of either float dtype are converted on the way. */
#ifndef LAGRAD_CURVATURE_H
#define LAGRAD_CURVATURE_H

#include <stdbool.h>
#include "nn.h"

#ifdef __cplusplus
extern "C" {
#endif
/* The library is built with hidden visibility: what this header declares is its ABI. */
#pragma GCC visibility push(default)

/* ---- operators ---- */

/* y = A x for a symmetric A (n, n); x and y never alias. Returns LG_OK or an error, which
 * the algorithms below pass on unchanged. */
typedef lg_status (*lg_linop_fn)(void *ctx, const double *x, double *y);

/* A symmetric linear operator of dimension 1 <= n <= INT_MAX (BLAS lengths are int). */
typedef struct lg_linop {
    int64_t n;
    lg_linop_fn apply;
    void *ctx;
} lg_linop;

/* ---- the Hessian of a loss over a parameter store ---- */

/* Records on g the loss of batch `batch` (0 <= batch < n_batches) as a scalar, reading the
 * store's parameter tensors, and returns it (NULL on error, the graph keeping why). g is
 * in evaluation mode (lg_graph_set_training false: dropout off); use batch norm's
 * evaluation form (running statistics) so the loss is a fixed function of the parameters. */
typedef lg_tensor *(*lg_batch_loss_fn)(lg_graph *g, int64_t batch, void *ctx);

typedef struct lg_hessian_opts {
    int64_t n_batches;           /* >= 1 (default 1: full batch) */
    const double *batch_weights; /* n_batches weights (copied), or NULL: 1/n_batches each.
                                    The loss is Σ_b w_b loss_b; PyHessian's average over a
                                    loader is w_b = size_b / Σ size. */
    const char *const *select;   /* n_select selectors ("Selectors" in nn.h), or NULL:
                                    every trainable parameter */
    int n_select;
} lg_hessian_opts;

/* n_batches 1, equal weights, every trainable parameter. */
lg_hessian_opts lg_hessian_defaults(void);

typedef struct lg_hessian lg_hessian;

/* The Hessian of L(θ) = Σ_b w_b loss_b(θ) with respect to the selected parameters θ of p,
 * in the store's order (frozen parameters are constants of the loss and never selected).
 * Its vectors are flat f64 arrays of lg_hessian_dim entries. The store, loss and ctx must
 * outlive the object; it keeps one graph whose arena is reused by every call, so after
 * the first product a call allocates nothing. o may be NULL (defaults).
 * Errors (NULL; lg_last_errmsg says which): NULL p or loss, n_batches < 1, a negative or
 * non-finite weight, NULL/empty prefix or one that matches no trainable parameter
 * (LG_ERR_ARG), nothing to select (LG_ERR_ARG), out of memory. */
lg_hessian *lg_hessian_new(lg_params *p, lg_batch_loss_fn loss, void *ctx,
                           const lg_hessian_opts *o);
/* NULL is a no-op. */
void lg_hessian_free(lg_hessian *h);
/* Number of selected scalar parameters (0 for NULL). */
int64_t lg_hessian_dim(const lg_hessian *h);
/* Number of Hessian-vector products computed so far (0 for NULL). */
int64_t lg_hessian_hvp_count(const lg_hessian *h);

/* hv = H v, v and hv of lg_hessian_dim entries (not aliased). Exact up to rounding: per
 * batch, one forward, one backward recorded on the graph (create_graph) and one backward
 * of ⟨∇loss, v⟩ through both, in the parameters' dtype, summed in f64. One product costs
 * about 2 to 2.5 gradients of the same loss (measured in bench/hvp, BENCHMARKS.md).
 * Errors: NULL argument (LG_ERR_ARG), the loss callback's graph error or a non-scalar
 * loss (LG_ERR_SHAPE), out of memory. */
lg_status lg_hessian_hvp(lg_hessian *h, const double *v, double *hv);
/* Reuse across products (on: true; off by default). The caller promises that while it is
 * on, neither the parameters nor anything the loss reads changes, as within one run of
 * the algorithms below. The first product then keeps what it recorded up to the gradient
 * (the forward pass and the backward with create_graph), and every later one replays only
 * the backward of ⟨∇loss, v⟩ on it: the same bits, about 1.5 gradients instead of 2.5
 * (bench/hvp). lg_hessian_grad and lg_hessian_set_params drop what was kept, and so does
 * turning reuse off, which also frees the graph's hold on it. Full batch only: with
 * n_batches > 1 every product records its batches anew. Errors: NULL h (LG_ERR_ARG). */
lg_status lg_hessian_reuse(lg_hessian *h, bool on);
/* The gradient of L at the current parameters into grad (dim entries, may be NULL) and
 * L into *loss (may be NULL): one forward and backward per batch. Does not touch the
 * store's gradients. Errors as lg_hessian_hvp. */
lg_status lg_hessian_grad(lg_hessian *h, double *grad, double *loss);
/* Copies the selected parameters into x (dim entries), or sets them from x (rounded to
 * their dtype), so a caller can move θ (finite differences, a step along an eigenvector).
 * Errors: NULL argument (LG_ERR_ARG). */
lg_status lg_hessian_get_params(const lg_hessian *h, double *x);
lg_status lg_hessian_set_params(lg_hessian *h, const double *x);
/* The operator v -> H v (lg_hessian_hvp) for the algorithms below; {0} for NULL. */
lg_linop lg_hessian_linop(lg_hessian *h);

/* ---- extreme eigenpairs: Lanczos ---- */

typedef struct lg_lanczos_opts {
    int max_iter;        /* Krylov dimension cap, one product each (default 100, at most
                            n); memory is max_iter + 1 vectors of n doubles */
    double tol;          /* stop when every wanted pair's residual ‖A y − θ y‖ (from the
                            recurrence) is at most tol · max(|θ_max|, |θ_min|) (default
                            1e-10). The residual bounds the distance to *some*
                            eigenvalue: an end of the spectrum next to a dense cluster
                            (a network's bottom, near 0) needs a tight tol, or the stop
                            can come before the extreme value entered the Krylov space */
    uint64_t seed;       /* the random start vector (default 0) */
    const double *v0;    /* n entries, a start vector instead of a random one, or NULL */
    bool check_residuals;/* one extra product per returned pair gives the residual
                            ‖A y − θ y‖ directly instead of from the recurrence (default
                            false) */
    const double *deflate; /* n_deflate orthonormal vectors of n (row i at deflate + i·n)
                              that the Krylov space is kept orthogonal to, or NULL: the
                              eigenpairs of A on their complement. Pass the vectors of a
                              first call to find further copies of a repeated eigenvalue */
    int n_deflate;         /* 0 <= n_deflate < n (default 0) */
} lg_lanczos_opts;

/* max_iter 100, tol 1e-10, seed 0, random start, residuals from the recurrence, no
 * deflation. */
lg_lanczos_opts lg_lanczos_defaults(void);

/* Where lg_lanczos puts k pairs of one end of the spectrum; arrays are caller-owned. */
typedef struct lg_eigpairs {
    int k;             /* pairs wanted, 0 <= k <= min(n − n_deflate, max_iter) */
    double *values;    /* k: largest first for the top, smallest first for the bottom */
    double *vectors;   /* k·n, pair i at vectors + i·n, unit norm; or NULL */
    double *residuals; /* k residual norms ‖A y − θ y‖, or NULL */
} lg_eigpairs;

typedef struct lg_lanczos_info {
    int iterations;    /* Krylov dimension reached (= products of the iteration) */
    int64_t products;  /* every product made, the residual checks included */
    bool converged;    /* every wanted pair met tol */
} lg_lanczos_info;

/* The k_top largest (algebraic) and the k_bottom smallest eigenvalues of A and their
 * vectors, from one Krylov space built by Lanczos with full re-orthogonalisation (every
 * new vector is orthogonalised twice against all earlier ones, so no ghost copies appear
 * and the Ritz residuals are exact to rounding). A Krylov space holds one vector of each
 * eigenspace, so a repeated eigenvalue is returned once; call again with the pairs found
 * as `deflate` to find its other copies. A space that becomes invariant early ends the
 * iteration with exact values; pairs past the distinct values it holds get NaN values
 * and residuals (and zero vectors). top or bottom may be NULL (or k 0) for none; info may
 * be NULL. The pairs are written even when the iteration stops at
 * max_iter unconverged, which returns LG_ERR_NO_CONVERGE. Costs `iterations` products
 * plus O(n · iterations²) flops.
 * Errors: NULL op or apply, n out of range, k < 0 or k > max_iter or k > n, both ends empty, bad
 * options (LG_ERR_ARG); the operator's own status; non-finite products (LG_ERR_NUMERIC);
 * out of memory; LG_ERR_NO_CONVERGE as said. */
lg_status lg_lanczos(const lg_linop *op, lg_eigpairs *top, lg_eigpairs *bottom,
                     const lg_lanczos_opts *o, lg_lanczos_info *info);

/* ---- trace: Hutchinson ---- */

typedef struct lg_hutchinson_opts {
    int min_probes;   /* at least this many before the stop test (default 10, >= 2) */
    int max_probes;   /* at most (default 1000) */
    double rel_tol;   /* stop when std_err <= rel_tol · |trace| (default 1e-2); 0: run
                         max_probes */
    uint64_t seed;    /* Rademacher probes (default 0) */
} lg_hutchinson_opts;

/* The defaults given above: 10 to 1000 probes, rel_tol 1e-2, seed 0. */
lg_hutchinson_opts lg_hutchinson_defaults(void);

typedef struct lg_trace_estimate {
    double trace;     /* mean of zᵀ A z over the probes */
    double std_err;   /* sample standard deviation of zᵀ A z over √probes */
    int probes;
    bool converged;   /* rel_tol met (true when rel_tol is 0) */
} lg_trace_estimate;

/* Hutchinson's estimator of tr A with Rademacher probes z (entries ±1, E zzᵀ = I): the
 * mean of zᵀ A z, unbiased, with variance 2 Σ_{i≠j} A_ij² per probe (exact for a diagonal
 * A). One product per probe. The estimate is written even when max_probes ends the loop
 * before rel_tol, which returns LG_ERR_NO_CONVERGE.
 * Errors: NULL op, apply or r, n out of range, bad options (LG_ERR_ARG); the operator's status;
 * non-finite products (LG_ERR_NUMERIC); out of memory; LG_ERR_NO_CONVERGE as said. */
lg_status lg_hutchinson_trace(const lg_linop *op, const lg_hutchinson_opts *o,
                              lg_trace_estimate *r);

/* ---- spectral density: stochastic Lanczos quadrature ---- */

typedef struct lg_slq_opts {
    int probes;             /* independent probes (default 10) */
    int steps;              /* Lanczos steps per probe, the nodes per probe (default 30,
                               at most n) */
    uint64_t seed;          /* Rademacher probes (default 0) */
    const double *vectors;  /* probes·n start vectors (normalised here) instead of random
                               ones, or NULL */
} lg_slq_opts;

/* The defaults given above: 10 probes of 30 steps, seed 0, random start vectors. */
lg_slq_opts lg_slq_defaults(void);

/* Stochastic Lanczos quadrature (Ubaru, Chen & Saad 2017; Ghorbani et al. 2019): per
 * probe z (normalised), `steps` Lanczos steps with full re-orthogonalisation give the
 * tridiagonal T = Q diag(θ) Qᵀ, and the nodes θ_j with weights w_j = Q_0j² (summing to 1)
 * are the Gauss quadrature of the spectral measure of A seen from z:
 * Σ_j w_j f(θ_j) = zᵀ f(A) z / zᵀz, exact for polynomials f of degree < 2·steps. The
 * average over probes estimates tr f(A) / n. nodes and weights are caller-owned
 * probes·steps arrays, probe p's at p·steps; a probe whose Krylov space closes early pads
 * its row with zero weights (at its last node). Costs probes·steps products.
 * Errors: NULL op, apply, nodes or weights, n out of range, probes < 1, steps < 1 or > n
 * (LG_ERR_ARG); a zero start vector (LG_ERR_ARG); the operator's status; non-finite
 * products (LG_ERR_NUMERIC); out of memory. */
lg_status lg_slq(const lg_linop *op, const lg_slq_opts *o, double *nodes, double *weights);

/* The smoothed density φ(t) = (1/probes) Σ_p Σ_j w_pj N(t; θ_pj, sigma²) at the n_grid
 * points `grid`, into density (n_grid): integrates to 1 for a grid that covers the nodes.
 * sigma > 0 (PyHessian uses 1e-5 of the spectral width on a normalised axis; a few
 * percent of λmax − λmin shows the shape). Errors: NULL arrays, probes or steps < 1,
 * n_grid < 1, sigma not > 0 (LG_ERR_ARG). */
lg_status lg_slq_density(const double *nodes, const double *weights, int probes, int steps,
                         double sigma, const double *grid, int n_grid, double *density);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
