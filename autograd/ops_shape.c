/* Shape ops: reshape (a view), transpose and permute (copies), concat, slice and its
 * adjoint pad_axis, broadcast_to and its adjoint sum_to. */
#include <string.h>
#include "ops_impl.h"

/* y = reshape(x): dx += reshape(dy, shape of x) */
static void reshape_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    gx[0] = lg_reshape(g, gy[0], n->in[0]->ndim, n->in[0]->shape);
}
static const lg_op RESHAPE = {"lg_reshape", reshape_vjp};
lg_tensor *lg_reshape(lg_graph *g, lg_tensor *x, int ndim, const int64_t *shape)
{
    if (!lg_check_inputs_any(g, RESHAPE.name, 1, &x)) /* ids and labels reshape too */
        return NULL;
    if (ndim < 0 || ndim > LG_MAX_DIMS || (ndim > 0 && !shape))
        return lg_fail(g, LG_ERR_ARG, "lg_reshape: bad target rank %d or NULL shape", ndim);
    int64_t s[LG_MAX_DIMS], known = 1;
    int infer = -1;
    for (int i = 0; i < ndim; i++) {
        s[i] = shape[i];
        if (s[i] == -1 && infer < 0)
            infer = i;
        else if (s[i] < 0)
            return lg_fail(g, LG_ERR_SHAPE, "lg_reshape: bad target shape %s",
                           lg_shape_str(ndim, shape).s);
        else if (__builtin_mul_overflow(known, s[i], &known))
            return lg_fail(g, LG_ERR_SHAPE, "lg_reshape: target shape %s has too many "
                           "elements", lg_shape_str(ndim, shape).s);
    }
    if (infer >= 0)
        s[infer] = known ? x->numel / known : 0;
    /* No overflow (issue 14): {2^32, 2^32} must be a clear error, not undefined. */
    int64_t total = 1;
    bool over = false;
    for (int i = 0; i < ndim; i++)
        over |= __builtin_mul_overflow(total, s[i], &total);
    if (over || total != x->numel)
        return lg_fail(g, LG_ERR_SHAPE, "lg_reshape: cannot reshape %s to %s", lg_tshape(x).s,
                       lg_shape_str(ndim, shape).s);
    lg_tensor *y = lg_graph_view(g, x, ndim, s);
    if (!y)
        return NULL;
    lg_record(g, &RESHAPE, 1, &x, 1, &y);
    return g->status == LG_OK ? y : NULL;
}

/* y = permute(x, p): dx += permute(dy, p⁻¹) */
static void permute_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    int inv[LG_MAX_DIMS];
    for (int i = 0; i < n->in[0]->ndim; i++)
        inv[n->at.perm[i]] = i;
    gx[0] = lg_permute(g, gy[0], inv);
}
static const lg_op PERMUTE = {"lg_permute", permute_vjp};
static lg_tensor *permute_named(lg_graph *g, const char *name, lg_tensor *x, const int *perm)
{
    if (!lg_check_inputs(g, name, 1, &x))
        return NULL;
    if (!perm)
        return lg_fail(g, LG_ERR_ARG, "%s: perm is NULL", name);
    int seen[LG_MAX_DIMS] = {0};
    int64_t shape[LG_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) {
        if (perm[i] < 0 || perm[i] >= x->ndim || seen[perm[i]]++)
            return lg_fail(g, LG_ERR_ARG, "%s: perm is not a permutation of 0..%d for %s",
                           name, x->ndim - 1, lg_tshape(x).s);
        shape[i] = x->shape[perm[i]];
    }
    lg_tensor *y = lg_graph_tensor(g, x->dtype, x->ndim, shape);
    if (!y)
        return NULL;
    g->be->permute(x->dtype, x->ndim, x->shape, perm, x->data, y->data);
    lg_node *n = lg_record(g, &PERMUTE, 1, &x, 1, &y);
    for (int i = 0; n && i < x->ndim; i++)
        n->at.perm[i] = perm[i];
    return g->status == LG_OK ? y : NULL;
}
lg_tensor *lg_permute(lg_graph *g, lg_tensor *x, const int *perm)
{
    return permute_named(g, "lg_permute", x, perm);
}

lg_tensor *lg_transpose(lg_graph *g, lg_tensor *x)
{
    if (!lg_check_inputs(g, "lg_transpose", 1, &x))
        return NULL;
    if (x->ndim < 2)
        return lg_fail(g, LG_ERR_SHAPE, "lg_transpose: need rank >= 2, got %s", lg_tshape(x).s);
    int perm[LG_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++)
        perm[i] = i;
    perm[x->ndim - 2] = x->ndim - 1;
    perm[x->ndim - 1] = x->ndim - 2;
    return permute_named(g, "lg_transpose", x, perm);
}

/* Copies the [start, start+len) block of `axis` between a tensor of shape `big` and a
 * contiguous one of the block's shape; to_big selects the direction. */
static void copy_axis_block(lg_graph *g, lg_dtype dt, const lg_tensor *big, int axis,
                            int64_t start, int64_t len, void *big_data, void *small_data,
                            int to_big)
{
    int64_t outer = lg_outer_size(big, axis), inner = lg_inner_size(big, axis);
    int64_t big_ld = big->shape[axis] * inner, cols = len * inner;
    char *bp = (char *)big_data + (size_t)(start * inner) * lg_dtype_size(dt);
    if (to_big)
        g->be->copy_rows(dt, outer, cols, small_data, cols, bp, big_ld);
    else
        g->be->copy_rows(dt, outer, cols, bp, big_ld, small_data, cols);
}

/* acc[.., start:start+len, ..] += dy along axis, one row of len * inner elements per
 * outer index: the slice's adjoint added in place. */
static void add_block(lg_graph *g, lg_tensor *acc, const lg_tensor *dy, int axis,
                      int64_t start)
{
    int64_t outer = lg_outer_size(dy, axis), inner = lg_inner_size(dy, axis);
    int64_t cols = dy->shape[axis] * inner, ld = acc->numel / (outer ? outer : 1);
    size_t es = lg_dtype_size(dy->dtype);
    lg_bcast bc = {.ndim = 1, .numel = cols, .shape = {cols}, .stride = {{1}, {1}}};
    for (int64_t r = 0; r < outer; r++) {
        char *a = (char *)acc->data + (size_t)(r * ld + start * inner) * es;
        g->be->binary(LG_BIN_ADD, dy->dtype, &bc, a, (const char *)dy->data +
                      (size_t)(r * cols) * es, a, 0);
    }
}

/* y = x[start:stop] along axis: dx += pad_axis(dy) (zeros elsewhere). When not
 * recording, dy goes straight into x's accumulator (lg_grad_acc): no x-sized zeros and
 * add per slice, which for the attention heads' q, k, v and an LSTM's gates cost three
 * and four full passes. Short rows keep the pad: one kernel call per row would cost more. */
static void slice_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    const lg_tensor *x = n->in[0];
    int axis = n->at.axis;
    int64_t rows = lg_outer_size(x, axis), cols = gy[0]->shape[axis] * lg_inner_size(x, axis);
    lg_tensor *acc = rows == 1 || cols >= 64 ? lg_grad_acc(g, n, 0) : NULL;
    if (acc) {
        add_block(g, acc, gy[0], axis, n->at.start);
        return;
    }
    if (g->status == LG_OK)
        gx[0] = lg_pad_axis(g, gy[0], axis, n->at.start, x->ndim, x->shape);
}
static const lg_op SLICE = {"lg_slice", slice_vjp};
lg_tensor *lg_slice(lg_graph *g, lg_tensor *x, int axis, int64_t start, int64_t stop)
{
    if (!lg_check_inputs(g, SLICE.name, 1, &x) || !lg_check_axis(g, SLICE.name, &axis, x->ndim))
        return NULL;
    /* Python's rule: a negative bound counts from the end (-1 is the last element) */
    int64_t len = x->shape[axis], lo = start < 0 ? start + len : start;
    int64_t hi = stop < 0 ? stop + len : stop;
    if (lo < 0 || hi < lo || hi > len)
        return lg_fail(g, LG_ERR_ARG, "lg_slice: [%lld, %lld) out of range for axis %d of %s",
                       (long long)start, (long long)stop, axis, lg_tshape(x).s);
    start = lo;
    stop = hi;
    int64_t shape[LG_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[axis] = stop - start;
    lg_tensor *y = lg_graph_tensor(g, x->dtype, x->ndim, shape);
    if (!y)
        return NULL;
    copy_axis_block(g, x->dtype, x, axis, start, stop - start, x->data, y->data, 0);
    lg_node *n = lg_record(g, &SLICE, 1, &x, 1, &y);
    if (n) {
        n->at.axis = axis;
        n->at.start = start;
    }
    return g->status == LG_OK ? y : NULL;
}

/* y = zeros with x placed at [start, start+len): dx += slice(dy) */
static void pad_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    int axis = n->at.axis;
    gx[0] = lg_slice(g, gy[0], axis, n->at.start, n->at.start + n->in[0]->shape[axis]);
}
static const lg_op PAD = {"lg_pad_axis", pad_vjp};
lg_tensor *lg_pad_axis(lg_graph *g, lg_tensor *x, int axis, int64_t start, int ndim,
                       const int64_t *shape)
{
    if (!lg_check_inputs(g, PAD.name, 1, &x))
        return NULL;
    lg_tensor *y = lg_graph_tensor(g, x->dtype, ndim, shape);
    if (!y)
        return NULL;
    g->be->fill(x->dtype, y->numel, y->data, 0.0);
    copy_axis_block(g, x->dtype, y, axis, start, x->shape[axis], y->data, x->data, 1);
    lg_node *n = lg_record(g, &PAD, 1, &x, 1, &y);
    if (n) {
        n->at.axis = axis;
        n->at.start = start;
    }
    return g->status == LG_OK ? y : NULL;
}

/* y = concat(x_0..x_{n-1}) along axis: dx_k += slice of dy at x_k's offset */
static void concat_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    int axis = n->at.axis;
    int64_t off = 0;
    for (int k = 0; k < n->nin; k++) {
        int64_t len = n->in[k]->shape[axis];
        if (lg_needs_grad(n, k))
            gx[k] = lg_slice(g, gy[0], axis, off, off + len);
        off += len;
    }
}
static const lg_op CONCAT = {"lg_concat", concat_vjp};
lg_tensor *lg_concat(lg_graph *g, lg_tensor *const *xs, int n, int axis)
{
    if (!lg_check_inputs(g, CONCAT.name, 0, NULL)) /* the graph itself: NULL or failed */
        return NULL;
    if (n < 1 || !xs)
        return lg_fail(g, LG_ERR_ARG, "lg_concat: need at least one tensor, got %d", n);
    if (!lg_check_inputs(g, CONCAT.name, n, xs) || !lg_check_same_dtype(g, CONCAT.name, n, xs) ||
        !lg_check_axis(g, CONCAT.name, &axis, xs[0]->ndim))
        return NULL;
    int64_t shape[LG_MAX_DIMS];
    memcpy(shape, xs[0]->shape, sizeof shape);
    shape[axis] = 0;
    for (int k = 0; k < n; k++) {
        bool ok = xs[k]->ndim == xs[0]->ndim;
        for (int d = 0; ok && d < xs[0]->ndim; d++)
            ok = d == axis || xs[k]->shape[d] == xs[0]->shape[d];
        if (!ok)
            return lg_fail(g, LG_ERR_SHAPE, "lg_concat: input %d %s does not match input 0 %s "
                           "off axis %d", k, lg_tshape(xs[k]).s, lg_tshape(xs[0]).s, axis);
        shape[axis] += xs[k]->shape[axis];
    }
    lg_tensor *y = lg_graph_tensor(g, xs[0]->dtype, xs[0]->ndim, shape);
    if (!y)
        return NULL;
    int64_t off = 0;
    for (int k = 0; k < n; k++) {
        copy_axis_block(g, y->dtype, y, axis, off, xs[k]->shape[axis], y->data, xs[k]->data, 1);
        off += xs[k]->shape[axis];
    }
    lg_node *nd = lg_record(g, &CONCAT, n, xs, 1, &y);
    if (nd)
        nd->at.axis = axis;
    return g->status == LG_OK ? y : NULL;
}

/* Whether `from` broadcasts to exactly `to`. */
static bool broadcasts_to(int nf, const int64_t *from, int nt, const int64_t *to)
{
    int nd;
    int64_t s[LG_MAX_DIMS];
    if (nf > nt || !lg_broadcast_shapes(nf, from, nt, to, &nd, s))
        return false;
    /* to may be NULL for rank 0, and memcmp must not see NULL even for 0 bytes. */
    return nd == nt && (nt == 0 || memcmp(s, to, sizeof(int64_t) * (size_t)nt) == 0);
}

/* y = broadcast_to(x, shape): dx += sum_to(dy, shape of x) */
static void broadcast_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    gx[0] = lg_sum_to_like(g, gy[0], n->in[0]);
}
static const lg_op BROADCAST = {"lg_broadcast_to", broadcast_vjp};
lg_tensor *lg_broadcast_to(lg_graph *g, lg_tensor *x, int ndim, const int64_t *shape)
{
    if (!lg_check_inputs(g, BROADCAST.name, 1, &x))
        return NULL;
    if (ndim < 0 || ndim > LG_MAX_DIMS || (ndim > 0 && !shape) ||
        !broadcasts_to(x->ndim, x->shape, ndim, shape))
        return lg_fail(g, LG_ERR_SHAPE, "lg_broadcast_to: cannot broadcast %s to %s",
                       lg_tshape(x).s, shape ? lg_shape_str(ndim, shape).s : "NULL");
    lg_tensor *y = lg_graph_tensor(g, x->dtype, ndim, shape);
    if (!y)
        return NULL;
    lg_bcast bc;
    lg_tensor *ops[2] = {x, x};
    lg_bcast_init(&bc, ndim, shape, 2, (const lg_tensor *const *)ops);
    g->be->binary(LG_BIN_LEFT, x->dtype, &bc, x->data, x->data, y->data, 0);
    lg_record(g, &BROADCAST, 1, &x, 1, &y);
    return g->status == LG_OK ? y : NULL;
}

/* y = sum_to(x, shape), summing the broadcast axes: dx += broadcast_to(dy, shape of x) */
static void sum_to_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    gx[0] = lg_broadcast_to(g, gy[0], n->in[0]->ndim, n->in[0]->shape);
}
static const lg_op SUM_TO = {"lg_sum_to", sum_to_vjp};
lg_tensor *lg_sum_to(lg_graph *g, lg_tensor *x, int ndim, const int64_t *shape)
{
    if (!lg_check_inputs(g, SUM_TO.name, 1, &x))
        return NULL;
    if (ndim < 0 || ndim > LG_MAX_DIMS || (ndim > 0 && !shape) ||
        !broadcasts_to(ndim, shape, x->ndim, x->shape))
        return lg_fail(g, LG_ERR_SHAPE, "lg_sum_to: %s does not broadcast to %s",
                       shape ? lg_shape_str(ndim, shape).s : "NULL", lg_tshape(x).s);
    lg_tensor *y = lg_graph_tensor(g, x->dtype, ndim, shape);
    if (!y)
        return NULL;
    lg_bcast bc;
    lg_bcast_init(&bc, x->ndim, x->shape, 2, (const lg_tensor *const *)(lg_tensor *[]){x, y});
    g->be->sum_to(x->dtype, &bc, x->data, y->data, y->numel);
    lg_record(g, &SUM_TO, 1, &x, 1, &y);
    return g->status == LG_OK ? y : NULL;
}
