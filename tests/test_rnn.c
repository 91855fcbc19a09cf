/* LSTM and GRU (rnn.h) against values recorded from torch.nn.LSTM and torch.nn.GRU in
 * float64 by tests/rnn_torch_ref.py (PyTorch 1.13, Debian's python3-torch; the numbers are
 * in tests/rnn_torch_ref.h): outputs, final states and every gradient to 1e-10. Second-order
 * gradchecks on small stacks, and the error paths. */
#include "test_util.h"
#include <string.h>
#include "rnn_torch_ref.h"

enum { B = 2, T = 3, IN = 3, H = 3, L = 2 };
static const double TOL = 1e-10;

/* The formula rnn_torch_ref.py fills tensor j with. */
static void fill(lg_tensor *t, int j)
{
    double *d = lg_tensor_data(t);
    for (int64_t k = 0; k < lg_tensor_numel(t); k++)
        d[k] = 0.5 * sin(0.9 * (double)k + 1.7 * j + 0.3);
}

static lg_tensor *filled(int j, int ndim, const int64_t *shape, bool grad)
{
    lg_tensor *t = lg_tensor_new(LG_F64, ndim, shape);
    assert_non_null(t);
    fill(t, j);
    if (grad)
        assert_int_equal(lg_tensor_set_requires_grad(t, true), LG_OK);
    return t;
}

static double g_max_err; /* the worst |lagrad - torch| of a run, printed at its end */

static void check(const lg_tensor *t, const double *want, int64_t n, const char *what)
{
    tu_assert_tensor_close(t, want, n, TOL, 0, what);
    for (int64_t k = 0; k < n; k++)
        g_max_err = fmax(g_max_err, fabs(lg_tensor_item(t, k) - want[k]));
}

static void run_against_torch(lg_rnn_kind kind)
{
    bool lstm = kind == LG_RNN_LSTM;
    g_max_err = 0;
    lg_params *p = lg_params_new();
    lg_rng r;
    lg_rng_init(&r, 1);
    lg_rnn l;
    assert_int_equal(lg_rnn_init(&l, p, "rnn", kind, IN, H, L, true, LG_F64, &r), LG_OK);
    static const char *parts[8] = {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                                   "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"};
    assert_int_equal(lg_params_count(p), 8);
    for (int j = 0; j < 8; j++) {
        char want[64];
        snprintf(want, sizeof want, "rnn.%s", parts[j]);
        assert_string_equal(lg_params_name(p, j), want);
        fill(lg_params_at(p, j), 6 + j);
    }
    int64_t xs[3] = {B, T, IN}, ss[3] = {L, B, H}, os[3] = {B, T, H};
    lg_tensor *x = filled(0, 3, xs, true), *h0 = filled(1, 3, ss, true);
    lg_tensor *c0 = lstm ? filled(2, 3, ss, true) : NULL;
    lg_tensor *wo = filled(3, 3, os, false), *wh = filled(4, 3, ss, false);
    lg_tensor *wc = filled(5, 3, ss, false);
    lg_graph *g = lg_graph_new();
    lg_tensor *hn, *cn = NULL;
    lg_tensor *out = lg_rnn_forward(g, &l, x, h0, c0, &hn, lstm ? &cn : NULL);
    lg_tensor *loss = lg_add(g, lg_sum(g, lg_mul(g, out, wo)), lg_sum(g, lg_mul(g, hn, wh)));
    if (lstm)
        loss = lg_add(g, loss, lg_sum(g, lg_mul(g, cn, wc)));
    assert_int_equal(lg_backward(g, loss), LG_OK);
    assert_int_equal(lg_tensor_ndim(out), 3);
    assert_int_equal(lg_tensor_shape(out)[1], T);
    const double *const *want;
    static const double *const lstm_d[8] = {
        LSTM_D_weight_ih_l0, LSTM_D_weight_hh_l0, LSTM_D_bias_ih_l0, LSTM_D_bias_hh_l0,
        LSTM_D_weight_ih_l1, LSTM_D_weight_hh_l1, LSTM_D_bias_ih_l1, LSTM_D_bias_hh_l1};
    static const double *const gru_d[8] = {
        GRU_D_weight_ih_l0, GRU_D_weight_hh_l0, GRU_D_bias_ih_l0, GRU_D_bias_hh_l0,
        GRU_D_weight_ih_l1, GRU_D_weight_hh_l1, GRU_D_bias_ih_l1, GRU_D_bias_hh_l1};
    if (lstm) {
        check(out, LSTM_OUT, B * T * H, "lstm out");
        check(hn, LSTM_HN, L * B * H, "lstm h_n");
        check(cn, LSTM_CN, L * B * H, "lstm c_n");
        check(lg_tensor_grad(x), LSTM_DX, B * T * IN, "lstm dx");
        check(lg_tensor_grad(h0), LSTM_DH0, L * B * H, "lstm dh0");
        check(lg_tensor_grad(c0), LSTM_DC0, L * B * H, "lstm dc0");
        want = lstm_d;
    } else {
        check(out, GRU_OUT, B * T * H, "gru out");
        check(hn, GRU_HN, L * B * H, "gru h_n");
        check(lg_tensor_grad(x), GRU_DX, B * T * IN, "gru dx");
        check(lg_tensor_grad(h0), GRU_DH0, L * B * H, "gru dh0");
        want = gru_d;
    }
    for (int j = 0; j < 8; j++) {
        lg_tensor *gr = lg_tensor_grad(lg_params_at(p, j));
        check(gr, want[j], lg_tensor_numel(gr), lg_params_name(p, j));
    }
    print_message("%s: max |lagrad - torch| over outputs, states and gradients = %.3g\n",
                  lstm ? "LSTM" : "GRU", g_max_err);
    lg_graph_free(g);
    lg_tensor *ts[] = {x, h0, c0, wo, wh, wc};
    for (int i = 0; i < 6; i++)
        lg_tensor_free(ts[i]);
    lg_params_free(p);
}

static void test_lstm_matches_torch_outputs_states_and_grads(void **state)
{
    (void)state;
    run_against_torch(LG_RNN_LSTM);
}

static void test_gru_matches_torch_outputs_states_and_grads(void **state)
{
    (void)state;
    run_against_torch(LG_RNN_GRU);
}

/* Gradcheck: inputs are x, h0, [c0,] then each layer's four parameters, caller-owned; the
 * layer struct is pointed at them for each evaluation. */
typedef struct gc_ctx {
    lg_rnn_kind kind;
    int layers;
    lg_tensor *wo, *wh;
} gc_ctx;

static lg_tensor *rnn_loss(lg_graph *g, lg_tensor *const *in, int n, void *vctx)
{
    (void)n;
    const gc_ctx *c = vctx;
    bool lstm = c->kind == LG_RNN_LSTM;
    lg_rnn l = {.kind = c->kind, .input_size = lg_tensor_shape(in[0])[2],
                .hidden_size = lg_tensor_shape(in[1])[2], .num_layers = c->layers};
    int base = lstm ? 3 : 2;
    for (int k = 0; k < c->layers; k++) {
        l.weight_ih[k] = in[base + 4 * k];
        l.weight_hh[k] = in[base + 4 * k + 1];
        l.bias_ih[k] = in[base + 4 * k + 2];
        l.bias_hh[k] = in[base + 4 * k + 3];
    }
    lg_tensor *hn, *cn = NULL;
    lg_tensor *out = lg_rnn_forward(g, &l, in[0], in[1], lstm ? in[2] : NULL, &hn,
                                    lstm ? &cn : NULL);
    lg_tensor *loss = lg_add(g, lg_sum(g, lg_mul(g, out, c->wo)), lg_sum(g, lg_mul(g, hn, c->wh)));
    if (lstm)
        loss = lg_add(g, loss, lg_sum(g, lg_mul(g, cn, cn)));
    return loss;
}

static void gradcheck_kind(lg_rnn_kind kind)
{
    enum { b = 2, t = 3, in = 2, h = 2, nl = 2 };
    bool lstm = kind == LG_RNN_LSTM;
    int64_t G = lstm ? 4 : 3;
    int64_t xs[3] = {b, t, in}, ss[3] = {nl, b, h}, os[3] = {b, t, h};
    lg_tensor *ins[3 + 4 * nl];
    int n = 0;
    ins[n++] = tu_rand(3, xs, 1, 0, 0);
    ins[n++] = tu_rand(3, ss, 2, 0, 0);
    if (lstm)
        ins[n++] = tu_rand(3, ss, 3, 0, 0);
    for (int k = 0; k < nl; k++) {
        int64_t wih[2] = {G * h, k ? h : in}, whh[2] = {G * h, h}, bs[1] = {G * h};
        ins[n++] = tu_rand(2, wih, 10 + k, -0.8, 0.8);
        ins[n++] = tu_rand(2, whh, 20 + k, -0.8, 0.8);
        ins[n++] = tu_rand(1, bs, 30 + k, -0.5, 0.5);
        ins[n++] = tu_rand(1, bs, 40 + k, -0.5, 0.5);
    }
    gc_ctx c = {kind, nl, tu_rand(3, os, 5, 0, 0), tu_rand(3, ss, 6, 0, 0)};
    tu_gradcheck(rnn_loss, &c, ins, n, true, lstm ? "lstm" : "gru");
    for (int i = 0; i < n; i++)
        lg_tensor_free(ins[i]);
    lg_tensor_free(c.wo);
    lg_tensor_free(c.wh);
}

static void test_lstm_gradcheck_second_order(void **state)
{
    (void)state;
    gradcheck_kind(LG_RNN_LSTM);
}

static void test_gru_gradcheck_second_order(void **state)
{
    (void)state;
    gradcheck_kind(LG_RNN_GRU);
}

static void test_rnn_init_defaults_and_errors(void **state)
{
    (void)state;
    lg_params *p = lg_params_new();
    lg_rng r;
    lg_rng_init(&r, 3);
    lg_rnn l;
    assert_int_equal(lg_rnn_init(&l, p, "g", LG_RNN_GRU, 5, 4, 1, false, LG_F32, &r), LG_OK);
    assert_int_equal(lg_params_count(p), 2); /* no biases */
    assert_null(l.bias_ih[0]);
    assert_int_equal(lg_tensor_shape(l.weight_ih[0])[0], 12);
    assert_int_equal(lg_tensor_shape(l.weight_ih[0])[1], 5);
    for (int64_t k = 0; k < lg_tensor_numel(l.weight_hh[0]); k++) /* U(-1/2, 1/2) */
        assert_true(fabs(lg_tensor_item(l.weight_hh[0], k)) <= 0.5);
    assert_int_equal(lg_rnn_init(NULL, p, "a", LG_RNN_GRU, 5, 4, 1, true, LG_F32, &r),
                     LG_ERR_ARG);
    assert_int_equal(lg_rnn_init(&l, NULL, "a", LG_RNN_GRU, 5, 4, 1, true, LG_F32, &r),
                     LG_ERR_ARG);
    assert_int_equal(lg_rnn_init(&l, p, "", LG_RNN_GRU, 5, 4, 1, true, LG_F32, &r), LG_ERR_ARG);
    assert_int_equal(lg_rnn_init(&l, p, "a", LG_RNN_GRU, 5, 4, 1, true, LG_F32, NULL),
                     LG_ERR_ARG);
    assert_int_equal(lg_rnn_init(&l, p, "a", (lg_rnn_kind)7, 5, 4, 1, true, LG_F32, &r),
                     LG_ERR_ARG);
    assert_int_equal(lg_rnn_init(&l, p, "a", LG_RNN_LSTM, 0, 4, 1, true, LG_F32, &r),
                     LG_ERR_ARG);
    assert_int_equal(lg_rnn_init(&l, p, "a", LG_RNN_LSTM, 5, 0, 1, true, LG_F32, &r),
                     LG_ERR_ARG);
    assert_int_equal(lg_rnn_init(&l, p, "a", LG_RNN_LSTM, 5, 4, LG_RNN_MAX_LAYERS + 1, true,
                                 LG_F32, &r), LG_ERR_ARG);
    assert_int_equal(lg_rnn_init(&l, p, "a", LG_RNN_LSTM, 5, 4, 1, true, LG_I32, &r),
                     LG_ERR_DTYPE);
    assert_int_equal(lg_rnn_init(&l, p, "g", LG_RNN_LSTM, 5, 4, 1, true, LG_F32, &r),
                     LG_ERR_ARG); /* g.weight_ih_l0 exists */
    assert_non_null(strstr(lg_last_errmsg(), "already exists"));
    assert_int_equal(l.num_layers, 0); /* zeroed on error */
    lg_params_free(p);
}

static void test_rnn_forward_errors(void **state)
{
    (void)state;
    lg_params *p = lg_params_new();
    lg_rng r;
    lg_rng_init(&r, 3);
    lg_rnn lstm, gru;
    assert_int_equal(lg_rnn_init(&lstm, p, "l", LG_RNN_LSTM, 3, 2, 2, true, LG_F32, &r), LG_OK);
    assert_int_equal(lg_rnn_init(&gru, p, "g", LG_RNN_GRU, 3, 2, 1, true, LG_F32, &r), LG_OK);
    int64_t xs[3] = {2, 4, 3}, bad[3] = {2, 4, 5}, ss[3] = {2, 2, 2}, s1[3] = {1, 2, 2};
    lg_tensor *x = lg_tensor_new(LG_F32, 3, xs), *xb = lg_tensor_new(LG_F32, 3, bad);
    lg_tensor *x64 = lg_tensor_new(LG_F64, 3, xs), *h = lg_tensor_new(LG_F32, 3, ss);
    lg_tensor *h1 = lg_tensor_new(LG_F32, 3, s1);
    lg_graph *g = lg_graph_new();
    lg_tensor *hn, *cn;
    assert_non_null(lg_rnn_forward(g, &lstm, x, h, h, &hn, &cn));
    assert_int_equal(lg_tensor_shape(hn)[0], 2);
    assert_non_null(lg_rnn_forward(g, &gru, x, h1, NULL, &hn, NULL));
    struct { const lg_rnn *l; lg_tensor *x, *h0, *c0; bool want_c; lg_status s; const char *m; }
    cases[] = {
        {NULL, x, NULL, NULL, false, LG_ERR_ARG, "NULL"},
        {&lstm, NULL, NULL, NULL, false, LG_ERR_ARG, "x is NULL"},
        {&lstm, xb, NULL, NULL, false, LG_ERR_SHAPE, "(2,4,5)"},
        {&lstm, x64, NULL, NULL, false, LG_ERR_DTYPE, "f64"},
        {&lstm, x, h1, NULL, false, LG_ERR_SHAPE, "h0 is (1,2,2)"},
        {&lstm, x, NULL, h1, false, LG_ERR_SHAPE, "c0 is (1,2,2)"},
        {&gru, x, NULL, h1, false, LG_ERR_ARG, "cell state"},
        {&gru, x, NULL, NULL, true, LG_ERR_ARG, "cell state"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lg_graph_reset(g);
        cn = (lg_tensor *)1;
        assert_null(lg_rnn_forward(g, cases[i].l, cases[i].x, cases[i].h0, cases[i].c0, &hn,
                                   cases[i].want_c ? &cn : NULL));
        assert_int_equal(lg_graph_status(g), cases[i].s);
        assert_non_null(strstr(lg_graph_errmsg(g), cases[i].m));
        assert_null(hn);
    }
    assert_null(lg_rnn_forward(NULL, &lstm, x, NULL, NULL, NULL, NULL));
    assert_int_equal(lg_last_status(), LG_ERR_ARG);
    lg_rnn empty;
    memset(&empty, 0, sizeof empty);
    lg_graph_reset(g);
    assert_null(lg_rnn_forward(g, &empty, x, NULL, NULL, NULL, NULL));
    assert_non_null(strstr(lg_graph_errmsg(g), "not initialised"));
    lg_graph_free(g);
    lg_tensor *ts[] = {x, xb, x64, h, h1};
    for (int i = 0; i < 5; i++)
        lg_tensor_free(ts[i]);
    lg_params_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lstm_matches_torch_outputs_states_and_grads),
        cmocka_unit_test(test_gru_matches_torch_outputs_states_and_grads),
        cmocka_unit_test(test_lstm_gradcheck_second_order),
        cmocka_unit_test(test_gru_gradcheck_second_order),
        cmocka_unit_test(test_rnn_init_defaults_and_errors),
        cmocka_unit_test(test_rnn_forward_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
