/* Thread safety as core.h documents it: separate graphs, stores and optimizers in separate
 * threads train independently and give exactly what one thread gives alone, and the last
 * status and message are per thread. The truth is the same computation run serially. */
#include <pthread.h>
#include <string.h>
#include "test_util.h"

enum { N = 32, IN = 8, HID = 16, OUT = 3, STEPS = 20 };

typedef struct job {
    uint64_t seed;
    float final_loss;
    float w0; /* first weight after training */
    lg_status status;
} job;

/* A small MLP trained with Adam on data drawn from seed: everything it touches is its own. */
static void *train(void *arg)
{
    job *j = arg;
    lg_set_num_threads(1); /* OpenMP's count is per thread (core.h) */
    lg_rng r;
    lg_rng_init(&r, j->seed);
    lg_params *p = lg_params_new();
    lg_linear_layer l1, l2;
    lg_graph *g = lg_graph_new();
    lg_tensor *x = lg_tensor_normal(LG_F32, 2, (int64_t[]){N, IN}, 0, 1, &r);
    lg_tensor *y = lg_tensor_new(LG_I32, 1, (int64_t[]){N});
    j->status = !p || !g || !x || !y ? LG_ERR_OOM : LG_OK;
    if (j->status == LG_OK)
        j->status = lg_linear_layer_init(&l1, p, "fc1", IN, HID, true, LG_F32, &r);
    if (j->status == LG_OK)
        j->status = lg_linear_layer_init(&l2, p, "fc2", HID, OUT, true, LG_F32, &r);
    for (int i = 0; i < N && j->status == LG_OK; i++)
        j->status = lg_tensor_set_i64(y, (int64_t[]){i}, (int64_t)(lg_rng_uniform(&r) * OUT));
    lg_optim_config c = lg_optim_defaults(LG_OPTIM_ADAM);
    c.lr = 0.01;
    c.zero_grad = true;
    lg_optim *o = j->status == LG_OK ? lg_optim_new(p, &c) : NULL;
    for (int s = 0; s < STEPS && o && j->status == LG_OK; s++) {
        lg_graph_reset(g);
        lg_tensor *h = lg_relu(g, lg_linear_layer_forward(g, &l1, x));
        lg_tensor *loss = lg_cross_entropy(g, lg_linear_layer_forward(g, &l2, h), y);
        j->status = loss ? lg_backward(g, loss) : lg_graph_status(g);
        if (j->status == LG_OK)
            j->status = lg_optim_step(o);
        if (j->status == LG_OK)
            j->final_loss = (float)lg_tensor_item(loss, 0);
    }
    if (j->status == LG_OK)
        j->w0 = ((const float *)lg_tensor_cdata(l1.weight))[0];
    lg_optim_free(o);
    lg_tensor_free(x);
    lg_tensor_free(y);
    lg_graph_free(g);
    lg_params_free(p);
    return NULL;
}

static void test_separate_graphs_and_stores_train_in_parallel_threads(void **state)
{
    (void)state;
    /* The same four jobs, first one after another on this thread, then each on its own
     * thread at once; OpenMP inside each op stays on one thread so that sums split alike. */
    lg_set_num_threads(1);
    job serial[4], parallel[4];
    for (int i = 0; i < 4; i++) {
        serial[i] = (job){.seed = 100 + (uint64_t)i};
        parallel[i] = serial[i];
        train(&serial[i]);
        assert_int_equal(serial[i].status, LG_OK);
    }
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, train, &parallel[i]), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(parallel[i].status, LG_OK);
        assert_true(memcmp(&parallel[i].final_loss, &serial[i].final_loss, sizeof(float)) == 0);
        assert_true(memcmp(&parallel[i].w0, &serial[i].w0, sizeof(float)) == 0);
    }
    /* different seeds really trained different models */
    assert_true(serial[0].w0 != serial[1].w0);
}

static void *fail_here(void *arg)
{
    (void)arg;
    lg_tensor_free(NULL);
    assert_null(lg_tensor_new(LG_F32, -1, NULL));
    return NULL;
}

static void test_last_status_is_per_thread(void **state)
{
    (void)state;
    lg_tensor *t = lg_tensor_zeros(LG_F32, 1, (int64_t[]){1});
    assert_true(isnan(lg_tensor_item(t, 5))); /* LG_ERR_ARG on this thread */
    char mine[256];
    snprintf(mine, sizeof mine, "%s", lg_last_errmsg());
    pthread_t other;
    assert_int_equal(pthread_create(&other, NULL, fail_here, NULL), 0);
    assert_int_equal(pthread_join(other, NULL), 0);
    assert_int_equal(lg_last_status(), LG_ERR_ARG);
    assert_string_equal(lg_last_errmsg(), mine); /* the other thread's error stayed there */
    lg_tensor_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_separate_graphs_and_stores_train_in_parallel_threads),
        cmocka_unit_test(test_last_status_is_per_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
