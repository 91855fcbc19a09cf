/* A multivariate Gaussian with Cholesky: sample x = L z + μ and check the sample
 * covariance; evaluate the log-density with log|Σ| = 2 Σ log diag(L) against the
 * textbook formula with inv and det; then fit μ and Σ = B Bᵀ by gradient descent (Adam)
 * on the negative log-likelihood, backpropagating through cholesky and the triangular
 * solve, and watch the fit converge to the sample estimates (the maximum-likelihood
 * answer). float64 throughout. Usage: gaussian (no arguments). */
#include <math.h>
#include <stdio.h>
#include "lagrad/lagrad.h"

enum { D = 3, N = 20000, STEPS = 400 };
static const double MU[D] = {1.0, -2.0, 0.5};
static const double SIGMA[D * D] = {2.0, 0.6, -0.4, /* SPD: eigenvalues about 2.3, 1.2, 0.4 */
                                    0.6, 1.0, 0.3,
                                    -0.4, 0.3, 0.8};
static const double LOG_2PI = 1.8378770664093453;

/* diag(a) of a square (D,D) graph tensor, as (D). */
static lg_tensor *diag(lg_graph *g, lg_tensor *a)
{
    double e[D * D] = {0};
    for (int i = 0; i < D; i++)
        e[i * D + i] = 1;
    int64_t s[2] = {D, D};
    return lg_sum_axis(g, lg_mul(g, a, lg_graph_input(g, LG_F64, 2, s, e)), 1, false);
}

/* Mean negative log-likelihood of the rows of x (N,D) under N(mu, L Lᵀ), L lower:
 * ½ mean ‖L⁻¹(x - μ)‖² + Σ log diag(L) + D/2 log 2π. */
static lg_tensor *nll(lg_graph *g, lg_tensor *x, lg_tensor *mu, lg_tensor *l)
{
    lg_tensor *z = lg_solve_triangular(g, l, lg_transpose(g, lg_sub(g, x, mu)),
                                       LG_TRI_LOWER); /* (D,N) */
    lg_tensor *quad = lg_scale(g, lg_sum(g, lg_mul(g, z, z)), 0.5 / N);
    lg_tensor *logdet_half = lg_sum(g, lg_log(g, diag(g, l)));
    return lg_add_scalar(g, lg_add(g, quad, logdet_half), 0.5 * D * LOG_2PI);
}

static double max_abs_diff(const double *a, const double *b, int n)
{
    double m = 0;
    for (int i = 0; i < n; i++)
        m = fmax(m, fabs(a[i] - b[i]));
    return m;
}

static void print_mat(const char *name, const double *a)
{
    for (int i = 0; i < D; i++)
        printf("  %-14s [%8.4f %8.4f %8.4f]\n", i == 0 ? name : "", a[i * D], a[i * D + 1],
               a[i * D + 2]);
}

/* Sample mean (D) and biased covariance (D,D) of the rows of x (N,D). */
static void moments(const double *x, double *mean, double *cov)
{
    for (int j = 0; j < D; j++) {
        mean[j] = 0;
        for (int i = 0; i < N; i++)
            mean[j] += x[i * D + j] / N;
    }
    for (int j = 0; j < D; j++)
        for (int k = 0; k < D; k++) {
            double s = 0;
            for (int i = 0; i < N; i++)
                s += (x[i * D + j] - mean[j]) * (x[i * D + k] - mean[k]);
            cov[j * D + k] = s / N;
        }
}

/* Samples x = L z + μ into xs (N,D) and prints the sample moments. */
static bool sample(lg_graph *g, lg_rng *rng, lg_tensor *xs, double *mean, double *cov)
{
    int64_t ms[2] = {D, D}, zs[2] = {N, D}, vs = D;
    lg_tensor *z = lg_tensor_normal(LG_F64, 2, zs, 0, 1, rng);
    lg_tensor *l = lg_cholesky(g, lg_graph_input(g, LG_F64, 2, ms, SIGMA));
    lg_tensor *x = lg_add(g, lg_matmul_t(g, z, l, false, true),
                          lg_graph_input(g, LG_F64, 1, &vs, MU)); /* rows L z + μ */
    lg_status st = x ? lg_tensor_copy_from(xs, x) : LG_ERR_ARG;
    lg_tensor_free(z);
    if (st != LG_OK)
        return false;
    moments(lg_tensor_cdata(xs), mean, cov);
    printf("sampled %d points from N(mu, Sigma) as L z + mu, L = cholesky(Sigma)\n", N);
    printf("  %-14s [%8.4f %8.4f %8.4f]\n  %-14s [%8.4f %8.4f %8.4f]\n", "mu", MU[0], MU[1],
           MU[2], "sample mean", mean[0], mean[1], mean[2]);
    print_mat("Sigma", SIGMA);
    print_mat("sample cov", cov);
    /* The standard error of a Gaussian sample covariance entry is
     * sqrt((Σjk² + Σjj Σkk) / N). */
    double worst = 0;
    for (int j = 0; j < D; j++)
        for (int k = 0; k < D; k++)
            worst = fmax(worst, fabs(cov[j * D + k] - SIGMA[j * D + k]) /
                                    sqrt((SIGMA[j * D + k] * SIGMA[j * D + k] +
                                          SIGMA[j * D + j] * SIGMA[k * D + k]) / N));
    printf("  max |sample cov - Sigma| = %.4f; the worst entry is %.1f standard errors off\n",
           max_abs_diff(cov, SIGMA, D * D), worst);
    return true;
}

/* log N(x0; μ, Σ) via L, and via inv and det. */
static bool log_density(lg_graph *g)
{
    int64_t ms[2] = {D, D}, vs = D;
    const double x0[D] = {1.5, -2.5, 1.5};
    lg_tensor *sigma = lg_graph_input(g, LG_F64, 2, ms, SIGMA);
    lg_tensor *r = lg_sub(g, lg_graph_input(g, LG_F64, 1, &vs, x0),
                          lg_graph_input(g, LG_F64, 1, &vs, MU));
    lg_tensor *l = lg_cholesky(g, sigma);
    lg_tensor *z = lg_solve_triangular(g, l, r, LG_TRI_LOWER);
    lg_tensor *logdet_l = lg_scale(g, lg_sum(g, lg_log(g, diag(g, l))), 2.0);
    lg_tensor *lp_chol = lg_scale(g, lg_add_scalar(g, lg_add(g, lg_dot(g, z, z), logdet_l),
                                                   D * LOG_2PI), -0.5);
    int64_t col[2] = {D, 1};
    lg_tensor *sr = lg_matmul(g, lg_inv(g, sigma), lg_reshape(g, r, 2, col)); /* (D,1) */
    lg_tensor *quad = lg_dot(g, r, lg_reshape(g, sr, 1, &vs));
    lg_tensor *lp_inv = lg_scale(g, lg_add_scalar(g, lg_add(g, quad, lg_log(g, lg_det(g, sigma))),
                                                  D * LOG_2PI), -0.5);
    if (!lp_chol || !lp_inv)
        return false;
    printf("\nlog-density at x0 = [%.1f %.1f %.1f]\n", x0[0], x0[1], x0[2]);
    printf("  log|Sigma| = 2 sum log diag(L) = %.12f\n", lg_tensor_item(logdet_l, 0));
    printf("  via L (triangular solve)       = %.12f\n", lg_tensor_item(lp_chol, 0));
    printf("  via inv(Sigma) and det(Sigma)  = %.12f  (difference %.1e)\n",
           lg_tensor_item(lp_inv, 0),
           fabs(lg_tensor_item(lp_chol, 0) - lg_tensor_item(lp_inv, 0)));
    return true;
}

/* Fits μ and Σ = B Bᵀ (B starts at I, μ at 0) by Adam on the NLL of xs. */
static bool fit(lg_graph *g, lg_tensor *xs, const double *mean, const double *cov)
{
    int64_t ms[2] = {D, D}, vs = D;
    lg_params *p = lg_params_new();
    lg_tensor *mu = p ? lg_params_add(p, "mu", LG_F64, 1, &vs) : NULL;
    lg_tensor *b = mu ? lg_params_add(p, "b", LG_F64, 2, ms) : NULL;
    lg_optim_config c = lg_optim_defaults(LG_OPTIM_ADAM);
    c.lr = 0.02;
    lg_optim *o = b ? lg_optim_new(p, &c) : NULL;
    bool ok = o != NULL;
    for (int i = 0; ok && i < D; i++)
        ((double *)lg_tensor_data(b))[i * D + i] = 1;
    /* The best any fit can do: the NLL at the sample mean and covariance. */
    double det = cov[0] * (cov[4] * cov[8] - cov[5] * cov[7]) -
                 cov[1] * (cov[3] * cov[8] - cov[5] * cov[6]) +
                 cov[2] * (cov[3] * cov[7] - cov[4] * cov[6]);
    if (ok)
        printf("\nfit mu and Sigma = B B^T by Adam (lr %.2f) on the NLL, through cholesky and "
               "the triangular solve\n  %5s %10s %18s %18s\n", c.lr, "step", "NLL",
               "max|mu - mean|", "max|Sigma - cov|");
    double sig[D * D];
    for (int step = 0; ok && step <= STEPS; step++) {
        lg_graph_reset(g);
        lg_tensor *s = lg_matmul_t(g, b, b, false, true);
        lg_tensor *loss = nll(g, xs, mu, lg_cholesky(g, s));
        ok = loss != NULL;
        for (int i = 0; ok && i < D * D; i++)
            sig[i] = lg_tensor_item(s, i);
        if (ok && (step % 50 == 0))
            printf("  %5d %10.6f %18.2e %18.2e\n", step, lg_tensor_item(loss, 0),
                   max_abs_diff(lg_tensor_cdata(mu), mean, D), max_abs_diff(sig, cov, D * D));
        if (ok && step < STEPS) {
            lg_params_zero_grad(p);
            ok = lg_backward(g, loss) == LG_OK && lg_optim_step(o) == LG_OK;
        }
    }
    if (ok) {
        printf("  NLL at the sample estimates (the minimum): %.6f\n",
               0.5 * D + 0.5 * log(det) + 0.5 * D * LOG_2PI);
        print_mat("fitted Sigma", sig);
    }
    lg_optim_free(o);
    lg_params_free(p);
    return ok;
}

int main(void)
{
    int64_t xs_shape[2] = {N, D};
    lg_tensor *xs = lg_tensor_zeros(LG_F64, 2, xs_shape);
    lg_graph *g = lg_graph_new();
    if (!xs || !g) {
        fprintf(stderr, "gaussian: setup failed: %s\n", lg_last_errmsg());
        return 1;
    }
    lg_rng rng;
    lg_rng_init(&rng, 3);
    double mean[D], cov[D * D];
    bool ok = sample(g, &rng, xs, mean, cov);
    lg_graph_reset(g);
    ok = ok && log_density(g) && fit(g, xs, mean, cov);
    if (!ok)
        fprintf(stderr, "gaussian: %s\n", lg_graph_status(g) != LG_OK ? lg_graph_errmsg(g)
                                                                     : lg_last_errmsg());
    lg_graph_free(g);
    lg_tensor_free(xs);
    return ok ? 0 : 1;
}
