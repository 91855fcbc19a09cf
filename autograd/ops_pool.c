/* Pooling ops over NCHW: max_pool2d (its argmax saved), avg_pool2d, global_avg_pool2d
 * and flatten. Max pooling's VJP is a scatter of the gradient to the saved argmax, whose
 * own VJP is the matching gather (and the gather's the scatter); average pooling's VJP is
 * its adjoint, whose VJP is average pooling again. So double backward holds. The kernels
 * are in backend/cpu/cpu_pool.c. */
#include <stdint.h>
#include "ops_impl.h"
#include "lagrad/conv.h"

/* What max pooling leaves for its scatter and gather: the geometry and, per output,
 * the flat index of its window's maximum within the (H, W) plane. */
typedef struct pool_saved {
    lg_conv_geom cg;
    const int32_t *idx;
} pool_saved;

static lg_tensor *pool_scatter(lg_graph *g, lg_tensor *dy, const pool_saved *ps);
static lg_tensor *pool_gather(lg_graph *g, lg_tensor *x, const pool_saved *ps);

/* Validates x (N,C,H,W) and o for op `name`, filling cg (stride 0 means the kernel). */
lg_pool2d_opts lg_pool2d_defaults(void)
{
    return (lg_pool2d_opts){.kernel = {2, 2}, .stride = {0, 0}, .padding = {0, 0}};
}

static bool pool_geom(lg_graph *g, const char *name, lg_tensor *x, const lg_pool2d_opts *o,
                      lg_conv_geom *cg)
{
    if (!lg_check_inputs(g, name, 1, &x))
        return false;
    lg_pool2d_opts def = lg_pool2d_defaults();
    if (!o) /* NULL options mean the defaults, as everywhere in lagrad */
        o = &def;
    if (x->ndim != 4) {
        lg_fail(g, LG_ERR_SHAPE, "%s: need x (N,C,H,W), got %s", name, lg_tshape(x).s);
        return false;
    }
    int64_t k[2], s[2], p[2], in[2] = {x->shape[2], x->shape[3]}, out[2];
    for (int d = 0; d < 2; d++) {
        k[d] = o->kernel[d];
        s[d] = o->stride[d] ? o->stride[d] : o->kernel[d];
        p[d] = o->padding[d];
        if (k[d] < 1 || o->stride[d] < 0 || p[d] < 0 || p[d] > k[d] / 2) {
            lg_fail(g, LG_ERR_ARG, "%s: need kernel >= 1, stride >= 0 and 0 <= padding <= "
                    "kernel / 2: kernel (%d,%d), stride (%d,%d), padding (%d,%d)", name,
                    o->kernel[0], o->kernel[1], o->stride[0], o->stride[1], o->padding[0],
                    o->padding[1]);
            return false;
        }
        int64_t span = in[d] + 2 * p[d] - k[d];
        out[d] = span < 0 ? 0 : span / s[d] + 1;
    }
    if (out[0] < 1 || out[1] < 1 || x->shape[1] < 1) {
        lg_fail(g, LG_ERR_SHAPE, "%s: kernel (%lld,%lld) is larger than the padded input "
                "(%lld,%lld) of x %s", name, (long long)k[0], (long long)k[1],
                (long long)(in[0] + 2 * p[0]), (long long)(in[1] + 2 * p[1]), lg_tshape(x).s);
        return false;
    }
    if (in[0] * in[1] > INT32_MAX) {
        lg_fail(g, LG_ERR_SHAPE, "%s: planes of x %s exceed 2^31 elements", name,
                lg_tshape(x).s);
        return false;
    }
    *cg = (lg_conv_geom){.n = x->shape[0], .c = x->shape[1], .h = in[0], .w = in[1],
                         .co = x->shape[1], .kh = k[0], .kw = k[1], .ho = out[0],
                         .wo = out[1], .sh = s[0], .sw = s[1], .ph = p[0], .pw = p[1],
                         .dh = 1, .dw = 1, .groups = 1};
    return true;
}

static lg_tensor *pool_output(lg_graph *g, const lg_tensor *x, const lg_conv_geom *cg)
{
    int64_t shape[4] = {cg->n, cg->c, cg->ho, cg->wo};
    return lg_graph_tensor(g, x->dtype, 4, shape);
}

/* y = max over each window of x: dx += scatter(dy) to the saved argmax. */
static void max_pool_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    gx[0] = pool_scatter(g, gy[0], n->extra);
}
static const lg_op MAX_POOL = {"lg_max_pool2d", max_pool_vjp};

lg_tensor *lg_max_pool2d(lg_graph *g, lg_tensor *x, const lg_pool2d_opts *o)
{
    lg_conv_geom cg;
    if (!pool_geom(g, MAX_POOL.name, x, o, &cg))
        return NULL;
    lg_tensor *y = pool_output(g, x, &cg);
    pool_saved *ps = y ? lg_arena_alloc(g, sizeof *ps, MAX_POOL.name) : NULL;
    int32_t *idx = ps ? lg_arena_data(g, sizeof *idx * (size_t)y->numel, MAX_POOL.name)
                      : NULL;
    if (!idx)
        return NULL;
    g->be->max_pool(x->dtype, &cg, x->data, y->data, idx);
    *ps = (pool_saved){cg, idx};
    lg_node *n = lg_record(g, &MAX_POOL, 1, &x, 1, &y);
    if (n)
        n->extra = ps;
    return g->status == LG_OK ? y : NULL;
}

/* dx = scatter(dy): zeros of x's shape with dx[plane, idx[q]] += dy[q]; linear, so with
 * v = d(dx): d(dy) += gather(v) = v[plane, idx[q]]. */
static void scatter_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    gx[0] = pool_gather(g, gy[0], n->extra);
}
static const lg_op POOL_SCATTER = {"lg_max_pool2d_scatter", scatter_vjp};

static lg_tensor *pool_scatter(lg_graph *g, lg_tensor *dy, const pool_saved *ps)
{
    if (!lg_check_inputs(g, POOL_SCATTER.name, 1, &dy))
        return NULL;
    int64_t shape[4] = {ps->cg.n, ps->cg.c, ps->cg.h, ps->cg.w};
    lg_tensor *dx = lg_graph_tensor(g, dy->dtype, 4, shape);
    if (!dx)
        return NULL;
    g->be->pool_scatter(dy->dtype, &ps->cg, dy->data, ps->idx, dx->data);
    lg_node *n = lg_record(g, &POOL_SCATTER, 1, &dy, 1, &dx);
    if (n)
        n->extra = ps;
    return g->status == LG_OK ? dx : NULL;
}

/* y = gather(x): y[q] = x[plane, idx[q]]: dx += scatter(dy). */
static void gather_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    gx[0] = pool_scatter(g, gy[0], n->extra);
}
static const lg_op POOL_GATHER = {"lg_max_pool2d_gather", gather_vjp};

static lg_tensor *pool_gather(lg_graph *g, lg_tensor *x, const pool_saved *ps)
{
    if (!lg_check_inputs(g, POOL_GATHER.name, 1, &x))
        return NULL;
    lg_tensor *y = pool_output(g, x, &ps->cg);
    if (!y)
        return NULL;
    g->be->pool_gather(x->dtype, &ps->cg, x->data, ps->idx, y->data);
    lg_node *n = lg_record(g, &POOL_GATHER, 1, &x, 1, &y);
    if (n)
        n->extra = ps;
    return g->status == LG_OK ? y : NULL;
}

static lg_tensor *avg_pool(lg_graph *g, lg_tensor *x, const lg_conv_geom *cg);
static lg_tensor *avg_pool_adjoint(lg_graph *g, lg_tensor *dy, const lg_conv_geom *cg);

/* y = A x, A averaging each window over kh*kw cells (padding counted as zeros):
 * dx += Aᵀ dy (avg_pool_adjoint). */
static void avg_pool_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    gx[0] = avg_pool_adjoint(g, gy[0], n->extra);
}
static const lg_op AVG_POOL = {"lg_avg_pool2d", avg_pool_vjp};

/* Keeps the geometry on a recorded node (an arena copy: it lives until reset). */
static void keep_geom(lg_graph *g, lg_node *n, const lg_conv_geom *cg)
{
    lg_conv_geom *c = n ? lg_arena_alloc(g, sizeof *c, n->op->name) : NULL;
    if (c) {
        *c = *cg;
        n->extra = c;
    }
}

static lg_tensor *avg_pool(lg_graph *g, lg_tensor *x, const lg_conv_geom *cg)
{
    if (!lg_check_inputs(g, AVG_POOL.name, 1, &x))
        return NULL;
    lg_tensor *y = pool_output(g, x, cg);
    if (!y)
        return NULL;
    g->be->avg_pool(x->dtype, cg, x->data, y->data);
    keep_geom(g, lg_record(g, &AVG_POOL, 1, &x, 1, &y), cg);
    return g->status == LG_OK ? y : NULL;
}

lg_tensor *lg_avg_pool2d(lg_graph *g, lg_tensor *x, const lg_pool2d_opts *o)
{
    lg_conv_geom cg;
    return pool_geom(g, AVG_POOL.name, x, o, &cg) ? avg_pool(g, x, &cg) : NULL;
}

/* dx = Aᵀ dy: d(dy) += A v, average pooling of v = d(dx). */
static void avg_adjoint_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy,
                            lg_tensor **gx)
{
    gx[0] = avg_pool(g, gy[0], n->extra);
}
static const lg_op AVG_POOL_ADJOINT = {"lg_avg_pool2d_adjoint", avg_adjoint_vjp};

static lg_tensor *avg_pool_adjoint(lg_graph *g, lg_tensor *dy, const lg_conv_geom *cg)
{
    if (!lg_check_inputs(g, AVG_POOL_ADJOINT.name, 1, &dy))
        return NULL;
    int64_t shape[4] = {cg->n, cg->c, cg->h, cg->w};
    lg_tensor *dx = lg_graph_tensor(g, dy->dtype, 4, shape);
    if (!dx)
        return NULL;
    g->be->avg_pool_adjoint(dy->dtype, cg, dy->data, dx->data);
    keep_geom(g, lg_record(g, &AVG_POOL_ADJOINT, 1, &dy, 1, &dx), cg);
    return g->status == LG_OK ? dx : NULL;
}

/* mean over H and W as reshape (N,C,H*W) then mean of the last axis; both ops carry
 * their own VJPs. */
lg_tensor *lg_global_avg_pool2d(lg_graph *g, lg_tensor *x)
{
    const char *name = "lg_global_avg_pool2d";
    if (!lg_check_inputs(g, name, 1, &x))
        return NULL;
    if (x->ndim != 4 || x->shape[2] * x->shape[3] == 0)
        return lg_fail(g, LG_ERR_SHAPE, "%s: need x (N,C,H,W) with H*W > 0, got %s", name,
                       lg_tshape(x).s);
    int64_t shape[3] = {x->shape[0], x->shape[1], x->shape[2] * x->shape[3]};
    return lg_mean_axis(g, lg_reshape(g, x, 3, shape), 2, false);
}

/* A reshape (a view: lagrad tensors are always contiguous). */
lg_tensor *lg_flatten(lg_graph *g, lg_tensor *x, int start_dim)
{
    const char *name = "lg_flatten";
    if (!lg_check_inputs(g, name, 1, &x))
        return NULL;
    if (x->ndim < 1)
        return lg_fail(g, LG_ERR_SHAPE, "%s: need rank >= 1, got %s", name, lg_tshape(x).s);
    if (!lg_check_axis(g, name, &start_dim, x->ndim))
        return NULL;
    int64_t shape[LG_MAX_DIMS];
    for (int d = 0; d < start_dim; d++)
        shape[d] = x->shape[d];
    shape[start_dim] = lg_inner_size(x, start_dim - 1);
    return lg_reshape(g, x, start_dim + 1, shape);
}
