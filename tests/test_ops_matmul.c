/* Matrix-product ops: lg_matmul (2-D, batched, shared weight), lg_matmul_t with every
 * transpose flag, lg_outer, lg_dot and lg_linear. Forward values against hand products
 * or a naive triple loop, gradients against finite differences, and the error paths. */
#define _POSIX_C_SOURCE 200809L /* test_quiet.h: mkstemp, pread */
#include <math.h>
#include "ops_test_util.h"
#include "test_quiet.h"
#include "backend/cpu/cpu_impl.h"

/* ---- a naive reference: C[b] = op(A[b]) op(B[b]) by the definition of the product ---- */
typedef struct mat3 {
    int64_t batch, rows, cols; /* as stored; batch 0 means a 2-D matrix */
} mat3;

static double at(const double *x, mat3 s, int64_t b, int64_t i, int64_t j, bool t)
{
    int64_t base = s.batch ? b * s.rows * s.cols : 0;
    return t ? x[base + j * s.cols + i] : x[base + i * s.cols + j];
}

static void naive_matmul(const double *a, mat3 sa, bool ta, const double *b, mat3 sb,
                         bool tb, double *c)
{
    int64_t m = ta ? sa.cols : sa.rows, k = ta ? sa.rows : sa.cols;
    int64_t n = tb ? sb.rows : sb.cols;
    int64_t batch = sa.batch > sb.batch ? sa.batch : sb.batch;
    if (batch == 0)
        batch = 1;
    for (int64_t q = 0; q < batch; q++)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double acc = 0;
                for (int64_t p = 0; p < k; p++)
                    acc += at(a, sa, q, i, p, ta) * at(b, sb, q, p, j, tb);
                c[(q * m + i) * n + j] = acc;
            }
}

static const lg_dtype DTYPES[2] = {LG_F32, LG_F64};

/* ---- lg_matmul forward ---- */

static void test_matmul_2d_matches_hand_product(void **state)
{
    (void)state;
    /* [[1,2,3],[4,5,6]] @ [[7,8],[9,10],[11,12]], by hand:
     * 1*7+2*9+3*11 = 58, 1*8+2*10+3*12 = 64, 4*7+5*9+6*11 = 139, 4*8+5*10+6*12 = 154. */
    const double av[6] = {1, 2, 3, 4, 5, 6}, bv[6] = {7, 8, 9, 10, 11, 12};
    const double want[4] = {58, 64, 139, 154};
    int64_t sa[2] = {2, 3}, sb[2] = {3, 2}, sc[2] = {2, 2};
    for (int d = 0; d < 2; d++) {
        lg_graph *g = lg_graph_new();
        lg_tensor *c = lg_matmul(g, ot_input(g, DTYPES[d], 2, sa, av),
                                 ot_input(g, DTYPES[d], 2, sb, bv));
        ot_assert_shape(c, 2, sc);
        assert_int_equal(lg_tensor_dtype(c), DTYPES[d]);
        tu_assert_tensor_close(c, want, 4, 0, 0, "2x3 @ 3x2");
        lg_graph_free(g);
    }
}

static void test_matmul_batched_3d_multiplies_each_batch(void **state)
{
    (void)state;
    /* Batch 0: [[1,2],[3,4]] @ [[5,6],[7,8]] = [[19,22],[43,50]];
     * batch 1: [[2,0],[1,-1]] @ [[1,2],[3,4]] = [[2,4],[-2,-2]] (by hand). */
    const double av[8] = {1, 2, 3, 4, 2, 0, 1, -1}, bv[8] = {5, 6, 7, 8, 1, 2, 3, 4};
    const double want[8] = {19, 22, 43, 50, 2, 4, -2, -2};
    int64_t s[3] = {2, 2, 2};
    for (int d = 0; d < 2; d++) {
        lg_graph *g = lg_graph_new();
        lg_tensor *c = lg_matmul(g, ot_input(g, DTYPES[d], 3, s, av),
                                 ot_input(g, DTYPES[d], 3, s, bv));
        ot_assert_shape(c, 3, s);
        tu_assert_tensor_close(c, want, 8, 0, 0, "batched 2x2 products");
        lg_graph_free(g);
    }
}

static void test_matmul_3d_by_2d_shares_the_weight(void **state)
{
    (void)state;
    /* Rows [1,2] and [3,4], each its own batch entry, times W = [[1,2],[3,4]]:
     * [1+6, 2+8] = [7,10], [3+12, 6+16] = [15,22] (by hand). */
    const double xv[4] = {1, 2, 3, 4}, wv[4] = {1, 2, 3, 4}, want[4] = {7, 10, 15, 22};
    int64_t sx[3] = {2, 1, 2}, sw[2] = {2, 2}, sy[3] = {2, 1, 2};
    for (int d = 0; d < 2; d++) {
        lg_graph *g = lg_graph_new();
        lg_tensor *y = lg_matmul(g, ot_input(g, DTYPES[d], 3, sx, xv),
                                 ot_input(g, DTYPES[d], 2, sw, wv));
        ot_assert_shape(y, 3, sy);
        tu_assert_tensor_close(y, want, 4, 0, 0, "(2,1,2) @ (2,2)");
        lg_graph_free(g);
    }
}

static void test_matmul_empty_inner_dimension_gives_zeros(void **state)
{
    (void)state;
    /* (2,0) @ (0,3): every entry is an empty sum, 0. The output buffer comes from the
     * arena uninitialised, so a GEMM that skipped k = 0 would leave garbage. */
    int64_t sa[2] = {2, 0}, sb[2] = {0, 3}, sc[2] = {2, 3};
    const double zeros[6] = {0};
    for (int d = 0; d < 2; d++) {
        lg_graph *g = lg_graph_new();
        /* Dirty the arena first, so uninitialised memory would show as non-zero. */
        lg_tensor *junk = lg_graph_full(g, DTYPES[d], 1, (int64_t[]){4096}, 7.0);
        assert_non_null(junk);
        lg_graph_reset(g);
        lg_tensor *c = lg_matmul(g, ot_input(g, DTYPES[d], 2, sa, zeros),
                                 ot_input(g, DTYPES[d], 2, sb, zeros));
        ot_assert_shape(c, 2, sc);
        tu_assert_tensor_close(c, zeros, 6, 0, 0, "(2,0) @ (0,3)");
        lg_graph_free(g);
    }
}

/* ---- lg_matmul_t forward: all four flag combinations against the naive loop ---- */

static void check_product(lg_dtype dt, int64_t batch_a, int64_t batch_b, int64_t m, int64_t k,
                          int64_t n, bool ta, bool tb, uint64_t seed)
{
    mat3 ma = {batch_a, ta ? k : m, ta ? m : k}, mb = {batch_b, tb ? n : k, tb ? k : n};
    int64_t sa[3] = {batch_a, ma.rows, ma.cols}, sb[3] = {batch_b, mb.rows, mb.cols};
    int na = batch_a ? 3 : 2, nb = batch_b ? 3 : 2;
    lg_tensor *a = tu_rand(na, batch_a ? sa : sa + 1, seed, 0, 0);
    lg_tensor *b = tu_rand(nb, batch_b ? sb : sb + 1, seed + 1, 0, 0);
    int64_t batch = batch_a > batch_b ? batch_a : batch_b;
    int64_t nc = (batch ? batch : 1) * m * n;
    double *want = malloc(sizeof *want * (size_t)nc);
    assert_non_null(want);
    naive_matmul(lg_tensor_cdata(a), ma, ta, lg_tensor_cdata(b), mb, tb, want);
    lg_graph *g = lg_graph_new();
    lg_tensor *c = lg_matmul_t(g, ot_input(g, dt, na, lg_tensor_shape(a), lg_tensor_cdata(a)),
                               ot_input(g, dt, nb, lg_tensor_shape(b), lg_tensor_cdata(b)),
                               ta, tb);
    int64_t sc[3] = {batch, m, n};
    if (batch)
        ot_assert_shape(c, 3, sc);
    else
        ot_assert_shape(c, 2, sc + 1);
    char what[128];
    snprintf(what, sizeof what, "%s matmul_t %lldx%lldx%lld ta=%d tb=%d batches %lld,%lld",
             lg_dtype_name(dt), (long long)m, (long long)k, (long long)n, ta, tb,
             (long long)batch_a, (long long)batch_b);
    double tol = dt == LG_F32 ? 1e-5 : 1e-13;
    for (int64_t i = 0; i < nc; i++) /* element by element: nc may exceed 4096 */
        tu_assert_close_arr((double[]){lg_tensor_item(c, i)}, want + i, 1, tol, tol, what);
    free(want);
    lg_graph_free(g);
    lg_tensor_free(a);
    lg_tensor_free(b);
}

static void test_matmul_t_all_flag_combinations_match_naive_product(void **state)
{
    (void)state;
    for (int d = 0; d < 2; d++)
        for (int f = 0; f < 4; f++) {
            bool ta = f & 1, tb = f & 2;
            check_product(DTYPES[d], 0, 0, 3, 4, 2, ta, tb, 10 + (uint64_t)f);
            check_product(DTYPES[d], 2, 2, 3, 4, 2, ta, tb, 20 + (uint64_t)f);
            check_product(DTYPES[d], 3, 0, 3, 4, 2, ta, tb, 30 + (uint64_t)f);
        }
}

/* One row, one column or an inner dimension of 1 leave GEMM for GEMV or an outer-product
 * loop (backend/cpu/cpu_gemm.c); every operand layout of those paths, batched too, and an
 * outer product large enough to run on all threads. */
static void test_matmul_t_degenerate_shapes_match_naive_product(void **state)
{
    (void)state;
    static const int64_t shapes[][3] = {{1, 5, 3}, {4, 6, 1}, {3, 1, 4}, {1, 1, 5},
                                        {5, 1, 1}, {1, 7, 1}, {1, 1, 1}, {230, 1, 190}};
    for (int d = 0; d < 2; d++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int f = 0; f < 4; f++) {
                bool ta = f & 1, tb = f & 2;
                const int64_t *mkn = shapes[s];
                uint64_t seed = 50 + 7 * s + (uint64_t)f;
                check_product(DTYPES[d], 0, 0, mkn[0], mkn[1], mkn[2], ta, tb, seed);
                if (mkn[0] * mkn[2] < 1000) {
                    check_product(DTYPES[d], 2, 2, mkn[0], mkn[1], mkn[2], ta, tb, seed);
                    check_product(DTYPES[d], 3, 0, mkn[0], mkn[1], mkn[2], ta, tb, seed);
                }
            }
}

/* The CPU GEMM with beta 0 must not read C (arena memory may hold NaN patterns), and with
 * beta 1 must add into it: every degenerate path, against hand values. */
static void test_cpu_gemm_degenerate_paths_honour_beta(void **state)
{
    (void)state;
    /* A 1x3 = [1, 2, 3]; B 3x2 = [[1, 2], [3, 4], [5, 6]]: A B = [22, 28].
     * A as 3x1 times B' 1x2 = [1, -1]: the outer product [[1, -1], [2, -2], [3, -3]]. */
    const double a[3] = {1, 2, 3}, b[6] = {1, 2, 3, 4, 5, 6}, row[2] = {1, -1};
    const double gemv_want[2] = {22, 28}, outer_want[6] = {1, -1, 2, -2, 3, -3};
    for (int beta = 0; beta < 2; beta++) {
        double c[6];
        for (int i = 0; i < 6; i++)
            c[i] = beta ? 100 : NAN;
        lg_cpu_gemm(LG_F64, 0, 0, 1, 1, 2, 3, 1.0, a, 0, b, 0, beta, c, 0); /* m = 1 */
        for (int i = 0; i < 2; i++)
            assert_true(c[i] == gemv_want[i] + 100 * beta);
        for (int i = 0; i < 6; i++)
            c[i] = beta ? 100 : NAN;
        lg_cpu_gemm(LG_F64, 1, 1, 1, 2, 1, 3, 1.0, b, 0, a, 0, beta, c, 0); /* n = 1: Bᵀ a */
        for (int i = 0; i < 2; i++)
            assert_true(c[i] == gemv_want[i] + 100 * beta);
        for (int i = 0; i < 6; i++)
            c[i] = beta ? 100 : NAN;
        lg_cpu_gemm(LG_F64, 0, 0, 1, 3, 2, 1, 1.0, a, 0, row, 0, beta, c, 0); /* k = 1 */
        for (int i = 0; i < 6; i++)
            assert_true(c[i] == outer_want[i] + 100 * beta);
        float cf[6], af[3] = {1, 2, 3}, rf[2] = {1, -1};
        for (int i = 0; i < 6; i++)
            cf[i] = beta ? 100.0f : NAN;
        lg_cpu_gemm(LG_F32, 1, 1, 1, 3, 2, 1, 1.0, af, 0, rf, 0, beta, cf, 0);
        for (int i = 0; i < 6; i++)
            assert_true(cf[i] == (float)(outer_want[i] + 100 * beta));
    }
    /* An empty result touches nothing and prints nothing (BLAS, which would reject its
     * leading dimensions, prints: stdout and stderr go to a temporary file meanwhile). */
    double c0[1] = {7};
    quiet q;
    quiet_begin(&q);
    lg_cpu_gemm(LG_F64, 0, 0, 1, 1, 0, 3, 1.0, a, 0, b, 0, 0.0, c0, 0);
    lg_cpu_gemm(LG_F64, 1, 0, 1, 0, 1, 3, 1.0, a, 0, b, 0, 0.0, c0, 0);
    quiet_end(&q);
    assert_true(c0[0] == 7);
}

/* lg_linear at batch 1 adds the bias through GEMV's beta = 1. */
static void test_linear_single_row_adds_the_bias(void **state)
{
    (void)state;
    /* x = [1, 2], W = [[1, 0], [2, 3], [-1, 1]], b = [10, 20, 30]:
     * y = [1 + 10, 2 + 6 + 20, -1 + 2 + 30] = [11, 28, 31]. */
    const double xv[2] = {1, 2}, wv[6] = {1, 0, 2, 3, -1, 1}, bv[3] = {10, 20, 30};
    const double want[3] = {11, 28, 31};
    int64_t sx[2] = {1, 2}, sw[2] = {3, 2}, sb[1] = {3};
    for (int d = 0; d < 2; d++) {
        lg_graph *g = lg_graph_new();
        lg_tensor *y = lg_linear(g, ot_input(g, DTYPES[d], 2, sx, xv),
                                 ot_input(g, DTYPES[d], 2, sw, wv),
                                 ot_input(g, DTYPES[d], 1, sb, bv));
        tu_assert_tensor_close(y, want, 3, 0, 0, "linear, one row");
        lg_graph_free(g);
    }
}

static void test_matmul_t_transposes_by_hand(void **state)
{
    (void)state;
    /* A = [[1,2],[3,4]], B = [[5,6],[7,8]], by hand:
     * Aᵀ B = [[1*5+3*7, 1*6+3*8], [2*5+4*7, 2*6+4*8]] = [[26,30],[38,44]]
     * A Bᵀ = [[1*5+2*6, 1*7+2*8], [3*5+4*6, 3*7+4*8]] = [[17,23],[39,53]]
     * Aᵀ Bᵀ = (B A)ᵀ, B A = [[23,34],[31,46]] so Aᵀ Bᵀ = [[23,31],[34,46]]. */
    const double av[4] = {1, 2, 3, 4}, bv[4] = {5, 6, 7, 8};
    const double tn[4] = {26, 30, 38, 44}, nt[4] = {17, 23, 39, 53}, tt[4] = {23, 31, 34, 46};
    int64_t s[2] = {2, 2};
    lg_graph *g = lg_graph_new();
    lg_tensor *a = ot_input(g, LG_F64, 2, s, av), *b = ot_input(g, LG_F64, 2, s, bv);
    tu_assert_tensor_close(lg_matmul_t(g, a, b, true, false), tn, 4, 0, 0, "Aᵀ B");
    tu_assert_tensor_close(lg_matmul_t(g, a, b, false, true), nt, 4, 0, 0, "A Bᵀ");
    tu_assert_tensor_close(lg_matmul_t(g, a, b, true, true), tt, 4, 0, 0, "Aᵀ Bᵀ");
    lg_graph_free(g);
}

static void test_attention_qkt_then_v_matches_naive(void **state)
{
    (void)state;
    /* S = Q Kᵀ (batched, no copy of K), then O = S V; against the naive loop. */
    int64_t sq[3] = {2, 3, 4}, sv[3] = {2, 3, 5};
    lg_tensor *q = tu_rand(3, sq, 41, 0, 0), *k = tu_rand(3, sq, 42, 0, 0);
    lg_tensor *v = tu_rand(3, sv, 43, 0, 0);
    double s[18], o[30];
    naive_matmul(lg_tensor_cdata(q), (mat3){2, 3, 4}, false, lg_tensor_cdata(k),
                 (mat3){2, 3, 4}, true, s);
    naive_matmul(s, (mat3){2, 3, 3}, false, lg_tensor_cdata(v), (mat3){2, 3, 5}, false, o);
    lg_graph *g = lg_graph_new();
    lg_tensor *sc = lg_matmul_t(g, q, k, false, true);
    tu_assert_tensor_close(sc, s, 18, 1e-13, 1e-13, "Q Kᵀ");
    tu_assert_tensor_close(lg_matmul(g, sc, v), o, 30, 1e-13, 1e-13, "(Q Kᵀ) V");
    lg_graph_free(g);
    lg_tensor *ts[] = {q, k, v};
    ot_free_all(ts, 3);
}

/* ---- lg_outer, lg_dot, lg_linear forward ---- */

static void test_outer_matches_hand_values(void **state)
{
    (void)state;
    /* [1,2] ⊗ [3,4,5] = [[3,4,5],[6,8,10]] (by hand). */
    const double uv[2] = {1, 2}, vv[3] = {3, 4, 5}, want[6] = {3, 4, 5, 6, 8, 10};
    int64_t su = 2, sv = 3, so[2] = {2, 3};
    for (int d = 0; d < 2; d++) {
        lg_graph *g = lg_graph_new();
        lg_tensor *o = lg_outer(g, ot_input(g, DTYPES[d], 1, &su, uv),
                                ot_input(g, DTYPES[d], 1, &sv, vv));
        ot_assert_shape(o, 2, so);
        tu_assert_tensor_close(o, want, 6, 0, 0, "outer");
        lg_graph_free(g);
    }
}

static void test_dot_matches_hand_value(void **state)
{
    (void)state;
    /* [1,2,3]·[4,-5,6] = 4 - 10 + 18 = 12 (by hand); a rank-0 result. */
    const double uv[3] = {1, 2, 3}, vv[3] = {4, -5, 6}, want = 12;
    int64_t n = 3;
    for (int d = 0; d < 2; d++) {
        lg_graph *g = lg_graph_new();
        lg_tensor *r = lg_dot(g, ot_input(g, DTYPES[d], 1, &n, uv),
                              ot_input(g, DTYPES[d], 1, &n, vv));
        ot_assert_shape(r, 0, NULL);
        tu_assert_tensor_close(r, &want, 1, 0, 0, "dot");
        lg_graph_free(g);
    }
}

static void test_linear_matches_hand_values_with_and_without_bias(void **state)
{
    (void)state;
    /* x = [[1,2,3],[4,5,6]], W = [[1,0,-1],[2,1,0]], b = [10,20]; x Wᵀ by hand:
     * [1-3, 2+2] = [-2,4], [4-6, 8+5] = [-2,13]; plus b: [8,24], [8,33]. */
    const double xv[6] = {1, 2, 3, 4, 5, 6}, wv[6] = {1, 0, -1, 2, 1, 0}, bv[2] = {10, 20};
    const double nobias[4] = {-2, 4, -2, 13}, bias[4] = {8, 24, 8, 33};
    int64_t sx[2] = {2, 3}, sb = 2, sy[2] = {2, 2};
    for (int d = 0; d < 2; d++) {
        lg_graph *g = lg_graph_new();
        lg_tensor *x = ot_input(g, DTYPES[d], 2, sx, xv), *w = ot_input(g, DTYPES[d], 2, sx, wv);
        lg_tensor *y0 = lg_linear(g, x, w, NULL);
        lg_tensor *y1 = lg_linear(g, x, w, ot_input(g, DTYPES[d], 1, &sb, bv));
        ot_assert_shape(y0, 2, sy);
        ot_assert_shape(y1, 2, sy);
        tu_assert_tensor_close(y0, nobias, 4, 0, 0, "x Wᵀ");
        tu_assert_tensor_close(y1, bias, 4, 0, 0, "x Wᵀ + b");
        lg_graph_free(g);
    }
}

static void test_linear_with_empty_input_features_is_the_bias(void **state)
{
    (void)state;
    /* in = 0: x Wᵀ is an empty sum, so y is b on every row (and 0 without b). */
    int64_t sx[2] = {3, 0}, sw[2] = {2, 0}, sb = 2;
    const double bv[2] = {1.5, -2}, want[6] = {1.5, -2, 1.5, -2, 1.5, -2}, zeros[6] = {0};
    lg_graph *g = lg_graph_new();
    lg_tensor *junk = lg_graph_full(g, LG_F64, 1, (int64_t[]){4096}, 9.0);
    assert_non_null(junk);
    lg_graph_reset(g);
    lg_tensor *x = ot_input(g, LG_F64, 2, sx, zeros), *w = ot_input(g, LG_F64, 2, sw, zeros);
    tu_assert_tensor_close(lg_linear(g, x, w, ot_input(g, LG_F64, 1, &sb, bv)), want, 6, 0, 0,
                           "linear, in = 0, with b");
    tu_assert_tensor_close(lg_linear(g, x, w, NULL), zeros, 6, 0, 0, "linear, in = 0");
    lg_graph_free(g);
}

/* ---- gradients ---- */

typedef struct mm_params {
    bool ta, tb;
    const lg_tensor *fixed_b; /* when set, the op is a @ fixed_b (one input) */
} mm_params;

static lg_tensor *op_matmul_t(lg_graph *g, lg_tensor *const *in, const void *p)
{
    const mm_params *mp = p;
    lg_tensor *b = mp->fixed_b ? (lg_tensor *)mp->fixed_b : in[1];
    return lg_matmul_t(g, in[0], b, mp->ta, mp->tb);
}

static void gradcheck_matmul(int64_t batch_a, int64_t batch_b, int64_t m, int64_t k,
                             int64_t n, bool ta, bool tb, uint64_t seed)
{
    int64_t sa[3] = {batch_a, ta ? k : m, ta ? m : k}, sb[3] = {batch_b, tb ? n : k, tb ? k : n};
    lg_tensor *in[2] = {tu_rand(batch_a ? 3 : 2, batch_a ? sa : sa + 1, seed, 0, 0),
                        tu_rand(batch_b ? 3 : 2, batch_b ? sb : sb + 1, seed + 1, 0, 0)};
    mm_params p = {ta, tb, NULL};
    char what[128];
    snprintf(what, sizeof what, "matmul_t (%lld:%lldx%lld, ta=%d) @ (%lld:%lldx%lld, tb=%d)",
             (long long)batch_a, (long long)sa[1], (long long)sa[2], ta, (long long)batch_b,
             (long long)sb[1], (long long)sb[2], tb);
    /* Both operands at once: the product is bilinear, so its Hessian is the non-zero
     * cross term dA dB. */
    ot_gradcheck(op_matmul_t, &p, in, 2, seed + 2, what);
    ot_free_all(in, 2);
}

static void test_matmul_vjp_matches_finite_diff(void **state)
{
    (void)state;
    gradcheck_matmul(0, 0, 3, 4, 2, false, false, 100);
    gradcheck_matmul(0, 0, 1, 5, 1, false, false, 110);
    gradcheck_matmul(0, 0, 2, 3, 3, false, false, 120);
    gradcheck_matmul(2, 2, 3, 4, 2, false, false, 130); /* batched */
    gradcheck_matmul(3, 0, 2, 4, 3, false, false, 140); /* shared weight: dB sums batches */
}

static void test_matmul_t_vjp_matches_finite_diff_for_all_flags(void **state)
{
    (void)state;
    for (int f = 0; f < 4; f++) {
        bool ta = f & 1, tb = f & 2;
        gradcheck_matmul(0, 0, 3, 2, 4, ta, tb, 200 + 10 * (uint64_t)f);
        gradcheck_matmul(2, 2, 2, 3, 2, ta, tb, 300 + 10 * (uint64_t)f);
        gradcheck_matmul(2, 0, 2, 3, 2, ta, tb, 400 + 10 * (uint64_t)f);
    }
}

static void test_matmul_in_one_argument_has_zero_second_derivative(void **state)
{
    (void)state;
    /* A ↦ Σ w ⊙ (A B) is linear in A: its Hessian is identically zero, and the second
     * order check confirms that double backward gives exactly that. */
    int64_t sa[2] = {3, 4}, sb[2] = {4, 2};
    lg_tensor *a = tu_rand(2, sa, 501, 0, 0), *b = tu_rand(2, sb, 502, 0, 0);
    mm_params p = {false, false, b};
    lg_tensor *in[2] = {a, NULL}; /* op_matmul_t's shape: in[1] is read only without fixed_b */
    ot_gradcheck(op_matmul_t, &p, in, 1, 503, "A @ fixed B");
    lg_tensor_free(a);
    lg_tensor_free(b);
}

/* softmax(Q Kᵀ / √d) V over a batch of 2 heads. */
static lg_tensor *op_attention(lg_graph *g, lg_tensor *const *in, const void *p)
{
    (void)p;
    lg_tensor *s = lg_scale(g, lg_matmul_t(g, in[0], in[1], false, true), 1.0 / sqrt(4.0));
    return lg_matmul(g, lg_softmax(g, s, -1), in[2]);
}

static void test_attention_vjp_matches_finite_diff(void **state)
{
    (void)state;
    int64_t sq[3] = {2, 3, 4}, sv[3] = {2, 3, 2};
    lg_tensor *in[3] = {tu_rand(3, sq, 601, 0, 0), tu_rand(3, sq, 602, 0, 0),
                        tu_rand(3, sv, 603, 0, 0)};
    ot_gradcheck(op_attention, NULL, in, 3, 604, "attention softmax(Q Kᵀ/2) V");
    ot_free_all(in, 3);
}

static lg_tensor *op_outer(lg_graph *g, lg_tensor *const *in, const void *p)
{
    (void)p;
    return lg_outer(g, in[0], in[1]);
}

static lg_tensor *op_dot(lg_graph *g, lg_tensor *const *in, const void *p)
{
    (void)p;
    return lg_dot(g, in[0], in[1]);
}

static void test_outer_and_dot_vjp_match_finite_diff(void **state)
{
    (void)state;
    const int64_t lens[3][2] = {{1, 1}, {3, 4}, {5, 2}};
    for (int c = 0; c < 3; c++) {
        lg_tensor *in[2] = {tu_rand(1, &lens[c][0], 700 + (uint64_t)c, 0, 0),
                            tu_rand(1, &lens[c][1], 710 + (uint64_t)c, 0, 0)};
        ot_gradcheck(op_outer, NULL, in, 2, 720 + (uint64_t)c, "outer");
        ot_free_all(in, 2);
        lg_tensor *d[2] = {tu_rand(1, &lens[c][1], 730 + (uint64_t)c, 0, 0),
                           tu_rand(1, &lens[c][1], 740 + (uint64_t)c, 0, 0)};
        ot_gradcheck(op_dot, NULL, d, 2, 750 + (uint64_t)c, "dot");
        ot_free_all(d, 2);
    }
}

static lg_tensor *op_linear(lg_graph *g, lg_tensor *const *in, const void *p)
{
    return lg_linear(g, in[0], in[1], *(const bool *)p ? in[2] : NULL);
}

static void test_linear_vjp_matches_finite_diff_with_and_without_bias(void **state)
{
    (void)state;
    const int64_t dims[3][3] = {{2, 3, 4}, {1, 5, 1}, {4, 2, 3}}; /* N, in, out */
    for (int c = 0; c < 3; c++) {
        int64_t sx[2] = {dims[c][0], dims[c][1]}, sw[2] = {dims[c][2], dims[c][1]};
        lg_tensor *in[3] = {tu_rand(2, sx, 800 + (uint64_t)c, 0, 0),
                            tu_rand(2, sw, 810 + (uint64_t)c, 0, 0),
                            tu_rand(1, &sw[0], 820 + (uint64_t)c, 0, 0)};
        bool with_bias = true, without = false;
        ot_gradcheck(op_linear, &with_bias, in, 3, 830 + (uint64_t)c, "linear with b");
        ot_gradcheck(op_linear, &without, in, 2, 840 + (uint64_t)c, "linear without b");
        ot_free_all(in, 3);
    }
}

static void test_linear_bias_gradient_is_column_sum(void **state)
{
    (void)state;
    /* y = x Wᵀ + b, L = Σ w ⊙ y: dL/db = Σ_rows w, dL/dx = w W (independent of x). */
    int64_t sx[2] = {3, 2}, sw[2] = {2, 2}, sb = 2;
    const double xv[6] = {1, 2, 3, 4, 5, 6}, wv[4] = {1, 2, 3, 4}, bv[2] = {0, 0};
    const double gv[6] = {1, -1, 2, 0.5, 0, 3};
    lg_tensor *b = ot_tensor(LG_F64, 1, &sb, bv), *x = ot_tensor(LG_F64, 2, sx, xv);
    lg_tensor_set_requires_grad(b, true);
    lg_tensor_set_requires_grad(x, true);
    lg_graph *g = lg_graph_new();
    lg_tensor *y = lg_linear(g, x, ot_input(g, LG_F64, 2, sw, wv), b);
    assert_int_equal(lg_backward(g, lg_sum(g, lg_mul(g, y, ot_input(g, LG_F64, 2, sx, gv)))),
                     LG_OK);
    /* Σ rows of gv: [1+2+0, -1+0.5+3]; gv W by hand: [1-3, 2-4], [2+1.5, 4+2], [0+9, 0+12]. */
    const double db[2] = {3, 2.5}, dx[6] = {-2, -2, 3.5, 6, 9, 12};
    tu_assert_tensor_close(lg_tensor_grad(b), db, 2, 1e-15, 0, "db");
    tu_assert_tensor_close(lg_tensor_grad(x), dx, 6, 1e-15, 0, "dx");
    lg_graph_free(g);
    lg_tensor_free(b);
    lg_tensor_free(x);
}

/* ---- errors ---- */

static void test_matmul_rejects_inner_mismatch(void **state)
{
    (void)state;
    int64_t sa[2] = {2, 3}, sb[2] = {4, 5};
    lg_graph *g = lg_graph_new();
    lg_tensor *a = lg_graph_full(g, LG_F32, 2, sa, 1), *b = lg_graph_full(g, LG_F32, 2, sb, 1);
    OT_EXPECT_ERROR(g, lg_matmul(g, a, b), LG_ERR_SHAPE, "lg_matmul", "(2,3)", "(4,5)");
    /* With flags the stored shapes are named: (2,3)ᵀ is (3,2), whose 2 rows meet 4. */
    OT_EXPECT_ERROR(g, lg_matmul_t(g, a, b, true, false), LG_ERR_SHAPE, "lg_matmul", "(2,3)",
                    "(4,5)");
    /* (2,3) @ (2,3)ᵀ is fine; (2,3)ᵀ @ (2,3)ᵀ is (3,2) @ (3,2): 2 against 3. */
    assert_non_null(lg_matmul_t(g, a, a, false, true));
    OT_EXPECT_ERROR(g, lg_matmul_t(g, a, a, true, true), LG_ERR_SHAPE, "lg_matmul", "(2,3)");
    lg_graph_free(g);
}

static void test_matmul_rejects_batch_mismatch_and_bad_rank(void **state)
{
    (void)state;
    int64_t s3a[3] = {2, 2, 3}, s3b[3] = {3, 3, 2}, s1[1] = {3}, s4[4] = {1, 2, 3, 3};
    int64_t s2[2] = {3, 2};
    lg_graph *g = lg_graph_new();
    lg_tensor *a = lg_graph_full(g, LG_F64, 3, s3a, 1), *b = lg_graph_full(g, LG_F64, 3, s3b, 1);
    OT_EXPECT_ERROR(g, lg_matmul(g, a, b), LG_ERR_SHAPE, "lg_matmul", "(2,2,3)", "(3,3,2)");
    lg_tensor *v = lg_graph_full(g, LG_F64, 1, s1, 1), *m = lg_graph_full(g, LG_F64, 2, s2, 1);
    OT_EXPECT_ERROR(g, lg_matmul(g, v, m), LG_ERR_SHAPE, "lg_matmul", "(3)", "(3,2)");
    lg_tensor *r4 = lg_graph_full(g, LG_F64, 4, s4, 1);
    OT_EXPECT_ERROR(g, lg_matmul(g, r4, m), LG_ERR_SHAPE, "lg_matmul", "(1,2,3,3)");
    lg_graph_free(g);
}

static void test_matmul_rejects_mixed_dtypes_and_null(void **state)
{
    (void)state;
    int64_t s[2] = {2, 2};
    lg_graph *g = lg_graph_new();
    lg_tensor *a = lg_graph_full(g, LG_F32, 2, s, 1), *b = lg_graph_full(g, LG_F64, 2, s, 1);
    OT_EXPECT_ERROR(g, lg_matmul(g, a, b), LG_ERR_DTYPE, "lg_matmul", "f32", "f64");
    OT_EXPECT_ERROR(g, lg_matmul_t(g, a, b, true, true), LG_ERR_DTYPE, "lg_matmul");
    OT_EXPECT_ERROR(g, lg_matmul(g, NULL, b), LG_ERR_ARG, "lg_matmul", "input 0");
    OT_EXPECT_ERROR(g, lg_matmul(g, a, NULL), LG_ERR_ARG, "lg_matmul", "input 1");
    assert_null(lg_matmul(NULL, a, a));
    lg_graph_free(g);
}

static void test_matmul_keeps_the_first_error(void **state)
{
    (void)state;
    /* A failed matmul makes later ops return NULL, and the first message survives. */
    int64_t sa[2] = {2, 3}, sb[2] = {4, 5};
    lg_graph *g = lg_graph_new();
    lg_tensor *a = lg_graph_full(g, LG_F64, 2, sa, 1), *b = lg_graph_full(g, LG_F64, 2, sb, 1);
    lg_tensor *c = lg_matmul(g, a, b);
    assert_null(c);
    assert_null(lg_matmul(g, c, b));
    assert_null(lg_matmul(g, a, lg_transpose(g, a))); /* valid, but the graph has an error */
    assert_int_equal(lg_graph_status(g), LG_ERR_SHAPE);
    assert_non_null(strstr(lg_graph_errmsg(g), "(2,3) @ (4,5)"));
    lg_graph_free(g);
}

static void test_outer_and_dot_reject_bad_operands(void **state)
{
    (void)state;
    int64_t s3 = 3, s4 = 4, s22[2] = {2, 2};
    lg_graph *g = lg_graph_new();
    lg_tensor *u = lg_graph_full(g, LG_F64, 1, &s3, 1), *v = lg_graph_full(g, LG_F64, 1, &s4, 1);
    lg_tensor *m = lg_graph_full(g, LG_F64, 2, s22, 1), *f = lg_graph_full(g, LG_F32, 1, &s3, 1);
    OT_EXPECT_ERROR(g, lg_outer(g, m, u), LG_ERR_SHAPE, "lg_outer", "(2,2)", "(3)");
    OT_EXPECT_ERROR(g, lg_outer(g, u, f), LG_ERR_DTYPE, "lg_outer");
    OT_EXPECT_ERROR(g, lg_outer(g, NULL, u), LG_ERR_ARG, "lg_outer");
    OT_EXPECT_ERROR(g, lg_dot(g, u, v), LG_ERR_SHAPE, "lg_dot", "(3)", "(4)");
    OT_EXPECT_ERROR(g, lg_dot(g, u, m), LG_ERR_SHAPE, "lg_dot", "(2,2)");
    OT_EXPECT_ERROR(g, lg_dot(g, f, u), LG_ERR_DTYPE, "lg_dot");
    OT_EXPECT_ERROR(g, lg_dot(g, u, NULL), LG_ERR_ARG, "lg_dot");
    lg_graph_free(g);
}

static void test_linear_rejects_bad_shapes_dtypes_and_null(void **state)
{
    (void)state;
    int64_t sx[2] = {2, 3}, sw[2] = {4, 3}, sw_bad[2] = {4, 5}, sb = 4, sb_bad = 3;
    lg_graph *g = lg_graph_new();
    lg_tensor *x = lg_graph_full(g, LG_F64, 2, sx, 1), *w = lg_graph_full(g, LG_F64, 2, sw, 1);
    lg_tensor *b = lg_graph_full(g, LG_F64, 1, &sb, 1);
    assert_non_null(lg_linear(g, x, w, b));
    lg_tensor *wb = lg_graph_full(g, LG_F64, 2, sw_bad, 1);
    OT_EXPECT_ERROR(g, lg_linear(g, x, wb, NULL), LG_ERR_SHAPE, "lg_linear", "(2,3)", "(4,5)");
    lg_tensor *bb = lg_graph_full(g, LG_F64, 1, &sb_bad, 1);
    OT_EXPECT_ERROR(g, lg_linear(g, x, w, bb), LG_ERR_SHAPE, "lg_linear", "(3)");
    /* x must be 2-D: a 1-D row is refused rather than guessed. */
    OT_EXPECT_ERROR(g, lg_linear(g, bb, w, NULL), LG_ERR_SHAPE, "lg_linear");
    lg_tensor *b32 = lg_graph_full(g, LG_F32, 1, &sb, 1);
    OT_EXPECT_ERROR(g, lg_linear(g, x, w, b32), LG_ERR_DTYPE, "lg_linear", "input 2");
    OT_EXPECT_ERROR(g, lg_linear(g, NULL, w, b), LG_ERR_ARG, "lg_linear");
    OT_EXPECT_ERROR(g, lg_linear(g, x, NULL, NULL), LG_ERR_ARG, "lg_linear");
    lg_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_2d_matches_hand_product),
        cmocka_unit_test(test_matmul_batched_3d_multiplies_each_batch),
        cmocka_unit_test(test_matmul_3d_by_2d_shares_the_weight),
        cmocka_unit_test(test_matmul_empty_inner_dimension_gives_zeros),
        cmocka_unit_test(test_matmul_t_all_flag_combinations_match_naive_product),
        cmocka_unit_test(test_matmul_t_degenerate_shapes_match_naive_product),
        cmocka_unit_test(test_cpu_gemm_degenerate_paths_honour_beta),
        cmocka_unit_test(test_linear_single_row_adds_the_bias),
        cmocka_unit_test(test_matmul_t_transposes_by_hand),
        cmocka_unit_test(test_attention_qkt_then_v_matches_naive),
        cmocka_unit_test(test_outer_matches_hand_values),
        cmocka_unit_test(test_dot_matches_hand_value),
        cmocka_unit_test(test_linear_matches_hand_values_with_and_without_bias),
        cmocka_unit_test(test_linear_with_empty_input_features_is_the_bias),
        cmocka_unit_test(test_matmul_vjp_matches_finite_diff),
        cmocka_unit_test(test_matmul_t_vjp_matches_finite_diff_for_all_flags),
        cmocka_unit_test(test_matmul_in_one_argument_has_zero_second_derivative),
        cmocka_unit_test(test_attention_vjp_matches_finite_diff),
        cmocka_unit_test(test_outer_and_dot_vjp_match_finite_diff),
        cmocka_unit_test(test_linear_vjp_matches_finite_diff_with_and_without_bias),
        cmocka_unit_test(test_linear_bias_gradient_is_column_sum),
        cmocka_unit_test(test_matmul_rejects_inner_mismatch),
        cmocka_unit_test(test_matmul_rejects_batch_mismatch_and_bad_rank),
        cmocka_unit_test(test_matmul_rejects_mixed_dtypes_and_null),
        cmocka_unit_test(test_matmul_keeps_the_first_error),
        cmocka_unit_test(test_outer_and_dot_reject_bad_operands),
        cmocka_unit_test(test_linear_rejects_bad_shapes_dtypes_and_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
