/* Tensors: creation, shapes and strides, element access, copy and reshape, printing,
 * the counter-based RNG, and the error paths of each. */
#include <string.h>
#include "test_util.h"

static void test_zeros_ones_full_have_shape_strides_and_values(void **state)
{
    (void)state;
    int64_t s[3] = {2, 3, 4};
    lg_tensor *z = lg_tensor_zeros(LG_F32, 3, s), *o = lg_tensor_ones(LG_F64, 3, s);
    lg_tensor *f = lg_tensor_full(LG_F32, 3, s, -2.5);
    assert_int_equal(lg_tensor_ndim(z), 3);
    assert_int_equal(lg_tensor_numel(z), 24);
    const int64_t *st = lg_tensor_strides(z);
    assert_int_equal(st[0], 12); /* row-major: (3*4, 4, 1) */
    assert_int_equal(st[1], 4);
    assert_int_equal(st[2], 1);
    for (int64_t i = 0; i < 24; i++) {
        tu_assert_near(lg_tensor_item(z, i), 0.0, 0);
        tu_assert_near(lg_tensor_item(o, i), 1.0, 0);
        tu_assert_near(lg_tensor_item(f, i), -2.5, 0);
    }
    assert_int_equal(lg_tensor_dtype(o), LG_F64);
    lg_tensor_free(z);
    lg_tensor_free(o);
    lg_tensor_free(f);
}

static void test_scalar_and_rank4_tensors(void **state)
{
    (void)state;
    lg_tensor *s = lg_tensor_full(LG_F64, 0, NULL, 7.0);
    assert_non_null(s);
    assert_int_equal(lg_tensor_numel(s), 1);
    double v;
    assert_int_equal(lg_tensor_get(s, NULL, &v), LG_OK);
    tu_assert_near(v, 7.0, 0);
    int64_t sh[4] = {2, 1, 3, 2};
    lg_tensor *t = lg_tensor_zeros(LG_F32, 4, sh);
    int64_t idx[4] = {1, 0, 2, 1};
    assert_int_equal(lg_tensor_set(t, idx, 4.5), LG_OK);
    tu_assert_near(lg_tensor_item(t, 1 * 6 + 2 * 2 + 1), 4.5, 0); /* flat 11 */
    lg_tensor_free(s);
    lg_tensor_free(t);
}

static void test_from_data_copies_and_wrap_does_not(void **state)
{
    (void)state;
    double buf[4] = {1, 2, 3, 4};
    int64_t s[2] = {2, 2};
    lg_tensor *c = lg_tensor_from_data(LG_F64, 2, s, buf);
    lg_tensor *w = lg_tensor_wrap(LG_F64, 2, s, buf);
    buf[3] = 40;
    tu_assert_near(lg_tensor_item(c, 3), 4.0, 0);
    tu_assert_near(lg_tensor_item(w, 3), 40.0, 0);
    assert_ptr_equal(lg_tensor_data(w), buf);
    lg_tensor_free(w); /* leaves buf alone (ASan would catch a bad free) */
    lg_tensor *cp = lg_tensor_copy(c);
    assert_memory_equal(lg_tensor_cdata(cp), lg_tensor_cdata(c), 4 * sizeof(double));
    assert_true(lg_tensor_data(cp) != lg_tensor_data(c));
    lg_tensor_free(c);
    lg_tensor_free(cp);
}

static void test_arange_and_eye(void **state)
{
    (void)state;
    lg_tensor *a = lg_tensor_arange(LG_F64, 1.0, 2.0, 0.25);
    const double want[4] = {1.0, 1.25, 1.5, 1.75};
    tu_assert_tensor_close(a, want, 4, 0, 0, "arange(1, 2, 0.25)");
    lg_tensor *d = lg_tensor_arange(LG_F32, 3, 0, -1);
    const double wantd[3] = {3, 2, 1};
    tu_assert_tensor_close(d, wantd, 3, 0, 0, "arange(3, 0, -1)");
    lg_tensor *e = lg_tensor_eye(LG_F32, 3);
    for (int i = 0; i < 9; i++)
        tu_assert_near(lg_tensor_item(e, i), (i % 4 == 0 ? 1.0 : 0.0), 0);
    assert_null(lg_tensor_arange(LG_F32, 0, 1, 0));
    assert_non_null(strstr(lg_last_errmsg(), "lg_tensor_arange"));
    lg_tensor_free(a);
    lg_tensor_free(d);
    lg_tensor_free(e);
}

static void test_reshape_keeps_data_and_checks_numel(void **state)
{
    (void)state;
    lg_tensor *a = lg_tensor_arange(LG_F64, 0, 6, 1);
    int64_t s23[2] = {2, 3}, s4[1] = {4};
    assert_int_equal(lg_tensor_reshape(a, 2, s23), LG_OK);
    double v;
    assert_int_equal(lg_tensor_get(a, (int64_t[]){1, 2}, &v), LG_OK);
    tu_assert_near(v, 5.0, 0);
    assert_int_equal(lg_tensor_reshape(a, 1, s4), LG_ERR_SHAPE);
    assert_non_null(strstr(lg_last_errmsg(), "(2,3)"));
    assert_non_null(strstr(lg_last_errmsg(), "(4)"));
    lg_tensor_free(a);
}

static void test_copy_from_and_fill(void **state)
{
    (void)state;
    int64_t s[1] = {3};
    lg_tensor *a = lg_tensor_full(LG_F32, 1, s, 2), *b = lg_tensor_zeros(LG_F32, 1, s);
    lg_tensor *c = lg_tensor_zeros(LG_F64, 1, s);
    assert_int_equal(lg_tensor_copy_from(b, a), LG_OK);
    tu_assert_near(lg_tensor_item(b, 2), 2.0, 0);
    assert_int_equal(lg_tensor_copy_from(c, a), LG_ERR_DTYPE);
    assert_int_equal(lg_tensor_copy_from(NULL, a), LG_ERR_ARG);
    assert_int_equal(lg_tensor_fill(c, 3.5), LG_OK);
    tu_assert_near(lg_tensor_item(c, 1), 3.5, 0);
    assert_int_equal(lg_tensor_fill(NULL, 1), LG_ERR_ARG);
    lg_tensor_free(a);
    lg_tensor_free(b);
    lg_tensor_free(c);
}

static void test_creation_rejects_bad_input(void **state)
{
    (void)state;
    int64_t neg[2] = {2, -1}, ok[2] = {2, 2}, big[7] = {1, 1, 1, 1, 1, 1, 1};
    assert_null(lg_tensor_new(LG_F32, 2, neg));
    assert_non_null(strstr(lg_last_errmsg(), "negative dimension"));
    assert_null(lg_tensor_new(LG_F32, 7, big));
    assert_non_null(strstr(lg_last_errmsg(), "ndim 7"));
    assert_null(lg_tensor_new((lg_dtype)5, 2, ok));
    assert_non_null(strstr(lg_last_errmsg(), "dtype"));
    assert_null(lg_tensor_new(LG_F32, 2, NULL));
    assert_null(lg_tensor_from_data(LG_F32, 2, ok, NULL));
    assert_null(lg_tensor_wrap(LG_F32, 2, ok, NULL));
    assert_null(lg_tensor_uniform(LG_F32, 2, ok, 0, 1, NULL));
    assert_null(lg_tensor_copy(NULL));
    int64_t huge[2] = {INT64_MAX / 2, 4};
    assert_null(lg_tensor_new(LG_F32, 2, huge));
    /* empty, but its strides would overflow: 2^53 * 2^53 * 4 (found by fuzzing) */
    int64_t hidden[4] = {0, 1LL << 53, 1LL << 53, 4}, empty[3] = {0, 1LL << 20, 3};
    assert_null(lg_tensor_new(LG_F32, 4, hidden));
    assert_non_null(strstr(lg_last_errmsg(), "too large"));
    lg_tensor *e = lg_tensor_new(LG_F32, 3, empty);
    assert_non_null(e);
    assert_int_equal(lg_tensor_numel(e), 0);
    lg_tensor_free(e);
    lg_tensor_free(NULL); /* a no-op */
}

static void test_get_set_reject_out_of_range(void **state)
{
    (void)state;
    int64_t s[2] = {2, 3};
    lg_tensor *t = lg_tensor_zeros(LG_F64, 2, s);
    double v;
    assert_int_equal(lg_tensor_get(t, (int64_t[]){2, 0}, &v), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "axis 0"));
    assert_int_equal(lg_tensor_set(t, (int64_t[]){0, -1}, 1), LG_ERR_ARG);
    assert_int_equal(lg_tensor_get(t, NULL, &v), LG_ERR_ARG);
    assert_int_equal(lg_tensor_get(t, (int64_t[]){0, 0}, NULL), LG_ERR_ARG);
    /* NaN plus a status, so an unchecked loop prints nan rather than a plausible 0 */
    assert_true(isnan(lg_tensor_item(t, 99)));
    assert_int_equal(lg_last_status(), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "index 99 out of range"));
    assert_true(isnan(lg_tensor_item(NULL, 0)));
    assert_int_equal(lg_last_status(), LG_ERR_ARG);
    lg_tensor_free(t);
}

static void print_to(const lg_tensor *t, int64_t max, char *buf, size_t len)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(lg_tensor_print(t, f, max), LG_OK);
    rewind(f);
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static void test_print_shows_dtype_shape_and_values(void **state)
{
    (void)state;
    const double d[6] = {1, 2, 3, 4, 5, 6.5};
    int64_t s[2] = {2, 3};
    lg_tensor *t = lg_tensor_from_data(LG_F64, 2, s, d);
    char buf[256];
    print_to(t, 0, buf, sizeof buf);
    assert_string_equal(buf, "tensor(f64, shape=(2,3)) [[1, 2, 3],\n [4, 5, 6.5]]\n");
    print_to(t, 2, buf, sizeof buf);
    assert_string_equal(buf, "tensor(f64, shape=(2,3)) [[1, 2, ...], ...]\n");
    assert_int_equal(lg_tensor_print(NULL, stdout, 0), LG_ERR_ARG);
    lg_tensor_free(t);
}

static void test_rng_same_seed_same_bits_at_any_thread_count(void **state)
{
    (void)state;
    int64_t s[1] = {200000}; /* above the OpenMP threshold */
    lg_rng r1, r2;
    lg_set_num_threads(1);
    lg_rng_init(&r1, 42);
    lg_tensor *a = lg_tensor_normal(LG_F32, 1, s, 0, 1, &r1);
    lg_set_num_threads(2);
    lg_rng_init(&r2, 42);
    lg_tensor *b = lg_tensor_normal(LG_F32, 1, s, 0, 1, &r2);
    assert_memory_equal(lg_tensor_cdata(a), lg_tensor_cdata(b), 200000 * sizeof(float));
    assert_int_equal(r1.counter, r2.counter);
    /* Another seed gives other numbers. */
    lg_rng_init(&r2, 43);
    lg_tensor *c = lg_tensor_normal(LG_F32, 1, s, 0, 1, &r2);
    assert_true(memcmp(lg_tensor_cdata(a), lg_tensor_cdata(c), 1000 * sizeof(float)) != 0);
    lg_tensor_free(a);
    lg_tensor_free(b);
    lg_tensor_free(c);
}

/* Moments of 200k draws: mean within 5 standard errors of the truth. */
static void test_rng_moments_match_distributions(void **state)
{
    (void)state;
    int64_t n = 200000;
    lg_rng r;
    lg_rng_init(&r, 7);
    lg_tensor *u = lg_tensor_uniform(LG_F64, 1, &n, -1, 3, &r);
    lg_tensor *z = lg_tensor_normal(LG_F64, 1, &n, 2, 0.5, &r);
    double su = 0, sz = 0, sz2 = 0, lo = 1e9, hi = -1e9;
    for (int64_t i = 0; i < n; i++) {
        double a = lg_tensor_item(u, i), b = lg_tensor_item(z, i);
        su += a;
        sz += b;
        sz2 += (b - 2) * (b - 2);
        lo = a < lo ? a : lo;
        hi = a > hi ? a : hi;
    }
    /* uniform(-1, 3): mean 1, sd 4/sqrt(12); normal(2, 0.5) */
    assert_true(fabs(su / n - 1.0) < 5 * (4 / sqrt(12.0)) / sqrt((double)n));
    assert_true(lo >= -1 && hi < 3);
    assert_true(fabs(sz / n - 2.0) < 5 * 0.5 / sqrt((double)n));
    assert_true(fabs(sqrt(sz2 / n) - 0.5) < 0.005);
    lg_tensor_free(u);
    lg_tensor_free(z);
}

static void test_requires_grad_only_on_caller_tensors(void **state)
{
    (void)state;
    int64_t n = 2;
    lg_tensor *x = lg_tensor_zeros(LG_F32, 1, &n);
    assert_false(lg_tensor_requires_grad(x));
    assert_int_equal(lg_tensor_set_requires_grad(x, true), LG_OK);
    assert_true(lg_tensor_requires_grad(x));
    assert_null(lg_tensor_grad(x));
    lg_graph *g = lg_graph_new();
    lg_tensor *y = lg_exp(g, x);
    assert_true(lg_tensor_requires_grad(y)); /* recorded output */
    assert_int_equal(lg_tensor_set_requires_grad(y, false), LG_ERR_ARG);
    assert_int_equal(lg_tensor_set_requires_grad(NULL, true), LG_ERR_ARG);
    lg_tensor_free(y); /* refused: the graph owns it, and nothing breaks */
    lg_graph_free(g);
    lg_tensor_free(x);
}

static void test_status_strings_are_distinct(void **state)
{
    (void)state;
    assert_string_equal(lg_status_str(LG_OK), "ok");
    assert_string_equal(lg_status_str(LG_ERR_NOT_SPD), "matrix not positive definite");
    assert_string_equal(lg_status_str((lg_status)-99), "unknown status");
    for (int a = 0; a >= LG_ERR_NO_CONVERGE; a--)
        for (int b = a - 1; b >= LG_ERR_NO_CONVERGE; b--)
            assert_string_not_equal(lg_status_str((lg_status)a), lg_status_str((lg_status)b));
    assert_int_equal(lg_dtype_size(LG_F32), 4);
    assert_int_equal(lg_dtype_size(LG_F64), 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zeros_ones_full_have_shape_strides_and_values),
        cmocka_unit_test(test_scalar_and_rank4_tensors),
        cmocka_unit_test(test_from_data_copies_and_wrap_does_not),
        cmocka_unit_test(test_arange_and_eye),
        cmocka_unit_test(test_reshape_keeps_data_and_checks_numel),
        cmocka_unit_test(test_copy_from_and_fill),
        cmocka_unit_test(test_creation_rejects_bad_input),
        cmocka_unit_test(test_get_set_reject_out_of_range),
        cmocka_unit_test(test_print_shows_dtype_shape_and_values),
        cmocka_unit_test(test_rng_same_seed_same_bits_at_any_thread_count),
        cmocka_unit_test(test_rng_moments_match_distributions),
        cmocka_unit_test(test_requires_grad_only_on_caller_tensors),
        cmocka_unit_test(test_status_strings_are_distinct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
