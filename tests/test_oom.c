/* Out-of-memory sweeps (issue 7, part 3): through the allocator hook, the k-th allocation
 * fails for k = 1, 2, ... until a run completes without reaching an injected failure. Each
 * failure must surface as LG_ERR_OOM, the counting allocator must balance, and the graph
 * and parameter store must give the reference result on a clean run after a reset.
 * Covered: an MLP training step (Linear+ReLU+cross-entropy+Adam) on a warm store and from
 * nothing, a LoRA step, checkpoint and optimizer-state save and load, and every linalg
 * function forward and backward in f64 and f32. Each sweep prints its count of injected
 * failures ("oom sweep <name>: N points"); the last line gives the total. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lagrad/lagrad.h"
#include "test_alloc.h"
#include "test_tmp.h"

static counter c;

static long total_points;

/* ---- the sweep ---- */

/* One scenario: setup and teardown run unarmed; run is the code under injection; verify
 * checks a completed run against the reference; recover, after an injected failure,
 * checks what the failure must leave intact, then resets, runs clean and verifies. */
typedef struct sweep_ops {
    void (*setup)(void *ctx);
    lg_status (*run)(void *ctx);
    lg_graph *(*graph)(void *ctx); /* the graph whose sticky error must be OOM, or NULL */
    void (*verify)(void *ctx);
    void (*recover)(void *ctx);
    void (*teardown)(void *ctx);
} sweep_ops;

static void install_counter(void)
{
    c = (counter){0};
    lg_allocator al = counter_allocator(&c);
    lg_set_allocator(&al);
}

static void expect_oom_message(const char *msg)
{
    if (!strstr(msg, "out of memory"))
        fail_msg("an OOM error without 'out of memory' in its message: \"%s\"", msg);
}

/* Fails the k-th allocation of ops->run for every k until a run reaches no failure; returns
 * the number of failures injected, after printing it. */
static long sweep(const char *name, const sweep_ops *ops, void *ctx)
{
    install_counter();
    long points = 0;
    for (long k = 1;; k++) {
        c = (counter){0};
        ops->setup(ctx);
        c.fail_at = c.calls + k;
        lg_status s = ops->run(ctx);
        bool hit = c.calls >= c.fail_at;
        c.fail_at = 0;
        if (!hit) {
            assert_int_equal(s, LG_OK);
            ops->verify(ctx);
            ops->teardown(ctx);
            assert_int_equal(c.live, 0);
            assert_int_equal(c.live_bytes, 0);
            break;
        }
        if (s != LG_ERR_OOM)
            fail_msg("%s: allocation %ld failed but the run returned %s", name, k,
                     lg_status_str(s));
        lg_graph *g = ops->graph ? ops->graph(ctx) : NULL;
        if (g) {
            assert_int_equal(lg_graph_status(g), LG_ERR_OOM);
            expect_oom_message(lg_graph_errmsg(g));
        } else {
            expect_oom_message(lg_last_errmsg());
        }
        points++;
        if (ops->recover)
            ops->recover(ctx);
        ops->teardown(ctx);
        if (c.live || c.live_bytes)
            fail_msg("%s: allocation %ld failed and %ld blocks (%zu bytes) leaked", name, k,
                     c.live, c.live_bytes);
    }
    lg_set_allocator(NULL);
    assert_true(points > 0);
    total_points += points;
    printf("oom sweep %s: %ld points\n", name, points);
    fflush(stdout);
    return points;
}

/* Bitwise equality: the clean run after a failure repeats the reference's arithmetic
 * exactly (same inputs, same thread count). */
static void expect_same_bits(const char *what, const void *a, const void *b, size_t n)
{
    if (memcmp(a, b, n) != 0)
        fail_msg("%s differs from the reference after recovery", what);
}

/* ---- MLP: Linear+ReLU+Linear, cross-entropy, Adam ---- */

/* The small model fits the graph's first arena chunk; the large one (MNIST's input width)
 * needs several, so failures land between ops and in the middle of backward too. */
typedef struct mlp_dims {
    int64_t n, in, hid, out;
} mlp_dims;
static const mlp_dims small_dims = {8, 12, 16, 5}, large_dims = {512, 784, 512, 10};

enum { MAX_N = 512 };
static int32_t labels[MAX_N]; /* i mod 5, set by main: valid for both class counts */

/* Cross-entropy of logits (N, C) against the first N labels, as an i32 graph input. */
static lg_tensor *ce_loss(lg_graph *g, lg_tensor *logits)
{
    int64_t n = logits ? lg_tensor_shape(logits)[0] : 0;
    return logits ? lg_cross_entropy(g, logits, lg_graph_input(g, LG_I32, 1, &n, labels)) : NULL;
}

static lg_tensor *input_batch(lg_dtype dt, int64_t rows, int64_t cols, uint64_t seed)
{
    lg_rng r;
    lg_rng_init(&r, seed);
    return lg_tensor_uniform(dt, 2, (int64_t[]){rows, cols}, -1, 1, &r);
}

typedef struct mlp {
    const mlp_dims *d;
    lg_params *p;
    lg_linear_layer fc1, fc2;
    lg_optim *opt;
    lg_graph *g;
    lg_tensor *x;
    double loss;
} mlp;

/* Builds everything; the first error is returned (for the from-nothing sweep). */
static lg_status mlp_build(mlp *m, const mlp_dims *d)
{
    *m = (mlp){.d = d};
    lg_rng r;
    lg_rng_init(&r, 7);
    m->p = lg_params_new();
    m->g = lg_graph_new();
    m->x = input_batch(LG_F32, d->n, d->in, 11);
    if (!m->p || !m->g || !m->x)
        return LG_ERR_OOM;
    lg_status s = lg_linear_layer_init(&m->fc1, m->p, "fc1", d->in, d->hid, true, LG_F32, &r);
    if (s == LG_OK)
        s = lg_linear_layer_init(&m->fc2, m->p, "fc2", d->hid, d->out, true, LG_F32, &r);
    if (s != LG_OK)
        return s;
    lg_optim_config oc = lg_optim_defaults(LG_OPTIM_ADAM);
    oc.lr = 0.01;
    m->opt = lg_optim_new(m->p, &oc);
    return m->opt ? LG_OK : lg_last_errmsg()[0] ? LG_ERR_OOM : LG_ERR_STATE;
}

static void mlp_free(mlp *m)
{
    lg_optim_free(m->opt);
    lg_graph_free(m->g);
    lg_params_free(m->p);
    lg_tensor_free(m->x);
}

/* Forward, backward and an Adam step. */
static lg_status mlp_step(mlp *m)
{
    lg_graph_reset(m->g);
    lg_params_zero_grad(m->p);
    lg_tensor *h = lg_relu(m->g, lg_linear_layer_forward(m->g, &m->fc1, m->x));
    lg_tensor *loss = ce_loss(m->g, lg_linear_layer_forward(m->g, &m->fc2, h));
    if (!loss)
        return lg_graph_status(m->g);
    m->loss = lg_tensor_item(loss, 0);
    lg_status s = lg_backward(m->g, loss);
    return s == LG_OK ? lg_optim_step(m->opt) : s;
}

/* Every parameter's values (f32 stores), concatenated, in a plain malloc'd buffer that
 * the counting allocator does not see. */
typedef struct snapshot {
    float *v;
    size_t bytes;
} snapshot;

static snapshot snap(const lg_params *p)
{
    size_t n = (size_t)lg_params_numel(p, false), at = 0;
    snapshot s = {malloc(n * sizeof(float)), n * sizeof(float)};
    assert_non_null(s.v);
    for (int i = 0; i < lg_params_count(p); i++) {
        const lg_tensor *t = lg_params_at(p, i);
        memcpy(s.v + at, lg_tensor_cdata(t), (size_t)lg_tensor_numel(t) * sizeof(float));
        at += (size_t)lg_tensor_numel(t);
    }
    return s;
}

static void expect_params(const char *what, const lg_params *p, const snapshot *want)
{
    snapshot now = snap(p);
    assert_int_equal(now.bytes, want->bytes);
    expect_same_bits(what, now.v, want->v, now.bytes);
    free(now.v);
}

/* What one clean step from the fixed initialisation gives. */
typedef struct step_ref {
    double loss;
    snapshot params;
} step_ref;

static void verify_step(const char *what, const lg_params *p, double loss, const step_ref *ref)
{
    expect_same_bits(what, &loss, &ref->loss, sizeof loss);
    expect_params(what, p, &ref->params);
}

/* A sweep's context: the model's size, its reference step, the model under test. */
typedef struct mlp_case {
    const mlp_dims *d;
    step_ref ref;
    mlp m;
} mlp_case;

static mlp_case small_mlp = {.d = &small_dims}, large_mlp = {.d = &large_dims};

static void make_ref(mlp_case *mc)
{
    if (mc->ref.params.v)
        return;
    mlp m;
    assert_int_equal(mlp_build(&m, mc->d), LG_OK);
    assert_int_equal(mlp_step(&m), LG_OK);
    mc->ref = (step_ref){m.loss, snap(m.p)};
    mlp_free(&m);
}

static void mlp_setup(void *ctx) { mlp_case *mc = ctx; assert_int_equal(mlp_build(&mc->m, mc->d), LG_OK); }
static lg_status mlp_run(void *ctx) { return mlp_step(&((mlp_case *)ctx)->m); }
static lg_graph *mlp_graph(void *ctx) { return ((mlp_case *)ctx)->m.g; }
static void mlp_teardown(void *ctx) { mlp_free(&((mlp_case *)ctx)->m); }

static void mlp_verify(void *ctx)
{
    mlp_case *mc = ctx;
    verify_step("MLP step", mc->m.p, mc->m.loss, &mc->ref);
}

/* The failed step changed no parameter (Adam never ran); a clean one gives the reference. */
static void mlp_recover(void *ctx)
{
    mlp_case *mc = ctx;
    assert_int_equal(lg_optim_steps(mc->m.opt), 0);
    assert_int_equal(mlp_step(&mc->m), LG_OK);
    mlp_verify(mc);
}

static void test_oom_mlp_training_step_recovers_after_reset(void **state)
{
    (void)state;
    const sweep_ops ops = {mlp_setup, mlp_run, mlp_graph, mlp_verify, mlp_recover, mlp_teardown};
    make_ref(&small_mlp);
    make_ref(&large_mlp);
    sweep("mlp_step_small", &ops, &small_mlp);
    sweep("mlp_step_784x512_batch512", &ops, &large_mlp);
}

/* From an empty process to a freed model: store, layers, optimizer, graph, one step.
 * Everything is built under injection; the model is freed in teardown. */
static lg_status lifecycle_run(void *ctx)
{
    mlp_case *mc = ctx;
    lg_status s = mlp_build(&mc->m, mc->d);
    return s == LG_OK ? mlp_step(&mc->m) : s;
}

/* The graph holds the error only when the failure was in it. */
static lg_graph *lifecycle_graph(void *ctx)
{
    lg_graph *g = ((mlp_case *)ctx)->m.g;
    return g && lg_graph_status(g) != LG_OK ? g : NULL;
}

static void nothing(void *ctx) { (void)ctx; }

static void test_oom_mlp_from_nothing_leaks_nothing(void **state)
{
    (void)state;
    const sweep_ops ops = {nothing, lifecycle_run, lifecycle_graph, mlp_verify, NULL,
                           mlp_teardown};
    make_ref(&small_mlp);
    sweep("mlp_lifecycle", &ops, &small_mlp);
}

/* ---- LoRA: a frozen Linear(12,5) with a rank-2 adapter and dropout, cross-entropy, Adam ---- */

typedef struct lora_fx {
    lg_params *p;
    lg_linear_layer base;
    lg_lora l;
    lg_optim *opt;
    lg_graph *g;
    lg_tensor *x;
    double loss;
} lora_fx;

static step_ref lora_ref;

static void lora_setup(void *ctx)
{
    lora_fx *f = ctx;
    *f = (lora_fx){0};
    lg_rng r;
    lg_rng_init(&r, 21);
    f->p = lg_params_new();
    f->g = lg_graph_new();
    f->x = input_batch(LG_F32, small_dims.n, small_dims.in, 23);
    assert_non_null(f->p);
    assert_non_null(f->g);
    assert_non_null(f->x);
    assert_int_equal(lg_linear_layer_init(&f->base, f->p, "fc", small_dims.in, small_dims.out,
                                          true, LG_F32, &r), LG_OK);
    lg_lora_config lc = {.rank = 2, .alpha = 4, .dropout = 0.25};
    assert_int_equal(lg_lora_init(&f->l, f->p, "fc", &lc, &r), LG_OK);
    lg_optim_config oc = lg_optim_defaults(LG_OPTIM_ADAM);
    oc.lr = 0.05;
    f->opt = lg_optim_new(f->p, &oc);
    assert_non_null(f->opt);
}

static lg_status lora_run(void *ctx)
{
    lora_fx *f = ctx;
    lg_graph_reset(f->g);
    lg_params_zero_grad(f->p);
    lg_tensor *loss = ce_loss(f->g, lg_lora_forward(f->g, &f->l, f->x));
    if (!loss)
        return lg_graph_status(f->g);
    f->loss = lg_tensor_item(loss, 0);
    lg_status s = lg_backward(f->g, loss);
    return s == LG_OK ? lg_optim_step(f->opt) : s;
}

static lg_graph *lora_graph(void *ctx) { return ((lora_fx *)ctx)->g; }

static void lora_verify(void *ctx)
{
    lora_fx *f = ctx;
    verify_step("LoRA step", f->p, f->loss, &lora_ref);
}

/* The dropout stream may have advanced in the failed step: restoring it makes the clean
 * step draw the reference's mask. */
static lg_rng lora_rng0;

static void lora_recover(void *ctx)
{
    lora_fx *f = ctx;
    assert_int_equal(lg_optim_steps(f->opt), 0);
    f->l.rng = lora_rng0;
    assert_int_equal(lora_run(f), LG_OK);
    lora_verify(f);
}

static void lora_teardown(void *ctx)
{
    lora_fx *f = ctx;
    lg_optim_free(f->opt);
    lg_graph_free(f->g);
    lg_params_free(f->p);
    lg_tensor_free(f->x);
}

static void test_oom_lora_training_step_recovers_after_reset(void **state)
{
    (void)state;
    lora_fx f;
    lora_setup(&f);
    lora_rng0 = f.l.rng;
    assert_int_equal(lora_run(&f), LG_OK);
    lora_ref = (step_ref){f.loss, snap(f.p)};
    lora_teardown(&f);
    const sweep_ops ops = {lora_setup, lora_run, lora_graph, lora_verify, lora_recover,
                           lora_teardown};
    sweep("lora_step", &ops, &f);
    free(lora_ref.params.v);
}

/* ---- checkpoints: model and optimizer state, save and load ---- */

/* The small model after one step; `path` holds it untrained ("old"), and "oom_opt"
 * holds the optimizer at step 0. */
typedef struct ckpt_fx {
    mlp m;
    char path[256], opt_path[256];
    snapshot old;
} ckpt_fx;

static void ckpt_setup(void *ctx)
{
    ckpt_fx *f = ctx;
    assert_int_equal(mlp_build(&f->m, &small_dims), LG_OK);
    f->old = snap(f->m.p);
    assert_int_equal(lg_checkpoint_save(f->m.p, f->path, NULL, NULL, 0), LG_OK);
    assert_int_equal(lg_optim_save(f->m.opt, f->opt_path, NULL, 0), LG_OK);
    assert_int_equal(mlp_step(&f->m), LG_OK);
}

static void ckpt_teardown(void *ctx)
{
    ckpt_fx *f = ctx;
    mlp_free(&f->m);
    free(f->old.v);
}

static void expect_no_temp_files(void) { assert_int_equal(tmp_count_files(".tmp"), 0); }

/* The file at path loads into a fresh store with the values `want`. */
static void expect_file_holds(const char *what, const char *path, const snapshot *want)
{
    mlp fresh;
    assert_int_equal(mlp_build(&fresh, &small_dims), LG_OK);
    assert_int_equal(lg_checkpoint_load(fresh.p, path, NULL, true), LG_OK);
    expect_params(what, fresh.p, want);
    mlp_free(&fresh);
}

/* Saving the trained model over the old file. */
static lg_status save_run(void *ctx)
{
    ckpt_fx *f = ctx;
    return lg_checkpoint_save(f->m.p, f->path, NULL, (const char *[]){"k", "v"}, 1);
}

static void save_verify(void *ctx)
{
    expect_file_holds("saved model", ((ckpt_fx *)ctx)->path, &small_mlp.ref.params);
    expect_no_temp_files();
}

/* The old file is intact and no temporary file is left; a clean save then works. */
static void save_recover(void *ctx)
{
    ckpt_fx *f = ctx;
    expect_file_holds("model file after a failed save", f->path, &f->old);
    expect_no_temp_files();
    assert_int_equal(save_run(f), LG_OK);
    save_verify(f);
}

/* Loading the old file into the trained model. */
static lg_status load_run(void *ctx)
{
    ckpt_fx *f = ctx;
    return lg_checkpoint_load(f->m.p, f->path, NULL, true);
}

static void load_verify(void *ctx)
{
    ckpt_fx *f = ctx;
    expect_params("loaded model", f->m.p, &f->old);
}

/* A failed load changed nothing (the file is checked before any value changes); a clean
 * load then gives the file's values, and a step from there the reference step. */
static void load_recover(void *ctx)
{
    ckpt_fx *f = ctx;
    expect_params("model after a failed load", f->m.p, &small_mlp.ref.params);
    assert_int_equal(load_run(f), LG_OK);
    load_verify(f);
}

/* Optimizer state: save the state after the step; load the step-0 state. */
static lg_status opt_save_run(void *ctx)
{
    ckpt_fx *f = ctx;
    return lg_optim_save(f->m.opt, tpath("oom_opt_saved.safetensors"), NULL, 0);
}

static void opt_save_verify(void *ctx)
{
    ckpt_fx *f = ctx;
    assert_int_equal(lg_optim_load(f->m.opt, tpath("oom_opt_saved.safetensors")), LG_OK);
    assert_int_equal(lg_optim_steps(f->m.opt), 1);
    expect_no_temp_files();
}

static void opt_save_recover(void *ctx)
{
    expect_no_temp_files();
    assert_int_equal(opt_save_run(ctx), LG_OK);
    opt_save_verify(ctx);
}

static lg_status opt_load_run(void *ctx)
{
    ckpt_fx *f = ctx;
    return lg_optim_load(f->m.opt, f->opt_path);
}

/* Back at step 0 with the untrained weights, a step gives the reference step again. */
static void opt_load_verify(void *ctx)
{
    ckpt_fx *f = ctx;
    assert_int_equal(lg_optim_steps(f->m.opt), 0);
    assert_int_equal(lg_checkpoint_load(f->m.p, f->path, NULL, true), LG_OK);
    assert_int_equal(mlp_step(&f->m), LG_OK);
    verify_step("step after an optimizer load", f->m.p, f->m.loss, &small_mlp.ref);
}

static void opt_load_recover(void *ctx)
{
    ckpt_fx *f = ctx;
    assert_int_equal(lg_optim_steps(f->m.opt), 1); /* unchanged by the failed load */
    assert_int_equal(opt_load_run(f), LG_OK);
    opt_load_verify(f);
}

static void test_oom_checkpoint_save_and_load(void **state)
{
    (void)state;
    make_ref(&small_mlp);
    ckpt_fx f = {0};
    snprintf(f.path, sizeof f.path, "%s", tpath("oom_model.safetensors"));
    snprintf(f.opt_path, sizeof f.opt_path, "%s", tpath("oom_opt.safetensors"));
    const sweep_ops save = {ckpt_setup, save_run, NULL, save_verify, save_recover, ckpt_teardown};
    const sweep_ops load = {ckpt_setup, load_run, NULL, load_verify, load_recover, ckpt_teardown};
    const sweep_ops osave = {ckpt_setup, opt_save_run, NULL, opt_save_verify, opt_save_recover,
                             ckpt_teardown};
    const sweep_ops oload = {ckpt_setup, opt_load_run, NULL, opt_load_verify, opt_load_recover,
                             ckpt_teardown};
    sweep("checkpoint_save", &save, &f);
    sweep("checkpoint_load", &load, &f);
    sweep("optim_save", &osave, &f);
    sweep("optim_load", &oload, &f);
}

/* ---- linalg: each function, forward and (where differentiable) backward ---- */

typedef struct linalg_in {
    lg_tensor *a; /* (n,n), diagonally dominant: invertible, well conditioned */
    lg_tensor *b; /* (n,k), k < n, full column rank */
    lg_tensor *v; /* (n) */
} linalg_in;

/* sum(x ⊙ W) with fixed, distinct weights W, so every element gets its own gradient. */
static lg_tensor *wsum(lg_graph *g, lg_tensor *x)
{
    if (!x)
        return NULL;
    lg_tensor *w = lg_graph_full(g, lg_tensor_dtype(x), lg_tensor_ndim(x), lg_tensor_shape(x), 0);
    if (!w)
        return NULL;
    for (int64_t i = 0; i < lg_tensor_numel(x); i++) {
        double wi = 1 + 0.125 * (double)(i % 7);
        if (lg_tensor_dtype(x) == LG_F64)
            ((double *)lg_tensor_data(w))[i] = wi;
        else
            ((float *)lg_tensor_data(w))[i] = (float)wi;
    }
    return lg_sum(g, lg_mul(g, x, w));
}

/* sum(x ⊙ x ⊙ W): invariant to the sign of eigen- and singular vectors. */
static lg_tensor *wsq(lg_graph *g, lg_tensor *x) { return wsum(g, lg_mul(g, x, x)); }

static lg_tensor *spd(lg_graph *g, lg_tensor *a)
{
    return lg_matmul_t(g, a, a, false, true);
}

static lg_tensor *add(lg_graph *g, lg_tensor *x, lg_tensor *y) { return lg_add(g, x, y); }

static lg_tensor *case_solve(lg_graph *g, const linalg_in *in) { return wsum(g, add(g, lg_solve(g, in->a, in->b), lg_solve(g, in->a, lg_reshape(g, in->v, 2, (int64_t[]){lg_tensor_numel(in->v), 1})))); }
static lg_tensor *case_solve_triangular(lg_graph *g, const linalg_in *in) { return add(g, wsum(g, lg_solve_triangular(g, in->a, in->b, LG_TRI_LOWER)), wsum(g, lg_solve_triangular(g, in->a, in->v, LG_TRI_UPPER | LG_TRI_TRANSPOSE))); }
static lg_tensor *case_cholesky(lg_graph *g, const linalg_in *in) { return wsum(g, lg_cholesky(g, spd(g, in->a))); }
static lg_tensor *case_cholesky_solve(lg_graph *g, const linalg_in *in) { return wsum(g, lg_cholesky_solve(g, lg_cholesky(g, spd(g, in->a)), in->b)); }
static lg_tensor *case_inv(lg_graph *g, const linalg_in *in) { return wsum(g, lg_inv(g, in->a)); }
static lg_tensor *case_det(lg_graph *g, const linalg_in *in) { return lg_det(g, in->a); }
static lg_tensor *case_trace(lg_graph *g, const linalg_in *in) { return lg_trace(g, in->a); }
static lg_tensor *case_pinv(lg_graph *g, const linalg_in *in) { return wsum(g, lg_pinv(g, in->b, -1)); }
static lg_tensor *case_cond(lg_graph *g, const linalg_in *in) { return lg_cond(g, in->b); }
static lg_tensor *case_norm_l0(lg_graph *g, const linalg_in *in) { return lg_norm_l0(g, in->b); }
static lg_tensor *case_norm_l1(lg_graph *g, const linalg_in *in) { return lg_norm_l1(g, in->b); }
static lg_tensor *case_norm_l2(lg_graph *g, const linalg_in *in) { return lg_norm_l2(g, in->v); }
static lg_tensor *case_norm_linf(lg_graph *g, const linalg_in *in) { return lg_norm_linf(g, in->b); }
static lg_tensor *case_norm_fro(lg_graph *g, const linalg_in *in) { return lg_norm_fro(g, in->b); }
static lg_tensor *case_norm_spectral(lg_graph *g, const linalg_in *in) { return lg_norm_spectral(g, in->b); }
static lg_tensor *case_norm_nuclear(lg_graph *g, const linalg_in *in) { return lg_norm_nuclear(g, in->b); }
static lg_tensor *case_cosine(lg_graph *g, const linalg_in *in) { return wsum(g, lg_cosine_similarity(g, in->a, lg_transpose(g, in->a), 1e-8)); }

static lg_tensor *case_eigh(lg_graph *g, const linalg_in *in)
{
    lg_tensor *vals, *vecs;
    if (lg_eigh(g, spd(g, in->a), &vals, &vecs) != LG_OK)
        return NULL;
    return add(g, wsum(g, vals), wsq(g, vecs));
}

static lg_tensor *svd_loss(lg_graph *g, lg_tensor *u, lg_tensor *s, lg_tensor *vt)
{
    return add(g, wsum(g, s), add(g, wsq(g, u), wsq(g, vt)));
}

static lg_tensor *case_svd(lg_graph *g, const linalg_in *in)
{
    lg_tensor *u, *s, *vt;
    return lg_svd(g, in->b, false, &u, &s, &vt) == LG_OK ? svd_loss(g, u, s, vt) : NULL;
}

static lg_tensor *case_svd_full(lg_graph *g, const linalg_in *in)
{
    lg_tensor *u, *s, *vt;
    return lg_svd(g, in->b, true, &u, &s, &vt) == LG_OK ? svd_loss(g, u, s, vt) : NULL;
}

static lg_tensor *case_svd_truncated(lg_graph *g, const linalg_in *in)
{
    lg_tensor *u, *s, *vt;
    return lg_svd_truncated(g, in->b, 2, &u, &s, &vt) == LG_OK ? svd_loss(g, u, s, vt) : NULL;
}

static lg_tensor *case_qr(lg_graph *g, const linalg_in *in)
{
    lg_tensor *q, *r;
    return lg_qr(g, in->b, &q, &r) == LG_OK ? add(g, wsum(g, q), wsum(g, r)) : NULL;
}

static lg_tensor *case_slogdet(lg_graph *g, const linalg_in *in)
{
    lg_tensor *sign, *logabs;
    return lg_slogdet(g, in->a, &sign, &logabs) == LG_OK ? add(g, logabs, sign) : NULL;
}

/* Not differentiable: the value is all there is to check. */
static lg_tensor *case_lu(lg_graph *g, const linalg_in *in)
{
    lg_tensor *p, *l, *u;
    if (lg_lu(g, in->a, &p, &l, &u) != LG_OK)
        return NULL;
    return add(g, wsum(g, p), add(g, wsum(g, l), wsum(g, u)));
}

static lg_tensor *case_lstsq(lg_graph *g, const linalg_in *in)
{
    lg_lstsq_result r;
    if (lg_lstsq(g, in->b, in->v, -1, &r) != LG_OK)
        return NULL;
    lg_tensor *rank = lg_graph_full(g, lg_tensor_dtype(in->b), 0, NULL, (double)r.rank);
    return add(g, add(g, wsum(g, r.solution), wsum(g, r.residuals)), add(g, wsum(g, r.sv), rank));
}

static lg_tensor *case_matrix_rank(lg_graph *g, const linalg_in *in)
{
    int64_t rank = -1;
    if (lg_matrix_rank(g, in->b, -1, &rank) != LG_OK)
        return NULL;
    return lg_graph_full(g, lg_tensor_dtype(in->b), 0, NULL, (double)rank);
}

typedef struct linalg_case {
    const char *name;
    lg_tensor *(*loss)(lg_graph *g, const linalg_in *in);
    bool differentiable;
} linalg_case;

static const linalg_case linalg_cases[] = {
    {"solve", case_solve, true},
    {"solve_triangular", case_solve_triangular, true},
    {"cholesky", case_cholesky, true},
    {"cholesky_solve", case_cholesky_solve, true},
    {"eigh", case_eigh, true},
    {"svd", case_svd, true},
    {"svd_full", case_svd_full, true},
    {"svd_truncated", case_svd_truncated, true},
    {"qr", case_qr, true},
    {"lu", case_lu, false},
    {"det", case_det, true},
    {"slogdet", case_slogdet, true},
    {"inv", case_inv, true},
    {"pinv", case_pinv, true},
    {"lstsq", case_lstsq, false},
    {"norm_l0", case_norm_l0, false},
    {"norm_l1", case_norm_l1, true},
    {"norm_l2", case_norm_l2, true},
    {"norm_linf", case_norm_linf, true},
    {"norm_fro", case_norm_fro, true},
    {"norm_spectral", case_norm_spectral, true},
    {"norm_nuclear", case_norm_nuclear, true},
    {"trace", case_trace, true},
    {"cond", case_cond, true},
    {"matrix_rank", case_matrix_rank, false},
    {"cosine_similarity", case_cosine, true},
};
enum { N_LINALG = sizeof linalg_cases / sizeof linalg_cases[0] };

typedef struct linalg_fx {
    const linalg_case *lc;
    lg_dtype dt;
    int64_t n, k;
    lg_graph *g;
    linalg_in in;
    double value;
    /* the reference: value and the three inputs' gradients (malloc'd, NULL for none) */
    double ref_value;
    void *ref_grad[3];
} linalg_fx;

static lg_tensor **input_slot(linalg_in *in, int i)
{
    return i == 0 ? &in->a : i == 1 ? &in->b : &in->v;
}

static void linalg_setup(void *ctx)
{
    linalg_fx *f = ctx;
    f->g = lg_graph_new();
    assert_non_null(f->g);
    f->in.a = input_batch(f->dt, f->n, f->n, 31);
    f->in.b = input_batch(f->dt, f->n, f->k, 37);
    f->in.v = input_batch(f->dt, 1, f->n, 41);
    assert_non_null(f->in.a);
    assert_non_null(f->in.b);
    assert_non_null(f->in.v);
    assert_int_equal(lg_tensor_reshape(f->in.v, 1, (int64_t[]){f->n}), LG_OK);
    for (int64_t i = 0; i < f->n; i++) /* diagonal dominance: |a_ii| >= n > Σ_j≠i |a_ij| */
        lg_tensor_set(f->in.a, (int64_t[]){i, i}, (double)f->n + 0.5 * (double)i);
    for (int i = 0; i < 3; i++)
        assert_int_equal(lg_tensor_set_requires_grad(*input_slot(&f->in, i), f->lc->differentiable), LG_OK);
}

static lg_status linalg_run(void *ctx)
{
    linalg_fx *f = ctx;
    lg_graph_reset(f->g);
    lg_tensor *loss = f->lc->loss(f->g, &f->in);
    if (!loss)
        return lg_graph_status(f->g);
    f->value = lg_tensor_item(loss, 0);
    return f->lc->differentiable ? lg_backward(f->g, loss) : LG_OK;
}

static lg_graph *linalg_graph(void *ctx) { return ((linalg_fx *)ctx)->g; }

static void linalg_record_ref(linalg_fx *f)
{
    f->ref_value = f->value;
    for (int i = 0; i < 3; i++) {
        const lg_tensor *gr = lg_tensor_grad(*input_slot(&f->in, i));
        size_t bytes = gr ? (size_t)lg_tensor_numel(gr) * lg_dtype_size(f->dt) : 0;
        f->ref_grad[i] = gr ? malloc(bytes) : NULL;
        if (gr) {
            assert_non_null(f->ref_grad[i]);
            memcpy(f->ref_grad[i], lg_tensor_cdata(gr), bytes);
        }
    }
}

static void linalg_verify(void *ctx)
{
    linalg_fx *f = ctx;
    char what[96];
    snprintf(what, sizeof what, "%s (%s) value", f->lc->name, lg_dtype_name(f->dt));
    expect_same_bits(what, &f->value, &f->ref_value, sizeof f->value);
    for (int i = 0; i < 3; i++) {
        const lg_tensor *gr = lg_tensor_grad(*input_slot(&f->in, i));
        assert_int_equal(gr != NULL, f->ref_grad[i] != NULL);
        snprintf(what, sizeof what, "%s (%s) gradient of input %d", f->lc->name,
                 lg_dtype_name(f->dt), i);
        if (gr)
            expect_same_bits(what, lg_tensor_cdata(gr), f->ref_grad[i],
                             (size_t)lg_tensor_numel(gr) * lg_dtype_size(f->dt));
    }
}

/* Backward may have accumulated part of the gradients before failing: zero them, reset. */
static void linalg_recover(void *ctx)
{
    linalg_fx *f = ctx;
    for (int i = 0; i < 3; i++)
        lg_tensor_zero_grad(*input_slot(&f->in, i));
    assert_int_equal(linalg_run(f), LG_OK);
    linalg_verify(f);
}

static void linalg_teardown(void *ctx)
{
    linalg_fx *f = ctx;
    lg_graph_free(f->g);
    for (int i = 0; i < 3; i++)
        lg_tensor_free(*input_slot(&f->in, i));
    f->in = (linalg_in){0};
}

/* Every case at one size and dtype; returns the points injected. */
static long sweep_linalg(lg_dtype dt, int64_t n, int64_t k)
{
    const sweep_ops ops = {linalg_setup, linalg_run, linalg_graph, linalg_verify,
                           linalg_recover, linalg_teardown};
    long sum = 0;
    for (int i = 0; i < N_LINALG; i++) {
        linalg_fx f = {.lc = &linalg_cases[i], .dt = dt, .n = n, .k = k};
        linalg_setup(&f);
        if (linalg_run(&f) != LG_OK)
            fail_msg("linalg %s: clean run failed: %s", f.lc->name, lg_graph_errmsg(f.g));
        linalg_record_ref(&f);
        linalg_teardown(&f);
        char name[96];
        snprintf(name, sizeof name, "linalg_%s_%s_%lldx%lld", f.lc->name, lg_dtype_name(dt),
                 (long long)n, (long long)n);
        sum += sweep(name, &ops, &f);
        for (int j = 0; j < 3; j++)
            free(f.ref_grad[j]);
    }
    return sum;
}

/* At 4x4 everything fits the arena's first chunk; at 160x160 (f64) a call needs several
 * chunks, so failures also land inside a function and inside its backward. */
static void test_oom_every_linalg_function_forward_and_backward(void **state)
{
    (void)state;
    long sum = sweep_linalg(LG_F64, 4, 3) + sweep_linalg(LG_F32, 4, 3) +
               sweep_linalg(LG_F64, 160, 120);
    printf("oom sweep linalg (all functions, f64 and f32 4x4, f64 160x160): %ld points\n", sum);
}

static void test_oom_total(void **state)
{
    (void)state;
    assert_true(total_points > 0);
    printf("oom sweeps total: %ld points\n", total_points);
}

int main(void)
{
    if (tmp_dir_make("oom") != 0)
        return 1;
    for (int i = 0; i < MAX_N; i++)
        labels[i] = i % 5;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oom_mlp_training_step_recovers_after_reset),
        cmocka_unit_test(test_oom_mlp_from_nothing_leaks_nothing),
        cmocka_unit_test(test_oom_lora_training_step_recovers_after_reset),
        cmocka_unit_test(test_oom_checkpoint_save_and_load),
        cmocka_unit_test(test_oom_every_linalg_function_forward_and_backward),
        cmocka_unit_test(test_oom_total),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    remove_tree(g_dir);
    return rc;
}
