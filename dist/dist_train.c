/* lg_dist_train_parallel: the collectives of lg_train_fit's data-parallel mode
 * (lg_train_parallel, train.h) over an lg_dist handle, so liblagrad's training helper runs
 * under mpirun without depending on MPI itself. */
#include "dist_impl.h"

static lg_status allreduce_grads(void *ud, lg_params *p, double weight)
{
    return lg_dist_allreduce_grads(ud, p, weight);
}

static lg_status sum(void *ud, double *v, int n)
{
    return lg_dist_sum(ud, v, n);
}

static lg_status agree(void *ud, lg_status local)
{
    return lg_dist_agree(ud, local);
}

static lg_status broadcast_params(void *ud, lg_params *p)
{
    return lg_dist_broadcast_params(ud, p);
}

lg_status lg_dist_train_parallel(lg_dist *d, lg_train_parallel *out)
{
    if (!d || !out)
        return lg_set_error(LG_ERR_ARG, "lg_dist_train_parallel: %s is NULL", d ? "out" : "d");
    *out = (lg_train_parallel){.rank = d->rank, .size = d->size, .ud = d,
                               .allreduce_grads = allreduce_grads, .sum = sum, .agree = agree,
                               .broadcast_params = broadcast_params};
    return LG_OK;
}
