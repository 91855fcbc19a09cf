/* Activations: relu, leaky_relu, sigmoid, tanh and gelu, with the fused backward ops
 * their VJPs use (one pass over memory, as PyTorch's threshold_backward). */
#include <math.h>
#include "ops_impl.h"

/* gx = gy ⊙ [x > 0], linear in gy: d(gy) += relu_backward(d(gx), x); nothing for x
 * (the mask is piecewise constant). */
static void relu_bwd_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    if (lg_needs_grad(n, 0))
        gx[0] = lg_relu_backward(g, gy[0], n->in[1]);
}
static const lg_op RELU_BWD = {"lg_relu_backward", relu_bwd_vjp};
lg_tensor *lg_relu_backward(lg_graph *g, lg_tensor *gy, lg_tensor *x)
{
    return lg_binary_op(g, &RELU_BWD, LG_BIN_RELU_BWD, gy, x, 0);
}

/* y = max(x, 0): dx += dy ⊙ [x > 0] */
static void relu_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    gx[0] = lg_relu_backward(g, gy[0], n->in[0]);
}
static const lg_op RELU = {"lg_relu", relu_vjp};
lg_tensor *lg_relu(lg_graph *g, lg_tensor *x) { return lg_unary_op(g, &RELU, LG_UN_RELU, x, 0); }

/* gx = gy ⊙ (x > 0 ? 1 : s), linear in gy. */
static void leaky_bwd_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    if (lg_needs_grad(n, 0))
        gx[0] = lg_leaky_relu_backward(g, gy[0], n->in[1], n->at.p);
}
static const lg_op LEAKY_BWD = {"lg_leaky_relu_backward", leaky_bwd_vjp};
lg_tensor *lg_leaky_relu_backward(lg_graph *g, lg_tensor *gy, lg_tensor *x, double slope)
{
    return lg_binary_op(g, &LEAKY_BWD, LG_BIN_LEAKY_BWD, gy, x, slope);
}

/* y = x > 0 ? x : s x: dx += dy ⊙ (x > 0 ? 1 : s) */
static void leaky_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    gx[0] = lg_leaky_relu_backward(g, gy[0], n->in[0], n->at.p);
}
static const lg_op LEAKY = {"lg_leaky_relu", leaky_vjp};
lg_tensor *lg_leaky_relu(lg_graph *g, lg_tensor *x, double slope)
{
    return lg_unary_op(g, &LEAKY, LG_UN_LEAKY_RELU, x, slope);
}

/* y = 1 / (1 + exp(-x)): dx += dy ⊙ y ⊙ (1 - y) */
static void sigmoid_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    lg_tensor *y = n->out[0];
    gx[0] = lg_mul(g, gy[0], lg_mul(g, y, lg_add_scalar(g, lg_neg(g, y), 1.0)));
}
static const lg_op SIGMOID = {"lg_sigmoid", sigmoid_vjp};
lg_tensor *lg_sigmoid(lg_graph *g, lg_tensor *x)
{
    return lg_unary_op(g, &SIGMOID, LG_UN_SIGMOID, x, 0);
}

/* gx = gy ⊙ (1 - y²), y = tanh x, in one pass (it was four; issue 17):
 *   d(gy) += d(gx) ⊙ (1 - y²),  d(y) += -2 d(gx) ⊙ gy ⊙ y */
static void tanh_bwd_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    if (lg_needs_grad(n, 0))
        gx[0] = lg_tanh_backward(g, gy[0], n->in[1]);
    if (lg_needs_grad(n, 1))
        gx[1] = lg_mul(g, lg_mul(g, gy[0], n->in[0]), lg_scale(g, n->in[1], -2.0));
}
static const lg_op TANH_BWD = {"lg_tanh_backward", tanh_bwd_vjp};
lg_tensor *lg_tanh_backward(lg_graph *g, lg_tensor *gy, lg_tensor *y)
{
    return lg_binary_op(g, &TANH_BWD, LG_BIN_TANH_BWD, gy, y, 0);
}

/* y = tanh(x): dx += dy ⊙ (1 - y²) */
static void tanh_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    gx[0] = lg_tanh_backward(g, gy[0], n->out[0]);
}
static const lg_op TANH = {"lg_tanh", tanh_vjp};
lg_tensor *lg_tanh(lg_graph *g, lg_tensor *x) { return lg_unary_op(g, &TANH, LG_UN_TANH, x, 0); }

/* gelu''(x) = phi(x) (2 - x²), phi(x) = exp(-x²/2) / sqrt(2 pi), built from ops so every
 * order differentiates. */
static lg_tensor *gelu_second(lg_graph *g, lg_tensor *x)
{
    lg_tensor *x2 = lg_mul(g, x, x);
    lg_tensor *phi = lg_scale(g, lg_exp(g, lg_scale(g, x2, -0.5)), 0.39894228040143267794);
    return lg_mul(g, phi, lg_add_scalar(g, lg_neg(g, x2), 2.0));
}

/* gx = gy ⊙ gelu'(x) in one pass (it was two, and a (B,T,4C) temporary per GPT layer;
 * issue 16), linear in gy: d(gy) += d(gx) ⊙ gelu'(x), d(x) += d(gx) ⊙ gy ⊙ gelu''(x). */
static void gelu_bwd_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    if (lg_needs_grad(n, 0))
        gx[0] = lg_gelu_backward(g, gy[0], n->in[1]);
    if (lg_needs_grad(n, 1))
        gx[1] = lg_mul(g, lg_mul(g, gy[0], n->in[0]), gelu_second(g, n->in[1]));
}
static const lg_op GELU_BWD = {"lg_gelu_backward", gelu_bwd_vjp};
lg_tensor *lg_gelu_backward(lg_graph *g, lg_tensor *gy, lg_tensor *x)
{
    return lg_binary_op(g, &GELU_BWD, LG_BIN_GELU_BWD, gy, x, 0);
}

/* y = x Phi(x) (exact, erf form): dx += dy ⊙ gelu'(x) */
static void gelu_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    gx[0] = lg_gelu_backward(g, gy[0], n->in[0]);
}
static const lg_op GELU = {"lg_gelu", gelu_vjp};
lg_tensor *lg_gelu(lg_graph *g, lg_tensor *x) { return lg_unary_op(g, &GELU, LG_UN_GELU, x, 0); }
