/* CPU GEMM through cblas, row-major, transposes passed as BLAS flags (never copied).
 * A batch loops over cblas calls; OpenBLAS threads each call. */
#include <cblas.h>
#include "cpu_impl.h"

void lg_cpu_gemm(lg_dtype dt, int ta, int tb, int64_t batch, int64_t m, int64_t n, int64_t k,
                 double alpha, const void *a, int64_t sa, const void *b, int64_t sb,
                 double beta, void *c, int64_t sc)
{
    enum CBLAS_TRANSPOSE fa = ta ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE fb = tb ? CblasTrans : CblasNoTrans;
    /* Row-major leading dimensions of the stored (untransposed) matrices. */
    int lda = (int)(ta ? m : k), ldb = (int)(tb ? k : n), ldc = (int)n;
    if (lda < 1) lda = 1;
    if (ldb < 1) ldb = 1;
    if (ldc < 1) ldc = 1;
    for (int64_t i = 0; i < batch; i++) {
        if (dt == LG_F32)
            cblas_sgemm(CblasRowMajor, fa, fb, (int)m, (int)n, (int)k, (float)alpha,
                        (const float *)a + i * sa, lda, (const float *)b + i * sb, ldb,
                        (float)beta, (float *)c + i * sc, ldc);
        else
            cblas_dgemm(CblasRowMajor, fa, fb, (int)m, (int)n, (int)k, alpha,
                        (const double *)a + i * sa, lda, (const double *)b + i * sb, ldb,
                        beta, (double *)c + i * sc, ldc);
    }
}
