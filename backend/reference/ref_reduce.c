/* Reference reductions and products: sum, max and min along an axis, sum-to-shape,
 * softmax, log-softmax, logsumexp and the batched GEMM. Every sum runs in double, in
 * index order. */
#include <math.h>
#include <string.h>
#include "ref_impl.h"

void lg_ref_reduce(lg_reduce_kind k, lg_dtype dt, int64_t outer, int64_t len, int64_t inner,
                   const void *x, void *y, int64_t *argmax)
{
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            int64_t base = o * len * inner + j, q = o * inner + j;
            if (k == LG_RED_SUM) {
                double s = 0;
                for (int64_t i = 0; i < len; i++)
                    s += ref_ld(dt, x, base + i * inner);
                ref_st(dt, y, q, s);
                continue;
            }
            /* the first extremum; the first NaN beats every number (NumPy's max) */
            double best = ref_ld(dt, x, base);
            int64_t bi = 0;
            for (int64_t i = 1; i < len && !isnan(best); i++) {
                double v = ref_ld(dt, x, base + i * inner);
                if (isnan(v) || (k == LG_RED_MAX ? v > best : v < best)) {
                    best = v;
                    bi = i;
                }
            }
            ref_st(dt, y, q, best);
            if (argmax)
                argmax[q] = bi;
        }
}

void lg_ref_sum_to(lg_dtype dt, const lg_bcast *bc, const void *x, void *y, int64_t ny)
{
    for (int64_t i = 0; i < ny; i++)
        ref_st(dt, y, i, 0);
    /* Axes y keeps (stride[1] != 0) pick the output; the others are summed, in double,
     * over all their positions, one output at a time. */
    lg_bcast kept = *bc, summed = *bc;
    kept.numel = summed.numel = 1;
    for (int d = 0; d < bc->ndim; d++) {
        bool keep = bc->stride[1][d] != 0;
        kept.shape[d] = keep ? bc->shape[d] : 1;
        summed.shape[d] = keep ? 1 : bc->shape[d];
        kept.numel *= kept.shape[d];
        summed.numel *= summed.shape[d];
    }
    for (int64_t q = 0; q < kept.numel; q++) {
        int64_t xo = ref_offset(&kept, 0, q), yo = ref_offset(&kept, 1, q);
        double s = 0;
        for (int64_t r = 0; r < summed.numel; r++)
            s += ref_ld(dt, x, xo + ref_offset(&summed, 0, r));
        ref_st(dt, y, yo, ref_ld(dt, y, yo) + s);
    }
}

/* The maximum of one row as the CPU takes it (`x > m ? x : m` from x[0]), so that NaN and
 * Inf give the same results: a NaN first stays, a NaN later is passed over. */
static double row_max(lg_dtype dt, const void *x, int64_t base, int64_t len, int64_t inner)
{
    double m = ref_ld(dt, x, base);
    for (int64_t i = 1; i < len; i++) {
        double v = ref_ld(dt, x, base + i * inner);
        m = v > m ? v : m;
    }
    return m;
}

void lg_ref_softmax(int log_mode, lg_dtype dt, int64_t outer, int64_t len, int64_t inner,
                    const void *x, void *y)
{
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            int64_t base = o * len * inner + j;
            double m = row_max(dt, x, base, len, inner), s = 0;
            for (int64_t i = 0; i < len; i++)
                s += exp(ref_ld(dt, x, base + i * inner) - m);
            for (int64_t i = 0; i < len; i++) {
                double d = ref_ld(dt, x, base + i * inner) - m;
                ref_st(dt, y, base + i * inner, log_mode ? d - log(s) : exp(d) / s);
            }
        }
}

void lg_ref_logsumexp(lg_dtype dt, int64_t outer, int64_t len, int64_t inner, const void *x,
                      void *y)
{
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            int64_t base = o * len * inner + j;
            double m = row_max(dt, x, base, len, inner), s = 0;
            if (isinf(m)) { /* all -inf gives -inf, a +inf gives +inf: never inf - inf */
                ref_st(dt, y, o * inner + j, m);
                continue;
            }
            for (int64_t i = 0; i < len; i++)
                s += exp(ref_ld(dt, x, base + i * inner) - m);
            ref_st(dt, y, o * inner + j, m + log(s));
        }
}

/* C (m x n) = alpha op(A) op(B) + beta C for one matrix of the batch. op(A)[i, l] is
 * A[l, i] (A stored k x m) when ta, else A[i, l] (m x k); op(B)[l, j] likewise. Each
 * C[i, j] is one double sum over l in order. Without tb, B's row l is read along j, so
 * the sums of a block of JB columns advance together (the same order per element, but
 * reading B row by row rather than down its columns, which made a training step on this
 * backend several times slower). */
enum { JB = 256 };
static void gemm_one(lg_dtype dt, int ta, int tb, int64_t m, int64_t n, int64_t k,
                     double alpha, const void *A, const void *B, double beta, void *C)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j0 = 0; j0 < n; j0 += JB) {
            int64_t jn = n - j0 < JB ? n - j0 : JB;
            double s[JB] = {0};
            for (int64_t l = 0; l < k; l++) {
                double a = ref_ld(dt, A, ta ? l * m + i : i * k + l);
                for (int64_t jj = 0; jj < jn; jj++)
                    s[jj] += a * ref_ld(dt, B, tb ? (j0 + jj) * k + l : l * n + j0 + jj);
            }
            for (int64_t jj = 0; jj < jn; jj++) {
                int64_t q = i * n + j0 + jj;
                /* beta 0 never reads C, which may hold NaN patterns */
                double old = beta == 0 ? 0 : beta * ref_ld(dt, C, q);
                ref_st(dt, C, q, alpha * s[jj] + old);
            }
        }
}

void lg_ref_gemm(lg_dtype dt, int ta, int tb, int64_t batch, int64_t m, int64_t n, int64_t k,
                 double alpha, const void *a, int64_t sa, const void *b, int64_t sb,
                 double beta, void *c, int64_t sc)
{
    size_t es = lg_dtype_size(dt);
    for (int64_t p = 0; p < batch; p++)
        gemm_one(dt, ta, tb, m, n, k, alpha, (const char *)a + (size_t)(p * sa) * es,
                 (const char *)b + (size_t)(p * sb) * es, beta,
                 (char *)c + (size_t)(p * sc) * es);
}
