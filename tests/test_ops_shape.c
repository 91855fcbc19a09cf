/* Shape ops: lg_reshape, lg_transpose, lg_permute, lg_concat, lg_slice, lg_broadcast_to
 * and lg_sum_to. Forward values against index arithmetic done by hand, gradients against
 * finite differences, and the error paths. */
#include "ops_test_util.h"

static const lg_dtype DTYPES[2] = {LG_F32, LG_F64};

/* v[i] = i: each value names its own row-major position, so a moved element shows
 * where it came from. */
static void iota(double *v, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        v[i] = (double)i;
}

/* ---- reshape ---- */

static void test_reshape_keeps_row_major_order(void **state)
{
    (void)state;
    double v[24];
    iota(v, 24);
    int64_t s23[2] = {2, 3}, s32[2] = {3, 2}, s234[3] = {2, 3, 4}, s64[2] = {6, 4};
    for (int d = 0; d < 2; d++) {
        lg_graph *g = lg_graph_new();
        lg_tensor *y = lg_reshape(g, ot_input(g, DTYPES[d], 2, s23, v), 2, s32);
        ot_assert_shape(y, 2, s32);
        tu_assert_tensor_close(y, v, 6, 0, 0, "(2,3) -> (3,2)");
        /* Element [1][0] of the (3,2) result is flat index 2 (row-major), i.e. x[0][2]. */
        double e;
        assert_int_equal(lg_tensor_get(y, (int64_t[]){1, 0}, &e), LG_OK);
        assert_true(e == 2.0);
        lg_tensor *z = lg_reshape(g, ot_input(g, DTYPES[d], 3, s234, v), 2, s64);
        ot_assert_shape(z, 2, s64);
        tu_assert_tensor_close(z, v, 24, 0, 0, "(2,3,4) -> (6,4)");
        lg_graph_free(g);
    }
}

static void test_reshape_infers_one_minus_one(void **state)
{
    (void)state;
    double v[24];
    iota(v, 24);
    int64_t s234[3] = {2, 3, 4};
    lg_graph *g = lg_graph_new();
    lg_tensor *x = ot_input(g, LG_F64, 3, s234, v);
    /* 24 / 4 = 6, 24 / (2*2) = 6, 24 / 24 = 1: the -1 takes what is left. */
    lg_tensor *a = lg_reshape(g, x, 2, (int64_t[]){-1, 4});
    ot_assert_shape(a, 2, (int64_t[]){6, 4});
    lg_tensor *b = lg_reshape(g, x, 3, (int64_t[]){2, -1, 2});
    ot_assert_shape(b, 3, (int64_t[]){2, 6, 2});
    lg_tensor *c = lg_reshape(g, x, 2, (int64_t[]){24, -1});
    ot_assert_shape(c, 2, (int64_t[]){24, 1});
    lg_tensor *flat = lg_reshape(g, x, 1, (int64_t[]){-1});
    ot_assert_shape(flat, 1, (int64_t[]){24});
    tu_assert_tensor_close(flat, v, 24, 0, 0, "flatten");
    /* Rank 0 and back: a one-element tensor reshapes to a scalar. */
    lg_tensor *one = lg_slice(g, flat, 0, 5, 6);
    lg_tensor *s = lg_reshape(g, one, 0, NULL);
    ot_assert_shape(s, 0, NULL);
    double five = 5;
    tu_assert_tensor_close(s, &five, 1, 0, 0, "scalar");
    ot_assert_shape(lg_reshape(g, s, 2, (int64_t[]){1, -1}), 2, (int64_t[]){1, 1});
    lg_graph_free(g);
}

static void test_reshape_rejects_bad_targets(void **state)
{
    (void)state;
    int64_t s23[2] = {2, 3};
    lg_graph *g = lg_graph_new();
    lg_tensor *x = lg_graph_full(g, LG_F64, 2, s23, 1);
    OT_EXPECT_ERROR(g, lg_reshape(g, x, 2, (int64_t[]){4, 2}), LG_ERR_SHAPE, "lg_reshape",
                    "(2,3)", "(4,2)");
    /* -1 that cannot be filled: 6 is not a multiple of 4. */
    OT_EXPECT_ERROR(g, lg_reshape(g, x, 2, (int64_t[]){4, -1}), LG_ERR_SHAPE, "lg_reshape",
                    "(2,3)");
    OT_EXPECT_ERROR(g, lg_reshape(g, x, 3, (int64_t[]){-1, -1, 2}), LG_ERR_SHAPE, "lg_reshape");
    OT_EXPECT_ERROR(g, lg_reshape(g, x, 2, (int64_t[]){-2, -3}), LG_ERR_SHAPE, "lg_reshape");
    OT_EXPECT_ERROR(g, lg_reshape(g, x, 2, NULL), LG_ERR_ARG, "lg_reshape");
    OT_EXPECT_ERROR(g, lg_reshape(g, x, 7, (int64_t[]){1, 1, 1, 1, 1, 2, 3}), LG_ERR_ARG,
                    "lg_reshape");
    OT_EXPECT_ERROR(g, lg_reshape(g, x, -1, s23), LG_ERR_ARG, "lg_reshape");
    OT_EXPECT_ERROR(g, lg_reshape(g, NULL, 2, s23), LG_ERR_ARG, "lg_reshape");
    lg_graph_free(g);
}

/* ---- transpose and permute ---- */

static void test_transpose_swaps_last_two_axes(void **state)
{
    (void)state;
    double v[12];
    iota(v, 12);
    /* [[0,1,2],[3,4,5]]ᵀ = [[0,3],[1,4],[2,5]]; in 3-D each (2,3) block is transposed,
     * block 1 holding 6..11. */
    const double t2[6] = {0, 3, 1, 4, 2, 5}, t3[12] = {0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11};
    int64_t s23[2] = {2, 3}, s223[3] = {2, 2, 3};
    for (int d = 0; d < 2; d++) {
        lg_graph *g = lg_graph_new();
        lg_tensor *a = lg_transpose(g, ot_input(g, DTYPES[d], 2, s23, v));
        ot_assert_shape(a, 2, (int64_t[]){3, 2});
        tu_assert_tensor_close(a, t2, 6, 0, 0, "2-D transpose");
        lg_tensor *b = lg_transpose(g, ot_input(g, DTYPES[d], 3, s223, v));
        ot_assert_shape(b, 3, (int64_t[]){2, 3, 2});
        tu_assert_tensor_close(b, t3, 12, 0, 0, "3-D transpose");
        lg_graph_free(g);
    }
}

/* y[i] = x[j] where y's multi-index, read through perm, is x's: j_perm[k] = i_k. */
static void naive_permute(const double *x, int nd, const int64_t *xs, const int *perm, double *y)
{
    int64_t ys[LG_MAX_DIMS], n = 1;
    for (int k = 0; k < nd; k++) {
        ys[k] = xs[perm[k]];
        n *= ys[k];
    }
    for (int64_t f = 0; f < n; f++) {
        int64_t idx[LG_MAX_DIMS], rem = f, xi[LG_MAX_DIMS], off = 0;
        for (int k = nd - 1; k >= 0; k--) {
            idx[k] = rem % ys[k];
            rem /= ys[k];
        }
        for (int k = 0; k < nd; k++)
            xi[perm[k]] = idx[k];
        for (int k = 0; k < nd; k++)
            off = off * xs[k] + xi[k];
        y[f] = x[off];
    }
}

static void test_permute_3d_and_4d_move_elements_by_index(void **state)
{
    (void)state;
    double v[48], want[48];
    iota(v, 48);
    /* By hand for (2,3,4) with perm (2,0,1): y[k][i][j] = x[i][j][k] = 12i + 4j + k.
     * y[1][0][2] = x[0][2][1] = 9; y[3][1][1] = x[1][1][3] = 19. */
    int64_t s234[3] = {2, 3, 4};
    const int p3[3] = {2, 0, 1};
    int64_t s4[4] = {2, 3, 2, 4};
    const int p4[4] = {3, 1, 0, 2};
    for (int d = 0; d < 2; d++) {
        lg_graph *g = lg_graph_new();
        lg_tensor *y = lg_permute(g, ot_input(g, DTYPES[d], 3, s234, v), p3);
        ot_assert_shape(y, 3, (int64_t[]){4, 2, 3});
        double e;
        assert_int_equal(lg_tensor_get(y, (int64_t[]){1, 0, 2}, &e), LG_OK);
        assert_true(e == 9.0);
        assert_int_equal(lg_tensor_get(y, (int64_t[]){3, 1, 1}, &e), LG_OK);
        assert_true(e == 19.0);
        naive_permute(v, 3, s234, p3, want);
        tu_assert_tensor_close(y, want, 24, 0, 0, "permute (2,0,1)");
        lg_tensor *z = lg_permute(g, ot_input(g, DTYPES[d], 4, s4, v), p4);
        ot_assert_shape(z, 4, (int64_t[]){4, 3, 2, 2});
        /* z[a][b][c][e] = x[c][b][e][a] = 24c + 8b + 4e + a: z[3][2][1][0] = 24+16+3 = 43. */
        assert_int_equal(lg_tensor_get(z, (int64_t[]){3, 2, 1, 0}, &e), LG_OK);
        assert_true(e == 43.0);
        naive_permute(v, 4, s4, p4, want);
        tu_assert_tensor_close(z, want, 48, 0, 0, "permute (3,1,0,2)");
        lg_graph_free(g);
    }
}

static void test_permute_identity_is_a_copy_of_the_values(void **state)
{
    (void)state;
    double v[6];
    iota(v, 6);
    int64_t s[2] = {2, 3};
    lg_graph *g = lg_graph_new();
    lg_tensor *y = lg_permute(g, ot_input(g, LG_F64, 2, s, v), (int[]){0, 1});
    ot_assert_shape(y, 2, s);
    tu_assert_tensor_close(y, v, 6, 0, 0, "identity permute");
    lg_graph_free(g);
}

static void test_permute_and_transpose_reject_bad_arguments(void **state)
{
    (void)state;
    int64_t s3[3] = {2, 3, 4}, s1 = 5;
    lg_graph *g = lg_graph_new();
    lg_tensor *x = lg_graph_full(g, LG_F64, 3, s3, 1);
    OT_EXPECT_ERROR(g, lg_permute(g, x, (int[]){0, 0, 1}), LG_ERR_ARG, "lg_permute",
                    "(2,3,4)");
    OT_EXPECT_ERROR(g, lg_permute(g, x, (int[]){0, 1, 3}), LG_ERR_ARG, "lg_permute");
    OT_EXPECT_ERROR(g, lg_permute(g, x, (int[]){-1, 0, 1}), LG_ERR_ARG, "lg_permute");
    OT_EXPECT_ERROR(g, lg_permute(g, x, NULL), LG_ERR_ARG, "lg_permute");
    OT_EXPECT_ERROR(g, lg_permute(g, NULL, (int[]){0, 1, 2}), LG_ERR_ARG, "lg_permute");
    lg_tensor *v = lg_graph_full(g, LG_F64, 1, &s1, 1);
    OT_EXPECT_ERROR(g, lg_transpose(g, v), LG_ERR_SHAPE, "lg_transpose", "(5)");
    OT_EXPECT_ERROR(g, lg_transpose(g, NULL), LG_ERR_ARG, "lg_transpose");
    lg_graph_free(g);
}

/* ---- concat ---- */

static void test_concat_joins_along_each_axis(void **state)
{
    (void)state;
    /* a = [[0,1]], b = [[2,3],[4,5]] along axis 0: [[0,1],[2,3],[4,5]].
     * c = [[0],[1]], e = [[2,3],[4,5]] along axis 1: [[0,2,3],[1,4,5]] (by hand). */
    const double av[2] = {0, 1}, bv[4] = {2, 3, 4, 5}, cv[2] = {0, 1};
    const double want0[6] = {0, 1, 2, 3, 4, 5}, want1[6] = {0, 2, 3, 1, 4, 5};
    for (int d = 0; d < 2; d++) {
        lg_graph *g = lg_graph_new();
        lg_tensor *x0[2] = {ot_input(g, DTYPES[d], 2, (int64_t[]){1, 2}, av),
                            ot_input(g, DTYPES[d], 2, (int64_t[]){2, 2}, bv)};
        lg_tensor *y0 = lg_concat(g, x0, 2, 0);
        ot_assert_shape(y0, 2, (int64_t[]){3, 2});
        tu_assert_tensor_close(y0, want0, 6, 0, 0, "concat axis 0");
        lg_tensor *x1[2] = {ot_input(g, DTYPES[d], 2, (int64_t[]){2, 1}, cv),
                            ot_input(g, DTYPES[d], 2, (int64_t[]){2, 2}, bv)};
        lg_tensor *y1 = lg_concat(g, x1, 2, 1);
        ot_assert_shape(y1, 2, (int64_t[]){2, 3});
        tu_assert_tensor_close(y1, want1, 6, 0, 0, "concat axis 1");
        /* Axis -1 is the last axis: the same result. */
        tu_assert_tensor_close(lg_concat(g, x1, 2, -1), want1, 6, 0, 0, "concat axis -1");
        lg_graph_free(g);
    }
}

static void test_concat_three_inputs_on_negative_axis_of_3d(void **state)
{
    (void)state;
    /* Along the middle axis (-2) of (2,·,2): a has 1 row, b 2, c 1 per block.
     * Block 0: a[0] = [0,1]; b[0] = [10,11],[12,13]; c[0] = [20,21].
     * Block 1: a[1] = [2,3]; b[1] = [14,15],[16,17]; c[1] = [22,23]. */
    const double av[4] = {0, 1, 2, 3}, bv[8] = {10, 11, 12, 13, 14, 15, 16, 17};
    const double cv[4] = {20, 21, 22, 23};
    const double want[16] = {0, 1, 10, 11, 12, 13, 20, 21, 2, 3, 14, 15, 16, 17, 22, 23};
    lg_graph *g = lg_graph_new();
    lg_tensor *xs[3] = {ot_input(g, LG_F64, 3, (int64_t[]){2, 1, 2}, av),
                        ot_input(g, LG_F64, 3, (int64_t[]){2, 2, 2}, bv),
                        ot_input(g, LG_F64, 3, (int64_t[]){2, 1, 2}, cv)};
    lg_tensor *y = lg_concat(g, xs, 3, -2);
    ot_assert_shape(y, 3, (int64_t[]){2, 4, 2});
    tu_assert_tensor_close(y, want, 16, 0, 0, "concat of 3 on axis -2");
    lg_graph_free(g);
}

static void test_concat_of_one_tensor_twice_accumulates_both_gradients(void **state)
{
    (void)state;
    /* y = [a; a], L = Σ w ⊙ y: dL/da = w_top + w_bottom. */
    const double av[2] = {1, 2}, wv[4] = {1, 2, 30, 40}, want[2] = {31, 42};
    int64_t s12[2] = {1, 2};
    lg_tensor *a = ot_tensor(LG_F64, 2, s12, av);
    lg_tensor_set_requires_grad(a, true);
    lg_graph *g = lg_graph_new();
    lg_tensor *xs[2] = {a, a};
    lg_tensor *y = lg_concat(g, xs, 2, 0);
    lg_tensor *w = ot_input(g, LG_F64, 2, (int64_t[]){2, 2}, wv);
    assert_int_equal(lg_backward(g, lg_sum(g, lg_mul(g, y, w))), LG_OK);
    tu_assert_tensor_close(lg_tensor_grad(a), want, 2, 0, 0, "grad of [a; a]");
    lg_graph_free(g);
    lg_tensor_free(a);
}

static void test_concat_of_ten_inputs_routes_each_gradient_home(void **state)
{
    (void)state;
    /* Ten (1,2) rows stacked to (10,2), L = Σ w ⊙ y: dL/dx_k is row k of w. More
     * inputs than backward's small on-stack gradient array holds. */
    enum { K = 10 };
    double wv[2 * K];
    for (int i = 0; i < 2 * K; i++)
        wv[i] = i + 1;
    lg_tensor *xs[K];
    for (int k = 0; k < K; k++) {
        xs[k] = lg_tensor_zeros(LG_F64, 2, (int64_t[]){1, 2});
        assert_non_null(xs[k]);
        lg_tensor_set_requires_grad(xs[k], true);
    }
    lg_graph *g = lg_graph_new();
    lg_tensor *y = lg_concat(g, xs, K, 0);
    ot_assert_shape(y, 2, (int64_t[]){K, 2});
    lg_tensor *w = ot_input(g, LG_F64, 2, (int64_t[]){K, 2}, wv);
    assert_int_equal(lg_backward(g, lg_sum(g, lg_mul(g, y, w))), LG_OK);
    for (int k = 0; k < K; k++)
        tu_assert_tensor_close(lg_tensor_grad(xs[k]), wv + 2 * k, 2, 0, 0, "row of w");
    lg_graph_free(g);
    ot_free_all(xs, K);
}

static void test_concat_rejects_mismatched_inputs(void **state)
{
    (void)state;
    lg_graph *g = lg_graph_new();
    lg_tensor *a = lg_graph_full(g, LG_F64, 2, (int64_t[]){2, 3}, 1);
    lg_tensor *b = lg_graph_full(g, LG_F64, 2, (int64_t[]){3, 4}, 1);
    lg_tensor *c = lg_graph_full(g, LG_F64, 3, (int64_t[]){1, 2, 3}, 1);
    lg_tensor *f = lg_graph_full(g, LG_F32, 2, (int64_t[]){2, 3}, 1);
    lg_tensor *ab[2] = {a, b}, *ac[2] = {a, c}, *af[2] = {a, f}, *an[2] = {a, NULL};
    /* Along axis 0 the column counts 3 and 4 differ; along axis 1 the row counts. */
    OT_EXPECT_ERROR(g, lg_concat(g, ab, 2, 0), LG_ERR_SHAPE, "lg_concat", "(2,3)", "(3,4)");
    OT_EXPECT_ERROR(g, lg_concat(g, ab, 2, 1), LG_ERR_SHAPE, "lg_concat", "(2,3)", "(3,4)");
    OT_EXPECT_ERROR(g, lg_concat(g, ac, 2, 0), LG_ERR_SHAPE, "lg_concat", "(1,2,3)");
    OT_EXPECT_ERROR(g, lg_concat(g, af, 2, 0), LG_ERR_DTYPE, "lg_concat", "f32");
    OT_EXPECT_ERROR(g, lg_concat(g, ab, 2, 2), LG_ERR_ARG, "lg_concat", "axis 2");
    OT_EXPECT_ERROR(g, lg_concat(g, ab, 2, -3), LG_ERR_ARG, "lg_concat", "axis -3");
    OT_EXPECT_ERROR(g, lg_concat(g, ab, 0, 0), LG_ERR_ARG, "lg_concat");
    OT_EXPECT_ERROR(g, lg_concat(g, NULL, 2, 0), LG_ERR_ARG, "lg_concat");
    OT_EXPECT_ERROR(g, lg_concat(g, an, 2, 0), LG_ERR_ARG, "lg_concat", "input 1");
    lg_graph_free(g);
}

/* ---- slice ---- */

static void test_slice_takes_half_open_ranges(void **state)
{
    (void)state;
    double v[12];
    iota(v, 12);
    /* x = [[0..3],[4..7],[8..11]]; columns [1,3): [[1,2],[5,6],[9,10]];
     * rows [1,3): [[4..7],[8..11]]; columns [2,2): empty (3,0). */
    const double cols[6] = {1, 2, 5, 6, 9, 10};
    int64_t s[2] = {3, 4};
    for (int d = 0; d < 2; d++) {
        lg_graph *g = lg_graph_new();
        lg_tensor *x = ot_input(g, DTYPES[d], 2, s, v);
        lg_tensor *a = lg_slice(g, x, 1, 1, 3);
        ot_assert_shape(a, 2, (int64_t[]){3, 2});
        tu_assert_tensor_close(a, cols, 6, 0, 0, "columns 1:3");
        lg_tensor *b = lg_slice(g, x, 0, 1, 3);
        ot_assert_shape(b, 2, (int64_t[]){2, 4});
        tu_assert_tensor_close(b, v + 4, 8, 0, 0, "rows 1:3");
        lg_tensor *c = lg_slice(g, x, -1, 3, 4); /* negative axis: the last */
        ot_assert_shape(c, 2, (int64_t[]){3, 1});
        tu_assert_tensor_close(c, (double[]){3, 7, 11}, 3, 0, 0, "last column");
        ot_assert_shape(lg_slice(g, x, 1, 2, 2), 2, (int64_t[]){3, 0});
        lg_graph_free(g);
    }
}

static void test_slice_rejects_ranges_outside_the_axis(void **state)
{
    (void)state;
    lg_graph *g = lg_graph_new();
    lg_tensor *x = lg_graph_full(g, LG_F64, 2, (int64_t[]){3, 4}, 1);
    OT_EXPECT_ERROR(g, lg_slice(g, x, 1, 2, 5), LG_ERR_ARG, "lg_slice", "(3,4)");
    OT_EXPECT_ERROR(g, lg_slice(g, x, 1, -1, 2), LG_ERR_ARG, "lg_slice");
    OT_EXPECT_ERROR(g, lg_slice(g, x, 0, 2, 1), LG_ERR_ARG, "lg_slice");
    OT_EXPECT_ERROR(g, lg_slice(g, x, 2, 0, 1), LG_ERR_ARG, "lg_slice", "axis 2");
    OT_EXPECT_ERROR(g, lg_slice(g, x, -3, 0, 1), LG_ERR_ARG, "lg_slice");
    OT_EXPECT_ERROR(g, lg_slice(g, NULL, 0, 0, 1), LG_ERR_ARG, "lg_slice");
    lg_graph_free(g);
}

/* ---- broadcast_to and sum_to ---- */

static void test_broadcast_to_repeats_along_new_and_unit_axes(void **state)
{
    (void)state;
    /* [1,2,3] to (2,3): both rows [1,2,3]; [[1],[2]] to (2,3): [[1,1,1],[2,2,2]];
     * the scalar 7 to (2,2): all 7 (NumPy rules, by hand). */
    const double r[3] = {1, 2, 3}, c[2] = {1, 2}, s = 7;
    const double wr[6] = {1, 2, 3, 1, 2, 3}, wc[6] = {1, 1, 1, 2, 2, 2}, ws[4] = {7, 7, 7, 7};
    int64_t s23[2] = {2, 3}, s22[2] = {2, 2};
    for (int d = 0; d < 2; d++) {
        lg_graph *g = lg_graph_new();
        lg_tensor *a = lg_broadcast_to(g, ot_input(g, DTYPES[d], 1, (int64_t[]){3}, r), 2, s23);
        ot_assert_shape(a, 2, s23);
        tu_assert_tensor_close(a, wr, 6, 0, 0, "(3) -> (2,3)");
        lg_tensor *b = lg_broadcast_to(g, ot_input(g, DTYPES[d], 2, (int64_t[]){2, 1}, c), 2,
                                       s23);
        tu_assert_tensor_close(b, wc, 6, 0, 0, "(2,1) -> (2,3)");
        lg_tensor *e = lg_broadcast_to(g, ot_input(g, DTYPES[d], 0, NULL, &s), 2, s22);
        tu_assert_tensor_close(e, ws, 4, 0, 0, "() -> (2,2)");
        /* Rank 0 to rank 0, with the NULL shape that rank 0 allows. */
        lg_tensor *f = lg_broadcast_to(g, ot_input(g, DTYPES[d], 0, NULL, &s), 0, NULL);
        ot_assert_shape(f, 0, NULL);
        tu_assert_tensor_close(f, &s, 1, 0, 0, "() -> ()");
        lg_graph_free(g);
    }
}

static void test_sum_to_adds_over_broadcast_axes(void **state)
{
    (void)state;
    double v[24];
    iota(v, 24);
    /* x = [[0,1,2],[3,4,5]]: to (3) column sums [3,5,7]; to (2,1) row sums [[3],[12]];
     * to () the total 15; to (1,3) [[3,5,7]]. For (2,3,4) to (3,1): Σ over axes 0 and 2,
     * row j: Σ_i Σ_k (12i + 4j + k) = 2*4*4j + 4*12 + 2*6 = 32j + 60 (by hand). */
    const double cols[3] = {3, 5, 7}, rows[2] = {3, 12}, total = 15;
    const double mid[3] = {60, 92, 124};
    int64_t s23[2] = {2, 3}, s234[3] = {2, 3, 4};
    for (int d = 0; d < 2; d++) {
        lg_graph *g = lg_graph_new();
        lg_tensor *x = ot_input(g, DTYPES[d], 2, s23, v);
        lg_tensor *a = lg_sum_to(g, x, 1, (int64_t[]){3});
        ot_assert_shape(a, 1, (int64_t[]){3});
        tu_assert_tensor_close(a, cols, 3, 0, 0, "(2,3) -> (3)");
        lg_tensor *b = lg_sum_to(g, x, 2, (int64_t[]){2, 1});
        ot_assert_shape(b, 2, (int64_t[]){2, 1});
        tu_assert_tensor_close(b, rows, 2, 0, 0, "(2,3) -> (2,1)");
        lg_tensor *c = lg_sum_to(g, x, 0, NULL);
        ot_assert_shape(c, 0, NULL);
        tu_assert_tensor_close(c, &total, 1, 0, 0, "(2,3) -> ()");
        tu_assert_tensor_close(lg_sum_to(g, x, 2, (int64_t[]){1, 3}), cols, 3, 0, 0,
                               "(2,3) -> (1,3)");
        tu_assert_tensor_close(lg_sum_to(g, x, 2, s23), v, 6, 0, 0, "(2,3) -> (2,3)");
        lg_tensor *y = ot_input(g, DTYPES[d], 3, s234, v);
        lg_tensor *e = lg_sum_to(g, y, 2, (int64_t[]){3, 1});
        ot_assert_shape(e, 2, (int64_t[]){3, 1});
        tu_assert_tensor_close(e, mid, 3, 0, 0, "(2,3,4) -> (3,1)");
        lg_graph_free(g);
    }
}

static void test_broadcast_to_and_sum_to_reject_incompatible_shapes(void **state)
{
    (void)state;
    lg_graph *g = lg_graph_new();
    lg_tensor *x = lg_graph_full(g, LG_F64, 2, (int64_t[]){2, 3}, 1);
    OT_EXPECT_ERROR(g, lg_broadcast_to(g, x, 2, (int64_t[]){3, 3}), LG_ERR_SHAPE,
                    "lg_broadcast_to", "(2,3)", "(3,3)");
    /* Broadcasting never drops axes. */
    OT_EXPECT_ERROR(g, lg_broadcast_to(g, x, 1, (int64_t[]){3}), LG_ERR_SHAPE,
                    "lg_broadcast_to", "(2,3)", "(3)");
    OT_EXPECT_ERROR(g, lg_broadcast_to(g, x, 2, NULL), LG_ERR_SHAPE, "lg_broadcast_to");
    OT_EXPECT_ERROR(g, lg_broadcast_to(g, NULL, 2, (int64_t[]){2, 3}), LG_ERR_ARG,
                    "lg_broadcast_to");
    OT_EXPECT_ERROR(g, lg_sum_to(g, x, 1, (int64_t[]){4}), LG_ERR_SHAPE, "lg_sum_to", "(4)",
                    "(2,3)");
    /* (2,3) is not a broadcast of (3,3), nor of a larger rank. */
    OT_EXPECT_ERROR(g, lg_sum_to(g, x, 2, (int64_t[]){3, 3}), LG_ERR_SHAPE, "lg_sum_to");
    OT_EXPECT_ERROR(g, lg_sum_to(g, x, 3, (int64_t[]){1, 2, 3}), LG_ERR_SHAPE, "lg_sum_to");
    OT_EXPECT_ERROR(g, lg_sum_to(g, NULL, 1, (int64_t[]){3}), LG_ERR_ARG, "lg_sum_to");
    lg_graph_free(g);
}

/* ---- gradients ---- */

typedef struct shape_params {
    int ndim;
    int64_t shape[LG_MAX_DIMS];
    int perm[LG_MAX_DIMS];
    int axis;
    int64_t start, stop;
} shape_params;

static lg_tensor *op_reshape(lg_graph *g, lg_tensor *const *in, const void *p)
{
    const shape_params *sp = p;
    return lg_reshape(g, in[0], sp->ndim, sp->shape);
}
static lg_tensor *op_transpose(lg_graph *g, lg_tensor *const *in, const void *p)
{
    (void)p;
    return lg_transpose(g, in[0]);
}
static lg_tensor *op_permute(lg_graph *g, lg_tensor *const *in, const void *p)
{
    return lg_permute(g, in[0], ((const shape_params *)p)->perm);
}
static lg_tensor *op_slice(lg_graph *g, lg_tensor *const *in, const void *p)
{
    const shape_params *sp = p;
    return lg_slice(g, in[0], sp->axis, sp->start, sp->stop);
}
static lg_tensor *op_concat2(lg_graph *g, lg_tensor *const *in, const void *p)
{
    return lg_concat(g, in, 2, ((const shape_params *)p)->axis);
}
static lg_tensor *op_concat3(lg_graph *g, lg_tensor *const *in, const void *p)
{
    return lg_concat(g, in, 3, ((const shape_params *)p)->axis);
}
static lg_tensor *op_broadcast_to(lg_graph *g, lg_tensor *const *in, const void *p)
{
    const shape_params *sp = p;
    return lg_broadcast_to(g, in[0], sp->ndim, sp->shape);
}
static lg_tensor *op_sum_to(lg_graph *g, lg_tensor *const *in, const void *p)
{
    const shape_params *sp = p;
    return lg_sum_to(g, in[0], sp->ndim, sp->shape);
}

/* Every op in this file is linear in its input: for Σ w ⊙ op(x) the second order check
 * confirms a zero Hessian, and for Σ w ⊙ op(x)² it runs double backward through the VJP
 * (reshape of reshape, pad of slice, sum_to of broadcast_to...). */

static void test_reshape_vjp_matches_finite_diff(void **state)
{
    (void)state;
    int64_t s234[3] = {2, 3, 4}, s6[1] = {6};
    lg_tensor *x = tu_rand(3, s234, 1000, 0, 0), *y = tu_rand(1, s6, 1001, 0, 0);
    shape_params a = {.ndim = 2, .shape = {-1, 4}};
    shape_params b = {.ndim = 4, .shape = {2, 2, 3, 2}};
    shape_params c = {.ndim = 2, .shape = {3, 2}};
    ot_gradcheck(op_reshape, &a, &x, 1, 1002, "reshape (2,3,4) -> (-1,4)");
    ot_gradcheck(op_reshape, &b, &x, 1, 1003, "reshape (2,3,4) -> (2,2,3,2)");
    ot_gradcheck(op_reshape, &c, &y, 1, 1004, "reshape (6) -> (3,2)");
    lg_tensor_free(x);
    lg_tensor_free(y);
}

static void test_transpose_and_permute_vjp_match_finite_diff(void **state)
{
    (void)state;
    int64_t s23[2] = {2, 3}, s234[3] = {2, 3, 4}, s4[4] = {2, 1, 3, 2};
    lg_tensor *a = tu_rand(2, s23, 1100, 0, 0), *b = tu_rand(3, s234, 1101, 0, 0);
    lg_tensor *c = tu_rand(4, s4, 1102, 0, 0);
    ot_gradcheck(op_transpose, NULL, &a, 1, 1103, "transpose (2,3)");
    ot_gradcheck(op_transpose, NULL, &b, 1, 1104, "transpose (2,3,4)");
    /* Non-involutive permutations, so a VJP using perm instead of its inverse fails. */
    shape_params p3 = {.perm = {2, 0, 1}}, p4 = {.perm = {3, 2, 0, 1}};
    ot_gradcheck(op_permute, &p3, &b, 1, 1105, "permute (2,0,1)");
    ot_gradcheck(op_permute, &p4, &c, 1, 1106, "permute (3,2,0,1)");
    lg_tensor *ts[] = {a, b, c};
    ot_free_all(ts, 3);
}

static void test_concat_vjp_matches_finite_diff(void **state)
{
    (void)state;
    lg_tensor *r[2] = {tu_rand(2, (int64_t[]){1, 3}, 1200, 0, 0),
                       tu_rand(2, (int64_t[]){2, 3}, 1201, 0, 0)};
    shape_params ax0 = {.axis = 0};
    ot_gradcheck(op_concat2, &ax0, r, 2, 1202, "concat axis 0");
    ot_free_all(r, 2);
    lg_tensor *c[2] = {tu_rand(2, (int64_t[]){2, 1}, 1210, 0, 0),
                       tu_rand(2, (int64_t[]){2, 3}, 1211, 0, 0)};
    shape_params ax1 = {.axis = 1};
    ot_gradcheck(op_concat2, &ax1, c, 2, 1212, "concat axis 1");
    ot_free_all(c, 2);
    lg_tensor *t[3] = {tu_rand(3, (int64_t[]){2, 1, 2}, 1220, 0, 0),
                       tu_rand(3, (int64_t[]){2, 2, 2}, 1221, 0, 0),
                       tu_rand(3, (int64_t[]){2, 3, 2}, 1222, 0, 0)};
    shape_params axm = {.axis = -2};
    ot_gradcheck(op_concat3, &axm, t, 3, 1223, "concat of 3, axis -2");
    ot_free_all(t, 3);
}

static void test_slice_vjp_matches_finite_diff(void **state)
{
    (void)state;
    lg_tensor *x = tu_rand(3, (int64_t[]){3, 4, 2}, 1300, 0, 0);
    shape_params a = {.axis = 1, .start = 1, .stop = 3};
    shape_params b = {.axis = 0, .start = 2, .stop = 3};
    shape_params c = {.axis = -1, .start = 0, .stop = 1};
    ot_gradcheck(op_slice, &a, &x, 1, 1301, "slice axis 1 [1,3)");
    ot_gradcheck(op_slice, &b, &x, 1, 1302, "slice axis 0 [2,3)");
    ot_gradcheck(op_slice, &c, &x, 1, 1303, "slice axis -1 [0,1)");
    lg_tensor_free(x);
}

/* The slice VJP adds into the parent's gradient in place when not recording
 * (lg_grad_acc; rows of 64 elements or more, or one block). u = 2x (2,W) and v = 3x feed
 * overlapping slices and a full add, in both recording orders: with the add last, u and
 * v first get the same gradient tensor, which neither may then change in place.
 * Expected by hand: dL/du = pad(w1) + pad(w2) + w3, dL/dv = pad(w4) + w3,
 * dx = 2 dL/du + 3 dL/dv + pad(w5); lg_grad and lg_backward (x's .grad, which also takes
 * a slice of x itself straight into .grad) agree. */
static void test_slice_vjp_accumulates_in_place_exactly(void **state)
{
    (void)state;
    enum { W = 140, N = 2 * W, S = 80 }; /* u[:, 0:S] and u[:, W-S:W] overlap */
    int64_t sx[2] = {2, W}, ss[2] = {2, S}, sr[2] = {1, W};
    double xv[N], w1[2 * S], w2[2 * S], w3[N], w4[W], w5[W], du[N] = {0}, dv[N], dx[N];
    for (int i = 0; i < N; i++)
        xv[i] = 0.5 * i - 1, w3[i] = 1 + 0.25 * i;
    for (int i = 0; i < 2 * S; i++)
        w1[i] = i + 1, w2[i] = 1000 * (i + 1);
    for (int i = 0; i < W; i++)
        w4[i] = 1e6 * (i + 1), w5[i] = 1e7 * (i + 1);
    for (int r = 0; r < 2; r++)
        for (int j = 0; j < S; j++) {
            du[r * W + j] += w1[r * S + j];
            du[r * W + j + W - S] += w2[r * S + j];
        }
    for (int i = 0; i < N; i++) {
        du[i] += w3[i];
        dv[i] = w3[i] + (i >= W ? w4[i - W] : 0); /* v[1:2, :] */
        dx[i] = 2 * du[i] + 3 * dv[i] + (i < W ? w5[i] : 0); /* x[0:1, :] */
    }
    for (int order = 0; order < 2; order++)
        for (int d = 0; d < 2; d++) {
            lg_dtype dt = DTYPES[d];
            lg_tensor *x = ot_tensor(dt, 2, sx, xv);
            lg_tensor_set_requires_grad(x, true);
            lg_graph *g = lg_graph_new();
            lg_tensor *u = lg_scale(g, x, 2), *v = lg_scale(g, x, 3), *full = NULL;
            if (order == 0)
                full = lg_sum(g, lg_mul(g, lg_add(g, u, v), ot_input(g, dt, 2, sx, w3)));
            lg_tensor *l = lg_add(g,
                lg_sum(g, lg_mul(g, lg_slice(g, u, 1, 0, S), ot_input(g, dt, 2, ss, w1))),
                lg_sum(g, lg_mul(g, lg_slice(g, u, 1, W - S, W), ot_input(g, dt, 2, ss, w2))));
            l = lg_add(g, l, lg_sum(g, lg_mul(g, lg_slice(g, v, 0, 1, 2),
                                              ot_input(g, dt, 2, sr, w4))));
            l = lg_add(g, l, lg_sum(g, lg_mul(g, lg_slice(g, x, 0, 0, 1),
                                              ot_input(g, dt, 2, sr, w5))));
            if (order == 1)
                full = lg_sum(g, lg_mul(g, lg_add(g, u, v), ot_input(g, dt, 2, sx, w3)));
            l = lg_add(g, l, full);
            lg_tensor *in[3] = {u, v, x}, *gr[3];
            assert_int_equal(lg_grad(g, l, NULL, 3, in, gr, false), LG_OK);
            double tol = dt == LG_F32 ? 1e-6 : 0;
            tu_assert_tensor_close(gr[0], du, N, 0, tol, "lg_grad dL/du");
            tu_assert_tensor_close(gr[1], dv, N, 0, tol, "lg_grad dL/dv");
            tu_assert_tensor_close(gr[2], dx, N, 0, tol, "lg_grad dL/dx");
            assert_int_equal(lg_backward(g, l), LG_OK);
            tu_assert_tensor_close(lg_tensor_grad(x), dx, N, 0, tol, "x.grad");
            lg_graph_free(g);
            lg_tensor_free(x);
        }
}

static void test_broadcast_to_and_sum_to_vjp_match_finite_diff(void **state)
{
    (void)state;
    lg_tensor *r = tu_rand(1, (int64_t[]){3}, 1400, 0, 0);
    lg_tensor *c = tu_rand(3, (int64_t[]){2, 1, 3}, 1401, 0, 0);
    lg_tensor *s = tu_rand(0, NULL, 1402, 0, 0);
    shape_params to23 = {.ndim = 2, .shape = {2, 3}};
    shape_params to243 = {.ndim = 3, .shape = {2, 4, 3}};
    shape_params to423 = {.ndim = 4, .shape = {4, 2, 1, 3}};
    ot_gradcheck(op_broadcast_to, &to23, &r, 1, 1403, "broadcast (3) -> (2,3)");
    ot_gradcheck(op_broadcast_to, &to243, &c, 1, 1404, "broadcast (2,1,3) -> (2,4,3)");
    ot_gradcheck(op_broadcast_to, &to423, &c, 1, 1405, "broadcast (2,1,3) -> (4,2,1,3)");
    ot_gradcheck(op_broadcast_to, &to23, &s, 1, 1406, "broadcast () -> (2,3)");
    lg_tensor *x = tu_rand(3, (int64_t[]){2, 4, 3}, 1410, 0, 0);
    shape_params s3 = {.ndim = 1, .shape = {3}};
    shape_params s213 = {.ndim = 3, .shape = {2, 1, 3}};
    shape_params s41 = {.ndim = 2, .shape = {4, 1}};
    shape_params s0 = {.ndim = 0};
    ot_gradcheck(op_sum_to, &s3, &x, 1, 1411, "sum_to (2,4,3) -> (3)");
    ot_gradcheck(op_sum_to, &s213, &x, 1, 1412, "sum_to (2,4,3) -> (2,1,3)");
    ot_gradcheck(op_sum_to, &s41, &x, 1, 1413, "sum_to (2,4,3) -> (4,1)");
    ot_gradcheck(op_sum_to, &s0, &x, 1, 1414, "sum_to (2,4,3) -> ()");
    lg_tensor *ts[] = {r, c, s, x};
    ot_free_all(ts, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reshape_keeps_row_major_order),
        cmocka_unit_test(test_reshape_infers_one_minus_one),
        cmocka_unit_test(test_reshape_rejects_bad_targets),
        cmocka_unit_test(test_transpose_swaps_last_two_axes),
        cmocka_unit_test(test_permute_3d_and_4d_move_elements_by_index),
        cmocka_unit_test(test_permute_identity_is_a_copy_of_the_values),
        cmocka_unit_test(test_permute_and_transpose_reject_bad_arguments),
        cmocka_unit_test(test_concat_joins_along_each_axis),
        cmocka_unit_test(test_concat_three_inputs_on_negative_axis_of_3d),
        cmocka_unit_test(test_concat_of_one_tensor_twice_accumulates_both_gradients),
        cmocka_unit_test(test_concat_of_ten_inputs_routes_each_gradient_home),
        cmocka_unit_test(test_concat_rejects_mismatched_inputs),
        cmocka_unit_test(test_slice_takes_half_open_ranges),
        cmocka_unit_test(test_slice_rejects_ranges_outside_the_axis),
        cmocka_unit_test(test_broadcast_to_repeats_along_new_and_unit_axes),
        cmocka_unit_test(test_sum_to_adds_over_broadcast_axes),
        cmocka_unit_test(test_broadcast_to_and_sum_to_reject_incompatible_shapes),
        cmocka_unit_test(test_reshape_vjp_matches_finite_diff),
        cmocka_unit_test(test_transpose_and_permute_vjp_match_finite_diff),
        cmocka_unit_test(test_concat_vjp_matches_finite_diff),
        cmocka_unit_test(test_slice_vjp_matches_finite_diff),
        cmocka_unit_test(test_slice_vjp_accumulates_in_place_exactly),
        cmocka_unit_test(test_broadcast_to_and_sum_to_vjp_match_finite_diff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
