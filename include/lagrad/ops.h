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
/* The library is built with hidden visibility: what this header declares is its ABI. */
#pragma GCC visibility push(default)

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
/* The index of the first maximum (minimum) along axis, as an i64 tensor of the reduced
 * shape; NaN counts as the extremum (the first NaN wins), as in NumPy. No gradient.
 * An empty axis is LG_ERR_SHAPE. */
lg_tensor *lg_argmax_axis(lg_graph *g, lg_tensor *x, int axis, bool keepdim);
lg_tensor *lg_argmin_axis(lg_graph *g, lg_tensor *x, int axis, bool keepdim);
lg_tensor *lg_logsumexp(lg_graph *g, lg_tensor *x, int axis, bool keepdim);

/* Normalisation, max-subtracted so logits of 1e4 do not overflow. */
lg_tensor *lg_softmax(lg_graph *g, lg_tensor *x, int axis);
lg_tensor *lg_log_softmax(lg_graph *g, lg_tensor *x, int axis);
/* Layer norm over the last axis (size D): (x - mean) / sqrt(var + eps) * gamma + beta,
 * biased variance as in PyTorch; gamma and beta are (D) or NULL. */
lg_tensor *lg_layer_norm(lg_graph *g, lg_tensor *x, lg_tensor *gamma, lg_tensor *beta,
                         double eps);

/* Batch normalisation over x (N, C) or (N, C, H, W), per channel C, as
 * torch.nn.functional.batch_norm. gamma and beta are (C) or NULL (scale 1, shift 0).
 * In training mode (lg_graph_set_training, the default) it normalises with the batch
 * mean and biased batch variance, differentiates through them, and, when running_mean and
 * running_var (plain (C) tensors, not graph tensors) are given, updates them in place:
 *   running = (1 - momentum) * running + momentum * batch_stat,
 * with the unbiased variance for running_var, as PyTorch does. In eval mode it normalises
 * with running_mean and running_var (both then required). Needs N*H*W > 1 in training. */
lg_tensor *lg_batch_norm(lg_graph *g, lg_tensor *x, lg_tensor *gamma, lg_tensor *beta,
                         lg_tensor *running_mean, lg_tensor *running_var, double momentum,
                         double eps);

/* Losses, each reduced to a scalar mean.
 * cross_entropy: logits (N,C) and labels, an i32 or i64 tensor of shape (N) with entries
 * in [0, C): a float label tensor is LG_ERR_DTYPE, another shape LG_ERR_SHAPE, an entry
 * outside [0, C) LG_ERR_ARG (the message gives the row). Computed as
 * -mean(gather(log_softmax(logits), labels)), as torch composes it; the labels are copied
 * into the graph at the call, so the caller may reuse their buffer right after.
 * mse: mean((a-b)^2), a and b of one shape.
 * bce_with_logits: mean(max(x,0) - x*y + log(1+exp(-|x|))), targets y of x's shape. */
lg_tensor *lg_cross_entropy(lg_graph *g, lg_tensor *logits, lg_tensor *labels);
lg_tensor *lg_mse(lg_graph *g, lg_tensor *a, lg_tensor *b);
lg_tensor *lg_bce_with_logits(lg_graph *g, lg_tensor *logits, lg_tensor *targets);

/* Shape. reshape keeps numel (one entry may be -1, inferred) and is a view; it is the
 * one op that also takes i32/i64 tensors (reshaping ids or labels). transpose swaps the
 * last two axes; permute reorders all axes (perm has ndim entries). Both copy. */
lg_tensor *lg_reshape(lg_graph *g, lg_tensor *x, int ndim, const int64_t *shape);
lg_tensor *lg_transpose(lg_graph *g, lg_tensor *x);
lg_tensor *lg_permute(lg_graph *g, lg_tensor *x, const int *perm);
/* Concatenates n tensors along axis; all other dimensions must agree. */
lg_tensor *lg_concat(lg_graph *g, lg_tensor *const *xs, int n, int axis);
/* Elements [start, stop) of axis. A negative bound counts from the end as in Python
 * (start -1 is the last element; stop -1 drops it); after that, 0 <= start <= stop <= len
 * or LG_ERR_ARG. */
lg_tensor *lg_slice(lg_graph *g, lg_tensor *x, int axis, int64_t start, int64_t stop);
/* x[..., i, ...] along axis, which is dropped: (a, b, c) select axis 1 -> (a, c). i may
 * be negative (-1 is the last). */
lg_tensor *lg_select(lg_graph *g, lg_tensor *x, int axis, int64_t i);
/* Merges the dims from start_dim to the last into one: (N, C, H, W), 1 -> (N, C*H*W).
 * A view when x is contiguous. */
lg_tensor *lg_flatten(lg_graph *g, lg_tensor *x, int start_dim);
/* Broadcasts x to shape (NumPy rules). */
lg_tensor *lg_broadcast_to(lg_graph *g, lg_tensor *x, int ndim, const int64_t *shape);
/* Sums x down to shape, the reverse of broadcasting (the VJP of broadcast_to). */
lg_tensor *lg_sum_to(lg_graph *g, lg_tensor *x, int ndim, const int64_t *shape);

/* Indexing with integer index tensors (i32 or i64; an entry outside [0, len) of the
 * indexed axis is LG_ERR_ARG, a float index tensor LG_ERR_DTYPE). Each is differentiable
 * in x to any order: the gradient is a scatter-add, whose own gradient is the gather.
 * index_select: numpy's take along axis. idx may have any shape; the result has shape
 * x[:axis] + idx + x[axis+1:] (rank at most LG_MAX_DIMS), e.g. (5,3) with idx (2,4) on
 * axis 0 gives (2,4,3). Repeated indices are allowed; their gradients add up.
 * gather: torch.gather / numpy take_along_axis. idx has x's rank and x's shape except
 * along axis; y[..., j, ...] = x[..., idx[..., j, ...], ...] and y has idx's shape.
 * embedding: the rows of weight (V, D) named by ids (any shape S), as an (S..., D)
 * tensor: index_select(weight, 0, ids), the first layer of every text model. */
lg_tensor *lg_index_select(lg_graph *g, lg_tensor *x, int axis, lg_tensor *idx);
lg_tensor *lg_gather(lg_graph *g, lg_tensor *x, int axis, lg_tensor *idx);
lg_tensor *lg_embedding(lg_graph *g, lg_tensor *weight, lg_tensor *ids);
/* diagonal: (..., n, m) -> (..., min(n, m)), the main diagonal of each matrix.
 * diag: (..., n) -> (..., n, n), each vector on the diagonal of a zero matrix.
 * Differentiable: each one's gradient is the other (rectangular where needed). */
lg_tensor *lg_diagonal(lg_graph *g, lg_tensor *x);
lg_tensor *lg_diag(lg_graph *g, lg_tensor *v);

/* Inverted dropout: in training (lg_graph_set_training), each element is zeroed with
 * probability p and the rest scaled by 1/(1-p), with a mask drawn from rng; in
 * evaluation it returns x itself. p in [0, 1). */
lg_tensor *lg_dropout(lg_graph *g, lg_tensor *x, double p, lg_rng *rng);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
