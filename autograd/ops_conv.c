/* conv2d and its two adjoints as graph ops. conv(x, W) is bilinear, so its VJPs are the
 * adjoint in x (conv_input_grad: GEMM then col2im) and the adjoint in W
 * (conv_weight_grad: im2col then GEMM), and their VJPs are again conv, conv_input_grad
 * and conv_weight_grad: the three ops close under differentiation, so double backward
 * holds to any order. The bias gradient (conv_bias_grad, per-channel sums of dy) has a
 * broadcast for its VJP. The kernels (im2col, col2im, GEMMs, the channel sums) are in
 * backend/cpu/cpu_conv.c. */
#include "ops_impl.h"
#include "lagrad/conv.h"

lg_conv2d_opts lg_conv2d_defaults(void)
{
    return (lg_conv2d_opts){.stride = {1, 1}, .padding = {0, 0}, .dilation = {1, 1},
                            .groups = 1};
}

static lg_tensor *conv_forward(lg_graph *g, lg_tensor *x, lg_tensor *w, lg_tensor *bias,
                               const lg_conv_geom *cg);
static lg_tensor *conv_input_grad(lg_graph *g, lg_tensor *dy, lg_tensor *w,
                                  const lg_conv_geom *cg);
static lg_tensor *conv_weight_grad(lg_graph *g, lg_tensor *x, lg_tensor *dy,
                                   const lg_conv_geom *cg);
static lg_tensor *conv_bias_grad(lg_graph *g, lg_tensor *dy, const lg_conv_geom *cg);

/* Scratch for one conv kernel call, from the arena (reused after the first step). */
static void *conv_scratch(lg_graph *g, lg_dtype dt, const lg_conv_geom *cg, const char *what)
{
    return lg_arena_data(g, g->be->conv2d_scratch(dt, cg), what);
}

/* Keeps the geometry on a recorded node (an arena copy: it lives until reset). */
static void keep_geom(lg_graph *g, lg_node *n, const lg_conv_geom *cg)
{
    lg_conv_geom *c = n ? lg_arena_alloc(g, sizeof *c, n->op->name) : NULL;
    if (c) {
        *c = *cg;
        n->extra = c;
    }
}

/* y = conv(x, W) + b: x (N,C,H,W), W (Co,C/G,kh,kw), b (Co), y (N,Co,Ho,Wo).
 *   dx += conv_input_grad(dy, W)    (N,C,H,W):    col2im(W[g]ᵀ dy[n,g]) per sample, group
 *   dW += conv_weight_grad(x, dy)   (Co,C/G,kh,kw): Σ_n dy[n,g] im2col(x[n])[g]ᵀ
 *   db += conv_bias_grad(dy) = Σ_{n,h,w} dy   (Co) */
static void conv_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    const lg_conv_geom *cg = n->extra;
    if (lg_needs_grad(n, 0))
        gx[0] = conv_input_grad(g, gy[0], n->in[1], cg);
    if (lg_needs_grad(n, 1))
        gx[1] = conv_weight_grad(g, n->in[0], gy[0], cg);
    if (n->nin == 3 && lg_needs_grad(n, 2))
        gx[2] = conv_bias_grad(g, gy[0], cg);
}
static const lg_op CONV2D = {"lg_conv2d", conv_vjp};

static lg_tensor *conv_forward(lg_graph *g, lg_tensor *x, lg_tensor *w, lg_tensor *bias,
                               const lg_conv_geom *cg)
{
    lg_tensor *in[3] = {x, w, bias};
    int nin = bias ? 3 : 2;
    if (!lg_check_inputs(g, CONV2D.name, nin, in))
        return NULL;
    int64_t shape[4] = {cg->n, cg->co, cg->ho, cg->wo};
    lg_tensor *y = lg_graph_tensor(g, x->dtype, 4, shape);
    void *scratch = y ? conv_scratch(g, x->dtype, cg, CONV2D.name) : NULL;
    if (!scratch)
        return NULL;
    g->be->conv2d(x->dtype, cg, x->data, w->data, bias ? bias->data : NULL, y->data, scratch);
    keep_geom(g, lg_record(g, &CONV2D, nin, in, 1, &y), cg);
    return g->status == LG_OK ? y : NULL;
}

/* z = conv_input_grad(dy, W), the adjoint of conv in x: <z, v> = <dy, conv(v, W)>.
 * z (N,C,H,W), dy (N,Co,Ho,Wo); with v = dz:
 *   d(dy) += conv(v, W),  dW += conv_weight_grad(v, dy) */
static void conv_input_grad_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy,
                                lg_tensor **gx)
{
    const lg_conv_geom *cg = n->extra;
    if (lg_needs_grad(n, 0))
        gx[0] = conv_forward(g, gy[0], n->in[1], NULL, cg);
    if (lg_needs_grad(n, 1))
        gx[1] = conv_weight_grad(g, gy[0], n->in[0], cg);
}
static const lg_op CONV_INPUT_GRAD = {"lg_conv2d_input_grad", conv_input_grad_vjp};

static lg_tensor *conv_input_grad(lg_graph *g, lg_tensor *dy, lg_tensor *w,
                                  const lg_conv_geom *cg)
{
    lg_tensor *in[2] = {dy, w};
    if (!lg_check_inputs(g, CONV_INPUT_GRAD.name, 2, in))
        return NULL;
    int64_t shape[4] = {cg->n, cg->c, cg->h, cg->w};
    lg_tensor *z = lg_graph_tensor(g, dy->dtype, 4, shape);
    void *scratch = z ? conv_scratch(g, dy->dtype, cg, CONV_INPUT_GRAD.name) : NULL;
    if (!scratch)
        return NULL;
    g->be->conv2d_input_grad(dy->dtype, cg, dy->data, w->data, z->data, scratch);
    keep_geom(g, lg_record(g, &CONV_INPUT_GRAD, 2, in, 1, &z), cg);
    return g->status == LG_OK ? z : NULL;
}

/* U = conv_weight_grad(x, dy), the adjoint of conv in W: <U, V> = <dy, conv(x, V)>.
 * U (Co,C/G,kh,kw), x (N,C,H,W), dy (N,Co,Ho,Wo); with V = dU:
 *   dx += conv_input_grad(dy, V),  d(dy) += conv(x, V) */
static void conv_weight_grad_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy,
                                 lg_tensor **gx)
{
    const lg_conv_geom *cg = n->extra;
    if (lg_needs_grad(n, 0))
        gx[0] = conv_input_grad(g, n->in[1], gy[0], cg);
    if (lg_needs_grad(n, 1))
        gx[1] = conv_forward(g, n->in[0], gy[0], NULL, cg);
}
static const lg_op CONV_WEIGHT_GRAD = {"lg_conv2d_weight_grad", conv_weight_grad_vjp};

static lg_tensor *conv_weight_grad(lg_graph *g, lg_tensor *x, lg_tensor *dy,
                                   const lg_conv_geom *cg)
{
    lg_tensor *in[2] = {x, dy};
    if (!lg_check_inputs(g, CONV_WEIGHT_GRAD.name, 2, in))
        return NULL;
    int64_t shape[4] = {cg->co, cg->c / cg->groups, cg->kh, cg->kw};
    lg_tensor *u = lg_graph_tensor(g, x->dtype, 4, shape);
    void *scratch = u ? conv_scratch(g, x->dtype, cg, CONV_WEIGHT_GRAD.name) : NULL;
    if (!scratch)
        return NULL;
    g->be->conv2d_weight_grad(x->dtype, cg, x->data, dy->data, u->data, scratch);
    keep_geom(g, lg_record(g, &CONV_WEIGHT_GRAD, 2, in, 1, &u), cg);
    return g->status == LG_OK ? u : NULL;
}

/* b = conv_bias_grad(dy) = Σ_{n,h,w} dy, (Co) from dy (N,Co,Ho,Wo): one pass of plane
 * sums (two lg_sum_axis passes cost 4x as much in the CNN). Linear, with the adjoint
 * broadcasting: d(dy) += v broadcast over n, h, w, with v = db. */
static void conv_bias_grad_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy,
                               lg_tensor **gx)
{
    const lg_tensor *dy = n->in[0];
    int64_t chan[4] = {1, dy->shape[1], 1, 1};
    gx[0] = lg_broadcast_to(g, lg_reshape(g, gy[0], 4, chan), 4, dy->shape);
}
static const lg_op CONV_BIAS_GRAD = {"lg_conv2d_bias_grad", conv_bias_grad_vjp};

static lg_tensor *conv_bias_grad(lg_graph *g, lg_tensor *dy, const lg_conv_geom *cg)
{
    if (!lg_check_inputs(g, CONV_BIAS_GRAD.name, 1, &dy))
        return NULL;
    lg_tensor *b = lg_graph_tensor(g, dy->dtype, 1, &cg->co);
    if (!b)
        return NULL;
    g->be->conv2d_bias_grad(dy->dtype, cg, dy->data, b->data);
    keep_geom(g, lg_record(g, &CONV_BIAS_GRAD, 1, &dy, 1, &b), cg);
    return g->status == LG_OK ? b : NULL;
}

/* PyTorch's output size; < 1 when the dilated kernel does not fit the padded input. */
static int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d)
{
    int64_t span = in + 2 * p - d * (k - 1) - 1;
    return span < 0 ? 0 : span / s + 1;
}

static bool check_opts(lg_graph *g, const lg_conv2d_opts *o)
{
    const char *bad = NULL;
    if (o->stride[0] < 1 || o->stride[1] < 1)
        bad = "stride must be >= 1";
    else if (o->padding[0] < 0 || o->padding[1] < 0)
        bad = "padding must be >= 0";
    else if (o->dilation[0] < 1 || o->dilation[1] < 1)
        bad = "dilation must be >= 1";
    else if (o->groups < 1)
        bad = "groups must be >= 1";
    if (bad)
        lg_fail(g, LG_ERR_ARG, "lg_conv2d: %s: stride (%d,%d), padding (%d,%d), dilation "
                "(%d,%d), groups %d", bad, o->stride[0], o->stride[1], o->padding[0],
                o->padding[1], o->dilation[0], o->dilation[1], o->groups);
    return !bad;
}

/* Fills cg from x, w and o, or sets the error naming the shapes. */
static bool conv_geom(lg_graph *g, const lg_tensor *x, const lg_tensor *w,
                      const lg_tensor *bias, const lg_conv2d_opts *o, lg_conv_geom *cg)
{
    const char *name = CONV2D.name;
    if (x->ndim != 4 || w->ndim != 4) {
        lg_fail(g, LG_ERR_SHAPE, "%s: need x (N,C_in,H,W) and w (C_out,C_in/groups,kH,kW), "
                "got x %s, w %s", name, lg_tshape(x).s, lg_tshape(w).s);
        return false;
    }
    for (int d = 0; d < 4; d++)
        if ((d > 0 && x->shape[d] == 0) || w->shape[d] == 0) {
            lg_fail(g, LG_ERR_SHAPE, "%s: empty channel or spatial dimension: x %s, w %s",
                    name, lg_tshape(x).s, lg_tshape(w).s);
            return false;
        }
    int64_t c = x->shape[1], co = w->shape[0], gr = o->groups;
    if (c % gr || co % gr) {
        lg_fail(g, LG_ERR_SHAPE, "%s: groups %lld does not divide C_in %lld and C_out %lld: "
                "x %s, w %s", name, (long long)gr, (long long)c, (long long)co,
                lg_tshape(x).s, lg_tshape(w).s);
        return false;
    }
    if (w->shape[1] * gr != c) {
        lg_fail(g, LG_ERR_SHAPE, "%s: channel mismatch: x %s has C_in %lld, w %s expects "
                "%lld x groups %lld", name, lg_tshape(x).s, (long long)c, lg_tshape(w).s,
                (long long)w->shape[1], (long long)gr);
        return false;
    }
    if (bias && (bias->ndim != 1 || bias->shape[0] != co)) {
        lg_fail(g, LG_ERR_SHAPE, "%s: bias %s does not match C_out %lld of w %s", name,
                lg_tshape(bias).s, (long long)co, lg_tshape(w).s);
        return false;
    }
    *cg = (lg_conv_geom){.n = x->shape[0], .c = c, .h = x->shape[2], .w = x->shape[3],
                         .co = co, .kh = w->shape[2], .kw = w->shape[3],
                         .sh = o->stride[0], .sw = o->stride[1], .ph = o->padding[0],
                         .pw = o->padding[1], .dh = o->dilation[0], .dw = o->dilation[1],
                         .groups = gr};
    cg->ho = out_size(cg->h, cg->kh, cg->sh, cg->ph, cg->dh);
    cg->wo = out_size(cg->w, cg->kw, cg->sw, cg->pw, cg->dw);
    if (cg->ho < 1 || cg->wo < 1) {
        lg_fail(g, LG_ERR_SHAPE, "%s: kernel (%lld,%lld) at dilation (%lld,%lld) is larger "
                "than the padded input (%lld,%lld): x %s, w %s", name, (long long)cg->kh,
                (long long)cg->kw, (long long)cg->dh, (long long)cg->dw,
                (long long)(cg->h + 2 * cg->ph), (long long)(cg->w + 2 * cg->pw),
                lg_tshape(x).s, lg_tshape(w).s);
        return false;
    }
    return true;
}

lg_tensor *lg_conv2d(lg_graph *g, lg_tensor *x, lg_tensor *w, lg_tensor *bias,
                     const lg_conv2d_opts *o)
{
    lg_tensor *in[3] = {x, w, bias};
    int nin = bias ? 3 : 2;
    lg_conv2d_opts def = lg_conv2d_defaults();
    lg_conv_geom cg;
    if (!lg_check_inputs(g, CONV2D.name, nin, in) ||
        !lg_check_same_dtype(g, CONV2D.name, nin, in) || !check_opts(g, o ? o : &def) ||
        !conv_geom(g, x, w, bias, o ? o : &def, &cg))
        return NULL;
    return conv_forward(g, x, w, bias, &cg);
}
