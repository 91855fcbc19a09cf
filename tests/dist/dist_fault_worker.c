/* The faults of tests/dist/check-fault.sh, as one MPI program:
 *   dist_fault_worker kill R S     trains; rank R kills itself (SIGKILL) at step S
 *   dist_fault_worker fail-load R  rank R fails to read its checkpoint, the others succeed
 * A killed rank must end the whole job (mpiexec's part); a failed load must end every
 * rank cleanly with exit status 1 and one message naming the rank (lg_dist_agree's). */
#define _POSIX_C_SOURCE 200809L /* kill, nanosleep */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "dist_model.h"

static int train_until_killed(lg_dist *d, int victim, int at_step)
{
    static dm_data data;
    dm_data_init(&data);
    dm_model m;
    dm_recipe rc = {lg_optim_defaults(LG_OPTIM_ADAM), 0};
    if (dm_model_init(&m, LG_F32, 1) || lg_dist_broadcast_params(d, m.p) != LG_OK)
        return 1;
    lg_optim *o = lg_optim_new(m.p, &rc.c);
    lg_rng shuffle, drop;
    lg_rng_init(&shuffle, 7);
    lg_rng_init(&drop, 11);
    for (int t = 0; o && t < 100000; t++) {
        if (lg_dist_rank(d) == victim && t == at_step) {
            fprintf(stderr, "dist_fault_worker: rank %d kills itself at step %d\n", victim, t);
            kill(getpid(), SIGKILL);
        }
        dm_run r;
        dm_train(d, &m, o, &rc, &data, &shuffle, &drop, t, 1, &r);
        if (r.failed)
            break;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    /* not reached when the job is killed */
    lg_optim_free(o);
    lg_params_free(m.p);
    return 1;
}

static int fail_load(lg_dist *d, int victim)
{
    dm_model m;
    if (dm_model_init(&m, LG_F32, 1))
        return 1;
    lg_status s = LG_OK;
    if (lg_dist_rank(d) == victim)
        s = lg_checkpoint_load(m.p, "/nonexistent/model.safetensors", NULL, true);
    s = lg_dist_agree(d, s);
    if (s != LG_OK && lg_dist_rank(d) == 0)
        fprintf(stderr, "dist_fault_worker: cannot load the checkpoint: %s\n", lg_last_errmsg());
    lg_params_free(m.p);
    return s != LG_OK;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    lg_dist *d = NULL;
    if (lg_dist_new(MPI_COMM_WORLD, &d) != LG_OK) {
        fprintf(stderr, "dist_fault_worker: %s\n", lg_last_errmsg());
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    int status = 2;
    if (argc == 4 && !strcmp(argv[1], "kill"))
        status = train_until_killed(d, atoi(argv[2]), atoi(argv[3]));
    else if (argc == 3 && !strcmp(argv[1], "fail-load"))
        status = fail_load(d, atoi(argv[2]));
    else if (lg_dist_rank(d) == 0)
        fprintf(stderr, "usage: dist_fault_worker kill RANK STEP | fail-load RANK\n");
    lg_dist_free(d);
    MPI_Finalize();
    return status;
}
