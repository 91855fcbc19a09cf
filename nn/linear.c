/* The Linear, dropout and layer-norm layers: parameters in a store, forwards over the
 * fused ops. LoRA, which wraps a Linear, is in lora.c. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "layers_impl.h"

bool lg_nn_check(lg_graph *g, const void *layer, const char *fn)
{
    if (!g) {
        lg_set_error(LG_ERR_ARG, "%s: graph is NULL", fn);
        return false;
    }
    if (g->status != LG_OK)
        return false;
    if (!layer) {
        lg_fail(g, LG_ERR_ARG, "%s: layer is NULL", fn);
        return false;
    }
    return true;
}

lg_tensor *lg_nn_rows(lg_graph *g, lg_tensor *x, int64_t in, const char *fn)
{
    if (!lg_check_inputs(g, fn, 1, &x))
        return NULL;
    if (x->ndim < 1 || x->shape[x->ndim - 1] != in)
        return lg_fail(g, LG_ERR_SHAPE, "%s: input %s does not end in in_features = %lld", fn,
                       lg_tshape(x).s, (long long)in);
    if (x->ndim == 2)
        return x;
    int64_t rows[2] = {in ? x->numel / in : 0, in};
    return lg_reshape(g, x, 2, rows);
}

lg_tensor *lg_nn_unrows(lg_graph *g, lg_tensor *y, const lg_tensor *x, int64_t out)
{
    if (!y || x->ndim == 2)
        return y;
    int64_t shape[LG_MAX_DIMS];
    memcpy(shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    shape[x->ndim - 1] = out;
    return lg_reshape(g, y, x->ndim, shape);
}

/* "<name>.<part>" into buf; LG_ERR_ARG when it does not fit. */
static lg_status param_name(char *buf, size_t n, const char *name, const char *part,
                            const char *fn)
{
    int len = snprintf(buf, n, "%s.%s", name, part);
    if (len < 0 || (size_t)len >= n)
        return lg_set_error(LG_ERR_ARG, "%s: name '%.40s...' is too long", fn, name);
    return LG_OK;
}

/* "<name>.<part>" added to the store; the status of a failed lg_params_add is the one it
 * left in lg_last_status() (a float dtype is checked first: layers' parameters train). */
lg_status lg_nn_add_param(lg_params *p, const char *name, const char *part, lg_dtype dt,
                          int ndim, const int64_t *shape, const char *fn, lg_tensor **out)
{
    char full[256];
    *out = NULL;
    lg_status s = param_name(full, sizeof full, name, part, fn);
    if (s != LG_OK)
        return s;
    if (!lg_dtype_is_float(dt))
        return lg_set_error(LG_ERR_DTYPE, "%s: dtype %s (%d); parameters need f32 or f64", fn,
                            lg_dtype_name(dt), (int)dt);
    *out = lg_params_add(p, full, dt, ndim, shape);
    return *out ? LG_OK : lg_last_status();
}

lg_status lg_linear_layer_init(lg_linear_layer *l, lg_params *p, const char *name,
                               int64_t in_features, int64_t out_features, bool bias,
                               lg_dtype dt, lg_rng *r)
{
    const char *fn = "lg_linear_layer_init";
    if (l)
        memset(l, 0, sizeof *l);
    if (!l || !p || !name || !*name || !r)
        return lg_set_error(LG_ERR_ARG, "%s: layer, store, name or rng is NULL or empty", fn);
    if (in_features < 1 || out_features < 1)
        return lg_set_error(LG_ERR_ARG, "%s: in_features and out_features must be >= 1, got "
                            "%lld and %lld", fn, (long long)in_features, (long long)out_features);
    int64_t ws[2] = {out_features, in_features};
    lg_tensor *w, *b = NULL;
    lg_status s = lg_nn_add_param(p, name, "weight", dt, 2, ws, fn, &w);
    if (s == LG_OK && bias)
        s = lg_nn_add_param(p, name, "bias", dt, 1, &out_features, fn, &b);
    if (s != LG_OK)
        return s;
    /* nn.Linear.reset_parameters: kaiming_uniform_(a=√5), then U(±1/√fan_in) for the bias. */
    lg_init_kaiming_uniform(w, sqrt(5.0), r);
    if (b) {
        double bound = 1.0 / sqrt((double)in_features);
        lg_init_uniform(b, -bound, bound, r);
    }
    *l = (lg_linear_layer){.weight = w, .bias = b, .in_features = in_features,
                           .out_features = out_features};
    return LG_OK;
}

lg_tensor *lg_linear_layer_forward(lg_graph *g, const lg_linear_layer *l, lg_tensor *x)
{
    const char *fn = "lg_linear_layer_forward";
    if (!lg_nn_check(g, l, fn))
        return NULL;
    if (!l->weight)
        return lg_fail(g, LG_ERR_ARG, "%s: layer has no weight (not initialised?)", fn);
    lg_tensor *rows = lg_nn_rows(g, x, l->in_features, fn);
    return lg_nn_unrows(g, lg_linear(g, rows, l->weight, l->bias), x, l->out_features);
}

lg_status lg_dropout_layer_init(lg_dropout_layer *d, double p, uint64_t seed)
{
    if (!d)
        return lg_set_error(LG_ERR_ARG, "lg_dropout_layer_init: layer is NULL");
    if (!(p >= 0 && p < 1))
        return lg_set_error(LG_ERR_ARG, "lg_dropout_layer_init: p must be in [0, 1), got %g",
                            p);
    d->p = p;
    lg_rng_init(&d->rng, seed);
    return LG_OK;
}

lg_tensor *lg_dropout_layer_forward(lg_graph *g, lg_dropout_layer *d, lg_tensor *x)
{
    if (!lg_nn_check(g, d, "lg_dropout_layer_forward"))
        return NULL;
    return lg_dropout(g, x, d->p, &d->rng);
}

lg_status lg_layer_norm_layer_init(lg_layer_norm_layer *l, lg_params *p, const char *name,
                                   int64_t dim, double eps, lg_dtype dt)
{
    const char *fn = "lg_layer_norm_layer_init";
    if (l)
        memset(l, 0, sizeof *l);
    if (!l || !p || !name || !*name)
        return lg_set_error(LG_ERR_ARG, "%s: layer, store or name is NULL or empty", fn);
    if (dim < 1 || !(eps > 0) || !isfinite(eps))
        return lg_set_error(LG_ERR_ARG, "%s: need dim >= 1 and finite eps > 0, got %lld and %g",
                            fn, (long long)dim, eps);
    lg_tensor *gamma, *beta;
    lg_status s = lg_nn_add_param(p, name, "weight", dt, 1, &dim, fn, &gamma);
    if (s == LG_OK)
        s = lg_nn_add_param(p, name, "bias", dt, 1, &dim, fn, &beta);
    if (s != LG_OK)
        return s;
    lg_tensor_fill(gamma, 1.0);
    *l = (lg_layer_norm_layer){.gamma = gamma, .beta = beta, .dim = dim, .eps = eps};
    return LG_OK;
}

lg_tensor *lg_layer_norm_layer_forward(lg_graph *g, const lg_layer_norm_layer *l,
                                       lg_tensor *x)
{
    const char *fn = "lg_layer_norm_layer_forward";
    if (!lg_nn_check(g, l, fn) || !lg_check_inputs(g, fn, 1, &x))
        return NULL;
    if (!l->gamma)
        return lg_fail(g, LG_ERR_ARG, "%s: layer has no parameters (not initialised?)", fn);
    if (x->ndim < 1 || x->shape[x->ndim - 1] != l->dim)
        return lg_fail(g, LG_ERR_SHAPE, "%s: input %s does not end in dim = %lld", fn,
                       lg_tshape(x).s, (long long)l->dim);
    return lg_layer_norm(g, x, l->gamma, l->beta, l->eps);
}
