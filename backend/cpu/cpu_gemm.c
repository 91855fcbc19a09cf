/* CPU GEMM through cblas, row-major, transposes passed as BLAS flags (never copied).
 * A batch loops over cblas calls; OpenBLAS threads each call. f32 products go to
 * cpu_sgemm.c first, which runs them with AVX-512 where the processor has it.
 *
 * Degenerate shapes are routed away from ?gemm, which OpenBLAS 0.3.21 runs through its
 * packing kernels whatever the shape: a product with one row or one column (batch-1
 * forward and dX) goes to ?gemv, and one with an inner dimension of 1 (batch-1 dW, an
 * outer product) to a plain loop that writes C once. At batch 1 the MLP step spent a
 * third of its time packing matrices for these.
 *
 * BLAS takes int dimensions: no size above INT_MAX is ever narrowed (issue 14, where
 * K = 2^32 + 8 became 8). Long dimensions are cut into chunks of at most CHUNK, which
 * BLAS takes; a leading dimension above INT_MAX (a row of more than 2^31 elements that
 * the product must stride over) has no BLAS form and goes to a plain loop.
 * The BLAS/LAPACK error handlers (xerbla) are replaced here too, so that no message of
 * theirs ever reaches the terminal. */
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <cblas.h>
#include "cpu_impl.h"
#include "blas_impl.h"

/* Longest piece of a dimension handed to one BLAS call. */
#define CHUNK ((int64_t)1 << 30)

/* OpenBLAS's xerbla_ (called by BLAS and LAPACK on an illegal argument), cblas_xerbla and
 * LAPACKE_xerbla print to stderr. lagrad checks arguments before every call and reports
 * its own errors, so these only record what was refused, for lg_blas_last_error. Linked
 * into every program that runs an op (this file is reached from the backend table);
 * visibility default so they interpose on OpenBLAS's from liblagrad.so too. */
static _Thread_local char g_blas_err_name[16];
static _Thread_local int g_blas_err_info;

static void record_blas_error(const char *name, size_t len, int info)
{
    if (len >= sizeof g_blas_err_name)
        len = sizeof g_blas_err_name - 1;
    size_t n = 0;
    while (n < len && name && name[n] && name[n] != ' ')
        n++;
    memcpy(g_blas_err_name, name ? name : "", n);
    g_blas_err_name[n] = '\0';
    g_blas_err_info = info;
}

int lg_blas_last_error(const char **name)
{
    if (name)
        *name = g_blas_err_name;
    int info = g_blas_err_info;
    g_blas_err_info = 0;
    return info;
}

#define LG_EXPORT __attribute__((visibility("default")))
LG_EXPORT int xerbla_(const char *name, const int *info, int len);
LG_EXPORT int xerbla_(const char *name, const int *info, int len)
{
    record_blas_error(name, len > 0 ? (size_t)len : 0, info ? *info : -1);
    return 0;
}
LG_EXPORT void cblas_xerbla(blasint p, char *rout, char *form, ...)
{
    (void)form;
    record_blas_error(rout, rout ? strlen(rout) : 0, (int)p);
}
LG_EXPORT void LAPACKE_xerbla(const char *name, int info);
LG_EXPORT void LAPACKE_xerbla(const char *name, int info)
{
    record_blas_error(name, name ? strlen(name) : 0, info);
}

#define LG_CPU_KERNELS "cpu_gemm.inc"
#include "cpu_each_type.h"

static void loop_gemm(lg_dtype dt, int ta, int tb, int64_t m, int64_t n, int64_t k,
                      double alpha, const void *a, int64_t lda, const void *b, int64_t ldb,
                      double beta, void *c, int64_t ldc)
{
    if (dt == LG_F32)
        loop_gemm_f32(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    else
        loop_gemm_f64(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* y (len ny, contiguous) = alpha op(M) x + beta y, M stored rows×cols with leading
 * dimension ld; op is a transpose when trans. Rows come in chunks that BLAS takes (the
 * columns are at most ld); a leading dimension above INT_MAX goes to a loop. */
static void gemv(lg_dtype dt, bool trans, int64_t rows, int64_t cols, double alpha,
                 const void *mat, int64_t ld, const void *x, double beta, void *y, int64_t ny)
{
    enum CBLAS_TRANSPOSE f = trans ? CblasTrans : CblasNoTrans;
    size_t es = lg_dtype_size(dt);
    if (beta == 0) /* BLAS may compute 0·y: clear NaN patterns first */
        memset(y, 0, (size_t)ny * es);
    if (ld > INT_MAX) {
        loop_gemm(dt, trans, false, trans ? cols : rows, 1, trans ? rows : cols, alpha, mat, ld,
                  x, 1, beta, y, 1);
        return;
    }
    for (int64_t r0 = 0; r0 < rows; r0 += CHUNK) {
        int r = (int)(rows - r0 < CHUNK ? rows - r0 : CHUNK);
        const char *m = (const char *)mat + (size_t)r0 * (size_t)ld * es;
        /* op(M) x: the chunk's rows fill their own part of y; Mᵀ x: the chunks add up */
        const char *xi = trans ? (const char *)x + (size_t)r0 * es : x;
        char *yi = trans ? y : (char *)y + (size_t)r0 * es;
        double bi = trans && r0 > 0 ? 1.0 : beta;
        if (dt == LG_F32)
            cblas_sgemv(CblasRowMajor, f, r, (int)cols, (float)alpha, (const float *)m, (int)ld,
                        (const float *)xi, 1, (float)bi, (float *)yi, 1);
        else
            cblas_dgemv(CblasRowMajor, f, r, (int)cols, alpha, (const double *)m, (int)ld,
                        (const double *)xi, 1, bi, (double *)yi, 1);
    }
}

/* One product of the batch when a shape is degenerate; false when ?gemm should do it. */
static bool gemm_degenerate(lg_dtype dt, int ta, int tb, int64_t m, int64_t n, int64_t k,
                            double alpha, const void *a, const void *b, double beta, void *c)
{
    if (k == 1) { /* every operand is a contiguous vector or the m×n result */
        if (dt == LG_F32)
            outer_f32(m, n, (float)alpha, a, b, (float)beta, c);
        else
            outer_f64(m, n, alpha, a, b, beta, c);
        return true;
    }
    if (m == 1) /* a is a contiguous k-vector whether or not ta is set */
        return gemv(dt, !tb, tb ? n : k, tb ? k : n, alpha, b, tb ? k : n, a, beta, c, n),
               true;
    if (n == 1) /* b is a contiguous k-vector, and so is the m×1 result */
        return gemv(dt, ta, ta ? k : m, ta ? m : k, alpha, a, ta ? m : k, b, beta, c, m),
               true;
    return false;
}

/* One m×n×k product through ?gemm, m and k cut into chunks BLAS takes (n, the leading
 * dimension of C, and every leading dimension are at most INT_MAX here). */
static void blas_gemm(lg_dtype dt, int ta, int tb, int64_t m, int64_t n, int64_t k,
                      double alpha, const char *a, int64_t lda, const char *b, int64_t ldb,
                      double beta, char *c)
{
    enum CBLAS_TRANSPOSE fa = ta ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE fb = tb ? CblasTrans : CblasNoTrans;
    size_t es = lg_dtype_size(dt);
    for (int64_t i0 = 0; i0 < m; i0 += CHUNK) {
        int mi = (int)(m - i0 < CHUNK ? m - i0 : CHUNK);
        char *ci = c + (size_t)i0 * (size_t)n * es;
        if (k == 0) { /* BLAS scales C by beta; a chunked loop below would never run */
            if (dt == LG_F32)
                cblas_sgemm(CblasRowMajor, fa, fb, mi, (int)n, 0, (float)alpha,
                            (const float *)a, (int)lda, (const float *)b, (int)ldb,
                            (float)beta, (float *)ci, (int)n);
            else
                cblas_dgemm(CblasRowMajor, fa, fb, mi, (int)n, 0, alpha, (const double *)a,
                            (int)lda, (const double *)b, (int)ldb, beta, (double *)ci, (int)n);
            continue;
        }
        for (int64_t p0 = 0; p0 < k; p0 += CHUNK) {
            int kp = (int)(k - p0 < CHUNK ? k - p0 : CHUNK);
            /* A(i0, p0) and B(p0, 0) in their stored layouts */
            const char *ap = a + (size_t)(ta ? p0 * lda + i0 : i0 * lda + p0) * es;
            const char *bp = b + (size_t)(tb ? p0 : p0 * ldb) * es;
            double bi = p0 > 0 ? 1.0 : beta; /* later k-chunks add to the first */
            if (dt == LG_F32 && lg_cpu_sgemm(ta, tb, mi, n, kp, (float)alpha,
                                             (const float *)ap, lda, (const float *)bp, ldb,
                                             (float)bi, (float *)ci, n))
                continue;
            if (dt == LG_F32)
                cblas_sgemm(CblasRowMajor, fa, fb, mi, (int)n, kp, (float)alpha,
                            (const float *)ap, (int)lda, (const float *)bp, (int)ldb,
                            (float)bi, (float *)ci, (int)n);
            else
                cblas_dgemm(CblasRowMajor, fa, fb, mi, (int)n, kp, alpha, (const double *)ap,
                            (int)lda, (const double *)bp, (int)ldb, bi, (double *)ci, (int)n);
        }
    }
}

void lg_cpu_gemm(lg_dtype dt, int ta, int tb, int64_t batch, int64_t m, int64_t n, int64_t k,
                 double alpha, const void *a, int64_t sa, const void *b, int64_t sb,
                 double beta, void *c, int64_t sc)
{
    if (m <= 0 || n <= 0) /* nothing to write; BLAS would reject the leading dimensions */
        return;
    /* Row-major leading dimensions of the stored (untransposed) matrices. */
    int64_t lda = ta ? m : k, ldb = tb ? k : n, ldc = n;
    if (lda < 1) lda = 1;
    if (ldb < 1) ldb = 1;
    bool blas_ok = lda <= INT_MAX && ldb <= INT_MAX && ldc <= INT_MAX;
    size_t es = lg_dtype_size(dt);
    for (int64_t i = 0; i < batch; i++) {
        const char *ai = (const char *)a + (size_t)(i * sa) * es;
        const char *bi = (const char *)b + (size_t)(i * sb) * es;
        char *ci = (char *)c + (size_t)(i * sc) * es;
        if (k > 0 && gemm_degenerate(dt, ta, tb, m, n, k, alpha, ai, bi, beta, ci))
            continue;
        if (blas_ok)
            blas_gemm(dt, ta, tb, m, n, k, alpha, ai, lda, bi, ldb, beta, ci);
        else
            loop_gemm(dt, ta, tb, m, n, k, alpha, ai, lda, bi, ldb, beta, ci, ldc);
    }
}
