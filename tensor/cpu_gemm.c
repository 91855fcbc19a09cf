/* CPU GEMM through cblas, row-major, transposes passed as BLAS flags (never copied).
 * A batch loops over cblas calls; OpenBLAS threads each call.
 *
 * Degenerate shapes are routed away from ?gemm, which OpenBLAS 0.3.21 runs through its
 * packing kernels whatever the shape: a product with one row or one column (batch-1
 * forward and dX) goes to ?gemv, and one with an inner dimension of 1 (batch-1 dW, an
 * outer product) to a plain loop that writes C once. At batch 1 the MLP step spent a
 * third of its time packing matrices for these. */
#include <cblas.h>
#include <string.h>
#include "cpu_impl.h"

/* C (m×n, row-major, ld n) = alpha a bᵀ + beta C, a and b contiguous. beta 0 never reads
 * C (arena memory may hold NaN patterns). */
#define OUTER(T, NAME)                                                                  \
    static void NAME(int64_t m, int64_t n, T alpha, const T *restrict a,               \
                     const T *restrict b, T beta, T *restrict c)                      \
    {                                                                                   \
        LG_PARALLEL_IF(m * n > LG_OMP_MIN,                                             \
            for (int64_t i = 0; i < m; i++) {                                          \
                T ai = alpha * a[i];                                                    \
                T *restrict ci = c + i * n;                                             \
                if (beta == 0)                                                          \
                    for (int64_t j = 0; j < n; j++)                                     \
                        ci[j] = ai * b[j];                                              \
                else                                                                    \
                    for (int64_t j = 0; j < n; j++)                                     \
                        ci[j] = ai * b[j] + beta * ci[j];                               \
            }                                                                           \
        );                                                                              \
    }
OUTER(float, outer_f32)
OUTER(double, outer_f64)

/* y (len ny, contiguous) = alpha op(M) x + beta y, M stored rows×cols with leading
 * dimension ld; op is a transpose when trans. */
static void gemv(lg_dtype dt, bool trans, int64_t rows, int64_t cols, double alpha,
                 const void *mat, int64_t ld, const void *x, double beta, void *y, int64_t ny)
{
    enum CBLAS_TRANSPOSE f = trans ? CblasTrans : CblasNoTrans;
    if (beta == 0) /* BLAS may compute 0·y: clear NaN patterns first */
        memset(y, 0, (size_t)ny * lg_dtype_size(dt));
    if (dt == LG_F32)
        cblas_sgemv(CblasRowMajor, f, (int)rows, (int)cols, (float)alpha, mat, (int)ld, x, 1,
                    (float)beta, y, 1);
    else
        cblas_dgemv(CblasRowMajor, f, (int)rows, (int)cols, alpha, mat, (int)ld, x, 1, beta,
                    y, 1);
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

void lg_cpu_gemm(lg_dtype dt, int ta, int tb, int64_t batch, int64_t m, int64_t n, int64_t k,
                 double alpha, const void *a, int64_t sa, const void *b, int64_t sb,
                 double beta, void *c, int64_t sc)
{
    if (m <= 0 || n <= 0) /* nothing to write; BLAS would reject the leading dimensions */
        return;
    enum CBLAS_TRANSPOSE fa = ta ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE fb = tb ? CblasTrans : CblasNoTrans;
    /* Row-major leading dimensions of the stored (untransposed) matrices. */
    int lda = (int)(ta ? m : k), ldb = (int)(tb ? k : n), ldc = (int)n;
    if (lda < 1) lda = 1;
    if (ldb < 1) ldb = 1;
    if (ldc < 1) ldc = 1;
    size_t es = lg_dtype_size(dt);
    for (int64_t i = 0; i < batch; i++) {
        const char *ai = (const char *)a + (size_t)(i * sa) * es;
        const char *bi = (const char *)b + (size_t)(i * sb) * es;
        char *ci = (char *)c + (size_t)(i * sc) * es;
        if (k > 0 && gemm_degenerate(dt, ta, tb, m, n, k, alpha, ai, bi, beta, ci))
            continue;
        if (dt == LG_F32)
            cblas_sgemm(CblasRowMajor, fa, fb, (int)m, (int)n, (int)k, (float)alpha,
                        (const float *)ai, lda, (const float *)bi, ldb, (float)beta,
                        (float *)ci, ldc);
        else
            cblas_dgemm(CblasRowMajor, fa, fb, (int)m, (int)n, (int)k, alpha,
                        (const double *)ai, lda, (const double *)bi, ldb, beta,
                        (double *)ci, ldc);
    }
}
