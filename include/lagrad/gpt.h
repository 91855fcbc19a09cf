/* lagrad GPT: the pieces of a decoder-only transformer language model (Radford et al.
 * 2019, as Karpathy's nanoGPT writes it) and the model itself: causal multi-head
 * self-attention with one fused QKV projection, a GELU MLP, pre-LN residual blocks, learned
 * token and position embeddings, a final layer norm and an output head tied to the token
 * embedding. Parameters carry nanoGPT's state_dict names, so its checkpoints map one to
 * one (its lm_head.weight is transformer.wte.weight). Sampling is in sample.h. KV caches
 * and flash attention are left out. */
#ifndef LAGRAD_GPT_H
#define LAGRAD_GPT_H

#include "layers.h"

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

/* ---- causal multi-head self-attention ---- */

/* "<name>.c_attn" (3C, C) with bias: the fused Q, K, V projection (rows [0,C) give Q, then
 * K, then V); "<name>.c_proj" (C, C) with bias: the output projection. */
typedef struct lg_attention {
    lg_linear_layer c_attn, c_proj;
    int64_t n_embd, n_head;
    double dropout;     /* on the attention weights and on the output, in training */
    lg_rng rng;         /* the dropout stream */
} lg_attention;

/* Adds the two linear layers to p with PyTorch's nn.Linear init (see lg_gpt_init for
 * nanoGPT's). n_embd must be a multiple of n_head. The dropout stream is seeded from r.
 * Errors: NULL arguments or an empty name, n_embd or n_head < 1, n_embd % n_head != 0,
 * dropout outside [0, 1), a name in use (LG_ERR_ARG); a bad dtype (LG_ERR_DTYPE); out of
 * memory. *a is zeroed on error. */
lg_status lg_attention_init(lg_attention *a, lg_params *p, const char *name, int64_t n_embd,
                            int64_t n_head, double dropout, lg_dtype dt, lg_rng *r);

/* y = c_proj(softmax(Q Kᵀ/√hd + M) V) for x (B, T, C), hd = C / n_head, per head, with
 * heads made by reshape (B,T,3,nh,hd) and permute; M is 0 on and below the diagonal and
 * -inf above it, so position t attends to positions <= t only, and exactly: softmax's
 * max-subtraction sees the -inf entries as exact zeros, so a later token cannot change an
 * earlier output in a single bit. Returns (B, T, C) owned by g. Errors (NULL, first error
 * on g): NULL g or a (LG_ERR_ARG), x not 3-D with C features (LG_ERR_SHAPE), and the ops'. */
lg_tensor *lg_attention_forward(lg_graph *g, lg_attention *a, lg_tensor *x);

/* ---- the model ---- */

typedef struct lg_gpt_config {
    int64_t vocab_size;  /* V >= 1 */
    int64_t block_size;  /* the longest context, T_max >= 1 */
    int64_t n_layer;     /* 1 .. LG_GPT_MAX_LAYERS */
    int64_t n_head;      /* divides n_embd */
    int64_t n_embd;      /* C */
    double dropout;      /* [0, 1): embeddings, attention, residual branches */
} lg_gpt_config;

#define LG_GPT_MAX_LAYERS 64

/* One pre-LN block: x += attn(ln_1(x)); x += mlp(ln_2(x)), with
 * mlp(x) = c_proj(gelu(c_fc(x))), c_fc (4C, C) and c_proj (C, 4C). */
typedef struct lg_gpt_block {
    lg_layer_norm_layer ln_1, ln_2;
    lg_attention attn;
    lg_linear_layer c_fc, mlp_proj;  /* "<h.i>.mlp.c_fc", "<h.i>.mlp.c_proj" */
} lg_gpt_block;

/* x + attn(ln_1(x)), then that plus dropout(mlp(ln_2(·))), for x (B, T, C): (B, T, C)
 * owned by g. The MLP's dropout draws from the attention's stream. Errors: NULL g or b
 * (LG_ERR_ARG), and the layers' and ops' (x not (B, T, C): LG_ERR_SHAPE). */
lg_tensor *lg_gpt_block_forward(lg_graph *g, lg_gpt_block *b, lg_tensor *x);

/* The model. Its parameters, in the store under `prefix` ("" for none):
 *   transformer.wte.weight (V, C), transformer.wpe.weight (T_max, C),
 *   transformer.h.<i>.{ln_1, attn.c_attn, attn.c_proj, ln_2, mlp.c_fc, mlp.c_proj}.{weight,
 *   bias}, transformer.ln_f.{weight, bias}.
 * The output head is wte itself (weight tying): logits = ln_f(x) wteᵀ. */
typedef struct lg_gpt {
    lg_gpt_config cfg;
    lg_tensor *wte, *wpe;
    lg_gpt_block h[LG_GPT_MAX_LAYERS];
    lg_layer_norm_layer ln_f;
    lg_rng drop_rng;     /* the embedding dropout's stream */
} lg_gpt;

/* Adds every parameter to p and initialises them as nanoGPT does: every Linear weight and
 * both embeddings N(0, 0.02²), except the two residual projections (attn.c_proj and
 * mlp.c_proj) N(0, (0.02/√(2 n_layer))²); biases 0; layer norms weight 1, bias 0. Draws
 * come from r in the order the parameters are added. *m is filled on success and zeroed
 * on error (parameters added before the error stay in the store).
 * Errors: NULL m, p, c or r (LG_ERR_ARG); a field of c outside its range above
 * (LG_ERR_ARG, naming it); a name in use or too long (LG_ERR_ARG); a bad dtype
 * (LG_ERR_DTYPE); out of memory. */
lg_status lg_gpt_init(lg_gpt *m, lg_params *p, const char *prefix, const lg_gpt_config *c,
                      lg_dtype dt, lg_rng *r);

/* Logits (B, T, V) for token ids (B, T) (i32 or i64, each in [0, V), T <= block_size),
 * owned by g. Errors (NULL, first error on g): NULL g or m (LG_ERR_ARG), ids not 2-D or
 * T > block_size (LG_ERR_SHAPE), a float ids tensor (LG_ERR_DTYPE), an id out of range
 * (LG_ERR_ARG, from lg_embedding), and the ops'. */
lg_tensor *lg_gpt_forward(lg_graph *g, lg_gpt *m, lg_tensor *ids);

/* The mean cross-entropy of the next-token targets (B, T) (i32 or i64) under the logits
 * of ids: a scalar owned by g. Errors: lg_gpt_forward's and lg_cross_entropy's, and
 * targets of another shape than ids (LG_ERR_SHAPE). */
lg_tensor *lg_gpt_loss(lg_graph *g, lg_gpt *m, lg_tensor *ids, lg_tensor *targets);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif
