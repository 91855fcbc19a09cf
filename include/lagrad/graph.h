/* lagrad graph: the define-by-run tape, its arena, backward and higher-order gradients.
 * Every tensor an op returns belongs to the graph that recorded it and lives until
 * lg_graph_reset or lg_graph_free. Ops are declared in ops.h. */
#ifndef LAGRAD_GRAPH_H
#define LAGRAD_GRAPH_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif
/* The library is built with hidden visibility: what this header declares is its ABI. */
#pragma GCC visibility push(default)

typedef struct lg_graph lg_graph;

/* A new empty graph, or NULL when out of memory. */
lg_graph *lg_graph_new(void);
void lg_graph_free(lg_graph *g);

/* Forgets the tape and every tensor the graph made, keeping the arena's memory for the
 * next step, and clears the sticky error. After the first step of a loop, a step that
 * records the same ops allocates nothing. Tensors from before the reset must not be
 * used again; backward on one is LG_ERR_STATE. */
void lg_graph_reset(lg_graph *g);

/* The first error any op reported since the last reset (LG_OK if none), and its
 * message, e.g. "lg_matmul: inner dimensions differ: (2,3) @ (4,5)". */
lg_status lg_graph_status(const lg_graph *g);
const char *lg_graph_errmsg(const lg_graph *g);
/* Clears the sticky error only (the tape stays). */
void lg_graph_clear_error(lg_graph *g);

/* No-grad mode: while disabled, ops compute but record nothing and their outputs do not
 * require grad. Returns the previous setting. Default: enabled. */
bool lg_graph_set_grad_enabled(lg_graph *g, bool enabled);
bool lg_graph_grad_enabled(const lg_graph *g);

/* Training flag read by dropout (default true). Returns the previous setting. */
bool lg_graph_set_training(lg_graph *g, bool training);

/* Anomaly mode (default off), like torch.autograd.detect_anomaly: every op's outputs and,
 * during backward, every VJP's input gradients are scanned for NaN and Inf. The first one
 * found sets LG_ERR_NUMERIC with a message naming the op, its position in the tape ("op
 * #k", counted from 0 in recording order; ops run without recording get the number the
 * next recorded op would get), the input shapes and the first bad element; that op
 * returns NULL (backward returns the status) and the graph stops there as on any error.
 * It costs one extra read of every output and gradient.
 * Returns the previous setting; the setting survives lg_graph_reset. */
bool lg_graph_set_anomaly(lg_graph *g, bool on);
bool lg_graph_anomaly(const lg_graph *g);

/* Bytes the arena holds (its chunks), and the number of ops recorded since the last
 * lg_graph_reset. In a training loop that resets the graph at the top of each step, both
 * stay the same from the second step on; a count that keeps growing is a forgotten reset
 * (the tape, the arena and the cost of each backward then grow without end). */
size_t lg_graph_arena_bytes(const lg_graph *g);
int64_t lg_graph_num_ops(const lg_graph *g);

/* The default arena limit: 1 GiB. */
#define LG_GRAPH_ARENA_LIMIT_DEFAULT ((size_t)1 << 30)

/* The most bytes the arena may hold, so that a loop that forgets lg_graph_reset fails
 * early with a message instead of filling memory: the op that would take the arena past
 * the limit returns NULL with LG_ERR_OOM and a message naming the op, the limit, the bytes
 * held and the ops recorded since the last reset ("lg_matmul: graph arena limit of
 * 1073741824 bytes reached: 1072693248 bytes held, 20000 ops recorded since the last
 * lg_graph_reset ..."). A new graph starts with LG_GRAPH_ARENA_LIMIT_DEFAULT, enough for
 * any one step of the examples by far; a single step that really needs more raises it.
 * 0 removes the limit. The limit survives lg_graph_reset; lowering it below what the
 * arena already holds frees nothing and refuses any further chunk. Returns the previous
 * limit (0 for a NULL g, which does nothing). */
size_t lg_graph_set_arena_limit(lg_graph *g, size_t bytes);
/* The current limit (0: none, or a NULL g). */
size_t lg_graph_arena_limit(const lg_graph *g);

/* Copies data (numel elements of dt) into a new graph tensor: a constant input. */
lg_tensor *lg_graph_input(lg_graph *g, lg_dtype dt, int ndim, const int64_t *shape,
                          const void *data);
/* A graph tensor filled with `value` (for i32/i64, a whole number in range: LG_ERR_ARG). */
lg_tensor *lg_graph_full(lg_graph *g, lg_dtype dt, int ndim, const int64_t *shape,
                         double value);
/* Constants that live in the graph (nothing to free): the n x n identity, and the 1-D
 * [start, start+step, ...) with ceil((stop-start)/step) elements (step != 0, finite
 * bounds: LG_ERR_ARG; n < 0: LG_ERR_SHAPE). Any dtype. */
lg_tensor *lg_graph_eye(lg_graph *g, lg_dtype dt, int64_t n);
lg_tensor *lg_graph_arange(lg_graph *g, lg_dtype dt, double start, double stop,
                           double step);

/* Reverse mode. Accumulates d(loss)/dx into lg_tensor_grad(x) of every caller-owned leaf
 * x that requires grad and that loss depends on; a leaf that receives no gradient
 * contribution (say, through x^0) keeps its grad as it was (NULL if never computed). loss must be a scalar (any rank with
 * one element). Errors: NULL (LG_ERR_ARG), non-scalar (LG_ERR_SHAPE), a tensor of
 * another graph or from before a reset, or one that does not require grad (LG_ERR_STATE),
 * and the graph's sticky error.
 * Calling it twice on the same tape accumulates the gradients twice. Matrix-product
 * gradients of leaves are added into their grads as the tape is walked (no copy), so
 * after an error part of this pass may already be in them: zero them before retrying;
 * and a leaf with several contributions sums them in another order than lg_grad does
 * (the last bits may differ). A tape that read a leaf's grad as an input, or a wrapped
 * buffer (lg_tensor_wrap) over its memory, sees it unchanged during the walk. */
lg_status lg_backward(lg_graph *g, lg_tensor *loss);

/* As lg_backward, for any output with an explicit seed gradient of its shape (seed may
 * be NULL only for a scalar output). With create_graph, the backward pass is recorded
 * on g, so the gradients themselves can be differentiated. */
lg_status lg_backward_ex(lg_graph *g, lg_tensor *out, const lg_tensor *seed,
                         bool create_graph);

/* Functional gradients: grads[i] = d(out)/d(inputs[i]) seeded with `seed` (NULL for a
 * scalar out), returned as graph tensors (zeros where out does not depend on the
 * input). Leaves' accumulated grads are left alone. With create_graph, the grads are
 * recorded and can be fed to further ops and to lg_grad again (double backward). */
lg_status lg_grad(lg_graph *g, lg_tensor *out, const lg_tensor *seed, int n,
                  lg_tensor *const *inputs, lg_tensor **grads, bool create_graph);

/* A scalar function of n input tensors, recorded on g. Returns NULL on error. */
typedef lg_tensor *(*lg_fn)(lg_graph *g, lg_tensor *const *inputs, int n, void *ctx);

/* The most input tensors lg_hvp and lg_gradcheck take (LG_ERR_ARG above it). A model
 * with more parameter tensors keeps them in one lg_params store: its contiguous blocks
 * make few inputs. */
#define LG_FN_MAX_INPUTS 16

/* Hessian-vector product of the scalar f at `inputs` along `v` (n tensors, shapes of
 * the inputs, 1 <= n <= LG_FN_MAX_INPUTS). Writes H v into the caller-owned tensors
 * `hv`. Uses double backward, exact up to rounding. Inputs need not require grad. */
lg_status lg_hvp(lg_fn f, void *ctx, lg_tensor *const *inputs, int n,
                 lg_tensor *const *v, lg_tensor *const *hv);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
