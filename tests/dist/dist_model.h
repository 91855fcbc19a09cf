/* Shared by the MPI tests: a small classifier with a frozen input shift, ReLU and dropout
 * on a fixed synthetic data set, and one training step that runs either alone (the
 * one-process truth) or as one rank of lg_dist (sharded batch, averaged gradients).
 * Labels go in as a one-hot f64/f32 tensor, so the loss needs no integer-label API. */
#ifndef LAGRAD_DIST_MODEL_H
#define LAGRAD_DIST_MODEL_H

#include <math.h>
#include <stdint.h>
#include <string.h>
#include "lagrad/dist.h"

enum { DM_N = 47, DM_F = 6, DM_H = 8, DM_C = 3, DM_BATCH = 10 };
#define DM_DROPOUT 0.25

typedef struct dm_model {
    lg_params *p;
    lg_tensor *shift, *w1, *b1, *w2, *b2;
    lg_dtype dt;
} dm_model;

/* The data: DM_N samples of DM_F features in [-1, 1) and labels from a fixed rule, drawn
 * from seed 99 (the same on every rank). */
typedef struct dm_data {
    double x[DM_N][DM_F];
    int label[DM_N];
} dm_data;

static inline void dm_data_init(dm_data *d)
{
    lg_rng r;
    lg_rng_init(&r, 99);
    for (int i = 0; i < DM_N; i++) {
        double s = 0;
        for (int j = 0; j < DM_F; j++) {
            d->x[i][j] = 2 * lg_rng_uniform(&r) - 1;
            s += (j + 1) * d->x[i][j];
        }
        d->label[i] = s > 1 ? 2 : s > -1 ? 1 : 0;
    }
}

/* The store: "shift" (F) frozen, fc1 (H, F) + (H), fc2 (C, H) + (C), drawn from `seed`.
 * 0 on success. */
static inline int dm_model_init(dm_model *m, lg_dtype dt, uint64_t seed)
{
    memset(m, 0, sizeof *m);
    m->dt = dt;
    m->p = lg_params_new();
    if (!m->p)
        return 1;
    m->shift = lg_params_add(m->p, "shift", dt, 1, (int64_t[]){DM_F});
    m->w1 = lg_params_add(m->p, "fc1.weight", dt, 2, (int64_t[]){DM_H, DM_F});
    m->b1 = lg_params_add(m->p, "fc1.bias", dt, 1, (int64_t[]){DM_H});
    m->w2 = lg_params_add(m->p, "fc2.weight", dt, 2, (int64_t[]){DM_C, DM_H});
    m->b2 = lg_params_add(m->p, "fc2.bias", dt, 1, (int64_t[]){DM_C});
    if (!m->shift || !m->w1 || !m->b1 || !m->w2 || !m->b2)
        return 1;
    lg_rng r;
    lg_rng_init(&r, seed);
    lg_tensor *all[5] = {m->shift, m->w1, m->b1, m->w2, m->b2};
    for (int k = 0; k < 5; k++)
        if (lg_init_uniform(all[k], -0.6, 0.6, &r) != LG_OK)
            return 1;
    return lg_params_freeze(m->p, "shift", true, NULL) != LG_OK;
}

/* Mean cross-entropy of the rows perm[begin .. begin + rows) with dropout drawn from
 * (seed, counter + first_row·H): the mask of a sample depends on its place in the global
 * batch, not on the rank. Backward fills the store's gradients. 0 on success. */
static inline int dm_forward_backward(lg_graph *g, dm_model *m, const dm_data *d,
                                      const int64_t *perm, int64_t begin, int64_t rows,
                                      int64_t first_row, const lg_rng *drop, double *loss)
{
    double xs[DM_BATCH * DM_F], ys[DM_BATCH * DM_C];
    float xf[DM_BATCH * DM_F], yf[DM_BATCH * DM_C];
    for (int64_t i = 0; i < rows; i++) {
        int64_t s = perm[begin + i];
        for (int j = 0; j < DM_F; j++) {
            xs[i * DM_F + j] = d->x[s][j];
            xf[i * DM_F + j] = (float)d->x[s][j];
        }
        for (int c = 0; c < DM_C; c++)
            ys[i * DM_C + c] = yf[i * DM_C + c] = d->label[s] == c;
    }
    bool f64 = m->dt == LG_F64;
    lg_rng r = *drop;
    r.counter += (uint64_t)(first_row * DM_H);
    lg_graph_reset(g);
    lg_tensor *x = lg_graph_input(g, m->dt, 2, (int64_t[]){rows, DM_F},
                                  f64 ? (const void *)xs : (const void *)xf);
    lg_tensor *y = lg_graph_input(g, m->dt, 2, (int64_t[]){rows, DM_C},
                                  f64 ? (const void *)ys : (const void *)yf);
    lg_tensor *h = lg_relu(g, lg_linear(g, lg_add(g, x, m->shift), m->w1, m->b1));
    h = lg_dropout(g, h, DM_DROPOUT, &r);
    lg_tensor *ls = lg_log_softmax(g, lg_linear(g, h, m->w2, m->b2), 1);
    lg_tensor *l = lg_neg(g, lg_mean(g, lg_sum_axis(g, lg_mul(g, ls, y), 1, false)));
    if (!l || lg_backward(g, l) != LG_OK)
        return 1;
    *loss = lg_tensor_item(l, 0);
    return 0;
}

/* One optimizer configuration of the equivalence tests. */
typedef struct dm_recipe {
    lg_optim_config c;
    double clip; /* max gradient norm; 0: no clipping */
} dm_recipe;

/* What a run reports: the loss of every step (global under MPI), the norms before
 * clipping, and whether training failed. */
typedef struct dm_run {
    double loss[16], norm[16];
    int failed;
} dm_run;

/* `steps` steps (at most 16) from step `from`, epochs of ceil(N/B) batches, each epoch a
 * new shuffle of `shuffle`; d NULL runs the whole global batch in this process. The
 * dropout stream advances by global_rows·H per step. */
static inline void dm_train(lg_dist *d, dm_model *m, lg_optim *o, const dm_recipe *rc,
                            const dm_data *data, lg_rng *shuffle, lg_rng *drop, int from,
                            int steps, dm_run *out)
{
    int64_t perm[DM_N], nb = lg_data_num_batches(DM_N, DM_BATCH);
    lg_graph *g = lg_graph_new();
    out->failed = !g;
    for (int t = from; !out->failed && t < from + steps; t++) {
        int64_t b = t % nb;
        if (b == 0 || t == from) {
            /* a resumed run starts mid-epoch: the caller restored the epoch's counter */
            if (d ? lg_dist_shuffle(d, perm, DM_N, shuffle) != LG_OK
                  : lg_data_shuffle(perm, DM_N, shuffle) != LG_OK) {
                out->failed = 1;
                break;
            }
        }
        lg_dist_shard sh = {b * DM_BATCH, DM_N - b * DM_BATCH < DM_BATCH
                                ? DM_N - b * DM_BATCH : DM_BATCH, 0, 0, 1};
        sh.global_rows = sh.rows;
        if (d && lg_dist_batch_shard(d, DM_N, DM_BATCH, b, &sh) != LG_OK) {
            out->failed = 1;
            break;
        }
        double loss = 0;
        lg_params_zero_grad(m->p);
        if (sh.rows && dm_forward_backward(g, m, data, perm, sh.begin, sh.rows, sh.first_row,
                                           drop, &loss))
            out->failed = 1;
        if (d && lg_dist_agree(d, out->failed ? LG_ERR_NUMERIC : LG_OK) != LG_OK) {
            out->failed = 1;
            break;
        }
        if (d && lg_dist_allreduce_grads(d, m->p, sh.weight) != LG_OK)
            out->failed = 1;
        double norm = 0;
        if (rc->clip > 0 && lg_params_clip_grad_norm(m->p, rc->clip, &norm) != LG_OK)
            out->failed = 1;
        if (lg_optim_step(o) != LG_OK)
            out->failed = 1;
        if (d && lg_dist_weighted_mean(d, loss, (double)sh.rows, &loss) != LG_OK)
            out->failed = 1;
        drop->counter += (uint64_t)(sh.global_rows * DM_H);
        out->loss[t - from] = loss;
        out->norm[t - from] = norm;
    }
    lg_graph_free(g);
}

/* max |a - b| / max |b| over the store's values (both dtypes), the error measure of the
 * equivalence tests. */
static inline double dm_rel_err(const lg_params *a, const lg_params *b)
{
    double num = 0, den = 0;
    for (int i = 0; i < lg_params_count(b); i++) {
        const lg_tensor *ta = lg_params_at(a, i), *tb = lg_params_at(b, i);
        for (int64_t k = 0; k < lg_tensor_numel(tb); k++) {
            double x = lg_tensor_item(ta, k), y = lg_tensor_item(tb, k);
            num = fmax(num, fabs(x - y));
            den = fmax(den, fabs(y));
        }
    }
    return den > 0 ? num / den : num;
}

#endif
