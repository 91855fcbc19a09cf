/* examples/charlm: a character-level language model trained on Moby Dick (or any UTF-8
 * text) with nanoGPT's CPU recipe: a 4-layer, 4-head, width-128 GPT over a context of 64,
 * batch 12, dropout 0, the output head tied to the token embedding, weights N(0, 0.02²)
 * and zero biases; AdamW lr 1e-3, betas (0.9, 0.99), weight decay 0.1 on every parameter,
 * 100 warm-up steps then cosine to 1e-4 at step 2000, gradient clipping at norm 1.0. Every
 * 500 steps it prints the mean loss of 100 random train and validation batches and appends
 * them to a CSV file; at the end it saves a checkpoint (the vocabulary and the model's
 * shape in its metadata, the optimizer state beside it), prints
 *   RESULT dataset=moby-dick val_loss=... steps=... seconds=... tokens_per_s=...
 * and a 300-character sample at temperature 0.8. --model lstm trains a 2-layer LSTM
 * (embedding 128, hidden 256) with the same recipe instead. --sample FILE samples from a
 * saved checkpoint alone. --help lists the options. Get the text with
 * scripts/fetch-moby-dick.sh. */
#define _POSIX_C_SOURCE 200809L /* popen */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include "lagrad/lagrad.h"

typedef struct options {
    const char *data, *model, *csv, *png, *ckpt, *sample_from, *prompt;
    int64_t steps, batch, context, eval_every, eval_iters, sample_len, warmup, decay_steps;
    int64_t stop_after; /* stop (and save) after this many steps; 0: never */
    bool resume;
    int threads;
    uint64_t seed;
    double lr, min_lr, temperature, dropout;
} options;

/* Either model, behind one loss function. */
typedef struct model {
    bool lstm;
    lg_params *p;
    lg_gpt gpt;
    lg_tensor *emb, *head_w, *head_b; /* the LSTM's embedding and head */
    lg_rnn rnn;
} model;

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double now(void) { return clock_s(CLOCK_MONOTONIC); }
/* CPU seconds of the whole process: on a shared machine, the time the steps would take on
 * quiet cores (at one thread). */
static double cpu_now(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

static void usage(void)
{
    fprintf(stderr,
            "usage: charlm [--data FILE] [--model gpt|lstm] [--steps N] [--threads N]\n"
            "              [--seed S] [--eval-every N] [--eval-iters N] [--csv FILE]\n"
            "              [--ckpt FILE] [--sample-len N] [--temperature T] [--dropout P]\n"
            "              [--prompt TEXT] [--sample CKPT] [--batch B] [--context T]\n"
            "              [--stop-after N] [--resume] [--png FILE]\n"
            "defaults: data/moby-dick/data.txt, gpt, 2000 steps, 1 thread, seed 1337,\n"
            "batch 12, context 64,\n"
            "eval every 500 steps over 100 batches, charlm_curves.csv and .png (gnuplot;\n"
            "--png \"\" for none), charlm.safetensors,\n"
            "a 300-character sample at temperature 0.8 after a newline.\n"
            "The learning rate warms up for min(100, steps/20) steps and decays to 1e-4 at\n"
            "the last step. --sample CKPT only samples from a saved checkpoint.\n"
            "--stop-after N saves and stops after N steps; --resume continues from the\n"
            "checkpoint exactly (parameters, AdamW state, step and every RNG stream).\n");
}

static int parse(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage();
            exit(0);
        }
        if (!strcmp(a, "--resume")) {
            o->resume = true;
            continue;
        }
        static const char *known[] = {"--data", "--model", "--csv", "--ckpt", "--sample",
                                      "--prompt", "--steps", "--threads", "--seed",
                                      "--eval-every", "--eval-iters", "--sample-len", "--batch", "--context",
                                      "--stop-after", "--png",
                                      "--temperature", "--dropout"};
        bool ok = false;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            ok |= !strcmp(a, known[k]);
        if (!ok || !v) {
            fprintf(stderr, ok ? "charlm: %s needs a value\n" : "charlm: unknown option %s\n",
                    a);
            usage();
            return 1;
        }
        i++;
        if (!strcmp(a, "--data")) o->data = v;
        else if (!strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "--csv")) o->csv = v;
        else if (!strcmp(a, "--png")) o->png = v;
        else if (!strcmp(a, "--ckpt")) o->ckpt = v;
        else if (!strcmp(a, "--sample")) o->sample_from = v;
        else if (!strcmp(a, "--prompt")) o->prompt = v;
        else if (!strcmp(a, "--steps")) o->steps = atoll(v);
        else if (!strcmp(a, "--threads")) o->threads = atoi(v);
        else if (!strcmp(a, "--batch")) o->batch = atoll(v);
        else if (!strcmp(a, "--context")) o->context = atoll(v);
        else if (!strcmp(a, "--stop-after")) o->stop_after = atoll(v);
        else if (!strcmp(a, "--seed")) o->seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--eval-every")) o->eval_every = atoll(v);
        else if (!strcmp(a, "--eval-iters")) o->eval_iters = atoll(v);
        else if (!strcmp(a, "--sample-len")) o->sample_len = atoll(v);
        else if (!strcmp(a, "--temperature")) o->temperature = atof(v);
        else o->dropout = atof(v);
    }
    if (strcmp(o->model, "gpt") && strcmp(o->model, "lstm")) {
        fprintf(stderr, "charlm: --model is gpt or lstm, got %s\n", o->model);
        return 1;
    }
    if (o->steps < 1 || o->threads < 1 || o->eval_every < 1 || o->eval_iters < 1 ||
        o->batch < 1 || o->context < 1 || o->sample_len < 0) {
        fprintf(stderr, "charlm: --steps, --threads, --batch, --context, --eval-every and "
                        "--eval-iters must be >= 1 and --sample-len >= 0\n");
        return 1;
    }
    o->warmup = o->steps < 2000 ? o->steps / 20 : 100;
    o->decay_steps = o->steps;
    return 0;
}

static int fail(const char *what)
{
    fprintf(stderr, "charlm: %s: %s\n", what, lg_last_errmsg());
    return 1;
}

static int model_init(model *m, const options *o, int64_t vocab, bool lstm, lg_rng *r)
{
    memset(m, 0, sizeof *m);
    m->lstm = lstm;
    if (!(m->p = lg_params_new()))
        return fail("lg_params_new");
    if (!lstm) {
        lg_gpt_config c = {.vocab_size = vocab, .block_size = o->context, .n_layer = 4,
                           .n_head = 4, .n_embd = 128, .dropout = o->dropout};
        return lg_gpt_init(&m->gpt, m->p, "", &c, LG_F32, r) ? fail("lg_gpt_init") : 0;
    }
    /* embedding 128, 2 LSTM layers of 256, linear head: about the GPT's size */
    int64_t es[2] = {vocab, 128}, hs[2] = {vocab, 256}, bs[1] = {vocab};
    if (!(m->emb = lg_params_add(m->p, "embedding.weight", LG_F32, 2, es)) ||
        lg_init_uniform(m->emb, -0.1, 0.1, r) ||
        lg_rnn_init(&m->rnn, m->p, "lstm", LG_RNN_LSTM, 128, 256, 2, true, LG_F32, r) ||
        !(m->head_w = lg_params_add(m->p, "head.weight", LG_F32, 2, hs)) ||
        !(m->head_b = lg_params_add(m->p, "head.bias", LG_F32, 1, bs)) ||
        lg_init_uniform(m->head_w, -1.0 / 16, 1.0 / 16, r))
        return fail("lstm model init");
    return 0;
}

/* Logits (B·T, V) of ids (B, T). */
static lg_tensor *logits_of(lg_graph *g, model *m, lg_tensor *ids)
{
    if (!m->lstm) {
        lg_tensor *lo = lg_gpt_forward(g, &m->gpt, ids);
        int64_t rows[2] = {-1, m->gpt.cfg.vocab_size};
        return lg_reshape(g, lo, 2, rows);
    }
    lg_tensor *h = lg_rnn_forward(g, &m->rnn, lg_embedding(g, m->emb, ids), NULL, NULL, NULL,
                                  NULL);
    int64_t rows[2] = {-1, 256};
    return lg_linear(g, lg_reshape(g, h, 2, rows), m->head_w, m->head_b);
}

static lg_tensor *loss_of(lg_graph *g, model *m, lg_tensor *x, lg_tensor *y)
{
    int64_t n = lg_tensor_numel(y);
    return lg_cross_entropy(g, logits_of(g, m, x), lg_reshape(g, y, 1, &n));
}

/* The mean loss of `iters` random batches of the split, no-grad and in eval mode. */
static double estimate(lg_graph *g, model *m, const lg_text *t, lg_text_split split,
                       int64_t iters, lg_rng *r, lg_tensor *x, lg_tensor *y)
{
    bool grad = lg_graph_set_grad_enabled(g, false), train = lg_graph_set_training(g, false);
    double sum = 0;
    for (int64_t i = 0; i < iters; i++) {
        lg_graph_reset(g);
        if (lg_text_batch(t, split, r, x, y) != LG_OK)
            return NAN;
        lg_tensor *loss = loss_of(g, m, x, y);
        sum += loss ? lg_tensor_item(loss, 0) : NAN;
    }
    lg_graph_set_grad_enabled(g, grad);
    lg_graph_set_training(g, train);
    return sum / (double)iters;
}

/* Prints n_new characters sampled after the prompt. */
/* The LSTM's generation: each new id is drawn from the logits of the last min(len, context)
 * ids, run from zero states in no-grad, evaluation mode (as the model was trained). */
static lg_status lstm_generate(model *m, const options *o, int32_t *ids, int64_t n,
                               lg_rng *r)
{
    lg_graph *g = lg_graph_new();
    if (!g)
        return LG_ERR_OOM;
    lg_graph_set_grad_enabled(g, false);
    lg_graph_set_training(g, false);
    lg_status s = LG_OK;
    for (int64_t len = n; s == LG_OK && len < n + o->sample_len; len++) {
        int64_t T = len < o->context ? len : o->context, shape[2] = {1, T}, id = 0;
        lg_graph_reset(g);
        lg_tensor *lo = logits_of(g, m, lg_graph_input(g, LG_I32, 2, shape, ids + len - T));
        s = lo ? lg_sample_logits(lo, o->temperature, 0, r, &id) : lg_graph_status(g);
        if (!lo)
            fprintf(stderr, "charlm: %s\n", lg_graph_errmsg(g));
        ids[len] = (int32_t)id;
    }
    lg_graph_free(g);
    return s;
}

static int print_sample(model *m, const lg_text *vocab, const options *o, lg_rng *r)
{
    int64_t cap = (int64_t)strlen(o->prompt) + o->sample_len, n = 0;
    int32_t *ids = malloc((size_t)(cap + 1) * sizeof *ids);
    char *text = malloc((size_t)(4 * cap + 1));
    int rc = 1;
    if (!ids || !text)
        fprintf(stderr, "charlm: out of memory\n");
    else if (lg_text_encode(vocab, o->prompt, strlen(o->prompt), ids, cap, &n) || n < 1)
        fprintf(stderr, "charlm: prompt: %s\n", n < 1 ? "empty" : lg_last_errmsg());
    else if (m->lstm ? lstm_generate(m, o, ids, n, r)
                     : lg_gpt_generate(&m->gpt, ids, n, o->sample_len, o->temperature, 0, r, ids))
        fail("generation");
    else if (lg_text_decode(vocab, ids, n + o->sample_len, text, (size_t)(4 * cap + 1), NULL))
        fail("lg_text_decode");
    else {
        printf("--- sample (temperature %g) ---\n%s\n---\n", o->temperature, text);
        rc = 0;
    }
    free(ids);
    free(text);
    return rc;
}

/* Draws the train and validation losses of the CSV against the step with gnuplot. */
static int plot(const char *csv, const char *png)
{
    if (strpbrk(csv, "'\n") || strpbrk(png, "'\n") || system("gnuplot --version > /dev/null 2>&1"))
        return 1;
    FILE *gp = popen("gnuplot > /dev/null 2>&1", "w");
    if (!gp)
        return 1;
    fprintf(gp, "set terminal pngcairo size 800,500\nset output '%s'\n"
                "set datafile separator ','\nset key autotitle columnhead\nset grid\n"
                "set xlabel 'step'\nset ylabel 'loss (nats per character)'\n"
                "plot '%s' using 1:2 with linespoints title 'train', "
                "'' using 1:3 with linespoints title 'validation'\n", png, csv);
    int rc = pclose(gp);
    FILE *f = fopen(png, "rb");
    if (f)
        fclose(f);
    return rc != 0 || !f;
}

/* The RNG streams a resumed run must continue: data, evaluation, sampling, and each
 * dropout stream of the GPT. */
typedef struct streams {
    lg_rng data, eval, sample;
} streams;

static lg_rng *dropout_stream(model *m, int i) /* i in [0, n_layer]: blocks, then embedding */
{
    return i < (int)m->gpt.cfg.n_layer ? &m->gpt.h[i].attn.rng : &m->gpt.drop_rng;
}

/* The checkpoint after `step` steps: parameters with the vocabulary, the model's shape and
 * the training state in the metadata, and the AdamW state beside it. */
static int save(model *m, const lg_text *t, const lg_optim *opt, const options *o,
                int64_t step, const streams *st)
{
    char *vocab = NULL, ctx[32], stp[32], rngs[64 * (LG_GPT_MAX_LAYERS + 4)];
    size_t bytes = 0, w = 0;
    if (lg_text_vocab_meta(t, &vocab, &bytes))
        return fail("lg_text_vocab_meta");
    snprintf(ctx, sizeof ctx, "%lld", (long long)o->context);
    snprintf(stp, sizeof stp, "%lld", (long long)step);
    const lg_rng *fixed[3] = {&st->data, &st->eval, &st->sample};
    for (int i = 0; i < 3; i++)
        w += (size_t)snprintf(rngs + w, sizeof rngs - w, "%s%llu", i ? "," : "",
                              (unsigned long long)fixed[i]->counter);
    for (int i = 0; !m->lstm && i <= (int)m->gpt.cfg.n_layer; i++)
        w += (size_t)snprintf(rngs + w, sizeof rngs - w, ",%llu",
                              (unsigned long long)dropout_stream(m, i)->counter);
    const char *meta[10] = {LG_TEXT_VOCAB_KEY, vocab, "charlm.model", o->model,
                            "charlm.context", ctx, "charlm.step", stp, "charlm.rng", rngs};
    char optim_path[1024];
    snprintf(optim_path, sizeof optim_path, "%s.optim", o->ckpt);
    int rc = lg_checkpoint_save(m->p, o->ckpt, NULL, meta, 5) ? fail("lg_checkpoint_save")
             : lg_optim_save(opt, optim_path, NULL, 0)       ? fail("lg_optim_save")
                                                               : 0;
    lg_text_vocab_meta_free(vocab, bytes);
    return rc;
}

/* --resume: the parameters, the AdamW state, the step and the RNG counters of o->ckpt. */
static int restore(model *m, lg_optim *opt, const options *o, int64_t *step, streams *st)
{
    char optim_path[1024];
    snprintf(optim_path, sizeof optim_path, "%s.optim", o->ckpt);
    lg_checkpoint *c = NULL;
    if (lg_checkpoint_load(m->p, o->ckpt, NULL, true) || lg_optim_load(opt, optim_path) ||
        lg_checkpoint_open(o->ckpt, &c))
        return fail(o->ckpt);
    const char *sv = lg_checkpoint_metadata_get(c, "charlm.step");
    const char *rv = lg_checkpoint_metadata_get(c, "charlm.rng");
    const char *mv = lg_checkpoint_metadata_get(c, "charlm.model");
    int ok = sv && rv && mv && !strcmp(mv, o->model);
    if (ok) {
        *step = atoll(sv);
        char *end = (char *)rv;
        lg_rng *fixed[3] = {&st->data, &st->eval, &st->sample};
        for (int i = 0; ok && i < 3; i++) {
            fixed[i]->counter = strtoull(end + (i > 0), &end, 10);
            ok = i < 2 ? *end == ',' : 1;
        }
        for (int i = 0; ok && !m->lstm && i <= (int)m->gpt.cfg.n_layer; i++) {
            ok = *end == ',';
            dropout_stream(m, i)->counter = strtoull(end + 1, &end, 10);
        }
        ok = ok && *end == '\0' && *step >= 0 && *step <= o->steps;
    }
    lg_checkpoint_close(c);
    if (!ok)
        fprintf(stderr, "charlm: %s: no %s training state for --steps %lld to resume\n",
                o->ckpt, o->model, (long long)o->steps);
    return !ok;
}

/* --sample FILE: the vocabulary and context from the file's metadata, then the weights. */
static int sample_only(options *o)
{
    lg_text *v = NULL;
    lg_checkpoint *c = NULL;
    if (lg_text_vocab_load(o->sample_from, &v) || lg_checkpoint_open(o->sample_from, &c))
        return fail(o->sample_from);
    const char *kind = lg_checkpoint_metadata_get(c, "charlm.model");
    const char *ctx = lg_checkpoint_metadata_get(c, "charlm.context");
    o->context = ctx ? atoll(ctx) : 64;
    bool lstm = kind && !strcmp(kind, "lstm");
    bool known = !kind || lstm || !strcmp(kind, "gpt");
    lg_checkpoint_close(c); /* kind and ctx die with it */
    if (!known) {
        fprintf(stderr, "charlm: %s holds no gpt or lstm model\n", o->sample_from);
        lg_text_free(v);
        return 1;
    }
    model m;
    lg_rng r;
    lg_rng_init(&r, o->seed);
    int rc = model_init(&m, o, v->vocab_size, lstm, &r);
    if (!rc && lg_checkpoint_load(m.p, o->sample_from, NULL, true))
        rc = fail("lg_checkpoint_load");
    if (!rc)
        rc = print_sample(&m, v, o, &r);
    lg_params_free(m.p);
    lg_text_free(v);
    return rc;
}

static int train(options *o)
{
    lg_text *t = NULL;
    if (lg_text_load(o->data, &t))
        return fail("lg_text_load");
    printf("charlm: %s: %lld characters, vocabulary %d, train %lld, val %lld\n", o->data,
           (long long)t->n, t->vocab_size, (long long)t->n_train,
           (long long)(t->n - t->n_train));
    lg_rng init_r;
    streams st;
    lg_rng_init(&init_r, o->seed);
    lg_rng_init(&st.data, o->seed + 1);
    lg_rng_init(&st.eval, o->seed + 2);
    lg_rng_init(&st.sample, o->seed + 3);
    model m;
    bool lstm = !strcmp(o->model, "lstm");
    if (model_init(&m, o, t->vocab_size, lstm, &init_r)) {
        lg_text_free(t);
        return 1;
    }
    printf("charlm: %s, %lld parameters, batch %lld x context %lld, %d thread(s) (BLAS %s)\n",
           lstm ? "LSTM 2x256" : "GPT 4 layers 4 heads width 128",
           (long long)lg_params_numel(m.p, true), (long long)o->batch, (long long)o->context,
           o->threads, lg_blas_threading());
    lg_optim_config oc = lg_optim_defaults(LG_OPTIM_ADAMW);
    oc.lr = o->lr;
    oc.beta2 = 0.99;
    oc.weight_decay = 0.1;
    oc.zero_grad = true;
    lg_optim *opt = lg_optim_new(m.p, &oc);
    lg_lr_cosine_config sched = {.base_lr = o->lr, .min_lr = o->min_lr,
                                 .warmup_steps = o->warmup,
                                 .warmup_start = 1.0 / (double)(o->warmup + 1),
                                 .total_steps = o->decay_steps};
    int64_t shape[2] = {o->batch, o->context};
    lg_tensor *x = lg_tensor_new(LG_I32, 2, shape), *y = lg_tensor_new(LG_I32, 2, shape);
    lg_graph *g = lg_graph_new();
    int64_t start = 0, step = 0;
    FILE *csv = fopen(o->csv, o->resume ? "a" : "w");
    int rc = !opt || !x || !y || !g || !csv;
    if (rc)
        fprintf(stderr, "charlm: setup failed: %s\n", csv ? lg_last_errmsg() : o->csv);
    else if (o->resume)
        rc = restore(&m, opt, o, &start, &st);
    else
        fprintf(csv, "step,train_loss,val_loss,lr,seconds\n");
    if (!rc && o->resume)
        printf("charlm: resumed %s at step %lld\n", o->ckpt, (long long)start);
    double t0 = now(), train_s = 0, train_cpu = 0, val = NAN;
    for (step = start; !rc && step <= o->steps; step++) {
        double lr = o->lr;
        lg_lr_cosine(&sched, step, &lr);
        /* a resumed run already evaluated its first step before it stopped */
        if ((step % o->eval_every == 0 || step == o->steps) && !(o->resume && step == start)) {
            double tr = estimate(g, &m, t, LG_TEXT_TRAIN, o->eval_iters, &st.eval, x, y);
            val = estimate(g, &m, t, LG_TEXT_VAL, o->eval_iters, &st.eval, x, y);
            printf("step %5lld  train %.4f  val %.4f  lr %.2e  %.1f s\n", (long long)step, tr,
                   val, lr, now() - t0);
            fprintf(csv, "%lld,%.6f,%.6f,%.6g,%.3f\n", (long long)step, tr, val, lr,
                    now() - t0);
            fflush(stdout);
        }
        if (step == o->steps || (o->stop_after > 0 && step == o->stop_after))
            break;
        double s0 = now(), c0 = cpu_now();
        lg_graph_reset(g);
        lg_status s = lg_text_batch(t, LG_TEXT_TRAIN, &st.data, x, y);
        if (!s)
            s = lg_backward(g, loss_of(g, &m, x, y));
        if (!s)
            s = lg_params_clip_grad_norm(m.p, 1.0, NULL);
        if (!s)
            s = lg_optim_set_lr(opt, lr);
        if (!s)
            s = lg_optim_step(opt);
        if (s) {
            fprintf(stderr, "charlm: step %lld: %s: %s\n", (long long)step, lg_status_str(s),
                    lg_graph_status(g) ? lg_graph_errmsg(g) : lg_last_errmsg());
            rc = 1;
        }
        train_s += now() - s0;
        train_cpu += cpu_now() - c0;
    }
    double total = now() - t0;
    if (csv) {
        fclose(csv);
        csv = NULL;
    }
    if (!rc)
        rc = save(&m, t, opt, o, step, &st);
    if (!rc && *o->png) { /* a missing gnuplot costs the picture only */
        if (plot(o->csv, o->png) == 0)
            printf("charlm: curves: %s %s\n", o->csv, o->png);
        else
            printf("charlm: no PNG of the curves (gnuplot-nox missing or failed)\n");
    }
    if (!rc)
        printf("charlm: saved %s (vocabulary in its metadata) and %s.optim at step %lld\n",
               o->ckpt, o->ckpt, (long long)step);
    if (!rc && step == o->steps && step > start) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        double tokens = (double)((step - start) * o->batch * o->context);
        printf("charlm: training steps: %.0f tokens/s of CPU time; peak RSS %ld kB\n",
               tokens / train_cpu, ru.ru_maxrss);
        printf("RESULT dataset=moby-dick model=%s val_loss=%.4f steps=%lld seconds=%.1f "
               "tokens_per_s=%.0f\n", o->model, val, (long long)o->steps, total,
               tokens / train_s);
        fflush(stdout);
        rc = print_sample(&m, t, o, &st.sample);
    }
    if (csv)
        fclose(csv);
    lg_graph_free(g);
    lg_tensor_free(x);
    lg_tensor_free(y);
    lg_optim_free(opt);
    lg_params_free(m.p);
    lg_text_free(t);
    return rc;
}

int main(int argc, char **argv)
{
    options o = {.data = "data/moby-dick/data.txt", .model = "gpt", .csv = "charlm_curves.csv",
                 .png = "charlm_curves.png",
                 .ckpt = "charlm.safetensors", .prompt = "\n", .steps = 2000, .batch = 12,
                 .context = 64, .eval_every = 500, .eval_iters = 100, .sample_len = 300,
                 .threads = 1, .seed = 1337, .lr = 1e-3, .min_lr = 1e-4, .temperature = 0.8};
    if (parse(argc, argv, &o))
        return 1;
    if (lg_set_num_threads(o.threads) != LG_OK)
        return fail("lg_set_num_threads");
    return o.sample_from ? sample_only(&o) : train(&o);
}
