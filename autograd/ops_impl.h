/* Internal: building blocks shared by the op files (unary and binary op drivers,
 * broadcasting set-up, internal ops used by several VJPs). */
#ifndef LAGRAD_OPS_IMPL_H
#define LAGRAD_OPS_IMPL_H

#include <math.h>
#include "graph_impl.h"

/* y = f(x) elementwise with kernel kind k and parameter p; records op with f[0] = p. */
lg_tensor *lg_unary_op(lg_graph *g, const lg_op *op, lg_unary_kind k, lg_tensor *x, double p);
/* y = a (k) b with broadcasting; records op with f[0] = p. */
lg_tensor *lg_binary_op(lg_graph *g, const lg_op *op, lg_binary_kind k, lg_tensor *a,
                        lg_tensor *b, double p);
/* Fills bc for iterating over out_shape, reading operand i (of shape shapes[i]) through
 * broadcast strides. */
void lg_bcast_init(lg_bcast *bc, int ndim, const int64_t *out_shape, int nops,
                   const lg_tensor *const *ops);
/* sum_to(gy, shape of x): the gradient of a broadcast input; gy itself when shapes agree. */
lg_tensor *lg_sum_to_like(lg_graph *g, lg_tensor *gy, const lg_tensor *x);

/* True when idx is a live i32/i64 tensor whose every entry lies in [0, n); otherwise
 * sets LG_ERR_DTYPE ("<name>: <plural> are f64; need i32 or i64") or LG_ERR_ARG
 * ("<name>: <singular> 7 at <where> 3 outside [0, 5)"). Shared by index ops and losses. */
bool lg_check_indices(lg_graph *g, const char *name, lg_tensor *idx, int64_t n,
                      const char *plural, const char *singular, const char *where);

/* Internal differentiable ops used by VJPs. */
lg_tensor *lg_sign(lg_graph *g, lg_tensor *x);                           /* zero gradient */
lg_tensor *lg_relu_backward(lg_graph *g, lg_tensor *gy, lg_tensor *x);   /* gy * [x > 0] */
lg_tensor *lg_leaky_relu_backward(lg_graph *g, lg_tensor *gy, lg_tensor *x, double slope);
lg_tensor *lg_gelu_backward(lg_graph *g, lg_tensor *gy, lg_tensor *x);   /* gy * gelu'(x) */
lg_tensor *lg_tanh_backward(lg_graph *g, lg_tensor *gy, lg_tensor *y);   /* gy (1 - y²) */
/* Places x into zeros of shape `shape` at [start, start + len) along axis (the VJP of
 * slice). */
lg_tensor *lg_pad_axis(lg_graph *g, lg_tensor *x, int axis, int64_t start,
                       int ndim, const int64_t *shape);
/* A scalar (rank 0) constant in the graph. */
lg_tensor *lg_scalar_const(lg_graph *g, lg_dtype dt, double v);

#endif
