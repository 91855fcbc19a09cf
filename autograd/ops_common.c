/* Drivers shared by the elementwise op files: validation, broadcasting, the kernel
 * call and recording. The ops themselves (forward next to VJP) live in ops_*.c. */
#include <float.h>
#include "ops_impl.h"

lg_tensor *lg_unary_op(lg_graph *g, const lg_op *op, lg_unary_kind k, lg_tensor *x, double p)
{
    if (!lg_check_inputs(g, op->name, 1, &x))
        return NULL;
    lg_tensor *y = lg_graph_tensor(g, x->dtype, x->ndim, x->shape);
    if (!y)
        return NULL;
    g->be->unary(k, x->dtype, x->numel, x->data, y->data, p);
    lg_node *n = lg_record(g, op, 1, &x, 1, &y);
    if (n)
        n->at.p = p;
    return g->status == LG_OK ? y : NULL;
}

void lg_bcast_init(lg_bcast *bc, int ndim, const int64_t *out_shape, int nops,
                   const lg_tensor *const *ops)
{
    bc->ndim = ndim;
    bc->numel = 1;
    for (int d = 0; d < ndim; d++) {
        bc->shape[d] = out_shape[d];
        bc->numel *= out_shape[d];
    }
    for (int i = 0; i < nops; i++)
        lg_broadcast_strides(ops[i]->ndim, ops[i]->shape, ndim, out_shape, bc->stride[i]);
}

lg_tensor *lg_binary_op(lg_graph *g, const lg_op *op, lg_binary_kind k, lg_tensor *a,
                        lg_tensor *b, double p)
{
    lg_tensor *in[2] = {a, b};
    if (!lg_check_inputs(g, op->name, 2, in) || !lg_check_same_dtype(g, op->name, 2, in))
        return NULL;
    int nd;
    int64_t shape[LG_MAX_DIMS];
    if (!lg_broadcast_shapes(a->ndim, a->shape, b->ndim, b->shape, &nd, shape))
        return lg_fail(g, LG_ERR_SHAPE, "%s: shapes do not broadcast: %s and %s", op->name,
                       lg_tshape(a).s, lg_tshape(b).s);
    lg_tensor *y = lg_graph_tensor(g, a->dtype, nd, shape);
    if (!y)
        return NULL;
    lg_bcast bc;
    lg_bcast_init(&bc, nd, shape, 2, (const lg_tensor *const *)in);
    g->be->binary(k, a->dtype, &bc, a->data, b->data, y->data, p);
    lg_node *n = lg_record(g, op, 2, in, 1, &y);
    if (n)
        n->at.p = p;
    return g->status == LG_OK ? y : NULL;
}

lg_tensor *lg_sum_to_like(lg_graph *g, lg_tensor *gy, const lg_tensor *x)
{
    if (gy && lg_same_shape(gy, x))
        return gy;
    return lg_sum_to(g, gy, x->ndim, x->shape);
}

lg_tensor *lg_scalar_const(lg_graph *g, lg_dtype dt, double v)
{
    return lg_graph_full(g, dt, 0, NULL, v);
}

double lg_element(lg_graph *g, const lg_tensor *t, int64_t i)
{
    union { float f; double d; int32_t i32; int64_t i64; } e;
    size_t es = lg_dtype_size(t->dtype);
    g->be->mem_copy(LG_COPY_DEVICE_TO_HOST, &e, (const char *)t->data + (size_t)i * es, es);
    switch (t->dtype) {
    case LG_F32: return e.f;
    case LG_F64: return e.d;
    case LG_I32: return e.i32;
    default: return (double)e.i64;
    }
}

int64_t lg_first_nonfinite(lg_graph *g, const lg_tensor *t)
{
    if (t->dtype != LG_F32 && t->dtype != LG_F64)
        return -1;
    double max = t->dtype == LG_F32 ? FLT_MAX : DBL_MAX;
    return g->be->find_outside(t->dtype, t->numel, t->data, -max, max);
}

bool lg_check_indices(lg_graph *g, const char *name, lg_tensor *idx, int64_t n,
                      const char *plural, const char *singular, const char *where)
{
    if (!lg_check_inputs_any(g, name, 1, &idx))
        return false;
    if (idx->dtype != LG_I32 && idx->dtype != LG_I64) {
        lg_fail(g, LG_ERR_DTYPE, "%s: %s are %s; need i32 or i64", name, plural,
                lg_dtype_name(idx->dtype));
        return false;
    }
    int64_t q = g->be->find_outside(idx->dtype, idx->numel, idx->data, 0, (double)n - 1);
    if (q >= 0) {
        lg_fail(g, LG_ERR_ARG, "%s: %s %.0f at %s %lld outside [0, %lld)", name, singular,
                lg_element(g, idx, q), where, (long long)q, (long long)n);
        return false;
    }
    return true;
}
