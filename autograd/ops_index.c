/* Indexing ops with integer index tensors: index_select (numpy's take along an axis),
 * gather (torch.gather / take_along_axis), their scatter-add adjoints, and what is built
 * on them: embedding, diagonal, diag and select. Every gradient here is another op of this
 * file, so gradients of gradients come out exactly. */
#include <string.h>
#include "ops_impl.h"

static bool check_index(lg_graph *g, const char *name, lg_tensor *idx, int64_t n)
{
    return lg_check_indices(g, name, idx, n, "indices", "index", "position");
}

static lg_index_geom geom(const int64_t *shape, int ndim, int axis, int64_t k,
                          bool per_element, lg_dtype itype)
{
    lg_index_geom ig = {1, shape[axis], 1, k, per_element, itype};
    for (int d = 0; d < axis; d++)
        ig.outer *= shape[d];
    for (int d = axis + 1; d < ndim; d++)
        ig.inner *= shape[d];
    return ig;
}

static lg_tensor *select_named(lg_graph *g, const char *name, lg_tensor *x, int axis,
                               lg_tensor *idx);
static lg_tensor *gather_named(lg_graph *g, const char *name, lg_tensor *x, int axis,
                               lg_tensor *idx);

/* y = zeros(shape); y[.., idx, ..] += src along axis (shared or per element):
 *   dsrc += index_select(dy, axis, idx)  (shared)  or  gather(dy, axis, idx) */
static void index_add_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    int axis = n->at.axis;
    gx[0] = n->at.per_element ? gather_named(g, "lg_gather", gy[0], axis, n->in[1])
                    : select_named(g, "lg_index_select", gy[0], axis, n->in[1]);
}
static const lg_op INDEX_ADD = {"lg_index_add", index_add_vjp};

/* The adjoint of index_select (per_element false) and of gather (true): src has the
 * selection's shape, the result `shape`. Indices were checked by the forward op. */
static lg_tensor *index_add(lg_graph *g, lg_tensor *src, lg_tensor *idx, int ndim,
                            const int64_t *shape, int axis, bool per_element)
{
    lg_tensor *in[2] = {src, idx};
    if (!lg_check_inputs(g, INDEX_ADD.name, 1, &src) ||
        !lg_check_inputs_any(g, INDEX_ADD.name, 2, in))
        return NULL;
    lg_tensor *y = lg_graph_full(g, src->dtype, ndim, shape, 0.0);
    if (!y)
        return NULL;
    int64_t k = per_element ? idx->shape[axis] : idx->numel;
    lg_index_geom ig = geom(shape, ndim, axis, k, per_element, idx->dtype);
    g->be->scatter_add(src->dtype, &ig, idx->data, src->data, y->data);
    lg_node *n = lg_record(g, &INDEX_ADD, 2, in, 1, &y);
    if (n) {
        n->at.axis = axis;
        n->at.per_element = per_element;
    }
    return g->status == LG_OK ? y : NULL;
}

/* y = take(x, idx, axis), y shape x[:axis] + idx + x[axis+1:]:
 *   dx += index_add(zeros like x, axis, idx, dy) */
static void index_select_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy,
                             lg_tensor **gx)
{
    const lg_tensor *x = n->in[0];
    gx[0] = index_add(g, gy[0], n->in[1], x->ndim, x->shape, n->at.axis, false);
}
static const lg_op INDEX_SELECT = {"lg_index_select", index_select_vjp};

static lg_tensor *select_named(lg_graph *g, const char *name, lg_tensor *x, int axis,
                               lg_tensor *idx)
{
    if (!lg_check_inputs(g, name, 1, &x) || !lg_check_axis(g, name, &axis, x->ndim) ||
        !check_index(g, name, idx, x->shape[axis]))
        return NULL;
    int nd = x->ndim - 1 + idx->ndim;
    if (nd > LG_MAX_DIMS)
        return lg_fail(g, LG_ERR_SHAPE, "%s: %s indexed by %s along axis %d has rank %d > %d",
                       name, lg_tshape(x).s, lg_tshape(idx).s, axis, nd, LG_MAX_DIMS);
    int64_t shape[LG_MAX_DIMS];
    memcpy(shape, x->shape, sizeof(int64_t) * (size_t)axis);
    memcpy(shape + axis, idx->shape, sizeof(int64_t) * (size_t)idx->ndim);
    memcpy(shape + axis + idx->ndim, x->shape + axis + 1,
           sizeof(int64_t) * (size_t)(x->ndim - axis - 1));
    lg_tensor *y = lg_graph_tensor(g, x->dtype, nd, shape);
    if (!y)
        return NULL;
    lg_index_geom ig = geom(x->shape, x->ndim, axis, idx->numel, false, idx->dtype);
    g->be->gather(x->dtype, &ig, idx->data, x->data, y->data);
    lg_tensor *in[2] = {x, idx};
    lg_node *n = lg_record(g, &INDEX_SELECT, 2, in, 1, &y);
    if (n)
        n->at.axis = axis;
    return g->status == LG_OK ? y : NULL;
}

lg_tensor *lg_index_select(lg_graph *g, lg_tensor *x, int axis, lg_tensor *idx)
{
    return select_named(g, INDEX_SELECT.name, x, axis, idx);
}

lg_tensor *lg_embedding(lg_graph *g, lg_tensor *weight, lg_tensor *ids)
{
    if (!lg_check_inputs(g, "lg_embedding", 1, &weight))
        return NULL;
    if (weight->ndim != 2)
        return lg_fail(g, LG_ERR_SHAPE, "lg_embedding: weight must be (V, D), got %s",
                       lg_tshape(weight).s);
    return select_named(g, "lg_embedding", weight, 0, ids);
}

/* y[.., j, ..] = x[.., idx[.., j, ..], ..] along axis, y of idx's shape:
 *   dx += scatter_add(zeros like x, axis, idx, dy) */
static void gather_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    const lg_tensor *x = n->in[0];
    gx[0] = index_add(g, gy[0], n->in[1], x->ndim, x->shape, n->at.axis, true);
}
static const lg_op GATHER = {"lg_gather", gather_vjp};

static lg_tensor *gather_named(lg_graph *g, const char *name, lg_tensor *x, int axis,
                               lg_tensor *idx)
{
    if (!lg_check_inputs(g, name, 1, &x) || !lg_check_axis(g, name, &axis, x->ndim) ||
        !check_index(g, name, idx, x->shape[axis]))
        return NULL;
    bool fits = idx->ndim == x->ndim;
    for (int d = 0; fits && d < x->ndim; d++)
        fits = d == axis || idx->shape[d] == x->shape[d];
    if (!fits)
        return lg_fail(g, LG_ERR_SHAPE, "%s: indices %s must match %s except along axis %d",
                       name, lg_tshape(idx).s, lg_tshape(x).s, axis);
    lg_tensor *y = lg_graph_tensor(g, x->dtype, idx->ndim, idx->shape);
    if (!y)
        return NULL;
    lg_index_geom ig = geom(x->shape, x->ndim, axis, idx->shape[axis], true, idx->dtype);
    g->be->gather(x->dtype, &ig, idx->data, x->data, y->data);
    lg_tensor *in[2] = {x, idx};
    lg_node *n = lg_record(g, &GATHER, 2, in, 1, &y);
    if (n)
        n->at.axis = axis;
    return g->status == LG_OK ? y : NULL;
}

lg_tensor *lg_gather(lg_graph *g, lg_tensor *x, int axis, lg_tensor *idx)
{
    return gather_named(g, GATHER.name, x, axis, idx);
}

/* The flat offsets j (m + 1), j < k, of a matrix's diagonal in an (n, m) row-major block. */
static lg_tensor *diagonal_offsets(lg_graph *g, int64_t k, int64_t m)
{
    lg_tensor *idx = lg_graph_tensor(g, LG_I64, 1, &k);
    if (idx)
        g->be->iota(LG_I64, k, idx->data, 0, (double)(m + 1));
    return idx;
}

/* (..., n, m) -> (..., min(n, m)): an index_select of the flattened matrices. */
lg_tensor *lg_diagonal(lg_graph *g, lg_tensor *x)
{
    if (!lg_check_inputs(g, "lg_diagonal", 1, &x))
        return NULL;
    if (x->ndim < 2)
        return lg_fail(g, LG_ERR_SHAPE, "lg_diagonal: need (..., n, m), got %s",
                       lg_tshape(x).s);
    int nd = x->ndim;
    int64_t n = x->shape[nd - 2], m = x->shape[nd - 1], k = n < m ? n : m;
    int64_t flat[2] = {lg_outer_size(x, nd - 2), n * m}, out[LG_MAX_DIMS];
    memcpy(out, x->shape, sizeof out);
    out[nd - 2] = k;
    lg_tensor *rows = lg_reshape(g, x, 2, flat);
    lg_tensor *d = select_named(g, "lg_diagonal", rows, 1, diagonal_offsets(g, k, m));
    return lg_reshape(g, d, nd - 1, out);
}

/* (..., n) -> (..., n, n) with v on the diagonal: an index_add into zeros. */
lg_tensor *lg_diag(lg_graph *g, lg_tensor *v)
{
    if (!lg_check_inputs(g, "lg_diag", 1, &v))
        return NULL;
    if (v->ndim < 1 || v->ndim >= LG_MAX_DIMS)
        return lg_fail(g, LG_ERR_SHAPE, "lg_diag: need (..., n) of rank 1 to %d, got %s",
                       LG_MAX_DIMS - 1, lg_tshape(v).s);
    int nd = v->ndim;
    int64_t n = v->shape[nd - 1], b = lg_outer_size(v, nd - 1);
    int64_t rows_shape[2] = {b, n}, flat[2] = {b, n * n}, out[LG_MAX_DIMS];
    memcpy(out, v->shape, sizeof(int64_t) * (size_t)nd);
    out[nd] = n;
    lg_tensor *rows = lg_reshape(g, v, 2, rows_shape);
    lg_tensor *idx = diagonal_offsets(g, n, n);
    if (!rows || !idx)
        return NULL;
    return lg_reshape(g, index_add(g, rows, idx, 2, flat, 1, false), nd + 1, out);
}

lg_tensor *lg_select(lg_graph *g, lg_tensor *x, int axis, int64_t i)
{
    if (!lg_check_inputs(g, "lg_select", 1, &x) ||
        !lg_check_axis(g, "lg_select", &axis, x->ndim))
        return NULL;
    int64_t len = x->shape[axis], at = i < 0 ? i + len : i;
    if (at < 0 || at >= len)
        return lg_fail(g, LG_ERR_ARG, "lg_select: index %lld out of range for axis %d of %s",
                       (long long)i, axis, lg_tshape(x).s);
    int64_t shape[LG_MAX_DIMS];
    int nd = 0;
    for (int d = 0; d < x->ndim; d++)
        if (d != axis)
            shape[nd++] = x->shape[d];
    return lg_reshape(g, lg_slice(g, x, axis, at, at + 1), nd, shape);
}

lg_tensor *lg_graph_eye(lg_graph *g, lg_dtype dt, int64_t n)
{
    if (n < 0) {
        if (lg_check_inputs(g, "lg_graph_eye", 0, NULL))
            lg_fail(g, LG_ERR_SHAPE, "lg_graph_eye: negative size %lld", (long long)n);
        return NULL;
    }
    int64_t shape[2] = {n, n};
    lg_tensor *t = lg_graph_full(g, dt, 2, shape, 0.0);
    /* a one copied to each diagonal element: n rows of one element, n + 1 apart in t,
     * all read from the same place */
    int64_t one_elem = 1;
    lg_tensor *one = t ? lg_graph_full(g, dt, 1, &one_elem, 1.0) : NULL;
    if (!one)
        return NULL;
    g->be->copy_rows(dt, n, 1, one->data, 0, t->data, n + 1);
    return t;
}

lg_tensor *lg_graph_arange(lg_graph *g, lg_dtype dt, double start, double stop, double step)
{
    if (!lg_check_inputs(g, "lg_graph_arange", 0, NULL))
        return NULL;
    double count = step != 0 ? ceil((stop - start) / step) : NAN;
    if (!(count < 9.2e18) || !isfinite(start) || !isfinite(step))
        return lg_fail(g, LG_ERR_ARG, "lg_graph_arange: need finite start/stop, step != 0 "
                       "and fewer than 2^63 elements, got (%g, %g, %g)", start, stop, step);
    int64_t n = count > 0 ? (int64_t)count : 0;
    lg_tensor *t = lg_graph_tensor(g, dt, 1, &n);
    if (t)
        g->be->iota(dt, n, t->data, start, step);
    return t;
}
