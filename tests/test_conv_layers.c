/* The Conv2d and batch-norm layers: PyTorch's names, shapes and init bounds, buffers that
 * are frozen, updated in training and used in eval, carried through a checkpoint round
 * trip and left alone by the optimizer; a gradcheck through conv, batch norm, relu and
 * pooling; the error paths. */
#define _POSIX_C_SOURCE 200809L
#include <string.h>
#include "test_util.h"
#include "test_tmp.h"

static lg_tensor *param(const lg_params *p, const char *name)
{
    lg_tensor *t = lg_params_get(p, name);
    if (!t) {
        print_error("no parameter '%s'\n", name);
        fail();
    }
    return t;
}

static int index_of(const lg_params *p, const char *name)
{
    for (int i = 0; i < lg_params_count(p); i++)
        if (strcmp(lg_params_name(p, i), name) == 0)
            return i;
    return -1;
}

/* ---- Conv2d ---- */

/* nn.Conv2d's init: weight and bias U(-b, b), b = 1/√fan_in, fan_in = in/groups·kH·kW; a
 * uniform's variance is b²/3 (checked on 18,432 draws to 4%). */
static void test_conv2d_layer_init_has_pytorch_layout_and_bounds(void **state)
{
    (void)state;
    lg_params *p = lg_params_new();
    lg_rng r;
    lg_rng_init(&r, 3);
    lg_conv2d_layer l;
    assert_int_equal(lg_conv2d_layer_init(&l, p, "conv1", 32, 64, 3, 3, NULL, true, LG_F64, &r),
                     LG_OK);
    const int64_t *ws = lg_tensor_shape(param(p, "conv1.weight"));
    assert_int_equal(lg_tensor_ndim(l.weight), 4);
    assert_true(ws[0] == 64 && ws[1] == 32 && ws[2] == 3 && ws[3] == 3);
    assert_ptr_equal(l.bias, param(p, "conv1.bias"));
    double bound = 1.0 / sqrt(32.0 * 9.0), ss = 0;
    int64_t n = lg_tensor_numel(l.weight);
    for (int64_t i = 0; i < n; i++) {
        double v = lg_tensor_item(l.weight, i);
        assert_true(fabs(v) <= bound);
        ss += v * v;
    }
    tu_assert_near(ss / (double)n / (bound * bound / 3), 1, 0.04);
    for (int64_t i = 0; i < 64; i++)
        assert_true(fabs(lg_tensor_item(l.bias, i)) <= bound);
    /* groups divide the input channels of the weight */
    lg_conv2d_opts o = lg_conv2d_defaults();
    o.groups = 4;
    lg_conv2d_layer lg;
    assert_int_equal(lg_conv2d_layer_init(&lg, p, "gconv", 8, 12, 1, 3, &o, false, LG_F32, &r),
                     LG_OK);
    ws = lg_tensor_shape(lg.weight);
    assert_true(ws[0] == 12 && ws[1] == 2 && ws[2] == 1 && ws[3] == 3);
    assert_null(lg.bias);
    assert_null(lg_params_get(p, "gconv.bias"));
    lg_params_free(p);
}

/* The layer's forward is lg_conv2d with the layer's weight, bias and options. */
static void test_conv2d_layer_forward_is_conv2d_with_its_options(void **state)
{
    (void)state;
    lg_params *p = lg_params_new();
    lg_rng r;
    lg_rng_init(&r, 5);
    lg_conv2d_opts o = lg_conv2d_defaults();
    o.stride[0] = o.stride[1] = 2;
    o.padding[0] = o.padding[1] = 1;
    lg_conv2d_layer l;
    assert_int_equal(lg_conv2d_layer_init(&l, p, "c", 3, 4, 3, 3, &o, true, LG_F64, &r), LG_OK);
    lg_tensor *x = tu_rand(4, (int64_t[]){2, 3, 7, 7}, 9, 0, 0);
    lg_graph *g = lg_graph_new();
    lg_tensor *y = lg_conv2d_layer_forward(g, &l, x);
    lg_tensor *want = lg_conv2d(g, x, l.weight, l.bias, &o);
    assert_non_null(y);
    assert_non_null(want);
    const int64_t *ys = lg_tensor_shape(y); /* floor((7 + 2 - 3) / 2) + 1 = 4 */
    assert_true(ys[0] == 2 && ys[1] == 4 && ys[2] == 4 && ys[3] == 4);
    for (int64_t i = 0; i < lg_tensor_numel(y); i++)
        assert_true(lg_tensor_item(y, i) == lg_tensor_item(want, i));
    lg_graph_free(g);
    lg_tensor_free(x);
    lg_params_free(p);
}

static void test_conv2d_layer_rejects_bad_arguments(void **state)
{
    (void)state;
    lg_params *p = lg_params_new();
    lg_rng r;
    lg_rng_init(&r, 1);
    lg_conv2d_layer l;
    lg_conv2d_opts o = lg_conv2d_defaults();
    assert_int_equal(lg_conv2d_layer_init(NULL, p, "c", 1, 1, 3, 3, NULL, true, LG_F32, &r),
                     LG_ERR_ARG);
    assert_int_equal(lg_conv2d_layer_init(&l, p, "c", 1, 1, 3, 3, NULL, true, LG_F32, NULL),
                     LG_ERR_ARG);
    assert_int_equal(lg_conv2d_layer_init(&l, p, "c", 0, 1, 3, 3, NULL, true, LG_F32, &r),
                     LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "lg_conv2d_layer_init"));
    assert_int_equal(lg_conv2d_layer_init(&l, p, "c", 1, 1, 0, 3, NULL, true, LG_F32, &r),
                     LG_ERR_ARG);
    o.groups = 2;
    assert_int_equal(lg_conv2d_layer_init(&l, p, "c", 4, 3, 3, 3, &o, true, LG_F32, &r),
                     LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "groups 2"));
    o = lg_conv2d_defaults();
    o.stride[1] = 0;
    assert_int_equal(lg_conv2d_layer_init(&l, p, "c", 1, 1, 3, 3, &o, true, LG_F32, &r),
                     LG_ERR_ARG);
    assert_int_equal(lg_conv2d_layer_init(&l, p, "c", 1, 1, 3, 3, NULL, true, (lg_dtype)7, &r),
                     LG_ERR_DTYPE);
    assert_int_equal(lg_conv2d_layer_init(&l, p, "c", 1, 2, 3, 3, NULL, true, LG_F32, &r),
                     LG_OK);
    assert_int_equal(lg_conv2d_layer_init(&l, p, "c", 1, 2, 3, 3, NULL, true, LG_F32, &r),
                     LG_ERR_ARG);
    assert_null(l.weight);
    assert_non_null(strstr(lg_last_errmsg(), "already exists"));

    assert_int_equal(lg_conv2d_layer_init(&l, p, "d", 3, 2, 3, 3, NULL, true, LG_F32, &r),
                     LG_OK);
    lg_graph *g = lg_graph_new();
    lg_tensor *x = lg_graph_full(g, LG_F32, 4, (int64_t[]){1, 2, 5, 5}, 1.0);
    assert_null(lg_conv2d_layer_forward(g, &l, x));
    assert_int_equal(lg_graph_status(g), LG_ERR_SHAPE);
    assert_non_null(strstr(lg_graph_errmsg(g), "(1,2,5,5) is not (N, 3, H, W)"));
    lg_graph_clear_error(g);
    assert_null(lg_conv2d_layer_forward(g, NULL, x));
    assert_int_equal(lg_graph_status(g), LG_ERR_ARG);
    lg_graph_free(g);
    assert_null(lg_conv2d_layer_forward(NULL, &l, x));
    assert_non_null(strstr(lg_last_errmsg(), "lg_conv2d_layer_forward"));
    lg_params_free(p);
}

/* ---- batch norm ---- */

static void test_batch_norm_layer_stores_pytorch_names_and_frozen_buffers(void **state)
{
    (void)state;
    lg_params *p = lg_params_new();
    lg_batch_norm_layer l;
    assert_int_equal(lg_batch_norm_layer_init(&l, p, "bn1", 4, 0.1, 1e-5, LG_F32), LG_OK);
    const char *names[5] = {"bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                            "bn1.num_batches_tracked"};
    const double init[5] = {1, 0, 0, 1, 0};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(index_of(p, names[i]), i);
        lg_tensor *t = param(p, names[i]);
        assert_int_equal(lg_tensor_ndim(t), i < 4 ? 1 : 0);
        assert_int_equal(lg_tensor_numel(t), i < 4 ? 4 : 1);
        for (int64_t j = 0; j < lg_tensor_numel(t); j++)
            assert_true(lg_tensor_item(t, j) == init[i]);
        assert_int_equal(lg_params_is_frozen(p, i), i >= 2);
    }
    assert_int_equal(lg_params_numel(p, true), 8);
    assert_int_equal(lg_params_numel(p, false), 17);
    lg_params_free(p);
}

/* x[n, c, s] = sin(1.3 i) + c for flat index i: per-channel batch mean and unbiased
 * variance computed here, by hand, and compared with what the layer stored. */
static void test_batch_norm_layer_training_updates_buffers_eval_uses_them(void **state)
{
    (void)state;
    const int64_t xs[4] = {3, 2, 2, 2};
    double x[24], mean[2] = {0}, var[2] = {0};
    for (int i = 0; i < 24; i++)
        x[i] = sin(1.3 * i) + (i / 4) % 2;
    for (int c = 0; c < 2; c++) {
        for (int n = 0; n < 3; n++)
            for (int s = 0; s < 4; s++)
                mean[c] += x[(n * 2 + c) * 4 + s] / 12;
        for (int n = 0; n < 3; n++)
            for (int s = 0; s < 4; s++)
                var[c] += pow(x[(n * 2 + c) * 4 + s] - mean[c], 2) / 11;
    }
    lg_params *p = lg_params_new();
    lg_batch_norm_layer l;
    assert_int_equal(lg_batch_norm_layer_init(&l, p, "bn", 2, 0.25, 1e-3, LG_F64), LG_OK);
    lg_graph *g = lg_graph_new();
    lg_tensor *xt = lg_graph_input(g, LG_F64, 4, xs, x);
    for (int step = 1; step <= 2; step++) {
        assert_non_null(lg_batch_norm_layer_forward(g, &l, xt));
        assert_true(lg_tensor_item(l.num_batches_tracked, 0) == step);
    }
    /* two updates with the same batch: r = (1 - m)² r0 + (1 - (1 - m)²) stat */
    double k = 1 - 0.75 * 0.75;
    tu_assert_tensor_close(l.running_mean, (double[]){k * mean[0], k * mean[1]}, 2, 1e-14,
                           1e-13, "running_mean");
    tu_assert_tensor_close(l.running_var, (double[]){0.5625 + k * var[0], 0.5625 + k * var[1]},
                           2, 1e-14, 1e-13, "running_var");
    lg_graph_set_training(g, false);
    lg_tensor *y = lg_batch_norm_layer_forward(g, &l, xt);
    assert_true(lg_tensor_item(l.num_batches_tracked, 0) == 2);
    double want[24];
    for (int i = 0; i < 24; i++) {
        int c = (i / 4) % 2;
        want[i] = (x[i] - lg_tensor_item(l.running_mean, c)) /
                  sqrt(lg_tensor_item(l.running_var, c) + 1e-3);
    }
    tu_assert_tensor_close(y, want, 24, 1e-13, 1e-13, "eval y");
    lg_graph_free(g);
    lg_params_free(p);
}

/* Adam with weight decay steps the trainable gamma and beta and leaves the buffers as the
 * forward left them. */
static void test_optimizer_leaves_batch_norm_buffers_alone(void **state)
{
    (void)state;
    lg_params *p = lg_params_new();
    lg_batch_norm_layer l;
    assert_int_equal(lg_batch_norm_layer_init(&l, p, "bn", 3, 0.1, 1e-5, LG_F32), LG_OK);
    lg_optim_config c = lg_optim_defaults(LG_OPTIM_ADAM);
    c.weight_decay = 0.5;
    lg_optim *o = lg_optim_new(p, &c);
    lg_tensor *x = lg_tensor_uniform(LG_F32, 2, (int64_t[]){6, 3}, -1, 3,
                                     &(lg_rng){.seed = 4});
    lg_tensor *w = lg_tensor_uniform(LG_F32, 2, (int64_t[]){6, 3}, -1, 1,
                                     &(lg_rng){.seed = 5});
    lg_graph *g = lg_graph_new();
    for (int step = 0; step < 3; step++) {
        lg_graph_reset(g);
        lg_params_zero_grad(p);
        lg_tensor *y = lg_batch_norm_layer_forward(g, &l, x);
        assert_int_equal(lg_backward(g, lg_sum(g, lg_mul(g, y, w))), LG_OK);
        double before[7];
        for (int i = 0; i < 3; i++) {
            before[i] = lg_tensor_item(l.running_mean, i);
            before[3 + i] = lg_tensor_item(l.running_var, i);
        }
        before[6] = lg_tensor_item(l.num_batches_tracked, 0);
        double gamma0 = lg_tensor_item(l.weight, 0);
        assert_int_equal(lg_optim_step(o), LG_OK);
        assert_true(lg_tensor_item(l.weight, 0) != gamma0);
        for (int i = 0; i < 3; i++) {
            assert_true(lg_tensor_item(l.running_mean, i) == before[i]);
            assert_true(lg_tensor_item(l.running_var, i) == before[3 + i]);
        }
        assert_true(lg_tensor_item(l.num_batches_tracked, 0) == before[6]);
    }
    assert_true(lg_tensor_item(l.num_batches_tracked, 0) == 3);
    lg_graph_free(g);
    lg_tensor_free(x);
    lg_tensor_free(w);
    lg_optim_free(o);
    lg_params_free(p);
}

/* Running statistics and the counter are saved under PyTorch's names and load back into a
 * fresh layer, whose eval output then equals the trained one's. */
static void test_batch_norm_buffers_survive_a_checkpoint_round_trip(void **state)
{
    (void)state;
    const char *path = tpath("bn.safetensors");
    lg_params *p = lg_params_new(), *q = lg_params_new();
    lg_batch_norm_layer a, b;
    assert_int_equal(lg_batch_norm_layer_init(&a, p, "features.1", 2, 0.1, 1e-5, LG_F32), LG_OK);
    assert_int_equal(lg_batch_norm_layer_init(&b, q, "features.1", 2, 0.1, 1e-5, LG_F32), LG_OK);
    lg_tensor *x = lg_tensor_uniform(LG_F32, 4, (int64_t[]){4, 2, 3, 3}, -2, 5,
                                     &(lg_rng){.seed = 8});
    lg_graph *g = lg_graph_new();
    for (int i = 0; i < 3; i++)
        assert_non_null(lg_batch_norm_layer_forward(g, &a, x));
    lg_tensor_fill(a.weight, 1.5);
    assert_int_equal(lg_checkpoint_save(p, path, NULL, NULL, 0), LG_OK);

    lg_checkpoint *ck;
    assert_int_equal(lg_checkpoint_open(path, &ck), LG_OK);
    assert_int_equal(lg_checkpoint_count(ck), 5);
    lg_checkpoint_tensor info;
    int k = lg_checkpoint_find(ck, "features.1.num_batches_tracked");
    assert_true(k >= 0);
    assert_int_equal(lg_checkpoint_info(ck, k, &info), LG_OK);
    assert_int_equal(info.ndim, 0);
    assert_true(lg_checkpoint_find(ck, "features.1.running_mean") >= 0);
    assert_true(lg_checkpoint_find(ck, "features.1.running_var") >= 0);
    lg_checkpoint_close(ck);

    assert_int_equal(lg_checkpoint_load(q, path, NULL, true), LG_OK);
    for (int i = 0; i < lg_params_count(p); i++) {
        lg_tensor *s = lg_params_at(p, i), *t = lg_params_at(q, i);
        for (int64_t j = 0; j < lg_tensor_numel(s); j++)
            assert_true(lg_tensor_item(s, j) == lg_tensor_item(t, j));
        assert_int_equal(lg_params_is_frozen(q, i), i >= 2);
    }
    assert_true(lg_tensor_item(b.num_batches_tracked, 0) == 3);
    lg_graph_set_training(g, false);
    lg_tensor *ya = lg_batch_norm_layer_forward(g, &a, x);
    lg_tensor *yb = lg_batch_norm_layer_forward(g, &b, x);
    assert_non_null(ya);
    for (int64_t j = 0; j < lg_tensor_numel(ya); j++)
        assert_true(lg_tensor_item(ya, j) == lg_tensor_item(yb, j));
    lg_graph_free(g);
    lg_tensor_free(x);
    lg_params_free(p);
    lg_params_free(q);
}

static void test_batch_norm_layer_rejects_bad_arguments(void **state)
{
    (void)state;
    lg_params *p = lg_params_new();
    lg_batch_norm_layer l;
    assert_int_equal(lg_batch_norm_layer_init(NULL, p, "bn", 2, 0.1, 1e-5, LG_F32), LG_ERR_ARG);
    assert_int_equal(lg_batch_norm_layer_init(&l, p, "", 2, 0.1, 1e-5, LG_F32), LG_ERR_ARG);
    assert_int_equal(lg_batch_norm_layer_init(&l, p, "bn", 0, 0.1, 1e-5, LG_F32), LG_ERR_ARG);
    assert_int_equal(lg_batch_norm_layer_init(&l, p, "bn", 2, 1.5, 1e-5, LG_F32), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "momentum"));
    assert_int_equal(lg_batch_norm_layer_init(&l, p, "bn", 2, 0.1, -1, LG_F32), LG_ERR_ARG);
    assert_int_equal(lg_batch_norm_layer_init(&l, p, "bn", 2, 0.1, 1e-5, (lg_dtype)9),
                     LG_ERR_DTYPE);
    assert_int_equal(lg_batch_norm_layer_init(&l, p, "bn", 2, 0.1, 1e-5, LG_F32), LG_OK);
    assert_int_equal(lg_batch_norm_layer_init(&l, p, "bn", 2, 0.1, 1e-5, LG_F32), LG_ERR_ARG);
    assert_null(l.weight);
    assert_int_equal(lg_batch_norm_layer_init(&l, p, "bn2", 2, 0.1, 1e-5, LG_F32), LG_OK);

    lg_graph *g = lg_graph_new();
    lg_tensor *x3 = lg_graph_full(g, LG_F32, 2, (int64_t[]){4, 3}, 1.0);
    assert_null(lg_batch_norm_layer_forward(g, &l, x3));
    assert_int_equal(lg_graph_status(g), LG_ERR_SHAPE);
    assert_non_null(strstr(lg_graph_errmsg(g), "num_features = 2"));
    lg_graph_clear_error(g);
    lg_batch_norm_layer empty = {0};
    assert_null(lg_batch_norm_layer_forward(g, &empty, x3));
    assert_int_equal(lg_graph_status(g), LG_ERR_ARG);
    lg_graph_clear_error(g);
    /* a failed forward counts no batch */
    lg_tensor *x1 = lg_graph_full(g, LG_F32, 2, (int64_t[]){1, 2}, 1.0);
    assert_null(lg_batch_norm_layer_forward(g, &l, x1));
    assert_true(lg_tensor_item(l.num_batches_tracked, 0) == 0);
    lg_graph_free(g);
    lg_params_free(p);
}

/* ---- the CNN block ---- */

typedef struct block {
    lg_conv2d_layer conv;
    lg_batch_norm_layer bn;
} block;

/* Σ w ⊙ maxpool(relu(bn(conv(x)))) with the layers' parameters as the gradcheck inputs. */
static lg_tensor *block_loss(lg_graph *g, lg_tensor *const *in, int n, void *ctx)
{
    (void)n;
    block *b = ctx;
    lg_conv2d_layer conv = b->conv;
    lg_batch_norm_layer bn = b->bn;
    conv.weight = in[1];
    conv.bias = in[2];
    bn.weight = in[3];
    bn.bias = in[4];
    lg_pool2d_opts po = {.kernel = {2, 2}};
    lg_tensor *h = lg_max_pool2d(g, lg_relu(g, lg_batch_norm_layer_forward(g, &bn,
                                 lg_conv2d_layer_forward(g, &conv, in[0]))), &po);
    lg_tensor *w = lg_graph_full(g, LG_F64, 4, (int64_t[]){2, 3, 2, 2}, 0.0);
    if (!h || !w)
        return NULL;
    for (int64_t i = 0; i < 24; i++)
        ((double *)lg_tensor_data(w))[i] = sin(0.9 * (double)i);
    return lg_sum(g, lg_mul(g, h, w));
}

static void test_conv_bn_relu_pool_block_gradcheck(void **state)
{
    (void)state;
    lg_params *p = lg_params_new();
    lg_rng r;
    lg_rng_init(&r, 17);
    block b;
    lg_conv2d_opts o = lg_conv2d_defaults();
    o.padding[0] = o.padding[1] = 1;
    assert_int_equal(lg_conv2d_layer_init(&b.conv, p, "c", 2, 3, 3, 3, &o, true, LG_F64, &r),
                     LG_OK);
    assert_int_equal(lg_batch_norm_layer_init(&b.bn, p, "bn", 3, 0.1, 1e-5, LG_F64), LG_OK);
    lg_tensor *in[5] = {tu_rand(4, (int64_t[]){2, 2, 4, 4}, 19, 0, 0),
                        lg_tensor_copy(b.conv.weight), lg_tensor_copy(b.conv.bias),
                        tu_rand(1, (int64_t[]){3}, 20, 0.5, 2), tu_rand(1, (int64_t[]){3}, 21, 0, 0)};
    tu_gradcheck(block_loss, &b, in, 5, false, "conv+bn+relu+maxpool");
    for (int i = 0; i < 5; i++)
        lg_tensor_free(in[i]);
    lg_params_free(p);
}

static int setup(void **state)
{
    (void)state;
    return tmp_dir_make("conv-layers");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv2d_layer_init_has_pytorch_layout_and_bounds),
        cmocka_unit_test(test_conv2d_layer_forward_is_conv2d_with_its_options),
        cmocka_unit_test(test_conv2d_layer_rejects_bad_arguments),
        cmocka_unit_test(test_batch_norm_layer_stores_pytorch_names_and_frozen_buffers),
        cmocka_unit_test(test_batch_norm_layer_training_updates_buffers_eval_uses_them),
        cmocka_unit_test(test_optimizer_leaves_batch_norm_buffers_alone),
        cmocka_unit_test(test_batch_norm_buffers_survive_a_checkpoint_round_trip),
        cmocka_unit_test(test_batch_norm_layer_rejects_bad_arguments),
        cmocka_unit_test(test_conv_bn_relu_pool_block_gradcheck),
    };
    return cmocka_run_group_tests(tests, setup, tmp_teardown);
}
