/* The Hessian of a loss over a parameter store as a linear operator: H v by double
 * backward (Pearlmutter's trick, H v = ∇⟨∇L, v⟩), summed over batches, on flat f64
 * vectors. The spectral algorithms that use it are in lanczos.c. */
#include <math.h>
#include <string.h>
#include "lagrad/curvature.h"
#include "lagrad/ops.h"
#include "../tensor/tensor_impl.h"
#include "../autograd/graph_impl.h"

struct lg_hessian {
    lg_params *p;
    lg_batch_loss_fn loss;
    void *ctx;
    int64_t n_batches;
    double *w;           /* (n_batches) batch weights */
    int n;               /* selected parameters */
    lg_tensor **sel;     /* (n) the selected store tensors, in store order */
    lg_tensor **grads;   /* (n) scratch for lg_grad's outputs */
    lg_tensor **hv;      /* (n) scratch for the second lg_grad's outputs */
    int64_t dim, products;
    lg_graph *g;
    bool reuse;          /* lg_hessian_reuse: the caller holds θ and the data fixed */
    bool recorded;       /* the graph holds the loss and its gradient up to `mark` */
    lg_graph_mark mark;
};

lg_hessian_opts lg_hessian_defaults(void)
{
    return (lg_hessian_opts){.n_batches = 1};
}

void lg_hessian_free(lg_hessian *h)
{
    if (!h)
        return;
    lg_graph_free(h->g);
    lg_free(h->w, sizeof *h->w * (size_t)h->n_batches);
    size_t tb = sizeof(lg_tensor *) * (size_t)(h->n ? h->n : 1);
    lg_free(h->sel, tb);
    lg_free(h->grads, tb);
    lg_free(h->hv, tb);
    lg_free(h, sizeof *h);
}

int64_t lg_hessian_dim(const lg_hessian *h) { return h ? h->dim : 0; }

int64_t lg_hessian_hvp_count(const lg_hessian *h) { return h ? h->products : 0; }

static bool selected(const lg_params *p, int i, const lg_hessian_opts *o)
{
    if (lg_params_is_frozen(p, i))
        return false;
    if (!o->select)
        return true;
    for (int j = 0; j < o->n_select; j++)
        if (lg_params_name_matches(o->select[j], lg_params_name(p, i)))
            return true;
    return false;
}

static lg_status check_new(const lg_params *p, lg_batch_loss_fn loss, const lg_hessian_opts *o)
{
    const char *fn = "lg_hessian_new";
    if (!p || !loss)
        return lg_set_error(LG_ERR_ARG, "%s: the store or the loss is NULL", fn);
    if (o->n_batches < 1)
        return lg_set_error(LG_ERR_ARG, "%s: n_batches = %lld; need >= 1", fn,
                            (long long)o->n_batches);
    for (int64_t b = 0; o->batch_weights && b < o->n_batches; b++)
        if (!(o->batch_weights[b] >= 0) || !isfinite(o->batch_weights[b]))
            return lg_set_error(LG_ERR_ARG, "%s: batch_weights[%lld] = %g; need finite >= 0",
                                fn, (long long)b, o->batch_weights[b]);
    if (o->n_select < 0 || (o->n_select > 0 && !o->select))
        return lg_set_error(LG_ERR_ARG, "%s: n_select = %d with select %s", fn, o->n_select,
                            o->select ? "set" : "NULL");
    for (int j = 0; o->select && j < o->n_select; j++) {
        if (!o->select[j] || !*o->select[j])
            return lg_set_error(LG_ERR_ARG, "%s: select[%d] is NULL or empty", fn, j);
        bool any = false;
        for (int i = 0; i < lg_params_count(p) && !any; i++)
            any = !lg_params_is_frozen(p, i) &&
                  lg_params_name_matches(o->select[j], lg_params_name(p, i));
        if (!any)
            return lg_set_error(LG_ERR_ARG, "%s: select[%d] '%s' matches no trainable "
                                "parameter", fn, j, o->select[j]);
    }
    return LG_OK;
}

lg_hessian *lg_hessian_new(lg_params *p, lg_batch_loss_fn loss, void *ctx,
                           const lg_hessian_opts *o)
{
    lg_hessian_opts d = lg_hessian_defaults();
    if (!o)
        o = &d;
    if (check_new(p, loss, o) != LG_OK)
        return NULL;
    int n = 0;
    for (int i = 0; i < lg_params_count(p); i++)
        n += selected(p, i, o);
    if (!n) {
        lg_set_error(LG_ERR_ARG, "lg_hessian_new: the store has no trainable parameter");
        return NULL;
    }
    lg_hessian *h = lg_malloc(sizeof *h);
    if (!h) {
        lg_set_error(LG_ERR_OOM, "lg_hessian_new: out of memory");
        return NULL;
    }
    memset(h, 0, sizeof *h);
    h->p = p;
    h->loss = loss;
    h->ctx = ctx;
    h->n_batches = o->n_batches;
    h->n = n;
    size_t tb = sizeof(lg_tensor *) * (size_t)n;
    h->w = lg_malloc(sizeof *h->w * (size_t)o->n_batches);
    h->sel = lg_malloc(tb);
    h->grads = lg_malloc(tb);
    h->hv = lg_malloc(tb);
    h->g = lg_graph_new();
    if (!h->w || !h->sel || !h->grads || !h->hv || !h->g) {
        lg_hessian_free(h);
        lg_set_error(LG_ERR_OOM, "lg_hessian_new: out of memory");
        return NULL;
    }
    lg_graph_set_training(h->g, false);
    for (int64_t b = 0; b < o->n_batches; b++)
        h->w[b] = o->batch_weights ? o->batch_weights[b] : 1.0 / (double)o->n_batches;
    for (int i = 0, j = 0; i < lg_params_count(p); i++) {
        if (!selected(p, i, o))
            continue;
        h->sel[j++] = lg_params_at(p, i);
        h->dim += lg_tensor_numel(lg_params_at(p, i));
    }
    return h;
}

/* The loss of batch b recorded on a freshly reset graph, checked to be a scalar. */
static lg_status batch_loss(lg_hessian *h, const char *fn, int64_t b, lg_tensor **y)
{
    lg_graph_reset(h->g);
    *y = h->loss(h->g, b, h->ctx);
    if (lg_graph_status(h->g) != LG_OK)
        return lg_set_error(lg_graph_status(h->g), "%s: batch %lld: %s", fn, (long long)b,
                            lg_graph_errmsg(h->g));
    if (!*y)
        return lg_set_error(LG_ERR_ARG, "%s: batch %lld: the loss returned NULL without an "
                            "error", fn, (long long)b);
    if (lg_tensor_numel(*y) != 1)
        return lg_set_error(LG_ERR_SHAPE, "%s: batch %lld: the loss must be a scalar, got %lld "
                            "elements", fn, (long long)b, (long long)lg_tensor_numel(*y));
    return LG_OK;
}

static lg_status graph_failed(lg_hessian *h, const char *fn, lg_status s)
{
    if (lg_graph_status(h->g) != LG_OK)
        return lg_set_error(lg_graph_status(h->g), "%s: %s", fn, lg_graph_errmsg(h->g));
    return s;
}

/* out[off..] += w · t for the n selected tensors ts (any float dtype). */
static void accumulate(lg_hessian *h, lg_tensor *const *ts, double w, double *out)
{
    int64_t off = 0;
    for (int i = 0; i < h->n; i++) {
        const lg_tensor *t = ts[i];
        int64_t m = lg_tensor_numel(t);
        if (lg_tensor_dtype(t) == LG_F32) {
            const float *d = lg_tensor_cdata(t);
            for (int64_t j = 0; j < m; j++)
                out[off + j] += w * (double)d[j];
        } else {
            const double *d = lg_tensor_cdata(t);
            for (int64_t j = 0; j < m; j++)
                out[off + j] += w * d[j];
        }
        off += m;
    }
}

/* dst (numel of t, t's dtype) from src in f64. */
static void store_flat(lg_tensor *t, const double *src)
{
    int64_t m = lg_tensor_numel(t);
    if (lg_tensor_dtype(t) == LG_F32) {
        float *d = lg_tensor_data(t);
        for (int64_t j = 0; j < m; j++)
            d[j] = (float)src[j];
    } else {
        memcpy(lg_tensor_data(t), src, (size_t)m * sizeof *src);
    }
}

/* ⟨∇loss_b, v⟩ recorded on the graph from gradients made with create_graph. */
static lg_tensor *grad_dot(lg_hessian *h, const double *v)
{
    lg_tensor *dot = NULL;
    int64_t off = 0;
    for (int i = 0; i < h->n; i++) {
        lg_tensor *t = h->sel[i];
        lg_tensor *vi = lg_graph_full(h->g, lg_tensor_dtype(t), lg_tensor_ndim(t),
                                      lg_tensor_shape(t), 0.0);
        if (!vi)
            return NULL;
        store_flat(vi, v + off);
        off += lg_tensor_numel(t);
        lg_tensor *term = lg_sum(h->g, lg_mul(h->g, h->grads[i], vi));
        dot = dot ? lg_add(h->g, dot, term) : term;
    }
    return dot;
}

/* hv += w ∇⟨g, v⟩ for the gradients g in h->grads, recorded on the graph: the part of a
 * product that depends on v. */
static lg_status second_backward(lg_hessian *h, const double *v, double w, double *hv)
{
    lg_tensor *dot = grad_dot(h, v);
    if (!dot)
        return LG_ERR_ARG;
    if (!lg_tensor_requires_grad(dot))
        return LG_OK; /* the gradient is constant: this batch's Hessian is zero */
    lg_status s = lg_grad(h->g, dot, NULL, h->n, h->sel, h->hv, false);
    if (s == LG_OK)
        accumulate(h, h->hv, w, hv);
    return s;
}

static void drop_recording(lg_hessian *h)
{
    h->recorded = false;
    lg_graph_reset(h->g);
}

lg_status lg_hessian_reuse(lg_hessian *h, bool on)
{
    if (!h)
        return lg_set_error(LG_ERR_ARG, "lg_hessian_reuse: h is NULL");
    if (!on && h->recorded)
        drop_recording(h);
    h->reuse = on;
    return LG_OK;
}

lg_status lg_hessian_hvp(lg_hessian *h, const double *v, double *hv)
{
    const char *fn = "lg_hessian_hvp";
    if (!h || !v || !hv)
        return lg_set_error(LG_ERR_ARG, "%s: h, v or hv is NULL", fn);
    memset(hv, 0, sizeof *hv * (size_t)h->dim);
    lg_status s = LG_OK;
    if (h->recorded) { /* replay the v-dependent part on the kept loss and gradient */
        lg_graph_truncate(h->g, &h->mark);
        s = second_backward(h, v, h->w[0], hv);
        h->recorded = s == LG_OK;
    }
    for (int64_t b = 0; !h->recorded && b < h->n_batches && s == LG_OK; b++) {
        lg_tensor *y;
        s = batch_loss(h, fn, b, &y);
        if (s == LG_OK)
            s = lg_grad(h->g, y, NULL, h->n, h->sel, h->grads, true);
        bool keep = s == LG_OK && h->reuse && h->n_batches == 1;
        if (keep)
            h->mark = lg_graph_mark_now(h->g);
        if (s == LG_OK)
            s = second_backward(h, v, h->w[b], hv);
        h->recorded = keep && s == LG_OK;
    }
    if (s != LG_OK)
        s = graph_failed(h, fn, s);
    if (!h->recorded)
        drop_recording(h);
    if (s == LG_OK)
        h->products++;
    return s;
}

lg_status lg_hessian_grad(lg_hessian *h, double *grad, double *loss)
{
    const char *fn = "lg_hessian_grad";
    if (!h)
        return lg_set_error(LG_ERR_ARG, "%s: h is NULL", fn);
    if (grad)
        memset(grad, 0, sizeof *grad * (size_t)h->dim);
    h->recorded = false; /* batch_loss records over the kept graph */
    double total = 0;
    lg_status s = LG_OK;
    for (int64_t b = 0; b < h->n_batches && s == LG_OK; b++) {
        lg_tensor *y;
        s = batch_loss(h, fn, b, &y);
        if (s == LG_OK)
            total += h->w[b] * lg_tensor_item(y, 0);
        if (s == LG_OK && grad)
            s = lg_grad(h->g, y, NULL, h->n, h->sel, h->grads, false);
        if (s == LG_OK && grad)
            accumulate(h, h->grads, h->w[b], grad);
        else if (s != LG_OK)
            s = graph_failed(h, fn, s);
    }
    lg_graph_reset(h->g);
    if (s == LG_OK && loss)
        *loss = total;
    return s;
}

lg_status lg_hessian_get_params(const lg_hessian *h, double *x)
{
    if (!h || !x)
        return lg_set_error(LG_ERR_ARG, "lg_hessian_get_params: h or x is NULL");
    memset(x, 0, sizeof *x * (size_t)h->dim);
    accumulate((lg_hessian *)h, h->sel, 1.0, x);
    return LG_OK;
}

lg_status lg_hessian_set_params(lg_hessian *h, const double *x)
{
    if (!h || !x)
        return lg_set_error(LG_ERR_ARG, "lg_hessian_set_params: h or x is NULL");
    if (h->recorded) /* the kept gradient belongs to the old θ */
        drop_recording(h);
    int64_t off = 0;
    for (int i = 0; i < h->n; i++) {
        store_flat(h->sel[i], x + off);
        off += lg_tensor_numel(h->sel[i]);
    }
    return LG_OK;
}

static lg_status hvp_apply(void *ctx, const double *x, double *y)
{
    return lg_hessian_hvp(ctx, x, y);
}

lg_linop lg_hessian_linop(lg_hessian *h)
{
    if (!h)
        return (lg_linop){0};
    return (lg_linop){.n = h->dim, .apply = hvp_apply, .ctx = h};
}
