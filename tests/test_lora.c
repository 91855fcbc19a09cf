/* LoRA adapters: init, forward against its formula and against the merged linear layer,
 * merge/unmerge, frozen base, gradcheck (first and second order, f64), dropout on the
 * LoRA path, PiSSA's output preservation, adapter-only checkpoints, and errors. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "test_util.h"
#include "test_alloc.h"

enum { IN = 6, OUT = 5, N = 4 };

/* A store with a Linear "fc" (IN -> OUT, bias) of dtype dt, drawn from seed. */
static lg_params *store_with_linear(lg_dtype dt, uint64_t seed, lg_linear_layer *fc)
{
    lg_params *p = lg_params_new();
    lg_rng r;
    lg_rng_init(&r, seed);
    assert_int_equal(lg_linear_layer_init(fc, p, "fc", IN, OUT, true, dt, &r), LG_OK);
    return p;
}

static lg_lora_config config(int64_t rank, double alpha)
{
    return (lg_lora_config){.rank = rank, .alpha = alpha};
}

/* Caller-owned copy of t's values as doubles (n <= 4096). */
static void values(const lg_tensor *t, double *out)
{
    for (int64_t i = 0; i < lg_tensor_numel(t); i++)
        out[i] = lg_tensor_item(t, i);
}

static lg_tensor *input(lg_dtype dt, uint64_t seed)
{
    int64_t s[2] = {N, IN};
    lg_rng r;
    lg_rng_init(&r, seed);
    return lg_tensor_normal(dt, 2, s, 0, 1, &r);
}

static void test_lora_init_freezes_base_and_adds_r_in_plus_out_trainables(void **state)
{
    (void)state;
    lg_linear_layer fc;
    lg_params *p = store_with_linear(LG_F32, 1, &fc);
    lg_rng r;
    lg_rng_init(&r, 2);
    lg_lora l;
    lg_lora_config c = config(2, 4);
    assert_int_equal(lg_lora_init(&l, p, "fc", &c, &r), LG_OK);
    assert_ptr_equal(l.weight, fc.weight);
    assert_ptr_equal(l.bias, fc.bias);
    assert_ptr_equal(l.lora_a, lg_params_get(p, "fc.lora_A"));
    assert_ptr_equal(l.lora_b, lg_params_get(p, "fc.lora_B"));
    assert_int_equal(lg_tensor_shape(l.lora_a)[0], 2); /* (r, in) */
    assert_int_equal(lg_tensor_shape(l.lora_a)[1], IN);
    assert_int_equal(lg_tensor_shape(l.lora_b)[0], OUT); /* (out, r) */
    assert_int_equal(lg_tensor_shape(l.lora_b)[1], 2);
    assert_int_equal(lg_params_numel(p, true), 2 * (IN + OUT));
    assert_false(lg_tensor_requires_grad(l.weight));
    assert_false(lg_tensor_requires_grad(l.bias));
    tu_assert_near(l.scale, 2.0, 0); /* alpha / r */
    double a[2 * IN], bmax = 0, amax = 0;
    values(l.lora_a, a);
    for (int i = 0; i < 2 * IN; i++)
        amax = fmax(amax, fabs(a[i]));
    for (int i = 0; i < 2 * OUT; i++)
        bmax = fmax(bmax, fabs(lg_tensor_item(l.lora_b, i)));
    assert_true(amax > 0 && amax <= 1 / sqrt((double)IN)); /* kaiming_uniform(a=√5) */
    assert_true(bmax == 0);

    lg_lora rs;
    lg_linear_layer fc2;
    lg_rng r2;
    lg_rng_init(&r2, 3);
    assert_int_equal(lg_linear_layer_init(&fc2, p, "fc2", IN, OUT, false, LG_F32, &r2), LG_OK);
    c = config(4, 4);
    c.rslora = true;
    assert_int_equal(lg_lora_init(&rs, p, "fc2", &c, &r2), LG_OK);
    tu_assert_near(rs.scale, 2.0, 0); /* alpha / √r */
    assert_null(rs.bias);
    lg_params_free(p);
}

/* y = x Wᵀ + b + scale (x Aᵀ) Bᵀ, written out in doubles. */
static void lora_reference(const lg_lora *l, const lg_tensor *x, double *y)
{
    int64_t r = l->rank;
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OUT; o++) {
            double acc = l->bias ? lg_tensor_item(l->bias, o) : 0;
            for (int i = 0; i < IN; i++)
                acc += lg_tensor_item(x, n * IN + i) * lg_tensor_item(l->weight, o * IN + i);
            for (int k = 0; k < r; k++) {
                double xa = 0;
                for (int i = 0; i < IN; i++)
                    xa += lg_tensor_item(x, n * IN + i) * lg_tensor_item(l->lora_a, k * IN + i);
                acc += l->scale * xa * lg_tensor_item(l->lora_b, o * r + k);
            }
            y[n * OUT + o] = acc;
        }
}

static void randomise(lg_tensor *t, uint64_t seed)
{
    lg_rng r;
    lg_rng_init(&r, seed);
    lg_init_uniform(t, -1, 1, &r);
}

static void test_lora_forward_matches_formula_and_the_merged_linear(void **state)
{
    (void)state;
    lg_linear_layer fc;
    lg_params *p = store_with_linear(LG_F32, 4, &fc);
    lg_rng r;
    lg_rng_init(&r, 5);
    lg_lora l;
    lg_lora_config c = config(3, 6);
    assert_int_equal(lg_lora_init(&l, p, "fc", &c, &r), LG_OK);
    lg_graph *g = lg_graph_new();
    lg_tensor *x = input(LG_F32, 6);

    /* At init B = 0: the adapter changes nothing. */
    double base[N * OUT], y[N * OUT];
    values(lg_linear_layer_forward(g, &fc, x), base);
    tu_assert_tensor_close(lg_lora_forward(g, &l, x), base, N * OUT, 0, 0, "B = 0");

    randomise(l.lora_b, 7);
    lora_reference(&l, x, y);
    lg_tensor *before = lg_lora_forward(g, &l, x);
    tu_assert_tensor_close(before, y, N * OUT, 1e-5, 1e-5, "unmerged formula");
    double w0[OUT * IN];
    values(l.weight, w0);

    assert_int_equal(lg_lora_merge(&l), LG_OK);
    assert_true(l.merged);
    tu_assert_tensor_close(lg_linear_layer_forward(g, &fc, x), y, N * OUT, 1e-5, 1e-5,
                           "plain linear after merge");
    tu_assert_tensor_close(lg_lora_forward(g, &l, x), y, N * OUT, 1e-5, 1e-5, "merged lora");
    assert_int_equal(lg_lora_merge(&l), LG_ERR_STATE);
    assert_non_null(strstr(lg_last_errmsg(), "already merged"));

    assert_int_equal(lg_lora_unmerge(&l), LG_OK);
    assert_false(l.merged);
    tu_assert_tensor_close(l.weight, w0, OUT * IN, 1e-6, 1e-6, "unmerge restores W");
    tu_assert_tensor_close(lg_lora_forward(g, &l, x), y, N * OUT, 1e-5, 1e-5, "unmerged again");
    assert_int_equal(lg_lora_unmerge(&l), LG_ERR_STATE);
    assert_int_equal(lg_graph_status(g), LG_OK);

    /* Rank-3 inputs are flattened to rows and back. */
    lg_graph_reset(g);
    int64_t s3[3] = {2, 2, IN};
    lg_tensor *x3 = lg_tensor_copy(x);
    assert_int_equal(lg_tensor_reshape(x3, 3, s3), LG_OK);
    lg_tensor *y3 = lg_lora_forward(g, &l, x3);
    assert_non_null(y3);
    assert_int_equal(lg_tensor_ndim(y3), 3);
    assert_int_equal(lg_tensor_shape(y3)[2], OUT);
    tu_assert_tensor_close(y3, y, N * OUT, 1e-5, 1e-5, "rank-3 input");
    lg_tensor_free(x3);
    lg_tensor_free(x);
    lg_graph_free(g);
    lg_params_free(p);
}

static void test_lora_gradients_flow_only_into_a_and_b(void **state)
{
    (void)state;
    lg_linear_layer fc;
    lg_params *p = store_with_linear(LG_F64, 8, &fc);
    lg_rng r;
    lg_rng_init(&r, 9);
    lg_lora l;
    lg_lora_config c = config(2, 2);
    assert_int_equal(lg_lora_init(&l, p, "fc", &c, &r), LG_OK);
    lg_graph *g = lg_graph_new();
    lg_tensor *x = input(LG_F64, 10);
    lg_tensor *y = lg_lora_forward(g, &l, x);
    assert_int_equal(lg_backward(g, lg_sum(g, lg_mul(g, y, y))), LG_OK);
    double zeros[OUT * IN] = {0};
    tu_assert_tensor_close(lg_tensor_grad(l.weight), zeros, OUT * IN, 0, 0, "frozen W");
    tu_assert_tensor_close(lg_tensor_grad(l.bias), zeros, OUT, 0, 0, "frozen b");
    /* B = 0 at init, so dA = 0 too; dB = scale (x Aᵀ)ᵀ dY is not. */
    double gb = 0;
    for (int i = 0; i < OUT * 2; i++)
        gb = fmax(gb, fabs(lg_tensor_item(lg_tensor_grad(l.lora_b), i)));
    assert_true(gb > 0);

    /* An optimizer step moves only the adapter. */
    double w0[OUT * IN], b0[OUT];
    values(l.weight, w0);
    values(l.bias, b0);
    lg_optim_config oc = lg_optim_defaults(LG_OPTIM_ADAM);
    oc.lr = 0.1;
    lg_optim *o = lg_optim_new(p, &oc);
    assert_non_null(o);
    assert_int_equal(lg_optim_step(o), LG_OK);
    tu_assert_tensor_close(l.weight, w0, OUT * IN, 0, 0, "W after a step");
    tu_assert_tensor_close(l.bias, b0, OUT, 0, 0, "b after a step");
    assert_true(fabs(lg_tensor_item(l.lora_b, 0)) > 0);
    lg_optim_free(o);
    lg_tensor_free(x);
    lg_graph_free(g);
    lg_params_free(p);
}

/* sum(y²) + sum(y·c) of the LoRA forward at inputs {x, A, B}, on a copy of the layer that
 * points at them. */
static lg_tensor *lora_loss(lg_graph *g, lg_tensor *const *in, int n, void *ctx)
{
    (void)n;
    lg_lora l = *(const lg_lora *)ctx;
    l.lora_a = in[1];
    l.lora_b = in[2];
    lg_tensor *y = lg_lora_forward(g, &l, in[0]);
    lg_tensor *c = lg_graph_full(g, LG_F64, 0, NULL, 0.3);
    return lg_add(g, lg_sum(g, lg_mul(g, y, y)), lg_sum(g, lg_mul(g, y, c)));
}

static void test_lora_forward_passes_gradcheck_to_second_order_in_f64(void **state)
{
    (void)state;
    lg_linear_layer fc;
    lg_params *p = store_with_linear(LG_F64, 11, &fc);
    lg_rng r;
    lg_rng_init(&r, 12);
    lg_lora l;
    lg_lora_config c = config(3, 1.5);
    c.rslora = true;
    assert_int_equal(lg_lora_init(&l, p, "fc", &c, &r), LG_OK);
    randomise(l.lora_b, 13);
    lg_tensor *x = input(LG_F64, 14);
    lg_tensor *in[3] = {x, l.lora_a, l.lora_b};
    tu_gradcheck(lora_loss, &l, in, 3, true, "lora forward wrt x, A, B");
    lg_tensor_free(x);
    lg_params_free(p);
}

static void test_lora_dropout_applies_only_to_the_adapter_in_training(void **state)
{
    (void)state;
    lg_linear_layer fc;
    lg_params *p = store_with_linear(LG_F64, 15, &fc);
    lg_rng r;
    lg_rng_init(&r, 16);
    lg_lora l;
    lg_lora_config c = config(2, 2);
    c.dropout = 0.5;
    assert_int_equal(lg_lora_init(&l, p, "fc", &c, &r), LG_OK);
    lg_tensor *x = input(LG_F64, 17);
    lg_graph *g = lg_graph_new();
    double base[N * OUT], full[N * OUT];
    values(lg_linear_layer_forward(g, &fc, x), base);
    /* B = 0: dropout on the adapter cannot change the output. */
    tu_assert_tensor_close(lg_lora_forward(g, &l, x), base, N * OUT, 1e-14, 0, "B = 0");

    randomise(l.lora_b, 18);
    lora_reference(&l, x, full);
    lg_graph_set_training(g, false);
    tu_assert_tensor_close(lg_lora_forward(g, &l, x), full, N * OUT, 1e-12, 1e-12, "eval");
    lg_graph_set_training(g, true);
    lg_tensor *y1 = lg_lora_forward(g, &l, x), *y2 = lg_lora_forward(g, &l, x);
    int differ_full = 0, differ_draws = 0;
    for (int i = 0; i < N * OUT; i++) {
        differ_full += fabs(lg_tensor_item(y1, i) - full[i]) > 1e-9;
        differ_draws += fabs(lg_tensor_item(y1, i) - lg_tensor_item(y2, i)) > 1e-9;
    }
    assert_true(differ_full > 0);
    assert_true(differ_draws > 0); /* each forward draws a fresh mask */
    lg_tensor_free(x);
    lg_graph_free(g);
    lg_params_free(p);
}

/* Singular values of t (out, in), descending. */
static void singular_values(lg_tensor *t, double *s, int64_t *k)
{
    lg_graph *g = lg_graph_new();
    lg_graph_set_grad_enabled(g, false);
    lg_tensor *u, *sv, *vt;
    assert_int_equal(lg_svd(g, t, false, &u, &sv, &vt), LG_OK);
    *k = lg_tensor_numel(sv);
    values(sv, s);
    lg_graph_free(g);
}

static void check_pissa(lg_dtype dt, bool rslora, double tol)
{
    lg_linear_layer fc;
    lg_params *p = store_with_linear(dt, 19, &fc);
    lg_tensor *x = input(dt, 20);
    lg_graph *g = lg_graph_new();
    double base[N * OUT], sv0[OUT], sv1[OUT];
    int64_t k;
    values(lg_linear_layer_forward(g, &fc, x), base);
    singular_values(fc.weight, sv0, &k);
    lg_rng r;
    lg_rng_init(&r, 21);
    lg_lora l;
    lg_lora_config c = config(2, 8); /* scale 4 (or 8/√2): the division by scale matters */
    c.rslora = rslora;
    c.init = LG_LORA_INIT_PISSA;
    assert_int_equal(lg_lora_init(&l, p, "fc", &c, &r), LG_OK);
    tu_assert_tensor_close(lg_lora_forward(g, &l, x), base, N * OUT, tol, tol,
                           "PiSSA keeps the output at step 0");
    /* The base keeps the residual: W − U_r S_r V_rᵀ has singular values σ3, σ4, ... */
    singular_values(l.weight, sv1, &k);
    for (int i = 0; i + 2 < k; i++)
        tu_assert_near(sv1[i], sv0[i + 2], 10 * tol);
    tu_assert_near(sv1[k - 2], 0, 10 * tol);
    /* scale·B A carries the principal part: its singular values are σ1, σ2. */
    assert_int_equal(lg_lora_merge(&l), LG_OK);
    tu_assert_tensor_close(lg_linear_layer_forward(g, &fc, x), base, N * OUT, tol, tol,
                           "merged PiSSA");
    assert_int_equal(lg_graph_status(g), LG_OK);
    lg_tensor_free(x);
    lg_graph_free(g);
    lg_params_free(p);
}

static void test_lora_pissa_init_keeps_the_output_and_moves_the_principal_part(void **state)
{
    (void)state;
    check_pissa(LG_F64, false, 1e-12);
    check_pissa(LG_F64, true, 1e-12);
    check_pissa(LG_F32, false, 2e-5);
}

static void test_lora_adapter_alone_saves_and_loads_into_a_fresh_layer(void **state)
{
    (void)state;
    char dir[] = "/tmp/lagrad-lora.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/adapter.safetensors", dir);

    lg_linear_layer fc;
    lg_params *p = store_with_linear(LG_F32, 22, &fc);
    lg_rng r;
    lg_rng_init(&r, 23);
    lg_lora l;
    lg_lora_config c = config(2, 4);
    assert_int_equal(lg_lora_init(&l, p, "fc", &c, &r), LG_OK);
    randomise(l.lora_b, 24);
    assert_int_equal(lg_checkpoint_save(p, path, "fc.lora_*", NULL, 0), LG_OK);
    lg_checkpoint *ck;
    assert_int_equal(lg_checkpoint_open(path, &ck), LG_OK);
    assert_int_equal(lg_checkpoint_count(ck), 2); /* A and B only, no base */
    assert_true(lg_checkpoint_find(ck, "fc.lora_A") >= 0);
    assert_true(lg_checkpoint_find(ck, "fc.lora_B") >= 0);
    lg_checkpoint_close(ck);

    /* The same base (same seed), a fresh adapter from another seed. */
    lg_linear_layer fc2;
    lg_params *q = store_with_linear(LG_F32, 22, &fc2);
    lg_rng r2;
    lg_rng_init(&r2, 99);
    lg_lora l2;
    assert_int_equal(lg_lora_init(&l2, q, "fc", &c, &r2), LG_OK);
    assert_int_equal(lg_checkpoint_load(q, path, "fc.lora_*", true), LG_OK);
    assert_memory_equal(lg_tensor_data(l2.lora_a), lg_tensor_data(l.lora_a),
                        2 * IN * sizeof(float));
    assert_memory_equal(lg_tensor_data(l2.lora_b), lg_tensor_data(l.lora_b),
                        2 * OUT * sizeof(float));
    lg_graph *g = lg_graph_new();
    lg_tensor *x = input(LG_F32, 25);
    double y[N * OUT];
    values(lg_lora_forward(g, &l, x), y);
    tu_assert_tensor_close(lg_lora_forward(g, &l2, x), y, N * OUT, 0, 0, "loaded adapter");
    lg_tensor_free(x);
    lg_graph_free(g);
    lg_params_free(q);
    lg_params_free(p);
    unlink(path);
    rmdir(dir);
}

static void test_lora_rejects_bad_arguments(void **state)
{
    (void)state;
    lg_linear_layer fc;
    lg_params *p = store_with_linear(LG_F32, 26, &fc);
    lg_rng r;
    lg_rng_init(&r, 27);
    lg_lora l;
    lg_lora_config c = config(2, 4);
    assert_int_equal(lg_lora_init(&l, p, "nope", &c, &r), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "'nope.weight'"));
    assert_null(l.weight);
    c.rank = 0;
    assert_int_equal(lg_lora_init(&l, p, "fc", &c, &r), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "rank"));
    c = config(2, 0);
    assert_int_equal(lg_lora_init(&l, p, "fc", &c, &r), LG_ERR_ARG);
    c = config(2, 4);
    c.dropout = 1;
    assert_int_equal(lg_lora_init(&l, p, "fc", &c, &r), LG_ERR_ARG);
    c = config(2, 4);
    c.init = (lg_lora_init_kind)7;
    assert_int_equal(lg_lora_init(&l, p, "fc", &c, &r), LG_ERR_ARG);
    c = config(OUT + 1, 4);
    c.init = LG_LORA_INIT_PISSA;
    assert_int_equal(lg_lora_init(&l, p, "fc", &c, &r), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "min(in, out)"));
    c = config(2, 4);
    assert_int_equal(lg_lora_init(NULL, p, "fc", &c, &r), LG_ERR_ARG);
    assert_int_equal(lg_lora_init(&l, NULL, "fc", &c, &r), LG_ERR_ARG);
    assert_int_equal(lg_lora_init(&l, p, "fc", &c, NULL), LG_ERR_ARG);
    assert_int_equal(lg_params_count(p), 2); /* nothing was added */
    /* NULL options are PEFT's defaults: rank 8, alpha 8, so scale 1 */
    lg_lora_config d = lg_lora_defaults();
    assert_int_equal(d.rank, 8);
    assert_true(d.alpha == 8 && d.dropout == 0 && !d.rslora && d.init == LG_LORA_INIT_DEFAULT);
    assert_true(lg_tensor_requires_grad(fc.weight));

    int64_t s1[1] = {3}, s3[3] = {2, 2, 2};
    lg_params_add(p, "vec.weight", LG_F32, 1, s1);
    assert_int_equal(lg_lora_init(&l, p, "vec", &c, &r), LG_ERR_SHAPE);
    lg_params_add(p, "odd.weight", LG_F32, 2, s3);
    lg_params_add(p, "odd.bias", LG_F32, 1, s1);
    assert_int_equal(lg_lora_init(&l, p, "odd", &c, &r), LG_ERR_SHAPE);
    assert_non_null(strstr(lg_last_errmsg(), "'odd.bias'"));

    assert_int_equal(lg_lora_init(&l, p, "fc", &c, &r), LG_OK);
    lg_lora again;
    assert_int_equal(lg_lora_init(&again, p, "fc", &c, &r), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "'fc.lora_A' already exists"));

    /* A non-finite base makes the PiSSA SVD fail. */
    lg_linear_layer nf;
    lg_rng_init(&r, 28);
    assert_int_equal(lg_linear_layer_init(&nf, p, "nf", IN, OUT, false, LG_F64, &r), LG_OK);
    ((double *)lg_tensor_data(nf.weight))[3] = NAN;
    c.init = LG_LORA_INIT_PISSA;
    assert_int_equal(lg_lora_init(&l, p, "nf", &c, &r), LG_ERR_NUMERIC);
    assert_null(l.weight);

    lg_graph *g = lg_graph_new();
    lg_lora ok;
    c.init = LG_LORA_INIT_DEFAULT;
    lg_linear_layer fc3;
    assert_int_equal(lg_linear_layer_init(&fc3, p, "fc3", IN, OUT, true, LG_F32, &r), LG_OK);
    assert_int_equal(lg_lora_init(&ok, p, "fc3", &c, &r), LG_OK);
    int64_t xs[2] = {2, IN + 1};
    lg_tensor *x = lg_tensor_new(LG_F32, 2, xs);
    assert_null(lg_lora_forward(g, &ok, x));
    assert_int_equal(lg_graph_status(g), LG_ERR_SHAPE);
    lg_graph_reset(g);
    assert_null(lg_lora_forward(g, NULL, x));
    assert_int_equal(lg_graph_status(g), LG_ERR_ARG);
    lg_graph_reset(g);
    lg_lora empty = {0};
    assert_null(lg_lora_forward(g, &empty, x));
    assert_int_equal(lg_graph_status(g), LG_ERR_ARG);
    assert_null(lg_lora_forward(NULL, &ok, x));
    assert_int_equal(lg_lora_merge(NULL), LG_ERR_ARG);
    assert_int_equal(lg_lora_unmerge(&empty), LG_ERR_ARG);
    lg_tensor_free(x);
    lg_graph_free(g);
    lg_params_free(p);
}

/* ---- allocation ---- */

/* One LoRA training step: forward, L2 penalty, backward, clipping. */
static lg_status lora_step(lg_graph *g, lg_lora *l, lg_params *p, lg_tensor *x)
{
    lg_graph_reset(g);
    lg_tensor *y = lg_lora_forward(g, l, x);
    lg_tensor *loss = lg_add(g, lg_sum(g, lg_mul(g, y, y)), lg_l2_penalty(g, p, 0.1));
    lg_status s = loss ? lg_backward(g, loss) : lg_graph_status(g);
    return s == LG_OK ? lg_params_clip_grad_norm(p, 1.0, NULL) : s;
}

/* Everything from an empty store to a merged adapter; the first error is returned. */
static lg_status lora_lifecycle(counter *c, long *after_first_step)
{
    lg_status s = LG_ERR_OOM;
    lg_params *p = lg_params_new();
    lg_graph *g = lg_graph_new();
    lg_tensor *x = input(LG_F32, 30);
    lg_rng r;
    lg_rng_init(&r, 31);
    lg_linear_layer fc, fc2;
    lg_lora l, l2;
    lg_lora_config cfg = config(2, 4), pissa = config(2, 4);
    pissa.init = LG_LORA_INIT_PISSA;
    if (p && g && x)
        s = lg_linear_layer_init(&fc, p, "fc", IN, OUT, true, LG_F32, &r);
    if (s == LG_OK)
        s = lg_linear_layer_init(&fc2, p, "fc2", IN, OUT, false, LG_F32, &r);
    if (s == LG_OK)
        s = lg_lora_init(&l, p, "fc", &cfg, &r);
    if (s == LG_OK)
        s = lg_lora_init(&l2, p, "fc2", &pissa, &r);
    if (s == LG_OK)
        s = lora_step(g, &l, p, x);
    if (s == LG_OK && after_first_step) {
        *after_first_step = c->calls;
        s = lora_step(g, &l, p, x);
        assert_int_equal(c->calls, *after_first_step); /* the step allocates nothing */
    }
    if (s == LG_OK)
        s = lg_lora_merge(&l);
    if (s == LG_OK)
        s = lg_lora_unmerge(&l);
    lg_tensor_free(x);
    lg_graph_free(g);
    lg_params_free(p);
    return s;
}

static void test_lora_survives_allocation_failure_anywhere_without_leaks(void **state)
{
    (void)state;
    counter c = {0};
    lg_allocator al = counter_allocator(&c);
    lg_set_allocator(&al);
    long after_first_step = 0;
    assert_int_equal(lora_lifecycle(&c, &after_first_step), LG_OK);
    long total = c.calls;
    assert_int_equal(c.live, 0);
    int failures = 0;
    for (long k = 1; k <= total; k++) {
        c = (counter){.fail_at = k};
        lg_status s = lora_lifecycle(&c, NULL);
        assert_int_equal(c.live, 0);
        if (s != LG_OK) {
            assert_int_equal(s, LG_ERR_OOM);
            failures++;
        }
    }
    assert_true(failures > 0);
    lg_set_allocator(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lora_init_freezes_base_and_adds_r_in_plus_out_trainables),
        cmocka_unit_test(test_lora_forward_matches_formula_and_the_merged_linear),
        cmocka_unit_test(test_lora_gradients_flow_only_into_a_and_b),
        cmocka_unit_test(test_lora_forward_passes_gradcheck_to_second_order_in_f64),
        cmocka_unit_test(test_lora_dropout_applies_only_to_the_adapter_in_training),
        cmocka_unit_test(test_lora_pissa_init_keeps_the_output_and_moves_the_principal_part),
        cmocka_unit_test(test_lora_adapter_alone_saves_and_loads_into_a_fresh_layer),
        cmocka_unit_test(test_lora_rejects_bad_arguments),
        cmocka_unit_test(test_lora_survives_allocation_failure_anywhere_without_leaks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
