/* Checkpoints under MPI: rank 0 writes and reads the files, every rank learns the outcome
 * (lg_dist_agree), and loaded values reach the other ranks by broadcast, so only rank 0
 * needs the files. */
#include "dist_impl.h"
#include "lagrad/checkpoint.h"

lg_status lg_dist_checkpoint_save(lg_dist *d, const lg_params *p, const char *path,
                                  const char *prefix, const char *const *meta, int n_meta)
{
    if (!d)
        return lg_set_error(LG_ERR_ARG, "lg_dist_checkpoint_save: d is NULL");
    lg_status s = d->rank == 0 ? lg_checkpoint_save(p, path, prefix, meta, n_meta) : LG_OK;
    return lg_dist_agree(d, s);
}

lg_status lg_dist_optim_save(lg_dist *d, const lg_optim *o, const char *path,
                             const char *const *meta, int n_meta)
{
    if (!d)
        return lg_set_error(LG_ERR_ARG, "lg_dist_optim_save: d is NULL");
    lg_status s = d->rank == 0 ? lg_optim_save(o, path, meta, n_meta) : LG_OK;
    return lg_dist_agree(d, s);
}

lg_status lg_dist_checkpoint_load(lg_dist *d, lg_params *p, const char *path,
                                  const char *prefix, bool strict)
{
    if (!d)
        return lg_set_error(LG_ERR_ARG, "lg_dist_checkpoint_load: d is NULL");
    lg_status s = d->rank == 0 ? lg_checkpoint_load(p, path, prefix, strict) : LG_OK;
    s = lg_dist_agree(d, s);
    return s == LG_OK ? lg_dist_broadcast_params(d, p) : s;
}

lg_status lg_dist_optim_load(lg_dist *d, lg_optim *o, const char *path)
{
    if (!d)
        return lg_set_error(LG_ERR_ARG, "lg_dist_optim_load: d is NULL");
    lg_status s = d->rank == 0 ? lg_optim_load(o, path) : LG_OK;
    s = lg_dist_agree(d, s);
    return s == LG_OK ? lg_dist_broadcast_optim(d, o) : s;
}
