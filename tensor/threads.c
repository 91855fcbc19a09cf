/* Thread control: one count for OpenMP (per thread) and OpenBLAS (process-wide), and which
 * OpenBLAS we got.
 * lagrad links the OpenMP build of OpenBLAS (libopenblas0-openmp); see README "Threads". */
#include <omp.h>
#include <cblas.h>
#include "tensor_impl.h"

lg_status lg_set_num_threads(int n)
{
    if (n < 1)
        return lg_set_error(LG_ERR_ARG, "lg_set_num_threads: n must be >= 1, got %d", n);
    /* OpenBLAS clamps to its build limit without a word: ask it, and refuse what it would
     * not do (issue 14), leaving both counts as they were. */
    int before = openblas_get_num_threads();
    openblas_set_num_threads(n);
    int got = openblas_get_num_threads();
    if (got != n) {
        openblas_set_num_threads(before);
        return lg_set_error(LG_ERR_ARG, "lg_set_num_threads: %d threads asked, but OpenBLAS "
                            "runs at most %d; nothing changed", n, got);
    }
    omp_set_num_threads(n);
    lg_threads_auto_off(); /* a count chosen by the program stands (threads_auto.c) */
    return LG_OK;
}

int lg_get_num_threads(void) { return omp_get_max_threads(); }

const char *lg_blas_threading(void)
{
    switch (openblas_get_parallel()) {
    case 0: return "serial";
    case 1: return "pthreads";
    case 2: return "openmp";
    }
    return "unknown";
}
