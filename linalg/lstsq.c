/* Pseudo-inverse (through the SVD, with the Golub-Pereyra VJP) and least squares
 * (minimum norm through the SVD, gelsd on the CPU; forward only). */
#include <math.h>
#include "linalg_impl.h"

static double default_rcond(const lg_tensor *a, double rcond)
{
    int64_t mn = a->shape[0] > a->shape[1] ? a->shape[0] : a->shape[1];
    return rcond < 0 ? (double)mn * la_eps(a->dtype) : rcond;
}

/* X = A⁺, A (m,n), X (n,m). Golub & Pereyra 1973 (eq. 4.12), as JAX's pinv JVP, valid
 * where A's rank is locally constant:
 *   dA += -Xᵀ dX Xᵀ + (I - A X) dXᵀ X Xᵀ + Xᵀ X dXᵀ (I - X A)                  (m,n) */
static void pinv_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    lg_tensor *a = n->in[0], *x = n->out[0], *gxx = gy[0];
    lg_tensor *t1 = lg_matmul_t(g, lg_matmul_t(g, x, gxx, true, false), x, false, true);
    lg_tensor *t2 = lg_matmul_t(g, gxx, lg_matmul_t(g, x, x, false, true), true, false);
    t2 = lg_sub(g, t2, lg_matmul(g, a, lg_matmul(g, x, t2)));
    lg_tensor *t3 = lg_matmul_t(g, lg_matmul_t(g, x, x, true, false), gxx, false, true);
    t3 = lg_sub(g, t3, lg_matmul(g, lg_matmul(g, t3, x), a));
    gx[0] = lg_add(g, lg_sub(g, t2, t1), t3);
}
static const lg_op PINV = {"lg_pinv", pinv_vjp};

lg_tensor *lg_pinv(lg_graph *g, lg_tensor *a, double rcond)
{
    const char *name = PINV.name;
    if (!lg_check_inputs(g, name, 1, &a) || !la_check_matrix(g, name, "A", a, false) ||
        !la_check_finite(g, name, "A", a))
        return NULL;
    int64_t shape[2] = {a->shape[1], a->shape[0]};
    lg_tensor *x = lg_graph_tensor(g, a->dtype, 2, shape);
    if (!x)
        return NULL;
    lg_linalg_args la = {.m = a->shape[0], .n = a->shape[1], .a = a->data, .x = x->data,
                         .alpha = default_rcond(a, rcond)};
    int64_t info = la_run(g, name, LG_LA_PINV, a->dtype, &la);
    if (info == LA_NO_WORK)
        return NULL;
    if (info > 0)
        return lg_fail(g, LG_ERR_NO_CONVERGE, "%s: gesdd and gesvd did not converge (%d "
                       "superdiagonals did not reach zero)", name, (int)info);
    if (info < 0)
        return lg_fail(g, LG_ERR_ARG, "%s: LAPACK rejected argument %d", name, (int)-info);
    lg_record(g, &PINV, 1, &a, 1, &x);
    return g->status == LG_OK ? x : NULL;
}

lg_status lg_lstsq(lg_graph *g, lg_tensor *a, lg_tensor *b, double rcond, lg_lstsq_result *out)
{
    const char *name = "lg_lstsq";
    lg_tensor *in[2] = {a, b};
    if (!lg_check_inputs(g, name, 2, in))
        return g ? g->status : LG_ERR_ARG;
    if (!out)
        return (lg_fail(g, LG_ERR_ARG, "%s: out must not be NULL", name), g->status);
    *out = (lg_lstsq_result){NULL, NULL, NULL, 0};
    if (!la_check_matrix(g, name, "A", a, false) || !la_check_finite(g, name, "A", a) ||
        !la_check_rhs(g, name, a, b))
        return g->status;
    lg_dtype dt = a->dtype;
    int64_t m = a->shape[0], n = a->shape[1], k = b->ndim == 2 ? b->shape[1] : 1;
    int64_t mn = m < n ? m : n, xs[2] = {n, k}, none = 0;
    lg_tensor *s = lg_graph_tensor(g, dt, 1, &mn), *x = lg_graph_tensor(g, dt, b->ndim, xs);
    lg_tensor *res_k = lg_graph_tensor(g, dt, 1, &k);
    if (!s || !x || !res_k)
        return g->status;
    lg_linalg_args la = {.m = m, .n = n, .k = k, .a = a->data, .b = k > 0 ? b->data : NULL,
                         .x = x->data, .y = s->data, .z = res_k->data,
                         .alpha = default_rcond(a, rcond)};
    int64_t info = la_run(g, name, LG_LA_LSTSQ, dt, &la);
    if (info == LA_NO_WORK)
        return g->status;
    if (info > 0)
        return (lg_fail(g, LG_ERR_NO_CONVERGE, "%s: gelsd did not converge (%d off-diagonal "
                        "elements did not reach zero)", name, (int)info), g->status);
    if (info < 0)
        return (lg_fail(g, LG_ERR_ARG, "%s: gelsd rejected argument %d", name, (int)-info),
                g->status);
    /* residuals exist only for a full-rank overdetermined system (numpy's rule) */
    int64_t rank = la.rank;
    lg_tensor *res = m > n && rank == n ? res_k : lg_graph_tensor(g, dt, 1, &none);
    if (!res)
        return g->status;
    *out = (lg_lstsq_result){x, res, s, (int64_t)rank};
    return LG_OK;
}
