/* backend/cpu/cpu_math.h: the vectorised tanh against libm's tanhf/tanh (the independent
 * truth), in ulp over dense sweeps, and exactly on the special values. The maps are
 * called as the backend calls them (the ISA clone picked at load time). */
#include "test_util.h"
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tanh_f32_within_2ulp_of_libm_over_dense_sweeps),
        cmocka_unit_test(test_tanh_f64_within_2ulp_of_libm_over_dense_sweeps),
        cmocka_unit_test(test_tanh_special_values_match_libm_exactly),
        cmocka_unit_test(test_tanh_map_any_length_and_in_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
