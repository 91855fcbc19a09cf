/* Internal: the parameter store's layout, shared with the optimizers and checkpoints. */
#ifndef LAGRAD_PARAMS_IMPL_H
#define LAGRAD_PARAMS_IMPL_H

#include "lagrad/nn.h"
#include "../tensor/tensor_impl.h"

/* One contiguous block of values and one of gradients for each dtype. The integer blocks
 * (LG_I32, LG_I64: buffers such as token tables or step counters, never trained) have no
 * gradient block: grad is NULL, and so is every integer entry's g. */
typedef struct lg_param_block {
    void *data, *grad;
    int64_t numel, cap; /* elements used and allocated */
} lg_param_block;

/* Blocks in a store: one per lg_dtype. Optimizers, zero_grad and clipping walk only the
 * first LG_PARAM_FLOAT_BLOCKS (f32, f64). */
enum { LG_PARAM_BLOCKS = 4, LG_PARAM_FLOAT_BLOCKS = 2 };

typedef struct lg_param_entry {
    char *name;
    size_t name_bytes;
    lg_tensor *t;      /* header owned by the store; data points into its block */
    lg_tensor *g;      /* gradient header, data in the gradient block; NULL for integers */
    int64_t offset;    /* element offset in the block of its dtype */
} lg_param_entry;

struct lg_params {
    lg_param_entry *entries;
    int n, cap;
    lg_param_block block[LG_PARAM_BLOCKS]; /* indexed by lg_dtype */
};

#endif
