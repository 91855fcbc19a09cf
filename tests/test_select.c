/* Parameter selectors (nn.h, "Selectors"): the matching rule on a hand-made table, and the
 * one rule in lg_params_freeze and in checkpoint save and load, where "*.lora_*" saves
 * every LoRA adapter of a model into one file and loads it back. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include "test_util.h"
#include "test_tmp.h"
#include "lagrad/checkpoint.h"

static int setup(void **state)
{
    (void)state;
    return tmp_dir_make("select");
}

static int teardown(void **state)
{
    (void)state;
    remove_tree(g_dir);
    return 0;
}

/* Each row decided by hand from the rule: components matched whole, '*' within one
 * component, "**" zero or more components, the selector matching leading components. */
static void test_select_matches_the_documented_table(void **state)
{
    (void)state;
    static const struct {
        const char *sel, *name;
        bool want;
    } rows[] = {
        {"enc", "enc", true},
        {"enc", "enc.w", true},
        {"enc", "enc.0.q.weight", true},
        {"enc", "encoder.w", false},       /* whole components, not a raw prefix */
        {"enc.", "enc.w", true},           /* one trailing '.' is ignored */
        {"enc.", "encoder.w", false},
        {"enc.w", "enc", false},           /* the selector is longer than the name */
        {"fc.lora_", "fc.lora_A", false},  /* the old raw prefix picks nothing */
        {"fc.lora_*", "fc.lora_A", true},
        {"fc.lora_*", "fc.lora_B", true},
        {"fc.lora_*", "fc.weight", false},
        {"fc.lora_*", "fc2.lora_A", false},
        {"*.lora_*", "fc1.lora_A", true},
        {"*.lora_*", "fc2.lora_B", true},
        {"*.lora_*", "fc1.weight", false},
        {"*.lora_*", "enc.0.lora_A", false}, /* '*' is one component */
        {"**.lora_*", "enc.0.lora_A", true},
        {"**.lora_*", "fc1.lora_B", true},
        {"**.lora_*", "lora_A", true},       /* "**" may match no component */
        {"**.lora_*", "enc.0.weight", false},
        {"**.bias", "a.b.c.bias", true},
        {"**.bias", "a.bias.x", true},       /* leading components: a.bias, then its child */
        {"**.bias", "a.biases", false},
        {"**", "anything.at.all", true},
        {"*", "fc1.weight", true},
        {"f*1", "fc1.weight", true},
        {"f*1", "fc11.weight", true},
        {"f*1", "fc12.weight", false},
        {"*c*", "fc1.weight", true},
        {"a.*.c", "a.b.c", true},
        {"a.*.c", "a.b.d", false},
        {"a.**.c", "a.c", true},
        {"a.**.c", "a.x.y.c", true},
        {"a.**.c", "a.x.y.d", false},
        {"", "whatever", true},              /* the empty selector picks every name */
        {"w", "w", true},
        {"w", "wx", false},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        bool got = lg_params_name_matches(rows[i].sel, rows[i].name);
        if (got != rows[i].want)
            fail_msg("selector '%s' on '%s': got %d, want %d", rows[i].sel, rows[i].name, got,
                     rows[i].want);
    }
    assert_false(lg_params_name_matches(NULL, "a"));
    assert_false(lg_params_name_matches("a", NULL));
}

/* Two linear layers with LoRA adapters: fc1 (3 -> 4), fc2 (4 -> 2), rank 2. */
static lg_params *lora_model(uint64_t seed)
{
    lg_rng r;
    lg_rng_init(&r, seed);
    lg_params *p = lg_params_new();
    lg_linear_layer l1, l2;
    lg_lora a1, a2;
    lg_lora_config c = {.rank = 2, .alpha = 4, .init = LG_LORA_INIT_DEFAULT};
    assert_non_null(p);
    assert_int_equal(lg_linear_layer_init(&l1, p, "fc1", 3, 4, true, LG_F32, &r), LG_OK);
    assert_int_equal(lg_linear_layer_init(&l2, p, "fc2", 4, 2, true, LG_F32, &r), LG_OK);
    assert_int_equal(lg_lora_init(&a1, p, "fc1", &c, &r), LG_OK);
    assert_int_equal(lg_lora_init(&a2, p, "fc2", &c, &r), LG_OK);
    /* B starts at 0: give every adapter distinct values to compare. */
    for (int i = 0; i < lg_params_count(p); i++) {
        lg_tensor *t = lg_params_at(p, i);
        float *v = lg_tensor_data(t);
        for (int64_t k = 0; k < lg_tensor_numel(t); k++)
            v[k] = (float)(seed * 1000 + (uint64_t)i * 100 + (uint64_t)k);
    }
    return p;
}

static bool same_values(const lg_tensor *a, const lg_tensor *b)
{
    return lg_tensor_numel(a) == lg_tensor_numel(b) &&
           memcmp(lg_tensor_cdata(a), lg_tensor_cdata(b),
                  (size_t)lg_tensor_numel(a) * sizeof(float)) == 0;
}

static void test_select_saves_and_loads_every_lora_adapter(void **state)
{
    (void)state;
    lg_params *a = lora_model(1), *b = lora_model(2);
    const char *path = tpath("adapters.safetensors");
    assert_int_equal(lg_checkpoint_save(a, path, "*.lora_*", NULL, 0), LG_OK);
    lg_checkpoint *c;
    assert_int_equal(lg_checkpoint_open(path, &c), LG_OK);
    assert_int_equal(lg_checkpoint_count(c), 4);
    const char *want[4] = {"fc1.lora_A", "fc1.lora_B", "fc2.lora_A", "fc2.lora_B"};
    for (int i = 0; i < 4; i++)
        assert_true(lg_checkpoint_find(c, want[i]) >= 0);
    lg_checkpoint_close(c);

    /* Loading with the same selector changes the four adapters of b and nothing else. */
    assert_int_equal(lg_checkpoint_load(b, path, "**.lora_*", true), LG_OK);
    for (int i = 0; i < lg_params_count(b); i++) {
        const char *name = lg_params_name(b, i);
        bool adapter = strstr(name, ".lora_") != NULL;
        assert_int_equal(same_values(lg_params_at(b, i), lg_params_get(a, name)), adapter);
    }
    /* The old raw prefix picks nothing now, and says so. */
    assert_int_equal(lg_checkpoint_save(a, tpath("none.safetensors"), "fc1.lora_", NULL, 0),
                     LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "lg_checkpoint_save: no parameter matches the "
                                              "selector 'fc1.lora_'"));
    assert_int_equal(lg_checkpoint_load(b, path, "fc1.lora_", true), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "lg_checkpoint_load: no parameter matches"));
    lg_params_free(a);
    lg_params_free(b);
}

static void test_select_freezes_all_but_the_adapters(void **state)
{
    (void)state;
    lg_params *p = lora_model(3);
    int n = -1;
    assert_int_equal(lg_params_freeze(p, "*", true, &n), LG_OK);
    assert_int_equal(n, 8);
    assert_int_equal(lg_params_numel(p, true), 0);
    assert_int_equal(lg_params_freeze(p, "**.lora_*", false, &n), LG_OK);
    assert_int_equal(n, 4);
    /* Trainable: fc1 A (2,3) B (4,2), fc2 A (2,4) B (2,2): 6 + 8 + 8 + 4. */
    assert_int_equal(lg_params_numel(p, true), 26);
    assert_int_equal(lg_params_freeze(p, "*.lora_", true, &n), LG_ERR_ARG);
    assert_int_equal(n, 0);
    assert_non_null(strstr(lg_last_errmsg(), "*.lora_"));
    lg_params_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_select_matches_the_documented_table),
        cmocka_unit_test(test_select_saves_and_loads_every_lora_adapter),
        cmocka_unit_test(test_select_freezes_all_but_the_adapters),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
