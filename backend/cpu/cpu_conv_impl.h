/* Internal: the CPU convolution, pooling and batch-norm kernels of lg_cpu_backend()
 * (cpu_conv.c, cpu_pool.c, cpu_batchnorm.c). Their contracts are on the backend table
 * entries in backend_impl.h. */
#ifndef LAGRAD_CPU_CONV_IMPL_H
#define LAGRAD_CPU_CONV_IMPL_H

#include "cpu_impl.h"

size_t lg_cpu_conv2d_scratch(lg_dtype dt, const lg_conv_geom *cg);
void lg_cpu_conv2d(lg_dtype dt, const lg_conv_geom *cg, const void *x, const void *w,
                   const void *bias, void *y, void *scratch);
void lg_cpu_conv2d_input_grad(lg_dtype dt, const lg_conv_geom *cg, const void *dy,
                              const void *w, void *dx, void *scratch);
void lg_cpu_conv2d_weight_grad(lg_dtype dt, const lg_conv_geom *cg, const void *x,
                               const void *dy, void *dw, void *scratch);
void lg_cpu_conv2d_bias_grad(lg_dtype dt, const lg_conv_geom *cg, const void *dy, void *db);

void lg_cpu_max_pool(lg_dtype dt, const lg_conv_geom *cg, const void *x, void *y,
                     int32_t *idx);
void lg_cpu_pool_scatter(lg_dtype dt, const lg_conv_geom *cg, const void *dy,
                         const int32_t *idx, void *dx);
void lg_cpu_pool_gather(lg_dtype dt, const lg_conv_geom *cg, const void *x,
                        const int32_t *idx, void *y);
void lg_cpu_avg_pool(lg_dtype dt, const lg_conv_geom *cg, const void *x, void *y);
void lg_cpu_avg_pool_adjoint(lg_dtype dt, const lg_conv_geom *cg, const void *dy, void *dx);

void lg_cpu_bn_forward(lg_dtype dt, const lg_bn_dims *d, const void *x, const void *gamma,
                       const void *beta, double eps, void *y, void *mean, void *rstd,
                       void *var);
void lg_cpu_bn_backward(lg_dtype dt, const lg_bn_dims *d, const void *gy, const void *x,
                        const void *gamma, const void *mean, const void *rstd, void *dx,
                        void *dgamma, void *dbeta);

#endif
