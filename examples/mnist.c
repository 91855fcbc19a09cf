/* examples/mnist: an MLP 784-256-128-10 with ReLU, trained with Adam and a cosine learning
 * rate on an MNIST-format data set (Fashion-MNIST from Debian's dataset-fashion-mnist by
 * default). Each training image is moved by up to one pixel at random (--shift): on the
 * 8,495 MNIST digits of scripts/fetch-mnist.sh that lifts test accuracy from 0.940 to
 * 0.965, and costs Fashion-MNIST 0.004 (0.898 -> 0.894) at the same speed. Prints one line
 * per epoch, writes the curves to a CSV file and a checkpoint after every epoch, can resume
 * from it exactly, and ends with a machine-readable RESULT line (examples/example_train.h).
 * Run with --help for the options. */
#include <math.h>
#include <stdio.h>
#include "lagrad/lagrad.h"
#include "example_train.h"

typedef struct mlp {
    lg_tensor *w[LAYERS], *b[LAYERS];
} mlp;

/* Parameters "fc<k>.weight" (out, in) and "fc<k>.bias", PyTorch's layout and its default
 * init: U(-1/sqrt(in), 1/sqrt(in)) for both. */
static lg_params *make_model(mlp *m, uint64_t seed)
{
    lg_params *p = lg_params_new();
    lg_rng rng;
    lg_rng_init(&rng, seed);
    for (int k = 0; p && k < LAYERS; k++) {
        char name[32];
        int64_t ws[2] = {WIDTHS[k + 1], WIDTHS[k]};
        snprintf(name, sizeof name, "fc%d.weight", k + 1);
        m->w[k] = lg_params_add(p, name, LG_F32, 2, ws);
        snprintf(name, sizeof name, "fc%d.bias", k + 1);
        m->b[k] = lg_params_add(p, name, LG_F32, 1, ws);
        if (!m->w[k] || !m->b[k]) {
            lg_params_free(p);
            return NULL;
        }
    }
    for (int k = 0; p && k < LAYERS; k++) { /* after the last add: data pointers are final */
        double bound = 1.0 / sqrt((double)WIDTHS[k]);
        lg_tensor *t[2] = {m->w[k], m->b[k]};
        for (int j = 0; j < 2; j++) {
            float *d = lg_tensor_data(t[j]);
            for (int64_t i = 0; i < lg_tensor_numel(t[j]); i++)
                d[i] = (float)(bound * (2 * lg_rng_uniform(&rng) - 1));
        }
    }
    return p;
}

static lg_tensor *forward(lg_graph *g, const void *ctx, lg_tensor *x)
{
    const mlp *m = ctx;
    lg_tensor *h = x;
    for (int k = 0; k < LAYERS; k++) {
        h = lg_linear(g, h, m->w[k], m->b[k]);
        if (k < LAYERS - 1)
            h = lg_relu(g, h);
    }
    return h;
}

int main(int argc, char **argv)
{
    train_options o = {.prog = "mnist", .data = "/usr/share/datasets/fashion-mnist",
                       .csv = "mnist_curves.csv", .ckpt = "mnist.safetensors", .epochs = 15,
                       .batch = 128, .threads = 1, .shift = 1, .min_batch = 1, .lr = 1e-3,
                       .seed = 42};
    if (train_parse(argc, argv, &o))
        return 1;
    mlp m;
    train_model tm = {.p = make_model(&m, o.seed), .ctx = &m, .forward = forward,
                      .eval_rows = 1000};
    if (!tm.p) {
        fprintf(stderr, "mnist: cannot build the model: %s\n", lg_last_errmsg());
        return 1;
    }
    int status = train_main(&o, &tm, "MLP 784-256-128-10");
    lg_params_free(tm.p);
    return status;
}
