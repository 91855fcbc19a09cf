/* Internal: the graph, its arena, the op descriptor and the helpers every op file uses.
 * Tests may include it; it is never installed. */
#ifndef LAGRAD_GRAPH_IMPL_H
#define LAGRAD_GRAPH_IMPL_H

#include "lagrad/ops.h"
#include "../backend/backend_impl.h"

#define LG_NODE_MAX_OUT 3
#define LG_NODE_MAX_SAVED 4

typedef struct lg_node lg_node;

/* An op: its name (for messages) and its vector-Jacobian product. The VJP reads the
 * node (inputs, outputs, saved tensors, attributes) and the output gradients gy (NULL
 * where an output got no gradient; gy[0] is never NULL for single-output ops) and sets
 * gx[i] to the gradient of input i, or leaves it NULL for no contribution. It must be
 * written with lagrad ops so that create_graph can record it. */
typedef struct lg_op {
    const char *name;
    void (*vjp)(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx);
} lg_op;

struct lg_node {
    const lg_op *op;
    lg_node *prev;     /* the tape is a list walked backward from its tail */
    int64_t seq;       /* recording order, from 0 */
    int nin, nout;
    lg_tensor **in;
    lg_tensor *out[LG_NODE_MAX_OUT];
    lg_tensor *saved[LG_NODE_MAX_SAVED];
    struct {                        /* the attributes its VJP needs, by name; each op
                                       sets the ones it uses and leaves the rest zero */
        double p;                   /* the scalar parameter: slope, exponent, scale, alpha */
        double eps;                 /* normalisations: the epsilon under the square root */
        int axis;                   /* the axis the op works along */
        int64_t start;              /* slice, pad: the first index along axis */
        int perm[LG_MAX_DIMS];      /* permute: output axis d is input axis perm[d] */
        bool trans_a, trans_b;      /* products and solves: transposed operands */
        bool upper, lower, right;   /* triangular ops: which triangle, which side */
        bool per_element;           /* index ops: one index per element (gather) */
        bool full_matrices;         /* svd: full U and Vᵀ */
    } at;
    const void *extra;              /* arena copy of other attributes (labels) */
};

typedef struct lg_chunk {
    struct lg_chunk *next;
    size_t size, used;
    size_t shift;       /* where this epoch's allocations start (lg_arena_rewind) */
    unsigned char *mem;
} lg_chunk;

typedef struct lg_leaf_ref {
    lg_tensor *t;
    struct lg_leaf_ref *next;
} lg_leaf_ref;

/* One arena (arena.c): its chunks in order of use, and the one being filled. */
typedef struct lg_arena {
    lg_chunk *chunks;
    lg_chunk *cur;
} lg_arena;

struct lg_graph {
    lg_arena meta;      /* headers, nodes, attributes: host memory the graph code reads */
    lg_arena data;      /* tensor data and kernel scratch: the backend's memory */
    size_t arena_bytes; /* both arenas' chunks */
    size_t arena_limit; /* most bytes arena_bytes may reach; 0: no limit (graph.h) */
    uint64_t epoch;     /* bumped by reset: tensors of older epochs are stale */
    lg_node *tail;
    int64_t nops;
    bool grad_enabled;
    bool training;
    bool in_backward;
    bool anomaly;       /* check outputs and gradients for NaN/Inf (anomaly.c) */
    bool reads_grad;    /* an op of this tape took a leaf's .grad as input */
    const char *wrap_lo, *wrap_hi; /* the span of caller memory that wrapped inputs of this
                                      tape cover (lg_tensor_wrap): no sink inside it */
    bool sink_grads;    /* set during lg_backward when VJPs may write leaf grads (lg_grad_sink) */
    lg_status status;
    char errmsg[256];
    const lg_backend *be;
};

/* Arena: 64-byte aligned memory that lives until reset. NULL (and LG_ERR_OOM set on g,
 * naming `what`) when the allocator fails. lg_arena_alloc gives host memory for what the
 * graph code itself reads (headers, nodes, geometries); lg_arena_data gives the backend's
 * memory (g->be->mem_alloc) for what only kernels touch: tensor data, kernel scratch,
 * index buffers. */
void *lg_arena_alloc(lg_graph *g, size_t size, const char *what);
void *lg_arena_data(lg_graph *g, size_t size, const char *what);
void lg_arena_rewind(lg_graph *g);
void lg_arena_release(lg_graph *g);

/* A point on the tape and in both arenas. lg_graph_truncate drops every op and tensor
 * recorded after it, keeping the chunks for what comes next, so a tape can grow past the
 * mark and come back to it any number of times within one epoch: nn/curvature.c keeps a
 * recorded gradient graph and replays only the product that depends on v. The caller must
 * hold no handle made after the mark (the epoch does not change, so nothing catches one). */
typedef struct lg_arena_mark {
    lg_chunk *cur;
    size_t used;
} lg_arena_mark;
typedef struct lg_graph_mark {
    lg_node *tail;
    int64_t nops;
    lg_arena_mark meta, data;
} lg_graph_mark;
lg_graph_mark lg_graph_mark_now(const lg_graph *g);
void lg_graph_truncate(lg_graph *g, const lg_graph_mark *m);
lg_arena_mark lg_arena_mark_now(const lg_arena *a);
void lg_arena_truncate(lg_arena *a, const lg_arena_mark *m);

/* Element i of t (any dtype) read to the host by one mem_copy, as a double: for the
 * messages that name a bad value. */
double lg_element(lg_graph *g, const lg_tensor *t, int64_t i);
/* The flat index of t's first NaN or Inf, by the backend's find_outside; -1 when every
 * element is finite (integer tensors always are). */
int64_t lg_first_nonfinite(lg_graph *g, const lg_tensor *t);

/* Records the first error; always returns NULL so ops can `return lg_fail(...)`. */
lg_tensor *lg_fail(lg_graph *g, lg_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* True when g can run op `name` on the n inputs: g is non-NULL and error-free, and each
 * input is non-NULL, live (not from before a reset), of this graph or caller-owned, and
 * f32 or f64.
 * Otherwise sets the error (unless one is already set) and returns false. */
bool lg_check_inputs(lg_graph *g, const char *name, int n, lg_tensor *const *in);
/* The same checks as lg_check_inputs except that every input must also be f32 or f64
 * ("lg_exp: input 0 is i64; need f32 or f64"); this one lets integer tensors through, for
 * ops that move data without computing on it (reshape) and for index inputs. */
bool lg_check_inputs_any(lg_graph *g, const char *name, int n, lg_tensor *const *in);
/* Inputs share one dtype. */
bool lg_check_same_dtype(lg_graph *g, const char *name, int n, lg_tensor *const *in);
/* Normalises a possibly negative axis for a rank-ndim tensor; false (and LG_ERR_ARG)
 * when out of range. */
bool lg_check_axis(lg_graph *g, const char *name, int *axis, int ndim);

/* A new graph tensor (data uninitialised), or NULL with LG_ERR_OOM/LG_ERR_SHAPE set. */
lg_tensor *lg_graph_tensor(lg_graph *g, lg_dtype dt, int ndim, const int64_t *shape);
/* A graph tensor sharing x's data with a new shape of equal numel (a view). */
lg_tensor *lg_graph_view(lg_graph *g, lg_tensor *x, int ndim, const int64_t *shape);

/* Records an op whose outputs are computed: when grad is enabled and some input
 * requires grad, appends a node, links the outputs to it and marks them as requiring
 * grad. Returns the node, for saving tensors and attributes, or NULL when nothing is
 * recorded (then there is nothing to save) or on OOM (then lg_graph_status is set). */
lg_node *lg_record(lg_graph *g, const lg_op *op, int nin, lg_tensor *const *in, int nout,
                   lg_tensor *const *out);

/* Anomaly mode (anomaly.c). Each returns false, with LG_ERR_NUMERIC set on g, when an
 * output of op (forward) or a gradient gx[i] of node n (backward) holds a NaN or Inf. */
bool lg_anomaly_check_outputs(lg_graph *g, const lg_op *op, int nin, lg_tensor *const *in,
                              int nout, lg_tensor *const *out);
bool lg_anomaly_check_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gx);

/* Where a VJP may add input i's gradient itself instead of returning it in gx[i]: the
 * .grad of a caller-owned leaf (made here if missing), during lg_backward without
 * create_graph or anomaly mode, on a tape where no op read that memory (a .grad as input,
 * or a wrapped caller buffer spanning it: an early write would change what that op's VJP
 * reads). The VJP adds its result, flat, into the returned tensor's numel elements and
 * leaves gx[i] NULL, which spares the arena copy and the add pass of the usual path.
 * NULL otherwise, or on OOM (then the graph's status is set). */
lg_tensor *lg_grad_sink(lg_graph *g, const lg_node *n, int i);
/* Where a VJP may add input i's gradient in place, without recording: lg_grad_sink's
 * .grad for a leaf, and for an op's output an accumulator that backward made for it alone
 * (zeros, or a copy of what it had so far), into which it adds later contributions too.
 * The VJP then leaves gx[i] NULL. NULL when recording (create_graph), in anomaly mode
 * (which checks each gx), for a leaf without a sink, or on OOM (status set). */
lg_tensor *lg_grad_acc(lg_graph *g, const lg_node *n, int i);

/* Whether the VJP should produce a gradient for input i. */
static inline bool lg_needs_grad(const lg_node *n, int i)
{
    return (n->in[i]->flags & LG_TF_REQUIRES_GRAD) != 0;
}

/* Element count of the axes before `axis`, and after it. */
int64_t lg_outer_size(const lg_tensor *t, int axis);
int64_t lg_inner_size(const lg_tensor *t, int axis);

#endif
