/* Shape arithmetic: validation, strides, broadcasting and shape text for messages.
 * Pure functions of shapes; no data is touched here. */
#include <stdio.h>
#include <string.h>
#include "tensor_impl.h"

lg_status lg_shape_init(lg_tensor *t, int ndim, const int64_t *shape, const char *fn,
                        char *msg, size_t msglen)
{
    if (ndim < 0 || ndim > LG_MAX_DIMS) {
        snprintf(msg, msglen, "%s: ndim %d outside [0, %d]", fn, ndim, LG_MAX_DIMS);
        return LG_ERR_ARG;
    }
    if (ndim > 0 && !shape) {
        snprintf(msg, msglen, "%s: shape is NULL for ndim %d", fn, ndim);
        return LG_ERR_ARG;
    }
    /* The product of the non-zero dimensions is bounded too: a zero dimension makes numel
     * 0, but the strides are still products of the others and must not overflow. */
    int64_t n = 1, nonzero = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            snprintf(msg, msglen, "%s: negative dimension %lld in %s", fn,
                     (long long)shape[i], lg_shape_str(ndim, shape).s);
            return LG_ERR_SHAPE;
        }
        if (shape[i] > 0 && nonzero > INT64_MAX / 16 / shape[i]) {
            snprintf(msg, msglen, "%s: shape %s is too large", fn, lg_shape_str(ndim, shape).s);
            return LG_ERR_SHAPE;
        }
        n *= shape[i];
        nonzero *= shape[i] > 0 ? shape[i] : 1;
    }
    t->ndim = ndim;
    t->numel = n;
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        t->shape[i] = shape[i];
        t->strides[i] = s;
        s *= shape[i];
    }
    for (int i = ndim; i < LG_MAX_DIMS; i++) {
        t->shape[i] = 1;
        t->strides[i] = 0;
    }
    return LG_OK;
}

lg_shape_text lg_shape_str(int ndim, const int64_t *shape)
{
    lg_shape_text r;
    size_t len = 0;
    r.s[len++] = '(';
    for (int i = 0; i < ndim && len < sizeof r.s - 24; i++)
        len += (size_t)snprintf(r.s + len, sizeof r.s - len, i ? ",%lld" : "%lld",
                                (long long)shape[i]);
    snprintf(r.s + len, sizeof r.s - len, ")");
    return r;
}

lg_shape_text lg_tshape(const lg_tensor *t) { return lg_shape_str(t->ndim, t->shape); }

int lg_broadcast_shapes(int na, const int64_t *a, int nb, const int64_t *b, int *nout,
                        int64_t *out)
{
    int n = na > nb ? na : nb;
    for (int i = 0; i < n; i++) {
        int ia = na - n + i, ib = nb - n + i;
        int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return 0;
        out[i] = da == 1 ? db : da;
    }
    *nout = n;
    return 1;
}

void lg_broadcast_strides(int n, const int64_t *shape, int nout, const int64_t *out,
                          int64_t *strides)
{
    (void)out; /* the output shape only fixes the rank; strides follow from shape */
    int64_t s = 1;
    for (int i = nout - 1; i >= 0; i--) {
        int j = n - nout + i;
        strides[i] = (j < 0 || shape[j] == 1) ? 0 : s;
        if (j >= 0)
            s *= shape[j];
    }
}

int lg_same_shape(const lg_tensor *a, const lg_tensor *b)
{
    if (a->ndim != b->ndim)
        return 0;
    return memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim) == 0;
}
