/* The reference backend's eigen and singular value decompositions by Jacobi rotations
 * (Golub & Van Loan, "Matrix Computations", 4th ed., §8.5.2 cyclic Jacobi and §8.6.3
 * one-sided Jacobi): slow, but each step is a plane rotation a reader can check, and the
 * results are accurate to a few ulps. Plain double loops; no BLAS, no LAPACK. */
#include <math.h>
#include <string.h>
#include "ref_impl.h"

#define SWEEPS 100

/* Sorts w ascending (or descending) and the columns of v (rows, cols, n of them) with it:
 * selection sort, stable enough for a reference. */
static void sort_with_columns(int64_t n, double *w, int64_t rows, double *v, int64_t ld,
                              bool descending)
{
    for (int64_t i = 0; i < n; i++) {
        int64_t best = i;
        for (int64_t j = i + 1; j < n; j++)
            if (descending ? w[j] > w[best] : w[j] < w[best])
                best = j;
        if (best == i)
            continue;
        double t = w[i];
        w[i] = w[best];
        w[best] = t;
        for (int64_t r = 0; r < rows; r++) {
            t = v[r * ld + i];
            v[r * ld + i] = v[r * ld + best];
            v[r * ld + best] = t;
        }
    }
}

/* The rotation (c, s) that zeroes a_pq of the 2x2 symmetric [[a_pp, a_pq], [a_pq, a_qq]]
 * (G&VL Algorithm 8.5.1, the smaller angle). */
static void sym_schur2(double app, double apq, double aqq, double *c, double *s)
{
    double tau = (aqq - app) / (2 * apq);
    double t = (tau >= 0 ? 1 : -1) / (fabs(tau) + sqrt(1 + tau * tau));
    *c = 1 / sqrt(1 + t * t);
    *s = t * *c;
}

bool ref_jacobi_eigh(int64_t n, double *a, double *w, double *v)
{
    for (int64_t i = 0; i < n * n; i++)
        v[i] = 0;
    for (int64_t i = 0; i < n; i++)
        v[i * n + i] = 1;
    bool converged = n < 2;
    for (int sweep = 0; sweep < SWEEPS && !converged; sweep++) {
        converged = true;
        for (int64_t p = 0; p < n; p++)
            for (int64_t q = p + 1; q < n; q++) {
                double apq = a[p * n + q];
                /* negligible against the diagonal: exactly zero in the next step */
                if (fabs(apq) <= 1e-16 * sqrt(fabs(a[p * n + p] * a[q * n + q])) ||
                    apq == 0)
                    continue;
                converged = false;
                double c, s;
                sym_schur2(a[p * n + p], apq, a[q * n + q], &c, &s);
                /* A := Jᵀ A J, J the rotation in the (p, q) plane; V := V J */
                for (int64_t k = 0; k < n; k++) {
                    double akp = a[k * n + p], akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for (int64_t k = 0; k < n; k++) {
                    double apk = a[p * n + k], aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                a[p * n + q] = a[q * n + p] = 0;
                for (int64_t k = 0; k < n; k++) {
                    double vkp = v[k * n + p], vkq = v[k * n + q];
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
    }
    for (int64_t i = 0; i < n; i++)
        w[i] = a[i * n + i];
    sort_with_columns(n, w, n, v, n, false);
    return converged;
}

/* Completes the first k orthonormal columns of q (rows, rows) to an orthonormal basis by
 * Gram-Schmidt (twice, for accuracy) on the unit vectors, and replaces any column whose
 * norm is zero (a zero singular value's) the same way. */
static void complete_basis(int64_t rows, int64_t k, double *q, const double *valid)
{
    int64_t next_e = 0;
    for (int64_t j = 0; j < rows; j++) {
        if (j < k && valid[j])
            continue;
        for (; next_e < rows; next_e++) {
            double *col = q; /* column j, stride rows */
            for (int64_t r = 0; r < rows; r++)
                col[r * rows + j] = r == next_e;
            for (int pass = 0; pass < 2; pass++)
                for (int64_t i = 0; i < rows; i++) {
                    if (i == j || (i > j && !(i < k && valid[i])))
                        continue;
                    double d = 0;
                    for (int64_t r = 0; r < rows; r++)
                        d += q[r * rows + i] * q[r * rows + j];
                    for (int64_t r = 0; r < rows; r++)
                        q[r * rows + j] -= d * q[r * rows + i];
                }
            double nrm = 0;
            for (int64_t r = 0; r < rows; r++)
                nrm += q[r * rows + j] * q[r * rows + j];
            nrm = sqrt(nrm);
            if (nrm > 1e-6) {
                for (int64_t r = 0; r < rows; r++)
                    q[r * rows + j] /= nrm;
                next_e++;
                break;
            }
        }
    }
}

/* One-sided Jacobi on the columns of b (rows, cols), rows >= cols: rotates column pairs
 * until all are orthogonal; w (cols, cols) accumulates the rotations, so b_in w = b. */
static bool orthogonalise_columns(int64_t rows, int64_t cols, double *b, double *w)
{
    for (int64_t i = 0; i < cols * cols; i++)
        w[i] = 0;
    for (int64_t i = 0; i < cols; i++)
        w[i * cols + i] = 1;
    for (int sweep = 0; sweep < SWEEPS; sweep++) {
        bool done = true;
        for (int64_t p = 0; p < cols; p++)
            for (int64_t q = p + 1; q < cols; q++) {
                double alpha = 0, beta = 0, gamma = 0;
                for (int64_t r = 0; r < rows; r++) {
                    alpha += b[r * cols + p] * b[r * cols + p];
                    beta += b[r * cols + q] * b[r * cols + q];
                    gamma += b[r * cols + p] * b[r * cols + q];
                }
                if (fabs(gamma) <= 1e-15 * sqrt(alpha * beta) || gamma == 0)
                    continue;
                done = false;
                double c, s;
                sym_schur2(alpha, gamma, beta, &c, &s);
                for (int64_t r = 0; r < rows; r++) {
                    double bp = b[r * cols + p], bq = b[r * cols + q];
                    b[r * cols + p] = c * bp - s * bq;
                    b[r * cols + q] = s * bp + c * bq;
                }
                for (int64_t r = 0; r < cols; r++) {
                    double wp = w[r * cols + p], wq = w[r * cols + q];
                    w[r * cols + p] = c * wp - s * wq;
                    w[r * cols + q] = s * wp + c * wq;
                }
            }
        if (done)
            return true;
    }
    return false;
}

bool ref_jacobi_svd(int64_t m, int64_t n, const double *a, double *s, double *u, double *vt,
                    double *work)
{
    /* Work on B = A (m >= n) or B = Aᵀ (m < n), tall: B W = [σ-scaled columns], so
     * B = (B W Σ⁻¹) Σ Wᵀ: left vectors B W Σ⁻¹, right vectors W. */
    bool tall = m >= n;
    int64_t rows = tall ? m : n, cols = tall ? n : m, k = cols;
    double *b = work, *w = work + rows * cols;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            b[tall ? i * n + j : j * m + i] = a[i * n + j];
    bool ok = orthogonalise_columns(rows, cols, b, w);
    double *left = tall ? u : vt, *right = tall ? vt : u; /* (rows,rows), (cols,cols) */
    double *valid = w + cols * cols; /* 1 where the column is a singular vector */
    for (int64_t j = 0; j < k; j++) {
        double nrm = 0;
        for (int64_t r = 0; r < rows; r++)
            nrm += b[r * cols + j] * b[r * cols + j];
        s[j] = sqrt(nrm);
    }
    /* sort σ descending with B's and W's columns */
    for (int64_t i = 0; i < k; i++) {
        int64_t best = i;
        for (int64_t j = i + 1; j < k; j++)
            if (s[j] > s[best])
                best = j;
        if (best == i)
            continue;
        double t = s[i];
        s[i] = s[best];
        s[best] = t;
        for (int64_t r = 0; r < rows; r++) {
            t = b[r * cols + i], b[r * cols + i] = b[r * cols + best], b[r * cols + best] = t;
        }
        for (int64_t r = 0; r < cols; r++) {
            t = w[r * cols + i], w[r * cols + i] = w[r * cols + best], w[r * cols + best] = t;
        }
    }
    double smax = k > 0 ? s[0] : 0;
    for (int64_t i = 0; i < rows * rows; i++)
        left[i] = 0;
    for (int64_t j = 0; j < k; j++) {
        valid[j] = s[j] > 1e-300 && s[j] > 1e-15 * smax ? 1 : 0;
        for (int64_t r = 0; valid[j] && r < rows; r++)
            left[r * rows + j] = b[r * cols + j] / s[j];
    }
    complete_basis(rows, k, left, valid);
    /* left is column-major-in-rows (vectors as columns); u wants vectors as columns,
     * vt wants them as rows: transpose when the left vectors are V's. */
    if (!tall)
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < i; j++) {
                double t = left[i * rows + j];
                left[i * rows + j] = left[j * rows + i];
                left[j * rows + i] = t;
            }
    for (int64_t i = 0; i < cols; i++)
        for (int64_t j = 0; j < cols; j++)
            right[tall ? j * cols + i : i * cols + j] = w[i * cols + j];
    return ok;
}
