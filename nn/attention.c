/* Causal multi-head self-attention (gpt.h): one fused QKV projection, heads by reshape
 * and permute, batched Q Kᵀ, the causal mask as an added -inf bias, softmax, dropout,
 * A V and the output projection, all graph ops so any order of gradient comes out.
 * The rest of the transformer is in gpt.c. */
#include <math.h>
#include <string.h>

#include "lagrad/gpt.h"
#include "layers_impl.h"

lg_status lg_attention_init(lg_attention *a, lg_params *p, const char *name, int64_t n_embd,
                            int64_t n_head, double dropout, lg_dtype dt, lg_rng *r)
{
    const char *fn = "lg_attention_init";
    if (a)
        memset(a, 0, sizeof *a);
    if (!a || !p || !name || !*name || !r)
        return lg_set_error(LG_ERR_ARG, "%s: layer, store, name or rng is NULL or empty", fn);
    if (n_embd < 1 || n_head < 1 || n_embd % n_head != 0)
        return lg_set_error(LG_ERR_ARG, "%s: n_embd %lld must be a positive multiple of "
                            "n_head %lld", fn, (long long)n_embd, (long long)n_head);
    if (!(dropout >= 0 && dropout < 1))
        return lg_set_error(LG_ERR_ARG, "%s: dropout must be in [0, 1), got %g", fn, dropout);
    char full[256];
    if (strlen(name) > 200)
        return lg_set_error(LG_ERR_ARG, "%s: name longer than 200 bytes", fn);
    lg_attention out = {.n_embd = n_embd, .n_head = n_head, .dropout = dropout};
    snprintf(full, sizeof full, "%s.c_attn", name);
    lg_status s = lg_linear_layer_init(&out.c_attn, p, full, n_embd, 3 * n_embd, true, dt, r);
    snprintf(full, sizeof full, "%s.c_proj", name);
    if (s == LG_OK)
        s = lg_linear_layer_init(&out.c_proj, p, full, n_embd, n_embd, true, dt, r);
    if (s != LG_OK)
        return s;
    lg_rng_init(&out.rng, (uint64_t)(lg_rng_uniform(r) * 9007199254740992.0));
    *a = out;
    return LG_OK;
}

/* The (T, T) causal bias: -inf strictly above the diagonal (key j > query i), 0 elsewhere,
 * from two aranges. A constant: it depends on no input. Added (broadcast over B nh) rather
 * than a where() over the scores, because an add's VJP passes dy through: no masked
 * (B nh, T, T) copy in backward. */
static lg_tensor *causal_bias(lg_graph *g, int64_t T, lg_dtype dt)
{
    int64_t col[2] = {T, 1}, row[2] = {1, T};
    lg_tensor *i = lg_reshape(g, lg_graph_arange(g, dt, 0, (double)T, 1), 2, col);
    lg_tensor *j = lg_reshape(g, lg_graph_arange(g, dt, 0, (double)T, 1), 2, row);
    lg_tensor *neg_inf = lg_graph_full(g, dt, 0, NULL, -INFINITY);
    lg_tensor *zero = lg_graph_full(g, dt, 0, NULL, 0.0);
    return lg_where(g, lg_relu(g, lg_sub(g, j, i)), neg_inf, zero);
}

lg_tensor *lg_attention_forward(lg_graph *g, lg_attention *a, lg_tensor *x)
{
    const char *fn = "lg_attention_forward";
    if (!lg_nn_check(g, a, fn))
        return NULL;
    if (!lg_check_inputs(g, fn, 1, &x))
        return NULL;
    int64_t C = a->n_embd, nh = a->n_head;
    if (!a->c_attn.weight || nh < 1 || C % nh != 0)
        return lg_fail(g, LG_ERR_ARG, "%s: layer not initialised", fn);
    if (x->ndim != 3 || x->shape[2] != C)
        return lg_fail(g, LG_ERR_SHAPE, "%s: x is %s; want (B,T,%lld)", fn, lg_tshape(x).s,
                       (long long)C);
    int64_t B = x->shape[0], T = x->shape[1], hd = C / nh;
    lg_dtype dt = x->dtype;
    /* (B,T,3C) -> (B,T,3,nh,hd) -> (3,B,nh,T,hd) -> q, k, v as (B nh, T, hd) */
    int64_t s5[5] = {B, T, 3, nh, hd}, s3[3] = {B * nh, T, hd};
    static const int to_heads[5] = {2, 0, 3, 1, 4};
    lg_tensor *qkv = lg_permute(g, lg_reshape(g, lg_linear_layer_forward(g, &a->c_attn, x), 5,
                                              s5), to_heads);
    /* q carries the 1/√hd: half the elements of the (B nh, T, T) scores when T = 2 hd */
    lg_tensor *q = lg_scale(g, lg_reshape(g, lg_select(g, qkv, 0, 0), 3, s3),
                            1.0 / sqrt((double)hd));
    lg_tensor *k = lg_reshape(g, lg_select(g, qkv, 0, 1), 3, s3);
    lg_tensor *v = lg_reshape(g, lg_select(g, qkv, 0, 2), 3, s3);
    /* att (B nh, T, T) = softmax(q kᵀ / √hd with the future at -inf) */
    lg_tensor *att = lg_matmul_t(g, q, k, false, true);
    att = lg_softmax(g, lg_add(g, att, causal_bias(g, T, dt)), -1);
    att = lg_dropout(g, att, a->dropout, &a->rng);
    /* (B nh, T, hd) -> (B, nh, T, hd) -> (B, T, nh, hd) -> (B, T, C) */
    int64_t s4[4] = {B, nh, T, hd}, out[3] = {B, T, C};
    static const int from_heads[4] = {0, 2, 1, 3};
    lg_tensor *y = lg_permute(g, lg_reshape(g, lg_matmul(g, att, v), 4, s4), from_heads);
    y = lg_linear_layer_forward(g, &a->c_proj, lg_reshape(g, y, 3, out));
    return lg_dropout(g, y, a->dropout, &a->rng);
}
