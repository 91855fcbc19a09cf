/* The adaptive default thread count (core.h, tensor/threads_auto.c): the policy on a
 * scripted sequence of measurements, each expected count derived by hand from the rule in
 * core.h, and the switch that turns it off. */
#include <stdlib.h>
#include "test_util.h"
#include "../tensor/tensor_impl.h"

static void test_threads_default_policy_follows_the_documented_rule(void **state)
{
    (void)state;
    lg_threads_auto_state s = lg_threads_auto_start(2);
    assert_int_equal(s.now, 2);
    /* Free cores: 2% waiting keeps every core. */
    assert_int_equal(lg_threads_auto_next(&s, 0.25, 0.02), 2);
    assert_int_equal(lg_threads_auto_next(&s, 0.50, 0.10), 2); /* 10% is not over 10% */
    /* A busy neighbour: 30% waiting drops to 1 thread; the first probe comes 2 s later. */
    assert_int_equal(lg_threads_auto_next(&s, 0.75, 0.30), 1);
    assert_int_equal(lg_threads_auto_next(&s, 1.00, 0.00), 1); /* 1 thread waits little */
    assert_int_equal(lg_threads_auto_next(&s, 2.74, 0.00), 1);
    assert_int_equal(lg_threads_auto_next(&s, 2.75, 0.00), 2); /* the probe */
    /* The probe fails: back to 1, and the next probe waits 4 s. */
    assert_int_equal(lg_threads_auto_next(&s, 3.00, 0.40), 1);
    assert_int_equal(lg_threads_auto_next(&s, 6.99, 0.00), 1);
    assert_int_equal(lg_threads_auto_next(&s, 7.00, 0.00), 2);
    assert_int_equal(lg_threads_auto_next(&s, 7.25, 0.40), 1); /* waits 8 s */
    assert_int_equal(lg_threads_auto_next(&s, 15.24, 0.00), 1);
    assert_int_equal(lg_threads_auto_next(&s, 15.25, 0.00), 2);
    assert_int_equal(lg_threads_auto_next(&s, 15.50, 0.40), 1); /* waits 16 s, the most */
    assert_int_equal(lg_threads_auto_next(&s, 31.50, 0.00), 2);
    assert_int_equal(lg_threads_auto_next(&s, 31.75, 0.40), 1); /* still 16 s */
    assert_int_equal(lg_threads_auto_next(&s, 47.74, 0.00), 1);
    assert_int_equal(lg_threads_auto_next(&s, 47.75, 0.00), 2);
    /* The neighbour left: the probe keeps every core, and the wait starts again at 2 s. */
    assert_int_equal(lg_threads_auto_next(&s, 48.00, 0.01), 2);
    assert_int_equal(lg_threads_auto_next(&s, 60.00, 0.01), 2);
    assert_int_equal(lg_threads_auto_next(&s, 60.25, 0.50), 1);
    assert_int_equal(lg_threads_auto_next(&s, 62.24, 0.00), 1);
    assert_int_equal(lg_threads_auto_next(&s, 62.25, 0.00), 2);
}

static void test_threads_default_policy_on_one_core_stays_at_one(void **state)
{
    (void)state;
    lg_threads_auto_state s = lg_threads_auto_start(1);
    assert_int_equal(lg_threads_auto_next(&s, 0.25, 0.90), 1);
    assert_int_equal(lg_threads_auto_next(&s, 100.0, 0.00), 1);
}

static void test_threads_default_is_off_once_a_count_is_chosen(void **state)
{
    (void)state;
    /* CTest runs every test with OMP_NUM_THREADS set: that is a chosen count. */
    if (getenv("OMP_NUM_THREADS"))
        assert_int_equal(lg_threads_adaptive(), 0);
    assert_int_equal(lg_set_num_threads(1), LG_OK);
    assert_int_equal(lg_threads_adaptive(), 0);
    lg_graph *g = lg_graph_new();
    for (int i = 0; i < 100; i++)
        lg_graph_reset(g); /* ticks change nothing now */
    assert_int_equal(lg_get_num_threads(), 1);
    lg_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_default_policy_follows_the_documented_rule),
        cmocka_unit_test(test_threads_default_policy_on_one_core_stays_at_one),
        cmocka_unit_test(test_threads_default_is_off_once_a_count_is_chosen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
