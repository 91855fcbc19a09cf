/* The LSTM layer (rnn.h), forward + backward of sum(out ⊙ w), against bench/lstm_torch.py's
 * torch.nn.LSTM (its fused CPU kernel) on the same shapes: batch 12, 64 steps, input 128,
 * hidden 256, one layer, f32, one thread by default. Prints one JSON line with the median
 * milliseconds per forward + backward over 5 windows, and the CPU-time median.
 *   bench/lstm [--iters N] [--threads N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lagrad/lagrad.h"
#include "bench_util.h"

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    int iters = 20, threads = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--iters"))
            iters = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
    }
    if (iters < 1 || lg_set_num_threads(threads) != LG_OK) {
        fprintf(stderr, "lstm: bad --iters or --threads\n");
        return 1;
    }
    enum { B = 12, T = 64, IN = 128, H = 256 };
    lg_params *p = lg_params_new();
    lg_rng r;
    lg_rng_init(&r, 1);
    lg_rnn l;
    int64_t xs[3] = {B, T, IN}, os[3] = {B, T, H};
    lg_tensor *x = lg_tensor_normal(LG_F32, 3, xs, 0, 1, &r);
    lg_tensor *w = lg_tensor_normal(LG_F32, 3, os, 0, 1, &r);
    lg_graph *g = lg_graph_new();
    if (!p || !x || !w || !g ||
        lg_rnn_init(&l, p, "lstm", LG_RNN_LSTM, IN, H, 1, true, LG_F32, &r) != LG_OK) {
        fprintf(stderr, "lstm: setup: %s\n", lg_last_errmsg());
        return 1;
    }
    lg_tensor_set_requires_grad(x, true);
    double ms[5], cms[5];
    for (int rep = -1; rep < 5; rep++) { /* rep -1 warms the arena up */
        double t0 = now_s(), c0 = cpu_s();
        for (int i = 0; i < iters; i++) {
            lg_graph_reset(g);
            lg_tensor *out = lg_rnn_forward(g, &l, x, NULL, NULL, NULL, NULL);
            if (lg_backward(g, lg_sum(g, lg_mul(g, out, w))) != LG_OK) {
                fprintf(stderr, "lstm: %s\n", lg_graph_errmsg(g));
                return 1;
            }
        }
        if (rep >= 0) {
            ms[rep] = (now_s() - t0) * 1e3 / iters;
            cms[rep] = (cpu_s() - c0) * 1e3 / iters;
        }
    }
    printf("{\"ms\": %.4f, \"cpu_ms\": %.4f, \"threads\": %d}\n", median(ms, 5),
           median(cms, 5), threads);
    lg_graph_free(g);
    lg_tensor_free(x);
    lg_tensor_free(w);
    lg_params_free(p);
    return 0;
}
