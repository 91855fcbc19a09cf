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

void lg_ref_gemm(lg_dtype dt, int ta, int tb, int64_t batch, int64_t m, int64_t n, int64_t k,
                 double alpha, const void *a, int64_t sa, const void *b, int64_t sb,
                 double beta, void *c, int64_t sc)
{
    size_t es = lg_dtype_size(dt);
    for (int64_t p = 0; p < batch; p++) {
        const char *A = (const char *)a + (size_t)(p * sa) * es;
        const char *B = (const char *)b + (size_t)(p * sb) * es;
        char *C = (char *)c + (size_t)(p * sc) * es;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                /* op(A)[i, l] is A[l, i] (A stored k x m) when ta, else A[i, l] (m x k) */
                double s = 0;
                for (int64_t l = 0; l < k; l++)
                    s += ref_ld(dt, A, ta ? l * m + i : i * k + l) *
                         ref_ld(dt, B, tb ? j * k + l : l * n + j);
                /* beta 0 never reads C, which may hold NaN patterns */
                double old = beta == 0 ? 0 : beta * ref_ld(dt, C, i * n + j);
                ref_st(dt, C, i * n + j, alpha * s + old);
            }
    }
}
