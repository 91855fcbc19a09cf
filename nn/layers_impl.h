/* Internal: argument checks and row flattening shared by the layer files. Never installed. */
#ifndef LAGRAD_LAYERS_IMPL_H
#define LAGRAD_LAYERS_IMPL_H

#include "lagrad/layers.h"
#include "../autograd/graph_impl.h"

/* True when g is usable (non-NULL, no sticky error) and `layer` is non-NULL; otherwise
 * sets the error (on g, or lg_set_error when g is NULL) naming fn and returns false. */
bool lg_nn_check(lg_graph *g, const void *layer, const char *fn);

/* x (..., in) as rows (N, in), N the product of the leading axes (a view; x itself when
 * it is already 2-D). NULL with LG_ERR_SHAPE on g when x has rank 0 or its last axis is
 * not `in`. */
lg_tensor *lg_nn_rows(lg_graph *g, lg_tensor *x, int64_t in, const char *fn);
/* y (N, out) reshaped to x's leading axes followed by out (y itself when x is 2-D). */
lg_tensor *lg_nn_unrows(lg_graph *g, lg_tensor *y, const lg_tensor *x, int64_t out);

/* Adds "<name>.<part>" (at most 255 bytes) to p as *out. Errors, named after fn: a name
 * too long or taken (LG_ERR_ARG), a bad dtype (LG_ERR_DTYPE), else out of memory. */
lg_status lg_nn_add_param(lg_params *p, const char *name, const char *part, lg_dtype dt,
                          int ndim, const int64_t *shape, const char *fn, lg_tensor **out);

#endif
