/* Helpers shared by the linalg op files: argument checks, arena workspace, constant
 * masks and the differentiable diag / diag_embed built from existing ops. */
#include <limits.h>
#include <math.h>
#include <string.h>
#include "linalg_impl.h"

bool la_check_matrix(lg_graph *g, const char *name, const char *what, const lg_tensor *t,
                     bool square)
{
    if (t->ndim != 2) {
        lg_fail(g, LG_ERR_SHAPE, "%s: %s must be a matrix (2-D), got %s", name, what,
                lg_tshape(t).s);
        return false;
    }
    if (square && t->shape[0] != t->shape[1]) {
        lg_fail(g, LG_ERR_SHAPE, "%s: %s must be square, got %s", name, what, lg_tshape(t).s);
        return false;
    }
    if (t->shape[0] > INT_MAX / 2 || t->shape[1] > INT_MAX / 2) {
        lg_fail(g, LG_ERR_SHAPE, "%s: %s %s is too large for LAPACK", name, what,
                lg_tshape(t).s);
        return false;
    }
    return true;
}

bool la_check_finite(lg_graph *g, const char *name, const char *what, const lg_tensor *t)
{
    int64_t i = lg_first_nonfinite(t->data, t->dtype, t->numel);
    if (i >= 0) {
        lg_fail(g, LG_ERR_NUMERIC, "%s: %s %s holds %g at flat index %lld", name, what,
                lg_tshape(t).s, lg_load(t->data, t->dtype, i), (long long)i);
        return false;
    }
    return true;
}

bool la_check_rhs(lg_graph *g, const char *name, const lg_tensor *a, const lg_tensor *b)
{
    if (b->dtype != a->dtype) {
        lg_fail(g, LG_ERR_DTYPE, "%s: dtypes differ: A is %s, B is %s", name,
                lg_dtype_name(a->dtype), lg_dtype_name(b->dtype));
        return false;
    }
    if (b->ndim < 1 || b->ndim > 2 || b->shape[0] != a->shape[0] ||
        (b->ndim == 2 && b->shape[1] > INT_MAX / 2)) {
        lg_fail(g, LG_ERR_SHAPE, "%s: B must be (%lld) or (%lld,k) for A %s, got %s", name,
                (long long)a->shape[0], (long long)a->shape[0], lg_tshape(a).s,
                lg_tshape(b).s);
        return false;
    }
    return la_check_finite(g, name, "B", b);
}

void *la_alloc(lg_graph *g, lg_dtype dt, int64_t n, const char *name)
{
    if (n < 0) /* la_lwork's answer for a workspace LAPACK cannot address */
        return lg_fail(g, LG_ERR_UNSUPPORTED, "%s: the LAPACK workspace would exceed INT_MAX "
                       "elements", name);
    return lg_arena_alloc(g, lg_dtype_size(dt) * (size_t)(n > 0 ? n : 1), name);
}

lg_tensor *la_copy(lg_graph *g, const lg_tensor *t)
{
    lg_tensor *c = lg_graph_tensor(g, t->dtype, t->ndim, t->shape);
    if (c)
        memcpy(c->data, t->data, (size_t)t->numel * lg_dtype_size(t->dtype));
    return c;
}

/* An (n,n) constant: `off` everywhere but `on` on the diagonal. */
static lg_tensor *diag_const(lg_graph *g, lg_dtype dt, int64_t n, double off, double on)
{
    int64_t shape[2] = {n, n};
    lg_tensor *e = lg_graph_full(g, dt, 2, shape, off);
    for (int64_t i = 0; e && i < n; i++)
        lg_store(e->data, dt, i * n + i, on);
    return e;
}

lg_tensor *la_eye(lg_graph *g, lg_dtype dt, int64_t n) { return diag_const(g, dt, n, 0, 1); }

lg_tensor *la_offdiag_mask(lg_graph *g, lg_dtype dt, int64_t n)
{
    return diag_const(g, dt, n, 1, 0);
}

lg_tensor *la_tri_mask(lg_graph *g, lg_dtype dt, int64_t n, bool lower, double diag)
{
    int64_t shape[2] = {n, n};
    lg_tensor *m = lg_graph_full(g, dt, 2, shape, 0.0);
    for (int64_t i = 0; m && i < n; i++)
        for (int64_t j = 0; j < n; j++)
            if (i == j)
                lg_store(m->data, dt, i * n + j, diag);
            else if (lower ? j < i : j > i)
                lg_store(m->data, dt, i * n + j, 1.0);
    return m;
}

/* diag(A) = Σ_j (A ⊙ I)_ij: (n,n) -> (n) */
lg_tensor *la_diag(lg_graph *g, lg_tensor *a)
{
    if (!a)
        return NULL;
    return lg_sum_axis(g, lg_mul(g, a, la_eye(g, a->dtype, a->shape[0])), 1, false);
}

/* diag(v) = I ⊙ (1,n) row of v: (n) -> (n,n) */
lg_tensor *la_diag_embed(lg_graph *g, lg_tensor *v)
{
    if (!v)
        return NULL;
    return lg_mul(g, la_eye(g, v->dtype, v->shape[0]), la_row(g, v));
}

lg_tensor *la_row(lg_graph *g, lg_tensor *v)
{
    if (!v)
        return NULL;
    int64_t shape[2] = {1, v->numel};
    return lg_reshape(g, v, 2, shape);
}

lg_tensor *la_col(lg_graph *g, lg_tensor *v)
{
    if (!v)
        return NULL;
    int64_t shape[2] = {v->numel, 1};
    return lg_reshape(g, v, 2, shape);
}

lapack_int la_lwork(lg_dtype dt, const void *work0)
{
    double w = lg_load(work0, dt, 0);
    /* A workspace above INT_MAX elements cannot be passed to LAPACK (and the cast would be
     * undefined): -1, which la_alloc turns into LG_ERR_UNSUPPORTED. */
    if (!(w < (double)INT_MAX))
        return -1;
    return w >= 1 ? (lapack_int)(w + 0.5) : 1;
}
