/* lagrad convolutional ops: conv2d and pooling (batch norm and flatten, which are not
 * specific to images, are in ops.h). All are graph ops with
 * VJPs written in lagrad ops (double backward holds), over NCHW tensors of one dtype
 * (f32 or f64). Shapes follow PyTorch's formulas:
 *   H_out = floor((H + 2*pad - dilation*(k - 1) - 1) / stride) + 1   (and the same for W).
 * A bad combination (channels not divisible by groups, an output of size < 1, ...) returns
 * NULL and sets the graph's error with a message naming the function and the shapes. */
#ifndef LAGRAD_CONV_H
#define LAGRAD_CONV_H

#include "graph.h"

#ifdef __cplusplus
extern "C" {
#endif
/* The library is built with hidden visibility: what this header declares is its ABI. */
#pragma GCC visibility push(default)

typedef struct lg_conv2d_opts {
    int stride[2];   /* (h, w), >= 1 */
    int padding[2];  /* (h, w), >= 0, zero padding on both sides */
    int dilation[2]; /* (h, w), >= 1 */
    int groups;      /* >= 1, divides C_in and C_out */
} lg_conv2d_opts;

/* stride 1, padding 0, dilation 1, groups 1. */
lg_conv2d_opts lg_conv2d_defaults(void);

/* 2-D cross-correlation, as torch.nn.functional.conv2d.
 * x (N, C_in, H, W); w (C_out, C_in/groups, kH, kW) (PyTorch's OIHW); bias (C_out) or NULL;
 * o NULL means lg_conv2d_defaults(). Returns (N, C_out, H_out, W_out).
 * Computed as im2col then one GEMM per group; the backward uses GEMMs and col2im. */
lg_tensor *lg_conv2d(lg_graph *g, lg_tensor *x, lg_tensor *w, lg_tensor *bias,
                     const lg_conv2d_opts *o);

typedef struct lg_pool2d_opts {
    int kernel[2];  /* (h, w), >= 1 */
    int stride[2];  /* (h, w); 0 means equal to the kernel (PyTorch's default) */
    int padding[2]; /* (h, w), 0 <= padding <= kernel / 2 */
} lg_pool2d_opts;

/* A 2x2 window, stride equal to the window, no padding: the halving pool of most CNNs.
 * Every pooling op takes NULL options as these. */
lg_pool2d_opts lg_pool2d_defaults(void);

/* Max pooling over (N, C, H, W); padded cells never win. The argmax of each window is saved
 * for backward, so the gradient goes to one input per window (the first maximum). */
lg_tensor *lg_max_pool2d(lg_graph *g, lg_tensor *x, const lg_pool2d_opts *o);
/* Average pooling over (N, C, H, W); padded cells count as zeros in the divisor
 * (PyTorch's count_include_pad=True). */
lg_tensor *lg_avg_pool2d(lg_graph *g, lg_tensor *x, const lg_pool2d_opts *o);
/* Mean over H and W: (N, C, H, W) -> (N, C). */
lg_tensor *lg_global_avg_pool2d(lg_graph *g, lg_tensor *x);
#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
