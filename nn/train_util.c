/* Training helpers over a parameter store: L1/L2 penalties as graph scalars, gradient
 * clipping by global norm, and learning-rate schedules as pure functions of the step.
 * The optimizers themselves are in optim.c. */
#include <math.h>
#include "layers_impl.h"

/* λ·Σ_w term(w) over the trainable parameters: one sum per parameter, added up. */
static lg_tensor *penalty(lg_graph *g, const lg_params *p, double lambda, bool l1,
                          const char *fn)
{
    if (!lg_nn_check(g, p, fn))
        return NULL;
    if (!(lambda >= 0) || !isfinite(lambda))
        return lg_fail(g, LG_ERR_ARG, "%s: lambda must be finite and >= 0, got %g", fn, lambda);
    lg_tensor *total = NULL;
    for (int i = 0; i < lg_params_count(p); i++) {
        if (lg_params_is_frozen(p, i))
            continue;
        lg_tensor *w = lg_params_at(p, i);
        if (total && w->dtype != total->dtype)
            return lg_fail(g, LG_ERR_DTYPE, "%s: trainable parameters of both dtypes ('%s' is "
                           "%s): penalise each dtype's store separately", fn,
                           lg_params_name(p, i), lg_dtype_name(w->dtype));
        lg_tensor *term = lg_sum(g, l1 ? lg_abs(g, w) : lg_mul(g, w, w));
        total = total ? lg_add(g, total, term) : term;
        if (!total)
            return NULL;
    }
    if (!total)
        return lg_fail(g, LG_ERR_ARG, "%s: the store has no trainable parameter", fn);
    return lg_scale(g, total, l1 ? lambda : 0.5 * lambda);
}

lg_tensor *lg_l1_penalty(lg_graph *g, const lg_params *p, double lambda)
{
    return penalty(g, p, lambda, true, "lg_l1_penalty");
}

lg_tensor *lg_l2_penalty(lg_graph *g, const lg_params *p, double lambda)
{
    return penalty(g, p, lambda, false, "lg_l2_penalty");
}

/* Σ g² through the host backend (parameters and their gradients are caller-owned host
 * tensors). */
static double sum_squares(const lg_tensor *t)
{
    return lg_backend_default()->dot(t->dtype, t->numel, t->data, t->data);
}

static void scale_in_place(lg_tensor *t, double c)
{
    lg_backend_default()->unary(LG_UN_SCALE, t->dtype, t->numel, t->data, t->data, c);
}

lg_status lg_params_clip_grad_norm(lg_params *p, double max_norm, double *total_norm)
{
    const char *fn = "lg_params_clip_grad_norm";
    if (!p)
        return lg_set_error(LG_ERR_ARG, "%s: store is NULL", fn);
    if (!(max_norm > 0) || !isfinite(max_norm))
        return lg_set_error(LG_ERR_ARG, "%s: max_norm must be finite and > 0, got %g", fn,
                            max_norm);
    double ss = 0;
    for (int i = 0; i < lg_params_count(p); i++)
        if (!lg_params_is_frozen(p, i))
            ss += sum_squares(lg_tensor_grad(lg_params_at(p, i)));
    double total = sqrt(ss);
    if (total_norm)
        *total_norm = total;
    if (!isfinite(total))
        return lg_set_error(LG_ERR_NUMERIC, "%s: the gradient norm is %g; gradients left alone",
                            fn, total);
    /* torch adds 1e-6 to the norm so that a zero norm cannot divide. */
    double coef = max_norm / (total + 1e-6);
    if (coef < 1)
        for (int i = 0; i < lg_params_count(p); i++)
            if (!lg_params_is_frozen(p, i))
                scale_in_place(lg_tensor_grad(lg_params_at(p, i)), coef);
    return LG_OK;
}

lg_status lg_lr_step(double base_lr, int64_t step_size, double gamma, int64_t t, double *lr)
{
    const char *bad = NULL;
    if (!lr)
        bad = "lr (NULL)";
    else if (!(base_lr >= 0) || !isfinite(base_lr))
        bad = "base_lr (need finite >= 0)";
    else if (step_size < 1)
        bad = "step_size (need >= 1)";
    else if (!(gamma > 0) || !isfinite(gamma))
        bad = "gamma (need finite > 0)";
    else if (t < 0)
        bad = "step t (need >= 0)";
    if (bad)
        return lg_set_error(LG_ERR_ARG, "lg_lr_step: bad %s", bad);
    *lr = base_lr * pow(gamma, (double)(t / step_size));
    return LG_OK;
}

lg_lr_cosine_config lg_lr_cosine_defaults(double base_lr, int64_t total_steps)
{
    return (lg_lr_cosine_config){.base_lr = base_lr, .min_lr = 0, .warmup_steps = 0,
                                 .warmup_start = 1, .total_steps = total_steps};
}

lg_status lg_lr_cosine(const lg_lr_cosine_config *c, int64_t t, double *lr)
{
    const char *bad = NULL;
    if (!c || !lr)
        bad = "config or lr (NULL)";
    else if (!(c->base_lr >= 0) || !isfinite(c->base_lr))
        bad = "base_lr (need finite >= 0)";
    else if (!(c->min_lr >= 0 && c->min_lr <= c->base_lr))
        bad = "min_lr (need 0 <= min_lr <= base_lr)";
    else if (c->warmup_steps < 0)
        bad = "warmup_steps (need >= 0)";
    else if (c->warmup_steps > 0 && !(c->warmup_start > 0 && c->warmup_start <= 1))
        bad = "warmup_start (need (0, 1])";
    else if (c->total_steps <= c->warmup_steps)
        bad = "total_steps (need > warmup_steps)";
    else if (t < 0)
        bad = "step t (need >= 0)";
    if (bad)
        return lg_set_error(LG_ERR_ARG, "lg_lr_cosine: bad %s", bad);
    int64_t w = c->warmup_steps, T = c->total_steps;
    if (t < w) {
        double s = c->warmup_start;
        *lr = c->base_lr * (s + (1 - s) * (double)t / (double)w);
    } else if (t <= T) {
        double progress = (double)(t - w) / (double)(T - w);
        *lr = c->min_lr + (c->base_lr - c->min_lr) * 0.5 * (1 + cos(3.14159265358979323846 * progress));
    } else {
        *lr = c->min_lr;
    }
    return LG_OK;
}
