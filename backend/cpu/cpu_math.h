/* Vectorisable math for the CPU kernels: tanh in f32 and f64, and GELU with its derivative
 * in f32, as branch-free scalar functions (selects, no calls), so that GCC vectorises a
 * loop over them, and maps over arrays built per ISA (LG_CPU_CLONES). libm's tanhf/tanh
 * are calls the vectoriser cannot enter: they were 17% of examples/sharpness's profile
 * (issue 17), and erff/expf 10% of examples/charlm's (issue 16).
 * Accuracy (tests/test_cpu_math.c holds it against libm over dense sweeps): a few ulp;
 * NaN, ±0, ±Inf, subnormal and large inputs come out exactly as libm's. Not a general
 * libm: only what the elementwise maps need. */
#ifndef LAGRAD_CPU_MATH_H
#define LAGRAD_CPU_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>
#include "cpu_impl.h" /* LG_CPU_CLONES */

static inline uint32_t lg_bits_f32(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}
static inline float lg_from_bits_f32(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}
static inline uint64_t lg_bits_f64(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}
static inline double lg_from_bits_f64(uint64_t u)
{
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* e^x for x in [-87, 20] only (what tanh and GELU below pass): Cody-Waite reduction
 * x = n ln2 + r, |r| <= ln2/2, and Cephes expf's polynomial for e^r. n is rounded by adding
 * 1.5·2^23, which leaves n in the low mantissa bits (two's complement for n < 0), so 2^n is
 * built from bits without a float to int conversion (SSE2 has none for doubles); that
 * holds while n + 127 is in [1, 254]. */
static inline float lg_exp_small_f32(float x)
{
    const float magic = 12582912.0f; /* 1.5·2^23 */
    float t = x * 1.44269504088896341f + magic;
    float n = t - magic;
    float r = x - n * 0.693359375f - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    /* the low 9 bits of t's bits are n + 127 after the add; the shift drops the rest */
    return p * lg_from_bits_f32((lg_bits_f32(t) + 127u) << 23);
}

/* e^x for x in [0, 45] only; Cephes exp's Padé form 1 + 2 r P(r²) / (Q(r²) − r P(r²)). */
static inline double lg_exp_small_f64(double x)
{
    const double magic = 6755399441055744.0; /* 1.5·2^52 */
    double t = x * 1.4426950408889634074 + magic;
    double n = t - magic;
    double r = x - n * 6.93145751953125e-1 - n * 1.42860682030941723212e-6;
    double s = r * r;
    double p = r * ((1.26177193074810590878e-4 * s + 3.02994407707441961300e-2) * s +
                    9.99999999999999999910e-1);
    double q = ((3.00198505138664455042e-6 * s + 2.52448340349684104192e-3) * s +
                2.27265548208155028766e-1) * s + 2.00000000000000000009e0;
    double e = 1.0 + 2.0 * (p / (q - p));
    return e * lg_from_bits_f64((lg_bits_f64(t) + 1023u) << 52);
}

/* tanh x = x + x³ P(x²) below 0.625 (Cephes tanhf), else sign(x) (1 − 2 / (e^{2|x|} + 1))
 * with |x| clamped at 9.5, past which tanhf rounds to 1. Both sides are computed and one
 * is selected: no branch, so the loop vectorises. */
static inline float lg_tanh_f32(float x)
{
    float a = fabsf(x), z = x * x;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    float small = x + x * (z * p);
    float c = a < 9.5f ? a : 9.5f; /* NaN becomes 9.5 here; the last select restores it */
    float big = 1.0f - 2.0f / (lg_exp_small_f32(c + c) + 1.0f);
    big = lg_from_bits_f32(lg_bits_f32(big) | (lg_bits_f32(x) & 0x80000000u));
    float y = a < 0.625f ? small : big;
    y = a < 0x1p-12f ? x : y; /* x³/3 is below half an ulp; keeps −0 and subnormals */
    return x == x ? y : x + x;
}

/* The same in f64 with Cephes tanh's rational P(x²)/Q(x²) below 0.625; clamp at 22. */
static inline double lg_tanh_f64(double x)
{
    double a = fabs(x), z = x * x;
    double p = (-9.64399179425052238628e-1 * z - 9.92877231001918586564e1) * z -
               1.61468768441708447952e3;
    double q = ((z + 1.12811678491632931402e2) * z + 2.23548839060100448583e3) * z +
               4.84406305325125486048e3;
    double small = x + x * (z * (p / q));
    double c = a < 22.0 ? a : 22.0;
    double big = 1.0 - 2.0 / (lg_exp_small_f64(c + c) + 1.0);
    big = lg_from_bits_f64(lg_bits_f64(big) | (lg_bits_f64(x) & 0x8000000000000000u));
    double y = a < 0.625 ? small : big;
    y = a < 0x1p-27 ? x : y;
    return x == x ? y : x + x;
}

/* The left Gaussian tail ½ erfc(|x|/√2) = Φ(-|x|) in f32, and *e = exp(-x²/2). With
 * z = |x|/√2 and t = 1/(1 + z/2), ½ erfc(z) = ½ t exp(-z²) exp(P(t)), P the Chebyshev fit
 * of Numerical Recipes' erfcc (fractional error below 1.2e-7 for every z >= 0). x²/2 is
 * split into an exact head (|x| cut to 12 significant bits, so its square is exact) and a
 * small tail, so that exp(-x²/2) keeps its relative accuracy far out (a rounded z² cost
 * hundreds of ulp at |x| = 13). Past |x| = 13.2 the tail underflows: 0. */
static inline float lg_gauss_tail_f32(float x, float *e)
{
    float a = fabsf(x);
    a = a < 13.2f ? a : 13.2f; /* NaN becomes 13.2 here; callers restore it */
    float ah = lg_from_bits_f32(lg_bits_f32(a) & 0xFFFFF000u);
    *e = lg_exp_small_f32(-0.5f * (ah * ah)) * lg_exp_small_f32(-0.5f * ((a - ah) * (a + ah)));
    float t = 1.0f / (1.0f + 0.35355339059327376f * a); /* 1 / (1 + z/2) */
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    float w = 0.5f * t * (*e * lg_exp_small_f32(p));
    return fabsf(x) < 13.2f ? w : 0.0f;
}

/* Φ(x): the tail for x <= 0 and 1 minus it above, so the left tail keeps its relative
 * accuracy (1 + erf(x/√2), the textbook form, cancels there). */
static inline float lg_phi_cdf_f32(float x, float *e_z2)
{
    float w = lg_gauss_tail_f32(x, e_z2);
    return x <= 0.0f ? w : 1.0f - w;
}

/* gelu(x) = x Φ(x); NaN in, NaN out. */
static inline float lg_gelu_f32(float x)
{
    float e;
    float y = x * lg_phi_cdf_f32(x, &e);
    return x == x ? y : x + x;
}

/* gelu'(x) = Φ(x) + x φ(x), φ(x) = exp(-x²/2) / √(2π). */
static inline float lg_gelu_grad_f32(float x)
{
    float e;
    float y = lg_phi_cdf_f32(x, &e) + x * (0.39894228040143267794f * e);
    float tail = x > 0 ? 1.0f : 0.0f;
    tail = fabsf(x) <= 3.40282347e38f ? tail : x - x; /* ±Inf: NaN, as Φ + x φ gives */
    y = fabsf(x) < 13.2f ? y : tail;
    return x == x ? y : x + x;
}

/* f64: libm's erf and exp (the same formulas as the reference backend). */
static inline double lg_gelu_f64(double x)
{
    return 0.5 * x * (1.0 + erf(x * 0.70710678118654752440));
}
static inline double lg_gelu_grad_f64(double x)
{
    return 0.5 * (1.0 + erf(x * 0.70710678118654752440)) +
           x * 0.39894228040143267794 * exp(-0.5 * x * x);
}

/* y[i] = tanh(x[i]) for i < n; y may equal x. */
LG_CPU_CLONES static inline void lg_tanh_map_f32(int64_t n, const float *x, float *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = lg_tanh_f32(x[i]);
}
LG_CPU_CLONES static inline void lg_tanh_map_f64(int64_t n, const double *x, double *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = lg_tanh_f64(x[i]);
}

/* y[i] = gelu(x[i]) for i < n; y may equal x. */
LG_CPU_CLONES static inline void lg_gelu_map_f32(int64_t n, const float *x, float *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = lg_gelu_f32(x[i]);
}
static inline void lg_gelu_map_f64(int64_t n, const double *x, double *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = lg_gelu_f64(x[i]);
}

/* y[i] = dy[i] gelu'(x[i]) for i < n (GELU's backward, contiguous operands). */
LG_CPU_CLONES static inline void lg_gelu_bwd_map_f32(int64_t n, const float *dy,
                                                     const float *x, float *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = dy[i] * lg_gelu_grad_f32(x[i]);
}
static inline void lg_gelu_bwd_map_f64(int64_t n, const double *dy, const double *x,
                                       double *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = dy[i] * lg_gelu_grad_f64(x[i]);
}

#endif
