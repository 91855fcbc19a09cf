/* Integer tensors (LG_I32, LG_I64) and the misuse reports of the tensor API: creation,
 * copy, fill, wrap, printing, exact element access, the grad refusal, and ops that refuse
 * integer inputs by name. Expected values are hand-computed. */
#include <string.h>
#include "test_util.h"

static void test_int_tensors_create_fill_copy_and_wrap(void **state)
{
    (void)state;
    int64_t s[2] = {2, 3};
    lg_tensor *a = lg_tensor_full(LG_I32, 2, s, -7);
    assert_non_null(a);
    assert_int_equal(lg_tensor_dtype(a), LG_I32);
    assert_int_equal(lg_dtype_size(LG_I32), 4);
    assert_int_equal(lg_dtype_size(LG_I64), 8);
    assert_string_equal(lg_dtype_name(LG_I64), "i64");
    assert_false(lg_dtype_is_float(LG_I32));
    assert_true(lg_dtype_is_float(LG_F64));
    const int32_t *ad = lg_tensor_cdata(a);
    for (int i = 0; i < 6; i++)
        assert_int_equal(ad[i], -7);

    int64_t vals[3] = {INT64_MAX, -1, (int64_t)1 << 60};
    lg_tensor *b = lg_tensor_from_data(LG_I64, 1, (int64_t[]){3}, vals);
    lg_tensor *c = lg_tensor_copy(b);
    int64_t got;
    assert_int_equal(lg_tensor_get_i64(c, (int64_t[]){0}, &got), LG_OK);
    assert_true(got == INT64_MAX); /* exact, past 2^53 */
    assert_int_equal(lg_tensor_set_i64(c, (int64_t[]){2}, 42), LG_OK);
    assert_true(vals[2] == (int64_t)1 << 60); /* the copy owns its data */

    lg_tensor *w = lg_tensor_wrap(LG_I64, 1, (int64_t[]){3}, vals);
    assert_int_equal(lg_tensor_set_i64(w, (int64_t[]){1}, 5), LG_OK);
    assert_true(vals[1] == 5); /* wrap writes through */

    lg_tensor *r = lg_tensor_arange(LG_I32, 0, 5, 2);
    const int32_t *rd = lg_tensor_cdata(r);
    assert_int_equal(lg_tensor_numel(r), 3);
    assert_int_equal(rd[0], 0);
    assert_int_equal(rd[2], 4);
    lg_tensor *e = lg_tensor_eye(LG_I64, 2);
    assert_true(((const int64_t *)lg_tensor_cdata(e))[3] == 1);
    lg_tensor_free(a); lg_tensor_free(b); lg_tensor_free(c); lg_tensor_free(w);
    lg_tensor_free(r); lg_tensor_free(e);
}

static void test_int_tensors_refuse_values_they_cannot_hold(void **state)
{
    (void)state;
    int64_t s[1] = {2};
    assert_null(lg_tensor_full(LG_I32, 1, s, 2.5));
    assert_int_equal(lg_last_status(), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "lg_tensor_full: 2.5 is not a whole number"));
    assert_null(lg_tensor_full(LG_I32, 1, s, 3e9));
    assert_null(lg_tensor_full(LG_I64, 1, s, NAN));
    lg_tensor *t = lg_tensor_zeros(LG_I32, 1, s);
    assert_int_equal(lg_tensor_fill(t, 1e30), LG_ERR_ARG);
    assert_int_equal(lg_tensor_set(t, (int64_t[]){0}, -0.5), LG_ERR_ARG);
    assert_int_equal(lg_tensor_set(t, (int64_t[]){0}, -3), LG_OK);
    assert_int_equal(lg_tensor_set_i64(t, (int64_t[]){1}, (int64_t)1 << 40), LG_ERR_ARG);
    double v;
    assert_int_equal(lg_tensor_get(t, (int64_t[]){0}, &v), LG_OK);
    assert_true(v == -3.0);
    lg_tensor *f = lg_tensor_zeros(LG_F32, 1, s);
    int64_t iv;
    assert_int_equal(lg_tensor_get_i64(f, (int64_t[]){0}, &iv), LG_ERR_DTYPE);
    assert_int_equal(lg_tensor_set_i64(f, (int64_t[]){0}, 1), LG_ERR_DTYPE);
    lg_rng r;
    lg_rng_init(&r, 1);
    assert_null(lg_tensor_normal(LG_I64, 1, s, 0, 1, &r));
    assert_int_equal(lg_last_status(), LG_ERR_DTYPE);
    assert_null(lg_tensor_uniform(LG_I32, 1, s, 0, 1, &r));
    assert_int_equal(lg_last_status(), LG_ERR_DTYPE);
    assert_null(lg_tensor_arange(LG_F32, 0, 1e30, 1e-300));
    assert_int_equal(lg_last_status(), LG_ERR_SHAPE);
    lg_tensor_free(t);
    lg_tensor_free(f);
}

static void test_int_tensor_never_requires_grad(void **state)
{
    (void)state;
    lg_tensor *t = lg_tensor_zeros(LG_I64, 1, (int64_t[]){4});
    assert_int_equal(lg_tensor_set_requires_grad(t, true), LG_ERR_DTYPE);
    assert_non_null(strstr(lg_last_errmsg(), "is i64; only f32 and f64 tensors carry"));
    assert_false(lg_tensor_requires_grad(t));
    assert_int_equal(lg_tensor_set_requires_grad(t, false), LG_OK);
    lg_tensor_free(t);
}

static void test_int_tensor_prints_exact_values(void **state)
{
    (void)state;
    int64_t v[3] = {9007199254740993LL, -2, 0}; /* 2^53 + 1: a double would round it */
    lg_tensor *t = lg_tensor_from_data(LG_I64, 1, (int64_t[]){3}, v);
    char buf[256] = {0};
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(lg_tensor_print(t, f, 0), LG_OK);
    rewind(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    assert_string_equal(buf, "tensor(i64, shape=(3)) [9007199254740993, -2, 0]\n");
    lg_tensor_free(t);
}

static void test_float_ops_refuse_int_inputs_by_name(void **state)
{
    (void)state;
    lg_graph *g = lg_graph_new();
    lg_tensor *ids = lg_graph_full(g, LG_I64, 1, (int64_t[]){3}, 2);
    assert_non_null(ids);
    assert_null(lg_exp(g, ids));
    assert_int_equal(lg_graph_status(g), LG_ERR_DTYPE);
    assert_string_equal(lg_graph_errmsg(g), "lg_exp: input 0 is i64; need f32 or f64");
    lg_graph_reset(g);
    lg_tensor *x = lg_graph_full(g, LG_F32, 1, (int64_t[]){3}, 1);
    ids = lg_graph_full(g, LG_I32, 1, (int64_t[]){3}, 2);
    assert_null(lg_add(g, x, ids));
    assert_string_equal(lg_graph_errmsg(g), "lg_add: input 1 is i32; need f32 or f64");
    lg_graph_reset(g);
    assert_null(lg_graph_full(g, LG_I32, 1, (int64_t[]){3}, 0.5));
    assert_int_equal(lg_graph_status(g), LG_ERR_ARG);
    lg_graph_free(g);
}

static void test_tensor_misuse_is_reported(void **state)
{
    (void)state;
    lg_graph *g = lg_graph_new();
    lg_tensor *y = lg_graph_full(g, LG_F32, 1, (int64_t[]){2}, 1);
    assert_int_equal(lg_tensor_free(y), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "belongs to a graph"));
    assert_int_equal(lg_tensor_free(NULL), LG_OK);
    assert_int_equal(lg_tensor_dtype(NULL), LG_DTYPE_INVALID);
    assert_int_equal(lg_last_status(), LG_ERR_ARG);
    assert_int_equal(lg_tensor_zero_grad(NULL), LG_ERR_ARG);
    assert_int_equal(lg_tensor_set_requires_grad(NULL, true), LG_ERR_ARG);
    lg_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int_tensors_create_fill_copy_and_wrap),
        cmocka_unit_test(test_int_tensors_refuse_values_they_cannot_hold),
        cmocka_unit_test(test_int_tensor_never_requires_grad),
        cmocka_unit_test(test_int_tensor_prints_exact_values),
        cmocka_unit_test(test_float_ops_refuse_int_inputs_by_name),
        cmocka_unit_test(test_tensor_misuse_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
