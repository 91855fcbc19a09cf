/* examples/mnist: the model, then its training loop written out. An MLP 784-256-128-10
 * trained with Adam on a cosine learning rate on standardised Fashion-MNIST, each image
 * moved by up to a pixel at random: about 0.89 test accuracy after 15 epochs. lagrad/train.h
 * gives the evaluation, the state for --resume and the plot; examples/mnist_fit.c does it
 * all in one lg_train_fit call. The last line is RESULT ..., for scripts. */
#include <math.h>
#include "lagrad/lagrad.h"
#include "example_cli.h"

typedef struct mlp { lg_linear_layer fc1, fc2, fc3; } mlp;

/* logits (N, 10) for images x (N, 784) */
static lg_tensor *forward(lg_graph *g, void *ctx, lg_tensor *x)
{
    mlp *m = ctx;
    lg_tensor *h = lg_relu(g, lg_linear_layer_forward(g, &m->fc1, x)); /* (N, 256) */
    h = lg_relu(g, lg_linear_layer_forward(g, &m->fc2, h));             /* (N, 128) */
    return lg_linear_layer_forward(g, &m->fc3, h);
}

int main(int argc, char **argv)
{
    cli o = {.prog = "mnist", .data = "/usr/share/datasets/fashion-mnist", .epochs = 15,
             .csv = "mnist_curves.csv", .checkpoint = "mnist.safetensors", .batch = 128,
             .threads = 1, .shift = 1, .lr = 1e-3, .seed = 42};
    lg_dataset train, test;
    double fill;
    if (cli_parse(argc, argv, &o) || cli_load(&o, &train, &test, &fill))
        return 1;
    double t0 = cli_now(), train_s = 0, test_acc = 0;
    mlp m;
    lg_rng rng; /* the weights' initial values, then the data's shuffles and shifts */
    lg_rng_init(&rng, o.seed);
    lg_params *p = lg_params_new(); /* owns every weight; layers are views into it */
    lg_linear_layer_init(&m.fc1, p, "fc1", 784, 256, true, LG_F32, &rng);
    lg_linear_layer_init(&m.fc2, p, "fc2", 256, 128, true, LG_F32, &rng);
    lg_linear_layer_init(&m.fc3, p, "fc3", 128, 10, true, LG_F32, &rng);
    lg_optim_config c = {.kind = LG_OPTIM_ADAM, .lr = o.lr, .beta1 = 0.9, .beta2 = 0.999,
                         .eps = 1e-8, .zero_grad = true}; /* zero_grad: steps clear grads */
    lg_optim *opt = lg_optim_new(p, &c);
    lg_graph *g = lg_graph_new();
    lg_tensor *x = lg_tensor_new(LG_F32, 2, (int64_t[]){o.batch, 784}); /* one batch */
    lg_tensor *y = lg_tensor_new(LG_I32, 1, (int64_t[]){o.batch});      /* its labels */
    int64_t *perm = malloc(sizeof *perm * (size_t)train.n), nb = train.n / o.batch;
    int first = 0, last = o.stop_after && o.stop_after < o.epochs ? o.stop_after : o.epochs;
    lg_rng_init(&rng, o.seed + 1);
    if (!m.fc3.weight || !opt || !g || !x || !y || !perm ||
        (o.resume && lg_train_load_state(p, opt, o.checkpoint, &first, &rng) != LG_OK))
        return fprintf(stderr, "mnist: cannot set up: %s\n", lg_last_errmsg()), 1;
    FILE *csv, *steps;
    if (cli_open_curves(&o, first > 0, "epoch,train_loss,train_accuracy,test_accuracy,seconds",
                        "epoch,loss,accuracy", &csv, &steps))
        return 1;
    for (int epoch = first + 1; epoch <= last; epoch++) {
        double loss_sum = 0, e0 = cli_now();
        int64_t correct = 0, right;
        lg_data_shuffle(perm, train.n, &rng);
        for (int64_t b = 0; b < nb; b++) {
            lg_dataset_batch(&train, perm, o.batch, b, x, y); /* copy batch b into x, y */
            if (o.shift)
                lg_data_random_shift(x, 28, 28, o.shift, fill, &rng);
            lg_graph_reset(g);                             /* forget the last step's tape */
            lg_tensor *logits = forward(g, &m, x);         /* (batch, 10) */
            lg_tensor *loss = lg_cross_entropy(g, logits, y);
            if (lg_backward(g, loss) != LG_OK)             /* d loss / d every weight */
                return fprintf(stderr, "mnist: %s\n", lg_graph_errmsg(g)), 1;
            int64_t t = (int64_t)(epoch - 1) * nb + b, total = (int64_t)o.epochs * nb;
            lg_optim_set_lr(opt, 0.5 * o.lr * (1 + cos(3.141592653589793 * t / total)));
            lg_optim_step(opt);                            /* Adam: w -= lr m / sqrt(v) */
            loss_sum += lg_tensor_item(loss, 0);
            lg_accuracy(logits, y, &right, NULL);
            correct += right;
            fprintf(steps, "%.5f,%.5f,%.4f\n", epoch - 1 + (b + 1.0) / nb,
                    lg_tensor_item(loss, 0), (double)right / o.batch);
        }
        double dt = cli_now() - e0, train_acc = (double)correct / (double)(nb * o.batch);
        train_s += dt;
        lg_train_evaluate(g, forward, &m, &test, 1000, NULL, &test_acc);
        printf("epoch %2d/%d  loss %.4f  train acc %.4f  test acc %.4f  %.0f samples/s\n",
               epoch, o.epochs, loss_sum / nb, train_acc, test_acc, nb * o.batch / dt);
        fprintf(csv, "%d,%.6f,%.6f,%.6f,%.3f\n", epoch, loss_sum / nb, train_acc, test_acc,
                cli_now() - t0);
        fflush(csv);
        if (lg_train_save_state(p, opt, o.checkpoint, epoch, &rng) != LG_OK)
            fprintf(stderr, "mnist: checkpoint not saved: %s\n", lg_last_errmsg());
    }
    if (first >= last)
        lg_train_evaluate(g, forward, &m, &test, 1000, NULL, &test_acc);
    cli_result(&o, csv, steps, LG_OK, test_acc, first > last ? first : last, cli_now() - t0,
               train_s > 0 ? (last - first) * nb * o.batch / train_s : 0);
    free(perm);
    lg_tensor_free(x);
    lg_tensor_free(y);
    lg_graph_free(g);
    lg_optim_free(opt);
    lg_params_free(p);
    cli_free_data(&train, &test);
    return 0;
}
