/* The backend seam's public side: choosing a backend by name, per graph or for the process
 * (LAGRAD_BACKEND), the device of every tensor, the refusal to mix devices in one op, and
 * reading a tensor to the host whatever its device. A device tensor is made here by hand
 * (tensor_impl.h), since this build has no device backend. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include "test_util.h"
#include "backend/backend_impl.h"

static void test_backends_are_found_by_name(void **state)
{
    (void)state;
    const lg_backend *cpu = lg_backend_get("cpu");
    assert_non_null(cpu);
    assert_string_equal(lg_backend_name(cpu), "cpu");
    assert_int_equal(lg_backend_device(cpu), LG_DEVICE_HOST);
    assert_null(lg_backend_get("tpu"));
    assert_int_equal(lg_last_status(), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "no backend named 'tpu' (there are: cpu"));
    assert_null(lg_backend_get(NULL));
    lg_graph *g = lg_graph_new_on(cpu);
    assert_true(lg_graph_backend(g) == cpu);
    lg_tensor *x = lg_graph_full(g, LG_F64, 1, (int64_t[]){3}, 2);
    assert_int_equal(lg_tensor_device(x), LG_DEVICE_HOST);
    tu_assert_tensor_close(lg_exp(g, x), (double[]){exp(2.0), exp(2.0), exp(2.0)}, 3, 0, 0,
                           "exp on the chosen backend");
    lg_graph_free(g);
}

static void test_lagrad_backend_variable_sets_the_default(void **state)
{
    (void)state;
    const char *old = getenv("LAGRAD_BACKEND");
    char saved[64] = "";
    if (old)
        snprintf(saved, sizeof saved, "%s", old);
    setenv("LAGRAD_BACKEND", "cpu", 1);
    assert_true(lg_backend_default() == lg_backend_get("cpu"));
    setenv("LAGRAD_BACKEND", "no-such-backend", 1); /* unknown: the CPU */
    assert_true(lg_backend_default() == lg_backend_get("cpu"));
    lg_graph *g = lg_graph_new();
    assert_true(lg_graph_backend(g) == lg_backend_get("cpu"));
    lg_graph_free(g);
    if (old)
        setenv("LAGRAD_BACKEND", saved, 1);
    else
        unsetenv("LAGRAD_BACKEND");
}

static void test_tensors_of_two_devices_do_not_meet(void **state)
{
    (void)state;
    lg_graph *g = lg_graph_new();
    lg_tensor *h = lg_tensor_ones(LG_F32, 1, (int64_t[]){2});
    lg_tensor *d = lg_tensor_ones(LG_F32, 1, (int64_t[]){2});
    d->device = LG_DEVICE_CUDA; /* as a device backend would make it */
    assert_null(lg_add(g, h, d));
    assert_int_equal(lg_graph_status(g), LG_ERR_DEVICE);
    assert_non_null(strstr(lg_graph_errmsg(g), "lg_add: input 1 (2) is on device 1"));
    /* no host pointer to device memory, and no silent copy */
    assert_null(lg_tensor_data(d));
    assert_int_equal(lg_last_status(), LG_ERR_DEVICE);
    float buf[2];
    assert_int_equal(lg_tensor_read(d, buf, sizeof buf), LG_ERR_UNSUPPORTED);
    /* a host tensor reads back whatever its owner */
    assert_int_equal(lg_tensor_read(h, buf, sizeof buf), LG_OK);
    assert_true(buf[0] == 1.0f && buf[1] == 1.0f);
    assert_int_equal(lg_tensor_read(h, buf, 4), LG_ERR_SHAPE);
    assert_int_equal(lg_tensor_read(NULL, buf, 8), LG_ERR_ARG);
    d->device = LG_DEVICE_HOST;
    lg_tensor_free(h);
    lg_tensor_free(d);
    lg_graph_free(g);
}

/* A backend whose memory is the CPU's, remembered block by block, so the test can tell
 * which pointers came from its mem_alloc: a stand-in for a device allocator. */
enum { MAX_BLOCKS = 64 };
typedef struct block { char *p; size_t bytes; } block;
static block blocks[MAX_BLOCKS];
static int nblocks;

static void *counting_alloc(size_t bytes)
{
    if (nblocks == MAX_BLOCKS)
        return NULL;
    void *p = lg_host_alloc(bytes);
    if (p)
        blocks[nblocks++] = (block){p, bytes};
    return p;
}

static void counting_free(void *p, size_t bytes)
{
    for (int i = 0; i < nblocks; i++)
        if (blocks[i].p == p) {
            assert_int_equal(blocks[i].bytes, bytes);
            blocks[i] = blocks[--nblocks];
            lg_host_free(p, bytes);
            return;
        }
    fail_msg("mem_free of %p, which mem_alloc did not give", p);
}

static bool from_backend(const void *p)
{
    for (int i = 0; i < nblocks; i++)
        if ((const char *)p >= blocks[i].p && (const char *)p < blocks[i].p + blocks[i].bytes)
            return true;
    return false;
}

/* A graph's tensor data (and its kernels' scratch) comes from the backend's mem_alloc and
 * goes back through its mem_free; the headers the graph code reads stay in host memory. */
static void test_graph_data_lives_in_backend_memory(void **state)
{
    (void)state;
    lg_backend be = *lg_cpu_backend();
    be.mem_alloc = counting_alloc;
    be.mem_free = counting_free;
    nblocks = 0;
    int after_first_step = 0;
    lg_graph *g = lg_graph_new_on(&be);
    lg_tensor *w = lg_tensor_ones(LG_F64, 2, (int64_t[]){3, 2});
    lg_tensor_set_requires_grad(w, true);
    for (int step = 0; step < 2; step++) {
        lg_tensor *x = lg_graph_full(g, LG_F64, 2, (int64_t[]){4, 3}, 0.5);
        lg_tensor *h = lg_relu(g, lg_matmul(g, x, w));
        lg_tensor *m = lg_max_axis(g, h, 1, false); /* argmax scratch */
        lg_tensor *loss = lg_sum(g, m);
        assert_int_equal(lg_backward(g, loss), LG_OK);
        assert_true(nblocks > 0);
        lg_tensor *graph_tensors[] = {x, h, m, loss};
        for (int i = 0; i < 4; i++) {
            assert_true(from_backend(graph_tensors[i]->data));
            assert_false(from_backend(graph_tensors[i]));
        }
        /* w's gradient: 4 rows of 0.5 reach each of w's rows through max's argmax */
        const double *gw = lg_tensor_data(lg_tensor_grad(w));
        for (int i = 0; i < 6; i++)
            assert_true(gw[i] == (i % 2 == 0 ? 2.0 : 0.0));
        lg_tensor_zero_grad(w);
        /* reset keeps the chunks: the second step allocates nothing new */
        if (step == 0)
            after_first_step = nblocks;
        assert_int_equal(nblocks, after_first_step);
        lg_graph_reset(g);
    }
    lg_graph_free(g);
    assert_int_equal(nblocks, 0); /* every block handed back through mem_free */
    lg_tensor_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backends_are_found_by_name),
        cmocka_unit_test(test_lagrad_backend_variable_sets_the_default),
        cmocka_unit_test(test_tensors_of_two_devices_do_not_meet),
        cmocka_unit_test(test_graph_data_lives_in_backend_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
