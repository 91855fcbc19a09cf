/* Caller-owned tensors: creation, element access, copy, reshape, printing and the
 * leaf gradient slot. Graph-owned tensors are made in autograd/graph.c instead. */
#include <math.h>
#include <string.h>
#include "tensor_impl.h"

static lg_tensor *alloc_tensor(const char *fn, lg_dtype dt, int ndim, const int64_t *shape,
                               int with_data)
{
    if (!lg_dtype_valid(dt)) {
        lg_set_error(LG_ERR_DTYPE, "%s: invalid dtype %d", fn, (int)dt);
        return NULL;
    }
    lg_tensor tmp;
    char msg[160];
    lg_status s = lg_shape_init(&tmp, ndim, shape, fn, msg, sizeof msg);
    if (s != LG_OK) {
        lg_set_error(s, "%s", msg);
        return NULL;
    }
    lg_tensor *t = lg_malloc(sizeof *t);
    if (!t) {
        lg_set_error(LG_ERR_OOM, "%s: out of memory for a tensor header", fn);
        return NULL;
    }
    memset(t, 0, sizeof *t);
    memcpy(t->shape, tmp.shape, sizeof t->shape);
    memcpy(t->strides, tmp.strides, sizeof t->strides);
    t->ndim = ndim;
    t->numel = tmp.numel;
    t->dtype = dt;
    if (with_data) {
        t->data_bytes = (size_t)t->numel * lg_dtype_size(dt);
        t->data = lg_malloc(t->data_bytes);
        if (!t->data) {
            lg_set_error(LG_ERR_OOM, "%s: out of memory for %zu bytes of %s", fn,
                         t->data_bytes, lg_shape_str(ndim, shape).s);
            lg_free(t, sizeof *t);
            return NULL;
        }
        t->flags |= LG_TF_OWNS_DATA;
        memset(t->data, 0, t->data_bytes);
    }
    return t;
}

lg_tensor *lg_tensor_new(lg_dtype dt, int ndim, const int64_t *shape)
{
    return alloc_tensor("lg_tensor_new", dt, ndim, shape, 1);
}

lg_tensor *lg_tensor_zeros(lg_dtype dt, int ndim, const int64_t *shape)
{
    return alloc_tensor("lg_tensor_zeros", dt, ndim, shape, 1);
}

/* An integer tensor takes only whole values in its range: 2.5 or 1e30 in an i32 is the
 * caller's mistake, not something to round quietly. */
lg_status lg_check_value(const char *fn, lg_dtype dt, double v)
{
    if (!lg_dtype_int(dt))
        return LG_OK;
    double lo = dt == LG_I32 ? (double)INT32_MIN : -9223372036854775808.0;
    double hi = dt == LG_I32 ? (double)INT32_MAX : 9223372036854775808.0;
    if (v != v || v != floor(v) || v < lo || (dt == LG_I32 ? v > hi : v >= hi))
        return lg_set_error(LG_ERR_ARG, "%s: %g is not a whole number in the range of %s", fn,
                            v, lg_dtype_name(dt));
    return LG_OK;
}

static lg_status check_float(const char *fn, lg_dtype dt)
{
    if (lg_dtype_valid(dt) && !lg_dtype_is_float(dt))
        return lg_set_error(LG_ERR_DTYPE, "%s: dtype is %s; need f32 or f64", fn,
                            lg_dtype_name(dt));
    return LG_OK;
}

lg_tensor *lg_tensor_full(lg_dtype dt, int ndim, const int64_t *shape, double value)
{
    if (lg_dtype_valid(dt) && lg_check_value("lg_tensor_full", dt, value) != LG_OK)
        return NULL;
    lg_tensor *t = alloc_tensor("lg_tensor_full", dt, ndim, shape, 1);
    if (t)
        lg_tensor_fill(t, value);
    return t;
}

lg_tensor *lg_tensor_ones(lg_dtype dt, int ndim, const int64_t *shape)
{
    return lg_tensor_full(dt, ndim, shape, 1.0);
}

lg_tensor *lg_tensor_from_data(lg_dtype dt, int ndim, const int64_t *shape, const void *data)
{
    if (!data) {
        lg_set_error(LG_ERR_ARG, "lg_tensor_from_data: data is NULL");
        return NULL;
    }
    lg_tensor *t = alloc_tensor("lg_tensor_from_data", dt, ndim, shape, 1);
    if (t)
        memcpy(t->data, data, t->data_bytes);
    return t;
}

lg_tensor *lg_tensor_arange(lg_dtype dt, double start, double stop, double step)
{
    if (step == 0 || !isfinite(start) || !isfinite(stop) || !isfinite(step)) {
        lg_set_error(LG_ERR_ARG, "lg_tensor_arange: need finite start/stop and step != 0, "
                     "got (%g, %g, %g)", start, stop, step);
        return NULL;
    }
    double count = ceil((stop - start) / step);
    if (!(count < 9.2e18)) {  /* before the cast, which would be undefined */
        lg_set_error(LG_ERR_SHAPE, "lg_tensor_arange: (%g, %g, %g) has %g elements", start,
                     stop, step, count);
        return NULL;
    }
    int64_t n = count > 0 ? (int64_t)count : 0;
    lg_tensor *t = alloc_tensor("lg_tensor_arange", dt, 1, &n, 1);
    for (int64_t i = 0; t && i < n; i++)
        lg_store(t->data, dt, i, start + (double)i * step);
    return t;
}

lg_tensor *lg_tensor_eye(lg_dtype dt, int64_t n)
{
    int64_t shape[2] = {n, n};
    lg_tensor *t = alloc_tensor("lg_tensor_eye", dt, 2, shape, 1);
    for (int64_t i = 0; t && i < n; i++)
        lg_store(t->data, dt, i * n + i, 1.0);
    return t;
}

lg_tensor *lg_tensor_uniform(lg_dtype dt, int ndim, const int64_t *shape, double lo,
                             double hi, lg_rng *r)
{
    if (!r) {
        lg_set_error(LG_ERR_ARG, "lg_tensor_uniform: rng is NULL");
        return NULL;
    }
    if (check_float("lg_tensor_uniform", dt) != LG_OK)
        return NULL;
    lg_tensor *t = alloc_tensor("lg_tensor_uniform", dt, ndim, shape, 1);
    if (t)
        lg_rng_fill_uniform(r, dt, t->data, t->numel, lo, hi);
    return t;
}

lg_tensor *lg_tensor_normal(lg_dtype dt, int ndim, const int64_t *shape, double mean,
                            double std, lg_rng *r)
{
    if (!r) {
        lg_set_error(LG_ERR_ARG, "lg_tensor_normal: rng is NULL");
        return NULL;
    }
    if (check_float("lg_tensor_normal", dt) != LG_OK)
        return NULL;
    lg_tensor *t = alloc_tensor("lg_tensor_normal", dt, ndim, shape, 1);
    if (t)
        lg_rng_fill_normal(r, dt, t->data, t->numel, mean, std);
    return t;
}

lg_tensor *lg_tensor_wrap(lg_dtype dt, int ndim, const int64_t *shape, void *data)
{
    if (!data) {
        lg_set_error(LG_ERR_ARG, "lg_tensor_wrap: data is NULL");
        return NULL;
    }
    lg_tensor *t = alloc_tensor("lg_tensor_wrap", dt, ndim, shape, 0);
    if (t)
        t->data = data;
    return t;
}

lg_tensor *lg_tensor_copy(const lg_tensor *src)
{
    if (!src) {
        lg_set_error(LG_ERR_ARG, "lg_tensor_copy: tensor is NULL");
        return NULL;
    }
    lg_tensor *t = alloc_tensor("lg_tensor_copy", src->dtype, src->ndim, src->shape, 1);
    if (t)
        memcpy(t->data, src->data, t->data_bytes);
    return t;
}

lg_status lg_tensor_free(lg_tensor *t)
{
    if (!t)
        return LG_OK;
    if (t->graph || (t->flags & LG_TF_BORROWED))
        return lg_set_error(LG_ERR_ARG, "lg_tensor_free: tensor %s belongs to a %s; it is "
                            "freed with it, not here", lg_tshape(t).s,
                            t->graph ? "graph" : "parameter store");
    lg_tensor_free(t->grad);
    if (t->flags & LG_TF_OWNS_DATA)
        lg_free(t->data, t->data_bytes);
    lg_free(t, sizeof *t);
    return LG_OK;
}

lg_status lg_tensor_copy_from(lg_tensor *dst, const lg_tensor *src)
{
    if (!dst || !src)
        return lg_set_error(LG_ERR_ARG, "lg_tensor_copy_from: %s is NULL", dst ? "src" : "dst");
    if (dst->dtype != src->dtype)
        return lg_set_error(LG_ERR_DTYPE, "lg_tensor_copy_from: dtypes differ: %s <- %s",
                            lg_dtype_name(dst->dtype), lg_dtype_name(src->dtype));
    if (dst->numel != src->numel)
        return lg_set_error(LG_ERR_SHAPE, "lg_tensor_copy_from: sizes differ: %s <- %s",
                            lg_tshape(dst).s, lg_tshape(src).s);
    memmove(dst->data, src->data, (size_t)dst->numel * lg_dtype_size(dst->dtype));
    return LG_OK;
}

lg_status lg_tensor_fill(lg_tensor *t, double v)
{
    if (!t)
        return lg_set_error(LG_ERR_ARG, "lg_tensor_fill: tensor is NULL");
    lg_status s = lg_check_value("lg_tensor_fill", t->dtype, v);
    if (s != LG_OK)
        return s;
    for (int64_t i = 0; i < t->numel; i++)
        lg_store(t->data, t->dtype, i, v);
    return LG_OK;
}

lg_status lg_tensor_reshape(lg_tensor *t, int ndim, const int64_t *shape)
{
    if (!t)
        return lg_set_error(LG_ERR_ARG, "lg_tensor_reshape: tensor is NULL");
    if (t->graph || (t->flags & LG_TF_BORROWED))
        return lg_set_error(LG_ERR_ARG, "lg_tensor_reshape: tensor belongs to a graph or a "
                            "parameter store; use lg_reshape");
    lg_tensor tmp;
    char msg[160];
    lg_status s = lg_shape_init(&tmp, ndim, shape, "lg_tensor_reshape", msg, sizeof msg);
    if (s != LG_OK)
        return lg_set_error(s, "%s", msg);
    if (tmp.numel != t->numel)
        return lg_set_error(LG_ERR_SHAPE, "lg_tensor_reshape: cannot reshape %s (%lld "
                            "elements) to %s", lg_tshape(t).s, (long long)t->numel,
                            lg_shape_str(ndim, shape).s);
    if (t->grad && lg_tensor_reshape(t->grad, ndim, shape) != LG_OK)
        return LG_ERR_STATE;
    memcpy(t->shape, tmp.shape, sizeof t->shape);
    memcpy(t->strides, tmp.strides, sizeof t->strides);
    t->ndim = ndim;
    return LG_OK;
}

lg_dtype lg_tensor_dtype(const lg_tensor *t)
{
    if (!t)
        lg_set_error(LG_ERR_ARG, "lg_tensor_dtype: tensor is NULL");
    return t ? t->dtype : LG_DTYPE_INVALID;
}
int lg_tensor_ndim(const lg_tensor *t) { return t ? t->ndim : 0; }
const int64_t *lg_tensor_shape(const lg_tensor *t) { return t ? t->shape : NULL; }
const int64_t *lg_tensor_strides(const lg_tensor *t) { return t ? t->strides : NULL; }
int64_t lg_tensor_numel(const lg_tensor *t) { return t ? t->numel : 0; }
/* Host pointers only: a device tensor's memory is not the caller's to dereference. */
static bool on_host(const lg_tensor *t, const char *fn)
{
    if (t && t->device != LG_DEVICE_HOST)
        lg_set_error(LG_ERR_DEVICE, "%s: tensor %s is on device %d, not in host memory; read "
                     "it with lg_tensor_read", fn, lg_tshape(t).s, (int)t->device);
    return t && t->device == LG_DEVICE_HOST;
}

void *lg_tensor_data(lg_tensor *t) { return on_host(t, "lg_tensor_data") ? t->data : NULL; }
const void *lg_tensor_cdata(const lg_tensor *t)
{
    return on_host(t, "lg_tensor_cdata") ? t->data : NULL;
}

lg_device lg_tensor_device(const lg_tensor *t)
{
    if (!t)
        lg_set_error(LG_ERR_ARG, "lg_tensor_device: tensor is NULL");
    return t ? t->device : LG_DEVICE_HOST;
}

lg_status lg_tensor_read(const lg_tensor *t, void *dst, size_t bytes)
{
    if (!t || !dst)
        return lg_set_error(LG_ERR_ARG, "lg_tensor_read: %s is NULL", t ? "dst" : "tensor");
    size_t need = (size_t)t->numel * lg_dtype_size(t->dtype);
    if (bytes < need)
        return lg_set_error(LG_ERR_SHAPE, "lg_tensor_read: %s needs %zu bytes, dst has %zu",
                            lg_tshape(t).s, need, bytes);
    if (t->device != LG_DEVICE_HOST) /* no device backend is built in yet */
        return lg_set_error(LG_ERR_UNSUPPORTED, "lg_tensor_read: no backend for device %d in "
                            "this build", (int)t->device);
    if (need)
        memcpy(dst, t->data, need);
    return LG_OK;
}

static lg_status flat_index(const char *fn, const lg_tensor *t, const int64_t *idx,
                            int64_t *flat)
{
    if (!t || (!idx && t->ndim > 0))
        return lg_set_error(LG_ERR_ARG, "%s: %s is NULL", fn, t ? "index" : "tensor");
    int64_t f = 0;
    for (int i = 0; i < t->ndim; i++) {
        if (idx[i] < 0 || idx[i] >= t->shape[i])
            return lg_set_error(LG_ERR_ARG, "%s: index %lld out of range for axis %d of %s",
                                fn, (long long)idx[i], i, lg_tshape(t).s);
        f += idx[i] * t->strides[i];
    }
    *flat = f;
    return LG_OK;
}

lg_status lg_tensor_get(const lg_tensor *t, const int64_t *idx, double *out)
{
    int64_t f = 0;
    lg_status s = flat_index("lg_tensor_get", t, idx, &f);
    if (s == LG_OK && !out)
        s = lg_set_error(LG_ERR_ARG, "lg_tensor_get: out is NULL");
    if (s == LG_OK)
        *out = lg_load(t->data, t->dtype, f);
    return s;
}

lg_status lg_tensor_set(lg_tensor *t, const int64_t *idx, double v)
{
    int64_t f = 0;
    lg_status s = flat_index("lg_tensor_set", t, idx, &f);
    if (s == LG_OK)
        s = lg_check_value("lg_tensor_set", t->dtype, v);
    if (s == LG_OK)
        lg_store(t->data, t->dtype, f, v);
    return s;
}

lg_status lg_tensor_get_i64(const lg_tensor *t, const int64_t *idx, int64_t *out)
{
    int64_t f = 0;
    lg_status s = flat_index("lg_tensor_get_i64", t, idx, &f);
    if (s == LG_OK && !out)
        s = lg_set_error(LG_ERR_ARG, "lg_tensor_get_i64: out is NULL");
    if (s == LG_OK && !lg_dtype_int(t->dtype))
        s = lg_set_error(LG_ERR_DTYPE, "lg_tensor_get_i64: tensor is %s; need i32 or i64",
                         lg_dtype_name(t->dtype));
    if (s == LG_OK)
        *out = lg_load_int(t->data, t->dtype, f);
    return s;
}

lg_status lg_tensor_set_i64(lg_tensor *t, const int64_t *idx, int64_t v)
{
    int64_t f = 0;
    lg_status s = flat_index("lg_tensor_set_i64", t, idx, &f);
    if (s == LG_OK && !lg_dtype_int(t->dtype))
        s = lg_set_error(LG_ERR_DTYPE, "lg_tensor_set_i64: tensor is %s; need i32 or i64",
                         lg_dtype_name(t->dtype));
    if (s == LG_OK && t->dtype == LG_I32 && (v < INT32_MIN || v > INT32_MAX))
        s = lg_set_error(LG_ERR_ARG, "lg_tensor_set_i64: %lld does not fit in i32",
                         (long long)v);
    if (s == LG_OK && t->dtype == LG_I32)
        ((int32_t *)t->data)[f] = (int32_t)v;
    else if (s == LG_OK)
        ((int64_t *)t->data)[f] = v;
    return s;
}

double lg_tensor_item(const lg_tensor *t, int64_t flat)
{
    if (!t) {
        lg_set_error(LG_ERR_ARG, "lg_tensor_item: tensor is NULL");
        return NAN;
    }
    if (flat < 0 || flat >= t->numel) {
        lg_set_error(LG_ERR_ARG, "lg_tensor_item: index %lld out of range for %s (%lld "
                     "elements)", (long long)flat, lg_tshape(t).s, (long long)t->numel);
        return NAN;
    }
    return lg_load(t->data, t->dtype, flat);
}

lg_status lg_tensor_set_requires_grad(lg_tensor *t, bool on)
{
    if (!t)
        return lg_set_error(LG_ERR_ARG, "lg_tensor_set_requires_grad: tensor is NULL");
    if (t->graph)
        return lg_set_error(LG_ERR_ARG, "lg_tensor_set_requires_grad: tensor %s belongs to "
                            "a graph; only caller-owned leaves can be marked",
                            lg_tshape(t).s);
    if (on && !lg_dtype_is_float(t->dtype))
        return lg_set_error(LG_ERR_DTYPE, "lg_tensor_set_requires_grad: tensor %s is %s; "
                            "only f32 and f64 tensors carry gradients", lg_tshape(t).s,
                            lg_dtype_name(t->dtype));
    if (on)
        t->flags |= LG_TF_REQUIRES_GRAD;
    else
        t->flags &= ~(unsigned)LG_TF_REQUIRES_GRAD;
    return LG_OK;
}

bool lg_tensor_requires_grad(const lg_tensor *t)
{
    return t && (t->flags & LG_TF_REQUIRES_GRAD);
}

lg_tensor *lg_tensor_grad(const lg_tensor *t) { return t ? t->grad : NULL; }

lg_status lg_tensor_zero_grad(lg_tensor *t)
{
    if (!t)
        return lg_set_error(LG_ERR_ARG, "lg_tensor_zero_grad: tensor is NULL");
    if (t->grad)
        memset(t->grad->data, 0, t->grad->data_bytes);
    return LG_OK;
}

/* One element as text: integers exactly, floats to 6 significant digits. */
static void print_elem(const lg_tensor *t, FILE *f, int64_t i)
{
    if (lg_dtype_int(t->dtype))
        fprintf(f, "%lld", (long long)lg_load_int(t->data, t->dtype, i));
    else
        fprintf(f, "%.6g", lg_load(t->data, t->dtype, i));
}

static void print_rec(const lg_tensor *t, FILE *f, int axis, int64_t off, int64_t *left)
{
    fputc('[', f);
    for (int64_t i = 0; i < t->shape[axis]; i++) {
        if (*left == 0) {
            fputs(i ? ", ..." : "...", f);
            break;
        }
        if (i)
            fputs(axis == t->ndim - 1 ? ", " : ",\n ", f);
        if (axis == t->ndim - 1) {
            print_elem(t, f, off + i);
            (*left)--;
        } else {
            print_rec(t, f, axis + 1, off + i * t->strides[axis], left);
        }
    }
    fputc(']', f);
}

lg_status lg_tensor_print(const lg_tensor *t, FILE *f, int64_t max_elems)
{
    if (!t || !f)
        return lg_set_error(LG_ERR_ARG, "lg_tensor_print: %s is NULL", t ? "file" : "tensor");
    fprintf(f, "tensor(%s, shape=%s) ", lg_dtype_name(t->dtype), lg_tshape(t).s);
    int64_t left = max_elems > 0 ? max_elems : INT64_MAX;
    if (t->ndim == 0)
        print_elem(t, f, 0);
    else
        print_rec(t, f, 0, 0, &left);
    fputc('\n', f);
    return ferror(f) ? lg_set_error(LG_ERR_IO, "lg_tensor_print: write failed") : LG_OK;
}
