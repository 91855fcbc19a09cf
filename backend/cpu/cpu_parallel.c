/* The CPU backend's one way to spread a loop over OpenMP threads. */
#include <omp.h>
#include "cpu_impl.h"

void lg_cpu_parallel_range(int64_t n, int parallel, lg_range_fn body, void *ctx)
{
    /* An `if` clause would not do: libgomp still builds (and mallocs) a team for a
     * serialised region, which costs more than a small op and breaks the promise of no
     * allocations per training step. */
    if (!parallel || n < 2 || omp_get_max_threads() < 2) {
        if (n > 0)
            body(0, n, ctx);
        return;
    }
#pragma omp parallel
    {
        /* static, equal chunks: element i always lands on the same thread for a given
         * thread count, as schedule(static) would place it */
        int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t lo = n * t / nt, hi = n * (t + 1) / nt;
        if (lo < hi)
            body(lo, hi, ctx);
    }
}
