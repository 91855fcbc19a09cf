/* The reference backend's linalg and tri_map entries: each kind of lg_linalg_kind as the
 * textbook algorithm in double (Cholesky, LU with partial pivoting, Householder QR,
 * substitution; Jacobi eigen and SVD in ref_linalg_jacobi.c), reading and writing the
 * caller's dt once. Workspace: a generous double buffer sized from the shapes. */
#include <math.h>
#include <string.h>
#include "ref_impl.h"

/* Matrix b of a batch: element offset b * per. */
#define NTH(p, per) ((p) ? (char *)(p) + (size_t)(b * (per)) * lg_dtype_size(dt) : NULL)

static void load(lg_dtype dt, const void *p, int64_t n, double *d)
{
    for (int64_t i = 0; i < n; i++)
        d[i] = ref_ld(dt, p, i);
}
static void store(lg_dtype dt, void *p, int64_t n, const double *d)
{
    for (int64_t i = 0; i < n; i++)
        ref_st(dt, p, i, d[i]);
}

/* A = L Lᵀ from A's lower triangle; info j + 1 at the first non-positive pivot. */
static int64_t cholesky(lg_dtype dt, int64_t n, const void *a, void *x, double *l)
{
    for (int64_t i = 0; i < n * n; i++)
        l[i] = 0;
    for (int64_t j = 0; j < n; j++) {
        double d = ref_ld(dt, a, j * n + j);
        for (int64_t k = 0; k < j; k++)
            d -= l[j * n + k] * l[j * n + k];
        if (!(d > 0))
            return j + 1;
        l[j * n + j] = sqrt(d);
        for (int64_t i = j + 1; i < n; i++) {
            double v = ref_ld(dt, a, i * n + j);
            for (int64_t k = 0; k < j; k++)
                v -= l[i * n + k] * l[j * n + k];
            l[i * n + j] = v / l[j * n + j];
        }
    }
    store(dt, x, n * n, l);
    return 0;
}

/* In place on f (m,n): Pᵀ A = L U, L unit lower below the diagonal, U on and above,
 * piv[j] the row swapped with row j at step j. Returns j + 1 at the first zero pivot
 * (the elimination goes on, as getrf's does). */
static int64_t lu_inplace(int64_t m, int64_t n, double *f, int64_t *piv)
{
    int64_t info = 0, k = m < n ? m : n;
    for (int64_t j = 0; j < k; j++) {
        int64_t p = j;
        for (int64_t i = j + 1; i < m; i++)
            if (fabs(f[i * n + j]) > fabs(f[p * n + j]))
                p = i;
        piv[j] = p;
        for (int64_t c = 0; p != j && c < n; c++) {
            double t = f[j * n + c];
            f[j * n + c] = f[p * n + c];
            f[p * n + c] = t;
        }
        if (f[j * n + j] == 0) {
            if (!info)
                info = j + 1;
            continue;
        }
        for (int64_t i = j + 1; i < m; i++) {
            f[i * n + j] /= f[j * n + j];
            for (int64_t c = j + 1; c < n; c++)
                f[i * n + c] -= f[i * n + j] * f[j * n + c];
        }
    }
    return info;
}

static int64_t lu(lg_dtype dt, int64_t n, const void *a, void *x, int32_t *piv, void *y,
                  double *f, int64_t *ip)
{
    load(dt, a, n * n, f);
    int64_t info = lu_inplace(n, n, f, ip);
    double s = 1, la = 0, v = 1;
    for (int64_t i = 0; i < n; i++) {
        piv[i] = (int32_t)ip[i];
        s *= (ip[i] != i ? -1 : 1) * (f[i * n + i] < 0 ? -1 : 1);
        la += log(fabs(f[i * n + i]));
        v *= f[i * n + i];
    }
    store(dt, x, n * n, f);
    if (y) {
        double d[3] = {info ? 0 : fabs(v) * s, info ? 0 : s, info ? -INFINITY : la};
        store(dt, y, 3, d);
    }
    return info;
}

/* op(A) X = B with Pᵀ A = L U:  A X = B:  L U X = Pᵀ B;   Aᵀ X = B:  Uᵀ Lᵀ (Pᵀ X) = B. */
static void lu_solve(lg_dtype dt, int64_t n, int64_t k, const void *fa, const int32_t *piv,
                     const void *bm, void *x, bool trans, double *f, double *xb)
{
    load(dt, fa, n * n, f);
    load(dt, bm, n * k, xb);
    for (int64_t c = 0; c < k; c++) {
        double *col = xb; /* column c at stride k */
        if (!trans) {
            for (int64_t j = 0; j < n; j++) { /* Pᵀ B, the swaps in order */
                double t = col[j * k + c];
                col[j * k + c] = col[piv[j] * k + c];
                col[piv[j] * k + c] = t;
            }
            for (int64_t i = 0; i < n; i++) /* L y = . */
                for (int64_t j = 0; j < i; j++)
                    col[i * k + c] -= f[i * n + j] * col[j * k + c];
            for (int64_t i = n - 1; i >= 0; i--) { /* U x = y */
                for (int64_t j = i + 1; j < n; j++)
                    col[i * k + c] -= f[i * n + j] * col[j * k + c];
                col[i * k + c] /= f[i * n + i];
            }
        } else {
            for (int64_t i = 0; i < n; i++) { /* Uᵀ y = B */
                for (int64_t j = 0; j < i; j++)
                    col[i * k + c] -= f[j * n + i] * col[j * k + c];
                col[i * k + c] /= f[i * n + i];
            }
            for (int64_t i = n - 1; i >= 0; i--) /* Lᵀ z = y */
                for (int64_t j = i + 1; j < n; j++)
                    col[i * k + c] -= f[j * n + i] * col[j * k + c];
            for (int64_t j = n - 1; j >= 0; j--) { /* X = P z, the swaps undone */
                double t = col[j * k + c];
                col[j * k + c] = col[piv[j] * k + c];
                col[piv[j] * k + c] = t;
            }
        }
    }
    store(dt, x, n * k, xb);
}

static void plu(lg_dtype dt, int64_t m, int64_t n, const void *a, void *p, void *l, void *u,
                double *f, int64_t *ip)
{
    int64_t k = m < n ? m : n;
    load(dt, a, m * n, f);
    lu_inplace(m, n, f, ip);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < k; j++)
            ref_st(dt, l, i * k + j, i > j ? f[i * n + j] : i == j ? 1 : 0);
    for (int64_t i = 0; i < k; i++)
        for (int64_t j = 0; j < n; j++)
            ref_st(dt, u, i * n + j, j >= i ? f[i * n + j] : 0);
    /* perm[i]: the row of A that row i of Pᵀ A is; P(perm[i], i) = 1 */
    int64_t *perm = ip + k;
    for (int64_t i = 0; i < m; i++)
        perm[i] = i;
    for (int64_t j = 0; j < k; j++) {
        int64_t t = perm[j];
        perm[j] = perm[ip[j]];
        perm[ip[j]] = t;
    }
    for (int64_t i = 0; i < m * m; i++)
        ref_st(dt, p, i, 0);
    for (int64_t i = 0; i < m; i++)
        ref_st(dt, p, perm[i] * m + i, 1);
}

/* Householder QR with LAPACK's larfg: H = I - τ v vᵀ, v_0 = 1, β = -sign(α) ‖x‖ (τ = 0,
 * H = I when the part below the diagonal is zero). */
static void qr(lg_dtype dt, int64_t m, int64_t n, const void *a, void *q, void *r, double *f,
               double *qq)
{
    int64_t k = m < n ? m : n;
    double *tau = qq + m * k, *v = tau + k;
    load(dt, a, m * n, f);
    for (int64_t j = 0; j < k; j++) {
        double alpha = f[j * n + j], xn = 0;
        for (int64_t i = j + 1; i < m; i++)
            xn += f[i * n + j] * f[i * n + j];
        tau[j] = 0;
        if (xn == 0)
            continue;
        double beta = -copysign(sqrt(alpha * alpha + xn), alpha);
        tau[j] = (beta - alpha) / beta;
        for (int64_t i = j + 1; i < m; i++)
            f[i * n + j] /= alpha - beta; /* v below the diagonal, kept in f */
        f[j * n + j] = beta;
        for (int64_t c = j + 1; c < n; c++) { /* A := H A, columns right of j */
            double d = f[j * n + c];
            for (int64_t i = j + 1; i < m; i++)
                d += f[i * n + j] * f[i * n + c];
            f[j * n + c] -= tau[j] * d;
            for (int64_t i = j + 1; i < m; i++)
                f[i * n + c] -= tau[j] * f[i * n + j] * d;
        }
    }
    for (int64_t i = 0; i < k; i++)
        for (int64_t c = 0; c < n; c++)
            ref_st(dt, r, i * n + c, c >= i ? f[i * n + c] : 0);
    /* Q = H_0 ... H_k-1 applied to the first k columns of I, last reflector first */
    for (int64_t i = 0; i < m * k; i++)
        qq[i] = i / k == i % k;
    for (int64_t j = k - 1; j >= 0; j--) {
        for (int64_t i = 0; i < m; i++)
            v[i] = i < j ? 0 : i == j ? 1 : f[i * n + j];
        for (int64_t c = 0; c < k; c++) {
            double d = 0;
            for (int64_t i = j; i < m; i++)
                d += v[i] * qq[i * k + c];
            for (int64_t i = j; i < m; i++)
                qq[i * k + c] -= tau[j] * v[i] * d;
        }
    }
    store(dt, q, m * k, qq);
}

/* The SVD in double: s (k), u (m,m), vt (n,n) full; false when Jacobi did not converge. */
static bool svd_full(lg_dtype dt, int64_t m, int64_t n, const void *a, double *s, double *u,
                     double *vt, double *f, double *work)
{
    load(dt, a, m * n, f);
    return ref_jacobi_svd(m, n, f, s, u, vt, work);
}

static int64_t svd(lg_dtype dt, const lg_linalg_args *p, const void *a, void *sx, void *ux,
                   void *vx, double *buf)
{
    int64_t m = p->m, n = p->n, k = m < n ? m : n, uc = p->full ? m : k, vr = p->full ? n : k;
    double *s = buf, *u = s + k + 1, *vt = u + m * m, *f = vt + n * n, *work = f + m * n;
    if (!svd_full(dt, m, n, a, s, u, vt, f, work))
        return 1;
    store(dt, sx, k, s);
    if (ux) {
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < uc; j++)
                ref_st(dt, ux, i * uc + j, u[i * m + j]);
        store(dt, vx, vr * n, vt);
    }
    return 0;
}

/* x = V diag(w) Uᵀ rhs, w_i = 1/σ_i over σ_i > cut: the pseudo-inverse applied to rhs
 * (m, c); rhs NULL applies it to I (pinv itself). */
static void pinv_apply(int64_t m, int64_t n, const double *s, const double *u,
                       const double *vt, double cut, const double *rhs, int64_t c, double *x)
{
    int64_t k = m < n ? m : n;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < c; j++) {
            double v = 0;
            for (int64_t l = 0; l < k; l++) {
                if (!(s[l] > cut))
                    continue;
                double ub = 0; /* (Uᵀ rhs)_lj */
                for (int64_t r = 0; r < m; r++)
                    ub += u[r * m + l] * (rhs ? rhs[r * c + j] : r == j);
                v += vt[l * n + i] * ub / s[l];
            }
            x[i * c + j] = v;
        }
}

static int64_t pinv_or_lstsq(lg_dtype dt, lg_linalg_kind kind, lg_linalg_args *p, int64_t b,
                             double *buf)
{
    int64_t m = p->m, n = p->n, k = m < n ? m : n, c = kind == LG_LA_PINV ? m : p->k;
    double *s = buf, *u = s + k + 1, *vt = u + m * m, *f = vt + n * n, *rhs = f + m * n;
    double *x = rhs + m * c, *work = x + n * c;
    if (!svd_full(dt, m, n, NTH(p->a, m * n), s, u, vt, f, work))
        return 1;
    double cut = p->alpha * (k > 0 ? s[0] : 0);
    if (kind == LG_LA_PINV) {
        pinv_apply(m, n, s, u, vt, cut, NULL, m, x);
        store(dt, NTH(p->x, n * m), n * m, x);
        return 0;
    }
    int64_t rank = 0;
    for (int64_t i = 0; i < k; i++)
        rank += s[i] > cut;
    p->rank = rank;
    store(dt, NTH(p->y, k), k, s);
    if (c == 0)
        return 0;
    load(dt, NTH(p->b, m * c), m * c, rhs);
    pinv_apply(m, n, s, u, vt, cut, rhs, c, x);
    store(dt, NTH(p->x, n * c), n * c, x);
    if (m > n && rank == n && p->z)
        for (int64_t j = 0; j < c; j++) {
            double r2 = 0;
            for (int64_t i = 0; i < m; i++) {
                double ax = -rhs[i * c + j];
                for (int64_t l = 0; l < n; l++)
                    ax += f[i * n + l] * x[l * c + j];
                r2 += ax * ax;
            }
            ref_st(dt, NTH(p->z, c), j, r2);
        }
    return 0;
}

/* Whether element (i, j) of op(T) lies in the kept triangle T (upper, else lower). */
static bool in_tri(bool upper, bool trans, int64_t i, int64_t j)
{
    return (upper != trans) ? j >= i : j <= i;
}

/* Element (i, j) of op(A), inside the kept triangle. */
static double op_el(lg_dtype dt, const void *a, int64_t n, bool trans, int64_t i, int64_t j)
{
    return trans ? ref_ld(dt, a, j * n + i) : ref_ld(dt, a, i * n + j);
}

/* Substitution on op(A) X = B, column by column, in the order op(A)'s triangle allows. */
static int64_t trsm(lg_dtype dt, int64_t n, int64_t k, const void *a, const void *bm, void *x,
                    bool upper, bool trans, double *xb)
{
    for (int64_t i = 0; i < n; i++)
        if (ref_ld(dt, a, i * n + i) == 0)
            return i + 1;
    load(dt, bm, n * k, xb);
    bool lower_op = upper == trans; /* op(A) lower: forward substitution */
    for (int64_t c = 0; c < k; c++)
        for (int64_t s = 0; s < n; s++) {
            int64_t i = lower_op ? s : n - 1 - s;
            double v = xb[i * k + c];
            for (int64_t j = 0; j < n; j++)
                if (j != i && (lower_op ? j < i : j > i))
                    v -= op_el(dt, a, n, trans, i, j) * xb[j * k + c];
            xb[i * k + c] = v / ref_ld(dt, a, i * n + i);
        }
    store(dt, x, n * k, xb);
    return 0;
}

static void trmm(lg_dtype dt, const lg_linalg_args *p, const void *a, const void *bm, void *x)
{
    int64_t m = p->m, n = p->n, k = p->k;
    double al = ref_param(dt, p->alpha);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double v = 0;
            for (int64_t l = 0; l < k; l++) /* only the triangle: a NaN past it never enters */
                if (p->right ? in_tri(p->upper, p->trans, l, j) : in_tri(p->upper, p->trans, i, l))
                    v += p->right ? ref_ld(dt, bm, i * n + l) * op_el(dt, a, k, p->trans, l, j)
                                  : op_el(dt, a, k, p->trans, i, l) * ref_ld(dt, bm, l * n + j);
            ref_st(dt, x, i * n + j, al * v);
        }
}

/* L X = I by forward substitution, column by column. */
static int64_t tri_inv(lg_dtype dt, int64_t n, const void *a, void *x, double *xb)
{
    for (int64_t i = 0; i < n; i++)
        if (ref_ld(dt, a, i * n + i) == 0)
            return i + 1;
    for (int64_t c = 0; c < n; c++)
        for (int64_t i = 0; i < n; i++) {
            double v = i == c;
            for (int64_t j = 0; j < i; j++)
                v -= ref_ld(dt, a, i * n + j) * xb[j * n + c];
            xb[i * n + c] = v / ref_ld(dt, a, i * n + i);
        }
    store(dt, x, n * n, xb);
    return 0;
}

static void sym_sandwich(lg_dtype dt, int64_t m, int64_t k, const void *v, const void *s,
                         void *y)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < m; j++) {
            double t = 0;
            for (int64_t p = 0; p < k; p++)
                for (int64_t q = 0; q < k; q++)
                    t += ref_ld(dt, v, i * k + p) * ref_ld(dt, v, j * k + q) * 0.5 *
                         (ref_ld(dt, s, p * k + q) + ref_ld(dt, s, q * k + p));
            ref_st(dt, y, i * m + j, t);
        }
}

/* max(floor, max |x_i|), NaN never winning a comparison (as the CPU's scan). */
static double max_abs(lg_dtype dt, int64_t n, const void *x, double floor)
{
    double m = floor;
    for (int64_t i = 0; i < n; i++)
        if (fabs(ref_ld(dt, x, i)) > m)
            m = fabs(ref_ld(dt, x, i));
    return m;
}

static int64_t scans(lg_linalg_kind kind, lg_dtype dt, lg_linalg_args *p, const void *a)
{
    int64_t n = p->n;
    if (kind == LG_LA_ASYMMETRY) {
        p->r[0] = p->alpha * ref_param(dt, max_abs(dt, n * n, a, 1.0));
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < i; j++) {
                double d = fabs(ref_ld(dt, a, i * n + j) - ref_ld(dt, a, j * n + i));
                if (d > p->r[0]) {
                    p->r[1] = d;
                    return 1 + i * n + j;
                }
            }
        return 0;
    }
    double tol = p->alpha * max_abs(dt, n, a, 0.0);
    p->r[0] = tol;
    for (int64_t i = 0; i + 1 < n; i++) {
        double gap = fabs(ref_ld(dt, a, i + 1) - ref_ld(dt, a, i));
        if (gap <= tol) {
            p->r[1] = gap;
            return i + 1;
        }
    }
    if (p->upper && n > 0 && fabs(ref_ld(dt, a, n - 1)) <= tol) {
        p->r[1] = fabs(ref_ld(dt, a, n - 1));
        return n + 1;
    }
    return 0;
}

static int64_t one(lg_linalg_kind kind, lg_dtype dt, lg_linalg_args *p, int64_t b, double *w)
{
    int64_t m = p->m, n = p->n, k = p->k, mn = m < n ? m : n;
    int64_t d = m + n + k + 2; /* the pivot indices sit after 5 d² doubles */
    switch (kind) {
    case LG_LA_CHOLESKY:
        return cholesky(dt, n, NTH(p->a, n * n), NTH(p->x, n * n), w);
    case LG_LA_LU:
        return lu(dt, n, NTH(p->a, n * n), NTH(p->x, n * n), p->piv + b * n, NTH(p->y, 3), w,
                  (int64_t *)(w + 5 * d * d));
    case LG_LA_LU_SOLVE:
        lu_solve(dt, n, k, NTH(p->a, n * n), p->piv + b * n, NTH(p->b, n * k), NTH(p->x, n * k),
                 p->trans, w, w + n * n);
        return 0;
    case LG_LA_PLU:
        plu(dt, m, n, NTH(p->a, m * n), NTH(p->x, m * m), NTH(p->y, m * mn), NTH(p->z, mn * n),
            w, (int64_t *)(w + 5 * d * d));
        return 0;
    case LG_LA_EIGH: {
        const void *a = NTH(p->a, n * n);
        double *sym = w, *val = w + n * n, *vec = val + n + 1;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++) /* the lower triangle, mirrored */
                sym[i * n + j] = ref_ld(dt, a, i >= j ? i * n + j : j * n + i);
        if (!ref_jacobi_eigh(n, sym, val, vec))
            return 1;
        store(dt, NTH(p->x, n), n, val);
        store(dt, NTH(p->y, n * n), n * n, vec);
        return 0;
    }
    case LG_LA_SVD: {
        int64_t uc = p->full ? m : mn, vr = p->full ? n : mn;
        return svd(dt, p, NTH(p->a, m * n), NTH(p->x, mn), NTH(p->y, m * uc),
                   NTH(p->z, vr * n), w);
    }
    case LG_LA_QR:
        qr(dt, m, n, NTH(p->a, m * n), NTH(p->x, m * mn), NTH(p->y, mn * n), w, w + m * n);
        return 0;
    case LG_LA_LSTSQ:
    case LG_LA_PINV:
        return pinv_or_lstsq(dt, kind, p, b, w);
    case LG_LA_TRSM:
        return trsm(dt, n, k, NTH(p->a, n * n), NTH(p->b, n * k), NTH(p->x, n * k), p->upper,
                    p->trans, w);
    case LG_LA_TRMM:
        trmm(dt, p, NTH(p->a, k * k), NTH(p->b, m * n), NTH(p->x, m * n));
        return 0;
    case LG_LA_TRI_INV:
        return tri_inv(dt, n, NTH(p->a, n * n), NTH(p->x, n * n), w);
    case LG_LA_SYM_SANDWICH:
        sym_sandwich(dt, m, k, NTH(p->a, m * k), NTH(p->b, k * k), NTH(p->x, m * m));
        return 0;
    case LG_LA_NRM2: {
        const void *a = NTH(p->a, n);
        double sc = max_abs(dt, n, a, 0.0), ss = 0;
        for (int64_t i = 0; sc > 0 && i < n; i++)
            ss += (ref_ld(dt, a, i) / sc) * (ref_ld(dt, a, i) / sc);
        ref_st(dt, p->x, b, sc * sqrt(ss));
        return 0;
    }
    case LG_LA_ASYMMETRY:
        return scans(kind, dt, p, NTH(p->a, n * n));
    case LG_LA_GAPS:
        return scans(kind, dt, p, NTH(p->a, n));
    }
    return -1;
}

int64_t lg_ref_linalg(lg_linalg_kind kind, lg_dtype dt, lg_linalg_args *p)
{
    /* Enough doubles for every matrix kind: a few (m+n+k)² matrices, then the pivot
     * indices; the products and scans read and write the caller's arrays only. */
    int64_t d = p->m + p->n + p->k + 2;
    bool none = kind == LG_LA_TRMM || kind == LG_LA_SYM_SANDWICH || kind == LG_LA_NRM2 ||
                kind == LG_LA_ASYMMETRY || kind == LG_LA_GAPS;
    p->failed = 0;
    if (!p->work) {
        p->work_bytes = none ? 0 : sizeof(double) * (size_t)(5 * d * d) +
                                       sizeof(int64_t) * (size_t)(2 * d);
        return 0;
    }
    for (int64_t b = 0; b < p->batch; b++) {
        int64_t info = one(kind, dt, p, b, p->work);
        if (info != 0) {
            p->failed = b;
            return info;
        }
    }
    return 0;
}

/* ---- tri_map ---- */

static double el(lg_dtype dt, const void *p, int64_t i) { return p ? ref_ld(dt, p, i) : 0; }

void lg_ref_tri_map(lg_tri_kind k, lg_dtype dt, int64_t batch, int64_t n,
                    const void *const *in, void *y, const double *c)
{
    int64_t nn = n * n;
    double c0 = ref_param(dt, c ? c[0] : 0);
    for (int64_t b = 0; b < batch; b++) {
        const void *x = NTH(in[0], nn);
        void *yb = NTH(y, nn);
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++) {
                double v;
                switch (k) {
                case LG_TRI_SCALE:
                    v = ref_param(dt, c[j < i ? 0 : j == i ? 1 : 2]) *
                        (x ? ref_ld(dt, x, i * n + j) : 1);
                    break;
                case LG_TRI_SYM_FROM_LOWER:
                    v = c0 * ref_ld(dt, x, i >= j ? i * n + j : j * n + i);
                    break;
                case LG_TRI_FOLD_LOWER:
                    v = j > i ? 0 : i == j ? c0 * ref_ld(dt, x, i * n + i)
                                           : c0 * (ref_ld(dt, x, i * n + j) + ref_ld(dt, x, j * n + i));
                    break;
                case LG_TRI_EIGH_GAP: {
                    const void *lam = NTH(in[1], n), *gl = NTH(in[2], n);
                    v = i == j ? ref_ld(dt, gl, i)
                               : (ref_ld(dt, x, i * n + j) - ref_ld(dt, x, j * n + i)) /
                                     (2 * (ref_ld(dt, lam, j) - ref_ld(dt, lam, i)));
                    break;
                }
                default: { /* LG_TRI_SVD_GAP */
                    const void *km = NTH(in[1], nn), *s = NTH(in[2], n), *gs = NTH(in[3], n);
                    double si = ref_ld(dt, s, i), sj = ref_ld(dt, s, j);
                    double jd = el(dt, x, i * n + j) - el(dt, x, j * n + i);
                    double kd = el(dt, km, i * n + j) - el(dt, km, j * n + i);
                    v = i == j ? ref_ld(dt, gs, i) : (jd * sj + si * kd) / (sj * sj - si * si);
                    break;
                }
                }
                ref_st(dt, yb, i * n + j, v);
            }
    }
}
