/* Internal: the optimizer's state, shared by the update (optim.c) and its save and load
 * (optim_state.c). */
#ifndef LAGRAD_OPTIM_IMPL_H
#define LAGRAD_OPTIM_IMPL_H

#include "params_impl.h"
#include "../backend/backend_impl.h"

struct lg_optim {
    lg_params *p;
    lg_optim_config c;
    int64_t steps;
    int64_t numel[2];   /* block sizes when the state was made */
    void *m[2], *v[2];  /* momentum / first moment, second moment, per dtype; each mirrors
                           the store's block of that dtype (same offsets) */
};

#endif
