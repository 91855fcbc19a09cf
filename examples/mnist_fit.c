/* examples/mnist_fit: examples/mnist's model and recipe in one call, lg_train_fit
 * (lagrad/train.h), which runs the epochs, evaluates, writes the curves and their plot,
 * saves the state after each epoch for --resume and shows progress on stderr: a bar on a
 * terminal, a line every 10 s in a log. With --val F it holds out a fraction F of the
 * training set, stops after --patience epochs without a better validation loss and keeps
 * the best parameters. The last line is RESULT ..., as examples/mnist's. Under mpirun -np N
 * (built with lagrad_dist) the same flags train data-parallel, equal to one process up to
 * the rounding of the gradient sum: --batch is the global batch, the shifts are drawn per
 * global sample, rank 0 prints and writes the files (examples/example_dist.h). */
#include <math.h>
#include <stdio.h>
#include "lagrad/lagrad.h"
#include "example_cli.h"
#include "example_dist.h"

typedef struct mlp { lg_linear_layer fc1, fc2, fc3; } mlp;

/* logits (N, 10) for images x (N, 784) */
static lg_tensor *forward(lg_graph *g, void *ctx, lg_tensor *x)
{
    mlp *m = ctx;
    lg_tensor *h = lg_relu(g, lg_linear_layer_forward(g, &m->fc1, x));
    h = lg_relu(g, lg_linear_layer_forward(g, &m->fc2, h));
    return lg_linear_layer_forward(g, &m->fc3, h);
}

typedef struct shift { int pixels; double fill; } shift;

/* Augmentation: each training image moved by up to `pixels` in each direction. */
static lg_status augment(lg_tensor *x, lg_tensor *y, lg_rng *rng, void *ud)
{
    (void)y;
    const shift *s = ud;
    return s->pixels ? lg_data_random_shift(x, 28, 28, s->pixels, s->fill, rng) : LG_OK;
}

int main(int argc, char **argv)
{
    cli o = {.prog = "mnist_fit", .data = "/usr/share/datasets/fashion-mnist", .epochs = 15,
             .csv = "mnist_fit_curves.csv", .checkpoint = "mnist_fit.safetensors",
             .batch = 128, .threads = 1, .shift = 1, .lr = 1e-3, .seed = 42, .fit = 1};
    lg_dataset train = {0}, test = {0};
    shift aug = {0};
    example_dist e;
    if (cli_parse(argc, argv, &o) || example_dist_begin(&e, &argc, &argv, o.prog))
        return 1;
    int ok = !cli_load(&o, &train, &test, &aug.fill);
    aug.pixels = o.shift;
    mlp m = {0};
    lg_rng rng;
    lg_rng_init(&rng, o.seed);
    lg_params *p = ok ? lg_params_new() : NULL;
    lg_linear_layer_init(&m.fc1, p, "fc1", 784, 256, true, LG_F32, &rng);
    lg_linear_layer_init(&m.fc2, p, "fc2", 256, 128, true, LG_F32, &rng);
    lg_linear_layer_init(&m.fc3, p, "fc3", 128, 10, true, LG_F32, &rng);
    if (ok && !m.fc3.weight)
        fprintf(stderr, "mnist_fit: cannot build the model: %s\n", lg_last_errmsg());
    if (example_dist_failed(&e, ok && m.fc3.weight)) {
        lg_params_free(p);
        cli_free_data(&train, &test);
        example_dist_end(&e);
        return 1;
    }

    lg_train_options t = lg_train_defaults(); /* Adam, cosine learning rate */
    t.epochs = o.epochs;
    t.batch_size = o.batch;
    t.optim.lr = o.lr;
    t.seed = o.seed + 1;
    t.val_fraction = o.val;
    t.patience = o.patience;
    t.csv = o.csv;
    t.steps_csv = o.steps_csv;
    t.plot = o.png;
    t.checkpoint = o.checkpoint;
    t.resume = o.resume;
    t.stop_after = o.stop_after;
    t.on_batch = augment;
    t.batch_ud = &aug;
    t.batch_draws_per_row = aug.pixels ? 2 : 0; /* lg_data_random_shift: 2 per image */
    t.progress = lg_train_progress_print;
    t.progress_ud = stderr;
    t.parallel = example_dist_parallel(&e);
    lg_train_result r;
    lg_status s = lg_train_fit(p, forward, &m, &train, &test, &t, &r);
    if (s != LG_OK && e.rank == 0) /* the same error on every rank */
        fprintf(stderr, "mnist_fit: %s\n", lg_last_errmsg());
    else if (s == LG_OK && e.rank == 0) {
        if (r.best_epoch)
            printf("best validation loss after epoch %d%s\n", r.best_epoch,
                   r.stopped_early ? " (stopped early)" : "");
        cli_result(&o, NULL, NULL, r.plot_status, r.test_accuracy, r.epoch, r.seconds,
                   r.samples_per_s);
    }
    lg_params_free(p);
    cli_free_data(&train, &test);
    example_dist_end(&e);
    return s != LG_OK;
}
