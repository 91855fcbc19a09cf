/* Shared by examples/cnn and bench/cnn: the small Fashion-MNIST CNN
 *   conv1 1->32 3x3 pad 1, bn1, relu, maxpool 2   (N,1,28,28) -> (N,32,14,14)
 *   conv2 32->64 3x3 pad 1, bn2, relu, maxpool 2  -> (N,64,7,7)
 *   flatten, fc 3136->10
 * with PyTorch's layer names and default inits (50,378 trainable parameters), the same
 * network as bench/cnn_torch.py. Header-only, on lagrad's public headers alone. */
#ifndef LAGRAD_CNN_MODEL_H
#define LAGRAD_CNN_MODEL_H

#include <stdio.h>
#include "lagrad/lagrad.h"

typedef struct cnn_model {
    lg_params *p;
    lg_conv2d_layer conv1, conv2;
    lg_batch_norm_layer bn1, bn2;
    lg_linear_layer fc;
} cnn_model;

/* Fills m with a new store (free it with lg_params_free(m->p)); 0 on success, else 1 with
 * the reason on stderr after `prog`. */
static inline int cnn_model_init(cnn_model *m, uint64_t seed, const char *prog)
{
    lg_rng r;
    lg_rng_init(&r, seed);
    lg_conv2d_opts same = lg_conv2d_defaults();
    same.padding[0] = same.padding[1] = 1;
    m->p = lg_params_new();
    if (!m->p ||
        lg_conv2d_layer_init(&m->conv1, m->p, "conv1", 1, 32, 3, 3, &same, true, LG_F32,
                             &r) != LG_OK ||
        lg_batch_norm_layer_init(&m->bn1, m->p, "bn1", 32, 0.1, 1e-5, LG_F32) != LG_OK ||
        lg_conv2d_layer_init(&m->conv2, m->p, "conv2", 32, 64, 3, 3, &same, true, LG_F32,
                             &r) != LG_OK ||
        lg_batch_norm_layer_init(&m->bn2, m->p, "bn2", 64, 0.1, 1e-5, LG_F32) != LG_OK ||
        lg_linear_layer_init(&m->fc, m->p, "fc", 64 * 7 * 7, 10, true, LG_F32, &r) != LG_OK) {
        fprintf(stderr, "%s: cannot build the model: %s\n", prog, lg_last_errmsg());
        lg_params_free(m->p);
        m->p = NULL;
        return 1;
    }
    return 0;
}

/* Logits (N, 10) for images x (N, 784); batch norm follows g's training flag. */
static inline lg_tensor *cnn_model_forward(lg_graph *g, const cnn_model *m, lg_tensor *x)
{
    const lg_pool2d_opts pool = {.kernel = {2, 2}};
    int64_t n = x ? lg_tensor_shape(x)[0] : 0;
    lg_tensor *h = lg_reshape(g, x, 4, (int64_t[]){n, 1, 28, 28});
    h = lg_conv2d_layer_forward(g, &m->conv1, h);
    h = lg_max_pool2d(g, lg_relu(g, lg_batch_norm_layer_forward(g, &m->bn1, h)), &pool);
    h = lg_conv2d_layer_forward(g, &m->conv2, h);
    h = lg_max_pool2d(g, lg_relu(g, lg_batch_norm_layer_forward(g, &m->bn2, h)), &pool);
    return lg_linear_layer_forward(g, &m->fc, lg_flatten(g, h, 1));
}

#endif
