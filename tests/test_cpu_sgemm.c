/* backend/cpu/cpu_sgemm.c: the AVX-512 f32 GEMM against a product summed in double (the
 * independent truth), every element within the rounding bound of an f32 dot product:
 * |got − exact| <= 2 k u Σ|a||b| + 4 u |beta c| (+ the alpha scaling), u = 2^-24. The
 * shapes cross every blocking edge (the 14-row tile, the 32- and 16-wide panels, the
 * 384 inner block, the 168-row and 512-column blocks, the split between threads) and the
 * smallest products it takes, in all four transpose pairs, with leading dimensions wider
 * than the matrices.
 * On a processor without AVX-512 (or with LAGRAD_SGEMM=blas) the kernel declines every
 * product: that is checked instead, and the accuracy cases are skipped. */
#include "test_util.h"
#include <omp.h>
#include <stdlib.h>
#include "backend/cpu/cpu_impl.h"

static int kernel_runs(void)
{
#if defined(__x86_64__)
    const char *env = getenv("LAGRAD_SGEMM");
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && !(env && strcmp(env, "blas") == 0);
#else
    return 0;
#endif
}

static float uniform(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((double)(*s >> 40) / (double)(1ULL << 24)) * 2.0f - 1.0f;
}

typedef struct {
    int ta, tb;
    int64_t m, n, k, lda, ldb, ldc;
    float *a, *b, *c, *c0;
} product;

/* Random A, B and C (stored with ld = the minimum + pad), C kept in c0. */
static product make(int ta, int tb, int64_t m, int64_t n, int64_t k, int64_t pad)
{
    product p = {ta, tb, m, n, k, (ta ? m : k) + pad, (tb ? k : n) + pad, n + pad, 0, 0, 0, 0};
    int64_t arows = ta ? k : m, brows = tb ? n : k;
    p.a = malloc(sizeof(float) * (size_t)(arows * p.lda));
    p.b = malloc(sizeof(float) * (size_t)(brows * p.ldb));
    p.c = malloc(sizeof(float) * (size_t)(m * p.ldc));
    p.c0 = malloc(sizeof(float) * (size_t)(m * p.ldc));
    assert_non_null(p.a);
    assert_non_null(p.b);
    assert_non_null(p.c);
    assert_non_null(p.c0);
    uint64_t s = (uint64_t)(m * 1000003 + n * 1009 + k + ta * 7 + tb * 13);
    for (int64_t i = 0; i < arows * p.lda; i++)
        p.a[i] = uniform(&s);
    for (int64_t i = 0; i < brows * p.ldb; i++)
        p.b[i] = uniform(&s);
    for (int64_t i = 0; i < m * p.ldc; i++)
        p.c[i] = p.c0[i] = uniform(&s);
    return p;
}

static void release(product *p)
{
    free(p->a);
    free(p->b);
    free(p->c);
    free(p->c0);
}

static bool run(product *p, float alpha, float beta)
{
    return lg_cpu_sgemm(p->ta, p->tb, p->m, p->n, p->k, alpha, p->a, p->lda, p->b, p->ldb,
                        beta, p->c, p->ldc);
}

/* Every element of C against the double-summed product and its rounding bound; the
 * padding columns of C (past n) must be untouched. c_in is C before the call (NULL: the
 * call had beta 0, and C held NaN). */
static void check(const product *p, float alpha, float beta, const float *c_in)
{
    const double u = 0x1p-24;
    for (int64_t i = 0; i < p->m; i++) {
        for (int64_t j = 0; j < p->n; j++) {
            double exact = 0, mag = 0;
            for (int64_t q = 0; q < p->k; q++) {
                double x = p->ta ? p->a[q * p->lda + i] : p->a[i * p->lda + q];
                double y = p->tb ? p->b[j * p->ldb + q] : p->b[q * p->ldb + j];
                exact += x * y;
                mag += fabs(x * y);
            }
            double old = c_in ? (double)c_in[i * p->ldc + j] : 0;
            double want = alpha * exact + beta * old;
            double bound = fabs(alpha) * (2.0 * (double)p->k * u * mag) +
                           4 * u * (fabs(alpha * exact) + fabs(beta * old)) + 1e-30;
            double got = p->c[i * p->ldc + j];
            if (!(fabs(got - want) <= bound))
                fail_msg("ta %d tb %d %lldx%lldx%lld: C[%lld][%lld] = %.9g, want %.9g "
                         "(bound %.3g)", p->ta, p->tb, (long long)p->m, (long long)p->n,
                         (long long)p->k, (long long)i, (long long)j, got, want, bound);
        }
        for (int64_t j = p->n; j < p->ldc; j++)
            if (memcmp(&p->c[i * p->ldc + j], &p->c0[i * p->ldc + j], sizeof(float)) != 0)
                fail_msg("padding C[%lld][%lld] written", (long long)i, (long long)j);
    }
}

/* m, n, k: the tile edges (14 rows; 32, 16 and 1 columns), k blocks of 384 split evenly,
 * rows past one 168-row block, columns past one 512-column block, few rows (the threads
 * split columns then). */
static const int64_t shapes[][3] = {
    {14, 32, 600},   {15, 33, 700},   {187, 48, 401},  {200, 17, 300},
    {29, 200, 784},  {400, 16, 97},   {9, 1100, 90},   {170, 520, 7},
    {9, 31, 1000},   {336, 64, 385},  {16, 16, 16},   {8, 17, 33},
};

static void test_every_transpose_and_edge_within_the_rounding_bound(void **state)
{
    (void)state;
    if (!kernel_runs())
        skip();
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++) {
            product p = make(t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2], 3);
            float alpha = 0.75f, beta = -1.5f;
            assert_true(run(&p, alpha, beta));
            check(&p, alpha, beta, p.c0);
            release(&p);
        }
}

/* beta 0 must not read C: NaN there stays out of the result (BLAS's rule, and the arena's
 * fresh memory may hold any bits). */
static void test_beta_zero_never_reads_c(void **state)
{
    (void)state;
    if (!kernel_runs())
        skip();
    product p = make(0, 1, 50, 70, 300, 0);
    for (int64_t i = 0; i < p.m * p.ldc; i++)
        p.c[i] = NAN;
    assert_true(run(&p, 1.0f, 0.0f));
    check(&p, 1.0f, 0.0f, NULL);
    release(&p);
}

/* Each element is summed in the same order whatever share of C a thread takes: one and
 * two threads give the same bits, splitting rows or columns. */
static void test_result_does_not_depend_on_the_thread_count(void **state)
{
    (void)state;
    if (!kernel_runs())
        skip();
    const int64_t cases[][3] = {{300, 100, 500}, {8, 900, 400}};
    for (int s = 0; s < 2; s++) {
        product p = make(1, 0, cases[s][0], cases[s][1], cases[s][2], 0);
        size_t bytes = sizeof(float) * (size_t)(p.m * p.ldc);
        float *one = malloc(bytes);
        assert_non_null(one);
        int before = omp_get_max_threads();
        omp_set_num_threads(1);
        assert_true(run(&p, 1.0f, 0.0f));
        memcpy(one, p.c, bytes);
        omp_set_num_threads(2);
        assert_true(run(&p, 1.0f, 0.0f));
        omp_set_num_threads(before);
        assert_memory_equal(one, p.c, bytes);
        free(one);
        release(&p);
    }
}

/* What the kernel leaves to BLAS it must not touch: small products, products of few rows,
 * alpha 0 (which must not read A or B), and everything without AVX-512 or with
 * LAGRAD_SGEMM=blas. */
static void test_declined_products_leave_c_alone(void **state)
{
    (void)state;
    product small = make(0, 0, 15, 15, 15, 0), few = make(0, 1, 7, 300, 300, 0);
    product big = make(0, 0, 100, 100, 100, 0);
    assert_false(run(&small, 1.0f, 0.0f));
    assert_memory_equal(small.c, small.c0, sizeof(float) * 225);
    assert_false(run(&few, 1.0f, 0.0f));
    assert_memory_equal(few.c, few.c0, sizeof(float) * 2100);
    assert_false(run(&big, 0.0f, 1.0f));
    assert_memory_equal(big.c, big.c0, sizeof(float) * 10000);
    assert_true(run(&big, 1.0f, 0.0f) == kernel_runs());
    release(&small);
    release(&few);
    release(&big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_transpose_and_edge_within_the_rounding_bound),
        cmocka_unit_test(test_beta_zero_never_reads_c),
        cmocka_unit_test(test_result_does_not_depend_on_the_thread_count),
        cmocka_unit_test(test_declined_products_leave_c_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
