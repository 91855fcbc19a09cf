/* Timing helpers shared by the benchmark programs: a monotonic clock, the time per call
 * of a repeated function, and the median of a few repetitions (sorts v in place). */
#ifndef LAGRAD_BENCH_UTIL_H
#define LAGRAD_BENCH_UTIL_H

#include <time.h>

/* examples/example_mlp.h has the same now_s; a benchmark including it first uses that one. */
#ifndef LAGRAD_EXAMPLE_MLP_H
static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
#endif

/* Seconds per call of f(ctx), calling it until min_s have passed (at least once). */
static inline double seconds_per_call(void (*f)(void *ctx), void *ctx, double min_s)
{
    double t0 = now_s(), t;
    long calls = 0;
    do {
        f(ctx);
        calls++;
        t = now_s() - t0;
    } while (t < min_s);
    return t / (double)calls;
}

static inline double median(double *v, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#endif
