/* examples/lora_finetune: parameter-efficient fine-tuning with LoRA.
 * Pretrains an MLP 784-256-128-10 (ReLU) on Fashion-MNIST classes 0-4, then adapts it to
 * classes 5-9 four ways: LoRA rank 4, LoRA rank 8, LoRA rank 8 with the PiSSA (SVD) init,
 * and full fine-tuning. The adapters wrap all three linear layers; the 10-way head keeps its
 * labels 0-9 as they are. Prints each method's test accuracy on classes 5-9 before and after
 * adapting (and on classes 0-4 after, to show forgetting), its trainable-parameter count and
 * its training time; then merges each adapter into its base weights and checks that the
 * merged model predicts the same as the unmerged one. Run with --help for the options. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lagrad/lagrad.h"
#include "example_mlp.h"

#define CLASSES 10

typedef struct options {
    const char *data;
    int pre_epochs, epochs, batch, threads, max_batches;
    int64_t train_limit, test_limit; /* 0: all */
    double lr, lora_lr;
    uint64_t seed;
} options;

static void usage(void)
{
    printf("usage: lora_finetune [--data DIR] [--pretrain-epochs N] [--epochs N] [--batch N]\n"
           "                     [--lr X] [--lora-lr X] [--threads N] [--seed N] [--quick]\n"
           "                     [--train-limit N] [--test-limit N]\n"
           "  --data DIR  an MNIST-format folder: {train,t10k}-{images-idx3,labels-idx1}-ubyte\n"
           "              (optionally .gz); default /usr/share/datasets/fashion-mnist\n"
           "  --pretrain-epochs N  epochs on classes 0-4 (default 2)\n"
           "  --epochs N           adaptation epochs on classes 5-9 (default 2)\n"
           "  --lr X               Adam rate for pretraining and full fine-tuning (1e-3)\n"
           "  --lora-lr X          Adam rate for the LoRA adapters (3e-3)\n"
           "  --quick              10 batches per epoch (a smoke test, e.g. under ASan)\n"
           "  --train-limit N, --test-limit N  use only the first N samples of a split\n"
           "  defaults: batch 128, cosine schedule per run, 1 thread, seed 42\n");
}

static int parse(int argc, char **argv, options *o)
{
    *o = (options){"/usr/share/datasets/fashion-mnist", 2, 2, 128, 1, 0, 0, 0, 1e-3, 3e-3, 42};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) { usage(); exit(0); }
        else if (!strcmp(a, "--quick")) { o->max_batches = 10; continue; }
        static const char *valued[] = {"--data", "--pretrain-epochs", "--epochs", "--batch",
                                       "--lr", "--lora-lr", "--threads", "--seed",
                                       "--train-limit", "--test-limit"};
        bool known = false;
        for (size_t k = 0; k < sizeof valued / sizeof *valued; k++)
            known |= !strcmp(a, valued[k]);
        if (!known) {
            fprintf(stderr, "lora_finetune: unknown option %s (see --help)\n", a);
            return 1;
        }
        if (!v) {
            fprintf(stderr, "lora_finetune: %s needs a value (see --help)\n", a);
            return 1;
        }
        if (!strcmp(a, "--data")) o->data = v;
        else if (!strcmp(a, "--pretrain-epochs")) o->pre_epochs = atoi(v);
        else if (!strcmp(a, "--epochs")) o->epochs = atoi(v);
        else if (!strcmp(a, "--batch")) o->batch = atoi(v);
        else if (!strcmp(a, "--lr")) o->lr = atof(v);
        else if (!strcmp(a, "--lora-lr")) o->lora_lr = atof(v);
        else if (!strcmp(a, "--threads")) o->threads = atoi(v);
        else if (!strcmp(a, "--train-limit")) o->train_limit = atoll(v);
        else if (!strcmp(a, "--test-limit")) o->test_limit = atoll(v);
        else o->seed = strtoull(v, NULL, 10); /* --seed */
        i++;
    }
    if (o->pre_epochs < 1 || o->epochs < 1 || o->batch < 1 || o->threads < 1 ||
        !(o->lr > 0) || !(o->lora_lr > 0)) {
        fprintf(stderr, "lora_finetune: epochs, batch and threads must be >= 1 and the "
                        "rates > 0\n");
        return 1;
    }
    return 0;
}

/* ---- class subsets: rows copied into caller-owned memory (freed with subset_free) ---- */

static void subset_free(lg_dataset *d)
{
    lg_tensor_free(d->images);
    lg_tensor_free(d->labels);
    memset(d, 0, sizeof *d);
}

/* The samples of d whose label lies in [lo, hi], labels unchanged. */
static int subset(const lg_dataset *d, int lo, int hi, lg_dataset *out)
{
    memset(out, 0, sizeof *out);
    const int32_t *labels = lg_tensor_cdata(d->labels);
    int64_t m = 0;
    for (int64_t i = 0; i < d->n; i++)
        m += labels[i] >= lo && labels[i] <= hi;
    if (m == 0) {
        fprintf(stderr, "lora_finetune: no samples of classes %d-%d\n", lo, hi);
        return 1;
    }
    int64_t shape[2] = {m, d->features};
    out->images = lg_tensor_new(LG_F32, 2, shape);
    out->labels = lg_tensor_new(LG_I32, 1, &m);
    if (!out->images || !out->labels) {
        fprintf(stderr, "lora_finetune: out of memory\n");
        subset_free(out);
        return 1;
    }
    const float *src = lg_tensor_cdata(d->images);
    float *dst = lg_tensor_data(out->images);
    int32_t *out_labels = lg_tensor_data(out->labels);
    int64_t j = 0;
    for (int64_t i = 0; i < d->n; i++) {
        if (labels[i] < lo || labels[i] > hi)
            continue;
        memcpy(dst + j * d->features, src + i * d->features, sizeof *dst * (size_t)d->features);
        out_labels[j++] = labels[i];
    }
    out->n = m;
    out->features = d->features;
    out->sample_ndim = d->sample_ndim;
    memcpy(out->sample_shape, d->sample_shape, sizeof out->sample_shape);
    out->num_classes = d->num_classes;
    return 0;
}

/* ---- the model: three linear layers in a store, optionally wrapped by LoRA ---- */

typedef struct model {
    lg_params *p;
    lg_linear_layer fc[LAYERS];
    lg_lora lora[LAYERS];
    bool use_lora;
} model;

static const char *layer_name(int k)
{
    static const char *names[LAYERS] = {"fc1", "fc2", "fc3"};
    return names[k];
}

/* A fresh model with PyTorch's nn.Linear init; with `from`, every value is then copied from
 * that store (same names and shapes); with `lc`, each layer is wrapped by a LoRA adapter. */
static int model_init(model *m, const lg_params *from, const lg_lora_config *lc, uint64_t seed)
{
    memset(m, 0, sizeof *m);
    lg_rng rng;
    lg_rng_init(&rng, seed);
    m->p = lg_params_new();
    if (!m->p)
        return 1;
    for (int k = 0; k < LAYERS; k++)
        if (lg_linear_layer_init(&m->fc[k], m->p, layer_name(k), WIDTHS[k], WIDTHS[k + 1], true,
                                 LG_F32, &rng) != LG_OK)
            return 1;
    for (int i = 0; from && i < lg_params_count(from); i++) {
        lg_tensor *dst = lg_params_get(m->p, lg_params_name(from, i));
        if (!dst || lg_tensor_copy_from(dst, lg_params_at(from, i)) != LG_OK)
            return 1;
    }
    if (lc) {
        m->use_lora = true;
        for (int k = 0; k < LAYERS; k++)
            if (lg_lora_init(&m->lora[k], m->p, layer_name(k), lc, &rng) != LG_OK)
                return 1;
    }
    return 0;
}

static lg_tensor *forward(lg_graph *g, model *m, lg_tensor *x)
{
    lg_tensor *h = x;
    for (int k = 0; k < LAYERS; k++) {
        h = m->use_lora ? lg_lora_forward(g, &m->lora[k], h)
                        : lg_linear_layer_forward(g, &m->fc[k], h);
        if (k < LAYERS - 1)
            h = lg_relu(g, h);
    }
    return h;
}

/* How many rows of two (n, CLASSES) logit arrays have different argmaxes. */
static int64_t argmax_differences(lg_graph *g, const float *a, const float *b, int64_t n)
{
    int64_t shape[2] = {n, CLASSES}, differ = 0;
    lg_graph_reset(g);
    lg_tensor *pa = lg_argmax_axis(g, lg_graph_input(g, LG_F32, 2, shape, a), 1, false);
    lg_tensor *pb = lg_argmax_axis(g, lg_graph_input(g, LG_F32, 2, shape, b), 1, false);
    if (!pa || !pb)
        return -1;
    const int64_t *ia = lg_tensor_cdata(pa), *ib = lg_tensor_cdata(pb);
    for (int64_t i = 0; i < n; i++)
        differ += ia[i] != ib[i];
    return differ;
}

/* Test accuracy in no-grad, eval mode, 1,000 rows at a time; the logits go to `logits`
 * (n x 10) when it is not NULL. Returns -1 on error. */
static double evaluate(lg_graph *g, model *m, const lg_dataset *d, float *logits)
{
    int64_t correct = 0;
    bool prev_grad = lg_graph_set_grad_enabled(g, false);
    bool prev_train = lg_graph_set_training(g, false);
    for (int64_t start = 0; start < d->n; start += 1000) {
        int64_t rows;
        lg_tensor *out = forward(g, m, eval_chunk(g, d, start, &rows));
        lg_tensor *y = lg_graph_input(g, LG_I32, 1, &rows,
                                      (const int32_t *)lg_tensor_cdata(d->labels) + start);
        int64_t right = 0;
        if (!out || !y || lg_accuracy(out, y, &right, NULL) != LG_OK)
            break;
        const float *p = lg_tensor_cdata(out);
        correct += right;
        if (logits)
            memcpy(logits + start * CLASSES, p, sizeof *p * (size_t)(rows * CLASSES));
    }
    lg_graph_set_grad_enabled(g, prev_grad);
    lg_graph_set_training(g, prev_train);
    if (lg_graph_status(g) != LG_OK) {
        fprintf(stderr, "lora_finetune: %s\n", lg_graph_errmsg(g));
        return -1;
    }
    return (double)correct / (double)d->n;
}

/* Buffers shared by every training run. */
typedef struct workspace {
    lg_graph *g;
    lg_tensor *x;
    lg_tensor *y; /* (batch) i32 labels */
    int64_t *perm;
    lg_rng rng;
} workspace;

/* Adam on m's trainable parameters, with lr decaying on a cosine to 0 over the run
 * (the last partial batch of each epoch is dropped). Returns the seconds it took, or -1. */
static double train_model(const options *o, workspace *w, model *m, const lg_dataset *d,
                          int epochs, double lr)
{
    lg_optim_config c = lg_optim_defaults(LG_OPTIM_ADAM);
    c.lr = lr;
    lg_optim *opt = lg_optim_new(m->p, &c);
    if (!opt) {
        fprintf(stderr, "lora_finetune: %s\n", lg_last_errmsg());
        return -1;
    }
    int64_t nb = d->n / o->batch;
    if (o->max_batches && nb > o->max_batches)
        nb = o->max_batches;
    int64_t total = nb * epochs, step = 0;
    double t0 = now_s();
    for (int e = 0; e < epochs; e++) {
        lg_data_shuffle(w->perm, d->n, &w->rng);
        for (int64_t b = 0; b < nb; b++) {
            lg_dataset_batch(d, w->perm, o->batch, b, w->x, w->y);
            lg_graph_reset(w->g);
            lg_params_zero_grad(m->p);
            lg_tensor *loss = lg_cross_entropy(w->g, forward(w->g, m, w->x), w->y);
            if (!loss || lg_backward(w->g, loss) != LG_OK) {
                fprintf(stderr, "lora_finetune: %s\n", lg_graph_errmsg(w->g));
                lg_optim_free(opt);
                return -1;
            }
            lg_optim_set_lr(opt, cosine_lr(lr, step++, total));
            lg_optim_step(opt);
        }
    }
    double dt = now_s() - t0;
    lg_optim_free(opt);
    return dt;
}

#define METHODS 4

typedef struct method {
    const char *name;
    int64_t rank;          /* 0: full fine-tuning */
    lg_lora_init_kind init;
    int64_t trainable;
    double before, after, old_after, seconds;
    int64_t differ;        /* merged vs unmerged argmax disagreements */
    double max_diff;       /* merged vs unmerged max |logit difference| */
} method;

/* Adapts a copy of the pretrained model to classes 5-9 with method `me`. */
static int adapt(const options *o, workspace *w, const lg_params *pre, method *me,
                 const lg_dataset *new_train, const lg_dataset *new_test,
                 const lg_dataset *old_test, float *logits, float *merged)
{
    lg_lora_config lc = {.rank = me->rank, .alpha = (double)me->rank, .rslora = false,
                         .dropout = 0, .init = me->init};
    model m;
    int rc = 1;
    if (model_init(&m, pre, me->rank ? &lc : NULL, o->seed + 100 + (uint64_t)me->rank) != 0) {
        fprintf(stderr, "lora_finetune: cannot build the %s model: %s\n", me->name,
                lg_last_errmsg());
        goto done;
    }
    me->trainable = lg_params_numel(m.p, true);
    me->before = evaluate(w->g, &m, new_test, NULL);
    me->seconds = train_model(o, w, &m, new_train, o->epochs, me->rank ? o->lora_lr : o->lr);
    if (me->before < 0 || me->seconds < 0)
        goto done;
    me->after = evaluate(w->g, &m, new_test, logits);
    me->old_after = evaluate(w->g, &m, old_test, NULL);
    if (me->after < 0 || me->old_after < 0)
        goto done;
    if (me->rank) { /* fold scale·B A into W and compare with the unmerged predictions */
        for (int k = 0; k < LAYERS; k++)
            if (lg_lora_merge(&m.lora[k]) != LG_OK) {
                fprintf(stderr, "lora_finetune: merge: %s\n", lg_last_errmsg());
                goto done;
            }
        if (evaluate(w->g, &m, new_test, merged) < 0)
            goto done;
        me->differ = argmax_differences(w->g, logits, merged, new_test->n);
        if (me->differ < 0)
            goto done;
        me->max_diff = 0;
        for (int64_t i = 0; i < new_test->n * CLASSES; i++)
            if (fabs((double)logits[i] - (double)merged[i]) > me->max_diff)
                me->max_diff = fabs((double)logits[i] - (double)merged[i]);
    }
    rc = 0;
done:
    lg_params_free(m.p);
    return rc;
}

static int run(const options *o, workspace *w, const lg_dataset *train, const lg_dataset *test)
{
    lg_dataset old_train, old_test, new_train, new_test;
    memset(&old_test, 0, sizeof old_test);
    memset(&new_train, 0, sizeof new_train);
    memset(&new_test, 0, sizeof new_test);
    model pre = {0};
    float *logits = NULL, *merged = NULL;
    int rc = 1;
    if (subset(train, 0, 4, &old_train))
        return 1;
    if (subset(test, 0, 4, &old_test) || subset(train, 5, 9, &new_train) ||
        subset(test, 5, 9, &new_test))
        goto done;
    logits = malloc(sizeof *logits * (size_t)(new_test.n * CLASSES));
    merged = malloc(sizeof *merged * (size_t)(new_test.n * CLASSES));
    int64_t nmax = old_train.n > new_train.n ? old_train.n : new_train.n;
    w->perm = malloc(sizeof *w->perm * (size_t)nmax);
    if (!logits || !merged || !w->perm) {
        fprintf(stderr, "lora_finetune: out of memory\n");
        goto done;
    }
    printf("Fashion-MNIST from %s: classes 0-4 %lld train / %lld test, classes 5-9 %lld train "
           "/ %lld test\n", o->data, (long long)old_train.n, (long long)old_test.n,
           (long long)new_train.n, (long long)new_test.n);

    /* Pretraining on classes 0-4. */
    if (model_init(&pre, NULL, NULL, o->seed)) {
        fprintf(stderr, "lora_finetune: cannot build the model: %s\n", lg_last_errmsg());
        goto done;
    }
    double pt = train_model(o, w, &pre, &old_train, o->pre_epochs, o->lr);
    if (pt < 0)
        goto done;
    double pre_old = evaluate(w->g, &pre, &old_test, NULL);
    double pre_new = evaluate(w->g, &pre, &new_test, NULL);
    if (pre_old < 0 || pre_new < 0)
        goto done;
    if (o->max_batches)
        printf("--quick: at most %d batches per epoch\n", o->max_batches);
    printf("pretrained MLP 784-256-128-10 (%lld parameters) on classes 0-4: %d epoch(s), "
           "%.1f s; test accuracy classes 0-4 %.4f, classes 5-9 %.4f\n",
           (long long)lg_params_numel(pre.p, true), o->pre_epochs, pt, pre_old, pre_new);
    printf("adapting to classes 5-9: %d epoch(s), batch %d, Adam with a cosine schedule "
           "(LoRA lr %g, alpha = rank; full lr %g)\n\n", o->epochs, o->batch, o->lora_lr, o->lr);

    method ms[METHODS] = {
        {"LoRA r=4", 4, LG_LORA_INIT_DEFAULT, 0, 0, 0, 0, 0, 0, 0},
        {"LoRA r=8", 8, LG_LORA_INIT_DEFAULT, 0, 0, 0, 0, 0, 0, 0},
        {"PiSSA r=8", 8, LG_LORA_INIT_PISSA, 0, 0, 0, 0, 0, 0, 0},
        {"full fine-tune", 0, LG_LORA_INIT_DEFAULT, 0, 0, 0, 0, 0, 0, 0},
    };
    for (int i = 0; i < METHODS; i++)
        if (adapt(o, w, pre.p, &ms[i], &new_train, &new_test, &old_test, logits, merged))
            goto done;

    printf("%-15s %10s %9s %9s %9s %8s\n", "method", "trainable", "5-9 pre", "5-9 post",
           "0-4 post", "time s");
    printf("%-15s %10s %9s %9s %9s %8s\n", "---------------", "----------", "---------",
           "---------", "---------", "--------");
    for (int i = 0; i < METHODS; i++)
        printf("%-15s %10lld %9.4f %9.4f %9.4f %8.2f\n", ms[i].name, (long long)ms[i].trainable,
               ms[i].before, ms[i].after, ms[i].old_after, ms[i].seconds);
    printf("\nmerged adapters (W += scale B A) vs unmerged, on the %lld test samples of "
           "classes 5-9:\n", (long long)new_test.n);
    for (int i = 0; i < METHODS; i++)
        if (ms[i].rank)
            printf("  %-10s differing argmax predictions %lld, max |logit diff| %.3g\n",
                   ms[i].name, (long long)ms[i].differ, ms[i].max_diff);
    rc = 0;
    for (int i = 0; i < METHODS; i++)
        if (ms[i].rank && ms[i].differ != 0) {
            fprintf(stderr, "lora_finetune: the merged %s model predicts differently\n",
                    ms[i].name);
            rc = 1;
        }
done:
    lg_params_free(pre.p);
    free(logits);
    free(merged);
    subset_free(&old_train);
    subset_free(&old_test);
    subset_free(&new_train);
    subset_free(&new_test);
    return rc;
}

int main(int argc, char **argv)
{
    options o;
    if (parse(argc, argv, &o))
        return 1;
    lg_set_num_threads(o.threads);
    lg_dataset train = {0}, test = {0};
    if (load_data_normalized("lora_finetune", o.data, &train, &test))
        return 1;
    workspace w = {0};
    lg_rng_init(&w.rng, o.seed + 1);
    w.g = lg_graph_new();
    int64_t xs[2] = {o.batch, train.features};
    w.x = lg_tensor_new(LG_F32, 2, xs);
    w.y = lg_tensor_new(LG_I32, 1, (int64_t[]){o.batch});
    int status = 1;
    if (!w.g || !w.x || !w.y)
        fprintf(stderr, "lora_finetune: setup failed: %s\n", lg_last_errmsg());
    else {
        /* views of the first samples; the full sets stay whole for lg_dataset_free */
        lg_dataset train_view = train, test_view = test;
        if (o.train_limit > 0 && o.train_limit < train.n)
            train_view.n = o.train_limit;
        if (o.test_limit > 0 && o.test_limit < test.n)
            test_view.n = o.test_limit;
        status = run(&o, &w, &train_view, &test_view);
    }
    lg_tensor_free(w.y);
    free(w.perm);
    lg_tensor_free(w.x);
    lg_graph_free(w.g);
    lg_dataset_free(&train);
    lg_dataset_free(&test);
    return status;
}
