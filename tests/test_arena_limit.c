/* The graph arena's limit (lg_graph_set_arena_limit): a loop that forgets lg_graph_reset
 * stops with a message naming the limit, the bytes and the ops; a loop that resets never
 * reaches it; chunks shrink to fit under the limit; 0 removes it. */
#include <stdlib.h>
#include <string.h>
#include "test_util.h"

#define MIB ((size_t)1 << 20)

/* One step of a small model: 64x64 f32 matmul, relu, sum, backward. W requires grad. */
static lg_tensor *step(lg_graph *g, lg_tensor *w, lg_tensor *x)
{
    lg_tensor *loss = lg_sum(g, lg_relu(g, lg_matmul(g, x, w)));
    if (loss && lg_backward(g, loss) != LG_OK)
        return NULL;
    return loss;
}

static void make_model(lg_tensor **w, lg_tensor **x)
{
    lg_rng r;
    lg_rng_init(&r, 3);
    *w = lg_tensor_normal(LG_F32, 2, (int64_t[]){64, 64}, 0, 1, &r);
    *x = lg_tensor_normal(LG_F32, 2, (int64_t[]){64, 64}, 0, 1, &r);
    assert_non_null(*w);
    assert_non_null(*x);
    assert_int_equal(lg_tensor_set_requires_grad(*w, true), LG_OK);
}

static void test_arena_limit_default_is_one_gib_and_settable(void **state)
{
    (void)state;
    lg_graph *g = lg_graph_new();
    assert_int_equal(lg_graph_arena_limit(g), (size_t)1 << 30);
    assert_int_equal(LG_GRAPH_ARENA_LIMIT_DEFAULT, (size_t)1 << 30);
    assert_int_equal(lg_graph_set_arena_limit(g, 8 * MIB), (size_t)1 << 30);
    assert_int_equal(lg_graph_arena_limit(g), 8 * MIB);
    lg_graph_reset(g); /* the limit survives a reset */
    assert_int_equal(lg_graph_arena_limit(g), 8 * MIB);
    assert_int_equal(lg_graph_set_arena_limit(g, 0), 8 * MIB);
    assert_int_equal(lg_graph_arena_limit(g), 0);
    /* NULL does nothing and reads 0. */
    assert_int_equal(lg_graph_set_arena_limit(NULL, 5), 0);
    assert_int_equal(lg_graph_arena_limit(NULL), 0);
    lg_graph_free(g);
}

static void test_arena_limit_stops_a_loop_that_forgets_reset(void **state)
{
    (void)state;
    lg_tensor *w, *x;
    make_model(&w, &x);
    lg_graph *g = lg_graph_new();
    lg_graph_set_arena_limit(g, 4 * MIB);
    int steps = 0;
    int64_t ops_before = 0;
    for (; steps < 100000; steps++) {
        ops_before = lg_graph_num_ops(g);
        if (!step(g, w, x))
            break; /* the forgotten lg_graph_reset(g) */
    }
    /* Each step records 3 ops and keeps at least a 64x64 f32 output (16 KiB) and its
     * relu, so 4 MiB cannot hold 150 steps; but it holds several. */
    assert_true(steps > 3);
    assert_true(steps < 150);
    assert_int_equal(lg_graph_status(g), LG_ERR_OOM);
    assert_true(lg_graph_arena_bytes(g) <= 4 * MIB);
    char want[160];
    snprintf(want, sizeof want, "graph arena limit of %zu bytes reached: ", 4 * MIB);
    const char *msg = lg_graph_errmsg(g);
    print_message("%s\n", msg);
    assert_non_null(strstr(msg, want));
    assert_non_null(strstr(msg, "since the last lg_graph_reset"));
    assert_true(strncmp(msg, "lg_", 3) == 0); /* names the op that hit it */
    /* The op count in the message is the tape's length at the failure. */
    char ops[64];
    snprintf(ops, sizeof ops, " %lld ops recorded", (long long)lg_graph_num_ops(g));
    assert_non_null(strstr(msg, ops));
    assert_true(lg_graph_num_ops(g) >= ops_before);
    assert_true(ops_before >= 3 * (int64_t)(steps - 1));

    /* After the reset the same graph trains on. */
    lg_graph_reset(g);
    assert_non_null(step(g, w, x));
    assert_int_equal(lg_graph_status(g), LG_OK);
    lg_graph_free(g);
    lg_tensor_free(w);
    lg_tensor_free(x);
}

static void test_arena_limit_never_reached_by_a_loop_that_resets(void **state)
{
    (void)state;
    lg_tensor *w, *x;
    make_model(&w, &x);
    lg_graph *g = lg_graph_new();
    lg_graph_set_arena_limit(g, 4 * MIB);
    size_t bytes_after_first = 0;
    for (int s = 0; s < 1000; s++) {
        lg_graph_reset(g);
        assert_non_null(step(g, w, x));
        assert_int_equal(lg_graph_num_ops(g), 3); /* the statistic stays flat */
        if (s == 0)
            bytes_after_first = lg_graph_arena_bytes(g);
        assert_int_equal(lg_graph_arena_bytes(g), bytes_after_first);
    }
    lg_graph_free(g);
    lg_tensor_free(w);
    lg_tensor_free(x);
}

static void test_arena_limit_shrinks_the_last_chunk_to_fit(void **state)
{
    (void)state;
    lg_graph *g = lg_graph_new();
    /* Limit 2.5 MiB. The first chunk (1 MiB) takes the tensor header; its 1 MiB of data
     * needs a second chunk, which would double to 2 MiB (3 MiB in all) but shrinks to the
     * 1.5 MiB left, so the arena ends exactly at the limit; the second tensor (256 KiB)
     * fits in what is left of it. */
    lg_graph_set_arena_limit(g, 5 * MIB / 2);
    assert_non_null(lg_graph_full(g, LG_F32, 1, (int64_t[]){(int64_t)(MIB / 4)}, 1.0));
    assert_non_null(lg_graph_full(g, LG_F32, 1, (int64_t[]){(int64_t)(MIB / 16)}, 1.0));
    assert_int_equal(lg_graph_status(g), LG_OK);
    assert_int_equal(lg_graph_arena_bytes(g), 5 * MIB / 2);
    /* A tensor larger than the limit fails at once. */
    assert_null(lg_graph_full(g, LG_F32, 1, (int64_t[]){(int64_t)MIB}, 1.0));
    assert_int_equal(lg_graph_status(g), LG_ERR_OOM);
    assert_non_null(strstr(lg_graph_errmsg(g), "graph arena limit"));
    /* Without a limit the same tensor is fine. */
    lg_graph_reset(g);
    lg_graph_set_arena_limit(g, 0);
    assert_non_null(lg_graph_full(g, LG_F32, 1, (int64_t[]){(int64_t)MIB}, 1.0));
    assert_int_equal(lg_graph_status(g), LG_OK);
    lg_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena_limit_default_is_one_gib_and_settable),
        cmocka_unit_test(test_arena_limit_stops_a_loop_that_forgets_reset),
        cmocka_unit_test(test_arena_limit_never_reached_by_a_loop_that_resets),
        cmocka_unit_test(test_arena_limit_shrinks_the_last_chunk_to_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
