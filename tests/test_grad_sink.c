/* lg_backward lets matmul and linear VJPs add a leaf's gradient straight into its .grad
 * (lg_grad_sink). These tests hold that path to the functional lg_grad, which never
 * writes .grad (and which gradcheck holds to finite differences): every transpose flag,
 * batched and shared operands, tied weights, accumulation over backward calls, reshaped
 * leaves and grads, and the cases that must fall back (a tape that reads a .grad or a
 * wrapped buffer over one, anomaly mode, create_graph). */
#include <stdlib.h>
#include "test_util.h"

/* ---- a product-shaped loss with the inputs as caller-owned leaves ---- */

enum { MAX_IN = 3 };

typedef struct problem {
    int kind;          /* 0: matmul_t(a, b, ta, tb); 1: linear(x, W, b); 2: tied weight */
    bool ta, tb;
    int n;
    lg_tensor *in[MAX_IN];
    lg_tensor *w;      /* weights of the output in the loss sum(w ⊙ y) */
} problem;

static lg_tensor *leaf(int ndim, const int64_t *shape, uint64_t seed)
{
    lg_tensor *t = tu_rand(ndim, shape, seed, 0, 0);
    assert_int_equal(lg_tensor_set_requires_grad(t, true), LG_OK);
    return t;
}

/* Appends a leaf input of the given shape (normal values from seed). */
static void add_leaf(problem *p, int ndim, const int64_t *shape, uint64_t seed)
{
    assert_true(p->n < MAX_IN);
    p->in[p->n++] = leaf(ndim, shape, seed);
}

/* The loss weights w, of the output's shape. */
static void set_weights(problem *p, int ndim, const int64_t *shape, uint64_t seed)
{
    p->w = tu_rand(ndim, shape, seed, 0, 0);
}

static lg_tensor *forward(lg_graph *g, const problem *p)
{
    lg_tensor *y;
    if (p->kind == 0)
        y = lg_matmul_t(g, p->in[0], p->in[1], p->ta, p->tb);
    else if (p->kind == 1)
        y = lg_linear(g, p->in[0], p->in[1], p->in[2]);
    else /* x W used twice: (x W) W, both contributions reach W */
        y = lg_matmul(g, lg_matmul(g, p->in[0], p->in[1]), p->in[1]);
    return lg_sum(g, lg_mul(g, y, p->w));
}

/* d loss / d in[i] from lg_grad, as caller-owned copies. */
static void functional_grads(const problem *p, lg_tensor **out)
{
    lg_graph *g = lg_graph_new();
    lg_tensor *gs[MAX_IN];
    assert_int_equal(lg_grad(g, forward(g, p), NULL, p->n, p->in, gs, false), LG_OK);
    for (int i = 0; i < p->n; i++)
        assert_non_null(out[i] = lg_tensor_copy(gs[i]));
    lg_graph_free(g);
}

static void assert_same_values(const lg_tensor *got, const lg_tensor *want, double scale,
                               const double *offset, const char *what)
{
    assert_non_null(got);
    assert_int_equal(lg_tensor_numel(got), lg_tensor_numel(want));
    for (int64_t i = 0; i < lg_tensor_numel(want); i++) {
        double w = scale * lg_tensor_item(want, i) + (offset ? offset[i] : 0);
        tu_assert_close_arr((double[]){lg_tensor_item(got, i)}, &w, 1, 1e-12, 1e-12, what);
    }
}

/* lg_backward's .grad equals lg_grad's gradient; a second backward doubles it. */
static void check_against_functional(problem *p, const char *what)
{
    lg_tensor *want[MAX_IN];
    functional_grads(p, want);
    lg_graph *g = lg_graph_new();
    lg_tensor *loss = forward(g, p);
    assert_int_equal(lg_backward(g, loss), LG_OK);
    for (int i = 0; i < p->n; i++)
        assert_same_values(lg_tensor_grad(p->in[i]), want[i], 1, NULL, what);
    assert_int_equal(lg_backward(g, loss), LG_OK);
    for (int i = 0; i < p->n; i++)
        assert_same_values(lg_tensor_grad(p->in[i]), want[i], 2, NULL, what);
    lg_graph_free(g);
    for (int i = 0; i < p->n; i++) {
        lg_tensor_free(want[i]);
        lg_tensor_free(p->in[i]);
    }
    lg_tensor_free(p->w);
}

static void test_matmul_leaf_grads_match_lg_grad_for_every_flag(void **state)
{
    (void)state;
    const int64_t m = 3, k = 4, n = 5;
    for (int f = 0; f < 4; f++) {
        problem p = {.kind = 0, .ta = f & 1, .tb = f & 2};
        int64_t sa[2] = {p.ta ? k : m, p.ta ? m : k}, sb[2] = {p.tb ? n : k, p.tb ? k : n};
        int64_t sy[2] = {m, n};
        add_leaf(&p, 2, sa, 10 + (uint64_t)f);
        add_leaf(&p, 2, sb, 20 + (uint64_t)f);
        set_weights(&p, 2, sy, 30 + (uint64_t)f);
        check_against_functional(&p, "2-D matmul_t");
    }
}

/* Batched products and a weight shared over the batch take the usual path (the gradient
 * is a sum over batches); the results must agree all the same. */
static void test_batched_and_shared_operands_match_lg_grad(void **state)
{
    (void)state;
    int64_t sa[3] = {2, 3, 4}, sb3[3] = {2, 4, 5}, sb2[2] = {4, 5}, sy[3] = {2, 3, 5};
    problem p = {.kind = 0};
    add_leaf(&p, 3, sa, 40);
    add_leaf(&p, 3, sb3, 41);
    set_weights(&p, 3, sy, 42);
    check_against_functional(&p, "batched matmul");
    problem q = {.kind = 0};
    add_leaf(&q, 3, sa, 43);
    add_leaf(&q, 2, sb2, 44);
    set_weights(&q, 3, sy, 45);
    check_against_functional(&q, "weight shared over the batch");
}

static void test_linear_leaf_grads_match_lg_grad_single_row_and_batch(void **state)
{
    (void)state;
    const int64_t rows[2] = {1, 6}; /* one row: the GEMV and outer-product paths */
    for (int r = 0; r < 2; r++) {
        int64_t sx[2] = {rows[r], 7}, sw[2] = {4, 7}, sbias[1] = {4}, sy[2] = {rows[r], 4};
        problem p = {.kind = 1};
        add_leaf(&p, 2, sx, 50 + (uint64_t)r);
        add_leaf(&p, 2, sw, 60 + (uint64_t)r);
        add_leaf(&p, 1, sbias, 70 + (uint64_t)r);
        set_weights(&p, 2, sy, 80 + (uint64_t)r);
        check_against_functional(&p, "linear");
    }
}

static void test_tied_weight_gets_both_contributions(void **state)
{
    (void)state;
    int64_t sx[2] = {3, 4}, sw[2] = {4, 4};
    problem p = {.kind = 2};
    add_leaf(&p, 2, sx, 90);
    add_leaf(&p, 2, sw, 91);
    set_weights(&p, 2, sx, 92);
    check_against_functional(&p, "tied weight");
}

/* A gradient already in .grad (say, from an earlier micro-batch) is added to. */
static void test_sink_adds_to_an_existing_gradient(void **state)
{
    (void)state;
    int64_t sa[2] = {3, 4}, sb[2] = {4, 2}, sy[2] = {3, 2};
    problem p = {.kind = 0};
    add_leaf(&p, 2, sa, 100);
    add_leaf(&p, 2, sb, 101);
    set_weights(&p, 2, sy, 102);
    lg_tensor *want[2];
    functional_grads(&p, want);
    lg_graph *g = lg_graph_new();
    assert_int_equal(lg_backward(g, forward(g, &p)), LG_OK); /* makes .grad */
    double old[8];
    lg_tensor *gb = lg_tensor_grad(p.in[1]);
    for (int i = 0; i < 8; i++)
        old[i] = ((double *)lg_tensor_data(gb))[i] = 0.25 * i - 1;
    lg_graph_reset(g);
    assert_int_equal(lg_backward(g, forward(g, &p)), LG_OK);
    assert_same_values(gb, want[1], 1, old, "existing gradient plus this one");
    lg_graph_free(g);
    for (int i = 0; i < 2; i++) {
        lg_tensor_free(want[i]);
        lg_tensor_free(p.in[i]);
    }
    lg_tensor_free(p.w);
}

/* A tape that takes W's .grad as an input must see it as it was when recorded: loss =
 * sum(W ⊙ G) + sum(x W) with G = W.grad. The walk reaches the matmul first; were its dW
 * written into G then, the mul's VJP would read the new G. d loss/dW = G + xᵀ 1. */
static void test_tape_reading_a_grad_sees_it_unchanged(void **state)
{
    (void)state;
    int64_t sx[2] = {2, 3}, sw[2] = {3, 2};
    lg_tensor *x = tu_rand(2, sx, 110, 0, 0), *w = leaf(2, sw, 111);
    lg_graph *g = lg_graph_new();
    assert_int_equal(lg_backward(g, lg_sum(g, lg_mul(g, w, w))), LG_OK); /* G = 2 W */
    lg_tensor *gw = lg_tensor_grad(w);
    double old[6], want[6];
    for (int i = 0; i < 6; i++)
        old[i] = lg_tensor_item(gw, i);
    for (int r = 0; r < 3; r++) /* G + (G + xᵀ 1): column sums of x over its rows */
        for (int c = 0; c < 2; c++)
            want[r * 2 + c] = 2 * old[r * 2 + c] + lg_tensor_item(x, r) + lg_tensor_item(x, 3 + r);
    lg_graph_reset(g);
    lg_tensor *read = lg_sum(g, lg_mul(g, w, gw)); /* recorded first, so walked last */
    lg_tensor *loss = lg_add(g, read, lg_sum(g, lg_matmul(g, x, w)));
    assert_int_equal(lg_backward(g, loss), LG_OK);
    tu_assert_tensor_close(gw, want, 6, 1e-12, 1e-12, "gradient of a tape that read .grad");
    lg_graph_free(g);
    lg_tensor_free(x);
    lg_tensor_free(w);
}

/* The sink writes as many elements as the leaf has, flat, whatever shape the caller gave
 * the leaf or its .grad since: x (5,3) = 1..15, W = ones(4,3), loss = sum(x Wᵀ), so
 * dW[o, j] = Σ_n x[n, j] = 35, 40, 45 in every row o. */
static void test_sink_follows_the_operands_not_the_grad_header(void **state)
{
    (void)state;
    const double once[12] = {35, 40, 45, 35, 40, 45, 35, 40, 45, 35, 40, 45};
    double twice[12];
    for (int i = 0; i < 12; i++)
        twice[i] = 2 * once[i];
    int64_t sw[2] = {4, 3}, flat[1] = {12}, s34[2] = {3, 4}, s26[2] = {2, 6};
    lg_tensor *x = lg_tensor_arange(LG_F64, 1, 16, 1);
    assert_int_equal(lg_tensor_reshape(x, 2, (int64_t[]){5, 3}), LG_OK);
    for (int c = 0; c < 3; c++) {
        lg_tensor *w = lg_tensor_ones(LG_F64, 2, sw);
        assert_int_equal(lg_tensor_set_requires_grad(w, true), LG_OK);
        lg_graph *g = lg_graph_new();
        lg_tensor *loss = lg_sum(g, lg_linear(g, x, w, NULL));
        if (c == 0) { /* a .grad reshaped between two backward calls */
            assert_int_equal(lg_backward(g, loss), LG_OK);
            assert_int_equal(lg_tensor_reshape(lg_tensor_grad(w), 1, flat), LG_OK);
            assert_int_equal(lg_backward(g, loss), LG_OK);
            tu_assert_tensor_close(lg_tensor_grad(w), twice, 12, 0, 0, ".grad reshaped");
        } else if (c == 1) { /* a .grad of another shape before the first backward */
            assert_int_equal(lg_backward(g, lg_sum(g, lg_mul(g, w, w))), LG_OK);
            lg_tensor_zero_grad(w);
            assert_int_equal(lg_tensor_reshape(lg_tensor_grad(w), 2, s34), LG_OK);
            assert_int_equal(lg_backward(g, loss), LG_OK);
            tu_assert_tensor_close(lg_tensor_grad(w), once, 12, 0, 0, ".grad (3,4)");
        } else { /* the leaf itself reshaped after the forward */
            assert_int_equal(lg_tensor_reshape(w, 2, s26), LG_OK);
            assert_int_equal(lg_backward(g, loss), LG_OK);
            tu_assert_tensor_close(lg_tensor_grad(w), once, 12, 0, 0, "leaf reshaped");
        }
        lg_graph_free(g);
        lg_tensor_free(w);
    }
    lg_tensor_free(x);
}

/* A caller buffer wrapped as an op input may be a .grad's memory: loss = sum(v ⊙ G') +
 * sum(x W) with G' = lg_tensor_wrap(W.grad's data), W.grad zero. The mul is recorded first,
 * so walked last; d loss/dv = G' as recorded = 0, not the dW the matmul adds meanwhile. */
static void test_wrapped_grad_memory_is_not_written_early(void **state)
{
    (void)state;
    int64_t sx[2] = {2, 3}, sw[2] = {3, 2};
    lg_tensor *x = tu_rand(2, sx, 130, 0, 0), *w = leaf(2, sw, 131), *v = leaf(2, sw, 132);
    lg_graph *g = lg_graph_new();
    assert_int_equal(lg_backward(g, lg_sum(g, lg_matmul(g, x, w))), LG_OK); /* makes .grad */
    lg_tensor_zero_grad(w);
    lg_tensor *alias = lg_tensor_wrap(LG_F64, 2, sw, lg_tensor_data(lg_tensor_grad(w)));
    assert_non_null(alias);
    lg_graph_reset(g);
    lg_tensor *read = lg_sum(g, lg_mul(g, v, alias));
    lg_tensor *loss = lg_add(g, read, lg_sum(g, lg_matmul(g, x, w)));
    assert_int_equal(lg_backward(g, loss), LG_OK);
    const double zero[6] = {0};
    tu_assert_tensor_close(lg_tensor_grad(v), zero, 6, 0, 0, "gradient through the alias");
    lg_graph_free(g);
    lg_tensor_free(alias);
    lg_tensor_free(x);
    lg_tensor_free(w);
    lg_tensor_free(v);
}

/* Anomaly mode checks every gradient, so it keeps them on the usual path; so does
 * create_graph, whose gradients are recorded. Both give the same .grad. */
static void test_anomaly_and_create_graph_give_the_same_grads(void **state)
{
    (void)state;
    int64_t sx[2] = {5, 3}, sw[2] = {4, 3}, sb[1] = {4}, sy[2] = {5, 4};
    problem p = {.kind = 1};
    add_leaf(&p, 2, sx, 120);
    add_leaf(&p, 2, sw, 121);
    add_leaf(&p, 1, sb, 122);
    set_weights(&p, 2, sy, 123);
    lg_tensor *want[MAX_IN];
    functional_grads(&p, want);
    for (int mode = 0; mode < 2; mode++) {
        lg_graph *g = lg_graph_new();
        lg_graph_set_anomaly(g, mode == 0);
        for (int i = 0; i < p.n; i++)
            lg_tensor_zero_grad(p.in[i]);
        assert_int_equal(lg_backward_ex(g, forward(g, &p), NULL, mode == 1), LG_OK);
        for (int i = 0; i < p.n; i++)
            assert_same_values(lg_tensor_grad(p.in[i]), want[i], 1, NULL,
                               mode ? "create_graph" : "anomaly mode");
        lg_graph_free(g);
    }
    for (int i = 0; i < p.n; i++) {
        lg_tensor_free(want[i]);
        lg_tensor_free(p.in[i]);
    }
    lg_tensor_free(p.w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_leaf_grads_match_lg_grad_for_every_flag),
        cmocka_unit_test(test_batched_and_shared_operands_match_lg_grad),
        cmocka_unit_test(test_linear_leaf_grads_match_lg_grad_single_row_and_batch),
        cmocka_unit_test(test_tied_weight_gets_both_contributions),
        cmocka_unit_test(test_sink_adds_to_an_existing_gradient),
        cmocka_unit_test(test_tape_reading_a_grad_sees_it_unchanged),
        cmocka_unit_test(test_sink_follows_the_operands_not_the_grad_header),
        cmocka_unit_test(test_wrapped_grad_memory_is_not_written_early),
        cmocka_unit_test(test_anomaly_and_create_graph_give_the_same_grads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
