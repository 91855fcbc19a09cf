/* f32 GEMM: lagrad's product (lg_matmul_t on a graph, which runs backend/cpu/cpu_sgemm.c
 * on an AVX-512 processor) against one raw cblas_sgemm of the same shape and transposes,
 * the OpenBLAS that lagrad links. Shapes: the three big products of examples/sharpness's
 * training step (forward 5000x784·784x200, weight gradient 784x5000·5000x200, and the
 * 5000x200·200x200 of the middle layer), an MLP batch (128x784·784x256) and 1024^3.
 * Runs alternate lagrad and the reference; prints one JSON array (one line) of
 * {"m", "n", "k", "ta", "tb", "lagrad_gflops", "sgemm_gflops"}, medians.
 * Usage: gemm [--threads N] [--reps R] */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lagrad/lagrad.h"
#include "bench_util.h"

enum { MAX_REPS = 31 };

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "gemm bench: %s: %s\n", what, msg);
    exit(1);
}

typedef struct product {
    int64_t m, n, k;
    bool ta, tb;
    lg_tensor *a, *b;
    lg_graph *g;
    float *c;
} product;

static void lagrad_call(void *ctx)
{
    product *p = ctx;
    lg_graph_reset(p->g);
    if (!lg_matmul_t(p->g, p->a, p->b, p->ta, p->tb))
        die("lg_matmul_t", lg_last_errmsg());
}

static void blas_call(void *ctx)
{
    product *p = ctx;
    cblas_sgemm(CblasRowMajor, p->ta ? CblasTrans : CblasNoTrans,
                p->tb ? CblasTrans : CblasNoTrans, (int)p->m, (int)p->n, (int)p->k, 1,
                lg_tensor_data(p->a), (int)(p->ta ? p->m : p->k), lg_tensor_data(p->b),
                (int)(p->tb ? p->k : p->n), 0, p->c, (int)p->n);
}

int main(int argc, char **argv)
{
    int threads = 1, reps = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else die("usage", "gemm [--threads N] [--reps R]");
    }
    if (threads < 1 || reps < 1 || reps > MAX_REPS)
        die("usage", "--threads >= 1, --reps in 1..31");
    if (lg_set_num_threads(threads) != LG_OK)
        die("threads", lg_last_errmsg());
    static const struct { int64_t m, n, k; bool ta, tb; } shapes[] = {
        {5000, 200, 784, false, false}, {784, 200, 5000, true, false},
        {5000, 200, 200, false, true},  {128, 256, 784, false, true},
        {1024, 1024, 1024, false, false},
    };
    int count = (int)(sizeof shapes / sizeof shapes[0]);
    lg_rng rng;
    lg_rng_init(&rng, 7);
    printf("[");
    for (int s = 0; s < count; s++) {
        product p = {shapes[s].m, shapes[s].n, shapes[s].k, shapes[s].ta, shapes[s].tb,
                     NULL, NULL, lg_graph_new(), NULL};
        int64_t as[2] = {p.ta ? p.k : p.m, p.ta ? p.m : p.k};
        int64_t bs[2] = {p.tb ? p.n : p.k, p.tb ? p.k : p.n};
        p.a = lg_tensor_normal(LG_F32, 2, as, 0, 1, &rng);
        p.b = lg_tensor_normal(LG_F32, 2, bs, 0, 1, &rng);
        p.c = malloc(sizeof(float) * (size_t)(p.m * p.n));
        if (!p.g || !p.a || !p.b || !p.c)
            die("setup", "out of memory");
        double tl[MAX_REPS], tb[MAX_REPS];
        lagrad_call(&p); /* warm: arena, copy buffers, BLAS's threads */
        blas_call(&p);
        for (int r = 0; r < reps; r++) {
            tl[r] = seconds_per_call(lagrad_call, &p, 0.1);
            tb[r] = seconds_per_call(blas_call, &p, 0.1);
        }
        double flops = 2.0 * (double)p.m * (double)p.n * (double)p.k;
        printf("%s{\"m\": %lld, \"n\": %lld, \"k\": %lld, \"ta\": %d, \"tb\": %d, "
               "\"lagrad_gflops\": %.1f, \"sgemm_gflops\": %.1f}", s ? ", " : "",
               (long long)p.m, (long long)p.n, (long long)p.k, p.ta, p.tb,
               flops / median(tl, reps) * 1e-9, flops / median(tb, reps) * 1e-9);
        free(p.c);
        lg_tensor_free(p.a);
        lg_tensor_free(p.b);
        lg_graph_free(p.g);
    }
    printf("]\n");
    return 0;
}
