/* examples/dist/mnist_dist: examples/mnist's MLP (784-256-128-10, ReLU, Adam on a cosine
 * learning rate, random shifts of up to --shift pixels) trained data-parallel over MPI with
 * lagrad_dist, with mnist's flags. --batch is the global batch: N processes at batch B
 * compute what one process computes at batch B (one global shuffled order, each rank a
 * contiguous shard of every batch, gradients averaged by rows, the shift drawn per global
 * sample), up to the rounding of the reduction. Rank 0 prints, writes the CSV curves and the
 * checkpoints; --resume has rank 0 read them and broadcast. Every rank reads the data
 * folder (on a cluster: a copy on each machine or a shared file system).
 *   OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
 *     mpirun -np 2 --oversubscribe build-dist/examples/dist/mnist_dist --epochs 2
 * --model cnn trains examples/cnn's network (examples/cnn_model.h) instead; its batch norm
 * keeps per-rank statistics (include/lagrad/dist.h), so it is not equal to one process,
 * and the checkpoint holds rank 0's running statistics.
 * The data is read with lg_idx_load and the loss is log-softmax against one-hot rows, so
 * the example stands on the lower-level API alone. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lagrad/dist.h"
#include "../cnn_model.h"

#define LAYERS 3
static const int64_t WIDTHS[LAYERS + 1] = {784, 256, 128, 10};

typedef struct options {
    const char *data, *csv, *ckpt, *model;
    int epochs, batch, threads, resume, shift, stop_after;
    int64_t train_limit, test_limit;
    double lr;
    unsigned long long seed;
} options;

/* One split in memory: n standardised images (n, 784) and their labels. */
typedef struct split {
    float *x;
    int32_t *y;
    int64_t n;
} split;

typedef struct mlp {
    lg_tensor *w[LAYERS], *b[LAYERS];
} mlp;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void usage(void)
{
    printf("usage: mpirun -np N mnist_dist [--data DIR] [--epochs N] [--batch N] [--lr X]\n"
           "       [--threads N] [--seed N] [--csv FILE] [--checkpoint FILE] [--resume]\n"
           "       [--train-limit N] [--test-limit N] [--shift N] [--stop-after N]\n"
           "       [--model mlp|cnn]\n"
           "  the flags of examples/mnist; --batch is the global batch (split over the N\n"
           "  processes), --threads the OpenMP threads of each process. Defaults: 15 epochs,\n"
           "  batch 128, Adam lr 1e-3 cosine, shift 1, 1 thread, seed 42, data\n"
           "  /usr/share/datasets/fashion-mnist, mnist_dist_curves.csv, mnist_dist.safetensors\n");
}

/* 0 on success; 1 after a message (rank 0 prints; every rank parses the same argv). */
static int parse(int argc, char **argv, options *o, int rank, int size)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) {
            if (rank == 0)
                usage();
            return 2;
        }
        if (!strcmp(a, "--resume")) {
            o->resume = 1;
            continue;
        }
        if (!v)
            goto bad;
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
        else if (!strcmp(a, "--model")) o->model = v;
        else goto bad;
        i++;
        continue;
    bad:
        if (rank == 0)
            fprintf(stderr, "mnist_dist: bad option %s (see --help)\n", a);
        return 1;
    }
    if (o->epochs < 1 || o->batch < size || o->threads < 1 || !(o->lr > 0) ||
        o->train_limit < 0 || o->test_limit < 0 || o->shift < 0 || o->shift > 13 ||
        o->stop_after < 0 || (strcmp(o->model, "mlp") && strcmp(o->model, "cnn")) ||
        (!strcmp(o->model, "cnn") && o->batch < 2 * size)) {
        if (rank == 0)
            fprintf(stderr, "mnist_dist: need epochs and threads >= 1, batch >= the %d "
                    "processes (2 per process with --model cnn: batch norm), lr > 0, limits "
                    "and --stop-after >= 0, shift in [0, 13], --model mlp or cnn\n", size);
        return 1;
    }
    return 0;
}

/* Reads <dir>/<name> or <dir>/<name>.gz. */
static lg_status load_idx(const char *dir, const char *name, lg_idx **out)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f)
        fclose(f);
    else
        snprintf(path, sizeof path, "%s/%s.gz", dir, name);
    return lg_idx_load(path, out);
}

/* The split `name` ("train", "t10k") of an MNIST-layout folder, at most `limit` samples
 * (0: all), as raw pixels in [0, 1]. On failure, err gets the reason. */
static lg_status load_split(const char *dir, const char *name, int64_t limit, split *s,
                            char *err, size_t err_len)
{
    char in[64], ln[64];
    snprintf(in, sizeof in, "%s-images-idx3-ubyte", name);
    snprintf(ln, sizeof ln, "%s-labels-idx1-ubyte", name);
    lg_idx *images = NULL, *labels = NULL;
    bool bad_shape = false;
    lg_status st = load_idx(dir, in, &images);
    if (st == LG_OK)
        st = load_idx(dir, ln, &labels);
    if (st == LG_OK && (images->ndim != 3 || images->dims[1] * images->dims[2] != 784 ||
                        labels->ndim != 1 || labels->dims[0] != images->dims[0]))
        bad_shape = true;
    if (bad_shape)
        st = LG_ERR_FORMAT;
    if (st == LG_OK) {
        s->n = limit && limit < images->dims[0] ? limit : images->dims[0];
        s->x = malloc(sizeof *s->x * (size_t)(s->n * 784));
        s->y = malloc(sizeof *s->y * (size_t)s->n);
        if (!s->x || !s->y)
            st = LG_ERR_OOM;
        for (int64_t i = 0; st == LG_OK && i < s->n * 784; i++)
            s->x[i] = (float)images->data[i] / 255.0f;
        for (int64_t i = 0; st == LG_OK && i < s->n; i++)
            s->y[i] = labels->data[i];
    }
    if (st != LG_OK)
        snprintf(err, err_len, "%s: %s", name, bad_shape ? "not 28x28 images with one label "
                 "each" : st == LG_ERR_OOM ? "out of memory" : lg_last_errmsg());
    lg_idx_free(images);
    lg_idx_free(labels);
    return st;
}

/* x = (x - mean) / std over both splits, with the training split's statistics. */
static double standardize(split *train, split *test)
{
    double sum = 0, sq = 0;
    int64_t n = train->n * 784;
    for (int64_t i = 0; i < n; i++) {
        sum += train->x[i];
        sq += (double)train->x[i] * train->x[i];
    }
    double mean = sum / (double)n, std = sqrt(sq / (double)n - mean * mean);
    split *both[2] = {train, test};
    for (int k = 0; k < 2; k++)
        for (int64_t i = 0; i < both[k]->n * 784; i++)
            both[k]->x[i] = (float)((both[k]->x[i] - mean) / std);
    return -mean / std; /* where a 0 pixel lands: the shift's fill */
}

/* examples/mnist's model: "fc<k>.weight" (out, in), "fc<k>.bias", U(-1/sqrt(in), ...). */
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
    for (int k = 0; p && k < LAYERS; k++) {
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

static lg_tensor *mlp_forward(lg_graph *g, const mlp *m, lg_tensor *x)
{
    lg_tensor *h = x;
    for (int k = 0; k < LAYERS; k++) {
        h = lg_linear(g, h, m->w[k], m->b[k]);
        if (k < LAYERS - 1)
            h = lg_relu(g, h);
    }
    return h;
}

/* Rows of the (rows, 10) logits whose first argmax equals the label (lg_accuracy). */
static int64_t count_correct(const lg_tensor *logits, const int32_t *y, int64_t rows)
{
    lg_tensor *labels = lg_tensor_wrap(LG_I32, 1, &rows, (void *)y);
    int64_t correct = 0;
    if (!labels || lg_accuracy(logits, labels, &correct, NULL) != LG_OK)
        correct = -1;
    lg_tensor_free(labels);
    return correct;
}

typedef struct trainer {
    const options *o;
    lg_dist *d;
    mlp m;
    cnn_model cnn;         /* with --model cnn */
    lg_params *p;
    lg_optim *opt;
    lg_graph *g;
    lg_tensor *x, *onehot; /* this rank's shard: (rows, 784), (rows, 10) */
    int32_t *y;
    int64_t *perm, rows;
    lg_rng rng;            /* shuffles and shifts, the same stream on every rank */
    double background;
    char optim_path[4200];
} trainer;

static lg_tensor *forward(trainer *t, lg_tensor *x)
{
    return t->cnn.p ? cnn_model_forward(t->g, &t->cnn, x) : mlp_forward(t->g, &t->m, x);
}

/* One epoch of global batches (the last partial one dropped, as examples/mnist does);
 * *loss and *acc are over all ranks. 0 on success. */
static int train_epoch(trainer *t, const split *train, int64_t *step, int64_t total,
                       double *loss, double *acc)
{
    const options *o = t->o;
    int64_t nb = train->n / o->batch;
    double sums[3] = {0, 0, 0}; /* loss · rows, correct, rows */
    if (lg_dist_shuffle(t->d, t->perm, train->n, &t->rng) != LG_OK)
        return 1;
    for (int64_t b = 0; b < nb; b++) {
        lg_dist_shard sh;
        lg_dist_batch_shard(t->d, train->n, o->batch, b, &sh);
        float *x = lg_tensor_data(t->x), *oh = lg_tensor_data(t->onehot);
        memset(oh, 0, sizeof *oh * (size_t)(sh.rows * 10));
        for (int64_t i = 0; i < sh.rows; i++) {
            int64_t s = t->perm[sh.begin + i];
            memcpy(x + i * 784, train->x + s * 784, sizeof *x * 784);
            t->y[i] = train->y[s];
            oh[i * 10 + t->y[i]] = 1;
        }
        if (o->shift) { /* two draws per image, numbered by its place in the global batch */
            lg_rng r = t->rng;
            r.counter += (uint64_t)(2 * sh.first_row);
            lg_data_random_shift(t->x, 28, 28, o->shift, t->background, &r);
            t->rng.counter += (uint64_t)(2 * sh.global_rows);
        }
        lg_graph_reset(t->g);
        lg_tensor *logits = forward(t, t->x);
        lg_tensor *ls = lg_log_softmax(t->g, logits, 1);
        lg_tensor *l = lg_neg(t->g, lg_mean(t->g, lg_sum_axis(t->g, lg_mul(t->g, ls, t->onehot),
                                                              1, false)));
        lg_status s = l ? lg_backward(t->g, l) : lg_graph_status(t->g);
        if (s != LG_OK)
            fprintf(stderr, "mnist_dist: rank %d: %s\n", lg_dist_rank(t->d),
                    lg_graph_errmsg(t->g));
        if (lg_dist_agree(t->d, s) != LG_OK ||
            lg_dist_allreduce_grads(t->d, t->p, sh.weight) != LG_OK)
            return 1;
        lg_optim_set_lr(t->opt, 0.5 * o->lr * (1 + cos(3.14159265358979323846 *
                                                        (double)(*step)++ / (double)total)));
        lg_optim_step(t->opt);
        sums[0] += lg_tensor_item(l, 0) * (double)sh.rows;
        sums[1] += (double)count_correct(logits, t->y, sh.rows);
        sums[2] += (double)sh.rows;
    }
    if (lg_dist_sum(t->d, sums, 3) != LG_OK)
        return 1;
    *loss = sums[0] / sums[2];
    *acc = sums[1] / sums[2];
    return 0;
}

/* Test accuracy over all ranks, each evaluating its contiguous share; -1 on failure. */
static double evaluate(trainer *t, const split *test)
{
    int k = lg_dist_rank(t->d), n = lg_dist_size(t->d);
    int64_t lo = test->n * k / n, hi = test->n * (k + 1) / n;
    double c[2] = {0, (double)test->n};
    int64_t chunk = t->cnn.p ? 250 : 1000; /* the arena keeps the largest chunk's peak */
    bool prev = lg_graph_set_grad_enabled(t->g, false);
    bool prev_train = lg_graph_set_training(t->g, false); /* batch norm: running stats */
    for (int64_t start = lo; start < hi; start += chunk) {
        int64_t rows = hi - start < chunk ? hi - start : chunk;
        lg_graph_reset(t->g);
        lg_tensor *x = lg_graph_input(t->g, LG_F32, 2, (int64_t[]){rows, 784},
                                      test->x + start * 784);
        lg_tensor *logits = forward(t, x);
        if (!logits)
            break;
        c[0] += (double)count_correct(logits, test->y + start, rows);
    }
    lg_graph_set_training(t->g, prev_train);
    lg_graph_set_grad_enabled(t->g, prev);
    lg_status s = lg_dist_agree(t->d, lg_graph_status(t->g));
    if (s == LG_OK)
        s = lg_dist_sum(t->d, c, 1);
    return s == LG_OK && test->n ? c[0] / c[1] : -1;
}

/* Rank 0 writes the parameters, then the optimizer state with the epoch and the RNG
 * counter (each atomically); every rank learns whether it worked. */
static int save(trainer *t, int epoch)
{
    char e[16], rc[24];
    snprintf(e, sizeof e, "%d", epoch);
    snprintf(rc, sizeof rc, "%llu", (unsigned long long)t->rng.counter);
    const char *meta[4] = {"epoch", e, "rng_counter", rc};
    if (lg_dist_checkpoint_save(t->d, t->p, t->o->ckpt, NULL, meta, 1) != LG_OK ||
        lg_dist_optim_save(t->d, t->opt, t->optim_path, meta, 2) != LG_OK) {
        if (lg_dist_rank(t->d) == 0)
            fprintf(stderr, "mnist_dist: checkpoint not saved: %s\n", lg_last_errmsg());
        return 1;
    }
    return 0;
}

/* The epoch to go on from (0 without --resume), or -1: rank 0 reads both files and the
 * metadata, and broadcasts. */
static int resume(trainer *t)
{
    if (!t->o->resume)
        return 0;
    if (lg_dist_checkpoint_load(t->d, t->p, t->o->ckpt, NULL, true) != LG_OK ||
        lg_dist_optim_load(t->d, t->opt, t->optim_path) != LG_OK) {
        if (lg_dist_rank(t->d) == 0)
            fprintf(stderr, "mnist_dist: cannot resume: %s\n", lg_last_errmsg());
        return -1;
    }
    long long meta[2] = {-1, 0}; /* epoch, rng counter */
    if (lg_dist_rank(t->d) == 0) {
        lg_checkpoint *pc = NULL, *oc = NULL;
        if (lg_checkpoint_open(t->o->ckpt, &pc) == LG_OK &&
            lg_checkpoint_open(t->optim_path, &oc) == LG_OK) {
            const char *pe = lg_checkpoint_metadata_get(pc, "epoch");
            const char *oe = lg_checkpoint_metadata_get(oc, "epoch");
            const char *rc = lg_checkpoint_metadata_get(oc, "rng_counter");
            if (pe && oe && rc && !strcmp(pe, oe)) {
                meta[0] = atoll(pe);
                meta[1] = (long long)strtoull(rc, NULL, 10);
            }
        }
        if (meta[0] < 0)
            fprintf(stderr, "mnist_dist: cannot resume: %s and %s are not from one epoch\n",
                    t->o->ckpt, t->optim_path);
        lg_checkpoint_close(pc);
        lg_checkpoint_close(oc);
    }
    if (lg_dist_broadcast(t->d, meta, sizeof meta) != LG_OK || meta[0] < 0)
        return -1;
    t->rng.counter = (uint64_t)meta[1];
    if (lg_dist_rank(t->d) == 0)
        printf("resumed from %s after epoch %lld (optimizer step %lld)\n", t->o->ckpt,
               meta[0], (long long)lg_optim_steps(t->opt));
    return (int)meta[0];
}

static int run(trainer *t, const split *train, const split *test)
{
    const options *o = t->o;
    bool root = lg_dist_rank(t->d) == 0;
    int first = resume(t);
    if (first < 0)
        return 1;
    FILE *csv = NULL;
    if (root && !(csv = fopen(o->csv, first ? "a" : "w")))
        fprintf(stderr, "mnist_dist: cannot write %s\n", o->csv);
    if (lg_dist_agree(t->d, root && !csv ? LG_ERR_IO : LG_OK) != LG_OK)
        return 1;
    if (root && !first)
        fprintf(csv, "epoch,train_loss,train_accuracy,test_accuracy,seconds\n");
    int64_t per_epoch = train->n / o->batch, total = (int64_t)o->epochs * per_epoch;
    int64_t step = first * per_epoch;
    int last = o->stop_after && o->stop_after < o->epochs ? o->stop_after : o->epochs;
    double t0 = now_s(), test_acc = 0, train_s = 0;
    int status = 0;
    lg_dist_grad_stats_reset(t->d);
    for (int e = first + 1; e <= last && !status; e++) {
        double loss, acc, e0 = now_s();
        if (train_epoch(t, train, &step, total, &loss, &acc)) {
            if (root)
                fprintf(stderr, "mnist_dist: training failed: %s\n", lg_last_errmsg());
            status = 1;
            break;
        }
        double dt = now_s() - e0;
        train_s += dt;
        test_acc = evaluate(t, test);
        if (root) {
            printf("epoch %2d/%d  loss %.4f  train acc %.4f  test acc %.4f  %.0f samples/s\n",
                   e, o->epochs, loss, acc, test_acc, (double)(per_epoch * o->batch) / dt);
            fflush(stdout);
            fprintf(csv, "%d,%.6f,%.6f,%.6f,%.3f\n", e, loss, acc, test_acc, now_s() - t0);
            fflush(csv);
        }
        status = save(t, e);
    }
    if (csv)
        fclose(csv);
    if (status)
        return status;
    if (first >= last)
        test_acc = evaluate(t, test);
    int trained = last > first ? last - first : 0;
    double sps = train_s > 0 ? (double)trained * (double)(per_epoch * o->batch) / train_s : 0;
    double red_s;
    int64_t calls;
    lg_dist_grad_stats(t->d, &red_s, &calls, NULL);
    if (root)
        printf("RESULT dataset=fashion-mnist test_accuracy=%.4f epochs=%d seconds=%.1f "
               "samples_per_s=%.0f processes=%d threads=%d allreduce_ms=%.3f step_ms=%.3f\n",
               test_acc, first > last ? first : last, now_s() - t0, sps,
               lg_dist_size(t->d), o->threads, calls ? 1e3 * red_s / (double)calls : 0,
               trained ? 1e3 * train_s / (double)(trained * per_epoch) : 0);
    return test_acc < 0;
}

/* Everything after MPI and the handle: the data, the model, the buffers, the run. */
static int train_main(const options *o, lg_dist *d)
{
    int rank = lg_dist_rank(d), n = lg_dist_size(d);
    lg_set_num_threads(o->threads);
    split train = {0}, test = {0};
    trainer t = {.o = o, .d = d};
    char err[600] = "";
    lg_status s = load_split(o->data, "train", o->train_limit, &train, err, sizeof err);
    if (s == LG_OK)
        s = load_split(o->data, "t10k", o->test_limit, &test, err, sizeof err);
    if (s == LG_OK && train.n < o->batch) {
        snprintf(err, sizeof err, "%lld training samples, fewer than one batch of %d",
                 (long long)train.n, o->batch);
        s = LG_ERR_ARG;
    }
    if (s != LG_OK) /* every rank reads the data: each says what failed for it */
        fprintf(stderr, "mnist_dist: rank %d: cannot load --data %s: %s\n", rank, o->data, err);
    int status = 1;
    if (lg_dist_agree(d, s) != LG_OK)
        goto done;
    t.background = standardize(&train, &test);
    snprintf(t.optim_path, sizeof t.optim_path, "%s.optim", o->ckpt);
    lg_rng_init(&t.rng, o->seed + 1);
    if (!strcmp(o->model, "cnn"))
        t.p = cnn_model_init(&t.cnn, o->seed, "mnist_dist") ? NULL : t.cnn.p;
    else
        t.p = make_model(&t.m, o->seed);
    lg_optim_config c = lg_optim_defaults(LG_OPTIM_ADAM);
    c.lr = o->lr;
    c.zero_grad = true; /* the update clears each gradient in its own pass */
    t.opt = t.p ? lg_optim_new(t.p, &c) : NULL;
    t.g = lg_graph_new();
    t.rows = (int64_t)o->batch * (rank + 1) / n - (int64_t)o->batch * rank / n;
    t.x = lg_tensor_new(LG_F32, 2, (int64_t[]){t.rows, 784});
    t.onehot = lg_tensor_new(LG_F32, 2, (int64_t[]){t.rows, 10});
    t.y = malloc(sizeof *t.y * (size_t)t.rows);
    t.perm = malloc(sizeof *t.perm * (size_t)train.n);
    s = t.opt && t.g && t.x && t.onehot && t.y && t.perm ? LG_OK : LG_ERR_OOM;
    if (s != LG_OK)
        fprintf(stderr, "mnist_dist: rank %d: setup failed: %s\n", rank, lg_last_errmsg());
    if (lg_dist_agree(d, s) != LG_OK || lg_dist_broadcast_params(d, t.p) != LG_OK)
        goto done;
    if (rank == 0)
        printf("fashion-mnist: %lld train / %lld test samples, %s (%lld parameters), "
               "global batch %d over %d processes x %d thread(s), Adam lr %g cosine, shift "
               "%d\n", (long long)train.n, (long long)test.n,
               t.cnn.p ? "CNN (examples/cnn_model.h)" : "MLP 784-256-128-10",
               (long long)lg_params_numel(t.p, true), o->batch, n, o->threads, o->lr, o->shift);
    status = run(&t, &train, &test);
done:
    free(t.y);
    free(t.perm);
    lg_tensor_free(t.x);
    lg_tensor_free(t.onehot);
    lg_graph_free(t.g);
    lg_optim_free(t.opt);
    lg_params_free(t.p);
    free(train.x);
    free(train.y);
    free(test.x);
    free(test.y);
    return status;
}

int main(int argc, char **argv)
{
    /* A rank waiting in the allreduce yields its core instead of spinning, unless the
     * caller chose: on a machine busy with other work the rank it waits for may be the one
     * it keeps off the core (docs/distributed.md). Read by OpenMPI at MPI_Init. */
    setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
    MPI_Init(&argc, &argv);
    lg_dist *d = NULL;
    if (lg_dist_new(MPI_COMM_WORLD, &d) != LG_OK) {
        fprintf(stderr, "mnist_dist: %s\n", lg_last_errmsg());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    options o = {.data = "/usr/share/datasets/fashion-mnist", .csv = "mnist_dist_curves.csv",
                 .ckpt = "mnist_dist.safetensors", .epochs = 15, .batch = 128, .threads = 1,
                 .shift = 1, .lr = 1e-3, .seed = 42, .model = "mlp"};
    int status = parse(argc, argv, &o, lg_dist_rank(d), lg_dist_size(d));
    if (!status)
        status = train_main(&o, d);
    lg_dist_free(d);
    MPI_Finalize();
    return status == 2 ? 0 : status;
}
