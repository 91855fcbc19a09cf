/* The training helper's cost: time per step of lg_train_fit (lagrad/train.h) against the
 * same training written out by hand as in examples/mnist (shuffle, batch copy, reset,
 * forward, cross-entropy, backward, cosine learning rate, Adam step, running loss and
 * accuracy), on the MLP 784-256-128-10 over standardised Fashion-MNIST, batch 128, no
 * augmentation, no evaluation, no files. The two alternate, `reps` times each, each run
 * from a fresh model, graph and optimizer; prints one JSON object with the medians (the
 * ratio is the median of the paired helper/hand ratios).
 *
 *   train_helper [--data DIR] [--train-limit N] [--epochs N] [--reps N] [--threads N] */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lagrad/lagrad.h"
#include "bench_util.h"

enum { MAX_REPS = 31, BATCH = 128 };

typedef struct mlp { lg_params *p; lg_linear_layer fc1, fc2, fc3; } mlp;

static void die(const char *what)
{
    fprintf(stderr, "train_helper bench: %s: %s\n", what, lg_last_errmsg());
    exit(1);
}

static void mlp_init(mlp *m)
{
    lg_rng r;
    lg_rng_init(&r, 42);
    m->p = lg_params_new();
    if (!m->p || lg_linear_layer_init(&m->fc1, m->p, "fc1", 784, 256, true, LG_F32, &r) ||
        lg_linear_layer_init(&m->fc2, m->p, "fc2", 256, 128, true, LG_F32, &r) ||
        lg_linear_layer_init(&m->fc3, m->p, "fc3", 128, 10, true, LG_F32, &r))
        die("model");
}

static lg_tensor *forward(lg_graph *g, void *ctx, lg_tensor *x)
{
    mlp *m = ctx;
    lg_tensor *h = lg_relu(g, lg_linear_layer_forward(g, &m->fc1, x));
    h = lg_relu(g, lg_linear_layer_forward(g, &m->fc2, h));
    return lg_linear_layer_forward(g, &m->fc3, h);
}

/* examples/mnist's loop without augmentation, evaluation and files; seconds per step. */
static double hand(const lg_dataset *train, int epochs)
{
    double t0 = now_s();
    mlp m;
    mlp_init(&m);
    lg_optim_config c = lg_optim_defaults(LG_OPTIM_ADAM);
    c.zero_grad = true;
    lg_optim *opt = lg_optim_new(m.p, &c);
    lg_graph *g = lg_graph_new();
    lg_tensor *x = lg_tensor_new(LG_F32, 2, (int64_t[]){BATCH, 784});
    lg_tensor *y = lg_tensor_new(LG_I32, 1, (int64_t[]){BATCH});
    int64_t *perm = malloc(sizeof *perm * (size_t)train->n), nb = train->n / BATCH;
    if (!opt || !g || !x || !y || !perm)
        die("setup");
    lg_rng rng;
    lg_rng_init(&rng, 43);
    double sink = 0;
    for (int e = 0; e < epochs; e++) {
        double loss_sum = 0;
        int64_t correct = 0, right;
        lg_data_shuffle(perm, train->n, &rng);
        for (int64_t b = 0; b < nb; b++) {
            lg_dataset_batch(train, perm, BATCH, b, x, y);
            lg_graph_reset(g);
            lg_tensor *logits = forward(g, &m, x);
            lg_tensor *loss = lg_cross_entropy(g, logits, y);
            if (lg_backward(g, loss) != LG_OK)
                die(lg_graph_errmsg(g));
            double t = (double)(e * nb + b) / (double)(epochs * nb);
            lg_optim_set_lr(opt, 0.5 * 1e-3 * (1 + cos(3.14159265358979323846 * t)));
            lg_optim_step(opt);
            loss_sum += lg_tensor_item(loss, 0);
            lg_accuracy(logits, y, &right, NULL);
            correct += right;
        }
        sink += loss_sum + (double)correct;
    }
    free(perm);
    lg_tensor_free(x);
    lg_tensor_free(y);
    lg_graph_free(g);
    lg_optim_free(opt);
    lg_params_free(m.p);
    if (!(sink > 0))
        die("no training happened");
    return (now_s() - t0) / (double)(epochs * nb);
}

/* The same through lg_train_fit; seconds per step. */
static double helper(const lg_dataset *train, int epochs)
{
    double t0 = now_s();
    mlp m;
    mlp_init(&m);
    lg_train_options o = lg_train_defaults();
    o.epochs = epochs;
    o.batch_size = BATCH;
    o.seed = 43;
    lg_train_result r;
    if (lg_train_fit(m.p, forward, &m, train, NULL, &o, &r) != LG_OK)
        die("lg_train_fit");
    lg_params_free(m.p);
    return (now_s() - t0) / (double)r.steps;
}

int main(int argc, char **argv)
{
    const char *data = "/usr/share/datasets/fashion-mnist";
    int64_t limit = 20000;
    int epochs = 2, reps = 5, threads = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--data")) data = argv[i + 1];
        else if (!strcmp(argv[i], "--train-limit")) limit = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--epochs")) epochs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "train_helper bench: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (reps < 1 || reps > MAX_REPS || epochs < 1 || limit < BATCH || threads < 1) {
        fprintf(stderr, "train_helper bench: need reps in [1, %d], epochs >= 1, "
                "train-limit >= %d, threads >= 1\n", MAX_REPS, BATCH);
        return 2;
    }
    lg_set_num_threads(threads);
    lg_dataset train;
    double mean, std;
    if (lg_dataset_load_mnist(data, "train", &train) || lg_dataset_mean_std(&train, &mean, &std) ||
        lg_dataset_normalize(&train, mean, std))
        die(data);
    if (limit < train.n)
        train.n = limit;
    double h[MAX_REPS], f[MAX_REPS], ratio[MAX_REPS];
    hand(&train, 1); /* warm-up: caches, thread pool, page faults */
    for (int i = 0; i < reps; i++) {
        h[i] = hand(&train, epochs);
        f[i] = helper(&train, epochs);
        ratio[i] = f[i] / h[i]; /* paired, so a machine that slows down for a while cancels */
    }
    double hm = median(h, reps), fm = median(f, reps), rm = median(ratio, reps);
    printf("{\"hand_ms_per_step\": %.5f, \"helper_ms_per_step\": %.5f, \"ratio\": %.4f, "
           "\"steps\": %lld, \"reps\": %d, \"threads\": %d}\n", 1e3 * hm, 1e3 * fm, rm,
           (long long)(epochs * (train.n / BATCH)), reps, threads);
    lg_dataset_free(&train);
    return 0;
}
