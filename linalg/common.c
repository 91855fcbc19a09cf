/* Helpers shared by the linalg op files: argument checks, arena workspace and the call
 * into the backend, constant masks and the differentiable diag / diag_embed built from
 * existing ops. */
#include <limits.h>
#include <stdint.h>
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
    int64_t i = lg_first_nonfinite(g, t);
    if (i >= 0) {
        lg_fail(g, LG_ERR_NUMERIC, "%s: %s %s holds %g at flat index %lld", name, what,
                lg_tshape(t).s, lg_element(g, t, i), (long long)i);
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
    return lg_arena_data(g, lg_dtype_size(dt) * (size_t)(n > 0 ? n : 1), name);
}

int64_t la_run(lg_graph *g, const char *name, lg_linalg_kind k, lg_dtype dt,
               lg_linalg_args *a)
{
    static char no_scratch[64];
    if (a->batch == 0)
        a->batch = 1;
    a->work = NULL;
    int64_t info = g->be->linalg(k, dt, a);
    if (info != 0)
        return info;
    if (a->work_bytes == SIZE_MAX) {
        lg_fail(g, LG_ERR_UNSUPPORTED, "%s: the LAPACK workspace would exceed INT_MAX "
                "elements", name);
        return LA_NO_WORK;
    }
    a->work = a->work_bytes ? lg_arena_data(g, a->work_bytes, name) : no_scratch;
    if (!a->work)
        return LA_NO_WORK;
    return g->be->linalg(k, dt, a);
}

lg_tensor *la_copy(lg_graph *g, const lg_tensor *t)
{
    lg_tensor *c = lg_graph_tensor(g, t->dtype, t->ndim, t->shape);
    if (c && t->numel > 0)
        g->be->mem_copy(LG_COPY_DEVICE_TO_DEVICE, c->data, t->data,
                        (size_t)t->numel * lg_dtype_size(t->dtype));
    return c;
}

/* An (n,n) constant: `lo` below the diagonal, `on` on it, `up` above. */
static lg_tensor *tri_const(lg_graph *g, lg_dtype dt, int64_t n, double lo, double on,
                            double up)
{
    int64_t shape[2] = {n, n};
    lg_tensor *e = lg_graph_tensor(g, dt, 2, shape);
    const double c[3] = {lo, on, up};
    const void *none[1] = {NULL};
    if (e && n > 0)
        g->be->tri_map(LG_TRI_SCALE, dt, 1, n, none, e->data, c);
    return e;
}

lg_tensor *la_eye(lg_graph *g, lg_dtype dt, int64_t n) { return tri_const(g, dt, n, 0, 1, 0); }

lg_tensor *la_offdiag_mask(lg_graph *g, lg_dtype dt, int64_t n)
{
    return tri_const(g, dt, n, 1, 0, 1);
}

lg_tensor *la_tri_mask(lg_graph *g, lg_dtype dt, int64_t n, bool lower, double diag)
{
    return tri_const(g, dt, n, lower ? 1 : 0, diag, lower ? 0 : 1);
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
