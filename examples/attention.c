/* Scaled dot-product attention, softmax(Q Kᵀ/√d)·V, with a causal mask applied by a
 * Hadamard product, trained on a toy sequence task and gradient-checked.
 *
 * The task (next-token prediction, as a decoder-only language model does it): a sequence
 *     x1 .. xn  SEP  y1 .. yn
 * where y is a copy of x (--task copy, the default) or x reversed (--task reverse). The
 * model reads positions 0 .. 2n-1 and, at every position p >= n (SEP and the y's), predicts
 * the token at p+1. Position p must therefore look back at position p-n (copy) or
 * 2n-1-p (reverse), both earlier than p, so the causal mask leaves the task solvable by a
 * single attention layer that attends by position.
 *
 * The model, for a batch of B sequences of length L = 2n, width D:
 *     X = onehot(tokens) E + P                 E (V+1, D) token and P (L, D) position
 *                                              embeddings, both learned
 *     Q = X Wqᵀ, K = X Wkᵀ, V = X Wvᵀ          (B, L, D) each, three bias-free Linears
 *     A = softmax(Q Kᵀ / √D) ⊙ C               C the 0/1 lower-triangular causal matrix
 *     A = A / rowsum(A)                        (L, L), broadcast over the batch
 *     logits = (A V) Woᵀ + bo                  (B, L, V), only rows p >= n enter the loss
 * Masking by a Hadamard product: the causal softmax is exp(S_ij) C_ij / Σ_k exp(S_ik) C_ik,
 * which is softmax(S + M) with M = -inf above the diagonal. It is computed on the
 * exp-scores, shifted by each row's maximum over its unmasked entries m_i:
 *     A = E / rowsum(E),  E = exp((S - m) ⊙ C) ⊙ C.
 * The inner ⊙ C zeroes the masked scores before exp (so a large future score cannot
 * overflow), the outer one zeroes the masked weights exactly, and the unmasked maximum
 * gives exp(0) = 1, so no row sum is below 1. The cheaper softmax(S) ⊙ C renormalised is
 * the same function in exact arithmetic, but its rows depend on the future scores through
 * softmax's denominator (rounding leaks the future into the past, and a row of underflowed
 * weights gives 0/0); this form is exactly causal, bit for bit, which the program checks.
 *
 * Before training, lg_gradcheck compares the block's reverse-mode gradients (with respect
 * to its input X and to Wq, Wk, Wv) with central differences in float64, and the program
 * exits 1 if they disagree. After training it prints the per-token and whole-sequence
 * accuracy on 2,000 fresh sequences and exits 1 below a per-token accuracy of 0.99.
 *
 * Usage: attention [--task copy|reverse] [--steps N] [--quick] [--threads N] [--seed S]
 * --quick trains for 300 steps and tests on 200 sequences (for sanitizer and valgrind runs);
 * it reports but does not enforce the accuracy target. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lagrad/lagrad.h"

#define PROG "attention"

enum {
    N = 8,          /* tokens to copy */
    L = 2 * N,      /* positions the model reads */
    VOCAB = 16,     /* data tokens 0..15 */
    SEP = VOCAB,    /* the separator, an input symbol only */
    NSYM = VOCAB + 1,
    D = 32,         /* model width */
    BATCH = 64,
    N_TEST = 2000   /* test sequences; --quick uses QUICK_TEST */
};
enum { QUICK_TEST = 200 }; /* >= BATCH and >= the 100 of the causality check: buffers are shared */

/* ---- the attention block, shared by training (f32) and the gradient check (f64) ---- */

/* The per-row maximum of the scores s (B, L, L) over the unmasked columns j <= i, as a
 * constant graph tensor (B, L, 1): the shift that keeps exp from overflowing. The masked
 * softmax does not depend on it (it cancels in the normalisation), so it carries no
 * gradient; ops run eagerly, so s's values are there to read. */
static lg_tensor *row_max_below_diag(lg_graph *g, lg_tensor *s)
{
    if (!s)
        return NULL;
    const int64_t *sh = lg_tensor_shape(s);
    int64_t b = sh[0], l = sh[1], ms[3] = {b, l, 1};
    lg_dtype dt = lg_tensor_dtype(s);
    lg_tensor *m = lg_graph_full(g, dt, 3, ms, 0.0);
    if (!m)
        return NULL;
    for (int64_t r = 0; r < b * l; r++) {
        int64_t i = r % l;                   /* the query position: columns 0 .. i */
        if (dt == LG_F64) {
            const double *row = (const double *)lg_tensor_cdata(s) + r * l;
            double mx = row[0];
            for (int64_t j = 1; j <= i; j++)
                mx = row[j] > mx ? row[j] : mx;
            ((double *)lg_tensor_data(m))[r] = mx;
        } else {
            const float *row = (const float *)lg_tensor_cdata(s) + r * l;
            float mx = row[0];
            for (int64_t j = 1; j <= i; j++)
                mx = row[j] > mx ? row[j] : mx;
            ((float *)lg_tensor_data(m))[r] = mx;
        }
    }
    return m;
}

/* x (B, L, d) -> softmax(Q Kᵀ/√d) ⊙ C, renormalised, times V: (B, L, d). wq, wk, wv are
 * (d, d) in PyTorch's (out, in) layout; causal is the (L, L) 0/1 matrix or NULL (no
 * mask). Returns NULL with the error on g. */
static lg_tensor *attention_block(lg_graph *g, lg_tensor *x, lg_tensor *wq, lg_tensor *wk,
                                  lg_tensor *wv, lg_tensor *causal)
{
    const int64_t *s = lg_tensor_shape(x);
    if (!s)
        return NULL;
    int64_t b = s[0], l = s[1], d = s[2];
    int64_t flat[2] = {b * l, d}, seq[3] = {b, l, d};
    lg_tensor *rows = lg_reshape(g, x, 2, flat);
    lg_tensor *q = lg_reshape(g, lg_linear(g, rows, wq, NULL), 3, seq);
    lg_tensor *k = lg_reshape(g, lg_linear(g, rows, wk, NULL), 3, seq);
    lg_tensor *v = lg_reshape(g, lg_linear(g, rows, wv, NULL), 3, seq);
    lg_tensor *scores = lg_scale(g, lg_matmul_t(g, q, k, false, true), 1.0 / sqrt((double)d));
    if (!causal)
        return lg_matmul(g, lg_softmax(g, scores, -1), v);
    /* Masked softmax by Hadamard products (see the top of the file):
     *   m_i = max_{j<=i} S_ij                a per-row constant, read off S's values
     *   Z   = (S - m) ⊙ C                    masked scores become 0, the others <= 0
     *   E   = exp(Z) ⊙ C                     masked weights become exactly 0
     *   A   = E / Σ_j E                      each row sums to 1; its sum is >= 1 before */
    lg_tensor *m = row_max_below_diag(g, scores);
    lg_tensor *e = lg_mul(g, lg_exp(g, lg_mul(g, lg_sub(g, scores, m), causal)), causal);
    lg_tensor *a = lg_div(g, e, lg_sum_axis(g, e, -1, true));
    return lg_matmul(g, a, v);                                 /* (B, L, d) */
}

/* The (l, l) lower-triangular 0/1 matrix: C_ij = 1 when j <= i. Caller-owned. */
static lg_tensor *causal_matrix(lg_dtype dt, int64_t l)
{
    int64_t shape[2] = {l, l};
    lg_tensor *c = lg_tensor_zeros(dt, 2, shape);
    for (int64_t i = 0; c && i < l; i++)
        for (int64_t j = 0; j <= i; j++) {
            int64_t idx[2] = {i, j};
            lg_tensor_set(c, idx, 1.0);
        }
    return c;
}

/* ---- gradient check ---- */

typedef struct check_ctx {
    lg_tensor *causal;   /* (l, l) f64 */
    lg_tensor *weights;  /* (b, l, d) f64: the scalar is Σ weights ⊙ block(x) */
} check_ctx;

static lg_tensor *check_fn(lg_graph *g, lg_tensor *const *in, int n, void *ctx)
{
    (void)n;
    check_ctx *c = ctx;
    lg_tensor *y = attention_block(g, in[0], in[1], in[2], in[3], c->causal);
    return lg_sum(g, lg_mul(g, y, c->weights));
}

/* Gradcheck of the masked block on x (2, 5, 4) and 4x4 weights, all f64. Returns 0 when it
 * passes; prints the report either way. */
static int gradcheck_block(uint64_t seed)
{
    enum { GB = 2, GL = 5, GD = 4 };
    lg_rng r;
    lg_rng_init(&r, seed);
    int64_t xs[3] = {GB, GL, GD}, ws[2] = {GD, GD};
    lg_tensor *in[4] = {
        lg_tensor_normal(LG_F64, 3, xs, 0.0, 1.0, &r),
        lg_tensor_normal(LG_F64, 2, ws, 0.0, 0.7, &r),
        lg_tensor_normal(LG_F64, 2, ws, 0.0, 0.7, &r),
        lg_tensor_normal(LG_F64, 2, ws, 0.0, 0.7, &r),
    };
    check_ctx c = {causal_matrix(LG_F64, GL), lg_tensor_normal(LG_F64, 3, xs, 0.0, 1.0, &r)};
    int rc = 1;
    if (in[0] && in[1] && in[2] && in[3] && c.causal && c.weights) {
        lg_gradcheck_opts o = lg_gradcheck_defaults();
        lg_gradcheck_report rep;
        memset(&rep, 0, sizeof rep);
        lg_status st = lg_gradcheck(check_fn, &c, in, 4, &o, &rep);
        printf("gradcheck attention block (x %dx%dx%d, Wq/Wk/Wv %dx%d, f64, causal): %s\n",
               GB, GL, GD, GD, GD, rep.msg);
        printf("gradcheck %s: %lld elements, max |analytic - numeric| = %.3g\n",
               st == LG_OK && rep.passed ? "passed" : "FAILED", (long long)rep.n_checked,
               rep.max_abs_err);
        rc = st == LG_OK && rep.passed ? 0 : 1;
        if (st != LG_OK && st != LG_ERR_NUMERIC)
            fprintf(stderr, "%s: gradcheck: %s\n", PROG, lg_status_str(st));
    } else {
        fprintf(stderr, "%s: out of memory (%s)\n", PROG, lg_last_errmsg());
    }
    for (int i = 0; i < 4; i++)
        lg_tensor_free(in[i]);
    lg_tensor_free(c.causal);
    lg_tensor_free(c.weights);
    return rc;
}

/* ---- the model ---- */

typedef struct model {
    lg_params *params;
    lg_tensor *embed;        /* (NSYM, D) */
    lg_tensor *pos;          /* (L, D) */
    lg_linear_layer wq, wk, wv, out;
    lg_tensor *causal;       /* (L, L) f32, caller-owned */
} model;

static int model_init(model *m, lg_rng *r)
{
    memset(m, 0, sizeof *m);
    m->params = lg_params_new();
    if (!m->params)
        return 1;
    int64_t es[2] = {NSYM, D}, ps[2] = {L, D};
    m->embed = lg_params_add(m->params, "embed.weight", LG_F32, 2, es);
    m->pos = lg_params_add(m->params, "pos.weight", LG_F32, 2, ps);
    if (!m->embed || !m->pos)
        return 1;
    if (lg_init_uniform(m->embed, -1.0, 1.0, r) != LG_OK ||
        lg_init_uniform(m->pos, -1.0, 1.0, r) != LG_OK ||
        lg_linear_layer_init(&m->wq, m->params, "attn.q", D, D, false, LG_F32, r) != LG_OK ||
        lg_linear_layer_init(&m->wk, m->params, "attn.k", D, D, false, LG_F32, r) != LG_OK ||
        lg_linear_layer_init(&m->wv, m->params, "attn.v", D, D, false, LG_F32, r) != LG_OK ||
        lg_linear_layer_init(&m->out, m->params, "out", D, VOCAB, true, LG_F32, r) != LG_OK)
        return 1;
    m->causal = causal_matrix(LG_F32, L);
    return m->causal ? 0 : 1;
}

static void model_free(model *m)
{
    lg_tensor_free(m->causal);
    lg_params_free(m->params);
}

/* Logits (b·N, VOCAB) for the N predicting positions p = N .. 2N-1 of each of the b
 * sequences in tok (b·L tokens), in that order. */
static lg_tensor *model_forward(lg_graph *g, const model *m, const int32_t *tok, int b,
                                float *onehot)
{
    memset(onehot, 0, sizeof(float) * (size_t)b * L * NSYM);
    for (int i = 0; i < b * L; i++)
        onehot[(size_t)i * NSYM + tok[i]] = 1.0f;
    int64_t os[2] = {(int64_t)b * L, NSYM}, seq[3] = {b, L, D}, rows[2] = {(int64_t)b * N, D};
    lg_tensor *x = lg_graph_input(g, LG_F32, 2, os, onehot);
    x = lg_reshape(g, lg_matmul(g, x, m->embed), 3, seq);     /* token embeddings */
    x = lg_add(g, x, m->pos);                                 /* + positions, broadcast */
    lg_tensor *h = attention_block(g, x, m->wq.weight, m->wk.weight, m->wv.weight, m->causal);
    h = lg_slice(g, h, 1, N, L);                              /* (b, N, D) */
    return lg_linear_layer_forward(g, &m->out, lg_reshape(g, h, 2, rows));
}

/* The mask at work: logits (b, L, VOCAB) at every position, before and after changing
 * the last input token of each sequence, must agree at positions 0 .. L-2 (bit for bit:
 * the masked weights are exact zeros) and differ at L-1. Returns 0 when they do. */
static int causality_check(lg_graph *g, const model *m, int32_t *tok, int b, float *onehot)
{
    int64_t seq[3] = {b, L, D}, rows[2] = {(int64_t)b * L, D};
    float *before = malloc(sizeof(float) * (size_t)b * L * VOCAB);
    int rc = 1;
    for (int pass = 0; pass < 2 && before; pass++) {
        lg_graph_reset(g);
        bool prev = lg_graph_set_grad_enabled(g, false);
        memset(onehot, 0, sizeof(float) * (size_t)b * L * NSYM);
        for (int i = 0; i < b * L; i++)
            onehot[(size_t)i * NSYM + tok[i]] = 1.0f;
        int64_t os[2] = {(int64_t)b * L, NSYM};
        lg_tensor *x = lg_graph_input(g, LG_F32, 2, os, onehot);
        x = lg_add(g, lg_reshape(g, lg_matmul(g, x, m->embed), 3, seq), m->pos);
        lg_tensor *h = attention_block(g, x, m->wq.weight, m->wk.weight, m->wv.weight,
                                       m->causal);
        lg_tensor *logits = lg_linear_layer_forward(g, &m->out, lg_reshape(g, h, 2, rows));
        lg_graph_set_grad_enabled(g, prev);
        if (!logits)
            break;
        const float *p = lg_tensor_cdata(logits);
        if (pass == 0) {
            memcpy(before, p, sizeof(float) * (size_t)b * L * VOCAB);
            for (int s = 0; s < b; s++)
                tok[(size_t)s * L + L - 1] = (tok[(size_t)s * L + L - 1] + 1) % VOCAB;
            continue;
        }
        int64_t past_changed = 0, last_changed = 0;
        for (int s = 0; s < b; s++)
            for (int t = 0; t < L; t++) {
                size_t o = ((size_t)s * L + t) * VOCAB;
                int diff = memcmp(p + o, before + o, sizeof(float) * VOCAB) != 0;
                if (t < L - 1)
                    past_changed += diff;
                else
                    last_changed += diff;
            }
        printf("causal mask: changing the last token changed %lld of %lld earlier "
               "positions' logits and %lld of %d last positions'\n", (long long)past_changed,
               (long long)b * (L - 1), (long long)last_changed, b);
        rc = past_changed == 0 && last_changed > 0 ? 0 : 1;
    }
    free(before);
    return rc;
}

/* b random sequences: tok (b·L) the model's input, lab (b·N) the tokens to predict. */
static void make_batch(lg_rng *r, int b, bool reverse, int32_t *tok, int32_t *lab)
{
    for (int s = 0; s < b; s++) {
        int32_t *t = tok + (size_t)s * L, *y = lab + (size_t)s * N, x[N];
        for (int i = 0; i < N; i++) {
            x[i] = (int32_t)(lg_rng_uniform(r) * VOCAB);
            if (x[i] >= VOCAB)
                x[i] = VOCAB - 1;
        }
        for (int i = 0; i < N; i++) {
            t[i] = x[i];
            y[i] = reverse ? x[N - 1 - i] : x[i];   /* target of position N + i */
        }
        t[N] = SEP;
        for (int i = 1; i < N; i++)
            t[N + i] = y[i - 1];                    /* the answer so far (teacher forcing) */
    }
}

/* Per-token and whole-sequence accuracy on n sequences (no grad). -1 on error. */
static double evaluate(lg_graph *g, const model *m, const int32_t *tok, const int32_t *lab,
                       int n, float *onehot, double *seq_acc)
{
    lg_graph_reset(g);
    bool prev = lg_graph_set_grad_enabled(g, false);
    lg_tensor *pred = lg_argmax_axis(g, model_forward(g, m, tok, n, onehot), 1, false);
    lg_graph_set_grad_enabled(g, prev);
    if (!pred)
        return -1;
    const int64_t *p = lg_tensor_cdata(pred); /* (n·N) predicted tokens */
    int64_t right = 0, seqs = 0;
    for (int s = 0; s < n; s++) {
        int all = 1;
        for (int i = 0; i < N; i++) {
            int ok = p[(size_t)s * N + i] == lab[(size_t)s * N + i];
            right += ok;
            all &= ok;
        }
        seqs += all;
    }
    *seq_acc = (double)seqs / n;
    return (double)right / ((double)n * N);
}

int main(int argc, char **argv)
{
    int steps = 1500, threads = 1;
    int n_test = N_TEST;
    bool reverse = false, quick = false;
    uint64_t seed = 2026;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0) {
            quick = true;
            steps = 300;
            n_test = QUICK_TEST;
        } else if (strcmp(a, "--task") == 0 && v && (!strcmp(v, "copy") || !strcmp(v, "reverse"))) {
            reverse = strcmp(v, "reverse") == 0;
            i++;
        } else if (strcmp(a, "--steps") == 0 && v && atoi(v) > 0) {
            steps = atoi(v);
            i++;
        } else if (strcmp(a, "--threads") == 0 && v && atoi(v) > 0) {
            threads = atoi(v);
            i++;
        } else if (strcmp(a, "--seed") == 0 && v) {
            seed = strtoull(v, NULL, 10);
            i++;
        } else {
            fprintf(stderr, "usage: %s [--task copy|reverse] [--steps N] [--quick] "
                    "[--threads N] [--seed S]\n", PROG);
            return 2;
        }
    }
    lg_set_num_threads(threads);

    if (gradcheck_block(seed) != 0)
        return 1;

    lg_rng rng;
    lg_rng_init(&rng, seed);
    model m;
    memset(&m, 0, sizeof m);
    lg_graph *g = lg_graph_new();
    lg_optim *opt = NULL;
    int32_t *tok = malloc(sizeof(int32_t) * n_test * L);
    int32_t *lab = malloc(sizeof(int32_t) * n_test * N);
    int32_t *ttok = malloc(sizeof(int32_t) * n_test * L);
    int32_t *tlab = malloc(sizeof(int32_t) * n_test * N);
    float *onehot = malloc(sizeof(float) * n_test * L * NSYM);
    int rc = 1;
    if (!g || !tok || !lab || !ttok || !tlab || !onehot || model_init(&m, &rng) != 0) {
        fprintf(stderr, "%s: setup failed: %s\n", PROG, lg_last_errmsg());
        model_free(&m);
        goto done;
    }
    lg_optim_config oc = lg_optim_defaults(LG_OPTIM_ADAM);
    lg_lr_cosine_config sched = {.base_lr = 1e-2, .min_lr = 1e-4, .warmup_steps = steps / 20,
                                 .warmup_start = 0.1, .total_steps = steps};
    oc.lr = sched.base_lr;
    opt = lg_optim_new(m.params, &oc);
    if (!opt) {
        fprintf(stderr, "%s: optimizer: %s\n", PROG, lg_last_errmsg());
        model_free(&m);
        goto done;
    }
    printf("task: %s %d tokens over a vocabulary of %d; one causal attention layer, "
           "width %d, %lld parameters\n", reverse ? "reverse" : "copy", N, VOCAB, D,
           (long long)lg_params_numel(m.params, true));

    lg_rng test_rng;
    lg_rng_init(&test_rng, seed + 1);
    make_batch(&test_rng, n_test, reverse, ttok, tlab);

    clock_t t0 = clock();
    double loss_avg = 0;
    for (int step = 0; step < steps; step++) {
        double lr;
        lg_lr_cosine(&sched, step, &lr);
        lg_optim_set_lr(opt, lr);
        make_batch(&rng, BATCH, reverse, tok, lab);
        lg_graph_reset(g);
        lg_params_zero_grad(m.params);
        lg_tensor *targets = lg_graph_input(g, LG_I32, 1, (int64_t[]){BATCH * N}, lab);
        lg_tensor *loss = lg_cross_entropy(g, model_forward(g, &m, tok, BATCH, onehot), targets);
        if (!loss || lg_backward(g, loss) != LG_OK || lg_optim_step(opt) != LG_OK) {
            fprintf(stderr, "%s: step %d: %s\n", PROG, step, lg_graph_errmsg(g));
            goto fail;
        }
        loss_avg += lg_tensor_item(loss, 0);
        if ((step + 1) % (steps / 10 > 0 ? steps / 10 : 1) == 0) {
            double sacc, acc = evaluate(g, &m, ttok, tlab, n_test, onehot, &sacc);
            printf("step %5d  loss %.3e  lr %.2e  test token acc %.4f  seq acc %.4f\n",
                   step + 1, loss_avg / (steps / 10 > 0 ? steps / 10 : 1), lr, acc, sacc);
            loss_avg = 0;
        }
    }
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    double sacc, acc = evaluate(g, &m, ttok, tlab, n_test, onehot, &sacc);
    if (acc < 0) {
        fprintf(stderr, "%s: evaluation: %s\n", PROG, lg_graph_errmsg(g));
        goto fail;
    }
    if (causality_check(g, &m, ttok, 100, onehot) != 0) {
        fprintf(stderr, "%s: the causal mask leaks: %s\n", PROG, lg_graph_errmsg(g));
        goto fail;
    }
    printf("test accuracy: %.4f per token, %.4f per sequence (%d sequences), %d steps in "
           "%.1f s CPU\n", acc, sacc, n_test, steps, secs);
    printf("RESULT task=%s token_accuracy=%.4f sequence_accuracy=%.4f steps=%d\n",
           reverse ? "reverse" : "copy", acc, sacc, steps);
    if (acc >= 0.99 || quick)
        rc = 0;
    else
        fprintf(stderr, "%s: accuracy %.4f below the 0.99 target\n", PROG, acc);
fail:
    lg_optim_free(opt);
    model_free(&m);
done:
    lg_graph_free(g);
    free(tok);
    free(lab);
    free(ttok);
    free(tlab);
    free(onehot);
    return rc;
}
