/* MLP training speed on the real Fashion-MNIST training set: the recipe of examples/mnist
 * (fully connected ReLU net, cross-entropy, Adam lr 1e-3 on a cosine schedule, batches drawn
 * from a shuffled, standardised training set; no augmentation), timed the way
 * bench/mlp_torch.py times PyTorch. Prints one JSON object.
 *
 *   mlp [--widths 784,256,128,10] [--batch 128] [--threads 1] [--steps N] [--reps 3]
 *       (--threads 0: lagrad's default thread count, as a program that never sets one)
 *       [--mode train|epoch|anomaly|sgemm] [--train-limit N] [--data DIR]
 *
 * A window is --steps steps, or without it as many steps as fit in 0.4 s (so a slow
 * setting cannot stretch the run). train: `reps` windows after a warm-up; after each the same
 *          thread count times cblas_sgemm at 1024^3, the GEMM limit; the step's own sgemm
 *          calls alone (same shapes and transposes: the floor of any step); and the optimizer
 *          update alone. Reports the median samples/s, the median sgemm GFLOP/s, the matmul
 *          FLOPs per trained sample, the step-sgemm ms, the update µs and lagrad's heap
 *          allocations per step after the first (all of lagrad's memory goes through the
 *          counting allocator hook, installed before anything is created).
 * epoch:   the median time of `reps` whole epochs over the first --train-limit samples.
 * anomaly: forward + backward only (no optimizer), windows alternating anomaly mode off and
 *          on; reports the median ms per step of each.
 * sgemm:   only the GEMM limit (cblas_sgemm at 1024^3, median of `reps`), without data: the
 *          rate other rows of bench/suite.py (charlm) divide by. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lagrad/lagrad.h"
#include "lagrad/data.h"
#include "../examples/example_mlp.h"
#include "../tests/test_alloc.h"
#include "bench_util.h"

enum { MAX_LAYERS = 4, MAX_REPS = 31 };

typedef struct options {
    const char *data, *mode;
    int64_t widths[MAX_LAYERS + 1];
    int layers, batch, threads, reps;
    long steps;
    int64_t train_limit;
} options;

typedef struct net {
    lg_graph *g;
    lg_params *p;
    lg_optim *opt;
    lg_tensor *w[MAX_LAYERS], *b[MAX_LAYERS], *x;
    lg_tensor *y; /* (batch) i32 labels */
    int64_t *perm, cursor, n; /* cursor: next batch of the current shuffle */
    const lg_dataset *train;
    lg_rng rng;
    long step, total;         /* for the cosine schedule */
} net;

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "mlp bench: %s: %s\n", what, msg);
    exit(1);
}

static int parse_widths(const char *s, options *o)
{
    o->layers = -1;
    for (const char *p = s; *p && o->layers < MAX_LAYERS;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1)
            return 1;
        o->widths[++o->layers] = v;
        p = *end == ',' ? end + 1 : end;
        if (!*end)
            break;
    }
    return o->layers < 1;
}

static void parse(int argc, char **argv, options *o)
{
    *o = (options){.data = "/usr/share/datasets/fashion-mnist", .mode = "train",
                   .batch = 128, .threads = 1, .reps = 3, .steps = 0};
    parse_widths("784,256,128,10", o);
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--widths") && !parse_widths(v, o)) continue;
        if (!strcmp(a, "--batch")) o->batch = atoi(v);
        else if (!strcmp(a, "--threads")) o->threads = atoi(v);
        else if (!strcmp(a, "--steps")) o->steps = atol(v);
        else if (!strcmp(a, "--reps")) o->reps = atoi(v);
        else if (!strcmp(a, "--mode")) o->mode = v;
        else if (!strcmp(a, "--train-limit")) o->train_limit = atoll(v);
        else if (!strcmp(a, "--data")) o->data = v;
        else die(a, "unknown option or bad value");
    }
    if (argc % 2 == 0)
        die(argv[argc - 1], "needs a value");
    if (o->batch < 1 || o->threads < 0 || o->reps < 1 || o->reps > MAX_REPS || o->steps < 0 ||
        o->train_limit < 0)
        die("options", "batch >= 1, threads >= 0, reps in [1, 31], steps and limit >= 0");
}

/* PyTorch's nn.Linear init, U(-1/sqrt(in), 1/sqrt(in)) for weights and biases. */
/* A store with the net's layers, fc<k>.weight (out, in) and fc<k>.bias (out), zeros. */
static lg_params *mlp_params(const options *o, lg_tensor **w, lg_tensor **b)
{
    lg_params *p = lg_params_new();
    for (int k = 0; p && k < o->layers; k++) {
        char name[32];
        int64_t ws[2] = {o->widths[k + 1], o->widths[k]};
        snprintf(name, sizeof name, "fc%d.weight", k + 1);
        w[k] = lg_params_add(p, name, LG_F32, 2, ws);
        snprintf(name, sizeof name, "fc%d.bias", k + 1);
        b[k] = lg_params_add(p, name, LG_F32, 1, ws);
        if (!w[k] || !b[k])
            die("parameters", lg_last_errmsg());
    }
    if (!p)
        die("parameters", lg_last_errmsg());
    return p;
}

/* The recipe's optimizer: Adam with PyTorch's defaults, zeroing the gradients it reads. */
static lg_optim *recipe_adam(lg_params *p)
{
    lg_optim_config c = lg_optim_defaults(LG_OPTIM_ADAM);
    c.zero_grad = true;
    lg_optim *opt = lg_optim_new(p, &c);
    if (!opt)
        die("optimizer", lg_last_errmsg());
    return opt;
}

static void build(net *m, const options *o)
{
    m->p = mlp_params(o, m->w, m->b);
    lg_rng_init(&m->rng, 42);
    for (int k = 0; k < o->layers; k++) {
        double bound = 1.0 / sqrt((double)o->widths[k]);
        lg_tensor *t[2] = {m->w[k], m->b[k]};
        for (int j = 0; j < 2; j++) {
            float *d = lg_tensor_data(t[j]);
            for (int64_t i = 0; i < lg_tensor_numel(t[j]); i++)
                d[i] = (float)(bound * (2 * lg_rng_uniform(&m->rng) - 1));
        }
    }
    m->opt = recipe_adam(m->p);
    m->g = lg_graph_new();
    int64_t xs[2] = {o->batch, o->widths[0]};
    m->x = lg_tensor_new(LG_F32, 2, xs);
    m->y = lg_tensor_new(LG_I32, 1, (int64_t[]){o->batch});
    m->perm = malloc(sizeof *m->perm * (size_t)m->n);
    if (!m->opt || !m->g || !m->x || !m->y || !m->perm)
        die("setup", lg_last_errmsg());
    m->cursor = m->n / o->batch; /* shuffle on the first step */
}

/* Next batch of the shuffled set, reshuffling after each pass (the partial batch dropped). */
static void next_batch(net *m, int batch)
{
    if (m->cursor >= m->n / batch) {
        lg_data_shuffle(m->perm, m->n, &m->rng);
        m->cursor = 0;
    }
    lg_dataset view = *m->train;
    view.n = m->n;
    if (lg_dataset_batch(&view, m->perm, batch, m->cursor++, m->x, m->y) != LG_OK)
        die("batch", lg_last_errmsg());
}

/* Forward and backward of one batch; with `update`, the Adam step too. Returns the loss. */
static double step(net *m, const options *o, int update)
{
    next_batch(m, o->batch);
    lg_graph_reset(m->g);
    if (!update) /* with updates, the optimizer zeroes the gradients (zero_grad) */
        lg_params_zero_grad(m->p);
    lg_tensor *h = m->x;
    for (int k = 0; k < o->layers; k++) {
        h = lg_linear(m->g, h, m->w[k], m->b[k]);
        if (k < o->layers - 1)
            h = lg_relu(m->g, h);
    }
    lg_tensor *l = lg_cross_entropy(m->g, h, m->y);
    if (!l || lg_backward(m->g, l) != LG_OK)
        die("step", lg_graph_errmsg(m->g));
    if (update) {
        lg_optim_set_lr(m->opt, cosine_lr(1e-3, m->step++, m->total));
        if (lg_optim_step(m->opt) != LG_OK)
            die("optimizer", lg_last_errmsg());
    }
    return lg_tensor_item(l, 0);
}

/* One window: o->steps steps, or steps until `seconds` have passed when o->steps is 0.
 * Returns the elapsed seconds; *done gets the step count. */
static double window(net *m, const options *o, int update, double seconds, long *done)
{
    double t0 = now_s(), t = 0;
    long i = 0;
    volatile double sink = 0;
    while (o->steps ? i < o->steps : t < seconds) {
        sink += step(m, o, update);
        i++;
        t = now_s() - t0;
    }
    if (sink != sink)
        die("step", "the loss is NaN");
    *done = i;
    return t;
}

enum { SQ = 1024 };

/* One cblas_sgemm at SQ^3 on the three matrices in ctx (a, b, c). */
static void sgemm_square(void *ctx)
{
    float **m = ctx;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, SQ, SQ, SQ, 1, m[0], SQ, m[1], SQ,
                0, m[2], SQ);
}

/* cblas_sgemm GFLOP/s at 1024^3 on the current thread count, over about 0.15 s. */
static double sgemm_gflops(void)
{
    static float *m[3];
    if (!m[0]) {
        for (int j = 0; j < 3; j++)
            if (!(m[j] = malloc(sizeof(float) * SQ * SQ)))
                die("sgemm", "out of memory");
        for (long i = 0; i < (long)SQ * SQ; i++) {
            m[0][i] = (float)(i % 7) * 0.1f;
            m[1][i] = (float)(i % 5) * 0.1f;
        }
        sgemm_square(m);
    }
    return 2.0 * SQ * SQ * SQ / seconds_per_call(sgemm_square, m, 0.15) * 1e-9;
}

typedef struct step_buffers {
    const options *o;
    float *(*buf)[5]; /* per layer: x, w, y (also dY), dw, dx */
} step_buffers;

/* The raw cblas_sgemm calls of one training step at these widths and batch: forward
 * Y = X Wᵀ, dW += dYᵀ X (beta 1, into the gradient), and dX = dY W for every layer but
 * the first, as lagrad issues them. */
static void step_sgemms(void *ctx)
{
    const step_buffers *sb = ctx;
    const options *o = sb->o;
    int bs = (int)o->batch;
    for (int k = 0; k < o->layers; k++) {
        int in = (int)o->widths[k], out = (int)o->widths[k + 1];
        float **b = sb->buf[k];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bs, out, in, 1, b[0], in, b[1],
                    in, 0, b[2], out);
    }
    for (int k = o->layers - 1; k >= 0; k--) {
        int in = (int)o->widths[k], out = (int)o->widths[k + 1];
        float **b = sb->buf[k];
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, bs, 1, b[2], out, b[0],
                    in, 1, b[3], in);
        if (k)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, bs, in, out, 1, b[2], out,
                        b[1], in, 0, b[4], in);
    }
}

/* Mean ms per step of step_sgemms over about 0.15 s. */
static double step_sgemm_ms(const options *o)
{
    static float *buf[MAX_LAYERS][5];
    const int64_t bsz = o->batch;
    for (int k = 0; k < o->layers && !buf[k][0]; k++) {
        int64_t in = o->widths[k], out = o->widths[k + 1];
        int64_t n[5] = {bsz * in, out * in, bsz * out, out * in, bsz * in};
        for (int j = 0; j < 5; j++) {
            if (!(buf[k][j] = malloc(sizeof(float) * (size_t)n[j])))
                die("sgemm", "out of memory");
            for (int64_t i = 0; i < n[j]; i++)
                buf[k][j][i] = (float)((i + j) % 9) * 0.05f;
        }
    }
    step_buffers sb = {o, buf};
    return 1e3 * seconds_per_call(step_sgemms, &sb, 0.15);
}

static void optim_step_or_die(void *opt)
{
    if (lg_optim_step(opt) != LG_OK)
        die("optimizer", lg_last_errmsg());
}

/* The update alone: `opt` runs over a store of its own with the net's shapes (so the
 * net's training is left alone), set up as the step's. µs per update over about 0.1 s. */
static double optim_us(lg_optim *opt)
{
    return 1e6 * seconds_per_call(optim_step_or_die, opt, 0.1);
}

/* Matmul FLOPs to train on one sample: forward, dW and dX of every layer but the first
 * (the input needs no gradient). */
static double flops_per_sample(const options *o)
{
    double f = 0;
    for (int k = 0; k < o->layers; k++)
        f += 2.0 * (double)(o->widths[k] * o->widths[k + 1]) * (k ? 3 : 2);
    return f;
}

int main(int argc, char **argv)
{
    options o;
    parse(argc, argv, &o);
    counter allocs = {0};
    lg_allocator al = counter_allocator(&allocs);
    lg_set_allocator(&al);
    if (o.threads > 0 && lg_set_num_threads(o.threads) != LG_OK)
        die("threads", lg_last_errmsg());
    if (!strcmp(o.mode, "sgemm")) {
        double g[MAX_REPS];
        for (int r = 0; r < o.reps; r++)
            g[r] = sgemm_gflops();
        printf("{\"sgemm_gflops\": %.2f}\n", median(g, o.reps));
        return 0;
    }
    lg_dataset train = {0}, test = {0};
    if (load_data_normalized("mlp bench", o.data, &train, &test))
        return 1;
    lg_dataset_free(&test);
    if (train.features != o.widths[0])
        die("--widths", "the first width must be the image size (784)");
    net m = {.train = &train};
    m.n = o.train_limit && o.train_limit < train.n ? o.train_limit : train.n;
    if (m.n < o.batch)
        die("--train-limit", "fewer samples than one batch");
    build(&m, &o);
    double a[MAX_REPS], b[MAX_REPS], c[MAX_REPS], d[MAX_REPS];
    volatile double sink = 0;
    if (!strcmp(o.mode, "train")) {
        m.total = 1000000; /* a nominal schedule length: lr stays near 1e-3 */
        sink += step(&m, &o, 1);
        lg_tensor *sw[MAX_LAYERS], *sb[MAX_LAYERS];
        lg_params *scratch = mlp_params(&o, sw, sb); /* for the update alone */
        lg_optim *scratch_opt = recipe_adam(scratch);
        /* allocations counted inside the training windows only: the references between
         * them (the optimizer alone has a store of its own) are not steps */
        long before = allocs.calls, counted = 0, n;
        window(&m, &o, 1, 0.1, &n); /* warm-up */
        counted += n;
        long in_steps = allocs.calls - before;
        for (int r = 0; r < o.reps; r++) {
            before = allocs.calls;
            double t = window(&m, &o, 1, 0.4, &n);
            in_steps += allocs.calls - before;
            counted += n;
            a[r] = (double)n * o.batch / t;
            b[r] = sgemm_gflops();
            c[r] = step_sgemm_ms(&o);
            d[r] = optim_us(scratch_opt);
        }
        lg_optim_free(scratch_opt);
        lg_params_free(scratch);
        double fps = flops_per_sample(&o), sps = median(a, o.reps), gf = median(b, o.reps);
        printf("{\"samples_per_s\": %.1f, \"sgemm_gflops\": %.2f, \"flops_per_sample\": %.0f, "
               "\"gemm_fraction\": %.4f, \"ms_per_step\": %.4f, \"step_sgemm_ms\": %.4f, "
               "\"optim_us\": %.2f, \"allocs_per_step\": %.4f, \"steps\": %ld}\n",
               sps, gf, fps, sps * fps / (gf * 1e9), 1e3 * o.batch / sps, median(c, o.reps),
               median(d, o.reps), (double)in_steps / (double)counted, counted);
    } else if (!strcmp(o.mode, "epoch")) {
        long per_epoch = (long)(m.n / o.batch);
        m.total = (o.reps + 1) * per_epoch;
        for (long i = 0; i < per_epoch; i++) /* warm-up epoch */
            sink += step(&m, &o, 1);
        for (int r = 0; r < o.reps; r++) {
            double t0 = now_s();
            for (long i = 0; i < per_epoch; i++)
                sink += step(&m, &o, 1);
            a[r] = now_s() - t0;
        }
        printf("{\"epoch_s\": %.4f, \"samples\": %lld}\n", median(a, o.reps),
               (long long)(per_epoch * o.batch));
    } else if (!strcmp(o.mode, "anomaly")) {
        long n;
        window(&m, &o, 0, 0.1, &n);
        for (int r = 0; r < o.reps; r++)
            for (int on = 0; on < 2; on++) {
                lg_graph_set_anomaly(m.g, on);
                double t = window(&m, &o, 0, 0.3, &n);
                (on ? b : a)[r] = 1e3 * t / (double)n;
            }
        printf("{\"off_ms\": %.4f, \"on_ms\": %.4f}\n", median(a, o.reps), median(b, o.reps));
    } else {
        die(o.mode, "--mode is train, epoch, anomaly or sgemm");
    }
    lg_tensor_free(m.y);
    free(m.perm);
    lg_tensor_free(m.x);
    lg_graph_free(m.g);
    lg_optim_free(m.opt);
    lg_params_free(m.p);
    lg_dataset_free(&train);
    return sink != sink; /* a NaN loss fails the run */
}
