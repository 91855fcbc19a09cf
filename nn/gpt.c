/* The GPT model (gpt.h): embeddings, pre-LN blocks with a GELU MLP, the final layer norm
 * and the head tied to the token embedding, with nanoGPT's names and init. The attention
 * layer is in attention.c; sampling in sample.c. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lagrad/gpt.h"
#include "layers_impl.h"

/* "<prefix>.<rest>" or "<rest>" when prefix is empty. */
static void pname(char *buf, size_t n, const char *prefix, const char *rest)
{
    snprintf(buf, n, "%s%s%s", prefix, *prefix ? "." : "", rest);
}

static void init_normal(lg_tensor *t, double std, lg_rng *r)
{
    lg_rng_fill_normal(r, lg_tensor_dtype(t), lg_tensor_data(t), lg_tensor_numel(t), 0, std);
}

static lg_status check_config(const lg_gpt_config *c)
{
    const char *fn = "lg_gpt_init";
    if (c->vocab_size < 1 || c->block_size < 1)
        return lg_set_error(LG_ERR_ARG, "%s: vocab_size and block_size must be >= 1, got %lld "
                            "and %lld", fn, (long long)c->vocab_size, (long long)c->block_size);
    if (c->n_layer < 1 || c->n_layer > LG_GPT_MAX_LAYERS)
        return lg_set_error(LG_ERR_ARG, "%s: n_layer must be in [1, %d], got %lld", fn,
                            LG_GPT_MAX_LAYERS, (long long)c->n_layer);
    if (c->n_head < 1 || c->n_embd < 1 || c->n_embd % c->n_head != 0)
        return lg_set_error(LG_ERR_ARG, "%s: n_embd %lld must be a positive multiple of n_head "
                            "%lld", fn, (long long)c->n_embd, (long long)c->n_head);
    if (!(c->dropout >= 0 && c->dropout < 1))
        return lg_set_error(LG_ERR_ARG, "%s: dropout must be in [0, 1), got %g", fn,
                            c->dropout);
    return LG_OK;
}

/* Block i's parameters, nanoGPT's init drawn from r (PyTorch's default init, which the
 * layer inits draw, comes from the scratch stream and is overwritten). */
static lg_status block_init(lg_gpt_block *b, lg_params *p, const char *prefix, int i,
                            const lg_gpt_config *c, lg_dtype dt, lg_rng *r)
{
    char base[256], name[300];
    char hi[32];
    snprintf(hi, sizeof hi, "transformer.h.%d", i);
    pname(base, sizeof base, prefix, hi);
    lg_rng scratch;
    lg_rng_init(&scratch, 0);
    int64_t C = c->n_embd;
    double proj_std = 0.02 / sqrt(2.0 * (double)c->n_layer);
    snprintf(name, sizeof name, "%s.ln_1", base);
    lg_status s = lg_layer_norm_layer_init(&b->ln_1, p, name, C, 1e-5, dt);
    snprintf(name, sizeof name, "%s.attn", base);
    if (s == LG_OK)
        s = lg_attention_init(&b->attn, p, name, C, c->n_head, c->dropout, dt, &scratch);
    snprintf(name, sizeof name, "%s.ln_2", base);
    if (s == LG_OK)
        s = lg_layer_norm_layer_init(&b->ln_2, p, name, C, 1e-5, dt);
    snprintf(name, sizeof name, "%s.mlp.c_fc", base);
    if (s == LG_OK)
        s = lg_linear_layer_init(&b->c_fc, p, name, C, 4 * C, true, dt, &scratch);
    snprintf(name, sizeof name, "%s.mlp.c_proj", base);
    if (s == LG_OK)
        s = lg_linear_layer_init(&b->mlp_proj, p, name, 4 * C, C, true, dt, &scratch);
    if (s != LG_OK)
        return s;
    init_normal(b->attn.c_attn.weight, 0.02, r);
    lg_init_zeros(b->attn.c_attn.bias);
    init_normal(b->attn.c_proj.weight, proj_std, r);
    lg_init_zeros(b->attn.c_proj.bias);
    init_normal(b->c_fc.weight, 0.02, r);
    lg_init_zeros(b->c_fc.bias);
    init_normal(b->mlp_proj.weight, proj_std, r);
    lg_init_zeros(b->mlp_proj.bias);
    lg_rng_init(&b->attn.rng, (uint64_t)(lg_rng_uniform(r) * 9007199254740992.0));
    return LG_OK;
}

lg_status lg_gpt_init(lg_gpt *m, lg_params *p, const char *prefix, const lg_gpt_config *c,
                      lg_dtype dt, lg_rng *r)
{
    const char *fn = "lg_gpt_init";
    if (m)
        memset(m, 0, sizeof *m);
    if (!m || !p || !c || !r)
        return lg_set_error(LG_ERR_ARG, "%s: model, store, config or rng is NULL", fn);
    if (!prefix)
        prefix = "";
    if (strlen(prefix) > 180)
        return lg_set_error(LG_ERR_ARG, "%s: prefix longer than 180 bytes", fn);
    lg_status s = check_config(c);
    if (s != LG_OK)
        return s;
    if (!lg_dtype_is_float(dt))
        return lg_set_error(LG_ERR_DTYPE, "%s: dtype %s; parameters need f32 or f64", fn,
                            lg_dtype_name(dt));
    char name[256];
    int64_t wte[2] = {c->vocab_size, c->n_embd}, wpe[2] = {c->block_size, c->n_embd};
    pname(name, sizeof name, prefix, "transformer.wte.weight");
    if (lg_params_get(p, name))
        return lg_set_error(LG_ERR_ARG, "%s: a parameter named '%s' already exists", fn, name);
    lg_gpt out = {.cfg = *c};
    if (!(out.wte = lg_params_add(p, name, dt, 2, wte)))
        return lg_last_status();
    pname(name, sizeof name, prefix, "transformer.wpe.weight");
    if (!(out.wpe = lg_params_add(p, name, dt, 2, wpe)))
        return lg_last_status();
    init_normal(out.wte, 0.02, r);
    init_normal(out.wpe, 0.02, r);
    for (int i = 0; i < (int)c->n_layer; i++)
        if ((s = block_init(&out.h[i], p, prefix, i, c, dt, r)) != LG_OK)
            return s;
    pname(name, sizeof name, prefix, "transformer.ln_f");
    if ((s = lg_layer_norm_layer_init(&out.ln_f, p, name, c->n_embd, 1e-5, dt)) != LG_OK)
        return s;
    lg_rng_init(&out.drop_rng, (uint64_t)(lg_rng_uniform(r) * 9007199254740992.0));
    *m = out;
    return LG_OK;
}

/* x += attn(ln_1(x)); x += dropout(c_proj(gelu(c_fc(ln_2(x))))) */
lg_tensor *lg_gpt_block_forward(lg_graph *g, lg_gpt_block *b, lg_tensor *x)
{
    if (!lg_nn_check(g, b, "lg_gpt_block_forward"))
        return NULL;
    x = lg_add(g, x, lg_attention_forward(g, &b->attn,
                                          lg_layer_norm_layer_forward(g, &b->ln_1, x)));
    lg_tensor *h = lg_layer_norm_layer_forward(g, &b->ln_2, x);
    h = lg_gelu(g, lg_linear_layer_forward(g, &b->c_fc, h));
    h = lg_linear_layer_forward(g, &b->mlp_proj, h);
    return lg_add(g, x, lg_dropout(g, h, b->attn.dropout, &b->attn.rng));
}

lg_tensor *lg_gpt_forward(lg_graph *g, lg_gpt *m, lg_tensor *ids)
{
    const char *fn = "lg_gpt_forward";
    if (!lg_nn_check(g, m, fn) || !lg_check_inputs_any(g, fn, 1, &ids))
        return NULL;
    if (!m->wte)
        return lg_fail(g, LG_ERR_ARG, "%s: model not initialised", fn);
    if (ids->dtype != LG_I32 && ids->dtype != LG_I64)
        return lg_fail(g, LG_ERR_DTYPE, "%s: ids are %s; need i32 or i64", fn,
                       lg_dtype_name(ids->dtype));
    if (ids->ndim != 2 || ids->shape[1] < 1 || ids->shape[1] > m->cfg.block_size)
        return lg_fail(g, LG_ERR_SHAPE, "%s: ids are %s; want (B,T) with 1 <= T <= block_size "
                       "%lld", fn, lg_tshape(ids).s, (long long)m->cfg.block_size);
    int64_t B = ids->shape[0], T = ids->shape[1], C = m->cfg.n_embd, V = m->cfg.vocab_size;
    lg_tensor *x = lg_add(g, lg_embedding(g, m->wte, ids), lg_slice(g, m->wpe, 0, 0, T));
    x = lg_dropout(g, x, m->cfg.dropout, &m->drop_rng);
    for (int i = 0; i < (int)m->cfg.n_layer; i++)
        x = lg_gpt_block_forward(g, &m->h[i], x);
    int64_t rows[2] = {B * T, C}, out[3] = {B, T, V};
    x = lg_reshape(g, lg_layer_norm_layer_forward(g, &m->ln_f, x), 2, rows);
    return lg_reshape(g, lg_matmul_t(g, x, m->wte, false, true), 3, out); /* tied head */
}

lg_tensor *lg_gpt_loss(lg_graph *g, lg_gpt *m, lg_tensor *ids, lg_tensor *targets)
{
    const char *fn = "lg_gpt_loss";
    lg_tensor *logits = lg_gpt_forward(g, m, ids);
    if (!logits || !lg_check_inputs_any(g, fn, 1, &targets))
        return NULL;
    if (!lg_same_shape(ids, targets))
        return lg_fail(g, LG_ERR_SHAPE, "%s: targets %s differ from ids %s", fn,
                       lg_tshape(targets).s, lg_tshape(ids).s);
    int64_t n = lg_tensor_numel(ids), rows[2] = {n, m->cfg.vocab_size};
    return lg_cross_entropy(g, lg_reshape(g, logits, 2, rows), lg_reshape(g, targets, 1, &n));
}
