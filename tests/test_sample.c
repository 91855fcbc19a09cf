/* Sampling (sample.h): the empirical frequencies of lg_sample_logits against
 * softmax(logits / temperature) worked out by hand, top-k, greedy, seeding, generation from
 * a small GPT checked against step-by-step greedy forwards, and the error paths. */
#include "test_util.h"
#include <string.h>

static lg_tensor *row(const double *v, int64_t n)
{
    int64_t shape[2] = {1, n};
    lg_tensor *t = lg_tensor_from_data(LG_F64, 2, shape, v);
    assert_non_null(t);
    return t;
}

static void freqs(const lg_tensor *t, double temp, int64_t k, int draws, double *f, int n)
{
    lg_rng r;
    lg_rng_init(&r, 123);
    memset(f, 0, sizeof(double) * (size_t)n);
    for (int i = 0; i < draws; i++) {
        int64_t id = -1;
        assert_int_equal(lg_sample_logits(t, temp, k, &r, &id), LG_OK);
        assert_true(id >= 0 && id < n);
        f[id] += 1.0 / draws;
    }
}

static void test_sample_frequencies_follow_tempered_softmax(void **state)
{
    (void)state;
    double v[3] = {log(0.1), log(0.2), log(0.7)};
    lg_tensor *t = row(v, 3);
    double f[3];
    freqs(t, 1.0, 0, 40000, f, 3);
    double want1[3] = {0.1, 0.2, 0.7};
    tu_assert_close_arr(f, want1, 3, 0.01, 0, "temperature 1");
    freqs(t, 0.5, 0, 40000, f, 3); /* p² normalised: 1, 4, 49 over 54 */
    double want2[3] = {1.0 / 54, 4.0 / 54, 49.0 / 54};
    tu_assert_close_arr(f, want2, 3, 0.01, 0, "temperature 0.5");
    freqs(t, 1.0, 2, 40000, f, 3); /* top 2: 0.2, 0.7 over 0.9 */
    double want3[3] = {0, 0.2 / 0.9, 0.7 / 0.9};
    tu_assert_close_arr(f, want3, 3, 0.01, 0, "top-2");
    assert_true(f[0] == 0);
    lg_tensor_free(t);
}

static void test_sample_greedy_top1_nan_and_seeding(void **state)
{
    (void)state;
    double v[5] = {0.5, 2.0, NAN, 2.0, -1};
    lg_tensor *t = row(v, 5);
    lg_rng r;
    lg_rng_init(&r, 1);
    uint64_t before = r.counter;
    int64_t id;
    assert_int_equal(lg_sample_logits(t, 0, 0, &r, &id), LG_OK);
    assert_int_equal(id, 1); /* the first maximum */
    assert_int_equal(r.counter, before); /* greedy draws nothing */
    double f[5];
    freqs(t, 1.0, 1, 2000, f, 5); /* top-1 keeps the tie: 1 and 3, never NaN */
    assert_true(f[2] == 0 && f[0] == 0 && f[4] == 0);
    assert_true(fabs(f[1] - 0.5) < 0.05 && fabs(f[3] - 0.5) < 0.05);
    /* the same seed gives the same draws; the last row of a 3-D tensor is used */
    int64_t s3[3] = {2, 2, 3};
    double big[12] = {9, 9, 9, 9, 9, 9, 9, 9, 9, 0, 0, 0};
    lg_tensor *t3 = lg_tensor_from_data(LG_F64, 3, s3, big);
    int64_t a[50], b[50];
    lg_rng_init(&r, 77);
    for (int i = 0; i < 50; i++)
        assert_int_equal(lg_sample_logits(t3, 1.0, 0, &r, &a[i]), LG_OK);
    lg_rng_init(&r, 77);
    for (int i = 0; i < 50; i++)
        assert_int_equal(lg_sample_logits(t3, 1.0, 0, &r, &b[i]), LG_OK);
    assert_memory_equal(a, b, sizeof a);
    double nan3[3] = {NAN, NAN, NAN};
    lg_tensor *tn = row(nan3, 3);
    assert_int_equal(lg_sample_logits(tn, 1.0, 0, &r, &id), LG_ERR_NUMERIC);
    lg_tensor_free(tn);
    lg_tensor_free(t3);
    lg_tensor_free(t);
}

static void test_sample_errors(void **state)
{
    (void)state;
    double v[2] = {0, 1};
    lg_tensor *t = row(v, 2);
    int64_t s2[1] = {2}, s0[1] = {0};
    lg_tensor *ti = lg_tensor_new(LG_I32, 1, s2), *te = lg_tensor_new(LG_F32, 1, s0);
    lg_rng r;
    lg_rng_init(&r, 1);
    int64_t id;
    assert_int_equal(lg_sample_logits(NULL, 1, 0, &r, &id), LG_ERR_ARG);
    assert_int_equal(lg_sample_logits(t, 1, 0, NULL, &id), LG_ERR_ARG);
    assert_int_equal(lg_sample_logits(t, 1, 0, &r, NULL), LG_ERR_ARG);
    assert_int_equal(lg_sample_logits(t, -1, 0, &r, &id), LG_ERR_ARG);
    assert_int_equal(lg_sample_logits(t, NAN, 0, &r, &id), LG_ERR_ARG);
    assert_int_equal(lg_sample_logits(t, INFINITY, 0, &r, &id), LG_ERR_ARG);
    assert_int_equal(lg_sample_logits(t, 1, -2, &r, &id), LG_ERR_ARG);
    assert_int_equal(lg_sample_logits(ti, 1, 0, &r, &id), LG_ERR_DTYPE);
    assert_int_equal(lg_sample_logits(te, 1, 0, &r, &id), LG_ERR_SHAPE);
    assert_non_null(strstr(lg_last_errmsg(), "lg_sample_logits"));
    lg_tensor_free(t);
    lg_tensor_free(ti);
    lg_tensor_free(te);
}

static void test_gpt_generate_greedy_matches_step_by_step_argmax(void **state)
{
    (void)state;
    lg_params *p = lg_params_new();
    lg_rng r;
    lg_rng_init(&r, 8);
    lg_gpt m;
    lg_gpt_config c = {.vocab_size = 7, .block_size = 4, .n_layer = 1, .n_head = 2,
                       .n_embd = 8, .dropout = 0.2};
    assert_int_equal(lg_gpt_init(&m, p, NULL, &c, LG_F32, &r), LG_OK);
    for (int i = 0; i < lg_params_count(p); i++)
        lg_init_uniform(lg_params_at(p, i), -1, 1, &r);
    int32_t prompt[2] = {3, 5}, out[12];
    assert_int_equal(lg_gpt_generate(&m, prompt, 2, 10, 0, 0, &r, out), LG_OK);
    assert_int_equal(out[0], 3);
    assert_int_equal(out[1], 5);
    /* each new id is the argmax of a no-dropout forward on the last <= 4 ids */
    lg_graph *g = lg_graph_new();
    lg_graph_set_training(g, false);
    for (int len = 2; len < 12; len++) {
        int64_t T = len < 4 ? len : 4, shape[2] = {1, T};
        lg_graph_reset(g);
        lg_tensor *lo = lg_gpt_forward(g, &m, lg_graph_input(g, LG_I32, 2, shape,
                                                             out + len - T));
        lg_tensor *am = lg_argmax_axis(g, lo, -1, false);
        assert_int_equal(lg_tensor_item(am, T - 1), out[len]);
    }
    lg_graph_free(g);
    /* seeded sampling repeats; in place works */
    int32_t a[10] = {1}, b[10] = {1};
    lg_rng_init(&r, 5);
    assert_int_equal(lg_gpt_generate(&m, a, 1, 9, 0.8, 3, &r, a), LG_OK);
    lg_rng_init(&r, 5);
    assert_int_equal(lg_gpt_generate(&m, b, 1, 9, 0.8, 3, &r, b), LG_OK);
    assert_memory_equal(a, b, sizeof a);
    /* errors */
    int32_t bad[2] = {1, 7};
    assert_int_equal(lg_gpt_generate(&m, bad, 2, 1, 1, 0, &r, out), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "position 1"));
    assert_int_equal(lg_gpt_generate(&m, prompt, 0, 1, 1, 0, &r, out), LG_ERR_ARG);
    assert_int_equal(lg_gpt_generate(&m, prompt, 2, -1, 1, 0, &r, out), LG_ERR_ARG);
    assert_int_equal(lg_gpt_generate(NULL, prompt, 2, 1, 1, 0, &r, out), LG_ERR_ARG);
    assert_int_equal(lg_gpt_generate(&m, prompt, 2, 1, -1, 0, &r, out), LG_ERR_ARG);
    lg_params_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_frequencies_follow_tempered_softmax),
        cmocka_unit_test(test_sample_greedy_top1_nan_and_seeding),
        cmocka_unit_test(test_sample_errors),
        cmocka_unit_test(test_gpt_generate_greedy_matches_step_by_step_argmax),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
