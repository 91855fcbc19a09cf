/* Shared by the image-classification examples (mnist, cnn): the command line, the epoch
 * loop with progress lines, CSV curves, checkpoints that resume exactly (parameters,
 * optimizer state, shuffling RNG), evaluation and the final RESULT line. A program supplies
 * its model (a parameter store and a forward function) and its defaults.
 * Header-only, on lagrad's public headers alone. */
#ifndef LAGRAD_EXAMPLE_TRAIN_H
#define LAGRAD_EXAMPLE_TRAIN_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lagrad/lagrad.h"
#include "lagrad/data.h"
#include "example_mlp.h"

typedef struct train_options {
    const char *prog, *data, *name, *csv, *ckpt;
    int epochs, batch, threads, resume;
    int64_t train_limit, test_limit; /* 0: all */
    int shift;                       /* augmentation: max random shift in pixels */
    int stop_after;                  /* stop after this epoch (0: train all epochs) */
    int min_batch;                   /* smallest batch the model accepts (batch norm: 2) */
    double lr;
    uint64_t seed;
} train_options;

/* What the loop trains: logits (rows, classes) from images x (rows, 784), and the rows per
 * evaluation chunk (the graph's arena keeps the peak of the largest chunk). */
typedef struct train_model {
    lg_params *p;
    const void *ctx;
    lg_tensor *(*forward)(lg_graph *g, const void *ctx, lg_tensor *x);
    int64_t eval_rows;
} train_model;

/* The options common to the training examples; o holds the program's defaults. */
static inline void train_usage(const train_options *o)
{
    printf("usage: %s [--data DIR] [--epochs N] [--batch N] [--lr X] [--threads N] [--seed N]\n"
           "       [--csv FILE] [--checkpoint FILE] [--resume] [--train-limit N]\n"
           "       [--test-limit N] [--shift N] [--stop-after N]\n"
           "  --data DIR  an MNIST-format folder: {train,t10k}-{images-idx3,labels-idx1}-ubyte\n"
           "              (optionally .gz); default %s\n"
           "  --train-limit N, --test-limit N  use only the first N samples of a split\n"
           "  --shift N   augment: move each training image by up to N pixels (0: off)\n"
           "  --stop-after N  stop after epoch N as if interrupted (the learning-rate\n"
           "              schedule still spans --epochs); go on later with --resume\n"
           "  defaults: %d epochs, batch %d, Adam lr %g on a cosine schedule, shift %d,\n"
           "  %d thread(s), seed %llu, %s, %s (and the optimizer state in %s.optim)\n",
           o->prog, o->data, o->epochs, o->batch, o->lr, o->shift, o->threads,
           (unsigned long long)o->seed, o->csv, o->ckpt, o->ckpt);
}

/* The options that take a value, each followed by a space. */
#define TRAIN_VALUED_OPTIONS                                                              \
    "--data --epochs --batch --lr --threads --seed --csv --checkpoint --train-limit "     \
    "--test-limit --shift --stop-after "

/* Parses argv over the defaults in *o; 0 on success, 1 after a message on stderr. */
static inline int train_parse(int argc, char **argv, train_options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) { train_usage(o); exit(0); }
        else if (!strcmp(a, "--resume")) { o->resume = 1; continue; }
        if (strncmp(a, "--", 2) || !strstr(TRAIN_VALUED_OPTIONS, a) ||
            strstr(TRAIN_VALUED_OPTIONS, a)[strlen(a)] != ' ') {
            fprintf(stderr, "%s: unknown option %s (see --help)\n", o->prog, a);
            return 1;
        }
        if (!v) {
            fprintf(stderr, "%s: %s needs a value (see --help)\n", o->prog, a);
            return 1;
        }
        if (!strcmp(a, "--data")) o->data = v;
        else if (!strcmp(a, "--epochs")) o->epochs = atoi(v);
        else if (!strcmp(a, "--batch")) o->batch = atoi(v);
        else if (!strcmp(a, "--lr")) o->lr = atof(v);
        else if (!strcmp(a, "--threads")) o->threads = atoi(v);
        else if (!strcmp(a, "--seed")) o->seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--csv")) o->csv = v;
        else if (!strcmp(a, "--checkpoint")) o->ckpt = v;
        else if (!strcmp(a, "--train-limit")) o->train_limit = atoll(v);
        else if (!strcmp(a, "--test-limit")) o->test_limit = atoll(v);
        else if (!strcmp(a, "--shift")) o->shift = atoi(v);
        else if (!strcmp(a, "--stop-after")) o->stop_after = atoi(v);
        else {
            fprintf(stderr, "%s: unknown option %s (see --help)\n", o->prog, a);
            return 1;
        }
        i++;
    }
    if (o->epochs < 1 || o->batch < o->min_batch || o->threads < 1 || !(o->lr > 0) ||
        o->train_limit < 0 || o->test_limit < 0 || o->shift < 0 || o->shift > 13 ||
        o->stop_after < 0) {
        fprintf(stderr, "%s: need epochs and threads >= 1, batch >= %d, lr > 0, limits and "
                "--stop-after >= 0, shift in [0, 13]\n", o->prog, o->min_batch);
        return 1;
    }
    o->name = strstr(o->data, "fashion") ? "fashion-mnist" : "mnist";
    return 0;
}

typedef struct trainer {
    const train_options *o;
    const train_model *m;
    lg_graph *g;
    lg_optim *opt;
    lg_tensor *x;
    lg_tensor *y;          /* (batch) i32 labels */
    int64_t *perm;
    lg_rng rng;
    double background;     /* a 0 pixel after standardising: the augmentation's fill */
    char optim_path[4096]; /* "<checkpoint>.optim": Adam's moments, the step, the RNG */
} trainer;

/* Test accuracy in eval mode (batch norm on running statistics), without recording, in
 * chunks of m->eval_rows; -1 on failure. */
static inline double train_evaluate(trainer *t, const lg_dataset *test)
{
    int64_t correct = 0, chunk = t->m->eval_rows;
    bool prev_grad = lg_graph_set_grad_enabled(t->g, false);
    bool prev_train = lg_graph_set_training(t->g, false);
    const float *images = lg_tensor_cdata(test->images);
    for (int64_t start = 0; start < test->n; start += chunk) {
        int64_t rows = test->n - start < chunk ? test->n - start : chunk;
        lg_graph_reset(t->g);
        lg_tensor *x = lg_graph_input(t->g, LG_F32, 2, (int64_t[]){rows, test->features},
                                      images + start * test->features);
        lg_tensor *logits = t->m->forward(t->g, t->m->ctx, x);
        lg_tensor *y = lg_graph_input(t->g, LG_I32, 1, &rows,
                                      (const int32_t *)lg_tensor_cdata(test->labels) + start);
        int64_t right = 0;
        if (!logits || !y || lg_accuracy(logits, y, &right, NULL) != LG_OK)
            break;
        correct += right;
    }
    if (lg_graph_status(t->g) != LG_OK)
        fprintf(stderr, "%s: evaluation failed: %s\n", t->o->prog, lg_graph_errmsg(t->g));
    lg_graph_set_training(t->g, prev_train);
    lg_graph_set_grad_enabled(t->g, prev_grad);
    return lg_graph_status(t->g) == LG_OK && test->n ? (double)correct / (double)test->n : -1;
}

/* Saves the parameters, then the optimizer state with the epoch and the shuffling RNG's
 * counter, each atomically; resume checks the two epochs agree. */
static inline void train_save(const trainer *t, int epoch)
{
    char e[16], rc[24];
    snprintf(e, sizeof e, "%d", epoch);
    snprintf(rc, sizeof rc, "%llu", (unsigned long long)t->rng.counter);
    const char *meta[4] = {"epoch", e, "rng_counter", rc};
    if (lg_checkpoint_save(t->m->p, t->o->ckpt, NULL, meta, 1) != LG_OK ||
        lg_optim_save(t->opt, t->optim_path, meta, 2) != LG_OK)
        fprintf(stderr, "%s: checkpoint not saved: %s\n", t->o->prog, lg_last_errmsg());
}

/* The epoch to go on from: 0 without --resume, -1 on error. Restores the parameters, the
 * optimizer (moments and step) and the RNG, so a resumed run matches an unbroken one. */
static inline int train_resume(trainer *t)
{
    const train_options *o = t->o;
    if (!o->resume)
        return 0;
    lg_checkpoint *pc = NULL, *oc = NULL;
    if (lg_checkpoint_load(t->m->p, o->ckpt, NULL, true) != LG_OK ||
        lg_optim_load(t->opt, t->optim_path) != LG_OK ||
        lg_checkpoint_open(o->ckpt, &pc) != LG_OK ||
        lg_checkpoint_open(t->optim_path, &oc) != LG_OK) {
        fprintf(stderr, "%s: cannot resume from %s: %s\n", o->prog, o->ckpt, lg_last_errmsg());
        lg_checkpoint_close(pc);
        return -1;
    }
    const char *pe = lg_checkpoint_metadata_get(pc, "epoch");
    const char *oe = lg_checkpoint_metadata_get(oc, "epoch");
    const char *rc = lg_checkpoint_metadata_get(oc, "rng_counter");
    int epoch = pe && oe && rc && !strcmp(pe, oe) ? atoi(pe) : -1;
    if (epoch < 0)
        fprintf(stderr, "%s: cannot resume: %s and %s are from different epochs (%s, %s)\n",
                o->prog, o->ckpt, t->optim_path, pe ? pe : "none", oe ? oe : "none");
    else
        t->rng.counter = strtoull(rc, NULL, 10);
    lg_checkpoint_close(pc);
    lg_checkpoint_close(oc);
    if (epoch >= 0)
        printf("resumed from %s after epoch %d (optimizer step %lld)\n", o->ckpt, epoch,
               (long long)lg_optim_steps(t->opt));
    return epoch;
}

/* One epoch over the shuffled training set (the last partial batch is dropped). */
static inline int train_epoch(trainer *t, const lg_dataset *train, int64_t *step,
                              int64_t total, double *loss, double *acc)
{
    const train_options *o = t->o;
    int64_t nb = train->n / o->batch, correct = 0;
    double sum = 0;
    lg_data_shuffle(t->perm, train->n, &t->rng);
    for (int64_t bi = 0; bi < nb; bi++) {
        lg_dataset_batch(train, t->perm, o->batch, bi, t->x, t->y);
        if (o->shift)
            lg_data_random_shift(t->x, 28, 28, o->shift, t->background, &t->rng);
        lg_graph_reset(t->g); /* gradients are zero: the optimizer zeroes them (zero_grad) */
        lg_tensor *logits = t->m->forward(t->g, t->m->ctx, t->x);
        lg_tensor *l = lg_cross_entropy(t->g, logits, t->y);
        if (!l || lg_backward(t->g, l) != LG_OK) {
            fprintf(stderr, "%s: %s\n", o->prog, lg_graph_errmsg(t->g));
            return 1;
        }
        lg_optim_set_lr(t->opt, cosine_lr(o->lr, (*step)++, total));
        lg_optim_step(t->opt);
        sum += lg_tensor_item(l, 0);
        int64_t right = 0;
        lg_accuracy(logits, t->y, &right, NULL);
        correct += right;
    }
    *loss = sum / (double)nb;
    *acc = (double)correct / (double)(nb * o->batch);
    return 0;
}

/* The epochs, from the resumed one to --stop-after or --epochs, then the RESULT line. */
static inline int train_epochs(trainer *t, const lg_dataset *train, const lg_dataset *test)
{
    const train_options *o = t->o;
    int first = train_resume(t);
    if (first < 0)
        return 1;
    FILE *csv = fopen(o->csv, first ? "a" : "w");
    if (!csv) {
        fprintf(stderr, "%s: cannot write %s\n", o->prog, o->csv);
        return 1;
    }
    if (!first)
        fprintf(csv, "epoch,train_loss,train_accuracy,test_accuracy,seconds\n");
    int64_t per_epoch = train->n / o->batch, total = (int64_t)o->epochs * per_epoch;
    int64_t step = first * per_epoch;
    int last = o->stop_after && o->stop_after < o->epochs ? o->stop_after : o->epochs;
    double t0 = now_s(), test_acc = 0, train_s = 0;
    for (int e = first + 1; e <= last; e++) {
        double loss, acc, e0 = now_s();
        if (train_epoch(t, train, &step, total, &loss, &acc)) {
            fclose(csv);
            return 1;
        }
        double dt = now_s() - e0;
        train_s += dt;
        test_acc = train_evaluate(t, test);
        printf("epoch %2d/%d  loss %.4f  train acc %.4f  test acc %.4f  %.0f samples/s\n", e,
               o->epochs, loss, acc, test_acc, (double)(per_epoch * o->batch) / dt);
        fflush(stdout);
        fprintf(csv, "%d,%.6f,%.6f,%.6f,%.3f\n", e, loss, acc, test_acc, now_s() - t0);
        fflush(csv);
        train_save(t, e);
    }
    fclose(csv);
    if (first >= last)
        test_acc = train_evaluate(t, test);
    int trained = last > first ? last - first : 0;
    double sps = train_s > 0 ? (double)trained * (double)(per_epoch * o->batch) / train_s : 0;
    printf("RESULT dataset=%s test_accuracy=%.4f epochs=%d seconds=%.1f samples_per_s=%.0f\n",
           o->name, test_acc, first > last ? first : last, now_s() - t0, sps);
    return test_acc < 0;
}

/* Loads and standardises the data, makes Adam, the graph and the batch buffers, prints the
 * header line (`about` describes the model), trains, and frees what it made (not the
 * model). Returns the process status. */
static inline int train_main(const train_options *o, const train_model *m, const char *about)
{
    lg_set_num_threads(o->threads);
    lg_dataset train = {0}, test = {0};
    trainer t = {.o = o, .m = m};
    if (load_data_standardized(o->prog, o->data, &train, &test, &t.background))
        return 1;
    /* views of the first samples; the full sets stay whole for lg_dataset_free */
    lg_dataset train_view = train, test_view = test;
    if (o->train_limit && o->train_limit < train.n)
        train_view.n = o->train_limit;
    if (o->test_limit && o->test_limit < test.n)
        test_view.n = o->test_limit;
    int status = 1;
    if (train.features != 784 || train_view.n < o->batch) {
        fprintf(stderr, "%s: need 28x28 images and at least one batch of %d, got %lld of %lld "
                "pixels\n", o->prog, o->batch, (long long)train_view.n,
                (long long)train.features);
        goto done;
    }
    snprintf(t.optim_path, sizeof t.optim_path, "%s.optim", o->ckpt);
    lg_rng_init(&t.rng, o->seed + 1);
    lg_optim_config c = lg_optim_defaults(LG_OPTIM_ADAM);
    c.lr = o->lr;
    c.zero_grad = true; /* the update clears each gradient in its own pass */
    t.opt = lg_optim_new(m->p, &c);
    t.g = lg_graph_new();
    t.x = lg_tensor_new(LG_F32, 2, (int64_t[]){o->batch, train.features});
    t.y = lg_tensor_new(LG_I32, 1, (int64_t[]){o->batch});
    t.perm = malloc(sizeof *t.perm * (size_t)train.n);
    if (!t.opt || !t.g || !t.x || !t.y || !t.perm) {
        fprintf(stderr, "%s: setup failed: %s\n", o->prog, lg_last_errmsg());
        goto done;
    }
    printf("%s: %lld train / %lld test samples, %s (%lld parameters), batch %d, Adam lr %g "
           "cosine, shift %d, %d thread(s)\n", o->name, (long long)train_view.n,
           (long long)test_view.n, about, (long long)lg_params_numel(m->p, true), o->batch,
           o->lr, o->shift, o->threads);
    status = train_epochs(&t, &train_view, &test_view);
done:
    lg_tensor_free(t.y);
    free(t.perm);
    lg_tensor_free(t.x);
    lg_graph_free(t.g);
    lg_optim_free(t.opt);
    lg_dataset_free(&train);
    lg_dataset_free(&test);
    return status;
}

#endif
