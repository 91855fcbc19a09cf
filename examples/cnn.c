/* examples/cnn: a small CNN (two conv + batch-norm + ReLU + max-pool blocks and a linear
 * head, 50K parameters; examples/cnn_model.h) trained with Adam and a cosine learning rate
 * on Fashion-MNIST (or any MNIST-format folder). Tests in eval mode, so batch norm uses its
 * running statistics. Prints one line per epoch, writes the curves to a CSV file and a
 * checkpoint (parameters with the batch-norm buffers, and the optimizer state) after every
 * epoch, can resume from them exactly, and ends with a machine-readable RESULT line
 * (examples/example_train.h). --help lists the options. */
#include <stdio.h>
#include "lagrad/lagrad.h"
#include "example_train.h"
#include "cnn_model.h"

static lg_tensor *forward(lg_graph *g, const void *ctx, lg_tensor *x)
{
    return cnn_model_forward(g, ctx, x);
}

int main(int argc, char **argv)
{
    train_options o = {.prog = "cnn", .data = "/usr/share/datasets/fashion-mnist",
                       .csv = "cnn_curves.csv", .ckpt = "cnn.safetensors", .epochs = 8,
                       .batch = 64, .threads = 1, .shift = 0, .min_batch = 2, .lr = 1e-3,
                       .seed = 42};
    if (train_parse(argc, argv, &o))
        return 1;
    cnn_model m;
    if (cnn_model_init(&m, o.seed, o.prog))
        return 1;
    /* 250 rows per evaluation chunk: 1,000 would hold ~100 MB per conv1-sized activation,
     * and the graph's arena keeps its peak */
    train_model tm = {.p = m.p, .ctx = &m, .forward = forward, .eval_rows = 250};
    int status = train_main(&o, &tm, "CNN 2x(conv3x3+BN+ReLU+maxpool)+linear");
    lg_params_free(m.p);
    return status;
}
