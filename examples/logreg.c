/* The demo: softmax (multinomial logistic) regression on generated data.
 * Four Gaussian clusters in 8 dimensions, 2,000 training and 1,000 test points, trained
 * with mini-batch SGD on lagrad's graph. Prints the loss falling and the test accuracy.
 * Usage: logreg [epochs] (default 20). */
#include <stdio.h>
#include <stdlib.h>
#include "lagrad/lagrad.h"

enum { DIM = 8, CLASSES = 4, N_TRAIN = 2000, N_TEST = 1000, BATCH = 50 };

/* Points around CLASSES random centres; labels[i] is the centre point i came from. */
static lg_tensor *make_data(lg_rng *rng, const lg_tensor *centres, int n, int32_t *labels)
{
    int64_t shape[2] = {n, DIM};
    lg_tensor *x = lg_tensor_normal(LG_F32, 2, shape, 0.0, 1.0, rng);
    if (!x)
        return NULL;
    float *xd = lg_tensor_data(x);
    const float *c = lg_tensor_cdata(centres);
    for (int i = 0; i < n; i++) {
        labels[i] = (int32_t)(lg_rng_uniform(rng) * CLASSES);
        for (int j = 0; j < DIM; j++)
            xd[i * DIM + j] += c[labels[i] * DIM + j];
    }
    return x;
}

static double accuracy(lg_graph *g, lg_tensor *x, const int32_t *labels, int n,
                       lg_tensor *w, lg_tensor *b)
{
    lg_graph_reset(g);
    bool prev = lg_graph_set_grad_enabled(g, false);
    lg_tensor *logits = lg_linear(g, x, w, b);
    lg_tensor *y = lg_graph_input(g, LG_I32, 1, (int64_t[]){n}, labels);
    lg_graph_set_grad_enabled(g, prev);
    double acc = -1;
    if (logits && y)
        lg_accuracy(logits, y, NULL, &acc);
    return acc;
}

int main(int argc, char **argv)
{
    int epochs = argc > 1 ? atoi(argv[1]) : 20;
    lg_rng rng;
    lg_rng_init(&rng, 2026);
    int64_t cshape[2] = {CLASSES, DIM}, wshape[2] = {CLASSES, DIM}, bshape[1] = {CLASSES};
    lg_tensor *centres = lg_tensor_normal(LG_F32, 2, cshape, 0.0, 1.2, &rng);
    static int32_t ytrain[N_TRAIN], ytest[N_TEST];
    lg_tensor *xtrain = centres ? make_data(&rng, centres, N_TRAIN, ytrain) : NULL;
    lg_tensor *xtest = centres ? make_data(&rng, centres, N_TEST, ytest) : NULL;
    lg_tensor *w = lg_tensor_zeros(LG_F32, 2, wshape), *b = lg_tensor_zeros(LG_F32, 1, bshape);
    lg_graph *g = lg_graph_new();
    if (!xtrain || !xtest || !w || !b || !g) {
        fprintf(stderr, "logreg: setup failed: %s\n", lg_last_errmsg());
        return 1;
    }
    lg_tensor_set_requires_grad(w, true);
    lg_tensor_set_requires_grad(b, true);
    const float lr = 0.2f;
    int status = 0;
    printf("softmax regression: %d classes, %d features, %d train / %d test points\n", CLASSES,
           DIM, N_TRAIN, N_TEST);
    for (int epoch = 1; epoch <= epochs && !status; epoch++) {
        double total = 0;
        for (int start = 0; start < N_TRAIN; start += BATCH) {
            lg_graph_reset(g);
            int64_t bs[2] = {BATCH, DIM};
            lg_tensor *xb = lg_graph_input(g, LG_F32, 2, bs,
                                           (const float *)lg_tensor_cdata(xtrain) + start * DIM);
            lg_tensor *yb = lg_graph_input(g, LG_I32, 1, (int64_t[]){BATCH}, ytrain + start);
            lg_tensor *loss = lg_cross_entropy(g, lg_linear(g, xb, w, b), yb);
            if (!loss || lg_backward(g, loss) != LG_OK) {
                fprintf(stderr, "logreg: %s\n", lg_graph_errmsg(g));
                status = 1;
                break;
            }
            total += lg_tensor_item(loss, 0);
            lg_tensor *params[2] = {w, b};
            for (int p = 0; p < 2; p++) {
                float *v = lg_tensor_data(params[p]);
                const float *dv = lg_tensor_cdata(lg_tensor_grad(params[p]));
                for (int64_t i = 0; i < lg_tensor_numel(params[p]); i++)
                    v[i] -= lr * dv[i];
                lg_tensor_zero_grad(params[p]);
            }
        }
        if (!status && (epoch == 1 || epoch % 5 == 0 || epoch == epochs))
            printf("epoch %3d  train loss %.4f\n", epoch, total / (N_TRAIN / BATCH));
    }
    if (!status) {
        double train_acc = accuracy(g, xtrain, ytrain, N_TRAIN, w, b);
        double test_acc = accuracy(g, xtest, ytest, N_TEST, w, b);
        printf("train accuracy %.3f  test accuracy %.3f\n", train_acc, test_acc);
    }
    lg_graph_free(g);
    lg_tensor *all[] = {centres, xtrain, xtest, w, b};
    for (int i = 0; i < 5; i++)
        lg_tensor_free(all[i]);
    return status;
}
