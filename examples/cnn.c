/* examples/cnn: a small CNN (two conv + batch-norm + ReLU + max-pool blocks and a linear
 * head, 50K parameters; examples/cnn_model.h) trained on Fashion-MNIST (or any
 * MNIST-format folder) by lg_train_fit (lagrad/train.h): Adam on a cosine learning rate,
 * evaluation in eval mode (batch norm on its running statistics), a progress bar on stderr
 * (a line every 10 s in a log), the curves in a CSV file and a PNG, and a checkpoint
 * (parameters with the batch-norm buffers, and the optimizer state) after every epoch that
 * --resume goes on from exactly. Ends with a machine-readable RESULT line; --help lists
 * the options. Under mpirun -np N (built with lagrad_dist) the same flags train
 * data-parallel: --batch is the global batch, rank 0 prints and writes the files
 * (examples/example_dist.h); batch norm keeps per-rank statistics (lagrad/train.h). */
#include <stdio.h>
#include "lagrad/lagrad.h"
#include "example_cli.h"
#include "example_dist.h"
#include "cnn_model.h"

static lg_tensor *forward(lg_graph *g, void *ctx, lg_tensor *x)
{
    return cnn_model_forward(g, ctx, x);
}

int main(int argc, char **argv)
{
    cli o = {.prog = "cnn", .data = "/usr/share/datasets/fashion-mnist", .epochs = 8,
             .csv = "cnn_curves.csv", .checkpoint = "cnn.safetensors", .batch = 64,
             .threads = 1, .min_batch = 2, .lr = 1e-3, .seed = 42, .fit = 1};
    lg_dataset train = {0}, test = {0};
    double fill;
    example_dist e;
    if (cli_parse(argc, argv, &o) || example_dist_begin(&e, &argc, &argv, o.prog))
        return 1;
    cnn_model m = {0};
    int ok = !cli_load(&o, &train, &test, &fill);
    ok = ok && !cnn_model_init(&m, o.seed, o.prog);
    if (example_dist_failed(&e, ok)) {
        lg_params_free(m.p);
        cli_free_data(&train, &test);
        example_dist_end(&e);
        return 1;
    }
    if (o.shift && e.rank == 0)
        fprintf(stderr, "cnn: --shift is not used here\n");
    if (e.rank == 0)
        printf("%s: %lld train / %lld test samples, CNN 2x(conv3x3+BN+ReLU+maxpool)+linear "
               "(%lld parameters), batch %d, Adam lr %g cosine, %d thread(s)%s\n", o.name,
               (long long)train.n, (long long)test.n, (long long)lg_params_numel(m.p, true),
               o.batch, o.lr, o.threads, e.size > 1 ? " per process" : "");
    if (e.size > 1 && e.rank == 0)
        printf("data parallel: %d processes, global batch %d\n", e.size, o.batch);
    lg_train_options t = lg_train_defaults();
    t.epochs = o.epochs;
    t.batch_size = o.batch;
    t.optim.lr = o.lr;
    t.seed = o.seed + 1;
    t.val_fraction = o.val;
    t.patience = o.patience;
    /* 250 rows per evaluation chunk: 1,000 would hold ~100 MB per conv1-sized activation,
     * and the graph's arena keeps its peak */
    t.eval_batch = 250;
    t.csv = o.csv;
    t.steps_csv = o.steps_csv;
    t.plot = o.png;
    t.checkpoint = o.checkpoint;
    t.resume = o.resume;
    t.stop_after = o.stop_after;
    t.progress = lg_train_progress_print;
    t.progress_ud = stderr;
    t.parallel = example_dist_parallel(&e);
    lg_train_result r;
    lg_status s = lg_train_fit(m.p, forward, &m, &train, &test, &t, &r);
    if (s != LG_OK && e.rank == 0) /* the same error on every rank */
        fprintf(stderr, "cnn: %s\n", lg_last_errmsg());
    else if (s == LG_OK && e.rank == 0)
        cli_result(&o, NULL, NULL, r.plot_status, r.test_accuracy, r.epoch, r.seconds,
                   r.samples_per_s);
    lg_params_free(m.p);
    cli_free_data(&train, &test);
    example_dist_end(&e);
    return s != LG_OK;
}
