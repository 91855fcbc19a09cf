/* Optimizers over a parameter store: SGD (momentum, Nesterov, weight decay), Adam and
 * AdamW, with torch.optim's update formulas. State mirrors the store's blocks, so a step
 * is one loop per parameter and allocates nothing. */
#include <float.h>
#include <omp.h>
#include <tgmath.h>
#include <string.h>
#include "optim_impl.h"

/* A dtype block of the store with at least this many elements is updated by all OpenMP
 * threads, each on its own slices: every element is independent, so the result is the
 * same for any thread count. Below it a parallel region costs more than the update. */
enum { PARALLEL_MIN = 65536 };

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

/* One parameter of n elements of type T: x values, g grads (zeroed once read when
 * c->zero_grad), m and v its state. A weight decay of 0 adds no term, as in torch.optim
 * (0 * inf would turn an infinite parameter into NaN; issue 14). The
 * arithmetic runs in T, as torch.optim's does, on restrict pointers with the constants
 * hoisted, so the loops vectorise. Moments below T's smallest normal (TMIN) are flushed to
 * zero: a parameter whose gradient stays 0 (a dead input pixel) decays its moments into
 * denormals, which made the whole step 7x slower; the update they would give is < 1e-30. */
/* Built for AVX-512, AVX2 and the baseline, picked at load time: sqrt and divide
 * dominate Adam, and the baseline's SSE2 does 4 of them at a time (the MLP step at batch 1
 * spent half its time here). Each clone computes the same bits: every operation is
 * correctly rounded and ISO C mode does not contract a*b+c into an FMA. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define OPTIM_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define OPTIM_CLONES
#endif

#define OPTIM_KERNELS(T, SUF, TMIN)                                                    \
    OPTIM_CLONES static void sgd_##SUF(const lg_optim_config *c, int first, int64_t n,  \
                          T *restrict x, T *restrict g, T *restrict m)                  \
    {                                                                                   \
        const T lr = (T)c->lr, wd = (T)c->weight_decay, mu = (T)c->momentum;            \
        const T damp = (T)(1 - c->dampening);                                           \
        const bool zero = c->zero_grad, decay = wd != 0;                                \
        if (mu == 0) {                                                                  \
            for (int64_t i = 0; i < n; i++) {                                           \
                x[i] -= lr * (decay ? g[i] + wd * x[i] : g[i]);                         \
                if (zero)                                                               \
                    g[i] = 0;                                                           \
            }                                                                           \
            return;                                                                     \
        }                                                                               \
        const T nest = c->nesterov ? mu : 0;                                            \
        for (int64_t i = 0; i < n; i++) {                                               \
            T d = decay ? g[i] + wd * x[i] : g[i];                                      \
            if (zero)                                                                   \
                g[i] = 0;                                                               \
            T b = first ? d : mu * m[i] + damp * d;                                     \
            b = fabs(b) < TMIN ? 0 : b;                                                 \
            m[i] = b;                                                                   \
            x[i] -= lr * (c->nesterov ? d + nest * b : b);                              \
        }                                                                               \
    }                                                                                   \
    OPTIM_CLONES static void adam_##SUF(const lg_optim_config *c, int64_t t, int64_t n, \
                           T *restrict x, T *restrict g, T *restrict m, T *restrict v)  \
    {                                                                                   \
        double bc1 = 1 - pow(c->beta1, (double)t), bc2 = 1 - pow(c->beta2, (double)t);  \
        const T b1 = (T)c->beta1, b2 = (T)c->beta2, eps = (T)c->eps;                    \
        const T step = (T)(c->lr / bc1), inv_sqrt_bc2 = (T)(1 / sqrt(bc2));              \
        const T wd = (T)(c->kind == LG_OPTIM_ADAM ? c->weight_decay : 0);               \
        const T shrink = (T)(c->kind == LG_OPTIM_ADAMW ? 1 - c->lr * c->weight_decay : 1); \
        const bool zero = c->zero_grad, decay = wd != 0;                                \
        for (int64_t i = 0; i < n; i++) {                                               \
            T d = decay ? g[i] + wd * x[i] : g[i];                                      \
            if (zero)                                                                   \
                g[i] = 0;                                                               \
            T mi = b1 * m[i] + (1 - b1) * d;                                            \
            T vi = b2 * v[i] + (1 - b2) * d * d;                                        \
            mi = fabs(mi) < TMIN ? 0 : mi;                                              \
            vi = vi < TMIN ? 0 : vi;                                                    \
            m[i] = mi;                                                                  \
            v[i] = vi;                                                                  \
            x[i] = x[i] * shrink - step * mi / (sqrt(vi) * inv_sqrt_bc2 + eps);         \
        }                                                                               \
    }

OPTIM_KERNELS(float, f32, FLT_MIN)
OPTIM_KERNELS(double, f64, DBL_MIN)

/* One step of elements [lo, hi) of parameter e. */
static void update_range(const lg_optim *o, const lg_param_entry *e, int64_t lo, int64_t hi)
{
    int64_t off = e->offset + lo, n = hi - lo;
    if (e->t->dtype == LG_F32) {
        float *x = (float *)e->t->data + lo, *g = (float *)e->g->data + lo;
        float *m = o->m[0] ? (float *)o->m[0] + off : NULL;
        float *v = o->v[0] ? (float *)o->v[0] + off : NULL;
        if (o->c.kind == LG_OPTIM_SGD)
            sgd_f32(&o->c, o->steps == 1, n, x, g, m);
        else
            adam_f32(&o->c, o->steps, n, x, g, m, v);
    } else {
        double *x = (double *)e->t->data + lo, *g = (double *)e->g->data + lo;
        double *m = o->m[1] ? (double *)o->m[1] + off : NULL;
        double *v = o->v[1] ? (double *)o->v[1] + off : NULL;
        if (o->c.kind == LG_OPTIM_SGD)
            sgd_f64(&o->c, o->steps == 1, n, x, g, m);
        else
            adam_f64(&o->c, o->steps, n, x, g, m, v);
    }
}

/* Thread t of tn updates its share of every trainable parameter of block d: the t-th of
 * tn equal slices, edges on multiples of 16 elements (whole vectors; elements are
 * independent, so any split gives the same bits). Slicing each parameter, not the block
 * as a whole, hands a thread the same rows of a weight that OpenMP's static split gave it
 * in the gradient kernels (the outer product of batch 1, the elementwise loops), so the
 * gradients it reads are still in its own core's cache: the batch-1 MLP step on 2 threads
 * went from 7.8k to 8.8k samples/s. */
static void update_share(const lg_optim *o, int d, int64_t t, int64_t tn)
{
    const lg_params *p = o->p;
    for (int i = 0; i < p->n; i++) {
        const lg_param_entry *e = &p->entries[i];
        if (e->t->dtype != (lg_dtype)d || !(e->t->flags & LG_TF_REQUIRES_GRAD))
            continue;
        int64_t n = e->t->numel;
        int64_t lo = n * t / tn / 16 * 16, hi = t + 1 == tn ? n : n * (t + 1) / tn / 16 * 16;
        if (lo < hi)
            update_range(o, e, lo, hi);
    }
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
    for (int d = 0; d < 2; d++) {
        if (o->numel[d] < PARALLEL_MIN || omp_get_max_threads() < 2) {
            update_share(o, d, 0, 1);
            continue;
        }
        /* One region for the whole store, not one per parameter: no thread waits while
         * another updates a parameter too small to split. */
        #pragma omp parallel
        update_share(o, d, omp_get_thread_num(), omp_get_num_threads());
    }
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
