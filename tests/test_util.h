/* Shared test helpers: tolerance compares that print the worst error, a gradcheck
 * wrapper, and random tensors. Include after <cmocka.h>'s prerequisites. */
#ifndef LAGRAD_TEST_UTIL_H
#define LAGRAD_TEST_UTIL_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "lagrad/lagrad.h"

/* Asserts |got[i] - want[i]| <= atol + rtol |want[i]| for all i, printing the worst. */
static inline void tu_assert_close_arr(const double *got, const double *want, int64_t n,
                                       double atol, double rtol, const char *what)
{
    double max_abs = 0, max_rel = 0;
    int64_t worst = -1;
    double worst_excess = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        double err = fabs(got[i] - want[i]);
        double rel = err / (fabs(want[i]) > 0 ? fabs(want[i]) : 1);
        double excess = err - atol - rtol * fabs(want[i]);
        if (isnan(got[i]) != isnan(want[i]))
            excess = INFINITY;
        if (err > max_abs) max_abs = err;
        if (rel > max_rel) max_rel = rel;
        if (excess > worst_excess) {
            worst_excess = excess;
            worst = i;
        }
    }
    if (worst_excess > 0) {
        print_error("%s: element %lld got %.12g want %.12g (max abs err %.3g, max rel err "
                    "%.3g)\n", what, (long long)worst, got[worst], want[worst], max_abs, max_rel);
        fail();
    }
}

/* Asserts |got - want| <= tol in double precision (cmocka's assert_float_equal casts to
 * float). */
#define tu_assert_near(got, want, tol)                                                   \
    tu_assert_near_at((got), (want), (tol), #got, __FILE__, __LINE__)
static inline void tu_assert_near_at(double got, double want, double tol, const char *what,
                                     const char *file, int line)
{
    if (!(fabs(got - want) <= tol)) {
        print_error("%s:%d: %s = %.17g, want %.17g (tol %.3g)\n", file, line, what, got, want,
                    tol);
        fail();
    }
}

/* Compares a tensor (either dtype) against expected doubles. */
static inline void tu_assert_tensor_close(const lg_tensor *t, const double *want, int64_t n,
                                          double atol, double rtol, const char *what)
{
    assert_non_null(t);
    assert_int_equal(lg_tensor_numel(t), n);
    double got[4096];
    assert_true(n <= 4096);
    for (int64_t i = 0; i < n; i++)
        got[i] = lg_tensor_item(t, i);
    tu_assert_close_arr(got, want, n, atol, rtol, what);
}

/* Runs lg_gradcheck (first order, plus second order when asked) and fails with its
 * report when it does not pass. */
static inline void tu_gradcheck(lg_fn f, void *ctx, lg_tensor *const *in, int n,
                                bool second_order, const char *what)
{
    lg_gradcheck_opts o = lg_gradcheck_defaults();
    lg_gradcheck_report r;
    lg_status s = lg_gradcheck(f, ctx, in, n, &o, &r);
    if (s != LG_OK) {
        print_error("%s (first order): %s: %s\n", what, lg_status_str(s), r.msg);
        fail();
    }
    if (second_order) {
        o.second_order = true;
        o.rtol = 1e-3;
        o.atol = 1e-4;
        s = lg_gradcheck(f, ctx, in, n, &o, &r);
        if (s != LG_OK) {
            print_error("%s (second order): %s: %s\n", what, lg_status_str(s), r.msg);
            fail();
        }
    }
}

/* A caller-owned f64 tensor of normals (or uniforms in [lo, hi) when lo < hi). */
static inline lg_tensor *tu_rand(int ndim, const int64_t *shape, uint64_t seed, double lo,
                                 double hi)
{
    lg_rng r;
    lg_rng_init(&r, seed);
    lg_tensor *t = lo < hi ? lg_tensor_uniform(LG_F64, ndim, shape, lo, hi, &r)
                           : lg_tensor_normal(LG_F64, ndim, shape, 0.0, 1.0, &r);
    assert_non_null(t);
    return t;
}

/* Skips the calling test, with `why` printed, when the process's backend (LAGRAD_BACKEND)
 * is not the CPU: for tests whose subject is the CPU backend itself (its BLAS calls, its
 * threads, its bits) or its speed. The reference backend's parity with the CPU is
 * tests/test_backend_parity.c's job. */
#define tu_skip_unless_cpu_backend(why)                                                  \
    do {                                                                                 \
        const char *be_ = lg_backend_name(lg_backend_default());                         \
        if (strcmp(be_, "cpu") != 0) {                                                   \
            printf("skipped on backend %s: %s\n", be_, (why));                           \
            skip();                                                                      \
        }                                                                                \
    } while (0)

#endif
