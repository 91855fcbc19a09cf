/* Reference elementwise kernels: unary maps, broadcast binaries, where, fill, and the
 * kernels that only move elements (row copies, permutation, gather, scatter-add). One
 * element per loop iteration, in double; the formulas are those of the table's enums. */
#include <math.h>
#include <string.h>
#include "ref_impl.h"

#define RSQRT2 0.70710678118654752440   /* 1/sqrt(2) */
#define RSQRT2PI 0.39894228040143267794 /* 1/sqrt(2 pi) */

static double unary_one(lg_unary_kind k, double v, double p)
{
    switch (k) {
    case LG_UN_NEG: return -v;
    case LG_UN_EXP: return exp(v);
    case LG_UN_LOG: return log(v);
    case LG_UN_SQRT: return sqrt(v);
    case LG_UN_ABS: return fabs(v);
    case LG_UN_SIGN: return (double)((v > 0) - (v < 0)); /* NaN gives 0, as on the CPU */
    case LG_UN_ADD_SCALAR: return v + p;
    case LG_UN_SCALE: return v * p;
    case LG_UN_POW: return pow(v, p);
    case LG_UN_RELU: return v > 0 ? v : 0;
    case LG_UN_LEAKY_RELU: return v > 0 ? v : p * v;
    /* exp(-|v|) never overflows */
    case LG_UN_SIGMOID: return v >= 0 ? 1 / (1 + exp(-v)) : exp(v) / (1 + exp(v));
    case LG_UN_TANH: return tanh(v);
    case LG_UN_GELU: return 0.5 * v * (1 + erf(v * RSQRT2));
    case LG_UN_RECIP: return 1 / v;
    case LG_UN_SOFTPLUS: return (v > 0 ? v : 0) + log1p(exp(-fabs(v)));
    }
    return NAN;
}

void lg_ref_unary(lg_unary_kind k, lg_dtype dt, int64_t n, const void *x, void *y, double p)
{
    p = ref_param(dt, p);
    for (int64_t i = 0; i < n; i++)
        ref_st(dt, y, i, unary_one(k, ref_ld(dt, x, i), p));
}

static double binary_one(lg_binary_kind k, double u, double v, double p)
{
    switch (k) {
    case LG_BIN_ADD: return u + v;
    case LG_BIN_SUB: return u - v;
    case LG_BIN_MUL: return u * v;
    case LG_BIN_DIV: return u / v;
    case LG_BIN_RELU_BWD: return v > 0 ? u : 0;
    case LG_BIN_LEAKY_BWD: return v > 0 ? u : p * u;
    case LG_BIN_LEFT: return u;
    case LG_BIN_TANH_BWD: return u * (1 - v * v);
    case LG_BIN_GELU_BWD: return u * (0.5 * (1 + erf(v * RSQRT2)) + v * RSQRT2PI * exp(-0.5 * v * v));
    }
    return NAN;
}

void lg_ref_binary(lg_binary_kind k, lg_dtype dt, const lg_bcast *bc, const void *a,
                   const void *b, void *y, double p)
{
    p = ref_param(dt, p);
    for (int64_t i = 0; i < bc->numel; i++) {
        double u = ref_ld(dt, a, ref_offset(bc, 0, i));
        double v = k == LG_BIN_LEFT ? 0 : ref_ld(dt, b, ref_offset(bc, 1, i));
        ref_st(dt, y, i, binary_one(k, u, v, p));
    }
}

void lg_ref_where(lg_dtype dt, const lg_bcast *bc, const void *m, const void *a,
                  const void *b, void *y)
{
    for (int64_t i = 0; i < bc->numel; i++) {
        bool pick_a = ref_ld(dt, m, ref_offset(bc, 0, i)) != 0; /* NaN counts as true */
        ref_st(dt, y, i, pick_a ? ref_ld(dt, a, ref_offset(bc, 1, i))
                                : ref_ld(dt, b, ref_offset(bc, 2, i)));
    }
}

void lg_ref_fill(lg_dtype dt, int64_t n, void *y, double v)
{
    for (int64_t i = 0; i < n; i++)
        lg_store(y, dt, i, v); /* any dtype: integer fills are checked by the caller */
}

/* Each element and the bounds as long double, whose 64-bit mantissa holds every i64 and
 * every double exactly; f32 compares with the bounds rounded to float, as the table says. */
int64_t lg_ref_find_outside(lg_dtype dt, int64_t n, const void *x, double lo, double hi)
{
    long double l = dt == LG_F32 ? (float)lo : lo, h = dt == LG_F32 ? (float)hi : hi;
    if (dt == LG_I32 || dt == LG_I64)
        l = ceill(l), h = floorl(h);
    for (int64_t i = 0; i < n; i++) {
        long double v; /* one branch per type: a ?: chain would round through double */
        if (dt == LG_F32)
            v = ((const float *)x)[i];
        else if (dt == LG_F64)
            v = ((const double *)x)[i];
        else if (dt == LG_I32)
            v = ((const int32_t *)x)[i];
        else
            v = ((const int64_t *)x)[i];
        if (!(v >= l && v <= h))
            return i;
    }
    return -1;
}

void lg_ref_iota(lg_dtype dt, int64_t n, void *y, double start, double step)
{
    for (int64_t i = 0; i < n; i++)
        lg_store(y, dt, i, start + (double)i * step);
}

void lg_ref_copy_rows(lg_dtype dt, int64_t rows, int64_t cols, const void *src,
                      int64_t src_ld, void *dst, int64_t dst_ld)
{
    size_t es = lg_dtype_size(dt);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < cols; j++)
            memcpy((char *)dst + (size_t)(r * dst_ld + j) * es,
                   (const char *)src + (size_t)(r * src_ld + j) * es, es);
}

void lg_ref_permute(lg_dtype dt, int ndim, const int64_t *xshape, const int *perm,
                    const void *x, void *y)
{
    int64_t xstride[LG_MAX_DIMS], n = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        xstride[d] = n;
        n *= xshape[d];
    }
    size_t es = lg_dtype_size(dt);
    /* y's element i has the multi-index (i_0 .. i_{ndim-1}) over y's shape, and y axis d
     * is x axis perm[d] */
    for (int64_t i = 0; i < n; i++) {
        int64_t rem = i, src = 0;
        for (int d = ndim - 1; d >= 0; d--) {
            int64_t len = xshape[perm[d]];
            src += (rem % len) * xstride[perm[d]];
            rem /= len;
        }
        memcpy((char *)y + (size_t)i * es, (const char *)x + (size_t)src * es, es);
    }
}

/* The index that output position (o, j, c) of a gather reads (or a scatter writes). */
static int64_t index_at(const lg_index_geom *ig, const void *idx, int64_t o, int64_t j,
                        int64_t c)
{
    int64_t q = ig->per_element ? (o * ig->k + j) * ig->inner + c : j;
    return lg_load_int(idx, ig->itype, q);
}

void lg_ref_gather(lg_dtype dt, const lg_index_geom *ig, const void *idx, const void *x,
                   void *y)
{
    size_t es = lg_dtype_size(dt); /* moves elements of any dtype */
    for (int64_t o = 0; o < ig->outer; o++)
        for (int64_t j = 0; j < ig->k; j++)
            for (int64_t c = 0; c < ig->inner; c++) {
                int64_t i = index_at(ig, idx, o, j, c);
                memcpy((char *)y + (size_t)((o * ig->k + j) * ig->inner + c) * es,
                       (const char *)x + (size_t)((o * ig->n + i) * ig->inner + c) * es, es);
            }
}

void lg_ref_scatter_add(lg_dtype dt, const lg_index_geom *ig, const void *idx,
                        const void *x, void *y)
{
    /* in order of k, so repeated indices sum in the order the contract gives */
    for (int64_t o = 0; o < ig->outer; o++)
        for (int64_t j = 0; j < ig->k; j++)
            for (int64_t c = 0; c < ig->inner; c++) {
                int64_t dst = (o * ig->n + index_at(ig, idx, o, j, c)) * ig->inner + c;
                double add = ref_ld(dt, x, (o * ig->k + j) * ig->inner + c);
                ref_st(dt, y, dst, ref_ld(dt, y, dst) + add);
            }
}
