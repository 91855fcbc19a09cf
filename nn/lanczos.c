/* Spectra of a symmetric operator from its products alone: Lanczos with full
 * re-orthogonalisation for the extreme eigenpairs, stochastic Lanczos quadrature for the
 * density, Hutchinson's estimator for the trace. No restarts: the Krylov basis is kept
 * whole, so memory is (steps + 1) vectors. The Hessian operator is in curvature.c. */
#include <cblas.h>
#include <limits.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>
#include "lagrad/curvature.h"
#include "../tensor/tensor_impl.h"

/* Below this fraction of the operator's norm, a new Lanczos vector is rounding: the Krylov
 * space is invariant and its Ritz pairs are exact. */
#define BREAKDOWN 1e-12

lg_lanczos_opts lg_lanczos_defaults(void)
{
    return (lg_lanczos_opts){.max_iter = 100, .tol = 1e-10};
}

lg_hutchinson_opts lg_hutchinson_defaults(void)
{
    return (lg_hutchinson_opts){.min_probes = 10, .max_probes = 1000, .rel_tol = 1e-2};
}

lg_slq_opts lg_slq_defaults(void)
{
    return (lg_slq_opts){.probes = 10, .steps = 30};
}

static lg_status check_op(const char *fn, const lg_linop *op)
{
    if (!op || !op->apply)
        return lg_set_error(LG_ERR_ARG, "%s: the operator or its apply function is NULL", fn);
    if (op->n < 1 || op->n > INT_MAX) /* BLAS takes int lengths */
        return lg_set_error(LG_ERR_ARG, "%s: operator dimension n = %lld; need 1 <= n <= %d",
                            fn, (long long)op->n, INT_MAX);
    return LG_OK;
}

static double *alloc_doubles(int64_t count)
{
    return lg_malloc((size_t)count * sizeof(double));
}

static void free_doubles(double *p, int64_t count)
{
    lg_free(p, (size_t)count * sizeof(double));
}

/* z (n) with entries ±1 from r. */
static void rademacher(lg_rng *r, double *z, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        z[i] = lg_rng_uniform(r) < 0.5 ? -1.0 : 1.0;
}

/* y = A x, checked to be finite. */
static lg_status apply(const char *fn, const lg_linop *op, const double *x, double *y)
{
    lg_status s = op->apply(op->ctx, x, y);
    if (s != LG_OK)
        return s;
    for (int64_t i = 0; i < op->n; i++)
        if (!isfinite(y[i]))
            return lg_set_error(LG_ERR_NUMERIC, "%s: the operator's product has %g at "
                                "element %lld", fn, y[i], (long long)i);
    return LG_OK;
}

/* The Lanczos state: basis Q ((cap+1) vectors of n, row j = q_j), the tridiagonal's
 * diagonal alpha and off-diagonal beta (beta[j] couples q_j and q_{j+1}), and scratch. */
typedef struct krylov {
    const lg_linop *op;
    int64_t n;
    int cap, m;          /* capacity in steps; steps done */
    double *Q, *alpha, *beta, *coef;
    const double *D;     /* nd vectors of n kept out of the space (deflation), or NULL */
    int nd;
    double anorm;        /* running estimate of ‖A‖ for the breakdown test */
    bool invariant;      /* the last step found an invariant subspace */
} krylov;

static void krylov_free(krylov *k)
{
    free_doubles(k->Q, (int64_t)(k->cap + 1) * k->n);
    free_doubles(k->alpha, k->cap);
    free_doubles(k->beta, k->cap);
    free_doubles(k->coef, k->cap + 1 + k->nd);
}

static lg_status krylov_init(const char *fn, krylov *k, const lg_linop *op, int cap,
                             const double *D, int nd)
{
    memset(k, 0, sizeof *k);
    k->op = op;
    k->n = op->n;
    k->cap = cap;
    k->D = D;
    k->nd = D ? nd : 0;
    k->Q = alloc_doubles((int64_t)(cap + 1) * op->n);
    k->alpha = alloc_doubles(cap);
    k->beta = alloc_doubles(cap);
    k->coef = alloc_doubles(cap + 1 + k->nd);
    if (!k->Q || !k->alpha || !k->beta || !k->coef) {
        krylov_free(k);
        return lg_set_error(LG_ERR_OOM, "%s: out of memory for %d Krylov vectors of %lld", fn,
                            cap + 1, (long long)op->n);
    }
    return LG_OK;
}

/* w -= Dᵀ (D w) twice: w orthogonal to the deflated vectors. */
static void deflate(krylov *k, double *w)
{
    for (int pass = 0; pass < 2 && k->nd; pass++) {
        double *c = k->coef + k->cap + 1;
        cblas_dgemv(CblasRowMajor, CblasNoTrans, k->nd, (int)k->n, 1.0, k->D, (int)k->n, w, 1,
                    0.0, c, 1);
        cblas_dgemv(CblasRowMajor, CblasTrans, k->nd, (int)k->n, -1.0, k->D, (int)k->n, c, 1,
                    1.0, w, 1);
    }
}

/* Starts from v (n), deflated and normalised into q_0. LG_ERR_ARG for a v that is zero,
 * not finite, or inside the deflated space. */
static lg_status krylov_start(const char *fn, krylov *k, const double *v)
{
    double nrm0 = cblas_dnrm2((int)k->n, v, 1);
    memcpy(k->Q, v, (size_t)k->n * sizeof *v);
    deflate(k, k->Q);
    double nrm = cblas_dnrm2((int)k->n, k->Q, 1);
    if (!(nrm > 1e-8 * nrm0) || !isfinite(nrm))
        return lg_set_error(LG_ERR_ARG, "%s: the start vector has norm %g (%g after "
                            "deflation)", fn, nrm0, nrm);
    cblas_dscal((int)k->n, 1.0 / nrm, k->Q, 1);
    k->m = 0;
    k->anorm = 0;
    k->invariant = false;
    return LG_OK;
}

/* One step: w = A q_m − α q_m − β q_{m−1}, orthogonalised twice against q_0..q_m
 * (classical Gram-Schmidt twice, "twice is enough"), β_m = ‖w‖, q_{m+1} = w / β_m. */
static lg_status krylov_step(const char *fn, krylov *k)
{
    int64_t n = k->n;
    int m = k->m;
    double *q = k->Q + (int64_t)m * n, *w = q + n;
    lg_status s = apply(fn, k->op, q, w);
    if (s != LG_OK)
        return s;
    double a = cblas_ddot((int)n, q, 1, w, 1);
    cblas_daxpy((int)n, -a, q, 1, w, 1);
    if (m > 0)
        cblas_daxpy((int)n, -k->beta[m - 1], q - n, 1, w, 1);
    for (int pass = 0; pass < 2; pass++) {
        /* coef = Q_{0..m} w; w -= Q_{0..m}ᵀ coef */
        cblas_dgemv(CblasRowMajor, CblasNoTrans, m + 1, (int)n, 1.0, k->Q, (int)n, w, 1, 0.0,
                    k->coef, 1);
        cblas_dgemv(CblasRowMajor, CblasTrans, m + 1, (int)n, -1.0, k->Q, (int)n, k->coef, 1,
                    1.0, w, 1);
        a += k->coef[m];
        deflate(k, w);
    }
    double b = cblas_dnrm2((int)n, w, 1);
    k->alpha[m] = a;
    k->beta[m] = b;
    double prev = m > 0 ? k->beta[m - 1] : 0;
    if (fabs(a) + prev + b > k->anorm)
        k->anorm = fabs(a) + prev + b;
    k->m = m + 1;
    k->invariant = !(b > BREAKDOWN * k->anorm);
    if (!k->invariant)
        cblas_dscal((int)n, 1.0 / b, w, 1);
    return LG_OK;
}

/* Eigen-decomposition of the m×m tridiagonal: theta (m, ascending), Z (m×m column-major,
 * eigenvector j at Z + j·m); work holds 3m doubles. */
static lg_status tridiag_eig(const char *fn, const double *alpha, const double *beta, int m,
                             double *theta, double *Z, double *work)
{
    memcpy(theta, alpha, (size_t)m * sizeof *theta);
    double *e = work;
    if (m > 1)
        memcpy(e, beta, (size_t)(m - 1) * sizeof *e);
    lapack_int info = LAPACKE_dstev_work(LAPACK_COL_MAJOR, 'V', m, theta, e, Z, m, work + m);
    if (info != 0)
        return lg_set_error(info > 0 ? LG_ERR_NO_CONVERGE : LG_ERR_ARG,
                            "%s: the tridiagonal eigensolver failed (dstev info %d)", fn,
                            (int)info);
    return LG_OK;
}

/* ---- Lanczos ---- */

static lg_status check_pairs(const char *fn, const lg_eigpairs *e, const char *which,
                             int cap)
{
    if (!e)
        return LG_OK;
    if (e->k < 0 || e->k > cap)
        return lg_set_error(LG_ERR_ARG, "%s: %s.k = %d; need 0 <= k <= min(n - n_deflate, "
                            "max_iter) = %d", fn, which, e->k, cap);
    if (e->k > 0 && !e->values)
        return lg_set_error(LG_ERR_ARG, "%s: %s.values is NULL", fn, which);
    return LG_OK;
}

static lg_status check_lanczos(const lg_linop *op, const lg_eigpairs *top,
                               const lg_eigpairs *bottom, const lg_lanczos_opts *o)
{
    const char *fn = "lg_lanczos";
    lg_status s = check_op(fn, op);
    if (s != LG_OK)
        return s;
    if (o->max_iter < 1)
        return lg_set_error(LG_ERR_ARG, "%s: max_iter = %d; need >= 1", fn, o->max_iter);
    if (!(o->tol >= 0))
        return lg_set_error(LG_ERR_ARG, "%s: tol = %g; need >= 0", fn, o->tol);
    if (o->n_deflate < 0 || (o->n_deflate > 0 && !o->deflate) || o->n_deflate >= op->n)
        return lg_set_error(LG_ERR_ARG, "%s: n_deflate = %d with deflate %s; need 0 <= "
                            "n_deflate < n and the vectors", fn, o->n_deflate,
                            o->deflate ? "set" : "NULL");
    int64_t room = op->n - o->n_deflate;
    int cap = o->max_iter < room ? o->max_iter : (int)room;
    s = check_pairs(fn, top, "top", cap);
    if (s == LG_OK)
        s = check_pairs(fn, bottom, "bottom", cap);
    if (s == LG_OK && (!top || !top->k) && (!bottom || !bottom->k))
        return lg_set_error(LG_ERR_ARG, "%s: no pairs wanted (top and bottom k are 0)", fn);
    return s;
}

/* Ritz index of the i-th wanted pair of one end among m ascending values. */
static int ritz_index(bool is_top, int i, int m)
{
    return is_top ? m - 1 - i : i;
}

/* Largest recurrence residual |β_m z_{m−1,j}| over the wanted pairs, relative to the
 * spectral scale; 0 for an invariant space. */
static double worst_residual(const krylov *k, const lg_eigpairs *top, const lg_eigpairs *bottom,
                             const double *theta, const double *Z)
{
    int m = k->m;
    double scale = fmax(fabs(theta[0]), fabs(theta[m - 1])), worst = 0;
    if (k->invariant)
        return 0;
    for (int end = 0; end < 2; end++) {
        const lg_eigpairs *e = end ? top : bottom;
        for (int i = 0; e && i < e->k && i < m; i++) {
            int j = ritz_index(end == 1, i, m);
            double r = fabs(k->beta[m - 1] * Z[(int64_t)j * m + m - 1]);
            worst = fmax(worst, scale > 0 ? r / scale : r);
        }
    }
    return worst;
}

/* Writes the wanted pairs of one end from the final Krylov space. */
static lg_status write_pairs(const char *fn, krylov *k, lg_eigpairs *e, bool is_top,
                             const double *theta, const double *Z, bool check, double *y,
                             double *ay, int64_t *products)
{
    int m = k->m;
    int64_t n = k->n;
    for (int i = 0; e && i < e->k; i++) {
        if (i >= m) { /* the space closed with fewer values than pairs wanted */
            e->values[i] = NAN;
            if (e->vectors)
                memset(e->vectors + (int64_t)i * n, 0, (size_t)n * sizeof *y);
            if (e->residuals)
                e->residuals[i] = NAN;
            continue;
        }
        int j = ritz_index(is_top, i, m);
        e->values[i] = theta[j];
        bool need_y = e->vectors || (e->residuals && check);
        if (need_y) { /* y = Q_{0..m-1}ᵀ z_j */
            cblas_dgemv(CblasRowMajor, CblasTrans, m, (int)n, 1.0, k->Q, (int)n,
                        Z + (int64_t)j * m, 1, 0.0, y, 1);
            cblas_dscal((int)n, 1.0 / cblas_dnrm2((int)n, y, 1), y, 1);
            if (e->vectors)
                memcpy(e->vectors + (int64_t)i * n, y, (size_t)n * sizeof *y);
        }
        if (!e->residuals)
            continue;
        if (check) {
            lg_status s = apply(fn, k->op, y, ay);
            if (s != LG_OK)
                return s;
            (*products)++;
            cblas_daxpy((int)n, -theta[j], y, 1, ay, 1);
            e->residuals[i] = cblas_dnrm2((int)n, ay, 1);
        } else {
            e->residuals[i] = k->invariant ? 0 : fabs(k->beta[m - 1] * Z[(int64_t)j * m + m - 1]);
        }
    }
    return LG_OK;
}

/* The start vector: v0 or a Rademacher draw. */
static lg_status lanczos_start(krylov *k, const lg_lanczos_opts *o, double *scratch)
{
    if (o->v0)
        return krylov_start("lg_lanczos", k, o->v0);
    lg_rng r;
    lg_rng_init(&r, o->seed);
    rademacher(&r, scratch, k->n);
    return krylov_start("lg_lanczos", k, scratch);
}

lg_status lg_lanczos(const lg_linop *op, lg_eigpairs *top, lg_eigpairs *bottom,
                     const lg_lanczos_opts *o, lg_lanczos_info *info)
{
    const char *fn = "lg_lanczos";
    lg_lanczos_opts d = lg_lanczos_defaults();
    if (!o)
        o = &d;
    if (info)
        *info = (lg_lanczos_info){0};
    lg_status s = check_lanczos(op, top, bottom, o);
    if (s != LG_OK)
        return s;
    int64_t room = op->n - o->n_deflate;
    int cap = o->max_iter < room ? o->max_iter : (int)room;
    int kmax = 0;
    if (top && top->k > kmax)
        kmax = top->k;
    if (bottom && bottom->k > kmax)
        kmax = bottom->k;
    krylov k;
    s = krylov_init(fn, &k, op, cap, o->deflate, o->n_deflate);
    if (s != LG_OK)
        return s;
    int64_t n = op->n, tri = (int64_t)cap * cap + 4 * (int64_t)cap;
    double *y = alloc_doubles(2 * n), *t = alloc_doubles(tri);
    if (!y || !t) {
        s = lg_set_error(LG_ERR_OOM, "%s: out of memory", fn);
        goto done;
    }
    double *theta = t, *work = t + cap, *Z = t + 4 * cap;
    s = lanczos_start(&k, o, y);
    bool converged = false;
    while (s == LG_OK && k.m < cap && !converged) {
        s = krylov_step(fn, &k);
        if (s == LG_OK)
            s = tridiag_eig(fn, k.alpha, k.beta, k.m, theta, Z, work);
        if (s == LG_OK)
            converged = k.invariant ||
                        (k.m >= kmax && worst_residual(&k, top, bottom, theta, Z) <= o->tol);
    }
    if (s != LG_OK)
        goto done;
    if (k.m < kmax) /* the space closed with fewer distinct values than pairs wanted */
        converged = true;
    int64_t products = k.m;
    s = write_pairs(fn, &k, top, true, theta, Z, o->check_residuals, y, y + n, &products);
    if (s == LG_OK)
        s = write_pairs(fn, &k, bottom, false, theta, Z, o->check_residuals, y, y + n,
                        &products);
    if (info)
        *info = (lg_lanczos_info){.iterations = k.m, .products = products,
                                  .converged = converged};
    if (s == LG_OK && !converged)
        s = lg_set_error(LG_ERR_NO_CONVERGE, "%s: the wanted pairs did not reach tol %g in "
                         "%d iterations (worst relative residual %.3g)", fn, o->tol, k.m,
                         worst_residual(&k, top, bottom, theta, Z));
done:
    free_doubles(y, 2 * n);
    free_doubles(t, tri);
    krylov_free(&k);
    return s;
}

/* ---- Hutchinson ---- */

lg_status lg_hutchinson_trace(const lg_linop *op, const lg_hutchinson_opts *o,
                              lg_trace_estimate *r)
{
    const char *fn = "lg_hutchinson_trace";
    lg_hutchinson_opts d = lg_hutchinson_defaults();
    if (!o)
        o = &d;
    if (r)
        *r = (lg_trace_estimate){0};
    lg_status s = check_op(fn, op);
    if (s != LG_OK)
        return s;
    if (!r)
        return lg_set_error(LG_ERR_ARG, "%s: r is NULL", fn);
    if (o->min_probes < 2 || o->max_probes < o->min_probes || !(o->rel_tol >= 0))
        return lg_set_error(LG_ERR_ARG, "%s: need 2 <= min_probes <= max_probes and rel_tol "
                            ">= 0; got %d, %d, %g", fn, o->min_probes, o->max_probes,
                            o->rel_tol);
    int64_t n = op->n;
    double *z = alloc_doubles(2 * n);
    if (!z)
        return lg_set_error(LG_ERR_OOM, "%s: out of memory", fn);
    lg_rng rng;
    lg_rng_init(&rng, o->seed);
    double mean = 0, m2 = 0; /* Welford */
    int p = 0;
    bool converged = false;
    while (p < o->max_probes && !converged) {
        rademacher(&rng, z, n);
        s = apply(fn, op, z, z + n);
        if (s != LG_OK)
            break;
        double x = cblas_ddot((int)n, z, 1, z + n, 1), delta = x - mean;
        p++;
        mean += delta / p;
        m2 += delta * (x - mean);
        double se = sqrt(m2 / (p - (p > 1)) / p);
        converged = p >= o->min_probes && o->rel_tol > 0 && se <= o->rel_tol * fabs(mean);
    }
    free_doubles(z, 2 * n);
    if (s != LG_OK)
        return s;
    *r = (lg_trace_estimate){.trace = mean, .std_err = sqrt(m2 / (p - 1) / p), .probes = p,
                             .converged = converged || o->rel_tol == 0};
    if (!r->converged)
        return lg_set_error(LG_ERR_NO_CONVERGE, "%s: standard error %.3g after %d probes is "
                            "above %g of |trace| = %.6g", fn, r->std_err, p, o->rel_tol,
                            fabs(mean));
    return LG_OK;
}

/* ---- stochastic Lanczos quadrature ---- */

/* Nodes and weights of one probe from `steps` Lanczos steps starting at v. */
static lg_status slq_probe(krylov *k, const double *v, int steps, double *theta, double *Z,
                           double *work, double *nodes, double *weights)
{
    const char *fn = "lg_slq";
    lg_status s = krylov_start(fn, k, v);
    while (s == LG_OK && k->m < steps && !k->invariant)
        s = krylov_step(fn, k);
    if (s == LG_OK)
        s = tridiag_eig(fn, k->alpha, k->beta, k->m, theta, Z, work);
    if (s != LG_OK)
        return s;
    for (int j = 0; j < steps; j++) {
        int jj = j < k->m ? j : k->m - 1;
        nodes[j] = theta[jj];
        weights[j] = j < k->m ? Z[(int64_t)j * k->m] * Z[(int64_t)j * k->m] : 0;
    }
    return LG_OK;
}

lg_status lg_slq(const lg_linop *op, const lg_slq_opts *o, double *nodes, double *weights)
{
    const char *fn = "lg_slq";
    lg_slq_opts d = lg_slq_defaults();
    if (!o)
        o = &d;
    lg_status s = check_op(fn, op);
    if (s != LG_OK)
        return s;
    if (!nodes || !weights)
        return lg_set_error(LG_ERR_ARG, "%s: nodes or weights is NULL", fn);
    if (o->probes < 1 || o->steps < 1 || o->steps > op->n)
        return lg_set_error(LG_ERR_ARG, "%s: probes = %d, steps = %d; need probes >= 1 and "
                            "1 <= steps <= n = %lld", fn, o->probes, o->steps,
                            (long long)op->n);
    int steps = o->steps;
    krylov k;
    s = krylov_init(fn, &k, op, steps, NULL, 0);
    if (s != LG_OK)
        return s;
    int64_t n = op->n, tri = (int64_t)steps * steps + 4 * (int64_t)steps;
    double *z = alloc_doubles(n), *t = alloc_doubles(tri);
    if (!z || !t)
        s = lg_set_error(LG_ERR_OOM, "%s: out of memory", fn);
    lg_rng rng;
    lg_rng_init(&rng, o->seed);
    for (int p = 0; p < o->probes && s == LG_OK; p++) {
        const double *v = z;
        if (o->vectors)
            v = o->vectors + (int64_t)p * n;
        else
            rademacher(&rng, z, n);
        s = slq_probe(&k, v, steps, t, t + 4 * steps, t + steps, nodes + (int64_t)p * steps,
                      weights + (int64_t)p * steps);
    }
    free_doubles(z, n);
    free_doubles(t, tri);
    krylov_free(&k);
    return s;
}

lg_status lg_slq_density(const double *nodes, const double *weights, int probes, int steps,
                         double sigma, const double *grid, int n_grid, double *density)
{
    if (!nodes || !weights || !grid || !density)
        return lg_set_error(LG_ERR_ARG, "lg_slq_density: an array is NULL");
    if (probes < 1 || steps < 1 || n_grid < 1 || !(sigma > 0) || !isfinite(sigma))
        return lg_set_error(LG_ERR_ARG, "lg_slq_density: probes = %d, steps = %d, n_grid = %d, "
                            "sigma = %g; need counts >= 1 and sigma > 0", probes, steps,
                            n_grid, sigma);
    const double c = 1.0 / (probes * sigma * 2.5066282746310002); /* √(2π) */
    for (int g = 0; g < n_grid; g++) {
        double acc = 0;
        for (int64_t j = 0; j < (int64_t)probes * steps; j++) {
            double u = (grid[g] - nodes[j]) / sigma;
            acc += weights[j] * exp(-0.5 * u * u);
        }
        density[g] = c * acc;
    }
    return LG_OK;
}
