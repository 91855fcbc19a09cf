/* examples/sharpness: the edge of stability (Cohen et al., ICLR 2021) in C. Full-batch
 * gradient descent with step η on the first 5,000 Fashion-MNIST training images
 * (standardised per pixel), a tanh network 784-200-200-10 in f32 (PyTorch's nn.Linear
 * init), loss ½‖f(x) − onehot(y)‖² averaged over the samples. Every 100 steps the
 * sharpness, the top eigenvalue of the training loss's Hessian, comes from lg_lanczos over
 * exact Hessian-vector products (lg_hessian), warm-started from the last top eigenvector.
 * It rises (progressive sharpening) until it reaches 2/η, then hovers there. Writes a CSV
 * and, with gnuplot installed, a PNG of sharpness against steps with the line 2/η; ends
 * with a RESULT line. --help lists the options. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lagrad/lagrad.h"
#include "example_data.h"

typedef struct options {
    const char *data, *csv, *png, *spectrum;
    int64_t n;
    int steps, every, threads, max_iter, hidden;
    double eta, tol, plateau_from, plateau_to;
    uint64_t seed;
} options;

typedef struct task {
    lg_linear_layer l[3];
    lg_tensor *x, *y;  /* (N, 784) standardised pixels, (N, 10) one-hot labels; f32 */
    int64_t n;
} task;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ½ Σ‖f(x) − y‖² / N over the whole training set */
static lg_tensor *loss_fn(lg_graph *g, const task *t)
{
    lg_tensor *h = lg_tanh(g, lg_linear_layer_forward(g, &t->l[0], t->x));
    h = lg_tanh(g, lg_linear_layer_forward(g, &t->l[1], h));
    lg_tensor *d = lg_sub(g, lg_linear_layer_forward(g, &t->l[2], h), t->y);
    return lg_scale(g, lg_sum(g, lg_mul(g, d, d)), 0.5 / (double)t->n);
}

static lg_tensor *batch_loss(lg_graph *g, int64_t batch, void *ctx)
{
    (void)batch;
    return loss_fn(g, ctx);
}

/* Prints the usage (to stderr after a bad option); 1 after an error, -1 after --help. */
static int usage(const char *bad)
{
    FILE *f = bad ? stderr : stdout;
    if (bad)
        fprintf(f, "sharpness: bad or incomplete option %s\n", bad);
    fprintf(f, "usage: sharpness [--data DIR] [--n 5000] [--eta 0.04] [--steps 3000] "
            "[--every 100]\n  [--hidden 200] [--threads 2] [--seed 0] [--tol 1e-3] "
            "[--max-iter 40]\n  [--plateau-from 1700] [--plateau-to 3000] "
            "[--csv sharpness.csv] [--png sharpness.png]\n  [--spectrum FILE]\n"
            "--png '' skips the plot; the plateau median is over the estimates in "
            "[from, to];\n--spectrum FILE: at the end, the Hessian's bottom eigenvalue, "
            "trace (Hutchinson) and density\n(stochastic Lanczos quadrature) into FILE "
            "(about 150 more HVPs)\n");
    return bad ? 1 : -1;
}

static int parse(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return usage(NULL);
        if (!v)
            return usage(a);
        i++;
        if (!strcmp(a, "--data")) o->data = v;
        else if (!strcmp(a, "--csv")) o->csv = v;
        else if (!strcmp(a, "--png")) o->png = v;
        else if (!strcmp(a, "--spectrum")) o->spectrum = v;
        else if (!strcmp(a, "--n")) o->n = atoll(v);
        else if (!strcmp(a, "--steps")) o->steps = atoi(v);
        else if (!strcmp(a, "--every")) o->every = atoi(v);
        else if (!strcmp(a, "--threads")) o->threads = atoi(v);
        else if (!strcmp(a, "--max-iter")) o->max_iter = atoi(v);
        else if (!strcmp(a, "--hidden")) o->hidden = atoi(v);
        else if (!strcmp(a, "--eta")) o->eta = atof(v);
        else if (!strcmp(a, "--tol")) o->tol = atof(v);
        else if (!strcmp(a, "--plateau-from")) o->plateau_from = atof(v);
        else if (!strcmp(a, "--plateau-to")) o->plateau_to = atof(v);
        else if (!strcmp(a, "--seed")) o->seed = (uint64_t)atoll(v);
        else return usage(a);
    }
    if (o->n < 1 || o->steps < 0 || o->every < 1 || o->threads < 1 || o->max_iter < 1 ||
        o->hidden < 1 || !(o->eta > 0) || !(o->tol >= 0))
        return usage("(a value out of range)");
    return 0;
}

/* x: the first n images standardised per pixel (a pixel constant over the n gets std 1);
 * y: one-hot labels. Both f32 (n, ·), caller-owned. */
static int load(const options *o, task *t)
{
    lg_dataset ds;
    if (lg_dataset_load_mnist(o->data, "train", &ds) != LG_OK) {
        fprintf(stderr, "sharpness: cannot load Fashion-MNIST from %s (%s); run "
                "scripts/fetch-fashion-mnist.sh or pass --data DIR\n", o->data, lg_last_errmsg());
        return 1;
    }
    int64_t n = o->n < ds.n ? o->n : ds.n, f = ds.features;
    t->n = n;
    t->x = lg_tensor_new(LG_F32, 2, (int64_t[]){n, f});
    t->y = lg_tensor_new(LG_F32, 2, (int64_t[]){n, 10});
    if (!t->x || !t->y || ds.num_classes > 10) {
        fprintf(stderr, "sharpness: %s\n",
                t->x && t->y ? "more than 10 classes" : lg_last_errmsg());
        lg_dataset_free(&ds);
        return 1;
    }
    const float *src = lg_tensor_cdata(ds.images);
    const int32_t *lab = lg_tensor_cdata(ds.labels);
    float *x = lg_tensor_data(t->x), *y = lg_tensor_data(t->y);
    for (int64_t j = 0; j < f; j++) {
        double s = 0, s2 = 0;
        for (int64_t i = 0; i < n; i++)
            s += src[i * f + j];
        double mean = s / (double)n;
        for (int64_t i = 0; i < n; i++)
            s2 += (src[i * f + j] - mean) * (src[i * f + j] - mean);
        double sd = sqrt(s2 / (double)n);
        if (!(sd > 1e-6))
            sd = 1;
        for (int64_t i = 0; i < n; i++)
            x[i * f + j] = (float)((src[i * f + j] - mean) / sd);
    }
    for (int64_t i = 0; i < n; i++)
        y[i * 10 + lab[i]] = 1;
    lg_dataset_free(&ds);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sharpness against steps with the line 2/η, through gnuplot's pngcairo terminal. */
static void plot(const options *o)
{
    FILE *gp = popen("gnuplot 2>/dev/null", "w");
    if (!gp) {
        fprintf(stderr, "sharpness: no gnuplot; skipping %s\n", o->png);
        return;
    }
    fprintf(gp, "set terminal pngcairo size 900,520\nset output '%s'\n"
            "set datafile separator ','\nset key top left\nset grid\n"
            "set xlabel 'step'\nset ylabel 'sharpness (top Hessian eigenvalue)'\n"
            "set y2label 'train loss'\nset ytics nomirror\nset y2tics\n"
            "set title 'full-batch GD, eta = %g, 5,000 Fashion-MNIST images, tanh 784-%d-%d-10'\n"
            "plot '%s' using 1:3 with linespoints pt 7 ps 0.6 title 'sharpness', "
            "%g with lines dt 2 lw 2 title '2/eta', "
            "'%s' using 1:2 with lines axes x1y2 title 'train loss'\n",
            o->png, o->eta, o->hidden, o->hidden, o->csv, 2 / o->eta, o->csv);
    if (pclose(gp) != 0)
        fprintf(stderr, "sharpness: gnuplot failed (install gnuplot-nox); no %s\n", o->png);
    else
        printf("wrote %s\n", o->png);
}

/* The rest of the spectrum at the final parameters: the bottom eigenvalue, the trace and
 * an SLQ density (4 probes of 30 steps, Gaussian width 1% of the range) on 400 points. */
static int spectrum(const options *o, lg_hessian *h)
{
    enum { PROBES = 4, STEPS = 30, GRID = 400 };
    lg_linop op = lg_hessian_linop(h);
    double bottom, nodes[PROBES * STEPS], weights[PROBES * STEPS], grid[GRID], dens[GRID];
    lg_eigpairs b = {1, &bottom, NULL, NULL};
    lg_lanczos_opts lo = lg_lanczos_defaults();
    lo.max_iter = 100; /* the bottom sits at the edge of a dense cluster near 0: a loose tol
                          would stop at a Ritz value inside it (a small residual says "near
                          some eigenvalue", not "near the smallest") */
    lo.tol = 1e-6;
    lg_hutchinson_opts ho = lg_hutchinson_defaults();
    ho.max_probes = 30;
    ho.rel_tol = 0.02;
    lg_trace_estimate tr;
    lg_slq_opts so = lg_slq_defaults();
    so.probes = PROBES;
    so.steps = STEPS;
    lg_lanczos_info info;
    lg_hessian_reuse(h, true); /* θ stays fixed from here on */
    lg_status s = lg_lanczos(&op, NULL, &b, &lo, &info), s2, s3;
    if (s != LG_OK && s != LG_ERR_NO_CONVERGE)
        goto fail;
    s2 = lg_hutchinson_trace(&op, &ho, &tr);
    if (s2 != LG_OK && s2 != LG_ERR_NO_CONVERGE)
        goto fail;
    if ((s3 = lg_slq(&op, &so, nodes, weights)) != LG_OK)
        goto fail;
    double lo_t = nodes[0], hi_t = nodes[0];
    for (int j = 0; j < PROBES * STEPS; j++) {
        lo_t = fmin(lo_t, nodes[j]);
        hi_t = fmax(hi_t, nodes[j]);
    }
    double sigma = 0.01 * (hi_t - lo_t) + 1e-12, a = lo_t - 5 * sigma;
    for (int g = 0; g < GRID; g++)
        grid[g] = a + (hi_t + 5 * sigma - a) * g / (GRID - 1);
    lg_slq_density(nodes, weights, PROBES, STEPS, sigma, grid, GRID, dens);
    FILE *f = fopen(o->spectrum, "w");
    if (!f) {
        fprintf(stderr, "sharpness: cannot write %s\n", o->spectrum);
        return 1;
    }
    fprintf(f, "# bottom eigenvalue %.6g; trace %.6g +- %.2g (%d probes); SLQ %d probes x %d "
            "steps, sigma %.3g\neigenvalue,density\n", bottom, tr.trace, tr.std_err, tr.probes,
            PROBES, STEPS, sigma);
    for (int g = 0; g < GRID; g++)
        fprintf(f, "%.6g,%.6g\n", grid[g], dens[g]);
    fclose(f);
    printf("spectrum: bottom eigenvalue %.4g (%d HVPs%s), trace %.5g +- %.2g (%d probes), "
           "density in %s\n", bottom, info.iterations, info.converged ? "" : ", not converged",
           tr.trace, tr.std_err, tr.probes, o->spectrum);
    return 0;
fail:
    fprintf(stderr, "sharpness: spectrum: %s\n", lg_last_errmsg());
    return 1;
}

typedef struct run {
    lg_params *p;
    lg_graph *g;
    lg_optim *opt;
    lg_hessian *h;
    double *v;      /* the last top eigenvector: the next estimate's start */
    FILE *csv;
} run;

static void run_free(run *r)
{
    lg_params_free(r->p);
    lg_graph_free(r->g);
    lg_optim_free(r->opt);
    lg_hessian_free(r->h);
    free(r->v);
    if (r->csv)
        fclose(r->csv);
}

static int setup(const options *o, task *t, run *r)
{
    lg_rng rng;
    lg_rng_init(&rng, o->seed);
    r->p = lg_params_new();
    int64_t w[4] = {lg_tensor_shape(t->x)[1], o->hidden, o->hidden, 10};
    lg_status s = r->p ? LG_OK : LG_ERR_OOM;
    for (int k = 0; k < 3 && s == LG_OK; k++) {
        char name[16];
        snprintf(name, sizeof name, "fc%d", k + 1);
        s = lg_linear_layer_init(&t->l[k], r->p, name, w[k], w[k + 1], true, LG_F32, &rng);
    }
    lg_optim_config c = lg_optim_defaults(LG_OPTIM_SGD);
    c.lr = o->eta;
    c.zero_grad = true;
    r->g = lg_graph_new();
    r->opt = s == LG_OK ? lg_optim_new(r->p, &c) : NULL;
    r->h = s == LG_OK ? lg_hessian_new(r->p, batch_loss, t, NULL) : NULL;
    r->v = r->h ? malloc((size_t)lg_hessian_dim(r->h) * sizeof(double)) : NULL;
    r->csv = fopen(o->csv, "w");
    if (s != LG_OK || !r->g || !r->opt || !r->h || !r->v || !r->csv) {
        fprintf(stderr, "sharpness: setup failed: %s\n", r->csv ? lg_last_errmsg() : o->csv);
        return 1;
    }
    fprintf(r->csv, "step,train_loss,sharpness,two_over_eta,lanczos_iterations,"
            "relative_residual,seconds\n");
    return 0;
}

/* The top eigenvalue of the Hessian at the current parameters. */
static int sharpness(const options *o, run *r, int step, double *lambda, int *iters,
                     double *rel_res)
{
    lg_linop op = lg_hessian_linop(r->h);
    double res;
    lg_eigpairs top = {1, lambda, r->v, &res};
    lg_lanczos_opts lo = lg_lanczos_defaults();
    lo.max_iter = o->max_iter;
    lo.tol = o->tol;
    lo.seed = o->seed;
    lo.v0 = step > 0 ? r->v : NULL;
    lg_lanczos_info info;
    /* θ is fixed during one estimate: every HVP after the first replays the kept gradient */
    lg_hessian_reuse(r->h, true);
    lg_status s = lg_lanczos(&op, &top, NULL, &lo, &info);
    lg_hessian_reuse(r->h, false);
    if (s != LG_OK && s != LG_ERR_NO_CONVERGE) {
        fprintf(stderr, "sharpness: step %d: %s\n", step, lg_last_errmsg());
        return 1;
    }
    *iters = info.iterations;
    *rel_res = res / fabs(*lambda);
    return 0;
}

int main(int argc, char **argv)
{
    options o = {.data = DEFAULT_DATA, .csv = "sharpness.csv", .png = "sharpness.png",
                 .n = 5000, .steps = 3000, .every = 100, .threads = 2, .max_iter = 40,
                 .hidden = 200, .eta = 0.04, .tol = 1e-3, .plateau_from = 1700,
                 .plateau_to = 3000};
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    lg_set_num_threads(o.threads);
    task t = {0};
    run r = {0};
    if (load(&o, &t) || setup(&o, &t, &r)) {
        run_free(&r);
        lg_tensor_free(t.x);
        lg_tensor_free(t.y);
        return 1;
    }
    printf("sharpness: %lld images, tanh 784-%d-%d-10 (%lld parameters), eta %g (2/eta = %g), "
           "%d steps, %d threads (%s OpenBLAS)\n", (long long)t.n, o.hidden, o.hidden,
           (long long)lg_hessian_dim(r.h), o.eta, 2 / o.eta, o.steps, o.threads,
           lg_blas_threading());
    double *sharp = calloc((size_t)(o.steps / o.every + 1), sizeof(double));
    int *at = calloc((size_t)(o.steps / o.every + 1), sizeof(int)), ns = 0;
    double t0 = now(), loss = NAN, hvp_s = 0;
    for (int step = 0; step <= o.steps && sharp && at; step++) {
        lg_graph_reset(r.g);
        lg_tensor *l = loss_fn(r.g, &t);
        if (!l || lg_backward(r.g, l) != LG_OK) {
            fprintf(stderr, "sharpness: step %d: %s\n", step, lg_graph_errmsg(r.g));
            rc = 1;
            break;
        }
        loss = lg_tensor_item(l, 0);
        if (step % o.every == 0) {
            double lam, rel, ts = now();
            int it;
            if (sharpness(&o, &r, step, &lam, &it, &rel)) {
                rc = 1;
                break;
            }
            hvp_s += now() - ts;
            sharp[ns] = lam;
            at[ns++] = step;
            fprintf(r.csv, "%d,%.6f,%.4f,%.4f,%d,%.2e,%.2f\n", step, loss, lam, 2 / o.eta, it,
                    rel, now() - t0);
            fflush(r.csv);
            printf("step %5d  loss %.4f  sharpness %7.3f  (2/eta %g; Lanczos %d HVPs, "
                   "residual %.1e)  %.1f s\n", step, loss, lam, 2 / o.eta, it, rel, now() - t0);
            fflush(stdout);
        }
        if (step < o.steps && lg_optim_step(r.opt) != LG_OK) {
            fprintf(stderr, "sharpness: step %d: %s\n", step, lg_last_errmsg());
            rc = 1;
            break;
        }
    }
    double secs = now() - t0;
    if (rc == 0 && ns > 0) {
        double peak = sharp[0], plateau[1024];
        int peak_step = 0, np = 0;
        for (int i = 0; i < ns; i++) {
            if (sharp[i] > peak) {
                peak = sharp[i];
                peak_step = at[i];
            }
            if (at[i] >= o.plateau_from && at[i] <= o.plateau_to && np < 1024)
                plateau[np++] = sharp[i];
        }
        qsort(plateau, (size_t)np, sizeof *plateau, cmp_double);
        double median = np ? (np % 2 ? plateau[np / 2] : 0.5 * (plateau[np / 2 - 1] +
                                                               plateau[np / 2])) : NAN;
        fclose(r.csv);
        r.csv = NULL;
        printf("wrote %s; peak at step %d; %.1f s of %.1f in sharpness estimates\n", o.csv,
               peak_step, hvp_s, secs);
        if (o.png && *o.png)
            plot(&o);
        if (o.spectrum && spectrum(&o, r.h))
            rc = 1;
        printf("RESULT eta=%g two_over_eta=%g sharpness_start=%.2f sharpness_peak=%.2f "
               "plateau_median=%.2f train_loss=%.4f seconds=%.1f\n", o.eta, 2 / o.eta, sharp[0],
               peak, median, loss, secs);
    }
    free(sharp);
    free(at);
    run_free(&r);
    lg_tensor_free(t.x);
    lg_tensor_free(t.y);
    return rc;
}
