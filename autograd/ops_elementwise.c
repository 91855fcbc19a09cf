/* Elementwise arithmetic ops: add, sub, mul, div (broadcasting), neg, scalar add and
 * scale, exp, log, sqrt, pow, abs, sign and where. Each VJP sits under its forward and
 * is made of lagrad ops, so it can itself be differentiated. */
#include "ops_impl.h"

/* C = A + B: dA += sum_to(dC, A), dB += sum_to(dC, B) */
static void add_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    if (lg_needs_grad(n, 0))
        gx[0] = lg_sum_to_like(g, gy[0], n->in[0]);
    if (lg_needs_grad(n, 1))
        gx[1] = lg_sum_to_like(g, gy[0], n->in[1]);
}
static const lg_op ADD = {"lg_add", add_vjp};
lg_tensor *lg_add(lg_graph *g, lg_tensor *a, lg_tensor *b)
{
    return lg_binary_op(g, &ADD, LG_BIN_ADD, a, b, 0);
}

/* C = A - B: dA += sum_to(dC), dB -= sum_to(dC) */
static void sub_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    if (lg_needs_grad(n, 0))
        gx[0] = lg_sum_to_like(g, gy[0], n->in[0]);
    if (lg_needs_grad(n, 1))
        gx[1] = lg_sum_to_like(g, lg_neg(g, gy[0]), n->in[1]);
}
static const lg_op SUB = {"lg_sub", sub_vjp};
lg_tensor *lg_sub(lg_graph *g, lg_tensor *a, lg_tensor *b)
{
    return lg_binary_op(g, &SUB, LG_BIN_SUB, a, b, 0);
}

/* C = A ⊙ B: dA += sum_to(dC ⊙ B), dB += sum_to(dC ⊙ A) */
static void mul_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    if (lg_needs_grad(n, 0))
        gx[0] = lg_sum_to_like(g, lg_mul(g, gy[0], n->in[1]), n->in[0]);
    if (lg_needs_grad(n, 1))
        gx[1] = lg_sum_to_like(g, lg_mul(g, gy[0], n->in[0]), n->in[1]);
}
static const lg_op MUL = {"lg_mul", mul_vjp};
lg_tensor *lg_mul(lg_graph *g, lg_tensor *a, lg_tensor *b)
{
    return lg_binary_op(g, &MUL, LG_BIN_MUL, a, b, 0);
}

/* C = A / B: dA += sum_to(dC / B), dB -= sum_to(dC ⊙ C / B)  (A/B² = C/B) */
static void div_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    if (lg_needs_grad(n, 0))
        gx[0] = lg_sum_to_like(g, lg_div(g, gy[0], n->in[1]), n->in[0]);
    if (lg_needs_grad(n, 1)) {
        lg_tensor *t = lg_div(g, lg_mul(g, gy[0], n->out[0]), n->in[1]);
        gx[1] = lg_sum_to_like(g, lg_neg(g, t), n->in[1]);
    }
}
static const lg_op DIV = {"lg_div", div_vjp};
lg_tensor *lg_div(lg_graph *g, lg_tensor *a, lg_tensor *b)
{
    return lg_binary_op(g, &DIV, LG_BIN_DIV, a, b, 0);
}

/* y = -x: dx -= dy */
static void neg_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    (void)n;
    gx[0] = lg_neg(g, gy[0]);
}
static const lg_op NEG = {"lg_neg", neg_vjp};
lg_tensor *lg_neg(lg_graph *g, lg_tensor *x) { return lg_unary_op(g, &NEG, LG_UN_NEG, x, 0); }

/* y = x + c: dx += dy */
static void add_scalar_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    (void)g;
    (void)n;
    gx[0] = gy[0];
}
static const lg_op ADD_SCALAR = {"lg_add_scalar", add_scalar_vjp};
lg_tensor *lg_add_scalar(lg_graph *g, lg_tensor *x, double c)
{
    return lg_unary_op(g, &ADD_SCALAR, LG_UN_ADD_SCALAR, x, c);
}

/* y = c x: dx += c dy */
static void scale_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    gx[0] = lg_scale(g, gy[0], n->at.p);
}
static const lg_op SCALE = {"lg_scale", scale_vjp};
lg_tensor *lg_scale(lg_graph *g, lg_tensor *x, double c)
{
    return lg_unary_op(g, &SCALE, LG_UN_SCALE, x, c);
}

/* y = exp(x): dx += dy ⊙ y */
static void exp_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    gx[0] = lg_mul(g, gy[0], n->out[0]);
}
static const lg_op EXP = {"lg_exp", exp_vjp};
lg_tensor *lg_exp(lg_graph *g, lg_tensor *x) { return lg_unary_op(g, &EXP, LG_UN_EXP, x, 0); }

/* y = log(x): dx += dy / x */
static void log_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    gx[0] = lg_div(g, gy[0], n->in[0]);
}
static const lg_op LOG = {"lg_log", log_vjp};
lg_tensor *lg_log(lg_graph *g, lg_tensor *x) { return lg_unary_op(g, &LOG, LG_UN_LOG, x, 0); }

/* y = sqrt(x): dx += dy / (2 y) */
static void sqrt_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    gx[0] = lg_div(g, lg_scale(g, gy[0], 0.5), n->out[0]);
}
static const lg_op SQRT = {"lg_sqrt", sqrt_vjp};
lg_tensor *lg_sqrt(lg_graph *g, lg_tensor *x)
{
    return lg_unary_op(g, &SQRT, LG_UN_SQRT, x, 0);
}

/* y = x^p: dx += dy ⊙ p x^(p-1)  (nothing when p = 0) */
static void pow_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    double p = n->at.p;
    if (p == 0)
        return;
    lg_tensor *d = p == 1 ? NULL : lg_scale(g, lg_pow_scalar(g, n->in[0], p - 1), p);
    gx[0] = d ? lg_mul(g, gy[0], d) : gy[0];
}
static const lg_op POW = {"lg_pow_scalar", pow_vjp};
lg_tensor *lg_pow_scalar(lg_graph *g, lg_tensor *x, double p)
{
    return lg_unary_op(g, &POW, LG_UN_POW, x, p);
}

/* y = sign(x): piecewise constant, no gradient. */
static void sign_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    (void)g, (void)n, (void)gy, (void)gx;
}
static const lg_op SIGN = {"lg_sign", sign_vjp};
lg_tensor *lg_sign(lg_graph *g, lg_tensor *x) { return lg_unary_op(g, &SIGN, LG_UN_SIGN, x, 0); }

/* y = |x|: dx += dy ⊙ sign(x)  (0 at x = 0, the subgradient PyTorch picks) */
static void abs_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    gx[0] = lg_mul(g, gy[0], lg_sign(g, n->in[0]));
}
static const lg_op ABS = {"lg_abs", abs_vjp};
lg_tensor *lg_abs(lg_graph *g, lg_tensor *x) { return lg_unary_op(g, &ABS, LG_UN_ABS, x, 0); }

/* y = where(m, a, b): da += sum_to(where(m, dy, 0)), db += sum_to(where(m, 0, dy)) */
static void where_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    lg_tensor *zero = lg_scalar_const(g, gy[0]->dtype, 0.0);
    if (lg_needs_grad(n, 1))
        gx[1] = lg_sum_to_like(g, lg_where(g, n->in[0], gy[0], zero), n->in[1]);
    if (lg_needs_grad(n, 2))
        gx[2] = lg_sum_to_like(g, lg_where(g, n->in[0], zero, gy[0]), n->in[2]);
}
static const lg_op WHERE = {"lg_where", where_vjp};
lg_tensor *lg_where(lg_graph *g, lg_tensor *mask, lg_tensor *a, lg_tensor *b)
{
    lg_tensor *in[3] = {mask, a, b};
    if (!lg_check_inputs(g, WHERE.name, 3, in) || !lg_check_same_dtype(g, WHERE.name, 3, in))
        return NULL;
    int nd, nd2;
    int64_t s1[LG_MAX_DIMS], shape[LG_MAX_DIMS];
    if (!lg_broadcast_shapes(mask->ndim, mask->shape, a->ndim, a->shape, &nd, s1) ||
        !lg_broadcast_shapes(nd, s1, b->ndim, b->shape, &nd2, shape))
        return lg_fail(g, LG_ERR_SHAPE, "lg_where: shapes do not broadcast: mask %s, a %s, "
                       "b %s", lg_tshape(mask).s, lg_tshape(a).s, lg_tshape(b).s);
    lg_tensor *y = lg_graph_tensor(g, a->dtype, nd2, shape);
    if (!y)
        return NULL;
    lg_bcast bc;
    lg_bcast_init(&bc, nd2, shape, 3, (const lg_tensor *const *)in);
    g->be->where(a->dtype, &bc, mask->data, a->data, b->data, y->data);
    lg_record(g, &WHERE, 3, in, 1, &y);
    return g->status == LG_OK ? y : NULL;
}
