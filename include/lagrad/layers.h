/* lagrad layers: initialisers, Linear, dropout and layer-norm layers, LoRA adapters,
 * L1/L2 penalties, gradient clipping and learning-rate schedules.
 * A layer is a small struct the caller keeps (on the stack or inside a model struct); its
 * parameters live in an lg_params store under "<name>.<part>" names, so the store owns all
 * memory and a layer needs no free. Forward passes are graph ops: they return a tensor
 * owned by g, or NULL with the error on the graph (and lg_last_errmsg when g is NULL). */
#ifndef LAGRAD_LAYERS_H
#define LAGRAD_LAYERS_H

#include "ops.h"
#include "nn.h"
#include "conv.h"

#ifdef __cplusplus
extern "C" {
#endif
/* The library is built with hidden visibility: what this header declares is its ABI. */
#pragma GCC visibility push(default)

/* ---- initialisers (torch.nn.init, mode fan_in) ----
 * They overwrite t's values (any tensor with data: caller-owned or in a store) with draws
 * from r, whose counter advances. Fans follow PyTorch: for t of shape (out, in, k...),
 * fan_in = in·Πk and fan_out = out·Πk, so a Linear weight (out, in) has fan_in = in.
 * Errors (lg_last_errmsg says which): NULL t or r (LG_ERR_ARG), t of rank < 2 where fans
 * are needed (LG_ERR_SHAPE), a bad gain or slope (LG_ERR_ARG). A tensor with no elements
 * is left alone (LG_OK). */

/* The fans of t as above. LG_ERR_SHAPE for rank < 2. */
lg_status lg_init_fans(const lg_tensor *t, int64_t *fan_in, int64_t *fan_out);
/* Kaiming/He (He et al. 2015) for a leaky-ReLU of negative slope a (a = 0: ReLU):
 * gain = √(2 / (1 + a²)); normal: N(0, gain²/fan_in); uniform: U(-b, b) with
 * b = gain·√(3 / fan_in). a = √5 in the uniform form gives PyTorch's nn.Linear weight
 * init U(-1/√fan_in, 1/√fan_in). */
lg_status lg_init_kaiming_normal(lg_tensor *t, double a, lg_rng *r);
lg_status lg_init_kaiming_uniform(lg_tensor *t, double a, lg_rng *r);
/* Xavier/Glorot (Glorot & Bengio 2010): normal N(0, gain²·2/(fan_in+fan_out)); uniform
 * U(-b, b) with b = gain·√(6/(fan_in+fan_out)). gain > 0 (1 for linear/sigmoid). */
lg_status lg_init_xavier_normal(lg_tensor *t, double gain, lg_rng *r);
lg_status lg_init_xavier_uniform(lg_tensor *t, double gain, lg_rng *r);
/* U(lo, hi) with lo <= hi, any rank. */
lg_status lg_init_uniform(lg_tensor *t, double lo, double hi, lg_rng *r);
/* Sets every element to 0, any rank. LG_ERR_ARG for NULL. */
lg_status lg_init_zeros(lg_tensor *t);

/* ---- Linear ---- */

/* y = x Wᵀ + b. The weight has PyTorch's layout (out_features, in_features), so a
 * state_dict's "fc.weight" loads as is; the bias is (out_features) or absent. */
typedef struct lg_linear_layer {
    lg_tensor *weight;       /* "<name>.weight" (out, in), in the store */
    lg_tensor *bias;         /* "<name>.bias" (out), or NULL */
    int64_t in_features, out_features;
} lg_linear_layer;

/* Adds "<name>.weight" and (with bias) "<name>.bias" of dtype dt to p and initialises
 * them as PyTorch's nn.Linear does: weight kaiming_uniform(a = √5), that is
 * U(-1/√in, 1/√in), and bias U(-1/√in, 1/√in), drawn from r in that order. *l is filled
 * on success and zeroed on error (a weight added before the error stays in the store).
 * Errors: NULL l, p, name or r, in or out < 1, a name in use or longer than 240 bytes
 * (LG_ERR_ARG); a bad dtype (LG_ERR_DTYPE); out of memory. */
lg_status lg_linear_layer_init(lg_linear_layer *l, lg_params *p, const char *name,
                               int64_t in_features, int64_t out_features, bool bias,
                               lg_dtype dt, lg_rng *r);
/* y = x Wᵀ + b through the fused lg_linear. x is (N, in) -> (N, out), or (..., in) ->
 * (..., out) for rank 3 and up (flattened to rows and back). Errors: NULL l or a layer
 * without a weight (LG_ERR_ARG), x's last axis not in_features (LG_ERR_SHAPE), mixed
 * dtypes, and whatever the ops report. */
lg_tensor *lg_linear_layer_forward(lg_graph *g, const lg_linear_layer *l, lg_tensor *x);

/* ---- dropout ---- */

/* Inverted dropout with its own RNG stream, so each forward draws a fresh mask. */
typedef struct lg_dropout_layer {
    double p;   /* drop probability in [0, 1) */
    lg_rng rng;
} lg_dropout_layer;

/* LG_ERR_ARG for NULL d or p outside [0, 1). */
lg_status lg_dropout_layer_init(lg_dropout_layer *d, double p, uint64_t seed);
/* lg_dropout(g, x, d->p, &d->rng): identity when g is not training (lg_graph_set_training)
 * or p is 0. Errors: NULL d (LG_ERR_ARG) and lg_dropout's. */
lg_tensor *lg_dropout_layer_forward(lg_graph *g, lg_dropout_layer *d, lg_tensor *x);

/* ---- layer norm ---- */

/* Normalises over the last axis (size dim); gamma and beta are named "<name>.weight" and
 * "<name>.bias" as in PyTorch's nn.LayerNorm state_dict. */
typedef struct lg_layer_norm_layer {
    lg_tensor *gamma;   /* "<name>.weight" (dim), starts at 1 */
    lg_tensor *beta;    /* "<name>.bias" (dim), starts at 0 */
    int64_t dim;
    double eps;
} lg_layer_norm_layer;

/* Adds gamma = 1 and beta = 0 of dtype dt to p. eps > 0 (PyTorch's default is 1e-5).
 * Errors: NULL arguments, dim < 1, eps <= 0 or not finite, a name in use (LG_ERR_ARG); a
 * bad dtype (LG_ERR_DTYPE); out of memory. *l is zeroed on error. */
lg_status lg_layer_norm_layer_init(lg_layer_norm_layer *l, lg_params *p, const char *name,
                                   int64_t dim, double eps, lg_dtype dt);
/* lg_layer_norm(g, x, gamma, beta, eps) for x (..., dim). Errors: NULL l (LG_ERR_ARG),
 * x's last axis not dim (LG_ERR_SHAPE), and lg_layer_norm's. */
lg_tensor *lg_layer_norm_layer_forward(lg_graph *g, const lg_layer_norm_layer *l,
                                       lg_tensor *x);

/* ---- LoRA (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models") ---- */

typedef enum lg_lora_init_kind {
    LG_LORA_INIT_DEFAULT = 0, /* A kaiming_uniform(a = √5) as PEFT and loralib, B = 0 */
    LG_LORA_INIT_PISSA = 1    /* PiSSA (Meng et al. 2024): A, B from the top-r SVD of W */
} lg_lora_init_kind;

typedef struct lg_lora_config {
    int64_t rank;        /* r >= 1 */
    double alpha;        /* > 0; scale = alpha / r, or alpha / √r with rslora */
    bool rslora;         /* rank-stabilised scaling (Kalajdzievski 2023) */
    double dropout;      /* dropout on the LoRA path's input, in [0, 1) */
    lg_lora_init_kind init;
} lg_lora_config;

/* PEFT's LoraConfig defaults: rank 8, alpha 8 (scale 1), no rsLoRA, no dropout, the
 * default init. lg_lora_init takes NULL options as these. */
lg_lora_config lg_lora_defaults(void);

/* A frozen base linear layer W (out, in), b (out) or none, plus trainable A (r, in) and
 * B (out, r). Unmerged, y = x Wᵀ + b + scale·((dropout(x) Aᵀ) Bᵀ), never forming B A.
 * Merged, W holds W + scale·B A and y = x Wᵀ + b. */
typedef struct lg_lora {
    lg_tensor *weight;   /* "<name>.weight" (out, in), frozen */
    lg_tensor *bias;     /* "<name>.bias" (out), frozen, or NULL */
    lg_tensor *lora_a;   /* "<name>.lora_A" (r, in) */
    lg_tensor *lora_b;   /* "<name>.lora_B" (out, r) */
    int64_t in_features, out_features, rank;
    double scale;
    double dropout;
    lg_rng rng;          /* the LoRA dropout's stream */
    bool merged;
} lg_lora;

/* Wraps the linear layer already in p as "<name>.weight" (out, in) and, if present,
 * "<name>.bias" (for instance one made by lg_linear_layer_init and loaded from a
 * checkpoint): freezes them and adds "<name>.lora_A" and "<name>.lora_B" of W's dtype,
 * the only trainable parameters the adapter adds (r·(in + out) of them).
 * Default init: A kaiming_uniform(a = √5) drawn from r, B = 0, so the output starts equal
 * to the base layer's. PiSSA init: with the top-r singular triplets W ≈ U S Vᵀ,
 * A = √(S/scale)·Vᵀ and B = U·√(S/scale), and W := W − scale·B A, so scale·B A is the
 * principal part of W and the output is unchanged (the division by scale is PEFT's, which
 * keeps this true for any alpha). The dropout stream's seed is drawn from r.
 * Errors: NULL arguments, rank < 1, alpha <= 0, dropout outside [0, 1), a bad init kind
 * (LG_ERR_ARG); no "<name>.weight" in p (LG_ERR_ARG); a weight that is not 2-D or a bias
 * that is not (out) (LG_ERR_SHAPE); with PiSSA, rank > min(in, out) (LG_ERR_ARG) and the
 * SVD's errors (a non-finite W: LG_ERR_NUMERIC); "<name>.lora_A" already in p, and out of
 * memory (from lg_params_add). On error *l is zeroed, but parameters already added stay
 * in the store (the store cannot remove) and the base may be frozen. */
lg_status lg_lora_init(lg_lora *l, lg_params *p, const char *name, const lg_lora_config *c,
                       lg_rng *r);

/* The forward above for x (N, in) -> (N, out), or (..., in) -> (..., out). The dropout
 * applies only when g is training. Errors: NULL l (LG_ERR_ARG), x's last axis not
 * in_features (LG_ERR_SHAPE), and the ops' errors. */
lg_tensor *lg_lora_forward(lg_graph *g, lg_lora *l, lg_tensor *x);

/* W += scale·B A (merge) and W -= scale·B A (unmerge), computed in W's dtype, so
 * unmerge restores W to rounding. A merged layer's forward is the plain linear one (A and
 * B get no gradient): unmerge before training on. Errors: NULL l (LG_ERR_ARG), merging a
 * merged layer or unmerging an unmerged one (LG_ERR_STATE), out of memory. */
lg_status lg_lora_merge(lg_lora *l);
lg_status lg_lora_unmerge(lg_lora *l);

/* ---- penalties ---- */

/* λ Σ|w| and (λ/2) Σ w² over every trainable (not frozen) parameter of p, as a scalar of
 * g that adds to a loss; backward puts λ sign(w) and λ w into the store's gradients.
 * Errors (NULL, graph error set): NULL g or p, λ negative or not finite, or no trainable
 * parameter (LG_ERR_ARG); trainable parameters of both dtypes (LG_ERR_DTYPE). */
lg_tensor *lg_l1_penalty(lg_graph *g, const lg_params *p, double lambda);
lg_tensor *lg_l2_penalty(lg_graph *g, const lg_params *p, double lambda);

/* ---- Conv2d and batch norm (the CNN layers over the ops of conv.h) ---- */

/* y = conv2d(x, W, b) as PyTorch's nn.Conv2d: W "<name>.weight" (out, in/groups, kH, kW),
 * b "<name>.bias" (out) or absent, so a state_dict loads as is. */
typedef struct lg_conv2d_layer {
    lg_tensor *weight;       /* "<name>.weight" (out, in/groups, kH, kW), in the store */
    lg_tensor *bias;         /* "<name>.bias" (out), or NULL */
    int64_t in_channels, out_channels;
    int kernel[2];           /* (kH, kW) */
    lg_conv2d_opts opts;     /* stride, padding, dilation, groups */
} lg_conv2d_layer;

/* Adds the weight and (with bias) the bias of dtype dt to p, initialised as
 * nn.Conv2d.reset_parameters does: weight kaiming_uniform(a = √5), that is
 * U(-1/√fan_in, 1/√fan_in) with fan_in = in/groups·kH·kW, then the bias from the same
 * range, drawn from r in that order. o NULL means lg_conv2d_defaults(). *l is filled on
 * success and zeroed on error (a weight added before the error stays in the store).
 * Errors: NULL l, p, name or r, channels or kernel < 1, a bad stride/padding/dilation,
 * groups not dividing both channel counts, a name in use or too long (LG_ERR_ARG); a bad
 * dtype (LG_ERR_DTYPE); out of memory. */
lg_status lg_conv2d_layer_init(lg_conv2d_layer *l, lg_params *p, const char *name,
                               int64_t in_channels, int64_t out_channels, int kernel_h,
                               int kernel_w, const lg_conv2d_opts *o, bool bias, lg_dtype dt,
                               lg_rng *r);
/* lg_conv2d(g, x, weight, bias, &opts) for x (N, in, H, W). Errors: NULL l or a layer
 * without a weight (LG_ERR_ARG), x not 4-D with in channels (LG_ERR_SHAPE), and
 * lg_conv2d's. */
lg_tensor *lg_conv2d_layer_forward(lg_graph *g, const lg_conv2d_layer *l, lg_tensor *x);

/* Batch norm over (N, C) or (N, C, H, W), as PyTorch's nn.BatchNorm1d/2d with
 * track_running_stats. Everything lives in the store under PyTorch's state_dict names, so
 * lg_checkpoint_save/load carry the running statistics:
 *   "<name>.weight" (C) = 1 and "<name>.bias" (C) = 0, trainable (gamma and beta);
 *   "<name>.running_mean" (C) = 0, "<name>.running_var" (C) = 1 and
 *   "<name>.num_batches_tracked", a 0-dim tensor = 0: buffers, frozen in the store, so
 *   optimizers, penalties and clipping leave them alone (do not unfreeze them: a frozen
 *   buffer is what lg_batch_norm accepts).
 * num_batches_tracked has the layer's dtype (f32 or f64), not PyTorch's int64, because
 * lagrad checkpoints hold F32 and F64 only: a PyTorch file with an I64 counter loads after
 * converting it (f32 counts exactly up to 2^24 batches). */
typedef struct lg_batch_norm_layer {
    lg_tensor *weight, *bias;                 /* gamma, beta */
    lg_tensor *running_mean, *running_var;    /* buffers, updated in training */
    lg_tensor *num_batches_tracked;           /* buffer, 0-dim, +1 per training forward */
    int64_t num_features;
    double momentum;                          /* PyTorch's default 0.1 */
    double eps;                               /* PyTorch's default 1e-5 */
} lg_batch_norm_layer;

/* Adds the five tensors above to p (in that order) and freezes the three buffers.
 * Errors: NULL l, p or name, num_features < 1, momentum outside [0, 1], eps < 0 or not
 * finite, a name in use or too long (LG_ERR_ARG); a bad dtype (LG_ERR_DTYPE); out of
 * memory. *l is zeroed on error. */
lg_status lg_batch_norm_layer_init(lg_batch_norm_layer *l, lg_params *p, const char *name,
                                   int64_t num_features, double momentum, double eps,
                                   lg_dtype dt);
/* lg_batch_norm with the layer's tensors: in training (lg_graph_set_training) batch
 * statistics, the running ones updated and num_batches_tracked incremented (also in
 * no-grad mode, as PyTorch does); in eval the running statistics. Errors: NULL l or an
 * uninitialised layer (LG_ERR_ARG), x's channel axis not num_features (LG_ERR_SHAPE), and
 * lg_batch_norm's. */
lg_tensor *lg_batch_norm_layer_forward(lg_graph *g, const lg_batch_norm_layer *l,
                                       lg_tensor *x);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
