/* Indexing ops with integer tensors: argmax/argmin, index_select, gather, embedding,
 * diagonal, diag, select, negative slice bounds, graph eye/arange and lg_accuracy.
 * Forward values are hand-computed; gradients are gradchecked to second order (the VJP of
 * each is a scatter-add whose own VJP is the gather); the error paths name the op. */
#include "ops_test_util.h"

/* A caller-owned i32 or i64 tensor holding v. */
static lg_tensor *ints(lg_dtype dt, int ndim, const int64_t *shape, const int64_t *v)
{
    lg_tensor *t = lg_tensor_zeros(dt, ndim, shape);
    assert_non_null(t);
    for (int64_t i = 0; i < lg_tensor_numel(t); i++) {
        if (dt == LG_I32)
            ((int32_t *)lg_tensor_data(t))[i] = (int32_t)v[i];
        else
            ((int64_t *)lg_tensor_data(t))[i] = v[i];
    }
    return t;
}

static void assert_ints(const lg_tensor *t, const int64_t *want, int64_t n)
{
    assert_non_null(t);
    assert_int_equal(lg_tensor_numel(t), n);
    for (int64_t i = 0; i < n; i++) {
        double v = lg_tensor_item(t, i);
        if (v != (double)want[i]) {
            print_error("element %lld: got %g want %lld\n", (long long)i, v, (long long)want[i]);
            fail();
        }
    }
}

static void test_argmax_argmin_pick_first_extremum_as_i64(void **state)
{
    (void)state;
    lg_graph *g = lg_graph_new();
    /* rows: [1 3 3 0] -> argmax 1 (first of the tie), argmin 3; [-2 5 -2 4] -> 1, 0 */
    const double xv[8] = {1, 3, 3, 0, -2, 5, -2, 4};
    lg_tensor *x = ot_input(g, LG_F64, 2, (int64_t[]){2, 4}, xv);
    lg_tensor *am = lg_argmax_axis(g, x, 1, false);
    assert_int_equal(lg_tensor_dtype(am), LG_I64);
    ot_assert_shape(am, 1, (int64_t[]){2});
    assert_ints(am, (int64_t[]){1, 1}, 2);
    assert_ints(lg_argmin_axis(g, x, -1, false), (int64_t[]){3, 0}, 2);
    /* down the columns, keepdim: [1 3 3 4]... argmax of each column */
    lg_tensor *col = lg_argmax_axis(g, x, 0, true);
    ot_assert_shape(col, 2, (int64_t[]){1, 4});
    assert_ints(col, (int64_t[]){0, 1, 0, 1}, 4);
    /* NaN wins, as in numpy.argmax */
    const double nv[3] = {1, NAN, 7};
    assert_ints(lg_argmax_axis(g, ot_input(g, LG_F32, 1, (int64_t[]){3}, nv), 0, false),
                (int64_t[]){1}, 1);
    /* errors */
    lg_tensor *e = lg_graph_full(g, LG_F64, 2, (int64_t[]){2, 0}, 0);
    OT_EXPECT_ERROR(g, lg_argmax_axis(g, e, 1, false), LG_ERR_SHAPE, "lg_argmax_axis", "empty");
    OT_EXPECT_ERROR(g, lg_argmin_axis(g, x, 2, false), LG_ERR_ARG, "lg_argmin_axis", "axis 2");
    OT_EXPECT_ERROR(g, lg_argmax_axis(g, am, 0, false), LG_ERR_DTYPE,
                    "lg_argmax_axis: input 0 is i64; need f32 or f64");
    lg_graph_free(g);
}

static void test_index_select_takes_rows_and_shapes_like_numpy_take(void **state)
{
    (void)state;
    lg_graph *g = lg_graph_new();
    double xv[12];
    for (int i = 0; i < 12; i++)
        xv[i] = i; /* (3,4): row r is 4r .. 4r+3 */
    lg_tensor *x = ot_input(g, LG_F64, 2, (int64_t[]){3, 4}, xv);
    lg_tensor *idx = lg_graph_input(g, LG_I32, 1, (int64_t[]){3}, (int32_t[]){2, 0, 2});
    lg_tensor *y = lg_index_select(g, x, 0, idx);
    ot_assert_shape(y, 2, (int64_t[]){3, 4});
    const double want[12] = {8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11};
    tu_assert_tensor_close(y, want, 12, 0, 0, "rows 2, 0, 2");
    /* along axis 1 with 2-D indices: (3,4) take [[3,0],[1,1]] -> (3,2,2) */
    lg_tensor *i2 = lg_graph_input(g, LG_I64, 2, (int64_t[]){2, 2}, (int64_t[]){3, 0, 1, 1});
    lg_tensor *z = lg_index_select(g, x, 1, i2);
    ot_assert_shape(z, 3, (int64_t[]){3, 2, 2});
    const double wz[12] = {3, 0, 1, 1, 7, 4, 5, 5, 11, 8, 9, 9};
    tu_assert_tensor_close(z, wz, 12, 0, 0, "columns [[3,0],[1,1]]");
    lg_graph_free(g);
}

static void test_index_select_gradient_counts_repeated_indices(void **state)
{
    (void)state;
    /* d/dx sum(take(x, [2,0,2], axis 0)) is the number of times each row is taken:
     * row 0 once, row 1 never, row 2 twice (by hand). */
    lg_tensor *x = lg_tensor_zeros(LG_F64, 2, (int64_t[]){3, 2});
    lg_tensor_set_requires_grad(x, true);
    lg_graph *g = lg_graph_new();
    lg_tensor *idx = lg_graph_input(g, LG_I32, 1, (int64_t[]){3}, (int32_t[]){2, 0, 2});
    assert_int_equal(lg_backward(g, lg_sum(g, lg_index_select(g, x, 0, idx))), LG_OK);
    const double want[6] = {1, 1, 0, 0, 2, 2};
    tu_assert_tensor_close(lg_tensor_grad(x), want, 6, 0, 0, "row counts");
    lg_graph_free(g);
    lg_tensor_free(x);
}

static lg_tensor *op_index_select(lg_graph *g, lg_tensor *const *in, const void *p)
{
    return lg_index_select(g, in[0], 1, (lg_tensor *)p);
}
static lg_tensor *op_gather(lg_graph *g, lg_tensor *const *in, const void *p)
{
    return lg_gather(g, in[0], 0, (lg_tensor *)p);
}
static lg_tensor *op_embedding(lg_graph *g, lg_tensor *const *in, const void *p)
{
    return lg_embedding(g, in[0], (lg_tensor *)p);
}
static lg_tensor *op_diagonal(lg_graph *g, lg_tensor *const *in, const void *p)
{
    (void)p;
    return lg_diagonal(g, in[0]);
}
static lg_tensor *op_diag(lg_graph *g, lg_tensor *const *in, const void *p)
{
    (void)p;
    return lg_diag(g, in[0]);
}
static lg_tensor *op_select(lg_graph *g, lg_tensor *const *in, const void *p)
{
    (void)p;
    return lg_select(g, in[0], 1, -1);
}

static void test_index_ops_pass_gradcheck_to_second_order(void **state)
{
    (void)state;
    lg_tensor *x = tu_rand(3, (int64_t[]){2, 4, 3}, 11, 0, 0);
    /* repeated and out-of-order indices along axis 1, shaped (2,2) */
    lg_tensor *idx = ints(LG_I64, 2, (int64_t[]){2, 2}, (int64_t[]){3, 1, 1, 0});
    ot_gradcheck(op_index_select, idx, &x, 1, 1, "index_select");
    /* gather along axis 0 of (2,4,3): indices of shape (3,4,3) with values in [0,2) */
    int64_t gv[36];
    for (int i = 0; i < 36; i++)
        gv[i] = (i * 7 + i / 5) % 2;
    lg_tensor *gidx = ints(LG_I32, 3, (int64_t[]){3, 4, 3}, gv);
    ot_gradcheck(op_gather, gidx, &x, 1, 2, "gather");
    lg_tensor *w = tu_rand(2, (int64_t[]){5, 3}, 12, 0, 0);
    lg_tensor *ids = ints(LG_I32, 2, (int64_t[]){2, 3}, (int64_t[]){4, 0, 4, 2, 2, 1});
    ot_gradcheck(op_embedding, ids, &w, 1, 3, "embedding");
    lg_tensor *m = tu_rand(3, (int64_t[]){2, 3, 4}, 13, 0, 0);
    ot_gradcheck(op_diagonal, NULL, &m, 1, 4, "diagonal (2,3,4)");
    lg_tensor *v = tu_rand(2, (int64_t[]){2, 3}, 14, 0, 0);
    ot_gradcheck(op_diag, NULL, &v, 1, 5, "diag (2,3)");
    ot_gradcheck(op_select, NULL, &x, 1, 6, "select axis 1, -1");
    lg_tensor *ts[7] = {x, idx, gidx, w, ids, m, v};
    ot_free_all(ts, 7);
}

static void test_gather_matches_take_along_axis(void **state)
{
    (void)state;
    lg_graph *g = lg_graph_new();
    /* x (2,3) = [[1,2,3],[4,5,6]]; gather axis 1 with [[2,2,0,1],[1,0,0,0]] (2,4) */
    const double xv[6] = {1, 2, 3, 4, 5, 6};
    lg_tensor *x = ot_input(g, LG_F32, 2, (int64_t[]){2, 3}, xv);
    lg_tensor *idx = lg_graph_input(g, LG_I64, 2, (int64_t[]){2, 4},
                                    (int64_t[]){2, 2, 0, 1, 1, 0, 0, 0});
    lg_tensor *y = lg_gather(g, x, 1, idx);
    ot_assert_shape(y, 2, (int64_t[]){2, 4});
    const double want[8] = {3, 3, 1, 2, 5, 4, 4, 4};
    tu_assert_tensor_close(y, want, 8, 0, 0, "gather");
    /* along axis 0: idx (1,3) [[1,0,1]] -> [[4,2,6]] */
    lg_tensor *i0 = lg_graph_input(g, LG_I32, 2, (int64_t[]){1, 3}, (int32_t[]){1, 0, 1});
    const double w0[3] = {4, 2, 6};
    tu_assert_tensor_close(lg_gather(g, x, 0, i0), w0, 3, 0, 0, "gather axis 0");
    lg_tensor *bad = lg_graph_input(g, LG_I32, 2, (int64_t[]){2, 2}, (int32_t[]){0, 0, 0, 0});
    OT_EXPECT_ERROR(g, lg_gather(g, x, 0, bad), LG_ERR_SHAPE, "lg_gather", "(2,2)", "(2,3)");
    lg_graph_free(g);
}

static void test_embedding_looks_up_rows_and_rejects_bad_ids(void **state)
{
    (void)state;
    lg_graph *g = lg_graph_new();
    double wv[8];
    for (int i = 0; i < 8; i++)
        wv[i] = 10 * (i / 2) + i % 2; /* (4,2): row r = [10r, 10r+1] */
    lg_tensor *w = ot_input(g, LG_F64, 2, (int64_t[]){4, 2}, wv);
    lg_tensor *ids = lg_graph_input(g, LG_I64, 2, (int64_t[]){1, 3}, (int64_t[]){3, 0, 3});
    lg_tensor *e = lg_embedding(g, w, ids);
    ot_assert_shape(e, 3, (int64_t[]){1, 3, 2});
    const double want[6] = {30, 31, 0, 1, 30, 31};
    tu_assert_tensor_close(e, want, 6, 0, 0, "embedding");
    lg_tensor *far = lg_graph_input(g, LG_I32, 1, (int64_t[]){2}, (int32_t[]){1, 4});
    OT_EXPECT_ERROR(g, lg_embedding(g, w, far), LG_ERR_ARG, "lg_embedding",
                    "index 4 at position 1 outside [0, 4)");
    lg_tensor *neg = lg_graph_input(g, LG_I32, 1, (int64_t[]){1}, (int32_t[]){-1});
    OT_EXPECT_ERROR(g, lg_embedding(g, w, neg), LG_ERR_ARG, "lg_embedding", "index -1");
    lg_tensor *fids = lg_graph_full(g, LG_F64, 1, (int64_t[]){2}, 1);
    OT_EXPECT_ERROR(g, lg_embedding(g, w, fids), LG_ERR_DTYPE, "lg_embedding",
                    "indices are f64; need i32 or i64");
    lg_tensor *v = lg_graph_full(g, LG_F64, 1, (int64_t[]){4}, 1);
    OT_EXPECT_ERROR(g, lg_embedding(g, v, ids), LG_ERR_SHAPE, "lg_embedding", "(V, D)");
    OT_EXPECT_ERROR(g, lg_embedding(g, w, NULL), LG_ERR_ARG, "lg_embedding");
    OT_EXPECT_ERROR(g, lg_index_select(g, w, 2, ids), LG_ERR_ARG, "lg_index_select", "axis");
    lg_graph_free(g);
}

static void test_diagonal_and_diag_invert_each_other(void **state)
{
    (void)state;
    lg_graph *g = lg_graph_new();
    double mv[6] = {1, 2, 3, 4, 5, 6}; /* (2,3): diagonal [1, 5] */
    lg_tensor *m = ot_input(g, LG_F64, 2, (int64_t[]){2, 3}, mv);
    lg_tensor *d = lg_diagonal(g, m);
    ot_assert_shape(d, 1, (int64_t[]){2});
    tu_assert_tensor_close(d, (double[]){1, 5}, 2, 0, 0, "diagonal of (2,3)");
    lg_tensor *dm = lg_diag(g, d);
    ot_assert_shape(dm, 2, (int64_t[]){2, 2});
    tu_assert_tensor_close(dm, (double[]){1, 0, 0, 5}, 4, 0, 0, "diag [1,5]");
    /* batched: (2,2) vectors -> (2,2,2), and diagonal(diag(v)) == v */
    lg_tensor *v = ot_input(g, LG_F32, 2, (int64_t[]){2, 2}, (double[]){1, 2, 3, 4});
    lg_tensor *bd = lg_diag(g, v);
    ot_assert_shape(bd, 3, (int64_t[]){2, 2, 2});
    tu_assert_tensor_close(bd, (double[]){1, 0, 0, 2, 3, 0, 0, 4}, 8, 0, 0, "batched diag");
    tu_assert_tensor_close(lg_diagonal(g, bd), (double[]){1, 2, 3, 4}, 4, 0, 0,
                           "diagonal(diag(v))");
    /* trace identity: sum(diagonal(I_3)) = 3, with the graph's eye */
    lg_tensor *eye = lg_graph_eye(g, LG_F64, 3);
    tu_assert_tensor_close(lg_sum(g, lg_diagonal(g, eye)), (double[]){3}, 1, 0, 0, "tr I");
    OT_EXPECT_ERROR(g, lg_diagonal(g, d), LG_ERR_SHAPE, "lg_diagonal", "(2)");
    lg_tensor *s = lg_graph_full(g, LG_F64, 0, NULL, 1);
    OT_EXPECT_ERROR(g, lg_diag(g, s), LG_ERR_SHAPE, "lg_diag");
    lg_graph_free(g);
}

static void test_select_and_negative_slice_count_from_the_end(void **state)
{
    (void)state;
    lg_graph *g = lg_graph_new();
    double xv[6] = {0, 1, 2, 3, 4, 5};
    lg_tensor *x = ot_input(g, LG_F64, 2, (int64_t[]){2, 3}, xv);
    lg_tensor *last = lg_select(g, x, 1, -1);
    ot_assert_shape(last, 1, (int64_t[]){2});
    tu_assert_tensor_close(last, (double[]){2, 5}, 2, 0, 0, "x[:, -1]");
    lg_tensor *row = lg_select(g, x, 0, 1);
    tu_assert_tensor_close(row, (double[]){3, 4, 5}, 3, 0, 0, "x[1]");
    /* x[:, -2:] and x[:, 0:-1] as in Python */
    tu_assert_tensor_close(lg_slice(g, x, 1, -2, 3), (double[]){1, 2, 4, 5}, 4, 0, 0,
                           "x[:, -2:]");
    tu_assert_tensor_close(lg_slice(g, x, 1, 0, -1), (double[]){0, 1, 3, 4}, 4, 0, 0,
                           "x[:, :-1]");
    OT_EXPECT_ERROR(g, lg_select(g, x, 1, 3), LG_ERR_ARG, "lg_select", "index 3");
    OT_EXPECT_ERROR(g, lg_select(g, x, 1, -4), LG_ERR_ARG, "lg_select", "index -4");
    OT_EXPECT_ERROR(g, lg_slice(g, x, 1, -4, 2), LG_ERR_ARG, "lg_slice", "[-4, 2)");
    lg_graph_free(g);
}

static void test_graph_eye_and_arange_live_in_the_graph(void **state)
{
    (void)state;
    lg_graph *g = lg_graph_new();
    lg_tensor *a = lg_graph_arange(g, LG_I64, 2, 11, 3);
    assert_int_equal(lg_tensor_dtype(a), LG_I64);
    assert_ints(a, (int64_t[]){2, 5, 8}, 3);
    lg_tensor *f = lg_graph_arange(g, LG_F32, 1, 0, -0.25);
    tu_assert_tensor_close(f, (double[]){1, 0.75, 0.5, 0.25}, 4, 0, 0, "arange down");
    lg_tensor *e = lg_graph_eye(g, LG_I32, 2);
    assert_ints(e, (int64_t[]){1, 0, 0, 1}, 4);
    OT_EXPECT_ERROR(g, lg_graph_arange(g, LG_F64, 0, 1, 0), LG_ERR_ARG, "lg_graph_arange");
    OT_EXPECT_ERROR(g, lg_graph_eye(g, LG_F64, -1), LG_ERR_SHAPE, "lg_graph_eye");
    lg_graph_free(g);
}

static void test_accuracy_counts_rows_whose_argmax_is_the_label(void **state)
{
    (void)state;
    /* argmaxes: row 0 -> 2, row 1 -> 0 (tie with 1: the first), row 2 -> 1 */
    const double sv[9] = {0, 1, 2, 5, 5, 1, -1, 0, -2};
    lg_tensor *s = ot_tensor(LG_F32, 2, (int64_t[]){3, 3}, sv);
    lg_tensor *y = ints(LG_I64, 1, (int64_t[]){3}, (int64_t[]){2, 1, 1});
    int64_t right = -1;
    double acc = -1;
    assert_int_equal(lg_accuracy(s, y, &right, &acc), LG_OK);
    assert_int_equal(right, 2);
    assert_true(acc == 2.0 / 3.0);
    lg_tensor *shorty = ints(LG_I32, 1, (int64_t[]){2}, (int64_t[]){0, 0});
    assert_int_equal(lg_accuracy(s, shorty, &right, NULL), LG_ERR_SHAPE);
    assert_int_equal(lg_accuracy(y, y, &right, NULL), LG_ERR_DTYPE);
    assert_int_equal(lg_accuracy(NULL, y, &right, NULL), LG_ERR_ARG);
    lg_tensor_free(s);
    lg_tensor_free(y);
    lg_tensor_free(shorty);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_argmax_argmin_pick_first_extremum_as_i64),
        cmocka_unit_test(test_index_select_takes_rows_and_shapes_like_numpy_take),
        cmocka_unit_test(test_index_select_gradient_counts_repeated_indices),
        cmocka_unit_test(test_index_ops_pass_gradcheck_to_second_order),
        cmocka_unit_test(test_gather_matches_take_along_axis),
        cmocka_unit_test(test_embedding_looks_up_rows_and_rejects_bad_ids),
        cmocka_unit_test(test_diagonal_and_diag_invert_each_other),
        cmocka_unit_test(test_select_and_negative_slice_count_from_the_end),
        cmocka_unit_test(test_graph_eye_and_arange_live_in_the_graph),
        cmocka_unit_test(test_accuracy_counts_rows_whose_argmax_is_the_label),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
