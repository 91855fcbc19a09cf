/* The CPU backend's table: OpenBLAS and OpenMP kernels over host memory, by family in
 * cpu_*.c. */
#include "cpu_conv_impl.h"
#include "cpu_impl.h"

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
    .find_outside = lg_cpu_find_outside,
    .iota = lg_cpu_iota,
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
    .rng_fill = lg_cpu_rng_fill,
    .dot = lg_cpu_dot,
    .ln_forward = lg_cpu_ln_forward,
    .ln_backward = lg_cpu_ln_backward,
    .optim_update = lg_cpu_optim_update,
    /* linalg */
    .linalg = lg_cpu_linalg,
    .tri_map = lg_cpu_tri_map,
    /* text models */
    .softmax_backward = lg_cpu_softmax_backward,
};

const lg_backend *lg_cpu_backend(void) { return &cpu_backend; }

