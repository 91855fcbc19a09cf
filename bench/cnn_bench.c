/* CNN training speed on the real Fashion-MNIST training set (named cnn_bench because the
 * target name cnn is examples/cnn's): the network and recipe of examples/cnn
 * (examples/cnn_model.h; Adam lr 1e-3 with the cosine schedule set every step, batches of
 * 64 from the shuffled, standardised training set), timed as bench/cnn_torch.py times
 * PyTorch: the median samples/s of `reps` windows of `steps` steps after a warm-up of 5.
 * Prints one line:
 *
 *   cnn threads=1 batch=64 samples_per_s=1234.5 peak_rss_kb=56789 setup_rss_kb=45678
 *
 * peak_rss_kb is getrusage's ru_maxrss at the end (the training set as f32 included, as in
 * the PyTorch script); setup_rss_kb the same before the first step.
 *
 *   cnn_bench [--threads 1] [--batch 64] [--steps 60] [--reps 3] [--data DIR] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include "lagrad/lagrad.h"
#include "lagrad/data.h"
#include "../examples/example_mlp.h"
#include "../examples/cnn_model.h"
#include "bench_util.h"

enum { MAX_REPS = 31 };

typedef struct options {
    const char *data;
    int threads, batch, steps, reps;
} options;

static int parse(int argc, char **argv, options *o)
{
    *o = (options){"/usr/share/datasets/fashion-mnist", 1, 64, 60, 3};
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--threads")) o->threads = atoi(v);
        else if (!strcmp(a, "--batch")) o->batch = atoi(v);
        else if (!strcmp(a, "--steps")) o->steps = atoi(v);
        else if (!strcmp(a, "--reps")) o->reps = atoi(v);
        else if (!strcmp(a, "--data")) o->data = v;
        else break;
    }
    if (argc % 2 == 0 || o->threads < 1 || o->batch < 2 || o->steps < 1 || o->reps < 1 ||
        o->reps > MAX_REPS) {
        fprintf(stderr, "usage: cnn_bench [--threads N] [--batch N >= 2] [--steps N] [--reps 1..%d] "
                "[--data DIR]\n", MAX_REPS);
        return 1;
    }
    return 0;
}

static long max_rss_kb(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

typedef struct net {
    lg_graph *g;
    cnn_model m;
    lg_optim *opt;
    lg_tensor *x;
    lg_tensor *y; /* (batch) i32 labels */
    int64_t *perm, cursor;
    const lg_dataset *train;
    lg_rng rng;
    int64_t step, total;
    int batch;
} net;

/* One training step on the next batch of the current shuffle; 1 on error. */
static int train_step(net *t)
{
    if ((t->cursor + 1) * t->batch > t->train->n) {
        lg_data_shuffle(t->perm, t->train->n, &t->rng);
        t->cursor = 0;
    }
    lg_dataset_batch(t->train, t->perm, t->batch, t->cursor++, t->x, t->y);
    lg_graph_reset(t->g); /* gradients are zero: the optimizer zeroes them, as in the example */
    lg_tensor *l = lg_cross_entropy(t->g, cnn_model_forward(t->g, &t->m, t->x), t->y);
    if (!l || lg_backward(t->g, l) != LG_OK) {
        fprintf(stderr, "cnn bench: %s\n", lg_graph_errmsg(t->g));
        return 1;
    }
    lg_optim_set_lr(t->opt, cosine_lr(1e-3, t->step++, t->total));
    return lg_optim_step(t->opt) != LG_OK;
}

int main(int argc, char **argv)
{
    options o;
    if (parse(argc, argv, &o))
        return 1;
    lg_set_num_threads(o.threads);
    lg_dataset train = {0}, test = {0};
    if (load_data_normalized("cnn bench", o.data, &train, &test))
        return 1;
    lg_dataset_free(&test);
    net t = {.train = &train, .batch = o.batch, .total = 2 * (int64_t)(o.reps * o.steps + 5)};
    lg_rng_init(&t.rng, 43);
    int status = 1;
    if (cnn_model_init(&t.m, 42, "cnn bench"))
        goto done;
    lg_optim_config c = lg_optim_defaults(LG_OPTIM_ADAM);
    c.zero_grad = true;
    t.opt = lg_optim_new(t.m.p, &c);
    t.g = lg_graph_new();
    t.x = lg_tensor_new(LG_F32, 2, (int64_t[]){o.batch, 784});
    t.y = lg_tensor_new(LG_I32, 1, (int64_t[]){o.batch});
    t.perm = malloc(sizeof *t.perm * (size_t)train.n);
    if (!t.opt || !t.g || !t.x || !t.y || !t.perm || train.features != 784) {
        fprintf(stderr, "cnn bench: setup failed: %s\n", lg_last_errmsg());
        goto done;
    }
    t.cursor = train.n; /* shuffle before the first batch */
    long setup_rss = max_rss_kb();
    for (int i = 0; i < 5; i++)
        if (train_step(&t))
            goto done;
    double rates[MAX_REPS];
    for (int r = 0; r < o.reps; r++) {
        double t0 = now_s();
        for (int i = 0; i < o.steps; i++)
            if (train_step(&t))
                goto done;
        rates[r] = (double)o.steps * o.batch / (now_s() - t0);
    }
    printf("cnn threads=%d batch=%d samples_per_s=%.1f peak_rss_kb=%ld setup_rss_kb=%ld\n",
           o.threads, o.batch, median(rates, o.reps), max_rss_kb(), setup_rss);
    status = 0;
done:
    lg_tensor_free(t.y);
    free(t.perm);
    lg_tensor_free(t.x);
    lg_graph_free(t.g);
    lg_optim_free(t.opt);
    lg_params_free(t.m.p);
    lg_dataset_free(&train);
    return status;
}
