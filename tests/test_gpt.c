/* The transformer pieces of gpt.h: attention against a plain-loop reference, exact
 * causality, first- and second-order gradchecks of attention and of a whole block, the
 * tied head's gradient against finite differences, nanoGPT's names, sizes and init, the
 * loss at init (ln V), and the error paths. */
#include "test_util.h"
#include "test_alloc.h"
#include <string.h>

/* A tiny attention layer whose four tensors are caller-owned f64 inputs. */
static lg_attention attn_of(lg_tensor *const *w, int64_t C, int64_t nh)
{
    lg_attention a;
    memset(&a, 0, sizeof a);
    a.n_embd = C;
    a.n_head = nh;
    a.c_attn = (lg_linear_layer){w[0], w[1], C, 3 * C};
    a.c_proj = (lg_linear_layer){w[2], w[3], C, C};
    return a;
}

static void make_attn_inputs(lg_tensor **in, int64_t B, int64_t T, int64_t C, uint64_t seed)
{
    int64_t xs[3] = {B, T, C}, wa[2] = {3 * C, C}, ba[1] = {3 * C}, wp[2] = {C, C}, bp[1] = {C};
    in[0] = tu_rand(3, xs, seed, 0, 0);
    in[1] = tu_rand(2, wa, seed + 1, -0.7, 0.7);
    in[2] = tu_rand(1, ba, seed + 2, -0.3, 0.3);
    in[3] = tu_rand(2, wp, seed + 3, -0.7, 0.7);
    in[4] = tu_rand(1, bp, seed + 4, -0.3, 0.3);
}

/* softmax-attention by hand: qkv = x Waᵀ + ba, per head h and query t, weights over keys
 * s <= t of exp(q·k/√hd), y = (Σ w v) Wpᵀ + bp. */
static void attention_by_hand(lg_tensor *const *in, int64_t B, int64_t T, int64_t C,
                              int64_t nh, double *y)
{
    const double *x = lg_tensor_cdata(in[0]), *wa = lg_tensor_cdata(in[1]);
    const double *ba = lg_tensor_cdata(in[2]), *wp = lg_tensor_cdata(in[3]);
    const double *bp = lg_tensor_cdata(in[4]);
    int64_t hd = C / nh;
    double qkv[2][4][3 * 8], mix[8];
    assert_true(B <= 2 && T <= 4 && C <= 8);
    for (int64_t b = 0; b < B; b++) {
        for (int64_t t = 0; t < T; t++)
            for (int64_t o = 0; o < 3 * C; o++) {
                double s = ba[o];
                for (int64_t i = 0; i < C; i++)
                    s += x[(b * T + t) * C + i] * wa[o * C + i];
                qkv[b][t][o] = s;
            }
        for (int64_t t = 0; t < T; t++) {
            for (int64_t h = 0; h < nh; h++) {
                double w[4], mx = -INFINITY, z = 0;
                for (int64_t s = 0; s <= t; s++) {
                    double d = 0;
                    for (int64_t e = 0; e < hd; e++)
                        d += qkv[b][t][h * hd + e] * qkv[b][s][C + h * hd + e];
                    w[s] = d / sqrt((double)hd);
                    mx = fmax(mx, w[s]);
                }
                for (int64_t s = 0; s <= t; s++)
                    z += (w[s] = exp(w[s] - mx));
                for (int64_t e = 0; e < hd; e++) {
                    double acc = 0;
                    for (int64_t s = 0; s <= t; s++)
                        acc += w[s] / z * qkv[b][s][2 * C + h * hd + e];
                    mix[h * hd + e] = acc;
                }
            }
            for (int64_t o = 0; o < C; o++) {
                double s = bp[o];
                for (int64_t i = 0; i < C; i++)
                    s += mix[i] * wp[o * C + i];
                y[(b * T + t) * C + o] = s;
            }
        }
    }
}

static void test_attention_matches_plain_loops(void **state)
{
    (void)state;
    enum { B = 2, T = 4, C = 6, NH = 3 };
    lg_tensor *in[5];
    make_attn_inputs(in, B, T, C, 11);
    lg_attention a = attn_of(in + 1, C, NH);
    lg_graph *g = lg_graph_new();
    lg_tensor *y = lg_attention_forward(g, &a, in[0]);
    assert_int_equal(lg_graph_status(g), LG_OK);
    double want[B * T * C];
    attention_by_hand(in, B, T, C, NH, want);
    tu_assert_tensor_close(y, want, B * T * C, 1e-13, 0, "attention");
    lg_graph_free(g);
    for (int i = 0; i < 5; i++)
        lg_tensor_free(in[i]);
}

typedef struct { int64_t C, nh; lg_tensor *w; } attn_ctx;

static lg_tensor *attn_loss(lg_graph *g, lg_tensor *const *in, int n, void *vctx)
{
    (void)n;
    attn_ctx *c = vctx;
    lg_attention a = attn_of(in + 1, c->C, c->nh);
    return lg_sum(g, lg_mul(g, lg_attention_forward(g, &a, in[0]), c->w));
}

static void test_attention_gradcheck_second_order(void **state)
{
    (void)state;
    lg_tensor *in[5];
    make_attn_inputs(in, 2, 3, 4, 21);
    int64_t ys[3] = {2, 3, 4};
    attn_ctx c = {4, 2, tu_rand(3, ys, 29, 0, 0)};
    tu_gradcheck(attn_loss, &c, in, 5, true, "attention");
    lg_tensor_free(c.w);
    for (int i = 0; i < 5; i++)
        lg_tensor_free(in[i]);
}

/* A whole pre-LN block with every tensor an input: x, ln_1 (w, b), attention (4), ln_2
 * (w, b), c_fc (w, b), mlp c_proj (w, b). */
static lg_tensor *block_loss(lg_graph *g, lg_tensor *const *in, int n, void *vctx)
{
    (void)n;
    attn_ctx *c = vctx;
    int64_t C = c->C;
    lg_gpt_block b;
    memset(&b, 0, sizeof b);
    b.ln_1 = (lg_layer_norm_layer){in[1], in[2], C, 1e-5};
    b.attn = attn_of(in + 3, C, c->nh);
    b.ln_2 = (lg_layer_norm_layer){in[7], in[8], C, 1e-5};
    b.c_fc = (lg_linear_layer){in[9], in[10], C, 4 * C};
    b.mlp_proj = (lg_linear_layer){in[11], in[12], 4 * C, C};
    lg_tensor *x = lg_gpt_block_forward(g, &b, in[0]);
    return lg_sum(g, lg_mul(g, x, c->w));
}

static void test_block_gradcheck_second_order(void **state)
{
    (void)state;
    enum { C = 4 };
    lg_tensor *in[13];
    int64_t xs[3] = {1, 3, C}, d[1] = {C}, fc[2] = {4 * C, C}, fb[1] = {4 * C}, pj[2] = {C, 4 * C};
    in[0] = tu_rand(3, xs, 41, 0, 0);
    in[1] = tu_rand(1, d, 42, 0.5, 1.5);
    in[2] = tu_rand(1, d, 43, -0.3, 0.3);
    lg_tensor *att[5];
    make_attn_inputs(att, 1, 3, C, 44);
    lg_tensor_free(att[0]);
    for (int i = 0; i < 4; i++)
        in[3 + i] = att[1 + i];
    in[7] = tu_rand(1, d, 50, 0.5, 1.5);
    in[8] = tu_rand(1, d, 51, -0.3, 0.3);
    in[9] = tu_rand(2, fc, 52, -0.6, 0.6);
    in[10] = tu_rand(1, fb, 53, -0.3, 0.3);
    in[11] = tu_rand(2, pj, 54, -0.6, 0.6);
    in[12] = tu_rand(1, d, 55, -0.3, 0.3);
    attn_ctx c = {C, 2, tu_rand(3, xs, 56, 0, 0)};
    tu_gradcheck(block_loss, &c, in, 13, true, "block");
    lg_tensor_free(c.w);
    for (int i = 0; i < 13; i++)
        lg_tensor_free(in[i]);
}

static lg_gpt_config tiny_config(void)
{
    return (lg_gpt_config){.vocab_size = 11, .block_size = 8, .n_layer = 2, .n_head = 2,
                           .n_embd = 8, .dropout = 0};
}

static void test_gpt_later_token_never_changes_earlier_logits(void **state)
{
    (void)state;
    lg_params *p = lg_params_new();
    lg_rng r;
    lg_rng_init(&r, 5);
    lg_gpt m;
    lg_gpt_config c = tiny_config();
    c.n_layer = 3;
    assert_int_equal(lg_gpt_init(&m, p, NULL, &c, LG_F32, &r), LG_OK);
    /* larger weights than the init, so attention is far from uniform */
    for (int i = 0; i < lg_params_count(p); i++)
        lg_init_uniform(lg_params_at(p, i), -1, 1, &r);
    int64_t shape[2] = {2, 8};
    int32_t a[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 1, 2, 3, 4, 5};
    for (int change = 7; change >= 1; change -= 3) {
        int32_t b[16];
        memcpy(b, a, sizeof a);
        b[change] = (b[change] + 5) % 11;
        b[8 + change] = (b[8 + change] + 3) % 11;
        lg_graph *g = lg_graph_new();
        lg_tensor *la = lg_gpt_forward(g, &m, lg_graph_input(g, LG_I32, 2, shape, a));
        lg_tensor *lb = lg_gpt_forward(g, &m, lg_graph_input(g, LG_I32, 2, shape, b));
        assert_int_equal(lg_graph_status(g), LG_OK);
        const float *pa = lg_tensor_cdata(la), *pb = lg_tensor_cdata(lb);
        for (int row = 0; row < 2; row++) {
            size_t before = (size_t)change * 11 * sizeof(float);
            assert_memory_equal(pa + row * 88, pb + row * 88, before); /* bit for bit */
            assert_memory_not_equal(pa + row * 88 + change * 11, pb + row * 88 + change * 11,
                                    11 * sizeof(float));
        }
        lg_graph_free(g);
    }
    lg_params_free(p);
}

static void test_gpt_names_sizes_and_init_follow_nanogpt(void **state)
{
    (void)state;
    lg_params *p = lg_params_new();
    lg_rng r;
    lg_rng_init(&r, 9);
    lg_gpt m;
    /* the charlm model: V 83, T 64, 4 layers, 4 heads, width 128 */
    lg_gpt_config c = {83, 64, 4, 4, 128, 0};
    assert_int_equal(lg_gpt_init(&m, p, "", &c, LG_F32, &r), LG_OK);
    int64_t C = 128, per_block = 4 * C + (3 * C * C + 3 * C) + (C * C + C) + (4 * C * C + 4 * C) +
                                 (4 * C * C + C);
    assert_int_equal(lg_params_numel(p, true), 83 * C + 64 * C + 4 * per_block + 2 * C);
    assert_int_equal(lg_params_count(p), 2 + 4 * 12 + 2);
    static const char *first[] = {
        "transformer.wte.weight", "transformer.wpe.weight", "transformer.h.0.ln_1.weight",
        "transformer.h.0.ln_1.bias", "transformer.h.0.attn.c_attn.weight",
        "transformer.h.0.attn.c_attn.bias", "transformer.h.0.attn.c_proj.weight",
        "transformer.h.0.attn.c_proj.bias", "transformer.h.0.ln_2.weight",
        "transformer.h.0.ln_2.bias", "transformer.h.0.mlp.c_fc.weight",
        "transformer.h.0.mlp.c_fc.bias", "transformer.h.0.mlp.c_proj.weight",
        "transformer.h.0.mlp.c_proj.bias"};
    for (int i = 0; i < 14; i++)
        assert_string_equal(lg_params_name(p, i), first[i]);
    assert_string_equal(lg_params_name(p, 51), "transformer.ln_f.bias");
    assert_ptr_equal(lg_params_get(p, "transformer.wte.weight"), m.wte);
    /* sample standard deviations of N(0, 0.02²) and N(0, (0.02/√8)²), and zero biases */
    struct { const char *name; double std; } w[] = {
        {"transformer.wte.weight", 0.02}, {"transformer.h.2.attn.c_attn.weight", 0.02},
        {"transformer.h.2.attn.c_proj.weight", 0.02 / sqrt(8.0)},
        {"transformer.h.3.mlp.c_proj.weight", 0.02 / sqrt(8.0)}};
    for (int i = 0; i < 4; i++) {
        lg_tensor *t = lg_params_get(p, w[i].name);
        double s2 = 0;
        int64_t n = lg_tensor_numel(t);
        for (int64_t k = 0; k < n; k++)
            s2 += lg_tensor_item(t, k) * lg_tensor_item(t, k);
        tu_assert_near(sqrt(s2 / (double)n), w[i].std, 0.05 * w[i].std);
    }
    lg_tensor *bias = lg_params_get(p, "transformer.h.1.mlp.c_fc.bias");
    for (int64_t k = 0; k < lg_tensor_numel(bias); k++)
        assert_true(lg_tensor_item(bias, k) == 0.0);
    tu_assert_near(lg_tensor_item(lg_params_get(p, "transformer.ln_f.weight"), 5), 1.0, 0);
    lg_params_free(p);
}

/* With weights of scale 0.02 the logits are near 0, so the loss is near ln V. */
static void test_gpt_loss_at_init_is_log_vocab(void **state)
{
    (void)state;
    lg_params *p = lg_params_new();
    lg_rng r;
    lg_rng_init(&r, 2);
    lg_gpt m;
    lg_gpt_config c = tiny_config();
    assert_int_equal(lg_gpt_init(&m, p, "model", &c, LG_F32, &r), LG_OK);
    assert_non_null(lg_params_get(p, "model.transformer.wte.weight"));
    int64_t shape[2] = {2, 5};
    int64_t ids[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, tg[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    lg_graph *g = lg_graph_new();
    lg_tensor *loss = lg_gpt_loss(g, &m, lg_graph_input(g, LG_I64, 2, shape, ids),
                                  lg_graph_input(g, LG_I64, 2, shape, tg));
    assert_int_equal(lg_graph_status(g), LG_OK);
    tu_assert_near(lg_tensor_item(loss, 0), log(11.0), 0.05);
    lg_graph_free(g);
    lg_params_free(p);
}

/* The tied head: wte's gradient sums the embedding's and the head's; compare with central
 * differences on a few entries, in f64. */
static double loss_f64(lg_gpt *m, const int32_t *ids, const int32_t *tg)
{
    int64_t shape[2] = {2, 4};
    lg_graph *g = lg_graph_new();
    lg_tensor *loss = lg_gpt_loss(g, m, lg_graph_input(g, LG_I32, 2, shape, ids),
                                  lg_graph_input(g, LG_I32, 2, shape, tg));
    double v = lg_tensor_item(loss, 0);
    lg_graph_free(g);
    return v;
}

static void test_gpt_tied_embedding_gradient_matches_finite_differences(void **state)
{
    (void)state;
    lg_params *p = lg_params_new();
    lg_rng r;
    lg_rng_init(&r, 4);
    lg_gpt m;
    lg_gpt_config c = tiny_config();
    assert_int_equal(lg_gpt_init(&m, p, NULL, &c, LG_F64, &r), LG_OK);
    for (int i = 0; i < lg_params_count(p); i++)
        lg_init_uniform(lg_params_at(p, i), -0.5, 0.5, &r);
    int32_t ids[8] = {1, 3, 3, 7, 0, 2, 9, 4}, tg[8] = {3, 3, 7, 1, 2, 9, 4, 10};
    int64_t shape[2] = {2, 4};
    lg_graph *g = lg_graph_new();
    lg_params_zero_grad(p);
    assert_int_equal(lg_backward(g, lg_gpt_loss(g, &m, lg_graph_input(g, LG_I32, 2, shape, ids),
                                                lg_graph_input(g, LG_I32, 2, shape, tg))),
                     LG_OK);
    lg_graph_free(g);
    double *w = lg_tensor_data(m.wte);
    const lg_tensor *gw = lg_tensor_grad(m.wte);
    /* rows 3 (input and target), 10 (target only), 5 (neither: head only) */
    const int64_t idx[] = {3 * 8 + 1, 10 * 8 + 4, 5 * 8 + 7, 0};
    for (int i = 0; i < 4; i++) {
        double keep = w[idx[i]], eps = 1e-6;
        w[idx[i]] = keep + eps;
        double up = loss_f64(&m, ids, tg);
        w[idx[i]] = keep - eps;
        double down = loss_f64(&m, ids, tg);
        w[idx[i]] = keep;
        tu_assert_near(lg_tensor_item(gw, idx[i]), (up - down) / (2 * eps), 1e-8);
    }
    lg_params_free(p);
}

/* One training step of a tiny GPT on a text: reset, batch, loss, backward, clip, AdamW. */
static lg_status train_step(lg_graph *g, lg_gpt *m, lg_params *p, lg_optim *o,
                            const lg_text *t, lg_rng *r, lg_tensor *x, lg_tensor *y)
{
    lg_graph_reset(g);
    lg_status s = lg_text_batch(t, LG_TEXT_TRAIN, r, x, y);
    if (s == LG_OK)
        s = lg_backward(g, lg_gpt_loss(g, m, x, y));
    if (s == LG_OK)
        s = lg_params_clip_grad_norm(p, 1.0, NULL);
    return s == LG_OK ? lg_optim_step(o) : s;
}

/* After the first step a training step allocates nothing (the arena is reused), and an
 * allocation failing anywhere in setup or the first step is an error, never a crash, with
 * nothing leaked. */
static void test_gpt_training_step_allocates_nothing_after_the_first(void **state)
{
    (void)state;
    const char *text = "it was the best of times, it was the worst of times, it was the age";
    long setup_and_step = 0;
    for (long fail_at = 0;; fail_at++) {
        counter c = {.fail_at = fail_at};
        lg_allocator al = counter_allocator(&c);
        lg_set_allocator(&al);
        lg_text *t = NULL;
        lg_params *p = NULL;
        lg_optim *o = NULL;
        lg_graph *g = NULL;
        lg_tensor *x = NULL, *y = NULL;
        lg_rng r;
        lg_rng_init(&r, 3);
        lg_gpt m;
        lg_gpt_config cfg = tiny_config();
        lg_optim_config oc = lg_optim_defaults(LG_OPTIM_ADAMW);
        int64_t shape[2] = {3, 6};
        lg_status s = lg_text_from_utf8(text, strlen(text), &t);
        if (s == LG_OK) {
            cfg.vocab_size = t->vocab_size;
            s = (p = lg_params_new()) ? lg_gpt_init(&m, p, NULL, &cfg, LG_F32, &r) : LG_ERR_OOM;
        }
        if (s == LG_OK && (!(o = lg_optim_new(p, &oc)) || !(g = lg_graph_new()) ||
                           !(x = lg_tensor_new(LG_I32, 2, shape)) ||
                           !(y = lg_tensor_new(LG_I32, 2, shape))))
            s = LG_ERR_OOM;
        if (s == LG_OK)
            s = train_step(g, &m, p, o, t, &r, x, y);
        if (fail_at == 0) {
            assert_int_equal(s, LG_OK);
            setup_and_step = c.calls;
            assert_int_equal(train_step(g, &m, p, o, t, &r, x, y), LG_OK);
            long before = c.calls;
            for (int i = 0; i < 3; i++)
                assert_int_equal(train_step(g, &m, p, o, t, &r, x, y), LG_OK);
            assert_int_equal(c.calls - before, 0);
        } else {
            assert_int_not_equal(s, LG_OK);
        }
        lg_graph_free(g);
        lg_tensor_free(x);
        lg_tensor_free(y);
        lg_optim_free(o);
        lg_params_free(p);
        lg_text_free(t);
        assert_int_equal(c.live, 0);
        lg_set_allocator(NULL);
        if (fail_at == setup_and_step)
            break;
    }
}

static void test_gpt_errors(void **state)
{
    (void)state;
    lg_params *p = lg_params_new();
    lg_rng r;
    lg_rng_init(&r, 1);
    lg_gpt m;
    lg_gpt_config c = tiny_config();
    assert_int_equal(lg_gpt_init(NULL, p, NULL, &c, LG_F32, &r), LG_ERR_ARG);
    assert_int_equal(lg_gpt_init(&m, p, NULL, NULL, LG_F32, &r), LG_ERR_ARG);
    assert_int_equal(lg_gpt_init(&m, p, NULL, &c, LG_F32, NULL), LG_ERR_ARG);
    lg_gpt_config bad[5];
    for (int i = 0; i < 5; i++)
        bad[i] = c;
    bad[0].vocab_size = 0;
    bad[1].n_layer = LG_GPT_MAX_LAYERS + 1;
    bad[2].n_head = 3; /* 8 % 3 */
    bad[3].dropout = 1.0;
    bad[4].block_size = 0;
    for (int i = 0; i < 5; i++)
        assert_int_equal(lg_gpt_init(&m, p, NULL, &bad[i], LG_F32, &r), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "lg_gpt_init"));
    assert_int_equal(lg_gpt_init(&m, p, NULL, &c, LG_I64, &r), LG_ERR_DTYPE);
    assert_int_equal(lg_gpt_init(&m, p, NULL, &c, LG_F32, &r), LG_OK);
    lg_gpt m2;
    assert_int_equal(lg_gpt_init(&m2, p, NULL, &c, LG_F32, &r), LG_ERR_ARG); /* names taken */
    assert_null(m2.wte);
    lg_graph *g = lg_graph_new();
    int64_t s9[2] = {1, 9}, s3[2] = {1, 3}, s4[2] = {1, 4}, s1[1] = {3};
    int32_t ids[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8}, oob[3] = {0, 11, 2};
    float fids[3] = {0, 1, 2};
    struct { lg_dtype dt; int nd; const int64_t *sh; const void *d; lg_status s; const char *m; }
    cases[] = {
        {LG_I32, 2, s9, ids, LG_ERR_SHAPE, "block_size"},
        {LG_I32, 1, s1, ids, LG_ERR_SHAPE, "(3)"},
        {LG_F32, 2, s3, fids, LG_ERR_DTYPE, "f32"},
        {LG_I32, 2, s3, oob, LG_ERR_ARG, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lg_graph_reset(g);
        assert_null(lg_gpt_forward(g, &m, lg_graph_input(g, cases[i].dt, cases[i].nd,
                                                         cases[i].sh, cases[i].d)));
        assert_int_equal(lg_graph_status(g), cases[i].s);
        assert_non_null(strstr(lg_graph_errmsg(g), cases[i].m));
    }
    lg_graph_reset(g);
    assert_null(lg_gpt_loss(g, &m, lg_graph_input(g, LG_I32, 2, s3, ids),
                            lg_graph_input(g, LG_I32, 2, s4, ids)));
    assert_int_equal(lg_graph_status(g), LG_ERR_SHAPE);
    assert_null(lg_gpt_forward(NULL, &m, NULL));
    assert_int_equal(lg_last_status(), LG_ERR_ARG);
    lg_graph_reset(g);
    assert_null(lg_gpt_forward(g, NULL, NULL));
    assert_int_equal(lg_graph_status(g), LG_ERR_ARG);
    /* attention */
    lg_attention a;
    assert_int_equal(lg_attention_init(&a, p, "at", 6, 4, 0, LG_F32, &r), LG_ERR_ARG);
    assert_int_equal(lg_attention_init(&a, p, "at", 8, 2, -0.1, LG_F32, &r), LG_ERR_ARG);
    assert_int_equal(lg_attention_init(&a, p, "", 8, 2, 0, LG_F32, &r), LG_ERR_ARG);
    assert_int_equal(lg_attention_init(&a, p, "at", 8, 2, 0.1, LG_F32, &r), LG_OK);
    int64_t xs[3] = {2, 3, 6};
    lg_graph_reset(g);
    assert_null(lg_attention_forward(g, &a, lg_graph_full(g, LG_F32, 3, xs, 0)));
    assert_int_equal(lg_graph_status(g), LG_ERR_SHAPE);
    assert_non_null(strstr(lg_graph_errmsg(g), "(2,3,6)"));
    lg_graph_free(g);
    lg_params_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attention_matches_plain_loops),
        cmocka_unit_test(test_attention_gradcheck_second_order),
        cmocka_unit_test(test_block_gradcheck_second_order),
        cmocka_unit_test(test_gpt_later_token_never_changes_earlier_logits),
        cmocka_unit_test(test_gpt_names_sizes_and_init_follow_nanogpt),
        cmocka_unit_test(test_gpt_loss_at_init_is_log_vocab),
        cmocka_unit_test(test_gpt_tied_embedding_gradient_matches_finite_differences),
        cmocka_unit_test(test_gpt_training_step_allocates_nothing_after_the_first),
        cmocka_unit_test(test_gpt_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
