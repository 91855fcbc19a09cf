/* lagrad nn: the parameter store and optimizers.
 * Parameters (weights, their gradients, optimizer state) live in a long-lived store that
 * the caller creates and frees; one contiguous block per dtype holds all values, another
 * all gradients, so zero-grad and optimizer steps are single loops. */
#ifndef LAGRAD_NN_H
#define LAGRAD_NN_H

#include "graph.h"

#ifdef __cplusplus
extern "C" {
#endif
/* The library is built with hidden visibility: what this header declares is its ABI. */
#pragma GCC visibility push(default)

typedef struct lg_params lg_params;

/* An empty store, or NULL when out of memory. */
lg_params *lg_params_new(void);
/* Frees the store and every tensor it made. NULL is a no-op. */
void lg_params_free(lg_params *p);

/* Adds a zero-filled parameter named `name` (copied, unique, non-empty) that requires
 * grad; an LG_I32 or LG_I64 one is a buffer instead (token tables, counters, masks): it is
 * saved and loaded with the others, but never requires grad, has no gradient
 * (lg_tensor_grad gives NULL), counts as frozen, and optimizers, zero_grad, clipping and
 * optimizer state leave it out. The returned tensor belongs to the store (lg_tensor_free
 * ignores it) and stays valid, at the same address, until lg_params_free; its gradient is
 * lg_tensor_grad(t), also in the store, zero until a backward. Adding may move the data
 * blocks: fetch data pointers with lg_tensor_data after the last add.
 * Errors (NULL; lg_last_errmsg says which): NULL/empty/duplicate name (LG_ERR_ARG), bad
 * dtype or shape, out of memory. */
lg_tensor *lg_params_add(lg_params *p, const char *name, lg_dtype dt, int ndim,
                         const int64_t *shape);

/* The parameter named `name`, or NULL. */
lg_tensor *lg_params_get(const lg_params *p, const char *name);
/* Iteration in the order of adding: i in [0, lg_params_count). NULL when out of range. */
int lg_params_count(const lg_params *p);
lg_tensor *lg_params_at(const lg_params *p, int i);
const char *lg_params_name(const lg_params *p, int i);
/* Number of scalar parameters; with trainable_only, frozen ones are left out. */
int64_t lg_params_numel(const lg_params *p, bool trainable_only);

/* Sets every gradient to zero (one memset per dtype block). */
void lg_params_zero_grad(lg_params *p);

/* Selectors: how lg_params_freeze, lg_checkpoint_save/_load (checkpoint.h) and the
 * Hessian's `select` (curvature.h) pick parameters by name. A name is a list of
 * components joined by '.' ("enc.0.q.lora_A"). A selector is such a list too, matched
 * against the name's leading components, so it picks a module and everything under it:
 *   "enc"         enc.w, enc.0.q.weight, enc itself; not encoder.w (whole components)
 *   "enc."        the same (one trailing '.' is ignored)
 *   "fc.lora_*"   fc.lora_A, fc.lora_B: '*' matches any characters within a component
 *   "*.lora_*"    the adapters of every top-level layer (fc1.lora_A, fc2.lora_B, ...)
 *   "**.lora_*"   every adapter at any depth: "**" matches zero or more whole components
 *   "**.bias"     every bias
 * A component is matched whole: "fc.lora_" picks nothing (write "fc.lora_*"). There is no
 * escape for a literal '*'. True when `selector` picks `name`; false when either is NULL.
 * The empty selector picks every name. */
bool lg_params_name_matches(const char *selector, const char *name);

/* Freezes (or unfreezes) every parameter that `selector` picks (see above; NULL or ""
 * is LG_ERR_ARG). Frozen parameters do not require grad and optimizers skip them.
 * *n_matched (may be NULL) gets the count. LG_ERR_ARG when nothing matches, so a typo is
 * not silent. lg_params_freeze(p, "**.lora_*", false, NULL) after freezing everything
 * ("*") leaves only the LoRA adapters trainable. */
lg_status lg_params_freeze(lg_params *p, const char *selector, bool frozen, int *n_matched);
bool lg_params_is_frozen(const lg_params *p, int i);

/* torch.nn.utils.clip_grad_norm_ with the 2-norm: total = √(Σ g²) over the gradients of
 * the trainable parameters (accumulated in double); when c = max_norm / (total + 1e-6)
 * is below 1, every one of those gradients is multiplied by c. *total_norm (may be NULL)
 * gets the norm before clipping. Errors: NULL p, max_norm not finite and > 0
 * (LG_ERR_ARG); a NaN or infinite total (LG_ERR_NUMERIC: *total_norm is set, gradients
 * are left alone). */
lg_status lg_params_clip_grad_norm(lg_params *p, double max_norm, double *total_norm);

/* Optimizers, with the update formulas of torch.optim (PyTorch 1.13):
 * SGD:   g = grad + wd p;  b = momentum b + (1 - dampening) g (b = g at the first step);
 *        g = nesterov ? g + momentum b : b;  p -= lr g
 * Adam:  g = grad + wd p;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g²;
 *        p -= lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
 * AdamW: p *= 1 - lr wd, then Adam with wd = 0. */
typedef enum lg_optim_kind { LG_OPTIM_SGD = 0, LG_OPTIM_ADAM = 1, LG_OPTIM_ADAMW = 2 } lg_optim_kind;

typedef struct lg_optim_config {
    lg_optim_kind kind;
    double lr;
    double momentum, dampening; /* SGD */
    bool nesterov;              /* SGD; needs momentum > 0 and dampening 0 */
    double weight_decay;
    double beta1, beta2, eps;   /* Adam, AdamW */
    bool zero_grad;             /* the step zeroes each gradient it reads, in the same pass,
                                   so no lg_params_zero_grad is needed before the next
                                   backward (gradients read 0 after the step) */
} lg_optim_config;

/* PyTorch's defaults for each kind: SGD lr 1e-3 (PyTorch has none), momentum 0; Adam lr
 * 1e-3, betas (0.9, 0.999), eps 1e-8, wd 0; AdamW the same with wd 1e-2; zero_grad off. */
lg_optim_config lg_optim_defaults(lg_optim_kind kind);

typedef struct lg_optim lg_optim;

/* An optimizer over every parameter of p, with its state (zeroed) allocated now. Add all
 * parameters first: a store that grew afterwards makes lg_optim_step fail with
 * LG_ERR_STATE. Errors: NULL (LG_ERR_ARG), bad hyper-parameters (LG_ERR_ARG, naming it),
 * out of memory. */
lg_optim *lg_optim_new(lg_params *p, const lg_optim_config *c);
void lg_optim_free(lg_optim *o);
/* The most steps an optimizer takes: 2^53, where a step count stops being exact as the
 * double that Adam's bias correction b^t uses. lg_optim_load refuses a larger "step". */
#define LG_OPTIM_MAX_STEPS ((int64_t)1 << 53)

/* One update of every trainable parameter from its gradient (with zero_grad, the gradient
 * is zeroed too). Frozen parameters and their gradients are left alone. All threads share
 * the work, split by element, so the result does not depend on the thread count. A weight
 * decay of 0 adds no term (an infinite parameter stays infinite, as in torch.optim).
 * Allocates nothing. Errors: NULL (LG_ERR_ARG); a store that grew since lg_optim_new, or
 * LG_OPTIM_MAX_STEPS steps taken (LG_ERR_STATE). */
lg_status lg_optim_step(lg_optim *o);
/* For schedules: the learning rate of the next step. */
lg_status lg_optim_set_lr(lg_optim *o, double lr);
double lg_optim_lr(const lg_optim *o);
/* Steps taken so far. */
int64_t lg_optim_steps(const lg_optim *o);

/* Optimizer state to and from a safetensors file (see checkpoint.h), so training resumes
 * exactly where it stopped. The file holds, for every parameter of the store in order,
 * "<name>.exp_avg" and "<name>.exp_avg_sq" (Adam, AdamW; torch.optim's names) or
 * "<name>.momentum_buffer" (SGD with momentum), and the metadata "lagrad.optimizer"
 * ("sgd", "adam" or "adamw"), "step" and "lagrad.state_crc32" (the CRC-32 of the kind, a
 * NUL and the step, as 8 hex digits: the data checksum does not cover the header), plus
 * the caller's n_meta key/value pairs (as in lg_checkpoint_save; may be NULL when n_meta is
 * 0; those three keys are reserved). The write is atomic (temporary file, then rename). The hyper-parameters are
 * not saved: the caller makes the optimizer with its config, then loads. Loading reads the
 * whole file through one open handle into a copy before it changes anything.
 * Errors: NULL argument or a reserved metadata key (LG_ERR_ARG); a store that grew since
 * lg_optim_new (LG_ERR_STATE); a file with other tensors than the state's (LG_ERR_FORMAT);
 * a file for another optimizer kind, or without a valid "step" (LG_ERR_FORMAT: the step
 * must be written as decimal digits, "0" or without leading zeros, no sign or space, at
 * most LG_OPTIM_MAX_STEPS); a moment that is NaN, or a negative or NaN exp_avg_sq
 * (LG_ERR_FORMAT, naming the tensor and the element); a "lagrad.state_crc32" that the kind
 * and step do not give (LG_ERR_FORMAT; a file without the key loads unchecked); a missing
 * tensor or a shape/dtype that differs from the store's (the message names the tensor);
 * everything lg_checkpoint_save/lg_checkpoint_load report. */
lg_status lg_optim_save(const lg_optim *o, const char *path, const char *const *meta,
                        int n_meta);
lg_status lg_optim_load(lg_optim *o, const char *path);

/* ---- learning-rate schedules ---- */

/* Step decay, torch.optim.lr_scheduler.StepLR: the learning rate for step t (t = 0 is the
 * first optimizer step) is base_lr · gamma^⌊t / step_size⌋. Errors (LG_ERR_ARG, *lr left
 * alone): NULL lr, base_lr < 0 or not finite, gamma <= 0 or not finite, step_size < 1,
 * t < 0. */
lg_status lg_lr_step(double base_lr, int64_t step_size, double gamma, int64_t t, double *lr);

/* Cosine decay with linear warm-up, equal to torch's SequentialLR of
 * LinearLR(start_factor = warmup_start, total_iters = W) and
 * CosineAnnealingLR(T_max = T − W, eta_min = min_lr) with milestones [W]:
 *   t <  W:      base_lr · (s + (1 − s)·t / W)                       s = warmup_start
 *   W <= t <= T: min_lr + (base_lr − min_lr)·(1 + cos(π (t − W) / (T − W))) / 2
 *   t >  T:      min_lr
 * W = warmup_steps, T = total_steps. */
typedef struct lg_lr_cosine_config {
    double base_lr;        /* peak rate, reached at t = W */
    double min_lr;         /* floor, 0 <= min_lr <= base_lr */
    int64_t warmup_steps;  /* W >= 0 (0: no warm-up) */
    double warmup_start;   /* s in (0, 1]: the first step's fraction of base_lr */
    int64_t total_steps;   /* T > W */
} lg_lr_cosine_config;

/* Cosine from base_lr to 0 over total_steps, no warm-up: the schedule has no sensible
 * defaults for its two scales, so they are the arguments. */
lg_lr_cosine_config lg_lr_cosine_defaults(double base_lr, int64_t total_steps);

/* The rate for step t >= 0. Errors (LG_ERR_ARG naming the field, *lr left alone): NULL c
 * or lr, a field outside its range above, t < 0. */
lg_status lg_lr_cosine(const lg_lr_cosine_config *c, int64_t t, double *lr);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
