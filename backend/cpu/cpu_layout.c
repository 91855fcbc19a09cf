/* CPU copy kernels that move elements without computing on them: blocks of rows and
 * axis permutations. Threads above LG_OMP_MIN elements. */
#include <string.h>
#include "cpu_impl.h"

typedef struct rows_job {
    size_t es;
    int64_t cols, src_ld, dst_ld;
    const char *src;
    char *dst;
} rows_job;

static void rows_range(int64_t lo, int64_t hi, void *ctx)
{
    const rows_job *j = ctx;
    for (int64_t r = lo; r < hi; r++)
        memcpy(j->dst + (size_t)(r * j->dst_ld) * j->es, j->src + (size_t)(r * j->src_ld) * j->es,
               (size_t)j->cols * j->es);
}

void lg_cpu_copy_rows(lg_dtype dt, int64_t rows, int64_t cols, const void *src,
                      int64_t src_ld, void *dst, int64_t dst_ld)
{
    rows_job j = {lg_dtype_size(dt), cols, src_ld, dst_ld, src, dst};
    lg_cpu_parallel_range(rows, rows * cols > LG_OMP_MIN, rows_range, &j);
}

/* A permutation reduced to its essentials: size-1 axes dropped, and input axes that stay
 * next to each other, in order, merged into one. The head split of attention,
 * (B,T,3,nh,hd) -> (3,B,nh,T,hd), stays 5-D but keeps hd last, so it becomes row copies. */
typedef struct perm_plan {
    int nd;
    int64_t shape[LG_MAX_DIMS]; /* output shape */
    int64_t src[LG_MAX_DIMS];   /* input stride (elements) of each output axis */
    int64_t n;
    size_t es;
    const char *x;
    char *y;
    int64_t tile_rows;          /* transpose: tiles per outer index */
} perm_plan;

static void plan_perm(perm_plan *p, int ndim, const int64_t *xshape, const int *perm)
{
    int keep[LG_MAX_DIMS], nk = 0, newax[LG_MAX_DIMS];
    for (int i = 0; i < ndim; i++) {
        newax[i] = xshape[i] == 1 ? -1 : nk;
        if (xshape[i] != 1)
            keep[nk++] = i;
    }
    int q[LG_MAX_DIMS], nq = 0; /* output order over the kept input axes */
    for (int i = 0; i < ndim; i++)
        if (newax[perm[i]] >= 0)
            q[nq++] = newax[perm[i]];
    /* group g starts where the output stops walking input axes one by one */
    int head[LG_MAX_DIMS], len[LG_MAX_DIMS], ng = 0;
    for (int i = 0; i < nq; i++) {
        if (i > 0 && q[i] == q[i - 1] + 1) {
            len[ng - 1]++;
        } else {
            head[ng] = q[i];
            len[ng++] = 1;
        }
    }
    /* input stride of each kept axis, then of each group (its last axis's) */
    int64_t st[LG_MAX_DIMS], s = 1;
    for (int i = nk - 1; i >= 0; i--) {
        st[i] = s;
        s *= xshape[keep[i]];
    }
    p->nd = ng;
    p->n = s;
    for (int k = 0; k < ng; k++) {
        int64_t size = 1;
        for (int a = head[k]; a < head[k] + len[k]; a++)
            size *= xshape[keep[a]];
        p->shape[k] = size;
        p->src[k] = st[head[k] + len[k] - 1];
    }
}

/* Output rows of the last axis (input stride 1): one memcpy each. Rows [lo, hi). */
static void perm_rows(int64_t lo, int64_t hi, void *ctx)
{
    const perm_plan *p = ctx;
    int m = p->nd - 1;
    int64_t idx[LG_MAX_DIMS], off = 0, rem = lo, L = p->shape[m];
    for (int d = m - 1; d >= 0; d--) {
        idx[d] = rem % p->shape[d];
        rem /= p->shape[d];
        off += idx[d] * p->src[d];
    }
    size_t row = (size_t)L * p->es;
    for (int64_t r = lo; r < hi; r++) {
        memcpy(p->y + (size_t)r * row, p->x + (size_t)off * p->es, row);
        for (int d = m - 1; d >= 0; d--) { /* odometer: no div/mod per row */
            off += p->src[d];
            if (++idx[d] < p->shape[d])
                break;
            off -= idx[d] * p->src[d];
            idx[d] = 0;
        }
    }
}

enum { TILE = 32 };

/* One TILE-row band of a 2-D transpose of S-byte elements: y[i * ob + j] = x[j * sj + i]
 * for i in [i0, i1); a constant S lets memcpy become one move. */
#define TRANSPOSE_BAND(S)                                                                 \
    for (int64_t j0 = 0; j0 < nj; j0 += TILE) {                                           \
        int64_t j1 = j0 + TILE < nj ? j0 + TILE : nj;                                     \
        for (int64_t i = i0; i < i1; i++)                                                 \
            for (int64_t j = j0; j < j1; j++)                                             \
                memcpy(dst + (size_t)(i * ob + j) * (S), src + (size_t)(j * sj + i) * (S), \
                       (S));                                                              \
    }

/* The last axis moves: output axis m (input stride sj) is the fast one to write and the
 * axis with input stride 1 (output axis b) the fast one to read, so each outer index is a
 * 2-D transpose done in TILE x TILE blocks. Units [lo, hi) are (outer index, band). */
static void perm_transpose(int64_t lo, int64_t hi, void *ctx)
{
    const perm_plan *p = ctx;
    int m = p->nd - 1, b = 0;
    while (p->src[b] != 1)
        b++;
    int64_t ni = p->shape[b], nj = p->shape[m], sj = p->src[m];
    int64_t ostride[LG_MAX_DIMS], s = 1;
    for (int d = m; d >= 0; d--) {
        ostride[d] = s;
        s *= p->shape[d];
    }
    for (int64_t u = lo; u < hi; u++) {
        int64_t outer = u / p->tile_rows, i0 = (u % p->tile_rows) * TILE;
        int64_t i1 = i0 + TILE < ni ? i0 + TILE : ni, xo = 0, yo = 0, rem = outer;
        for (int d = m - 1; d >= 0; d--) {
            if (d == b)
                continue;
            int64_t k = rem % p->shape[d];
            rem /= p->shape[d];
            xo += k * p->src[d];
            yo += k * ostride[d];
        }
        const char *src = p->x + (size_t)xo * p->es;
        char *dst = p->y + (size_t)yo * p->es;
        int64_t ob = ostride[b];
        if (p->es == 4) {
            TRANSPOSE_BAND(4)
        } else {
            TRANSPOSE_BAND(8)
        }
    }
}

void lg_cpu_permute(lg_dtype dt, int ndim, const int64_t *xshape, const int *perm,
                    const void *x, void *y)
{
    for (int i = 0; i < ndim; i++)
        if (xshape[i] == 0)
            return;
    perm_plan p = {.es = lg_dtype_size(dt), .x = x, .y = y};
    plan_perm(&p, ndim, xshape, perm);
    if (p.nd <= 1) { /* the identity after merging */
        memcpy(y, x, (size_t)p.n * p.es);
        return;
    }
    int m = p.nd - 1;
    if (p.src[m] == 1) {
        int64_t rows = p.n / p.shape[m];
        lg_cpu_parallel_range(rows, p.n > LG_OMP_MIN, perm_rows, &p);
        return;
    }
    int b = 0;
    while (p.src[b] != 1)
        b++;
    p.tile_rows = (p.shape[b] + TILE - 1) / TILE;
    int64_t units = p.n / (p.shape[b] * p.shape[m]) * p.tile_rows;
    lg_cpu_parallel_range(units, p.n > LG_OMP_MIN, perm_transpose, &p);
}
