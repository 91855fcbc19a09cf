/* Data-parallel equivalence, as PyTorch tests DistributedDataParallel: under mpiexec with
 * N ranks, 5 steps at global batch 10 (shards of 5+5, or 3+3+4, and a last batch of 7)
 * with SGD-momentum, Adam and AdamW, weight decay, clipping and dropout, end equal to the
 * same 5 steps run in one process at batch 10, which every rank also computes itself: the
 * independent truth. Every rank's reported loss equals the global loss of the one-process
 * run, and all ranks hold bit-identical parameters. Ranks start from different
 * initialisations, so lg_dist_broadcast_params is tested too. */
#include <stdio.h>
#include "../test_util.h"
#include "dist_model.h"

static lg_dist *D;

/* Tolerances of the issue: relative to the largest parameter (dm_rel_err). */
#define TOL_F64 1e-12
#define TOL_F32 1e-5

/* True on every rank when cond holds on every rank: assertions then fail everywhere
 * together and no rank is left waiting in a collective. */
static bool all_ranks(bool cond)
{
    int v = cond, all = 0;
    MPI_Allreduce(&v, &all, 1, MPI_INT, MPI_LAND, lg_dist_comm(D));
    return all;
}

/* Parameters' bytes, equal on all ranks. */
static bool same_bits_everywhere(const lg_params *p)
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < lg_params_count(p); i++) {
        const lg_tensor *t = lg_params_at(p, i);
        const unsigned char *c = lg_tensor_cdata(t);
        for (size_t k = 0; k < (size_t)lg_tensor_numel(t) * lg_dtype_size(lg_tensor_dtype(t)); k++)
            h = (h ^ c[k]) * 1099511628211ull;
    }
    unsigned long long mine = h, lo, hi;
    MPI_Allreduce(&mine, &lo, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN, lg_dist_comm(D));
    MPI_Allreduce(&mine, &hi, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, lg_dist_comm(D));
    return lo == hi;
}

/* Trains the recipe once alone and once under MPI, and checks the claims. */
static void check_recipe(const dm_recipe *rc, lg_dtype dt, size_t bucket_bytes,
                         const char *what)
{
    const int steps = 5;
    static dm_data data;
    dm_data_init(&data);
    dm_model ref, dis;
    assert_int_equal(dm_model_init(&ref, dt, 1), 0);
    /* ranks start apart; the broadcast must make them rank 0's (= ref's) */
    assert_int_equal(dm_model_init(&dis, dt, 1 + (uint64_t)lg_dist_rank(D) * 1000), 0);
    assert_int_equal(lg_dist_broadcast_params(D, dis.p), LG_OK);
    assert_int_equal(lg_dist_set_bucket_bytes(D, bucket_bytes), LG_OK);
    lg_optim *oref = lg_optim_new(ref.p, &rc->c), *odis = lg_optim_new(dis.p, &rc->c);
    assert_non_null(oref);
    assert_non_null(odis);

    lg_rng sref, sdis, dref, ddis;
    lg_rng_init(&sref, 7);
    lg_rng_init(&sdis, 7);
    lg_rng_init(&dref, 11);
    lg_rng_init(&ddis, 11);
    dm_run rref, rdis;
    dm_train(NULL, &ref, oref, rc, &data, &sref, &dref, 0, steps, &rref);
    dm_train(D, &dis, odis, rc, &data, &sdis, &ddis, 0, steps, &rdis);

    double tol = dt == LG_F64 ? TOL_F64 : TOL_F32, err = dm_rel_err(dis.p, ref.p);
    double loss_err = 0;
    int clipped = 0;
    for (int t = 0; t < steps; t++) {
        loss_err = fmax(loss_err, fabs(rdis.loss[t] - rref.loss[t]) / fabs(rref.loss[t]));
        clipped += rc->clip > 0 && rref.norm[t] > rc->clip;
    }
    double worst[2] = {err, loss_err};
    MPI_Allreduce(MPI_IN_PLACE, worst, 2, MPI_DOUBLE, MPI_MAX, lg_dist_comm(D));
    if (lg_dist_rank(D) == 0)
        printf("[ np %d ] %-34s params rel err %.3g, loss rel err %.3g (tol %g), "
               "clipped %d/%d steps\n", lg_dist_size(D), what, worst[0], worst[1], tol,
               clipped, steps);
    bool bits = same_bits_everywhere(dis.p);
    /* every rank's loss is the same number */
    double l0[16];
    memcpy(l0, rdis.loss, sizeof l0);
    MPI_Bcast(l0, 16, MPI_DOUBLE, 0, lg_dist_comm(D));
    bool same_loss = !memcmp(l0, rdis.loss, sizeof l0);

    lg_optim_free(oref);
    lg_optim_free(odis);
    lg_params_free(ref.p);
    lg_params_free(dis.p);
    lg_dist_set_bucket_bytes(D, LG_DIST_BUCKET_BYTES);
    assert_true(all_ranks(!rref.failed && !rdis.failed));
    assert_true(all_ranks(err <= tol));
    assert_true(all_ranks(loss_err <= tol));
    assert_true(all_ranks(bits));
    assert_true(all_ranks(same_loss));
    assert_true(all_ranks(rc->clip == 0 || clipped > 0));
}

static dm_recipe sgd_momentum(void)
{
    dm_recipe r = {lg_optim_defaults(LG_OPTIM_SGD), 0.3};
    r.c.lr = 0.1;
    r.c.momentum = 0.9;
    r.c.weight_decay = 1e-3;
    return r;
}

static dm_recipe adam(lg_optim_kind kind)
{
    dm_recipe r = {lg_optim_defaults(kind), 0.3};
    r.c.lr = 1e-2;
    r.c.weight_decay = kind == LG_OPTIM_ADAMW ? 1e-2 : 1e-3;
    return r;
}

static void test_dist_sgd_momentum_f64_equals_one_process(void **state)
{
    (void)state;
    dm_recipe r = sgd_momentum();
    check_recipe(&r, LG_F64, LG_DIST_BUCKET_BYTES, "sgd momentum wd clip f64");
}

static void test_dist_sgd_momentum_f32_equals_one_process(void **state)
{
    (void)state;
    dm_recipe r = sgd_momentum();
    check_recipe(&r, LG_F32, LG_DIST_BUCKET_BYTES, "sgd momentum wd clip f32");
}

static void test_dist_adam_f64_equals_one_process(void **state)
{
    (void)state;
    dm_recipe r = adam(LG_OPTIM_ADAM);
    check_recipe(&r, LG_F64, LG_DIST_BUCKET_BYTES, "adam wd clip f64");
}

static void test_dist_adam_f32_equals_one_process(void **state)
{
    (void)state;
    dm_recipe r = adam(LG_OPTIM_ADAM);
    check_recipe(&r, LG_F32, LG_DIST_BUCKET_BYTES, "adam wd clip f32");
}

static void test_dist_adamw_f64_equals_one_process(void **state)
{
    (void)state;
    dm_recipe r = adam(LG_OPTIM_ADAMW);
    check_recipe(&r, LG_F64, LG_DIST_BUCKET_BYTES, "adamw wd clip f64");
}

static void test_dist_adamw_f32_equals_one_process(void **state)
{
    (void)state;
    dm_recipe r = adam(LG_OPTIM_ADAMW);
    check_recipe(&r, LG_F32, LG_DIST_BUCKET_BYTES, "adamw wd clip f32");
}

/* 40-byte buckets: runs split mid-parameter and across the frozen "shift". */
static void test_dist_small_buckets_equal_one_process(void **state)
{
    (void)state;
    dm_recipe r = adam(LG_OPTIM_ADAMW);
    check_recipe(&r, LG_F64, 40, "adamw f64, 40-byte buckets");
    check_recipe(&r, LG_F32, 12, "adamw f32, 12-byte buckets");
}

/* The frozen parameter is not reduced: its gradient stays what this rank left there; the
 * statistics count one call and the trainable bytes. */
static void test_dist_allreduce_grads_skips_frozen(void **state)
{
    (void)state;
    dm_model m;
    assert_int_equal(dm_model_init(&m, LG_F64, 1), 0);
    double *g = lg_tensor_data(lg_tensor_grad(m.shift));
    g[0] = 1 + lg_dist_rank(D);
    double *g1 = lg_tensor_data(lg_tensor_grad(m.w1));
    g1[0] = 1 + lg_dist_rank(D);
    lg_dist_grad_stats_reset(D);
    assert_int_equal(lg_dist_allreduce_grads(D, m.p, 1.0), LG_OK);
    int n = lg_dist_size(D);
    double secs;
    int64_t calls, bytes;
    lg_dist_grad_stats(D, &secs, &calls, &bytes);
    /* fc1 (8x6 + 8) and fc2 (3x8 + 3) in f64; "shift" stays home */
    bool ok = g[0] == 1 + lg_dist_rank(D) && g1[0] == n * (n + 1) / 2 && calls == 1 &&
              bytes == (48 + 8 + 24 + 3) * 8 && secs >= 0;
    lg_params_free(m.p);
    assert_true(all_ranks(ok));
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    if (lg_dist_new(MPI_COMM_WORLD, &D) != LG_OK) {
        fprintf(stderr, "lg_dist_new: %s\n", lg_last_errmsg());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dist_sgd_momentum_f64_equals_one_process),
        cmocka_unit_test(test_dist_sgd_momentum_f32_equals_one_process),
        cmocka_unit_test(test_dist_adam_f64_equals_one_process),
        cmocka_unit_test(test_dist_adam_f32_equals_one_process),
        cmocka_unit_test(test_dist_adamw_f64_equals_one_process),
        cmocka_unit_test(test_dist_adamw_f32_equals_one_process),
        cmocka_unit_test(test_dist_small_buckets_equal_one_process),
        cmocka_unit_test(test_dist_allreduce_grads_skips_frozen),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    lg_dist_free(D);
    MPI_Finalize();
    return failed != 0;
}
