/* The parameter store and the optimizers. Expected optimizer trajectories were printed by
 * PyTorch 1.13 (torch.optim, float64) for the script in the comment above each table; the
 * test itself does not need torch. */
#include <stdlib.h>
#include <string.h>
#include "test_util.h"

static void test_params_add_get_iterate_and_count(void **state)
{
    (void)state;
    lg_params *p = lg_params_new();
    int64_t sw[2] = {3, 4}, sb[1] = {3};
    lg_tensor *w = lg_params_add(p, "fc1.weight", LG_F32, 2, sw);
    lg_tensor *b = lg_params_add(p, "fc1.bias", LG_F32, 1, sb);
    lg_tensor *d = lg_params_add(p, "scale", LG_F64, 0, NULL);
    assert_non_null(w);
    assert_non_null(b);
    assert_non_null(d);
    assert_int_equal(lg_params_count(p), 3);
    assert_ptr_equal(lg_params_get(p, "fc1.bias"), b);
    assert_null(lg_params_get(p, "nope"));
    assert_string_equal(lg_params_name(p, 0), "fc1.weight");
    assert_ptr_equal(lg_params_at(p, 2), d);
    assert_null(lg_params_at(p, 3));
    assert_int_equal(lg_params_numel(p, false), 16);
    assert_true(lg_tensor_requires_grad(w));
    /* f32 values sit in one block: bias follows weight directly. */
    assert_ptr_equal((float *)lg_tensor_data(w) + 12, lg_tensor_data(b));
    assert_ptr_equal((float *)lg_tensor_cdata(lg_tensor_grad(w)) + 12,
                     lg_tensor_cdata(lg_tensor_grad(b)));
    lg_tensor_free(w); /* ignored: the store owns it */
    assert_ptr_equal(lg_params_get(p, "fc1.weight"), w);
    lg_params_free(p);
}

static void test_params_survive_block_growth(void **state)
{
    (void)state;
    lg_params *p = lg_params_new();
    int64_t s[1] = {700};
    lg_tensor *first = lg_params_add(p, "a", LG_F64, 1, s);
    lg_tensor_fill(first, 2.5);
    char name[16];
    for (int i = 0; i < 40; i++) { /* forces several reallocations of block and entries */
        snprintf(name, sizeof name, "p%d", i);
        assert_non_null(lg_params_add(p, name, LG_F64, 1, s));
    }
    for (int64_t i = 0; i < 700; i++)
        tu_assert_near(lg_tensor_item(first, i), 2.5, 0);
    assert_int_equal(lg_params_numel(p, false), 41 * 700);
    lg_params_free(p);
}

static void test_params_reject_bad_names_and_shapes(void **state)
{
    (void)state;
    lg_params *p = lg_params_new();
    int64_t s[1] = {2}, neg[1] = {-2};
    assert_non_null(lg_params_add(p, "w", LG_F32, 1, s));
    assert_null(lg_params_add(p, "w", LG_F32, 1, s));
    assert_non_null(strstr(lg_last_errmsg(), "'w' already exists"));
    assert_null(lg_params_add(p, "", LG_F32, 1, s));
    assert_null(lg_params_add(p, NULL, LG_F32, 1, s));
    assert_null(lg_params_add(NULL, "x", LG_F32, 1, s));
    assert_null(lg_params_add(p, "x", LG_F32, 1, neg));
    assert_non_null(strstr(lg_last_errmsg(), "negative"));
    assert_null(lg_params_add(p, "y", (lg_dtype)7, 1, s));
    assert_int_equal(lg_params_count(p), 1);
    lg_params_free(p);
    lg_params_free(NULL);
}

static void test_params_freeze_by_name_and_prefix(void **state)
{
    (void)state;
    lg_params *p = lg_params_new();
    int64_t s[1] = {5};
    lg_params_add(p, "enc.w", LG_F32, 1, s);
    lg_params_add(p, "enc.b", LG_F32, 1, s);
    lg_params_add(p, "encoder2.w", LG_F32, 1, s);
    lg_params_add(p, "head.w", LG_F32, 1, s);
    int n;
    assert_int_equal(lg_params_freeze(p, "enc", true, &n), LG_OK);
    assert_int_equal(n, 2); /* "enc" matches enc.* but not encoder2.* */
    assert_true(lg_params_is_frozen(p, 0));
    assert_false(lg_params_is_frozen(p, 2));
    assert_int_equal(lg_params_numel(p, true), 10);
    assert_int_equal(lg_params_freeze(p, "head.w", true, &n), LG_OK);
    assert_int_equal(n, 1);
    assert_int_equal(lg_params_freeze(p, "enc.", false, &n), LG_OK);
    assert_int_equal(n, 2);
    assert_int_equal(lg_params_numel(p, true), 15);
    assert_int_equal(lg_params_freeze(p, "decoder", true, &n), LG_ERR_ARG);
    assert_int_equal(n, 0);
    assert_non_null(strstr(lg_last_errmsg(), "decoder"));
    lg_params_free(p);
}

static void test_params_collect_backward_and_zero_grad(void **state)
{
    (void)state;
    lg_params *p = lg_params_new();
    int64_t s[1] = {3};
    lg_tensor *w = lg_params_add(p, "w", LG_F64, 1, s);
    const double wv[3] = {1, 2, 3};
    memcpy(lg_tensor_data(w), wv, sizeof wv);
    lg_graph *g = lg_graph_new();
    assert_int_equal(lg_backward(g, lg_sum(g, lg_mul(g, w, w))), LG_OK);
    const double want[3] = {2, 4, 6};
    tu_assert_tensor_close(lg_tensor_grad(w), want, 3, 0, 0, "grad in the store");
    lg_params_zero_grad(p);
    const double zero[3] = {0, 0, 0};
    tu_assert_tensor_close(lg_tensor_grad(w), zero, 3, 0, 0, "zeroed grad");
    lg_graph_free(g);
    lg_params_free(p);
}

/* ---- optimizers against torch.optim ----
 * w0 = [0.5, -1.25, 2.0, 0.1], loss = sum(0.5 a w² + b w), a = [1, 2, 0.5, 3],
 * b = [0.1, -0.2, 0.3, 0.05]; five steps of zero_grad, backward, step, float64:
 *   p = torch.tensor(w0, requires_grad=True); o = OPT([p], ...)
 *   for _ in range(5): o.zero_grad(); (0.5*A*p*p + B*p).sum().backward(); o.step() */
typedef struct opt_case {
    const char *name;
    lg_optim_config c;
    double want[4];
} opt_case;

/* fused: the config's zero_grad clears the gradients instead of lg_params_zero_grad. */
static void run_case(const opt_case *k, bool fused)
{
    const double w0[4] = {0.5, -1.25, 2.0, 0.1}, a[4] = {1, 2, 0.5, 3}, b[4] = {0.1, -0.2, 0.3, 0.05};
    int64_t s[1] = {4};
    lg_params *p = lg_params_new();
    lg_tensor *w = lg_params_add(p, "w", LG_F64, 1, s);
    memcpy(lg_tensor_data(w), w0, sizeof w0);
    lg_tensor *ta = lg_tensor_from_data(LG_F64, 1, s, a), *tb = lg_tensor_from_data(LG_F64, 1, s, b);
    lg_optim_config c = k->c;
    c.zero_grad = fused;
    lg_optim *o = lg_optim_new(p, &c);
    assert_non_null(o);
    lg_graph *g = lg_graph_new();
    for (int step = 0; step < 5; step++) {
        if (!fused)
            lg_params_zero_grad(p);
        lg_graph_reset(g);
        lg_tensor *loss = lg_sum(g, lg_add(g, lg_scale(g, lg_mul(g, ta, lg_mul(g, w, w)), 0.5),
                                           lg_mul(g, tb, w)));
        assert_int_equal(lg_backward(g, loss), LG_OK);
        assert_int_equal(lg_optim_step(o), LG_OK);
    }
    assert_int_equal(lg_optim_steps(o), 5);
    tu_assert_tensor_close(w, k->want, 4, 1e-12, 1e-12, k->name);
    lg_graph_free(g);
    lg_optim_free(o);
    lg_tensor_free(ta);
    lg_tensor_free(tb);
    lg_params_free(p);
}

static void test_optimizers_match_torch_optim_in_f64(void **state)
{
    (void)state;
    lg_optim_config sgd = lg_optim_defaults(LG_OPTIM_SGD), adam = lg_optim_defaults(LG_OPTIM_ADAM);
    lg_optim_config adamw = lg_optim_defaults(LG_OPTIM_ADAMW);
    opt_case cases[6];
    cases[0] = (opt_case){"SGD(lr=0.1)", sgd,
                          {0.25429399999999996, -0.34236799999999995, 1.4118304375000001,
                           0.0029414999999999992}};
    cases[0].c.lr = 0.1;
    cases[1] = (opt_case){"SGD(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)", sgd,
                          {-0.089671776614847112, 0.82477603585686121, 0.55706365478125208,
                           -0.10655181758751524}};
    cases[1].c.lr = 0.1, cases[1].c.momentum = 0.9, cases[1].c.dampening = 0.1;
    cases[1].c.weight_decay = 0.01;
    cases[2] = (opt_case){"SGD(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.02)", sgd,
                          {0.14441742084345696, 0.048616019595401641, 1.1377174937362469,
                           -0.036569793756900844}};
    cases[2].c.lr = 0.05, cases[2].c.momentum = 0.8, cases[2].c.nesterov = true;
    cases[2].c.weight_decay = 0.02;
    cases[3] = (opt_case){"Adam(lr=0.1)", adam,
                          {0.019381499347134207, -0.7550617295090386, 1.5021190045482795,
                           -0.052519480232317284}};
    cases[3].c.lr = 0.1;
    cases[4] = (opt_case){"Adam(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)", adam,
                          {0.2551878744457578, -1.0018803253008319, 1.7509450090512124,
                           -0.067992262542810877}};
    cases[4].c.lr = 0.05, cases[4].c.beta1 = 0.8, cases[4].c.beta2 = 0.99;
    cases[4].c.eps = 1e-6, cases[4].c.weight_decay = 0.1;
    cases[5] = (opt_case){"AdamW(lr=0.1, weight_decay=0.05)", adamw,
                          {0.012654486384101868, -0.72950108421058668, 1.4578337106815511,
                           -0.051216762102079927}};
    cases[5].c.lr = 0.1, cases[5].c.weight_decay = 0.05;
    for (int i = 0; i < 6; i++) {
        run_case(&cases[i], false);
        run_case(&cases[i], true);
    }
}

/* A store of f32 and f64 parameters, big and small, one frozen in the middle: `steps`
 * Adam steps from fixed gradients. The update splits the store's elements over the
 * threads, so 1 and 2 threads must give the same bits; with zero_grad one step gives the
 * same parameters, the trainable gradients end at 0 and the frozen one keeps its own. */
static void mixed_store_run(int threads, bool fused, int steps, double *out, int64_t n_out)
{
    static const int64_t sizes[5] = {70001, 33, 40000, 17, 90000};
    static const lg_dtype dts[5] = {LG_F32, LG_F32, LG_F32, LG_F64, LG_F64};
    assert_int_equal(lg_set_num_threads(threads), LG_OK);
    lg_params *p = lg_params_new();
    lg_rng r;
    lg_rng_init(&r, 5);
    for (int i = 0; i < 5; i++) {
        char name[8] = {'p', (char)('0' + i), 0};
        lg_tensor *t = lg_params_add(p, name, dts[i], 1, &sizes[i]);
        assert_non_null(t);
        for (int64_t j = 0; j < sizes[i]; j++) {
            double v = lg_rng_uniform(&r) - 0.5, gv = lg_rng_uniform(&r) - 0.5;
            if (dts[i] == LG_F32) {
                ((float *)lg_tensor_data(t))[j] = (float)v;
                ((float *)lg_tensor_data(lg_tensor_grad(t)))[j] = (float)gv;
            } else {
                ((double *)lg_tensor_data(t))[j] = v;
                ((double *)lg_tensor_data(lg_tensor_grad(t)))[j] = gv;
            }
        }
    }
    assert_int_equal(lg_params_freeze(p, "p1", true, NULL), LG_OK);
    lg_optim_config c = lg_optim_defaults(LG_OPTIM_ADAM);
    c.zero_grad = fused;
    lg_optim *o = lg_optim_new(p, &c);
    assert_non_null(o);
    for (int s = 0; s < steps; s++)
        assert_int_equal(lg_optim_step(o), LG_OK);
    int64_t at = 0;
    for (int i = 0; i < 5; i++) {
        const lg_tensor *t = lg_params_at(p, i), *g = lg_tensor_grad(t);
        for (int64_t j = 0; j < sizes[i] && at + 2 <= n_out; j++) {
            out[at++] = lg_tensor_item(t, j);
            out[at++] = lg_tensor_item(g, j);
        }
    }
    assert_int_equal(at, n_out);
    lg_optim_free(o);
    lg_params_free(p);
    lg_set_num_threads(2);
}

static void test_optimizer_splits_the_store_over_threads_bit_exactly(void **state)
{
    (void)state;
    const int64_t n = 2 * (70001 + 33 + 40000 + 17 + 90000);
    double *one = malloc(sizeof *one * (size_t)n), *two = malloc(sizeof *two * (size_t)n);
    double *fused = malloc(sizeof *fused * (size_t)n);
    assert_true(one && two && fused);
    mixed_store_run(1, false, 3, one, n);
    mixed_store_run(2, false, 3, two, n);
    assert_memory_equal(one, two, sizeof *one * (size_t)n);
    mixed_store_run(2, false, 1, one, n);
    mixed_store_run(2, true, 1, fused, n);
    int64_t frozen_lo = 2 * 70001, frozen_hi = 2 * (70001 + 33);
    for (int64_t i = 0; i < n; i += 2) {
        assert_true(fused[i] == one[i]);                /* the same update */
        bool frozen = i >= frozen_lo && i < frozen_hi;
        assert_true(fused[i + 1] == (frozen ? one[i + 1] : 0.0));
    }
    assert_true(one[frozen_lo + 1] != 0.0); /* the frozen gradient was not zero to begin with */
    free(one);
    free(two);
    free(fused);
}

static void test_optimizer_skips_frozen_and_refuses_grown_store(void **state)
{
    (void)state;
    int64_t s[1] = {2};
    lg_params *p = lg_params_new();
    lg_tensor *w = lg_params_add(p, "w", LG_F32, 1, s), *f = lg_params_add(p, "f", LG_F32, 1, s);
    lg_tensor_fill(lg_tensor_grad(w), 1.0);
    lg_tensor_fill(lg_tensor_grad(f), 1.0);
    lg_params_freeze(p, "f", true, NULL);
    lg_optim_config c = lg_optim_defaults(LG_OPTIM_SGD);
    c.lr = 0.5;
    lg_optim *o = lg_optim_new(p, &c);
    assert_int_equal(lg_optim_step(o), LG_OK);
    tu_assert_near(lg_tensor_item(w, 0), -0.5, 0);
    tu_assert_near(lg_tensor_item(f, 0), 0.0, 0); /* frozen: untouched */
    assert_int_equal(lg_optim_set_lr(o, 0.25), LG_OK);
    tu_assert_near(lg_optim_lr(o), 0.25, 0);
    assert_int_equal(lg_optim_set_lr(o, -1), LG_ERR_ARG);
    assert_non_null(lg_params_add(p, "late", LG_F32, 1, s));
    assert_int_equal(lg_optim_step(o), LG_ERR_STATE);
    assert_non_null(strstr(lg_last_errmsg(), "grew"));
    lg_optim_free(o);
    lg_params_free(p);
}

static void test_optimizer_rejects_bad_config(void **state)
{
    (void)state;
    lg_params *p = lg_params_new();
    lg_optim_config c = lg_optim_defaults(LG_OPTIM_SGD);
    c.nesterov = true; /* without momentum */
    assert_null(lg_optim_new(p, &c));
    assert_non_null(strstr(lg_last_errmsg(), "nesterov"));
    c = lg_optim_defaults(LG_OPTIM_ADAM);
    c.beta2 = 1.0;
    assert_null(lg_optim_new(p, &c));
    assert_non_null(strstr(lg_last_errmsg(), "beta2"));
    c.beta2 = 0.999;
    c.lr = -1;
    assert_null(lg_optim_new(p, &c));
    assert_null(lg_optim_new(NULL, &c));
    assert_null(lg_optim_new(p, NULL));
    assert_int_equal(lg_optim_step(NULL), LG_ERR_ARG);
    lg_optim_free(NULL);
    lg_params_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_add_get_iterate_and_count),
        cmocka_unit_test(test_params_survive_block_growth),
        cmocka_unit_test(test_params_reject_bad_names_and_shapes),
        cmocka_unit_test(test_params_freeze_by_name_and_prefix),
        cmocka_unit_test(test_params_collect_backward_and_zero_grad),
        cmocka_unit_test(test_optimizers_match_torch_optim_in_f64),
        cmocka_unit_test(test_optimizer_skips_frozen_and_refuses_grown_store),
        cmocka_unit_test(test_optimizer_splits_the_store_over_threads_bit_exactly),
        cmocka_unit_test(test_optimizer_rejects_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
