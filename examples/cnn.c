/* examples/cnn: a small CNN (two conv + batch-norm + ReLU + max-pool blocks and a linear
 * head, 50K parameters; examples/cnn_model.h) trained with Adam and a cosine learning rate
 * on Fashion-MNIST (or any MNIST-format folder). Tests in eval mode, so batch norm uses its
 * running statistics. Prints one line per epoch, writes the curves to a CSV file and a
 * checkpoint (parameters with the batch-norm buffers, and the optimizer state) after every
 * epoch, can resume from them, and ends with a machine-readable RESULT line. --help lists
 * the options. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lagrad/lagrad.h"
#include "lagrad/data.h"
#include "example_mlp.h"
#include "cnn_model.h"

typedef struct options {
    const char *data, *name, *csv, *ckpt;
    int epochs, batch, threads, resume;
    int64_t train_limit, test_limit; /* 0: all */
    double lr;
    uint64_t seed;
} options;

static void usage(void)
{
    printf("usage: cnn [--data DIR] [--epochs N] [--batch N] [--lr X] [--threads N]\n"
           "           [--seed N] [--csv FILE] [--checkpoint FILE] [--resume]\n"
           "           [--train-limit N] [--test-limit N]\n"
           "  --data DIR  an MNIST-format folder: {train,t10k}-{images-idx3,labels-idx1}-ubyte\n"
           "              (optionally .gz); default /usr/share/datasets/fashion-mnist\n"
           "  --train-limit N, --test-limit N  use only the first N samples of a split\n"
           "  defaults: 8 epochs, batch 64, Adam lr 1e-3 on a cosine schedule, 1 thread,\n"
           "  cnn_curves.csv, cnn.safetensors (and the optimizer state in\n"
           "  cnn.safetensors.optim)\n");
}

static int parse(int argc, char **argv, options *o)
{
    *o = (options){"/usr/share/datasets/fashion-mnist", NULL, "cnn_curves.csv",
                   "cnn.safetensors", 8, 64, 1, 0, 0, 0, 1e-3, 42};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) { usage(); exit(0); }
        else if (!strcmp(a, "--resume")) { o->resume = 1; continue; }
        if (!v) { fprintf(stderr, "cnn: %s needs a value (see --help)\n", a); return 1; }
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
        else { fprintf(stderr, "cnn: unknown option %s (see --help)\n", a); return 1; }
        i++;
    }
    if (o->epochs < 1 || o->batch < 2 || o->threads < 1 || !(o->lr > 0) ||
        o->train_limit < 0 || o->test_limit < 0) {
        fprintf(stderr, "cnn: epochs and threads must be >= 1, batch >= 2 (batch norm), "
                        "lr > 0 and limits >= 0\n");
        return 1;
    }
    o->name = strstr(o->data, "fashion") ? "fashion-mnist" : "mnist";
    return 0;
}

/* Test accuracy in eval mode (running statistics) without recording, 250 rows at a time:
 * a 1,000-row chunk (eval_chunk's) would hold ~100 MB per conv1-sized activation, and the
 * graph's arena keeps its peak. */
static double evaluate(lg_graph *g, const lg_dataset *test, const cnn_model *m)
{
    int correct = 0;
    bool prev_grad = lg_graph_set_grad_enabled(g, false);
    bool prev_train = lg_graph_set_training(g, false);
    const float *images = lg_tensor_cdata(test->images);
    for (int64_t start = 0; start < test->n; start += 250) {
        int64_t rows = test->n - start < 250 ? test->n - start : 250;
        lg_graph_reset(g);
        lg_tensor *x = lg_graph_input(g, LG_F32, 2, (int64_t[]){rows, test->features},
                                      images + start * test->features);
        lg_tensor *logits = cnn_model_forward(g, m, x);
        if (!logits)
            break;
        correct += count_correct(logits, test->labels + start, rows);
    }
    if (lg_graph_status(g) != LG_OK)
        fprintf(stderr, "cnn: evaluation failed: %s\n", lg_graph_errmsg(g));
    lg_graph_set_training(g, prev_train);
    lg_graph_set_grad_enabled(g, prev_grad);
    return lg_graph_status(g) == LG_OK && test->n ? (double)correct / (double)test->n : -1;
}

typedef struct trainer {
    const options *o;
    lg_graph *g;
    cnn_model m;
    lg_optim *opt;
    lg_tensor *x;
    int32_t *y;
    int64_t *perm;
    lg_rng rng;
    char optim_path[4096]; /* "<checkpoint>.optim": Adam's moments, the step, the RNG */
} trainer;

/* The parameters with the batch-norm buffers, then the optimizer state with the epoch and
 * the shuffling RNG's counter, each written atomically. */
static void save_checkpoint(const trainer *t, int epoch)
{
    char e[16], rc[24];
    snprintf(e, sizeof e, "%d", epoch);
    snprintf(rc, sizeof rc, "%llu", (unsigned long long)t->rng.counter);
    const char *meta[4] = {"epoch", e, "rng_counter", rc};
    if (lg_checkpoint_save(t->m.p, t->o->ckpt, NULL, meta, 1) != LG_OK ||
        lg_optim_save(t->opt, t->optim_path, meta, 2) != LG_OK)
        fprintf(stderr, "cnn: checkpoint not saved: %s\n", lg_last_errmsg());
}

/* The epoch to go on from: 0 without --resume, -1 on error. */
static int resume_epoch(trainer *t)
{
    if (!t->o->resume)
        return 0;
    lg_checkpoint *pc = NULL, *oc = NULL;
    int epoch = -1;
    if (lg_checkpoint_load(t->m.p, t->o->ckpt, NULL, true) == LG_OK &&
        lg_optim_load(t->opt, t->optim_path) == LG_OK &&
        lg_checkpoint_open(t->o->ckpt, &pc) == LG_OK &&
        lg_checkpoint_open(t->optim_path, &oc) == LG_OK) {
        const char *pe = lg_checkpoint_metadata_get(pc, "epoch");
        const char *oe = lg_checkpoint_metadata_get(oc, "epoch");
        const char *rc = lg_checkpoint_metadata_get(oc, "rng_counter");
        if (pe && oe && rc && !strcmp(pe, oe)) {
            epoch = atoi(pe);
            t->rng.counter = strtoull(rc, NULL, 10);
        } else {
            fprintf(stderr, "cnn: cannot resume: %s and %s are from different epochs\n",
                    t->o->ckpt, t->optim_path);
        }
    } else {
        fprintf(stderr, "cnn: cannot resume from %s: %s\n", t->o->ckpt, lg_last_errmsg());
    }
    lg_checkpoint_close(pc);
    lg_checkpoint_close(oc);
    if (epoch >= 0)
        printf("resumed from %s after epoch %d (optimizer step %lld)\n", t->o->ckpt, epoch,
               (long long)lg_optim_steps(t->opt));
    return epoch;
}

/* One epoch over the shuffled training set (the last partial batch is dropped). */
static int train_epoch(trainer *t, const lg_dataset *train, int64_t *step, int64_t total,
                       double *loss, double *acc)
{
    int64_t nb = train->n / t->o->batch, correct = 0;
    double sum = 0;
    lg_data_shuffle(t->perm, train->n, &t->rng);
    for (int64_t bi = 0; bi < nb; bi++) {
        lg_dataset_batch(train, t->perm, t->o->batch, bi, t->x, t->y);
        lg_graph_reset(t->g);
        lg_params_zero_grad(t->m.p);
        lg_tensor *logits = cnn_model_forward(t->g, &t->m, t->x);
        lg_tensor *l = lg_cross_entropy(t->g, logits, t->y);
        if (!l || lg_backward(t->g, l) != LG_OK) {
            fprintf(stderr, "cnn: %s\n", lg_graph_errmsg(t->g));
            return 1;
        }
        lg_optim_set_lr(t->opt, cosine_lr(t->o->lr, (*step)++, total));
        lg_optim_step(t->opt);
        sum += lg_tensor_item(l, 0);
        correct += count_correct(logits, t->y, t->o->batch);
    }
    *loss = sum / (double)nb;
    *acc = (double)correct / (double)(nb * t->o->batch);
    return 0;
}

static int run(const options *o, trainer *t, const lg_dataset *train, const lg_dataset *test)
{
    int first = resume_epoch(t);
    if (first < 0)
        return 1;
    FILE *csv = fopen(o->csv, first ? "a" : "w");
    if (!csv) {
        fprintf(stderr, "cnn: cannot write %s\n", o->csv);
        return 1;
    }
    if (!first)
        fprintf(csv, "epoch,train_loss,train_accuracy,test_accuracy,seconds\n");
    int64_t per_epoch = train->n / o->batch, total = (int64_t)o->epochs * per_epoch;
    int64_t step = first * per_epoch;
    double t0 = now_s(), test_acc = 0, train_s = 0;
    for (int e = first + 1; e <= o->epochs; e++) {
        double loss, acc, e0 = now_s();
        if (train_epoch(t, train, &step, total, &loss, &acc)) {
            fclose(csv);
            return 1;
        }
        double dt = now_s() - e0;
        train_s += dt;
        test_acc = evaluate(t->g, test, &t->m);
        printf("epoch %2d/%d  loss %.4f  train acc %.4f  test acc %.4f  %.0f samples/s\n", e,
               o->epochs, loss, acc, test_acc, (double)(per_epoch * o->batch) / dt);
        fflush(stdout);
        fprintf(csv, "%d,%.6f,%.6f,%.6f,%.3f\n", e, loss, acc, test_acc, now_s() - t0);
        fflush(csv);
        save_checkpoint(t, e);
    }
    fclose(csv);
    if (first >= o->epochs)
        test_acc = evaluate(t->g, test, &t->m);
    int trained = o->epochs > first ? o->epochs - first : 0;
    double sps = train_s > 0 ? (double)trained * (double)(per_epoch * o->batch) / train_s : 0;
    printf("RESULT dataset=%s test_accuracy=%.4f epochs=%d seconds=%.1f samples_per_s=%.0f\n",
           o->name, test_acc, first > o->epochs ? first : o->epochs, now_s() - t0, sps);
    return test_acc < 0;
}

int main(int argc, char **argv)
{
    options o;
    if (parse(argc, argv, &o))
        return 1;
    lg_set_num_threads(o.threads);
    lg_dataset train = {0}, test = {0};
    if (load_data_normalized("cnn", o.data, &train, &test))
        return 1;
    lg_dataset train_view = train, test_view = test; /* views; the full sets are freed */
    if (o.train_limit && o.train_limit < train.n)
        train_view.n = o.train_limit;
    if (o.test_limit && o.test_limit < test.n)
        test_view.n = o.test_limit;
    int status = 1;
    trainer t = {.o = &o};
    if (train.features != 784 || train_view.n < o.batch) {
        fprintf(stderr, "cnn: need 28x28 images and at least one batch of %d, got %lld of "
                "%lld pixels\n", o.batch, (long long)train_view.n, (long long)train.features);
        goto done;
    }
    snprintf(t.optim_path, sizeof t.optim_path, "%s.optim", o.ckpt);
    lg_rng_init(&t.rng, o.seed + 1);
    if (cnn_model_init(&t.m, o.seed, "cnn"))
        goto done;
    lg_optim_config c = lg_optim_defaults(LG_OPTIM_ADAM);
    c.lr = o.lr;
    t.opt = lg_optim_new(t.m.p, &c);
    t.g = lg_graph_new();
    t.x = lg_tensor_new(LG_F32, 2, (int64_t[]){o.batch, 784});
    t.y = malloc(sizeof *t.y * (size_t)o.batch);
    t.perm = malloc(sizeof *t.perm * (size_t)train.n);
    if (!t.opt || !t.g || !t.x || !t.y || !t.perm) {
        fprintf(stderr, "cnn: setup failed: %s\n", lg_last_errmsg());
        goto done;
    }
    printf("%s: %lld train / %lld test samples, CNN 2x(conv3x3+BN+ReLU+maxpool)+linear (%lld "
           "parameters), batch %d, Adam lr %g cosine, %d thread(s)\n", o.name,
           (long long)train_view.n, (long long)test_view.n,
           (long long)lg_params_numel(t.m.p, true), o.batch, o.lr, o.threads);
    status = run(&o, &t, &train_view, &test_view);
done:
    free(t.y);
    free(t.perm);
    lg_tensor_free(t.x);
    lg_graph_free(t.g);
    lg_optim_free(t.opt);
    lg_params_free(t.m.p);
    lg_dataset_free(&train);
    lg_dataset_free(&test);
    return status;
}
