/* Elementwise ops (add, sub, mul, div, neg, add_scalar, scale, exp, log, sqrt, pow, abs,
 * where): forward values in f32 and f64 against hand computations and plain loops (also
 * on the OpenMP path), f64 gradchecks of first and second order over broadcast shapes,
 * f32 backward against f64, and every error path. Activations are in
 * test_ops_activation.c. */
#include <stdlib.h>
#include "ops_test_util.h"

/* Forward compares use OT_ATOL64/OT_RTOL64 (exact ops exact, libm within a few ulp) and
 * OT_ATOL32/OT_RTOL32 (a few float ulp plus input rounding). */

/* ---- uniform wrappers so that tables can hold every op ---- */
typedef lg_tensor *(*binop)(lg_graph *g, lg_tensor *a, lg_tensor *b);

static lg_tensor *un_neg(lg_graph *g, lg_tensor *x, double p) { (void)p; return lg_neg(g, x); }
static lg_tensor *un_exp(lg_graph *g, lg_tensor *x, double p) { (void)p; return lg_exp(g, x); }
static lg_tensor *un_log(lg_graph *g, lg_tensor *x, double p) { (void)p; return lg_log(g, x); }
static lg_tensor *un_sqrt(lg_graph *g, lg_tensor *x, double p) { (void)p; return lg_sqrt(g, x); }
static lg_tensor *un_abs(lg_graph *g, lg_tensor *x, double p) { (void)p; return lg_abs(g, x); }
static lg_tensor *un_add_scalar(lg_graph *g, lg_tensor *x, double c)
{
    return lg_add_scalar(g, x, c);
}
static lg_tensor *un_scale(lg_graph *g, lg_tensor *x, double c) { return lg_scale(g, x, c); }
static lg_tensor *un_pow(lg_graph *g, lg_tensor *x, double p) { return lg_pow_scalar(g, x, p); }

static const ot_unop_entry UNARY[] = {
    {"lg_neg", un_neg, 0},       {"lg_add_scalar", un_add_scalar, 2.5},
    {"lg_scale", un_scale, -3},  {"lg_exp", un_exp, 0},
    {"lg_log", un_log, 0},       {"lg_sqrt", un_sqrt, 0},
    {"lg_pow_scalar", un_pow, 3}, {"lg_abs", un_abs, 0},
};
#define N_UNARY ((int)(sizeof UNARY / sizeof UNARY[0]))

typedef struct bin_entry {
    const char *name;
    binop f;
} bin_entry;

static const bin_entry BINARY[] = {
    {"lg_add", lg_add}, {"lg_sub", lg_sub}, {"lg_mul", lg_mul}, {"lg_div", lg_div}};
#define N_BINARY ((int)(sizeof BINARY / sizeof BINARY[0]))

/* ---- forward helpers ---- */

/* An operand of a forward test: rank, shape and values. */
typedef struct operand {
    int ndim;
    int64_t shape[3];
    const double *v;
} operand;

static void check_binary(binop f, lg_dtype dt, operand a, operand b, operand want,
                         const char *what)
{
    lg_graph *g = lg_graph_new();
    lg_tensor *ta = ot_input(g, dt, a.ndim, a.shape, a.v);
    lg_tensor *y = f(g, ta, ot_input(g, dt, b.ndim, b.shape, b.v));
    assert_int_equal(lg_graph_status(g), LG_OK);
    ot_assert_shape(y, want.ndim, want.shape);
    assert_int_equal(lg_tensor_dtype(y), dt);
    tu_assert_tensor_close(y, want.v, lg_tensor_numel(y), dt == LG_F32 ? OT_ATOL32 : OT_ATOL64,
                           dt == LG_F32 ? OT_RTOL32 : OT_RTOL64, what);
    lg_graph_free(g);
}

static void check_binary_both(binop f, operand a, operand b, operand want, const char *what)
{
    check_binary(f, LG_F64, a, b, want, what);
    check_binary(f, LG_F32, a, b, want, what);
}

/* Operands shared by the binary forward tests. */
static const double A23[6] = {1, 2, 3, 4, 5, 6};   /* (2,3) [[1,2,3],[4,5,6]] */
static const double B3[3] = {10, 20, 30};          /* (3) */
static const double C21[2] = {-1, 2};              /* (2,1) [[-1],[2]] */
static const double S0[1] = {4};                   /* rank-0 scalar 4 */
#define OP_A23 ((operand){2, {2, 3}, A23})
#define OP_B3 ((operand){1, {3}, B3})
#define OP_C21 ((operand){2, {2, 1}, C21})
#define OP_S0 ((operand){0, {0}, S0})

/* ---- forward tests ---- */

static void test_add_forward_broadcasts_like_numpy(void **state)
{
    (void)state;
    /* [[1,2,3],[4,5,6]] + [10,20,30]: row-wise */
    check_binary_both(lg_add, OP_A23, OP_B3,
                      (operand){2, {2, 3}, (double[]){11, 22, 33, 14, 25, 36}}, "add (2,3)+(3)");
    /* [10,20,30] + [[-1],[2]]: outer sum, (3) with (2,1) -> (2,3) */
    check_binary_both(lg_add, OP_B3, OP_C21,
                      (operand){2, {2, 3}, (double[]){9, 19, 29, 12, 22, 32}}, "add (3)+(2,1)");
    /* rank-0 4 + matrix */
    check_binary_both(lg_add, OP_S0, OP_A23,
                      (operand){2, {2, 3}, (double[]){5, 6, 7, 8, 9, 10}}, "add ()+(2,3)");
    /* two scalars stay rank 0 */
    check_binary_both(lg_add, OP_S0, OP_S0, (operand){0, {0}, (double[]){8}}, "add ()+()");
}

static void test_sub_forward_broadcasts_like_numpy(void **state)
{
    (void)state;
    check_binary_both(lg_sub, OP_A23, OP_B3,
                      (operand){2, {2, 3}, (double[]){-9, -18, -27, -6, -15, -24}},
                      "sub (2,3)-(3)");
    /* [10,20,30] - [[-1],[2]] */
    check_binary_both(lg_sub, OP_B3, OP_C21,
                      (operand){2, {2, 3}, (double[]){11, 21, 31, 8, 18, 28}}, "sub (3)-(2,1)");
    check_binary_both(lg_sub, OP_A23, OP_S0,
                      (operand){2, {2, 3}, (double[]){-3, -2, -1, 0, 1, 2}}, "sub (2,3)-()");
}

static void test_mul_forward_broadcasts_like_numpy(void **state)
{
    (void)state;
    check_binary_both(lg_mul, OP_A23, OP_B3,
                      (operand){2, {2, 3}, (double[]){10, 40, 90, 40, 100, 180}},
                      "mul (2,3)*(3)");
    check_binary_both(lg_mul, OP_C21, OP_B3,
                      (operand){2, {2, 3}, (double[]){-10, -20, -30, 20, 40, 60}},
                      "mul (2,1)*(3)");
    check_binary_both(lg_mul, OP_S0, OP_A23,
                      (operand){2, {2, 3}, (double[]){4, 8, 12, 16, 20, 24}}, "mul ()*(2,3)");
}

static void test_div_forward_broadcasts_like_numpy(void **state)
{
    (void)state;
    /* [[1,2,3],[4,5,6]] / [10,20,30] = [[.1,.1,.1],[.4,.25,.2]] */
    check_binary_both(lg_div, OP_A23, OP_B3,
                      (operand){2, {2, 3}, (double[]){0.1, 0.1, 0.1, 0.4, 0.25, 0.2}},
                      "div (2,3)/(3)");
    /* [10,20,30] / [[-1],[2]] */
    check_binary_both(lg_div, OP_B3, OP_C21,
                      (operand){2, {2, 3}, (double[]){-10, -20, -30, 5, 10, 15}},
                      "div (3)/(2,1)");
    /* 4 / [[1,2,3],[4,5,6]] */
    check_binary_both(lg_div, OP_S0, OP_A23,
                      (operand){2, {2, 3}, (double[]){4, 2, 4.0 / 3, 1, 0.8, 4.0 / 6}},
                      "div ()/(2,3)");
}

static void test_div_by_zero_gives_ieee_inf_and_nan(void **state)
{
    (void)state;
    /* IEEE: 1/0 = inf, -1/0 = -inf, 0/0 = NaN; no trap, no error status. */
    const double a[3] = {1, -1, 0}, b[3] = {0, 0, 0};
    for (int k = 0; k < 2; k++) {
        lg_dtype dt = k ? LG_F32 : LG_F64;
        lg_graph *g = lg_graph_new();
        int64_t n = 3;
        lg_tensor *y = lg_div(g, ot_input(g, dt, 1, &n, a), ot_input(g, dt, 1, &n, b));
        assert_int_equal(lg_graph_status(g), LG_OK);
        assert_true(isinf(lg_tensor_item(y, 0)) && lg_tensor_item(y, 0) > 0);
        assert_true(isinf(lg_tensor_item(y, 1)) && lg_tensor_item(y, 1) < 0);
        assert_true(isnan(lg_tensor_item(y, 2)));
        lg_graph_free(g);
    }
}

static void test_neg_forward_flips_sign(void **state)
{
    (void)state;
    const double x[4] = {-2, 0, 0.5, 3};
    ot_check_unary_fwd(un_neg, 0, 4, x, (double[]){2, 0, -0.5, -3}, "neg");
}

static void test_add_scalar_forward_adds_constant(void **state)
{
    (void)state;
    const double x[4] = {-2, 0, 0.5, 3};
    ot_check_unary_fwd(un_add_scalar, 2.5, 4, x, (double[]){0.5, 2.5, 3, 5.5}, "x + 2.5");
    ot_check_unary_fwd(un_add_scalar, -1, 4, x, (double[]){-3, -1, -0.5, 2}, "x - 1");
}

static void test_scale_forward_multiplies_by_constant(void **state)
{
    (void)state;
    const double x[4] = {-2, 0, 0.5, 3};
    ot_check_unary_fwd(un_scale, -3, 4, x, (double[]){6, 0, -1.5, -9}, "-3 x");
    ot_check_unary_fwd(un_scale, 0.25, 4, x, (double[]){-0.5, 0, 0.125, 0.75}, "x / 4");
}

static void test_exp_forward_matches_reference(void **state)
{
    (void)state;
    /* Python math.exp: exp(-2), exp(-0.5), exp(0), exp(1), exp(3) */
    const double x[5] = {-2, -0.5, 0, 1, 3};
    const double want[5] = {0.1353352832366127, 0.6065306597126334, 1, 2.718281828459045,
                            20.085536923187668};
    ot_check_unary_fwd(un_exp, 0, 5, x, want, "exp");
}

static void test_log_forward_matches_reference(void **state)
{
    (void)state;
    /* Python math.log: log(0.01), log(0.5), log(1), log(e), log(10) */
    const double x[5] = {0.01, 0.5, 1, 2.718281828459045, 10};
    const double want[5] = {-4.605170185988091, -0.6931471805599453, 0, 1, 2.302585092994046};
    ot_check_unary_fwd(un_log, 0, 5, x, want, "log");
}

static void test_log_of_zero_and_negative_is_ieee(void **state)
{
    (void)state;
    /* As documented: log(0) = -inf, log(-1) = NaN, without an error status. */
    const double x[2] = {0, -1};
    for (int k = 0; k < 2; k++) {
        lg_graph *g = lg_graph_new();
        int64_t n = 2;
        lg_tensor *y = lg_log(g, ot_input(g, k ? LG_F32 : LG_F64, 1, &n, x));
        assert_int_equal(lg_graph_status(g), LG_OK);
        assert_true(isinf(lg_tensor_item(y, 0)) && lg_tensor_item(y, 0) < 0);
        assert_true(isnan(lg_tensor_item(y, 1)));
        lg_graph_free(g);
    }
}

static void test_sqrt_forward_matches_reference(void **state)
{
    (void)state;
    /* sqrt(2) = 1.4142135623730951 (Python math.sqrt); the rest are exact squares. */
    const double x[5] = {0, 0.01, 2, 4, 1e4};
    ot_check_unary_fwd(un_sqrt, 0, 5, x, (double[]){0, 0.1, 1.4142135623730951, 2, 100}, "sqrt");
}

static void test_pow_scalar_forward_matches_reference(void **state)
{
    (void)state;
    const double x[4] = {-3, -0.5, 2, 4};
    ot_check_unary_fwd(un_pow, 2, 4, x, (double[]){9, 0.25, 4, 16}, "x^2");
    ot_check_unary_fwd(un_pow, 3, 4, x, (double[]){-27, -0.125, 8, 64}, "x^3");
    ot_check_unary_fwd(un_pow, 1, 4, x, x, "x^1");
    ot_check_unary_fwd(un_pow, 0, 4, x, (double[]){1, 1, 1, 1}, "x^0");
    const double xp[4] = {0.01, 0.25, 2, 4};
    ot_check_unary_fwd(un_pow, 0.5, 4, xp, (double[]){0.1, 0.5, 1.4142135623730951, 2}, "x^0.5");
    ot_check_unary_fwd(un_pow, -1, 4, xp, (double[]){100, 4, 0.5, 0.25}, "x^-1");
}

static void test_abs_forward_drops_sign(void **state)
{
    (void)state;
    const double x[5] = {-3.5, -0.0, 0, 1e-3, 2};
    ot_check_unary_fwd(un_abs, 0, 5, x, (double[]){3.5, 0, 0, 1e-3, 2}, "abs");
}

static void test_where_forward_selects_by_nonzero_mask(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        lg_dtype dt = k ? LG_F32 : LG_F64;
        lg_graph *g = lg_graph_new();
        /* mask (3) = [1, 0, -2] (nonzero, even negative, selects a), a (2,3), b rank-0 -7:
         * [[1,-7,3],[4,-7,6]] */
        lg_tensor *m = ot_input(g, dt, 1, (int64_t[]){3}, (double[]){1, 0, -2});
        lg_tensor *a = ot_input(g, dt, 2, (int64_t[]){2, 3}, A23);
        lg_tensor *b = ot_input(g, dt, 0, NULL, (double[]){-7});
        lg_tensor *y = lg_where(g, m, a, b);
        ot_assert_shape(y, 2, (int64_t[]){2, 3});
        tu_assert_tensor_close(y, (double[]){1, -7, 3, 4, -7, 6}, 6, 0, 0, "where (3),(2,3),()");
        /* mask (2,1) = [[0],[0.5]], a (3) = [10,20,30], b (2,3): row 0 from b, row 1 from a */
        lg_tensor *m2 = ot_input(g, dt, 2, (int64_t[]){2, 1}, (double[]){0, 0.5});
        lg_tensor *a2 = ot_input(g, dt, 1, (int64_t[]){3}, B3);
        y = lg_where(g, m2, a2, a);
        ot_assert_shape(y, 2, (int64_t[]){2, 3});
        tu_assert_tensor_close(y, (double[]){1, 2, 3, 10, 20, 30}, 6, 0, 0,
                               "where (2,1),(3),(2,3)");
        /* a rank-0 mask picks whole tensors */
        lg_tensor *zero = ot_input(g, dt, 0, NULL, (double[]){0});
        y = lg_where(g, zero, a, lg_neg(g, a));
        tu_assert_tensor_close(y, (double[]){-1, -2, -3, -4, -5, -6}, 6, 0, 0, "where (),(2,3)");
        assert_int_equal(lg_graph_status(g), LG_OK);
        lg_graph_free(g);
    }
}

/* Above LG_OMP_MIN (32768) elements the kernels run on OpenMP threads; each element must
 * still match a plain loop. a (2,200,100) ⊙ b (200,1) -> (2,200,100), 40000 elements. */
static void test_binary_ops_and_where_match_plain_loops_on_threaded_path(void **state)
{
    (void)state;
    int64_t sa[3] = {2, 200, 100}, sb[2] = {200, 1};
    enum { N = 2 * 200 * 100 };
    double *want = malloc(N * sizeof *want), *got = malloc(N * sizeof *got);
    assert_non_null(want);
    assert_non_null(got);
    for (int k = 0; k < 2; k++) {
        lg_dtype dt = k ? LG_F32 : LG_F64;
        lg_rng r;
        lg_rng_init(&r, 77);
        lg_tensor *a = lg_tensor_uniform(dt, 3, sa, -2, 2, &r);
        lg_tensor *b = lg_tensor_uniform(dt, 2, sb, 0.5, 2, &r);
        /* mask (200,1) of zeros and ones, about half each */
        double md[200];
        lg_tensor *mask = lg_tensor_zeros(dt, 2, sb);
        for (int i = 0; i < 200; i++) {
            md[i] = lg_rng_uniform(&r) > 0.5;
            lg_tensor_set(mask, (int64_t[]){i, 0}, md[i]);
        }
        lg_graph *g = lg_graph_new();
        for (int op = 0; op < 5; op++) {
            lg_tensor *y = op < N_BINARY ? BINARY[op].f(g, a, b) : lg_where(g, mask, a, b);
            assert_int_equal(lg_graph_status(g), LG_OK);
            ot_assert_shape(y, 3, sa);
            for (int64_t i = 0; i < N; i++) {
                double u = lg_tensor_item(a, i), v = lg_tensor_item(b, (i / 100) % 200);
                double mk = md[(i / 100) % 200];
                want[i] = op == 0 ? u + v : op == 1 ? u - v : op == 2 ? u * v : op == 3 ? u / v
                        : mk != 0 ? u : v;
                got[i] = lg_tensor_item(y, i);
            }
            tu_assert_close_arr(got, want, N, 0, k ? 1.2e-7 : 0,
                                op < N_BINARY ? BINARY[op].name : "lg_where");
        }
        /* and a unary map */
        lg_tensor *y = lg_exp(g, a);
        for (int64_t i = 0; i < N; i++) {
            want[i] = exp(lg_tensor_item(a, i));
            got[i] = lg_tensor_item(y, i);
        }
        tu_assert_close_arr(got, want, N, 0, k ? 3e-7 : 1e-15, "lg_exp");
        lg_graph_free(g);
        lg_tensor *ts[] = {a, b, mask};
        ot_free_all(ts, 3);
    }
    free(want);
    free(got);
}

/* Zero-size dimensions broadcast like any other: (0,3) + (3) -> (0,3), (2,0) * (1) ->
 * (2,0), and the result is empty. */
static void test_binary_ops_broadcast_empty_tensors(void **state)
{
    (void)state;
    int64_t s03[2] = {0, 3}, s3[1] = {3}, s20[2] = {2, 0}, s1[1] = {1};
    lg_tensor *a = lg_tensor_zeros(LG_F64, 2, s03), *b = lg_tensor_ones(LG_F64, 1, s3);
    lg_tensor *c = lg_tensor_zeros(LG_F64, 2, s20), *d = lg_tensor_ones(LG_F64, 1, s1);
    lg_graph *g = lg_graph_new();
    for (int i = 0; i < N_BINARY; i++) {
        lg_tensor *y = BINARY[i].f(g, a, b);
        ot_assert_shape(y, 2, s03);
        assert_int_equal(lg_tensor_numel(y), 0);
        y = BINARY[i].f(g, c, d);
        ot_assert_shape(y, 2, s20);
        assert_int_equal(lg_tensor_numel(y), 0);
    }
    ot_assert_shape(lg_where(g, c, d, c), 2, s20);
    ot_assert_shape(lg_exp(g, a), 2, s03);
    assert_int_equal(lg_graph_status(g), LG_OK);
    lg_graph_free(g);
    lg_tensor *ts[] = {a, b, c, d};
    ot_free_all(ts, 4);
}

/* ---- gradchecks ----
 * Each loss is sum(w ⊙ y) (or sum(w ⊙ y ⊙ y) with `square`), with w a fixed random
 * caller-owned weight of y's shape so the check is not symmetric in the elements. The
 * square variant gives ops whose own second derivative is zero (add, sub, neg, scale,
 * add_scalar, abs, where) a nonzero Hessian, which checks the VJP of their VJP. */

typedef struct fn_ctx {
    ot_unop un;
    binop bin;
    double p;
    lg_tensor *mask; /* where's constant mask */
    lg_tensor *w;
    bool square;
} fn_ctx;

static lg_tensor *weighted(lg_graph *g, lg_tensor *y, const fn_ctx *c)
{
    if (c->square)
        y = lg_mul(g, y, y);
    return lg_sum(g, lg_mul(g, y, c->w));
}

static lg_tensor *un_loss(lg_graph *g, lg_tensor *const *in, int n, void *ctx)
{
    (void)n;
    fn_ctx *c = ctx;
    return weighted(g, c->un(g, in[0], c->p), c);
}

static lg_tensor *bin_loss(lg_graph *g, lg_tensor *const *in, int n, void *ctx)
{
    (void)n;
    fn_ctx *c = ctx;
    return weighted(g, c->bin(g, in[0], in[1]), c);
}

static lg_tensor *where_loss(lg_graph *g, lg_tensor *const *in, int n, void *ctx)
{
    (void)n;
    fn_ctx *c = ctx;
    return weighted(g, lg_where(g, c->mask, in[0], in[1]), c);
}

/* How gradcheck inputs are drawn (ot_draw). */
static const ot_dist NORMAL = {0, 0, false, false};
static const ot_dist POSITIVE = {1e-2, 2, false, true};   /* log, sqrt, div, x^0.5, x^-1 */
static const ot_dist AWAY_FROM_0 = {0.1, 2, true, false}; /* |x| > 0.1: abs */

static int64_t numel_of(ot_shape s)
{
    int64_t n = 1;
    for (int d = 0; d < s.ndim; d++)
        n *= s.s[d];
    return n;
}

static const ot_shape UNARY_SHAPES[] = {{0, {0}}, {1, {5}}, {2, {3, 4}}, {3, {2, 3, 2}}};

/* First- and second-order gradcheck of x -> f(x, p) over UNARY_SHAPES, plain and squared. */
static void grad_unary(ot_unop f, double p, ot_dist d, const char *what)
{
    for (size_t k = 0; k < sizeof UNARY_SHAPES / sizeof UNARY_SHAPES[0]; k++) {
        ot_shape s = UNARY_SHAPES[k];
        lg_tensor *x = ot_draw(s.ndim, s.s, 100 + k, d);
        lg_tensor *w = tu_rand(s.ndim, s.s, 200 + k, 0, 0);
        for (int sq = 0; sq < 2; sq++) {
            fn_ctx c = {.un = f, .p = p, .w = w, .square = sq};
            char msg[96];
            snprintf(msg, sizeof msg, "%s, rank %d%s", what, s.ndim, sq ? ", squared" : "");
            tu_gradcheck(un_loss, &c, &x, 1, true, msg);
        }
        lg_tensor_free(x);
        lg_tensor_free(w);
    }
}

/* a, b and their broadcast result y. */
typedef struct bcase {
    ot_shape a, b, y;
} bcase;

static const bcase BCASES[] = {
    {{2, {2, 3}}, {2, {2, 3}}, {2, {2, 3}}},          /* same shape */
    {{2, {3, 4}}, {1, {4}}, {2, {3, 4}}},             /* row vector */
    {{1, {4}}, {2, {3, 4}}, {2, {3, 4}}},             /* ... on the left */
    {{3, {2, 1, 3}}, {2, {4, 1}}, {3, {2, 4, 3}}},    /* both sides expand */
    {{2, {4, 1}}, {3, {2, 1, 3}}, {3, {2, 4, 3}}},
    {{0, {0}}, {2, {3, 4}}, {2, {3, 4}}},             /* rank-0 scalar */
    {{2, {3, 4}}, {0, {0}}, {2, {3, 4}}},
};

/* First- and second-order gradcheck of (a, b) -> f(a, b) over BCASES, plain and squared. */
static void grad_binary(binop f, ot_dist da, ot_dist db, const char *what)
{
    for (size_t k = 0; k < sizeof BCASES / sizeof BCASES[0]; k++) {
        bcase bc = BCASES[k];
        lg_tensor *in[2] = {ot_draw(bc.a.ndim, bc.a.s, 300 + k, da),
                            ot_draw(bc.b.ndim, bc.b.s, 400 + k, db)};
        lg_tensor *w = tu_rand(bc.y.ndim, bc.y.s, 500 + k, 0, 0);
        for (int sq = 0; sq < 2; sq++) {
            fn_ctx c = {.bin = f, .w = w, .square = sq};
            char msg[96];
            snprintf(msg, sizeof msg, "%s, case %zu%s", what, k, sq ? ", squared" : "");
            tu_gradcheck(bin_loss, &c, in, 2, true, msg);
        }
        lg_tensor_free(in[0]);
        lg_tensor_free(in[1]);
        lg_tensor_free(w);
    }
}

/* add, sub: linear, so the plain second-order check must agree with a zero Hessian. */
static void test_add_vjp_and_hvp_match_finite_diff_with_broadcasting(void **state)
{
    (void)state;
    grad_binary(lg_add, NORMAL, NORMAL, "add");
}

static void test_sub_vjp_and_hvp_match_finite_diff_with_broadcasting(void **state)
{
    (void)state;
    grad_binary(lg_sub, NORMAL, NORMAL, "sub");
}

static void test_mul_vjp_and_hvp_match_finite_diff_with_broadcasting(void **state)
{
    (void)state;
    grad_binary(lg_mul, NORMAL, NORMAL, "mul");
}

/* Denominators in [1e-2, 2) with one exactly 1e-2, where 1/b² is 1e4. */
static void test_div_vjp_and_hvp_match_finite_diff_with_broadcasting(void **state)
{
    (void)state;
    grad_binary(lg_div, NORMAL, POSITIVE, "div");
}

/* neg, add_scalar, scale: linear, so the plain second-order check must see zero. */
static void test_neg_vjp_and_hvp_match_finite_diff(void **state)
{
    (void)state;
    grad_unary(un_neg, 0, NORMAL, "neg");
}

static void test_add_scalar_vjp_and_hvp_match_finite_diff(void **state)
{
    (void)state;
    grad_unary(un_add_scalar, 2.5, NORMAL, "add_scalar");
}

static void test_scale_vjp_and_hvp_match_finite_diff(void **state)
{
    (void)state;
    grad_unary(un_scale, -3, NORMAL, "scale -3");
    grad_unary(un_scale, 0.5, NORMAL, "scale 0.5");
}

static void test_exp_vjp_and_hvp_match_finite_diff(void **state)
{
    (void)state;
    grad_unary(un_exp, 0, NORMAL, "exp");
}

static void test_log_vjp_and_hvp_match_finite_diff(void **state)
{
    (void)state;
    grad_unary(un_log, 0, POSITIVE, "log");
}

static void test_sqrt_vjp_and_hvp_match_finite_diff(void **state)
{
    (void)state;
    grad_unary(un_sqrt, 0, POSITIVE, "sqrt");
}

/* p = 2, 3 and 1 on all reals; 0.5 and -1 on positives; p = 0 has zero derivatives, which
 * both orders must agree with. */
static void test_pow_scalar_vjp_and_hvp_match_finite_diff(void **state)
{
    (void)state;
    grad_unary(un_pow, 2, NORMAL, "pow 2");
    grad_unary(un_pow, 3, NORMAL, "pow 3");
    grad_unary(un_pow, 1, NORMAL, "pow 1");
    grad_unary(un_pow, 0, NORMAL, "pow 0");
    grad_unary(un_pow, 0.5, POSITIVE, "pow 0.5");
    grad_unary(un_pow, -1, POSITIVE, "pow -1");
}

/* Away from the kink |x| is linear: the plain second-order check must see zero. */
static void test_abs_vjp_and_hvp_match_finite_diff_away_from_zero(void **state)
{
    (void)state;
    grad_unary(un_abs, 0, AWAY_FROM_0, "abs");
}

static void test_abs_grad_is_zero_at_zero(void **state)
{
    (void)state;
    /* d|x|/dx = sign(x): [-1, 0, 1] at [-2, 0, 3] (0 at the kink, as in PyTorch) */
    int64_t n = 3;
    lg_tensor *x = lg_tensor_from_data(LG_F64, 1, &n, (double[]){-2, 0, 3});
    lg_tensor_set_requires_grad(x, true);
    lg_graph *g = lg_graph_new();
    assert_int_equal(lg_backward(g, lg_sum(g, lg_abs(g, x))), LG_OK);
    tu_assert_tensor_close(lg_tensor_grad(x), (double[]){-1, 0, 1}, 3, 0, 0, "abs grad");
    lg_graph_free(g);
    lg_tensor_free(x);
}

/* d/dx of sum(f(x)) at the 3 given points, in f64, to 1e-15. */
static void check_grad(ot_unop f, double p, const double *x, const double *want,
                       const char *what)
{
    ot_check_grad_1d(f, p, 3, x, want, 1e-15, what);
}

/* Gradcheck's rtol is 1e-3; these closed forms pin the derivatives to rounding. */
static void test_unary_grads_match_closed_forms(void **state)
{
    (void)state;
    const double x[3] = {0.25, 1, 4};
    check_grad(un_neg, 0, x, (double[]){-1, -1, -1}, "neg' = -1");
    check_grad(un_add_scalar, 2.5, x, (double[]){1, 1, 1}, "(x + c)' = 1");
    check_grad(un_scale, -3, x, (double[]){-3, -3, -3}, "(c x)' = c");
    /* exp' = exp: exp(0.25) = 1.2840254166877414, e, exp(4) = 54.598150033144236 */
    check_grad(un_exp, 0, x, (double[]){1.2840254166877414, 2.718281828459045,
               54.598150033144236}, "exp'");
    check_grad(un_log, 0, x, (double[]){4, 1, 0.25}, "log' = 1/x");
    check_grad(un_sqrt, 0, x, (double[]){1, 0.5, 0.25}, "sqrt' = 1/(2 sqrt x)");
    check_grad(un_pow, 3, x, (double[]){0.1875, 3, 48}, "(x^3)' = 3x^2");
    check_grad(un_pow, 0.5, x, (double[]){1, 0.5, 0.25}, "(x^0.5)' = 0.5 x^-0.5");
    check_grad(un_pow, -1, x, (double[]){-16, -1, -0.0625}, "(x^-1)' = -x^-2");
    /* (x^0)' = 0: the VJP contributes nothing, and backward then leaves the grad
     * unmade (NULL) rather than zero; either way no nonzero value may appear. */
    int64_t n = 3;
    lg_tensor *xt = lg_tensor_from_data(LG_F64, 1, &n, x);
    lg_tensor_set_requires_grad(xt, true);
    lg_graph *g = lg_graph_new();
    assert_int_equal(lg_backward(g, lg_sum(g, lg_pow_scalar(g, xt, 0))), LG_OK);
    if (lg_tensor_grad(xt))
        tu_assert_tensor_close(lg_tensor_grad(xt), (double[]){0, 0, 0}, 3, 0, 0, "(x^0)'");
    lg_graph_free(g);
    lg_tensor_free(xt);
}

static void test_binary_grads_match_closed_forms(void **state)
{
    (void)state;
    /* loss = sum(f(a, b)), a = [1, 2, 3], b = [4, -2, 0.5]:
     * add: 1, 1; sub: 1, -1; mul: b, a; div: 1/b, -a/b² */
    int64_t n = 3;
    const double av[3] = {1, 2, 3}, bv[3] = {4, -2, 0.5};
    const double want[4][2][3] = {
        {{1, 1, 1}, {1, 1, 1}},
        {{1, 1, 1}, {-1, -1, -1}},
        {{4, -2, 0.5}, {1, 2, 3}},
        {{0.25, -0.5, 2}, {-0.0625, -0.5, -12}},
    };
    for (int i = 0; i < N_BINARY; i++) {
        lg_tensor *a = lg_tensor_from_data(LG_F64, 1, &n, av);
        lg_tensor *b = lg_tensor_from_data(LG_F64, 1, &n, bv);
        lg_tensor_set_requires_grad(a, true);
        lg_tensor_set_requires_grad(b, true);
        lg_graph *g = lg_graph_new();
        assert_int_equal(lg_backward(g, lg_sum(g, BINARY[i].f(g, a, b))), LG_OK);
        tu_assert_tensor_close(lg_tensor_grad(a), want[i][0], 3, 0, 1e-15, BINARY[i].name);
        tu_assert_tensor_close(lg_tensor_grad(b), want[i][1], 3, 0, 1e-15, BINARY[i].name);
        lg_graph_free(g);
        lg_tensor_free(a);
        lg_tensor_free(b);
    }
}

/* mask, a, b and their broadcast result y. */
typedef struct wcase {
    ot_shape m, a, b, y;
} wcase;

static void test_where_vjp_and_hvp_match_finite_diff_with_broadcasting(void **state)
{
    (void)state;
    static const wcase cases[] = {
        {{2, {3, 4}}, {2, {3, 4}}, {2, {3, 4}}, {2, {3, 4}}},
        {{2, {3, 4}}, {1, {4}}, {0, {0}}, {2, {3, 4}}},
        {{2, {4, 1}}, {3, {2, 1, 3}}, {1, {3}}, {3, {2, 4, 3}}},
        {{3, {2, 1, 3}}, {2, {4, 1}}, {0, {0}}, {3, {2, 4, 3}}},
        {{0, {0}}, {2, {3, 4}}, {2, {3, 4}}, {2, {3, 4}}},
        {{0, {0}}, {0, {0}}, {2, {3, 4}}, {2, {3, 4}}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        wcase wc = cases[k];
        /* mask of zeros and ones; rank-0 masks alternate between 1 and 0 */
        lg_tensor *m = tu_rand(wc.m.ndim, wc.m.s, 600 + k, 0, 1);
        double *md = lg_tensor_data(m);
        for (int64_t i = 0; i < numel_of(wc.m); i++)
            md[i] = wc.m.ndim == 0 ? (double)(k % 2) : md[i] > 0.5;
        lg_tensor *in[2] = {tu_rand(wc.a.ndim, wc.a.s, 700 + k, 0, 0),
                            tu_rand(wc.b.ndim, wc.b.s, 800 + k, 0, 0)};
        lg_tensor *w = tu_rand(wc.y.ndim, wc.y.s, 900 + k, 0, 0);
        /* plain: where is linear in (a, b), its Hessian is zero; squared: nonzero */
        for (int sq = 0; sq < 2; sq++) {
            fn_ctx c = {.mask = m, .w = w, .square = sq};
            char msg[64];
            snprintf(msg, sizeof msg, "where, case %zu%s", k, sq ? ", squared" : "");
            tu_gradcheck(where_loss, &c, in, 2, true, msg);
        }
        lg_tensor_free(m);
        lg_tensor_free(in[0]);
        lg_tensor_free(in[1]);
        lg_tensor_free(w);
    }
}

static void test_where_grad_routes_by_mask_and_skips_mask(void **state)
{
    (void)state;
    /* loss = sum(where(m, a, b) ⊙ w), m (2,2) = [[1,0],[0,1]], a (2) broadcast over rows,
     * b rank-0: da_j = Σ_i m_ij w_ij, db = Σ (1 - m) ⊙ w, and nothing for m. */
    int64_t s22[2] = {2, 2}, s2[1] = {2};
    lg_tensor *m = lg_tensor_from_data(LG_F64, 2, s22, (double[]){1, 0, 0, 1});
    lg_tensor *a = lg_tensor_from_data(LG_F64, 1, s2, (double[]){5, 6});
    lg_tensor *b = lg_tensor_from_data(LG_F64, 0, NULL, (double[]){7});
    lg_tensor *w = lg_tensor_from_data(LG_F64, 2, s22, (double[]){1, 2, 3, 4});
    lg_tensor_set_requires_grad(m, true);
    lg_tensor_set_requires_grad(a, true);
    lg_tensor_set_requires_grad(b, true);
    lg_graph *g = lg_graph_new();
    lg_tensor *y = lg_where(g, m, a, b);
    tu_assert_tensor_close(y, (double[]){5, 7, 7, 6}, 4, 0, 0, "where forward");
    assert_int_equal(lg_backward(g, lg_sum(g, lg_mul(g, y, w))), LG_OK);
    tu_assert_tensor_close(lg_tensor_grad(a), (double[]){1, 4}, 2, 0, 0, "grad a");
    tu_assert_tensor_close(lg_tensor_grad(b), (double[]){5}, 1, 0, 0, "grad b = 2 + 3");
    const lg_tensor *gm = lg_tensor_grad(m);
    if (gm)
        tu_assert_tensor_close(gm, (double[]){0, 0, 0, 0}, 4, 0, 0, "mask gets no gradient");
    lg_graph_free(g);
    lg_tensor *ts[] = {m, a, b, w};
    ot_free_all(ts, 4);
}

/* ---- f32 backward ----
 * The VJPs build constants and call ops in the gradient's dtype. Running the same
 * losses in f32 and f64, the gradient and one Hessian-vector product (double backward
 * through lg_grad with create_graph) must agree to f32 precision. */

/* grad (n tensors) then H u of loss f at x, in dtype dt (c's w and mask converted
 * too), flattened into out (room for cap values). Returns the number written. */
static int64_t grad_and_hvp(lg_dtype dt, lg_fn f, fn_ctx c, lg_tensor *const *x,
                            lg_tensor *const *u, int n, double *out, int64_t cap)
{
    fn_ctx cd = c;
    cd.w = ot_as_dtype(c.w, dt);
    cd.mask = c.mask ? ot_as_dtype(c.mask, dt) : NULL;
    int64_t k = ot_grad_and_hvp(dt, f, &cd, x, u, n, out, cap);
    lg_tensor_free(cd.w);
    lg_tensor_free(cd.mask);
    return k;
}

static void check_f32_matches_f64(lg_fn f, fn_ctx c, lg_tensor *const *x, int n,
                                  const char *what)
{
    lg_tensor *u[2];
    for (int i = 0; i < n; i++)
        u[i] = tu_rand(lg_tensor_ndim(x[i]), lg_tensor_shape(x[i]), 1000 + i, 0, 0);
    double r64[64], r32[64];
    int64_t k = grad_and_hvp(LG_F64, f, c, x, u, n, r64, 64);
    assert_int_equal(grad_and_hvp(LG_F32, f, c, x, u, n, r32, 64), k);
    tu_assert_close_arr(r32, r64, k, 1e-4, 1e-4, what);
    for (int i = 0; i < n; i++)
        lg_tensor_free(u[i]);
}

static void test_f32_grads_and_hvps_match_f64(void **state)
{
    (void)state;
    int64_t s34[2] = {3, 4}, s4[1] = {4};
    lg_tensor *w = tu_rand(2, s34, 31, 0, 0);
    lg_tensor *mask = tu_rand(1, s4, 32, 0, 1);
    for (int i = 0; i < 4; i++)
        lg_tensor_set(mask, (int64_t[]){i}, i % 2);
    for (int i = 0; i < N_UNARY; i++) {
        bool pos = UNARY[i].f == un_log || UNARY[i].f == un_sqrt;
        lg_tensor *x = ot_draw(2, s34, 33, pos ? POSITIVE : AWAY_FROM_0);
        fn_ctx c = {.un = UNARY[i].f, .p = UNARY[i].p, .w = w, .square = true};
        check_f32_matches_f64(un_loss, c, &x, 1, UNARY[i].name);
        lg_tensor_free(x);
    }
    for (int i = 0; i < N_BINARY; i++) {
        lg_tensor *x[2] = {ot_draw(2, s34, 34, NORMAL), ot_draw(1, s4, 35, POSITIVE)};
        fn_ctx c = {.bin = BINARY[i].f, .w = w, .square = true};
        check_f32_matches_f64(bin_loss, c, x, 2, BINARY[i].name);
        lg_tensor_free(x[0]);
        lg_tensor_free(x[1]);
    }
    lg_tensor *x[2] = {ot_draw(2, s34, 36, NORMAL), ot_draw(0, NULL, 37, NORMAL)};
    fn_ctx c = {.mask = mask, .w = w, .square = true};
    check_f32_matches_f64(where_loss, c, x, 2, "lg_where");
    lg_tensor_free(x[0]);
    lg_tensor_free(x[1]);
    lg_tensor_free(mask);
    lg_tensor_free(w);
}

/* ---- error paths ---- */

/* Asserts that op `name` returned NULL with status s and, when given, a message holding
 * each of the substrings. */

static void test_binary_ops_reject_mixed_dtypes(void **state)
{
    (void)state;
    int64_t s[1] = {3};
    lg_tensor *a = lg_tensor_ones(LG_F64, 1, s), *b = lg_tensor_ones(LG_F32, 1, s);
    lg_graph *g = lg_graph_new();
    for (int i = 0; i < N_BINARY; i++) {
        for (int order = 0; order < 2; order++) {
            lg_graph_reset(g);
            lg_tensor *y = order ? BINARY[i].f(g, b, a) : BINARY[i].f(g, a, b);
            ot_expect_error_named(g, y, LG_ERR_DTYPE, BINARY[i].name, BINARY[i].name, "f32");
        }
    }
    lg_graph_free(g);
    lg_tensor_free(a);
    lg_tensor_free(b);
}

static void test_binary_ops_reject_unbroadcastable_shapes_naming_them(void **state)
{
    (void)state;
    int64_t s34[2] = {3, 4}, s24[2] = {2, 4}, s3[1] = {3};
    lg_tensor *a = lg_tensor_ones(LG_F64, 2, s34), *b = lg_tensor_ones(LG_F64, 2, s24);
    lg_tensor *c = lg_tensor_ones(LG_F64, 1, s3);
    lg_graph *g = lg_graph_new();
    for (int i = 0; i < N_BINARY; i++) {
        lg_graph_reset(g);
        ot_expect_error_named(g, BINARY[i].f(g, a, b), LG_ERR_SHAPE, BINARY[i].name, "(3,4)",
                              "(2,4)");
        assert_non_null(strstr(lg_graph_errmsg(g), BINARY[i].name));
        /* trailing 4 against 3 */
        lg_graph_reset(g);
        ot_expect_error_named(g, BINARY[i].f(g, a, c), LG_ERR_SHAPE, BINARY[i].name, BINARY[i].name,
                              "(3)");
    }
    lg_graph_free(g);
    lg_tensor_free(a);
    lg_tensor_free(b);
    lg_tensor_free(c);
}

static void test_where_rejects_mixed_dtypes_and_unbroadcastable_shapes(void **state)
{
    (void)state;
    int64_t s34[2] = {3, 4}, s24[2] = {2, 4};
    lg_tensor *m32 = lg_tensor_ones(LG_F32, 2, s34), *a = lg_tensor_ones(LG_F64, 2, s34);
    lg_tensor *b = lg_tensor_ones(LG_F64, 2, s24), *m = lg_tensor_ones(LG_F64, 2, s34);
    lg_graph *g = lg_graph_new();
    ot_expect_error_named(g, lg_where(g, m32, a, a), LG_ERR_DTYPE, "where f32 mask", "lg_where",
                          "f32");
    lg_graph_reset(g);
    ot_expect_error_named(g, lg_where(g, m, m32, a), LG_ERR_DTYPE, "where f32 a", "lg_where",
                          "f32");
    lg_graph_reset(g);
    ot_expect_error_named(g, lg_where(g, m, a, b), LG_ERR_SHAPE, "where a/b", "lg_where", "(2,4)");
    assert_non_null(strstr(lg_graph_errmsg(g), "(3,4)"));
    lg_graph_reset(g);
    ot_expect_error_named(g, lg_where(g, b, a, a), LG_ERR_SHAPE, "where mask/a", "lg_where",
                          "(2,4)");
    lg_graph_free(g);
    lg_tensor *ts[] = {m32, a, b, m};
    ot_free_all(ts, 4);
}

static void test_ops_reject_null_input_with_arg_error(void **state)
{
    (void)state;
    int64_t s[1] = {3};
    lg_tensor *x = lg_tensor_ones(LG_F64, 1, s);
    lg_graph *g = lg_graph_new();
    ot_unops_reject_null_input(g, UNARY, N_UNARY);
    for (int i = 0; i < N_BINARY; i++) {
        for (int pos = 0; pos < 2; pos++) {
            lg_graph_reset(g);
            lg_tensor *y = pos ? BINARY[i].f(g, x, NULL) : BINARY[i].f(g, NULL, x);
            ot_expect_error_named(g, y, LG_ERR_ARG, BINARY[i].name, BINARY[i].name,
                                  pos ? "input 1" : "input 0");
        }
    }
    for (int pos = 0; pos < 3; pos++) {
        lg_tensor *in[3] = {x, x, x};
        in[pos] = NULL;
        lg_graph_reset(g);
        ot_expect_error_named(g, lg_where(g, in[0], in[1], in[2]), LG_ERR_ARG, "lg_where",
                              "lg_where", "NULL");
    }
    lg_graph_free(g);
    lg_tensor_free(x);
}

static void test_ops_reject_null_graph(void **state)
{
    (void)state;
    int64_t s[1] = {3};
    lg_tensor *x = lg_tensor_ones(LG_F64, 1, s);
    ot_unops_reject_null_graph(UNARY, N_UNARY, x);
    for (int i = 0; i < N_BINARY; i++) {
        assert_null(BINARY[i].f(NULL, x, x));
        assert_non_null(strstr(lg_last_errmsg(), BINARY[i].name));
    }
    assert_null(lg_where(NULL, x, x, x));
    assert_non_null(strstr(lg_last_errmsg(), "lg_where"));
    lg_tensor_free(x);
}

/* After a first error (a shape error in lg_add), every op given NULL returns NULL and
 * the graph keeps that first status and message. */
static void test_ops_given_null_after_error_keep_first_error(void **state)
{
    (void)state;
    int64_t s3[1] = {3}, s4[1] = {4};
    lg_tensor *a = lg_tensor_ones(LG_F64, 1, s3), *b = lg_tensor_ones(LG_F64, 1, s4);
    lg_graph *g = lg_graph_new();
    lg_tensor *bad = lg_add(g, a, b);
    assert_null(bad);
    assert_int_equal(lg_graph_status(g), LG_ERR_SHAPE);
    char first[256];
    snprintf(first, sizeof first, "%s", lg_graph_errmsg(g));
    assert_non_null(strstr(first, "lg_add"));
    for (int i = 0; i < N_UNARY; i++) {
        ot_expect_error_named(g, UNARY[i].f(g, bad, UNARY[i].p), LG_ERR_SHAPE, UNARY[i].name,
                              "lg_add", NULL);
        assert_string_equal(lg_graph_errmsg(g), first);
    }
    for (int i = 0; i < N_BINARY; i++) {
        ot_expect_error_named(g, BINARY[i].f(g, bad, a), LG_ERR_SHAPE, BINARY[i].name, "lg_add",
                              NULL);
        ot_expect_error_named(g, BINARY[i].f(g, a, bad), LG_ERR_SHAPE, BINARY[i].name, "lg_add",
                              NULL);
        assert_string_equal(lg_graph_errmsg(g), first);
    }
    ot_expect_error_named(g, lg_where(g, a, bad, a), LG_ERR_SHAPE, "lg_where", "lg_add", NULL);
    assert_string_equal(lg_graph_errmsg(g), first);
    /* Valid inputs do not run either while the error stands. */
    ot_expect_error_named(g, lg_mul(g, a, a), LG_ERR_SHAPE, "lg_mul on valid inputs", "lg_add",
                          NULL);
    lg_graph_free(g);
    lg_tensor_free(a);
    lg_tensor_free(b);
}

static void test_ops_reject_tensor_from_before_reset(void **state)
{
    (void)state;
    int64_t s[1] = {3};
    lg_tensor *x = lg_tensor_ones(LG_F64, 1, s);
    lg_graph *g = lg_graph_new();
    for (int i = 0; i < N_UNARY + N_BINARY + 1; i++) {
        lg_graph_reset(g);
        lg_tensor *stale = lg_scale(g, x, 2.0);
        assert_non_null(stale);
        lg_graph_reset(g);
        const char *name;
        lg_tensor *y;
        if (i < N_UNARY) {
            name = UNARY[i].name;
            y = UNARY[i].f(g, stale, UNARY[i].p);
        } else if (i < N_UNARY + N_BINARY) {
            name = BINARY[i - N_UNARY].name;
            y = BINARY[i - N_UNARY].f(g, x, stale);
        } else {
            name = "lg_where";
            y = lg_where(g, x, x, stale);
        }
        ot_expect_error_named(g, y, LG_ERR_STATE, name, name, "lg_graph_reset");
    }
    lg_graph_free(g);
    lg_tensor_free(x);
}

static void test_ops_reject_tensor_of_another_graph(void **state)
{
    (void)state;
    int64_t s[1] = {3};
    lg_tensor *x = lg_tensor_ones(LG_F64, 1, s);
    lg_graph *g = lg_graph_new(), *other = lg_graph_new();
    lg_tensor *foreign = lg_scale(other, x, 2.0);
    for (int i = 0; i < N_BINARY; i++) {
        lg_graph_reset(g);
        ot_expect_error_named(g, BINARY[i].f(g, x, foreign), LG_ERR_ARG, BINARY[i].name,
                              BINARY[i].name, "another graph");
    }
    lg_graph_reset(g);
    ot_expect_error_named(g, lg_exp(g, foreign), LG_ERR_ARG, "lg_exp", "lg_exp", "another graph");
    lg_graph_free(other);
    lg_graph_free(g);
    lg_tensor_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_forward_broadcasts_like_numpy),
        cmocka_unit_test(test_sub_forward_broadcasts_like_numpy),
        cmocka_unit_test(test_mul_forward_broadcasts_like_numpy),
        cmocka_unit_test(test_div_forward_broadcasts_like_numpy),
        cmocka_unit_test(test_div_by_zero_gives_ieee_inf_and_nan),
        cmocka_unit_test(test_neg_forward_flips_sign),
        cmocka_unit_test(test_add_scalar_forward_adds_constant),
        cmocka_unit_test(test_scale_forward_multiplies_by_constant),
        cmocka_unit_test(test_exp_forward_matches_reference),
        cmocka_unit_test(test_log_forward_matches_reference),
        cmocka_unit_test(test_log_of_zero_and_negative_is_ieee),
        cmocka_unit_test(test_sqrt_forward_matches_reference),
        cmocka_unit_test(test_pow_scalar_forward_matches_reference),
        cmocka_unit_test(test_abs_forward_drops_sign),
        cmocka_unit_test(test_where_forward_selects_by_nonzero_mask),
        cmocka_unit_test(test_binary_ops_and_where_match_plain_loops_on_threaded_path),
        cmocka_unit_test(test_binary_ops_broadcast_empty_tensors),
        cmocka_unit_test(test_add_vjp_and_hvp_match_finite_diff_with_broadcasting),
        cmocka_unit_test(test_sub_vjp_and_hvp_match_finite_diff_with_broadcasting),
        cmocka_unit_test(test_mul_vjp_and_hvp_match_finite_diff_with_broadcasting),
        cmocka_unit_test(test_div_vjp_and_hvp_match_finite_diff_with_broadcasting),
        cmocka_unit_test(test_neg_vjp_and_hvp_match_finite_diff),
        cmocka_unit_test(test_add_scalar_vjp_and_hvp_match_finite_diff),
        cmocka_unit_test(test_scale_vjp_and_hvp_match_finite_diff),
        cmocka_unit_test(test_exp_vjp_and_hvp_match_finite_diff),
        cmocka_unit_test(test_log_vjp_and_hvp_match_finite_diff),
        cmocka_unit_test(test_sqrt_vjp_and_hvp_match_finite_diff),
        cmocka_unit_test(test_pow_scalar_vjp_and_hvp_match_finite_diff),
        cmocka_unit_test(test_abs_vjp_and_hvp_match_finite_diff_away_from_zero),
        cmocka_unit_test(test_abs_grad_is_zero_at_zero),
        cmocka_unit_test(test_unary_grads_match_closed_forms),
        cmocka_unit_test(test_binary_grads_match_closed_forms),
        cmocka_unit_test(test_where_vjp_and_hvp_match_finite_diff_with_broadcasting),
        cmocka_unit_test(test_where_grad_routes_by_mask_and_skips_mask),
        cmocka_unit_test(test_f32_grads_and_hvps_match_f64),
        cmocka_unit_test(test_binary_ops_reject_mixed_dtypes),
        cmocka_unit_test(test_binary_ops_reject_unbroadcastable_shapes_naming_them),
        cmocka_unit_test(test_where_rejects_mixed_dtypes_and_unbroadcastable_shapes),
        cmocka_unit_test(test_ops_reject_null_input_with_arg_error),
        cmocka_unit_test(test_ops_reject_null_graph),
        cmocka_unit_test(test_ops_given_null_after_error_keep_first_error),
        cmocka_unit_test(test_ops_reject_tensor_from_before_reset),
        cmocka_unit_test(test_ops_reject_tensor_of_another_graph),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
