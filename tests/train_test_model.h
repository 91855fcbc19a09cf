/* The data and the two-layer tanh MLP (FEATURES -> hidden -> CLASSES) that the
 * training-helper tests train: define FEATURES and CLASSES before including. */
#ifndef LAGRAD_TRAIN_TEST_MODEL_H
#define LAGRAD_TRAIN_TEST_MODEL_H

/* A dataset of n rows of FEATURES f32 features and i32 labels, uninitialised. */
static lg_dataset blobs_alloc(int64_t n)
{
    lg_dataset d = {.n = n, .features = FEATURES, .num_classes = CLASSES};
    d.images = lg_tensor_new(LG_F32, 2, (int64_t[]){n, FEATURES});
    d.labels = lg_tensor_new(LG_I32, 1, (int64_t[]){n});
    assert_non_null(d.images);
    assert_non_null(d.labels);
    return d;
}

typedef struct model {
    lg_params *p;
    lg_linear_layer fc1, fc2;
} model;

static void model_init_hidden(model *m, uint64_t seed, int64_t hidden)
{
    lg_rng r;
    lg_rng_init(&r, seed);
    m->p = lg_params_new();
    assert_non_null(m->p);
    assert_int_equal(
        lg_linear_layer_init(&m->fc1, m->p, "fc1", FEATURES, hidden, true, LG_F32, &r), LG_OK);
    assert_int_equal(
        lg_linear_layer_init(&m->fc2, m->p, "fc2", hidden, CLASSES, true, LG_F32, &r), LG_OK);
}

static lg_tensor *forward(lg_graph *g, void *ctx, lg_tensor *x)
{
    model *m = ctx;
    return lg_linear_layer_forward(g, &m->fc2,
                                   lg_tanh(g, lg_linear_layer_forward(g, &m->fc1, x)));
}

#endif
