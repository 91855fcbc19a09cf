/* Training state for exact resume: the parameters and the optimizer state in two
 * safetensors files that carry the epoch and the data RNG's counter. The files themselves
 * (atomic writes, validation) are checkpoint_save.c's and optim_state.c's. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "train_impl.h"
#include "../tensor/tensor_impl.h"

/* "<path>.optim" into buf (LG_TRAIN_MAX_PATH + 16 bytes); LG_ERR_ARG naming fn when the
 * path is too long. */
static lg_status optim_path(const char *path, char *buf, const char *fn)
{
    if (strlen(path) > LG_TRAIN_MAX_PATH)
        return lg_set_error(LG_ERR_ARG, "%s: checkpoint path longer than %d bytes", fn,
                            LG_TRAIN_MAX_PATH);
    snprintf(buf, LG_TRAIN_MAX_PATH + 16, "%s.optim", path);
    return LG_OK;
}

lg_status lg_train_save_state_ex(const lg_params *p, const lg_optim *o, const char *path,
                                 int epoch, const lg_rng *rng, const char *const *extra,
                                 int n_extra)
{
    const char *fn = "lg_train_save_state";
    if (!p || !o || !path || !rng || epoch < 0 || n_extra < 0 || n_extra > 4 ||
        (n_extra && !extra))
        return lg_set_error(LG_ERR_ARG, "%s: NULL argument or epoch < 0 (epoch %d)", fn,
                            epoch);
    char opath[LG_TRAIN_MAX_PATH + 16], e[16], rc[24];
    lg_status s = optim_path(path, opath, fn);
    if (s != LG_OK)
        return s;
    snprintf(e, sizeof e, "%d", epoch);
    snprintf(rc, sizeof rc, "%" PRIu64, rng->counter);
    const char *meta[4 + 8] = {"epoch", e, "rng_counter", rc};
    for (int i = 0; i < 2 * n_extra; i++)
        meta[4 + i] = extra[i];
    s = lg_checkpoint_save(p, path, NULL, meta, 2 + n_extra);
    return s != LG_OK ? s : lg_optim_save(o, opath, meta, 2 + n_extra);
}

lg_status lg_train_save_state(const lg_params *p, const lg_optim *o, const char *path,
                              int epoch, const lg_rng *rng)
{
    return lg_train_save_state_ex(p, o, path, epoch, rng, NULL, 0);
}

/* A decimal metadata value in [0, max], or -1. */
static long long meta_number(const lg_checkpoint *c, const char *key, unsigned long long max)
{
    const char *v = lg_checkpoint_metadata_get(c, key);
    if (!v || *v < '0' || *v > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    return *end || errno || x > max ? -1 : (long long)x;
}

lg_status lg_train_load_state_ex(lg_params *p, lg_optim *o, const char *path, int *epoch,
                                 lg_rng *rng, lg_checkpoint **meta)
{
    const char *fn = "lg_train_load_state";
    if (meta)
        *meta = NULL;
    if (!p || !o || !path || !epoch || !rng)
        return lg_set_error(LG_ERR_ARG, "%s: NULL argument", fn);
    char opath[LG_TRAIN_MAX_PATH + 16];
    lg_status s = optim_path(path, opath, fn);
    if (s != LG_OK)
        return s;
    lg_checkpoint *pc = NULL, *oc = NULL;
    if ((s = lg_checkpoint_open(path, &pc)) != LG_OK ||
        (s = lg_checkpoint_open(opath, &oc)) != LG_OK) {
        lg_checkpoint_close(pc);
        return s;
    }
    long long pe = meta_number(pc, "epoch", INT32_MAX), oe = meta_number(oc, "epoch", INT32_MAX);
    long long rc = meta_number(oc, "rng_counter", INT64_MAX);
    lg_checkpoint_close(pc);
    if (pe < 0 || oe < 0 || rc < 0 || pe != oe) {
        lg_checkpoint_close(oc);
        return lg_set_error(LG_ERR_FORMAT, "%s: %s (epoch %lld) and %s (epoch %lld, rng "
                            "counter %lld) are not the state of one epoch", fn, path, pe,
                            opath, oe, rc);
    }
    if ((s = lg_checkpoint_load(p, path, NULL, true)) != LG_OK ||
        (s = lg_optim_load(o, opath)) != LG_OK) {
        lg_checkpoint_close(oc);
        return s;
    }
    *epoch = (int)pe;
    rng->counter = (uint64_t)rc;
    if (meta)
        *meta = oc;
    else
        lg_checkpoint_close(oc);
    return LG_OK;
}

lg_status lg_train_load_state(lg_params *p, lg_optim *o, const char *path, int *epoch,
                              lg_rng *rng)
{
    return lg_train_load_state_ex(p, o, path, epoch, rng, NULL);
}
