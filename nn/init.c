/* Parameter initialisers from the seeded RNG, with torch.nn.init's formulas (mode fan_in).
 * They write values only: no graph, no gradient. */
#include <math.h>
#include <string.h>
#include "lagrad/layers.h"
#include "../tensor/tensor_impl.h"

static lg_status check(const lg_tensor *t, const lg_rng *r, const char *fn)
{
    if (!t || !r)
        return lg_set_error(LG_ERR_ARG, "%s: tensor or rng is NULL", fn);
    return LG_OK;
}

static lg_status fans(const lg_tensor *t, int64_t *fan_in, int64_t *fan_out, const char *fn)
{
    if (!t)
        return lg_set_error(LG_ERR_ARG, "%s: tensor is NULL", fn);
    if (t->ndim < 2)
        return lg_set_error(LG_ERR_SHAPE, "%s: fans need a tensor of rank >= 2, got %s", fn,
                            lg_tshape(t).s);
    int64_t receptive = 1;
    for (int d = 2; d < t->ndim; d++)
        receptive *= t->shape[d];
    if (fan_in)
        *fan_in = t->shape[1] * receptive;
    if (fan_out)
        *fan_out = t->shape[0] * receptive;
    return LG_OK;
}

lg_status lg_init_fans(const lg_tensor *t, int64_t *fan_in, int64_t *fan_out)
{
    return fans(t, fan_in, fan_out, "lg_init_fans");
}

/* torch.nn.init.calculate_gain('leaky_relu', a). */
static lg_status kaiming_gain(double a, double *gain, const char *fn)
{
    if (!isfinite(a))
        return lg_set_error(LG_ERR_ARG, "%s: slope a must be finite, got %g", fn, a);
    *gain = sqrt(2.0 / (1.0 + a * a));
    return LG_OK;
}

/* The fan_in (Kaiming) or fan_in + fan_out (Xavier) of t; 0 for an empty tensor. */
static lg_status fan_for(lg_tensor *t, lg_rng *r, bool xavier, double *fan, const char *fn)
{
    lg_status s = check(t, r, fn);
    int64_t fi = 0, fo = 0;
    if (s == LG_OK)
        s = fans(t, &fi, &fo, fn);
    if (s == LG_OK)
        *fan = (double)(xavier ? fi + fo : fi);
    return s;
}

lg_status lg_init_kaiming_normal(lg_tensor *t, double a, lg_rng *r)
{
    const char *fn = "lg_init_kaiming_normal";
    double fan = 0, gain = 0;
    lg_status s = fan_for(t, r, false, &fan, fn);
    if (s == LG_OK)
        s = kaiming_gain(a, &gain, fn);
    if (s == LG_OK && t->numel > 0)
        lg_rng_fill_normal(r, t->dtype, t->data, t->numel, 0.0, gain / sqrt(fan));
    return s;
}

lg_status lg_init_kaiming_uniform(lg_tensor *t, double a, lg_rng *r)
{
    const char *fn = "lg_init_kaiming_uniform";
    double fan = 0, gain = 0;
    lg_status s = fan_for(t, r, false, &fan, fn);
    if (s == LG_OK)
        s = kaiming_gain(a, &gain, fn);
    if (s == LG_OK && t->numel > 0) {
        double b = gain * sqrt(3.0 / fan);
        lg_rng_fill_uniform(r, t->dtype, t->data, t->numel, -b, b);
    }
    return s;
}

static lg_status xavier_gain(double gain, const char *fn)
{
    if (!(gain > 0) || !isfinite(gain))
        return lg_set_error(LG_ERR_ARG, "%s: gain must be finite and > 0, got %g", fn, gain);
    return LG_OK;
}

lg_status lg_init_xavier_normal(lg_tensor *t, double gain, lg_rng *r)
{
    const char *fn = "lg_init_xavier_normal";
    double fan = 0;
    lg_status s = fan_for(t, r, true, &fan, fn);
    if (s == LG_OK)
        s = xavier_gain(gain, fn);
    if (s == LG_OK && t->numel > 0)
        lg_rng_fill_normal(r, t->dtype, t->data, t->numel, 0.0, gain * sqrt(2.0 / fan));
    return s;
}

lg_status lg_init_xavier_uniform(lg_tensor *t, double gain, lg_rng *r)
{
    const char *fn = "lg_init_xavier_uniform";
    double fan = 0;
    lg_status s = fan_for(t, r, true, &fan, fn);
    if (s == LG_OK)
        s = xavier_gain(gain, fn);
    if (s == LG_OK && t->numel > 0) {
        double b = gain * sqrt(6.0 / fan);
        lg_rng_fill_uniform(r, t->dtype, t->data, t->numel, -b, b);
    }
    return s;
}

lg_status lg_init_uniform(lg_tensor *t, double lo, double hi, lg_rng *r)
{
    lg_status s = check(t, r, "lg_init_uniform");
    if (s != LG_OK)
        return s;
    if (!(lo <= hi) || !isfinite(lo) || !isfinite(hi))
        return lg_set_error(LG_ERR_ARG, "lg_init_uniform: need finite lo <= hi, got [%g, %g)",
                            lo, hi);
    if (t->numel > 0)
        lg_rng_fill_uniform(r, t->dtype, t->data, t->numel, lo, hi);
    return LG_OK;
}

lg_status lg_init_zeros(lg_tensor *t)
{
    if (!t)
        return lg_set_error(LG_ERR_ARG, "lg_init_zeros: tensor is NULL");
    if (t->numel > 0)
        memset(t->data, 0, (size_t)t->numel * lg_dtype_size(t->dtype));
    return LG_OK;
}
