/* LSTM and GRU stacks (rnn.h) composed of graph ops, so backward and double backward come
 * for free: per layer and step, one linear of the input, one of the hidden state, and the
 * gate arithmetic. No fused kernel.  */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lagrad/rnn.h"
#include "lagrad/layers.h"
#include "layers_impl.h"

static const char *const RNN_FN = "lg_rnn_forward";

lg_status lg_rnn_init(lg_rnn *l, lg_params *p, const char *name, lg_rnn_kind kind,
                      int64_t input_size, int64_t hidden_size, int num_layers, bool bias,
                      lg_dtype dt, lg_rng *r)
{
    const char *fn = "lg_rnn_init";
    if (l)
        memset(l, 0, sizeof *l);
    if (!l || !p || !name || !*name || !r)
        return lg_set_error(LG_ERR_ARG, "%s: layer, store, name or rng is NULL or empty", fn);
    if (kind != LG_RNN_LSTM && kind != LG_RNN_GRU)
        return lg_set_error(LG_ERR_ARG, "%s: bad kind %d", fn, (int)kind);
    if (input_size < 1 || hidden_size < 1 || num_layers < 1 || num_layers > LG_RNN_MAX_LAYERS)
        return lg_set_error(LG_ERR_ARG, "%s: need input_size, hidden_size >= 1 and num_layers "
                            "in [1, %d], got %lld, %lld and %d", fn, LG_RNN_MAX_LAYERS,
                            (long long)input_size, (long long)hidden_size, num_layers);
    int64_t G = kind == LG_RNN_LSTM ? 4 : 3, H = hidden_size;
    double bound = 1.0 / sqrt((double)H);
    lg_rnn out = {.kind = kind, .input_size = input_size, .hidden_size = H,
                  .num_layers = num_layers};
    for (int k = 0; k < num_layers; k++) {
        char part[4][32];
        snprintf(part[0], sizeof part[0], "weight_ih_l%d", k);
        snprintf(part[1], sizeof part[1], "weight_hh_l%d", k);
        snprintf(part[2], sizeof part[2], "bias_ih_l%d", k);
        snprintf(part[3], sizeof part[3], "bias_hh_l%d", k);
        int64_t wih[2] = {G * H, k ? H : input_size}, whh[2] = {G * H, H}, b[1] = {G * H};
        lg_tensor **slot[4] = {&out.weight_ih[k], &out.weight_hh[k], &out.bias_ih[k],
                               &out.bias_hh[k]};
        const int64_t *shapes[4] = {wih, whh, b, b};
        for (int j = 0; j < (bias ? 4 : 2); j++) {
            lg_status s = lg_nn_add_param(p, name, part[j], dt, j < 2 ? 2 : 1, shapes[j], fn,
                                          slot[j]);
            if (s == LG_OK)
                s = lg_init_uniform(*slot[j], -bound, bound, r);
            if (s != LG_OK)
                return s;
        }
    }
    *l = out;
    return LG_OK;
}

/* Layer k's state from s0 (L, B, H), or zeros (B, H). */
static lg_tensor *initial_state(lg_graph *g, lg_tensor *s0, int k, int64_t B, int64_t H,
                                lg_dtype dt)
{
    if (s0)
        return lg_select(g, s0, 0, k);
    int64_t shape[2] = {B, H};
    return lg_graph_full(g, dt, 2, shape, 0.0);
}

/* One LSTM step: gates (B, 4H) = x-part + h-part; updates *h and *c. */
static void lstm_step(lg_graph *g, lg_tensor *gates, int64_t H, lg_tensor **h, lg_tensor **c)
{
    lg_tensor *i = lg_sigmoid(g, lg_slice(g, gates, 1, 0, H));
    lg_tensor *f = lg_sigmoid(g, lg_slice(g, gates, 1, H, 2 * H));
    lg_tensor *gg = lg_tanh(g, lg_slice(g, gates, 1, 2 * H, 3 * H));
    lg_tensor *o = lg_sigmoid(g, lg_slice(g, gates, 1, 3 * H, 4 * H));
    *c = lg_add(g, lg_mul(g, f, *c), lg_mul(g, i, gg));
    *h = lg_mul(g, o, lg_tanh(g, *c));
}

/* One GRU step from gi = W_ih x + b_ih and gh = W_hh h + b_hh, both (B, 3H). */
static lg_tensor *gru_step(lg_graph *g, lg_tensor *gi, lg_tensor *gh, int64_t H, lg_tensor *h)
{
    lg_tensor *rz = lg_sigmoid(g, lg_add(g, lg_slice(g, gi, 1, 0, 2 * H),
                                         lg_slice(g, gh, 1, 0, 2 * H)));
    lg_tensor *r = lg_slice(g, rz, 1, 0, H), *z = lg_slice(g, rz, 1, H, 2 * H);
    lg_tensor *n = lg_tanh(g, lg_add(g, lg_slice(g, gi, 1, 2 * H, 3 * H),
                                     lg_mul(g, r, lg_slice(g, gh, 1, 2 * H, 3 * H))));
    return lg_add(g, n, lg_mul(g, z, lg_sub(g, h, n))); /* (1 - z) n + z h */
}

static bool check_state(lg_graph *g, const lg_tensor *s, const char *what, int L, int64_t B,
                        int64_t H, lg_dtype dt)
{
    if (!s)
        return true;
    const int64_t *sh = lg_tensor_shape(s);
    if (lg_tensor_ndim(s) != 3 || sh[0] != L || sh[1] != B || sh[2] != H) {
        lg_fail(g, LG_ERR_SHAPE, "%s: %s is %s; want (%d,%lld,%lld)", RNN_FN, what,
                lg_tshape(s).s, L, (long long)B, (long long)H);
        return false;
    }
    if (lg_tensor_dtype(s) != dt) {
        lg_fail(g, LG_ERR_DTYPE, "%s: %s is %s; the layer is %s", RNN_FN, what,
                lg_dtype_name(lg_tensor_dtype(s)), lg_dtype_name(dt));
        return false;
    }
    return true;
}

/* Stacks the T per-step states (B, H) into (B, T, H), and the L final ones into (L, B, H). */
static lg_tensor *stack(lg_graph *g, lg_tensor **xs, int64_t n, int axis, int64_t B, int64_t H)
{
    for (int64_t t = 0; t < n; t++) {
        int64_t s3[3] = {axis == 1 ? B : 1, 1, H};
        if (axis == 0)
            s3[1] = B;
        xs[t] = lg_reshape(g, xs[t], 3, s3);
    }
    return n == 1 ? xs[0] : lg_concat(g, xs, (int)n, axis);
}

lg_tensor *lg_rnn_forward(lg_graph *g, const lg_rnn *l, lg_tensor *x, lg_tensor *h0,
                          lg_tensor *c0, lg_tensor **h_n, lg_tensor **c_n)
{
    if (h_n)
        *h_n = NULL;
    if (c_n)
        *c_n = NULL;
    if (!lg_nn_check(g, l, RNN_FN) || !x)
        return x ? NULL : lg_fail(g, LG_ERR_ARG, "%s: x is NULL", RNN_FN);
    if (l->num_layers < 1 || l->num_layers > LG_RNN_MAX_LAYERS || !l->weight_ih[0])
        return lg_fail(g, LG_ERR_ARG, "%s: layer not initialised", RNN_FN);
    bool lstm = l->kind == LG_RNN_LSTM;
    if (!lstm && (c0 || c_n))
        return lg_fail(g, LG_ERR_ARG, "%s: a GRU has no cell state (c0, c_n must be NULL)",
                       RNN_FN);
    const int64_t *xs = lg_tensor_shape(x);
    int64_t H = l->hidden_size;
    if (lg_tensor_ndim(x) != 3 || xs[2] != l->input_size || xs[1] < 1 || xs[1] > INT32_MAX)
        return lg_fail(g, LG_ERR_SHAPE, "%s: x is %s; want (B,T,%lld) with T >= 1", RNN_FN,
                       lg_tshape(x).s, (long long)l->input_size);
    lg_dtype dt = lg_tensor_dtype(l->weight_ih[0]);
    if (lg_tensor_dtype(x) != dt)
        return lg_fail(g, LG_ERR_DTYPE, "%s: x is %s; the layer is %s", RNN_FN,
                       lg_dtype_name(lg_tensor_dtype(x)), lg_dtype_name(dt));
    int64_t B = xs[0], T = xs[1];
    int L = l->num_layers;
    if (!check_state(g, h0, "h0", L, B, H, dt) || !check_state(g, c0, "c0", L, B, H, dt))
        return NULL;
    /* per-step outputs, on the stack up to 256 steps, so a training step allocates
     * nothing once the graph's arena has grown. Each layer projects its whole input in
     * one GEMM, (B·T, in) -> (B,T,G·H), and each step selects its rows: the select's VJP
     * adds into that gradient's block in place (lg_grad_acc), so backward is one GEMM
     * per weight too. (While recording a double backward each select's VJP is still a
     * full (B,T,G·H) tensor: T² memory, fine at gradcheck sizes.) */
    lg_tensor *local[2 * 256 + 2 * LG_RNN_MAX_LAYERS];
    size_t bytes = (size_t)(2 * T + 2 * L) * sizeof(lg_tensor *);
    lg_tensor **steps = T <= 256 ? local : lg_malloc(bytes);
    if (!steps)
        return lg_fail(g, LG_ERR_OOM, "%s: out of memory", RNN_FN);
    lg_tensor **prev = steps, **cur = steps + T, **hl = steps + 2 * T, **cl = hl + L;
    int64_t G = lstm ? 4 : 3;
    for (int k = 0; k < L; k++) {
        lg_tensor *h = initial_state(g, h0, k, B, H, dt);
        lg_tensor *c = lstm ? initial_state(g, c0, k, B, H, dt) : NULL;
        lg_tensor *src = k ? stack(g, prev, T, 1, B, H) : x; /* (B, T, in) */
        int64_t rows[2] = {B * T, k ? H : l->input_size}, proj[3] = {B, T, G * H};
        lg_tensor *gi_all = lg_reshape(g, lg_linear(g, lg_reshape(g, src, 2, rows),
                                                    l->weight_ih[k], l->bias_ih[k]), 3, proj);
        for (int64_t t = 0; t < T; t++) {
            lg_tensor *gi = lg_select(g, gi_all, 1, t);
            lg_tensor *gh = lg_linear(g, h, l->weight_hh[k], l->bias_hh[k]);
            if (lstm)
                lstm_step(g, lg_add(g, gi, gh), H, &h, &c);
            else
                h = gru_step(g, gi, gh, H, h);
            cur[t] = h;
        }
        hl[k] = h;
        cl[k] = c;
        lg_tensor **swap = prev;
        prev = cur;
        cur = swap;
    }
    lg_tensor *in = stack(g, prev, T, 1, B, H);
    if (h_n)
        *h_n = stack(g, hl, L, 0, B, H);
    if (c_n)
        *c_n = stack(g, cl, L, 0, B, H);
    if (steps != local)
        lg_free(steps, bytes);
    if (lg_graph_status(g) != LG_OK) {
        if (h_n)
            *h_n = NULL;
        if (c_n)
            *c_n = NULL;
        return NULL;
    }
    return in;
}
