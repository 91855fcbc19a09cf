/* The MPI module's error paths, under mpiexec: bad arguments are refused locally with a
 * status and a message; disagreements between ranks (different stores, shuffles,
 * optimizers, a rank that failed to load) end with the same status on every rank and no
 * rank left waiting in a collective. Also the shard arithmetic and the metric
 * reductions, against hand-computed values. */
#include <stdio.h>
#include <string.h>
#include "../test_util.h"
#include "dist_model.h"
#include "lagrad/extension.h" /* lg_set_error: a rank that failed */

static lg_dist *D;

static bool all_ranks(bool cond)
{
    int v = cond, all = 0;
    MPI_Allreduce(&v, &all, 1, MPI_INT, MPI_LAND, lg_dist_comm(D));
    return all;
}

static void test_dist_new_rejects_null_and_comm_null(void **state)
{
    (void)state;
    lg_dist *d = (lg_dist *)1;
    assert_int_equal(lg_dist_new(MPI_COMM_WORLD, NULL), LG_ERR_ARG);
    assert_int_equal(lg_dist_new(MPI_COMM_NULL, &d), LG_ERR_ARG);
    assert_null(d);
    assert_non_null(strstr(lg_last_errmsg(), "MPI_COMM_NULL"));
    lg_dist_free(NULL);
    assert_int_equal(lg_dist_rank(NULL), -1);
    assert_int_equal(lg_dist_size(NULL), 0);
}

static void test_dist_local_calls_reject_bad_arguments(void **state)
{
    (void)state;
    double v = 1;
    lg_dist_shard sh;
    assert_int_equal(lg_dist_set_bucket_bytes(D, 0), LG_ERR_ARG);
    assert_int_equal(lg_dist_set_bucket_bytes(NULL, 8), LG_ERR_ARG);
    assert_int_equal(lg_dist_agree(NULL, LG_OK), LG_ERR_ARG);
    assert_int_equal(lg_dist_broadcast(NULL, &v, 8), LG_ERR_ARG);
    assert_int_equal(lg_dist_broadcast(D, NULL, 8), LG_ERR_ARG);
    assert_int_equal(lg_dist_broadcast_params(D, NULL), LG_ERR_ARG);
    assert_int_equal(lg_dist_broadcast_optim(D, NULL), LG_ERR_ARG);
    assert_int_equal(lg_dist_sum(D, NULL, 1), LG_ERR_ARG);
    assert_int_equal(lg_dist_sum(D, &v, -1), LG_ERR_ARG);
    assert_int_equal(lg_dist_weighted_mean(D, 1, -1, &v), LG_ERR_ARG);
    assert_int_equal(lg_dist_weighted_mean(D, NAN, 1, &v), LG_ERR_ARG);
    assert_int_equal(lg_dist_weighted_mean(D, 1, 1, NULL), LG_ERR_ARG);
    assert_int_equal(lg_dist_shuffle(NULL, NULL, 0, NULL), LG_ERR_ARG);
    assert_int_equal(lg_dist_batch_shard(D, 0, 10, 0, &sh), LG_ERR_ARG);
    assert_int_equal(lg_dist_batch_shard(D, 10, 0, 0, &sh), LG_ERR_ARG);
    assert_int_equal(lg_dist_batch_shard(D, 10, 3, 4, &sh), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "batch 4 outside [0, 4)"));
    assert_int_equal(lg_dist_batch_shard(D, 10, 3, -1, &sh), LG_ERR_ARG);
    assert_int_equal(lg_dist_batch_shard(D, 10, 3, 0, NULL), LG_ERR_ARG);
    assert_int_equal(lg_dist_checkpoint_save(NULL, NULL, "x", NULL, NULL, 0), LG_ERR_ARG);
    assert_int_equal(lg_dist_optim_save(NULL, NULL, "x", NULL, 0), LG_ERR_ARG);
    assert_int_equal(lg_dist_checkpoint_load(NULL, NULL, "x", NULL, true), LG_ERR_ARG);
    assert_int_equal(lg_dist_optim_load(NULL, NULL, "x"), LG_ERR_ARG);
    dm_model m;
    assert_int_equal(dm_model_init(&m, LG_F32, 1), 0);
    assert_int_equal(lg_dist_allreduce_grads(D, NULL, 1), LG_ERR_ARG);
    assert_int_equal(lg_dist_allreduce_grads(NULL, m.p, 1), LG_ERR_ARG);
    assert_int_equal(lg_dist_allreduce_grads(D, m.p, NAN), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "not finite"));
    lg_params_free(m.p);
    lg_train_parallel par;
    assert_int_equal(lg_dist_train_parallel(NULL, &par), LG_ERR_ARG);
    assert_int_equal(lg_dist_train_parallel(D, NULL), LG_ERR_ARG);
    assert_int_equal(lg_dist_train_parallel(D, &par), LG_OK);
    assert_int_equal(par.rank, lg_dist_rank(D));
    assert_int_equal(par.size, lg_dist_size(D));
}

/* Shards of every batch, in rank order, tile the global order exactly once; sizes follow
 * ⌊rows·k/N⌋ (for 3 ranks and 7 rows: 2, 2, 3). */
static void test_dist_shards_tile_each_batch(void **state)
{
    (void)state;
    const int64_t n = 23, batch = 7;
    int64_t covered[23] = {0};
    for (int64_t b = 0; b < lg_data_num_batches(n, batch); b++) {
        lg_dist_shard sh;
        assert_int_equal(lg_dist_batch_shard(D, n, batch, b, &sh), LG_OK);
        int64_t rows = b < 3 ? 7 : 2, k = lg_dist_rank(D), N = lg_dist_size(D);
        assert_int_equal(sh.global_rows, rows);
        assert_int_equal(sh.first_row, rows * k / N);
        assert_int_equal(sh.rows, rows * (k + 1) / N - rows * k / N);
        assert_int_equal(sh.begin, b * batch + sh.first_row);
        tu_assert_near(sh.weight, (double)sh.rows / (double)rows, 0);
        for (int64_t i = 0; i < sh.rows; i++)
            covered[sh.begin + i]++;
    }
    MPI_Allreduce(MPI_IN_PLACE, covered, 23, MPI_INT64_T, MPI_SUM, lg_dist_comm(D));
    for (int i = 0; i < 23; i++)
        assert_int_equal(covered[i], 1);
}

/* Σ_r (r+1)·(r+1) / Σ_r (r+1), by hand; a rank with weight 0 and a NaN value is ignored. */
static void test_dist_weighted_mean_and_sum_match_hand_values(void **state)
{
    (void)state;
    int r = lg_dist_rank(D), n = lg_dist_size(D);
    double got = 0, num = 0, den = 0;
    for (int k = 0; k < n; k++) {
        num += (k + 1.0) * (k + 1.0);
        den += k + 1.0;
    }
    assert_int_equal(lg_dist_weighted_mean(D, r + 1.0, r + 1.0, &got), LG_OK);
    tu_assert_near(got, num / den, 1e-15);
    double v = r == 0 ? NAN : 2.0;
    assert_int_equal(lg_dist_weighted_mean(D, v, r == 0 ? 0 : 1, &got), LG_OK);
    tu_assert_near(got, 2.0, 0);
    assert_int_equal(lg_dist_weighted_mean(D, 1, 0, &got), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "every rank's weight is 0"));
    double s[2] = {1, r};
    assert_int_equal(lg_dist_sum(D, s, 2), LG_OK);
    tu_assert_near(s[0], n, 0);
    tu_assert_near(s[1], n * (n - 1) / 2.0, 0);
    assert_int_equal(lg_dist_sum(D, s, 0), LG_OK);
}

/* The last rank fails; everyone gets its status and message. */
static void test_dist_agree_reports_failing_rank_everywhere(void **state)
{
    (void)state;
    int last = lg_dist_size(D) - 1;
    lg_status local = LG_OK;
    if (lg_dist_rank(D) == last)
        local = lg_set_error(LG_ERR_IO, "cannot read shard.bin");
    lg_status s = lg_dist_agree(D, local);
    char want[64];
    snprintf(want, sizeof want, "rank %d: cannot read shard.bin", last);
    bool ok = s == LG_ERR_IO && !strcmp(lg_last_errmsg(), want);
    assert_true(all_ranks(ok));
    assert_true(all_ranks(lg_dist_agree(D, LG_OK) == LG_OK));
}

static void test_dist_broadcast_params_rejects_different_stores(void **state)
{
    (void)state;
    dm_model m;
    assert_int_equal(dm_model_init(&m, LG_F64, 1), 0);
    if (lg_dist_rank(D) == 1)
        assert_non_null(lg_params_add(m.p, "extra", LG_F64, 1, (int64_t[]){2}));
    lg_status s = lg_dist_broadcast_params(D, m.p);
    bool ok = s == LG_ERR_STATE && strstr(lg_last_errmsg(), "differ between ranks");
    lg_params_free(m.p);
    assert_true(all_ranks(ok));
}

static void test_dist_shuffle_rejects_different_seeds(void **state)
{
    (void)state;
    int64_t perm[DM_N];
    lg_rng r;
    lg_rng_init(&r, 5 + (uint64_t)lg_dist_rank(D));
    lg_status s = lg_dist_shuffle(D, perm, DM_N, &r);
    bool ok = s == LG_ERR_STATE && strstr(lg_last_errmsg(), "same seed");
    lg_rng_init(&r, 5);
    ok = ok && lg_dist_shuffle(D, perm, DM_N, &r) == LG_OK;
    assert_true(all_ranks(ok));
}

static void test_dist_broadcast_optim_rejects_different_kinds(void **state)
{
    (void)state;
    dm_model m;
    assert_int_equal(dm_model_init(&m, LG_F32, 1), 0);
    lg_optim_config c = lg_optim_defaults(lg_dist_rank(D) == 0 ? LG_OPTIM_ADAM : LG_OPTIM_SGD);
    lg_optim *o = lg_optim_new(m.p, &c);
    assert_non_null(o);
    bool ok = lg_dist_broadcast_optim(D, o) == LG_ERR_STATE;
    lg_optim_free(o);
    lg_params_free(m.p);
    assert_true(all_ranks(ok));
}

/* A checkpoint rank 0 cannot read fails on every rank, naming rank 0 and the file. */
static void test_dist_checkpoint_load_missing_file_fails_everywhere(void **state)
{
    (void)state;
    dm_model m;
    assert_int_equal(dm_model_init(&m, LG_F32, 1), 0);
    lg_optim_config c = lg_optim_defaults(LG_OPTIM_ADAM);
    lg_optim *o = lg_optim_new(m.p, &c);
    assert_non_null(o);
    const char *path = "/nonexistent/lagrad_dist.safetensors";
    lg_status s1 = lg_dist_checkpoint_load(D, m.p, path, NULL, true);
    bool ok1 = s1 == LG_ERR_IO && !strncmp(lg_last_errmsg(), "rank 0: ", 8) &&
               strstr(lg_last_errmsg(), path);
    lg_status s2 = lg_dist_optim_load(D, o, path);
    bool ok2 = s2 == LG_ERR_IO && !strncmp(lg_last_errmsg(), "rank 0: ", 8);
    lg_status s3 = lg_dist_checkpoint_save(D, m.p, path, NULL, NULL, 0);
    bool ok3 = s3 == LG_ERR_IO && !strncmp(lg_last_errmsg(), "rank 0: ", 8);
    lg_optim_free(o);
    lg_params_free(m.p);
    assert_true(all_ranks(ok1 && ok2 && ok3));
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    if (lg_dist_new(MPI_COMM_WORLD, &D) != LG_OK) {
        fprintf(stderr, "lg_dist_new: %s\n", lg_last_errmsg());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dist_new_rejects_null_and_comm_null),
        cmocka_unit_test(test_dist_local_calls_reject_bad_arguments),
        cmocka_unit_test(test_dist_shards_tile_each_batch),
        cmocka_unit_test(test_dist_weighted_mean_and_sum_match_hand_values),
        cmocka_unit_test(test_dist_agree_reports_failing_rank_everywhere),
        cmocka_unit_test(test_dist_broadcast_params_rejects_different_stores),
        cmocka_unit_test(test_dist_shuffle_rejects_different_seeds),
        cmocka_unit_test(test_dist_broadcast_optim_rejects_different_kinds),
        cmocka_unit_test(test_dist_checkpoint_load_missing_file_fails_everywhere),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    lg_dist_free(D);
    MPI_Finalize();
    return failed != 0;
}
