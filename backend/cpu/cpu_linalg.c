/* The CPU linalg entry: each kind is the LAPACK or BLAS call linalg/ made before the
 * seam, on the column-major view of row-major data (row-major A reads column-major as
 * Aᵀ, and each kind picks the factorisation that makes that free, as the comments say).
 * Workspace comes from the caller (the graph's arena), sized by a query call. */
#include <cblas.h>
#include <lapacke.h>
#include <limits.h>
#include <stdint.h>
#include <math.h>
#include <string.h>
#include "cpu_linalg.h"

_Static_assert(sizeof(lapack_int) == sizeof(int32_t), "lg_linalg_args.piv is int32_t");

#define LD(n) ((lapack_int)((n) > 0 ? (n) : 1))
#define F64(dt) ((dt) == LG_F64)

/* Carves the caller's workspace into 64-byte aligned pieces; with base NULL it only
 * counts (the query). */
typedef struct carve {
    char *base;
    size_t off;
} carve;
static void *take(carve *c, size_t bytes)
{
    void *p = c->base ? c->base + c->off : NULL;
    c->off += (bytes + 63) / 64 * 64;
    return p;
}
static void *take_el(carve *c, lg_dtype dt, int64_t n)
{
    return take(c, lg_dtype_size(dt) * (size_t)(n > 0 ? n : 1));
}

/* A query's answer when LAPACK's workspace would exceed INT_MAX elements: the entry then
 * reports work_bytes = SIZE_MAX. */
#define TOO_BIG INT64_MIN

/* Workspace size from a LAPACK query (work[0]), at least 1; -1 when above INT_MAX. */
static lapack_int lwork_of(lg_dtype dt, const void *work0)
{
    double w = F64(dt) ? *(const double *)work0 : *(const float *)work0;
    if (!(w < (double)INT_MAX))
        return -1;
    return w >= 1 ? (lapack_int)(w + 0.5) : 1;
}

static const void *at(lg_dtype dt, const void *p, int64_t i)
{
    return p ? (const char *)p + (size_t)i * lg_dtype_size(dt) : NULL;
}
static void *atw(lg_dtype dt, void *p, int64_t i)
{
    return p ? (char *)p + (size_t)i * lg_dtype_size(dt) : NULL;
}
static void copy_el(lg_dtype dt, void *dst, const void *src, int64_t n)
{
    if (n > 0 && dst != src)
        memmove(dst, src, (size_t)n * lg_dtype_size(dt));
}

/* ---- factorisations ---- */

/* Column-major, row-major A is Aᵀ = A; its upper factor U (A = Uᵀ U) read back row-major
 * is Uᵀ = L. */
static lapack_int cholesky(lg_dtype dt, int64_t n, const void *a, void *x)
{
    copy_el(dt, x, a, n * n);
    lapack_int info = F64(dt) ? LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'U', (lapack_int)n, x, LD(n))
                              : LAPACKE_spotrf_work(LAPACK_COL_MAJOR, 'U', (lapack_int)n, x, LD(n));
    if (info == 0)
        la_cpu_zero_upper(dt, n, x);
    return info;
}

/* getrf of A's column-major view, i.e. Aᵀ = P L U (the layout LU_SOLVE expects). */
static lapack_int lu(lg_dtype dt, int64_t n, const void *a, void *x, int32_t *piv, void *y)
{
    copy_el(dt, x, a, n * n);
    lapack_int info = F64(dt) ? LAPACKE_dgetrf_work(LAPACK_COL_MAJOR, (lapack_int)n,
                                                    (lapack_int)n, x, LD(n), piv)
                              : LAPACKE_sgetrf_work(LAPACK_COL_MAJOR, (lapack_int)n,
                                                    (lapack_int)n, x, LD(n), piv);
    if (info >= 0 && y)
        la_cpu_lu_det(dt, n, x, piv, info, y);
    return info;
}

/* getrs wants B column-major: (k,n) row-major is that, and for k = 1 it is B itself,
 * solved in place in x. The factors are of Aᵀ, so A X = B is the transposed solve. */
static lapack_int lu_solve(lg_dtype dt, int64_t n, int64_t k, const void *f,
                           const int32_t *piv, const void *b, void *x, bool trans, void *buf)
{
    if (k == 1) {
        copy_el(dt, x, b, n);
        buf = x;
    } else {
        la_cpu_transpose(dt, n, k, b, buf);
    }
    char tr = trans ? 'N' : 'T';
    lapack_int info = F64(dt) ? LAPACKE_dgetrs_work(LAPACK_COL_MAJOR, tr, (lapack_int)n,
                                                    (lapack_int)k, f, LD(n), piv, buf, LD(n))
                              : LAPACKE_sgetrs_work(LAPACK_COL_MAJOR, tr, (lapack_int)n,
                                                    (lapack_int)k, f, LD(n), piv, buf, LD(n));
    if (info == 0 && k != 1)
        la_cpu_transpose(dt, k, n, buf, x);
    return info;
}

/* getrf needs A itself column-major: (n,m) row-major is that. */
static lapack_int plu(lg_dtype dt, int64_t m, int64_t n, const void *a, void *p, void *l,
                      void *u, carve *c)
{
    int64_t k = m < n ? m : n;
    void *buf = take_el(c, dt, m * n);
    int32_t *ipiv = take(c, sizeof *ipiv * (size_t)(k + 1));
    int64_t *perm = take(c, sizeof *perm * (size_t)(m + 1));
    if (!c->base)
        return 0;
    lapack_int info = 0;
    if (m * n > 0) {
        la_cpu_transpose(dt, m, n, a, buf);
        info = F64(dt) ? LAPACKE_dgetrf_work(LAPACK_COL_MAJOR, (lapack_int)m, (lapack_int)n,
                                             buf, (lapack_int)m, ipiv)
                       : LAPACKE_sgetrf_work(LAPACK_COL_MAJOR, (lapack_int)m, (lapack_int)n,
                                             buf, (lapack_int)m, ipiv);
    }
    if (info < 0)
        return info;
    la_cpu_plu_unpack(dt, m, n, buf, ipiv, perm, p, l, u);
    return 0; /* a zero pivot is a valid P L U */
}

static lapack_int syevd(lg_dtype dt, int64_t n, void *a, void *w, void *work, lapack_int lwork,
                        lapack_int *iwork, lapack_int liwork)
{
    /* Column-major, row-major A reads as Aᵀ = A; its 'U' triangle is A's lower one. */
    return F64(dt) ? LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, 'V', 'U', (lapack_int)n, a, LD(n), w,
                                         work, lwork, iwork, liwork)
                   : LAPACKE_ssyevd_work(LAPACK_COL_MAJOR, 'V', 'U', (lapack_int)n, a, LD(n), w,
                                         work, lwork, iwork, liwork);
}

/* Every kind queries LAPACK's workspace in both passes (cheap), so that the query and
 * the run carve the same pieces. */
static lapack_int eigh(lg_dtype dt, int64_t n, const void *a, void *w, void *v, carve *c)
{
    double wq[1];
    lapack_int iq[1] = {1};
    lapack_int info = syevd(dt, n, (void *)a, w, wq, -1, iq, -1);
    lapack_int lw = lwork_of(dt, wq), liw = iq[0] > 0 ? iq[0] : 1;
    if (info != 0 || lw < 0)
        return info ? info : TOO_BIG;
    void *buf = take_el(c, dt, n * n), *work = take_el(c, dt, lw);
    lapack_int *iwork = take(c, sizeof *iwork * (size_t)liw);
    if (!c->base)
        return 0;
    copy_el(dt, buf, a, n * n);
    info = syevd(dt, n, buf, w, work, lw, iwork, liw);
    /* The eigenvectors are buf's columns in column-major order, i.e. its rows as stored. */
    if (info == 0)
        la_cpu_transpose(dt, n, n, buf, v);
    return info;
}

/* gesdd (jobz) or, with dd false, gesvd on the column-major view M = Aᵀ (n x m) of
 * row-major A. Since A = Mᵀ = V' S U'ᵀ, LAPACK's column-major U' is our row-major Vᵀ and
 * its V'ᵀ our U, so no transposes are needed: u gets V'ᵀ (ld ucols) and vt gets U' (ld n).
 * work NULL with lwork -1 is the query. */
static lapack_int svd_call(bool dd, lg_dtype dt, char jobz, int64_t m, int64_t n, void *buf,
                           void *s, void *u, int64_t ucols, void *vt, void *work,
                           lapack_int lwork, lapack_int *iwork)
{
    lapack_int ln = (lapack_int)n, lm = (lapack_int)m, ldu = LD(ucols);
    if (dd)
        return F64(dt) ? LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, jobz, ln, lm, buf, LD(n), s, vt,
                                             LD(n), u, ldu, work, lwork, iwork)
                       : LAPACKE_sgesdd_work(LAPACK_COL_MAJOR, jobz, ln, lm, buf, LD(n), s, vt,
                                             LD(n), u, ldu, work, lwork, iwork);
    return F64(dt) ? LAPACKE_dgesvd_work(LAPACK_COL_MAJOR, jobz, jobz, ln, lm, buf, LD(n), s, vt,
                                         LD(n), u, ldu, work, lwork)
                   : LAPACKE_sgesvd_work(LAPACK_COL_MAJOR, jobz, jobz, ln, lm, buf, LD(n), s, vt,
                                         LD(n), u, ldu, work, lwork);
}

/* σ (k), and U, Vᵀ when u is not NULL; gesdd first, gesvd (slower, more robust) when it
 * does not converge. */
static lapack_int svd(lg_dtype dt, int64_t m, int64_t n, bool full, const void *a, void *s,
                      void *u, void *vt, bool want_uv, carve *c)
{
    int64_t k = m < n ? m : n, ucols = full ? m : k;
    char jobz = !want_uv ? 'N' : full ? 'A' : 'S';
    if (k == 0) {
        if (c->base && want_uv && full) {
            double c3[3] = {0, 1, 0};
            const void *none[1] = {NULL};
            la_cpu_tri_one(LG_TRI_SCALE, dt, m, none, u, c3);
            la_cpu_tri_one(LG_TRI_SCALE, dt, n, none, vt, c3);
        }
        return 0;
    }
    double wq[2];
    lapack_int iq[1];
    lapack_int info = svd_call(true, dt, jobz, m, n, (void *)a, s, u, ucols, vt, wq, -1, iq);
    lapack_int info2 = svd_call(false, dt, jobz, m, n, (void *)a, s, u, ucols, vt,
                                (char *)wq + lg_dtype_size(dt), -1, iq);
    lapack_int l1 = lwork_of(dt, wq), l2 = lwork_of(dt, (char *)wq + lg_dtype_size(dt));
    if (info != 0 || info2 != 0 || l1 < 0 || l2 < 0)
        return info ? info : info2 ? info2 : TOO_BIG;
    lapack_int lw = l1 > l2 ? l1 : l2;
    void *buf = take_el(c, dt, m * n), *work = take_el(c, dt, lw);
    lapack_int *iwork = take(c, sizeof *iwork * (size_t)(8 * k + 1));
    if (!c->base)
        return 0;
    copy_el(dt, buf, a, m * n);
    info = svd_call(true, dt, jobz, m, n, buf, s, u, ucols, vt, work, lw, iwork);
    if (info > 0) {
        copy_el(dt, buf, a, m * n);
        info = svd_call(false, dt, jobz, m, n, buf, s, u, ucols, vt, work, lw, iwork);
    }
    return info;
}

/* X = V diag(1/σ) Uᵀ over σ > rcond σmax: scale the rows of Vᵀ, then (.)ᵀ Uᵀ. */
static lapack_int pinv(lg_dtype dt, int64_t m, int64_t n, double rcond, const void *a,
                       void *x, carve *c)
{
    int64_t k = m < n ? m : n;
    void *s = take_el(c, dt, k), *u = take_el(c, dt, m * k), *vt = take_el(c, dt, k * n);
    lapack_int info = svd(dt, m, n, false, a, s, u, vt, true, c);
    if (!c->base || info != 0 || m * n == 0) {
        if (c->base && info == 0)
            lg_cpu_fill(dt, m * n, x, 0.0);
        return info;
    }
    double smax = F64(dt) ? *(double *)s : *(float *)s;
    la_cpu_scale_rows_pinv(dt, k, n, s, rcond * smax, vt);
    lg_cpu_gemm(dt, 1, 1, 1, n, m, k, 1.0, vt, 0, u, 0, 0.0, x, 0);
    return 0;
}

/* Column-major, row-major A (m,n) is M = Aᵀ (n x m). gelqf gives M = L Q' with L (n,k)
 * lower and Q' (k,m) orthonormal rows, so A = Q'ᵀ Lᵀ: read row-major, the first k rows
 * of buf hold R = Lᵀ and orglq's Q' holds Q. */
static lapack_int qr(lg_dtype dt, int64_t m, int64_t n, const void *a, void *q, void *r,
                     carve *c)
{
    int64_t k = m < n ? m : n;
    if (k == 0)
        return 0;
    lapack_int lm = (lapack_int)m, ln = (lapack_int)n, lk = (lapack_int)k;
    void *buf = take_el(c, dt, m * n), *tau = take_el(c, dt, k);
    double wqd[2];
    void *wq = wqd, *wq2 = (char *)wqd + lg_dtype_size(dt);
    lapack_int info = F64(dt) ? LAPACKE_dgelqf_work(LAPACK_COL_MAJOR, ln, lm, buf, LD(n), tau, wq, -1)
                              : LAPACKE_sgelqf_work(LAPACK_COL_MAJOR, ln, lm, buf, LD(n), tau, wq, -1);
    lapack_int info2 = F64(dt) ? LAPACKE_dorglq_work(LAPACK_COL_MAJOR, lk, lm, lk, buf, LD(n), tau, wq2, -1)
                               : LAPACKE_sorglq_work(LAPACK_COL_MAJOR, lk, lm, lk, buf, LD(n), tau, wq2, -1);
    lapack_int l1 = lwork_of(dt, wq), l2 = lwork_of(dt, wq2);
    if (info != 0 || info2 != 0 || l1 < 0 || l2 < 0)
        return info ? info : info2 ? info2 : TOO_BIG;
    lapack_int lw = l1 > l2 ? l1 : l2;
    void *work = take_el(c, dt, lw);
    if (!c->base)
        return 0;
    copy_el(dt, buf, a, m * n);
    info = F64(dt) ? LAPACKE_dgelqf_work(LAPACK_COL_MAJOR, ln, lm, buf, LD(n), tau, work, lw)
                   : LAPACKE_sgelqf_work(LAPACK_COL_MAJOR, ln, lm, buf, LD(n), tau, work, lw);
    if (info != 0)
        return info;
    la_cpu_upper_rows(dt, k, n, buf, r);
    info = F64(dt) ? LAPACKE_dorglq_work(LAPACK_COL_MAJOR, lk, lm, lk, buf, LD(n), tau, work, lw)
                   : LAPACKE_sorglq_work(LAPACK_COL_MAJOR, lk, lm, lk, buf, LD(n), tau, work, lw);
    if (info == 0)
        lg_cpu_copy_rows(dt, m, k, buf, n, q, k);
    return info;
}

/* gelsd wants A and B column-major: A's transpose as stored, B column by column in a
 * (max(m,n), kr) buffer. B (m, 0): gelsd refuses nrhs = 0 (and OpenBLAS would print
 * about it), so it solves one zero column that nothing reads back. */
static lapack_int lstsq(lg_dtype dt, int64_t m, int64_t n, int64_t k, double rcond,
                        const void *a, const void *b, void *x, void *s, void *res,
                        int64_t *rank, carve *c)
{
    int64_t kr = k > 0 ? k : 1, mn = m < n ? m : n, ld = m > n ? m : n;
    lapack_int lm = (lapack_int)m, ln = (lapack_int)n, lk = (lapack_int)kr, rk = 0;
    void *ab = take_el(c, dt, m * n), *bb = take_el(c, dt, ld * kr);
    double wqd[1];
    void *wq = wqd;
    lapack_int iq[1] = {1}, info = 0, lw = 1;
    if (mn > 0) {
        info = F64(dt) ? LAPACKE_dgelsd_work(LAPACK_COL_MAJOR, lm, ln, lk, ab, LD(m), bb, LD(ld),
                                             s, rcond, &rk, wq, -1, iq)
                       : LAPACKE_sgelsd_work(LAPACK_COL_MAJOR, lm, ln, lk, ab, LD(m), bb, LD(ld),
                                             s, (float)rcond, &rk, wq, -1, iq);
        lw = lwork_of(dt, wq);
        if (info != 0 || lw < 0)
            return info ? info : TOO_BIG;
    }
    void *work = take_el(c, dt, lw);
    lapack_int *iwork = take(c, sizeof *iwork * (size_t)(iq[0] > 0 ? iq[0] : 1));
    if (!c->base)
        return 0;
    la_cpu_transpose(dt, m, n, a, ab);
    lg_cpu_fill(dt, ld * kr, bb, 0.0);
    if (k > 0 && m > 0) {
        /* Bᵀ is B column-major with ld m; spread its columns to ld (last first) */
        la_cpu_transpose(dt, m, k, b, bb);
        for (int64_t col = k - 1; ld != m && col >= 0; col--) {
            memmove(atw(dt, bb, col * ld), at(dt, bb, col * m), (size_t)m * lg_dtype_size(dt));
            lg_cpu_fill(dt, ld - m, atw(dt, bb, col * ld + m), 0.0);
        }
    }
    if (mn > 0)
        info = F64(dt) ? LAPACKE_dgelsd_work(LAPACK_COL_MAJOR, lm, ln, lk, ab, LD(m), bb, LD(ld),
                                             s, rcond, &rk, work, lw, iwork)
                       : LAPACKE_sgelsd_work(LAPACK_COL_MAJOR, lm, ln, lk, ab, LD(m), bb, LD(ld),
                                             s, (float)rcond, &rk, work, lw, iwork);
    if (info != 0)
        return info;
    *rank = rk;
    /* x (n,k) row-major from the first n rows of bb's columns (zeros when A is empty) */
    if (mn == 0)
        lg_cpu_fill(dt, n * k, x, 0.0);
    else
        for (int64_t col = 0; col < k; col++)
            for (int64_t i = 0; i < n; i++)
                memcpy(atw(dt, x, i * k + col), at(dt, bb, col * ld + i), lg_dtype_size(dt));
    if (m > n && rk == n && res)
        for (int64_t col = 0; col < k; col++) {
            double r2 = 0;
            for (int64_t i = n; i < m; i++) {
                double v = F64(dt) ? ((double *)bb)[col * ld + i] : ((float *)bb)[col * ld + i];
                r2 += v * v;
            }
            if (F64(dt))
                ((double *)res)[col] = r2;
            else
                ((float *)res)[col] = (float)r2;
        }
    return 0;
}

/* ---- triangular kernels ---- */

/* The diagonal's first zero, 1-based, or 0. */
static int64_t zero_diagonal(lg_dtype dt, int64_t n, const void *a)
{
    for (int64_t i = 0; i < n; i++)
        if ((F64(dt) ? ((const double *)a)[i * n + i] : ((const float *)a)[i * n + i]) == 0)
            return i + 1;
    return 0;
}

static int64_t trsm(lg_dtype dt, int64_t n, int64_t k, const void *a, const void *b, void *x,
                    bool upper, bool trans)
{
    int64_t z = zero_diagonal(dt, n, a);
    if (z)
        return z;
    copy_el(dt, x, b, n * k);
    if (n * k == 0)
        return 0;
    CBLAS_UPLO ul = upper ? CblasUpper : CblasLower;
    CBLAS_TRANSPOSE tr = trans ? CblasTrans : CblasNoTrans;
    if (F64(dt))
        cblas_dtrsm(CblasRowMajor, CblasLeft, ul, tr, CblasNonUnit, (int)n, (int)k, 1.0, a,
                    (int)n, x, (int)k);
    else
        cblas_strsm(CblasRowMajor, CblasLeft, ul, tr, CblasNonUnit, (int)n, (int)k, 1.0f, a,
                    (int)n, x, (int)k);
    return 0;
}

static void trmm(lg_dtype dt, const lg_linalg_args *p, const void *a, const void *b, void *x)
{
    int64_t rows = p->m, cols = p->n, k = p->k;
    copy_el(dt, x, b, rows * cols);
    if (rows * cols == 0)
        return;
    CBLAS_SIDE sd = p->right ? CblasRight : CblasLeft;
    CBLAS_UPLO ul = p->upper ? CblasUpper : CblasLower;
    CBLAS_TRANSPOSE tr = p->trans ? CblasTrans : CblasNoTrans;
    if (F64(dt))
        cblas_dtrmm(CblasRowMajor, sd, ul, tr, CblasNonUnit, (int)rows, (int)cols, p->alpha, a,
                    (int)k, x, (int)cols);
    else
        cblas_strmm(CblasRowMajor, sd, ul, tr, CblasNonUnit, (int)rows, (int)cols,
                    (float)p->alpha, a, (int)k, x, (int)cols);
}

/* Below this order LAPACK's trtri inverts directly; above it the recursion below keeps
 * the work in trmm, which OpenBLAS runs several times faster than its trtri here. */
#define TRI_INV_BASE 32

/* In-place inverse of the row-major lower triangular block a (n,n), leading dimension
 * ld: [[A,0],[B,C]]⁻¹ = [[A⁻¹,0],[-C⁻¹ B A⁻¹, C⁻¹]]. Returns LAPACK's info (> 0: a zero
 * on the diagonal). Row-major lower is column-major upper, hence 'U'. */
static lapack_int tri_inv_rec(lg_dtype dt, int64_t n, void *a, int64_t ld)
{
    if (n <= TRI_INV_BASE)
        return F64(dt) ? LAPACKE_dtrtri_work(LAPACK_COL_MAJOR, 'U', 'N', (lapack_int)n, a,
                                             (lapack_int)ld)
                       : LAPACKE_strtri_work(LAPACK_COL_MAJOR, 'U', 'N', (lapack_int)n, a,
                                             (lapack_int)ld);
    int64_t h = n / 2;
    void *a21 = atw(dt, a, h * ld), *a22 = atw(dt, a21, h);
    lapack_int info = tri_inv_rec(dt, h, a, ld);
    if (info != 0)
        return info;
    info = tri_inv_rec(dt, n - h, a22, ld);
    if (info != 0)
        return info + (lapack_int)h;
    int r = (int)(n - h), c = (int)h, l = (int)ld;
    if (F64(dt)) {
        cblas_dtrmm(CblasRowMajor, CblasRight, CblasLower, CblasNoTrans, CblasNonUnit, r, c, 1,
                    a, l, a21, l);
        cblas_dtrmm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, r, c, -1,
                    a22, l, a21, l);
    } else {
        cblas_strmm(CblasRowMajor, CblasRight, CblasLower, CblasNoTrans, CblasNonUnit, r, c, 1,
                    a, l, a21, l);
        cblas_strmm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, r, c, -1,
                    a22, l, a21, l);
    }
    return 0;
}

static lapack_int tri_inv(lg_dtype dt, int64_t n, const void *a, void *x)
{
    copy_el(dt, x, a, n * n);
    la_cpu_zero_upper(dt, n, x);
    return n > 0 ? tri_inv_rec(dt, n, x, n) : 0;
}

/* With Ŝ = Sl + Slᵀ (Sl its lower triangle, diagonal halved), V Ŝ Vᵀ = W Vᵀ + V Wᵀ for
 * W = V Sl: one trmm and one syr2k (half a GEMM's work saved over two GEMMs), whose lower
 * triangle is mirrored. */
static void sym_sandwich(lg_dtype dt, int64_t m, int64_t k, const void *v, const void *s,
                         void *y, carve *c)
{
    void *sl = take_el(c, dt, k * k), *w = take_el(c, dt, m * k);
    if (!c->base)
        return;
    if (m == 0 || k == 0) {
        lg_cpu_fill(dt, m * m, y, 0.0);
        return;
    }
    const void *in[1] = {s};
    double half[1] = {0.5};
    la_cpu_tri_one(LG_TRI_FOLD_LOWER, dt, k, in, sl, half);
    copy_el(dt, w, v, m * k);
    int im = (int)m, ik = (int)k;
    if (F64(dt)) {
        cblas_dtrmm(CblasRowMajor, CblasRight, CblasLower, CblasNoTrans, CblasNonUnit, im, ik,
                    1.0, sl, ik, w, ik);
        cblas_dsyr2k(CblasRowMajor, CblasLower, CblasNoTrans, im, ik, 1.0, w, ik, v, ik, 0.0,
                     y, im);
    } else {
        cblas_strmm(CblasRowMajor, CblasRight, CblasLower, CblasNoTrans, CblasNonUnit, im, ik,
                    1.0f, sl, ik, w, ik);
        cblas_ssyr2k(CblasRowMajor, CblasLower, CblasNoTrans, im, ik, 1.0f, w, ik, v, ik, 0.0f,
                     y, im);
    }
    la_cpu_mirror_lower(dt, m, y);
}

/* ---- scans ---- */

static int64_t gaps(lg_dtype dt, int64_t n, const void *a, double alpha, bool last, double *r)
{
    double scale = la_cpu_max_abs(dt, n, a, 0.0), tol = alpha * scale;
    r[0] = tol;
    for (int64_t i = 0; i + 1 < n; i++) {
        double v0 = F64(dt) ? ((const double *)a)[i] : ((const float *)a)[i];
        double v1 = F64(dt) ? ((const double *)a)[i + 1] : ((const float *)a)[i + 1];
        if (fabs(v1 - v0) <= tol) {
            r[1] = fabs(v1 - v0);
            return i + 1;
        }
    }
    if (last && n > 0) {
        double v = fabs(F64(dt) ? ((const double *)a)[n - 1] : ((const float *)a)[n - 1]);
        if (v <= tol) {
            r[1] = v;
            return n + 1;
        }
    }
    return 0;
}

/* ---- the entry ---- */

/* Matrix b's pointer for a batch of `per` elements each. */
#define NTH(p, per) ((p) ? (char *)(p) + (size_t)(b * (per)) * es : NULL)

static int64_t one(lg_linalg_kind kind, lg_dtype dt, lg_linalg_args *p, int64_t b, carve *c)
{
    size_t es = lg_dtype_size(dt);
    int64_t m = p->m, n = p->n, k = p->k, mn = m < n ? m : n;
    const void *a, *bb;
    switch (kind) {
    case LG_LA_CHOLESKY:
        return c->base ? cholesky(dt, n, NTH(p->a, n * n), NTH(p->x, n * n)) : 0;
    case LG_LA_LU:
        return c->base ? lu(dt, n, NTH(p->a, n * n), NTH(p->x, n * n), p->piv + b * n,
                            NTH(p->y, 3)) : 0;
    case LG_LA_LU_SOLVE: {
        void *buf = take_el(c, dt, k > 1 ? n * k : 0);
        if (!c->base)
            return 0;
        return lu_solve(dt, n, k, NTH(p->a, n * n), p->piv + b * n, NTH(p->b, n * k),
                        NTH(p->x, n * k), p->trans, buf);
    }
    case LG_LA_PLU:
        return plu(dt, m, n, NTH(p->a, m * n), NTH(p->x, m * m), NTH(p->y, m * mn),
                   NTH(p->z, mn * n), c);
    case LG_LA_EIGH:
        return eigh(dt, n, NTH(p->a, n * n), NTH(p->x, n), NTH(p->y, n * n), c);
    case LG_LA_SVD: {
        int64_t uc = p->full ? m : mn, vr = p->full ? n : mn;
        return svd(dt, m, n, p->full, NTH(p->a, m * n), NTH(p->x, mn), NTH(p->y, m * uc),
                   NTH(p->z, vr * n), p->y != NULL, c);
    }
    case LG_LA_QR:
        return qr(dt, m, n, NTH(p->a, m * n), NTH(p->x, m * mn), NTH(p->y, mn * n), c);
    case LG_LA_LSTSQ:
        return lstsq(dt, m, n, k, p->alpha, NTH(p->a, m * n), NTH(p->b, m * k),
                     NTH(p->x, n * k), NTH(p->y, mn), NTH(p->z, k), &p->rank, c);
    case LG_LA_PINV:
        return pinv(dt, m, n, p->alpha, NTH(p->a, m * n), NTH(p->x, n * m), c);
    case LG_LA_TRSM:
        return c->base ? trsm(dt, n, k, NTH(p->a, n * n), NTH(p->b, n * k), NTH(p->x, n * k),
                              p->upper, p->trans) : 0;
    case LG_LA_TRMM:
        a = NTH(p->a, k * k);
        bb = NTH(p->b, m * n);
        if (c->base)
            trmm(dt, p, a, bb, NTH(p->x, m * n));
        return 0;
    case LG_LA_TRI_INV:
        return c->base ? tri_inv(dt, n, NTH(p->a, n * n), NTH(p->x, n * n)) : 0;
    case LG_LA_SYM_SANDWICH:
        sym_sandwich(dt, m, k, NTH(p->a, m * k), NTH(p->b, k * k), NTH(p->x, m * m), c);
        return 0;
    case LG_LA_NRM2:
        if (c->base) {
            a = NTH(p->a, n);
            if (F64(dt))
                ((double *)p->x)[b] = n > 0 ? cblas_dnrm2((int)n, a, 1) : 0.0;
            else
                ((float *)p->x)[b] = n > 0 ? cblas_snrm2((int)n, a, 1) : 0.0f;
        }
        return 0;
    case LG_LA_ASYMMETRY:
        if (!c->base)
            return 0;
        a = NTH(p->a, n * n);
        p->r[0] = p->alpha * la_cpu_max_abs(dt, n * n, a, 1.0);
        return la_cpu_first_asymmetric(dt, n, a, p->r[0], &p->r[1]);
    case LG_LA_GAPS:
        return c->base ? gaps(dt, n, NTH(p->a, n), p->alpha, p->upper, p->r) : 0;
    }
    return -1;
}

int64_t lg_cpu_linalg(lg_linalg_kind kind, lg_dtype dt, lg_linalg_args *p)
{
    /* A query sizes one matrix's pieces; the run reuses them for every matrix. */
    carve c = {p->work, 0};
    p->failed = 0;
    if (!p->work) {
        int64_t info = p->batch > 0 ? one(kind, dt, p, 0, &c) : 0;
        p->work_bytes = info == TOO_BIG ? SIZE_MAX : c.off;
        return info == TOO_BIG ? 0 : info;
    }
    for (int64_t b = 0; b < p->batch; b++) {
        c.off = 0;
        int64_t info = one(kind, dt, p, b, &c);
        if (info != 0) {
            p->failed = b;
            return info;
        }
    }
    return 0;
}
