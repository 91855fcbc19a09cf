/* Exact resume under MPI: 8 steps (crossing an epoch, so the reshuffle is in play) equal,
 * bit for bit, 3 steps, a checkpoint written by rank 0 alone (parameters, optimizer
 * state, the shuffling and dropout counters), a fresh model from another seed on every
 * rank, rank 0 loading and broadcasting, and 5 more steps. Only rank 0 touches the files. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../test_util.h"
#include "dist_model.h"

static lg_dist *D;
static char Dir[256];

static bool all_ranks(bool cond)
{
    int v = cond, all = 0;
    MPI_Allreduce(&v, &all, 1, MPI_INT, MPI_LAND, lg_dist_comm(D));
    return all;
}

typedef struct run_state {
    dm_model m;
    lg_optim *o;
    lg_rng shuffle, drop;
} run_state;

static void start(run_state *s, const dm_recipe *rc, uint64_t seed)
{
    assert_int_equal(dm_model_init(&s->m, LG_F64, seed), 0);
    assert_int_equal(lg_dist_broadcast_params(D, s->m.p), LG_OK);
    s->o = lg_optim_new(s->m.p, &rc->c);
    assert_non_null(s->o);
    lg_rng_init(&s->shuffle, 7);
    lg_rng_init(&s->drop, 11);
}

static void stop(run_state *s)
{
    lg_optim_free(s->o);
    lg_params_free(s->m.p);
}

static bool same_values(const lg_params *a, const lg_params *b)
{
    for (int i = 0; i < lg_params_count(a); i++) {
        const lg_tensor *x = lg_params_at(a, i), *y = lg_params_at(b, i);
        if (memcmp(lg_tensor_cdata(x), lg_tensor_cdata(y),
                   (size_t)lg_tensor_numel(x) * lg_dtype_size(lg_tensor_dtype(x))))
            return false;
    }
    return true;
}

static void check_resume(const dm_recipe *rc)
{
    static dm_data data;
    dm_data_init(&data);
    const int total = 8, cut = 3;
    run_state whole, part;
    dm_run rw, r1, r2;
    start(&whole, rc, 1);
    dm_train(D, &whole.m, whole.o, rc, &data, &whole.shuffle, &whole.drop, 0, total, &rw);

    start(&part, rc, 1);
    uint64_t epoch_counter = part.shuffle.counter; /* the cut falls inside epoch 0 */
    dm_train(D, &part.m, part.o, rc, &data, &part.shuffle, &part.drop, 0, cut, &r1);
    char ckpt[300], opt[300], c1[24], c2[24], c3[24];
    snprintf(ckpt, sizeof ckpt, "%s/model.safetensors", Dir);
    snprintf(opt, sizeof opt, "%s/model.optim", Dir);
    snprintf(c1, sizeof c1, "%d", cut);
    snprintf(c2, sizeof c2, "%llu", (unsigned long long)epoch_counter);
    snprintf(c3, sizeof c3, "%llu", (unsigned long long)part.drop.counter);
    const char *meta[6] = {"train_step", c1, "shuffle_counter", c2, "dropout_counter", c3};
    assert_int_equal(lg_dist_checkpoint_save(D, part.m.p, ckpt, NULL, NULL, 0), LG_OK);
    assert_int_equal(lg_dist_optim_save(D, part.o, opt, meta, 3), LG_OK);
    stop(&part);

    /* a new process would start here: another init on every rank, counters from rank 0 */
    start(&part, rc, 1234 + (uint64_t)lg_dist_rank(D));
    assert_int_equal(lg_dist_checkpoint_load(D, part.m.p, ckpt, NULL, true), LG_OK);
    assert_int_equal(lg_dist_optim_load(D, part.o, opt), LG_OK);
    unsigned long long counters[3] = {0, 0, 0};
    if (lg_dist_rank(D) == 0) {
        lg_checkpoint *c = NULL;
        assert_int_equal(lg_checkpoint_open(opt, &c), LG_OK);
        counters[0] = strtoull(lg_checkpoint_metadata_get(c, "train_step"), NULL, 10);
        counters[1] = strtoull(lg_checkpoint_metadata_get(c, "shuffle_counter"), NULL, 10);
        counters[2] = strtoull(lg_checkpoint_metadata_get(c, "dropout_counter"), NULL, 10);
        lg_checkpoint_close(c);
    }
    assert_int_equal(lg_dist_broadcast(D, counters, sizeof counters), LG_OK);
    part.shuffle.counter = counters[1];
    part.drop.counter = counters[2];
    bool step_ok = lg_optim_steps(part.o) == cut && counters[0] == (unsigned long long)cut;
    dm_train(D, &part.m, part.o, rc, &data, &part.shuffle, &part.drop, cut, total - cut, &r2);

    bool ok = !rw.failed && !r1.failed && !r2.failed && step_ok &&
              same_values(whole.m.p, part.m.p) &&
              !memcmp(rw.loss, r1.loss, sizeof rw.loss[0] * cut) &&
              !memcmp(rw.loss + cut, r2.loss, sizeof rw.loss[0] * (total - cut));
    if (lg_dist_rank(D) == 0)
        printf("[ np %d ] resume after %d of %d steps: %s\n", lg_dist_size(D), cut, total,
               ok ? "bit-identical" : "DIFFERS");
    stop(&whole);
    stop(&part);
    assert_true(all_ranks(ok));
}

static void test_dist_resume_adam_is_exact(void **state)
{
    (void)state;
    dm_recipe r = {lg_optim_defaults(LG_OPTIM_ADAM), 0.3};
    r.c.lr = 1e-2;
    r.c.weight_decay = 1e-3;
    check_resume(&r);
}

static void test_dist_resume_sgd_momentum_is_exact(void **state)
{
    (void)state;
    dm_recipe r = {lg_optim_defaults(LG_OPTIM_SGD), 0.3};
    r.c.lr = 0.1;
    r.c.momentum = 0.9;
    check_resume(&r);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    if (lg_dist_new(MPI_COMM_WORLD, &D) != LG_OK) {
        fprintf(stderr, "lg_dist_new: %s\n", lg_last_errmsg());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    /* rank 0's private folder; the others only learn its name */
    if (lg_dist_rank(D) == 0) {
        snprintf(Dir, sizeof Dir, "/tmp/lagrad_dist_resume_XXXXXX");
        if (!mkdtemp(Dir))
            Dir[0] = '\0';
    }
    lg_dist_broadcast(D, Dir, sizeof Dir);
    if (!Dir[0])
        MPI_Abort(MPI_COMM_WORLD, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dist_resume_adam_is_exact),
        cmocka_unit_test(test_dist_resume_sgd_momentum_is_exact),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (lg_dist_rank(D) == 0) {
        char path[300];
        snprintf(path, sizeof path, "%s/model.safetensors", Dir);
        remove(path);
        snprintf(path, sizeof path, "%s/model.optim", Dir);
        remove(path);
        rmdir(Dir);
    }
    lg_dist_free(D);
    MPI_Finalize();
    return failed != 0;
}
