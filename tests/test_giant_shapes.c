/* Issue 14, items 4 and 5: giant shapes. lg_matmul with an inner dimension above INT_MAX
 * gives the right answer (BLAS's int arguments are never narrowed: 2^32 + 8 once became 8),
 * no BLAS or LAPACK message ever reaches the terminal (lagrad replaces xerbla), and
 * lg_reshape's products of dimensions never overflow. A giant operand is one 2 MiB block
 * of a memfd mapped again and again (its contents repeat every BLOCK floats), so tens of
 * GiB of operand take 2 MiB of memory; this machine's kernel backs even reads of the zero
 * page with memory, so MAP_NORESERVE alone would not do. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cblas.h>
#include <lapacke.h>
#include "test_util.h"
#include "test_quiet.h"
#include "backend/cpu/blas_impl.h"

enum { BLOCK = 1 << 19 }; /* floats in the repeated block: 2 MiB */

/* A read-only region of `bytes` whose float i is 1 when i is a multiple of BLOCK and 0
 * otherwise, made of the same 2 MiB memfd block mapped over and over; NULL if refused. */
static float *periodic_map(int fd, size_t bytes)
{
    size_t blk = sizeof(float) * BLOCK, total = (bytes + blk - 1) / blk * blk;
    char *base = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                      -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    for (size_t off = 0; off < total; off += blk)
        if (mmap(base + off, blk, PROT_READ, MAP_SHARED | MAP_FIXED | MAP_POPULATE, fd, 0) ==
            MAP_FAILED) {
            munmap(base, total);
            return NULL;
        }
    return (float *)base;
}

static void unmap(float *p, size_t bytes)
{
    size_t blk = sizeof(float) * BLOCK;
    munmap(p, (bytes + blk - 1) / blk * blk);
}

/* (1,K) @ (K,n) with K above INT_MAX. a[i] = 1 at multiples of BLOCK; b's flat index
 * follows the same rule, so b[i][0] = 1 at rows that are multiples of BLOCK/n and b[i][1]
 * = 0: column 0 of the product counts the multiples of BLOCK below K, column 1 is 0. */
static void check_long_inner_product(int64_t k, int64_t n)
{
    int fd = memfd_create("lagrad-giant", 0);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, sizeof(float) * BLOCK), 0);
    float one = 1;
    assert_int_equal(pwrite(fd, &one, sizeof one, 0), sizeof one);
    size_t abytes = sizeof(float) * (size_t)k, bbytes = sizeof(float) * (size_t)(k * n);
    float *a = periodic_map(fd, abytes), *b = periodic_map(fd, bbytes);
    close(fd);
    if (!a || !b) {
        print_message("    skipped: cannot map %zu + %zu bytes\n", abytes, bbytes);
        if (a)
            unmap(a, abytes);
        if (b)
            unmap(b, bbytes);
        skip();
    }
    double want[2] = {(double)((k + BLOCK - 1) / BLOCK), 0};
    lg_tensor *ta = lg_tensor_wrap(LG_F32, 2, (int64_t[]){1, k}, a);
    lg_tensor *tb = lg_tensor_wrap(LG_F32, 2, (int64_t[]){k, n}, b);
    assert_non_null(ta);
    assert_non_null(tb);
    lg_graph *g = lg_graph_new();
    quiet q;
    quiet_begin(&q);
    lg_tensor *c = lg_matmul(g, ta, tb);
    quiet_end(&q);
    assert_int_equal(lg_graph_status(g), LG_OK);
    assert_non_null(c);
    tu_assert_tensor_close(c, want, n, 0, 0, "the long product");
    assert_int_equal(lg_blas_last_error(NULL), 0);
    lg_graph_free(g);
    lg_tensor_free(ta);
    lg_tensor_free(tb);
    unmap(a, abytes);
    unmap(b, bbytes);
}

/* 2^31 + 8 came to BLAS as a negative int: OpenBLAS printed "On entry to SGEMV parameter
 * number 3 had an illegal value" and the result was [0, 0] with LG_OK. */
static void test_matmul_inner_dim_above_int_max_is_exact_and_silent(void **state)
{
    (void)state;
    tu_skip_unless_cpu_backend("a 2^31-term product checks the CPU backend's BLAS chunking "
                               "(the reference loop would take minutes)");
    check_long_inner_product(((int64_t)1 << 31) + 8, 2);
}

/* 2^32 + 8 came to BLAS as 8: only the first 8 terms were summed, with LG_OK. */
static void test_matmul_inner_dim_above_uint32_is_not_truncated(void **state)
{
    (void)state;
    tu_skip_unless_cpu_backend("a 2^31-term product checks the CPU backend's BLAS chunking "
                               "(the reference loop would take minutes)");
    check_long_inner_product(((int64_t)1 << 32) + 8, 1);
}

/* Called with illegal arguments directly, BLAS and LAPACK reach lagrad's handlers, which
 * record instead of printing. */
static void test_blas_and_lapack_errors_are_recorded_not_printed(void **state)
{
    (void)state;
    float m[4] = {0}, x[2] = {0}, y[2] = {0};
    double a[4] = {1, 0, 0, 1}, s[2], u[4], vt[4], work[64];
    lapack_int iwork[32];
    quiet q;
    quiet_begin(&q);
    cblas_sgemv(CblasRowMajor, CblasNoTrans, -2, 2, 1, m, 2, x, 1, 0, y, 1);
    const char *name = NULL;
    int info = lg_blas_last_error(&name);
    char sgemv_name[16];
    snprintf(sgemv_name, sizeof sgemv_name, "%s", name ? name : "");
    lapack_int linfo = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'A', -1, 2, a, 2, s, u, 2, vt, 2,
                                           work, 64, iwork);
    int info2 = lg_blas_last_error(NULL);
    quiet_end(&q);
    assert_true(info != 0);
    assert_string_equal(sgemv_name, "SGEMV");
    print_message("    sgemv refused argument %d (%s); gesdd info %d, recorded %d\n", info, sgemv_name,
                  (int)linfo, info2);
    assert_true(linfo < 0);
    assert_true(info2 != 0);
    assert_int_equal(lg_blas_last_error(NULL), 0); /* reading clears it */
}

/* Products of dimensions overflowed int64 (undefined behaviour; UBSan reported it before
 * the LG_ERR_SHAPE that followed). */
static void test_reshape_giant_target_shapes_fail_cleanly(void **state)
{
    (void)state;
    lg_graph *g = lg_graph_new();
    lg_tensor *x;
    const int64_t big = (int64_t)1 << 32, huge = (int64_t)1 << 40;
    const int64_t shapes[][3] = {{big, big, 1}, {-1, huge, huge}, {huge, huge, 0},
                                 {INT64_MAX, 2, 1}, {0, INT64_MAX, INT64_MAX}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        lg_graph_reset(g);
        x = lg_graph_full(g, LG_F32, 1, (int64_t[]){4}, 0);
        assert_non_null(x);
        assert_null(lg_reshape(g, x, 3, shapes[i]));
        assert_int_equal(lg_graph_status(g), LG_ERR_SHAPE);
    }
    lg_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_inner_dim_above_int_max_is_exact_and_silent),
        cmocka_unit_test(test_matmul_inner_dim_above_uint32_is_not_truncated),
        cmocka_unit_test(test_blas_and_lapack_errors_are_recorded_not_printed),
        cmocka_unit_test(test_reshape_giant_target_shapes_fail_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
