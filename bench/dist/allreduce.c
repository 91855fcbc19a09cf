/* bench/dist/allreduce: time of lg_dist_allreduce_grads (bucketed MPI_Iallreduce, scaling
 * included) and of one plain MPI_Allreduce over the same f32 bytes, for gradients from
 * 4 KB to 16 MB and the demo MLP's 940,584 bytes (235,146 parameters). Run under mpiexec;
 * rank 0 prints one JSON line per size: {"np", "bytes", "lagrad_ms", "mpi_ms"}, each the
 * median over repetitions of the slowest rank's time, and "lagrad_min_ms", "mpi_min_ms",
 * the fastest repetition (on a shared machine, the closest to an uncontended one).
 *   mpiexec -np 2 build-dist/bench/dist/dist_allreduce [--quick] */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lagrad/dist.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median over reps of the slowest rank's seconds for one call of f; *best gets the
 * fastest repetition. */
static double time_median(lg_dist *d, int reps, int (*f)(lg_dist *, lg_params *, float *,
                                                         int64_t), lg_params *p, float *buf,
                          int64_t n, double *best)
{
    double t[64];
    for (int r = 0; r < reps + 3; r++) {
        MPI_Barrier(lg_dist_comm(d));
        double t0 = MPI_Wtime();
        if (f(d, p, buf, n))
            MPI_Abort(MPI_COMM_WORLD, 1);
        double dt = MPI_Wtime() - t0;
        MPI_Allreduce(MPI_IN_PLACE, &dt, 1, MPI_DOUBLE, MPI_MAX, lg_dist_comm(d));
        if (r >= 3) /* warm-up */
            t[r - 3] = dt;
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp_double);
    *best = t[0];
    return t[reps / 2];
}

static int via_lagrad(lg_dist *d, lg_params *p, float *buf, int64_t n)
{
    (void)buf;
    (void)n;
    return lg_dist_allreduce_grads(d, p, 0.5) != LG_OK;
}

static int via_mpi(lg_dist *d, lg_params *p, float *buf, int64_t n)
{
    (void)p;
    return MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, lg_dist_comm(d)) !=
           MPI_SUCCESS;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    lg_dist *d = NULL;
    if (lg_dist_new(MPI_COMM_WORLD, &d) != LG_OK)
        MPI_Abort(MPI_COMM_WORLD, 1);
    bool quick = argc > 1 && !strcmp(argv[1], "--quick");
    const int64_t sizes[] = {4096, 16384, 65536, 262144, 940584, 1 << 22, 1 << 24};
    int n_sizes = quick ? 2 : (int)(sizeof sizes / sizeof sizes[0]);
    for (int k = 0; k < n_sizes; k++) {
        int64_t n = sizes[k] / 4;
        lg_params *p = lg_params_new();
        lg_tensor *w = p ? lg_params_add(p, "w", LG_F32, 1, (int64_t[]){n}) : NULL;
        float *buf = calloc((size_t)n, sizeof *buf);
        if (!w || !buf)
            MPI_Abort(MPI_COMM_WORLD, 1);
        int reps = quick ? 3 : sizes[k] >= 1 << 22 ? 11 : 41;
        double bl, bm, tl = time_median(d, reps, via_lagrad, p, buf, n, &bl);
        double tm = time_median(d, reps, via_mpi, p, buf, n, &bm);
        if (lg_dist_rank(d) == 0)
            printf("{\"np\": %d, \"bytes\": %lld, \"lagrad_ms\": %.4f, \"mpi_ms\": %.4f, "
                   "\"lagrad_min_ms\": %.4f, \"mpi_min_ms\": %.4f}\n", lg_dist_size(d),
                   (long long)sizes[k], 1e3 * tl, 1e3 * tm, 1e3 * bl, 1e3 * bm);
        free(buf);
        lg_params_free(p);
    }
    lg_dist_free(d);
    MPI_Finalize();
    return 0;
}
