/* Backend parity (issue 15), after ggml's test-backend-ops: every entry of the backend
 * table runs on the CPU backend and on the reference backend (plain loops, in double) over
 * shapes with broadcasting, size-1 and empty axes, odd sizes and NaN/Inf inputs, and the
 * results must agree: normalised mean squared error Σ(got - want)² / Σ want² at most 1e-7
 * in f32 and 1e-20 in f64 over the finite values, NaN and ±Inf in the same places, integer
 * outputs (argmax, pooling indices) equal. A table maps each entry's offset in struct
 * lg_backend to its case; the first test fails for any function slot without one, and a
 * _Static_assert on the struct's size breaks the build when an entry is added, until the
 * table below is extended. */
#include <float.h>
#include <stdlib.h>
#include <string.h>
#include "test_util.h"
#include "backend/backend_impl.h"

/* ---- data ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static double urand(void) /* uniform [0, 1), xorshift64* */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717u) >> 11) / 9007199254740992.0;
}

/* n values of dt (never a NULL pointer, even for n = 0) uniform in [-2, 2); with
 * `special`, every 7th is NaN, +Inf or -Inf in turn; with `ties`, whole numbers in
 * [-2, 2] so that extrema repeat. */
enum { PLAIN = 0, SPECIAL = 1, TIES = 2 };
static void *rnd(lg_dtype dt, int64_t n, int mode)
{
    void *p = malloc((size_t)(n > 0 ? n : 1) * 8);
    assert_non_null(p);
    for (int64_t i = 0; i < n; i++) {
        double v = 4 * urand() - 2;
        if (mode & TIES)
            v = (double)(int)(v * 1.2);
        if ((mode & SPECIAL) && i % 7 == 3)
            v = (i / 7) % 3 == 0 ? NAN : (i / 7) % 3 == 1 ? INFINITY : -INFINITY;
        lg_store(p, dt, i, v);
    }
    return p;
}

static void *dup_of(const void *p, int64_t n, size_t es)
{
    void *q = malloc((size_t)(n > 0 ? n : 1) * es);
    assert_non_null(q);
    memcpy(q, p, (size_t)(n > 0 ? n : 1) * es);
    return q;
}

/* ---- the comparison, and the worst error seen per entry ---- */

typedef struct worst {
    const char *entry;
    double nmse[2]; /* f32, f64 */
    int cases;
} worst;
static worst worsts[64];
static int n_worsts;

static void record(const char *entry, lg_dtype dt, double nmse)
{
    int i = 0;
    while (i < n_worsts && strcmp(worsts[i].entry, entry))
        i++;
    if (i == n_worsts) {
        assert_true(n_worsts < 64);
        worsts[n_worsts++] = (worst){entry, {0, 0}, 0};
    }
    int k = dt == LG_F32 ? 0 : 1;
    if (nmse > worsts[i].nmse[k])
        worsts[i].nmse[k] = nmse;
    worsts[i].cases++;
}

/* got (the fast backend) against want (the reference), n values of data type `data`
 * held to the tolerance of `tol_dt`. */
static void check_as(const char *entry, const char *what, lg_dtype tol_dt, lg_dtype data,
                     const void *got, const void *want, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double g = lg_load(got, data, i), w = lg_load(want, data, i);
        if (isnan(g) != isnan(w) || ((isinf(g) || isinf(w)) && g != w)) {
            print_error("%s (%s, %s): element %lld is %g on the fast backend, %g on the "
                        "reference\n", entry, what, tol_dt == LG_F32 ? "f32" : "f64",
                        (long long)i, g, w);
            fail();
        }
        if (isfinite(g) && isfinite(w)) {
            num += (g - w) * (g - w);
            den += w * w;
        }
    }
    double nmse = den > 0 ? num / den : num;
    double tol = tol_dt == LG_F32 ? 1e-7 : 1e-20;
    record(entry, tol_dt, nmse);
    if (!(nmse <= tol)) {
        print_error("%s (%s, %s): normalised MSE %.3g over %lld values, above %.0e\n", entry,
                    what, tol_dt == LG_F32 ? "f32" : "f64", nmse, (long long)n, tol);
        fail();
    }
}
static void check(const char *entry, const char *what, lg_dtype dt, const void *got,
                  const void *want, int64_t n)
{
    check_as(entry, what, dt, dt, got, want, n);
}
static void check_int(const char *entry, const char *what, const void *got, const void *want,
                      size_t bytes)
{
    if (bytes && memcmp(got, want, bytes)) {
        print_error("%s (%s): indices differ between the backends\n", entry, what);
        fail();
    }
}

/* ---- geometry helpers ---- */

/* An iteration over out (nd axes) reading nops operands of the given shapes (nd axes each,
 * 1 where broadcast), each contiguous over its own shape. */
static lg_bcast bcast(int nd, const int64_t *out, int nops, const int64_t (*shp)[LG_MAX_DIMS])
{
    lg_bcast bc = {.ndim = nd, .numel = 1};
    for (int d = 0; d < nd; d++) {
        bc.shape[d] = out[d];
        bc.numel *= out[d];
    }
    for (int o = 0; o < nops; o++) {
        int64_t s = 1;
        for (int d = nd - 1; d >= 0; d--) {
            bc.stride[o][d] = shp[o][d] == 1 && out[d] != 1 ? 0 : s;
            s *= shp[o][d];
        }
    }
    return bc;
}
static int64_t prod(int nd, const int64_t *s)
{
    int64_t n = 1;
    for (int d = 0; d < nd; d++)
        n *= s[d];
    return n;
}

typedef struct bshape {
    int nd;
    int64_t out[LG_MAX_DIMS], a[LG_MAX_DIMS], b[LG_MAX_DIMS], c[LG_MAX_DIMS];
} bshape;
/* broadcasting, size-1, empty, scalar (0 axes) and odd shapes */
static const bshape bshapes[] = {
    {2, {3, 5}, {3, 5}, {3, 5}, {3, 5}},
    {2, {3, 5}, {1, 5}, {3, 1}, {3, 5}},
    {3, {4, 5, 3}, {4, 1, 3}, {1, 5, 1}, {1, 1, 3}},
    {2, {0, 3}, {0, 3}, {1, 3}, {0, 1}},
    {3, {2, 0, 3}, {2, 1, 3}, {1, 0, 1}, {2, 0, 3}},
    {0, {0}, {0}, {0}, {0}},
    {1, {7}, {1}, {7}, {1}},
    {2, {17, 33}, {17, 33}, {1, 33}, {17, 1}},
    {4, {2, 3, 1, 5}, {2, 1, 1, 5}, {1, 3, 1, 1}, {2, 3, 1, 5}},
    {1, {40000}, {40000}, {40000}, {1}}, /* above LG_OMP_MIN: the CPU's threaded path */
};
enum { N_BSHAPES = sizeof bshapes / sizeof bshapes[0] };

static const lg_backend *fast, *ref;
static const lg_dtype dts[2] = {LG_F32, LG_F64};

/* ---- cases: each runs its entry on both backends for f32 and f64 ---- */

static void case_mem(lg_dtype dt)
{
    int64_t n = 37;
    void *src = rnd(dt, n, SPECIAL), *out[2];
    const lg_backend *be[2] = {fast, ref};
    size_t bytes = (size_t)n * lg_dtype_size(dt);
    for (int k = 0; k < 2; k++) {
        void *d1 = be[k]->mem_alloc(bytes), *d2 = be[k]->mem_alloc(bytes);
        assert_non_null(d1);
        assert_non_null(d2);
        assert_int_equal((uintptr_t)d1 % 64, 0);
        out[k] = malloc(bytes);
        be[k]->mem_copy(LG_COPY_HOST_TO_DEVICE, d1, src, bytes);
        be[k]->mem_copy(LG_COPY_DEVICE_TO_DEVICE, d2, d1, bytes);
        be[k]->mem_copy(LG_COPY_DEVICE_TO_HOST, out[k], d2, bytes);
        be[k]->mem_free(d1, bytes);
        be[k]->mem_free(d2, bytes);
    }
    check("mem_alloc/mem_copy/mem_free", "round trip", dt, out[0], out[1], n);
    check("mem_alloc/mem_copy/mem_free", "against the source", dt, out[0], src, n);
    free(src), free(out[0]), free(out[1]);
}

static void case_unary(lg_dtype dt)
{
    static const struct { lg_unary_kind k; double p; const char *name; } ks[] = {
        {LG_UN_NEG, 0, "neg"}, {LG_UN_EXP, 0, "exp"}, {LG_UN_LOG, 0, "log"},
        {LG_UN_SQRT, 0, "sqrt"}, {LG_UN_ABS, 0, "abs"}, {LG_UN_SIGN, 0, "sign"},
        {LG_UN_ADD_SCALAR, 1.3, "add_scalar"}, {LG_UN_SCALE, -0.7, "scale"},
        {LG_UN_POW, 2, "pow 2"}, {LG_UN_POW, 0.5, "pow 0.5"}, {LG_UN_POW, -1.5, "pow -1.5"},
        {LG_UN_RELU, 0, "relu"}, {LG_UN_LEAKY_RELU, 0.01, "leaky_relu"},
        {LG_UN_SIGMOID, 0, "sigmoid"}, {LG_UN_TANH, 0, "tanh"}, {LG_UN_GELU, 0, "gelu"},
        {LG_UN_RECIP, 0, "recip"},
        {LG_UN_SOFTPLUS, 0, "softplus"},
    };
    static const int64_t ns[] = {0, 1, 7, 1001, 40000};
    for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++)
        for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
            int64_t n = ns[ni];
            void *x = rnd(dt, n, SPECIAL), *y0 = rnd(dt, n, 0), *y1 = rnd(dt, n, 0);
            fast->unary(ks[ki].k, dt, n, x, y0, ks[ki].p);
            ref->unary(ks[ki].k, dt, n, x, y1, ks[ki].p);
            check("unary", ks[ki].name, dt, y0, y1, n);
            free(x), free(y0), free(y1);
        }
}

static void case_binary(lg_dtype dt)
{
    static const struct { lg_binary_kind k; double p; const char *name; } ks[] = {
        {LG_BIN_ADD, 0, "add"}, {LG_BIN_SUB, 0, "sub"}, {LG_BIN_MUL, 0, "mul"},
        {LG_BIN_DIV, 0, "div"}, {LG_BIN_RELU_BWD, 0, "relu_bwd"},
        {LG_BIN_LEAKY_BWD, 0.2, "leaky_bwd"}, {LG_BIN_LEFT, 0, "left"},
        {LG_BIN_TANH_BWD, 0, "tanh_bwd"}, {LG_BIN_GELU_BWD, 0, "gelu_bwd"},
    };
    for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
        for (int si = 0; si < N_BSHAPES; si++) {
            const bshape *s = &bshapes[si];
            int64_t shp[2][LG_MAX_DIMS];
            memcpy(shp[0], s->a, sizeof shp[0]);
            memcpy(shp[1], s->b, sizeof shp[1]);
            lg_bcast bc = bcast(s->nd, s->out, 2, (const int64_t(*)[LG_MAX_DIMS])shp);
            int64_t na = prod(s->nd, s->a), nb = prod(s->nd, s->b), ny = bc.numel;
            void *a = rnd(dt, na, SPECIAL), *b = rnd(dt, nb, SPECIAL);
            void *y0 = rnd(dt, ny, 0), *y1 = rnd(dt, ny, 0);
            fast->binary(ks[ki].k, dt, &bc, a, b, y0, ks[ki].p);
            ref->binary(ks[ki].k, dt, &bc, a, b, y1, ks[ki].p);
            check("binary", ks[ki].name, dt, y0, y1, ny);
            free(a), free(b), free(y0), free(y1);
        }
        /* a transposed read: a is (3, 5) stored as (5, 3), strides (1, 3) */
        lg_bcast bc = {.ndim = 2, .numel = 15, .shape = {3, 5}, .stride = {{1, 3}, {5, 1}}};
        void *a = rnd(dt, 15, SPECIAL), *b = rnd(dt, 15, 0), *y0 = rnd(dt, 15, 0),
             *y1 = rnd(dt, 15, 0);
        fast->binary(ks[ki].k, dt, &bc, a, b, y0, ks[ki].p);
        ref->binary(ks[ki].k, dt, &bc, a, b, y1, ks[ki].p);
        check("binary", "transposed operand", dt, y0, y1, 15);
        free(a), free(b), free(y0), free(y1);
    }
}

static void case_where(lg_dtype dt)
{
    for (int si = 0; si < N_BSHAPES; si++) {
        const bshape *s = &bshapes[si];
        int64_t shp[3][LG_MAX_DIMS];
        memcpy(shp[0], s->c, sizeof shp[0]);
        memcpy(shp[1], s->a, sizeof shp[1]);
        memcpy(shp[2], s->b, sizeof shp[2]);
        lg_bcast bc = bcast(s->nd, s->out, 3, (const int64_t(*)[LG_MAX_DIMS])shp);
        int64_t nm = prod(s->nd, s->c), ny = bc.numel;
        void *m = rnd(dt, nm, SPECIAL | TIES); /* zeros, non-zeros and NaN */
        void *a = rnd(dt, prod(s->nd, s->a), SPECIAL), *b = rnd(dt, prod(s->nd, s->b), SPECIAL);
        void *y0 = rnd(dt, ny, 0), *y1 = rnd(dt, ny, 0);
        fast->where(dt, &bc, m, a, b, y0);
        ref->where(dt, &bc, m, a, b, y1);
        check("where", "select", dt, y0, y1, ny);
        free(m), free(a), free(b), free(y0), free(y1);
    }
}

/* (outer, len, inner) views: size 1, empty, odd, a column tile wider than 256, and one
 * long row past LG_OMP_MIN (the CPU's threaded sum). */
static const int64_t rshapes[][3] = {
    {1, 1, 1}, {3, 7, 5}, {1, 1001, 1}, {4, 9, 300}, {0, 5, 3}, {2, 3, 0}, {5, 1, 4},
    {1, 40000, 1}, {2, 13, 1}, {1, 0, 3},
};
enum { N_RSHAPES = sizeof rshapes / sizeof rshapes[0] };

static void case_reduce(lg_dtype dt)
{
    static const lg_reduce_kind ks[] = {LG_RED_SUM, LG_RED_MAX, LG_RED_MIN};
    static const char *names[] = {"sum", "max", "min"};
    for (int ki = 0; ki < 3; ki++)
        for (int si = 0; si < N_RSHAPES; si++)
            for (int mode = 0; mode < 3; mode++) {
                int64_t o = rshapes[si][0], l = rshapes[si][1], in = rshapes[si][2];
                if (l == 0 && ks[ki] != LG_RED_SUM) /* max of nothing: the op refuses it */
                    continue;
                void *x = rnd(dt, o * l * in, mode), *y0 = rnd(dt, o * in, 0),
                     *y1 = rnd(dt, o * in, 0);
                int64_t *i0 = calloc((size_t)(o * in + 1), 8), *i1 = calloc((size_t)(o * in + 1), 8);
                fast->reduce(ks[ki], dt, o, l, in, x, y0, ks[ki] == LG_RED_SUM ? NULL : i0);
                ref->reduce(ks[ki], dt, o, l, in, x, y1, ks[ki] == LG_RED_SUM ? NULL : i1);
                check("reduce", names[ki], dt, y0, y1, o * in);
                check_int("reduce", "argmax", i0, i1, (size_t)(o * in) * 8);
                free(x), free(y0), free(y1), free(i0), free(i1);
            }
}

static void case_sum_to(lg_dtype dt)
{
    static const struct { int nd; int64_t x[LG_MAX_DIMS], y[LG_MAX_DIMS]; } ss[] = {
        {3, {4, 5, 6}, {1, 5, 1}}, {3, {4, 5, 6}, {4, 1, 6}}, {3, {4, 5, 6}, {1, 1, 1}},
        {2, {0, 3}, {1, 3}}, {2, {3, 0}, {3, 1}}, {1, {7}, {7}}, {1, {50000}, {1}},
        {0, {0}, {0}}, {2, {33, 17}, {33, 1}}, {4, {2, 1, 3, 5}, {1, 1, 3, 1}},
    };
    for (size_t si = 0; si < sizeof ss / sizeof ss[0]; si++) {
        int64_t shp[2][LG_MAX_DIMS];
        memcpy(shp[0], ss[si].x, sizeof shp[0]);
        memcpy(shp[1], ss[si].y, sizeof shp[1]);
        lg_bcast bc = bcast(ss[si].nd, ss[si].x, 2, (const int64_t(*)[LG_MAX_DIMS])shp);
        int64_t ny = prod(ss[si].nd, ss[si].y);
        for (int mode = 0; mode < 2; mode++) {
            void *x = rnd(dt, bc.numel, mode), *y0 = rnd(dt, ny, 0), *y1 = rnd(dt, ny, 0);
            fast->sum_to(dt, &bc, x, y0, ny);
            ref->sum_to(dt, &bc, x, y1, ny);
            check("sum_to", "sum", dt, y0, y1, ny);
            free(x), free(y0), free(y1);
        }
    }
}

static void case_softmax(lg_dtype dt)
{
    for (int si = 0; si < N_RSHAPES; si++)
        for (int mode = 0; mode < 2; mode++)
            for (int lg = 0; lg < 3; lg++) {
                int64_t o = rshapes[si][0], l = rshapes[si][1], in = rshapes[si][2];
                if (l == 0)
                    continue; /* the ops refuse an empty softmax axis */
                int64_t ny = lg == 2 ? o * in : o * l * in;
                void *x = rnd(dt, o * l * in, mode), *y0 = rnd(dt, ny, 0), *y1 = rnd(dt, ny, 0);
                if (mode && o * l * in >= 2 * l) /* a row all -Inf, then one row with +Inf */
                    for (int64_t i = 0; i < l; i++)
                        lg_store(x, dt, i * in, -INFINITY);
                if (lg == 2) {
                    fast->logsumexp(dt, o, l, in, x, y0);
                    ref->logsumexp(dt, o, l, in, x, y1);
                    check("logsumexp", "lse", dt, y0, y1, ny);
                } else {
                    fast->softmax(lg, dt, o, l, in, x, y0);
                    ref->softmax(lg, dt, o, l, in, x, y1);
                    check("softmax", lg ? "log_softmax" : "softmax", dt, y0, y1, ny);
                }
                free(x), free(y0), free(y1);
            }
}

static void case_gemm(lg_dtype dt)
{
    /* (m, n, k): one row or column (the CPU's gemv), k = 1 (its outer product), odd
     * sizes, and empty products */
    static const int64_t ms[][3] = {
        {1, 1, 1}, {1, 7, 5}, {7, 1, 5}, {5, 6, 1}, {17, 13, 9}, {0, 3, 4}, {3, 0, 4},
        {3, 4, 0}, {33, 65, 31},
    };
    for (size_t si = 0; si < sizeof ms / sizeof ms[0]; si++)
        for (int t = 0; t < 4; t++)
            for (int v = 0; v < 3; v++) {
                int64_t m = ms[si][0], n = ms[si][1], k = ms[si][2];
                int ta = t & 1, tb = t >> 1;
                int64_t batch = v == 2 ? 3 : 1;
                /* variant 2 shares B across the batch (stride 0) */
                int64_t sa = m * k, sb = v == 2 ? 0 : k * n, sc = m * n;
                double alpha = v == 1 ? 0.5 : 1, beta = v == 1 ? 0.7 : 0;
                void *a = rnd(dt, batch * sa, v == 1 ? SPECIAL : 0), *b = rnd(dt, k * n * batch, 0);
                void *c0 = rnd(dt, batch * sc, 0);
                if (beta == 0) /* never read: NaN there must not show */
                    for (int64_t i = 0; i < batch * sc; i++)
                        lg_store(c0, dt, i, NAN);
                void *c1 = dup_of(c0, batch * sc, lg_dtype_size(dt));
                fast->gemm(dt, ta, tb, batch, m, n, k, alpha, a, sa, b, sb, beta, c0, sc);
                ref->gemm(dt, ta, tb, batch, m, n, k, alpha, a, sa, b, sb, beta, c1, sc);
                check("gemm", "product", dt, c0, c1, batch * sc);
                free(a), free(b), free(c0), free(c1);
            }
}

static void case_copy_rows(lg_dtype dt)
{
    static const int64_t cs[][4] = {{3, 5, 5, 5}, {4, 3, 7, 3}, {4, 3, 3, 8}, {0, 3, 3, 3},
                                    {5, 0, 2, 2}, {1, 1, 1, 1}, {9, 11, 13, 12}};
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        int64_t rows = cs[i][0], cols = cs[i][1], sld = cs[i][2], dld = cs[i][3];
        void *src = rnd(dt, rows * sld, SPECIAL), *d0 = rnd(dt, rows * dld, 0);
        void *d1 = dup_of(d0, rows * dld, lg_dtype_size(dt));
        fast->copy_rows(dt, rows, cols, src, sld, d0, dld);
        ref->copy_rows(dt, rows, cols, src, sld, d1, dld);
        check("copy_rows", "rows", dt, d0, d1, rows * dld);
        free(src), free(d0), free(d1);
    }
}

static void case_permute(lg_dtype dt)
{
    static const struct { int nd; int64_t s[LG_MAX_DIMS]; int perm[LG_MAX_DIMS]; } ps[] = {
        {2, {3, 5}, {1, 0}}, {3, {2, 3, 4}, {2, 0, 1}}, {3, {2, 1, 4}, {1, 2, 0}},
        {4, {2, 3, 5, 7}, {3, 1, 0, 2}}, {3, {2, 0, 3}, {2, 1, 0}}, {1, {9}, {0}},
        {2, {1, 1}, {1, 0}}, {2, {250, 170}, {1, 0}},
        /* attention's head split and merge (threaded: above LG_OMP_MIN), axes that merge
         * and size-1 axes dropped, a transpose that keeps no axis in place */
        {5, {2, 64, 3, 4, 32}, {2, 0, 3, 1, 4}}, {4, {2, 4, 64, 32}, {0, 2, 1, 3}},
        {5, {3, 1, 4, 5, 2}, {3, 4, 0, 1, 2}}, {3, {7, 300, 33}, {2, 0, 1}},
        {4, {5, 2, 3, 4}, {3, 2, 1, 0}}, {0, {0}, {0}},
    };
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        int64_t n = prod(ps[i].nd, ps[i].s);
        void *x = rnd(dt, n, SPECIAL), *y0 = rnd(dt, n, 0), *y1 = rnd(dt, n, 0);
        fast->permute(dt, ps[i].nd, ps[i].s, ps[i].perm, x, y0);
        ref->permute(dt, ps[i].nd, ps[i].s, ps[i].perm, x, y1);
        check("permute", "axes", dt, y0, y1, n);
        free(x), free(y0), free(y1);
    }
}

/* softmax_backward: rows along the last axis (attention's scores, one above the threading
 * threshold) and a middle axis (inner > 1), from a real softmax output; an empty axis. */
static void case_softmax_backward(lg_dtype dt)
{
    static const int64_t ss[][3] = {{48, 64, 1}, {3, 7, 5}, {1, 1, 1}, {4, 0, 3}, {2, 9, 1}};
    for (size_t i = 0; i < sizeof ss / sizeof ss[0]; i++) {
        int64_t o = ss[i][0], l = ss[i][1], in = ss[i][2], n = o * l * in;
        void *x = rnd(dt, n, 0), *y = rnd(dt, n, 0), *dy = rnd(dt, n, 0);
        void *d0 = rnd(dt, n, 0), *d1 = rnd(dt, n, 0);
        if (n)
            ref->softmax(0, dt, o, l, in, x, y);
        fast->softmax_backward(dt, o, l, in, y, dy, d0);
        ref->softmax_backward(dt, o, l, in, y, dy, d1);
        check("softmax_backward", "rows", dt, d0, d1, n);
        free(x), free(y), free(dy), free(d0), free(d1);
    }
}

static void case_fill(lg_dtype dt)
{
    static const double vs[] = {0, -2.5, 1e30, NAN, INFINITY};
    static const int64_t ns[] = {0, 1, 13, 40000};
    for (int vi = 0; vi < 5; vi++)
        for (int ni = 0; ni < 4; ni++) {
            void *y0 = rnd(dt, ns[ni], 0), *y1 = rnd(dt, ns[ni], 0);
            fast->fill(dt, ns[ni], y0, vs[vi]);
            ref->fill(dt, ns[ni], y1, vs[vi]);
            check("fill", "value", dt, y0, y1, ns[ni]);
            free(y0), free(y1);
        }
    /* integer tensors: whole values only (the caller checks) */
    static const lg_dtype its[] = {LG_I32, LG_I64};
    for (int t = 0; t < 2; t++) {
        int64_t y0[17], y1[17];
        fast->fill(its[t], 17, y0, -7);
        ref->fill(its[t], 17, y1, -7);
        check_int("fill", "integer", y0, y1, 17 * lg_dtype_size(its[t]));
    }
}

/* iota: empty, odd and threaded sizes, float steps and whole ones for integer tensors */
static void case_iota(lg_dtype dt)
{
    static const int64_t ns[] = {0, 1, 13, 40000};
    for (int ni = 0; ni < 4; ni++) {
        void *y0 = rnd(dt, ns[ni], 0), *y1 = rnd(dt, ns[ni], 0);
        fast->iota(dt, ns[ni], y0, -3.25, 0.1);
        ref->iota(dt, ns[ni], y1, -3.25, 0.1);
        check("iota", "float step", dt, y0, y1, ns[ni]);
        free(y0), free(y1);
    }
    static const lg_dtype its[] = {LG_I32, LG_I64};
    for (int t = 0; t < 2; t++) {
        int64_t y0[17], y1[17];
        fast->iota(its[t], 17, y0, 5, -3);
        ref->iota(its[t], 17, y1, 5, -3);
        check_int("iota", "integer", y0, y1, 17 * lg_dtype_size(its[t]));
    }
}

/* find_outside on both backends, and against the index a reader can count. */
static void find_both(lg_dtype dt, int64_t n, const void *x, double lo, double hi, int64_t want,
                      const char *what)
{
    int64_t got = fast->find_outside(dt, n, x, lo, hi), r = ref->find_outside(dt, n, x, lo, hi);
    if (got != r || (want != -2 && got != want)) {
        print_error("find_outside (%s, %s): fast %lld, reference %lld, expected %lld\n", what,
                    lg_dtype_name(dt), (long long)got, (long long)r, (long long)want);
        fail();
    }
}

/* find_outside: empty, odd and multi-block sizes; the finite range over NaN/Inf (each kind
 * first in turn, and a lone NaN in the last block); a narrow range; integer tensors with
 * fractional, inverted, NaN and beyond-the-type bounds. */
static void case_find_outside(lg_dtype dt)
{
    double max = dt == LG_F32 ? FLT_MAX : DBL_MAX;
    static const int64_t ns[] = {0, 1, 13, 1024, 1025, 40000};
    for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
        int64_t n = ns[ni];
        void *x = rnd(dt, n, PLAIN); /* in [-2, 2) */
        find_both(dt, n, x, -max, max, -1, "all finite");
        find_both(dt, n, x, -2, 2, -1, "inside [-2, 2]");
        find_both(dt, n, x, -0.5, 0.5, -2, "narrow");
        if (n > 0) {
            lg_store(x, dt, n - 1, NAN);
            find_both(dt, n, x, -max, max, n - 1, "NaN last");
            find_both(dt, n, x, NAN, max, 0, "NaN bound");
        }
        free(x);
        x = rnd(dt, n, SPECIAL); /* NaN at 3, +Inf at 10, -Inf at 17 */
        find_both(dt, n, x, -max, max, n > 3 ? 3 : -1, "NaN/Inf");
        if (n > 17) {
            lg_store(x, dt, 3, 0.0);
            find_both(dt, n, x, -max, max, 10, "+Inf first");
            lg_store(x, dt, 10, 0.0);
            find_both(dt, n, x, -max, max, 17, "-Inf first");
            find_both(dt, n, x, -INFINITY, INFINITY, 24, "Inf in range, NaN not");
        }
        free(x);
    }
    int32_t i32[6] = {3, 9, 0, 10, -1, INT32_MAX};
    int64_t i64[6] = {3, 9, 0, 10, -1, INT64_MAX};
    for (int t = 0; t < 2; t++) {
        lg_dtype it = t ? LG_I64 : LG_I32;
        const void *ix = t ? (const void *)i64 : (const void *)i32;
        find_both(it, 6, ix, 0, 9, 3, "index range");
        find_both(it, 3, ix, 0, 9, -1, "all inside");
        find_both(it, 6, ix, -1, 10, 5, "type max");
        find_both(it, 3, ix, -0.5, 9.5, -1, "fractional bounds round inwards");
        find_both(it, 3, ix, 0.5, 9, 2, "0 below ceil(0.5)");
        find_both(it, 6, ix, 5, 4, 0, "inverted");
        find_both(it, 6, ix, NAN, 9, 0, "NaN bound");
        find_both(it, 6, ix, -1e300, 1e300, -1, "beyond the type");
        find_both(it, 0, ix, 0, 0, -1, "empty");
    }
    int64_t big[3] = {((int64_t)1 << 62) + 1, ((int64_t)1 << 62), 5};
    find_both(LG_I64, 3, big, 0, 0x1p62, 0, "above 2^62 by one");
}

/* (outer, n, inner, k): size 1, empty, odd, and indices repeated */
static const int64_t igs[][4] = {
    {1, 5, 1, 3}, {3, 7, 4, 9}, {2, 4, 1, 0}, {0, 3, 2, 2}, {4, 1, 3, 5}, {2, 6, 0, 3},
    {1, 100, 33, 250},
};

/* Random indices in [0, n), as itype; shared ones are k entries, per-element ones
 * (outer, k, inner). */
static void *rnd_index(lg_dtype itype, int64_t count, int64_t n)
{
    void *p = malloc((size_t)(count > 0 ? count : 1) * 8);
    assert_non_null(p);
    for (int64_t i = 0; i < count; i++) {
        int64_t v = n > 0 ? (int64_t)(urand() * (double)n) : 0;
        if (itype == LG_I32)
            ((int32_t *)p)[i] = (int32_t)v;
        else
            ((int64_t *)p)[i] = v;
    }
    return p;
}

static void case_index(lg_dtype dt, int scatter)
{
    static const lg_dtype its[] = {LG_I32, LG_I64};
    for (size_t gi = 0; gi < sizeof igs / sizeof igs[0]; gi++)
        for (int it = 0; it < 2; it++)
            for (int pe = 0; pe < 2; pe++) {
                lg_index_geom ig = {igs[gi][0], igs[gi][1], igs[gi][2], igs[gi][3], pe, its[it]};
                if (ig.n == 0 && ig.k > 0)
                    continue;
                int64_t nidx = pe ? ig.outer * ig.k * ig.inner : ig.k;
                int64_t nbig = ig.outer * ig.n * ig.inner, nsmall = ig.outer * ig.k * ig.inner;
                void *idx = rnd_index(ig.itype, nidx, ig.n);
                if (!scatter) {
                    void *x = rnd(dt, nbig, SPECIAL), *y0 = rnd(dt, nsmall, 0),
                         *y1 = rnd(dt, nsmall, 0);
                    fast->gather(dt, &ig, idx, x, y0);
                    ref->gather(dt, &ig, idx, x, y1);
                    check("gather", pe ? "per element" : "shared", dt, y0, y1, nsmall);
                    free(x), free(y0), free(y1);
                } else {
                    void *x = rnd(dt, nsmall, SPECIAL), *y0 = rnd(dt, nbig, 0);
                    void *y1 = dup_of(y0, nbig, lg_dtype_size(dt));
                    fast->scatter_add(dt, &ig, idx, x, y0);
                    ref->scatter_add(dt, &ig, idx, x, y1);
                    check("scatter_add", pe ? "per element" : "shared", dt, y0, y1, nbig);
                    free(x), free(y0), free(y1);
                }
                free(idx);
            }
    if (scatter)
        return;
    /* gather moves any element type: integer rows (e.g. labels) by their indices */
    lg_index_geom ig = {2, 5, 3, 4, 0, LG_I64};
    int64_t idx[4] = {4, 0, 4, 2}, x[30], y0[24], y1[24];
    for (int i = 0; i < 30; i++)
        x[i] = 1000 + i;
    fast->gather(LG_I64, &ig, idx, x, y0);
    ref->gather(LG_I64, &ig, idx, x, y1);
    check_int("gather", "i64 elements", y0, y1, sizeof y0);
}
static void case_gather(lg_dtype dt) { case_index(dt, 0); }
static void case_scatter_add(lg_dtype dt) { case_index(dt, 1); }

/* Convolution geometries (n, c, h, w, co, kh, kw, sh, sw, ph, pw, dh, dw, groups); the
 * output size follows. Same padding, 1x1 (the CPU's no-im2col path), groups with stride
 * and dilation, a kernel as large as the padded input, one pixel, an empty batch, and a
 * batch large enough for the CPU's threads. */
static const int64_t cgs[][14] = {
    {2, 3, 7, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1}, {3, 2, 5, 5, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1},
    {2, 4, 8, 6, 6, 3, 2, 2, 1, 1, 0, 1, 2, 2}, {1, 2, 5, 5, 4, 5, 5, 2, 2, 2, 2, 1, 1, 1},
    {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1}, {0, 2, 4, 4, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    {8, 8, 16, 16, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1}, {2, 6, 7, 7, 6, 3, 3, 2, 2, 1, 1, 1, 1, 3},
};
static lg_conv_geom conv_geom(const int64_t *v)
{
    lg_conv_geom cg = {.n = v[0], .c = v[1], .h = v[2], .w = v[3], .co = v[4], .kh = v[5],
                       .kw = v[6], .sh = v[7], .sw = v[8], .ph = v[9], .pw = v[10],
                       .dh = v[11], .dw = v[12], .groups = v[13]};
    cg.ho = (cg.h + 2 * cg.ph - cg.dh * (cg.kh - 1) - 1) / cg.sh + 1;
    cg.wo = (cg.w + 2 * cg.pw - cg.dw * (cg.kw - 1) - 1) / cg.sw + 1;
    return cg;
}

static void *scratch_for(const lg_backend *be, lg_dtype dt, const lg_conv_geom *cg)
{
    size_t b = be->conv2d_scratch(dt, cg);
    void *p = aligned_alloc(64, (b + 63) / 64 * 64 + 64);
    assert_non_null(p);
    return p;
}

/* One case for the five convolution entries: conv2d_scratch is checked by use (each
 * backend runs in the scratch it asked for). */
static void case_conv(lg_dtype dt)
{
    for (size_t gi = 0; gi < sizeof cgs / sizeof cgs[0]; gi++)
        for (int mode = 0; mode < 2; mode++) {
            lg_conv_geom cg = conv_geom(cgs[gi]);
            int64_t nx = cg.n * cg.c * cg.h * cg.w, ny = cg.n * cg.co * cg.ho * cg.wo;
            int64_t nw = cg.co * (cg.c / cg.groups) * cg.kh * cg.kw;
            void *x = rnd(dt, nx, mode), *w = rnd(dt, nw, 0), *bias = rnd(dt, cg.co, 0);
            void *dy = rnd(dt, ny, mode);
            void *s0 = scratch_for(fast, dt, &cg), *s1 = scratch_for(ref, dt, &cg);
            void *y0 = rnd(dt, ny, 0), *y1 = rnd(dt, ny, 0);
            fast->conv2d(dt, &cg, x, w, mode ? NULL : bias, y0, s0);
            ref->conv2d(dt, &cg, x, w, mode ? NULL : bias, y1, s1);
            check("conv2d", "forward", dt, y0, y1, ny);
            void *dx0 = rnd(dt, nx, 0), *dx1 = rnd(dt, nx, 0);
            fast->conv2d_input_grad(dt, &cg, dy, w, dx0, s0);
            ref->conv2d_input_grad(dt, &cg, dy, w, dx1, s1);
            check("conv2d_input_grad", "dx", dt, dx0, dx1, nx);
            void *dw0 = rnd(dt, nw, 0), *dw1 = rnd(dt, nw, 0);
            fast->conv2d_weight_grad(dt, &cg, x, dy, dw0, s0);
            ref->conv2d_weight_grad(dt, &cg, x, dy, dw1, s1);
            check("conv2d_weight_grad", "dw", dt, dw0, dw1, nw);
            void *db0 = rnd(dt, cg.co, 0), *db1 = rnd(dt, cg.co, 0);
            fast->conv2d_bias_grad(dt, &cg, dy, db0);
            ref->conv2d_bias_grad(dt, &cg, dy, db1);
            check("conv2d_bias_grad", "db", dt, db0, db1, cg.co);
            record("conv2d_scratch", dt, 0);
            free(x), free(w), free(bias), free(dy), free(s0), free(s1), free(y0), free(y1);
            free(dx0), free(dx1), free(dw0), free(dw1), free(db0), free(db1);
        }
}

/* Pooling geometries (n, c, h, w, k, s, p), padding at most k / 2: 2x2 at stride 2 (the
 * CPU's fast path), odd sizes it leaves a row and column of, 3x3 padded, overlapping
 * windows, 1x1, an empty batch, and enough planes for threads. */
static const int64_t pgs[][7] = {
    {2, 3, 6, 6, 2, 2, 0}, {2, 2, 7, 5, 2, 2, 0}, {1, 2, 7, 7, 3, 2, 1}, {1, 1, 5, 5, 3, 1, 1},
    {2, 3, 4, 5, 1, 1, 0}, {0, 2, 4, 4, 2, 2, 0}, {16, 16, 32, 32, 2, 2, 0},
    {4, 4, 9, 11, 4, 3, 2},
};

static void case_pool(lg_dtype dt)
{
    for (size_t gi = 0; gi < sizeof pgs / sizeof pgs[0]; gi++)
        for (int mode = 0; mode < 3; mode++) {
            const int64_t *v = pgs[gi];
            lg_conv_geom cg = {.n = v[0], .c = v[1], .h = v[2], .w = v[3], .co = v[1],
                               .kh = v[4], .kw = v[4], .sh = v[5], .sw = v[5], .ph = v[6],
                               .pw = v[6], .dh = 1, .dw = 1, .groups = 1};
            cg.ho = (cg.h + 2 * cg.ph - cg.kh) / cg.sh + 1;
            cg.wo = (cg.w + 2 * cg.pw - cg.kw) / cg.sw + 1;
            int64_t nx = cg.n * cg.c * cg.h * cg.w, ny = cg.n * cg.c * cg.ho * cg.wo;
            void *x = rnd(dt, nx, mode), *y0 = rnd(dt, ny, 0), *y1 = rnd(dt, ny, 0);
            int32_t *i0 = calloc((size_t)ny + 1, 4), *i1 = calloc((size_t)ny + 1, 4);
            fast->max_pool(dt, &cg, x, y0, i0);
            ref->max_pool(dt, &cg, x, y1, i1);
            check("max_pool", "max", dt, y0, y1, ny);
            check_int("max_pool", "argmax", i0, i1, (size_t)ny * 4);
            /* the adjoints from the same indices */
            void *dy = rnd(dt, ny, mode == 2 ? SPECIAL : 0);
            void *dx0 = rnd(dt, nx, 0), *dx1 = rnd(dt, nx, 0);
            fast->pool_scatter(dt, &cg, dy, i0, dx0);
            ref->pool_scatter(dt, &cg, dy, i0, dx1);
            check("pool_scatter", "scatter", dt, dx0, dx1, nx);
            void *g0 = rnd(dt, ny, 0), *g1 = rnd(dt, ny, 0);
            fast->pool_gather(dt, &cg, x, i0, g0);
            ref->pool_gather(dt, &cg, x, i0, g1);
            check("pool_gather", "gather", dt, g0, g1, ny);
            fast->avg_pool(dt, &cg, x, y0);
            ref->avg_pool(dt, &cg, x, y1);
            check("avg_pool", "average", dt, y0, y1, ny);
            fast->avg_pool_adjoint(dt, &cg, dy, dx0);
            ref->avg_pool_adjoint(dt, &cg, dy, dx1);
            check("avg_pool_adjoint", "adjoint", dt, dx0, dx1, nx);
            free(x), free(y0), free(y1), free(i0), free(i1), free(dy), free(dx0), free(dx1);
            free(g0), free(g1);
        }
}

/* Batch norm (n, c, s): (N, C) and (N, C, H, W) views, one sample, odd planes, one
 * channel, and a size the CPU threads. No empty channel axis: lg_batch_norm refuses
 * C < 1, and the CPU kernel's block split divides by C. Inputs are finite: see the
 * closing note of case_bn. */
static const int64_t bns[][3] = {{4, 3, 5}, {7, 5, 1}, {1, 2, 3}, {2, 3, 51}, {3, 1, 4},
                                 {16, 8, 300}, {5, 1, 1}};

/* layer norm: (rows, d) with empty, size-1 and odd sizes, a threaded one, and a row
 * shifted by 100 (a large mean against a small spread); γ and β given or NULL in turn;
 * NaN/Inf inputs. Both backwards run from the fast forward's statistics, each output
 * alone as well (the others NULL). */
static void case_ln(lg_dtype dt)
{
    static const int64_t lns[][2] = {{0, 5}, {1, 1}, {7, 5}, {3, 128}, {768, 128}, {300, 33}};
    for (size_t i = 0; i < sizeof lns / sizeof lns[0]; i++)
        for (int special = 0; special < 2; special++) {
            int64_t rows = lns[i][0], d = lns[i][1], nx = rows * d;
            bool affine = (i + (size_t)special) % 2 == 0;
            void *x = rnd(dt, nx, special ? SPECIAL : PLAIN);
            for (int64_t q = 0; q < nx; q++)
                lg_store(x, dt, q, lg_load(x, dt, q) + (q / d % 2 ? 100 : 0));
            void *gamma = affine ? rnd(dt, d, 0) : NULL, *beta = affine ? rnd(dt, d, 0) : NULL;
            void *y[2], *m[2], *r[2], *dx[2], *dg[2], *db[2], *gy = rnd(dt, nx, 0);
            for (int k = 0; k < 2; k++) {
                y[k] = rnd(dt, nx, 0), m[k] = rnd(dt, rows, 0), r[k] = rnd(dt, rows, 0);
                dx[k] = rnd(dt, nx, 0), dg[k] = rnd(dt, d, 0), db[k] = rnd(dt, d, 0);
                (k ? ref : fast)->ln_forward(dt, rows, d, x, gamma, beta, 1e-5, y[k], m[k],
                                             r[k]);
            }
            const char *what = special ? "NaN/Inf" : affine ? "affine" : "plain";
            check("ln_forward", what, dt, y[0], y[1], nx);
            check("ln_forward", "mean", dt, m[0], m[1], rows);
            check("ln_forward", "rstd", dt, r[0], r[1], rows);
            for (int k = 0; k < 2; k++)
                (k ? ref : fast)->ln_backward(dt, rows, d, gy, x, gamma, m[0], r[0], dx[k],
                                              dg[k], db[k]);
            check("ln_backward", "dx", dt, dx[0], dx[1], nx);
            check("ln_backward", "dgamma", dt, dg[0], dg[1], d);
            check("ln_backward", "dbeta", dt, db[0], db[1], d);
            /* each output alone, into fresh buffers: the same values */
            void *only = rnd(dt, nx > d ? nx : d, 0);
            fast->ln_backward(dt, rows, d, gy, x, gamma, m[0], r[0], only, NULL, NULL);
            check("ln_backward", "dx alone", dt, only, dx[1], nx);
            fast->ln_backward(dt, rows, d, gy, x, gamma, m[0], r[0], NULL, only, NULL);
            check("ln_backward", "dgamma alone", dt, only, dg[1], d);
            ref->ln_backward(dt, rows, d, gy, x, gamma, m[0], r[0], NULL, NULL, only);
            check("ln_backward", "dbeta alone", dt, only, db[1], d);
            free(only), free(x), free(gamma), free(beta), free(gy);
            for (int k = 0; k < 2; k++)
                free(y[k]), free(m[k]), free(r[k]), free(dx[k]), free(dg[k]), free(db[k]);
        }
}

static void case_bn(lg_dtype dt)
{
    for (size_t i = 0; i < sizeof bns / sizeof bns[0]; i++) {
        lg_bn_dims d = {bns[i][0], bns[i][1], bns[i][2], bns[i][0] * bns[i][2]};
        int64_t nx = d.n * d.c * d.s;
        void *x = rnd(dt, nx, 0), *gamma = rnd(dt, d.c, 0), *beta = rnd(dt, d.c, 0);
        /* a large mean against a small spread: the CPU's shifted one-pass statistics */
        for (int64_t q = 0; q < nx; q++)
            lg_store(x, dt, q, lg_load(x, dt, q) + (q / d.s % 2 ? 100 : 0));
        void *y0 = rnd(dt, nx, 0), *y1 = rnd(dt, nx, 0);
        void *m0 = rnd(dt, d.c, 0), *m1 = rnd(dt, d.c, 0), *r0 = rnd(dt, d.c, 0),
             *r1 = rnd(dt, d.c, 0);
        void *v0 = rnd(dt, d.c, 0), *v1 = rnd(dt, d.c, 0);
        fast->bn_forward(dt, &d, x, gamma, beta, 1e-5, y0, m0, r0, v0);
        ref->bn_forward(dt, &d, x, gamma, beta, 1e-5, y1, m1, r1, v1);
        check("bn_forward", "y", dt, y0, y1, nx);
        check("bn_forward", "mean", dt, m0, m1, d.c);
        check("bn_forward", "rstd", dt, r0, r1, d.c);
        check("bn_forward", "var", dt, v0, v1, d.c);
        if (d.m > 1) {
            /* both backwards from the fast forward's statistics */
            void *gy = rnd(dt, nx, 0), *dx0 = rnd(dt, nx, 0), *dx1 = rnd(dt, nx, 0);
            void *dg0 = rnd(dt, d.c, 0), *dg1 = rnd(dt, d.c, 0), *db0 = rnd(dt, d.c, 0),
                 *db1 = rnd(dt, d.c, 0);
            fast->bn_backward(dt, &d, gy, x, gamma, m0, r0, dx0, dg0, db0);
            ref->bn_backward(dt, &d, gy, x, gamma, m0, r0, dx1, dg1, db1);
            check("bn_backward", "dx", dt, dx0, dx1, nx);
            check("bn_backward", "dgamma", dt, dg0, dg1, d.c);
            check("bn_backward", "dbeta", dt, db0, db1, d.c);
            free(gy), free(dx0), free(dx1), free(dg0), free(dg1), free(db0), free(db1);
        }
        free(x), free(gamma), free(beta), free(y0), free(y1), free(m0), free(m1), free(r0);
        free(r1), free(v0), free(v1);
    }
    /* NaN and Inf inputs: every statistic of their channels is NaN on both backends (the
     * CPU's clamp of a rounding-negative variance keeps NaN). */
    lg_bn_dims d = {4, 3, 5, 20};
    void *x = rnd(dt, 60, SPECIAL), *gamma = rnd(dt, 3, 0), *beta = rnd(dt, 3, 0);
    void *y[2], *m[2], *r[2], *v[2];
    for (int k = 0; k < 2; k++) {
        y[k] = rnd(dt, 60, 0), m[k] = rnd(dt, 3, 0), r[k] = rnd(dt, 3, 0), v[k] = rnd(dt, 3, 0);
        (k ? ref : fast)->bn_forward(dt, &d, x, gamma, beta, 1e-5, y[k], m[k], r[k], v[k]);
    }
    check("bn_forward", "y, NaN/Inf inputs", dt, y[0], y[1], 60);
    check("bn_forward", "mean, NaN/Inf inputs", dt, m[0], m[1], 3);
    check("bn_forward", "rstd, NaN/Inf inputs", dt, r[0], r[1], 3);
    check("bn_forward", "var, NaN/Inf inputs", dt, v[0], v[1], 3);
    free(x), free(gamma), free(beta);
    for (int k = 0; k < 2; k++)
        free(y[k]), free(m[k]), free(r[k]), free(v[k]);
}

/* rng_fill: the three distributions from one seed and a counter past 2^32, empty, odd and
 * threaded sizes. Both backends compute draw i from (seed, counter + i) alone, so the
 * fills must agree to the last bit, whatever the split over threads. */
static void case_rng_fill(lg_dtype dt)
{
    static const int64_t ns[] = {0, 1, 7, 1001, 40000};
    static const struct { lg_rng_kind k; double a, b; const char *name; } ks[] = {
        {LG_RNG_UNIFORM, -1, 3, "uniform"}, {LG_RNG_NORMAL, 0.5, 2, "normal"},
        {LG_RNG_KEEP_MASK, 0.3, 1 / 0.7, "keep mask"},
    };
    for (size_t ki = 0; ki < 3; ki++)
        for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
            int64_t n = ns[ni];
            void *y0 = rnd(dt, n, 0), *y1 = rnd(dt, n, 0);
            fast->rng_fill(ks[ki].k, dt, n, y0, 42, ((uint64_t)1 << 32) + 5, ks[ki].a, ks[ki].b);
            ref->rng_fill(ks[ki].k, dt, n, y1, 42, ((uint64_t)1 << 32) + 5, ks[ki].a, ks[ki].b);
            check_int("rng_fill", ks[ki].name, y0, y1, (size_t)n * lg_dtype_size(dt));
            free(y0), free(y1);
        }
}

/* dot: empty, odd and long vectors, and NaN/Inf propagating. */
static void case_dot(lg_dtype dt)
{
    static const int64_t ns[] = {0, 1, 7, 1001, 40000};
    for (int special = 0; special < 2; special++)
        for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
            int64_t n = ns[ni];
            void *x = rnd(dt, n, special ? SPECIAL : PLAIN), *y = rnd(dt, n, 0);
            double got = fast->dot(dt, n, x, y), want = ref->dot(dt, n, x, y);
            check_as("dot", special ? "NaN/Inf" : "plain", dt, LG_F64, &got, &want, 1);
            free(x), free(y);
        }
}

/* optim_update: SGD (plain, momentum first and later steps, Nesterov, weight decay), Adam
 * and AdamW constants for step 3, over several segments (one empty, one above the CPU's
 * threading threshold in total), zero_grad on. */
static void case_optim_update(lg_dtype dt)
{
    lg_optim_hyper hs[] = {
        {.lr = 0.1},
        {.lr = 0.1, .mu = 0.9, .damp = 1, .first = true, .wd = 0.01},
        {.lr = 0.1, .mu = 0.9, .damp = 0.8, .nesterov = true, .zero_grad = true},
        {.adam = true, .lr = 1e-3, .b1 = 0.9, .b2 = 0.999, .eps = 1e-8, .wd = 0.01,
         .step = 1e-3 / (1 - 0.729), .inv_sqrt_bc2 = 1 / sqrt(1 - 0.997002999), .shrink = 1},
        {.adam = true, .lr = 1e-3, .b1 = 0.9, .b2 = 0.99, .eps = 1e-8, .zero_grad = true,
         .step = 1e-3 / (1 - 0.729), .inv_sqrt_bc2 = 1 / sqrt(1 - 0.970299), .shrink = 1 - 1e-4},
    };
    static const int64_t ns[] = {0, 7, 1001, 70000};
    enum { NS = sizeof ns / sizeof ns[0] };
    for (size_t hi = 0; hi < sizeof hs / sizeof hs[0]; hi++) {
        void *st[2][NS][4]; /* backend, segment, {x, g, m, v} */
        lg_optim_seg seg[2][NS];
        for (int s = 0; s < NS; s++) {
            void *init[4] = {rnd(dt, ns[s], 0), rnd(dt, ns[s], 0), rnd(dt, ns[s], 0),
                             rnd(dt, ns[s], 0)};
            for (int64_t i = 0; i < ns[s]; i++) /* a second moment is never negative */
                lg_store(init[3], dt, i, fabs(lg_load(init[3], dt, i)));
            for (int b = 0; b < 2; b++) {
                for (int k = 0; k < 4; k++)
                    st[b][s][k] = dup_of(init[k], ns[s], lg_dtype_size(dt));
                seg[b][s] = (lg_optim_seg){ns[s], st[b][s][0], st[b][s][1], st[b][s][2],
                                           hs[hi].adam ? st[b][s][3] : NULL};
            }
            for (int k = 0; k < 4; k++)
                free(init[k]);
        }
        fast->optim_update(&hs[hi], dt, NS, seg[0]);
        ref->optim_update(&hs[hi], dt, NS, seg[1]);
        static const char *what[4] = {"x", "g", "m", "v"};
        for (int s = 0; s < NS; s++)
            for (int k = 0; k < 4; k++) {
                check("optim_update", what[k], dt, st[0][s][k], st[1][s][k], ns[s]);
                free(st[0][s][k]), free(st[1][s][k]);
            }
    }
}

/* ---- linalg: the `linalg` entry kind by kind, and `tri_map` ---- */

/* Runs one linalg kind on be with the workspace it asks for. */
static int64_t la_on(const lg_backend *be, lg_linalg_kind k, lg_dtype dt, lg_linalg_args *a)
{
    a->work = NULL;
    assert_int_equal(be->linalg(k, dt, a), 0);
    void *w = aligned_alloc(64, (a->work_bytes + 63) / 64 * 64 + 64);
    assert_non_null(w);
    a->work = w;
    int64_t info = be->linalg(k, dt, a);
    free(w);
    return info;
}

/* Both backends on copies of one argument set; the outputs x, y, z (nx, ny, nz elements)
 * come back in got[] (fast) and want[] (reference); both infos must agree in sign, and
 * exactly when `exact`. */
typedef struct la_run2 {
    void *got[3], *want[3];
    lg_linalg_args fa, ra;
    int64_t info;
} la_run2;
static la_run2 la_both(lg_linalg_kind k, lg_dtype dt, lg_linalg_args a, const int64_t *nout,
                       bool exact)
{
    la_run2 r = {.fa = a, .ra = a};
    void **slot_f[3] = {&r.fa.x, &r.fa.y, &r.fa.z}, **slot_r[3] = {&r.ra.x, &r.ra.y, &r.ra.z};
    for (int i = 0; i < 3; i++)
        if (nout[i] >= 0) {
            r.got[i] = rnd(dt, nout[i], 0);
            r.want[i] = rnd(dt, nout[i], 0);
            *slot_f[i] = r.got[i];
            *slot_r[i] = r.want[i];
        }
    int64_t i0 = la_on(fast, k, dt, &r.fa), i1 = la_on(ref, k, dt, &r.ra);
    if (exact ? i0 != i1 : (i0 > 0) != (i1 > 0) || i0 < 0 || i1 < 0) {
        print_error("linalg kind %d: info %lld on the fast backend, %lld on the reference\n",
                    (int)k, (long long)i0, (long long)i1);
        fail();
    }
    r.info = i0;
    return r;
}
static void la_free(la_run2 *r)
{
    for (int i = 0; i < 3; i++)
        free(r->got[i]), free(r->want[i]);
}

/* Random (m,n) matrices: plain; symmetric; SPD (B Bᵀ + n I); triangular with a diagonal
 * away from zero. */
enum { GENERAL, SYMMETRIC, SPD, TRIANGULAR };
static void *mat_of(lg_dtype dt, int64_t m, int64_t n, int kind)
{
    void *p = rnd(dt, m * n, 0);
    if (kind == GENERAL)
        return p;
    double *d = calloc((size_t)(m * n + 1), 8);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double v = lg_load(p, dt, i * n + j);
            if (kind == SYMMETRIC)
                v = (v + lg_load(p, dt, j * n + i)) / 2;
            if (kind == SPD) {
                v = i == j ? (double)n : 0;
                for (int64_t l = 0; l < n; l++)
                    v += lg_load(p, dt, i * n + l) * lg_load(p, dt, j * n + l);
            }
            if (kind == TRIANGULAR && i == j)
                v = (v < 0 ? -1 : 1) * (1.5 + fabs(v));
            d[i * n + j] = v;
        }
    for (int64_t i = 0; i < m * n; i++)
        lg_store(p, dt, i, d[i]);
    free(d);
    return p;
}

/* Column j of x (rows, cols) (or row j when `rows_are_vectors`) scaled by -1 when its
 * largest |entry| is negative: singular and eigenvectors compared up to their sign. */
static void sign_fix(lg_dtype dt, void *x, int64_t rows, int64_t cols, int64_t nvec,
                     bool rows_are_vectors, void *partner, int64_t pcols)
{
    for (int64_t j = 0; j < nvec; j++) {
        double best = 0;
        int64_t len = rows_are_vectors ? cols : rows;
        for (int64_t i = 0; i < len; i++) {
            double v = lg_load(x, dt, rows_are_vectors ? j * cols + i : i * cols + j);
            if (fabs(v) > fabs(best) + 1e-3)
                best = v;
        }
        if (best >= 0)
            continue;
        for (int64_t i = 0; i < len; i++) {
            int64_t at = rows_are_vectors ? j * cols + i : i * cols + j;
            lg_store(x, dt, at, -lg_load(x, dt, at));
        }
        for (int64_t i = 0; partner && i < pcols; i++) /* the paired row of Vᵀ */
            lg_store(partner, dt, j * pcols + i, -lg_load(partner, dt, j * pcols + i));
    }
}

static const int64_t la_sq[] = {0, 1, 2, 5, 17, 40};
static const int64_t la_mn[][2] = {{0, 3}, {3, 0}, {1, 1}, {5, 3}, {3, 5}, {7, 7},
                                   {17, 6}, {6, 17}, {40, 33}};

static void case_la_factor(lg_dtype dt)
{
    for (size_t si = 0; si < sizeof la_sq / sizeof la_sq[0]; si++) {
        int64_t n = la_sq[si], nn = n * n;
        for (int64_t batch = 0; batch <= (n == 5 ? 3 : 1); batch++) {
            /* Cholesky of a batch of SPD matrices, and a non-SPD one */
            void *a = rnd(dt, batch * nn, 0);
            for (int64_t b = 0; b < batch; b++) {
                void *s = mat_of(dt, n, n, SPD);
                memcpy((char *)a + (size_t)(b * nn) * lg_dtype_size(dt), s,
                       (size_t)nn * lg_dtype_size(dt));
                free(s);
            }
            la_run2 r = la_both(LG_LA_CHOLESKY, dt, (lg_linalg_args){.batch = batch, .n = n,
                                .a = a}, (int64_t[]){batch * nn, -1, -1}, true);
            check("linalg", "cholesky L", dt, r.got[0], r.want[0], batch * nn);
            la_free(&r);
            free(a);
        }
        if (n >= 2) {
            void *a = mat_of(dt, n, n, SPD);
            lg_store(a, dt, (n - 1) * n + n - 1, -1.0);
            la_run2 r = la_both(LG_LA_CHOLESKY, dt, (lg_linalg_args){.batch = 1, .n = n, .a = a},
                                (int64_t[]){nn, -1, -1}, true);
            assert_int_equal(r.info, n);
            la_free(&r);
            free(a);
        }
        /* LU: its det, sign and log|det|, and the solves through it (the factors are each
         * backend's own layout); then a singular matrix */
        for (int sing = 0; sing < (n >= 2 ? 2 : 1); sing++) {
            void *a = mat_of(dt, n, n, GENERAL);
            for (int64_t j = 0; sing && j < n; j++)
                lg_store(a, dt, 1 * n + j, 0.0);
            int32_t *piv[2] = {calloc((size_t)n + 1, 4), calloc((size_t)n + 1, 4)};
            void *f[2] = {rnd(dt, nn, 0), rnd(dt, nn, 0)}, *det[2] = {rnd(dt, 3, 0), rnd(dt, 3, 0)};
            const lg_backend *be[2] = {fast, ref};
            int64_t info[2];
            for (int b = 0; b < 2; b++) {
                lg_linalg_args la = {.batch = 1, .n = n, .a = a, .x = f[b], .y = det[b], .piv = piv[b]};
                info[b] = la_on(be[b], LG_LA_LU, dt, &la);
            }
            assert_true(info[0] >= 0 && info[1] >= 0 && (info[0] > 0) == (info[1] > 0));
            assert_true((info[0] > 0) == sing);
            check("linalg", "lu det, sign, log|det|", dt, det[0], det[1], 3);
            for (int k = 1; !sing && k <= 3; k += 2)
                for (int tr = 0; tr < 2; tr++) {
                    void *b = rnd(dt, n * k, 0), *x[2] = {rnd(dt, n * k, 0), rnd(dt, n * k, 0)};
                    for (int e = 0; e < 2; e++) {
                        lg_linalg_args s = {.batch = 1, .n = n, .k = k, .a = f[e], .piv = piv[e], .b = b,
                                            .x = x[e], .trans = tr};
                        assert_int_equal(la_on(be[e], LG_LA_LU_SOLVE, dt, &s), 0);
                    }
                    check("linalg", "lu_solve", dt, x[0], x[1], n * k);
                    free(b), free(x[0]), free(x[1]);
                }
            free(a), free(piv[0]), free(piv[1]), free(f[0]), free(f[1]), free(det[0]);
            free(det[1]);
        }
        /* eigh: values, and vectors up to sign; a batch of three at n = 5 */
        for (int64_t batch = 1; batch <= (n == 5 ? 3 : 1); batch += 2) {
            void *a = rnd(dt, batch * nn, 0);
            for (int64_t b = 0; b < batch; b++) {
                void *s = mat_of(dt, n, n, SYMMETRIC);
                memcpy((char *)a + (size_t)(b * nn) * lg_dtype_size(dt), s,
                       (size_t)nn * lg_dtype_size(dt));
                free(s);
            }
            la_run2 r = la_both(LG_LA_EIGH, dt, (lg_linalg_args){.batch = batch, .n = n,
                                .a = a}, (int64_t[]){batch * n, batch * nn, -1}, true);
            check("linalg", "eigh values", dt, r.got[0], r.want[0], batch * n);
            for (int64_t b = 0; b < batch; b++) {
                size_t off = (size_t)(b * nn) * lg_dtype_size(dt);
                sign_fix(dt, (char *)r.got[1] + off, n, n, n, false, NULL, 0);
                sign_fix(dt, (char *)r.want[1] + off, n, n, n, false, NULL, 0);
            }
            check("linalg", "eigh vectors (up to sign)", dt, r.got[1], r.want[1], batch * nn);
            la_free(&r);
            free(a);
        }
        /* triangular inverse, and a zero on the diagonal */
        for (int z = 0; z < (n >= 2 ? 2 : 1); z++) {
            void *a = mat_of(dt, n, n, TRIANGULAR);
            if (z)
                lg_store(a, dt, n + 1, 0.0);
            la_run2 r = la_both(LG_LA_TRI_INV, dt, (lg_linalg_args){.batch = 1, .n = n, .a = a},
                                (int64_t[]){nn, -1, -1}, true);
            if (z)
                assert_int_equal(r.info, 2);
            else
                check("linalg", "tri_inv", dt, r.got[0], r.want[0], nn);
            la_free(&r);
            free(a);
        }
    }
}

/* U and Vᵀ of the SVD compared up to the sign of each pair; the columns of a full U past
 * k (any basis of the complement) through their projector U₂ U₂ᵀ. */
static void check_svd_vectors(lg_dtype dt, int64_t m, int64_t n, bool full, la_run2 *r)
{
    int64_t k = m < n ? m : n, uc = full ? m : k;
    void *u[2] = {r->got[1], r->want[1]}, *vt[2] = {r->got[2], r->want[2]};
    for (int b = 0; b < 2; b++)
        sign_fix(dt, u[b], m, uc, k, false, vt[b], n);
    for (int part = 0; part < 2; part++) {
        /* part 0: the first k vectors; part 1: projectors on the rest */
        int64_t len = part ? (full ? m * m + n * n : 0) : m * k + k * n;
        double *d[2];
        for (int b = 0; b < 2; b++) {
            d[b] = calloc((size_t)len + 1, 8);
            int64_t at = 0;
            if (!part) {
                for (int64_t i = 0; i < m; i++)
                    for (int64_t j = 0; j < k; j++)
                        d[b][at++] = lg_load(u[b], dt, i * uc + j);
                for (int64_t i = 0; i < k * n; i++)
                    d[b][at++] = lg_load(vt[b], dt, i);
                continue;
            }
            for (int64_t i = 0; len && i < m; i++)
                for (int64_t j = 0; j < m; j++, at++)
                    for (int64_t l = k; l < m; l++)
                        d[b][at] += lg_load(u[b], dt, i * m + l) * lg_load(u[b], dt, j * m + l);
            for (int64_t i = 0; len && i < n; i++)
                for (int64_t j = 0; j < n; j++, at++)
                    for (int64_t l = k; l < n; l++)
                        d[b][at] += lg_load(vt[b], dt, l * n + i) * lg_load(vt[b], dt, l * n + j);
        }
        check_as("linalg", part ? "svd complement projectors" : "svd vectors (up to sign)",
                 dt, LG_F64, d[0], d[1], len);
        free(d[0]), free(d[1]);
    }
}

static void case_la_rect(lg_dtype dt)
{
    for (size_t si = 0; si < sizeof la_mn / sizeof la_mn[0]; si++) {
        int64_t m = la_mn[si][0], n = la_mn[si][1], k = m < n ? m : n;
        void *a = mat_of(dt, m, n, GENERAL);
        for (int full = 0; full < 2; full++) {
            int64_t uc = full ? m : k, vr = full ? n : k;
            la_run2 r = la_both(LG_LA_SVD, dt, (lg_linalg_args){.batch = 1, .m = m, .n = n, .full = full,
                                .a = a}, (int64_t[]){k, m * uc, vr * n}, true);
            check("linalg", "svd values", dt, r.got[0], r.want[0], k);
            check_svd_vectors(dt, m, n, full, &r);
            la_free(&r);
        }
        lg_linalg_args only_s = {.batch = 1, .m = m, .n = n, .a = a};
        la_run2 r = la_both(LG_LA_SVD, dt, only_s, (int64_t[]){k, -1, -1}, true);
        check("linalg", "svd values without vectors", dt, r.got[0], r.want[0], k);
        la_free(&r);
        r = la_both(LG_LA_QR, dt, (lg_linalg_args){.batch = 1, .m = m, .n = n, .a = a},
                    (int64_t[]){m * k, k * n, -1}, true);
        check("linalg", "qr Q", dt, r.got[0], r.want[0], m * k);
        check("linalg", "qr R", dt, r.got[1], r.want[1], k * n);
        la_free(&r);
        r = la_both(LG_LA_PLU, dt, (lg_linalg_args){.batch = 1, .m = m, .n = n, .a = a},
                    (int64_t[]){m * m, m * k, k * n}, true);
        check("linalg", "plu P", dt, r.got[0], r.want[0], m * m);
        check("linalg", "plu L", dt, r.got[1], r.want[1], m * k);
        check("linalg", "plu U", dt, r.got[2], r.want[2], k * n);
        la_free(&r);
        r = la_both(LG_LA_PINV, dt, (lg_linalg_args){.batch = 1, .m = m, .n = n, .a = a, .alpha = 1e-6},
                    (int64_t[]){n * m, -1, -1}, true);
        check("linalg", "pinv", dt, r.got[0], r.want[0], n * m);
        la_free(&r);
        /* least squares with 0, 1 and 3 right-hand sides, and A with a repeated column
         * (rank deficient) */
        for (int64_t c = 0; c <= 3; c += (c ? 2 : 1))
            for (int dup = 0; dup < (n >= 2 ? 2 : 1); dup++) {
                for (int64_t i = 0; dup && i < m; i++)
                    lg_store(a, dt, i * n + 1, lg_load(a, dt, i * n));
                void *b = rnd(dt, m * c, 0);
                lg_linalg_args la = {.batch = 1, .m = m, .n = n, .k = c, .a = a, .b = c ? b : NULL,
                                     .alpha = 1e-5};
                r = la_both(LG_LA_LSTSQ, dt, la, (int64_t[]){n * c, k, c}, true);
                assert_int_equal(r.fa.rank, r.ra.rank);
                check("linalg", "lstsq x", dt, r.got[0], r.want[0], n * c);
                check("linalg", "lstsq singular values", dt, r.got[1], r.want[1], k);
                if (m > n && r.fa.rank == n)
                    check("linalg", "lstsq residuals", dt, r.got[2], r.want[2], c);
                la_free(&r);
                free(b);
            }
        free(a);
    }
}

static void case_la_tri(lg_dtype dt)
{
    for (size_t si = 0; si < sizeof la_sq / sizeof la_sq[0]; si++) {
        int64_t n = la_sq[si], nn = n * n;
        void *a = mat_of(dt, n, n, TRIANGULAR);
        for (int up = 0; up < 2; up++)
            for (int tr = 0; tr < 2; tr++)
                for (int64_t k = 1; k <= 4; k += 3) {
                    void *b = rnd(dt, n * k, 0);
                    lg_linalg_args la = {.batch = 1, .n = n, .k = k, .a = a, .b = b, .upper = up,
                                         .trans = tr};
                    la_run2 r = la_both(LG_LA_TRSM, dt, la, (int64_t[]){n * k, -1, -1}, true);
                    check("linalg", "trsm", dt, r.got[0], r.want[0], n * k);
                    la_free(&r);
                    /* trmm on either side (finite B: where a NaN of B meets a zero past the
                     * triangle, OpenBLAS's kernels sometimes multiply and sometimes skip) */
                    for (int right = 0; right < 2; right++) {
                        int64_t rows = right ? k : n, cols = right ? n : k;
                        void *bb = rnd(dt, rows * cols, 0);
                        lg_linalg_args lm = {.batch = 1, .m = rows, .n = cols, .k = n, .a = a, .b = bb,
                                             .upper = up, .trans = tr, .right = right,
                                             .alpha = -0.7};
                        r = la_both(LG_LA_TRMM, dt, lm, (int64_t[]){rows * cols, -1, -1}, true);
                        check("linalg", "trmm", dt, r.got[0], r.want[0], rows * cols);
                        la_free(&r);
                        free(bb);
                    }
                    free(b);
                }
        if (n >= 2) { /* a zero on the diagonal is found before any solving */
            lg_store(a, dt, nn - 1, 0.0);
            void *b = rnd(dt, n, 0);
            lg_linalg_args la = {.batch = 1, .n = n, .k = 1, .a = a, .b = b};
            la_run2 r = la_both(LG_LA_TRSM, dt, la, (int64_t[]){n, -1, -1}, true);
            assert_int_equal(r.info, n);
            la_free(&r);
            free(b);
        }
        free(a);
        /* the symmetric sandwich V ½(S + Sᵀ) Vᵀ, V (m,n) */
        for (int64_t m = 0; m <= 7; m += 3) {
            void *v = rnd(dt, m * n, 0), *s = rnd(dt, nn, 0);
            lg_linalg_args la = {.batch = 1, .m = m, .k = n, .a = v, .b = s};
            la_run2 r = la_both(LG_LA_SYM_SANDWICH, dt, la, (int64_t[]){m * m, -1, -1}, true);
            check("linalg", "sym_sandwich", dt, r.got[0], r.want[0], m * m);
            la_free(&r);
            free(v), free(s);
        }
    }
}

/* nrm2 (with elements whose squares overflow), the asymmetry scan and the gap scan. */
static void case_la_scans(lg_dtype dt)
{
    static const int64_t ns[] = {0, 1, 7, 1000};
    double big = dt == LG_F32 ? 1e25 : 1e200;
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
        for (int scale = 0; scale < 2; scale++) {
            int64_t n = ns[i];
            void *x = rnd(dt, 2 * n, 0);
            for (int64_t j = 0; scale && j < 2 * n; j++)
                lg_store(x, dt, j, big * lg_load(x, dt, j));
            la_run2 r = la_both(LG_LA_NRM2, dt, (lg_linalg_args){.batch = 2, .n = n, .a = x},
                                (int64_t[]){2, -1, -1}, true);
            for (int j = 0; scale && j < 2; j++) { /* back to a range check() can square */
                lg_store(r.got[0], dt, j, lg_load(r.got[0], dt, j) / big);
                lg_store(r.want[0], dt, j, lg_load(r.want[0], dt, j) / big);
            }
            check("linalg", "nrm2", dt, r.got[0], r.want[0], 2);
            la_free(&r);
            free(x);
        }
    for (size_t si = 0; si < sizeof la_sq / sizeof la_sq[0]; si++) {
        int64_t n = la_sq[si];
        void *a = mat_of(dt, n, n, SYMMETRIC);
        for (int bad = 0; bad < (n >= 3 ? 3 : 1); bad++) {
            if (bad) /* (2,1), then also (1,0), which comes first */
                lg_store(a, dt, bad == 1 ? 2 * n + 1 : n, 5.0);
            lg_linalg_args la = {.batch = 1, .n = n, .a = a, .alpha = 1e-4};
            la_run2 r = la_both(LG_LA_ASYMMETRY, dt, la, (int64_t[]){-1, -1, -1}, true);
            assert_int_equal(r.info, bad == 0 ? 0 : bad == 1 ? 2 * n + 2 : n + 1);
            check_as("linalg", "asymmetry tol", dt, LG_F64, r.fa.r, r.ra.r, bad ? 2 : 1);
        }
        free(a);
        /* sorted values with a repeat at 3, 4 (n = 17, 40), or a zero last value */
        void *v = rnd(dt, n, 0);
        for (int64_t j = 0; j < n; j++)
            lg_store(v, dt, j, (double)(n - j) + (n > 5 && j == 4 ? 1 : 0));
        for (int last = 0; last < 2; last++) {
            if (last && n > 0)
                lg_store(v, dt, n - 1, 0.0);
            lg_linalg_args la = {.batch = 1, .n = n, .a = v, .alpha = 1e-6, .upper = true};
            la_run2 r = la_both(LG_LA_GAPS, dt, la, (int64_t[]){-1, -1, -1}, true);
            check_as("linalg", "gaps tol and gap", dt, LG_F64, r.fa.r, r.ra.r, r.info ? 2 : 1);
            la_free(&r);
        }
        free(v);
    }
}

static void case_linalg(lg_dtype dt)
{
    case_la_factor(dt);
    case_la_rect(dt);
    case_la_tri(dt);
    case_la_scans(dt);
}

/* Every tri_map kind over batches of 0, 1 and 3, sizes 0 to 33, NaN and Inf in x. */
static void case_tri_map(lg_dtype dt)
{
    static const int64_t ns[] = {0, 1, 2, 5, 17, 33};
    static const double cs[][3] = {{0, 1, 0}, {1, 0.5, 0}, {0, 0.5, 1}, {-2, 3, 0.25}};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
        for (int64_t batch = 0; batch <= 3; batch += batch ? 2 : 1)
            for (int mode = 0; mode < 2; mode++) {
                int64_t n = ns[i], nm = batch * n * n, nv = batch * n;
                void *x = rnd(dt, nm, mode), *x2 = rnd(dt, nm, mode), *y0 = rnd(dt, nm, 0);
                void *y1 = rnd(dt, nm, 0), *lam = rnd(dt, nv, 0), *g = rnd(dt, nv, mode);
                for (int64_t j = 0; j < nv; j++) /* sorted, distinct values per matrix */
                    lg_store(lam, dt, j, (double)(j % (n ? n : 1)) + 0.25 * lg_load(lam, dt, j));
                for (int c = 0; c < 4; c++) {
                    const void *in[1] = {c == 3 ? NULL : x};
                    fast->tri_map(LG_TRI_SCALE, dt, batch, n, in, y0, cs[c]);
                    ref->tri_map(LG_TRI_SCALE, dt, batch, n, in, y1, cs[c]);
                    check("tri_map", "scale", dt, y0, y1, nm);
                }
                const void *in1[1] = {x};
                double s = -0.5;
                fast->tri_map(LG_TRI_SYM_FROM_LOWER, dt, batch, n, in1, y0, &s);
                ref->tri_map(LG_TRI_SYM_FROM_LOWER, dt, batch, n, in1, y1, &s);
                check("tri_map", "sym_from_lower", dt, y0, y1, nm);
                fast->tri_map(LG_TRI_FOLD_LOWER, dt, batch, n, in1, y0, &s);
                ref->tri_map(LG_TRI_FOLD_LOWER, dt, batch, n, in1, y1, &s);
                check("tri_map", "fold_lower", dt, y0, y1, nm);
                const void *ineig[3] = {x, lam, g};
                fast->tri_map(LG_TRI_EIGH_GAP, dt, batch, n, ineig, y0, NULL);
                ref->tri_map(LG_TRI_EIGH_GAP, dt, batch, n, ineig, y1, NULL);
                check("tri_map", "eigh_gap", dt, y0, y1, nm);
                for (int absent = 0; absent < 3; absent++) {
                    const void *insvd[4] = {absent == 1 ? NULL : x, absent == 2 ? NULL : x2,
                                            lam, g};
                    fast->tri_map(LG_TRI_SVD_GAP, dt, batch, n, insvd, y0, NULL);
                    ref->tri_map(LG_TRI_SVD_GAP, dt, batch, n, insvd, y1, NULL);
                    check("tri_map", "svd_gap", dt, y0, y1, nm);
                }
                free(x), free(x2), free(y0), free(y1), free(lam), free(g);
            }
}

/* ---- the coverage table: every function slot of struct lg_backend and its case ---- */

typedef void (*case_fn)(lg_dtype dt);
typedef struct entry_case {
    size_t offset;
    const char *name;
    case_fn run;
} entry_case;

#define ENTRY(field, fn) {offsetof(lg_backend, field), #field, fn}
static const entry_case cases[] = {
    ENTRY(mem_alloc, case_mem), ENTRY(mem_free, case_mem), ENTRY(mem_copy, case_mem),
    ENTRY(unary, case_unary), ENTRY(binary, case_binary), ENTRY(where, case_where),
    ENTRY(reduce, case_reduce), ENTRY(sum_to, case_sum_to), ENTRY(softmax, case_softmax),
    ENTRY(logsumexp, case_softmax), ENTRY(gemm, case_gemm), ENTRY(copy_rows, case_copy_rows),
    ENTRY(permute, case_permute), ENTRY(fill, case_fill), ENTRY(iota, case_iota),
    ENTRY(find_outside, case_find_outside), ENTRY(gather, case_gather),
    ENTRY(scatter_add, case_scatter_add), ENTRY(conv2d_scratch, case_conv),
    ENTRY(conv2d, case_conv), ENTRY(conv2d_input_grad, case_conv),
    ENTRY(conv2d_weight_grad, case_conv), ENTRY(conv2d_bias_grad, case_conv),
    ENTRY(max_pool, case_pool), ENTRY(pool_scatter, case_pool), ENTRY(pool_gather, case_pool),
    ENTRY(avg_pool, case_pool), ENTRY(avg_pool_adjoint, case_pool),
    ENTRY(bn_forward, case_bn), ENTRY(bn_backward, case_bn),
    ENTRY(ln_forward, case_ln), ENTRY(ln_backward, case_ln),
    ENTRY(linalg, case_linalg), ENTRY(tri_map, case_tri_map),
    ENTRY(softmax_backward, case_softmax_backward),
    ENTRY(rng_fill, case_rng_fill), ENTRY(dot, case_dot), ENTRY(optim_update, case_optim_update),
};
enum { N_CASES = sizeof cases / sizeof cases[0] };
#define FN_SLOT sizeof(void (*)(void))
/* A new entry in struct lg_backend stops the build here until it has a case above. */
_Static_assert(sizeof(lg_backend) == offsetof(lg_backend, mem_alloc) + 38 * FN_SLOT,
               "struct lg_backend changed: give every new entry a parity case in cases[]");

static void test_parity_table_covers_every_entry(void **state)
{
    (void)state;
    /* every pointer-sized slot from the first function to the end of the struct */
    for (size_t off = offsetof(lg_backend, mem_alloc); off < sizeof(lg_backend);
         off += FN_SLOT) {
        int found = 0;
        for (int i = 0; i < N_CASES; i++)
            found |= cases[i].offset == off;
        if (!found) {
            print_error("struct lg_backend has a function at offset %zu with no parity "
                        "case: add one to cases[] in %s\n", off, __FILE__);
            fail();
        }
    }
    /* and no two names for one slot */
    for (int i = 0; i < N_CASES; i++)
        for (int j = i + 1; j < N_CASES; j++)
            assert_true(cases[i].offset != cases[j].offset);
    /* every entry is set on both backends */
    const lg_backend *be[2] = {fast, ref};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < N_CASES; i++) {
            void (*fn)(void);
            memcpy(&fn, (const char *)be[k] + cases[i].offset, sizeof fn);
            if (!fn) {
                print_error("backend %s leaves %s NULL\n", be[k]->name, cases[i].name);
                fail();
            }
        }
}

static void test_parity_every_entry_matches_the_reference(void **state)
{
    (void)state;
    for (int i = 0; i < N_CASES; i++) {
        /* a case shared by several entries runs once */
        int seen = 0;
        for (int j = 0; j < i; j++)
            seen |= cases[j].run == cases[i].run;
        if (seen)
            continue;
        for (int d = 0; d < 2; d++)
            cases[i].run(dts[d]);
    }
    printf("parity, worst normalised MSE per entry (f32 | f64, cases):\n");
    for (int i = 0; i < n_worsts; i++)
        printf("  %-28s %.2e | %.2e  (%d)\n", worsts[i].entry, worsts[i].nmse[0],
               worsts[i].nmse[1], worsts[i].cases);
}

static void test_parity_backends_differ_only_in_name(void **state)
{
    (void)state;
    assert_string_equal(fast->name, "cpu");
    assert_string_equal(ref->name, "reference");
    assert_int_equal(ref->device, LG_DEVICE_HOST);
    assert_true(lg_backend_get("reference") == ref);
}

int main(void)
{
    fast = lg_cpu_backend();
    ref = lg_reference_backend();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parity_table_covers_every_entry),
        cmocka_unit_test(test_parity_backends_differ_only_in_name),
        cmocka_unit_test(test_parity_every_entry_matches_the_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
