/* backend/cpu/cpu_math.h: the vectorised tanh against libm's tanhf/tanh (the independent
 * truth), in ulp over dense sweeps, and exactly on the special values; the f32 GELU and
 * its derivative against libm's erfc and exp in double. The maps are called as the
 * backend calls them (the ISA clone picked at load time). */
#include "test_util.h"
#include <float.h>
#include <stdlib.h>
#include "backend/cpu/cpu_math.h"

/* Position of x on the number line in ulp steps (−0 and +0 both 0), so that the
 * difference of two positions is the ulp distance. */
static int64_t ord_f32(float x)
{
    int32_t i;
    memcpy(&i, &x, sizeof i);
    return i < 0 ? -(int64_t)(i & INT32_MAX) : i;
}
static int64_t ord_f64(double x)
{
    int64_t i;
    memcpy(&i, &x, sizeof i);
    return i < 0 ? -(i & INT64_MAX) : i;
}

enum { BLOCK = 4096 };

/* Max ulp error of lg_tanh_map_f32 over x[0..n) against tanhf; the worst x in *wx. */
static int64_t check_block_f32(int n, const float *x, float *wx)
{
    static float y[BLOCK];
    int64_t worst = 0;
    lg_tanh_map_f32(n, x, y);
    for (int i = 0; i < n; i++) {
        int64_t d = llabs(ord_f32(y[i]) - ord_f32(tanhf(x[i])));
        if (d > worst) {
            worst = d;
            *wx = x[i];
        }
    }
    return worst;
}

/* The same over the floats whose bit patterns are lo, lo + step, ... below hi, both
 * signs. */
static int64_t sweep_f32(uint32_t lo, uint32_t hi, uint32_t step, float *wx)
{
    static float x[BLOCK];
    int64_t worst = 0, d;
    int n = 0;
    for (uint64_t b = lo; b < hi; b += step) {
        uint32_t u[2] = {(uint32_t)b, (uint32_t)b | 0x80000000u};
        memcpy(&x[n], u, sizeof u);
        n += 2;
        if (n == BLOCK) {
            if ((d = check_block_f32(n, x, wx)) > worst)
                worst = d;
            n = 0;
        }
    }
    if (n > 0 && (d = check_block_f32(n, x, wx)) > worst)
        worst = d;
    return worst;
}

static void test_tanh_f32_within_2ulp_of_libm_over_dense_sweeps(void **state)
{
    (void)state;
    float wx = 0;
    /* every float in [0.5, 1) (around the switch at 0.625), every 7th from 2^-13 to 16
     * (small side, exp side, the clamp at 9.5), every 101st over all finite floats */
    int64_t w1 = sweep_f32(0x3f000000u, 0x3f800000u, 1, &wx);
    int64_t w2 = sweep_f32(0x39000000u, 0x41800000u, 7, &wx);
    int64_t w3 = sweep_f32(0, 0x7f800000u, 101, &wx);
    int64_t w = w1 > w2 ? (w1 > w3 ? w1 : w3) : (w2 > w3 ? w2 : w3);
    if (w > 2) {
        print_error("tanh f32: %lld ulp at %a\n", (long long)w, (double)wx);
        fail();
    }
}

static void test_tanh_f64_within_2ulp_of_libm_over_dense_sweeps(void **state)
{
    (void)state;
    enum { N = 1 << 20 };
    double *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    /* a uniform grid over [-25, 25], then log-uniform magnitudes from 2^-40 to 2^6 */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < N; i++) {
            double u = (i + 0.5) / N;
            x[i] = pass == 0 ? -25 + 50 * u
                             : (i % 2 ? -1 : 1) * exp2(-40 + 46 * u) * (1 + 0x1p-20 * (i % 977));
        }
        lg_tanh_map_f64(N, x, y);
        int64_t worst = 0;
        double wx = 0;
        for (int i = 0; i < N; i++) {
            int64_t d = llabs(ord_f64(y[i]) - ord_f64(tanh(x[i])));
            if (d > worst) {
                worst = d;
                wx = x[i];
            }
        }
        if (worst > 2) {
            print_error("tanh f64: %lld ulp at %a\n", (long long)worst, wx);
            free(x);
            free(y);
            fail();
        }
    }
    free(x);
    free(y);
}

/* Bitwise equal, or both NaN. */
static void assert_same_f64(double got, double want, double at)
{
    if (isnan(want) ? !isnan(got) : memcmp(&got, &want, sizeof got) != 0) {
        print_error("tanh(%a) = %a, libm %a\n", at, got, want);
        fail();
    }
}

static void test_tanh_special_values_match_libm_exactly(void **state)
{
    (void)state;
    static const double v[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, -NAN, 0x1p-1074,
                               -0x1p-1074, 0x1p-1030, 0x1p-149, -0x1p-140, 0x1p-130, 1e-300,
                               0x1p-28, -0x1p-28, 0x1p-30, 1e30, -1e30, 1e300, 3.4e38,
                               -3.4e38, 9.5, -9.5, 12, 19.5, 22, -22, 30, 710, 1e5};
    enum { NV = sizeof v / sizeof *v };
    double yd[NV];
    lg_tanh_map_f64(NV, v, yd);
    float xf[NV], yf[NV];
    for (int i = 0; i < NV; i++)
        xf[i] = (float)v[i];
    lg_tanh_map_f32(NV, xf, yf);
    for (int i = 0; i < NV; i++) {
        assert_same_f64(yd[i], tanh(v[i]), v[i]);
        assert_same_f64(yf[i], tanhf(xf[i]), xf[i]);
    }
}

/* Lengths that leave a remainder after every vector width, and y = x in place. */
static void test_tanh_map_any_length_and_in_place(void **state)
{
    (void)state;
    for (int n = 0; n <= 67; n++) {
        float x[67], y[67];
        double xd[67], yd[67];
        for (int i = 0; i < n; i++) {
            xd[i] = 0.37 * i - 7;
            x[i] = (float)xd[i];
        }
        lg_tanh_map_f32(n, x, y);
        lg_tanh_map_f32(n, x, x);
        lg_tanh_map_f64(n, xd, yd);
        lg_tanh_map_f64(n, xd, xd);
        for (int i = 0; i < n; i++) {
            float want = tanhf((float)(0.37 * i - 7));
            assert_true(llabs(ord_f32(y[i]) - ord_f32(want)) <= 2);
            assert_true(memcmp(&x[i], &y[i], sizeof x[i]) == 0);
            assert_true(llabs(ord_f64(yd[i]) - ord_f64(tanh(0.37 * i - 7))) <= 2);
            assert_true(memcmp(&xd[i], &yd[i], sizeof xd[i]) == 0);
        }
    }
}

/* Distance in ulp of `want`'s magnitude (a float) between got and want. */
static double ulps_of(double got, double want, double scale)
{
    float s = (float)fabs(scale);
    return fabs(got - want) / (double)(nextafterf(s, INFINITY) - s);
}

/* GELU in f32 against x Φ(x) in double, Φ(x) = ½ erfc(-x/√2) (libm, no cancellation in
 * the left tail), on a grid of step 2^-12 over [-14, 14] (229,377 points) through the
 * map the unary kernel calls: within 8 ulp wherever Φ(x) is a normal float, and the
 * derivative Φ + x φ (the binary kernel's map, with dy = 1) within 8 ulp of its larger
 * term, since it crosses zero near x = -0.75; below about -12.95, where Φ underflows,
 * both within 16 FLT_MIN. The old f32 form x ½(1 + erff(x/√2)) was 4% off at x = -5. */
static void test_gelu_f32_within_8ulp_of_erfc_in_double(void **state)
{
    (void)state;
    enum { N = 28 * 4096 + 1 };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y), *d = malloc(N * sizeof *d);
    float *ones = malloc(N * sizeof *ones);
    assert_true(x && y && d && ones);
    for (int i = 0; i < N; i++)
        x[i] = -14.0f + (float)i * 0x1p-12f, ones[i] = 1.0f;
    lg_gelu_map_f32(N, x, y);
    lg_gelu_bwd_map_f32(N, ones, x, d);
    double worst = 0, worst_d = 0, wx = 0, wdx = 0;
    for (int i = 0; i < N; i++) {
        double xd = x[i], cdf = 0.5 * erfc(-xd / sqrt(2.0));
        double pdf_term = xd * exp(-0.5 * xd * xd) / 2.50662827463100050242;
        double want = xd * cdf, want_d = cdf + pdf_term;
        if (cdf >= FLT_MIN) { /* x above about -12.95 */
            double u = ulps_of(y[i], want, want);
            if (u > worst)
                worst = u, wx = xd;
            u = ulps_of(d[i], want_d, fmax(cdf, fabs(pdf_term)));
            if (u > worst_d)
                worst_d = u, wdx = xd;
        } else { /* the underflowing tail: off by less than a few FLT_MIN */
            assert_true(fabs(y[i] - want) < 16 * FLT_MIN && fabs(d[i] - want_d) < 16 * FLT_MIN);
        }
    }
    free(x), free(y), free(d), free(ones);
    if (worst > 8 || worst_d > 8) {
        print_error("gelu f32: %.1f ulp at %a; gelu' %.1f ulp at %a\n", worst, wx, worst_d,
                    wdx);
        fail();
    }
}

/* NaN stays NaN; gelu(±0) = ±0, gelu(+Inf) = +Inf and gelu(-Inf) = NaN (-Inf · 0, as the
 * formula and the reference backend give); gelu'(0) = ½, gelu'(±Inf) NaN, and far out
 * the limits 1 and 0. */
static void test_gelu_f32_special_values(void **state)
{
    (void)state;
    const float x[] = {NAN, 0.0f, -0.0f, INFINITY, -INFINITY, 20.0f, -20.0f, 1e30f, -1e30f};
    enum { NX = sizeof x / sizeof *x };
    float y[NX], d[NX], ones[NX];
    for (int i = 0; i < NX; i++)
        ones[i] = 1.0f;
    lg_gelu_map_f32(NX, x, y);
    lg_gelu_bwd_map_f32(NX, ones, x, d);
    assert_true(isnan(y[0]) && isnan(d[0]));
    assert_true(y[1] == 0 && !signbit(y[1]) && y[2] == 0 && signbit(y[2]));
    assert_true(y[3] == INFINITY && isnan(y[4]));
    assert_true(d[1] == 0.5f && d[2] == 0.5f && isnan(d[3]) && isnan(d[4]));
    assert_true(y[5] == 20.0f && y[6] == 0 && y[7] == 1e30f && y[8] == 0);
    assert_true(d[5] == 1.0f && d[6] == 0.0f && d[7] == 1.0f && d[8] == 0.0f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tanh_f32_within_2ulp_of_libm_over_dense_sweeps),
        cmocka_unit_test(test_tanh_f64_within_2ulp_of_libm_over_dense_sweeps),
        cmocka_unit_test(test_tanh_special_values_match_libm_exactly),
        cmocka_unit_test(test_tanh_map_any_length_and_in_place),
        cmocka_unit_test(test_gelu_f32_within_8ulp_of_erfc_in_double),
        cmocka_unit_test(test_gelu_f32_special_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
