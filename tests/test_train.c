/* The training helper (lagrad/train.h): lg_train_fit learns separable blobs, resumes bit
 * for bit, stops early and restores the best parameters, allocates nothing per step after
 * the first, stops when on_step asks; lg_train_evaluate against a count by hand; the state
 * files, the progress printer and the plot; and every error path. */
#define _XOPEN_SOURCE 700 /* posix_openpt: a terminal for the progress bar */
#include <fcntl.h>
#include <math.h>
#include "test_util.h"
#include "test_tmp.h"
#include "test_alloc.h"
#include "lagrad/train.h"

enum { FEATURES = 4, CLASSES = 3 };

#include "train_test_model.h"

/* n samples of CLASSES Gaussian blobs (std 0.5) around well-separated centres in
 * FEATURES dimensions; labels cycle through the classes. */
static lg_dataset blobs(int64_t n, uint64_t seed)
{
    lg_dataset d = blobs_alloc(n);
    lg_rng r;
    lg_rng_init(&r, seed);
    float *x = lg_tensor_data(d.images);
    int32_t *y = lg_tensor_data(d.labels);
    for (int64_t i = 0; i < n; i++) {
        y[i] = (int32_t)(i % CLASSES);
        for (int j = 0; j < FEATURES; j++) {
            double u1 = lg_rng_uniform(&r) + 1e-12, u2 = lg_rng_uniform(&r);
            double z = sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
            x[i * FEATURES + j] = (float)((j == y[i] ? 3.0 : 0.0) + 0.5 * z);
        }
    }
    return d;
}

static void model_init(model *m, uint64_t seed) { model_init_hidden(m, seed, 8); }

/* Every parameter value, as bytes, into buf (at least 1 KiB); returns the length. */
static size_t param_bytes(const lg_params *p, unsigned char *buf)
{
    size_t n = 0;
    for (int i = 0; i < lg_params_count(p); i++) {
        lg_tensor *t = lg_params_at(p, i);
        size_t b = (size_t)lg_tensor_numel(t) * lg_dtype_size(lg_tensor_dtype(t));
        assert_true(n + b <= 1024);
        memcpy(buf + n, lg_tensor_cdata(t), b);
        n += b;
    }
    return n;
}

/* Augmentation that draws from the helper's RNG: resume must restore its counter. */
static lg_status jitter(lg_tensor *x, lg_tensor *y, lg_rng *rng, void *ud)
{
    (void)y;
    (void)ud;
    float *d = lg_tensor_data(x);
    for (int64_t i = 0; i < lg_tensor_numel(x); i++)
        d[i] += (float)(0.1 * (lg_rng_uniform(rng) - 0.5));
    return LG_OK;
}

static void test_train_fit_learns_separable_blobs(void **state)
{
    (void)state;
    lg_dataset train = blobs(600, 1), test = blobs(300, 2);
    model m;
    model_init(&m, 3);
    lg_train_options o = lg_train_defaults();
    o.epochs = 8;
    o.batch_size = 32;
    o.optim.lr = 0.02;
    lg_train_result r;
    assert_int_equal(lg_train_fit(m.p, forward, &m, &train, &test, &o, &r), LG_OK);
    assert_int_equal(r.epoch, 8);
    assert_int_equal(r.steps, 8 * (600 / 32));
    assert_true(r.test_accuracy > 0.97);
    assert_true(r.train_loss < 0.2);
    assert_true(isnan(r.val_loss));
    assert_int_equal(r.best_epoch, 0);
    assert_false(r.stopped);
    /* evaluating again gives the figures the result reports */
    lg_graph *g = lg_graph_new();
    double loss, acc;
    assert_int_equal(lg_train_evaluate(g, forward, &m, &test, 7, &loss, &acc), LG_OK);
    tu_assert_near(acc, r.test_accuracy, 1e-12);
    tu_assert_near(loss, r.test_loss, 1e-5);
    lg_graph_free(g);
    /* NULL options are the defaults, a NULL result is allowed */
    assert_int_equal(lg_train_fit(m.p, forward, &m, &train, NULL, NULL, NULL), LG_OK);
    lg_params_free(m.p);
    lg_dataset_free(&train);
    lg_dataset_free(&test);
}

/* The seconds column differs between runs; the rest of each CSV row must not. */
static void read_curves(const char *path, char *out, size_t n)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t len = 0;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *last = strrchr(line, ',');
        if (last && strstr(line, "seconds") == NULL)
            *last = 0;
        len += (size_t)snprintf(out + len, n - len, "%s\n", line);
        assert_true(len < n);
    }
    fclose(f);
}

static void test_train_fit_resume_is_bit_identical(void **state)
{
    (void)state;
    lg_dataset train = blobs(400, 4), test = blobs(100, 5);
    unsigned char whole[1024], parts[1024];
    char whole_csv[8192], parts_csv[8192];
    size_t nw = 0, np = 0;
    for (int run = 0; run < 2; run++) {
        model m;
        model_init(&m, 6);
        lg_train_options o = lg_train_defaults();
        o.epochs = 4;
        o.batch_size = 16;
        o.drop_last = false; /* 400 - 40 held out = 22 batches of 16 and one of 8 */
        o.val_fraction = 0.1;
        o.patience = 10;
        o.on_batch = jitter;
        o.csv = tpath(run ? "parts.csv" : "whole.csv");
        o.plot = "";
        o.checkpoint = tpath(run ? "parts.st" : "whole.st");
        lg_train_result r;
        if (run) {
            o.stop_after = 2;
            assert_int_equal(lg_train_fit(m.p, forward, &m, &train, &test, &o, &r), LG_OK);
            assert_true(r.stopped);
            assert_int_equal(r.epoch, 2);
            lg_params_free(m.p);
            model_init(&m, 99); /* a fresh model: everything must come from the files */
            o.stop_after = 0;
            o.resume = true;
        }
        assert_int_equal(lg_train_fit(m.p, forward, &m, &train, &test, &o, &r), LG_OK);
        assert_int_equal(r.epoch, 4);
        assert_int_equal(r.steps, 4 * 23);
        if (run) {
            np = param_bytes(m.p, parts);
            read_curves(o.csv, parts_csv, sizeof parts_csv);
        } else {
            nw = param_bytes(m.p, whole);
            read_curves(o.csv, whole_csv, sizeof whole_csv);
        }
        lg_params_free(m.p);
    }
    assert_int_equal(nw, np);
    assert_memory_equal(whole, parts, nw);
    assert_string_equal(whole_csv, parts_csv);
    assert_non_null(strstr(whole_csv, "epoch,train_loss,train_accuracy,val_loss,val_accuracy,"
                                      "test_loss,test_accuracy,lr,seconds\n"));
    /* the step curves: a header and one row per step, from both runs together */
    FILE *f = fopen(tpath("parts_steps.csv"), "r");
    assert_non_null(f);
    int lines = 0;
    for (int c; (c = fgetc(f)) != EOF;)
        lines += c == '\n';
    fclose(f);
    assert_int_equal(lines, 1 + 4 * 23);
    lg_dataset_free(&train);
    lg_dataset_free(&test);
}

/* on_step: from epoch 3 on, every parameter is set to zero (logits 0, loss ln 3), so the
 * validation loss gets worse and the run stops after `patience` epochs. */
static int spoil(const lg_train_step_info *s, void *ud)
{
    model *m = ud;
    if (s->epoch >= 3)
        for (int i = 0; i < lg_params_count(m->p); i++)
            lg_init_zeros(lg_params_at(m->p, i));
    return 0;
}

static void test_train_fit_stops_early_and_restores_the_best(void **state)
{
    (void)state;
    lg_dataset train = blobs(500, 7), test = blobs(100, 8);
    unsigned char best[1024], two[1024];
    double val[2];
    for (int run = 0; run < 2; run++) {
        model m;
        model_init(&m, 9);
        lg_train_options o = lg_train_defaults();
        o.epochs = run ? 2 : 10;
        o.schedule = LG_TRAIN_LR_CONSTANT; /* so 2 epochs of a 10-epoch run are 2 epochs */
        o.optim.lr = 0.01;
        o.batch_size = 25;
        o.val_fraction = 0.2;
        o.patience = run ? 0 : 2;
        o.on_step = run ? NULL : spoil;
        o.step_ud = &m;
        lg_train_result r;
        assert_int_equal(lg_train_fit(m.p, forward, &m, &train, &test, &o, &r), LG_OK);
        if (!run) {
            assert_true(r.stopped_early);
            assert_false(r.stopped);
            assert_int_equal(r.epoch, 4);
            assert_int_equal(r.best_epoch, 2);
            param_bytes(m.p, best);
        } else {
            assert_int_equal(r.best_epoch, 2);
            param_bytes(m.p, two);
        }
        val[run] = r.val_loss;
        assert_true(r.val_loss < log(3.0) - 0.1);
        lg_params_free(m.p);
    }
    size_t n = (FEATURES * 8 + 8 + 8 * CLASSES + CLASSES) * sizeof(float);
    assert_memory_equal(best, two, n);
    assert_true(val[0] == val[1]);
    lg_dataset_free(&train);
    lg_dataset_free(&test);
}

typedef struct counting {
    counter *c;
    long calls[64];
    int n;
} counting;

static int record_calls(const lg_train_step_info *s, void *ud)
{
    (void)s;
    counting *k = ud;
    if (k->n < 64)
        k->calls[k->n++] = k->c->calls;
    return 0;
}

static void count_progress(const lg_train_progress *p, void *ud)
{
    (void)p;
    ++*(int *)ud;
}

static void test_train_fit_allocates_nothing_per_step_after_the_first(void **state)
{
    (void)state;
    counter c = {0};
    lg_allocator al = counter_allocator(&c);
    lg_set_allocator(&al);
    {
        lg_dataset train = blobs(320, 10), test = blobs(90, 11);
        model m;
        model_init(&m, 12);
        counting k = {.c = &c};
        int reports = 0;
        lg_train_options o = lg_train_defaults();
        o.epochs = 3;
        o.batch_size = 16; /* 20 steps per epoch */
        o.eval_batch = 40;
        o.val_fraction = 0.25; /* 240 training rows: 15 steps per epoch */
        o.on_batch = jitter;
        o.on_step = record_calls;
        o.step_ud = &k;
        o.progress = count_progress;
        o.progress_ud = &reports;
        o.progress_interval_s = 0; /* a report after every step */
        o.csv = tpath("alloc.csv");
        o.plot = "";
        assert_int_equal(lg_train_fit(m.p, forward, &m, &train, &test, &o, NULL), LG_OK);
        assert_int_equal(k.n, 45);
        assert_int_equal(reports, 3 * 14 + 3); /* every step but each epoch's last, + 3 */
        for (int i = 1; i < 15; i++)
            assert_int_equal(k.calls[i], k.calls[0]);   /* epoch 1, after its first step */
        for (int i = 15; i < 45; i++)
            assert_int_equal(k.calls[i], k.calls[15]);  /* epochs 2 and 3 */
        lg_params_free(m.p);
        lg_dataset_free(&train);
        lg_dataset_free(&test);
    }
    assert_int_equal(c.live, 0);
    lg_set_allocator(NULL);
}

static int stop_at_five(const lg_train_step_info *s, void *ud)
{
    (void)ud;
    return s->step == 5;
}

static void test_train_fit_stops_when_on_step_asks(void **state)
{
    (void)state;
    lg_dataset train = blobs(200, 13);
    model m;
    model_init(&m, 14);
    lg_train_options o = lg_train_defaults();
    o.batch_size = 20;
    o.on_step = stop_at_five;
    o.csv = tpath("stop.csv");
    o.plot = "";
    lg_train_result r;
    assert_int_equal(lg_train_fit(m.p, forward, &m, &train, NULL, &o, &r), LG_OK);
    assert_true(r.stopped);
    assert_int_equal(r.steps, 5);
    assert_int_equal(r.epoch, 0); /* the unfinished epoch is neither written nor saved */
    FILE *f = fopen(o.csv, "r");
    char line[256];
    assert_non_null(fgets(line, sizeof line, f));
    assert_null(fgets(line, sizeof line, f));
    fclose(f);
    lg_params_free(m.p);
    lg_dataset_free(&train);
}

static lg_tensor *forward_wrong_width(lg_graph *g, void *ctx, lg_tensor *x)
{
    model *m = ctx;
    return lg_linear_layer_forward(g, &m->fc2, x); /* fc2 takes 8 features, x has 4 */
}

static lg_tensor *forward_null(lg_graph *g, void *ctx, lg_tensor *x)
{
    (void)g;
    (void)ctx;
    (void)x;
    return NULL;
}

static lg_tensor *forward_identity(lg_graph *g, void *ctx, lg_tensor *x)
{
    (void)g;
    (void)ctx;
    return x;
}

static void test_train_fit_rejects_bad_arguments_and_reports_model_errors(void **state)
{
    (void)state;
    lg_dataset train = blobs(100, 15), other = blobs(10, 16);
    model m;
    model_init(&m, 17);
    lg_train_options o = lg_train_defaults();
    assert_int_equal(lg_train_fit(NULL, forward, &m, &train, NULL, &o, NULL), LG_ERR_ARG);
    assert_int_equal(lg_train_fit(m.p, NULL, &m, &train, NULL, &o, NULL), LG_ERR_ARG);
    assert_int_equal(lg_train_fit(m.p, forward, &m, NULL, NULL, &o, NULL), LG_ERR_ARG);
    const char *want[] = {"epochs", "batch_size", "val_fraction", "val_fraction > 0 for "
                          "patience", "eval_batch", "a checkpoint to resume from"};
    for (int i = 0; i < 6; i++) {
        lg_train_options b = o;
        switch (i) {
        case 0: b.epochs = 0; break;
        case 1: b.batch_size = 0; break;
        case 2: b.val_fraction = 1; break;
        case 3: b.patience = 2; break;
        case 4: b.eval_batch = 0; break;
        default: b.resume = true; break;
        }
        assert_int_equal(lg_train_fit(m.p, forward, &m, &train, NULL, &b, NULL), LG_ERR_ARG);
        assert_non_null(strstr(lg_last_errmsg(), want[i]));
    }
    /* fewer rows than a batch, features that differ, labels that are not i32 */
    lg_train_options big = o;
    big.batch_size = 101;
    assert_int_equal(lg_train_fit(m.p, forward, &m, &train, NULL, &big, NULL), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "fewer than one batch"));
    lg_tensor *img = other.images;
    other.images = lg_tensor_new(LG_F32, 2, (int64_t[]){10, 3});
    other.features = 3;
    assert_int_equal(lg_train_fit(m.p, forward, &m, &train, &other, &o, NULL), LG_ERR_ARG);
    lg_tensor_free(other.images);
    other.images = img;
    other.features = FEATURES;
    lg_tensor *lab = other.labels;
    other.labels = lg_tensor_new(LG_I64, 1, (int64_t[]){10});
    assert_int_equal(lg_train_fit(m.p, forward, &m, &other, NULL, &o, NULL), LG_ERR_ARG);
    lg_tensor_free(other.labels);
    other.labels = lab;
    /* the model's errors: the graph's status, with the epoch and the step */
    assert_int_equal(lg_train_fit(m.p, forward_wrong_width, &m, &train, NULL, &o, NULL),
                     LG_ERR_SHAPE);
    assert_non_null(strstr(lg_last_errmsg(), "epoch 1, step 1"));
    assert_int_equal(lg_train_fit(m.p, forward_null, &m, &train, NULL, &o, NULL), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "returned NULL"));
    /* a CSV that cannot be written; resuming from nothing */
    lg_train_options io = o;
    io.csv = "/nonexistent-dir/x.csv";
    assert_int_equal(lg_train_fit(m.p, forward, &m, &train, NULL, &io, NULL), LG_ERR_IO);
    io.csv = NULL;
    io.checkpoint = tpath("none.st");
    io.resume = true;
    assert_int_equal(lg_train_fit(m.p, forward, &m, &train, NULL, &io, NULL), LG_ERR_IO);
    lg_params_free(m.p);
    lg_dataset_free(&train);
    lg_dataset_free(&other);
}

static void test_train_evaluate_matches_a_count_by_hand(void **state)
{
    (void)state;
    /* a model that returns its input: the class is the largest feature */
    lg_dataset d = blobs(50, 18);
    float *x = lg_tensor_data(d.images);
    int32_t *y = lg_tensor_data(d.labels);
    double loss_want = 0;
    int64_t right = 0;
    for (int64_t i = 0; i < d.n; i++) {
        const float *r = x + i * FEATURES;
        int best = 0;
        double mx = r[0], se = 0;
        for (int j = 1; j < FEATURES; j++)
            if (r[j] > r[best])
                best = j;
        mx = r[best];
        for (int j = 0; j < FEATURES; j++)
            se += exp(r[j] - mx);
        loss_want += -(r[y[i]] - mx - log(se));
        right += best == y[i];
    }
    loss_want /= (double)d.n;
    lg_graph *g = lg_graph_new();
    double loss, acc;
    for (int64_t chunk = 1; chunk <= 64; chunk *= 4) { /* 50 rows: short last chunks */
        assert_int_equal(lg_train_evaluate(g, forward_identity, NULL, &d, chunk, &loss, &acc),
                         LG_OK);
        tu_assert_near(acc, (double)right / 50.0, 1e-12);
        tu_assert_near(loss, loss_want, 1e-5);
    }
    /* no recording, eval mode, and both settings restored */
    assert_true(lg_graph_grad_enabled(g));
    assert_int_equal(lg_train_evaluate(NULL, forward_identity, NULL, &d, 10, &loss, NULL),
                     LG_ERR_ARG);
    assert_int_equal(lg_train_evaluate(g, NULL, NULL, &d, 10, NULL, NULL), LG_ERR_ARG);
    assert_int_equal(lg_train_evaluate(g, forward_identity, NULL, &d, 0, NULL, NULL),
                     LG_ERR_ARG);
    lg_dataset empty = d;
    empty.n = 0;
    assert_int_equal(lg_train_evaluate(g, forward_identity, NULL, &empty, 10, NULL, NULL),
                     LG_ERR_ARG);
    assert_int_equal(lg_train_evaluate(g, forward_null, NULL, &d, 10, NULL, NULL), LG_ERR_ARG);
    lg_graph_free(g);
    lg_dataset_free(&d);
}

static void test_train_state_round_trip_and_mismatched_epochs(void **state)
{
    (void)state;
    model m;
    model_init(&m, 19);
    lg_optim_config c = lg_optim_defaults(LG_OPTIM_ADAM);
    lg_optim *o = lg_optim_new(m.p, &c);
    lg_rng r = {.seed = 5, .counter = 12345};
    assert_int_equal(lg_train_save_state(m.p, o, tpath("s1.st"), 1, &r), LG_OK);
    r.counter = 777;
    assert_int_equal(lg_train_save_state(m.p, o, tpath("s2.st"), 2, &r), LG_OK);
    int epoch = -1;
    lg_rng back = {.seed = 5};
    assert_int_equal(lg_train_load_state(m.p, o, tpath("s1.st"), &epoch, &back), LG_OK);
    assert_int_equal(epoch, 1);
    assert_int_equal(back.counter, 12345);
    /* parameters of epoch 2 beside the optimizer state of epoch 1 */
    assert_int_equal(rename(tpath("s2.st"), tpath("s1.st")), 0);
    assert_int_equal(lg_train_load_state(m.p, o, tpath("s1.st"), &epoch, &back), LG_ERR_FORMAT);
    assert_non_null(strstr(lg_last_errmsg(), "not the state of one epoch"));
    assert_int_equal(epoch, 1);
    assert_int_equal(lg_train_save_state(NULL, o, tpath("x.st"), 1, &r), LG_ERR_ARG);
    assert_int_equal(lg_train_save_state(m.p, o, tpath("x.st"), -1, &r), LG_ERR_ARG);
    assert_int_equal(lg_train_load_state(m.p, o, NULL, &epoch, &back), LG_ERR_ARG);
    char longpath[4100];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = 0;
    assert_int_equal(lg_train_save_state(m.p, o, longpath, 1, &r), LG_ERR_ARG);
    assert_int_equal(lg_train_load_state(m.p, o, tpath("missing.st"), &epoch, &back),
                     LG_ERR_IO);
    lg_optim_free(o);
    lg_params_free(m.p);
}

static void test_train_progress_print_writes_lines_in_a_log(void **state)
{
    (void)state;
    FILE *f = fopen(tpath("progress.log"), "w+");
    assert_non_null(f);
    lg_train_progress p = {.event = LG_TRAIN_STEP, .epoch = 2, .epochs = 5, .batch = 10,
                           .batches = 40, .samples = 640, .epoch_samples = 2560,
                           .loss = 0.5, .samples_per_s = 1000, .eta_s = 1.92};
    lg_train_progress_print(&p, f); /* a log: nothing until a line is due */
    p.line_due = true;
    lg_train_progress_print(&p, f);
    p = (lg_train_progress){.event = LG_TRAIN_EPOCH, .epoch = 2, .epochs = 5, .loss = 0.25,
                            .accuracy = 0.9, .val_loss = 0.3, .val_accuracy = 0.88,
                            .improved = true, .test_loss = NAN, .test_accuracy = NAN,
                            .samples_per_s = 1000, .elapsed_s = 75};
    lg_train_progress_print(&p, f);
    lg_train_progress_print(NULL, f);
    lg_train_progress_print(&p, NULL);
    rewind(f);
    char text[1024] = {0};
    assert_true(fread(text, 1, sizeof text - 1, f) > 0);
    fclose(f);
    assert_string_equal(text,
                        "epoch 2/5  640/2560 samples  1000 samples/s  loss 0.5000  1.9 s left\n"
                        "epoch  2/5  loss 0.2500  acc 0.9000  val loss 0.3000 acc 0.8800 *  "
                        "1000 samples/s  1 min 15 s\n");
}

static void test_train_progress_print_draws_a_bar_on_a_terminal(void **state)
{
    (void)state;
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) || unlockpt(master)) {
        if (master >= 0)
            close(master);
        skip(); /* no pseudo-terminals here */
    }
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    assert_true(slave >= 0);
    FILE *f = fdopen(slave, "w");
    assert_non_null(f);
    lg_train_progress p = {.event = LG_TRAIN_STEP, .epoch = 2, .epochs = 5, .batch = 10,
                           .batches = 40, .samples = 640, .epoch_samples = 2560,
                           .loss = 0.5, .samples_per_s = 1000, .eta_s = 1.92};
    lg_train_progress_print(&p, f);
    p = (lg_train_progress){.event = LG_TRAIN_EPOCH, .epoch = 2, .epochs = 5, .loss = 0.25,
                            .accuracy = 0.9, .val_loss = NAN, .val_accuracy = NAN,
                            .test_loss = 0.3, .test_accuracy = 0.88, .samples_per_s = 1000,
                            .elapsed_s = 2.5};
    lg_train_progress_print(&p, f);
    char text[1024] = {0};
    size_t n = 0;
    ssize_t got;
    while (n < sizeof text - 1 && (got = read(master, text + n, sizeof text - 1 - n)) > 0) {
        n += (size_t)got;
        if (strstr(text, "2.5 s"))
            break;
    }
    fclose(f);
    close(master);
    /* the bar redrawn in place, then cleared and replaced by the epoch's line */
    assert_non_null(strstr(text, "\repoch 2/5 [######..................] 640/2560  1000 "
                                 "samples/s  loss 0.5000  1.9 s left"));
    assert_non_null(strstr(text, "\repoch  2/5  loss 0.2500  acc 0.9000  test acc 0.8800  "
                                 "1000 samples/s  2.5 s"));
}

static void test_train_plot_draws_a_png_or_says_why_not(void **state)
{
    (void)state;
    FILE *f = fopen(tpath("c.csv"), "w");
    fprintf(f, "epoch,train_loss,train_accuracy,test_accuracy,seconds\n1,0.9,0.6,0.65,1\n"
               "2,0.5,0.8,0.79,2\n");
    fclose(f);
    f = fopen(tpath("c_steps.csv"), "w");
    fprintf(f, "epoch,loss,accuracy\n0.5,1.2,0.5\n1,0.9,0.6\n1.5,0.7,0.7\n2,0.5,0.8\n");
    fclose(f);
    lg_status s = lg_train_plot(tpath("c.csv"), tpath("c_steps.csv"), tpath("c.png"));
    if (s == LG_ERR_UNSUPPORTED) {
        assert_non_null(strstr(lg_last_errmsg(), "gnuplot-nox"));
    } else {
        assert_int_equal(s, LG_OK);
        f = fopen(tpath("c.png"), "rb");
        unsigned char sig[8];
        assert_int_equal(fread(sig, 1, 8, f), 8);
        fclose(f);
        assert_memory_equal(sig, "\x89PNG\r\n\x1a\n", 8);
        assert_int_equal(lg_train_plot(tpath("c.csv"), NULL, tpath("d.png")), LG_OK);
    }
    f = fopen(tpath("noloss.csv"), "w");
    fprintf(f, "epoch,seconds\n1,2\n");
    fclose(f);
    assert_int_equal(lg_train_plot(tpath("noloss.csv"), NULL, tpath("e.png")), LG_ERR_FORMAT);
    assert_int_equal(lg_train_plot(tpath("missing.csv"), NULL, tpath("e.png")), LG_ERR_IO);
    assert_int_equal(lg_train_plot(NULL, NULL, tpath("e.png")), LG_ERR_ARG);
    assert_int_equal(lg_train_plot(tpath("c.csv"), NULL, NULL), LG_ERR_ARG);
    assert_int_equal(lg_train_plot(tpath("c.csv"), NULL, "it's.png"), LG_ERR_ARG);
}

static int setup(void **state)
{
    (void)state;
    return tmp_dir_make("train");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_fit_learns_separable_blobs),
        cmocka_unit_test(test_train_fit_resume_is_bit_identical),
        cmocka_unit_test(test_train_fit_stops_early_and_restores_the_best),
        cmocka_unit_test(test_train_fit_allocates_nothing_per_step_after_the_first),
        cmocka_unit_test(test_train_fit_stops_when_on_step_asks),
        cmocka_unit_test(test_train_fit_rejects_bad_arguments_and_reports_model_errors),
        cmocka_unit_test(test_train_evaluate_matches_a_count_by_hand),
        cmocka_unit_test(test_train_state_round_trip_and_mismatched_epochs),
        cmocka_unit_test(test_train_progress_print_writes_lines_in_a_log),
        cmocka_unit_test(test_train_progress_print_draws_a_bar_on_a_terminal),
        cmocka_unit_test(test_train_plot_draws_a_png_or_says_why_not),
    };
    return cmocka_run_group_tests(tests, setup, tmp_teardown);
}
