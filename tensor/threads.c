/* Thread control: one count for OpenMP and OpenBLAS, and which OpenBLAS we got.
 * lagrad links the OpenMP build of OpenBLAS (libopenblas0-openmp); see README "Threads". */
#include <omp.h>
#include <cblas.h>
#include "tensor_impl.h"

lg_status lg_set_num_threads(int n)
{
    if (n < 1)
        return lg_set_error(LG_ERR_ARG, "lg_set_num_threads: n must be >= 1, got %d", n);
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
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
