/* Consumer of an installed lagrad_dist: one process joins MPI, wraps MPI_COMM_WORLD
 * (lg_dist_new), sums a value over the ranks (one rank: itself) and fills lg_train_fit's
 * collectives. Exit status 0 only if each step works and the sum is 3. Uses nothing but
 * the installed public headers. */
#include <stdio.h>
#include <lagrad/dist.h>

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    lg_dist *d = NULL;
    lg_train_parallel par;
    double v = 3;
    int ok = lg_dist_new(MPI_COMM_WORLD, &d) == LG_OK && lg_dist_sum(d, &v, 1) == LG_OK &&
             lg_dist_train_parallel(d, &par) == LG_OK && v == 3 * lg_dist_size(d) &&
             par.size == lg_dist_size(d);
    if (!ok)
        fprintf(stderr, "consumer_dist: %s\n", lg_last_errmsg());
    lg_dist_free(d);
    MPI_Finalize();
    return !ok;
}
