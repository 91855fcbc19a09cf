/* Would starting the gradient allreduce during backward pay off here? Each rank stands in
 * for a backward pass with `parts` slices of arithmetic (about compute_ms in all) that
 * finish one gradient bucket each, and reduces `bytes` of f32 gradient two ways,
 * alternating, with a barrier before each repetition:
 *   serial:  all the compute, then one blocking MPI_Allreduce per bucket (what
 *            lg_dist_allreduce_grads does after lg_backward);
 *   overlap: an MPI_Iallreduce per bucket started as its slice ends, MPI_Testall between
 *            slices (OpenMPI progresses nonblocking collectives only inside MPI calls),
 *            MPI_Waitall at the end (what a gradient-ready hook in lg_backward would do).
 * Prints one JSON line per mode from rank 0: the fastest and the median time of the
 * slowest rank. bench/dist/suite.py does not run it; docs/distributed.md has its figures.
 *   mpiexec -np 2 bench/dist/dist_overlap [bytes [compute_ms [parts [reps]]]] */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* `iters` passes of a multiply-add over work[0..n): memory-bound arithmetic like a VJP */
static void slice(float *work, long n, long iters)
{
    for (long k = 0; k < iters; k++)
        for (long i = 0; i < n; i++)
            work[i] = work[i] * 0.999f + 0.001f;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    long bytes = argc > 1 ? atol(argv[1]) : 940584;
    double compute_ms = argc > 2 ? atof(argv[2]) : 0.8;
    int parts = argc > 3 ? atoi(argv[3]) : 4, reps = argc > 4 ? atoi(argv[4]) : 201;
    long n = bytes / 4, per = (n + parts - 1) / parts, wn = 1 << 16;
    float *g = calloc((size_t)n, sizeof *g), *work = calloc((size_t)wn, sizeof *work);
    double *t[2] = {malloc(sizeof(double) * (size_t)reps), malloc(sizeof(double) * (size_t)reps)};
    MPI_Request *req = malloc(sizeof *req * (size_t)parts);
    /* calibrate: iterations of one slice for compute_ms / parts */
    slice(work, wn, 20); /* warm: pages touched, clocks up */
    double t0 = now_s();
    slice(work, wn, 500);
    long iters = (long)(compute_ms / parts * 1e-3 / ((now_s() - t0) / 500)) + 1;
    MPI_Bcast(&iters, 1, MPI_LONG, 0, MPI_COMM_WORLD);
    for (int r = 0; r < reps; r++) {
        for (int mode = 0; mode < 2; mode++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double s = now_s();
            for (int p = parts - 1; p >= 0; p--) { /* backward finishes the last layer first */
                slice(work, wn, iters);
                long at = p * per, cnt = at + per < n ? per : n - at;
                if (mode == 1) {
                    MPI_Iallreduce(MPI_IN_PLACE, g + at, (int)cnt, MPI_FLOAT, MPI_SUM,
                                   MPI_COMM_WORLD, &req[p]);
                    int done;
                    MPI_Testall(parts - p, req + p, &done, MPI_STATUSES_IGNORE);
                }
            }
            if (mode == 1)
                MPI_Waitall(parts, req, MPI_STATUSES_IGNORE);
            else
                for (int p = parts - 1; p >= 0; p--) {
                    long at = p * per, cnt = at + per < n ? per : n - at;
                    MPI_Allreduce(MPI_IN_PLACE, g + at, (int)cnt, MPI_FLOAT, MPI_SUM,
                                  MPI_COMM_WORLD);
                }
            double e = now_s() - s;
            MPI_Reduce(rank ? &e : MPI_IN_PLACE, &e, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
            t[mode][r] = e;
        }
    }
    if (rank == 0) {
        t0 = now_s(); /* the compute alone, for the share the reduction adds */
        for (int p = 0; p < parts; p++)
            slice(work, wn, iters);
        double alone = now_s() - t0;
        for (int mode = 0; mode < 2; mode++) {
            qsort(t[mode], (size_t)reps, sizeof(double), cmp);
            printf("{\"mode\": \"%s\", \"bytes\": %ld, \"parts\": %d, \"compute_ms\": %.3f, "
                   "\"min_ms\": %.3f, \"median_ms\": %.3f}\n", mode ? "overlap" : "serial",
                   bytes, parts, 1e3 * alone, 1e3 * t[mode][0], 1e3 * t[mode][reps / 2]);
        }
    }
    int sink = work[0] < 0; /* keeps the arithmetic */
    free(g);
    free(work);
    free(t[0]);
    free(t[1]);
    free(req);
    MPI_Finalize();
    return sink;
}
