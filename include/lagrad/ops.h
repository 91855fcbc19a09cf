/* lagrad ops: every differentiable operation the graph can record.
 * Each returns a tensor owned by g, or NULL on error; the first error sticks on the
 * graph (lg_graph_status / lg_graph_errmsg). An op given a NULL input returns NULL and
 * keeps the earlier error, so a forward pass needs one check at its end.
 * All inputs of one op share a dtype (LG_ERR_DTYPE otherwise). Elementwise binary ops
 * broadcast as NumPy does (LG_ERR_SHAPE when shapes do not broadcast). Axes may be
 * negative (counted from the end); out of range is LG_ERR_ARG. */
#ifndef LAGRAD_OPS_H
#define LAGRAD_OPS_H

#include "graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Elementwise, broadcasting: a + b, a - b, a * b (Hadamard), a / b. */
lg_tensor *lg_add(lg_graph *g, lg_tensor *a, lg_tensor *b);
lg_tensor *lg_sub(lg_graph *g, lg_tensor *a, lg_tensor *b);
lg_tensor *lg_mul(lg_graph *g, lg_tensor *a, lg_tensor *b);
lg_tensor *lg_div(lg_graph *g, lg_tensor *a, lg_tensor *b);
/* Elementwise unary. */
lg_tensor *lg_neg(lg_graph *g, lg_tensor *x);
lg_tensor *lg_add_scalar(lg_graph *g, lg_tensor *x, double c); /* x + c */
lg_tensor *lg_scale(lg_graph *g, lg_tensor *x, double c);      /* c * x */
lg_tensor *lg_exp(lg_graph *g, lg_tensor *x);
lg_tensor *lg_log(lg_graph *g, lg_tensor *x);  /* natural log; -inf/NaN for x <= 0 */
lg_tensor *lg_sqrt(lg_graph *g, lg_tensor *x);
lg_tensor *lg_pow_scalar(lg_graph *g, lg_tensor *x, double p); /* x^p */
lg_tensor *lg_abs(lg_graph *g, lg_tensor *x);  /* gradient sign(x), 0 at 0 */
/* where(mask, a, b): a where mask != 0, else b; all three broadcast together. The mask
 * is a constant (no gradient flows into it). */
lg_tensor *lg_where(lg_graph *g, lg_tensor *mask, lg_tensor *a, lg_tensor *b);

/* Activations. gelu is the exact erf form x * Phi(x). */
lg_tensor *lg_relu(lg_graph *g, lg_tensor *x);
lg_tensor *lg_leaky_relu(lg_graph *g, lg_tensor *x, double slope);
lg_tensor *lg_sigmoid(lg_graph *g, lg_tensor *x);
lg_tensor *lg_tanh(lg_graph *g, lg_tensor *x);
lg_tensor *lg_gelu(lg_graph *g, lg_tensor *x);

/* Matrix products (cblas gemm; transposes are BLAS flags, never copies).
 * lg_matmul: (m,k)@(k,n) -> (m,n); (B,m,k)@(B,k,n) -> (B,m,n); (B,m,k)@(k,n) -> (B,m,n).
 * lg_matmul_t: op(a)@op(b) where op transposes the last two axes when its flag is set,
 * e.g. attention's Q K^T is lg_matmul_t(g, q, k, false, true). */
lg_tensor *lg_matmul(lg_graph *g, lg_tensor *a, lg_tensor *b);
lg_tensor *lg_matmul_t(lg_graph *g, lg_tensor *a, lg_tensor *b, bool trans_a, bool trans_b);
/* Outer product of 1-D u (m) and v (n): (m,n). Dot product of two 1-D tensors: scalar. */
lg_tensor *lg_outer(lg_graph *g, lg_tensor *u, lg_tensor *v);
lg_tensor *lg_dot(lg_graph *g, lg_tensor *u, lg_tensor *v);
/* Fused linear layer y = x W^T + b: x (N,in), W (out,in) as in PyTorch, b (out) or NULL. */
lg_tensor *lg_linear(lg_graph *g, lg_tensor *x, lg_tensor *w, lg_tensor *b);

/* Reductions. lg_sum/lg_mean over everything give a rank-0 scalar. The _axis forms
 * reduce one axis, keeping it as size 1 when keepdim. lg_max_axis takes the first
 * maximum on ties; its gradient flows to that element only. */
lg_tensor *lg_sum(lg_graph *g, lg_tensor *x);
lg_tensor *lg_mean(lg_graph *g, lg_tensor *x);
lg_tensor *lg_sum_axis(lg_graph *g, lg_tensor *x, int axis, bool keepdim);
lg_tensor *lg_mean_axis(lg_graph *g, lg_tensor *x, int axis, bool keepdim);
lg_tensor *lg_max_axis(lg_graph *g, lg_tensor *x, int axis, bool keepdim);
lg_tensor *lg_logsumexp(lg_graph *g, lg_tensor *x, int axis, bool keepdim);

/* Normalisation, max-subtracted so logits of 1e4 do not overflow. */
lg_tensor *lg_softmax(lg_graph *g, lg_tensor *x, int axis);
lg_tensor *lg_log_softmax(lg_graph *g, lg_tensor *x, int axis);
/* Layer norm over the last axis (size D): (x - mean) / sqrt(var + eps) * gamma + beta,
 * biased variance as in PyTorch; gamma and beta are (D) or NULL. */
lg_tensor *lg_layer_norm(lg_graph *g, lg_tensor *x, lg_tensor *gamma, lg_tensor *beta,
                         double eps);

/* Losses, each reduced to a scalar mean.
 * cross_entropy: logits (N,C), labels[N] in [0,C) (copied; LG_ERR_ARG when outside).
 * mse: mean((a-b)^2), a and b of one shape.
 * bce_with_logits: mean(max(x,0) - x*y + log(1+exp(-|x|))), targets y of x's shape. */
lg_tensor *lg_cross_entropy(lg_graph *g, lg_tensor *logits, const int32_t *labels);
lg_tensor *lg_mse(lg_graph *g, lg_tensor *a, lg_tensor *b);
lg_tensor *lg_bce_with_logits(lg_graph *g, lg_tensor *logits, lg_tensor *targets);

/* Shape. reshape keeps numel (one entry may be -1, inferred). transpose swaps the last
 * two axes; permute reorders all axes (perm has ndim entries). Both copy. */
lg_tensor *lg_reshape(lg_graph *g, lg_tensor *x, int ndim, const int64_t *shape);
lg_tensor *lg_transpose(lg_graph *g, lg_tensor *x);
lg_tensor *lg_permute(lg_graph *g, lg_tensor *x, const int *perm);
/* Concatenates n tensors along axis; all other dimensions must agree. */
lg_tensor *lg_concat(lg_graph *g, lg_tensor *const *xs, int n, int axis);
/* Elements [start, stop) of axis. */
lg_tensor *lg_slice(lg_graph *g, lg_tensor *x, int axis, int64_t start, int64_t stop);
/* Broadcasts x to shape (NumPy rules). */
lg_tensor *lg_broadcast_to(lg_graph *g, lg_tensor *x, int ndim, const int64_t *shape);
/* Sums x down to shape, the reverse of broadcasting (the VJP of broadcast_to). */
lg_tensor *lg_sum_to(lg_graph *g, lg_tensor *x, int ndim, const int64_t *shape);

/* Inverted dropout: in training (lg_graph_set_training), each element is zeroed with
 * probability p and the rest scaled by 1/(1-p), with a mask drawn from rng; in
 * evaluation it returns x itself. p in [0, 1). */
lg_tensor *lg_dropout(lg_graph *g, lg_tensor *x, double p, lg_rng *rng);

#ifdef __cplusplus
}
#endif
#endif
