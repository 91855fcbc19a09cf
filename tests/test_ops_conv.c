/* lg_conv2d: forward values against PyTorch, against a naive direct convolution (and its
 * gradients) at sizes that take the threaded path, f32 against f64, f64 gradcheck of first
 * and second order over stride, padding, dilation, groups, 1x1 and non-square kernels,
 * no allocation after the first step, and the error paths. */
#include "ops_test_util.h"
#include "test_alloc.h"


static lg_conv2d_opts opts(int sh, int sw, int ph, int pw, int dh, int dw, int groups)
{
    return (lg_conv2d_opts){{sh, sw}, {ph, pw}, {dh, dw}, groups};
}

/* ---- forward against PyTorch ---- */

static void test_conv2d_forward_matches_torch_padding_and_bias(void **state)
{
    (void)state;
    /* tests/conv_torch_ref.py, "conv A": F.conv2d(x, w, b, padding=1) printed by torch 1.13. */
    static const double want[60] = {
        0.96875, 0.21875, 1.125, -0.375, 1.375, 0.0625, 0.875, 0.1875, 0.875, 0.5, 0.09375,
        0.875, -0.5, 1.21875, -0.1875, 0.78125, 1.25, 0.96875, 0, 1.40625, 0.21875, -0.53125,
        0.375, -1.125, 0.625, -0.6875, 0.125, -0.5625, 0.125, -0.25, -0.65625, 0.125, -1.25,
        0.46875, -0.9375, 0.03125, 0.5, 0.21875, -0.75, 0.65625, 1.46875, 0.71875, 1.625,
        0.125, 1.875, 0.5625, 1.375, 0.6875, 1.375, 1, 0.59375, 1.375, 0, 1.71875, 0.3125,
        1.28125, 1.75, 1.46875, 0.5, 1.90625};
    int64_t sx[4] = {1, 2, 4, 5}, sw[4] = {3, 2, 3, 3}, sb = 3, sy[4] = {1, 3, 4, 5};
    const double bv[3] = {0.5, -0.25, 1.0};
    for (int d = 0; d < 2; d++) {
        lg_dtype dt = d ? LG_F32 : LG_F64;
        lg_tensor *x = ot_pattern(dt, 4, sx, 7, 11, 4.0), *w = ot_pattern(dt, 4, sw, 5, 9, 8.0);
        lg_tensor *b = ot_tensor(dt, 1, &sb, bv);
        lg_graph *g = lg_graph_new();
        lg_conv2d_opts o = opts(1, 1, 1, 1, 1, 1, 1);
        lg_tensor *y = lg_conv2d(g, x, w, b, &o);
        ot_assert_shape(y, 4, sy);
        assert_int_equal(lg_tensor_dtype(y), dt);
        tu_assert_tensor_close(y, want, 60, 1e-12, 0, "conv A"); /* exact: multiples of 1/32 */
        lg_graph_free(g);
        lg_tensor *all[3] = {x, w, b};
        ot_free_all(all, 3);
    }
}

static void test_conv2d_forward_matches_torch_stride_dilation_groups(void **state)
{
    (void)state;
    /* "conv B": F.conv2d(x, w, None, stride=(2,1), padding=(1,0), dilation=(1,2),
     * groups=2), torch 1.13. */
    static const double want[72] = {
        -1.0625, -0.625, 0.625, -0.125, 1.9375, -0.875, 1, -1.8125, -1.375, -1.5625, 0.0625,
        -0.75, -0.1875, 0.8125, 1, 0.875, 1.0625, 0.4375, 1.3125, -0.75, -0.375, -1.75,
        -1.125, -0.5, 0.4375, 1.0625, 0.875, 0.8125, 0.625, 0.4375, 1.375, 0.125, -0.3125,
        -1.375, -1.8125, 1, 0.25, 0.6875, -0.5, -2.0625, 0, 1.25, -0.125, 1.9375, -0.875,
        0.875, -0.75, 0.0625, -1.25, -0.25, -0.875, -0.1875, 0.8125, 1, -0.8125, 0.375, 0.75,
        1.75, -0.875, -0.25, -1.75, -1.125, -0.5, -2.1875, -0.75, 1.5, 0.875, 1.25, 0,
        1.375, 0.125, -0.3125};
    int64_t sx[4] = {2, 4, 6, 5}, sw[4] = {4, 2, 3, 2}, sy[4] = {2, 4, 3, 3};
    for (int d = 0; d < 2; d++) {
        lg_dtype dt = d ? LG_F32 : LG_F64;
        lg_tensor *x = ot_pattern(dt, 4, sx, 3, 13, 4.0), *w = ot_pattern(dt, 4, sw, 7, 5, 4.0);
        lg_graph *g = lg_graph_new();
        lg_conv2d_opts o = opts(2, 1, 1, 0, 1, 2, 2);
        lg_tensor *y = lg_conv2d(g, x, w, NULL, &o);
        ot_assert_shape(y, 4, sy);
        tu_assert_tensor_close(y, want, 72, 1e-12, 0, "conv B");
        lg_graph_free(g);
        lg_tensor_free(x);
        lg_tensor_free(w);
    }
}

static void test_conv2d_null_opts_means_defaults(void **state)
{
    (void)state;
    int64_t sx[4] = {1, 2, 4, 5}, sw[4] = {3, 2, 3, 3};
    lg_tensor *x = ot_pattern(LG_F64, 4, sx, 7, 11, 4.0), *w = ot_pattern(LG_F64, 4, sw, 5, 9, 8.0);
    lg_graph *g = lg_graph_new();
    lg_conv2d_opts o = lg_conv2d_defaults();
    lg_tensor *a = lg_conv2d(g, x, w, NULL, NULL), *b = lg_conv2d(g, x, w, NULL, &o);
    int64_t sy[4] = {1, 3, 2, 3};
    ot_assert_shape(a, 4, sy);
    double want[18];
    for (int i = 0; i < 18; i++)
        want[i] = lg_tensor_item(b, i);
    tu_assert_tensor_close(a, want, 18, 0, 0, "NULL opts");
    lg_graph_free(g);
    lg_tensor_free(x);
    lg_tensor_free(w);
}

static void test_conv2d_empty_batch_gives_empty_output_and_zero_weight_grad(void **state)
{
    (void)state;
    int64_t sx[4] = {0, 2, 4, 4}, sw[4] = {3, 2, 3, 3}, sy[4] = {0, 3, 4, 4};
    lg_tensor *x = lg_tensor_zeros(LG_F64, 4, sx), *w = tu_rand(4, sw, 5, 0, 0);
    lg_tensor_set_requires_grad(w, true);
    lg_graph *g = lg_graph_new();
    lg_conv2d_opts o = opts(1, 1, 1, 1, 1, 1, 1);
    lg_tensor *y = lg_conv2d(g, x, w, NULL, &o);
    ot_assert_shape(y, 4, sy);
    assert_int_equal(lg_backward(g, lg_sum(g, y)), LG_OK);
    double zeros[54] = {0};
    tu_assert_tensor_close(lg_tensor_grad(w), zeros, 54, 0, 0, "dW of an empty batch");
    lg_graph_free(g);
    lg_tensor_free(x);
    lg_tensor_free(w);
}

/* ---- a naive direct convolution and its gradients, the independent truth at sizes that
 * run the threaded, per-sample GEMM path ---- */

typedef struct naive_case {
    int64_t sx[4], sw[4];
    lg_conv2d_opts o;
} naive_case;

/* y = conv(x, w) + b; with dy, also dx = dy-weighted sums of w, dw of x, db of dy. */
static void naive_conv(const naive_case *k, int64_t ho, int64_t wo, const double *x,
                       const double *w, const double *b, const double *dy, double *y,
                       double *dx, double *dw, double *db)
{
    int64_t n = k->sx[0], c = k->sx[1], h = k->sx[2], wd = k->sx[3];
    int64_t co = k->sw[0], cg = k->sw[1], kh = k->sw[2], kw = k->sw[3];
    int64_t cog = co / k->o.groups;
    for (int64_t q = 0; q < n * co * ho * wo; q++)
        y[q] = b[(q / (ho * wo)) % co];
    memset(dx, 0, sizeof *dx * (size_t)(n * c * h * wd));
    memset(dw, 0, sizeof *dw * (size_t)(co * cg * kh * kw));
    memset(db, 0, sizeof *db * (size_t)co);
    for (int64_t in = 0; in < n; in++)
        for (int64_t o = 0; o < co; o++)
            for (int64_t oh = 0; oh < ho; oh++)
                for (int64_t ow = 0; ow < wo; ow++) {
                    int64_t yi = ((in * co + o) * ho + oh) * wo + ow;
                    db[o] += dy[yi];
                    for (int64_t ci = 0; ci < cg; ci++)
                        for (int64_t i = 0; i < kh; i++)
                            for (int64_t j = 0; j < kw; j++) {
                                int64_t ih = oh * k->o.stride[0] - k->o.padding[0] +
                                             i * k->o.dilation[0];
                                int64_t iw = ow * k->o.stride[1] - k->o.padding[1] +
                                             j * k->o.dilation[1];
                                if (ih < 0 || ih >= h || iw < 0 || iw >= wd)
                                    continue;
                                int64_t cin = (o / cog) * cg + ci;
                                int64_t xi = ((in * c + cin) * h + ih) * wd + iw;
                                int64_t wi = ((o * cg + ci) * kh + i) * kw + j;
                                y[yi] += x[xi] * w[wi];
                                dx[xi] += dy[yi] * w[wi];
                                dw[wi] += dy[yi] * x[xi];
                            }
                }
}

static void check_against_naive(const naive_case *k, uint64_t seed)
{
    int64_t co = k->sw[0];
    lg_tensor *x = tu_rand(4, k->sx, seed, 0, 0), *w = tu_rand(4, k->sw, seed + 1, 0, 0);
    lg_tensor *b = tu_rand(1, &co, seed + 2, 0, 0);
    lg_tensor *in[3] = {x, w, b};
    for (int i = 0; i < 3; i++)
        lg_tensor_set_requires_grad(in[i], true);
    lg_graph *g = lg_graph_new();
    lg_tensor *y = lg_conv2d(g, x, w, b, &k->o);
    assert_non_null(y);
    int64_t ny = lg_tensor_numel(y);
    lg_tensor *dy = tu_rand(4, lg_tensor_shape(y), seed + 3, 0, 0);
    assert_int_equal(lg_backward(g, lg_sum(g, lg_mul(g, y, dy))), LG_OK);
    double *ref = malloc(sizeof *ref * (size_t)(ny + lg_tensor_numel(x) + lg_tensor_numel(w) + co));
    assert_non_null(ref);
    double *rdx = ref + ny, *rdw = rdx + lg_tensor_numel(x), *rdb = rdw + lg_tensor_numel(w);
    naive_conv(k, lg_tensor_shape(y)[2], lg_tensor_shape(y)[3], lg_tensor_data(x),
               lg_tensor_data(w), lg_tensor_data(b), lg_tensor_data(dy), ref, rdx, rdw, rdb);
    tu_assert_close_arr(lg_tensor_data(y), ref, ny, 1e-11, 1e-11, "y vs naive");
    tu_assert_close_arr(lg_tensor_data(lg_tensor_grad(x)), rdx, lg_tensor_numel(x), 1e-11,
                        1e-11, "dx vs naive");
    tu_assert_close_arr(lg_tensor_data(lg_tensor_grad(w)), rdw, lg_tensor_numel(w), 1e-10,
                        1e-11, "dw vs naive");
    tu_assert_close_arr(lg_tensor_data(lg_tensor_grad(b)), rdb, co, 1e-11, 1e-11,
                        "db vs naive");
    free(ref);
    lg_graph_free(g);
    lg_tensor_free(dy);
    ot_free_all(in, 3);
}

static void test_conv2d_matches_naive_convolution_and_its_gradients(void **state)
{
    (void)state;
    /* Big enough (> 2M multiply-adds) for the OpenMP split over samples. */
    naive_case cases[] = {
        {{8, 16, 10, 10}, {32, 16, 3, 3}, {{1, 1}, {1, 1}, {1, 1}, 1}},
        {{6, 8, 13, 11}, {12, 4, 3, 2}, {{2, 1}, {2, 1}, {1, 2}, 2}},
        {{4, 16, 9, 9}, {16, 16, 1, 1}, {{1, 1}, {0, 0}, {1, 1}, 1}},
        {{2, 3, 7, 7}, {4, 3, 3, 3}, {{1, 1}, {0, 0}, {1, 1}, 1}}, /* single-threaded */
        /* "same" size with a 5-wide kernel on a 3-wide input: the contiguous-run im2col
         * with offsets up to +-2 columns. */
        {{3, 4, 6, 3}, {5, 4, 3, 5}, {{1, 1}, {2, 2}, {2, 1}, 1}},
        {{2, 2, 4, 2}, {3, 2, 5, 5}, {{1, 1}, {2, 2}, {1, 1}, 1}}, /* padding = width */
        /* same width but not height: col2im's contiguous runs without the centre tap
         * (which starts x as a copy of its row when the output is the input's size) */
        {{3, 2, 6, 5}, {3, 2, 3, 3}, {{1, 1}, {0, 1}, {1, 1}, 1}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_against_naive(&cases[i], 100 + 10 * i);
}

static void test_conv2d_f32_matches_f64(void **state)
{
    (void)state;
    int64_t sx[4] = {8, 16, 12, 12}, sw[4] = {32, 16, 3, 3}, sb = 32;
    lg_tensor *x = tu_rand(4, sx, 7, 0, 0), *w = tu_rand(4, sw, 8, -0.1, 0.1);
    lg_tensor *b = tu_rand(1, &sb, 9, 0, 0);
    lg_conv2d_opts o = opts(1, 1, 1, 1, 1, 1, 1);
    double *ref = NULL;
    int64_t total = 0;
    for (int d = 0; d < 2; d++) {
        lg_dtype dt = d ? LG_F32 : LG_F64;
        lg_tensor *in[3] = {ot_as_dtype(x, dt), ot_as_dtype(w, dt), ot_as_dtype(b, dt)};
        for (int i = 0; i < 3; i++)
            lg_tensor_set_requires_grad(in[i], true);
        lg_graph *g = lg_graph_new();
        lg_tensor *y = lg_conv2d(g, in[0], in[1], in[2], &o);
        assert_int_equal(lg_backward(g, lg_sum(g, lg_mul(g, y, y))), LG_OK);
        const lg_tensor *outs[4] = {y, lg_tensor_grad(in[0]), lg_tensor_grad(in[1]),
                                    lg_tensor_grad(in[2])};
        if (!ref) {
            for (int i = 0; i < 4; i++)
                total += lg_tensor_numel(outs[i]);
            ref = malloc(sizeof *ref * (size_t)total);
            assert_non_null(ref);
        }
        int64_t k = 0;
        for (int i = 0; i < 4; i++) {
            int64_t n = lg_tensor_numel(outs[i]);
            if (d == 0) {
                for (int64_t j = 0; j < n; j++)
                    ref[k + j] = lg_tensor_item(outs[i], j);
            } else {
                double *got = malloc(sizeof *got * (size_t)n);
                assert_non_null(got);
                for (int64_t j = 0; j < n; j++)
                    got[j] = lg_tensor_item(outs[i], j);
                /* f32: inner products of 144 terms (y), 1152 terms (dW, db sums). */
                tu_assert_close_arr(got, ref + k, n, 1e-4 * (i == 0 ? 1 : 50), 1e-4,
                                    "f32 vs f64");
                free(got);
            }
            k += n;
        }
        lg_graph_free(g);
        ot_free_all(in, 3);
    }
    free(ref);
    lg_tensor *all[3] = {x, w, b};
    ot_free_all(all, 3);
}

/* ---- gradcheck, first and second order, in f64 ---- */

typedef struct conv_case {
    lg_conv2d_opts o;
    bool bias;
} conv_case;

static lg_tensor *conv_op(lg_graph *g, lg_tensor *const *in, const void *p)
{
    const conv_case *c = p;
    return lg_conv2d(g, in[0], in[1], c->bias ? in[2] : NULL, &c->o);
}

static void gradcheck_conv(const int64_t *sx, const int64_t *sw, conv_case c, uint64_t seed,
                           const char *what)
{
    lg_tensor *in[3] = {tu_rand(4, sx, seed, 0, 0), tu_rand(4, sw, seed + 1, 0, 0),
                        tu_rand(1, &sw[0], seed + 2, 0, 0)};
    ot_gradcheck(conv_op, &c, in, c.bias ? 3 : 2, seed + 3, what);
    ot_free_all(in, 3);
}

static void test_conv2d_gradcheck_padding_and_bias(void **state)
{
    (void)state;
    gradcheck_conv((int64_t[]){2, 2, 4, 4}, (int64_t[]){3, 2, 3, 3},
                   (conv_case){opts(1, 1, 1, 1, 1, 1, 1), true}, 11, "pad 1, bias");
}

static void test_conv2d_gradcheck_stride_2(void **state)
{
    (void)state;
    gradcheck_conv((int64_t[]){1, 2, 5, 5}, (int64_t[]){2, 2, 3, 3},
                   (conv_case){opts(2, 2, 1, 1, 1, 1, 1), true}, 21, "stride 2");
}

static void test_conv2d_gradcheck_dilation_2(void **state)
{
    (void)state;
    gradcheck_conv((int64_t[]){2, 1, 6, 6}, (int64_t[]){2, 1, 3, 3},
                   (conv_case){opts(1, 1, 1, 0, 2, 2, 1), true}, 31, "dilation 2");
}

static void test_conv2d_gradcheck_groups_2(void **state)
{
    (void)state;
    gradcheck_conv((int64_t[]){2, 4, 4, 4}, (int64_t[]){4, 2, 2, 2},
                   (conv_case){opts(1, 1, 0, 1, 1, 1, 2), true}, 41, "groups 2");
}

static void test_conv2d_gradcheck_1x1_kernel_without_bias(void **state)
{
    (void)state;
    gradcheck_conv((int64_t[]){2, 3, 3, 3}, (int64_t[]){4, 3, 1, 1},
                   (conv_case){opts(1, 1, 0, 0, 1, 1, 1), false}, 51, "1x1, no bias");
}

static void test_conv2d_gradcheck_same_size_dilated(void **state)
{
    (void)state;
    gradcheck_conv((int64_t[]){1, 2, 5, 3}, (int64_t[]){2, 2, 3, 5},
                   (conv_case){opts(1, 1, 2, 2, 2, 1, 1), true}, 71, "same size, dilated");
}

static void test_conv2d_gradcheck_non_square(void **state)
{
    (void)state;
    gradcheck_conv((int64_t[]){1, 2, 5, 7}, (int64_t[]){2, 2, 2, 3},
                   (conv_case){opts(1, 2, 0, 1, 2, 1, 1), true}, 61, "non-square");
}

/* ---- memory ---- */

static void conv_step(lg_graph *g, lg_tensor *x, lg_tensor *w, lg_tensor *b)
{
    lg_graph_reset(g);
    lg_conv2d_opts o = opts(1, 1, 1, 1, 1, 1, 1);
    lg_tensor *y = lg_conv2d(g, x, w, b, &o);
    assert_int_equal(lg_backward(g, lg_sum(g, lg_mul(g, y, y))), LG_OK);
}

static void test_conv2d_step_allocates_nothing_after_the_first(void **state)
{
    (void)state;
    counter c = {0};
    lg_allocator al = counter_allocator(&c);
    lg_set_allocator(&al);
    int64_t sx[4] = {8, 16, 10, 10}, sw[4] = {32, 16, 3, 3}, sb = 32;
    lg_tensor *x = tu_rand(4, sx, 1, 0, 0), *w = tu_rand(4, sw, 2, 0, 0);
    lg_tensor *b = tu_rand(1, &sb, 3, 0, 0);
    lg_tensor_set_requires_grad(x, true);
    lg_tensor_set_requires_grad(w, true);
    lg_tensor_set_requires_grad(b, true);
    lg_graph *g = lg_graph_new();
    conv_step(g, x, w, b);
    long after_first = c.calls;
    for (int i = 0; i < 3; i++)
        conv_step(g, x, w, b);
    assert_int_equal(c.calls, after_first);
    lg_graph_free(g);
    lg_tensor *all[3] = {x, w, b};
    ot_free_all(all, 3);
    assert_int_equal(c.live, 0);
    lg_set_allocator(NULL);
}

/* conv (threaded size), max pool, avg pool, loss and backward: every graph allocation. */
static lg_status pool_conv_step(lg_graph *g, lg_tensor *x, lg_tensor *w, lg_tensor *b)
{
    lg_graph_reset(g);
    lg_conv2d_opts o = opts(1, 1, 1, 1, 1, 1, 1);
    lg_pool2d_opts p = {{2, 2}, {0, 0}, {0, 0}}, a = {{3, 3}, {1, 1}, {1, 1}};
    lg_tensor *y = lg_avg_pool2d(g, lg_max_pool2d(g, lg_conv2d(g, x, w, b, &o), &p), &a);
    lg_tensor *loss = lg_sum(g, lg_mul(g, y, y));
    return loss ? lg_backward(g, loss) : lg_graph_status(g);
}

static void test_conv_and_pool_step_fails_cleanly_at_every_allocation(void **state)
{
    (void)state;
    int64_t sx[4] = {8, 16, 10, 10}, sw[4] = {32, 16, 3, 3}, sb = 32;
    counter c = {0};
    lg_allocator al = counter_allocator(&c);
    for (long k = 1;; k++) {
        c = (counter){0};
        lg_set_allocator(&al);
        lg_tensor *all[3] = {tu_rand(4, sx, 1, 0, 0), tu_rand(4, sw, 2, 0, 0),
                             tu_rand(1, &sb, 3, 0, 0)};
        for (int i = 0; i < 3; i++)
            lg_tensor_set_requires_grad(all[i], true);
        c.fail_at = c.calls + k; /* the k-th allocation of graph and step fails */
        lg_graph *g = lg_graph_new();
        lg_status s = g ? pool_conv_step(g, all[0], all[1], all[2]) : LG_ERR_OOM;
        bool reached = c.calls >= c.fail_at;
        if (g && reached) {
            assert_int_equal(s, LG_ERR_OOM);
            assert_non_null(strstr(lg_graph_errmsg(g), "out of memory"));
            assert_int_equal(pool_conv_step(g, all[0], all[1], all[2]), LG_OK); /* usable */
        }
        lg_graph_free(g);
        ot_free_all(all, 3);
        assert_int_equal(c.live, 0);
        lg_set_allocator(NULL);
        if (!reached) { /* the whole step ran before the k-th allocation */
            assert_int_equal(s, LG_OK);
            assert_true(k > 3);
            break;
        }
    }
}

/* ---- errors ---- */

static void test_conv2d_rejects_bad_shapes_and_arguments(void **state)
{
    (void)state;
    int64_t sx[4] = {2, 4, 5, 5}, sw[4] = {6, 2, 3, 3}, sb = 6, s3[3] = {4, 5, 5};
    int64_t sw3[4] = {6, 3, 3, 3}, sbig[4] = {6, 4, 7, 3}, sb5 = 5;
    lg_tensor *x = tu_rand(4, sx, 1, 0, 0), *w = tu_rand(4, sw, 2, 0, 0);
    lg_tensor *b = tu_rand(1, &sb, 3, 0, 0), *x3 = tu_rand(3, s3, 4, 0, 0);
    lg_tensor *w3 = tu_rand(4, sw3, 5, 0, 0), *wbig = tu_rand(4, sbig, 6, 0, 0);
    lg_tensor *b5 = tu_rand(1, &sb5, 7, 0, 0), *x32 = ot_as_dtype(x, LG_F32);
    lg_graph *g = lg_graph_new();
    lg_conv2d_opts g2 = opts(1, 1, 0, 0, 1, 1, 2), g1 = lg_conv2d_defaults();

    OT_EXPECT_ERROR(g, lg_conv2d(g, x3, w, b, &g2), LG_ERR_SHAPE, "lg_conv2d", "(4,5,5)",
                    "(6,2,3,3)");
    OT_EXPECT_ERROR(g, lg_conv2d(g, x, x3, b, &g2), LG_ERR_SHAPE, "lg_conv2d", "(4,5,5)");
    /* w expects 2 input channels per group: with groups 1 the 4 channels of x mismatch. */
    OT_EXPECT_ERROR(g, lg_conv2d(g, x, w, b, &g1), LG_ERR_SHAPE, "lg_conv2d", "channel",
                    "(2,4,5,5)", "(6,2,3,3)");
    lg_conv2d_opts g3 = opts(1, 1, 0, 0, 1, 1, 3);
    OT_EXPECT_ERROR(g, lg_conv2d(g, x, w3, b, &g3), LG_ERR_SHAPE, "lg_conv2d",
                    "groups 3 does not divide", "(2,4,5,5)", "(6,3,3,3)");
    OT_EXPECT_ERROR(g, lg_conv2d(g, x, wbig, b, &g1), LG_ERR_SHAPE, "lg_conv2d", "larger",
                    "(5,5)", "(6,4,7,3)");
    lg_conv2d_opts dil = opts(1, 1, 0, 0, 3, 1, 2); /* 3x3 at dilation 3 spans 7 > 5 */
    OT_EXPECT_ERROR(g, lg_conv2d(g, x, w, b, &dil), LG_ERR_SHAPE, "lg_conv2d", "larger");
    OT_EXPECT_ERROR(g, lg_conv2d(g, x, w, b5, &g2), LG_ERR_SHAPE, "lg_conv2d", "bias", "(5)");
    lg_conv2d_opts bad[4] = {opts(0, 1, 0, 0, 1, 1, 2), opts(1, 1, -1, 0, 1, 1, 2),
                             opts(1, 1, 0, 0, 1, 0, 2), opts(1, 1, 0, 0, 1, 1, 0)};
    const char *what[4] = {"stride", "padding", "dilation", "groups"};
    for (int i = 0; i < 4; i++)
        OT_EXPECT_ERROR(g, lg_conv2d(g, x, w, b, &bad[i]), LG_ERR_ARG, "lg_conv2d", what[i]);
    OT_EXPECT_ERROR(g, lg_conv2d(g, NULL, w, b, &g2), LG_ERR_ARG, "lg_conv2d", "NULL");
    OT_EXPECT_ERROR(g, lg_conv2d(g, x, NULL, b, &g2), LG_ERR_ARG, "lg_conv2d", "NULL");
    OT_EXPECT_ERROR(g, lg_conv2d(g, x32, w, b, &g2), LG_ERR_DTYPE, "lg_conv2d", "f32");
    assert_null(lg_conv2d(NULL, x, w, b, &g2));
    assert_non_null(strstr(lg_last_errmsg(), "lg_conv2d"));
    /* After all that the graph still works. */
    int64_t sy[4] = {2, 6, 3, 3};
    ot_assert_shape(lg_conv2d(g, x, w, b, &g2), 4, sy);
    lg_graph_free(g);
    lg_tensor *all[8] = {x, w, b, x3, w3, wbig, b5, x32};
    ot_free_all(all, 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv2d_forward_matches_torch_padding_and_bias),
        cmocka_unit_test(test_conv2d_forward_matches_torch_stride_dilation_groups),
        cmocka_unit_test(test_conv2d_null_opts_means_defaults),
        cmocka_unit_test(test_conv2d_empty_batch_gives_empty_output_and_zero_weight_grad),
        cmocka_unit_test(test_conv2d_matches_naive_convolution_and_its_gradients),
        cmocka_unit_test(test_conv2d_f32_matches_f64),
        cmocka_unit_test(test_conv2d_gradcheck_padding_and_bias),
        cmocka_unit_test(test_conv2d_gradcheck_stride_2),
        cmocka_unit_test(test_conv2d_gradcheck_dilation_2),
        cmocka_unit_test(test_conv2d_gradcheck_groups_2),
        cmocka_unit_test(test_conv2d_gradcheck_1x1_kernel_without_bias),
        cmocka_unit_test(test_conv2d_gradcheck_non_square),
        cmocka_unit_test(test_conv2d_gradcheck_same_size_dilated),
        cmocka_unit_test(test_conv2d_step_allocates_nothing_after_the_first),
        cmocka_unit_test(test_conv_and_pool_step_fails_cleanly_at_every_allocation),
        cmocka_unit_test(test_conv2d_rejects_bad_shapes_and_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
