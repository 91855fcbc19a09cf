/* linalg against numpy: random f64 matrices go to a temp file, tests/linalg_numpy_ref.py
 * computes numpy.linalg's results under Debian's /usr/bin/python3 (python3-numpy), and
 * lagrad must agree to 1e-10 relative (normwise: each element within 1e-10 of the largest
 * magnitude in the result). Every test skips when that interpreter cannot import numpy;
 * LAGRAD_NUMPY_PYTHON names another interpreter. Gradients are checked in test_linalg.c. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "test_util.h"

#ifndef LAGRAD_TESTS_DIR
#define LAGRAD_TESTS_DIR "tests"
#endif

enum { MAX_RESULTS = 64, MAX_KEY = 32 };
static const double TOL = 1e-10;

/* The matrices sent to numpy (caller-owned), and what numpy sent back. */
typedef struct fixture {
    lg_tensor *a, *b, *s, *r, *w, *d, *y, *z; /* see make_inputs for shapes */
    int nres;
    char key[MAX_RESULTS][MAX_KEY];
    int64_t count[MAX_RESULTS];
    double *val[MAX_RESULTS];
} fixture;

static fixture fx;
static bool have_numpy;

static const char *python(void)
{
    const char *p = getenv("LAGRAD_NUMPY_PYTHON");
    return p && *p ? p : "/usr/bin/python3";
}

/* r x c normals; plus `diag` on the diagonal when square. */
static lg_tensor *rnd(int64_t r, int64_t c, uint64_t seed, double diag)
{
    int64_t shape[2] = {r, c};
    lg_tensor *t = tu_rand(2, shape, seed, 0, 0);
    double *p = lg_tensor_data(t);
    for (int64_t i = 0; i < r && i < c; i++)
        p[i * c + i] += diag;
    return t;
}

/* C (m,n) = A (m,k) B (k,n), or A Bᵀ with B (n,k) when tb. Caller-owned. */
static lg_tensor *product(const lg_tensor *a, const lg_tensor *b, bool tb)
{
    int64_t m = lg_tensor_shape(a)[0], k = lg_tensor_shape(a)[1];
    int64_t n = tb ? lg_tensor_shape(b)[0] : lg_tensor_shape(b)[1];
    int64_t shape[2] = {m, n};
    lg_tensor *c = lg_tensor_zeros(LG_F64, 2, shape);
    const double *pa = lg_tensor_cdata(a), *pb = lg_tensor_cdata(b);
    double *pc = lg_tensor_data(c);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            for (int64_t p = 0; p < k; p++)
                pc[i * n + j] += pa[i * k + p] * (tb ? pb[j * k + p] : pb[p * n + j]);
    return c;
}

static void make_inputs(void)
{
    fx.a = rnd(6, 6, 11, 3.0);   /* general square, well conditioned */
    fx.b = rnd(6, 3, 12, 0.0);   /* right-hand sides for A */
    lg_tensor *m = rnd(5, 5, 13, 0.0);
    fx.s = product(m, m, true);  /* M Mᵀ + 5 I: SPD */
    double *ps = lg_tensor_data(fx.s);
    for (int i = 0; i < 5; i++)
        ps[i * 5 + i] += 5.0;
    lg_tensor_free(m);
    fx.r = rnd(7, 4, 14, 0.0);   /* tall */
    fx.w = rnd(4, 7, 15, 0.0);   /* wide */
    lg_tensor *p = rnd(6, 3, 16, 0.0), *q = rnd(3, 5, 17, 0.0);
    fx.d = product(p, q, false); /* (6,5) of rank 3 */
    lg_tensor_free(p);
    lg_tensor_free(q);
    fx.y = rnd(7, 2, 18, 0.0);   /* right-hand sides for lstsq(R) */
    fx.z = rnd(6, 2, 19, 0.0);   /* and for lstsq(D) */
}

static bool write_inputs(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    const char *names[] = {"A", "B", "S", "R", "W", "D", "Y", "Z"};
    lg_tensor *ts[] = {fx.a, fx.b, fx.s, fx.r, fx.w, fx.d, fx.y, fx.z};
    for (int i = 0; i < 8; i++) {
        const int64_t *sh = lg_tensor_shape(ts[i]);
        fprintf(f, "%s %lld %lld", names[i], (long long)sh[0], (long long)sh[1]);
        for (int64_t j = 0; j < lg_tensor_numel(ts[i]); j++)
            fprintf(f, " %.17g", lg_tensor_item(ts[i], j));
        fputc('\n', f);
    }
    return fclose(f) == 0;
}

static bool read_results(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char key[MAX_KEY];
    long long n;
    bool ok = true;
    while (ok && fscanf(f, "%31s %lld", key, &n) == 2) {
        ok = fx.nres < MAX_RESULTS && n >= 0 && n < 100000;
        double *v = ok ? malloc(sizeof *v * (size_t)(n ? n : 1)) : NULL;
        for (long long i = 0; ok && v && i < n; i++)
            ok = fscanf(f, "%lf", &v[i]) == 1;
        if (!v || !ok) {
            free(v);
            ok = false;
            break;
        }
        strcpy(fx.key[fx.nres], key);
        fx.count[fx.nres] = n;
        fx.val[fx.nres++] = v;
    }
    fclose(f);
    return ok && fx.nres > 0;
}

/* Runs numpy once for the whole group. A missing numpy is not a failure. */
static int group_setup(void **state)
{
    (void)state;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s -c 'import numpy' > /dev/null 2>&1", python());
    have_numpy = system(cmd) == 0;
    if (!have_numpy) {
        printf("numpy not found under %s (apt-get install python3-numpy): skipping\n",
               python());
        return 0;
    }
    make_inputs();
    char dir[] = "/tmp/lagrad_numpy_XXXXXX", in[64], out[64];
    if (!mkdtemp(dir))
        return -1;
    snprintf(in, sizeof in, "%s/in.txt", dir);
    snprintf(out, sizeof out, "%s/out.txt", dir);
    snprintf(cmd, sizeof cmd, "%s %s/linalg_numpy_ref.py %s %s", python(), LAGRAD_TESTS_DIR,
             in, out);
    bool ok = write_inputs(in) && system(cmd) == 0 && read_results(out);
    remove(in);
    remove(out);
    rmdir(dir);
    if (!ok)
        printf("running numpy's reference failed: %s\n", cmd);
    return ok ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    lg_tensor *ts[] = {fx.a, fx.b, fx.s, fx.r, fx.w, fx.d, fx.y, fx.z};
    for (int i = 0; i < 8; i++)
        lg_tensor_free(ts[i]);
    for (int i = 0; i < fx.nres; i++)
        free(fx.val[i]);
    return 0;
}

/* numpy's result for key; fails the test when it is missing or has another size. */
static const double *np_ref(const char *key, int64_t n)
{
    for (int i = 0; i < fx.nres; i++)
        if (strcmp(fx.key[i], key) == 0) {
            if (fx.count[i] != n) {
                print_error("%s: numpy gave %lld values, lagrad %lld\n", key,
                            (long long)fx.count[i], (long long)n);
                fail();
            }
            return fx.val[i];
        }
    print_error("%s: no such numpy result\n", key);
    fail();
    return NULL;
}

/* Asserts t matches numpy's `key` to TOL relative to the largest |value| (or 1). */
static void check(lg_graph *g, const lg_tensor *t, const char *key)
{
    if (!t) {
        print_error("%s: %s\n", key, lg_graph_errmsg(g));
        fail();
    }
    int64_t n = lg_tensor_numel(t);
    const double *want = np_ref(key, n);
    double scale = 0;
    for (int64_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(want[i]));
    double *got = malloc(sizeof *got * (size_t)(n ? n : 1));
    assert_non_null(got);
    for (int64_t i = 0; i < n; i++)
        got[i] = lg_tensor_item(t, i);
    tu_assert_close_arr(got, want, n, TOL * (scale > 0 ? scale : 1), TOL, key);
    free(got);
}

static void check_scalar(double got, const char *key)
{
    const double *want = np_ref(key, 1);
    tu_assert_near(got, want[0], TOL * fmax(1.0, fabs(want[0])));
}

#define NEED_NUMPY()     \
    do {                 \
        (void)state;     \
        if (!have_numpy) \
            skip();      \
    } while (0)

static void test_solve_matches_numpy(void **state)
{
    NEED_NUMPY();
    lg_graph *g = lg_graph_new();
    check(g, lg_solve(g, fx.a, fx.b), "solve");
    int64_t n = 6;
    double b0[6];
    for (int i = 0; i < 6; i++)
        b0[i] = lg_tensor_item(fx.b, i * 3);
    check(g, lg_solve(g, fx.a, lg_graph_input(g, LG_F64, 1, &n, b0)), "solve_vec");
    lg_graph_free(g);
}

static void test_inv_det_slogdet_trace_match_numpy(void **state)
{
    NEED_NUMPY();
    lg_graph *g = lg_graph_new();
    check(g, lg_inv(g, fx.a), "inv");
    check(g, lg_det(g, fx.a), "det");
    check(g, lg_det(g, fx.s), "det_spd");
    check(g, lg_trace(g, fx.a), "trace");
    lg_tensor *sign, *logabs;
    assert_int_equal(lg_slogdet(g, fx.a, &sign, &logabs), LG_OK);
    const double *want = np_ref("slogdet", 2);
    tu_assert_near(lg_tensor_item(sign, 0), want[0], 0);
    tu_assert_near(lg_tensor_item(logabs, 0), want[1], TOL * fmax(1.0, fabs(want[1])));
    lg_graph_free(g);
}

static void test_cholesky_and_eigvalsh_match_numpy(void **state)
{
    NEED_NUMPY();
    lg_graph *g = lg_graph_new();
    check(g, lg_cholesky(g, fx.s), "cholesky");
    lg_tensor *vals, *vecs;
    assert_int_equal(lg_eigh(g, fx.s, &vals, &vecs), LG_OK);
    check(g, vals, "eigvalsh");
    lg_graph_free(g);
}

/* Singular values, pinv, rank, cond and norms of the square, tall, wide and rank-3
 * matrices. */
static void test_svd_pinv_rank_cond_norms_match_numpy(void **state)
{
    NEED_NUMPY();
    const char *names[] = {"A", "R", "W", "D"};
    lg_tensor *ms[] = {fx.a, fx.r, fx.w, fx.d};
    lg_graph *g = lg_graph_new();
    for (int i = 0; i < 4; i++) {
        char key[MAX_KEY];
        lg_tensor *s;
        assert_int_equal(lg_svd(g, ms[i], false, NULL, &s, NULL), LG_OK);
        snprintf(key, sizeof key, "sv_%s", names[i]);
        check(g, s, key);
        snprintf(key, sizeof key, "pinv_%s", names[i]);
        check(g, lg_pinv(g, ms[i], -1), key);
        int64_t rank = -1;
        assert_int_equal(lg_matrix_rank(g, ms[i], -1, &rank), LG_OK);
        snprintf(key, sizeof key, "rank_%s", names[i]);
        check_scalar((double)rank, key);
        if (ms[i] != fx.d) { /* D's σmin is rounding noise: its cond is too */
            snprintf(key, sizeof key, "cond_%s", names[i]);
            check(g, lg_cond(g, ms[i]), key);
        }
        snprintf(key, sizeof key, "fro_%s", names[i]);
        check(g, lg_norm_fro(g, ms[i]), key);
        snprintf(key, sizeof key, "spectral_%s", names[i]);
        check(g, lg_norm_spectral(g, ms[i]), key);
        snprintf(key, sizeof key, "nuclear_%s", names[i]);
        check(g, lg_norm_nuclear(g, ms[i]), key);
        snprintf(key, sizeof key, "vnorms_%s", names[i]);
        lg_tensor *v[4] = {lg_norm_l0(g, ms[i]), lg_norm_l1(g, ms[i]), lg_norm_l2(g, ms[i]),
                           lg_norm_linf(g, ms[i])};
        const double *want = np_ref(key, 4);
        for (int k = 0; k < 4; k++) {
            assert_non_null(v[k]);
            tu_assert_near(lg_tensor_item(v[k], 0), want[k], TOL * fmax(1.0, fabs(want[k])));
        }
    }
    assert_int_equal(lg_graph_status(g), LG_OK);
    lg_graph_free(g);
}

/* Full-rank tall (residuals reported) and rank-deficient (minimum-norm solution, no
 * residuals) least squares. */
static void test_lstsq_matches_numpy(void **state)
{
    NEED_NUMPY();
    const char *names[] = {"R", "D"};
    lg_tensor *as[] = {fx.r, fx.d}, *bs[] = {fx.y, fx.z};
    lg_graph *g = lg_graph_new();
    for (int i = 0; i < 2; i++) {
        char key[MAX_KEY];
        lg_lstsq_result r;
        assert_int_equal(lg_lstsq(g, as[i], bs[i], -1, &r), LG_OK);
        snprintf(key, sizeof key, "lstsq_x_%s", names[i]);
        check(g, r.solution, key);
        snprintf(key, sizeof key, "lstsq_res_%s", names[i]);
        check(g, r.residuals, key);
        snprintf(key, sizeof key, "lstsq_rank_%s", names[i]);
        check_scalar((double)r.rank, key);
        snprintf(key, sizeof key, "lstsq_sv_%s", names[i]);
        check(g, r.sv, key);
    }
    lg_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_solve_matches_numpy),
        cmocka_unit_test(test_inv_det_slogdet_trace_match_numpy),
        cmocka_unit_test(test_cholesky_and_eigvalsh_match_numpy),
        cmocka_unit_test(test_svd_pinv_rank_cond_norms_match_numpy),
        cmocka_unit_test(test_lstsq_matches_numpy),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
