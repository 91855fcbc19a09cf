/* The CPU backend table (OpenBLAS and OpenMP kernels over host memory), the registry of
 * backends a graph can run on, and the process default. */
#include <stdlib.h>
#include <string.h>
#include "cpu_conv_impl.h"
#include "cpu_impl.h"

void *lg_host_alloc(size_t bytes) { return lg_malloc(bytes); }
void lg_host_free(void *p, size_t bytes) { lg_free(p, bytes); }
void lg_host_copy(lg_copy_kind k, void *dst, const void *src, size_t bytes)
{
    (void)k; /* host to host in every direction */
    if (bytes)
        memmove(dst, src, bytes);
}

static const lg_backend cpu_backend = {
    .name = "cpu",
    .device = LG_DEVICE_HOST,
    .mem_alloc = lg_host_alloc,
    .mem_free = lg_host_free,
    .mem_copy = lg_host_copy,
    .unary = lg_cpu_unary,
    .binary = lg_cpu_binary,
    .where = lg_cpu_where,
    .reduce = lg_cpu_reduce,
    .sum_to = lg_cpu_sum_to,
    .softmax = lg_cpu_softmax,
    .logsumexp = lg_cpu_logsumexp,
    .gemm = lg_cpu_gemm,
    .copy_rows = lg_cpu_copy_rows,
    .permute = lg_cpu_permute,
    .fill = lg_cpu_fill,
    .gather = lg_cpu_gather,
    .scatter_add = lg_cpu_scatter_add,
    .conv2d_scratch = lg_cpu_conv2d_scratch,
    .conv2d = lg_cpu_conv2d,
    .conv2d_input_grad = lg_cpu_conv2d_input_grad,
    .conv2d_weight_grad = lg_cpu_conv2d_weight_grad,
    .conv2d_bias_grad = lg_cpu_conv2d_bias_grad,
    .max_pool = lg_cpu_max_pool,
    .pool_scatter = lg_cpu_pool_scatter,
    .pool_gather = lg_cpu_pool_gather,
    .avg_pool = lg_cpu_avg_pool,
    .avg_pool_adjoint = lg_cpu_avg_pool_adjoint,
    .bn_forward = lg_cpu_bn_forward,
    .bn_backward = lg_cpu_bn_backward,
};

const lg_backend *lg_cpu_backend(void) { return &cpu_backend; }

/* Every backend built in, by name. */
static const lg_backend *(*const registry[])(void) = {lg_cpu_backend, lg_reference_backend};
enum { N_BACKENDS = sizeof registry / sizeof registry[0] };

const lg_backend *lg_backend_get(const char *name)
{
    for (int i = 0; name && i < N_BACKENDS; i++)
        if (!strcmp(registry[i]()->name, name))
            return registry[i]();
    char known[128] = "";
    for (int i = 0; i < N_BACKENDS; i++) {
        strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
        strncat(known, registry[i]()->name, sizeof known - strlen(known) - 1);
    }
    lg_set_error(LG_ERR_ARG, "lg_backend_get: no backend named '%.40s' (there are: %s)",
                 name ? name : "(null)", known);
    return NULL;
}

const lg_backend *lg_backend_default(void)
{
    /* read at each call, which is cheap: a program that sets LAGRAD_BACKEND before making
     * its graphs gets it, and no lazy state needs a lock */
    const char *env = getenv("LAGRAD_BACKEND");
    const lg_backend *b = NULL;
    for (int i = 0; env && *env && i < N_BACKENDS; i++)
        if (!strcmp(registry[i]()->name, env))
            b = registry[i]();
    return b ? b : &cpu_backend;
}

const char *lg_backend_name(const lg_backend *b) { return b ? b->name : "invalid"; }
lg_device lg_backend_device(const lg_backend *b) { return b ? b->device : LG_DEVICE_HOST; }
