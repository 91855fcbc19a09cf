/* lg_train_fit's data-parallel mode (lg_train_parallel) without MPI: two threads play two
 * ranks through collectives made of a barrier and shared slots, and end where one process
 * ends (the independent truth: the same lg_train_fit without parallel); rank 1 writes no
 * file and reports no progress; a failure on one rank ends both; and the option checks.
 * The MPI module's own collectives are tested through mpiexec in tests/dist/. */
#define _POSIX_C_SOURCE 200809L /* pthread_barrier_t, mkdtemp */
#include <math.h>
#include <pthread.h>
#include "test_util.h"
#include "test_tmp.h"
#include "lagrad/train.h"
#include "lagrad/extension.h"

enum { FEATURES = 4, CLASSES = 3, RANKS = 2, MAX_GRAD = 64 };

#include "train_test_model.h"

/* n samples of CLASSES blobs around separated centres, labels cycling through classes */
static lg_dataset blobs(int64_t n, uint64_t seed)
{
    lg_dataset d = blobs_alloc(n);
    lg_rng r;
    lg_rng_init(&r, seed);
    float *x = lg_tensor_data(d.images);
    int32_t *y = lg_tensor_data(d.labels);
    for (int64_t i = 0; i < n; i++) {
        y[i] = (int32_t)(i % CLASSES);
        for (int j = 0; j < FEATURES; j++)
            x[i * FEATURES + j] = (float)((j == y[i] ? 2.0 : 0.0) + lg_rng_uniform(&r) - 0.5);
    }
    return d;
}

static void model_init(model *m, uint64_t seed) { model_init_hidden(m, seed, 5); }

/* Augmentation drawing `draws` numbers per row from the helper's stream. */
static int g_draws = 2;
static lg_status jitter(lg_tensor *x, lg_tensor *y, lg_rng *rng, void *ud)
{
    (void)y;
    (void)ud;
    float *d = lg_tensor_data(x);
    int64_t rows = lg_tensor_shape(x)[0];
    for (int64_t i = 0; i < rows; i++)
        for (int k = 0; k < g_draws; k++)
            d[i * FEATURES + k] += (float)(0.2 * (lg_rng_uniform(rng) - 0.5));
    return LG_OK;
}

/* ---- two ranks in two threads: the collectives ---- */

typedef struct world {
    pthread_barrier_t bar;
    double slot[RANKS][8];
    lg_params *p[RANKS];
    int fail_rank, fail_at, agrees; /* rank fail_rank fails at its fail_at-th agree */
} world;

typedef struct rank_ctx {
    world *w;
    int rank;
    lg_train_parallel par;
    model m;
    lg_train_options o;
    const lg_dataset *train, *test;
    lg_train_result r;
    lg_status s;
    int progress_calls;
} rank_ctx;

/* Sum of the ranks' slots, in rank order on every rank (the same bits everywhere). */
static void exchange(rank_ctx *c, double *v, int n)
{
    memcpy(c->w->slot[c->rank], v, sizeof *v * (size_t)n);
    pthread_barrier_wait(&c->w->bar);
    for (int i = 0; i < n; i++) {
        v[i] = 0;
        for (int k = 0; k < RANKS; k++)
            v[i] += c->w->slot[k][i];
    }
    pthread_barrier_wait(&c->w->bar);
}

static lg_status sum(void *ud, double *v, int n)
{
    assert_true(n <= 8);
    exchange(ud, v, n);
    return LG_OK;
}

/* g = sum_r w_r g_r over every f32 gradient, summed in rank order */
static lg_status allreduce_grads(void *ud, lg_params *p, double weight)
{
    rank_ctx *c = ud;
    c->w->p[c->rank] = p;
    for (int i = 0; i < lg_params_count(p); i++) {
        float *g = lg_tensor_data(lg_tensor_grad(lg_params_at(p, i)));
        for (int64_t j = 0; j < lg_tensor_numel(lg_params_at(p, i)); j++)
            g[j] *= (float)weight;
    }
    pthread_barrier_wait(&c->w->bar);
    float out[MAX_GRAD];
    for (int i = 0; i < lg_params_count(p); i++) {
        int64_t n = lg_tensor_numel(lg_params_at(p, i));
        assert_true(n <= MAX_GRAD);
        for (int64_t j = 0; j < n; j++) {
            out[j] = 0;
            for (int k = 0; k < RANKS; k++)
                out[j] += ((float *)lg_tensor_data(lg_tensor_grad(lg_params_at(c->w->p[k], i))))[j];
        }
        pthread_barrier_wait(&c->w->bar); /* every rank read every gradient */
        memcpy(lg_tensor_data(lg_tensor_grad(lg_params_at(p, i))), out, sizeof *out * (size_t)n);
        pthread_barrier_wait(&c->w->bar);
    }
    return LG_OK;
}

static lg_status agree(void *ud, lg_status local)
{
    rank_ctx *c = ud;
    if (c->rank == c->w->fail_rank && ++c->w->agrees == c->w->fail_at)
        local = lg_set_error(LG_ERR_IO, "a failure on rank %d", c->rank);
    double v[RANKS] = {0};
    v[c->rank] = local;
    exchange(c, v, RANKS);
    for (int k = 0; k < RANKS; k++)
        if (v[k] != LG_OK)
            return lg_set_error((lg_status)v[k], "rank %d failed", k);
    return LG_OK;
}

static lg_status broadcast_params(void *ud, lg_params *p)
{
    rank_ctx *c = ud;
    c->w->p[c->rank] = p;
    pthread_barrier_wait(&c->w->bar);
    for (int i = 0; c->rank && i < lg_params_count(p); i++) {
        lg_tensor *t = lg_params_at(p, i);
        memcpy(lg_tensor_data(t), lg_tensor_cdata(lg_params_at(c->w->p[0], i)),
               (size_t)lg_tensor_numel(t) * lg_dtype_size(lg_tensor_dtype(t)));
    }
    pthread_barrier_wait(&c->w->bar);
    return LG_OK;
}

static void count_progress(const lg_train_progress *p, void *ud)
{
    (void)p;
    ((rank_ctx *)ud)->progress_calls++;
}

static void *run_rank(void *arg)
{
    rank_ctx *c = arg;
    c->o.parallel = &c->par;
    c->o.progress_ud = c;
    c->s = lg_train_fit(c->m.p, forward, &c->m, c->train, c->test, &c->o, &c->r);
    return NULL;
}

/* Runs o on two thread-ranks (models from seed 7 on rank 0, seed 8 on rank 1: the
 * broadcast must make them equal) into c[0..1]. */
static void run_two(world *w, rank_ctx c[RANKS], const lg_train_options *o,
                    const lg_dataset *train, const lg_dataset *test)
{
    pthread_barrier_init(&w->bar, NULL, RANKS);
    pthread_t th[RANKS];
    for (int k = 0; k < RANKS; k++) {
        c[k] = (rank_ctx){.w = w, .rank = k, .o = *o, .train = train, .test = test};
        c[k].par = (lg_train_parallel){.rank = k, .size = RANKS, .ud = &c[k],
                                       .allreduce_grads = allreduce_grads, .sum = sum,
                                       .agree = agree, .broadcast_params = broadcast_params};
        model_init(&c[k].m, 7 + (uint64_t)k);
    }
    for (int k = 0; k < RANKS; k++)
        assert_int_equal(pthread_create(&th[k], NULL, run_rank, &c[k]), 0);
    for (int k = 0; k < RANKS; k++)
        pthread_join(th[k], NULL);
    pthread_barrier_destroy(&w->bar);
}

static lg_train_options options(void)
{
    lg_train_options o = lg_train_defaults();
    o.epochs = 3;
    o.batch_size = 25; /* 12 + 13 rows, and of the 180 not held out a last batch of 2 + 3 */
    o.drop_last = false;
    o.optim.lr = 0.05;
    o.on_batch = jitter;
    o.batch_draws_per_row = 2;
    o.progress = count_progress;
    o.val_fraction = 0.1;
    return o;
}

static void test_train_fit_two_ranks_equal_one_process(void **state)
{
    (void)state;
    lg_dataset train = blobs(200, 1), test = blobs(75, 2);
    lg_train_options o = options();
    o.csv = tpath("two.csv");
    o.checkpoint = tpath("two.safetensors");
    world w = {.fail_rank = -1};
    rank_ctx c[RANKS];
    run_two(&w, c, &o, &train, &test);
    assert_int_equal(c[0].s, LG_OK);
    assert_int_equal(c[1].s, LG_OK);

    model one;
    model_init(&one, 7);
    lg_train_options alone = options();
    alone.progress = NULL;
    lg_train_result r;
    assert_int_equal(lg_train_fit(one.p, forward, &one, &train, &test, &alone, &r), LG_OK);
    /* both ranks hold the same bits, and the one-process values up to f32 rounding */
    for (int i = 0; i < lg_params_count(one.p); i++) {
        lg_tensor *t0 = lg_params_at(c[0].m.p, i), *t1 = lg_params_at(c[1].m.p, i);
        assert_memory_equal(lg_tensor_cdata(t0), lg_tensor_cdata(t1),
                            sizeof(float) * (size_t)lg_tensor_numel(t0));
        double want[MAX_GRAD];
        for (int64_t j = 0; j < lg_tensor_numel(t0); j++)
            want[j] = lg_tensor_item(lg_params_at(one.p, i), j);
        tu_assert_tensor_close(t0, want, lg_tensor_numel(t0), 1e-5, 1e-5, "parameter");
    }
    for (int k = 0; k < RANKS; k++) {
        assert_int_equal(c[k].r.steps, r.steps);
        tu_assert_near(c[k].r.train_loss, r.train_loss, 1e-5);
        tu_assert_near(c[k].r.val_loss, r.val_loss, 1e-5);
        tu_assert_near(c[k].r.test_accuracy, r.test_accuracy, 1.5 / 75); /* a sample */
    }
    /* rank 0 alone reports progress and writes */
    assert_int_equal(c[0].progress_calls > 0, 1);
    assert_int_equal(c[1].progress_calls, 0);
    FILE *f = fopen(o.csv, "r");
    assert_non_null(f);
    int lines = 0;
    for (int ch; (ch = fgetc(f)) != EOF;)
        lines += ch == '\n';
    fclose(f);
    assert_int_equal(lines, 1 + o.epochs); /* one writer: a header and a row per epoch */
    lg_params_free(one.p);
    for (int k = 0; k < RANKS; k++)
        lg_params_free(c[k].m.p);
    lg_dataset_free(&train);
    lg_dataset_free(&test);
}

static void test_train_fit_failure_on_one_rank_ends_both(void **state)
{
    (void)state;
    lg_dataset train = blobs(200, 1);
    lg_train_options o = options();
    o.val_fraction = 0;
    world w = {.fail_rank = 1, .fail_at = 5}; /* rank 1 fails at its fifth agreement */
    rank_ctx c[RANKS];
    run_two(&w, c, &o, &train, NULL);
    assert_int_equal(c[0].s, LG_ERR_IO);
    assert_int_equal(c[1].s, LG_ERR_IO);
    for (int k = 0; k < RANKS; k++)
        lg_params_free(c[k].m.p);
    lg_dataset_free(&train);
}

static lg_status ok_sum(void *ud, double *v, int n) { (void)ud; (void)v; (void)n; return LG_OK; }
static lg_status ok_agree(void *ud, lg_status s) { (void)ud; return s; }
static lg_status ok_bcast(void *ud, lg_params *p) { (void)ud; (void)p; return LG_OK; }
static lg_status ok_grads(void *ud, lg_params *p, double w)
{
    (void)ud;
    (void)p;
    assert_true(w > 0 && w <= 1);
    return LG_OK;
}

static void test_train_fit_parallel_rejects_bad_options(void **state)
{
    (void)state;
    lg_dataset train = blobs(100, 1);
    model m;
    model_init(&m, 3);
    lg_train_parallel par = {.rank = 0, .size = 1, .allreduce_grads = ok_grads, .sum = ok_sum,
                             .agree = ok_agree, .broadcast_params = ok_bcast};
    lg_train_options o = lg_train_defaults();
    o.epochs = 1;
    o.batch_size = 10;
    o.parallel = &par;
    /* a rank of one with these collectives runs */
    assert_int_equal(lg_train_fit(m.p, forward, &m, &train, NULL, &o, NULL), LG_OK);
    par.rank = 1;
    assert_int_equal(lg_train_fit(m.p, forward, &m, &train, NULL, &o, NULL), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "parallel->rank"));
    par.rank = 0;
    par.sum = NULL;
    assert_int_equal(lg_train_fit(m.p, forward, &m, &train, NULL, &o, NULL), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "callback"));
    par.sum = ok_sum;
    par.size = 16; /* batch 10 over 16 processes */
    par.rank = 3;
    assert_int_equal(lg_train_fit(m.p, forward, &m, &train, NULL, &o, NULL), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "without rows"));
    par.size = 4; /* 100 rows: the last batch of 10 is whole; drop_last off, batch 32: 4 */
    o.drop_last = false;
    o.batch_size = 32;
    assert_int_equal(lg_train_fit(m.p, forward, &m, &train, NULL, &o, NULL), LG_OK);
    o.batch_size = 33; /* a last batch of 1 row over 4 processes */
    assert_int_equal(lg_train_fit(m.p, forward, &m, &train, NULL, &o, NULL), LG_ERR_ARG);
    /* on_batch drawing another number of draws per row than it says */
    par = (lg_train_parallel){.rank = 0, .size = 1, .allreduce_grads = ok_grads, .sum = ok_sum,
                              .agree = ok_agree, .broadcast_params = ok_bcast};
    o.batch_size = 10;
    o.on_batch = jitter;
    o.batch_draws_per_row = 3;
    assert_int_equal(lg_train_fit(m.p, forward, &m, &train, NULL, &o, NULL), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "batch_draws_per_row"));
    o.batch_draws_per_row = -1;
    assert_int_equal(lg_train_fit(m.p, forward, &m, &train, NULL, &o, NULL), LG_ERR_ARG);
    lg_params_free(m.p);
    lg_dataset_free(&train);
}

static int setup(void **state)
{
    (void)state;
    return tmp_dir_make("train-parallel");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_fit_two_ranks_equal_one_process),
        cmocka_unit_test(test_train_fit_failure_on_one_rank_ends_both),
        cmocka_unit_test(test_train_fit_parallel_rejects_bad_options),
    };
    return cmocka_run_group_tests(tests, setup, tmp_teardown);
}
