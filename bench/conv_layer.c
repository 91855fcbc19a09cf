/* One conv layer, forward and backward, against the cost of its GEMMs alone: x (64, 32,
 * 14, 14), w (C_out, 32, 3, 3) with C_out 32 and 64, padding 1, bias, f32. lagrad runs
 * it as im2col + GEMM per sample (forward), GEMM + col2im (input gradient) and im2col +
 * GEMM (weight gradient); the raw rows time the same per-sample sgemm calls, and the three
 * big sgemm calls of the whole batch at once, through cblas directly. What lagrad spends
 * beyond its GEMMs is im2col (twice), col2im, the bias and the graph.
 * Prints markdown rows. Usage: conv_layer [threads] [--header | --profile]; --profile
 * runs only lagrad's fwd+bwd of the 64-channel layer, 50 times, for perf record. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lagrad/lagrad.h"
#include "bench_util.h"

enum { N = 64, C = 32, H = 14, W = 14, K = C * 9, L = H * W, REPS = 7 };

typedef struct layer {
    int co;
    lg_graph *g;
    lg_tensor *x, *w, *b, *dy;
    float *cols, *dcols, *big_dy, *out, *dw; /* raw GEMM operands (values irrelevant) */
} layer;

/* Median seconds of REPS runs of fn(l, which). */
static double timeit(double (*fn)(layer *, int), layer *l, int which)
{
    double t[REPS];
    fn(l, which); /* warm-up: the arena and OpenBLAS buffers */
    for (int r = 0; r < REPS; r++)
        t[r] = fn(l, which);
    return median(t, REPS);
}

/* which: 0 forward only, 1 forward + backward into x only, 2 into w and b only, 3 all. */
static double lagrad_step(layer *l, int which)
{
    lg_graph *g = l->g;
    lg_tensor_set_requires_grad(l->x, which == 1 || which == 3);
    lg_tensor_set_requires_grad(l->w, which >= 2);
    lg_tensor_set_requires_grad(l->b, which >= 2);
    lg_graph_reset(g);
    lg_conv2d_opts o = lg_conv2d_defaults();
    o.padding[0] = o.padding[1] = 1;
    double t0 = now_s();
    lg_tensor *y = lg_conv2d(g, l->x, l->w, l->b, &o);
    lg_status s = y ? LG_OK : lg_graph_status(g);
    if (y && which)
        s = lg_backward_ex(g, y, l->dy, false);
    double t = now_s() - t0;
    if (s != LG_OK) {
        fprintf(stderr, "conv_layer: %s\n", lg_graph_errmsg(g));
        exit(1);
    }
    lg_tensor *ts[3] = {l->x, l->w, l->b};
    for (int i = 0; i < 3; i++)
        lg_tensor_zero_grad(ts[i]);
    return t;
}

/* The per-sample sgemm calls lagrad makes. which: 0 forward, 1 input gradient,
 * 2 weight gradient, 3 all three. */
static double raw_per_sample(layer *l, int which)
{
    const float *w = lg_tensor_data(l->w), *dy = lg_tensor_data(l->dy);
    int co = l->co;
    double t0 = now_s();
    for (int n = 0; n < N; n++) {
        if (which == 0 || which == 3)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, co, L, K, 1, w, K, l->cols,
                        L, 0, l->out + (size_t)n * co * L, L);
        if (which == 1 || which == 3)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, L, co, 1, w, K,
                        dy + (size_t)n * co * L, L, 0, l->dcols, L);
        if (which == 2 || which == 3)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, co, K, L, 1,
                        dy + (size_t)n * co * L, L, l->cols, L, n ? 1 : 0, l->dw, K);
    }
    return now_s() - t0;
}

/* The three GEMMs of the whole batch at once: Y (co, N L) = W cols, dW = dY colsᵀ,
 * dcols = Wᵀ dY, with cols (K, N L). */
static double raw_batched(layer *l, int which)
{
    (void)which;
    const float *w = lg_tensor_data(l->w);
    int co = l->co, nl = N * L;
    double t0 = now_s();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, co, nl, K, 1, w, K, l->cols, nl, 0,
                l->out, nl);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, co, K, nl, 1, l->big_dy, nl, l->cols,
                nl, 0, l->dw, K);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, nl, co, 1, w, K, l->big_dy, nl, 0,
                l->dcols, nl);
    return now_s() - t0;
}

static float *filled(size_t n)
{
    float *p = malloc(n * sizeof *p);
    if (!p) {
        fprintf(stderr, "conv_layer: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        p[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
    return p;
}

static void run(int co, int threads)
{
    lg_rng rng;
    lg_rng_init(&rng, 1);
    layer l = {.co = co};
    l.x = lg_tensor_normal(LG_F32, 4, (int64_t[]){N, C, H, W}, 0, 1, &rng);
    l.w = lg_tensor_normal(LG_F32, 4, (int64_t[]){co, C, 3, 3}, 0, 0.06, &rng);
    l.b = lg_tensor_normal(LG_F32, 1, (int64_t[]){co}, 0, 1, &rng);
    l.dy = lg_tensor_normal(LG_F32, 4, (int64_t[]){N, co, H, W}, 0, 1, &rng);
    l.g = lg_graph_new();
    if (!l.x || !l.w || !l.b || !l.dy || !l.g) {
        fprintf(stderr, "conv_layer: %s\n", lg_last_errmsg());
        exit(1);
    }
    /* Big enough for the batched GEMMs; the per-sample ones use the first sample's part. */
    l.cols = filled((size_t)K * N * L);
    l.dcols = filled((size_t)K * N * L);
    l.big_dy = filled((size_t)co * N * L);
    l.out = filled((size_t)co * N * L);
    l.dw = filled((size_t)co * K);

    double fwd = timeit(lagrad_step, &l, 0), fx = timeit(lagrad_step, &l, 1);
    double fw = timeit(lagrad_step, &l, 2), all = timeit(lagrad_step, &l, 3);
    double g_f = timeit(raw_per_sample, &l, 0), g_x = timeit(raw_per_sample, &l, 1);
    double g_w = timeit(raw_per_sample, &l, 2), g_all = timeit(raw_per_sample, &l, 3);
    double g_big = timeit(raw_batched, &l, 3);
    double flops = 3.0 * 2.0 * co * K * (double)N * L;
    /* Beyond the GEMMs: forward = im2col + bias fill; input grad = col2im;
     * weight grad = im2col again + the bias gradient (a sum over N, H, W). */
    printf("| (64,32,14,14) * (%d,32,3,3) | %d | %.2f | %.2f | %.2f | %.0f%% | %.1f | "
           "%.2f / %.2f | %.2f / %.2f | %.2f / %.2f |\n",
           co, threads, all * 1e3, g_all * 1e3, g_big * 1e3, 100.0 * g_all / all,
           flops / all * 1e-9, fwd * 1e3, g_f * 1e3, (fx - fwd) * 1e3, g_x * 1e3,
           (fw - fwd) * 1e3, g_w * 1e3);
    lg_tensor *ts[4] = {l.x, l.w, l.b, l.dy};
    for (int i = 0; i < 4; i++)
        lg_tensor_free(ts[i]);
    lg_graph_free(l.g);
    free(l.cols);
    free(l.dcols);
    free(l.big_dy);
    free(l.out);
    free(l.dw);
}

static void profile(void)
{
    lg_rng rng;
    lg_rng_init(&rng, 1);
    layer l = {.co = 64, .g = lg_graph_new()};
    l.x = lg_tensor_normal(LG_F32, 4, (int64_t[]){N, C, H, W}, 0, 1, &rng);
    l.w = lg_tensor_normal(LG_F32, 4, (int64_t[]){64, C, 3, 3}, 0, 0.06, &rng);
    l.b = lg_tensor_normal(LG_F32, 1, (int64_t[]){64}, 0, 1, &rng);
    l.dy = lg_tensor_normal(LG_F32, 4, (int64_t[]){N, 64, H, W}, 0, 1, &rng);
    if (!l.x || !l.w || !l.b || !l.dy || !l.g) {
        fprintf(stderr, "conv_layer: %s\n", lg_last_errmsg());
        exit(1);
    }
    double t = 0;
    for (int i = 0; i < 50; i++)
        t += lagrad_step(&l, 3);
    printf("lagrad fwd+bwd: %.2f ms per step (mean of 50)\n", t / 50 * 1e3);
    lg_tensor *ts[4] = {l.x, l.w, l.b, l.dy};
    for (int i = 0; i < 4; i++)
        lg_tensor_free(ts[i]);
    lg_graph_free(l.g);
}

int main(int argc, char **argv)
{
    int threads = argc > 1 && argv[1][0] != '-' ? atoi(argv[1]) : 1;
    if (threads < 1 || lg_set_num_threads(threads) != LG_OK) {
        fprintf(stderr, "usage: conv_layer [threads >= 1] [--header]\n");
        return 2;
    }
    if (strcmp(argv[argc - 1], "--profile") == 0) {
        profile();
        return 0;
    }
    if (strcmp(argv[argc - 1], "--header") == 0)
        printf("| conv layer, f32, pad 1, bias | threads | lagrad fwd+bwd ms | same "
               "per-sample sgemms ms | 3 batched sgemms ms | GEMM share | lagrad GFLOP/s | "
               "forward ms (lagrad / its sgemms) | input grad ms | weight+bias grad ms |\n"
               "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    run(32, threads);
    run(64, threads);
    return 0;
}
