/* Least squares four ways: recover known weights w = [1, 2, -1, 3] from noisy data with
 * the normal equations (solve, then Cholesky), lstsq (SVD) and QR. Then an ill-conditioned
 * design (two near-collinear features) shows why lstsq or QR wins: the normal equations
 * square the condition number. Everything is float64 and forward only (no gradients).
 * Usage: least_squares (no arguments). */
#include <math.h>
#include <stdio.h>
#include "lagrad/lagrad.h"

enum { N = 200, D = 4 };
static const double W_TRUE[D] = {1, 2, -1, 3};

static const char *const METHODS[4] = {"normal eq. (solve)", "normal eq. (cholesky)",
                                       "lstsq (SVD)", "QR"};
static const char *const SHORT[4] = {"NE solve", "NE chol", "lstsq", "QR"};

/* The four estimates of w from X (N,D) and y (N,1), graph tensors of D values in the
 * order of METHODS, each with its status (a method may fail, e.g. Cholesky of a
 * numerically singular XᵀX). Returns false when XᵀX itself could not be formed. */
static bool estimate(lg_graph *g, lg_tensor *x, lg_tensor *y, lg_tensor *w[4],
                     lg_status st[4])
{
    lg_tensor *xtx = lg_matmul_t(g, x, x, true, false); /* (D,D) */
    lg_tensor *xty = lg_matmul_t(g, x, y, true, false); /* (D,1) */
    if (!xtx || !xty)
        return false;
    w[0] = lg_solve(g, xtx, xty);
    st[0] = lg_graph_status(g);
    lg_graph_clear_error(g);
    w[1] = lg_cholesky_solve(g, lg_cholesky(g, xtx), xty);
    st[1] = lg_graph_status(g);
    lg_graph_clear_error(g);
    lg_lstsq_result r;
    st[2] = lg_lstsq(g, x, y, -1, &r);
    w[2] = st[2] == LG_OK ? r.solution : NULL;
    lg_graph_clear_error(g);
    lg_tensor *q, *rr;
    st[3] = lg_qr(g, x, &q, &rr);
    w[3] = st[3] == LG_OK ? lg_solve_triangular(g, rr, lg_matmul_t(g, q, y, true, false),
                                                LG_TRI_UPPER)
                          : NULL;
    if (!w[3] && st[3] == LG_OK)
        st[3] = lg_graph_status(g);
    lg_graph_clear_error(g);
    return true;
}

/* ‖w - W_TRUE‖ / ‖W_TRUE‖. */
static double rel_err(const lg_tensor *w)
{
    double num = 0, den = 0;
    for (int j = 0; j < D; j++) {
        double e = lg_tensor_item(w, j) - W_TRUE[j];
        num += e * e;
        den += W_TRUE[j] * W_TRUE[j];
    }
    return sqrt(num / den);
}

/* Design X (N,D) of normals; with `delta` > 0, column 1 becomes column 0 plus delta
 * times fresh noise (near-collinear). y = X W_TRUE + noise_sd normal noise, (N,1). */
static void make_data(lg_rng *rng, double delta, double noise_sd, lg_tensor *x, lg_tensor *y)
{
    double *xd = lg_tensor_data(x), *yd = lg_tensor_data(y);
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < D; j++)
            xd[i * D + j] = sqrt(-2 * log(1 - lg_rng_uniform(rng))) *
                            cos(6.283185307179586 * lg_rng_uniform(rng));
        if (delta > 0)
            xd[i * D + 1] = xd[i * D] + delta * (2 * lg_rng_uniform(rng) - 1);
        yd[i] = noise_sd * sqrt(-2 * log(1 - lg_rng_uniform(rng))) *
                cos(6.283185307179586 * lg_rng_uniform(rng));
        for (int j = 0; j < D; j++)
            yd[i] += xd[i * D + j] * W_TRUE[j];
    }
}

static int fail(lg_graph *g)
{
    fprintf(stderr, "least_squares: %s\n", lg_graph_errmsg(g));
    return 1;
}

int main(void)
{
    int64_t xs[2] = {N, D}, ys[2] = {N, 1};
    lg_tensor *x = lg_tensor_zeros(LG_F64, 2, xs), *y = lg_tensor_zeros(LG_F64, 2, ys);
    lg_graph *g = lg_graph_new();
    if (!x || !y || !g) {
        fprintf(stderr, "least_squares: setup failed: %s\n", lg_last_errmsg());
        return 1;
    }
    lg_graph_set_grad_enabled(g, false);
    lg_rng rng;
    lg_rng_init(&rng, 7);
    int status = 0;

    make_data(&rng, 0, 0.1, x, y);
    lg_tensor *w[4];
    lg_status st[4];
    lg_tensor *cond = lg_cond(g, x);
    if (!cond || !estimate(g, x, y, w, st))
        status = fail(g);
    for (int k = 0; k < 4 && !status; k++)
        if (st[k] != LG_OK) {
            fprintf(stderr, "least_squares: %s failed: %s\n", METHODS[k], lg_status_str(st[k]));
            status = 1;
        }
    if (!status) {
        printf("well conditioned: %d points, %d features, noise sd 0.1, cond(X) = %.3g\n", N,
               D, lg_tensor_item(cond, 0));
        printf("  %-22s %8.4f %8.4f %8.4f %8.4f\n", "true weights", W_TRUE[0], W_TRUE[1],
               W_TRUE[2], W_TRUE[3]);
        for (int k = 0; k < 4; k++)
            printf("  %-22s %8.4f %8.4f %8.4f %8.4f\n", METHODS[k], lg_tensor_item(w[k], 0),
                   lg_tensor_item(w[k], 1), lg_tensor_item(w[k], 2), lg_tensor_item(w[k], 3));
    }

    /* Noise-free y, so the exact least-squares answer is W_TRUE itself: what remains is
     * each method's rounding error, about cond(X) eps for lstsq and QR but cond(X)² eps
     * for the normal equations. */
    const double deltas[3] = {1e-3, 1e-5, 1e-7};
    if (!status)
        printf("\nill conditioned: column 1 = column 0 + delta * noise, y = X w exactly;\n"
               "relative error of w (the exact answer is w itself; NE = normal equations)\n"
               "  %-8s %-9s %-9s", "delta", "cond(X)", "cond(XtX)");
    for (int k = 0; k < 4 && !status; k++)
        printf(" %-9s", SHORT[k]);
    for (int t = 0; t < 3 && !status; t++) {
        lg_graph_reset(g);
        make_data(&rng, deltas[t], 0, x, y);
        cond = lg_cond(g, x);
        lg_tensor *cond2 = lg_cond(g, lg_matmul_t(g, x, x, true, false));
        if (!cond || !cond2 || !estimate(g, x, y, w, st)) {
            status = fail(g);
            break;
        }
        printf("\n  %-8.0e %-9.2e %-9.2e", deltas[t], lg_tensor_item(cond, 0),
               lg_tensor_item(cond2, 0));
        for (int k = 0; k < 4; k++)
            if (st[k] == LG_OK)
                printf(" %-9.2e", rel_err(w[k]));
            else
                printf(" %s", lg_status_str(st[k]));
    }
    if (!status)
        printf("\nlstsq and QR lose digits in proportion to cond(X); the normal equations in "
               "proportion to cond(X)^2.\n");
    lg_graph_free(g);
    lg_tensor_free(x);
    lg_tensor_free(y);
    return status;
}
