/* Internal: helpers shared by lg_hvp and lg_gradcheck. */
#ifndef LAGRAD_HVP_IMPL_H
#define LAGRAD_HVP_IMPL_H

#include "graph_impl.h"

#define LG_HVP_MAX_INPUTS LG_FN_MAX_INPUTS

/* Inputs are non-NULL and caller-owned; when like is given, like[i] matches input i in
 * dtype and shape. Sets the thread-local error message. */
lg_status lg_check_caller_inputs(const char *fn, lg_tensor *const *inputs, int n,
                                 lg_tensor *const *like, const char *like_name);
/* Turns requires_grad on for the inputs, keeping their flags to restore. */
void lg_mark_inputs(lg_tensor *const *inputs, int n, unsigned *saved_flags);
void lg_unmark_inputs(lg_tensor *const *inputs, int n, const unsigned *saved_flags);
/* y = f(inputs) on g, checked to be a scalar without graph errors. */
lg_status lg_eval_scalar(lg_graph *g, lg_fn f, void *ctx, lg_tensor *const *inputs, int n,
                         const char *fn, lg_tensor **y);
/* lg_hvp on a given graph, inputs already marked. */
lg_status lg_hvp_on(lg_graph *g, lg_fn f, void *ctx, lg_tensor *const *inputs, int n,
                    lg_tensor *const *v, lg_tensor *const *hv);

#endif
