/* Per-op overhead: forward and backward of sum(relu(A x) ⊙ w) with A 4x4, the tiny
 * graph PyTorch's eager overhead is quoted on. The work is negligible, so the time is
 * what recording, dispatch and the tape walk cost. Prints µs per iteration and ns per
 * recorded op; "--json" prints one JSON object instead. Usage: overhead [iters] [--json] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lagrad/lagrad.h"
#include "bench_util.h"

/* One step: reset, 4 recorded ops, optionally backward. Returns the loss (keeps the
 * compiler from dropping the work). */
static float step(lg_graph *g, lg_tensor *a, lg_tensor *x, lg_tensor *w, int backward)
{
    lg_graph_reset(g);
    lg_tensor *y = lg_sum(g, lg_mul(g, lg_relu(g, lg_matmul(g, a, x)), w));
    if (!y || (backward && lg_backward(g, y) != LG_OK)) {
        fprintf(stderr, "overhead: %s\n", lg_graph_errmsg(g));
        exit(1);
    }
    return (float)lg_tensor_item(y, 0);
}

int main(int argc, char **argv)
{
    long iters = argc > 1 && argv[1][0] != '-' ? atol(argv[1]) : 200000;
    int json = argc > 1 && strcmp(argv[argc - 1], "--json") == 0;
    lg_set_num_threads(1);
    lg_rng rng;
    lg_rng_init(&rng, 1);
    int64_t sa[2] = {4, 4}, sx[2] = {4, 1};
    lg_tensor *a = lg_tensor_normal(LG_F32, 2, sa, 0, 1, &rng);
    lg_tensor *x = lg_tensor_normal(LG_F32, 2, sx, 0, 1, &rng);
    lg_tensor *w = lg_tensor_normal(LG_F32, 2, sx, 0, 1, &rng);
    lg_tensor_set_requires_grad(a, true);
    lg_tensor_set_requires_grad(w, true);
    lg_graph *g = lg_graph_new();
    volatile float sink = 0; /* keeps the compiler from dropping the steps */
    double fwd[5], both[5];
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now_s();
        for (long i = 0; i < iters; i++)
            sink += step(g, a, x, w, 0);
        double t1 = now_s();
        for (long i = 0; i < iters; i++)
            sink += step(g, a, x, w, 1);
        double t2 = now_s();
        fwd[rep] = (t1 - t0) / (double)iters;
        both[rep] = (t2 - t1) / (double)iters;
    }
    double f = median(fwd, 5), fb = median(both, 5);
    int ops = 4;
    if (json)
        printf("{\"forward_us\": %.4f, \"forward_backward_us\": %.4f, \"ops\": %d, "
               "\"forward_ns_per_op\": %.1f, \"forward_backward_ns_per_op\": %.1f}\n",
               f * 1e6, fb * 1e6, ops, f * 1e9 / ops, fb * 1e9 / ops);
    else
        printf("sum(relu(A x) * w), A 4x4, %d recorded ops, median of 5 x %ld iterations:\n"
               "  forward            %7.3f us/iter  %6.1f ns/op\n"
               "  forward + backward %7.3f us/iter  %6.1f ns/op\n",
               ops, iters, f * 1e6, f * 1e9 / ops, fb * 1e6, fb * 1e9 / ops);
    lg_graph_free(g);
    lg_tensor_free(a);
    lg_tensor_free(x);
    lg_tensor_free(w);
    return 0;
}
