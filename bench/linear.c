/* Linear layer: forward and backward of Y = X Wᵀ + b seeded with a fixed dY
 * (lg_backward_ex), with dX, dW and db accumulated into the leaves' grads, against the
 * three raw cblas_sgemm calls that are its floor:
 * Y = X Wᵀ, dX = dY W, dW = dYᵀ X. Shapes (N, K)·(K, M)ᵀ: 128x784 by 784->256 and 1024^3.
 * Runs alternate lagrad and the reference; prints one JSON array of
 * {"n", "k", "m", "lagrad_ms", "sgemm_ms"}, medians.
 * Usage: linear [--threads N] [--reps R] [--quick] */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lagrad/lagrad.h"
#include "bench_util.h"

enum { MAX_REPS = 31 };

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "linear bench: %s: %s\n", what, msg);
    exit(1);
}

static lg_tensor *normal(int64_t r, int64_t c, lg_rng *rng, bool grad)
{
    int64_t s[2] = {r, c};
    lg_tensor *t = c ? lg_tensor_normal(LG_F32, 2, s, 0, 1, rng)
                     : lg_tensor_normal(LG_F32, 1, s, 0, 1, rng);
    if (!t)
        die("setup", lg_last_errmsg());
    lg_tensor_set_requires_grad(t, grad);
    return t;
}

/* Seconds per call of `calls` repetitions of lagrad's step or the three sgemms. The
 * gradients accumulate over the calls, as they would over micro-batches: adding into a
 * zeroed grad costs the same, and zeroing is the caller's choice. */
static double time_lagrad(lg_graph *g, lg_tensor *x, lg_tensor *w, lg_tensor *b,
                          const lg_tensor *dy, int calls)
{
    double t0 = now_s();
    for (int i = 0; i < calls; i++) {
        lg_graph_reset(g);
        lg_tensor *y = lg_linear(g, x, w, b);
        if (!y || lg_backward_ex(g, y, dy, false) != LG_OK)
            die("lagrad", lg_graph_errmsg(g));
    }
    return (now_s() - t0) / calls;
}

static double time_sgemm(int n, int k, int m, const float *x, const float *w, const float *dy,
                         float *y, float *dx, float *dw, int calls)
{
    double t0 = now_s();
    for (int i = 0; i < calls; i++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, m, k, 1, x, k, w, k, 0, y, m);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, k, m, 1, dy, m, w, k, 0, dx,
                    k);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, k, n, 1, dy, m, x, k, 0, dw, k);
    }
    return (now_s() - t0) / calls;
}

int main(int argc, char **argv)
{
    int threads = 1, reps = 7, quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else die(argv[i], "unknown option (--threads N, --reps R, --quick)");
    }
    if (quick)
        reps = 1;
    if (threads < 1 || reps < 1 || reps > MAX_REPS || lg_set_num_threads(threads) != LG_OK)
        die("options", "threads >= 1, reps in [1, 31]");
    static const int shapes[2][3] = {{128, 784, 256}, {1024, 1024, 1024}};
    lg_rng rng;
    lg_rng_init(&rng, 3);
    printf("[");
    for (int s = 0; s < (quick ? 1 : 2); s++) {
        int n = shapes[s][0], k = shapes[s][1], m = shapes[s][2];
        lg_tensor *x = normal(n, k, &rng, true), *w = normal(m, k, &rng, true);
        lg_tensor *b = normal(m, 0, &rng, true), *dy = normal(n, m, &rng, false);
        float *y = malloc(sizeof(float) * (size_t)n * m);
        float *dx = malloc(sizeof(float) * (size_t)n * k);
        float *dw = malloc(sizeof(float) * (size_t)m * k);
        lg_graph *g = lg_graph_new();
        if (!y || !dx || !dw || !g)
            die("setup", "out of memory");
        const float *xp = lg_tensor_cdata(x), *wp = lg_tensor_cdata(w), *dyp = lg_tensor_cdata(dy);
        /* About 0.1 s per timing at ~100 GFLOP/s. */
        int calls = quick ? 2 : (int)(1 + 1.7e10 / (6.0 * n * k * m));
        double tl[MAX_REPS], tr[MAX_REPS];
        time_lagrad(g, x, w, b, dy, 2); /* warm-up: the graph's arena, BLAS buffers */
        time_sgemm(n, k, m, xp, wp, dyp, y, dx, dw, 2);
        for (int r = 0; r < reps; r++) {
            tl[r] = time_lagrad(g, x, w, b, dy, calls);
            tr[r] = time_sgemm(n, k, m, xp, wp, dyp, y, dx, dw, calls);
        }
        /* The gradients of one call must be the sgemm results, to float rounding. */
        lg_tensor_zero_grad(x);
        lg_tensor_zero_grad(w);
        time_lagrad(g, x, w, b, dy, 1);
        const float *gx = lg_tensor_cdata(lg_tensor_grad(x));
        const float *gw = lg_tensor_cdata(lg_tensor_grad(w));
        double err = 0;
        for (int64_t i = 0; i < (int64_t)n * k; i++)
            err = fmax(err, fabs(gx[i] - dx[i]) / (1 + fabs(dx[i])));
        for (int64_t i = 0; i < (int64_t)m * k; i++)
            err = fmax(err, fabs(gw[i] - dw[i]) / (1 + fabs(dw[i])));
        if (err > 1e-3)
            die("check", "lagrad's gradients differ from the sgemm results");
        printf("%s{\"n\": %d, \"k\": %d, \"m\": %d, \"lagrad_ms\": %.4f, \"sgemm_ms\": %.4f}",
               s ? ", " : "", n, k, m, 1e3 * median(tl, reps), 1e3 * median(tr, reps));
        free(y);
        free(dx);
        free(dw);
        lg_graph_free(g);
        lg_tensor_free(x);
        lg_tensor_free(w);
        lg_tensor_free(b);
        lg_tensor_free(dy);
    }
    printf("]\n");
    return 0;
}
