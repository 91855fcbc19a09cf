/* bench/hvp: the cost of one Hessian-vector product over a whole parameter store
 * (lg_hessian_hvp) against one gradient of the same loss (lg_hessian_grad), on the
 * network of examples/sharpness: tanh MLP 784-H-H-10 in f32, loss ½‖f(x) − y‖² / N over N
 * rows of standard-normal inputs and one-hot targets (the cost does not depend on the
 * data). Prints one JSON object: median seconds of each over --reps repetitions, and
 * their ratio; then the same for products with lg_hessian_reuse on (hvp_reuse_s), which
 * replay the kept gradient as one Lanczos run does.
 *   hvp [--n 5000] [--hidden 200] [--reps 10] [--threads 2] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lagrad/lagrad.h"
#include "bench_util.h"

typedef struct net {
    lg_linear_layer l[3];
    lg_tensor *x, *y;
    int64_t n;
} net;

static lg_tensor *loss_fn(lg_graph *g, int64_t batch, void *ctx)
{
    (void)batch;
    net *m = ctx;
    lg_tensor *h = lg_tanh(g, lg_linear_layer_forward(g, &m->l[0], m->x));
    h = lg_tanh(g, lg_linear_layer_forward(g, &m->l[1], h));
    lg_tensor *d = lg_sub(g, lg_linear_layer_forward(g, &m->l[2], h), m->y);
    return lg_scale(g, lg_sum(g, lg_mul(g, d, d)), 0.5 / (double)m->n);
}

int main(int argc, char **argv)
{
    int64_t n = 5000, hidden = 200;
    int reps = 10, threads = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--n")) n = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--hidden")) hidden = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: hvp [--n N] [--hidden H] [--reps R] [--threads T]\n");
            return 2;
        }
    }
    if (n < 1 || hidden < 1 || reps < 1 || reps > 1000 || threads < 1) {
        fprintf(stderr, "hvp: values out of range\n");
        return 2;
    }
    lg_set_num_threads(threads);
    lg_rng r;
    lg_rng_init(&r, 1);
    net m = {.n = n};
    lg_params *p = lg_params_new();
    int64_t w[4] = {784, hidden, hidden, 10};
    for (int k = 0; k < 3; k++) {
        char name[8];
        snprintf(name, sizeof name, "fc%d", k + 1);
        if (lg_linear_layer_init(&m.l[k], p, name, w[k], w[k + 1], true, LG_F32, &r) != LG_OK) {
            fprintf(stderr, "hvp: %s\n", lg_last_errmsg());
            return 1;
        }
    }
    m.x = lg_tensor_normal(LG_F32, 2, (int64_t[]){n, 784}, 0, 1, &r);
    m.y = lg_tensor_zeros(LG_F32, 2, (int64_t[]){n, 10});
    float *y = lg_tensor_data(m.y);
    for (int64_t i = 0; i < n; i++)
        y[i * 10 + (int64_t)(lg_rng_uniform(&r) * 10)] = 1;
    lg_hessian *h = lg_hessian_new(p, loss_fn, &m, NULL);
    int64_t dim = lg_hessian_dim(h);
    double *v = malloc((size_t)dim * sizeof *v), *out = malloc((size_t)dim * sizeof *out);
    double tg[1000], th[1000];
    if (!h || !v || !out) {
        fprintf(stderr, "hvp: setup failed: %s\n", lg_last_errmsg());
        return 1;
    }
    for (int64_t i = 0; i < dim; i++)
        v[i] = lg_rng_uniform(&r) - 0.5;
    lg_status s = lg_hessian_grad(h, out, NULL); /* warm-up: arena and BLAS buffers */
    if (s == LG_OK)
        s = lg_hessian_hvp(h, v, out);
    for (int i = 0; i < reps && s == LG_OK; i++) {
        double t0 = now_s();
        s = lg_hessian_grad(h, out, NULL);
        tg[i] = now_s() - t0;
        t0 = now_s();
        if (s == LG_OK)
            s = lg_hessian_hvp(h, v, out);
        th[i] = now_s() - t0;
    }
    /* With reuse on, as within one Lanczos run: the first product records, the rest replay
     * only the backward of ⟨∇loss, v⟩. */
    double tr[1000];
    if (s == LG_OK)
        s = lg_hessian_reuse(h, true);
    if (s == LG_OK)
        s = lg_hessian_hvp(h, v, out);
    for (int i = 0; i < reps && s == LG_OK; i++) {
        v[i % dim] += 0.5; /* a new vector each time */
        double t0 = now_s();
        s = lg_hessian_hvp(h, v, out);
        tr[i] = now_s() - t0;
    }
    if (s != LG_OK) {
        fprintf(stderr, "hvp: %s\n", lg_last_errmsg());
        return 1;
    }
    double g = median(tg, reps), hv = median(th, reps), hr = median(tr, reps);
    printf("{\"grad_s\": %.6f, \"hvp_s\": %.6f, \"ratio\": %.4f, \"hvp_reuse_s\": %.6f, "
           "\"reuse_ratio\": %.4f, \"params\": %lld}\n", g, hv, hv / g, hr, hr / g,
           (long long)dim);
    free(v);
    free(out);
    lg_hessian_free(h);
    lg_params_free(p);
    lg_tensor_free(m.x);
    lg_tensor_free(m.y);
    return 0;
}
