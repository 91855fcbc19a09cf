/* Optimizers over a parameter store: SGD (momentum, Nesterov, weight decay), Adam and
 * AdamW, with torch.optim's update formulas. State mirrors the store's blocks, so a step
 * is one loop per parameter and allocates nothing. */
#include <tgmath.h>
#include <string.h>
#include "optim_impl.h"

lg_optim_config lg_optim_defaults(lg_optim_kind kind)
{
    lg_optim_config c = {.kind = kind, .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    if (kind == LG_OPTIM_ADAMW)
        c.weight_decay = 1e-2;
    return c;
}

static lg_status check_config(const lg_optim_config *c)
{
    const char *bad = NULL;
    if (c->kind != LG_OPTIM_SGD && c->kind != LG_OPTIM_ADAM && c->kind != LG_OPTIM_ADAMW)
        bad = "kind";
    else if (!(c->lr >= 0) || !isfinite(c->lr))
        bad = "lr (need >= 0)";
    else if (!(c->weight_decay >= 0))
        bad = "weight_decay (need >= 0)";
    else if (c->kind == LG_OPTIM_SGD && !(c->momentum >= 0))
        bad = "momentum (need >= 0)";
    else if (c->kind == LG_OPTIM_SGD && c->nesterov && (c->momentum <= 0 || c->dampening != 0))
        bad = "nesterov (needs momentum > 0 and dampening 0)";
    else if (c->kind != LG_OPTIM_SGD && !(c->beta1 >= 0 && c->beta1 < 1))
        bad = "beta1 (need [0, 1))";
    else if (c->kind != LG_OPTIM_SGD && !(c->beta2 >= 0 && c->beta2 < 1))
        bad = "beta2 (need [0, 1))";
    else if (c->kind != LG_OPTIM_SGD && !(c->eps >= 0))
        bad = "eps (need >= 0)";
    if (bad)
        return lg_set_error(LG_ERR_ARG, "lg_optim_new: bad %s", bad);
    return LG_OK;
}

void lg_optim_free(lg_optim *o)
{
    if (!o)
        return;
    for (int d = 0; d < 2; d++) {
        size_t bytes = (size_t)o->numel[d] * lg_dtype_size((lg_dtype)d);
        lg_free(o->m[d], bytes);
        lg_free(o->v[d], bytes);
    }
    lg_free(o, sizeof *o);
}

lg_optim *lg_optim_new(lg_params *p, const lg_optim_config *c)
{
    if (!p || !c) {
        lg_set_error(LG_ERR_ARG, "lg_optim_new: %s is NULL", p ? "config" : "params");
        return NULL;
    }
    if (check_config(c) != LG_OK)
        return NULL;
    lg_optim *o = lg_malloc(sizeof *o);
    if (!o) {
        lg_set_error(LG_ERR_OOM, "lg_optim_new: out of memory");
        return NULL;
    }
    memset(o, 0, sizeof *o);
    o->p = p;
    o->c = *c;
    bool need_v = c->kind != LG_OPTIM_SGD, need_m = need_v || c->momentum > 0;
    for (int d = 0; d < 2; d++) {
        o->numel[d] = p->block[d].numel;
        size_t bytes = (size_t)o->numel[d] * lg_dtype_size((lg_dtype)d);
        if (!bytes)
            continue;
        if (need_m && !(o->m[d] = lg_malloc(bytes)))
            break;
        if (need_v && !(o->v[d] = lg_malloc(bytes)))
            break;
        if (o->m[d])
            memset(o->m[d], 0, bytes);
        if (o->v[d])
            memset(o->v[d], 0, bytes);
    }
    for (int d = 0; d < 2; d++) {
        bool short_m = need_m && o->numel[d] && !o->m[d];
        bool short_v = need_v && o->numel[d] && !o->v[d];
        if (short_m || short_v) {
            lg_optim_free(o);
            lg_set_error(LG_ERR_OOM, "lg_optim_new: out of memory for optimizer state");
            return NULL;
        }
    }
    return o;
}

/* The constants of step t (the formulas are on lg_optim_hyper in backend_impl.h). */
static lg_optim_hyper hyper_of(const lg_optim_config *c, int64_t t)
{
    lg_optim_hyper h = {.adam = c->kind != LG_OPTIM_SGD, .first = t == 1,
                        .nesterov = c->nesterov, .zero_grad = c->zero_grad, .lr = c->lr};
    if (!h.adam) {
        h.wd = c->weight_decay;
        h.mu = c->momentum;
        h.damp = 1 - c->dampening;
        return h;
    }
    double bc1 = 1 - pow(c->beta1, (double)t), bc2 = 1 - pow(c->beta2, (double)t);
    h.b1 = c->beta1;
    h.b2 = c->beta2;
    h.eps = c->eps;
    h.step = c->lr / bc1;
    h.inv_sqrt_bc2 = 1 / sqrt(bc2);
    h.wd = c->kind == LG_OPTIM_ADAM ? c->weight_decay : 0;
    h.shrink = c->kind == LG_OPTIM_ADAMW ? 1 - c->lr * c->weight_decay : 1;
    return h;
}

/* The trainable parameters of dtype d, SEGS at a time (on the stack: a step allocates
 * nothing), each with its gradient and its slice of the state. */
enum { SEGS = 64 };
static void update_block(const lg_optim *o, const lg_optim_hyper *h, lg_dtype d)
{
    const lg_params *p = o->p;
    const lg_backend *be = lg_backend_default();
    size_t es = lg_dtype_size(d);
    lg_optim_seg seg[SEGS];
    int n = 0;
    for (int i = 0; i < p->n; i++) {
        const lg_param_entry *e = &p->entries[i];
        if (e->t->dtype != d || !(e->t->flags & LG_TF_REQUIRES_GRAD))
            continue;
        size_t off = (size_t)e->offset * es;
        seg[n++] = (lg_optim_seg){e->t->numel, e->t->data, e->g->data,
                                  o->m[d] ? (char *)o->m[d] + off : NULL,
                                  o->v[d] ? (char *)o->v[d] + off : NULL};
        if (n == SEGS) {
            be->optim_update(h, d, n, seg);
            n = 0;
        }
    }
    if (n)
        be->optim_update(h, d, n, seg);
}

lg_status lg_optim_step(lg_optim *o)
{
    if (!o)
        return lg_set_error(LG_ERR_ARG, "lg_optim_step: optimizer is NULL");
    lg_params *p = o->p;
    for (int d = 0; d < 2; d++)
        if (p->block[d].numel != o->numel[d])
            return lg_set_error(LG_ERR_STATE, "lg_optim_step: the store grew from %lld to %lld "
                                "%s elements after the optimizer was made",
                                (long long)o->numel[d], (long long)p->block[d].numel,
                                lg_dtype_name((lg_dtype)d));
    if (o->steps >= LG_OPTIM_MAX_STEPS)
        return lg_set_error(LG_ERR_STATE, "lg_optim_step: the step count %lld has reached "
                            "LG_OPTIM_MAX_STEPS (2^53)", (long long)o->steps);
    o->steps++;
    lg_optim_hyper h = hyper_of(&o->c, o->steps);
    for (int d = 0; d < 2; d++)
        update_block(o, &h, (lg_dtype)d);
    return LG_OK;
}

lg_status lg_optim_set_lr(lg_optim *o, double lr)
{
    if (!o || !(lr >= 0) || !isfinite(lr))
        return lg_set_error(LG_ERR_ARG, "lg_optim_set_lr: need an optimizer and a finite lr "
                            ">= 0, got %g", lr);
    o->c.lr = lr;
    return LG_OK;
}

double lg_optim_lr(const lg_optim *o) { return o ? o->c.lr : 0.0; }
int64_t lg_optim_steps(const lg_optim *o) { return o ? o->steps : 0; }
