/* The reference backend's table: plain C loops over host memory, no BLAS and no OpenMP,
 * written to be obviously right rather than fast. tests/test_backend_parity.c holds every
 * entry of every other backend against it; LAGRAD_BACKEND=reference runs a whole program
 * on it. The kernels live by family in ref_*.c. */
#include "ref_impl.h"

static const lg_backend reference_backend = {
    .name = "reference",
    .device = LG_DEVICE_HOST,
    .mem_alloc = lg_host_alloc,
    .mem_free = lg_host_free,
    .mem_copy = lg_host_copy,
    .unary = lg_ref_unary,
    .binary = lg_ref_binary,
    .where = lg_ref_where,
    .reduce = lg_ref_reduce,
    .sum_to = lg_ref_sum_to,
    .softmax = lg_ref_softmax,
    .logsumexp = lg_ref_logsumexp,
    .gemm = lg_ref_gemm,
    .copy_rows = lg_ref_copy_rows,
    .permute = lg_ref_permute,
    .fill = lg_ref_fill,
    .find_outside = lg_ref_find_outside,
    .iota = lg_ref_iota,
    .gather = lg_ref_gather,
    .scatter_add = lg_ref_scatter_add,
    .conv2d_scratch = lg_ref_conv2d_scratch,
    .conv2d = lg_ref_conv2d,
    .conv2d_input_grad = lg_ref_conv2d_input_grad,
    .conv2d_weight_grad = lg_ref_conv2d_weight_grad,
    .conv2d_bias_grad = lg_ref_conv2d_bias_grad,
    .max_pool = lg_ref_max_pool,
    .pool_scatter = lg_ref_pool_scatter,
    .pool_gather = lg_ref_pool_gather,
    .avg_pool = lg_ref_avg_pool,
    .avg_pool_adjoint = lg_ref_avg_pool_adjoint,
    .bn_forward = lg_ref_bn_forward,
    .bn_backward = lg_ref_bn_backward,
    .rng_fill = lg_ref_rng_fill,
    .dot = lg_ref_dot,
    .ln_forward = lg_ref_ln_forward,
    .ln_backward = lg_ref_ln_backward,
    .optim_update = lg_ref_optim_update,
    /* linalg */
    .linalg = lg_ref_linalg,
    .tri_map = lg_ref_tri_map,
    /* text models */
    .softmax_backward = lg_ref_softmax_backward,
};

const lg_backend *lg_reference_backend(void) { return &reference_backend; }
