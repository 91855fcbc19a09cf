/* Issue 14, item 7: a tensor from before lg_graph_reset is stale, and lg_backward on it is
 * LG_ERR_STATE even when the next step recorded the same ops again (the arena reuses its
 * memory, and the old loss pointer was the new loss: backward returned OK). Each epoch
 * lays its tensors out LG_ALIGN bytes from where the last one did (autograd/arena.c), so
 * no handle of the previous step equals a live tensor; and a training loop still allocates
 * nothing after its first step. */
#define _POSIX_C_SOURCE 200809L
#include <string.h>
#include "test_util.h"
#include "test_alloc.h"

/* loss = sum(relu(x w) * 2): the same ops every step. */
static lg_tensor *step(lg_graph *g, lg_tensor *x, lg_tensor *w)
{
    return lg_sum(g, lg_scale(g, lg_relu(g, lg_matmul(g, x, w)), 2.0));
}

static void test_backward_on_previous_steps_loss_is_state_error(void **state)
{
    (void)state;
    lg_tensor *x = tu_rand(2, (int64_t[]){4, 3}, 1, -1, 1);
    lg_tensor *w = tu_rand(2, (int64_t[]){3, 2}, 2, -1, 1);
    assert_int_equal(lg_tensor_set_requires_grad(w, true), LG_OK);
    lg_graph *g = lg_graph_new();
    lg_tensor *old = step(g, x, w);
    assert_non_null(old);
    assert_int_equal(lg_backward(g, old), LG_OK);
    for (int i = 0; i < 200; i++) { /* many resets: the shift pattern wraps around */
        lg_graph_reset(g);
        lg_tensor *loss = step(g, x, w);
        assert_non_null(loss);
        assert_true(loss != old);
        assert_int_equal(lg_backward(g, old), LG_ERR_STATE);
        assert_non_null(strstr(lg_graph_errmsg(g), "lg_graph_reset"));
        lg_graph_clear_error(g);
        assert_int_equal(lg_backward(g, loss), LG_OK);
        old = loss;
    }
    lg_graph_free(g);
    lg_tensor_free(x);
    lg_tensor_free(w);
}

/* The shift costs no allocation: after the first step, steps call the allocator no more. */
static void test_steady_training_loop_allocates_nothing_after_first_step(void **state)
{
    (void)state;
    lg_tensor *x = tu_rand(2, (int64_t[]){64, 300}, 3, -1, 1);
    lg_tensor *w = tu_rand(2, (int64_t[]){300, 200}, 4, -1, 1);
    assert_int_equal(lg_tensor_set_requires_grad(w, true), LG_OK);
    counter c = {0};
    lg_allocator al = counter_allocator(&c);
    lg_set_allocator(&al);
    lg_graph *g = lg_graph_new();
    long after_first = 0;
    for (int i = 0; i < 150; i++) {
        lg_graph_reset(g);
        assert_int_equal(lg_backward(g, step(g, x, w)), LG_OK);
        if (i == 0)
            after_first = c.calls;
    }
    assert_int_equal(c.calls, after_first);
    lg_graph_free(g);
    lg_set_allocator(NULL);
    lg_tensor_free(x);
    lg_tensor_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backward_on_previous_steps_loss_is_state_error),
        cmocka_unit_test(test_steady_training_loop_allocates_nothing_after_first_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
