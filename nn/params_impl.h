/* Internal: the parameter store's layout, shared with the optimizers and checkpoints. */
#ifndef LAGRAD_PARAMS_IMPL_H
#define LAGRAD_PARAMS_IMPL_H

#include "lagrad/nn.h"
#include "../tensor/tensor_impl.h"

/* One contiguous block of values and one of gradients for each dtype. */
typedef struct lg_param_block {
    void *data, *grad;
    int64_t numel, cap; /* elements used and allocated */
} lg_param_block;

typedef struct lg_param_entry {
    char *name;
    size_t name_bytes;
    lg_tensor *t;      /* header owned by the store; data points into its block */
    lg_tensor *g;      /* gradient header, data in the gradient block */
    int64_t offset;    /* element offset in the block of its dtype */
} lg_param_entry;

struct lg_params {
    lg_param_entry *entries;
    int n, cap;
    lg_param_block block[2]; /* indexed by lg_dtype */
};

#endif
