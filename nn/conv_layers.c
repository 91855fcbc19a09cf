/* The Conv2d and batch-norm layers: parameters and buffers in a store under PyTorch's
 * names, forwards over lg_conv2d and lg_batch_norm. Pooling needs no state, so it has no
 * layer: call lg_max_pool2d / lg_avg_pool2d with their options. */
#include <math.h>
#include <string.h>
#include "layers_impl.h"

static bool conv_opts_valid(const lg_conv2d_opts *o, int64_t in, int64_t out)
{
    for (int i = 0; i < 2; i++)
        if (o->stride[i] < 1 || o->padding[i] < 0 || o->dilation[i] < 1)
            return false;
    return o->groups >= 1 && in % o->groups == 0 && out % o->groups == 0;
}

lg_status lg_conv2d_layer_init(lg_conv2d_layer *l, lg_params *p, const char *name,
                               int64_t in_channels, int64_t out_channels, int kernel_h,
                               int kernel_w, const lg_conv2d_opts *o, bool bias, lg_dtype dt,
                               lg_rng *r)
{
    const char *fn = "lg_conv2d_layer_init";
    if (l)
        memset(l, 0, sizeof *l);
    if (!l || !p || !name || !*name || !r)
        return lg_set_error(LG_ERR_ARG, "%s: layer, store, name or rng is NULL or empty", fn);
    lg_conv2d_opts opts = o ? *o : lg_conv2d_defaults();
    if (in_channels < 1 || out_channels < 1 || kernel_h < 1 || kernel_w < 1)
        return lg_set_error(LG_ERR_ARG, "%s: channels and kernel must be >= 1, got in %lld, "
                            "out %lld, kernel %dx%d", fn, (long long)in_channels,
                            (long long)out_channels, kernel_h, kernel_w);
    if (!conv_opts_valid(&opts, in_channels, out_channels))
        return lg_set_error(LG_ERR_ARG, "%s: bad options for in %lld, out %lld: stride (%d,%d) "
                            "and dilation (%d,%d) must be >= 1, padding (%d,%d) >= 0, groups %d "
                            ">= 1 dividing both channel counts", fn, (long long)in_channels,
                            (long long)out_channels, opts.stride[0], opts.stride[1],
                            opts.dilation[0], opts.dilation[1], opts.padding[0],
                            opts.padding[1], opts.groups);
    int64_t ws[4] = {out_channels, in_channels / opts.groups, kernel_h, kernel_w};
    lg_tensor *w, *b = NULL;
    lg_status s = lg_nn_add_param(p, name, "weight", dt, 4, ws, fn, &w);
    if (s == LG_OK && bias)
        s = lg_nn_add_param(p, name, "bias", dt, 1, &out_channels, fn, &b);
    if (s != LG_OK)
        return s;
    /* nn.Conv2d.reset_parameters: kaiming_uniform_(a=√5), then U(±1/√fan_in) for the bias. */
    lg_init_kaiming_uniform(w, sqrt(5.0), r);
    if (b) {
        double bound = 1.0 / sqrt((double)(ws[1] * ws[2] * ws[3]));
        lg_init_uniform(b, -bound, bound, r);
    }
    *l = (lg_conv2d_layer){.weight = w, .bias = b, .in_channels = in_channels,
                           .out_channels = out_channels, .kernel = {kernel_h, kernel_w},
                           .opts = opts};
    return LG_OK;
}

lg_tensor *lg_conv2d_layer_forward(lg_graph *g, const lg_conv2d_layer *l, lg_tensor *x)
{
    const char *fn = "lg_conv2d_layer_forward";
    if (!lg_nn_check(g, l, fn) || !lg_check_inputs(g, fn, 1, &x))
        return NULL;
    if (!l->weight)
        return lg_fail(g, LG_ERR_ARG, "%s: layer has no weight (not initialised?)", fn);
    if (x->ndim != 4 || x->shape[1] != l->in_channels)
        return lg_fail(g, LG_ERR_SHAPE, "%s: input %s is not (N, %lld, H, W)", fn,
                       lg_tshape(x).s, (long long)l->in_channels);
    return lg_conv2d(g, x, l->weight, l->bias, &l->opts);
}

lg_status lg_batch_norm_layer_init(lg_batch_norm_layer *l, lg_params *p, const char *name,
                                   int64_t num_features, double momentum, double eps,
                                   lg_dtype dt)
{
    const char *fn = "lg_batch_norm_layer_init";
    if (l)
        memset(l, 0, sizeof *l);
    if (!l || !p || !name || !*name)
        return lg_set_error(LG_ERR_ARG, "%s: layer, store or name is NULL or empty", fn);
    if (num_features < 1 || !(momentum >= 0 && momentum <= 1) || !(eps >= 0) || !isfinite(eps))
        return lg_set_error(LG_ERR_ARG, "%s: need num_features >= 1, momentum in [0, 1] and "
                            "finite eps >= 0, got %lld, %g and %g", fn, (long long)num_features,
                            momentum, eps);
    static const char *const parts[5] = {"weight", "bias", "running_mean", "running_var",
                                         "num_batches_tracked"};
    lg_tensor *t[5] = {NULL};
    lg_status s = LG_OK;
    for (int i = 0; i < 5 && s == LG_OK; i++)
        s = lg_nn_add_param(p, name, parts[i], dt, i < 4 ? 1 : 0, &num_features, fn, &t[i]);
    if (s != LG_OK)
        return s;
    lg_tensor_fill(t[0], 1.0);
    lg_tensor_fill(t[3], 1.0);
    for (int i = 2; i < 5; i++)
        lg_tensor_set_requires_grad(t[i], false);
    *l = (lg_batch_norm_layer){.weight = t[0], .bias = t[1], .running_mean = t[2],
                               .running_var = t[3], .num_batches_tracked = t[4],
                               .num_features = num_features, .momentum = momentum,
                               .eps = eps};
    return LG_OK;
}

lg_tensor *lg_batch_norm_layer_forward(lg_graph *g, const lg_batch_norm_layer *l,
                                       lg_tensor *x)
{
    const char *fn = "lg_batch_norm_layer_forward";
    if (!lg_nn_check(g, l, fn) || !lg_check_inputs(g, fn, 1, &x))
        return NULL;
    if (!l->weight || !l->num_batches_tracked)
        return lg_fail(g, LG_ERR_ARG, "%s: layer has no parameters (not initialised?)", fn);
    if (x->ndim < 2 || x->shape[1] != l->num_features)
        return lg_fail(g, LG_ERR_SHAPE, "%s: input %s does not have num_features = %lld "
                       "channels on axis 1", fn, lg_tshape(x).s, (long long)l->num_features);
    lg_tensor *y = lg_batch_norm(g, x, l->weight, l->bias, l->running_mean, l->running_var,
                                 l->momentum, l->eps);
    if (y && g->training) {
        /* a counter: read to the host, written back one higher */
        lg_tensor *n = l->num_batches_tracked;
        union { float f; double d; int32_t i; int64_t l; } v;
        lg_tensor_read(n, &v, sizeof v);
        double count = n->dtype == LG_F32 ? v.f : n->dtype == LG_F64 ? v.d
                       : n->dtype == LG_I32 ? v.i : (double)v.l;
        g->be->fill(n->dtype, 1, n->data, count + 1);
    }
    return y;
}
