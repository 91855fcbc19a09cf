/* Optimizer state save/load: a run that stops, saves, reloads into fresh objects and goes
 * on ends bit-identical to an uninterrupted run; bad files are rejected with nothing
 * changed. */
#define _POSIX_C_SOURCE 200809L
#include "test_util.h"
#include "test_tmp.h"

/* A store with an f64 vector and an f32 matrix: both dtype blocks take part. */
static lg_params *make_store(void)
{
    lg_params *p = lg_params_new();
    assert_non_null(p);
    int64_t sv[1] = {3}, sm[2] = {2, 2};
    lg_tensor *v = lg_params_add(p, "layer.v", LG_F64, 1, sv);
    lg_tensor *m = lg_params_add(p, "layer.m", LG_F32, 2, sm);
    assert_non_null(v);
    assert_non_null(m);
    double *dv = lg_tensor_data(v);
    float *dm = lg_tensor_data(m);
    for (int i = 0; i < 3; i++)
        dv[i] = 0.5 * i - 1;
    for (int i = 0; i < 4; i++)
        dm[i] = 0.25f * (float)i + 0.5f;
    return p;
}

/* Gradient of sum((x - target)^2 * (1 + k)) at step k: it changes over steps, so the
 * moments matter. Written straight into the store's gradients. */
static void set_grads(lg_params *p, int k)
{
    for (int i = 0; i < lg_params_count(p); i++) {
        lg_tensor *t = lg_params_at(p, i), *g = lg_tensor_grad(t);
        assert_non_null(g);
        for (int64_t j = 0; j < lg_tensor_numel(t); j++) {
            double x = lg_tensor_item(t, j), target = 0.1 * (double)j - 0.3;
            double d = 2 * (x - target) * (1 + k);
            if (lg_tensor_dtype(t) == LG_F64)
                ((double *)lg_tensor_data(g))[j] = d;
            else
                ((float *)lg_tensor_data(g))[j] = (float)d;
        }
    }
}

static void run_steps(lg_params *p, lg_optim *o, int from, int to)
{
    for (int k = from; k < to; k++) {
        set_grads(p, k);
        assert_int_equal(lg_optim_step(o), LG_OK);
    }
}

static void values(const lg_params *p, double out[7])
{
    int n = 0;
    for (int i = 0; i < lg_params_count(p); i++)
        for (int64_t j = 0; j < lg_tensor_numel(lg_params_at(p, i)); j++)
            out[n++] = lg_tensor_item(lg_params_at(p, i), j);
}

/* Runs 10 steps straight, and 4 steps + save + load into new objects + 6 steps (or, with
 * load false, + 6 steps from a fresh optimizer): returns whether the two ends agree bit
 * for bit. */
static bool resume_matches(lg_optim_config c, bool load)
{
    lg_params *ref = make_store();
    lg_optim *oref = lg_optim_new(ref, &c);
    run_steps(ref, oref, 0, 10);

    lg_params *a = make_store();
    lg_optim *oa = lg_optim_new(a, &c);
    run_steps(a, oa, 0, 4);
    const char *meta[2] = {"epoch", "4"};
    assert_int_equal(lg_checkpoint_save(a, tpath("params.st"), NULL, NULL, 0), LG_OK);
    assert_int_equal(lg_optim_save(oa, tpath("optim.st"), meta, 1), LG_OK);

    lg_params *b = make_store();
    lg_optim *ob = lg_optim_new(b, &c);
    assert_int_equal(lg_checkpoint_load(b, tpath("params.st"), NULL, true), LG_OK);
    if (load) {
        assert_int_equal(lg_optim_load(ob, tpath("optim.st")), LG_OK);
        assert_int_equal(lg_optim_steps(ob), 4);
    }
    run_steps(b, ob, 4, 10);
    double want[7], got[7];
    values(ref, want);
    values(b, got);
    bool same = memcmp(want, got, sizeof want) == 0;
    lg_optim_free(oref);
    lg_optim_free(oa);
    lg_optim_free(ob);
    lg_params_free(ref);
    lg_params_free(a);
    lg_params_free(b);
    return same;
}

static void test_adam_resume_is_bit_identical_and_needs_the_state(void **state)
{
    (void)state;
    lg_optim_config c = lg_optim_defaults(LG_OPTIM_ADAM);
    c.lr = 0.05;
    assert_true(resume_matches(c, true));
    assert_false(resume_matches(c, false)); /* restarting the moments changes the run */
}

static void test_adamw_and_sgd_momentum_resume_is_bit_identical(void **state)
{
    (void)state;
    lg_optim_config w = lg_optim_defaults(LG_OPTIM_ADAMW);
    w.lr = 0.05;
    assert_true(resume_matches(w, true));
    lg_optim_config s = lg_optim_defaults(LG_OPTIM_SGD);
    s.lr = 0.01;
    s.momentum = 0.9;
    s.nesterov = true;
    assert_true(resume_matches(s, true));
    assert_false(resume_matches(s, false));
}

static void test_optim_state_file_names_the_moments_and_the_step(void **state)
{
    (void)state;
    lg_params *p = make_store();
    lg_optim_config c = lg_optim_defaults(LG_OPTIM_ADAM);
    lg_optim *o = lg_optim_new(p, &c);
    run_steps(p, o, 0, 3);
    assert_int_equal(lg_optim_save(o, tpath("named.st"), NULL, 0), LG_OK);
    lg_checkpoint *ck;
    assert_int_equal(lg_checkpoint_open(tpath("named.st"), &ck), LG_OK);
    assert_string_equal(lg_checkpoint_metadata_get(ck, "lagrad.optimizer"), "adam");
    assert_string_equal(lg_checkpoint_metadata_get(ck, "step"), "3");
    assert_int_equal(lg_checkpoint_count(ck), 4);
    const char *names[4] = {"layer.v.exp_avg", "layer.m.exp_avg", "layer.v.exp_avg_sq",
                            "layer.m.exp_avg_sq"};
    for (int i = 0; i < 4; i++) {
        lg_checkpoint_tensor t;
        assert_int_equal(lg_checkpoint_info(ck, i, &t), LG_OK);
        assert_string_equal(t.name, names[i]);
    }
    lg_checkpoint_close(ck);
    lg_optim_free(o);
    lg_params_free(p);
}

static void test_optim_load_rejects_other_kind_shape_and_plain_checkpoints(void **state)
{
    (void)state;
    lg_params *p = make_store();
    lg_optim_config ca = lg_optim_defaults(LG_OPTIM_ADAM);
    lg_optim *adam = lg_optim_new(p, &ca);
    run_steps(p, adam, 0, 2);
    assert_int_equal(lg_optim_save(adam, tpath("adam.st"), NULL, 0), LG_OK);

    lg_optim_config cs = lg_optim_defaults(LG_OPTIM_SGD);
    cs.momentum = 0.5;
    lg_optim *sgd = lg_optim_new(p, &cs);
    assert_int_equal(lg_optim_load(sgd, tpath("adam.st")), LG_ERR_FORMAT);
    assert_non_null(strstr(lg_last_errmsg(), "\"adam\""));
    assert_int_equal(lg_optim_steps(sgd), 0);

    /* a parameter checkpoint is not optimizer state */
    assert_int_equal(lg_checkpoint_save(p, tpath("plain.st"), NULL, NULL, 0), LG_OK);
    assert_int_equal(lg_optim_load(adam, tpath("plain.st")), LG_ERR_FORMAT);
    assert_int_equal(lg_optim_steps(adam), 2);

    /* same names, other shape: nothing changes */
    lg_params *q = lg_params_new();
    int64_t s4[1] = {4}, sm[2] = {2, 2};
    assert_non_null(lg_params_add(q, "layer.v", LG_F64, 1, s4));
    assert_non_null(lg_params_add(q, "layer.m", LG_F32, 2, sm));
    lg_optim *oq = lg_optim_new(q, &ca);
    assert_int_equal(lg_optim_load(oq, tpath("adam.st")), LG_ERR_SHAPE);
    assert_non_null(strstr(lg_last_errmsg(), "layer.v.exp_avg"));
    assert_int_equal(lg_optim_steps(oq), 0);

    assert_int_equal(lg_optim_load(adam, tpath("missing.st")), LG_ERR_IO);
    assert_int_equal(lg_optim_load(NULL, tpath("adam.st")), LG_ERR_ARG);
    assert_int_equal(lg_optim_load(adam, NULL), LG_ERR_ARG);
    assert_int_equal(lg_optim_save(NULL, tpath("x.st"), NULL, 0), LG_ERR_ARG);
    assert_int_equal(lg_optim_save(adam, tpath("x.st"), NULL, 1), LG_ERR_ARG);
    const char *reserved[2] = {"step", "7"};
    assert_int_equal(lg_optim_save(adam, tpath("x.st"), reserved, 1), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "'step' is reserved"));

    /* a store that grew after the optimizer was made */
    assert_non_null(lg_params_add(p, "late", LG_F64, 1, s4));
    assert_int_equal(lg_optim_save(adam, tpath("x.st"), NULL, 0), LG_ERR_STATE);
    assert_int_equal(lg_optim_load(adam, tpath("adam.st")), LG_ERR_STATE);

    lg_optim_free(adam);
    lg_optim_free(sgd);
    lg_optim_free(oq);
    lg_params_free(p);
    lg_params_free(q);
}

static int setup(void **state)
{
    (void)state;
    return tmp_dir_make("optim");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adam_resume_is_bit_identical_and_needs_the_state),
        cmocka_unit_test(test_adamw_and_sgd_momentum_resume_is_bit_identical),
        cmocka_unit_test(test_optim_state_file_names_the_moments_and_the_step),
        cmocka_unit_test(test_optim_load_rejects_other_kind_shape_and_plain_checkpoints),
    };
    return cmocka_run_group_tests(tests, setup, tmp_teardown);
}
