/* lg_train_fit, the one-call training helper, and lg_train_evaluate: epochs of shuffled
 * batches, evaluation, early stopping with the best parameters kept in memory, CSV rows
 * and checkpoints, alone or data-parallel through the caller's lg_train_parallel (shards of
 * each batch, collectives at each point where ranks must agree). The state files are
 * train_state.c's, the progress printer train_progress.c's and the PNG train_plot.c's. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "train_impl.h"
#include "params_impl.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

lg_train_options lg_train_defaults(void)
{
    lg_train_options o = {.epochs = 10, .batch_size = 64, .drop_last = true,
                          .optim = lg_optim_defaults(LG_OPTIM_ADAM),
                          .schedule = LG_TRAIN_LR_COSINE, .seed = 1, .restore_best = true,
                          .eval_batch = 1000, .progress_interval_s = 0.1,
                          .progress_line_s = 10};
    o.optim.zero_grad = true;
    return o;
}

/* A failed model call: the graph's status and message (or LG_ERR_ARG when forward
 * returned NULL without one) into lg_last_errmsg, with where it happened. */
static lg_status model_error(lg_graph *g, const char *fn, const char *where)
{
    lg_status s = lg_graph_status(g);
    if (s == LG_OK)
        return lg_set_error(LG_ERR_ARG, "%s: %s: the forward function returned NULL without "
                            "an error on the graph", fn, where);
    return lg_set_error(s, "%s: %s: %s", fn, where, lg_graph_errmsg(g));
}

/* The model over rows idx[0..n) of d (rows 0..n-1 when idx is NULL), in chunks copied into
 * g's arena, without recording and in eval mode: mean loss and accuracy. */
static lg_status eval_rows(lg_graph *g, lg_train_forward_fn forward, void *ctx,
                           const lg_dataset *d, const int64_t *idx, int64_t n, int64_t chunk,
                           const char *fn, double *loss, double *accuracy)
{
    bool grad = lg_graph_set_grad_enabled(g, false), training = lg_graph_set_training(g, false);
    double loss_sum = 0;
    int64_t correct = 0;
    lg_status s = LG_OK;
    for (int64_t start = 0; start < n && s == LG_OK; start += chunk) {
        int64_t rows = n - start < chunk ? n - start : chunk;
        lg_graph_reset(g);
        lg_tensor *x = lg_graph_full(g, LG_F32, 2, (int64_t[]){rows, d->features}, 0);
        lg_tensor *y = lg_graph_full(g, LG_I32, 1, &rows, 0);
        if (!x || !y) {
            s = model_error(g, fn, "evaluation");
            break;
        }
        s = idx ? lg_dataset_batch(d, idx + start, rows, 0, x, y)
                : lg_dataset_batch(d, NULL, chunk, start / chunk, x, y);
        if (s != LG_OK)
            break;
        lg_tensor *logits = forward(g, ctx, x);
        lg_tensor *l = logits ? lg_cross_entropy(g, logits, y) : NULL;
        int64_t right = 0;
        if (!l) {
            s = model_error(g, fn, "evaluation");
            break;
        }
        if ((s = lg_accuracy(logits, y, &right, NULL)) != LG_OK)
            break;
        loss_sum += lg_tensor_item(l, 0) * (double)rows;
        correct += right;
    }
    lg_graph_reset(g);
    lg_graph_set_training(g, training);
    lg_graph_set_grad_enabled(g, grad);
    if (s == LG_OK && loss)
        *loss = loss_sum / (double)n;
    if (s == LG_OK && accuracy)
        *accuracy = (double)correct / (double)n;
    return s;
}

/* LG_OK when d is (n >= 1, features) f32 images with i32 labels. */
static lg_status check_dataset(const lg_dataset *d, const char *what, const char *fn)
{
    if (!d->images || !d->labels || d->n < 1 || d->features < 1 ||
        lg_tensor_dtype(d->images) != LG_F32 || lg_tensor_dtype(d->labels) != LG_I32 ||
        lg_tensor_numel(d->images) < d->n * d->features || lg_tensor_numel(d->labels) < d->n)
        return lg_set_error(LG_ERR_ARG, "%s: %s must hold n >= 1 rows of f32 images with i32 "
                            "labels (n %lld, features %lld)", fn, what, (long long)d->n,
                            (long long)d->features);
    return LG_OK;
}

lg_status lg_train_evaluate(lg_graph *g, lg_train_forward_fn forward, void *ctx,
                            const lg_dataset *d, int64_t chunk, double *loss, double *accuracy)
{
    const char *fn = "lg_train_evaluate";
    if (!g || !forward || !d || chunk < 1)
        return lg_set_error(LG_ERR_ARG, "%s: NULL argument or chunk %lld < 1", fn,
                            (long long)chunk);
    lg_status s = check_dataset(d, "d", fn);
    return s != LG_OK ? s : eval_rows(g, forward, ctx, d, NULL, d->n, chunk, fn, loss, accuracy);
}

/* ---- lg_train_fit ---- */

#define PATH_BYTES (LG_TRAIN_MAX_PATH + 16)

typedef struct fit {
    const lg_train_options *o;
    lg_params *p;
    lg_train_forward_fn forward;
    void *ctx;
    const lg_dataset *train, *test;
    lg_graph *g;
    lg_optim *opt;
    lg_rng rng;                 /* shuffling and on_batch: saved with the state */
    const lg_train_parallel *par; /* NULL: alone */
    int64_t n_train, n_val;
    int64_t *idx;               /* (train->n): training rows, then validation rows */
    int64_t *test_idx;          /* (test->n) 0..n-1, with par: the test rows' shards */
    int64_t *shuf, *order;      /* (n_train): this epoch's permutation and its rows */
    lg_tensor *x[2], *y[2];     /* batch buffers: full batches, and the short last one */
    int64_t batches, total_steps, step;
    void *best;                 /* copy of the store's blocks at best_epoch */
    size_t best_bytes[2];
    int best_epoch, bad_epochs;
    double best_val;
    FILE *csv, *steps;
    char steps_path[PATH_BYTES], plot_path[PATH_BYTES], best_path[PATH_BYTES];
    double t0, train_s;
    int64_t trained_samples;
    lg_train_progress pr;
} fit;

static const char *FN = "lg_train_fit";

/* This rank's share [*lo, *lo + return) of n rows split over the processes (alone: all). */
static int64_t shard(const fit *f, int64_t n, int64_t *lo)
{
    int64_t k = f->par ? f->par->rank : 0, size = f->par ? f->par->size : 1;
    *lo = n * k / size;
    return n * (k + 1) / size - *lo;
}

/* Collective with par: the status every rank agrees on. Alone: s. */
static lg_status agree(const fit *f, lg_status s)
{
    return f->par ? f->par->agree(f->par->ud, s) : s;
}

/* Whether this process writes files and reports progress: rank 0, or alone. */
static bool is_root(const fit *f)
{
    return !f->par || f->par->rank == 0;
}

static lg_status check_options(const lg_train_options *o)
{
    const char *bad = o->epochs < 1 ? "epochs >= 1"
                    : o->batch_size < 1 ? "batch_size >= 1"
                    : !(o->val_fraction >= 0 && o->val_fraction < 1) ? "val_fraction in [0, 1)"
                    : o->patience < 0 ? "patience >= 0"
                    : o->patience > 0 && o->val_fraction <= 0 ? "val_fraction > 0 for patience"
                    : o->eval_batch < 1 ? "eval_batch >= 1"
                    : o->stop_after < 0 ? "stop_after >= 0"
                    : !(o->progress_interval_s >= 0) ? "progress_interval_s >= 0"
                    : !(o->progress_line_s > 0) ? "progress_line_s > 0"
                    : o->resume && !o->checkpoint ? "a checkpoint to resume from"
                    : o->schedule != LG_TRAIN_LR_CONSTANT && o->schedule != LG_TRAIN_LR_COSINE
                        ? "a known schedule"
                    : o->batch_draws_per_row < 0 ? "batch_draws_per_row >= 0"
                    : o->parallel && (o->parallel->size < 1 || o->parallel->rank < 0 ||
                                      o->parallel->rank >= o->parallel->size)
                        ? "parallel->rank in [0, parallel->size)"
                    : o->parallel && (!o->parallel->allreduce_grads || !o->parallel->sum ||
                                      !o->parallel->agree || !o->parallel->broadcast_params)
                        ? "every callback of parallel" : NULL;
    if (bad)
        return lg_set_error(LG_ERR_ARG, "%s: options: need %s", FN, bad);
    const char *paths[4] = {o->csv, o->steps_csv, o->plot, o->checkpoint};
    for (int i = 0; i < 4; i++)
        if (paths[i] && strlen(paths[i]) > LG_TRAIN_MAX_PATH)
            return lg_set_error(LG_ERR_ARG, "%s: a path longer than %d bytes", FN,
                                LG_TRAIN_MAX_PATH);
    return LG_OK;
}

/* out = given, or (given NULL) csv less ".csv" plus suffix, or "" */
static void derive_path(char *out, const char *given, const char *csv, const char *suffix)
{
    if (given || !csv) {
        snprintf(out, PATH_BYTES, "%s", given ? given : "");
        return;
    }
    size_t n = strlen(csv);
    if (n > 4 && !strcmp(csv + n - 4, ".csv"))
        n -= 4;
    snprintf(out, PATH_BYTES, "%.*s%s", (int)n, csv, suffix);
}

/* The index arrays, the validation split and the batch buffers. */
static lg_status setup(fit *f)
{
    const lg_train_options *o = f->o;
    int64_t n = f->train->n, bs = o->batch_size;
    f->n_val = o->val_fraction > 0 ? (int64_t)ceil(o->val_fraction * (double)n) : 0;
    f->n_train = n - f->n_val;
    if (f->n_train < (o->drop_last ? bs : 1))
        return lg_set_error(LG_ERR_ARG, "%s: %lld training rows (after %lld held out), fewer "
                            "than one batch of %lld", FN, (long long)f->n_train,
                            (long long)f->n_val, (long long)bs);
    int64_t size = o->parallel ? o->parallel->size : 1, tail = f->n_train % bs;
    if (bs < size || (!o->drop_last && tail && tail < size))
        return lg_set_error(LG_ERR_ARG, "%s: a batch of %lld rows over %lld processes leaves "
                            "a process without rows", FN, (long long)(bs < size ? bs : tail),
                            (long long)size);
    f->batches = o->drop_last ? f->n_train / bs : lg_data_num_batches(f->n_train, bs);
    f->total_steps = f->batches * o->epochs;
    f->idx = lg_malloc(sizeof(int64_t) * (size_t)n);
    f->shuf = lg_malloc(sizeof(int64_t) * (size_t)f->n_train);
    f->order = lg_malloc(sizeof(int64_t) * (size_t)f->n_train);
    if (!f->idx || !f->shuf || !f->order)
        return lg_set_error(LG_ERR_OOM, "%s: out of memory for %lld row indices", FN,
                            (long long)n);
    if (f->n_val) { /* a split of its own stream, the same on every resume */
        lg_rng split;
        lg_rng_init(&split, o->seed ^ 0x9e3779b97f4a7c15u);
        lg_status s = lg_data_shuffle(f->idx, n, &split);
        if (s != LG_OK)
            return s;
    } else {
        for (int64_t i = 0; i < n; i++)
            f->idx[i] = i;
    }
    int64_t lo, rows[2] = {shard(f, bs, &lo), shard(f, tail, &lo)}; /* this rank's rows */
    for (int k = 0; k < 2; k++) {
        if (!rows[k] || (k == 1 && o->drop_last))
            continue;
        f->x[k] = lg_tensor_new(LG_F32, 2, (int64_t[]){rows[k], f->train->features});
        f->y[k] = lg_tensor_new(LG_I32, 1, &rows[k]);
        if (!f->x[k] || !f->y[k])
            return lg_last_status();
    }
    if (f->n_val && o->restore_best) {
        for (int d = 0; d < 2; d++)
            f->best_bytes[d] = (size_t)f->p->block[d].numel * lg_dtype_size((lg_dtype)d);
        f->best = lg_malloc(f->best_bytes[0] + f->best_bytes[1] + 1);
        if (!f->best)
            return lg_set_error(LG_ERR_OOM, "%s: out of memory for the best parameters", FN);
    }
    if (f->par && f->test) {
        if (!(f->test_idx = lg_malloc(sizeof(int64_t) * (size_t)f->test->n)))
            return lg_set_error(LG_ERR_OOM, "%s: out of memory for %lld row indices", FN,
                                (long long)f->test->n);
        for (int64_t i = 0; i < f->test->n; i++)
            f->test_idx[i] = i;
    }
    return LG_OK;
}

/* eval_rows over rows idx[0..n) of d (0..n-1 when idx is NULL); with par, each rank takes
 * its share of them and the sums are reduced (collective). */
static lg_status eval_set(fit *f, const lg_dataset *d, const int64_t *idx, int64_t n,
                          double *loss, double *accuracy)
{
    if (!f->par)
        return eval_rows(f->g, f->forward, f->ctx, d, idx, n, f->o->eval_batch, FN, loss,
                         accuracy);
    int64_t lo, rows = shard(f, n, &lo);
    double l = 0, a = 0;
    lg_status s = rows ? eval_rows(f->g, f->forward, f->ctx, d, (idx ? idx : f->test_idx) + lo,
                                   rows, f->o->eval_batch, FN, &l, &a) : LG_OK;
    double v[2] = {l * (double)rows, floor(a * (double)rows + 0.5)}; /* loss sum, correct */
    if ((s = agree(f, s)) != LG_OK || (s = f->par->sum(f->par->ud, v, 2)) != LG_OK)
        return s;
    *loss = v[0] / (double)n;
    *accuracy = v[1] / (double)n;
    return LG_OK;
}

/* Copies the store's blocks into the best copy (to_best) or back. */
static void best_copy(fit *f, bool to_best)
{
    char *b = f->best;
    for (int d = 0; d < 2; d++) {
        void *blk = f->p->block[d].data;
        if (f->best_bytes[d])
            memcpy(to_best ? b : blk, to_best ? blk : b, f->best_bytes[d]);
        b += f->best_bytes[d];
    }
}

/* Opens the CSVs: written anew with their header, or appended to on a resumed run. */
static lg_status open_csvs(fit *f, bool append)
{
    const lg_train_options *o = f->o;
    if (!is_root(f))
        return LG_OK;
    if (o->csv) {
        if (!(f->csv = fopen(o->csv, append ? "a" : "w")))
            return lg_set_error(LG_ERR_IO, "%s: cannot write %s", FN, o->csv);
        if (!append)
            fprintf(f->csv, "epoch,train_loss,train_accuracy%s%s,lr,seconds\n",
                    f->n_val ? ",val_loss,val_accuracy" : "",
                    f->test ? ",test_loss,test_accuracy" : "");
    }
    if (f->steps_path[0]) {
        if (!(f->steps = fopen(f->steps_path, append ? "a" : "w")))
            return lg_set_error(LG_ERR_IO, "%s: cannot write %s", FN, f->steps_path);
        if (!append)
            fprintf(f->steps, "epoch,step,loss,accuracy,lr\n");
    }
    return LG_OK;
}

/* A count the file supplies: plain digits, at most 1e9 (a file is not trusted). */
static bool parse_count(const char *s, int *out)
{
    long long v = 0;
    if (!*s)
        return false;
    for (const char *c = s; *c; c++) {
        if (*c < '0' || *c > '9' || v > 100000000)
            return false;
        v = v * 10 + (*c - '0');
    }
    *out = (int)v;
    return v <= 1000000000;
}

/* A validation loss the file supplies: the whole string a number, >= 0, finite or +inf
 * ("no best yet"), never NaN. */
static bool parse_loss(const char *s, double *out)
{
    char *end = NULL;
    double v = strtod(s, &end);
    if (!*s || *end || v != v || v < 0)
        return false;
    *out = v;
    return true;
}

/* Resumes from the checkpoint: the state, the early-stopping bookkeeping and the best
 * parameters (from "<checkpoint>.best"). *epoch gets the epoch to go on after. */
static lg_status resume(fit *f, int *epoch)
{
    lg_checkpoint *meta = NULL;
    lg_status s = lg_train_load_state_ex(f->p, f->opt, f->o->checkpoint, epoch, &f->rng, &meta);
    if (s != LG_OK)
        return s;
    const char *be = lg_checkpoint_metadata_get(meta, "best_epoch");
    const char *bv = lg_checkpoint_metadata_get(meta, "best_val_loss");
    const char *bad = lg_checkpoint_metadata_get(meta, "bad_epochs");
    if (f->n_val && (!be || !bv || !bad)) {
        lg_checkpoint_close(meta);
        return lg_set_error(LG_ERR_FORMAT, "%s: %s.optim has no early-stopping state: was it "
                            "saved by a run without validation?", FN, f->o->checkpoint);
    }
    if (f->n_val && (!parse_count(be, &f->best_epoch) || !parse_count(bad, &f->bad_epochs) ||
                     !parse_loss(bv, &f->best_val))) {
        lg_checkpoint_close(meta);
        return lg_set_error(LG_ERR_FORMAT, "%s: %s.optim has a malformed early-stopping state "
                            "(best_epoch '%.20s', bad_epochs '%.20s', best_val_loss '%.30s')",
                            FN, f->o->checkpoint, be, bad, bv);
    }
    lg_checkpoint_close(meta);
    f->step = lg_optim_steps(f->opt);
    if (!f->best || f->best_epoch < 1)
        return LG_OK;
    /* the best parameters into f->best, through the store, which keeps the current ones */
    size_t bytes = f->best_bytes[0] + f->best_bytes[1] + 1;
    void *now = lg_malloc(bytes);
    if (!now)
        return lg_set_error(LG_ERR_OOM, "%s: out of memory on resume", FN);
    void *best = f->best;
    f->best = now;
    best_copy(f, true);
    f->best = best;
    s = lg_checkpoint_load(f->p, f->best_path, NULL, true);
    if (s == LG_OK)
        best_copy(f, true);
    f->best = now;
    best_copy(f, false);
    f->best = best;
    lg_free(now, bytes);
    return s;
}

/* The progress callback for a STEP report, at most every progress_interval_s, on rank 0 only. */
static void report_step(fit *f, double e0, double *last_report, double *last_line)
{
    const lg_train_options *o = f->o;
    double t = now_s();
    bool last = f->pr.batch == f->batches;
    if (!o->progress || !is_root(f) || last || t - *last_report < o->progress_interval_s)
        return;
    *last_report = t;
    lg_train_progress *pr = &f->pr;
    pr->event = LG_TRAIN_STEP;
    pr->elapsed_s = t - e0;
    pr->samples_per_s = pr->elapsed_s > 0 ? (double)pr->samples / pr->elapsed_s : 0;
    pr->eta_s = pr->samples_per_s > 0
                    ? (double)(pr->epoch_samples - pr->samples) / pr->samples_per_s : 0;
    pr->line_due = t - *last_line >= o->progress_line_s;
    if (pr->line_due)
        *last_line = t;
    o->progress(pr, o->progress_ud);
}

/* Rows [lo, lo + rows) of the global batch whose rows are order[0..global) into x and y,
 * then on_batch. With par, on_batch draws from its first row's place in the global batch's
 * stream, which then advances past the whole batch, as one process's would. */
static lg_status load_batch(fit *f, const int64_t *order, int64_t lo, int64_t rows,
                            int64_t global, lg_tensor *x, lg_tensor *y)
{
    const lg_train_options *o = f->o;
    lg_status s = lg_dataset_batch(f->train, order + lo, rows, 0, x, y);
    if (s != LG_OK || !o->on_batch)
        return s;
    if (!f->par)
        return o->on_batch(x, y, &f->rng, o->batch_ud);
    uint64_t per = (uint64_t)o->batch_draws_per_row, first = f->rng.counter;
    lg_rng r = f->rng;
    r.counter += per * (uint64_t)lo;
    if ((s = o->on_batch(x, y, &r, o->batch_ud)) != LG_OK)
        return s;
    if (r.counter - first - per * (uint64_t)lo != per * (uint64_t)rows)
        return lg_set_error(LG_ERR_ARG, "%s: on_batch drew %llu numbers for %lld rows, not "
                            "batch_draws_per_row %lld per row", FN,
                            (unsigned long long)(r.counter - first - per * (uint64_t)lo),
                            (long long)rows, (long long)o->batch_draws_per_row);
    f->rng.counter += per * (uint64_t)global;
    return LG_OK;
}

/* One epoch of training. *stop is set when on_step asks to stop (any rank, with par). */
static lg_status train_epoch(fit *f, int epoch, bool *stop)
{
    const lg_train_options *o = f->o;
    lg_train_progress *pr = &f->pr;
    lg_status s = lg_data_shuffle(f->shuf, f->n_train, &f->rng);
    if (s != LG_OK)
        return s;
    for (int64_t i = 0; i < f->n_train; i++)
        f->order[i] = f->idx[f->shuf[i]];
    double e0 = now_s(), last_report = e0, last_line = e0, loss_sum = 0;
    int64_t correct = 0;
    *pr = (lg_train_progress){.epoch = epoch, .epochs = o->epochs, .batches = f->batches,
                              .epoch_samples = o->drop_last ? f->batches * o->batch_size
                                                            : f->n_train};
    for (int64_t b = 0; b < f->batches; b++) {
        int64_t start = b * o->batch_size;
        int k = f->n_train - start < o->batch_size;
        int64_t global = k ? f->n_train - start : o->batch_size, lo;
        int64_t rows = shard(f, global, &lo); /* this rank's rows [lo, lo + rows) of global */
        lg_tensor *x = f->x[k], *y = f->y[k], *logits = NULL, *loss = NULL;
        if ((s = load_batch(f, f->order + start, lo, rows, global, x, y)) == LG_OK) {
            lg_graph_reset(f->g);
            if (!o->optim.zero_grad)
                lg_params_zero_grad(f->p);
            logits = f->forward(f->g, f->ctx, x);
            loss = logits ? lg_cross_entropy(f->g, logits, y) : NULL;
            if (!loss || lg_backward(f->g, loss) != LG_OK) {
                char where[64];
                snprintf(where, sizeof where, "epoch %d, step %lld", epoch,
                         (long long)f->step + 1);
                s = model_error(f->g, FN, where);
            }
        }
        /* with par: no rank goes into the reduction that another one will not reach */
        if ((s = agree(f, s)) != LG_OK ||
            (f->par && (s = f->par->allreduce_grads(f->par->ud, f->p,
                                                    (double)rows / (double)global)) != LG_OK))
            return s;
        double lr = o->optim.lr;
        if (o->schedule == LG_TRAIN_LR_COSINE)
            lr = 0.5 * lr * (1 + cos(3.14159265358979323846 * (double)f->step /
                                     (double)f->total_steps));
        if ((s = lg_optim_set_lr(f->opt, lr)) != LG_OK || (s = lg_optim_step(f->opt)) != LG_OK)
            return s;
        f->step++;
        int64_t right = 0;
        lg_accuracy(logits, y, &right, NULL);
        bool stop_here = false;
        if (o->on_step) {
            lg_train_step_info si = {f->g, f->opt, x, y, logits, loss, epoch, b, f->step};
            stop_here = o->on_step(&si, o->step_ud) != 0;
        }
        /* the batch's loss sum and correct rows, and whether any rank stops */
        double l = lg_tensor_item(loss, 0), m[3] = {l * (double)rows, (double)right, stop_here};
        if (f->par && (s = f->par->sum(f->par->ud, m, 3)) != LG_OK)
            return s;
        loss_sum += m[0];
        correct += (int64_t)m[1];
        pr->batch = b + 1;
        pr->samples += global;
        pr->step = f->step;
        pr->loss = loss_sum / (double)pr->samples;
        pr->accuracy = (double)correct / (double)pr->samples;
        pr->lr = lr;
        if (f->steps)
            fprintf(f->steps, "%.6f,%lld,%.6f,%.6f,%.6g\n",
                    epoch - 1 + (double)(b + 1) / (double)f->batches, (long long)f->step,
                    f->par ? m[0] / (double)global : l, m[1] / (double)global, lr);
        if (m[2] != 0) {
            *stop = true;
            break;
        }
        report_step(f, e0, &last_report, &last_line);
    }
    pr->elapsed_s = now_s() - e0;
    pr->samples_per_s = pr->elapsed_s > 0 ? (double)pr->samples / pr->elapsed_s : 0;
    pr->eta_s = 0;
    f->train_s += pr->elapsed_s;
    f->trained_samples += pr->samples;
    return LG_OK;
}

/* Rank 0's (or the lone process's) files after an epoch: the best parameters when they
 * improved, the CSV row, the checkpoint. */
static lg_status write_epoch(fit *f, int epoch)
{
    const lg_train_options *o = f->o;
    lg_train_progress *pr = &f->pr;
    lg_status s;
    if (pr->improved && f->best && o->checkpoint &&
        (s = lg_checkpoint_save(f->p, f->best_path, NULL, NULL, 0)) != LG_OK)
        return s;
    if (f->csv) {
        fprintf(f->csv, "%d,%.6f,%.6f", epoch, pr->loss, pr->accuracy);
        if (f->n_val)
            fprintf(f->csv, ",%.6f,%.6f", pr->val_loss, pr->val_accuracy);
        if (f->test)
            fprintf(f->csv, ",%.6f,%.6f", pr->test_loss, pr->test_accuracy);
        fprintf(f->csv, ",%.6g,%.3f\n", pr->lr, now_s() - f->t0);
        if (fflush(f->csv) || (f->steps && fflush(f->steps)))
            return lg_set_error(LG_ERR_IO, "%s: cannot write the curves", FN);
    }
    if (o->checkpoint) {
        char be[16], bv[40], bad[16];
        snprintf(be, sizeof be, "%d", f->best_epoch);
        snprintf(bv, sizeof bv, "%.17g", f->best_val);
        snprintf(bad, sizeof bad, "%d", f->bad_epochs);
        const char *extra[6] = {"best_epoch", be, "best_val_loss", bv, "bad_epochs", bad};
        return lg_train_save_state_ex(f->p, f->opt, o->checkpoint, epoch, &f->rng, extra,
                                      f->n_val ? 3 : 0);
    }
    return LG_OK;
}

/* After an epoch: evaluation, early-stopping bookkeeping, rank 0's files
 * (write_epoch), the EPOCH report. */
static lg_status end_epoch(fit *f, int epoch)
{
    const lg_train_options *o = f->o;
    lg_train_progress *pr = &f->pr;
    pr->event = LG_TRAIN_EPOCH;
    pr->line_due = false;
    pr->val_loss = pr->val_accuracy = pr->test_loss = pr->test_accuracy = NAN;
    lg_status s = LG_OK;
    /* rank 0's buffers (batch-norm running statistics, per rank while training) everywhere,
     * so every rank evaluates and saves one model */
    if (f->par)
        s = f->par->broadcast_params(f->par->ud, f->p);
    if (s == LG_OK && f->n_val)
        s = eval_set(f, f->train, f->idx + f->n_train, f->n_val, &pr->val_loss,
                     &pr->val_accuracy);
    if (s == LG_OK && f->test)
        s = eval_set(f, f->test, NULL, f->test->n, &pr->test_loss, &pr->test_accuracy);
    if (s != LG_OK)
        return s;
    pr->improved = f->n_val && (f->best_epoch == 0 || pr->val_loss < f->best_val);
    if (pr->improved) {
        f->best_epoch = epoch;
        f->best_val = pr->val_loss;
        f->bad_epochs = 0;
        if (f->best)
            best_copy(f, true);
    } else if (f->n_val) {
        f->bad_epochs++;
    }
    pr->best_epoch = f->best_epoch;
    if (is_root(f))
        s = write_epoch(f, epoch);
    if ((s = agree(f, s)) != LG_OK)
        return s;
    if (o->progress && is_root(f))
        o->progress(pr, o->progress_ud);
    return LG_OK;
}

/* The epochs, from the one after `first` to stop_after or epochs, early stopping, and
 * what the result reports. */
static lg_status run(fit *f, int first, lg_train_result *r)
{
    const lg_train_options *o = f->o;
    int last = o->stop_after && o->stop_after < o->epochs ? o->stop_after : o->epochs;
    int epoch = first;
    bool stop = o->patience > 0 && f->bad_epochs >= o->patience;
    r->stopped_early = stop;
    bool partial = false; /* on_step ended an epoch early */
    lg_status s = LG_OK;
    while (!stop && epoch < last && s == LG_OK) {
        epoch++;
        s = train_epoch(f, epoch, &partial);
        r->train_loss = f->pr.loss;
        r->train_accuracy = f->pr.accuracy;
        if (partial) {
            r->stopped = true;
            epoch--; /* an unfinished epoch is neither written nor saved */
            break;
        }
        if (s == LG_OK)
            s = end_epoch(f, epoch);
        if (s == LG_OK && o->patience > 0 && f->bad_epochs >= o->patience)
            stop = r->stopped_early = true;
    }
    if (s != LG_OK)
        return s;
    r->stopped = r->stopped || (last < o->epochs && !r->stopped_early);
    r->epoch = epoch;
    r->steps = f->step;
    r->best_epoch = f->best_epoch;
    /* the figures of the parameters left in the store */
    bool restored = f->best && f->best_epoch > 0 && f->best_epoch != epoch;
    if (restored)
        best_copy(f, false);
    if (epoch > first && !restored && !partial) {
        r->val_loss = f->pr.val_loss;
        r->val_accuracy = f->pr.val_accuracy;
        r->test_loss = f->pr.test_loss;
        r->test_accuracy = f->pr.test_accuracy;
        return LG_OK;
    }
    if (f->n_val && (s = eval_set(f, f->train, f->idx + f->n_train, f->n_val, &r->val_loss,
                                  &r->val_accuracy)) != LG_OK)
        return s;
    if (f->test)
        s = eval_set(f, f->test, NULL, f->test->n, &r->test_loss, &r->test_accuracy);
    return s;
}

static lg_status fit_main(fit *f, lg_train_result *r)
{
    const lg_train_options *o = f->o;
    lg_status s = setup(f);
    if (s == LG_OK) {
        f->g = lg_graph_new();
        f->opt = lg_optim_new(f->p, &o->optim);
        if (!f->g || !f->opt)
            s = lg_last_status() != LG_OK ? lg_last_status() : LG_ERR_OOM;
    }
    lg_rng_init(&f->rng, o->seed);
    int first = 0;
    /* with par every rank reads the checkpoint itself (one machine, or a shared file
     * system); rank 0 alone opens the CSVs */
    if (s == LG_OK && o->resume)
        s = resume(f, &first);
    if (s == LG_OK)
        s = open_csvs(f, first > 0);
    /* with par: all ranks go on from rank 0's parameters, or none does */
    if ((s = agree(f, s)) != LG_OK ||
        (f->par && (s = f->par->broadcast_params(f->par->ud, f->p)) != LG_OK))
        return s;
    return run(f, first, r);
}

lg_status lg_train_fit(lg_params *p, lg_train_forward_fn forward, void *ctx,
                       const lg_dataset *train, const lg_dataset *test,
                       const lg_train_options *o, lg_train_result *r)
{
    lg_train_options defaults = lg_train_defaults();
    lg_train_result scratch;
    if (!o)
        o = &defaults;
    if (!r)
        r = &scratch;
    *r = (lg_train_result){.train_loss = NAN, .train_accuracy = NAN, .val_loss = NAN,
                           .val_accuracy = NAN, .test_loss = NAN, .test_accuracy = NAN};
    if (!p || !forward || !train)
        return lg_set_error(LG_ERR_ARG, "%s: %s is NULL", FN,
                            !p ? "p" : !forward ? "forward" : "train");
    lg_status s = check_options(o);
    if (s == LG_OK)
        s = check_dataset(train, "train", FN);
    if (s == LG_OK && test && (s = check_dataset(test, "test", FN)) == LG_OK &&
        test->features != train->features)
        s = lg_set_error(LG_ERR_ARG, "%s: test has %lld features, train %lld", FN,
                         (long long)test->features, (long long)train->features);
    if (s != LG_OK)
        return s;
    fit f = {.o = o, .p = p, .forward = forward, .ctx = ctx, .train = train, .test = test,
             .par = o->parallel, .t0 = now_s()};
    derive_path(f.steps_path, o->steps_csv, o->csv, "_steps.csv");
    derive_path(f.plot_path, o->plot, o->csv, ".png");
    if (o->checkpoint)
        snprintf(f.best_path, sizeof f.best_path, "%s.best", o->checkpoint);
    lg_status fs = s = fit_main(&f, r); /* with par: the same on every rank */
    if (f.csv && fclose(f.csv) && s == LG_OK)
        s = lg_set_error(LG_ERR_IO, "%s: cannot write %s", FN, o->csv);
    if (f.steps && fclose(f.steps) && s == LG_OK)
        s = lg_set_error(LG_ERR_IO, "%s: cannot write %s", FN, f.steps_path);
    if (f.par && fs == LG_OK) /* rank 0's closing files is news to the others */
        s = agree(&f, s);
    r->seconds = now_s() - f.t0;
    r->samples_per_s = f.train_s > 0 ? (double)f.trained_samples / f.train_s : 0;
    if (s == LG_OK && f.plot_path[0] && o->csv && is_root(&f))
        r->plot_status = lg_train_plot(o->csv, f.steps_path[0] ? f.steps_path : NULL,
                                       f.plot_path);
    for (int k = 0; k < 2; k++) {
        lg_tensor_free(f.x[k]);
        lg_tensor_free(f.y[k]);
    }
    if (f.best)
        lg_free(f.best, f.best_bytes[0] + f.best_bytes[1] + 1);
    lg_free(f.idx, sizeof(int64_t) * (size_t)train->n);
    lg_free(f.shuf, sizeof(int64_t) * (size_t)f.n_train);
    lg_free(f.order, sizeof(int64_t) * (size_t)f.n_train);
    if (f.test_idx)
        lg_free(f.test_idx, sizeof(int64_t) * (size_t)test->n);
    lg_optim_free(f.opt);
    lg_graph_free(f.g);
    return s;
}
