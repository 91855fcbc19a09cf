/* Internal: what lg_train_fit shares with the training-state file (train_state.c). Never
 * installed. */
#ifndef LAGRAD_TRAIN_IMPL_H
#define LAGRAD_TRAIN_IMPL_H

#include "lagrad/train.h"

/* The longest checkpoint path the training helper takes ("<path>.optim" must fit). */
#define LG_TRAIN_MAX_PATH 4000

/* lg_train_save_state with n_extra more metadata pairs (extra[2i] a key, extra[2i+1] its
 * value; at most 4 pairs) in both files. */
lg_status lg_train_save_state_ex(const lg_params *p, const lg_optim *o, const char *path,
                                 int epoch, const lg_rng *rng, const char *const *extra,
                                 int n_extra);

/* lg_train_load_state that also hands back the opened optimizer-state file, for its
 * other metadata (*meta: close it with lg_checkpoint_close; NULL on error). */
lg_status lg_train_load_state_ex(lg_params *p, lg_optim *o, const char *path, int *epoch,
                                 lg_rng *rng, lg_checkpoint **meta);

#endif
